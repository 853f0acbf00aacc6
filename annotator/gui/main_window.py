"""The labeling workstation: queue (left), trace (centre), label panel and guidelines (right).

Everything that touches the database runs through :class:`Background`: the labeling session
(open, draft, submit, skip, flag, undo) on one ordered worker, queue pages and searches on the
parallel pool. The GUI thread only paints. Heavy modules (SQLAlchemy via the services) are
imported on a worker after the window is on screen.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QEvent, QItemSelectionModel, QObject, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QSplitter,
    QTableView,
    QTabWidget,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from annotator.gui.activity import ActivityClock
from annotator.gui.background import Background
from annotator.gui.guidelines import GuidelinesView
from annotator.gui.queue_model import QueueModel
from annotator.gui.search_catch_up import SearchCatchUp
from annotator.gui.trace_view import TraceView
from annotator.settings import Settings, save_settings

if TYPE_CHECKING:
    from annotator.domain.label import EvidenceSpan, Label
    from annotator.domain.schema import LabelSchema
    from annotator.gui.keymap import Keymap
    from annotator.gui.label_panel import LabelPanel
    from annotator.services.labeling import LabelingService
    from annotator.services.labeling import TraceView as OpenTrace
    from annotator.store.database import Database

log = logging.getLogger(__name__)

DRAFT_DELAY_MS = 700
SEARCH_DELAY_MS = 300
STATS_INTERVAL_MS = 60_000
PREFETCH = 2
SETTLE_MS = 120
STATUS_FILTERS = (
    ("All statuses", None),
    ("To do", frozenset({"todo"})),
    ("To do + drafts", frozenset({"todo", "draft"})),
    ("Drafts", frozenset({"draft"})),
    ("Done", frozenset({"done"})),
    ("Skipped", frozenset({"skipped"})),
    ("Flagged", frozenset({"flagged"})),
)
SORTS = (
    ("Queue order", "queue"),
    ("Newest first", "newest"),
    ("Oldest first", "oldest"),
    ("By model", "model"),
    ("By account", "account"),
)


def make_trace_widget(parent: QWidget | None = None) -> TraceView:
    """The trace view, with its own Ctrl+F shortcut disabled: the window's remappable "find"
    action opens the same find bar from anywhere, and two shortcuts on one key would be
    ambiguous (neither fires)."""
    view = TraceView(parent)
    for shortcut in view.findChildren(QShortcut):
        if shortcut.key().matches(QKeySequence(QKeySequence.StandardKey.Find)) == (
            QKeySequence.SequenceMatch.ExactMatch
        ):
            shortcut.setEnabled(False)
    return view


def is_text_input(widget: QObject | None) -> bool:
    if isinstance(widget, QLineEdit):
        return not widget.isReadOnly()
    if isinstance(widget, (QPlainTextEdit, QTextEdit)):
        return not widget.isReadOnly()
    return False


_EDIT_KEYS = (
    QKeySequence.StandardKey.Undo,
    QKeySequence.StandardKey.Redo,
    QKeySequence.StandardKey.Copy,
    QKeySequence.StandardKey.Cut,
    QKeySequence.StandardKey.Paste,
    QKeySequence.StandardKey.SelectAll,
)


class TypingGuard(QObject):
    """Keeps the one-key shortcuts out of text fields: while the labeler types in the rationale,
    the search box or the comment, letters, digits, Enter and the edit keys (Ctrl+Z...) go to
    the field. Ctrl/Alt combinations such as Ctrl+Enter (submit) still reach the window, and
    Esc hands the keys back to the trace."""

    escape = Signal()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            if not is_text_input(watched):
                return False
            mods = event.modifiers() & (
                Qt.KeyboardModifier.ControlModifier
                | Qt.KeyboardModifier.AltModifier
                | Qt.KeyboardModifier.MetaModifier
            )
            if event.key() == Qt.Key.Key_Escape:
                self.escape.emit()
                event.accept()
                return True
            if mods == Qt.KeyboardModifier.NoModifier or any(event.matches(k) for k in _EDIT_KEYS):
                event.accept()
        return False


DEFAULT_SIZE = (1600, 960)
"""First-start size on a screen that has room for it; a smaller screen gets its available area."""
DEFAULT_SPLIT = (460, 740, 420)
"""First-start widths of queue, trace and label pane at the default size. A narrower window
keeps the label pane's width (the labeler works there) and shares the rest 460:740."""
TRACE_MIN_WIDTH = 180
"""The trace pane never shrinks below a readable column; the other panes' minimums come from
their contents (the filter boxes may elide their text, the label panel may not)."""


