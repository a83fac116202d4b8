"""Card image files: JSON round trip, atomic and durable writes, refusals that name the file."""

from __future__ import annotations

import base64
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from fxml.card.piv import Algorithm
from fxml.card.tlv import tlv
from simulator.card.image import (
    MANAGEMENT_ALGORITHM_NAMES,
    CardImage,
    CardImageError,
    ManagementKey,
    Secret,
    load_image,
    save_image,
)
from simulator.card.os import TwcaCardOS
from simulator.card.profile import blank_image
from tests.support.card import issue
from tests.support.card_os import PROFILE, Card, assert_refused, public_key_of
from tests.support.paths import ROOT, repo_path


@pytest.fixture
def blank() -> CardImage:
    return blank_image(PROFILE)


@pytest.fixture
def saved(tmp_path: Path, blank: CardImage) -> Path:
    path = tmp_path / "card.json"
    save_image(blank, path)
    return path


def test_round_trip(saved: Path, blank: CardImage) -> None:
    assert load_image(saved) == blank


def test_round_trip_with_keys_and_certificate(tmp_path: Path) -> None:
    card = Card(tmp_path / "c.json")
    card.admin()
    cert = issue(public_key_of(card.generate(0x9A)))
    card.put_data(0x5FC105, tlv(0x70, cert.public_bytes(serialization.Encoding.DER)))
    loaded = load_image(card.path)
    assert loaded == card.os.image
    assert list(loaded.certificates()) == [cert]


def test_file_is_human_readable_json_with_format_marker_and_mode_0600(saved: Path) -> None:
    data = json.loads(saved.read_text(encoding="utf-8"))
    assert data["format"] == "fxmlsim.card-image" and data["version"] == 1
    assert data["carrier"] == "大卡"
    assert data["pin"] == {"value": "Fxml2015", "tries_left": 3, "max_tries": 3}
    assert data["management_key"]["algorithm"] == "3DES"
    assert set(data["containers"]) == {"9A", "9C"}
    assert "5FC102" in data["objects"]
    assert "大卡" in saved.read_text(encoding="utf-8")  # not \\u-escaped
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600


def test_save_leaves_no_temporary_files(saved: Path, blank: CardImage) -> None:
    save_image(replace(blank, holder_name="x"), saved)
    assert [p.name for p in saved.parent.iterdir()] == ["card.json"]


# -- refusals ------------------------------------------------------------------------------
def _refused(path: Path, *fragments: str) -> None:
    before = path.read_bytes() if path.exists() else None
    assert_refused(load_image, CardImageError, path, *fragments)
    with pytest.raises(CardImageError):
        TwcaCardOS.open(path)  # the card OS refuses it too, and never resets it
    assert (path.read_bytes() if path.exists() else None) == before


def test_missing_file(tmp_path: Path) -> None:
    _refused(tmp_path / "nope.json", "cannot be read")


def test_corrupt_json(saved: Path) -> None:
    saved.write_bytes(saved.read_bytes()[:100])
    _refused(saved, "not valid JSON", "line")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("[" * 100_000, "recursion"), ('{"format": "fxmlsim.card-image", "version": ' + "1" * 5000 + "}", "digits")],
)
def test_json_too_deep_or_with_a_huge_integer(tmp_path: Path, text: str, fragment: str) -> None:
    # json.loads answers these with RecursionError and a plain ValueError, not JSONDecodeError.
    path = tmp_path / "card.json"
    path.write_text(text)
    _refused(path, "not a usable JSON document", fragment)


def test_management_key_algorithms_are_those_the_image_can_name() -> None:
    # The shared cipher table also knows AES-192; this card does not, and an image
    # holding it could not be written (its algorithm has no name in the schema).
    with pytest.raises(ValueError, match="unsupported management key algorithm 0A"):
        ManagementKey(Algorithm.AES_192, bytes(24))
    key_lengths = {Algorithm.TDEA_3KEY: 24, Algorithm.AES_128: 16, Algorithm.AES_256: 32}
    for name, alg in MANAGEMENT_ALGORITHM_NAMES.items():
        assert ManagementKey(alg, bytes(key_lengths[alg])).algorithm_name == name


def test_private_key_of_an_unknown_type(saved: Path) -> None:
    # PKCS#8 with algorithm OID 1.2.3.4: cryptography raises UnsupportedAlgorithm, which is no ValueError.
    der = bytes.fromhex("300e020100300506032a030404020500")
    pem = "-----BEGIN PRIVATE KEY-----\n" + base64.b64encode(der).decode() + "\n-----END PRIVATE KEY-----\n"
    data = json.loads(saved.read_text())
    data["containers"]["9A"]["private_key"] = pem
    saved.write_text(json.dumps(data))
    _refused(saved, "containers.9A.private_key", "1.2.3.4")


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    path.write_bytes(b"\x80\x04\x95pickle")
    _refused(path, "not UTF-8")


