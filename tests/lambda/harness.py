#!/usr/bin/env python3
"""Lambda fidelity harness: the one cargo-lambda-built bootstrap through the tools AWS ships.

Run it through tests/lambda/run.sh (which installs what it needs first). In order:

  1. build   `cargo lambda build --release --locked` (CARGO_LAMBDA_COMPILER=cargo), once; every
             later step uses that artifact: target/lambda/canary-router/bootstrap.
  2. rie     the bootstrap under aws-lambda-rie (the Runtime Interface Emulator inside AWS's base
             images, shipped in the aws-sam-cli package), with the same binary's `emulate`
             subcommand as its SageMaker endpoint: every events/*.json, checked against
             events/expected.json (status, headers, body) and the records the function wrote to
             stdout; cookie round trips through API Gateway v2 (`cookies`) and v1
             (`multiValueHeaders`) responses; stdout carries records only.
     + AppConfig: the bootstrap under aws-lambda-rie with CANARY_APPCONFIG, the AppConfig
             extension's HTTP API played by `bootstrap emulate --appconfig DIR`: the first
             document serves, a new one takes effect while running, a broken one is refused
             (and once under `sam local invoke`, the stand-in inside the sandbox).
     + watch: one real streamed round trip through `cargo lambda watch --only-lambda-apis`
             (its Function URL streams; the RIE and sam local do not), the bootstrap with
             CANARY_RESPONSE_STREAMING=1: the first token arrives while the model holds the rest,
             then the whole stream and one decision record with the stream fields.
  3. netns   two environments that real tools produce, in a private network namespace (loopback
             only, so nothing can leave the machine): the empty AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME
             that `sam local` passes for the template's AWS::NoValue, and the blank credentials
             that a bare aws-lambda-rie passes.
  4. cold    cold starts: a fresh runtime per sample, Init Duration and Duration from the RIE's
             REPORT lines (and its INIT/INVOKE RTDONE lines), first invoke vs warm invokes, over
             plain http and over TLS (the path to real SageMaker, where AWS-LC's entropy matters).
  5. sam     `sam build` (must reuse the artifact, not rebuild it), `sam validate --lint` and the
             IAM check on the built template.
  6. docker  `sam local invoke` with every event and `sam local start-api` with a cookie-keeping
             HTTP client, on a locally built base image (`--invoke-image ... --skip-pull-image`).
             Needs the Docker engine: without it this step fails, unless CANARY_SKIP_DOCKER=1,
             which skips it and says so loudly.

Prints one line per check and, last, `lambda: N passed, M failed` (`, K skipped` when some were
skipped); exits 1 when any check failed.

Environment: CANARY_SKIP_DOCKER=1 (skip step 6), CANARY_COLD_STARTS (samples per transport,
default 10), CANARY_COLD_START_TARGET_MS (default 10), CANARY_LAMBDA_BOOTSTRAP (use this bootstrap,
skip step 1; for iterating on the harness only).

No AWS account is used and no traffic leaves 127.0.0.1: the AWS CLI-side tools get no
credentials, IMDS is disabled, STS is pointed at a closed local port, and the function gets the
fake credentials Lambda would give it.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import http.client
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "events"
VENV_BIN = REPO / ".venv" / "bin"
PY = VENV_BIN / "python"
BASE_IMAGE = os.environ.get("CANARY_LAMBDA_BASE_IMAGE", "canary-router-lambda-base:local")
FUNCTION = "CanaryRouterFunction"
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
PLACEHOLDER = "REPLACE_WITH_SIGNED_COOKIE"
AL2023_GLIBC = (2, 34)

ENV_JSON = json.loads((EVENTS / "env.json").read_text())[FUNCTION]
CONFIG = json.loads(ENV_JSON["CANARY_CONFIG"])
EXPECTED = json.loads((EVENTS / "expected.json").read_text())
COOKIE_NAME = CONFIG.get("cookie", {}).get("name", "canary_uid")


# --------------------------------------------------------------------------------------------
# results


class Results:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0
        self.skipped: list[str] = []
        self.failures: list[str] = []
        self.notes: list[str] = []
        self.section = ""

    def start(self, section: str) -> None:
        self.section = section
        print(f"\n== {section}", flush=True)

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        label = f"{self.section}: {name}" if self.section else name
        if ok:
            self.passed += 1
            print(f"  ok    {name}", flush=True)
        else:
            self.failed += 1
            self.failures.append(f"{label}: {detail}" if detail else label)
            print(f"  FAIL  {name}" + (f"\n        {detail}" if detail else ""), flush=True)
        return ok

    def skip(self, name: str, why: str) -> None:
        self.skipped.append(f"{self.section}: {name}: {why}")
        print(f"  SKIP  {name}: {why}", flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  ..    {text}", flush=True)


class Checks:
    """Collects the problems of one item, so that one item is one check."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def expect(self, cond: bool, what: str) -> bool:
        if not cond:
            self.problems.append(what)
        return cond

    def detail(self) -> str:
        return "; ".join(self.problems)


# --------------------------------------------------------------------------------------------
# processes and ports


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.01)
    return False


