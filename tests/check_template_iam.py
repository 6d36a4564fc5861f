#!/usr/bin/env python3
"""Check that template.yaml grants the router exactly the access its config documents need.

For several sets of parameter values, the template is evaluated the way CloudFormation would
(parameters with their AllowedPattern/AllowedValues/MinValue/MaxValue, Conditions, Mappings and
the intrinsic functions the template uses), and then, for every router function (a function
with a config source in its environment):

  * the config document is the one the function starts with: with CANARY_APPCONFIG, the initial
    AWS::AppConfig::HostedConfigurationVersion of the application/environment/profile that the
    variable names (by Ref); with CANARY_CONFIG, the inline JSON. Exactly one source is set;
  * every endpoint named there (arms and shadows) is granted sagemaker:InvokeEndpoint on
    arn:<partition>:sagemaker:<region>:<account>:endpoint/<name>, every inference component on
    ...:inference-component/<name>; the arms' endpoints and components are also granted
    sagemaker:InvokeEndpointWithResponseStream (a buffered function still answers
    `Accept: text/event-stream`), shadows are not; appconfig:StartConfigurationSession and
    appconfig:GetLatestConfiguration are granted on exactly the profile's ARN
    (...:application/<app>/environment/<env>/configuration/<profile>);
  * nothing else: no other action or resource, no wildcard, no NotAction/NotResource, no managed
    policy but AWSLambdaBasicExecutionRole, no role from outside the template, no separate IAM
    policy attached to it; the role trusts lambda.amazonaws.com only;
  * the AppConfig side is safe to roll out with: the initial document is kept on stack updates
    and deletes (Retain), the initial AWS::AppConfig::Deployment deploys version "1" as a literal
    (a !Ref to the hosted version would redeploy the template's document over the operators'
    one whenever a parameter changes), the function depends on that deployment, every
    deployment strategy is all at once (growth 100%, no duration) and one bakes; the profile's
    validator is a Lambda function of the router binary (CANARY_MODE=appconfig-validator) that
    AppConfig may invoke and that has no permissions itself; the environment's monitors include,
    for each non-control arm of the document, an alarm on its EMF `errors` and one on the p99 of
    its `latency_ms` (namespace metrics_namespace, dimensions experiment and arm), and one on
    `config_refusals`; the role AppConfig assumes for them trusts appconfig.amazonaws.com only and
    may call cloudwatch:DescribeAlarms on exactly those alarms;
  * a function with CANARY_RESPONSE_STREAMING=1 sits only behind streaming front ends (its
    Function URL with InvokeMode RESPONSE_STREAM, REST API events with ResponseTransferMode
    RESPONSE_STREAM) and has a timeout fit for generations; a buffered function behind none;
    a public permission (Principal "*") exists only for a function URL whose AuthType is NONE;
  * the document's weights sum to 10000, its endpoint and component names are lower case
    (SageMaker writes ARNs in lower case), and all environment variables together stay under
    Lambda's 4 KB.

Each set is evaluated twice, in the `aws` partition and in `aws-us-gov`, so that an ARN with a
hard-coded partition, region or account is caught.

Usage:
  .venv/bin/python tests/check_template_iam.py                      defaults + built-in sets
  .venv/bin/python tests/check_template_iam.py --endpoints a,b      also check these endpoint names
  .venv/bin/python tests/check_template_iam.py --param ShadowEndpointNames=s-1 --param Salt=x
  .venv/bin/python tests/check_template_iam.py --router target/debug/canary-router
                                 also run each initial document through the router's validation
  .venv/bin/python tests/check_template_iam.py --self-test          broken copies must be refused

Needs only the standard library and PyYAML (in .venv via tests/requirements.txt).
Exit status: 0 all checks pass; 1 a check failed; 2 bad usage or an unreadable template.
"""
from __future__ import annotations

import argparse
import copy
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("check_template_iam: PyYAML is missing; run .ci/setup-python.sh and use .venv/bin/python")

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = REPO / "template.yaml"
INVOKE = "sagemaker:InvokeEndpoint"
STREAM = "sagemaker:InvokeEndpointWithResponseStream"
START_SESSION = "appconfig:StartConfigurationSession"
GET_LATEST = "appconfig:GetLatestConfiguration"
ROUTER_ACTIONS = (INVOKE, STREAM, START_SESSION, GET_LATEST)
DESCRIBE_ALARMS = "cloudwatch:DescribeAlarms"
CONFIG_SOURCES = ("CANARY_CONFIG", "CANARY_CONFIG_FILE", "CANARY_APPCONFIG")
VALIDATOR_MODE = "appconfig-validator"
ENV_LIMIT = 4096
# A streamed generation may take minutes; behind the REST API it may last 15.
MIN_STREAMING_TIMEOUT_S = 300
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
# Non-default sets checked on every run, so the template is not tied to its defaults: shadows,
# the extension layer and a refresh interval; then inference components on one shared endpoint,
# three shadows and a public function URL.
BUILTIN_SET = {"EndpointNames": "fraud-model-2026-01,fraud-model-2026-02", "CanaryWeight": "500",
               "ExperimentName": "fraud-lr", "ConfigVersion": "2026-12-01.3", "Salt": "fraud-lr-7",
               "ShadowEndpointNames": "fraud-shadow-1,fraud-shadow-2",
               "AppConfigExtensionLayerArn": "arn:aws:lambda:us-east-1:111122223333:layer:AWS-AppConfig-Extension:1",
               "ConfigRefreshMs": "500"}
INFERENCE_SET = {"EndpointNames": "llm-endpoint,llm-endpoint",
                 "InferenceComponentNames": "llm-ic-2026-01,llm-ic-2026-02",
                 "ShadowEndpointNames": "llm-shadow-a,llm-shadow-b,llm-shadow-c",
                 "StreamingFunctionUrlAuthType": "NONE", "ExperimentName": "llm-ramp",
                 "CanaryWeight": "2500"}
BUILTIN_SETS: list[tuple[str, dict[str, str]]] = [
    ("defaults", {}), ("built-in set", BUILTIN_SET), ("inference components", INFERENCE_SET)]


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
                # As CloudFormation does: "" is a list of one empty item, which AllowedPattern
                # must accept too.
                items = [s.strip() for s in raw.split(",")]
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
                    number = float(raw)
                except ValueError:
                    raise CheckError(f"parameter {name}: {raw!r} is not a number") from None
                for bound, ok in (("MinValue", lambda lo: number >= float(lo)),
                                  ("MaxValue", lambda hi: number <= float(hi))):
                    if bound in spec and not ok(spec[bound]):
                        raise CheckError(f"parameter {name}: {raw} is outside its {bound} {spec[bound]}")
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


