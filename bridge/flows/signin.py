"""The sign-in ceremony: external ID sign-in, and the first sign-in that binds the account.

Both orders of the first sign-in work:
- external first: provider round-trip → identity not bound → local login and password → bind;
- local first: local login and password → provider round-trip → bind.

Flow state (the upstream state/nonce/PKCE verifier, the pending binding, the local proof) is
parked in `parked`: the initiating browser's own signed session. It is short-lived and
single-use, so it cannot be completed from another browser or replayed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from datetime import datetime
from typing import Any

from anyio import to_thread
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge.flows.outcomes import NeedsLocalPassword, NeedsProvider, Outcome, Refused, SignedIn
from bridge.runtime import BridgeRuntime
from bridge.services import throttle
from bridge.services.audit import AuditContext, record, record_independently
from bridge.services.binding import (
    BindingPolicy,
    BindingRefused,
    LocalProof,
    bind_external_identity,
    find_bound_staff,
    prove_local_credential,
)
from bridge.services.credentials import CredentialRefused
from bridge.services.external_identity import ExternalIdentity
from bridge.services.signin_sessions import active_roles, end_signin_session, start_signin_session
from bridge.storage.database import transaction
from bridge.storage.models import StaffMember
from bridge.storage.types import utcnow
from bridge.upstream.base import UpstreamError

logger = logging.getLogger("bridge.signin")

UPSTREAM_KEY = "upstream"
PENDING_BINDING_KEY = "pending_binding"
LOCAL_PROOF_KEY = "local_proof"

# One message for an unknown login, a wrong password, an expired and an already used credential:
# the page must not tell an attacker which of them it was.
CREDENTIAL_REFUSED_MESSAGE = (
    "Неверный логин или пароль, либо срок действия пароля истёк или он уже был использован. "
    "Проверьте данные; если не получается, попросите администратора сбросить пароль."
)
DEFAULT_NEXT = "/account"


def safe_next(value: str | None) -> str:
    """Only local paths: `next` must never send the browser to another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return DEFAULT_NEXT
    return value


def _expired(parked: Mapping[str, Any], now: datetime) -> bool:
    expires = parked.get("expires_at")
    return not isinstance(expires, str) or datetime.fromisoformat(expires) <= now


