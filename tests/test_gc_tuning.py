"""The worker's garbage-collection settings hold while it runs and are undone after."""

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