def _placeholder(value: Any) -> str | None:
    """The logical ID inside "<Id>" or "<Id.Attribute>" (a Ref or GetAtt of this template)."""
    m = re.fullmatch(r"<([A-Za-z0-9]+)(\.[A-Za-z0-9.]+)?>", str(value))
    return m.group(1) if m else None


def _depends_on(res: dict) -> set[str]:
    return {str(d) for d in _as_list(res.get("DependsOn") or [])}


def _raw_env(res: dict) -> dict:
    return ((res.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}


def _functions(t: dict) -> dict[str, dict]:
    return {lid: r for lid, r in (t.get("Resources") or {}).items()
            if r.get("Type") in ("AWS::Serverless::Function", "AWS::Lambda::Function")}


def router_functions(t: dict) -> dict[str, dict]:
    """Functions that serve the router: a config source is declared in their environment."""
    return {lid: r for lid, r in _functions(t).items() if any(k in _raw_env(r) for k in CONFIG_SOURCES)}


def validator_functions(t: dict) -> dict[str, dict]:
    return {lid: r for lid, r in _functions(t).items() if _raw_env(r).get("CANARY_MODE") == VALIDATOR_MODE}


def _of_type(t: dict, rtype: str) -> dict[str, dict]:
    return {lid: r for lid, r in (t.get("Resources") or {}).items() if r.get("Type") == rtype}


class Check:
    """One evaluation of the template: one parameter set in one partition."""

    def __init__(self, t: dict, values: dict[str, str], pseudo: dict[str, str], router: Path | None = None):
        self.t = t
        self.router_bin = router
        self.ev = Evaluator(t, values, pseudo)
        self.pseudo = pseudo
        self.res = t.get("Resources") or {}
        self.problems: list[str] = []

    # -- helpers

    def add(self, msg: str) -> None:
        self.problems.append(msg)

    def active(self, res: dict) -> bool:
        return not res.get("Condition") or self.ev.condition(res["Condition"])

    def props(self, lid: str) -> dict:
        return self.ev.eval(self.res[lid].get("Properties") or {})

    def arn(self, service: str, resource: str) -> str:
        p = self.pseudo
        return f"arn:{p['AWS::Partition']}:{service}:{p['AWS::Region']}:{p['AWS::AccountId']}:{resource}"

    def type_of(self, lid: str | None) -> str | None:
        return (self.res.get(lid) or {}).get("Type") if lid else None

    # -- the whole template

    def run(self) -> list[str]:
        routers = {lid: r for lid, r in router_functions(self.t).items() if self.active(r)}
        if not routers:
            return ["no function in the template has a config source (CANARY_APPCONFIG, CANARY_CONFIG "
                    "or CANARY_CONFIG_FILE) in its environment"]
        checked_roles: set[str] = set()
        for lid, res in routers.items():
            self.router(lid, res, checked_roles)
        for lid, res in validator_functions(self.t).items():
            if self.active(res):
                self.validator(lid, res)
        monitor_roles = self.monitor_roles()
        self.public_permissions()
        self.other_iam(checked_roles | monitor_roles, set(routers))
        return self.problems

    # -- one router function

    def router(self, lid: str, res: dict, checked_roles: set[str]) -> None:
        props = res.get("Properties") or {}
        env = self.ev.eval(_raw_env(res))
        sources = [k for k in CONFIG_SOURCES if str(env.get(k, "")).strip()]
        if len(sources) != 1:
            self.add(f"{lid}: exactly one config source must be set (one of {', '.join(CONFIG_SOURCES)}); "
                     f"set: {sources or 'none'} (the router refuses to start otherwise)")
            return
        source = sources[0]
        profile_arn = None
        ids: tuple[str, str, str] | None = None
        if source == "CANARY_CONFIG":
            text, where = str(env["CANARY_CONFIG"]), "CANARY_CONFIG"
        elif source == "CANARY_APPCONFIG":
            found = self.appconfig_source(lid, res, env)
            if found is None:
                return
            text, where, ids = found
            app, envid, prof = ids
            profile_arn = self.arn("appconfig", f"application/<{app}>/environment/<{envid}>/configuration/<{prof}>")
        else:
            self.add(f"{lid}: CANARY_CONFIG_FILE names a file inside the artifact, which this check cannot "
                     "read: use CANARY_APPCONFIG (or CANARY_CONFIG)")
            return
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            self.add(f"{lid}: {where} is not valid JSON ({e}): {text!r}")
            return
        expected = self.expected_grants(lid, where, doc, profile_arn)
        if expected is None:
            return
        if self.router_bin is not None:
            self.router_accepts(lid, where, text)
        if ids is not None:
            self.monitors(lid, ids[1], doc)
        self.environment_size(lid, env)
        self.front_ends(lid, res, env)
        statements = self.statements(lid, res, checked_roles)
        if statements is not None:
            self.compare(lid, where, statements, expected)

    def appconfig_source(self, lid: str, res: dict, env: dict) -> tuple[str, str, tuple[str, str, str]] | None:
        value = str(env["CANARY_APPCONFIG"])
        m = re.fullmatch(r"<([A-Za-z0-9]+)>/<([A-Za-z0-9]+)>/<([A-Za-z0-9]+)>", value)
        if not m:
            self.add(f"{lid}: CANARY_APPCONFIG is {value!r}; it must name this stack's AppConfig application, "
                     "environment and profile by Ref (!Sub \"${App}/${Env}/${Profile}\"), so that the IAM "
                     "grant and the initial document can be matched to it")
            return None
        app, envid, prof = m.groups()
        for rid, rtype in ((app, "AWS::AppConfig::Application"), (envid, "AWS::AppConfig::Environment"),
                           (prof, "AWS::AppConfig::ConfigurationProfile")):
            if self.type_of(rid) != rtype:
                self.add(f"{lid}: CANARY_APPCONFIG names {rid}, which is not an {rtype} of this template")
                return None
        for rid in (envid, prof):
            if self.props(rid).get("ApplicationId") != f"<{app}>":
                self.add(f"{rid}: belongs to another application than {app}")
        if self.props(prof).get("LocationUri") != "hosted":
            self.add(f"{prof}: LocationUri must be `hosted`: the initial document is a hosted configuration version")
        self.extension(lid, res, env)
        self.validators(prof)

        # The initial document.
        versions = [v for v, r in _of_type(self.t, "AWS::AppConfig::HostedConfigurationVersion").items()
                    if self.active(r) and self.props(v).get("ApplicationId") == f"<{app}>"
                    and self.props(v).get("ConfigurationProfileId") == f"<{prof}>"]
        if len(versions) != 1:
            self.add(f"{lid}: {prof} must have exactly one hosted configuration version in the template (the "
                     f"initial document), found {versions or 'none'}")
            return None
        version = versions[0]
        vres = self.res[version]
        for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
            if vres.get(policy) != "Retain":
                self.add(f"{version}: {policy} must be Retain: every property of a hosted version requires a "
                         "replacement, so a stack update (or delete) would otherwise delete operators' history")
        vprops = self.props(version)
        if vprops.get("ContentType") != "application/json":
            self.add(f"{version}: ContentType must be application/json")

        # The initial deployment: the function starts after it, and it never redeploys.
        deployments = [d for d, r in _of_type(self.t, "AWS::AppConfig::Deployment").items()
                       if self.active(r) and self.props(d).get("ApplicationId") == f"<{app}>"
                       and self.props(d).get("EnvironmentId") == f"<{envid}>"
                       and self.props(d).get("ConfigurationProfileId") == f"<{prof}>"]
        if not deployments:
            self.add(f"{lid}: no AWS::AppConfig::Deployment of {version} to {envid}: the function would start "
                     "with no document to serve and refuse to start")
        for d in deployments:
            raw_version = (self.res[d].get("Properties") or {}).get("ConfigurationVersion")
            if not isinstance(raw_version, (str, int)) or str(raw_version) != "1":
                self.add(f"{d}: ConfigurationVersion must be the literal \"1\" (the profile's first hosted version), "
                         f"not {raw_version!r}: a reference to {version} changes when a parameter does, which "
                         "replaces the deployment and deploys the template's document over the operators' one")
            if version not in _depends_on(self.res[d]):
                self.add(f"{d}: must DependsOn {version} (the literal version number does not imply it)")
            strategy = _placeholder(self.props(d).get("DeploymentStrategyId"))
            if self.type_of(strategy) != "AWS::AppConfig::DeploymentStrategy":
                self.add(f"{d}: DeploymentStrategyId must be a deployment strategy of this template, "
                         f"not {self.props(d).get('DeploymentStrategyId')!r}")
            if d not in _depends_on(res):
                self.add(f"{lid}: must DependsOn {d}, so that it starts once {envid} has a document")
        self.strategies()
        return str(vprops.get("Content", "")), f"{version} (the initial document)", (app, envid, prof)

    def extension(self, lid: str, res: dict, env: dict) -> None:
        poll = str(env.get("AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS", ""))
        if not re.fullmatch(r"[1-9][0-9]*", poll):
            self.add(f"{lid}: AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS must be set to a whole number of "
                     f"seconds (got {poll!r}): a schedule's first step must be at least that far ahead")
        layer = self.ev.params.get("AppConfigExtensionLayerArn")
        layers = [str(x) for x in _as_list(self.ev.eval((res.get("Properties") or {}).get("Layers") or []))]
        if layer and layer not in layers:
            self.add(f"{lid}: the AppConfig extension layer {layer} is not among its Layers {layers}")

    def strategies(self) -> None:
        baked = False
        for s, r in _of_type(self.t, "AWS::AppConfig::DeploymentStrategy").items():
            if not self.active(r):
                continue
            p = self.props(s)
            if str(p.get("GrowthFactor")) not in ("100", "100.0") or str(p.get("DeploymentDurationInMinutes")) != "0":
                self.add(f"{s}: must deploy all at once (GrowthFactor 100, DeploymentDurationInMinutes 0), got "
                         f"GrowthFactor {p.get('GrowthFactor')}, duration {p.get('DeploymentDurationInMinutes')}: "
                         "a gradual strategy gives the new document to a share of instances, and users flip "
                         "between arms from request to request (ramps go into the document's schedule)")
            bake = float(p.get("FinalBakeTimeInMinutes", 0) or 0)
            if bake > 1440:
                self.add(f"{s}: FinalBakeTimeInMinutes {bake:g} is over AppConfig's 1440")
            baked = baked or bake >= 1
        if not baked:
            self.add("no AppConfig deployment strategy bakes (FinalBakeTimeInMinutes >= 1): alarms could never roll "
                     "a deployed document back")

    def validators(self, prof: str) -> None:
        validators = _as_list(self.props(prof).get("Validators") or [])
        lambdas = [_placeholder(v.get("Content")) for v in validators if isinstance(v, dict) and v.get("Type") == "LAMBDA"]
        others = [v.get("Type") for v in validators if not (isinstance(v, dict) and v.get("Type") == "LAMBDA")]
        if others:
            self.add(f"{prof}: validators {others}: use the router's Lambda validator only (AppConfig's JSON Schema "
                     "validator takes Draft 4 and 32,768 characters; config.schema.json is neither)")
        good = [f for f in lambdas if f in validator_functions(self.t)]
        if not good:
            self.add(f"{prof}: no LAMBDA validator naming a function with CANARY_MODE={VALIDATOR_MODE} "
                     f"(validators: {validators})")
        for f in good:
            allowed = False
            for p, r in _of_type(self.t, "AWS::Lambda::Permission").items():
                if not self.active(r):
                    continue
                pp = self.props(p)
                if _placeholder(pp.get("FunctionName")) == f and pp.get("Principal") == "appconfig.amazonaws.com" \
                        and pp.get("Action") == "lambda:InvokeFunction":
                    allowed = True
            if not allowed:
                self.add(f"{f}: no AWS::Lambda::Permission lets appconfig.amazonaws.com invoke it "
                         "(lambda:InvokeFunction): every deployment would fail validation")

    # -- what the document needs

    def expected_grants(self, lid: str, where: str, doc: Any, profile_arn: str | None) -> dict[str, set[str]] | None:
        arms = doc.get("arms") if isinstance(doc, dict) else None
        if not isinstance(arms, list) or not arms:
            self.add(f"{lid}: {where} has no arms")
            return None
        shadows = doc.get("shadow") or []
        if not isinstance(shadows, list):
            self.add(f"{lid}: {where}: `shadow` is not a list")
            return None
        invoke: set[str] = set()
        stream: set[str] = set()

        def name_of(kind: str, owner: str, value: Any) -> str | None:
            if not isinstance(value, str) or not value:
                self.add(f"{lid}: {where} {owner} has no {kind} name")
                return None
            if value != value.lower():
                self.add(f"{lid}: {where} {owner}: {kind} {value!r} is not lower case; SageMaker ARNs are lower "
                         "case, so the IAM grant would not match")
            return value

        for i, arm in enumerate(arms):
            for key in ("endpoint",) + (("fallback_endpoint",) if "fallback_endpoint" in arm else ()):
                ep = name_of("endpoint", f"arms[{i}].{key}", arm.get(key))
                if ep:
                    invoke.add(self.arn("sagemaker", f"endpoint/{ep}"))
                    stream.add(self.arn("sagemaker", f"endpoint/{ep}"))
            if "inference_component" in arm:
                ic = name_of("inference component", f"arms[{i}]", arm.get("inference_component"))
                if ic:
                    invoke.add(self.arn("sagemaker", f"inference-component/{ic}"))
                    stream.add(self.arn("sagemaker", f"inference-component/{ic}"))
        for i, shadow in enumerate(shadows):
            ep = name_of("endpoint", f"shadow[{i}]", (shadow or {}).get("endpoint"))
            if ep:
                invoke.add(self.arn("sagemaker", f"endpoint/{ep}"))
            if "inference_component" in (shadow or {}):
                ic = name_of("inference component", f"shadow[{i}]", shadow.get("inference_component"))
                if ic:
                    invoke.add(self.arn("sagemaker", f"inference-component/{ic}"))
        weights = [arm.get("weight") for arm in arms]
        if not all(isinstance(w, int) and 0 <= w <= 10000 for w in weights) or sum(weights) != 10000:
            self.add(f"{lid}: {where}: arm weights {weights} must be integers summing to 10000")
        expected = {INVOKE: invoke, STREAM: stream, START_SESSION: set(), GET_LATEST: set()}
        if profile_arn:
            expected[START_SESSION] = {profile_arn}
            expected[GET_LATEST] = {profile_arn}
        return expected

    def router_accepts(self, lid: str, where: str, text: str) -> None:
        """The router's own validation (`plan CONFIG` exits 2 on an invalid config): the document the
        profile's validator would refuse, failing the stack's initial deployment."""
        with tempfile.NamedTemporaryFile("w", suffix=".json") as tmp:
            tmp.write(text)
            tmp.flush()
            try:
                p = subprocess.run([str(self.router_bin), "plan", tmp.name], capture_output=True, text=True,
                                   timeout=60)
            except OSError as e:
                raise CheckError(f"cannot run {self.router_bin}: {e}") from e
        if p.returncode != 0:
            self.add(f"{lid}: the router refuses {where} (`plan` exit {p.returncode}): {p.stderr.strip()}")

    def monitors(self, lid: str, envid: str, doc: dict) -> None:
        namespace = doc.get("metrics_namespace") or "CanaryRouter"
        experiment = doc.get("experiment")
        watched: list[tuple[str, str, dict, str]] = []
        for m in _as_list(self.props(envid).get("Monitors") or []):
            alarm = _placeholder((m or {}).get("AlarmArn"))
            if self.type_of(alarm) == "AWS::CloudWatch::Alarm":
                watched += self.alarm_metrics(alarm)

        def has(metric: str, dims: dict, stat: str | None = None) -> bool:
            return any(ns == namespace and name == metric and d == dims and (stat is None or s == stat)
                       for ns, name, d, s in watched)

        for arm in doc.get("arms", [])[1:]:
            dims = {"experiment": experiment, "arm": arm.get("name")}
            if not has("errors", dims):
                self.add(f"{envid}: no monitor on the `errors` of arm {arm.get('name')!r} ({namespace}, {dims}): a "
                         "failing canary model would not roll its document back")
            if not has("latency_ms", dims, "p99"):
                self.add(f"{envid}: no monitor on the p99 `latency_ms` of arm {arm.get('name')!r} ({namespace}, {dims})")
        if not has("config_refusals", {"experiment": experiment}):
            self.add(f"{envid}: no monitor on `config_refusals` ({namespace}, experiment={experiment}): a document "
                     "that some instances refuse would leave the fleet split between two configs")

    def alarm_metrics(self, alarm: str) -> list[tuple[str, str, dict, str]]:
        p = self.props(alarm)
        out = []

        def dims(ds: Any) -> dict:
            return {d.get("Name"): d.get("Value") for d in _as_list(ds or [])}

        if p.get("MetricName"):
            out.append((p.get("Namespace"), p["MetricName"], dims(p.get("Dimensions")),
                        p.get("ExtendedStatistic") or p.get("Statistic")))
        for q in _as_list(p.get("Metrics") or []):
            stat = (q or {}).get("MetricStat") or {}
            metric = stat.get("Metric") or {}
            if metric:
                out.append((metric.get("Namespace"), metric.get("MetricName"), dims(metric.get("Dimensions")),
                            stat.get("Stat")))
        return out

    # -- the function's surroundings

    def environment_size(self, lid: str, env: dict) -> None:
        size = 0
        for k, v in env.items():
            v = re.sub(r"\{\{resolve:[^}]*\}\}", "k" * DYNAMIC_REF_SIZE, str(v))
            size += len(k) + len(v)
        if size > ENV_LIMIT:
            self.add(f"{lid}: environment variables take {size} bytes, over Lambda's {ENV_LIMIT}")

    def front_ends(self, lid: str, res: dict, env: dict) -> None:
        props = res.get("Properties") or {}
        streaming = str(env.get("CANARY_RESPONSE_STREAMING", "")).strip() == "1"
        url = self.ev.eval(props.get("FunctionUrlConfig") or {})
        if url:
            mode = url.get("InvokeMode", "BUFFERED")
            if streaming != (mode == "RESPONSE_STREAM"):
                self.add(f"{lid}: CANARY_RESPONSE_STREAMING={'1' if streaming else 'unset'} behind a function URL in "
                         f"InvokeMode {mode}: a streaming function needs RESPONSE_STREAM, a buffered one BUFFERED")
        for name, event in (props.get("Events") or {}).items():
            etype = event.get("Type")
            ep = self.ev.eval(event.get("Properties") or {})
            if etype == "Api":
                rtm = ep.get("ResponseTransferMode", "BUFFERED")
                if streaming != (rtm == "RESPONSE_STREAM"):
                    self.add(f"{lid}: event {name} (REST API) has ResponseTransferMode {rtm} on a "
                             f"{'streaming' if streaming else 'buffered'} function")
            elif etype in ("HttpApi",) and streaming:
                self.add(f"{lid}: event {name}: an HTTP API cannot stream; a streaming function's prelude would "
                         "reach its clients")
        if streaming:
            timeout = int(self.ev.eval(props.get("Timeout", 3)))
            if timeout < MIN_STREAMING_TIMEOUT_S:
                self.add(f"{lid}: Timeout {timeout} s is short for generations (at least {MIN_STREAMING_TIMEOUT_S}; "
                         "Lambda allows 900)")

    def statements(self, lid: str, res: dict, checked_roles: set[str]) -> list[tuple[str, dict]] | None:
        props = res.get("Properties") or {}
        out: list[tuple[str, dict]] = []
        if "Role" in props:
            role = _placeholder(self.ev.eval(props["Role"]))
            if self.type_of(role) != "AWS::IAM::Role":
                self.add(f"{lid}: uses a Role from outside the template ({self.ev.eval(props['Role'])!r}), whose "
                         "permissions this check cannot see")
                return None
            if props.get("Policies"):
                self.add(f"{lid}: has Policies beside Role, which SAM ignores")
            checked_roles.add(role)
            rp = self.props(role)
            self.trust(role, rp, "lambda.amazonaws.com")
            for arn in _as_list(rp.get("ManagedPolicyArns") or []):
                if str(arn) != f"arn:{self.pseudo['AWS::Partition']}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole":
                    self.add(f"{role}: attaches managed policy {arn!r}; only AWSLambdaBasicExecutionRole (logs) is allowed")
            for j, pol in enumerate(_as_list(rp.get("Policies") or [])):
                doc = (pol or {}).get("PolicyDocument") or {}
                for s, st in enumerate(_as_list(doc.get("Statement") or [])):
                    out.append((f"{role}.Policies[{j}].Statement[{s}]", st))
            return out
        for j, pol in enumerate(_as_list(props.get("Policies") or [])):
            pol = self.ev.eval(pol)
            if isinstance(pol, str):
                if pol.rsplit("/", 1)[-1] not in IMPLICIT_MANAGED:
                    self.add(f"{lid}: Policies[{j}] attaches managed policy {pol!r}; only inline statements are allowed")
                continue
            if not isinstance(pol, dict) or "Statement" not in pol:
                self.add(f"{lid}: Policies[{j}] is a SAM policy template or unknown form "
                         f"({list(pol) if isinstance(pol, dict) else pol!r}); use an inline statement")
                continue
            for s, st in enumerate(_as_list(pol["Statement"])):
                out.append((f"{lid}.Policies[{j}].Statement[{s}]", st))
        return out

    def trust(self, role: str, rp: dict, service: str) -> None:
        for s, st in enumerate(_as_list((rp.get("AssumeRolePolicyDocument") or {}).get("Statement") or [])):
            if st.get("Effect") != "Allow":
                continue
            principal = st.get("Principal") or {}
            services = _as_list(principal.get("Service") or []) if isinstance(principal, dict) else []
            others = [k for k in (principal if isinstance(principal, dict) else {"*": 1}) if k != "Service"]
            if services != [service] or others or _as_list(st.get("Action")) != ["sts:AssumeRole"]:
                self.add(f"{role}: trust statement {s} lets {principal!r} {st.get('Action')!r}; only {service} "
                         "may assume it (sts:AssumeRole)")

    def compare(self, lid: str, where: str, statements: list[tuple[str, dict]], expected: dict[str, set[str]]) -> None:
        part = self.pseudo["AWS::Partition"]
        granted: dict[str, set[str]] = {a: set() for a in ROUTER_ACTIONS}
        for at, st in statements:
            if any(k in st for k in ("NotAction", "NotResource", "NotPrincipal")):
                self.add(f"{lid}: {at} uses NotAction/NotResource, which grants too much")
                continue
            if st.get("Effect") != "Allow":
                continue
            actions = [str(a) for a in _as_list(st.get("Action", []))]
            known = []
            for a in actions:
                match = [r for r in ROUTER_ACTIONS if r.lower() == a.lower()]
                if not match:
                    self.add(f"{lid}: {at} allows {a!r}; the router needs only {', '.join(ROUTER_ACTIONS)}")
                known += match
            for r in _as_list(st.get("Resource", [])):
                r = str(r)
                if "*" in r or "?" in r:
                    self.add(f"{lid}: {at} has a wildcard resource {r!r}")
                    continue
                deliberate = re.match(r"arn:aws-([A-Za-z]+)-must-", r)
                if deliberate:
                    self.add(f"{lid}: {at}: parameter {deliberate.group(1)} is invalid; the template fails the "
                             f"deployment with the resource {r!r}")
                    continue
                if not r.startswith(f"arn:{part}:"):
                    self.add(f"{lid}: {at} resource {r!r} is not an ARN of partition {part} (partition, region and "
                             "account must come from the stack)")
                    continue
                for a in known:
                    granted[a].add(r)
        for action in ROUTER_ACTIONS:
            missing = sorted(expected[action] - granted[action])
            extra = sorted(granted[action] - expected[action])
            if missing:
                self.add(f"{lid}: {action} is not granted on {missing}, which {where} needs "
                         f"(granted: {sorted(granted[action])})")
            if extra:
                self.add(f"{lid}: {action} is granted on {extra}, which {where} does not use "
                         f"(it uses: {sorted(expected[action])})")

    # -- the other functions and roles

    def validator(self, lid: str, res: dict) -> None:
        props = res.get("Properties") or {}
        if props.get("Role") or props.get("Policies"):
            self.add(f"{lid}: the config validator needs no permission beyond its logs (it calls nothing); "
                     f"it has {'a Role' if props.get('Role') else 'Policies'}")
        env = self.ev.eval(_raw_env(res))
        if any(str(env.get(k, "")).strip() for k in CONFIG_SOURCES):
            self.add(f"{lid}: the config validator must not carry a config source")

    def monitor_roles(self) -> set[str]:
        alarms_by_role: dict[str, set[str]] = {}
        for envid, r in _of_type(self.t, "AWS::AppConfig::Environment").items():
            if not self.active(r):
                continue
            monitors = _as_list(self.props(envid).get("Monitors") or [])
            if len(monitors) > 5:
                self.add(f"{envid}: {len(monitors)} monitors; AppConfig takes at most 5")
            for m in monitors:
                alarm, role = _placeholder(m.get("AlarmArn")), _placeholder(m.get("AlarmRoleArn"))
                if self.type_of(alarm) != "AWS::CloudWatch::Alarm":
                    self.add(f"{envid}: monitor {m.get('AlarmArn')!r} is not a metric alarm of this template")
                    continue
                if self.type_of(role) != "AWS::IAM::Role":
                    self.add(f"{envid}: monitor {alarm} has no AlarmRoleArn of this template "
                             f"({m.get('AlarmRoleArn')!r}): AppConfig could not read the alarm")
                    continue
                alarms_by_role.setdefault(role, set()).add(f"<{alarm}.Arn>")
        for role, alarms in alarms_by_role.items():
            rp = self.props(role)
            self.trust(role, rp, "appconfig.amazonaws.com")
            if rp.get("ManagedPolicyArns"):
                self.add(f"{role}: attaches managed policies {rp['ManagedPolicyArns']!r}; it needs only "
                         f"{DESCRIBE_ALARMS} on its alarms")
            granted: set[str] = set()
            for j, pol in enumerate(_as_list(rp.get("Policies") or [])):
                for s, st in enumerate(_as_list(((pol or {}).get("PolicyDocument") or {}).get("Statement") or [])):
                    at = f"{role}.Policies[{j}].Statement[{s}]"
                    if any(k in st for k in ("NotAction", "NotResource")):
                        self.add(f"{at} uses NotAction/NotResource")
                        continue
                    if st.get("Effect") != "Allow":
                        continue
                    for a in _as_list(st.get("Action", [])):
                        if str(a).lower() != DESCRIBE_ALARMS.lower():
                            self.add(f"{at} allows {a!r}; AppConfig needs only {DESCRIBE_ALARMS}")
                    for r in _as_list(st.get("Resource", [])):
                        if "*" in str(r) or "?" in str(r):
                            self.add(f"{at} has a wildcard resource {r!r}")
                        else:
                            granted.add(str(r))
            if sorted(alarms - granted):
                self.add(f"{role}: {DESCRIBE_ALARMS} is not granted on {sorted(alarms - granted)}: AppConfig "
                         "could not read those monitors")
            if sorted(granted - alarms):
                self.add(f"{role}: {DESCRIBE_ALARMS} is granted on {sorted(granted - alarms)}, which are not its "
                         "environment's monitors")
        return set(alarms_by_role)

    def public_permissions(self) -> None:
        fns = _functions(self.t)
        public: dict[str, set[str]] = {}
        for p, r in _of_type(self.t, "AWS::Lambda::Permission").items():
            if not self.active(r):
                continue
            pp = self.props(p)
            if str(pp.get("Principal")) != "*":
                continue
            fn = _placeholder(pp.get("FunctionName"))
            url = self.ev.eval(((fns.get(fn) or {}).get("Properties") or {}).get("FunctionUrlConfig") or {})
            kind = ("url" if pp.get("Action") == "lambda:InvokeFunctionUrl" and pp.get("FunctionUrlAuthType") == "NONE"
                    else "invoke" if pp.get("Action") == "lambda:InvokeFunction" and str(pp.get("InvokedViaFunctionUrl")).lower() == "true"
                    else None)
            if kind is None or url.get("AuthType") != "NONE":
                self.add(f"{p}: lets anyone ({pp.get('Action')}) call {fn}, whose function URL AuthType is "
                         f"{url.get('AuthType')!r}: a public permission is only for a URL with AuthType NONE, "
                         "and only through that URL")
                continue
            public.setdefault(fn, set()).add(kind)
        for fn, res in fns.items():
            raw = (res.get("Properties") or {}).get("FunctionUrlConfig") or {}
            if not raw or not self.active(res):
                continue
            if self.ev.eval(raw).get("AuthType") == "NONE" and not isinstance(raw.get("AuthType"), str):
                # SAM writes the public permissions itself only for a literal NONE.
                if public.get(fn, set()) != {"url", "invoke"}:
                    self.add(f"{fn}: its function URL's AuthType is NONE through a parameter, which SAM does not "
                             "see: the template must grant lambda:InvokeFunctionUrl (FunctionUrlAuthType NONE) and "
                             "lambda:InvokeFunction (InvokedViaFunctionUrl) to `*` itself, or the URL answers 403")

    def other_iam(self, checked_roles: set[str], routers: set[str]) -> None:
        for lid, res in (self.t.get("Resources") or {}).items():
            if res.get("Type") not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role"):
                continue
            if lid in checked_roles or not self.active(res):
                continue
            text = json.dumps(res).lower()
            touched = [k for k in ("sagemaker", "appconfig", "cloudwatch")
                       if k in text] + [r for r in sorted(checked_roles | routers) if r.lower() in text]
            if touched:
                self.add(f"{lid}: a separate IAM resource touching {touched}; keep the router's permissions in its "
                         "role's own Policies and AppConfig's in its monitor role")


def check_once(t: dict, values: dict[str, str], pseudo: dict[str, str], router: Path | None = None) -> list[str]:
    """Return the problems found for one set of parameter values (empty when all is well)."""
    return Check(t, values, pseudo, router).run()


def check_template(t: dict, sets: list[tuple[str, dict[str, str]]], router: Path | None = None) -> list[str]:
    problems = []
    for label, values in sets:
        # The second partition only matters once the first passes (it catches hard-coded ARNs);
        # stopping there keeps one message per problem.
        for pseudo in PSEUDO_SETS:
            try:
                found = check_once(t, values, pseudo, router)
            except CheckError as e:
                found = [str(e)]
            tag = f"[{label}, {pseudo['AWS::Partition']}/{pseudo['AWS::Region']}]"
            problems += [f"{tag} {p}" for p in found]
            if found:
                break
    return problems


# --------------------------------------------------------------------------------------------
# Self-test: broken copies must be refused, the real template accepted. The copies are found by
# structure (the router's role is the one its functions name, the SageMaker statement the one
# that allows InvokeEndpoint...), not by logical ID, where the template allows it.

def _getatt_id(raw: Any) -> str:
    arg = raw["Fn::GetAtt"]
    return arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0]


