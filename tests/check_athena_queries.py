#!/usr/bin/env python3
"""Run docs/report.md's Athena SQL and compare its numbers with `canary-router report`.

The SQL comes from the ```sql blocks of the doc's "Where logs live in AWS" section, so the
doc and this check cannot drift apart. Steps:

1. Parse every block with sqlglot's `athena` dialect (Hive DDL, Trino queries): one statement
   per block, the DDL first. Columns must resolve against the DDL's table, no query may divide
   an integer by an integer (Trino truncates, DuckDB does not), and the CTEs the queries share
   must be identical.
2. Make a fresh `canary-router demo` run, add the faults and edge cases a real log stream has
   (see `perturb`), and write the records as a CloudWatch Logs export to S3 lays them out:
   gzip files of `timestamp message` lines under TASK/STREAM/, plus `aws-logs-write-test`.
3. Emulate the DDL's table with a DuckDB view over those files (the one shim, see
   `table_view`), translate each query with sqlglot to DuckDB and run it.
4. Run `report --format json` on the same files (twice: the default per-prediction event, and
   the others as per-prediction events, so that each event's ratio, conversion and value metrics
   are all in some report) and compare every column of every query with the report's field of
   the same meaning. Counts must be equal. Rates, means and variances must agree to 1e-9
   relative. Latency percentiles must fall within Trino's rank error; see `check_percentile`.
   A column the check does not know fails the check, as a mismatch does.

Usage: .venv/bin/python tests/check_athena_queries.py [--bin target/debug/canary-router]
       [--work DIR] [--users 400] [--seed 7]
Exit 0 when everything matched, 1 on any mismatch, 2 when the doc's SQL cannot be used.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "report.md"
SECTION = "## Where logs live in AWS"

# Trino's approx_percentile: "maximum rank error of accuracy", default accuracy 0.01.
RANK_ERROR = 0.01
# HdrHistogram with three significant digits: the report's value is the highest equivalent
# value of its bucket, at most 0.1% above the recorded one.
HDR_REL = 0.001
# Floating-point sums in another order.
FLOAT_REL = 1e-9


class SqlError(Exception):
    """The doc's SQL cannot be used as written."""


# ----------------------------------------------------------------------------------------------
# The doc's SQL


def section_blocks(text: str) -> list[tuple[str, str]]:
    """(info string, body) of each fenced block of the Athena section, in order."""
    start = text.find(SECTION)
    if start < 0:
        raise SqlError(f"no section starting with {SECTION!r}")
    end = text.find("\n## ", start + len(SECTION))
    blocks, info, body = [], None, []
    for line in text[start : end if end >= 0 else len(text)].split("\n"):
        if info is None and line.startswith("```"):
            info, body = line[3:].strip(), []
        elif info is not None and line.rstrip() == "```":
            blocks.append((info, "\n".join(body) + "\n"))
            info = None
        elif info is not None:
            body.append(line)
    if info is not None:
        raise SqlError("unclosed ``` block in the Athena section")
    return blocks


def doc_sql_blocks(text: str) -> list[str]:
    return [body for info, body in section_blocks(text) if info == "sql"]


def parse_blocks(blocks: list[str]) -> tuple[exp.Create, list[exp.Query]]:
    if not blocks:
        raise SqlError("no ```sql blocks in the Athena section")
    stmts = []
    for i, block in enumerate(blocks, 1):
        try:
            parsed = [s for s in sqlglot.parse(block, read="athena") if s is not None]
        except sqlglot.ParseError as e:
            raise SqlError(f"sql block {i} does not parse as Athena: {e}") from e
        if len(parsed) != 1:
            raise SqlError(f"sql block {i} holds {len(parsed)} statements; each must stand alone")
        stmts.append(parsed[0])
    ddl, queries = stmts[0], stmts[1:]
    if not isinstance(ddl, exp.Create):
        raise SqlError("the first sql block must be the CREATE EXTERNAL TABLE")
    for i, q in enumerate(queries, 2):
        if not isinstance(q, exp.Query):
            raise SqlError(f"sql block {i} is a {type(q).__name__}, not a query")
    return ddl, queries


