"""Coachee states from replies: each rule, each language, negations, the window edge, and a coachee's journey."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coachd.plan import series
from coachd.plan.coachee_states import (
    MOMENTUM_WORDS, STATES, STRESS_WORDS, WINDOW, StateJudgement, derive_states, judge_coachee,
)
from coachd.model.observed import ReplyFact
from coachd.model.types import UTC

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def feedback(days_ago: float, rating: int | None, text: str | None = None, *, kind: str = "feedback-request",
             answers: dict[str, str] | None = None, avoid: str = "", person: str = "ana") -> ReplyFact:
    payload = {"text": str(rating) if text is None else text, "rating": rating,
               "answers": answers or {}, "repeat": "", "avoid": avoid}
    return ReplyFact(kind, f"s{days_ago}", person, NOW - timedelta(days=days_ago), rating, payload)


def wrote(days_ago: float, text: str, *, kind: str = "check-in", person: str = "ana",
          rating: int | None = None) -> ReplyFact:
    return ReplyFact(kind, None, person, NOW - timedelta(days=days_ago), rating, {"text": text})


def state(*replies: ReplyFact, now: datetime = NOW) -> str | None:
    judgement = judge_coachee(replies, now)
    return None if judgement is None else judgement.state


def test_states_match_the_planners():
    assert STATES == series.STATES


# --- no evidence ---

def test_no_replies_is_no_judgement():
    assert judge_coachee([], NOW) is None


def test_a_blank_reply_is_no_evidence():
    assert state(wrote(1, "   \n")) is None


def test_notes_from_a_coach_are_not_read():
    assert state(wrote(1, "Ana is overwhelmed and behind on quota", kind="notes-request")) is None


# --- ratings ---

@pytest.mark.parametrize("rating", [1, 2])
def test_newest_rating_of_one_or_two_is_stress(rating):
    judgement = judge_coachee([feedback(10, 5), feedback(3, rating)], NOW)
    assert judgement == StateJudgement("stress", (f"rating {rating} on 2027-02-26",))


def test_mean_of_last_three_ratings_at_most_two_and_a_half_is_stress():
    judgement = judge_coachee([feedback(20, 1), feedback(13, 3), feedback(6, 3)], NOW)
    assert judgement is not None and judgement.state == "stress"
    assert judgement.reasons == ("ratings 1, 3, 3 from 2027-02-09 to 2027-02-23 (mean 2.3)",)


def test_mean_rule_needs_three_ratings():
    assert state(feedback(13, 1), feedback(6, 3)) == "steady"


def test_mean_rule_reads_only_the_last_three():
    assert state(feedback(27, 1), feedback(20, 1), feedback(13, 3), feedback(6, 3), feedback(1, 3)) == "steady"


def test_two_ratings_of_four_or_more_with_a_five_is_momentum():
    judgement = judge_coachee([feedback(13, 4), feedback(6, 5)], NOW)
    assert judgement == StateJudgement("momentum", ("ratings 4, 5 on 2027-02-16 and 2027-02-23",))


@pytest.mark.parametrize("ratings", [(4, 4), (5, 3), (3, 5), (5,)])
def test_ratings_short_of_momentum_are_steady(ratings):
    replies = [feedback(7 * (len(ratings) - i), r) for i, r in enumerate(ratings)]
    judgement = judge_coachee(replies, NOW)
    assert judgement is not None and judgement.state == "steady"
    assert judgement.reasons[0].startswith(f"latest rating {ratings[-1]} on ")


def test_a_reminder_reply_counts_like_a_feedback_reply():
    assert state(feedback(3, 2, kind="feedback-reminder")) == "stress"
    assert state(feedback(10, 5, kind="feedback-reminder"), feedback(3, 4, kind="feedback-reminder")) == "momentum"


def test_other_reply_kinds_give_words_but_no_rating():
    assert state(wrote(2, "Fine, thanks", kind="goal-check-in", rating=1)) == "steady"
    assert state(wrote(2, "Honestly I'm exhausted", kind="goal-check-in")) == "stress"
    assert state(wrote(2, "Topics: we signed Contoso", kind="agenda")) == "momentum"


def test_out_of_range_ratings_are_ignored():
    assert state(feedback(3, 0, text="0"), feedback(2, 9, text="9")) == "steady"


# --- words ---

@pytest.mark.parametrize("text", [
    "I'm completely overwhelmed this month", "Feeling stressed out", "Close to burnt out", "burned-out, honestly",
    "Struggling with the Q1 pipeline", "Exhausted.", "Behind on my calls", "Falling behind again",
    "We lost the deal with Fabrikam", "It's all too much", "No time for prospecting", "Anxious about the review",
])
def test_english_stress_words(text):
    assert state(wrote(1, text)) == "stress"


@pytest.mark.parametrize("text", [
    "Ich bin total überfordert", "Sehr gestresst diese Woche", "Ehrlich gesagt erschöpft",
    "Wir sind im Rückstand", "UEBERFORDERT mit dem Forecast", "ziemlich erschoepft",
])
def test_german_stress_words(text):
    assert state(wrote(1, text)) == "stress"


@pytest.mark.parametrize("text", [
    "Je suis débordé", "Complètement débordée", "Un peu stressée", "On est épuisés", "Je suis en retard sur tout",
    "DEBORDEE cette semaine",
])
def test_french_stress_words(text):
    assert state(wrote(1, text)) == "stress"


@pytest.mark.parametrize("text", [
    "Estoy agobiado", "Muy agobiada", "Estamos estresados", "Agotada", "Voy atrasado con el forecast",
])
def test_spanish_stress_words(text):
    assert state(wrote(1, text)) == "stress"


@pytest.mark.parametrize("text", [
    "Estou sobrecarregado", "Muito sobrecarregada", "Estressada com as metas", "Esgotado", "Estamos atrasados",
])
def test_portuguese_stress_words(text):
    assert state(wrote(1, text)) == "stress"


@pytest.mark.parametrize("text", [
    "We closed Acme!", "Won the Northwind renewal", "Signed two contracts", "Real momentum now",
    "Ahead of plan", "Back on track", "Crushing it", "Great week overall", "Record month",
    "Deal abgeschlossen", "Ausschreibung gewonnen", "Vertrag unterschrieben",
    "Contrat signé", "On a gagné", "Accord conclu", "Trato cerrado", "Hemos ganado", "Contrato firmado",
    "Negócio fechado", "Ganhamos a conta", "Contrato assinado",
])
def test_momentum_words_in_every_language(text):
    assert state(wrote(1, text)) == "momentum"


def test_the_reason_quotes_what_the_coachee_wrote():
    judgement = judge_coachee([wrote(1, "Ehrlich: ÜBERFORDERT.")], NOW)
    assert judgement == StateJudgement("stress", ("wrote 'ÜBERFORDERT' on 2027-02-28",))


@pytest.mark.parametrize("text", [
    "unsigned paperwork", "the recorded call", "I won't be on the call", "closedown of the office",
    "we closed it in no time", "for the record, fine", "signed up for the workshop",
])
def test_words_match_whole_words_and_skip_idioms(text):
    judgement = judge_coachee([wrote(1, text)], NOW)
    assert judgement is not None
    assert judgement.state == ("momentum" if "closed it" in text else "steady"), judgement


def test_feedback_answers_and_avoid_are_read():
    assert state(feedback(1, 3, text="3", answers={"1": "good", "2": "I feel overwhelmed"})) == "stress"
    assert state(feedback(1, 3, text="3", avoid="Avoid: more admin, we're falling behind")) == "stress"


def test_a_stress_word_outweighs_a_momentum_word():
    judgement = judge_coachee([wrote(1, "We closed one, but I'm exhausted")], NOW)
    assert judgement == StateJudgement("stress", ("wrote 'exhausted' on 2027-02-28",))


def test_momentum_word_needs_the_newest_rating_at_four_or_more():
    assert state(feedback(1, 4, text="4, and we signed Contoso")) == "momentum"
    judgement = judge_coachee([feedback(1, 3, text="3, we signed Contoso")], NOW)
    assert judgement == StateJudgement("steady", ("latest rating 3 on 2027-02-28",
                                                  "wrote 'signed' on 2027-02-28, but the latest rating is 3"))


def test_only_the_newest_reply_with_text_is_read():
    assert state(wrote(10, "So stressed"), wrote(3, "Better now, thanks")) == "steady"
    assert state(wrote(10, "So stressed"), wrote(3, "  ")) == "stress"


# --- negations ---

@pytest.mark.parametrize("text", [
    "I'm not stressed", "No longer overwhelmed", "I don't feel exhausted", "Nicht gestresst",
    "Ich bin nicht mehr überfordert", "Je ne suis pas stressé", "Pas stressée du tout", "Je n'étais plus épuisé",
    "No estoy estresado", "Ya no estoy agobiada", "Não estou estressado", "Nunca esgotado",
])
def test_negated_stress_words_do_not_count(text):
    assert state(wrote(1, text)) == "steady"


def test_negated_momentum_words_do_not_count():
    assert state(wrote(1, "We haven't closed anything")) == "steady"
    assert state(wrote(1, "Not on track yet")) == "steady"


def test_negation_reaches_three_words_back():
    assert state(wrote(1, "not really feeling stressed")) == "steady"
    assert state(wrote(1, "not that I'd say I'm stressed")) == "stress"


def test_negation_stops_at_the_end_of_a_clause():
    assert state(wrote(1, "Not sure. I'm overwhelmed")) == "stress"
    assert state(wrote(1, "No, overwhelmed")) == "stress"
    assert state(wrote(1, "Avoid: nothing\nexhausted though")) == "stress"


# --- the window ---

def test_a_reply_six_weeks_and_a_day_old_is_ignored():
    assert state(feedback(42 + 1, 1)) is None
    assert state(feedback(42 + 1, 1), feedback(3, 3)) == "steady"


def test_a_reply_exactly_six_weeks_old_counts():
    assert WINDOW == timedelta(weeks=6)
    assert state(feedback(42, 1)) == "stress"


def test_replies_after_now_are_ignored():
    assert state(wrote(-1, "overwhelmed")) is None


# --- over time ---

def test_journey_stress_steady_momentum_stress():
    day = NOW - timedelta(days=60)
    replies = [
        ReplyFact("check-in", None, "ana", day, None, {"text": "Lost the deal, and I'm overwhelmed"}),
        ReplyFact("feedback-request", "s1", "ana", day + timedelta(days=7), 2, {"text": "2", "rating": 2}),
        ReplyFact("feedback-request", "s2", "ana", day + timedelta(days=21), 4, {"text": "4, helpful", "rating": 4}),
        ReplyFact("feedback-reminder", "s3", "ana", day + timedelta(days=35), 4, {"text": "4", "rating": 4}),
        ReplyFact("feedback-request", "s4", "ana", day + timedelta(days=49), 5, {"text": "5, great week", "rating": 5}),
        ReplyFact("goal-check-in", None, "ana", day + timedelta(days=56), None, {"text": "Behind on quota, anxious"}),
    ]

    def at(days: int) -> str | None:
        return state(*replies, now=day + timedelta(days=days, hours=1))

    assert at(0) == "stress"  # the words
    assert at(7) == "stress"  # then a rating of 2
    assert at(21) == "steady"  # three weeks later a 4 overrides both
    assert at(35) == "steady"  # 4, 4: good, not yet momentum
    assert at(49) == "momentum"  # 4, 5
    assert at(56) == "stress"  # new trouble
    assert at(56 + 43) is None  # everything has left the window


def test_derive_states_judges_only_coachees_with_evidence():
    replies = [feedback(3, 2, person="ana"), feedback(3, 5, person="ben"), feedback(10, 5, person="ben"),
               wrote(1, "overwhelmed", person="maria", kind="notes-request"), wrote(2, "overwhelmed", person="zoe")]
    result = derive_states(replies, ["ana", "ben", "kenji", "maria"], NOW)
    assert {person: j.state for person, j in result.items()} == {"ana": "stress", "ben": "momentum"}


def test_the_word_lists_cover_five_languages():
    assert {"überfordert", "débordé", "agobiado", "sobrecarregado", "overwhelmed"} <= set(STRESS_WORDS)
    assert {"gewonnen", "gagné", "firmado", "ganhamos", "won"} <= set(MOMENTUM_WORDS)


# --- properties ---

_SNIPPETS = ["", "  ", "4", "good session", "not stressed", "overwhelmed", "We closed Acme", "pas débordée",
             "no estoy estresado", "great week", "won't", "im Rückstand", "crushing it", "no, exhausted"]
_KINDS = ["feedback-request", "feedback-reminder", "goal-check-in", "check-in", "agenda", "notes-request"]

_replies = st.lists(st.builds(
    lambda kind, hours, rating, words, avoid: ReplyFact(
        kind, None, "ana", NOW - timedelta(hours=hours), rating,
        {"text": " ".join(words), "avoid": avoid, "answers": {"1": words[0]} if words else {}}),
    st.sampled_from(_KINDS),
    st.integers(min_value=-48, max_value=24 * 7 * 8).map(lambda h: h - h % 12),  # coarse, so times often tie
    st.one_of(st.none(), st.integers(min_value=0, max_value=6)),
    st.lists(st.sampled_from(_SNIPPETS), max_size=3),
    st.sampled_from(_SNIPPETS),
), max_size=8)


@settings(max_examples=300, deadline=None)
@given(replies=_replies, data=st.data())
def test_judgement_is_well_formed_and_independent_of_order(replies, data):
    judgement = judge_coachee(replies, NOW)
    assert judgement is None or (judgement.state in STATES and judgement.reasons
                                 and all(isinstance(r, str) and r for r in judgement.reasons))
    shuffled = data.draw(st.permutations(replies))
    assert judge_coachee(shuffled, NOW) == judgement
    assert derive_states(shuffled, ["ana"], NOW) == ({} if judgement is None else {"ana": judgement})