def _one(t: dict, rtype: str, pick: Callable[[dict], bool] = lambda r: True) -> dict:
    found = [r for r in _of_type(t, rtype).values() if pick(r)]
    if not found:
        raise CheckError(f"self-test: no {rtype} in the template to break")
    return found[0]


def _streaming(t: dict) -> dict:
    for r in router_functions(t).values():
        if str(_raw_env(r).get("CANARY_RESPONSE_STREAMING")) == "1":
            return r
    raise CheckError("self-test: no streaming router function in the template")


def _buffered(t: dict) -> dict:
    for r in router_functions(t).values():
        if "CANARY_RESPONSE_STREAMING" not in _raw_env(r):
            return r
    raise CheckError("self-test: no buffered router function in the template")


def _router_role(t: dict) -> dict:
    return t["Resources"][_getatt_id(_buffered(t)["Properties"]["Role"])]


def _statement(t: dict, action: str) -> dict:
    for pol in _router_role(t)["Properties"]["Policies"]:
        for st in pol["PolicyDocument"]["Statement"]:
            if action in _as_list(st.get("Action")):
                return st
    raise CheckError(f"self-test: no statement allowing {action} in the router's role")


def _drop_statement(t: dict, action: str) -> None:
    for pol in _router_role(t)["Properties"]["Policies"]:
        pol["PolicyDocument"]["Statement"] = [st for st in pol["PolicyDocument"]["Statement"]
                                              if action not in _as_list(st.get("Action"))]


