"""Tests that need nothing but Python: in process, no daemon, no network."""
