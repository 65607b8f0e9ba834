"""HTML mail bodies as plain text, with the mail clients' quote containers turned into "> " lines."""

# Quotes are rendered as "> " rather than dropped here, so that one text-level reader handles
# top-posting, bottom-posting and inline answers the same way for plain and HTML replies.

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCK = frozenset({"p", "div", "li", "tr", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "pre",
                    "blockquote", "section", "article", "header", "footer", "dd", "dt", "dl", "center", "form"})
_SKIP = frozenset({"script", "style", "head", "title", "template", "noscript", "xml", "svg"})
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base", "embed", "source",
                   "track", "param"})
_MAX_QUOTE_PREFIX = 8  # a hostile 10,000-deep blockquote must not multiply the output size
_MAX_STACK = 2_000
_SPACE = re.compile(r"[ \t\r\n\f]+")

# Where the quoted history starts for the rest of the document: Outlook on the web and new Outlook
# put the previous message after these (ids gain an "x_" prefix each time a message is re-quoted).
_REST_QUOTED_IDS = ("divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container")
# Attribution lines ("On ... wrote:") that clients wrap in their own element.
_ATTRIBUTION_CLASSES = ("gmail_attr", "moz-cite-prefix", "yahoo_quoted")
_SIGNATURE_CLASSES = ("gmail_signature", "moz-signature")
_SIGNATURE_IDS = ("signature", "x_signature", "ms-outlook-mobile-signature", "applemailsignature")


def html_to_text(markup: str) -> str:
    """The text a reader sees, one line per block; quoted history prefixed with "> ", signatures after "-- "."""
    renderer = _Renderer()
    try:
        renderer.feed(markup)
        renderer.close()
    except Exception:  # html.parser can still assert on some malformed declarations; keep what was read
        pass
    return renderer.text()


def _is_quote(tag: str, attrs: dict[str, str]) -> bool:
    """A blockquote that quotes a message, as opposed to Gmail's "indent" button, which is one too."""
    if tag == "blockquote":
        return (attrs.get("type", "").lower() == "cite" or "quote" in attrs.get("class", "").lower()
                or "border-left" in attrs.get("style", "").lower())
    return any(name in attrs.get("class", "").lower() for name in _ATTRIBUTION_CLASSES)


def _is_signature(attrs: dict[str, str]) -> bool:
    classes = attrs.get("class", "").lower().split()
    return (any(name in classes for name in _SIGNATURE_CLASSES)
            or attrs.get("data-smartmail", "").lower() == "gmail_signature"
            or attrs.get("id", "").lower() in _SIGNATURE_IDS)


class _Renderer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._lines: list[str] = []
        self._current: list[str] = []
        self._current_depth = 0
        self._stack: list[tuple[str, str]] = []  # (tag, effect) for each open element that changed state
        self._quote = 0
        self._skip = 0
        self._pre = 0
        self._rest_quoted = False
        self._ordered: list[int] = []  # counters of open <ol>s; 0 marks an open <ul>

    # -- output -------------------------------------------------------------------------------------
    def _depth(self) -> int:
        return min(self._quote + (1 if self._rest_quoted else 0), _MAX_QUOTE_PREFIX)

    def _emit(self, text: str) -> None:
        if not self._current:
            self._current_depth = self._depth()
        self._current.append(text)

    def _newline(self, force: bool = False) -> None:
        """End the current line; `force` also ends an empty one (a <br> on its own is a blank line)."""
        if self._current or force:
            line = "".join(self._current).strip()
            depth = self._current_depth if self._current else self._depth()
            self._lines.append(("> " * depth) + line if depth else line)
            self._current = []

    def text(self) -> str:
        self._newline()
        return "\n".join(line.rstrip() for line in self._lines)

    # -- parser callbacks ---------------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {name: (value or "") for name, value in attrs_list[:50]}
        element_id = attrs.get("id", "").lower()
        if any(element_id.endswith(marker) for marker in _REST_QUOTED_IDS):
            self._newline()
            self._rest_quoted = True
        if tag == "br":
            self._newline(force=True)
            return
        if tag == "hr":
            self._newline()
            return
        if tag in _VOID:
            return
        effect = self._open_effect(tag, attrs)
        if len(self._stack) < _MAX_STACK:
            self._stack.append((tag, effect))

    def _open_effect(self, tag: str, attrs: dict[str, str]) -> str:
        if tag in _SKIP:
            self._skip += 1
            return "skip"
        if tag in _BLOCK and not self._bullet_only():
            self._newline()  # but <li><div>text</div></li> stays one line: "- text"
        if tag in ("td", "th") and self._current:
            self._emit(" ")
        if _is_signature(attrs):
            self._newline()
            if not self._lines or self._lines[-1].lstrip("> ") != "--":
                self._lines.append("> " * self._depth() + "--")
        if _is_quote(tag, attrs):
            self._quote += 1
            return "quote"
        if tag == "pre":
            self._pre += 1
            return "pre"
        if tag in ("ul", "ol"):
            self._ordered.append(0 if tag == "ul" else 1)
            return "list"
        if tag == "li":
            self._emit(self._bullet())
        if tag == "p" and "mso" not in attrs.get("class", "").lower():
            return "paragraph"  # Outlook's Word-made MsoNormal paragraphs are lines, not paragraphs
        return ""

    def _bullet_only(self) -> bool:
        return len(self._current) == 1 and self._current[0] in ("- ",) + tuple(f"{n}. " for n in range(1, 100))

    def _bullet(self) -> str:
        if not self._ordered or self._ordered[-1] == 0:
            return "- "
        number = self._ordered[-1]
        self._ordered[-1] += 1
        return f"{number}. "

    def handle_endtag(self, tag: str) -> None:
        # Close the innermost open element of that name, and whatever was left open inside it.
        for index in range(len(self._stack) - 1, max(-1, len(self._stack) - 200), -1):
            if self._stack[index][0] == tag:
                while len(self._stack) > index:
                    self._close(*self._stack.pop())
                return

    def _close(self, tag: str, effect: str) -> None:
        if effect == "skip":
            self._skip -= 1
            return
        if tag in _BLOCK:
            self._newline()
        if effect == "quote":
            self._quote -= 1
        elif effect == "pre":
            self._pre -= 1
        elif effect == "list" and self._ordered:
            self._ordered.pop()
        elif effect == "paragraph":
            self._lines.append("> " * self._depth() if self._depth() else "")  # paragraphs are visually apart

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            lines = data.split("\n")
            for number, line in enumerate(lines):
                if number:
                    self._newline(force=True)
                if line:
                    self._emit(line)
            return
        text = _SPACE.sub(" ", data.replace("\xa0", " "))
        if text.strip() or (self._current and text):
            self._emit(text)
        elif "\xa0" in data and not self._current:
            self._newline(force=True)  # Outlook's and Gmail's empty paragraphs hold a &nbsp;: a blank line
