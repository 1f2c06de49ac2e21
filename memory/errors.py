"""Exception tree of the memory package, rooted in ``EmbodiedMemoryError``.

A flat module on purpose: every memory component adds its classes here, so callers can catch
one base (or ``sim.errors.LabError`` at the CLI / GUI boundary) and show one clear line.
"""
from __future__ import annotations

import os

from sim.errors import LabError

__all__ = [
    "EmbodiedMemoryError",
    "EncoderError",
    "LLMError",
    "LLMUnavailable",
    "LLMTimeout",
    "LLMBadResponse",
    "LLMServerError",
    "MemoryStoreError",
    "RecordFormatError",
    "ImageNotFound",
    "MemoryFileError",
    "MemoryFileNotFound",
    "NotAMemoryFile",
    "CorruptMemoryFile",
    "NewerSchemaError",
    "MemoryFileUnwritable",
    "MemoryFileLocked",
    "GmlError",
    "QueryError",
    "RetrievalError",
]


class EmbodiedMemoryError(LabError):
    """Base error of the memory package."""


class EncoderError(EmbodiedMemoryError):
    """An encoder cannot be built (missing weights, bad checkpoint) or cannot encode this input."""


class LLMError(EmbodiedMemoryError):
    """A chat request to an OpenAI-compatible server failed.

    ``url`` is the endpoint that was called, ``status`` the HTTP status when the server answered
    with one, ``attempts`` how many requests were made before giving up (the ``openai`` SDK honours
    a server's ``Retry-After`` itself).
    """

    def __init__(self, message: str, *, url: str = "", status: int | None = None, attempts: int = 0) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.attempts = attempts


class LLMUnavailable(LLMError):
    """The server cannot be reached (connection refused or reset, unknown host)."""


class LLMTimeout(LLMError):
    """The server did not answer within the configured timeout."""


class LLMBadResponse(LLMError):
    """The server answered with an HTTP error, non-JSON, or JSON of the wrong shape."""


class LLMServerError(LLMError):
    """A local LLM server (``memory.llm_server``) could not be started."""


# ---------------------------------------------------------------------------------- memory store
class MemoryStoreError(EmbodiedMemoryError):
    """The store was misused: closed, read-only, or given data of the wrong shape."""


class RecordFormatError(MemoryStoreError, ValueError):
    """A JSON object does not describe a record (unknown type, missing or mistyped field)."""


class ImageNotFound(MemoryStoreError, KeyError):
    """No image of that kind is stored for that node."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class MemoryFileError(MemoryStoreError):
    """A memory file cannot be opened or written; ``path`` names it."""

    def __init__(self, message: str, *, path: str | os.PathLike = "") -> None:
        super().__init__(message)
        self.path = str(path)


class MemoryFileNotFound(MemoryFileError):
    """The file does not exist (and ``create=False``)."""


class NotAMemoryFile(MemoryFileError):
    """The file is not an SQLite database, or a database that is not a memory file."""


class CorruptMemoryFile(MemoryFileError):
    """The file is an SQLite memory file whose pages or records are damaged."""


class NewerSchemaError(MemoryFileError):
    """The file was written by a newer version of the app (higher schema version)."""


class MemoryFileUnwritable(MemoryFileError):
    """The file or its folder cannot be written, or another process holds the write lock."""


class MemoryFileLocked(MemoryFileUnwritable):
    """Another process is writing the file (it holds the writer lock, ``memory.file_lock``); ``pid``
    names it (0 when unknown)."""

    def __init__(self, message: str, *, path: str | os.PathLike = "", pid: int = 0) -> None:
        super().__init__(message, path=path)
        self.pid = pid


# ------------------------------------------------------------------------------------------- GML
class GmlError(EmbodiedMemoryError):
    """A GML file cannot be read or does not describe an Embodied-RAG graph."""


# ------------------------------------------------------------------------- retrieval and answers
class QueryError(EmbodiedMemoryError, ValueError):
    """A question cannot be asked: empty, too long, or an image that cannot be used."""


class RetrievalError(EmbodiedMemoryError):
    """A retriever cannot run on this memory (no vectors of the needed kind, unknown settings)."""
