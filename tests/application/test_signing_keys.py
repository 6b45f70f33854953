"""Signing keys: rotation keeps the old key published; technical support only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.signing_keys import list_signing_keys, rotate_signing_keys
from bridge.services.errors import DomainError
from bridge.services.signing_keys import KeyState
from tests.application.conftest import SUPPORT, as_
from tests.services.directory import Directory


def test_a_rotation_keeps_the_old_key_published(db_factory: sessionmaker[Session]) -> None:
    [first] = rotate_signing_keys(db_factory, SUPPORT, ("ES256",), keep_published=timedelta(days=7))
    [second] = rotate_signing_keys(db_factory, SUPPORT, ("ES256",), keep_published=timedelta(days=7))
    states = {key.kid: key.state for key in list_signing_keys(db_factory, SUPPORT)}
    assert states == {first.kid: KeyState.PUBLISHED, second.kid: KeyState.ACTIVE}
    rotate_signing_keys(db_factory, SUPPORT, ("ES256",), keep_published=timedelta(0))
    assert {key.kid: key.state for key in list_signing_keys(db_factory, SUPPORT)}[second.kid] == KeyState.DROPPED


def test_staff_acting_at_the_cli_rotate_no_keys(db_factory: sessionmaker[Session], directory: Directory) -> None:
    with pytest.raises(DomainError) as refused:
        rotate_signing_keys(db_factory, as_(directory, "dept_a"), ("ES256",), keep_published=timedelta(days=7))
    assert refused.value.code == "support_only"
    assert list_signing_keys(db_factory, SUPPORT) == ()
