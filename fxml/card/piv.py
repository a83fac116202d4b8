"""The PIV card edge (NIST SP 800-73-4) as the TWCA chip card exposes it.

Constants only: instruction bytes, key references, data-object tags and the
TWCA vendor object. Both the card client and the simulated card import them.
"""

from __future__ import annotations

import enum

PIV_AID = bytes.fromhex("A000000308000010000100")
#: The registered application provider identifier (NIST's RID) that starts the
#: PIV AID: the shortest right-truncated AID a SELECT by DF name may use
#: (ISO/IEC 7816-4, 7.1.1; yubico-piv-tool selects with the RID alone).
PIV_RID = PIV_AID[:5]


@enum.unique
class INS(enum.IntEnum):
    SELECT = 0xA4
    GET_DATA = 0xCB
    PUT_DATA = 0xDB
    VERIFY = 0x20
    CHANGE_REFERENCE_DATA = 0x24
    RESET_RETRY_COUNTER = 0x2C
    GENERATE_ASYMMETRIC_KEY_PAIR = 0x47
    GENERAL_AUTHENTICATE = 0x87
    GET_RESPONSE = 0xC0
    # TWCA proprietary (CLA 00, INS in the range ISO leaves to applications)
    DELETE_KEY = 0xE4


@enum.unique
class KeyRef(enum.IntEnum):
    """Key references (SP 800-73-4 part 1, table 4)."""

    PIN = 0x80
    PUK = 0x81
    MANAGEMENT = 0x9B
    AUTHENTICATION = 0x9A
    SIGNATURE = 0x9C
    KEY_MANAGEMENT = 0x9D
    CARD_AUTH = 0x9E


@enum.unique
class Algorithm(enum.IntEnum):
    #: 3-key TDEA (ECB) under its deprecated identifier (SP 800-78 lists both
    #: 00 and 03). OpenSC's PIV driver sends it with key reference 9B to ask
    #: for a challenge when a PKCS#11 application wants random bytes.
    TDEA_3KEY_LEGACY = 0x00
    TDEA_3KEY = 0x03
    RSA_2048 = 0x07
    AES_128 = 0x08
    #: The default management-key algorithm of YubiKey 5.7 and later.
    AES_192 = 0x0A
    AES_256 = 0x0C


#: The signature key containers of the TWCA card: two, so that a renewal can
#: create and certify a new key while the current key stays usable.
SIGNATURE_CONTAINERS: tuple[KeyRef, ...] = (KeyRef.AUTHENTICATION, KeyRef.SIGNATURE)

#: Certificate data-object tag for each key container (SP 800-73-4 part 1, table 3).
CERT_OBJECT: dict[int, int] = {
    KeyRef.AUTHENTICATION: 0x5FC105,
    KeyRef.SIGNATURE: 0x5FC10A,
    KeyRef.KEY_MANAGEMENT: 0x5FC10B,
    KeyRef.CARD_AUTH: 0x5FC101,
}


@enum.unique
class Obj(enum.IntEnum):
    """Data-object tags read with GET DATA."""

    DISCOVERY = 0x7E
    BIOMETRIC_GROUP_TEMPLATE = 0x7F61
    CCC = 0x5FC107
    CHUID = 0x5FC102
    CERT_9A = 0x5FC105
    CERT_9C = 0x5FC10A
    CERT_9D = 0x5FC10B
    CERT_9E = 0x5FC101
    KEY_HISTORY = 0x5FC10C
    #: TWCA vendor object (proprietary range): card serial, carrier, holder id.
    TWCA_CARD_INFO = 0x5FFF01
    #: TWCA vendor object: the issuer chain of the card's certificates, one
    #: ``70 <DER>`` per CA certificate, issuing CA first and root last.
    TWCA_CA_CHAIN = 0x5FFF02


@enum.unique
class TwcaInfoTag(enum.IntEnum):
    """Tags inside the TWCA card-information object (all values UTF-8)."""

    CARD_SERIAL = 0x01
    CARRIER = 0x02
    HOLDER_ID = 0x03
    PROFILE_VERSION = 0x04


# GET DATA and PUT DATA (SP 800-73-4 part 2, 3.1.2 and 3.3.2).
#: The tag list that names the data object: ``5C <tag>``.
OBJECT_TAG_LIST = 0x5C
#: The wrapper of a data object's content: ``53 <content>``.
OBJECT_CONTENT = 0x53

# Tags of a certificate object's content (SP 800-73-4 part 1, appendix A).
CERT_TAG = 0x70
CERT_INFO_TAG = 0x71
ERROR_DETECTION_TAG = 0xFE
#: CertInfo bit 0: the certificate is gzip-compressed.
CERT_INFO_COMPRESSED = 0x01

# Tags inside the CHUID (SP 800-73-4 part 1, table 9).
CHUID_FASCN = 0x30
CHUID_GUID = 0x34

# Tags inside the GENERAL AUTHENTICATE dynamic authentication template (7C).
GA_TEMPLATE = 0x7C
GA_WITNESS = 0x80
GA_CHALLENGE = 0x81
GA_RESPONSE = 0x82
GA_EXPONENTIATION = 0x85

# GENERATE ASYMMETRIC KEY PAIR: control template and public key template.
GEN_CONTROL_TEMPLATE = 0xAC
GEN_ALGORITHM = 0x80
PUBKEY_TEMPLATE = 0x7F49
PUBKEY_MODULUS = 0x81
PUBKEY_EXPONENT = 0x82

#: Value of a PIN that is shorter than 8 bytes is padded with FF to 8 bytes.
PIN_PAD = 0xFF
PIN_MIN, PIN_MAX = 6, 8


def pad_pin(pin: str) -> bytes:
    """Encode a PIN for VERIFY / CHANGE REFERENCE DATA (ASCII, FF-padded to 8)."""
    raw = pin.encode("ascii")
    if len(raw) > 8:
        raise ValueError("PIN longer than 8 characters")
    return raw + bytes([PIN_PAD]) * (8 - len(raw))


def obj_tag_bytes(tag: int) -> bytes:
    """The value of the tag list (:data:`OBJECT_TAG_LIST`) that names ``tag`` in GET/PUT DATA."""
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")
