"""Issue #18's benchmark driver: one Trygg binary, one data directory, N organisations.

  tenants.py create BIN DIR N      create N organisations through the operator API of a running
                                   server (four clients at once), then stop it
  tenants.py measure BIN DIR N     start the server, time start-up, read memory and descriptors,
                                   then one request to every organisation in random order (a
                                   cold first request) each followed by a second (warm) one, and
                                   read them again; prints one JSON line

The request is a patient's or new colleague's first page, `GET /enrol/<org>.<secret>` with a
secret no link has: the server opens the organisation's database to look it up and answers 404
(or 410, once the refusal is logged).
Each request comes from its own client address (`X-Forwarded-For`, with `trusted_proxies` set to
loopback), as from many people behind a proxy, so the per-client login budget does not apply.
Only loopback is used. Standard library only.
"""

import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

SECRET = "A" * 43


def env_for(d, extra=None):
    e = dict(os.environ)
    e.pop("RUST_LOG", None)
    e.update({
        "TRYGG_DATA_DIR": d,
        "TRYGG_TRUSTED_PROXIES": "127.0.0.1/32",
        "TRYGG_MAX_CONNECTIONS": "256",
    })
    e.update(extra or {})
    return e


def start(binary, d, extra=None):
    """Starts `trygg serve`; returns (process, port, seconds to the listening line)."""
    t0 = time.monotonic()
    p = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0"], env=env_for(d, extra),
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = None
    for line in p.stdout:
        m = re.search(r"listening on https?://[^:]+:(\d+)", line)
        if m:
            port = int(m.group(1))
            break
    took = time.monotonic() - t0
    if port is None:
        p.kill()
        raise SystemExit(f"{binary} did not start (exit {p.wait()})")
    # Keep reading stdout so the server never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
    return p, port, took


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def org_fds(pid, d):
    orgs = os.path.join(d, "orgs")
    n = 0
    for f in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{f}").startswith(orgs):
                n += 1
        except OSError:
            pass
    return n


def create(binary, d, n):
    os.makedirs(d, mode=0o700, exist_ok=True)
    out = subprocess.run([binary, "token", "create", "--label", "bench"], env=env_for(d),
                         capture_output=True, text=True, check=True).stdout
    token = out.strip().split()[-1]
    p, port, _ = start(binary, d)
    todo = list(range(n))
    lock = threading.Lock()
    failed = []

    def client():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop()
            body = json.dumps({"name": f"Klinikk {i}", "slug": f"klinikk-{i:05d}"})
            c.request("POST", "/api/v1/orgs", body=body, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            if r.status != 201:
                failed.append((i, r.status))

    t0 = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - t0
    stop(p)
    if failed:
        raise SystemExit(f"{len(failed)} organisations not created, e.g. {failed[:3]}")
    print(json.dumps({"created": n, "seconds": round(took, 1)}))


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def measure(binary, d, n):
    p, port, startup = start(binary, d)
    pid = p.pid
    after_start = {"rss_mb": rss_mb(pid), "fds": fds(pid), "org_fds": org_fds(pid, d)}
    time.sleep(3)
    settled = {"rss_mb": rss_mb(pid), "fds": fds(pid), "org_fds": org_fds(pid, d)}
    peak = {"fds": 0, "org_fds": 0, "rss_mb": 0.0}
    running = True

    def sampler():
        while running:
            try:
                peak["fds"] = max(peak["fds"], fds(pid))
                peak["org_fds"] = max(peak["org_fds"], org_fds(pid, d))
                peak["rss_mb"] = max(peak["rss_mb"], rss_mb(pid))
            except OSError:
                return
            time.sleep(0.02)

    s = threading.Thread(target=sampler, daemon=True)
    s.start()
    slugs = [f"klinikk-{i:05d}" for i in range(n)]
    random.Random(18).shuffle(slugs)
    c = http.client.HTTPConnection("localhost", port, timeout=60)
    cold, warm, bad = [], [], 0
    for k, slug in enumerate(slugs):
        client = f"10.{(k >> 16) & 255}.{(k >> 8) & 255}.{k & 255}"
        for bucket in (cold, warm):
            t0 = time.perf_counter()
            c.request("GET", f"/enrol/{slug}.{SECRET}", headers={"X-Forwarded-For": client})
            r = c.getresponse()
            r.read()
            bucket.append((time.perf_counter() - t0) * 1000)
            if r.status not in (404, 410):
                bad += 1
    running = False
    s.join()
    after = {"rss_mb": rss_mb(pid), "fds": fds(pid), "org_fds": org_fds(pid, d)}
    # The server's own view, once it has written one taken after the requests (every 5 s); an
    # older binary without `trygg status` gives none.
    status = None
    ended = time.time()
    for _ in range(40):
        try:
            out = subprocess.run([binary, "status", "--json"], env=env_for(d),
                                 capture_output=True, text=True, timeout=30)
            v = json.loads(out.stdout) if out.returncode == 0 else None
        except (subprocess.SubprocessError, ValueError):
            v = None
        if v is None or "at" not in v:
            break
        at = time.mktime(time.strptime(v["at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        if at >= ended:
            status = v
            break
        time.sleep(0.5)
    stop(p)
    print(json.dumps({
        "orgs": n, "startup_s": startup, "after_start": after_start, "settled": settled,
        "peak": peak, "after_requests": after, "non_404": bad,
        "cold_p50_ms": pct(cold, 50), "cold_p99_ms": pct(cold, 99), "cold_max_ms": max(cold),
        "warm_p50_ms": pct(warm, 50), "warm_p99_ms": pct(warm, 99),
        "max_open": (status or {}).get("max_open"), "opened": (status or {}).get("opened"),
        "descriptor_bound": (status or {}).get("descriptor_bound"),
    }))


if __name__ == "__main__":
    cmd, binary, d, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    {"create": create, "measure": measure}[cmd](binary, d, n)
