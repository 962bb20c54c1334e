"""The `siegel` command line: the operator's whole interface besides mail.

Every exit code is a constant of `mailflow.command_support` and listed in the README
("Exit codes"). `siegel ingest` speaks to an MTA: 0 stored (committed), 65 bad data
(empty, or larger than `[smtp] max_message_bytes`, which SMTP refuses with 552 too),
66 no input file, 67 unknown recipient; everything else that may pass is 75, the
MTA's "try again": a busy, locked, corrupt, missing or unreachable database, an
unknown database driver, an unexpected error, and for `ingest` also a bad
configuration or bad arguments, so that the MTA keeps the mail while the operator
fixes it. Other commands exit 2 for a bad configuration or bad arguments (an unknown
filter value included), 69 when `serve` or `intake` cannot bind its port, 141 when
the reader of their output went away. Each failure is one line on stderr; `-v` logs
the traceback. `--config` and `-v` may stand before or after the command.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from mailflow.command_support import command_in, printable_output


def main(argv: Sequence[str] | None = None) -> int:
    """`siegel ARGV`; its exit status. What it writes as text (stdout, stderr, its log)
    shows control characters as ``\\xNN`` (`printable_output`): a
    subject, a name or a form's text cannot drive the operator's terminal.

    `ingest` loads only its own module: an MTA starts it once per mail, and the other
    commands' modules would double its start-up time."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    with printable_output():
        if command_in(arguments) == "ingest":
            from mailflow import ingest

            return ingest.main(arguments)
        from mailflow import commands

        return commands.main(arguments)


if __name__ == "__main__":
    sys.exit(main())
