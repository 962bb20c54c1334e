"""A received mail as the case service reads it, and what its reading says.

`IncomingMail` is built by the shell from its stored, parsed mail
(`mailflow.casework`); `Classify` is the classifier, called with the context the case
is in. The helpers here read a mail the same way for every room: whether it is
automatic, what a party said, and the one-line summary the event log keeps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from classifier import Classification

Classify = Callable[[str | None], "Classification"]
"""Classifies the mail being handled; the argument is the reply context the case is in
(``solved_question``, ``proposal`` or None)."""


@dataclass(frozen=True)
class Attachment:
    """One attachment of a received mail, as the parser lists it (`mailflow.parsing`):
    `index` is its place in that list, which parsing the stored raw mail again gives
    alike, so that the outbox finds its bytes there when it forwards it."""

    index: int
    filename: str | None
    content_type: str
    size: int
    """Decoded bytes."""
    disposition: str | None = None
    """Its Content-Disposition (``attachment``, ``inline`` or None)."""

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Attachment:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in fields})


@dataclass(frozen=True)
class IncomingMail:
    """A received mail as the case service reads it (from the shell's stored, parsed mail)."""

    id: int
    received_at: datetime
    envelope_to: tuple[str, ...]
    sender: str | None
    sender_name: str = ""
    subject: str = ""
    text: str = ""
    message_id: str | None = None
    references: tuple[str, ...] = ()
    """The message ids it answers: References, then In-Reply-To (RFC 5322 §3.6.4)."""
    thread_refs: tuple[str, ...] = ()
    """Case references of our own mails that `references` names (found in the outbox)."""
    answered_kinds: tuple[str, ...] = ()
    """The templates (``customer.case_resolved``, ...) of our own mails it answers."""
    machine: str | None = None
    """The kind of machine mail, when the header rules recognised one."""
    machine_rule: str | None = None
    authentication_results: tuple[str, ...] = ()
    """Its Authentication-Results header values, top first (RFC 8601)."""
    attachments: tuple[Attachment, ...] = ()


def automatic(mail: IncomingMail, classify: Classify) -> str | None:
    """Why `mail` is automatic (header rules first, then the text), or None for a person."""
    if mail.machine:
        return f"{mail.machine} by {mail.machine_rule}"
    reading = classify(None)
    return f"{reading.auto_reply_kind} by its text" if reading.auto_reply else None


def said(reading: Classification) -> str:
    """What a party wrote: the new part of its mail (the classifier's reading)."""
    return reading.new_text.strip()


def reading_summary(reading: Classification) -> str:
    """The classifier's reading in one line, for the reason of an event."""
    rules = ", ".join(rule["rule"] for rule in reading.rules)
    intent = f", intent {reading.intent}" if reading.intent else ""
    return (
        f"classifier: {reading.category} {reading.confidence:.2f}{intent}, "
        f"{reading.auto_reply_kind}, {reading.language} [{rules}]"
    )
