"""The identity an external provider vouched for: the value the federation works with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bridge.services.person_names import full_name


@dataclass(frozen=True)
class ExternalIdentity:
    """Whom an upstream provider vouched for, after every token check passed."""

    provider: str
    issuer: str
    subject: str
    # "esia" or "oidc": policies such as "confirmed account only" are about ESIA.
    provider_kind: str = "oidc"
    surname: str | None = None
    name: str | None = None
    patronymic: str | None = None
    snils: str | None = None  # eleven digits, no separators
    email: str | None = None
    # ESIA: a confirmed ("подтверждённая") account; None when the provider does not say.
    trusted: bool | None = None
    # Authentication methods the provider reported (e.g. ("pwd",)), lower case.
    amr: tuple[str, ...] = ()
    # Organizations the provider says the person acts for (ESIA roles, RSAA company).
    organizations: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)
    # When the person authenticated at the provider (its `auth_time`, else the id_token's `iat`).
    auth_time: datetime | None = None
    # The id_token's `acr`, and the values the provider's entry accepts (`acr_values`; empty: any).
    acr: str | None = None
    accepted_acr: tuple[str, ...] = ()
    # False when nothing guarantees that the authorization code was bound to the browser that
    # started the flow: every identity from an ESIA entry with `id_token_nonce = "not_echoed"` (ESIA
    # has no PKCE, and an id_token without our nonce is accepted there). A binding then demands the
    # name/СНИЛС match with the staff card.
    code_bound: bool = True

    @property
    def display_name(self) -> str:
        return full_name(self.surname, self.name, self.patronymic)

    @property
    def masked_snils(self) -> str | None:
        """СНИЛС with only the last digits visible: enough to recognise, not to copy."""
        if not self.snils or len(self.snils) != 11:
            return None
        return f"***-***-{self.snils[6:9]} {self.snils[9:]}"

    def as_parked(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "issuer": self.issuer,
            "subject": self.subject,
            "provider_kind": self.provider_kind,
            "surname": self.surname,
            "name": self.name,
            "patronymic": self.patronymic,
            "snils": self.snils,
            "trusted": self.trusted,
            "amr": list(self.amr),
            "auth_time": self.auth_time.isoformat() if self.auth_time else None,
            "acr": self.acr,
            "accepted_acr": list(self.accepted_acr),
            "code_bound": self.code_bound,
        }

    @classmethod
    def from_parked(cls, data: Mapping[str, Any]) -> ExternalIdentity:
        auth_time = data.get("auth_time")
        return cls(
            provider=str(data["provider"]),
            issuer=str(data["issuer"]),
            subject=str(data["subject"]),
            provider_kind=str(data.get("provider_kind", "oidc")),
            surname=data.get("surname"),
            name=data.get("name"),
            patronymic=data.get("patronymic"),
            snils=data.get("snils"),
            trusted=data.get("trusted"),
            amr=tuple(data.get("amr", ())),
            auth_time=datetime.fromisoformat(auth_time) if isinstance(auth_time, str) else None,
            acr=data.get("acr"),
            accepted_acr=tuple(data.get("accepted_acr", ())),
            # Anything parked without the flag is treated as unbound: the stricter binding rule.
            code_bound=data.get("code_bound") is True,
        )
