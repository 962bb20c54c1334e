"""The case service: handlers that turn a mail or a due deadline into a stored decision.

- `handle_mail` routes one received mail (a new complaint, or a reply to a case by case
  address, threading headers or subject reference), checks that the sender belongs to
  the role it acts for, reads what the mail means (classifier intent, mediator
  commands), applies the state machine, saves the case, appends the event log and
  returns the mails to send. A mail that cannot act is held with the reason. The
  customer's mail to its closed case may rate it (`_rate`; stored by
  `mediation.ratings`).
- `fire_deadline` fires one due deadline for the sweep.
- `assign_merchant` and `correct_category` are the operator's corrections.

Every handler works in the caller's session and commits nothing: the shell commits the
case, its events and the outbox rows of the returned `OutgoingMail`s together. No
clock is read: mail events happen at our receive time, deadline events at their due
time. The meaning of a text comes from the classifier, called through the `Classify`
function the shell passes, with the context the case is in. The mails themselves are
rendered by `mediation.notices`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from mediation import (
    authority,
    commands,
    feedback,
    notices,
    ratings,
    routing,
    storage,
    templates,
)
from mediation.addresses import (
    AddressError,
    Kind,
    Recipient,
    Role,
    case_address,
    feedback_address,
    parse_recipient,
)
from mediation.authority import Standing
from mediation.business_time import BusinessCalendar, opening_hours
from mediation.events import (
    ComplaintReceived,
    CustomerConfirmedSolved,
    CustomerRated,
    CustomerReportedUnsolved,
    CustomerWrote,
    Event,
    MediatorAssigned,
    MerchantIdentified,
    MerchantReplied,
    ProposalAccepted,
    ProposalRejected,
)
from mediation.feedback import Source
from mediation.machine import (
    CLOSED,
    DUE_EVENTS,
    NEW_CASE,
    CaseSnapshot,
    Deadline,
    Decision,
    State,
    UnexpectedEvent,
    decide,
)
from mediation.outgoing import LANGUAGES, OutgoingMail
from mediation.policy import Policy
from mediation.storage import Case, CaseEvent, Customer, HeldMail, HeldReason, Merchant

if TYPE_CHECKING:
    from classifier import Classification

log = logging.getLogger("mediation.service")

Classify = Callable[[str | None], "Classification"]
"""Classifies the mail being handled; the argument is the reply context the case is in
(``solved_question``, ``proposal`` or None)."""


@dataclass(frozen=True)
class Settings:
    """What the case service needs from the configuration."""

    domain: str
    secret: bytes
    policy: Policy = dataclasses.field(default_factory=Policy)
    calendar: BusinessCalendar = dataclasses.field(default_factory=BusinessCalendar)
    """The default business calendar (merchants without their own)."""
    mediators: tuple[str, ...] = ()
    operator_address: str | None = None
    default_language: str = "de"
    timezone: str = "Europe/Berlin"
    """The operator's time zone: deadlines are shown to customers and mediators in it."""
    authserv_id: str | None = None
    """The MTA's authserv-id whose Authentication-Results we trust (`authority`); None
    where no MTA in front of us authenticates senders."""


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
    """The templates (``customer.rating_request``, ...) of our own mails it answers."""
    machine: str | None = None
    """The kind of machine mail, when the header rules recognised one."""
    machine_rule: str | None = None
    authentication_results: tuple[str, ...] = ()
    """Its Authentication-Results header values, top first (RFC 8601)."""


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


@dataclass(frozen=True)
class _Step:
    """One event applied to a case, with who caused it and why."""

    event: Event
    actor: str
    reason: str
    before: State | None
    decision: Decision


# ====================================================================== mails


