"""The reports of the shards of one run (``scripts/test_all.py --shard I/N``) as one run's, ending
with the closing line an unsharded run prints: ``N passed, N failed, N skipped``.

    .venv/bin/python scripts/merge.py                        # reports/shard-*-of-*/ into reports/
    .venv/bin/python scripts/merge.py DIR... [--out reports]  # the shards' folders, wherever CI put them

From the shards' folders it makes, in ``--out``: pytest.xml (every shard's suites), features/
(every shard's JUnit files), features.json (behave's JSON, every feature), screenshots/ (the images
and one manifest), durations.json (the seconds of every file: copy it to tests/durations.json to
deal the next shards by them) and summary.json. Then what an unsharded run does after its
features, on every shard's results at once: the traceability with results (docs/traceability.md)
and the two documents for the bank's staff, the report (``fxmlsim report``) and the living manual
(``fxmlsim manual``), each one check, as in an unsharded run. The counts are the sum of the shards'
(summary.json of each) and of these three checks, so a run split into shards ends with the same
line as the same run whole. Exit status 1 if anything failed, or if a shard of the N is missing, or
one is there twice; 2 if no shard's folder was found.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import shards
import test_all
from test_all import Counts


def load_shard(folder: Path) -> tuple[dict[str, Any], dict[str, Counts]]:
    info = json.loads((folder / "shard.json").read_text(encoding="utf-8"))
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    parts = {name: Counts(passed=c["passed"], failed=c["failed"], skipped=c["skipped"],
                          skips=[tuple(s) for s in c["skips"]], problems=list(c["problems"]))
             for name, c in summary.items()}
    return {"index": int(info["index"]), "count": int(info["count"]),
            "whole_features": bool(info.get("whole_features", True))}, parts


def merge_files(folders: list[Path], out: Path) -> None:
    """The shards' JUnit files, behave's JSON, screenshots and durations as one run's, in ``out``."""
    shards.merge_junit([f / "pytest.xml" for f in folders], out / "pytest.xml")
    junit = out / "features"
    shutil.rmtree(junit, ignore_errors=True)
    junit.mkdir(parents=True)
    for folder in folders:
        for xml in sorted((folder / "features").glob("TESTS-*.xml")):
            # A feature file's scenarios may be in several shards: each shard's file of it, by name.
            shutil.copyfile(xml, junit / f"{xml.stem}.{folder.name}.xml")
    features = shards.merge_features_json([f / "features.json" for f in folders], out / "features.json")
    shots = shards.merge_screenshots([f / "screenshots" for f in folders], out / "screenshots")
    test_all.say(f"[merge] {features} features, {shots} screenshots")
    fixed: dict[str, float] = {}
    for folder in folders:
        for name, seconds in shards.read_durations(folder / "durations.json")["fixed"].items():
            fixed[name] = fixed.get(name, 0) + seconds
    shards.write_durations(out / "durations.json", shards.pytest_durations(out / "pytest.xml"),
                           shards.feature_durations(out / "features.json"), fixed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", type=Path, help="the shards' report folders "
                        "(default: reports/shard-*-of-*/)")
    parser.add_argument("--out", type=Path, default=test_all.ROOT / "reports", help="the merged run's folder")
    args = parser.parse_args(argv)
    folders = [f.resolve() for f in args.folders] or sorted((test_all.ROOT / "reports").glob("shard-*-of-*"))
    folders = [f for f in folders if (f / "shard.json").exists() and (f / "summary.json").exists()]
    if not folders:
        print("merge: no shard's reports found (each has shard.json and summary.json)", file=sys.stderr)
        return 2
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    test_all.REPORTS = out

    parts: dict[str, Counts] = {}
    seen: dict[int, Path] = {}
    counts_of_n: set[int] = set()
    whole = True
    problems = Counts()
    for folder in folders:
        info, shard_parts = load_shard(folder)
        counts_of_n.add(info["count"])
        whole = whole and info["whole_features"]
        if info["index"] in seen:
            problems.fail(f"shard {info['index']} is there twice: {seen[info['index']]} and {folder}")
        seen[info["index"]] = folder
        for name, counts in shard_parts.items():
            parts.setdefault(name, Counts()).add(counts)
    n = max(counts_of_n)
    if len(counts_of_n) > 1:
        problems.fail(f"the folders are shards of different splits: of {sorted(counts_of_n)}")
    missing = sorted(set(range(1, n + 1)) - set(seen))
    if missing:
        problems.fail(f"shard(s) {', '.join(map(str, missing))} of {n} missing: their tests were not run")
    test_all.say(f"[merge] {len(folders)} shard(s) of {n}: {', '.join(str(f) for f in folders)} -> {out}")

    merge_files(folders, out)
    if "features" in parts:  # as an unsharded run of the same features does
        if whole:
            parts["traceability"] = test_all.run_traceability()
        parts["documents"] = test_all.run_documents(whole=whole)
    if problems.failed:
        parts["merge"] = problems
    return test_all.summarize(parts)


if __name__ == "__main__":
    sys.exit(main())
