"""How people write a 1-5 rating in a reply: a value on its own ("4", "four", "****"), an unmistakable
form in prose ("4/5", "4 out of 5", "4 stars"), a value then a dash and a remark ("4 - too rushed"), or a
value inside a sentence ("I'd give it a 4", "Ich würde 4 geben", "je mets 4", "le doy un 4", "dou nota 4").

Never a rating, though each holds a number from 1 to 5: a count ("3 deals", "4 out of 5 people"), a
date ("on 4/5"), a time ("at 4", "4:30"), a decimal, an ordinal ("4th"), a range or a choice ("3 or 4",
"3 and a half"), a question ("would you give it a 5?"), a quotation, a denial ("I wouldn't give it a 5"),
and any value on another scale ("8/10": we do not guess what it means on ours).

Every pattern is a list of words with bounded repetition and no nested quantifiers, so that a line of
any length is read in linear time (the fuzz tests time hostile input).
"""

from __future__ import annotations

import itertools
import re

NUMBER_WORDS = {
    # en, de, fr, es, pt; "un"/"um" are left out: as words in prose they mean "a", not "one"
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "eins": 1, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "fuenf": 5,
    "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5,
    "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5,
    "uma": 1, "dois": 2, "duas": 2, "três": 3, "quatro": 4,
}
WORD = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
_OUT_OF = r"(?:/|out\s+of|of|von|sur|de|em|sobre)"
_STARS_WORD = r"(?:stars?|sterne?n?|étoiles?|etoiles?|estrellas?|estrelas?)"
# "4", "4/5", "4 out of 5", "4 stars", "four", "vier von fünf": never part of a date, a time or a decimal.
VALUE = re.compile(
    rf"(?<![\w./:,-])(?P<n>\d+|{WORD})(?:\s*{_OUT_OF}\s*(?P<scale>\d+|five|fünf|cinq|cinco)\b)?"
    rf"(?:[\s-]*{_STARS_WORD})?(?![\w/:-]|[.,]\d)",
    re.IGNORECASE)
# In prose only unmistakable forms count ("4/5", "4 out of 5", "4 stars"), never a bare number.
_EXPLICIT = re.compile(
    rf"(?<![\w./:,-])(?P<n>[1-5]|{WORD})(?:\s*(?P<by>/|out\s+of|von|sur|sobre|de|em)\s*(?:5|five|fünf|cinq|cinco)"
    rf"(?![\w/:-]|[.,]\d)|[\s-]*{_STARS_WORD}\b)",
    re.IGNORECASE)
STAR_RUN = re.compile(r"^[*★☆✩✭⭐\s]+$")
# Any value at all: most lines have none, and are passed over at the cost of one scan.
_ANY_VALUE = re.compile(rf"\d|\b(?=[otfezdvuqc])(?:{WORD})\b", re.IGNORECASE)

# What makes "4/5" a date: the word right before it ("on 4/5", "le 4/5", "el 4/5", "até dia 4/5", "Mon 4/5").
_DATE_WORDS = frozenset({
    "on", "by", "until", "till", "from", "before", "after", "since", "due", "am", "bis", "vom", "ab", "zum", "le",
    "du", "au", "avant", "après", "apres", "el", "del", "hasta", "desde", "em", "no", "na", "até", "ate", "dia",
    "antes", "depois", "feira", "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun", "monday",
    "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "montag", "dienstag", "mittwoch",
    "donnerstag", "freitag", "samstag", "sonntag", "lun", "mer", "jeu", "ven", "sam", "dim", "lundi", "mardi",
    "mercredi", "jeudi", "vendredi", "samedi", "dimanche", "mié", "jue", "vie", "sáb", "dom", "lunes", "martes",
    "miércoles", "jueves", "viernes", "sábado", "domingo", "seg", "ter", "qua", "qui", "sex", "segunda", "terça",
    "quarta", "quinta", "sexta"})
_LAST_WORD = re.compile(r"(\w+)\.?,?\s*$")
# What makes "4/5" or "4 out of 5" a share of a group: "4/5 of the team", "4 out of 5 people".
_SHARE_AFTER = re.compile(
    r"^\s*(?:of|der|des|du|dos|das|del|do|de\s+(?:la|las|los|les|l['’])|da(?!\s+minha)|"
    r"people|persons|participants|attendees|members|colleagues|coachees|sessions|meetings|calls|deals|days|"
    r"weeks|months|times|questions|goals|items|hours|minutes|teams|leute|personen|teilnehmer\w*|kollegen|"
    r"sitzungen|termine|anrufe|tage|wochen|monate|stunden|minuten|mal|personnes|séances|seances|réunions|"
    r"reunions|appels|jours|semaines|mois|heures|fois|personas|participantes|sesiones|reuniones|llamadas|días|"
    r"dias|semanas|meses|horas|minutos|veces|pessoas|sessões|sessoes|reuniões|reunioes|ligações|ligacoes|"
    r"vezes)\b",
    re.IGNORECASE)

