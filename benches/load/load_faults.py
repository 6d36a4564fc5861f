#!/usr/bin/env python3
"""Load, fault and hostile-connection benchmark for `canary-router serve` (not a test: figures).

Starts `emulate` with a models file whose endpoints fail 5% of requests with every SageMaker
error kind (and hang some), `serve` in front of it, and drives N requests at concurrency C over
keep-alive connections, once with a fallback arm and once without, while the config is
hot-reloaded every second. Then it checks, from the router's own records:

- records == requests (exactly one decision record per /predict), and request IDs are unique;
- only documented statuses were answered;
- the router's RSS after N requests is within 10% of its RSS after N/10;

and measures RSS before, during and after a burst of idle and slowloris connections.

    python3 benches/load/load_faults.py --bin target/release/canary-router [--requests 100000]

Traffic goes to 127.0.0.1 only; every process it starts is stopped by its PID at the end.
"""
import argparse
import asyncio
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter

DOCUMENTED = {200, 202, 400, 404, 405, 413, 415, 431, 502, 503, 504}
KINDS = ["ModelError", "ThrottlingException", "ModelNotReadyException", "ServiceUnavailable",
         "InternalDependencyException", "InternalFailure", "ValidationError"]


def models():
    """Control: 8 equal variants, 7 failing 5% each with one kind, 1 hanging 5%: 5% faults of
    every kind overall. Canary: healthy, a little slower (the fallback)."""
    variants = [{"name": f"V{i}", "weight": 1, "model": {"type": "echo"},
                 "faults": {"error_rate": 0.05, "error": kind}} for i, kind in enumerate(KINDS)]
    variants.append({"name": "VHang", "weight": 1, "model": {"type": "echo"},
                     "faults": {"hang_rate": 0.05}})
    return {"seed": 7, "endpoints": {
        "ctl": {"variants": variants},
        "cny": {"variants": [{"name": "AllTraffic", "model": {"type": "echo"},
                              "faults": {"latency_ms": 1}}]},
    }}


