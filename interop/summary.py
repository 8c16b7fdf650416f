"""Print the interop matrix from the junit XML of ``make interop``: counts per peer (passed,
expected failures with their reasons, failures, skips) and what each peer did where clients
may differ (the ``peer_reader`` / ``peer_note`` / ``our_reader`` junit properties the matrix records).

    python interop/summary.py interop/build/matrix.xml
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict

PEERS = ("go", "node")


def peer_of(name: str) -> str:
    m = re.search(r"\[(go|node)\b", name)
    return m.group(1) if m else "other"


def outcome_of(case: ET.Element) -> tuple[str, str]:
    for tag in ("failure", "error"):
        el = case.find(tag)
        if el is not None:
            return "failed", (el.get("message") or "")[:200]
    el = case.find("skipped")
    if el is not None:
        kind = "xfailed" if el.get("type") == "pytest.xfail" else "skipped"
        return kind, el.get("message") or ""
    return "passed", ""


def main(path: str) -> int:
    root = ET.parse(path).getroot()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    notes: dict[str, list[str]] = defaultdict(list)
    readers: list[str] = []
    for case in root.iter("testcase"):
        name = case.get("name", "")
        peer = peer_of(name)
        outcome, message = outcome_of(case)
        counts[peer][outcome] += 1
        if outcome != "passed":
            notes[peer].append(f"  {outcome:8} {name}: {message}")
        for prop in case.iter("property"):
            value = (prop.get("value") or "").replace("\n", " ")
            if prop.get("name") in ("peer_reader", "peer_note"):
                readers.append(f"  {value}")
            elif prop.get("name") == "our_reader":
                readers.append(f"  ours, on the {peer} peer's object: {value}")
    print("interop matrix (tests/test_interop_peers*.py)")
    for peer in (*PEERS, "other"):
        if peer in counts:
            c = counts[peer]
            total = sum(c.values())
            print(f"{peer:5} {total:3} cases: {c['passed']} passed, {c['xfailed']} xfailed (unsupported or peer bug), "
                  f"{c['failed']} failed, {c['skipped']} skipped")
            print("\n".join(notes[peer]))
    if readers:
        print("what each peer did (damaged objects, deleted objects, empty lists):")
        print("\n".join(readers))
    failed = sum(c["failed"] for c in counts.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "interop/build/matrix.xml"))
