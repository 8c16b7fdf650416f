"""``python -m protocol.conformance URL ...``: the command line of the conformance kit.

Rule: this module owns the arguments, the wiring of target -> groups -> run -> report, and the
exit code (0 when every required check passed, 1 when one failed, 2 on a usage error).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Optional, Sequence

from .model import Target
from .report import exit_code, table, to_json, to_junit
from .runner import load_groups, run_checks

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m protocol.conformance",
        description="Check a NATS server (or proxy, gateway...) against the client protocol, JetStream "
                    "and the object store (ADR-20); print pass/fail/skip and, for each failure, the frames exchanged.",
    )
    p.add_argument("url", help="server URL (nats://host:port, tls://...)")
    p.add_argument("--user", default=os.environ.get("NATS_USER"))
    p.add_argument("--password", default=os.environ.get("NATS_PASSWORD"), help="(prefer $NATS_PASSWORD)")
    p.add_argument("--token", default=os.environ.get("NATS_TOKEN"), help="(prefer $NATS_TOKEN)")
    p.add_argument("--creds", metavar="FILE", default=os.environ.get("NATS_CREDS"), help="JWT .creds file")
    p.add_argument("--nkey", metavar="SEED", default=os.environ.get("NATS_NKEY"), help="nkey seed or seed file")
    p.add_argument("--tls-ca", metavar="FILE", default=os.environ.get("NATS_CA"), help="CA certificate(s)")
    p.add_argument("--only", action="append", metavar="GROUP", help="a group (core, jetstream, objstore) or check id; repeatable")
    p.add_argument("--bucket", help="objstore: lint this existing bucket (with --read-only) instead of a scratch bucket")
    p.add_argument("--read-only", action="store_true", help="objstore: write nothing (needs --bucket)")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE", help="import more check groups from MODULE")
    p.add_argument("--list", action="store_true", help="list the checks and exit")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the report as JSON")
    out.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report to FILE")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.read_only and not args.bucket:
        print("--read-only needs --bucket NAME", file=sys.stderr)
        return 2
    groups = load_groups(args.plugin)
    only = set(args.only or ())
    known = {g.name for g in groups} | {c.id for g in groups for c in g.checks}
    if only - known:
        print(f"unknown group or check: {', '.join(sorted(only - known))} (known groups: {', '.join(g.name for g in groups)})", file=sys.stderr)
        return 2
    if args.list:
        for g in groups:
            print(f"{g.name}: {g.doc}")
            for c in g.checks:
                print(f"  {c.id:<28} {'' if c.required else '(optional) '}{c.doc}")
        return 0
    target = Target(args.url, user=args.user, password=args.password, token=args.token, creds=args.creds,
                    nkey_seed=args.nkey, tls_ca=args.tls_ca, bucket=args.bucket, read_only=args.read_only)
    results = asyncio.run(run_checks(target, groups, only or None))
    if args.json:
        sys.stdout.write(to_json(results, target))
    else:
        sys.stdout.write(table(results, target))
    if args.junit:
        with open(args.junit, "wb") as f:
            f.write(to_junit(results, target))
    return exit_code(results)
