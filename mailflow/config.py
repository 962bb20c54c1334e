"""Configuration: `config.toml` read into frozen dataclasses, with environment overrides.

The dataclass defaults are the documented defaults of `config.toml`. Every value is
checked on load; a wrong one raises `ConfigError` naming the key, which the CLI
prints as one line before it exits with status 2.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import re
import secrets
import stat
import tomllib
import typing
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path

from mailflow.db import tighten_file_mode
from mediation import addresses
from mediation.business_time import BusinessCalendar, opening_hours
from mediation.deadline_policy import Policy
from mediation.outgoing import WITHHELD_EXTENSIONS
from scoring import PolicyError, ScoringPolicy

log = logging.getLogger("mailflow.config")

ENV_CONFIG = "SIEGEL_CONFIG"
ENV_SECRET = "SIEGEL_SECRET"  # noqa: S105 - the variable name, not a secret
ENV_BADGE_SECRET = "SIEGEL_BADGE_SECRET"  # noqa: S105 - the variable name
ENV_OPERATOR_PASSWORD_HASH = "SIEGEL_OPERATOR_PASSWORD_HASH"  # noqa: S105 - the name
# The HMAC key of case and bounce addresses: at least 32 bytes of its UTF-8 text
# (256 bits if random; the generated one has 43 characters).
MIN_SECRET_BYTES = 32
SECRET_FILE = "secret"  # noqa: S105 - a file name in data_dir


class ConfigError(Exception):
    """A configuration value is missing, of the wrong type or out of range."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key


@dataclass(frozen=True)
class SiegelSection:
    domain: str = "siegel.localhost"
    secret: str = ""
    timezone: str = "Europe/Berlin"
    data_dir: str = "var"
    default_language: str = "de"


@dataclass(frozen=True)
class DatabaseSection:
    url: str = ""


@dataclass(frozen=True)
class SmtpSection:
    host: str = "127.0.0.1"
    port: int = 2525
    mode: str = "smtp"
    max_message_bytes: int = 25 * 1024 * 1024
    max_recipients: int = 100
    max_connections: int = 200
    max_connections_per_client: int = 25
    idle_timeout_seconds: float = 30.0
    max_session_seconds: float = 900.0
    """A session, however busy, ends after this long with 421 (a client sending a line
    now and then must not hold its place for ever); it is never cut while we store."""


@dataclass(frozen=True)
class RelaySection:
    host: str = "127.0.0.1"
    port: int = 25
    starttls: bool = False
    username: str = ""
    password: str = ""
    retry_base_seconds: float = 60.0
    max_backoff_seconds: float = 3600.0
    max_attempts: int = 20
    timeout_seconds: float = 30.0
    maildir: str = ""
    """Deliver into this local Maildir (one per recipient below it) instead of through
    host:port: the demo's relay, which a mail client can open. Empty: SMTP."""


@dataclass(frozen=True)
class OutboxSection:
    max_autoreplies_per_day: int = 10
    max_staff_mails_per_day: int = 200
    """The same cap for automatic answers to our own mediators and operator (mediator.*,
    operator.*): they work many cases a day, and each act of theirs is confirmed."""
    # What of a complaint's attachments its forward carries (mediation.outgoing.enclose).
    max_attachments: int = 10
    max_attachment_bytes: int = 7 * 1024 * 1024
    withheld_extensions: tuple[str, ...] = WITHHELD_EXTENSIONS


@dataclass(frozen=True)
class DkimSection:
    """DKIM signing by the relay (`mailflow.signing`); no key file: nothing is signed."""

    selector: str = ""
    domain: str = ""  # the signing domain d=; empty: [siegel] domain
    private_key_file: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.private_key_file)


@dataclass(frozen=True)
class QueueSection:
    max_attempts: int = 3
    lease_seconds: float = 300.0
    poll_seconds: float = 1.0
    batch_size: int = 64
    batch_transaction_ms: float = 250.0
    analysis_process: bool = True