class SignInFlow:
    def __init__(
        self, runtime: BridgeRuntime, parked: MutableMapping[str, Any], audit: AuditContext
    ) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.parked = parked
        self.audit = audit

    # --- the upstream round-trip ----------------------------------------------------------------

    def callback_url(self, provider_key: str) -> str:
        return f"{self.settings.public_url}/login/callback/{provider_key}"

    async def start_upstream(self, provider_key: str, *, remember: bool, next_url: str | None) -> str | Refused:
        provider = self.runtime.upstream.get(provider_key)
        if provider is None:
            return Refused("unknown_provider", "Такой способ входа не настроен.")
        try:
            start = await provider.start_authorization(self.runtime.http, self.callback_url(provider_key))
        except UpstreamError as error:
            return await self._upstream_failed(provider_key, error)
        now = utcnow()
        self.parked[UPSTREAM_KEY] = {
            "provider": provider_key,
            "flow": start.parked,
            "remember": remember,
            "next": safe_next(next_url),
            "expires_at": (now + self.settings.pending_binding_ttl).isoformat(),
        }
        return start.url

    async def finish_upstream(self, provider_key: str, params: Mapping[str, str]) -> Outcome:
        # Single use: whatever happens next, this round-trip cannot be resumed twice.
        parked = self.parked.pop(UPSTREAM_KEY, None)
        now = utcnow()
        if not isinstance(parked, dict) or _expired(parked, now):
            return await self._refuse_independently(
                "upstream.no_flow",
                Refused(
                    "no_flow",
                    "Время ожидания входа истекло или вход начат в другом браузере. Начните вход заново.",
                ),
                provider=provider_key,
            )
        if parked["provider"] != provider_key:
            return await self._refuse_independently(
                "upstream.wrong_callback",
                Refused("wrong_provider", "Ответ пришёл не от того поставщика входа. Начните вход заново."),
                provider=provider_key,
                expected=parked["provider"],
            )
        provider = self.runtime.upstream.get(provider_key)
        if provider is None:
            return Refused("unknown_provider", "Такой способ входа не настроен.")
        try:
            identity = await provider.finish_authorization(
                self.runtime.http, params, parked["flow"], self.callback_url(provider_key)
            )
        except UpstreamError as error:
            return await self._upstream_failed(provider_key, error)
        remember = bool(parked.get("remember"))
        next_url = safe_next(parked.get("next"))
        return await to_thread.run_sync(self._after_identity, identity, remember, next_url)

    def _after_identity(self, identity: ExternalIdentity, remember: bool, next_url: str) -> Outcome:
        """Sign in a bound person; bind with a parked local proof; or park a pending binding."""
        now = utcnow()
        local = self.parked.pop(LOCAL_PROOF_KEY, None)
        try:
            with transaction(self.runtime.db) as db:
                staff = find_bound_staff(db, identity)
                if staff is not None:
                    return self._sign_in(db, staff, identity, remember, next_url, via="binding")
                if isinstance(local, dict) and not _expired(local, now):
                    proof = LocalProof.from_parked(local["proof"])
                    bind_external_identity(
                        db, self.audit, proof, identity, policy=self._policy(), flow="local_first", now=now
                    )
                    bound = db.get(StaffMember, proof.staff_id)
                    assert bound is not None
                    return self._sign_in(db, bound, identity, remember, next_url, via="first_signin")
        except BindingRefused as refusal:
            return self._binding_refused(refusal, identity)
        except _StaffBlocked:
            return self._refuse_independently_sync(
                "signin.refused",
                Refused("blocked", "Учётная запись заблокирована. Обратитесь к администратору вашей организации.",
                        retry_url=None),
                provider=identity.provider,
                reason="blocked",
            )
        self.parked[PENDING_BINDING_KEY] = {
            "identity": identity.as_parked(),
            "remember": remember,
            "next": next_url,
            "expires_at": (now + self.settings.pending_binding_ttl).isoformat(),
        }
        record_independently(
            self.runtime.db, self.audit, "binding.pending", "success",
            provider=identity.provider, external_subject=identity.subject,
        )
        return NeedsLocalPassword(identity)

    # --- the local password ---------------------------------------------------------------------

    def pending_identity(self) -> ExternalIdentity | None:
        pending = self.parked.get(PENDING_BINDING_KEY)
        if not isinstance(pending, dict) or _expired(pending, utcnow()):
            self.parked.pop(PENDING_BINDING_KEY, None)
            return None
        return ExternalIdentity.from_parked(pending["identity"])

    def has_local_proof(self) -> bool:
        local = self.parked.get(LOCAL_PROOF_KEY)
        return isinstance(local, dict) and not _expired(local, utcnow())

    def submit_password(self, login: str, password: str, *, remember: bool, next_url: str | None) -> Outcome:
        """The local login and password: completes a pending binding, or parks a local proof."""
        login = login.strip()
        keys = {
            throttle.login_key(login): throttle.ThrottlePolicy(
                self.settings.login_throttle_max_failures, self.settings.login_throttle_window
            ),
            throttle.address_key(self.audit.address): throttle.ThrottlePolicy(
                self.settings.address_throttle_max_failures, self.settings.login_throttle_window
            ),
        }
        with self.runtime.db() as db:
            blocked = throttle.blocked_until(db, keys)
        if blocked is not None:
            minutes = max(1, int((blocked - utcnow()).total_seconds() // 60) + 1)
            return self._refuse_independently_sync(
                "signin.throttled",
                Refused(
                    "throttled",
                    f"Слишком много неудачных попыток ввода пароля. Повторите через {minutes} мин. "
                    "Вход через Госуслуги или РСАА для уже привязанных учётных записей работает как обычно.",
                ),
                login=login,
            )
        try:
            with self.runtime.db() as db:
                proof = prove_local_credential(db, login, password)
        except CredentialRefused as refusal:
            self._count_failure(keys)
            return self._refuse_independently_sync(
                "signin.password_refused",
                Refused("password_refused", CREDENTIAL_REFUSED_MESSAGE, retry_url=None),
                login=login,
                reason=getattr(refusal, "reason", refusal.code),
            )
        with transaction(self.runtime.db) as db:
            throttle.clear(db, throttle.login_key(login))

        identity = self.pending_identity()
        if identity is None:
            self.parked[LOCAL_PROOF_KEY] = {
                "proof": proof.as_parked(),
                "expires_at": (utcnow() + self.settings.pending_binding_ttl).isoformat(),
            }
            self.parked["remember"] = remember
            self.parked["next"] = safe_next(next_url)
            record_independently(
                self.runtime.db, self.audit, "signin.password_accepted", "success",
                subject_staff_id=proof.staff_id, login=login,
            )
            return NeedsProvider()

        pending = self.parked.pop(PENDING_BINDING_KEY)
        try:
            with transaction(self.runtime.db) as db:
                bind_external_identity(
                    db, self.audit, proof, identity, policy=self._policy(), flow="external_first"
                )
                staff = db.get(StaffMember, proof.staff_id)
                assert staff is not None
                return self._sign_in(
                    db, staff, identity, bool(pending.get("remember")) or remember,
                    safe_next(pending.get("next")), via="first_signin",
                )
        except BindingRefused as refusal:
            return self._binding_refused(refusal, identity)

    def parked_preferences(self) -> tuple[bool, str]:
        return bool(self.parked.get("remember")), safe_next(self.parked.get("next"))

    # --- helpers --------------------------------------------------------------------------------

    def _policy(self) -> BindingPolicy:
        return BindingPolicy(
            require_confirmed_esia_account=self.settings.require_confirmed_esia_account,
            require_name_match=self.settings.require_name_match,
        )

    def _sign_in(
        self, db: Session, staff: StaffMember, identity: ExternalIdentity, remember: bool, next_url: str, *, via: str
    ) -> SignedIn:
        if staff.status != "active":
            raise _StaffBlocked()
        previous = self.parked.pop("replaces_session", None)
        if isinstance(previous, str):
            end_signin_session(db, previous)
        lifetime = self.settings.remember_me_ttl if remember else self.settings.session_ttl
        session = start_signin_session(
            db,
            staff,
            provider=identity.provider,
            amr=["fed", *identity.amr],
            acr=f"urn:edu-bridge:idp:{identity.provider}",
            lifetime=lifetime,
            remember=remember,
        )
        roles = active_roles(db, staff.id)
        if len(roles) == 1:
            session.role_assignment_id = roles[0].id
        record(
            db, self.audit, "signin.success", "success",
            subject_staff_id=staff.id, provider=identity.provider, via=via, remember=remember,
        )
        db.flush()
        for key in ("remember", "next"):
            self.parked.pop(key, None)
        # Several roles: the person picks one. None: the role page says so rather than a bare account.
        return SignedIn(session.id, remember, needs_role_choice=len(roles) != 1, next_url=next_url)

    def _count_failure(self, keys: dict[str, throttle.ThrottlePolicy]) -> None:
        try:
            with transaction(self.runtime.db) as db:
                throttle.register_failure(db, keys)
        except IntegrityError:
            # A concurrent failure created the counter first; it has been counted.
            logger.info("concurrent throttle update")

    def _binding_refused(self, refusal: BindingRefused, identity: ExternalIdentity) -> Refused:
        self.parked.pop(PENDING_BINDING_KEY, None)
        return self._refuse_independently_sync(
            "binding.refused",
            Refused(refusal.code, refusal.message, retry_url=None),
            provider=identity.provider,
            external_subject=identity.subject,
            reason=refusal.code,
        )

    async def _upstream_failed(self, provider_key: str, error: UpstreamError) -> Refused:
        # The detail may quote what the other side sent (error_description): repr keeps it one line.
        logger.warning("upstream %s failed: %s %r", provider_key, error.code, error.detail)
        return await self._refuse_independently(
            "upstream.failed",
            Refused(error.code, error.message, retry_url="/login" if error.retryable else None),
            provider=provider_key,
            reason=error.code,
            detail=error.detail[:300],
        )

    async def _refuse_independently(self, event: str, refused: Refused, **details: Any) -> Refused:
        return await to_thread.run_sync(lambda: self._refuse_independently_sync(event, refused, **details))

    def _refuse_independently_sync(self, event: str, refused: Refused, **details: Any) -> Refused:
        record_independently(self.runtime.db, self.audit, event, "refused", **details)
        return refused


class _StaffBlocked(Exception):
    """A bound staff member whose account is blocked: no session is started."""
