"""The proof sheet's PDF (fxml/platform/templates/proof_print.html through WeasyPrint): its labels
exactly as the manual's screenshot writes them (simulator/procedure.py, not the platform's own table),
and a footer that breaks between its parts, never inside a word (客服|中心電話 was)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fxml.ca.api import PROOF_FIELDS
from fxml.platform.app import HERE
from fxml.platform.wizard import render_pdf
from fxml.web import labels
from fxml.web.app import templates
from fxml.web.labels import PROOF_PLATFORM, PROOF_SHEET
from simulator import procedure

SHEET = dict(zip(PROOF_FIELDS, (
    "112/04/17", "733848587FEDF38381C94D1F47950286",
    "C=TW O=Finance OU=TWCA Financial User CA OU=0060000-Taiwan Cooperative Bank OU=FXML CN=63880571-00-2015",
    "C=TW O=TWCA OU=User CA CN=TWCA Financial User CA", "2023-04-17 11:28:33", "2025-05-14 23:59:59", "正常",
), strict=True))


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    html = templates([HERE / "templates"]).get_template("proof_print.html").render(
        sheet=SHEET, platform_name=PROOF_PLATFORM, sheet_title=PROOF_SHEET, customer={}, L=labels)
    pdf = tmp_path_factory.mktemp("proof") / "proof.pdf"
    pdf.write_bytes(render_pdf(html))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return [line.strip() for line in text.splitlines() if line.strip()]


def test_the_pdf_labels_its_lines_exactly_as_the_manual(lines: list[str]) -> None:
    labelled = [line for line in lines if re.match(r"\S.*?\s{2,}\S", line) and not line.startswith("OU=")]
    found = [re.split(r"\s{2,}", line)[0] for line in labelled]
    assert found == list(procedure.PROOF_LABELS)  # 證明單申請日期： with its colon, no other label with one


def test_the_pdf_footer_breaks_between_its_parts_never_inside_one(lines: list[str]) -> None:
    assert any(procedure.FOOTER[-1] in line for line in lines), lines
    assert any(procedure.FOOTER[-2] in line for line in lines), lines
    assert not any(line.endswith("客服") for line in lines), lines


def test_the_page_and_the_pdf_share_one_table_of_labels() -> None:
    page = (Path(HERE) / "templates" / "proof_sheet.html").read_text(encoding="utf-8")
    pdf = (Path(HERE) / "templates" / "proof_print.html").read_text(encoding="utf-8")
    assert "L.PROOF_LABELS.get(label, label)" in page and "L.PROOF_LABELS.get(label, label)" in pdf
    assert [labels.PROOF_LABELS[f] for f in PROOF_FIELDS] == list(procedure.PROOF_LABELS)
