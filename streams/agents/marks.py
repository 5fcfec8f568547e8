"""What landing tells the case clock about its input partitions: how far each has been read, and
whether anything is left to read on it (`pipeline.cases.clock.InputMark`), on every case-feed
partition after each landing batch."""

from __future__ import annotations

from collections.abc import Sequence

import faust
from faust.types import TP
from faust.types import Message as FetchedMessage

from pipeline.cases.clock import InputMarks
from pipeline.cases.feed import marks_line
from pipeline.landing import Landing, note_input_times
from streams.kafka.topics import unread_after


class InputReport:
    """The input partitions of one landing agent, as of the batches it has written (in order)."""

    def __init__(self, app: faust.App, topic: str, marks: InputMarks):
        self.app = app
        self.topic = topic
        self.marks = marks
        self._taken: set[TP] = set()  # partitions with messages taken for a batch, written or not
        self._written: dict[TP, int] = {}  # the last offset written per partition

    def taken(self, batch: Sequence[FetchedMessage]) -> None:
        """A batch was taken (it is landed and written later, in order)."""
        self._taken.update(m.tp for m in batch)

    def written(self, batch: Sequence[FetchedMessage], landing: Landing) -> bytes:
        """A batch is about to be written: note its event times (odd ones become `cx.late_events` rows
        of `landing`) and return the marks line for the case feed."""
        for message in batch:
            self._written[message.tp] = message.offset
        note_input_times(landing, self.marks)
        assigned = [tp for tp in self.app.consumer.assignment() if tp.topic == self.topic]
        names = {f"{tp.topic}:{tp.partition}": tp for tp in assigned}
        self.marks.forget(names)  # partitions handed to another worker: it reports them now
        for gone in set(self._written) - set(assigned):
            del self._written[gone]
        self._taken &= set(assigned)
        return marks_line(self.marks.report(names, lambda name: self._idle(names[name])))

    def _idle(self, tp: TP) -> bool:
        # Idle: nothing after what was written, by the log end last fetched. Events taken for a later
        # batch count as unread, so a partition is never idle while its next batch is on its way.
        if tp in self._written:
            return unread_after(self.app, tp, self._written[tp]) == 0
        if tp in self._taken:
            return False
        end = self.app.consumer.fetched_end(tp)
        return end is not None and end[0] <= self.app.consumer.start_position(tp)
