"""Running the web side under uvicorn: in a thread of `siegel serve`, or as `siegel web`.

Pages only read, so they get their own engine (`read_engine`): on SQLite without the
writer queue and `BEGIN IMMEDIATE` of `mailflow.db.make_engine` and with
`query_only`, so that a page view never waits for, nor holds up, the mail path (WAL
readers see the last commit). The schema is upgraded first with the ordinary engine.
The forms (rating, Lob & Tadel, operator) write through a second, ordinary engine.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

import uvicorn
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from mailflow.config import Config
from mailflow.db import DEFAULT_BUSY_TIMEOUT_SECONDS, make_engine, utcnow
from mailflow.schema import open_database
from mailflow.web import head_timeout
from mailflow.web.app import create_app

log = logging.getLogger("mailflow.web")


def read_engine(url: str) -> Engine:
    """An engine for reading only, schema upgraded (by the writer engine) first."""
    open_database(url).dispose()
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": DEFAULT_BUSY_TIMEOUT_SECONDS}
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA query_only=ON")
        cursor.execute(f"PRAGMA busy_timeout={round(DEFAULT_BUSY_TIMEOUT_SECONDS * 1000)}")
        cursor.close()

    return engine


def _uvicorn_config(app: object, config: Config, port: int | None) -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=config.web.host,
        port=config.web.port if port is None else port,
        log_config=None,  # our logging (mailflow.logs): rate-limited, tokens redacted
        access_log=False,
        lifespan="off",
        server_header=False,
        http=head_timeout.protocol(config.web.request_head_seconds),
        # Behind a trusted proxy, the client's address and scheme are its X-Forwarded-*.
        proxy_headers=True,
        forwarded_allow_ips=list(config.web.trusted_proxies),
    )


class WebServer:
    """uvicorn in a thread: `start` returns once it listens (or raises), `stop` ends it."""

    def __init__(
        self,
        config: Config,
        engine: Engine | None = None,
        clock: Callable[[], datetime] = utcnow,
        port: int | None = None,
    ) -> None:
        self.own_engine = engine is None
        self.engine = engine or read_engine(config.database_url)
        # The forms' writes: an ordinary engine (on SQLite it queues on the writer lock
        # that every engine of this process shares for the file).
        self.writer = make_engine(config.database_url)
        self.app = create_app(config, self.engine, clock, writer=self.writer)
        self.server = uvicorn.Server(_uvicorn_config(self.app, config, port))
        self.thread: threading.Thread | None = None

    def start(self, timeout: float = 15.0) -> WebServer:
        self.thread = threading.Thread(target=self.server.run, name="web", daemon=True)
        self.thread.start()
        waited = 0.0
        while not self.server.started:
            if not self.thread.is_alive():
                raise OSError("the web server did not start (is its port in use?)")
            if waited > timeout:
                raise OSError("the web server did not start in time")
            threading.Event().wait(0.02)
            waited += 0.02
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)
        if self.own_engine:
            self.engine.dispose()
        self.writer.dispose()


def run(config: Config) -> int:
    """`siegel web`: the web side alone, in the foreground, until SIGTERM or SIGINT."""
    engine = read_engine(config.database_url)
    writer = make_engine(config.database_url)
    app = create_app(config, engine, writer=writer)
    server = uvicorn.Server(_uvicorn_config(app, config, None))
    log.info(
        "serving the web side on %s:%s (public address %s)",
        config.web.host,
        config.web.port,
        config.web.public_url,
    )
    try:
        server.run()  # handles SIGTERM and SIGINT itself; exits 1 if the port is taken
    finally:
        engine.dispose()
        writer.dispose()
    return 0 if server.started else 1
