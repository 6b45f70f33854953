"""Named mutations of the bridge's security checks, for scripts/mutation_check.py.

Each entry deletes or inverts one protection and names the tests that must then fail. `original`
must occur exactly once in `file`: when the code around a check changes, the runner reports the
entry as MISSING and exits non-zero, so the catalogue is updated with the code rather than
silently checking nothing. Keep entries small: one check per mutation.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Edit:
    file: str
    original: str
    mutated: str


@dataclass(frozen=True)
class Mutation:
    name: str
    protects: str
    edits: tuple[Edit, ...]
    tests: tuple[str, ...]
    # Row locks exist only on PostgreSQL: such a mutation's tests run there even by default.
    needs_postgresql: bool = False


def mutation(
    name: str, protects: str, file: str, original: str, mutated: str, tests: tuple[str, ...],
    *, also: tuple[Edit, ...] = (), needs_postgresql: bool = False,
) -> Mutation:
    """One check deleted or inverted; `also` for a protection the code makes in two places."""
    return Mutation(name, protects, (Edit(file, original, mutated), *also), tests, needs_postgresql)


# Left out as equivalent (deleting them changes nothing an attacker gets):
# - parsing.authorization_code's `parked.get("issuer") != issuer`: the flow already refuses a
#   callback at another provider's path, and what it parked is that provider's issuer; only a
#   provider reconfigured while a flow waits reaches the check, and the answer then still comes
#   from the provider configured now.

# Test sets, by what they attack.
ATTACKS = "tests/e2e/test_attacks.py"
USERINFO_TOKENS = "tests/op/test_userinfo_tokens.py"
SIGNIN = ("tests/e2e/test_signin_guards.py", "tests/e2e/test_first_signin.py", "tests/e2e/test_roles_and_sessions.py")
UPSTREAM = ("tests/e2e/test_upstream_faults.py", "tests/e2e/test_signin_guards.py", "tests/upstream")
CODES = ("tests/op/test_refusals.py", "tests/op/test_code_flow.py")
REFRESH = ("tests/op/test_refresh_and_logout.py",)
# The authorization endpoint judges the browser's sign-in session with the grantee's rules.
AUTHORIZE_SESSION = "tests/op/test_authorize_session_checks.py"
ADMIN = ("tests/routes/test_admin.py",)
LOGS = "tests/e2e/test_logs_hold_no_secrets.py"
FLOWS = "tests/e2e/test_flow_state.py"
FLOW_STORE = "tests/services/test_flow_state.py"
THROTTLE = "tests/e2e/test_throttle_race.py"
SIGNING_KEYS = ("tests/services/test_signing_keys.py", "tests/storage/test_signing_key_migration.py")
HOUSEKEEPING = "tests/services/test_housekeeping.py"
CSRF_WEB = "tests/web/test_csrf.py"
NUL_BYTES = "tests/web/test_nul_bytes.py"
NUL_UPSTREAM = "tests/e2e/test_upstream_nul.py"
REGISTRATION = "tests/e2e/test_registration_activation.py"
REQUESTS = ("tests/services/test_request_decisions.py", "tests/application/test_registration.py")
CABINET = "tests/e2e/test_cabinet.py"
SUPPORT_QUEUE = "tests/e2e/test_support_queue.py"
STAFF_LIST = ("tests/application/test_staff_directory.py", "tests/routes/test_admin_staff.py")
STAFF_IMPORT = ("tests/application/test_staff_import.py",)
CSRF_ROUTES = "tests/routes/test_csrf.py"
AUDIT_CHAIN = "tests/services/test_audit_chain.py"
AUDIT_COMMANDS = "tests/cli/test_audit_trail_commands.py"
OPERATIONS = "tests/routes/test_operations.py"
REQUEST_ID = "tests/observability/test_request_id.py"
OUTAGE = ("tests/web/test_database_outage.py", "tests/storage/test_outage.py")
LIFECYCLE = ("tests/application/test_staff_lifecycle.py", "tests/e2e/test_blocked_and_deactivated.py")
BACKCHANNEL = "tests/op/test_backchannel_logout.py"
REVOCATION_INTROSPECTION = "tests/op/test_revocation_and_introspection.py"
CALLBACK_ANSWER = "tests/e2e/test_callback_answers_app_attacks.py"
FAST_PATHS = "tests/e2e/test_fast_path_attacks.py"


CATALOGUE: tuple[Mutation, ...] = (
    # --- back-channel logout (bridge/services/logout_deliveries.py, bridge/op/backchannel.py) -------
    mutation(
        "backchannel.on_end_sessions", "ending a person's sessions (block, deactivation, reset, unbind, "
        "«Завершить сеансы») queues a logout token for every app used in them",
        "bridge/services/account_access.py",
        "    queue_logout_tokens(db, SignInSession.staff_id == staff.id, now)\n",
        "",
        (BACKCHANNEL,),
    ),
    mutation(
        "backchannel.on_sign_out", "signing out at the bridge tells the apps used in the session",
        "bridge/application/signin.py",
        "        announce_session_end(db, signin_session_id)\n",
        "",
        (BACKCHANNEL,),
    ),
    mutation(
        "backchannel.on_rp_logout", "RP-initiated logout tells the apps used in the session",
        "bridge/op/logout.py",
        "            announced = announce_session_end(context.db, session_id, context.now)",
        "            announced = 0",
        (BACKCHANNEL,),
    ),
    mutation(
        "backchannel.sid_when_required", "an app that asked for the session gets its sid in the logout token",
        "bridge/services/logout_deliveries.py",
        "        owed[(client_id, staff_id, sid if session_required else None)] = subject",
        "        owed[(client_id, staff_id, None)] = subject",
        (BACKCHANNEL,),
    ),
    mutation(
        "backchannel.live_sessions_only", "a session already ended is not announced again",
        "bridge/services/logout_deliveries.py",
        "            sessions, SignInSession.ended_at.is_(None),",
        "            sessions,",
        (BACKCHANNEL,),
    ),
    mutation(
        "backchannel.enabled_apps_only", "a disabled app is not told (nor sent anything)",
        "bridge/services/logout_deliveries.py",
        "            OAuthClient.backchannel_logout_uri.is_not(None), OAuthClient.disabled_at.is_(None),",
        "            OAuthClient.backchannel_logout_uri.is_not(None),",
        (BACKCHANNEL,),
    ),
    mutation(
        "backchannel.failure_retried", "a delivery the app did not accept (non-2xx) is not counted delivered",
        "bridge/op/backchannel.py",
        "            if not response.is_success:",
        "            if False:",
        (BACKCHANNEL,),
    ),
    # --- revocation and introspection (bridge/op/token_endpoints.py) -------------------------------
    mutation(
        "tokens.own_client", "an app may revoke only its own tokens (and introspect only its own)",
        "bridge/op/token_endpoints.py",
        "        return self.client_id == client.get_client_id()",
        "        return True",
        (REVOCATION_INTROSPECTION,),
    ),
    mutation(
        "tokens.introspect_any_flag", "only a registered resource server introspects other apps' tokens",
        "bridge/op/token_endpoints.py",
        "        return token.check_client(client) or client.app.introspect_any",
        "        return True",
        (REVOCATION_INTROSPECTION,),
    ),
    mutation(
        "tokens.revocation_revokes_grant", "revocation revokes the grant, so userinfo refuses its access tokens",
        "bridge/op/token_endpoints.py",
        "        revoked = revoke_family(context.db, token.grant_id, context.now)",
        "        revoked = 0",
        (REVOCATION_INTROSPECTION,),
    ),
    mutation(
        "tokens.introspection_liveness", "an access token is active only with a live grant and session",
        "bridge/op/token_endpoints.py",
        "        active = (\n            grantee is not None",
        "        active = True or (\n            grantee is not None",
        (REVOCATION_INTROSPECTION, BACKCHANNEL),
    ),
    mutation(
        "tokens.introspection_confidential", "a public app (no secret) cannot introspect",
        "bridge/op/token_endpoints.py",
        'INTROSPECTION_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]',
        'INTROSPECTION_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]',
        (REVOCATION_INTROSPECTION,),
    ),
    mutation(
        "tokens.registered_auth_method", "an app authenticates at revocation and introspection only the way it "
        "registered (a confidential app cannot name itself without its secret)",
        "bridge/op/models.py",
        '        if endpoint in ("token", "revocation", "introspection"):',
        '        if endpoint == "token":',
        (REVOCATION_INTROSPECTION,),
    ),
    # --- the grantee read as columns at the token and userinfo endpoints (bridge/services/grantees.py) --
    mutation(
        "grantee.grant_revoked", "userinfo refuses an access token whose grant is revoked (reuse, revocation)",
        "bridge/services/grantees.py",
        "    if not rows or rows[0].grant_revoked_at is not None or rows[0].grant_client_id != client_id:",
        "    if not rows or rows[0].grant_client_id != client_id:",
        (REVOCATION_INTROSPECTION, *REFRESH, *CODES),
    ),
    mutation(
        "grantee.own_session", "userinfo judges the token's own sign-in session, not any live one of the person",
        "bridge/services/grantees.py",
        "    .outerjoin(SignInSession, SignInSession.id == OAuthGrant.signin_session_id)\n",
        "    .outerjoin(SignInSession, SignInSession.staff_id == OAuthGrant.staff_id)\n",
        ("tests/op/test_grants.py",),
    ),
    mutation(
        "grantee.session_current",
        "a code, tokens and userinfo only for a sign-in session not ended, expired or idle",
        "bridge/services/grantees.py",
        "    if not is_session_current(first, timeouts, now):\n        return None",
        "    if False:\n        return None",
        (*REFRESH, "tests/op/test_session_timeouts.py", AUTHORIZE_SESSION),
    ),
    mutation(
        "grantee.person_current", "no code, token or userinfo for a blocked person or after a credential reset",
        "bridge/services/grantees.py",
        "    if first.session_staff_id != staff_id or not is_person_current(",
        "    if first.session_staff_id != staff_id or False and not is_person_current(",
        (*REFRESH, AUTHORIZE_SESSION),
    ),
    mutation(
        "grantee.frozen_role_current",
        "a role that has ended since the code leaves the claims; no code under a session's ended role",
        "bridge/services/grantees.py",
        "    if frozen is not None and not is_role_active(frozen, now):",
        "    if False:",
        (*REFRESH, AUTHORIZE_SESSION),
    ),
    # --- userinfo's access token checks (bridge/op/userinfo.py: the token parsed once) --------------
    mutation(
        "userinfo.access_token_type", "an id_token (same keys) does not pass for an access token at userinfo",
        "bridge/op/userinfo.py",
        '            if str(header.get("typ", "")).lower() not in _ACCESS_TOKEN_TYPES:',
        "            if False:",
        (USERINFO_TOKENS,),
    ),
    mutation(
        "userinfo.signature", "userinfo takes only tokens signed by a published key of ours",
        "bridge/op/userinfo.py",
        "            if not jws.validate_compact(obj, keys, registry=_SIGNATURES):",
        "            if False:",
        (USERINFO_TOKENS,),
    ),
    mutation(
        "userinfo.claims_checked", "userinfo refuses an expired token, another issuer's or another audience's",
        "bridge/op/userinfo.py",
        "            self._claims.validate(claims)",
        "            pass",
        (USERINFO_TOKENS,),
    ),
    mutation(
        "userinfo.audience", "userinfo takes only tokens whose audience names it",
        "bridge/op/userinfo.py",
        '        "aud": {"essential": True, "value": resource_server},',
        '        "aud": {"essential": True},',
        (USERINFO_TOKENS,),
    ),
    mutation(
        "userinfo.grant_read_each_call", "userinfo asks the server at every call whether the grant is revoked",
        "bridge/op/userinfo.py",
        "    if grant is None:\n        raise UserinfoRefusal(",
        "    if False:\n        raise UserinfoRefusal(",
        (USERINFO_TOKENS, "tests/op/test_grants.py"),
    ),
    # --- No NUL character reaches a route (bridge/web/text_guard.py) ------------------------------
    mutation(
        "nul.path", "a NUL in the decoded path is refused at the edge", "bridge/web/text_guard.py",
        '            NUL in scope["path"]\n', "            False\n", (NUL_BYTES,),
    ),
    mutation(
        "nul.query", "a NUL in the query string is refused at the edge", "bridge/web/text_guard.py",
        '            or query_has_nul(scope["query_string"])\n', "            or False\n", (NUL_BYTES,),
    ),
    mutation(
        "nul.form", "a NUL in a form's text field is refused at the edge (the CSRF-exempt endpoints too)",
        "bridge/web/text_guard.py", "                if poisoned:\n", "                if False:\n", (NUL_BYTES,),
    ),
    mutation(
        "nul.multipart", "a raw NUL in a multipart body is looked for (a text field beside a file)",
        "bridge/web/text_guard.py", 'return b"\\x00" in body or (kind == URLENCODED', "return (kind == URLENCODED",
        (NUL_BYTES,),
    ),
    mutation(
        "nul.upstream", "a NUL in any string a provider answers (names, e-mail, sub, acr) refuses the answer",
        "bridge/upstream/parsing.py", '            if "\\x00" in value:\n', "            if False:\n",
        (NUL_UPSTREAM, "tests/upstream/test_parsing.py"),
    ),
    # --- CSRF on every unsafe request (bridge/web/csrf.py, CSRF_EXEMPT in bridge/app.py) ------------
    mutation(
        "csrf.middleware", "CSRFMiddleware refuses an unsafe request without this browser's token",
        "bridge/web/csrf.py",
        "        if not csrf_valid(request, submitted):\n            await stale_form(request)(scope, receive, send)",
        "        if False:\n            await stale_form(request)(scope, receive, send)",
        (CSRF_WEB, CSRF_ROUTES, *SIGNIN, ATTACKS, FLOWS),
    ),
    mutation(
        "csrf.workplace_page", "the workplace-data page (it answers apps with codes) is CSRF-checked",
        "bridge/app.py",
        '    "oidc_authorize",\n})',
        '    "oidc_authorize",\n    "login_profile_save",\n})',
        (FAST_PATHS,),
    ),
    mutation(
        "csrf.header", "the X-CSRF-Token header must hold the token, not just be present", "bridge/web/csrf.py",
        "        if csrf_valid(request, request.headers.get(CSRF_HEADER)):",
        "        if request.headers.get(CSRF_HEADER):",
        (CSRF_WEB, CSRF_ROUTES),
    ),
    mutation(
        "csrf.methods", "PUT, PATCH and DELETE are checked like POST", "bridge/web/csrf.py",
        'UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})',
        'UNSAFE_METHODS = frozenset({"POST"})',
        (CSRF_WEB,),
    ),
    mutation(
        "csrf.exempt", "only the OAuth endpoints named in CSRF_EXEMPT go unchecked (here /oidc/logout too)",
        "bridge/app.py",
        '    "oidc_token",\n',
        '    "oidc_token",\n    "oidc_logout",\n',
        (CSRF_ROUTES, ATTACKS, *REFRESH),
    ),
    mutation(
        "csrf.compare", "the CSRF token must be the HMAC of this browser's id", "bridge/web/csrf.py",
        "    return isinstance(submitted, str) and hmac.compare_digest("
        "_expected(request).encode(), submitted.encode())",
        "    return isinstance(submitted, str)",
        (CSRF_WEB, CSRF_ROUTES, *SIGNIN, *ADMIN, ATTACKS, FLOWS),
    ),
    # --- what every response carries and what the flow cookie may hold (bridge/web/) -----------------
    mutation(
        "headers.security", "every response carries the security headers (CSP, X-Frame-Options, …)",
        "bridge/web/security_headers.py",
        "        return [*headers, *(header for header in self._raw if header[0] not in present)]",
        "        return list(headers)",
        ("tests/web/test_security_headers.py", "tests/routes/test_home.py"),
    ),
    mutation(
        "browser.well_formed", "a flow cookie that is not 32–64 URL-safe characters is replaced, never used",
        "bridge/web/browser.py",
        "            self._value = presented if _well_formed(presented) else None",
        "            self._value = presented",
        ("tests/web/test_browser.py",),
    ),
    # --- authorization codes and refresh tokens -----------------------------------------------------
    # A code is redeemed by one UPDATE … RETURNING whose conditions are the checks (the look-up that
    # follows a refusal only names its reason, and catches reuse).
    mutation(
        "code.claim_once", "used_at IS NULL guard of the code claim (replay, parallel redemption)",
        "bridge/services/authorization_codes.py",
        "        AuthorizationCode.used_at.is_(None),\n",
        "",
        (*CODES, ATTACKS),
    ),
    mutation(
        "code.unclaimed_refused", "tokens only from the claim: a code this request did not claim is refused",
        "bridge/op/grants.py",
        "        if not authorization_code.claimed:\n",
        "        if False:\n",
        CODES,
    ),
    mutation(
        "code.reuse_detected", "a used code is recognised as reuse at look-up",
        "bridge/services/authorization_codes.py",
        "    if record.used_at is not None:\n        revoked = revoke_family(",
        "    if False:\n        revoked = revoke_family(",
        (*CODES, ATTACKS),
    ),
    mutation(
        "code.expiry", "an expired code is not redeemed", "bridge/services/authorization_codes.py",
        '        AuthorizationCode.expires_at > bindparam("now"),\n',
        "",
        (*CODES, ATTACKS),
    ),
    mutation(
        "code.client", "a code is redeemed only by its client", "bridge/services/authorization_codes.py",
        '        AuthorizationCode.client_id == bindparam("presented_client_id"),\n',
        "",
        (*CODES, ATTACKS),
    ),
    mutation(
        "code.redirect_uri", "a code is redeemed only with its redirect_uri (another one leaves it unspent)",
        "bridge/services/authorization_codes.py",
        '        AuthorizationCode.redirect_uri == bindparam("presented_redirect_uri"),\n',
        "",
        CODES,
    ),
    mutation(
        "code.pkce", "a code is redeemed only with its PKCE verifier (a wrong one leaves it unspent)",
        "bridge/services/authorization_codes.py",
        '        AuthorizationCode.code_challenge == bindparam("presented_challenge"),\n',
        "",
        CODES,
    ),
    mutation(
        "refresh.claim_once", "rotated_at IS NULL guard of the refresh claim (parallel rotation)",
        "bridge/services/oauth_tokens.py",
        ".where(RefreshToken.id == record.id, RefreshToken.rotated_at.is_(None), RefreshToken.revoked_at.is_(None))",
        ".where(RefreshToken.id == record.id, RefreshToken.revoked_at.is_(None))",
        (*REFRESH, ATTACKS),
    ),
    mutation(
        "refresh.reuse_detected", "a rotated refresh token is recognised as reuse at look-up",
        "bridge/services/oauth_tokens.py",
        "    if record.rotated_at is not None:\n        return RefreshLookup(RefreshState.REUSED",
        "    if False:\n        return RefreshLookup(RefreshState.REUSED",
        (*REFRESH, ATTACKS),
    ),
    mutation(
        "refresh.revoked", "a revoked refresh token is refused (at look-up and in the claim)",
        "bridge/services/oauth_tokens.py",
        "    if record.revoked_at is not None:\n        return RefreshLookup(RefreshState.REVOKED, record)",
        "    if False:\n        return RefreshLookup(RefreshState.REVOKED, record)",
        (*REFRESH, ATTACKS),
        # The grant is revoked with the tokens (defence in depth): both places go, or nothing changes.
        also=(Edit("bridge/services/oauth_tokens.py",
                   "RefreshToken.rotated_at.is_(None), RefreshToken.revoked_at.is_(None))",
                   "RefreshToken.rotated_at.is_(None))"),
              Edit("bridge/op/grants.py",
                   "        if grant is None:\n"
                   "            revoke_family(",
                   "        if False:\n            revoke_family("),),
    ),
    mutation(
        "refresh.lock_order", "a refresh locks its grant before its token (no deadlock among racing uses)",
        "bridge/op/grants.py",
        "record.client_id, lock=True)",
        "record.client_id, lock=False)",
        ("tests/op/test_parallel_redemption.py",),
        needs_postgresql=True,
    ),
    mutation(
        "refresh.client", "a refresh token is used only by its client (our look-up and Authlib's check_client)",
        "bridge/services/oauth_tokens.py",
        "    if record.client_id != client_id:\n        return RefreshLookup(RefreshState.WRONG_CLIENT, record)",
        "    if False:\n        return RefreshLookup(RefreshState.WRONG_CLIENT, record)",
        (*REFRESH, ATTACKS),
        also=(Edit("bridge/op/models.py",
                   "        return self.record.client_id == client.get_client_id()",
                   "        return True"),),
    ),
    # --- upstream responses bound to the flow that asked for them -----------------------------------
    mutation(
        "upstream.state", "the callback's state must equal the parked flow's", "bridge/upstream/parsing.py",
        '    if parked.get("issuer") != issuer or not same_secret(callback_params.get("state"), parked.get("state")):',
        '    if parked.get("issuer") != issuer:',
        # The flow finds its step by this very state, so end to end it is defence in depth; the
        # connectors' shared check keeps its own contract, attacked directly.
        (*UPSTREAM, ATTACKS, "tests/upstream/test_parsing.py"),
    ),
    mutation(
        "upstream.iss", "RFC 9207: an iss in the callback must be the provider's", "bridge/upstream/parsing.py",
        '    if "iss" in callback_params and callback_params["iss"] != issuer:',
        "    if False:",
        (*UPSTREAM, ATTACKS, "tests/e2e/test_upstream_binding.py"),
    ),
    mutation(
        "upstream.same_secret", "state and nonce comparisons compare", "bridge/upstream/parsing.py",
        "    return isinstance(left, str) and isinstance(right, str) and "
        "hmac.compare_digest(left.encode(), right.encode())",
        "    return True",
        (*UPSTREAM, ATTACKS),
    ),
    mutation(
        "esia.nonce", "the ESIA id_token's nonce must be this flow's", "bridge/upstream/esia.py",
        "            if not same_secret(claims[\"nonce\"], nonce):",
        "            if False:",
        (*UPSTREAM, ATTACKS, "tests/e2e/test_upstream_binding.py"),
    ),
    mutation(
        "esia.nonce_required", "an ESIA id_token without a nonce is refused (absent means refused)",
        "bridge/upstream/esia.py",
        "        elif self.require_nonce:",
        "        elif False:",
        (*UPSTREAM, "tests/e2e/test_upstream_binding.py", "tests/e2e/test_esia_nonce_not_echoed.py"),
    ),
    mutation(
        "esia.token_state", "ESIA's token response echoes the state sent with the code", "bridge/upstream/esia.py",
        '        if not same_secret(token.get("state"), state):',
        "        if False:",
        (*UPSTREAM, ATTACKS),
    ),
    mutation(
        "esia.person_oid", "ESIA person data must be the id_token's person", "bridge/upstream/esia.py",
        '        if "oid" in person and str(person["oid"]) != oid:',
        "        if False:",
        (*UPSTREAM, ATTACKS),
    ),
    mutation(
        "esia.audience", "the ESIA id_token is for this client", "bridge/upstream/esia.py",
        '                aud={"essential": True, "value": self.client_id},\n                sub={"essential": True},\n'
        '                exp={"essential": True},\n                iat={"essential": True},\n            ).validate(',
        '                sub={"essential": True},\n'
        '                exp={"essential": True},\n                iat={"essential": True},\n            ).validate(',
        (*UPSTREAM, ATTACKS),
    ),
    mutation(
        "oidc.nonce", "the OIDC id_token's nonce must be this flow's", "bridge/upstream/oidc.py",
        '                nonce={"essential": True, "value": nonce},\n',
        "",
        (*UPSTREAM, ATTACKS),
    ),
    mutation(
        "oidc.userinfo_sub", "userinfo must describe the id_token's subject", "bridge/upstream/oidc.py",
        '            if userinfo.get("sub") != claims["sub"]:',
        "            if False:",
        (*UPSTREAM, ATTACKS),
    ),
    mutation(
        "oidc.discovery_issuer", "a discovery document must speak for the configured issuer", "bridge/upstream/oidc.py",
        '        if metadata.get("issuer") != self.issuer:',
        "        if False:",
        (*UPSTREAM, ATTACKS),
    ),
    # --- where the browser is sent after sign-in ----------------------------------------------------
    mutation(
        "safe_next.all", "next is a local path", "bridge/flows/signin.py",
        '    if not value or not value.startswith("/") or value.startswith("//") or "\\\\" in value:',
        "    if not value:",
        (*SIGNIN, "tests/op/test_interaction.py", ATTACKS),
    ),
    mutation(
        "safe_next.scheme_relative", "next is not //host", "bridge/flows/signin.py",
        '    if not value or not value.startswith("/") or value.startswith("//") or "\\\\" in value:',
        '    if not value or not value.startswith("/") or "\\\\" in value:',
        (*SIGNIN, "tests/op/test_interaction.py", ATTACKS),
    ),
    mutation(
        "safe_next.backslash", "next holds no backslash (/\\host is //host to browsers)", "bridge/flows/signin.py",
        '    if not value or not value.startswith("/") or value.startswith("//") or "\\\\" in value:',
        '    if not value or not value.startswith("/") or value.startswith("//"):',
        (*SIGNIN, "tests/op/test_interaction.py", ATTACKS),
    ),
    mutation(
        "safe_next.absolute", "next is not an absolute URL", "bridge/flows/signin.py",
        '    if not value or not value.startswith("/") or value.startswith("//") or "\\\\" in value:',
        '    if not value or value.startswith("//") or "\\\\" in value:',
        (*SIGNIN, "tests/op/test_interaction.py", ATTACKS),
    ),
    # --- flow state: single use (the lead moves these to server-side records; re-point them) -------
    mutation(
        "flow.single_use", "a parked step is taken by DELETE … RETURNING (a copied cookie finds nothing)",
        "bridge/services/flow_state.py",
        "_TAKE_STEP = delete(_FLOWS).where(*_STEP).returning(_FLOWS.c.data, _FLOWS.c.expires_at)",
        "_TAKE_STEP = select(_FLOWS.c.data, _FLOWS.c.expires_at).where(*_STEP)",
        (FLOWS, FLOW_STORE, ATTACKS, FAST_PATHS),
    ),
    mutation(
        "flow.single_use_round_trip",
        "the upstream round trip is taken by DELETE … RETURNING too, when it notes a proof",
        "bridge/services/flow_state.py",
        "    delete(_FLOWS)\n    .where(*_STEP)\n    .returning(\n",
        "    update(_FLOWS)\n    .where(*_STEP)\n    .values(kind=_FLOWS.c.kind)\n    .returning(\n",
        (FLOW_STORE, FLOWS, ATTACKS),
    ),
    mutation(
        "flow.bound_to_browser", "a parked step is found only under the browser that parked it",
        "bridge/services/flow_state.py",
        '    _FLOWS.c.browser == bindparam("step_browser"),\n',
        "",
        (FLOWS, FLOW_STORE, "tests/op/test_interaction.py", FAST_PATHS),
    ),
    mutation(
        "flow.keyed_by_state", "the upstream step is found only by the state it sent",
        "bridge/services/flow_state.py",
        '    _FLOWS.c.key == bindparam("step_key"),\n',
        "",
        (FLOWS, FLOW_STORE),
    ),
    mutation(
        "flow.reset_discards", "a password reset discards the local proofs resting on the old password",
        "bridge/services/account_access.py",
        "    steps = discard_for_staff(db, staff.id)\n",
        "    steps = 0\n",
        (FLOWS,),
    ),
    mutation(
        "flow.expiry", "a parked step expires", "bridge/services/flow_state.py",
        "    return expires_at > now\n",
        "    return True\n",
        (*SIGNIN, FLOWS, FLOW_STORE, FAST_PATHS),
    ),
    # --- password throttle --------------------------------------------------------------------------
    mutation(
        "throttle.budget", "an attempt is reserved only while budget is left", "bridge/services/throttle.py",
        "        where=allowed,\n",
        "",
        (*SIGNIN, THROTTLE, ATTACKS),
    ),
    mutation(
        "throttle.consulted", "an attempt is reserved before the password is tried",
        "bridge/application/first_signin.py",
        "            reserve_attempt(db, login, audit.address, throttle)",
        "            pass",
        (*SIGNIN, THROTTLE),
    ),
    # --- signing keys at rest and in rotation, housekeeping ----------------------------------------
    mutation(
        "keys.wrapped_at_rest", "a new signing key is stored only wrapped", "bridge/services/signing_keys.py",
        "kek_id=wrapped.kek_id, wrapped_jwk=wrapped.blob,\n        created_at=now,",
        "kek_id=wrapped.kek_id, wrapped_jwk=wrapped.blob,\n        created_at=now, plaintext_jwk=jwk,",
        SIGNING_KEYS,
    ),
    mutation(
        "keys.plaintext_cleared", "wrapping a key stored before encryption at rest clears the plaintext",
        "bridge/services/signing_keys.py",
        ".values(kek_id=wrapped.kek_id, wrapped_jwk=wrapped.blob, plaintext_jwk=None)",
        ".values(kek_id=wrapped.kek_id, wrapped_jwk=wrapped.blob)",
        SIGNING_KEYS,
    ),
    mutation(
        "keys.one_active_per_alg", "at most one active signing key per algorithm (unique partial index)",
        "bridge/storage/migrations/versions/0011_signing_keys_at_rest.py",
        '"ix_signing_keys_one_active_per_alg", "signing_keys", ["alg"], unique=True,',
        '"ix_signing_keys_one_active_per_alg", "signing_keys", ["alg"], unique=False,',
        SIGNING_KEYS,
    ),
    mutation(
        "purge.rotated_tokens_kept", "rotated refresh tokens of a living family are kept (reuse detection)",
        "bridge/services/housekeeping.py",
        "            ~family_alive(now, RefreshToken.family),\n",
        "",
        (HOUSEKEEPING,),
    ),
    mutation(
        "purge.backoff_remembered", "throttle counters outlive the login backoff's memory",
        "bridge/services/housekeeping.py",
        "max(throttle.window, throttle.backoff_memory,",
        "max(throttle.window,",
        (HOUSEKEEPING,),
    ),
    # --- registration requests and activation links ------------------------------------------------
    mutation(
        "activation.name_match", "a binding through a mailed link demands the name match whatever the policy",
        "bridge/services/binding.py",
        "    _check_policies(staff, identity, replace(policy, require_name_match=True))\n    if staff.bindings:",
        "    _check_policies(staff, identity, policy)\n    if staff.bindings:",
        (REGISTRATION,),
    ),
    mutation(
        "activation.link_single_use",
        "a link is taken by one conditional UPDATE: a used, revoked or expired one takes nothing",
        "bridge/services/activation_links.py",
        "            ActivationLink.used_at.is_(None),\n            ActivationLink.revoked_at.is_(None),\n"
        "            ActivationLink.expires_at > now,\n",
        "            ActivationLink.expires_at > now,\n",
        ("tests/services/test_activation_links.py", REGISTRATION),
    ),
    mutation(
        "activation.taken_at_binding", "the binding through a link takes the link in its own transaction",
        "bridge/services/binding.py",
        "    if not take_activation_link(db, proof.link_id, staff.id, now):\n",
        "    if False:\n",
        (REGISTRATION,),
    ),
    mutation(
        "activation.first_binding_only", "a link binds a person who has no binding yet, never a second one",
        "bridge/services/binding.py",
        "    if staff.bindings:\n        # A link starts the first binding only",
        "    if False:\n        # A link starts the first binding only",
        ("tests/services/test_request_decisions.py", REGISTRATION),
    ),
    mutation(
        "activation.start_budget", "a link starts a bounded number of round trips, then it is revoked",
        "bridge/application/activation.py",
        "        elif not reserve_activation_start(db, check.link_id):\n",
        "        elif False:\n",
        (REGISTRATION,),
    ),
    mutation(
        "activation.reset_revokes", "a password reset revokes unused activation links",
        "bridge/services/account_access.py",
        "    links = revoke_activation_links(db, staff.id, now)\n",
        "    links = 0\n",
        REQUESTS,
    ),
    mutation(
        "binding.retires_the_password", "a binding retires the issued password for good",
        "bridge/services/binding.py",
        '    db.connection().execute(_RETIRE_PASSWORD, {"staff_id": staff.id, "at": now})\n',
        "",
        ("tests/federation/test_binding_rules.py",),
    ),
    mutation(
        "binding.judges_the_locked_card", "a binding judges the credential as the row lock finds it",
        "bridge/services/binding.py",
        "    # (the password page's administrators' alert does): a stale copy would pass a used password.\n"
        "    staff = db.get(StaffMember, proof.staff_id, with_for_update=True, populate_existing=True)\n",
        "    # (the password page's administrators' alert does): a stale copy would pass a used password.\n"
        "    staff = db.get(StaffMember, proof.staff_id, with_for_update=True)\n",
        ("tests/federation/test_binding_rules.py::test_the_credential_is_judged_as_the_row_lock_finds_it_not_as_the_session_read_it",),
        needs_postgresql=True,  # SQLite runs one writer at a time: no other binding commits in between
    ),
    mutation(
        "activation.password_binding_revokes", "a binding with the issued password revokes unused activation links",
        "bridge/services/binding.py",
        "    # A link mailed earlier must not bind a second account to this person later.\n"
        "    revoke_activation_links(db, staff.id, now)\n",
        "",
        REQUESTS,
    ),
    mutation(
        "requests.decided_by_the_hierarchy", "a request is decided only by whom the hierarchy lets issue its role",
        "bridge/services/registration_requests.py",
        "    if request is None or not may_decide(db, actor, request):\n",
        "    if request is None:\n",
        (*REQUESTS, "tests/application/test_pages_and_cli_agree.py", "tests/routes/test_registration_pages.py"),
    ),
    mutation(
        "requests.role_fits_request", "an approval gives only a role the request's position allows",
        "bridge/services/request_decisions.py",
        "    if role not in candidate_roles(organization, RequestedPosition(request.requested)):\n",
        "    if False:\n",
        (*REQUESTS, "tests/application/test_pages_and_cli_agree.py"),
    ),
    mutation(
        "requests.address_budget", "one address files a bounded number of requests",
        "bridge/services/registration_requests.py",
        '    if not take_from_budget(db, f"registration:address:{address_scope(address)}", ADDRESS_BUDGET, '
        "BUDGET_WINDOW, now):\n        raise RequestsThrottled()\n",
        "",
        ("tests/services/test_registration_requests.py", REGISTRATION),
    ),
    # --- nothing secret in logs or forged in the audit view ----------------------------------------
    mutation(
        "logs.uvicorn_access_off", "bridge serve switches uvicorn's access log (whole query strings) off",
        "bridge/cli/serve.py",
        "        access_log=False, log_config=log_config(settings.log_format),",
        "        access_log=True, log_config=log_config(settings.log_format),",
        (LOGS,),
    ),
    mutation(
        "logs.query_allowlist", "query values outside the allowlist are not written", "bridge/web/access_log.py",
        "    if name not in _SHOWN:\n",
        "    if False:\n",
        (LOGS, "tests/web/test_access_log.py"),
    ),
    mutation(
        "logs.next_without_query", "URL-valued parameters are written without their query",
        "bridge/web/access_log.py",
        "    if not has_value or name not in _URL_VALUED:\n        return pair\n",
        "    return pair\n",
        (LOGS, "tests/web/test_access_log.py"),
    ),
    mutation(
        "logs.mock_without_query", "the mock's access line never holds the query", "idp_mock/idp_mock/access_log.py",
        """            query = "?…" if scope.get("query_string") else \"\"\n""",
        """            query = "?" + bytes(scope.get("query_string", b"")).decode("latin-1")\n""",
        (LOGS, "tests/idp_mock/test_access_log.py"),
    ),
    # --- the person's workplace data and the notices around a binding ------------------------------
    mutation(
        "profile.skip_only_when_filled", "«Пропустить» is refused while a position or the e-mail is missing",
        "bridge/services/staff_profile.py",
        "    if missing_fields(db, staff, now):\n        raise InvalidInput(\n            \"profile_incomplete\",",
        "    if False:\n        raise InvalidInput(\n            \"profile_incomplete\",",
        ("tests/e2e/test_profile_completion.py", "tests/application/test_staff_profile.py"),
    ),
    mutation(
        "profile.own_only", "only the person themself confirms or skips their workplace data",
        "bridge/services/staff_profile.py",
        "    if actor.staff_id != staff.id:\n",
        "    if False:\n",
        ("tests/application/test_staff_profile.py",),
    ),
    mutation(
        "alerts.refused_binding", "a binding refused as someone else's identity mails the person's administrators",
        "bridge/application/first_signin.py",
        "    if refusal.code in ALERTED_REFUSALS:\n",
        "    if False:\n",
        ("tests/e2e/test_profile_completion.py",),
    ),
    mutation(
        "signin.proof_decides_account", "a password proved in this browser binds or is refused, never signs in another",
        "bridge/application/first_signin.py",
        "        local = _proof(look(db, browser_id, FlowKind.LOCAL_PROOF)) if looks else None\n"
        "        if local is not None:\n",
        "        local = None\n        if local is not None:\n",
        ("tests/e2e/test_profile_completion.py",),
    ),
    mutation(
        "signin.proof_noted",
        "the round trip's take notes a password proved in this browser (its look is spared only without one)",
        "bridge/services/flow_state.py",
        "    return data, bool(row.noted)\n",
        "    return data, False\n",
        ("tests/e2e/test_profile_completion.py", FLOW_STORE),
    ),
    mutation(
        "binding.identity_of_another", "an identity bound to someone else is refused as theirs (and alerted)",
        "bridge/services/binding.py",
        "    if any(row.staff_id != staff.id for row in taken):\n",
        "    if False:\n",
        ("tests/federation/test_binding_rules.py", "tests/application/test_signin.py"),
    ),
    mutation(
        "binding.bound_person_is_the_identitys", "a returning identity signs into the account it is bound to, no other",
        "bridge/services/binding.py",
        "    .join(StaffMember, StaffMember.id == _BINDINGS.c.staff_id)\n",
        "    .join(StaffMember, StaffMember.id != _BINDINGS.c.staff_id)\n",
        (FAST_PATHS,),
    ),
    mutation(
        "binding.last_use_of_this_binding", "a sign-in moves its own binding's last use only (administrators read it)",
        "bridge/services/binding.py",
        '_NOTE_LAST_USE = update(_BINDINGS).where(_BINDINGS.c.id == bindparam("binding_id")).values(',
        '_NOTE_LAST_USE = update(_BINDINGS).values(',
        (FAST_PATHS,),
    ),
    mutation(
        "binding.pending_taken_once", "a proved password takes the pending binding (single use), never just reads it",
        "bridge/application/first_signin.py",
        "    return _pending(flow_state.consume(db, browser_id, FlowKind.PENDING_BINDING))\n",
        "    return _pending(flow_state.peek(db, browser_id, FlowKind.PENDING_BINDING))\n",
        ("tests/application/test_signin.py",),
    ),
    # --- a staff account's life: block, deactivation, removal of personal data, the password slip ---
    mutation(
        "lifecycle.block_cuts_access", "a block ends every session, grant, refresh token, link and parked step",
        "bridge/services/staff_lifecycle.py",
        "    staff.blocked_by = actor.audit_context.actor\n    access = cut_access(db, staff, now)\n",
        "    staff.blocked_by = actor.audit_context.actor\n    access = AccessCut(0, 0, 0, 0)\n",
        LIFECYCLE,
    ),
    mutation(
        "lifecycle.block_needs_whole_account", "only an administrator above every current role blocks",
        "bridge/services/staff_lifecycle.py",
        '    """Blocked until unblocked: every session ends now, nothing signs in, the bindings stay."""\n'
        "    now = now or utcnow()\n    staff = get_wholly_managed_staff(db, actor, login, now)\n",
        '    """Blocked until unblocked: every session ends now, nothing signs in, the bindings stay."""\n'
        "    now = now or utcnow()\n    staff = get_managed_staff(db, actor, login)\n",
        (*LIFECYCLE, "tests/application/test_pages_and_cli_agree.py"),
        also=(Edit("bridge/services/staff_lifecycle.py",
                   "from bridge.services.staff import get_wholly_managed_staff, require_not_deactivated\n",
                   "from bridge.services.staff import get_managed_staff, get_wholly_managed_staff, "
                   "require_not_deactivated\n"),),
    ),
    mutation(
        "lifecycle.personal_audit_erased", "the personal details beside audit records go with the person's data",
        "bridge/services/staff_lifecycle.py",
        "    db.execute(delete(AuditPersonalDetails).where(AuditPersonalDetails.staff_id == staff_id))\n",
        "",
        LIFECYCLE,
    ),
    mutation(
        "slip.single_use", "an issued password is shown once: the slip's GET takes it",
        "bridge/services/credential_slips.py",
        "    step = flow_state.consume(db, browser_id, kind, key=slip_id, now=now or utcnow())\n",
        "    step = flow_state.peek(db, browser_id, kind, key=slip_id, now=now or utcnow())\n",
        (*ADMIN, "tests/services/test_staff_lifecycle.py"),
    ),
    mutation(
        "audit.text_escaped", "bridge audit's text view escapes control characters", "bridge/cli/output.py",
        "    if text.isprintable():\n        return text\n",
        "    return text\n",
        ("tests/cli/test_audit_command.py",),
    ),
    # --- the audit hash chain ----------------------------------------------------------------------
    mutation(
        "audit.head_locked_last", "the chain head is locked at commit, after the transaction's other locks",
        "bridge/services/audit_chain.py",
        "    pending.append((db.get_nested_transaction(), entry, personal))\n",
        "    pending.append((db.get_nested_transaction(), entry, personal))\n    lock_head(db, 0)\n",
        (AUDIT_CHAIN,),
    ),
    mutation(
        "audit.known_head_guarded", "a process links from the head it last wrote only while that is the head",
        "bridge/services/audit_chain.py",
        '            hash=case((known, bindparam("audit_new_hash")), else_=head.hash),\n',
        '            hash=bindparam("audit_new_hash"),\n',
        (AUDIT_CHAIN,),
    ),
    mutation(
        "audit.claimed_records_guarded",
        "PostgreSQL's claim inserts the records only when it advanced the head's hash to theirs",
        "bridge/services/audit_chain.py",
        '    linked = and_(claim.c.seq == bindparam("audit_last_seq"), claim.c.hash == bindparam("audit_new_hash"))\n',
        "    linked = true()\n",
        (AUDIT_CHAIN,),
        needs_postgresql=True,  # SQLite claims and inserts in two statements
    ),
    mutation(
        "audit.verify_content", "verify recomputes each record's hash", "bridge/services/audit_verification.py",
        "        if link_hash(walk.running, row) != row.hash:",
        "        if False:",
        (AUDIT_CHAIN,),
    ),
    mutation(
        "audit.verify_gapless", "verify names a missing seq", "bridge/services/audit_verification.py",
        "        if row.seq != expected:",
        "        if False:",
        (AUDIT_CHAIN, AUDIT_COMMANDS),
    ),
    mutation(
        "audit.verify_tail", "verify compares the last record with the head and the anchors",
        "bridge/services/audit_verification.py",
        "    if beyond is not None and beyond[0] > last_seq:",
        "    if False:",
        (AUDIT_CHAIN,),
    ),
    mutation(
        "audit.verify_bounded_by_head", "verify reads the records only up to the head it read first",
        "bridge/services/audit_verification.py",
        "        through_seq, check_end = head.seq, True",
        "        check_end = True",
        (AUDIT_CHAIN,),
    ),
    mutation(
        "audit.anchor_payload", "an anchor's columns must be what was signed", "bridge/services/audit_anchors.py",
        '    if (payload.get("seq"), payload.get("hash"), payload.get("reason")) != '
        "(anchor.seq, anchor.hash, anchor.reason):",
        "    if False:",
        (AUDIT_CHAIN,),
    ),
    mutation(
        "audit.purge_verifies_first", "a purge refuses to anchor a tampered log", "bridge/services/audit_retention.py",
        "            if report.problem is not None:",
        "            if False:",
        (AUDIT_COMMANDS,),
    ),
    mutation(
        "audit.delete_only_under_purge_anchor", "the database lets a DELETE through only under a purge anchor",
        "bridge/storage/migrations/versions/0010_audit_hash_chain.py",
        '"WHEN NOT EXISTS (',
        '"WHEN 0 AND NOT EXISTS (',
        (AUDIT_CHAIN,),
    ),
    # --- «Личный кабинет» and support's queue (issue 11) --------------------------------------------
    mutation(
        "cabinet.own_session_only", "«Завершить» ends only the person's own session, named by its sid",
        "bridge/services/session_devices.py",
        "SignInSession.sid == sid, SignInSession.staff_id == staff_id,",
        "SignInSession.sid == sid,",
        (CABINET,),
    ),
    mutation(
        "cabinet.session_tokens_revoked", "ending a session revokes the apps' refresh tokens issued in it",
        "bridge/services/session_devices.py",
        "    revoke_session_tokens(db, ended, now)\n",
        "",
        (CABINET,),
    ),
    mutation(
        "cabinet.never_the_last_binding", "the person cannot remove their last way in",
        "bridge/application/cabinet.py",
        "        if len(bindings) < 2:",
        "        if False:",
        (CABINET,),
    ),
    mutation(
        "cabinet.removals_serialized", "two removals of a person's bindings run one after the other",
        "bridge/application/cabinet.py",
        "        _lock_person(db, person)\n",
        "",
        ("tests/application/test_cabinet.py",),
        # On SQLite the race is lost only when the threads interleave just so; the row lock is PostgreSQL's.
        needs_postgresql=True,
    ),
    mutation(
        "linking.same_session", "a link's answer binds only in the sign-in session that started it",
        "bridge/application/provider_linking.py",
        "            if proof is None or active is None or active.session.sid != proof.sid or active.staff.id != "
        "proof.staff_id:",
        "            if proof is None:",
        (CABINET,),
    ),
    mutation(
        "linking.name_match", "a linked identity's name must match the card, whatever the policy",
        "bridge/services/binding.py",
        "    _check_policies(staff, identity, replace(policy, require_name_match=True))\n    return _bind(",
        "    _check_policies(staff, identity, policy)\n    return _bind(",
        (CABINET,),
    ),
    mutation(
        "support.form_throttled", "the public «Не могу войти» form takes from its budgets before filing",
        "bridge/services/support_queue.py",
        "        if not take_from_budget(db, key, budget, BUDGET_WINDOW, now):",
        "        if False:",
        (SUPPORT_QUEUE,),
    ),
    mutation(
        "support.purge_spares_open", "an open support request keeps what the person typed, however old",
        "bridge/services/request_retention.py",
        "        SupportRequest.closed_at <= now - retention,",
        "        SupportRequest.created_at <= now - retention,",
        ("tests/services/test_support_request_retention.py",),
    ),
    mutation(
        "support.closed_once", "an item is claimed by one conditional UPDATE: two resolving it at once act once",
        "bridge/services/support_queue.py",
        "        .where(SupportRequest.id == item.id, SupportRequest.closed_at.is_(None))",
        "        .where(SupportRequest.id == item.id)",
        (SUPPORT_QUEUE, "tests/application/test_support_resolution.py"),
    ),
    mutation(
        "op.profile_before_code", "no code for an app while the signed-in person's workplace data is missing",
        "bridge/op/authorization.py",
        "    if missing_fields(context.db, active.staff, context.now, roles=active.grantee.active_roles):",
        "    if False:",
        ("tests/e2e/test_profile_completion.py",),
    ),
    mutation(
        "requests.mail_only_deciders", "a new request is mailed only to those who may decide it",
        "bridge/services/request_recipients.py",
        "        if person.id not in found and may_decide(db, actor, request):",
        "        if person.id not in found:",
        ("tests/e2e/test_request_mail.py",),
    ),
    mutation(
        "requests.purge_spares_pending", "a pending request keeps its data however old (the age is the decision's)",
        "bridge/services/request_retention.py",
        "        RegistrationRequest.status != RequestStatus.PENDING.value,\n"
        "        RegistrationRequest.decided_at <= now - retention,",
        "        RegistrationRequest.created_at <= now - retention,",
        ("tests/services/test_request_retention.py",),
    ),
    # Issue 11: support's work on the pages, the audit log's subtree.
    mutation(
        "support.role_required", "support's pages and commands are for technical support only",
        "bridge/application/principals.py",
        "    if not actor.is_cli_support and not any(acting.role is Role.SUPPORT for acting in actor.roles):",
        "    if False:",
        ("tests/routes/test_support_pages.py::test_only_support_opens_the_support_pages",
         "tests/application/test_pages_and_cli_agree.py"),
    ),
    mutation(
        "audit.reader_subtree", "an administrator reads only the audit records of their own subtree",
        "bridge/services/audit_log.py",
        "    if scope is not None:\n        # A record of the subtree",
        "    if False:\n        # A record of the subtree",
        ("tests/application/test_audit_log.py",
         "tests/routes/test_support_pages.py::test_the_audit_log_shows_each_administrator_their_subtree"),
    ),
    mutation(
        "audit.reader_issues_something", "a role that issues nothing reads no audit log",
        "bridge/application/audit_log.py",
        "    if not actor.is_cli_support and not any(ROLES[acting.role].issues for acting in actor.roles):",
        "    if False:",
        ("tests/application/test_audit_log.py",
         "tests/routes/test_support_pages.py::test_the_audit_log_shows_each_administrator_their_subtree"),
    ),
    mutation(
        "org_import.all_or_nothing", "an import with a wrong row keeps none of its rows",
        "bridge/application/organizations.py",
        "        kept = not dry_run and wrong == 0 and bool(report)",
        "        kept = not dry_run and bool(report)",
        ("tests/routes/test_support_pages.py::test_an_import_is_checked_first_and_kept_whole_or_not_at_all",),
    ),
    mutation(
        "client.renewed_secret_replaces_old", "a new client secret ends the old one",
        "bridge/services/clients.py",
        "    client.secret_hash = client_secret_digest(secret_key, secret)",
        "    pass",
        ("tests/routes/test_support_pages.py::test_a_client_secret_is_shown_once_and_a_new_one_kills_the_old",),
    ),
    mutation(
        "operator.web_addresses", "a footer link from the settings is an http(s) address, never javascript:",
        "bridge/config.py",
        '    if not value.startswith(("https://", "http://")) or any(ch.isspace() for ch in value):',
        "    if False:",
        ("tests/routes/test_operator_footer.py",),
    ),
    mutation(
        "staff_list.subtree_only", "the staff list shows only the people whose card the administrator may open",
        "bridge/services/staff_search.py",
        "    conditions = [managed_staff_clause(db, actor)]\n",
        "    conditions = [or_(managed_staff_clause(db, actor), StaffMember.id.is_not(None))]\n",
        (*STAFF_LIST, "tests/application/test_staff_cards.py"),
    ),
    mutation(
        "staff_list.organization_in_subtree", "the organization filter refuses an organization outside the subtree",
        "bridge/services/staff_search.py",
        "    if wanted.organization_id is not None and wanted.organization_id not in {",
        "    if False and wanted.organization_id not in {",
        STAFF_LIST,
    ),
    mutation(
        "staff_list.search_bound_to_admin", "a parked search is read only by the administrator who parked it",
        "bridge/application/staff_searches.py",
        '    if data is None or data.get("admin") != actor.staff_id:\n',
        "    if data is None:\n",
        STAFF_LIST,
    ),
    mutation(
        "staff_import.parked_rows_bound_to_admin", "parked import rows are confirmed only by who checked them",
        "bridge/application/staff_import.py",
        '        if parked is None or parked.get("admin") != actor.staff_id:\n',
        "        if parked is None:\n",
        STAFF_IMPORT,
    ),
    mutation(
        "staff_import.rechecked_before_writing", "the import checks every row again in its writing transaction",
        "bridge/application/staff_import.py",
        "    if bad:\n        first = bad[0]\n",
        "    if False:\n        first = bad[0]\n",
        STAFF_IMPORT,
    ),
    # --- operations: /metrics, the request id, a database outage ----------------------------------
    mutation(
        "metrics.networks", "/metrics answers only clients in BRIDGE_METRICS_NETWORKS (loopback by default)",
        "bridge/routes/operations.py",
        "    if client is None or not any(client in network for network in settings.metrics_networks):",
        "    if client is None:",
        (OPERATIONS,),
    ),
    mutation(
        "metrics.token", "with BRIDGE_METRICS_TOKEN set, /metrics wants that bearer token",
        "bridge/routes/operations.py",
        '    return hmac.compare_digest(request.headers.get("authorization", "").encode(), expected)',
        "    return True",
        (OPERATIONS,),
    ),
    mutation(
        "request_id.well_formed", "a caller's X-Request-ID is kept only when well formed (no forged log lines)",
        "bridge/observability/request_id.py",
        "    if value is not None and _WELL_FORMED.fullmatch(value):",
        "    if value is not None:",
        (REQUEST_ID,),
    ),
    mutation(
        "blocking.caller_context", "a blocking call runs in its caller's context: the request id on its audit rows",
        "bridge/blocking.py",
        "                result = context.run(fn, *args)\n",
        "                result = fn(*args)\n",
        ("tests/test_blocking.py", REQUEST_ID, FAST_PATHS),
    ),
    mutation(
        "outage.503", "a database outage answers 503 with Retry-After, not a 500", "bridge/app.py",
        "    if is_outage(exc):",
        "    if False:",
        OUTAGE,
    ),
    mutation(
        "outage.lock_timeout", "a PostgreSQL statement waits for a lock at most the lock timeout",
        "bridge/storage/outage.py",
        '    return {"options": f"-c lock_timeout={POSTGRES_LOCK_TIMEOUT}"}',
        "    return {}",
        OUTAGE, needs_postgresql=True,
    ),
    mutation(
        "signin.session_row_keyed_by_hmac", "the database holds no sign-in session id that works as a cookie",
        "bridge/services/signin_sessions.py",
        '        "id": keys.id_of(token),',
        '        "id": token,',
        ("tests/e2e/test_session_cookie_keys.py",),
    ),
    mutation(
        "authorize.parked_request_taken_once", "a parked authorization request answers one return to its tab",
        "bridge/flows/authorization_request.py",
        "    data = flow_steps.take(dependencies.database, browser_id, FlowKind.AUTHORIZATION, key=tab_id)",
        "    data = flow_steps.peek(dependencies.database, browser_id, FlowKind.AUTHORIZATION, key=tab_id)",
        ("tests/e2e/test_sql_budget.py",),
    ),
    mutation(
        "authorize.parked_request_taken_in_callback",
        "the upstream callback that answers the app takes its parked request (nothing left to resume)",
        "bridge/flows/authorization_request.py",
        "    return _parked(flow_state.consume(db, browser_id, FlowKind.AUTHORIZATION, key=tab_id))",
        "    return _parked(flow_state.peek(db, browser_id, FlowKind.AUTHORIZATION, key=tab_id))",
        ("tests/e2e/test_sql_budget.py",),
    ),
    # --- the broker's short path and the one Authlib server (issue 12), attacked ----------------------
    mutation(
        "op.disabled_client_unserved", "a disabled app gets nothing, even from a callback answering it",
        "bridge/services/clients.py",
        'OAuthClient.client_id == bindparam("client_id"), OAuthClient.disabled_at.is_(None))',
        'OAuthClient.client_id == bindparam("client_id"))',
        (CALLBACK_ANSWER,),
    ),
    mutation(
        "op.redirect_uri_registered", "a code goes only to a redirect_uri the app has registered now",
        "bridge/op/models.py",
        "        return redirect_uri in self.app.redirect_uris",
        "        return True",
        (CALLBACK_ANSWER,),
    ),
    mutation(
        "op.hint_names_the_person", "an id_token_hint naming someone else gets login_required, never their code",
        "bridge/op/request_checks.py",
        "    if active is not None and active.staff.subject != subject:",
        "    if False:",
        (CALLBACK_ANSWER,),
    ),
    mutation(
        "signin.blocked_refused", "a blocked person's returning sign-in is refused: no session, no app answered",
        "bridge/application/signin.py",
        "    if staff.status != StaffStatus.ACTIVE:",
        "    if False:",
        (CALLBACK_ANSWER,),
    ),
    mutation(
        "signin.callback_roles_current",
        "a returning sign-in counts only the roles current today: an ended or future one is no session role, no claim",
        "bridge/services/binding.py",
        "        return tuple(role.granted for role in self.roles if is_role_active(role, now))",
        "        return tuple(role.granted for role in self.roles)",
        ("tests/application/test_signin.py", "tests/e2e/test_roles_and_sessions.py"),
    ),
    mutation(
        "keys.reused_only_by_kid", "a key imported earlier is reused only while it is the active one (by kid)",
        "bridge/op/keys.py",
        "signing[alg] = known.get(record.kid) or _import(private_jwk(record, keyring))",
        "signing[alg] = (self._snapshot.signing.get(alg) if self._snapshot else None)"
        " or _import(private_jwk(record, keyring))",
        ("tests/services/test_signing_keys.py",),
    ),
    mutation(
        "keys.unknown_kid_reload_bounded", "made-up kids in tokens reload the keyring at most once a second",
        "bridge/op/keys.py",
        "time.monotonic() - self._snapshot.loaded_at < unless_younger_than:",
        "time.monotonic() - self._snapshot.loaded_at < 0:",
        ("tests/services/test_signing_keys.py",),
    ),
    mutation(
        "op.context_reset_after_call", "a provider call leaves no context behind for the next call in its thread",
        "bridge/op/context.py",
        "        _current.reset(token)",
        "        pass",
        ("tests/op/test_server_per_app.py",),
    ),
    mutation(
        "staff_import.logins_unique_within_the_file", "a bulk import gives no two people of one file the same login",
        "bridge/services/logins.py",
        "        taken.add(login)\n",
        "",
        STAFF_IMPORT,
    ),
    # --- found by the attack run after the merges ----------------------------------------------------
    mutation(
        "support.secret_slip_support_only", "a client secret slip opens only for support, even in support's browser",
        "bridge/routes/support_apps.py",
        "        await run_blocking(relying_apps.show_relying_app, database, actor, client_id)\n",
        "",
        ("tests/routes/test_support_pages.py::test_a_secret_slip_is_opened_only_by_support_even_in_supports_browser",),
    ),
    mutation(
        "web.record_number_bounded", "a record number in a URL is 1–9 ASCII digits: no overflow, no «²»",
        "bridge/web/numbers.py",
        '_NUMBER = re.compile(r"[0-9]{1,9}")',
        '_NUMBER = re.compile(r"\\d+")',
        ("tests/routes/test_support_pages.py::test_record_numbers_too_long_or_not_ascii_are_refused_not_crashed",),
    ),
    mutation(
        "demo.no_proxy_headers", "the demo's servers do not believe X-Forwarded-For (per-address budgets)",
        "demo/bridge_demo/cli.py",
        'lifespan="on", proxy_headers=False',
        'lifespan="on", proxy_headers=True',
        ("tests/demo/test_cli.py::test_the_demo_servers_do_not_believe_x_forwarded_for",),
    ),
    mutation(
        "token.no_repeated_parameters", "a token request with a parameter twice is refused before any claim",
        "bridge/op/server.py",
        "            refuse_repeated(request)\n",
        "",
        ("tests/op/test_refusals.py::test_a_repeated_parameter_at_the_token_endpoint_is_refused_audited_and_leaves_the_code_unspent",),
    ),
    mutation(
        "hierarchy.support_mints_no_support", "only the operator at the command line issues technical support",
        "bridge/services/hierarchy.py",
        "    return _OPERATOR_ISSUES if acting is None else ROLES[acting.role].issues\n",
        "    return _OPERATOR_ISSUES\n",
        ("tests/services/test_hierarchy.py",
         "tests/cli/test_staff_commands.py::test_the_operator_issues_technical_support_and_support_cannot_issue_its_own"),
    ),
)
