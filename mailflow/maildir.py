"""Local delivery into Maildirs: the relay of the demo configuration (`[relay] maildir`).

Instead of handing each outbox row to an SMTP relay, the relay writes it into one
Maildir per recipient below the configured directory (`var/mail/erika@example.org/`),
the mailbox format that mutt (`mutt -f var/mail/erika@example.org`), Dovecot, Evolution
and Python's `mailbox.Maildir` open as they are. Delivery is one file per mail, written
and fsynced in `tmp/`, then moved to `new/` (`mailbox.Maildir.add`): a reader never sees
half a mail. As a local delivery agent does, the mail gets a `Return-Path` (the VERP
envelope sender) and a `Delivered-To` header on top, and LF line endings.

Everything else is the relay's: the claim, the DKIM signature, the recorded attempt
and the status (`mailflow.relay.Relay.run_once` uses `MaildirDelivery` in place of its
SMTP connection). A write that fails (disk full, permissions) is deferred and retried
as a 4xx would be.
"""

from __future__ import annotations

import mailbox
import re
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
        """Write one message into `recipient`'s Maildir; never raises."""
        path = self.root / mailbox_name(recipient)
        header = f"Return-Path: <{envelope_from}>\nDelivered-To: {recipient}\n"
        message = header.encode("utf-8") + raw.replace(b"\r\n", b"\n")
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            key = mailbox.Maildir(path, factory=None, create=True).add(message)
        except (OSError, mailbox.Error) as error:
            return Answer(None, f"maildir delivery failed: {error}", relay_problem=True)
        return Answer(250, f"delivered to maildir {path}/new/{key}")