@dataclass(frozen=True)
class ImapAccount:
    host: str = ""
    port: int = 993
    ssl: bool = True
    username: str = ""
    password: str = ""
    folder: str = "INBOX"
    processed_folder: str = "Siegel/Processed"
    quarantine_folder: str = "Siegel/Quarantine"
    poll_seconds: float = 60.0
    idle_seconds: float = 300.0
    address: str = ""
    """The address of ours this mailbox receives (a mail without Delivered-To was sent
    to it); default: `username`, when that is such an address."""

    @property
    def mailbox_address(self) -> str:
        return self.address or self.username


@dataclass(frozen=True)
class ClassifierSection:
    """How sure the classifier's models must be before what they read acts."""

    # `classifier.DEFAULT_PROPOSAL_THRESHOLD` and `DEFAULT_SOLVED_THRESHOLD`, written
    # out: importing the classifier's models here would load numpy into every command.
    proposal_threshold: float = 0.9
    """The intent model alone accepts or rejects a mediator's proposal only at this
    probability or above; below it (and where the verdict rules find the reply undecided,
    conditional or negated) the reply is a message to the mediator."""
    solved_threshold: float = 0.9
    """The intent model alone reads a customer's answer to "is your problem solved?" as
    "solved" (the case closes) only at this probability or above; below it (and where the
    verdict rules find the answer undecided, conditional, partial or hedged) the answer
    is a message to the merchant, and the customer is asked again."""
    praise_threshold: float = 0.5
    """A mail to the complaint address is taken as praise (Lob & Tadel, no case) only when
    the category model reads praise at this probability or above, and the mail tells of
    no problem still open."""


@dataclass(frozen=True)
class MediationSection:
    mediators: tuple[str, ...] = ()
    operator: str = ""
    settlement_reply_days: int = 30
    """Days after a settlement in which the customer's mail to its case (the settled mail
    asks for one if the settlement is not carried out) goes to the operator and the
    mediator, the case staying closed; 0: never (held like any mail to a closed case)."""
    max_cases_per_mail: int = 10
    """In how many cases one mail to several case addresses acts at most (the first by
    recipient order); it is held in the others and its sender told which."""
    max_messages_per_day: int = 20
    """A party's messages in one case passed on within 24 hours; more are held."""


@dataclass(frozen=True)
class AuthenticationSection:
    authserv_id: str = ""
    """The authserv-id of the MTA in front of us whose Authentication-Results headers are
    trusted (RFC 8601); empty where none authenticates senders."""
    verify_dkim: bool = False
    """Verify DKIM signatures ourselves (we are the MX): `mailflow.authentication`."""
    mta_peers: tuple[str, ...] = ()
    """The SMTP/LMTP clients (IP addresses) whose mail's Authentication-Results count;
    empty: any client (then only the MTA may reach our port)."""


_POLICY = Policy()
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class DeadlinesSection:
    """The case workflow's deadlines (defaults: `mediation.deadline_policy.Policy`) and
    the sweep."""

    merchant_reply_business_days: int = _POLICY.merchant_reply_business_days
    reminder_fraction: float = _POLICY.reminder_fraction
    customer_answer_days: int = _POLICY.customer_answer_days
    proposal_answer_days: int = _POLICY.proposal_answer_days
    mediation_days: int = _POLICY.mediation_days
    substantive_reply_words: int = _POLICY.substantive_reply_words
    sweep_seconds: float = 60.0

    def policy(self, calendar: CalendarSection) -> Policy:
        """The deadline policy; raises ValueError for a value out of range."""
        return Policy(
            merchant_reply_business_days=self.merchant_reply_business_days,
            reminder_fraction=self.reminder_fraction,
            customer_answer_days=self.customer_answer_days,
            proposal_answer_days=self.proposal_answer_days,
            mediation_days=self.mediation_days,
            substantive_reply_words=self.substantive_reply_words,
            business_calendar=calendar.region,
        )


