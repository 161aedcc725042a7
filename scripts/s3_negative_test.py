#!/usr/bin/env python3
"""S3 negative tests: requests the appliance's S3 endpoint must refuse, and refuse without effect.

    python3 scripts/s3_negative_test.py --bin .build/debug/appliance

Starts `<bin> serve` on a temporary data dir with an S3 listener (scripts/s3_clients_test.py's
Server, imported from it, as are its output helpers), then crafts requests by hand (a SigV4 signer
here, raw sockets for full control of headers and body framing) and with boto3: (1) a wrong
secret, (2) presigned URLs expired or dated in the future, (3) a skewed clock, (4) access-key
permissions set, changed and revoked on the admin API, (5) aws-chunked bodies (signed, unsigned
with a trailer checksum, corrupted, truncated), (6) a bucket's quota (refused before a body sent
with Expect: 100-continue), (7) a range past the end, (8) invalid bucket names, (9) anonymous
requests, (10) boto3 through a TLS-terminating proxy (the only way boto3 sends
STREAMING-UNSIGNED-PAYLOAD-TRAILER bodies), and last (11) that every error answer the steps saw
was an S3 <Error> document with Code, Message, Resource and RequestId.

Every refusal is checked for its exact S3 error code and HTTP status, and for having changed
nothing: the object's bytes and ETag (an authorized GET) and the bucket's used_bytes and
object_count (the admin API) are what they were. Positive controls (the same request, correctly
signed) show that each refusal is the server's and not this script's signer.

One line per check ("ok  ..."); the first failure ends the run (exit 1, --keep-going runs the
next steps) with the request, what was expected and what came, followed by the server log tail.
"""
from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import xml.etree.ElementTree as ET
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3_clients_test as base  # noqa: E402  (the Server, the output helpers, checksums)

import boto3  # noqa: E402
import botocore.config  # noqa: E402
import botocore.exceptions  # noqa: E402
from boto3.s3.transfer import TransferConfig  # noqa: E402

from s3_clients_test import Failure, begin, expect, ok, note, show, md5_hex, MiB, REGION  # noqa: E402

# Every error document expect_error saw: (request, status, code, the <Error> children, problems).
ERROR_DOCS: list[tuple[str, int, str | None, list[str], list[str]]] = []
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
KiB = 1024


# ---------------------------------------------------------------------------------------------
# SigV4, by hand.

def uri_encode(text: str, slash: bool = True) -> str:
    """AWS's encoding: RFC 3986 unreserved characters stay, every other UTF-8 byte is %XX."""
    return urllib.parse.quote(text, safe="-_.~" + ("" if slash else "/"))


def amz_date(when: datetime.datetime) -> str:
    return when.strftime("%Y%m%dT%H%M%SZ")


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def hmac256(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


class Signed:
    """What signing a request gave: headers to send, and what chunk signatures chain from."""

    def __init__(self, headers: dict[str, str], signature: str, date: str, scope: str, key: bytes) -> None:
        self.headers, self.signature, self.date, self.scope, self.key = headers, signature, date, scope, key


class Signer:
    def __init__(self, access_key: str, secret_key: str, region: str = REGION) -> None:
        self.access_key, self.secret_key, self.region = access_key, secret_key, region

    def signing_key(self, day: str) -> bytes:
        key = ("AWS4" + self.secret_key).encode()
        for part in (day, self.region, "s3", "aws4_request"):
            key = hmac256(key, part)
        return key

    @staticmethod
    def canonical_query(query: list[tuple[str, str]]) -> str:
        return "&".join(f"{n}={v}" for n, v in sorted((uri_encode(n), uri_encode(v)) for n, v in query))

    def _sign(self, method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str],
              signed: list[str], payload: str, date: str) -> tuple[str, str, bytes]:
        lower = {k.lower(): v for k, v in headers.items()}
        canonical_headers = "".join(f"{h}:{' '.join(lower[h].split())}\n" for h in signed)
        canonical = "\n".join([method, uri_encode(path, slash=False), self.canonical_query(query), canonical_headers,
                               ";".join(signed), payload])
        scope = f"{date[:8]}/{self.region}/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        key = self.signing_key(date[:8])
        return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), scope, key

    def sign(self, method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str], payload: str,
             when: datetime.datetime | None = None) -> Signed:
        """Signs every header given plus x-amz-date and x-amz-content-sha256 (`payload`)."""
        date = amz_date(when or utcnow())
        headers = {**headers, "x-amz-date": date, "x-amz-content-sha256": payload}
        signed = sorted(k.lower() for k in headers)
        signature, scope, key = self._sign(method, path, query, headers, signed, payload, date)
        headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
                                    f"SignedHeaders={';'.join(signed)}, Signature={signature}")
        return Signed(headers, signature, date, scope, key)

    def presign(self, method: str, path: str, host: str, expires: int, when: datetime.datetime | None = None,
                query: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
        """The query of a SigV4 presigned URL (host signed, UNSIGNED-PAYLOAD)."""
        date = amz_date(when or utcnow())
        scope = f"{date[:8]}/{self.region}/s3/aws4_request"
        q = list(query or []) + [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"), ("X-Amz-Credential", f"{self.access_key}/{scope}"),
            ("X-Amz-Date", date), ("X-Amz-Expires", str(expires)), ("X-Amz-SignedHeaders", "host")]
        signature, _, _ = self._sign(method, path, q, {"host": host}, ["host"], "UNSIGNED-PAYLOAD", date)
        return q + [("X-Amz-Signature", signature)]


def chunk_signature(signed: Signed, previous: str, chunk: bytes) -> str:
    text = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", signed.date, signed.scope, previous, EMPTY_SHA256,
                      hashlib.sha256(chunk).hexdigest()])
    return hmac.new(signed.key, text.encode(), hashlib.sha256).hexdigest()


def signed_chunked_body(signed: Signed, chunks: list[bytes], corrupt: int | None = None) -> bytes:
    """STREAMING-AWS4-HMAC-SHA256-PAYLOAD framing; chunk number `corrupt` (0-based) gets a bad signature."""
    out, previous = [], signed.signature
    for i, chunk in enumerate(chunks + [b""]):
        sig = chunk_signature(signed, previous, chunk)
        previous = sig
        if i == corrupt:
            sig = ("0" if sig[0] != "0" else "1") + sig[1:]
        out.append(f"{len(chunk):x};chunk-signature={sig}\r\n".encode() + chunk + b"\r\n")
    return b"".join(out)


def unsigned_trailer_body(chunks: list[bytes], trailer: str) -> bytes:
    """STREAMING-UNSIGNED-PAYLOAD-TRAILER framing, as botocore sends it."""
    return b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in chunks) + b"0\r\n" + trailer.encode() + b"\r\n\r\n"


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


# ---------------------------------------------------------------------------------------------
# A raw HTTP/1.1 exchange over a socket: the head as given, the body sent while watching for an
# early answer (a server may refuse before it reads the body), `Connection: close`.

