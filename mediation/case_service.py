"""The case service: the entry the shell calls, dispatching to one room per kind of act.

- `handle_mail` decodes where one received mail was delivered, finds its case (case
  address, threading headers, subject reference: `routing.case_candidates`), asks
  `authority` what it may do there and hands it to the one room that acts on it:
  `party_replies` (a party's mail to its open case), `case_ratings` (mail to a closed case:
  the customer's rating), `complaints` (a complaint opens a case), `feedback` (Lob &
  Tadel outside any case) or `holds` (whatever cannot act).
- `fire_deadline` fires one due deadline for the sweep (`deadlines`).
- `assign_merchant` and `correct_category` are the operator's corrections
  (`corrections`); `withdraw`, `close`, `reassign` and `assign_waiting` its acts on a
  case (`case_actions`).

Every handler works in the caller's session and commits nothing: the shell commits the
case, its events and the outbox rows of the returned `OutgoingMail`s together. No
clock is read: mail events happen at our receive time, deadline events at their due
time. The meaning of a text comes from the classifier, called through the `Classify`
function the shell passes, with the context the case is in. A mail goes down once:
this module → one room → `holds` / `transitions` / `loading` → `notices` → storage.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from mediation import (
    authority,
    case_actions,
    case_ratings,
    complaints,
    corrections,
    deadlines,
    feedback,
    holds,
    loading,
    notices,
    party_replies,
    routing,
    storage,
)
from mediation.addresses import AddressError, Kind, Recipient, parse_recipient
from mediation.authority import Standing
from mediation.feedback_store import Source
from mediation.incoming import Classify, IncomingMail, automatic
from mediation.loading import merchant_calendar
from mediation.outcomes import Fired, Outcome
from mediation.settings import Settings
from mediation.storage import Case, HeldReason
from mediation.workflow import CLOSED, State

__all__ = [
    "Classify",
    "Fired",
    "IncomingMail",
    "NotAllowed",
    "Outcome",
    "Settings",
    "assign_merchant",
    "assign_waiting",
    "close",
    "correct_category",
    "fire_deadline",
    "handle_mail",
    "merchant_calendar",
    "reassign",
    "withdraw",
]

NotAllowed = case_actions.NotAllowed


def handle_mail(
    session: Session, mail: IncomingMail, classify: Classify, settings: Settings
) -> Outcome:
    """Route and apply one received mail; returns what to send (the caller enqueues).

    A person's mail to an operator address (``service@``, ``postmaster@``) that is held
    is also passed on to the operator's mailbox (`notices.to_operator`)."""
    outcome = _handle(session, mail, classify, settings)
    if outcome.held is None or outcome.held in _NOT_FORWARDED:
        return outcome
    if not any(r.kind is Kind.OPERATOR for r in _ours(mail.envelope_to, settings)):
        return outcome
    if automatic(mail, classify):
        return outcome
    forward = notices.to_operator(mail, outcome.case_ref, outcome.held, settings)
    if forward is None:
        return outcome
    return dataclasses.replace(outcome, outgoing=(*outcome.outgoing, forward))


_NOT_FORWARDED = frozenset({HeldReason.OWN_ADDRESS, HeldReason.NO_SENDER, HeldReason.MACHINE_MAIL})


def _handle(
    session: Session, mail: IncomingMail, classify: Classify, settings: Settings
) -> Outcome:
    recipients = _ours(mail.envelope_to, settings)
    kinds = {recipient.kind for recipient in recipients}
    if kinds == {Kind.BOUNCE}:
        return Outcome()  # a delivery report: the outbox records it, no case acts
    at_case = next((r for r in recipients if r.kind is Kind.CASE), None)
    at_complaint = next((r for r in recipients if r.kind is Kind.COMPLAINT), None)
    at_praise = next((r for r in recipients if r.kind is Kind.PRAISE), None)
    at_feedback = next((r for r in recipients if r.kind is Kind.FEEDBACK), None)
    delivered = f"delivered to {', '.join(mail.envelope_to)}"
    if not kinds & {Kind.CASE, Kind.COMPLAINT, Kind.OPERATOR, Kind.PRAISE, Kind.FEEDBACK}:
        return holds.hold(session, mail, HeldReason.NO_RECIPIENT, delivered, settings)
    if not mail.sender:
        return holds.hold(session, mail, HeldReason.NO_SENDER, "no From address", settings)
    if _ours([mail.sender], settings):
        detail = f"From {mail.sender}, an address of ours: a loop or a forgery"
        return holds.hold(session, mail, HeldReason.OWN_ADDRESS, detail, settings)
    by_address = (at_case.case_ref, at_case.role) if at_case else None
    for candidate in routing.case_candidates(by_address, mail.thread_refs, mail.subject):  # type: ignore[arg-type]
        case = storage.load_case(session, candidate.ref)
        if case is None:
            if candidate.via == authority.CASE_ADDRESS:
                detail = f"case address of {candidate.ref}, which does not exist"
                return holds.hold(
                    session, mail, HeldReason.UNKNOWN_CASE, detail, settings,
                    tell=classify, ref=candidate.ref,
                )  # fmt: skip
            continue
        verdict = _judge(session, case, candidate, mail, classify, settings)
        if (
            verdict.standing is Standing.NOT_PARTY
            and at_complaint
            and candidate.via != authority.CASE_ADDRESS
        ):
            break  # a stranger naming a case in a new complaint: the complaint counts
        return _apply(session, case, candidate.via, verdict, mail, classify, settings)
    if at_feedback is not None:
        return feedback.name_merchant(session, mail, at_feedback.feedback_id, classify, settings)  # type: ignore[arg-type]
    opening = at_praise or at_complaint
    if opening is None:
        # To postmaster, abuse or our From address (a client that ignored Reply-To),
        # naming no case: the operator reads it.
        return holds.hold(session, mail, HeldReason.OPERATOR_ADDRESS, delivered, settings)
    machine = automatic(mail, classify)
    if machine:
        detail = f"{machine} to {opening.address}: opens nothing"
        return holds.hold(session, mail, HeldReason.MACHINE_MAIL, detail, settings)
    if at_praise is not None:
        return feedback.take(
            session, mail, at_praise.merchant_slug, Source.PRAISE_ADDRESS, classify, settings
        )
    if feedback.is_praise(classify(None)):
        return feedback.take(
            session, mail, opening.merchant_slug, Source.COMPLAINT_ADDRESS, classify, settings
        )
    return complaints.open_case(session, mail, opening.merchant_slug, classify, settings)


