"""The simulated TWCA Financial User CA (see docs/ca.md).

:class:`~simulator.ca.service.CertificateAuthority` is the service,
:mod:`simulator.ca.http` its HTTP API, ``python -m simulator.ca serve`` the
process ``fxmlsim up`` starts, :mod:`simulator.ca.cli` the ``fxmlsim ca``
commands. Only :mod:`fxml.clock` is imported from the rest of the project.
"""
