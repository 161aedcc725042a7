#!/usr/bin/env python3
"""Contract tests: check the appliance binary against openapi.yaml.

Steps: (1) validate openapi.yaml, (2) compare `<bin> routes` with the spec's operations,
(3) start a server on a temporary data dir, (4) check /metrics, the error conventions and the
object semantics schemathesis cannot reach (ranges, preconditions, digests, IO modes and
durability, PATCH, flush, paging), (5) run schemathesis against the live server.
Exits non-zero on the first failing step.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
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
import urllib.parse
import urllib.request

import yaml
from openapi_spec_validator import validate
from prometheus_client.parser import text_string_to_metric_families

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
DEVICE_SIZE = 256 * 1024 * 1024
# Checks to run, with their settings. They are chosen in the config file, not with `--checks`:
# checks named on the command line override every per-operation setting (OBJECTS_VOLUME_TOML has one).
# 507 Insufficient Storage is a documented answer (thick volume or upload does not fit), not a
# server error. 503 is not: the spec documents it for unreadable data, which a healthy temporary
# pool never has.
CHECKS = {
    "not_a_server_error": 'expected-statuses = ["2xx", "3xx", "4xx", "507"]',
    "status_code_conformance": "",
    "content_type_conformance": "",
    "response_schema_conformance": "",
    "response_headers_conformance": "",
    "negative_data_rejection": "",
    "ignored_auth": "",
}
# Volume the object operations run against (created before schemathesis, see OBJECTS_VOLUME_TOML),
# and the object the spec's `key` example names, so that the examples phase finds it.
OBJECTS_VOLUME = "contract-objects"
OBJECTS_VOLUME_CAPACITY = 64 * 1024 * 1024
EXAMPLE_KEY = "photos/2026/cat.jpg"
SCHEMATHESIS_TOML = "[checks]\nenabled = false\n" + "".join(
    f"\n[checks.{name}]\nenabled = true\n" + (f"{settings}\n" if settings else "") for name, settings in CHECKS.items())
# Random volume names almost never exist, so object operations (and flush) would only ever see 404:
# pin them to a volume that does. Volume operations keep generating names (and cannot delete this one,
# whose name they would have to guess).
OBJECTS_VOLUME_TOML = f"""
[[operations]]
include-path-regex = "^/v1/volumes/[{{]name[}}]/(objects|flush)"
parameters = {{ "path.name" = "{OBJECTS_VOLUME}" }}

# An object's content is opaque bytes (`*/*`, `format: binary`), but schemathesis parses a body by
# its Content-Type, which for an object is whatever the upload sent (it picks JSON, YAML, XML, ...
# for a `*/*` request body), and then judges the parsed value against `type: string`. Its verdicts
# on getObject's bodies are therefore meaningless; the content-type and header checks still run.
[[operations]]
include-operation-id = "getObject"
checks = {{ response_schema_conformance = {{ enabled = false }} }}

# The web console's pages are HTML for a browser, behind a session cookie and CSRF tokens that
# schemathesis cannot hold: scripts/console_test.py drives them in chromium instead.
[[operations]]
include-tag = "console"
enabled = false
"""

# Loaded into schemathesis (SCHEMATHESIS_HOOKS). Schemathesis 4.32 parses every 2xx body it records
# for reuse by its Content-Type, and lets a YAML parse error escape: the worker thread dies and the
# rest of the phase is skipped without a failure. Objects are stored with whatever Content-Type the
# upload sent, YAML ones included, and their bytes need not be YAML. Report such errors as
# ValueError, which schemathesis handles (skips the body for reuse, or reports it when validating).
SCHEMATHESIS_HOOKS = """
import schemathesis
import yaml
from schemathesis.core import media_types
from schemathesis.core.deserialization import deserialize_yaml


