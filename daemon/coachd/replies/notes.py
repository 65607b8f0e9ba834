"""Reading a coach's notes (conclusions, actions with owner and due date, free notes) and a coachee's topics."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from coachd.replies.dates import due_date
from coachd.replies.lines import bullet, is_greeting, is_pleasantry, logical_lines, one_line, paragraphs
from coachd.replies.quotes import passages

_SECTIONS = {
    "conclusions": ("conclusions", "conclusion", "key conclusions", "takeaways", "key takeaways", "decisions",
                    "summary", "learnings", "key points", "fazit", "ergebnisse", "schlussfolgerungen",
                    "erkenntnisse", "conclusiones", "conclusões", "conclusoes", "resumen", "resumo", "résumé"),
    "actions": ("actions", "action", "action items", "action item", "action points", "next steps", "to do", "todo",
                "to-do", "to dos", "todos", "to-dos", "follow-ups", "follow ups", "follow-up", "aufgaben",
                "maßnahmen", "massnahmen", "nächste schritte", "naechste schritte", "prochaines étapes",
                "à faire", "actions à mener", "acciones", "tareas", "próximos pasos", "ações", "acoes",
                "próximos passos", "tarefas"),
    # What got done of earlier actions, and who was missing: for the digest's action and attendance figures.
    "done": ("done", "completed", "finished", "done since last time", "erledigt", "fait", "terminé", "termine",
             "hecho", "completado", "feito", "concluído", "concluido"),
    "absent": ("absent", "absentees", "missing", "apologies", "not present", "abwesend", "entschuldigt",
               "absents", "excusés", "ausentes", "ausente"),
    "notes": ("notes", "other notes", "free notes", "comments", "other", "notizen", "anmerkungen", "sonstiges",
              "remarques", "autres notes", "notas", "observaciones", "observações", "outras notas"),
}
_HEADING_NAMES = {name: section for section, names in _SECTIONS.items() for name in names}
# "Conclusions", "## Action items:", "**Next steps**", "TO DO -", optionally followed by a first item.
_HEADING = re.compile(r"^[#*_\s]*(?P<name>[^\W\d][\w' -]{0,30}?)[*_\s]*(?::|\s[-–]|$)\s*[*_]*\s*(?P<rest>.*)$")

_NAME = r"[A-ZÀ-Þ][\w'’.-]*"
_OWNER_COLON = re.compile(r"^(?P<owner>[^\W\d][\w'’. &/-]{0,40}?)\s*:\s+(?P<text>\S.*)$")
_OWNER_DASH = re.compile(rf"^(?P<owner>{_NAME}(?:\s+(?:{_NAME}|&|and|und|et|y|e)){{0,3}})\s+[-–—]\s+(?P<text>\S.*)$")
_OWNER_TO = re.compile(rf"^(?P<owner>{_NAME}(?:\s+(?:{_NAME}|&|and|und|et|y|e)){{0,3}})\s+(?:to|will)\s+"
                       r"(?!be\b|do\b)(?P<text>\S.*)$")
_TOPIC_HEADING = re.compile(
    r"^[#*_\s]*(?:my |our )?(?:topics?|themen|thema|sujets?|th[èe]mes?|temas?|t[óo]picos?|assuntos?)"
    r"(?:\s+(?:for|für|pour|para)\b[^:]{0,40})?[*_\s]*(?::\s*(?P<rest>.*))?$", re.IGNORECASE)
_LEAD_IN = re.compile(r":\s*$")
_MAX_TOPICS = 5
_TOPIC_LENGTH = 200


def coach_notes(text: str, *, today: date | None = None) -> dict[str, Any]:
    """Conclusions, actions ({"owner", "text", "due"}) and free notes from a coach's reply or notes file;
    also "done" (earlier actions now done) and "absent" (who missed the session) when the coach wrote them.

    Year-less due dates ("by Feb 1") are resolved against `today`; without it they stay in the text.
    """
    found: dict[str, list[Any]] = {"conclusions": [], "actions": [], "notes": [], "done": [], "absent": []}
    section: str | None = None
    gap = False  # a blank line since the last item: prose after it ends a list
    lines = _own_lines(text)
    for raw in lines:
        line = raw.strip()
        if not line:
            gap = True
            continue
        heading = _heading(line)
        if heading is not None:
            section, first = heading
            gap = False
            if first:
                _add_item(section, first, found, today)
            continue
        if section in _LISTS and gap and not _item_like(section, line):
            section = "notes"  # free text after the sections
        elif section == "absent" and bullet(line) is None:
            section = "notes"  # names follow the heading or are bullets; a sentence is free text again
        gap = False
        if section is not None:
            _add_item(section, line, found, today)
    notes = found["notes"] if section is not None else lines  # no sections at all: everything is free notes
    result: dict[str, Any] = {"conclusions": found["conclusions"], "actions": found["actions"],
                              "notes": "\n".join(notes).strip()}
    # Only when written, so notes stored before these sections existed read the same.
    result |= {key: found[key] for key in ("done", "absent") if found[key]}
    return result


def _own_lines(text: str) -> list[str]:
    lines: list[str] = []
    for passage in passages(text):
        lines.extend(passage.own)
        lines.append("")
    return lines


def _heading(line: str) -> tuple[str, str] | None:
    match = _HEADING.match(line)
    if match is None:
        return None
    section = _HEADING_NAMES.get(" ".join(match.group("name").lower().split()))
    return (section, match.group("rest").strip()) if section else None


def _item_like(section: str, line: str) -> bool:
    return bullet(line) is not None or (section == "actions" and _owner_split(line)[0] != "")


_LISTS = ("conclusions", "actions", "done", "absent")


def _add_item(section: str, line: str, found: dict[str, list[Any]], today: date | None) -> None:
    if section == "notes":
        found["notes"].append(line)
        return
    item = bullet(line) or line.strip()
    if section == "actions":
        found["actions"].append(_action(item, today))
    elif section == "absent":
        # "Ben, Carlos (travelling)": one name per comma, the reason dropped.
        found["absent"].extend(n for n in (re.sub(r"\(.*?\)", "", part).strip() for part in item.split(",")) if n)
    else:
        found[section].append(item)


def _action(item: str, today: date | None) -> dict[str, str]:
    owner, text = _owner_split(item)
    text, due = due_date(text, today)
    return {"owner": owner, "text": text, "due": due}


def _owner_split(item: str) -> tuple[str, str]:
    """("Ana", "send the proposal") from "Ana: ...", "Ana - ..." or "Ana to ..."; ("", item) otherwise."""
    for pattern, most_words in ((_OWNER_COLON, 3), (_OWNER_DASH, 4), (_OWNER_TO, 4)):
        match = pattern.match(item)
        if match and len(match.group("owner").split()) <= most_words:  # "Ana and Ben Souza", not a sentence
            return match.group("owner").strip(), match.group("text").strip()
    return "", item


def topics(text: str) -> list[str]:
    """Topics sent in for the next agenda: a "Topics:" section, else bullet lines, else one a paragraph or line."""
    lines = [line.strip() for passage in passages(text) for line in (*passage.own, "")]
    found = _topic_section(lines) or [item for item in map(bullet, lines) if item] or _topic_paragraphs(lines)
    unique: list[str] = []
    for topic in (one_line(t, _TOPIC_LENGTH) for t in found):
        if topic and topic.lower() not in (u.lower() for u in unique):
            unique.append(topic)
    return unique[:_MAX_TOPICS]


def _topic_section(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        match = _TOPIC_HEADING.match(line)
        if match is None:
            continue
        inline = (match.group("rest") or "").strip()
        found = [part.strip() for part in inline.split(";") if part.strip()]
        for following in paragraphs(lines[index + 1:])[:1]:  # the paragraph under the heading
            found.extend(bullet(item) or item for item in logical_lines(following))
        return found
    return []


def _topic_paragraphs(lines: list[str]) -> list[str]:
    """One topic per line, as the agenda email asks; client-wrapped lines are joined back first."""
    found: list[str] = []
    for paragraph in paragraphs(lines):
        for item in logical_lines(paragraph):
            if not (is_pleasantry(item) or is_greeting(item) or _LEAD_IN.search(item)):
                found.append(item)
    return found

