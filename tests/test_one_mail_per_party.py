"""One mail per party per event: every edge of the workflow table, and every mediator's
mail that says several things at once, gives each recipient at most one mail.

The table's decisions are rendered by `notices.for_decisions` against a real case on
SQLite, as the service renders them: a notice that travels inside another
(`workflow.FOLDED`: the rating request in the closing notice, the mediator's message in
the proposal, extension or closing it came with) is no mail of its own.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from mailflow import casework
from mailflow.config import Config
from mediation import notices, storage
from mediation.events import (
    DeadlineExtended,
    Event,
    MediationClosed,
    MediatorMessaged,
    MediatorNoted,
    ProposalMade,
)
from mediation.outgoing import OutgoingMail
from mediation.workflow import (
    MEDIATING,
    RATING,
    Decision,
    UnexpectedEvent,
    decide,
    transitions,
)
from tests.conftest import make_config
from tests.test_case_service import add_merchant, open_case
from tests.test_mediation_machine import NOW, POLICY, case_in, samples

MEDIATOR = "schlichter@siegel.localhost"
OPERATOR = "betreiber@siegel.test"
WORDS = "Bitte schicken Sie mir die Fotos bis Freitag."


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path, mediation={"mediators": [MEDIATOR], "operator": OPERATOR})


@pytest.fixture
def ref(sqlite_engine: Engine, config: Config) -> str:
    add_merchant(sqlite_engine)
    return open_case(sqlite_engine, config, 1)


def rendered(
    engine: Engine, config: Config, ref: str, decisions: Sequence[Decision]
) -> list[OutgoingMail]:
    with Session(engine) as session:
        case = storage.load_case(session, ref)
        assert case is not None
        return notices.for_decisions(
            session, case, decisions, None, None, casework.settings(config)
        )


def recipients(mails: Sequence[OutgoingMail]) -> Counter[str]:
    return Counter(mail.to for mail in mails)


EDGES = [
    (state, event, facts, guard)
    for state, event_type, guard, _ in transitions()
    for event, facts, sample_guard in samples(event_type)
    if sample_guard == guard
]


def test_every_edge_gives_each_recipient_at_most_one_mail(
    sqlite_engine: Engine, config: Config, ref: str
) -> None:
    """Each (state, event, guard) of the table: its notifications as the service renders
    them reach every recipient once; a closing with a merchant carries the rating
    request inside the customer's closing notice."""
    walked = 0
    for state, event, facts, guard in EDGES:
        decision = decide(case_in(state, **facts), event, POLICY, NOW)
        mails = rendered(sqlite_engine, config, ref, [decision])
        twice = {to: n for to, n in recipients(mails).items() if n > 1}
        assert not twice, (state, type(event).__name__, guard, [m.kind for m in mails])
        asks = any(n.template == RATING.template for n in decision.notifications)
        rating = [m for m in mails if "Service (1-5):" in m.text]
        if asks:
            [closing] = rating
            assert closing.kind != "customer.rating_request" and closing.kind.startswith(
                "customer."
            )
        else:
            assert rating == [], (state, type(event).__name__)
        walked += 1
    assert walked >= len(list(transitions()))


COMMANDS: list[Event] = [
    ProposalMade("Der Shop erstattet 50 Euro."),
    DeadlineExtended(5),
    MediatorNoted("Telefonat mit dem Shop."),
    MediationClosed(resolved=True),
    MediationClosed(resolved=False),
]


def act(state: object, commands: Sequence[Event]) -> list[Decision] | None:
    """The decisions of a mediator's mail (its message, then `commands`) in `state`;
    None when the table holds it (a command after a closing)."""
    snapshot, decisions = case_in(state), []  # type: ignore[arg-type]
    try:
        for event in (MediatorMessaged(WORDS), *commands):
            decisions.append(decide(snapshot, event, POLICY, NOW))
            snapshot = decisions[-1].case
    except UnexpectedEvent:
        return None
    return decisions


MEDIATOR_MAILS = [
    (state, commands)
    for state in MEDIATING
    for size in (1, 2)
    for commands in itertools.permutations(COMMANDS, size)
    if act(state, commands) is not None
]


@pytest.mark.parametrize(
    ("state", "commands"),
    MEDIATOR_MAILS,
    ids=[f"{s}-{'+'.join(type(c).__name__ for c in cs)}" for s, cs in MEDIATOR_MAILS],
)
def test_a_mediators_message_with_commands_is_one_mail_per_party(
    sqlite_engine: Engine, config: Config, ref: str, state: object, commands: tuple[Event, ...]
) -> None:
    """A mediator's reply with a message and one or two commands (as `commands.parse`
    gives them: the message first): customer and merchant get one mail each, and that
    mail carries the mediator's words; the mediator gets one confirmation."""
    decisions = act(state, commands)
    assert decisions is not None
    mails = rendered(sqlite_engine, config, ref, decisions)
    assert max(recipients(mails).values()) == 1, [(m.to, m.kind) for m in mails]
    for mail in mails:
        if mail.kind.startswith(("customer.", "merchant.")):
            assert WORDS in mail.text, mail.kind
    assert len([m for m in mails if m.to == MEDIATOR]) == 1
