"""The manual's parts as the report and the living manual are organised: step 1 to step 7, the two
◎ notes after step 7, step 8 and step 9; and the manual's paths (a system, and for 企業網路銀行 a
客戶別, where step 1 differs) that the golden scenarios (``@操作手冊-…``) run.

A scenario proves a part when it carries one of the part's tags (on itself, its outline, its
Examples block or its feature), as scripts/traceability.py maps them: ``@步驟N`` and the tags of
step N's instructions; a note's own tag for a note.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from simulator.procedure import AFTER_STEP_7, MANUAL, STEPS, SYSTEMS, Instruction
from simulator.reporting.manifest import NOTE_TAGS


@dataclass(frozen=True)
class Section:
    """A step of the manual, or one of its notes after step 7."""

    key: str
    #: ``步驟3``, or for a note who it is for: ``步驟7後說明（EOI用戶）``.
    heading: str
    #: The manual's words, to the character.
    words: str
    #: The instructions the manual's sentence is made of, each with its tag.
    instructions: tuple[Instruction, ...]
    #: The step's number (None for a note).
    step: int | None = None

    @property
    def tags(self) -> frozenset[str]:
        return frozenset(i.tag for i in self.instructions) | ({f"步驟{self.step}"} if self.step else set())

    @property
    def illustrated_by(self) -> int | str:
        """What ``context.illustrates`` says for this part's screen."""
        return self.step if self.step is not None else self.key

    def proves(self, tags: Iterable[str]) -> bool:
        return bool(self.tags & set(tags))


def _step(n: int) -> Section:
    own = tuple(i for i in MANUAL if i.step == n and i.tag not in NOTE_TAGS)
    return Section(f"步驟{n}", f"步驟{n}", STEPS[n], own, n)


def _note(tag: str, who: str) -> Section:
    instruction = next(i for i in MANUAL if i.tag == tag)
    return Section(tag, f"步驟7後說明（{who}）", instruction.words, (instruction,))


NOTE_DONE, NOTE_EOI = NOTE_TAGS
#: The manual's parts in its order.
SECTIONS: Final[tuple[Section, ...]] = (
    *(_step(n) for n in range(1, 8)),
    _note(NOTE_DONE, "個人網路銀行或企業網路銀行用戶"), _note(NOTE_EOI, "EOI用戶"),
    _step(8), _step(9),
)
BY_KEY: Final = {s.key: s for s in SECTIONS}
assert tuple(BY_KEY[t].words for t in NOTE_TAGS) == AFTER_STEP_7


# -- the manual's paths ----------------------------------------------------------------------------
#: The tag of every golden scenario (on the scenario or its outline).
GOLDEN_TAG: Final = "操作手冊"
#: The tag of the features of screens the manual does not show (憑證查詢, 憑證載具密碼變更, 憑證暫禁 ...):
#: the report gives them a part of their own, 操作手冊以外的功能.
BEYOND_TAG: Final = "操作手冊以外"


@dataclass(frozen=True)
class ManualPath:
    """One way through the manual: a system, and for 企業網路銀行 its 客戶別."""

    tag: str
    system: str
    kind: str | None
    #: The parts this path's document must illustrate with a golden screenshot.
    required: tuple[str, ...]

    @property
    def title(self) -> str:
        """``企業網路銀行（客戶別 3）``."""
        return f"{self.system}（{self.kind}）" if self.kind else self.system

    @property
    def menu_instruction(self) -> Instruction:
        """Step 1's line of this path's system (◎…：點選「…」>「…」。)."""
        return next(i for i in MANUAL if i.tag == f"步驟1-{self.system.replace(' ', '')}")

    @property
    def kind_instruction(self) -> Instruction | None:
        """Step 1's note of this path's 客戶別, if any (* 客戶別 3：…)."""
        if self.kind is None:
            return None
        return next(i for i in MANUAL if i.tag == f"步驟1-{self.kind.replace(' ', '')}")

    @property
    def is_eoi(self) -> bool:
        return "步驟8" in self.required

    def applies(self, section: Section) -> bool:
        """Whether the manual's part is for this path: the EOI note and steps 8 and 9 are for EOI's
        customers alone, the note that step 7 ends the renewal for the others alone."""
        if section.key in EOI_ONLY:
            return self.is_eoi
        if section.key in ONLINE_ONLY:
            return not self.is_eoi
        return True

    def step1_tags(self) -> frozenset[str]:
        """The tags of step 1's instructions that concern this path."""
        own = {"步驟1", self.menu_instruction.tag}
        if self.kind_instruction is not None:
            own.add(self.kind_instruction.tag)
        return frozenset(own)


EOI_ONLY: Final = (NOTE_EOI, "步驟8", "步驟9")
ONLINE_ONLY: Final = (NOTE_DONE,)
_ONLINE: Final = (*(f"步驟{n}" for n in range(1, 8)), NOTE_DONE)
_personal, _corporate, _eoi = (s.name for s in SYSTEMS)
PATHS: Final[tuple[ManualPath, ...]] = (
    ManualPath("操作手冊-個人網路銀行", _personal, None, _ONLINE),
    *(ManualPath(f"操作手冊-企業網路銀行-客戶別{n}", _corporate, f"客戶別 {n}", _ONLINE) for n in (2, 3, 4)),
    ManualPath("操作手冊-EOI系統", _eoi, None, (*(f"步驟{n}" for n in range(1, 8)), "步驟8", "步驟9")),
)
PATH_TAGS: Final = frozenset(p.tag for p in PATHS)


def step1_foreign_tags(path: ManualPath) -> frozenset[str]:
    """Step 1's instruction tags of the other paths (a scenario carrying one is not this path's)."""
    step1 = {i.tag for i in MANUAL if i.step == 1} - {"步驟1"}
    return frozenset(step1 - path.step1_tags())
