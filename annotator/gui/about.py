"""Help > About: what a labeler reads out when they report a problem (version, Qt and Python,
which database at which schema revision, where the log is) and the licence."""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from annotator import __version__

if TYPE_CHECKING:
    from annotator.store.database import Database

LICENCE = "Apache-2.0"
LICENCE_URL = "https://www.apache.org/licenses/LICENSE-2.0"


@dataclass(frozen=True)
class AboutInfo:
    version: str
    qt_version: str
    pyside_version: str
    python_version: str
    platform: str
    database: str
    schema_revision: str
    log_file: str
    licence: str = LICENCE

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("Version", self.version),
            ("Qt", f"{self.qt_version} (PySide6 {self.pyside_version})"),
            ("Python", self.python_version),
            ("Platform", self.platform),
            ("Database", self.database),
            ("Schema revision", self.schema_revision),
            ("Log file", self.log_file),
            ("Licence", f"{self.licence} ({LICENCE_URL})"),
        ]

    def as_text(self) -> str:
        return "\n".join(["Trace Annotator", *(f"{name}: {value}" for name, value in self.rows())])


def database_location(url: str) -> str:
    """The SQLite file, or the URL without its password for a server database."""
    from annotator.store.open import describe, sqlite_path

    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
    except Exception:
        return "(not a valid database URL)"
    path = sqlite_path(parsed)
    return str(path) if path is not None else describe(parsed)


def schema_revision(db: Database | None) -> str:
    """The Alembic revision stored in the database (one quick query)."""
    if db is None:
        return "(database not open)"
    from annotator.store.open import current_revision

    try:
        return current_revision(db) or "(none: never migrated)"
    except Exception as exc:
        return f"(cannot read: {type(exc).__name__})"


def about_info(
    db_url: str | None, db: Database | None = None, log_file: Path | None = None
) -> AboutInfo:
    """Everything the dialog shows; ``db`` is the open database (for its revision)."""
    from annotator.logging_setup import installed_log_file

    chosen_log = log_file or installed_log_file()
    url = db.url if db is not None else db_url
    return AboutInfo(
        version=__version__,
        qt_version=qVersion(),
        pyside_version=PySide6.__version__,
        python_version=f"{platform.python_version()} ({sys.implementation.name})",
        platform=f"{platform.system()} {platform.release()} {platform.machine()}",
        database=database_location(url) if url else "(none)",
        schema_revision=schema_revision(db),
        log_file=str(chosen_log) if chosen_log is not None else "(not configured)",
    )


class AboutDialog(QDialog):
    """Plain-text labels only (a database path can contain anything), plus a copy button for
    bug reports."""

    def __init__(self, info: AboutInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.info = info
        self.setWindowTitle("About Trace Annotator")
        self.setObjectName("aboutDialog")
        layout = QVBoxLayout(self)
        title = QLabel("Trace Annotator", self)
        title.setStyleSheet("font-size: 16pt; font-weight: bold")
        layout.addWidget(title)
        blurb = QLabel(
            "Label LLM reasoning traces as legitimate use or suspected adversarial distillation.",
            self,
        )
        blurb.setWordWrap(True)
        layout.addWidget(blurb)
        form = QFormLayout()
        self.values: dict[str, QLabel] = {}
        for name, value in info.rows():
            label = QLabel(self)
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setText(value)
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(f"{name}:", label)
            self.values[name] = label
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.copy_button = QPushButton("Copy", self)
        self.copy_button.clicked.connect(self.copy)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.info.as_text())
