"""The simulated Taiwan Cooperative Bank (合作金庫銀行): its customers.

- :mod:`simulator.bank.ids`: 身分證字號 and 統一編號, validated and generated.
- :mod:`simulator.bank.customers`: the customer model (persons, companies,
  their users, accounts and certificates), its JSON files, a deterministic
  generator on faker's zh_TW locale, and the named personas of
  ``fixtures/bank/personas.json``.

See docs/bank.md.
"""
