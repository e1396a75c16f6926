"""Evaluation datasets: SQuAD-format JSON (XQuAD, ARCD, TyDi) and JSONL question files.

SQuAD paragraphs become articles (``--build-from-contexts`` indexes them); each question
knows its gold paragraph and the gold answer's offset in it. Parallel XQuAD files can be
paired: questions from one language, paragraphs (and gold answers) from another.

JSONL: one object a line with ``question``, ``answers`` (list of strings), and optionally
``gold_article``, ``gold_url`` (with ``also_urls``: other copies that count as gold),
``answers_en`` (more gold answers, e.g. English renderings), ``answerable`` (default true),
``lang``, ``id``: the shape of news-dev. Questions about time (news-time-dev) add ``kind``,
``as_of``, ``history`` and ``expect`` and have no gold answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from rag.errors import RagError
from rag.news.documents import content_key
from rag.text.arabic import question_language
from rag.types import Article, is_iso_date

TIME_KINDS = ("digest", "topic_day", "latest", "empty_day", "followup_latest")


class DatasetError(RagError):
    """A dataset file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    answers: tuple[str, ...]  # gold answers; empty for unanswerable questions
    lang: str
    answerable: bool = True
    gold_article: str | None = None
    gold_url: str | None = None
    answer_start: int | None = None  # offset of the first gold answer in the gold article
    also_urls: tuple[str, ...] = ()  # other newspapers' copies that also hold the answer
    # a question about time (news-time-dev): its kind, the day it is asked, the turns
    # before it, and what its answer is judged against (rag.evaluation.time_questions)
    kind: str = ""
    as_of: str | None = None
    history: tuple[dict, ...] = ()
    expect: dict = field(default_factory=dict, compare=False)

    @property
    def gold_urls(self) -> frozenset[str]:
        """The URLs whose articles count as gold (``gold_url`` and its ``also_urls``)."""
        return frozenset(u for u in (self.gold_url, *self.also_urls) if u)


@dataclass
class Dataset:
    name: str
    questions: list[EvalQuestion]
    contexts: list[Article] = field(default_factory=list)  # SQuAD paragraphs as articles

    def merge_repeated_contexts(self) -> tuple[Dataset, dict[str, str]]:
        """The dataset with each paragraph that repeats an earlier one's text dropped (an
        index stores one copy) and its questions' gold moved to the copy that is kept; and
        which paragraph went to which."""
        kept: dict[str, Article] = {}
        merged: dict[str, str] = {}
        contexts = []
        for article in self.contexts:
            first = kept.setdefault(content_key(article.text), article)
            if first is article:
                contexts.append(article)
            else:
                merged[article.id] = first.id
        if not merged:
            return self, {}
        same_text = {a.id for a in self.contexts if a.id in merged
                     and a.text == kept[content_key(a.text)].text}  # fmt: skip
        questions = [
            replace(q, gold_article=merged[q.gold_article],
                    answer_start=q.answer_start if q.gold_article in same_text else None)
            if q.gold_article in merged else q
            for q in self.questions
        ]  # fmt: skip
        return replace(self, questions=questions, contexts=contexts), merged


