"""Notices: the mails a case decision sends, rendered for each recipient.

Who gets a notification (the customer, the merchant's first support address, the
assigned mediator, the operator address), in which language (the case's, the
merchant's, the mediator's record's; else the operator's default) and time zone, with
which template values, the case address of the recipient's role as Reply-To, and the
threading headers when it answers the mail being handled (RFC 5322 §3.6.4; RFC 3834
``auto-replied`` then, ``auto-generated`` otherwise). A mail whose template lists the
complaint's attachments (``${attachments}``: the forward to the merchant, the
mediator's case file) carries those `outgoing.enclose` lets through, by reference to
the stored complaint; a mail that passes a party's message on to another (its
``${message_text}``) carries, and lists below it, what that message had attached. Plus
the short answers to a sender whose mail was held.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from sqlmodel import Session

from mediation import mediator_store, rating_links, rating_store, storage, templates
from mediation.addresses import Role, case_address, complaint_address, mask_case_addresses
from mediation.incoming import Attachment, IncomingMail
from mediation.outgoing import BouncedMail, Enclosure, OutgoingMail, enclose
from mediation.settings import Settings
from mediation.storage import Case, CaseEvent, Customer, HeldReason, Merchant
from mediation.workflow import (
    FOLDED,
    CaseSnapshot,
    Deadline,
    Decision,
    Notification,
    Party,
    State,
    one_per_party,
)

MAX_QUOTED_CHARS = 20_000
"""A forwarded text is cut here; the whole mail stays stored."""

# The deadline a template states, by template key: the first of these the case has;
# every other template states the end of the mediation (where it mentions a deadline).
DEADLINE_SHOWN: Mapping[str, tuple[Deadline, ...]] = {
    "customer.complaint_acknowledged": (Deadline.MERCHANT_REPLY,),
    "customer.complaint_forwarded_again": (Deadline.MERCHANT_REPLY,),
    "customer.merchant_requested": (Deadline.CUSTOMER_ANSWER,),
    "customer.merchant_reply_forwarded": (Deadline.CUSTOMER_ANSWER,),
    "customer.solved_question": (Deadline.CUSTOMER_ANSWER,),
    "customer.merchant_message": (Deadline.CUSTOMER_ANSWER,),
    "customer.merchant_short_message": (Deadline.MERCHANT_REPLY,),
    "customer.proposal": (Deadline.PROPOSAL_ANSWER,),
    "merchant.proposal": (Deadline.PROPOSAL_ANSWER,),
    "customer.deadline_extended": (Deadline.PROPOSAL_ANSWER, Deadline.MEDIATION_END),
    "merchant.deadline_extended": (Deadline.PROPOSAL_ANSWER, Deadline.MEDIATION_END),
    "merchant.complaint_forwarded": (Deadline.MERCHANT_REPLY,),
    "merchant.merchant_reminder": (Deadline.MERCHANT_REPLY,),
    "merchant.reply_not_substantive": (Deadline.MERCHANT_REPLY,),
    "merchant.reply_without_text": (Deadline.MERCHANT_REPLY,),
    "customer.proposal_accepted": (Deadline.PROPOSAL_ANSWER,),
    "merchant.proposal_accepted": (Deadline.PROPOSAL_ANSWER,),
    "customer.acceptance_confirmed": (Deadline.PROPOSAL_ANSWER,),
    "merchant.acceptance_confirmed": (Deadline.PROPOSAL_ANSWER,),
    "mediator.proposal_sent": (Deadline.PROPOSAL_ANSWER,),
    "mediator.deadline_extended": (Deadline.PROPOSAL_ANSWER, Deadline.MEDIATION_END),
}

_UNKNOWN_MERCHANT = {"de": "(Shop noch unbekannt)", "en": "(shop not known yet)"}
_NO_SUBJECT = {"de": "(ohne Betreff)", "en": "(no subject)"}
# A case's subject stands in brackets in most mails ("Fall … (Sofa beschädigt)").
_CASE_WITHOUT_SUBJECT = {"de": "ohne Betreff", "en": "no subject"}
_SHORTENED = {
    "de": "[… hier gekürzt: Der ganze Text ({} Zeichen) ist beim Fall gespeichert.]",
    "en": "[… shortened here: the whole text ({} characters) is kept with the case.]",
}
_ADDED_BY_CUSTOMER = {
    "de": "Nachtrag der Kundin / des Kunden auf unsere Frage nach dem Shop:",
    "en": "Added by the customer when we asked which shop it is about:",
}
_CASE_ADDRESS_REMOVED = {"de": "[Fall-Adresse entfernt]", "en": "[case address removed]"}


def for_decisions(
    session: Session,
    case: Case,
    decisions: Sequence[Decision],
    mail: IncomingMail | None,
    sender_role: Role | None,
    settings: Settings,
) -> list[OutgoingMail]:
    """Each decision's notifications, rendered for their recipients; a notification to
    the role that wrote `mail` answers it."""
    view = CaseView.load(session, case, settings)
    outgoing = []
    if not decisions:
        return outgoing
    final = decisions[-1].case.deadlines
    kept = one_per_party([n for d in decisions for n in d.notifications])
    snapshots = {id(n): d.case for d in decisions for n in d.notifications}
    for notification, carried in _fold(kept):
        snapshot = snapshots[id(notification)]
        recipient = _recipient(session, notification, case, snapshot, view, settings)
        if recipient is None:
            continue  # no merchant, mediator or operator address: the event log has it
        key = f"{_writer(notification.to)}.{notification.template}"
        language, zone = recipient.language, recipient.zone
        filled = view.values(language, zone, notification.params, recipient.role)
        filled["deadline"] = _deadline(key, notification.params, final, language, zone)
        for block in carried:
            values = view.values(language, zone, block.params, recipient.role)
            filled[block.template] = templates.render_block(block.template, language, values)
        role = recipient.role
        replying = mail if role is not None and role is sender_role else None
        attached, attached_from = (), None
        if templates.uses(key, "attachments"):
            attached, attached_from = view.attached, case.complaint_mail_id
        elif mail and sender_role and replying is None and _forwards(key, notification, mail):
            # A party's message to another: what it attached goes with it.
            planned = enclose(mail.attachments, settings.attachments)
            reader = "mediator" if role is Role.MEDIATOR else "party"
            listed = templates.attachment_list(
                planned, settings.attachments, language, reader, str(sender_role)
            )
            if listed:
                filled["message_text"] = f"{filled['message_text']}\n\n{listed}"
            attached = tuple(a for a, how in planned if how is Enclosure.ATTACHED)
            attached_from = mail.id if attached else None
        written = (key, recipient.to, language, filled, case, role, replying, settings)
        outgoing.append(compose(*written, attached, attached_from))
    return outgoing


def _forwards(key: str, notification: Notification, mail: IncomingMail) -> bool:
    """Whether mail `key` passes on the text of `mail` (a party's message, answer or
    proposal as its `message_text`), which has attachments to pass on with it."""
    return (
        bool(mail.attachments)
        and bool(notification.params.get("text"))
        and templates.uses(key, "message_text")
    )


def _writer(party: Party) -> str:
    """The party whose templates a notification to `party` uses: a former mediator's
    are the mediator's (`workflow.template_names`)."""
    return str(Party.MEDIATOR if party is Party.FORMER_MEDIATOR else party)


