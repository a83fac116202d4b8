"""The features' report for the bank's staff: one self-contained HTML file and its PDF.

Organised as the manual is (step 1 to step 9 and the two notes after step 7): each part quotes
the manual's sentence, then the scenarios that prove it, by system and 客戶別, with their result
and duration, each step with the screenshot after it. A failed step's message and screenshot come
first. Entirely in Traditional Chinese; codes, tags and file locations only in the collapsed
「技術細節」 parts (the PDF leaves those out).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from markupsafe import Markup

from simulator.procedure import TITLE
from simulator.reporting.images import Picture, Pictures
from simulator.reporting.render import Notes, render, write_pdf
from simulator.reporting.results import Run, Scenario, Shot, Step, load
from simulator.reporting.sections import BEYOND_TAG, SECTIONS, Section
from simulator.reporting.words import FAILED, NOT_RUN, PASSED, TAIWAN, duration_text, english_words, roc_datetime

REPORT_TITLE = f"{TITLE} 行為規格報告"
#: behave's prefix of an assertion's message.
_ASSERTION = re.compile(r"^(?:ASSERT FAILED|Assertion Failed):\s*")
#: The order of the groups inside a part: the manual's systems, 客戶別 in order, then the rest.
_GROUP_ORDER = ("個人網路銀行", "企業網路銀行", "EOI 系統")
NO_LOGIN = "不經客戶登入"
#: The part of the scenarios of screens the manual does not show (tagged @操作手冊以外): after the
#: manual's parts, before 其他.
BEYOND = Section("beyond", "操作手冊以外的功能",
                 "操作手冊未附這些功能的畫面：以下畫面依操作手冊所附畫面的樣式（頁首、左方選單、查詢日期與查詢時間、頁尾）製作，"
                 "不是操作手冊的步驟", ())


@dataclass
class ShotView:
    picture: Picture | None
    caption: Markup
    dialogs: list[tuple[str, Markup]]
    path: Path
    nested: bool
    #: The same picture as the scenario's screenshot before it (the PDF says so instead of repeating it).
    same_as_before: bool = False


@dataclass
class StepView:
    keyword: str
    text: Markup
    result: str
    duration: str
    table: tuple[list[Markup], list[list[Markup]]] | None
    doc: Markup | None
    shots: list[ShotView]
    error: Markup | None
    raw_error: str
    definition: str


@dataclass
class ScenarioView:
    anchor: str
    scenario: Scenario
    title: Markup
    example: Markup
    feature: Markup
    result: str
    duration: str
    steps: list[StepView]
    notes: Notes
    #: The part whose page shows this scenario's steps (the first part it proves), and its heading.
    home: str | None = None
    home_heading: str = ""


@dataclass
class Group:
    label: str
    scenarios: list[ScenarioView]


@dataclass
class PartView:
    section: Section
    anchor: str
    groups: list[Group]
    #: For steps 1 and 9, made of several instructions: each instruction and how many scenarios prove it.
    instructions: list[tuple[str, int]]

    @property
    def scenarios(self) -> list[ScenarioView]:
        return [s for g in self.groups for s in g.scenarios]

    def count(self, word: str) -> int:
        return sum(s.result == word for s in self.scenarios)


@dataclass
class Failure:
    view: ScenarioView
    step: StepView | None
    #: The screen after the failed step (or the last one before it): shown wide, from the page's store.
    picture: Picture | None
    caption: Markup


@dataclass
class FeatureView:
    """A feature file as the officer reads it: its name and its description."""

    anchor: str
    name: Markup
    description: list[Markup]
    scenarios: int
    notes: Notes
    location: str


@dataclass
class ReportModel:
    title: str
    run: Run
    parts: list[PartView]
    unmapped: PartView | None
    failures: list[Failure]
    pictures: Pictures
    counts: dict[str, int]
    generated: str
    steps_total: int
    shots_total: int
    views: list[ScenarioView] = field(default_factory=list)
    features: list[FeatureView] = field(default_factory=list)
    #: The scenarios of screens the manual does not show (tagged @操作手冊以外), by feature.
    beyond: PartView | None = None

    @property
    def extra_parts(self) -> list[PartView]:
        """The parts after the manual's: 操作手冊以外的功能, then 其他."""
        return [p for p in (self.beyond, self.unmapped) if p is not None]


def group_key(label: str) -> tuple[int, str]:
    for rank, system in enumerate(_GROUP_ORDER):
        if label.startswith(system):
            return rank, label
    return (len(_GROUP_ORDER) + (label == NO_LOGIN), label)


def _officer_error(step: Step, notes: Notes) -> Markup | None:
    if step.result != FAILED:
        return None
    if step.status == "undefined":
        return Markup("此步驟尚無對應的程式，未能執行。")
    message = step.error.strip()
    if _ASSERTION.match(message):
        said = _ASSERTION.sub("", message).strip()
        first = said.splitlines()[0] if said else ""
        if first and "Traceback" not in said and len(english_words(first)) <= 3:
            return notes.officer(first)
    return Markup("執行此步驟時發生錯誤，畫面或資料未如預期（原始訊息見技術細節）。")


def _shot_view(shot: Shot, pictures: Pictures, notes: Notes) -> ShotView:
    picture = pictures.add(shot.path)
    prefix = "其中一步：" if shot.nested else ""
    caption = Markup("畫面：{}{}").format(prefix, notes.officer(f"{shot.keyword} {shot.text}"))
    dialogs = [(d.label, notes.officer(d.message)) for d in shot.dialogs]
    return ShotView(picture, caption, dialogs, shot.path, shot.nested)


