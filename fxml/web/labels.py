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

# -- the platform's 憑證更新 (steps 2 to 7) ---------------------------------------------------------------
#: The wizard's four stages, in the manual's words.
RENEWAL_STAGES: Final = ("選擇更新清單", "確認更新資訊", "更新約定條款", "更新送審結果")
RENEWAL_INSTRUCTION: Final = "請確認憑證的相關資訊，點選最下方「確定」按鈕。"
TERMS_TITLE: Final = "用戶約定條款"
#: The page's prompt before the renewal starts (step 5) and its message at the end (step 6).
CONFIRM_PROMPT: Final = "即將進行憑證更新作業，更新過程中請勿移除憑證載具，並請耐心等待一分鐘。確定要更新嗎？"
DOWNLOADED: Final = "憑證下載成功!"
DOWNLOAD_PAGE: Final = "憑證下載成功"
#: [取消] on the prompt: nothing started, nothing changed.
RENEWAL_CANCELLED: Final = "您已取消憑證更新作業，原憑證未變更，仍可正常使用。如需更新，請再點選[更新]。"
#: The card agent does not answer: what the customer can do (no developer's commands on a customer's page).
AGENT_MISSING: Final = ("無法連線至本機的憑證元件（讀取憑證載具的程式），因此無法讀取憑證載具。"
                        "請確認憑證元件已啟動後，再重新整理本頁；如仍無法使用，請洽客服中心。")
#: The manual's notes after step 7, as the 憑證下載 page says them to each customer.
NEXT_STEP_DONE: Final = "您已完成憑證更新作業，無須列印憑證證明單或執行其他步驟，即可使用新憑證。"
NEXT_STEP_EOI: Final = ("EOI 用戶請繼續執行以下步驟：點選畫面左方之[憑證證明單列印]，列印憑證證明單並傳真至申辦分行，"
                        "辦理憑證展期建檔。")
RENEWAL_TERMS_PAGE: Final = "憑證晶片卡憑證更新"
CHOOSE: Final = "請選擇"
COMMON_NAME: Final = "憑證 Common Name"
NOT_AFTER: Final = "憑證到期日"
CERT_STATUS: Final = "憑證狀態"
RENEWAL_OPEN: Final = "（更新作業進行中）"
CHOOSE_RENEWAL: Final = "請選擇欲更新的憑證，點選「確定」按鈕。"
NO_CERTIFICATES: Final = "查無可更新的憑證。"
CARRIER: Final = "憑證儲存媒體"
PIN: Final = "憑證載具密碼"
INSERT_CARD: Final = "（請插入憑證載具）"
CANCEL: Final = "取消"
UPDATE: Final = "更新"
CONTINUE_UPDATE: Final = "繼續更新"
PIN_AGAIN: Final = "為保護您的憑證載具，請再次輸入憑證載具密碼後繼續。"
RENEWAL_IN_PROGRESS: Final = "憑證更新作業進行中，請勿移除憑證載具，並請耐心等待一分鐘。"
RENEWAL_RESUME: Final = "此筆憑證更新作業尚未完成（{state}），請點選[繼續更新]完成更新。"
CONFIRM_NOTES: Final = ("1. 插入憑證載具後，輸入[憑證載具密碼]。", "2. 點選[確定]。")
BACK: Final = "回上頁"
ERROR_CODE: Final = "錯誤代碼："

# -- the platform's 憑證證明單列印 (step 8) and its fax (step 9) ---------------------------------------------
PROOF_TITLE: Final = "憑證列印頁"
PROOF_PLATFORM: Final = "合作金庫憑證管理平台"
PROOF_SHEET: Final = "憑證證明單"
#: The sheet of a certificate other than the newest (the manual: 此部份請勿更改).
NOT_NEWEST: Final = ("您選擇的憑證 {chosen} 不是最新憑證，其憑證證明單不能用於憑證展期建檔。"
                     "請回[憑證證明單列印]，保留系統自動選取的最新憑證 {newest}，直接點選[確定]。")
