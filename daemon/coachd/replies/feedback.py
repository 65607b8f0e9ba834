"""Reading a feedback reply: the 1-5 rating, the answers to the numbered questions, repeat and avoid."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from coachd.model.agenda import FEEDBACK_QUESTIONS
from coachd.replies.lines import is_greeting, is_pleasantry, logical_lines
from coachd.replies.quotes import Passage, passages
from coachd.replies.rating_forms import STAR_RUN, VALUE, alone, dashed, explicit, has_value, in_sentence, token

# "Note", "Nota", "Score" and "Grade" are ordinary words too ("Note: two of us were late"): after them
# the value must come first. After the others it may follow a few words ("Rating: I'd say 4").
_RATING_LABEL = re.compile(
    r"^[*_\s]*(?:(?P<loose>note|nota|score|grade)|rating|my rating|bewertung|wertung|calificaci[óo]n|"
    r"puntuaci[óo]n|puntaje|valoraci[óo]n|avalia[çc][ãa]o|pontua[çc][ãa]o)[*_\s]*(?:\(1\s*-\s*5\)\s*)?"
    r"(?:(?P<colon>[:=–-])|\s(?=\S))\s*(?P<rest>.*)$",
    re.IGNORECASE)
# "1. x", "1) x", "Q1: x", "1 - x"; not "1-2 deals" or "1.5 hours"
_NUMBERED = re.compile(
    r"^[*_\s]*(?P<q>q|question|frage|pregunta|pergunta)?\s*#?(?P<n>[1-3])\s*(?P<sep>[.):\]]|\s-|-\s)(?!\d)\s*"
    r"(?P<rest>.*)$",
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
_QUESTIONS = frozenset(str(n) for n in range(1, len(FEEDBACK_QUESTIONS) + 1))


@dataclass
class _Block:
    label: str  # "rating", "1", "2", "3", "repeat", "avoid" or "" for text under no label
    lines: list[str] = field(default_factory=list)


def feedback(text: str, *, prose: bool = True) -> dict[str, Any]:
    """Rating and answers from a reply's body text (quotes included: inline answers find their question).

    With `prose` (a feedback reply) a rating is also read in a sentence ("I'd give it a 4") or before a
    dash and a remark ("3 - too rushed"); without it (a self-assessment asked for on a line of its own,
    under numbered answers in prose) only a "Rating:" line, a value alone or an explicit "4/5" count.
    """
    blocks: list[_Block] = []
    for passage in passages(text):
        blocks.extend(_blocks(passage))
    for block in blocks:
        if block.label == "rating" and token(block.lines[0]) is None:
            block.label = ""  # "Note:" with prose under it was no rating line after all
    _settle_dashes(blocks, prose)
    answers = {str(n): "" for n in range(1, len(FEEDBACK_QUESTIONS) + 1)}
    result: dict[str, Any] = {"rating": None, "answers": answers, "repeat": "", "avoid": ""}
    for block in blocks:
        body = "\n".join(block.lines).strip()
        if block.label in answers and body and not answers[block.label]:
            answers[block.label] = body
        elif block.label in ("repeat", "avoid") and body and not result[block.label]:
            result[block.label] = body
    labelled = [b for b in blocks if b.label == "rating"]
    result["rating"] = _labelled_value(labelled[0]) if labelled else _loose_rating(blocks, prose)
    if not any(answers.values()):
        _answers_in_order(blocks, answers)
    return result


def _blocks(passage: Passage) -> list[_Block]:
    """Split a passage into labelled blocks; a quoted question right above it labels its first block."""
    context = _label(passage.quoted[-1])[0].lstrip("-") if passage.quoted else ""
    blocks = [_Block(context)]
    for line in passage.own:
        label, rest = _label(line)
        current = blocks[-1]
        if label.startswith("-") and current.label == "rating" and not current.lines:
            current.lines.append(line.strip())  # "2 - too rushed" typed under a quoted or bare "Rating:"
        elif label.startswith("-") and current.label in _QUESTIONS and not current.lines:
            blocks.append(_numbered(label[1:], rest))  # typed under a quoted question: answers, inline
        elif label:
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
        if "-" in match.group("sep") and not match.group("q") and dashed(stripped) is not None:
            return f"-{number}", stripped  # "3 - too rushed": an answer, or a rating with a remark (_settle_dashes)
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
        value = VALUE.match(rest)  # the whole of it, or the value then a remark: "4 - good pace", "4 (CFO part)"
        tail = rest[value.end():].strip() if value else ""
        return bool(STAR_RUN.match(rest)) or (value is not None and (not tail or tail[0] in "-–—(,;.!"))
    return token(rest) is not None


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


def _settle_dashes(blocks: list[_Block], prose: bool) -> None:
    """"2 - we ran out of time": the answer to question 2 among other answers (another question is answered
    or the rating given on its own line), else, in a feedback reply, a rating of 2 and its remark."""
    dashes = [b for b in blocks if b.label.startswith("-")]
    listed = not prose or len(dashes) > 1 or any(b.label == "rating" or b.label in _QUESTIONS for b in blocks)
    for block in dashes:
        if listed:
            answer = _numbered(block.label[1:], block.lines[0])
            block.label, block.lines[0] = answer.label, answer.lines[0]
        else:
            block.label = ""


def _numbered(number: str, line: str) -> _Block:
    """The answer a "2 - we ran out of time" line gives, to question 2."""
    match = _NUMBERED.match(line)
    return _Block(number, [_after_question(match.group("rest").strip() if match else line, int(number) - 1)])


def _labelled_value(block: _Block) -> int | None:
    """The value on (or right under) a "Rating:" line; anything but 1-5 there means no rating."""
    value = token(block.lines[0]) if block.lines else None
    return value if value is not None and 1 <= value <= 5 else None


def _loose_rating(blocks: list[_Block], prose: bool) -> int | None:
    """With no "Rating:" line: a line that is only a rating, else an explicit "4/5", "4 stars"; then, in
    prose, a value and a remark ("4 - too rushed") or a sentence ("I'd give it a 4"). The unmistakable forms
    come first, so prose only ever adds a rating where the stricter reading found none."""
    lines = [line for block in blocks for line in block.lines if has_value(line) or STAR_RUN.match(line)]
    for reader in (alone, explicit):
        for line in lines:
            value = reader(line)
            if value is not None:
                return value
    if prose:
        for line in lines:
            value = dashed(line) or in_sentence(line)
            if value is not None:
                return value
    return None


def _is_rating_line(line: str) -> bool:
    """A line that gives the rating, alone, with a remark ("4 - too rushed") or in a few words ("4/5 from me.",
    "I'd give it a 4."), rather than an answer."""
    if not has_value(line) and not STAR_RUN.match(line):
        return False
    return (alone(line) is not None or dashed(line) is not None
            or (len(line) <= 40 and (explicit(line) is not None or in_sentence(line) is not None)))


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
