"""Guards the PySide6 pin: 6.12.0 on Python 3.11 aborts after a few thousand setFormat calls.

The trace view uses extra selections rather than a QSyntaxHighlighter, but the rest of the app (and
any future highlighter) must not run on the broken release. A trivial highlighter over 10,000 blocks
runs in a child process so that the abort ("Fatal Python error: none_dealloc") shows as a failed test
instead of killing the test run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    from PySide6.QtGui import QColor, QGuiApplication, QSyntaxHighlighter, QTextCharFormat
    from PySide6.QtGui import QTextDocument

    class Every(QSyntaxHighlighter):
        calls = 0

        def highlightBlock(self, text):
            fmt = QTextCharFormat()
            fmt.setForeground(QColor(200, 0, 0))
            self.setFormat(0, max(len(text), 1), fmt)
            Every.calls += 1

    app = QGuiApplication([])
    doc = QTextDocument()
    doc.setPlainText("\\n".join(f"line {i} with some words" for i in range(10_000)))
    highlighter = Every(doc)
    highlighter.rehighlight()
    highlighter.rehighlight()
    assert Every.calls >= 20_000, Every.calls
    print("ok", Every.calls)
    """
)


def test_syntax_highlighter_survives_ten_thousand_blocks() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("ok ")
