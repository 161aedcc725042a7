#!/usr/bin/env python3
"""S3 that answers like S3, tried as a new user would (boto3, the aws cli, curl's own SigV4 signer).

Starts the appliance (with --s3-domain s3.test) and checks:

1. A bucket that does not exist is 404 NoSuchBucket to any valid key (HeadBucket, Get/Put/Delete
   object, ListObjects, DeleteBucket, a copy's source), also to a key limited to other buckets;
   a bucket that exists and the key may not use is 403 AccessDenied; an anonymous request learns
   nothing (403).
2. Conditional writes: PutObject and CompleteMultipartUpload with If-None-Match: * (create only)
   and If-Match: "etag" → 412 PreconditionFailed (If-Match on no object: 404 NoSuchKey); racing
   create-only PUTs (small, through the cache; 24 MiB, through the direct writer): exactly one
   wins and its bytes are what is read; the native PUT takes the same headers (412).
3. UploadPartCopy with a range outside the source → 416 InvalidRange (malformed: InvalidArgument).
4. ListObjects (v1) with a delimiter: a page that ends on a common prefix gives it as NextMarker;
   paging by it lists every key and prefix once.
5. User metadata with an empty value is kept; Content-Encoding "deflate, gzip" is kept as sent;
   a header sent twice keeps both values.
6. DeleteObjects without Content-MD5 or a checksum header → 400 InvalidRequest, nothing deleted.
7. Virtual-host-style addressing (bucket.s3.test): boto3 with addressing_style=virtual, and curl
   --aws-sigv4 (an independent signer), put, get, list, multipart, delete; SigV2 too.
8. GetObject / HeadObject ?partNumber=N: a multipart object's part N (206, Content-Range,
   x-amz-mp-parts-count); a single-part object is one part; past the last: InvalidPartNumber; with
   Range: InvalidRequest; a PATCH leaves one part.
9. CopyObject within a bucket shares the source's extents: nothing allocated, shared_bytes, the
   ETag the MD5 of the bytes (a multipart source's copy too, one part); the copy outlives its source and a PATCH of the source; a copy to
   another bucket writes the bytes.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import os
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3_clients_test as base  # noqa: E402
import s3_negative_test as neg  # noqa: E402
from s3_clients_test import Failure, begin, expect, client_error, MiB  # noqa: E402

import boto3  # noqa: E402
import botocore.config  # noqa: E402
import botocore.exceptions  # noqa: E402

DOMAIN = "s3.test"
BUCKET = "semantics"


class S:
    server: base.Server
    ctx: base.Context
    raw: neg.Raw
    s3: object


def code_of(err: botocore.exceptions.ClientError) -> tuple[str, int]:
    return err.response.get("Error", {}).get("Code", ""), err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)


def admin_json(method: str, path: str, body: dict | None = None, want: int = 200) -> dict:
    import json
    status, _, data = S.server.request(method, path, json.dumps(body).encode() if body is not None else None,
                                       {"Content-Type": "application/json"} if body is not None else None)
    if status != want:
        raise Failure(f"{method} {path}: {status} {data[:300]!r}")
    return json.loads(data) if data else {}


def client(access_key: str, secret: str, **config):
    return boto3.client("s3", endpoint_url=S.server.s3_url, aws_access_key_id=access_key, aws_secret_access_key=secret,
                        region_name="us-east-1", config=botocore.config.Config(retries={"max_attempts": 1}, **config))


# ---------------------------------------------------------------------------------------------

def check_no_such_bucket() -> None:
    begin("1. a bucket that does not exist: NoSuchBucket; one that exists but is not yours: AccessDenied")
    s3 = S.s3
    missing = "no-such-bucket-here"
    s3.put_object(Bucket=BUCKET, Key="src", Body=b"source")
    cases = [
        ("HeadBucket", lambda c: c.head_bucket(Bucket=missing)),
        ("GetObject", lambda c: c.get_object(Bucket=missing, Key="k")),
        ("HeadObject", lambda c: c.head_object(Bucket=missing, Key="k")),
        ("PutObject", lambda c: c.put_object(Bucket=missing, Key="k", Body=b"x")),
        ("DeleteObject", lambda c: c.delete_object(Bucket=missing, Key="k")),
        ("ListObjectsV2", lambda c: c.list_objects_v2(Bucket=missing)),
        ("DeleteBucket", lambda c: c.delete_bucket(Bucket=missing)),
        ("CopyObject from a missing bucket", lambda c: c.copy_object(Bucket="elsewhere", Key="dst", CopySource={"Bucket": missing, "Key": "k"})),
        ("CreateMultipartUpload", lambda c: c.create_multipart_upload(Bucket=missing, Key="k")),
    ]
    S.s3.create_bucket(Bucket="elsewhere")
    other = admin_json("POST", "/v1/access-keys", {"name": "writer of another", "permissions": {"elsewhere": "write"},
                                                   "create_buckets": False}, 201)
    limited = client(other["access_key_id"], other["secret_access_key"])
    for who, c in (("the admin key", s3), ("a key limited to another bucket", limited)):
        for label, call in cases:
            err = client_error(f"{who}: {label} in a missing bucket: 404 NoSuchBucket", lambda: call(c),
                               codes=("NoSuchBucket", "404"), status=404)
            del err
    # A bucket that exists and the limited key may not use.
    for label, call in (("GetObject", lambda: limited.get_object(Bucket=BUCKET, Key="src")),
                        ("CopyObject from it", lambda: limited.copy_object(Bucket="elsewhere", Key="d", CopySource={"Bucket": BUCKET, "Key": "src"})),
                        ("PutObject", lambda: limited.put_object(Bucket=BUCKET, Key="k", Body=b"x")),
                        ("ListObjectsV2", lambda: limited.list_objects_v2(Bucket=BUCKET)),
                        ("HeadBucket", lambda: limited.head_bucket(Bucket=BUCKET)),
                        ("CopyObject into it", lambda: limited.copy_object(Bucket=BUCKET, Key="d", CopySource={"Bucket": BUCKET, "Key": "src"}))):
        client_error(f"a key limited to another bucket: {label} in an existing bucket: 403 AccessDenied", call,
                     codes=("AccessDenied", "403"), status=403)
    # The aws cli says so in its words.
    res = base.run(S.ctx, "aws s3 ls of a missing bucket", ["aws", "--endpoint-url", S.server.s3_url, "s3", "ls", f"s3://{missing}/"],
                   wanted_rc=None)
    expect(res.returncode != 0 and "NoSuchBucket" in base.err_text(res), "aws s3 ls s3://missing/: NoSuchBucket", base.err_text(res))
    # Anonymous requests learn nothing about which buckets exist.
    r = S.raw.request("GET", f"/{missing}/k", signer=False)
    expect(r.status == 403 and r.code == "AccessDenied", "anonymous GET in a missing bucket: 403 AccessDenied", f"{r}")
    admin_json("DELETE", f"/v1/access-keys/{other['access_key_id']}", want=204)


def check_conditional_writes() -> None:
    begin("2. conditional writes: If-None-Match: * and If-Match, atomically")
    s3 = S.s3
    put = s3.put_object(Bucket=BUCKET, Key="cond/a", Body=b"first", IfNoneMatch="*")
    expect(put["ETag"] == f'"{hashlib.md5(b"first").hexdigest()}"', "PutObject If-None-Match: * on a new key: created", f"{put}")
    client_error("PutObject If-None-Match: * on an existing key: 412 PreconditionFailed",
                 lambda: s3.put_object(Bucket=BUCKET, Key="cond/a", Body=b"second", IfNoneMatch="*"),
                 codes=("PreconditionFailed",), status=412)
    expect(s3.get_object(Bucket=BUCKET, Key="cond/a")["Body"].read() == b"first", "the refused PUT changed nothing")
    client_error("PutObject If-Match: a wrong ETag: 412 PreconditionFailed",
                 lambda: s3.put_object(Bucket=BUCKET, Key="cond/a", Body=b"second", IfMatch='"0123456789abcdef0123456789abcdef"'),
                 codes=("PreconditionFailed",), status=412)
    put = s3.put_object(Bucket=BUCKET, Key="cond/a", Body=b"second", IfMatch=put["ETag"])
    expect(s3.get_object(Bucket=BUCKET, Key="cond/a")["Body"].read() == b"second", "PutObject If-Match: the current ETag: replaced")
    put = s3.put_object(Bucket=BUCKET, Key="cond/a", Body=b"third", IfMatch=put["ETag"].strip('"'))
    expect(s3.get_object(Bucket=BUCKET, Key="cond/a")["Body"].read() == b"third", "PutObject If-Match: the ETag unquoted: replaced")
    client_error("PutObject If-Match on a key with no object: 404 NoSuchKey",
                 lambda: s3.put_object(Bucket=BUCKET, Key="cond/none", Body=b"x", IfMatch=put["ETag"]),
                 codes=("NoSuchKey",), status=404)
    # A large body is refused before it is taken, and through the direct writer at the end too.
    big = os.urandom(24 * MiB)
    client_error("PutObject If-None-Match: * of 24 MiB on an existing key: 412",
                 lambda: s3.put_object(Bucket=BUCKET, Key="cond/a", Body=big, IfNoneMatch="*"),
                 codes=("PreconditionFailed",), status=412)

    # Races: N clients create the same key, only if absent; exactly one wins.
    for size, rounds, racers in ((1000, 12, 8), (24 * MiB, 2, 4)):
        for round_ in range(rounds):
            key = f"cond/race-{size}-{round_}"
            bodies = [os.urandom(size) for _ in range(racers)]
            outcomes: list[str] = ["?"] * racers
            clients = [client(S.ctx.access_key, S.ctx.secret_key) for _ in range(racers)]
            gate = threading.Barrier(racers)

            def racer(i: int) -> None:
                gate.wait()
                try:
                    clients[i].put_object(Bucket=BUCKET, Key=key, Body=bodies[i], IfNoneMatch="*")
                    outcomes[i] = "won"
                except botocore.exceptions.ClientError as err:
                    outcomes[i] = code_of(err)[0]
                except Exception as err:  # noqa: BLE001 (reported below)
                    outcomes[i] = f"{type(err).__name__}: {err}"

            threads = [threading.Thread(target=racer, args=(i,)) for i in range(racers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            winners = [i for i, o in enumerate(outcomes) if o == "won"]
            expect(len(winners) == 1 and all(o in ("won", "PreconditionFailed") for o in outcomes),
                   f"{racers} racing create-only PUTs of {size} bytes (round {round_ + 1}): exactly one wins, the rest 412", f"{outcomes}")
            got = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            expect(got == bodies[winners[0]], f"round {round_ + 1}: the object holds the winner's bytes")

    # CompleteMultipartUpload.
    part = os.urandom(5 * MiB)
    for label, kwargs, key, wanted in (
            ("If-None-Match: * on an existing key: 412", {"IfNoneMatch": "*"}, "cond/a", "PreconditionFailed"),
            ("If-Match: a wrong ETag: 412", {"IfMatch": '"00000000000000000000000000000000"'}, "cond/a", "PreconditionFailed"),
            ("If-None-Match: * on a new key: completes", {"IfNoneMatch": "*"}, "cond/mp-new", None),
            ("If-Match: the current ETag: completes", {"IfMatch": s3.head_object(Bucket=BUCKET, Key="cond/a")["ETag"]}, "cond/a", None)):
        upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
        etag = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=part)["ETag"]
        parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
        if wanted:
            client_error(f"CompleteMultipartUpload {label}", lambda: s3.complete_multipart_upload(
                Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload=parts, **kwargs), codes=(wanted,), status=412)
            s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload)
        else:
            s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload=parts, **kwargs)
            expect(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == part, f"CompleteMultipartUpload {label}")
    expect(s3.get_object(Bucket=BUCKET, Key="cond/mp-new")["ContentLength"] == len(part), "the refused Completes changed nothing")

    # The native API's PUT takes the same headers.
    status, _, _ = S.server.request("PUT", f"/v1/volumes/{BUCKET}/objects/cond/native", b"one", {"If-None-Match": "*"})
    expect(status == 201, "native PUT If-None-Match: * on a new key: 201", f"{status}")
    status, headers, body = S.server.request("PUT", f"/v1/volumes/{BUCKET}/objects/cond/native", b"two", {"If-None-Match": "*"})
    expect(status == 412 and b"precondition" in body.lower(), "native PUT If-None-Match: * again: 412 problem+json", f"{status} {body[:200]!r}")
    status, _, body = S.server.request("PUT", f"/v1/volumes/{BUCKET}/objects/cond/native", b"two",
                                       {"If-Match": f'"{hashlib.md5(b"one").hexdigest()}"'})
    expect(status in (200, 201), "native PUT If-Match: the current ETag: replaced", f"{status} {body[:200]!r}")
    status, _, body = S.server.request("PUT", f"/v1/volumes/{BUCKET}/objects/cond/gone", b"x", {"If-Match": "*"})
    expect(status == 412, "native PUT If-Match: * with no object: 412", f"{status} {body[:200]!r}")


def check_copy_range() -> None:
    begin("3. UploadPartCopy ranges")
    s3 = S.s3
    source = os.urandom(6 * MiB)
    s3.put_object(Bucket=BUCKET, Key="copy/src", Body=source)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="copy/dst")["UploadId"]
    copy = {"Bucket": BUCKET, "Key": "copy/src"}
    for rng in (f"bytes=0-{len(source)}", f"bytes={len(source)}-{len(source) + 10}", f"bytes=5-{10 * len(source)}"):
        client_error(f"UploadPartCopy {rng} of a {len(source)}-byte source: 416 InvalidRange",
                     lambda: s3.upload_part_copy(Bucket=BUCKET, Key="copy/dst", UploadId=upload, PartNumber=1, CopySource=copy,
                                                 CopySourceRange=rng), codes=("InvalidRange",), status=416)
    for rng in ("bytes=10-5", "bytes=-5", "bytes=5-", "5-10", "bytes=a-b"):
        client_error(f"UploadPartCopy {rng}: 400 InvalidArgument",
                     lambda: s3.upload_part_copy(Bucket=BUCKET, Key="copy/dst", UploadId=upload, PartNumber=1, CopySource=copy,
                                                 CopySourceRange=rng), codes=("InvalidArgument",), status=400)
    first = s3.upload_part_copy(Bucket=BUCKET, Key="copy/dst", UploadId=upload, PartNumber=1, CopySource=copy,
                                CopySourceRange=f"bytes=0-{5 * MiB - 1}")["CopyPartResult"]["ETag"]
    last = s3.upload_part_copy(Bucket=BUCKET, Key="copy/dst", UploadId=upload, PartNumber=2, CopySource=copy,
                               CopySourceRange=f"bytes={5 * MiB}-{len(source) - 1}")["CopyPartResult"]["ETag"]
    s3.complete_multipart_upload(Bucket=BUCKET, Key="copy/dst", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": first}, {"PartNumber": 2, "ETag": last}]})
    expect(s3.get_object(Bucket=BUCKET, Key="copy/dst")["Body"].read() == source, "ranges up to the last byte copy the source whole")


def check_v1_next_marker() -> None:
    begin("4. ListObjects (v1): NextMarker when a page ends on a common prefix")
    s3 = S.s3
    keys = ["list/a/1", "list/a/2", "list/a/3", "list/b", "list/c/1", "list/c/2", "list/d"]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"k")
    first = s3.list_objects(Bucket=BUCKET, Prefix="list/", Delimiter="/", MaxKeys=1)
    prefixes = [p["Prefix"] for p in first.get("CommonPrefixes", [])]
    expect(first["IsTruncated"] and prefixes == ["list/a/"] and first.get("NextMarker") == "list/a/",
           "a page of one ending on list/a/: truncated, NextMarker list/a/", f"{first.get('NextMarker')} {prefixes}")
    seen, marker, pages = [], "", 0
    while True:
        page = s3.list_objects(Bucket=BUCKET, Prefix="list/", Delimiter="/", MaxKeys=2, Marker=marker)
        pages += 1
        entries = [c["Key"] for c in page.get("Contents", [])] + [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        seen += entries
        if not page["IsTruncated"]:
            break
        expect("NextMarker" in page, f"page {pages}: truncated with a delimiter: NextMarker given", f"{page}")
        marker = page["NextMarker"]
        if pages > 10:
            raise Failure("v1 listing does not end")
    expect(sorted(seen) == ["list/a/", "list/b", "list/c/", "list/d"] and len(seen) == 4,
           "paging v1 by NextMarker lists every key and prefix once", f"{seen}")
    paginator = s3.get_paginator("list_objects")
    listed = [p["Prefix"] for page in paginator.paginate(Bucket=BUCKET, Prefix="list/", Delimiter="/", PaginationConfig={"PageSize": 1})
              for p in page.get("CommonPrefixes", [])]
    expect(listed == ["list/a/", "list/c/"], "boto3's list_objects paginator (v1, page size 1): each prefix once", f"{listed}")


def check_headers_as_sent() -> None:
    begin("5. metadata and headers kept as sent")
    s3 = S.s3
    s3.put_object(Bucket=BUCKET, Key="meta/empty", Body=b"x", Metadata={"a": "", "b": "two"})
    head = s3.head_object(Bucket=BUCKET, Key="meta/empty")
    expect(head["Metadata"] == {"a": "", "b": "two"}, "x-amz-meta-a with an empty value is kept", f"{head['Metadata']}")
    s3.put_object(Bucket=BUCKET, Key="meta/enc", Body=b"x", ContentEncoding="deflate, gzip")
    got = s3.head_object(Bucket=BUCKET, Key="meta/enc").get("ContentEncoding")
    expect(got == "deflate, gzip", "Content-Encoding: deflate, gzip is kept as sent", f"{got!r}")
    # Sent twice (raw: SDKs join them): both values, in order.
    body = b"twice"
    head, _ = S.raw.prepare("PUT", f"/{BUCKET}/meta/twice", body=body)
    head = head.replace(b"\r\n\r\n", b"\r\nContent-Encoding: br\r\nContent-Encoding: gzip\r\n\r\n", 1)
    r = S.raw.send(head, body)
    expect(r.status == 200, "PUT with Content-Encoding sent twice: 200", f"{r}")
    got = s3.head_object(Bucket=BUCKET, Key="meta/twice").get("ContentEncoding")
    expect(got == "br,gzip", "a header sent twice keeps both values in order", f"{got!r}")


def check_delete_objects_digest() -> None:
    begin("6. DeleteObjects needs Content-MD5 or a checksum")
    s3 = S.s3
    s3.put_object(Bucket=BUCKET, Key="del/1", Body=b"1")
    body = b"<Delete><Object><Key>del/1</Key></Object></Delete>"
    r = S.raw.request("POST", f"/{BUCKET}", body, query=[("delete", "")])
    expect(r.status == 400 and r.code == "InvalidRequest" and b"Content-MD5" in r.body,
           "DeleteObjects without Content-MD5 or a checksum: 400 InvalidRequest naming Content-MD5", f"{r} {r.body[:300]!r}")
    expect(s3.head_object(Bucket=BUCKET, Key="del/1")["ContentLength"] == 1, "the refused DeleteObjects deleted nothing")
    bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    r = S.raw.request("POST", f"/{BUCKET}", body, query=[("delete", "")], headers={"content-md5": bad})
    expect(r.status == 400 and r.code == "BadDigest", "DeleteObjects with a wrong Content-MD5: 400 BadDigest", f"{r}")
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    r = S.raw.request("POST", f"/{BUCKET}", body, query=[("delete", "")], headers={"content-md5": good})
    expect(r.status == 200 and b"<Deleted><Key>del/1</Key></Deleted>" in r.body, "DeleteObjects with its Content-MD5: deleted", f"{r}")
    s3.put_object(Bucket=BUCKET, Key="del/2", Body=b"2")
    resp = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "del/2"}]})
    expect([d["Key"] for d in resp.get("Deleted", [])] == ["del/2"], "boto3 delete_objects (it sends a checksum): deleted", f"{resp}")
    s3.put_object(Bucket=BUCKET, Key="del/3", Body=b"3")
    res = base.run(S.ctx, "aws s3 rm --recursive", ["aws", "--endpoint-url", S.server.s3_url, "s3", "rm", "--recursive", f"s3://{BUCKET}/del/"])
    expect(res.returncode == 0 and base.list_all_keys(s3, BUCKET, "del/") == [], "aws s3 rm --recursive (DeleteObjects): emptied",
           base.err_text(res))


def check_virtual_host() -> None:
    begin("7. virtual-host-style addressing under --s3-domain")
    port = int(S.server.s3_url.rsplit(":", 1)[1])
    # Names under s3.test resolve to the loopback for this process (no DNS or /etc/hosts change).
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if isinstance(host, str) and (host == DOMAIN or host.endswith("." + DOMAIN)):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    socket.getaddrinfo = resolve
    try:
        vhost = boto3.client("s3", endpoint_url=f"http://{DOMAIN}:{port}", aws_access_key_id=S.ctx.access_key,
                             aws_secret_access_key=S.ctx.secret_key, region_name="us-east-1",
                             config=botocore.config.Config(s3={"addressing_style": "virtual"}, retries={"max_attempts": 1}))
        seen_hosts: list[str] = []
        vhost.meta.events.register("before-send.s3", lambda request, **_: seen_hosts.append(request.url))
        vhost.create_bucket(Bucket="vhost")
        expect(any(u.startswith(f"http://vhost.{DOMAIN}:{port}") for u in seen_hosts), "boto3 sends to vhost.s3.test",
               f"{seen_hosts[:2]}")
        data = os.urandom(100_000)
        vhost.put_object(Bucket="vhost", Key="dir/a b.bin", Body=data)
        expect(vhost.get_object(Bucket="vhost", Key="dir/a b.bin")["Body"].read() == data, "boto3 virtual-host: put and get")
        expect(S.s3.get_object(Bucket="vhost", Key="dir/a b.bin")["Body"].read() == data, "the same object path-style")
        listed = [c["Key"] for c in vhost.list_objects_v2(Bucket="vhost").get("Contents", [])]
        expect(listed == ["dir/a b.bin"], "boto3 virtual-host: list_objects_v2", f"{listed}")
        big = os.urandom(11 * MiB)
        upload = vhost.create_multipart_upload(Bucket="vhost", Key="big")["UploadId"]
        etags = [vhost.upload_part(Bucket="vhost", Key="big", UploadId=upload, PartNumber=n + 1,
                                   Body=big[n * 6 * MiB:(n + 1) * 6 * MiB])["ETag"] for n in range(2)]
        vhost.complete_multipart_upload(Bucket="vhost", Key="big", UploadId=upload,
                                        MultipartUpload={"Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(etags)]})
        expect(vhost.get_object(Bucket="vhost", Key="big")["Body"].read() == big, "boto3 virtual-host: multipart upload")
        client_error("boto3 virtual-host: a missing bucket: NoSuchBucket", lambda: vhost.get_object(Bucket="nope", Key="k"),
                     codes=("NoSuchBucket",), status=404)
        v2 = boto3.client("s3", endpoint_url=f"http://{DOMAIN}:{port}", aws_access_key_id=S.ctx.access_key,
                          aws_secret_access_key=S.ctx.secret_key, region_name="us-east-1",
                          config=botocore.config.Config(s3={"addressing_style": "virtual"}, signature_version="s3"))
        expect(v2.get_object(Bucket="vhost", Key="dir/a b.bin")["Body"].read() == data, "SigV2 (signature_version=s3) virtual-host: get")
    finally:
        socket.getaddrinfo = real
    # curl's own SigV4 signer, the host's name given with --connect-to.
    # (curl 7.88 signs no payload hash of its own: S3 wants x-amz-content-sha256, which curl then signs.)
    curl = ["curl", "-sS", "--connect-to", f"vhost.{DOMAIN}:{port}:127.0.0.1:{port}", "--aws-sigv4", "aws:amz:us-east-1:s3",
            "--user", f"{S.ctx.access_key}:{S.ctx.secret_key}", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
    path = os.path.join(S.ctx.scratch, "curl-body")
    os.makedirs(S.ctx.scratch, exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"from curl")
    res = subprocess.run(curl + ["-o", "/dev/null", "-w", "%{http_code}", "-T", path, f"http://vhost.{DOMAIN}:{port}/curl.txt"],
                         capture_output=True, timeout=base.RUN.timeout(30))
    expect(res.stdout.strip() == b"200", "curl --aws-sigv4 PUT http://vhost.s3.test/curl.txt: 200", f"{res.stdout!r} {res.stderr!r}")
    res = subprocess.run(curl + [f"http://vhost.{DOMAIN}:{port}/curl.txt"], capture_output=True, timeout=base.RUN.timeout(30))
    expect(res.stdout == b"from curl", "curl --aws-sigv4 GET of it: the bytes", f"{res.stdout[:200]!r}")
    res = subprocess.run(curl + [f"http://vhost.{DOMAIN}:{port}/?list-type=2"], capture_output=True, timeout=base.RUN.timeout(30))
    expect(b"<Key>curl.txt</Key>" in res.stdout, "curl --aws-sigv4 ListObjectsV2 at the bucket's host", f"{res.stdout[:300]!r}")
    # The domain itself, and an address, stay path-style.
    res = subprocess.run(curl[:2] + ["--connect-to", f"{DOMAIN}:{port}:127.0.0.1:{port}"] + curl[4:]
                         + [f"http://{DOMAIN}:{port}/vhost/curl.txt"], capture_output=True, timeout=base.RUN.timeout(30))
    expect(res.stdout == b"from curl", "curl --aws-sigv4 at the domain itself: path-style", f"{res.stdout[:200]!r}")
    # This script's own signer, over the path as sent and the bucket's host.
    r = S.raw.request("GET", "/curl.txt", headers={"host": f"vhost.{DOMAIN}:{port}"})
    expect(r.status == 200 and r.body == b"from curl", "a raw SigV4 GET /curl.txt with Host vhost.s3.test: the bytes", f"{r}")
    r = S.raw.request("GET", "/curl.txt", headers={"host": f"nope.{DOMAIN}:{port}"})
    expect(r.status == 404 and r.code == "NoSuchBucket", "the same with Host nope.s3.test: 404 NoSuchBucket", f"{r}")


def check_part_number() -> None:
    begin("8. GetObject and HeadObject ?partNumber=N")
    s3 = S.s3
    sizes = [5 * MiB, 5 * MiB + 17, 1234]
    parts = [os.urandom(n) for n in sizes]
    whole = b"".join(parts)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="parts/mp")["UploadId"]
    etags = [s3.upload_part(Bucket=BUCKET, Key="parts/mp", UploadId=upload, PartNumber=n + 1, Body=p)["ETag"]
             for n, p in enumerate(parts)]
    s3.complete_multipart_upload(Bucket=BUCKET, Key="parts/mp", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(etags)]})
    start = 0
    for n, part in enumerate(parts, 1):
        got = s3.get_object(Bucket=BUCKET, Key="parts/mp", PartNumber=n)
        end = start + len(part) - 1
        expect(got["Body"].read() == part and got["ResponseMetadata"]["HTTPStatusCode"] == 206
               and got.get("ContentRange") == f"bytes {start}-{end}/{len(whole)}" and got.get("PartsCount") == 3,
               f"GetObject partNumber={n}: 206, part {n}'s {len(part)} bytes, Content-Range, 3 parts",
               f"{got.get('ContentRange')} {got.get('PartsCount')} {got['ResponseMetadata']['HTTPStatusCode']}")
        head = s3.head_object(Bucket=BUCKET, Key="parts/mp", PartNumber=n)
        expect(head["ContentLength"] == len(part) and head.get("PartsCount") == 3, f"HeadObject partNumber={n}: its length", f"{head}")
        start = end + 1
    client_error("GetObject partNumber=4 of 3 parts: 416 InvalidPartNumber",
                 lambda: s3.get_object(Bucket=BUCKET, Key="parts/mp", PartNumber=4), codes=("InvalidPartNumber",), status=416)
    client_error("GetObject with both partNumber and Range: 400 InvalidRequest",
                 lambda: s3.get_object(Bucket=BUCKET, Key="parts/mp", PartNumber=1, Range="bytes=0-9"), codes=("InvalidRequest",), status=400)
    r = S.raw.request("GET", f"/{BUCKET}/parts/mp", query=[("partNumber", "0")])
    expect(r.status == 400 and r.code == "InvalidArgument", "partNumber=0: 400 InvalidArgument", f"{r}")
    # An object not uploaded in parts is one part.
    single = os.urandom(70_000)
    s3.put_object(Bucket=BUCKET, Key="parts/single", Body=single)
    got = s3.get_object(Bucket=BUCKET, Key="parts/single", PartNumber=1)
    expect(got["Body"].read() == single and got.get("ContentRange") == f"bytes 0-{len(single) - 1}/{len(single)}",
           "a single-part object: partNumber=1 is the whole object", f"{got.get('ContentRange')}")
    client_error("a single-part object: partNumber=2: 416 InvalidPartNumber",
                 lambda: s3.get_object(Bucket=BUCKET, Key="parts/single", PartNumber=2), codes=("InvalidPartNumber",), status=416)
    # A PATCH changes the bytes: the parts no longer describe them (one part, a new ETag).
    status, _, body = S.server.request("PATCH", f"/v1/volumes/{BUCKET}/objects/parts/mp", b"xyz",
                                       {"Content-Range": "bytes 10-12/*"})
    expect(status in (200, 204), "native PATCH of the multipart object", f"{status} {body[:200]!r}")
    client_error("after a PATCH: partNumber=2: 416 InvalidPartNumber (one part now)",
                 lambda: s3.get_object(Bucket=BUCKET, Key="parts/mp", PartNumber=2), codes=("InvalidPartNumber",), status=416)
    patched = whole[:10] + b"xyz" + whole[13:]
    expect(s3.get_object(Bucket=BUCKET, Key="parts/mp", PartNumber=1)["Body"].read() == patched, "after a PATCH: partNumber=1 is the whole object")


def check_shared_copies() -> None:
    """A copy within a bucket shares the source's bytes: the pool allocates nothing, the copy is
    its bucket's shared_bytes, the ETag is the MD5 of the bytes, and it outlives its source and
    is not changed by a PATCH of it. A copy to another bucket writes the bytes."""
    begin("CopyObject within a bucket shares extents")
    s3 = S.s3
    data = os.urandom(3 * MiB + 123)
    s3.put_object(Bucket=BUCKET, Key="share/src", Body=data)
    before = admin_json("GET", "/v1/pool")["allocated_bytes"]
    shared_before = admin_json("GET", f"/v1/volumes/{BUCKET}")["shared_bytes"]
    result = s3.copy_object(Bucket=BUCKET, Key="share/dst", CopySource={"Bucket": BUCKET, "Key": "share/src"})
    expect(result["CopyObjectResult"]["ETag"].strip('"') == hashlib.md5(data).hexdigest(), "the copy's ETag is the MD5 of its bytes")
    expect(admin_json("GET", "/v1/pool")["allocated_bytes"] == before, "the copy allocated nothing")
    volume = admin_json("GET", f"/v1/volumes/{BUCKET}")
    expect(volume["shared_bytes"] == shared_before + len(data), "the copy counts in shared_bytes", f"{volume['shared_bytes']}")
    expect(s3.get_object(Bucket=BUCKET, Key="share/dst")["Body"].read() == data, "the copy reads back")
    status, _, body = S.server.request("PATCH", f"/v1/volumes/{BUCKET}/objects/share/src", b"patched",
                                       {"Content-Range": "bytes 100-106/*"})
    expect(status in (200, 204), "native PATCH of the source", f"{status} {body[:200]!r}")
    expect(s3.get_object(Bucket=BUCKET, Key="share/dst")["Body"].read() == data, "a PATCH of the source leaves the copy as it was")
    expect(s3.get_object(Bucket=BUCKET, Key="share/src")["Body"].read() == data[:100] + b"patched" + data[107:], "the source is patched")
    s3.copy_object(Bucket=BUCKET, Key="share/again", CopySource={"Bucket": BUCKET, "Key": "share/dst"})
    s3.delete_object(Bucket=BUCKET, Key="share/dst")
    expect(s3.get_object(Bucket=BUCKET, Key="share/again")["Body"].read() == data, "a copy outlives the object it was copied from")
    # A multipart object's copy is one part, named by the MD5 of its bytes (read for it), as S3 does.
    part = os.urandom(5 * MiB)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="share/mp")["UploadId"]
    etags = [s3.upload_part(Bucket=BUCKET, Key="share/mp", UploadId=upload, PartNumber=n, Body=part)["ETag"] for n in (1, 2)]
    s3.complete_multipart_upload(Bucket=BUCKET, Key="share/mp", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in zip((1, 2), etags)]})
    result = s3.copy_object(Bucket=BUCKET, Key="share/mp-copy", CopySource={"Bucket": BUCKET, "Key": "share/mp"})
    expect(result["CopyObjectResult"]["ETag"].strip('"') == hashlib.md5(part + part).hexdigest(),
           "a multipart object's copy is named by the MD5 of its bytes")
    expect(s3.get_object(Bucket=BUCKET, Key="share/mp-copy")["Body"].read() == part + part, "the multipart object's copy reads back")
    for key in ("share/mp", "share/mp-copy"):
        s3.delete_object(Bucket=BUCKET, Key=key)
    admin_json("POST", "/v1/volumes", {"name": "share-other", "capacity_bytes": 64 * MiB}, want=201)
    before = admin_json("GET", "/v1/pool")["allocated_bytes"]
    s3.copy_object(Bucket="share-other", Key="x", CopySource={"Bucket": BUCKET, "Key": "share/again"})
    expect(admin_json("GET", "/v1/pool")["allocated_bytes"] > before, "a copy to another bucket writes the bytes")
    expect(s3.get_object(Bucket="share-other", Key="x")["Body"].read() == data, "the copy in another bucket reads back")
    for key in ("share/src", "share/again"):
        s3.delete_object(Bucket=BUCKET, Key=key)
    s3.delete_object(Bucket="share-other", Key="x")
    admin_json("DELETE", "/v1/volumes/share-other", want=204)


STEPS = [("no-such-bucket", check_no_such_bucket), ("conditional", check_conditional_writes), ("copy-range", check_copy_range),
         ("v1-marker", check_v1_next_marker), ("headers", check_headers_as_sent), ("delete-objects", check_delete_objects_digest),
         ("virtual-host", check_virtual_host), ("part-number", check_part_number), ("shared-copies", check_shared_copies)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    base.suite_arguments(parser, STEPS, time_limit=300.0)
    args = parser.parse_args()
    base.RUN.__init__(args.time_limit)

    def setup(server: base.Server, ctx: base.Context) -> None:
        S.server, S.ctx = server, ctx
        signer = neg.Signer(ctx.access_key, ctx.secret_key)
        S.raw = neg.Raw(server.s3_url, signer)
        neg.T.server, neg.T.ctx, neg.T.raw, neg.T.signer = server, ctx, S.raw, signer
        S.s3 = client(ctx.access_key, ctx.secret_key)
        S.s3.create_bucket(Bucket=BUCKET)

    return base.run_suite(args, base.chosen_steps(STEPS, args.only), "appliance-s3-semantics-", "all S3 semantics checks passed", setup,
                          extra=["--s3-domain", DOMAIN], also=(botocore.exceptions.ClientError,))


if __name__ == "__main__":
    sys.exit(main())
