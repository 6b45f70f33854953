"""The delegated issuing hierarchy of the seed: who may issue which role in which organization.

Technical support issues the two department roles anywhere; a department issues directors and
heads of the organizations under it (Organization.parent_id); a director or head issues the
subordinate roles of their own organization. An organization out of the registry issues nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.orm import Session

from bridge.services.actors import ActingRole, Actor
from bridge.services.errors import DomainError, InvalidInput, PermissionDenied
from bridge.services.roles import ROLES, Role, role_title
from bridge.storage.enums import RegistryStatus
from bridge.storage.models import Organization, RoleAssignment, StaffMember

_DEPARTMENT_ROLES = frozenset({Role.EDUCATION_DEPARTMENT, Role.PRESCHOOL_DEPARTMENT})


def _acting_roles(actor: Actor) -> tuple[ActingRole | None, ...]:
    # None stands for technical support at the CLI: the support role, held nowhere in particular.
    return (None,) if actor.is_cli_support else actor.roles


def _power(acting: ActingRole | None) -> Role:
    return Role.SUPPORT if acting is None else acting.role


# The operator at the command line (access to the server itself) starts the hierarchy: it issues
# technical support's own accounts too. Support on the pages does not, so one support account can
# never mint another; docs/security.md says so.
_OPERATOR_ISSUES = ROLES[Role.SUPPORT].issues | {Role.SUPPORT}


def _issued_by(acting: ActingRole | None) -> frozenset[Role]:
    return _OPERATOR_ISSUES if acting is None else ROLES[acting.role].issues


def role_fits_organization(role: Role, organization: Organization) -> bool:
    return organization.kind in ROLES[role].organization_kinds


def issuable_roles(actor: Actor) -> list[Role]:
    powers = {issued for acting in _acting_roles(actor) for issued in _issued_by(acting)}
    return [role for role in Role if role in powers]


def check_organization_accepts(organization: Organization, role: Role) -> None:
    """Refusals that do not depend on who asks."""
    if organization.registry_status != RegistryStatus.ACTIVE:
        raise PermissionDenied(
            "organization_inactive",
            f"Организация «{organization.name}» исключена из реестра: учётные записи в ней не выдаются.",
            organization_id=organization.id,
        )
    if not role_fits_organization(role, organization):
        raise InvalidInput(
            "role_not_for_organization_kind",
            f"Роль «{role_title(role)}» не бывает в организации такого вида («{organization.name}»).",
            organization_id=organization.id,
            role=role.value,
        )


def _refusal(
    db: Session, acting: ActingRole | None, role: Role, organization: Organization
) -> DomainError | None:
    power = _power(acting)
    if role not in _issued_by(acting):
        return PermissionDenied(
            "role_not_permitted",
            f"Роль «{role_title(role)}» выдаёт вышестоящий администратор, а не «{role_title(power)}».",
            role=role.value,
        )
    if acting is None or power is Role.SUPPORT:
        return None
    own = db.get(Organization, acting.organization_id)
    if own is None or own.registry_status != RegistryStatus.ACTIVE:
        return PermissionDenied(
            "actor_organization_inactive",
            "Ваша организация исключена из реестра: выдавать учётные записи от её имени нельзя.",
        )
    if power in _DEPARTMENT_ROLES:
        if organization.parent_id != own.id:
            return PermissionDenied(
                "outside_district",
                f"Организация «{organization.name}» не подчинена управлению «{own.name}»: "
                "выдавать в ней роли нельзя.",
                organization_id=organization.id,
            )
        return None
    if organization.id != own.id:
        return PermissionDenied(
            "outside_organization",
            f"Роли можно выдавать только в своей организации («{own.name}»).",
            organization_id=organization.id,
        )
    return None


def _first_refusal(refusals: list[DomainError]) -> DomainError:
    # A relation refusal ("not under your department") says more than "not your role to issue".
    specific = [refusal for refusal in refusals if refusal.code != "role_not_permitted"]
    return (specific or refusals)[0]


def authorize_issue(db: Session, actor: Actor, role: Role, organization: Organization) -> ActingRole | None:
    """The acting role that permits issuing `role` in `organization`; raises the refusal otherwise.

    Returns None when technical support at the CLI acts.
    """
    check_organization_accepts(organization, role)
    refusals: list[DomainError] = []
    for acting in _acting_roles(actor):
        refusal = _refusal(db, acting, role, organization)
        if refusal is None:
            return acting
        refusals.append(refusal)
    if not refusals:
        raise PermissionDenied("role_not_permitted", "У вас нет роли, дающей право выдавать учётные записи.")
    raise _first_refusal(refusals)


def may_manage_role(db: Session, actor: Actor, assignment: RoleAssignment) -> bool:
    organization = db.get(Organization, assignment.organization_id)
    if organization is None:
        return False
    try:
        role = Role(assignment.role)
    except ValueError:
        return False
    return any(_refusal(db, acting, role, organization) is None for acting in _acting_roles(actor))


def manages_any(db: Session, actor: Actor, assignments: Iterable[RoleAssignment]) -> bool:
    """Whether the actor is above at least one of these roles (technical support at the CLI: always)."""
    return actor.is_cli_support or any(may_manage_role(db, actor, assignment) for assignment in assignments)


def authorize_card(db: Session, actor: Actor, staff: StaffMember) -> None:
    """A person's card, and any action on it, is for administrators above at least one of their roles."""
    if not manages_any(db, actor, staff.roles):
        raise PermissionDenied(
            "staff_not_managed",
            f"Сотрудник «{staff.login}» не относится к вашим подчинённым ролям.",
            login=staff.login,
        )


