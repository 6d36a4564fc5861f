#!/usr/bin/env bash
# Benchmark (not a test): the report's hand-written line scanner against maintained SIMD JSON
# crates used as the report's line parser in its place (serde_json still takes the lines they
# refuse), each built with the release profile as shipped (no target-cpu flags), timed side
# by side with DuckDB by report_vs_duckdb.sh on one data file, outputs compared byte for byte.
#
#   bash benches/report_parsers.sh [RECORDS]       # default 10,000,000 (about 8.9 GB)
#
# Each variant is this commit plus benches/report/parsers/NAME.patch (the crate in Cargo.toml,
# and parse_json_fast in src/report/parse/line.rs reading through it), built in a temporary
# copy of the tree; `scanner` is this commit unchanged. A patch that no longer applies after a
# change to the parser has to be refreshed by hand.
# Env: OUT (where the binaries go; default /tmp/report-variants), VARIANTS (patch names;
# default every patch), EXTRA_BINS ("NAME=PATH ..." timed too, e.g. an older build), and
# everything report_vs_duckdb.sh reads (REPORT_BENCH_DIR, KEEP, RUNS, PYTHON).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
N="${1:-10000000}"
OUT="${OUT:-/tmp/report-variants}"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
mkdir -p "$OUT"
if [[ -z "${VARIANTS:-}" ]]; then
  VARIANTS="$(cd benches/report/parsers && ls -- *.patch | sed 's/\.patch$//' | tr '\n' ' ')"
fi

# One build at a time, each binary copied out before the next build replaces it.
echo "==> building scanner (this commit)" >&2
cargo build --release --locked --bin canary-router >&2
cp "$TARGET/release/canary-router" "$OUT/scanner"
BINS="scanner=$OUT/scanner"
for v in $VARIANTS; do
  src="$(mktemp -d)"
  trap 'rm -rf "$src"' EXIT
  git ls-files -z | xargs -0 cp --parents -t "$src"
  # Tracked files as they are in the work tree, so that uncommitted changes are measured too.
  (cd "$src" && git init -q && git apply "$REPO/benches/report/parsers/$v.patch")
  echo "==> building $v" >&2
  # Not --locked: the patch adds a crate, which cargo adds to the copy's Cargo.lock.
  (cd "$src" && CARGO_TARGET_DIR="$TARGET" cargo build --release --bin canary-router >&2)
  cp "$TARGET/release/canary-router" "$OUT/$v"
  rm -rf "$src"
  BINS="$BINS $v=$OUT/$v"
done

REPORT_BINS="$BINS ${EXTRA_BINS:-}" bash "$REPO/benches/report_vs_duckdb.sh" "$N"
