"""Each coachee's state (stress, steady, momentum), judged from their recent replies, with reasons.

The rules (the same text is in docs/architecture.md, "Coachee states"):

- Evidence is the coachee's replies received in the last `WINDOW` (6 weeks) up to `now`, inclusive at
  both ends, read newest first. A reply is evidence when it carries a rating or some text. No evidence:
  no judgement (None), and the planner leaves that coachee's cadence alone.
- Ratings (1-5) come only from replies to feedback requests and feedback reminders; other replies
  contribute words only.
- Words come from a reply's `text`, plus a feedback reply's `answers` and `avoid`. Replies to a
  notes request are not read: notes are the coach's account of a session, not the writer's own state.
  Only the newest reply with text is read, so a later reply overrides what an earlier one said.
- Words match as whole words or phrases, ignoring case and accents ("debordee" is "débordée",
  "ueberfordert" is "überfordert"), in English, German, French, Spanish and Portuguese (`STRESS_WORDS`,
  `MOMENTUM_WORDS`). A few idioms that merely contain a listed word are skipped ("in no time",
  "for the record", "signed up").
- A word is negated, and does not count, when a negation (`NEGATIONS`: "not", "no", "never", any
  "...n't", "nicht", "kein", "ne", "n'...", "pas", "jamais", "nunca", "sin", "não", "nem", ...) stands
  within the 3 words before it in the same clause; clauses end at . , ; : ! ? brackets, dashes and line
  breaks. This applies to momentum words too: "haven't closed anything" is not momentum.
- stress: the newest rating is 1 or 2; or there are three ratings or more and the last three average
  2.5 or less; or the newest reply with text has a stress word.
- momentum, only without any stress signal: the last two ratings are both 4 or more and one of them is
  a 5; or the newest reply with text has a momentum word and the newest rating, if any, is 4 or more.
- steady: evidence, but neither of the above.

The judgement does not depend on the order of the replies given: ties in time are broken by content.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import fmean

from coachd.model.mail_kinds import FEEDBACK_KINDS, NOTES_KINDS
from coachd.model.observed import ReplyFact

STATES = ("stress", "steady", "momentum")
# Six weeks is three one-to-ones at the usual cadence: recent enough to be today's state.
WINDOW = timedelta(weeks=6)
# How many words before a match a negation may stand to cancel it.
NEGATION_REACH = 3


def _fr(*words: str) -> tuple[str, ...]:
    """French participles with their feminine and plural forms: débordé, débordée, débordés, débordées."""
    return tuple(w + ending for w in words for ending in ("", "e", "s", "es"))


def _ibero(*words: str) -> tuple[str, ...]:
    """Spanish and Portuguese participles ending in -o, with -a, -os, -as."""
    return tuple(w[:-1] + ending for w in words for ending in ("o", "a", "os", "as"))


STRESS_WORDS: tuple[str, ...] = (
    "overwhelmed", "stressed", "burned out", "burnt out", "burnout", "struggling", "exhausted", "behind on",
    "falling behind", "lost the deal", "lost a deal", "too much", "no time", "anxious",
    "überfordert", "gestresst", "erschöpft", "im Rückstand",
    *_fr("débordé", "stressé", "épuisé"), "en retard",
    *_ibero("agobiado", "estresado", "agotado", "atrasado"),
    *_ibero("sobrecarregado", "estressado", "esgotado"),
)
MOMENTUM_WORDS: tuple[str, ...] = (
    "closed", "won", "signed", "momentum", "ahead of", "on track", "crushing it", "great week", "record",
    "abgeschlossen", "gewonnen", "unterschrieben",
    *_fr("signé", "gagné", "conclu"),
    *_ibero("cerrado", "ganado", "firmado"),
    *_ibero("fechado", "assinado"), "ganhamos",
)
# Idioms that contain a listed word without its meaning ("we closed it in no time").
NEUTRAL_PHRASES: tuple[str, ...] = ("in no time", "for the record", "off the record", "on the record", "signed up")
NEGATIONS = frozenset({
    "not", "no", "never", "nor", "neither", "without", "nothing", "cannot",
    "nicht", "kein", "keine", "keinen", "keinem", "keiner", "nie", "niemals", "ohne",
    "ne", "pas", "jamais", "sans", "aucun", "aucune", "ni",
    "nunca", "sin", "tampoco", "nada", "nao", "nem", "sem",
})

_TOKEN = re.compile(r"\w+(?:['’ʼ]\w+)*")
_CLAUSE_END = re.compile(r"[.,;:!?()\[\]\n\r–—]+")


@dataclass(frozen=True)
class StateJudgement:
    """A coachee's state and the evidence for it, in words an admin can check against the replies."""

    state: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class _Mention:
    kind: str  # "stress" or "momentum"
    phrase: str  # as matched, normalised: one mention per phrase
    written: str  # as the coachee wrote it


