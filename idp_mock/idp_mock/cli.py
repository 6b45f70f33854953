"""``idp-mock``: run both mock providers on one port and print where everything is."""

from __future__ import annotations

import argparse
import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gost_jws import export_private, load_signer_file

from .app import create_app
from .config import DEFAULT_BRIDGE_URL, EsiaAlg, MockConfig
from .faults import FAULTS
from .persons import PersonDirectory


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="idp-mock", description="Local Gosuslugi (ESIA) and РСАА for testing.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--public-url", help="base URL as browsers see it (default http://HOST:PORT)")
    parser.add_argument("--persons", type=Path, help="persons JSON file instead of the shipped one")
    parser.add_argument("--clients", type=Path, action="append", default=[],
                        help='clients JSON file {"esia": [...], "rsaa": [...]} (repeatable)')
    parser.add_argument("--no-demo-clients", action="store_true", help="do not register the bridge-demo clients")
    parser.add_argument("--demo-bridge-url", default=DEFAULT_BRIDGE_URL,
                        help="where the bridge-demo clients call back to (default %(default)s)")
    parser.add_argument("--esia-alg", choices=("GOST3410_2012_256", "RS256"), default="GOST3410_2012_256")
    parser.add_argument("--esia-key", type=Path, help="ESIA signing key file (GOST JSON or RSA PEM)")
    parser.add_argument("--rsaa-key", type=Path, help="РСАА signing key file (RSA PEM)")
    parser.add_argument("--token-timeout-delay", type=float, default=30.0,
                        help="seconds the token_timeout fault holds the answer")
    parser.add_argument("--fault", action="append", default=[], metavar="[PROVIDER:]NAME",
                        help=f"queue a fault at start-up (repeatable); names: {', '.join(FAULTS)}")
    parser.add_argument("--esia-no-nonce", action="store_true",
                        help="ESIA leaves nonce out of the id_token, as production does since November 2022")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> MockConfig:
    esia_key = export_private(load_signer_file(args.esia_key)) if args.esia_key else None
    rsaa_key = export_private(load_signer_file(args.rsaa_key)) if args.rsaa_key else None
    esia_alg: EsiaAlg = args.esia_alg
    if args.esia_key:
        esia_alg = "RS256" if load_signer_file(args.esia_key).alg == "RS256" else "GOST3410_2012_256"
    config = MockConfig(
        public_base_url=args.public_url or f"http://{args.host}:{args.port}",
        persons_path=args.persons,
        esia_signing_alg=esia_alg,
        esia_signing_key=esia_key,
        rsaa_signing_key=rsaa_key,
        token_timeout_delay_seconds=args.token_timeout_delay,
        faults=tuple(args.fault),
        esia_echo_nonce=not args.esia_no_nonce,
    )
    if not args.no_demo_clients:
        config = config.with_demo_clients(args.demo_bridge_url)
    for path in args.clients:
        config = config.with_clients_file(path)
    return config


def build_banner(config: MockConfig, persons: PersonDirectory, esia_alg: str | None = None) -> str:
    base = config.public_base_url
    lines = [
        "idp-mock: local Gosuslugi (ESIA) and РСАА — test data only",
        "",
        "Gosuslugi / ESIA",
        f"  authorization   {base}/esia/aas/oauth2/v2/ac",
        f"  token           {base}/esia/aas/oauth2/v3/te",
        f"  person data     {base}/esia/rs/prns/{{oid}}  (/ctts, /roles)",
        f"  logout          {base}/esia/idp/ext/Logout?client_id=…&redirect_url=…",
        f"  issuer (iss)    {config.esia_issuer}",
        f"  signing key     {base}/_mock/esia/certificate  ({esia_alg or config.esia_signing_alg})",
        "",
        "РСАА (OpenID Connect)",
        f"  issuer          {config.rsaa_issuer}",
        f"  discovery       {config.rsaa_issuer}/.well-known/openid-configuration",
        "",
        "Tester controls",
        f"  page            {base}/_mock/",
        f"  faults          {base}/_mock/faults   (GET, POST {{provider, fault, count}}, DELETE)",
        f"  behaviour       {base}/_mock/behaviour (GET, POST {{esia_echo_nonce}})"
        + ("   ESIA does NOT echo nonce" if not config.esia_echo_nonce else ""),
        f"  persons         {base}/_mock/persons  (GET, POST)",
        f"  reset           {base}/_mock/reset    (POST)",
        f"  clients         {base}/_mock/clients",
        "",
        "Registered clients",
    ]
    lines += [f"  esia  {c.client_id:<16} -> {', '.join(c.redirect_uris)}" for c in config.esia_clients]
    lines += [f"  rsaa  {c.client_id:<16} -> {', '.join(c.redirect_uris)}" for c in config.rsaa_clients]
    if not config.esia_clients and not config.rsaa_clients:
        lines.append("  (none)")
    lines += ["", f"Test persons (password for all: {persons.default_password})"]
    people = persons.all()
    name_width = max((len(p.full_name) for p in people), default=0) + 2
    lines.append(f"  {'ФИО':<{name_width}}{'phone':<17}{'e-mail':<32}{'СНИЛС':<16}account")
    for p in people:
        account = "confirmed" if p.trusted else "simplified"
        lines.append(f"  {p.full_name:<{name_width}}{p.mobile:<17}{p.email:<32}{p.snils:<16}{account}")
    return "\n".join(lines)


def log_config() -> dict[str, Any]:
    """uvicorn's logging on stderr, with the mock's own access line (no query strings) beside it."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["idp_mock.access"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def main(argv: Sequence[str] | None = None) -> None:
    import uvicorn

    args = parse_args(argv)
    config = build_config(args)
    app = create_app(config)
    state = app.state.mock
    print(build_banner(config, state.persons, state.keys.esia.alg), flush=True)
    # uvicorn's access log would write client_secret, state, nonce and codes from query strings.
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", access_log=False, log_config=log_config())


if __name__ == "__main__":
    main()
