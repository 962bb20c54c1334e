"""A party's reply to its open case: read, turned into events, applied.

Only a mail that `authority` lets act gets here (its role's signed case address, from
that role's party, authenticated where required, written by a person). What it says
comes from the classifier's reading of its own text, in the context the case is in:
the merchant's answer (substantive by `incoming.substantive`, else a few words:
`MerchantWrote`) or its verdict on a proposal, the customer's "solved" / "not solved"
or verdict, the mediator's commands (`commands.parse`). An answer naming the shop that
is the sender's own is a shop's complaint about itself (`holds.self_complaint`). A
mediator command that cannot be carried out is held and the mediator told why; an event
the workflow does not expect in the case's state holds the mail.

A party's messages (its words passed on, acting on nothing) beyond `[mediation]
max_messages_per_day` within 24 hours are held, the sender told once: nobody floods
another through our address. An automatic mail from a party (`ignore_automatic`) is
logged on the case and does nothing else. Mail to a closed case goes to `case_ratings` instead.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session

from mediation import (
    commands,
    holds,
    loading,
    notices,
    storage,
    templates,
    transitions,
    withdrawal,
)
from mediation.addresses import Role
from mediation.events import (
    CustomerConfirmedSolved,
    CustomerReportedUnsolved,
    CustomerWithdrew,
    CustomerWrote,
    Event,
    MerchantIdentified,
    MerchantReplied,
    MerchantWrote,
    ProposalAccepted,
    ProposalRejected,
)
from mediation.incoming import (
    Classify,
    IncomingMail,
    reading_summary,
    said,
    substantive,
    words,
)
from mediation.outcomes import Outcome
from mediation.settings import Settings
from mediation.storage import Case, HeldReason
from mediation.workflow import State, UnexpectedEvent, accepts

if TYPE_CHECKING:
    from classifier import Classification

log = logging.getLogger("mediation.case_service")


def reply(
    session: Session,
    case: Case,
    role: Role,
    via: str,
    mail: IncomingMail,
    classify: Classify,
    settings: Settings,
) -> Outcome:
    """Apply what `mail`, written by the case's `role`, says to the open `case`."""
    state = State(case.state)
    context = _reply_context(state, role)
    reading = classify(context)
    why = f"mail {mail.id} from the {role} via {via}; {reading_summary(reading)}"
    if role is Role.MEDIATOR:
        instructions = commands.parse(reading.own_text)
        if instructions.problems:
            return _command_problem(session, case, mail, instructions.problems, settings)
        events: list[Event] = list(instructions.events)
        if not events:
            transitions.log(session, case, "MailWithoutEffect", str(role), "no command, no text",
                            mail.received_at, mail)  # fmt: skip
            return Outcome(case_ref=case.ref)
    elif role is Role.MERCHANT:
        verdict = _answers_the_proposal(case, role, mail, reading)
        event = _merchant_event(state, reading, settings.policy.substantive_reply_words, verdict)
        events = [_uncounted(event, case, role, reading, verdict)]
    else:
        verdict = _answers_the_proposal(case, role, mail, reading)
        event = _customer_event(session, state, reading, mail, verdict)
        events = [_uncounted(event, case, role, reading, verdict)]
        named = events[0]
        if isinstance(named, MerchantIdentified) and (
            own := loading.own_shop(session, named.merchant, mail.sender)
        ):
            return holds.self_complaint(session, mail, own, classify, settings, case)
    if role is not Role.MEDIATOR and _passes_on_only(events[0], case):
        flooded = _over_the_daily_messages(session, case, role, mail, classify, settings)
        if flooded is not None:
            return flooded
    snapshot = loading.snapshot(session, case, settings)
    if isinstance(events[0], MerchantIdentified):
        named = storage.merchant_by_slug(session, events[0].merchant)
        snapshot = loading.naming_the_shop(snapshot, named, settings)
    acts = [transitions.Act(event, str(role), why) for event in events]
    try:
        steps = transitions.advance(snapshot, acts, mail.received_at, settings, session)
    except UnexpectedEvent as error:
        if role is Role.MEDIATOR:
            problem = commands.Problem(commands.ProblemCode.NOT_POSSIBLE, str(error))
            return _command_problem(session, case, mail, (problem,), settings)
        return holds.hold(
            session, mail, HeldReason.UNEXPECTED_EVENT, str(error), settings,
            tell=classify, ref=case.ref, case=case,
        )  # fmt: skip
    transitions.save(session, case, steps, mail.received_at)
    # What a party wrote stays in the log (and the mediator's case file) whatever it meant.
    text = {"text": said(reading)} if role is not Role.MEDIATOR else None
    transitions.record(session, case, steps, mail.received_at, mail, text)
    outgoing = transitions.notify(session, case, steps, mail, role, settings)
    return Outcome(tuple(outgoing), case.ref)


