#!/usr/bin/env python3
"""TLS tests: the appliance's two listeners under TLS, driven by real clients.

    python3 scripts/tls_test.py --bin .build/debug/appliance

Steps, each against the real binary on loopback with a fresh data dir:
  1. `--tls auto`: a self-signed certificate made into <data-dir>/tls/, naming 127.0.0.1 and
     localhost, logged with its SHA-256 fingerprint, kept across a restart; curl with --cacert
     (and refused without it), plain HTTP to a TLS port gets no HTTP answer.
  2. Clients: aws cli with --ca-bundle, boto3 with verify=, rclone with --ca-cert; every
     download compared byte for byte; boto3 with the system's CAs refuses the certificate.
  3. Protocol versions: TLS 1.2 and 1.3 are accepted, a client that offers only TLS 1.0 or 1.1
     (Python's ssl and openssl s_client) is refused.
  4. Reload under load: threads PUT and GET over new and kept-alive connections while the
     certificate files are replaced and SIGHUP sent; no request fails, a connection opened before
     the reload goes on, new connections present the new certificate; a bad file on reload is
     logged and the certificate in use stays.
  5. `--tls-cert/--tls-key` with an RSA certificate made by openssl; start errors for a key that is
     not the certificate's, a missing file, a file that is not PEM, and flags that do not go together.
  6. Without TLS, a listener on a non-loopback address logs a warning; on loopback it does not.
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3_clients_test as base  # noqa: E402  (the Server, the output helpers)

import boto3  # noqa: E402
import botocore.config  # noqa: E402
import botocore.exceptions  # noqa: E402
from boto3.s3.transfer import TransferConfig  # noqa: E402

from s3_clients_test import Failure, begin, expect, ok, MiB, REGION  # noqa: E402


class T:
    binary = ""
    tmp = ""


def start(name: str, extra: list[str], echo: bool = False) -> base.Server:
    data_dir = os.path.join(T.tmp, name)
    os.makedirs(data_dir, exist_ok=True)
    server = base.Server(T.binary, data_dir, echo, extra)
    server.start()
    return server


def context_for(cafile: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=cafile)
    return ctx


def presented(url: str, cafile: str, host: str = "127.0.0.1") -> str:
    """SHA-256 of the certificate a new connection to `url` is given (verified against `cafile`)."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context_for(cafile).wrap_socket(raw, server_hostname=host) as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def file_fingerprint(pem_path: str) -> str:
    with open(pem_path, encoding="ascii") as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


