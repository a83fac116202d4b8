"""cryptography's key types narrowed to RSA, the only kind the card and the CA use."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa


def rsa_public(key: object) -> rsa.RSAPublicKey:
    """``key`` (a certificate's or a private key's public key) as the RSA key it must be."""
    assert isinstance(key, rsa.RSAPublicKey), f"expected an RSA public key, found {type(key).__name__}"
    return key


def rsa_private(key: object) -> rsa.RSAPrivateKey:
    """``key`` (e.g. from ``load_pem_private_key``) as the RSA key it must be."""
    assert isinstance(key, rsa.RSAPrivateKey), f"expected an RSA private key, found {type(key).__name__}"
    return key
