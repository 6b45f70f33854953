"""What the sign-in flows work with, handed to them by the route that starts a step.

A frozen value rather than the runtime container: a flow sees the database, the upstream
connectors and the few settings it needs, nothing else, and a test can build one by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.signin import SignInRules
from bridge.services.flow_state import PurgeSchedule
from bridge.upstream.registry import UpstreamRegistry


@dataclass(frozen=True)
class SignInDependencies:
    database: sessionmaker[Session]
    upstream: UpstreamRegistry
    # Outbound HTTP to the upstream providers.
    http: httpx.AsyncClient
    rules: SignInRules
    # Expired parked steps are purged now and then by whichever request parks a new one.
    purge: PurgeSchedule
    # The absolute redirect_uri registered at an upstream provider, by the provider's key.
    callback_url: Callable[[str], str]
    # Where a finished sign-in lands when nothing (or nothing safe) asked for another page.
    default_next: str
