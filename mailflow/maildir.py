"""Local delivery into Maildirs: the relay of the demo configuration (`[relay] maildir`).

Instead of handing each outbox row to an SMTP relay, the relay writes it into one
Maildir per recipient below the configured directory (`var/mail/erika@example.org/`),
the mailbox format that mutt (`mutt -f var/mail/erika@example.org`), Dovecot, Evolution
and Python's `mailbox.Maildir` open as they are. Delivery is one file per mail, written
and fsynced in `tmp/`, then linked into `new/`: a reader never sees half a mail. As a
local delivery agent does, the mail gets a `Return-Path` (the VERP envelope sender) and
a `Delivered-To` header on top, and LF line endings.

Delivery is idempotent: the file's name is made from the envelope sender (the outbox
row's own VERP address), the recipient and the Message-ID (`delivery_name`), and a mail
whose name is in `new/` or `cur/` already is not written again. A relay killed after
the file was written but before it recorded `sent` sends the row again on restart
(`mailflow.relay`: at least once); here that second time delivers nothing.

Everything else is the relay's: the claim, the DKIM signature, the recorded attempt
and the status (`mailflow.relay.Relay.run_once` uses `MaildirDelivery` in place of its
SMTP connection). A write that fails (disk full, permissions) is deferred and retried
as a 4xx would be.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import mailbox
import os
import re
import socket
import threading
from pathlib import Path

from mailflow.outbox import Answer

_UNSAFE = re.compile(r"[^\w@.+=-]")


def mailbox_name(recipient: str) -> str:
    """The directory name of `recipient`'s Maildir: the address, lower-cased, with any
    character that is not safe in a file name (a slash, a space, a quote) made `_`."""
    name = _UNSAFE.sub("_", recipient.strip().lower())[:200]
    return "_" + name[1:] if name.startswith(".") else name or "_"


class MaildirDelivery:
    """Delivers messages below `root`; the same `deliver` as `relay.RelayConnection`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __enter__(self) -> MaildirDelivery:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to close: each delivery opens and closes its files."""

    def deliver(self, envelope_from: str, recipient: str, raw: bytes) -> Answer:
        """Write one message into `recipient`'s Maildir, once; never raises."""
        path = self.root / mailbox_name(recipient)
        name = delivery_name(envelope_from, recipient, raw)
        header = f"Return-Path: <{envelope_from}>\nDelivered-To: {recipient}\n"
        message = header.encode("utf-8") + raw.replace(b"\r\n", b"\n")
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            mailbox.Maildir(path, factory=None, create=True)  # tmp/, new/, cur/
            if _delivered(path, name):
                _forget_leftovers(path, name)
                return Answer(250, f"already in maildir {path} as {name}")
            _write(path, name, message)
        except (OSError, mailbox.Error) as error:
            return Answer(None, f"maildir delivery failed: {error}", relay_problem=True)
        return Answer(250, f"delivered to maildir {path}/new/{name}.{_HOST}")


_HOST = socket.gethostname().replace("/", "_").replace(":", "_")
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*([^\r\n]*)", re.I | re.M)


def delivery_name(envelope_from: str, recipient: str, raw: bytes) -> str:
    """The file name of a delivery: the same for the same outbox row to the same
    recipient, whatever the attempt (a fresh DKIM signature changes the bytes, not it)."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    found = _MESSAGE_ID.search(head)
    message_id = found.group(1).strip() if found else b""
    digest = hashlib.sha256(
        envelope_from.encode() + b"\0" + recipient.lower().encode() + b"\0" + message_id
    ).hexdigest()
    return f"siegel-{digest[:32]}"


def _delivered(path: Path, name: str) -> bool:
    """Whether the mail `name` is in `new/` or `cur/` (a reader may add flags after ':'
    and a host name after '.'; another host's relay may have written it)."""
    pattern = glob.escape(name) + "*"
    return any(next(path.joinpath(folder).glob(pattern), None) for folder in ("new", "cur"))


def _forget_leftovers(path: Path, name: str) -> None:
    """Remove the copies of `name` left in `tmp/` by a relay that stopped between the
    link into `new/` and the unlink (killed): the mail was delivered, the copy is litter."""
    for leftover in path.joinpath("tmp").glob(glob.escape(name) + ".*"):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


def _write(path: Path, name: str, message: bytes) -> None:
    """Write `message` into `tmp/`, fsynced, and link it into `new/` under `name` (a
    second writer's link fails: the mail is there once)."""
    temporary = path / "tmp" / f"{name}.{os.getpid()}.{threading.get_ident()}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(message)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path / "new" / f"{name}.{_HOST}")
        directory = os.open(path / "new", os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
