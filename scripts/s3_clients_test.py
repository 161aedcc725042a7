#!/usr/bin/env python3
"""S3 client tests: real S3 clients against the appliance's S3 endpoint.

    python3 scripts/s3_clients_test.py --bin .build/debug/appliance

Starts `<bin> serve` on a temporary data dir with an S3 listener (as scripts/contract_test.py
does), then drives, each in its own step: (1) aws cli v1 (`s3` and `s3api`), (2) boto3, (3) rclone,
(4) restic, (5) s3cmd, and (6) checks that the native API and S3 see the same objects. Every
download is compared byte for byte with what was uploaded and every client command must exit 0.
One line per check ("ok  ..."); the first failure ends the run (exit 1) naming the step, the
client command and its output, followed by the tail of the server's log.

Needs Python 3.11 with boto3, and the commands aws (v1), rclone, restic and s3cmd on PATH.
Every client runs with a clean environment: HOME is a temporary dir, AWS_CA_BUNDLE and any
AWS_*/RCLONE_*/RESTIC_* settings of the caller are removed, and the credentials are the ones the
server wrote to <data-dir>/s3-credentials (profile `appliance`).

--s3-url URL --credentials FILE runs steps 1-5 against an S3 server that is already running
(e.g. `moto_server`), to check the script itself; step 6 needs the appliance and is skipped.
"""
from __future__ import annotations

import argparse
import base64
import collections
import configparser
import datetime
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
import traceback
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
import zlib

import boto3
import botocore.config
import botocore.exceptions
import botocore.handlers
from boto3.s3.transfer import TransferConfig

MiB = 1024 * 1024
DEVICE_SIZE = 256 * MiB
REGION = "us-east-1"
PROFILE = "appliance"
# Longest any one client command may run, within the whole run's --time-limit.
COMMAND_TIMEOUT = 90.0


class Failure(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Bookkeeping: the current step, the checks passed, the time budget.

class Run:
    def __init__(self, time_limit: float) -> None:
        self.deadline = time.monotonic() + time_limit
        self.time_limit = time_limit
        self.step = ""
        self.passed = 0
        self.notes: list[str] = []

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def timeout(self, wanted: float = COMMAND_TIMEOUT) -> float:
        left = self.remaining()
        if left <= 0:
            raise Failure(f"the run's time limit ({self.time_limit:.0f}s) is used up")
        return min(wanted, left)


RUN = Run(170.0)


def begin(title: str) -> None:
    RUN.step = title
    print(f"\n==> {title}", flush=True)


def ok(label: str) -> None:
    RUN.passed += 1
    print(f"ok  {label}", flush=True)


def note(text: str) -> None:
    RUN.notes.append(f"{RUN.step}: {text}")
    print(f"--  {text}", flush=True)


def expect(cond: bool, label: str, detail: str = "") -> None:
    if not cond:
        raise Failure(f"{label}" + (f": {detail}" if detail else ""))
    ok(label)


def clip(text: str, limit: int = 4000) -> str:
    text = text.rstrip()
    return text if len(text) <= limit else text[:limit // 2] + "\n[...]\n" + text[-limit // 2:]


# ---------------------------------------------------------------------------------------------
# The server under test.

class Server:
    """The appliance on 127.0.0.1 with a fresh data directory, an admin and an S3 listener."""

    def __init__(self, binary: str, data_dir: str, echo: bool, extra: list[str] | None = None) -> None:
        self.binary, self.data_dir, self.echo, self.extra = binary, data_dir, echo, list(extra or [])
        self.proc: subprocess.Popen | None = None
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: collections.deque[str] = collections.deque(maxlen=400)
        self.url = self.s3_url = self.token = ""
        # For a server under TLS: the context its admin requests verify the certificate with.
        self.ssl_context = None
        self.credentials_file = os.path.join(data_dir, "s3-credentials")

    def start(self, timeout: float = 60.0) -> None:
        cmd = [self.binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", self.data_dir,
               "--device-size", str(DEVICE_SIZE), "--s3-listen", "127.0.0.1:0"] + self.extra
        print("    $", " ".join(cmd), flush=True)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)
        threading.Thread(target=self._pump, daemon=True).start()
        deadline = time.monotonic() + min(timeout, RUN.timeout(timeout))
        while time.monotonic() < deadline and not (self.url and self.s3_url):
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    time.sleep(0.2)  # let the pump collect the last lines
                    raise Failure(f"server exited with status {self.proc.returncode} before listening")
                continue
            # The S3 line also holds "listening on": look for it first.
            if m := re.search(r"S3 endpoint listening on (https?://127\.0\.0\.1:\d+)", line):
                self.s3_url = m.group(1)
            elif m := re.search(r"listening on (https?://127\.0\.0\.1:\d+)", line):
                self.url = m.group(1)
        if not (self.url and self.s3_url):
            raise Failure(f"server did not report both `listening on` (admin: {self.url or 'missing'}) and "
                          f"`S3 endpoint listening on` (S3: {self.s3_url or 'missing'}) within {timeout:.0f}s")
        with open(os.path.join(self.data_dir, "token"), encoding="utf-8") as f:
            self.token = f.readline().strip()
        print(f"    admin API at {self.url}, S3 at {self.s3_url}", flush=True)

    def _pump(self) -> None:
        assert self.proc and self.proc.stderr
        for line in self.proc.stderr:
            self.log.append(line.rstrip())
            if self.echo:
                print(f"    [server] {line.rstrip()}", file=sys.stderr, flush=True)
            self.lines.put(line)

    def alive(self) -> bool:
        return bool(self.proc) and self.proc.poll() is None

    def stop(self) -> None:
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None):
        """Admin API call with the bearer token: (status, headers, body); never raises for HTTP errors."""
        headers = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=RUN.timeout(30), context=self.ssl_context) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read()
        except (urllib.error.URLError, OSError) as err:
            raise Failure(f"admin {method} {path}: {getattr(err, 'reason', err)}") from err


def run_steps(steps, server: "Server", keep_going: bool, failures: list[str],
              also: tuple[type[BaseException], ...] = ()) -> None:
    """Runs each (name, check) step; a failing step is recorded in `failures` with the server's
    last log lines, and ends the run unless `keep_going` (and the server is still up)."""
    for name, check in steps:
        try:
            check()
        except (Failure, OSError, KeyError, ValueError, AttributeError) + also as err:
            text = str(err) if isinstance(err, Failure) else f"unexpected {type(err).__name__}: {err}\n{traceback.format_exc()}"
            if not server.alive():
                text += f"\n(the server exited with status {server.proc.returncode})"
            failures.append(f"[{name}] {text}")
            print(f"\nFAIL in step {name}:\n{text}", file=sys.stderr, flush=True)
            print("--- last server log lines\n" + "\n".join(list(server.log)[-40:]), file=sys.stderr, flush=True)
            if not keep_going or not server.alive():
                break


def suite_arguments(parser: argparse.ArgumentParser, steps, time_limit: float) -> None:
    """The options every step-based suite takes: the binary, which steps, whether to go on after
    a failure, the time limit and the server's log."""
    parser.add_argument("--bin", default=".build/debug/appliance", help="appliance binary")
    parser.add_argument("--only", help="comma-separated steps: " + ",".join(n for n, _ in steps))
    parser.add_argument("--keep-going", action="store_true", help="after a failing step, run the next ones (if the server is up)")
    parser.add_argument("--time-limit", type=float, default=time_limit, help="seconds for the whole run")
    parser.add_argument("--server-log", action="store_true", help="echo the server's log")


def chosen_steps(steps, only: str | None):
    """The steps `--only` names (all without it), in their order."""
    return [(n, f) for n, f in steps if not only or n in only.split(",")]


def summary(failures: list[str], started: float, passed_text: str) -> int:
    """Prints the run's count, notes and failures; the exit status."""
    print(f"\n{RUN.passed} checks passed in {time.monotonic() - started:.1f}s" + (f", {len(failures)} step(s) failed" if failures else ""))
    for text in RUN.notes:
        print(f"note: {text}")
    if failures:
        print("FAILED: " + "; ".join(f.splitlines()[0][:300] for f in failures), file=sys.stderr)
        return 1
    print(passed_text)
    return 0


