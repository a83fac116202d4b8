"""The services ``fxmlsim up`` starts, in one registry: adding a server is one entry.

Each service is a module with a ``serve`` command that listens on a loopback
port and prints ``READY <url>`` once it answers (see :mod:`fxml.web.server`).
``up`` starts them in the order listed here; each gets, in its environment,
the URLs of the ones before it (so the bank knows the CA, the platform the
bank), the stack's clock and, when it needs the card readers, the private
pcscd's socket.
"""

from __future__ import annotations

import sys
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

    def command(self, home_root: Path, port: int) -> list[str]:
        cmd = [sys.executable, "-m", self.module, "serve", "--host", "127.0.0.1", "--port", str(port)]
        if self.state_dir is not None:
            cmd += ["--state-dir", str(home_root / self.state_dir)]
        return cmd + list(self.extra_args)


CA = ServiceSpec(name="ca", title="模擬 TWCA 憑證中心", module="simulator.ca", url_env=env.CA_URL, state_dir="ca")
AGENT = ServiceSpec(name="agent", title="憑證元件（本機憑證載具代理程式）", module="fxml.agent", url_env=env.AGENT_URL,
                    needs_pcsc=True)

#: Every service, in start order (later ones may use the earlier ones' URLs).
SERVICES: tuple[ServiceSpec, ...] = (CA, AGENT)


def by_name(name: str) -> ServiceSpec:
    for spec in SERVICES:
        if spec.name == name:
            return spec
    raise KeyError(name)
