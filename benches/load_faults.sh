#!/usr/bin/env bash
# Benchmark (not a test): `serve` under load with injected SageMaker faults of every kind, with
# and without a fallback arm, config reloads during the run, then a burst of idle and slowloris
# connections; checks records == requests, unique request IDs, documented statuses only and
# RSS growth, from the router's own records. See benches/load/load_faults.py.
#
#   bash benches/load_faults.sh [--requests 100000] [--concurrency 64] [--idle 3000] [--slowloris 3000]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
cargo build --release --locked --bin canary-router >&2
exec python3 benches/load/load_faults.py --bin "$REPO/target/release/canary-router" "$@"
