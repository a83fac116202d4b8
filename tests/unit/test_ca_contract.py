"""The CA's wire contract (fxml/ca/api.py) is the one both sides use: every code
the service raises is in it, every code in it is documented, and the service and
the client name the same paths and environment variable."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.routing import Route

from fxml import env
from fxml.ca import api
from fxml.ca import client as ca_client
from simulator.ca import errors
from simulator.ca.app import CaApi
from simulator.ca.cli import ENV_URL as CLI_ENV_URL

DOC = (Path(__file__).resolve().parents[2] / "docs" / "ca.md").read_text(encoding="utf-8")


def test_every_service_error_code_is_in_the_contract() -> None:
    assert set(errors.ERRORS) <= {code.value for code in api.ErrorCode}
    for cls in errors.ERRORS.values():
        assert isinstance(cls.code, api.ErrorCode), cls


def test_every_contract_code_is_documented() -> None:
    missing = [code.value for code in api.ErrorCode if f"`{code.value}`" not in DOC]
    assert not missing, f"docs/ca.md does not list {missing}"


def test_one_environment_name_for_the_ca_url() -> None:
    assert api.ENV_URL == env.CA_URL == CLI_ENV_URL == "FXMLSIM_CA_URL"
    assert ca_client.CaClient.from_env({"FXMLSIM_CA_URL": "http://127.0.0.1:9"}).base_url == "http://127.0.0.1:9"


def test_every_contract_path_is_served() -> None:
    routes = [r.path for r in CaApi(ca=None).routes() if isinstance(r, Route)]  # type: ignore[arg-type]

    def served(path: str) -> bool:
        concrete = path.format(serial="ABCDEF", holder_id="99000001", fmt="cer")
        for route in routes:
            pattern = re.sub(r"\{(\w+)(?::\w+)?\}", "[^/]+", route.replace(".", r"\."))
            if re.fullmatch(pattern, concrete):
                return True
        return False

    paths = [value for name, value in vars(api.Paths).items() if name.isupper()]
    assert paths and all(served(p) for p in paths), [p for p in paths if not served(p)]


def test_the_client_and_the_service_agree_on_result_words() -> None:
    assert api.DONE[api.Operation.RENEW] == "憑證更新成功"
    assert [s.value for s in api.CertStatus] == ["正常", "暫禁", "已廢止", "已過期"]
