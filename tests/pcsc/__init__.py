"""Tests through the real pcscd + vpcd stack (marker ``pcsc``), and OpenSC on top of it (``opensc``)."""
