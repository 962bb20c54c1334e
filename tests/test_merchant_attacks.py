"""The pure rules behind the fixes of tests/test_merchant_attacks_e2e.py, and the
exclusion of a merchant's own cases from its figures on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from mailflow.db import session_scope
from mediation import figure_store
from mediation.addresses import Role, case_address, mask_case_addresses, parse_recipient
from mediation.business_time import BusinessCalendar
from mediation.deadline_policy import Policy
from mediation.events import MerchantReplied, MerchantWrote
from mediation.incoming import substantive, words
from mediation.rating_store import Rating
from mediation.routing import of_merchant
from mediation.storage import Case, Customer, Merchant
from mediation.workflow import CaseSnapshot, Deadline, Party, State, decide
from tests.cpu_time import cpu_seconds

SECRET = b"s" * 32
AT = datetime(2026, 11, 26, 3, 30, tzinfo=UTC)
NOW = datetime(2026, 11, 19, 9, tzinfo=UTC)

# ------------------------------------------------------------------ whose address


@pytest.mark.parametrize(
    ("address", "own"),
    [
        ("support@moebel-fuchs.example", True),  # its registered address
        ("Support@Moebel-Fuchs.Example", True),
        ("kunde1@moebel-fuchs.example", True),  # at its domain
        ("x@mail.lager.moebel-fuchs.example", True),  # at a subdomain
        ("hallo@fuchs-freemail.example", True),  # its other registered address
        ("kunde@fuchs-freemail.example", False),  # the provider of that address: not its
        ("kunde@evil-moebel-fuchs.example", False),
        ("kunde@moebel-fuchs.example.org", False),
        ("moebel-fuchs.example@example.org", False),
        ("Hallo+Werbung@Fuchs-Freemail.example", True),  # its address with a +tag
        ("kunde+hallo@fuchs-freemail.example", False),
        ("verkauf@möbel-füchs.example", True),  # its IDN domain in Unicode
        ("verkauf@lager.xn--mbel-fchs-07a5e.example", True),  # ... and in ASCII
        ("", False),
        (None, False),
    ],
)
def test_an_address_is_the_shops_by_its_addresses_and_domains_only(
    address: str | None, own: bool
) -> None:
    """The shop's own addresses: those registered, and any at a registered domain or a
    subdomain of one; never by the domain of a registered address alone."""
    registered = ("support@moebel-fuchs.example", "hallo@fuchs-freemail.example")
    domains = ("moebel-fuchs.example", "xn--mbel-fchs-07a5e.example")
    assert of_merchant(address, registered, domains) is own


# ------------------------------------------------------------------ a substantive reply


@pytest.mark.parametrize(
    ("text", "counted"),
    [
        ("x", 0),
        (".", 0),
        ("👍", 0),
        ("88123", 0),
        ("ok", 0),
        ("Danke", 0),
        ("Vielen Dank!", 0),
        ("Thanks", 0),
        ("Thank you very much!", 0),
        ("Hallo, vielen lieben Dank, viele Grüße", 0),
        ("asdfgh", 1),
        ("Paket unterwegs", 2),
        ("Wir erstatten den Kaufpreis.", 4),
        ("Danke, wir erstatten 899 Euro.", 3),
        ("We will refund you.", 3),
        # A salutation and a signature say nothing; only what stands between them counts.
        ("Hallo Frau Muster,\n\nMit freundlichen Grüßen\nThomas Meier", 0),
        ("Mit freundlichen Grüßen\nIhr Möbel Fuchs Kundenservice-Team", 0),
        ("Hallo,\n\nBeste Grüße\nThomas Meier\nTel. 0511 123456", 0),
        ("Hi,\n\nKind regards,\nJohn Smith\nCustomer Service\nMöbel Fuchs", 0),
        ("Danke und mit freundlichen Grüßen\nIhr Team", 0),
        ("Thank you and have a nice day!", 0),
        ("Hallo Frau Muster,\nwir haben die Erstattung veranlasst.\nVG\nThomas Meier", 5),
        ("Dear Ms Muster,\nwe sent a replacement today.\nBest,\nJohn Smith", 4),
        ("Guten Tag, die Ware ist unterwegs.\nViele Grüße", 4),
    ],
)
def test_a_reply_is_substantive_with_enough_words_besides_thanks(text: str, counted: int) -> None:
    """A word has two letters or more; thanks and greetings are no words of substance;
    three of substance make a reply substantive by default."""
    assert substantive(text, counted) and not substantive(text, counted + 1)
    assert substantive(text, Policy().substantive_reply_words) is (counted >= 3)


@pytest.mark.parametrize(
    ("text", "answers"),
    [
        ("Wir kümmern uns darum.", False),
        ("Ok, wir melden uns zeitnah.", False),
        ("Danke für die Info. Wir prüfen das.", False),
        ("Hallo Frau Muster,\nwir schauen uns das an!\nViele Grüße\nThomas Meier", False),
        ("Thanks, we'll look into it.", False),
        ("I will get back to you as soon as possible.", False),
        ("Wir kümmern uns darum und schicken heute Ersatz.", True),
        ("Wir prüfen das und melden uns bis Freitag mit einem Termin.", True),
        ("We'll look into it: the parcel was returned to us on Monday.", True),
        # A company footer answers nothing (a black-box merchant's "Ok." stopped its clock).
        (
            "Ok.\n\nThomas Fuchs | Möbel Fuchs GmbH | Geschäftsführer Thomas Fuchs | "
            "Amtsgericht Hannover HRB 12345",
            False,
        ),
        ("Ok, danke.\nMöbel Fuchs GmbH · Hauptstr. 1 · 30159 Hannover · Tel. 0511 1234", False),
        ("Ok.\n\nGartenwelt Schneider GmbH\nHauptstraße 5\n12345 Berlin", False),
        # A sentence naming the register words answers (a review's examples).
        ("We will refund the full price including VAT.", True),
        ("Our managing director approved a full refund.", True),
        ("Wir erstatten den Kaufpreis bis Freitag.\nMöbel Fuchs GmbH | Hannover | HRB 1", True),
        # Nor is the shop's name under a promise (a black-box run's clocks stopped so).
        ("Danke, wir prüfen.\n\nGartenwelt Schneider", False),
        ("Thanks, we're looking into it.\n\nMaple & Finch Customer Care", False),
        ("Danke, wir prüfen.\n\nIhr Team von Möbel Fuchs\nThomas Meier", False),
        ("Wir erstatten den Kaufpreis.\n\nGartenwelt Schneider", True),
        # A terse note of absence without automatic headers (a review's examples).
        ("In der Mittagspause.", False),
        ("Bin gerade nicht am Schreibtisch.", False),
        ("Out to lunch, back at 2pm.", False),
        ("Im Urlaub bis 14.12.", False),
        ("Im Urlaub bis 14.12. Die Erstattung ist aber raus.", True),
        ("I was on vacation, your refund was sent today.", True),
    ],
)
def test_a_promise_to_answer_alone_is_no_answer(text: str, answers: bool) -> None:
    """A merchant who only promises to look into it has not answered: the clock runs on
    (the mail is a message, forwarded and the merchant told); one fact more answers."""
    assert substantive(text, 3) is answers


def test_a_word_has_at_least_two_letters() -> None:
    assert words("x . 88123 B2B ok Möbel-Fuchs") == ["b2b", "ok", "möbel", "fuchs"]


def test_the_words_a_reply_needs_are_at_least_one() -> None:
    with pytest.raises(ValueError, match="substantive_reply_words"):
        Policy(substantive_reply_words=0)


def _awaiting(state: State) -> CaseSnapshot:
    return CaseSnapshot(
        ref="SSG-2026-000123",
        calendar=BusinessCalendar(),
        state=state,
        merchant="shop-a",
        mediator="schlichter@siegel.test" if state is State.IN_MEDIATION else None,
        deadlines={Deadline.MERCHANT_REPLY: NOW + timedelta(days=2)},
        merchant_given_at=NOW - timedelta(hours=3),
    )


def test_a_few_words_are_forwarded_and_the_merchant_told_while_its_clock_runs() -> None:
    """`MerchantWrote` while the case waits for the merchant: the same state and
    deadlines, no first reply measured; the customer reads it, the merchant is told."""
    case = _awaiting(State.AWAITING_MERCHANT)
    decision = decide(case, MerchantWrote("Danke"), Policy(), NOW)
    assert decision.case == case and decision.first_reply is None
    assert [(n.to, n.template) for n in decision.notifications] == [
        (Party.CUSTOMER, "merchant_short_message"),
        (Party.MERCHANT, "reply_not_substantive"),
    ]
    assert decision.notifications[0].params["text"] == "Danke"


def test_a_reply_without_a_word_of_its_own_is_kept_and_the_merchant_told() -> None:
    """Only the quote (or an attachment) while the case waits for the merchant: the same
    state and deadlines, nothing measured, nothing to the customer; the merchant is told
    its mail had no text and its deadline still runs."""
    case = _awaiting(State.AWAITING_MERCHANT)
    decision = decide(case, MerchantReplied(substantive=False, text="."), Policy(), NOW)
    assert decision.case == case and decision.first_reply is None
    assert [(n.to, n.template) for n in decision.notifications] == [
        (Party.MERCHANT, "reply_without_text")
    ]


@pytest.mark.parametrize(
    ("state", "to"),
    [(State.AWAITING_CUSTOMER, Party.CUSTOMER), (State.IN_MEDIATION, Party.MEDIATOR)],
)
def test_a_few_words_later_are_a_message_like_any(state: State, to: Party) -> None:
    """Once the clock stopped (or the case is in mediation), a few words are forwarded
    as the merchant's message, and measure nothing."""
    case = _awaiting(state)
    decision = decide(case, MerchantWrote("ok"), Policy(), NOW)
    assert decision.state is state and decision.first_reply is None
    assert [(n.to, n.template) for n in decision.notifications] == [
        (to, "merchant_message"),
        (Party.MERCHANT, "message_forwarded"),
    ]


