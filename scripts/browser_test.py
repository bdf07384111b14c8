"""The page in headless Chromium (scripts/browser-test.sh starts the server and calls this).

Fails with a message on the first check that does not hold; prints one line per check that does.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

parser = argparse.ArgumentParser()
parser.add_argument("--url", required=True)
parser.add_argument("--artifacts", required=True)
parser.add_argument("--clip", required=True)
parser.add_argument("--work", required=True)
parser.add_argument("--bin", required=True, help="the r2plus1d executable, for `classify --timeline`")
parser.add_argument("--tls", action="store_true", help="the server is HTTPS with a self-signed certificate: load the page and classify only")
args = parser.parse_args()
url = args.url
clip = os.path.abspath(args.clip)


def check(condition, message):
    if not condition:
        sys.exit(f"FAIL: {message}")


def curl(*arguments):
    return subprocess.run(["curl", "-sS", "--insecure", *arguments], check=True, capture_output=True, text=True).stdout


def posts():
    """Every POST the server has answered, from its metrics."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in curl(url + "metrics").splitlines()
               if line.startswith("r2plus1d_http_requests_total{") and 'method="POST"' in line)


options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1920,1080",
             "--hide-scrollbars", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
             "--autoplay-policy=no-user-gesture-required", "--ignore-certificate-errors"]:
    options.add_argument(flag)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
wait = WebDriverWait(driver, 120)
logs = []


def browser_log():
    logs.extend(driver.get_log("browser"))
    return logs


def visible(element_id):
    return driver.find_element(By.ID, element_id).is_displayed()


def text(element_id):
    return driver.find_element(By.ID, element_id).text


def choose(path):
    driver.find_element(By.ID, "file").send_keys(path)


def wait_for_answer(previous_top=None):
    """Waits until the answer is drawn and no request is in flight; returns the labels shown, best first."""
    wait.until(lambda d: visible("answer") and d.find_elements(By.CSS_SELECTOR, "#bars li")
               and not visible("progress"))
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#bars li .label")]


def screenshot(name, width):
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600})
    time.sleep(0.3)
    overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    check(overflow <= 0, f"the page is {overflow} px wider than a {width} px window")
    # Nothing sticks out of the window either, even where the document itself does not grow.
    outside = driver.execute_script("""
        return [...document.querySelectorAll('body *')].filter(e => {
          const r = e.getBoundingClientRect();
          if (r.width === 0 || e.closest('.strip')) return false;
          const panel = e.closest('.panel');
          return r.right > window.innerWidth + 0.5 || (panel && r.right > panel.getBoundingClientRect().right + 0.5);
        }).map(e => e.id || e.className || e.tagName);""")
    check(not outside, f"at {width} px these stick out of the window: {outside}")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
    time.sleep(0.3)
    path = os.path.join(args.artifacts, name)
    driver.save_screenshot(path)
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    print(f"screenshot {path}: {width} x {height}")
    return path


