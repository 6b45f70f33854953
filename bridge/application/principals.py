"""Who a use case acts for: an `Actor` already resolved (a signed-in administrator), or `ActingAs`.

`ActingAs` is what the CLI knows before it touches the database: `--acting-as LOGIN`, or nobody
(technical support). A use case resolves it inside its own unit of work, so a refused actor (an
unknown or blocked login, no role today) is audited as the refusal of that very operation, and
the roles are judged in the same transaction as the operation.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bridge.services.actors import Actor, actor_for_login, actor_for_session_role, cli_support_actor
from bridge.services.audit import CLI_SUPPORT_ACTOR, AuditContext
from bridge.services.errors import PermissionDenied
from bridge.services.roles import ROLES, Role


@dataclass(frozen=True)
class ActingAs:
    """A staff member's login to act as, or None for technical support at the CLI."""

    login: str | None = None


Principal = Actor | ActingAs

NO_ISSUING_ROLE = (
    "В роли, выбранной для этого входа, нельзя выдавать учётные записи сотрудникам. "
    "Если у вас есть другая роль, войдите в ней."
)


def audit_context_of(principal: Principal) -> AuditContext:
    if isinstance(principal, Actor):
        return principal.audit_context
    return AuditContext(actor=principal.login or CLI_SUPPORT_ACTOR)


def is_cli_support(principal: Principal) -> bool:
    """Technical support at the CLI, known without reading the directory."""
    if isinstance(principal, Actor):
        return principal.is_cli_support
    return principal.login is None


def require_cli_support(principal: Principal, message: str) -> None:
    """Work outside the issuing hierarchy: technical support at the CLI only ("support_only")."""
    if not is_cli_support(principal):
        raise PermissionDenied("support_only", message)


def require_support(db: Session, principal: Principal, message: str) -> Actor:
    """Technical support: at the CLI without --acting-as, or a person acting in the support role
    (its pages, or `--acting-as` a support login). The same rule for both front ends."""
    actor = resolve(db, principal)
    if not actor.is_cli_support and not any(acting.role is Role.SUPPORT for acting in actor.roles):
        raise PermissionDenied("support_only", message)
    return actor


def resolve(db: Session, principal: Principal) -> Actor:
    if isinstance(principal, Actor):
        return principal
    return actor_for_login(db, principal.login) if principal.login else cli_support_actor()


def administrator(
    database: sessionmaker[Session], staff_id: int, role_assignment_id: int | None, *, address: str | None
) -> Actor:
    """A signed-in person acting in the session's role, if that role issues something; else a refusal.

    The administration pages are for roles that issue credentials; the CLI has no such gate
    (`bridge staff list` as a deputy lists nobody).
    """
    with database() as db:
        if role_assignment_id is None:
            raise PermissionDenied("role_issues_nothing", NO_ISSUING_ROLE)
        actor = actor_for_session_role(db, staff_id, role_assignment_id, address=address)
    if not any(ROLES[acting.role].issues for acting in actor.roles):
        raise PermissionDenied("role_issues_nothing", NO_ISSUING_ROLE)
    return actor


def signed_in_person(staff_id: int, login: str, *, address: str | None) -> Actor:
    """A signed-in person acting on their own account (the profile page): no role's powers."""
    return Actor(login=login, staff_id=staff_id, roles=(), address=address)