def ignore_automatic(
    session: Session, case: Case, role: Role, mail: IncomingMail, why: str
) -> Outcome:
    """An automatic mail from a party: on the case's timeline, and nothing else (no
    state change, no clock stopped, nothing forwarded)."""
    transitions.log(session, case, "AutomaticMailIgnored", str(role), f"mail {mail.id}: {why}",
                    mail.received_at, mail)  # fmt: skip
    log.debug("automatic mail %s to %s recorded, no effect: %s", mail.id, case.ref, why)
    return Outcome(case_ref=case.ref)


def _reply_context(state: State, role: Role) -> str | None:
    if state is State.PROPOSAL_PENDING and role in (Role.CUSTOMER, Role.MERCHANT):
        return "proposal"
    if role is Role.CUSTOMER and state in (State.AWAITING_MERCHANT, State.AWAITING_CUSTOMER):
        return "solved_question"
    return None


PROPOSAL_MAILS = frozenset(
    {
        "customer.proposal", "merchant.proposal",
        "customer.proposal_accepted", "merchant.proposal_accepted",
    }
)  # fmt: skip
"""Our mails that put the pending proposal to a party: an answer to one of them may
accept or reject it."""
NEW_PROPOSAL_MAILS = frozenset({"customer.proposal", "merchant.proposal"})


def _answers_the_proposal(
    case: Case, role: Role, mail: IncomingMail, reading: Classification
) -> bool:
    """Whether a party's mail may accept or reject the pending proposal: it answers no
    mail of ours directly (a fresh mail to its case address), or one that put the
    pending proposal to it. An answer to a proposal the mediator has replaced since
    ("I accept the full refund" under the first of two) or to another mail (a "yes" to
    the mediator's question) is a message to the mediator, not a verdict; so is a
    second acceptance by a party that has accepted already (its words are passed on as
    its message, not announced as an acceptance again)."""
    if State(case.state) is not State.PROPOSAL_PENDING:
        return True
    if reading.intent == "accept" and str(role) in case.proposal_accepted_by:
        return False
    if mail.replied_to is None:
        return True
    if mail.replied_to.kind not in PROPOSAL_MAILS:
        return False
    # Replaced: a newer proposal went to this party after the mail it answers (by the
    # order of our mails, not by time: a backlog writes an older proposal's mail late).
    return not set(mail.replied_to.later_kinds) & NEW_PROPOSAL_MAILS


_MESSAGE_EVENTS = (CustomerWrote, MerchantWrote, MerchantReplied)
"""The events of a party's mail that pass its words on (and, once, stop the clock)."""
MESSAGES = frozenset(event.__name__ for event in _MESSAGE_EVENTS)
"""The same, as the case's log names them."""
_DAY = timedelta(hours=24)


def _passes_on_only(event: Event, case: Case) -> bool:
    """Whether `event` only passes a party's words on: a message, or the merchant's
    answer after its first (which stops the clock and always acts)."""
    if isinstance(event, MerchantReplied):
        return case.first_reply_at is not None
    return isinstance(event, _MESSAGE_EVENTS)


def _over_the_daily_messages(
    session: Session,
    case: Case,
    role: Role,
    mail: IncomingMail,
    classify: Classify,
    settings: Settings,
) -> Outcome | None:
    """Hold `mail` when `role` has had `max_messages_per_day` messages passed on in the
    case within 24 hours (none of them acts; each would reach the other party); the
    sender is told at the first mail held so, not at each."""
    since = mail.received_at - _DAY
    recent = [e for e in storage.events_of(session, case.id) if e.at > since]  # type: ignore[arg-type]
    passed_on = sum(1 for e in recent if e.actor == role and e.kind in MESSAGES)
    limit = settings.max_messages_per_day
    if passed_on < limit:
        return None
    detail = f"the {role}'s message beyond {limit} passed on within 24 hours"
    reason = HeldReason.TOO_MANY_MESSAGES
    told_before = any(e.kind == "MailHeld" and e.reason == f"{reason}: {detail}" for e in recent)
    return holds.hold(
        session, mail, reason, detail, settings,
        tell=None if told_before else classify, ref=case.ref, case=case,
    )  # fmt: skip


