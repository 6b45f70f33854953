"""The sign-in ceremony: external ID sign-in, and the first sign-in that binds the account.

Both orders of the first sign-in work:
- external first: provider round-trip → identity not bound → local login and password → bind;
- local first: local login and password → provider round-trip → bind;
and a person with no password at all binds through a mailed activation link: link → provider
round-trip (marked as the link's) → bind, the name matched (bridge/application/activation.py).

Every step is parked on the server (bridge.application.flow_steps) under the browser's opaque
id: the upstream round trip under the `state` it sent, the pending binding and the local-password
proof one per browser. Each step is taken by one DELETE … RETURNING, so a replayed or copied
cookie, a second tab or a second node finds nothing the second time; a password reset discards
the proofs resting on the old credential.

This module sequences; the use cases it calls (bridge/application/signin.py, first_signin.py)
own the transactions, the rules and the audit records.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bridge.application import flow_steps
from bridge.application.activation import (
    accept_activation_link,
    bind_through_activation,
    refuse_missing_proof,
    take_activation_proof,
)
from bridge.application.first_signin import (
    PROOF_PARKED,
    AwaitedPassword,
    BindingOrder,
    ParkedProof,
    PasswordBound,
    ProofLeftParked,
    bind_external_identity,
    password_step,
    peek_local_proof,
    peek_pending_binding,
    sign_in_unless_proof_parked,
)
from bridge.application.identities import external_identity
from bridge.application.provider_linking import link_provider, start_linking, take_link_proof
from bridge.application.signin import FollowUp, SessionStarted
from bridge.application.signin_refusals import SignInRefused, record_refusal
from bridge.blocking import run_blocking
from bridge.flows.dependencies import SignInDependencies
from bridge.flows.outcomes import (
    GoUpstream,
    Linked,
    NeedsLocalPassword,
    NeedsProvider,
    Outcome,
    PreparedUpstream,
    Refused,
    SignedIn,
)
from bridge.observability.metrics import count_signin, count_upstream_error, upstream_step
from bridge.services.audit import AuditContext
from bridge.services.external_identity import ExternalIdentity
from bridge.services.flow_state import FlowKind
from bridge.upstream.base import UpstreamError
from bridge.upstream.identity import UpstreamIdentity

logger = logging.getLogger("bridge.signin")

NO_FLOW_MESSAGE = "Время ожидания входа истекло или вход начат в другом браузере. Начните вход заново."
BINDING_EXPIRED = Refused(
    "no_flow", "Время ожидания привязки истекло или вход начат в другом браузере. Начните вход заново."
)


@dataclass(frozen=True)
class AnswerApp:
    """The relying app's answer to a returning sign-in, made in the sign-in's transaction."""

    # Run first, in the sign-in's worker thread before its transaction begins (what the answer needs
    # written in a transaction of its own: the provider's signing keys), so no extra thread hop.
    prepare: Callable[[], None]
    # (db, the new session, the parked `next`) → whatever the route turns into HTTP; None to go on
    # to `next` as usual.
    answer: Callable[[Session, SessionStarted, str], object]


def safe_next(value: str | None, default: str) -> str:
    """Only local paths: `next` must never send the browser to another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def refused(refusal: SignInRefused) -> Refused:
    return Refused(refusal.code, refusal.message, retryable=refusal.retryable)


