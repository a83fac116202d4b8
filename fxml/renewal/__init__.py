"""The renewal engine: 憑證更新 as an explicit, persisted state machine (no UI).

It runs where the card is (in the card agent for the browser, in process for
the CLI) and talks to the card only through PC/SC and to the CA only through
its API, so it works unchanged with a physical card and the real bank.
"""
