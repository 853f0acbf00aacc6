"""Detection assist in the workstation: the suggestion box above the label panel, the Context tab
(cluster, session, account), View > Hide suggestions (per project) and Tools > Run detection.

Every query runs on a worker through the window's :class:`Background`; the GUI thread only
paints. The window calls :meth:`DetectionAssist.accept` for the accept key and asks
:meth:`DetectionAssist.seen` when it submits, so a label made with a suggestion on screen is
recorded ``with_suggestions=True`` (the lead compares labels made with and without)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QProgressDialog

from annotator.gui.dialogs import run_modal
from annotator.gui.group_panel import ContextData, GroupLabelDialog, GroupPanel
from annotator.gui.suggestion_box import SuggestionBox, accept_into

if TYPE_CHECKING:
    from annotator.domain.label import EvidenceSpan
    from annotator.gui.main_window import MainWindow
    from annotator.services.detection.groups import ApplyResult, GroupLabelView
    from annotator.services.detection.suggest import DetectionRun, SuggestionView

LOAD_DELAY_MS = 80
"""Wait this long after a trace opens before querying: a run of J presses queries once."""
ACCEPT_ACTION = "accept_suggestion"


class _Relay(QObject):
    """Carries progress from the detection worker to the dialog (a queued signal)."""

    progressed = Signal(str, int, int)


class DetectionAssist(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.box: SuggestionBox | None = None
        self.panel = GroupPanel()
        self.panel.openTrace.connect(self.open_trace)
        self.panel.labelGroup.connect(self.label_group)
        self.panel.applyLabel.connect(self.apply_label)
        window.tabs.addTab(self.panel, "Context")
        window.tabs.currentChanged.connect(lambda _i: self._tab_changed())
        self._seen: set[int] = set()
        """Traces whose suggestion was on screen (their submit says ``with_suggestions``)."""
        self._trace_id: int | None = None
        self._context_for: int | None = None
        self._context_loading: int | None = None
        self.running = False
        self._cancel: threading.Event | None = None
        self._timer = QTimer(self, singleShot=True, interval=LOAD_DELAY_MS)
        self._timer.timeout.connect(self._load)
        self._build_menus()
        window.projectOpened.connect(self._project_opened)
        window.traceShown.connect(self._trace_shown)
        window.installEventFilter(self)
        accept = window._actions.get(ACCEPT_ACTION)
        if accept is not None:  # a remapped key shows on the button at once
            accept.changed.connect(self.update_key)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Closing the window stops a detection run at its next step (what is written stays),
        so the close does not wait for the whole run."""
        if watched is self.window and event.type() == QEvent.Type.Close:
            self.cancel()
        return False

    # -- menus ----------------------------------------------------------------------------------

    def _build_menus(self) -> None:
        bar = self.window.menuBar()
        menus = {a.text().replace("&", ""): a.menu() for a in bar.actions()}
        view = menus.get("View")
        self.hide_action = QAction("Hide suggestions in this project", self.window, checkable=True)
        self.hide_action.setToolTip(
            "Label without the machine's suggestion (avoids anchoring); remembered per project"
        )
        self.hide_action.setEnabled(False)
        self.hide_action.toggled.connect(self.set_hidden)
        if isinstance(view, QMenu):
            view.addSeparator()
            view.addAction(self.hide_action)
        self.tools = QMenu("&Tools", self.window)
        self.run_action = QAction("Run &detection (clusters and suggestions)", self.window)
        self.run_action.triggered.connect(lambda _c=False: self.run_detection())
        self.run_action.setEnabled(False)
        self.tools.addAction(self.run_action)
        help_menu = next((a for a in bar.actions() if a.text().replace("&", "") == "Help"), None)
        if help_menu is not None:
            bar.insertMenu(help_menu, self.tools)
        else:
            bar.addMenu(self.tools)

    # -- project and trace ----------------------------------------------------------------------

    def _project(self) -> str | None:
        service = self.window.service
        return service.project.name if service is not None else None

    def hidden(self) -> bool:
        project = self._project()
        s = self.window.settings
        return not s.show_suggestions or (project is not None and project in s.hidden_suggestions)

    def _project_opened(self, name: str) -> None:
        window = self.window
        self._seen.clear()
        self._trace_id = None
        self._context_for = None
        schema = window.schema
        titles = {v.value: v.title for v in schema.verdicts} if schema is not None else {}
        # The label area is rebuilt for each project (the old box went with the old panel).
        box = SuggestionBox()
        box.set_verdict_titles(titles)
        box.accepted.connect(self.accept)
        box.passageClicked.connect(self.show_passage)
        window._label_layout.insertWidget(0, box)
        self.box = box
        self.update_key()
        self.panel.set_verdict_titles(titles)
        self.panel.show_message("Open a trace to see its campaign context.")
        self.hide_action.blockSignals(True)
        self.hide_action.setChecked(self.hidden())
        self.hide_action.blockSignals(False)
        self.hide_action.setEnabled(True)
        self.run_action.setEnabled(not self.running)
        box.setVisible(not self.hidden())
        current = window.current
        if current is not None:
            self._trace_shown(current.trace_id)

    def update_key(self) -> None:
        """Show the accept key on the button (after a remap too)."""
        keymap = self.window.keymap
        keys = keymap.keys(ACCEPT_ACTION) if keymap is not None else ()
        if self.box is not None:
            self.box.set_accept_key(keys[0] if keys else "")

    def _trace_shown(self, trace_id: int) -> None:
        self._trace_id = trace_id
        self.update_key()  # the labeler may have remapped it meanwhile
        box = self.box
        if box is not None and box.trace_id != trace_id:
            box.show_message("Looking for a suggestion…", trace_id)
        if self._context_for != trace_id:
            self._context_for = None
        self._timer.start()

    def _load(self) -> None:
        trace_id = self._trace_id
        if trace_id is None:
            return
        if self.box is not None and not self.hidden():
            self.load_suggestion(trace_id)
        if self._context_visible():
            self.load_context(trace_id)

    def _context_visible(self) -> bool:
        return self.window.tabs.currentWidget() is self.panel

    def _tab_changed(self) -> None:
        trace_id = self._trace_id
        if self._context_visible() and trace_id is not None and self._context_for != trace_id:
            self.load_context(trace_id)

    def load_suggestion(self, trace_id: int) -> None:
        db, box = self.window.db, self.box
        if db is None or box is None:
            return

        def work() -> SuggestionView | None:
            from annotator.services.detection.suggest import suggestion_for

            return suggestion_for(db, trace_id)

        def shown(view: SuggestionView | None) -> None:
            if self._trace_id != trace_id or self.box is not box:
                return
            if view is None:
                box.show_message(
                    "No suggestion for this trace: Tools > Run detection computes them.", trace_id
                )
                return
            box.set_suggestion(view)
            if box.isVisible():
                self._seen.add(trace_id)

        def failed(exc: BaseException) -> None:
            if self._trace_id == trace_id and self.box is box:
                box.show_message(f"No suggestion: {exc}", trace_id)

        self.window.bg.run(work, shown, failed, context=box)

    def load_context(self, trace_id: int) -> None:
        db = self.window.db
        if db is None or self._context_loading == trace_id:
            return
        self._context_loading = trace_id
        if self.panel.data is None or self.panel.data.context.trace_id != trace_id:
            self.panel.show_message("Loading the campaign context…")

        def work() -> ContextData:
            from annotator.services.detection.groups import (
                derived_labels_for_trace,
                group_context,
                group_labels_for_trace,
            )

            return ContextData(
                group_context(db, trace_id),
                group_labels_for_trace(db, trace_id),
                derived_labels_for_trace(db, trace_id),
            )

        def shown(data: ContextData) -> None:
            if self._context_loading == trace_id:
                self._context_loading = None
            if self._trace_id != trace_id:
                if self._context_visible() and self._trace_id is not None:
                    self.load_context(self._trace_id)
                return
            self._context_for = trace_id
            lead = getattr(self.window, "lead_menu", None)
            self.panel.set_lead(bool(getattr(lead, "is_lead", False)))
            self.panel.set_data(data)

        def failed(exc: BaseException) -> None:
            if self._context_loading == trace_id:
                self._context_loading = None
            if self._trace_id == trace_id:
                self.panel.show_message(f"Cannot load the context: {exc}")

        self.window.bg.run(work, shown, failed, context=self.panel)

    # -- labeler actions ------------------------------------------------------------------------

    def seen(self, trace_id: int) -> bool:
        """Was a suggestion for ``trace_id`` on screen while the labeler worked on it?"""
        return trace_id in self._seen

    def accept(self) -> None:
        """The accept key: copy the suggested verdict and tags into the panel (never submits)."""
        window, box = self.window, self.box
        current, panel = window.current, window.panel
        suggestion = box.suggestion if box is not None and box.isVisible() else None
        if current is None or panel is None or suggestion is None:
            window.statusBar().showMessage("No suggestion on screen to accept.", 4000)
            return
        if suggestion.trace_id != current.trace_id:
            window.statusBar().showMessage("The suggestion is still loading.", 3000)
            return
        self._seen.add(current.trace_id)
        accept_into(panel, suggestion)
        window.statusBar().showMessage(
            "Suggestion copied into your label: check it, set the confidence, then submit.", 6000
        )

    def show_passage(self, span: EvidenceSpan) -> None:
        """Scroll the trace to a matched passage and select it (E then marks it as evidence)."""
        view = self.window.trace_view
        view.scroll_to_span(span)
        rng = view._map.doc_range(span)
        if rng is not None:
            view._reveal(rng[0], rng[1], select=True)
        view.setFocus(Qt.FocusReason.OtherFocusReason)  # the one-key shortcuts work on

    def set_hidden(self, hidden: bool) -> None:
        """View > Hide suggestions: remembered for this project only."""
        project = self._project()
        if project is None:
            return
        s = self.window.settings
        names = [n for n in s.hidden_suggestions if n != project]
        if hidden:
            names.append(project)
        else:
            s.show_suggestions = True
        s.hidden_suggestions = sorted(names)
        self.window.save_settings()
        if self.box is not None:
            self.box.setVisible(not hidden)
            if not hidden and self._trace_id is not None:
                self.box.show_message("Looking for a suggestion…", self._trace_id)
                self.load_suggestion(self._trace_id)

    # -- groups ---------------------------------------------------------------------------------

    def open_trace(self, trace_id: int) -> None:
        self.window.go_to(trace_id)

    def label_group(self, kind: str, key: str) -> None:
        window = self.window
        db, service, schema = window.db, window.service, window.schema
        if db is None or service is None or schema is None:
            return
        data = self.panel.data
        info = getattr(data.context, kind, None) if data is not None else None
        size = info.size if info is not None else 0
        dialog = GroupLabelDialog(schema, kind, key, size, window)
        mine = [
            v
            for v in (data.labels if data is not None else [])
            if v.kind == kind and v.key == key and v.annotator == service.annotator_name
        ]
        if mine:
            dialog.set_label(mine[-1].label)
        if not run_modal(dialog):
            return
        label = dialog.label()
        project_id, who = service.project.id, service.annotator_name

        def work() -> GroupLabelView:
            from annotator.services.detection.groups import add_group_label

            return add_group_label(db, project_id, kind, key, who, label)  # type: ignore[arg-type]

        def done(view: GroupLabelView) -> None:
            window.statusBar().showMessage(f"Labeled {kind} {view.key} for the whole group.", 5000)
            self.reload_context()

        window.bg.run(work, done, lambda e: window.show_error(e, "The group was not labeled"))

    def apply_label(self, group_label_id: int) -> None:
        window = self.window
        db, service = window.db, window.service
        if db is None or service is None:
            return
        who = service.annotator_name

        def work() -> ApplyResult:
            from annotator.services.detection.groups import apply_group_label

            return apply_group_label(db, group_label_id, who)

        def done(result: ApplyResult) -> None:
            window.statusBar().showMessage(
                f"Group label applied to {result.applied:,} unlabeled member(s); "
                f"{result.already_labeled:,} already labeled, {result.already_applied:,} "
                "had it already.",
                8000,
            )
            self.reload_context()

        window.bg.run(work, done, lambda e: window.show_error(e, "Not applied"))

    def reload_context(self) -> None:
        self._context_for = None
        if self._trace_id is not None and self._context_visible():
            self.load_context(self._trace_id)

    # -- detection ------------------------------------------------------------------------------

    def after_import(self, summary: Any = None) -> None:
        """After a GUI import: cluster the new prompts and refresh the suggestions of the new
        traces and of the groups they joined, in the background (status bar progress)."""
        if summary is not None and not getattr(summary, "imported", 1):
            return
        self.run_detection(full=False, quiet=True)

    def run_detection(self, *, full: bool = True, quiet: bool = False) -> None:
        """Tools > Run detection: cluster what is new, then suggest for every trace (``full``)
        or for what the new traces touched, with progress and cancel, on a worker. ``quiet``
        shows progress in the status bar instead of a dialog."""
        window = self.window
        db, service = window.db, window.service
        if db is None or service is None or self.running:
            return
        project_id = service.project.id
        cancel = threading.Event()
        self._cancel = cancel
        relay = _Relay(self)
        dialog: QProgressDialog | None = None
        if not quiet:
            dialog = QProgressDialog("Clustering prompts…", "Cancel", 0, 100, window)
            dialog.setObjectName("detectionProgress")
            dialog.setWindowTitle("Run detection")
            dialog.setWindowModality(Qt.WindowModality.NonModal)
            dialog.setMinimumDuration(0)
            dialog.setAutoClose(False)
            dialog.setAutoReset(False)
            dialog.setValue(0)
            dialog.canceled.connect(cancel.set)

        def progressed(phase: str, done: int, total: int) -> None:
            text = {
                "cluster": "Clustering prompts…",
                "describe": "Describing clusters…",
                "suggest": "Computing suggestions…",
            }.get(phase, phase)
            if dialog is None:
                window.statusBar().showMessage(f"Detection: {text} {done:,} / {total:,}", 5000)
                return
            dialog.setLabelText(f"{text} {done:,} / {total:,}")
            # Clustering is the first half of the bar, suggestions the second.
            share = done / total if total else 1.0
            value = int(share * 50) + (50 if phase == "suggest" else 0)
            dialog.setValue(min(max(value, dialog.value()), 99))

        relay.progressed.connect(progressed)

        def cluster_progress(p: Any) -> None:
            relay.progressed.emit(str(p.phase), int(p.done), int(p.total))

        def suggest_progress(p: Any) -> None:
            relay.progressed.emit("suggest", int(p.done), int(p.total))

        def work() -> DetectionRun:
            from annotator.services.detection.suggest import run_detection

            return run_detection(
                db,
                project_id,
                full=full,
                cluster_progress=cluster_progress,
                suggest_progress=suggest_progress,
                cancel=cancel,
            )

        def finish() -> None:
            self.running = False
            self._cancel = None
            self.run_action.setEnabled(True)
            relay.deleteLater()
            if dialog is not None:
                dialog.close()
                dialog.deleteLater()

        def done(run: DetectionRun) -> None:
            finish()
            c = run.clusters
            what = "cancelled after" if run.cancelled else "done:"
            window.statusBar().showMessage(
                f"Detection {what} {c.new_traces:,} trace(s) clustered "
                f"({c.new_clusters:,} new clusters), {run.suggestions:,} suggestion(s).",
                10_000,
            )
            self._context_for = None
            if self._trace_id is not None:
                self._timer.start()  # show the fresh suggestion and context of this trace

        def failed(exc: BaseException) -> None:
            finish()
            window.show_error(exc, "Detection failed")

        self.running = True
        self.run_action.setEnabled(False)
        if dialog is not None:
            dialog.show()
        window.bg.run(work, done, failed)

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()


def install_detection_assist(window: MainWindow) -> DetectionAssist:
    """Add the Context tab, the suggestion box and the menus to ``window``."""
    return DetectionAssist(window)