class Response:
    def __init__(self, status: int, reason: str, headers: dict[str, str], body: bytes, interim: list[int],
                 note_: str = "") -> None:
        self.status, self.reason, self.headers, self.body, self.interim, self.note = status, reason, headers, body, interim, note_

    @property
    def code(self) -> str | None:
        return base.xml_error_code(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def __str__(self) -> str:
        interim = f" after {self.interim}" if self.interim else ""
        return f"HTTP {self.status} {self.reason}{interim} code={self.code!r} body={show(self.body)}{self.note}"


def _parse_response(buf: bytes, head_only: bool = False) -> tuple[Response | None, bytes]:
    """One complete response from `buf` (interim 1xx ones skipped and listed), or None."""
    interim: list[int] = []
    while True:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return None, buf
        lines = buf[:end].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        rest = buf[end + 4:]
        if 100 <= status < 200:
            interim.append(status)
            buf = rest
            continue
        if head_only or status in (204, 304):
            return Response(status, parts[2] if len(parts) > 2 else "", headers, b"", interim), rest
        if "content-length" in headers:
            n = int(headers["content-length"])
            if len(rest) < n:
                return None, buf
            return Response(status, parts[2] if len(parts) > 2 else "", headers, rest[:n], interim), rest[n:]
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body, pos = b"", 0
            while True:
                eol = rest.find(b"\r\n", pos)
                if eol < 0:
                    return None, buf
                size = int(rest[pos:eol].split(b";")[0], 16)
                if size == 0:
                    if rest.find(b"\r\n\r\n", eol) < 0 and not rest[eol:].startswith(b"\r\n\r\n"):
                        return None, buf
                    return Response(status, parts[2] if len(parts) > 2 else "", headers, body, interim), b""
                if len(rest) < eol + 2 + size + 2:
                    return None, buf
                body += rest[eol + 2:eol + 2 + size]
                pos = eol + 2 + size + 2
        return None, buf  # body to EOF


class Raw:
    """Raw requests to the S3 listener, signed with `signer` unless anonymous."""

    def __init__(self, s3_url: str, signer: Signer) -> None:
        parts = urllib.parse.urlsplit(s3_url)
        self.host, self.port = parts.hostname, parts.port
        self.host_header = f"{self.host}:{self.port}"
        self.signer = signer

    def head_bytes(self, method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str]) -> bytes:
        target = uri_encode(path, slash=False)
        if query:
            target += "?" + "&".join(f"{uri_encode(n)}={uri_encode(v)}" if v != "" else uri_encode(n) for n, v in query)
        lines = [f"{method} {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")

    def prepare(self, method: str, path: str, *, query: list[tuple[str, str]] | None = None,
                headers: dict[str, str] | None = None, body: bytes = b"", payload: str | None = None,
                signer: Signer | None | bool = None, when: datetime.datetime | None = None,
                content_length: int | None = None) -> tuple[bytes, Signed | None]:
        """The request head; `signer=False`: anonymous; `payload`: x-amz-content-sha256 (default: the body's)."""
        query = query or []
        hdrs = {"host": self.host_header, **(headers or {})}
        if method in ("PUT", "POST") or body or content_length is not None:
            hdrs["content-length"] = str(len(body) if content_length is None else content_length)
        signed = None
        if signer is not False:
            s = signer or self.signer
            signed = s.sign(method, path, query, hdrs, payload or hashlib.sha256(body).hexdigest(), when)
            hdrs = signed.headers
        hdrs["connection"] = "close"
        return self.head_bytes(method, path, query, hdrs), signed

    def send(self, head: bytes, body: bytes = b"", *, hold_body: bool = False, truncate_at: int | None = None,
             timeout: float = 20.0, head_only: bool = False) -> Response:
        """Sends `head`, then `body` (all of it, or up to `truncate_at` and then the write side is
        closed; `hold_body`: none of it) while watching for an early answer; reads the response."""
        timeout = base.RUN.timeout(timeout)
        deadline = time.monotonic() + timeout
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        buf, notes, eof = b"", "", False
        try:
            sock.sendall(head)
            to_send = b"" if hold_body else body[:truncate_at] if truncate_at is not None else body
            sent = 0
            sock.setblocking(False)
            while sent < len(to_send) and not eof:
                r, w, _ = select.select([sock], [sock], [], max(0.0, deadline - time.monotonic()))
                if not r and not w:
                    raise Failure(f"sending the body: no progress within {timeout:.0f}s ({sent} of {len(to_send)} bytes sent)")
                if r:
                    try:
                        data = sock.recv(65536)
                    except (ConnectionResetError, BlockingIOError) as err:
                        data = b"" if isinstance(err, ConnectionResetError) else None
                    if data == b"":
                        eof = True
                    elif data:
                        buf += data
                        resp, _ = _parse_response(buf, head_only)
                        if resp and not (resp.status == 100 and not resp.interim):
                            notes = f" (answered after {sent} of {len(body)} body bytes)"
                            break
                if w:
                    try:
                        sent += sock.send(to_send[sent:sent + 256 * KiB])
                    except BlockingIOError:
                        pass
                    except (BrokenPipeError, ConnectionResetError):
                        notes = f" (the server closed while {sent} of {len(body)} body bytes were sent)"
                        break
            if truncate_at is not None:
                try:
                    sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
            while not eof:
                resp, _ = _parse_response(buf, head_only)
                if resp:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                r, _, _ = select.select([sock], [], [], left)
                if not r:
                    break
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    notes += " (connection reset)"
                    break
                except BlockingIOError:
                    continue
                if not data:
                    eof = True
                buf += data
        finally:
            sock.close()
        resp, _ = _parse_response(buf, head_only)
        if resp is None:
            if buf.startswith(b"HTTP/") and eof and b"\r\n\r\n" in buf:  # body to EOF
                end = buf.find(b"\r\n\r\n")
                lines = buf[:end].decode("latin-1").split("\r\n")
                parts = lines[0].split(" ", 2)
                headers = {ln.partition(":")[0].strip().lower(): ln.partition(":")[2].strip() for ln in lines[1:]}
                return Response(int(parts[1]), parts[2] if len(parts) > 2 else "", headers, buf[end + 4:], [], notes)
            return Response(0, "no response" + notes + (f", got {buf[:200]!r}" if buf else ""), {}, b"", [])
        resp.note = notes
        return resp

    def request(self, method: str, path: str, body: bytes = b"", **kw) -> Response:
        send_kw = {k: kw.pop(k) for k in ("hold_body", "truncate_at", "timeout") if k in kw}
        head, _ = self.prepare(method, path, body=body, **kw)
        return self.send(head, body, head_only=method == "HEAD", **send_kw)


# ---------------------------------------------------------------------------------------------
# The test's state: the server, the default key's signer, what objects should hold.

class T:
    server: base.Server
    ctx: base.Context
    raw: Raw
    signer: Signer


ERROR_FIELDS = ("Code", "Message", "Resource", "RequestId")


