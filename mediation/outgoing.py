"""What the case domain wants to send: one outgoing mail to one recipient, as a value.

The domain decides *what* to say and to whom; the outbox (`mailflow.outbox`) turns an
`OutgoingMail` into a stored RFC 5322 message and the relay sends it. Keeping this a
plain value lets the case domain produce mail without importing the I/O shell.
"""

from __future__ import annotations

from dataclasses import dataclass

LANGUAGES = ("de", "en")


@dataclass(frozen=True)
class OutgoingMail:
    """One mail to one recipient, fully worded, in the recipient's language.

    `auto_reply` says the mail answers an incoming mail's sender (RFC 3834
    ``auto-replied``: acknowledgements, "you are not a party of this case"); other
    mails are ``auto-generated`` (forwards, reminders, notices). `answers_machine_mail`
    is set by the caller when the mail it answers was itself machine mail, so that
    nothing automatic is ever answered automatically.
    """

    to: str
    subject: str
    text: str
    kind: str
    language: str
    html: str | None = None
    case_ref: str | None = None
    reply_to: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    auto_reply: bool = False
    in_reply_to_mail: int | None = None
    answers_machine_mail: bool = False

    def __post_init__(self) -> None:
        if "@" not in self.to:
            raise ValueError(f"not a mail address: {self.to!r}")
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}, got {self.language!r}")
        if not self.kind:
            raise ValueError("kind (the template name) is required")
        if not isinstance(self.references, tuple):
            # A list would make the value unhashable and mutable behind our back.
            object.__setattr__(self, "references", tuple(self.references))
