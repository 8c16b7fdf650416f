"""Running the checks: group discovery, one context per check, results with their evidence.

Rule: this module owns the run (order, per-check timeout, cleanup, evidence) and where groups
come from. The ``core`` group lives in this package. The ``jetstream`` and ``objstore`` groups
need those packages, which ``protocol`` must never import (README "Architecture"; the layering
test): they live in ``jetstream/conformance.py`` and ``objstore/conformance.py`` and are found
like plugins, by module name at run time (``GROUP_MODULES``; more with ``--plugin``). Nothing in
``protocol`` depends on them: without those packages the run simply has fewer groups.

The evidence of a check is the trace of every frame exchanged while it ran (its own probes and
connections), at most ``EVIDENCE_LINES`` lines, kept for failures.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from typing import Callable, Iterable, Optional

from ..errors import NatsError
from ..trace import TraceRecorder
from .model import FAIL, PASS, SKIP, CheckFailed, CheckSkipped, Context, Group, Result, Target

__all__ = ["GROUP_MODULES", "load_groups", "run_checks", "EVIDENCE_LINES"]

# Plugin modules, each exposing GROUPS (a list of model.Group). Names, not imports: see above.
GROUP_MODULES = ("protocol.conformance.checks_core", "jetstream.conformance", "objstore.conformance")
EVIDENCE_LINES = 60


def load_groups(extra: Iterable[str] = ()) -> list[Group]:
    """The groups of every plugin module that can be imported, in order."""
    groups: list[Group] = []
    for name in (*GROUP_MODULES, *extra):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name and name.startswith(err.name):
                continue  # the package is not installed: fewer groups, not an error
            raise
        groups.extend(module.GROUPS)
    return groups


def _evidence(recorder: TraceRecorder, mark: int) -> list[str]:
    lines = recorder.lines(recorder.since(mark))
    if len(lines) > EVIDENCE_LINES:
        cut = len(lines) - EVIDENCE_LINES
        lines = [f"... {cut} earlier frames left out"] + lines[-EVIDENCE_LINES:]
    return lines


async def run_checks(
    target: Target,
    groups: list[Group],
    only: Optional[set[str]] = None,
    on_result: Optional[Callable[[Result], None]] = None,
) -> list[Result]:
    """Run every check of the selected groups (``only``: group names or check ids)."""
    recorder = TraceRecorder(maxlen=20_000)
    results: list[Result] = []
    for group in groups:
        checks = [c for c in group.checks if not only or group.name in only or c.id in only]
        if not checks:
            continue
        ctx = Context(target, recorder)
        reason: Optional[str] = None
        if group.precondition is not None:
            try:
                reason = await asyncio.wait_for(group.precondition(ctx), 15.0)
            except (NatsError, OSError, asyncio.TimeoutError) as err:
                reason = f"precondition failed: {type(err).__name__}: {err}"
            finally:
                await ctx.cleanup()
        for check in checks:
            if reason is not None:
                result = Result(check, SKIP, reason)
            else:
                result = await _run_one(check, Context(target, recorder), recorder)
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results


async def _run_one(check, ctx: Context, recorder: TraceRecorder) -> Result:  # type: ignore[no-untyped-def]
    mark = recorder.mark()
    t0 = time.monotonic()
    status, detail = PASS, ""
    try:
        note = await asyncio.wait_for(check.fn(ctx), check.timeout)
        detail = note or ""
    except CheckSkipped as err:
        status, detail = SKIP, str(err)
    except CheckFailed as err:
        status, detail = FAIL, str(err)
    except asyncio.TimeoutError:
        status, detail = FAIL, f"timed out after {check.timeout:g}s"
    except (NatsError, OSError) as err:
        status, detail = FAIL, f"{type(err).__name__}: {err}"
    except (ValueError, KeyError, TypeError, IndexError) as err:
        # A reply the check could not read (malformed JSON, a missing field): a finding too.
        status, detail = FAIL, f"unreadable reply: {type(err).__name__}: {err}"
    finally:
        try:
            await asyncio.wait_for(ctx.cleanup(), 10.0)
        except asyncio.TimeoutError:
            pass
    evidence = _evidence(recorder, mark) if status == FAIL else []
    if status == FAIL and detail.startswith(("ConnectionResetError", "BrokenPipeError", "ConnectionClosed")):
        # The server may close right after its -ERR: the -ERR is the finding, not the reset.
        errs = [line.split("<< ", 1)[1] for line in evidence if isinstance(line, str) and "<< -ERR" in line]
        if errs:
            detail = f"server answered {errs[-1]} and closed the connection ({detail})"
    return Result(check, status, detail, evidence, time.monotonic() - t0)