def error_fields(body: bytes) -> list[str]:
    """The child elements of an S3 <Error> document (empty if `body` is not one)."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return []
    if root.tag.rsplit("}", 1)[-1] != "Error":
        return []
    return [child.tag.rsplit("}", 1)[-1] for child in root]


def expect_error(label: str, resp: Response, status: int, code: str | None, request: str) -> None:
    """The status and code, in an <Error> document with Code, Message, Resource and RequestId."""
    expect(resp.status == status and (code is None or resp.code == code), label,
           f"request {request}: want HTTP {status}" + (f" {code}" if code else "") + f", got {resp}")
    record_error_doc(resp, request)


def record_error_doc(resp: Response, request: str) -> None:
    """Notes what the error document lacks, for step 11."""
    fields = error_fields(resp.body)
    problems = [f"no <{f}>" for f in ERROR_FIELDS if f not in fields]
    if "RequestId" in fields:
        rid = re.search(rb"<RequestId>([^<]*)</RequestId>", resp.body)
        if resp.header("x-amz-request-id") and rid and rid.group(1).decode() != resp.header("x-amz-request-id"):
            problems.append(f"<RequestId> {rid.group(1).decode()!r} is not x-amz-request-id {resp.header('x-amz-request-id')!r}")
    ERROR_DOCS.append((request, resp.status, resp.code, fields, problems))


def expect_status(label: str, resp: Response, status: int, request: str) -> None:
    expect(resp.status == status, label, f"request {request}: want HTTP {status}, got {resp}")


def admin_json(method: str, path: str, body: dict | None = None, want: int = 200) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    status, _, raw = T.server.request(method, path, data, headers={"Content-Type": "application/json"} if data else None)
    if status != want:
        raise Failure(f"admin {method} {path} {json.dumps(body) if body else ''}: want HTTP {want}, got {status}: {show(raw)}")
    return json.loads(raw) if raw.strip() else {}


def usage(bucket: str) -> tuple[int, int]:
    v = admin_json("GET", f"/v1/volumes/{bucket}")
    return v["used_bytes"], v["object_count"]


def get_object(bucket: str, key: str) -> Response:
    return T.raw.request("GET", f"/{bucket}/{key}")


def state(bucket: str, key: str) -> tuple:
    """What a refusal must leave alone: (GET status, bytes, ETag) of the object, the bucket's usage."""
    r = get_object(bucket, key)
    return (r.status, r.body if r.status == 200 else None, r.header("etag") if r.status == 200 else None), usage(bucket)


def expect_unchanged(label: str, before: tuple, bucket: str, key: str) -> None:
    after = state(bucket, key)
    (s0, b0, e0), u0 = before
    (s1, b1, e1), u1 = after
    problems = []
    if s0 != s1:
        problems.append(f"GET /{bucket}/{key} was HTTP {s0}, now HTTP {s1}")
    elif b0 != b1:
        problems.append(f"object bytes changed ({len(b0 or b'')} -> {len(b1 or b'')} bytes)")
    if e0 != e1:
        problems.append(f"ETag {e0} -> {e1}")
    if u0 != u1:
        problems.append(f"bucket (used_bytes, object_count) {u0} -> {u1}")
    expect(not problems, label, "; ".join(problems))


def put_ok(bucket: str, key: str, data: bytes, label: str) -> None:
    r = T.raw.request("PUT", f"/{bucket}/{key}", data)
    expect(r.status == 200 and r.header("etag") == f'"{md5_hex(data)}"', label,
           f"request PUT /{bucket}/{key} ({len(data)} bytes): want 200 with ETag \"{md5_hex(data)}\", got {r} ETag={r.header('etag')}")


def create_bucket(name: str) -> None:
    r = T.raw.request("PUT", f"/{name}")
    expect_status(f"CreateBucket {name} (default key): 200", r, 200, f"PUT /{name}")


def boto(access_key: str, secret_key: str, endpoint: str | None = None, verify: str | bool | None = None, **config):
    cfg = botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=10,
                                 read_timeout=60, region_name=REGION, **config)
    session = boto3.session.Session(aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=REGION)
    return session.client("s3", endpoint_url=endpoint or T.ctx.s3_url, config=cfg, verify=verify)


# ---------------------------------------------------------------------------------------------
# 1. A wrong secret.

def check_wrong_secret() -> None:
    begin("1. wrong secret")
    bucket, key = "neg-sig", "obj.bin"
    create_bucket(bucket)
    put_ok(bucket, key, os.urandom(10_000), "PUT with the right secret: 200 (positive control)")
    before = state(bucket, key)
    wrong = Signer(T.signer.access_key, T.signer.secret_key[:-1] + ("A" if T.signer.secret_key[-1] != "A" else "B"))
    body = os.urandom(5_000)
    r = T.raw.request("PUT", f"/{bucket}/{key}", body, signer=wrong)
    expect_error("PUT over an object with a wrong secret: 403 SignatureDoesNotMatch", r, 403, "SignatureDoesNotMatch",
                 f"PUT /{bucket}/{key} signed with a wrong secret")
    expect_unchanged("object unchanged after the wrong-secret PUT", before, bucket, key)
    r = T.raw.request("GET", f"/{bucket}/{key}", signer=wrong)
    expect_error("GET with a wrong secret: 403 SignatureDoesNotMatch", r, 403, "SignatureDoesNotMatch",
                 f"GET /{bucket}/{key} signed with a wrong secret")
    # The signature right but the body not the one signed.
    head, _ = T.raw.prepare("PUT", f"/{bucket}/{key}", body=body)
    r = T.raw.send(head, os.urandom(len(body)))
    expect_error("PUT whose body is not the signed x-amz-content-sha256: 400 XAmzContentSHA256Mismatch", r, 400,
                 "XAmzContentSHA256Mismatch", f"PUT /{bucket}/{key} with another body than signed")
    expect_unchanged("object unchanged after the mismatched-body PUT", before, bucket, key)


# ---------------------------------------------------------------------------------------------
# 2. Presigned URLs.

def presigned(method: str, path: str, expires: int, when: datetime.datetime | None = None, body: bytes = b"",
              signer: Signer | None = None) -> Response:
    q = (signer or T.signer).presign(method, path, T.raw.host_header, expires, when)
    hdrs = {"host": T.raw.host_header, "connection": "close"}
    if method == "PUT":
        hdrs["content-length"] = str(len(body))
    return T.raw.send(T.raw.head_bytes(method, path, q, hdrs), body, head_only=method == "HEAD")


def check_presigned() -> None:
    begin("2. presigned URLs")
    bucket, key = "neg-presign", "obj.bin"
    create_bucket(bucket)
    data = os.urandom(3_000)
    put_ok(bucket, key, data, "PUT of the object: 200")
    r = presigned("GET", f"/{bucket}/{key}", 60)
    expect(r.status == 200 and r.body == data, "presigned GET, valid: 200 with the bytes (positive control)", f"got {r}")
    fresh_put = os.urandom(2_000)
    r = presigned("PUT", f"/{bucket}/{key}.fresh", 60, body=fresh_put)
    expect_status("presigned PUT, valid: 200 (positive control)", r, 200, f"presigned PUT /{bucket}/{key}.fresh")
    T.raw.request("DELETE", f"/{bucket}/{key}.fresh")

    started = utcnow()
    get_q = T.signer.presign("GET", f"/{bucket}/{key}", T.raw.host_header, 1, started)
    put_q = T.signer.presign("PUT", f"/{bucket}/{key}", T.raw.host_header, 1, started)
    time.sleep(2.2)
    before = state(bucket, key)
    hdrs = {"host": T.raw.host_header, "connection": "close"}
    r = T.raw.send(T.raw.head_bytes("GET", f"/{bucket}/{key}", get_q, hdrs))
    expect_error("presigned GET, X-Amz-Expires=1, 2 s later: 403 AccessDenied", r, 403, "AccessDenied",
                 f"GET /{bucket}/{key} presigned at {amz_date(started)} for 1 s")
    body = os.urandom(1_000)
    r = T.raw.send(T.raw.head_bytes("PUT", f"/{bucket}/{key}", put_q, {**hdrs, "content-length": str(len(body))}), body)
    expect_error("presigned PUT, X-Amz-Expires=1, 2 s later: 403 AccessDenied", r, 403, "AccessDenied",
                 f"PUT /{bucket}/{key} presigned at {amz_date(started)} for 1 s")
    expect_unchanged("object unchanged after the expired presigned PUT", before, bucket, key)

    future = utcnow() + datetime.timedelta(minutes=20)
    r = presigned("GET", f"/{bucket}/{key}", 3600, future)
    expect_error(f"presigned GET dated 20 min ahead ({amz_date(future)}), X-Amz-Expires=3600: 403", r, 403, None,
                 f"GET /{bucket}/{key} presigned at {amz_date(future)}")
    note(f"a presigned URL dated 20 min ahead is refused with code {r.code}")
    r = presigned("PUT", f"/{bucket}/{key}", 3600, future, body=body)
    expect_error("presigned PUT dated 20 min ahead: 403", r, 403, None, f"PUT /{bucket}/{key} presigned at {amz_date(future)}")
    expect_unchanged("object unchanged after the future-dated presigned PUT", before, bucket, key)
    near = utcnow() + datetime.timedelta(minutes=5)
    r = presigned("GET", f"/{bucket}/{key}", 3600, near)
    expect(r.status == 200 and r.body == data, "presigned GET dated 5 min ahead (within 15 min): 200", f"got {r}")


