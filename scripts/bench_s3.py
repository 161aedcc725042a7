#!/usr/bin/env python3
"""S3 beside the native API, on the same server in one run, medians over rounds (make bench).

  1 GiB PUT   aws s3 cp (multipart, default settings)        vs curl -T to the native API
  1 GiB GET   aws s3 cp to a file                           vs curl -o to a file
  4 KiB PUT   wrk replaying pre-signed SigV4 PUTs (payload   vs wrk PUT to the native API
              hash signed: the server checks it, the MD5 ETag and the HMAC)
  4 KiB PUT   the same with x-amz-checksum-crc32c (signed)   vs the same native row
  4 KiB GET   wrk replaying pre-signed SigV4 GETs            vs wrk GET on the native API (cache hits)
  4 KiB PUT   S3 PUTs into a bucket with versioning enabled  vs the same into a bucket without
  1 GiB copy  CopyObject within the bucket (shares extents)   vs CopyObject to another bucket (bytes written),
              of the 1 GiB object PUT whole

The wrk rows cost the client nothing per request for signing (signed beforehand), so their ratio is
what the server's signature, digest and XML work costs. Reports, never asserts.
Knobs (env): BIN, ROUNDS (3), BIG_MIB (1024), WRK_DUR (5s), WRK_THREADS (2), WRK_CONNS (32).
"""
from __future__ import annotations

import base64
import configparser
import datetime
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BIN", os.path.join(ROOT, ".build/release/appliance"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
BIG_MIB = int(os.environ.get("BIG_MIB", "1024"))
WRK_DUR = os.environ.get("WRK_DUR", "5s")
WRK_THREADS = int(os.environ.get("WRK_THREADS", "2"))
WRK_CONNS = int(os.environ.get("WRK_CONNS", "32"))
SIZE = 4096
SHARED = os.path.join(ROOT, "..", "shared", "bench")


