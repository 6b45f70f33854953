"""The bridge's Prometheus metrics, counted where the outcome is decided (flows, use cases, the OP).

Metric objects are module-level, as prometheus-client intends: a counter must be one object per
process whichever request increments it, and in multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set
by `bridge serve` before this module is imported when it runs more than one worker) each worker
writes its own files that a scrape sums. Labels take values from small fixed sets (provider keys,
outcome and refusal codes), never a person, a client's input or an address.

Gauges that describe the database (the mail outbox, the connection pool) are read at scrape time
by the /metrics route (`render`), not kept here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

SIGNINS = Counter(
    "bridge_signins",
    "Sign-in steps through an external ID, by provider and outcome (signed_in, needs_local_password, "
    "refused) and the refusal's reason",
    ["provider", "outcome", "reason"],
)
BINDINGS = Counter(
    "bridge_bindings",
    "First sign-ins binding an external ID to an account, by order (external_first, local_first, "
    "activation) and outcome (bound, refused) with the refusal's reason",
    ["order", "outcome", "reason"],
)
UPSTREAM_SECONDS = Histogram(
    "bridge_upstream_seconds",
    "Time spent on an upstream provider's step (start: discovery and authorization URL; finish: code "
    "redemption, token check, userinfo), by provider",
    ["provider", "step"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
UPSTREAM_ERRORS = Counter(
    "bridge_upstream_errors", "Failed upstream steps, by provider and error code", ["provider", "code"]
)
TOKEN_REQUESTS = Counter(
    "bridge_token_requests",
    "Requests to the OP's token endpoint, by grant type and outcome (issued, or the OAuth error code)",
    ["grant_type", "outcome"],
)
THROTTLE_HITS = Counter(
    "bridge_throttle_hits", "Attempts refused by a throttle, by which budget was spent", ["kind"]
)

_GRANT_TYPES = frozenset({"authorization_code", "refresh_token", "client_credentials"})


def count_signin(provider: str, outcome: str, reason: str = "") -> None:
    SIGNINS.labels(provider, outcome, reason).inc()


def count_binding(order: str, outcome: str, reason: str = "") -> None:
    BINDINGS.labels(order, outcome, reason).inc()


def count_throttle_hit(kind: str) -> None:
    THROTTLE_HITS.labels(kind).inc()


def count_token_request(grant_type: str | None, outcome: str) -> None:
    # The grant type is the client's input: anything unknown is one label value, not a new series.
    TOKEN_REQUESTS.labels(grant_type if grant_type in _GRANT_TYPES else "other", outcome).inc()


@contextmanager
def upstream_step(provider: str, step: str) -> Iterator[None]:
    """Time an upstream step; its failure is counted by the caller, who knows the error's code."""
    started = time.perf_counter()
    try:
        yield
    finally:
        UPSTREAM_SECONDS.labels(provider, step).observe(time.perf_counter() - started)


def count_upstream_error(provider: str, code: str) -> None:
    UPSTREAM_ERRORS.labels(provider, code).inc()


class ScrapeTimeGauges(Collector):
    """Values read when scraped: `name → (help, label name, {label value: number})`."""

    def __init__(self, gauges: Mapping[str, tuple[str, str, Mapping[str, float]]]) -> None:
        self.gauges = gauges

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, (documentation, label, values) in self.gauges.items():
            family = GaugeMetricFamily(name, documentation, labels=[label])
            for value_label, value in values.items():
                family.add_metric([value_label], value)
            yield family


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROCESS_DIR_VARIABLE))


def render(gauges: ScrapeTimeGauges) -> tuple[bytes, str]:
    """The exposition text: this process's (or every worker's) counters and the scrape-time gauges."""
    registry = CollectorRegistry()
    if multiprocess():
        from prometheus_client import multiprocess as prometheus_multiprocess

        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    registry = CollectorRegistry()
    registry.register(gauges)
    return body + generate_latest(registry), CONTENT_TYPE_LATEST
