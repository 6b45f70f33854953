"""A local Gosuslugi (ESIA dialect) and a regional OIDC provider (РСАА) for testers and tests.

Never imports ``bridge``. Entry points: ``create_app(MockConfig(...))`` and the ``idp-mock`` script.
"""

from __future__ import annotations

from .app import create_app
from .config import EsiaClient, MockConfig, RsaaClient

__all__ = ["EsiaClient", "MockConfig", "RsaaClient", "create_app"]
