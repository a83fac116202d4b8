"""Helpers the tests and benchmarks share (not tests themselves): paths in the repository,
pre-generated keys and scripted cards, a card OS on a temporary image, the
client program the tearing tests run in a process of its own, renewal helpers."""
