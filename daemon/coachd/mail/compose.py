"""Render each email kind from Jinja templates (admin folder first, then built-in) into a message."""

from __future__ import annotations

import importlib.util
import traceback
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Mapping

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, TemplateNotFound, TemplateSyntaxError
from jinja2 import select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from coachd.mail.filters import FILTERS
from coachd.mail.headers import Envelope, InlineImage, Recipient, assemble, assemble_bytes, domain_of, message_id
from coachd.mail.samples import sample_contexts
from coachd.model.mail_kinds import MailKind, is_mail_kind

PARTS = ("subject.txt", "body.txt", "body.html")
_BUILTIN_LABEL = "templates/email"



@dataclass(frozen=True)
class Composed:
    """A rendered email on the wire, with what the outbox records beside it."""

    raw: bytes
    subject: str
    message_id: str

class UnknownKind(ValueError):
    """A kind coachd does not send."""


class CompositionError(Exception):
    """A template failed to render; the message starts with `file:line:`."""


def builtin_templates_dir(folder: str = "email") -> Path:
    """The shipped templates (`email`, or `report` for `coachd report`): installed as package data, or
    the source tree's `templates/<folder>`."""
    # `coachd_templates` is a data-only (namespace) package; an editable install adds a path
    # hook entry to its search locations that importlib.resources cannot read, so look for
    # the real folders directly.
    spec = importlib.util.find_spec("coachd_templates")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / folder
        if candidate.is_dir():
            return candidate
    return Path(__file__).resolve().parents[3] / "templates" / folder


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def first_name(name: str) -> str:
    """The first word of a full name ("Maria Lopez" -> "Maria"): how people greet each other in mail."""
    words = name.split()
    return words[0] if words else name


class Composer:
    """Templates are looked up in the admin's folder first, then among the built-in ones.

    Every template runs in a sandbox: admin templates are untrusted input, and since an admin
    template may include or extend a built-in one, one sandboxed environment serves both.
    StrictUndefined turns a misspelt variable into an error instead of a silent blank.
    """

    def __init__(self, override_folder: Path | None = None) -> None:
        self.builtin = builtin_templates_dir()
        self.override = Path(override_folder).resolve() if override_folder is not None else None
        folders = [str(self.override)] if self.override is not None else []
        folders.append(str(self.builtin))
        self.env = SandboxedEnvironment(
            loader=ChoiceLoader([FileSystemLoader(f) for f in folders]),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            # Templates are read once per process: checking every file's mtime on each of thousands
            # of renders costs more than the rendering. Restart coachd after editing templates.
            auto_reload=False,
        )
        self.env.filters.update(FILTERS)

    def render(self, kind: str, recipient: Recipient, context: Mapping[str, Any]) -> Rendered:
        """The three parts of one email; raises UnknownKind or CompositionError."""
        if not is_mail_kind(kind):
            raise UnknownKind(f"unknown email kind {kind!r}; known: {', '.join(MailKind)}")
        kind = MailKind(kind)
        # The recipient argument wins: it decides the zone every time is shown in.
        # How the email greets its reader: the config's `greeting` (put in the context), else their first name.
        values = {**context, "recipient": recipient, "kind": kind.value,
                  "greeting": context.get("greeting") or first_name(recipient.name)}
        try:
            subject, text, html = (self.env.get_template(f"{kind}/{part}").render(values) for part in PARTS)
        except Exception as exc:
            raise CompositionError(self._describe(exc)) from exc
        # A header is one line: the template may wrap for readability.
        subject = " ".join(subject.split())
        if not subject:
            raise CompositionError(f"{self._label(f'{kind}/subject.txt')}: the subject is empty")
        return Rendered(subject, text, html)

    def compose(self, kind: str, recipient: Recipient, context: Mapping[str, Any], envelope: Envelope) -> EmailMessage:
        rendered = self.render(kind, recipient, context)
        images = _shown_images(context, rendered.html)
        return assemble(kind, recipient, rendered.subject, rendered.text, rendered.html, envelope, images)

    def compose_bytes(self, kind: str, recipient: Recipient, context: Mapping[str, Any],
                      envelope: Envelope) -> Composed:
        """The email as the outbox stores and the sender sends it, without building an EmailMessage."""
        rendered = self.render(kind, recipient, context)
        images = _shown_images(context, rendered.html)
        raw = assemble_bytes(kind, recipient, rendered.subject, rendered.text, rendered.html, envelope, images)
        return Composed(raw, rendered.subject, message_id(envelope.key, domain_of(envelope.sender_email)))

    def check(self) -> list[str]:
        """Compile every template and render every kind against the sample contexts."""
        problems: list[str] = []
        for name in sorted(set(self.env.list_templates(extensions=("html", "txt")))):
            folder, slash, _ = name.partition("/")
            if slash and self.override is not None and (self.override / name).is_file():
                if not is_mail_kind(folder):
                    problems.append(f"{self._label(name)}: {folder!r} is not an email kind ({', '.join(MailKind)})")
            try:
                self.env.get_template(name)
            except Exception as exc:
                problems.append(self._describe(exc))
        for kind in MailKind:
            for context in sample_contexts(kind):
                try:
                    self.render(kind, context["recipient"], context)
                except CompositionError as exc:
                    problems.append(str(exc))
        return list(dict.fromkeys(problems))  # a broken shared file would repeat per kind

    def _label(self, name_or_path: str) -> str:
        """Where a template lives, as an admin would look for it."""
        path = Path(name_or_path)
        if path.is_absolute():
            try:
                return f"{_BUILTIN_LABEL}/{path.resolve().relative_to(self.builtin.resolve()).as_posix()}"
            except ValueError:
                return str(path)
        if self.override is not None and (self.override / name_or_path).is_file():
            return str(self.override / name_or_path)
        return f"{_BUILTIN_LABEL}/{name_or_path}"

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, TemplateSyntaxError):
            where = self._label(exc.filename or exc.name or "?")
            return f"{where}:{exc.lineno}: {exc.message}"
        if isinstance(exc, TemplateNotFound):
            return f"{self._label(exc.name or '?')}: template not found"
        # Jinja rewrites tracebacks so template frames carry the template file and line;
        # the deepest one is where the error happened (inside a macro, if it was one).
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if _is_template(f.filename, self)]
        where = f"{self._label(frames[-1].filename)}:{frames[-1].lineno}" if frames else "template"
        return f"{where}: {exc}"


def _shown_images(context: Mapping[str, Any], html: str) -> list[InlineImage]:
    """The context's charts that the HTML shows (`cid:`), once each. A picture the HTML does not
    show is left out: Gmail and Outlook would list it as an attachment, which is what an admin
    template that leaves the charts out does not want."""
    shown: dict[str, InlineImage] = {}
    for image in context.get("charts") or ():
        if f"cid:{image.cid}" in html:
            shown.setdefault(image.cid, image)
    return list(shown.values())


def _is_template(filename: str, composer: Composer) -> bool:
    roots = [composer.builtin] + ([composer.override] if composer.override is not None else [])
    path = Path(filename)
    return any(path.is_relative_to(root) for root in roots) and path.suffix in (".html", ".txt")
