#!/usr/bin/env python3
"""Checks canary-router's SageMaker Runtime emulator with a client nobody here wrote: boto3.

Usage: python tests/boto3_emulator.py URL

URL is an emulator already started with tests/fixtures/error-models.json, e.g.

    cargo run -- emulate --listen 127.0.0.1:8080 --models tests/fixtures/error-models.json &
    .venv/bin/python tests/boto3_emulator.py http://127.0.0.1:8080

For each error kind, the exception boto3 raises must be the class botocore's service model
defines for it (client.exceptions.ModelError, ...); throttling, which the model does not list,
must be a ClientError whose code is ThrottlingException. Prints "N passed, M failed" and exits
non-zero when a check fails.
"""

import json
import sys
import traceback

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

IRIS_ROW = json.dumps({"features": [5.1, 3.5, 1.4, 0.2]}).encode()

results = []


def check(name):
    """Runs a check function, recording pass or fail."""

    def wrap(fn):
        try:
            fn()
        except Exception:  # noqa: BLE001 - every failure is reported the same way
            results.append((name, False))
            print(f"FAIL {name}")
            traceback.print_exc(file=sys.stdout)
        else:
            results.append((name, True))
            print(f"ok   {name}")
        return fn

    return wrap


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    url = sys.argv[1]
    client = boto3.client(
        "sagemaker-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=2, connect_timeout=2),
    )
    print(f"boto3 {boto3.__version__}, botocore {botocore.__version__}, emulator at {url}")

    def invoke(endpoint, **kw):
        kw.setdefault("ContentType", "application/json")
        kw.setdefault("Body", IRIS_ROW)
        return client.invoke_endpoint(EndpointName=endpoint, **kw)

    def expect(exc_class, endpoint, status, **kw):
        try:
            invoke(endpoint, **kw)
        except exc_class as e:
            got = e.response["ResponseMetadata"]["HTTPStatusCode"]
            assert got == status, f"status {got}, expected {status}"
            return e
        except ClientError as e:
            raise AssertionError(
                f"{endpoint}: {type(e).__name__} code {e.response['Error']['Code']}, expected {exc_class.__name__}"
            ) from e
        raise AssertionError(f"{endpoint}: no error raised")

    @check("success on iris-a")
    def _():
        r = invoke("iris-a", Accept="application/json", CustomAttributes="trace=1", InferenceId="inf-1")
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert r["InvokedProductionVariant"] == "AllTraffic", r
        assert r["ContentType"] == "application/json", r
        assert r["CustomAttributes"] == "trace=1", r
        body = json.loads(r["Body"].read())
        assert body["label"] == "setosa", body
        assert body["labels"] == ["setosa", "versicolor", "virginica"], body
        assert abs(sum(body["probabilities"]) - 1) < 1e-3, body

    @check("CSV in, CSV out on iris-a")
    def _():
        r = invoke("iris-a", ContentType="text/csv", Body=b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n")
        assert r["ContentType"] == "text/csv", r
        assert r["Body"].read().decode().splitlines()[0] == "setosa"

    @check("target variant on iris-ab")
    def _():
        for variant in ["VariantA", "VariantB", "VariantB"]:
            r = invoke("iris-ab", TargetVariant=variant)
            assert r["InvokedProductionVariant"] == variant, r

    @check("echo returns body and content type")
    def _():
        r = invoke("echo", ContentType="application/octet-stream", Body=b"\x00\x01raw")
        assert r["Body"].read() == b"\x00\x01raw"
        assert r["ContentType"] == "application/octet-stream", r

    @check("ValidationError: unknown endpoint")
    def _():
        e = expect(client.exceptions.ValidationError, "no-such-endpoint", 400)
        assert e.response["Error"]["Code"] == "ValidationError"
        assert "no-such-endpoint" in e.response["Error"]["Message"], e.response

    @check("ValidationError: unknown target variant")
    def _():
        expect(client.exceptions.ValidationError, "iris-ab", 400, TargetVariant="VariantC")

    @check("ValidationError: injected")
    def _():
        expect(client.exceptions.ValidationError, "err-validation", 400)

    @check("ModelError: injected, with OriginalStatusCode, OriginalMessage, LogStreamArn")
    def _():
        e = expect(client.exceptions.ModelError, "err-modelerror", 424)
        assert e.response["Error"]["Code"] == "ModelError"
        assert e.response["OriginalStatusCode"] == 503, e.response
        assert e.response["OriginalMessage"], e.response
        assert e.response["LogStreamArn"].startswith("arn:aws:logs:us-east-1:"), e.response

    @check("ModelError: bad input to the model is the container's 400")
    def _():
        e = expect(client.exceptions.ModelError, "iris-a", 424, Body=b"{not json")
        assert e.response["OriginalStatusCode"] == 400, e.response

    @check("ModelNotReadyException")
    def _():
        expect(client.exceptions.ModelNotReadyException, "err-notready", 429)

    @check("InternalFailure")
    def _():
        expect(client.exceptions.InternalFailure, "err-internal", 500)

    @check("ServiceUnavailable")
    def _():
        expect(client.exceptions.ServiceUnavailable, "err-unavailable", 503)

    @check("InternalDependencyException")
    def _():
        expect(client.exceptions.InternalDependencyException, "err-dependency", 530)

    @check("ThrottlingException: a ClientError with that code")
    def _():
        try:
            invoke("err-throttling")
        except ClientError as e:
            modeled = tuple(
                getattr(client.exceptions, n)
                for n in [
                    "ValidationError",
                    "ModelError",
                    "ModelNotReadyException",
                    "InternalFailure",
                    "ServiceUnavailable",
                    "InternalDependencyException",
                ]
            )
            assert not isinstance(e, modeled), type(e)
            assert e.response["Error"]["Code"] == "ThrottlingException", e.response
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
            return
        raise AssertionError("no error raised")

    def stream(endpoint):
        resp = client.invoke_endpoint_with_response_stream(
            EndpointName=endpoint, ContentType="application/json", Body=b'{"inputs": "hi"}'
        )
        parts = []
        for event in resp["Body"]:
            parts.append(event["PayloadPart"]["Bytes"])
        return resp, parts

    @check("InvokeEndpointWithResponseStream: payload parts through botocore's event-stream parser")
    def _():
        resp, parts = stream("stream-tgi")
        assert resp["ContentType"] == "text/event-stream", resp["ContentType"]
        assert resp["InvokedProductionVariant"] == "AllTraffic", resp
        assert len(parts) == 4, parts
        events = [json.loads(p.decode()[len("data: "):]) for p in parts]
        assert [e["token"]["id"] for e in events] == [0, 1, 2, 3], events
        assert events[-1]["details"]["finish_reason"] == "length", events[-1]

    def expect_stream_error(endpoint, code, parts_before):
        got = []
        try:
            resp = client.invoke_endpoint_with_response_stream(
                EndpointName=endpoint, ContentType="application/json", Body=b"{}"
            )
            for event in resp["Body"]:
                got.append(event["PayloadPart"]["Bytes"])
        except botocore.exceptions.EventStreamError as e:
            assert e.response["Error"]["Code"] == code, e.response
            assert len(got) == parts_before, got
            return
        raise AssertionError(f"{endpoint}: no {code} raised after {len(got)} parts")

    @check("ModelStreamError mid-stream: botocore's EventStreamError with that code")
    def _():
        expect_stream_error("stream-model-error", "ModelStreamError", 2)

    @check("InternalStreamFailure mid-stream: botocore's EventStreamError with that code")
    def _():
        expect_stream_error("stream-failure", "InternalStreamFailure", 1)

    @check("an error before the stream is the operation's modeled error")
    def _():
        try:
            client.invoke_endpoint_with_response_stream(
                EndpointName="err-modelerror", ContentType="application/json", Body=IRIS_ROW
            )
        except client.exceptions.ModelError as e:
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 424, e.response
            return
        raise AssertionError("no ModelError raised")

    passed = sum(1 for _, ok in results if ok)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
