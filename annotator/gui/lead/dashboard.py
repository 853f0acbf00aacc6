"""The lead's dashboard: progress over time, throughput, time per item, verdicts and tags,
agreement per labeler and over time, gold accuracy, and how good the heuristic suggestions are
(the detector report); each chart exports as PNG.

The numbers come from :func:`annotator.services.progress.progress`,
:func:`annotator.services.agreement.agreement_report` (without bootstrap: intervals are for the
CLI report, the dashboard wants speed) and
:func:`annotator.services.detection.lead_report.lead_detector_report`, computed on background
threads; the window only draws. After a refresh is shown (and when the window closes) the label
table behind the numbers is written to its snapshot file off the GUI thread, so the next open
starts from it instead of reading every label (see :mod:`annotator.services.label_table`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from annotator.gui.background import Background
from annotator.gui.lead.parts import bold, fill, fixed_table, fmt, plain_label, scrolled
from annotator.gui.lead.window import LeadWindow
from annotator.services.agreement import AgreementReport, agreement_report
from annotator.services.detection.lead_report import lead_detector_report
from annotator.services.detection.report import POSITIVE, Counts, DetectorReport
from annotator.services.progress import ProgressReport, flush_snapshots, progress
from annotator.services.projects import project_schema
from annotator.store.database import Database

log = logging.getLogger(__name__)

SERIES = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7")
"""Tableau 10: distinguishable on light and dark backgrounds."""
CHARTS = (
    ("progress", "Progress over time (cumulative submitted labels)"),
    ("throughput", "Throughput per labeler (items per active hour)"),
    ("time", "Time per item (seconds)"),
    ("verdicts", "Verdict distribution"),
    ("tags", "Tag distribution"),
    ("agreement", "Agreement per labeler (verdict)"),
    ("agreement_time", "Agreement over time (verdict, per day)"),
    ("gold", "Gold accuracy per labeler"),
)
DETECTOR_CHART = ("detector", "Detector precision and recall per tag")
"""Drawn inside the Detector section, below the grid of charts; exported like the others."""
COUNT_AXES = {"progress": "left", "time": "left", "verdicts": "bottom", "tags": "bottom"}
"""The axis of each chart that counts labels (whole-number ticks)."""
SLOW_REFRESH_MS = 1500
SLOW_REFRESH_NOTE = "refreshing… (the first time, every label is read once)"
"""Shown when a refresh takes longer than SLOW_REFRESH_MS: almost always the first one on
this machine, which reads every label (later ones read what changed)."""


@dataclass(frozen=True)
class DashboardData:
    """Everything one refresh shows; plain data, built off the GUI thread."""

    progress: ProgressReport
    agreement: AgreementReport
    seconds: float
    detector: DetectorReport | None = None
    """None when the project has no heuristic suggestion yet."""
    verdict_titles: dict[str, str] = field(default_factory=dict)
    """Verdict value -> its title in the project's schema ("cannot_determine" -> "Cannot
    determine"), as the labeling panel shows them."""


def load_progress(db: Database, project: str, lead: str, bucket: str) -> ProgressReport:
    """Lead-only (the service checks the role)."""
    return progress(db, project, lead=lead, bucket=bucket)


def load_agreement(db: Database, project: str, lead: str) -> AgreementReport:
    """Lead-only; the verdict sections the dashboard draws, without bootstrap and without the
    tag and span agreement (the Agreement window has those, with intervals): a first open
    after a day of work spends a fifth of its time less."""
    return agreement_report(db, project, lead=lead, bootstrap=0, detail=False)


def load_detector(db: Database, project: str, lead: str) -> DetectorReport | None:
    """Lead-only; None (and no label read) when the project has no suggestion yet."""
    return lead_detector_report(db, project, lead=lead)


def load_titles(db: Database, project: str) -> dict[str, str]:
    """The titles of the project's verdicts."""
    return {v.value: v.title for v in project_schema(db, project).verdicts}


