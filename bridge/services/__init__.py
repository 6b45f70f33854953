"""Domain services: rules of the directory, credentials and federation.

They take a SQLAlchemy Session, never see a Request, and never commit: the caller owns the
transaction so that a refusal leaves the database as it was.
"""
