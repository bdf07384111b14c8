"""Load and fault runs against a live r2plus1d service on loopback; bounded in count and time.

Usage: python3 scripts/load_faults.py --binary .build/release/r2plus1d --corpus DIR [--seconds 300]
  (DIR from `scripts/hostile_corpus.py make DIR`). Starts its own servers (demo weights, free ports) and runs:
  1. mixed load: 64 clients for --seconds, 70% valid clips and 30% corpus files; allowed: 200, the corpus
     case's expected 4xx, and 503 with Retry-After; no connection reset; open file descriptors back to the
     baseline; RSS at the end within 10% of RSS after the first quarter (the warm-up);
  2. slowloris: 500 connections sending one header byte a second for 30 s while 8 clients classify and probe
     /healthz: at least 99% of the normal requests succeed;
  3. SIGTERM with 16 requests in flight and queued: /readyz 503 while the listener is still open, every
     request answered 200 (or 503 over the drain budget), exit 0 within the drain timeout;
  4. clients that disconnect while queued: their clips are dropped, not computed (the metrics say so).
Prints one JSON object per phase and exits 1 if any check fails.
"""
import argparse, http.client, json, os, random, re, signal, socket, subprocess, threading, time


def start(binary, *args):
    proc = subprocess.Popen([binary, "serve", "--demo-weights", "--host", "127.0.0.1", "--port", "0", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    port = None
    deadline = time.time() + 60
    while time.time() < deadline and port is None:
        line = proc.stderr.readline()
        m = re.search(r"server\.port=(\d+)", line)
        port = int(m.group(1)) if m else None
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # keep the pipe drained
    while time.time() < deadline:
        try:
            if request(port, "GET", "/readyz")[0] == 200:
                return proc, port
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not become ready")


def request(port, method, path, body=None, headers=None, timeout=120):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def metric(port, series):
    text = request(port, "GET", "/metrics")[2].decode()
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


def mixed_load(binary, corpus, seconds):
    manifest = json.load(open(os.path.join(corpus, "manifest.json")))
    files = {name: open(os.path.join(corpus, name), "rb").read() for name in manifest}
    valid = [files["good.mp4"], files["moov-at-end.mp4"], files["one-frame.mp4"]]
    proc, port = start(binary)
    try:
        for v in valid:
            request(port, "POST", "/classify", v, {"Content-Type": "video/mp4"})
        baseline_fds = fds(proc.pid)
        lock = threading.Lock()
        counts, bad, resets = {}, [], []
        stop = time.time() + seconds
        rnd = random.Random(7)

        def client(seed):
            r = random.Random(seed)
            while time.time() < stop:
                if r.random() < 0.7:
                    name, body, allowed = "valid", r.choice(valid), {200}
                else:
                    name = r.choice(sorted(files))
                    body, allowed = files[name], set(manifest[name])
                try:
                    status, headers, _ = request(port, "POST", "/classify", body, {"Content-Type": "video/mp4"})
                except (ConnectionError, socket.timeout, http.client.HTTPException) as e:
                    with lock:
                        resets.append(f"{name}: {e!r}")
                    continue
                with lock:
                    counts[status] = counts.get(status, 0) + 1
                    if status == 503 and "Retry-After" not in headers:
                        bad.append(f"{name}: 503 without Retry-After")
                    elif status != 503 and status not in allowed:
                        bad.append(f"{name}: {status}, expected {sorted(allowed)}")

        threads = [threading.Thread(target=client, args=(rnd.random(),)) for _ in range(64)]
        for t in threads:
            t.start()
        # The warm-up is the first quarter of the load: RSS then is the level the end is held to.
        time.sleep(seconds / 4)
        baseline_rss = rss_mb(proc.pid)
        for t in threads:
            t.join()
        time.sleep(1)
        for v in valid:
            request(port, "POST", "/classify", v, {"Content-Type": "video/mp4"})
        # The server closes a connection once it reads the client's EOF, a moment after the client has its
        # answer: give it up to 5 s before counting.
        end_fds = fds(proc.pid)
        for _ in range(50):
            if end_fds <= baseline_fds:
                break
            time.sleep(0.1)
            end_fds = fds(proc.pid)
        end_rss = rss_mb(proc.pid)
        # Idle, the server hands its free heap back (serve trims it 2 s into a quiet spell).
        time.sleep(5)
        idle_rss = rss_mb(proc.pid)
        failures = bad[:10] + resets[:10]
        if end_rss > baseline_rss * 1.10:
            failures.append(f"RSS {baseline_rss:.1f} -> {end_rss:.1f} MB")
        if idle_rss > baseline_rss:
            failures.append(f"idle RSS {idle_rss:.1f} MB not below the loaded {baseline_rss:.1f} MB")
        if end_fds > baseline_fds:
            open_now = sorted(os.readlink(f"/proc/{proc.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{proc.pid}/fd"))
            failures.append(f"open fds {baseline_fds} -> {end_fds}: {open_now}")
        return {"phase": "mixed load", "clients": 64, "seconds": seconds, "statuses": counts, "unexpected": len(bad),
                "resets_or_errors": len(resets), "rss_mb": [round(baseline_rss, 1), round(end_rss, 1)],
                "idle_rss_mb": round(idle_rss, 1),
                "open_fds": [baseline_fds, end_fds], "failures": failures}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def slowloris(binary, corpus):
    proc, port = start(binary)
    video = open(os.path.join(corpus, "good.mp4"), "rb").read()
    try:
        slow = []
        for _ in range(500):
            s = socket.create_connection(("127.0.0.1", port))
            slow.append(s)
        line = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: "
        ok, total = [0], [0]
        lock = threading.Lock()
        stop = time.time() + 30

        def normal(i):
            while time.time() < stop:
                try:
                    if i % 2:
                        status = request(port, "GET", "/healthz", timeout=5)[0]
                    else:
                        status = request(port, "POST", "/classify", video, {"Content-Type": "video/mp4"}, timeout=30)[0]
                except OSError:
                    status = -1
                with lock:
                    total[0] += 1
                    ok[0] += status == 200
                time.sleep(0.05)

        threads = [threading.Thread(target=normal, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for second in range(30):
            for s in slow:
                try:
                    s.send(line[second % len(line): second % len(line) + 1])
                except OSError:
                    pass
            time.sleep(1)
        for t in threads:
            t.join()
        for s in slow:
            s.close()
        rate = ok[0] / max(1, total[0])
        return {"phase": "slowloris", "slow_connections": 500, "normal_requests": total[0], "normal_ok": ok[0],
                "success_rate": round(rate, 4), "failures": [] if rate >= 0.99 else [f"success rate {rate:.3f} < 0.99"]}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def sigterm(binary, corpus):
    proc, port = start(binary, "--drain-delay-s", "2", "--drain-timeout-s", "25", "--max-delay-ms", "50")
    video = open(os.path.join(corpus, "good.mp4"), "rb").read()
    statuses, lock = [], threading.Lock()

    def one():
        try:
            status = request(port, "POST", "/classify", video, {"Content-Type": "video/mp4"})[0]
        except OSError as e:
            status = repr(e)
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one) for _ in range(16)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    sent = time.time()
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    try:
        ready = request(port, "GET", "/readyz", timeout=5)[0]
    except OSError as e:
        ready = repr(e)
    for t in threads:
        t.join()
    code = proc.wait(60)
    took = time.time() - sent
    failures = []
    if ready != 503:
        failures.append(f"/readyz after SIGTERM: {ready}")
    if any(s not in (200, 503) for s in statuses):
        failures.append(f"statuses {statuses}")
    if code != 0 or took > 27:
        failures.append(f"exit {code} after {took:.1f} s")
    return {"phase": "sigterm", "requests": len(statuses), "statuses": sorted(map(str, statuses)), "readyz_after": ready,
            "exit": code, "seconds_to_exit": round(took, 1), "failures": failures}


def disconnects(binary, corpus):
    proc, port = start(binary, "--max-delay-ms", "1000", "--max-batch", "8")
    video = open(os.path.join(corpus, "good.mp4"), "rb").read()
    try:
        computed = metric(port, "r2plus1d_clips_computed_total")
        for _ in range(4):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"POST /classify?clips=2 HTTP/1.1\r\nHost: x\r\nContent-Type: video/mp4\r\nContent-Length: "
                      + str(len(video)).encode() + b"\r\n\r\n" + video)
            time.sleep(0.3)
            s.close()
        time.sleep(2)
        dropped = metric(port, 'r2plus1d_clips_dropped_total{reason="client_gone"}')
        after = metric(port, "r2plus1d_clips_computed_total")
        failures = [] if dropped >= 2 and after - computed < 8 else [f"dropped {dropped}, computed {after - computed}"]
        return {"phase": "disconnects", "clips_requested": 8, "dropped_client_gone": dropped,
                "computed": after - computed, "failures": failures}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--corpus", required=True)
    p.add_argument("--seconds", type=float, default=300)
    p.add_argument("--phases", default="mixed,slowloris,sigterm,disconnects")
    a = p.parse_args()
    runs = {"mixed": lambda: mixed_load(a.binary, a.corpus, a.seconds), "slowloris": lambda: slowloris(a.binary, a.corpus),
            "sigterm": lambda: sigterm(a.binary, a.corpus), "disconnects": lambda: disconnects(a.binary, a.corpus)}
    failed = False
    for phase in a.phases.split(","):
        result = runs[phase]()
        print(json.dumps(result), flush=True)
        failed |= bool(result["failures"])
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
