"""Reading a feedback reply: the 1-5 rating, the answers to the numbered questions, repeat and avoid."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from coachd.model.agenda import FEEDBACK_QUESTIONS
from coachd.replies.lines import is_greeting, is_pleasantry, logical_lines
from coachd.replies.quotes import Passage, passages

_NUMBER_WORDS = {
    # en, de, fr, es, pt; "un"/"um" are left out: as words in prose they mean "a", not "one"
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "eins": 1, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "fuenf": 5,
    "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5,
    "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5,
    "uma": 1, "dois": 2, "duas": 2, "três": 3, "quatro": 4,
}
_WORD = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
_OUT_OF = r"(?:/|out\s+of|of|von|sur|de|em|sobre)"
_STARS_WORD = r"(?:stars?|sterne?|étoiles?|etoiles?|estrellas?|estrelas?)"
# "4", "4/5", "4 out of 5", "4 stars", "four", "vier von fünf": never part of a date, a time or a decimal.
_VALUE = re.compile(
    rf"(?<![\w./:,-])(?P<n>\d+|{_WORD})(?:\s*{_OUT_OF}\s*(?P<scale>\d+|five|fünf|cinq|cinco)\b)?"
    rf"(?:[\s-]*{_STARS_WORD})?(?![\w/:-]|[.,]\d)",
    re.IGNORECASE)
# In prose only unmistakable forms count ("4/5", "4 out of 5", "4 stars"), never a bare number.
_EXPLICIT = re.compile(
    rf"(?<![\w./:,-])(?P<n>[1-5]|{_WORD})(?:\s*(?:/|out\s+of|von|sur|sobre)\s*(?:5|five|fünf|cinq|cinco)"
    rf"(?![\w/:-]|[.,]\d)|[\s-]*{_STARS_WORD}\b)",
    re.IGNORECASE)
_STAR_RUN = re.compile(r"^[*★☆✩✭⭐\s]+$")

# "Note", "Nota", "Score" and "Grade" are ordinary words too ("Note: two of us were late"): after them
# the value must come first. After the others it may follow a few words ("Rating: I'd say 4").
_RATING_LABEL = re.compile(
    r"^[*_\s]*(?:(?P<loose>note|nota|score|grade)|rating|my rating|bewertung|wertung|calificaci[óo]n|"
    r"puntuaci[óo]n|puntaje|valoraci[óo]n|avalia[çc][ãa]o|pontua[çc][ãa]o)[*_\s]*(?:\(1\s*-\s*5\)\s*)?"
    r"(?:(?P<colon>[:=–-])|\s(?=\S))\s*(?P<rest>.*)$",
    re.IGNORECASE)
# "1. x", "1) x", "Q1: x", "1 - x"; not "1-2 deals" or "1.5 hours"
_NUMBERED = re.compile(
    r"^[*_\s]*(?:q|question|frage|pregunta|pergunta)?\s*#?(?P<n>[1-3])\s*(?:[.):\]]|\s-|-\s)(?!\d)\s*(?P<rest>.*)$",
    re.IGNORECASE)
# Questions named rather than numbered: "Worked well: ...", "Expectations? ..."
_NAMED = (re.compile(r"^(?:what worked(?: well)?|worked well|went well)\s*[:?]\s*(?P<rest>.*)$", re.IGNORECASE),
          re.compile(r"^(?:more or less|more/less|more of|less of|do more)\s*[:?]\s*(?P<rest>.*)$", re.IGNORECASE),
          re.compile(r"^(?:expectations?(?: met)?)\s*[:?]\s*(?P<rest>.*)$", re.IGNORECASE))
_REPEAT_LABEL = re.compile(
    r"^[*_\s]*(?:repeat|to repeat|keep|keep doing|wiederholen|beibehalten|r[ée]p[ée]ter|[àa] r[ée]p[ée]ter|"
    r"[àa] refaire|a repetir|repetir|continuar|manter)[*_\s]*[:–-]\s*(?P<rest>.*)$", re.IGNORECASE)
_AVOID_LABEL = re.compile(
    r"^[*_\s]*(?:avoid|to avoid|stop|stop doing|vermeiden|[ée]viter|[àa] [ée]viter|evitar|a evitar)[*_\s]*[:–-]\s*"
    r"(?P<rest>.*)$", re.IGNORECASE)


def _question_keys() -> list[str]:
    """Each question reduced to its leading words, which is how people repeat a question."""
    return [" ".join(_plain(q).split()[:4]) for q in FEEDBACK_QUESTIONS]


def _plain(text: str) -> str:
    return re.sub(r"[^\w\s]", " ", text.lower())


_KEYS = _question_keys()


@dataclass
class _Block:
    label: str  # "rating", "1", "2", "3", "repeat", "avoid" or "" for text under no label
    lines: list[str] = field(default_factory=list)


def feedback(text: str) -> dict[str, Any]:
    """Rating and answers from a reply's body text (quotes included: inline answers find their question)."""
    blocks: list[_Block] = []
    for passage in passages(text):
        blocks.extend(_blocks(passage))
    for block in blocks:
        if block.label == "rating" and _token(block.lines[0]) is None:
            block.label = ""  # "Note:" with prose under it was no rating line after all
    answers = {str(n): "" for n in range(1, len(FEEDBACK_QUESTIONS) + 1)}
    result: dict[str, Any] = {"rating": None, "answers": answers, "repeat": "", "avoid": ""}
    for block in blocks:
        body = "\n".join(block.lines).strip()
        if block.label in answers and body and not answers[block.label]:
            answers[block.label] = body
        elif block.label in ("repeat", "avoid") and body and not result[block.label]:
            result[block.label] = body
    labelled = [b for b in blocks if b.label == "rating"]
    result["rating"] = _labelled_value(labelled[0]) if labelled else _loose_rating(blocks)
    if not any(answers.values()):
        _answers_in_order(blocks, answers)
    return result


