"""Choosing the role and organization for this sign-in session, and signing out."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.runtime import BridgeRuntime
from bridge.services.audit import AuditContext, record
from bridge.services.roles import ROLES, Role, role_title
from bridge.services.signin_sessions import active_roles, choose_session_role, end_signin_session
from bridge.storage.database import transaction
from bridge.storage.models import Organization, SignInSession


@dataclass(frozen=True)
class RoleOption:
    role_assignment_id: int
    role_title: str
    # "руководитель" or "сотрудник", as the person sees it at the first sign-in in the seed.
    status_title: str
    organization_name: str


def role_options(runtime: BridgeRuntime, staff_id: int) -> list[RoleOption]:
    with runtime.db() as db:
        options = []
        for assignment in active_roles(db, staff_id):
            organization = db.get(Organization, assignment.organization_id)
            is_head = ROLES[Role(assignment.role)].is_head
            options.append(
                RoleOption(
                    role_assignment_id=assignment.id,
                    role_title=role_title(assignment.role),
                    status_title="руководитель" if is_head else "сотрудник",
                    organization_name=organization.name if organization else "",
                )
            )
        return options


def choose_role(runtime: BridgeRuntime, audit: AuditContext, signin_session_id: str, role_id: int) -> bool:
    """Set the session's role if it is one of the person's active roles."""
    with transaction(runtime.db) as db:
        session = db.get(SignInSession, signin_session_id)
        if session is None:
            return False
        chosen = next((role for role in active_roles(db, session.staff_id) if role.id == role_id), None)
        if chosen is None:
            return False
        choose_session_role(db, session, chosen)
        record(
            db, audit, "signin.role_chosen", "success",
            subject_staff_id=session.staff_id, organization_id=chosen.organization_id, role=chosen.role,
        )
        return True


def sign_out(runtime: BridgeRuntime, audit: AuditContext, signin_session_id: str) -> None:
    with transaction(runtime.db) as db:
        session = end_signin_session(db, signin_session_id)
        if session is not None:
            record(db, audit, "signin.logout", "success", subject_staff_id=session.staff_id)
