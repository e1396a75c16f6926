"""One door: the web chat (and Gradio's API), /v1, Slack and the CLI under the same keys,
limits and store path; faults that end in a clear message or in recovery.

Each test is a finding of issue #21 reproduced against a real server on 127.0.0.1 (or the
real CLI), and fails on the code before the fix. docs/security.md lists them.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from rag.cli import app
from tests.conftest import ENRICHMENT_SENTENCE, SEEDS
from tests.fake_slack import mention, signed, text_of
from tests.gradio_calls import ask_in_web, gradio_call
from tests.live_server import (
    ADMIN_KEY,
    LIMITED_KEY,
    MAX_BODY,
    RATE_LIMIT,
    READ_KEY,
    SAVING_KEY,
    SHARED_LIMIT_KEY,
    SLACK_SECRET,
    read_only_mount,
    sse_events,
    start_server,
)

QUESTION = "What did Araghchi say about enrichment?"


def _auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def _error(response: httpx.Response) -> dict:
    assert response.headers["content-type"].startswith("application/json"), response.text
    return response.json()["error"]


@contextmanager
def holding_the_write_lock(index_dir: Path):
    """What a running `rag ingest` does to the index folder: hold its write lock."""
    with open(index_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def seed_index(tmp_path, seed_pipeline) -> Path:
    """A copy of the seed index this test may damage."""
    folder = tmp_path / "index"
    shutil.copytree(seed_pipeline.settings.index_dir, folder)
    return folder


def _cli(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, list(args), env=env)


# ----- 1, 2: Gradio's API behind the same keys; no server path is ever read ------------


def test_a_server_path_named_to_gradio_is_never_ingested(live_server, tmp_path):
    marker = f"zebra{uuid.uuid4().hex[:8]}"
    planted = tmp_path / "planted.txt"
    planted.write_text(f"Planted {marker}\nThe {marker} passphrase is hunter2.", encoding="utf-8")
    before = httpx.get(f"{live_server.url}/readyz").json()["articles"]
    file_data = {"path": str(planted), "meta": {"_type": "gradio.FileData"}}
    event, payload = gradio_call(live_server.url, "add_uploaded", [file_data, "en"], ADMIN_KEY)
    assert event == "error" or "Added" not in payload[0]
    assert httpx.get(f"{live_server.url}/readyz").json()["articles"] == before
    hits = httpx.post(f"{live_server.url}/v1/search", json={"query": f"{marker} passphrase"},
                      headers=_auth(READ_KEY), timeout=60).json()["hits"]  # fmt: skip
    assert not [h for h in hits if marker in h["chunk"]["text"]]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("respond", [QUESTION, [], [], [], "", "", "en"]),
        ("add_pasted", ["Title", "Some article text.", "", "", "", "en"]),
    ],
)
def test_gradio_routes_need_a_key_when_keys_are_set(live_server, name, data):
    event, response = gradio_call(live_server.url, name, data)
    assert event == "refused" and response.status_code == 401
    assert _error(response)["code"] == "missing_key"
    event, response = gradio_call(live_server.url, name, data, "not-a-key")
    assert event == "refused" and response.status_code == 401


def test_the_web_page_sends_a_keyless_visitor_to_the_key_page(live_server):
    page = httpx.get(f"{live_server.url}/", headers={"Accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"] == "/login"
    wrong = httpx.post(f"{live_server.url}/login", data={"key": "not-a-key"})
    assert wrong.status_code == 401 and "not valid" in wrong.text
    right = httpx.post(f"{live_server.url}/login", data={"key": READ_KEY})
    assert right.status_code == 303 and READ_KEY not in right.headers["set-cookie"]
    assert "httponly" in right.headers["set-cookie"].lower()
    cookies = {"rag_session": right.cookies["rag_session"]}
    assert httpx.get(f"{live_server.url}/", cookies=cookies).status_code == 200


def test_the_library_tab_needs_an_admin_key_to_write(live_server):
    marker = uuid.uuid4().hex[:8]
    data = [f"Reader {marker}", f"A reader tried to add {marker}.", "", "", "", "en"]
    event, payload = gradio_call(live_server.url, "add_pasted", data, READ_KEY)
    assert event == "complete" and "needs an admin key" in payload[0]
    event, payload = gradio_call(live_server.url, "add_pasted", data, ADMIN_KEY)
    assert event == "complete" and payload[0].startswith("Added")


def test_the_web_chat_answers_a_reader(live_server):
    event, payload = ask_in_web(live_server.url, QUESTION, READ_KEY)
    assert event == "complete" and ENRICHMENT_SENTENCE in payload[3]


# ----- the same limits everywhere -------------------------------------------------------


def test_the_web_chat_and_the_api_share_one_rate_limit(live_server):
    for _ in range(RATE_LIMIT):
        http = httpx.get(f"{live_server.url}/v1/articles/nothing", headers=_auth(SHARED_LIMIT_KEY))
        assert http.status_code == 404
    event, payload = ask_in_web(live_server.url, QUESTION, SHARED_LIMIT_KEY)
    assert event == "complete"
    assert f"more than {RATE_LIMIT} requests a minute" in payload[4]


def test_a_script_saving_conversations_through_gradio_pays_for_each_save(live_server):
    """The web chat saves its conversation after an answer without counting it twice; a
    save called on its own through Gradio's API is a request like any other."""
    browser = uuid.uuid4().hex
    chat = [{"role": "user", "content": [{"type": "text", "text": "a question"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "an answer"}]}]  # fmt: skip
    for _ in range(RATE_LIMIT):
        event, (_, listed, notice) = gradio_call(
            live_server.url, "remember", [browser, None, chat, []], SAVING_KEY
        )
        assert event == "complete" and notice == ""
        assert listed["value"] in [cid for _, cid in listed["choices"]]  # saved and listed
    event, (_, listed, notice) = gradio_call(
        live_server.url, "remember", [browser, None, chat, []], SAVING_KEY
    )
    assert f"more than {RATE_LIMIT} requests a minute" in notice
    assert "choices" not in listed  # nothing more was saved


