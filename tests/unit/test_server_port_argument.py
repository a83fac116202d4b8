"""Every server's ``--port`` (the CA, the bank, the platform, the agent): a TCP port or a
one-line argparse refusal before anything is opened or written."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from fxml.agent.__main__ import main as agent_main
from fxml.platform.__main__ import main as platform_main
from fxml.web.server import port_argument
from simulator.bank.__main__ import main as bank_main
from simulator.ca.__main__ import main as ca_main


@pytest.mark.parametrize(("text", "port"), [("0", 0), ("1", 1), ("61081", 61081), ("65535", 65535)])
def test_a_port_number_is_taken(text: str, port: int) -> None:
    assert port_argument(text) == port


@pytest.mark.parametrize("main", [ca_main, bank_main, platform_main, agent_main],
                         ids=["ca", "bank", "platform", "agent"])
@pytest.mark.parametrize("port", ["65536", "70000", "-1"])
def test_a_port_out_of_range_is_refused_before_anything_is_written(
    main: Callable[[Sequence[str] | None], int], port: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    argv = ["serve", "--port", port] if main is agent_main else ["serve", "--state-dir", str(state), "--port", port]
    with pytest.raises(SystemExit) as refused:
        main(argv)
    assert refused.value.code == 2
    assert f"argument --port: {port} is not a TCP port (0 to 65535)" in capsys.readouterr().err
    assert not state.exists()
