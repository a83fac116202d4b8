"""argon2 hashes of the fixtures' passwords, kept between banks.

A new bank stores the personas' and the officers' passwords as argon2 hashes, some fifty of
them: with the production profile (~0.1 s each) that was most of a new stack's start. The
passwords are the fixtures' (test data, in the repository in clear), so their hashes are kept
in one file per user and reused by every new bank of that user:

    $FXMLSIM_HASH_CACHE, else $XDG_CACHE_HOME/fxmlsim/argon2-fixtures.json, else
    ~/.cache/fxmlsim/argon2-fixtures.json        ("off" as $FXMLSIM_HASH_CACHE: no cache)

An entry is keyed by SHA-256 of the hasher's parameters and the password, and is used only if
the stored hash has exactly the hasher's parameters; two banks of one user then share a
fixture password's salt, which is all a cache can do (a password a customer or officer sets
later is never cached). The file and its folder are the user's alone (0600, 0700); a file
another user owns or others may write to is not read (a warning says so), and the bank hashes
as before. Writers take turns (flock); a file that is not a cache is replaced.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError

from fxml import env

log = logging.getLogger(__name__)

FILE_NAME = "argon2-fixtures.json"
OFF = "off"


def cache_file() -> Path | None:
    """Where the cache is (None: turned off)."""
    given = os.environ.get(env.HASH_CACHE, "")
    if given == OFF:
        return None
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fxmlsim" / FILE_NAME


def _params_key(hasher: PasswordHasher) -> str:
    p = hasher._parameters  # noqa: SLF001 - argon2-cffi keeps them there; extract_parameters gives the same type
    return f"{p.type.name}:{p.version}:{p.salt_len}:{p.hash_len}:{p.time_cost}:{p.memory_cost}:{p.parallelism}"


def _key(hasher: PasswordHasher, password: str) -> str:
    return hashlib.sha256(f"{_params_key(hasher)}\0{password}".encode()).hexdigest()


def _private(path: Path) -> bool:
    """Whether ``path`` is this user's and nobody else may write to it."""
    info = path.stat()
    return info.st_uid == os.geteuid() and not stat.S_IMODE(info.st_mode) & 0o022


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    fd = os.open(folder / f".{FILE_NAME}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="ascii"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def hashes(hasher: PasswordHasher, passwords: Iterable[str],
           hash_one: Callable[[str], str] | None = None) -> dict[str, str]:
    """The hash of each of ``passwords`` (by password): from the cache when it has one with the
    hasher's parameters, else made (``hash_one``, default ``hasher.hash``) and added to it."""
    make = hash_one or hasher.hash
    given = list(passwords)
    wanted = sorted(set(given))
    path = cache_file()
    if path is None:  # no cache: one hash per password given, as before there was one
        return {password: make(password) for password in given}
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(path.parent) or (path.exists() and not _private(path)):
            log.warning("%s: not private to this user; hashing the fixtures' passwords without it", path)
            return {password: make(password) for password in wanted}
        with _locked(path.parent):
            cached = _read(path)
            found: dict[str, str] = {}
            for password in wanted:
                stored = cached.get(_key(hasher, password))
                if stored is not None and _matches(hasher, stored):
                    found[password] = stored
            missing = [password for password in wanted if password not in found]
            if not missing:
                return found
            for password in missing:
                found[password] = cached[_key(hasher, password)] = make(password)
            _write(path, cached)
            return found
    except OSError as exc:
        log.warning("%s: %s; hashing the fixtures' passwords without it", path, exc)
        return {password: make(password) for password in wanted}


def _matches(hasher: PasswordHasher, stored: str) -> bool:
    try:
        return extract_parameters(stored) == hasher._parameters  # noqa: SLF001
    except InvalidHashError:
        return False


def _write(path: Path, data: dict[str, str]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{FILE_NAME}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            os.fchmod(out.fileno(), 0o600)
            json.dump(data, out, indent=0, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