@schemathesis.deserializer(*media_types.YAML_MEDIA_TYPES)
def yaml_errors_are_value_errors(ctx, response):
    try:
        return deserialize_yaml(response.content.decode(response.encoding or "utf-8"))
    except yaml.YAMLError as err:
        raise ValueError(f"not YAML: {err}") from err
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
    # The server answers HEAD with the GET route and does not list it: a documented HEAD needs a
    # served GET on the same path and is otherwise left out of the comparison.
    heads = {(m, p) for m, p in documented if m == "HEAD"}
    for _, path in sorted(heads):
        if ("GET", path) not in served:
            print(f"   documented but not served: HEAD {path} (no GET route serves it)")
    if any(("GET", p) not in served for _, p in heads):
        raise ContractError("route table differs from openapi.yaml")
    documented -= heads
    for method, path in sorted(documented - served):
        print(f"   documented but not served: {method} {path}")
    for method, path in sorted(served - documented):
        print(f"   served but not documented: {method} {path}")
    if served != documented:
        raise ContractError("route table differs from openapi.yaml")
    print(f"   {len(served)} routes match" + (f" ({len(heads)} HEAD operations served by GET routes)" if heads else ""))


class Server:
    """The appliance under test, on 127.0.0.1 with a fresh data directory."""

    def __init__(self, binary: str, data_dir: str) -> None:
        self.binary, self.data_dir = binary, data_dir
        self.proc: subprocess.Popen | None = None
        self.lines: queue.Queue[str] = queue.Queue()
        self.url = self.token = ""

    def start(self, timeout: float = 60.0) -> None:
        step("3. starting the server")
        cmd = [self.binary, "serve", "--listen", "127.0.0.1:0", "--s3-listen", "off", "--data-dir", self.data_dir,
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

    def request(self, method: str, path: str, body: dict | bytes | None = None, auth: bool = True,
                headers: dict[str, str] | None = None):
        """Returns (status, headers, body bytes); never raises for HTTP error statuses.

        A dict body is sent as JSON, bytes as they are (with the Content-Type in `headers`, if any).
        """
        headers = dict(headers or {})
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if isinstance(body, bytes):
            data = body
        elif body is not None:
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
        "appliance_volume_reserved_bytes": "gauge", "appliance_volume_noncurrent_bytes": "gauge",
        "appliance_volume_snapshot_bytes": "gauge", "appliance_volume_shared_bytes": "gauge",
        "appliance_pool_reservable_bytes": "gauge", "appliance_volume_dirty_pages": "gauge",
        "appliance_volume_dirty_bytes": "gauge", "appliance_volume_writeback_pages": "gauge",
        "appliance_volume_cached_pages": "gauge", "appliance_writeback_bytes": "counter",
        "appliance_writeback_errors": "counter", "appliance_writeback_throttled": "counter",
        "appliance_cache_capacity_bytes": "gauge", "appliance_cache_memory_bytes": "gauge",
        "appliance_cache_used_bytes": "gauge",
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


def check_objects(server: Server) -> None:
    step("4c. checking object semantics")
    vol = f"/v1/volumes/{OBJECTS_VOLUME}"
    status, _, body = server.request("POST", "/v1/volumes", {"name": OBJECTS_VOLUME, "capacity_bytes": OBJECTS_VOLUME_CAPACITY})
    expect(status == 201, f"POST /v1/volumes {OBJECTS_VOLUME}: {status} {body[:500]!r}")
    quoted = urllib.parse.quote

    def obj(key: str, query: str = "") -> str:
        return f"{vol}/objects/{quoted(key, safe='')}" + (f"?{query}" if query else "")

    def put(key: str, data: bytes, ctype: str = "text/plain", **extra: str):
        return server.request("PUT", obj(key), data, headers={"Content-Type": ctype, **extra})

    key, data = "dir/sub dir/ünïcode.txt", b"hello, contract world\n"
    status, headers, body = put(key, data)
    expect(status == 201, f"PUT new object: {status} {body[:500]!r}")
    created = json.loads(body)
    expect(created["key"] == key and created["size"] == len(data) and created["content_type"] == "text/plain",
           f"PUT new object answered {created}")
    expect(headers.get("ETag") == created["etag"], f"ETag header {headers.get('ETag')!r} != body etag {created['etag']!r}")
    location = headers.get("Location", "")
    expect(urllib.parse.unquote(location) == f"{vol}/objects/{key}", f"Location {location!r}")
    # A PUT's ETag is the MD5 of its bytes (as S3 clients expect): replacing with the same
    # bytes gives the same ETag.
    expect(created["etag"] == f'"{hashlib.md5(data).hexdigest()}"', f"PUT new object: ETag {created['etag']} is not the MD5")
    status, headers, body = put(key, b"other bytes")
    expect(status == 200 and json.loads(body)["etag"] == f'"{hashlib.md5(b"other bytes").hexdigest()}"', f"PUT replacing: {status} {body[:500]!r}")
    status, headers, body = put(key, data)
    expect(status == 200 and json.loads(body)["etag"] == created["etag"], f"PUT replacing: {status} {body[:500]!r}")
    etag = headers.get("ETag")

    # The key may hold `/` literally or as %2F; both name the same object.
    status, headers, body = server.request("GET", f"{vol}/objects/dir/sub%20dir/{quoted('ünïcode.txt')}")
    expect(status == 200 and body == data, f"GET with literal slashes: {status} {body[:200]!r}")
    expect(headers.get("Content-Type") == "text/plain" and headers.get("ETag") == etag
           and headers.get("Accept-Ranges") == "bytes" and headers.get("Last-Modified")
           and headers.get("Content-Length") == str(len(data)), f"GET headers: {dict(headers)}")
    status, headers, body = server.request("HEAD", obj(key))
    expect(status == 200 and body == b"" and headers.get("Content-Length") == str(len(data)) and headers.get("ETag") == etag,
           f"HEAD: {status} {dict(headers)} {body[:200]!r}")

    for rng, want, crange in (("bytes=7-14", data[7:15], f"bytes 7-14/{len(data)}"),
                              ("bytes=-6", data[-6:], f"bytes {len(data) - 6}-{len(data) - 1}/{len(data)}"),
                              ("bytes=20-", data[20:], f"bytes 20-{len(data) - 1}/{len(data)}")):
        status, headers, body = server.request("GET", obj(key), headers={"Range": rng})
        expect(status == 206 and body == want and headers.get("Content-Range") == crange,
               f"GET Range: {rng}: {status} {headers.get('Content-Range')!r} {body!r}")
    for rng in ("bytes=0-1,3-4", "items=0-1", "bytes=5-2"):
        status, _, body = server.request("GET", obj(key), headers={"Range": rng})
        expect(status == 200 and body == data, f"GET Range: {rng} (unsupported, ignored): {status}")
    status, headers, body = server.request("GET", obj(key), headers={"Range": f"bytes={len(data)}-"})
    expect(status == 416 and headers.get("Content-Range") == f"bytes */{len(data)}"
           and headers.get_content_type() == "application/problem+json", f"unsatisfiable Range: {status} {dict(headers)}")

    status, headers, _ = server.request("GET", obj(key), headers={"If-None-Match": f'"other", {etag}'})
    expect(status == 304 and headers.get("ETag") == etag, f"If-None-Match current: {status}")
    status, _, _ = server.request("GET", obj(key), headers={"If-None-Match": '"other"'})
    expect(status == 200, f"If-None-Match other: {status}")
    status, _, _ = server.request("GET", obj(key), headers={"If-Match": '"other"'})
    expect(status == 412, f"If-Match other: {status}")
    status, _, _ = server.request("GET", obj(key), headers={"If-Match": etag, "Range": "bytes=0-0"})
    expect(status == 206, f"If-Match current with Range: {status}")

    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    sha_hex, sha_b64 = hashlib.sha256(data).hexdigest(), base64.b64encode(hashlib.sha256(data).digest()).decode()
    for extra in ({"Content-MD5": md5}, {"x-checksum-sha256": sha_hex}, {"x-checksum-sha256": sha_b64}):
        status, _, body = put("digest", data, **extra)
        expect(status in (200, 201), f"PUT with matching {extra}: {status} {body[:500]!r}")
    for extra in ({"Content-MD5": base64.b64encode(hashlib.md5(b"x").digest()).decode()},
                  {"x-checksum-sha256": hashlib.sha256(b"x").hexdigest()}, {"Content-MD5": "not base64"}):
        status, _, body = put("digest", b"changed", **extra)
        expect(status == 400, f"PUT with wrong {extra}: {status} {body[:500]!r}")
    status, _, body = server.request("GET", obj("digest"))
    expect(status == 200 and body == data, "a PUT refused for its digest changed the object")
    for query in ("io=bogus", "io=", "io"):
        status, _, _ = server.request("GET", obj(key, query))
        expect(status == 400, f"GET ?{query}: {status}")
    for query in ("io=buffered", "io=direct"):
        status, _, body = server.request("GET", obj(key, query))
        expect(status == 200 and body == data, f"GET ?{query}: {status}")
    status, _, _ = server.request("PUT", obj("x" * 1025), b"")
    expect(status == 400, f"PUT with a 1025-byte key: {status}")
    status, _, _ = server.request("PUT", f"{vol}/objects/bad%00key", b"")
    expect(status == 400, f"PUT with NUL in the key: {status}")
    status, _, body = put("empty", b"", "application/octet-stream")
    expect(status == 201 and json.loads(body)["size"] == 0, f"PUT empty body: {status} {body[:500]!r}")

    status, _, body = server.request("POST", "/v1/volumes", {"name": "contract-small", "capacity_bytes": 1000})
    expect(status == 201, f"POST /v1/volumes contract-small: {status} {body[:500]!r}")
    status, _, body = server.request("PUT", "/v1/volumes/contract-small/objects/big", b"x" * 1001)
    expect(status == 507, f"PUT over the quota: {status} {body[:500]!r}")

    # Buffered writes: async answers before the writeback; direct reads and flush write back first.
    for query, extra in (("durability=async", {}), ("", {"X-Durability": "async"}), ("io=direct&durability=async", {})):
        status, _, body = server.request("PUT", obj("async", query), b"first", headers={"Content-Type": "text/plain", **extra})
        expect(status in (200, 201), f"PUT ?{query} {extra}: {status} {body[:500]!r}")
        for read in ("io=buffered", "io=direct"):
            status, _, body = server.request("GET", obj("async", read))
            expect(status == 200 and body == b"first", f"GET ?{read} after PUT ?{query} {extra}: {status} {body[:100]!r}")
    status, _, body = server.request("PUT", obj("async", "durability=maybe"), b"x")
    expect(status == 400, f"PUT ?durability=maybe: {status} {body[:500]!r}")
    status, _, body = server.request("POST", f"{vol}/flush")
    expect(status == 204, f"POST {vol}/flush: {status} {body[:500]!r}")
    status, _, _ = server.request("POST", "/v1/volumes/no-such-volume/flush")
    expect(status == 404, f"flushing a missing volume: {status}")

    # PATCH: a range of an existing object, atomically; growing past the end leaves zeros.
    def patch(key: str, first: int, payload: bytes, query: str = "", crange: str | None = None):
        crange = crange or f"bytes {first}-{first + len(payload) - 1}/*"
        return server.request("PATCH", obj(key, query), payload, headers={"Content-Range": crange})

    status, headers, body = patch("async", 1, b"IRS")
    expect(status == 200 and json.loads(body)["size"] == 5 and headers.get("ETag") == json.loads(body)["etag"],
           f"PATCH inside: {status} {body[:500]!r}")
    status, _, body = patch("async", 8, b"end", "durability=async")
    expect(status == 200 and json.loads(body)["size"] == 11, f"PATCH past the end: {status} {body[:500]!r}")
    status, headers, body = server.request("GET", obj("async"))
    expect(status == 200 and body == b"fIRSt\0\0\0end" and headers.get("Content-Type") == "text/plain",
           f"GET after PATCH: {status} {body!r} {headers.get('Content-Type')!r}")
    status, _, body = server.request("GET", obj("async", "io=direct"), headers={"Range": "bytes=4-"})
    expect(status == 206 and body == b"t\0\0\0end", f"direct ranged GET after PATCH: {status} {body!r}")
    for crange, payload, query in (("bytes 0-5/*", b"abc", ""), (None, b"abc", ""), ("bytes 3-1/*", b"abc", ""),
                                   ("items 0-2/*", b"abc", ""), ("bytes 1-3/*", b"abc", "io=direct")):
        headers = {"Content-Range": crange} if crange else {}
        status, _, body = server.request("PATCH", obj("async", query), payload, headers=headers)
        expect(status == 400, f"PATCH Content-Range {crange!r} ?{query}: {status} {body[:500]!r}")
    status, _, body = server.request("GET", obj("async"))
    expect(body == b"fIRSt\0\0\0end", f"a refused PATCH changed the object: {body!r}")
    status, _, _ = patch("no-such-object", 0, b"abc")
    expect(status == 404, f"PATCH of a missing object: {status}")

    # Paging through the volume's keys, two at a time.
    status, _, body = server.request("GET", f"{vol}/objects")
    expect(status == 200, f"GET {vol}/objects: {status} {body[:500]!r}")
    everything = json.loads(body)
    keys = [o["key"] for o in everything["objects"]]
    expect(keys == sorted(keys, key=lambda k: k.encode()) and everything["next_start_after"] is None,
           f"list is not sorted by UTF-8 bytes or has a next page: {everything}")
    paged, after = [], ""
    while True:
        status, _, body = server.request("GET", f"{vol}/objects?limit=2&start_after={quoted(after, safe='')}")
        expect(status == 200, f"list page: {status} {body[:500]!r}")
        page = json.loads(body)
        paged += [o["key"] for o in page["objects"]]
        if page["next_start_after"] is None:
            break
        after = page["next_start_after"]
    expect(paged == keys, f"paging gave {paged}, want {keys}")
    status, _, body = server.request("GET", f"{vol}/objects?prefix={quoted('dir/')}")
    expect(status == 200 and [o["key"] for o in json.loads(body)["objects"]] == [key], f"prefix dir/: {body[:500]!r}")
    for query in ("limit=0", "limit=1001", "limit=x", "prefix=%ff"):
        status, _, _ = server.request("GET", f"{vol}/objects?{query}")
        expect(status == 400, f"GET {vol}/objects?{query}: {status}")

    status, _, _ = server.request("DELETE", obj(key, "io=bogus"))
    expect(status == 400, f"DELETE ?io=bogus: {status}")
    status, _, _ = server.request("DELETE", obj(key))
    expect(status == 204, f"DELETE: {status}")
    for method in ("GET", "DELETE"):
        status, _, _ = server.request(method, obj(key))
        expect(status == 404, f"{method} after DELETE: {status}")
    status, _, _ = server.request("GET", "/v1/volumes/no-such-volume/objects")
    expect(status == 404, f"listing a missing volume: {status}")

    # Leave the object the spec's examples name, so schemathesis's examples phase can read it.
    status, _, body = put(EXAMPLE_KEY, b"\xff\xd8\xff\xe0 not really a jpeg", "image/jpeg")
    expect(status == 201, f"PUT {EXAMPLE_KEY}: {status} {body[:500]!r}")
    print("   ok")


def run_schemathesis(server: Server, spec_path: str, work_dir: str, max_examples: int, timeout: int,
                     seed: int | None) -> None:
    step("5. schemathesis")
    config = os.path.join(work_dir, "schemathesis.toml")
    with open(config, "w", encoding="utf-8") as f:
        f.write(SCHEMATHESIS_TOML + OBJECTS_VOLUME_TOML)
    hooks = os.path.join(work_dir, "schemathesis_hooks.py")
    with open(hooks, "w", encoding="utf-8") as f:
        f.write(SCHEMATHESIS_HOOKS)
    cmd = ["schemathesis", "--config-file", config, "run", spec_path, "--url", server.url,
           "--header", f"Authorization: Bearer {server.token}",
           "--phases", "examples,coverage,fuzzing",
           "--max-examples", str(max_examples), "--generation-database", "none", "--no-color"]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    print("   checks:", ", ".join(CHECKS), "(set in schemathesis.toml)")
    print("   $", " ".join(c if not c.startswith("Authorization") else "Authorization: Bearer ***" for c in cmd))
    # cwd: schemathesis and hypothesis keep caches in ./.schemathesis and ./.hypothesis.
    proc = subprocess.Popen(cmd, cwd=work_dir, start_new_session=True, env={**os.environ, "SCHEMATHESIS_HOOKS": hooks},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    # Echo the output, watching for worker threads that die: schemathesis then skips the rest of
    # their work and may still exit 0.
    crashed: list[str] = []

    def pump() -> None:
        assert proc.stdout
        for line in proc.stdout:
            print(line, end="", flush=True)
            if line.startswith("Exception in thread"):
                crashed.append(line.strip())

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise ContractError(f"schemathesis did not finish within {timeout}s")
    finally:
        reader.join(timeout=10)
    if server.proc and server.proc.poll() is not None:
        raise ContractError(f"the server died during the run (exit status {server.proc.returncode})")
    if rc != 0:
        raise ContractError(f"schemathesis failed (exit {rc})")
    if crashed:
        raise ContractError(f"schemathesis crashed internally, so part of the run was skipped: {crashed[0]}")


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
        check_objects(server)
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