def run_suite(args, steps, prefix: str, passed_text: str, setup, extra: list[str] | None = None,
              also: tuple[type[BaseException], ...] = ()) -> int:
    """A step-based suite's run: starts the server on a temporary data dir (with `extra` flags),
    calls `setup(server, ctx)`, runs the steps, stops the server and removes the directory; the
    exit status (see `summary`)."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    failures: list[str] = []
    started = time.monotonic()
    server = None
    try:
        begin("0. starting the server")
        data_dir = os.path.join(tmp, "data")
        os.makedirs(data_dir)
        server = Server(os.path.abspath(args.bin), data_dir, args.server_log, extra=extra)
        server.start()
        setup(server, Context(server.s3_url, server.credentials_file, os.path.join(tmp, "work"), server))
        run_steps(steps, server, args.keep_going, failures, also=also)
    except (Failure, OSError) as err:
        failures.append(str(err))
        print(f"FAIL: {err}", file=sys.stderr)
    finally:
        if server:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return summary(failures, started, passed_text)


class Context:
    """What every step needs: the S3 endpoint, the keys, the client environment, a scratch dir."""

    def __init__(self, s3_url: str, credentials_file: str, scratch: str, server: Server | None) -> None:
        self.s3_url, self.credentials_file, self.scratch, self.server = s3_url, credentials_file, scratch, server
        parser = configparser.ConfigParser()
        if not parser.read(credentials_file, encoding="utf-8") or PROFILE not in parser:
            raise Failure(f"{credentials_file} has no [{PROFILE}] profile")
        self.access_key = parser[PROFILE].get("aws_access_key_id", "").strip()
        self.secret_key = parser[PROFILE].get("aws_secret_access_key", "").strip()
        if not self.access_key or not self.secret_key:
            raise Failure(f"{credentials_file} [{PROFILE}] lacks aws_access_key_id or aws_secret_access_key")
        self.home = os.path.join(scratch, "home")
        os.makedirs(self.home)
        aws_config = os.path.join(scratch, "aws-config")
        with open(aws_config, "w", encoding="utf-8") as f:
            f.write(f"[profile {PROFILE}]\nregion = {REGION}\n")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "RCLONE_", "RESTIC_", "S3CMD", "BOTO_"))}
        env.update({
            "AWS_SHARED_CREDENTIALS_FILE": credentials_file, "AWS_CONFIG_FILE": aws_config,
            "AWS_PROFILE": PROFILE, "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
            "HOME": self.home, "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
            "XDG_CACHE_HOME": os.path.join(self.home, ".cache"),
            "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8", "PYTHONUTF8": "1",
        })
        self.env = env
        port = urllib.parse.urlsplit(s3_url).port
        self.host_port = f"127.0.0.1:{port}"

    def path(self, *parts: str) -> str:
        return os.path.join(self.scratch, *parts)


def run(ctx: Context, label: str, argv: list[str], env: dict[str, str] | None = None,
        wanted_rc: int | None = 0, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
    """Runs a client command; fails unless it exits `wanted_rc` (None: any). Output is bytes."""
    shown = " ".join(a if " " not in a else repr(a) for a in argv)
    try:
        res = subprocess.run(argv, env=env or ctx.env, cwd=ctx.scratch, stdin=subprocess.DEVNULL,
                             capture_output=True, timeout=RUN.timeout(timeout))
    except subprocess.TimeoutExpired as err:
        raise Failure(f"{label}: `{shown}` did not finish within {err.timeout:.0f}s\n"
                      f"--- stdout\n{clip((err.stdout or b'').decode(errors='replace'))}\n"
                      f"--- stderr\n{clip((err.stderr or b'').decode(errors='replace'))}") from None
    except FileNotFoundError:
        raise Failure(f"{label}: `{argv[0]}` is not installed") from None
    if wanted_rc is not None and res.returncode != wanted_rc:
        raise Failure(f"{label}: `{shown}` exited {res.returncode} (want {wanted_rc})\n"
                      f"--- stdout\n{clip(res.stdout.decode(errors='replace'))}\n"
                      f"--- stderr\n{clip(res.stderr.decode(errors='replace'))}")
    return res


def out(res: subprocess.CompletedProcess) -> str:
    return res.stdout.decode("utf-8", errors="replace")


def err_text(res: subprocess.CompletedProcess) -> str:
    return res.stderr.decode("utf-8", errors="replace")


# ---------------------------------------------------------------------------------------------
# Local data: random files and trees, compared byte for byte.

def write_file(path: str, data: bytes) -> bytes:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return data


def read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


# Names with spaces, unicode (composed and not), parentheses, dots and dashes, nested a few deep.
SPECIAL_NAMES = [
    "readme.txt", "with space.txt", "dir one/two words/file name.bin", "ünïcödé/naïve café.txt",
    "日本語/ファイル 1.txt", "emoji 🎉/party.dat", "deep/a/b/c/d/leaf.bin", "paren (1)/x-y_z.v2.tar",
    "empty file", "Zebra/UPPER.TXT",
]


def make_tree(root: str, count: int, max_size: int = 4096, big: dict[str, int] | None = None) -> dict[str, bytes]:
    """`count` files (SPECIAL_NAMES first, then numbered ones in nested dirs); one is empty."""
    files: dict[str, bytes] = {}
    names = SPECIAL_NAMES[:count] + [f"d{i % 4}/sub {i % 3}/file-{i:03d}.bin" for i in range(len(SPECIAL_NAMES), count)]
    for i, name in enumerate(names):
        size = 0 if name == "empty file" else 1 + (i * 7919) % max_size
        files[name] = write_file(os.path.join(root, name), os.urandom(size))
    for name, size in (big or {}).items():
        files[name] = write_file(os.path.join(root, name), os.urandom(size))
    return files


def read_tree(root: str) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            full = os.path.join(dirpath, name)
            found[os.path.relpath(full, root).replace(os.sep, "/")] = read_file(full)
    return found


def same_tree(label: str, want: str | dict[str, bytes], got_root: str) -> None:
    """Fails unless `got_root` holds exactly the files of `want` (a dir or a name → bytes map)."""
    want_files = read_tree(want) if isinstance(want, str) else want
    got = read_tree(got_root)
    missing = sorted(set(want_files) - set(got))
    extra = sorted(set(got) - set(want_files))
    differ = sorted(k for k in set(want_files) & set(got) if want_files[k] != got[k])
    problems = []
    if missing:
        problems.append(f"missing {missing[:10]}")
    if extra:
        problems.append(f"unexpected {extra[:10]}")
    if differ:
        problems.append(f"contents differ {differ[:10]}")
    expect(not problems, label, "; ".join(problems))


def same_bytes(label: str, want: bytes, got: bytes) -> None:
    if want == got:
        ok(label)
        return
    first = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
    raise Failure(f"{label}: {len(got)} bytes differ from the {len(want)} uploaded (first difference at byte {first})")


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# ---------------------------------------------------------------------------------------------
# Checksums botocore may lack (CRC32C and CRC64NVME need awscrt): computed here, base64 of the
# big-endian value as S3 sends them.

def _crc_table(poly: int, width: int) -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c & ((1 << width) - 1))
    return table


_CRC32C_TABLE = _crc_table(0x82F63B78, 32)          # CRC-32C (Castagnoli), reflected
_CRC64NVME_TABLE = _crc_table(0x9A6C9329AC4BC9B5, 64)  # CRC-64/NVME: 0xAD93D23594C93659 reflected


def _crc(table: list[int], width: int, data: bytes) -> int:
    mask = (1 << width) - 1
    c = mask
    for b in data:
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ mask


def crc32c(data: bytes) -> int:
    return _crc(_CRC32C_TABLE, 32, data)


def crc64nvme(data: bytes) -> int:
    return _crc(_CRC64NVME_TABLE, 64, data)


assert crc32c(b"123456789") == 0xE3069283, "CRC-32C self-test"
assert crc64nvme(b"123456789") == 0xAE8B14860A799888, "CRC-64/NVME self-test"


def s3_checksum(algorithm: str, data: bytes) -> str:
    if algorithm == "CRC32":
        raw = zlib.crc32(data).to_bytes(4, "big")
    elif algorithm == "CRC32C":
        raw = crc32c(data).to_bytes(4, "big")
    elif algorithm == "CRC64NVME":
        raw = crc64nvme(data).to_bytes(8, "big")
    elif algorithm == "SHA1":
        raw = hashlib.sha1(data).digest()
    elif algorithm == "SHA256":
        raw = hashlib.sha256(data).digest()
    else:
        raise ValueError(algorithm)
    return base64.b64encode(raw).decode()


# ---------------------------------------------------------------------------------------------
# Helpers for S3 answers.

def s3_client(ctx: Context, secret: str | None = None, signature_version: str | None = None):
    """boto3's S3 client, path-style, no retries. Requests are signed with SigV4 either way;
    `signature_version` only changes presigned URLs (botocore's default for them is SigV2 query auth)."""
    extra = {"signature_version": signature_version} if signature_version else {}
    config = botocore.config.Config(
        s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=10, read_timeout=60,
        region_name=REGION, **extra)
    session = boto3.session.Session(aws_access_key_id=ctx.access_key, aws_secret_access_key=secret or ctx.secret_key,
                                    region_name=REGION)
    return session.client("s3", endpoint_url=ctx.s3_url, config=config)


def client_error(label: str, call, *, codes: tuple[str, ...], status: int | None = None) -> botocore.exceptions.ClientError:
    """Runs `call`, which must raise a ClientError with one of `codes` (and HTTP `status`)."""
    try:
        result = call()
    except botocore.exceptions.ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        got_status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        expect(code in codes and (status is None or got_status == status), label,
               f"got {code!r} HTTP {got_status}, want {' or '.join(codes)}" + (f" HTTP {status}" if status else "")
               + f" ({err})")
        return err
    raise Failure(f"{label}: the call succeeded, want {' or '.join(codes)}: {str(result)[:500]}")


def xml_error_code(body: bytes) -> str | None:
    """The <Code> of an S3 <Error> document, None if `body` is not one."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    if root.tag.rsplit("}", 1)[-1] != "Error":
        return None
    for child in root:
        if child.tag.rsplit("}", 1)[-1] == "Code":
            return (child.text or "").strip()
    return None


def show(body: bytes, limit: int = 300) -> str:
    """A response body for a failure message: text if it is, else its size and first bytes."""
    try:
        return repr(clip(body.decode("utf-8"), limit))
    except UnicodeDecodeError:
        return f"{len(body)} bytes of binary, starting {body[:32]!r}"


def http_get(url: str, headers: dict[str, str] | None = None):
    """Plain GET (no S3 auth): (status, headers, body); never raises for HTTP errors."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=RUN.timeout(30)) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()
    except (urllib.error.URLError, OSError) as err:
        raise Failure(f"GET {url}: {getattr(err, 'reason', err)}") from err


def s3_object_url(ctx: Context, bucket: str, key: str) -> str:
    return f"{ctx.s3_url}/{bucket}/{urllib.parse.quote(key, safe='/')}"


def list_all_keys(s3, bucket: str, prefix: str = "") -> list[str]:
    keys, token = [], None
    while True:
        kwargs = {"Bucket": bucket, "Prefix": prefix, **({"ContinuationToken": token} if token else {})}
        resp = s3.list_objects_v2(**kwargs)
        keys += [o["Key"] for o in resp.get("Contents", [])]
        if not resp.get("IsTruncated"):
            return keys
        token = resp["NextContinuationToken"]


def utf8_sorted(keys) -> list[str]:
    return sorted(keys, key=lambda k: k.encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# 1. aws cli v1

def check_aws_cli(ctx: Context) -> None:
    begin("1. aws cli (s3, s3api)")
    bucket = "awsbucket"
    aws = ["aws", "--endpoint-url", ctx.s3_url, "--region", REGION, "--cli-connect-timeout", "10",
           "--cli-read-timeout", "60"]
    env = {**ctx.env, "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"}

    def aws_run(label: str, *args: str, wanted_rc: int | None = 0) -> subprocess.CompletedProcess:
        return run(ctx, label, aws + list(args), env=env, wanted_rc=wanted_rc)

    def head(key: str) -> dict:
        return json.loads(out(aws_run(f"aws s3api head-object {key}", "s3api", "head-object", "--bucket", bucket, "--key", key)))

    aws_run("aws s3 mb", "s3", "mb", f"s3://{bucket}")
    ok(f"aws s3 mb s3://{bucket}")

    big = write_file(ctx.path("aws", "big.bin"), os.urandom(20 * MiB))
    aws_run("aws s3 cp 20 MiB up", "s3", "cp", ctx.path("aws", "big.bin"), f"s3://{bucket}/big.bin")
    ok("aws s3 cp 20 MiB up (multipart, 8 MiB parts)")
    etag = head("big.bin").get("ETag", "")
    expect(etag.strip('"').endswith("-3"), "aws 20 MiB object has a 3-part multipart ETag", f"ETag {etag!r}")
    aws_run("aws s3 cp 20 MiB down", "s3", "cp", f"s3://{bucket}/big.bin", ctx.path("aws", "big.down"))
    same_bytes("aws s3 cp 20 MiB down, same bytes", big, read_file(ctx.path("aws", "big.down")))

    small = write_file(ctx.path("aws", "small.txt"), b"hello from the aws cli\n" * 10)
    aws_run("aws s3 cp with content type and metadata", "s3", "cp", ctx.path("aws", "small.txt"),
            f"s3://{bucket}/small.txt", "--content-type", "text/plain", "--metadata", "k1=v1")
    ok("aws s3 cp --content-type text/plain --metadata k1=v1")
    info = head("small.txt")
    expect(info.get("ContentType") == "text/plain", "aws s3api head-object ContentType", f"{info}")
    expect(info.get("Metadata") == {"k1": "v1"}, "aws s3api head-object Metadata", f"{info}")
    expect(info.get("ContentLength") == len(small) and info.get("ETag") == f'"{md5_hex(small)}"',
           "aws s3api head-object ContentLength and ETag (MD5)", f"{info}")

    tree = make_tree(ctx.path("aws", "tree"), 30)
    aws_run("aws s3 sync up", "s3", "sync", ctx.path("aws", "tree"), f"s3://{bucket}/tree/")
    ok(f"aws s3 sync up ({len(tree)} files)")
    listing = out(aws_run("aws s3 ls --recursive", "s3", "ls", "--recursive", f"s3://{bucket}/tree/"))
    listed = {}
    for line in listing.splitlines():
        if m := re.match(r"^\S+ \S+\s+(\d+) (.*)$", line):
            listed[m.group(2)] = int(m.group(1))
    want = {f"tree/{name}": len(data) for name, data in tree.items()}
    expect(listed == want, "aws s3 ls --recursive lists every key with its size",
           f"missing {sorted(set(want) - set(listed))[:10]}, unexpected {sorted(set(listed) - set(want))[:10]}, "
           f"sizes differ {[k for k in want if k in listed and listed[k] != want[k]][:10]}\n{clip(listing)}")
    aws_run("aws s3 sync down", "s3", "sync", f"s3://{bucket}/tree/", ctx.path("aws", "tree.down"))
    same_tree("aws s3 sync down, same tree", tree, ctx.path("aws", "tree.down"))

    aws_run("aws s3 mv", "s3", "mv", f"s3://{bucket}/small.txt", f"s3://{bucket}/moved.txt")
    ok("aws s3 mv small.txt moved.txt")
    gone = aws_run("aws s3api head-object of the moved-away key", "s3api", "head-object", "--bucket", bucket,
                   "--key", "small.txt", wanted_rc=None)
    expect(gone.returncode != 0 and "404" in err_text(gone), "aws s3api head-object of the old key: 404",
           f"exit {gone.returncode}, stderr {err_text(gone).strip()!r}")
    moved = aws_run("aws s3 cp moved.txt to stdout", "s3", "cp", f"s3://{bucket}/moved.txt", "-")
    same_bytes("aws s3 mv: the new key holds the bytes", small, moved.stdout)

    aws_run("aws s3 rm --recursive", "s3", "rm", "--recursive", f"s3://{bucket}")
    ok("aws s3 rm --recursive")
    left = out(aws_run("aws s3 ls --recursive after rm", "s3", "ls", "--recursive", f"s3://{bucket}"))
    expect(left.strip() == "", "aws s3 ls --recursive after rm is empty", clip(left))
    aws_run("aws s3 rb", "s3", "rb", f"s3://{bucket}")
    ok(f"aws s3 rb s3://{bucket}")
    buckets = out(aws_run("aws s3 ls", "s3", "ls"))
    expect(not re.search(rf"\s{bucket}$", buckets, re.M), "aws s3 ls no longer lists the bucket", clip(buckets))


# ---------------------------------------------------------------------------------------------
# 2. boto3

def check_boto3(ctx: Context) -> None:
    begin("2. boto3")
    s3 = s3_client(ctx)
    bucket = "boto3bucket"
    s3.create_bucket(Bucket=bucket)
    ok(f"boto3 create_bucket {bucket}")

    # upload_file / download_file, multipart in 5 MiB parts.
    big = write_file(ctx.path("boto3", "big.bin"), os.urandom(20 * MiB))
    transfer = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4)
    s3.upload_file(ctx.path("boto3", "big.bin"), bucket, "big.bin", Config=transfer)
    ok("boto3 upload_file 20 MiB (multipart, 5 MiB parts)")
    etag = s3.head_object(Bucket=bucket, Key="big.bin")["ETag"]
    expect(etag.strip('"').endswith("-4"), "boto3 20 MiB object has a 4-part multipart ETag", f"ETag {etag!r}")
    s3.download_file(bucket, "big.bin", ctx.path("boto3", "big.down"), Config=transfer)
    same_bytes("boto3 download_file 20 MiB, same bytes", big, read_file(ctx.path("boto3", "big.down")))
    s3.delete_object(Bucket=bucket, Key="big.bin")
    ok("boto3 delete_object big.bin")

    check_boto3_checksums(ctx, s3, bucket)

    # ETag of a single-part put is the quoted hex MD5.
    data = os.urandom(12345)
    put = s3.put_object(Bucket=bucket, Key="plain.bin", Body=data)
    head = s3.head_object(Bucket=bucket, Key="plain.bin")
    expect(put["ETag"] == head["ETag"] == f'"{md5_hex(data)}"', "boto3 single-part ETag is the quoted MD5",
           f"put {put['ETag']!r}, head {head['ETag']!r}, MD5 {md5_hex(data)}")
    expect(head["ContentLength"] == len(data), "boto3 head_object ContentLength", f"{head['ContentLength']}")

    # Presigned URLs, fetched without any other authentication: botocore's default (SigV2 query
    # auth, ?AWSAccessKeyId=&Signature=&Expires=) and SigV4 (?X-Amz-Algorithm=...&X-Amz-Expires=).
    signers = {"default (SigV2)": s3, "s3v4": s3_client(ctx, signature_version="s3v4")}
    params = {"Bucket": bucket, "Key": "plain.bin"}
    expired = {}
    for kind, signer in signers.items():
        url = signer.generate_presigned_url("get_object", Params=params, ExpiresIn=300)
        status, _, body = http_get(url)
        expect(status == 200 and body == data, f"presigned GET, {kind}, 300 s: 200 with the bytes",
               f"HTTP {status}, {len(body)} bytes: {show(body)} (URL {url})")
        # The same URL with one character of its signature changed (to another hex digit or base64 letter).
        m = re.search(r"(Signature|X-Amz-Signature)=([^&]+)", url)
        assert m, url
        value = urllib.parse.unquote(m.group(2))
        forged = value[:-2] + ("0" if value[-2] not in "0" else "1") + value[-1]
        tampered = url[:m.start(2)] + urllib.parse.quote(forged, safe="") + url[m.end(2):]
        status, _, body = http_get(tampered)
        code = xml_error_code(body)
        expect(status == 403 and code == "SignatureDoesNotMatch", f"presigned GET, {kind}, wrong signature: 403 SignatureDoesNotMatch",
               f"HTTP {status}, code {code!r}: {show(body)} (URL {tampered})")
        expired[kind] = signer.generate_presigned_url("get_object", Params=params, ExpiresIn=1)
    time.sleep(2)
    for kind, url in expired.items():
        status, _, body = http_get(url)
        code = xml_error_code(body)
        expect(status == 403 and code == "AccessDenied", f"presigned GET, {kind}, expired: 403 AccessDenied",
               f"HTTP {status}, code {code!r}: {show(body)} (URL {url})")

    # Copies: metadata copied by default, replaced with REPLACE.
    source = os.urandom(3000)
    s3.put_object(Bucket=bucket, Key="copy/source", Body=source, ContentType="text/x-source", Metadata={"orig": "1"})
    s3.copy_object(Bucket=bucket, Key="copy/target", CopySource={"Bucket": bucket, "Key": "copy/source"})
    got = s3.get_object(Bucket=bucket, Key="copy/target")
    same_bytes("boto3 copy_object, same bytes", source, got["Body"].read())
    expect(got.get("Metadata") == {"orig": "1"} and got.get("ContentType") == "text/x-source",
           "boto3 copy_object (COPY) keeps Metadata and ContentType", f"{got.get('Metadata')} {got.get('ContentType')}")
    s3.copy_object(Bucket=bucket, Key="copy/replaced", CopySource={"Bucket": bucket, "Key": "copy/source"},
                   MetadataDirective="REPLACE", Metadata={"new": "2", "other": "three"}, ContentType="text/x-new")
    head = s3.head_object(Bucket=bucket, Key="copy/replaced")
    expect(head.get("Metadata") == {"new": "2", "other": "three"} and head.get("ContentType") == "text/x-new",
           "boto3 copy_object REPLACE sets the new Metadata and ContentType",
           f"{head.get('Metadata')} {head.get('ContentType')}")
    same_bytes("boto3 copy_object REPLACE, same bytes", source, s3.get_object(Bucket=bucket, Key="copy/replaced")["Body"].read())

    # Multi-object delete.
    doomed = [f"del/{i}" for i in range(3)]
    for key in doomed:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in doomed], "Quiet": False})
    expect(sorted(d["Key"] for d in resp.get("Deleted", [])) == doomed and not resp.get("Errors"),
           "boto3 delete_objects of 3 keys: 3 Deleted, no Errors", f"{resp.get('Deleted')} {resp.get('Errors')}")
    expect(list_all_keys(s3, bucket, "del/") == [], "boto3 list_objects_v2 after delete_objects: gone")

    check_boto3_listing(s3, bucket)

    # Ranges, conditionals, missing keys.
    data = bytes(range(256)) * 4
    etag = s3.put_object(Bucket=bucket, Key="range.bin", Body=data)["ETag"]
    got = s3.get_object(Bucket=bucket, Key="range.bin", Range="bytes=0-9")
    body = got["Body"].read()
    expect(body == data[:10] and got["ResponseMetadata"]["HTTPStatusCode"] == 206
           and got.get("ContentRange") == f"bytes 0-9/{len(data)}",
           "boto3 get_object Range bytes=0-9: 206, 10 bytes, Content-Range",
           f"HTTP {got['ResponseMetadata']['HTTPStatusCode']}, {body!r}, {got.get('ContentRange')!r}")
    got = s3.get_object(Bucket=bucket, Key="range.bin", Range="bytes=1000-")
    expect(got["Body"].read() == data[1000:], "boto3 get_object Range bytes=1000- (the last 24 bytes)")
    client_error("boto3 get_object Range past the end: InvalidRange 416",
                 lambda: s3.get_object(Bucket=bucket, Key="range.bin", Range=f"bytes={len(data) + 10}-"),
                 codes=("InvalidRange",), status=416)
    client_error("boto3 get_object IfNoneMatch=ETag: 304",
                 lambda: s3.get_object(Bucket=bucket, Key="range.bin", IfNoneMatch=etag), codes=("304",), status=304)
    client_error("boto3 get_object IfMatch=other: 412 PreconditionFailed",
                 lambda: s3.get_object(Bucket=bucket, Key="range.bin", IfMatch='"0123456789abcdef0123456789abcdef"'),
                 codes=("PreconditionFailed",), status=412)
    client_error("boto3 head_object on a missing key: 404",
                 lambda: s3.head_object(Bucket=bucket, Key="no/such/key"), codes=("404",), status=404)
    client_error("boto3 get_object on a missing key: NoSuchKey",
                 lambda: s3.get_object(Bucket=bucket, Key="no/such/key"), codes=("NoSuchKey",), status=404)
    client_error("boto3 get_object in a missing bucket: NoSuchBucket",
                 lambda: s3.get_object(Bucket="no-such-bucket", Key="k"), codes=("NoSuchBucket",), status=404)

    check_boto3_multipart(s3, bucket)
    check_boto3_multipart_rules(s3, bucket)
    check_boto3_object_details(s3, bucket)

    # Bucket sub-resources clients ask for.
    location = s3.get_bucket_location(Bucket=bucket)
    expect(location.get("LocationConstraint") in (None, "", REGION), "boto3 get_bucket_location",
           f"{location.get('LocationConstraint')!r}")
    s3.get_bucket_versioning(Bucket=bucket)
    ok("boto3 get_bucket_versioning")
    acl = s3.get_bucket_acl(Bucket=bucket)
    expect("Owner" in acl, "boto3 get_bucket_acl has an Owner", f"{acl}")
    s3.head_bucket(Bucket=bucket)
    ok("boto3 head_bucket")
    names = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
    expect(bucket in names, "boto3 list_buckets lists the bucket", f"{names}")

    client_error("boto3 delete_bucket on a non-empty bucket: BucketNotEmpty",
                 lambda: s3.delete_bucket(Bucket=bucket), codes=("BucketNotEmpty",), status=409)
    # botocore itself refuses names outside [A-Za-z0-9._-] (such as 'Bad_Name!') before sending,
    # unless its check is unregistered; 'Bad_Name' passes it but is no valid S3 name either.
    unchecked = s3_client(ctx)
    unchecked.meta.events.unregister("before-parameter-build.s3", botocore.handlers.validate_bucket_name)
    for name in ("Bad_Name", "Bad_Name!"):
        client_error(f"boto3 create_bucket {name!r}: InvalidBucketName or InvalidArgument 400",
                     lambda: unchecked.create_bucket(Bucket=name), codes=("InvalidBucketName", "InvalidArgument"), status=400)

    # Negative authentication.
    wrong = s3_client(ctx, secret="x" * 40)
    client_error("boto3 with a wrong secret: SignatureDoesNotMatch 403",
                 lambda: wrong.get_object(Bucket=bucket, Key="plain.bin"), codes=("SignatureDoesNotMatch",), status=403)
    unknown = boto3.session.Session(aws_access_key_id="AKNOSUCHKEY0000000000", aws_secret_access_key="x" * 40,
                                    region_name=REGION).client(
        "s3", endpoint_url=ctx.s3_url, config=botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    client_error("boto3 with an unknown access key: InvalidAccessKeyId 403",
                 lambda: unknown.get_object(Bucket=bucket, Key="plain.bin"), codes=("InvalidAccessKeyId",), status=403)
    status, _, body = http_get(s3_object_url(ctx, bucket, "plain.bin"))
    code = xml_error_code(body)
    expect(status == 403 and code == "AccessDenied", "anonymous GET /bucket/key: 403 AccessDenied",
           f"HTTP {status}, code {code!r}: {show(body)}")


def check_boto3_checksums(ctx: Context, s3, bucket: str) -> None:
    """put_object with each checksum algorithm, then get_object with ChecksumMode=ENABLED."""
    for algorithm in ("CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"):
        key = f"checksum/{algorithm.lower()}"
        data = os.urandom(1000) + algorithm.encode()
        expected = s3_checksum(algorithm, data)
        member = f"Checksum{algorithm}"
        how = "computed by botocore"
        try:
            put = s3.put_object(Bucket=bucket, Key=key, Body=data, ChecksumAlgorithm=algorithm)
        except botocore.exceptions.MissingDependencyException:
            # botocore needs awscrt for it: send the value computed here, the server checks it just the same.
            how = "value computed here: botocore lacks awscrt"
            note(f"botocore cannot compute {algorithm} without awscrt; the script computes it and sends {member}")
            try:
                put = s3.put_object(Bucket=bucket, Key=key, Body=data, **{member: expected})
            except botocore.exceptions.ParamValidationError:
                note(f"this botocore has no {member} parameter: {algorithm} skipped")
                continue
        ok(f"boto3 put_object with {algorithm} ({how})")
        expect(put.get(member) == expected, f"boto3 put_object answers x-amz-checksum-{algorithm.lower()}",
               f"got {put.get(member)!r}, sent {expected!r}")
        got = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        body = got["Body"].read()
        same_bytes(f"boto3 get_object ChecksumMode=ENABLED {algorithm}, same bytes", data, body)
        expect(got.get(member) == expected, f"boto3 get_object returns the {algorithm} checksum sent",
               f"got {got.get(member)!r}, sent {expected!r}")
    # A wrong checksum is refused and leaves nothing behind.
    data = b"the body"
    client_error("boto3 put_object with a wrong SHA256 checksum: BadDigest (or InvalidRequest) 400",
                 lambda: s3.put_object(Bucket=bucket, Key="checksum/wrong", Body=data,
                                       ChecksumSHA256=s3_checksum("SHA256", b"other bytes")),
                 codes=("BadDigest", "InvalidRequest"), status=400)
    client_error("boto3 the refused put left no object", lambda: s3.head_object(Bucket=bucket, Key="checksum/wrong"),
                 codes=("404",), status=404)


def check_boto3_listing(s3, bucket: str) -> None:
    keys = ["list/a", "list/b/1", "list/b/2", "list/c/x/y", "list/d", "list/e f", "list/Z", "list/é",
            "list/z~", "list/b0"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    ordered = utf8_sorted(keys)

    resp = s3.list_objects_v2(Bucket=bucket, Prefix="list/", Delimiter="/")
    contents = [o["Key"] for o in resp.get("Contents", [])]
    prefixes = [p["Prefix"] for p in resp.get("CommonPrefixes", [])]
    want_contents = [k for k in ordered if "/" not in k[len("list/"):]]
    expect(contents == want_contents and prefixes == ["list/b/", "list/c/"],
           "boto3 list_objects_v2 Prefix + Delimiter: Contents and CommonPrefixes",
           f"Contents {contents} (want {want_contents}), CommonPrefixes {prefixes} (want ['list/b/', 'list/c/'])")
    expect(all(o.get("Size") == len(o["Key"].encode()) and o.get("ETag") and o.get("LastModified")
               for o in resp.get("Contents", [])), "boto3 list_objects_v2 entries have Size, ETag, LastModified")

    # Paging two at a time, without and with a delimiter: every entry exactly once, in byte order.
    for delimiter in ("", "/"):
        seen, token, pages = [], None, 0
        while True:
            kwargs = {"Bucket": bucket, "Prefix": "list/", "MaxKeys": 2}
            if delimiter:
                kwargs["Delimiter"] = delimiter
            if token:
                kwargs["ContinuationToken"] = token
            resp = s3.list_objects_v2(**kwargs)
            pages += 1
            page = [o["Key"] for o in resp.get("Contents", [])] + [p["Prefix"] for p in resp.get("CommonPrefixes", [])]
            if len(page) > 2 or resp.get("KeyCount", len(page)) != len(page):
                raise Failure(f"list_objects_v2 MaxKeys=2 page {pages} has {len(page)} entries, KeyCount {resp.get('KeyCount')}")
            seen += utf8_sorted(page)
            if not resp.get("IsTruncated"):
                break
            token = resp.get("NextContinuationToken")
            if not token or pages > 20:
                raise Failure(f"list_objects_v2 page {pages} is truncated without a NextContinuationToken: {resp}")
        want = ordered if not delimiter else want_contents + ["list/b/", "list/c/"]
        expect(seen == utf8_sorted(want) and len(seen) == len(set(seen)),
               f"boto3 list_objects_v2 MaxKeys=2{' Delimiter=/' if delimiter else ''} paging: every entry once, in byte order",
               f"got {seen}, want {utf8_sorted(want)}")

    seen, marker, pages = [], "", 0
    while True:
        resp = s3.list_objects(Bucket=bucket, Prefix="list/", MaxKeys=3, Marker=marker)
        pages += 1
        page = [o["Key"] for o in resp.get("Contents", [])]
        seen += page
        if not resp.get("IsTruncated"):
            break
        marker = resp.get("NextMarker") or (page[-1] if page else "")
        if not marker or pages > 20:
            raise Failure(f"list_objects (v1) page {pages} is truncated with nothing to continue from: {resp}")
    expect(seen == ordered, "boto3 list_objects (v1) MaxKeys=3 Marker paging: every key once, in byte order",
           f"got {seen}, want {ordered}")
    resp = s3.list_objects_v2(Bucket=bucket, Prefix="list/", StartAfter="list/b0")
    got = [o["Key"] for o in resp.get("Contents", [])]
    expect(got == [k for k in ordered if k.encode() > b"list/b0"], "boto3 list_objects_v2 StartAfter", f"{got}")


def check_boto3_multipart(s3, bucket: str) -> None:
    key = "mpu/manual.bin"
    parts_data = [os.urandom(5 * MiB), os.urandom(1 * MiB)]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/x-test")["UploadId"]
    ok("boto3 create_multipart_upload")
    etags = []
    for number, data in enumerate(parts_data, start=1):
        resp = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data)
        expect(resp["ETag"] == f'"{md5_hex(data)}"', f"boto3 upload_part {number} ({len(data) // MiB} MiB): ETag is its MD5",
               f"{resp['ETag']!r}")
        etags.append(resp["ETag"])
    parts = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id).get("Parts", [])
    expect([(p["PartNumber"], p["Size"], p["ETag"]) for p in parts] == [(1, 5 * MiB, etags[0]), (2, MiB, etags[1])],
           "boto3 list_parts lists both parts with sizes and ETags", f"{parts}")
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    expect(any(u["UploadId"] == upload_id and u["Key"] == key for u in uploads),
           "boto3 list_multipart_uploads lists the open upload", f"{uploads}")
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]})
    expect(done["ETag"].strip('"').endswith("-2"), "boto3 complete_multipart_upload: ETag ends with -2", f"{done['ETag']!r}")
    got = s3.get_object(Bucket=bucket, Key=key)
    same_bytes("boto3 get_object of the completed upload, same bytes", b"".join(parts_data), got["Body"].read())
    expect(got["ETag"] == done["ETag"] and got.get("ContentType") == "application/x-test",
           "boto3 completed object keeps the ETag and the upload's ContentType", f"{got['ETag']!r} {got.get('ContentType')!r}")

    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mpu/aborted")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="mpu/aborted", UploadId=upload_id, PartNumber=1, Body=b"x" * 1000)
    s3.abort_multipart_upload(Bucket=bucket, Key="mpu/aborted", UploadId=upload_id)
    ok("boto3 create_multipart_upload + upload_part + abort_multipart_upload")
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    expect(not any(u["UploadId"] == upload_id for u in uploads), "boto3 list_multipart_uploads no longer lists it", f"{uploads}")
    client_error("boto3 upload_part to the aborted upload: NoSuchUpload",
                 lambda: s3.upload_part(Bucket=bucket, Key="mpu/aborted", UploadId=upload_id, PartNumber=2, Body=b"y"),
                 codes=("NoSuchUpload",), status=404)
    client_error("boto3 head_object of the aborted upload's key: 404",
                 lambda: s3.head_object(Bucket=bucket, Key="mpu/aborted"), codes=("404",), status=404)