class SignInFlow:
    def __init__(self, dependencies: SignInDependencies, browser_id: str, audit: AuditContext) -> None:
        self.deps = dependencies
        self.browser = browser_id
        self.audit = audit

    def safe_next(self, value: str | None) -> str:
        return safe_next(value, self.deps.default_next)

    # --- the upstream round-trip ----------------------------------------------------------------

    async def start_upstream(
        self,
        provider_key: str,
        *,
        remember: bool,
        next_url: str | None,
        replaces_session: str | None = None,
        force_login: bool = False,
        max_age: int | None = None,
        activation_token: str | None = None,
        parked_with: Sequence[flow_steps.Step] = (),
    ) -> Outcome:
        """Send the browser upstream; with `activation_token`, for a first sign-in through a mailed link.

        `parked_with` are steps that begin with this round trip (an app's authorization request
        going straight upstream): parked in the round trip's own transaction.
        """
        prepared = await self.prepare_upstream(
            provider_key, remember=remember, next_url=next_url, replaces_session=replaces_session,
            force_login=force_login, max_age=max_age, activation=activation_token is not None,
        )
        if isinstance(prepared, Refused):
            return prepared
        if activation_token is not None:
            try:
                # The proof is parked under this round trip's state: only its answer can use it.
                await run_blocking(
                    lambda: accept_activation_link(
                        self.deps.database, self.audit, self.browser, activation_token, key=prepared.round_trip.key,
                        ttl=self.deps.rules.step_ttl,
                    )
                )
            except SignInRefused as refusal:
                return refused(refusal)
        await run_blocking(
            lambda: flow_steps.park_all(
                self.deps.database, self.deps.purge, self.browser, [*parked_with, prepared.round_trip]
            )
        )
        return GoUpstream(prepared.url)

    async def prepare_upstream(
        self,
        provider_key: str,
        *,
        remember: bool,
        next_url: str | None,
        replaces_session: str | None = None,
        force_login: bool = False,
        max_age: int | None = None,
        activation: bool = False,
    ) -> PreparedUpstream | Refused:
        """The round trip's start (fresh state, nonce, PKCE verifier) and the step that parks it,
        not parked yet: the caller parks it, in a transaction it has anyway or in its own."""
        provider = self.deps.upstream.get(provider_key)
        if provider is None:
            return Refused("unknown_provider", "Такой способ входа не настроен.")
        try:
            with upstream_step(provider_key, "start"):
                start = await provider.start_authorization(
                    self.deps.http, self.deps.callback_url(provider_key), force_login=force_login, max_age=max_age
                )
        except UpstreamError as error:
            return await self._upstream_failed(provider_key, error)
        parked = {
            "provider": provider_key,
            "flow": start.parked,
            "remember": remember,
            "next": self.safe_next(next_url),
            "replaces_session": replaces_session,
            "activation": activation,
        }
        # The state names the step: the callback must bring it back to this browser.
        round_trip = flow_steps.Step(FlowKind.UPSTREAM, parked, self.deps.rules.step_ttl, str(start.parked["state"]))
        return PreparedUpstream(start.url, round_trip)

    async def start_link(self, provider_key: str, signin_session_id: str) -> Outcome:
        """«Привязать»: the signed-in person's round trip to a second provider, parked as a link."""
        provider = self.deps.upstream.get(provider_key)
        if provider is None:
            return Refused("unknown_provider", "Такой способ входа не настроен.")
        try:
            start = await provider.start_authorization(self.deps.http, self.deps.callback_url(provider_key))
        except UpstreamError as error:
            return await self._upstream_failed(provider_key, error)
        state = str(start.parked["state"])
        try:
            # The proof is parked under this round trip's state: only its answer can use it.
            await run_blocking(
                lambda: start_linking(
                    self.deps.database, self.audit, self.browser, signin_session_id, provider_key, state=state,
                    ttl=self.deps.rules.step_ttl, rules=self.deps.rules,
                )
            )
        except SignInRefused as refusal:
            return refused(refusal)
        parked = {"provider": provider_key, "flow": start.parked, "link": True}
        await run_blocking(
            lambda: flow_steps.park(
                self.deps.database, self.deps.purge, self.browser, FlowKind.UPSTREAM, parked,
                ttl=self.deps.rules.step_ttl, key=state,
            )
        )
        return GoUpstream(start.url)

    async def finish_upstream(
        self,
        provider_key: str,
        params: Mapping[str, str],
        *,
        signin_session_id: str | None = None,
        answer_app: AnswerApp | None = None,
    ) -> Outcome:
        """The provider's answer: signed in, on to the issued password, or refused (counted on /metrics).

        `answer_app` answers the relying app waiting at the parked `next` in the returning sign-in's
        own transaction when no page is due; its answer comes back as SignedIn.answer.
        """
        outcome = await self._finish_upstream(
            provider_key, params, signin_session_id=signin_session_id, answer_app=answer_app
        )
        if isinstance(outcome, Refused):
            count_signin(provider_key, "refused", outcome.code)
        elif isinstance(outcome, SignedIn):
            count_signin(provider_key, "signed_in")
        elif isinstance(outcome, NeedsLocalPassword):
            count_signin(provider_key, "needs_local_password")
        elif isinstance(outcome, Linked):
            count_signin(provider_key, "linked")
        return outcome

    async def _finish_upstream(
        self,
        provider_key: str,
        params: Mapping[str, str],
        *,
        signin_session_id: str | None = None,
        answer_app: AnswerApp | None = None,
    ) -> Outcome:
        # Single use: whatever happens next, this round-trip cannot be resumed twice. The same
        # statement notes whether a password proved in this browser waits for it (local first).
        state = params.get("state")
        parked, proof_parked = (
            await run_blocking(
                flow_steps.take_noting, self.deps.database, self.browser, FlowKind.UPSTREAM, state,
                FlowKind.LOCAL_PROOF,
            )
            if state
            else (None, False)
        )
        if parked is None:
            return await self._refuse(
                SignInRefused(
                    "no_flow", NO_FLOW_MESSAGE, event="upstream.no_flow", retryable=True, provider=provider_key
                )
            )
        if parked["provider"] != provider_key:
            return await self._refuse(
                SignInRefused(
                    "wrong_provider", "Ответ пришёл не от того поставщика входа. Начните вход заново.",
                    event="upstream.wrong_callback", retryable=True, provider=provider_key, expected=parked["provider"],
                )
            )
        provider = self.deps.upstream.get(provider_key)
        if provider is None:
            # Removed from the configuration while the person was away: nothing to verify with.
            return await self._refuse(
                SignInRefused(
                    "unknown_provider", "Такой способ входа больше не настроен. Начните вход заново.",
                    event="upstream.unknown_provider", retryable=True, provider=provider_key,
                )
            )
        # A link or an activation binds: the whole profile at once. A plain sign-in needs it only to
        # bind, so a returning person is signed in without it (OIDC: no userinfo request).
        signing_in = not parked.get("link") and not parked.get("activation")
        try:
            with upstream_step(provider_key, "finish"):
                reported = await provider.finish_authorization(
                    self.deps.http, params, parked["flow"], self.deps.callback_url(provider_key),
                    defer_profile=signing_in,
                )
        except UpstreamError as error:
            return await self._upstream_failed(provider_key, error)
        if parked.get("link"):
            return await run_blocking(
                self._after_link, external_identity(reported), str(state), signin_session_id
            )
        if parked.get("activation"):
            return await run_blocking(
                self._after_activation, external_identity(reported), str(state), parked.get("replaces_session")
            )
        return await self._after_identity(
            provider_key, reported, bool(parked.get("remember")), self.safe_next(parked.get("next")),
            parked.get("replaces_session"), answer_app, proof_parked=proof_parked,
        )

    def _after_activation(self, identity: ExternalIdentity, state: str, replaces_session: str | None) -> Outcome:
        """The round trip a mailed link started: bind through its proof, never anything else."""
        deps = self.deps
        proof = take_activation_proof(deps.database, self.browser, state)
        if proof is None:
            return refused(refuse_missing_proof(deps.database, self.audit, identity.provider))
        try:
            started = bind_through_activation(
                deps.database, self.audit, proof, identity, replaces_session=replaces_session, rules=deps.rules
            )
        except SignInRefused as refusal:
            return refused(refusal)
        return self._signed_in(started, deps.default_next)

    def _after_link(self, identity: ExternalIdentity, state: str, signin_session_id: str | None) -> Outcome:
        """The round trip «Привязать» started: bind to the person still signed in here, never sign in."""
        proof = take_link_proof(self.deps.database, self.browser, state)
        try:
            linked = link_provider(self.deps.database, self.audit, proof, identity, signin_session_id, self.deps.rules)
        except SignInRefused as refusal:
            return refused(refusal)
        return Linked(linked.provider)

    async def _after_identity(
        self,
        provider_key: str,
        reported: UpstreamIdentity,
        remember: bool,
        next_url: str,
        replaces_session: str | None,
        answer_app: AnswerApp | None = None,
        *,
        proof_parked: bool = True,
    ) -> Outcome:
        """Sign in a bound person; else, with the whole profile, bind with a parked local proof or
        park a pending binding.

        Without its profile yet (`complete_profile`), the identity signs a bound person in as it
        is; binding needs the profile, so a parked proof is left in place until it is fetched.
        `proof_parked` is what the round trip's take noted: without a proof then, that first look
        skips reading for one (the look with the whole identity still takes any parked since).
        """
        identity, deferred = external_identity(reported), reported.complete_profile
        signed = await run_blocking(
            self._sign_in_unless_proof_parked, identity, remember, next_url, replaces_session, answer_app,
            deferred is not None, False, proof_parked,
        )
        if deferred is not None and (signed is None or signed is PROOF_PARKED):
            # Binding compares names and keeps them: the profile the sign-in went without.
            try:
                with upstream_step(provider_key, "profile"):
                    identity = external_identity(await deferred())
            except UpstreamError as error:
                return await self._upstream_failed(provider_key, error)
            # With the whole identity, as always: the unit of work that decides takes the proof, or
            # parks the pending binding (nobody bound), or signs in whoever was bound meanwhile.
            signed = await run_blocking(
                self._sign_in_unless_proof_parked, identity, remember, next_url, replaces_session, answer_app,
                False, signed is None,
            )
        if isinstance(signed, ParkedProof):
            return await run_blocking(self._bind_with_proof, identity, signed, remember, next_url, replaces_session)
        if signed is None:
            return NeedsLocalPassword(identity)
        assert signed is not PROOF_PARKED
        return signed

    def _sign_in_unless_proof_parked(
        self,
        identity: ExternalIdentity,
        remember: bool,
        next_url: str,
        replaces_session: str | None,
        answer_app: AnswerApp | None,
        keep_proof: bool,
        found_nobody: bool = False,
        proof_parked: bool = True,
    ) -> Outcome | ParkedProof | ProofLeftParked | None:
        """A bound person signed in (the app answered in the same transaction); the local proof
        parked in this browser, taken (or with `keep_proof` left there: PROOF_PARKED); or None when
        nobody is bound yet (`found_nobody`: as a look a moment ago found; `proof_parked`: False when
        the round trip's take, a moment ago, noted no proof)."""
        deps = self.deps
        try:
            follow_up: FollowUp | None = None
            if answer_app is not None:
                answer_app.prepare()

                def follow_up(db: Session, started: SessionStarted) -> object:
                    return answer_app.answer(db, started, next_url)

            # A password proved in this browser decides the account (bound to it, or refused);
            # otherwise a bound person is signed in, the app answered in the same transaction.
            # Nobody bound yet: the identity waits for the issued password, parked in the same
            # transaction that found nobody.
            awaiting = AwaitedPassword(
                {"remember": remember, "next": next_url, "replaces_session": replaces_session}, deps.rules.step_ttl
            )
            signed = sign_in_unless_proof_parked(
                deps.database, self.audit, self.browser, identity, remember=remember,
                replaces_session=replaces_session, rules=deps.rules, follow_up=follow_up, awaiting=awaiting,
                keep_proof=keep_proof, found_nobody=found_nobody, proof_parked=proof_parked,
            )
        except SignInRefused as refusal:
            return refused(refusal)
        if signed is None or isinstance(signed, (ParkedProof, ProofLeftParked)):
            return signed
        return self._signed_in(signed, next_url)

    def _bind_with_proof(
        self,
        identity: ExternalIdentity,
        proved: ParkedProof,
        remember: bool,
        next_url: str,
        replaces_session: str | None,
    ) -> Outcome:
        """The identity binds to the account the local proof taken from this browser names."""
        deps = self.deps
        try:
            started = bind_external_identity(
                deps.database, self.audit, proved.proof, identity, order=BindingOrder.LOCAL_FIRST,
                remember=bool(proved.flow_data.get("remember")) or remember,
                replaces_session=replaces_session, rules=deps.rules,
            )
        except SignInRefused as refusal:
            return refused(refusal)
        parked_next = proved.flow_data.get("next")
        return self._signed_in(started, self.safe_next(parked_next) if parked_next else next_url)

    # --- the local password ---------------------------------------------------------------------

    def pending_identity(self) -> ExternalIdentity | None:
        pending = peek_pending_binding(self.deps.database, self.browser)
        return pending.identity if pending is not None else None

    def has_local_proof(self) -> bool:
        return peek_local_proof(self.deps.database, self.browser) is not None

    def parked_preferences(self) -> tuple[bool, str]:
        local = peek_local_proof(self.deps.database, self.browser)
        flow_data: dict[str, Any] = local.flow_data if local is not None else {}
        return bool(flow_data.get("remember")), self.safe_next(flow_data.get("next"))

    def submit_password(
        self, login: str, password: str, *, remember: bool, next_url: str | None, binding_only: bool = False
    ) -> Outcome:
        """The local login and password: completes a pending binding, or parks a local proof.

        `binding_only` is the external-first form: without a pending binding there is nothing to do.
        """
        deps = self.deps
        login = login.strip()
        try:
            # One transaction after the hash settles the throttle, takes the pending binding and
            # binds it (or, local first, parks the proof): the flow only reads what happened.
            done = password_step(
                deps.database, self.audit, self.browser, login, password, rules=deps.rules, remember=remember,
                park_proof_with=None if binding_only else {"remember": remember, "next": self.safe_next(next_url)},
            )
        except SignInRefused as refusal:
            return refused(refusal)
        if done is None:
            return BINDING_EXPIRED
        if isinstance(done, PasswordBound):
            return self._signed_in(done.started, self.safe_next(done.flow_data.get("next")))
        return NeedsProvider()

    # --- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _signed_in(started: SessionStarted, next_url: str) -> SignedIn:
        return SignedIn(
            started.cookie_token, started.remember, started.needs_role_choice, next_url,
            profile_due=started.profile_due, answer=started.followed_by,
        )

    async def _upstream_failed(self, provider_key: str, error: UpstreamError) -> Refused:
        count_upstream_error(provider_key, error.code)
        # The detail may quote what the other side sent (error_description): repr keeps it one line.
        logger.warning("upstream %s failed: %s %r", provider_key, error.code, error.detail)
        return await self._refuse(
            SignInRefused(
                error.code, error.message, event="upstream.failed", retryable=error.retryable,
                provider=provider_key, reason=error.code, detail=error.detail[:300],
            )
        )

    async def _refuse(self, refusal: SignInRefused) -> Refused:
        await run_blocking(record_refusal, self.deps.database, self.audit, refusal)
        return refused(refusal)
