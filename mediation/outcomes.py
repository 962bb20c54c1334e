"""What a handler returns to the shell: `Outcome` for a mail, `Fired` for a deadline.

The shell enqueues their `OutgoingMail`s in the same unit of work that saved the case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mediation.outgoing import OutgoingMail
from mediation.storage import HeldReason
from mediation.workflow import Deadline


@dataclass(frozen=True)
class Outcome:
    """What handling one mail did: the case it acted on, a hold, and what to send.

    A mail delivered to several case addresses has an outcome in each (`cases`, made by
    `of`): then `outgoing` holds the mails of all of them, and `case_ref`, `held` and
    `detail` are the first's."""

    outgoing: tuple[OutgoingMail, ...] = ()
    case_ref: str | None = None
    held: HeldReason | None = None
    detail: str = ""
    cases: tuple[Outcome, ...] = ()
    report_believed: bool = True
    """False for a delivery report the case does not believe (`bounces`): the shell
    counts its mail as sent again, so that the case's mail to the address goes on."""

    @property
    def each(self) -> tuple[Outcome, ...]:
        """The outcome in each case the mail reached (this one for a single outcome)."""
        return self.cases or (self,)

    @classmethod
    def of(cls, parts: Sequence[Outcome]) -> Outcome:
        """One mail's outcomes in several cases as one (a single one as it is)."""
        if len(parts) <= 1:
            return parts[0] if parts else cls()
        first = parts[0]
        outgoing = tuple(mail for part in parts for mail in part.outgoing)
        return cls(outgoing, first.case_ref, first.held, first.detail, tuple(parts))


@dataclass(frozen=True)
class Fired:
    """One deadline the sweep fired (or held, when no transition fitted)."""

    case_ref: str
    kind: Deadline
    outgoing: tuple[OutgoingMail, ...] = ()
    held: str | None = None
