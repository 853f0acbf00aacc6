"""One running app per SQLite database file.

Two windows on one file would each claim "the next item" from the same queue and race on the
same drafts. The first instance holds a ``QLockFile`` beside the database (``<db>.instance.lock``;
a lock left by a crashed process is detected by its PID and taken over) and listens on a
``QLocalServer`` whose name is a hash of the user and the database path. A second start on the
same file cannot take the lock: it asks the first one, through the local socket, to bring its
window to the front, and tells the user so. Server databases (PostgreSQL) are shared by design
and are not locked."""

from __future__ import annotations

import getpass
import hashlib
import os
import sys
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Qt, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QMessageBox, QWidget

ACTIVATE = b"activate\n"
CONNECT_TIMEOUT_MS = 1000


def sqlite_file(url: str) -> Path | None:
    """The database file behind a SQLite URL; None for server and in-memory databases."""
    from sqlalchemy.engine import make_url

    from annotator.store.open import sqlite_path

    try:
        return sqlite_path(make_url(url))
    except Exception:
        return None


def server_name(db_file: Path) -> str:
    """Stable per user and file; short enough for a Unix socket path on every platform."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name (some containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    path = os.path.normcase(str(db_file.resolve()))
    digest = hashlib.sha256(f"{user}\0{path}".encode()).hexdigest()[:24]
    return f"trace-annotator-{digest}"


class SingleInstance(QObject):
    """``acquire()`` True: this process owns the database; keep the object alive while the app
    runs and connect ``activated`` to bring the window forward. False: another process has it
    and was asked to show itself; ``owner`` says which."""

    activated = Signal()

    def __init__(self, db_file: Path | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.db_file = db_file
        self.owner = ""
        self.notified = False
        self._lock: QLockFile | None = None
        self._server: QLocalServer | None = None
        self.name = server_name(db_file) if db_file is not None else ""

    @classmethod
    def for_url(cls, url: str, parent: QObject | None = None) -> SingleInstance:
        return cls(sqlite_file(url), parent)

    @property
    def lock_path(self) -> Path | None:
        if self.db_file is None:
            return None
        return self.db_file.with_name(self.db_file.name + ".instance.lock")

    def acquire(self) -> bool:
        lock_path = self.lock_path
        if lock_path is None:
            return True  # a server database: many clients are expected
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = QLockFile(str(lock_path))
        lock.setStaleLockTime(0)  # stale only when the owning process is gone, never by age
        if lock.tryLock(0):
            self._lock = lock
            self._listen()
            return True
        pid, host, _app = lock.getLockInfo()
        self.owner = f"process {pid} on {host}" if pid > 0 else "another process"
        self.notified = self._ask_owner_to_show()
        return False

    def _listen(self) -> None:
        QLocalServer.removeServer(self.name)  # a socket file left by a crash would block listen
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if server.listen(self.name):
            server.newConnection.connect(self._on_connection)
            self._server = server

    def _on_connection(self) -> None:
        server = self._server
        if server is None:
            return
        while server.hasPendingConnections():
            socket = server.nextPendingConnection()
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        if socket.canReadLine() and bytes(socket.readLine().data()) == ACTIVATE:
            self.activated.emit()

    def _ask_owner_to_show(self) -> bool:
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
            return False
        socket.write(ACTIVATE)
        sent = socket.waitForBytesWritten(CONNECT_TIMEOUT_MS)
        socket.disconnectFromServer()
        if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
            socket.waitForDisconnected(CONNECT_TIMEOUT_MS)
        return sent

    def message(self) -> str:
        """What the second start tells the user."""
        shown = (
            "Its window has been brought to the front."
            if self.notified
            else "Switch to its window (it may be on another desktop)."
        )
        return (
            f"Trace Annotator is already open on this database ({self.owner}).\n\n"
            f"{self.db_file}\n\n{shown} Only one window may work on a database at a time, so "
            "that two windows never hand out or save the same items."
        )

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server.deleteLater()
            self._server = None
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None


def bring_to_front(window: QWidget) -> None:
    """What the running instance does when a second start knocks."""
    if window.isMinimized():
        window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized)
    window.show()
    window.raise_()
    window.activateWindow()


def tell_already_running(instance: SingleInstance, parent: QWidget | None = None) -> None:
    """The second start's message box (and the same on stderr for a terminal user)."""
    print(f"annotator: {instance.message()}", file=sys.stderr)
    box = QMessageBox(
        QMessageBox.Icon.Information, "Trace Annotator", instance.message(), parent=parent
    )
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.exec()
