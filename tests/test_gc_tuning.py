"""The worker's garbage-collection settings hold while it runs and are undone after; the case process
collects by hand."""

import gc

from pipeline.gc_tuning import YOUNG_COLLECTION_EVERY, collecting_less


def test_collecting_less_while_the_block_runs_and_as_before_after():
    before = gc.get_threshold()
    with collecting_less():
        assert gc.get_threshold() == (YOUNG_COLLECTION_EVERY, *before[1:])
        assert gc.get_freeze_count() > 0  # what was alive at the start is left out of collections
        garbage = []
        garbage.append(garbage)  # a cycle: still collected when asked
        del garbage
        assert gc.collect() >= 1
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_by_hand_no_automatic_collections_and_a_due_one_frees_cycles():
    import weakref

    from pipeline.gc_tuning import collect_by_hand, collect_if_due

    class Node:
        pass

    try:
        collect_by_hand()
        assert not gc.isenabled()
        node = Node()
        node.self = node  # a cycle: only a collection frees it
        gone = weakref.ref(node)
        del node
        for _ in range(100_000):
            [[]]  # allocations that would trigger automatic collections
        collect_if_due(every=3600)  # not due yet
        assert gone() is not None
        collect_if_due(every=0)
        assert gone() is None
        assert gc.get_freeze_count() > 0  # what survived is left out of the next collections
    finally:
        gc.enable()
        gc.unfreeze()


def test_the_case_process_collects_by_hand():
    from datetime import timedelta

    from streams.pools import cases as process

    try:
        process._start_keeper(None, "event", timedelta(minutes=10), timedelta(days=7), timedelta(minutes=5), timedelta(hours=1))  # what the process runs first
        assert not gc.isenabled()
        assert process._call("on_tick", ()).empty
    finally:
        gc.enable()
        process._keeper = None