# ---------------------------------------------------------------------------------------------
# 3. A skewed clock.

def check_skew() -> None:
    begin("3. skewed clock")
    bucket, key = "neg-skew", "obj.bin"
    create_bucket(bucket)
    data = os.urandom(4_000)
    put_ok(bucket, key, data, "PUT of the object: 200")
    before = state(bucket, key)
    past20 = utcnow() - datetime.timedelta(minutes=20)
    r = T.raw.request("PUT", f"/{bucket}/{key}", os.urandom(1_000), when=past20)
    expect_error("PUT with x-amz-date 20 min in the past: 403 RequestTimeTooSkewed", r, 403, "RequestTimeTooSkewed",
                 f"PUT /{bucket}/{key} x-amz-date {amz_date(past20)}")
    r = T.raw.request("GET", f"/{bucket}/{key}", when=past20)
    expect_error("GET with x-amz-date 20 min in the past: 403 RequestTimeTooSkewed", r, 403, "RequestTimeTooSkewed",
                 f"GET /{bucket}/{key} x-amz-date {amz_date(past20)}")
    ahead20 = utcnow() + datetime.timedelta(minutes=20)
    r = T.raw.request("GET", f"/{bucket}/{key}", when=ahead20)
    expect_error("GET with x-amz-date 20 min ahead: 403 RequestTimeTooSkewed", r, 403, "RequestTimeTooSkewed",
                 f"GET /{bucket}/{key} x-amz-date {amz_date(ahead20)}")
    expect_unchanged("object unchanged after the skewed PUT", before, bucket, key)
    past10 = utcnow() - datetime.timedelta(minutes=10)
    r = T.raw.request("GET", f"/{bucket}/{key}", when=past10)
    expect(r.status == 200 and r.body == data, "GET with x-amz-date 10 min in the past: 200 with the bytes", f"got {r}")
    new = os.urandom(2_000)
    r = T.raw.request("PUT", f"/{bucket}/{key}", new, when=past10)
    expect_status("PUT with x-amz-date 10 min in the past: 200", r, 200, f"PUT /{bucket}/{key} x-amz-date {amz_date(past10)}")
    r = get_object(bucket, key)
    expect(r.body == new, "GET returns what the 10-min-skewed PUT stored", f"got {r}")


# ---------------------------------------------------------------------------------------------
# 4. Permissions.

def check_permissions() -> None:
    begin("4. access-key permissions")
    a, b, key = "perm-a", "perm-b", "obj.bin"
    create_bucket(a)
    create_bucket(b)
    data = os.urandom(6_000)
    put_ok(a, key, data, f"PUT /{a}/{key} (default key): 200")
    ro = admin_json("POST", "/v1/access-keys", {"name": "reader of a", "permissions": {a: "read"}, "create_buckets": False}, 201)
    wb = admin_json("POST", "/v1/access-keys", {"name": "writer of b", "permissions": {b: "write"}, "create_buckets": False}, 201)
    expect(all(k.get("access_key_id") and k.get("secret_access_key") for k in (ro, wb)),
           "POST /v1/access-keys: 201 with access_key_id and secret_access_key", f"{ro} {wb}")
    listed = admin_json("GET", "/v1/access-keys")
    ids = {k.get("access_key_id") for k in next(v for v in listed.values() if isinstance(v, list))}
    expect({ro["access_key_id"], wb["access_key_id"]} <= ids, "GET /v1/access-keys lists both keys", f"{listed}")
    shown = admin_json("GET", f"/v1/access-keys/{ro['access_key_id']}")
    expect("secret_access_key" not in shown and shown.get("permissions") == {a: "read"},
           "GET /v1/access-keys/{id}: permissions, no secret", f"{shown}")
    ro_s = Signer(ro["access_key_id"], ro["secret_access_key"])
    wb_s = Signer(wb["access_key_id"], wb["secret_access_key"])

    r = T.raw.request("GET", f"/{a}/{key}", signer=ro_s)
    expect(r.status == 200 and r.body == data, "read-only key: GET on A: 200 with the bytes", f"got {r}")
    before = state(a, key)
    r = T.raw.request("PUT", f"/{a}/{key}", os.urandom(100), signer=ro_s)
    expect_error("read-only key: PUT on A: 403 AccessDenied", r, 403, "AccessDenied", f"PUT /{a}/{key} by the read-only key")
    r = T.raw.request("PUT", f"/{a}/new.bin", os.urandom(100), signer=ro_s)
    expect_error("read-only key: PUT of a new key on A: 403 AccessDenied", r, 403, "AccessDenied", f"PUT /{a}/new.bin by the read-only key")
    r = T.raw.request("DELETE", f"/{a}/{key}", signer=ro_s)
    expect_error("read-only key: DELETE on A: 403 AccessDenied", r, 403, "AccessDenied", f"DELETE /{a}/{key} by the read-only key")
    expect_unchanged("object on A unchanged after the read-only key's PUT and DELETE", before, a, key)
    r = T.raw.request("PUT", "/perm-new", signer=ro_s)
    expect_error("read-only key (create_buckets false): CreateBucket: 403 AccessDenied", r, 403, "AccessDenied", "PUT /perm-new by the read-only key")
    status, _, body = T.server.request("GET", "/v1/volumes/perm-new")
    expect(status == 404, "no volume perm-new after the refused CreateBucket", f"admin GET /v1/volumes/perm-new: HTTP {status} {show(body)}")

    r = T.raw.request("GET", f"/{a}/{key}", signer=wb_s)
    expect_error("key of B: GET on A: 403 AccessDenied", r, 403, "AccessDenied", f"GET /{a}/{key} by B's key")
    r = T.raw.request("PUT", f"/{a}/{key}", os.urandom(100), signer=wb_s)
    expect_error("key of B: PUT on A: 403 AccessDenied", r, 403, "AccessDenied", f"PUT /{a}/{key} by B's key")
    expect_unchanged("object on A unchanged after B's key's PUT", before, a, key)
    s3b = boto(wb["access_key_id"], wb["secret_access_key"])
    names = [x["Name"] for x in s3b.list_buckets().get("Buckets", [])]
    expect(names == [b], "key of B: ListBuckets lists only B", f"got {names}")
    s3b.put_object(Bucket=b, Key=key, Body=b"b's own")
    expect(s3b.get_object(Bucket=b, Key=key)["Body"].read() == b"b's own", "key of B: PUT and GET on B (boto3)")

    admin_json("PATCH", f"/v1/access-keys/{ro['access_key_id']}", {"permissions": {a: "write"}})
    new = os.urandom(700)
    r = T.raw.request("PUT", f"/{a}/{key}", new, signer=ro_s)
    expect_status("after PATCH to write on A: the key's PUT on A: 200 (at once)", r, 200, f"PUT /{a}/{key} by the patched key")
    expect(get_object(a, key).body == new, "GET returns what the patched key stored")

    admin_json("DELETE", f"/v1/access-keys/{ro['access_key_id']}", want=204)
    before = state(a, key)
    r = T.raw.request("GET", f"/{a}/{key}", signer=ro_s)
    expect_error("deleted key: GET: 403 InvalidAccessKeyId", r, 403, "InvalidAccessKeyId", f"GET /{a}/{key} by a deleted key")
    r = T.raw.request("PUT", f"/{a}/{key}", os.urandom(100), signer=ro_s)
    expect_error("deleted key: PUT: 403 InvalidAccessKeyId", r, 403, "InvalidAccessKeyId", f"PUT /{a}/{key} by a deleted key")
    expect_unchanged("object unchanged after the deleted key's PUT", before, a, key)
    status, _, body = T.server.request("GET", f"/v1/access-keys/{ro['access_key_id']}")
    expect(status == 404, "GET /v1/access-keys/{deleted id}: 404", f"HTTP {status} {show(body)}")
    admin_json("DELETE", f"/v1/access-keys/{wb['access_key_id']}", want=204)
    base.client_error("deleted key of B: boto3 list_buckets: InvalidAccessKeyId", s3b.list_buckets,
                      codes=("InvalidAccessKeyId",), status=403)