def _view(index: int, scenario: Scenario, pictures: Pictures) -> ScenarioView:
    notes = Notes()
    name = scenario.title
    steps = []
    for step in scenario.steps:
        table = None
        if step.table is not None:
            heads, rows = step.table
            table = ([notes.officer(h) for h in heads], [[notes.officer(c) for c in row] for row in rows])
        steps.append(StepView(
            step.keyword, notes.officer(step.text), step.result,
            duration_text(step.duration) if step.status else "",
            table, notes.officer(step.doc) if step.doc else None,
            [_shot_view(shot, pictures, notes) for shot in step.shots],
            _officer_error(step, notes), step.error, step.definition or "",
        ))
    before = None
    for view in (shot for step in steps for shot in step.shots):
        view.same_as_before = view.picture is not None and view.picture is before
        before = view.picture
    return ScenarioView(
        f"s{index}", scenario, notes.officer(name.title), notes.officer(name.example_text),
        notes.officer(scenario.feature.name), scenario.result, duration_text(scenario.duration), steps, notes,
    )


def _groups(views: list[ScenarioView]) -> list[Group]:
    by: dict[str, list[ScenarioView]] = {}
    for view in views:
        by.setdefault(view.scenario.group or NO_LOGIN, []).append(view)
    return [Group(label, by[label]) for label in sorted(by, key=group_key)]


def _by_feature(views: list[ScenarioView]) -> list[Group]:
    """The scenarios of screens beyond the manual, by their feature (the function: 憑證查詢 ...), in the run's order."""
    by: dict[str, list[ScenarioView]] = {}
    for view in views:
        by.setdefault(view.feature, []).append(view)
    return [Group(label, found) for label, found in by.items()]


def _extra_part(section: Section, views: list[ScenarioView], groups: list[Group]) -> PartView | None:
    if not views:
        return None
    for view in views:
        view.home, view.home_heading = section.key, section.heading
    return PartView(section, f"part-{section.key}", groups, [])


def _failure(view: ScenarioView) -> Failure:
    failed = next((s for s in view.steps if s.result == FAILED), None)
    shots = [shot for s in view.steps[: view.steps.index(failed) + 1] for shot in s.shots] if failed else []
    picture = shots[-1].picture if shots else None
    caption = shots[-1].caption if shots else Markup("此步驟沒有畫面。")
    return Failure(view, failed, picture, caption)


def build(run: Run) -> ReportModel:
    pictures = Pictures()
    views = [_view(i, s, pictures) for i, s in enumerate(run.scenarios, 1)]
    parts: list[PartView] = []
    placed: set[str] = set()
    for section in SECTIONS:
        mine = [v for v in views if section.proves(v.scenario.tags)]
        for view in mine:
            if view.home is None:
                view.home, view.home_heading = section.key, section.heading
        placed |= {v.anchor for v in mine}
        instructions = []
        if len(section.instructions) > 1:  # steps 1 and 9: each instruction, but the step's own sentence
            instructions = [(i.words, sum(i.tag in v.scenario.tags for v in views))
                            for i in section.instructions if i.words != section.words]
        parts.append(PartView(section, f"part-{section.key}", _groups(mine), instructions))
    beyond = [v for v in views if v.anchor not in placed and BEYOND_TAG in v.scenario.tags]
    rest = [v for v in views if v.anchor not in placed and BEYOND_TAG not in v.scenario.tags]
    other = Section("other", "其他", "未對應操作手冊步驟的場景", ())
    unmapped = _extra_part(other, rest, _groups(rest))
    failures = [_failure(v) for v in views if v.result == FAILED]
    features = []
    for index, feature in enumerate(run.features, 1):
        notes = Notes()
        features.append(FeatureView(f"f{index}", notes.officer(feature.name),
                                    [notes.officer(line) for line in feature.description],
                                    len(feature.scenarios), notes, feature.location))
    return ReportModel(
        REPORT_TITLE, run, parts, unmapped, failures, pictures, run.counts(), roc_datetime(datetime.now(TAIWAN)),
        sum(len(s.steps) for s in run.scenarios), sum(len(s.shots) for s in run.scenarios), views, features,
        _extra_part(BEYOND, beyond, _by_feature(beyond)),
    )


def render_report(model: ReportModel, *, pdf: bool = False) -> str:
    return render("report.html.j2", m=model, pdf=pdf, PASSED=PASSED, FAILED=FAILED, NOT_RUN=NOT_RUN,
                  duration_text=duration_text, roc_datetime=roc_datetime)


@dataclass
class Written:
    html: Path
    pdf: Path | None
    seconds: float
    scenarios: int
    shots: int


def write_report(results: Path, screenshots: Path, html: Path, pdf: Path | None) -> Written:
    """Write the report of the run of ``results`` (behave's JSON) and ``screenshots`` (the manifest)."""
    started = time.monotonic()
    run = load(results, screenshots)
    model = build(run)
    html.parent.mkdir(parents=True, exist_ok=True)
    html.write_text(render_report(model), encoding="utf-8")
    if pdf is not None:
        write_pdf(render_report(model, pdf=True), pdf)
    return Written(html, pdf, time.monotonic() - started, len(run.scenarios), model.shots_total)
