"""The grafana-clickhouse-datasource query target (the SDK has no ClickHouse query type)."""

from __future__ import annotations

import typing

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard as dm

PLUGIN = "grafana-clickhouse-datasource"
DATASOURCE_UID = "cx-clickhouse"
# The plugin's format numbers (grafana-plugin-sdk-go sqlutil.FormatQueryOption).
FORMAT_TIME_SERIES = 0
FORMAT_TABLE = 1


def datasource() -> dm.DataSourceRef:
    """Our provisioned ClickHouse datasource."""
    return dm.DataSourceRef(type_val=PLUGIN, uid=DATASOURCE_UID)


class ClickHouseQuery(cogvariants.Dataquery):
    """A raw-SQL target as the plugin's SQL editor saves it."""

    def __init__(self, raw_sql: str, time_series: bool, ref_id: str = "A") -> None:
        self.raw_sql = raw_sql
        self.time_series = time_series
        self.ref_id = ref_id

    def to_json(self) -> dict[str, object]:
        """The target as Grafana stores it in the dashboard JSON."""
        return {
            "datasource": datasource().to_json(),
            "editorType": "sql",
            "format": FORMAT_TIME_SERIES if self.time_series else FORMAT_TABLE,
            "queryType": "timeseries" if self.time_series else "table",
            "rawSql": self.raw_sql,
            "refId": self.ref_id,
        }


class ClickHouseTarget(cogbuilder.Builder[ClickHouseQuery]):
    """Builder for `ClickHouseQuery`, for the SDK's `with_target`."""

    def __init__(self, raw_sql: str, time_series: bool) -> None:
        self._internal = ClickHouseQuery(raw_sql, time_series)

    def build(self) -> ClickHouseQuery:
        """The target."""
        return self._internal

    def ref_id(self, ref_id: str) -> typing.Self:
        """Name the target (A, B, ...)."""
        self._internal.ref_id = ref_id
        return self
