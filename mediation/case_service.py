"""The case service: the entry the shell calls, dispatching to one room per kind of act.

- `handle_mail` decodes where one received mail was delivered, finds its case (case
  address, threading headers, subject reference: `routing.case_candidates`), asks
  `authority` what it may do there and hands it to the one room that acts on it (a mail
  to several case addresses: at each, as if it had been sent there alone):
  `party_replies` (a party's mail to its open case), `case_ratings` (mail to a closed case:
  the customer's rating), `complaints` (a complaint opens a case), `feedback` (Lob &
  Tadel outside any case) or `holds` (whatever cannot act).
- `fire_deadline` fires one due deadline for the sweep (`deadlines`).
- `assign_merchant` and `correct_category` are the operator's corrections
  (`corrections`); `withdraw`, `close`, `reassign` and `assign_waiting` its acts on a
  case (`case_actions`).
- `mail_bounced` records a mail of a case that came back undelivered and tells the
  operator; `forward_again` sends a bounced forward to the shop's corrected address
  (`bounces`).

Every handler works in the caller's session and commits nothing: the shell commits the
case, its events and the outbox rows of the returned `OutgoingMail`s together. No
clock is read: mail events happen at our receive time, deadline events at their due
time. The meaning of a text comes from the classifier, called through the `Classify`
function the shell passes, with the context the case is in. A mail goes down once (once
per case it was addressed to): this module → one room → `holds` / `transitions` /
`loading` → `notices` → storage.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from mediation import (
    authority,
    bounces,
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
from mediation.addresses import AddressError, Kind, Recipient, Role, parse_recipient
from mediation.authority import Standing
from mediation.feedback_store import Source
from mediation.incoming import Classify, IncomingMail, automatic
from mediation.loading import merchant_calendar
from mediation.outcomes import Fired, Outcome
from mediation.outgoing import BouncedMail
from mediation.settings import Settings
from mediation.storage import Case, HeldReason
from mediation.workflow import CLOSED, State

__all__ = [
    "BouncedMail",
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
    "forward_again",
    "forward_not_received",
    "handle_mail",
    "mail_bounced",
    "merchant_calendar",
    "reassign",
    "withdraw",
]

NotAllowed = case_actions.NotAllowed


def handle_mail(
    session: Session, mail: IncomingMail, classify: Classify, settings: Settings
) -> Outcome:
    """Route and apply one received mail; returns what to send (the caller enqueues).

    A mail delivered to several case addresses acts at each as if it had been sent there
    alone (`_at_case_addresses`); its outcome is then the sum of one per case
    (`Outcome.cases`). A person's mail to an operator address (``service@``,
    ``postmaster@``) that is held is also passed on to the operator's mailbox
    (`notices.to_operator`), once for each case that holds it."""
    outcome = _handle(session, mail, classify, settings)
    if not any(_passed_on(part) for part in outcome.each):
        return outcome
    if not any(r.kind is Kind.OPERATOR for r in _ours(mail.envelope_to, settings)):
        return outcome
    if automatic(mail, classify):
        return outcome
    parts = []
    for part in outcome.each:
        if part.held is not None and _passed_on(part):
            forward = notices.to_operator(mail, part.case_ref, part.held, settings)
            if forward is not None:
                part = dataclasses.replace(part, outgoing=(*part.outgoing, forward))
        parts.append(part)
    return Outcome.of(parts)


_NOT_FORWARDED = frozenset({HeldReason.OWN_ADDRESS, HeldReason.NO_SENDER, HeldReason.MACHINE_MAIL})


def _passed_on(outcome: Outcome) -> bool:
    """Whether a person's held mail to an operator address goes to the operator too."""
    return outcome.held is not None and outcome.held not in _NOT_FORWARDED