def _blocks(passage: Passage) -> list[_Block]:
    """Split a passage into labelled blocks; a quoted question right above it labels its first block."""
    context = _label(passage.quoted[-1])[0] if passage.quoted else ""
    blocks = [_Block(context)]
    for line in passage.own:
        label, rest = _label(line)
        current = blocks[-1]
        if label:
            blocks.append(_Block(label, [rest] if rest else []))
        elif not line.strip():
            if current.lines:
                blocks.append(_Block(""))  # an answer ends at its paragraph's end
        else:
            current.lines.append(line.strip())
        if blocks[-1].label == "rating" and blocks[-1].lines:
            blocks.append(_Block(""))  # a rating is one value; the next line is something else
    return [b for b in blocks if b.lines]


def _label(line: str) -> tuple[str, str]:
    """The label a line starts with, and the text after it."""
    stripped = line.strip()
    match = _RATING_LABEL.match(stripped)
    if match and _rating_follows(match):
        return "rating", match.group("rest").strip()
    for label, pattern in (("repeat", _REPEAT_LABEL), ("avoid", _AVOID_LABEL)):
        match = pattern.match(stripped)
        if match:
            return label, match.group("rest").strip()
    match = _NUMBERED.match(stripped)
    if match:
        number, rest = match.group("n"), match.group("rest").strip()
        return number, _after_question(rest, int(number) - 1)
    plain = " ".join(_plain(stripped).split())
    for index, key in enumerate(_KEYS):
        if key and plain.startswith(key):
            return str(index + 1), _after_question(stripped, index)
    for index, pattern in enumerate(_NAMED):
        match = pattern.match(stripped)
        if match:
            return str(index + 1), match.group("rest").strip()
    return "", stripped