# ---------------------------------------------------------------------------------------------
# 5. aws-chunked bodies.

def chunked_put(bucket: str, key: str, form: str, encoded: bytes, decoded_len: int, extra: dict[str, str] | None = None,
                aws_chunked: bool = True, truncate_at: int | None = None, sign_body=None) -> Response:
    headers = {"x-amz-decoded-content-length": str(decoded_len), **(extra or {})}
    if aws_chunked:
        headers["content-encoding"] = "aws-chunked"
    if sign_body is not None:  # the body depends on the seed signature
        head, signed = T.raw.prepare("PUT", f"/{bucket}/{key}", headers=headers, payload=form, content_length=0)
        encoded = sign_body(signed)
        head, signed2 = T.raw.prepare("PUT", f"/{bucket}/{key}", headers=headers, payload=form, content_length=len(encoded),
                                      when=datetime.datetime.strptime(signed.date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc))
        encoded = sign_body(signed2)  # content-length is signed: sign again with the real one
    else:
        head, _ = T.raw.prepare("PUT", f"/{bucket}/{key}", headers=headers, payload=form, content_length=len(encoded))
    return T.raw.send(head, encoded, truncate_at=truncate_at)


def check_chunked() -> None:
    begin("5. aws-chunked bodies")
    bucket, key = "neg-chunked", "obj.bin"
    create_bucket(bucket)
    chunks = [os.urandom(64 * KiB), os.urandom(64 * KiB), os.urandom(100)]
    data = b"".join(chunks)
    form = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    r = chunked_put(bucket, key, form, b"", len(data), sign_body=lambda s: signed_chunked_body(s, chunks))
    expect(r.status == 200 and r.header("etag") == f'"{md5_hex(data)}"',
           "signed aws-chunked PUT (64 KiB, 64 KiB, 100 B): 200 with ETag = MD5", f"got {r} ETag={r.header('etag')}")
    g = get_object(bucket, key)
    expect(g.status == 200 and g.body == data and g.header("etag") == f'"{md5_hex(data)}"',
           "GET returns the decoded bytes, ETag = MD5", f"got {g} ETag={g.header('etag')}")

    chunks2 = [os.urandom(64 * KiB), os.urandom(64 * KiB), os.urandom(100)]
    data2 = b"".join(chunks2)
    r = chunked_put(bucket, key, form, b"", len(data2), aws_chunked=False, sign_body=lambda s: signed_chunked_body(s, chunks2))
    expect(r.status == 200 and r.header("etag") == f'"{md5_hex(data2)}"',
           "signed chunked PUT without Content-Encoding: aws-chunked (restic/minio-go): 200", f"got {r}")
    g = get_object(bucket, key)
    expect(g.body == data2, "GET returns its decoded bytes", f"got {g}")

    before = state(bucket, key)
    bad = [os.urandom(64 * KiB), os.urandom(64 * KiB), os.urandom(100)]
    r = chunked_put(bucket, key, form, b"", sum(map(len, bad)), sign_body=lambda s: signed_chunked_body(s, bad, corrupt=1))
    expect_error("signed aws-chunked PUT, second chunk's signature corrupted: 403 SignatureDoesNotMatch", r, 403,
                 "SignatureDoesNotMatch", f"PUT /{bucket}/{key} aws-chunked, chunk 2 signature altered")
    expect_unchanged("object keeps its previous content", before, bucket, key)
    r = chunked_put(bucket, key, form, b"", sum(map(len, bad)), sign_body=lambda s: signed_chunked_body(s, bad, corrupt=3))
    expect_error("signed aws-chunked PUT, final chunk's signature corrupted: 403 SignatureDoesNotMatch", r, 403,
                 "SignatureDoesNotMatch", f"PUT /{bucket}/{key} aws-chunked, final 0-chunk signature altered")
    expect_unchanged("object keeps its previous content", before, bucket, key)

    uform = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    uchunks = [os.urandom(64 * KiB), os.urandom(30_000)]
    udata = b"".join(uchunks)
    trailer_hdr = {"x-amz-trailer": "x-amz-checksum-crc32"}
    body = unsigned_trailer_body(uchunks, f"x-amz-checksum-crc32:{crc32_b64(udata)}")
    r = chunked_put(bucket, key, uform, body, len(udata), trailer_hdr)
    expect(r.status == 200 and r.header("etag") == f'"{md5_hex(udata)}"',
           "STREAMING-UNSIGNED-PAYLOAD-TRAILER PUT with a CRC32 trailer: 200, ETag = MD5", f"got {r}")
    g = T.raw.request("GET", f"/{bucket}/{key}", headers={"x-amz-checksum-mode": "ENABLED"})
    expect(g.status == 200 and g.body == udata and g.header("x-amz-checksum-crc32") == crc32_b64(udata),
           "GET with x-amz-checksum-mode: ENABLED returns the bytes and x-amz-checksum-crc32",
           f"got {g} x-amz-checksum-crc32={g.header('x-amz-checksum-crc32')!r}, want {crc32_b64(udata)!r}")

    before = state(bucket, key)
    other = [os.urandom(64 * KiB), os.urandom(1_000)]
    odata = b"".join(other)
    body = unsigned_trailer_body(other, f"x-amz-checksum-crc32:{crc32_b64(odata + b'x')}")
    r = chunked_put(bucket, key, uform, body, len(odata), trailer_hdr)
    expect_error("unsigned-trailer PUT with a wrong CRC32 trailer: 400 BadDigest", r, 400, "BadDigest",
                 f"PUT /{bucket}/{key} STREAMING-UNSIGNED-PAYLOAD-TRAILER, trailer crc32 of other bytes")
    expect_unchanged("object unchanged after the bad-trailer PUT", before, bucket, key)

    for what, build, fm, hdr in (
            ("signed aws-chunked", None, form, {}),
            ("unsigned-trailer", unsigned_trailer_body(other, f"x-amz-checksum-crc32:{crc32_b64(odata)}"), uform, trailer_hdr)):
        if build is None:
            head_kw = {"x-amz-decoded-content-length": str(len(odata)), "content-encoding": "aws-chunked"}
            _, s0 = T.raw.prepare("PUT", f"/{bucket}/{key}", headers=head_kw, payload=fm, content_length=0)
            length = len(signed_chunked_body(s0, other))
            head, s1 = T.raw.prepare("PUT", f"/{bucket}/{key}", headers=head_kw, payload=fm, content_length=length)
            encoded = signed_chunked_body(s1, other)
        else:
            encoded = build
            head, _ = T.raw.prepare("PUT", f"/{bucket}/{key}", payload=fm, content_length=len(encoded),
                                    headers={"x-amz-decoded-content-length": str(len(odata)), "content-encoding": "aws-chunked", **hdr})
        r = T.raw.send(head, encoded, truncate_at=len(encoded) // 2, timeout=15)
        expect(r.status == 0 or (r.status == 400 and r.code == "IncompleteBody"),
               f"{what} PUT truncated after half its body: 400 IncompleteBody or the connection dropped",
               f"request PUT /{bucket}/{key} ({len(encoded) // 2} of {len(encoded)} bytes, then the write side closed): got {r}")
        note(f"truncated {what} body: " + (f"HTTP {r.status} {r.code}" if r.status else f"no answer ({r.reason})"))
        time.sleep(0.3)
        expect_unchanged(f"object unchanged after the truncated {what} PUT", before, bucket, key)

    # Declared lengths that disagree with the chunks.
    body = unsigned_trailer_body(other, f"x-amz-checksum-crc32:{crc32_b64(odata)}")
    r = chunked_put(bucket, key, uform, body, len(odata) + 10, trailer_hdr)
    if r.status:
        record_error_doc(r, f"PUT /{bucket}/{key} decoded length longer than the chunks")
    expect(r.status in (400, 0), "unsigned-trailer PUT whose x-amz-decoded-content-length exceeds the chunks: refused (400)",
           f"request PUT /{bucket}/{key} decoded length {len(odata) + 10} for {len(odata)} bytes: got {r}")
    note(f"decoded length longer than the chunks: HTTP {r.status} {r.code}")
    expect_unchanged("object unchanged after the over-declared PUT", before, bucket, key)


# ---------------------------------------------------------------------------------------------
# 6. Quota.

def check_quota() -> None:
    begin("6. bucket quota")
    bucket, key = "tiny", "big.bin"
    admin_json("POST", "/v1/volumes", {"name": bucket, "capacity_bytes": MiB, "replicas": 1, "provisioning": "thin"}, 201)
    ok("admin POST /v1/volumes tiny (1 MiB): 201")
    expect(usage(bucket) == (0, 0), "tiny starts with used_bytes 0, object_count 0", f"{usage(bucket)}")
    small = os.urandom(1000)
    put_ok(bucket, "small.bin", small, "PUT of 1000 B into tiny through the wildcard key: 200 (positive control)")
    r = T.raw.request("DELETE", f"/{bucket}/small.bin")
    expect_status("DELETE of it: 204", r, 204, f"DELETE /{bucket}/small.bin")
    expect(usage(bucket) == (0, 0), "tiny back to used_bytes 0, object_count 0", f"{usage(bucket)}")
    before = state(bucket, key)

    big = os.urandom(2 * MiB)
    head, _ = T.raw.prepare("PUT", f"/{bucket}/{key}", headers={"expect": "100-continue"}, body=big)
    sock = socket.create_connection((T.raw.host, T.raw.port), timeout=5)
    buf = b""
    try:
        sock.sendall(head)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            r_, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
            if not r_:
                break
            data = sock.recv(65536)
            if not data:
                break
            buf += data
            resp, _ = _parse_response(buf)
            if resp or buf.startswith(b"HTTP/1.1 100"):
                break
    finally:
        sock.close()
    first = buf.split(b"\r\n", 1)[0].decode("latin-1") if buf else "(nothing within 2 s)"
    resp, _ = _parse_response(buf)
    expect(not buf.startswith(b"HTTP/1.1 100") and resp is not None and resp.status == 507 and not resp.interim
           and resp.code == "QuotaExceeded",
           "PUT of 2 MiB with Expect: 100-continue: 507 QuotaExceeded before the body, no 100 Continue",
           f"request PUT /{bucket}/{key} Content-Length {len(big)} Expect: 100-continue, body withheld: first line {first!r}, "
           f"got {resp if resp else repr(buf[:300])}")
    record_error_doc(resp, f"PUT /{bucket}/{key} 2 MiB, Expect: 100-continue, body withheld")
    expect_unchanged("tiny unchanged (no object, used_bytes 0, object_count 0)", before, bucket, key)

    r = T.raw.request("PUT", f"/{bucket}/{key}", big)
    expect_error("PUT of 2 MiB sent whole: 507 QuotaExceeded", r, 507, "QuotaExceeded", f"PUT /{bucket}/{key} 2 MiB, no Expect")
    note(f"2 MiB PUT without Expect answered{r.note or ' after the whole body'}")
    expect_unchanged("tiny unchanged after it", before, bucket, key)
    expect(usage(bucket) == (0, 0), "tiny used_bytes 0, object_count 0", f"{usage(bucket)}")

    r = T.raw.request("POST", f"/{bucket}/{key}", query=[("uploads", "")])
    m = re.search(rb"<UploadId>([^<]+)</UploadId>", r.body)
    expect(r.status == 200 and m is not None, "CreateMultipartUpload in tiny: 200 with an UploadId", f"got {r}")
    upload_id = m.group(1).decode()
    part = os.urandom(2 * MiB)
    r = T.raw.request("PUT", f"/{bucket}/{key}", part, query=[("partNumber", "1"), ("uploadId", upload_id)])
    expect_error("UploadPart of 2 MiB into tiny (1 MiB): 507 QuotaExceeded", r, 507, "QuotaExceeded",
                 f"PUT /{bucket}/{key}?partNumber=1&uploadId=… 2 MiB")
    head, _ = T.raw.prepare("PUT", f"/{bucket}/{key}", query=[("partNumber", "2"), ("uploadId", upload_id)],
                            headers={"expect": "100-continue"}, body=part)
    r = T.raw.send(head, part, hold_body=True, timeout=5)
    expect_error("UploadPart of 2 MiB with Expect: 100-continue: 507 QuotaExceeded before the body", r, 507, "QuotaExceeded",
                 f"PUT /{bucket}/{key}?partNumber=2&uploadId=… Expect: 100-continue, body withheld")
    expect(100 not in r.interim, "no 100 Continue before that refusal", f"interim {r.interim}")
    r = T.raw.request("GET", f"/{bucket}/{key}", query=[("uploadId", upload_id)])
    expect(r.status == 200 and b"<Part>" not in r.body, "ListParts: no part stored", f"got {r}")
    r = T.raw.request("DELETE", f"/{bucket}/{key}", query=[("uploadId", upload_id)])
    expect_status("AbortMultipartUpload: 204", r, 204, f"DELETE /{bucket}/{key}?uploadId=…")
    expect_unchanged("tiny unchanged after the multipart attempt", before, bucket, key)
    expect(usage(bucket) == (0, 0), "tiny used_bytes 0, object_count 0 at the end", f"{usage(bucket)}")


# ---------------------------------------------------------------------------------------------
# 7. Range past the end.

def check_range() -> None:
    begin("7. range past the end")
    bucket, key = "neg-range", "obj.bin"
    create_bucket(bucket)
    data = os.urandom(1000)
    put_ok(bucket, key, data, "PUT of 1000 B: 200")
    r = T.raw.request("GET", f"/{bucket}/{key}", headers={"range": "bytes=990-"})
    expect(r.status == 206 and r.body == data[990:] and r.header("content-range") == "bytes 990-999/1000",
           "GET Range bytes=990-: 206 with the last 10 bytes (positive control)", f"got {r} Content-Range={r.header('content-range')!r}")
    for rng in ("bytes=1000-", "bytes=5000-6000"):
        r = T.raw.request("GET", f"/{bucket}/{key}", headers={"range": rng})
        expect(r.status == 416 and r.code == "InvalidRange" and r.header("content-range") == "bytes */1000",
               f"GET Range {rng} of 1000 B: 416 InvalidRange, Content-Range bytes */1000",
               f"request GET /{bucket}/{key} Range: {rng}: got {r} Content-Range={r.header('content-range')!r}")
        record_error_doc(r, f"GET /{bucket}/{key} Range: {rng}")
    r = T.raw.request("HEAD", f"/{bucket}/{key}", headers={"range": "bytes=1000-"})
    expect(r.status == 416, "HEAD Range bytes=1000-: 416", f"got {r}")


# ---------------------------------------------------------------------------------------------
# 8. Bucket names.

def check_bucket_names() -> None:
    begin("8. invalid bucket names")
    for name in ("Bad_Name", "ab", "-abc", "a..b", "abc-", "a" * 64, "has.dot"):
        r = T.raw.request("PUT", f"/{name}")
        expect_error(f"CreateBucket {name!r}: 400 InvalidBucketName", r, 400, "InvalidBucketName", f"PUT /{name}")
        status, _, body = T.server.request("GET", f"/v1/volumes/{urllib.parse.quote(name, safe='')}")
        expect(status == 404, f"no volume {name!r} (admin GET: 404)", f"admin GET /v1/volumes/{name}: HTTP {status} {show(body)}")
    names = [x["Name"] for x in base.s3_client(T.ctx).list_buckets().get("Buckets", [])]
    expect(not {"Bad_Name", "ab", "-abc", "a..b"} & set(names), "ListBuckets shows none of them", f"{names}")


# ---------------------------------------------------------------------------------------------
# 9. Anonymous requests.

def check_anonymous() -> None:
    begin("9. anonymous requests")
    bucket, key = "neg-anon", "obj.bin"
    create_bucket(bucket)
    before = state(bucket, key)
    body = os.urandom(MiB)
    head, _ = T.raw.prepare("PUT", f"/{bucket}/{key}", headers={"expect": "100-continue"}, body=body, signer=False)
    r = T.raw.send(head, body, hold_body=True, timeout=2.5)
    expect(r.status == 403 and r.code == "AccessDenied" and 100 not in r.interim,
           "anonymous PUT (1 MiB, Expect: 100-continue): 403 AccessDenied before the body, no 100 Continue",
           f"request PUT /{bucket}/{key} unsigned, body withheld: got {r}")
    record_error_doc(r, f"PUT /{bucket}/{key} unsigned, Expect: 100-continue, body withheld")
    expect_unchanged("nothing created by it", before, bucket, key)
    r = T.raw.request("PUT", f"/{bucket}/{key}", body, signer=False)
    expect_error("anonymous PUT sent whole: 403 AccessDenied", r, 403, "AccessDenied", f"PUT /{bucket}/{key} unsigned")
    note(f"anonymous 1 MiB PUT without Expect answered{r.note or ' after the whole body'}")
    expect_unchanged("nothing created by it", before, bucket, key)
    r = T.raw.request("PUT", "/anon-bucket", signer=False)
    expect_error("anonymous CreateBucket: 403 AccessDenied", r, 403, "AccessDenied", "PUT /anon-bucket unsigned")
    status, _, _ = T.server.request("GET", "/v1/volumes/anon-bucket")
    expect(status == 404, "no volume anon-bucket", f"admin GET: HTTP {status}")
    put_ok(bucket, key, b"x", "PUT of an object (signed)")
    for method in ("GET", "HEAD"):
        r = T.raw.request(method, f"/{bucket}/{key}", signer=False)
        expect(r.status == 403 and (method == "HEAD" or r.code == "AccessDenied"), f"anonymous {method} of an object: 403"
               + (" AccessDenied" if method == "GET" else ""), f"got {r}")
    r = T.raw.request("GET", "/", signer=False)
    expect_error("anonymous ListBuckets: 403 AccessDenied", r, 403, "AccessDenied", "GET / unsigned")


# ---------------------------------------------------------------------------------------------
# 10. boto3 through a TLS-terminating proxy.

class TLSProxy:
    """Accepts TLS on 127.0.0.1:<port>, forwards plaintext to the S3 listener, notes each request's
    x-amz-content-sha256 form (request heads are sniffed in the client's stream)."""

    HEAD = re.compile(rb"(GET|PUT|POST|HEAD|DELETE) (\S+) HTTP/1\.1\r\n((?:[^\r\n]*\r\n){0,60}?)\r\n")

    def __init__(self, cert: str, key: str, upstream: tuple[str, int]) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.seen: list[tuple[str, str, str]] = []  # (method, path, x-amz-content-sha256)
        self.lock = threading.Lock()
        self.errors: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            tls = self.context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError) as err:
            with self.lock:
                self.errors.append(f"TLS handshake: {err}")
            conn.close()
            return
        try:
            up = socket.create_connection(self.upstream, timeout=30)
        except OSError as err:
            with self.lock:
                self.errors.append(f"upstream connect: {err}")
            tls.close()
            return
        threading.Thread(target=self._pump, args=(up, tls, False), daemon=True).start()
        self._pump(tls, up, True)

    def _pump(self, src: socket.socket, dst: socket.socket, sniff: bool) -> None:
        window, offset, last_end = b"", 0, -1
        try:
            while True:
                data = src.recv(256 * KiB)
                if not data:
                    break
                if sniff:
                    window += data
                    for m in self.HEAD.finditer(window):
                        start = offset + m.start()
                        if start <= last_end:
                            continue
                        last_end = offset + m.end() - 1
                        form = re.search(rb"(?im)^x-amz-content-sha256:\s*(\S+)", m.group(3))
                        value = form.group(1).decode() if form else "(none)"
                        if len(value) == 64 and re.fullmatch(r"[0-9a-f]+", value):
                            value = "<sha256 hex>"
                        with self.lock:
                            self.seen.append((m.group(1).decode(), m.group(2).decode().split("?")[0] +
                                              ("?" + m.group(2).decode().split("?")[1][:20] if "?" in m.group(2).decode() else ""), value))
                    if len(window) > 16 * KiB:
                        cut = len(window) - 8 * KiB
                        window, offset = window[cut:], offset + cut
                dst.sendall(data)
        except (OSError, ssl.SSLError):
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self.listener.close()


