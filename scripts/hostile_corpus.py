"""A hostile-media corpus, and a run of it against a live r2plus1d service.

Usage:
  python3 scripts/hostile_corpus.py make DIR              write the corpus (needs ffmpeg) and DIR/manifest.json
  python3 scripts/hostile_corpus.py run DIR --port PORT --pid PID [--trace FILE]
      POST every case as video/mp4; check each status against the manifest and the problem+json body;
      check /healthz and /readyz after; compare the server's RSS before and after (within 10%); with --trace
      (an `strace -f -e trace=openat,connect` log of the server), check that no file was opened and no socket
      connected while the corpus ran. Prints one JSON summary; exits 1 on any failure.
Nothing large is committed: every case is made here, from ffmpeg's test sources or a few lines of Python.
"""
import http.client, io, json, os, random, re, subprocess, sys, time, zipfile


def ffmpeg(out, *args):
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-nostdin", *args, out], check=True)


def make(d):
    os.makedirs(d, exist_ok=True)
    p = lambda name: os.path.join(d, name)
    rnd = random.Random(2018)
    cases = {}

    def case(name, allowed, data=None):
        if data is not None:
            open(p(name), "wb").write(data)
        cases[name] = allowed

    src = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "4"]
    ffmpeg(p("good.mp4"), *src, "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-movflags", "+faststart")
    good = open(p("good.mp4"), "rb").read()
    case("good.mp4", [200])
    ffmpeg(p("moov-at-end.mp4"), *src, "-c:v", "libx264", "-preset", "ultrafast", "-g", "30")
    case("moov-at-end.mp4", [200])
    case("zero-bytes.mp4", [400], b"")
    case("random-1k.bin", [415], bytes(rnd.getrandbits(8) for _ in range(1024)))
    case("random-1m.bin", [415], bytes(rnd.getrandbits(8) for _ in range(1 << 20)))
    end = open(p("moov-at-end.mp4"), "rb").read()
    # Cut short, an accepted container is an unusable video (422), never "not a format we accept" (415).
    for pct in (10, 50, 99):
        case(f"truncated-{pct}.mp4", [200, 422], end[: len(end) * pct // 100])
        case(f"truncated-faststart-{pct}.mp4", [200, 422], good[: len(good) * pct // 100])
    moov = good.find(b"moov")
    case("moov-cut.mp4", [422], good[: moov + 200])
    # A transport stream whose service name FFmpeg converts with iconv, which tries to open glibc's module cache:
    # the workers' sandbox refuses the open (before strace's own filter sees it, so the trace shows no attempt) and
    # the video still decodes.
    ffmpeg(p("service-name.ts"), *src, "-c:v", "libx264", "-preset", "ultrafast", "-metadata", "service_name=News",
           "-f", "mpegts")
    case("service-name.ts", [200])
    # Recordings joined byte for byte, whose clock restarts (or jumps an hour ahead) at the join: the decoder's
    # packet index reads them as one recording.
    ffmpeg(p("part-a.ts"), *src, "-c:v", "libx264", "-preset", "ultrafast", "-f", "mpegts")
    ffmpeg(p("part-b.ts"), *src, "-c:v", "libx264", "-preset", "ultrafast", "-output_ts_offset", "3600", "-f", "mpegts")
    part_a, part_b = open(p("part-a.ts"), "rb").read(), open(p("part-b.ts"), "rb").read()
    os.remove(p("part-a.ts"))
    os.remove(p("part-b.ts"))
    case("joined.ts", [200], part_a + part_a)
    case("joined-hour-later.ts", [200], part_a + part_b)
    # Streams whose frame size or pixel format changes at the join, as a cut between two broadcasts makes: the
    # decoder's frames change shape mid-clip, and each converts at its own size.
    ffmpeg(p("part-c.ts"), "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-t", "4", "-c:v", "libx264",
           "-preset", "ultrafast", "-f", "mpegts")
    ffmpeg(p("part-d.ts"), "-f", "lavfi", "-i", "testsrc2=size=176x144:rate=30", "-t", "4", "-c:v", "libx264",
           "-preset", "ultrafast", "-pix_fmt", "yuv444p", "-f", "mpegts")
    part_c, part_d = open(p("part-c.ts"), "rb").read(), open(p("part-d.ts"), "rb").read()
    os.remove(p("part-c.ts"))
    os.remove(p("part-d.ts"))
    case("size-grows.ts", [200], part_a + part_c)
    case("size-and-format-change.ts", [200], part_c + part_d)
    # AVIs cut before their index, which comes last (an interrupted recording): the decoder reads the packets once
    # to index them, and steps back from seeks that land between keyframes; one claiming hours is refused first.
    ffmpeg(p("cut.avi"), *src, "-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-g", "60", "-f", "avi")
    avi = open(p("cut.avi"), "rb").read()
    case("avi-cut-60.avi", [200], avi[: len(avi) * 6 // 10])
    ffmpeg(p("hours.avi"), "-f", "lavfi", "-i", "color=c=red:size=2x2:rate=1", "-t", "7200", "-c:v", "ffv1", "-f", "avi")
    hours = open(p("hours.avi"), "rb").read()
    case("avi-no-index-claiming-hours.avi", [422], hours[: hours.rfind(b"idx1")])
    os.remove(p("cut.avi"))
    os.remove(p("hours.avi"))
    # MXF cut short (a growing file sent while written) loses the index tables in its footer and the times of its
    # packets with them; raw DV cut inside a frame. Both are sampled over what they hold.
    ffmpeg(p("cut.mxf"), "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "8", "-c:v", "libx264",
           "-preset", "veryfast", "-bf", "3", "-g", "25", "-f", "mxf")
    mxf = open(p("cut.mxf"), "rb").read()
    case("mxf-cut-50.mxf", [200], mxf[: len(mxf) // 2])
    ffmpeg(p("cut.dv"), "-f", "lavfi", "-i", "testsrc2=size=720x576:rate=25", "-t", "2", "-c:v", "dvvideo",
           "-pix_fmt", "yuv420p", "-f", "dv")
    dv = open(p("cut.dv"), "rb").read()
    case("dv-cut-mid-frame.dv", [200], dv[: len(dv) * 7 // 10 + 1234])
    os.remove(p("cut.mxf"))
    os.remove(p("cut.dv"))
    ffmpeg(p("audio.mp3"), "-f", "lavfi", "-i", "sine=frequency=440", "-t", "2")
    case("audio.mp3", [415])
    ffmpeg(p("audio-aac.m4a"), "-f", "lavfi", "-i", "sine=frequency=440", "-t", "2", "-c:a", "aac")
    case("audio-aac.m4a", [422])
    ffmpeg(p("image.png"), "-f", "lavfi", "-i", "testsrc2=size=64x64", "-frames:v", "1")
    case("image.png", [415])
    ffmpeg(p("image.jpg"), "-f", "lavfi", "-i", "testsrc2=size=64x64", "-frames:v", "1")
    case("image.jpg", [415])
    case("document.pdf", [415], b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    case("page.html", [415], b"<!doctype html><html><body><video src='/etc/passwd'></video></body></html>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "hello")
    case("archive.zip", [415], buf.getvalue())
    case("mp4-zip-polyglot.mp4", [200], good + buf.getvalue())
    case("playlist.m3u8", [415], f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n{p('good.mp4')}\n#EXTINF:4,\n"
                                 "http://127.0.0.1:9/x.ts\n#EXT-X-ENDLIST\n".encode())
    case("list.ffconcat", [415], f"ffconcat version 1.0\nfile '{p('good.mp4')}'\nfile '/etc/passwd'\n".encode())
    inputs = ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=15"] + sum((["-f", "lavfi", "-i", f"sine=frequency={200 + 10 * i}"]
                                                                           for i in range(16)), [])
    maps = sum((["-map", str(i)] for i in range(17)), [])
    ffmpeg(p("many-streams.mkv"), *inputs, *maps, "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "libopus")
    case("many-streams.mkv", [200])
    ffmpeg(p("tiny-claiming-hours.mkv"), "-f", "lavfi", "-i", "color=c=red:size=2x2:rate=1", "-t", "4000", "-c:v", "ffv1")
    case("tiny-claiming-hours.mkv", [422])
    # 16384x16384 claimed by the container (tkhd and avc1), 320x240 in the H.264 stream.
    patched = bytearray(good)
    avc1 = patched.find(b"avc1")
    patched[avc1 + 28: avc1 + 32] = (16384).to_bytes(2, "big") * 2
    tkhd = patched.find(b"tkhd")
    size = int.from_bytes(patched[tkhd - 4: tkhd], "big")
    patched[tkhd - 4 + size - 8: tkhd - 4 + size] = (16384 << 16).to_bytes(4, "big") * 2
    case("claims-16384x16384.mp4", [200, 422], bytes(patched))
    ffmpeg(p("small.gif"), "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10", "-t", "1")
    gif = bytearray(open(p("small.gif"), "rb").read())
    gif[6:10] = (16384).to_bytes(2, "little") * 2
    case("gif-huge-canvas.gif", [422], bytes(gif))
    ffmpeg(p("one-frame.mp4"), "-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", "-c:v", "libx264")
    case("one-frame.mp4", [200])
    flipped = bytearray(good)
    mdat = flipped.find(b"mdat")
    for _ in range(200):
        i = rnd.randrange(mdat + 64, len(flipped))
        flipped[i] ^= 1 << rnd.randrange(8)
    case("h264-flipped-bits.mp4", [200, 422])
    open(p("h264-flipped-bits.mp4"), "wb").write(flipped)
    ffmpeg(p("vp9.webm"), "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "2", "-c:v", "libvpx-vp9",
           "-deadline", "realtime", "-cpu-used", "8")
    webm = open(p("vp9.webm"), "rb").read()
    case("webm-truncated-30.webm", [200, 422], webm[: len(webm) * 3 // 10])
    case("text.txt", [415], b"this is not a video\n" * 50)
    ts = bytearray()
    for _ in range(400):
        ts += b"\x47" + bytes(rnd.getrandbits(8) for _ in range(187))
    case("mpegts-garbage.ts", [415, 422], bytes(ts))
    for name in ("small.gif",):
        os.remove(p(name))
    json.dump(cases, open(p("manifest.json"), "w"), indent=1, sort_keys=True)
    print(f"{len(cases)} cases in {d}")


def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, r.getheader("Content-Type", ""), data


def run(d, port, pid, trace):
    cases = json.load(open(os.path.join(d, "manifest.json")))
    good = open(os.path.join(d, "good.mp4"), "rb").read()
    # Warm-up: three good uploads and one pass over the corpus (first-time allocations for each kind of input
    # are not leaks); RSS after this is the baseline the measured pass is held to.
    for _ in range(3):
        request(port, "POST", "/classify", good, {"Content-Type": "video/mp4"})
    for name in sorted(cases):
        request(port, "POST", "/classify", open(os.path.join(d, name), "rb").read(), {"Content-Type": "video/mp4"})
    before = rss_mb(pid)
    trace_start = os.path.getsize(trace) if trace else 0
    failures, results = [], {}
    for name, allowed in sorted(cases.items()):
        data = open(os.path.join(d, name), "rb").read()
        status, ctype, body = request(port, "POST", "/classify", data, {"Content-Type": "video/mp4"})
        results[name] = status
        if status not in allowed:
            failures.append(f"{name}: {status}, expected {allowed}: {body[:200]!r}")
        elif status != 200 and (ctype != "application/problem+json" or b'"detail"' not in body):
            failures.append(f"{name}: {status} without a problem+json body")
    for _ in range(3):
        request(port, "POST", "/classify", good, {"Content-Type": "video/mp4"})
    after = rss_mb(pid)
    for path in ("/healthz", "/readyz"):
        status = request(port, "GET", path)[0]
        if status != 200:
            failures.append(f"{path}: {status} after the corpus")
    if after > before * 1.10:
        failures.append(f"RSS grew from {before:.1f} MB to {after:.1f} MB")
    opened = []
    if trace:
        with open(trace, "rb") as f:
            f.seek(trace_start)
            for line in f.read().decode(errors="replace").splitlines():
                if ("openat(" in line or "connect(" in line) and "resumed" not in line:
                    # libdispatch's thread-pool monitor reads its own worker threads' /proc/TID/stat: not the
                    # decode path, and no file an upload can name.
                    if re.search(r'openat\(AT_FDCWD, "/proc/\d+/stat", O_RDONLY', line):
                        continue
                    opened.append(line.strip())
        if opened:
            failures.append(f"the decode path opened files or sockets: {opened[:5]}")
    summary = {"cases": len(cases), "statuses": results, "rss_mb_before": round(before, 1), "rss_mb_after": round(after, 1),
               "opens_or_connects_during_corpus": len(opened) if trace else None, "failures": failures}
    print(json.dumps(summary, indent=1, sort_keys=True))
    return 1 if failures else 0


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        import argparse
        a = argparse.ArgumentParser()
        a.add_argument("mode"); a.add_argument("dir"); a.add_argument("--port", type=int, required=True)
        a.add_argument("--pid", type=int, required=True); a.add_argument("--trace")
        args = a.parse_args()
        sys.exit(run(args.dir, args.port, args.pid, args.trace))
