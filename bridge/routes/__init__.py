"""HTTP routes: parse the request, call a flow or service, render the answer. No SQL here."""

# `{name:id}` in the routes below: a record number of 1–9 digits (bridge/web/numbers.py). Registered
# here, before any route module compiles its paths.
from bridge.web import numbers as _numbers  # noqa: F401
