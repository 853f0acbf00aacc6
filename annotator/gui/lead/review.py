"""The adjudication screen: the review queue (disagreements, flagged, picked items), and for
the selected item the trace beside every labeler's label; the lead accepts one label or writes
the final label, sees the item's decision history and its comment thread.

Every read and write runs on the background runner; label text (rationales, comments, spans) is
shown as plain text only, and the trace through the safe :class:`TraceView`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from annotator.domain.label import EvidenceSpan, Label
from annotator.domain.schema import LabelSchema
from annotator.domain.trace import Trace
from annotator.gui.background import Background
from annotator.gui.keymap import Keymap
from annotator.gui.label_panel import LabelPanel, span_caption
from annotator.gui.lead.contrast import tune_base
from annotator.gui.lead.parts import bold, plain_label, scrolled
from annotator.gui.lead.window import LeadWindow
from annotator.gui.trace_view import TraceView
from annotator.services.projects import project_info
from annotator.services.review import (
    DISAGREE,
    FLAGGED,
    AdjudicationInfo,
    CommentView,
    ReviewError,
    ReviewItem,
    ReviewLabel,
    accept_label,
    add_comment,
    adjudication_history,
    comments_for,
    review_queue,
    set_final_label,
)
from annotator.store.database import Database
from annotator.store.traces import load_trace

QUEUE_LIMIT = 2000
"""Items listed at once; the lead settles these before asking for more."""


@dataclass(frozen=True)
class ItemDetail:
    """What the screen loads for one selected item."""

    trace: Trace
    history: list[AdjudicationInfo]
    comments: list[CommentView]


def load_detail(db: Database, project: str, lead: str, trace_id: int) -> ItemDetail:
    with db.session() as session:
        trace = load_trace(session, trace_id)
    return ItemDetail(
        trace=trace,
        history=adjudication_history(db, project, lead=lead, trace=trace_id),
        comments=comments_for(db, project, viewer=lead, trace=trace_id),
    )


def with_text(span: EvidenceSpan, trace: Trace | None) -> EvidenceSpan:
    """The span with its passage filled in from the trace when the label did not keep it."""
    if span.text or trace is None:
        return span
    try:
        text = trace.turns[span.turn].blocks[span.block].text[span.start : span.end]
    except IndexError:
        return span
    return span.model_copy(update={"text": text})


class LabelCard(QFrame):
    """One labeler's label, read-only, with the button that makes it the final label."""

    spanClicked = Signal(object)
    acceptClicked = Signal(str)
    editClicked = Signal(object)

    def __init__(self, label: ReviewLabel, schema: LabelSchema, trace: Trace | None) -> None:
        super().__init__()
        self.label = label
        self.setObjectName("labelCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumWidth(210)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        head = bold(plain_label(label.labeler), 1.1)
        layout.addWidget(head)
        titles = {v.value: v.title for v in schema.verdicts}
        verdict = titles.get(label.verdict or "", label.verdict or "(no verdict)")
        self.verdict = plain_label(f"Verdict: {verdict}")
        self.verdict.setFont(head.font())
        layout.addWidget(self.verdict)
        facts = [
            f"Status: {label.status}",
            f"Confidence: {label.confidence if label.confidence is not None else '–'}",
            f"Tags: {', '.join(label.tags) or '–'}",
            f"Counter-evidence: {', '.join(label.counter_tags) or '–'}",
            f"Time: {label.seconds_spent:.0f} s",
        ]
        if label.comment:
            facts.append(f"Flag note: {label.comment}")
        self.facts = plain_label("\n".join(facts))
        layout.addWidget(self.facts)
        layout.addWidget(QLabel(f"Evidence spans ({len(label.spans)})"))
        self.spans = QListWidget()
        self.spans.setWordWrap(True)
        self.spans.setMaximumHeight(120)
        self.spans.setToolTip("Click a span to highlight it in the trace")
        for span in label.spans:
            span = with_text(span, trace)
            item = QListWidgetItem(span_caption(span))
            item.setToolTip(span.text[:2000])
            self.spans.addItem(item)
        self.spans.itemClicked.connect(self._span_clicked)
        self.spans.itemActivated.connect(self._span_clicked)
        layout.addWidget(self.spans)
        layout.addWidget(QLabel("Rationale"))
        self.rationale = QPlainTextEdit()
        self.rationale.setReadOnly(True)
        self.rationale.setPlainText(label.rationale)
        self.rationale.setMinimumHeight(60)
        layout.addWidget(self.rationale, 1)
        self.accept_button = QPushButton(f"Accept {label.labeler}'s label")
        acceptable = label.status == "done" and bool(label.verdict)
        self.accept_button.setEnabled(acceptable)
        if not acceptable:
            self.accept_button.setToolTip("Only a submitted label with a verdict can be accepted")
        self.accept_button.clicked.connect(lambda: self.acceptClicked.emit(label.labeler))
        layout.addWidget(self.accept_button)
        self.edit_button = QPushButton("Start the final label from it")
        self.edit_button.setToolTip("Copy this label into the Final label tab to amend it")
        self.edit_button.clicked.connect(lambda: self.editClicked.emit(label))
        layout.addWidget(self.edit_button)

    def _span_clicked(self, item: QListWidgetItem) -> None:
        row = self.spans.row(item)
        if 0 <= row < len(self.label.spans):
            self.spanClicked.emit(self.label.spans[row])


def _item_text(item: ReviewItem) -> str:
    counts = ", ".join(f"{v} ×{n}" for v, n in sorted(item.verdicts.items()))
    done = "✓ " if item.adjudication is not None else ""
    gold = " · gold" if item.is_gold else ""
    return f"{done}{item.uid}\n{', '.join(item.reasons)}{gold} · {counts or 'no verdicts'}"


class ReviewWindow(LeadWindow):
    """A top-level window. ``loaded`` fires when the queue is listed, ``shown`` when an
    item's detail is on screen, ``decided`` after an adjudication was saved."""

    loaded = Signal()
    shown = Signal(int)
    decided = Signal(object)

    def __init__(
        self,
        bg: Background,
        db: Database,
        project: str,
        *,
        lead: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(bg, db, project, lead=lead, parent=parent)
        self.schema: LabelSchema | None = None
        self.items: list[ReviewItem] = []
        self.picked: list[str] = []
        self.current: ReviewItem | None = None
        self.detail: ItemDetail | None = None
        self.cards: list[LabelCard] = []
        self.panel: LabelPanel | None = None
        self._busy = 0
        self.setWindowTitle(f"Review - {project}")
        self.resize(1400, 880)

        main = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.show_disagree = QCheckBox("Disagreements")
        self.show_disagree.setChecked(True)
        self.show_flagged = QCheckBox("Flagged")
        self.show_flagged.setChecked(True)
        self.tag_disagree = QCheckBox("Tags too")
        self.tag_disagree.setToolTip("Also list items whose labels differ only in their tags")
        self.show_done = QCheckBox("Include adjudicated")
        for box in (self.show_disagree, self.show_flagged, self.tag_disagree, self.show_done):
            box.toggled.connect(lambda _c: self.reload())
            bar.addWidget(box)
        bar.addSpacing(12)
        self.pick_edit = QLineEdit()
        self.pick_edit.setPlaceholderText("Pick an item by uid…")
        self.pick_edit.returnPressed.connect(self.pick)
        bar.addWidget(self.pick_edit, 1)
        self.pick_button = QPushButton("Add to queue")
        self.pick_button.clicked.connect(self.pick)
        bar.addWidget(self.pick_button)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.reload)
        bar.addWidget(self.refresh_button)
        main.addLayout(bar)
        self.status = plain_label("")
        self.status.setObjectName("reviewStatus")
        main.addWidget(self.status)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.setChildrenCollapsible(False)
        self.queue = QListWidget()
        self.queue.setMinimumWidth(200)
        self.queue.setSpacing(2)
        self.queue.setAlternatingRowColors(True)
        self.queue.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.queue.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.queue.currentRowChanged.connect(self._row_changed)
        split.addWidget(self.queue)
        self.trace_view = TraceView(find_shortcut=True)
        self.trace_view.setMinimumWidth(320)
        split.addWidget(self.trace_view)

        # Labels side by side, the final label, history and comments as tabs: the labels get
        # the full height (spans and rationales are long), the lead switches to write.
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        self.item_header = plain_label("Select an item")
        self.item_header.setObjectName("itemHeader")
        right_layout.addWidget(self.item_header)
        self.cards_box = QWidget()
        self.cards_layout = QHBoxLayout(self.cards_box)
        self.cards_layout.setContentsMargins(0, 0, 0, 0)
        cards_scroll = scrolled(self.cards_box)
        self.tabs = QTabWidget()
        self.tabs.addTab(cards_scroll, "Labels")
        final = QWidget()
        final_layout = QVBoxLayout(final)
        final_layout.setContentsMargins(0, 0, 0, 0)
        self.panel_holder = QVBoxLayout()
        final_layout.addLayout(self.panel_holder, 1)
        note_row = QHBoxLayout()
        self.span_button = QPushButton("Add selected text as span")
        self.span_button.setToolTip("Select a passage in the trace, then add it as evidence")
        self.span_button.clicked.connect(self.add_selected_span)
        note_row.addWidget(self.span_button)
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText("Note for the history (optional)")
        note_row.addWidget(self.note_edit, 1)
        self.final_button = QPushButton("Write final label")
        self.final_button.clicked.connect(self.write_final)
        note_row.addWidget(self.final_button)
        final_layout.addLayout(note_row)
        self.tabs.addTab(final, "Final label")
        self.history = QPlainTextEdit()
        self.history.setReadOnly(True)
        self.tabs.addTab(self.history, "History")
        thread = QWidget()
        thread_layout = QVBoxLayout(thread)
        thread_layout.setContentsMargins(0, 0, 0, 0)
        self.comments = QPlainTextEdit()
        self.comments.setReadOnly(True)
        thread_layout.addWidget(self.comments, 1)
        self.comment_edit = QPlainTextEdit()
        self.comment_edit.setPlaceholderText("Write a comment (the labeler who flagged it sees it)")
        self.comment_edit.setFixedHeight(64)
        thread_layout.addWidget(self.comment_edit)
        self.comment_button = QPushButton("Add comment")
        self.comment_button.clicked.connect(self.add_comment)
        thread_layout.addWidget(self.comment_button, 0, Qt.AlignmentFlag.AlignRight)
        self.tabs.addTab(thread, "Comments")
        right_layout.addWidget(self.tabs, 1)
        split.addWidget(right)
        split.setSizes([230, 470, 700])
        main.addWidget(split, 1)
        self._set_item_enabled(False)
        self._filters = (self.show_disagree, self.show_flagged, self.tag_disagree, self.show_done)
        tune_base(self._filters, self.palette())
        self._start()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "_filters"):
            tune_base(self._filters, self.palette())

    # -- background plumbing ----------------------------------------------------------------

    def _run(
        self,
        fn: Callable[[], Any],
        on_success: Callable[[Any], None],
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Run ``fn`` on a worker; callbacks (on the GUI thread) are dropped if the window is
        gone. Errors without a handler show in the status line."""
        self._busy += 1

        def ok(result: Any) -> None:
            self._busy -= 1
            on_success(result)

        def failed(exc: BaseException) -> None:
            self._busy -= 1
            (on_failure or self._error)(exc)

        self.bg.run(fn, ok, failed, context=self)

    def is_settled(self) -> bool:
        """No job of this window is running (tests and screenshots wait for it)."""
        return self._busy == 0

    def _error(self, exc: BaseException) -> None:
        self.status.setText(str(exc))

    def _set_item_enabled(self, enabled: bool) -> None:
        for widget in (
            self.final_button,
            self.span_button,
            self.comment_button,
            self.note_edit,
            self.comment_edit,
        ):
            widget.setEnabled(enabled)

    # -- queue ------------------------------------------------------------------------------

    def _start(self) -> None:
        db, project = self.db, self.project
        self._run(lambda: project_info(db, project).schema, self._schema_loaded)

    def _schema_loaded(self, schema: LabelSchema) -> None:
        self.schema = schema
        self.panel = LabelPanel(schema, Keymap(()))  # no key badges: this window has no keys
        self.panel_holder.addWidget(self.panel)
        self.reload()

    def reasons(self) -> tuple[str, ...]:
        chosen = []
        if self.show_disagree.isChecked():
            chosen.append(DISAGREE)
        if self.show_flagged.isChecked():
            chosen.append(FLAGGED)
        return tuple(chosen)

    def _queue_job(self) -> Callable[[], list[ReviewItem]]:
        """The queue query with the filters as they are now (read here, on the GUI thread)."""
        db, project, lead = self.db, self.project, self.lead
        reasons, picked = self.reasons(), tuple(self.picked)
        tags, done = self.tag_disagree.isChecked(), self.show_done.isChecked()
        return lambda: review_queue(
            db,
            project,
            lead=lead,
            reasons=reasons,
            picked=picked,
            tag_disagreement=tags,
            include_adjudicated=done,
            limit=QUEUE_LIMIT,
        )

    def reload(self) -> None:
        if self.schema is None:
            return
        self.status.setText("loading the review queue…")
        self._run(self._queue_job(), self._queue_loaded)

    def _queue_loaded(self, items: list[ReviewItem]) -> None:
        keep = self.current.trace_id if self.current is not None else None
        self.items = items
        self.queue.blockSignals(True)
        self.queue.clear()
        for item in items:
            row = QListWidgetItem(_item_text(item))
            row.setToolTip(item.preview)
            self.queue.addItem(row)
        self.queue.blockSignals(False)
        more = " (the first ones)" if len(items) >= QUEUE_LIMIT else ""
        self.status.setText(f"{len(items)} items to review{more}")
        self.loaded.emit()
        ids = [i.trace_id for i in items]
        if keep in ids:
            self.queue.setCurrentRow(ids.index(keep))
        elif items:
            self.queue.setCurrentRow(0)
        else:
            self._clear_item("Nothing to review with these filters.")

    def pick(self) -> None:
        """Add any item (by uid) to the queue, e.g. one the lead wants to check."""
        uid = self.pick_edit.text().strip()
        if not uid:
            return
        if uid not in self.picked:
            self.picked.append(uid)

        def failed(exc: BaseException) -> None:
            self.picked.remove(uid)
            self._error(exc)

        def loaded(items: list[ReviewItem]) -> None:
            self.pick_edit.clear()
            self.current = next((i for i in items if i.uid == uid), self.current)
            self._queue_loaded(items)

        self._run(self._queue_job(), loaded, failed)

    # -- one item ---------------------------------------------------------------------------

    def _row_changed(self, row: int) -> None:
        if not 0 <= row < len(self.items):
            return
        self.current = item = self.items[row]
        self.item_header.setText(f"Loading {item.uid}…")
        db, project, lead = self.db, self.project, self.lead

        def shown(detail: ItemDetail) -> None:
            if self.current is None or self.current.trace_id != item.trace_id:
                return  # the lead moved on meanwhile
            self._show(item, detail)

        self._run(lambda: load_detail(db, project, lead, item.trace_id), shown)

    def _clear_item(self, message: str) -> None:
        self.current = None
        self.detail = None
        self.item_header.setText(message)
        self.trace_view.set_trace(None)
        self._set_cards([])
        self.tabs.setTabText(0, "Labels")
        self.history.setPlainText("")
        self.comments.setPlainText("")
        self._set_item_enabled(False)

    def _show(self, item: ReviewItem, detail: ItemDetail) -> None:
        self.detail = detail
        spans = [s for label in item.labels for s in label.spans]
        self.trace_view.set_trace(detail.trace, spans)
        header = f"{item.uid} · {', '.join(item.reasons)}"
        if item.is_gold and item.gold is not None:
            header += f" · gold answer: {item.gold.verdict}"
        if item.adjudication is not None:
            who = item.adjudication.accepted_from or "written by the lead"
            header += f" · decided: {item.adjudication.verdict} ({who})"
        self.item_header.setText(header)
        self._set_cards(list(item.labels), detail.trace)
        self.tabs.setTabText(0, f"Labels ({len(item.labels)})")
        self._show_history(detail.history)
        self._show_comments(detail.comments)
        if self.panel is not None:
            latest = detail.history[-1].label if detail.history else None
            if latest is not None:
                filled = tuple(with_text(s, detail.trace) for s in latest.spans)
                latest = latest.model_copy(update={"spans": filled})
                self.panel.set_label(latest, "Current final label")
            else:
                self.panel.set_label(Label(), "No final label yet")
        self._set_item_enabled(True)
        self.shown.emit(item.trace_id)

    def _set_cards(self, labels: list[ReviewLabel], trace: Trace | None = None) -> None:
        for card in self.cards:
            self.cards_layout.removeWidget(card)
            card.deleteLater()
        self.cards = []
        if self.schema is None:
            return
        for label in labels:
            card = LabelCard(label, self.schema, trace)
            card.spanClicked.connect(self._highlight)
            card.acceptClicked.connect(self.accept)
            card.editClicked.connect(self.start_from)
            self.cards_layout.addWidget(card)
            self.cards.append(card)

    def _highlight(self, span: EvidenceSpan) -> None:
        self.trace_view.set_spans([span])
        self.trace_view.scroll_to_span(span)

    def _show_history(self, history: list[AdjudicationInfo]) -> None:
        lines = []
        for n, adj in enumerate(reversed(history)):
            how = f"accepted {adj.accepted_from}'s label" if adj.accepted_from else "wrote it"
            mark = "current · " if n == 0 else ""
            lines.append(
                f"{mark}{adj.created_at:%Y-%m-%d %H:%M} UTC · {adj.lead} {how}: {adj.verdict}"
            )
            if adj.note:
                lines.append(f"    note: {adj.note}")
        self.history.setPlainText("\n".join(lines) or "No decision yet.")
        self.tabs.setTabText(2, f"History ({len(history)})")

    def _show_comments(self, comments: list[CommentView]) -> None:
        blocks = [
            f"{c.author} ({c.author_role or 'former member'}) · {c.created_at:%Y-%m-%d %H:%M} "
            f"UTC\n{c.body}"
            for c in comments
        ]
        self.comments.setPlainText("\n\n".join(blocks) or "No comments yet.")
        self.tabs.setTabText(3, f"Comments ({len(comments)})")

    def _reload_current(self, message: str) -> None:
        item = self.current
        if item is None:
            return
        self.status.setText(message)
        if item in self.items:
            self._row_changed(self.items.index(item))

    # -- decisions and comments -------------------------------------------------------------

    def accept(self, labeler: str) -> None:
        item = self.current
        if item is None:
            return
        db, project, lead, note = self.db, self.project, self.lead, self.note_edit.text().strip()

        def done(info: AdjudicationInfo) -> None:
            self.note_edit.clear()
            self._decided(item, info, f"Accepted {labeler}'s label for {item.uid}.")

        self._run(
            lambda: accept_label(
                db,
                project,
                lead=lead,
                trace=item.trace_id,
                label_of_labeler=labeler,
                note=note or None,
            ),
            done,
        )

    def write_final(self) -> None:
        item, panel = self.current, self.panel
        if item is None or panel is None:
            return
        label = panel.label()
        db, project, lead, note = self.db, self.project, self.lead, self.note_edit.text().strip()

        def done(info: AdjudicationInfo) -> None:
            self.note_edit.clear()
            self._decided(item, info, f"Final label written for {item.uid}.")

        def failed(exc: BaseException) -> None:
            if isinstance(exc, ReviewError) and panel is self.panel:
                panel.set_problems([str(exc)])
                self.tabs.setCurrentIndex(1)  # where the problem is
            self._error(exc)

        self._run(
            lambda: set_final_label(
                db, project, lead=lead, trace=item.trace_id, label=label, note=note or None
            ),
            done,
            failed,
        )

    def start_from(self, label: ReviewLabel) -> None:
        """Load a labeler's label into the final-label form, to amend before writing it."""
        if self.panel is None:
            return
        trace = self.detail.trace if self.detail is not None else None
        self.panel.set_label(
            Label(
                verdict=label.verdict,
                tags=label.tags,
                counter_tags=label.counter_tags,
                confidence=label.confidence,
                rationale=label.rationale,
                spans=tuple(with_text(s, trace) for s in label.spans),
            ),
            f"From {label.labeler}'s label (not saved yet)",
        )
        self.tabs.setCurrentIndex(1)

    def add_selected_span(self) -> None:
        """The passage selected in the trace becomes an evidence span of the final label."""
        span = self.trace_view.selected_span()
        if self.panel is None:
            return
        if span is None:
            self.panel.set_problems(["Select a passage in the trace first."])
            return
        self.panel.add_span(span)

    def _decided(self, item: ReviewItem, info: AdjudicationInfo, message: str) -> None:
        """Mark the item as decided in the list (it stays until the next refresh)."""
        if item in self.items:
            row = self.items.index(item)
            updated = replace(item, adjudication=info)
            self.items[row] = updated
            list_item = self.queue.item(row)
            if list_item is not None:
                list_item.setText(_item_text(updated))
            if self.current is item:
                self.current = updated
        self.decided.emit(info)
        self._reload_current(message)

    def add_comment(self) -> None:
        item = self.current
        body = self.comment_edit.toPlainText().strip()
        if item is None or not body:
            return
        db, project, lead = self.db, self.project, self.lead

        def done(_comment: CommentView) -> None:
            self.comment_edit.clear()
            self._reload_current(f"Comment added to {item.uid}.")

        self._run(
            lambda: add_comment(db, project, author=lead, trace=item.trace_id, body=body), done
        )