def load_dashboard(db: Database, project: str, *, lead: str, bucket: str = "day") -> DashboardData:
    """The dashboard's numbers one after the other (the window runs them in parallel)."""
    start = time.perf_counter()
    report = load_progress(db, project, lead, bucket)
    agreement = load_agreement(db, project, lead)
    detector = load_detector(db, project, lead)
    titles = load_titles(db, project)
    return DashboardData(report, agreement, time.perf_counter() - start, detector, titles)


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class DayAxis(pg.DateAxisItem):  # type: ignore[misc]
    """UTC dates with the month ("Mar 02") once ticks are a day or more apart."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if spacing >= 86_400:
            return [datetime.fromtimestamp(v, UTC).strftime("%b %d") for v in values]
        result: list[str] = super().tickStrings(values, scale, spacing)
        return result


class CountAxis(pg.AxisItem):  # type: ignore[misc]
    """Whole-number ticks with thousands separators ("1,000,000", not "1e+06"); fractions
    (agreement, seconds between ticks under one) as pyqtgraph writes them. With ``whole``
    (an axis of counts) ticks are never less than one apart: no "0.5 labels"."""

    def __init__(self, orientation: str, *, whole: bool = False) -> None:
        super().__init__(orientation)
        self.whole = whole

    def tickSpacing(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, float]]:
        levels: list[tuple[float, float]] = super().tickSpacing(minVal, maxVal, size)
        if not self.whole:
            return levels
        return [(step, offset) for step, offset in levels if step >= 1] or [(1.0, 0.0)]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if spacing * scale >= 1:
            return [f"{v * scale:,.0f}" for v in values]
        result: list[str] = super().tickStrings(values, scale, spacing)
        return result


class Chart(QFrame):
    """A titled plot with its own "Export PNG…" button and a note shown when there is no data."""

    def __init__(
        self, key: str, title: str, *, date_axis: bool = False, counts: str | None = None
    ) -> None:
        super().__init__()
        self.key = key
        self.setObjectName("dashboardChart")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        head = QHBoxLayout()
        # Title and note wrap rather than widen the chart: two charts side by side fit a
        # 1280-pixel screen without scrolling sideways.
        self.title = bold(plain_label(title))
        head.addWidget(self.title, 1)
        self.note = plain_label()
        self.note.setObjectName("chartNote")
        head.addWidget(self.note, 1)
        self.export_button = QPushButton("Export PNG…")
        self.export_button.setToolTip("Save this chart as a PNG image")
        head.addWidget(self.export_button)
        layout.addLayout(head)
        # ``counts``: the axis ("left" or "bottom") that shows numbers of labels.
        left = CountAxis("left", whole=counts == "left")
        bottom = (
            DayAxis(orientation="bottom", utcOffset=0)
            if date_axis
            else CountAxis("bottom", whole=counts == "bottom")
        )
        axis = {"bottom": bottom, "left": left}
        # No context menus (they are disabled below anyway): a tenth less to build per chart.
        self.plot = pg.PlotWidget(axisItems=axis, enableMenu=False)
        self.plot.setMinimumHeight(230)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.showGrid(x=False, y=True, alpha=0.25)
        layout.addWidget(self.plot, 1)
        self.points = 0
        """Data points drawn by the last refresh (0: the chart is empty)."""
        self.legend: pg.LegendItem | None = None

    def clear(self) -> None:
        self.plot.clear()
        if self.legend is not None:
            self.legend.clear()
            self.legend.setVisible(False)
        for side in ("left", "bottom"):
            self.plot.getAxis(side).setTicks(None)
        self.points = 0
        self.note.setText("")

    def add_legend(self, offset: tuple[int, int] = (-10, 8)) -> pg.LegendItem:
        """The chart's legend, top right by default (one per chart: pyqtgraph keeps the
        first, so its place is set by the first call)."""
        if self.legend is None:
            text = self.palette().color(QPalette.ColorRole.Text)
            base = QColor(self.palette().color(QPalette.ColorRole.Base))
            base.setAlpha(210)
            self.legend = self.plot.addLegend(
                offset=offset, labelTextColor=text, brush=pg.mkBrush(base)
            )
        self.legend.setVisible(True)
        return self.legend

    def set_empty(self, why: str) -> None:
        self.note.setText(why)

    def export_png(self, path: Path) -> Path:
        """Write the plot (what is on screen, at screen resolution) as a PNG file."""
        if not self.plot.grab().save(str(path), "PNG"):
            raise OSError(f"could not write {path}")
        return path

    def apply_palette(self, palette: QPalette) -> None:
        """Plot background and axes follow the window's theme."""
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        self.plot.setBackground(base)
        for side in ("left", "bottom"):
            axis = self.plot.getAxis(side)
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))
        if self.legend is not None:
            self.legend.setLabelTextColor(text)
            faded = QColor(base)
            faded.setAlpha(210)
            self.legend.setBrush(pg.mkBrush(faded))
            for _sample, label in self.legend.items:
                label.setText(label.text, color=text)


