"""The checks every connector shares on a provider's redirect back (bridge.upstream.parsing)."""

from __future__ import annotations

import pytest

from bridge.upstream.base import UpstreamError
from bridge.upstream.parsing import authorization_code

ISSUER = "https://rsaa.test"
PARKED = {"state": "s" * 43, "issuer": ISSUER}


def test_the_code_comes_back_with_the_parked_state() -> None:
    assert authorization_code("РСАА", ISSUER, {"code": "c", "state": "s" * 43}, PARKED) == "c"


@pytest.mark.parametrize("state", ["t" * 43, "", None, "s" * 42])
def test_a_state_other_than_the_parked_one_is_refused(state: str | None) -> None:
    params = {"code": "c", **({"state": state} if state is not None else {})}
    with pytest.raises(UpstreamError) as refused:
        authorization_code("РСАА", ISSUER, params, PARKED)
    assert refused.value.code == "state_mismatch"


def test_a_flow_parked_for_another_issuer_is_refused() -> None:
    with pytest.raises(UpstreamError):
        authorization_code("РСАА", ISSUER, {"code": "c", "state": "s" * 43}, {**PARKED, "issuer": "https://x.test"})
