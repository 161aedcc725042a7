#!/usr/bin/env python3
"""The Grafana dashboard (dashboards/appliance.json) against a real Prometheus.

    python3 scripts/dashboard_test.py --bin .build/debug/appliance

1. The JSON has what Grafana needs: title, uid, schemaVersion, a datasource variable and the
   instance and volume variables; every panel an id (unique), a type Grafana ships, a title and a
   gridPos inside the 24-column grid, not overlapping another; every query panel a datasource and
   targets with a refId and an expression; every `$variable` used is defined. The provisioning
   file beside it is a file provider with a path.
2. The appliance runs under a small load (native PUTs and GETs on two volumes, S3 operations, a
   404, a scrub) while Debian's Prometheus scrapes it every second. Then every panel's every query
   (its variables set as Grafana would: all instances, all volumes, a rate interval) runs against
   Prometheus and must return at least one series; the variables' own queries return values; and
   every appliance_* metric the dashboard names is one the appliance exposes.
"""
from __future__ import annotations

import argparse
import configparser
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
import urllib.request

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3_clients_test as base  # noqa: E402

import boto3  # noqa: E402
import botocore.config  # noqa: E402

from s3_clients_test import Failure, begin, expect, ok  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DASHBOARD = os.path.join(ROOT, "dashboards", "appliance.json")
PROVISIONING = os.path.join(ROOT, "dashboards", "provisioning.yaml")
PANEL_TYPES = {"row", "timeseries", "stat", "gauge", "bargauge", "table", "text", "piechart", "heatmap"}
BUILTIN = {"__rate_interval", "__interval", "__range", "__interval_ms", "__range_s"}


def query_panels(dashboard: dict) -> list[dict]:
    return [p for p in dashboard["panels"] if p.get("type") != "row"]


