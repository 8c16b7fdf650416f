"""The conformance kit (``python -m protocol.conformance``) against real servers: every group
passes on the single node and on the 3-node cluster; the CLI's JSON/JUnit output and exit codes;
the read-only lint of a bucket another client (nats-py) wrote, and of one we damaged."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from xml.etree import ElementTree as ET

import pytest

import objstore
from protocol.conformance import Target, exit_code, load_groups, run_checks, table
from protocol.conformance.model import FAIL, PASS, SKIP

from cli_util import ROOT, cli_env

pytestmark = pytest.mark.timeout(240)

PER_GROUP = {"core": 13, "jetstream": 7, "objstore": 7}


def _by_status(results) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {PASS: [], FAIL: [], SKIP: []}
    for r in results:
        out[r.status].append(r.check.id)
    return out


def _assert_all_pass(results) -> None:
    st = _by_status(results)
    assert not st[FAIL] and not st[SKIP], table(results, Target("nats://x"))
    counts = {g: sum(1 for r in results if r.check.group == g) for g in PER_GROUP}
    assert counts == PER_GROUP
    assert exit_code(results) == 0


def test_groups_are_discovered_by_name() -> None:
    groups = load_groups()
    assert [g.name for g in groups] == list(PER_GROUP)
    assert {g.name: len(g.checks) for g in groups} == PER_GROUP


async def test_single_node_every_group_passes(nats_server) -> None:
    _assert_all_pass(await run_checks(Target(nats_server.url), load_groups()))


async def test_cluster_every_group_passes(nats_cluster) -> None:
    _assert_all_pass(await run_checks(Target(nats_cluster.url), load_groups()))


async def test_auth_server_core_passes_and_leaks_nothing(server_factory) -> None:
    secret = "pw-Conf0rm#secret"
    srv = server_factory(f'authorization {{ users: [ {{ user: alice, password: "{secret}" }} ] }}', jetstream=False)
    results = await run_checks(Target(srv.url, user="alice", password=secret), load_groups(), {"core", "jetstream"})
    st = _by_status(results)
    assert len(st[PASS]) == PER_GROUP["core"] and not st[FAIL]
    assert len(st[SKIP]) == PER_GROUP["jetstream"]  # JetStream off: the group is skipped, with the reason
    assert all("JetStream is not enabled" in r.detail for r in results if r.status == SKIP)
    wrong = await run_checks(Target(srv.url, user="alice", password="nope"), load_groups(), {"core.ping"})
    assert wrong[0].status == FAIL and "Authorization Violation" in wrong[0].detail
    text = table(wrong, Target(srv.url)) + json.dumps([r.to_json() for r in wrong])
    assert '"user":"alice"' in text and "nope" not in text and secret not in text


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "protocol.conformance", *args], capture_output=True,
                          timeout=180, cwd=ROOT, env=cli_env())


def test_cli_json_junit_and_exit_codes(nats_server, tmp_path) -> None:
    junit = tmp_path / "report.xml"
    res = _run_cli(nats_server.url, "--only", "core", "--only", "jetstream.api-level", "--junit", str(junit))
    assert res.returncode == 0, res.stdout.decode() + res.stderr.decode()
    out = res.stdout.decode()
    assert "core.pubsub" in out and "verdict: CONFORMS" in out
    suites = ET.parse(junit).getroot()
    assert {s.get("name"): s.get("tests") for s in suites} == {"core": "13", "jetstream": "1"}
    res = _run_cli(nats_server.url, "--only", "core.info", "--json")
    doc = json.loads(res.stdout)
    assert res.returncode == 0 and doc["exit_code"] == 0 and doc["results"][0]["id"] == "core.info"
    assert _run_cli(nats_server.url, "--only", "nope").returncode == 2
    assert _run_cli(nats_server.url, "--read-only").returncode == 2
    listed = _run_cli("nats://127.0.0.1:1", "--list")
    assert listed.returncode == 0 and listed.stdout.decode().count("objstore.") == PER_GROUP["objstore"]
    down = _run_cli("nats://127.0.0.1:1", "--only", "core.info")
    assert down.returncode == 1 and "FAIL" in down.stdout.decode()


async def test_read_only_lint_of_a_bucket_nats_py_wrote(nats_server) -> None:
    nats = pytest.importorskip("nats")
    peer = await nats.connect(nats_server.url)
    try:
        store = await peer.jetstream().create_object_store("written_by_nats_py")
        await store.put("docs/a.txt", b"a" * 300_000)
        await store.put("b", b"")
    finally:
        await peer.close()
    target = Target(nats_server.url, bucket="written_by_nats_py", read_only=True)
    results = await run_checks(target, load_groups(), {"objstore"})
    st = _by_status(results)
    assert st[PASS] == ["objstore.lint"] and not st[FAIL], table(results, target)
    assert len(st[SKIP]) == PER_GROUP["objstore"] - 1

    # Damage it: a meta on the wrong subject with a bad digest. The lint names both.
    nc = await objstore.connect(nats_server.url)
    try:
        meta = {"name": "c", "bucket": "written_by_nats_py", "nuid": "X", "size": 1, "chunks": 0, "digest": "SHA-256=nope"}
        wrong = "$O.written_by_nats_py.M." + base64.urlsafe_b64encode(b"other").decode()
        await nc.jetstream().publish(wrong, json.dumps(meta).encode())
    finally:
        await nc.close()
    (lint,) = [r for r in await run_checks(target, load_groups(), {"objstore.lint"})]
    assert lint.status == FAIL
    assert "belongs on" in lint.detail and "digest" in lint.detail
    assert any("HPUB" in line or "MSG" in line for line in lint.evidence)


async def test_tls_server_core_passes(server_factory, tmp_path) -> None:
    from certs import make_pki

    pki = make_pki(tmp_path)
    srv = server_factory(pki.server_tls_block(), jetstream=False)
    target = Target(f"tls://127.0.0.1:{srv.port}", tls_ca=str(pki.ca_cert))
    results = await run_checks(target, load_groups(), {"core"})
    assert [r.status for r in results] == [PASS] * PER_GROUP["core"], table(results, target)
