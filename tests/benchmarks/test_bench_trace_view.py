"""Trace view: time from set_trace to the first paint, cold and with the next trace prefetched.

Targets (issue 3): p95 under 50 ms for 10 KB and 100 KB traces; a 1 MB trace, also one 1 MB line
without breaks, opens in under 300 ms. Run with ``make bench`` (prints the figures).

"First paint" is set_trace plus a synchronous ``viewport().repaint()``: a bare
``processEvents()`` would also run the idle-time steps that append the rest of a long trace,
which in the real event loop are separate events with input handled between them. Those are
measured apart: the time until the whole trace is written, and the longest stretch the event loop
is busy in the 1.5 s after opening (what a labeler scrolling at once would feel).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest
from PySide6.QtCore import QEvent, QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from annotator.domain.trace import Trace
from annotator.gui.trace_view import TraceView, markdown, samples

pytestmark = [pytest.mark.benchmark, pytest.mark.qt_log_ignore("propagateSizeHints")]

CASES: list[tuple[str, Callable[[], Trace], int, float]] = [
    ("10 KB", lambda: samples.sized_trace(10_000), 25, 50.0),
    ("100 KB", lambda: samples.sized_trace(100_000), 15, 50.0),
    ("1 MB", lambda: samples.sized_trace(1_000_000), 9, 300.0),
    ("1 MB single line", lambda: samples.sized_trace(1_000_000, single_line=True), 9, 300.0),
]


def _open(view: TraceView, trace: Trace) -> tuple[float, float, float]:
    """(first paint, first paint in CPU time, whole trace written) in ms.

    CPU time (this process only) is printed too: the machine is shared, and wall-clock figures
    taken while other jobs run measure the queue for the CPU as much as this code."""
    start = time.perf_counter()
    cpu = time.process_time()
    view.set_trace(trace)
    view.browser.viewport().repaint()  # layout of the visible part and the first paint
    first = time.perf_counter()
    first_cpu = time.process_time()
    while not view.rendering_done():
        QApplication.processEvents()
    return (first - start) * 1000, (first_cpu - cpu) * 1000, (time.perf_counter() - start) * 1000


def _idle(view: TraceView, other: Trace) -> None:
    """Back to a small trace, and let the event loop delete the big document (deleteLater)."""
    view.set_trace(other)
    QApplication.processEvents()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QApplication.processEvents()


def _longest_stall(qtbot: QtBot, view: TraceView, trace: Trace, other: Trace) -> float:
    """The longest the event loop is busy at a stretch while the trace is written and laid out."""
    _idle(view, other)
    gaps: list[float] = []
    last = [0.0]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    probe = QTimer()
    probe.setInterval(1)
    probe.timeout.connect(tick)
    view.set_trace(trace)
    view.browser.viewport().repaint()
    last[0] = time.perf_counter()
    probe.start()
    qtbot.wait(1500)
    probe.stop()
    return max(gaps) * 1000


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


@pytest.mark.parametrize(("name", "make", "reps", "target"), CASES, ids=[c[0] for c in CASES])
def test_open_trace(
    qtbot: QtBot, name: str, make: Callable[[], Trace], reps: int, target: float
) -> None:
    view = TraceView()
    qtbot.addWidget(view)
    view.resize(1000, 800)
    view.show()
    qtbot.waitExposed(view)
    trace = make()
    size = sum(len(b.text) for _, _, b in trace.blocks())
    other = samples.rich_trace()
    cold: list[float] = []
    warm: list[float] = []
    whole: list[float] = []
    cpu: list[float] = []
    for _ in range(reps):
        _idle(view, other)
        markdown._CACHE.clear()
        first, first_cpu, done = _open(view, trace)
        cold.append(first)
        cpu.append(first_cpu)
        whole.append(done)
        _idle(view, other)
        view.prefetch(trace)
        qtbot.waitUntil(lambda: not view._prefetch, timeout=5000)
        warm.append(_open(view, trace)[0])
    blocks = view.browser.document().blockCount()
    stall = _longest_stall(qtbot, view, trace, other)
    print(
        f"\ntrace view {name} ({size:,} chars, {blocks:,} blocks): first paint "
        f"cold median {statistics.median(cold):.1f} ms p95 {_p95(cold):.1f} ms, "
        f"prefetched median {statistics.median(warm):.1f} ms p95 {_p95(warm):.1f} ms "
        f"(target p95 < {target:.0f} ms); cold CPU time median {statistics.median(cpu):.1f} ms "
        f"p95 {_p95(cpu):.1f} ms; whole trace written median "
        f"{statistics.median(whole):.0f} ms; longest event-loop stall after opening {stall:.0f} ms"
    )
    # generous: the machine is shared; this catches regressions of several times, not noise
    assert statistics.median(warm) < target * 3
