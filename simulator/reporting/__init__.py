"""The documents of a run of the features, for the bank's staff: the report (report.py) and the
living manual (manual.py), from behave's JSON and the screenshots' manifest (results.py,
manifest.py). docs/reports.md says what they show and how to make them."""
