"""Screenshots as data URIs, so a report is one file: each distinct image once at full size (the
page opens it from a store by its id) and a small JPEG thumbnail of it (Pillow)."""

from __future__ import annotations

import base64
import hashlib
import io
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

#: The thumbnails' width in pixels (the screens are 1280 wide) and JPEG quality.
THUMB_WIDTH = 360
THUMB_QUALITY = 72


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _mime(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "image/jpeg"


@dataclass(frozen=True)
class Picture:
    """One distinct screenshot: its id in the store, its thumbnail, its full size."""

    id: str
    thumb: str
    full: str
    width: int
    height: int


@dataclass
class Pictures:
    """The distinct screenshots of a document, by the hash of their bytes."""

    by_hash: dict[str, Picture] = field(default_factory=dict)
    missing: list[Path] = field(default_factory=list)

    def add(self, path: Path) -> Picture | None:
        """The picture of ``path`` (None if the file is gone: the caller says so)."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            self.missing.append(path)
            return None
        digest = hashlib.sha256(data).hexdigest()[:16]
        known = self.by_hash.get(digest)
        if known is not None:
            return known
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            thumb = image.convert("RGB")
            thumb.thumbnail((THUMB_WIDTH, THUMB_WIDTH * 4))
            out = io.BytesIO()
            thumb.save(out, "JPEG", quality=THUMB_QUALITY, optimize=True)
        picture = Picture(f"p{digest}", data_uri(out.getvalue(), "image/jpeg"), data_uri(data, _mime(path)),
                          width, height)
        self.by_hash[digest] = picture
        return picture

    def store(self) -> dict[str, str]:
        """Every full-size image by id, for the page's viewer."""
        return {p.id: p.full for p in self.by_hash.values()}


def full_uri(path: Path) -> str | None:
    """``path`` as a data URI (its own type), or None if the file is gone."""
    try:
        return data_uri(path.read_bytes(), _mime(path))
    except FileNotFoundError:
        return None