def handle_mail(
    session: Session, mail: IncomingMail, classify: Classify, settings: Settings
) -> Outcome:
    """Route and apply one received mail; returns what to send (the caller enqueues)."""
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
        return _hold(session, mail, HeldReason.NO_RECIPIENT, delivered, settings)
    if not mail.sender:
        return _hold(session, mail, HeldReason.NO_SENDER, "no From address", settings)
    if _ours([mail.sender], settings):
        detail = f"From {mail.sender}, an address of ours: a loop or a forgery"
        return _hold(session, mail, HeldReason.OWN_ADDRESS, detail, settings)
    by_address = (at_case.case_ref, at_case.role) if at_case else None
    for candidate in routing.case_candidates(by_address, mail.thread_refs, mail.subject):  # type: ignore[arg-type]
        case = storage.load_case(session, candidate.ref)
        if case is None:
            if candidate.via == authority.CASE_ADDRESS:
                detail = f"case address of {candidate.ref}, which does not exist"
                return _hold(
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
        return _name_feedback_merchant(session, mail, at_feedback.feedback_id, classify, settings)  # type: ignore[arg-type]
    opening = at_praise or at_complaint
    if opening is None:
        # To postmaster, abuse or our From address (a client that ignored Reply-To),
        # naming no case: the operator reads it.
        return _hold(session, mail, HeldReason.OPERATOR_ADDRESS, delivered, settings)
    automatic = _automatic(mail, classify)
    if automatic:
        detail = f"{automatic} to {opening.address}: opens nothing"
        return _hold(session, mail, HeldReason.MACHINE_MAIL, detail, settings)
    if at_praise is not None:
        return _take_feedback(
            session, mail, at_praise.merchant_slug, Source.PRAISE_ADDRESS, classify, settings
        )
    if _is_praise(classify(None)):
        return _take_feedback(
            session, mail, opening.merchant_slug, Source.COMPLAINT_ADDRESS, classify, settings
        )
    return _open_case(session, mail, opening.merchant_slug, classify, settings)


def _judge(
    session: Session,
    case: Case,
    candidate: routing.CaseCandidate,
    mail: IncomingMail,
    classify: Classify,
    settings: Settings,
) -> authority.Authority:
    """The authority of `mail` in `case`, with what it needs loaded (see `authority`)."""
    automatic = _automatic(mail, classify)
    sender_check = None
    if settings.authserv_id and mail.sender:
        sender_check = authority.check_sender(
            mail.authentication_results, settings.authserv_id, mail.sender
        )
    return authority.judge(
        via=candidate.via,
        address_role=candidate.role,
        sender=mail.sender,
        parties=_parties(session, case, settings),
        automatic=automatic,
        sender_check=sender_check,
    )


def _automatic(mail: IncomingMail, classify: Classify) -> str | None:
    """Why `mail` is automatic (header rules first, then the text), or None for a person."""
    if mail.machine:
        return f"{mail.machine} by {mail.machine_rule}"
    reading = classify(None)
    return f"{reading.auto_reply_kind} by its text" if reading.auto_reply else None


def _apply(
    session: Session,
    case: Case,
    via: str,
    verdict: authority.Authority,
    mail: IncomingMail,
    classify: Classify,
    settings: Settings,
) -> Outcome:
    """What a mail routed to `case` does there, by its standing."""
    detail = f"{verdict.detail} ({case.ref})"
    match verdict.standing:
        case Standing.ACTS:
            assert verdict.role is not None
            return _reply(session, case, verdict.role, via, mail, classify, settings)
        case Standing.AUTOMATIC:
            assert verdict.role is not None
            return _ignore_automatic(session, case, verdict.role, mail, verdict.detail)
        case Standing.EVIDENCE:
            return _hold(
                session, mail, HeldReason.NOT_CASE_ADDRESS, detail, settings,
                tell=classify, ref=case.ref, case=case, role=verdict.role,
            )  # fmt: skip
        case Standing.UNAUTHENTICATED:
            reason = HeldReason.UNAUTHENTICATED
        case _:
            reason = HeldReason.SENDER_NOT_PARTY
    return _hold(
        session, mail, reason, detail, settings, tell=classify, ref=case.ref, case=case
    )  # fmt: skip


def _ours(addresses: Sequence[str], settings: Settings) -> list[Recipient]:
    """Which of `addresses` are ours (complaint, case, bounce, operator), decoded."""
    found = []
    for address in addresses:
        try:
            found.append(parse_recipient(settings.secret, settings.domain, address))
        except AddressError:
            continue
    return found


PRAISE_MIN_CONFIDENCE = 0.5
"""How sure the classifier must be that a mail to the complaint address is praise: a
complaint taken for praise would get no case at all, so praise mixed with a problem
("great service, but my parcel is still missing") stays a complaint."""


def _is_praise(reading: Classification) -> bool:
    return reading.category == "praise" and reading.confidence >= PRAISE_MIN_CONFIDENCE


def _take_feedback(
    session: Session,
    mail: IncomingMail,
    named_slug: str | None,
    source: Source,
    classify: Classify,
    settings: Settings,
) -> Outcome:
    """Lob & Tadel outside any case, from a person: recorded for the merchant found in
    it (as for a complaint), the author thanked, or asked for the shop when none was
    found."""
    assert mail.sender is not None
    reading = classify(None)
    match, merchant = _find_merchant(session, mail.subject, reading.own_text, named_slug)
    praise, criticism = _feedback_texts(reading, source)
    language = _language(reading.language, settings)
    entry = feedback.record(
        session,
        merchant_id=merchant.id if merchant else None,
        author=mail.sender,
        language=language,
        praise=praise,
        criticism=criticism,
        source=source,
        mail_id=mail.id,
        received_at=mail.received_at,
        merchant_named_by=match.rule if match else None,
    )
    log.info("Lob & Tadel %s from mail %s (%s), merchant %s", entry.id, mail.id, source,
             merchant.slug if merchant else "not found")  # fmt: skip
    return Outcome((_feedback_notice(mail, entry, merchant, language, settings),))


def _feedback_texts(reading: Classification, source: Source) -> tuple[str, str]:
    """(Lob, Tadel) of a mail: its labelled fields where it has them ("Lob: …",
    "Tadel: …"), else the author's whole own text as Lob when it reads as praise, as Tadel when
    not. Praise at the complaint address is Lob as a whole."""
    from classifier.ratings import parse_rating

    text = reading.own_text.strip()
    if source is Source.PRAISE_ADDRESS:
        answer = parse_rating(text)
        if answer.readable and (answer.praise or answer.criticism):
            return answer.praise, answer.criticism
    return (text, "") if reading.category == "praise" else ("", text)


def _feedback_notice(
    mail: IncomingMail,
    entry: feedback.Feedback,
    merchant: Merchant | None,
    language: str,
    settings: Settings,
) -> OutgoingMail:
    if merchant is None:
        assert entry.id is not None
        reply_to = feedback_address(settings.secret, settings.domain, entry.id)
        return notices.to_sender(
            "customer.feedback_which_shop", mail, None, language, settings, reply_to=reply_to
        )
    values = {"merchant_name": merchant.name}
    return notices.to_sender("customer.feedback_thanks", mail, None, language, settings, values)


def _name_feedback_merchant(
    session: Session, mail: IncomingMail, feedback_id: int, classify: Classify, settings: Settings
) -> Outcome:
    """The author's answer naming the shop of its Lob & Tadel; asked again (and held for
    the operator) when no registered shop is found in it."""
    entry = feedback.entry(session, feedback_id)
    detail = f"answer to Lob & Tadel {feedback_id}"
    automatic = _automatic(mail, classify)
    if entry is None or (mail.sender or "").lower() != entry.author.lower():
        return _hold(session, mail, HeldReason.SENDER_NOT_PARTY, detail, settings)
    if automatic or entry.merchant_id is not None:
        why = f"{detail}: {automatic or 'the shop is already named'}"
        return _hold(session, mail, HeldReason.MACHINE_MAIL if automatic else
                     HeldReason.UNEXPECTED_EVENT, why, settings)  # fmt: skip
    _, merchant = _find_merchant(session, mail.subject, classify(None).own_text)
    if merchant is None:
        held = _hold(session, mail, HeldReason.UNKNOWN_MERCHANT, f"{detail}: no shop found",
                     settings)  # fmt: skip
        notice = _feedback_notice(mail, entry, None, entry.language, settings)
        return dataclasses.replace(held, outgoing=(notice,))
    feedback.name_merchant(session, entry, merchant.id)  # type: ignore[arg-type]
    return Outcome((_feedback_notice(mail, entry, merchant, entry.language, settings),))


def _language(language: str | None, settings: Settings) -> str:
    """`language` where we write it, else the operator's default."""
    return language if language in LANGUAGES else settings.default_language


def _find_merchant(
    session: Session, subject: str, text: str, named_slug: str | None = None
) -> tuple[routing.MerchantMatch | None, Merchant | None]:
    """The registered merchant a mail is about (`routing.find_merchant`), with its row."""
    all_merchants = storage.merchants(session)
    match = routing.find_merchant(subject, text, [_profile(m) for m in all_merchants], named_slug)
    merchant = next((m for m in all_merchants if match and m.slug == match.slug), None)
    return match, merchant


def _open_case(
    session: Session,
    mail: IncomingMail,
    named_slug: str | None,
    classify: Classify,
    settings: Settings,
) -> Outcome:
    assert mail.sender is not None
    reading = classify(None)
    match, merchant = _find_merchant(session, mail.subject, mail.text, named_slug)
    language = _language(reading.language, settings)
    customer = storage.ensure_customer(
        session, mail.sender, mail.sender_name, language, mail.received_at
    )
    ref = storage.next_ref(session, mail.received_at.year)
    snapshot = CaseSnapshot(ref=ref, calendar=_calendar_of(merchant, settings))
    event = ComplaintReceived(merchant=match.slug if match else None)
    found = f"merchant by {match.rule}: {match.detail}" if match else "merchant not found"
    reason = f"complaint mail {mail.id}; {found}; {_reading_summary(reading)}"
    steps = _steps(snapshot, [(event, "customer", reason)], mail.received_at, settings, session)
    final = steps[-1].decision.case
    case = Case(
        ref=ref,
        state=final.state or State.NEEDS_MERCHANT,
        merchant_id=merchant.id if merchant else None,
        customer_id=customer.id,  # type: ignore[arg-type]
        mediator=final.mediator,
        category=reading.category,
        category_confidence=reading.confidence,
        needs_triage=reading.needs_triage,
        language=language,
        subject=mail.subject[:998],
        complaint_mail_id=mail.id,
        opened_at=mail.received_at,
        updated_at=mail.received_at,
        merchant_given_at=final.merchant_given_at,
    )
    session.add(case)
    session.flush()
    storage.sync_deadlines(session, case.id, final.deadlines)  # type: ignore[arg-type]
    complaint = {"text": mail.text[: notices.MAX_QUOTED_CHARS]}
    _append_events(session, case, steps, mail.received_at, mail, complaint)
    outgoing = _notify(session, case, steps, mail, Role.CUSTOMER, settings)
    log.info("case %s opened (%s), %s", ref, final.state, found)
    return Outcome(tuple(outgoing), ref)


def _reply(
    session: Session,
    case: Case,
    role: Role,
    via: str,
    mail: IncomingMail,
    classify: Classify,
    settings: Settings,
) -> Outcome:
    state = State(case.state)
    if state in CLOSED:
        # A closed case is never reopened by mail: its customer's mail may rate it;
        # anything else the operator sees.
        if role is Role.CUSTOMER and case.merchant_id is not None:
            rated = _rate(session, case, mail, classify, settings)
            if rated is not None:
                return rated
        detail = f"{role} wrote to {case.ref}, closed as {state}"
        return _hold(
            session, mail, HeldReason.CLOSED_CASE, detail, settings,
            tell=classify, ref=case.ref, case=case,
        )  # fmt: skip
    context = _reply_context(state, role)
    reading = classify(context)
    why = f"mail {mail.id} from the {role} via {via}; {_reading_summary(reading)}"
    if role is Role.MEDIATOR:
        instructions = commands.parse(reading.own_text)
        if instructions.problems:
            return _command_problem(session, case, mail, instructions.problems, settings)
        events: list[Event] = list(instructions.events)
        if not events:
            _log(session, case, "MailWithoutEffect", str(role), "no command, no text",
                 mail.received_at, mail)  # fmt: skip
            return Outcome(case_ref=case.ref)
    elif role is Role.MERCHANT:
        events = [_merchant_event(state, reading)]
    else:
        events = [_customer_event(session, state, reading, mail)]
    snapshot = _snapshot(session, case, settings)
    try:
        steps = _steps(
            snapshot, [(e, str(role), why) for e in events], mail.received_at, settings, session
        )
    except UnexpectedEvent as error:
        if role is Role.MEDIATOR:
            problem = commands.Problem(commands.ProblemCode.NOT_POSSIBLE, str(error))
            return _command_problem(session, case, mail, (problem,), settings)
        return _hold(
            session, mail, HeldReason.UNEXPECTED_EVENT, str(error), settings,
            tell=classify, ref=case.ref, case=case,
        )  # fmt: skip
    _save(session, case, steps, mail.received_at)
    # What a party wrote stays in the log (and the mediator's case file) whatever it meant.
    said = {"text": _said(reading)} if role is not Role.MEDIATOR else None
    _append_events(session, case, steps, mail.received_at, mail, said)
    outgoing = _notify(session, case, steps, mail, role, settings)
    return Outcome(tuple(outgoing), case.ref)


RATING_MAILS = ("customer.rating_request", "customer.rating_help")
"""Our mails whose answer is expected to be a rating (an unreadable answer to the
thanks, usually a "thank you", is held like any late mail)."""


def _rate(
    session: Session, case: Case, mail: IncomingMail, classify: Classify, settings: Settings
) -> Outcome | None:
    """The customer's mail to its closed case as a rating; None when it neither reads
    as one nor tries to (then it is held like any late mail).

    Only the case's customer gets here, at its signed case address (`authority`), and
    only its own text is read (no quote, not even an answered one). Whatever the case's
    outcome, a rating is taken the same way (no review gating). A readable rating
    replaces an earlier one (kept in the history; the event names the revision it
    replaces) and is thanked with what was read; an answer to the request, or a try at
    a rating, that cannot be read is held for the operator and the customer is shown
    the format.
    """
    from classifier.ratings import parse_rating  # loaded only when needed

    reading = classify(None)
    if reading.auto_reply:
        return None  # an out-of-office note rates nothing
    answer = parse_rating(reading.own_text)
    if not answer.readable:
        if not answer.tried and not set(mail.answered_kinds) & set(RATING_MAILS):
            return None
        return _rating_unreadable(session, case, mail, answer.problems, classify, settings)
    given = ratings.GivenRating(
        service=answer.service,
        reachability=answer.reachability,
        reaction_time=answer.reaction_time,
        praise=answer.praise,
        criticism=answer.criticism,
        comment=answer.comment,
    )
    event = CustomerRated(
        service=given.service,
        reachability=given.reachability,
        reaction_time=given.reaction_time,
        praise=given.praise,
        criticism=given.criticism,
    )
    assert case.id is not None and case.merchant_id is not None
    earlier = ratings.current(session, case.id)  # changed in place by `ratings.save`
    replaced = earlier.revision if earlier else None
    replaces = (
        f"; replaces the customer's rating #{replaced} of {earlier.received_at:%Y-%m-%d}"
        if earlier
        else ""
    )
    problems = f"; not read: {', '.join(answer.problems)}" if answer.problems else ""
    why = f"rating mail {mail.id}{replaces}{problems}"
    steps = _steps(
        _snapshot(session, case, settings), [(event, "customer", why)], mail.received_at,
        settings, session,
    )  # fmt: skip
    stored = ratings.save(session, case.id, case.merchant_id, given, mail.id, mail.received_at)
    _save(session, case, steps, mail.received_at)
    extra = {
        "comment": given.comment,
        "revision": stored.revision,
        "replaces_revision": replaced,
    }
    _append_events(session, case, steps, mail.received_at, mail, extra)
    return Outcome(tuple(_notify(session, case, steps, mail, Role.CUSTOMER, settings)), case.ref)


def _rating_unreadable(
    session: Session,
    case: Case,
    mail: IncomingMail,
    problems: Sequence[str],
    classify: Classify,
    settings: Settings,
) -> Outcome:
    """Held for the operator (it may say something else); the customer gets the format."""
    from classifier.ratings import format_help

    detail = f"no rating read from the customer's answer ({', '.join(problems)})"
    outcome = _hold(
        session, mail, HeldReason.CLOSED_CASE, detail, settings,
        tell=classify, ref=case.ref, case=case,
    )  # fmt: skip
    language = _language(case.language, settings)
    view = notices.CaseView.load(session, case, settings)
    values = view.values(language, settings.timezone, {})
    values["rating_help"] = format_help(language)
    key = "customer.rating_help"
    notice = notices.compose(
        key, view.customer.address, language, values, case, Role.CUSTOMER, mail, settings
    )
    return dataclasses.replace(outcome, outgoing=(notice,))


def _reply_context(state: State, role: Role) -> str | None:
    if state is State.PROPOSAL_PENDING and role in (Role.CUSTOMER, Role.MERCHANT):
        return "proposal"
    if role is Role.CUSTOMER and state in (State.AWAITING_MERCHANT, State.AWAITING_CUSTOMER):
        return "solved_question"
    return None


def _merchant_event(state: State, reading: Classification) -> Event:
    if state is State.PROPOSAL_PENDING:
        if reading.intent == "accept":
            return ProposalAccepted(Role.MERCHANT)
        if reading.intent == "reject":
            return ProposalRejected(Role.MERCHANT)
    # A reply with no word of its own (only the quote, only an attachment) answers
    # nothing: recorded, but it stops no clock and is not forwarded.
    said = any(character.isalnum() for character in reading.own_text)
    return MerchantReplied(substantive=said, text=_said(reading))


def _customer_event(
    session: Session, state: State, reading: Classification, mail: IncomingMail
) -> Event:
    match state:
        case State.NEEDS_MERCHANT:
            found, _ = _find_merchant(session, mail.subject, reading.own_text or mail.text)
            if found is not None:
                return MerchantIdentified(found.slug)
        case State.AWAITING_MERCHANT if reading.intent == "resolved":
            return CustomerConfirmedSolved()
        case State.AWAITING_CUSTOMER if reading.intent == "resolved":
            return CustomerConfirmedSolved()
        case State.AWAITING_CUSTOMER if reading.intent == "not_resolved":
            return CustomerReportedUnsolved()
        case State.PROPOSAL_PENDING if reading.intent == "accept":
            return ProposalAccepted(Role.CUSTOMER)
        case State.PROPOSAL_PENDING if reading.intent == "reject":
            return ProposalRejected(Role.CUSTOMER)
    # Unsure, or no answer the workflow waits for: forwarded, and asked again where
    # the case waits for the customer's answer (the machine's `solved_question`).
    return CustomerWrote(text=_said(reading))


def _said(reading: Classification) -> str:
    """What a party wrote: the new part of its mail (the classifier's reading)."""
    return reading.new_text.strip()


def _reading_summary(reading: Classification) -> str:
    rules = ", ".join(rule["rule"] for rule in reading.rules)
    intent = f", intent {reading.intent}" if reading.intent else ""
    return (
        f"classifier: {reading.category} {reading.confidence:.2f}{intent}, "
        f"{reading.auto_reply_kind}, {reading.language} [{rules}]"
    )


def _ignore_automatic(
    session: Session, case: Case, role: Role, mail: IncomingMail, why: str
) -> Outcome:
    """An automatic mail from a party: on the case's timeline, and nothing else (no
    state change, no clock stopped, nothing forwarded)."""
    _log(session, case, "AutomaticMailIgnored", str(role), f"mail {mail.id}: {why}",
         mail.received_at, mail)  # fmt: skip
    log.info("automatic mail %s to %s recorded, no effect: %s", mail.id, case.ref, why)
    return Outcome(case_ref=case.ref)


def _command_problem(
    session: Session,
    case: Case,
    mail: IncomingMail,
    problems: Sequence[commands.Problem],
    settings: Settings,
) -> Outcome:
    """A mediator's reply that cannot be carried out: nothing of it acts; they are told."""
    detail = "; ".join(f"{p.code}: {p.line}" for p in problems)
    outcome = _hold(
        session, mail, HeldReason.COMMAND_PROBLEM, detail, settings, ref=case.ref, case=case
    )
    language = settings.default_language
    values = notices.CaseView.load(session, case, settings).values(language, settings.timezone, {})
    values["problems"] = "\n".join(
        f"- {problem.line}: {templates.problem_text(problem.code, language)}"
        for problem in problems
    )
    key = "mediator.command_problem"
    notice = notices.compose(
        key, mail.sender or "", language, values, case, Role.MEDIATOR, mail, settings
    )
    return dataclasses.replace(outcome, outgoing=(notice,))


# ====================================================================== deadlines


def fire_deadline(
    session: Session, deadline_id: int, now: datetime, settings: Settings
) -> Fired | None:
    """Fire deadline `deadline_id` if it is still due at `now`; None when it is not.

    The case is locked first (the order every writer of a case's deadlines uses), then
    the deadline is re-read and claimed by a conditional delete: of two sweeps racing
    for it, one fires it and the other finds it gone. The event happens at the due time,
    so a sweep that catches up after downtime replays the case as it would have run.
    """
    found = storage.deadline(session, deadline_id)
    if found is None:
        return None
    case = storage.lock_case(session, found.case_id)
    due = storage.deadline(session, deadline_id)
    if case is None or due is None or due.due_at > now or due.held_reason is not None:
        return None
    kind = Deadline(due.kind)
    snapshot = _snapshot(session, case, settings)
    event = DUE_EVENTS[kind]()
    reason = f"{kind} due at {due.due_at.isoformat()}"
    try:
        steps = _steps(snapshot, [(event, "system", reason)], due.due_at, settings, session)
    except UnexpectedEvent as error:
        if storage.hold_deadline(session, due, str(error)):
            _log(
                session, case, "DeadlineHeld", "system", str(error), due.due_at, data={"kind": kind}
            )
            log.warning("deadline %s of %s held: %s", kind, case.ref, error)
        return Fired(case.ref, kind, held=str(error))
    if not storage.claim_deadline(session, due):
        return None
    _save(session, case, steps, due.due_at)
    _append_events(session, case, steps, due.due_at, None)
    outgoing = _notify(session, case, steps, None, None, settings)
    return Fired(case.ref, kind, tuple(outgoing))


# ====================================================================== operator


def assign_merchant(
    session: Session, ref: str, slug: str, now: datetime, settings: Settings
) -> Outcome:
    """The operator names the shop of a case waiting in ``needs_merchant``."""
    case = storage.load_case(session, ref)
    merchant = storage.merchant_by_slug(session, slug)
    if case is None or merchant is None:
        raise LookupError(f"no case {ref}" if case is None else f"no merchant {slug}")
    snapshot = dataclasses.replace(
        _snapshot(session, case, settings), calendar=_calendar_of(merchant, settings)
    )
    event = MerchantIdentified(merchant.slug)
    steps = _steps(snapshot, [(event, "operator", "named by the operator")], now, settings, session)
    _save(session, case, steps, now)
    _append_events(session, case, steps, now, None)
    return Outcome(
        tuple(_notify(session, case, steps, None, None, settings)),
        case.ref,
    )


def correct_category(session: Session, ref: str, category: str, now: datetime) -> Case:
    """The operator corrects a case's category; kept as training data for the classifier."""
    case = storage.load_case(session, ref)
    if case is None:
        raise LookupError(f"no case {ref}")
    opened = next(
        (e for e in storage.events_of(session, case.id) if e.kind == "ComplaintReceived"),  # type: ignore[arg-type]
        None,
    )
    previous = case.category
    session.add(
        storage.CategoryCorrection(
            case_id=case.id,  # type: ignore[arg-type]
            mail_id=case.complaint_mail_id,
            subject=case.subject,
            body=str(opened.data.get("text", "")) if opened else "",
            language=case.language,
            category=category,
            previous_category=previous,
            corrected_at=now,
        )
    )
    storage.update_case(session, case, {"category": category, "needs_triage": False})
    _log(session, case, "CategoryCorrected", "operator", f"{previous} → {category}", now)
    return case


# ====================================================================== applying events


def _steps(
    snapshot: CaseSnapshot,
    events: Sequence[tuple[Event, str, str]],
    now: datetime,
    settings: Settings,
    session: Session,
) -> list[_Step]:
    """Apply `events` in order; then assign a mediator if the case needs one.

    Pure but for the mediator count; raises `UnexpectedEvent` before anything is saved.
    """
    steps: list[_Step] = []
    for event, actor, reason in events:
        decision = decide(snapshot, event, settings.policy, now)
        steps.append(_Step(event, actor, reason, snapshot.state, decision))
        snapshot = decision.case
    needs_mediator = snapshot.state in (State.IN_MEDIATION, State.PROPOSAL_PENDING)
    if needs_mediator and snapshot.mediator is None and settings.mediators:
        counts = storage.open_cases_per_mediator(session, settings.mediators)
        chosen = min(settings.mediators, key=lambda address: counts[address])
        event = MediatorAssigned(chosen)
        reason = f"fewest open cases ({counts[chosen]}) of {len(settings.mediators)} mediators"
        decision = decide(snapshot, event, settings.policy, now)
        steps.append(_Step(event, "system", reason, snapshot.state, decision))
    return steps


def _notify(
    session: Session,
    case: Case,
    steps: Sequence[_Step],
    mail: IncomingMail | None,
    sender_role: Role | None,
    settings: Settings,
) -> list[OutgoingMail]:
    decisions = [step.decision for step in steps]
    return notices.for_decisions(session, case, decisions, mail, sender_role, settings)


def _save(session: Session, case: Case, steps: Sequence[_Step], now: datetime) -> None:
    final = steps[-1].decision.case
    values: dict[str, Any] = {
        "state": str(final.state),
        "mediator": final.mediator,
        "merchant_given_at": final.merchant_given_at,
        "first_reply_at": final.first_reply_at,
        "merchant_missed_deadline": final.merchant_missed_deadline,
        "proposal_accepted_by": sorted(str(role) for role in final.proposal_accepted_by),
        "updated_at": now,
    }
    if final.merchant != _merchant_slug(session, case):
        merchant = storage.merchant_by_slug(session, final.merchant) if final.merchant else None
        values["merchant_id"] = merchant.id if merchant else None
    if final.state in CLOSED and case.closed_at is None:
        values["closed_at"] = now
    in_mediation = final.state in (State.IN_MEDIATION, State.PROPOSAL_PENDING)
    if in_mediation and case.mediation_started_at is None:
        values["mediation_started_at"] = now
    for step in steps:
        measured = step.decision.first_reply
        if measured is not None:
            values["first_reply_seconds"] = measured.seconds
            values["first_reply_business_hours"] = measured.business_hours
            values["first_reply_business_seconds"] = round(measured.business_hours * 3600)
            values["first_reply_within_deadline"] = measured.within_deadline
    case_id = case.id
    storage.update_case(session, case, values)
    storage.sync_deadlines(session, case_id, final.deadlines)  # type: ignore[arg-type]


def _append_events(
    session: Session,
    case: Case,
    steps: Sequence[_Step],
    at: datetime,
    mail: IncomingMail | None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Log every record of every step; `extra` fills gaps in the first event's data."""
    for index, step in enumerate(steps):
        for record in step.decision.records:
            data = _jsonable(dataclasses.asdict(record))
            if index == 0 and record is step.event and extra:
                data = dict(extra) | data  # the event's own fields win
            session.add(
                CaseEvent(
                    case_id=case.id,  # type: ignore[arg-type]
                    at=at,
                    kind=type(record).__name__,
                    actor=step.actor,
                    actor_address=mail.sender if mail and step.actor != "system" else None,
                    reason=step.reason,
                    mail_id=mail.id if mail else None,
                    state_before=str(step.before) if step.before else None,
                    state_after=str(step.decision.state),
                    data=data,
                )
            )
    session.flush()


def _log(
    session: Session,
    case: Case,
    kind: str,
    actor: str,
    reason: str,
    at: datetime,
    mail: IncomingMail | None = None,
    data: Mapping[str, Any] | None = None,
) -> None:
    """Log something that happened to a case without a transition (a hold, a correction)."""
    session.add(
        CaseEvent(
            case_id=case.id,  # type: ignore[arg-type]
            at=at,
            kind=kind,
            actor=actor,
            actor_address=mail.sender if mail else None,
            reason=reason,
            mail_id=mail.id if mail else None,
            state_before=case.state,
            state_after=case.state,
            data=_jsonable(dict(data or {})),
        )
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


# ====================================================================== holding


def _hold(
    session: Session,
    mail: IncomingMail,
    reason: HeldReason,
    detail: str,
    settings: Settings,
    *,
    tell: Classify | None = None,
    ref: str | None = None,
    case: Case | None = None,
    role: Role | None = None,
) -> Outcome:
    """Keep `mail` for the operator; with `tell`, a person who sent it is told in their
    language (never a machine: no answer loops). `role` is the sender's role in `case`,
    for a mail attached as evidence: its notice names that role's case address."""
    told = bool(tell is not None and mail.sender and ref and _automatic(mail, tell) is None)
    session.add(
        HeldMail(
            mail_id=mail.id,
            reason=reason,
            detail=detail,
            sender=mail.sender,
            case_id=case.id if case else None,
            held_at=mail.received_at,
            sender_told=told,
        )
    )
    if case is not None:
        kind = "EvidenceAttached" if reason is HeldReason.NOT_CASE_ADDRESS else "MailHeld"
        _log(session, case, kind, "system", f"{reason}: {detail}", mail.received_at, mail)
    log.warning("mail %s held (%s): %s", mail.id, reason, detail)
    if not told:
        return Outcome(case_ref=ref, held=reason, detail=detail)
    assert tell is not None and mail.sender and ref
    language = _language(tell(None).language, settings)
    key = _SENDER_NOTICES.get(reason, "sender.mail_held")
    reply_to = None
    if role is not None and reason is HeldReason.NOT_CASE_ADDRESS:
        reply_to = case_address(settings.secret, settings.domain, ref, role)
    else:
        key = "sender.mail_held" if key == "sender.use_case_address" else key
    values = {"case_address": reply_to or ""}
    notice = notices.to_sender(key, mail, ref, language, settings, values, reply_to)
    return Outcome((notice,), ref, reason, detail)


_SENDER_NOTICES = {
    HeldReason.SENDER_NOT_PARTY: "sender.not_party",
    HeldReason.CLOSED_CASE: "sender.case_closed",
    HeldReason.NOT_CASE_ADDRESS: "sender.use_case_address",
}
"""The notice a person gets for each reason its mail was held (others: "being reviewed")."""


# ====================================================================== loading


def _snapshot(session: Session, case: Case, settings: Settings) -> CaseSnapshot:
    merchant = session.get(Merchant, case.merchant_id) if case.merchant_id else None
    return CaseSnapshot(
        ref=case.ref,
        calendar=_calendar_of(merchant, settings),
        state=State(case.state) if case.state else NEW_CASE,
        merchant=merchant.slug if merchant else None,
        mediator=case.mediator,
        deadlines={
            kind: row.due_at
            for kind, row in storage.deadlines_of(session, case.id).items()  # type: ignore[arg-type]
        },
        merchant_given_at=case.merchant_given_at,
        first_reply_at=case.first_reply_at,
        merchant_missed_deadline=case.merchant_missed_deadline,
        proposal_accepted_by=frozenset(Role(role) for role in case.proposal_accepted_by),
    )


def _merchant_slug(session: Session, case: Case) -> str | None:
    merchant = session.get(Merchant, case.merchant_id) if case.merchant_id else None
    return merchant.slug if merchant else None


def _parties(session: Session, case: Case, settings: Settings) -> routing.CaseParties:
    customer = session.get(Customer, case.customer_id)
    merchant = session.get(Merchant, case.merchant_id) if case.merchant_id else None
    assert customer is not None
    return routing.CaseParties(
        customer=customer.address,
        merchant_addresses=tuple(merchant.support_addresses) if merchant else (),
        merchant_domains=tuple(merchant.domains) if merchant else (),
        mediator=case.mediator,
        mediators=settings.mediators,
    )


def _profile(merchant: Merchant) -> routing.MerchantProfile:
    return routing.MerchantProfile(
        slug=merchant.slug,
        name=merchant.name,
        support_addresses=tuple(merchant.support_addresses),
        domains=tuple(merchant.domains),
        order_pattern=merchant.order_pattern,
    )


def _calendar_of(merchant: Merchant | None, settings: Settings) -> BusinessCalendar:
    if merchant is None or not (
        merchant.calendar_region or merchant.timezone or merchant.opening_hours
    ):
        return settings.calendar
    return merchant_calendar(
        merchant.calendar_region, merchant.timezone, merchant.opening_hours, settings.calendar
    )


@lru_cache(maxsize=256)
def merchant_calendar(
    region: str | None, timezone: str | None, hours: str | None, default: BusinessCalendar
) -> BusinessCalendar:
    """A merchant's own calendar: its region, time zone or hours over the default's."""
    opening = default.hours
    if hours:
        opens, _, closes = hours.partition("-")
        opening = opening_hours(time.fromisoformat(opens), time.fromisoformat(closes))
    if region:
        return BusinessCalendar.from_region(
            region, timezone or default.timezone, opening, default.closed_dates
        )
    return dataclasses.replace(default, timezone=timezone or default.timezone, hours=opening)