def authorize_manage(db: Session, actor: Actor, assignments: Iterable[RoleAssignment]) -> None:
    """A reset hands over the whole account, so the actor must be above every role it holds."""
    foreign = [assignment for assignment in assignments if not may_manage_role(db, actor, assignment)]
    if foreign:
        titles = ", ".join(sorted({role_title(assignment.role) for assignment in foreign}))
        raise PermissionDenied(
            "staff_not_managed",
            f"У сотрудника есть роли, которыми вы не управляете ({titles}): "
            "обратитесь к вышестоящему администратору.",
        )


def issuable_organizations(db: Session, actor: Actor) -> list[Organization]:
    """Active organizations in which the actor may issue at least one role."""
    found: dict[int, Organization] = {}
    for acting in _acting_roles(actor):
        power = _power(acting)
        issued = _issued_by(acting)
        if not issued:
            continue
        query = select(Organization).where(Organization.registry_status == RegistryStatus.ACTIVE)
        if acting is not None and power is not Role.SUPPORT:
            own = db.get(Organization, acting.organization_id)
            if own is None or own.registry_status != RegistryStatus.ACTIVE:
                continue
            if power in _DEPARTMENT_ROLES:
                query = query.where(Organization.parent_id == own.id)
            else:
                query = query.where(Organization.id == own.id)
        for organization in db.scalars(query):
            if any(role_fits_organization(role, organization) for role in issued):
                found[organization.id] = organization
    return sorted(found.values(), key=lambda organization: (organization.name, organization.id))


def offerable_roles(db: Session, actor: Actor) -> list[Role]:
    """Roles the actor may issue in at least one of their organizations (what a form offers)."""
    organizations = issuable_organizations(db, actor)
    return [
        role
        for role in issuable_roles(actor)
        if any(role_fits_organization(role, organization) for organization in organizations)
    ]


# --- the same rule as SQL, for lists at the scale of a district ------------------------------


def managed_assignment_clause(db: Session, actor: Actor) -> ColumnElement[bool]:
    """A condition on `RoleAssignment` true exactly where `may_manage_role` is: the staff list
    filters a district's people in the database rather than loading each to ask the rule.
    `tests/services/test_staff_search.py` checks the two agree on every assignment."""
    conditions: list[ColumnElement[bool]] = []
    for acting in _acting_roles(actor):
        power = _power(acting)
        issued = sorted(_issued_by(acting))
        if not issued:
            continue
        of_issued_role = RoleAssignment.role.in_(issued)
        if acting is None or power is Role.SUPPORT:
            conditions.append(of_issued_role)
            continue
        own = db.get(Organization, acting.organization_id)
        if own is None or own.registry_status != RegistryStatus.ACTIVE:
            continue
        if power in _DEPARTMENT_ROLES:
            below = select(Organization.id).where(Organization.parent_id == own.id)
            conditions.append(and_(of_issued_role, RoleAssignment.organization_id.in_(below)))
        else:
            conditions.append(and_(of_issued_role, RoleAssignment.organization_id == own.id))
    return or_(*conditions) if conditions else false()


def managed_staff_clause(db: Session, actor: Actor) -> ColumnElement[bool]:
    """A condition on `StaffMember`: the people whose card the actor may open (`authorize_card`);
    technical support at the CLI sees everyone, with a role or without."""
    if actor.is_cli_support:
        return true()
    return (
        select(RoleAssignment.id)
        .where(RoleAssignment.staff_id == StaffMember.id, managed_assignment_clause(db, actor))
        .exists()
    )


def overseen_organizations(db: Session, actor: Actor) -> list[Organization]:
    """The organizations of the actor's subtree, excluded ones too (their people keep their cards):
    what the staff list's organization filter offers and accepts."""
    found: dict[int, Organization] = {}
    for acting in _acting_roles(actor):
        power = _power(acting)
        if not _issued_by(acting):
            continue
        query = select(Organization)
        if acting is not None and power is not Role.SUPPORT:
            own = db.get(Organization, acting.organization_id)
            if own is None or own.registry_status != RegistryStatus.ACTIVE:
                continue
            column = Organization.parent_id if power in _DEPARTMENT_ROLES else Organization.id
            query = query.where(column == own.id)
        for organization in db.scalars(query):
            found[organization.id] = organization
    return sorted(found.values(), key=lambda organization: (organization.name, organization.id))
