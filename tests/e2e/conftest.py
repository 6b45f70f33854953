from __future__ import annotations

import pytest
from sqlalchemy import Engine

from bridge.config import Settings
from gost_jws import GostPrivateKey
from tests.e2e.world import Keys, World, build_world


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys(esia_provider=GostPrivateKey.generate(), esia_client=GostPrivateKey.generate())


@pytest.fixture
def world(settings: Settings, engine: Engine, keys: Keys) -> World:
    return build_world(settings, engine, keys)