def check_boto3_multipart_rules(s3, bucket: str) -> None:
    """Part numbers with gaps, a retried Complete, UploadPartCopy with a range, and the refusals."""
    key = "mpu/gaps.bin"
    source = os.urandom(6 * MiB + 333)
    s3.put_object(Bucket=bucket, Key="mpu/copy-source", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    first = os.urandom(5 * MiB)
    last = os.urandom(4321)
    e1 = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=first)["ETag"]
    copied = s3.upload_part_copy(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=3,
                                 CopySource={"Bucket": bucket, "Key": "mpu/copy-source"},
                                 CopySourceRange=f"bytes=100-{100 + 5 * MiB - 1}")["CopyPartResult"]["ETag"]
    expect(copied == f'"{md5_hex(source[100:100 + 5 * MiB])}"', "boto3 upload_part_copy with CopySourceRange: ETag is the range's MD5",
           f"{copied!r}")
    e7 = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=7, Body=last)["ETag"]
    client_error("boto3 upload_part_copy with a range past the source's end: InvalidArgument or InvalidRange",
                 lambda: s3.upload_part_copy(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=9,
                                             CopySource={"Bucket": bucket, "Key": "mpu/copy-source"},
                                             CopySourceRange=f"bytes=0-{len(source)}"),
                 codes=("InvalidArgument", "InvalidRange"), status=None)
    parts = [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 3, "ETag": copied}, {"PartNumber": 7, "ETag": e7}]
    client_error("boto3 complete_multipart_upload with parts out of order: InvalidPartOrder 400",
                 lambda: s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                                      MultipartUpload={"Parts": [parts[1], parts[0], parts[2]]}),
                 codes=("InvalidPartOrder",), status=400)
    client_error("boto3 complete_multipart_upload with a wrong part ETag: InvalidPart 400",
                 lambda: s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={
                     "Parts": [parts[0], {"PartNumber": 3, "ETag": '"00000000000000000000000000000000"'}, parts[2]]}),
                 codes=("InvalidPart",), status=400)
    client_error("boto3 the refused Completes left no object", lambda: s3.head_object(Bucket=bucket, Key=key),
                 codes=("404",), status=404)
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    expect(done["ETag"].strip('"').endswith("-3"), "boto3 complete_multipart_upload of parts 1, 3, 7: ETag ends with -3",
           f"{done['ETag']!r}")
    again = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    expect(again["ETag"] == done["ETag"], "boto3 complete_multipart_upload retried: the same ETag again",
           f"{again['ETag']!r} vs {done['ETag']!r}")
    same_bytes("boto3 object from parts 1, 3 (copied range), 7: same bytes",
               first + source[100:100 + 5 * MiB] + last, s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    # A part under 5 MiB that is not the last one.
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mpu/small")["UploadId"]
    small = [s3.upload_part(Bucket=bucket, Key="mpu/small", UploadId=upload_id, PartNumber=n, Body=os.urandom(1000))["ETag"]
             for n in (1, 2)]
    client_error("boto3 complete_multipart_upload with a 1000-byte first part: EntityTooSmall 400",
                 lambda: s3.complete_multipart_upload(Bucket=bucket, Key="mpu/small", UploadId=upload_id, MultipartUpload={
                     "Parts": [{"PartNumber": n, "ETag": e} for n, e in zip((1, 2), small)]}),
                 codes=("EntityTooSmall",), status=400)
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    expect(any(u["UploadId"] == upload_id for u in uploads), "boto3 the refused upload stays open (listed)", f"{uploads}")
    s3.abort_multipart_upload(Bucket=bucket, Key="mpu/small", UploadId=upload_id)
    ok("boto3 abort_multipart_upload of the refused upload")


def check_boto3_object_details(s3, bucket: str) -> None:
    """Stored headers, response-* overrides, date conditionals, copy-source conditionals, the
    probes clients make (versions, object ACL, creating one's own bucket again), awkward keys."""
    data = os.urandom(2048)
    put = s3.put_object(Bucket=bucket, Key="details/obj", Body=data, ContentType="text/plain", CacheControl="max-age=60",
                        ContentDisposition='attachment; filename="a.txt"', ContentLanguage="en", Metadata={"Mixed-Case": "Value"})
    etag = put["ETag"]
    head = s3.head_object(Bucket=bucket, Key="details/obj")
    expect((head.get("ContentType"), head.get("CacheControl"), head.get("ContentDisposition"), head.get("ContentLanguage"),
            head.get("Metadata")) == ("text/plain", "max-age=60", 'attachment; filename="a.txt"', "en", {"mixed-case": "Value"}),
           "boto3 head_object returns the stored headers and lower-cased user metadata", f"{head}")
    got = s3.get_object(Bucket=bucket, Key="details/obj", ResponseContentType="application/x-override",
                        ResponseContentDisposition="inline", ResponseCacheControl="no-store", ResponseContentLanguage="de")
    expect((got.get("ContentType"), got.get("ContentDisposition"), got.get("CacheControl"), got.get("ContentLanguage"))
           == ("application/x-override", "inline", "no-store", "de") and got["Body"].read() == data,
           "boto3 get_object response-* overrides", f"{got}")
    expect(s3.head_object(Bucket=bucket, Key="details/obj").get("ContentType") == "text/plain",
           "boto3 the overrides changed nothing stored")
    modified = head["LastModified"]
    client_error("boto3 get_object IfModifiedSince after its LastModified: 304",
                 lambda: s3.get_object(Bucket=bucket, Key="details/obj", IfModifiedSince=modified + datetime.timedelta(hours=1)),
                 codes=("304",), status=304)
    client_error("boto3 get_object IfUnmodifiedSince before its LastModified: 412 PreconditionFailed",
                 lambda: s3.get_object(Bucket=bucket, Key="details/obj", IfUnmodifiedSince=modified - datetime.timedelta(hours=1)),
                 codes=("PreconditionFailed",), status=412)
    expect(s3.get_object(Bucket=bucket, Key="details/obj", IfMatch=etag)["Body"].read() == data,
           "boto3 get_object IfMatch=its ETag: the bytes")

    source = {"Bucket": bucket, "Key": "details/obj"}
    client_error("boto3 copy_object CopySourceIfMatch=other: 412 PreconditionFailed",
                 lambda: s3.copy_object(Bucket=bucket, Key="details/copy", CopySource=source,
                                        CopySourceIfMatch='"0123456789abcdef0123456789abcdef"'),
                 codes=("PreconditionFailed",), status=412)
    client_error("boto3 copy_object CopySourceIfNoneMatch=its ETag: 412 PreconditionFailed",
                 lambda: s3.copy_object(Bucket=bucket, Key="details/copy", CopySource=source, CopySourceIfNoneMatch=etag),
                 codes=("PreconditionFailed",), status=412)
    client_error("boto3 the refused copies left no object", lambda: s3.head_object(Bucket=bucket, Key="details/copy"),
                 codes=("404",), status=404)
    copy = s3.copy_object(Bucket=bucket, Key="details/copy", CopySource=source, CopySourceIfMatch=etag)
    expect(copy["CopyObjectResult"]["ETag"] == etag, "boto3 copy_object CopySourceIfMatch=its ETag: copied, same ETag",
           f"{copy['CopyObjectResult']}")

    # Keys that need escaping in XML and in URLs, listed with boto3's encoding-type=url.
    awkward = ["details/k&<>'\"", "details/100%", "details/a+b c", "details/tab\tkey", "details/ünï/cödé"]
    for key in awkward:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listed = [k for k in list_all_keys(s3, bucket, "details/") if k not in ("details/obj", "details/copy")]
    expect(listed == utf8_sorted(awkward), "boto3 list_objects_v2 (encoding-type=url) returns awkward keys exactly",
           f"{listed} vs {utf8_sorted(awkward)}")
    for key in awkward:
        same_bytes(f"boto3 get_object {key!r}", key.encode(), s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    resp = s3.list_objects_v2(Bucket=bucket, Prefix="details/ü", Delimiter="/")
    expect([p["Prefix"] for p in resp.get("CommonPrefixes", [])] == ["details/ünï/"],
           "boto3 list_objects_v2 CommonPrefixes of a non-ASCII prefix", f"{resp.get('CommonPrefixes')}")

    versions = s3.list_object_versions(Bucket=bucket, Prefix="details/obj")
    entries = [(v["Key"], v["VersionId"], v["IsLatest"]) for v in versions.get("Versions", [])]
    expect(entries == [("details/obj", "null", True)], "boto3 list_object_versions: the current object, VersionId null",
           f"{versions.get('Versions')}")
    acl = s3.get_object_acl(Bucket=bucket, Key="details/obj")
    expect(any(g.get("Permission") == "FULL_CONTROL" for g in acl.get("Grants", [])), "boto3 get_object_acl: the owner's FULL_CONTROL",
           f"{acl}")
    client_error("boto3 create_bucket of a bucket it owns: BucketAlreadyOwnedByYou 409",
                 lambda: s3.create_bucket(Bucket=bucket), codes=("BucketAlreadyOwnedByYou",), status=409)


# ---------------------------------------------------------------------------------------------
# 3. rclone

def check_rclone(ctx: Context) -> None:
    begin("3. rclone")
    config = ctx.path("rclone.conf")
    with open(config, "w", encoding="utf-8") as f:
        f.write(f"[appl]\ntype = s3\nprovider = Other\nenv_auth = false\naccess_key_id = {ctx.access_key}\n"
                f"secret_access_key = {ctx.secret_key}\nendpoint = {ctx.s3_url}\nregion = {REGION}\n")
    base = ["rclone", "--config", config, "--retries", "1", "--low-level-retries", "1", "--contimeout", "10s",
            "--timeout", "60s"]
    local, remote = ctx.path("rclone", "tree"), "appl:rclonebucket/tree"

    def rclone(label: str, *args: str) -> subprocess.CompletedProcess:
        res = run(ctx, label, base + list(args))
        ok(label)
        return res

    rclone("rclone mkdir appl:rclonebucket", "mkdir", "appl:rclonebucket")
    files = make_tree(local, 30)
    rclone(f"rclone copy ({len(files)} files)", "copy", local, remote)
    rclone("rclone check after copy", "check", local, remote)

    # Change a few files (sizes and times differ), add two, delete two.
    names = sorted(files)
    for name in names[1:3]:
        path = os.path.join(local, name)
        write_file(path, os.urandom(len(files[name]) + 100))
        os.utime(path, (time.time() + 10, time.time() + 10))
    write_file(os.path.join(local, "new dir/added one.txt"), b"added\n")
    write_file(os.path.join(local, "added two ✓.bin"), os.urandom(2048))
    for name in names[4:6]:
        os.remove(os.path.join(local, name))
    rclone("rclone sync after changing, adding and deleting files", "sync", local, remote)
    rclone("rclone check after sync", "check", local, remote)
    rclone("rclone copy back to a new dir", "copy", remote, ctx.path("rclone", "down"))
    same_tree("rclone copy back, same tree", local, ctx.path("rclone", "down"))


# ---------------------------------------------------------------------------------------------
# 4. restic

def check_restic(ctx: Context) -> None:
    begin("4. restic")
    bucket = "resticbucket"
    s3_client(ctx).create_bucket(Bucket=bucket)
    ok(f"boto3 create_bucket {bucket} (for restic)")
    env = {**ctx.env, "RESTIC_REPOSITORY": f"s3:{ctx.s3_url}/{bucket}", "RESTIC_PASSWORD": "test",
           "AWS_ACCESS_KEY_ID": ctx.access_key, "AWS_SECRET_ACCESS_KEY": ctx.secret_key,
           "RESTIC_CACHE_DIR": ctx.path("restic-cache")}
    source = os.path.abspath(ctx.path("restic", "source"))
    files = make_tree(source, 50, max_size=12 * 1024, big={"big/three-mib.bin": 3 * MiB})
    total = sum(len(d) for d in files.values())

    def restic(label: str, *args: str) -> subprocess.CompletedProcess:
        res = run(ctx, label, ["restic", "-o", "s3.retries=1", *args], env=env)
        ok(label)
        return res

    restic("restic init", "init")
    restic(f"restic backup ({len(files)} files, {total // 1024} KiB)", "backup", source)
    restic("restic check", "check")
    target = ctx.path("restic", "restored")
    restic("restic restore latest", "restore", "latest", "--target", target)
    # restic restores the full absolute path under the target.
    same_tree("restic restore, same tree", files, os.path.join(target, source.lstrip(os.sep)))


# ---------------------------------------------------------------------------------------------
# 5. s3cmd

def check_s3cmd(ctx: Context) -> None:
    begin("5. s3cmd")
    config = ctx.path("s3cmd.cfg")
    with open(config, "w", encoding="utf-8") as f:
        f.write(f"[default]\naccess_key = {ctx.access_key}\nsecret_key = {ctx.secret_key}\n"
                f"host_base = {ctx.host_port}\nhost_bucket = {ctx.host_port}\nuse_https = False\n"
                f"signature_v2 = False\nbucket_location = {REGION}\nmax_retries = 1\n")
    bucket = "s3cmdbucket"
    base = ["s3cmd", "-c", config, "--no-progress"]

    def s3cmd(label: str, *args: str) -> subprocess.CompletedProcess:
        res = run(ctx, label, base + list(args))
        ok(label)
        return res

    data = write_file(ctx.path("s3cmd", "file one.bin"), os.urandom(100_000))
    s3cmd(f"s3cmd mb s3://{bucket}", "mb", f"s3://{bucket}")
    s3cmd("s3cmd put", "put", ctx.path("s3cmd", "file one.bin"), f"s3://{bucket}/dir/file one.bin")
    s3cmd("s3cmd get", "get", "--force", f"s3://{bucket}/dir/file one.bin", ctx.path("s3cmd", "down.bin"))
    same_bytes("s3cmd get, same bytes", data, read_file(ctx.path("s3cmd", "down.bin")))
    listing = out(s3cmd("s3cmd ls", "ls", "--recursive", f"s3://{bucket}"))
    expect(f"s3://{bucket}/dir/file one.bin" in listing and str(len(data)) in listing,
           "s3cmd ls lists the object with its size", clip(listing))
    s3cmd("s3cmd del", "del", f"s3://{bucket}/dir/file one.bin")
    listing = out(s3cmd("s3cmd ls after del", "ls", "--recursive", f"s3://{bucket}"))
    expect("file one.bin" not in listing, "s3cmd ls after del: gone", clip(listing))
    s3cmd(f"s3cmd rb s3://{bucket}", "rb", f"s3://{bucket}")
    listing = out(s3cmd("s3cmd ls (buckets)", "ls"))
    expect(f"s3://{bucket}" not in listing, "s3cmd ls no longer lists the bucket", clip(listing))


# ---------------------------------------------------------------------------------------------
# 6. The native API and S3 see the same objects.

def check_native(ctx: Context) -> None:
    begin("6. native API and S3 share objects")
    server = ctx.server
    assert server
    s3 = s3_client(ctx)
    bucket = "nativebucket"
    s3.create_bucket(Bucket=bucket)
    ok(f"boto3 create_bucket {bucket}")

    data = os.urandom(50_000)
    key = "from s3/ünï.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    status, headers, body = server.request("GET", f"/v1/volumes/{bucket}/objects/{urllib.parse.quote(key, safe='')}")
    expect(status == 200, "native GET of an object put through S3: 200", f"HTTP {status}: {show(body)}")
    same_bytes("native GET of an object put through S3, same bytes", data, body)
    expect(headers.get("ETag") == f'"{md5_hex(data)}"', "native ETag of an S3 put is its MD5", f"{headers.get('ETag')!r}")

    data = os.urandom(70_000)
    key = "from native/obj.bin"
    status, _, body = server.request("PUT", f"/v1/volumes/{bucket}/objects/{urllib.parse.quote(key, safe='')}", data,
                                     headers={"Content-Type": "application/octet-stream"})
    expect(status == 201, "native PUT of a new object: 201", f"HTTP {status}: {show(body)}")
    got = s3.get_object(Bucket=bucket, Key=key)
    same_bytes("boto3 get_object of a native PUT, same bytes", data, got["Body"].read())
    expect(got["ETag"] == f'"{md5_hex(data)}"', "boto3 ETag of a native PUT is its MD5", f"{got['ETag']!r}")
    expect(got.get("ContentType") == "application/octet-stream", "boto3 ContentType of a native PUT",
           f"{got.get('ContentType')!r}")
    keys = list_all_keys(s3, bucket)
    expect(keys == utf8_sorted(["from s3/ünï.bin", key]), "boto3 list_objects_v2 lists objects from both APIs", f"{keys}")


# ---------------------------------------------------------------------------------------------

STEPS = [("aws", check_aws_cli), ("boto3", check_boto3), ("rclone", check_rclone), ("restic", check_restic),
         ("s3cmd", check_s3cmd), ("native", check_native)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=".build/debug/appliance", help="appliance binary")
    parser.add_argument("--only", help="comma-separated steps to run: " + ",".join(n for n, _ in STEPS))
    parser.add_argument("--keep-going", action="store_true", help="after a failing step, run the next ones")
    parser.add_argument("--time-limit", type=float, default=170.0, help="seconds for the whole run (default 170)")
    parser.add_argument("--server-log", action="store_true", help="echo the server's log as it runs")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--s3-url", help="test an S3 server already running here instead of starting the appliance")
    parser.add_argument("--credentials", help="with --s3-url: AWS shared-credentials file (profile appliance)")
    args = parser.parse_args()
    RUN.__init__(args.time_limit)
    steps = STEPS
    if args.only:
        wanted = {s.strip() for s in args.only.split(",") if s.strip()}
        unknown = wanted - {n for n, _ in STEPS}
        if unknown:
            parser.error(f"unknown steps {sorted(unknown)}")
        steps = [(n, f) for n, f in STEPS if n in wanted]
    if args.s3_url and not args.credentials:
        parser.error("--s3-url needs --credentials")

    tmp = tempfile.mkdtemp(prefix="appliance-s3-clients-")
    server: Server | None = None
    failures: list[str] = []
    started = time.monotonic()
    try:
        begin("0. starting the server" if not args.s3_url else f"0. using the S3 server at {args.s3_url}")
        if args.s3_url:
            ctx = Context(args.s3_url.rstrip("/"), os.path.abspath(args.credentials), os.path.join(tmp, "work"), None)
            if any(n == "native" for n, _ in steps):
                steps = [(n, f) for n, f in steps if n != "native"]
                note("step 6 (native API) needs the appliance: skipped with --s3-url")
        else:
            data_dir = os.path.join(tmp, "data")
            os.makedirs(data_dir)
            server = Server(os.path.abspath(args.bin), data_dir, args.server_log)
            server.start()
            ctx = Context(server.s3_url, server.credentials_file, os.path.join(tmp, "work"), server)
        # boto3 in this process gets the same isolation as the client commands.
        os.environ.clear()
        os.environ.update(ctx.env)
        ok("server started" if server else "S3 server configured")
        for name, check in steps:
            try:
                check(ctx)
            except (Failure, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, OSError) as err:
                if isinstance(err, Failure):
                    text = str(err)
                else:  # an unexpected error in a call that should have worked: name the call
                    here = [f for f in traceback.extract_tb(err.__traceback__) if f.filename == os.path.abspath(__file__)]
                    where = "".join(f"\n    at line {f.lineno} in {f.name}: {f.line}" for f in here[-2:])
                    text = f"unexpected {type(err).__name__}: {err}{where}"
                if server and not server.alive():
                    text += f"\n(the server exited with status {server.proc.returncode})"
                failures.append(f"[{RUN.step}] {text}")
                print(f"\nFAIL in step {RUN.step}:\n{text}", file=sys.stderr, flush=True)
                if server and server.log and not args.server_log:
                    tail = list(server.log)[-60:]
                    print("--- last server log lines\n" + "\n".join(tail), file=sys.stderr, flush=True)
                if not args.keep_going or (server and not server.alive()):
                    break
    except (Failure, OSError) as err:
        failures.append(f"[{RUN.step}] {err}")
        print(f"\nFAIL in step {RUN.step}:\n{err}", file=sys.stderr, flush=True)
        if server and server.log:
            print("--- last server log lines\n" + "\n".join(list(server.log)[-60:]), file=sys.stderr, flush=True)
    finally:
        if server:
            server.stop()
        if args.keep:
            print(f"\nkept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    return summary(failures, started, "all S3 client checks passed")


if __name__ == "__main__":
    sys.exit(main())
