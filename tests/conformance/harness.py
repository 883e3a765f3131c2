"""Run the Pacemaker scheduler corpus through our scheduler and compare summaries.

Usable as a script (``python -m tests.conformance.harness [--update-passing] [CASE...]``)
and from pytest (``test_corpus.py``).
"""

from __future__ import annotations

import csv
import re
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CORPUS = REPO.parent / "shared" / "pacemaker-scheduler"
PASSING = HERE / "passing.txt"

sys.path.insert(0, str(HERE))

from cib_reader import read_cib  # noqa: E402

from reconciler.scheduler.plan import plan  # noqa: E402
from reconciler.scheduler.summary import render  # noqa: E402


@dataclass(frozen=True)
class Result:
    name: str
    category: str
    ok: bool
    missing: tuple[str, ...]
    extra: tuple[str, ...]
    error: str | None = None


def _norm(line: str) -> str:
    return re.sub(r"\s+", " ", line.strip())


def expected_lines(name: str) -> list[str]:
    text = (CORPUS / f"{name}.summary").read_text()
    out: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("Transition Summary:"):
            inside = True
            continue
        if inside:
            if not line.strip():
                if out:
                    break
                continue
            if not line.startswith("  "):
                break
            out.append(_norm(line))
    return out


def our_lines(name: str) -> list[str]:
    inp, now = read_cib(CORPUS / f"{name}.xml")
    return [_norm(x) for x in render(plan(inp, now)).splitlines() if x.strip()]


def cases() -> list[tuple[str, str]]:
    with (CORPUS / "INDEX.tsv").open() as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [(r["name"], r["category"]) for r in rows]


def run_case(name: str, category: str) -> Result:
    exp = expected_lines(name)
    try:
        got = our_lines(name)
    except Exception as e:  # a crash is a failed case, reported with its cause
        return Result(name, category, False, tuple(exp), (), f"{type(e).__name__}: {e}")
    missing = [x for x in exp if x not in got]
    extra = [x for x in got if x not in exp]
    # multiset comparison
    ok = sorted(exp) == sorted(got)
    return Result(name, category, ok, tuple(missing), tuple(extra))


def read_passing() -> set[str]:
    if not PASSING.exists():
        return set()
    return {x.strip() for x in PASSING.read_text().splitlines() if x.strip() and x[0] != "#"}


def write_passing(names: set[str]) -> None:
    body = "\n".join(sorted(names))
    PASSING.write_text(
        "# Pacemaker corpus cases whose Transition Summary we reproduce exactly.\n"
        "# Only grows: rewrite with `python tests/conformance/harness.py --update-passing`.\n"
        + body
        + "\n"
    )


def table(results: list[Result]) -> str:
    cats: dict[str, list[Result]] = {}
    for r in results:
        cats.setdefault(r.category, []).append(r)
    lines = [f"{'category':<40} {'pass':>4} / {'all':>3}"]
    for c, rs in cats.items():
        lines.append(f"{c:<40} {sum(r.ok for r in rs):>4} / {len(rs):>3}")
    total = sum(r.ok for r in results)
    lines.append(f"{'TOTAL':<40} {total:>4} / {len(results):>3}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    update = "--update-passing" in argv
    verbose = "-v" in argv
    wanted = [a for a in argv if not a.startswith("-")]
    results = []
    for name, cat in cases():
        if wanted and name not in wanted:
            continue
        r = run_case(name, cat)
        results.append(r)
        if verbose or (wanted and not r.ok):
            print(f"{'PASS' if r.ok else 'FAIL'} {name}")
            if r.error:
                print("   error:", r.error)
            for m in r.missing:
                print("   -", m)
            for e in r.extra:
                print("   +", e)
    print(table(results))
    passing = read_passing()
    now_ok = {r.name for r in results if r.ok}
    regressed = sorted(passing & {r.name for r in results} - now_ok)
    if regressed:
        print("REGRESSED:", " ".join(regressed))
    if update and not wanted:
        write_passing(passing | now_ok if regressed else now_ok)
        print(f"wrote {PASSING} ({len(now_ok)} cases)")
    return 1 if regressed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