def _bars(
    chart: Chart,
    names: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    horizontal: bool = False,
    colours: Sequence[str] | None = None,
) -> None:
    """Grouped bars of categorical data, one colour per series (a legend when several), or
    one colour per bar (``colours``, a single series)."""
    n = len(series)
    width = 0.8 / max(n, 1)
    if n > 1:
        chart.add_legend()
    for s, (label, values) in enumerate(series):
        where = [i - 0.4 + width * (s + 0.5) for i in range(len(names))]
        kept = [(w, float(v)) for w, v in zip(where, values, strict=True) if v is not None]
        if not kept:
            continue
        pos = [w for w, _ in kept]
        val = [v for _, v in kept]
        brush = pg.mkBrush(SERIES[s % len(SERIES)])
        kw = {"brush": brush}
        if colours is not None:
            kw = {
                "brushes": [pg.mkBrush(colours[i]) for i, v in enumerate(values) if v is not None]
            }
        if horizontal:
            item = pg.BarGraphItem(x0=0, y=pos, height=width * 0.9, width=val, **kw)
        else:
            item = pg.BarGraphItem(x=pos, height=val, width=width * 0.9, **kw)
        item.setOpts(pen=pg.mkPen(None))
        chart.plot.addItem(item)
        if chart.legend is not None:
            chart.legend.addItem(item, label)
        chart.points += len(kept)
    ticks = [[(i, name) for i, name in enumerate(names)]]
    chart.plot.getAxis("left" if horizontal else "bottom").setTicks(ticks)
    if horizontal:
        chart.plot.getViewBox().invertY(True)
        chart.plot.setYRange(-0.6, len(names) - 0.4, padding=0)
    else:
        chart.plot.setXRange(-0.6, len(names) - 0.4, padding=0)


def measured_tags(report: DetectorReport) -> dict[str, Counts]:
    """Tags with something to measure (suggested or chosen at least once on a resolved item);
    a tag neither side ever used has only true negatives."""
    return {t: c for t, c in report.tags.items() if c.tp + c.fp + c.fn}


def _counts_row(name: str, c: Counts) -> list[str]:
    return [
        name,
        fmt(c.precision, ".0%"),
        fmt(c.recall, ".0%"),
        str(c.tp + c.fn),
        *map(str, (c.tp, c.fp, c.fn, c.tn)),
    ]


def detector_rows(report: DetectorReport) -> list[list[str]]:
    """The per-tag table: the overall (verdict) row first, then each measured tag. Support is
    the number of resolved items that carry the tag (tp + fn)."""
    rows = [_counts_row(f"verdict: {POSITIVE}", report.overall)]
    rows.extend(_counts_row(tag, c) for tag, c in measured_tags(report).items())
    return rows


