"""What a handler returns to the shell: `Outcome` for a mail, `Fired` for a deadline.

The shell enqueues their `OutgoingMail`s in the same unit of work that saved the case.
"""

from __future__ import annotations

from dataclasses import dataclass

from mediation.outgoing import OutgoingMail
from mediation.storage import HeldReason
from mediation.workflow import Deadline


@dataclass(frozen=True)
class Outcome:
    """What handling one mail did: the case it acted on, a hold, and what to send."""

    outgoing: tuple[OutgoingMail, ...] = ()
    case_ref: str | None = None
    held: HeldReason | None = None
    detail: str = ""


@dataclass(frozen=True)
class Fired:
    """One deadline the sweep fired (or held, when no transition fitted)."""

    case_ref: str
    kind: Deadline
    outgoing: tuple[OutgoingMail, ...] = ()
    held: str | None = None