def _deadline(
    key: str,
    params: Mapping[str, object],
    final: Mapping[Deadline, object],
    language: str,
    zone: str,
) -> str:
    """The deadline mail `key` states: as the whole act left it (two commands in one
    mediator's mail), else as its own decision did (a closing clears every deadline)."""
    shown = DEADLINE_SHOWN.get(key, (Deadline.MEDIATION_END,))
    due = next((final[k] for k in shown if k in final), None)
    if due is None:
        due = next((params[k] for k in map(str, shown) if k in params), None)
    return templates.format_moment(due, language, zone)  # type: ignore[arg-type]


def _fold(
    notifications: Sequence[Notification],
) -> list[tuple[Notification, tuple[Notification, ...]]]:
    """One mail per party and act: each notification with those that travel inside it
    (`workflow.FOLDED`: the rating request in the closing notice, the mediator's message
    in its proposal). A folded notice whose party gets no other mail with room for it
    (the block ``${NAME}`` in the template, in both languages alike) is a mail of its own."""
    carried: dict[int, list[Notification]] = {id(n): [] for n in notifications}
    folded: set[int] = set()
    for notification in notifications:
        if notification.template not in FOLDED:
            continue
        host = next(
            (
                other
                for other in notifications
                if other.to is notification.to
                and other.template not in FOLDED
                and templates.uses(f"{_writer(other.to)}.{other.template}", notification.template)
            ),
            None,
        )
        if host is not None:
            carried[id(host)].append(notification)
            folded.add(id(notification))
    return [(n, tuple(carried[id(n)])) for n in notifications if id(n) not in folded]


