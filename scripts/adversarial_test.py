#!/usr/bin/env python3
"""Hostile requests: each is sent to a real appliance, which must stay up, answer with the right
4xx at once, and change nothing.

    python3 scripts/adversarial_test.py --bin .build/debug/appliance

Starts `<bin> serve` on a temporary data dir (scripts/s3_clients_test.py's Server) and, by raw
sockets (scripts/s3_negative_test.py's SigV4 signer and raw client), sends what an attacker would:
(1) numbers that do not fit (lengths, ranges, part numbers, limits, expiries) in every header,
query and JSON field of both APIs that carries one, (2) deeply nested XML bodies, (3) unsigned
`x-amz-*` headers added to a presigned URL, (4) bodies of unauthenticated requests, (5) request
framing (Content-Length with Transfer-Encoding, unknown codings, invalid UTF-8 and NUL in targets
and headers), (6) presigned URLs without a signed host, SigV2 expiries that are not integers.

After every request: the process is alive, and a control object and its bucket's usage are what
they were. One line per check; the first failure ends the run (exit 1) with the server log tail.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import sys
import tempfile
import time
import traceback
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3_clients_test as base  # noqa: E402
import s3_negative_test as neg  # noqa: E402
from s3_clients_test import Failure, begin, expect, ok, note, MiB, md5_hex  # noqa: E402

BUCKET, CONTROL = "adv", "control.bin"
CONTROL_BYTES = bytes(range(256)) * 64  # 16 KiB
HUGE = ["9223372036854775807", "9223372036854775808", "18446744073709551615", "18446744073709551616",
        "99999999999999999999999999"]
MALFORMED = ["-1", "+5", "0x10", "1e3", "5 5", "", " "]


class S:
    server: base.Server
    raw: neg.Raw
    admin: "AdminRaw"
    signer: neg.Signer


class AdminRaw(neg.Raw):
    """Raw requests to the admin listener with the bearer token (unless `token=False`)."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(url, neg.Signer("", ""))
        self.token = token

    def head(self, method: str, target: str, headers: dict[str, str] | None = None, token: bool = True) -> bytes:
        hdrs = {"host": self.host_header, **({"authorization": f"Bearer {self.token}"} if token else {}),
                **(headers or {}), "connection": "close"}
        return (f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n").encode()

    def call(self, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None, token: bool = True,
             length: str | None = None, **kw) -> neg.Response:
        hdrs = dict(headers or {})
        if length is not None:
            hdrs["content-length"] = length
        elif body or method in ("PUT", "POST", "PATCH"):
            hdrs["content-length"] = str(len(body))
        return self.send(self.head(method, target, hdrs, token), body, head_only=method == "HEAD", **kw)


# ---------------------------------------------------------------------------------------------
# What every check ends with.

def control_state() -> tuple:
    r = S.raw.request("GET", f"/{BUCKET}/{CONTROL}")
    status, _, raw = S.server.request("GET", f"/v1/volumes/{BUCKET}")
    volume = neg.json.loads(raw) if status == 200 else {}
    return r.status, hashlib.sha256(r.body).hexdigest(), r.header("etag"), volume.get("used_bytes"), volume.get("object_count")


BASELINE: tuple = ()


def still_fine(label: str) -> None:
    """The process is up and the control object and its bucket are as they were."""
    if not S.server.alive():
        raise Failure(f"after {label}: the server exited with status {S.server.proc.returncode}")
    now = control_state()
    expect(now == BASELINE, f"  nothing changed after {label}", f"before {BASELINE}, after {now}")


def answered(label: str, r: neg.Response, statuses: set[int], codes: set[str] | None = None, within: float | None = None,
             started: float | None = None) -> None:
    """`r` has one of `statuses` (and S3 codes), within `within` seconds of `started`."""
    detail = f"want HTTP {sorted(statuses)}" + (f" {sorted(codes, key=str)}" if codes else "") + f", got {r}"
    good = r.status in statuses and (codes is None or r.code in codes)
    if good and within is not None and started is not None:
        took = time.monotonic() - started
        good = took <= within
        detail += f" after {took:.1f}s (limit {within:.0f}s)"
    expect(good, label, detail)
    still_fine(label)


def timed(fn):
    started = time.monotonic()
    return fn(), started


# ---------------------------------------------------------------------------------------------
# 1. Numbers.

def check_numbers_native() -> None:
    begin("1a. numbers on the admin API")
    a = S.admin
    obj = f"/v1/volumes/{BUCKET}/objects/n.bin"
    for value in HUGE:
        r, t = timed(lambda: a.call("PUT", obj, b"abc", length=value, timeout=10))
        answered(f"PUT object, Content-Length {value}: 413 at once", r, {413}, within=5, started=t)
        r, t = timed(lambda: a.call("POST", "/v1/volumes", b"{}", length=value, timeout=10))
        answered(f"POST /v1/volumes, Content-Length {value}: 413 at once", r, {413}, within=5, started=t)
    for value in MALFORMED:
        r, t = timed(lambda: a.call("PUT", obj, b"abc", length=value, timeout=10))
        answered(f"PUT object, Content-Length {value!r}: 400 at once", r, {400}, within=5, started=t)
    ranges = [f"bytes 0-{HUGE[0]}/*", f"bytes {HUGE[0]}-{HUGE[0]}/*", f"bytes 0-{HUGE[4]}/*", f"bytes {HUGE[1]}-{HUGE[2]}/*",
              "bytes 0-3/99999999999999999999999", f"bytes 9223372036854775806-{HUGE[0]}/*", "bytes 5-4/*",
              "bytes -1-3/*", "bytes 0--3/*"]
    for spec in ranges:
        for length in ("4", None):
            headers = {"content-range": spec}
            r = a.call("PATCH", f"/v1/volumes/{BUCKET}/objects/{CONTROL}", b"abcd", headers=headers, length=length, timeout=10)
            answered(f"PATCH Content-Range {spec!r}" + (" (Content-Length 4)" if length else ""), r, {400, 413, 416})
    for spec in [f"bytes=0-{HUGE[0]}", f"bytes={HUGE[0]}-", f"bytes=-{HUGE[0]}", f"bytes=-{HUGE[4]}", f"bytes={HUGE[4]}-",
                 f"bytes={HUGE[1]}-{HUGE[2]}", "bytes=0-0,1-1", "bytes=--1"]:
        r = a.call("GET", f"/v1/volumes/{BUCKET}/objects/{CONTROL}", headers={"range": spec})
        answered(f"GET Range {spec!r}", r, {200, 206, 416})
        if r.status in (200, 206):
            expect(r.body and r.body in CONTROL_BYTES, "  the bytes served are the object's", f"{len(r.body)} bytes")
    for value in HUGE + ["-1", "0", "1.5", "1e3"]:
        r = a.call("GET", f"/v1/volumes/{BUCKET}/objects?limit={value}")
        answered(f"list limit={value}: 400", r, {400})
    bodies = []
    for value in HUGE[:2] + ["1e30", "-1", "1.5", "9.3e18"]:
        bodies += [f'{{"name":"adv-n","capacity_bytes":{value}}}',
                   f'{{"name":"adv-n","capacity_bytes":1073741824,"replicas":{value}}}']
    bodies.append(f'{{"name":"adv-n","capacity_bytes":{(1 << 56)},"replicas":2,"provisioning":"thick"}}')
    for text in bodies:
        r = a.call("POST", "/v1/volumes", text.encode(), headers={"content-type": "application/json"})
        answered(f"POST /v1/volumes {text}: 400 or 507", r, {400, 507})
    for value in HUGE[:2] + ["1e30", "-1"]:
        r = a.call("PATCH", f"/v1/volumes/{BUCKET}", f'{{"capacity_bytes":{value}}}'.encode(), headers={"content-type": "application/json"})
        answered(f"PATCH volume capacity_bytes {value}: 400 or 507", r, {400, 507})


def check_numbers_s3() -> None:
    begin("1b. numbers on the S3 API")
    raw, key = S.raw, "n.bin"
    for value in HUGE:
        head, _ = raw.prepare("PUT", f"/{BUCKET}/{key}", body=b"abc", payload="UNSIGNED-PAYLOAD", content_length=int(value))
        r, t = timed(lambda: raw.send(head, b"abc", timeout=10))
        answered(f"PutObject, Content-Length {value}: 400 EntityTooLarge at once", r, {400, 413}, {"EntityTooLarge", None}, within=5, started=t)
        q = S.signer.presign("PUT", f"/{BUCKET}/{key}", raw.host_header, 600)
        target = f"/{BUCKET}/{key}?" + urllib.parse.urlencode(q)
        r, t = timed(lambda: raw.send(raw_head("PUT", target, {"content-length": value}), b"abc", timeout=10))
        answered(f"presigned PUT, Content-Length {value}: refused at once", r, {400, 413}, within=5, started=t)
        headers = {"x-amz-decoded-content-length": value, "content-encoding": "aws-chunked"}
        body = b"3\r\nabc\r\n0\r\n\r\n"
        r = raw.request("PUT", f"/{BUCKET}/{key}", body, headers=headers, payload="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
        answered(f"PutObject aws-chunked, x-amz-decoded-content-length {value}: 400", r, {400, 413})
    upload = create_upload(key)
    for number in HUGE + ["-1", "0", "10001", "1.0"]:
        r = raw.request("PUT", f"/{BUCKET}/{key}", b"abc", query=[("partNumber", number), ("uploadId", upload)])
        answered(f"UploadPart partNumber={number}: 400 InvalidArgument", r, {400}, {"InvalidArgument"})
    for value in HUGE[:3]:
        head, _ = raw.prepare("PUT", f"/{BUCKET}/{key}", query=[("partNumber", "1"), ("uploadId", upload)], body=b"abc",
                              payload="UNSIGNED-PAYLOAD", content_length=int(value))
        r, t = timed(lambda: raw.send(head, b"abc", timeout=10))
        answered(f"UploadPart, Content-Length {value}: refused at once", r, {400, 413}, within=5, started=t)
    for name in ("max-keys", "max-uploads"):
        for value in HUGE + ["-1", "1e3"]:
            q = [(name, value)] + ([("uploads", "")] if name == "max-uploads" else [])
            r = raw.request("GET", f"/{BUCKET}", query=q)
            answered(f"GET bucket ?{name}={value}: 400 InvalidArgument", r, {400}, {"InvalidArgument"})
    for name in ("max-parts", "part-number-marker"):
        for value in HUGE + ["-1"]:
            r = raw.request("GET", f"/{BUCKET}/{key}", query=[("uploadId", upload), (name, value)])
            answered(f"ListParts ?{name}={value}: 400 InvalidArgument", r, {400}, {"InvalidArgument"})
    for spec in [f"bytes=0-{HUGE[0]}", f"bytes={HUGE[0]}-", f"bytes=-{HUGE[0]}", f"bytes={HUGE[4]}-{HUGE[4]}"]:
        r = raw.request("GET", f"/{BUCKET}/{CONTROL}", headers={"range": spec})
        answered(f"GetObject Range {spec!r}", r, {200, 206, 416})
        r = raw.request("PUT", f"/{BUCKET}/{key}", query=[("partNumber", "2"), ("uploadId", upload)],
                        headers={"x-amz-copy-source": f"{BUCKET}/{CONTROL}", "x-amz-copy-source-range": spec})
        answered(f"UploadPartCopy x-amz-copy-source-range {spec!r}: 400/416", r, {400, 416})
    for number in HUGE[:3] + ["-1"]:
        xml = (f"<CompleteMultipartUpload><Part><PartNumber>{number}</PartNumber><ETag>\"x\"</ETag></Part>"
               "</CompleteMultipartUpload>").encode()
        r = raw.request("POST", f"/{BUCKET}/{key}", xml, query=[("uploadId", upload)])
        answered(f"CompleteMultipartUpload PartNumber {number}: 400", r, {400})
    for value in HUGE + ["-1", "0", "604801", "1e3"]:
        q = [(n, v if n != "X-Amz-Expires" else value) for n, v in S.signer.presign("GET", f"/{BUCKET}/{CONTROL}", raw.host_header, 600)]
        r = raw.send(raw_head("GET", f"/{BUCKET}/{CONTROL}?" + urllib.parse.urlencode(q), {}))
        answered(f"presigned GET X-Amz-Expires={value}: refused", r, {400, 403})
    for value in ["1e400", "inf", "nan", "-inf", HUGE[4], "99999999999.5", "0x7fffffff"]:
        q = [("AWSAccessKeyId", S.signer.access_key), ("Expires", value), ("Signature", "AAAA")]
        r = raw.send(raw_head("GET", f"/{BUCKET}/{CONTROL}?" + urllib.parse.urlencode(q), {}))
        answered(f"SigV2 presigned Expires={value}: 403 AccessDenied", r, {403}, {"AccessDenied"})
    for size in ["ffffffffffffffff", "10000000000000000", "7fffffffffffffff", "-1"]:
        body = f"{size}\r\nabc\r\n0\r\n\r\n".encode()
        r = raw.request("PUT", f"/{BUCKET}/{key}", body, headers={"x-amz-decoded-content-length": "3", "content-encoding": "aws-chunked"},
                        payload="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
        answered(f"aws-chunked chunk size {size}: 400", r, {400})
    raw.request("DELETE", f"/{BUCKET}/{key}", query=[("uploadId", upload)])


def raw_head(method: str, target: str, headers: dict[str, str]) -> bytes:
    hdrs = {"host": S.raw.host_header, **headers, "connection": "close"}
    return (f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n").encode()


def create_upload(key: str) -> str:
    r = S.raw.request("POST", f"/{BUCKET}/{key}", query=[("uploads", "")])
    expect(r.status == 200, "CreateMultipartUpload", f"got {r}")
    import re
    return re.search(rb"<UploadId>([^<]+)</UploadId>", r.body).group(1).decode()


# ---------------------------------------------------------------------------------------------

STEPS = [("numbers-native", check_numbers_native), ("numbers-s3", check_numbers_s3)]


def setup() -> None:
    global BASELINE
    status, _, raw = S.server.request("POST", "/v1/volumes", neg.json.dumps({"name": BUCKET, "capacity_bytes": 1 << 30}).encode(),
                                      headers={"Content-Type": "application/json"})
    expect(status == 201, "volume adv created", f"HTTP {status}: {raw[:200]!r}")
    r = S.raw.request("PUT", f"/{BUCKET}/{CONTROL}", CONTROL_BYTES)
    expect(r.status == 200, "control object written", f"got {r}")
    BASELINE = control_state()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=".build/debug/appliance", help="appliance binary")
    parser.add_argument("--only", help="comma-separated steps: " + ",".join(n for n, _ in STEPS))
    parser.add_argument("--keep-going", action="store_true", help="after a failing step, run the next ones (if the server is up)")
    parser.add_argument("--time-limit", type=float, default=240.0, help="seconds for the whole run")
    parser.add_argument("--server-log", action="store_true", help="echo the server's log")
    args = parser.parse_args()
    base.RUN.__init__(args.time_limit)
    steps = [(n, f) for n, f in STEPS if not args.only or n in args.only.split(",")]
    tmp = tempfile.mkdtemp(prefix="appliance-adversarial-")
    failures: list[str] = []
    started = time.monotonic()
    server = None
    try:
        begin("0. starting the server")
        data_dir = os.path.join(tmp, "data")
        os.makedirs(data_dir)
        server = base.Server(os.path.abspath(args.bin), data_dir, args.server_log)
        server.start()
        S.server = server
        ctx = base.Context(server.s3_url, server.credentials_file, os.path.join(tmp, "work"), server)
        S.signer = neg.Signer(ctx.access_key, ctx.secret_key)
        S.raw = neg.Raw(server.s3_url, S.signer)
        S.admin = AdminRaw(server.url, server.token)
        neg.T.server, neg.T.ctx, neg.T.raw, neg.T.signer = server, ctx, S.raw, S.signer
        setup()
        for name, check in steps:
            try:
                check()
            except (Failure, OSError, KeyError, ValueError, AttributeError) as err:
                text = str(err) if isinstance(err, Failure) else f"unexpected {type(err).__name__}: {err}\n{traceback.format_exc()}"
                if not server.alive():
                    text += f"\n(the server exited with status {server.proc.returncode})"
                failures.append(f"[{name}] {text}")
                print(f"\nFAIL in step {name}:\n{text}", file=sys.stderr, flush=True)
                print("--- last server log lines\n" + "\n".join(list(server.log)[-40:]), file=sys.stderr, flush=True)
                if not args.keep_going or not server.alive():
                    break
    except (Failure, OSError) as err:
        failures.append(str(err))
        print(f"FAIL: {err}", file=sys.stderr)
    finally:
        if server:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{base.RUN.passed} checks passed in {time.monotonic() - started:.1f}s" + (f", {len(failures)} step(s) failed" if failures else ""))
    for text in base.RUN.notes:
        print(f"note: {text}")
    if failures:
        print("FAILED: " + "; ".join(f.splitlines()[0][:300] for f in failures), file=sys.stderr)
        return 1
    print("all adversarial checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