def logged(server: base.Server, text: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(server.log):
            if text in line:
                return line
        time.sleep(0.05)
    raise Failure(f"the server did not log {text!r} within {timeout:.0f}s")


def openssl_cert(directory: str, name: str, key_type: str = "ec", cn: str = "127.0.0.1") -> tuple[str, str]:
    cert, key = os.path.join(directory, f"{name}-cert.pem"), os.path.join(directory, f"{name}-key.pem")
    newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if key_type == "ec" else ["-newkey", "rsa:2048"]
    res = subprocess.run(["openssl", "req", "-x509", *newkey, "-nodes", "-days", "2", "-subj", f"/CN={cn}",
                          "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key, "-out", cert],
                         capture_output=True, timeout=60)
    if res.returncode != 0:
        raise Failure(f"openssl req failed: {res.stderr.decode(errors='replace')}")
    return cert, key


def replace_file(path: str, source: str) -> None:
    """The way an ACME client installs a renewed file: written beside, renamed over."""
    shutil.copyfile(source, path + ".tmp")
    os.replace(path + ".tmp", path)


def admin(server: base.Server, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    status, _, data = server.request(method, path, body)
    return status, data


# ---------------------------------------------------------------------------------------------

def check_auto_and_curl() -> base.Server:
    begin("1. --tls auto, curl")
    server = start("auto", ["--tls", "auto"])
    cert = os.path.join(server.data_dir, "tls", "cert.pem")
    expect(server.url.startswith("https://") and server.s3_url.startswith("https://"),
           "both listeners report https:// URLs", f"{server.url} {server.s3_url}")
    fingerprint = file_fingerprint(cert)
    line = logged(server, "TLS on (1.2 and 1.3) for both listeners")
    shown = line.split("sha256_fingerprint=")[1].split()[0].replace(":", "").lower()
    expect(shown == fingerprint, "the start log names the certificate's SHA-256 fingerprint", f"{shown} vs {fingerprint}")
    expect(os.stat(os.path.join(server.data_dir, "tls", "key.pem")).st_mode & 0o777 == 0o600, "the key file is mode 0600")
    server.ssl_context = context_for(cert)
    for host in ("127.0.0.1", "localhost"):
        port = server.url.rsplit(":", 1)[1]
        res = subprocess.run(["curl", "-sS", "--cacert", cert, f"https://{host}:{port}/healthz"], capture_output=True, timeout=30)
        expect(res.returncode == 0 and b'"ok"' in res.stdout, f"curl --cacert https://{host}:{port}/healthz",
               res.stderr.decode(errors="replace"))
    res = subprocess.run(["curl", "-sS", f"{server.url}/healthz"], capture_output=True, timeout=30)
    expect(res.returncode == 60, "curl without --cacert refuses the self-signed certificate (exit 60)", f"exit {res.returncode}")
    res = subprocess.run(["curl", "-sS", "--max-time", "10", server.url.replace("https://", "http://") + "/healthz"],
                         capture_output=True, timeout=30)
    expect(res.returncode != 0 and b"status" not in res.stdout, "plain HTTP to the TLS port gets no HTTP answer",
           f"exit {res.returncode}, {res.stdout[:100]!r}")
    status, _ = admin(server, "POST", "/v1/volumes", b'{"name":"tls","capacity_bytes":268435456}')
    expect(status == 201, "create a volume over TLS (urllib, verified)", f"status {status}")
    data = os.urandom(3 * MiB + 17)
    token = f"Authorization: Bearer {server.token}"
    path = os.path.join(T.tmp, "curl-up.bin")
    with open(path, "wb") as f:
        f.write(data)
    res = subprocess.run(["curl", "-sS", "-f", "--cacert", cert, "-H", token, "-T", path, f"{server.url}/v1/volumes/tls/objects/a/b.bin"],
                         capture_output=True, timeout=60)
    expect(res.returncode == 0, "curl --cacert PUT 3 MiB", res.stderr.decode(errors="replace"))
    res = subprocess.run(["curl", "-sS", "-f", "--cacert", cert, "-H", token, f"{server.url}/v1/volumes/tls/objects/a/b.bin"],
                         capture_output=True, timeout=60)
    base.same_bytes("curl --cacert GET 3 MiB, same bytes", data, res.stdout)
    server.stop()
    server = start("auto", ["--tls", "auto"])
    server.ssl_context = context_for(cert)
    expect(presented(server.url, cert) == fingerprint, "after a restart the kept certificate is presented (same fingerprint)")
    expect(not any("made a self-signed" in line for line in server.log), "no new certificate made on the restart")
    return server


def boto(server: base.Server, verify) -> object:
    ctx = base.Context(server.s3_url, server.credentials_file, os.path.join(T.tmp, "ctx-" + str(random.random())[2:]), server)
    config = botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=10,
                                    read_timeout=60, region_name=REGION)
    session = boto3.session.Session(aws_access_key_id=ctx.access_key, aws_secret_access_key=ctx.secret_key, region_name=REGION)
    return session.client("s3", endpoint_url=server.s3_url, config=config, verify=verify), ctx


def check_clients(server: base.Server) -> None:
    begin("2. aws cli --ca-bundle, boto3 verify=, rclone --ca-cert")
    cert = os.path.join(server.data_dir, "tls", "cert.pem")
    s3, ctx = boto(server, cert)
    s3.create_bucket(Bucket="tlsboto")
    ok("boto3 create_bucket over TLS (verify= the certificate)")
    for size in (0, 1000, MiB + 3):
        data = os.urandom(size)
        put = s3.put_object(Bucket="tlsboto", Key=f"k{size}", Body=data)
        expect(put["ETag"] == f'"{base.md5_hex(data)}"', f"boto3 put_object {size} B: ETag is the MD5")
        base.same_bytes(f"boto3 get_object {size} B, same bytes", data, s3.get_object(Bucket="tlsboto", Key=f"k{size}")["Body"].read())
    big = os.urandom(20 * MiB)
    path = ctx.path("big.bin")
    base.write_file(path, big)
    s3.upload_file(path, "tlsboto", "big.bin", Config=TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB))
    base.same_bytes("boto3 multipart upload_file 20 MiB, get_object same bytes", big, s3.get_object(Bucket="tlsboto", Key="big.bin")["Body"].read())
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "tlsboto", "Key": "k1000"}, ExpiresIn=300)
    res = subprocess.run(["curl", "-sS", "-f", "--cacert", cert, url], capture_output=True, timeout=30)
    expect(res.returncode == 0 and len(res.stdout) == 1000, "a presigned https URL fetched with curl --cacert", res.stderr.decode(errors="replace"))
    untrusted, _ = boto(server, True)
    try:
        untrusted.list_buckets()
        raise Failure("boto3 with the system's CAs accepted the self-signed certificate")
    except botocore.exceptions.SSLError:
        ok("boto3 with the system's CAs refuses the self-signed certificate (SSLError)")

    aws = ["aws", "--endpoint-url", server.s3_url, "--region", REGION, "--ca-bundle", cert, "--cli-connect-timeout", "10"]
    env = {**ctx.env, "AWS_MAX_ATTEMPTS": "1"}
    base.run(ctx, "aws s3 mb", aws + ["s3", "mb", "s3://tlsaws"], env=env)
    ok("aws --ca-bundle s3 mb s3://tlsaws")
    base.run(ctx, "aws s3 cp up", aws + ["s3", "cp", path, "s3://tlsaws/big.bin"], env=env)
    base.run(ctx, "aws s3 cp down", aws + ["s3", "cp", "s3://tlsaws/big.bin", ctx.path("big.down")], env=env)
    base.same_bytes("aws --ca-bundle s3 cp 20 MiB up and down, same bytes", big, base.read_file(ctx.path("big.down")))
    tree = base.make_tree(ctx.path("tree"), 20)
    base.run(ctx, "aws s3 sync up", aws + ["s3", "sync", ctx.path("tree"), "s3://tlsaws/tree/"], env=env)
    base.run(ctx, "aws s3 sync down", aws + ["s3", "sync", "s3://tlsaws/tree/", ctx.path("tree-down")], env=env)
    base.same_tree(f"aws --ca-bundle s3 sync of {len(tree)} files up and down", tree, ctx.path("tree-down"))
    res = base.run(ctx, "aws without --ca-bundle", ["aws", "--endpoint-url", server.s3_url, "--region", REGION, "s3", "ls"],
                   env=env, wanted_rc=None)
    expect(res.returncode != 0 and b"SSL" in res.stderr, "aws without --ca-bundle refuses the certificate",
           f"exit {res.returncode}: {base.err_text(res)[-300:]}")

    config = ctx.path("rclone.conf")
    with open(config, "w", encoding="utf-8") as f:
        f.write(f"[appl]\ntype = s3\nprovider = Other\nenv_auth = false\naccess_key_id = {ctx.access_key}\n"
                f"secret_access_key = {ctx.secret_key}\nendpoint = {server.s3_url}\nregion = {REGION}\n")
    rclone = ["rclone", "--config", config, "--ca-cert", cert, "--retries", "1", "--low-level-retries", "1", "--contimeout", "10s"]
    base.run(ctx, "rclone mkdir", rclone + ["mkdir", "appl:tlsrclone"])
    base.run(ctx, "rclone copy up", rclone + ["copy", ctx.path("tree"), "appl:tlsrclone/tree"])
    base.run(ctx, "rclone check", rclone + ["check", ctx.path("tree"), "appl:tlsrclone/tree"])
    base.run(ctx, "rclone copy down", rclone + ["copy", "appl:tlsrclone/tree", ctx.path("rclone-down")])
    base.same_tree("rclone --ca-cert copy up, check, copy down: same tree", tree, ctx.path("rclone-down"))
    res = base.run(ctx, "rclone without --ca-cert", ["rclone", "--config", config, "--retries", "1", "--low-level-retries", "1",
                                                     "lsd", "appl:"], wanted_rc=None)
    expect(res.returncode != 0 and b"certificate" in res.stderr, "rclone without --ca-cert refuses the certificate",
           f"exit {res.returncode}")


