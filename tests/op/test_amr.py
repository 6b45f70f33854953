"""`amr` carries RFC 8176 values only, whatever the upstream provider said."""

from __future__ import annotations

import pytest

from bridge.op.amr import REGISTERED, rfc8176_amr


@pytest.mark.parametrize(
    ("upstream", "expected"),
    [
        (["fed", "pwd"], ["pwd"]),  # what sessions store: our "fed" marker is not a registered value
        (["fed", "PWD"], ["pwd"]),  # ESIA, password
        (["DS"], ["hwk"]),  # ESIA, electronic signature on a token
        (["fed", "password"], ["pwd"]),  # the Moscow-style regional directory
        (["pwd", "sms"], ["pwd", "sms", "mfa"]),  # two kinds of factor
        (["pwd", "otp", "mfa"], ["pwd", "otp", "mfa"]),
        (["pwd", "pin", "kba"], ["pwd", "pin", "kba"]),  # all knowledge: not multi-factor
        (["esia", "rsaa", "urn:esia:amd", "", " "], []),  # provider names and junk are dropped
        (["PWD", "pwd", "password"], ["pwd"]),
        (["TOTP"], ["otp"]),
    ],
)
def test_upstream_methods_map_to_registered_values(upstream: list[str], expected: list[str]) -> None:
    assert rfc8176_amr(upstream) == expected
    assert set(rfc8176_amr(upstream)) <= REGISTERED
