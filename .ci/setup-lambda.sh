#!/usr/bin/env bash
# Installs what the Lambda fidelity harness (tests/lambda/run.sh) needs, idempotently and fast the
# second time:
#   - the Python venv with aws-sam-cli and cargo-lambda (pinned in tests/requirements.txt), through
#     .ci/setup-python.sh; the Runtime Interface Emulator ships inside aws-sam-cli;
#   - Debian's busybox-static (a static /bin/busybox for the base image's shell), with apt-get;
#   - with --image BOOTSTRAP: the local Docker base image canary-router-lambda-base:local, built
#     FROM scratch (tests/lambda/image/Dockerfile) with busybox, the shared libraries that
#     BOOTSTRAP needs per `ldd` and the host's CA bundle (in AL2023's place). It is rebuilt only when its inputs change (a content hash kept in
#     an image label), and then SAM's derived image (…:rapid-x86_64) is removed so that SAM
#     rebuilds it on top of the new base.
#
# Usage: bash .ci/setup-lambda.sh                     tools only
#        bash .ci/setup-lambda.sh --image BOOTSTRAP   tools, then the base image for BOOTSTRAP
# Exit status: 0 ready; 3 something could not be installed (the message says what).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${CANARY_LAMBDA_BASE_IMAGE:-canary-router-lambda-base:local}"
BOOTSTRAP=""
if [[ "${1:-}" == "--image" ]]; then
    BOOTSTRAP="${2:?--image needs the bootstrap path}"
fi

log() { printf 'setup-lambda: %s\n' "$*" >&2; }
die() { log "$*"; exit 3; }

# 1. Python tools: aws-sam-cli (with the RIE), cfn-lint, cargo-lambda.
bash "$REPO/.ci/setup-python.sh" >&2 || die "the Python venv could not be set up"
if [[ ! -x "$REPO/.venv/bin/cargo-lambda" ]]; then
    # tests/requirements.txt pins it; this only happens if the venv predates the pin.
    pin="$(grep -E '^cargo-lambda==' "$REPO/tests/requirements.txt" || true)"
    log "installing ${pin:-cargo-lambda} into .venv"
    "$REPO/.venv/bin/python" -m pip install --quiet "${pin:-cargo-lambda}" >&2 || die "pip could not install cargo-lambda"
fi
RIE="$("$REPO/.venv/bin/python" - <<'PY'
import pathlib, samcli
print(pathlib.Path(samcli.__file__).parent / "local" / "rapid" / "aws-lambda-rie-x86_64")
PY
)"
[[ -x "$RIE" ]] || die "aws-sam-cli ships no Runtime Interface Emulator at $RIE"

# 2. busybox-static from Debian (statically linked: it runs in an image with no libc).
busybox_ok() { [[ -x /bin/busybox ]] && ! ldd /bin/busybox >/dev/null 2>&1; }
if ! busybox_ok; then
    command -v apt-get >/dev/null 2>&1 || die "no apt-get: install a statically linked busybox at /bin/busybox by hand"
    log "installing Debian's busybox-static"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -qq busybox-static >&2 2>/dev/null; then
        apt-get update -qq >&2 || die "apt-get update failed"
        apt-get install -y -qq busybox-static >&2 || die "apt-get could not install busybox-static"
    fi
    busybox_ok || die "/bin/busybox is missing or not static after installing busybox-static"
fi

[[ -z "$BOOTSTRAP" ]] && { log "tools ready (cargo-lambda, sam, RIE, busybox-static)"; exit 0; }

# 3. The base image.
[[ -x "$BOOTSTRAP" ]] || die "no bootstrap at $BOOTSTRAP (build it first: cargo lambda build --release)"
docker info >/dev/null 2>&1 || die "the Docker engine is not reachable (docker info failed)"

# The libraries the bootstrap loads, resolved to real files (ldd prints "name => path (addr)" and
# the loader as "/lib64/ld-linux-x86-64.so.2 (addr)"). The vDSO has no file.
mapfile -t libs < <(ldd "$BOOTSTRAP" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u)
[[ ${#libs[@]} -gt 0 ]] || die "ldd found no libraries for $BOOTSTRAP (a static bootstrap needs none; this script expects a dynamic one)"

ctx="$(mktemp -d "${TMPDIR:-/tmp}/canary-lambda-image.XXXXXX")"
trap 'rm -rf "$ctx"' EXIT
root="$ctx/rootfs"
mkdir -p "$root/bin" "$root/lib/x86_64-linux-gnu" "$root/var/task" "$root/var/runtime" "$root/opt" \
         "$root/tmp" "$root/etc" "$root/usr/bin"
cp /bin/busybox "$root/bin/busybox"
for lib in "${libs[@]}"; do
    cp -L "$lib" "$root/lib/x86_64-linux-gnu/$(basename "$lib")"
done
# The loader path compiled into the bootstrap (PT_INTERP) is /lib64/ld-linux-x86-64.so.2; AL2023
# keeps its libraries in /lib64, so /lib64 points at the same directory.
ln -s lib/x86_64-linux-gnu "$root/lib64"
# CA certificates where AL2023 keeps them: the AWS SDK's HTTPS client loads the native roots even
# when the endpoint is plain http, and fails without any.
ca=/etc/ssl/certs/ca-certificates.crt
[[ -s "$ca" ]] || die "no CA bundle at $ca (Debian's ca-certificates package)"
mkdir -p "$root/etc/pki/tls/certs" "$root/etc/ssl/certs"
cp -L "$ca" "$root/etc/pki/tls/certs/ca-bundle.crt"
ln -s ../../pki/tls/certs/ca-bundle.crt "$root/etc/ssl/certs/ca-bundle.crt"
printf 'root:x:0:0:root:/root:/bin/sh\nsbx_user1051:x:993:990::/home/sbx_user1051:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
mkdir -p "$root/opt/extensions"
install -m 0755 "$REPO/tests/lambda/image/canary-sagemaker-emulator" "$root/opt/extensions/canary-sagemaker-emulator"
cp "$REPO/tests/lambda/image/Dockerfile" "$ctx/Dockerfile"

# Content hash of everything that goes into the image (file names, modes and bytes).
want="$(cd "$ctx" && find . -print0 | LC_ALL=C sort -z | xargs -0 -I{} sh -c 'if [ -L "{}" ]; then echo "L {} $(readlink "{}")"; elif [ -f "{}" ]; then echo "F {} $(stat -c %a "{}") $(sha256sum < "{}" | cut -c1-64)"; else echo "D {}"; fi' | sha256sum | cut -c1-64)"
have="$(docker image inspect -f '{{ index .Config.Labels "canary-router.inputs" }}' "$IMAGE" 2>/dev/null || true)"
if [[ "$have" == "$want" ]]; then
    log "$IMAGE is up to date"
    exit 0
fi

log "building $IMAGE (busybox + ${#libs[@]} libraries: $(printf '%s ' "${libs[@]##*/}"))"
docker build --quiet --label "canary-router.inputs=$want" -t "$IMAGE" "$ctx" >&2 \
    || die "docker build of $IMAGE failed"
# SAM tags its image with the RIE as <repo>:rapid-<arch> and reuses it while it exists: drop it so
# that the next `sam local` builds it again on top of the new base.
docker image rm -f "${IMAGE%%:*}:rapid-x86_64" >/dev/null 2>&1 || true
docker image prune -f --filter "label=canary-router.inputs" >/dev/null 2>&1 || true
log "ready: $IMAGE"
