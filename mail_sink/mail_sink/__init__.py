"""A mail sink for testers and the demo: an SMTP server on loopback and an inbox page to read it.

Nothing is delivered anywhere: every message the bridge sends is kept in memory (the newest
`capacity`) and shown at `/` (Russian pages) and `/api/messages` (JSON, for tests).
"""
