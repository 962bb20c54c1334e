"""uvicorn's HTTP/1.1 protocol with a time limit for each request's head.

uvicorn (0.54) waits for ever for a client that opened a connection and sends its
request line and header slowly, or not at all ("slowloris"): each such connection holds
a descriptor, and under `siegel serve` the SMTP intake of the same process needs them.
Here a connection that has not sent a whole request head within `head_seconds` of its
opening, or of the previous response, is closed. A request being answered (or its body
being read) is never cut.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol


class HeadTimedProtocol(H11Protocol):
    def __init__(self, *args: Any, head_seconds: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_seconds = head_seconds
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._answering():
            self._cancel()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def _answering(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _await_head(self) -> None:
        self._cancel()
        self._head_timer = self.loop.call_later(self._head_seconds, self._head_late)

    def _cancel(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if not self._answering():
            self.transport.close()


def protocol(head_seconds: float) -> Any:
    """The protocol for `uvicorn.Config(http=...)`, with its time limit."""
    return functools.partial(HeadTimedProtocol, head_seconds=head_seconds)