def _without(items: list, needle: str) -> list:
    kept = [x for x in items if needle not in json.dumps(x)]
    if len(kept) == len(items):
        raise CheckError(f"self-test: nothing mentions {needle!r} to remove")
    return kept


def _replace_strings(node: Any, old: str, new: str) -> Any:
    if isinstance(node, str):
        return node.replace(old, new)
    if isinstance(node, list):
        return [_replace_strings(x, old, new) for x in node]
    if isinstance(node, dict):
        return {k: _replace_strings(v, old, new) for k, v in node.items()}
    return node


def _sub_arn(resource: str) -> dict:
    return {"Fn::Sub": "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:" + resource}


def _environment(t: dict) -> dict:
    return _one(t, "AWS::AppConfig::Environment")


def _monitor_role(t: dict) -> dict:
    return t["Resources"][_getatt_id(_environment(t)["Properties"]["Monitors"][0]["AlarmRoleArn"])]


def _drop_monitor(t: dict, pick: Callable[[dict], bool]) -> None:
    env = _environment(t)["Properties"]
    kept = [m for m in env["Monitors"] if not pick(t["Resources"][_getatt_id(m["AlarmArn"])]["Properties"])]
    if len(kept) == len(env["Monitors"]):
        raise CheckError("self-test: no monitor to remove")
    env["Monitors"] = kept


