"""Start the desktop app quickly: the window is painted before anything heavy is imported.

Only PySide6 and the settings model load before the first paint; the database (SQLAlchemy,
Alembic, the services) opens on a worker thread, and pyqtgraph is never imported at start-up.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Protocol

from annotator.paths import Paths

if TYPE_CHECKING:
    from annotator.store.database import Database

STARTED = time.perf_counter()


class GuiContext(Protocol):
    """What the GUI needs from the command line: the database URL and the directories."""

    @property
    def url(self) -> str: ...

    @property
    def paths(self) -> Paths: ...


def run_gui(ctx: GuiContext, *, demo: bool = False) -> int:
    """Open the labeling workstation; returns the process exit code."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from annotator.gui.app_icon import app_icon
    from annotator.gui.crash import install_crash_handler, route_qt_messages_to_log
    from annotator.gui.main_window import MainWindow
    from annotator.gui.single_instance import SingleInstance, bring_to_front, tell_already_running
    from annotator.gui.theme import apply_theme
    from annotator.logging_setup import installed_log_file, setup_logging
    from annotator.settings import load_settings

    paths = ctx.paths.ensure()
    url = ctx.url
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Trace Annotator")
    app.setOrganizationName("trace-annotator")
    app.setDesktopFileName("trace-annotator")
    log_file = installed_log_file() or setup_logging(paths)
    install_crash_handler(log_file, app)
    app.setWindowIcon(app_icon())
    route_qt_messages_to_log()
    instance = SingleInstance.for_url(url, parent=app)
    if not instance.acquire():  # another process has this database; it was asked to come forward
        tell_already_running(instance)
        return 0
    settings = load_settings(paths.settings_file)
    apply_theme(app, settings.theme)

    def open_db() -> Database:
        from annotator.store.open import open_database

        db = open_database(url, backup_dir=paths.backups)
        import annotator.services.labeling  # noqa: F401  (warm: the next job needs it)
        from annotator.services.label_snapshot import use_snapshots

        use_snapshots(paths.cache)  # the dashboard's label table survives a restart

        return db

    window = MainWindow(settings, paths.settings_file, open_db, demo=demo)
    instance.activated.connect(lambda: bring_to_front(window))
    window.show()
    QTimer.singleShot(0, window.start)
    try:
        return int(app.exec())
    finally:
        instance.release()
