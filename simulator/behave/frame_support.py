"""The frame every screen of the platform shows, as the manual's screenshots do: the bank's header
(procedure.FRAME), the left menu (procedure.MENU) and the footer (procedure.FOOTER)."""

from __future__ import annotations

from typing import Any

from simulator import procedure


def assert_in_frame(page: Any) -> None:
    """The page's header, left menu and footer are the manual's screenshots'."""
    header = page.get_by_test_id("bank-header").inner_text()
    for word in procedure.FRAME:
        assert word in header, f"頁首應有「{word}」"
    menu = [str(t).strip() for t in page.get_by_test_id("platform-menu").locator("li").all_inner_texts()]
    assert menu == list(procedure.MENU), f"左方選單應為 {list(procedure.MENU)}，畫面為 {menu}"
    footer = page.get_by_test_id("bank-footer").inner_text()
    for word in procedure.FOOTER:
        assert word in footer, f"頁尾應有「{word}」"
