#!/usr/bin/env bash
# Create (or refresh) the Python virtual environment at $REPO/.venv with the tools in
# tests/requirements.txt (aws-sam-cli, cfn-lint, boto3). Idempotent: when the venv exists, its
# interpreter runs, and the stamp file holds the hash of the requirements (and of the Python
# version), pip is not run at all.
#
# Usage: bash .ci/setup-python.sh            (PYTHON=/path/to/python3 to pick another interpreter)
#        bash .ci/setup-python.sh --force    (reinstall even when the stamp matches)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"
REQ="$REPO/tests/requirements.txt"
STAMP="$VENV/.requirements.sha256"
PYTHON="${PYTHON:-python3}"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

log() { printf 'setup-python: %s\n' "$*" >&2; }

if [[ ! -f "$REQ" ]]; then
    log "missing $REQ"
    exit 2
fi
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    log "no Python interpreter '$PYTHON' on PATH"
    exit 3
fi

# The wanted state: the requirements' content plus the base interpreter's version (a venv made by
# another Python minor version must be rebuilt, not patched).
py_version="$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
want="$( { cat "$REQ"; printf 'python=%s\n' "$py_version"; } | sha256sum | cut -d' ' -f1)"

venv_ok() {
    [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1
}

if [[ $FORCE -eq 0 ]] && venv_ok && [[ -f "$STAMP" ]] && [[ "$(cat "$STAMP")" == "$want" ]]; then
    log "$VENV is up to date"
    exit 0
fi

# Serialize concurrent runs (two test jobs starting at once) on a lock outside the work tree.
LOCK="${TMPDIR:-/tmp}/canary-router-venv-$(printf '%s' "$VENV" | sha256sum | cut -c1-12).lock"
exec 9>"$LOCK"
if command -v flock >/dev/null 2>&1; then
    flock 9
    # Another run may have finished the job while we waited.
    if [[ $FORCE -eq 0 ]] && venv_ok && [[ -f "$STAMP" ]] && [[ "$(cat "$STAMP")" == "$want" ]]; then
        log "$VENV is up to date"
        exit 0
    fi
fi

if venv_ok && [[ -f "$VENV/pyvenv.cfg" ]] && grep -q "^version.*= *${py_version}\$" "$VENV/pyvenv.cfg"; then
    log "updating $VENV (requirements changed)"
else
    log "creating $VENV with $("$PYTHON" -c 'import sys; print(sys.executable)') ($py_version)"
    "$PYTHON" -m venv --clear "$VENV"
fi

rm -f "$STAMP"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
"$VENV/bin/python" -m pip install --quiet --requirement "$REQ"
"$VENV/bin/python" -m pip check >&2 || log "warning: pip check reported conflicts (see above)"

# Smoke-test the entry points before declaring the venv good.
"$VENV/bin/sam" --version >&2
"$VENV/bin/cfn-lint" --version >&2
"$VENV/bin/python" -c 'import boto3, yaml' >&2

printf '%s\n' "$want" >"$STAMP"
log "ready: $VENV"
