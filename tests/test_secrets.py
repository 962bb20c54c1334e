"""The signing secret of case and bounce addresses is never empty or short.

A secret from `[siegel] secret`, `SIEGEL_SECRET` or the file `<data_dir>/secret` must
have at least 32 bytes of UTF-8 text (bytes, not characters: the HMAC key is the
bytes); anything less stops the start with one line naming where it came from, exit 2
(75 for `siegel ingest`, tests/test_ingest_exit.py). `secret = ""` in the file is the
documented "not here": SIEGEL_SECRET or a generated secret is used, never an empty one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mailflow.config import (
    MIN_SECRET_BYTES,
    Config,
    ConfigError,
    ensure_secret,
    parse,
    warn_if_others_may_read,
)
from tests.conftest import TEST_DOMAIN

SIEGEL = Path(sys.executable).with_name("siegel")
REPO = Path(__file__).resolve().parents[1]
LONG = "k" * MIN_SECRET_BYTES


def config_with(
    tmp_path: Path, secret: str | None = None, environ: dict[str, str] | None = None
) -> Config:
    """A checked configuration with data in tmp_path and the given `[siegel] secret`."""
    siegel = {"domain": TEST_DOMAIN, "data_dir": "data"}
    if secret is not None:
        siegel["secret"] = secret
    return parse({"siegel": siegel}, tmp_path, environ or {})


@pytest.mark.parametrize(
    ("secret", "accepted"),
    [
        ("k" * 32, True),
        ("k" * 31, False),
        ("ä" * 16, True),  # 16 characters, 32 bytes
        ("ä" * 15 + "k", False),  # 16 characters, 31 bytes
        (" " * 40, False),
    ],
    ids=["32-bytes", "31-bytes", "16-umlauts", "31-bytes-in-16-characters", "blank"],
)
def test_config_secret_needs_32_bytes_of_utf8(tmp_path: Path, secret: str, accepted: bool) -> None:
    """`[siegel] secret` is counted in UTF-8 bytes; under 32, or blank, is refused by name."""
    if accepted:
        assert config_with(tmp_path, secret).secret_bytes == secret.encode()
    else:
        with pytest.raises(ConfigError) as refused:
            config_with(tmp_path, secret)
        assert refused.value.key == "[siegel] secret"


@pytest.mark.parametrize("value", ["", "short-secret"], ids=["empty", "short"])
def test_secret_variable_empty_or_short_is_refused(tmp_path: Path, value: str) -> None:
    """SIEGEL_SECRET set but empty or short is refused naming SIEGEL_SECRET, even when the
    file's own secret would do: an empty variable never falls back silently."""
    with pytest.raises(ConfigError) as refused:
        config_with(tmp_path, LONG, {"SIEGEL_SECRET": value})
    assert refused.value.key == "SIEGEL_SECRET"


def test_secret_variable_overrides_the_file(tmp_path: Path) -> None:
    """A long enough SIEGEL_SECRET is the key, whatever the file says."""
    other = "v" * 40
    assert config_with(tmp_path, LONG, {"SIEGEL_SECRET": other}).secret_bytes == other.encode()


def test_generated_secret_is_long_and_kept(tmp_path: Path) -> None:
    """Without a secret one is generated once: 32 bytes or more, the same on every start."""
    first = ensure_secret(config_with(tmp_path, ""))
    again = ensure_secret(config_with(tmp_path))
    assert len(first.secret_bytes) >= MIN_SECRET_BYTES
    assert again.secret_bytes == first.secret_bytes
    assert (tmp_path / "data" / "secret").read_text().strip().encode() == first.secret_bytes


@pytest.mark.parametrize(
    "content",
    [b"", b"\n  \n", b"k" * 31 + b"\n", b"\xff" * 40],
    ids=["empty", "blank", "short", "binary"],
)
def test_secret_file_empty_short_or_not_text_is_refused(tmp_path: Path, content: bytes) -> None:
    """A secret file that is empty, blank, under 32 bytes or not UTF-8 stops the start
    with its path named: it is never used as a signing key."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "secret").write_bytes(content)
    with pytest.raises(ConfigError) as refused:
        ensure_secret(config_with(tmp_path))
    assert refused.value.key == str(tmp_path / "data" / "secret")
    assert (tmp_path / "data" / "secret").read_bytes() == content  # left for the operator


def run(
    config: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SIEGEL_")}
    return subprocess.run(
        [str(SIEGEL), "--config", str(config), *args],
        env=environment | (env or {}),
        capture_output=True,
        cwd=config.parent,
        timeout=120,
        check=False,
    )


def test_a_command_refuses_an_empty_secret_file_with_one_line_and_exit_2(tmp_path: Path) -> None:
    """`siegel mails` with an empty secret file exits 2 with one line naming the file."""
    config = tmp_path / "config.toml"
    config.write_text(f'[siegel]\ndomain = "{TEST_DOMAIN}"\ndata_dir = "data"\n', encoding="utf-8")
    (tmp_path / "data").mkdir(mode=0o700)  # neither it nor the file too open:
    (tmp_path / "data" / "secret").write_bytes(b"")
    (tmp_path / "data" / "secret").chmod(0o600)  # no warning line besides
    done = run(config, "mails")
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert str(tmp_path / "data" / "secret").encode() in line and b"empty" in line


def test_a_command_refuses_a_short_secret_variable_with_exit_2(tmp_path: Path) -> None:
    """`siegel mails` with a short SIEGEL_SECRET exits 2 with one line naming it."""
    config = tmp_path / "config.toml"
    config.write_text(f'[siegel]\ndomain = "{TEST_DOMAIN}"\n', encoding="utf-8")
    done = run(config, "mails", env={"SIEGEL_SECRET": "geheim"})
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(b"siegel: configuration error: SIEGEL_SECRET:") and b"6 bytes" in line


def test_the_demo_config_still_starts(tmp_path: Path) -> None:
    """The shipped config.toml (`secret = ""`) starts and generates a usable secret."""
    shutil.copy(REPO / "config.toml", tmp_path / "config.toml")
    done = run(tmp_path / "config.toml", "mails")
    assert done.returncode == 0, done.stderr
    assert len((tmp_path / "var" / "secret").read_bytes().strip()) >= MIN_SECRET_BYTES


def test_a_config_file_with_a_secret_that_others_may_read_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """When a service starts: a config file holding the secret, a password or the
    operator's hash, readable by group or others, gets one warning naming the keys and
    the chmod; at 0600, or without any secret, nothing is said."""
    path = tmp_path / "config.toml"
    secret = "s" * MIN_SECRET_BYTES
    path.write_text(f'[siegel]\nsecret = "{secret}"\n[relay]\npassword = "pw"\n', encoding="utf-8")
    path.chmod(0o644)
    with caplog.at_level("WARNING", logger="mailflow.config"):
        warn_if_others_may_read(path)
        path.chmod(0o600)
        warn_if_others_may_read(path)
        path.write_text('[siegel]\ndomain = "siegel.test"\n', encoding="utf-8")
        path.chmod(0o644)
        warn_if_others_may_read(path)
    [warning] = caplog.messages
    assert "holds a secret (password, secret)" in warning and f"chmod 600 {path}" in warning
    assert secret not in warning
