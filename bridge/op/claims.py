"""What relying apps learn about a person: the claims of the id_token and of userinfo."""

from __future__ import annotations

from typing import Any

from bridge.op.amr import rfc8176_amr
from bridge.services.grantees import GrantedRole, Grantee
from bridge.services.person_names import full_name
from bridge.services.roles import ROLES, Role, role_title

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": ("sub", "sid", "auth_time", "acr", "amr", "idp"),
    "profile": ("name", "family_name", "given_name", "middle_name", "preferred_username"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "roles": ("role", "organization", "roles", "position"),
}
CLAIMS_SUPPORTED = (
    "iss", "aud", "exp", "iat", "nonce", "at_hash",
    *(claim for claims in SCOPE_CLAIMS.values() for claim in claims),
)


def role_claim(role: GrantedRole) -> dict[str, Any]:
    try:
        is_head = ROLES[Role(role.role)].is_head
    except ValueError:
        is_head = False
    return {"code": role.role, "title": role_title(role.role), "is_head": is_head}


def organization_claim(role: GrantedRole) -> dict[str, Any]:
    return {
        "id": role.organization_id,
        "name": role.organization_name,
        "kind": role.organization_kind,
        "district": role.organization_district,
    }


def _position(role: GrantedRole) -> dict[str, str]:
    return {"position": role.position} if role.position else {}


def person_claims(grantee: Grantee, scope: str) -> dict[str, Any]:
    """Claims for the granted scopes; absent values are left out rather than sent as null."""
    scopes = set(scope.split())
    staff = grantee.staff
    claims: dict[str, Any] = {"sub": staff.subject}
    if "openid" in scopes:
        claims["sid"] = grantee.session.sid
        claims["auth_time"] = int(grantee.auth_time.timestamp())
        if grantee.session.acr:
            claims["acr"] = grantee.session.acr
        amr = rfc8176_amr(grantee.session.amr)
        if amr:
            claims["amr"] = amr
        # The external ID that verified the person (not an amr value: RFC 8176 has none for it).
        claims["idp"] = grantee.session.provider
    if "profile" in scopes:
        claims["name"] = full_name(staff.surname, staff.name, staff.patronymic)
        claims["family_name"] = staff.surname
        claims["given_name"] = staff.name
        if staff.patronymic:
            claims["middle_name"] = staff.patronymic
        claims["preferred_username"] = staff.login
    if "email" in scopes and staff.email:
        claims["email"] = staff.email
        # Confirmed by the person on the profile page is not proved: no message reached them there.
        claims["email_verified"] = False
    if "phone" in scopes and staff.phone:
        claims["phone_number"] = staff.phone
        claims["phone_number_verified"] = False
    if "roles" in scopes:
        if grantee.role is not None:
            claims["role"] = role_claim(grantee.role)
            claims["organization"] = organization_claim(grantee.role)
            if grantee.role.position:
                claims["position"] = grantee.role.position
        claims["roles"] = [
            {**role_claim(role), "organization": organization_claim(role), **_position(role)}
            for role in grantee.active_roles
        ]
    return claims


def userinfo_claims(grantee: Grantee, scope: str) -> dict[str, Any]:
    """Userinfo repeats the person, not the authentication event."""
    claims = person_claims(grantee, scope)
    for protocol_claim in ("auth_time", "acr", "amr", "idp"):
        claims.pop(protocol_claim, None)
    return claims
