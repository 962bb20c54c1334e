"""A mail of ours about a case came back undelivered: logged on the case, the operator told.

`mail_bounced` is called by the shell (`mailflow.delivery_reports`) once for each outbox
row a delivery report marks `bounced` (a permanent failure), when the mail went to a
party of a case (the customer, the merchant, the mediator). It logs the bounce in the
case's timeline and tells the operator, in the operator's language, which case, which
recipient, which mail, why in one line, and what to do about it
(`notices.bounce_to_operator`). The outbox keeps further mails of the case from that
address (`recipient-bounced`): they would bounce too.

The forward of the complaint is the one bounce that changes a case: the merchant cannot
answer a complaint it never got, so it must not miss a deadline for it. The event is
`ForwardBounced`, through the workflow:

- while the merchant's clock runs (``awaiting_merchant``), the clock stops: no reminder,
  no deadline to miss, the case waits for the operator; should the merchant answer at
  its case address all the same, the answer is measured against the deadline the
  forward set (`workflow._measure_first_reply`): a forged report buys no time;
- after the deadline has passed, the miss stands: an MTA gives up only after days of
  retrying, but a report then is also what a shop that ignored the complaint would
  forge. The operator is told and takes the miss back where the shop really did not get
  it (``siegel case REF --forward-not-received``: `case_actions.forward_not_received`).

A bounce from an address the shop no longer has (changed since) changes nothing, and
neither does one of a forward whose merchant has written to its case address in this
case already: only the forward gave it that address, so the forward reached it. A
delivery report is anybody's to write, and the merchant, who received the forward with
its return path, is the one a forged report would serve. Such a report is not
believed (`Outcome.report_believed`): the forward counts as sent again, and the case's
mail to the address goes on.
`forward_again` is the operator's correction: when ``siegel merchant set SLUG --email``
gives the shop's address, each of its cases waiting so gets the complaint again, at the
shop's first support address, with a new deadline from then (`MerchantAddressCorrected`).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from mediation import loading, notices, storage, transitions
from mediation.addresses import Role
from mediation.events import ForwardBounced, MerchantAddressCorrected
from mediation.outcomes import Outcome
from mediation.outgoing import BouncedMail, OutgoingMail
from mediation.settings import Settings
from mediation.storage import Case
from mediation.workflow import Deadline, State, accepts

FORWARD = "merchant.complaint_forwarded"
"""The template of the forward of the complaint to the merchant."""
SYSTEM = "system"
OPERATOR = "operator"


def mail_bounced(session: Session, bounced: BouncedMail, settings: Settings) -> Outcome:
    """Log `bounced` on its case and tell the operator; the forward to the merchant also
    stops the merchant's clock, or takes back a miss (see above). Nothing for a mail to
    anyone but a party of the case (the operator's own notices: no loop), or a case that
    is gone."""
    role = bounced.kind.partition(".")[0]
    if role not in {str(r) for r in Role}:
        return Outcome()
    case = storage.load_case(session, bounced.case_ref)
    if case is None:
        return Outcome()
    why = f"{bounced.kind} to {bounced.to} bounced: {bounced.reason or 'permanent failure'}"
    data = {
        "address": bounced.to,
        "template": bounced.kind,
        "outbox": bounced.outbox_id,
        "reason": bounced.reason,
        "report_mail": bounced.report_mail,
    }
    merchant = storage.merchant_of(session, case)
    current = [address.lower() for address in (merchant.support_addresses if merchant else ())]
    given_at = case.merchant_given_at
    outgoing: list[OutgoingMail] = []
    forward = bounced.kind == FORWARD and given_at is not None and bounced.written_at >= given_at
    believed = not (forward and _merchant_wrote(session, case))
    if not believed:
        why = f"{why}; not believed: the merchant has written to its case address"
        situation = "forward-answered"
        transitions.log(session, case, "MailBounced", SYSTEM, why, bounced.at, data=data)
    elif forward:
        # The forward that gave the merchant the complaint (not one before the operator's
        # correction): the merchant has not got it.
        situation, outgoing = _forward_bounced(session, case, bounced, why, data, settings)
    else:
        changed = role == Role.MERCHANT and bounced.to.lower() not in current
        situation = "merchant-changed" if changed else role
        transitions.log(session, case, "MailBounced", SYSTEM, why, bounced.at, data=data)
    notice = notices.bounce_to_operator(session, case, bounced, situation, settings)
    return Outcome((*outgoing, *filter(None, [notice])), case.ref, report_believed=believed)


def _merchant_wrote(session: Session, case: Case) -> bool:
    """Whether a mail of the merchant's reached its case address of `case` (an answer, a
    message, even its auto-reply: each one logged as the merchant's)."""
    return any(
        entry.actor == Role.MERCHANT and entry.mail_id is not None
        for entry in storage.events_of(session, case.id)  # type: ignore[arg-type]
    )


def _forward_bounced(
    session: Session,
    case: Case,
    bounced: BouncedMail,
    why: str,
    data: dict[str, object],
    settings: Settings,
) -> tuple[str, list[OutgoingMail]]:
    """`ForwardBounced` through the workflow where it changes the case (logged alone
    elsewhere: the merchant answered all the same, or the case is closed); returns the
    operator's situation and the mails the step sends."""
    snapshot = loading.snapshot(session, case, settings)
    state = snapshot.state
    event = ForwardBounced(address=bounced.to, reason=bounced.reason)
    if state is None or not accepts(state, ForwardBounced):
        transitions.log(session, case, "ForwardBounced", SYSTEM, why, bounced.at, data=data)
        return "merchant", []
    if state is State.AWAITING_MERCHANT:
        situation = "forward-stopped"
    elif snapshot.merchant_missed_deadline and snapshot.first_reply_at is None:
        # A miss is taken back only by the operator (`case_actions.forward_not_received`):
        # a report after the deadline is what a shop that ignored the complaint would
        # forge, with the forward's return path in hand.
        why = f"{why}; the missed deadline stands unless the operator takes it back"
        transitions.log(session, case, "MailBounced", SYSTEM, why, bounced.at, data=data)
        return "forward-late", []
    else:
        situation = "merchant"
    acts = [transitions.Act(event, SYSTEM, why)]
    steps = transitions.advance(snapshot, acts, bounced.at, settings, session)
    transitions.save(session, case, steps, bounced.at)
    transitions.record(session, case, steps, bounced.at, None, extra=data)
    return situation, transitions.notify(session, case, steps, None, None, settings)


def forward_again(session: Session, slug: str, now: datetime, settings: Settings) -> list[Outcome]:
    """The operator gave merchant `slug`'s support address: every case of it whose clock
    the bounced forward stopped gets the complaint again at the shop's first support
    address, with a new deadline from `now`. Returns one outcome per case."""
    merchant = storage.merchant_by_slug(session, slug)
    if merchant is None or merchant.id is None or not merchant.support_addresses:
        return []
    address = merchant.support_addresses[0]
    waiting = storage.cases_without_deadline(
        session, merchant.id, State.AWAITING_MERCHANT, Deadline.MERCHANT_REPLY
    )
    outcomes = []
    for ref in waiting:
        case = storage.load_case(session, ref)
        if case is None:
            continue
        snapshot = loading.snapshot(session, case, settings)
        if snapshot.state is not State.AWAITING_MERCHANT or (
            Deadline.MERCHANT_REPLY in snapshot.deadlines
        ):
            continue  # changed since it was listed
        why = f"support address given by the operator: complaint forwarded again to {address}"
        acts = [transitions.Act(MerchantAddressCorrected(address=address), OPERATOR, why)]
        steps = transitions.advance(snapshot, acts, now, settings, session)
        transitions.save(session, case, steps, now)
        transitions.record(session, case, steps, now, None)
        mails = transitions.notify(session, case, steps, None, None, settings)
        outcomes.append(Outcome(tuple(mails), ref))
    return outcomes
