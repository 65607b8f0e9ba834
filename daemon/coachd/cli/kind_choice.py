"""The email kinds a command accepts, offered as click choices and handed on as MailKind."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import click

from coachd.model.mail_kinds import MailKind


class KindChoice(click.Choice):
    """One of `kinds`; anything else fails with `unknown`, which names the value and the kinds there are."""

    name = "kind"

    def __init__(self, kinds: Iterable[MailKind] = tuple(MailKind),
                 unknown: str = "unknown email kind {value!r}; known: {known}") -> None:
        # Plain strings: click's own enum handling would match members by name (FEEDBACK_REQUEST),
        # not by the kind's value on the wire (feedback-request).
        super().__init__([kind.value for kind in kinds])
        self.unknown = unknown

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> MailKind:
        text = value.value if isinstance(value, MailKind) else value
        if text not in self.choices:
            self.fail(self.unknown.format(value=text, known=", ".join(map(str, self.choices))), param, ctx)
        return MailKind(text)
