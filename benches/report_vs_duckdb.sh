#!/usr/bin/env bash
# Benchmark (not a test): `canary-router report --format json` against DuckDB running the
# issue's per-arm query, on the same file of synthetic router records, side by side.
#
#   bash benches/report_vs_duckdb.sh [RECORDS]        # default 10,000,000 (about 8 GB)
#
# Env: REPORT_BENCH_DIR (where the data goes; default a temp dir, removed at the end unless
# KEEP=1), RUNS (timed runs of each tool, default 2; the best counts, after one untimed pass
# that warms the page cache for both). Memory is each tool's peak private memory (report maps
# the file, so its RSS would also count the file's page-cache pages).
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
PY="$REPO/.venv/bin/python"
[[ -x "$PY" ]] || PY=python3

echo "==> building canary-router (release) and the record generator" >&2
cargo build --release --locked --bin canary-router >&2
BIN="$REPO/target/release/canary-router"
REPORT_CMD=("$BIN" report --format json)
rustc -O --edition 2024 -o "$DIR/gen_records" benches/report/gen_records.rs

DATA="$DIR/records-$N.jsonl"
if [[ ! -s "$DATA" ]]; then
  echo "==> generating $N records into $DATA" >&2
  "$DIR/gen_records" "$DATA" "$N"
fi
BYTES=$(stat -c %s "$DATA")

QUERY="select arm, count(*), count(distinct unit), approx_quantile(latency_ms, 0.99) from read_json('$DATA', format='newline_delimited') where kind = 'decision' group by arm"

echo "==> warming the page cache, then $RUNS timed runs of each, alternating" >&2
cat "$DATA" > /dev/null
"$PY" - "$DATA" "$QUERY" "$N" "$RUNS" "$DIR" "${REPORT_CMD[@]}" <<'PYEOF'
import json, os, subprocess, sys, time

data, query, n, runs, work = sys.argv[1:6]
report_cmd = sys.argv[6:]
n, runs, size = int(n), int(runs), os.path.getsize(data)
duck = [sys.executable, "-c",
        "import sys, duckdb\n"
        "con = duckdb.connect()\n"
        "con.execute('SET enable_progress_bar = false')\n"
        "for r in con.execute(sys.argv[1]).fetchall(): print(r)", query]
report = report_cmd + [data]

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
    """Wall seconds and peak private memory (MB) of one run, its stdout kept. Private, not
    RSS: RSS also counts the page-cache pages of a memory-mapped input, which are the file's,
    shared, and reclaimable. Sampled every 20 ms (the polling costs both tools the same)."""
    with open(out_path, "wb") as out:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out)
        peak = 0
        while True:
            pid, status, _ = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, rss_anon_kb(p.pid))
            time.sleep(0.02)
        t = time.perf_counter() - t0
    if status != 0:
        sys.exit(f"{cmd[0]} failed with status {status}")
    return t, peak / 1024

best = {"report": (1e9, 0), "duckdb": (1e9, 0)}
for i in range(runs):
    for name, cmd in [("report", report), ("duckdb", duck)]:
        t, rss = timed(cmd, os.path.join(work, name + ".out"))
        print(f"    run {i + 1} {name}: {t:.2f} s", file=sys.stderr)
        best[name] = min(best[name], (t, rss))

print(f"records: {n:,} lines, {size / 1e9:.2f} GB, {os.cpu_count()} cores")
print("report (every arm, units, latency, metrics, tests, SRM, de-duplication):")
doc = json.load(open(os.path.join(work, "report.out")))
print(f"  unique records {doc['input']['unique_records']:,}, duplicates {doc['input']['duplicates']:,}")
for e in doc["experiments"]:
    for p in e["phases"]:
        for a in p["arms"]:
            lat = a["latency_ms"] or {}
            print(f"  {a['name']:<8} requests {a['requests']:>11,}  units {a['units']:>10,}  p99 {lat.get('p99', float('nan')):.2f} ms")
print("duckdb (the issue's query):")
for line in open(os.path.join(work, "duckdb.out")):
    print("  " + line.rstrip())
print()
print(f"{'':<22}{'seconds':>9}{'MB/s':>8}{'M rec/s':>9}{'peak private MB':>17}")
for name, label in [("report", "canary-router report"), ("duckdb", "duckdb query")]:
    t, rss = best[name]
    print(f"{label:<22}{t:>9.2f}{size / 1e6 / t:>8.0f}{n / 1e6 / t:>9.2f}{rss:>17.0f}")
ratio = best["duckdb"][0] / best["report"][0]
print(f"ratio duckdb / report: {ratio:.2f}x (above 1: report is faster)")
PYEOF
