"""Telling what a person wrote in a reply from the history it quotes and the signature it carries."""

# mail-parser-reply recognises the reply headers of many clients and languages, and its tables of
# "sent from" lines; both are used here, a few lines at a time. Its own splitting is not: it cuts a
# body at the first header, so text below a quote (bottom-posting) or between quoted lines (inline
# answers) is lost; it misses Spanish headers with a single space before "escribió" and has no
# Portuguese; and its signature rule cuts everything after any line starting "Thanks," or "- word"
# (a bullet list). Those parts are done here instead.

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from mailparser_reply.constants import MAIL_LANGUAGES
from mailparser_reply.parser import EmailMessage as _LibraryMessage

from coachd.replies.lines import bullet
from coachd.replies.mime import MAX_TEXT

# Languages whose header rules are safe on arbitrary text. Left out: Polish takes a single "Do:" line for
# a header, Italian two "A:" lines (a Q/A style answer); their "... wrote:" lines are in _ATTRIBUTION.
_LIBRARY_LANGUAGES = ["en", "de", "fr", "es", "nl", "sv", "da", "cs", "ja", "ko", "zh"]
_MAX_HEADER_LINE = 300  # an attribution line is short; long lines are never tried (the rules backtrack)
_LIBRARY_TRIES = 12  # per text: the library's rules are quadratic on near-misses
_FROM_BLOCK_TRIES = 50  # per text: "From:" lines that turn out not to start an Outlook header block

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_QUOTED = re.compile(r"^ {0,3}>")
_QUOTE_MARKS = re.compile(r"^(?: {0,3}> ?)+")

# "wrote" in the languages whose clients write "On <date>, <name> wrote:" (Polish and Russian with "(a)").
_VERB = (r"(?:wrote|schrieb|a\s+[ée]crit|escribi[óo]|escreveu|schreef|ha\s+scritto|skrev|napsal|pisze|"
         r"napisał(?:\(a\)|a)?|написал(?:\(а\)|а)?|писал|写道|寫道)")
_STARTS = r"(?:on|am|le|el|em|op|il|il giorno|den|dne|dnia|w dniu|в|在)"
# "On <date>, <name> wrote:" and its translations; a digit is required so that prose such as
# "On reflection, here is what I wrote:" is not taken for one.
_ATTRIBUTION = re.compile(
    rf"^{_STARTS}\s.{{0,260}}?\d.{{0,260}}?\b{_VERB}(?!\w)[^:：]{{0,120}}[:：]$"
    rf"|^.{{0,200}}(?:<[^<>\s]+@[^<>\s]+>|\d{{1,2}}:\d{{2}}).{{0,40}}(?<!\w){_VERB}\s*[:：]$",
    re.IGNORECASE)
# The same without its colon, or with no verb at all (Gmail in Russian and Japanese: "<date>, <name> <address>:"):
# only taken for a header when quoted lines follow it.
_ATTRIBUTION_BARE = re.compile(rf"^{_STARTS}\s.{{0,260}}?\d.{{0,260}}?\b{_VERB}(?!\w)\s*$", re.IGNORECASE)
_ADDRESS = re.compile(r"[^<>()\s@:]+@[^<>()\s@:]+\.[^<>()\s@:.]+")
# A reply and an attribution a client joined on one line ("Thanks! On Mon, ... wrote:"): where the attribution may start.
_JOIN_POINT = re.compile(r"[.!?]\s+(?=(?:on|am|le|el|em|op)\s)", re.IGNORECASE)
_JOIN_TRIES = 3  # per line: each try runs the attribution rule once
_ATTRIBUTION_START = re.compile(rf"^{_STARTS}\s", re.IGNORECASE)
_VERBS = ("wrote", "schrieb", "crit", "escribi", "escreveu", "schreef", "scritto", "skrev", "napsal", "pisze",
          "napisa", "написал", "писал", "写道", "寫道")
