"""The checks every connector shares on a provider's redirect back (bridge.upstream.parsing)."""

from __future__ import annotations

import httpx
import pytest

from bridge.upstream.base import UpstreamError
from bridge.upstream.parsing import authorization_code, json_object, refuse_nul

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


@pytest.mark.parametrize(
    "answer",
    [
        {"family_name": "Кузне\x00цов"},
        {"sub": "x", "organizations": [{"name": "Школа", "roles": ["a", "b\x00"]}]},
        {"nested": ({"deeper": [[{"x\x00": 1}]]},)},
    ],
    ids=["top", "nested-value", "nested-key"],
)
def test_a_nul_anywhere_in_an_answer_refuses_it_as_malformed(answer: dict[str, object]) -> None:
    with pytest.raises(UpstreamError) as refused:
        refuse_nul("РСАА", "userinfo", {"sub": "x"}, answer)
    assert refused.value.code == "upstream_rejected" and "NUL" in refused.value.detail
    assert "\x00" not in refused.value.detail and "\x00" not in refused.value.message


def test_an_answer_without_nul_passes_and_a_deep_one_does_not_exhaust_the_stack() -> None:
    deep: object = "end"
    for _ in range(100_000):
        deep = [deep]
    refuse_nul("РСАА", "userinfo", {"sub": "x", "n": 1, "ok": True, "none": None, "list": ["а", {"б": "в"}]}, deep)


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000])
def test_an_answer_nested_deeper_than_the_parser_goes_is_an_unavailable_provider_not_a_crash(body: bytes) -> None:
    """json's parser raises RecursionError on deep nesting: a provider's answer like that is refused
    as not JSON (the provider-unavailable page), never a 500."""
    with pytest.raises(UpstreamError):
        json_object(httpx.Response(200, content=body), "РСАА", "token answer")