#: Step 9, after the fax reached the branch: what the customer does next (the manual's words).
FAX_NEXT: Final = ("請電話告知分行電金/EOI經辦需執行憑證展期建檔；"
                   "若有申辦共用憑證，則須另外告知分行關係戶之用戶代碼(12位數)。"
                   "待分行完成憑證資料更新作業後，即可正常使用轉帳功能。")
FAX_SENT: Final = "憑證資料已傳真至申辦分行 {branch_code} {branch_name}（收件時間 {received}）。"
PRINT: Final = "列印"
DOWNLOAD_PDF: Final = "下載 PDF"
PRINT_HINT: Final = "點選[列印]後，憑證資料傳真至申辦分行。"
BACK_TO_PLATFORM: Final = "回憑證管理"
PROOF_NOTES: Final = ("1. 點選[憑證證明單列印]，系統會自動選取最新憑證資料。", "2. 點選[確定]，進行憑證資料列印。")

#: The words the pages' scripts (the platform's renewal.js and proof.js, the bank's transfer.js) show,
#: given to them as a JSON block the pages embed (templates/_words.html: ``<script type="application/json"
#: id="fxml-words">``, data that never runs): a page and its script cannot disagree.
SCRIPT_WORDS: Final = {
    "PLATFORM_UNREACHABLE": "無法連線至憑證管理平台，請稍後再試。",
    "PLATFORM_ERROR": "憑證管理平台無法處理此請求，請稍後再試。",
    "PIN_MISSING": "請輸入憑證載具密碼。",
    "CARD_NOT_HOLDING_CERTIFICATE": "插入的憑證載具內沒有欲更新的憑證，請確認插入的是您的憑證載具。",
    "NO_CARD": "請插入憑證載具。",
    "CARRIER_DEFAULT": "憑證晶片卡",
    "CARD_WITHOUT_CERTIFICATE": "（插入的憑證載具內沒有此憑證）",
    "INSERT_CARD": INSERT_CARD,
    "RENEWAL_FAILED": "憑證更新失敗。",
    "CONTINUE_UPDATE": CONTINUE_UPDATE,
    "FAX_UNREACHABLE": "無法連線至憑證管理平台，憑證證明單未能傳真至申辦分行，請稍後再點選[列印]。",
    "FAX_FAILED": "憑證證明單未能傳真至申辦分行，請稍後再點選[列印]。",
    # the bank's 臺幣轉帳 (transfer.js)
    "BANK_ERROR": "銀行無法處理此筆轉帳，請稍後再試。",
    "CERTIFICATE_OPTION": "{cn}（序號 {serial}，到期日 {until}）",
}

# -- the platform's 憑證申請 and 憑證下載 (beyond the manual: it shows no screen of them) -----------------------
#: 憑證申請's three stages and 憑證下載's four, in the style of 憑證更新's.
APPLY_STAGES: Final = ("填寫申請資料", "確認申請資料", "申請送出結果")
APPLY_INSTRUCTION: Final = "請填寫憑證申請資料，點選最下方「確定」按鈕。"
APPLY_CONFIRM_INSTRUCTION: Final = "請確認憑證申請資料，點選最下方「確定」按鈕送出申請。"
APPLICANT: Final = "申請人"
CN_SUFFIX: Final = "憑證名稱"
CN_SUFFIX_HINT: Final = "Common Name 的最後一段：1 至 16 位英文字母或數字，例如申請的年度。"
APPLY_NOTES: Final = ("1. 填寫[憑證名稱]並選擇[憑證儲存媒體]。", "2. 點選[確定]，確認申請資料後送出申請。")
APPLICATION_ID: Final = "申請編號"
APPLY_BRANCH: Final = "申辦分行"
RECEIVED_AT: Final = "收件時間"
APPLY_SENT: Final = "憑證申請已送出"
APPLY_NEXT: Final = ("請待申辦分行 {branch} 審核。分行核准後，分行經辦將告知您授權碼；"
                     "請於授權碼有效期限內點選畫面左方之[憑證下載]，輸入授權碼、插入憑證載具並輸入憑證載具密碼，即可下載憑證。")
