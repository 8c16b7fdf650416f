"""Reports of a conformance run: the text table (with the evidence of each failure), JSON and
JUnit XML, and the exit code.

Rule: this module owns every output format and the verdict (exit 0 when every required check
passed or was skipped, 1 otherwise); it runs nothing.
"""

from __future__ import annotations

import json
from typing import Any, Iterable
from xml.etree import ElementTree as ET

from .model import FAIL, PASS, SKIP, Result, Target

__all__ = ["exit_code", "summary", "table", "to_json", "to_junit"]

_MARK = {PASS: "pass", FAIL: "FAIL", SKIP: "skip"}


def exit_code(results: Iterable[Result]) -> int:
    return 1 if any(r.status == FAIL and r.check.required for r in results) else 0


def summary(results: list[Result]) -> dict[str, Any]:
    groups: dict[str, dict[str, int]] = {}
    for r in results:
        counts = groups.setdefault(r.check.group, {PASS: 0, FAIL: 0, SKIP: 0})
        counts[r.status] += 1
    total = {k: sum(g[k] for g in groups.values()) for k in (PASS, FAIL, SKIP)}
    return {"groups": groups, "total": total, "exit_code": exit_code(results)}


def table(results: list[Result], target: Target, server: str = "") -> str:
    """The human report: one row per check, then each failure with its frames."""
    width = max((len(r.check.id) for r in results), default=10)
    lines = [f"conformance of {target.safe_url}" + (f" ({server})" if server else ""), ""]
    lines.append(f"{'check':<{width}}  result  detail")
    for r in results:
        detail = r.detail or (r.check.doc if r.status != PASS else "")
        detail = " ".join(x for x in (detail, "" if r.check.required else "(optional)") if x)
        lines.append(f"{r.check.id:<{width}}  {_MARK[r.status]:<6}  {detail}".rstrip())
    failures = [r for r in results if r.status == FAIL]
    for r in failures:
        lines += ["", f"--- {r.check.id}: {r.detail}", f"    checks: {r.check.doc}", "    frames exchanged:"]
        lines += [f"    {e}" for e in r.evidence] or ["    (none)"]
    s = summary(results)
    counts = ", ".join(f"{name} {c[PASS]}/{c[PASS] + c[FAIL] + c[SKIP]}" for name, c in s["groups"].items())
    t = s["total"]
    lines += ["", f"{t[PASS]} passed, {t[FAIL]} failed, {t[SKIP]} skipped ({counts} passed)",
              "verdict: " + ("CONFORMS" if s["exit_code"] == 0 else "DEVIATES")]
    return "\n".join(lines) + "\n"


def to_json(results: list[Result], target: Target, server: str = "") -> str:
    doc = {"target": target.safe_url, "server": server, **summary(results), "results": [r.to_json() for r in results]}
    return json.dumps(doc, indent=2) + "\n"


def to_junit(results: list[Result], target: Target) -> bytes:
    """JUnit XML: one testsuite per group; a failure's text is its evidence."""
    root = ET.Element("testsuites", name=f"nats conformance {target.safe_url}")
    by_group: dict[str, list[Result]] = {}
    for r in results:
        by_group.setdefault(r.check.group, []).append(r)
    for group, rs in by_group.items():
        suite = ET.SubElement(root, "testsuite", name=group, tests=str(len(rs)),
                              failures=str(sum(r.status == FAIL for r in rs)),
                              skipped=str(sum(r.status == SKIP for r in rs)),
                              time=f"{sum(r.seconds for r in rs):.3f}")
        for r in rs:
            case = ET.SubElement(suite, "testcase", classname=f"conformance.{group}", name=r.check.name, time=f"{r.seconds:.3f}")
            if r.status == FAIL:
                node = ET.SubElement(case, "failure", message=r.detail)
                node.text = "\n".join(r.evidence)
            elif r.status == SKIP:
                ET.SubElement(case, "skipped", message=r.detail)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
