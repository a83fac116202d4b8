"""The words of the bank's screens, to the character, in one table.

Pages, features and tests take their labels from here, so a page, a scenario
and the manual cannot disagree. The source is the bank's own procedure
(憑證更新(展期)流程) and its screenshots.
"""

from __future__ import annotations

from typing import Final

# -- the bank's page frame ---------------------------------------------------------------
BANK_SLOGAN: Final = "大家的銀行"
BANK_NAME: Final = "合作金庫銀行"
BANK_NAME_EN: Final = "TAIWAN COOPERATIVE BANK"
FOOTER_LINKS: Final = ("連結政策", "隱私權聲明", "安全宣告")
COPYRIGHT: Final = "合作金庫銀行版權所有 2008TCB Bank. All Rights Reserved."
HOTLINE: Final = "客服中心電話：0800-033-175 (04)2227-3131"
#: What every page says about itself: a simulation, never the bank.
SIMULATION_NOTICE: Final = "fxmlsim 模擬環境：非合作金庫銀行正式網站，僅供開發與測試。"

# -- the FXML platform ------------------------------------------------------------------------
PLATFORM_TITLE: Final = "FXML 憑證管理"
MENU_APPLY: Final = "憑證申請"
MENU_DOWNLOAD: Final = "憑證下載"
MENU_RENEW: Final = "憑證更新"
MENU_QUERY: Final = "憑證查詢"
MENU_PROOF: Final = "憑證證明單列印"
MENU_PIN_CHANGE: Final = "憑證載具密碼變更"
MENU_SUSPEND: Final = "憑證暫禁"
MENU_HOME: Final = "回首頁"
#: The platform's left menu, in the manual's order.
PLATFORM_MENU: Final = (
    MENU_APPLY, MENU_DOWNLOAD, MENU_RENEW, MENU_QUERY, MENU_PROOF, MENU_PIN_CHANGE, MENU_SUSPEND, MENU_HOME,
)

# -- buttons and common words -----------------------------------------------------------------
OK: Final = "確定"
LOGIN: Final = "登入"
LOGOUT: Final = "登出"
QUERY_DATE: Final = "查詢日期"
QUERY_TIME: Final = "查詢時間"

# -- the platform's 憑證證明單 (憑證列印頁 and its PDF) ------------------------------------------
#: Each line of the proof sheet by the CA's field name (fxml.ca.api.PROOF_FIELDS), labelled as the
#: manual's screenshot prints it: a colon after 證明單申請日期 only, an asterisk before 簽章憑證序號.
PROOF_LABELS: Final = {
    "證明單申請日期": "證明單申請日期：",
    "簽章憑證序號": "* 簽章憑證序號",
    "主旨(使用者識別名稱)": "主旨(使用者識別名稱)",
    "憑證發行者": "憑證發行者",
    "憑證生效日": "憑證生效日",
    "憑證到期日": "憑證到期日",
    "憑證狀態": "憑證狀態",
}
