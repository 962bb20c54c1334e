"""What every `siegel` subcommand shares: exit codes, JSON output, argument errors."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from mailflow.config import Config

EX_OK = 0
EX_FAILED = 1
EX_USAGE = 2

Handler = Callable[[argparse.Namespace, Config], int]


class UsageError(Exception):
    """A bad argument: printed as one line, exit status 2."""


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def guarded(handler: Handler) -> Handler:
    """`handler` with argument errors (exit 2) and unknown names (exit 1) as one line."""

    def run(args: argparse.Namespace, config: Config) -> int:
        try:
            return handler(args, config)
        except UsageError as error:
            print(f"siegel {args.command}: {error}", file=sys.stderr)
            return EX_USAGE
        except LookupError as error:
            print(f"siegel {args.command}: {error.args[0]}", file=sys.stderr)
            return EX_FAILED

    return run


def add_command(
    parent: Any, name: str, handler: Handler, help_text: str, *, guard: bool = True
) -> argparse.ArgumentParser:
    """A sub-command of `parent` (a sub-parsers action) running `handler`, `guarded`
    unless `guard` is False (`siegel ingest` maps every error to its own exit code)."""
    sub = parent.add_parser(name, help=help_text, description=help_text)
    sub.set_defaults(handler=guarded(handler) if guard else handler)
    return sub