def test_foreign_json(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    path.write_text('{"name": "something else"}')
    _refused(path, "not an fxmlsim card image", "format marker")


def test_profile_passed_as_image_gets_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    path.write_text(repo_path("fixtures", "cards", "eoi-large.json").read_text(encoding="utf-8"), encoding="utf-8")
    _refused(path, "card profile")


def test_newer_version(saved: Path) -> None:
    data = json.loads(saved.read_text())
    data["version"] = 2
    saved.write_text(json.dumps(data))
    _refused(saved, "unsupported image version 2")


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda d: d["pin"].update(tries_left=7), "tries_left"),
        (lambda d: d["pin"].update(value="12"), "pin"),
        (lambda d: d["puk"].update(tries_left="3"), "puk.tries_left"),
        (lambda d: d.update(carrier="中卡"), "carrier"),
        (lambda d: d["management_key"].update(key="0102"), "24 bytes"),
        (lambda d: d["management_key"].update(algorithm="DES"), "management_key.algorithm"),
        (
            lambda d: d["containers"]["9A"].update(
                private_key="-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
            ),
            "9A.private_key",
        ),
        (lambda d: d["containers"]["9C"].update(certificate="garbage"), "9C.certificate"),
        (lambda d: d["containers"].pop("9C"), "containers.9C"),
        (lambda d: d.update(extra=1), "unknown field 'extra'"),
        (lambda d: d["objects"].update({"5FC102": "zz"}), "objects.5FC102"),
        (lambda d: d.pop("holder_id"), "holder_id"),
    ],
)
def test_bad_field_values(saved: Path, edit, fragment: str) -> None:
    data = json.loads(saved.read_text())
    edit(data)
    saved.write_text(json.dumps(data))
    _refused(saved, fragment)


# -- atomicity -----------------------------------------------------------------------------
class CrashError(Exception):
    """The process dying at one point of a write."""


WRITE_POINTS = ["mkstemp", "fchmod", "write", "fsync-file", "close", "replace", "fsync-dir"]


@pytest.mark.parametrize("point", WRITE_POINTS)
def test_crash_at_every_write_point_leaves_old_or_new(
    saved: Path, blank: CardImage, point: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    new = replace(blank, pin=Secret(blank.pin.value, 1, 3))
    fsyncs = {"n": 0}
    real: dict[str, Callable[..., Any]] = {
        "fsync": os.fsync, "write": os.write, "replace": os.replace, "close": os.close, "fchmod": os.fchmod
    }

    def crash_if(name: str):
        def hook(*args):
            if name == point:
                raise CrashError(point)
            return real[name.split("-")[0]](*args)
        return hook

    def fsync(fd: int) -> None:
        fsyncs["n"] += 1
        if (point == "fsync-file" and fsyncs["n"] == 1) or (point == "fsync-dir" and fsyncs["n"] == 2):
            raise CrashError(point)
        real["fsync"](fd)

    def write(fd: int, data) -> int:
        if point == "write":
            real["write"](fd, bytes(data)[: len(data) // 2])  # half a file, then the power goes
            raise CrashError(point)
        return real["write"](fd, data)

    if point == "mkstemp":
        monkeypatch.setattr(tempfile, "mkstemp", lambda **kw: (_ for _ in ()).throw(CrashError(point)))
    monkeypatch.setattr(os, "fchmod", crash_if("fchmod"))
    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "close", crash_if("close"))
    monkeypatch.setattr(os, "replace", crash_if("replace"))
    with pytest.raises(CrashError):
        save_image(new, saved)
    monkeypatch.undo()
    assert load_image(saved) in (blank, new)
    if point != "fsync-dir":
        assert load_image(saved) == blank
    assert [p.name for p in saved.parent.iterdir()] == ["card.json"]  # no temporary file left behind


def test_card_keeps_its_old_state_when_the_save_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    card = Card(tmp_path / "card.json")
    card.admin()

    def crash(*args):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", crash)
    assert card.generate(0x9A).sw == 0x6581
    monkeypatch.undo()
    assert card.os.image.containers[0x9A].private_key_pem is None
    assert load_image(card.path).containers[0x9A].private_key_pem is None
    assert card.generate(0x9A).sw == 0x9000


_WRITER = """
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from simulator.card.image import Secret, load_image, save_image
path = Path(sys.argv[1])
image = load_image(path)
print("ready", flush=True)
n = 0
while True:
    n = n % 3 + 1
    image = replace(image, holder_name="x" * (n * 5000), pin=Secret(image.pin.value, n, 3))
    save_image(image, path)
"""


def test_killed_writer_never_leaves_a_half_written_image(saved: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(saved)], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            image = load_image(saved)  # concurrent readers see whole images only
            assert image.pin.tries_left in (1, 2, 3)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    image = load_image(saved)
    assert image.holder_name in ("虛構測試貿易股份有限公司", "x" * 5000, "x" * 10000, "x" * 15000)
