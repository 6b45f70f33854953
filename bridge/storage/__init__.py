"""Storage: typed SQLAlchemy models and the engine. Knows nothing of HTTP."""