# ----- 3, 4: one path to the store -----------------------------------------------------


def test_a_write_behind_a_running_ingest_answers_503_instead_of_hanging(live_server):
    article = {"title": "Busy", "content": f"Written while busy {uuid.uuid4().hex}."}
    with holding_the_write_lock(live_server.index_dir):
        started = time.monotonic()
        refused = httpx.post(f"{live_server.url}/v1/articles", json=article,
                             headers=_auth(ADMIN_KEY), timeout=60)  # fmt: skip
        assert time.monotonic() - started < 20
    assert refused.status_code == 503 and _error(refused)["code"] == "index_busy"
    assert int(refused.headers["Retry-After"]) >= 1
    added = httpx.post(f"{live_server.url}/v1/articles", json=article,
                       headers=_auth(ADMIN_KEY), timeout=60)  # fmt: skip
    assert added.status_code == 201


def test_a_cli_delete_is_seen_by_the_running_server(live_server):
    marker = uuid.uuid4().hex[:8]
    article = {"title": f"Lighthouse {marker}",
               "content": f"The lighthouse {marker} was repainted red and white on Sunday."}  # fmt: skip
    added = httpx.post(f"{live_server.url}/v1/articles", json=article,
                       headers=_auth(ADMIN_KEY), timeout=60)  # fmt: skip
    assert added.status_code == 201
    hits = httpx.post(f"{live_server.url}/v1/search", json={"query": f"lighthouse {marker}"},
                      headers=_auth(READ_KEY), timeout=60).json()["hits"]  # fmt: skip
    article_id = hits[0]["chunk"]["article_id"]

    result = _cli("delete", article_id, "--index-dir", str(live_server.index_dir))
    assert result.exit_code == 0 and "deleted article" in result.output
    deadline = time.monotonic() + 20
    while True:
        fetched = httpx.get(f"{live_server.url}/v1/articles/{article_id}", headers=_auth(READ_KEY))
        hits = httpx.post(f"{live_server.url}/v1/search", json={"query": f"lighthouse {marker}"},
                          headers=_auth(READ_KEY), timeout=60).json()["hits"]  # fmt: skip
        if fetched.status_code == 404 and article_id not in [
            h["chunk"]["article_id"] for h in hits
        ]:
            break
        assert time.monotonic() < deadline, "the server still serves the deleted article"
        time.sleep(0.5)


