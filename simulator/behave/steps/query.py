"""Steps of 憑證查詢 (beyond the manual: it shows no screen of it), and the frame every page the manual
does not show is checked against: the manual's header, menu and footer, and its 查詢日期/查詢時間 line.

What the page lists is compared with the CA's records, read through the CA's API (never through the
page), and with the card in the reader, read over PC/SC; what it says, with the feature's words.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from behave import then
from behave.runner import Context

from fxml.display import roc_date, taiwan_text, time_text
from simulator import procedure
from simulator.behave.bank_support import in_peoples_words
from simulator.behave.pages import CertificateQuery, Frame, Screen
from simulator.behave.platform_support import ca, card_serial, card_serials, customer_records

#: How long before the step a page's 查詢時間 may be (the page was drawn, then the step reads it).
QUERY_TIME_SLACK = 30


@then("畫面的頁首、左方選單、查詢日期與查詢時間及頁尾如操作手冊的畫面，標題為「{title}」")
def frame_as_the_manual(context: Context, title: str) -> None:
    """A screen the manual does not show, in the style of those it shows: the frame's words
    (procedure.FRAME, MENU, FOOTER), its title, and 查詢日期/查詢時間 written as on the manual's step-3
    screen (「查詢日期: 112/04/17　查詢時間: 11:13:42」), at the stack's clock; in people's words."""
    frame = Frame(context.page)
    header, footer = frame.header(), frame.footer()
    for word in procedure.FRAME:
        assert word in header, f"頁首應有「{word}」"
    assert frame.menu() == list(procedure.MENU), f"左方選單應為 {list(procedure.MENU)}，畫面為 {frame.menu()}"
    for word in procedure.FOOTER:
        assert word in footer, f"頁尾應有「{word}」"
    assert frame.title() == title, f"標題應為「{title}」，畫面為「{frame.title()}」"
    shown, now, screen = frame.query_line(), context.clock.now(), procedure.SCREENS[3]
    candidates = [screen.query_line(roc_date(t), time_text(t))
                  for t in (now - timedelta(seconds=s) for s in range(QUERY_TIME_SLACK + 1))]
    assert any(shown.startswith(date) and shown.endswith(time) and not shown[len(date):-len(time)].strip()
               for date, time in candidates), \
        f"查詢日期與查詢時間應如操作手冊的畫面（{'　'.join(candidates[0])}），畫面為「{shown}」"
    in_peoples_words(Screen(context.page).main_text())


def _rows(context: Context) -> list[dict[str, str]]:
    query = CertificateQuery(context.page)
    query.wait_for_card()
    return query.rows()


@then("憑證查詢的欄位為「{labels}」")
def query_headings(context: Context, labels: str) -> None:
    shown = CertificateQuery(context.page).headings()
    assert shown == labels.split("、"), f"欄位應為 {labels.split('、')}，畫面為 {shown}"


@then("憑證查詢列出客戶於憑證中心的每一張憑證，依簽發時間由新至舊排列，各欄與憑證中心相符")
def query_lists_the_ca(context: Context) -> None:
    rows, records = _rows(context), customer_records(context)
    assert [r["serial"] for r in rows] == [c.serial for c in records], \
        f"應依簽發時間由新至舊列出 {[c.serial for c in records]}，畫面為 {[r['serial'] for r in rows]}"
    for row, record in zip(rows, records, strict=True):
        expected = {"憑證 Common Name": record.cn, "簽章憑證序號": record.serial,
                    "憑證生效日": taiwan_text(record.not_before), "憑證到期日": taiwan_text(record.not_after),
                    "憑證狀態": record.status}
        shown = {k: row[k] for k in expected}
        assert shown == expected, f"應為憑證中心的 {expected}，畫面為 {shown}"


def _row_of(rows: list[dict[str, str]], serial: str) -> dict[str, Any]:
    found = [r for r in rows if r["serial"] == serial]
    assert len(found) == 1, f"憑證查詢應有一列序號 {serial} 的憑證，實有 {len(found)} 列"
    return found[0]


@then("第一列是插入的憑證載具內的憑證「{cn}」，憑證儲存媒體「{carrier}」，憑證狀態「{status}」")
def first_row_on_card(context: Context, cn: str, carrier: str, status: str) -> None:
    rows = _rows(context)
    assert rows, "憑證查詢沒有列出任何憑證"
    first = rows[0]
    assert first["serial"] in card_serials(context), f"第一列應為插入的憑證載具內的憑證，畫面為 {first}"
    shown = (first["憑證 Common Name"], first["憑證儲存媒體"], first["憑證狀態"], first["插入的憑證載具"])
    assert shown == (cn, carrier, status, "是"), f"第一列應為 {(cn, carrier, status, '是')}，畫面為 {shown}"


@then("插入的憑證載具內的憑證「{cn}」標示在憑證載具內，憑證儲存媒體「{carrier}」")
def rows_on_card(context: Context, cn: str, carrier: str) -> None:
    rows = _rows(context)
    marked = [r["serial"] for r in rows if r["插入的憑證載具"] == "是"]
    on_card = [s for s in card_serials(context) if any(r["serial"] == s for r in rows)]
    assert marked == [r["serial"] for r in rows if r["serial"] in on_card], \
        f"只有憑證載具內的憑證 {on_card} 應標示，畫面標示 {marked}"
    for serial in on_card:
        row = _row_of(rows, serial)
        assert (row["憑證 Common Name"], row["憑證儲存媒體"]) == (cn, carrier), row


@then("憑證「{cn}」的憑證狀態為「{status}」，不在插入的憑證載具內，憑證儲存媒體為「{carrier}」")
def row_not_on_card(context: Context, cn: str, status: str, carrier: str) -> None:
    rows = [r for r in _rows(context) if r["憑證 Common Name"] == cn]
    assert rows, f"憑證查詢應列出「{cn}」"
    for row in rows:
        shown = (row["憑證狀態"], row["插入的憑證載具"], row["憑證儲存媒體"])
        assert shown == (status, "", carrier), f"「{cn}」應為 {(status, '', carrier)}，畫面為 {shown}"


@then("憑證查詢沒有標示任何憑證在插入的憑證載具內")
def none_on_card(context: Context) -> None:
    marked = [r for r in _rows(context) if r["插入的憑證載具"]]
    assert not marked, f"不應標示任何憑證在插入的憑證載具內：{marked}"


@then("憑證查詢說明「{text}」")
def query_says(context: Context, text: str) -> None:
    query = CertificateQuery(context.page)
    query.wait_for_card()
    assert query.card_line() == text, f"應說明「{text}」，畫面為「{query.card_line()}」"


@then("憑證查詢顯示插入的憑證載具內的憑證狀態為「{status}」")
def card_status_shown(context: Context, status: str) -> None:
    row = _row_of(_rows(context), card_serial(context))
    assert (row["憑證狀態"], row["插入的憑證載具"]) == (status, "是"), f"憑證狀態應為「{status}」：{row}"
    [record] = ca(context).query(serial=row["serial"])
    assert record.status == status, f"憑證中心的憑證狀態為「{record.status}」"
