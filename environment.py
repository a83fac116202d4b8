"""behave hooks for the features in features/ (steps in steps/).

behave looks for this file beside the ``steps/`` folder it finds, which is the
repository root. Every run gets its own fxmlsim home: a private PC/SC stack
with two readers and the simulated TWCA CA, started once and stopped at the
end, whatever happened.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from behave.model import Scenario
from behave.runner import Context

from simulator.home import Home


def before_all(context: Context) -> None:
    context.home_dir = Path(tempfile.mkdtemp(prefix="fxmlsim-features-"))
    context.home = Home(context.home_dir)
    env = context.home.up(readers=2)
    # pcsc-lite reads PCSCLITE_CSOCK_NAME at this process's first PC/SC call.
    os.environ.update(env)


def after_scenario(context: Context, scenario: Scenario) -> None:
    home: Home = context.home
    if home.stack.running():
        for reader in home.stack.readers():
            if reader["card"]:
                home.stack.remove(reader["index"])


def after_all(context: Context) -> None:
    try:
        context.home.down()
    finally:
        shutil.rmtree(context.home_dir, ignore_errors=True)
