"""The engine's typed client for the TWCA chip card, in standard PIV (NIST SP 800-73-4).

:class:`PivCardClient` turns the card edge into typed calls (verify the
憑證載具密碼, generate a key in a container, sign, store a certificate...)
over any :class:`~fxml.card.connection.CardConnection`. It does the
transport work the card edge leaves to the host: command chaining for data
longer than 255 bytes, 61xx response chaining with GET RESPONSE, 6Cxx
retries, and turning status words into :mod:`fxml.card.errors` exceptions.
Each such sequence runs in one card transaction (see :meth:`PivCardClient.transaction`)
so that another application's command cannot fall between its parts.

Only the card-information object 5FFF01 and DELETE KEY (INS E4) are TWCA
extensions. Without them the client falls back to the CHUID, or raises
:class:`~fxml.card.errors.NotSupportedError`, so the engine runs unchanged
against a physical card.

The client checks what the card proves: the card's answer to the
management-key challenge, and each signature against the container's public
key. A card that fails either raises :class:`~fxml.card.errors.AuthenticationError`.
"""

from __future__ import annotations

import gzip
import hmac
import logging
import os
import zlib
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from fxml.card.apdu import CLA_CHAINING, SW, CommandApdu, split_response
from fxml.card.connection import CardConnection, LoggedConnection
from fxml.card.crypto import ManagementCipher, pkcs1_v15_block
from fxml.card.errors import (
    AuthenticationError,
    CardError,
    InvalidPinFormatError,
    InvalidResponseError,
    NotFoundError,
    NotSupportedError,
    SecurityStatusError,
    error_for_sw,
)
from fxml.card.piv import (
    CERT_INFO_COMPRESSED,
    CERT_INFO_TAG,
    CERT_OBJECT,
    CERT_TAG,
    CHUID_FASCN,
    CHUID_GUID,
    ERROR_DETECTION_TAG,
    GA_CHALLENGE,
    GA_RESPONSE,
    GA_TEMPLATE,
    GA_WITNESS,
    GEN_ALGORITHM,
    GEN_CONTROL_TEMPLATE,
    INS,
    OBJECT_CONTENT,
    OBJECT_TAG_LIST,
    PIN_MAX,
    PIN_MIN,
    PIV_AID,
    PUBKEY_EXPONENT,
    PUBKEY_MODULUS,
    PUBKEY_TEMPLATE,
    SIGNATURE_CONTAINERS,
    Algorithm,
    KeyRef,
    Obj,
    TwcaInfoTag,
    obj_tag_bytes,
    pad_pin,
)
from fxml.card.tlv import TlvError, iter_tlv, tlv, unpack

log = logging.getLogger(__name__)

#: The largest data field of a short APDU; longer commands are chained.
SHORT_DATA_MAX = 255
#: The most response data the client accepts for one command (GET RESPONSE loop guard).
RESPONSE_MAX = 65536

_TWCA_INFO_TAGS = frozenset(int(tag) for tag in TwcaInfoTag)

#: PIV algorithm identifier of an RSA key of each modulus length in bytes.
_RSA_ALGORITHMS = {256: Algorithm.RSA_2048, 128: 0x06}


@dataclass(frozen=True)
class CardInfo:
    """Who and what the card is.

    From the TWCA card-information object when the card has one; otherwise
    from the CHUID (``card_serial`` is then the GUID, or the FASC-N, in hex,
    and ``carrier`` and ``holder_id`` are None).
    """

    card_serial: str
    #: As the bank's screens show it: 憑證晶片卡(大卡) or 憑證晶片卡(小卡).
    carrier: str | None
    holder_id: str | None
    profile_version: str | None = None
    #: The data object the information came from.
    source: Obj = Obj.TWCA_CARD_INFO


@dataclass(frozen=True)
class CardCertificate:
    """A certificate found on the card, with the key container it belongs to."""

    container: KeyRef
    certificate: x509.Certificate


@dataclass(frozen=True)
class PinStatus:
    """What VERIFY without data tells about the PIN.

    ``tries_left`` is None when the PIN is verified in this session: the
    counter is then at its maximum, which PIV does not report.
    """

    verified: bool
    tries_left: int | None

    @property
    def blocked(self) -> bool:
        return self.tries_left == 0


