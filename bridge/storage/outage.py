"""Which database errors mean «the database cannot be had now» rather than «the bridge is wrong».

Dropped connections (a restart, an administrator's pg_terminate_backend), refused connections,
pool exhaustion and locks not granted in time are outages: the unit of work has rolled back, and
the caller is told to come back (503). A constraint violation or a bad statement is not: it stays a
500, so that it is seen and fixed.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# SQLSTATE classes and codes of PostgreSQL that mean "not now": connection exceptions (08),
# insufficient resources (53), operator intervention (57: admin shutdown, crash shutdown, query
# canceled by statement_timeout), lock not available (55P03), serialization/deadlock (40001, 40P01).
_PG_TRANSIENT_CLASSES = ("08", "53", "57")
_PG_TRANSIENT_CODES = frozenset({"55P03", "40001", "40P01"})
_SQLITE_SCHEMA_ERRORS = ("no such table", "no such column", "near ")


def is_outage(error: BaseException) -> bool:
    if isinstance(error, PoolTimeoutError):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    sqlstate = getattr(error.orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate.startswith(_PG_TRANSIENT_CLASSES) or sqlstate in _PG_TRANSIENT_CODES
    # No SQLSTATE: a connection that could not be made or was lost (psycopg), or SQLite's "database is
    # locked" after the busy timeout. SQLite also reports a missing table as operational: that is a
    # schema never migrated, a bug of the deployment, and stays a 500.
    return isinstance(error, OperationalError) and not str(error.orig).startswith(_SQLITE_SCHEMA_ERRORS)


# How long a PostgreSQL statement waits for a row or table lock before giving up with 55P03 (then 503):
# a request never hangs behind a long transaction or a stuck session (issue 13).
POSTGRES_LOCK_TIMEOUT = "5s"


def postgres_connect_args() -> dict[str, str]:
    """libpq options every PostgreSQL connection of the bridge starts with."""
    return {"options": f"-c lock_timeout={POSTGRES_LOCK_TIMEOUT}"}