# Zoho ("---- On <date> <name> wrote ----") and Android mail ("---- <name> wrote ----"): unmarked history follows.
_DASHED_ATTRIBUTION = re.compile(rf"^-{{2,}}\s*\S.{{0,300}}?(?<!\w){_VERB}\s*-{{2,}}$", re.IGNORECASE)
_COLON = r"[*_ ]*[:：]"
_FROM_LABEL = re.compile(rf"^[*_ ]*(?:from|von|de|da|van|od|fr[åa]n|fra|от|发件人|寄件者|差出人){_COLON}", re.IGNORECASE)
_HEADER_LABEL = re.compile(
    r"^[*_ ]*(?:sent|date|to|subject|cc|gesendet|datum|an|betreff|envoy[ée]|[àa]|objet|enviado(?: el)?|enviada|fecha|"
    r"para|asunto|data|assunto|inviato|oggetto|verzonden|aan|onderwerp|skickat|till|[äa]mne|sendt|til|emne|dato|"
    r"kopi|kopia|wysłano|do|temat|отправлено|кому|тема|дата|копия|发送时间|發送時間|收件人|主题|主旨|抄送|日期|"
    rf"送信日時|宛先|件名|日付){_COLON}", re.IGNORECASE)
_SEPARATOR = re.compile(
    r"^[-_=* ]*(?:original message|ursprüngliche nachricht|originalnachricht|message d'origine|mensaje original|"
    r"mensagem original|forwarded message|weitergeleitete nachricht|message transféré|mensaje reenviado|"
    r"mensagem encaminhada|oprindelig meddelelse|videresendt meddelelse|opprinnelig melding|ursprungligt meddelande|"
    r"vidarebefordrat meddelande|oorspronkelijk bericht|doorgestuurd bericht|messaggio originale|messaggio inoltrato|"
    r"wiadomość oryginalna|oryginalna wiadomość|исходное сообщение|пересылаемое сообщение|原始邮件|原始郵件|"
    r"转发邮件|元のメッセージ|転送されたメッセージ)[-_=* ]*$"
    # short words only between dashes: QQ Mail's "---- Original ----", mobile webmail's "---- Reply message ----"
    r"|^[-_=*]{2,}\s*(?:original|reply message|replied message|回复的原邮件)\s*[-_=*]{2,}$", re.IGNORECASE)
_RULE = re.compile(r"^[-_=*]{10,}$")

_SIGNATURE_DASHES = re.compile(r"^--$|^-- \S{0,2}$")
# Mobile clients' lines; the library's "sent from" phrases for its languages are added to these.
_SENT_FROM_OWN = (
    r"sent from (?:my|outlook|mail|yahoo)|sent with (?:spark|proton|blackberry)|get outlook for|"
    r"von meinem .{1,40} gesendet|gesendet (?:von|mit|vom) |outlook für \w+ beziehen|"
    r"envoy[ée] (?:de|depuis|à partir de|a partir de) |obtenez outlook pour|"
    r"t[ée]l[ée]charger outlook pour|enviado desde |obtener outlook para|descargar outlook para|enviado do |"
    r"obter o outlook para|baixe o outlook para|enviado de meu |enviado pelo |"
    r"sendt fra min |skickat från min |verzonden (?:vanaf|met) mijn |inviato da |wysłane z |отправлено с |"
    r"发自我的|發自我的|从我的.{1,20}发送|iphoneから送信|androidから送信")
