"""Owns the CLI's terminal progress bar and the human forms of sizes, rates and durations.

No third-party dependency; it never talks to a server and the library never imports it.

``ProgressBar(total, stream=sys.stderr)`` is fed absolute byte counts with ``update(done)``
(the signature of the library's ``progress=`` callbacks, so it can be passed directly) and
redraws one line with ``\\r`` at most ``1 / min_interval`` times a second: bytes done / total,
percentage, a bar, the average rate and the ETA. It draws nothing unless ``stream`` is a
terminal, and nothing for transfers of at most ``threshold`` bytes (1 MiB): when the total is
unknown (a pipe) the bar appears once that many bytes have gone through. ``close()`` draws the
final state and ends the line (only if something was drawn); a bar closed while an exception
propagates (the ``finally`` of a failed or interrupted transfer) ends with ``interrupted`` or
``failed`` instead of the elapsed time, never as if the transfer had completed.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from typing import Any, Callable, Optional, TextIO

__all__ = ["ProgressBar", "format_size", "format_rate", "format_duration"]

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_size(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``; bytes below 1 KiB are shown exactly (``'512 B'``)."""
    n = float(n)
    if abs(n) < 1024:
        return f"{int(n)} B"
    for unit in _UNITS[1:]:
        n /= 1024.0
        if abs(n) < 1024 or unit == _UNITS[-1]:
            return f"{n:.1f} {unit}"
    return f"{n:.1f} {_UNITS[-1]}"  # pragma: no cover


def format_rate(bytes_per_second: float) -> str:
    return f"{format_size(bytes_per_second)}/s"


def format_duration(seconds: float) -> str:
    """``75`` -> ``'1:15'``, ``3700`` -> ``'1:01:40'``."""
    s = max(0, int(round(seconds)))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _is_tty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


def _outcome(exc: Optional[BaseException]) -> Optional[str]:
    if exc is None:
        return None
    if isinstance(exc, (KeyboardInterrupt, asyncio.CancelledError)):
        return "interrupted"
    return "failed"


class ProgressBar:
    """One redrawn status line for a transfer of ``total`` bytes (``None``: unknown)."""

    BAR_WIDTH = 24

    def __init__(
        self,
        total: Optional[int],
        stream: Optional[TextIO] = None,
        *,
        label: str = "",
        enabled: Optional[bool] = None,
        threshold: int = 1024 * 1024,
        min_interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.total = total
        self.label = label
        self.threshold = threshold
        self.min_interval = min_interval
        self._clock = clock
        self.enabled = _is_tty(self.stream) if enabled is None else bool(enabled)
        self.done = 0
        self.started = clock()
        self.redraws = 0
        self._last_draw: Optional[float] = None
        self._last_len = 0
        self._closed = False

    # The library's progress callbacks call ``bar(done, total)``.
    def __call__(self, done: int, total: Optional[int] = None) -> None:
        if total is not None and self.total is None:
            self.total = total
        self.update(done)

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _visible(self) -> bool:
        if not self.enabled:
            return False
        if self.total is not None:
            return self.total > self.threshold
        return self.done > self.threshold

    def update(self, done: int) -> None:
        self.done = done
        if self._closed or not self._visible():
            return
        now = self._clock()
        if self._last_draw is not None and now - self._last_draw < self.min_interval:
            return
        self._draw(now)

    def close(self, outcome: Optional[str] = None) -> None:
        """Draw the final state and end the line (if the bar was ever drawn). ``outcome``:
        ``"interrupted"`` or ``"failed"`` end the line with that word instead of the time taken;
        by default it is read from the exception propagating, if any (close() in a ``finally``)."""
        if self._closed:
            return
        self._closed = True
        if self._last_draw is None:
            return
        if outcome is None:
            outcome = _outcome(sys.exc_info()[1])
        self._draw(self._clock(), final=outcome or True)
        self._write("\n")

    def render(self, now: Optional[float] = None, final: "bool | str" = False, width: int = 0) -> str:
        """The status line; with ``width``, the bar shrinks (or goes) and the label is cut to fit."""
        now = self._clock() if now is None else now
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        total = self.total
        if total:
            frac = min(max(self.done / total, 0.0), 1.0)
            amount = f"{format_size(self.done)} / {format_size(total)}  {frac * 100:5.1f}%"
        else:
            frac = 0.0
            amount = format_size(self.done)
        tail = f"  {format_rate(rate)}"
        if isinstance(final, str):
            tail += f"  {final}"
        elif final:
            tail += f"  in {format_duration(elapsed)}"
        elif total and rate > 0:
            tail += f"  ETA {format_duration(max(total - self.done, 0) / rate)}"
        label = f"{self.label}  " if self.label else ""
        bar_width = self.BAR_WIDTH if total else 0
        if width > 0:
            room = width - len(label) - len(amount) - len(tail)
            if bar_width and room < bar_width + 4:
                bar_width = room - 4 if room - 4 >= 8 else 0
            room = width - len(amount) - len(tail) - (bar_width + 4 if bar_width else 0)
            if len(label) > room:
                label = label[: max(room - 3, 0)].rstrip() + "  " if room >= 8 else ""
        bar = ""
        if bar_width:
            filled = int(frac * bar_width)
            bar = "  [" + "#" * filled + "." * (bar_width - filled) + "]"
        line = label + amount + bar + tail
        return line[:width] if width > 0 else line

    def _draw(self, now: float, final: "bool | str" = False) -> None:
        width = shutil.get_terminal_size((80, 24)).columns - 1
        line = self.render(now, final, width if width > 20 else 0)
        pad = " " * max(self._last_len - len(line), 0)
        self._last_len = len(line)
        self._last_draw = now
        self.redraws += 1
        self._write("\r" + line + pad)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False
