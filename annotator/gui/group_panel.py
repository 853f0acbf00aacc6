"""The "Context" tab: the campaign around the open trace. Its prompt cluster, session and account,
each with counts, a timeline of requests (when in the day, how regular) and the sibling traces
to open; the group labels that apply to the trace; and labeling a whole group.

pyqtgraph costs about a second to import, so it is imported the first time a timeline is drawn,
which happens only while this tab is on screen. Trace text (previews, templates) is shown as
plain text only."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import UTC
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QFont, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from annotator.domain.label import Label, validate_label
from annotator.domain.schema import LabelSchema, TagLevel

if TYPE_CHECKING:
    from annotator.services.detection.groups import (
        DerivedLabelView,
        GroupContext,
        GroupInfo,
        GroupLabelView,
    )

PREVIEW = 120
TEMPLATE_PREVIEW = 300
ID_ROLE = Qt.ItemDataRole.UserRole + 1
POINT = "#4e79a7"
BAR = "#f28e2b"
TIMELINE_HEIGHT = 190
MAX_LABELS_HEIGHT = 140
MIN_REGULAR = 4
"""Requests needed before the spacing is called regular or not (two gaps prove nothing)."""
KIND_TITLES = {"cluster": "Prompt cluster", "session": "Session", "account": "Account"}


@dataclass(frozen=True)
class ContextData:
    """Everything the tab shows for one trace, loaded on a worker in one job."""

    context: GroupContext
    labels: list[GroupLabelView] = field(default_factory=list)
    derived: list[DerivedLabelView] = field(default_factory=list)


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def duration_text(seconds: float) -> str:
    """``45 s``, ``16 min``, ``3.5 h``, ``12 days``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


def regularity_text(cv: float | None) -> str:
    """How machine-like the spacing of requests is (coefficient of variation of the gaps)."""
    if cv is None:
        return ""
    if cv < 0.1:
        return "machine-regular"
    if cv < 0.5:
        return "fairly regular"
    return "irregular"


def stats_text(info: GroupInfo) -> str:
    parts = [
        f"{info.size:,} request{'s' if info.size != 1 else ''}",
        f"{info.n_accounts:,} account{'s' if info.n_accounts != 1 else ''}",
        f"{info.n_sessions:,} session{'s' if info.n_sessions != 1 else ''}",
    ]
    lines = [" · ".join(parts)]
    if info.first_at is not None and info.last_at is not None:
        span = (info.last_at - info.first_at).total_seconds()
        first = info.first_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        last = info.last_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        lines.append(f"{first} → {last} UTC (span {duration_text(span)})")
    if info.median_gap is not None:
        gap = f"median gap {duration_text(info.median_gap)}"
        if info.gap_cv is not None and info.size >= MIN_REGULAR:
            gap += f", spread {info.gap_cv:.2f} ({regularity_text(info.gap_cv)})"
        lines.append(gap)
    busiest = max(range(24), key=lambda h: info.hours[h]) if any(info.hours) else None
    if busiest is not None:
        share = info.hours[busiest] / max(sum(info.hours), 1)
        lines.append(f"busiest hour {busiest:02d}:00 UTC ({share:.0%} of requests)")
    return "\n".join(lines)


def label_text(label: Label, titles: dict[str, str]) -> str:
    verdict = titles.get(label.verdict or "", label.verdict or "no verdict")
    tags = ", ".join((*label.tags, *label.counter_tags))
    conf = f" · confidence {label.confidence}" if label.confidence is not None else ""
    return f"{verdict}{conf}" + (f" · {tags}" if tags else "")


