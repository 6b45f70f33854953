"""The sign-in ceremony: external ID sign-in, and the first sign-in that binds the account.

Both orders of the first sign-in work:
- external first: provider round-trip → identity not bound → local login and password → bind;
- local first: local login and password → provider round-trip → bind.

Every step is parked on the server (bridge.services.flow_state) under the browser's opaque id:
the upstream round trip under the `state` it sent, the pending binding and the local-password
proof one per browser. Each step is taken by one DELETE … RETURNING, so a replayed or copied
cookie, a second tab or a second node finds nothing the second time; a password reset discards
the proofs resting on the old credential.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from anyio import to_thread
from sqlalchemy.orm import Session

from bridge.application.identities import external_identity
from bridge.flows.outcomes import NeedsLocalPassword, NeedsProvider, Outcome, Refused, SignedIn
from bridge.runtime import BridgeRuntime
from bridge.services import flow_state, throttle
from bridge.services.audit import AuditContext, record, record_independently
from bridge.services.binding import (
    BindingPolicy,
    BindingRefused,
    LocalProof,
    bind_external_identity,
    check_identity_policy,
    find_bound_staff,
    prove_local_credential,
)
from bridge.services.credentials import CredentialRefused
from bridge.services.external_identity import ExternalIdentity
from bridge.services.flow_state import FlowKind
from bridge.services.signin_sessions import active_roles, end_signin_session, start_signin_session
from bridge.storage.database import transaction
from bridge.storage.models import StaffMember
from bridge.storage.types import utcnow
from bridge.upstream.base import UpstreamError

logger = logging.getLogger("bridge.signin")

# One message for an unknown login, a wrong password, an expired and an already used credential:
# the page must not tell an attacker which of them it was.
CREDENTIAL_REFUSED_MESSAGE = (
    "Неверный логин или пароль, либо срок действия пароля истёк или он уже был использован. "
    "Проверьте данные; если не получается, попросите администратора сбросить пароль."
)
DEFAULT_NEXT = "/account"
NO_FLOW_MESSAGE = "Время ожидания входа истекло или вход начат в другом браузере. Начните вход заново."
BINDING_EXPIRED = Refused(
    "no_flow",
    "Время ожидания привязки истекло или вход начат в другом браузере. Начните вход заново.",
    retry_url="/login",
)


def safe_next(value: str | None) -> str:
    """Only local paths: `next` must never send the browser to another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return DEFAULT_NEXT
    return value


