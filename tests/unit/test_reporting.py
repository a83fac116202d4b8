"""The report and the living manual (simulator/reporting), rendered from a small real run of behave
(tests/support/reporting.py): what a bank officer reads is Traditional Chinese with the manual's
own Latin words only, every screenshot is in the page, failures come first, scenarios sit under the
manual's sentences, and a path without its golden screens is said and fails."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest

from simulator import cli
from simulator.procedure import STEPS
from simulator.reporting import manifest
from simulator.reporting.manual import write_manual
from simulator.reporting.report import write_report
from simulator.reporting.results import load
from simulator.reporting.words import duration_text, english_words, scenario_name, split_technical
from tests.support.reporting import DN, FixtureRun, behave_run

# -- what an officer sees -----------------------------------------------------------------------
#: The Latin words an officer may read, and why: the manual's own (TWCA, FXML, EOI, and PDF for
#: what [列印] gives); step 3's screen label "Common Name"; the DN on the proof sheet (its values
#: are the fixture's, spelled out here rather than matched by the code's own pattern).
ALLOWED_WORDS = {"TWCA", "FXML", "EOI", "PDF"}
ALLOWED_PHRASES = (DN, "Common Name")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Visible(HTMLParser):
    """The text a reader sees without opening a 技術細節 part: no script, no style, no body of a
    collapsed technical part (its summary shows), plus the alt texts the viewer shows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool, bool]] = []  # tag, hidden itself, its content hidden
        self.parts: list[str] = []
        self.hidden_parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        inside = self.stack[-1][2] if self.stack else False
        if tag == "img" and named.get("alt"):
            (self.hidden_parts if inside else self.parts).append(str(named["alt"]))
        if tag in VOID:
            return
        if tag in ("script", "style"):
            self.stack.append((tag, True, True))
        elif tag == "details" and "tech" in (named.get("class") or "").split():
            self.stack.append((tag, inside, True))
        elif tag == "summary" and self.stack and self.stack[-1][0] == "details":
            shown = self.stack[-1][1]  # a summary shows as its details does
            self.stack.append((tag, shown, shown))
        else:
            self.stack.append((tag, inside, inside))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        hidden = self.stack[-1][2] if self.stack else False
        (self.hidden_parts if hidden else self.parts).append(data)


def visible(html: str) -> tuple[str, str]:
    """What shows, and what only the 技術細節 parts (and scripts) hold."""
    parser = Visible()
    parser.feed(html)
    return " ".join(parser.parts), " ".join(parser.hidden_parts)


def latin_words(text: str) -> list[str]:
    """English words in ``text``: runs of two or more letters without a digit (identifiers such as
    wang2015 or 63880571-00-2015 are data), outside the allowed words and phrases."""
    # A PDF's text wraps inside a table's cell, and drops a hyphen where it wraps.
    text = " ".join(text.split()).replace("-", "")
    for phrase in ALLOWED_PHRASES:
        text = text.replace(phrase.replace("-", ""), " ")
    tokens = re.findall(r"[A-Za-z0-9]+", text)
    return [t for t in tokens if len(re.findall(r"[A-Za-z]", t)) >= 2 and not re.search(r"\d", t)
            and t not in ALLOWED_WORDS]


