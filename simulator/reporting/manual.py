"""The living manual: the bank's procedure regenerated from the last run, one document (HTML and
PDF) per path through it (個人網路銀行; 企業網路銀行 客戶別 2, 3, 4; EOI 系統).

Each document has the manual's parts in its words and order; each part that concerns the path
shows the screen the golden run (the scenarios tagged ``@操作手冊`` and the path's
``@操作手冊-…``) recorded for it (``context.illustrates``, see manifest.py), marks the screens
the manual does not show and compares the times on those it does, and lists beside it the
scenarios that verify the part with their last result. A part that should have a golden screen
and has none is said plainly in the document, and :func:`write_manual` returns it as a problem
(``fxmlsim manual`` then exits 1, which fails CI).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from markupsafe import Markup

from simulator.procedure import ENTRY_LABEL, GOLDEN, MANUAL, SCREENS, TITLE
from simulator.reporting.images import full_uri
from simulator.reporting.render import Notes, render, write_pdf
from simulator.reporting.results import Run, Scenario, Shot, load
from simulator.reporting.sections import (
    GOLDEN_TAG,
    PATH_TAGS,
    PATHS,
    SECTIONS,
    ManualPath,
    Section,
    step1_foreign_tags,
)
from simulator.reporting.words import FAILED, PASSED, TAIWAN, duration_text, result_word, roc_datetime

INDEX = "index.html"


@dataclass(frozen=True)
class Problem:
    """Why a document is not complete: in the officer's words, and how a developer mends it."""

    text: str
    hint: str = ""

    def __str__(self) -> str:
        return f"{self.text}（{self.hint}）" if self.hint else self.text


@dataclass
class Row:
    """A scenario beside a part: its result, name and how long it took."""

    result: str
    title: Markup
    example: Markup
    group: str
    duration: str
    anchor: str


@dataclass
class Figure:
    uri: str | None
    caption: Markup
    dialogs: list[tuple[str, Markup]]
    marks: list[tuple[str, str]]


@dataclass
class Item:
    section: Section
    applies: bool
    required: bool
    #: Step 1's ways in (the manual's lines), this path's marked.
    entry: list[tuple[str, bool]]
    figures: list[Figure]
    #: What the manual's own screenshot of this part shows, or None if it has none.
    manual_screen: list[str] | None
    verify: list[tuple[str, list[Row]]]
    #: The scenarios of the other systems and 客戶別 that verify the part too: how many, how many failed.
    others: tuple[int, int] = (0, 0)

    @property
    def missing(self) -> bool:
        return self.applies and self.required and not self.figures


@dataclass
class Document:
    path: ManualPath
    file: str
    items: list[Item]
    golden: list[Row]
    problems: list[Problem]
    notes: Notes
    golden_locations: list[str]

    @property
    def missing(self) -> list[Item]:
        return [i for i in self.items if i.missing]


def _row(scenario: Scenario, anchors: dict[str, str], notes: Notes) -> Row:
    name = scenario.title
    return Row(result_word(scenario.status), notes.officer(name.title), notes.officer(name.example_text),
               scenario.group, duration_text(scenario.duration), anchors.get(scenario.location, ""))


def _marks(section: Section, shot: Shot, first: bool) -> tuple[list[tuple[str, str]], str | None]:
    """The marks on a golden screen, and a problem if its time is not the manual's."""
    screen = SCREENS.get(section.step or 0)
    if screen is None:
        return [("sim", "操作手冊此步驟未附畫面；此為模擬環境的畫面")], None
    if not first:
        return [("sim", "操作手冊未附此畫面；此為模擬環境的畫面")], None
    if shot.clock is None:
        return [], None
    local = shot.clock.astimezone(TAIWAN)
    shown_date = f"{local.year - 1911:03d}/{local:%m/%d}"
    want_date = screen.query_date or str(GOLDEN["date"])
    if screen.query_time is None:
        if shown_date == want_date:
            return [("same", f"與操作手冊畫面同一天：{want_date}")], None
        return [("diff", f"日期與操作手冊不同：操作手冊 {want_date}，模擬畫面 {shown_date}")], \
            f"日期為 {shown_date}，操作手冊為 {want_date}"
    shown = f"{shown_date} {local:%H:%M:%S}"
    want = f"{want_date} {screen.query_time}"
    if shown == want:
        return [("same", f"與操作手冊畫面的查詢日期、查詢時間相同：{want}")], None
    mark = ("diff", f"時間與操作手冊不同：操作手冊 {want}，模擬畫面 {shown}")
    return [mark], f"畫面時間為 {shown}，操作手冊為 {want}"