@dataclass(frozen=True)
class Addressee:
    """Who a notification of a case goes to, and how it is written for them."""

    to: str
    role: Role | None
    """Their role in the case (None: the operator), whose case address is the Reply-To."""
    language: str
    zone: str
    """The time zone its moments are shown in."""


def _recipient(
    session: Session,
    notification: Notification,
    case: Case,
    snapshot: CaseSnapshot,
    view: CaseView,
    settings: Settings,
) -> Addressee | None:
    """Address, role, language and time zone of the party `notification` goes to."""
    match notification.to:
        case Party.CUSTOMER:
            return Addressee(view.customer.address, Role.CUSTOMER, case.language, settings.timezone)
        case Party.MERCHANT:
            merchant = view.merchant
            if merchant is None or not merchant.support_addresses:
                return None
            zone = merchant.timezone or settings.calendar.timezone
            return Addressee(merchant.support_addresses[0], Role.MERCHANT, merchant.language, zone)
        case Party.MEDIATOR:
            if not snapshot.mediator:
                return None
            language = mediator_language(session, snapshot.mediator, settings)
            return Addressee(snapshot.mediator, Role.MEDIATOR, language, settings.timezone)
        case Party.FORMER_MEDIATOR:
            # No Reply-To: its case address no longer acts for it.
            former = str(notification.params.get("previous") or "")
            if not former:
                return None
            language = mediator_language(session, former, settings)
            return Addressee(former, None, language, settings.timezone)
    if not settings.operator_address:
        return None
    return Addressee(settings.operator_address, None, settings.default_language, settings.timezone)


def mediator_language(session: Session, address: str, settings: Settings) -> str:
    """The language of every mail to the mediator `address`: its record's, else the
    operator's default (a mediator only in the configured seed). One read of the
    records per unit of work (`mediator_store.records`)."""
    return settings.language(mediator_store.language(session, address))


def compose(
    key: str,
    to: str,
    language: str,
    values: Mapping[str, str],
    case: Case,
    role: Role | None,
    replying: IncomingMail | None,
    settings: Settings,
    attachments: tuple[Attachment, ...] = (),
    attachments_from: int | None = None,
) -> OutgoingMail:
    """One rendered mail; `replying` is the mail it answers, when it goes to its sender;
    `attachments` are those of the stored mail `attachments_from` (the complaint, or a
    party's message) it carries.

    Every mail about a case is rendered here, and what a party wrote reaches it only as
    a value (the complaint, a message, the case file, a subject, a display name): each
    value is passed without the case addresses in it (`addresses.mask_case_addresses`),
    the keys to act for a party, which a party may paste, its own or another's. Our own
    case address goes in Reply-To, never into the text."""
    removed = _CASE_ADDRESS_REMOVED[language]
    values = {name: mask_case_addresses(value, removed) for name, value in values.items()}
    rendered = templates.render(key, language, values)
    reply_to = case_address(settings.secret, settings.domain, case.ref, role) if role else None
    return OutgoingMail(
        to=to,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        kind=key,
        language=language,
        case_ref=case.ref,
        reply_to=reply_to,
        in_reply_to=replying.message_id if replying else None,
        references=_thread(replying) if replying else (),
        # RFC 3834: an answer to the sender is "auto-replied"; the rest "auto-generated".
        auto_reply=replying is not None,
        in_reply_to_mail=replying.id if replying else None,
        answers_machine_mail=bool(replying and replying.machine),
        attachments_from=attachments_from if attachments else None,
        attachments=attachments,
    )


