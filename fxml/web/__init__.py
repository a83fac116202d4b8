"""What every web app of the project shares: serving on the one web stack
(:mod:`fxml.web.server`), bounded request bodies, the app factory, the bank's
page frame as templates, sessions and CSRF.

Below the FXML platform, the card agent and the bank's systems: the platform
uses it without ever importing the simulator.
"""