def _handle(
    session: Session, mail: IncomingMail, classify: Classify, settings: Settings
) -> Outcome:
    recipients = _ours(mail.envelope_to, settings)
    kinds = {recipient.kind for recipient in recipients}
    if kinds == {Kind.BOUNCE}:
        return Outcome()  # a delivery report: the outbox records it, no case acts
    at_cases = [r for r in recipients if r.kind is Kind.CASE]
    at_complaint = next((r for r in recipients if r.kind is Kind.COMPLAINT), None)
    at_praise = next((r for r in recipients if r.kind is Kind.PRAISE), None)
    at_feedback = next((r for r in recipients if r.kind is Kind.FEEDBACK), None)
    delivered = f"delivered to {', '.join(mail.envelope_to)}"
    if not kinds & {Kind.CASE, Kind.COMPLAINT, Kind.OPERATOR, Kind.PRAISE, Kind.FEEDBACK}:
        return holds.hold(session, mail, HeldReason.NO_RECIPIENT, delivered, settings)
    if not mail.sender:
        return holds.hold(session, mail, HeldReason.NO_SENDER, "no single From address", settings)
    if _ours([mail.sender], settings):
        detail = f"From {mail.sender}, an address of ours: a loop or a forgery"
        return holds.hold(session, mail, HeldReason.OWN_ADDRESS, detail, settings)
    if at_cases:
        # Case addresses win over every other address of ours beside them: a reply with
        # beschwerde@ in Cc opens no second case.
        return _at_case_addresses(session, at_cases, mail, classify, settings)
    for candidate in routing.case_candidates(None, mail.thread_refs, mail.subject):
        case = storage.load_case(session, candidate.ref)
        if case is None:
            continue
        verdict = _judge(session, case, candidate, mail, classify, settings)
        if verdict.standing is Standing.NOT_PARTY and at_complaint:
            break  # a stranger naming a case in a new complaint: the complaint counts
        return _apply(session, case, candidate.via, verdict, mail, classify, settings)
    if at_feedback is not None:
        return feedback.name_merchant(session, mail, at_feedback.feedback_id, classify, settings)  # type: ignore[arg-type]
    opening = at_praise or at_complaint
    if opening is None:
        # To postmaster, abuse or our From address (a client that ignored Reply-To),
        # naming no case: the operator reads it.
        return holds.hold(session, mail, HeldReason.OPERATOR_ADDRESS, delivered, settings)
    if routing.of_merchant(mail.sender, [settings.operator_address or ""], [settings.domain]):
        # The operator's mailbox, or another at our domain: staff, never a customer.
        detail = f"From {mail.sender}, the operator's or at our own domain: opens nothing"
        return holds.hold(session, mail, HeldReason.OWN_ADDRESS, detail, settings)
    machine = automatic(mail, classify)
    if machine:
        detail = f"{machine} to {opening.address}: opens nothing"
        return holds.hold(session, mail, HeldReason.MACHINE_MAIL, detail, settings)
    if at_praise is not None:
        return feedback.take(
            session, mail, at_praise.merchant_slug, Source.PRAISE_ADDRESS, classify, settings
        )
    if feedback.is_praise(classify(None), mail.subject, settings):
        return feedback.take(
            session, mail, opening.merchant_slug, Source.COMPLAINT_ADDRESS, classify, settings
        )
    return complaints.open_case(session, mail, opening.merchant_slug, classify, settings)


def _at_case_addresses(
    session: Session,
    at_cases: Sequence[Recipient],
    mail: IncomingMail,
    classify: Classify,
    settings: Settings,
) -> Outcome:
    """A mail delivered to case addresses acts at each as if it had been sent there alone,
    once per case: of one case reached at several roles' addresses, the address of the
    sender's role (else the first) is judged, and the others hold the mail for the
    operator without answering (the sender has the first one's answer). It acts in
    `Settings.max_cases_per_mail` cases at most, the first by recipient order; the
    others hold it (`holds.too_many_cases`). Cases are locked in the order of their
    references, so that two workers never wait for each other's."""
    roles: dict[str, list[Role]] = {}  # case → the roles of its addresses, in order
    for address in at_cases:
        assert address.case_ref is not None and address.role is not None
        named = roles.setdefault(address.case_ref, [])
        if address.role not in named:
            named.append(address.role)
    acting = set(list(roles)[: settings.max_cases_per_mail])
    outcomes: dict[str, list[Outcome]] = {}
    over: list[tuple[str, Case | None]] = []
    for ref in sorted(roles):
        case = storage.load_case(session, ref)
        if ref not in acting:
            over.append((ref, case))
        elif case is None:
            detail = f"case address of {ref}, which does not exist"
            unknown = holds.hold(
                session, mail, HeldReason.UNKNOWN_CASE, detail, settings, tell=classify, ref=ref
            )
            outcomes[ref] = [unknown]
        else:
            outcomes[ref] = _at_case(session, case, roles[ref], mail, classify, settings)
    limit = settings.max_cases_per_mail
    held = holds.too_many_cases(session, mail, over, limit, classify, settings) if over else []
    for (ref, _), outcome in zip(over, held, strict=True):
        outcomes[ref] = [outcome]
    return Outcome.of([outcome for ref in roles for outcome in outcomes[ref]])


