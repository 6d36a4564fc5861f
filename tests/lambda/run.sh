#!/usr/bin/env bash
# The Lambda fidelity harness, one entry point (called by scripts/test.sh after cargo test):
# installs what it needs (.ci/setup-lambda.sh: the venv with aws-sam-cli and cargo-lambda,
# Debian's busybox-static; the local Docker base image once the bootstrap is built), then runs
# tests/lambda/harness.py: `cargo lambda build --release` once, every event through aws-lambda-rie,
# cold starts, sam build/validate/IAM, `sam local invoke` and `sam local start-api`.
#
# Prints `lambda: N passed, M failed` last; exits non-zero when a check failed.
# Without a Docker engine the sam local steps fail, unless CANARY_SKIP_DOCKER=1 (then they are
# skipped, loudly). See tests/lambda/harness.py for the other knobs.
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO" || exit 3
start=$SECONDS
if ! bash .ci/setup-lambda.sh; then
    echo "lambda: setup failed (.ci/setup-lambda.sh, see above)"
    echo "lambda: 0 passed, 1 failed"
    exit 1
fi
.venv/bin/python tests/lambda/harness.py "$@"
rc=$?
echo "tests/lambda/run.sh: $((SECONDS - start)) s in all" >&2
exit $rc