# ------------------------------------------------------------------ case addresses in text


def test_every_case_address_in_a_text_is_masked_whatever_its_case_and_form() -> None:
    """Any case and role, any letter case, either separator or a URL-encoded "+", with
    or without its domain, even with an altered token; a reference alone stays."""
    customer = case_address(SECRET, "siegel.localhost", "SSG-2026-000001", Role.CUSTOMER)
    merchant = case_address(SECRET, "siegel.localhost", "SSG-2025-004711", Role.MERCHANT)
    assert parse_recipient(SECRET, "siegel.localhost", customer).role is Role.CUSTOMER
    local = customer.partition("@")[0]
    text = (
        f"Meine Adresse fuer den Fall ist {customer}.\n"
        f"Die des Shops: <{merchant.upper()}>, mailto:{customer.replace('+', '%2B')}\n"
        f"Ohne Domain: {local.replace('+', '.')}, verändert: {local}x@siegel.localhost\n"
        "Fall SSG-2026-000001 bleibt, ebenso fall@example.org."
    )
    masked = mask_case_addresses(text, "[X]")
    assert masked == (
        "Meine Adresse fuer den Fall ist [X].\n"
        "Die des Shops: <[X]>, mailto:[X]\n"
        "Ohne Domain: [X], verändert: [X]\n"
        "Fall SSG-2026-000001 bleibt, ebenso fall@example.org."
    )


