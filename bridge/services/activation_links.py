"""Activation links: a mailed, single-use way to start the first sign-in instead of a password.

A link carries 256 random bits; only their SHA-256 is stored. Following it proves a mailbox, which
is weaker than a password handed over in person, so a binding through a link also requires the
upstream's name to match the staff card (the flows enforce that). The link is checked when the
person starts and taken (one conditional UPDATE) inside the binding transaction: an interrupted
round trip does not burn it, and a second use binds nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from bridge.services.throttle import take_from_budget
from bridge.storage.models import ActivationLink
from bridge.storage.types import utcnow

ACTIVATION_TTL = timedelta(hours=72)
# Round trips one link may start: enough for a cancelled or mistaken sign-in, not for trying
# one external account after another; then the link is revoked.
ACTIVATION_STARTS = 5


class LinkState(StrEnum):
    USABLE = "usable"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    REVOKED = "revoked"


@dataclass(frozen=True)
class IssuedLink:
    """The raw token exists only here, for the mail that carries it."""

    link_id: int
    token: str = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True)
class LinkCheck:
    state: LinkState
    link_id: int | None = None
    staff_id: int | None = None


@dataclass(frozen=True)
class ActivationProof:
    """This browser followed a usable link of this person: parked until the upstream answers."""

    link_id: int
    staff_id: int

    def as_parked(self) -> dict[str, int]:
        return {"link_id": self.link_id, "staff_id": self.staff_id}

    @classmethod
    def from_parked(cls, data: dict[str, int]) -> ActivationProof:
        return cls(link_id=int(data["link_id"]), staff_id=int(data["staff_id"]))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_activation_link(
    db: Session, staff_id: int, email: str, *, request_id: int | None = None,
    ttl: timedelta = ACTIVATION_TTL, now: datetime | None = None,
) -> IssuedLink:
    """A new link for the person; any older unused link of theirs stops working."""
    now = now or utcnow()
    revoke_activation_links(db, staff_id, now)
    token = secrets.token_urlsafe(32)
    link = ActivationLink(
        token_hash=_hash(token), staff_id=staff_id, request_id=request_id, email=email,
        created_at=now, expires_at=now + ttl,
    )
    db.add(link)
    db.flush()
    return IssuedLink(link.id, token, link.expires_at)


def issue_first_activation_links(
    db: Session, recipients: list[tuple[int, str]], *, ttl: timedelta = ACTIVATION_TTL, now: datetime | None = None,
) -> list[IssuedLink]:
    """Links for people registered in this very transaction (staff id, e-mail), in ONE INSERT: they
    have no older link to revoke. In the order given."""
    if not recipients:
        return []
    now = now or utcnow()
    tokens = [secrets.token_urlsafe(32) for _ in recipients]
    rows = [
        {"token_hash": _hash(token), "staff_id": staff_id, "email": email, "created_at": now, "expires_at": now + ttl}
        for token, (staff_id, email) in zip(tokens, recipients, strict=True)
    ]
    ids = db.scalars(insert(ActivationLink).returning(ActivationLink.id, sort_by_parameter_order=True), rows).all()
    return [IssuedLink(link_id, token, now + ttl) for link_id, token in zip(ids, tokens, strict=True)]


def check_activation_link(db: Session, token: str, now: datetime | None = None) -> LinkCheck:
    """Whether the token can start a first sign-in now (nothing is consumed)."""
    now = now or utcnow()
    if not token or len(token) > 100:
        return LinkCheck(LinkState.UNKNOWN)
    link = db.scalar(select(ActivationLink).where(ActivationLink.token_hash == _hash(token)))
    if link is None:
        return LinkCheck(LinkState.UNKNOWN)
    if link.used_at is not None:
        state = LinkState.USED
    elif link.revoked_at is not None:
        state = LinkState.REVOKED
    elif link.expires_at <= now:
        state = LinkState.EXPIRED
    else:
        state = LinkState.USABLE
    return LinkCheck(state, link.id, link.staff_id)


def reserve_activation_start(db: Session, link_id: int, now: datetime | None = None) -> bool:
    """One of the link's starts, counted before the round trip; False when they are spent."""
    return take_from_budget(db, f"activation:link:{link_id}", ACTIVATION_STARTS, ACTIVATION_TTL, now)


def take_activation_link(db: Session, link_id: int, staff_id: int, now: datetime | None = None) -> bool:
    """Use the link up (in the binding's transaction); False if it was used, revoked or expired meanwhile."""
    now = now or utcnow()
    result = db.execute(
        update(ActivationLink)
        .where(
            ActivationLink.id == link_id,
            ActivationLink.staff_id == staff_id,
            ActivationLink.used_at.is_(None),
            ActivationLink.revoked_at.is_(None),
            ActivationLink.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def revoke_activation_links(db: Session, staff_id: int, now: datetime | None = None) -> int:
    """A reset, a block, a deactivation or a newer link: the person's unused links stop working."""
    # What the caller changed first is written first (as the ORM's autoflush did); then one UPDATE,
    # built once, on the connection: no link is loaded as an object.
    db.flush()
    result = db.connection().execute(_REVOKE_UNUSED, {"revoke_staff_id": staff_id, "revoke_at": now or utcnow()})
    return int(getattr(result, "rowcount", 0) or 0)


_LINKS = cast(Table, ActivationLink.__table__)
_REVOKE_UNUSED = (
    update(_LINKS)
    .where(_LINKS.c.staff_id == bindparam("revoke_staff_id"), _LINKS.c.used_at.is_(None), _LINKS.c.revoked_at.is_(None))
    .values(revoked_at=bindparam("revoke_at"))
)
