#!/usr/bin/env python3
"""Check that template.yaml grants the router exactly the SageMaker access its config needs.

For one or more sets of parameter values, the template is evaluated the way CloudFormation would
(parameters with their AllowedPattern/AllowedValues, Conditions, Mappings and the intrinsic
functions the template uses), and then:

  * every endpoint named in the function's CANARY_CONFIG has an IAM statement allowing
    sagemaker:InvokeEndpoint on arn:<partition>:sagemaker:<region>:<account>:endpoint/<name>;
  * the function's policies allow nothing else: no other action, no other resource, no wildcard,
    no NotAction/NotResource, no managed policy or SAM policy template beyond the logging policy
    that SAM adds by itself, no external Role;
  * CANARY_CONFIG is valid JSON whose arm weights sum to 10000, with lower-case endpoint names
    (SageMaker writes endpoint ARNs in lower case);
  * all environment variables together stay under Lambda's 4 KB limit.

Each set is evaluated twice, in the `aws` partition and in `aws-us-gov`, so that an ARN with a
hard-coded partition, region or account is caught.

Usage:
  .venv/bin/python tests/check_template_iam.py                      defaults + a built-in second set
  .venv/bin/python tests/check_template_iam.py --endpoints a,b,c    also check these endpoint names
  .venv/bin/python tests/check_template_iam.py --param CanaryWeight=500 --param Salt=x
  .venv/bin/python tests/check_template_iam.py --self-test          broken copies must be refused

Needs only the standard library and PyYAML (in .venv via tests/requirements.txt).
Exit status: 0 all checks pass; 1 a check failed; 2 bad usage or an unreadable template.
"""
from __future__ import annotations

