"""Typed exceptions. Every error raised by Gannet's client is a GannetError.

The embedded engine raises the class named by its Status code; a remote server's HTTP
status maps to the closest class (several codes share one HTTP status, so the remote
class may be the more general parent: 409 is Conflict, 503 Unavailable, 500 Internal).
"""

from __future__ import annotations


class GannetError(Exception):
    """Base class of every Gannet error. `message` is the engine's or server's text."""

    code: str = "Unknown"

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidArgument(GannetError, ValueError):
    """The request is wrong (bad shape, type mismatch, unknown field); retrying will not help."""

    code = "InvalidArgument"


class NotFound(GannetError, LookupError):
    """The namespace (or object) does not exist."""

    code = "NotFound"


class Conflict(GannetError):
    """A condition or a race was lost; re-read and retry."""

    code = "Conflict"


class AlreadyExists(Conflict):
    code = "AlreadyExists"


class PreconditionFailed(Conflict):
    code = "PreconditionFailed"


class Unavailable(GannetError):
    """Transient: timeout, throttling, server unreachable. The operation MAY have applied."""

    code = "Unavailable"


class StorageIOError(Unavailable):
    """The OS or the object store failed."""

    code = "IOError"


class ResourceExhausted(GannetError):
    """A limit or budget was hit (HTTP 429)."""

    code = "ResourceExhausted"


class PermissionDenied(GannetError):
    """Authentication or authorisation failed (HTTP 401/403)."""

    code = "PermissionDenied"


class Corruption(GannetError):
    """A stored object failed a checksum, magic number or structure check."""

    code = "Corruption"


class Internal(GannetError):
    """A bug: an invariant of Gannet's own was violated (HTTP 500)."""

    code = "Internal"


_BY_CODE: dict[str, type[GannetError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        Conflict,
        AlreadyExists,
        PreconditionFailed,
        Unavailable,
        StorageIOError,
        ResourceExhausted,
        PermissionDenied,
        Corruption,
        Internal,
    )
}

_BY_HTTP: dict[int, type[GannetError]] = {
    400: InvalidArgument,
    401: PermissionDenied,
    403: PermissionDenied,
    404: NotFound,
    405: InvalidArgument,
    409: Conflict,
    413: InvalidArgument,
    422: InvalidArgument,
    429: ResourceExhausted,
    500: Internal,
    502: Unavailable,
    503: Unavailable,
    504: Unavailable,
}


def from_code(code: str, message: str) -> GannetError:
    """The exception for an engine Status code name (used by the extension module)."""
    return _BY_CODE.get(code, Internal)(message)


def from_http(status: int, message: str) -> GannetError:
    """The exception for an HTTP error status."""
    cls = _BY_HTTP.get(status)
    if cls is None:
        cls = InvalidArgument if 400 <= status < 500 else Internal
    return cls(message, http_status=status)