def check_tls() -> None:
    begin("10. boto3 through a TLS front")
    cert, keyfile = T.ctx.path("tls-cert.pem"), T.ctx.path("tls-key.pem")
    base.run(T.ctx, "openssl req", ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", keyfile, "-out", cert], timeout=30)
    ok("self-signed certificate for 127.0.0.1")
    proxy = TLSProxy(cert, keyfile, (T.raw.host, T.raw.port))
    try:
        s3 = boto(T.ctx.access_key, T.ctx.secret_key, endpoint=f"https://127.0.0.1:{proxy.port}", verify=cert)
        bucket = "tls-bucket"
        s3.create_bucket(Bucket=bucket)
        ok(f"boto3 create_bucket {bucket} over TLS")
        cases = [("empty", 0, None), ("small", 1000, None), ("one-mib", MiB, None), ("crc32c", 300_000, "CRC32C"),
                 ("sha256", 70_000, "SHA256"), ("crc32c-empty", 0, "CRC32C")]
        for name, size, algorithm in cases:
            data = os.urandom(size)
            kwargs = {"ChecksumAlgorithm": algorithm} if algorithm else {}
            put = s3.put_object(Bucket=bucket, Key=name, Body=data, **kwargs)
            expect(put["ETag"] == f'"{md5_hex(data)}"', f"put_object {name} ({size} B{', ' + algorithm if algorithm else ''}) over TLS: ETag = MD5",
                   f"{put['ETag']!r}")
            got = s3.get_object(Bucket=bucket, Key=name, ChecksumMode="ENABLED")
            base.same_bytes(f"get_object {name}: same bytes", data, got["Body"].read())
            alg = algorithm or "CRC32"  # botocore's default checksum when it sends one
            want = base.s3_checksum(alg, data)
            returned = got.get(f"Checksum{alg}")
            if algorithm:
                expect(returned == want and put.get(f"Checksum{alg}") == want,
                       f"get_object {name}: Checksum{alg} returned and right (and put_object's)",
                       f"put {put.get(f'Checksum{alg}')!r}, get {returned!r}, want {want!r}")
            elif returned is not None:
                expect(returned == want, f"get_object {name}: Checksum{alg} right", f"got {returned!r}, want {want!r}")
        big = os.urandom(12 * MiB)
        path = T.ctx.path("twelve.bin")
        base.write_file(path, big)
        s3.upload_file(path, bucket, "twelve.bin", Config=TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB))
        got = s3.get_object(Bucket=bucket, Key="twelve.bin")
        body = got["Body"].read()
        base.same_bytes("upload_file of 12 MiB (multipart) over TLS, get_object: same bytes", big, body)
        expect(got["ETag"].strip('"').endswith("-2"), "its ETag is a 2-part multipart ETag", f"{got['ETag']!r}")
        with proxy.lock:
            seen = list(proxy.seen)
            errors = list(proxy.errors)
        forms: dict[str, int] = {}
        for method, target, form in seen:
            if method in ("PUT", "POST"):
                forms[f"{method} {form}"] = forms.get(f"{method} {form}", 0) + 1
        note("boto3 over TLS sent x-amz-content-sha256: " + ", ".join(f"{k} ×{v}" for k, v in sorted(forms.items())))
        for method, target, form in seen:
            if method == "PUT":
                print(f"    {method} {target}: {form}")
        expect(any(f == "STREAMING-UNSIGNED-PAYLOAD-TRAILER" for _, _, f in seen),
               "at least one request used STREAMING-UNSIGNED-PAYLOAD-TRAILER (else this step tests nothing new)",
               f"seen {seen}; proxy errors {errors}")
    finally:
        proxy.close()