import argparse
import copy
import fnmatch
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("check_template_iam: PyYAML is missing; run .ci/setup-python.sh and use .venv/bin/python")

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = REPO / "template.yaml"
INVOKE = "sagemaker:InvokeEndpoint"
ENV_LIMIT = 4096
# What SAM attaches to every function role it creates (CloudWatch Logs only).
IMPLICIT_MANAGED = {"AWSLambdaBasicExecutionRole"}
# A stand-in for a {{resolve:...}} dynamic reference when measuring the environment: the cookie
# key is base64 of 64 bytes (88 characters); allow twice that for a longer key.
DYNAMIC_REF_SIZE = 176
PSEUDO_SETS = [
    {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
     "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "canary-router"},
    {"AWS::Partition": "aws-us-gov", "AWS::Region": "us-gov-west-1", "AWS::AccountId": "210987654321",
     "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "canary-router-gov"},
]
# A second, non-default set checked on every run, so the template is not tied to its defaults.
BUILTIN_SET = {"EndpointNames": "fraud-model-2026-01,fraud-model-2026-02", "CanaryWeight": "500",
               "ExperimentName": "fraud-lr", "ConfigVersion": "2026-12-01.3", "Salt": "fraud-lr-7"}


class CheckError(Exception):
    """A template or parameter problem: the message says what and where."""


# --------------------------------------------------------------------------------------------
# Loading: YAML with CloudFormation short-form tags, turned into their long (JSON) form.

class CfnLoader(yaml.SafeLoader):
    pass


def _construct_tag(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {"Fn::" + tag_suffix: value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict:
    try:
        text = path.read_text()
    except OSError as e:
        raise CheckError(f"cannot read {path}: {e}") from e
    try:
        data = yaml.load(text, Loader=CfnLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as e:
        raise CheckError(f"{path} is not valid YAML: {e}") from e
    if not isinstance(data, dict) or "Resources" not in data:
        raise CheckError(f"{path} has no Resources section")
    return data


# --------------------------------------------------------------------------------------------
# Evaluation of parameters, conditions and intrinsic functions.

class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NOVALUE = _NoValue()


class Evaluator:
    def __init__(self, template: dict, values: dict[str, str], pseudo: dict[str, str]):
        self.t = template
        self.pseudo = pseudo
        self.params = self._resolve_params(values)
        self.mappings = template.get("Mappings", {}) or {}
        self._conditions: dict[str, bool] = {}

    def _resolve_params(self, values: dict[str, str]) -> dict[str, Any]:
        declared = self.t.get("Parameters", {}) or {}
        unknown = sorted(set(values) - set(declared))
        if unknown:
            raise CheckError(f"unknown parameter(s): {', '.join(unknown)}")
        out: dict[str, Any] = {}
        for name, spec in declared.items():
            if name in values:
                raw = values[name]
            elif "Default" in spec:
                raw = spec["Default"]
            else:
                raise CheckError(f"parameter {name} has no Default and no value was given")
            raw = str(raw)
            ptype = spec.get("Type", "String")
            if ptype == "CommaDelimitedList" or ptype.startswith("List<"):
                items = [s.strip() for s in raw.split(",")] if raw != "" else []
            else:
                items = [raw]
            pattern = spec.get("AllowedPattern")
            for item in items:
                if pattern is not None and re.fullmatch(pattern, item) is None:
                    raise CheckError(f"parameter {name}: value {item!r} does not match "
                                     f"AllowedPattern {pattern}")
            allowed = spec.get("AllowedValues")
            if allowed is not None and raw not in [str(a) for a in allowed]:
                raise CheckError(f"parameter {name}: value {raw!r} is not in AllowedValues")
            if ptype == "Number":
                try:
                    float(raw)
                except ValueError:
                    raise CheckError(f"parameter {name}: {raw!r} is not a number") from None
            out[name] = items if (ptype == "CommaDelimitedList" or ptype.startswith("List<")) else raw
        return out

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conds = self.t.get("Conditions", {}) or {}
            if name not in conds:
                raise CheckError(f"unknown condition {name}")
            self._conditions[name] = bool(self.eval(conds[name]))
        return self._conditions[name]

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NOVALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        if name in (self.t.get("Resources") or {}) or "." in name:
            return f"<{name}>"  # a physical ID, unknown before deployment
        raise CheckError(f"Ref to unknown name {name}")

    def sub(self, text: str, variables: dict[str, Any]) -> str:
        def repl(m: re.Match) -> str:
            key = m.group(1)
            if key.startswith("!"):
                return "${" + key[1:] + "}"
            if key in variables:
                value = variables[key]
            elif "." in key and not key.startswith("AWS::"):
                value = f"<{key}>"
            else:
                value = self.ref(key)
            if isinstance(value, list):
                raise CheckError(f"Fn::Sub: ${{{key}}} is a list")
            if value is NOVALUE:
                raise CheckError(f"Fn::Sub: ${{{key}}} is AWS::NoValue")
            return str(value)
        return re.sub(r"\$\{([^}]+)\}", repl, text)

    def eval(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.eval(x) for x in node]
            return [x for x in items if x is not NOVALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self.fn(key[4:], arg)
        out = {}
        for k, v in node.items():
            value = self.eval(v)
            if value is not NOVALUE:
                out[k] = value
        return out

    def fn(self, name: str, arg: Any) -> Any:
        if name == "Sub":
            if isinstance(arg, str):
                return self.sub(arg, {})
            text, variables = arg
            return self.sub(text, {k: self.eval(v) for k, v in variables.items()})
        if name == "Select":
            index, items = int(self.eval(arg[0])), self.eval(arg[1])
            if not isinstance(items, list) or not 0 <= index < len(items):
                raise CheckError(f"Fn::Select: index {index} out of range for {items!r} "
                                 "(CloudFormation would fail the deployment)")
            return items[index]
        if name == "Join":
            sep, items = arg[0], self.eval(arg[1])
            return sep.join(str(x) for x in items)
        if name == "Split":
            return str(self.eval(arg[1])).split(arg[0])
        if name == "If":
            cond, yes, no = arg
            return self.eval(yes) if self.condition(cond) else self.eval(no)
        if name == "Equals":
            a, b = (self.eval(x) for x in arg)
            return str(a) == str(b)
        if name == "Not":
            return not self.eval(arg[0])
        if name == "And":
            return all(self.eval(x) for x in arg)
        if name == "Or":
            return any(self.eval(x) for x in arg)
        if name == "FindInMap":
            mname, k1, k2 = (str(self.eval(x)) for x in arg[:3])
            try:
                return self.mappings[mname][k1][k2]
            except KeyError:
                raise CheckError(f"Fn::FindInMap: no {mname}/{k1}/{k2} "
                                 "(CloudFormation would fail the deployment)") from None
        if name == "GetAtt":
            parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return "<" + ".".join(str(self.eval(p)) for p in parts) + ">"
        if name == "Base64":
            return str(self.eval(arg))
        raise CheckError(f"unsupported intrinsic function Fn::{name}")


# --------------------------------------------------------------------------------------------
# The checks.

def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def router_functions(t: dict) -> dict[str, dict]:
    fns = {}
    for lid, res in (t.get("Resources") or {}).items():
        if res.get("Type") in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            env = ((res.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
            if "CANARY_CONFIG" in env:
                fns[lid] = res
    return fns


def check_once(t: dict, values: dict[str, str], pseudo: dict[str, str]) -> list[str]:
    """Return the problems found for one set of parameter values (empty when all is well)."""
    ev = Evaluator(t, values, pseudo)
    problems: list[str] = []
    fns = router_functions(t)
    if not fns:
        return ["no function in the template has a CANARY_CONFIG environment variable"]
    part, region, account = pseudo["AWS::Partition"], pseudo["AWS::Region"], pseudo["AWS::AccountId"]
    arn_prefix = f"arn:{part}:sagemaker:{region}:{account}:endpoint/"

    for lid, res in fns.items():
        props = res.get("Properties") or {}
        where = f"{lid}"
        if res.get("Condition") and not ev.condition(res["Condition"]):
            continue

        # -- the config and its endpoints
        env = ev.eval(props["Environment"]["Variables"])
        try:
            config = json.loads(env["CANARY_CONFIG"])
        except (TypeError, json.JSONDecodeError) as e:
            problems.append(f"{where}: CANARY_CONFIG is not valid JSON ({e}): {env.get('CANARY_CONFIG')!r}")
            continue
        arms = config.get("arms") if isinstance(config, dict) else None
        if not isinstance(arms, list) or not arms:
            problems.append(f"{where}: CANARY_CONFIG has no arms")
            continue
        endpoints: set[str] = set()
        for i, arm in enumerate(arms):
            for key in ("endpoint",) + (("fallback_endpoint",) if "fallback_endpoint" in arm else ()):
                name = arm.get(key)
                if not isinstance(name, str) or not name:
                    problems.append(f"{where}: CANARY_CONFIG arms[{i}].{key} is missing")
                    continue
                if name != name.lower():
                    problems.append(f"{where}: endpoint {name!r} is not lower case; SageMaker endpoint "
                                    "ARNs are lower case, so the IAM grant would not match")
                endpoints.add(name)
        weights = [arm.get("weight") for arm in arms]
        if not all(isinstance(w, int) and 0 <= w <= 10000 for w in weights) or sum(weights) != 10000:
            problems.append(f"{where}: CANARY_CONFIG arm weights {weights} must be integers summing to 10000")

        # -- environment size (dynamic references measured with a stand-in)
        size = 0
        for k, v in env.items():
            v = re.sub(r"\{\{resolve:[^}]*\}\}", "k" * DYNAMIC_REF_SIZE, str(v))
            size += len(k) + len(v)
        if size > ENV_LIMIT:
            problems.append(f"{where}: environment variables take {size} bytes, over Lambda's {ENV_LIMIT}")

        # -- the policies
        if "Role" in props:
            problems.append(f"{where}: uses an external Role, whose permissions this check cannot see")
        statements: list[tuple[str, dict]] = []
        for j, pol in enumerate(_as_list(props.get("Policies") or [])):
            pol = ev.eval(pol)
            if isinstance(pol, str):
                short = pol.rsplit("/", 1)[-1]
                if short not in IMPLICIT_MANAGED:
                    problems.append(f"{where}: Policies[{j}] attaches managed policy {pol!r}; only the "
                                    f"inline {INVOKE} statement is allowed")
                continue
            if not isinstance(pol, dict) or "Statement" not in pol:
                problems.append(f"{where}: Policies[{j}] is a SAM policy template or unknown form "
                                f"({list(pol) if isinstance(pol, dict) else pol!r}); use an inline statement")
                continue
            for s, st in enumerate(_as_list(pol["Statement"])):
                statements.append((f"Policies[{j}].Statement[{s}]", st))
        for other_id, other in (t.get("Resources") or {}).items():
            if other.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role"):
                text = json.dumps(other)
                if "sagemaker" in text.lower() or lid in text:
                    problems.append(f"{other_id}: a separate IAM resource touching the router or SageMaker; "
                                    "keep the router's permissions in its Policies")

        granted: set[str] = set()
        for at, st in statements:
            if "NotAction" in st or "NotResource" in st or "NotPrincipal" in st:
                problems.append(f"{where}: {at} uses NotAction/NotResource, which grants too much")
                continue
            if st.get("Effect") != "Allow":
                continue
            actions = [str(a) for a in _as_list(st.get("Action", []))]
            bad_actions = [a for a in actions if a.lower() != INVOKE.lower()]
            if bad_actions:
                problems.append(f"{where}: {at} allows {bad_actions}; only {INVOKE} is allowed")
            for r in _as_list(st.get("Resource", [])):
                r = str(r)
                if "*" in r or "?" in r:
                    problems.append(f"{where}: {at} has a wildcard resource {r!r}")
                    continue
                if r.startswith("EndpointNames-must"):
                    problems.append(f"{where}: {at}: EndpointNames must list exactly two endpoints "
                                    f"(control, canary); the template fails the deployment with {r!r}")
                    continue
                if not r.startswith(arn_prefix):
                    problems.append(f"{where}: {at} resource {r!r} is not an endpoint ARN of the form "
                                    f"{arn_prefix}<name> (partition, region and account from the stack)")
                    continue
                granted.add(r[len(arn_prefix):])
        missing = sorted(endpoints - granted)
        extra = sorted(granted - endpoints)
        if missing:
            problems.append(f"{where}: CANARY_CONFIG endpoint(s) {missing} are not covered by the "
                            f"{INVOKE} statement (granted: {sorted(granted)})")
        if extra:
            problems.append(f"{where}: {INVOKE} is granted on endpoint(s) {extra} that CANARY_CONFIG "
                            f"does not use (config: {sorted(endpoints)})")
    return problems


def check_template(t: dict, sets: list[tuple[str, dict[str, str]]]) -> list[str]:
    problems = []
    for label, values in sets:
        # The second partition only matters once the first passes (it catches hard-coded ARNs);
        # stopping there keeps one message per problem.
        for pseudo in PSEUDO_SETS:
            try:
                found = check_once(t, values, pseudo)
            except CheckError as e:
                found = [str(e)]
            tag = f"[{label}, {pseudo['AWS::Partition']}/{pseudo['AWS::Region']}]"
            problems += [f"{tag} {p}" for p in found]
            if found:
                break
    return problems


# --------------------------------------------------------------------------------------------
# Self-test: broken copies must be refused, the real template accepted.

def _policy_statement(t: dict) -> dict:
    fn = next(iter(router_functions(t).values()))
    for pol in fn["Properties"]["Policies"]:
        if isinstance(pol, dict) and "Statement" in pol:
            for st in pol["Statement"]:
                if "sagemaker" in json.dumps(st.get("Action")).lower():
                    return st
    raise CheckError("self-test: no SageMaker statement found in the template")


def _endpoint_arn(index: int) -> dict:
    return {"Fn::Sub": ["arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:endpoint/${N}",
                        {"N": {"Fn::Select": [index, {"Ref": "EndpointNames"}]}}]}


def self_test(path: Path) -> int:
    base = load_template(path)
    text = path.read_text()
    cases: list[tuple[str, Any, list[tuple[str, dict]], bool]] = []

    # A textual broken copy, loaded from a file like the real one: a wildcard endpoint resource.
    marker = ':endpoint/${Name}"'
    if marker not in text:
        print(f"self-test: cannot find {marker!r} in {path} to make the wildcard copy", file=sys.stderr)
        return 1
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as tmp:
        tmp.write(text.replace(marker, ':endpoint/*"', 1))
    wildcard = load_template(Path(tmp.name))
    Path(tmp.name).unlink()

    def mutate(fn) -> dict:
        t = copy.deepcopy(base)
        fn(t)
        return t

    def only_first(t):
        _policy_statement(t)["Resource"] = [_endpoint_arn(0)]

    def star(t):
        _policy_statement(t)["Resource"] = "*"

    def extra_action(t):
        _policy_statement(t)["Action"] = [INVOKE, "sagemaker:UpdateEndpointWeightsAndCapacities"]

    def sagemaker_star_action(t):
        _policy_statement(t)["Action"] = "sagemaker:Invoke*"

    def extra_endpoint(t):
        _policy_statement(t)["Resource"] = [_endpoint_arn(0), _endpoint_arn(1), {
            "Fn::Sub": "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:endpoint/other-model"}]

    def hardcoded_partition(t):
        _policy_statement(t)["Resource"] = [
            {"Fn::Sub": ["arn:aws:sagemaker:us-east-1:${AWS::AccountId}:endpoint/${N}",
                         {"N": {"Fn::Select": [i, {"Ref": "EndpointNames"}]}}]} for i in (0, 1)]

    def managed_policy(t):
        next(iter(router_functions(t).values()))["Properties"]["Policies"].append("AmazonSageMakerFullAccess")

    def not_resource(t):
        st = _policy_statement(t)
        st["NotResource"] = st.pop("Resource")

    defaults: list[tuple[str, dict]] = [("defaults", {})]
    cases += [
        ("the real template", base, defaults + [("built-in set", BUILTIN_SET)], True),
        ("wildcard endpoint resource (file copy)", wildcard, defaults, False),
        ("Resource: '*'", mutate(star), defaults, False),
        ("missing canary endpoint", mutate(only_first), defaults, False),
        ("endpoint not in the config", mutate(extra_endpoint), defaults, False),
        ("extra sagemaker action", mutate(extra_action), defaults, False),
        ("wildcard action", mutate(sagemaker_star_action), defaults, False),
        ("hard-coded partition and region", mutate(hardcoded_partition), defaults, False),
        ("managed policy attached", mutate(managed_policy), defaults, False),
        ("NotResource", mutate(not_resource), defaults, False),
        ("three endpoint names", base, [("three", {"EndpointNames": "a-1,b-2,c-3"})], False),
        ("one endpoint name", base, [("one", {"EndpointNames": "a-1"})], False),
        ("upper-case endpoint name", base, [("upper", {"EndpointNames": "Iris-A,iris-b"})], False),
    ]
    passed = failed = 0
    for name, t, sets, should_pass in cases:
        problems = check_template(t, sets)
        ok = (not problems) == should_pass
        verdict = "ok  " if ok else "FAIL"
        outcome = "accepted" if not problems else f"refused: {problems[0]}"
        print(f"{verdict} {name}: {outcome}")
        if ok:
            passed += 1
        else:
            failed += 1
            for p in problems[1:]:
                print(f"       {p}")
    print(f"self-test: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    ap.add_argument("--endpoints", help="comma-separated EndpointNames for an extra parameter set")
    ap.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                    help="another parameter of that extra set (repeatable)")
    ap.add_argument("--self-test", action="store_true", help="check that broken copies are refused")
    args = ap.parse_args(argv)

    try:
        if args.self_test:
            return self_test(args.template)
        template = load_template(args.template)
    except CheckError as e:
        print(f"check_template_iam: {e}", file=sys.stderr)
        return 2

    sets: list[tuple[str, dict[str, str]]] = [("defaults", {}), ("built-in set", BUILTIN_SET)]
    if args.endpoints is not None or args.param:
        extra: dict[str, str] = {}
        for kv in args.param:
            if "=" not in kv:
                print(f"check_template_iam: --param wants KEY=VALUE, got {kv!r}", file=sys.stderr)
                return 2
            k, v = kv.split("=", 1)
            extra[k] = v
        if args.endpoints is not None:
            extra["EndpointNames"] = args.endpoints
        sets.append(("command line", extra))

    problems = check_template(template, sets)
    if problems:
        print(f"check_template_iam: {args.template}: {len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    labels = ", ".join(label for label, _ in sets)
    print(f"check_template_iam: OK: {args.template.name} grants {INVOKE} on exactly the configured "
          f"endpoints ({labels}; partitions aws and aws-us-gov)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
