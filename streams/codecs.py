"""The case table's changelog codec: `CaseRecord` objects in the table, their JSON on the topic."""

from __future__ import annotations

from typing import Any

from faust.serializers import codecs

from pipeline.cases.state import CaseRecord

CASE_RECORD = "cx_case_record"


class CaseRecordCodec(codecs.Codec):
    """Serialises a table value only when Faust writes or reads the changelog."""

    def _dumps(self, obj: Any) -> bytes:
        return obj.dump()

    def _loads(self, s: bytes) -> CaseRecord:
        # Recovery reads the changelog with the topic's JSON codec (see streams.cases); this is
        # for anyone reading the changelog with this codec by name.
        return CaseRecord.model_validate_json(s)


codecs.register(CASE_RECORD, CaseRecordCodec())
