"""Mail to a closed case, and ratings: a closed case is rated, never reopened.

The customer's mail to its closed case (with a merchant) may rate it
(`rating_mail`): its own text is read by `classifier.ratings.parse_rating`, and a
readable rating is applied by `rate`, the one act of rating a case, which a rating form
calls as well. Whatever the case's outcome, a rating is taken the same way (no review
gating); a later rating replaces the current one (`rating_store` keeps the history). An
unreadable answer to our request is held and the customer shown the format. The
customer's words soon after a settlement (the settled mail asks for them if the
settlement is not carried out) go to the operator and the mediator
(`settlement_reply`); any other mail to a closed case is held for the operator
(`mail_to_closed_case`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel import Session

from mediation import holds, loading, notices, rating_store, templates, transitions
from mediation.addresses import Role
from mediation.events import CustomerRated, CustomerWrote
from mediation.incoming import Classify, IncomingMail, reading_summary, said, substantive
from mediation.outcomes import Outcome
from mediation.rating_store import GivenRating
from mediation.settings import Settings
from mediation.storage import Case, HeldReason
from mediation.workflow import State

RATING_MAILS = (
    "customer.rating_request",  # a mail of its own before the closing notice carried it
    "customer.rating_help",
    *sorted(key for key in templates.names() if templates.uses(key, "rating_request")),
)
"""Our mails whose answer is expected to be a rating: the closing notices, which carry
the rating request (``${rating_request}``), and the format help (an unreadable answer to
the thanks, usually a "thank you", is held like any late mail)."""


def mail_to_closed_case(
    session: Session,
    case: Case,
    role: Role,
    mail: IncomingMail,
    classify: Classify,
    settings: Settings,
) -> Outcome:
    """A party's mail to its closed case: the customer's may rate it, or, soon after a
    settlement, say that it is not carried out; anything else the operator sees (a
    closed case is never reopened by mail)."""
    settled = role is Role.CUSTOMER and _recently_settled(case, mail, settings)
    if role is Role.CUSTOMER and case.merchant_id is not None:
        rated = rating_mail(session, case, mail, classify, settings, settled=settled)
        if rated is not None:
            return rated
    if settled:
        passed_on = settlement_reply(session, case, mail, classify, settings)
        if passed_on is not None:
            return passed_on
    detail = f"{role} wrote to {case.ref}, closed as {State(case.state)}"
    # The shop and the mediator are not pointed to the complaint address.
    notice = None if role is Role.CUSTOMER else "sender.case_closed_party"
    return holds.hold(
        session, mail, HeldReason.CLOSED_CASE, detail, settings,
        tell=classify, ref=case.ref, case=case, notice=notice,
    )  # fmt: skip


def rating_mail(
    session: Session,
    case: Case,
    mail: IncomingMail,
    classify: Classify,
    settings: Settings,
    *,
    settled: bool = False,
) -> Outcome | None:
    """The customer's mail to its closed case as a rating; None when it neither reads
    as one nor tries to (then it is held like any late mail).

    Only the case's customer gets here, at its signed case address (`authority`), and
    only its own text is read (no quote, not even an answered one). A readable rating is
    applied (`rate`) and thanked with what was read; an answer to the request, or a try
    at a rating, that cannot be read is held for the operator and the customer is shown
    the format. `settled`: the case was settled recently, and the settled mail asks for
    other words too (`settlement_reply`), so an answer to it that does not try a
    rating is none.
    """
    from classifier.ratings import filled_in_quote, parse_rating  # loaded only when needed

    reading = classify(None)
    if reading.auto_reply:
        return None  # an out-of-office note rates nothing
    answer = parse_rating(reading.own_text, signed_by=mail.sender_name or "")
    if not answer.readable:
        answers_request = bool(set(mail.answered_kinds) & set(RATING_MAILS))
        # Scores typed into our quoted form are not read, but they are a try at a rating.
        tried = answer.tried or (answers_request and filled_in_quote(mail.text))
        if not tried and (settled or not answers_request):
            return None
        if not answer.tried and classify("solved_question").intent == "not_resolved":
            return None  # "not solved after all!": a late word on the case, not a rating
        return _unreadable(session, case, mail, answer.problems, classify, settings)
    given = GivenRating(
        service=answer.service,
        reachability=answer.reachability,
        reaction_time=answer.reaction_time,
        praise=answer.praise,
        criticism=answer.criticism,
        comment=answer.comment,
    )
    return rate(
        session, case, given, mail.received_at, settings,
        source=f"rating mail {mail.id}", problems=answer.problems, mail=mail,
    )  # fmt: skip


def settlement_reply(
    session: Session, case: Case, mail: IncomingMail, classify: Classify, settings: Settings
) -> Outcome | None:
    """The customer's words to its case soon after the settlement (`_recently_settled`),
    which the settled mail asks for if the settlement is not carried out: recorded as
    ``CustomerWrote``, passed on to the operator and the mediator, and the customer
    told. The case stays closed and no figure changes. None for an automatic mail or one
    that says nothing besides thanks and greetings (`substantive`, as a merchant's first
    reply: "Vielen Dank!" needs no operator); it is then held like any late mail."""
    reading = classify(None)
    if reading.auto_reply or not substantive(
        reading.own_text, settings.policy.substantive_reply_words
    ):
        return None
    event = CustomerWrote(text=said(reading))
    why = f"mail {mail.id} from the customer after the settlement; {reading_summary(reading)}"
    snapshot = loading.snapshot(session, case, settings)
    act = transitions.Act(event, "customer", why)
    steps = transitions.advance(snapshot, [act], mail.received_at, settings, session)
    transitions.save(session, case, steps, mail.received_at)
    transitions.record(session, case, steps, mail.received_at, mail)
    outgoing = transitions.notify(session, case, steps, mail, Role.CUSTOMER, settings)
    return Outcome(tuple(outgoing), case.ref)


def _recently_settled(case: Case, mail: IncomingMail, settings: Settings) -> bool:
    """Whether `case` closed as settled at most `settings.settlement_reply_days` before
    `mail` arrived."""
    if case.state != State.CLOSED_SETTLED or case.closed_at is None:
        return False
    window = timedelta(days=settings.settlement_reply_days)
    return settings.settlement_reply_days > 0 and mail.received_at - case.closed_at <= window


def rate(
    session: Session,
    case: Case,
    given: GivenRating,
    at: datetime,
    settings: Settings,
    *,
    source: str,
    problems: Sequence[str] = (),
    mail: IncomingMail | None = None,
) -> Outcome:
    """Rate the closed `case` (which has a merchant) with `given`, at `at`.

    The rating becomes the case's current one (an earlier one moves to the history; the
    event names the revision it replaces), ``CustomerRated`` is applied and logged, and
    the customer is thanked with what was read. `source` says where the rating came
    from (``rating mail 17``), `problems` what of it could not be read; `mail` is the
    mail it came in, answered by the thanks (None for a rating given otherwise). The
    caller holds the case's row lock (`storage.load_case`).
    """
    event = CustomerRated(
        service=given.service,
        reachability=given.reachability,
        reaction_time=given.reaction_time,
        praise=given.praise,
        criticism=given.criticism,
    )
    assert case.id is not None and case.merchant_id is not None
    earlier = rating_store.current(session, case.id)  # changed in place by `save`
    replaced = earlier.revision if earlier else None
    replaces = (
        f"; replaces the customer's rating #{replaced} of {earlier.received_at:%Y-%m-%d}"
        if earlier
        else ""
    )
    unread = f"; not read: {', '.join(problems)}" if problems else ""
    why = f"{source}{replaces}{unread}"
    snapshot = loading.snapshot(session, case, settings)
    steps = transitions.advance(
        snapshot, [transitions.Act(event, "customer", why)], at, settings, session
    )
    mail_id = mail.id if mail else None
    stored = rating_store.save(session, case.id, case.merchant_id, given, mail_id, at)
    transitions.save(session, case, steps, at)
    extra = {
        "comment": given.comment,
        "revision": stored.revision,
        "replaces_revision": replaced,
    }
    transitions.record(session, case, steps, at, mail, extra)
    outgoing = transitions.notify(session, case, steps, mail, Role.CUSTOMER, settings)
    return Outcome(tuple(outgoing), case.ref)


def _unreadable(
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
    outcome = holds.hold(
        session, mail, HeldReason.CLOSED_CASE, detail, settings,
        tell=classify, ref=case.ref, case=case,
    )  # fmt: skip
    language = settings.language(case.language)
    view = notices.CaseView.load(session, case, settings)
    values = view.values(language, settings.timezone, {}, Role.CUSTOMER)
    values["rating_help"] = format_help(language)
    key = "customer.rating_help"
    notice = notices.compose(
        key, view.customer.address, language, values, case, Role.CUSTOMER, mail, settings
    )
    return dataclasses.replace(outcome, outgoing=(notice,))
