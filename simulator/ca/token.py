"""The CA's admin token file (``<state>/admin.token``, 0600): made by whoever needs it first,
the CA's ``serve`` or ``fxmlsim up`` (which makes it before it starts the services, so that the
bank, the CA's registration authority, may start beside the CA and read it)."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from fxml.ca.api import TOKEN_FILE_NAME
from simulator.ca import errors


def token_path(state_dir: Path) -> Path:
    return Path(state_dir) / TOKEN_FILE_NAME


def ensure_token(state_dir: Path) -> str:
    """The admin token of the CA in ``state_dir``, made on first use: 32 random bytes
    (URL-safe base64) in ``admin.token``, mode 0600. A token file that another user
    owns, or that others may read or write, is refused (StateError): a token
    others can read is no credential."""
    path = token_path(state_dir)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
    info = path.stat()
    if info.st_uid != os.geteuid() or info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise errors.StateError(f"管理權杖檔 {path} 須僅限擁有者讀寫（0600）。", path=str(path))
    token = path.read_text(encoding="ascii").strip()
    if len(token) < 32:
        raise errors.StateError(f"管理權杖檔 {path} 內容不正確。", path=str(path))
    return token

