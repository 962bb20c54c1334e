"""The events of a case: what happened, in the past tense, as frozen dataclasses.

Each event is an input of the state machine (`mediation.workflow.decide`). The
service turns a routed mail, a due deadline or a mediator command into one event;
the event log stores them with who, when, why and which mail.
`FirstReplyMeasured` is the one fact the machine derives itself.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

from mediation.addresses import Role

# --- opening a case ------------------------------------------------------------


@dataclass(frozen=True)
class ComplaintReceived:
    """A customer's complaint arrived; `merchant` is the slug when routing found it,
    `also_named` the names of other registered shops the complaint names too (the case
    is about `merchant` alone; the acknowledgement says so)."""

    merchant: str | None = None
    also_named: tuple[str, ...] = ()


@dataclass(frozen=True)
class MerchantIdentified:
    """The shop of a complaint is known now (named by the customer or the operator)."""

    merchant: str


# --- the merchant's turn ---------------------------------------------------------


@dataclass(frozen=True)
class MerchantReplied:
    """The merchant answered: at least `[deadlines] substantive_reply_words` words of its
    own (`incoming.substantive`), the first such reply stopping the clock. `substantive`
    is False for a reply with no word of its own (only the quote, an attachment, a
    signature, "."), which stops no clock and is not forwarded; automatic mail (RFC
    3834) never gets here."""

    substantive: bool = True
    text: str = ""

    uncounted_verdict: str = ""
    """``accept`` or ``reject`` where the words read as that answer to the pending
    proposal but the mail answers another of ours: a message, counted as no answer."""


@dataclass(frozen=True)
class MerchantWrote:
    """The merchant wrote words, but too few to answer ("Danke", "ok", a greeting):
    a message, forwarded like any, that stops no clock."""

    text: str = ""

    uncounted_verdict: str = ""
    """``accept`` or ``reject`` where the words read as that answer to the pending
    proposal but the mail answers another of ours: a message, counted as no answer."""


@dataclass(frozen=True)
class ReminderDue:
    """The merchant's reminder time (a share of its deadline) was reached."""


@dataclass(frozen=True)
class MerchantDeadlinePassed:
    """The merchant did not reply in time: a miss that counts against its tier."""


@dataclass(frozen=True)
class ForwardBounced:
    """The forward of the complaint to the merchant's `address` came back undelivered
    (`reason`, the report's one line): the merchant never got the complaint, so its
    clock stops, or a miss recorded meanwhile is taken back (`mediation.bounces`)."""

    address: str = ""
    reason: str = ""


# --- the customer's turn ---------------------------------------------------------


@dataclass(frozen=True)
class CustomerWrote:
    """The customer wrote something that is no answer the workflow waits for."""

    text: str = ""

    uncounted_verdict: str = ""
    """``accept`` or ``reject`` where the words read as that answer to the pending
    proposal but the mail answers another of ours: a message, counted as no answer."""


@dataclass(frozen=True)
class CustomerConfirmedSolved:
    """The customer said the problem is solved; `text` is what they wrote."""

    text: str = ""


@dataclass(frozen=True)
class CustomerReportedUnsolved:
    """The customer said the problem is not solved; `text` is what they wrote."""

    text: str = ""


@dataclass(frozen=True)
class CustomerSilenceExpired:
    """The customer did not answer within its deadline."""


@dataclass(frozen=True)
class CustomerWithdrew:
    """The customer withdrew the complaint (by mail, or the operator recorded it);
    `text` is what the customer wrote, `reason` the operator's reason the parties read."""

    text: str = ""
    reason: str = ""


@dataclass(frozen=True)
class CustomerRated:
    """The customer rated a closed case: 1-5 per aspect (None: not rated), praise and
    criticism as free text (Lob & Tadel)."""

    service: int | None = None
    reachability: int | None = None
    reaction_time: int | None = None
    praise: str = ""
    criticism: str = ""

    def __post_init__(self) -> None:
        for score in (self.service, self.reachability, self.reaction_time):
            if score is not None and not 1 <= score <= 5:
                raise ValueError(f"a rating is a whole number from 1 to 5, got {score!r}")


