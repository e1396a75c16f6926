"""The HTTP API against the real server (uvicorn on 127.0.0.1), as bots would call it."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import ENRICHMENT_SENTENCE
from tests.live_server import ADMIN_KEY, LIMITED_KEY, MAX_BODY, RATE_LIMIT, READ_KEY, sse_events

QUESTION = "What did Araghchi say about enrichment?"


def _auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def http(live_server):
    with httpx.Client(base_url=live_server.url, timeout=120) as client:
        yield client


def _error(response: httpx.Response) -> dict:
    assert response.headers["content-type"].startswith("application/json")
    return response.json()["error"]


def test_health_and_readiness(http):
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz").json()
    assert ready["status"] == "ready" and ready["chunks"] >= 1
    assert ready["articles_without_sentence_vectors"] == 0  # the seeds: both passes made


def test_ask_needs_a_valid_key(http):
    missing = http.post("/v1/ask", json={"question": QUESTION})
    assert missing.status_code == 401 and _error(missing)["code"] == "missing_key"
    wrong = http.post("/v1/ask", json={"question": QUESTION}, headers=_auth("not-a-key"))
    assert wrong.status_code == 401 and _error(wrong)["code"] == "invalid_key"
    assert "not-a-key" not in wrong.text


def test_ask_answers_with_the_enrichment_quote(http):
    response = http.post("/v1/ask", json={"question": QUESTION}, headers=_auth(READ_KEY))
    assert response.status_code == 200
    answer = response.json()
    assert answer["mode"] == "extractive" and not answer["abstained"]
    assert any(ENRICHMENT_SENTENCE in c["quote"] for c in answer["citations"])
    assert {"embed_query", "dense", "bm25", "answer"} <= set(answer["timings"])


def test_ask_streams_server_sent_events(http):
    body = {"question": QUESTION, "stream": True}
    with http.stream("POST", "/v1/ask", json=body, headers=_auth(READ_KEY)) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response.iter_lines())
    names = [name for name, _ in events]
    assert names[-2:] == ["answer", "done"]
    answer = events[-2][1]
    assert any(ENRICHMENT_SENTENCE in c["quote"] for c in answer["citations"])


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "question: Field required"),
        ({"question": ""}, "question: String should have at least 1 character"),
        ({"question": QUESTION, "k": 0}, "k: Input should be greater than or equal to 1"),
        ({"question": QUESTION, "filters": {"date_from": "yesterday"}}, "date_from must be a date"),
        ({"question": QUESTION, "surprise": 1}, "surprise: Extra inputs are not permitted"),
    ],
)
def test_invalid_requests_get_422_with_a_clear_message(http, body, words):
    response = http.post("/v1/ask", json=body, headers=_auth(READ_KEY))
    assert response.status_code == 422
    assert words in _error(response)["message"]


def test_a_body_that_is_not_json_gets_422(http):
    response = http.post(
        "/v1/ask",
        content=b"{not json",
        headers={**_auth(READ_KEY), "Content-Type": "application/json"},
    )
    assert response.status_code == 422 and _error(response)["code"] == "invalid_request"


def test_a_body_over_the_limit_gets_413(http):
    big = {"title": "big", "content": "x" * (MAX_BODY + 10)}
    response = http.post("/v1/articles", json=big, headers=_auth(ADMIN_KEY))
    assert response.status_code == 413 and _error(response)["code"] == "body_too_large"


def test_search_returns_ranked_hits(http):
    response = http.post("/v1/search", json={"query": QUESTION, "k": 3}, headers=_auth(READ_KEY))
    hits = response.json()["hits"]
    assert 1 <= len(hits) <= 3
    assert [hit["rank"] for hit in hits] == list(range(1, len(hits) + 1))  # the search's order
    assert ENRICHMENT_SENTENCE in hits[0]["best_sentence"]["text"]


def test_writes_need_an_admin_key_and_are_searchable_at_once(http):
    marker = uuid.uuid4().hex[:8]
    article = {
        "title": f"Zarquon fusion plant opens {marker}",
        "content": f"The Zarquon fusion plant {marker} opened on Monday. Its director said "
        "the plant will supply four hundred megawatts to the grid by spring.",
        "url": f"https://example.org/zarquon-{marker}",
        "source": "example-wire",
        "date": "2026-11-20",
    }
    refused = http.post("/v1/articles", json=article, headers=_auth(READ_KEY))
    assert refused.status_code == 403 and _error(refused)["code"] == "admin_required"

    added = http.post("/v1/articles", json=article, headers=_auth(ADMIN_KEY))
    assert added.status_code == 201 and added.json()["ingested"] == 1
    hits = http.post(
        "/v1/search",
        json={"query": f"How many megawatts will the Zarquon plant {marker} supply?", "k": 1},
        headers=_auth(READ_KEY),
    ).json()["hits"]
    article_id = hits[0]["chunk"]["article_id"]
    fetched = http.get(f"/v1/articles/{article_id}", headers=_auth(READ_KEY)).json()
    assert fetched["url"] == article["url"]

    assert http.delete(f"/v1/articles/{article_id}", headers=_auth(READ_KEY)).status_code == 403
    deleted = http.delete(f"/v1/articles/{article_id}", headers=_auth(ADMIN_KEY))
    assert deleted.status_code == 200 and deleted.json()["chunks"] >= 1
    gone = http.get(f"/v1/articles/{article_id}", headers=_auth(READ_KEY))
    assert gone.status_code == 404 and _error(gone)["code"] == "article_not_found"


def test_a_batch_reports_each_bad_article(http):
    batch = {
        "articles": [{"title": "ok", "content": "fine text"}, {"title": "empty", "content": " "}]
    }
    response = http.post("/v1/articles", json=batch, headers=_auth(ADMIN_KEY))
    report = response.json()
    assert response.status_code == 201
    assert report["failed"] == 1 and "empty 'content'" in report["failures"][0]["reason"]


def test_rate_limit_answers_429_with_retry_after(http):
    limited = _auth(LIMITED_KEY)  # a key no other test uses: its minute starts empty
    statuses = [
        http.get("/v1/articles/nothing", headers=limited).status_code for _ in range(RATE_LIMIT + 1)
    ]
    assert statuses[:RATE_LIMIT] == [404] * RATE_LIMIT
    assert statuses[-1] == 429
    last = http.get("/v1/articles/nothing", headers=limited)
    assert last.status_code == 429 and int(last.headers["Retry-After"]) >= 1
    assert _error(last)["code"] == "rate_limited"


def test_openai_compatible_endpoint_with_the_openai_client(live_server):
    from openai import OpenAI

    client = OpenAI(base_url=f"{live_server.url}/v1", api_key=READ_KEY, max_retries=0)
    completion = client.chat.completions.create(
        model="rag", messages=[{"role": "user", "content": QUESTION}]
    )
    content = completion.choices[0].message.content
    assert "[1]" in content and ENRICHMENT_SENTENCE in content
    assert any(ENRICHMENT_SENTENCE in c["quote"] for c in completion.model_extra["citations"])
    day = client.chat.completions.create(  # #33: the same digest as the chat and /v1/ask
        model="rag", messages=[{"role": "user", "content": "What happened on April 17, 2025?"}]
    )
    assert day.choices[0].message.content.startswith("The main stories of 2025-04-17")
    cited = day.model_extra["citations"]
    assert cited and all(c["date"].startswith("2025-04-17") for c in cited)

    streamed = client.chat.completions.create(
        model="rag", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in streamed if chunk.choices)
    assert ENRICHMENT_SENTENCE in text


def test_metrics_and_docs(http):
    http.post("/v1/ask", json={"question": QUESTION}, headers=_auth(READ_KEY))
    metrics = http.get("/metrics").text
    assert 'rag_requests_total{endpoint="ask",status="200"}' in metrics
    assert "rag_stage_seconds_bucket" in metrics and "rag_index_chunks" in metrics
    assert http.get("/docs").status_code == 200
    assert "/v1/ask" in http.get("/openapi.json").json()["paths"]


def test_security_headers_and_no_keys_in_the_log(http, live_server):
    page = http.get("/", headers=_auth(READ_KEY))
    assert page.status_code == 200
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert (
        "access-control-allow-origin"
        not in http.options(
            "/v1/ask",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        ).headers
    )
    log = live_server.log.read_text()
    assert READ_KEY not in log and ADMIN_KEY not in log


def test_ask_what_happened_on_a_day_gets_that_days_stories_and_nothing_after(http):
    """#33 through /v1/ask with as_of: the seed's day as a digest; a day without articles
    said plainly with the nearest day; "the latest" as of a day before the seed finds none."""

    def ask(question: str, as_of: str) -> dict:
        response = http.post("/v1/ask", json={"question": question, "as_of": as_of},
                             headers=_auth(READ_KEY))  # fmt: skip
        assert response.status_code == 200
        return response.json()

    day = ask("What happened on April 17, 2025?", "2025-04-20")
    assert not day["abstained"] and day["citations"]
    assert all(c["date"].startswith("2025-04-17") for c in day["citations"])
    assert day["text"].startswith("The main stories of 2025-04-17")
    empty = ask("ما أبرز الأخبار يوم 15 أبريل 2025؟", "2025-04-20")
    assert empty["abstained"] and not empty["citations"] and "2025-04-17" in empty["text"]
    before = ask("What is the latest news?", "2025-04-16")
    assert not [c for c in before["citations"] if c["date"][:10] > "2025-04-16"]
