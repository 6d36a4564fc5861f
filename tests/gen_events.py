#!/usr/bin/env python3
"""Regenerate the Lambda event fixtures in events/ from `sam local generate-event`.

Each fixture starts as the SAM CLI's own sample event (so it keeps that sample's quirks: REST v1
carries both `headers` and `multiValueHeaders`, with a `Host` that differs between the two; HTTP API
v2 puts the stage in `rawPath`; SAM base64-encodes every body), and is then edited only where the
scenario needs it: method, path, body, the headers and cookies that carry an identity, a unique
request ID. The edits are listed per fixture below, so a reviewer can see what is real and what is
ours.

Usage: .venv/bin/python tests/gen_events.py      (needs .venv from .ci/setup-python.sh)
       .venv/bin/python tests/gen_events.py --check   (exit 1 if a committed fixture differs)
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EVENTS = REPO / "events"
SAM = REPO / ".venv" / "bin" / "sam"

USER = "user-42"
PREDICT_BODY = '{"features": [5.1, 3.5, 1.4, 0.2]}'
MISSING_FIELD_BODY = '{"inputs": [5.1, 3.5, 1.4, 0.2]}'
INVALID_JSON_BODY = '{"features": [5.1, 3.5,'
FEEDBACK_BODY = '{"event":"click","value":1.0,"prediction_id":"req-123"}'
# Tests replace this literal with a cookie value signed by the key under test.
COOKIE_PLACEHOLDER = "REPLACE_WITH_SIGNED_COOKIE"
# Cookies a browser sends along with ours: a real one, one without "=" (as in SAM's own sample).
ODD_COOKIES = ["cookie1", "_ga=GA1.1.1234567890.1764150000"]

# A test-only key (64 random bytes, base64): never use it for a deployed function.
TEST_COOKIE_KEY = "NrryWaCxDbjgwh4UUetghjmjzu1JM0BLNfzQNQeN/qre50+jhfraU1SASMC7B0eWPYipka8XSZTNiDhuGiximQ=="
TEST_CONFIG = {
    "experiment": "iris-canary",
    "version": "2026-11-26.1",
    "salt": "iris-canary-1",
    "arms": [
        {"name": "control", "endpoint": "iris-a", "weight": 9000},
        {"name": "canary", "endpoint": "iris-b", "weight": 1000},
    ],
    "cookie": {"enabled": True, "name": "canary_uid", "secure": False, "same_site": "Lax"},
    "preprocess": {"require": ["features"]},
}


def generate(*args: str) -> dict:
    env = dict(os.environ, SAM_CLI_TELEMETRY="0")
    out = subprocess.run(
        [str(SAM), "local", "generate-event", *args],
        check=True, capture_output=True, text=True, env=env,
    ).stdout
    return json.loads(out)


def set_body(ev: dict, body: str | None, b64: bool, absent_key: bool = False) -> None:
    """SAM encodes every body; keep that only where the fixture is meant to be base64."""
    if body is None:
        if absent_key:
            ev.pop("body", None)  # HTTP API v2 omits `body` when there is none
        else:
            ev["body"] = None
        ev["isBase64Encoded"] = False
        return
    if b64:
        ev["body"] = base64.b64encode(body.encode()).decode()
        ev["isBase64Encoded"] = True
    else:
        ev["body"] = body
        ev["isBase64Encoded"] = False


def v1(name: str, method: str, path: str, body: str | None, headers: dict[str, str], b64: bool) -> dict:
    """API Gateway REST API (payload v1) behind a greedy `/{proxy+}` resource, named stage `prod`."""
    ev = generate("apigateway", "aws-proxy", "--stage", "prod", "--method", method,
                  "--path", path.lstrip("/"), "--body", body or "")
    assert ev["path"] == path and ev["requestContext"]["path"] == "/prod" + path, ev["path"]
    assert ev["requestContext"]["stage"] == "prod" and ev["httpMethod"] == method
    # API Gateway passes the greedy path parameter without its leading slash.
    ev["pathParameters"] = {"proxy": path.lstrip("/")}
    set_body(ev, body, b64)
    for key, value in headers.items():  # REST v1 keeps header case and fills both maps
        ev["headers"][key] = value
        ev["multiValueHeaders"][key] = [value]
    ev["requestContext"]["requestId"] = f"c6af9ac6-7b61-11e6-9a41-{name_hash(name)}"
    return ev


def v2(name: str, method: str, path: str, body: str | None, headers: dict[str, str], b64: bool,
       cookies: list[str] | None | str = "sam-default") -> dict:
    """API Gateway HTTP API (payload v2), named stage `prod`: the stage stays in rawPath."""
    raw_path = "/prod" + path
    ev = generate("apigateway", "http-api-proxy", "--stage", "prod", "--method", method,
                  "--path", raw_path.lstrip("/"), "--body", body or "")
    assert ev["rawPath"] == raw_path and ev["requestContext"]["http"]["path"] == raw_path
    assert ev["requestContext"]["stage"] == "prod" and ev["requestContext"]["http"]["method"] == method
    set_body(ev, body, b64, absent_key=True)
    for key, value in headers.items():  # HTTP APIs lower-case header names
        ev["headers"][key.lower()] = value
    if cookies is None:
        ev.pop("cookies", None)  # no Cookie header at all: the key is absent
    elif cookies != "sam-default":
        ev["cookies"] = cookies
    ev["requestContext"]["requestId"] = "Jx" + name_hash(name)[:10] + "A="
    return ev


def alb(name: str, method: str, path: str, body: str | None, headers: dict[str, str], b64: bool) -> dict:
    """Application Load Balancer target group (single-value headers)."""
    ev = generate("alb", "request", "--method", method, "--path", path.lstrip("/"), "--body", body or "")
    assert ev["path"] == path and ev["httpMethod"] == method, ev["path"]
    if body is None:
        ev["body"] = ""  # an ALB sends an empty string, not null, for a request without a body
        ev["isBase64Encoded"] = False
    else:
        set_body(ev, body, b64)
    for key, value in headers.items():  # ALB lower-cases header names
        ev["headers"][key.lower()] = value
    return ev


def name_hash(name: str) -> str:
    import hashlib
    return hashlib.sha256(name.encode()).hexdigest()[:12]


JSON = {"Content-Type": "application/json"}
UID = {"X-User-Id": USER}


def fixtures() -> dict[str, tuple[dict, dict]]:
    """name -> (event, expectation). id_source / set_cookie describe the decision or outcome record
    and the response's Set-Cookie; null where no record is expected."""
    def exp(status, error=None, id_source=None, set_cookie=False):
        return {"status": status, "error": error, "id_source": id_source, "set_cookie": set_cookie}

    f: dict[str, tuple[dict, dict]] = {}

    def add(name, ev, ex):
        f[name] = (ev, ex)

    add("v1-predict-user-header.json",
        v1("v1-predict-user-header", "POST", "/predict", PREDICT_BODY, {**JSON, **UID}, b64=False),
        exp(200, id_source="header"))
    add("v1-predict-anonymous.json",
        v1("v1-predict-anonymous", "POST", "/predict", PREDICT_BODY, JSON, b64=True),
        exp(200, id_source="minted", set_cookie=True))
    add("v1-feedback-base64.json",
        v1("v1-feedback-base64", "POST", "/feedback", FEEDBACK_BODY, {**JSON, **UID}, b64=True),
        exp(202, id_source="header"))

    add("v2-predict-user-header.json",
        v2("v2-predict-user-header", "POST", "/predict", PREDICT_BODY, {**JSON, **UID}, b64=False),
        exp(200, id_source="header"))
    add("v2-predict-cookie.json",
        v2("v2-predict-cookie", "POST", "/predict", PREDICT_BODY, JSON, b64=True,
           cookies=[ODD_COOKIES[0], ODD_COOKIES[1], f"canary_uid={COOKIE_PLACEHOLDER}", "theme=dark"]),
        exp(200, id_source="cookie"))
    add("v2-predict-anonymous.json",
        v2("v2-predict-anonymous", "POST", "/predict", PREDICT_BODY, JSON, b64=False, cookies=None),
        exp(200, id_source="minted", set_cookie=True))
    add("v2-feedback.json",
        v2("v2-feedback", "POST", "/feedback", FEEDBACK_BODY, {**JSON, **UID}, b64=False),
        exp(202, id_source="header"))
    add("v2-health.json",
        v2("v2-health", "GET", "/health", None, {}, b64=False),
        exp(200))
    add("v2-bad-invalid-json.json",
        v2("v2-bad-invalid-json", "POST", "/predict", INVALID_JSON_BODY, {**JSON, **UID}, b64=False),
        exp(400, "bad_request", id_source="header"))
    add("v2-bad-missing-field.json",
        v2("v2-bad-missing-field", "POST", "/predict", MISSING_FIELD_BODY, {**JSON, **UID}, b64=False),
        exp(400, "bad_request", id_source="header"))
    add("v2-bad-tampered-cookie.json",
        v2("v2-bad-tampered-cookie", "POST", "/predict", PREDICT_BODY, JSON, b64=False,
           cookies=[ODD_COOKIES[0], "canary_uid=tampered-value"]),
        exp(200, id_source="minted", set_cookie=True))
    add("v2-bad-feedback-no-identity.json",
        v2("v2-bad-feedback-no-identity", "POST", "/feedback", FEEDBACK_BODY, JSON, b64=False,
           cookies=[ODD_COOKIES[1], "theme=dark"]),
        exp(400, "no_unit", id_source="none"))
    add("v2-not-found.json",
        v2("v2-not-found", "GET", "/nope", None, {}, b64=False),
        exp(404, "not_found"))
    add("v2-method-not-allowed.json",
        v2("v2-method-not-allowed", "GET", "/predict", None, UID, b64=False),
        exp(405, "method_not_allowed"))

    add("alb-predict-user-header.json",
        alb("alb-predict-user-header", "POST", "/predict", PREDICT_BODY, {**JSON, **UID}, b64=True),
        exp(200, id_source="header"))
    add("alb-health.json",
        alb("alb-health", "GET", "/health", None, {}, b64=False),
        exp(200))
    return f