def _thread(mail: IncomingMail) -> tuple[str, ...]:
    """The References of an answer: the answered mail's, then its own id (RFC 5322)."""
    own = (mail.message_id,) if mail.message_id else ()
    return tuple(dict.fromkeys((*mail.references, *own)))[-20:]


@dataclass(frozen=True)
class CaseView:
    """What every template of one case may say, loaded once per handled mail."""

    case: Case
    customer: Customer
    merchant: Merchant | None
    events: tuple[CaseEvent, ...]
    settings: Settings

    @classmethod
    def load(cls, session: Session, case: Case, settings: Settings) -> CaseView:
        customer = storage.customer_of(session, case)
        merchant = storage.merchant_of(session, case)
        events = tuple(storage.events_of(session, case.id))  # type: ignore[arg-type]
        return cls(case, customer, merchant, events, settings)

    @cached_property
    def enclosed(self) -> tuple[tuple[Attachment, Enclosure], ...]:
        """What a forward of the complaint does with each of its attachments (as its
        ``ComplaintReceived`` recorded them; none for a case without a stored complaint)."""
        complaint = next((e for e in self.events if e.kind == "ComplaintReceived"), None)
        if complaint is None or self.case.complaint_mail_id is None:
            return ()
        listed = complaint.data.get("attachments") or ()
        attachments = [Attachment.from_json(entry) for entry in listed]
        return enclose(attachments, self.settings.attachments)

    @property
    def attached(self) -> tuple[Attachment, ...]:
        """The complaint's attachments that a forward of it carries."""
        return tuple(a for a, how in self.enclosed if how is Enclosure.ATTACHED)

    def _complaint_text(self, complaint: CaseEvent | None, language: str) -> str:
        """The complaint quoted, and below it what the customer added when asked which
        shop it is about (the order number that answer gave, say), whether the answer
        named a registered shop or the operator assigned one after it."""
        if complaint is None:
            return ""
        text = _quoted(complaint.data.get("text"), language, complaint.data.get("text_chars"))
        for event in self.events:
            added = event.data.get("text")
            answered = event.kind in ("MerchantIdentified", "CustomerWrote")
            asked = event.state_before == State.NEEDS_MERCHANT
            if answered and asked and event.actor == Role.CUSTOMER and added:
                text += f"\n\n{_ADDED_BY_CUSTOMER[language]}\n{_quoted(added, language)}"
        return text

    def values(
        self,
        language: str,
        zone: str,
        params: Mapping[str, object],
        to: Role | None = None,
    ) -> dict[str, str]:
        """Every parameter of `templates.PARAMETERS`, in `language` and time zone `zone`,
        for a mail to the case's `to` (None: the operator or a former mediator)."""
        case, events = self.case, self.events
        complaint = next((e for e in events if e.kind == "ComplaintReceived"), None)
        proposal = next((e for e in reversed(events) if e.kind == "ProposalMade"), None)
        text, role = params.get("text"), params.get("role")
        merchant_name = self.merchant.name if self.merchant else _UNKNOWN_MERCHANT[language]
        customer = self.customer
        customer_name = templates.person_name(customer.name, customer.address) or customer.address
        greeted = customer.name if to is Role.CUSTOMER else None
        names = {"customer": customer_name, "merchant": merchant_name}
        mediating = params.get("state") in (State.IN_MEDIATION, State.PROPOSAL_PENDING)
        awaits_answer = params.get("state") == State.PROPOSAL_PENDING and (
            str(to) not in case.proposal_accepted_by
        )
        answer_due = params.get(Deadline.PROPOSAL_ANSWER)
        complaints = complaint_address(self.settings.domain)
        return {
            "ref": case.ref,
            "merchant_name": merchant_name,
            "customer_name": customer_name,
            "customer_address": self.customer.address,
            "mediator_address": case.mediator or "",
            "sender_address": "",
            "subject": case.subject or _CASE_WITHOUT_SUBJECT[language],
            "complaint_text": self._complaint_text(complaint, language),
            "message_text": _quoted(text, language),
            "proposal_text": _quoted(proposal.data.get("text") if proposal else "", language),
            "party": templates.party_label(str(role), language) if role else "",
            "party_name": names.get(str(role), "") if role else "",
            "reason": str(params.get("reason", "")),
            "forwarded_to": templates.forwarded_to(to, mediating, names, language),
            "previous_mediator": str(params.get("previous", "")),
            "quoted_words": templates.their_words(
                names.get(str(role), customer_name) if role else customer_name, text, language
            ),
            "sender_name": "",
            "mail_subject": "",
            "mail_text": "",
            "greeting": templates.greeting(greeted, customer.address, language),
            "customer_mailbox": templates.mailbox(customer.name, customer.address),
            "sender_mailbox": "",
            "attachments": templates.attachment_list(
                self.enclosed, self.settings.attachments, language, str(to)
            ),
            "days": str(params.get("days", "")),
            "deadline": templates.format_moment(None, language, zone),
            "case_file": _history(events, language, zone),
            "complaint_address": complaints,
            "problems": "",
            "rating_summary": rating_store.summary(params, language),
            "rating_help": "",
            "about_case": templates.about_case(case.ref, language),
            "held_reason": "",
            "stated_reason": templates.stated_reason(params.get("reason"), language),
            "also_named": templates.also_named(
                tuple(params.get("also_named") or ()),  # type: ignore[arg-type]
                self.merchant.name if self.merchant else None,
                complaints,
                language,
            ),
            "bounced_recipient": "",
            "bounced_mail": "",
            "bounce_reason": "",
            "next_step": "",
            "what_now": templates.what_now(
                to,
                awaits_answer,
                templates.format_moment(answer_due, language, zone),  # type: ignore[arg-type]
                language,
            ),
            "uncounted_verdict": templates.uncounted_verdict(
                params.get("uncounted_verdict"), to, language
            ),
            "rating_request": "",  # blocks: filled when the mail carries one
            "mediator_message": "",
            "rating_link": rating_links.url(
                self.settings.secret,
                self.settings.web_url,
                case.ref,
                case.customer_id,
                case.closed_at,
                self.settings.rating_link_days,
            ),
        }