def log(text: str) -> None:
    print(f"[bench-s3 {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def sign(method: str, path: str, host: str, key: str, secret: str, payload_sha: str, amz_date: str,
         extra: tuple[str, str] | None = None) -> str:
    """SigV4 of a request with host, x-amz-content-sha256, x-amz-date and `extra` (an x-amz-* header
    sorting after them, such as x-amz-checksum-crc32c) signed."""
    day = amz_date[:8]
    scope = f"{day}/us-east-1/s3/aws4_request"
    headers = f"host:{host}\nx-amz-content-sha256:{payload_sha}\nx-amz-date:{amz_date}\n"
    signed = "host;x-amz-content-sha256;x-amz-date"
    if extra:
        headers += f"{extra[0]}:{extra[1]}\n"
        signed += f";{extra[0]}"
    canonical = "\n".join([method, path, "", headers, signed, payload_sha])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (day, "us-east-1", "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    return f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={signed}, Signature={signature}"


def crc32c_base64(data: bytes) -> str:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    crc = 0xFFFFFFFF
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return base64.b64encode((crc ^ 0xFFFFFFFF).to_bytes(4, "big")).decode()


REQUESTS: dict[str, list[int]] = {}


def wrk(name: str, url: str, tmp: str, *args: str) -> float | None:
    split = args.index("--")
    out = subprocess.run(["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNS}", f"-d{WRK_DUR}", *args[:split], url, *args[split:]],
                         capture_output=True, text=True, timeout=600)
    with open(os.path.join(tmp, f"wrk-{name}.txt"), "w") as f:
        f.write(out.stdout + out.stderr)
    m = re.search(r"^WRKJSON (.*)$", out.stdout, re.M)
    if not m:
        log(f"{name}: no result: {out.stderr[-300:]}")
        return None
    d = json.loads(m.group(1))
    if d["errors"] or d["status_errors"]:
        log(f"{name}: {d['errors']} errors, {d['status_errors']} non-2xx")
        return None
    REQUESTS.setdefault(re.sub(r"-\d+$", "", name), []).append(d["requests"])
    return d["rps"]


SERVER_PID = 0


def server_cpu() -> float:
    """The appliance's user + system CPU seconds so far."""
    fields = open(f"/proc/{SERVER_PID}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


CPU: dict[str, list[float]] = {}


def cpu_of(name: str, run):
    """Runs `run`, noting the server CPU seconds it took under `name`."""
    before = server_cpu()
    result = run()
    CPU.setdefault(name, []).append(server_cpu() - before)
    return result


def timed(argv: list[str], env: dict[str, str]) -> float | None:
    start = time.monotonic()
    res = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1200)
    if res.returncode != 0:
        log(f"{' '.join(argv[:4])}: exit {res.returncode}: {res.stderr[-300:]}")
        return None
    return time.monotonic() - start


def main() -> int:
    for tool in ("wrk", "curl", "aws"):
        if not shutil.which(tool):
            print(f"bench_s3: {tool} is missing", file=sys.stderr)
            return 2
    tmp = tempfile.mkdtemp(prefix="appliance-bench-s3.")
    data = os.path.join(tmp, "data")
    logf = open(os.path.join(tmp, "app.log"), "w+")
    proc = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--s3-listen", "127.0.0.1:0", "--data-dir", data],
                            stdout=subprocess.DEVNULL, stderr=logf, start_new_session=True)
    global SERVER_PID
    SERVER_PID = proc.pid
    try:
        admin = s3 = None
        for _ in range(600):
            logf.seek(0)
            text = logf.read()
            s3m = re.search(r"S3 endpoint listening on (http://127\.0\.0\.1:\d+)", text)
            adm = re.search(r"\] listening on (http://127\.0\.0\.1:\d+)", text)
            if s3m and adm:
                admin, s3 = adm.group(1), s3m.group(1)
                break
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        if not s3:
            log("the appliance did not start")
            return 1
        token = open(os.path.join(data, "token")).read().strip()
        creds = configparser.ConfigParser()
        creds.read(os.path.join(data, "s3-credentials"))
        key, secret = creds["appliance"]["aws_access_key_id"], creds["appliance"]["aws_secret_access_key"]
        auth = f"Authorization: Bearer {token}"
        req = urllib.request.Request(f"{admin}/v1/volumes", method="POST", headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                                     data=json.dumps({"name": "bench", "capacity_bytes": 64 << 30, "replicas": 1, "provisioning": "thin"}).encode())
        urllib.request.urlopen(req).read()
        req = urllib.request.Request(f"{admin}/v1/volumes", method="POST", headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                                     data=json.dumps({"name": "benchv", "capacity_bytes": 64 << 30, "replicas": 1, "provisioning": "thin"}).encode())
        urllib.request.urlopen(req).read()
        req = urllib.request.Request(f"{admin}/v1/volumes/benchv", method="PATCH", headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                                     data=json.dumps({"versioning": "enabled"}).encode())
        try:
            urllib.request.urlopen(req).read()
        except urllib.error.HTTPError as err:  # a build from before versions: the row compares two plain buckets
            log(f"versioning not enabled on benchv: {err.code}")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_SHARED_CREDENTIALS_FILE=os.path.join(data, "s3-credentials"), AWS_PROFILE="appliance",
                   AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE="/dev/null")
        aws = ["aws", "--endpoint-url", s3, "--only-show-errors"]
        big = os.path.join(tmp, "big.bin")
        with open(big, "wb") as f:
            block = os.urandom(1 << 20)
            for i in range(BIG_MIB):
                f.write(block[i % 7:] + block[:i % 7])
        out = os.path.join(tmp, "out.bin")
        host = s3.split("//")[1]
        body_sha = hashlib.sha256(b"p" * SIZE).hexdigest()
        body_crc = crc32c_base64(b"p" * SIZE)
        rows: dict[str, list[tuple[float | None, float | None]]] = {k: [] for k in ("put_big", "get_big", "put_small", "put_small_crc", "get_small", "put_small_versioned", "copy_big")}
        for r in range(ROUNDS):
            log(f"round {r + 1}/{ROUNDS}")
            # 1 GiB: MB/s = size / seconds.
            ours = cpu_of("s3_put_big", lambda: timed(aws + ["s3", "cp", big, f"s3://bench/big-{r}"], env))
            native = cpu_of("native_put_big", lambda: timed(["curl", "-sS", "-f", "-o", "/dev/null", "-T", big, "-H", auth, "-H", "Content-Type: application/octet-stream",
                            f"{admin}/v1/volumes/bench/objects/native-big-{r}"], env))
            rows["put_big"].append((ours and BIG_MIB / ours, native and BIG_MIB / native))
            ours = cpu_of("s3_get_big", lambda: timed(aws + ["s3", "cp", f"s3://bench/big-{r}", out], env))
            os.unlink(out) if os.path.exists(out) else None
            native = cpu_of("native_get_big", lambda: timed(["curl", "-sS", "-f", "-o", out, "-H", auth, f"{admin}/v1/volumes/bench/objects/native-big-{r}"], env))
            os.unlink(out) if os.path.exists(out) else None
            rows["get_big"].append((ours and BIG_MIB / ours, native and BIG_MIB / native))
            # One CopyObject (not aws s3 cp, which copies a large object in parts) of the 1 GiB
            # object PUT in one piece (a multipart source's copy reads its bytes for its MD5).
            api = ["aws", "--endpoint-url", s3, "s3api", "copy-object", "--copy-source", f"bench/native-big-{r}", "--key", f"copy-{r}"]
            within = cpu_of("s3_copy_within", lambda: timed(api + ["--bucket", "bench"], env))
            across = cpu_of("s3_copy_across", lambda: timed(api + ["--bucket", "benchv"], env))
            rows["copy_big"].append((within and BIG_MIB / within, across and BIG_MIB / across))
            # 4 KiB: pre-signed requests (all within the 15-minute skew of their date).
            amz_date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            puts = os.path.join(tmp, f"puts-{r}.txt")
            gets = os.path.join(tmp, f"gets-{r}.txt")
            checked = os.path.join(tmp, f"puts-crc-{r}.txt")
            versioned = os.path.join(tmp, f"puts-versioned-{r}.txt")
            with open(puts, "w") as p, open(gets, "w") as g, open(checked, "w") as c, open(versioned, "w") as v:
                for i in range(60000):
                    path = f"/benchv/s-{r}-{i}"
                    v.write(f"{path}\t{sign('PUT', path, host, key, secret, body_sha, amz_date)}\t{amz_date}\t{body_sha}\n")
                    path = f"/bench/s-{r}-{i}"
                    p.write(f"{path}\t{sign('PUT', path, host, key, secret, body_sha, amz_date)}\t{amz_date}\t{body_sha}\n")
                    path = f"/bench/c-{r}-{i}"
                    extra = ("x-amz-checksum-crc32c", body_crc)
                    c.write(f"{path}\t{sign('PUT', path, host, key, secret, body_sha, amz_date, extra)}\t{amz_date}\t{body_sha}\t{extra[0]}:{extra[1]}\n")
                    g.write(f"{path}\t{sign('GET', path, host, key, secret, hashlib.sha256(b'').hexdigest(), amz_date)}\t{amz_date}\t{hashlib.sha256(b'').hexdigest()}\n")
            ours = cpu_of("s3_put_small", lambda: wrk(f"s3-put-{r}", s3, tmp, "-s", os.path.join(ROOT, "scripts/wrk_signed.lua"), "--", puts, "PUT", str(SIZE)))
            native = cpu_of("native_put_small", lambda: wrk(f"native-put-{r}", admin, tmp, "-H", auth, "-s", os.path.join(SHARED, "wrk_put.lua"), "--",
                         f"/v1/volumes/bench/objects/n-{r}-@N@", str(SIZE), "0"))
            rows["put_small"].append((ours, native))
            # The same S3 PUTs into a bucket that keeps versions (each one durable through the direct writer).
            kept = cpu_of("s3_put_small_versioned", lambda: wrk(f"s3-put-versioned-{r}", s3, tmp, "-s", os.path.join(ROOT, "scripts/wrk_signed.lua"), "--",
                          versioned, "PUT", str(SIZE)))
            rows["put_small_versioned"].append((kept, ours))
            # The same with a CRC32C of each body sent, checked before commit and stored.
            ours = cpu_of("s3_put_small_crc", lambda: wrk(f"s3-put-crc-{r}", s3, tmp, "-s", os.path.join(ROOT, "scripts/wrk_signed.lua"), "--", checked, "PUT", str(SIZE)))
            rows["put_small_crc"].append((ours, native))
            # GETs of what was just written (both in the page cache); keys that surely exist (wrk
            # never sends thread 0's first request).
            some = gets + ".some"
            with open(gets) as g, open(some, "w") as f:
                f.writelines(line for i, line in enumerate(g) if 10 <= i < 2010)
            ours = cpu_of("s3_get_small", lambda: wrk(f"s3-get-{r}", s3, tmp, "-s", os.path.join(ROOT, "scripts/wrk_signed.lua"), "--", some, "GET", "0"))
            native = cpu_of("native_get_small", lambda: wrk(f"native-get-{r}", admin, tmp, "-H", auth, "-s", os.path.join(ROOT, "scripts/wrk_get_keys.lua"), "--",
                         f"/v1/volumes/bench/objects/n-{r}-@N@", str(WRK_THREADS), "500"))
            rows["get_small"].append((ours, native))
        print()
        print("Server CPU seconds per row (median of rounds; the 4 KiB rows run for the same time, so per request divide by the rate x duration):")
        for name in sorted(CPU):
            print(f"  {name}: {statistics.median(CPU[name]):.2f} s")
        print()
        print("Server CPU per request in the 4 KiB rows (median of rounds):")
        per: dict[str, float] = {}
        for name, cpu in (("s3-put", "s3_put_small"), ("s3-put-crc", "s3_put_small_crc"), ("native-put", "native_put_small"),
                          ("s3-put-versioned", "s3_put_small_versioned"),
                          ("s3-get", "s3_get_small"), ("native-get", "native_get_small")):
            counts = REQUESTS.get(name, [])
            if len(counts) == len(CPU.get(cpu, [])) and counts:
                per[name] = statistics.median(c / n * 1e6 for c, n in zip(CPU[cpu], counts) if n)
                print(f"  {name}: {per[name]:.1f} us")
        if "s3-put" in per and "native-put" in per:
            print(f"  S3 PUT over native: +{per['s3-put'] - per['native-put']:.1f} us (SigV4 check, SHA-256 of the body, MD5 ETag, S3 headers)")
        if "s3-put-crc" in per and "s3-put" in per:
            print(f"  x-amz-checksum-crc32c on top: {per['s3-put-crc'] - per['s3-put']:+.1f} us")
        if "s3-get" in per and "native-get" in per:
            print(f"  S3 GET over native: +{per['s3-get'] - per['native-get']:.1f} us (SigV4 check, S3 headers)")
        print()
        print("| row | S3 | native | ratio (median of rounds) |")
        print("|---|---|---|---|")
        names = {"put_big": ("PUT 1 GiB, aws s3 cp vs curl", "MiB/s"), "get_big": ("GET 1 GiB, aws s3 cp vs curl", "MiB/s"),
                 "put_small": ("PUT 4 KiB, wrk signed vs wrk", "req/s"),
                 "put_small_crc": ("PUT 4 KiB + x-amz-checksum-crc32c, wrk signed vs wrk", "req/s"),
                 "get_small": ("GET 4 KiB cached, wrk signed vs wrk", "req/s"),
                 "put_small_versioned": ("PUT 4 KiB S3, versioning enabled vs off", "req/s"),
                 "copy_big": ("CopyObject 1 GiB, within the bucket vs to another", "MiB/s")}
        for row, (label, unit) in names.items():
            pairs = [(a, b) for a, b in rows[row] if a and b]
            if not pairs:
                print(f"| {label} | - | - | - |")
                continue
            ratio = statistics.median(a / b for a, b in pairs)
            target = "" if row in ("put_small_versioned", "copy_big") else f" {'PASS' if ratio >= 0.9 else 'MISS'} (target >= 0.9x)"
            print(f"| {label} | {statistics.median(a for a, _ in pairs):.0f} {unit} | {statistics.median(b for _, b in pairs):.0f} {unit} | "
                  f"{ratio:.2f}x{target} |")
            print(f"|   rounds | | | {' '.join(f'{a / b:.2f}' for a, b in pairs)} |")
        return 0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
