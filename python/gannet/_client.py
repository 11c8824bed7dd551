"""Client and Namespace: one API over two transports.

`gannet.open(path)` runs the engine in this process (the `_gannet` extension);
`gannet.connect(url)` speaks HTTP to `gannet serve`. Both exchange the same JSON bodies
(turbopuffer's v2 API), so request building and response decoding live here once.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Iterator, Mapping, Optional, Protocol, Sequence

from . import _encode
from ._errors import GannetError, Unavailable, from_http
from ._types import (Id, NamespaceMetadata, NamespaceSummary, QueryResult, WriteResult,
                     rows_as_objects)

Filter = Sequence[Any]
"""A filter expression: ["attr", "Op", value], ["And", [...]], ["Or", [...]], ["Not", f]."""


class _Transport(Protocol):
    """The engine calls, JSON text in and out (the `_gannet.Database` methods), except
    query, which takes the request dict and returns the decoded response with each result
    row a `Row` (types.rows_as_objects)."""

    def write(self, namespace: str, body: str) -> str: ...

    def query(self, namespace: str, body: Mapping[str, Any]) -> Any:
        """The response decoded (the embedded engine builds it without JSON text)."""
        ...

    def metadata(self, namespace: str) -> str: ...

    def schema(self, namespace: str) -> str: ...

    def update_schema(self, namespace: str, body: str) -> str: ...

    def delete_namespace(self, namespace: str) -> None: ...

    def list_namespaces(self, prefix: str, cursor: str, page_size: int) -> str: ...

    def close(self) -> None: ...


class _Http:
    """HTTP transport to `gannet serve` (stdlib only)."""

    def __init__(self, url: str, api_key: Optional[str], timeout: float) -> None:
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"expected an http:// or https:// URL, got {url!r}")
        self._base = url.rstrip("/")
        self._timeout = timeout
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"

    def _call(self, method: str, path: str, body: Optional[str] = None) -> str:
        data = body.encode("utf-8") if body is not None else None
        req = urllib.request.Request(
            self._base + path, data=data, method=method, headers=self._headers
        )
        try:
            with urllib.request.urlopen(req, timeout=self._timeout) as resp:
                return str(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", errors="replace")
            message = text
            try:
                obj = json.loads(text)
                if isinstance(obj, dict) and isinstance(obj.get("error"), str):
                    message = obj["error"]
            except ValueError:
                pass
            raise from_http(e.code, message) from None
        except urllib.error.URLError as e:
            raise Unavailable(f"{method} {self._base}{path}: {e.reason}") from None
        except (TimeoutError, ConnectionError, OSError) as e:
            raise Unavailable(f"{method} {self._base}{path}: {e}") from None

    @staticmethod
    def _ns(namespace: str) -> str:
        return urllib.parse.quote(namespace, safe="")

    def write(self, namespace: str, body: str) -> str:
        return self._call("POST", f"/v2/namespaces/{self._ns(namespace)}", body)

    def query(self, namespace: str, body: Mapping[str, Any]) -> Any:
        text = self._call("POST", f"/v2/namespaces/{self._ns(namespace)}/query", _encode.dumps(body))
        return rows_as_objects(json.loads(text))

    def metadata(self, namespace: str) -> str:
        return self._call("GET", f"/v1/namespaces/{self._ns(namespace)}/metadata")

    def schema(self, namespace: str) -> str:
        return self._call("GET", f"/v1/namespaces/{self._ns(namespace)}/schema")

    def update_schema(self, namespace: str, body: str) -> str:
        return self._call("POST", f"/v1/namespaces/{self._ns(namespace)}/schema", body)

    def delete_namespace(self, namespace: str) -> None:
        self._call("DELETE", f"/v2/namespaces/{self._ns(namespace)}")

    def list_namespaces(self, prefix: str, cursor: str, page_size: int) -> str:
        params = {"page_size": str(page_size)}
        if prefix:
            params["prefix"] = prefix
        if cursor:
            params["cursor"] = cursor
        return self._call("GET", "/v1/namespaces?" + urllib.parse.urlencode(params))

    def close(self) -> None:
        pass


class Namespace:
    """A namespace handle; it need not exist yet (the first write creates it)."""

    def __init__(self, transport: _Transport, name: str) -> None:
        self._t = transport
        self._name = name

    @property
    def id(self) -> str:
        return self._name

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"Namespace({self._name!r})"

    def write(
        self,
        *,
        upsert_rows: Optional[Sequence[Mapping[str, Any]]] = None,
        upsert_columns: Optional[Mapping[str, Any]] = None,
        patch_rows: Optional[Sequence[Mapping[str, Any]]] = None,
        patch_columns: Optional[Mapping[str, Any]] = None,
        deletes: Optional[Sequence[Id]] = None,
        delete_by_filter: Optional[Filter] = None,
        upsert_condition: Optional[Filter] = None,
        patch_condition: Optional[Filter] = None,
        delete_condition: Optional[Filter] = None,
        distance_metric: Optional[str] = None,
        schema: Optional[Mapping[str, Any]] = None,
        return_affected_ids: Optional[bool] = None,
    ) -> WriteResult:
        """Upserts, patches and deletes documents atomically (turbopuffer's write).

        A "vector" given as a NumPy array (1-D per row, or 2-D float32 for
        upsert_columns) is sent as base64 f32.
        """
        body = _encode.write_body(
            {
                "upsert_rows": upsert_rows,
                "upsert_columns": upsert_columns,
                "patch_rows": patch_rows,
                "patch_columns": patch_columns,
                "deletes": deletes,
                "delete_by_filter": delete_by_filter,
                "upsert_condition": upsert_condition,
                "patch_condition": patch_condition,
                "delete_condition": delete_condition,
                "distance_metric": distance_metric,
                "schema": schema,
                "return_affected_ids": return_affected_ids,
            }
        )
        return WriteResult.from_json(json.loads(self._t.write(self._name, _encode.dumps(body))))

    def query(
        self,
        *,
        rank_by: Optional[Sequence[Any]] = None,
        top_k: Optional[int] = None,
        limit: Optional[int | Mapping[str, Any]] = None,
        filters: Optional[Filter] = None,
        include_attributes: Optional[bool | Sequence[str]] = None,
        exclude_attributes: Optional[Sequence[str]] = None,
        aggregate_by: Optional[Mapping[str, Sequence[Any]]] = None,
        group_by: Optional[Sequence[str]] = None,
        consistency: Optional[str | Mapping[str, Any]] = None,
        vector_encoding: Optional[str] = None,
        distance_metric: Optional[str] = None,
        ann_recall: Optional[float] = None,
    ) -> QueryResult:
        """Ranks, filters or aggregates documents (turbopuffer's query).

        rank_by: ["vector", "ANN"|"kNN", vector] (a list or a 1-D NumPy array),
        ["attr", "asc"|"desc"], or a full-text expression such as ["text", "BM25", "q"]
        (dist is then the score, higher first). consistency: "strong" (default) or "eventual", or
        {"level": ...}. A returned "vector" attribute is a NumPy float32 array;
        vector_encoding="base64" makes that transfer cheaper.
        """
        # On the path of every query: the body is built with plain tests (a generic loop
        # over the keyword arguments cost about 1.5 us a query).
        body: dict[str, Any] = {}
        if rank_by is not None:
            body["rank_by"] = _encode.rank_by(rank_by)
        if top_k is not None:
            body["top_k"] = top_k
        if limit is not None:
            body["limit"] = limit
        if filters is not None:
            body["filters"] = filters
        if include_attributes is not None:
            body["include_attributes"] = include_attributes
        if exclude_attributes is not None:
            body["exclude_attributes"] = exclude_attributes
        if aggregate_by is not None:
            body["aggregate_by"] = aggregate_by
        if group_by is not None:
            body["group_by"] = group_by
        if consistency is not None:
            body["consistency"] = _encode.consistency(consistency)
        if vector_encoding is not None:
            body["vector_encoding"] = vector_encoding
        if distance_metric is not None:
            body["distance_metric"] = distance_metric
        if ann_recall is not None:
            body["ann_recall"] = ann_recall
        return QueryResult.from_response(self._t.query(self._name, body))

    def multi_query(
        self,
        *,
        queries: Sequence[Mapping[str, Any]],
        consistency: Optional[str | Mapping[str, Any]] = None,
        vector_encoding: Optional[str] = None,
        rerank_by: Optional[Sequence[Any]] = None,
        limit: Optional[int] = None,
        offset: Optional[int] = None,
    ) -> list[QueryResult]:
        """Several queries on one snapshot; results in request order. With
        rerank_by=["RRF"] or ["RRF", {"rank_constant": 60, "weights": [...]}] (as
        turbopuffer), one result: the queries' rows fused by reciprocal rank, `limit`
        of them (default 10) after skipping `offset`."""
        out = self._multi(queries, consistency, vector_encoding=vector_encoding,
                          rerank_by=None if rerank_by is None else list(rerank_by),
                          limit=limit, offset=offset)
        return [QueryResult.from_response(r) for r in out.get("results", [])]

    def fused_query(
        self,
        *,
        queries: Sequence[Mapping[str, Any]],
        method: str = "rrf",
        rank_constant: Optional[float] = None,
        weights: Optional[Sequence[float]] = None,
        top_k: Optional[int] = None,
        consistency: Optional[str | Mapping[str, Any]] = None,
    ) -> QueryResult:
        """Hybrid search: several queries (e.g. BM25 and vector) on one snapshot, their
        rankings fused by the engine into one. method "rrf" (reciprocal-rank fusion,
        sum of weight / (rank_constant + rank), rank_constant 60 by default) or "linear"
        (weighted sum of each query's scores scaled to [0, 1]). Each row's dist is its
        fused score (higher is better); attributes come from the first query that
        returned the row."""
        fusion: dict[str, Any] = {"method": method}
        if rank_constant is not None:
            fusion["rank_constant"] = rank_constant
        if weights is not None:
            fusion["weights"] = list(weights)
        if top_k is not None:
            fusion["top_k"] = top_k
        out = self._multi(queries, consistency, rank_fusion=fusion)
        return QueryResult.from_response(
            {"rows": out.get("fused", []), "performance": out.get("performance"),
             "billing": out.get("billing")}
        )

    def _multi(
        self,
        queries: Sequence[Mapping[str, Any]],
        consistency: Optional[str | Mapping[str, Any]],
        **options: Any,
    ) -> dict[str, Any]:
        """Sends a multi-query body: the queries plus the top-level options not None."""
        body: dict[str, Any] = {"queries": [self._query_body(**q) for q in queries]}
        if consistency is not None:
            body["consistency"] = _encode.consistency(consistency)
        body.update({k: v for k, v in options.items() if v is not None})
        out: dict[str, Any] = self._t.query(self._name, body)
        return out

    @staticmethod
    def _query_body(**params: Any) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for k, v in params.items():
            if v is None:
                continue
            if k == "rank_by":
                v = _encode.rank_by(v)
            elif k == "consistency":
                v = _encode.consistency(v)
            body[k] = v
        return body

    def metadata(self) -> NamespaceMetadata:
        """Schema, approximate size, times and index status. NotFound if never written."""
        return NamespaceMetadata.from_json(json.loads(self._t.metadata(self._name)))

    def schema(self) -> dict[str, Any]:
        """{"attr": {"type": ..., "filterable": ...}, ...}."""
        out: dict[str, Any] = json.loads(self._t.schema(self._name))
        return out

    def update_schema(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        """Declares attribute types (merged into the schema); returns the schema after."""
        out: dict[str, Any] = json.loads(self._t.update_schema(self._name, _encode.dumps(schema)))
        return out

    def delete_all(self) -> None:
        """Deletes the namespace and every document in it. NotFound if it does not exist."""
        self._t.delete_namespace(self._name)

    def exists(self) -> bool:
        from ._errors import NotFound

        try:
            self._t.metadata(self._name)
            return True
        except NotFound:
            return False


class Client:
    """A Gannet database, embedded (`gannet.open`) or remote (`gannet.connect`)."""

    def __init__(self, transport: _Transport, mode: str, target: str) -> None:
        self._t = transport
        self.mode = mode
        self.target = target

    def __repr__(self) -> str:
        return f"gannet.Client({self.mode}, {self.target!r})"

    def namespace(self, name: str) -> Namespace:
        return Namespace(self._t, name)

    def namespaces(
        self, *, prefix: Optional[str] = None, cursor: Optional[str] = None, page_size: int = 100
    ) -> Iterator[NamespaceSummary]:
        """Every namespace (with `prefix`), ascending, fetched `page_size` at a time."""
        next_cursor = cursor or ""
        while True:
            page = json.loads(self._t.list_namespaces(prefix or "", next_cursor, page_size))
            for entry in page.get("namespaces", []):
                yield NamespaceSummary(id=entry["id"])
            next_cursor = page.get("next_cursor") or ""
            if not next_cursor:
                return

    def close(self) -> None:
        """Stops background work (embedded) after what is in flight. Idempotent."""
        self._t.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open(path: str | os.PathLike[str]) -> Client:  # noqa: A001 - mirrors the module API
    """Opens a database in this process: a local directory (created if missing) or
    "s3://bucket/prefix" (endpoint and credentials from AWS_* environment variables)."""
    try:
        from . import _gannet
    except ImportError as e:
        raise ImportError(
            "gannet.open needs the compiled extension gannet._gannet (pip install ./python, "
            "or build with nanobind installed); gannet.connect works without it"
        ) from e
    target = os.fspath(path)
    db = _gannet.Database.open(target)
    return Client(db, "embedded", target)


def connect(url: str, api_key: Optional[str] = None, *, timeout: float = 60.0) -> Client:
    """Connects to `gannet serve` at `url` ("http://host:port"). `api_key` defaults to
    $GANNET_API_KEY; it is sent as "Authorization: Bearer <key>"."""
    key = api_key if api_key is not None else os.environ.get("GANNET_API_KEY")
    return Client(_Http(url, key, timeout), "remote", url)


__all__ = ["Client", "Namespace", "GannetError", "open", "connect"]
