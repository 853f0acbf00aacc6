"""The lead's agreement report in a window: the verdict (percent agreement, Fleiss' kappa,
Krippendorff's alpha), each pair of labelers (percent, Cohen's kappa, evidence-span F1), each
tag (alpha of chosen / not chosen) and the evidence spans overall, with bootstrap intervals;
gold accuracy per labeler with the gold items each missed.
The same numbers as ``annotator agreement``, and exported as its ``--json``.

The dashboard shows agreement per labeler and per day without intervals (it must refresh
fast); this window computes the whole report, intervals included, on a background thread
when it opens and when asked. It only fills tables of plain text."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from annotator.domain.agreement import Estimate
from annotator.gui.background import Background
from annotator.gui.lead.parts import bold, fill, fixed_table, fmt, plain_label, scrolled
from annotator.gui.lead.window import LeadWindow
from annotator.services.agreement import AgreementReport, agreement_report
from annotator.services.label_table import flush_snapshots
from annotator.store.database import Database

log = logging.getLogger(__name__)

RESAMPLES = ((1000, "1,000 resamples"), (200, "200 resamples"), (0, "no intervals"))
"""Choices for the bootstrap; the first is the default (as ``annotator agreement``)."""
CONFIDENCE = 0.95
TAG_KINDS = {"tag": "evidence", "counter_tag": "counter-evidence"}


@dataclass(frozen=True)
class AgreementResult:
    report: AgreementReport
    seconds: float


def load_report(db: Database, project: str, lead: str, bootstrap: int) -> AgreementResult:
    """Lead-only (the service checks the role); runs on a worker thread."""
    start = time.perf_counter()
    report = agreement_report(
        db, project, lead=lead, bootstrap=bootstrap, seed=0, confidence=CONFIDENCE
    )
    return AgreementResult(report, time.perf_counter() - start)


def number(value: float, spec: str = ".3f") -> str:
    """``value`` in ``spec``, without the sign of a value that rounds to zero ("0.000", not
    "-0.000": an alpha of -0.0004 is no agreement beyond chance, as one of +0.0004 is not)."""
    text = format(value, spec)
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def value_text(est: Estimate | None, spec: str = ".3f") -> str:
    return "–" if est is None or est.value is None else number(est.value, spec)


def interval_text(est: Estimate | None, spec: str = ".3f") -> str:
    """The interval as "low – high", or an en dash without one."""
    if est is None or est.low is None or est.high is None:
        return "–"
    return f"{number(est.low, spec)} – {number(est.high, spec)}"


def with_interval(est: Estimate | None, spec: str = ".3f") -> str:
    """The value and interval in one cell, "value [low, high]", as the CLI prints them."""
    if est is None or est.value is None:
        return "–"
    if est.low is None or est.high is None:
        return number(est.value, spec)
    return f"{number(est.value, spec)} [{number(est.low, spec)}, {number(est.high, spec)}]"


def verdict_rows(report: AgreementReport) -> list[list[str]]:
    """Metric, value, interval, items: the verdict's three measures, then the evidence spans
    (micro-averaged over item and pair)."""
    v = report.verdict
    rows = [
        ["Percent agreement", value_text(v.percent), interval_text(v.percent), f"{v.percent.n:,}"],
        [
            f"Fleiss' κ (items with {v.fleiss_k} labels)" if v.fleiss_k else "Fleiss' κ",
            value_text(v.fleiss),
            interval_text(v.fleiss),
            f"{v.fleiss.n:,}",
        ],
        ["Krippendorff's α", value_text(v.alpha), interval_text(v.alpha), f"{v.alpha.n:,}"],
    ]
    spans = report.spans
    if spans is not None:
        pairs = f"{spans.n:,} item pairs"
        rows.append(["Evidence spans: F1", value_text(spans.f1), interval_text(spans.f1), pairs])
        rows.append(
            [
                "Evidence spans: Jaccard",
                value_text(spans.jaccard),
                interval_text(spans.jaccard),
                pairs,
            ]
        )
    return rows


def pair_rows(report: AgreementReport) -> list[list[str]]:
    return [
        [
            p.a,
            p.b,
            f"{p.n_items:,}",
            with_interval(p.percent),
            with_interval(p.cohen),
            with_interval(None if p.spans is None else p.spans.f1),
        ]
        for p in report.pairs
    ]


def tag_rows(report: AgreementReport) -> list[list[str]]:
    """Every tag of the schema, the ones chosen most first (a tag nobody chose has no α)."""
    ordered = sorted(report.tags, key=lambda t: (-t.chosen, t.tag))
    return [
        [
            t.tag,
            TAG_KINDS.get(t.kind, t.kind),
            f"{t.chosen:,}",
            fmt(t.prevalence, ".1%"),
            with_interval(t.alpha),
        ]
        for t in ordered
    ]


MISSED_ROWS = 500
"""Missed gold items listed in the window; the export has them all."""


def gold_rows(report: AgreementReport) -> list[list[str]]:
    return [
        [g.name, f"{g.n_gold:,}", f"{g.correct:,}", fmt(g.accuracy, ".1%")]
        for g in report.gold
        if g.n_gold
    ]


def missed_rows(report: AgreementReport, limit: int = MISSED_ROWS) -> tuple[list[list[str]], int]:
    """(labeler, item, answer, their verdict) per missed gold item, at most ``limit``; and how
    many were left out."""
    rows = [[g.name, m.uid, m.expected, m.given or "(none)"] for g in report.gold for m in g.missed]
    return rows[:limit], max(0, len(rows) - limit)


class AgreementWindow(LeadWindow):
    """A top-level window; ``loaded`` fires after each report has been shown."""

    loaded = Signal()
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
        self.report: AgreementReport | None = None
        self.computing = False
        self._again = False
        self.setWindowTitle(f"Agreement - {project}")
        self.resize(980, 820)

        main = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.summary = plain_label()
        bar.addWidget(self.summary, 1)
        bar.addWidget(QLabel("Intervals"))
        self.resamples = QComboBox()
        for n, text in RESAMPLES:
            self.resamples.addItem(text, n)
        self.resamples.setToolTip(
            f"{CONFIDENCE:.0%} bootstrap intervals over items (percentile method, seed 0)"
        )
        self.resamples.currentIndexChanged.connect(lambda _i: self.refresh())
        bar.addWidget(self.resamples)
        self.status = QLabel("")
        bar.addWidget(self.status)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setShortcut("F5")
        self.refresh_button.clicked.connect(self.refresh)
        bar.addWidget(self.refresh_button)
        self.export_button = QPushButton("Export JSON…")
        self.export_button.setToolTip("The report as `annotator agreement --json` writes it")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.ask_export)
        bar.addWidget(self.export_button)
        main.addLayout(bar)

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(bold(QLabel("Verdict")))
        self.verdict = fixed_table(["Measure", "Value", f"{CONFIDENCE:.0%} interval", "Items"])
        layout.addWidget(self.verdict)
        layout.addWidget(bold(QLabel("Pairs of labelers (items both labeled)")))
        self.pairs = fixed_table(
            ["Labeler", "Labeler", "Items", "% agreement", "Cohen's κ", "Span F1"]
        )
        layout.addWidget(self.pairs)
        layout.addWidget(bold(QLabel("Tags (chosen or not, per label): Krippendorff's α")))
        self.tags = fixed_table(["Tag", "Kind", "Chosen", "Share of labels", "α"])
        layout.addWidget(self.tags)
        layout.addWidget(bold(QLabel("Gold items: accuracy per labeler")))
        self.gold = fixed_table(["Labeler", "Gold items", "Correct", "Accuracy"])
        layout.addWidget(self.gold)
        layout.addWidget(bold(QLabel("Gold items missed")))
        self.missed = fixed_table(["Labeler", "Item", "Answer", "Their verdict"])
        layout.addWidget(self.missed)
        self.note = plain_label()
        layout.addWidget(self.note)
        layout.addStretch(1)
        main.addWidget(scrolled(body), 1)
        self.refresh()

    # -- computing -------------------------------------------------------------------------

    def refresh(self) -> None:
        """Compute the report off the GUI thread; one asked for meanwhile runs after it."""
        if self.computing:
            self._again = True
            return
        self.computing = True
        self.refresh_button.setEnabled(False)
        bootstrap = int(self.resamples.currentData())
        self.status.setText(
            "computing…" if not bootstrap else f"computing {bootstrap:,} resamples…"
        )
        db, project, lead = self.db, self.project, self.lead
        self.bg.run(
            lambda: load_report(db, project, lead, bootstrap),
            self._loaded,
            self._failed,
            context=self,
        )

    def _finish(self) -> None:
        self.computing = False
        self.refresh_button.setEnabled(True)
        if self._again:
            self._again = False
            self.refresh()

    def _loaded(self, result: object) -> None:
        assert isinstance(result, AgreementResult)
        self.show_report(result.report)
        self.status.setText(f"updated {time.strftime('%H:%M:%S')} ({result.seconds:.1f} s)")
        self.export_button.setEnabled(True)
        self._finish()
        self.loaded.emit()

    def _failed(self, exc: BaseException) -> None:
        """Shown in the window, as the dashboard does (no modal box)."""
        self.status.setText("failed")
        self.summary.setText(str(exc))
        self._finish()
        self.failed.emit(str(exc))

    def closeEvent(self, event: QCloseEvent) -> None:
        """Keep the label table read for this report for the next open (off the GUI thread)."""
        db = self.db
        self.bg.run(
            lambda: flush_snapshots(db),
            None,
            lambda exc: log.warning("label snapshot not written: %s", exc),
        )
        super().closeEvent(event)

    # -- showing ---------------------------------------------------------------------------

    def show_report(self, report: AgreementReport) -> None:
        self.report = report
        v = report.verdict
        self.summary.setText(
            f"{report.project}: {len(report.labelers)} labelers · {v.n_items:,} items with a "
            f"submitted label · {v.n_pairable:,} labeled by two or more"
        )
        fill(self.verdict, verdict_rows(report))
        fill(self.pairs, pair_rows(report), text_columns=2)
        fill(self.tags, tag_rows(report), text_columns=2)
        fill(self.gold, gold_rows(report))
        missed, left_out = missed_rows(report)
        fill(self.missed, missed, text_columns=4)
        intervals = (
            f"Intervals: {report.bootstrap:,} bootstrap resamples of the items, "
            f"{report.confidence:.0%} (percentile method; spans use at most 250)."
            if report.bootstrap
            else "No intervals (choose resamples above)."
        )
        more = f"{left_out:,} more missed gold items are in the JSON export. " if left_out else ""
        self.note.setText(
            f"{more}{intervals} Percent agreement and α count the verdict of each submitted "
            "label; a dash means the measure is undefined on these labels (for example, a tag "
            "nobody chose)."
        )

    # -- export ----------------------------------------------------------------------------

    def export_json(self, path: Path) -> Path:
        """Write the shown report as `annotator agreement --json` does."""
        if self.report is None:
            raise ValueError("no report yet")
        options = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
        path.write_bytes(orjson.dumps(self.report.as_dict(), option=options) + b"\n")
        return path

    def ask_export(self) -> None:
        name = f"{self.project}-agreement.json".replace("/", "_")
        path, _ = QFileDialog.getSaveFileName(self, "Export agreement", name, "JSON (*.json)")
        if not path:
            return
        try:
            self.export_json(Path(path))
        except OSError as exc:
            QMessageBox.warning(self, "Export agreement", str(exc))
