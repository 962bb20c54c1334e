"""Which party's mail may accept or reject the pending proposal (`party_replies`)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from mediation.addresses import Role
from mediation.incoming import IncomingMail, RepliedTo
from mediation.party_replies import _answers_the_proposal
from mediation.storage import Case
from mediation.workflow import State

AT = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
ACCEPT = SimpleNamespace(intent="accept")


def mail(replied_to: RepliedTo | None) -> IncomingMail:
    return IncomingMail(id=1, received_at=AT, envelope_to=(), sender="k@example.org",
                        replied_to=replied_to)  # fmt: skip


def pending(accepted_by: tuple[str, ...] = ()) -> Case:
    return Case(ref="SSG-2026-000001", state=State.PROPOSAL_PENDING, customer_id=1,
                opened_at=AT, updated_at=AT, proposal_accepted_by=list(accepted_by))  # fmt: skip


@pytest.mark.parametrize(
    ("replied_to", "may"),
    [
        (None, True),  # a fresh mail to the case address
        (RepliedTo("customer.proposal"), True),
        (RepliedTo("customer.proposal_accepted"), True),  # the shop accepted: you too?
        # A newer proposal went out after it, even if its mail was written first.
        (
            RepliedTo("customer.proposal", ("customer.message_forwarded", "customer.proposal")),
            False,
        ),
        (RepliedTo("customer.mediator_message"), False),  # a yes to the mediator's question
    ],
)
def test_only_an_answer_to_the_pending_proposal_decides_it(
    replied_to: RepliedTo | None, may: bool
) -> None:
    assert _answers_the_proposal(pending(), Role.CUSTOMER, mail(replied_to), ACCEPT) is may  # type: ignore[arg-type]


def test_a_second_acceptance_decides_nothing() -> None:
    assert not _answers_the_proposal(pending(("customer",)), Role.CUSTOMER, mail(None), ACCEPT)  # type: ignore[arg-type]