def config(version, canary, fallback):
    c = {"experiment": "load", "version": version, "salt": "load-1",
         "arms": [{"name": "control", "endpoint": "ctl", "weight": 10000 - canary},
                  {"name": "canary", "endpoint": "cny", "weight": canary}],
         "cookie": {"enabled": False},
         "timeouts": {"attempt_ms": 150, "total_ms": 400}}
    if fallback:
        c["fallback"] = "canary"
    return c


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start(cmd, env, marker, stdout):
    proc = subprocess.Popen(cmd, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        line = proc.stderr.readline()
        if marker in line:
            url = line[line.index("http://"):].split()[0]
            # Keep draining stderr so the process never blocks on a full pipe.
            asyncio.get_event_loop().run_in_executor(None, lambda: [None for _ in proc.stderr])
            return proc, url.replace("http://", "")
        if proc.poll() is not None:
            sys.exit(f"{cmd[1]} exited: {proc.stderr.read()}")
    sys.exit(f"{cmd[1]} did not start")


async def worker(addr, queue, statuses, body):
    host, port = addr.split(":")
    reader = writer = None
    while True:
        try:
            user = queue.get_nowait()
        except asyncio.QueueEmpty:
            break
        for attempt in range(3):
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, int(port))
                writer.write((f"POST /predict HTTP/1.1\r\nHost: {addr}\r\nX-User-Id: {user}\r\n"
                              f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                status = int(lines[0].split()[1])
                length = next(int(l.split(":", 1)[1]) for l in lines if l.lower().startswith("content-length:"))
                await reader.readexactly(length)
                statuses[status] += 1
                if any(l.lower() == "connection: close" for l in lines):
                    writer.close()
                    writer = None
                break
            except (ConnectionError, asyncio.IncompleteReadError, StopIteration):
                if writer is not None:
                    writer.close()
                writer = None
                statuses["transport_error"] += 1
        queue.task_done()
    if writer is not None:
        writer.close()


async def drive(addr, n, concurrency, users, pid, rss_marks):
    queue = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(f"user-{random.randrange(users)}")
    statuses = Counter()
    body = b'{"features": [5.1, 3.5, 1.4, 0.2]}'
    started = time.time()

    async def sample():
        marked = set()
        while not queue.empty():
            done = n - queue.qsize()
            for mark in rss_marks:
                if mark not in marked and done >= mark:
                    rss_marks[mark] = rss_kb(pid)
                    marked.add(mark)
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    await asyncio.gather(*(worker(addr, queue, statuses, body) for _ in range(concurrency)))
    await sampler
    return statuses, time.time() - started


async def reloader(path, fallback, stop, versions):
    i = 0
    while not stop.is_set():
        i += 1
        version = f"load-{'fb' if fallback else 'nofb'}-{i}"
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(config(version, 1000 + (i % 5) * 1000, fallback), f)
        os.replace(tmp, path)
        versions.append(version)
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except asyncio.TimeoutError:
            pass


async def hostile_burst(addr, idle, slow, pid, settle):
    """Opens `idle` idle and `slow` slowloris connections, then lets the server close them."""
    host, port = addr.split(":")
    before = rss_kb(pid)
    conns = []
    for i in range(idle + slow):
        try:
            r, w = await asyncio.open_connection(host, int(port))
        except OSError:
            break
        if i >= idle:
            w.write(b"POST /predict HTTP/1.1\r\nHost: x\r\nX-User-Id: a")
        conns.append((r, w))
    await asyncio.sleep(0.5)
    during = rss_kb(pid)
    opened = len(conns)
    await asyncio.sleep(settle)
    closed = 0
    for r, w in conns:
        try:
            data = await asyncio.wait_for(r.read(1), 0.01)
            closed += data == b""
        except (asyncio.TimeoutError, ConnectionError):
            pass
        w.close()
    await asyncio.sleep(1.0)
    return {"opened": opened, "closed_by_server": closed, "rss_before_kb": before,
            "rss_during_kb": during, "rss_after_kb": rss_kb(pid)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/canary-router")
    ap.add_argument("--requests", type=int, default=100_000, help="per fallback mode")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--idle", type=int, default=3000)
    ap.add_argument("--slowloris", type=int, default=3000)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 4 * (args.idle + args.slowloris) + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    work = tempfile.mkdtemp(prefix="canary-load-")
    models_path = os.path.join(work, "models.json")
    json.dump(models(), open(models_path, "w"))
    env = dict(os.environ, RUST_LOG="error", AWS_REGION="us-east-1",
               AWS_ACCESS_KEY_ID="AKIDLOAD", AWS_SECRET_ACCESS_KEY="load",
               AWS_EC2_METADATA_DISABLED="true")
    env.pop("CANARY_CONFIG", None)
    env.pop("CANARY_CONFIG_FILE", None)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    procs = []
    ok = True
    try:
        emu, emu_addr = start([args.bin, "emulate", "--listen", "127.0.0.1:0", "--models", models_path],
                              env, "emulator on ", subprocess.DEVNULL)
        procs.append(emu)
        results = []
        for fallback in (True, False):
            cfg_path = os.path.join(work, f"config-{fallback}.json")
            json.dump(config(f"load-{'fb' if fallback else 'nofb'}-0", 1000, fallback), open(cfg_path, "w"))
            records_path = os.path.join(work, f"records-{fallback}.jsonl")
            out = open(records_path, "w")
            srv, addr = start([args.bin, "serve", "--listen", "127.0.0.1:0", "--config", cfg_path,
                               "--idle-timeout-ms", "3000", "--header-timeout-ms", "2000",
                               "--max-connections", str(args.idle + args.slowloris + 2 * args.concurrency)],
                              dict(env, AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=f"http://{emu_addr}"),
                              "serving on ", out)
            procs.append(srv)
            versions = [f"load-{'fb' if fallback else 'nofb'}-0"]
            stop = asyncio.Event()
            reload_task = loop.create_task(reloader(cfg_path, fallback, stop, versions))
            marks = {args.requests // 10: 0, args.requests: 0}
            statuses, secs = loop.run_until_complete(
                drive(addr, args.requests, args.concurrency, args.users, srv.pid, marks))
            stop.set()
            loop.run_until_complete(reload_task)
            marks[args.requests] = rss_kb(srv.pid)
            burst = loop.run_until_complete(hostile_burst(addr, args.idle, args.slowloris, srv.pid, 4.5)) \
                if fallback else None
            srv.send_signal(signal.SIGTERM)
            srv.wait(timeout=60)
            out.close()
            records = [json.loads(l) for l in open(records_path) if l.strip()]
            decisions = [r for r in records if r.get("kind") == "decision"]
            answered = sum(v for k, v in statuses.items() if isinstance(k, int))
            ids = Counter(r["request_id"] for r in decisions)
            bad_status = sorted(k for k in statuses if isinstance(k, int) and k not in DOCUMENTED)
            rec_status = Counter(r["status"] for r in decisions)
            errors = Counter(r["error"] for r in decisions if r["error"])
            fallbacks = sum(1 for r in decisions if r.get("served_arm") and r["served_arm"] != r["arm"])
            unknown_versions = {r["config_version"] for r in decisions} - set(versions)
            rss10, rss100 = marks[args.requests // 10], marks[args.requests]
            checks = {
                "records == requests": len(decisions) == answered == args.requests,
                "unique request IDs": len(ids) == len(decisions),
                "documented statuses only": not bad_status and not (set(rec_status) - DOCUMENTED),
                "no transport errors": statuses.get("transport_error", 0) == 0,
                "every record's version was served": not unknown_versions,
                "RSS after N within 10% of after N/10": rss100 <= rss10 * 1.10,
            }
            ok &= all(checks.values())
            results.append({
                "fallback": fallback, "requests": args.requests, "seconds": round(secs, 1),
                "requests_per_s": round(args.requests / secs), "statuses": dict(sorted((str(k), v) for k, v in statuses.items())),
                "record_errors": dict(errors), "fallbacks": fallbacks, "reloads": len(versions) - 1,
                "rss_kb_after_10pct": rss10, "rss_kb_after_all": rss100, "checks": checks,
                "idle_and_slowloris_burst": burst,
            })
        print(json.dumps(results, indent=2))
        for r in results:
            mode = "fallback on " if r["fallback"] else "fallback off"
            print(f"{mode}: {r['requests']} requests in {r['seconds']} s ({r['requests_per_s']}/s), "
                  f"statuses {r['statuses']}, {r['fallbacks']} fallbacks, {r['reloads']} reloads, "
                  f"RSS {r['rss_kb_after_10pct'] / 1024:.1f} MB at 10% -> {r['rss_kb_after_all'] / 1024:.1f} MB at 100%",
                  file=sys.stderr)
            for name, passed in r["checks"].items():
                print(f"  {'ok  ' if passed else 'FAIL'} {name}", file=sys.stderr)
            b = r["idle_and_slowloris_burst"]
            if b:
                print(f"  burst: {b['opened']} idle+slowloris connections, {b['closed_by_server']} closed by the server; "
                      f"RSS {b['rss_before_kb'] / 1024:.1f} MB before, {b['rss_during_kb'] / 1024:.1f} MB during, "
                      f"{b['rss_after_kb'] / 1024:.1f} MB after", file=sys.stderr)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
