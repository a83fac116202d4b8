"""The engine's side of the CA: an HTTP client for the TWCA Financial User CA
API (the simulated one in ``simulator/ca``, or any service speaking it)."""
