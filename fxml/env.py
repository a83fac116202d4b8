"""Every environment variable the project reads or sets, named once.

Both sides import these: ``fxmlsim up`` exports them, the services and the
engine read them. A name spelled out anywhere else is a bug.
"""

from __future__ import annotations

from typing import Final

#: The clock of every process of a stack (``system``, ``fixed:ISO``, ``offset:S``, ``file:PATH``).
CLOCK: Final = "FXMLSIM_CLOCK"
#: The fxmlsim home folder (default ``~/.fxmlsim``).
HOME: Final = "FXMLSIM_HOME"
#: The cache of the argon2 hashes of the fixtures' passwords (simulator/bank/hashcache.py; ``off``: none).
HASH_CACHE: Final = "FXMLSIM_HASH_CACHE"
#: Base URL of the CA's HTTP API.
CA_URL: Final = "FXMLSIM_CA_URL"
#: The CA's state folder, for ``fxmlsim ca`` run without a service.
CA_DIR: Final = "FXMLSIM_CA_DIR"
#: The file with the CA's admin token (``<home>/ca/admin.token``, 0600), which its
#: operations outside the renewal protocol (用戶登錄, 申請, 暫禁, 解除暫禁, 廢止) need.
CA_TOKEN_FILE: Final = "FXMLSIM_CA_TOKEN_FILE"  # noqa: S105 - a variable name, not a secret
#: Fault injection in the CA service, for crash tests (``exit-after-commit``).
CA_FAULT: Final = "FXMLSIM_CA_FAULT"
#: Fault injection in the renewal runner, for crash tests (``kill-after:<state>``, ``pause-before:<state>`` ...).
RENEWAL_FAULT: Final = "FXMLSIM_RENEWAL_FAULT"
#: Base URLs of the bank's systems, the FXML platform and the local card agent.
BANK_URL: Final = "FXMLSIM_BANK_URL"
PLATFORM_URL: Final = "FXMLSIM_PLATFORM_URL"
AGENT_URL: Final = "FXMLSIM_AGENT_URL"
#: The file with the key the bank's systems sign platform tickets with (made by ``fxmlsim up``, 0600).
TICKET_KEY_FILE: Final = "FXMLSIM_TICKET_KEY_FILE"
#: A file whose first line is the 憑證載具密碼, for ``fxmlsim renew`` (never the command line).
PIN_FILE: Final = "FXMLSIM_PIN_FILE"
#: Where a run of the features keeps its screenshots and their manifest (default ``reports/screenshots``):
#: each behave process of a parallel run (scripts/test_all.py) has its own.
SCREENSHOTS: Final = "FXMLSIM_SCREENSHOTS"
#: The chromium the features and browser tests drive (default Debian's ``/usr/bin/chromium``).
CHROMIUM: Final = "FXMLSIM_CHROMIUM"
#: pcsc-lite's own variable: the socket of the pcscd a PC/SC client talks to.
PCSC_SOCKET: Final = "PCSCLITE_CSOCK_NAME"