# -- the run ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fixture_run(tmp_path_factory: pytest.TempPathFactory) -> FixtureRun:
    return behave_run(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def report(fixture_run: FixtureRun) -> str:
    html = fixture_run.folder / "reports" / "features.html"
    write_report(fixture_run.results, fixture_run.screenshots, html, html.with_suffix(".pdf"))
    return html.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def manual(fixture_run: FixtureRun) -> Path:
    folder = fixture_run.folder / "reports" / "manual"
    write_manual(fixture_run.results, fixture_run.screenshots, folder, pdf=True)
    return folder


def shots(run: FixtureRun) -> list[dict[str, object]]:
    data = json.loads((run.screenshots / "manifest.json").read_text(encoding="utf-8"))
    found: list[dict[str, object]] = data["shots"]
    return found


def _group(pattern: str, text: str) -> str:
    found = re.search(pattern, text, re.S)
    assert found is not None, pattern
    return found[1]


def section(html: str, anchor: str) -> str:
    start = html.index(f'id="{anchor}"')
    end = html.find('<section class="part"', start + 1)
    return html[start:end if end > 0 else len(html)]


# -- the report ---------------------------------------------------------------------------------
def test_the_report_shows_no_english_outside_its_technical_parts(report: str) -> None:
    shown, _ = visible(report)
    assert "步驟3、[插入憑證載具]→[輸入憑證載具密碼]→[確定]。" in shown
    assert latin_words(shown) == []
    assert "技術細節" in shown  # the parts are there, collapsed


def test_no_tag_no_file_and_no_code_outside_the_technical_parts(report: str) -> None:
    shown, hidden = visible(report)
    for technical in ("@步驟", "@操作手冊", "steps/", ".py:", "features/", ".feature", "-- @1.1",
                      "CERT_SUSPENDED", "python -m fxml.agent serve", "OCSP"):
        assert technical not in shown, technical
    # ...and they are in the collapsed parts, with the notes that stand for them in the text.
    assert "CERT_SUSPENDED" in hidden and "python -m fxml.agent serve" in hidden and "OCSP" in hidden
    assert "@步驟3" in hidden and "fixture_steps.py:" in hidden and "乙_其他.feature:6" in hidden
    assert "錯誤代碼為「註1」" in shown


def test_every_screenshot_is_an_image_with_a_data_uri(fixture_run: FixtureRun, report: str) -> None:
    taken = shots(fixture_run)
    assert len(taken) > 20
    thumbs = re.findall(r'<img class="thumb" src="(data:image/jpeg;base64,[^"]+)" data-full="(p[0-9a-f]+)"', report)
    assert len(thumbs) == len(taken)
    store = json.loads(_group(r'<script type="application/json" id="full-images">(.*?)</script>', report))
    assert {full for _, full in thumbs} == set(store)
    for shot in taken:  # each file whole, once, in its own type
        data = (fixture_run.screenshots / str(shot["file"])).read_bytes()
        mime = "image/png" if str(shot["file"]).endswith(".png") else "image/jpeg"
        uri = f"data:{mime};base64,{base64.b64encode(data).decode()}"
        assert uri in store.values(), shot["file"]
        assert report.count(base64.b64encode(data).decode()) == 1
    assert any(str(s["file"]).endswith(".png") for s in taken)


def test_a_failed_step_comes_first_with_its_message_and_screen(fixture_run: FixtureRun, report: str) -> None:
    failures = report[report.index('<section id="failures">'):report.index('id="toc"')]
    assert "有 2 個場景失敗。" in failures
    assert "畫面應顯示「憑證下載成功」，實際為「憑證下載失敗」" in failures
    failed = next(s for s in shots(fixture_run) if s["text"] == "畫面顯示「憑證下載失敗」")
    data = (fixture_run.screenshots / str(failed["file"])).read_bytes()
    store = json.loads(_group(r'id="full-images">(.*?)</script>', report))
    picture = next(key for key, uri in store.items() if uri.endswith(base64.b64encode(data).decode()))
    assert re.search(f'<img class="wide" src="data:image/jpeg;base64,[^"]+" data-full="{picture}" data-wide', failures)
    # The step that raised says so in the officer's words; the error itself is technical.
    assert "執行此步驟時發生錯誤，畫面或資料未如預期" in failures
    assert report.index('<section id="failures">') < report.index('id="part-步驟1"')


def test_scenarios_sit_under_the_manuals_sentences_by_system_and_kind(report: str) -> None:
    step3 = section(report, "part-步驟3")
    assert STEPS[3] in step3
    shown, _ = visible(step3)
    assert "企業網路銀行 客戶別 4" in shown and "個人網路銀行" in shown
    assert shown.index("企業網路銀行 客戶別 4") < shown.index("憑證中心拒絕，顯示錯誤代碼")
    note = section(report, "part-步驟7-個人企業完成")
    assert "◎如為個人網路銀行或企業網路銀行用戶者，步驟7完成後即完成憑證更新作業。" in note
    step9 = section(report, "part-步驟9")
    assert "點選[列印]後，憑證資料傳真至申辦分行，" in step9  # its instructions, each with a count
    # A scenario proving several steps is shown once, the other parts point to it.
    assert "EOI 系統依操作手冊更新憑證" in step9 and re.search(r"步驟與畫面見「<a href=\"#s\d+\">步驟2</a>」", step9)
    other = section(report, "part-other")
    assert "卡片不需瀏覽器" in other


def test_screens_beyond_the_manual_have_their_own_part_not_other(report: str) -> None:
    """Scenarios tagged @操作手冊以外 (憑證查詢 …: screens the manual does not show) sit in their own part,
    after the manual's and before 其他, by feature, under a sentence that says the manual shows no such
    screen; in the table of contents too."""
    beyond, other = section(report, "part-beyond"), section(report, "part-other")
    shown, _ = visible(beyond)
    assert "操作手冊以外的功能" in shown and "操作手冊未附這些功能的畫面" in shown
    assert "憑證查詢（操作手冊以外的功能）" in shown and "客戶查詢憑證，最新的憑證在最上方" in shown
    assert "操作手冊原文" not in shown
    assert "客戶查詢憑證" not in other
    assert report.index('id="part-步驟9"') < report.index('id="part-beyond"') < report.index('id="part-other"')
    toc, _ = visible(report[report.index('id="toc"'):report.index('id="part-步驟1"')])
    assert "操作手冊以外的功能" in toc


def test_results_and_durations_are_shown(fixture_run: FixtureRun, report: str) -> None:
    run = load(fixture_run.results, fixture_run.screenshots)
    for scenario in run.scenarios:
        assert duration_text(scenario.duration) in report
    shown, _ = visible(report)
    assert "通過" in shown and "失敗" in shown and "未執行" in shown  # the step after a failure
    assert re.search(r"場景\s*8 個", shown)


def test_outline_rows_are_named_without_behaves_suffix(report: str) -> None:
    shown, _ = visible(report)
    assert "EOI 系統依操作手冊更新憑證" in shown and "例子「EOI 系統」第 1 列" in shown
    assert scenario_name("甲 -- @2.3 乙").example_text == "例子「乙」第 3 列"


def test_the_report_pdf_embeds_its_fonts_and_has_no_english(fixture_run: FixtureRun, report: str) -> None:
    pdf = fixture_run.folder / "reports" / "features.pdf"
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    rows = [line for line in fonts.splitlines()[2:] if line.strip()]
    assert rows and all(" yes yes " in line for line in rows), fonts  # embedded, subset
    assert any("CJK" in line for line in rows), fonts
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "步驟3、[插入憑證載具]→[輸入憑證載具密碼]→[確定]。" in text.replace("\n", "")
    assert latin_words(text) == []
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert len(images.splitlines()) > 10


# -- the living manual ----------------------------------------------------------------------------
def test_the_eoi_document_has_every_step_with_its_golden_screen(manual: Path) -> None:
    html = (manual / "操作手冊-EOI系統.html").read_text(encoding="utf-8")
    shown, _ = visible(html)
    assert latin_words(shown) == []
    assert "本路徑操作手冊的每一部分皆有模擬環境的畫面。" in shown
    for n in range(1, 10):
        part = html[html.index(f'id="步驟{n}"'):]
        part = part[:part.find('<section', 10)]
        assert STEPS[n] in part
        assert re.search(r'<img src="data:image/(jpeg|png);base64,', part), n
    assert "與操作手冊畫面的查詢日期、查詢時間相同：112/04/17 11:13:42" in shown
    assert "與操作手冊畫面的查詢日期、查詢時間相同：112/04/17 11:38:36" in shown
    assert "操作手冊此步驟未附畫面；此為模擬環境的畫面" in shown  # step 1: the manual shows none
    assert "此步驟中瀏覽器出現的提示訊息" in shown and "即將進行憑證更新作業，確定要更新嗎？" in shown
    assert "◎EOI 系統：點選「系統管理」>「憑證管理作業」。" in shown
    assert "不適用於本路徑" in shown  # the note for 個人/企業 customers


def test_a_missing_golden_screen_and_a_wrong_time_are_said_and_fail(fixture_run: FixtureRun, manual: Path) -> None:
    html = (manual / "操作手冊-企業網路銀行-客戶別2.html").read_text(encoding="utf-8")
    shown, _ = visible(html)
    assert latin_words(shown) == []
    assert "本文件不完整" in shown and "缺少此步驟的黃金畫面。" in shown
    assert "沒有「步驟5」的黃金畫面" in shown
    assert "時間與操作手冊不同：操作手冊 112/04/17 11:13:42，模擬畫面 112/04/17 11:13:43" in shown
    assert "* 客戶別 2：僅一個使用者代號，請直接登入操作。" in shown
    personal, _ = visible((manual / "操作手冊-個人網路銀行.html").read_text(encoding="utf-8"))
    assert "沒有此路徑的黃金場景" in personal
    done = write_manual(fixture_run.results, fixture_run.screenshots, fixture_run.folder / "again", pdf=False)
    said = ("企業網路銀行（客戶別 2）：沒有「步驟5」的黃金畫面（a step of a scenario tagged @操作手冊 "
            "@操作手冊-企業網路銀行-客戶別2 sets context.illustrates = 5）")
    assert said in done.problems
    assert not any(p.startswith("EOI 系統") for p in done.problems)
    code = cli.main(["manual", "--reports", str(fixture_run.folder / "reports"), "--out",
                     str(fixture_run.folder / "cli"), "--no-pdf"])
    assert code == 1


def test_the_manual_lists_the_scenarios_that_verify_each_step_with_results(manual: Path) -> None:
    html = (manual / "操作手冊-EOI系統.html").read_text(encoding="utf-8")
    part = html[html.index('id="步驟3"'):html.index('id="步驟4"')]
    shown, _ = visible(part)
    assert "驗證此部分的場景（最近一次的結果）" in shown
    assert "EOI 系統依操作手冊更新憑證" in shown and "通過" in shown and "EOI 客戶由系統管理進入平台" in shown
    # The other systems' scenarios are counted, not listed: 個人網路銀行's two failed, 客戶別 4's passed.
    assert "憑證下載頁的訊息不對" not in shown and "另有其他系統或客戶別的場景 3 個，其中 2 個失敗" in shown
    step1 = html[html.index('id="步驟1"'):html.index('id="步驟2"')]
    assert "EOI 客戶由系統管理進入平台" in step1  # an EOI step-1 scenario
    corporate = (manual / "操作手冊-企業網路銀行-客戶別2.html").read_text(encoding="utf-8")
    assert "EOI 客戶由系統管理進入平台" not in corporate[corporate.index('id="步驟1"'):corporate.index('id="步驟2"')]


def test_the_manual_pdfs_embed_their_fonts_and_the_index_links_them(manual: Path) -> None:
    pdf = manual / "操作手冊-EOI系統.pdf"
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert all(" yes yes " in line for line in fonts.splitlines()[2:] if line.strip()), fonts
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert STEPS[8] in text.replace("\n", "") and latin_words(text) == []
    pages = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert int(_group(r"Pages:\s+(\d+)", pages)) >= 11  # a page per part of the manual, and the cover
    index, _ = visible((manual / "index.html").read_text(encoding="utf-8"))
    assert latin_words(index) == [] and "EOI 系統" in index and "完整" in index
    assert "不完整：缺少 1 個部分的黃金畫面" in index  # 客戶別 2's step 5
    assert "不完整：缺少 8 個部分的黃金畫面" in index  # no golden run at all


# -- the manifest and its contract -------------------------------------------------------------------
def _context(tmp_path: Path) -> SimpleNamespace:
    recorder = manifest.Recorder(tmp_path / "shots")
    recorder.begin_run()
    feature = SimpleNamespace(location="features/a.feature:2")
    context = SimpleNamespace(recorder=recorder, feature=feature)
    manifest.scenario_started(context, SimpleNamespace(location="features/a.feature:5", name="甲"))
    return context


def _step(name: str) -> SimpleNamespace:
    return SimpleNamespace(keyword="當", name=name)


def test_illustrates_is_reset_per_step_and_kept_around_a_nested_step(tmp_path: Path) -> None:
    context = _context(tmp_path)
    assert context.illustrates is None  # from before_scenario on
    manifest.step_started(context)
    context.illustrates = 4
    manifest.step_started(context)  # a step it runs
    assert context.illustrates is None
    context.illustrates = 3
    manifest.step_ended(context, _step("內"), b"inner", None)
    assert context.illustrates == 4
    manifest.step_ended(context, _step("外"), b"outer", None)
    manifest.step_started(context)
    manifest.step_ended(context, _step("下一步"), b"next", None)
    manifest.scenario_ended(context)
    data = manifest.read(tmp_path / "shots")
    assert [(s["text"], s["step"], s["nested"], s["illustrates"]) for s in data["shots"]] == [
        ("內", 0, True, 3), ("外", 0, False, 4), ("下一步", 1, False, None)]
    assert (tmp_path / "shots" / data["shots"][0]["file"]).read_bytes() == b"inner"


@pytest.mark.parametrize("value", [0, 10, True, "步驟5", 3.0, "note"])
def test_illustrates_must_name_a_screen_of_the_manual(tmp_path: Path, value: object) -> None:
    context = _context(tmp_path)
    manifest.step_started(context)
    context.illustrates = value
    with pytest.raises(manifest.IllustrationError, match=r"context\.illustrates"):
        manifest.step_ended(context, _step("甲"), b"x", None)


def test_the_notes_after_step_7_are_named_by_their_tags() -> None:
    assert manifest.NOTE_TAGS == ("步驟7-個人企業完成", "EOI繼續步驟8")
    assert manifest.illustration("步驟7-個人企業完成") == "步驟7-個人企業完成"
    assert manifest.illustration(9) == 9


def test_a_report_cut_short_is_read_to_where_it_stops(fixture_run: FixtureRun, tmp_path: Path) -> None:
    whole = fixture_run.results.read_text(encoding="utf-8")
    cut = tmp_path / "features.json"
    cut.write_text(whole[: whole.index(",\n\n") + 3], encoding="utf-8")  # the first feature, unclosed
    run = load(cut, fixture_run.screenshots)
    assert run.truncated and len(run.features) == 1
    html = tmp_path / "r.html"
    write_report(cut, fixture_run.screenshots, html, None)
    assert "本次執行未正常結束" in html.read_text(encoding="utf-8")


def test_fxmlsim_report_writes_the_html_and_the_pdf(fixture_run: FixtureRun, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert cli.main(["report", "--reports", str(fixture_run.folder / "reports"), "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert out.with_suffix(".pdf").read_bytes().startswith(b"%PDF-")


def test_no_run_gives_a_report_that_says_so(tmp_path: Path) -> None:
    html = tmp_path / "r.html"
    write_report(tmp_path / "none.json", tmp_path / "none", html, None)
    shown, _ = visible(html.read_text(encoding="utf-8"))
    assert "找不到執行結果" in shown and latin_words(shown) == []


# -- the officer's words ---------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "technical"), [
    ("錯誤代碼為「CERT_SUSPENDED」", ["CERT_SUSPENDED"]),
    ("請執行 python -m fxml.agent serve 啟動", ["python -m fxml.agent serve"]),
    ("「EOI 企業客戶」以使用者代號「EOIADMIN05」登入EOI 系統", []),
    ("畫面顯示 Common Name「63880571-00-2015」", []),
    ("發行者「C=TW O=TWCA OU=User CA CN=TWCA Financial User CA」", []),
    ("以金鑰容器 9A 簽署「合作金庫 FXML 憑證更新測試」，印成 PDF", []),
    ("已依「eoi-large」製作", ["eoi-large"]),
])
def test_technical_stretches_are_found(text: str, technical: list[str]) -> None:
    assert [p.text for p in split_technical(text) if p.technical] == technical
    assert "".join(p.text for p in split_technical(text)) == text
    assert bool(english_words(text)) == bool(technical)


def iter_documents(folder: Path) -> Iterator[Path]:
    yield from sorted(folder.glob("*.html"))


def test_every_manual_document_is_traditional_chinese(manual: Path) -> None:
    documents = list(iter_documents(manual))
    assert len(documents) == 6  # five paths and the index
    for document in documents:
        shown, _ = visible(document.read_text(encoding="utf-8"))
        assert latin_words(shown) == [], document.name
        assert "context.illustrates" not in shown and "@操作手冊" not in shown