class Proc:
    """A child process whose stdout and stderr lines are collected with their arrival time."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path | None = None,
                 name: str = "") -> None:
        self.name = name or Path(argv[0]).name
        self.out: list[tuple[float, str]] = []
        self.err: list[tuple[float, str]] = []
        self.cond = threading.Condition()
        self.p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  start_new_session=True)
        self.threads = [threading.Thread(target=self._pump, args=(self.p.stdout, self.out), daemon=True),
                        threading.Thread(target=self._pump, args=(self.p.stderr, self.err), daemon=True)]
        for t in self.threads:
            t.start()

    def _pump(self, stream, sink: list) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self.cond:
                sink.append((time.monotonic(), line))
                self.cond.notify_all()

    def wait_for(self, pred, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.1))
            return True

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.p.wait(5)
        for t in self.threads:
            t.join(2)

    def text(self) -> str:
        return "\n".join(l for _, l in self.out) + "\n" + "\n".join(l for _, l in self.err)


def post(url: str, data: bytes, timeout: float = 30) -> tuple[float, bytes]:
    req = urllib.request.Request(url, data=data, method="POST")
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=timeout) as r:
        body = r.read()
    return (time.perf_counter() - t0) * 1000, body


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for the tools: no AWS credentials or profile of the user's (nothing here
    may reach AWS), IMDS off, STS at a closed local port (sam local asks it for the account ID),
    one attempt per AWS call, no telemetry."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "SAM_", "CARGO_LAMBDA_"))
           and k not in ("RUST_LOG",)}
    env.update({
        "PATH": f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9",
        "AWS_MAX_ATTEMPTS": "1",
        "SAM_CLI_TELEMETRY": "0",
        "SAM_CLI_BETA_RUST_CARGO_LAMBDA": "1",
        "CARGO_LAMBDA_COMPILER": "cargo",
    })
    # Keep the user's cargo-lambda/AWS-LC build knobs that change the artifact visible to the
    # build (they are part of what is tested), and nothing else.
    for k in ("AWS_LC_SYS_NO_JITTER_ENTROPY",):
        if k in os.environ:
            env[k] = os.environ[k]
    if extra:
        env.update(extra)
    return env


def function_env(endpoint_url: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """What Lambda gives the function: the template's variables (from events/env.json), a region
    and (fake) role credentials. The RIE passes its own environment on to the runtime."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "CANARY_")) and k not in ("RUST_LOG",)}
    env.update({
        "CANARY_CONFIG": ENV_JSON["CANARY_CONFIG"],
        "CANARY_COOKIE_KEY": ENV_JSON["CANARY_COOKIE_KEY"],
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIDLAMBDAHARNESS",
        "AWS_SECRET_ACCESS_KEY": "lambda-harness-secret",
        "AWS_SESSION_TOKEN": "lambda-harness-token",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "10",
    })
    if endpoint_url is not None:
        env["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = endpoint_url
    if extra:
        env.update(extra)
    return env


def rie_path() -> Path:
    out = subprocess.run([str(PY), "-c", "import samcli, pathlib; print(pathlib.Path(samcli.__file__).parent)"],
                         capture_output=True, text=True, check=True).stdout.strip()
    return Path(out) / "local" / "rapid" / "aws-lambda-rie-x86_64"


# --------------------------------------------------------------------------------------------
# the router's formulas, independently (contract: assignment)


def unit_of(unit_id: str) -> str:
    return hashlib.sha256(f"{CONFIG['salt']}:{unit_id}".encode()).hexdigest()


def bucket_of_unit(unit_hex: str) -> int:
    return int(unit_hex[:16], 16) % 10000


def arm_of_bucket(bucket: int) -> str:
    lo = 0
    for arm in CONFIG["arms"]:
        if lo <= bucket < lo + arm["weight"]:
            return arm["name"]
        lo += arm["weight"]
    raise ValueError(bucket)


def endpoint_of(arm: str) -> str | None:
    return next((a["endpoint"] for a in CONFIG["arms"] if a["name"] == arm), None)


# --------------------------------------------------------------------------------------------
# events and gateway responses


def event_kind(name: str) -> str:
    return name.split("-", 1)[0]  # v1 | v2 | alb


def load_event(name: str, cookie_value: str | None = None) -> dict:
    text = (EVENTS / name).read_text()
    if PLACEHOLDER in text:
        if cookie_value is None:
            raise ValueError(f"{name} needs a signed cookie")
        text = text.replace(PLACEHOLDER, cookie_value)
    return json.loads(text)


def event_header(event: dict, name: str) -> str | None:
    for key in ("headers", "multiValueHeaders"):
        for k, v in (event.get(key) or {}).items():
            if k.lower() == name.lower():
                return v[0] if isinstance(v, list) else v
    return None


def event_path(event: dict) -> str:
    return event.get("rawPath") or event.get("path") or ""


def event_request_id(event: dict) -> str | None:
    return (event.get("requestContext") or {}).get("requestId")


def resp_headers(resp: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in (resp.get("headers") or {}).items():
        out.setdefault(k.lower(), []).append(v)
    for k, vs in (resp.get("multiValueHeaders") or {}).items():
        for v in vs or []:
            if v not in out.get(k.lower(), []):
                out.setdefault(k.lower(), []).append(v)
    return out


def resp_header(resp: dict, name: str) -> str | None:
    vs = resp_headers(resp).get(name.lower())
    return vs[0] if vs else None


def set_cookies(resp: dict, kind: str) -> list[str]:
    """Set-Cookie values where the gateway format carries them: v2 in `cookies`, v1 and ALB in
    `multiValueHeaders` (or `headers`)."""
    if kind == "v2":
        return list(resp.get("cookies") or [])
    return resp_headers(resp).get("set-cookie", [])


def canary_cookie(cookies: list[str]) -> str | None:
    for c in cookies:
        if c.split("=", 1)[0].strip() == COOKIE_NAME:
            return c
    return None


def cookie_value(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0].split("=", 1)[1]


def resp_body(resp: dict) -> bytes:
    body = resp.get("body") or ""
    if resp.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode()


def with_cookie(event: dict, kind: str, value: str, drop_user: bool = True) -> dict:
    """The event as a browser would send it back with the cookie (and no user ID header)."""
    ev = json.loads(json.dumps(event))
    for key in ("headers", "multiValueHeaders"):
        if drop_user and ev.get(key):
            ev[key] = {k: v for k, v in ev[key].items() if k.lower() != "x-user-id"}
    pair = f"{COOKIE_NAME}={value}"
    if kind == "v2":
        ev["cookies"] = [pair]
    else:
        if ev.get("headers") is not None:
            ev["headers"]["Cookie"] = pair
        if ev.get("multiValueHeaders") is not None:
            ev["multiValueHeaders"]["Cookie"] = [pair]
    return ev


def parse_records(lines: list[str]) -> tuple[list[dict], list[str]]:
    """Records (JSON objects with a `kind`) and the other lines."""
    records, other = [], []
    for line in lines:
        s = line.strip()
        if s.startswith("{"):
            try:
                obj = json.loads(s)
            except ValueError:
                other.append(line)
                continue
            if isinstance(obj, dict) and obj.get("kind") in ("decision", "outcome"):
                records.append(obj)
                continue
        other.append(line)
    return records, other


RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def check_record(c: Checks, rec: dict, kind: str, status: int, exp: dict) -> None:
    c.expect(rec.get("kind") == kind, f"record kind {rec.get('kind')!r}, want {kind!r}")
    c.expect(isinstance(rec.get("ts"), str) and bool(RFC3339.match(rec["ts"])), f"ts {rec.get('ts')!r} not RFC 3339")
    c.expect(rec.get("experiment") == CONFIG["experiment"], f"experiment {rec.get('experiment')!r}")
    c.expect(rec.get("config_version") == CONFIG["version"], f"config_version {rec.get('config_version')!r}")
    if exp["id_source"] is not None:
        c.expect(rec.get("id_source") == exp["id_source"], f"id_source {rec.get('id_source')!r}, want {exp['id_source']!r}")
    c.expect(rec.get("status") == status, f"record status {rec.get('status')} != response {status}")
    c.expect(rec.get("error") == exp["error"], f"record error {rec.get('error')!r}, want {exp['error']!r}")
    c.expect(rec.get("weights") == [[a["name"], a["weight"]] for a in CONFIG["arms"]], f"weights {rec.get('weights')!r}")
    unit = rec.get("unit")
    if rec.get("id_source") == "none":
        c.expect(unit is None, f"unit {unit!r} without identity")
    elif c.expect(isinstance(unit, str) and bool(re.fullmatch(r"[0-9a-f]{64}", unit)), f"unit {unit!r} not hex SHA-256"):
        b = bucket_of_unit(unit)
        c.expect(rec.get("bucket") == b, f"bucket {rec.get('bucket')} != {b} from the unit hash")
        if rec.get("assigned_by") == "bucket":
            c.expect(rec.get("arm") == arm_of_bucket(b), f"arm {rec.get('arm')!r} != {arm_of_bucket(b)!r} for bucket {b}")
        else:
            c.expect(False, f"assigned_by {rec.get('assigned_by')!r} (the test config has no overrides)")
    for f in ("latency_ms",):
        c.expect(isinstance(rec.get(f), (int, float)), f"{f} missing")
    if kind == "decision":
        if rec.get("served_arm"):
            c.expect(rec.get("endpoint") == endpoint_of(rec["served_arm"]), f"endpoint {rec.get('endpoint')!r} for served arm {rec['served_arm']!r}")
        aws = rec.get("_aws") or {}
        cwm = (aws.get("CloudWatchMetrics") or [{}])[0]
        dims = cwm.get("Dimensions") or []
        c.expect(isinstance(aws.get("Timestamp"), int), "_aws.Timestamp missing")
        if rec.get("arm"):
            c.expect(["experiment", "arm"] in dims, f"EMF dimensions {dims!r} lack [experiment, arm]")
        c.expect(bool(dims) and all(isinstance(rec.get(d), str) for ds in dims for d in ds),
                 f"EMF dimensions {dims!r} name fields the record lacks")
        c.expect(not any(d in ("request_id", "unit", "prediction_id") for ds in dims for d in ds), f"EMF dimensions {dims!r} carry IDs")
        for m in cwm.get("Metrics") or []:
            c.expect(isinstance(rec.get(m.get("Name")), (int, float)), f"EMF metric {m.get('Name')!r} not a top-level number")
    else:
        c.expect("event" in rec and "value" in rec and "prediction_id" in rec, "outcome record lacks event/value/prediction_id")


def check_exchange(name: str, event: dict, resp: dict, records: list[dict], lambda_rid: str | None,
                   exp: dict | None = None, cookie_expected: bool | None = None) -> tuple[Checks, dict]:
    """Checks one gateway response and the records of its invocation against expected.json.
    Returns the checks and facts for round trips (record, minted cookie)."""
    exp = exp or EXPECTED[name]
    kind = event_kind(name)
    c = Checks()
    facts: dict[str, Any] = {"record": None, "cookie": None}
    status = resp.get("statusCode")
    c.expect(status == exp["status"], f"status {status}, want {exp['status']}")
    ctype = resp_header(resp, "content-type") or ""
    body = resp_body(resp)
    doc = None
    if body:
        try:
            doc = json.loads(body)
        except ValueError:
            c.expect(False, f"body is not JSON: {body[:120]!r}")
    path = event_path(event).rstrip("/")
    route = path.rsplit("/", 1)[-1]
    c.expect("json" in ctype, f"content-type {ctype!r}")
    if exp["error"]:
        c.expect(isinstance(doc, dict) and doc.get("error") == exp["error"], f"error body {doc!r}, want error {exp['error']!r}")
        c.expect(isinstance(doc, dict) and bool(doc.get("message")) and bool(doc.get("request_id")), "error body lacks message or request_id")
    elif route == "health":
        ok = isinstance(doc, dict) and doc.get("experiment") == CONFIG["experiment"] and doc.get("config_version") == CONFIG["version"]
        arms = [(a.get("name"), a.get("endpoint"), a.get("weight")) for a in (doc or {}).get("arms", [])] if isinstance(doc, dict) else []
        c.expect(ok and arms == [(a["name"], a["endpoint"], a["weight"]) for a in CONFIG["arms"]], f"health body {doc!r}")
    elif route == "predict":
        c.expect(isinstance(doc, dict) and "label" in doc and "probabilities" in doc, f"predict body is not the emulator's answer: {doc!r}")
    elif route == "feedback":
        c.expect(isinstance(doc, dict) and bool(doc.get("request_id")) and bool(doc.get("arm")), f"feedback body {doc!r}")

    # Records: one per request, except on /health (expected.json's id_source is null where it is
    # not checked: /health, and the 404/405 answers whose record has id_source "none").
    want_records = 0 if route == "health" else 1
    c.expect(len(records) == want_records, f"{len(records)} records, want {want_records}")
    rec = records[0] if records else None
    if rec and want_records:
        check_record(c, rec, "outcome" if route == "feedback" else "decision", status, exp)
        facts["record"] = rec
        want_rid = event_request_id(event) or lambda_rid
        c.expect(rec.get("request_id") == want_rid, f"record request_id {rec.get('request_id')!r}, want {want_rid!r} (API Gateway's, else Lambda's)")
        if isinstance(doc, dict) and "request_id" in doc:
            c.expect(doc["request_id"] == rec.get("request_id"), "body request_id != record request_id")
        if exp["id_source"] == "header":
            uid = (event_header(event, "x-user-id") or "").strip()
            c.expect(rec.get("unit") == unit_of(uid), f"unit is not SHA-256(salt:{uid})")
        if rec.get("arm"):
            c.expect(resp_header(resp, "x-canary-arm") == rec["arm"], f"X-Canary-Arm {resp_header(resp, 'x-canary-arm')!r} != record arm {rec['arm']!r}")
            c.expect(resp_header(resp, "x-canary-config-version") == CONFIG["version"], "X-Canary-Config-Version")
            c.expect(resp_header(resp, "x-canary-request-id") == rec.get("request_id"), "X-Canary-Request-Id != record request_id")
            served = resp_header(resp, "x-canary-served-arm")
            c.expect(served is None or served != rec["arm"], "X-Canary-Served-Arm without a fallback")
            if isinstance(doc, dict) and route == "feedback" and not exp["error"]:
                c.expect(doc.get("arm") == rec["arm"], "feedback body arm != record arm")
        else:
            c.expect(resp_header(resp, "x-canary-arm") is None, "X-Canary-Arm without an arm")

    # Cookies, in the place the gateway format carries them.
    sc = set_cookies(resp, kind)
    mine = canary_cookie(sc)
    want_cookie = exp["set_cookie"] if cookie_expected is None else cookie_expected
    c.expect((mine is not None) == want_cookie, f"Set-Cookie {COOKIE_NAME}: {'present' if mine else 'absent'}, want {'present' if want_cookie else 'absent'} (cookies={sc!r})")
    if kind == "v2":
        c.expect(canary_cookie(resp_headers(resp).get("set-cookie", [])) is None, "v2 response carries Set-Cookie in headers instead of `cookies`")
    elif kind == "v1" and mine:
        c.expect(any(k.lower() == "set-cookie" for k in (resp.get("multiValueHeaders") or {})), "v1 Set-Cookie not in multiValueHeaders")
    if mine:
        attrs = [a.strip().lower() for a in mine.split(";")[1:]]
        c.expect("httponly" in attrs and "path=/" in attrs, f"cookie attributes {attrs}")
        c.expect(any(a.startswith("max-age=") for a in attrs), "cookie without Max-Age")
        c.expect("secure" not in attrs, "Secure cookie although env.json's config has secure=false")
        c.expect(any(a == "samesite=lax" for a in attrs), f"SameSite not Lax: {attrs}")
        facts["cookie"] = cookie_value(mine)
    return c, facts


# --------------------------------------------------------------------------------------------
# the RIE


class Rie:
    """aws-lambda-rie running one bootstrap; invocations return the response, the function's
    stdout lines between START and END, and the REPORT/RTDONE figures."""

    def __init__(self, rie: Path, bootstrap: Path, env: dict[str, str], log_level: str = "info") -> None:
        self.port = free_port()
        self.api_port = free_port()
        self.proc = Proc([str(rie), "--log-level", log_level,
                          "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
                          "--runtime-api-address", f"127.0.0.1:{self.api_port}",
                          str(bootstrap)], env=env, name="aws-lambda-rie")
        if not wait_port(self.port, 10):
            self.proc.stop()
            raise RuntimeError(f"aws-lambda-rie did not listen on 127.0.0.1:{self.port}:\n{self.proc.text()}")

    def reports(self) -> int:
        return sum(1 for _, l in self.proc.out if l.startswith("REPORT RequestId:"))

    def invoke(self, event: dict | bytes) -> dict:
        data = event if isinstance(event, bytes) else json.dumps(event).encode()
        n_out, n_err, n_rep = len(self.proc.out), len(self.proc.err), self.reports()
        ms, body = post(f"http://127.0.0.1:{self.port}{INVOKE_PATH}", data)
        self.proc.wait_for(lambda: self.reports() > n_rep, 10)
        # The RIE's own log (stderr) runs on another pipe: wait for its line about this invoke.
        self.proc.wait_for(lambda: any("INVOKE RTDONE" in l for _, l in self.proc.err[n_err:]), 1)
        out = [l for _, l in self.proc.out[n_out:]]
        err = [l for _, l in self.proc.err[n_err:]]
        start = next((l for l in out if l.startswith("START RequestId:")), "")
        rid = start.split()[2] if start else None
        inside: list[str] = []
        in_inv = False
        for l in out:
            if l.startswith("START RequestId:"):
                in_inv = True
                continue
            if l.startswith("END RequestId:"):
                in_inv = False
                continue
            if in_inv:
                inside.append(l)
        report = next((l for l in out if l.startswith("REPORT RequestId:")), "")

        def num(pattern: str, text: str) -> float | None:
            m = re.search(pattern, text)
            return float(m.group(1)) if m else None

        errtext = "\n".join(err)
        try:
            resp = json.loads(body)
        except ValueError:
            resp = {"_raw": body.decode("utf-8", "replace")}
        return {
            "resp": resp, "wall_ms": ms, "rid": rid, "lines": inside, "stderr": err,
            "init_duration": num(r"Init Duration: ([\d.]+) ms", report),
            "duration": num(r"\tDuration: ([\d.]+) ms", report),
            "init_report_ms": num(r"INIT REPORT\(durationMs: ([\d.]+)\)", errtext),
            "rtdone_ms": num(r"INVOKE RTDONE\(status: \w+, produced bytes: \d+, duration: ([\d.]+)ms\)", errtext),
        }

    def stop(self) -> None:
        self.proc.stop()


def stderr_split_wrapper(tmp: Path, bootstrap: Path, errlog: Path) -> Path:
    """A bootstrap that execs the real one with its stderr in a file of its own: the RIE merges
    the runtime's stdout and stderr, and the contract is that stdout carries records only."""
    w = tmp / "bootstrap-stderr-split"
    w.write_text(f"#!/bin/sh\nexec '{bootstrap}' \"$@\" 2>>'{errlog}'\n")
    w.chmod(0o755)
    return w


class Emulator:
    def __init__(self, bootstrap: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_RUNTIME_API"}
        self.proc = Proc([str(bootstrap), "emulate", "--listen", f"127.0.0.1:{self.port}"], env=env, name="emulate")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ping", timeout=1):
                    return
            except (OSError, urllib.error.URLError):
                if self.proc.p.poll() is not None:
                    break
                time.sleep(0.05)
        self.proc.stop()
        raise RuntimeError(f"the emulator did not start:\n{self.proc.text()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.stop()


# --------------------------------------------------------------------------------------------
# TLS in front of the emulator (for cold starts over the HTTPS path real SageMaker uses)


class TlsProxy:
    """Terminates TLS on 127.0.0.1 with a throwaway CA and forwards bytes to the emulator."""

    def __init__(self, tmp: Path, target_port: int) -> None:
        self.tmp = tmp
        self.target_port = target_port
        self.port = free_port()
        self.ca, cert, key = self._make_certs()
        # The function's CA bundle: the system roots (their loading is part of a real cold
        # start) plus the throwaway CA.
        self.bundle = tmp / "ca-bundle.pem"
        system = Path("/etc/ssl/certs/ca-certificates.crt")
        self.bundle.write_text((system.read_text() if system.exists() else "") + self.ca.read_text())
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        self.ctx = ctx
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("TLS proxy did not start")

    def _make_certs(self) -> tuple[Path, Path, Path]:
        t = self.tmp
        ca, ca_key, leaf, leaf_key, csr, ext = (t / "ca.pem", t / "ca.key", t / "leaf.pem", t / "leaf.key", t / "leaf.csr", t / "leaf.ext")
        ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
                       "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
        q = {"check": True, "capture_output": True}
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", str(ca_key), "-out", str(ca), "-days", "2", "-subj", "/CN=canary-router harness CA",
                        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"], **q)
        subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", str(leaf_key), "-out", str(csr), "-subj", "/CN=127.0.0.1"], **q)
        subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
                        "-CAcreateserial", "-out", str(leaf), "-days", "2", "-extfile", str(ext)], **q)
        return ca, leaf, leaf_key

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def pipe(r, w):
            try:
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
                pass
            finally:
                try:
                    w.close()
                except Exception:
                    pass

        async def handle(cr, cw):
            try:
                ur, uw = await asyncio.open_connection("127.0.0.1", self.target_port)
            except OSError:
                cw.close()
                return
            await asyncio.gather(pipe(cr, uw), pipe(ur, cw))

        async def main():
            self.server = await asyncio.start_server(handle, "127.0.0.1", self.port, ssl=self.ctx)
            self.ready.set()
            async with self.server:
                await self.server.serve_forever()

        try:
            self.loop.run_until_complete(main())
        except (asyncio.CancelledError, RuntimeError):
            pass

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def stop(self) -> None:
        def _close():
            self.server.close()
            for t in asyncio.all_tasks(self.loop):
                t.cancel()
        self.loop.call_soon_threadsafe(_close)
        self.thread.join(5)


# --------------------------------------------------------------------------------------------
# steps


def step_build(res: Results) -> Path | None:
    res.start("build: cargo lambda build --release (the one artifact)")
    given = os.environ.get("CANARY_LAMBDA_BOOTSTRAP")
    if given:
        res.note(f"CANARY_LAMBDA_BOOTSTRAP={given}: not building (harness development only)")
        return Path(given)
    env = clean_env()
    meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=REPO, env=env,
                          capture_output=True, text=True)
    target = Path(json.loads(meta.stdout)["target_directory"]) if meta.returncode == 0 else REPO / "target"
    bootstrap = target / "lambda" / "canary-router" / "bootstrap"
    t0 = time.monotonic()
    p = subprocess.run(["cargo", "lambda", "build", "--release", "--locked"], cwd=REPO, env=env)
    secs = time.monotonic() - t0
    res.note(f"cargo lambda build --release took {secs:.0f} s")
    if not res.check("cargo lambda build --release --locked", p.returncode == 0 and bootstrap.is_file(),
                     f"exit {p.returncode}; expected {bootstrap}"):
        return None
    return bootstrap


def glibc_versions(data: bytes) -> list[tuple[int, ...]]:
    return sorted({tuple(int(x) for x in m.group(1).split(b".")) for m in re.finditer(rb"GLIBC_(2\.[0-9]+(?:\.[0-9]+)?)\x00", data)})


def step_artifact(res: Results, bootstrap: Path) -> str:
    res.start("artifact")
    data = bootstrap.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    res.note(f"{bootstrap.relative_to(REPO) if bootstrap.is_relative_to(REPO) else bootstrap}: {len(data) / 1e6:.1f} MB, sha256 {digest[:16]}…")
    res.check("x86-64 ELF executable (Architectures: [x86_64])", data[:4] == b"\x7fELF" and data[18:20] == b"\x3e\x00",
              f"header {data[:20]!r}")
    vers = glibc_versions(data)
    top = vers[-1] if vers else (0,)
    res.check(f"needs glibc <= {'.'.join(map(str, AL2023_GLIBC))} (provided.al2023)", top <= AL2023_GLIBC,
              f"the bootstrap needs GLIBC_{'.'.join(map(str, top))}: build on an older glibc or with cargo-lambda's zig compiler")
    return digest


def step_rie(res: Results, rie: Path, bootstrap: Path, emu: Emulator, tmp: Path) -> None:
    res.start("rie: every event through aws-lambda-rie")
    errlog = tmp / "function-stderr.log"
    wrapper = stderr_split_wrapper(tmp, bootstrap, errlog)
    r = Rie(rie, wrapper, function_env(emu.url))
    try:
        minted: dict[str, str] = {}
        units: dict[str, dict] = {}
        impure: list[str] = []
        names = sorted(EXPECTED, key=lambda n: (PLACEHOLDER in (EVENTS / n).read_text(), n))
        for name in names:
            try:
                event = load_event(name, minted.get("v2"))
            except ValueError as e:
                res.check(name, False, f"{e}: v2-predict-anonymous minted none")
                continue
            inv = r.invoke(event)
            records, other = parse_records(inv["lines"])
            impure += [f"{name}: {l[:100]}" for l in other]
            c, facts = check_exchange(name, event, inv["resp"], records, inv["rid"])
            if name == "v2-predict-cookie.json" and facts["record"] and "v2" in units:
                first = units["v2"]
                c.expect(facts["record"].get("unit") == first.get("unit") and facts["record"].get("arm") == first.get("arm"),
                         "the cookie minted by v2-predict-anonymous did not bring back the same unit and arm")
            res.check(f"{name} ({EXPECTED[name]['status']}{' ' + EXPECTED[name]['error'] if EXPECTED[name]['error'] else ''})",
                      not c.problems, c.detail())
            if facts["cookie"] and name.endswith("predict-anonymous.json"):
                minted[event_kind(name)] = facts["cookie"]
                units[event_kind(name)] = facts["record"] or {}

        # v1: the cookie minted in multiValueHeaders goes back in a Cookie header.
        if "v1" in minted:
            base = load_event("v1-predict-anonymous.json")
            ev = with_cookie(base, "v1", minted["v1"])
            inv = r.invoke(ev)
            records, other = parse_records(inv["lines"])
            impure += [f"v1 round trip: {l[:100]}" for l in other]
            exp = {"status": 200, "error": None, "id_source": "cookie", "set_cookie": False}
            c, facts = check_exchange("v1-predict-anonymous.json", ev, inv["resp"], records, inv["rid"], exp=exp)
            rec = facts["record"] or {}
            c.expect(rec.get("unit") == units["v1"].get("unit") and rec.get("arm") == units["v1"].get("arm"),
                     "v1 cookie round trip: not the same unit and arm")
            res.check("v1 round trip: the multiValueHeaders cookie brings the user back (same unit, arm; no new cookie)", not c.problems, c.detail())

            fb = with_cookie(load_event("v1-feedback-base64.json"), "v1", minted["v1"])
            inv = r.invoke(fb)
            records, other = parse_records(inv["lines"])
            impure += [f"v1 feedback: {l[:100]}" for l in other]
            exp = {"status": 202, "error": None, "id_source": "cookie", "set_cookie": False}
            c, facts = check_exchange("v1-feedback-base64.json", fb, inv["resp"], records, inv["rid"], exp=exp)
            rec = facts["record"] or {}
            c.expect(rec.get("unit") == units["v1"].get("unit") and rec.get("arm") == units["v1"].get("arm"),
                     "v1 feedback with the cookie: not the same unit and arm")
            res.check("v1 round trip: /feedback with the cookie lands on the same arm (202, outcome record)", not c.problems, c.detail())
        else:
            res.check("v1 round trip", False, "v1-predict-anonymous minted no cookie")

        # A cookie minted through v1 is good through v2 (one key, one format).
        if "v1" in minted:
            ev = with_cookie(load_event("v2-predict-user-header.json"), "v2", minted["v1"])
            inv = r.invoke(ev)
            records, _ = parse_records(inv["lines"])
            exp = {"status": 200, "error": None, "id_source": "cookie", "set_cookie": False}
            c, facts = check_exchange("v2-predict-user-header.json", ev, inv["resp"], records, inv["rid"], exp=exp)
            rec = facts["record"] or {}
            c.expect(rec.get("unit") == units["v1"].get("unit"), "v1 cookie through v2: another unit")
            res.check("a v1-minted cookie is honoured in a v2 event (same unit)", not c.problems, c.detail())

        res.check("function stdout carries records only (JSON lines with kind decision/outcome)", not impure,
                  "; ".join(impure[:5]))
        errs = errlog.read_text(errors="replace") if errlog.exists() else ""
        res.check("function stderr carries no records", '"kind":"decision"' not in errs and '"kind":"outcome"' not in errs,
                  "a record went to stderr")
        panics = [l for l in errs.splitlines() if "panicked" in l]
        res.check("no panic in the function's stderr", not panics, "; ".join(panics[:3]))
    finally:
        r.stop()


NETNS_CASES = {
    # name: (description, endpoint URL or None for "start an emulator in the namespace", extra env)
    "empty-endpoint-url": (
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME='' (what sam local passes for the template's AWS::NoValue) "
        "is treated as unset: /predict answers a JSON 5xx with its decision record, no panic",
        "", {"CANARY_COOKIE_KEY_PREVIOUS": ""}),
    "blank-credentials": (
        "blank AWS credentials (what a bare aws-lambda-rie passes) with a loopback endpoint: the "
        "function uses its local credentials and reaches the emulator (200), no IMDS probe",
        None, {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": ""}),
}


def netns_probe(case: str, rie: Path, bootstrap: Path) -> dict:
    """Runs inside a fresh network namespace (loopback only): one /predict, returned as JSON."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    _, url, extra = NETNS_CASES[case]
    emu = None
    if url is None:
        emu = Emulator(bootstrap)
        url = emu.url
    env = function_env(url, extra)
    if case == "blank-credentials":
        env.pop("AWS_EC2_METADATA_DISABLED", None)  # as on a developer's machine
    with tempfile.TemporaryDirectory() as t:
        errlog = Path(t) / "stderr.log"
        r = Rie(rie, stderr_split_wrapper(Path(t), bootstrap, errlog), env)
        try:
            inv = r.invoke(load_event("v2-predict-user-header.json"))
        finally:
            r.stop()
            if emu:
                emu.stop()
        stderr = errlog.read_text(errors="replace") if errlog.exists() else ""
    records, _ = parse_records(inv["lines"])
    return {"resp": inv["resp"], "records": records, "stderr": stderr[-3000:]}


def netns_available() -> list[str] | None:
    for argv in (["unshare", "-n"], ["unshare", "-r", "-n"]):
        try:
            if subprocess.run(argv + ["true"], capture_output=True, timeout=10).returncode == 0:
                return argv
        except (OSError, subprocess.TimeoutExpired):
            pass
    return None


def step_netns(res: Results, rie: Path, bootstrap: Path) -> None:
    res.start("netns: environments that sam local and a bare RIE produce (private network namespace)")
    argv = netns_available()
    if not argv or not shutil.which("ip"):
        for case, (desc, _, _) in NETNS_CASES.items():
            res.skip(case, "no private network namespace here (unshare -n and unshare -rn failed, or no `ip`): "
                           "these cases could reach AWS, so they do not run outside one")
        return
    for case, (desc, _, _) in NETNS_CASES.items():
        p = subprocess.run(argv + [str(PY), __file__, "--netns-probe", case, str(rie), str(bootstrap)],
                           capture_output=True, text=True, timeout=120)
        try:
            out = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            res.check(f"{case}: {desc}", False, f"probe failed (exit {p.returncode}): {p.stderr[-800:]}")
            continue
        resp, records, stderr = out["resp"], out["records"], out["stderr"]
        c = Checks()
        status = resp.get("statusCode")
        if case == "empty-endpoint-url":
            c.expect(isinstance(status, int) and 500 <= status < 600, f"response {json.dumps(resp)[:300]}")
            c.expect(len(records) == 1 and records[0].get("status") == status, f"{len(records)} decision records")
            c.expect("panicked" not in stderr and "errorType" not in resp, "the function panicked: " +
                     (resp.get("errorMessage") or "")[:200])
        else:
            c.expect(status == 200, f"response {json.dumps(resp)[:300]}")
            c.expect("Ec2InstanceMetadata" not in stderr and "IMDS" not in stderr,
                     "the SDK probed the instance metadata service (169.254.169.254)")
        res.check(f"{case}: {desc}", not c.problems, c.detail())


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def step_watch_stream(res: Results, bootstrap: Path, tmp: Path) -> None:
    """One real streamed round trip: `cargo lambda watch --only-lambda-apis` plays the Runtime
    API and a Function URL (`/lambda-url/_/...`, which streams, unlike the RIE and `sam local`),
    the bootstrap runs with CANARY_RESPONSE_STREAMING=1, and a token model holds every token after
    the first until the emulator's gate opens: the first chunk must reach the client while the
    rest is still held, so it was streamed, not buffered."""
    res.start("cargo lambda watch: a Function URL stream through the streaming function")
    models = tmp / "watch-models.json"
    models.write_text(json.dumps({"seed": 0, "endpoints": {"llm": {"variants": [{
        "name": "AllTraffic", "model": {"type": "tokens", "format": "tgi", "tokens": 20, "hold_after": 1}}]}}}))
    emu_port, api_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_RUNTIME_API"}
    emu = Proc([str(bootstrap), "emulate", "--listen", f"127.0.0.1:{emu_port}", "--models", str(models)],
               env=env, name="emulate (tokens)")
    watch = Proc(["cargo", "lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P", str(api_port)],
                 env=clean_env(), cwd=REPO, name="cargo lambda watch")
    fn = None
    try:
        if not res.check("cargo lambda watch --only-lambda-apis listens", wait_port(api_port, 30),
                         watch.text()[-800:]) or not wait_port(emu_port, 10):
            return
        config = {"experiment": "watch", "version": "w1", "salt": "watch-1", "cookie": {"enabled": False},
                  "arms": [{"name": "control", "endpoint": "llm", "weight": 10000}]}
        fn = Proc([str(bootstrap)], env=function_env(f"http://127.0.0.1:{emu_port}", {
            "CANARY_RESPONSE_STREAMING": "1",
            "CANARY_CONFIG": json.dumps(config),
            "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{api_port}/.rt",
            "AWS_LAMBDA_FUNCTION_NAME": "_",
            "AWS_LAMBDA_FUNCTION_VERSION": "1",
        }), name="bootstrap (streaming)")
        # A buffered answer would wait for the gate, which opens only after the first token came.
        conn = http.client.HTTPConnection("127.0.0.1", api_port, timeout=15)
        conn.request("POST", "/lambda-url/_/predict", body=b'{"inputs": "hi"}',
                     headers={"Accept": "text/event-stream", "X-User-Id": "watch-user",
                              "Content-Type": "application/json"})
        try:
            resp = conn.getresponse()
            first = resp.readline()
        except TimeoutError:
            resp, first = None, b""
        early = first.startswith(b"data: {") and b'"id":0' in first
        res.check("the status and headers come from the prelude (200, text/event-stream, the arm)",
                  resp is not None and resp.status == 200
                  and resp.getheader("content-type") == "text/event-stream"
                  and resp.getheader("x-canary-arm") == "control",
                  f"{resp.status} {resp.getheaders()}" if resp else "no answer within 15 s")
        res.check("the first token reaches the client while the model still holds the others", early,
                  first[:200].decode("utf-8", "replace") or "nothing before the gate opened")
        opened = urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{emu_port}/emulator/gates/llm", data=b"", method="POST"), timeout=10)
        opened.read()
        try:
            rest = resp.read() if resp else b""
        except TimeoutError:
            rest = b""
        conn.close()
        body = first + rest
        events = [l for l in body.split(b"\n") if l.startswith(b"data: ")]
        res.check("the whole stream arrives: 20 data lines, the last with generated_text",
                  len(events) == 20 and b'"generated_text":"' in events[-1], f"{len(events)} lines")
        fn.wait_for(lambda: any(l.startswith("{") for _, l in fn.out), 10)
        records, _ = parse_records([l for _, l in fn.out])
        dec = [r for r in records if r.get("kind") == "decision"]
        ok = (len(dec) == 1 and dec[0].get("streamed") is True and dec[0].get("status") == 200
              and dec[0].get("tokens") == 20 and dec[0].get("finish_reason") == "length"
              and dec[0].get("response_bytes") == len(body) and (dec[0].get("first_byte_ms") or 0) > 0)
        res.check("one decision record: streamed, 20 tokens, finish_reason length, response_bytes = bytes sent",
                  ok, json.dumps(dec)[:600])
    finally:
        for p in (fn, watch, emu):
            if p:
                p.stop()


def step_rie_appconfig(res: Results, rie: Path, bootstrap: Path, emu: Emulator, tmp: Path) -> None:
    """The config from AWS AppConfig, as the template deploys it: CANARY_APPCONFIG names the
    profile and the router asks the extension's HTTP API on AWS_APPCONFIG_EXTENSION_HTTP_PORT.
    The extension is `bootstrap emulate --appconfig DIR` (documents at DIR/APP/ENV/PROFILE.json);
    the function runs under aws-lambda-rie."""
    res.start("rie + AppConfig: the split from the AppConfig extension's API, switched and refused while running")
    docs = tmp / "appconfig"
    (docs / "canary-router" / "live").mkdir(parents=True)
    path = docs / "canary-router" / "live" / "router.json"

    def publish(version: str, canary: int, text: str | None = None) -> None:
        doc = json.loads(json.dumps(CONFIG))
        doc["version"] = version
        doc["arms"][0]["weight"] = 10000 - canary
        doc["arms"][1]["weight"] = canary
        tmp_path = path.with_suffix(".tmp")
        tmp_path.write_text(text if text is not None else json.dumps(doc))
        tmp_path.replace(path)

    publish("appconfig.1", 1000)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_RUNTIME_API"}
    ext = Proc([str(bootstrap), "emulate", "--listen", f"127.0.0.1:{port}", "--appconfig", str(docs)],
               env=env, name="appconfig stand-in")
    r = None
    try:
        if not res.check("the AppConfig stand-in listens", wait_port(port, 10), ext.text()[-500:]):
            return
        fenv = function_env(emu.url, {"CANARY_APPCONFIG": "canary-router/live/router",
                                      "AWS_APPCONFIG_EXTENSION_HTTP_PORT": str(port),
                                      "CANARY_CONFIG_REFRESH_MS": "200"})
        fenv.pop("CANARY_CONFIG", None)
        r = Rie(rie, bootstrap, fenv)
        event = load_event("v2-predict-user-header.json")

        def version_served() -> tuple[int | None, str | None]:
            inv = r.invoke(event)
            recs = [json.loads(l) for l in inv["lines"] if l.startswith("{")]
            dec = [x for x in recs if x.get("kind") == "decision"]
            return inv["resp"].get("statusCode"), (dec[0].get("config_version") if dec else None)

        status, version = version_served()
        res.check("the first document serves (200, its version in the record)",
                  (status, version) == (200, "appconfig.1"), f"{status} {version}")
        publish("appconfig.2", 5000)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and version != "appconfig.2":
            time.sleep(0.2)
            status, version = version_served()
        res.check("a new document takes effect within the refresh interval + 1 s, with no failed invoke",
                  (status, version) == (200, "appconfig.2"), f"{status} {version}")
        publish("appconfig.3", 5000, text='{"experiment": ')
        time.sleep(0.8)
        status, version = version_served()
        refusals = [l for _, l in r.proc.out if l.startswith("{") and '"kind":"config"' in l.replace(" ", "")]
        res.check("a broken document is refused and logged; the last good one keeps serving",
                  (status, version) == (200, "appconfig.2") and len(refusals) >= 1,
                  f"{status} {version}; {len(refusals)} refusal lines")
    finally:
        if r:
            r.stop()
        ext.stop()



def step_cold(res: Results, rie: Path, bootstrap: Path, emu: Emulator, tmp: Path) -> dict:
    res.start("cold: fresh runtimes under aws-lambda-rie")
    n = int(os.environ.get("CANARY_COLD_STARTS", "10"))
    warm_n = 5
    target = float(os.environ.get("CANARY_COLD_START_TARGET_MS", "10"))
    event = json.dumps(load_event("v2-predict-user-header.json")).encode()
    proxy = TlsProxy(tmp, emu.port)
    summary: dict[str, dict] = {}
    try:
        for transport, url, extra in (("http", emu.url, {}),
                                      ("https", proxy.url, {"SSL_CERT_FILE": str(proxy.bundle)})):
            rows = []
            bad = []
            for i in range(n):
                r = Rie(rie, bootstrap, function_env(url, extra))
                try:
                    first = r.invoke(event)
                    warm = [r.invoke(event) for _ in range(warm_n)]
                finally:
                    r.stop()
                for inv in [first] + warm:
                    if inv["resp"].get("statusCode") != 200:
                        bad.append(json.dumps(inv["resp"])[:200])
                rows.append({
                    "wall_first": first["wall_ms"], "wall_warm": median([w["wall_ms"] for w in warm]),
                    "init_report": first["init_duration"], "init_rapid": first["init_report_ms"],
                    "dur_first": first["duration"], "dur_warm": median([w["duration"] for w in warm if w["duration"] is not None]),
                    "rt_first": first["rtdone_ms"], "rt_warm": median([w["rtdone_ms"] for w in warm if w["rtdone_ms"] is not None]),
                })
            res.check(f"{transport}: {n} cold starts x (1 + {warm_n} invokes), every /predict answered 200", not bad, "; ".join(bad[:3]))
            med = {k: median([row[k] for row in rows if row[k] is not None]) for k in rows[0]}
            summary[transport] = med
            print(f"  ..    {transport}: medians over {n} fresh runtimes (ms):\n"
                  f"          RIE INIT REPORT durationMs (process start to runtime ready) {med['init_rapid']:.2f}\n"
                  f"          REPORT Init Duration {med['init_report']:.2f}\n"
                  f"          invoke phase (INVOKE RTDONE): first {med['rt_first']:.2f}, warm {med['rt_warm']:.2f}, "
                  f"first-invoke penalty {med['rt_first'] - med['rt_warm']:.2f}\n"
                  f"          REPORT Duration: first {med['dur_first']:.2f} (the RIE counts init in it), warm {med['dur_warm']:.2f}\n"
                  f"          client round trip: first request of a fresh runtime {med['wall_first']:.2f}, warm {med['wall_warm']:.2f}",
                  flush=True)
        penalty = summary["https"]["rt_first"] - summary["https"]["rt_warm"]
        res.check(f"first invoke less than {target:g} ms slower than a warm one (median, https, invoke phase)",
                  penalty < target, f"first invoke {penalty:.1f} ms slower than warm (http: "
                  f"{summary['http']['rt_first'] - summary['http']['rt_warm']:.1f} ms). The known lever: build with "
                  "AWS_LC_SYS_NO_JITTER_ENTROPY=1 (AWS-LC's CPU jitter entropy costs tens of ms on the first TLS use)")
    finally:
        proxy.stop()
    return summary


def step_sam(res: Results, bootstrap: Path, digest: str) -> bool:
    res.start("sam: build, validate --lint, IAM on the built template")
    env = clean_env()
    t0 = time.monotonic()
    p = subprocess.run(["sam", "build"], cwd=REPO, env=env, capture_output=True, text=True)
    secs = time.monotonic() - t0
    built = REPO / ".aws-sam" / "build" / FUNCTION / "bootstrap"
    ok = res.check("sam build (BuildMethod rust-cargolambda)", p.returncode == 0 and built.is_file(),
                   (p.stdout + p.stderr)[-1500:])
    if ok:
        same = hashlib.sha256(built.read_bytes()).hexdigest() == digest
        res.check(f"sam build reused the cargo-lambda artifact ({secs:.1f} s, same sha256)", same,
                  "sam build produced another binary: its cargo-lambda call differs from the harness's")
    for tpl in ("template.yaml", ".aws-sam/build/template.yaml"):
        p = subprocess.run(["sam", "validate", "--lint", "--template", tpl], cwd=REPO, env=env, capture_output=True, text=True)
        out = (p.stdout + p.stderr).strip()
        res.check(f"sam validate --lint {tpl}: valid, no warnings", p.returncode == 0 and "valid SAM Template" in out
                  and not re.search(r"\b[WE]\d{4}\b", out), out[-800:])
    p = subprocess.run([str(PY), "tests/check_template_iam.py", "--template", ".aws-sam/build/template.yaml"],
                       cwd=REPO, env=env, capture_output=True, text=True)
    res.check("IAM least privilege on the built template (tests/check_template_iam.py)", p.returncode == 0,
              (p.stdout + p.stderr)[-800:])
    return ok


def docker_ready(res: Results) -> bool:
    skip = os.environ.get("CANARY_SKIP_DOCKER") == "1"
    if skip:
        banner = ("!" * 100 + "\n!!! CANARY_SKIP_DOCKER=1: SKIPPED `sam local invoke` (every event) and `sam local start-api`"
                  " (the cookie round trip).\n!!! They did NOT run: nothing here says the function works in a Lambda container.\n" + "!" * 100)
        print(banner, flush=True)
        res.skip("sam local invoke, every event", "CANARY_SKIP_DOCKER=1")
        res.skip("sam local start-api round trip", "CANARY_SKIP_DOCKER=1")
        return False
    p = subprocess.run(["docker", "info"], capture_output=True, text=True) if shutil.which("docker") else None
    if p is None or p.returncode != 0:
        why = "no docker command" if p is None else (p.stderr.strip().splitlines() or ["docker info failed"])[-1]
        res.check("the Docker engine answers (`docker info`)", False,
                  f"{why}. `sam local invoke/start-api` need it: start the Docker engine, or set CANARY_SKIP_DOCKER=1 "
                  "to skip these steps (they are then reported as skipped)")
        return False
    return True


def sam_local_env() -> dict[str, str]:
    return clean_env()


def container_ids(text: str) -> list[str]:
    return re.findall(r"SAM_CONTAINER_ID: ([0-9a-f]{12,64})", text)


def remove_containers(ids: list[str]) -> None:
    for cid in ids:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True)


def step_sam_invoke(res: Results) -> None:
    res.start("sam local invoke: every event (local base image, emulator inside the sandbox)")
    env = sam_local_env()
    common = ["--env-vars", "events/env.json", "--invoke-image", BASE_IMAGE, "--skip-pull-image"]
    minted: dict[str, str] = {}
    units: dict[str, dict] = {}
    names = sorted(EXPECTED, key=lambda n: (PLACEHOLDER in (EVENTS / n).read_text(), n))
    t0 = time.monotonic()
    for name in names:
        try:
            event = load_event(name, minted.get("v2"))
        except ValueError as e:
            res.check(name, False, f"{e}: v2-predict-anonymous minted none")
            continue
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(event, f)
            path = f.name
        try:
            p = subprocess.run(["sam", "local", "invoke", FUNCTION, "--event", path] + common,
                               cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
        finally:
            os.unlink(path)
        remove_containers(container_ids(p.stderr))
        try:
            resp = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            res.check(name, False, f"no response (exit {p.returncode}): {p.stderr[-1200:]}")
            continue
        records, _ = parse_records(p.stderr.splitlines())
        m = re.search(r"(?:START|END|REPORT) RequestId: ([0-9a-f-]{36})", p.stderr)
        c, facts = check_exchange(name, event, resp, records, m.group(1) if m else None)
        if name == "v2-predict-cookie.json" and facts["record"] and "v2" in units:
            c.expect(facts["record"].get("unit") == units["v2"].get("unit"), "the minted cookie did not bring back the same unit")
        res.check(f"{name} ({EXPECTED[name]['status']}{' ' + EXPECTED[name]['error'] if EXPECTED[name]['error'] else ''})",
                  not c.problems, c.detail())
        if facts["cookie"] and name.endswith("predict-anonymous.json"):
            minted[event_kind(name)] = facts["cookie"]
            units[event_kind(name)] = facts["record"] or {}
    res.note(f"{len(names)} sam local invoke runs in {time.monotonic() - t0:.0f} s")


def step_sam_invoke_appconfig(res: Results, tmp: Path) -> None:
    """`sam local invoke` with the split from AppConfig: CANARY_APPCONFIG set, CANARY_CONFIG blank,
    the documents in the task directory, the extension's API played inside the sandbox by the
    local image's extension (`bootstrap emulate --appconfig`)."""
    res.start("sam local invoke + AppConfig: the split read from the AppConfig extension's API")
    docs = REPO / ".aws-sam" / "build" / FUNCTION / "appconfig-docs"
    doc = json.loads(json.dumps(CONFIG))
    doc["version"] = "appconfig.sam.1"
    (docs / "canary-router" / "live").mkdir(parents=True, exist_ok=True)
    (docs / "canary-router" / "live" / "router.json").write_text(json.dumps(doc))
    fn_env = dict(ENV_JSON)
    fn_env.update({"CANARY_CONFIG": "", "CANARY_APPCONFIG": "canary-router/live/router"})
    env_file = tmp / "env-appconfig.json"
    env_file.write_text(json.dumps({FUNCTION: fn_env}))
    event = load_event("v2-predict-user-header.json")
    path = tmp / "event-appconfig.json"
    path.write_text(json.dumps(event))
    try:
        p = subprocess.run(["sam", "local", "invoke", FUNCTION, "--event", str(path), "--env-vars", str(env_file),
                            "--invoke-image", BASE_IMAGE, "--skip-pull-image"],
                           cwd=REPO, env=sam_local_env(), capture_output=True, text=True, timeout=180)
        remove_containers(container_ids(p.stderr))
        try:
            resp = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            res.check("an answer", False, f"no response (exit {p.returncode}): {p.stderr[-1200:]}")
            return
        records, _ = parse_records(p.stderr.splitlines())
        dec = [r for r in records if r.get("kind") == "decision"]
        version = dec[0].get("config_version") if dec else None
        res.check("200, and the record's config_version is the AppConfig document's",
                  (resp.get("statusCode"), version) == (200, "appconfig.sam.1"),
                  f"{resp.get('statusCode')} {version}; {p.stderr[-800:]}")
    finally:
        shutil.rmtree(docs, ignore_errors=True)


def step_start_api(res: Results, tmp: Path) -> None:
    res.start("sam local start-api: the three routes with a cookie-keeping HTTP client")
    port = free_port()
    log = tmp / "start-api.log"
    env = sam_local_env()
    sam = Proc(["sam", "local", "start-api", "--host", "127.0.0.1", "--port", str(port),
                "--env-vars", "events/env.json", "--invoke-image", BASE_IMAGE, "--skip-pull-image",
                "--warm-containers", "LAZY", "--log-file", str(log)], env=env, cwd=REPO, name="sam local start-api")
    base = f"http://127.0.0.1:{port}"
    try:
        if not res.check("start-api listens", wait_port(port, 120), sam.text()[-1500:]):
            return
        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        stranger = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

        def call(opener, method: str, path: str, body: dict | None = None, headers: dict | None = None):
            data = json.dumps(body).encode() if body is not None else None
            req = urllib.request.Request(base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json", **(headers or {})})
            try:
                with opener.open(req, timeout=120) as r:
                    return r.status, dict((k.lower(), v) for k, v in r.headers.items()), r.headers.get_all("Set-Cookie") or [], r.read()
            except urllib.error.HTTPError as e:
                return e.code, dict((k.lower(), v) for k, v in e.headers.items()), e.headers.get_all("Set-Cookie") or [], e.read()

        features = {"features": [5.1, 3.5, 1.4, 0.2]}
        st, h, sc, body = call(browser, "GET", "/health")
        doc = json.loads(body or b"null") if body else None
        res.check("GET /health: 200 with the experiment and both arms",
                  st == 200 and isinstance(doc, dict) and doc.get("experiment") == CONFIG["experiment"]
                  and len(doc.get("arms", [])) == len(CONFIG["arms"]), f"{st} {body[:300]!r}")

        st, h, sc, body = call(browser, "POST", "/predict", features)
        arm = h.get("x-canary-arm")
        mine = [c for c in sc if c.startswith(COOKIE_NAME + "=")]
        attrs = [a.strip().lower() for a in mine[0].split(";")[1:]] if mine else []
        kept = [c for c in jar if c.name == COOKIE_NAME]
        res.check("POST /predict, anonymous: 200, an arm, a minted cookie (HttpOnly, not Secure) kept by the client",
                  st == 200 and bool(arm) and len(mine) == 1 and "httponly" in attrs and "secure" not in attrs and len(kept) == 1,
                  f"{st} arm={arm!r} set-cookie={sc!r} jar={[c.name for c in jar]}")
        first_rid = h.get("x-canary-request-id")

        same, fresh = [], []
        for _ in range(3):
            st2, h2, sc2, _b = call(browser, "POST", "/predict", features)
            same.append((st2, h2.get("x-canary-arm")))
            fresh += [c for c in sc2 if c.startswith(COOKIE_NAME + "=")]
        res.check("POST /predict x3 with the kept cookie: same arm every time, no new cookie",
                  all(s == 200 and a == arm for s, a in same) and not fresh, f"{same} new cookies={fresh}")

        st, h, sc, body = call(browser, "POST", "/feedback", {"event": "click", "value": 1.0, "prediction_id": first_rid})
        doc = json.loads(body) if body else {}
        res.check("POST /feedback with the cookie: 202 on the same arm", st == 202 and doc.get("arm") == arm and h.get("x-canary-arm") == arm,
                  f"{st} {body[:300]!r}")

        st, h, sc, body = call(stranger, "POST", "/feedback", {"event": "click"})
        doc = json.loads(body) if body else {}
        res.check("POST /feedback without identity: 400 no_unit, no cookie minted",
                  st == 400 and doc.get("error") == "no_unit" and not sc, f"{st} {body[:300]!r} {sc}")

        st, h, sc, body = call(stranger, "POST", "/predict", features, {"X-User-Id": "user-42"})
        res.check("POST /predict with X-User-Id: 200 on the arm of its bucket, no cookie",
                  st == 200 and h.get("x-canary-arm") == arm_of_bucket(bucket_of_unit(unit_of("user-42"))) and not sc,
                  f"{st} arm={h.get('x-canary-arm')!r} {sc}")

        st, h, sc, body = call(stranger, "GET", "/predict")
        doc = json.loads(body) if body else {}
        res.check("GET /predict: 405 method_not_allowed", st == 405 and doc.get("error") == "method_not_allowed", f"{st} {body[:200]!r}")

        time.sleep(0.5)
        text = log.read_text(errors="replace") if log.exists() else ""
        records, _ = parse_records(text.splitlines())
        anon = [r for r in records if r.get("kind") == "decision" and r.get("id_source") in ("minted", "cookie")]
        units = {r.get("unit") for r in anon}
        outcomes = [r for r in records if r.get("kind") == "outcome" and r.get("id_source") == "cookie"]
        res.check("records (--log-file): one minted + three cookie decisions for one unit on one arm, and its outcome",
                  len(anon) == 4 and [r["id_source"] for r in anon].count("minted") == 1 and len(units) == 1
                  and {r.get("arm") for r in anon} == {arm} and len(outcomes) == 1 and outcomes[0].get("unit") in units,
                  f"{len(records)} records: {[(r.get('kind'), r.get('id_source'), r.get('arm')) for r in records]}")
    finally:
        sam.stop(signal.SIGINT, timeout=30)
        remove_containers(container_ids(sam.text()))


# --------------------------------------------------------------------------------------------


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--netns-probe":
        print(json.dumps(netns_probe(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))))
        return 0
    t_all = time.monotonic()
    res = Results()
    timings: dict[str, float] = {}
    cold: dict = {}
    tmp = Path(tempfile.mkdtemp(prefix="canary-lambda-"))
    emu = None
    try:
        t = time.monotonic()
        bootstrap = step_build(res)
        timings["build"] = time.monotonic() - t
        if bootstrap:
            digest = step_artifact(res, bootstrap)
            rie = rie_path()
            res.check("aws-lambda-rie ships with aws-sam-cli", rie.is_file() and os.access(rie, os.X_OK), str(rie))
            emu = Emulator(bootstrap)
            res.note(f"SageMaker emulator (`bootstrap emulate`) on {emu.url}")
            t = time.monotonic()
            step_rie(res, rie, bootstrap, emu, tmp)
            timings["rie"] = time.monotonic() - t
            t = time.monotonic()
            step_rie_appconfig(res, rie, bootstrap, emu, tmp)
            timings["rie appconfig"] = time.monotonic() - t
            t = time.monotonic()
            step_watch_stream(res, bootstrap, tmp)
            timings["watch stream"] = time.monotonic() - t
            t = time.monotonic()
            step_netns(res, rie, bootstrap)
            timings["netns"] = time.monotonic() - t
            t = time.monotonic()
            cold = step_cold(res, rie, bootstrap, emu, tmp)
            timings["cold starts"] = time.monotonic() - t
            emu.stop()
            emu = None
            t = time.monotonic()
            built = step_sam(res, bootstrap, digest)
            timings["sam build/validate"] = time.monotonic() - t
            res.start("docker")
            if built and docker_ready(res):
                t = time.monotonic()
                p = subprocess.run(["bash", str(REPO / ".ci" / "setup-lambda.sh"), "--image", str(bootstrap)],
                                   capture_output=True, text=True)
                if res.check(f"local base image {BASE_IMAGE} (.ci/setup-lambda.sh --image)", p.returncode == 0, p.stderr[-1500:]):
                    step_sam_invoke(res)
                    step_sam_invoke_appconfig(res, tmp)
                    step_start_api(res, tmp)
                timings["sam local"] = time.monotonic() - t
    except Exception as e:  # a harness bug or a tool that broke: one failure, with the trace
        import traceback
        traceback.print_exc()
        res.check("harness ran to the end", False, f"{type(e).__name__}: {e}")
    finally:
        if emu:
            emu.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    total = time.monotonic() - t_all
    print("\n== summary")
    print("  time: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()) + f"; total {total:.0f} s")
    for tr, med in cold.items():
        print(f"  cold start ({tr}, medians): init {med['init_rapid']:.1f} ms; invoke phase first {med['rt_first']:.2f} ms vs warm "
              f"{med['rt_warm']:.2f} ms (+{med['rt_first'] - med['rt_warm']:.2f}); client round trip first {med['wall_first']:.1f} ms "
              f"vs warm {med['wall_warm']:.1f} ms")
    if res.skipped:
        print("  SKIPPED (did not run):")
        for s in res.skipped:
            print(f"    - {s}")
    if res.failures:
        print("  failures:")
        for f in res.failures:
            print(f"    - {f}")
    line = f"lambda: {res.passed} passed, {res.failed} failed"
    if res.skipped:
        line += f", {len(res.skipped)} skipped"
    print(line, flush=True)
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