# ---------------------------------------------------------------------------------------------
# 11. The error documents the steps above checked: S3's <Error> with Code, Message, Resource and
# RequestId (checked last, over all of them, so that a missing field does not hide the rest).

def check_error_documents() -> None:
    begin("11. S3 error documents")
    expect(bool(ERROR_DOCS), "the steps run produced S3 errors to look at", "none recorded")
    bad = [(req, status, code, problems) for req, status, code, _, problems in ERROR_DOCS if problems]
    by_problem: dict[str, list[str]] = {}
    for req, status, code, problems in bad:
        for p in problems:
            by_problem.setdefault(p, []).append(f"{req} -> {status} {code}")
    detail = "".join(f"\n  {p} in {len(reqs)} of {len(ERROR_DOCS)} error answers, e.g.:" + "".join(f"\n    {r}" for r in reqs[:40])
                     for p, reqs in by_problem.items())
    expect(not bad, f"all {len(ERROR_DOCS)} S3 error answers are <Error> documents with Code, Message, Resource, RequestId",
           f"{len(bad)} are not:{detail}")


# ---------------------------------------------------------------------------------------------

STEPS = [("signature", check_wrong_secret), ("presigned", check_presigned), ("skew", check_skew),
         ("permissions", check_permissions), ("chunked", check_chunked), ("quota", check_quota), ("range", check_range),
         ("names", check_bucket_names), ("anonymous", check_anonymous), ("tls", check_tls),
         ("errors", check_error_documents)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=".build/debug/appliance", help="appliance binary")
    parser.add_argument("--only", help="comma-separated steps to run: " + ",".join(n for n, _ in STEPS))
    parser.add_argument("--keep-going", action="store_true", help="after a failing step, run the next ones")
    parser.add_argument("--time-limit", type=float, default=85.0, help="seconds for the whole run (default 85)")
    parser.add_argument("--server-log", action="store_true", help="echo the server's log as it runs")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    base.RUN.__init__(args.time_limit)
    steps = STEPS
    if args.only:
        wanted = {s.strip() for s in args.only.split(",") if s.strip()}
        unknown = wanted - {n for n, _ in STEPS}
        if unknown:
            parser.error(f"unknown steps {sorted(unknown)}")
        steps = [(n, f) for n, f in STEPS if n in wanted]

    tmp = tempfile.mkdtemp(prefix="appliance-s3-negative-")
    server: base.Server | None = None
    failures: list[str] = []
    started = time.monotonic()

    def report(text: str) -> None:
        failures.append(f"[{base.RUN.step}] {text}")
        print(f"\nFAIL in step {base.RUN.step}:\n{text}", file=sys.stderr, flush=True)
        if server and server.log and not args.server_log:
            print("--- last server log lines\n" + "\n".join(list(server.log)[-60:]), file=sys.stderr, flush=True)

    try:
        begin("0. starting the server")
        data_dir = os.path.join(tmp, "data")
        os.makedirs(data_dir)
        server = base.Server(os.path.abspath(args.bin), data_dir, args.server_log)
        server.start()
        T.server = server
        T.ctx = base.Context(server.s3_url, server.credentials_file, os.path.join(tmp, "work"), server)
        T.signer = Signer(T.ctx.access_key, T.ctx.secret_key)
        T.raw = Raw(server.s3_url, T.signer)
        os.environ.clear()
        os.environ.update(T.ctx.env)
        ok("server started")
        for name, check in steps:
            try:
                check()
            except (Failure, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, OSError, KeyError, ValueError) as err:
                if isinstance(err, Failure):
                    text = str(err)
                else:
                    here = [f for f in traceback.extract_tb(err.__traceback__) if f.filename == os.path.abspath(__file__)]
                    where = "".join(f"\n    at line {f.lineno} in {f.name}: {f.line}" for f in here[-2:])
                    text = f"unexpected {type(err).__name__}: {err}{where}"
                if not server.alive():
                    text += f"\n(the server exited with status {server.proc.returncode})"
                report(text)
                if not args.keep_going or not server.alive():
                    break
    except (Failure, OSError, subprocess.SubprocessError) as err:
        report(str(err))
    finally:
        if server:
            server.stop()
        if args.keep:
            print(f"\nkept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    return base.summary(failures, started, "all S3 negative checks passed")


if __name__ == "__main__":
    sys.exit(main())
