"""Typed results shared by the embedded and remote clients."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator, Mapping, Optional

Id = int | str
"""A document id: an unsigned integer, or a string (UUIDs are strings)."""


def decode_vector(value: Any) -> Any:
    """A response vector as a float32 array: base64 strings are viewed without a copy.
    NumPy is imported here, by the first result with a vector, not by `import gannet`."""
    import numpy as np

    if isinstance(value, str):
        return np.frombuffer(base64.b64decode(value), dtype="<f4")
    if isinstance(value, list):
        return np.asarray(value, dtype=np.float32)
    return value


def _parse_time(text: Any) -> Optional[datetime]:
    if not isinstance(text, str):
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def rows_as_objects(response: dict[str, Any]) -> dict[str, Any]:
    """A decoded response with each result row made a `Row`, in place: the elements of
    "rows" and "fused", and of "rows" in each of "results" (what the embedded engine
    returns directly)."""
    row = Row.from_json
    for key in ("rows", "fused"):
        if isinstance(response.get(key), list):
            response[key] = [row(r) for r in response[key]]
    for result in response.get("results") or ():
        if isinstance(result, dict) and isinstance(result.get("rows"), list):
            result["rows"] = [row(r) for r in result["rows"]]
    return response


@dataclass(slots=True)
class Row:
    """One result row: `id`, `dist` (the "$dist" of a vector ranking) and attributes.

    Attributes are reachable as `row.title`, `row["title"]` or `row.attributes`. The
    "vector" attribute is a NumPy float32 array.
    """

    id: Id
    dist: Optional[float] = None
    attributes: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "Row":
        # On the path of every result row: the slots are set directly (as the dataclass
        # __init__ would), and a row of only id and $dist skips the attribute copy.
        row = object.__new__(cls)
        row.id = obj["id"]
        row.dist = obj.get("$dist")
        n = len(obj)
        if n == 1 or (n == 2 and "$dist" in obj):
            row.attributes = {}
            return row
        attrs = {k: v for k, v in obj.items() if k != "id" and k != "$dist"}
        if "vector" in attrs:
            attrs["vector"] = decode_vector(attrs["vector"])
        row.attributes = attrs
        return row

    def __getattr__(self, name: str) -> Any:
        # Only called for names that are not fields (or fields not set yet).
        if name in Row.__slots__:
            raise AttributeError(name)
        attrs = self.attributes
        if name in attrs:
            return attrs[name]
        raise AttributeError(f"row {self.id!r} has no attribute {name!r}")

    def __getitem__(self, key: str) -> Any:
        if key == "id":
            return self.id
        if key == "$dist":
            return self.dist
        return self.attributes[key]

    def __contains__(self, key: object) -> bool:
        return key == "id" or (key == "$dist" and self.dist is not None) or key in self.attributes

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def to_dict(self) -> dict[str, Any]:
        """The row as the API's JSON object: {"id": ..., "$dist": ..., attributes...}."""
        out: dict[str, Any] = {"id": self.id}
        if self.dist is not None:
            out["$dist"] = self.dist
        out.update(self.attributes)
        return out


@dataclass
class QueryResult:
    """A query's answer: `rows` (ranked or filtered documents) or `aggregations` (with
    `aggregation_groups` under group_by), plus `performance` and `billing`."""

    rows: list[Row] = field(default_factory=list)
    aggregations: Optional[dict[str, Any]] = None
    aggregation_groups: Optional[list[dict[str, Any]]] = None
    performance: dict[str, Any] = field(default_factory=dict)
    billing: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "QueryResult":
        """From a decoded response, which it takes over (its dicts are not copied)."""
        row = Row.from_json
        return cls.from_response({**obj, "rows": [row(r) for r in obj.get("rows") or ()]})

    @classmethod
    def from_response(cls, obj: Mapping[str, Any]) -> "QueryResult":
        """From a response as the transports return it: its rows already `Row`s."""
        return cls(
            rows=obj.get("rows") or [],
            aggregations=obj.get("aggregations"),
            aggregation_groups=obj.get("aggregation_groups"),
            performance=obj.get("performance") or {},
            billing=obj.get("billing") or {},
        )

    @property
    def ids(self) -> list[Id]:
        return [r.id for r in self.rows]

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class WriteResult:
    """A write's outcome. The *_ids lists are set when return_affected_ids=True."""

    rows_affected: int = 0
    rows_upserted: int = 0
    rows_patched: int = 0
    rows_deleted: int = 0
    upserted_ids: Optional[list[Id]] = None
    patched_ids: Optional[list[Id]] = None
    deleted_ids: Optional[list[Id]] = None
    status: str = "OK"
    message: Optional[str] = None
    billing: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "WriteResult":
        return cls(
            rows_affected=int(obj.get("rows_affected", 0)),
            rows_upserted=int(obj.get("rows_upserted", 0)),
            rows_patched=int(obj.get("rows_patched", 0)),
            rows_deleted=int(obj.get("rows_deleted", 0)),
            upserted_ids=obj.get("upserted_ids"),
            patched_ids=obj.get("patched_ids"),
            deleted_ids=obj.get("deleted_ids"),
            status=str(obj.get("status", "OK")),
            message=obj.get("message"),
            billing=dict(obj.get("billing") or {}),
        )


@dataclass
class NamespaceMetadata:
    """What `Namespace.metadata()` returns (the /v1/namespaces/{ns}/metadata shape)."""

    schema: dict[str, Any]
    approx_row_count: int
    approx_logical_bytes: int
    created_at: Optional[datetime]
    updated_at: Optional[datetime]
    index: dict[str, Any]
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def unindexed_rows(self) -> int:
        return int(self.index.get("unindexed_rows", 0))

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "NamespaceMetadata":
        return cls(
            schema=dict(obj.get("schema") or {}),
            approx_row_count=int(obj.get("approx_row_count", 0)),
            approx_logical_bytes=int(obj.get("approx_logical_bytes", 0)),
            created_at=_parse_time(obj.get("created_at")),
            updated_at=_parse_time(obj.get("updated_at")),
            index=dict(obj.get("index") or {}),
            raw=dict(obj),
        )


@dataclass(frozen=True)
class NamespaceSummary:
    """One entry of `client.namespaces()`."""

    id: str