def _rating_follows(match: re.Match[str]) -> bool:
    """Whether what follows a rating label is a value (or nothing yet: the value may be on the next line)."""
    rest = match.group("rest").strip()
    if not rest:
        return bool(match.group("colon"))
    if match.group("loose") or not match.group("colon"):
        value = _VALUE.match(rest)  # the whole of it, or the value then a remark: "4 - good pace", "4 (CFO part)"
        tail = rest[value.end():].strip() if value else ""
        return bool(_STAR_RUN.match(rest)) or (value is not None and (not tail or tail[0] in "-–—(,;.!"))
    return _token(rest) is not None


def _after_question(text: str, index: int) -> str:
    """The answer written on the question's own line: "What worked well? The role play" -> "The role play"."""
    if index >= len(_KEYS) or not " ".join(_plain(text).split()).startswith(_KEYS[index]):
        return text
    question = FEEDBACK_QUESTIONS[index]
    for position, char in enumerate(text[:len(question) + 10]):
        if char in "?:":
            return text[position + 1:].strip(" -–")
    # The question without its mark: drop its leading words.
    words = text.split()
    return " ".join(words[len(_KEYS[index].split()):]).strip(" -–:")


def _labelled_value(block: _Block) -> int | None:
    """The value on (or right under) a "Rating:" line; anything but 1-5 there means no rating."""
    value = _token(block.lines[0]) if block.lines else None
    return value if value is not None and 1 <= value <= 5 else None


def _token(line: str) -> int | None:
    """The first rating-like value in a line as written (0 when it is no 1-5 value), None when there is none."""
    stripped = line.strip()
    if _STAR_RUN.match(stripped) and stripped:
        return sum(stripped.count(star) for star in "*★⭐✭")
    match = _VALUE.search(stripped)
    if match is None:
        return None
    scale = match.group("scale")
    if scale is not None and _number(scale) != 5:
        return 0  # "8/10": a rating on another scale, which we do not guess at
    return _number(match.group("n")) or 0


def _number(token: str) -> int | None:
    if token.isdigit():
        return int(token) if len(token) <= 2 else None
    return _NUMBER_WORDS.get(token.lower())


def _loose_rating(blocks: list[_Block]) -> int | None:
    """With no "Rating:" line: a line that is only a rating, else an explicit "4/5", "4 stars"; never prose numbers."""
    lines = [line for block in blocks for line in block.lines]
    for line in lines:
        value = _alone(line)
        if value is not None:
            return value
    for line in lines:
        match = _EXPLICIT.search(line)
        if match:
            return _number(match.group("n"))
    return None


def _alone(line: str) -> int | None:
    """A line that is nothing but a rating: "4", "4/5", "4 out of 5", "Four.", "****", "★★★★☆", "4 stars"."""
    stripped = line.strip().rstrip("!.")
    if len(stripped) > 24:
        return None
    value = _token(stripped)
    if value is None or not 1 <= value <= 5:
        return None
    leftover = _VALUE.sub("", stripped, count=1).strip() if not _STAR_RUN.match(stripped) else ""
    return value if not leftover else None


def _is_rating_line(line: str) -> bool:
    """A line that gives the rating, alone or in a few words ("4/5 from me."), rather than an answer."""
    return _alone(line) is not None or (len(line) <= 40 and _EXPLICIT.search(line) is not None)


def _without_rating_sentence(line: str) -> str:
    """"4 stars. Really useful." -> "Really useful.": a rating said in its own short sentence is no answer."""
    match = re.match(r"^(.{1,40}?[.!;])\s+(\S.*)$", line)
    return match.group(2) if match and _is_rating_line(match.group(1)) else line


def _answers_in_order(blocks: list[_Block], answers: dict[str, str]) -> None:
    """Unnumbered answers: the paragraphs (or short lines) under no label, in order, one per question."""
    items: list[str] = []
    for block in blocks:  # each unlabelled block is one paragraph
        if not block.label:
            items.extend(_without_rating_sentence(line) for line in logical_lines(block.lines)
                         if not is_greeting(line) and not is_pleasantry(line) and not _is_rating_line(line))
    for key, item in zip(answers, items, strict=False):  # more items than questions: the rest is chat
        answers[key] = item
