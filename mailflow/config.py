"""Configuration: `config.toml` read into frozen dataclasses, with environment overrides.

The dataclass defaults are the documented defaults of `config.toml`. Every value is
checked on load; a wrong one raises `ConfigError` naming the key, which the CLI
prints as one line before it exits with status 2.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
import typing
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path

from mediation.business_time import BusinessCalendar, opening_hours
from mediation.policy import Policy
from scoring import PolicyError, ScoringPolicy

ENV_CONFIG = "SIEGEL_CONFIG"
ENV_SECRET = "SIEGEL_SECRET"  # noqa: S105 - the variable name, not a secret
MIN_SECRET_LENGTH = 16


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
    max_recipients: int = 50


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


@dataclass(frozen=True)
class OutboxSection:
    max_autoreplies_per_day: int = 10


@dataclass(frozen=True)
class QueueSection:
    max_attempts: int = 3
    lease_seconds: float = 300.0
    poll_seconds: float = 1.0


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


@dataclass(frozen=True)
class MediationSection:
    mediators: tuple[str, ...] = ()
    operator: str = ""


@dataclass(frozen=True)
class AuthenticationSection:
    authserv_id: str = ""
    """The authserv-id of the MTA in front of us whose Authentication-Results headers are
    trusted (RFC 8601); empty where none authenticates senders."""


_POLICY = Policy()
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class DeadlinesSection:
    """The case workflow's deadlines (defaults: `mediation.policy.Policy`) and the sweep."""

    merchant_reply_business_days: int = _POLICY.merchant_reply_business_days
    reminder_fraction: float = _POLICY.reminder_fraction
    customer_answer_days: int = _POLICY.customer_answer_days
    proposal_answer_days: int = _POLICY.proposal_answer_days
    mediation_days: int = _POLICY.mediation_days
    sweep_seconds: float = 60.0

    def policy(self, calendar: CalendarSection) -> Policy:
        """The deadline policy; raises ValueError for a value out of range."""
        return Policy(
            merchant_reply_business_days=self.merchant_reply_business_days,
            reminder_fraction=self.reminder_fraction,
            customer_answer_days=self.customer_answer_days,
            proposal_answer_days=self.proposal_answer_days,
            mediation_days=self.mediation_days,
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
        hours = opening_hours(
            time.fromisoformat(self.opens),
            time.fromisoformat(self.closes),
            [WEEKDAYS.index(day) for day in self.weekdays],
        )
        closed = frozenset(date.fromisoformat(day) for day in self.closed_dates)
        return BusinessCalendar.from_region(self.region, self.timezone, hours, closed)


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
    authentication: AuthenticationSection = field(default_factory=AuthenticationSection)
    deadlines: DeadlinesSection = field(default_factory=DeadlinesSection)
    calendar: CalendarSection = field(default_factory=CalendarSection)
    scoring: ScoringSection = field(default_factory=ScoringSection)
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
    def secret_bytes(self) -> bytes:
        return self.siegel.secret.encode()


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


def _section(name: str, cls: type, raw: object) -> object:
    if not isinstance(raw, dict):
        raise ConfigError(f"[{name}]", "expected a table")
    known = typing.get_type_hints(cls)
    values = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"[{name}] {key}", "unknown key")
        values[key] = _convert(f"[{name}] {key}", value, known[key])
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
        "[relay] max_attempts": config.relay.max_attempts,
        "[relay] retry_base_seconds": config.relay.retry_base_seconds,
        "[relay] timeout_seconds": config.relay.timeout_seconds,
        "[queue] max_attempts": config.queue.max_attempts,
        "[queue] lease_seconds": config.queue.lease_seconds,
        "[queue] poll_seconds": config.queue.poll_seconds,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(key, f"must be greater than 0, got {value}")
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
    if config.secret_bytes and len(config.secret_bytes) < MIN_SECRET_LENGTH:
        raise ConfigError("[siegel] secret", f"must be at least {MIN_SECRET_LENGTH} characters")
    _check_cases(config)


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
    for address in (*config.mediation.mediators, config.mediation.operator):
        if address and "@" not in address:
            raise ConfigError("[mediation]", f"not a mail address: {address!r}")


def parse(raw: dict, base_dir: Path, environ: typing.Mapping[str, str]) -> Config:
    """Build a checked `Config` from a parsed TOML document."""
    sections = {f.name: f for f in dataclasses.fields(Config)}
    values: dict[str, object] = {"base_dir": base_dir}
    for name, value in raw.items():
        if name not in sections or name == "base_dir":
            raise ConfigError(f"[{name}]", "unknown section")
        if name == "imap":
            if isinstance(value, dict):
                value = [value]
            if not isinstance(value, list):
                raise ConfigError("[[imap]]", "expected one or more [[imap]] tables")
            accounts = []
            for i, item in enumerate(value):
                account = _section(f"[imap] #{i}", ImapAccount, item)
                password = environ.get(f"SIEGEL_IMAP_PASSWORD_{i}")
                if password:
                    account = dataclasses.replace(account, password=password)
                accounts.append(account)
            values["imap"] = tuple(accounts)
        elif name == "scoring":
            values["scoring"] = _scoring_section(value)
        else:
            cls = sections[name].default_factory  # type: ignore[misc]
            values[name] = _section(name, cls, value)
    config = Config(**values)
    if environ.get(ENV_SECRET):
        config = dataclasses.replace(
            config, siegel=dataclasses.replace(config.siegel, secret=environ[ENV_SECRET])
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
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(str(path), f"not valid TOML: {error}") from None
    return parse(raw, path.resolve().parent, environ)


def ensure_secret(config: Config) -> Config:
    """Return `config` with a signing secret, generating one in data_dir at first start.

    A generated secret is kept in `<data_dir>/secret` (mode 0600) so that case
    addresses stay valid across restarts without a secret in the config file.
    """
    if config.siegel.secret:
        return config
    path = config.data_dir / "secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
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
    secret = path.read_text().strip()
    return dataclasses.replace(config, siegel=dataclasses.replace(config.siegel, secret=secret))