def _fold(word: str) -> str:
    """Case- and accent-blind form of a word; apostrophes made plain so "don’t" is "don't"."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain.replace("’", "'").replace("ʼ", "'")


def _umlaut_spellings(phrase: str) -> set[str]:
    # German written without umlauts spells them ae/oe/ue, which accent folding alone does not cover.
    lower = phrase.lower()
    return {lower, lower.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")}


def _lexicon() -> dict[str, list[tuple[tuple[str, ...], str]]]:
    """First word -> (phrase words, kind), longest phrase first so "falling behind" wins over shorter ones."""
    entries = [(p, "neutral") for p in NEUTRAL_PHRASES]
    entries += [(p, "stress") for p in STRESS_WORDS] + [(p, "momentum") for p in MOMENTUM_WORDS]
    lexicon: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for phrase, kind in entries:
        for spelling in _umlaut_spellings(phrase):
            words = tuple(_fold(w) for w in _TOKEN.findall(spelling))
            if (words, kind) not in lexicon.get(words[0], []):
                lexicon.setdefault(words[0], []).append((words, kind))
    for candidates in lexicon.values():
        # Neutral idioms first at equal length, so they shadow the word they contain.
        candidates.sort(key=lambda entry: (-len(entry[0]), entry[1] != "neutral", entry))
    return lexicon


_LEXICON = _lexicon()


def _is_negation(word: str) -> bool:
    # "don't", "isn't"; French elision "n'est", "n'ai".
    return word in NEGATIONS or word.endswith("n't") or word.startswith("n'")


def _mentions_in(text: str) -> Iterator[_Mention]:
    """Stress and momentum words in `text` that no negation cancels, in reading order."""
    start = 0
    for clause_end in [m.start() for m in _CLAUSE_END.finditer(text)] + [len(text)]:
        matches = list(_TOKEN.finditer(text, start, clause_end))
        words = [_fold(m.group()) for m in matches]
        i = 0
        while i < len(words):
            found = next(((phrase, kind) for phrase, kind in _LEXICON.get(words[i], ())
                          if tuple(words[i:i + len(phrase)]) == phrase), None)
            if found is None:
                i += 1
                continue
            phrase, kind = found
            before = words[max(0, i - NEGATION_REACH):i]
            if kind != "neutral" and not any(_is_negation(w) for w in before):
                written = text[matches[i].start():matches[i + len(phrase) - 1].end()]
                yield _Mention(kind, " ".join(phrase), " ".join(written.split()))
            i += len(phrase)
        start = clause_end


def _texts(reply: ReplyFact) -> list[str]:
    """What the coachee wrote in a reply, field by field; empty when there is nothing to read."""
    if reply.request_kind in NOTES_KINDS:
        return []
    payload = reply.payload
    fields: list[object] = [payload.get("text")]
    if reply.request_kind in FEEDBACK_KINDS:
        answers = payload.get("answers")
        if isinstance(answers, Mapping):
            fields += [answers[k] for k in sorted(answers, key=str)]
        fields.append(payload.get("avoid"))
    return [f for f in fields if isinstance(f, str) and f.strip()]


def _rating(reply: ReplyFact) -> int | None:
    rating = reply.rating
    if reply.request_kind not in FEEDBACK_KINDS or isinstance(rating, bool) or not isinstance(rating, int):
        return None
    return rating if 1 <= rating <= 5 else None


def _order(reply: ReplyFact) -> tuple[datetime, str, str, int, str]:
    # Time first; content breaks ties so the result never depends on the order replies were given in.
    content = json.dumps(dict(reply.payload), sort_keys=True, default=str, ensure_ascii=False)
    rating = reply.rating if isinstance(reply.rating, int) else -1
    return reply.received_at, reply.request_kind, reply.session_id or "", rating, content


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def judge_coachee(replies: Sequence[ReplyFact], now: datetime) -> StateJudgement | None:
    """One coachee's state from their replies (any order), or None when the window holds no evidence."""
    recent = sorted((r for r in replies if now - WINDOW <= r.received_at <= now), key=_order)
    ratings = [(r.received_at, rating) for r in recent if (rating := _rating(r)) is not None]
    written = next(((r, texts) for r in reversed(recent) if (texts := _texts(r))), None)
    if not ratings and written is None:
        return None

    mentions: dict[str, list[_Mention]] = {"stress": [], "momentum": []}
    if written is not None:
        seen: set[tuple[str, str]] = set()
        for mention in (m for text in written[1] for m in _mentions_in(text)):
            if (mention.kind, mention.phrase) not in seen:
                seen.add((mention.kind, mention.phrase))
                mentions[mention.kind].append(mention)
    wrote_on = _day(written[0].received_at) if written is not None else ""
    newest = ratings[-1] if ratings else None

    stress: list[str] = []
    if newest is not None and newest[1] <= 2:
        stress.append(f"rating {newest[1]} on {_day(newest[0])}")
    last_three = ratings[-3:]
    if len(last_three) == 3 and fmean(r for _, r in last_three) <= 2.5:
        values = ", ".join(str(r) for _, r in last_three)
        stress.append(f"ratings {values} from {_day(last_three[0][0])} to {_day(last_three[-1][0])} "
                      f"(mean {fmean(r for _, r in last_three):.1f})")
    stress += [f"wrote '{m.written}' on {wrote_on}" for m in mentions["stress"]]
    if stress:
        return StateJudgement("stress", tuple(stress))

    momentum: list[str] = []
    last_two = ratings[-2:]
    if len(last_two) == 2 and all(r >= 4 for _, r in last_two) and any(r == 5 for _, r in last_two):
        (first, a), (second, b) = last_two
        momentum.append(f"ratings {a}, {b} on {_day(first)} and {_day(second)}")
    if newest is None or newest[1] >= 4:
        momentum += [f"wrote '{m.written}' on {wrote_on}" for m in mentions["momentum"]]
    if momentum:
        return StateJudgement("momentum", tuple(momentum))

    steady: list[str] = []
    if newest is not None:
        steady.append(f"latest rating {newest[1]} on {_day(newest[0])}")
    if mentions["momentum"] and newest is not None:
        # Said to be going well, but the rating disagrees: worth showing why this is not momentum.
        steady += [f"wrote '{m.written}' on {wrote_on}, but the latest rating is {newest[1]}"
                   for m in mentions["momentum"]]
    else:
        evidence = sum(1 for r in recent if _rating(r) is not None or _texts(r))
        steady.append(f"no stress or momentum signal in {evidence} repl{'y' if evidence == 1 else 'ies'} "
                      f"in the last {WINDOW.days // 7} weeks")
    return StateJudgement("steady", tuple(steady))


def derive_states(replies: Sequence[ReplyFact], coachee_ids: Iterable[str],
                  now: datetime) -> dict[str, StateJudgement]:
    """The state of every coachee in `coachee_ids` with evidence in the window; others are left out."""
    by_person: dict[str, list[ReplyFact]] = {person: [] for person in coachee_ids}
    for reply in replies:
        if reply.person_id in by_person:
            by_person[reply.person_id].append(reply)
    judgements = {person: judge_coachee(own, now) for person, own in by_person.items()}
    return {person: judgement for person, judgement in judgements.items() if judgement is not None}
