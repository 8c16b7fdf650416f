"""Owns the SVG of ``objstore bench --plot FILE.svg``: throughput against chunk size, one line per
configuration (operation, storage, fast ingest) for the largest object size measured.

Written by hand as plain SVG 1.1 text (no plotting dependency): a log2 x axis of chunk sizes, a
linear y axis in MiB/s from 0, one polyline with point markers per line and a legend. Pure: it is
handed :func:`objstore.benchkit.run_bench`'s result and returns a string.
"""

from __future__ import annotations

import math
from typing import Any
from xml.sax.saxutils import escape

__all__ = ["render_svg"]

WIDTH, HEIGHT = 860, 480
LEFT, RIGHT, TOP, BOTTOM = 70, 250, 40, 60
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
KIB, MIB = 1024, 1024 * 1024


def _label(n: int) -> str:
    if n % MIB == 0:
        return f"{n // MIB}M"
    return f"{n // KIB}K" if n % KIB == 0 else f"{n}"


def _nice_max(value: float) -> float:
    """The smallest 1/2/5 x 10^k at or above ``value`` (the y axis' top)."""
    if value <= 0:
        return 1.0
    base = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * base >= value:
            return step * base
    return 10 * base


def _lines(result: dict[str, Any]) -> tuple[int, dict[str, list[tuple[int, float]]]]:
    configs = result["configurations"]
    big = max(c["size"] for c in configs)
    lines: dict[str, list[tuple[int, float]]] = {}
    for c in configs:
        if c["size"] != big:
            continue
        for op in ("put", "get"):
            key = f"{op} {c['storage']}{' fast ingest' if c['fast_ingest'] else ''}"
            lines.setdefault(key, []).append((c["chunk_size"], c[f"{op}_mib_s"]["median"]))
    for points in lines.values():
        points.sort()
    return big, lines


def render_svg(result: dict[str, Any]) -> str:
    """The plot as a complete SVG document (UTF-8 text)."""
    big, lines = _lines(result)
    xs = sorted({cs for points in lines.values() for cs, _ in points})
    top = _nice_max(max((v for points in lines.values() for _, v in points), default=1.0))
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    lo, hi = math.log2(xs[0]), math.log2(xs[-1])

    def x_of(cs: int) -> float:
        return LEFT + (pw / 2 if hi == lo else (math.log2(cs) - lo) / (hi - lo) * pw)

    def y_of(v: float) -> float:
        return TOP + ph - v / top * ph

    size_text = f"{big // MIB} MiB" if big % MIB == 0 else f"{big // KIB} KiB" if big % KIB == 0 else f"{big} B"
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="22" font-size="15">{escape(f"objstore bench: throughput vs chunk size, {size_text} objects (median of repeats)")}</text>',
        f'<line x1="{LEFT}" y1="{TOP + ph}" x2="{LEFT + pw}" y2="{TOP + ph}" stroke="black"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + ph}" stroke="black"/>',
    ]
    for i in range(6):
        v = top * i / 5
        y = y_of(v)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + pw}" y2="{y:.1f}" stroke="#dddddd"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>')
    for cs in xs:
        x = x_of(cs)
        out.append(f'<line x1="{x:.1f}" y1="{TOP + ph}" x2="{x:.1f}" y2="{TOP + ph + 5}" stroke="black"/>')
        out.append(f'<text x="{x:.1f}" y="{TOP + ph + 18}" text-anchor="middle">{escape(_label(cs))}</text>')
    out.append(f'<text x="{LEFT + pw / 2:.1f}" y="{HEIGHT - 16}" text-anchor="middle">chunk size</text>')
    out.append(f'<text x="18" y="{TOP + ph / 2:.1f}" text-anchor="middle" transform="rotate(-90 18 {TOP + ph / 2:.1f})">MiB/s</text>')
    for i, (key, points) in enumerate(sorted(lines.items())):
        color = COLORS[i % len(COLORS)]
        dash = ' stroke-dasharray="6 3"' if key.startswith("get") else ""
        coords = " ".join(f"{x_of(cs):.1f},{y_of(v):.1f}" for cs, v in points)
        out.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        for cs, v in points:
            out.append(f'<circle cx="{x_of(cs):.1f}" cy="{y_of(v):.1f}" r="3" fill="{color}"><title>{escape(f"{key}, {_label(cs)}: {v:.1f} MiB/s")}</title></circle>')
        ly = TOP + 10 + i * 20
        lx = LEFT + pw + 20
        out.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 24}" y2="{ly}" stroke="{color}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{lx + 30}" y="{ly + 4}">{escape(key)}</text>')
    recommendation = result.get("recommendation") or ""
    out.append(f'<text x="{LEFT}" y="{HEIGHT - 2}" font-size="11" fill="#444444">{escape(recommendation)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