def test_a_cli_delete_during_an_ingest_is_refused_quickly(seed_index):
    with holding_the_write_lock(seed_index):
        started = time.monotonic()
        result = _cli("delete", "anything", "--index-dir", str(seed_index),
                      env={"RAG_WRITE_LOCK_TIMEOUT": "1"})  # fmt: skip
        assert time.monotonic() - started < 15
    assert result.exit_code == 1
    assert "another process is writing to the index" in result.output
    assert "Traceback" not in result.output


def test_a_reader_never_writes_derived_files_while_an_ingest_holds_the_lock(seed_index):
    stamp = seed_index / "derived.json"
    behind = {"generation": -1}  # as from a version whose snapshot held no marks
    stamp.write_text(json.dumps(behind))
    vectors_written = (seed_index / "vectors.faiss").stat().st_mtime_ns
    with holding_the_write_lock(seed_index):
        searched = _cli("search", QUESTION, "--index-dir", str(seed_index), "--json")
        stats = _cli("stats", "--index-dir", str(seed_index))
    assert searched.exit_code == 0 and json.loads(searched.stdout)["hits"]
    assert stats.exit_code == 0 and "chunks:   6" in stats.output
    assert json.loads(stamp.read_text()) == behind
    assert (seed_index / "vectors.faiss").stat().st_mtime_ns == vectors_written
    # with nobody writing, the next reader repairs them, under the lock
    assert _cli("stats", "--index-dir", str(seed_index)).exit_code == 0
    assert json.loads(stamp.read_text())["generation"] >= 1


# ----- 5: faults end in a clear message or in recovery -----------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        lambda f: (f / "vectors.faiss").write_bytes(b"\x00garbage" * 100),
        lambda f: (f / "vectors.faiss").write_bytes((f / "vectors.faiss").read_bytes()[:200]),
        lambda f: (f / "derived.json").write_text(
            '{"vectors": 2, "max_row": 1, "deleted_seq": 0, "index_type": "flat"}'
        ),
        lambda f: (f / "lexical" / "docs.npy").write_bytes(b"not numpy"),
        lambda f: (f / "lexical" / "vocab.json").write_text("[1, 2"),
    ],
    ids=[
        "garbled-faiss",
        "truncated-faiss",
        "stamp-not-matching",
        "garbled-lexical",
        "truncated-lexical-vocabulary",
    ],
)
def test_a_damaged_derived_file_is_rebuilt_from_sqlite(seed_index, damage, caplog):
    import faiss

    damage(seed_index)
    stats = _cli("stats", "--index-dir", str(seed_index))
    assert stats.exit_code == 0, stats.output
    assert "chunks:   6" in stats.output and "Traceback" not in stats.output
    searched = _cli("search", QUESTION, "--index-dir", str(seed_index), "--json")
    assert searched.exit_code == 0
    assert ENRICHMENT_SENTENCE in json.loads(searched.stdout)["hits"][0]["chunk"]["text"]
    assert faiss.read_index(str(seed_index / "vectors.faiss")).ntotal == 6  # saved again
    assert any("rebuilding it from SQLite" in r.getMessage() for r in caplog.records)


