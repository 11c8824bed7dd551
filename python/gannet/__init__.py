"""Gannet: an object-storage-native search database, from Python.

    import gannet

    db = gannet.open("./gannet-data")              # embedded: the engine in this process
    db = gannet.connect("http://127.0.0.1:8080")   # remote: HTTP to `gannet serve`

    ns = db.namespace("docs")
    ns.write(upsert_rows=[{"id": 1, "vector": [0.1, 0.9], "title": "gannets"}],
             distance_metric="cosine_distance")
    res = ns.query(rank_by=["vector", "ANN", [0.1, 0.8]], top_k=5,
                   include_attributes=["title"])
    for row in res.rows:
        print(row.id, row.dist, row.title)

Both clients have the same methods, with parameter names of turbopuffer's Python client.
"""

from ._client import Client, Filter, Namespace, connect, open
from ._errors import (
    AlreadyExists,
    Conflict,
    Corruption,
    GannetError,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    ResourceExhausted,
    StorageIOError,
    Unavailable,
)
from ._types import Id, NamespaceMetadata, NamespaceSummary, QueryResult, Row, WriteResult

__version__ = "0.1.0"

__all__ = [
    "AlreadyExists",
    "Client",
    "Conflict",
    "Corruption",
    "Filter",
    "GannetError",
    "Id",
    "Internal",
    "InvalidArgument",
    "Namespace",
    "NamespaceMetadata",
    "NamespaceSummary",
    "NotFound",
    "PermissionDenied",
    "PreconditionFailed",
    "QueryResult",
    "ResourceExhausted",
    "Row",
    "StorageIOError",
    "Unavailable",
    "WriteResult",
    "connect",
    "open",
]
