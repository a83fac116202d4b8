"""virtualsmartcard's ``SmartcardOS``, the base of the card OS, from Debian's python3-virtualsmartcard:
importable from the checkout's ``.venv`` (its ``.pth`` file) and from an installed wheel alike
(:func:`simulator.debian.find_virtualsmartcard`)."""

from __future__ import annotations

from simulator.debian import find_virtualsmartcard

find_virtualsmartcard()

from virtualsmartcard.VirtualSmartcard import SmartcardOS  # noqa: E402

__all__ = ["SmartcardOS"]