def load_dataset(path: Path, *, contexts: Path | None = None) -> Dataset:
    """A dataset from ``path`` (``.json``: SQuAD; ``.jsonl``: one question a line)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    if path.suffix == ".jsonl":
        if contexts is not None:
            raise DatasetError("--contexts pairs SQuAD files; a JSONL dataset has no paragraphs")
        return Dataset(path.stem, list(_jsonl_questions(path)))
    if path.suffix == ".json":
        return _squad(path, contexts)
    raise DatasetError(f"{path}: expected a SQuAD .json or a .jsonl file")


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise DatasetError(f"{path}: not UTF-8 text ({err.reason})") from None
    except json.JSONDecodeError as err:
        raise DatasetError(f"{path}: line {err.lineno}: not valid JSON: {err.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise DatasetError(f'{path}: not SQuAD format (expected {{"data": [...]}})')
    return data


def _squad(path: Path, contexts: Path | None) -> Dataset:
    questions_doc = _read_json(path)["data"]
    contexts_doc = _read_json(contexts)["data"] if contexts else questions_doc
    if len(questions_doc) != len(contexts_doc):
        raise DatasetError(f"{path} and {contexts} are not parallel: different article counts")
    name = path.stem if contexts is None else f"{path.stem}+{Path(contexts).stem}"
    articles, questions = [], []
    for a, (q_doc, c_doc) in enumerate(zip(questions_doc, contexts_doc, strict=True)):
        q_pars, c_pars = _paragraphs(q_doc, path, a), _paragraphs(c_doc, contexts or path, a)
        if len(q_pars) != len(c_pars):
            raise DatasetError(f"{path}: data[{a}] is not parallel to {contexts}")
        for p, (q_par, c_par) in enumerate(zip(q_pars, c_pars, strict=True)):
            where = f"{path}: data[{a}].paragraphs[{p}]"
            context = c_par.get("context")
            if not isinstance(context, str) or not context.strip():
                raise DatasetError(f"{where}: no context")
            article_id = f"{path.stem.split('.')[0]}-{a}-{p}"
            articles.append(Article(article_id, str(c_doc.get("title", "")), context,
                                    source=path.stem.split(".")[0]))  # fmt: skip
            gold = {qa.get("id"): qa for qa in c_par.get("qas", [])}
            for qa in q_par.get("qas", []):
                questions.append(_squad_question(qa, gold.get(qa.get("id"), qa), article_id, where))
    return Dataset(name, questions, articles)


def _paragraphs(doc: object, path: Path, index: int) -> list[dict]:
    if not isinstance(doc, dict) or not isinstance(doc.get("paragraphs"), list):
        raise DatasetError(f"{path}: data[{index}] has no paragraphs list")
    return doc["paragraphs"]


def _squad_question(qa: dict, gold: dict, article_id: str, where: str) -> EvalQuestion:
    if not isinstance(qa, dict) or not isinstance(qa.get("question"), str):
        raise DatasetError(f"{where}: a question without 'question' text")
    answers = gold.get("answers") or []
    impossible = bool(gold.get("is_impossible", False)) or not answers
    return EvalQuestion(
        id=str(qa.get("id", "")),
        question=qa["question"],
        answers=tuple(a["text"] for a in answers if isinstance(a, dict) and "text" in a),
        lang=question_language(qa["question"]),
        answerable=not impossible,
        gold_article=article_id,
        answer_start=None if impossible else answers[0].get("answer_start"),
    )


def _jsonl_questions(path: Path):
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise DatasetError(f"{path}: not UTF-8 text ({err.reason})") from None
    count = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DatasetError(f"{path}: line {number}: not valid JSON: {err.msg}") from None
        yield _jsonl_question(record, f"{path}: line {number}", number)
        count += 1
    if not count:
        raise DatasetError(f"{path}: no questions")


def _jsonl_question(record: object, where: str, number: int) -> EvalQuestion:
    if not isinstance(record, dict):
        raise DatasetError(f"{where}: expected a JSON object")
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise DatasetError(f"{where}: missing 'question'")
    answers = _strings(record, "answers", where) + _strings(record, "answers_en", where)
    also_urls = _strings(record, "also_urls", where)
    answerable = record.get("answerable")
    if answerable is None:
        answerable = bool(answers)
    if not isinstance(answerable, bool):
        raise DatasetError(f"{where}: 'answerable' must be true or false")
    return EvalQuestion(
        id=str(record.get("id", number)),
        question=question,
        answers=tuple(answers),
        lang=record.get("lang") or question_language(question),
        answerable=answerable,
        gold_article=record.get("gold_article") or None,
        gold_url=record.get("gold_url") or None,
        also_urls=tuple(also_urls),
        **_time_fields(record, where),
    )


def _time_fields(record: dict, where: str) -> dict:
    """``kind``, ``as_of``, ``history`` and ``expect`` of a question about time."""
    kind = record.get("kind") or ""
    if kind not in TIME_KINDS:  # news-dev's kinds (fact, number...) are for reading only
        return {}
    as_of, history = record.get("as_of"), record.get("history") or []
    if as_of is not None and not (isinstance(as_of, str) and is_iso_date(as_of)):
        raise DatasetError(f"{where}: 'as_of' must be a date like 2015-07-21")
    if not isinstance(history, list) or not all(isinstance(t, dict) for t in history):
        raise DatasetError(f"{where}: 'history' must be a list of {{role, content}} turns")
    expect = record.get("expect") or {}
    if not isinstance(expect, dict):
        raise DatasetError(f"{where}: 'expect' must be an object")
    return {"kind": kind, "as_of": as_of, "history": tuple(history), "expect": expect}


def _strings(record: dict, name: str, where: str) -> list[str]:
    """A field holding a string or a list of strings (absent or null: none)."""
    value = record.get(name) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DatasetError(f"{where}: '{name}' must be a list of strings")
    return value
