"""The root of every error the simulator raises on purpose.

The ``fxmlsim`` command catches :class:`SimulatorError` (and the engine's
:class:`~fxml.errors.FxmlError`) for anything that is the user's input or the
machine's state (a card image that does not load, a stack that is not
running, a request the CA refuses) and treats everything else as a bug.
"""

from __future__ import annotations


class SimulatorError(Exception):
    """An error of the simulator's that carries a message meant for a person."""