def check_json() -> dict:
    begin("1. the dashboard JSON and its provisioning file")
    with open(DASHBOARD, encoding="utf-8") as f:
        dashboard = json.load(f)
    for field, kind in (("title", str), ("uid", str), ("schemaVersion", int), ("panels", list), ("templating", dict), ("time", dict)):
        expect(isinstance(dashboard.get(field), kind), f"top-level {field} is a {kind.__name__}")
    expect(0 < len(dashboard["uid"]) <= 40, "uid is 1-40 characters", dashboard["uid"])
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    expect({"datasource", "instance", "volume"} <= set(variables), "variables datasource, instance and volume", str(sorted(variables)))
    expect(variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus",
           "the datasource variable picks a Prometheus data source")
    for name in ("instance", "volume"):
        v = variables[name]
        expect(v["type"] == "query" and "label_values(" in json.dumps(v["query"]) and v.get("includeAll") and v.get("multi"),
               f"${name} is a label_values query, multi-value with All")
    ids = [p.get("id") for p in dashboard["panels"]]
    expect(all(isinstance(i, int) for i in ids) and len(ids) == len(set(ids)), f"{len(ids)} panels, each with a unique integer id")
    cells: dict[tuple[int, int], str] = {}
    for p in dashboard["panels"]:
        title = p.get("title", "")
        if not title or p.get("type") not in PANEL_TYPES:
            raise Failure(f"panel {p.get('id')}: needs a title and a known type, has {title!r} / {p.get('type')!r}")
        g = p.get("gridPos", {})
        if not all(isinstance(g.get(k), int) for k in "xywh") or g["x"] < 0 or g["w"] < 1 or g["x"] + g["w"] > 24 or g["h"] < 1:
            raise Failure(f"panel {title!r}: gridPos {g} is not inside the 24-column grid")
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells:
                    raise Failure(f"panels {cells[(x, y)]!r} and {title!r} overlap at {(x, y)}")
                cells[(x, y)] = title
        if p["type"] == "row":
            continue
        if p.get("datasource", {}).get("uid") != "${datasource}":
            raise Failure(f"panel {title!r}: its datasource is not the $datasource variable")
        targets = p.get("targets") or []
        refs = [t.get("refId") for t in targets]
        if not targets or len(set(refs)) != len(refs) or not all(refs) or not all(t.get("expr") for t in targets):
            raise Failure(f"panel {title!r}: needs targets, each with a unique refId and an expr")
        for t in targets:
            for name in re.findall(r"\$(\w+)", t["expr"]):
                if name not in variables and name not in BUILTIN:
                    raise Failure(f"panel {title!r}: ${name} is not a variable of the dashboard")
        if "unit" not in p.get("fieldConfig", {}).get("defaults", {}):
            raise Failure(f"panel {title!r}: no unit")
    ok("every panel has a known type, a title, a gridPos inside the grid and no overlap")
    ok("every query panel uses $datasource and has targets with a refId and an expression; every $variable is defined")
    with open(PROVISIONING, encoding="utf-8") as f:
        provisioning = yaml.safe_load(f)
    providers = provisioning.get("providers") or []
    expect(provisioning.get("apiVersion") == 1 and providers and providers[0].get("type") == "file"
           and providers[0].get("options", {}).get("path") and providers[0].get("name"),
           "provisioning.yaml: apiVersion 1, a named file provider with a path")
    return dashboard


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def load(server: base.Server) -> None:
    for volume in ("photos", "backups"):
        status, _, body = server.request("POST", "/v1/volumes", json.dumps({"name": volume, "capacity_bytes": 64 << 20}).encode())
        if status != 201:
            raise Failure(f"create volume {volume}: {status} {body[:200]!r}")
    for i in range(40):
        volume = "photos" if i % 2 else "backups"
        body = os.urandom(300 if i % 3 else 200_000)
        query = "?durability=async" if i % 4 == 0 else ""
        status, _, _ = server.request("PUT", f"/v1/volumes/{volume}/objects/k{i}{query}", body)
        if status not in (200, 201):
            raise Failure(f"PUT k{i}: {status}")
        status, _, got = server.request("GET", f"/v1/volumes/{volume}/objects/k{i}")
        if status != 200 or got != body:
            raise Failure(f"GET k{i}: {status}")
    status, _, _ = server.request("GET", "/v1/volumes/photos/objects/missing")
    expect(status == 404, "a GET of a missing key (404) is part of the load")
    parser = configparser.ConfigParser()
    parser.read(server.credentials_file)
    creds = parser["appliance"]
    s3 = boto3.client("s3", endpoint_url=server.s3_url, aws_access_key_id=creds["aws_access_key_id"],
                      aws_secret_access_key=creds["aws_secret_access_key"], region_name=base.REGION,
                      config=botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    s3.create_bucket(Bucket="dash")
    for i in range(10):
        s3.put_object(Bucket="dash", Key=f"o{i}", Body=os.urandom(1000))
        s3.get_object(Bucket="dash", Key=f"o{i}")["Body"].read()
    s3.list_objects_v2(Bucket="dash")
    status, _, body = server.request("POST", "/v1/pool/scrub")
    if status not in (200, 202):
        raise Failure(f"POST /v1/pool/scrub: {status} {body[:200]!r}")
    ok("load: 80 native requests on two volumes, 22 S3 requests, a scrub")


def check_live(dashboard: dict, binary: str, tmp: str) -> None:
    begin("2. every panel's queries against Prometheus scraping the appliance under load")
    prometheus = shutil.which("prometheus")
    if not prometheus:
        raise Failure("prometheus is not installed (Debian's package `prometheus`; make test installs it)")
    data_dir = os.path.join(tmp, "appliance")
    os.makedirs(data_dir)
    server = base.Server(binary, data_dir, False)
    server.start()
    prom = None
    try:
        admin = urllib.parse.urlsplit(server.url).netloc
        port = free_port()
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w", encoding="utf-8") as f:
            yaml.safe_dump({"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                            "scrape_configs": [{"job_name": "appliance", "static_configs": [{"targets": [admin]}]}]}, f)
        prom_log = open(os.path.join(tmp, "prometheus.log"), "w", encoding="utf-8")
        prom = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={os.path.join(tmp, 'tsdb')}",
                                 f"--web.listen-address=127.0.0.1:{port}"], stdout=prom_log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        api = f"http://127.0.0.1:{port}/api/v1"
        deadline = time.monotonic() + 60
        while True:
            try:
                targets = http_json(f"{api}/targets")["data"]["activeTargets"]
                if targets and targets[0]["health"] == "up":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or prom.poll() is not None:
                raise Failure("Prometheus did not report the appliance's target up within 60 s")
            time.sleep(0.5)
        ok(f"Prometheus scrapes the appliance's /metrics every second ({admin})")
        load(server)
        time.sleep(8)  # several scrapes after the load, so that rates have two samples
        with urllib.request.urlopen(f"{server.url}/metrics", timeout=30) as resp:
            exposed = set(re.findall(r"^(appliance_\w+?)(?:_bucket|_sum|_count)?[{ ]", resp.read().decode(), re.M))
        exposed |= {name + suffix for name in exposed for suffix in ("_bucket", "_sum", "_count")}
        named = set(re.findall(r"appliance_\w+", json.dumps(dashboard["panels"])))
        missing = sorted(n for n in named if n not in exposed)
        expect(not missing, f"all {len(named)} appliance_* metrics the dashboard names are exposed", str(missing))
        instance = admin
        for name, value in (("instance", instance), ("volume", "photos")):
            var = next(v for v in dashboard["templating"]["list"] if v["name"] == name)
            match = re.match(r"label_values\((.*),\s*(\w+)\)$", var["query"]["query"])
            if not match:
                raise Failure(f"${name}: cannot read its query")
            selector = match.group(1).replace("$instance", ".*")
            values = http_json(f"{api}/label/{match.group(2)}/values?" + urllib.parse.urlencode({"match[]": selector}))["data"]
            expect(value in values, f"${name}'s query lists {value}", str(values))
        count = 0
        for choice in ({"instance": ".*", "volume": ".*"}, {"instance": instance, "volume": "photos|backups"}):
            for panel in query_panels(dashboard):
                for target in panel["targets"]:
                    expr = target["expr"].replace("$__rate_interval", "30s").replace("$instance", choice["instance"])
                    expr = expr.replace("$volume", choice["volume"])
                    reply = http_json(f"{api}/query?" + urllib.parse.urlencode({"query": expr}))
                    if reply.get("status") != "success":
                        raise Failure(f"panel {panel['title']!r} {target['refId']}: {reply}")
                    if not reply["data"]["result"]:
                        raise Failure(f"panel {panel['title']!r} {target['refId']} returned no series: {expr}")
                    count += 1
        ok(f"{count} queries (every target of {len(query_panels(dashboard))} panels, with all instances and volumes, "
           f"and with one instance and two volumes) each return at least one series")
        by_op = http_json(f"{api}/query?" + urllib.parse.urlencode({"query": "sum by (operation) (appliance_s3_requests_total)"}))
        operations = {r["metric"].get("operation") for r in by_op["data"]["result"]}
        expect({"PutObject", "GetObject", "CreateBucket", "ListObjectsV2"} <= operations,
               "S3 requests are counted by operation (PutObject, GetObject, CreateBucket, ListObjectsV2)", str(sorted(operations)))
    finally:
        if prom and prom.poll() is None:
            prom.send_signal(signal.SIGTERM)
            try:
                prom.wait(timeout=20)
            except subprocess.TimeoutExpired:
                prom.kill()
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=".build/debug/appliance")
    parser.add_argument("--time-limit", type=float, default=240.0)
    args = parser.parse_args()
    base.RUN.__init__(args.time_limit)
    tmp = tempfile.mkdtemp(prefix="appliance-dashboard-")
    started = time.monotonic()
    failed = None
    try:
        dashboard = check_json()
        check_live(dashboard, os.path.abspath(args.bin), tmp)
    except Exception as err:  # noqa: BLE001
        failed = f"[{base.RUN.step}] {type(err).__name__}: {err}"
        traceback.print_exc()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{base.RUN.passed} checks passed in {time.monotonic() - started:.1f}s")
    if failed:
        print("FAILED: " + failed, file=sys.stderr)
        return 1
    print("all dashboard checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
