#!/usr/bin/env python3
"""Check config.schema.json, the JSON Schema of the router configuration, against the fixtures.

Checks, each counted as passed or failed:

  * config.schema.json is itself a valid draft 2020-12 schema, and every property in it has a
    description;
  * the defaults and limits in the schema equal the DEFAULT_* / MAX_* constants of src/config/ and
    src/transform.rs (so that the schema cannot drift from the Rust code unnoticed);
  * the config in events/env.json (CanaryRouterFunction.CANARY_CONFIG, a JSON string) validates;
  * every tests/fixtures/configs/good/*.json validates;
  * every tests/fixtures/configs/bad/*.json fails, and carries the `x-expect-error` text that the
    Rust test (Config::parse over the same directories) looks for in the router's error message;
  * any CONFIG.json given on the command line validates.

The schema cannot express every rule (weights summing to 10000, arm references, ...): the bad
fixtures are the cases it can catch; src/config/'s own tests cover the rest.

Usage:
  .venv/bin/python tests/check_config_schema.py                 the checks above
  .venv/bin/python tests/check_config_schema.py my-config.json  also validate these files

Needs jsonschema (pinned in tests/requirements.txt, installed into .venv by .ci/setup-python.sh).
The last line of output is `N passed, M failed`.
Exit status: 0 all checks pass; 1 a check failed; 2 bad usage or jsonschema missing.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, Iterator

try:
    import jsonschema
    from jsonschema import Draft202012Validator
except ImportError:  # pragma: no cover
    print("check_config_schema: jsonschema is missing; run .ci/setup-python.sh and use .venv/bin/python",
          file=sys.stderr)
    sys.exit(2)

REPO = Path(__file__).resolve().parent.parent
SCHEMA = REPO / "config.schema.json"
ENV_JSON = REPO / "events" / "env.json"
FIXTURES = REPO / "tests" / "fixtures" / "configs"
RUST_SOURCES = sorted((REPO / "src" / "config").glob("*.rs")) + [REPO / "src" / "transform.rs"]

# Rust constant -> JSON Pointers (into the schema) whose value must equal it.
CONSTANTS: dict[str, list[str]] = {
    "DEFAULT_USER_HEADER": ["/properties/user_header/default"],
    "DEFAULT_COOKIE_NAME": ["/$defs/cookie/properties/name/default"],
    "DEFAULT_COOKIE_MAX_AGE_DAYS": ["/$defs/cookie/properties/max_age_days/default"],
    "DEFAULT_COOKIE_RENEW_BEFORE_DAYS": ["/$defs/cookie/properties/renew_before_days/default"],
    "DEFAULT_ATTEMPT_TIMEOUT_MS": ["/$defs/timeouts/properties/attempt_ms/default",
                                   "/$defs/timeouts/then/properties/total_ms/minimum"],
    "DEFAULT_TOTAL_TIMEOUT_MS": ["/$defs/timeouts/properties/total_ms/default"],
    "MAX_TOTAL_TIMEOUT_MS": ["/$defs/timeouts/properties/total_ms/maximum",
                             "/$defs/timeouts/properties/attempt_ms/maximum"],
    "DEFAULT_STREAM_IDLE_MS": ["/$defs/timeouts/properties/stream_idle_ms/default"],
    "DEFAULT_STREAM_TOTAL_MS": ["/$defs/timeouts/properties/stream_total_ms/default",
                                "/$defs/timeouts/properties/stream_total_ms/maximum"],
    "DEFAULT_SHADOW_TIMEOUT_MS": ["/$defs/shadow/properties/timeout_ms/default"],
    "DEFAULT_CONTENT_TYPES": ["/properties/content_types/default"],
    "DEFAULT_METRICS_NAMESPACE": ["/properties/metrics_namespace/default"],
    "DEFAULT_FORCED_HEADER": ["/$defs/forced/properties/header/default"],
    "DEFAULT_FORCED_SECRET_HEADER": ["/$defs/forced/properties/secret_header/default"],
    "DEFAULT_TOP_K_INTO": ["/$defs/topK/properties/into/default"],
}


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, ok: bool, what: str, detail: str = "") -> None:
        if ok:
            self.passed += 1
            print(f"ok    {what}")
        else:
            self.failed += 1
            print(f"FAIL  {what}" + (f": {detail}" if detail else ""))


def pointer(doc: Any, ptr: str) -> Any:
    for part in ptr.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def rust_constants() -> dict[str, Any]:
    """`pub const NAME: TYPE = VALUE;` for integers, string literals and arrays of string literals."""
    out: dict[str, Any] = {}
    pattern = re.compile(r"pub const (\w+)\s*:\s*[^=]+=\s*(.*?);", re.S)
    for path in RUST_SOURCES:
        for name, value in pattern.findall(path.read_text(encoding="utf-8")):
            value = value.strip()
            if re.fullmatch(r"[0-9_]+", value):
                out[name] = int(value.replace("_", ""))
            elif re.fullmatch(r'"[^"\\]*"', value):
                out[name] = value[1:-1]
            elif value.startswith("&["):
                out[name] = re.findall(r'"([^"\\]*)"', value)
    return out


def properties_without_description(node: Any, path: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("properties", "patternProperties") and isinstance(value, dict):
                for prop, sub in value.items():
                    if not (isinstance(sub, dict) and isinstance(sub.get("description"), str)
                            and sub["description"].strip()):
                        yield f"{path}/{key}/{prop}"
            # Conditions (if/then/else/not) constrain properties declared elsewhere.
            if key not in ("examples", "default", "const", "enum", "if", "then", "else", "not"):
                yield from properties_without_description(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from properties_without_description(item, f"{path}/{i}")


def first_error(validator: Draft202012Validator, instance: Any) -> str | None:
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"{where.lstrip('.') or '(root)'}: {error.message}"


def load_json(path: Path, report: Report, what: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        report.check(False, what, f"cannot read JSON: {e}")
        return False, None


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    if any(a.startswith("-") for a in argv):
        print(f"check_config_schema: unknown option {next(a for a in argv if a.startswith('-'))}",
              file=sys.stderr)
        return 2
    report = Report()
    rel = lambda p: p.relative_to(REPO) if p.is_relative_to(REPO) else p  # noqa: E731

    ok, schema = load_json(SCHEMA, report, "config.schema.json parses")
    if not ok:
        print(f"{report.passed} passed, {report.failed} failed")
        return 1
    try:
        Draft202012Validator.check_schema(schema)
        report.check(True, "config.schema.json is a valid draft 2020-12 schema")
    except jsonschema.exceptions.SchemaError as e:
        report.check(False, "config.schema.json is a valid draft 2020-12 schema", e.message)
        print(f"{report.passed} passed, {report.failed} failed")
        return 1
    report.check(schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema",
                 "config.schema.json declares draft 2020-12", repr(schema.get("$schema")))
    missing = list(properties_without_description(schema))
    report.check(not missing, "every property in the schema has a description", ", ".join(missing))
    validator = Draft202012Validator(schema)

    constants = rust_constants()
    for name, pointers in CONSTANTS.items():
        if name not in constants:
            report.check(False, f"schema matches {name}", "constant not found in src/config/ or src/transform.rs")
            continue
        for ptr in pointers:
            try:
                got = pointer(schema, ptr)
            except (KeyError, IndexError, ValueError):
                report.check(False, f"schema matches {name}", f"no {ptr} in the schema")
                continue
            report.check(got == constants[name], f"schema matches {name} at {ptr}",
                         f"schema has {got!r}, Rust has {constants[name]!r}")

    for ex_i, example in enumerate(schema.get("examples", [])):
        err = first_error(validator, example)
        report.check(err is None, f"schema example {ex_i} validates", err or "")

    ok, env = load_json(ENV_JSON, report, "events/env.json")
    if ok:
        try:
            config = json.loads(env["CanaryRouterFunction"]["CANARY_CONFIG"])
        except (KeyError, TypeError, ValueError) as e:
            report.check(False, "events/env.json CANARY_CONFIG validates", f"no JSON config: {e!r}")
        else:
            err = first_error(validator, config)
            report.check(err is None, "events/env.json CANARY_CONFIG validates", err or "")

    for kind in ("good", "bad"):
        files = sorted((FIXTURES / kind).glob("*.json"))
        report.check(bool(files), f"tests/fixtures/configs/{kind}/ has fixtures", "none found")
        for path in files:
            what = f"{kind}/{path.name}"
            ok, config = load_json(path, report, what)
            if not ok:
                continue
            err = first_error(validator, config)
            if kind == "good":
                report.check(err is None, f"{what} validates", err or "")
            else:
                expect = config.get("x-expect-error") if isinstance(config, dict) else None
                if not (isinstance(expect, str) and expect.strip()):
                    report.check(False, what, "a bad fixture needs an `x-expect-error` string for the Rust test")
                    continue
                report.check(err is not None, f"{what} is refused ({err})" if err else f"{what} is refused",
                             f"the schema accepts it; the router refuses it with `{expect}`")

    for arg in argv:
        path = Path(arg).resolve()
        ok, config = load_json(path, report, str(arg))
        if ok:
            err = first_error(validator, config)
            report.check(err is None, f"{rel(path)} validates", err or "")

    print(f"{report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