def _quoted(text: object, language: str, whole_chars: object = 0) -> str:
    """`text` quoted, cut at MAX_QUOTED_CHARS with a line that says so (`whole_chars`: the
    length of the text it was cut from before it was stored)."""
    if not text:
        return ""
    text = str(text)
    length = max(len(text), int(whole_chars or 0))
    quoted = templates.quote(text[:MAX_QUOTED_CHARS])
    if length <= MAX_QUOTED_CHARS:
        return quoted
    return f"{quoted}\n\n{_SHORTENED[language].format(templates.format_count(length, language))}"


def _history(events: Sequence[CaseEvent], language: str, zone: str) -> str:
    """The case's timeline as text, for the mediator's case file."""
    lines = []
    for event in events:
        if event.kind in ("ComplaintReceived", "FirstReplyMeasured", "MediatorNoted"):
            continue  # the complaint is shown above it; notes stay internal
        moment = templates.format_moment(event.at, language, zone)
        who = templates.party_label(event.actor, language)
        # A reply with only the quote or an attachment is not told as an answer.
        empty = event.kind == "MerchantReplied" and event.data.get("substantive") is False
        label = templates.event_label(f"{event.kind}.empty" if empty else event.kind, language)
        lines.append(f"- {moment}: {label} ({who})")
        if event.data.get("text"):
            lines.append(templates.quote(str(event.data["text"])[:2000]))
    return "\n".join(lines) or "-"


