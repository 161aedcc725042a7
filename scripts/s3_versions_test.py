#!/usr/bin/env python3
"""Object versions end to end, as users of boto3, the aws cli, rclone and the native API meet them.

Starts the appliance and checks:

1. boto3 life cycle: GetBucketVersioning says nothing before it is enabled; PutBucketVersioning
   Enabled; three PUTs give three version ids (x-amz-version-id), ordered, each readable by id with
   its bytes; HEAD by id; DELETE without a version adds a delete marker (GetObject 404, the marker
   readable only as a 405); deleting the marker brings the object back; deleting a version by id
   frees it (its space leaves used_bytes); a version id that does not exist: NoSuchVersion; an
   invalid one: InvalidArgument; CopyObject from an older version (x-amz-copy-source-version-id);
   multipart Complete makes a version; DeleteObjects with VersionIds and without (markers).
2. ListObjectVersions: versions and delete markers with the right IsLatest, paging by key-marker and
   version-id-marker with max-keys 1..3 (boto3's paginator and by hand) lists every entry once, in
   order; prefix and delimiter (CommonPrefixes).
3. Suspended: writes replace the null version (x-amz-version-id: null), the versions kept before
   stay; a delete writes a null delete marker; PutBucketVersioning with a bad Status: MalformedXML.
4. The aws cli: put-bucket-versioning, list-object-versions, get-object --version-id,
   delete-object --version-id to restore a deleted object.
5. rclone --s3-versions lists old versions beside the current ones and reads one.
6. The native API: PATCH /v1/volumes/{name} versioning, version_id on PUT answers, GET/HEAD/DELETE
   ?version_id=, a PATCH that makes a version and leaves the one before as it was, /versions
   paging, noncurrent_bytes, 409 for turning versioning off, 400 for a bad version_id, and a
   volume with versions refused for deletion until they are gone.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3_clients_test as base  # noqa: E402
from s3_clients_test import Failure, begin, expect, client_error  # noqa: E402

import boto3  # noqa: E402
import botocore.config  # noqa: E402
import botocore.exceptions  # noqa: E402

BUCKET = "versioned"


class S:
    server: base.Server
    ctx: base.Context
    s3: object


def admin(method: str, path: str, body: dict | bytes | None = None, want: int = 200, headers: dict | None = None):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    hdrs = {"Content-Type": "application/json"} if isinstance(body, dict) else {}
    hdrs.update(headers or {})
    status, got_headers, payload = S.server.request(method, path, data, hdrs or None)
    if status != want:
        raise Failure(f"{method} {path}: {status} (want {want}) {payload[:300]!r}")
    return got_headers, payload


def admin_json(method: str, path: str, body: dict | None = None, want: int = 200) -> dict:
    _, payload = admin(method, path, body, want)
    return json.loads(payload) if payload else {}


def header(headers, name: str) -> str | None:
    for key, value in (headers.items() if hasattr(headers, "items") else headers):
        if key.lower() == name.lower():
            return value
    return None


def volume(name: str) -> dict:
    return admin_json("GET", f"/v1/volumes/{name}")


def all_versions(s3, bucket: str, **kwargs) -> list[tuple[str, str, bool, bool]]:
    """Every (key, version id, is latest, is delete marker), in the order the listing gives them."""
    entries = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, **kwargs):
        merged = [(v["Key"], v["VersionId"], v["IsLatest"], False) for v in page.get("Versions", [])]
        merged += [(m["Key"], m["VersionId"], m["IsLatest"], True) for m in page.get("DeleteMarkers", [])]
        entries += merged
    return entries


def ordered(entries):
    """As S3 orders them: by key (UTF-8 bytes), newest (largest id; null by its place) first."""
    return sorted(entries, key=lambda e: e[0].encode())


# ---------------------------------------------------------------------------------------------

def check_life_cycle() -> None:
    begin("1. boto3: a versioned bucket's life cycle")
    s3 = S.s3
    s3.create_bucket(Bucket=BUCKET)
    expect("Status" not in s3.get_bucket_versioning(Bucket=BUCKET), "GetBucketVersioning before: no Status")
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    expect(s3.get_bucket_versioning(Bucket=BUCKET).get("Status") == "Enabled", "GetBucketVersioning: Enabled")
    bodies = [os.urandom(n) for n in (1000, 70_000, 3 * 1024 * 1024)]
    ids = [s3.put_object(Bucket=BUCKET, Key="doc", Body=b)["VersionId"] for b in bodies]
    expect(len(set(ids)) == 3 and all(i != "null" for i in ids), "three PUTs: three version ids", f"{ids}")
    expect(ids == sorted(ids), "version ids are ordered as the versions were made", f"{ids}")
    for i, (vid, body) in enumerate(zip(ids, bodies)):
        got = s3.get_object(Bucket=BUCKET, Key="doc", VersionId=vid)
        base.same_bytes(f"GetObject VersionId of PUT {i + 1}", body, got["Body"].read())
        expect(got.get("VersionId") == vid, f"GetObject {i + 1}: x-amz-version-id")
        expect(s3.head_object(Bucket=BUCKET, Key="doc", VersionId=vid)["ContentLength"] == len(body), f"HeadObject VersionId {i + 1}")
    current = s3.get_object(Bucket=BUCKET, Key="doc")
    base.same_bytes("GetObject (current): the newest", bodies[2], current["Body"].read())
    expect(current.get("VersionId") == ids[2], "GetObject (current): x-amz-version-id of the newest", f"{current.get('VersionId')}")
    expect(s3.head_object(Bucket=BUCKET, Key="doc").get("VersionId") == ids[2], "HeadObject (current): x-amz-version-id")
    used = volume(BUCKET)
    expect(used["used_bytes"] == sum(map(len, bodies)) and used["noncurrent_bytes"] == len(bodies[0]) + len(bodies[1]),
           "used_bytes counts every version, noncurrent_bytes the older ones", f"{used}")
    # A delete marker hides the object.
    deleted = s3.delete_object(Bucket=BUCKET, Key="doc")
    marker = deleted.get("VersionId")
    expect(deleted.get("DeleteMarker") is True and marker and marker not in ids, "DeleteObject: a delete marker", f"{deleted}")
    err = client_error("GetObject after the marker: 404 NoSuchKey", lambda: s3.get_object(Bucket=BUCKET, Key="doc"), codes=("NoSuchKey",),
                       status=404)
    hidden = err.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    expect(hidden.get("x-amz-delete-marker") == "true" and hidden.get("x-amz-version-id") == marker,
           "GetObject after the marker: x-amz-delete-marker and the marker's id", f"{hidden}")
    client_error("GetObject of the marker by id: 405", lambda: s3.get_object(Bucket=BUCKET, Key="doc", VersionId=marker),
                 codes=("MethodNotAllowed", "405"), status=405)
    base.same_bytes("an older version reads behind the marker", bodies[1],
                    s3.get_object(Bucket=BUCKET, Key="doc", VersionId=ids[1])["Body"].read())
    # Deleting the marker brings the object back.
    undone = s3.delete_object(Bucket=BUCKET, Key="doc", VersionId=marker)
    expect(undone.get("DeleteMarker") is True and undone.get("VersionId") == marker, "deleting the marker", f"{undone}")
    base.same_bytes("the object is back", bodies[2], s3.get_object(Bucket=BUCKET, Key="doc")["Body"].read())
    # Deleting a version by id frees it.
    s3.delete_object(Bucket=BUCKET, Key="doc", VersionId=ids[1])
    client_error("the deleted version: NoSuchVersion", lambda: s3.get_object(Bucket=BUCKET, Key="doc", VersionId=ids[1]),
                 codes=("NoSuchVersion",), status=404)
    after = volume(BUCKET)
    expect(after["used_bytes"] == len(bodies[0]) + len(bodies[2]), "a deleted version leaves used_bytes", f"{after}")
    client_error("an invalid version id: InvalidArgument", lambda: s3.get_object(Bucket=BUCKET, Key="doc", VersionId="not-a-version"),
                 codes=("InvalidArgument",), status=400)
    expect(s3.delete_object(Bucket=BUCKET, Key="doc", VersionId="00000000ffffffff")["ResponseMetadata"]["HTTPStatusCode"] == 204,
           "DeleteObject of a version that does not exist: 204, as S3")
    # Copy from an older version.
    copied = s3.copy_object(Bucket=BUCKET, Key="copy", CopySource={"Bucket": BUCKET, "Key": "doc", "VersionId": ids[0]})
    expect(copied.get("CopySourceVersionId") == ids[0] and copied.get("VersionId"), "CopyObject from a version", f"{copied}")
    base.same_bytes("the copy holds the older version", bodies[0], s3.get_object(Bucket=BUCKET, Key="copy")["Body"].read())
    # Multipart Complete makes a version.
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="doc")["UploadId"]
    part = os.urandom(5 * 1024 * 1024)
    etag = s3.upload_part(Bucket=BUCKET, Key="doc", UploadId=upload, PartNumber=1, Body=part)["ETag"]
    done = s3.complete_multipart_upload(Bucket=BUCKET, Key="doc", UploadId=upload,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    expect(done.get("VersionId") and done["VersionId"] > ids[2], "CompleteMultipartUpload: a new version id", f"{done}")
    base.same_bytes("the version before the Complete stays", bodies[2],
                    s3.get_object(Bucket=BUCKET, Key="doc", VersionId=ids[2])["Body"].read())
    # DeleteObjects: with version ids (deleted) and without (markers).
    s3.put_object(Bucket=BUCKET, Key="batch/a", Body=b"a")
    b_id = s3.put_object(Bucket=BUCKET, Key="batch/b", Body=b"b")["VersionId"]
    result = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "batch/a"}, {"Key": "batch/b", "VersionId": b_id}]})
    deleted = {d["Key"]: d for d in result.get("Deleted", [])}
    expect(deleted.get("batch/a", {}).get("DeleteMarker") is True and deleted["batch/a"].get("DeleteMarkerVersionId"),
           "DeleteObjects without a version: a marker", f"{result}")
    expect(deleted.get("batch/b", {}).get("VersionId") == b_id and not deleted["batch/b"].get("DeleteMarker"),
           "DeleteObjects with a VersionId: that version", f"{result}")
    client_error("batch/b is gone with its only version", lambda: s3.head_object(Bucket=BUCKET, Key="batch/b"), codes=("404", "NoSuchKey"),
                 status=404)


def check_listing() -> None:
    begin("2. ListObjectVersions: IsLatest, markers, paging, prefix and delimiter")
    s3 = S.s3
    bucket = "versions-listing"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    made: dict[str, list[tuple[str, bool]]] = {}
    for i, key in enumerate(["a", "dir/x", "dir/y", "b", "a", "dir/x", "c", "a"]):
        vid = s3.put_object(Bucket=bucket, Key=key, Body=f"{key}-{i}".encode())["VersionId"]
        made.setdefault(key, []).append((vid, False))
    made["b"].append((s3.delete_object(Bucket=bucket, Key="b")["VersionId"], True))
    expected = []
    for key in sorted(made, key=lambda k: k.encode()):
        versions = made[key]
        for j, (vid, is_marker) in enumerate(reversed(versions)):
            expected.append((key, vid, j == 0, is_marker))
    raw = s3.list_object_versions(Bucket=bucket)
    listed = [(v["Key"], v["VersionId"], v["IsLatest"], False) for v in raw.get("Versions", [])]
    listed += [(m["Key"], m["VersionId"], m["IsLatest"], True) for m in raw.get("DeleteMarkers", [])]
    expect(sorted(listed, key=lambda e: (e[0].encode(), e[1])) == sorted(expected, key=lambda e: (e[0].encode(), e[1])),
           "every version and marker, IsLatest right", f"{listed} vs {expected}")
    for max_keys in (1, 2, 3):
        got, key_marker, version_marker = [], None, None
        for _ in range(100):
            kwargs = {"Bucket": bucket, "MaxKeys": max_keys}
            if key_marker:
                kwargs["KeyMarker"] = key_marker
            if version_marker:
                kwargs["VersionIdMarker"] = version_marker
            page = s3.list_object_versions(**kwargs)
            entries = [(v["Key"], v["VersionId"], v["IsLatest"], False) for v in page.get("Versions", [])]
            entries += [(m["Key"], m["VersionId"], m["IsLatest"], True) for m in page.get("DeleteMarkers", [])]
            expect(len(entries) <= max_keys, f"max-keys {max_keys}: a page holds at most that")
            got += entries
            if not page.get("IsTruncated"):
                break
            key_marker, version_marker = page.get("NextKeyMarker"), page.get("NextVersionIdMarker")
        expect(sorted(got, key=lambda e: (e[0].encode(), e[1])) == sorted(expected, key=lambda e: (e[0].encode(), e[1]))
               and len(got) == len(expected), f"paging by key-marker and version-id-marker, max-keys {max_keys}: each entry once",
               f"{got}")
    expect(sorted(all_versions(s3, bucket), key=lambda e: (e[0].encode(), e[1])) == sorted(expected, key=lambda e: (e[0].encode(), e[1])),
           "boto3's paginator")
    page = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    expect([p["Prefix"] for p in page.get("CommonPrefixes", [])] == ["dir/"], "delimiter: dir/ as a common prefix", f"{page}")
    expect(all(not v["Key"].startswith("dir/") for v in page.get("Versions", [])), "delimiter: nothing under dir/ listed")
    page = s3.list_object_versions(Bucket=bucket, Prefix="dir/")
    expect(sorted(v["Key"] for v in page.get("Versions", [])) == ["dir/x", "dir/x", "dir/y"], "prefix dir/", f"{page}")
    # Newest first within a key: a's versions in the order made, reversed.
    a_ids = [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket, Prefix="a")["Versions"]]
    expect(a_ids == [vid for vid, _ in reversed(made["a"])], "a key's versions, newest first", f"{a_ids}")


def check_suspended() -> None:
    begin("3. suspended: the null version")
    s3 = S.s3
    bucket = "versions-suspended"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"before versioning")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    kept = s3.put_object(Bucket=bucket, Key="k", Body=b"a version")["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    expect(s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Suspended", "GetBucketVersioning: Suspended")
    s3.put_object(Bucket=bucket, Key="k", Body=b"null one")
    s3.put_object(Bucket=bucket, Key="k", Body=b"null two")
    versions = all_versions(s3, bucket)
    expect(sorted(v[1] for v in versions) == sorted(["null", kept]), "the null version replaced, the version kept", f"{versions}")
    base.same_bytes("the null version", b"null two", s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read())
    base.same_bytes("the kept version", b"a version", s3.get_object(Bucket=bucket, Key="k", VersionId=kept)["Body"].read())
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    expect(deleted.get("DeleteMarker") is True and deleted.get("VersionId") == "null", "a delete while suspended: a null marker", f"{deleted}")
    versions = all_versions(s3, bucket)
    expect(("k", "null", True, True) in versions and ("k", kept, False, False) in versions, "the null marker replaced the null version",
           f"{versions}")
    client_error("PutBucketVersioning Status Off: MalformedXML",
                 lambda: s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Off"}),
                 codes=("MalformedXML", "400"), status=400)


def check_aws_cli() -> None:
    begin("4. the aws cli: restore a deleted object")
    ctx = S.ctx
    aws = ["aws", "--endpoint-url", ctx.s3_url]
    bucket = "versions-cli"
    base.run(ctx, "aws s3 mb", aws + ["s3", "mb", f"s3://{bucket}"])
    base.run(ctx, "put-bucket-versioning", aws + ["s3api", "put-bucket-versioning", "--bucket", bucket,
                                                  "--versioning-configuration", "Status=Enabled"])
    src = base.write_file(ctx.path("cli-src"), os.urandom(20_000))
    base.run(ctx, "aws s3 cp", aws + ["s3", "cp", ctx.path("cli-src"), f"s3://{bucket}/file"])
    base.run(ctx, "aws s3 rm", aws + ["s3", "rm", f"s3://{bucket}/file"])
    listed = json.loads(base.out(base.run(ctx, "list-object-versions", aws + ["s3api", "list-object-versions", "--bucket", bucket])))
    markers = listed.get("DeleteMarkers", [])
    versions = listed.get("Versions", [])
    expect(len(markers) == 1 and markers[0]["IsLatest"] and len(versions) == 1, "list-object-versions: the version and the marker",
           f"{listed}")
    base.run(ctx, "get-object --version-id", aws + ["s3api", "get-object", "--bucket", bucket, "--key", "file",
                                                    "--version-id", versions[0]["VersionId"], ctx.path("cli-old")])
    base.same_bytes("get-object --version-id", src, base.read_file(ctx.path("cli-old")))
    base.run(ctx, "delete-object --version-id (the marker)", aws + ["s3api", "delete-object", "--bucket", bucket, "--key", "file",
                                                                    "--version-id", markers[0]["VersionId"]])
    base.run(ctx, "aws s3 cp back", aws + ["s3", "cp", f"s3://{bucket}/file", ctx.path("cli-back")])
    base.same_bytes("restored by deleting the marker", src, base.read_file(ctx.path("cli-back")))


def check_rclone() -> None:
    begin("5. rclone --s3-versions")
    ctx = S.ctx
    config = ctx.path("rclone.conf")
    with open(config, "w", encoding="utf-8") as f:
        f.write(f"[appl]\ntype = s3\nprovider = Other\nenv_auth = false\naccess_key_id = {ctx.access_key}\n"
                f"secret_access_key = {ctx.secret_key}\nendpoint = {ctx.s3_url}\nregion = us-east-1\n")
    rc = ["rclone", "--config", config, "--retries", "1", "--low-level-retries", "1"]
    bucket = "versions-rclone"
    S.s3.create_bucket(Bucket=bucket)
    S.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    S.s3.put_object(Bucket=bucket, Key="notes.txt", Body=b"first draft")
    time.sleep(1.1)  # rclone names old versions by their time, to the second
    S.s3.put_object(Bucket=bucket, Key="notes.txt", Body=b"second draft, longer")
    res = base.run(ctx, "rclone lsf --s3-versions", rc + ["lsf", "--s3-versions", f"appl:{bucket}"])
    names = sorted(base.out(res).split())
    expect(len(names) == 2 and "notes.txt" in names and any(n.startswith("notes-v") for n in names),
           "rclone lists the current file and its old version", f"{names}")
    old = next(n for n in names if n.startswith("notes-v"))
    got = base.run(ctx, "rclone cat of the old version", rc + ["cat", "--s3-versions", f"appl:{bucket}/{old}"])
    expect(got.stdout == b"first draft", "rclone reads the old version", f"{got.stdout!r}")


def check_native() -> None:
    begin("6. the native API")
    name = "native-versions"
    admin_json("POST", "/v1/volumes", {"name": name, "capacity_bytes": 64 << 20}, 201)
    expect(volume(name)["versioning"] == "off", "a new volume: versioning off")
    _, body = admin("PUT", f"/v1/volumes/{name}/objects/k", b"unversioned", 201)
    expect(json.loads(body)["version_id"] == "null", "a PUT before versioning: version_id null")
    admin_json("PATCH", f"/v1/volumes/{name}", {"versioning": "enabled"})
    admin("PATCH", f"/v1/volumes/{name}", {"versioning": "off"}, 409)
    admin("PATCH", f"/v1/volumes/{name}", {"versioning": "sometimes"}, 400)
    admin("PATCH", f"/v1/volumes/{name}", {}, 400)
    _, body = admin("PUT", f"/v1/volumes/{name}/objects/k?durability=async", b"version one", 200)
    v1 = json.loads(body)["version_id"]
    expect(len(v1) == 16, "a PUT with versioning: a version id", v1)
    # A PATCH makes a new version; the one it patched stays as it was.
    headers, body = admin("PATCH", f"/v1/volumes/{name}/objects/k", b"ONE", 200, {"Content-Range": "bytes 8-10/*"})
    v2 = json.loads(body)["version_id"]
    expect(v2 != v1, "a PATCH: a new version id")
    _, now = admin("GET", f"/v1/volumes/{name}/objects/k")
    expect(now == b"version ONE", "the current version is patched", f"{now!r}")
    headers, old = admin("GET", f"/v1/volumes/{name}/objects/k?version_id={v1}")
    expect(old == b"version one" and header(headers, "X-Version-Id") == v1, "GET ?version_id: the version patched, unchanged", f"{old!r}")
    _, null = admin("GET", f"/v1/volumes/{name}/objects/k?version_id=null")
    expect(null == b"unversioned", "GET ?version_id=null: the version from before versioning")
    admin("GET", f"/v1/volumes/{name}/objects/k?version_id=xyz", want=400)
    admin("GET", f"/v1/volumes/{name}/objects/k?version_id=00000000ffffffff", want=404)
    headers, _ = admin("HEAD", f"/v1/volumes/{name}/objects/k?version_id={v1}")
    expect(header(headers, "Content-Length") == str(len(b"version one")), "HEAD ?version_id")
    info = volume(name)
    expect(info["noncurrent_bytes"] == len(b"unversioned") + len(b"version one"), "noncurrent_bytes", f"{info}")
    # DELETE: a marker, then deleting it by id restores.
    headers, _ = admin("DELETE", f"/v1/volumes/{name}/objects/k", want=204)
    marker = header(headers, "X-Version-Id")
    expect(header(headers, "X-Delete-Marker") == "true" and marker, "DELETE: a delete marker", f"{headers}")
    admin("GET", f"/v1/volumes/{name}/objects/k", want=404)
    admin("GET", f"/v1/volumes/{name}/objects/k?version_id={marker}", want=405)
    listing = admin_json("GET", f"/v1/volumes/{name}/versions")
    entries = [(v["version_id"], v["is_latest"], v["delete_marker"]) for v in listing["versions"]]
    expect(entries == [(marker, True, True), (v2, False, False), (v1, False, False), ("null", False, False)],
           "/versions: newest first, the marker latest", f"{entries}")
    paged, key_marker, version_marker = [], None, None
    while True:
        query = "limit=1" + (f"&key_marker={key_marker}&version_id_marker={version_marker}" if key_marker else "")
        page = admin_json("GET", f"/v1/volumes/{name}/versions?{query}")
        paged += [v["version_id"] for v in page["versions"]]
        if page["next_key_marker"] is None:
            break
        key_marker, version_marker = page["next_key_marker"], page["next_version_id_marker"]
    expect(paged == [e[0] for e in entries], "/versions paged one at a time", f"{paged}")
    admin("DELETE", f"/v1/volumes/{name}/objects/k?version_id={marker}", want=204)
    _, back = admin("GET", f"/v1/volumes/{name}/objects/k")
    expect(back == b"version ONE", "deleting the marker restores the object")
    # A volume that holds versions is not deleted without force.
    for vid in (v2, v1, "null"):
        admin("DELETE", f"/v1/volumes/{name}/objects/k?version_id={vid}", want=204)
    admin("DELETE", f"/v1/volumes/{name}/objects/k", want=404)
    info = volume(name)
    expect(info["used_bytes"] == 0 and info["noncurrent_bytes"] == 0 and info["object_count"] == 0, "every version deleted", f"{info}")
    _, _ = admin("PUT", f"/v1/volumes/{name}/objects/k2", b"x", 201)
    admin("DELETE", f"/v1/volumes/{name}/objects/k2", want=204)
    admin("DELETE", f"/v1/volumes/{name}", want=409)  # a delete marker is a version
    admin("DELETE", f"/v1/volumes/{name}?force=true", want=204)


STEPS = [("life-cycle", check_life_cycle), ("listing", check_listing), ("suspended", check_suspended), ("aws-cli", check_aws_cli),
         ("rclone", check_rclone), ("native", check_native)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    base.suite_arguments(parser, STEPS, time_limit=300.0)
    args = parser.parse_args()
    base.RUN.__init__(args.time_limit)

    def setup(server: base.Server, ctx: base.Context) -> None:
        S.server, S.ctx = server, ctx
        S.s3 = boto3.client("s3", endpoint_url=server.s3_url, aws_access_key_id=ctx.access_key,
                            aws_secret_access_key=ctx.secret_key, region_name="us-east-1",
                            config=botocore.config.Config(retries={"max_attempts": 1}))

    return base.run_suite(args, base.chosen_steps(STEPS, args.only), "appliance-s3-versions-", "all versioning checks passed", setup,
                          also=(botocore.exceptions.ClientError,))



if __name__ == "__main__":
    sys.exit(main())
