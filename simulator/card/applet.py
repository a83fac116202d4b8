"""The PIV card application of the TWCA chip card (NIST SP 800-73-4 card edge).

Pure protocol logic: the applet takes whole command APDUs (chaining is done
by the card OS's processors), raises :class:`ApduError` for every status word
other than 9000, and keeps the card's persistent state in an immutable
:class:`CardImage`. A command that changes the image hands the next image to
the ``persist`` callback *before* the applet keeps it or answers, so what the
card says has always been written first (a wrong PIN is counted even if the
card is pulled out right after the answer).

Session state (PIN verified, management key authenticated, a pending
management-key challenge) lives only in memory and is cleared by
:meth:`PivApplet.reset_session`.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Callable
from dataclasses import replace

from cryptography import x509

from fxml.card.apdu import SW, ApduError, CommandApdu
from fxml.card.piv import (
    CERT_INFO_TAG,
    CERT_OBJECT,
    CERT_TAG,
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
    PIN_PAD,
    PIV_AID,
    PIV_RID,
    PUBKEY_EXPONENT,
    PUBKEY_MODULUS,
    PUBKEY_TEMPLATE,
    SIGNATURE_CONTAINERS,
    Algorithm,
    KeyRef,
    Obj,
    TwcaInfoTag,
)
from fxml.card.tlv import TlvError, iter_tlv, tlv, unpack
from simulator.card.image import CardImage, ImageSyncError, KeyContainer, Secret, pin_policy_ok
from simulator.card.keys import (
    RSA_BITS,
    KeyFactory,
    RsaCrtKey,
    encrypt_block,
    generate_rsa_key,
    load_private_key,
    private_key_to_pem,
)

log = logging.getLogger(__name__)

#: The application label in the SELECT response.
APPLICATION_LABEL = b"TWCA FXML"
_PIX = PIV_AID[len(PIV_RID) :]

#: Application property template (SP 800-73-4 part 2, table 3), fixed for the card's life.
SELECT_RESPONSE = tlv(
    0x61,
    tlv(0x4F, _PIX)
    + tlv(0x79, tlv(0x4F, PIV_RID))
    + tlv(0x50, APPLICATION_LABEL)
    + tlv(
        0xAC,
        tlv(0x80, bytes([Algorithm.RSA_2048]))
        + tlv(0x80, bytes([Algorithm.AES_128]))
        + tlv(0x80, bytes([Algorithm.AES_256]))
        + tlv(0x80, bytes([Algorithm.TDEA_3KEY]))
        + tlv(0x06, b""),
    ),
)

#: Discovery object: the PIV AID, PIN usage policy "PIN only" (no OCC, no global PIN).
DISCOVERY = tlv(Obj.DISCOVERY, tlv(0x4F, PIV_AID) + tlv(0x5F2F, b"\x40\x00"))

#: Data objects PUT DATA may write (besides the certificate objects).
WRITABLE_OBJECTS = frozenset({Obj.CHUID, Obj.CCC, Obj.KEY_HISTORY, Obj.TWCA_CA_CHAIN})
#: Objects the card serves but never lets a host overwrite.
READ_ONLY_OBJECTS = frozenset({Obj.DISCOVERY, Obj.BIOMETRIC_GROUP_TEMPLATE, Obj.TWCA_CARD_INFO})

_CONTAINERS = frozenset(int(r) for r in SIGNATURE_CONTAINERS)
_CERT_CONTAINER = {CERT_OBJECT[r]: int(r) for r in SIGNATURE_CONTAINERS}

_FIXED_PARAMS = (0x3F, 0xFF)

Persist = Callable[[CardImage], None]


def _require(condition: bool, sw: int, message: str | None = None) -> None:
    if not condition:
        raise ApduError(sw, message)


def _template(data: bytes, tag: int) -> dict[int, bytes]:
    """The TLVs inside a constructed ``tag``; 6A80 if malformed or tags repeat."""
    try:
        items = list(iter_tlv(unpack(tag, data)))
    except TlvError as exc:
        raise ApduError(SW.WRONG_DATA, f"malformed {tag:X} template: {exc}") from exc
    found = dict(items)
    _require(len(found) == len(items), SW.WRONG_DATA, f"a tag repeats in the {tag:X} template")
    return found


def _names_algorithm(p1: int, algorithm: Algorithm) -> bool:
    """Whether a GENERAL AUTHENTICATE's P1 names ``algorithm``: its own
    identifier, or for 3-key TDEA also the deprecated 00 (which OpenSC sends
    when it asks for random bytes)."""
    return p1 == algorithm or (p1 == Algorithm.TDEA_3KEY_LEGACY and algorithm == Algorithm.TDEA_3KEY)


def _unpad(block: bytes) -> str:
    """A PIN/PUK from its 8-byte FF-padded form; 6A80 unless it meets the policy."""
    body = block.rstrip(bytes([PIN_PAD]))
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise ApduError(SW.WRONG_DATA, "reference data is not ASCII") from None
    _require(pin_policy_ok(text), SW.WRONG_DATA, "reference data does not meet the PIN policy")
    return text


def card_info_object(image: CardImage) -> bytes:
    """Content of the TWCA card-information object (5FFF01)."""
    return (
        tlv(TwcaInfoTag.CARD_SERIAL, image.card_serial.encode("utf-8"))
        + tlv(TwcaInfoTag.CARRIER, image.carrier.display.encode("utf-8"))
        + tlv(TwcaInfoTag.HOLDER_ID, image.holder_id.encode("utf-8"))
        + tlv(TwcaInfoTag.PROFILE_VERSION, image.profile_version.encode("utf-8"))
    )


def certificate_object(der: bytes) -> bytes:
    """Content of a certificate object: the certificate, uncompressed, and an empty LRC."""
    return tlv(CERT_TAG, der) + tlv(CERT_INFO_TAG, b"\x00") + tlv(ERROR_DETECTION_TAG, b"")


class PivApplet:
    """The PIV/TWCA application. ``process`` takes a whole command and returns
    the response data, or raises :class:`ApduError`."""

    def __init__(
        self,
        image: CardImage,
        persist: Persist,
        *,
        key_factory: KeyFactory = generate_rsa_key,
        random: Callable[[int], bytes] = os.urandom,
    ):
        self._image = image
        self._persist = persist
        self._key_factory = key_factory
        self._random = random
        self._rsa: dict[str, RsaCrtKey] = {}
        self._pin_verified = False
        self._admin = False
        self._pending_auth: tuple[int, bytes] | None = None
        self._handlers: dict[int, Callable[[CommandApdu], bytes]] = {
            INS.SELECT: self._select,
            INS.GET_DATA: self._get_data,
            INS.PUT_DATA: self._put_data,
            INS.VERIFY: self._verify,
            INS.CHANGE_REFERENCE_DATA: self._change_reference_data,
            INS.RESET_RETRY_COUNTER: self._reset_retry_counter,
            INS.GENERATE_ASYMMETRIC_KEY_PAIR: self._generate,
            INS.GENERAL_AUTHENTICATE: self._general_authenticate,
            INS.DELETE_KEY: self._delete_key,
        }

    # -- state ---------------------------------------------------------------
    @property
    def image(self) -> CardImage:
        return self._image

    @property
    def pin_verified(self) -> bool:
        return self._pin_verified

    @property
    def management_authenticated(self) -> bool:
        return self._admin

    def reset_session(self) -> None:
        """Forget everything a power cycle forgets."""
        self._pin_verified = False
        self._admin = False
        self._pending_auth = None

    def replace_image(self, image: CardImage) -> None:
        """Take a freshly loaded image (the card OS's reload) and reset the session."""
        self._image = image
        self._rsa.clear()
        self.reset_session()

    def _commit(self, image: CardImage) -> None:
        try:
            self._persist(image)
        except OSError as exc:
            log.error("card image could not be written: %s", exc)
            if isinstance(exc, ImageSyncError):
                # The file already holds the new image: the card must not run
                # behind it (a wrong PIN it does not remember would be a free try).
                self._image = image
            raise ApduError(SW.MEMORY_FAILURE, "card memory write failed") from exc
        self._image = image

    # -- dispatch ------------------------------------------------------------
    def process(self, cmd: CommandApdu) -> bytes:
        """Run one whole command; returns the response data (status 9000)."""
        handler = self._handlers.get(cmd.ins)
        if cmd.ins != INS.GENERAL_AUTHENTICATE:
            self._pending_auth = None
        if handler is None:
            raise ApduError(SW.INS_NOT_SUPPORTED)
        return handler(cmd)

    # -- SELECT --------------------------------------------------------------
    def _select(self, cmd: CommandApdu) -> bytes:
        if cmd.p1 in (0x00, 0x01, 0x02, 0x08, 0x09):
            raise ApduError(SW.FILE_NOT_FOUND, "selection by file identifier or path: this card has no files")
        _require(cmd.p1 == 0x04, SW.INCORRECT_P1P2)
        _require(cmd.p2 in (0x00, 0x0C), SW.INCORRECT_P1P2)
        # ISO/IEC 7816-4 selection by DF name, first occurrence: the name may be
        # right-truncated, down to the RID. Anything else (shorter, longer, or
        # another application) leaves PIV selected and answers 6A82.
        aid = cmd.data
        _require(len(PIV_RID) <= len(aid) <= len(PIV_AID) and PIV_AID.startswith(aid), SW.FILE_NOT_FOUND)
        return SELECT_RESPONSE if cmd.p2 == 0x00 else b""

    # -- data objects --------------------------------------------------------
    def _object_tag(self, value: bytes) -> int:
        _require(1 <= len(value) <= 3, SW.WRONG_DATA, "tag list must name one tag of 1 to 3 bytes")
        return int.from_bytes(value, "big")

    def _get_data(self, cmd: CommandApdu) -> bytes:
        _require((cmd.p1, cmd.p2) == _FIXED_PARAMS, SW.INCORRECT_P1P2)
        try:
            tag = self._object_tag(unpack(OBJECT_TAG_LIST, cmd.data))
        except TlvError as exc:
            raise ApduError(SW.WRONG_DATA, f"GET DATA needs 5C <tag>: {exc}") from exc
        if tag == Obj.DISCOVERY:
            return DISCOVERY
        content = self._read_object(tag)
        if content is None:
            raise ApduError(SW.FILE_NOT_FOUND)
        return tlv(OBJECT_CONTENT, content)

    def _read_object(self, tag: int) -> bytes | None:
        if tag in _CERT_CONTAINER:
            der = self._image.containers[_CERT_CONTAINER[tag]].certificate_der
            return None if der is None else certificate_object(der)
        if tag == Obj.TWCA_CARD_INFO:
            return card_info_object(self._image)
        return self._image.objects.get(tag)

    def _put_data(self, cmd: CommandApdu) -> bytes:
        _require((cmd.p1, cmd.p2) == _FIXED_PARAMS, SW.INCORRECT_P1P2)
        _require(self._admin, SW.SECURITY_STATUS_NOT_SATISFIED, "PUT DATA needs the management key")
        try:
            items = list(iter_tlv(cmd.data))
        except TlvError as exc:
            raise ApduError(SW.WRONG_DATA, f"malformed PUT DATA: {exc}") from exc
        _require(
            len(items) == 2 and items[0][0] == OBJECT_TAG_LIST and items[1][0] == OBJECT_CONTENT,
            SW.WRONG_DATA,
            "PUT DATA needs 5C <tag> 53 <content>",
        )
        tag = self._object_tag(items[0][1])
        content = items[1][1]
        if tag in _CERT_CONTAINER:
            ref = _CERT_CONTAINER[tag]
            der = self._parse_certificate_object(content) if content else None
            container = self._image.containers[ref]
            self._commit(self._image.with_container(ref, replace(container, certificate_der=der)))
            return b""
        _require(tag not in READ_ONLY_OBJECTS, SW.COMMAND_NOT_ALLOWED, "object is read-only")
        _require(tag in WRITABLE_OBJECTS, SW.FILE_NOT_FOUND, "no such data object on this card")
        try:
            list(iter_tlv(content))
        except TlvError as exc:
            raise ApduError(SW.WRONG_DATA, f"object content is not BER-TLV: {exc}") from exc
        self._commit(self._image.with_object(tag, content or None))
        return b""

    @staticmethod
    def _parse_certificate_object(content: bytes) -> bytes:
        try:
            items = list(iter_tlv(content))
        except TlvError as exc:
            raise ApduError(SW.WRONG_DATA, f"malformed certificate object: {exc}") from exc
        fields = dict(items)
        _require(len(fields) == len(items), SW.WRONG_DATA, "a tag repeats in the certificate object")
        _require(
            set(fields) <= {CERT_TAG, CERT_INFO_TAG, ERROR_DETECTION_TAG} and CERT_TAG in fields,
            SW.WRONG_DATA,
            "certificate object needs 70 <certificate> [71 00] [FE 00] and nothing else",
        )
        compressed = fields.get(CERT_INFO_TAG, b"\x00") != b"\x00"
        _require(not compressed, SW.WRONG_DATA, "compressed certificates are not supported")
        der = fields[CERT_TAG]
        try:
            x509.load_der_x509_certificate(der)
        except ValueError as exc:
            raise ApduError(SW.WRONG_DATA, f"not a DER X.509 certificate: {exc}") from exc
        return der

    # -- PIN and PUK ---------------------------------------------------------
    def _secret(self, ref: int) -> Secret:
        return self._image.pin if ref == KeyRef.PIN else self._image.puk

    def _with_secret(self, image: CardImage, ref: int, secret: Secret) -> CardImage:
        return replace(image, pin=secret) if ref == KeyRef.PIN else replace(image, puk=secret)

    @staticmethod
    def _reference(p2: int) -> int:
        _require(p2 in (KeyRef.PIN, KeyRef.PUK), SW.REFERENCE_NOT_FOUND)
        return p2

    def _check(self, ref: int, candidate: str) -> Secret:
        """The secret with a full counter if ``candidate`` matches it. On a
        mismatch the decremented counter is written first, then 63Cx raised."""
        secret = self._secret(ref)
        if hmac.compare_digest(candidate.encode("ascii"), secret.value.encode("ascii")):
            return replace(secret, tries_left=secret.max_tries)
        left = secret.tries_left - 1
        self._commit(self._with_secret(self._image, ref, replace(secret, tries_left=left)))
        if ref == KeyRef.PIN:
            self._pin_verified = False
        raise ApduError(SW.VERIFY_FAIL | left)

    def _tries_status(self, secret: Secret) -> ApduError:
        if secret.blocked:
            return ApduError(SW.AUTH_METHOD_BLOCKED)
        return ApduError(SW.VERIFY_FAIL | secret.tries_left)

    def _verify(self, cmd: CommandApdu) -> bytes:
        # SP 800-73-4 part 2, 3.2.1: VERIFY knows the PIN, not the PUK (81),
        # which only CHANGE REFERENCE DATA and RESET RETRY COUNTER take.
        _require(cmd.p2 == KeyRef.PIN, SW.REFERENCE_NOT_FOUND)
        if cmd.p1 == 0xFF:  # reset the security status
            _require(not cmd.data, SW.WRONG_LENGTH, "VERIFY with P1=FF carries no data")
            self._pin_verified = False
            return b""
        _require(cmd.p1 == 0x00, SW.INCORRECT_P1P2)
        ref = KeyRef.PIN
        secret = self._secret(ref)
        _require(not secret.blocked, SW.AUTH_METHOD_BLOCKED)
        if not cmd.data:  # status query
            if self._pin_verified:
                return b""
            raise self._tries_status(secret)
        _require(len(cmd.data) == 8, SW.WRONG_LENGTH, "VERIFY data must be 8 bytes")
        checked = self._check(ref, _unpad(cmd.data))
        if checked != secret:
            self._commit(self._with_secret(self._image, ref, checked))
        self._pin_verified = True
        return b""

    def _change_reference_data(self, cmd: CommandApdu) -> bytes:
        _require(cmd.p1 == 0x00, SW.INCORRECT_P1P2)
        ref = self._reference(cmd.p2)
        secret = self._secret(ref)
        _require(not secret.blocked, SW.AUTH_METHOD_BLOCKED)
        _require(len(cmd.data) == 16, SW.WRONG_LENGTH, "CHANGE REFERENCE DATA needs old and new, 8 bytes each")
        old, new = _unpad(cmd.data[:8]), _unpad(cmd.data[8:])
        checked = self._check(ref, old)
        self._commit(self._with_secret(self._image, ref, replace(checked, value=new)))
        return b""

    def _reset_retry_counter(self, cmd: CommandApdu) -> bytes:
        _require(cmd.p1 == 0x00, SW.INCORRECT_P1P2)
        _require(cmd.p2 == KeyRef.PIN, SW.REFERENCE_NOT_FOUND)
        _require(not self._image.puk.blocked, SW.AUTH_METHOD_BLOCKED)
        _require(len(cmd.data) == 16, SW.WRONG_LENGTH, "RESET RETRY COUNTER needs PUK and new PIN, 8 bytes each")
        puk, new_pin = _unpad(cmd.data[:8]), _unpad(cmd.data[8:])
        checked = self._check(KeyRef.PUK, puk)
        pin = replace(self._image.pin, value=new_pin, tries_left=self._image.pin.max_tries)
        self._commit(replace(self._image, puk=checked, pin=pin))
        self._pin_verified = False
        return b""

    # -- keys ----------------------------------------------------------------
    def _container_ref(self, p2: int) -> int:
        _require(p2 in _CONTAINERS, SW.INCORRECT_P1P2, "no such key container")
        return p2

    def _crt(self, pem: str) -> RsaCrtKey:
        key = self._rsa.get(pem)
        if key is None:
            key = self._rsa[pem] = RsaCrtKey.from_key(load_private_key(pem))
        return key

    def _generate(self, cmd: CommandApdu) -> bytes:
        _require(cmd.p1 == 0x00, SW.INCORRECT_P1P2)
        ref = self._container_ref(cmd.p2)
        _require(self._admin, SW.SECURITY_STATUS_NOT_SATISFIED, "key generation needs the management key")
        params = _template(cmd.data, GEN_CONTROL_TEMPLATE)
        _require(set(params) == {GEN_ALGORITHM}, SW.WRONG_DATA, "control template needs 80 <algorithm> only")
        _require(params[GEN_ALGORITHM] == bytes([Algorithm.RSA_2048]), SW.WRONG_DATA, "only RSA-2048 (07)")
        container = self._image.containers[ref]
        _require(
            container.private_key_pem is None, SW.CONDITIONS_NOT_SATISFIED, "container holds a key; DELETE KEY first"
        )
        key = self._key_factory()
        if key.key_size != RSA_BITS:
            raise RuntimeError(f"key factory made an RSA-{key.key_size} key")
        pem = private_key_to_pem(key)
        crt = RsaCrtKey.from_key(key)
        self._commit(self._image.with_container(ref, replace(container, private_key_pem=pem)))
        self._rsa[pem] = crt
        modulus, exponent = crt.public_template_values()
        return tlv(PUBKEY_TEMPLATE, tlv(PUBKEY_MODULUS, modulus) + tlv(PUBKEY_EXPONENT, exponent))

    def _general_authenticate(self, cmd: CommandApdu) -> bytes:
        pending, self._pending_auth = self._pending_auth, None
        if cmd.p2 == KeyRef.MANAGEMENT:
            return self._management_auth(cmd, pending)
        ref = self._container_ref(cmd.p2)
        _require(cmd.p1 == Algorithm.RSA_2048, SW.INCORRECT_P1P2, "container keys are RSA-2048 (07)")
        _require(self._pin_verified, SW.SECURITY_STATUS_NOT_SATISFIED, "signing needs the PIN")
        pem = self._image.containers[ref].private_key_pem
        if pem is None:
            raise ApduError(SW.REFERENCE_NOT_FOUND, "no key in this container")
        fields = _template(cmd.data, GA_TEMPLATE)
        _require(
            set(fields) == {GA_RESPONSE, GA_CHALLENGE} and fields[GA_RESPONSE] == b"",
            SW.WRONG_DATA,
            "signing needs 7C { 82 00, 81 <block> }",
        )
        key = self._crt(pem)
        block = fields[GA_CHALLENGE]
        _require(len(block) == key.size, SW.WRONG_DATA, f"input must be {key.size} bytes")
        try:
            signature = key.private_op(block)
        except ValueError as exc:
            raise ApduError(SW.WRONG_DATA, str(exc)) from exc
        return tlv(GA_TEMPLATE, tlv(GA_RESPONSE, signature))

    def _management_auth(self, cmd: CommandApdu, pending: tuple[int, bytes] | None) -> bytes:
        self._admin = False  # every attempt, even a refused one, starts from "not authenticated"
        mk = self._image.management_key
        _require(_names_algorithm(cmd.p1, mk.algorithm), SW.INCORRECT_P1P2, "P1 is not the management key's algorithm")
        fields = _template(cmd.data, GA_TEMPLATE)
        size = mk.block_size

        def encrypt(block: bytes) -> bytes:
            return encrypt_block(mk.algorithm, mk.key, block)

        if fields == {GA_CHALLENGE: b""}:  # (a) card challenges the host
            challenge = self._random(size)
            self._pending_auth = (GA_CHALLENGE, challenge)
            return tlv(GA_TEMPLATE, tlv(GA_CHALLENGE, challenge))
        if fields == {GA_WITNESS: b""}:  # (b) mutual, step 1
            witness = self._random(size)
            self._pending_auth = (GA_WITNESS, witness)
            return tlv(GA_TEMPLATE, tlv(GA_WITNESS, encrypt(witness)))
        if set(fields) == {GA_RESPONSE} and fields[GA_RESPONSE]:  # (a) step 2
            if pending is None or pending[0] != GA_CHALLENGE:
                raise ApduError(SW.CONDITIONS_NOT_SATISFIED, "no challenge pending")
            _require(len(fields[GA_RESPONSE]) == size, SW.WRONG_DATA, f"response must be {size} bytes")
            _require(hmac.compare_digest(fields[GA_RESPONSE], encrypt(pending[1])), SW.SECURITY_STATUS_NOT_SATISFIED)
            self._admin = True
            return b""
        mutual_step_2 = {GA_WITNESS, GA_CHALLENGE} <= set(fields) <= {GA_WITNESS, GA_CHALLENGE, GA_RESPONSE}
        if mutual_step_2 and not fields.get(GA_RESPONSE):
            # (b) mutual, step 2: the host proves the witness, the card answers its challenge
            if pending is None or pending[0] != GA_WITNESS:
                raise ApduError(SW.CONDITIONS_NOT_SATISFIED, "no witness pending")
            _require(
                len(fields[GA_WITNESS]) == size and len(fields[GA_CHALLENGE]) == size,
                SW.WRONG_DATA,
                f"witness and challenge must be {size} bytes",
            )
            _require(hmac.compare_digest(fields[GA_WITNESS], pending[1]), SW.SECURITY_STATUS_NOT_SATISFIED)
            self._admin = True
            return tlv(GA_TEMPLATE, tlv(GA_RESPONSE, encrypt(fields[GA_CHALLENGE])))
        raise ApduError(SW.WRONG_DATA, "unrecognised management key authentication step")

    def _delete_key(self, cmd: CommandApdu) -> bytes:
        _require(cmd.p1 == 0x00, SW.INCORRECT_P1P2)
        ref = self._container_ref(cmd.p2)
        _require(not cmd.data, SW.WRONG_LENGTH, "DELETE KEY carries no data")
        _require(self._pin_verified and self._admin, SW.SECURITY_STATUS_NOT_SATISFIED, "needs PIN and management key")
        container = self._image.containers[ref]
        _require(not container.empty, SW.REFERENCE_NOT_FOUND, "container is empty")
        self._commit(self._image.with_container(ref, KeyContainer()))
        return b""
