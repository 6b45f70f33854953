"""The keyring a test bridge wraps its signing keys with (no KEK configured: the development one)."""

from __future__ import annotations

from bridge.config import Settings
from bridge.services.key_encryption import Keyring


def keyring_of(settings: Settings) -> Keyring:
    return settings.signing_keys.policy(settings).keyring
