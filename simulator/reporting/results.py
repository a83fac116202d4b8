"""A run of the features as the report and the living manual read it: behave's JSON report
(``reports/features.json``) and the screenshots' manifest (``reports/screenshots/manifest.json``),
joined by the scenario's location and the step's index."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from simulator.reporting import manifest
from simulator.reporting.words import FAILED, NOT_RUN, PASSED, ScenarioName, result_word, scenario_name


@dataclass(frozen=True)
class Dialog:
    kind: str
    message: str

    @property
    def label(self) -> str:
        return manifest.DIALOG_KINDS.get(self.kind, "訊息視窗")


@dataclass(frozen=True)
class Shot:
    """A screenshot after a step (or after a step that step ran)."""

    path: Path
    step: int
    keyword: str
    text: str
    nested: bool
    illustrates: int | str | None
    dialogs: tuple[Dialog, ...]
    clock: datetime | None


@dataclass
class Step:
    keyword: str
    text: str
    status: str | None
    duration: float
    location: str
    definition: str | None
    error: str = ""
    table: tuple[tuple[str, ...], tuple[tuple[str, ...], ...]] | None = None
    doc: str | None = None
    shots: list[Shot] = field(default_factory=list)

    @property
    def result(self) -> str:
        return result_word(self.status)


@dataclass
class Scenario:
    feature: Feature
    name: str
    location: str
    keyword: str
    tags: frozenset[str]
    status: str | None
    steps: list[Step]
    system: str | None = None
    kind: str | None = None

    @property
    def title(self) -> ScenarioName:
        return scenario_name(self.name)

    @property
    def result(self) -> str:
        return result_word(self.status)

    @property
    def duration(self) -> float:
        return sum(step.duration for step in self.steps)

    @property
    def shots(self) -> list[Shot]:
        return [shot for step in self.steps for shot in step.shots]

    @property
    def failed_step(self) -> Step | None:
        return next((s for s in self.steps if s.result == FAILED), None)

    @property
    def group(self) -> str:
        """The system and 客戶別 the scenario's customer logged in to: ``企業網路銀行 客戶別 3``."""
        if self.system is None:
            return ""
        return f"{self.system} {self.kind}" if self.kind else self.system


@dataclass
class Feature:
    name: str
    location: str
    tags: frozenset[str]
    description: tuple[str, ...]
    scenarios: list[Scenario] = field(default_factory=list)


@dataclass
class Run:
    features: list[Feature]
    #: When the run started and ended (the machine's clock), from the manifest.
    started: datetime | None
    finished: datetime | None
    #: behave's JSON was cut short (behave stopped before it closed the report).
    truncated: bool = False
    #: The screenshots of the manifest that match no step of the JSON report.
    orphans: list[Shot] = field(default_factory=list)

    @property
    def scenarios(self) -> list[Scenario]:
        return [s for f in self.features for s in f.scenarios]

    def counts(self) -> dict[str, int]:
        words = [s.result for s in self.scenarios]
        return {PASSED: words.count(PASSED), FAILED: words.count(FAILED), NOT_RUN: words.count(NOT_RUN)}

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.scenarios)

    def by_location(self) -> dict[str, Scenario]:
        return {s.location: s for s in self.scenarios}


def _json_report(path: Path) -> tuple[list[dict[str, Any]], bool]:
    """behave's JSON; a report behave could not close (it writes one feature at a time) is read up to there."""
    if not path.exists():
        return [], False
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        return [], True
    try:
        return json.loads(text), False
    except json.JSONDecodeError:
        for end in ("]", "\n]"):
            try:
                return json.loads(text.rstrip(",\n ") + end), True
            except json.JSONDecodeError:
                continue
        raise


def _lines(value: object) -> str:
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return "" if value is None else str(value)


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def load(results: Path, screenshots: Path) -> Run:
    """The run of ``results`` (behave's JSON) with the screenshots of ``screenshots`` (its manifest)."""
    data, truncated = _json_report(results)
    shots_of = manifest.read(screenshots)
    features: list[Feature] = []
    for item in data:
        feature = Feature(str(item.get("name", "")), str(item.get("location", "")),
                          frozenset(item.get("tags") or ()), tuple(item.get("description") or ()))
        for element in item.get("elements") or ():
            if element.get("type") not in ("scenario", "scenario_outline"):
                continue  # the background: its steps are in every scenario's
            steps = [_step(raw) for raw in element.get("steps") or ()]
            info = shots_of["scenarios"].get(str(element.get("location")), {})
            feature.scenarios.append(Scenario(
                feature, str(element.get("name", "")), str(element.get("location", "")),
                str(element.get("keyword", "")), feature.tags | frozenset(element.get("tags") or ()),
                element.get("status"), steps, info.get("system"), info.get("kind")))
        features.append(feature)
    run = Run(features, _time(shots_of.get("started")), _time(shots_of.get("finished")), truncated)
    scenarios = run.by_location()
    for raw in shots_of["shots"]:
        shot = Shot(screenshots / str(raw["file"]), int(raw["step"]), str(raw.get("keyword", "")),
                    str(raw.get("text", "")), bool(raw.get("nested")), raw.get("illustrates"),
                    tuple(Dialog(str(d["type"]), str(d["message"])) for d in raw.get("dialogs") or ()),
                    _time(raw.get("clock")))
        scenario = scenarios.get(str(raw["scenario"]))
        if scenario is None or not 0 <= shot.step < len(scenario.steps):
            run.orphans.append(shot)
            continue
        scenario.steps[shot.step].shots.append(shot)
    return run


def _step(raw: dict[str, Any]) -> Step:
    result = raw.get("result") or {}
    table = raw.get("table")
    return Step(
        str(raw.get("keyword", "")), str(raw.get("name", "")), result.get("status"),
        float(result.get("duration") or 0.0), str(raw.get("location", "")),
        (raw.get("match") or {}).get("location") or None, _lines(result.get("error_message")),
        (tuple(table["headings"]), tuple(tuple(r) for r in table["rows"])) if table else None,
        _lines(raw["text"]) if "text" in raw else None,
    )
