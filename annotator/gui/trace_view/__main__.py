"""Manual harness: ``python -m annotator.gui.trace_view [rich|hostile|large|line] [--dark] [--shot PNG]``.

Shows the widget on a sample trace; ``--shot`` saves a screenshot and exits (used under Xvfb to
look at light and dark rendering).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from annotator.domain.label import EvidenceSpan
from annotator.domain.trace import Trace
from annotator.gui.trace_view import TraceView, samples


def dark_palette() -> QPalette:
    pal = QPalette()
    for role, color in (
        (QPalette.ColorRole.Window, QColor(37, 37, 38)),
        (QPalette.ColorRole.WindowText, QColor(220, 220, 220)),
        (QPalette.ColorRole.Base, QColor(30, 30, 30)),
        (QPalette.ColorRole.AlternateBase, QColor(45, 45, 45)),
        (QPalette.ColorRole.Text, QColor(220, 220, 220)),
        (QPalette.ColorRole.Button, QColor(50, 50, 52)),
        (QPalette.ColorRole.ButtonText, QColor(220, 220, 220)),
        (QPalette.ColorRole.Highlight, QColor(38, 110, 190)),
        (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
        (QPalette.ColorRole.PlaceholderText, QColor(140, 140, 140)),
    ):
        pal.setColor(role, color)
    return pal


def _trace_from_file(path: str, index: int) -> Trace:
    from annotator.formats.reading import read_file

    seen = 0
    for item in read_file(Path(path)):
        if isinstance(item, tuple):
            for trace in item[1]:
                if seen == index:
                    return trace
                seen += 1
    raise SystemExit(f"{path} has only {seen} readable traces")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m annotator.gui.trace_view")
    parser.add_argument(
        "sample", nargs="?", default="rich", choices=["rich", "hostile", "large", "line"]
    )
    parser.add_argument("--dark", action="store_true")
    parser.add_argument("--shot", help="save a screenshot to this PNG and exit")
    parser.add_argument("--find", help="open the find bar with this query")
    parser.add_argument("--collapsed", action="store_true", help="collapse all reasoning")
    parser.add_argument("--file", help="show a trace read from this file instead of a sample")
    parser.add_argument("--index", type=int, default=0, help="which trace of --file")
    parser.add_argument("--scroll", type=int, default=0, help="scroll down this many pixels")
    args = parser.parse_args(argv)
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    if args.dark:
        app.setPalette(dark_palette())
    if args.file:
        trace = _trace_from_file(args.file, args.index)
    elif args.sample == "rich":
        trace = samples.rich_trace()
    elif args.sample == "hostile":
        trace = samples.hostile_trace()
    else:
        trace = samples.sized_trace(1_000_000, single_line=args.sample == "line")
    view = TraceView()
    view.resize(900, 1000)
    spans = []
    if args.file:
        trace = _trace_from_file(args.file, args.index)
    elif args.sample == "rich":
        text = trace.turns[2].blocks[0].text
        start = text.index("With a hash map")
        spans.append(
            EvidenceSpan(
                turn=2, block=0, start=start, end=start + 40, text=text[start : start + 40]
            )
        )
    view.set_collapsed_reasoning(args.collapsed)
    view.set_trace(trace, spans)
    view.show()
    if args.find:
        view.show_find()
        view.find_bar.edit.setText(args.find)
    if args.scroll:
        view.browser.verticalScrollBar().setValue(args.scroll)
    if args.shot:

        def shoot() -> None:
            view.grab().save(args.shot)
            app.quit()

        QTimer.singleShot(300, shoot)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