def handshake(port: int, cafile: str, low: ssl.TLSVersion, high: ssl.TLSVersion) -> str:
    """The version agreed with a client offering only `low`...`high`; raises when refused."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # so that this client really offers the old versions
    ctx.minimum_version, ctx.maximum_version = low, high
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return tls.version() or ""


def check_versions(server: base.Server) -> None:
    begin("3. TLS 1.2 and 1.3 only")
    cert = os.path.join(server.data_dir, "tls", "cert.pem")
    import warnings
    warnings.simplefilter("ignore", DeprecationWarning)
    for url, name in ((server.url, "admin"), (server.s3_url, "S3")):
        port = int(url.rsplit(":", 1)[1])
        for version, want in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
            got = handshake(port, cert, version, version)
            expect(got == want, f"{name} listener: a client offering only {want} connects", got)
        for version, label in ((ssl.TLSVersion.TLSv1, "TLSv1.0"), (ssl.TLSVersion.TLSv1_1, "TLSv1.1")):
            try:
                got = handshake(port, cert, version, version)
                raise Failure(f"{name} listener accepted a client offering only {label} (agreed {got})")
            except (ssl.SSLError, ConnectionError) as err:
                ok(f"{name} listener refuses a client offering only {label} ({type(err).__name__})")
        try:
            got = handshake(port, cert, ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)
            raise Failure(f"{name} listener accepted a client offering TLS 1.0 and 1.1 (agreed {got})")
        except (ssl.SSLError, ConnectionError):
            ok(f"{name} listener refuses a client offering TLS 1.0 and 1.1 together")
    port = server.url.rsplit(":", 1)[1]
    for flag in ("-tls1", "-tls1_1"):
        res = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", flag, "-cipher", "DEFAULT@SECLEVEL=0", "-CAfile", cert],
                             input=b"", capture_output=True, timeout=30)
        text = res.stdout.decode(errors="replace")
        expect("Cipher is (NONE)" in text or "no peer certificate available" in text,
               f"openssl s_client {flag} gets no session", text[-300:])
    res = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2", "-CAfile", cert],
                         input=b"", capture_output=True, timeout=30)
    expect("Verify return code: 0 (ok)" in res.stdout.decode(errors="replace"), "openssl s_client -tls1_2 verifies and connects")


class Load:
    """Threads that PUT and GET over HTTPS, some requests on new connections, some on kept ones."""

    def __init__(self, server: base.Server, cafile: str, threads: int = 6) -> None:
        self.server, self.cafile = server, cafile
        self.port = int(server.url.rsplit(":", 1)[1])
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.errors: list[str] = []
        self.requests = 0
        self.seen: list[tuple[float, str]] = []  # (connected at, fingerprint)
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)]

    def connect(self) -> http.client.HTTPSConnection:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30, context=context_for(self.cafile))
        conn.connect()
        with self.lock:
            self.seen.append((time.monotonic(), hashlib.sha256(conn.sock.getpeercert(binary_form=True)).hexdigest()))
        return conn

    def run(self, index: int) -> None:
        rng = random.Random(index)
        headers = {"Authorization": f"Bearer {self.server.token}"}
        n = 0
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None or rng.random() < 0.3:
                    if conn:
                        conn.close()
                    conn = self.connect()
                body = rng.randbytes(rng.choice((100, 5000, 70_000, 300_000)))
                key = f"/v1/volumes/tls/objects/load/{index}/{n}"
                conn.request("PUT", key, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status not in (200, 201):
                    raise Failure(f"PUT {key}: {resp.status}")
                conn.request("GET", key, headers=headers)
                resp = conn.getresponse()
                got = resp.read()
                if resp.status != 200 or got != body:
                    raise Failure(f"GET {key}: {resp.status}, {len(got)} bytes (want {len(body)}, same)")
                with self.lock:
                    self.requests += 2
                n += 1
            except Exception as err:  # noqa: BLE001  (every failure is the test's finding)
                with self.lock:
                    self.errors.append(f"thread {index}: {type(err).__name__}: {err}")
                conn = None

    def __enter__(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)


def check_reload(server: base.Server) -> None:
    begin("4. SIGHUP reloads the certificate under load")
    tls_dir = os.path.join(server.data_dir, "tls")
    old_cert = os.path.join(T.tmp, "old-cert.pem")
    shutil.copyfile(os.path.join(tls_dir, "cert.pem"), old_cert)
    old = file_fingerprint(old_cert)
    new_cert, new_key = openssl_cert(T.tmp, "renewed")
    new = file_fingerprint(new_cert)
    bundle = os.path.join(T.tmp, "both.pem")  # clients trust both, as they would a CA
    with open(bundle, "w", encoding="ascii") as f:
        f.write(open(old_cert, encoding="ascii").read() + open(new_cert, encoding="ascii").read())
    server.ssl_context = context_for(bundle)
    headers = {"Authorization": f"Bearer {server.token}"}
    port = int(server.url.rsplit(":", 1)[1])
    kept = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=context_for(bundle))
    kept.request("GET", "/healthz")
    kept.getresponse().read()
    kept_fingerprint = hashlib.sha256(kept.sock.getpeercert(binary_form=True)).hexdigest()
    # An upload in flight across the reload: its body sent slowly on a connection opened before.
    slow = http.client.HTTPSConnection("127.0.0.1", port, timeout=60, context=context_for(bundle))
    slow_body = os.urandom(16 * MiB)
    slow.putrequest("PUT", "/v1/volumes/tls/objects/slow.bin")
    for name, value in {**headers, "Content-Length": str(len(slow_body))}.items():
        slow.putheader(name, value)
    slow.endheaders()
    with Load(server, bundle) as load:
        for i in range(0, len(slow_body) // 2, MiB):
            slow.send(slow_body[i:i + MiB])
            time.sleep(0.1)
        before = load.requests
        replace_file(os.path.join(tls_dir, "key.pem"), new_key)
        replace_file(os.path.join(tls_dir, "cert.pem"), new_cert)
        reloaded_at = time.monotonic()
        server.proc.send_signal(signal.SIGHUP)
        logged(server, "TLS certificate reloaded")
        for i in range(len(slow_body) // 2, len(slow_body), MiB):
            slow.send(slow_body[i:i + MiB])
            time.sleep(0.1)
        time.sleep(2)
        during = load.requests - before
    expect(not load.errors, f"{load.requests} requests under load across the reload, none failed",
           "; ".join(load.errors[:5]) + f" ({len(load.errors)} in all)")
    expect(during > 20, f"the load went on through the reload ({during} requests after it began)")
    resp = slow.getresponse()
    resp.read()
    expect(resp.status == 201, "an upload sent across the reload completes (201)", f"status {resp.status}")
    status, _, got = server.request("GET", "/v1/volumes/tls/objects/slow.bin")
    base.same_bytes("... and reads back the same 16 MiB", slow_body, got)
    after = [fp for at, fp in load.seen if at > reloaded_at + 1.0]
    before_fps = {fp for at, fp in load.seen if at < reloaded_at}
    expect(before_fps == {old}, "connections opened before the reload were given the old certificate")
    expect(after and set(after) == {new}, f"all {len(after)} connections opened after the reload are given the new certificate",
           f"{set(after)}")
    kept.request("GET", "/healthz")
    resp = kept.getresponse()
    expect(resp.status == 200 and resp.read() and kept_fingerprint == old,
           "a keep-alive connection opened before the reload still answers after it")
    expect(presented(server.s3_url, bundle) == new, "the S3 listener presents the new certificate too")

    replace_file(os.path.join(tls_dir, "cert.pem"), os.path.join(server.data_dir, "token"))  # not PEM
    server.proc.send_signal(signal.SIGHUP)
    logged(server, "TLS certificate not reloaded; the one in use stays")
    ok("a reload with a file that is not a certificate is logged as an error")
    expect(presented(server.url, bundle) == new and server.alive(), "... and the certificate in use stays")
    _, other_key = openssl_cert(T.tmp, "other")
    replace_file(os.path.join(tls_dir, "cert.pem"), new_cert)
    replace_file(os.path.join(tls_dir, "key.pem"), other_key)
    before = sum("not reloaded" in line for line in server.log)
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while sum("not reloaded" in line for line in server.log) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    line = [line for line in server.log if "not reloaded" in line][-1]
    expect("does not belong" in line, "a reload with a key that is not the certificate's is refused", line)
    expect(presented(server.url, bundle) == new, "... and the certificate in use stays")
    replace_file(os.path.join(tls_dir, "key.pem"), new_key)


def start_fails(name: str, args: list[str], wanted: str) -> None:
    data_dir = os.path.join(T.tmp, name)
    os.makedirs(data_dir, exist_ok=True)
    res = subprocess.run([T.binary, "serve", "--listen", "127.0.0.1:0", "--s3-listen", "127.0.0.1:0", "--data-dir", data_dir,
                          "--device-size", str(base.DEVICE_SIZE)] + args, capture_output=True, timeout=60)
    text = res.stderr.decode(errors="replace") + res.stdout.decode(errors="replace")
    expect(res.returncode != 0 and wanted in text, f"start refused: {' '.join(a.replace(T.tmp, '…') for a in args)} → “{wanted}”",
           f"exit {res.returncode}: {text[-400:]}")


def check_own_files() -> None:
    begin("5. --tls-cert/--tls-key, and start errors")
    cert, key = openssl_cert(T.tmp, "rsa", key_type="rsa")
    server = start("own", ["--tls-cert", cert, "--tls-key", key])
    try:
        expect(presented(server.url, cert) == file_fingerprint(cert), "an RSA certificate from openssl is presented")
        server.ssl_context = context_for(cert)
        status, _, body = server.request("GET", "/v1/pool")
        expect(status == 200, "GET /v1/pool over TLS with the operator's certificate", f"{status} {body[:200]!r}")
    finally:
        server.stop()
    _, other_key = openssl_cert(T.tmp, "mismatch")
    start_fails("bad1", ["--tls-cert", cert, "--tls-key", other_key], "the key does not belong to the certificate")
    start_fails("bad2", ["--tls-cert", os.path.join(T.tmp, "missing.pem"), "--tls-key", key], "cannot read")
    start_fails("bad3", ["--tls-cert", key, "--tls-key", key], "holds no PEM certificate")
    start_fails("bad4", ["--tls-cert", cert, "--tls-key", cert], "holds no unencrypted PEM private key")
    start_fails("bad5", ["--tls-cert", cert], "needs both --tls-cert and --tls-key")
    start_fails("bad6", ["--tls", "auto", "--tls-cert", cert, "--tls-key", key], "does not go with")
    start_fails("bad7", ["--tls", "yes"], "must be auto or off")


def check_warning() -> None:
    begin("6. plain HTTP on a non-loopback address is warned about")
    server = start("wide", ["--s3-listen", "127.0.0.1:0"])
    try:
        expect(not any("TLS is off" in line for line in server.log), "no warning for loopback listeners")
    finally:
        server.stop()
    data_dir = os.path.join(T.tmp, "wide2")
    os.makedirs(data_dir)
    proc = subprocess.Popen([T.binary, "serve", "--listen", "0.0.0.0:0", "--s3-listen", "off", "--data-dir", data_dir,
                             "--device-size", str(base.DEVICE_SIZE)], stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 60
    try:
        assert proc.stderr
        for line in proc.stderr:
            lines.append(line)
            if "listening on" in line or time.monotonic() > deadline:
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    expect(any("warning" in line and "TLS is off on 0.0.0.0" in line for line in lines),
           "--listen 0.0.0.0 without TLS logs a warning at start", "".join(lines[-5:]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=".build/debug/appliance")
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    base.RUN.__init__(args.time_limit)
    T.binary = os.path.abspath(args.bin)
    T.tmp = tempfile.mkdtemp(prefix="appliance-tls-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_", "SSL_CERT", "REQUESTS_CA", "CURL_CA"))}
    os.environ.clear()
    os.environ.update(env)
    server = None
    failed = None
    started = time.monotonic()
    try:
        server = check_auto_and_curl()
        check_clients(server)
        check_versions(server)
        check_reload(server)
        server.stop()
        server = None
        check_own_files()
        check_warning()
    except Exception as err:  # noqa: BLE001
        failed = f"[{base.RUN.step}] {type(err).__name__}: {err}"
        traceback.print_exc()
        if server and server.log:
            print("--- last server log lines\n" + "\n".join(list(server.log)[-40:]), file=sys.stderr)
    finally:
        if server:
            server.stop()
        if args.keep:
            print(f"kept {T.tmp}")
        else:
            shutil.rmtree(T.tmp, ignore_errors=True)
    print(f"\n{base.RUN.passed} checks passed in {time.monotonic() - started:.1f}s")
    if failed:
        print("FAILED: " + failed, file=sys.stderr)
        return 1
    print("all TLS checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