def confusion_rows(report: DetectorReport) -> tuple[list[str], list[list[str]]]:
    """(resolved verdicts as columns, one row per suggested verdict with its counts)."""
    resolved = sorted({v for row in report.confusion.values() for v in row})
    rows = [
        [suggested, *(str(row.get(v, 0)) for v in resolved)]
        for suggested, row in report.confusion.items()
    ]
    return resolved, rows


def anchoring_rows(report: DetectorReport) -> list[list[str]]:
    """Labels made with and without suggestions shown, and how often they matched the
    suggestion (a check for anchoring)."""
    titles = {"with": "with suggestions shown", "without": "without suggestions"}
    rows = []
    for key, values in report.anchoring.items():
        share = values.get("match_suggestion")
        rows.append(
            [
                titles.get(key, key),
                str(values.get("labels", 0)),
                fmt(share if isinstance(share, float) else None, ".0%"),
            ]
        )
    return rows


class DetectorSection(QFrame):
    """How good the heuristic suggestions are on items whose label is settled: precision,
    recall and support per tag, the suggested-vs-resolved verdict table, labels made with and
    without suggestions, and a precision/recall chart."""

    def __init__(self, chart: Chart) -> None:
        super().__init__()
        self.setObjectName("detectorSection")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        # Its own height, not a share of the window's: the tables are fitted to their rows.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.addWidget(bold(QLabel("Detector: heuristic suggestions against resolved labels")))
        self.summary = plain_label()
        layout.addWidget(self.summary)
        top = QHBoxLayout()
        self.tags = fixed_table(["Tag", "Precision", "Recall", "Support", "TP", "FP", "FN", "TN"])
        self.tags.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents
        )
        top.addWidget(self.tags, 3, Qt.AlignmentFlag.AlignTop)
        self.chart = chart
        top.addWidget(chart, 2)
        layout.addLayout(top)
        bottom = QHBoxLayout()
        box = QVBoxLayout()
        box.addWidget(QLabel("Suggested verdict (rows) against resolved verdict (columns)"))
        self.confusion = fixed_table(["Suggested"])
        box.addWidget(self.confusion)
        box.addStretch(1)
        bottom.addLayout(box, 3)
        box = QVBoxLayout()
        box.addWidget(QLabel("Labels made with and without suggestions"))
        self.anchoring = fixed_table(["Labels", "Count", "Match suggestion"])
        box.addWidget(self.anchoring)
        box.addStretch(1)
        bottom.addLayout(box, 2)
        layout.addLayout(bottom)

    def show_report(self, report: DetectorReport | None) -> None:
        chart = self.chart
        if report is None:
            self.summary.setText(
                "No heuristic suggestions yet: run detection (annotator detect run) to "
                "measure them against resolved labels."
            )
            for table in (self.tags, self.confusion, self.anchoring):
                fill(table, [])
            chart.set_empty("no suggestions yet")
            return
        o = report.overall
        self.summary.setText(
            f"{report.detector}: {report.items} resolved items with a suggestion "
            f"({report.adjudicated} adjudicated, {report.unanimous} unanimous) · "
            f"{POSITIVE}: precision {fmt(o.precision, '.0%')}, "
            f"recall {fmt(o.recall, '.0%')}"
        )
        fill(self.tags, detector_rows(report) if report.items else [])
        resolved, rows = confusion_rows(report)
        self.confusion.setColumnCount(1 + len(resolved))
        self.confusion.setHorizontalHeaderLabels(["Suggested", *resolved])
        fill(self.confusion, rows)
        fill(self.anchoring, anchoring_rows(report))
        measured = measured_tags(report)
        if not report.items or not measured:
            chart.set_empty("no resolved items with a suggestion yet")
            return
        names = list(measured)
        _bars(
            chart,
            names,
            [
                ("precision", [c.precision for c in measured.values()]),
                ("recall", [c.recall for c in measured.values()]),
            ],
            horizontal=True,
        )
        chart.plot.setXRange(0.0, 1.45, padding=0)  # room for the legend beside the bars
        chart.plot.setFixedHeight(max(230, 28 * len(names) + 60))  # bars, not empty space


