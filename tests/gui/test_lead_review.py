"""The adjudication screen on a real database: a disagreement side by side, accepting a label
and writing a final label create adjudications, history and comments."""

from __future__ import annotations

from pytestqt.qtbot import QtBot
from sqlalchemy import select

from annotator.gui.background import Background
from annotator.gui.lead.review import ReviewWindow
from annotator.store.database import Database
from annotator.store.models import Adjudication, Comment
from tests.gui.lead_data import LABELERS, LEAD, bg_fixture, team_fixture  # noqa: F401

Team = tuple[Database, list[int]]


def _open(qtbot: QtBot, runner: Background, db: Database) -> ReviewWindow:
    window = ReviewWindow(runner, db, "P", lead=LEAD)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.detail is not None and window.is_settled(), timeout=15_000)
    return window


def _select(qtbot: QtBot, window: ReviewWindow, uid: str) -> None:
    row = [i.uid for i in window.items].index(uid)
    window.queue.setCurrentRow(row)
    qtbot.waitUntil(
        lambda: (
            window.is_settled()
            and window.current is not None
            and window.current.uid == uid
            and window.detail is not None
            and window.detail.trace.uid == uid
        ),
        timeout=15_000,
    )


def _adjudications(db: Database, trace_id: int) -> list[Adjudication]:
    with db.session() as session:
        rows = session.scalars(
            select(Adjudication).where(Adjudication.trace_id == trace_id).order_by(Adjudication.id)
        ).all()
        session.expunge_all()
        return list(rows)


def test_disagreement_side_by_side(qtbot: QtBot, team: Team, bg: Background) -> None:
    db, _ids = team
    window = _open(qtbot, bg, db)
    uids = [i.uid for i in window.items]
    assert "item-003" in uids  # ann and bob disagree there
    assert "item-004" in uids  # cy flagged it
    _select(qtbot, window, "item-003")
    assert [c.label.labeler for c in window.cards] == list(LABELERS)
    verdicts = {c.label.labeler: c.verdict.text() for c in window.cards}
    assert verdicts["ann"] == "Verdict: Legitimate"
    assert verdicts["bob"] == "Verdict: Suspected distillation"
    ann = window.cards[0]
    # The rationale is plain text: the markup stays visible as typed, nothing is rendered.
    assert "<b>not html</b>" in ann.rationale.toPlainText()
    assert ann.accept_button.text() == "Accept ann's label"
    assert window.trace_view.trace() is not None
    assert window.trace_view.trace().uid == "item-003"  # type: ignore[union-attr]
    assert len(window.trace_view.spans()) == len(LABELERS)  # everyone's spans highlighted
    # A span caption shows the passage taken from the trace; clicking it highlights only it.
    span = ann.label.spans[0]
    assert ann.spans.item(0).text().endswith("”") and "“”" not in ann.spans.item(0).text()
    ann.spans.itemClicked.emit(ann.spans.item(0))
    assert window.trace_view.spans() == [span]
    flagged = next(i for i in window.items if i.uid == "item-004")
    assert "flagged" in flagged.reasons


def test_accept_a_label_creates_an_adjudication(qtbot: QtBot, team: Team, bg: Background) -> None:
    db, ids = team
    window = _open(qtbot, bg, db)
    _select(qtbot, window, "item-003")
    window.note_edit.setText("bob saw the JSON layout")
    bob = next(c for c in window.cards if c.label.labeler == "bob")
    with qtbot.waitSignal(window.decided, timeout=15_000):
        bob.accept_button.click()
    qtbot.waitUntil(
        lambda: window.is_settled() and window.history.toPlainText() != "", timeout=15_000
    )
    qtbot.waitUntil(lambda: "bob" in window.history.toPlainText(), timeout=15_000)
    rows = _adjudications(db, ids[3])
    assert len(rows) == 1
    assert rows[0].verdict == "suspected_distillation"
    assert rows[0].accepted_label_id == bob.label.label_id
    assert rows[0].note == "bob saw the JSON layout"
    assert "accepted bob's label" in window.history.toPlainText()
    assert window.tabs.tabText(2) == "History (1)"
    assert window.queue.item(window.queue.currentRow()).text().startswith("✓ item-003")
    assert window.note_edit.text() == ""


