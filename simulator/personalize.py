"""Card personalization: a profile becomes a card image with CA-issued certificates.

This is what a card bureau does before a card reaches a customer, done the
honest way: the card OS generates each key pair itself (GENERATE ASYMMETRIC
KEY PAIR), signs its own PKCS#10 request (GENERAL AUTHENTICATE), the
simulated TWCA CA issues the certificate, and PUT DATA stores it. The engine's
own card client does the talking, over an in-process connection to the card
OS. The image appears at its final path only once it is complete.
"""

from __future__ import annotations

import functools
import os
import uuid
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fxml.card.client import PivCardClient
from fxml.card.csr import build_csr
from fxml.card.piv import KeyRef
from fxml.clock import TAIWAN, Clock, FixedClock, from_env, parse_instant
from simulator.ca.service import CertificateAuthority
from simulator.card.image import load_image, save_image
from simulator.card.os import InProcessConnection, TwcaCardOS
from simulator.card.profile import CardProfile, blank_image, load_profile


def personalize(
    profile_path: Path, target: Path, *, ca_dir: Path, clock: Clock | None = None, blank: bool = False
) -> Path:
    """Create the card image ``target`` from the profile at ``profile_path``; with ``blank``, without
    the profile's certificates (a card as the branch hands it out for 憑證下載: the holder, the PIN,
    no key and no certificate; a profile without certificates makes one too)."""
    profile = load_profile(profile_path)
    partial = target.with_name(f".{target.name}.partial")
    save_image(blank_image(profile), partial)
    try:
        if not blank:
            _issue_certificates(profile, partial, ca_dir, clock or from_env())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _issue_certificates(profile: CardProfile, image_path: Path, ca_dir: Path, clock: Clock) -> None:
    if not profile.certificates:
        return
    card = TwcaCardOS.open(image_path)
    client = PivCardClient(InProcessConnection(card))
    client.select()
    client.authenticate(profile.management_key, profile.management_algorithm)
    client.verify_pin(profile.pin)
    chain: list[x509.Certificate] = []
    for spec in profile.certificates:
        # A certificate the profile dates in the past is issued on a clock
        # standing at that date, so its validity is what the CA would have given.
        ca_clock = FixedClock(parse_instant(spec.issued_at)) if spec.issued_at else clock
        with CertificateAuthority.open(ca_dir, clock=ca_clock) as ca:
            ca.ensure_holder(profile.holder_id, profile.holder_name, spec.cn_suffix)
            container = KeyRef(int(spec.container, 16))
            public_key = client.generate_key(container)
            subject = ca.subject_for(profile.holder_id, spec.cn_suffix)
            csr = build_csr(subject, public_key, functools.partial(client.sign, container))
            # Every personalization is a new application: a card made again
            # (``card create --replace``) gets a new key and a new certificate.
            issued = ca.apply(
                request_id=f"personalize:{profile.card_serial}:{spec.container}:{uuid.uuid4().hex}",
                holder_id=profile.holder_id,
                csr=csr.public_bytes(serialization.Encoding.DER),
                actor="personalization",
                not_after=parse_instant(spec.not_after) if spec.not_after else None,
            )
            client.store_certificate(container, issued.certificate)
            chain = [ca.issuer_certificate, ca.root_certificate]
    # The card carries the real chain, as a TWCA card does for its middleware.
    client.store_ca_chain(chain)


def describe_image(path: Path) -> dict[str, Any]:
    """What a card holds, without secrets: for ``fxmlsim card show``."""
    image = load_image(path)
    card = TwcaCardOS.open(path)
    client = PivCardClient(InProcessConnection(card))
    client.select()
    info = client.card_info()
    certs = []
    for entry in client.list_certificates():
        cert: x509.Certificate = entry.certificate
        certs.append({
            "container": f"{int(entry.container):02X}",
            "serial": f"{cert.serial_number:X}",
            "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(),
            "not_before": cert.not_valid_before_utc.astimezone(TAIWAN).isoformat(),
            "not_after": cert.not_valid_after_utc.astimezone(TAIWAN).isoformat(),
        })
    return {
        "image": str(path),
        "card_serial": info.card_serial,
        "carrier": info.carrier,
        "holder_id": info.holder_id,
        "atr": card.getATR().hex(" ").upper(),
        "pin_tries_left": client.pin_tries_left(),
        "certificates": certs,
        "ca_chain": [c.subject.rfc4514_string() for c in client.ca_chain()],
        "image_version": getattr(image, "version", None),
    }