@dataclass(frozen=True)
class CalendarSection:
    """The default business calendar of deadlines; a merchant may have its own."""

    region: str = _POLICY.business_calendar
    timezone: str = "Europe/Berlin"
    opens: str = "09:00"
    closes: str = "17:00"
    weekdays: tuple[str, ...] = WEEKDAYS[:5]
    closed_dates: tuple[str, ...] = ()

    def business_calendar(self) -> BusinessCalendar:
        """The calendar; raises ValueError for an unknown region, zone, time or date."""
        unknown = [day for day in self.weekdays if day not in WEEKDAYS]
        if unknown:
            raise ValueError(f"unknown weekdays {unknown}; use {', '.join(WEEKDAYS)}")
        times = []
        for key, value in (("opens", self.opens), ("closes", self.closes)):
            try:
                times.append(time.fromisoformat(value))
            except ValueError:
                raise ValueError(f"{key}: {value!r} is not a time of day (HH:MM)") from None
        hours = opening_hours(*times, [WEEKDAYS.index(day) for day in self.weekdays])
        closed = set()
        for day in self.closed_dates:
            try:
                closed.add(date.fromisoformat(day))
            except ValueError:
                raise ValueError(f"closed_dates: {day!r} is not a date (YYYY-MM-DD)") from None
        return BusinessCalendar.from_region(self.region, self.timezone, hours, frozenset(closed))


@dataclass(frozen=True)
class WebSection:
    """The public web side (`mailflow.web`): certificate pages and badges. `siegel serve`
    runs it when `enabled`; `siegel web` runs it alone."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    base_url: str = ""
    """The address shoppers reach the pages at (behind a proxy, its https URL); links
    and badge snippets are built from it. Empty: http://host:port."""
    badge_secret: str = ""
    """HMAC key of the badge links' domain tokens; empty: SIEGEL_BADGE_SECRET, else one
    derived from the signing secret of [siegel]."""
    rating_link_days: int = 60
    """How long the rating link in the closing mail is valid, from the case's closing."""
    form_minutes: int = 120
    """How long a rendered form may be submitted (its signed CSRF token's age)."""
    feedback_confirm_hours: int = 72
    """How long the confirmation link of a Lob & Tadel entry is valid."""
    feedback_per_address_per_day: int = 3
    feedback_per_ip_per_hour: int = 10
    operator_user: str = ""
    """The operator's login for /betrieb (HTTP Basic); empty: the views are off."""
    operator_password_hash: str = ""
    """pbkdf2_sha256$ITERATIONS$SALT$HASH (`python -m mailflow.web.operator_auth`);
    SIEGEL_OPERATOR_PASSWORD_HASH overrides it. Never a password in clear."""
    operator_login_failures: int = 5
    """Failed logins to /betrieb per client within the window before it gets 429."""
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    """The reverse proxies (IP addresses or networks) whose X-Forwarded-For and
    X-Forwarded-Proto name the client: the per-client limits count the real client, not
    the proxy. Any other peer is the client itself."""
    operator_login_window_minutes: int = 15
    request_head_seconds: float = 10.0
    """How long a connection may take to send a request's line and header, after it
    opened or after the previous answer (`mailflow.web.head_timeout`)."""
    trial_notice_days: int = 14
    """Lifecycle mails: the trial's end, this many days before."""
    expiry_notice_days: int = 30
    """Lifecycle mails: the certification's end, this many days before."""

    @property
    def public_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")


@dataclass(frozen=True)
class ScoringSection:
    """The seal's scoring policy (every key of `ScoringPolicy.to_flat`, docs/scoring.md
    section 8) and the local time of the nightly recompute."""

    policy: ScoringPolicy = field(default_factory=ScoringPolicy)
    recompute_at: str = "03:30"

    @property
    def recompute_time(self) -> time:
        return time.fromisoformat(self.recompute_at)


def _scoring_section(raw: object) -> ScoringSection:
    if not isinstance(raw, dict):
        raise ConfigError("[scoring]", "expected a table")
    flat = dict(raw)
    key = "[scoring] recompute_at"
    recompute_at = str(_convert(key, flat.pop("recompute_at", ScoringSection.recompute_at), str))
    try:
        time.fromisoformat(recompute_at)
    except ValueError:
        raise ConfigError(key, f"expected a local time HH:MM, got {recompute_at!r}") from None
    try:
        policy = ScoringPolicy.from_flat(flat)
    except PolicyError as error:
        problem = str(error).removeprefix(f"{error.key}: ")
        raise ConfigError(f"[scoring] {error.key}", problem) from None
    return ScoringSection(policy, recompute_at)