# Words that lead to a rating in a sentence, in the five languages; the value follows after at most a
# few of the _FILLERS ("I'd give [the session] [a] [solid] 4"). A lead of its own is no rating: the
# value must also be followed by an end, a remark or one of the _FOLLOWERS, never by a noun ("3 deals").
_LEADS = (
    # en
    r"give|gave|giving|gives|rate|rated|rating|score|scored|scoring|grade|graded|say|said|"
    r"go\s+with|go\s+for|going\s+with|going\s+for|went\s+with|went\s+for|call\s+it|put\s+it\s+at|"
    r"(?:it|that|this)(?:['’]s|\s+is|\s+was)\s+an?|overall|all\s+in\s+all|"
    r"solid|strong|clear|firm|decent|my\s+(?:rating|score|grade|mark)|"
    # de
    r"gebe|geb|gäbe|gaebe|gab|vergebe|würde|wuerde|würd|bewerte|bewerten|sagen|sage|wäre|waere|von\s+mir|"
    r"insgesamt|alles\s+in\s+allem|unterm\s+strich|(?:ist|war)\s+(?:eine|ne)|glatte|solide|"
    # fr
    r"(?:je|j['’])\s*(?:(?:lui|la|le|leur)\s+|l['’]\s*)?(?:mets|mettrais|mettrai|donne|donnerais|donnerai|note|"
    r"noterais|dirais|attribue|attribuerais)|c['’]est\s+une?|ce\s+serait\s+une?|ma\s+note|globalement|"
    # es
    r"(?:(?:le|la|lo|les)\s+)?(?:doy|daría|daria|pongo|pondría|pondria|califico|calificaría|calificaria|"
    r"puntúo|puntuo|puntuaría|puntuaria|otorgo|otorgaría|otorgaria)|diría|diria|digo|"
    r"mi\s+(?:nota|calificación|calificacion|puntuación|puntuacion|valoración|valoracion)|(?:es|fue)\s+una?|"
    r"en\s+general|"
    # pt
    r"(?:lhe\s+)?(?:dou|daria|darei|dava|avalio|avaliaria|atribuo|atribuiria|ponho|poria)(?:-lhe)?|"
    r"minha\s+(?:nota|avaliação|avaliacao)|nota|(?:é|foi)\s+uma?|no\s+geral|em\s+geral")
_FILLERS = (
    r"it|this|that|them|him|her|the|today['’]s|today|session|workshop|meeting|one|whole|thing|program|"
    r"programme|module|an?|solid|strong|clear|firm|fair|decent|good|weak|low|high|easy|maybe|probably|perhaps|"
    r"about|around|roughly|like|easily|only|just|honestly|definitely|myself|it['’]s|is|was|would|be|"
    r"ich|es|der|dem|die|das|ihr|ihm|sitzung|termin|heute|heutigen|insgesamt|eine[nr]?|ne|glatte|solide|gute|"
    r"klare|starke|mal|so|etwa|ungefähr|ehrlich|gesagt|wohl|vielleicht|eher|mit|gibt|gibt['’]s|gibts|gerne?|"
    r"eindeutig|lui|la|le|une?|à|séance|seance|atelier|cette|bon|bonne|franc|facilement|largement|volontiers|"
    r"note|de|d['’]|environ|plutôt|plutot|sans|hésiter|hesiter|honnêtement|honnetement|est|serait|ce|"
    r"lo|el|sesión|sesion|taller|nota|con|que|sólido|solido|buen|claro|fácilmente|tranquilamente|sin|duda|"
    r"hoy|sería|seria|seguramente|probablemente|esta|um|uma|o|sessão|sessao|com|lhe|sem|dúvida|hoje|é|boa")
_FOLLOWERS = (
    r"from|for|overall|because|but|as|since|though|although|if|really|honestly|tbh|imo|today|this|again|"
    r"already|without|easily|at\s+(?:least|most|best)|max|maybe|probably|and|or|with|so|given|considering|then|"
    r"in\s+general|von\s+mir|für|fuer|weil|aber|denn|da|insgesamt|heute|geben|vergeben|bewerten|sagen|gerne|"
    r"und|oder|mit|ehrlich|wegen|obwohl|diesmal|pour|car|mais|parce|vu|aujourd['’]hui|globalement|et|ou|avec|"
    r"sans|cette|franchement|honnêtement|de\s+(?:ma|mi|minha|mim)|da\s+minha|porque|pero|ya|hoy|para|por|"
    r"en\s+general|y|o|con|sin|sinceramente|aunque|mas|pois|hoje|em\s+geral|e|com|sem|embora")