def test_write_final_label(qtbot: QtBot, team: Team, bg: Background) -> None:
    db, ids = team
    window = _open(qtbot, bg, db)
    _select(qtbot, window, "item-003")
    panel = window.panel
    assert panel is not None
    # Without a verdict the schema check refuses; the problem shows in the panel.
    window.final_button.click()
    qtbot.waitUntil(lambda: window.is_settled() and not panel.problems.isHidden(), timeout=15_000)
    assert panel.problems.text() and window.tabs.currentIndex() == 1
    assert _adjudications(db, ids[3]) == []
    panel.set_verdict("other_policy_issue")
    panel.set_confidence(3)
    panel.rationale.setPlainText("Neither: it is a policy matter.")
    with qtbot.waitSignal(window.decided, timeout=15_000):
        window.final_button.click()
    qtbot.waitUntil(lambda: "wrote it" in window.history.toPlainText(), timeout=15_000)
    rows = _adjudications(db, ids[3])
    assert len(rows) == 1 and rows[0].verdict == "other_policy_issue"
    assert rows[0].accepted_label_id is None
    assert "Neither: it is a policy matter." in rows[0].label_json
    qtbot.waitUntil(window.is_settled, timeout=15_000)
    assert panel.label().verdict == "other_policy_issue"  # the panel shows the current decision


def test_comments_add_and_list(qtbot: QtBot, team: Team, bg: Background) -> None:
    db, ids = team
    window = _open(qtbot, bg, db)
    _select(qtbot, window, "item-004")
    assert window.comments.toPlainText() == "No comments yet."
    window.comment_edit.setPlainText("cy: why flagged? <script>x</script>")
    window.comment_button.click()
    qtbot.waitUntil(lambda: "why flagged" in window.comments.toPlainText(), timeout=15_000)
    text = window.comments.toPlainText()
    assert text.startswith(f"{LEAD} (lead)") and "<script>x</script>" in text
    assert window.tabs.tabText(3) == "Comments (1)"
    assert window.comment_edit.toPlainText() == ""
    with db.session() as session:
        bodies = session.scalars(select(Comment.body).where(Comment.trace_id == ids[4])).all()
    assert bodies == ["cy: why flagged? <script>x</script>"]


def test_pick_any_item_and_unknown_uid(qtbot: QtBot, team: Team, bg: Background) -> None:
    db, _ids = team
    window = _open(qtbot, bg, db)
    assert "item-020" not in [i.uid for i in window.items]  # nobody labeled it
    window.pick_edit.setText("item-020")
    window.pick_button.click()
    qtbot.waitUntil(
        lambda: (
            window.current is not None
            and window.current.uid == "item-020"
            and window.detail is not None
            and window.detail.trace.uid == "item-020"
            and window.is_settled()
        ),
        timeout=15_000,
    )
    assert window.current is not None and window.current.reasons == ("picked",)
    assert window.cards == []
    window.pick_edit.setText("no-such-item")
    window.pick_button.click()
    qtbot.waitUntil(
        lambda: window.is_settled() and "no trace" in window.status.text(), timeout=15_000
    )
    assert window.picked == ["item-020"]


def test_final_label_from_a_labelers_label_with_a_new_span(
    qtbot: QtBot, team: Team, bg: Background
) -> None:
    db, ids = team
    window = _open(qtbot, bg, db)
    _select(qtbot, window, "item-003")
    panel = window.panel
    assert panel is not None
    ann = window.cards[0]
    ann.edit_button.click()
    assert window.tabs.currentIndex() == 1
    assert panel.label().verdict == "legitimate" and len(panel.spans()) == 1
    assert panel.spans()[0].text  # the passage, taken from the trace
    # Without a selection nothing is added; with one, it becomes a span of the final label.
    window.span_button.click()
    assert not panel.problems.isHidden() and len(panel.spans()) == 1
    browser = window.trace_view.browser
    cursor = browser.document().find("dataset being assembled")
    assert not cursor.isNull()
    browser.setTextCursor(cursor)
    window.span_button.click()
    assert len(panel.spans()) == 2
    assert any(s.text == "dataset being assembled" for s in panel.spans())
    with qtbot.waitSignal(window.decided, timeout=15_000):
        window.final_button.click()
    rows = _adjudications(db, ids[3])
    assert len(rows) == 1 and rows[0].accepted_label_id is None
    assert rows[0].verdict == "legitimate" and "dataset being assembled" in rows[0].label_json