APPLICATIONS_SENT: Final = "已送出的憑證申請"
DOWNLOAD_STAGES: Final = ("輸入授權碼", "確認下載資訊", "下載約定條款", "憑證下載結果")
DOWNLOAD_INSTRUCTION: Final = "請輸入申辦分行經辦告知的授權碼，點選最下方「確定」按鈕。"
DOWNLOAD_CONFIRM_INSTRUCTION: Final = "請確認憑證的相關資訊，點選最下方「確定」按鈕。"
AUTHORIZATION_CODE: Final = "授權碼"
DOWNLOAD_NOTES: Final = ("1. 輸入申辦分行經辦告知的[授權碼]。", "2. 點選[確定]。")
DOWNLOAD_TERMS_PAGE: Final = "憑證晶片卡憑證下載"
DOWNLOAD_PROMPT: Final = "即將進行憑證下載作業，下載過程中請勿移除憑證載具，並請耐心等待一分鐘。確定要下載嗎？"
DOWNLOAD: Final = "下載"
CONTINUE_DOWNLOAD: Final = "繼續下載"
DOWNLOAD_IN_PROGRESS: Final = "憑證下載作業進行中，請勿移除憑證載具，並請耐心等待一分鐘。"
DOWNLOAD_RESUME: Final = "此筆憑證下載作業尚未完成（{state}），請點選[繼續下載]完成下載。"
DOWNLOAD_CANCELLED: Final = "您已取消憑證下載作業，憑證載具未變更。如需下載，請再點選[下載]。"
DOWNLOADS_OPEN: Final = "尚未完成的憑證下載"
DOWNLOAD_NEXT: Final = "您已完成憑證下載，憑證已存放於憑證載具，即可使用此憑證。"
#: The words of the platform's scripts for 憑證下載 (renewal.js serves both).
SCRIPT_WORDS.update({
    "CARD_NOT_CUSTOMERS": "插入的憑證載具不屬於您，請插入您的憑證載具。",
    "CARD_OF_ANOTHER": "（插入的憑證載具不屬於您）",
    "DOWNLOAD_FAILED": "憑證下載失敗。",
    "CONTINUE_DOWNLOAD": CONTINUE_DOWNLOAD,
})

# -- the platform's home and its pages not simulated ------------------------------------------------------
HOME_HINT: Final = "請由左方選單選擇作業。"
SIGNED_IN_SYSTEM: Final = "登入系統"
NATIONAL_ID: Final = "身分證字號"
BUSINESS_ID: Final = "統一編號"
ACCOUNT_NAME: Final = "戶名"
USER_CODE: Final = "使用者代號"
CUSTOMER_TYPE: Final = "客戶別"
BACK_TO: Final = "回{page}"