# ------------------------------------------------------------------ figures


def test_own_cases_are_those_whose_customer_is_the_cases_merchant(engine: Engine) -> None:
    """A case counts as the shop's own when its customer is one of the shop's registered
    addresses or at one of its domains: not a case of another shop's address, nor one
    at the provider of a registered address. The same found for all merchants or one;
    the figures leave them out, ratings included."""
    with session_scope(engine) as session:
        fuchs = _merchant(session, "fuchs", ["hallo@freemail.test"], ["fuchs.test"])
        tasse = _merchant(session, "tasse", ["tee@tasse.test"], [])
        customers = {
            address: _customer(session, address)
            for address in (
                "hallo@freemail.test",
                "kunde@lager.fuchs.test",
                "kunde@freemail.test",
                "tee@tasse.test",
                "kunde@fuchs.test.example",
            )
        }
        own = {
            _case(session, 1, fuchs, customers["hallo@freemail.test"]),
            _case(session, 2, fuchs, customers["kunde@lager.fuchs.test"]),
            _case(session, 3, tasse, customers["tee@tasse.test"]),
        }
        others = {
            _case(session, 4, fuchs, customers["kunde@freemail.test"]),
            _case(session, 5, fuchs, customers["tee@tasse.test"]),  # a shop as a customer
            _case(session, 6, tasse, customers["kunde@lager.fuchs.test"]),
            _case(session, 7, fuchs, customers["kunde@fuchs.test.example"]),
        }
        for case_id, merchant_id in [*own, *others]:
            session.add(Rating(case_id=case_id, merchant_id=merchant_id, service=5,
                               reachability=5, reaction_time=5, received_at=AT))  # fmt: skip
    with Session(engine) as session:
        assert figure_store.own_cases(session) == {case_id for case_id, _ in own}
        assert figure_store.own_cases(session, [fuchs]) == {c for c, m in own if m == fuchs}
        found = {a.merchant: a for a in figure_store.aggregates(session, AT, 12)}
        assert (found["fuchs"].cases, found["fuchs"].ratings) == (3, 3)
        assert (found["tasse"].cases, found["tasse"].ratings) == (1, 1)
        [alone] = figure_store.aggregates(session, AT, 12, [fuchs])
        assert dataclasses.asdict(alone) == dataclasses.asdict(found["fuchs"])
        distribution = figure_store.rating_distribution(session, fuchs, AT, 12)
        assert distribution["service"] == [0, 0, 0, 0, 3]


