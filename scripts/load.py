"""Bounded load on a running r2plus1d service, loopback only.

Usage: python3 scripts/load.py --port PORT --video FILE [--concurrency 8] [--seconds 60] [--clips 1] [--pid PID [--children]]
Each client POSTs the video as video/mp4 in a loop until the time is up (a request in flight then finishes).
Prints one JSON object: requests, statuses, clips/s, latency percentiles (ms), and the server's peak RSS (MiB,
VmHWM of --pid) when given.
"""
import argparse, http.client, json, os, threading, time


def peak_rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def children(pid):
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found += [int(c) for c in f.read().split()]
    return found


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--video", required=True)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--clips", type=int, default=1)
    p.add_argument("--pid", type=int)
    p.add_argument("--children", action="store_true",
                   help="also add the peak RSS of --pid's decode workers: service_peak_rss_mb")
    a = p.parse_args()
    body = open(a.video, "rb").read()
    lock = threading.Lock()
    latencies, statuses, errors = [], {}, []
    stop_at = time.monotonic() + a.seconds

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=120)
        while time.monotonic() < stop_at:
            start = time.monotonic()
            try:
                conn.request("POST", f"/classify?clips={a.clips}", body=body, headers={"Content-Type": "video/mp4"})
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=120)
            except Exception as e:  # a reset or a timeout is a failure of the run
                with lock:
                    errors.append(repr(e))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=120)
                continue
            elapsed = time.monotonic() - start
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    latencies.append(elapsed)
        conn.close()

    began = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(a.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - began
    latencies.sort()
    pct = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1) if latencies else None
    result = {
        "concurrency": a.concurrency, "seconds": round(wall, 1), "clips_per_request": a.clips,
        "requests": sum(statuses.values()), "statuses": statuses, "errors": len(errors),
        "clips_per_second": round(len(latencies) * a.clips / wall, 3),
        "latency_ms": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": pct(1.0)},
    }
    if a.pid:
        result["server_peak_rss_mb"] = peak_rss_mb(a.pid)
        if a.children:
            workers = [p for p in children(a.pid) if b"decode-worker" in open(f"/proc/{p}/cmdline", "rb").read()]
            result["workers_peak_rss_mb"] = round(sum(peak_rss_mb(p) for p in workers), 1)
            result["service_peak_rss_mb"] = round(result["server_peak_rss_mb"] + result["workers_peak_rss_mb"], 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
