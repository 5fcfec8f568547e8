"""Faust's and aiokafka's internals behind one door: each member the engine uses has the shape it
was built against, a change is named at start-up, and no other module touches one."""

import re
from pathlib import Path

import pytest

from streams import internals
from streams.internals import MEMBERS, EngineMismatch, Member

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("member", MEMBERS, ids=lambda m: m.qualified)
def test_each_internal_member_has_the_shape_the_engine_uses(member):
    assert member.problem() is None, f"{member.qualified} {member.problem()}: adapt streams/internals.py"


def test_the_pinned_releases_pass_the_start_up_check():
    internals.check()


def test_a_changed_member_is_named_at_start_up():
    class Renamed:
        def _add_gaps(self, tp, offset_from, offset_to): ...

        def _ensure_consumer(self, timeout): ...

    gone = Member(Renamed, "_add_gap", ("self", "tp", "offset_from", "offset_to"), "gaps")
    reshaped = Member(Renamed, "_ensure_consumer", ("self",), "the consumer")
    attribute = Member(Renamed, "_read_offset", None, "read offsets")
    with pytest.raises(EngineMismatch) as raised:
        internals.check([gone, reshaped, attribute])
    said = str(raised.value)
    assert "Renamed._add_gap is gone" in said
    assert "Renamed._ensure_consumer takes ('self', 'timeout'), not ('self',)" in said
    assert "Renamed._read_offset is neither declared nor set by __init__" in said


def test_no_module_but_the_door_touches_an_internal_member():
    names = {m.name for m in MEMBERS} | {"data"}  # `table.data`: the table's store, behind the door too
    used = re.compile(r"\.(" + "|".join(map(re.escape, sorted(names))) + r")\b")
    outside = []
    for path in sorted((ROOT / "streams").rglob("*.py")) + sorted((ROOT / "pipeline").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if path.name == "internals.py" or not re.search(r"^(import|from) (faust|aiokafka)\b", text, re.M):
            continue  # only a module holding Faust's or aiokafka's objects can reach into them
        for number, line in enumerate(text.splitlines(), 1):
            if match := used.search(line.split("#", 1)[0]):
                outside.append(f"{path.relative_to(ROOT)}:{number}: .{match.group(1)}")
    assert outside == []
