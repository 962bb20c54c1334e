"""SMTP and LMTP intake (aiosmtpd): store first, then say yes.

Recipients are checked at RCPT against the address scheme (`mediation.addresses`):
foreign domains and unknown or forged addresses are refused there with 550, so no
bounce of ours is ever needed for them. DATA answers 250 only after the spool
committed the raw bytes; a storage failure answers 451 and the sender retries.
Size is limited by aiosmtpd's `data_size_limit` (552, advertised in EHLO SIZE).
"""

from __future__ import annotations

import logging
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from mailflow.config import Config
from mailflow.spool import Arrival, Spool, SpoolError
from mediation import addresses

log = logging.getLogger("mailflow.intake")

OK = "250 2.1.5 OK"
RELAY_DENIED = "550 5.7.1 Relaying denied: this server accepts mail for {domain} only"
NO_SUCH_ADDRESS = "550 5.1.1 No such address here"
BAD_ADDRESS = "553 5.1.3 Bad recipient address syntax"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
NO_VALID_RECIPIENTS = "554 5.5.1 No valid recipients"
QUEUED = "250 2.0.0 OK: stored as mail {mail_id}"
DUPLICATE = "250 2.0.0 OK: already stored as mail {mail_id}"
TEMPORARY_FAILURE = "451 4.3.0 Could not store the mail now; please try again later"
IDENT = "Service-Siegel"


class IntakeHandler:
    """aiosmtpd handler: RCPT against the address scheme, DATA into the spool."""

    def __init__(self, spool: Spool, config: Config, lmtp: bool = False) -> None:
        self.spool = spool
        self.config = config
        self.lmtp = lmtp

    def check_recipient(self, address: str) -> str | None:
        """None if we accept mail for `address`, else the SMTP reply that refuses it."""
        try:
            addresses.parse_recipient(self.config.secret_bytes, self.config.siegel.domain, address)
        except addresses.AddressError as error:
            log.info("refused recipient %s: %s", addresses.redact(address), error)
            if error.foreign:
                return RELAY_DENIED.format(domain=self.config.siegel.domain)
            if "@" not in address:
                return BAD_ADDRESS
            return NO_SUCH_ADDRESS
        return None

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if len(envelope.rcpt_tos) >= self.config.smtp.max_recipients:
            return TOO_MANY_RECIPIENTS
        refusal = self.check_recipient(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if not envelope.rcpt_tos:
            return NO_VALID_RECIPIENTS
        raw = envelope.original_content or b""
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        arrival = Arrival(
            raw=raw,
            envelope_from=(envelope.mail_from or "").strip("<>"),
            envelope_to=tuple(envelope.rcpt_tos),
            source=f"{'lmtp' if self.lmtp else 'smtp'} from {peer}",
        )
        try:
            stored = await self.spool.put(arrival)
        except SpoolError:
            reply = TEMPORARY_FAILURE
        except Exception:
            log.exception("unexpected spool failure")
            reply = TEMPORARY_FAILURE
        else:
            template = DUPLICATE if stored.duplicate else QUEUED
            reply = template.format(mail_id=stored.mail_id)
        if self.lmtp:
            # RFC 2033 §4.2: one reply per accepted recipient after DATA.
            return "\r\n".join([reply] * len(envelope.rcpt_tos))
        return reply


class LmtpController(Controller):
    def factory(self) -> LMTP:
        return LMTP(self.handler, **self.SMTP_kwargs)


def make_controller(
    spool: Spool, config: Config, host: str | None = None, port: int | None = None
) -> Controller:
    """A threaded aiosmtpd controller for the configured mode; call `.start()`."""
    lmtp = config.smtp.mode == "lmtp"
    handler = IntakeHandler(spool, config, lmtp=lmtp)
    kwargs: dict[str, Any] = {
        "hostname": host or config.smtp.host,
        "port": port or config.smtp.port,
        "data_size_limit": config.smtp.max_message_bytes,
        "ident": IDENT,
        "server_hostname": config.siegel.domain,
    }
    cls = LmtpController if lmtp else Controller
    return cls(handler, **kwargs)
