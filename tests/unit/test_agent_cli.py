"""``python -m fxml.agent serve`` as a process without any PC/SC daemon: it starts,
says so, answers PCSC_UNAVAILABLE, stops on SIGTERM; and the settings it refuses."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fxml.agent.api import MESSAGES, ErrorCode
from fxml.agent.client import AgentClient


def serve(tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PCSCLITE_CSOCK_NAME": str(tmp_path / "no-pcscd.comm")}
    env.pop("FXMLSIM_PLATFORM_URL", None)
    return subprocess.Popen([sys.executable, "-m", "fxml.agent", "serve", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)


def refused(tmp_path: Path, *args: str) -> str:
    proc = serve(tmp_path, *args)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and out == b""
    return err.decode()


def test_without_pcscd_the_agent_starts_and_says_so(tmp_path: Path) -> None:
    proc = serve(tmp_path, "--port", "0", "--allow-origin", "http://127.0.0.1:8001")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert line.startswith("READY http://127.0.0.1:")
        client = AgentClient(line.split()[1])
        status = client.status()
        assert status["pcsc"]["available"] is False and status["readers"] == 0
        assert status["allowed_origins"] == ["http://127.0.0.1:8001"]
        reply = client.request("GET", "/v1/readers")
        assert reply.status == 503 and reply.json()["error"]["code"] == ErrorCode.PCSC_UNAVAILABLE
        assert reply.json()["error"]["message"] == MESSAGES[ErrorCode.PCSC_UNAVAILABLE]
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_a_busy_port_a_remote_host_and_bad_settings_are_refused(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert "埠號已被使用" in refused(tmp_path, "--port", str(port))
    assert "loopback" in refused(tmp_path, "--host", "0.0.0.0", "--port", "0")  # noqa: S104 - refused, the point
    assert "not an http(s) URL" in refused(tmp_path, "--port", "0", "--allow-origin", "ftp://127.0.0.1")
    assert "cannot load the renewal engine" in refused(tmp_path, "--port", "0", "--engine", "no.such:thing")


@pytest.mark.parametrize(("content", "reason"), [
    ("not json", "not JSON"),
    (json.dumps({"algorithm": "DES", "key": "00" * 8}), "algorithm must be one of"),
    (json.dumps({"algorithm": "3DES", "key": "zz" * 24}), "not hex"),
    (json.dumps({"algorithm": "AES128", "key": "ab" * 24}), "has 16 bytes"),
    (json.dumps({"algorithm": "3DES"}), "expected"),
])
def test_an_unusable_management_key_file_is_refused_without_showing_the_key(
    tmp_path: Path, content: str, reason: str
) -> None:
    key_file = tmp_path / "key.json"
    key_file.write_text(content)
    message = refused(tmp_path, "--port", "0", "--management-key-file", str(key_file))
    assert reason in message
    assert "abab" not in message and "zzzz" not in message
