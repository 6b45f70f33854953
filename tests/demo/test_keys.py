"""The demo's ESIA client key pairs with the public key the mock registers for the demo client."""

from __future__ import annotations

import json

from bridge_demo.stack import demo_esia_private_key
from gost_jws import export_public, load_signer, load_verifier
from idp_mock.config import demo_esia_public_key


def test_the_mock_registers_the_public_half_of_the_demo_key() -> None:
    private = load_signer(demo_esia_private_key())
    assert json.loads(demo_esia_private_key())["d"]
    assert json.loads(export_public(private)) == json.loads(demo_esia_public_key())
    assert load_verifier(demo_esia_public_key()).alg == private.alg