def to_sender(
    key: str,
    mail: IncomingMail,
    ref: str | None,
    language: str,
    settings: Settings,
    extra: Mapping[str, str] | None = None,
    reply_to: str | None = None,
) -> OutgoingMail:
    """A notice answering `mail` to its sender: why it did not act and what to do
    instead (`sender.*`), or a thanks outside any case (`ref` None)."""
    assert mail.sender
    values = dict.fromkeys(templates.PARAMETERS, "") | {
        "ref": ref or "",
        "sender_address": mail.sender,
        "complaint_address": complaint_address(settings.domain),
    }
    values |= dict(extra or {})
    rendered = templates.render(key, language, values)
    return OutgoingMail(
        to=mail.sender,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        kind=key,
        language=language,
        case_ref=ref,
        in_reply_to=mail.message_id,
        references=_thread(mail),
        reply_to=reply_to,
        auto_reply=True,
        in_reply_to_mail=mail.id,
    )


def to_operator(
    mail: IncomingMail, ref: str | None, reason: HeldReason, settings: Settings
) -> OutgoingMail | None:
    """A person's mail to one of our operator addresses (``service@``, named in our
    mails as the address to answer), passed on to the operator's mailbox in the
    operator's language, with the case it names (if any) and what became of it (`reason`,
    as a sentence); its Reply-To is the writer, so that answering reaches them. None
    without an operator address."""
    if not settings.operator_address or not mail.sender:
        return None
    language = settings.default_language
    values = dict.fromkeys(templates.PARAMETERS, "") | {
        "ref": ref or "",
        "about_case": templates.about_case(ref, language),
        "sender_address": mail.sender,
        "sender_name": templates.person_name(mail.sender_name, mail.sender) or mail.sender,
        "sender_mailbox": templates.mailbox(mail.sender_name, mail.sender),
        "mail_subject": mail.subject or _NO_SUBJECT[language],
        "mail_text": _quoted(mail.text, language) or "> " + _NO_SUBJECT[language],
        "held_reason": templates.held_text(reason, language),
        "complaint_address": complaint_address(settings.domain),
    }
    rendered = templates.render("operator.forwarded_mail", language, values)
    return OutgoingMail(
        to=settings.operator_address,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        kind="operator.forwarded_mail",
        language=language,
        case_ref=ref,
        reply_to=mail.sender,
        in_reply_to=mail.message_id,
        references=_thread(mail),
        in_reply_to_mail=mail.id,
    )


def bounce_to_operator(
    session: Session, case: Case, bounced: BouncedMail, situation: str, settings: Settings
) -> OutgoingMail | None:
    """The operator's notice that `bounced` came back undelivered, in the operator's
    language: the case, the recipient (with its role), the mail (subject, template and
    outbox row), the report's reason in one line, and what to do about it in
    `situation` (`templates.BOUNCE_STEPS`). None without an operator address."""
    if not settings.operator_address:
        return None
    language = settings.default_language
    view = CaseView.load(session, case, settings)
    values = view.values(language, settings.timezone, {"state": case.state})
    role = bounced.kind.partition(".")[0]
    names = {
        "customer": view.customer.name,
        "merchant": view.merchant.name if view.merchant else None,
    }
    merchant = view.merchant
    step = {
        "slug": merchant.slug if merchant else "SLUG",
        "ref": case.ref,
        "address": bounced.to,
        "current": ", ".join(merchant.support_addresses) if merchant else "",
    }
    values |= {
        "party": templates.party_label(role, language),
        "bounced_recipient": templates.mailbox(names.get(role), bounced.to),
        "bounced_mail": f'"{bounced.subject}" ({bounced.kind}; siegel outbox show '
        f"{bounced.outbox_id})",
        "bounce_reason": bounced.reason or "-",
        "next_step": templates.bounce_step(situation, language, step),
    }
    return compose(
        "operator.mail_bounced", settings.operator_address, language, values, case, None, None,
        settings,
    )  # fmt: skip
