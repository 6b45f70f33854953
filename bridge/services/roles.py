"""The role catalogue and who may issue which role (the delegated hierarchy of the seed)."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.storage.enums import OrganizationKind, Role

# The enums themselves are the stored vocabularies (bridge/storage/enums.py); their meaning is here.
__all__ = ["ORGANIZATION_KIND_TITLES", "ROLES", "OrganizationKind", "Role", "RoleInfo", "role_title"]

ORGANIZATION_KIND_TITLES: dict[OrganizationKind, str] = {
    OrganizationKind.SUPPORT: "Техническая поддержка",
    OrganizationKind.EDUCATION_DEPARTMENT: "Управление образованием",
    OrganizationKind.PRESCHOOL_DEPARTMENT: "Управление дошкольного образования",
    OrganizationKind.SCHOOL: "Школа",
    OrganizationKind.COLLEGE: "Колледж (СПО)",
    OrganizationKind.KINDERGARTEN: "Детский сад (ДОУ)",
}


@dataclass(frozen=True)
class RoleInfo:
    title: str
    # Kinds of organization this role can be held in.
    organization_kinds: frozenset[OrganizationKind]
    # Roles this role may issue credentials for.
    issues: frozenset[Role]
    # "руководитель" (head) or "сотрудник" (employee): shown when the person picks a role.
    is_head: bool


_SCHOOLISH = frozenset({OrganizationKind.SCHOOL, OrganizationKind.COLLEGE})
_SUBORDINATE_OF_DIRECTOR = frozenset(
    {Role.SCHOOL_DEPUTY, Role.COLLEGE_DEPUTY, Role.SOCIAL_PEDAGOGUE, Role.RESPONSIBLE}
)

ROLES: dict[Role, RoleInfo] = {
    Role.SUPPORT: RoleInfo(
        "Техническая поддержка",
        frozenset({OrganizationKind.SUPPORT}),
        frozenset({Role.EDUCATION_DEPARTMENT, Role.PRESCHOOL_DEPARTMENT}),
        is_head=False,
    ),
    Role.EDUCATION_DEPARTMENT: RoleInfo(
        "Управление образованием",
        frozenset({OrganizationKind.EDUCATION_DEPARTMENT}),
        frozenset({Role.SCHOOL_DIRECTOR, Role.COLLEGE_DIRECTOR, Role.KINDERGARTEN_HEAD}),
        is_head=True,
    ),
    Role.PRESCHOOL_DEPARTMENT: RoleInfo(
        "Дошкольное образование",
        frozenset({OrganizationKind.PRESCHOOL_DEPARTMENT, OrganizationKind.EDUCATION_DEPARTMENT}),
        frozenset({Role.KINDERGARTEN_HEAD}),
        is_head=True,
    ),
    Role.SCHOOL_DIRECTOR: RoleInfo(
        "Директор школы", frozenset({OrganizationKind.SCHOOL}), _SUBORDINATE_OF_DIRECTOR, is_head=True
    ),
    Role.COLLEGE_DIRECTOR: RoleInfo(
        "Директор СПО", frozenset({OrganizationKind.COLLEGE}), _SUBORDINATE_OF_DIRECTOR, is_head=True
    ),
    # The seed names no roles below a kindergarten head: she holds her card, issues nothing.
    Role.KINDERGARTEN_HEAD: RoleInfo(
        "Заведующая ДОУ", frozenset({OrganizationKind.KINDERGARTEN}), frozenset(), is_head=True
    ),
    Role.SCHOOL_DEPUTY: RoleInfo(
        "Завуч школы", frozenset({OrganizationKind.SCHOOL}), frozenset(), is_head=False
    ),
    Role.COLLEGE_DEPUTY: RoleInfo(
        "Завуч СПО", frozenset({OrganizationKind.COLLEGE}), frozenset(), is_head=False
    ),
    Role.SOCIAL_PEDAGOGUE: RoleInfo(
        "Социальный педагог", _SCHOOLISH, frozenset(), is_head=False
    ),
    Role.RESPONSIBLE: RoleInfo(
        "Ответственный (школа, СПО)", _SCHOOLISH, frozenset(), is_head=False
    ),
}


def role_title(role: str) -> str:
    try:
        return ROLES[Role(role)].title
    except ValueError:
        return role