@dataclass(frozen=True)
class Config:
    siegel: SiegelSection = field(default_factory=SiegelSection)
    database: DatabaseSection = field(default_factory=DatabaseSection)
    smtp: SmtpSection = field(default_factory=SmtpSection)
    relay: RelaySection = field(default_factory=RelaySection)
    outbox: OutboxSection = field(default_factory=OutboxSection)
    queue: QueueSection = field(default_factory=QueueSection)
    imap: tuple[ImapAccount, ...] = ()
    mediation: MediationSection = field(default_factory=MediationSection)
    classifier: ClassifierSection = field(default_factory=ClassifierSection)
    authentication: AuthenticationSection = field(default_factory=AuthenticationSection)
    deadlines: DeadlinesSection = field(default_factory=DeadlinesSection)
    calendar: CalendarSection = field(default_factory=CalendarSection)
    scoring: ScoringSection = field(default_factory=ScoringSection)
    dkim: DkimSection = field(default_factory=DkimSection)
    web: WebSection = field(default_factory=WebSection)
    base_dir: Path = Path(".")

    @property
    def data_dir(self) -> Path:
        return self.base_dir / self.siegel.data_dir

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.data_dir / 'siegel.db'}"

    @property
    def maildir_path(self) -> Path | None:
        """Where `[relay] maildir` delivers (relative to this file), or None: SMTP."""
        return self.base_dir / self.relay.maildir if self.relay.maildir else None

    @property
    def dkim_key_path(self) -> Path:
        return self.base_dir / self.dkim.private_key_file

    @property
    def secret_bytes(self) -> bytes:
        return self.siegel.secret.encode()

    @property
    def badge_secret_bytes(self) -> bytes:
        """The secret of the badge tokens: [web] badge_secret, else the signing secret
        (`mediation.badges` derives its own key from it, never a case-address key)."""
        return (self.web.badge_secret or self.siegel.secret).encode()


def _convert(key: str, value: object, expected: object) -> object:
    """Check one TOML value against the dataclass field's type."""
    if expected is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"expected true or false, got {value!r}")
        return value
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"expected a whole number, got {value!r}")
        return value
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(key, f"expected a number, got {value!r}")
        return float(value)
    if expected is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"expected a string, got {value!r}")
        return value
    if typing.get_origin(expected) is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(key, f"expected a list of strings, got {value!r}")
        return tuple(value)
    raise ConfigError(key, f"unsupported type {expected!r}")  # pragma: no cover


def _section(label: str, cls: type, raw: object) -> object:
    """`raw` as a `cls`; `label` names the table in errors ("[smtp]", "[[imap]] #0")."""
    if not isinstance(raw, dict):
        raise ConfigError(label, "expected a table")
    known = typing.get_type_hints(cls)
    values = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{label} {key}", "unknown key")
        values[key] = _convert(f"{label} {key}", value, known[key])
    return cls(**values)


