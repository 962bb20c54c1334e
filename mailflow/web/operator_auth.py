"""The operator's login for `/betrieb`: HTTP Basic against `[web] operator_user` and a
PBKDF2 hash (`[web] operator_password_hash` or SIEGEL_OPERATOR_PASSWORD_HASH), never a
password in the configuration.

``python -m mailflow.web.operator_auth`` asks for a password and prints its hash
(``pbkdf2_sha256$ITERATIONS$SALT$HASH``). Comparisons run in constant time; a checked
login is remembered in this process by a digest of its header, so that the hash's cost
is paid once, not per page. Serve `/betrieb` over https only (Basic sends the password
with every request).

`Throttle` counts failed logins per client (a keyed hash of its address): after
`[web] operator_login_failures` within `operator_login_window_minutes` the client gets
429 with Retry-After until the oldest of them leaves the window, whatever it sends, so
that neither a right password nor an existing user name can be told apart meanwhile.
A check under way counts as a failure until it succeeds (`Throttle.admit`), so that
parallel guesses get no more checks than sequential ones; and at most
`CONCURRENT_CHECKS` hashes are computed at once in the process (`login` answers `BUSY`
past that), so that guesses from many clients cannot take the public pages' CPU.
The count lives in the web process (one `siegel web` or `serve` per database).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import getpass
import hashlib
import hmac
import math
import secrets
import sys
import threading
from collections import deque
from datetime import datetime, timedelta

ITERATIONS = 600_000
CONCURRENT_CHECKS = 2
BUSY = "\0busy"
"""What `login` answers when `CONCURRENT_CHECKS` hashes are being computed already."""
_checked: set[bytes] = set()
_guard = threading.Lock()
_hashing = threading.BoundedSemaphore(CONCURRENT_CHECKS)


def hash_password(password: str, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    encode = base64.urlsafe_b64encode
    return f"pbkdf2_sha256${iterations}${encode(salt).decode()}${encode(digest).decode()}"


def verify_password(stored: str, password: str) -> bool:
    try:
        scheme, iterations, salt, digest = stored.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        salt_bytes, expected = base64.urlsafe_b64decode(salt), base64.urlsafe_b64decode(digest)
        rounds = int(iterations)
    except (ValueError, binascii.Error):
        return False
    given = hashlib.pbkdf2_hmac("sha256", password.encode(), salt_bytes, rounds)
    return hmac.compare_digest(given, expected)


def login(header: str | None, user: str, stored: str) -> str | None:
    """The operator's name when `header` (Authorization) holds their credentials; `BUSY`
    when the hash would be the third computed at once."""
    if not user or not stored or not header or not header.startswith("Basic "):
        return None
    key = hashlib.sha256(f"{stored}\0{header}".encode()).digest()
    with _guard:
        if key in _checked:
            return user
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # not base64 (also non-ASCII), not UTF-8
        return None
    name, colon, password = decoded.partition(":")
    if not colon:
        return None
    same_user = hmac.compare_digest(name.encode(), user.encode())
    if not _hashing.acquire(blocking=False):
        return BUSY
    try:
        right = verify_password(stored, password)
    finally:
        _hashing.release()
    if not (right and same_user):
        return None
    with _guard:
        _checked.add(key)
    return user


class Throttle:
    """Failed logins per client within a sliding window, in this process."""

    MAX_CLIENTS = 10_000
    """Above this many clients, those without a failure in the window are forgotten."""

    def __init__(self, failures: int, window: timedelta) -> None:
        self.failures = failures
        self.window = window
        self._failed: dict[str, deque[datetime]] = {}
        self._checking: dict[str, int] = {}
        self._lock = threading.Lock()

    def admit(self, client: str, now: datetime) -> int | None:
        """Reserve a check of `client`'s login, counted as a failure until `succeeded` or
        `released`: None when admitted (then one of `failed`, `succeeded`, `released`
        must follow), else the seconds until it may try again."""
        with self._lock:
            times = self._recent(client, now)
            checking = self._checking.get(client, 0)
            if len(times) + checking < self.failures:
                self._checking[client] = checking + 1
                return None
            if len(times) < self.failures:
                return 1  # its checks under way may yet succeed
            wait = (times[-self.failures] + self.window - now).total_seconds()
            return max(1, math.ceil(wait))

    def failed(self, client: str, now: datetime) -> None:
        with self._lock:
            self._done(client)
            if client not in self._failed and len(self._failed) >= self.MAX_CLIENTS:
                for other in list(self._failed):
                    self._recent(other, now)
            times = self._failed.setdefault(client, deque(maxlen=self.failures))
            times.append(now)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._done(client)
            self._failed.pop(client, None)

    def released(self, client: str) -> None:
        """The reserved check was not made (no credentials sent, or no hash computed)."""
        with self._lock:
            self._done(client)

    def _done(self, client: str) -> None:
        left = self._checking.get(client, 0) - 1
        if left > 0:
            self._checking[client] = left
        else:
            self._checking.pop(client, None)

    def _recent(self, client: str, now: datetime) -> deque[datetime]:
        """The client's failures still in the window (the others dropped)."""
        times = self._failed.get(client)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failed[client]
        return times


MIN_PASSWORD_CHARS = 12


def main(argv: list[str] | None = None) -> int:
    """Print the hash of a new operator password for `[web] operator_password_hash`:
    asked for twice on a terminal, else read from the first line of standard input
    (``… < file``, a password manager's pipe)."""
    argparse.ArgumentParser(
        prog="python -m mailflow.web.operator_auth",
        description="Print the hash of a new operator password for [web] "
        "operator_password_hash (or SIEGEL_OPERATOR_PASSWORD_HASH). On a terminal it asks "
        "twice; otherwise it reads the first line of standard input.",
    ).parse_args(argv)
    try:
        if sys.stdin.isatty():
            password = getpass.getpass("operator password: ")
            again = getpass.getpass("again: ")
        else:
            password = again = sys.stdin.readline().rstrip("\r\n")
    except (EOFError, KeyboardInterrupt):
        print("no password given", file=sys.stderr)
        return 2
    if password != again:
        print("the passwords differ", file=sys.stderr)
        return 2
    if len(password) < MIN_PASSWORD_CHARS:
        print(f"a password needs at least {MIN_PASSWORD_CHARS} characters", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
