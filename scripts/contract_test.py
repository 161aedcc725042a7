#!/usr/bin/env python3
"""Contract tests: check the appliance binary against openapi.yaml.

Steps: (1) validate openapi.yaml, (2) compare `<bin> routes` with the spec's operations,
(3) start a server on a temporary data dir, (4) check /metrics and the error conventions,
(5) run schemathesis against the live server. Exits non-zero on the first failing step.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import yaml
from openapi_spec_validator import validate
from prometheus_client.parser import text_string_to_metric_families

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
DEVICE_SIZE = 256 * 1024 * 1024
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "ignored_auth",
]
# 507 Insufficient Storage is a documented answer (thick volume does not fit), not a server error.
SCHEMATHESIS_TOML = """
[checks.not_a_server_error]
expected-statuses = ["2xx", "3xx", "4xx", "507"]
"""


class ContractError(Exception):
    pass


def step(title: str) -> None:
    print(f"\n==> {title}", flush=True)


def load_spec(path: str) -> dict:
    step(f"1. validating {path}")
    with open(path, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    try:
        validate(spec)
    except Exception as err:  # openapi_spec_validator raises several exception types
        raise ContractError(f"{path} is not valid OpenAPI: {err}") from err
    print("   spec is valid OpenAPI", spec["openapi"])
    return spec


def check_routes(binary: str, spec: dict) -> None:
    step(f"2. comparing `{binary} routes` with the spec")
    res = subprocess.run([binary, "routes"], capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        raise ContractError(f"`{binary} routes` exited {res.returncode}: {res.stderr.strip()}")
    out = res.stdout
    served = {tuple(line.split(None, 1)) for line in out.splitlines() if line.strip()}
    served = {(m.upper(), p.strip()) for m, p in served}
    documented = {(m.upper(), p) for p, item in spec["paths"].items() for m in item if m in HTTP_METHODS}
    for method, path in sorted(documented - served):
        print(f"   documented but not served: {method} {path}")
    for method, path in sorted(served - documented):
        print(f"   served but not documented: {method} {path}")
    if served != documented:
        raise ContractError("route table differs from openapi.yaml")
    print(f"   {len(served)} routes match")


class Server:
    """The appliance under test, on 127.0.0.1 with a fresh data directory."""

    def __init__(self, binary: str, data_dir: str) -> None:
        self.binary, self.data_dir = binary, data_dir
        self.proc: subprocess.Popen | None = None
        self.lines: queue.Queue[str] = queue.Queue()
        self.url = self.token = ""

    def start(self, timeout: float = 60.0) -> None:
        step("3. starting the server")
        cmd = [self.binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", self.data_dir,
               "--device-size", str(DEVICE_SIZE)]
        print("   $", " ".join(cmd))
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        threading.Thread(target=self._pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    raise ContractError(f"server exited with status {self.proc.returncode} before listening")
                continue
            if m := re.search(r"listening on (http://127\.0\.0\.1:\d+)", line):
                self.url = m.group(1)
                with open(os.path.join(self.data_dir, "token"), encoding="utf-8") as f:
                    self.token = f.readline().strip()
                print(f"   server at {self.url}")
                return
        raise ContractError(f"server did not report `listening on` within {timeout:.0f}s")

    def _pump(self) -> None:
        assert self.proc and self.proc.stderr
        for line in self.proc.stderr:
            print(f"   [server] {line.rstrip()}", file=sys.stderr, flush=True)
            self.lines.put(line)

    def stop(self) -> None:
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def request(self, method: str, path: str, body: dict | None = None, auth: bool = True):
        """Returns (status, headers, body bytes); never raises for HTTP error statuses."""
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read()
        except (urllib.error.URLError, OSError) as err:
            time.sleep(0.5)
            dead = f"; the server exited with status {self.proc.returncode}" if self.proc.poll() is not None else ""
            raise ContractError(f"{method} {path}: {getattr(err, 'reason', err)}{dead}") from err


def expect(cond: bool, message: str) -> None:
    if not cond:
        raise ContractError(message)


def check_metrics(server: Server) -> None:
    step("4. checking /metrics")
    status, _, body = server.request("POST", "/v1/volumes", {"name": "metrics-check", "capacity_bytes": 1 << 20})
    expect(status == 201, f"POST /v1/volumes metrics-check: {status} {body[:500]!r}")
    status, headers, body = server.request("GET", "/metrics", auth=False)
    expect(status == 200, f"GET /metrics: {status}")
    ctype = headers.get("Content-Type", "")
    expect(ctype.startswith("text/plain") and "version=0.0.4" in ctype, f"/metrics Content-Type is {ctype!r}")
    text = body.decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    wanted = {
        "appliance_pool_capacity_bytes": "gauge", "appliance_pool_free_bytes": "gauge",
        "appliance_pool_reserved_bytes": "gauge", "appliance_device_capacity_bytes": "gauge",
        "appliance_device_used_bytes": "gauge", "appliance_device_state": "gauge",
        "appliance_http_requests": "counter", "appliance_http_request_duration_seconds": "histogram",
        "appliance_volume_capacity_bytes": "gauge", "appliance_volume_used_bytes": "gauge",
        "appliance_volume_reserved_bytes": "gauge",
    }
    for name, kind in wanted.items():
        expect(name in families, f"metric family {name} missing")
        expect(families[name].type == kind, f"{name} has type {families[name].type}, want {kind}")
        expect(families[name].samples, f"{name} has no samples")
    requests = [s for s in families["appliance_http_requests"].samples if s.name == "appliance_http_requests_total"]
    expect(requests and all({"route", "method", "status"} <= s.labels.keys() for s in requests),
           "appliance_http_requests_total needs samples labelled route, method, status")
    expect(any(s.name.endswith("_bucket") and s.labels.get("le") == "+Inf"
               for s in families["appliance_http_request_duration_seconds"].samples),
           "appliance_http_request_duration_seconds has no +Inf bucket")
    for name in ("appliance_volume_capacity_bytes", "appliance_volume_used_bytes", "appliance_volume_reserved_bytes"):
        values = [s.value for s in families[name].samples if s.labels.get("volume") == "metrics-check"]
        expect(values, f'{name}{{volume="metrics-check"}} missing')
        if name == "appliance_volume_capacity_bytes":
            expect(values == [1 << 20], f'{name}{{volume="metrics-check"}} is {values}, want [1048576]')
    print(f"   {len(families)} families parsed, all required ones present")
    promtool = shutil.which("promtool")
    if not promtool:
        print("   promtool not on PATH, skipping `promtool check metrics`")
        return
    res = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    output = (res.stdout + res.stderr).strip()
    problems = [l for l in output.splitlines() if l.strip() and "no help text" not in l]
    if res.returncode != 0 and problems:
        raise ContractError(f"promtool check metrics failed:\n{output}")
    print("   promtool check metrics: ok" + (f" (ignored: {output})" if output else ""))


def check_error_conventions(server: Server) -> None:
    step("4b. checking 401 / 404 / 405 conventions")
    status, headers, _ = server.request("GET", "/v1/pool", auth=False)
    expect(status == 401 and headers.get("WWW-Authenticate"), f"GET /v1/pool without token: {status}, want 401 + WWW-Authenticate")
    status, headers, _ = server.request("GET", "/v1/no-such-route")
    expect(status == 404 and headers.get_content_type() == "application/problem+json",
           f"GET /v1/no-such-route: {status} {headers.get('Content-Type')}, want 404 problem+json")
    status, headers, _ = server.request("PUT", "/v1/pool")
    allow = {m.strip().upper() for m in headers.get("Allow", "").split(",")}
    expect(status == 405 and "GET" in allow, f"PUT /v1/pool: {status} Allow={headers.get('Allow')!r}, want 405 with Allow: GET")
    expect(headers.get_content_type() == "application/problem+json", "405 must be application/problem+json")
    print("   ok")


def run_schemathesis(server: Server, spec_path: str, work_dir: str, max_examples: int, timeout: int,
                     seed: int | None) -> None:
    step("5. schemathesis")
    config = os.path.join(work_dir, "schemathesis.toml")
    with open(config, "w", encoding="utf-8") as f:
        f.write(SCHEMATHESIS_TOML)
    cmd = ["schemathesis", "--config-file", config, "run", spec_path, "--url", server.url,
           "--header", f"Authorization: Bearer {server.token}",
           "--checks", ",".join(CHECKS), "--phases", "examples,coverage,fuzzing",
           "--max-examples", str(max_examples), "--generation-database", "none", "--no-color"]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    print("   $", " ".join(c if not c.startswith("Authorization") else "Authorization: Bearer ***" for c in cmd))
    # cwd: schemathesis and hypothesis keep caches in ./.schemathesis and ./.hypothesis.
    proc = subprocess.Popen(cmd, cwd=work_dir, start_new_session=True)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise ContractError(f"schemathesis did not finish within {timeout}s")
    if server.proc and server.proc.poll() is not None:
        raise ContractError(f"the server died during the run (exit status {server.proc.returncode})")
    if rc != 0:
        raise ContractError(f"schemathesis failed (exit {rc})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=".build/debug/appliance", help="appliance binary")
    parser.add_argument("--spec", default="openapi.yaml", help="OpenAPI document")
    parser.add_argument("--max-examples", type=int, default=25, help="schemathesis examples per operation")
    parser.add_argument("--timeout", type=int, default=240, help="schemathesis time limit in seconds")
    parser.add_argument("--seed", type=int, help="schemathesis seed (to replay a failing run)")
    parser.add_argument("--skip-schemathesis", action="store_true", help="stop after step 4")
    args = parser.parse_args()
    binary = os.path.abspath(args.bin)

    tmp = tempfile.mkdtemp(prefix="appliance-contract-")
    data_dir, work_dir = os.path.join(tmp, "data"), os.path.join(tmp, "schemathesis")
    os.makedirs(data_dir)
    os.makedirs(work_dir)
    server = Server(binary, data_dir)
    try:
        spec = load_spec(args.spec)
        check_routes(binary, spec)
        server.start()
        check_metrics(server)
        check_error_conventions(server)
        if not args.skip_schemathesis:
            run_schemathesis(server, os.path.abspath(args.spec), work_dir, args.max_examples, args.timeout,
                             args.seed)
    except (ContractError, OSError) as err:
        print(f"\nFAIL: {err}", file=sys.stderr)
        return 1
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("\ncontract tests passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
