"""The services ``fxmlsim up`` starts, in one registry: adding a server is one entry.

Each service is a module with a ``serve`` command that listens on a loopback
port and prints ``READY <url>`` once it answers (see :mod:`fxml.web.server`).
``up`` picks a free port for each, then starts them in the order listed here;
each gets, in its environment, the URLs of all of them, the stack's clock,
the key the bank signs platform tickets with and, when it needs the card
readers, the private pcscd's socket.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fxml import env


@dataclass(frozen=True)
class ServiceSpec:
    """One server of the stack."""

    #: Short name: the key in ``services.json`` and in ``fxmlsim status``.
    name: str
    #: What a person calls it (shown by ``fxmlsim up``).
    title: str
    #: ``python -m <module> serve ...`` runs it.
    module: str
    #: The environment variable that carries its base URL to clients.
    url_env: str
    #: Its state folder under the home (None: it keeps no state).
    state_dir: str | None = None
    #: True when it talks to the card readers (gets PCSCLITE_CSOCK_NAME).
    needs_pcsc: bool = False
    #: Further arguments of its ``serve`` command.
    extra_args: tuple[str, ...] = field(default=())
    #: The variables whose URLs' pages may call it (``--allow-origin`` each): the card agent's.
    allow_origins: tuple[str, ...] = field(default=())

    def command(self, home_root: Path, port: int, urls: Mapping[str, str] | None = None,
                listen_fd: int | None = None) -> list[str]:
        """``python -m <module> serve ...``; ``urls`` (by variable) gives the origins of ``allow_origins``;
        ``listen_fd``, a listening socket on ``port`` the child inherits and serves on."""
        cmd = [sys.executable, "-m", self.module, "serve", "--host", "127.0.0.1", "--port", str(port)]
        if listen_fd is not None:
            cmd += ["--listen-fd", str(listen_fd)]
        if self.state_dir is not None:
            cmd += ["--state-dir", str(home_root / self.state_dir)]
        for name in self.allow_origins:
            if urls and urls.get(name):
                cmd += ["--allow-origin", urls[name]]
        return cmd + list(self.extra_args)


CA = ServiceSpec(name="ca", title="模擬 TWCA 憑證中心", module="simulator.ca", url_env=env.CA_URL, state_dir="ca")
# The card agent answers the pages of the platform (the renewal) and of the bank (transfers signed on
# the card), and refuses every other origin.
AGENT = ServiceSpec(name="agent", title="憑證元件（本機憑證載具代理程式）", module="fxml.agent", url_env=env.AGENT_URL,
                    needs_pcsc=True, allow_origins=(env.PLATFORM_URL, env.BANK_URL))
PLATFORM = ServiceSpec(name="platform", title="FXML 憑證管理平台", module="fxml.platform", url_env=env.PLATFORM_URL,
                       state_dir="platform")
BANK = ServiceSpec(name="bank", title="合作金庫銀行（個人網路銀行、企業網路銀行、EOI 系統）", module="simulator.bank",
                   url_env=env.BANK_URL, state_dir="bank")

#: Every service, in start order. Ports are chosen before the first starts, so
#: every service knows every other's URL (the platform the agent's, the agent
#: the platform's).
SERVICES: tuple[ServiceSpec, ...] = (CA, AGENT, PLATFORM, BANK)


def by_name(name: str) -> ServiceSpec:
    for spec in SERVICES:
        if spec.name == name:
            return spec
    raise KeyError(name)
