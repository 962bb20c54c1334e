"""The deadline policy of the case workflow: how long each party has for each step.

The defaults are those of PRODUCT.md. The service reads them from the ``[deadlines]``
section of config.toml, whose keys are the field names below.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    """How long each step of a case may take."""

    merchant_reply_business_days: int = 2
    """Business days (of the case's calendar) the merchant has for its first reply."""

    reminder_fraction: float = 0.75
    """Share of the merchant's deadline, measured in business hours, after which the
    merchant is reminded (0 < fraction < 1)."""

    customer_answer_days: int = 14
    """Calendar days the customer has to say whether the problem is solved (or to name
    the shop); silence closes the case as ``closed_no_response``."""

    proposal_answer_days: int = 7
    """Calendar days both parties have to accept or reject a mediator's proposal."""

    mediation_days: int = 90
    """Calendar days within which a mediation should conclude (the ADR rule for consumer
    disputes); after them the operator and the mediator are told."""

    substantive_reply_words: int = 3
    """Words of its own text that a merchant's reply needs to be substantive, the first
    one stopping the first-reply clock (`incoming.substantive`); a shorter reply is a
    message, forwarded, and the clock runs on."""

    business_calendar: str = "DE-NI"
    """Name of the default business calendar: ISO 3166 country code, optionally ``-`` and
    subdivision (``DE-NI`` is Lower Saxony, Germany). A merchant may have its own."""

    def __post_init__(self) -> None:
        for name in (
            "merchant_reply_business_days",
            "customer_answer_days",
            "proposal_answer_days",
            "mediation_days",
            "substantive_reply_words",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
        if not 0 < self.reminder_fraction < 1:
            raise ValueError(
                f"reminder_fraction must lie between 0 and 1, got {self.reminder_fraction!r}"
            )
        if not self.business_calendar:
            raise ValueError("business_calendar must name a calendar, e.g. DE-NI")
