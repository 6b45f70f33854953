"""`bridge logout-deliveries`: the back-channel logout queue's state and a retry (technical support only)."""

from __future__ import annotations

import argparse
from typing import Any

from bridge.application import logout_deliveries
from bridge.cli.directory import acting_as, directory_database
from bridge.cli.output import emit, visible
from bridge.config import Settings
from bridge.services.logout_deliveries import DeliveryStatus
from bridge.services.moscow_time import moscow_datetime

STATUS_TITLES = {DeliveryStatus.QUEUED: "ждут отправки", DeliveryStatus.DELIVERED: "доставлено",
                 DeliveryStatus.FAILED: "не удалось доставить"}


def register(commands: argparse._SubParsersAction[Any]) -> None:
    deliveries = commands.add_parser(
        "logout-deliveries", help="back-channel logout tokens owed to relying apps: state, retry"
    )
    actions = deliveries.add_subparsers(dest="logout_deliveries_command", required=True)
    status = actions.add_parser("status", help="how many logout tokens wait, went, failed")
    status.set_defaults(handler=run_status)
    retry = actions.add_parser("retry", help="queue the failed deliveries again (a running bridge sends them)")
    retry.add_argument("--client", metavar="CLIENT_ID", dest="client_id", help="only this app's deliveries")
    retry.set_defaults(handler=run_retry)


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        state = logout_deliveries.delivery_queue_state(database, acting_as(args))
    lines = [f"{STATUS_TITLES[status]}: {count}" for status, count in state.counts.items()]
    lines += [
        f"  #{failed.id} {visible(failed.client_id)} от {moscow_datetime(failed.created_at)} (МСК), "
        f"попыток {failed.attempts}: {visible(failed.last_error or '')}"
        for failed in state.failed
    ]
    data = {
        "counts": {status.value: count for status, count in state.counts.items()},
        "failed": [{"id": failed.id, "client_id": failed.client_id, "created_at": failed.created_at.isoformat(),
                    "attempts": failed.attempts, "last_error": failed.last_error} for failed in state.failed],
    }
    emit(args, data, "\n".join(lines))
    return 0


def run_retry(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        retried = logout_deliveries.retry_failed_deliveries(database, acting_as(args), args.client_id)
    emit(
        args, {"retried": retried},
        f"Снова в очереди: {retried}. Работающий мост отправит их при следующем проходе (до 15 секунд).",
    )
    return 0