class DashboardWindow(LeadWindow):
    """A top-level window; ``refreshed`` fires after each refresh has been drawn."""

    refreshed = Signal()
    failed = Signal(str)

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
        self.data: DashboardData | None = None
        self.refreshing = False
        self.saving = False
        """A snapshot write of this window is running."""
        self._again = False
        self._parts: dict[str, object] = {}
        self._failure: BaseException | None = None
        self._started = 0.0
        self._expected = 0
        self.setWindowTitle(f"Dashboard - {project}")
        self.resize(1280, 900)

        main = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.summary = plain_label()
        bar.addWidget(self.summary, 1)
        bar.addWidget(QLabel("Per"))
        self.bucket = QComboBox()
        self.bucket.addItem("day", "day")
        self.bucket.addItem("hour", "hour")
        self.bucket.setToolTip("Resolution of the progress chart (UTC)")
        self.bucket.currentIndexChanged.connect(lambda _i: self.refresh())
        bar.addWidget(self.bucket)
        self.status = QLabel("")
        self.status.setObjectName("refreshStatus")
        bar.addWidget(self.status)
        # A refresh that takes long is almost always the first on this machine (every label is
        # read once); say so rather than leave "refreshing…" unexplained for seconds.
        self._slow_note = QTimer(self, singleShot=True, interval=SLOW_REFRESH_MS)
        self._slow_note.timeout.connect(self._note_slow_refresh)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setShortcut("F5")
        self.refresh_button.clicked.connect(self.refresh)
        bar.addWidget(self.refresh_button)
        main.addLayout(bar)
        # The numbers are computed while the charts below are built (a tenth of a second of
        # widgets); the results arrive through the event loop, after this constructor.
        self.refresh()

        body = QWidget()
        grid = QGridLayout(body)
        grid.setContentsMargins(0, 0, 0, 0)
        self.table = QTableWidget(0, 9)
        self.table.setHorizontalHeaderLabels(
            [
                "Labeler",
                "Role",
                "Assigned",
                "Done",
                "Remaining",
                "Items/h",
                "Median s",
                "Agreement",
                "Gold",
            ]
        )
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        grid.addWidget(self.table, 0, 0, 1, 2)
        self.charts: dict[str, Chart] = {}
        for n, (key, title) in enumerate(CHARTS):
            chart = Chart(
                key,
                title,
                date_axis=key in ("progress", "agreement_time"),
                counts=COUNT_AXES.get(key),
            )
            chart.export_button.clicked.connect(lambda _c=False, k=key: self.ask_export(k))
            self.charts[key] = chart
            grid.addWidget(chart, 1 + n // 2, n % 2)
        key, title = DETECTOR_CHART
        chart = Chart(key, title)
        chart.export_button.clicked.connect(lambda _c=False, k=key: self.ask_export(k))
        self.charts[key] = chart
        self.detector = DetectorSection(chart)
        grid.addWidget(self.detector, 2 + (len(CHARTS) - 1) // 2, 0, 1, 2)
        main.addWidget(scrolled(body), 1)
        self._apply_palette()

    # -- refreshing ------------------------------------------------------------------------

    def refresh(self) -> None:
        """Recompute off the GUI thread: progress, agreement and the detector report as
        parallel jobs (most of their time is SQLite, which runs without the GIL), drawn when all
        are in. A refresh asked for meanwhile runs after this one."""
        if self.refreshing:
            self._again = True
            return
        self.refreshing = True
        self._parts = {}
        self._failure = None
        self._started = time.perf_counter()
        self.status.setText("refreshing…")
        self._slow_note.start()
        self.refresh_button.setEnabled(False)
        db, project, lead = self.db, self.project, self.lead
        bucket = str(self.bucket.currentData())
        jobs: dict[str, Callable[[], object]] = {
            "progress": lambda: load_progress(db, project, lead, bucket),
            "agreement": lambda: load_agreement(db, project, lead),
            "detector": lambda: load_detector(db, project, lead),
            "titles": lambda: load_titles(db, project),
        }
        self._expected = len(jobs)
        for key, job in jobs.items():
            done = partial(self._part_done, key)
            self.bg.run(job, done, done, context=self)

    def _part_done(self, key: str, result: object) -> None:
        self._parts[key] = result
        if isinstance(result, BaseException) and self._failure is None:
            self._failure = result
        if len(self._parts) < self._expected:
            return
        if self._failure is not None:
            self._load_failed(self._failure)
            return
        report, agreement = self._parts["progress"], self._parts["agreement"]
        detector = self._parts["detector"]
        assert isinstance(report, ProgressReport) and isinstance(agreement, AgreementReport)
        assert detector is None or isinstance(detector, DetectorReport)
        seconds = time.perf_counter() - self._started
        titles = self._parts["titles"]
        assert isinstance(titles, dict)
        self._loaded(DashboardData(report, agreement, seconds, detector, titles))

    def _note_slow_refresh(self) -> None:
        if self.refreshing:
            self.status.setText(SLOW_REFRESH_NOTE)

    def _finish(self) -> None:
        self._slow_note.stop()
        self.refreshing = False
        self.refresh_button.setEnabled(True)
        if self._again:
            self._again = False
            self.refresh()

    def _loaded(self, data: DashboardData) -> None:
        self.data = data
        self.draw(data)
        stamp = datetime.now().strftime("%H:%M:%S")
        self.status.setText(f"updated {stamp} ({data.seconds * 1000:.0f} ms)")
        self._finish()
        self.refreshed.emit()
        self.save_snapshots()

    def save_snapshots(self, *, force: bool = False) -> None:
        """Write the label snapshot if it is due (after a full read, or many changes since;
        any change with ``force``), on a worker after the refresh was shown: one at a time, and
        a failed write (disk full, read-only cache) is only logged, the numbers are shown."""
        if self.saving:
            return
        self.saving = True
        db = self.db
        self.bg.run(
            lambda: flush_snapshots(db, force=force),
            self._snapshot_done,
            self._snapshot_done,
            context=self,
        )

    def _snapshot_done(self, result: object) -> None:
        self.saving = False
        if isinstance(result, BaseException):
            log.warning("label snapshot not written: %s", result)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Keep the latest label table for the next open (off the GUI thread)."""
        db = self.db
        self.bg.run(
            lambda: flush_snapshots(db, force=True),
            None,
            lambda exc: log.warning("label snapshot not written: %s", exc),
        )
        super().closeEvent(event)

    def _load_failed(self, exc: BaseException) -> None:
        """Shown in the window (no modal box: a refresh may fail while the lead works on)."""
        self.status.setText("refresh failed")
        self.summary.setText(str(exc))
        self._finish()
        self.failed.emit(str(exc))

    # -- drawing ---------------------------------------------------------------------------

    def draw(self, data: DashboardData) -> None:
        report, agreement = data.progress, data.agreement
        alpha = agreement.verdict.alpha.value
        self.summary.setText(
            f"{report.project}: {report.traces:,} traces · {report.assigned_items:,} assigned · "
            f"{report.labeled_items:,} labeled · {report.complete_items:,} complete · "
            f"{report.adjudicated_items:,} adjudicated · {report.gold_items:,} gold · "
            f"verdict α {fmt(alpha)} on {agreement.verdict.n_pairable:,} shared items"
        )
        self._fill_table(data)
        for chart in self.charts.values():
            chart.clear()
        self._draw_progress(report)
        self._draw_throughput(report)
        self._draw_time(report)
        self._draw_verdicts(report, data.verdict_titles)
        self._draw_tags(report)
        self._draw_agreement(agreement)
        self._draw_agreement_time(agreement)
        self._draw_gold(agreement)
        self.detector.show_report(data.detector)
        self._apply_palette()

    def _fill_table(self, data: DashboardData) -> None:
        agree = {a.name: a for a in data.agreement.per_labeler}
        gold = {g.name: g for g in data.agreement.gold}
        people = data.progress.labelers
        self.table.setRowCount(len(people))
        for row, p in enumerate(people):
            a = agree.get(p.name)
            g = gold.get(p.name)
            cells = [
                p.name,
                p.role or "(not a member)",
                f"{p.assigned:,}",
                f"{p.done:,}",
                f"{p.remaining:,}",
                fmt(p.items_per_hour, ".1f"),
                fmt(p.median_seconds, ".0f"),
                "–" if a is None or a.percent is None else f"{a.percent:.0%}",
                "–" if g is None or g.accuracy is None else f"{g.correct}/{g.n_gold}",
            ]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col >= 2:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(row, col, item)
        # Every labeler in view without an inner scroll bar (the window scrolls instead).
        rows = sum(self.table.rowHeight(r) for r in range(self.table.rowCount()))
        self.table.setFixedHeight(rows + self.table.horizontalHeader().height() + 4)

    def _draw_progress(self, report: ProgressReport) -> None:
        chart = self.charts["progress"]
        points = report.over_time
        if not points:
            chart.set_empty("no submitted labels yet")
            return
        xs = [_epoch(p.start) for p in points]
        chart.add_legend((10, 8))  # top left: cumulative lines rise to the right
        names = sorted({n for p in points for n in p.done})
        # Few points: marked, or a labeler's single day would be an invisible line.
        symbol = "o" if len(xs) < 40 else None
        for s, name in enumerate(names):
            running, ys = 0, []
            for p in points:
                running += p.done.get(name, 0)
                ys.append(running)
            color = SERIES[(s + 1) % len(SERIES)]
            chart.plot.plot(
                xs,
                ys,
                pen=pg.mkPen(color, width=1.5),
                symbol=symbol,
                symbolSize=5,
                symbolBrush=color,
                name=name,
            )
        total = [p.cumulative for p in points]
        # Counts from zero; a single bucket gets a bucket either side (not a sub-second axis).
        chart.plot.setYRange(0, max(total) * 1.08, padding=0)
        if len(xs) == 1:
            step = 3600 if self.bucket.currentData() == "hour" else 86400
            chart.plot.setXRange(xs[0] - step, xs[0] + step, padding=0)
        else:
            chart.plot.enableAutoRange(axis="x")
        chart.plot.plot(
            xs,
            total,
            pen=pg.mkPen(SERIES[0], width=3),
            symbol=symbol,
            symbolSize=6,
            symbolBrush=SERIES[0],
            name="all",
        )
        chart.points = len(xs)

    def _draw_throughput(self, report: ProgressReport) -> None:
        chart = self.charts["throughput"]
        people = [p for p in report.labelers if p.done]
        if not people:
            chart.set_empty("no submitted labels yet")
            return
        _bars(chart, [p.name for p in people], [("items/h", [p.items_per_hour for p in people])])
        if chart.points < len(people):
            chart.set_empty("under a minute of work: no rate")

    def _draw_time(self, report: ProgressReport) -> None:
        chart = self.charts["time"]
        hist = report.time_per_item
        if not hist.counts:
            chart.set_empty("no submitted labels yet")
            return
        edges = hist.edges
        item = pg.BarGraphItem(
            x0=edges[:-1],
            x1=edges[1:],
            height=list(hist.counts),
            brush=pg.mkBrush(SERIES[0]),
            pen=pg.mkPen(None),
        )
        chart.plot.addItem(item)
        chart.plot.setLabel("bottom", "seconds per item")
        chart.points = len(hist.counts)

    def _draw_verdicts(self, report: ProgressReport, titles: dict[str, str]) -> None:
        chart = self.charts["verdicts"]
        if not report.verdicts:
            chart.set_empty("no submitted labels yet")
            return
        names = list(report.verdicts)
        counts = [report.verdicts[n] for n in names]
        # As the labeling panel names them; a value the schema no longer has stays as stored.
        _bars(chart, [titles.get(n, n) for n in names], [("labels", counts)], horizontal=True)

    def _draw_tags(self, report: ProgressReport) -> None:
        chart = self.charts["tags"]
        names = [*report.tags, *report.counter_tags]
        if not names:
            chart.set_empty("no tags chosen yet")
            return
        counts = [report.tags.get(n, report.counter_tags.get(n, 0)) for n in names]
        colours = [SERIES[0] if n in report.tags else SERIES[1] for n in names]
        # One bar per tag, coloured by kind (a tag is evidence or counter-evidence, not both).
        _bars(chart, names, [("labels", counts)], horizontal=True, colours=colours)
        legend = chart.add_legend()  # top right, in the room kept free beside the bars
        chart.plot.setXRange(0, max(counts) * 1.55, padding=0)
        for colour, kind in ((SERIES[0], "evidence"), (SERIES[1], "counter-evidence")):
            sample = pg.BarGraphItem(x=[], height=[], width=1, brush=pg.mkBrush(colour))
            legend.addItem(sample, kind)
        chart.plot.setMinimumHeight(max(230, 22 * len(names) + 50))

    def _draw_agreement(self, agreement: AgreementReport) -> None:
        chart = self.charts["agreement"]
        rows = [a for a in agreement.per_labeler if a.n_shared]
        if not rows:
            chart.set_empty("needs items labeled by two or more people")
            return
        _bars(
            chart,
            [a.name for a in rows],
            [
                ("% agreement", [a.percent for a in rows]),
                ("mean Cohen's κ", [a.mean_kappa for a in rows]),
            ],
        )
        chart.plot.setYRange(min(0.0, *(a.mean_kappa or 0.0 for a in rows)), 1.05)

    def _draw_agreement_time(self, agreement: AgreementReport) -> None:
        chart = self.charts["agreement_time"]
        points = [p for p in agreement.over_time if p.percent is not None or p.alpha is not None]
        if not points:
            chart.set_empty("needs items labeled by two or more people")
            return
        xs = [datetime(p.day.year, p.day.month, p.day.day, tzinfo=UTC).timestamp() for p in points]
        chart.add_legend()
        for s, (name, values) in enumerate(
            (
                ("% agreement", [p.percent for p in points]),
                ("Krippendorff's α", [p.alpha for p in points]),
            )
        ):
            kept = [(x, v) for x, v in zip(xs, values, strict=True) if v is not None]
            if not kept:
                continue
            colour = SERIES[s]
            chart.plot.plot(
                [x for x, _ in kept],
                [v for _, v in kept],
                pen=pg.mkPen(colour, width=2),
                symbol="o",
                symbolSize=6,
                symbolBrush=colour,
                name=name,
            )
            chart.points += len(kept)
        chart.plot.setYRange(min(0.0, *(p.alpha or 0.0 for p in points)), 1.05)

    def _draw_gold(self, agreement: AgreementReport) -> None:
        chart = self.charts["gold"]
        gold = [g for g in agreement.gold if g.n_gold]
        if not gold:
            chart.set_empty("no gold items labeled yet")
            return
        _bars(
            chart,
            [f"{g.name} ({g.correct}/{g.n_gold})" for g in gold],
            [("accuracy", [g.accuracy for g in gold])],
        )
        chart.plot.setYRange(0.0, 1.05)

    # -- theme and export ------------------------------------------------------------------

    def _apply_palette(self) -> None:
        for chart in self.charts.values():
            chart.apply_palette(self.palette())

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "charts"):
            self._apply_palette()

    def export_chart(self, key: str, path: Path) -> Path:
        return self.charts[key].export_png(path)

    def ask_export(self, key: str) -> None:
        name = f"{self.project}-{key}.png".replace("/", "_")
        path, _ = QFileDialog.getSaveFileName(self, "Export chart", name, "PNG image (*.png)")
        if not path:
            return
        try:
            self.export_chart(key, Path(path))
        except OSError as exc:
            QMessageBox.warning(self, "Export chart", str(exc))
