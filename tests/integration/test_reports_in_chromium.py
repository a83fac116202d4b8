"""The report and the living manual open in chromium from the file alone: every screenshot is drawn,
a thumbnail opens its screen at full size, a failure's screen is drawn from the full image."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from simulator.reporting.manual import write_manual
from simulator.reporting.report import write_report
from tests.support.browser import chromium
from tests.support.reporting import FixtureRun, behave_run


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> FixtureRun:
    done = behave_run(tmp_path_factory.mktemp("run"))
    write_report(done.results, done.screenshots, done.folder / "reports" / "features.html", None)
    write_manual(done.results, done.screenshots, done.folder / "reports" / "manual", pdf=False)
    return done


@pytest.fixture(scope="module")
def page(run: FixtureRun) -> Iterator[Any]:
    with chromium() as browser:
        context = browser.new_context(locale="zh-TW", viewport={"width": 1280, "height": 900})
        # Nothing but the file itself: any request elsewhere fails the page.
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:"))
                      else route.abort())
        yield context.new_page()
        context.close()


def drawn(page: Any, selector: str) -> list[int]:
    """The natural widths of the images ``selector`` finds (0: not drawn)."""
    widths: list[int] = page.eval_on_selector_all(
        selector, "images => images.map(i => (i.complete && i.naturalWidth) || 0)")
    return widths


def test_every_screenshot_of_the_report_is_drawn(run: FixtureRun, page: Any) -> None:
    page.goto((run.folder / "reports" / "features.html").as_uri())
    shots = json.loads((run.screenshots / "manifest.json").read_text(encoding="utf-8"))["shots"]
    widths = drawn(page, "img.thumb")
    assert len(widths) == len(shots) and set(widths) == {360}, widths  # thumbnails of the 800-wide screens
    assert page.title() == "憑證更新(展期)流程 行為規格報告"


def test_a_thumbnail_opens_its_screen_at_full_size(run: FixtureRun, page: Any) -> None:
    page.goto((run.folder / "reports" / "features.html").as_uri())
    shot = json.loads((run.screenshots / "manifest.json").read_text(encoding="utf-8"))["shots"][0]
    with Image.open(run.screenshots / shot["file"]) as image:
        width = image.size[0]
    page.locator("img.thumb").first.click()
    viewer = page.locator("#viewer")
    assert viewer.is_visible()
    page.wait_for_function("() => document.querySelector('#viewer img').naturalWidth > 0")
    assert drawn(page, "#viewer img") == [width]
    assert viewer.locator(".viewer-caption").inner_text().startswith("畫面：")
    page.keyboard.press("Escape")
    assert not viewer.is_visible()


def test_a_failures_screen_is_drawn_from_its_full_image(run: FixtureRun, page: Any) -> None:
    page.goto((run.folder / "reports" / "features.html").as_uri())
    widths = drawn(page, "#failures img.wide")
    assert widths == [800, 800]  # the full screens, not their thumbnails


def test_every_golden_screen_of_the_manual_is_drawn(run: FixtureRun, page: Any) -> None:
    page.goto((run.folder / "reports" / "manual" / "操作手冊-EOI系統.html").as_uri())
    widths = drawn(page, ".golden img")
    assert len(widths) >= 9 and all(w > 0 for w in widths), widths
    for n in range(1, 10):
        assert page.locator(f'section[id="步驟{n}"] .golden img').count() >= 1, n
