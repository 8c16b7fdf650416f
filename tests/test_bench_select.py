"""Which bench rows ``python -m bench`` runs: ``--only``, ``--skip`` / ``BENCH_SKIP``, the
``scale`` group under ``--quick`` and the opt-in 4 GiB rows (``BENCH_4GIB``). No server, no timing."""

from __future__ import annotations

import pytest

from bench import common
from bench.__main__ import load_suites, parse_args, select


async def _noop(ctx: common.Context, n: int) -> common.Sample:
    return common.Sample(1, 1.0)


def _suite(name: str, **kw: object) -> common.Suite:
    return common.Suite(name, _noop, None, "x", **kw)  # type: ignore[arg-type]


ROWS = [
    _suite("core publish 16 B"),
    _suite("scale stream put 1 GiB [file]", group="scale"),
    _suite("scale stream put 4 GiB [file]", group="scale", opt_in="BENCH_4GIB"),
    _suite("scale 100k x 1 KiB objects: list [file]", group="scale"),
]


def names(suites: list[common.Suite]) -> list[str]:
    return [s.name for s in suites]


def test_default_set_leaves_out_opt_in_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_4GIB", raising=False)
    assert names(select(ROWS, [])) == [ROWS[0].name, ROWS[1].name, ROWS[3].name]
    monkeypatch.setenv("BENCH_4GIB", "1")
    assert names(select(ROWS, [])) == names(ROWS)


def test_quick_leaves_out_the_scale_group_unless_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_4GIB", raising=False)
    assert names(select(ROWS, [], quick=True)) == [ROWS[0].name]
    assert names(select(ROWS, ["*100k*"], quick=True)) == [ROWS[3].name]


def test_only_names_an_opt_in_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_4GIB", raising=False)
    assert names(select(ROWS, ["*4 GiB*"])) == [ROWS[2].name]


def test_skip_by_group_or_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_4GIB", "1")
    assert names(select(ROWS, [], ["scale"])) == [ROWS[0].name]
    assert names(select(ROWS, ["scale*"], ["*4 GiB*"])) == [ROWS[1].name, ROWS[3].name]


def test_skip_default_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_SKIP", "scale, ranged")
    assert parse_args([]).skip == ["scale", "ranged"]
    assert parse_args(["--skip", "core"]).skip == ["core"]


def test_scale_rows_are_registered() -> None:
    rows = {s.name: s for s in load_suites()}
    scale = [s for s in rows.values() if s.group == "scale"]
    assert {s.opt_in for s in scale if "4 GiB" in s.name} == {"BENCH_4GIB"}
    assert all(not s.opt_in for s in scale if "4 GiB" not in s.name)
    assert any("R3" in s.name for s in scale) and any("100k" in s.name for s in scale)
    assert all(s.run_timeout and s.run_timeout > common.RUN_TIMEOUT_S for s in scale)