def _run_read_only(folder: Path, *args: str) -> subprocess.CompletedProcess:
    command = [*read_only_mount(folder), sys.executable, "-m", "rag.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_ingest_into_a_read_only_folder_is_one_clear_line(seed_index, tmp_path):
    article = tmp_path / "new.txt"
    article.write_text("A new title\nA new body of text.", encoding="utf-8")
    into_index = _run_read_only(seed_index, "ingest", str(article), "--index-dir",
                                str(seed_index), "--no-progress")  # fmt: skip
    assert into_index.returncode == 1
    assert "read-only: reading works, writing is off" in into_index.stderr
    parent = tmp_path / "parent"
    parent.mkdir()
    new_index = _run_read_only(parent, "ingest", str(article), "--index-dir",
                               str(parent / "index"), "--no-progress")  # fmt: skip
    assert new_index.returncode == 1 and "cannot create an index in" in new_index.stderr
    for done in (into_index, new_index):
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_read_only_folder_serves_reads_and_says_writes_are_off(seed_index, tmp_path):
    server = start_server(seed_index, SEEDS, tmp_path / "server.log",
                          wrap=read_only_mount(seed_index))  # fmt: skip
    try:
        ready = httpx.get(f"{server.url}/readyz").json()
        assert ready["writable"] is False and ready["chunks"] == 6
        started = time.monotonic()  # ready means warmed up: no model loading on the first
        asked = httpx.post(f"{server.url}/v1/ask", json={"question": QUESTION},
                           headers=_auth(READ_KEY), timeout=60)  # fmt: skip
        assert asked.status_code == 200 and asked.json()["citations"]
        assert time.monotonic() - started < 5
        refused = httpx.post(f"{server.url}/v1/articles", json={"content": "x"},
                             headers=_auth(ADMIN_KEY), timeout=60)  # fmt: skip
        assert refused.status_code == 503 and _error(refused)["code"] == "index_unwritable"
        assert "read-only" in _error(refused)["message"]
        assert str(seed_index) not in refused.text  # no server path in a message
        data = ["Title", "Some article text.", "", "", "", "en"]
        event, payload = gradio_call(server.url, "add_pasted", data, ADMIN_KEY)
        assert event == "complete" and "read-only" in payload[0]
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text()


# ----- 6: no 500s ----------------------------------------------------------------------


def test_a_chat_message_part_whose_text_is_not_a_string_is_422(live_server):
    body = {"model": "rag",
            "messages": [{"role": "user", "content": [{"type": "text", "text": 42}]}]}  # fmt: skip
    response = httpx.post(f"{live_server.url}/v1/chat/completions", json=body,
                          headers=_auth(READ_KEY), timeout=60)  # fmt: skip
    assert response.status_code == 422 and _error(response)["code"] == "invalid_request"


def test_a_signed_slack_request_with_a_bad_timestamp_is_401(live_server):
    import hashlib
    import hmac

    body, _, _ = mention(QUESTION)
    base = f"v0:abc:{body}".encode()
    signature = "v0=" + hmac.new(SLACK_SECRET.encode(), base, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": signature,
               "Content-Type": "application/json"}  # fmt: skip
    response = httpx.post(f"{live_server.url}/slack/events", content=body, headers=headers)
    assert response.status_code == 401


# ----- 7: streams carry the finished answer ----------------------------------------------


def test_an_extractive_stream_sends_the_answer_as_tokens(live_server):
    with httpx.stream("POST", f"{live_server.url}/v1/ask", timeout=60, headers=_auth(READ_KEY),
                      json={"question": QUESTION, "stream": True}) as response:  # fmt: skip
        events = sse_events(response.iter_lines())
    tokens = [data["text"] for name, data in events if name == "token"]
    answer = next(data for name, data in events if name == "answer")
    assert len(tokens) >= 2 and "".join(tokens) == answer["text"]


# ----- 8: the API's smaller faults --------------------------------------------------------


def test_openai_clients_can_list_the_model(live_server):
    from openai import OpenAI

    client = OpenAI(base_url=f"{live_server.url}/v1", api_key=READ_KEY, max_retries=0)
    assert [model.id for model in client.models.list()] == ["rag"]


def test_unknown_routes_and_wrong_methods_use_the_error_shape(live_server):
    unknown = httpx.get(f"{live_server.url}/v1/nothing-here", headers=_auth(READ_KEY))
    assert unknown.status_code == 404 and _error(unknown)["code"] == "not_found"
    wrong = httpx.get(f"{live_server.url}/v1/ask", headers=_auth(READ_KEY))
    assert wrong.status_code == 405 and _error(wrong)["code"] == "method_not_allowed"
    assert wrong.headers["allow"] == "POST"


def test_a_chunked_body_over_the_limit_is_413(live_server):
    def chunks():
        for _ in range(MAX_BODY // 50_000 + 2):
            yield b"x" * 50_000

    response = httpx.post(f"{live_server.url}/v1/articles", content=chunks(), timeout=60,
                          headers={**_auth(ADMIN_KEY), "Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 413 and _error(response)["code"] == "body_too_large"


@pytest.mark.parametrize(
    "body",
    [
        {"query": "   \n\t"},
        {"query": "\u202e\u0000"},
        {"query": QUESTION, "filters": {"date_from": "2015-07-21garbage"}},
        {"query": QUESTION, "filters": {"date_to": "2015-07-2"}},
    ],
    ids=["whitespace", "controls-only", "date-with-a-tail", "short-date"],
)
def test_search_refuses_what_ask_refuses(live_server, body):
    response = httpx.post(f"{live_server.url}/v1/search", json=body, headers=_auth(READ_KEY))
    assert response.status_code == 422


def test_error_messages_do_not_show_the_servers_paths(live_server):
    missing = httpx.get(f"{live_server.url}/v1/articles/nothing", headers=_auth(READ_KEY))
    assert missing.status_code == 404
    message = _error(missing)["message"]
    assert str(live_server.index_dir) not in message and "/tmp" not in message


# ----- a server with one answer slot and a language model that can be held --------------


@pytest.fixture(scope="module")
def busy_server(tmp_path_factory, fake_slack):
    """max_concurrent_answers=1; the loopback model holds a question containing HOLD for
    a few seconds and cuts the stream of one containing CUT."""
    from tests.fake_llm import FakeLLM, Reply

    def reply(body):
        asked = json.dumps(body["messages"], ensure_ascii=False)
        if "HOLD" in asked:
            return Reply("Araghchi said enrichment is not negotiable [1].", delay=6)
        if "CUT" in asked:
            return Reply("Araghchi said that enrichment [1] is a right.", drop_after=2)
        return Reply("Araghchi said enrichment is not negotiable [1].")

    llm = FakeLLM().start()
    llm.reply = reply
    folder = tmp_path_factory.mktemp("busy")
    server = start_server(
        folder / "index", SEEDS, folder / "server.log",
        max_concurrent_answers="1", answer_queue_seconds="0",
        llm_model="openai/test-model", llm_api_base=llm.api_base,
        llm_api_key="sk-test", llm_timeout="20", llm_retries="0",
        slack_bot_token="xoxb-test-token", slack_signing_secret=SLACK_SECRET,
        slack_api_url=fake_slack.base_url,
    )  # fmt: skip
    yield server
    server.stop()
    llm.stop()


@contextmanager
def one_answer_in_progress(server):
    """While inside, the server's only answer slot is taken by a held question."""
    done = threading.Event()
    deadline = time.monotonic() + 30

    def hold():
        # the poll below may hold the slot for the moment the question arrives: ask again
        while httpx.post(f"{server.url}/v1/ask", json={"question": f"HOLD {QUESTION}"},
                         headers=_auth(READ_KEY), timeout=60).status_code == 503:  # fmt: skip
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        done.set()

    thread = threading.Thread(target=hold)
    thread.start()
    while httpx.post(f"{server.url}/v1/search", json={"query": QUESTION},
                     headers=_auth(ADMIN_KEY), timeout=60).status_code != 503:  # fmt: skip
        assert time.monotonic() < deadline, "the held question never took the slot"
        time.sleep(0.2)
    try:
        yield
    finally:
        thread.join()


def test_the_answer_cap_covers_the_web_chat_and_slack(busy_server, fake_slack):
    body, _, ts = mention(QUESTION)
    with one_answer_in_progress(busy_server):
        event, payload = ask_in_web(busy_server.url, QUESTION, READ_KEY)
        assert event == "complete" and "too many answers in progress" in payload[4]
        assert httpx.post(f"{busy_server.url}/slack/events", content=body,
                          headers=signed(body)).status_code == 200  # fmt: skip
        reply = fake_slack.wait_for(lambda m: m.get("thread_ts") == ts)[0]
    assert "in progress" in (reply.get("text") or text_of(reply))


def test_refused_requests_do_not_use_up_the_allowance(busy_server):
    with one_answer_in_progress(busy_server):
        statuses = [
            httpx.post(
                f"{busy_server.url}/v1/search",
                json={"query": QUESTION},
                headers=_auth(LIMITED_KEY),
                timeout=60,
            ).status_code  # fmt: skip
            for _ in range(RATE_LIMIT + 5)
        ]
    assert set(statuses) == {503}
    after = httpx.post(f"{busy_server.url}/v1/search", json={"query": QUESTION},
                       headers=_auth(LIMITED_KEY), timeout=60)  # fmt: skip
    assert after.status_code == 200


def test_wrong_keys_are_rate_limited_per_address(busy_server):
    statuses = [
        httpx.get(f"{busy_server.url}/v1/articles/x", headers=_auth(f"guess-{n}")).status_code
        for n in range(12)
    ]
    assert statuses[0] == 401 and statuses[-1] == 429


def test_streams_end_with_the_answer_the_service_finished(busy_server):
    """The model's stream is cut after two tokens: the extractive answer stands in."""
    from openai import OpenAI

    from rag.api.streams import REPLACED, completion_text
    from rag.types import Answer

    client = OpenAI(base_url=f"{busy_server.url}/v1", api_key=READ_KEY, max_retries=0)
    chunks = list(client.chat.completions.create(
        model="rag", messages=[{"role": "user", "content": f"CUT {QUESTION}"}], stream=True
    ))  # fmt: skip
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    final = Answer.from_dict(chunks[-1].model_extra["answer"])
    assert final.mode == "extractive" and any("language model" in n for n in final.notes)
    assert REPLACED in text and text.endswith(completion_text(final))

    with httpx.stream("POST", f"{busy_server.url}/v1/ask", timeout=60, headers=_auth(READ_KEY),
                      json={"question": f"CUT {QUESTION}", "stream": True}) as response:  # fmt: skip
        events = sse_events(response.iter_lines())
    answer = next(data for name, data in events if name == "answer")
    assert answer["mode"] == "extractive" and [n for n, _ in events][-1] == "done"


# ----- the web chat's filters (#23) ------------------------------------------------------


def test_the_web_filters_say_what_is_wrong_in_words_a_reader_knows(live_server):
    def respond(start, end):
        data = [QUESTION, [], [], [], start, end, "en"]
        return gradio_call(live_server.url, "respond", data, READ_KEY)[1][4]

    assert respond("1990-01-01", "1990-12-31") == (
        "No indexed article matches these filters (source and dates)."
    )
    notice = respond("2015-13-45", "")
    assert "“2015-13-45” is not a date" in notice and "date_from" not in notice


def test_ask_is_off_while_answering_and_stop_stops(busy_server):
    """Last in this module: it holds the server's only answer slot for a moment."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_FLAGS, log_in

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_page()
        log_in(page, busy_server.url, READ_KEY)
        page.locator("#question textarea").fill(f"HOLD {QUESTION}")
        page.locator("#send").click()
        page.locator("#stop").wait_for()  # shown while the model writes
        assert page.locator("#send").is_disabled()
        page.locator("#stop").click()
        page.locator("#stop").wait_for(state="hidden")
        assert page.locator("#send").is_enabled()
        # the model call cannot be taken back: the slot is busy until it ends, then free
        deadline = time.monotonic() + 60
        while httpx.post(f"{busy_server.url}/v1/search", json={"query": QUESTION},
                         headers=_auth(READ_KEY), timeout=60).status_code == 503:  # fmt: skip
            assert time.monotonic() < deadline, "the stopped answer never gave its slot back"
            time.sleep(1)
        assert page.locator("#chat .answer").count() == 0  # what it wrote is not shown
        page.locator("#question textarea").fill(QUESTION)
        page.locator("#send").click()
        page.locator("#sources mark.quote").first.wait_for(timeout=60_000)
        browser.close()
