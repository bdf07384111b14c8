"""Cross-origin calls from a page in headless Chromium (scripts/browser-test.sh starts the servers and calls this).

A page served by this script on its own loopback port (another origin than the service) fetches the test clip
from itself and calls the service the way a web app on another site would: a multipart upload and a KServe
metadata read with a bearer token (both preflighted), a call without the token (the 401 must be readable), an
upload over the service's --max-upload-mb 1 (the connection's own 413 must be readable), and the same calls from a
second page origin the service does not list (the browser must refuse them). With
--expect-refused the service has no CORS policy, and every cross-origin call must fail: that shows the checks
can fail.

Fails with a message on the first check that does not hold; prints one line per check that does.
"""
import argparse
import json
import os
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

parser = argparse.ArgumentParser()
parser.add_argument("--service", required=True, help="the service's base URL, such as http://127.0.0.1:8080")
parser.add_argument("--token", required=True)
parser.add_argument("--clip", required=True)
parser.add_argument("--page-port", type=int, required=True, help="the port the service lists as http://127.0.0.1:PORT")
parser.add_argument("--expect-refused", action="store_true")
args = parser.parse_args()


def check(condition, message):
    if not condition:
        sys.exit(f"FAIL: {message}")


page_dir = os.path.dirname(os.path.abspath(args.clip))
clip_name = os.path.basename(args.clip)


class Quiet(SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=page_dir, **k)

    def log_message(self, *_):
        pass


def serve(port):
    server = ThreadingHTTPServer(("127.0.0.1", port), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


listed = serve(args.page_port)
unlisted = serve(0)

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]:
    options.add_argument(flag)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_script_timeout(120)

# Each call resolves to {status, body, requestId, wwwAuthenticate} or {error}; a CORS refusal is a TypeError.
CALLS = """
const [service, token, clipName, done] = arguments;
const call = async (path, init) => {
  try {
    const r = await fetch(service + path, init);
    return {status: r.status, body: await r.text(), requestId: r.headers.get('X-Request-Id'),
            wwwAuthenticate: r.headers.get('WWW-Authenticate')};
  } catch (e) { return {error: String(e)}; }
};
(async () => {
  const clip = await (await fetch(clipName)).blob();
  const form = () => { const f = new FormData(); f.append('video', clip, clipName); return f; };
  const auth = {'Authorization': 'Bearer ' + token};
  done({
    classify: await call('/classify?top_k=3', {method: 'POST', headers: auth, body: form()}),
    metadata: await call('/v2/models/r2plus1d_18', {headers: auth}),
    noToken: await call('/classify', {method: 'POST', body: form()}),
    // Over the service's --max-upload-mb 1: refused by the connection before the body is read.
    tooLarge: await call('/classify', {method: 'POST', headers: auth,
                                       body: new Blob([new Uint8Array(3 << 20)], {type: 'video/mp4'})}),
  });
})();
"""


def calls(origin):
    driver.get(f"{origin}/{clip_name}")
    return driver.execute_async_script(CALLS, args.service, args.token, clip_name)


try:
    listed_results = calls(f"http://127.0.0.1:{args.page_port}")
    unlisted_results = calls(f"http://127.0.0.1:{unlisted.server_address[1]}")
finally:
    driver.quit()

if args.expect_refused:
    for name, result in listed_results.items():
        check("error" in result, f"without --cors-origins the browser let a page on another origin read {name}: {result}")
    print(f"no CORS policy: the browser refused all {len(listed_results)} cross-origin calls")
    sys.exit(0)

classify = listed_results["classify"]
check(classify.get("status") == 200, f"cross-origin classify: {classify}")
predictions = json.loads(classify["body"])["predictions"]
check(len(predictions) == 3 and predictions[0]["label"], f"cross-origin classify body: {classify['body'][:200]}")
check(classify.get("requestId"), "X-Request-Id is not readable cross-origin")
print(f"listed origin: classify 200, top label {predictions[0]['label']!r}, X-Request-Id readable")
metadata = listed_results["metadata"]
check(metadata.get("status") == 200 and json.loads(metadata["body"])["name"] == "r2plus1d_18", f"cross-origin metadata: {metadata}")
print("listed origin: KServe metadata 200")
no_token = listed_results["noToken"]
check(no_token.get("status") == 401 and no_token.get("wwwAuthenticate", "").startswith("Bearer"),
      f"cross-origin call without a token: {no_token}")
print("listed origin: 401 without a token, WWW-Authenticate readable")
too_large = listed_results["tooLarge"]
check(too_large.get("status") == 413 and "larger than" in too_large.get("body", ""), f"cross-origin upload over the limit: {too_large}")
print("listed origin: 413 for an upload over --max-upload-mb, readable")
for name, result in unlisted_results.items():
    check("error" in result, f"a page on an origin the service does not list read {name}: {result}")
print(f"unlisted origin: the browser refused all {len(unlisted_results)} calls")