# --- mediation -------------------------------------------------------------------


@dataclass(frozen=True)
class MediatorAssigned:
    """A mediator (by address) took over the case."""

    mediator: str


@dataclass(frozen=True)
class MediatorMessaged:
    """The mediator wrote a message for both parties."""

    text: str


@dataclass(frozen=True)
class MediatorNoted:
    """The mediator recorded an internal note (``#notiz`` / ``#note``), sent to nobody."""

    text: str


@dataclass(frozen=True)
class ProposalMade:
    """The mediator proposed a settlement (``#vorschlag`` / ``#proposal``)."""

    text: str


def _check_party(role: Role) -> None:
    if role not in (Role.CUSTOMER, Role.MERCHANT):
        raise ValueError(f"only the customer or the merchant answers a proposal, not {role}")


@dataclass(frozen=True)
class ProposalAccepted:
    """One party accepted the pending proposal; `text` is what it wrote."""

    role: Role
    text: str = ""

    def __post_init__(self) -> None:
        _check_party(self.role)


@dataclass(frozen=True)
class ProposalRejected:
    """One party rejected the pending proposal; `text` is what it wrote."""

    role: Role
    text: str = ""

    def __post_init__(self) -> None:
        _check_party(self.role)


@dataclass(frozen=True)
class ProposalExpired:
    """Not both parties accepted the proposal within its deadline."""


@dataclass(frozen=True)
class DeadlineExtended:
    """The mediator extended the current deadline by `days` business days (``#frist N``)."""

    days: int

    def __post_init__(self) -> None:
        if isinstance(self.days, bool) or not isinstance(self.days, int) or self.days < 1:
            raise ValueError(f"an extension is at least 1 business day, got {self.days!r}")


@dataclass(frozen=True)
class MediationClosed:
    """The mediator closed the case (``#abschluss gelöst|ungelöst``)."""

    resolved: bool


@dataclass(frozen=True)
class MediationOverdue:
    """The mediation ran longer than the policy allows."""


@dataclass(frozen=True)
class MediatorUnavailable:
    """The case entered mediation but no mediator is free (none registered, all paused):
    it waits, and the operator is reminded."""


@dataclass(frozen=True)
class MediatorReassigned:
    """The operator gave the case to another mediator (`previous` had it)."""

    mediator: str
    previous: str


# --- the operator ------------------------------------------------------------------


@dataclass(frozen=True)
class OperatorClosed:
    """The operator closed the case, resolved or not, with a `reason` the parties read."""

    resolved: bool
    reason: str

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError("closing a case needs a reason")


@dataclass(frozen=True)
class MerchantAddressCorrected:
    """The operator gave the shop's support address (`siegel merchant set --email`)
    after the forward of the complaint bounced: the complaint goes to `address` again,
    with a new deadline from now."""

    address: str = ""


Event = (
    ComplaintReceived
    | MerchantIdentified
    | MerchantReplied
    | MerchantWrote
    | ReminderDue
    | MerchantDeadlinePassed
    | ForwardBounced
    | CustomerWrote
    | CustomerConfirmedSolved
    | CustomerReportedUnsolved
    | CustomerSilenceExpired
    | CustomerWithdrew
    | CustomerRated
    | MediatorAssigned
    | MediatorMessaged
    | MediatorNoted
    | ProposalMade
    | ProposalAccepted
    | ProposalRejected
    | ProposalExpired
    | DeadlineExtended
    | MediationClosed
    | MediationOverdue
    | MediatorUnavailable
    | MediatorReassigned
    | OperatorClosed
    | MerchantAddressCorrected
)
EVENT_TYPES: tuple[type[Event], ...] = typing.get_args(Event)


@dataclass(frozen=True)
class FirstReplyMeasured:
    """The merchant's first substantive reply stopped the clock (derived, never an input).

    `seconds` is wall-clock time and `business_hours` business time since the merchant
    was given the case, both from our own receive times.
    """

    seconds: float
    business_hours: float
    within_deadline: bool