def check_timeline_contract():
    """The strip against the NDJSON contract, from a loopback proxy that passes the page's requests to the server
    and streams `r2plus1d classify --timeline --json`'s windows, one line every 0.4 s, then the whole answer."""
    answer = json.loads(subprocess.run([args.bin, "classify", clip, "--timeline", "--demo-weights", "--json"],
                                       check=True, capture_output=True, text=True).stdout)

    class Proxy(BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def do_GET(self):
            try:
                upstream = urllib.request.urlopen(url.rstrip("/") + self.path)
            except urllib.error.HTTPError as error:
                upstream = error
            body = upstream.read()
            self.send_response(upstream.status)
            for name, value in upstream.headers.items():
                if name.lower() not in ("connection", "date", "server", "transfer-encoding"):
                    self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            check("timeline=1" in self.path and "ndjson" in self.headers.get("Accept", ""), f"POST {self.path}")
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.end_headers()
            for window in answer["timeline"]:
                self.wfile.write((json.dumps({"window": window}) + "\n").encode())
                self.wfile.flush()
                time.sleep(0.4)
            self.wfile.write((json.dumps({"result": answer}) + "\n").encode())

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        driver.get(f"http://127.0.0.1:{proxy.server_port}/")
        wait.until(lambda d: "MB per video" in text("limit"))
        driver.find_element(By.ID, "timeline-on").click()
        choose(clip)
        # Live: windows are drawn while the request is still open.
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#strip .window")) >= 2)
        live = len(driver.find_elements(By.CSS_SELECTOR, "#strip .window"))
        check(visible("progress") and live < len(answer["timeline"]), f"{live} windows drawn, the stream not yet done")
        # Placed on the video's own length while streaming, before the answer says it.
        left = float(driver.execute_script("return document.querySelectorAll('#strip .window')[1].style.left").rstrip("%"))
        expected_left = answer["timeline"][1]["start_s"] / answer["video"]["duration_s"] * 100
        check(abs(left - expected_left) < 0.5, f"window 2 drawn live at {left}%, not {expected_left:.1f}%")
        wait_for_answer()
        windows = driver.find_elements(By.CSS_SELECTOR, "#strip .window")
        segments = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#strip .segment")]
        check(len(windows) == len(answer["timeline"]), f"{len(windows)} windows drawn for {len(answer['timeline'])}")
        check(len(segments) == len(answer["segments"]) and all(
            seg.startswith(s["label"]) for seg, s in zip(segments, answer["segments"])), f"segments {segments}")
        legend = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#legend li")]
        tops = {w["predictions"][0]["label"] for w in answer["timeline"]}
        check(set(legend) == tops, f"legend {legend}, top labels {tops}")
        webdriver.ActionChains(driver).move_to_element(windows[1]).perform()
        wait.until(lambda d: visible("tip"))
        tip = text("tip")
        first = answer["timeline"][1]["predictions"][0]
        check(f"{first['label']}: {first['score'] * 100:.1f}%" in tip, f"the tooltip says {tip!r}")
        # The playhead follows the video.
        driver.execute_script("const v = document.getElementById('video'); v.currentTime = v.duration / 2;")
        wait.until(lambda d: abs(float(d.execute_script(
            "return parseFloat(document.getElementById('strip-head').style.left)") or 0) - 50) < 2)
        print(f"timeline contract: {live} windows drawn live, then {len(windows)}; segments {segments}; "
              f"tooltip {tip.splitlines()[1]!r}; playhead at 50% mid-video")
        screenshot("desktop-1920-timeline.png", 1920)
    finally:
        proxy.shutdown()


try:
    # What /classify answers for the clip, with the page's default options.
    driver.get(url)
    wait.until(lambda d: "MB per video" in text("limit"))
    clips = driver.find_element(By.ID, "clips").get_attribute("value")
    top_k = driver.find_element(By.ID, "top-k").get_attribute("value")
    expected = json.loads(curl("-F", f"video=@{clip}", f"{url}classify?top_k={top_k}&clips={clips}"))
    expected_labels = [p["label"] for p in expected["predictions"]]

    if args.tls:
        check(driver.execute_script("return window.isSecureContext"), "the HTTPS page is not a secure context")
        choose(clip)
        labels = wait_for_answer()
        check(labels == expected_labels, f"over HTTPS the page shows {labels}, /classify answered {expected_labels}")
        check(visible("record"), "no webcam button over HTTPS")
        errors = [e for e in browser_log() if e["level"] == "SEVERE"]
        check(not errors, f"browser errors over HTTPS: {errors}")
        print(f"over HTTPS: top label {labels[0]!r} matches /classify, webcam button shown, no browser errors")
        sys.exit(0)

    # Transfer size of everything the page loaded before any video: the document, its assets and /v1/model.
    sizes = driver.execute_script("""
        return [performance.getEntriesByType('navigation')[0]]
          .concat(performance.getEntriesByType('resource'))
          .map(e => [e.name, e.transferSize, e.encodedBodySize]);""")
    total = sum(max(t, b) for _, t, b in sizes)
    print(f"page transfer: {total} bytes in {len(sizes)} requests: " + ", ".join(f"{n.rsplit('/', 1)[-1] or '/'} {max(t, b)}" for n, t, b in sizes))
    check(total < 100 * 1024, f"the page transfers {total} bytes, over 100 KB")

    check(visible("demo-banner") and "predictions are meaningless" in text("demo-banner"), "the demo banner is not shown")
    print("demo banner:", text("demo-banner").split(".")[0])
    check(text("limit") == "Up to 1.0 MB per video.", f"the limit line says {text('limit')!r}")

    # A file over --max-upload-mb: the page says so and sends nothing.
    big = os.path.join(args.work, "too-big.mp4")
    with open(big, "wb") as f:
        f.write(os.urandom(1536 * 1024))
    before = posts()
    choose(big)
    wait.until(lambda d: visible("error"))
    time.sleep(1)
    message = text("error")
    check("1.5 MB" in message and "up to 1.0 MB" in message, f"the oversized file's message is {message!r}")
    check(posts() == before, "the oversized file was uploaded")
    check(not driver.find_element(By.ID, "go").is_enabled(), "Classify stays enabled for an oversized file")
    print("oversized file refused before upload:", message.replace("\n", " "))

    # The clip: upload progress, then the answer; the top label is /classify's.
    choose(clip)
    labels = wait_for_answer()
    check(labels[:1] == expected_labels[:1], f"the page shows {labels[:1]}, /classify answered {expected_labels[:1]}")
    check(labels == expected_labels, f"the page shows {labels}, /classify answered {expected_labels}")
    print(f"top label matches /classify: {labels[0]!r} (all {len(labels)} in order)")
    timing = text("timing")
    check("Inference" in timing and "Decode" in timing and "Upload" in timing, f"timing shows {timing!r}")
    percentages = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#bars li .pct")]
    check(all(re.fullmatch(r"\d+\.\d%", p) for p in percentages), f"percentages {percentages}")
    markers = driver.find_elements(By.CSS_SELECTOR, "#clip-rail button")
    check(len(markers) == len(expected["clips"]) == int(clips), f"{len(markers)} clip markers for {len(expected['clips'])} clips")
    # Keyboard: the last clip's marker, focused and pressed with Enter, seeks the video to the clip's start.
    driver.execute_script("arguments[0].focus()", markers[-1])
    driver.switch_to.active_element.send_keys("\n")
    wait.until(lambda d: d.execute_script("return document.getElementById('video').readyState") >= 1)
    at = driver.execute_script("return document.getElementById('video').currentTime")
    check(abs(at - expected["clips"][-1]["start_s"]) < 0.1, f"the video is at {at} s after choosing clip {len(markers)}")
    print(f"clip marker {len(markers)} seeks to {at:.2f} s; timing: {timing.replace(chr(10), ' ')}")
    # Every control has a name a screen reader can say, and Tab reaches the inputs in reading order.
    unnamed = driver.execute_script("""
        return [...document.querySelectorAll('button, input, select, video, a')]
          .filter(e => e.getClientRects().length)
          .filter(e => !((e.labels && e.labels.length) || e.getAttribute('aria-label') || e.textContent.trim()))
          .map(e => e.id || e.outerHTML.slice(0, 80));""")
    check(not unnamed, f"controls without a label: {unnamed}")
    # From the skip link, the page's first stop.
    driver.execute_script("document.querySelector('.skip').focus()")
    stops = []
    for _ in range(6):
        webdriver.ActionChains(driver).send_keys(Keys.TAB).perform()
        stops.append(driver.switch_to.active_element.get_attribute("id") or driver.switch_to.active_element.tag_name)
    check(stops == ["file", "record", "clips", "top-k", "timeline-on", "go"], f"Tab goes {stops}")
    print("every control is labelled; Tab order from the skip link:", " ".join(stops))
    screenshot("desktop-1920.png", 1920)
    readme = screenshot("desktop-1280.png", 1280)
    screenshot("mobile-360.png", 360)
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    background = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
    check(background == "rgb(17, 19, 24)", f"dark mode background is {background}")
    screenshot("mobile-360-dark.png", 360)
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})

    # The timeline, streamed when the server supports it; hidden when it answers without one.
    driver.find_element(By.ID, "timeline-on").click()
    driver.find_element(By.ID, "go").click()
    wait_for_answer()
    wait.until(lambda d: not visible("progress"))
    if visible("timeline"):
        windows = driver.find_elements(By.CSS_SELECTOR, "#strip .window")
        check(len(windows) > 0, "the timeline strip shows no windows")
        check(len(driver.find_elements(By.CSS_SELECTOR, "#legend li")) > 0, "the timeline has no legend")
        print(f"timeline: {len(windows)} windows, {len(driver.find_elements(By.CSS_SELECTOR, '#strip .segment'))} segments")
        screenshot("desktop-1920-timeline.png", 1920)
    else:
        print("SKIP live timeline: this server answers without 'timeline', so the page hides the strip")
        check_timeline_contract()
    driver.get(url)
    wait.until(lambda d: "MB per video" in text("limit"))

    # The webcam, through Chromium's fake camera: record, stop, and the recording is classified.
    check(visible("record"), "no webcam button on a secure origin")
    driver.find_element(By.ID, "record").click()
    wait.until(lambda d: visible("recorder"))
    time.sleep(2.5)
    driver.find_element(By.ID, "stop").click()
    wait.until(lambda d: "webcam." in text("file-line"))
    wait_for_answer()
    check(not visible("error"), f"the recording failed: {text('error')}")
    print(f"webcam recording classified: {text('file-line')}")

    check_errors = [e for e in browser_log() if e["level"] == "SEVERE"]
    check(not check_errors, f"browser errors: {check_errors}")
    print("no browser errors")

    # Errors in plain words: a file that is not a video gets 415 and the formats that work.
    junk = os.path.join(args.work, "notes.mp4")
    with open(junk, "w") as f:
        f.write("these are notes, not a video\n" * 20)
    choose(junk)
    wait.until(lambda d: visible("error"))
    message = text("error")
    check("not supported" in message and "MP4" in message and "WebM" in message, f"the 415 message is {message!r}")
    print("415 in plain words:", message.replace("\n", " ")[:110])

    # 503 with Retry-After: more clips than the server's queue holds (it runs with --queue-size 4).
    driver.find_element(By.ID, "clips").send_keys("5")
    check(driver.find_element(By.ID, "clips").get_attribute("value") == "5", "clips could not be set to 5")
    choose(clip)
    wait.until(lambda d: visible("error"))
    message = text("error")
    check("busy" in message and "Retry in 1 second." in message, f"the 503 message is {message!r}")
    wait.until(lambda d: d.find_element(By.ID, "retry").is_enabled())
    print("503 in plain words:", message.replace("\n", " ")[:90])

    # The only errors the browser may log now are those failed requests themselves.
    unexpected = [e for e in browser_log() if e["level"] == "SEVERE"
                  and "status of 415" not in e["message"] and "status of 503" not in e["message"]]
    check(not unexpected, f"browser errors: {unexpected}")

    # The README's picture (docs/page.png): the 1280 px answer in a 128-colour palette, to stay small.
    image = Image.open(readme).convert("RGB")
    image = image.crop((0, 0, image.width, min(image.height, 900)))
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(os.path.join(args.artifacts, "page.png"), optimize=True)
    print("browser test passed")
finally:
    driver.quit()
