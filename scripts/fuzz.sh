#!/usr/bin/env bash
# Runs one fuzz target coverage-guided with bolero's libFuzzer engine on stable Rust (no
# sanitizer, one job), then minimises its corpus. Outside CI: CI only replays the corpora
# (plain `cargo test`). See CONTRIBUTING.md, "Fuzzing".
#
#   bash scripts/fuzz.sh TARGET [SECONDS]      # default 600 s
#   bash scripts/fuzz.sh TARGET --minimise     # only minimise the committed corpus
#
# TARGET: config_parse, cookie_verify, lambda_event, transform, emulator_models,
# emulator_request (tests/fuzz.rs) or report_parse_agree (src/report/parse/fuzz_tests.rs).
#
# This does what `cargo bolero test NAME --sanitizer NONE` does, with two differences:
# it builds only the one test binary (`--lib` or `--test fuzz`: the other integration
# tests need the `aws` feature, and the targets build without it), and it defines the `fuzz`
# profile through the environment (release, with debug assertions and overflow checks on, so
# unchecked arithmetic panics), as Cargo.toml has none.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

target="${1:?usage: scripts/fuzz.sh TARGET [SECONDS|--minimise]}"
mode="${2:-600}"

case "$target" in
    report_parse_agree) kind=(--lib); test_path="report::parse::fuzz_tests::report_parse_agree" ;;
    config_parse | cookie_verify | lambda_event | transform | emulator_models | emulator_request)
        kind=(--test fuzz); test_path="$target" ;;
    *) echo "unknown fuzz target: $target" >&2; exit 2 ;;
esac

triple="$(rustc -vV | sed -n 's/^host: //p')"
flags="--cfg fuzzing -Cpasses=sancov-module --cfg fuzzing_libfuzzer"
flags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters"
flags+=" -Cllvm-args=-sanitizer-coverage-level=4"
flags+=" -Cllvm-args=-sanitizer-coverage-pc-table"
flags+=" -Cllvm-args=-sanitizer-coverage-trace-compares"
flags+=" -Cllvm-args=-sanitizer-coverage-stack-depth"
export RUSTFLAGS="$flags" RUSTDOCFLAGS="$flags" BOLERO_FUZZER=libfuzzer
export CARGO_PROFILE_FUZZ_INHERITS=release CARGO_PROFILE_FUZZ_DEBUG_ASSERTIONS=true \
    CARGO_PROFILE_FUZZ_OVERFLOW_CHECKS=true CARGO_PROFILE_FUZZ_LTO=false \
    CARGO_PROFILE_FUZZ_DEBUG=line-tables-only CARGO_PROFILE_FUZZ_STRIP=false
target_dir="${CARGO_TARGET_DIR:-$REPO/target}/bolero-libfuzzer"
cargo_test=(cargo test --no-default-features --locked --profile fuzz --target "$triple"
    --target-dir "$target_dir" "${kind[@]}")

"${cargo_test[@]}" --no-run >&2
# bolero prints where the target lives (binary, corpus folder) when asked to select one.
info="$(CARGO_BOLERO_SELECT=one "${cargo_test[@]}" "$test_path" -- --exact --nocapture \
    | grep '"__bolero_target"')"
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$info" "$1"; }
exe="$(field exe)"
work_dir="$(field work_dir)"
corpus="$work_dir/corpus"
# Crashes stay out of the tree: a committed regression is a unit test, not a crash file that
# plain `cargo test` would replay forever.
crashes="$target_dir/crashes/$target"
mkdir -p "$corpus" "$crashes"

run() {
    BOLERO_TEST_NAME="$test_path" BOLERO_LIBTEST_HARNESS=1 BOLERO_LIBFUZZER_ARGS="$*" \
        "$exe" "$test_path" --exact --nocapture --quiet --test-threads 1
}

if [[ "$mode" != "--minimise" ]]; then
    echo "fuzzing $target for $mode s (corpus $corpus, crashes $crashes)" >&2
    TIMEFORMAT="$target: fuzzing CPU time: user %U s, sys %S s (wall %R s)"
    time run "$corpus" "-artifact_prefix=$crashes/" -timeout=10 -rss_limit_mb=4096 \
        -max_len=8192 "-max_total_time=$mode" -print_final_stats=1 || status=$?
    if [[ "${status:-0}" != 0 ]]; then
        echo "the target failed: the input is in $crashes" >&2
        exit "$status"
    fi
fi

# Minimise: libFuzzer's merge records the coverage of every input (edges only: no hit
# counts, no comparison features), then a greedy cover keeps at most FUZZ_MAX_CORPUS inputs
# (200) that reach as many edges as possible, smallest first among equals, so that the
# committed corpus stays small and its replay under `cargo test` takes a moment.
tmp="$(mktemp -d "$work_dir/.merge.XXXXXX")"
control="$tmp.control"
run -merge=1 "-merge_control_file=$control" -use_counters=0 -use_cmp=0 -use_value_profile=0 \
    "$tmp" "$corpus" >&2
rm -rf "$tmp"
mkdir -p "$tmp"
python3 - "$control" "$tmp" "${FUZZ_MAX_CORPUS:-200}" <<'PY'
import os, shutil, sys
control, out, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(control).read().splitlines()
n = int(lines[0])
files = lines[2:2 + n]
features, sizes = {}, {}
for line in lines[2 + n:]:
    parts = line.split()
    if parts[:1] == ["STARTED"]:
        sizes[int(parts[1])] = int(parts[2])
    elif parts[:1] == ["FT"]:
        features[int(parts[1])] = set(map(int, parts[2:]))
covered, chosen = set(), []
while len(chosen) < limit:
    best = max(features, key=lambda i: (len(features[i] - covered), -sizes.get(i, 0)), default=None)
    if best is None or not features[best] - covered:
        break
    covered |= features.pop(best)
    chosen.append(best)
for i in chosen:
    shutil.copy(files[i], os.path.join(out, os.path.basename(files[i])))
print(f"kept {len(chosen)} inputs covering {len(covered)} edges", file=sys.stderr)
PY
rm -rf "$corpus" "$control"
mv "$tmp" "$corpus"
echo "$target: $(find "$corpus" -type f | wc -l) inputs, $(du -sb "$corpus" | cut -f1) bytes" >&2
