"""The RSA alternative for quick local setups: RS256-style PKCS#1 v1.5 signatures over SHA-256."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ALG = "RS256"


class RsaKeyError(ValueError):
    """An RSA key in a form we cannot use."""


@dataclass(frozen=True)
class RsaPublicKey:
    key: rsa.RSAPublicKey
    alg: str = ALG

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self.key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return True

    def to_pem(self) -> str:
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def der(self) -> bytes:
        return self.key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True, repr=False)
class RsaPrivateKey:
    key: rsa.RSAPrivateKey
    alg: str = ALG

    def __repr__(self) -> str:
        return f"RsaPrivateKey(bits={self.key.key_size})"

    @classmethod
    def generate(cls, bits: int = 2048) -> RsaPrivateKey:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=bits))

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message, padding.PKCS1v15(), hashes.SHA256())

    def verifier(self) -> RsaPublicKey:
        return RsaPublicKey(self.key.public_key())

    def verify(self, message: bytes, signature: bytes) -> bool:
        return self.verifier().verify(message, signature)

    def to_pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")


def load_rsa_key(pem: str) -> RsaPrivateKey | RsaPublicKey:
    """Read an unencrypted PEM: a private key (PKCS#1 or PKCS#8) or a public key / certificate."""
    data = pem.encode("ascii")
    try:
        if b"PRIVATE KEY" in data:
            private = serialization.load_pem_private_key(data, password=None)
            if isinstance(private, rsa.RSAPrivateKey):
                return RsaPrivateKey(private)
        elif b"CERTIFICATE" in data:
            from cryptography import x509

            certified = x509.load_pem_x509_certificate(data).public_key()
            if isinstance(certified, rsa.RSAPublicKey):
                return RsaPublicKey(certified)
        else:
            public = serialization.load_pem_public_key(data)
            if isinstance(public, rsa.RSAPublicKey):
                return RsaPublicKey(public)
    except ValueError as error:
        raise RsaKeyError(f"cannot read the PEM: {error}") from error
    raise RsaKeyError("the PEM holds no RSA key")