def _manual_screen(section: Section) -> list[str] | None:
    screen = SCREENS.get(section.step or 0)
    if screen is None:
        return None
    said = [f"標題「{screen.title}」"]
    if screen.query_time:
        said.append(f"查詢日期 {screen.query_date}、查詢時間 {screen.query_time}")
    if section.step == 9:
        proof = GOLDEN["proof"]
        assert isinstance(proof, dict)
        said += [f"{label} {proof[label]}" for label in ("憑證生效日", "憑證到期日", "憑證狀態")]
    return said


def on_path(scenario: Scenario, path: ManualPath) -> bool:
    """Whether the scenario's customer logged in to this path's system (and 客戶別), or to none."""
    if scenario.system is None:
        return True
    if scenario.system != path.system:
        return False
    return path.kind is None or scenario.kind is None or scenario.kind == path.kind


def _verify(section: Section, path: ManualPath, run: Run, anchors: dict[str, str],
            notes: Notes) -> tuple[list[tuple[str, list[Row]]], tuple[int, int]]:
    """The scenarios of this path that verify ``section``: under each instruction of the part they
    carry the tag of, else under the part's whole sentence (step 1 leaves out the ones tagged for
    another path's way in); and the count of the others, and of those that failed."""
    foreign = step1_foreign_tags(path) if section.step == 1 else frozenset()
    whole = f"步驟{section.step}" if section.step else None
    specific = [i for i in section.instructions if i.tag != whole and i.tag not in foreign]
    lists: dict[str, list[Row]] = {section.words: []}
    lists.update({i.words: [] for i in specific})
    others = failed = 0
    for scenario in run.scenarios:
        if not section.proves(scenario.tags):
            continue
        if scenario.tags & foreign or not on_path(scenario, path):
            others += 1
            failed += scenario.result == FAILED
            continue
        carried = [i.words for i in specific if i.tag in scenario.tags] or [section.words]
        for words in carried:
            lists[words].append(_row(scenario, anchors, notes))
    return [(words, rows) for words, rows in lists.items() if rows or words != section.words], (others, failed)


def _figures(section: Section, golden: list[Scenario], notes: Notes) -> tuple[list[Figure], list[Problem]]:
    figures: list[Figure] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for scenario in golden:
        for shot in scenario.shots:
            if shot.illustrates != section.illustrated_by:
                continue
            uri = full_uri(shot.path)
            digest = hashlib.sha256(uri.encode()).hexdigest() if uri else str(shot.path)
            if digest in seen:
                continue
            seen.add(digest)
            marks, problem = _marks(section, shot, not figures)
            if problem:
                problems.append(Problem(f"「{section.heading}」的{problem}", str(shot.path.name)))
            caption = Markup("模擬環境畫面：{}").format(notes.officer(f"{shot.keyword} {shot.text}"))
            if shot.clock is not None:
                caption += Markup("（畫面時間 {}）").format(roc_datetime(shot.clock))
            dialogs = [(d.label, notes.officer(d.message)) for d in shot.dialogs]
            figures.append(Figure(uri, caption, dialogs, marks))
            if uri is None:
                problems.append(Problem(f"「{section.heading}」的畫面檔案不存在", str(shot.path)))
    return figures, problems