def fire_deadline(
    session: Session, deadline_id: int, now: datetime, settings: Settings
) -> Fired | None:
    """Fire deadline `deadline_id` if it is still due at `now` (`deadlines.fire`)."""
    return deadlines.fire(session, deadline_id, now, settings)


def assign_merchant(
    session: Session, ref: str, slug: str, now: datetime, settings: Settings
) -> Outcome:
    """The operator names the shop of a case waiting in ``needs_merchant``."""
    return corrections.assign_merchant(session, ref, slug, now, settings)


def correct_category(session: Session, ref: str, category: str, now: datetime) -> Case:
    """The operator corrects a case's category; kept as training data for the classifier."""
    return corrections.correct_category(session, ref, category, now)


def withdraw(session: Session, ref: str, reason: str, now: datetime, settings: Settings) -> Outcome:
    """The operator records the customer's withdrawal of case `ref`."""
    return case_actions.withdraw(session, ref, reason, now, settings)


def close(
    session: Session, ref: str, resolved: bool, reason: str, now: datetime, settings: Settings
) -> Outcome:
    """The operator closes case `ref`, resolved or not, with a reason the parties read."""
    return case_actions.close(session, ref, resolved, reason, now, settings)


def reassign(
    session: Session, ref: str, mediator: str, now: datetime, settings: Settings
) -> Outcome:
    """The operator gives case `ref` in mediation to `mediator`."""
    return case_actions.reassign(session, ref, mediator, now, settings)


def assign_waiting(session: Session, now: datetime, settings: Settings) -> list[Outcome]:
    """Mediations without a mediator go to the free ones (a mediator added or resumed)."""
    return case_actions.assign_waiting(session, now, settings)


def _ours(addresses: Sequence[str], settings: Settings) -> list[Recipient]:
    """Which of `addresses` are ours (complaint, case, bounce, operator), decoded."""
    found = []
    for address in addresses:
        try:
            found.append(parse_recipient(settings.secret, settings.domain, address))
        except AddressError:
            continue
    return found


def _judge(
    session: Session,
    case: Case,
    candidate: routing.CaseCandidate,
    mail: IncomingMail,
    classify: Classify,
    settings: Settings,
) -> authority.Authority:
    """The authority of `mail` in `case`, with what it needs loaded (see `authority`)."""
    machine = automatic(mail, classify)
    sender_check = None
    if settings.authserv_id and mail.sender:
        sender_check = authority.check_sender(
            mail.authentication_results, settings.authserv_id, mail.sender
        )
    return authority.judge(
        via=candidate.via,
        address_role=candidate.role,
        sender=mail.sender,
        parties=loading.parties(session, case, settings),
        automatic=machine,
        sender_check=sender_check,
    )


def _apply(
    session: Session,
    case: Case,
    via: str,
    verdict: authority.Authority,
    mail: IncomingMail,
    classify: Classify,
    settings: Settings,
) -> Outcome:
    """The room a mail routed to `case` goes to, by its standing and the case's state."""
    detail = f"{verdict.detail} ({case.ref})"
    match verdict.standing:
        case Standing.ACTS:
            assert verdict.role is not None
            if State(case.state) in CLOSED:
                return case_ratings.mail_to_closed_case(
                    session, case, verdict.role, mail, classify, settings
                )
            return party_replies.reply(session, case, verdict.role, via, mail, classify, settings)
        case Standing.AUTOMATIC:
            assert verdict.role is not None
            return party_replies.ignore_automatic(session, case, verdict.role, mail, verdict.detail)
        case Standing.EVIDENCE:
            return holds.hold(
                session, mail, HeldReason.NOT_CASE_ADDRESS, detail, settings,
                tell=classify, ref=case.ref, case=case, role=verdict.role,
            )  # fmt: skip
        case Standing.UNAUTHENTICATED:
            return holds.hold(
                session, mail, HeldReason.UNAUTHENTICATED, detail, settings,
                tell=classify, ref=case.ref, case=case,
            )  # fmt: skip
    # Not the party of the address it wrote to; maybe another party of the case (the
    # shop answering at the customer's address): it is told its own case address.
    own_role = routing.role_of(mail.sender, loading.parties(session, case, settings))
    return holds.hold(
        session, mail, HeldReason.SENDER_NOT_PARTY, detail, settings,
        tell=classify, ref=case.ref, case=case, role=own_role,
    )  # fmt: skip