# -- the platform's 憑證查詢, 憑證載具密碼變更 and 憑證暫禁 (the manual shows no screen of them) --------------
SERIAL: Final = "簽章憑證序號"
NOT_BEFORE: Final = "憑證生效日"
SUSPENDED_AT: Final = "暫禁時間"
#: The 憑證儲存媒體 of a certificate that is not on the inserted card: a chip card, its size unread.
CARRIER_CHIP: Final = "憑證晶片卡"
QUERY_INSTRUCTION: Final = "以下為您於憑證中心的憑證，依簽發時間由新至舊排列。"
ON_CARD: Final = "插入的憑證載具"
NO_CERTIFICATE_RECORDS: Final = "查無您的憑證資料。"
QUERY_NOTES: Final = (
    "1. 憑證狀態為憑證中心目前的狀態：正常、暫禁、已廢止、已過期。",
    "2. 插入憑證載具後，畫面會標示憑證載具內的憑證及其憑證儲存媒體（大卡或小卡）。",
    "3. 暫禁中的憑證須洽申辦分行辦理解除暫禁；已廢止或已過期的憑證，請洽申辦分行重新申請。",
)
PIN_CHANGE_INSTRUCTION: Final = "請插入憑證載具，輸入原憑證載具密碼及兩次新憑證載具密碼，點選最下方「確定」按鈕。"
OLD_PIN: Final = "原憑證載具密碼"
NEW_PIN: Final = "新憑證載具密碼"
NEW_PIN_AGAIN: Final = "再次輸入新憑證載具密碼"
PIN_CHANGE_NOTES: Final = (
    "1. 插入憑證載具後，輸入[原憑證載具密碼]，再輸入兩次[新憑證載具密碼]。",
    "2. 新憑證載具密碼須為 6 至 8 位英文字母或數字，且不得與原憑證載具密碼相同。",
    "3. 憑證載具密碼連續輸入錯誤達上限，憑證載具即鎖定，須洽申辦分行辦理解鎖。",
    "4. 點選[確定]。",
)
SUSPEND: Final = "暫禁"
SUSPEND_INSTRUCTION: Final = "請選擇欲暫禁的憑證，點選最下方「暫禁」按鈕。"
NO_SUSPENDABLE: Final = "查無可暫禁的憑證（僅憑證狀態為「正常」的憑證可暫禁）。"
SUSPEND_NOTES: Final = (
    "1. 憑證暫禁後即暫停使用，無法用於轉帳等交易。",
    "2. 解除暫禁須洽申辦分行辦理。",
    "3. 點選[暫禁]，於提示訊息點選[確定]後，即暫禁所選的憑證。",
)
#: The CA's word for a 暫禁 done (fxml.ca.api's result of 暫禁), and what the customer does next.
SUSPENDED: Final = "憑證暫禁成功"
SUSPENDED_TEXT: Final = "憑證 {cn} 已暫禁（暫禁時間 {at}），暫停使用。如需解除暫禁，請洽申辦分行辦理。"
STATUS_NOW: Final = "憑證 {cn} 目前的憑證狀態為「{status}」。"
SCRIPT_WORDS.update({
    # 憑證查詢 (query.js)
    "ON_CARD": "是",
    "QUERY_NO_CARD": "未偵測到憑證載具；插入憑證載具後，畫面會標示憑證載具內的憑證。",
    "QUERY_CARD": "插入的憑證載具（{carrier}）內有您的 {count} 張憑證，已標示於「插入的憑證載具」欄。",
    "QUERY_OTHER_CARD": "插入的憑證載具內沒有您的憑證，請確認插入的是您的憑證載具。",
    # 憑證載具密碼變更 (pin.js)
    "OLD_PIN_MISSING": "請輸入原憑證載具密碼。",
    "NEW_PIN_MISSING": "請輸入新憑證載具密碼。",
    "NEW_PIN_AGAIN_MISSING": "請再次輸入新憑證載具密碼。",
    "NEW_PIN_MISMATCH": "兩次輸入的新憑證載具密碼不一致，請重新輸入。",
    "PIN_CHANGED": "憑證載具密碼變更成功，請以新憑證載具密碼使用憑證載具。",
    "CARD_LOCKED": "此憑證載具已鎖定（憑證載具密碼錯誤次數已達上限），請洽申辦分行辦理解鎖。",
    "NOT_YOUR_CARD": "插入的憑證載具不是您的憑證載具，請插入您的憑證載具。",
    # 憑證暫禁 (suspend.js)
    "SUSPEND_PROMPT": ("確定要暫禁憑證 {cn}（序號 {serial}）嗎？"
                       "暫禁後此憑證無法用於轉帳等交易，須洽申辦分行辦理解除暫禁。"),
    "SUSPEND_CANCELLED": "您已取消憑證暫禁，憑證未變更。",
    "SUSPEND_NOT_SELECTED": "請選擇欲暫禁的憑證。",
})
