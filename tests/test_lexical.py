"""The in-memory lexical index: a row scores the same in the snapshot as added since, a
deleted row is never found, and the snapshot survives a save and a load."""

import numpy as np
import pytest

from rag.store.lexical import LexicalIndex

DOCS = [
    (3, "مطر جده مدارس مطر"),
    (5, "مطر رياض"),
    (8, "نفط سعر سوق"),
    (9, "سوق اسهم مصارف سوق"),
    (12, "جده ميناء سفن"),
]


def _scores(index: LexicalIndex, query: list[str]) -> dict[int, float]:
    return dict(index.search(query, 10))


def test_rows_added_since_the_snapshot_score_as_if_they_were_in_it():
    whole = LexicalIndex.build(DOCS)
    split = LexicalIndex.build(DOCS[:2])
    split.add(DOCS[2:])
    for query in (["مطر"], ["سوق", "مصارف"], ["جده", "مطر"], ["غائب"]):
        expected, found = _scores(whole, query), _scores(split, query)
        assert found.keys() == expected.keys()
        assert all(found[row] == pytest.approx(expected[row]) for row in expected)


def test_bm25_prefers_the_rarer_term_and_the_denser_document():
    index = LexicalIndex.build(DOCS)
    assert [row for row, _ in index.search(["سوق"], 2)] == [9, 8]  # two "سوق" in a short row
    # "نفط" is in one row, "مطر" in two: the rarer term's row first
    assert [row for row, _ in index.search(["مطر", "نفط"], 5)] == [8, 3, 5]


def test_deleted_rows_are_never_found_and_allowed_rows_restrict():
    index = LexicalIndex.build(DOCS[:3])
    index.add(DOCS[3:])
    index.remove([3, 9, 77])  # one in the snapshot, one since, one never there
    assert 3 not in _scores(index, ["مطر"]) and 5 in _scores(index, ["مطر"])
    assert list(_scores(index, ["سوق"])) == [8]
    assert list(_scores(index, ["جده"])) == [12]
    assert index.search(["جده"], 5, allowed=np.array([5, 8])) == []
    assert index.count() == 3 and index.docs() == 5


def test_a_saved_snapshot_loads_with_the_same_scores(tmp_path):
    index = LexicalIndex.build(DOCS)
    index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    assert loaded.snapshot_docs == 5
    assert _scores(loaded, ["سوق", "جده"]) == pytest.approx(_scores(index, ["سوق", "جده"]))
    loaded.add([(20, "سوق جديد")])
    assert 20 in _scores(loaded, ["سوق"])


def test_an_empty_index_finds_nothing():
    empty = LexicalIndex.build([])
    assert empty.search(["مطر"], 5) == []
    empty.add([(1, "مطر")])
    assert empty.search(["مطر"], 5)[0][0] == 1
