"""What a bank officer reads: Traditional Chinese, the manual's own Latin words, nothing else.

Everything the report and the living manual show outside their 「技術細節」 parts goes
through :func:`split_technical`: a stretch of ASCII that holds an English word (an error
code, a URL, a command, a file name) is taken out of the sentence and becomes a numbered
note (註1, 註2 ...) that only the collapsed 技術細節 part spells out. Identifiers with
digits (使用者代號 wang2015, 統一編號, SUPER001, a Common Name 63880571-00-2015) are the
customer's data, not English, and stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Final

#: Latin words an officer reads as they are, each for a reason:
#: TWCA, FXML and EOI name the CA, the platform and a system in the manual's own words;
#: PDF is the manual's word for what [列印] gives.
ALLOWED_WORDS: Final = frozenset({"TWCA", "FXML", "EOI", "PDF"})
#: Latin phrases of the manual, to the character: step 3's screen label and the bank's English name.
ALLOWED_PHRASES: Final = ("Common Name", "TAIWAN COOPERATIVE BANK")
#: A certificate's distinguished name as the proof sheet writes it (C=TW O=... CN=...).
DN: Final = re.compile(r"\bC=[A-Z]{2}(?:\s+(?:O|OU|CN|L|ST)=[^=]*?(?=\s+(?:O|OU|CN|L|ST)=|\s*$))+")

_ASCII_RUN = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")
_TOKEN = re.compile(r"[A-Za-z0-9]+")


def is_english_word(token: str) -> bool:
    """A token of two or more letters and no digit that is not one of :data:`ALLOWED_WORDS`."""
    letters = sum(c.isalpha() for c in token)
    return letters >= 2 and not any(c.isdigit() for c in token) and token not in ALLOWED_WORDS


def english_words(text: str) -> list[str]:
    """The English words of ``text`` once the manual's phrases and DNs are set aside."""
    found: list[str] = []
    for run in _ASCII_RUN.findall(text):
        found += [t for t in _TOKEN.findall(_without_allowed(run)) if is_english_word(t)]
    return found


def _without_allowed(run: str) -> str:
    run = DN.sub(" ", run)
    for phrase in ALLOWED_PHRASES:
        run = run.replace(phrase, " ")
    return run


@dataclass(frozen=True)
class Part:
    """A piece of a sentence: plain text, or a technical stretch (which a note stands for)."""

    text: str
    technical: bool = False


def split_technical(text: str) -> list[Part]:
    """``text`` cut into plain parts and technical stretches (ASCII holding an English word)."""
    parts: list[Part] = []
    last = 0
    for match in _ASCII_RUN.finditer(text):
        if english_words(match.group()):
            if match.start() > last:
                parts.append(Part(text[last:match.start()]))
            parts.append(Part(match.group(), technical=True))
            last = match.end()
    if last < len(text):
        parts.append(Part(text[last:]))
    return parts


# -- results ---------------------------------------------------------------------------------------
#: behave's statuses → what the officer reads.
PASSED, FAILED, NOT_RUN = "通過", "失敗", "未執行"
_STATUS: Final = {
    "passed": PASSED, "failed": FAILED, "error": FAILED, "hook_error": FAILED, "cleanup_error": FAILED,
    "undefined": FAILED, "pending": FAILED, "skipped": NOT_RUN, "untested": NOT_RUN,
}


def result_word(status: str | None) -> str:
    """通過, 失敗 or 未執行 for one of behave's statuses (None: not run)."""
    return _STATUS.get(status or "", NOT_RUN)


def duration_text(seconds: float) -> str:
    """``0.8 秒``, ``12.4 秒``, ``2 分 05 秒``, ``1 小時 02 分``."""
    if seconds < 60:
        return f"{seconds:.1f} 秒"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} 分 {whole % 60:02d} 秒"
    return f"{whole // 3600} 小時 {whole % 3600 // 60:02d} 分"


TAIWAN: Final = timezone(timedelta(hours=8))


def roc_datetime(instant: datetime) -> str:
    """``民國112年4月17日 11:13:42`` in Taiwan time, as the features write a moment."""
    local = instant.astimezone(TAIWAN)
    return f"民國{local.year - 1911}年{local.month}月{local.day}日 {local:%H:%M:%S}"


# -- scenario names --------------------------------------------------------------------------------
_OUTLINE_ROW = re.compile(r"^(?P<title>.*?)\s+--\s+@(?P<block>\d+)\.(?P<row>\d+)(?:\s+(?P<examples>.*?))?\s*$")


@dataclass(frozen=True)
class ScenarioName:
    """A scenario's name without behave's ``-- @1.2 examples`` suffix, and where that pointed."""

    title: str
    #: For a row of a scenario outline: the name of its Examples block (may be empty) and the row.
    examples: str | None = None
    row: int | None = None

    @property
    def example_text(self) -> str:
        """``例子「EOI 系統的使用者」第 2 列``, ``例子第 3 列``, or empty for a plain scenario."""
        if self.row is None:
            return ""
        return f"例子「{self.examples}」第 {self.row} 列" if self.examples else f"例子第 {self.row} 列"


def scenario_name(name: str) -> ScenarioName:
    match = _OUTLINE_ROW.match(name)
    if match is None:
        return ScenarioName(name.strip())
    return ScenarioName(match["title"].strip(), (match["examples"] or "").strip(), int(match["row"]))