_IN_SENTENCE = re.compile(
    rf"(?<![\w'’])(?:{_LEADS})\b(?:\s*[:=,])?(?:\s+(?:{_FILLERS})\b){{0,5}}\s*(?<=[\s:=,])"
    rf"(?P<n>[1-5]|{WORD})(?:\s*(?:/|out\s+of|of|von|sur|de|em|sobre)\s*(?P<scale>\d+|{WORD})\b)?"
    rf"(?:[\s-]*(?:{_STARS_WORD}|points?|punkte?|pontos?|puntos?|pts)\b)?"
    rf"(?![.,:/]\d|-\w)(?=\s*(?:$|[.!,;)\]?]|[-–—]+\s|\(|(?:{_FOLLOWERS})\b))",
    re.IGNORECASE)
# "a 4 from me", "4 pour moi", "un 4 de mi parte": the value first, at a sentence's start or after an article.
_FROM_ME = re.compile(
    rf"(?:^|[.!,;:]\s*|\b(?:an?|une?|eine|um|uma)\s+)(?:(?:solid|strong|glatte|bon|sólido|solido)\s+)?"
    rf"(?P<n>[1-5]|{WORD})\s+(?:from\s+me|for\s+me|von\s+mir|für\s+mich|pour\s+moi|de\s+ma\s+part|de\s+mi\s+parte|"
    rf"para\s+mí|para\s+mi|por\s+mi\s+parte|de\s+minha\s+parte|da\s+minha\s+parte|para\s+mim)\b",
    re.IGNORECASE)
# "4 - too rushed", "4, too rushed", "4 (too rushed)": a value alone, then a remark after a dash with a space
# after it ("4-star" is a value), a comma or a parenthesis.
_DASHED = re.compile(r"^(?P<value>.{1,24}?)\s*(?:[-–—]{1,2}\s+|,\s+|\()(?P<remark>\S.*)$")
_REMARK_IS_VALUE = re.compile(rf"(?:\d|(?:{WORD}|{_STARS_WORD})\b)", re.IGNORECASE)
# "3 or 4", "between 3 and 4", "4 - 5", "3 and a half": two values or a fraction, which is no one rating.
_SECOND_VALUE = re.compile(
    rf"^\s*[,/–—-]?\s*(?:(?:or|and|to|oder|und|bis|ou|et|à|o|y|e|a)\s+)?(?:(?:an?|une?|una?|uma|eine?)\s+)?"
    rf"(?:\d|(?:{WORD})\b)|^\s*(?:and\s+a\s+half|½|[.,]5|et\s+demi|y\s+medio|e\s+meio|einhalb|und\s+ein\s+halb)",
    re.IGNORECASE)
_NEGATION = re.compile(
    r"\b(?:not|never|no|nicht|nie|kein\w*|ne|pas|jamais|nunca|não|nao|nem|ni)\b|n['’]t\b|\bn['’]", re.IGNORECASE)
_RATING_VERB = re.compile(
    r"\b(?:give|gave|giving|rate|rated|score|geben|gebe|vergebe|bewerte\w*|mets|mettrais|donne\w*|note\w*|doy|"
    r"dar\w*|pongo|pondr\w+|califica\w*|dou|avalia\w*|avalio)\b", re.IGNORECASE)
_CLAUSE_BREAK = re.compile(r"[,.;:!?()\"“”«»„]|\b(?:but|aber|sondern|mais|pero|sino|mas)\b|\d", re.IGNORECASE)
_QUOTATION = re.compile(r"\"[^\"\n]{0,200}\"|“[^”\n]{0,200}”|„[^“”\n]{0,200}[“”]|«[^»\n]{0,200}»")
_SENTENCE_END = re.compile(r"[.!?](?!\d)")
_CONTEXT = 160  # characters looked at either side of a value: a sentence's worth
_TRIES = 24  # near-misses weighed per line and form; a person gives the rating well before that many


def has_value(line: str) -> bool:
    """Whether a line holds a digit or a number word at all (the readers below pass over the others)."""
    return _ANY_VALUE.search(line) is not None


def number(token: str) -> int | None:
    """The value of "4" or "four" (None for a number word not known, or a number of three digits or more)."""
    if token.isdigit():
        return int(token) if len(token) <= 2 else None
    return NUMBER_WORDS.get(token.lower())