def table_of(ddl: exp.Create) -> tuple[str, str, str]:
    """(table, column, field delimiter) of the DDL; refuses what the DuckDB view cannot mimic."""
    if ddl.kind != "TABLE" or not isinstance(ddl.this, exp.Schema):
        raise SqlError("the DDL must be CREATE EXTERNAL TABLE name (column type)")
    cols = ddl.this.expressions
    if len(cols) != 1 or not cols[0].args["kind"].is_type(exp.DataType.Type.TEXT):
        raise SqlError("the table must have one string column (the export line)")
    delim, external, location = "\x01", False, None  # Hive's default field delimiter: ^A
    for p in ddl.args["properties"].expressions:
        if isinstance(p, exp.ExternalProperty):
            external = True
        elif isinstance(p, exp.LocationProperty):
            location = p.this.name
        elif isinstance(p, exp.RowFormatDelimitedProperty):
            extra = {k for k, v in p.args.items() if v is not None} - {"lines", "fields"}
            if extra:
                raise SqlError(f"ROW FORMAT DELIMITED options not emulated: {sorted(extra)}")
            if p.args.get("lines") is not None and p.args["lines"].name not in ("\n", "\\n"):
                raise SqlError("only LINES TERMINATED BY '\\n' is emulated")
            if p.args.get("fields") is not None:
                delim = p.args["fields"].name
        else:
            raise SqlError(f"table property not emulated: {p.sql('athena')}")
    if not external or not (location or "").startswith("s3://"):
        raise SqlError("the DDL must be EXTERNAL with an s3:// LOCATION")
    return ddl.this.this.name, cols[0].name, delim


def static_checks(queries: list[exp.Query], table: str, column: str) -> None:
    schema = {table: {column: "varchar"}}
    shared: dict[str, tuple[int, exp.Expression]] = {}
    for i, q in enumerate(queries, 2):
        try:
            typed = annotate_types(
                qualify(q.copy(), schema=schema, dialect="athena", validate_qualify_columns=True),
                schema=schema,
                dialect="athena",
            )
        except sqlglot.errors.OptimizeError as e:
            raise SqlError(f"sql block {i}: {e}") from e
        for d in typed.find_all(exp.Div):
            ints = exp.DataType.INTEGER_TYPES
            left, right = d.left.type, d.right.type
            if left and right and left.is_type(*ints) and right.is_type(*ints):
                raise SqlError(
                    f"sql block {i}: integer division {d.sql('athena')} truncates in Trino "
                    "but not in DuckDB; CAST one side to double"
                )
        with_ = q.args.get("with_") or q.args.get("with")
        for cte in with_.expressions if with_ else []:
            if cte.alias in ("parsed", "records", "unique_records"):
                if cte.alias in shared and shared[cte.alias][1] != cte.this:
                    raise SqlError(
                        f"CTE {cte.alias} of sql block {i} differs from block {shared[cte.alias][0]}'s"
                    )
                shared.setdefault(cte.alias, (i, cte.this))


def insights_fields(text: str) -> set[str]:
    """Field names the Logs Insights blocks (``` blocks without a language) use."""
    words = set()
    for info, b in section_blocks(text):
        if info:
            continue
        b = re.sub(r'"[^"]*"', "", b)
        words |= set(re.findall(r"\b[a-z_][a-z_0-9]*\b(?!\s*\()", b))
        words -= set(re.findall(r"\bas\s+([a-z_][a-z_0-9]*)", b))
    return words - {"filter", "stats", "by", "as", "and", "or", "not"}


# ----------------------------------------------------------------------------------------------
# Records: the demo's, with the faults and edge cases of a real log stream