def _appconfig_arn(tail: str) -> dict:
    return {"Fn::Sub": "arn:${AWS::Partition}:appconfig:${AWS::Region}:${AWS::AccountId}:" + tail}


def _mutations() -> list[tuple[str, Callable[[dict], None], list[tuple[str, dict]]]]:
    d = [("defaults", {})]
    b = [("built-in set", BUILTIN_SET)]
    ic = [("inference components", INFERENCE_SET)]
    profile = "application/${RouterApplication}/environment/${RouterEnvironment}/configuration/"

    def set_(path: Callable[[dict], dict], key: str, value: Any) -> Callable[[dict], None]:
        return lambda t: path(t).__setitem__(key, value)

    def only_control(t):
        st = _statement(t, INVOKE)
        st["Resource"] = _without(st["Resource"], '[1, {"Ref": "EndpointNames"}]')

    def extra_endpoint(t):
        _statement(t, INVOKE)["Resource"].append(_sub_arn("endpoint/other-model"))

    def hardcoded(t):
        st = _statement(t, INVOKE)
        st["Resource"] = _replace_strings(st["Resource"], "arn:${AWS::Partition}:sagemaker:${AWS::Region}",
                                          "arn:aws:sagemaker:us-east-1")

    def not_resource(t):
        st = _statement(t, INVOKE)
        st["NotResource"] = st.pop("Resource")

    def shadow_not_granted(t):
        st = _statement(t, INVOKE)
        st["Resource"] = _without(st["Resource"], "HasShadow2")

    def shadow_not_in_document(t):
        content = _one(t, "AWS::AppConfig::HostedConfigurationVersion")["Properties"]["Content"]
        content["Fn::Sub"][1]["Shadows"] = ""

    def stream_on_shadow(t):
        shadow = [x for x in _statement(t, INVOKE)["Resource"] if "HasShadow1" in json.dumps(x)]
        _statement(t, STREAM)["Resource"] += copy.deepcopy(shadow)

    def component_not_granted(t):
        st = _statement(t, INVOKE)
        st["Resource"] = _without(st["Resource"], "inference-component/")

    def both_sources(t):
        _buffered(t)["Properties"]["Environment"]["Variables"]["CANARY_CONFIG"] = json.dumps(
            {"experiment": "e", "version": "v", "salt": "s",
             "arms": [{"name": "control", "endpoint": "iris-a", "weight": 10000}]})

    def not_retained(t):
        hv = _one(t, "AWS::AppConfig::HostedConfigurationVersion")
        hv.pop("DeletionPolicy")
        hv.pop("UpdateReplacePolicy")

    def redeploys(t):
        hv = next(lid for lid, r in t["Resources"].items() if r["Type"] == "AWS::AppConfig::HostedConfigurationVersion")
        _one(t, "AWS::AppConfig::Deployment")["Properties"]["ConfigurationVersion"] = {"Ref": hv}

    def no_wait(t):
        _buffered(t).pop("DependsOn")

    def no_deployment(t):
        for lid in [lid for lid, r in t["Resources"].items() if r["Type"] == "AWS::AppConfig::Deployment"]:
            del t["Resources"][lid]

    def baked(t):
        return _one(t, "AWS::AppConfig::DeploymentStrategy",
                    lambda r: r["Properties"].get("FinalBakeTimeInMinutes") not in (0, "0"))["Properties"]

    def gradual(t):
        baked(t).update({"GrowthFactor": 20, "DeploymentDurationInMinutes": 10})

    def no_bake(t):
        for r in _of_type(t, "AWS::AppConfig::DeploymentStrategy").values():
            r["Properties"]["FinalBakeTimeInMinutes"] = 0

    def validator_permission(t):
        for lid in [lid for lid, r in t["Resources"].items() if r["Type"] == "AWS::Lambda::Permission"
                    and r["Properties"].get("Principal") == "appconfig.amazonaws.com"]:
            del t["Resources"][lid]

    def public_anyway(t):
        for r in _of_type(t, "AWS::Lambda::Permission").values():
            r.pop("Condition", None)

    def no_public_permissions(t):
        for lid in [lid for lid, r in t["Resources"].items() if r["Type"] == "AWS::Lambda::Permission"
                    and r["Properties"].get("Principal") == "*"]:
            del t["Resources"][lid]

    def separate_policy(t):
        role = _getatt_id(_buffered(t)["Properties"]["Role"])
        t["Resources"]["ExtraRouterPolicy"] = {"Type": "AWS::IAM::Policy", "Properties": {
            "PolicyName": "extra", "Roles": [{"Ref": role}], "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "sagemaker:InvokeEndpoint", "Resource": _sub_arn("endpoint/other")}]}}}

    def stream_behind_http_api(t):
        events = _streaming(t)["Properties"]["Events"]
        events["Http"] = {"Type": "HttpApi", "Properties": {"ApiId": {"Ref": "Api"}, "Path": "/s", "Method": "ANY"}}

    def rest_buffered(t):
        for e in _streaming(t)["Properties"]["Events"].values():
            e["Properties"].pop("ResponseTransferMode", None)

    return [
        ("Resource: '*'", set_(lambda t: _statement(t, INVOKE), "Resource", "*"), d),
        ("missing canary endpoint", only_control, d),
        ("endpoint not in the document", extra_endpoint, d),
        ("extra sagemaker action", set_(lambda t: _statement(t, INVOKE), "Action",
                                        [INVOKE, "sagemaker:UpdateEndpointWeightsAndCapacities"]), d),
        ("wildcard action", set_(lambda t: _statement(t, INVOKE), "Action", "sagemaker:Invoke*"), d),
        ("hard-coded partition and region", hardcoded, d),
        ("managed policy attached", lambda t: _router_role(t)["Properties"]["ManagedPolicyArns"].append(
            {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonSageMakerFullAccess"}), d),
        ("NotResource", not_resource, d),
        ("router role trusted by another service", lambda t: _router_role(t)["Properties"][
            "AssumeRolePolicyDocument"]["Statement"][0]["Principal"].__setitem__(
            "Service", ["lambda.amazonaws.com", "ec2.amazonaws.com"]), d),
        ("a separate IAM policy on the router's role", separate_policy, d),
        ("appconfig on every profile", set_(lambda t: _statement(t, START_SESSION), "Resource",
                                            _appconfig_arn(profile + "*")), d),
        ("appconfig on the application, not the profile", set_(lambda t: _statement(t, START_SESSION), "Resource",
                                                                _appconfig_arn("application/${RouterApplication}")), d),
        ("appconfig:* action", set_(lambda t: _statement(t, START_SESSION), "Action", "appconfig:*"), d),
        ("no appconfig statement", lambda t: _drop_statement(t, START_SESSION), d),
        ("shadow endpoint not granted", shadow_not_granted, b),
        ("shadow endpoint granted but not in the document", shadow_not_in_document, b),
        ("stream action on a shadow endpoint", stream_on_shadow, b),
        ("no stream action", lambda t: _drop_statement(t, STREAM), d),
        ("inference component not granted", component_not_granted, ic),
        ("two config sources", both_sources, d),
        ("CANARY_APPCONFIG by name, not by Ref", lambda t: _buffered(t)["Properties"]["Environment"][
            "Variables"].__setitem__("CANARY_APPCONFIG", "my-app/live/router"), d),
        ("initial document not retained", not_retained, d),
        ("initial deployment follows the hosted version", redeploys, d),
        ("function does not wait for the initial deployment", no_wait, d),
        ("no initial deployment", no_deployment, d),
        ("gradual deployment strategy", gradual, d),
        ("no bake time", no_bake, d),
        ("JSON Schema validator instead of the router's", set_(
            lambda t: _one(t, "AWS::AppConfig::ConfigurationProfile")["Properties"], "Validators",
            [{"Type": "JSON_SCHEMA", "Content": "{}"}]), d),
        ("validator with permissions", lambda t: next(iter(validator_functions(t).values()))["Properties"].__setitem__(
            "Policies", ["AmazonSageMakerFullAccess"]), d),
        ("validator AppConfig may not invoke", validator_permission, d),
        ("monitor role: DescribeAlarms on '*'", lambda t: _monitor_role(t)["Properties"]["Policies"][0][
            "PolicyDocument"]["Statement"][0].__setitem__("Resource", "*"), d),
        ("monitor role: extra action", lambda t: _monitor_role(t)["Properties"]["Policies"][0]["PolicyDocument"][
            "Statement"][0].__setitem__("Action", [DESCRIBE_ALARMS, "cloudwatch:SetAlarmState"]), d),
        ("monitor role: an alarm missing", lambda t: _monitor_role(t)["Properties"]["Policies"][0]["PolicyDocument"][
            "Statement"][0]["Resource"].pop(), d),
        ("monitor role trusted by Lambda", lambda t: _monitor_role(t)["Properties"]["AssumeRolePolicyDocument"][
            "Statement"][0]["Principal"].__setitem__("Service", "lambda.amazonaws.com"), d),
        ("no p99 latency monitor", lambda t: _drop_monitor(t, lambda p: p.get("ExtendedStatistic") == "p99"), d),
        ("no refusal monitor", lambda t: _drop_monitor(t, lambda p: p.get("MetricName") == "config_refusals"), d),
        ("streaming function URL in BUFFERED mode", set_(lambda t: _streaming(t)["Properties"]["FunctionUrlConfig"],
                                                        "InvokeMode", "BUFFERED"), d),
        ("streaming REST API event without ResponseTransferMode", rest_buffered, d),
        ("streaming function behind the HTTP API", stream_behind_http_api, d),
        ("buffered runner behind the streaming front ends", lambda t: _streaming(t)["Properties"]["Environment"][
            "Variables"].pop("CANARY_RESPONSE_STREAMING"), d),
        ("streaming timeout too short", set_(lambda t: _streaming(t)["Properties"], "Timeout", 30), d),
        ("public URL permission with AuthType AWS_IAM", public_anyway, d),
        ("AuthType NONE without a public permission", no_public_permissions, ic),
    ]


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

    cases.append(("the real template", base, BUILTIN_SETS, True))
    cases.append(("wildcard endpoint resource (file copy)", wildcard, [("defaults", {})], False))
    for name, mutate, sets in _mutations():
        t = copy.deepcopy(base)
        try:
            mutate(t)
        except (CheckError, KeyError, IndexError, StopIteration) as e:
            print(f"FAIL {name}: cannot make the broken copy ({e!r})")
            cases.append((name, None, sets, False))
            continue
        cases.append((name, t, sets, False))
    cases += [
        ("three endpoint names", base, [("three", {"EndpointNames": "a-1,b-2,c-3"})], False),
        ("one endpoint name", base, [("one", {"EndpointNames": "a-1"})], False),
        ("upper-case endpoint name", base, [("upper", {"EndpointNames": "Iris-A,iris-b"})], False),
        ("four shadow endpoints", base, [("four", {"ShadowEndpointNames": "s-1,s-2,s-3,s-4"})], False),
        ("shadow list with a gap", base, [("gap", {"ShadowEndpointNames": ",s-1"})], False),
        ("one inference component", base, [("one ic", {"InferenceComponentNames": "ic-1"})], False),
    ]
    passed = failed = 0
    for name, t, sets, should_pass in cases:
        if t is None:
            failed += 1
            continue
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
    ap.add_argument("--router", type=Path, metavar="BIN",
                    help="also have this canary-router binary validate each initial document (`plan`)")
    args = ap.parse_args(argv)

    try:
        if args.self_test:
            return self_test(args.template)
        template = load_template(args.template)
    except CheckError as e:
        print(f"check_template_iam: {e}", file=sys.stderr)
        return 2

    sets: list[tuple[str, dict[str, str]]] = list(BUILTIN_SETS)
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

    problems = check_template(template, sets, args.router)
    if problems:
        print(f"check_template_iam: {args.template}: {len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    labels = ", ".join(label for label, _ in sets)
    validated = f"; {args.router} accepts each initial document" if args.router else ""
    print(f"check_template_iam: OK: {args.template.name} grants the router exactly what its initial document "
          f"names ({INVOKE}, {STREAM}) and its AppConfig profile, AppConfig exactly its monitors "
          f"({labels}; partitions aws and aws-us-gov{validated})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
