"""Help > About shows the version, Qt and Python, the database and its schema revision, the log
file and the licence, all as plain text."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication

from annotator import __version__
from annotator.gui.about import AboutDialog, about_info, database_location
from annotator.store.open import open_database
from annotator.store.revisions import head_revision


def test_about_shows_versions_database_and_revision(qtbot: Any, tmp_path: Path) -> None:
    db_file = tmp_path / "about <b>db</b>.sqlite3"
    db = open_database(f"sqlite:///{db_file}")
    try:
        info = about_info(None, db, log_file=tmp_path / "logs" / "annotator.log")
    finally:
        db.dispose()
    assert info.version == __version__
    assert info.qt_version == qVersion() and info.pyside_version == PySide6.__version__
    assert info.python_version.startswith(platform.python_version())
    assert info.database == str(db_file.resolve())
    assert info.schema_revision == head_revision()
    assert info.licence == "Apache-2.0"

    dialog = AboutDialog(info)
    qtbot.addWidget(dialog)
    dialog.show()
    shown = {name: label.text() for name, label in dialog.values.items()}
    assert shown["Version"] == __version__
    assert shown["Qt"].startswith(qVersion())
    assert shown["Database"] == str(db_file.resolve())
    assert dialog.values["Database"].textFormat() == Qt.TextFormat.PlainText
    assert shown["Schema revision"] == head_revision()
    assert shown["Licence"].startswith("Apache-2.0")
    assert shown["Log file"].endswith("annotator.log")
    dialog.copy_button.click()
    copied = QGuiApplication.clipboard().text()
    assert copied.startswith("Trace Annotator\nVersion: ")
    assert f"Schema revision: {head_revision()}" in copied


def test_about_without_an_open_database_and_server_urls() -> None:
    info = about_info("sqlite:///:memory:")
    assert info.schema_revision == "(database not open)"
    assert database_location("postgresql://lead:secret@db.example/labels") == (
        "postgresql://lead:***@db.example/labels"
    )
    assert database_location("not a url") == "(not a valid database URL)"
    assert about_info(None).database == "(none)"


def test_never_migrated_database_says_so(tmp_path: Path) -> None:
    from annotator.store.database import Database, make_engine

    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    db = Database(url=url, engine=make_engine(url))
    try:
        assert about_info(None, db).schema_revision == "(none: never migrated)"
    finally:
        db.dispose()
