"""Registering a staff member: a person, their first role and a one-time password."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import Principal, audit_context_of, resolve
from bridge.application.staff_cards import StaffAdminPolicy, StaffView, view_of
from bridge.application.unit_of_work import unit_of_work
from bridge.services import staff
from bridge.services.credentials import IssuedCredential
from bridge.services.staff import NewStaff

__all__ = ["NewStaff", "StaffRegistered", "register_staff"]


@dataclass(frozen=True)
class StaffRegistered:
    staff: StaffView
    # Shown once, then forgotten.
    credential: IssuedCredential


def register_staff(
    database: sessionmaker[Session], principal: Principal, new: NewStaff, policy: StaffAdminPolicy
) -> StaffRegistered:
    """«Сохранить» on a new staff card, or `bridge staff add`. The hierarchy decides who may issue the role."""
    with unit_of_work(
        database, audit_context_of(principal), "staff.register",
        role=new.grant.role, organization_id=new.grant.organization_id,
    ) as db:
        registration = staff.register_staff(db, resolve(db, principal), new, credential_ttl=policy.credential_ttl)
        return StaffRegistered(staff=view_of(db, registration.staff, policy), credential=registration.credential)
