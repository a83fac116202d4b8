"""The root of every error the engine (``fxml``) raises on purpose.

A caller that drives the engine (the CLI, the card agent, the platform)
catches :class:`FxmlError` for anything that is the user's input or the
world's state (a card refused a PIN, the CA refused a renewal, a clock
setting is wrong) and treats everything else as a bug.
"""

from __future__ import annotations


class FxmlError(Exception):
    """An error of the engine's that carries a message meant for a person."""
