"""Faust's and aiokafka's internals behind one door: each member the engine uses has the shape it
was built against, a change is named at start-up, and no other module touches one."""

import re
from pathlib import Path

import pytest

from streams.kafka import internals
from streams.kafka.internals import MEMBERS, EngineMismatch, Member

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("member", MEMBERS, ids=lambda m: m.qualified)
def test_each_internal_member_has_the_shape_the_engine_uses(member):
    assert member.problem() is None, f"{member.qualified} {member.problem()}: adapt streams/kafka/internals.py"


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


def _restored(app, partition: int, offset: int, key: bytes, value: bytes | None):
    import faust
    from faust.types import Message

    message = Message("cx-cases-changelog", partition, offset, 0.0, 0, None, key, value, None)
    return faust.Event(app, key, value, None, message)


def test_the_case_tables_store_resumes_recovery_where_it_stopped_and_keeps_standby_state(tmp_path):
    import asyncio

    import faust
    from faust.types import TP

    app = faust.App("resuming-test", datadir=str(tmp_path), autodiscover=False, web_enabled=False)
    table = app.Table("cases", default=None, partitions=4, key_type=bytes, store=internals.RESUMING_STORE)
    store = table.data
    assert isinstance(store, internals.ResumingStore)
    assert store.persisted_offset(TP("cx-cases-changelog", 0)) is None  # never read: from the start

    same = lambda raw: raw  # noqa: E731  (the case table keeps raw keys and values)
    store.apply_changelog_batch(
        [_restored(app, 0, 7, b"C1", b"s1"), _restored(app, 0, 9, b"C2", b"s2"), _restored(app, 1, 3, b"C3", b"s3"), _restored(app, 2, 4, b"C4", b"s4")],
        same,
        same,
    )
    assert store.persisted_offset(TP("cx-cases-changelog", 0)) == 9  # the next recovery goes on after it
    # Partition 0 stays active, 1 turns standby, 2 went to a worker this one does not stand by for.
    asyncio.run(store.on_recovery_completed({TP("cx-cases-changelog", 0)}, {TP("cx-cases-changelog", 1)}))
    assert dict(store.data) == {b"C1": b"s1", b"C2": b"s2", b"C3": b"s3"}
    assert store.persisted_offset(TP("cx-cases-changelog", 1)) == 3
    assert store.persisted_offset(TP("cx-cases-changelog", 2)) is None  # read again from the start if it comes back
    store.apply_changelog_batch([_restored(app, 0, 10, b"C1", None)], same, same)  # a tombstone
    assert b"C1" not in store.data and store.persisted_offset(TP("cx-cases-changelog", 0)) == 10
