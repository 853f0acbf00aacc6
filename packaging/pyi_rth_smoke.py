"""PyInstaller runtime hook for the bundle's own smoke test; inert unless ANNOTATOR_SMOKE_QUIT_AFTER
is set in the environment (build_bundle.py sets it, a labeler never does).

When set, it watches for the first paint of the main window, prints
``smoke: first-window <epoch seconds> <CPU seconds used so far> <title>``, and closes every window that many seconds later,
so the GUI of the frozen app can be started and closed again without a person or a display."""

import os


def _install_probe(linger_s: float) -> None:
    import time

    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow, QWidget

    original_exec = QApplication.exec

    class FirstPaint(QObject):
        def __init__(self, app: QApplication) -> None:
            super().__init__(app)
            self.app = app
            self.seen = False

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if (
                not self.seen
                and event.type() == QEvent.Type.Paint
                and isinstance(watched, QWidget)
                and isinstance(watched.window(), QMainWindow)
            ):
                self.seen = True
                QTimer.singleShot(0, lambda: self.report(watched.window()))
            return False

        def report(self, window: QWidget) -> None:
            cpu = time.process_time()
            print(
                f"smoke: first-window {time.time():.4f} {cpu:.3f} {window.windowTitle()}",
                flush=True,
            )
            QTimer.singleShot(int(linger_s * 1000), self.close_all)

        def close_all(self) -> None:
            for widget in self.app.topLevelWidgets():
                if widget.isVisible():
                    widget.close()
            QTimer.singleShot(2000, self.app.quit)  # if a window refused to close

    def exec_with_probe(*_args: object) -> int:
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        probe = FirstPaint(app)
        app.installEventFilter(probe)
        return int(original_exec())

    QApplication.exec = exec_with_probe  # type: ignore[method-assign]


_linger = os.environ.get("ANNOTATOR_SMOKE_QUIT_AFTER")
if _linger:
    _install_probe(float(_linger))
