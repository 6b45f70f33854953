"""The vocabularies the directory stores in its columns: statuses and kinds, each an enum kept by value.

They live beside the models because the columns are typed with them; what they mean (titles, who
may issue which role) is the domain's, in `bridge/services/roles.py`. The stored strings are the
enum values exactly as before they were enums: no migration, and `bridge audit` reads the same.
"""

from __future__ import annotations

from enum import StrEnum


class StaffStatus(StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"


class RegistryStatus(StrEnum):
    """Whether an organization is in the registry; an excluded one keeps its history, issues nothing."""

    ACTIVE = "active"
    EXCLUDED = "excluded"


class OrganizationKind(StrEnum):
    SUPPORT = "support"
    EDUCATION_DEPARTMENT = "education_department"
    PRESCHOOL_DEPARTMENT = "preschool_department"
    SCHOOL = "school"
    COLLEGE = "college"
    KINDERGARTEN = "kindergarten"


class Role(StrEnum):
    SUPPORT = "support"
    EDUCATION_DEPARTMENT = "education_department"
    PRESCHOOL_DEPARTMENT = "preschool_department"
    SCHOOL_DIRECTOR = "school_director"
    COLLEGE_DIRECTOR = "college_director"
    KINDERGARTEN_HEAD = "kindergarten_head"
    SCHOOL_DEPUTY = "school_deputy"
    COLLEGE_DEPUTY = "college_deputy"
    SOCIAL_PEDAGOGUE = "social_pedagogue"
    RESPONSIBLE = "responsible"


class AnchorReason(StrEnum):
    """Why a signed anchor of the audit chain was written; a purge anchor lets the records it covers go."""

    PERIODIC = "periodic"
    MANUAL = "manual"
    PURGE = "purge"
