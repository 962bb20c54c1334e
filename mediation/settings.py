"""What the case service needs from the configuration: `Settings`.

The shell builds one from config.toml (`mailflow.casework.settings`) and passes it to
every handler; nothing in the domain reads the configuration itself.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mediation.business_time import BusinessCalendar
from mediation.deadline_policy import Policy
from mediation.outgoing import LANGUAGES, AttachmentPolicy


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
    web_url: str = ""
    """The public web side's address (`[web] base_url`): the rating link in the mail
    that closes a case points there (`rating_links`); empty: no link."""
    rating_link_days: int = 60
    """How long that link is valid after the closing."""
    settlement_reply_days: int = 30
    """How long after a settlement the customer's words to its case go to the operator
    and the mediator (`case_ratings.settlement_reply`); 0: never, they are held."""
    praise_threshold: float = 0.5
    """How sure the category model must be that a mail to the complaint address is praise
    (`feedback.is_praise`): a complaint taken for praise gets no case at all."""
    max_cases_per_mail: int = 10
    """In how many cases one mail delivered to several case addresses acts at most; at
    the addresses of further cases it is held (`holds.too_many_cases`)."""
    max_messages_per_day: int = 20
    """A party's messages in one case passed on within 24 hours; more are held
    (`party_replies`), so that nobody floods another through our address."""
    attachments: AttachmentPolicy = dataclasses.field(default_factory=AttachmentPolicy)
    """What of a complaint's attachments its forward carries (`outgoing.enclose`)."""

    def language(self, language: str | None) -> str:
        """`language` where we write it, else the operator's default."""
        return language if language in LANGUAGES else self.default_language
