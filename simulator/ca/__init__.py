"""The simulated TWCA Financial User CA (see docs/ca.md).

:class:`~simulator.ca.service.CertificateAuthority` is the service,
:mod:`simulator.ca.app` its HTTP API, ``python -m simulator.ca serve`` the
process ``fxmlsim up`` starts, :mod:`simulator.ca.cli` the ``fxmlsim ca``
commands, :mod:`simulator.ca.testing` quick CAs for tests and benchmarks.
The service imports only :mod:`fxml.clock` from the rest of the project; the
CLI also uses the engine's client (:mod:`fxml.ca.client`) and the home folder.
"""
