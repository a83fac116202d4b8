"""The screenshots of a run of the features and what each one shows: ``reports/screenshots/manifest.json``.

``environment.py`` takes a screenshot after every step of a browser scenario and hands it to a
:class:`Recorder`, which writes the file and one manifest entry tying it to its feature, its
scenario (by location, as behave's JSON report writes it), the step (its index in the scenario's
steps as that report lists them, background first) and the step's words. The report and the
living manual read the manifest; they never guess from file names.

The contract with the step definitions: a step may set ``context.illustrates`` to say that the
screen after it is the manual's screen of

- a step, ``1`` to ``9``, or
- one of the notes after step 7, by its tag: ``"步驟7-個人企業完成"`` (個人網路銀行 or
  企業網路銀行: done after step 7) or ``"EOI繼續步驟8"``.

``before_step`` resets it to None; ``after_step`` records it with the screenshot (:func:`illustration`
refuses anything else, which fails the step's scenario). A step run inside another
(``context.execute_steps``) records its own screenshot, under the outer step's index.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from simulator.errors import SimulatorError
from simulator.procedure import AFTER_STEP_7, MANUAL

MANIFEST: Final = "manifest.json"
VERSION: Final = 1
#: The tags of the two notes after step 7 (the manual's ◎ lines), which ``context.illustrates`` may name.
NOTE_TAGS: Final = tuple(i.tag for i in MANUAL if i.words in AFTER_STEP_7)
#: A browser dialog's kind (Playwright's ``dialog.type``) → its name on the page of the report.
DIALOG_KINDS: Final = {"confirm": "提示訊息", "alert": "訊息視窗", "prompt": "輸入視窗", "beforeunload": "離開頁面提示"}


class IllustrationError(SimulatorError, ValueError):
    """``context.illustrates`` names no screen of the manual."""


def illustration(value: object) -> int | str | None:
    """``value`` if it names a screen of the manual (a step 1-9 or a note's tag), else IllustrationError."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 9:
        return value
    if isinstance(value, str) and value in NOTE_TAGS:
        return value
    raise IllustrationError(
        f"context.illustrates = {value!r}: give a step of the manual (1 to 9) or a note's tag {NOTE_TAGS}")


def _slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^\w]+", "_", text).strip("_")[:limit] or "_"


@dataclass
class Recorder:
    """Writes the screenshots of a run and their manifest (one JSON file, rewritten after each scenario)."""

    folder: Path
    shots: list[dict[str, Any]] = field(default_factory=list)
    scenarios: dict[str, dict[str, Any]] = field(default_factory=dict)
    started: str = ""
    _scenario: dict[str, Any] | None = None
    _depth: int = 0
    _index: int = -1
    _count: int = 0
    _marks: list[int] = field(default_factory=list)

    def begin_run(self) -> None:
        """A clean folder: a run's screenshots are that run's alone."""
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        self.started = datetime.now().astimezone().isoformat(timespec="seconds")
        self.write()

    def begin_scenario(self, feature: str, scenario: str, name: str) -> None:
        """``feature`` and ``scenario`` are behave's locations (``features/x.feature:12``)."""
        self._scenario = {"feature": feature, "scenario": scenario, "name": name,
                          "system": None, "kind": None, "started": _now()}
        self.scenarios[scenario] = self._scenario
        self._depth, self._index, self._count, self._marks = 0, -1, 0, []

    def begin_step(self, dialogs_so_far: int = 0) -> None:
        if self._depth == 0:
            self._index += 1
        self._depth += 1
        self._marks.append(dialogs_so_far)

    def end_step(self, keyword: str, text: str, *, image: bytes | None, illustrates: object = None,
                 dialogs: Sequence[tuple[str, str]] = (), clock: datetime | None = None,
                 suffix: str = ".jpg") -> Path | None:
        """Record the screen after a step (``image`` None: the step showed no page); returns the file."""
        mark = self._marks.pop() if self._marks else 0
        nested = self._depth > 1
        self._depth = max(self._depth - 1, 0)
        shows = illustration(illustrates)
        if image is None or self._scenario is None:
            return None
        self._count += 1
        scenario = self._scenario
        feature_stem = Path(str(scenario["feature"]).rsplit(":", 1)[0]).stem
        line = str(scenario["scenario"]).rsplit(":", 1)[-1]
        name = f"{line.zfill(4)}-{_slug(scenario['name'])}-{self._count:02d}{suffix}"
        relative = Path(_slug(feature_stem, 60)) / name
        path = self.folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(image)
        self.shots.append({
            "file": relative.as_posix(),
            "feature": scenario["feature"],
            "scenario": scenario["scenario"],
            "step": self._index,
            "nested": nested,
            "keyword": keyword,
            "text": text,
            "illustrates": shows,
            "dialogs": [{"type": kind, "message": message} for kind, message in list(dialogs)[mark:]],
            "clock": clock.isoformat() if clock is not None else None,
        })
        return path

    def end_scenario(self, *, system: str | None = None, kind: str | None = None) -> None:
        """The system the scenario's customer logged in to and their 客戶別 (``客戶別 3``), if any."""
        if self._scenario is not None:
            self._scenario.update(system=system, kind=kind, finished=_now())
        self._scenario = None
        self.write()

    def write(self, *, finished: bool = False) -> None:
        data = {"version": VERSION, "started": self.started, "finished": _now() if finished else None,
                "scenarios": self.scenarios, "shots": self.shots}
        tmp = self.folder / f"{MANIFEST}.tmp"
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(self.folder / MANIFEST)


# -- behave's hooks (environment.py calls these; so does the tests' small run of behave) ---------------
def scenario_started(context: Any, scenario: Any) -> None:
    """``before_scenario``: ``context.illustrates`` exists (None) from here on."""
    context.illustrates = None
    context.outer_illustrates = []
    context.recorder.begin_scenario(str(context.feature.location), str(scenario.location), scenario.name)


def step_started(context: Any) -> None:
    """``before_step``: a step starts with ``context.illustrates`` None; a step run inside another
    (``execute_steps``) gives the outer step's value back when it ends."""
    context.outer_illustrates.append(context.illustrates)
    context.illustrates = None
    context.recorder.begin_step(len(getattr(context, "dialogs", None) or ()))


def step_ended(context: Any, step: Any, image: bytes | None, clock: datetime | None,
               suffix: str = ".jpg") -> None:
    """``after_step``: the screen after ``step`` (None: no page) and what the step said it shows."""
    shows, context.illustrates = context.illustrates, context.outer_illustrates.pop()
    context.recorder.end_step(step.keyword, step.name, image=image, illustrates=shows, suffix=suffix,
                              dialogs=getattr(context, "dialogs", None) or (), clock=clock)


def scenario_ended(context: Any) -> None:
    """``after_scenario``: the system the scenario's customer logged in to (``context.system.title``)
    and their 客戶別 (``context.customer.customer_type``), which group the scenario in the report."""
    system = getattr(getattr(context, "system", None), "title", None)
    customer_type = getattr(getattr(context, "customer", None), "customer_type", None)
    context.recorder.end_scenario(system=system, kind=f"客戶別 {customer_type}" if customer_type else None)


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def read(folder: Path) -> dict[str, Any]:
    """The manifest of ``folder`` (an empty one if the run took no screenshot)."""
    path = folder / MANIFEST
    if not path.exists():
        return {"version": VERSION, "started": None, "finished": None, "scenarios": {}, "shots": []}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if data.get("version") != VERSION:
        raise ValueError(f"{path}: manifest version {data.get('version')!r}, expected {VERSION}")
    return data
