"""An upstream's answer, taken into the federation: the one place the two identity values meet."""

from __future__ import annotations

from bridge.services.external_identity import ExternalIdentity
from bridge.upstream.identity import UpstreamIdentity


def external_identity(reported: UpstreamIdentity) -> ExternalIdentity:
    """The identity the binding and sign-in rules judge, from what a connector reported."""
    return ExternalIdentity(
        provider=reported.provider,
        issuer=reported.issuer,
        subject=reported.subject,
        provider_kind=reported.provider_kind,
        surname=reported.surname,
        name=reported.name,
        patronymic=reported.patronymic,
        snils=reported.snils,
        email=reported.email,
        trusted=reported.trusted,
        amr=reported.amr,
        organizations=reported.organizations,
        auth_time=reported.auth_time,
        acr=reported.acr,
        accepted_acr=reported.accepted_acr,
        code_bound=reported.code_bound,
    )