_NAME = r"[A-ZÀ-ÞА-ЯЁ][\w'’.-]*"
_VALEDICTION = re.compile(
    r"^(?:best|best regards|best wishes|kind regards|warm regards|warmest regards|regards|many thanks|thanks|"
    r"thank you|thanks again|cheers|all the best|sincerely|yours|talk soon|"
    r"mit freundlichen grüßen|mit freundlichen gruessen|freundliche grüße|viele grüße|beste grüße|liebe grüße|"
    r"herzliche grüße|schöne grüße|grüße|gruß|lg|vg|mfg|danke|vielen dank|"
    r"cordialement|bien cordialement|bien à vous|bonne journée|bonne soirée|amicalement|merci|merci beaucoup|"
    r"salutations|bises|"
    r"saludos|un saludo|saludos cordiales|atentamente|un abrazo|abrazos|gracias|muchas gracias|cordialmente|"
    r"atenciosamente|abraços|abraço|um abraço|abs|obrigado|obrigada|muito obrigado|muito obrigada|beijos|att|"
    r"med venlig hilsen|venlig hilsen|venlige hilsner|mange hilsner|kærlig hilsen|med vennlig hilsen|vennlig hilsen|"
    r"med vänlig hälsning|med vänliga hälsningar|vänliga hälsningar|vänlig hälsning|hälsningar|hilsen|mvh|kh|"
    r"met vriendelijke groet(?:en)?|vriendelijke groet(?:en)?|hartelijke groet(?:en)?|groet(?:en|jes)?|mvg|"
    r"pozdrawiam|pozdrowienia|serdecznie pozdrawiam|z poważaniem|z wyrazami szacunku|dziękuję|"
    r"cordiali saluti|distinti saluti|un saluto|saluti|grazie mille|a presto|"
    r"с уважением|всего доброго|всего хорошего|спасибо|"
    r"此致敬礼|此致|谢谢|祝好|よろしくお願いします|よろしくお願いいたします)"
    # then nothing, a name after a comma or dash ("Best, Ana Souza"), or one name ("Thanks Ana")
    rf"(?:\s*[,.!—–-]+\s*(?-i:{_NAME}(?:\s+{_NAME}){{0,2}})?|\s+(?-i:{_NAME}))?[\s,.!]*$",
    re.IGNORECASE)
_DISCLAIMER = re.compile(
    r"^(?:confidentiality notice|this (?:e-?mail|message)(?: and any attachments?)? (?:is|are|may be|contains?) "
    r"(?:confidential|privileged)|disclaimer:|vertraulichkeitshinweis|avis de confidentialit|aviso de confidencialidad|"
    r"aviso legal|esta mensagem .{0,20}confidencial)", re.IGNORECASE)
_MAX_SIGNATURE_LINES = 10
# "- Ben" or "— Ana Souza" as the last line: a sign-off, unless it ends a list (the line above is an item or a heading).
_DASH_NAME = re.compile(rf"^[-–—~]\s?(?-i:{_NAME})(?:\s+(?-i:{_NAME}))?$")
# Mailing-list managers' footers (Mailman, Google Groups, Listserv): never the person's words.
_LIST_FOOTER = re.compile(
    r"^(?:[^\s]{1,60}\s+mailing list$|you received this (?:message|email) because you are subscribed|"
    r"to unsubscribe(?: from this group)?\b|unsubscribe:\s|https?://\S+/(?:mailman/)?listinfo/)", re.IGNORECASE)
_SENT_FROM_WORDS = 8  # "Sent from my Samsung Galaxy smartphone." is a signature; "Sent from my hotel in Lisbon, so..." is not
# Wrapped quoted lines: a client that rewraps a quote at about 72 to 78 characters leaves the rest of a long line
# unmarked under it. Such a line is quoted text, not an inline answer.
_WRAP_WIDTH = 72


@dataclass(frozen=True)
class Passage:
    """A run of the person's own lines and the quoted lines right above it (their context)."""

    quoted: tuple[str, ...]
    own: tuple[str, ...]


def normalise(text: str) -> str:
    """Bounded text with one kind of line ending and no invisible or control characters."""
    text = text[:MAX_TEXT].replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n").replace("\x85", "\n").replace("\xa0", " ")
    text = _CONTROL.sub("", text.translate(_INVISIBLE))
    return "\n".join(line.rstrip() for line in text.split("\n"))


