"""behave hooks for features run on fxmlsim's stack: a project's ``environment.py`` imports them.

::

    # features/environment.py (or environment.py beside the steps/ folder behave finds)
    from simulator.behave.hooks import (after_all, after_scenario, after_step, before_all, before_scenario,
                                        before_step)

A run gets its own fxmlsim home with the whole stack (private pcscd and readers, the CA, the platform,
the bank, the card agent), started once on a clock file the steps move (假如 現在是 民國112年4月17日
11:13:42), and stopped at the end, whatever happened. ``context.home`` is its
:class:`~simulator.home.Home`, ``context.stack_env`` what ``fxmlsim up`` exports (also set in this
process's environment), ``context.clock`` the clock file.

Features tagged ``@browser`` get Debian's chromium through Playwright: one browser for the run, a fresh
context (no cookies) per scenario. After every step of such a scenario a screenshot is kept in
``<reports>/screenshots/`` with an entry in its ``manifest.json`` (simulator/reporting/manifest.py): of
the customer's page, or of the page a step names in ``context.shown_page`` (a branch officer's, in a
browser context of its own). A step may set ``context.illustrates`` (a step of the manual, 1 to 9, or a
note's tag) to say that its screen is that screen of the manual; the living manual shows it
(docs/reports.md). ``fxmlsim report`` and ``fxmlsim manual`` read the manifest and behave's JSON.

``<reports>`` is ``before_all``'s ``reports`` argument, else behave's user data ``fxmlsim.reports``
(``-D fxmlsim.reports=out``), else ``reports`` in the current folder. ``before_all``'s ``readers``
(default 4) is how many readers the stack has.
"""


from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from behave.model import Scenario, Step
from behave.runner import Context

from fxml import env
from fxml.clock import FileClock
from simulator import browser
from simulator.home import Home
from simulator.reporting import manifest

#: behave's user data that names the reports' folder (``-D fxmlsim.reports=...``).
REPORTS_USERDATA = "fxmlsim.reports"


def reports_folder(context: Context, reports: Path | None = None) -> Path:
    """Where the screenshots and their manifest go: ``reports``, else the user data, else ./reports."""
    if reports is not None:
        return Path(reports)
    return Path(context.config.userdata.get(REPORTS_USERDATA, "reports")).resolve()


def before_all(context: Context, reports: Path | None = None, readers: int = 4) -> None:
    context.home_dir = Path(tempfile.mkdtemp(prefix="fxmlsim-features-"))
    context.home = Home(context.home_dir)
    context.clock = FileClock(context.home_dir / "clock.json")
    os.environ[env.CLOCK] = f"file:{context.clock.path}"
    context.stack_env = context.home.up(readers=readers)
    # pcsc-lite reads PCSCLITE_CSOCK_NAME at this process's first PC/SC call.
    os.environ.update(context.stack_env)
    # Set at the root layer: attributes set in a scenario's hooks vanish with it.
    context.chromium = {}
    # A parallel run gives each behave process its own folder (FXMLSIM_SCREENSHOTS, scripts/test_all.py).
    screenshots = os.environ.get(env.SCREENSHOTS) or reports_folder(context, reports) / "screenshots"
    context.recorder = manifest.Recorder(Path(screenshots))
    context.recorder.begin_run()


def _browser(context: Context) -> Any:
    """One chromium for the whole run, launched when the first @browser scenario starts."""
    held = context.chromium
    if "browser" not in held:
        from playwright.sync_api import sync_playwright

        held["playwright"] = sync_playwright().start()
        held["browser"] = browser.launch(held["playwright"])
    return held["browser"]


def before_scenario(context: Context, scenario: Scenario) -> None:
    context.clock.write()  # real time unless the scenario sets it
    context.page = None
    manifest.scenario_started(context, scenario)
    if "browser" in scenario.effective_tags:
        browser_context = _browser(context).new_context(
            locale="zh-TW", timezone_id="Asia/Taipei", viewport={"width": 1280, "height": 900},
        )
        browser_context.set_default_timeout(15_000)
        context.browser_context = browser_context
        context.page = browser_context.new_page()
        context.dialogs = []
        # The platform's entrance links the browser went through, for the steps that reuse one.
        context.entry_urls = []
        platform = context.stack_env.get(env.PLATFORM_URL, "")
        context.page.on("request", lambda request: context.entry_urls.append(request.url)
                        if request.url.startswith(f"{platform}/entry?") else None)


def before_step(context: Context, step: Step) -> None:
    # A step acting in another browser (a branch officer's) shows that browser in its screenshot.
    context.shown_page = None
    manifest.step_started(context)


def after_step(context: Context, step: Step) -> None:
    page = getattr(context, "shown_page", None) or getattr(context, "page", None)
    shot = None
    if page is not None and not page.is_closed() and page.url != "about:blank":
        try:
            shot = page.screenshot(full_page=True, type="jpeg", quality=70)
        except Exception as exc:  # noqa: BLE001 - a screenshot must never hide the step's own result
            print(f"(no screenshot after {step.name}: {exc})")
    manifest.step_ended(context, step, shot, context.clock.now())


def after_scenario(context: Context, scenario: Scenario) -> None:
    manifest.scenario_ended(context)
    browser_context = getattr(context, "browser_context", None)
    if browser_context is not None:
        browser_context.close()
        context.browser_context = None
    context.page = None
    home: Home = context.home
    if home.stack.running():
        for reader in home.stack.readers():
            if reader["card"]:
                home.stack.remove(reader["index"])


def after_all(context: Context) -> None:
    context.recorder.write(finished=True)
    try:
        held = context.chromium
        if "browser" in held:
            held["browser"].close()
        if "playwright" in held:
            held["playwright"].stop()
    finally:
        try:
            context.home.down()
        finally:
            shutil.rmtree(context.home_dir, ignore_errors=True)