def env_json() -> dict:
    return {
        "CanaryRouterFunction": {
            "CANARY_CONFIG": json.dumps(TEST_CONFIG, separators=(",", ":")),
            # The template sets CANARY_APPCONFIG (the deployed source); `sam local` has no
            # AppConfig extension, so it is blanked here, which counts as unset beside CANARY_CONFIG.
            "CANARY_APPCONFIG": "",
            "CANARY_COOKIE_KEY": TEST_COOKIE_KEY,
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": "http://127.0.0.1:8081",
        }
    }


def dump(obj) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    check = "--check" in sys.argv[1:]
    if not SAM.exists():
        print(f"gen_events: {SAM} missing; run .ci/setup-python.sh first", file=sys.stderr)
        return 3
    assert len(base64.b64decode(TEST_COOKIE_KEY)) == 64
    generated = fixtures()
    files = {name: dump(ev) for name, (ev, _) in generated.items()}
    files["expected.json"] = dump({name: ex for name, (_, ex) in generated.items()})
    files["env.json"] = dump(env_json())
    stale = []
    for name, text in sorted(files.items()):
        path = EVENTS / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            EVENTS.mkdir(exist_ok=True)
            path.write_text(text)
    if stale:
        print("gen_events: stale fixtures: " + ", ".join(stale), file=sys.stderr)
        return 1
    print(f"gen_events: {len(files)} files {'up to date' if check else 'written'} in {EVENTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