def new_text(text: str) -> str:
    """What the person wrote this time: quoted history and signatures removed, inline answers kept."""
    return "\n\n".join("\n".join(p.own) for p in passages(text)).strip()


def passages(text: str) -> list[Passage]:
    """The person's own text, in order, each run with the quoted lines it answers."""
    lines = _split_joined(normalise(text).split("\n"))
    roles = _roles(lines)
    result: list[Passage] = []
    quoted: list[str] = []
    own: list[str] = []
    for line, role in zip(lines, roles, strict=True):
        if role == "own":
            own.append(line)
            continue
        if own:
            _add(result, quoted, own)
            quoted, own = [], []
        if role == "quote":
            quoted.append(_QUOTE_MARKS.sub("", line))
    if own:
        _add(result, quoted, own)
    return result


def _add(result: list[Passage], quoted: list[str], own: list[str]) -> None:
    kept = _without_signature(_trimmed(own))
    if kept:
        result.append(Passage(tuple(q for q in quoted[-12:] if q.strip()), tuple(kept)))


def _trimmed(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and (not lines[end - 1].strip() or _RULE.match(lines[end - 1].strip())):
        end -= 1
    return lines[start:end]


def _split_joined(lines: list[str]) -> list[str]:
    """A line holding both the reply and an attribution ("Thanks! On Mon, ... wrote:") as two lines."""
    result: list[str] = []
    for line in lines:
        split = None
        stripped = line.strip()
        if (len(stripped) <= _MAX_HEADER_LINE * 2 and stripped.endswith((":", "：")) and not _QUOTED.match(line)
                and any(verb in stripped.lower() for verb in _VERBS)):
            for point in list(_JOIN_POINT.finditer(stripped))[:_JOIN_TRIES]:
                header = stripped[point.end():]
                if len(header) <= _MAX_HEADER_LINE and _ATTRIBUTION.match(header):
                    split = [stripped[:point.start() + 1], header]
                    break
        result.extend(split or [line])
    return result


def _roles(lines: list[str]) -> list[str]:
    """Each line's role: 'own', 'quote' (a quoted line or a header above quoted lines), or 'history'."""
    roles = ["own"] * len(lines)
    tries = [_LIBRARY_TRIES, _FROM_BLOCK_TRIES]
    index = 0
    while index < len(lines):
        if _QUOTED.match(lines[index]):
            roles[index] = "quote"
            index += 1
            continue
        end = _header_end(lines, index, tries)
        if end is None:
            index += 1
            continue
        following = next((j for j in range(end + 1, len(lines)) if lines[j].strip()), None)
        if following is not None and _QUOTED.match(lines[following]):
            # Gmail, Apple Mail, Thunderbird: the header introduces a "> " block; text after it is new.
            roles[index:end + 1] = ["quote"] * (end + 1 - index)
            index = end + 1
            continue
        # Outlook and forwarded messages: the history follows unmarked, to the end.
        roles[index:] = ["history"] * (len(lines) - index)
        break
    _rewrapped_quotes(lines, roles)
    return roles


def _rewrapped_quotes(lines: list[str], roles: list[str]) -> None:
    """Mark as quoted the unmarked tail of a quoted line the client rewrapped (it overflowed the wrap width)."""
    for index in range(1, len(lines)):
        if roles[index] != "own" or roles[index - 1] != "quote" or not lines[index].strip():
            continue
        previous = lines[index - 1].rstrip()
        following = next((j for j in range(index + 1, len(lines)) if lines[j].strip()), None)
        next_quoted = index + 1 < len(lines) and roles[index + 1] == "quote" and bool(lines[index + 1].strip())
        if not (next_quoted or (following is None and lines[index].lstrip()[:1].islower())):
            continue  # an inline answer runs on, text follows, or a bottom-posted answer starts: the person's own
        content = _QUOTE_MARKS.sub("", previous).strip()
        first_word = lines[index].split()[0]
        if (len(content) >= 40 and not content.endswith((".", "?", "!", ":", ";", "？", "。"))
                and len(previous) + 1 + len(first_word) > _WRAP_WIDTH):
            roles[index] = "quote"


def _header_end(lines: list[str], index: int, tries: list[int]) -> int | None:
    """If a reply header starts at `index`, the index of its last line."""
    line = lines[index].strip()
    if not line or len(line) > _MAX_HEADER_LINE:
        return None
    # Every header has a colon, a rule character or (wrapped, its time on the next line) a leading "On".
    if ":" not in line and "：" not in line and line[0] not in "-_=*" and not _ATTRIBUTION_START.match(line):
        return None
    if _SEPARATOR.match(line) or _DASHED_ATTRIBUTION.match(line):
        return index
    if _RULE.match(line):
        after = next((j for j in range(index + 1, min(index + 4, len(lines))) if lines[j].strip()), None)
        end = _header_block_end(lines, after) if after is not None else None
        return end
    if _FROM_LABEL.match(line):
        if tries[1] <= 0:
            return None
        end = _header_block_end(lines, index)
        if end is None:
            tries[1] -= 1
        return end
    starts = _ATTRIBUTION_START.match(line) is not None
    wrapped_address = index + 1 < len(lines) and lines[index + 1].rstrip().endswith((">:", ">："))
    if not starts and not wrapped_address and not line.endswith((":", "：")):
        return _library_header_end(lines, index, tries)  # (the library tries only lines with a colon early on)
    for extra in range(3 if starts else 1):  # Gmail wraps long ones over 2-3 lines
        parts = lines[index:index + extra + 1]
        candidate = " ".join(part.strip() for part in parts)
        if len(candidate) > _MAX_HEADER_LINE or not parts[-1].strip() or _QUOTED.match(parts[-1]):
            break
        lowered = candidate.lower()
        if not any(verb in lowered for verb in _VERBS):
            continue
        if candidate.endswith((":", "：")) and _ATTRIBUTION.match(candidate):
            return index + extra
        if _ATTRIBUTION_BARE.match(candidate) and _quote_follows(lines, index + extra):
            return index + extra
    for extra in range(2):  # "<date>, <name> <address>:", the address sometimes wrapped to the next line
        if "@" not in lines[min(index + extra, len(lines) - 1)]:
            continue
        parts = lines[index:index + extra + 1]
        candidate = " ".join(part.strip() for part in parts)
        if len(candidate) > _MAX_HEADER_LINE or not parts[-1].strip() or _QUOTED.match(parts[-1]):
            break
        if "@" in candidate and _quote_follows(lines, index + extra) and _ends_with_address(candidate):
            return index + extra
    return _library_header_end(lines, index, tries)


def _ends_with_address(candidate: str) -> bool:
    """"<date>, <name> <address>:": a date or time, then an address closing the line before its colon."""
    if not candidate.endswith((":", "：")):
        return False
    head, _, last = candidate[:-1].rstrip().rpartition(" ")
    address = last.strip("<>()")
    return bool(_ADDRESS.fullmatch(address)) and any(c.isdigit() for c in head)


def _quote_follows(lines: list[str], end: int) -> bool:
    following = next((j for j in range(end + 1, min(end + 4, len(lines))) if lines[j].strip()), None)
    return following is not None and bool(_QUOTED.match(lines[following]))


def _header_block_end(lines: list[str], start: int) -> int | None:
    """Outlook's "From: / Sent: / To: / Subject:" block starting at `start`: the index of its last label line."""
    if not _FROM_LABEL.match(lines[start].strip()):
        return None
    last, labels = start, 0
    # Wrapped "To:" lines continue the block; converted from HTML, each label may stand in a paragraph of its own.
    for j in range(start + 1, min(start + 16, len(lines))):
        stripped = lines[j].strip()
        if _HEADER_LABEL.match(stripped):
            last, labels = j, labels + 1
        elif not stripped:
            following = next((k for k in range(j + 1, min(j + 3, len(lines))) if lines[k].strip()), None)
            if following is None or not _HEADER_LABEL.match(lines[following].strip()):
                break
        elif j - last > 4:
            break
    return last if labels >= 1 else None


def _library_header_end(lines: list[str], index: int, tries: list[int]) -> int | None:
    """mail-parser-reply's header rules (many languages) tried on a short window of lines."""
    line = lines[index].strip()
    if tries[0] <= 0 or not (line.endswith(":") or ":" in line[:20]):
        return None
    tries[0] -= 1
    window = [part.strip() for part in lines[index:index + 6] if len(part) <= _MAX_HEADER_LINE]
    match = _library_headers().match("\n".join(window))
    # Every real header carries a date, a time or an address; "On reflection, I wrote:" does not.
    if match is None or not re.search(r"[\d@]", match.group(0)):
        return None
    return index + match.group(0).rstrip("\n").count("\n")


@lru_cache(maxsize=1)
def _library_headers() -> re.Pattern[str]:
    pattern: re.Pattern[str] = _LibraryMessage(text="", languages=list(_LIBRARY_LANGUAGES)).HEADER_REGEX
    return pattern


@lru_cache(maxsize=1)
def _sent_from() -> re.Pattern[str]:
    theirs = [MAIL_LANGUAGES[lang].get("sent_from", "") for lang in _LIBRARY_LANGUAGES]
    alternatives = "|".join([_SENT_FROM_OWN] + [f"(?:{p})" for p in theirs if p])
    return re.compile(rf"^(?:{alternatives})", re.IGNORECASE)


def _without_signature(lines: list[str]) -> list[str]:
    """The lines before the signature: "-- ", a mobile client's line, a disclaimer, or a closing and a short block."""
    for index, raw in enumerate(lines):
        line = raw.strip()
        if _SIGNATURE_DASHES.match(line) or _DISCLAIMER.match(line) or _LIST_FOOTER.match(line):
            return _trimmed(lines[:index])
        if len(line) <= 80 and _sent_from().match(line) and _device_line(line):
            return _trimmed(lines[:index])
        if index and len(line) <= 60 and _VALEDICTION.match(line) and _short_tail(lines, index + 1):
            return _trimmed(lines[:index])
    return _without_dash_name(lines)


def _device_line(line: str) -> bool:
    """"Sent from my iPhone" is a client's line; "Sent from my hotel, so only two:" is a sentence."""
    return len(line.split()) <= _SENT_FROM_WORDS and not re.search(r"[,:;?]\s", line + " ")


def _without_dash_name(lines: list[str]) -> list[str]:
    """Lines without a last "- Ben" sign-off; a "- Pricing" ending a dashed list is kept."""
    filled = [index for index, line in enumerate(lines) if line.strip()]
    if len(filled) < 2 or not _DASH_NAME.match(lines[filled[-1]].strip()):
        return lines
    above = lines[filled[-2]].strip()
    if (bullet(above) is not None and above[0] in "-–—~*•") or above.endswith((":", "：")):
        return lines  # the last item of a dashed list, or the only item under a heading
    return _trimmed(lines[:filled[-1]])


def _short_tail(lines: list[str], start: int) -> bool:
    """What follows a closing looks like a name and contact block, not more message."""
    # Lazily, stopping at the 11th line: a closing on every line must not make this quadratic.
    filled = (lines[j].strip() for j in range(start, len(lines)) if lines[j].strip())
    for count, line in enumerate(filled):
        if _DISCLAIMER.match(line):
            return True  # a corporate disclaimer closes the block, however long it is
        if count >= _MAX_SIGNATURE_LINES or len(line) > 100:
            return False
    return True
