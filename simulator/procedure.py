"""The bank's own procedure, 憑證更新(展期)流程, as data: its nine steps and its notes in
its own words, and what its screenshots show, transcribed from the manual
(``../shared/reference``; docs/traceability.md names it).

This is the independent side of every check of what a page shows: the pages
draw their words from ``fxml/web/labels.py``; the features, the report and the
living manual compare them with this transcription of the manual, never with
that table. Nothing here is imported by ``fxml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

#: The manual's title.
TITLE: Final = "憑證更新(展期)流程"


@dataclass(frozen=True)
class Instruction:
    """One instruction of the manual: the tag that marks the scenarios covering it, its step, its words."""

    tag: str
    step: int
    words: str


#: The manual, instruction by instruction, in its own words and order. A scenario that
#: proves an instruction carries its tag; ``@步驟N`` marks the step as a whole.
MANUAL: Final[tuple[Instruction, ...]] = (
    Instruction("步驟1", 1, "步驟1、登入系統，進入憑證管理平台。"),
    Instruction("步驟1-個人網路銀行", 1, "◎個人網路銀行：點選「設定及申請/憑證」>「憑證管理」。"),
    Instruction("步驟1-企業網路銀行", 1, "◎企業網路銀行：點選「管理設定」>「憑證管理平台」。"),
    Instruction("步驟1-客戶別2", 1, "* 客戶別 2：僅一個使用者代號，請直接登入操作。"),
    Instruction("步驟1-客戶別3", 1, "* 客戶別 3：使用者代號請管理者代號登入操作。"),
    Instruction("步驟1-客戶別4", 1, "* 客戶別 4：使用者代號請利用 SUPER001 登入操作。"),
    Instruction("步驟1-EOI系統", 1, "◎EOI 系統：點選「系統管理」>「憑證管理作業」。"),
    Instruction("步驟2", 2, "步驟2、[憑證更新]→[確定]。"),
    Instruction("步驟3", 3, "步驟3、[插入憑證載具]→[輸入憑證載具密碼]→[確定]。"),
    Instruction("步驟4", 4, "步驟4、審閱憑證晶片卡用戶約定條款後，點選[更新]。"),
    Instruction("步驟5", 5, "步驟5、頁面跳出提示訊息，點選[確定]後，正式進入憑證更新作業。"
                "更新過程中，請耐心等待一分鐘。"),
    Instruction("步驟6", 6, "步驟6、待憑證載入憑證載具完成後，出現“憑證下載成功!”訊息，請點選網頁視窗 [確定]。"),
    Instruction("步驟7", 7, "步驟7、憑證下載頁，出現“憑證下載成功”，即完成線上憑證更新作業。"),
    Instruction("步驟7-個人企業完成", 7, "◎如為個人網路銀行或企業網路銀行用戶者，步驟7完成後即完成憑證更新作業。"),
    Instruction("EOI繼續步驟8", 7, "◎如為EOI用戶者，請繼續執行以下步驟。"),
    Instruction("步驟8", 8, "步驟8、點選畫面左方之[憑證證明單列印]，右方畫面會自動選取最新憑證資料，此部份請勿更改，"
                "請直接點選[確定]，畫面會顯示憑證證明單。"),
    Instruction("步驟9-傳真", 9, "點選[列印]後，憑證資料傳真至申辦分行，"),
    Instruction("步驟9-電話告知展期建檔", 9, "電話告知分行電金/EOI經辦需執行憑證展期建檔，"),
    Instruction("步驟9-關係戶用戶代碼", 9, "若有申辦共用憑證，則須另外告知分行關係戶之用戶代碼(12位數)，"),
    Instruction("步驟9-轉帳", 9, "待分行完成憑證資料更新作業後，即可正常使用轉帳功能。"),
)

#: Each step's sentence as the manual writes it (step 1 with its paths, step 9 whole).
STEPS: Final[dict[int, str]] = {
    1: "步驟1、登入系統，進入憑證管理平台。",
    2: "步驟2、[憑證更新]→[確定]。",
    3: "步驟3、[插入憑證載具]→[輸入憑證載具密碼]→[確定]。",
    4: "步驟4、審閱憑證晶片卡用戶約定條款後，點選[更新]。",
    5: "步驟5、頁面跳出提示訊息，點選[確定]後，正式進入憑證更新作業。更新過程中，請耐心等待一分鐘。",
    6: "步驟6、待憑證載入憑證載具完成後，出現“憑證下載成功!”訊息，請點選網頁視窗 [確定]。",
    7: "步驟7、憑證下載頁，出現“憑證下載成功”，即完成線上憑證更新作業。",
    8: "步驟8、點選畫面左方之[憑證證明單列印]，右方畫面會自動選取最新憑證資料，此部份請勿更改，"
       "請直接點選[確定]，畫面會顯示憑證證明單。",
    9: "步驟9、點選[列印]後，憑證資料傳真至申辦分行，電話告知分行電金/EOI經辦需執行憑證展期建檔，"
       "若有申辦共用憑證，則須另外告知分行關係戶之用戶代碼(12位數)，待分行完成憑證資料更新作業後，"
       "即可正常使用轉帳功能。",
}

#: A short title of each step, for tables of contents.
STEP_TITLES: Final[dict[int, str]] = {
    1: "登入系統，進入憑證管理平台", 2: "[憑證更新]→[確定]", 3: "[插入憑證載具]→[輸入憑證載具密碼]→[確定]",
    4: "審閱用戶約定條款後，點選[更新]", 5: "提示訊息[確定]，正式進入憑證更新作業", 6: "“憑證下載成功!”訊息 [確定]",
    7: "憑證下載頁“憑證下載成功”", 8: "[憑證證明單列印]→[確定]，顯示憑證證明單",
    9: "[列印]、傳真至申辦分行、憑證展期建檔、轉帳",
}

#: The two notes after step 7, in the manual's words.
AFTER_STEP_7: Final = (
    "◎如為個人網路銀行或企業網路銀行用戶者，步驟7完成後即完成憑證更新作業。",
    "◎如為EOI用戶者，請繼續執行以下步驟。",
)


#: What step 1 writes before the systems' menu paths.
ENTRY_LABEL: Final = "進入路徑："


@dataclass(frozen=True)
class System:
    """One of the three systems a customer starts from, as step 1 names it."""

    name: str
    #: The menu path of step 1, as the manual writes it (「…」>「…」).
    menu: tuple[str, str]
    #: The 客戶別 notes of step 1 that apply (企業網路銀行 only): 客戶別 → the manual's words.
    kinds: dict[str, str] = field(default_factory=dict)


SYSTEMS: Final[tuple[System, ...]] = (
    System("個人網路銀行", ("設定及申請/憑證", "憑證管理")),
    System("企業網路銀行", ("管理設定", "憑證管理平台"), {
        "客戶別 2": "* 客戶別 2：僅一個使用者代號，請直接登入操作。",
        "客戶別 3": "* 客戶別 3：使用者代號請管理者代號登入操作。",
        "客戶別 4": "* 客戶別 4：使用者代號請利用 SUPER001 登入操作。",
    }),
    System("EOI 系統", ("系統管理", "憑證管理作業")),
)


# -- what the manual's screenshots show ----------------------------------------------------------
#: The bank's page frame around every screen of the platform.
FRAME: Final = ("大家的銀行", "合作金庫銀行", "TAIWAN COOPERATIVE BANK", "FXML 憑證管理")
#: The platform's menu, as step 3's screenshot lists it (steps 8 and 9 show the same eight items).
MENU: Final = (
    "憑證申請", "憑證下載", "憑證更新", "憑證查詢", "憑證證明單列印", "憑證載具密碼變更", "憑證暫禁", "回首頁",
)
#: The footer of every screen.
FOOTER: Final = ("連結政策", "隱私權聲明", "安全宣告",
                 "合作金庫銀行版權所有 2008TCB Bank. All Rights Reserved.",
                 "客服中心電話：0800-033-175 (04)2227-3131")
#: The progress line of the renewal's screens (steps 3 and 4).
PROGRESS: Final = ("選擇更新清單", "確認更新資訊", "更新約定條款", "更新送審結果")


@dataclass(frozen=True)
class Screen:
    """A screenshot of the manual: the step it illustrates, its title and the words it shows
    (labels and fixed texts, not the customer's data), and the time on it."""

    step: int
    title: str
    words: tuple[str, ...]
    #: 查詢日期 and 查詢時間 as the screenshot shows them (民國 date), if it shows them.
    query_date: str | None = None
    query_time: str | None = None
    #: What follows 查詢日期 and 查詢時間 on this screenshot: ": " (steps 3 and 4), "：" (step 8).
    query_colon: str = ": "

    def query_line(self, date: str | None = None, time: str | None = None) -> tuple[str, str]:
        """(查詢日期…, 查詢時間…) as this screenshot writes them, with its date and time or the ones given."""
        return (f"查詢日期{self.query_colon}{date or self.query_date}",
                f"查詢時間{self.query_colon}{time or self.query_time}")


SCREENS: Final[dict[int, Screen]] = {
    3: Screen(3, "憑證更新", (
        "請確認憑證的相關資訊，點選最下方「確定」按鈕。", *PROGRESS,
        "查詢日期", "查詢時間", "Common Name :", "憑證儲存媒體", "憑證載具密碼",
        "1. 插入憑證載具後，輸入[憑證載具密碼]。", "2. 點選[確定]。",
    ), "112/04/17", "11:13:42"),
    4: Screen(4, "憑證晶片卡憑證更新", (*PROGRESS, "查詢日期", "查詢時間", "用戶約定條款"), "112/04/17", "11:24:39"),
    8: Screen(8, "憑證證明單列印", (
        "請確認憑證的相關資訊，點選最下方「確定」按鈕。", "請選擇", "憑證 Common Name",
        "查詢日期：112/04/17", "查詢時間：11:38:36", "確定", "回憑證管理",
        "1. 點選[憑證證明單列印]，系統會自動選取最新憑證資料。", "2. 點選[確定]，進行憑證資料列印。",
    ), "112/04/17", "11:38:36", "："),
    9: Screen(9, "憑證列印頁", (
        "合作金庫憑證管理平台", "憑證證明單", "證明單申請日期：", "簽章憑證序號", "主旨(使用者識別名稱)",
        "憑證發行者", "憑證生效日", "憑證到期日", "憑證狀態", "列印",
    )),
}

#: Step 3's two notes under the table, in the manual's words and order.
STEP3_NOTES: Final = ("1. 插入憑證載具後，輸入[憑證載具密碼]。", "2. 點選[確定]。")
#: Step 8's two notes under [確定] and [回憑證管理].
STEP8_NOTES: Final = ("1. 點選[憑證證明單列印]，系統會自動選取最新憑證資料。", "2. 點選[確定]，進行憑證資料列印。")

#: The labels of the proof sheet (憑證證明單) exactly as the manual writes them, in its order.
PROOF_LABELS: Final = (
    "證明單申請日期：", "* 簽章憑證序號", "主旨(使用者識別名稱)", "憑證發行者", "憑證生效日", "憑證到期日", "憑證狀態",
)

#: The golden example of the manual: the times on its screens and its proof sheet's values.
GOLDEN: Final = {
    "step3_time": "11:13:42",
    "step4_time": "11:24:39",
    "step8_time": "11:38:36",
    "date": "112/04/17",
    "proof": {
        "證明單申請日期": "112/04/17",
        # The manual hides the holder's id before "-00-2015": {holder_id} stands for it.
        "主旨(使用者識別名稱)": "C=TW O=Finance OU=TWCA Financial User CA OU=0060000-Taiwan Cooperative Bank "
                               "OU=FXML CN={holder_id}-00-2015",
        "憑證發行者": "C=TW O=TWCA OU=User CA CN=TWCA Financial User CA",
        "憑證生效日": "2023-04-17 11:28:33",
        "憑證到期日": "2025-05-14 23:59:59",
        "憑證狀態": "正常",
    },
}


def instructions_of(step: int) -> tuple[Instruction, ...]:
    """The instructions of ``step``, in the manual's order."""
    return tuple(i for i in MANUAL if i.step == step)