class Timeline(QWidget):
    """Requests over time (x: date, y: hour of day UTC, so a daily rhythm or a burst at 03:00
    shows) and the spread of the gaps between consecutive requests (histogram of log10 seconds:
    one narrow bar is a machine clock, a wide hump is people)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(2)
        self.caption = QLabel(
            "Left: each request by date and hour of day (UTC). Right: gaps between "
            "consecutive requests (log scale; one narrow bar is a machine clock)."
        )
        self.caption.setWordWrap(True)
        small = QFont(self.caption.font())
        small.setPointSizeF(max(small.pointSizeF() * 0.85, 7.0))
        self.caption.setFont(small)
        self._layout.addWidget(self.caption)
        self.setFixedHeight(TIMELINE_HEIGHT)
        self.graphics: Any = None
        self.scatter: Any = None
        self.bars: Any = None
        self.points = 0
        """Requests drawn by the last ``draw`` (tests read it)."""
        self.gap_bars = 0

    def _ensure(self) -> Any:
        import pyqtgraph as pg

        if self.graphics is None:
            self.graphics = pg.GraphicsLayoutWidget()
            self.graphics.setObjectName("timeline")
            self.graphics.ci.setContentsMargins(2, 2, 2, 2)
            date_axis = pg.DateAxisItem(orientation="bottom", utcOffset=0)
            self.time_plot = self.graphics.addPlot(row=0, col=0, axisItems={"bottom": date_axis})
            self.gap_plot = self.graphics.addPlot(row=0, col=1)
            self.graphics.ci.layout.setColumnStretchFactor(0, 3)
            self.graphics.ci.layout.setColumnStretchFactor(1, 2)
            self.time_plot.setLabel("left", "hour UTC")
            self.time_plot.setYRange(0, 24, padding=0.02)
            self.time_plot.getAxis("left").setTicks([[(h, f"{h:02d}") for h in (0, 6, 12, 18, 24)]])
            ticks = [(math.log10(s), t) for s, t in ((1, "1s"), (60, "1m"), (3600, "1h"))]
            ticks.append((math.log10(86400), "1d"))
            self.gap_plot.getAxis("bottom").setTicks([ticks])
            self.gap_plot.getAxis("left").setWidth(28)
            for plot in (self.time_plot, self.gap_plot):
                plot.setMenuEnabled(False)
                plot.setMouseEnabled(x=False, y=False)
                plot.hideButtons()
                plot.showGrid(x=False, y=True, alpha=0.2)
            self._layout.insertWidget(0, self.graphics, 1)
            self.apply_palette(self.palette())
        return pg

    def apply_palette(self, palette: QPalette) -> None:
        if self.graphics is None:
            return
        import pyqtgraph as pg

        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        self.graphics.setBackground(base)
        for plot in (self.time_plot, self.gap_plot):
            for side in ("left", "bottom"):
                axis = plot.getAxis(side)
                axis.setPen(pg.mkPen(text))
                axis.setTextPen(pg.mkPen(text))

    def draw(self, info: GroupInfo) -> None:
        pg = self._ensure()
        self.time_plot.clear()
        self.gap_plot.clear()
        stamps = [t.timestamp() for t in info.times]
        hours = [
            t.astimezone(UTC).hour + t.astimezone(UTC).minute / 60 + t.second / 3600
            for t in info.times
        ]
        self.scatter = pg.ScatterPlotItem(
            x=stamps, y=hours, size=6, pen=pg.mkPen(None), brush=pg.mkBrush(POINT)
        )
        self.time_plot.addItem(self.scatter)
        self.points = len(stamps)
        if stamps:
            lo, hi = min(stamps), max(stamps)
            pad = max((hi - lo) * 0.05, 60.0)
            self.time_plot.setXRange(lo - pad, hi + pad, padding=0)
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        counts = [0] * 13  # half-decade bins of log10(seconds) from 0 (1 s) to 6 (11 days)
        for gap in gaps:
            where = 0.0 if gap <= 1 else math.log10(gap)
            counts[min(int(where * 2), len(counts) - 1)] += 1
        xs = [i / 2 + 0.25 for i in range(len(counts))]
        self.bars = pg.BarGraphItem(x=xs, height=counts, width=0.45, brush=pg.mkBrush(BAR))
        self.bars.setOpts(pen=pg.mkPen(None))
        self.gap_plot.addItem(self.bars)
        self.gap_plot.setXRange(0, 6.5, padding=0)
        self.gap_bars = sum(1 for c in counts if c)


class GroupSection(QGroupBox):
    """One group (cluster, session or account): counts, timeline, siblings, "Label this group"."""

    openTrace = Signal(int)
    labelGroup = Signal(str, str)

    def __init__(self, kind: str, parent: QWidget | None = None) -> None:
        super().__init__(KIND_TITLES[kind], parent)
        self.kind = kind
        self.info: GroupInfo | None = None
        self._drawn: GroupInfo | None = None
        layout = QVBoxLayout(self)
        layout.setSpacing(4)
        self.stats = QLabel("")
        self.stats.setObjectName(f"{kind}Stats")
        self.stats.setTextFormat(Qt.TextFormat.PlainText)
        self.stats.setWordWrap(True)
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.stats)
        self.template = QLabel("")
        self.template.setTextFormat(Qt.TextFormat.PlainText)
        self.template.setWordWrap(True)
        self.template.setVisible(False)
        layout.addWidget(self.template)
        self.timeline = Timeline()
        layout.addWidget(self.timeline)
        self.sibling_note = QLabel("")
        self.sibling_note.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(self.sibling_note)
        self.siblings = QTreeWidget()
        self.siblings.setObjectName(f"{kind}Siblings")
        self.siblings.setHeaderLabels(["When (UTC)", "Account", "Prompt"])
        self.siblings.setRootIsDecorated(False)
        self.siblings.setUniformRowHeights(True)
        self.siblings.setAlternatingRowColors(True)
        self.siblings.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.siblings.setMinimumHeight(90)
        self.siblings.setMaximumHeight(180)
        self.siblings.setColumnWidth(0, 118)
        self.siblings.setColumnWidth(1, 100)
        self.siblings.setToolTip("Double-click (or Enter) opens the trace")
        self.siblings.itemActivated.connect(self._activated)  # double-click or Enter
        layout.addWidget(self.siblings)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.label_button = QPushButton("Label this group…")
        self.label_button.setObjectName(f"label_{kind}")
        self.label_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.label_button.clicked.connect(self._label_clicked)
        buttons.addWidget(self.label_button)
        layout.addLayout(buttons)

    def set_info(self, info: GroupInfo | None) -> None:
        self.info = info
        self.setVisible(info is not None)
        self.siblings.clear()
        if info is None:
            return
        key = f"#{info.key}" if info.kind == "cluster" else info.key
        self.setTitle(f"{KIND_TITLES[info.kind]} {_one_line(key, 40)}")
        self.stats.setText(stats_text(info))
        if info.template:
            self.template.setText("Template: " + _one_line(info.template, TEMPLATE_PREVIEW))
            self.template.setToolTip(info.template[:2000])
        self.template.setVisible(bool(info.template))
        for sib in info.siblings:
            when = (
                sib.created_at.astimezone(UTC).strftime("%m-%d %H:%M:%S") if sib.created_at else ""
            )
            item = QTreeWidgetItem([when, sib.account_id or "", _one_line(sib.preview, PREVIEW)])
            item.setData(0, ID_ROLE, sib.trace_id)
            item.setToolTip(2, _one_line(sib.preview, 600))
            self.siblings.addTopLevelItem(item)
        others = info.size - 1
        shown = len(info.siblings)
        if others <= 0:
            self.sibling_note.setText("No other trace in this group.")
        elif shown < others:
            self.sibling_note.setText(f"Other traces: first {shown:,} of {others:,}")
        else:
            self.sibling_note.setText(f"Other traces ({others:,})")
        self.siblings.setVisible(shown > 0)

    def draw_timeline(self) -> None:
        """Draw the timeline if the group changed since the last drawing (imports pyqtgraph)."""
        if self.info is not None and self.info is not self._drawn:
            self.timeline.draw(self.info)
            self._drawn = self.info

    def _activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        trace_id = item.data(0, ID_ROLE)
        if isinstance(trace_id, int):
            self.openTrace.emit(trace_id)

    def _label_clicked(self) -> None:
        if self.info is not None:
            self.labelGroup.emit(self.info.kind, self.info.key)


class GroupPanel(QWidget):
    """The Context tab. Signals ask the window to act: open a sibling, label a group, apply a
    group label (the panel itself never touches the database)."""

    openTrace = Signal(int)
    labelGroup = Signal(str, str)
    applyLabel = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("groupPanel")
        self.data: ContextData | None = None
        self.is_lead = False
        self._titles: dict[str, str] = {}
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer.addWidget(scroll)
        body = QWidget()
        scroll.setWidget(body)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(8, 6, 8, 6)
        self.message = QLabel("Open a trace to see its campaign context.")
        self.message.setObjectName("contextMessage")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)
        layout.addWidget(self.message)

        self.labels_box = QGroupBox("Group labels on this trace's groups")
        lb = QVBoxLayout(self.labels_box)
        self.label_list = QListWidget()
        self.label_list.setObjectName("groupLabels")
        self.label_list.setWordWrap(True)
        self.label_list.currentItemChanged.connect(lambda *_: self._update_apply())
        lb.addWidget(self.label_list)
        row = QHBoxLayout()
        row.addStretch(1)
        self.apply_button = QPushButton("Apply to unlabeled members")
        self.apply_button.setObjectName("applyGroupLabel")
        self.apply_button.setToolTip(
            "Lead: give the selected group label to every member without a label yet "
            "(recorded as derived from the group, not as anyone's trace label)"
        )
        self.apply_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.apply_button.clicked.connect(self._apply_clicked)
        row.addWidget(self.apply_button)
        lb.addLayout(row)
        self.labels_box.setVisible(False)
        layout.addWidget(self.labels_box)

        self.sections = {kind: GroupSection(kind) for kind in ("cluster", "session", "account")}
        for section in self.sections.values():
            section.setVisible(False)
            section.openTrace.connect(self.openTrace.emit)
            section.labelGroup.connect(self.labelGroup.emit)
            layout.addWidget(section)
        layout.addStretch(1)
        self._update_apply()

    def set_verdict_titles(self, titles: dict[str, str]) -> None:
        self._titles = dict(titles)

    def set_lead(self, is_lead: bool) -> None:
        self.is_lead = is_lead
        self._update_apply()

    def show_message(self, text: str) -> None:
        """Nothing to show (loading, an error, no trace)."""
        self.data = None
        self.message.setText(text)
        self.message.setVisible(True)
        self.labels_box.setVisible(False)
        for section in self.sections.values():
            section.set_info(None)

    def set_data(self, data: ContextData) -> None:
        self.data = data
        ctx = data.context
        infos = {"cluster": ctx.cluster, "session": ctx.session, "account": ctx.account}
        for kind, section in self.sections.items():
            section.set_info(infos[kind])
        none = all(info is None for info in infos.values())
        self.message.setText(
            "This trace has no cluster, session or account yet: run Tools > Run detection."
            if none
            else ""
        )
        self.message.setVisible(none)
        self.label_list.clear()
        for view in data.labels:
            text = (
                f"{KIND_TITLES.get(view.kind, view.kind)} {view.key} · "
                f"{label_text(view.label, self._titles)} · by {view.annotator}"
            )
            item = QListWidgetItem(text)
            item.setData(ID_ROLE, view.id)
            item.setToolTip(view.label.rationale[:2000] or text)
            self.label_list.addItem(item)
        for derived in data.derived:
            item = QListWidgetItem(
                f"Applied to this trace by {derived.applied_by} from "
                f"{derived.kind} {derived.key}: {label_text(derived.label, self._titles)}"
            )
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsSelectable)
            self.label_list.addItem(item)
        self.labels_box.setVisible(bool(data.labels or data.derived))
        # Rows wrap; the list's own row hints assume one line, so measure the wrapped text.
        fm = self.label_list.fontMetrics()
        width = max(self.label_list.viewport().width(), 300) - 12
        rows = 0
        for i in range(self.label_list.count()):
            item = self.label_list.item(i)
            text = item.text() if item is not None else ""
            box = fm.boundingRect(QRect(0, 0, width, 10_000), Qt.TextFlag.TextWordWrap, text)
            rows += box.height() + 4
        frame = 2 * self.label_list.frameWidth() + 4
        self.label_list.setFixedHeight(min(max(rows + frame, 28), MAX_LABELS_HEIGHT))
        if data.labels:
            self.label_list.setCurrentRow(0)
        self._update_apply()
        if self.isVisible():
            self.draw_timelines()

    def draw_timelines(self) -> None:
        for section in self.sections.values():
            if section.info is not None:
                section.draw_timeline()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.draw_timelines()

    def changeEvent(self, event: Any) -> None:
        super().changeEvent(event)
        from PySide6.QtCore import QEvent

        if event.type() == QEvent.Type.PaletteChange:
            for section in self.sections.values():
                section.timeline.apply_palette(self.palette())

    def _selected_label(self) -> int | None:
        item = self.label_list.currentItem()
        value = item.data(ID_ROLE) if item is not None else None
        return value if isinstance(value, int) else None

    def _update_apply(self) -> None:
        self.apply_button.setVisible(self.is_lead)
        self.apply_button.setEnabled(self.is_lead and self._selected_label() is not None)

    def _apply_clicked(self) -> None:
        label_id = self._selected_label()
        if label_id is not None:
            self.applyLabel.emit(label_id)


class GroupLabelDialog(QDialog):
    """Label a whole cluster, session or account: verdict, group-level and counter tags,
    confidence, rationale. Checked against the schema before it is accepted."""

    def __init__(
        self, schema: LabelSchema, kind: str, key: str, size: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.schema = schema
        self.setWindowTitle("Label this group")
        layout = QVBoxLayout(self)
        what = f"{KIND_TITLES.get(kind, kind)} {key}"
        intro = QLabel(
            f"{what}: {size:,} trace{'s' if size != 1 else ''}. The label is shown as context "
            "on every member; a lead can apply it to the members nobody has labeled yet."
        )
        intro.setTextFormat(Qt.TextFormat.PlainText)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        verdicts = QGroupBox("Verdict")
        vl = QVBoxLayout(verdicts)
        self.verdicts = QButtonGroup(self)
        self._verdict_buttons: dict[str, QRadioButton] = {}
        for verdict in schema.verdicts:
            button = QRadioButton(verdict.title)
            button.setToolTip(verdict.description)
            self.verdicts.addButton(button)
            self._verdict_buttons[verdict.value] = button
            vl.addWidget(button)
        layout.addWidget(verdicts)
        conf = schema.confidence
        conf_box = QGroupBox("Confidence")
        cl = QHBoxLayout(conf_box)
        self.confidence = QButtonGroup(self)
        for level in range(conf.min, conf.max + 1):
            button = QRadioButton(str(level))
            button.setToolTip(conf.descriptions.get(str(level), ""))
            self.confidence.addButton(button, level)
            cl.addWidget(button)
        none = QRadioButton("none")
        self.confidence.addButton(none, -1)
        cl.addWidget(none)
        cl.addStretch(1)
        layout.addWidget(conf_box)
        tags_box = QGroupBox("Group-level tags")
        grid = QGridLayout(tags_box)
        self.tag_boxes: dict[str, QCheckBox] = {}
        self.counter_boxes: dict[str, QCheckBox] = {}
        group_tags = [t for t in schema.evidence_tags if t.level is TagLevel.GROUP]
        for i, tag in enumerate(group_tags):
            check = QCheckBox(tag.name)
            check.setToolTip(tag.description)
            self.tag_boxes[tag.name] = check
            grid.addWidget(check, i // 2, i % 2)
        start = (len(group_tags) + 1) // 2
        for i, tag in enumerate(schema.counter_tags):
            check = QCheckBox(tag.name)
            check.setToolTip("Counter-evidence: " + tag.description)
            self.counter_boxes[tag.name] = check
            grid.addWidget(check, start + i // 2, i % 2)
        layout.addWidget(tags_box)
        layout.addWidget(QLabel("Rationale"))
        self.rationale = QPlainTextEdit()
        self.rationale.setObjectName("groupRationale")
        self.rationale.setFixedHeight(70)
        layout.addWidget(self.rationale)
        self.problems = QLabel("")
        self.problems.setTextFormat(Qt.TextFormat.PlainText)
        self.problems.setWordWrap(True)
        bold = QFont(self.problems.font())
        bold.setBold(True)
        self.problems.setFont(bold)
        self.problems.setVisible(False)
        layout.addWidget(self.problems)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Label the group")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def set_label(self, label: Label) -> None:
        if label.verdict in self._verdict_buttons:
            self._verdict_buttons[label.verdict].setChecked(True)
        button = self.confidence.button(label.confidence if label.confidence is not None else -1)
        if button is not None and (label.confidence is not None or label.verdict):
            button.setChecked(True)
        for name, check in self.tag_boxes.items():
            check.setChecked(name in label.tags)
        for name, check in self.counter_boxes.items():
            check.setChecked(name in label.counter_tags)
        self.rationale.setPlainText(label.rationale)

    def label(self) -> Label:
        verdict = next((v for v, b in self._verdict_buttons.items() if b.isChecked()), None)
        level = self.confidence.checkedId()
        return Label(
            verdict=verdict,
            tags=tuple(n for n, c in self.tag_boxes.items() if c.isChecked()),
            counter_tags=tuple(n for n, c in self.counter_boxes.items() if c.isChecked()),
            confidence=None if level == -1 else level,
            rationale=self.rationale.toPlainText().strip(),
        )

    def set_problems(self, problems: list[str]) -> None:
        self.problems.setText("\n".join(f"• {p}" for p in problems))
        self.problems.setVisible(bool(problems))

    def accept(self) -> None:
        problems = validate_label(self.label(), self.schema)
        if problems:
            self.set_problems(problems)
            return
        super().accept()
