"""Ratings written the way people write them, in the five languages the reply parser reads (issue 15 point 4).

tests/replies/ratings.tsv holds the phrasings, each with the rating a person reading the reply finds, or
none: inside a sentence ("I'd give it a 4", "Ich würde 4 geben", "je mets 4", "le doy un 4", "dou nota 4"),
a number, a dash and a comment ("4 - too rushed"), and what is no rating though it holds a number 1-5:
counts, dates, times, quoted questions, ordinals, other scales.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from coachd.replies import reading as reply_text

TABLE = Path(__file__).parents[1] / "replies" / "ratings.tsv"
LANGUAGES = {"en", "de", "fr", "es", "pt"}


def _rows() -> list[tuple[int | None, str, str]]:
    rows = []
    for number, line in enumerate(TABLE.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        expected, language, text = line.split("\t")
        assert language in LANGUAGES, f"ratings.tsv line {number}: unknown language {language!r}"
        rows.append((None if expected == "-" else int(expected), language, text.replace("\\n", "\n")))
    return rows


ROWS = _rows()


def test_the_table_is_big_enough_and_covers_each_language_both_ways() -> None:
    assert len(ROWS) >= 100
    for language in LANGUAGES:
        found = [expected for expected, lang, _ in ROWS if lang == language]
        assert any(e is None for e in found) and sum(e is not None for e in found) >= 8, language
    assert len({text for _, _, text in ROWS}) == len(ROWS), "each phrasing once"


@pytest.mark.parametrize(("expected", "language", "text"), ROWS, ids=[f"{lang}:{text[:40]}" for _, lang, text in ROWS])
def test_a_feedback_reply_reads_the_rating_a_person_finds(expected: int | None, language: str, text: str) -> None:
    assert reply_text.feedback(text)["rating"] == expected


@pytest.mark.parametrize("text", ["I'd give it a 4", "4 - too rushed", "je mets 4", "dou nota 4", "Ich würde 4 geben"])
def test_a_self_assessment_keeps_its_number_on_a_line_of_its_own(text: str) -> None:
    # The goal check-in and the wrap-up survey ask for the number on a line of its own, under numbered
    # answers in prose: there a number in a sentence or before a dash is an answer, not the self-assessment.
    assert reply_text.rating(text) is None
    assert reply_text.rating(f"{text}\n\n3") == 3


def test_a_dash_answer_is_the_rating_only_when_no_other_question_is_answered() -> None:
    alone = reply_text.feedback("2 - we ran out of time\nThe role play was the best part.")
    assert alone["rating"] == 2 and alone["answers"]["1"] == "The role play was the best part."
    listed = reply_text.feedback("1 - The role play\n2 - we ran out of time\nRepeat: role plays")
    assert listed["rating"] is None
    assert (listed["answers"]["1"], listed["answers"]["2"]) == ("The role play", "we ran out of time")
    assert reply_text.feedback("Rating: 5\n2 - we ran out of time")["answers"]["2"] == "we ran out of time"


def test_a_rating_sentence_or_dash_is_never_taken_for_an_answer() -> None:
    got = reply_text.feedback("4 - too rushed\nThe role play\nMore on objections\nYes")
    assert got["rating"] == 4
    assert got["answers"] == {"1": "The role play", "2": "More on objections", "3": "Yes"}


@pytest.mark.parametrize("text", [
    "4/5 " * 70_000, "on 4/5 " * 40_000, "say 4 because " * 20_000, "give it a 4 or " * 20_000,
    '"' + "give it a 4 " * 20_000, "a 4 from me " * 20_000, "4 - " * 70_000, "I'd give it " * 30_000 + "4",
    ("le doy un " * 5 + "4 ") * 5_000, "no le doy un 5 " * 20_000, "I'd give it a a a a a a a a a a " * 8_000,
], ids=lambda text: text[:16])
def test_a_line_full_of_near_misses_is_read_in_linear_time(text: str) -> None:
    # Each near-miss is weighed on a bounded window around it, and only so many per line. As first written
    # (every near-miss weighed against all of the line before it) a tenth of the "on 4/5" line took 35 s.
    # CPU time: what other processes on the machine do does not count.
    start = time.process_time()
    found = reply_text.feedback(text)["rating"], reply_text.rating(text)
    assert all(value is None or 1 <= value <= 5 for value in found)
    assert time.process_time() - start < 2.0