def _uncounted(
    event: Event, case: Case, role: Role, reading: Classification, verdict: bool
) -> Event:
    """`event`, marked where its words accept or reject the pending proposal that the
    mail cannot answer (it answers another mail of ours): the party and the mediator
    are told it did not count, so that the proposal does not expire unnoticed."""
    if (
        verdict
        or State(case.state) is not State.PROPOSAL_PENDING
        or reading.intent not in ("accept", "reject")
        or (reading.intent == "accept" and str(role) in case.proposal_accepted_by)
        or not isinstance(event, _MESSAGE_EVENTS)
    ):
        return event
    return dataclasses.replace(event, uncounted_verdict=reading.intent)


def _merchant_event(
    state: State, reading: Classification, min_words: int, verdict: bool = True
) -> Event:
    own = reading.own_text.strip()
    if state is State.PROPOSAL_PENDING and verdict:
        if reading.intent == "accept":
            return ProposalAccepted(Role.MERCHANT, own)
        if reading.intent == "reject":
            return ProposalRejected(Role.MERCHANT, own)
    # The first substantive reply stops the clock (PRODUCT.md §3): enough words of the
    # merchant's own. A few words ("Danke", "ok") are a message: forwarded, the clock
    # runs on. No word of its own (only the quote, an attachment, ".") answers nothing:
    # recorded, but it stops no clock and is not forwarded.
    if substantive(own, min_words):
        return MerchantReplied(substantive=True, text=said(reading))
    if words(own):
        return MerchantWrote(text=said(reading))
    return MerchantReplied(substantive=False, text=said(reading))


def _customer_event(
    session: Session,
    state: State,
    reading: Classification,
    mail: IncomingMail,
    verdict: bool = True,
) -> Event:
    own = reading.own_text.strip()
    # A withdrawal in the customer's own words ends the case in any open state.
    if accepts(state, CustomerWithdrew) and withdrawal.withdraws(own):
        return CustomerWithdrew(own)
    match state:
        case State.NEEDS_MERCHANT:
            found = loading.find_merchant(session, mail.subject, reading.own_text or mail.text)
            if found.match is not None:
                return MerchantIdentified(found.match.slug)
        case State.AWAITING_MERCHANT if reading.intent == "resolved":
            return CustomerConfirmedSolved(own)
        case State.AWAITING_CUSTOMER if reading.intent == "resolved":
            return CustomerConfirmedSolved(own)
        case State.AWAITING_CUSTOMER if reading.intent == "not_resolved":
            return CustomerReportedUnsolved(own)
        case State.PROPOSAL_PENDING if verdict and reading.intent == "accept":
            return ProposalAccepted(Role.CUSTOMER, own)
        case State.PROPOSAL_PENDING if verdict and reading.intent == "reject":
            return ProposalRejected(Role.CUSTOMER, own)
    # Unsure, or no answer the workflow waits for: forwarded, and asked again where
    # the case waits for the customer's answer (the workflow's `solved_question`).
    return CustomerWrote(text=said(reading))


def _command_problem(
    session: Session,
    case: Case,
    mail: IncomingMail,
    problems: Sequence[commands.Problem],
    settings: Settings,
) -> Outcome:
    """A mediator's reply that cannot be carried out: nothing of it acts; they are told."""
    detail = "; ".join(f"{p.code}: {p.line}" for p in problems)
    outcome = holds.hold(
        session, mail, HeldReason.COMMAND_PROBLEM, detail, settings, ref=case.ref, case=case
    )
    language = notices.mediator_language(session, mail.sender or "", settings)
    view = notices.CaseView.load(session, case, settings)
    values = view.values(language, settings.timezone, {}, Role.MEDIATOR)
    values["problems"] = "\n".join(
        f"- {problem.line}: {templates.problem_text(problem.code, language)}"
        for problem in problems
    )
    key = "mediator.command_problem"
    notice = notices.compose(
        key, mail.sender or "", language, values, case, Role.MEDIATOR, mail, settings
    )
    return dataclasses.replace(outcome, outgoing=(notice,))