def check_pin_format(value: str, what: str = "PIN") -> bytes:
    """The 8-byte FF-padded encoding of ``value`` if it meets the 憑證載具密碼
    policy (6 to 8 ASCII letters or digits); InvalidPinFormatError otherwise."""
    if not isinstance(value, str):
        raise TypeError(f"the {what} must be a str, not {type(value).__name__}")
    if not (PIN_MIN <= len(value) <= PIN_MAX and value.isascii() and value.isalnum()):
        raise InvalidPinFormatError(f"the {what} must be {PIN_MIN} to {PIN_MAX} letters or digits (A-Z, a-z, 0-9)")
    return pad_pin(value)


def _container_ref(container: int) -> KeyRef:
    if container not in CERT_OBJECT:
        names = ", ".join(f"{int(r):02X}" for r in CERT_OBJECT)
        raise ValueError(f"{int(container):02X} is not a key container (one of {names})")
    return KeyRef(container)


def _fields(data: bytes, tag: int, what: str) -> dict[int, bytes]:
    """The TLVs inside the single constructed ``tag`` that ``data`` must be."""
    try:
        return dict(iter_tlv(unpack(tag, data)))
    except TlvError as exc:
        raise InvalidResponseError(SW.OK, f"{what}: malformed answer: {exc}") from exc


def _required(fields: Mapping[int, bytes], tag: int, what: str) -> bytes:
    value = fields.get(tag)
    if not value:
        raise InvalidResponseError(SW.OK, f"{what}: the answer has no {tag:02X} value")
    return value


