#!/usr/bin/env bash
# The SAM-side checks, offline: template validation and lint, the IAM least-privilege check and
# its self-test, and the freshness of the event fixtures. Prints "N passed, N failed" last and
# exits non-zero when any check failed. Sets up .venv first (fast when it is current).
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO" || exit 3
bash .ci/setup-python.sh || exit 3

export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" SAM_CLI_TELEMETRY=0
PY=.venv/bin/python
passed=0 failed=0
run() {
    local name="$1"; shift
    if "$@"; then
        passed=$((passed + 1)); echo "check-sam: ok   $name"
    else
        failed=$((failed + 1)); echo "check-sam: FAIL $name"
    fi
}

run "sam validate --lint" .venv/bin/sam validate --lint --template template.yaml
run "cfn-lint" .venv/bin/cfn-lint template.yaml
run "IAM grants match the config" "$PY" tests/check_template_iam.py
run "IAM check self-test" "$PY" tests/check_template_iam.py --self-test
run "event fixtures up to date" "$PY" tests/gen_events.py --check
run "event fixtures are valid JSON" "$PY" -c '
import json, pathlib, sys
d = pathlib.Path("events")
exp = json.loads((d / "expected.json").read_text())
files = {p.name for p in d.glob("*.json")} - {"expected.json", "env.json"}
missing, unlisted = sorted(files - set(exp)), sorted(set(exp) - files)
for p in d.glob("*.json"):
    json.loads(p.read_text())
if missing or unlisted:
    sys.exit(f"expected.json: no entry for {missing}; entries without a file: {unlisted}")
'
echo "check-sam: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
