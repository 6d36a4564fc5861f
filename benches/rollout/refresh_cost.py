#!/usr/bin/env python3
"""Benchmark (not a test): what the AppConfig refresh costs requests, and how fast a switch lands.

Runs two `serve` processes side by side against one emulator: one with a static --config file,
one with CANARY_APPCONFIG and CANARY_CONFIG_REFRESH_MS=100 against the AppConfig stand-in
(`emulate --appconfig`), whose document is re-published every 300 ms (so most refreshes fetch
and many apply a new document). The same request mix goes to both, interleaved, over keep-alive
connections; it reports client-side p50/p99/max per server. Then it measures switch latency:
publish a new version, poll /health until it serves.

    python3 benches/rollout/refresh_cost.py --bin target/release/canary-router [--requests 20000]

Loopback only; every process it starts is stopped by its PID.
"""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def start(cmd, env):
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        line = p.stderr.readline()
        for marker in ("emulator on ", "serving on "):
            if marker in line:
                threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
                return p, line[line.index("http://") + 7:].split()[0]
        if p.poll() is not None:
            sys.exit(f"{cmd[1]} exited")
    sys.exit(f"{cmd[1]} did not start")


def doc(version, canary):
    return {"experiment": "bench", "version": version, "salt": "bench-1",
            "arms": [{"name": "control", "endpoint": "echo", "weight": 10000 - canary},
                     {"name": "canary", "endpoint": "echo", "weight": canary}],
            "cookie": {"enabled": False}}


def publish(d, version, canary):
    path = os.path.join(d, "bench", "prod", "router.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc(version, canary), f)
    os.replace(tmp, path)


class Conn:
    def __init__(self, addr):
        host, port = addr.split(":")
        self.s = socket.create_connection((host, int(port)))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def request(self, raw):
        self.s.sendall(raw)
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.s.recv(65536)
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length"))
        while len(rest) < length:
            rest += self.s.recv(65536)
        self.buf = rest[length:]
        return int(head.split(b" ")[1])


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/canary-router")
    ap.add_argument("--requests", type=int, default=20000)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="canary-refresh-")
    os.makedirs(os.path.join(work, "bench", "prod"))
    publish(work, "b-0", 1000)
    models = os.path.join(work, "models.json")
    json.dump({"seed": 1, "endpoints": {"echo": {"variants": [{"name": "AllTraffic", "model": {"type": "echo"}}]}}},
              open(models, "w"))
    cfg = os.path.join(work, "config.json")
    json.dump(doc("static", 1000), open(cfg, "w"))
    env = dict(os.environ, RUST_LOG="error", AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="x",
               AWS_SECRET_ACCESS_KEY="x", AWS_EC2_METADATA_DISABLED="true")
    for k in ("CANARY_CONFIG", "CANARY_CONFIG_FILE", "CANARY_APPCONFIG"):
        env.pop(k, None)
    procs = []
    try:
        emu, emu_addr = start([args.bin, "emulate", "--listen", "127.0.0.1:0", "--models", models,
                               "--appconfig", work], env)
        procs.append(emu)
        sm = dict(env, AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=f"http://{emu_addr}")
        static, static_addr = start([args.bin, "serve", "--listen", "127.0.0.1:0", "--config", cfg], sm)
        procs.append(static)
        refreshing, refreshing_addr = start(
            [args.bin, "serve", "--listen", "127.0.0.1:0"],
            dict(sm, CANARY_APPCONFIG="bench/prod/router",
                 AWS_APPCONFIG_EXTENSION_HTTP_PORT=emu_addr.split(":")[1], CANARY_CONFIG_REFRESH_MS="100"))
        procs.append(refreshing)
        stop = threading.Event()
        published = [0]

        def churn():
            i = 0
            while not stop.is_set():
                i += 1
                # Alternate between two splits under ever-new versions: each refresh that sees a
                # new document validates and swaps it.
                publish(work, f"b-{i}", 1000 if i % 2 else 2000)
                published[0] = i
                time.sleep(0.3)

        churner = threading.Thread(target=churn)
        churner.start()
        body = b'{"features": [1, 2, 3, 4]}'
        conns = {"static": Conn(static_addr), "refreshing": Conn(refreshing_addr)}
        lat = {"static": [], "refreshing": []}
        for i in range(args.requests):
            raw = (f"POST /predict HTTP/1.1\r\nHost: x\r\nX-User-Id: u-{i % 500}\r\n"
                   f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
            for name in (("static", "refreshing") if i % 2 else ("refreshing", "static")):
                t0 = time.perf_counter()
                status = conns[name].request(raw)
                lat[name].append((time.perf_counter() - t0) * 1000)
                assert status == 200, status
        stop.set()
        churner.join()
        # Switch latency: publish a new version and poll /health until it is served.
        switches = []
        for k in range(10):
            version = f"switch-{k}"
            publish(work, version, 3000)
            t0 = time.perf_counter()
            while True:
                h = socket.create_connection(tuple([refreshing_addr.split(":")[0], int(refreshing_addr.split(":")[1])]))
                h.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := h.recv(65536):
                    data += chunk
                h.close()
                if version.encode() in data:
                    break
                time.sleep(0.005)
            switches.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.15)
        out = {name: {"requests": len(xs), "p50_ms": round(statistics.median(xs), 3),
                      "p99_ms": round(pct(xs, 99), 3), "max_ms": round(max(xs), 3)}
               for name, xs in lat.items()}
        out["documents_published"] = published[0]
        out["added_p50_ms"] = round(out["refreshing"]["p50_ms"] - out["static"]["p50_ms"], 3)
        out["added_p99_ms"] = round(out["refreshing"]["p99_ms"] - out["static"]["p99_ms"], 3)
        out["switch_ms"] = {"refresh_ms": 100, "median": round(statistics.median(switches), 1),
                            "max": round(max(switches), 1)}
        print(json.dumps(out, indent=2))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
