"""The Guidelines tab: the schema's definitions and the project's guidelines, as safe markdown.

Rendered with the trace view's markdown writer (markdown-it tokens written through QTextCursor,
raw HTML kept literal, no links or images that could load anything) into its SafeBrowser."""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtGui import QShowEvent, QTextBlockFormat, QTextCharFormat, QTextCursor, QTextDocument
from PySide6.QtWidgets import QWidget

from annotator.domain.schema import LabelSchema
from annotator.gui.trace_view import SafeBrowser
from annotator.gui.trace_view import markdown as md
from annotator.gui.trace_view.styles import Styles


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def schema_markdown(schema: LabelSchema) -> str:
    """The schema as a labeler reads it: rules, verdicts, confidence, tags with definitions."""
    out = [f"# Label schema: {schema.name} (version {schema.version})", ""]
    if schema.rules:
        out += ["## Rules", ""] + [f"- {_cell(r)}" for r in schema.rules] + [""]
    out += ["## Verdicts", "", "| verdict | use when |", "|---|---|"]
    out += [f"| **{_cell(v.title)}** | {_cell(v.description)} |" for v in schema.verdicts]
    conf = schema.confidence
    out += ["", "## Confidence", ""]
    out += [f"- **{level}**: {_cell(desc)}" for level, desc in sorted(conf.descriptions.items())]
    if conf.optional_for:
        titles = ", ".join(schema.verdict(v).title for v in conf.optional_for)
        out.append(f"- Optional only for: {titles}")
    for title, tags in (
        ("Evidence tags", schema.evidence_tags),
        ("Counter-evidence tags", schema.counter_tags),
    ):
        if tags:
            # A list, not a table: the tab is narrow and tag names must not break mid-word.
            out += ["", f"## {title}", ""]
            out += [f"- **{t.name}** ({t.level.value}): {_cell(t.description)}" for t in tags]
    return "\n".join(out) + "\n"


def render_markdown(doc: QTextDocument, text: str, styles: Styles) -> None:
    cursor = QTextCursor(doc)
    writer = md.MarkdownWriter(cursor, styles, text, QTextBlockFormat(), QTextCharFormat())
    writer.write(md.parse(text))


class GuidelinesView(SafeBrowser):
    """Read-only, resource-free view of the project's guidelines."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("guidelines")
        self._schema: LabelSchema | None = None
        self._guidelines = ""
        self._doc: QTextDocument | None = None
        self._stale = False

    def set_content(self, schema: LabelSchema, guidelines: str) -> None:
        self._schema = schema
        self._guidelines = guidelines
        self._stale = True
        if self.isVisible():
            self._render()

    def showEvent(self, event: QShowEvent) -> None:
        """Rendered when first shown: start-up does not pay for a tab nobody has opened."""
        super().showEvent(event)
        if self._stale:
            self._render()

    def text(self) -> str:
        if self._stale:
            self._render()
        return self.document().toPlainText()

    def _render(self) -> None:
        if self._schema is None:
            return
        self._stale = False
        doc = QTextDocument(self)
        doc.setDefaultFont(self.font())
        doc.setDocumentMargin(12)
        styles = Styles.from_palette(self.palette(), self.font())
        render_markdown(doc, schema_markdown(self._schema) + "\n---\n\n" + self._guidelines, styles)
        old, self._doc = self._doc, doc
        self.setDocument(doc)
        if old is not None:
            old.deleteLater()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._stale = True
            if self.isVisible():
                self._render()
