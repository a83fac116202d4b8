"""The README's layer table against the code.

The table (README.md, *Layout*) says, row by row, which modules of ``fxml/`` and ``simulator/``
form a layer and what each may import. This reads the table as written and the imports as
grimp (import-linter's graph) finds them, and checks three things:

- every module of ``fxml`` and ``simulator`` belongs to a row (the most specific path naming it);
- every import between two rows is one the importing row's last column allows: the paths it
  names, with ``and below`` what those rows may import in turn, ``everything above`` every
  row above it, ``nothing of ours`` none;
- every top-level module and package of ``fxml`` and ``simulator`` is in an import-linter
  contract of pyproject.toml, so that ``lint-imports`` guards it too.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("fxml", "simulator")


@dataclass
class Row:
    index: int
    paths: list[str]
    allows: list[str] = field(default_factory=list)
    below: bool = False
    above: bool = False


def _paths(cell: str) -> list[str]:
    """The backticked module paths of a cell (``fxml/card/`` a package, ``x.py`` a module); a
    bare file name is in the folder of the path before it (``fxml/env.py``, ``errors.py``)."""
    found: list[str] = []
    for token in re.findall(r"`([^`]+)`", cell):
        if not token.endswith((".py", "/")):
            continue
        if "/" not in token.rstrip("/") and found:
            token = found[-1].rsplit("/", 1)[0] + "/" + token if found[-1].endswith(".py") \
                else found[-1] + token
        if token.split("/", 1)[0] in OURS:
            found.append(token)
    return found


@cache
def rows() -> tuple[Row, ...]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("| folder | layer | may import |"):]
    table = table[:table.index("\n\n")]
    read: list[Row] = []
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        last = cells[-1]
        own = _paths(cells[0])
        if not own or last == "—":  # a row of data files (fixtures, docs): no imports
            continue
        row = Row(len(read), own, _paths(last), below="and below" in last, above="everything above" in last)
        assert row.allows or row.above or last == "nothing of ours", f"README row {cells[0]}: may import {last!r}?"
        read.append(row)
    return tuple(read)


def _module_of(path: str) -> str:
    return path.rstrip("/").removesuffix(".py").replace("/", ".")


def _names(path: str, module: str) -> bool:
    target = _module_of(path)
    return module == target or (path.endswith("/") and module.startswith(target + "."))


def owner(module: str) -> Row | None:
    """The row whose most specific path names ``module``."""
    best: tuple[int, Row] | None = None
    for row in rows():
        for path in row.paths:
            if _names(path, module) and (best is None or len(path) > best[0]):
                best = (len(path), row)
    return best[1] if best else None


def allowed(row: Row, module: str, seen: frozenset[int] = frozenset()) -> bool:
    """May ``row`` import ``module`` (as the table's last column says)?"""
    if row.above:
        target = owner(module)
        return target is not None and target.index < row.index
    for path in row.allows:
        if _names(path, module):
            return True
        if row.below:
            named = owner(_module_of(path))
            if named is not None and named.index not in seen and named is not row \
                    and allowed(named, module, seen | {row.index}):
                return True
    return False


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*OURS)


def test_every_module_has_its_row(graph: grimp.ImportGraph) -> None:
    assert len(rows()) >= 20
    assert sorted(m for m in graph.modules if m not in OURS and owner(m) is None) == []


def test_every_import_is_one_the_table_allows(graph: grimp.ImportGraph) -> None:
    wrong = []
    for module in sorted(graph.modules):
        mine = owner(module)
        if mine is None:
            continue
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            theirs = owner(imported)
            if imported in OURS or theirs is mine:
                continue
            if not allowed(mine, imported):
                may = "everything above" if mine.above else mine.allows or "nothing of ours"
                wrong.append(f"{module} imports {imported} (row {mine.paths[0]} may import {may})")
    assert wrong == []


def test_the_reading_of_the_table_refuses_what_it_should() -> None:
    """The rules above are not vacuous: what the table forbids, they refuse."""
    by = {row.paths[0]: row for row in rows()}
    assert not allowed(by["fxml/env.py"], "fxml.clock")  # nothing of ours
    assert not allowed(by["fxml/card/apdu.py"], "fxml.card.client")  # a row above
    assert allowed(by["fxml/card/"], "fxml.errors")  # the protocol layer's, "and below"
    assert not allowed(by["fxml/card/"], "fxml.http")
    assert not allowed(by["simulator/card/"], "fxml.card.client")  # not named: the engine's client
    assert allowed(by["fxml/agent/"], "fxml.http")  # the renewal engine's, "and below"
    assert not allowed(by["simulator/reporting/"], "simulator.bank")
    assert not allowed(by["simulator/bank/"], "fxml.platform.wizard")  # only the platform's contracts
    assert allowed(by["simulator/demo.py"], "simulator.home") and not allowed(by["simulator/home.py"], "simulator.cli")


def test_every_top_level_module_is_in_a_contract(graph: grimp.ImportGraph) -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    named: set[str] = set()
    for contract in config["contracts"]:
        for entry in [*contract.get("layers", []), *contract.get("source_modules", []),
                      *contract.get("modules", []), *contract.get("ancestors", [])]:
            named.update(part.strip().strip("()") for part in re.split(r"[|:]", entry))
    tops = {".".join(m.split(".")[:2]) for m in graph.modules if m not in OURS}
    missing = sorted(m for m in tops if m not in named)
    assert missing == []
