"""Request encoding: Python values (NumPy arrays, UUIDs, datetimes) to the API's JSON."""

from __future__ import annotations

import base64
import json
import sys
import uuid
from datetime import date, datetime, timezone
from typing import Any, Mapping, Optional

from ._errors import InvalidArgument

# NumPy is not imported here (it costs ~0.1 s and starts OpenBLAS's threads): a value can
# only be a NumPy array or scalar once the program has imported NumPy itself.


def _is_array(o: Any) -> bool:
    np = sys.modules.get("numpy")
    return np is not None and isinstance(o, np.ndarray)


def vector_b64(v: Any) -> str:
    """A 1-D NumPy vector as base64 of little-endian f32 (the codec's compact vector form)."""
    import numpy as np

    arr = np.ascontiguousarray(v, dtype="<f4")
    if arr.ndim != 1:
        raise ValueError(f"expected a 1-D vector, got an array of shape {arr.shape}")
    return base64.b64encode(arr.data).decode("ascii")


def vectors_b64(m: Any) -> list[str]:
    """Each row of a 2-D NumPy array as a base64 f32 vector."""
    import numpy as np

    arr = np.ascontiguousarray(m, dtype="<f4")
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors, got shape {arr.shape}")
    raw = arr.tobytes()
    step = arr.shape[1] * 4
    b64 = base64.b64encode
    return [b64(raw[i : i + step]).decode("ascii") for i in range(0, len(raw), step)]


def _default(o: Any) -> Any:
    np = sys.modules.get("numpy")
    if np is not None and isinstance(o, (np.ndarray, np.generic)):
        return o.tolist()
    if isinstance(o, uuid.UUID):
        return str(o)
    if isinstance(o, datetime):
        if o.tzinfo is None:
            o = o.replace(tzinfo=timezone.utc)
        return o.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(o, date):
        return o.isoformat()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    raise TypeError(f"cannot encode {type(o).__name__} as JSON")


# One encoder for every request (json.dumps with these options would build one per call).
_ENCODER = json.JSONEncoder(default=_default, separators=(",", ":"), allow_nan=False)


def dumps(body: Mapping[str, Any]) -> str:
    try:
        return _ENCODER.encode(body)
    except ValueError as e:  # NaN or infinity: JSON has no such numbers
        raise InvalidArgument(f"request: {e}") from None
    except TypeError as e:
        raise InvalidArgument(f"request: {e}") from None


def _row_vectors(rows: Any) -> Any:
    """Rows with NumPy "vector" values encoded as base64 (rows are copied only then)."""
    out = []
    for row in rows:
        v = row.get("vector") if isinstance(row, Mapping) else None
        if _is_array(v):
            row = dict(row)
            row["vector"] = vector_b64(v)
        out.append(row)
    return out


def _column_vectors(columns: Mapping[str, Any]) -> dict[str, Any]:
    cols = dict(columns)
    v = cols.get("vector")
    if _is_array(v) and v.ndim == 2:
        cols["vector"] = vectors_b64(v)
    elif isinstance(v, (list, tuple)) and v and _is_array(v[0]):
        cols["vector"] = [vector_b64(x) for x in v]
    for k, c in cols.items():
        if _is_array(c):
            cols[k] = c.tolist()
    return cols


def rank_by(value: Any) -> Any:
    """rank_by with a NumPy query vector encoded as base64."""
    if isinstance(value, (list, tuple)) and len(value) == 3 and _is_array(value[2]):
        return [value[0], value[1], vector_b64(value[2])]
    return value


def write_body(params: Mapping[str, Optional[Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for k, v in params.items():
        if v is None:
            continue
        if k in ("upsert_rows", "patch_rows"):
            v = _row_vectors(v)
        elif k in ("upsert_columns", "patch_columns"):
            v = _column_vectors(v)
        body[k] = v
    return body


def consistency(value: Any) -> Any:
    """"strong" / "eventual" or turbopuffer's {"level": ...}."""
    if isinstance(value, str):
        return {"level": value}
    return value
