#!/usr/bin/env python3
"""Benchmark (not a test): `serve`'s memory while it streams a 50 MB answer.

Starts the emulator with a `tokens` model of 800 tokens of 64 KiB (52.4 MB of payload) and
`serve` in front of it, both on loopback, reads the stream through the router at full speed
(and once more slowly, 1 MiB/s... a reader that lags, so that back-pressure is what keeps
memory flat), and samples serve's resident set (VmRSS) every 20 ms, and its peak (VmHWM).
The router must not buffer the answer: its peak RSS should grow by far less than 52 MB.

    python3 benches/stream/stream_memory.py --bin target/release/canary-router
"""

import argparse
import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time

TOKENS = 800
TOKEN_BYTES = 64 * 1024


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def start(cmd, env, marker):
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        line = p.stderr.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if marker in line and m:
            threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
            return p, int(m.group(1))
    p.kill()
    raise SystemExit(f"{cmd[1]} did not start")


def stream(port, delay_per_mib=0.0):
    body = b'{"inputs": "a long story"}'
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(
        b"POST /predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
        b"Accept: text/event-stream\r\nX-User-Id: reader\r\nContent-Length: "
        + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    total, since = 0, 0
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
    while True:
        chunk = s.recv(256 * 1024)
        if not chunk:
            break
        total += len(chunk)
        since += len(chunk)
        if delay_per_mib and since >= 1 << 20:
            time.sleep(delay_per_mib)
            since = 0
    s.close()
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/canary-router")
    ap.add_argument("--slow-mib-per-s", type=float, default=8.0)
    args = ap.parse_args()
    d = tempfile.mkdtemp(prefix="stream-mem-")
    models = os.path.join(d, "models.json")
    with open(models, "w") as f:
        json.dump({"endpoints": {"big": {"variants": [{"name": "AllTraffic", "model": {
            "type": "tokens", "tokens": TOKENS, "token_bytes": TOKEN_BYTES}}]}}}, f)
    env = dict(os.environ, RUST_LOG="warn")
    emu, emu_port = start([args.bin, "emulate", "--listen", "127.0.0.1:0", "--models", models], env, "emulator on")
    cfg = {"experiment": "mem", "version": "v1", "salt": "mem-1",
           "arms": [{"name": "control", "endpoint": "big", "weight": 10000}],
           "cookie": {"enabled": False},
           "timeouts": {"stream_total_ms": 600000, "stream_idle_ms": 60000}}
    env_srv = dict(env, AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=f"http://127.0.0.1:{emu_port}",
                   AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x",
                   CANARY_CONFIG=json.dumps(cfg), RUST_LOG="info")
    srv, srv_port = start([args.bin, "serve", "--listen", "127.0.0.1:0"], env_srv, "serving on")
    try:
        # One small warm-up stream, then the baseline.
        time.sleep(0.3)
        base = rss_kib(srv.pid)
        payload = TOKENS * TOKEN_BYTES
        for label, delay in [("full speed", 0.0), (f"reader at {args.slow_mib_per_s:g} MiB/s", 1.0 / args.slow_mib_per_s)]:
            peak = [0]
            stop = threading.Event()

            def sample():
                while not stop.is_set():
                    peak[0] = max(peak[0], rss_kib(srv.pid))
                    time.sleep(0.02)

            t = threading.Thread(target=sample)
            t.start()
            t0 = time.time()
            got = stream(srv_port, delay)
            took = time.time() - t0
            stop.set()
            t.join()
            print(f"{label:>24}: {got / 1e6:.1f} MB on the wire in {took:.2f} s; serve RSS {base / 1024:.1f} MiB before, "
                  f"peak {peak[0] / 1024:.1f} MiB while streaming (+{(peak[0] - base) / 1024:.1f} MiB for a "
                  f"{payload / 1e6:.1f} MB answer)")
        print(f"serve VmHWM (peak of the whole run): {rss_kib(srv.pid, 'VmHWM') / 1024:.1f} MiB")
    finally:
        srv.terminate()
        emu.terminate()


if __name__ == "__main__":
    main()
