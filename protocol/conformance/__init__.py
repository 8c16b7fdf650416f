"""``protocol.conformance``: a protocol conformance kit runnable against any NATS server.

``python -m protocol.conformance URL [--user/--password/--creds/--tls-ca] [--only GROUP]
[--json | --junit FILE]`` runs grouped checks (``core`` here; ``jetstream`` and ``objstore``
found by name in those packages, see :mod:`.runner`) and prints pass/fail/skip with the frames
exchanged as the evidence of each failure. The parts: :mod:`.model` (checks, target, context,
results), :mod:`.probe` (a raw traced socket), :mod:`.checks_core`, :mod:`.runner`,
:mod:`.report` and :mod:`.cli`.
"""

from .model import Check, CheckFailed, CheckSkipped, Context, Group, Result, Target
from .report import exit_code, table, to_json, to_junit
from .runner import load_groups, run_checks

__all__ = [
    "Check", "CheckFailed", "CheckSkipped", "Context", "Group", "Result", "Target",
    "exit_code", "load_groups", "run_checks", "table", "to_json", "to_junit",
]
