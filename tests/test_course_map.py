"""The course map's shorter routes add up from its own table.

notebooks/README.md lists every notebook with an "in class" time, then suggests routes
through a few notebooks, each with a total ("Two lessons (140 min): 01, 02, 04, 08"). A
total typed by hand drifted once (a "90 min" lesson whose notebooks add up to 140 min);
here each route's total is recomputed from the table.
"""
import re
from pathlib import Path

MAP = Path(__file__).resolve().parent.parent / "notebooks" / "README.md"
ROW = re.compile(r"^\| (\d\d) \| \[[^\]]+\]\([^)]+\) \|[^|]*\| (\d+) min \|", re.M)
ROUTE = re.compile(r"^- \*\*(?P<name>[^(*]+?) \((?P<total>\d+) min\):\*\* (?P<notebooks>\d\d(?:, \d\d)*)", re.M)


def class_minutes(text):
    """{"00": 20, ...}: the "in class" column of the notebook table."""
    return {num: int(minutes) for num, minutes in ROW.findall(text)}


def route_errors(text):
    """One message per route whose stated total differs from the table's sum."""
    minutes = class_minutes(text)
    errors = []
    for m in ROUTE.finditer(text):
        numbers = m["notebooks"].split(", ")
        total = sum(minutes[n] for n in numbers)
        if total != int(m["total"]):
            errors.append(f"{m['name']}: says {m['total']} min, the table adds up to {total} "
                          f"({' + '.join(str(minutes[n]) for n in numbers)})")
    return errors


def test_the_table_lists_every_notebook_with_its_minutes():
    minutes = class_minutes(MAP.read_text(encoding="utf-8"))
    on_disk = sorted(p.name[:2] for p in MAP.parent.glob("[0-9][0-9]_*.ipynb"))
    assert len(on_disk) >= 12 and sorted(minutes) == on_disk


def test_every_route_states_its_total_and_it_adds_up():
    text = MAP.read_text(encoding="utf-8")
    routes = text.split("Shorter routes:")[1].split("\n\n")[1]
    lines = [line for line in routes.splitlines() if line.startswith("- **")]
    assert len(lines) >= 3 and len(ROUTE.findall(routes)) == len(lines), \
        "every route starts '- **Name (N min):** 01, 02, ...'"
    assert route_errors(text) == []


def test_a_wrong_total_is_found():
    text = MAP.read_text(encoding="utf-8")
    wrong = text.replace("**Two lessons (140 min):**", "**One lesson (90 min):**")
    assert wrong != text
    assert route_errors(wrong) == ["One lesson: says 90 min, the table adds up to 140 (45 + 25 + 30 + 40)"]
