"""The bank's three systems as their pages show them: names, login fields, menus.

The words are the manual's, to the character: 個人網路銀行 reaches the
platform by 「設定及申請/憑證」>「憑證管理」, 企業網路銀行 by 「管理設定」>
「憑證管理平台」, the EOI 系統 by 「系統管理」>「憑證管理作業」. Features and
tests take them from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from fxml.platform.tickets import System


@dataclass(frozen=True)
class MenuGroup:
    title: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class SystemPage:
    system: System
    #: The path the system is served under (``/personal`` ...).
    prefix: str
    title: str
    id_label: str
    #: The menu group and item that lead to the FXML platform.
    platform_group: str
    platform_item: str
    menu: tuple[MenuGroup, ...]
    #: The menu group and item of 臺幣轉帳 (signed on the card; simulator/bank/transfers.py).
    transfer_group: str = ""
    transfer_item: str = "臺幣轉帳"
    #: The menu group and item of the company's list of its users (企業網路銀行, EOI 系統; none for a person).
    users_group: str = ""
    users_item: str = ""

    @property
    def transfer_path(self) -> str:
        """``「轉帳」>「臺幣轉帳」``."""
        return f"「{self.transfer_group}」>「{self.transfer_item}」"

    @property
    def platform_path(self) -> str:
        """``「管理設定」>「憑證管理平台」``: how the manual writes the way in."""
        return f"「{self.platform_group}」>「{self.platform_item}」"



PERSONAL = SystemPage(
    System.PERSONAL, "/personal", "個人網路銀行", "身分證字號", "設定及申請/憑證", "憑證管理",
    (
        MenuGroup("帳戶查詢", ("帳戶總覽", "交易明細")),
        MenuGroup("轉帳", ("臺幣轉帳",)),
        MenuGroup("設定及申請/憑證", ("憑證管理",)),
    ),
    transfer_group="轉帳",
)
CORPORATE = SystemPage(
    System.CORPORATE, "/corporate", "企業網路銀行", "統一編號", "管理設定", "憑證管理平台",
    (
        MenuGroup("帳戶查詢", ("帳戶總覽", "交易明細")),
        MenuGroup("轉帳", ("臺幣轉帳",)),
        MenuGroup("管理設定", ("使用者管理", "憑證管理平台")),
    ),
    transfer_group="轉帳",
    users_group="管理設定",
    users_item="使用者管理",
)
EOI = SystemPage(
    System.EOI, "/eoi", "EOI 系統", "統一編號", "系統管理", "憑證管理作業",
    (
        MenuGroup("帳務作業", ("帳戶總覽",)),
        MenuGroup("付款作業", ("臺幣轉帳",)),
        MenuGroup("系統管理", ("使用者維護", "憑證管理作業")),
    ),
    transfer_group="付款作業",
    users_group="系統管理",
    users_item="使用者維護",
)

SYSTEMS: Final = (PERSONAL, CORPORATE, EOI)
BY_SYSTEM: Final = {page.system: page for page in SYSTEMS}


def by_title(title: str) -> SystemPage:
    """The system a feature names (個人網路銀行, 企業網路銀行, EOI 系統)."""
    for page in SYSTEMS:
        if page.title == title:
            return page
    raise KeyError(f"沒有「{title}」這個系統（{'、'.join(p.title for p in SYSTEMS)}）")