class SignInFlow:
    def __init__(self, runtime: BridgeRuntime, browser_id: str, audit: AuditContext) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.browser = browser_id
        self.audit = audit

    # --- the upstream round-trip ----------------------------------------------------------------

    def callback_url(self, provider_key: str) -> str:
        return f"{self.settings.public_url}/login/callback/{provider_key}"

    async def start_upstream(
        self,
        provider_key: str,
        *,
        remember: bool,
        next_url: str | None,
        replaces_session: str | None = None,
        force_login: bool = False,
        max_age: int | None = None,
    ) -> str | Refused:
        provider = self.runtime.upstream.get(provider_key)
        if provider is None:
            return Refused("unknown_provider", "Такой способ входа не настроен.")
        try:
            start = await provider.start_authorization(
                self.runtime.http, self.callback_url(provider_key), force_login=force_login, max_age=max_age
            )
        except UpstreamError as error:
            return await self._upstream_failed(provider_key, error)
        parked = {
            "provider": provider_key,
            "flow": start.parked,
            "remember": remember,
            "next": safe_next(next_url),
            "replaces_session": replaces_session,
        }
        await to_thread.run_sync(self._park_round_trip, str(start.parked["state"]), parked)
        return start.url

    def _park_round_trip(self, state: str, parked: dict[str, Any]) -> None:
        with transaction(self.runtime.db) as db:
            # The state names the step: the callback must bring it back to this browser.
            flow_state.park(
                db, self.browser, FlowKind.UPSTREAM, parked, ttl=self.settings.pending_binding_ttl, key=state
            )
            self.runtime.flow_purge.maybe_purge(db)

    async def finish_upstream(self, provider_key: str, params: Mapping[str, str]) -> Outcome:
        # Single use: whatever happens next, this round-trip cannot be resumed twice.
        state = params.get("state")
        parked = await to_thread.run_sync(self._take, FlowKind.UPSTREAM, state) if state else None
        if parked is None:
            return await self._refuse_independently(
                "upstream.no_flow", Refused("no_flow", NO_FLOW_MESSAGE), provider=provider_key
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
            # Removed from the configuration while the person was away: nothing to verify with.
            return await self._refuse_independently(
                "upstream.unknown_provider",
                Refused("unknown_provider", "Такой способ входа больше не настроен. Начните вход заново."),
                provider=provider_key,
            )
        try:
            reported = await provider.finish_authorization(
                self.runtime.http, params, parked["flow"], self.callback_url(provider_key)
            )
        except UpstreamError as error:
            return await self._upstream_failed(provider_key, error)
        return await to_thread.run_sync(
            self._after_identity, external_identity(reported), bool(parked.get("remember")),
            safe_next(parked.get("next")), parked.get("replaces_session"),
        )

    def _take(self, kind: FlowKind, key: str = "") -> dict[str, Any] | None:
        with transaction(self.runtime.db) as db:
            return flow_state.consume(db, self.browser, kind, key=key)

    def _peek(self, kind: FlowKind) -> dict[str, Any] | None:
        with self.runtime.db() as db:
            return flow_state.peek(db, self.browser, kind)

    def _after_identity(
        self, identity: ExternalIdentity, remember: bool, next_url: str, replaces_session: str | None
    ) -> Outcome:
        """Sign in a bound person; bind with a parked local proof; or park a pending binding."""
        now = utcnow()
        bound_staff = False
        try:
            with transaction(self.runtime.db) as db:
                staff = find_bound_staff(db, identity)
                if staff is not None:
                    # The provider's policies (confirmed account, acr) hold at every sign-in.
                    bound_staff = True
                    check_identity_policy(identity, self._policy())
                    return self._sign_in(
                        db, staff, identity, remember, next_url, via="binding", replaces_session=replaces_session
                    )
                local = flow_state.consume(db, self.browser, FlowKind.LOCAL_PROOF)
                if local is not None:
                    proof = LocalProof.from_parked(local["proof"])
                    bind_external_identity(
                        db, self.audit, proof, identity, policy=self._policy(), flow="local_first", now=now
                    )
                    bound = db.get(StaffMember, proof.staff_id)
                    assert bound is not None
                    return self._sign_in(
                        db, bound, identity, bool(local.get("remember")) or remember,
                        safe_next(local.get("next")) if local.get("next") else next_url,
                        via="first_signin", replaces_session=replaces_session,
                    )
                flow_state.park(
                    db,
                    self.browser,
                    FlowKind.PENDING_BINDING,
                    {
                        "identity": identity.as_parked(),
                        "remember": remember,
                        "next": next_url,
                        "replaces_session": replaces_session,
                    },
                    ttl=self.settings.pending_binding_ttl,
                    now=now,
                )
                record(
                    db, self.audit, "binding.pending", "success",
                    provider=identity.provider, external_subject=identity.subject,
                )
                return NeedsLocalPassword(identity)
        except BindingRefused as refusal:
            if bound_staff:
                # A bound person the provider's policy now refuses: a refused sign-in, not a binding.
                return self._refuse_independently_sync(
                    "signin.refused", Refused(refusal.code, refusal.message, retry_url=None),
                    provider=identity.provider, reason=refusal.code,
                )
            # The rollback put the local proof back: a refused binding spends it all the same.
            self._take(FlowKind.LOCAL_PROOF)
            return self._binding_refused(refusal, identity)
        except _StaffBlocked:
            return self._refuse_independently_sync(
                "signin.refused",
                Refused("blocked", "Учётная запись заблокирована. Обратитесь к администратору вашей организации.",
                        retry_url=None),
                provider=identity.provider,
                reason="blocked",
            )

    # --- the local password ---------------------------------------------------------------------

    def pending_identity(self) -> ExternalIdentity | None:
        pending = self._peek(FlowKind.PENDING_BINDING)
        return ExternalIdentity.from_parked(pending["identity"]) if pending is not None else None

    def has_local_proof(self) -> bool:
        return self._peek(FlowKind.LOCAL_PROOF) is not None

    def parked_preferences(self) -> tuple[bool, str]:
        local = self._peek(FlowKind.LOCAL_PROOF) or {}
        return bool(local.get("remember")), safe_next(local.get("next"))

    def submit_password(
        self, login: str, password: str, *, remember: bool, next_url: str | None, binding_only: bool = False
    ) -> Outcome:
        """The local login and password: completes a pending binding, or parks a local proof.

        `binding_only` is the external-first form: without a pending binding there is nothing to do.
        """
        login = login.strip()
        # Count before you spend: the attempt is reserved before argon2 runs, on every node at once.
        try:
            with transaction(self.runtime.db) as db:
                throttle.reserve_attempt(db, login, self.audit.address, throttle.ThrottlePolicy.of(self.settings))
        except throttle.Throttled as refusal:
            return self._refuse_independently_sync(
                "signin.throttled", Refused("throttled", refusal.message), login=login, key=refusal.kind.value
            )
        try:
            with self.runtime.db() as db:
                proof = prove_local_credential(db, login, password)
        except CredentialRefused as refusal:
            return self._refuse_independently_sync(
                "signin.password_refused",
                Refused("password_refused", CREDENTIAL_REFUSED_MESSAGE, retry_url=None),
                login=login,
                reason=getattr(refusal, "reason", refusal.code),
            )
        with transaction(self.runtime.db) as db:
            throttle.attempt_succeeded(db, login, self.audit.address)

        identity: ExternalIdentity | None = None
        try:
            with transaction(self.runtime.db) as db:
                pending = flow_state.consume(db, self.browser, FlowKind.PENDING_BINDING)
                if pending is None:
                    if binding_only:
                        return BINDING_EXPIRED
                    flow_state.park(
                        db,
                        self.browser,
                        FlowKind.LOCAL_PROOF,
                        {"proof": proof.as_parked(), "remember": remember, "next": safe_next(next_url)},
                        ttl=self.settings.pending_binding_ttl,
                        staff_id=proof.staff_id,
                    )
                    record(
                        db, self.audit, "signin.password_accepted", "success",
                        subject_staff_id=proof.staff_id, login=login,
                    )
                    return NeedsProvider()
                identity = ExternalIdentity.from_parked(pending["identity"])
                bind_external_identity(
                    db, self.audit, proof, identity, policy=self._policy(), flow="external_first"
                )
                staff = db.get(StaffMember, proof.staff_id)
                assert staff is not None
                return self._sign_in(
                    db, staff, identity, bool(pending.get("remember")) or remember,
                    safe_next(pending.get("next")), via="first_signin",
                    replaces_session=pending.get("replaces_session"),
                )
        except BindingRefused as refusal:
            assert identity is not None
            # The rollback put the pending binding back: a refused binding spends it all the same.
            self._take(FlowKind.PENDING_BINDING)
            return self._binding_refused(refusal, identity)

    # --- helpers --------------------------------------------------------------------------------

    def _policy(self) -> BindingPolicy:
        return BindingPolicy(
            require_confirmed_esia_account=self.settings.require_confirmed_esia_account,
            require_name_match=self.settings.require_name_match,
        )

    def _sign_in(
        self,
        db: Session,
        staff: StaffMember,
        identity: ExternalIdentity,
        remember: bool,
        next_url: str,
        *,
        via: str,
        replaces_session: str | None,
    ) -> SignedIn:
        if staff.status != "active":
            raise _StaffBlocked()
        if isinstance(replaces_session, str):
            end_signin_session(db, replaces_session)
        lifetime = self.settings.remember_me_ttl if remember else self.settings.session_ttl
        session = start_signin_session(
            db,
            staff,
            provider=identity.provider,
            amr=["fed", *identity.amr],
            acr=f"urn:edu-bridge:idp:{identity.provider}",
            lifetime=lifetime,
            remember=remember,
            auth_time=identity.auth_time,
        )
        roles = active_roles(db, staff.id)
        if len(roles) == 1:
            session.role_assignment_id = roles[0].id
        record(
            db, self.audit, "signin.success", "success",
            subject_staff_id=staff.id, provider=identity.provider, via=via, remember=remember,
        )
        db.flush()
        # Several roles: the person picks one. None: the role page says so rather than a bare account.
        return SignedIn(session.id, remember, needs_role_choice=len(roles) != 1, next_url=next_url)

    def _binding_refused(self, refusal: BindingRefused, identity: ExternalIdentity) -> Refused:
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