def new_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def perturb(records: list[dict], rng: random.Random) -> tuple[list[dict], list[str]]:
    """Changes the demo's records in phases with two live arms; returns them and what changed."""
    done = defaultdict(int)
    phases = defaultdict(list)
    for r in records:
        phases[(r["experiment"], r["config_version"])].append(r)
    extra = []
    for recs in phases.values():
        live = [a for a, w in recs[0]["weights"] if w > 0]
        if len(live) < 2:
            continue
        other = {a: live[(i + 1) % len(live)] for i, a in enumerate(live)}
        endpoint = {r["arm"]: r["endpoint"] for r in recs if r["kind"] == "decision"}
        decisions = [r for r in recs if r["kind"] == "decision"]
        outcomes = [r for r in recs if r["kind"] == "outcome"]
        by_unit = defaultdict(list)
        for r in recs:
            by_unit[r["unit"]].append(r)
        units = sorted(by_unit)
        template, request = dict(outcomes[0]), dict(decisions[0])  # copies taken before changes

        def set_error(r: dict, status: int, error: str) -> None:
            r.update(status=status, error=error)
            if r["kind"] == "decision":
                r["errors"] = int(status >= 500)
            done[f"{status} {error}"] += 1

        pool = rng.sample(decisions, len(decisions))  # disjoint slices: one change per record
        k = len(decisions) // 100
        for r in pool[: 3 * k]:
            set_error(r, 502, "model_error")
        for r in pool[3 * k : 4 * k]:
            set_error(r, 504, "timeout")
        for r in pool[4 * k : 5 * k]:
            set_error(r, 429, "throttled")
        for r in pool[5 * k : 8 * k]:
            r.update(served_arm=other[r["arm"]], endpoint=endpoint[other[r["arm"]]], fallbacks=1)
            done["fallback"] += 1
        pool = rng.sample(outcomes, len(outcomes))
        k = len(outcomes) // 100
        for r in pool[: 2 * k]:
            set_error(r, 400, "bad_request")
        for r in pool[2 * k : 7 * k]:
            r["value"] = None
            done["outcome value null"] += 1
        for r in pool[7 * k : 9 * k]:
            r.pop("value", None)
            done["outcome value missing"] += 1
        picked = rng.sample(units, 8)
        for u in picked[:3]:  # one record by an override: the unit is left out of the tests
            next(r for r in by_unit[u] if r["kind"] == "decision")["assigned_by"] = "user_list"
            done["override unit (user_list)"] += 1
        for u in picked[3:5]:
            by_unit[u][-1].pop("assigned_by")
            done["unit with a record without assigned_by"] += 1
        for u in picked[5:8]:  # one decision in the other arm: the unit is in two arms
            r = next(r for r in by_unit[u] if r["kind"] == "decision")
            arm = other[r["arm"]]
            r.update(arm=arm, served_arm=arm, endpoint=endpoint[arm])
            done["unit in two arms"] += 1
        for _ in range(3):  # outcomes of units whose decisions are not in the export
            unit = uuid.UUID(int=rng.getrandbits(128)).hex * 2
            extra.append(
                dict(template, request_id=new_id(rng), unit=unit, arm=rng.choice(live),
                     bucket=rng.randrange(10000), status=202, error=None, event="correct",
                     value=float(rng.random() < 0.8), prediction_id=new_id(rng))
            )
            done["outcome-only unit"] += 1
        for u in rng.sample(units, len(units) // 4):  # a second event, with values
            d = next(r for r in by_unit[u] if r["kind"] == "decision")
            for _ in range(rng.choice((1, 1, 2))):
                click = dict(template, ts=d["ts"], request_id=new_id(rng), unit=u,
                             assigned_by=d["assigned_by"], bucket=d["bucket"], arm=d["arm"],
                             status=202, error=None, event="click",
                             value=rng.choice((None, round(rng.uniform(0.5, 20), 2), 1.0, 3.0)),
                             prediction_id=d["request_id"])
                if rng.random() < 0.3:
                    del click["value"]
                extra.append(click)
                done["click outcome"] += 1
        for _ in range(2):  # a request without a unit: no arm either
            extra.append(dict(request, request_id=new_id(rng), unit=None, id_source="none",
                              assigned_by=None, bucket=None, arm=None, served_arm=None, endpoint=None,
                              invoked_variant=None, status=400, error="no_unit",
                              model_latency_ms=None, errors=0, fallbacks=0))
            done["decision without unit or arm"] += 1
    out = list(records)
    for r in extra:
        out.insert(rng.randrange(len(out) + 1), r)
    return out, [f"{n} {what}" for what, n in sorted(done.items())]


def write_export(records: list[dict], originals: dict[int, str], root: Path, rng: random.Random) -> dict:
    """Writes the records as a CloudWatch Logs export under root; returns what it added."""
    task = str(uuid.UUID(int=rng.getrandbits(128)))
    (root / "aws-logs-write-test").write_text("Permission Check Successful")
    streams = [f"2026/12/02/[$LATEST]{rng.getrandbits(128):032x}" for _ in range(3)]
    lines = defaultdict(list)
    stats = defaultdict(int)
    for r in records:
        s = rng.choice(streams)
        body = originals.get(id(r)) or json.dumps(r, separators=(",", ":"))
        if rng.random() < 0.05:
            rid = new_id(rng)
            lines[s].append(f"{r['ts']} START RequestId: {rid} Version: $LATEST")
            lines[s].append(f"{r['ts']} END RequestId: {rid}")
            lines[s].append(f"{r['ts']} REPORT RequestId: {rid}\tDuration: 3.21 ms\t"
                            "Billed Duration: 4 ms\tMemory Size: 128 MB\tMax Memory Used: 31 MB")
            stats["platform lines"] += 3
        if rng.random() < 0.002:
            lines[s].append(f'{r["ts"]} {{"level":"INFO","message":"config reloaded"}}')
            stats["non-record JSON lines"] += 1
        if rng.random() < 0.002:
            lines[s].append(f"{r['ts']} {body[: len(body) * 3 // 5]}")
            stats["truncated copies"] += 1
        lines[s].append(f"{r['ts']} {body}")
    redelivered = defaultdict(list)
    for s, ls in lines.items():
        for line in ls:
            if "{" in line and rng.random() < 0.02:
                redelivered[s].append(line)
                stats["lines delivered twice"] += 1
    if any("\x01" in line for ls in lines.values() for line in ls):
        raise SystemExit("a line holds \\x01, the table's field delimiter: the view would split it")
    for s in streams:
        d = root / task / s
        d.mkdir(parents=True)
        for name, ls in (("000000.gz", lines[s]), ("000001.gz", redelivered[s])):
            with gzip.open(d / name, "wt", encoding="utf-8") as f:
                f.writelines(line + "\n" for line in ls)
    return stats


def table_view(con: duckdb.DuckDBPyConnection, table: str, column: str, delim: str, root: Path) -> None:
    """The one shim: the DDL's table as a DuckDB view over every file under root (LOCATION).

    Hive's ROW FORMAT DELIMITED with one string column gives each line's text up to the first
    field delimiter (default \\x01, which JSON and the platform lines never hold): read_csv with
    that delimiter, no quote or escape character and no type sniffing gives the same. Files are
    decompressed by their .gz name, as Athena does; others (aws-logs-write-test) are read as text.
    """
    glob = str(root / "**").replace("'", "''")
    delim_sql = "chr(1)" if delim == "\x01" else "'" + delim.replace("'", "''") + "'"
    con.execute(
        f'CREATE VIEW "{table}" AS SELECT "{column}" FROM read_csv(\'{glob}\', '
        f"columns={{'{column}': 'VARCHAR'}}, header=false, delim={delim_sql}, quote='', "
        f"escape='', auto_detect=false, compression='auto')"
    )


# ----------------------------------------------------------------------------------------------
# Comparison


class Checker:
    def __init__(self) -> None:
        self.results: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        self.rules: dict[tuple[str, str], str] = {}
        self.failures: list[str] = []

    def record(self, query: str, column: str, key: tuple, ok: bool, sql, rep, rule: str) -> None:
        r = self.results[(query, column)]
        r[0] += 1
        self.rules[(query, column)] = rule
        if not ok:
            r[1] += 1
            where = "/".join(map(str, key))
            self.failures.append(f"{query} {where} {column}: query {sql!r}, report {rep!r} ({rule})")

    def exact(self, q, col, key, sql, rep) -> None:
        self.record(q, col, key, sql == rep, sql, rep, "equal")

    def close(self, q, col, key, sql, rep, rel=FLOAT_REL) -> None:
        ok = (sql is None and rep is None) or (
            sql is not None and rep is not None and abs(sql - rep) <= rel * max(abs(sql), abs(rep), 1e-300)
        ) or (sql is not None and rep is not None and sql == rep)
        self.record(q, col, key, ok, sql, rep, f"rel {rel:g}")

    def fail(self, q, what: str) -> None:
        if f"{q}: {what}" not in self.failures:
            self.failures.append(f"{q}: {what}")
            self.results[(q, "(rows and columns)")][1] += 1


def rank_bounds(values: list[float], q: float) -> tuple[float, float]:
    n = len(values)
    lo = values[max(1, math.ceil((q - RANK_ERROR) * n)) - 1]
    hi = values[min(n, math.ceil((q + RANK_ERROR) * n)) - 1]
    return lo, hi


def check_percentile(c: Checker, col, key, sql, rep, values: list[float], q: float) -> tuple[float, float]:
    """The query's and the report's values must both lie within the rank error of the exact
    percentile of the same latencies; the report's may be up to HDR_REL above (its bucket)."""
    lo, hi = rank_bounds(values, q)
    ok = (sql is not None and rep is not None and lo <= sql <= hi
          and lo - 0.0005 <= rep <= hi * (1 + HDR_REL) + 0.0005)  # µs rounding of the histogram
    c.record("per_arm", col, key, ok, sql, rep, f"both within ranks q±{RANK_ERROR} (+{HDR_REL:.1%} HDR)")
    return lo, hi


def ratio_variance(n, sx, sxx, sy, syy, sxy) -> float:
    if n <= 1 or sy == 0:
        return 0.0
    mx, my = sx / n, sy / n
    vx, vy = (sxx - sx * sx / n) / (n - 1), (syy - sy * sy / n) / (n - 1)
    cov = (sxy - sx * sy / n) / (n - 1)
    return vx / my**2 - 2 * cov * mx / my**3 + mx**2 * vy / my**4


def compare(results: dict[str, list[dict]], rep: dict, rep_pp: dict, latencies: dict) -> tuple[Checker, list]:
    c = Checker()
    phases = {(e["name"], p["config_version"]): p for e in rep["experiments"] for p in e["phases"]}
    phases_pp = {(e["name"], p["config_version"]): p for e in rep_pp["experiments"] for p in e["phases"]}
    shown = []

    # Per arm
    rows = results["per_arm"]
    seen = set()
    for row in rows:
        key = (row["experiment"], row["config_version"], row["arm"])
        seen.add(key)
        phase = phases.get(key[:2])
        arm = next((a for a in phase["arms"] if a["name"] == key[2]), None) if phase else None
        if arm is None:
            c.fail("per_arm", f"{'/'.join(key)}: in the query, not in the report")
            continue
        lat = arm["latency_ms"] or {}
        values = latencies.get(key, [])
        for col, val in row.items():
            if col in ("experiment", "config_version", "arm"):
                continue
            if col in ("requests", "units", "errors", "client_errors", "fallbacks", "outcomes"):
                c.exact("per_arm", col, key, val, arm[col])
            elif col in ("error_rate", "fallback_rate"):
                c.close("per_arm", col, key, val, arm[col])
            elif col == "latency_mean_ms":
                c.close("per_arm", col, key, val, lat.get("mean"), rel=HDR_REL)
            elif col == "latency_max_ms":
                rmax = lat.get("max")
                ok = (val is not None and rmax is not None
                      and val - 0.0005 <= rmax <= val * (1 + HDR_REL) + 0.0005)
                c.record("per_arm", col, key, ok, val, rmax, f"report within +{HDR_REL:.1%} (HDR)")
            elif (m := re.fullmatch(r"latency_p(\d+)_ms", col)) and values:
                check_percentile(c, col, key, val, lat.get(f"p{m[1]}"), values, int(m[1]) / 100)
            elif m and not values:
                rp = lat.get(f"p{m[1]}")
                c.record("per_arm", col, key, val is None and rp is None, val, rp, "no latencies")
            else:
                c.fail("per_arm", f"column {col} has no counterpart in the report (teach the check)")
                break
        shown.append(("per_arm", key, row, arm))
    for k, p in phases.items():
        for a in p["arms"]:
            if (*k, a["name"]) not in seen and (a["requests"] or a["units"] or a["outcomes"]):
                c.fail("per_arm", f"{'/'.join(k)}/{a['name']}: in the report, no row in the query")

    # Per arm and event (units in tests)
    rows = results["per_arm_event"]
    seen = set()
    for row in rows:
        key = (row["experiment"], row["config_version"], row["arm"], row["event"])
        seen.add(key)
        arms = [
            next((a for a in ph["arms"] if a["name"] == key[2]), None) if ph else None
            for ph in (phases.get(key[:2]), phases_pp.get(key[:2]))
        ]
        if None in arms:
            c.fail("per_arm_event", f"{'/'.join(key)}: in the query, not in the report")
            continue
        metrics = {m["metric"]: m for a in arms for m in a["metrics"]}
        ratio, conv, value = (metrics.get(key[3]), metrics.get(f"{key[3]}:conversion"),
                              metrics.get(f"{key[3]}:value"))
        if not (ratio and conv and value):
            c.fail("per_arm_event", f"{'/'.join(key)}: the reports lack a metric of this event")
            continue
        n, sx, sxx, sy, syy, sxy = (row[k] for k in ("units", "sum_x", "sum_xx", "sum_y", "sum_yy", "sum_xy"))
        for col, val in row.items():
            if col in ("experiment", "config_version", "arm", "event"):
                continue
            if col == "units":
                c.exact("per_arm_event", col, key, val, arms[0]["units_analysed"])
                for m in (ratio, conv, value):
                    c.exact("per_arm_event", col, key, val, m["units"])
            elif col == "units_converted":
                for m in (ratio, conv, value):
                    c.exact("per_arm_event", col, key, val, m["units_converted"])
            elif col == "sum_x":
                for m in (ratio, conv, value):
                    c.close("per_arm_event", col, key, val, m["value_sum"])
            elif col == "sum_y":
                c.close("per_arm_event", col, key, val, ratio["predictions"])
            elif col == "sum_xx":
                v = (sxx - sx * sx / n) / (n - 1) if n > 1 else 0.0
                c.close("per_arm_event", "sum_xx (value variance)", key, v, value["variance"])
            elif col in ("sum_yy", "sum_xy"):
                c.close("per_arm_event", f"{col} (ratio variance)", key,
                        ratio_variance(n, sx, sxx, sy, syy, sxy), ratio["variance"])
            elif col == "conversion_rate":
                c.close("per_arm_event", col, key, val, conv["mean"])
            elif col == "value_per_unit":
                c.close("per_arm_event", col, key, val, value["mean"])
            elif col == "per_prediction":
                c.close("per_arm_event", col, key, val if sy else 0.0, ratio["mean"])
            else:
                c.fail("per_arm_event", f"column {col} has no counterpart in the report (teach the check)")
                break
        shown.append(("per_arm_event", key, row, ratio))
    for k, p in phases.items():
        for a in p["arms"]:
            for m in p["metrics"]:
                if a["units_analysed"] and (*k, a["name"], m["event"]) not in seen:
                    c.fail("per_arm_event", f"{'/'.join(k)}/{a['name']}/{m['event']}: in the report, no row")

    # Per phase (input)
    rows = results["per_phase"]
    totals = defaultdict(int)
    seen = set()
    for row in rows:
        key = (row["experiment"], row["config_version"])
        seen.add(key)
        phase = phases.get(key)
        if phase is None:
            c.fail("per_phase", f"{'/'.join(key)}: in the query, not in the report")
            continue
        for col, val in row.items():
            if col in ("experiment", "config_version"):
                continue
            if col in ("records", "unique_records", "duplicates"):
                totals[col] += val
            elif col in ("decisions", "outcomes"):
                c.exact("per_phase", col, key, val, phase[col])
            elif col in ("records_without_arm", "records_without_unit"):
                c.exact("per_phase", col, key, val, phase["data_quality"][col])
            else:
                c.fail("per_phase", f"column {col} has no counterpart in the report (teach the check)")
                break
    for col, val in totals.items():
        c.exact("per_phase", f"{col} (sum over phases)", ("input",), val, rep["input"][col])
    for k in set(phases) - seen:
        c.fail("per_phase", f"{'/'.join(k)}: in the report, no row in the query")
    return c, shown


def kind_of(columns: list[str]) -> str:
    if "event" in columns:
        return "per_arm_event"
    if "arm" in columns:
        return "per_arm"
    return "per_phase"


# ----------------------------------------------------------------------------------------------


def fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.0f}"
    return str(v)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=str(REPO / "target" / "debug" / "canary-router"))
    ap.add_argument("--work", help="work directory (default: a temporary one, removed after)")
    ap.add_argument("--users", type=int, default=400)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--doc", default=str(DOC), help="the markdown file holding the SQL")
    args = ap.parse_args()
    t0 = time.monotonic()

    text = Path(args.doc).read_text(encoding="utf-8")
    try:
        ddl, queries = parse_blocks(doc_sql_blocks(text))
        table, column, delim = table_of(ddl)
        static_checks(queries, table, column)
        duck_sql = [q.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE) for q in queries]
    except (SqlError, sqlglot.errors.SqlglotError) as e:
        print(f"athena queries: {e}", file=sys.stderr)
        return 2
    shown_doc = Path(args.doc).resolve()
    shown_doc = shown_doc.relative_to(REPO) if shown_doc.is_relative_to(REPO) else shown_doc
    print(f"{shown_doc}: 1 DDL and {len(queries)} queries parsed as Athena and translated to "
          f"DuckDB by sqlglot {sqlglot.__version__}")

    tmp = None if args.work else tempfile.TemporaryDirectory(prefix="athena-check-")
    work = Path(args.work or tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    try:
        demo = work / "demo"
        times = {}
        t = time.monotonic()
        with open(work / "demo.log", "w") as log:
            r = subprocess.run([args.bin, "demo", "--users", str(args.users), "--seed", str(args.seed),
                                "--out", str(demo)], stdout=log, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            print(f"demo failed (exit {r.returncode}); see {work / 'demo.log'}", file=sys.stderr)
            print((work / "demo.log").read_text()[-3000:], file=sys.stderr)
            return 1
        times["demo"] = time.monotonic() - t
        t = time.monotonic()
        raw = (demo / "records.jsonl").read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in raw]
        rng = random.Random(args.seed)
        pristine = {id(r): json.dumps(r, separators=(",", ":")) for r in records}
        changed, notes = perturb(records, rng)
        # Unchanged records keep the router's own bytes.
        originals = {id(r): line for r, line in zip(records, raw)
                     if json.dumps(r, separators=(",", ":")) == pristine[id(r)]}
        export = work / "export"
        if export.exists():
            raise SystemExit(f"{export} exists; use an empty --work directory")
        export.mkdir()
        added = write_export(changed, originals, export, rng)
        files = sorted(str(p) for p in export.rglob("*") if p.is_file())

        latencies = defaultdict(list)
        for r in {r["request_id"]: r for r in reversed(changed)}.values():
            if r["kind"] == "decision" and r.get("arm") is not None:
                latencies[(r["experiment"], r["config_version"], r["arm"])].append(r["latency_ms"])
        for v in latencies.values():
            v.sort()
        events = sorted({r["event"] for r in changed if r["kind"] == "outcome" and r.get("event")})

        def report(*extra: str) -> dict:
            out = subprocess.run([args.bin, "report", "--format", "json", *extra, *files],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                raise SystemExit(f"report failed (exit {out.returncode}): {out.stderr[-2000:]}")
            return json.loads(out.stdout)

        times["export"] = time.monotonic() - t
        t = time.monotonic()
        rep = report()
        default_pp = set(rep["options"]["per_prediction_events"])
        others = [e for e in events if e not in default_pp]
        rep_pp = report(*[a for e in others for a in ("--per-prediction", e)]) if others else rep

        times["report x2"] = time.monotonic() - t
        t = time.monotonic()
        con = duckdb.connect()
        table_view(con, table, column, delim, export)
        results: dict[str, list[dict]] = {}
        for i, sql in enumerate(duck_sql, 2):
            cur = con.execute(sql)
            cols = [d[0] for d in cur.description]
            kind = kind_of(cols)
            if kind in results:
                print(f"athena queries: sql block {i} has the same keys as another block", file=sys.stderr)
                return 2
            results[kind] = [dict(zip(cols, row)) for row in cur.fetchall()]
        missing = {"per_arm", "per_arm_event", "per_phase"} - set(results)
        if missing:
            print(f"athena queries: no query for {sorted(missing)}", file=sys.stderr)
            return 2

        times["duckdb"] = time.monotonic() - t
        c, shown = compare(results, rep, rep_pp, latencies)
        record_keys = set().union(*(r.keys() for r in changed))
        unknown_fields = insights_fields(text) - record_keys
        if unknown_fields:
            c.fail("insights", f"Logs Insights queries use fields no record has: {sorted(unknown_fields)}")

        # What was compared
        n_records = rep["input"]["records"]
        print(f"export: {len(files)} files, {rep['input']['lines']} lines, {n_records} records "
              f"({rep['input']['duplicates']} repeated, {rep['input']['not_records']} not records, "
              f"{rep['input']['corrupt']} corrupt); demo --users {args.users} --seed {args.seed}")
        print("  changed: " + ", ".join(notes))
        print("  export: " + ", ".join(f"{n} {w}" for w, n in sorted(added.items())))
        print()
        print(f"{'phase':<10} {'arm':<8} {'requests':>9} {'units':>6} {'5xx':>4} {'4xx':>4} {'fallb':>5} "
              f"{'p50 sql/report':>16} {'p95 sql/report':>16} {'p99 sql/report':>16}")
        for kind, key, row, arm in shown:
            if kind != "per_arm":
                continue
            lat = arm["latency_ms"] or {}
            pct = lambda p: f"{fmt(row[f'latency_p{p}_ms'])}/{fmt(lat.get(f'p{p}'))}"
            print(f"{key[1]:<10} {key[2]:<8} {row['requests']:>9} {row['units']:>6} {row['errors']:>4} "
                  f"{row['client_errors']:>4} {row['fallbacks']:>5} "
                  f"{pct(50):>16} {pct(95):>16} {pct(99):>16}")
        print()
        print(f"{'phase':<10} {'arm':<8} {'event':<8} {'units':>6} {'conv':>5} {'sum_x':>8} {'sum_y':>6} "
              f"{'per prediction sql/report':>28}")
        for kind, key, row, ratio in shown:
            if kind == "per_arm_event":
                print(f"{key[1]:<10} {key[2]:<8} {key[3]:<8} {row['units']:>6} {row['units_converted']:>5} "
                      f"{fmt(row['sum_x']):>8} {row['sum_y']:>6} "
                      f"{fmt(row['per_prediction']) + '/' + fmt(ratio['mean']):>28}")
        print()
        print(f"{'query':<14} {'column':<34} {'compared':>8} {'mismatched':>10}  rule")
        for (q, col), (n, bad) in c.results.items():
            print(f"{q:<14} {col:<34} {n:>8} {bad:>10}  {c.rules.get((q, col), '')}")
        print(f"insights       fields used: {', '.join(sorted(insights_fields(text)))} "
              "(all record fields; queries not run)")
        for f in c.failures:
            print(f"MISMATCH {f}", file=sys.stderr)
        total = sum(n for n, _ in c.results.values())
        spent = ", ".join(f"{k} {v:.1f}" for k, v in times.items())
        print(f"athena queries: {total} compared, {len(c.failures)} mismatched "
              f"({time.monotonic() - t0:.1f} s: {spent})")
        return 1 if c.failures else 0
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
