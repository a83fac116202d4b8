"""How the bank's screens and the proof sheet (憑證證明單) write certificate
data: one place for the engine, the simulated CA and the features."""

from __future__ import annotations

from datetime import datetime

from cryptography import x509

from fxml.clock import TAIWAN


def display_name(name: x509.Name) -> str:
    """A DN as the proof sheet prints it, in encoded order (C first),
    separated by spaces: ``C=TW O=TWCA OU=User CA CN=TWCA Financial User CA``."""
    return " ".join(f"{attr.rfc4514_attribute_name}={_text(attr.value)}" for attr in name)


def _text(value: str | bytes) -> str:
    # Only a bit-string attribute (x500UniqueIdentifier) has bytes: RFC 4514 writes it as #<hex>.
    return value if isinstance(value, str) else "#" + value.hex()


def taiwan_text(instant: datetime) -> str:
    """``2023-04-17 11:28:33``: an instant in Taiwan time, as the proof sheet shows it."""
    return instant.astimezone(TAIWAN).strftime("%Y-%m-%d %H:%M:%S")


def roc_date(instant: datetime) -> str:
    """``112/04/17``: a date in the Republic of China (民國) calendar, as the bank's screens show it."""
    local = instant.astimezone(TAIWAN)
    return f"{local.year - 1911:03d}/{local.month:02d}/{local.day:02d}"


def time_text(instant: datetime) -> str:
    """``11:13:42``: the time of day in Taiwan, as 查詢時間 shows it."""
    return instant.astimezone(TAIWAN).strftime("%H:%M:%S")