class PivCardClient:
    """Typed PIV commands over a card connection (a.k.a. the TWCA card client).

    Commands use short APDUs with command chaining by default, which every
    reader and card supports; ``extended_apdus=True`` sends long commands in
    one extended APDU instead. ``random`` makes management-key challenges
    (injectable for tests).

    Public keys of the containers are remembered for the session (the key a
    generation returned, or the certificate's) to check signatures.
    """

    def __init__(
        self,
        connection: CardConnection,
        *,
        extended_apdus: bool = False,
        random: Callable[[int], bytes] = os.urandom,
    ):
        self.connection = connection if isinstance(connection, LoggedConnection) else LoggedConnection(connection)
        self.extended_apdus = extended_apdus
        self._random = random
        self._public_keys: dict[KeyRef, rsa.RSAPublicKey] = {}

    # -- transport -------------------------------------------------------------
    def transaction(self) -> AbstractContextManager[object]:
        """Hold the card for this client alone while the block runs.

        On a PC/SC connection this is a card transaction (other applications
        sharing the reader wait); on a connection without transactions (a
        card OS in the same process) it does nothing. Blocks nest.
        """
        hold = getattr(self.connection, "transaction", None)
        return hold() if callable(hold) else nullcontext()

    def _le(self) -> int:
        return 65536 if self.extended_apdus else 256

    def _send(self, cmd: CommandApdu) -> tuple[bytes, int]:
        """One APDU; a 6Cxx (wrong Le) is answered by sending it again with Le=xx."""
        data, sw = split_response(self.connection.transmit(cmd.to_bytes()))
        if sw & 0xFF00 == SW.WRONG_LE:
            data, sw = split_response(self.connection.transmit(replace(cmd, le=(sw & 0xFF) or 256).to_bytes()))
        return data, sw

    def exchange(self, cmd: CommandApdu) -> tuple[bytes, int]:
        """Send a whole command; returns (response data, final status word).

        Chains commands longer than a short APDU (unless extended APDUs are
        on) and collects a response sent in 61xx parts. Status words are not
        checked: see :meth:`transmit`.
        """
        with self.transaction():
            last = cmd
            if len(cmd.data) > SHORT_DATA_MAX and not self.extended_apdus:
                chunks = [cmd.data[i : i + SHORT_DATA_MAX] for i in range(0, len(cmd.data), SHORT_DATA_MAX)]
                for chunk in chunks[:-1]:
                    answer, sw = self._send(CommandApdu(cmd.cla | CLA_CHAINING, cmd.ins, cmd.p1, cmd.p2, chunk))
                    if sw != SW.OK:
                        return answer, sw
                last = replace(cmd, data=chunks[-1])
            body, sw = self._send(last)
            received = bytearray(body)
            while sw & 0xFF00 == SW.MORE_DATA:
                part, sw = self._send(CommandApdu(0x00, INS.GET_RESPONSE, 0x00, 0x00, le=(sw & 0xFF) or 256))
                if not part and sw & 0xFF00 == SW.MORE_DATA:
                    # Promising more while sending nothing would loop for ever.
                    raise InvalidResponseError(sw, f"the card answered GET RESPONSE with {sw:04X} and no data")
                received += part
                if len(received) > RESPONSE_MAX:
                    raise InvalidResponseError(sw, f"the card sent more than {RESPONSE_MAX} bytes for one command")
            return bytes(received), sw

    def transmit(
        self,
        cmd: CommandApdu,
        action: str,
        *,
        reference: int = KeyRef.PIN,
        messages: Mapping[int, str] | None = None,
    ) -> bytes:
        """Send a whole command and return its response data; any status word
        but 9000 raises the matching :class:`~fxml.card.errors.CardError`.

        ``action`` names the command in error messages; ``messages`` gives
        better ones for expected status words; ``reference`` says whether a
        63Cx or 6983 is about the PIN or the PUK.
        """
        data, sw = self.exchange(cmd)
        if sw == SW.OK:
            return data
        message = (messages or {}).get(sw)
        if message is None and sw & 0xFFF0 != SW.VERIFY_FAIL and sw != SW.AUTH_METHOD_BLOCKED:
            message = f"{action}: the card answered {sw:04X} ({SW.describe(sw)})"
        raise error_for_sw(sw, message, data, reference=reference)

    def _command(self, ins: int, p1: int, p2: int, data: bytes = b"", *, response: bool = True) -> CommandApdu:
        le = self._le() if response else None
        return CommandApdu(0x00, ins, p1, p2, data, le, extended=self.extended_apdus and response)

    # -- application and data objects -----------------------------------------
    def select(self) -> bytes:
        """Select the PIV application; returns its application property template (61)."""
        return self.transmit(
            self._command(INS.SELECT, 0x04, 0x00, PIV_AID),
            "SELECT PIV",
            messages={SW.FILE_NOT_FOUND: "this card has no PIV application"},
        )

    def get_object(self, tag: int) -> bytes:
        """The content of data object ``tag`` (inside its 53 wrapper); NotFoundError if absent."""
        answer = self.transmit(
            self._command(INS.GET_DATA, 0x3F, 0xFF, tlv(OBJECT_TAG_LIST, obj_tag_bytes(tag))),
            f"GET DATA {tag:X}",
            messages=dict.fromkeys((SW.FILE_NOT_FOUND, SW.REFERENCE_NOT_FOUND), f"the card has no data object {tag:X}"),
        )
        wrapper = Obj.DISCOVERY if tag == Obj.DISCOVERY else OBJECT_CONTENT
        try:
            return unpack(wrapper, answer)
        except TlvError as exc:
            raise InvalidResponseError(SW.OK, f"GET DATA {tag:X}: malformed answer: {exc}") from exc

    def put_object(self, tag: int, content: bytes) -> None:
        """Write data object ``tag`` (needs management-key authentication)."""
        data = tlv(OBJECT_TAG_LIST, obj_tag_bytes(tag)) + tlv(OBJECT_CONTENT, content)
        self.transmit(
            self._command(INS.PUT_DATA, 0x3F, 0xFF, data, response=False),
            f"PUT DATA {tag:X}",
            messages={
                SW.SECURITY_STATUS_NOT_SATISFIED: f"writing {tag:X} needs the management key (authenticate first)"
            },
        )

    def _vendor_object(self, tag: int) -> bytes | None:
        """A TWCA object outside the PIV range, or None on a card without it."""
        try:
            return self.get_object(tag)
        except (NotFoundError, NotSupportedError):
            return None
        except CardError as exc:
            # Some PIV cards answer 6A80 for a tag outside the PIV range.
            if exc.sw != SW.WRONG_DATA:
                raise
            return None

    def card_info(self) -> CardInfo:
        """Card serial, carrier and holder: from the TWCA object 5FFF01, or
        from the CHUID on a card without it."""
        content = self._vendor_object(Obj.TWCA_CARD_INFO)
        if content is None:
            return self._info_from_chuid()
        try:
            fields = dict(iter_tlv(content))
            text = {tag: value.decode("utf-8") for tag, value in fields.items() if tag in _TWCA_INFO_TAGS}
        except (TlvError, UnicodeDecodeError) as exc:
            raise InvalidResponseError(SW.OK, f"TWCA card information is malformed: {exc}") from exc
        if not text:
            # Another vendor's object under the same tag: a YubiKey keeps its
            # attestation certificate (70 ... 71 ...) in 5FFF01.
            return self._info_from_chuid()
        if not text.get(TwcaInfoTag.CARD_SERIAL):
            raise InvalidResponseError(SW.OK, "TWCA card information has no card serial (tag 01)")
        return CardInfo(
            card_serial=text[TwcaInfoTag.CARD_SERIAL],
            carrier=text.get(TwcaInfoTag.CARRIER),
            holder_id=text.get(TwcaInfoTag.HOLDER_ID),
            profile_version=text.get(TwcaInfoTag.PROFILE_VERSION),
        )

    def _info_from_chuid(self) -> CardInfo:
        try:
            fields = dict(iter_tlv(self.get_object(Obj.CHUID)))
        except TlvError as exc:
            raise InvalidResponseError(SW.OK, f"the CHUID is malformed: {exc}") from exc
        guid = fields.get(CHUID_GUID, b"")
        serial = guid if guid.strip(b"\x00") else fields.get(CHUID_FASCN, b"")
        if not serial:
            raise InvalidResponseError(SW.OK, "the CHUID has neither a GUID nor a FASC-N to identify the card")
        return CardInfo(serial.hex().upper(), None, None, source=Obj.CHUID)

    # -- PIN -------------------------------------------------------------------
    def pin_status(self) -> PinStatus:
        """Whether the PIN is verified and how many tries are left (VERIFY without data)."""
        data, sw = self.exchange(self._command(INS.VERIFY, 0x00, KeyRef.PIN, response=False))
        if sw == SW.OK:
            return PinStatus(True, None)
        if sw & 0xFFF0 == SW.VERIFY_FAIL:
            return PinStatus(False, sw & 0x0F)
        if sw == SW.AUTH_METHOD_BLOCKED:
            return PinStatus(False, 0)
        raise error_for_sw(sw, f"PIN status: the card answered {sw:04X} ({SW.describe(sw)})", data)

    def pin_tries_left(self) -> int | None:
        """Tries left before the PIN blocks: 0 if blocked; None if the PIN is
        verified in this session (the counter is then full)."""
        return self.pin_status().tries_left

    def verify_pin(self, pin: str) -> None:
        """Present the 憑證載具密碼. WrongPinError (with tries_left) if wrong,
        PinBlockedError if blocked, InvalidPinFormatError before sending a
        PIN that breaks the policy."""
        block = check_pin_format(pin)
        self.transmit(self._command(INS.VERIFY, 0x00, KeyRef.PIN, block, response=False), "VERIFY PIN")

    def forget_pin(self) -> None:
        """End the PIN's verified state without powering the card down (VERIFY P1=FF)."""
        self.transmit(self._command(INS.VERIFY, 0xFF, KeyRef.PIN, response=False), "reset PIN status")

    def change_pin(self, old_pin: str, new_pin: str) -> None:
        """Change the PIN (CHANGE REFERENCE DATA); a wrong ``old_pin`` counts as a wrong try."""
        data = check_pin_format(old_pin, "current PIN") + check_pin_format(new_pin, "new PIN")
        self.transmit(self._command(INS.CHANGE_REFERENCE_DATA, 0x00, KeyRef.PIN, data, response=False), "CHANGE PIN")

    def unblock_pin(self, puk: str, new_pin: str) -> None:
        """Set a new PIN and reset its counter with the PUK (RESET RETRY COUNTER).
        A wrong PUK raises WrongPukError; a blocked PUK PukBlockedError."""
        data = check_pin_format(puk, "PUK") + check_pin_format(new_pin, "new PIN")
        self.transmit(
            self._command(INS.RESET_RETRY_COUNTER, 0x00, KeyRef.PIN, data, response=False),
            "RESET RETRY COUNTER",
            reference=KeyRef.PUK,
        )

    # -- management key --------------------------------------------------------
    def authenticate(self, management_key: bytes, algorithm: Algorithm = Algorithm.TDEA_3KEY) -> None:
        """Mutual authentication with the card administration key (9B).

        The card proves it holds the key by encrypting the client's random
        challenge; AuthenticationError if the card refuses the key or its
        proof is wrong. ValueError for a key of the wrong length.
        """
        cipher = ManagementCipher(algorithm, bytes(management_key))
        action = "management key authentication"
        messages: dict[int, str] = {SW.INCORRECT_P1P2: f"the card's management key is not {cipher.algorithm.name}"}

        def step(content: bytes) -> dict[int, bytes]:
            data = tlv(GA_TEMPLATE, content)
            cmd = self._command(INS.GENERAL_AUTHENTICATE, cipher.algorithm, KeyRef.MANAGEMENT, data)
            return _fields(self.transmit(cmd, action, messages=messages), GA_TEMPLATE, action)

        # The card forgets its witness when any other command comes between the steps.
        with self.transaction():
            encrypted = _required(step(tlv(GA_WITNESS, b"")), GA_WITNESS, action)
            if len(encrypted) != cipher.block_size:
                raise InvalidResponseError(
                    SW.OK, f"{action}: the witness is {len(encrypted)} bytes, not {cipher.block_size}"
                )
            challenge = self._random(cipher.block_size)
            try:
                answer = step(tlv(GA_WITNESS, cipher.decrypt(encrypted)) + tlv(GA_CHALLENGE, challenge))
            except SecurityStatusError as exc:
                raise AuthenticationError(exc.sw, "the card refused the management key") from exc
        if not hmac.compare_digest(answer.get(GA_RESPONSE, b""), cipher.encrypt(challenge)):
            raise AuthenticationError(
                SW.OK, "the card's answer to the management-key challenge is wrong: it does not hold this key"
            )

    # -- certificates ----------------------------------------------------------
    def certificate(self, container: int) -> x509.Certificate:
        """The certificate of key container ``container``; NotFoundError if there is none.
        A gzip-compressed certificate (CertInfo bit 0) is decompressed."""
        ref = _container_ref(container)
        what = f"certificate of container {int(ref):02X}"
        try:
            content = self.get_object(CERT_OBJECT[ref])
            fields = dict(iter_tlv(content))
        except NotFoundError as exc:
            raise NotFoundError(exc.sw, f"container {int(ref):02X} has no certificate", exc.data) from exc
        except TlvError as exc:
            raise InvalidResponseError(SW.OK, f"{what} is malformed: {exc}") from exc
        der = fields.get(CERT_TAG, b"")
        if not der:
            # Some cards answer an emptied object with 53 00 or 53 { 70 00 }.
            raise NotFoundError(SW.FILE_NOT_FOUND, f"container {int(ref):02X} has no certificate")
        info = fields.get(CERT_INFO_TAG, b"\x00")
        try:
            if info and info[0] & CERT_INFO_COMPRESSED:
                der = gzip.decompress(der)
            return x509.load_der_x509_certificate(der)
        except (OSError, EOFError, zlib.error, ValueError) as exc:
            raise InvalidResponseError(SW.OK, f"{what} cannot be read: {exc}") from exc

    def list_certificates(self, containers: Iterable[int] = SIGNATURE_CONTAINERS) -> list[CardCertificate]:
        """The certificates on the card, in container order (9A, then 9C)."""
        found = []
        for ref in map(_container_ref, containers):
            try:
                found.append(CardCertificate(ref, self.certificate(ref)))
            except NotFoundError:
                continue
        return found

    def store_certificate(self, container: int, certificate: x509.Certificate) -> None:
        """Write ``certificate`` into the certificate object of ``container``
        (needs the management key). ValueError if the certificate's key is not
        the key this session generated in that container."""
        ref = _container_ref(container)
        public_key = certificate.public_key()
        known = self._public_keys.get(ref)
        if known is not None and _spki(known) != _spki(public_key):
            raise ValueError(f"the certificate is not for the key generated in container {int(ref):02X}")
        content = (
            tlv(CERT_TAG, certificate.public_bytes(serialization.Encoding.DER))
            + tlv(CERT_INFO_TAG, b"\x00")
            + tlv(ERROR_DETECTION_TAG, b"")
        )
        self.put_object(CERT_OBJECT[ref], content)
        if isinstance(public_key, rsa.RSAPublicKey):
            self._public_keys[ref] = public_key

    def ca_chain(self) -> list[x509.Certificate]:
        """The issuer chain the card carries (TWCA object 5FFF02), issuing CA
        first; an empty list on a card without one."""
        content = self._vendor_object(Obj.TWCA_CA_CHAIN)
        if content is None:
            return []
        try:
            return [x509.load_der_x509_certificate(der) for tag, der in iter_tlv(content) if tag == CERT_TAG]
        except (TlvError, ValueError) as exc:
            raise InvalidResponseError(SW.OK, f"the card's CA chain is malformed: {exc}") from exc

    def store_ca_chain(self, chain: Iterable[x509.Certificate]) -> None:
        """Write the issuer chain (issuing CA first) into object 5FFF02
        (needs the management key)."""
        content = b"".join(tlv(CERT_TAG, c.public_bytes(serialization.Encoding.DER)) for c in chain)
        if not content:
            raise ValueError("a CA chain needs at least one certificate")
        self.put_object(Obj.TWCA_CA_CHAIN, content)

    def free_container(self, containers: Iterable[int] = SIGNATURE_CONTAINERS) -> KeyRef | None:
        """The first container without a certificate, where a renewal can put
        its new key; None if all hold one.

        PIV cannot tell whether a container without a certificate holds a key
        (one left by an interrupted renewal): :meth:`generate_key` then raises
        ConditionsNotSatisfiedError, and :meth:`remove_key` clears it.
        """
        for ref in map(_container_ref, containers):
            try:
                self.certificate(ref)
            except NotFoundError:
                return ref
        return None

    # -- keys ------------------------------------------------------------------
    def generate_key(self, container: int) -> rsa.RSAPublicKey:
        """Generate an RSA-2048 key pair in ``container`` on the card; returns its
        public key. Needs the management key; ConditionsNotSatisfiedError if the
        container already holds a key."""
        ref = _container_ref(container)
        control = tlv(GEN_CONTROL_TEMPLATE, tlv(GEN_ALGORITHM, bytes([Algorithm.RSA_2048])))
        action = f"GENERATE KEY in {int(ref):02X}"
        answer = self.transmit(
            self._command(INS.GENERATE_ASYMMETRIC_KEY_PAIR, 0x00, ref, control),
            action,
            messages={
                SW.CONDITIONS_NOT_SATISFIED: f"container {int(ref):02X} already holds a key; remove it first",
                SW.SECURITY_STATUS_NOT_SATISFIED: "key generation needs the management key (authenticate first)",
            },
        )
        fields = _fields(answer, PUBKEY_TEMPLATE, action)
        modulus = int.from_bytes(_required(fields, PUBKEY_MODULUS, action), "big")
        exponent = int.from_bytes(_required(fields, PUBKEY_EXPONENT, action), "big")
        try:
            key = rsa.RSAPublicNumbers(exponent, modulus).public_key()
        except ValueError as exc:
            raise InvalidResponseError(SW.OK, f"{action}: not an RSA public key: {exc}") from exc
        self._public_keys[ref] = key
        return key

    def set_public_key(self, container: int, public_key: rsa.RSAPublicKey) -> None:
        """Tell the client the public key of the key in ``container``.

        PIV answers a key's public key only when it generates the key. A caller
        that resumes work on a key generated in an earlier session (a renewal
        whose record kept the key's SubjectPublicKeyInfo) hands it over here,
        so that :meth:`sign` checks the card's signatures against it and
        :meth:`store_certificate` refuses a certificate for another key.
        """
        ref = _container_ref(container)
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise TypeError(f"public_key must be an RSA public key, not {type(public_key).__name__}")
        self._public_keys[ref] = public_key

    def public_key(self, container: int) -> rsa.RSAPublicKey:
        """The public key of ``container``: the one generated in this session,
        else the one in its certificate. NotFoundError if neither exists."""
        ref = _container_ref(container)
        key = self._public_keys.get(ref)
        if key is not None:
            return key
        try:
            cert_key = self.certificate(ref).public_key()
        except NotFoundError as exc:
            raise NotFoundError(
                exc.sw,
                f"no public key known for container {int(ref):02X}: it has no certificate "
                "and no key was generated there in this session",
            ) from exc
        if not isinstance(cert_key, rsa.RSAPublicKey):
            raise NotSupportedError(SW.OK, f"the key of container {int(ref):02X} is not RSA")
        self._public_keys[ref] = cert_key
        return cert_key

    def sign_digest(
        self, container: int, digest: bytes, algorithm: hashes.HashAlgorithm | None = None, *,
        public_key: rsa.RSAPublicKey | None = None,
    ) -> bytes:
        """PKCS#1 v1.5 signature of a precomputed ``digest`` (SHA-256 unless
        ``algorithm`` says otherwise) by the key in ``container``. Needs the PIN.

        The signature is checked with the container's public key, or with
        ``public_key`` when given (a proof that the container holds that key,
        which the client does not then take as the container's);
        AuthenticationError if it does not verify.
        """
        algorithm = algorithm or hashes.SHA256()
        ref = _container_ref(container)
        key = public_key if public_key is not None else self.public_key(ref)
        size = (key.key_size + 7) // 8
        card_algorithm = _RSA_ALGORITHMS.get(size)
        if card_algorithm is None:
            raise NotSupportedError(SW.OK, f"no PIV algorithm for RSA-{key.key_size}")
        block = pkcs1_v15_block(digest, size, algorithm)
        template = tlv(GA_TEMPLATE, tlv(GA_RESPONSE, b"") + tlv(GA_CHALLENGE, block))
        action = f"SIGN with {int(ref):02X}"
        answer = self.transmit(
            self._command(INS.GENERAL_AUTHENTICATE, card_algorithm, ref, template),
            action,
            messages={
                SW.SECURITY_STATUS_NOT_SATISFIED: "signing needs the PIN (verify it first)",
                SW.REFERENCE_NOT_FOUND: f"container {int(ref):02X} holds no key",
            },
        )
        signature = _required(_fields(answer, GA_TEMPLATE, action), GA_RESPONSE, action)
        try:
            key.verify(signature, digest, padding.PKCS1v15(), Prehashed(algorithm))
        except InvalidSignature:
            raise AuthenticationError(
                SW.OK, f"the card's signature does not verify with the public key of container {int(ref):02X}"
            ) from None
        return signature

    def sign(
        self, container: int, data: bytes, algorithm: hashes.HashAlgorithm | None = None, *,
        public_key: rsa.RSAPublicKey | None = None,
    ) -> bytes:
        """PKCS#1 v1.5 signature of ``data`` hashed with SHA-256 (or ``algorithm``),
        by the key in ``container``; checked like :meth:`sign_digest`."""
        algorithm = algorithm or hashes.SHA256()
        h = hashes.Hash(algorithm)
        h.update(data)
        return self.sign_digest(container, h.finalize(), algorithm, public_key=public_key)

    def remove_key(self, container: int) -> None:
        """Delete the key and certificate of ``container`` (TWCA DELETE KEY).
        Needs the PIN and the management key; NotSupportedError on a card
        without the command."""
        ref = _container_ref(container)
        self.transmit(
            self._command(INS.DELETE_KEY, 0x00, ref, response=False),
            f"DELETE KEY {int(ref):02X}",
            messages={
                SW.INS_NOT_SUPPORTED: "this card cannot delete keys (no TWCA DELETE KEY command)",
                SW.SECURITY_STATUS_NOT_SATISFIED: "deleting a key needs the PIN and the management key",
                SW.REFERENCE_NOT_FOUND: f"container {int(ref):02X} is already empty",
            },
        )
        self._public_keys.pop(ref, None)


#: The engine's name for the client of the TWCA card.
TwcaCardClient = PivCardClient


def _spki(key: CertificatePublicKeyTypes) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