def _merchant(session: Session, slug: str, addresses: list[str], domains: list[str]) -> int:
    merchant = Merchant(
        slug=slug, name=slug, support_addresses=addresses, domains=domains, created_at=AT
    )
    session.add(merchant)
    session.flush()
    return merchant.id  # type: ignore[return-value]


def _customer(session: Session, address: str) -> int:
    customer = Customer(address=address, created_at=AT)
    session.add(customer)
    session.flush()
    return customer.id  # type: ignore[return-value]


def _case(session: Session, number: int, merchant_id: int, customer_id: int) -> tuple[int, int]:
    opened = AT - timedelta(days=30)
    case = Case(
        ref=f"SSG-2026-{number:06d}",
        state=State.CLOSED_RESOLVED,
        merchant_id=merchant_id,
        customer_id=customer_id,
        opened_at=opened,
        updated_at=opened,
        closed_at=opened + timedelta(days=1),
    )
    session.add(case)
    session.flush()
    return case.id, merchant_id  # type: ignore[return-value]


def test_a_long_line_is_read_in_linear_time() -> None:
    """A party's one-line mail of a megabyte (a review found the first footer pattern
    quadratic: 20 s for 60,000 characters inside the worker's transaction)."""
    small, large = "Wir pruefen " * 500, "Wir pruefen " * 5_000
    assert (
        cpu_seconds(lambda: substantive(large, 3))
        < 30 * cpu_seconds(lambda: substantive(small, 3)) + 0.05
    )
