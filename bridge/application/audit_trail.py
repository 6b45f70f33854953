"""The hash-chained audit trail for technical support at the CLI: verify, anchor, export, purge."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import Principal, audit_context_of, require_cli_support
from bridge.services import audit_export, audit_retention
from bridge.services.audit_anchors import AnchorSummary
from bridge.services.audit_chain import anchor_head
from bridge.services.audit_export import ExportFormat, ExportSummary
from bridge.services.audit_retention import PurgeResult, purge_cutoff
from bridge.services.audit_settings import AuditSettings
from bridge.services.audit_verification import ChainReport, verify_chain
from bridge.services.errors import InvalidInput
from bridge.storage.database import transaction

SUPPORT_ONLY = "Журналом аудита занимается техническая поддержка: выполните команду без --acting-as."


def verify_audit_trail(
    database: sessionmaker[Session],
    principal: Principal,
    *,
    trusted_keys: Mapping[str, Mapping[str, Any]] | None = None,
    from_last_anchor: bool = False,
) -> ChainReport:
    require_cli_support(principal, SUPPORT_ONLY)
    with transaction(database) as db:
        return verify_chain(db, trusted_keys=trusted_keys, from_last_anchor=from_last_anchor)


def anchor_audit_trail(database: sessionmaker[Session], principal: Principal) -> AnchorSummary:
    require_cli_support(principal, SUPPORT_ONLY)
    with transaction(database) as db:
        anchor = anchor_head(db)
        if anchor is None:
            raise InvalidInput("audit_empty", "Журнал аудита пуст: закреплять нечего.")
        return AnchorSummary.of(anchor)


def export_audit_trail(
    database: sessionmaker[Session],
    principal: Principal,
    out: TextIO,
    format: ExportFormat,
    *,
    since: datetime | None = None,
    after_seq: int | None = None,
) -> ExportSummary:
    require_cli_support(principal, SUPPORT_ONLY)
    with transaction(database) as db:
        return audit_export.export_audit_trail(db, out, format, since=since, after_seq=after_seq)


def purge_audit_trail(
    database: sessionmaker[Session], principal: Principal, settings: AuditSettings, before: datetime | None
) -> PurgeResult:
    require_cli_support(principal, SUPPORT_ONLY)
    cutoff = purge_cutoff(settings, before)
    return audit_retention.purge_audit_trail(database, audit_context_of(principal), cutoff)
