"""Identity-federation bridge for Russian education information systems."""
