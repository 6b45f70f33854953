"""When a person's administrators must hear of a sign-in at once: the account may be being taken.

An audit row alerts nobody, so three narrow patterns mail the administrators who manage the
person's roles (bridge/services/administrators.py). Each rests on a proof of the issued
password, so a stranger who only knows a login cannot trigger a mail:

- `identity_bound_to_another`: the person's issued password was proved, and then the upstream
  vouched for an identity already bound to another staff member (binding refused). Whoever
  holds that other person's Госуслуги (РСАА) also holds this password: the pre-hijacking of an
  account, or a password slip passed around.
- `identity_mismatch`: the password was proved, and the upstream's person has another name or
  СНИЛС than the card (binding refused): someone else's Госуслуги, or a mistake on the card.
- `password_after_failures`: the password was proved from an address with no failed attempt at
  this login, after at least `SUSPICIOUS_FAILURES` failed attempts from other addresses (the
  throttle's counters, read before the success clears them). Repeated guessing, then success
  elsewhere: the password may have leaked.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.services.external_identity import ExternalIdentity
from bridge.storage.models import ExternalBinding, StaffMember

# At least this many failed password attempts at a login from other addresses before a success
# from a fresh one: one address's budget (5 in 15 minutes) spent, or several addresses tried.
SUSPICIOUS_FAILURES = 5


class AlertReason(StrEnum):
    IDENTITY_BOUND_TO_ANOTHER = "identity_bound_to_another"
    IDENTITY_MISMATCH = "identity_mismatch"
    PASSWORD_AFTER_FAILURES = "password_after_failures"  # noqa: S105 - a reason, not a password


# Binding refusals (BindingRefused codes) that mail the administrators.
ALERTED_REFUSALS = frozenset({AlertReason.IDENTITY_BOUND_TO_ANOTHER.value, AlertReason.IDENTITY_MISMATCH.value})


def provider_title(provider: str, provider_kind: str | None = None) -> str:
    """How a letter names an external ID: «Госуслуги», «РСАА», else the configured key."""
    if provider_kind == "esia" or provider == "esia":
        return "Госуслуги"
    if provider == "rsaa":
        return "РСАА"
    return provider


def identity_owner(db: Session, identity: ExternalIdentity) -> StaffMember | None:
    """The staff member the external identity is bound to (read only: no last use recorded)."""
    binding = db.scalars(
        select(ExternalBinding).where(
            ExternalBinding.issuer == identity.issuer, ExternalBinding.subject == identity.subject
        )
    ).one_or_none()
    return db.get(StaffMember, binding.staff_id) if binding is not None else None


def what_happened(reason: AlertReason, *, provider: str | None, owner_login: str | None, failures: int) -> str:
    """One Russian sentence for the letter."""
    if reason is AlertReason.IDENTITY_BOUND_TO_ANOTHER:
        owner = f" (логин {owner_login})" if owner_login else ""
        return (
            f"кто-то ввёл верный пароль, выданный сотруднику, и попытался привязать к его учётной записи вход "
            f"через {provider}, который уже привязан к другому сотруднику{owner}. Привязка не выполнена. "
            "Пароль сотрудника, вероятно, известен посторонним."
        )
    if reason is AlertReason.IDENTITY_MISMATCH:
        return (
            f"кто-то ввёл верный пароль, выданный сотруднику, и попытался привязать вход через {provider} "
            "другого человека: фамилия, имя или СНИЛС не совпадают с карточкой. Привязка не выполнена. "
            "Если в карточке ошибка, исправьте её; иначе пароль сотрудника известен посторонним."
        )
    return (
        f"пароль сотрудника введён верно с нового адреса после {failures} неудачных попыток с других адресов. "
        "Если сотрудник не вводил пароль с разных устройств, пароль мог попасть к посторонним."
    )
