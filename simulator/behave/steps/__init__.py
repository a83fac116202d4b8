"""The zh-TW steps, one module per domain (docs/pytest.md): importing a module registers its steps with
behave. A project's ``steps/`` folder imports the ones it uses::

    from simulator.behave.steps import bank, card, platform  # noqa: F401
"""