def token(line: str) -> int | None:
    """The first rating-like value in a line as written (0 when it is no 1-5 value), None when there is none."""
    stripped = line.strip()
    if STAR_RUN.match(stripped) and stripped:
        return sum(stripped.count(star) for star in "*★⭐✭")
    match = VALUE.search(stripped)
    if match is None:
        return None
    scale = match.group("scale")
    if scale is not None and number(scale) != 5:
        return 0  # "8/10": a rating on another scale, which we do not guess at
    return number(match.group("n")) or 0


def alone(line: str) -> int | None:
    """A line that is nothing but a rating: "4", "4/5", "4 out of 5", "Four.", "****", "★★★★☆", "4 stars"."""
    stripped = line.strip().rstrip("!.")
    if len(stripped) > 24 or not (_ANY_VALUE.search(stripped) or STAR_RUN.match(stripped)):
        return None
    value = token(stripped)
    if value is None or not 1 <= value <= 5:
        return None
    leftover = VALUE.sub("", stripped, count=1).strip() if not STAR_RUN.match(stripped) else ""
    return value if not leftover else None


def explicit(line: str) -> int | None:
    """The first unmistakable rating in prose ("4/5 from me", "I'd give it 4 out of 5"), but never a date,
    a share of a group, a question, a quotation or a denial."""
    if not _ANY_VALUE.search(line):
        return None
    text = _unquoted(line)
    for match in itertools.islice(_EXPLICIT.finditer(text), _TRIES):
        before, after = _around(text, match)
        if match.group("by") == "/" and _dated(before):
            continue  # "on 4/5", "le 4/5"
        if match.group("by") and _SHARE_AFTER.match(after):
            continue  # "4/5 of the team", "4 out of 5 people"
        if _SECOND_VALUE.match(after) or _asked(after) or _denied(before, match.group(0)):
            continue
        return number(match.group("n"))
    return None


def dashed(line: str) -> int | None:
    """A value on its own, then a remark: "4 - too rushed", "Four – good pace", "4/5 — thanks", "4, too rushed"."""
    match = _DASHED.match(line.strip()) if _ANY_VALUE.search(line[:30]) else None
    if match is None:
        return None
    remark = match.group("remark")
    if _REMARK_IS_VALUE.match(remark) or _ANY_VALUE.search(remark[:24]) or alone(remark) is not None:
        return None  # "5 - 10 minutes late", "Two, maybe three": a range or a choice, not a value and a remark
    return alone(match.group("value"))


def in_sentence(line: str) -> int | None:
    """The rating a sentence gives: "I'd give it a 4", "Ich würde 4 geben", "je mets 4", "le doy un 4",
    "dou nota 4", "a 4 from me"; None for a count, a time, a question, a quotation, a denial or another scale."""
    if not _ANY_VALUE.search(line):
        return None
    text = _unquoted(line)
    for pattern in (_IN_SENTENCE, _FROM_ME):
        for match in itertools.islice(pattern.finditer(text), _TRIES):
            value = number(match.group("n"))
            scale = match.groupdict().get("scale")
            before, after = _around(text, match)
            if value is None or not 1 <= value <= 5 or (scale is not None and number(scale) != 5):
                continue  # "I'd give it a 7", "I'd give it 8/10": not on our scale, not guessed at
            if _SECOND_VALUE.match(after) or _asked(after) or _denied(before, match.group(0)):
                continue
            return value
    return None


def _around(text: str, match: re.Match[str]) -> tuple[str, str]:
    """A little of the text before and after a match: enough for a clause, and bounded, so that a line
    with thousands of near-misses is still read in linear time."""
    return text[max(0, match.start() - _CONTEXT):match.start()], text[match.end():match.end() + _CONTEXT]


def _unquoted(line: str) -> str:
    """The line with what it quotes blanked out (positions kept): a quoted question is not the answer."""
    return _QUOTATION.sub(lambda m: " " * len(m.group(0)), line)


def _dated(before: str) -> bool:
    """Whether the word before a "4/5" makes it a date: "on 4/5", "le 4/5", "Fri 4/5"."""
    last = _LAST_WORD.search(before[-16:])
    word = last.group(1).lower() if last else ""
    return word in _DATE_WORDS


def _asked(after: str) -> bool:
    """Whether the sentence a value is in ends with a question mark: "would you give it a 5?"."""
    end = _SENTENCE_END.search(after)
    return end is not None and end.group(0) == "?"


def _denied(before: str, found: str) -> bool:
    """Whether the clause that gives the value denies it: "I wouldn't give it a 5", "no le doy un 5"."""
    window = before[-60:]
    if not _NEGATION.search(window + found):
        return False  # the usual case, found at the cost of one scan
    clause = _CLAUSE_BREAK.split(window)[-1] + found
    return bool(_NEGATION.search(clause)) and bool(_RATING_VERB.search(clause))
