#!/usr/bin/env bash
# The one test command: installs what the tests need on a fresh machine (idempotent, fast the
# second time) and runs every test. Usage: bash scripts/test.sh
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

step() { printf '\n==> %s\n' "$*" >&2; }

step "Python tools (.venv: aws-sam-cli, cfn-lint, boto3, jsonschema, gbstats, scipy, duckdb, sqlglot, cargo-lambda)"
bash .ci/setup-python.sh

step "Debian packages: chromium (the report's HTML screenshot test)"
if ! command -v chromium >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core
fi

step "Report statistics goldens match scipy, statsmodels and gbstats"
.venv/bin/python tests/golden/gen_report_goldens.py --check

step "Assignment vectors match their independent generator (Python hashlib)"
python3 tests/vectors/gen_assignment.py --check

step "Module graph: no import cycles, no source file over 600 lines of non-test code"
python3 tests/check_module_graph.py

step "The pure modules build without the AWS SDK (what the fuzz targets link)"
cargo check --lib --no-default-features --locked

step "Rust unit, integration and benchmark-smoke tests"
cargo test --all-targets --locked

step "Athena SQL of docs/report.md: parsed and translated by sqlglot, run by DuckDB on a demo's CloudWatch export, matches report"
.venv/bin/python tests/check_athena_queries.py --bin target/debug/canary-router

step "template.yaml's initial AppConfig documents pass the router's own validation (the profile's validator)"
.venv/bin/python tests/check_template_iam.py --router target/debug/canary-router

step "Lambda fidelity: one cargo-lambda build; every event through aws-lambda-rie, sam local invoke and start-api; cold starts"
bash tests/lambda/run.sh

step "SAM template, IAM least privilege, event fixtures"
bash .ci/check-sam.sh

step "Config JSON Schema against the good and bad config fixtures"
.venv/bin/python tests/check_config_schema.py

echo "scripts/test.sh: all test suites passed" >&2
