"""The [scoring] configuration: the shipped file states every default, values reach the
policy, and a wrong value is reported naming its key."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path

import pytest

from mailflow.config import ConfigError, load, parse
from scoring import ScoringPolicy

REPO = Path(__file__).resolve().parents[1]


def test_the_shipped_config_states_every_scoring_key_with_its_default() -> None:
    """config.toml's [scoring] lists each of the policy's keys once, with its default,
    and the nightly recompute time."""
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    section = text[text.index("[scoring]") :]
    keys = re.findall(r"^(\w+) = ", section, re.MULTILINE)
    assert sorted(keys) == sorted([*ScoringPolicy().to_flat(), "recompute_at"])
    config = load(REPO / "config.toml", environ={})
    assert config.scoring.policy == ScoringPolicy()
    assert config.scoring.recompute_time == time(3, 30)


def test_scoring_values_reach_the_policy(tmp_path: Path) -> None:
    """Every key given overrides its default; the others keep theirs."""
    config = parse(
        {"scoring": {"window_months": 6, "gold_min_cases": 80, "prior_weight": 2,
                     "recompute_at": "01:05"}},
        tmp_path,
        {},
    )  # fmt: skip
    policy = config.scoring.policy
    assert (policy.window_months, policy.gold.min_cases, policy.prior_weight) == (6, 80, 2)
    assert policy.silber == ScoringPolicy().silber
    assert config.scoring.recompute_time == time(1, 5)


@pytest.mark.parametrize(
    "scoring, key, problem",
    [
        ({"gold_min_cases": 5}, "[scoring] gold_min_cases", "laxer than silber"),
        ({"confidence": 1.5}, "[scoring] confidence", "between 0 and 1"),
        ({"window_months": 0}, "[scoring] window_months", "at least 1"),
        ({"bronze_min_rating": "gut"}, "[scoring] bronze_min_rating", "expected a number"),
        ({"gold_min_stars": 5}, "[scoring] gold_min_stars", "unknown key"),
        ({"recompute_at": "3 Uhr"}, "[scoring] recompute_at", "HH:MM"),
        ({"recompute_at": 330}, "[scoring] recompute_at", "expected a string"),
    ],
)
def test_a_wrong_scoring_value_names_its_key(
    scoring: dict, key: str, problem: str, tmp_path: Path
) -> None:
    """The operator reads which key is wrong and why, as one line."""
    with pytest.raises(ConfigError) as raised:
        parse({"scoring": scoring}, tmp_path, {})
    assert raised.value.key == key
    assert problem in str(raised.value)


def test_a_scoring_section_that_is_no_table_is_refused(tmp_path: Path) -> None:
    """`scoring = 3` is not a [scoring] table."""
    with pytest.raises(ConfigError, match=r"\[scoring\]: expected a table"):
        parse({"scoring": 3}, tmp_path, {})
