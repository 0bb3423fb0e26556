"""Sandboxes served by the test kit: options the sandbox does not take are refused by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hookline import ConfigurationError


def test_an_option_the_sandbox_does_not_take_is_a_hookline_error(
    served: Callable[..., Any],
) -> None:
    with (
        pytest.raises(
            ConfigurationError, match="the planradar sandbox cannot take these options"
        ) as refused,
        served("planradar", nope=1),
    ):
        pass
    assert "'nope'" in str(refused.value)


def test_an_option_the_sandbox_takes_is_given_to_it(served: Callable[..., Any]) -> None:
    with served("planradar", rate_limit=5) as planradar:
        assert planradar.state is not None
