"""auth_time from an upstream id_token: what the sign-in session and our id_token will say, and the
check that a forced login or a max_age we asked for really happened."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bridge.upstream.base import UpstreamError
from bridge.upstream.parsing import authentication_time

NOW = 1_750_000_000.0
STARTED = NOW - 30  # the authorization request left 30 s ago


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def flow(**asked: Any) -> dict[str, Any]:
    return {"force_login": False, "max_age": None, "started_at": STARTED, **asked}


def refused(claims: dict[str, Any], parked: dict[str, Any]) -> str:
    with pytest.raises(UpstreamError) as error:
        authentication_time("РСАА", claims, parked, NOW)
    return error.value.code


def test_auth_time_is_the_providers_and_iat_only_stands_in_for_it() -> None:
    assert authentication_time("РСАА", {"auth_time": NOW - 3600, "iat": NOW}, flow(), NOW) == at(NOW - 3600)
    assert authentication_time("РСАА", {"iat": NOW - 5}, flow(), NOW) == at(NOW - 5)
    assert authentication_time("РСАА", {}, flow(), NOW) is None
    # A provider clock a little ahead cannot make the session look fresher than now.
    assert authentication_time("РСАА", {"auth_time": NOW + 20}, flow(), NOW) == at(NOW)


@pytest.mark.parametrize("value", ["1750000000", True, None, -5, float("nan"), NOW + 3600])
def test_an_auth_time_that_is_not_a_past_moment_is_refused(value: object) -> None:
    assert refused({"auth_time": value, "iat": NOW}, flow()) == "upstream_rejected"


def test_a_forced_login_must_have_happened_after_we_asked() -> None:
    forced = flow(force_login=True)
    assert authentication_time("РСАА", {"auth_time": STARTED + 10}, forced, NOW) == at(STARTED + 10)
    # Whole seconds and clock skew: shortly before the request still counts.
    assert authentication_time("РСАА", {"auth_time": STARTED - 30}, forced, NOW) == at(STARTED - 30)
    assert refused({"auth_time": STARTED - 3600}, forced) == "login_required"
    # Without auth_time nothing shows the provider asked again; iat does not stand in here.
    assert refused({"iat": NOW}, forced) == "upstream_rejected"
    assert refused({"auth_time": NOW}, {**forced, "started_at": None}) == "login_required"


def test_max_age_is_held_against_auth_time() -> None:
    assert authentication_time("РСАА", {"auth_time": NOW - 500}, flow(max_age=600), NOW) == at(NOW - 500)
    assert refused({"auth_time": NOW - 3600}, flow(max_age=600)) == "login_required"
    assert refused({"auth_time": NOW - 120}, flow(max_age=0)) == "login_required"
    assert refused({"iat": NOW}, flow(max_age=600)) == "upstream_rejected"