def _at_case(
    session: Session,
    case: Case,
    roles: Sequence[Role],
    mail: IncomingMail,
    classify: Classify,
    settings: Settings,
) -> list[Outcome]:
    """`mail` at the case addresses of `roles` of one case: the address of the sender's
    role (else the first) acts or holds it as a mail to it alone would; another role's
    address holds it unanswered (it is not the sender's: `Standing.NOT_PARTY`)."""
    role = roles[0]
    if len(roles) > 1:
        own = routing.role_of(mail.sender, loading.parties(session, case, settings))
        role = own if own in roles else role
    candidate = routing.CaseCandidate(case.ref, authority.CASE_ADDRESS, role)
    verdict = _judge(session, case, candidate, mail, classify, settings)
    outcomes = [_apply(session, case, candidate.via, verdict, mail, classify, settings)]
    for other in roles:
        if other is not role:
            detail = (
                f"{mail.sender} is not the {other} of the case (case-address), also sent "
                f"to the {role}'s case address ({case.ref})"
            )
            outcomes.append(
                holds.hold(session, mail, HeldReason.SENDER_NOT_PARTY, detail, settings, case=case)
            )
    return outcomes


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


def forward_not_received(session: Session, ref: str, now: datetime, settings: Settings) -> Outcome:
    """The operator takes back case `ref`'s missed deadline: the forward never arrived."""
    return case_actions.forward_not_received(session, ref, now, settings)


def reassign(
    session: Session, ref: str, mediator: str, now: datetime, settings: Settings
) -> Outcome:
    """The operator gives case `ref` in mediation to `mediator`."""
    return case_actions.reassign(session, ref, mediator, now, settings)


def assign_waiting(session: Session, now: datetime, settings: Settings) -> list[Outcome]:
    """Mediations without a mediator go to the free ones (a mediator added or resumed)."""
    return case_actions.assign_waiting(session, now, settings)


def mail_bounced(session: Session, bounced: BouncedMail, settings: Settings) -> Outcome:
    """A mail of a case bounced: logged on the case, the operator told (`bounces`)."""
    return bounces.mail_bounced(session, bounced, settings)


def forward_again(session: Session, slug: str, now: datetime, settings: Settings) -> list[Outcome]:
    """The operator gave merchant `slug`'s address: its cases whose forward bounced get
    the complaint again, with a new deadline (`bounces`)."""
    return bounces.forward_again(session, slug, now, settings)


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
            # A customer's mail is held so only when its From domain refutes it: the
            # From is forged, and a notice would go to the customer, who did not write.
            told = None if verdict.role is Role.CUSTOMER else classify
            return holds.hold(
                session, mail, HeldReason.UNAUTHENTICATED, detail, settings,
                tell=told, ref=case.ref, case=case,
            )  # fmt: skip
    # Not the party of the address it wrote to; maybe another party of the case (the
    # shop answering at the customer's address): it is told its own case address.
    own_role = routing.role_of(mail.sender, loading.parties(session, case, settings))
    return holds.hold(
        session, mail, HeldReason.SENDER_NOT_PARTY, detail, settings,
        tell=classify, ref=case.ref, case=case, role=own_role,
    )  # fmt: skip