def _check(config: Config) -> None:
    for key, value in [
        ("[smtp] port", config.smtp.port),
        ("[relay] port", config.relay.port),
        *[(f"[[imap]] #{i} port", a.port) for i, a in enumerate(config.imap)],
    ]:
        if not 0 < value < 65536:
            raise ConfigError(key, f"expected a port between 1 and 65535, got {value}")
    positive = {
        "[smtp] max_message_bytes": config.smtp.max_message_bytes,
        "[smtp] max_recipients": config.smtp.max_recipients,
        "[smtp] max_connections": config.smtp.max_connections,
        "[smtp] max_connections_per_client": config.smtp.max_connections_per_client,
        "[smtp] idle_timeout_seconds": config.smtp.idle_timeout_seconds,
        "[smtp] max_session_seconds": config.smtp.max_session_seconds,
        "[relay] max_attempts": config.relay.max_attempts,
        "[relay] retry_base_seconds": config.relay.retry_base_seconds,
        "[relay] max_backoff_seconds": config.relay.max_backoff_seconds,
        "[relay] timeout_seconds": config.relay.timeout_seconds,
        "[queue] max_attempts": config.queue.max_attempts,
        "[queue] lease_seconds": config.queue.lease_seconds,
        "[queue] poll_seconds": config.queue.poll_seconds,
        "[queue] batch_size": config.queue.batch_size,
        "[queue] batch_transaction_ms": config.queue.batch_transaction_ms,
        "[outbox] max_attachment_bytes": config.outbox.max_attachment_bytes,
        **{f"[[imap]] #{i} poll_seconds": a.poll_seconds for i, a in enumerate(config.imap)},
        **{f"[[imap]] #{i} idle_seconds": a.idle_seconds for i, a in enumerate(config.imap)},
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(key, f"must be greater than 0, got {value}")
    for key in ("max_attachments", "max_autoreplies_per_day", "max_staff_mails_per_day"):
        if getattr(config.outbox, key) < 0:
            raise ConfigError(
                f"[outbox] {key}", f"must be 0 (none) or more, got {getattr(config.outbox, key)}"
            )
    for extension in config.outbox.withheld_extensions:
        if not re.fullmatch(r"\.?[A-Za-z0-9_~$-]{1,20}", extension):
            raise ConfigError(
                "[outbox] withheld_extensions", f"expected file extensions, got {extension!r}"
            )
    if config.smtp.mode not in ("smtp", "lmtp"):
        raise ConfigError("[smtp] mode", f'expected "smtp" or "lmtp", got {config.smtp.mode!r}')
    domain = config.siegel.domain
    if not domain or "@" in domain or " " in domain or "." not in domain:
        raise ConfigError("[siegel] domain", f"expected a mail domain, got {domain!r}")
    if config.siegel.default_language not in ("de", "en"):
        raise ConfigError("[siegel] default_language", 'expected "de" or "en"')
    try:
        zoneinfo.ZoneInfo(config.siegel.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            "[siegel] timezone", f"unknown time zone {config.siegel.timezone!r}"
        ) from None
    for i, account in enumerate(config.imap):
        if not account.host or not account.username:
            raise ConfigError(f"[[imap]] #{i}", "host and username are required")
        if not addresses.in_scheme(domain, account.mailbox_address):
            # Its mail would be held as sent to no address of ours, every one of it.
            raise ConfigError(
                f"[[imap]] #{i} address",
                f"{account.mailbox_address!r} is no address of ours at {domain}: set "
                f'address = "beschwerde@{domain}" (or whichever this mailbox receives)',
            )
    for key in ("proposal_threshold", "solved_threshold", "praise_threshold"):
        threshold = getattr(config.classifier, key)
        if not 0.5 <= threshold <= 1:
            raise ConfigError(
                f"[classifier] {key}", f"expected a number from 0.5 to 1, got {threshold}"
            )
    _check_cases(config)
    _check_dkim(config)
    _check_web(config.web)


def _check_web(web: WebSection) -> None:
    if not 0 < web.port < 65536:
        raise ConfigError("[web] port", f"expected a port between 1 and 65535, got {web.port}")
    if web.base_url and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", web.base_url):
        raise ConfigError("[web] base_url", f"expected an http(s) URL, got {web.base_url!r}")
    if web.badge_secret:
        check_secret("[web] badge_secret", web.badge_secret)
    for key in (
        "rating_link_days", "form_minutes", "feedback_confirm_hours",
        "feedback_per_address_per_day", "feedback_per_ip_per_hour",
        "trial_notice_days", "expiry_notice_days",
        "operator_login_failures", "operator_login_window_minutes", "request_head_seconds",
    ):  # fmt: skip
        if getattr(web, key) <= 0:
            raise ConfigError(f"[web] {key}", f"must be greater than 0, got {getattr(web, key)}")
    for proxy in web.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError(
                "[web] trusted_proxies", f"expected IP addresses or networks, got {proxy!r}"
            ) from None
    # Only a hash given is checked here: it is a secret, usually set for the web side's
    # process alone (SIEGEL_OPERATOR_PASSWORD_HASH), and the operator's shell running
    # `siegel cases` need not know it. Without one the operator views stay off.
    if web.operator_password_hash and not web.operator_password_hash.startswith("pbkdf2_sha256$"):
        raise ConfigError(
            "[web] operator_password_hash",
            "expected pbkdf2_sha256$... (python -m mailflow.web.operator_auth)",
        )


def _check_dkim(config: Config) -> None:
    """A half-configured or unusable key stops the start rather than send unsigned."""
    from mailflow import signing  # imports dkimpy: only when signing is configured

    section = config.dkim
    if not section.enabled:
        if section.selector or section.domain:
            raise ConfigError("[dkim] private_key_file", "required when selector or domain is set")
        return
    label = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    if not re.fullmatch(rf"{label}(?:\.{label})*", section.selector):
        raise ConfigError("[dkim] selector", f"expected a DNS name, got {section.selector!r}")
    if section.domain and not re.fullmatch(rf"{label}(?:\.{label})+", section.domain):
        raise ConfigError("[dkim] domain", f"expected an ASCII domain, got {section.domain!r}")
    try:
        signing.load_key(config.dkim_key_path)
    except signing.KeyFileError as error:
        raise ConfigError("[dkim] private_key_file", str(error)) from None


def _check_cases(config: Config) -> None:
    try:
        config.calendar.business_calendar()
    except ValueError as error:
        raise ConfigError("[calendar]", str(error)) from None
    try:
        config.deadlines.policy(config.calendar)
    except ValueError as error:
        raise ConfigError("[deadlines]", str(error)) from None
    if config.deadlines.sweep_seconds <= 0:
        raise ConfigError("[deadlines] sweep_seconds", "must be greater than 0")
    if config.mediation.settlement_reply_days < 0:
        raise ConfigError(
            "[mediation] settlement_reply_days",
            f"must be 0 (never) or more, got {config.mediation.settlement_reply_days}",
        )
    if config.mediation.max_cases_per_mail < 1:
        raise ConfigError(
            "[mediation] max_cases_per_mail",
            f"must be 1 or more, got {config.mediation.max_cases_per_mail}",
        )
    if config.mediation.max_messages_per_day < 1:
        raise ConfigError(
            "[mediation] max_messages_per_day",
            f"must be 1 or more, got {config.mediation.max_messages_per_day}",
        )
    for address in (*config.mediation.mediators, config.mediation.operator):
        if address and "@" not in address:
            raise ConfigError("[mediation]", f"not a mail address: {address!r}")
    # Mail to one of our own addresses comes back into our intake: the operator's
    # mailbox there would pass service@ mail on to service@ again, a loop.
    for key, values in (("mediators", config.mediation.mediators),
                        ("operator", (config.mediation.operator,))):  # fmt: skip
        for address in values:
            if address and addresses.in_scheme(config.siegel.domain, address):
                raise ConfigError(
                    f"[mediation] {key}",
                    f"{address} is one of the service's own addresses at "
                    f"{config.siegel.domain}; name a person's mailbox",
                )


def parse(raw: dict, base_dir: Path, environ: typing.Mapping[str, str]) -> Config:
    """Build a checked `Config` from a parsed TOML document."""
    sections = {f.name: f for f in dataclasses.fields(Config)}
    values: dict[str, object] = {"base_dir": base_dir}
    for name, value in raw.items():
        if name not in sections or name == "base_dir":
            if not isinstance(value, dict | list):  # `key = value` above every [section]
                raise ConfigError(name, "a key outside any section: put it under its [section]")
            raise ConfigError(f"[{name}]", "unknown section")
        if name == "imap":
            if isinstance(value, dict):
                value = [value]
            if not isinstance(value, list):
                raise ConfigError("[[imap]]", "expected one or more [[imap]] tables")
            accounts = []
            for i, item in enumerate(value):
                account = _section(f"[[imap]] #{i}", ImapAccount, item)
                password = environ.get(f"SIEGEL_IMAP_PASSWORD_{i}")
                if password:
                    account = dataclasses.replace(account, password=password)
                accounts.append(account)
            values["imap"] = tuple(accounts)
        elif name == "scoring":
            values["scoring"] = _scoring_section(value)
        else:
            cls = sections[name].default_factory  # type: ignore[misc]
            values[name] = _section(f"[{name}]", cls, value)
    config = Config(**values)
    if ENV_SECRET in environ:
        # Set but empty is a mistake (an unset variable in a unit file), not "generate one".
        check_secret(ENV_SECRET, environ[ENV_SECRET])
        config = dataclasses.replace(
            config, siegel=dataclasses.replace(config.siegel, secret=environ[ENV_SECRET])
        )
    elif config.siegel.secret:
        # `secret = ""` is the documented "not here": SIEGEL_SECRET or the generated file.
        check_secret("[siegel] secret", config.siegel.secret)
    if environ.get(ENV_OPERATOR_PASSWORD_HASH):
        config = dataclasses.replace(
            config,
            web=dataclasses.replace(
                config.web, operator_password_hash=environ[ENV_OPERATOR_PASSWORD_HASH]
            ),
        )
    if environ.get(ENV_BADGE_SECRET):
        config = dataclasses.replace(
            config, web=dataclasses.replace(config.web, badge_secret=environ[ENV_BADGE_SECRET])
        )
    for env_key, section, attr in [
        ("SIEGEL_DATABASE_URL", "database", "url"),
        ("SIEGEL_RELAY_PASSWORD", "relay", "password"),
    ]:
        if environ.get(env_key):
            replaced = dataclasses.replace(getattr(config, section), **{attr: environ[env_key]})
            config = dataclasses.replace(config, **{section: replaced})
    _check(config)
    return config


def default_path(environ: typing.Mapping[str, str] = os.environ) -> Path:
    return Path(environ.get(ENV_CONFIG) or "config.toml")


def load(path: Path | None = None, environ: typing.Mapping[str, str] = os.environ) -> Config:
    """Read and check the configuration file (`path`, `$SIEGEL_CONFIG` or ./config.toml)."""
    path = path or default_path(environ)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), "configuration file not found") from None
    except IsADirectoryError:
        raise ConfigError(str(path), "is a directory, not a configuration file") from None
    except OSError as error:
        raise ConfigError(str(path), f"cannot be read: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            str(path), f"not UTF-8 text (byte {error.start + 1}): TOML files are UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(str(path), f"not valid TOML: {error}") from None
    return parse(raw, path.resolve().parent, environ)


def warn_if_others_may_read(path: Path) -> None:
    """A configuration file that holds a secret (the signing secret, a relay or IMAP
    password, the operator's password hash) should be its owner's only: a warning says
    so, with the command that makes it so, when a service starts. (Not refused: the
    service's account may be meant to share it; the secret is better in the environment
    or the data directory.)"""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # `load` has said what is wrong with it
    sections = [raw.get("siegel"), raw.get("relay"), raw.get("web"), *(raw.get("imap") or [])]
    held = {
        key
        for section in sections
        if isinstance(section, dict)
        for key in ("secret", "password", "operator_password_hash")
        if section.get(key)
    }
    if held and mode & 0o077:
        log.warning(
            "%s holds a secret (%s) and may be read by group or others (mode %04o): chmod 600 %s",
            path, ", ".join(sorted(held)), mode, path,
        )  # fmt: skip


def check_secret(source: str, secret: str, hint: str = "") -> None:
    """Refuse a signing secret that is blank or shorter than `MIN_SECRET_BYTES` bytes.

    Length counts the bytes of the UTF-8 text, as the HMAC key is those bytes; `source`
    names where it came from (`[siegel] secret`, `SIEGEL_SECRET` or the file).
    """
    if not secret.strip():
        raise ConfigError(source, f"the signing secret is empty{hint}")
    size = len(secret.encode())
    if size < MIN_SECRET_BYTES:
        raise ConfigError(
            source,
            f"the signing secret is {size} bytes long, at least {MIN_SECRET_BYTES} are needed"
            + hint,
        )


def ensure_secret(config: Config) -> Config:
    """Return `config` with a signing secret, generating one in data_dir at first start.

    A generated secret is kept in `<data_dir>/secret` (mode 0600, the data directory
    created 0700) so that case addresses stay valid across restarts without a secret in
    the config file. A secret file that others may read is made 0600; one that is empty
    or too short stops the start (`ConfigError`) instead of signing with it. An existing
    data directory that others may enter is made 0700 too: below it lie the database,
    the secret and, in the demo, every mail sent (`var/mail`).
    """
    if config.data_dir.is_dir():
        tighten_file_mode(config.data_dir)
    if config.siegel.secret:
        return config
    path = config.data_dir / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".secret.{os.getpid()}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            # link() fails if another process got there first: its secret wins.
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    tighten_file_mode(path)
    hint = "; write a longer one into the file, or delete it to have one generated"
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(str(path), f"the signing secret is not UTF-8 text{hint}") from None
    check_secret(str(path), secret, hint)
    return dataclasses.replace(config, siegel=dataclasses.replace(config.siegel, secret=secret))
