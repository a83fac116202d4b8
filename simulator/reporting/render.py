"""Jinja2 templates (``templates/`` beside this file) and the PDF of a page (WeasyPrint, with
Debian's Noto Sans CJK, embedded as subsets)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from simulator.reporting.words import split_technical

TEMPLATES = Path(__file__).resolve().parent / "templates"


class Notes:
    """The technical stretches taken out of what an officer reads, numbered (註1, 註2 ...); the
    collapsed 技術細節 part lists them."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def number(self, text: str) -> int:
        if text not in self.items:
            self.items.append(text)
        return self.items.index(text) + 1

    def officer(self, text: str) -> Markup:
        """``text`` escaped, each technical stretch replaced by its note's mark."""
        out = []
        for part in split_technical(text):
            if part.technical:
                out.append(Markup('<span class="note-mark">註{}</span>').format(self.number(part.text)))
            else:
                out.append(escape(part.text))
        return Markup("").join(out)

    def __bool__(self) -> bool:
        return bool(self.items)


@cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["json_script"] = _json_script
    return env


def _json_script(value: Any) -> Markup:
    """JSON safe inside a <script> element."""
    text = json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    return Markup(text.replace("&", "\\u0026"))  # noqa: S704 - JSON with <, > and & escaped


def render(template: str, **values: Any) -> str:
    # The package's own stylesheet and script, inlined so that a document is one file.
    css = Markup((TEMPLATES / "style.css").read_text(encoding="utf-8"))  # noqa: S704
    script = Markup((TEMPLATES / "viewer.js").read_text(encoding="utf-8"))  # noqa: S704
    return environment().get_template(template).render(css=css, script=script, **values)


def write_pdf(html: str, target: Path) -> None:
    import logging

    from weasyprint import HTML

    # WeasyPrint warns of every CSS rule it does not support (the screen's), which says nothing about the PDF.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    HTML(string=html, base_url=str(TEMPLATES)).write_pdf(target)