def default_split(width: int) -> list[int]:
    """Queue, trace and label pane widths for a window ``width`` wide (see DEFAULT_SPLIT)."""
    queue, trace, label = DEFAULT_SPLIT
    label = min(label, width * label // sum(DEFAULT_SPLIT) * 5 // 4)
    rest = max(width - label, 0)
    return [rest * queue // (queue + trace), rest * trace // (queue + trace), label]


class MainWindow(QMainWindow):
    """``open_db`` runs on a worker and returns the Database; the window owns it from then on
    (disposed on close)."""

    traceShown = Signal(int)
    projectOpened = Signal(str)
    errorShown = Signal(str)

    def __init__(
        self,
        settings: Settings,
        settings_path: Path | None,
        open_db: Callable[[], Database],
        *,
        demo: bool = False,
        ask: bool = True,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.settings_path = settings_path
        self._open_db = open_db
        self._demo = demo
        self._ask = ask
        self.db: Database | None = None
        self.service: LabelingService | None = None
        self.schema: LabelSchema | None = None
        self.keymap: Keymap | None = None
        self.panel: LabelPanel | None = None
        self.current: OpenTrace | None = None
        self._current_row: int | None = None
        self._opening: int | None = None
        self._prefetched: dict[int, OpenTrace] = {}
        self._prefetching: set[int] = set()
        self._dirty = False
        self._closing = False
        self._actions: dict[str, QAction] = {}
        self._schema_actions: list[QAction] = []
        self._filter_generation = 0

        self.bg = Background(self, default_failure=self.show_error)
        self.search_catch_up = SearchCatchUp(self)
        self.search_catch_up.finished.connect(self._search_caught_up)
        self.clock = ActivityClock(self, idle_seconds=settings.idle_pause_seconds)
        self.clock.tick.connect(self._update_timer_label)
        self.guard = TypingGuard(self)
        self.guard.escape.connect(self._focus_trace)

        self._draft_timer = QTimer(self, singleShot=True, interval=DRAFT_DELAY_MS)
        self._draft_timer.timeout.connect(self.save_draft)
        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.reload_queue)
        self._stats_timer = QTimer(self, interval=STATS_INTERVAL_MS)
        self._stats_timer.timeout.connect(self.refresh_stats)
        self._settle_timer = QTimer(self, singleShot=True, interval=SETTLE_MS)
        self._settle_timer.timeout.connect(self._settled)
        self._settings_timer = QTimer(self, singleShot=True, interval=1000)
        self._settings_timer.timeout.connect(self.save_settings)

        self.setWindowTitle("Trace Annotator")
        self._build()
        self._build_actions()
        self._build_menus()
        from annotator.gui.lead.menu import install_lead_menu

        self.lead_menu = install_lead_menu(self)
        from annotator.gui.detection_assist import install_detection_assist

        self.detection = install_detection_assist(self)
        self._restore_layout()
        hints = QGuiApplication.styleHints()
        hints.colorSchemeChanged.connect(self._system_scheme_changed)

    # -- layout ----------------------------------------------------------------------------

    def _build(self) -> None:
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.setChildrenCollapsible(False)

        # Queue
        queue = QWidget()
        ql = QVBoxLayout(queue)
        ql.setContentsMargins(6, 6, 0, 6)
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Search the traces (Ctrl+Shift+F)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.search.returnPressed.connect(self.reload_queue)
        self.search.installEventFilter(self.guard)
        ql.addWidget(self.search)
        filters = QHBoxLayout()
        self.status_filter = QComboBox()
        self.status_filter.setObjectName("statusFilter")
        for title, _value in STATUS_FILTERS:
            self.status_filter.addItem(title)
        self.verdict_filter = QComboBox()
        self.verdict_filter.setObjectName("verdictFilter")
        self.verdict_filter.addItem("All verdicts", None)
        self.sort_box = QComboBox()
        self.sort_box.setObjectName("sortBox")
        for title, value in SORTS:
            self.sort_box.addItem(title, value)
        for box in (self.status_filter, self.verdict_filter, self.sort_box):
            box.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
            # Sized by a short text, not the longest item, so the queue pane can be narrow.
            box.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            box.setMinimumContentsLength(4)
            filters.addWidget(box)
        ql.addLayout(filters)
        self.model = QueueModel(self)
        self.model.fetch_page = self._fetch_page
        self.table = QTableView()
        self.table.setObjectName("queue")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        self.table.setTabKeyNavigation(False)
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        vh = self.table.verticalHeader()
        vh.setVisible(False)
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(self.fontMetrics().height() + 8)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(False)
        # Preview gets the room; model and account stay readable further right (scroll).
        for col, width in enumerate((82, 96, 250, 120, 120)):
            self.table.setColumnWidth(col, width)
        self.table.clicked.connect(self._row_clicked)
        self.table.activated.connect(self._row_clicked)
        ql.addWidget(self.table, 1)
        self.queue_count = QLabel("")
        ql.addWidget(self.queue_count)
        self.splitter.addWidget(queue)

        # Trace
        centre = QWidget()
        centre.setMinimumWidth(TRACE_MIN_WIDTH)
        cl = QVBoxLayout(centre)
        cl.setContentsMargins(0, 6, 0, 6)
        self.trace_header = QLabel("Opening the database…")
        self.trace_header.setObjectName("traceHeader")
        self.trace_header.setTextFormat(Qt.TextFormat.PlainText)
        self.trace_header.setWordWrap(True)
        cl.addWidget(self.trace_header)
        self.trace_view = make_trace_widget()
        self.trace_view.setObjectName("traceView")
        self.trace_view.spanClicked.connect(self._span_clicked_in_trace)
        self.trace_view.find_bar.edit.installEventFilter(self.guard)
        cl.addWidget(self.trace_view, 1)
        self.splitter.addWidget(centre)

        # Label + guidelines
        self.tabs = QTabWidget()
        self.tabs.setObjectName("rightTabs")
        self.label_host = QWidget()
        # No fixed width: the label panel asks for what its choices need (see LabelPanel).
        self._label_layout = QVBoxLayout(self.label_host)
        self._label_layout.setContentsMargins(0, 0, 0, 0)
        self._label_layout.addWidget(
            QLabel("No project open"), alignment=Qt.AlignmentFlag.AlignCenter
        )
        self.tabs.addTab(self.label_host, "Label")
        self.guidelines = GuidelinesView()
        self.tabs.addTab(self.guidelines, "Guidelines")
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 5)
        self.splitter.setStretchFactor(2, 2)
        self.splitter.splitterMoved.connect(lambda *_: self._settings_timer.start())
        self.setCentralWidget(self.splitter)

        # Status bar
        bar = self.statusBar()
        self.project_label = QLabel("")
        self.done_label = QLabel("")
        self.done_label.setObjectName("doneLabel")
        self.pace_label = QLabel("")
        self.pace_label.setObjectName("paceLabel")
        self.timer_label = QLabel("")
        self.timer_label.setObjectName("timerLabel")
        for widget in (self.project_label, self.done_label, self.pace_label, self.timer_label):
            bar.addPermanentWidget(widget)
        self.keys_button = QToolButton()
        self.keys_button.setText("? Keys")
        self.keys_button.setAutoRaise(True)
        self.keys_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        bar.addPermanentWidget(self.keys_button)
        self.status_filter.currentIndexChanged.connect(self._filters_changed)
        self.verdict_filter.currentIndexChanged.connect(self._filters_changed)
        self.sort_box.currentIndexChanged.connect(self._filters_changed)

    def _build_actions(self) -> None:
        from annotator.gui.keymap import GLOBAL_ACTIONS

        handlers: dict[str, Callable[[], None]] = {
            "submit": self.submit,
            "skip": self.skip,
            "flag": self.flag,
            "span": self.mark_span,
            "undo": self.undo,
            "next": self.next_trace,
            "prev": self.previous_trace,
            "search": self.focus_search,
            "find": self.find_in_trace,
            "cheatsheet": self.show_cheatsheet,
            "accept_suggestion": lambda: self.detection.accept(),
        }
        for spec in GLOBAL_ACTIONS:
            action = QAction(spec.title, self)
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(handlers[spec.name])
            self.addAction(action)
            self._actions[spec.name] = action
        self.keys_button.clicked.connect(self.show_cheatsheet)
        self._apply_keys()

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._add(file_menu, "New project…", self.new_project)
        self._add(file_menu, "Open project…", self.choose_project)
        self._add(file_menu, "Import…", self.import_files, "Ctrl+I")
        self._add(file_menu, "Export dataset…", self.export_dataset, "Ctrl+Shift+E")
        file_menu.addSeparator()
        self._add(file_menu, "Quit", self.close, "Ctrl+Q")
        edit = bar.addMenu("&Edit")
        edit.addAction(self._actions["undo"])
        edit.addSeparator()
        self._add(edit, "Keyboard shortcuts…", self.edit_keys)
        self._add(edit, "Change my name…", self.change_name)
        label_menu = bar.addMenu("&Label")
        for name in ("submit", "skip", "flag", "span"):
            label_menu.addAction(self._actions[name])
        go = bar.addMenu("&Go")
        for name in ("next", "prev", "search", "find"):
            go.addAction(self._actions[name])
        view = bar.addMenu("&View")
        theme_menu = view.addMenu("Theme")
        group = QActionGroup(self)
        for value in ("system", "light", "dark"):
            act = QAction(value.capitalize(), self, checkable=True)
            act.setChecked(self.settings.theme == value)
            act.triggered.connect(lambda _c=False, v=value: self.set_theme(v))
            group.addAction(act)
            theme_menu.addAction(act)
        self.collapse_action = QAction("Collapse reasoning", self, checkable=True)
        self.collapse_action.setChecked(self.settings.collapse_reasoning)
        self.collapse_action.toggled.connect(self._set_collapsed)
        view.addAction(self.collapse_action)
        view.addAction(self._actions["cheatsheet"])
        self._set_collapsed(self.settings.collapse_reasoning)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self._actions["cheatsheet"])
        self._add(help_menu, "&About Trace Annotator", self.show_about)

    def show_about(self) -> None:
        """Version, Qt/Python, database location and revision (one quick query), licence."""
        from annotator.gui.about import AboutDialog, about_info

        dialog = AboutDialog(about_info(None, self.db), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def _add(
        self, menu: Any, title: str, slot: Callable[[], Any], shortcut: str | None = None
    ) -> QAction:
        action = QAction(title, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _c=False: slot())
        menu.addAction(action)
        return action

    def _restore_layout(self) -> None:
        s = self.settings
        restored = bool(s.window_geometry) and self.restoreGeometry(
            QByteArray(base64.b64decode(s.window_geometry or ""))
        )
        if not restored:
            self._first_start_geometry()
        self.fit_to_screen()
        if s.window_state:
            self.restoreState(QByteArray(base64.b64decode(s.window_state)))
        if len(s.splitter_sizes) == 3 and all(x > 0 for x in s.splitter_sizes):
            self.splitter.setSizes(s.splitter_sizes)
        else:
            self.splitter.setSizes(default_split(self.width()))
        for i, (_title, value) in enumerate(SORTS):
            if value == s.queue_sort:
                self.sort_box.setCurrentIndex(i)
        for i, (_title, statuses) in enumerate(STATUS_FILTERS):
            if statuses is not None and sorted(statuses) == sorted(s.queue_statuses):
                self.status_filter.setCurrentIndex(i)

    def _first_start_geometry(self) -> None:
        """The default size, cut to the screen's available area, centred on it."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            self.resize(*DEFAULT_SIZE)
            return
        avail = screen.availableGeometry()
        self.resize(min(DEFAULT_SIZE[0], avail.width()), min(DEFAULT_SIZE[1], avail.height()))
        self.move(
            avail.x() + (avail.width() - self.width()) // 2,
            avail.y() + (avail.height() - self.height()) // 2,
        )

    def fit_to_screen(self) -> None:
        """Keep the whole window, frame included, inside the available area of its screen.

        A size saved on a larger monitor (or the default on a small one) would otherwise put the
        label panel past the right edge; no window manager clamps it on every desktop. Called
        before the first show and again once the frame's size is known."""
        if self.isMaximized() or self.isFullScreen():
            return
        screen = QGuiApplication.screenAt(self.frameGeometry().center()) or self.screen()
        if screen is None:
            return
        avail = screen.availableGeometry()
        frame, inner = self.frameGeometry(), self.geometry()
        frame_w, frame_h = frame.width() - inner.width(), frame.height() - inner.height()
        width = max(min(inner.width(), avail.width() - frame_w), self.minimumWidth())
        height = max(min(inner.height(), avail.height() - frame_h), self.minimumHeight())
        if (width, height) != (inner.width(), inner.height()):
            self.resize(width, height)
        x = min(max(frame.x(), avail.x()), avail.x() + avail.width() - (width + frame_w))
        y = min(max(frame.y(), avail.y()), avail.y() + avail.height() - (height + frame_h))
        if (x, y) != (frame.x(), frame.y()):
            self.move(max(x, avail.x()), max(y, avail.y()))

    # -- start-up ----------------------------------------------------------------------------

    def start(self) -> None:
        """Called once the window is on screen: open the database off the GUI thread."""
        self.clock.start()
        self.fit_to_screen()  # the frame's size is known now that the window is shown
        sizes = self.settings.splitter_sizes
        if len(sizes) == 3 and all(x > 0 for x in sizes):
            self.splitter.setSizes(sizes)  # again, now that the window has its real width
        self._focus_trace()
        name = self.settings.annotator_name
        project = None if self._demo else self.settings.last_project
        spec = self._queue_spec()
        open_db = self._open_db

        def work() -> tuple[Database, LoadedProject | BaseException | None]:
            # One job from nothing to the first trace on a warm start: every hop back to the
            # GUI thread costs a wait for the GIL while the window paints.
            db = open_db()
            if not (name and project):
                return db, None
            try:
                return db, load_project(db, project, name, spec)
            except Exception as exc:
                return db, exc

        self.bg.run(work, self._started, self._database_failed)

    def _started(self, result: tuple[Database, LoadedProject | BaseException | None]) -> None:
        db, preload = result
        if not self._closing and db.is_sqlite:
            # A team's PostgreSQL is indexed by whoever imports; every labeler's window
            # counting the unindexed traces there would be a scan of the server per start.
            self.search_catch_up.start(db)
        if preload is None:
            self._database_opened(db)
            return
        self.db = db
        if isinstance(preload, BaseException):
            log.info("cannot reopen the last project: %s", preload)
            if self._ask:
                self.choose_project()
            else:
                self.show_error(preload)
            return
        self._project_opened(preload)

    def _database_opened(self, db: Database) -> None:
        self.db = db
        if not self.settings.annotator_name:
            if not self._ask:
                self.show_error(RuntimeError("no labeler name configured"))
                return
            self.change_name(first_run=True)
            if not self.settings.annotator_name:
                self.close()
                return
        if self._demo:
            self.open_demo()
        elif self.settings.last_project:
            self.open_project(self.settings.last_project, fallback=True)
        elif self._ask:
            self.choose_project()

    def _search_caught_up(self, indexed: int) -> None:
        """Traces left out of search are in it now: say so, and search again if a search is on."""
        if self._closing:
            return
        self.statusBar().showMessage(f"Search now covers {indexed:,} more traces.", 6000)
        if self.search.text().strip() and self.service is not None:
            self.reload_queue()

    def _database_failed(self, exc: BaseException) -> None:
        self.trace_header.setText(f"Cannot open the database: {exc}")
        self.show_error(exc)

    # -- projects ----------------------------------------------------------------------------

    def open_demo(self) -> None:
        db = self._require_db()

        def work() -> str:
            from annotator.services.demo import ensure_demo_project

            return ensure_demo_project(db).name

        self.trace_header.setText("Preparing the demo project…")
        self.bg.run(work, lambda name: self.open_project(name))

    def choose_project(self) -> None:
        db = self._require_db()

        def work() -> list[tuple[str, int]]:
            from annotator.services.projects import list_projects

            return [(p.name, p.trace_count) for p in list_projects(db)]

        self.bg.run(work, self._show_project_dialog)

    def _show_project_dialog(self, projects: list[tuple[str, int]]) -> None:
        from annotator.gui.dialogs import ProjectDialog, run_modal

        dialog = ProjectDialog(projects, self)
        if self.service is None:
            self.trace_header.setText("Choose a project, create one, or try the demo.")
        if not run_modal(dialog):
            if self.service is None:
                self.trace_header.setText("No project open: File > Open project or New project.")
            return
        if dialog.choice == ProjectDialog.DEMO:
            self.open_demo()
        elif dialog.choice == ProjectDialog.NEW:
            self.new_project()
        else:
            name = dialog.project_name()
            if name:
                self.open_project(name)

    def new_project(self) -> None:
        from annotator.gui.dialogs import NewProjectDialog, run_modal

        db = self._require_db()
        dialog = NewProjectDialog(self)
        if not run_modal(dialog):
            return
        name, schema_path, guidelines_path = dialog.values()

        def work() -> str:
            from annotator.services.projects import create_project

            return create_project(
                db, name, schema_path=schema_path, guidelines_path=guidelines_path
            ).name

        self.bg.run(work, lambda created: self.open_project(created))

    def open_project(self, name: str, *, fallback: bool = False) -> None:
        db = self._require_db()
        who = self.settings.annotator_name or ""
        spec = self._queue_spec()

        def work() -> LoadedProject:
            return load_project(db, name, who, spec)

        def failed(exc: BaseException) -> None:
            if fallback and self._ask:
                self.choose_project()
            else:
                self.show_error(exc)

        self.trace_header.setText(f"Opening {name}…")
        self.bg.run(work, self._project_opened, failed)

    def _project_opened(self, loaded: LoadedProject) -> None:
        from annotator.gui.keymap import GLOBAL_ACTIONS, Keymap, schema_actions
        from annotator.gui.label_panel import LabelPanel

        self._leave_current()
        self._filter_generation += 1  # a queue reload still running is for the old project
        service = loaded.service
        self.service = service
        self.schema = schema = service.project.schema
        self.current = None
        self._prefetched.clear()
        self.keymap = Keymap((*GLOBAL_ACTIONS, *schema_actions(schema)), self.settings.keymap)
        self.panel = LabelPanel(schema, self.keymap)
        self.panel.changed.connect(self._label_changed)
        self.panel.spansChanged.connect(self._spans_changed)
        self.panel.spanActivated.connect(self._scroll_to_span)
        self.panel.rationale.installEventFilter(self.guard)
        layout = self._label_layout
        while layout.count():
            item = layout.takeAt(0)
            old = item.widget() if item is not None else None
            if old is not None:
                old.deleteLater()
        layout.addWidget(self.panel)
        self._build_schema_actions()
        self._apply_keys()
        self.model.verdict_titles = {v.value: v.title for v in schema.verdicts}
        self.verdict_filter.blockSignals(True)
        self.verdict_filter.clear()
        self.verdict_filter.addItem("All verdicts", None)
        for verdict in schema.verdicts:
            self.verdict_filter.addItem(verdict.title, verdict.value)
        self.verdict_filter.blockSignals(False)
        self.guidelines.set_content(schema, service.project.guidelines)
        self.settings.last_project = service.project.name
        self._settings_timer.start()
        self.project_label.setText(f"{service.project.name} · {service.annotator_name}")
        self.setWindowTitle(f"{service.project.name} - Trace Annotator")
        self._set_queue_ids(loaded.ids)
        if loaded.view is not None and loaded.row is not None:
            self._current_row = loaded.row
            self._select_row(loaded.row)
            self._show(loaded.view)
        elif not loaded.ids:
            self.trace_header.setText("Nothing in this queue. Import traces with File > Import.")
        self.refresh_stats()
        self._stats_timer.start()
        self.projectOpened.emit(service.project.name)

    def _build_schema_actions(self) -> None:
        from annotator.gui.keymap import schema_actions

        for action in self._schema_actions:
            self.removeAction(action)
            self._actions.pop(action.objectName(), None)
            action.deleteLater()
        self._schema_actions = []
        if self.schema is None:
            return
        for spec in schema_actions(self.schema):
            action = QAction(spec.title, self)
            action.setObjectName(spec.name)
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            kind, _, value = spec.name.partition(":")
            if kind == "verdict":
                action.triggered.connect(lambda _c=False, v=value: self._set_verdict(v))
            elif kind == "confidence":
                level = None if value == "none" else int(value)
                action.triggered.connect(lambda _c=False, n=level: self._set_confidence(n))
            else:
                action.triggered.connect(lambda _c=False, t=value: self._toggle_tag(t))
            self.addAction(action)
            self._actions[spec.name] = action
            self._schema_actions.append(action)

    def _apply_keys(self) -> None:
        if self.keymap is None:
            from annotator.gui.keymap import GLOBAL_ACTIONS, Keymap

            keymap = Keymap(GLOBAL_ACTIONS, self.settings.keymap)
        else:
            keymap = self.keymap
        for name, action in self._actions.items():
            action.setShortcuts([QKeySequence(k) for k in keymap.keys(name)])
        if self.panel is not None and self.keymap is not None:
            self.panel.set_keymap(self.keymap)
        search_keys = keymap.keys("search")
        hint = f" ({search_keys[0]})" if search_keys else ""
        self.search.setPlaceholderText(f"Search the traces{hint}")

    # -- the queue ---------------------------------------------------------------------------

    def current_filter(self) -> Any:
        from annotator.services.labeling import QueueFilter

        statuses = STATUS_FILTERS[max(self.status_filter.currentIndex(), 0)][1]
        verdict = self.verdict_filter.currentData()
        text = self.search.text().strip()
        return QueueFilter(
            statuses=statuses,
            verdicts=frozenset({verdict}) if verdict else None,
            search=text or None,
            sort=self.sort_box.currentData() or "queue",
        )

    def _filters_changed(self) -> None:
        statuses = STATUS_FILTERS[max(self.status_filter.currentIndex(), 0)][1]
        self.settings.queue_statuses = sorted(statuses or ())
        self.settings.queue_sort = self.sort_box.currentData() or "queue"
        self._settings_timer.start()
        self.reload_queue()

    def _queue_spec(self) -> QueueSpec:
        """The queue filter as plain values, for a worker to build the service's QueueFilter."""
        statuses = STATUS_FILTERS[max(self.status_filter.currentIndex(), 0)][1]
        text = self.search.text().strip()
        return QueueSpec(statuses, text or None, self.sort_box.currentData() or "queue")

    def _set_queue_ids(self, ids: list[int]) -> None:
        self.model.set_ids(ids)
        self._prefetched.clear()
        n = len(ids)
        self.queue_count.setText(f"{n:,} trace{'s' if n != 1 else ''}")

    def reload_queue(self) -> None:
        """Fetch the filtered id list in the background (a search can take a moment); the
        trace on screen stays, selected if it is in the new list."""
        service = self.service
        if service is None:
            return
        flt = self.current_filter()
        self._filter_generation += 1
        generation = self._filter_generation
        self.queue_count.setText("Searching…" if flt.search else "Loading…")
        shown = self.current.trace_id if self.current else None

        def work() -> tuple[list[int], int | None]:
            ids = service.queue_ids(flt)
            row = None
            if shown is not None:
                try:
                    row = ids.index(shown)  # on the worker: a scan of 1M ids takes ~10 ms
                except ValueError:
                    row = None
            return ids, row

        def done(result: tuple[list[int], int | None]) -> None:
            if generation != self._filter_generation:
                return
            ids, row = result
            self._set_queue_ids(ids)
            current = self.current.trace_id if self.current else None
            if current is not None and current != shown:
                row = self.model.row_of(current)
            if current is None:
                if ids:
                    self.go_to(ids[0], 0)
                else:
                    self.trace_header.setText(
                        "Nothing in this queue. Import traces with File > Import."
                    )
            elif row is not None:
                self._current_row = row
                self._select_row(row)
            else:
                self._current_row = None
                self.table.clearSelection()

        self.bg.run(work, done)

    def _fetch_page(self, page: int, ids: list[int]) -> None:
        service = self.service
        if service is None:
            return
        generation = self.model.generation

        def failed(exc: BaseException) -> None:
            self.model.page_failed(generation, page)
            self.show_error(exc)

        self.bg.run(
            lambda: service.rows(ids),
            lambda rows: self.model.page_loaded(generation, page, rows),
            failed,
        )

    def _select_row(self, row: int) -> None:
        index = self.model.index(row, 0)
        sel = self.table.selectionModel()
        sel.setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.table.scrollTo(index, QAbstractItemView.ScrollHint.EnsureVisible)

    def _row_clicked(self, index: Any) -> None:
        trace_id = self.model.id_at(index.row())
        if trace_id is not None and (self.current is None or trace_id != self.current.trace_id):
            self.go_to(trace_id, index.row())

    # -- moving between traces ---------------------------------------------------------------

    def go_to(self, trace_id: int, row: int | None = None) -> None:
        """Show a trace: at once if it was prefetched, else after a background open."""
        service = self.service
        if service is None:
            return
        if self.current is not None and self.current.trace_id == trace_id:
            return
        self._leave_current()
        self._current_row = row if row is not None else self.model.row_of(trace_id)
        if self._current_row is not None:
            self._select_row(self._current_row)
        ready = self._prefetched.pop(trace_id, None)
        if ready is not None:
            self._show(ready)
            return
        self._opening = trace_id
        self.trace_header.setText(f"Opening trace #{trace_id}…")

        def shown(view: OpenTrace) -> None:
            if self._opening == view.trace_id:
                self._show(view)

        self.bg.serial(lambda: service.open(trace_id), shown)

    def _show(self, view: OpenTrace) -> None:
        assert self.service is not None and self.panel is not None
        self._opening = None
        self.current = view
        self._dirty = False
        self.trace_view.set_trace(view.trace, spans=view.label.spans)
        self.panel.set_label(view.label, status_line(view))
        self.trace_header.setText(header_text(view))
        self.clock.start_item()
        self._update_timer_label()
        # Remembering the item and prefetching the next ones wait until the labeler has
        # settled on this item and it is painted: worker threads compete for the GIL, and a
        # run of J presses should not queue a prefetch per trace flown over.
        self._settle_timer.start()
        self.traceShown.emit(view.trace_id)

    def is_settled(self) -> bool:
        """No work pending: nothing queued, running, or about to be (tests and benchmarks)."""
        timers = (self._settle_timer, self._draft_timer, self._search_timer)
        return self.bg.is_idle() and not any(t.isActive() for t in timers)

    def _settled(self) -> None:
        service, current = self.service, self.current
        if service is None or current is None:
            return
        trace_id = current.trace_id
        self.bg.serial(lambda: service.mark_current(trace_id))
        self._prefetch_after(self._current_row)

    def _prefetch_after(self, row: int | None) -> None:
        service = self.service
        if service is None or row is None:
            return
        keep: set[int] = set()
        for offset in range(1, PREFETCH + 1):
            trace_id = self.model.id_at(row + offset)
            if trace_id is None:
                break
            keep.add(trace_id)
            if trace_id in self._prefetched or trace_id in self._prefetching:
                continue
            self._prefetching.add(trace_id)

            def store(view: OpenTrace, tid: int = trace_id) -> None:
                self._prefetching.discard(tid)
                if self.service is service and (
                    self.current is None or self.current.trace_id != tid
                ):
                    self._prefetched[tid] = view
                    self.trace_view.prefetch(view.trace)

            def dropped(_exc: BaseException, tid: int = trace_id) -> None:
                self._prefetching.discard(tid)

            def load(tid: int = trace_id) -> OpenTrace:
                return service.open(tid)

            self.bg.serial(load, store, dropped)
        for stale in set(self._prefetched) - keep:
            del self._prefetched[stale]

    def _leave_current(self) -> None:
        """Keep what was done on the item being left: the draft if edited, and the time."""
        self._draft_timer.stop()
        if self.current is None or self.service is None or self.panel is None:
            return
        seconds = self.clock.take()
        if self._dirty or seconds >= 1.0:
            self._save_draft_now(self.panel.label(), seconds)

    def next_trace(self) -> None:
        self._step(+1)

    def previous_trace(self) -> None:
        self._step(-1)

    def _step(self, delta: int) -> None:
        if self.service is None:
            return
        row = self._current_row
        if row is None:
            row = -1 if delta > 0 else self.model.rowCount()
        target = row + delta
        trace_id = self.model.id_at(target)
        if trace_id is None:
            self.statusBar().showMessage(
                "End of the queue." if delta > 0 else "Start of the queue.", 4000
            )
            return
        self.go_to(trace_id, target)

    # -- labeling ---------------------------------------------------------------------------

    def _label_changed(self) -> None:
        self._dirty = True
        self._draft_timer.start()

    def _spans_changed(self) -> None:
        if self.panel is not None:
            self.trace_view.set_spans(self.panel.spans())

    def save_draft(self) -> None:
        if self.current is None or self.panel is None or not self._dirty:
            return
        self._save_draft_now(self.panel.label(), self.clock.take())

    def _save_draft_now(self, label: Label, seconds: float) -> None:
        service, current = self.service, self.current
        if service is None or current is None:
            return
        trace_id = current.trace_id
        self._dirty = False
        self._prefetched.pop(trace_id, None)

        def saved(_result: object) -> None:
            current = self.current
            mine = current is not None and current.trace_id == trace_id
            if self.panel is not None and mine and label.verdict:
                self.panel.status_label.setText("Draft (saved as you type)")
            cached = self.model.cached(trace_id)
            if cached is not None and cached.status in ("todo", "draft") and label.verdict:
                self.model.update_row(
                    trace_id, replace(cached, status="draft", verdict=label.verdict)
                )

        self.bg.serial(lambda: service.save_draft(trace_id, label, seconds), saved)

    def submit(self) -> None:
        service, current, panel = self.service, self.current, self.panel
        if service is None or current is None or panel is None or self.schema is None:
            return
        from annotator.domain.label import validate_label

        label = panel.label()
        problems = validate_label(label, self.schema)
        if problems:
            panel.set_problems(problems)
            self.statusBar().showMessage("Not submitted: " + " ".join(problems), 6000)
            return
        trace_id = current.trace_id
        seen = self.detection.seen(trace_id)  # a suggestion was on screen: recorded as such
        seconds = self.clock.take()
        self._draft_timer.stop()
        self._dirty = False
        self._prefetched.pop(trace_id, None)

        def failed(exc: BaseException) -> None:
            from annotator.services.labeling import LabelInvalid

            self.model.invalidate([trace_id])
            self.go_to(trace_id)
            if isinstance(exc, LabelInvalid) and self.panel is not None:
                self.panel.set_problems(exc.problems)
            self.show_error(exc, f"Trace #{trace_id} was not submitted")

        self._mark_row(trace_id, "done", label.verdict)
        self.current = None
        self.next_trace_after(
            trace_id,
            lambda: self.bg.serial(
                lambda: service.submit(trace_id, label, seconds, with_suggestions=seen),
                lambda _r: self._after_record(trace_id),
                failed,
            ),
        )

    def next_trace_after(self, trace_id: int, record: Callable[[], object]) -> None:
        """Move on after a submit, skip or flag, then queue ``record`` (the write). A prefetched
        next trace is painted before the writer thread starts, so the two do not compete for
        the GIL; the write is still queued within the same key press."""
        row = self._current_row
        nxt = self.model.id_at(row + 1) if row is not None else None
        if nxt is None:
            record()
            self.current = None
            self.statusBar().showMessage("End of the queue: all done here.", 6000)
            self._reopen_in_place(trace_id)
            return
        self.go_to(nxt, (row or 0) + 1)
        record()

    def _reopen_in_place(self, trace_id: int) -> None:
        """At the end of the queue the last item stays on screen, reloaded with its new state."""
        service = self.service
        if service is None:
            return

        def shown(view: OpenTrace) -> None:
            if self.current is None:
                self._show(view)

        self.bg.serial(lambda: service.open(trace_id), shown)

    def skip(self) -> None:
        service, current = self.service, self.current
        if service is None or current is None or self.panel is None:
            return
        trace_id = current.trace_id
        if self._dirty:
            self._save_draft_now(self.panel.label(), 0.0)
        seconds = self.clock.take()
        self._dirty = False
        self._draft_timer.stop()
        self._mark_row(trace_id, "skipped", None)
        self.current = None
        self.next_trace_after(
            trace_id,
            lambda: self.bg.serial(
                lambda: service.skip(trace_id, seconds), lambda _r: self._after_record(trace_id)
            ),
        )

    def flag(self) -> None:
        from annotator.gui.dialogs import FlagDialog, run_modal

        service, current = self.service, self.current
        if service is None or current is None or self.panel is None:
            return
        dialog = FlagDialog(self)
        dialog.comment.installEventFilter(self.guard)
        if not run_modal(dialog):
            return
        comment = dialog.text()
        trace_id = current.trace_id
        label = self.panel.label()
        seconds = self.clock.take()
        self._dirty = False
        self._draft_timer.stop()
        self._mark_row(trace_id, "flagged", label.verdict)
        self.current = None
        self.next_trace_after(
            trace_id,
            lambda: self.bg.serial(
                lambda: service.flag(trace_id, comment, seconds, label=label),
                lambda _r: self._after_record(trace_id),
            ),
        )

    def undo(self) -> None:
        service = self.service
        if service is None:
            return
        self._leave_current()

        def undone(trace_id: int | None) -> None:
            if trace_id is None:
                self.statusBar().showMessage("Nothing to undo.", 4000)
                return
            self.statusBar().showMessage(f"Submit of trace #{trace_id} undone.", 4000)
            self._prefetched.pop(trace_id, None)
            self.model.invalidate([trace_id])
            self.refresh_stats()
            self.current = None
            self.go_to(trace_id)

        self.bg.serial(service.undo_last_submit, undone)

    def _after_record(self, trace_id: int) -> None:
        self.model.invalidate([trace_id])
        self.refresh_stats()

    def _mark_row(self, trace_id: int, status: str, verdict: str | None) -> None:
        cached = self.model.cached(trace_id)
        if cached is not None:
            self.model.update_row(
                trace_id, replace(cached, status=status, verdict=verdict or cached.verdict)
            )

    def _set_verdict(self, value: str) -> None:
        if self.panel is not None and self.current is not None:
            self.panel.set_verdict(value)

    def _set_confidence(self, level: int | None) -> None:
        if self.panel is not None and self.current is not None:
            self.panel.set_confidence(level)

    def _toggle_tag(self, name: str) -> None:
        if self.panel is not None and self.current is not None:
            self.panel.toggle_tag(name)

    def mark_span(self) -> None:
        if self.panel is None or self.current is None:
            return
        span = self.trace_view.selected_span()
        if span is None:
            self.statusBar().showMessage("Select a passage in the trace first, then press E.", 4000)
            return
        if not self.panel.add_span(span):
            self.statusBar().showMessage("That passage is already an evidence span.", 4000)

    def _scroll_to_span(self, span: EvidenceSpan) -> None:
        self.trace_view.scroll_to_span(span)

    def _span_clicked_in_trace(self, index: int) -> None:
        if self.panel is not None and 0 <= index < self.panel.span_list.count():
            self.panel.span_list.setCurrentRow(index)

    # -- other commands -----------------------------------------------------------------------

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def find_in_trace(self) -> None:
        self.trace_view.show_find()

    def _focus_trace(self) -> None:
        self.trace_view.setFocus(Qt.FocusReason.OtherFocusReason)

    def show_cheatsheet(self) -> None:
        from annotator.gui.dialogs import CheatSheet
        from annotator.gui.keymap import GLOBAL_ACTIONS, Keymap

        keymap = self.keymap or Keymap(GLOBAL_ACTIONS, self.settings.keymap)
        self._cheatsheet = CheatSheet(keymap, self)
        self._cheatsheet.show()

    def edit_keys(self) -> None:
        from annotator.gui.dialogs import KeymapDialog, run_modal
        from annotator.gui.keymap import GLOBAL_ACTIONS, Keymap

        keymap = self.keymap or Keymap(GLOBAL_ACTIONS, self.settings.keymap)
        dialog = KeymapDialog(keymap, self)
        if run_modal(dialog):
            self.apply_keymap(dialog.keymap)

    def apply_keymap(self, keymap: Keymap) -> None:
        self.keymap = keymap
        self.settings.keymap = keymap.overrides()
        self._apply_keys()
        self.save_settings()

    def change_name(self, first_run: bool = False) -> None:
        from annotator.gui.dialogs import NameDialog, run_modal

        dialog = NameDialog(self, self.settings.annotator_name or "")
        if run_modal(dialog) and dialog.name():
            changed = dialog.name() != self.settings.annotator_name
            self.settings.annotator_name = dialog.name()
            self.save_settings()
            if changed and not first_run and self.service is not None:
                self.open_project(self.service.project.name)

    def import_files(self) -> None:
        from annotator.gui.import_dialog import ImportDialog

        if self.service is None or self.db is None:
            self.show_error(RuntimeError("Open a project first."))
            return
        dialog = ImportDialog(
            self.bg,
            self.db,
            self.service.project.name,
            imported_by=self.settings.annotator_name,
            parent=self,
        )
        dialog.finishedImport.connect(lambda: self.reload_queue())
        dialog.finishedImport.connect(self.detection.after_import)  # clusters, suggestions
        dialog.choose_and_start()

    def export_dataset(self) -> None:
        """File > Export…: counts preview, then the export, both in the background."""
        from annotator.gui.export_dialog import ExportDialog

        if self.service is None or self.db is None:
            self.show_error(RuntimeError("Open a project first."))
            return
        dialog = ExportDialog(self.bg, self.db, self.service.project.name, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()

    def set_theme(self, theme: str) -> None:
        from annotator.gui.theme import apply_theme

        self.settings.theme = theme
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, theme)
        self.save_settings()

    def _system_scheme_changed(self, *_: object) -> None:
        """The desktop switched between light and dark: follow it if the theme is "system"."""
        if self.settings.theme == "system":
            from annotator.gui.theme import apply_theme

            app = QApplication.instance()
            if isinstance(app, QApplication):
                apply_theme(app, "system")

    def _set_collapsed(self, collapsed: bool) -> None:
        self.settings.collapse_reasoning = collapsed
        self.trace_view.set_collapsed_reasoning(collapsed)
        self._settings_timer.start()

    # -- status bar ---------------------------------------------------------------------------

    def refresh_stats(self) -> None:
        service = self.service
        if service is None:
            return

        def shown(stats: Any) -> None:
            self.done_label.setText(f"Done today {stats.done_today} / {stats.assigned} assigned")
            pace = stats.pace_per_hour
            self.pace_label.setText(f"Pace {pace:.0f}/h" if pace is not None else "Pace -")

        self.bg.serial(service.day_stats, shown)

    def _update_timer_label(self) -> None:
        if self.current is None:
            self.timer_label.setText("")
            return
        total = int(self.current.seconds_spent + self.clock.item_seconds)
        paused = "" if self.clock.counting else " (paused)"
        self.timer_label.setText(f"On this item {total // 60}:{total % 60:02d}{paused}")

    def show_error(self, exc: BaseException, context: str = "") -> None:
        """A non-blocking message: the labeler keeps working while it is on screen."""
        text = f"{context}: {exc}" if context else str(exc) or type(exc).__name__
        log.warning("%s", text)
        self.statusBar().showMessage(text, 10_000)
        self.errorShown.emit(text)
        if self._closing:
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Trace Annotator", text, parent=self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()

    # -- settings and close -----------------------------------------------------------------------

    def save_settings(self) -> None:
        s = self.settings
        s.window_geometry = base64.b64encode(bytes(self.saveGeometry().data())).decode()
        s.window_state = base64.b64encode(bytes(self.saveState().data())).decode()
        s.splitter_sizes = list(self.splitter.sizes())
        if self.settings_path is not None:
            try:
                save_settings(s, self.settings_path)
            except OSError as exc:
                log.warning("cannot save settings: %s", exc)

    def _require_db(self) -> Database:
        if self.db is None:
            raise RuntimeError("the database is not open yet")
        return self.db

    def shutdown(self) -> None:
        """Finish queued writes, stop the workers, close the database."""
        self._closing = True
        for timer in (
            self._stats_timer,
            self._search_timer,
            self._settle_timer,
            self._draft_timer,
            self._settings_timer,
        ):
            timer.stop()
        self.clock.stop()
        self.search_catch_up.stop()
        self.lead_menu.stop()
        self.bg.shutdown()
        if self.db is not None:
            self.db.dispose()
            self.db = None

    def closeEvent(self, event: QCloseEvent) -> None:
        from annotator.gui.import_dialog import ImportDialog

        for dialog in self.findChildren(ImportDialog):
            if dialog.running:  # stop at the next record; what is committed stays
                dialog.cancel()
        self._leave_current()
        self.save_settings()
        self.shutdown()
        super().closeEvent(event)


@dataclass(frozen=True)
class QueueSpec:
    statuses: frozenset[str] | None
    search: str | None
    sort: str


@dataclass(frozen=True)
class LoadedProject:
    """Everything the window needs to show a project, loaded in one background job."""

    service: LabelingService
    ids: list[int]
    row: int | None
    view: OpenTrace | None


def load_project(db: Database, name: str, who: str, spec: QueueSpec) -> LoadedProject:
    """On a worker: the labeling session, the queue, and the trace to start on (the one open
    at the last exit or crash, else the first)."""
    from annotator.services.labeling import LabelingService, QueueFilter

    service = LabelingService(db, name, who)
    ids = service.queue_ids(
        QueueFilter(statuses=spec.statuses, verdicts=None, search=spec.search, sort=spec.sort)
    )
    last = service.last_open_trace()
    row: int | None = None
    if last is not None:
        try:
            row = ids.index(last)
        except ValueError:
            row = None
    if row is None and ids:
        row = 0
    view = service.open(ids[row]) if row is not None else None
    return LoadedProject(service, ids, row, view)


def header_text(view: OpenTrace) -> str:
    meta = view.trace.meta
    parts = [f"#{view.trace_id}", meta.source_format]
    if meta.model:
        parts.append(meta.model)
    if meta.account_id:
        parts.append(f"account {meta.account_id}")
    if meta.created_at:
        parts.append(meta.created_at.strftime("%Y-%m-%d %H:%M"))
    return " · ".join(parts)


def status_line(view: OpenTrace) -> str:
    text = {
        "todo": "To do",
        "draft": "Draft (saved as you type)",
        "done": "Done",
        "skipped": "Skipped",
        "flagged": "Flagged for the lead",
    }.get(view.status, view.status)
    if view.submitted_at is not None and view.status == "done":
        text += f" · submitted {view.submitted_at.astimezone().strftime('%Y-%m-%d %H:%M')}"
    if view.comment:
        text += f" · “{view.comment}”"
    return text
