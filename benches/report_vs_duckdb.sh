#!/usr/bin/env bash
# Benchmark (not a test): `canary-router report --format json` against DuckDB running the
# issue's per-arm query, on the same file of synthetic router records, side by side.
#
#   bash benches/report_vs_duckdb.sh [RECORDS]        # default 10,000,000 (about 8.9 GB)
#
# Env: REPORT_BENCH_DIR (where the data goes; default a temp dir, removed at the end unless
# KEEP=1), RUNS (timed runs of each tool, default 2; the best counts, after one untimed pass
# that warms the page cache for both), REPORT_BINS ("NAME=PATH NAME=PATH ...": time these
# report binaries instead of building one, each in every round, and check that their JSON
# outputs are byte-identical; benches/report_parsers.sh uses it), PYTHON (an interpreter with
# duckdb; default the repo's .venv, else python3). Memory is each tool's peak private memory
# (report maps the file, so its RSS would also count the file's page-cache pages); CPU is user
# plus system time.
# Needs: a Rust toolchain, the repo's .venv with duckdb (tests/requirements.txt).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
N="${1:-10000000}"
RUNS="${RUNS:-2}"
DIR="${REPORT_BENCH_DIR:-$(mktemp -d)}"
mkdir -p "$DIR"
if [[ -z "${REPORT_BENCH_DIR:-}" && "${KEEP:-0}" != 1 ]]; then
  trap 'rm -rf "$DIR"' EXIT
fi
PY="${PYTHON:-$REPO/.venv/bin/python}"
[[ -x "$PY" ]] || PY=python3

if [[ -z "${REPORT_BINS:-}" ]]; then
  echo "==> building canary-router (release)" >&2
  cargo build --release --locked --bin canary-router >&2
  REPORT_BINS="report=${CARGO_TARGET_DIR:-$REPO/target}/release/canary-router"
fi
echo "==> building the record generator" >&2
rustc -O --edition 2024 -o "$DIR/gen_records" benches/report/gen_records.rs

DATA="$DIR/records-$N.jsonl"
if [[ ! -s "$DATA" ]]; then
  echo "==> generating $N records into $DATA" >&2
  "$DIR/gen_records" "$DATA" "$N"
fi
BYTES=$(stat -c %s "$DATA")

QUERY="select arm, count(*), count(distinct unit), approx_quantile(latency_ms, 0.99) from read_json('$DATA', format='newline_delimited') where kind = 'decision' group by arm"

echo "==> warming the page cache, then $RUNS timed rounds of every tool, alternating" >&2
cat "$DATA" > /dev/null
"$PY" - "$DATA" "$QUERY" "$N" "$RUNS" "$DIR" $REPORT_BINS <<'PYEOF'
import json, os, platform, subprocess, sys, time

data, query, n, runs, work = sys.argv[1:6]
bins = [b.split("=", 1) for b in sys.argv[6:]]
n, runs, size = int(n), int(runs), os.path.getsize(data)
tools = [(name, [path, "report", "--format", "json", data]) for name, path in bins]
tools.append(("duckdb", [sys.executable, "-c",
        "import sys, duckdb\n"
        "con = duckdb.connect()\n"
        "con.execute('SET enable_progress_bar = false')\n"
        "for r in con.execute(sys.argv[1]).fetchall(): print(r)", query]))

def rss_anon_kb(pid):
    """Private (anonymous) resident memory of a running process, in kB; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

def timed(cmd, out_path):
    """Wall seconds, CPU seconds (user + system) and peak private memory (MB) of one run, its
    stdout kept. Private, not RSS: RSS also counts the page-cache pages of a memory-mapped
    input, which are the file's, shared, and reclaimable. Sampled every 20 ms (the polling
    costs every tool the same)."""
    with open(out_path, "wb") as out:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL)
        peak = 0
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, rss_anon_kb(p.pid))
            time.sleep(0.02)
        t = time.perf_counter() - t0
    if status != 0:
        sys.exit(f"{cmd[0]} failed with status {status}")
    return t, usage.ru_utime + usage.ru_stime, peak / 1024

best = {name: (1e9, 0.0, 0.0) for name, _ in tools}
times = {name: [] for name, _ in tools}
for i in range(runs):
    for name, cmd in tools:
        t, cpu, rss = timed(cmd, os.path.join(work, name + ".out"))
        print(f"    round {i + 1} {name}: {t:.2f} s wall, {cpu:.2f} s CPU", file=sys.stderr)
        times[name].append((t, cpu))
        best[name] = min(best[name], (t, cpu, rss))

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
           platform.machine())
mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
print(f"records: {n:,} lines, {size / 1e9:.2f} GB ({size:,} bytes); {cpu}, {os.cpu_count()} cores, "
      f"{mem_gb:.0f} GiB; {time.strftime('%Y-%m-%d')}")
first = bins[0][0]
print(f"report (every arm, units, latency, metrics, tests, SRM, de-duplication), {first}:")
doc = json.load(open(os.path.join(work, first + ".out")))
print(f"  unique records {doc['input']['unique_records']:,}, duplicates {doc['input']['duplicates']:,}")
for e in doc["experiments"]:
    for p in e["phases"]:
        for a in p["arms"]:
            lat = a["latency_ms"] or {}
            print(f"  {a['name']:<8} requests {a['requests']:>11,}  units {a['units']:>10,}  p99 {lat.get('p99', float('nan')):.2f} ms")
print("duckdb (the issue's query):")
for line in open(os.path.join(work, "duckdb.out")):
    print("  " + line.rstrip())
reference = open(os.path.join(work, first + ".out"), "rb").read()
for name, _ in bins[1:]:
    same = open(os.path.join(work, name + ".out"), "rb").read() == reference
    print(f"report --format json of {name}: {'byte-identical to' if same else 'DIFFERENT from'} {first}")
print()
# The run with the best wall time gives every column but "least CPU s", the lowest CPU time
# (user + system) of any round: the steadier figure on a shared machine.
print(f"{'best of ' + str(runs):<14}{'wall s':>8}{'CPU s':>8}{'least CPU s':>12}{'GB/s':>7}{'M rec/s':>9}"
      f"{'peak private MB':>17}  every round (wall/CPU s)")
for name, _ in tools:
    t, cpu, rss = best[name]
    least = min(c for _, c in times[name])
    rounds = " ".join(f"{w:.2f}/{c:.2f}" for w, c in times[name])
    print(f"{name:<14}{t:>8.2f}{cpu:>8.2f}{least:>12.2f}{size / 1e9 / t:>7.2f}{n / 1e6 / t:>9.2f}"
          f"{rss:>17.0f}  {rounds}")
for name, _ in bins:
    print(f"ratio duckdb / {name}: {best['duckdb'][0] / best[name][0]:.2f}x (above 1: report is faster)")
PYEOF
