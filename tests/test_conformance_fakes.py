"""The conformance kit against fake servers with one known deviation each (``fake_servers``):
the matching check fails and its text names the deviation, with the frames as evidence; the
same checks pass through an honest pass-through proxy, so the proxy itself deviates in nothing."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from protocol.conformance import Target, exit_code, load_groups, run_checks, table, to_json, to_junit
from protocol.conformance.model import FAIL, PASS

from fake_servers import DEVIATIONS, Deviation, DeviatingProxy

pytestmark = pytest.mark.timeout(120)

# deviation -> (checks to run, the check that must fail, words its text must contain, evidence)
CASES = {
    "no-max-payload": ({"core.info"}, "core.info", "INFO has no max_payload", "<< INFO"),
    "no-pong": ({"core.ping"}, "core.ping", "no PONG to PING", ">> PING"),
    "hmsg-header-size": ({"core.headers"}, "core.headers", "HMSG header/total size accounting is wrong", "MALFORMED"),
    "err-on-pub": ({"core.pubsub"}, "core.pubsub", "answered -ERR 'Permissions Violation for Publish", "<< -ERR"),
    "wrong-ack-stream": ({"jetstream.publish-ack"}, "jetstream.publish-ack", "ack names stream", "<< MSG"),
    "no-ok": ({"core.verbose"}, "core.verbose", "gave 0 +OK", ">> CONNECT"),
    "no-503": ({"core.no-responders"}, "core.no-responders", "expected one no-responders status message, got 0", ">> PUB"),
}


def test_every_deviation_has_a_case() -> None:
    assert set(CASES) == set(DEVIATIONS)


async def test_honest_proxy_passes(module_server) -> None:
    checks = set().union(*(c[0] for c in CASES.values()))
    async with DeviatingProxy(module_server.port, Deviation()) as proxy:
        results = await run_checks(Target(proxy.url), load_groups(), checks)
    assert [r.status for r in results] == [PASS] * len(checks), table(results, Target(proxy.url))


@pytest.mark.parametrize("name", sorted(CASES))
async def test_deviation_is_caught(module_server, name: str) -> None:
    only, failing, words, evidence = CASES[name]
    async with DeviatingProxy(module_server.port, DEVIATIONS[name]()) as proxy:
        results = await run_checks(Target(proxy.url), load_groups(), only)
    (r,) = [r for r in results if r.check.id == failing]
    assert r.status == FAIL, table(results, Target(proxy.url))
    assert words in r.detail, r.detail
    assert any(evidence in line for line in r.evidence), r.evidence
    assert exit_code(results) == 1


async def test_whole_core_group_against_a_deviating_server(module_server) -> None:
    """One deviation fails its check; checks that do not depend on it still pass."""
    async with DeviatingProxy(module_server.port, DEVIATIONS["no-max-payload"]()) as proxy:
        results = await run_checks(Target(proxy.url), load_groups(), {"core"})
    failed = [r.check.id for r in results if r.status == FAIL]
    assert failed == ["core.info"], table(results, Target(proxy.url))
    report = table(results, Target(proxy.url))
    assert "--- core.info: INFO has no max_payload" in report and "verdict: DEVIATES" in report
    (failure,) = ET.fromstring(to_junit(results, Target(proxy.url))).iter("failure")
    assert failure.get("message") == "INFO has no max_payload" and "<< INFO" in (failure.text or "")
    assert '"exit_code": 1' in to_json(results, Target(proxy.url))