def build_document(path: ManualPath, run: Run, anchors: dict[str, str]) -> Document:
    notes = Notes()
    golden = [s for s in run.scenarios if GOLDEN_TAG in s.tags and path.tag in s.tags]
    problems: list[Problem] = []
    if not golden:
        problems.append(Problem("沒有此路徑的黃金場景", f"tag a scenario @{GOLDEN_TAG} @{path.tag}"))
    for scenario in golden:
        if scenario.result != PASSED:
            problems.append(Problem(f"黃金場景「{scenario.title.title}」最近一次的結果為{scenario.result}",
                                    scenario.location))
    entry = [(i.words, i.tag in path.step1_tags()) for i in MANUAL if i.step == 1 and i.tag != "步驟1"]
    items = []
    for section in SECTIONS:
        applies = path.applies(section)
        figures, trouble = _figures(section, golden, notes) if applies else ([], [])
        problems += trouble
        verify, others = _verify(section, path, run, anchors, notes) if applies else ([], (0, 0))
        item = Item(section, applies, section.key in path.required, entry if section.step == 1 else [],
                    figures, _manual_screen(section), verify, others)
        if item.missing and golden:  # no golden scenario at all is said once, above
            problems.append(Problem(
                f"沒有「{section.heading}」的黃金畫面",
                f"a step of a scenario tagged @{GOLDEN_TAG} @{path.tag} sets "
                f"context.illustrates = {section.illustrated_by!r}"))
        items.append(item)
    return Document(path, f"{path.tag}.html", items, [_row(s, anchors, notes) for s in golden],
                    problems, notes, [s.location for s in golden])


def stray_tags(run: Run) -> list[Problem]:
    """Golden-path tags that name no path, and path tags without ``@操作手冊``."""
    said = []
    for scenario in run.scenarios:
        for tag in sorted(scenario.tags):
            if tag.startswith(f"{GOLDEN_TAG}-") and tag not in PATH_TAGS:
                said.append(Problem(f"場景「{scenario.title.title}」標示的操作手冊路徑不存在",
                                    f"@{tag} at {scenario.location}: one of {sorted(PATH_TAGS)}"))
        if scenario.tags & PATH_TAGS and GOLDEN_TAG not in scenario.tags:
            said.append(Problem(f"場景「{scenario.title.title}」標示了操作手冊路徑，卻未標示為黃金場景",
                                f"add @{GOLDEN_TAG} at {scenario.location}"))
    return said


@dataclass
class WrittenManual:
    folder: Path
    documents: list[Document]
    problems: list[str]
    seconds: float
    files: list[Path] = field(default_factory=list)


def render_document(document: Document, run: Run, *, pdf: bool = False) -> str:
    return render("manual.html.j2", d=document, run=run, pdf=pdf, TITLE=TITLE, ENTRY_LABEL=ENTRY_LABEL,
                  generated=roc_datetime(datetime.now(TAIWAN)), PASSED=PASSED, FAILED=FAILED,
                  roc_datetime=roc_datetime, report_link="../features.html")


def write_manual(results: Path, screenshots: Path, folder: Path, *, pdf: bool = True) -> WrittenManual:
    """Write every path's document and an index into ``folder``; the problems, in zh-TW."""
    started = time.monotonic()
    run = load(results, screenshots)
    anchors = {s.location: f"s{i}" for i, s in enumerate(run.scenarios, 1)}
    folder.mkdir(parents=True, exist_ok=True)
    documents = [build_document(path, run, anchors) for path in PATHS]
    stray = stray_tags(run)
    problems = [str(p) for p in stray] + [f"{d.path.title}：{p}" for d in documents for p in d.problems]
    written = WrittenManual(folder, documents, problems, 0.0)
    for document in documents:
        target = folder / document.file
        target.write_text(render_document(document, run), encoding="utf-8")
        written.files.append(target)
        if pdf:
            write_pdf(render_document(document, run, pdf=True), target.with_suffix(".pdf"))
            written.files.append(target.with_suffix(".pdf"))
    index = folder / INDEX
    index.write_text(render("manual_index.html.j2", documents=documents, stray=stray, run=run, TITLE=TITLE,
                            pdf=pdf, generated=roc_datetime(datetime.now(TAIWAN)), roc_datetime=roc_datetime),
                     encoding="utf-8")
    written.files.append(index)
    written.seconds = time.monotonic() - started
    return written
