"""Time on item that counts active time only.

Labelers are paid by the hour and leads compare effort, so the clock stops when the app is not
the active application and when nobody has touched a key or the mouse for a while (two minutes
by default: reading a long trace without input still counts up to that point)."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication

INPUT_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
    }
)


def app_is_active() -> bool:
    return QGuiApplication.applicationState() == Qt.ApplicationState.ApplicationActive


class ActivityClock(QObject):
    """Accumulates active seconds. ``take()`` returns the time since the previous take (what the
    labeling service wants with every save); ``item_seconds`` the time since ``start_item``."""

    tick = Signal()

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        idle_seconds: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        is_active: Callable[[], bool] = app_is_active,
    ) -> None:
        super().__init__(parent)
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._is_active = is_active
        now = clock()
        self._last_input = now
        self._since: float | None = None
        self._pending = 0.0
        self._item = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._on_tick)

    def start(self) -> None:
        app = QGuiApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self._timer.start()
        self.update()

    def stop(self) -> None:
        app = QGuiApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self._timer.stop()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in INPUT_EVENTS:
            self.touch()
        return False

    def touch(self) -> None:
        """Register input now (the event filter calls this)."""
        self.update()
        self._last_input = self._clock()
        self.update()

    @property
    def counting(self) -> bool:
        return self._since is not None

    def update(self) -> None:
        """Start or stop counting according to activity and idleness."""
        now = self._clock()
        idle_from = self._last_input + self.idle_seconds
        active = self._is_active() and now < idle_from
        if self._since is not None and not active:
            end = min(now, max(idle_from, self._since))
            self._add(max(end - self._since, 0.0))
            self._since = None
        elif self._since is None and active:
            self._since = now

    def _add(self, seconds: float) -> None:
        self._pending += seconds
        self._item += seconds

    def _running(self) -> float:
        return 0.0 if self._since is None else max(self._clock() - self._since, 0.0)

    def take(self) -> float:
        """Active seconds since the previous take; resets the count."""
        self.update()
        if self._since is not None:
            now = self._clock()
            self._add(now - self._since)
            self._since = now
        value, self._pending = self._pending, 0.0
        return value

    def start_item(self) -> None:
        """A new item is on screen: its time starts at zero (pending time is discarded)."""
        self.update()
        if self._since is not None:
            self._since = self._clock()
        self._pending = 0.0
        self._item = 0.0

    @property
    def item_seconds(self) -> float:
        return self._item + self._running()

    def _on_tick(self) -> None:
        self.update()
        self.tick.emit()
