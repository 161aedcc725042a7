#!/usr/bin/env python3
"""Probe a liveness URL at a fixed interval from its own process; print one JSON summary line.

    python3 scripts/healthz_probe.py --url http://127.0.0.1:8080/healthz --interval 0.1 --duration 20

Each probe is a fresh TCP connection and one GET (as a liveness checker would do); a probe fails
on any status but 200, a connection error or --timeout. The summary on stdout:
{"probes", "failed", "p50_ms", "p99_ms", "max_ms", "errors" (the first 10)}; with --verbose each
probe's latency goes to stderr as well. Used by Tests/EndToEndTests/MixedLoadTests.swift.
"""
from __future__ import annotations

import argparse
import http.client
import json
import math
import sys
import time
import urllib.parse


def percentile(sorted_ms: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0 when empty)."""
    if not sorted_ms:
        return 0.0
    return sorted_ms[max(0, math.ceil(fraction * len(sorted_ms)) - 1)]


def probe(host: str, port: int, path: str, timeout: float) -> str | None:
    """One GET; None when it answered 200, else what went wrong."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return None if response.status == 200 else f"status {response.status}"
    except (OSError, http.client.HTTPException) as error:
        return repr(error)
    finally:
        connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between probe starts")
    parser.add_argument("--duration", type=float, required=True, help="seconds to keep probing")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds before a probe fails")
    parser.add_argument("--verbose", action="store_true", help="print every probe's latency to stderr")
    args = parser.parse_args()
    url = urllib.parse.urlsplit(args.url)
    host, port, path = url.hostname or "127.0.0.1", url.port or 80, url.path or "/"

    latencies: list[float] = []
    errors: list[str] = []
    failed = 0
    start = time.monotonic()
    next_at = start
    while next_at < start + args.duration:
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        began = time.monotonic()
        problem = probe(host, port, path, args.timeout)
        took_ms = (time.monotonic() - began) * 1000
        latencies.append(took_ms)
        if problem is not None:
            failed += 1
            if len(errors) < 10:
                errors.append(f"{began - start:.1f}s: {problem}")
        if args.verbose:
            print(f"{began - start:8.3f}s {took_ms:8.2f} ms {problem or 'ok'}", file=sys.stderr)
        # A fixed cadence, but no burst to catch up after a slow probe.
        next_at = max(next_at + args.interval, time.monotonic())

    latencies.sort()
    summary = {
        "probes": len(latencies),
        "failed": failed,
        "p50_ms": round(percentile(latencies, 0.50), 3),
        "p99_ms": round(percentile(latencies, 0.99), 3),
        "max_ms": round(latencies[-1], 3) if latencies else 0.0,
        "errors": errors,
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
