"""Errors of the memory service; each carries the HTTP status it is answered with.

They are ``LabError`` subclasses, so the CLI prints them as one line (exit code 2) and the HTTP
layer answers ``{"error": message}`` with ``status`` - never a traceback.
"""
from __future__ import annotations

from sim.errors import LabError

__all__ = ["ServiceError", "BadRequest", "NotFound", "Unauthorized", "PayloadTooLarge", "ReadOnly", "WritesStopped"]


class ServiceError(LabError):
    """Base error of the memory service."""

    status: int = 400


class BadRequest(ServiceError):
    """A request that cannot be served as sent (malformed JSON, wrong shapes, unknown fields)."""

    status = 422


class NotFound(ServiceError):
    """A node, level or route that the memory does not hold."""

    status = 404


class Unauthorized(ServiceError):
    """A missing or wrong bearer token."""

    status = 401


class PayloadTooLarge(ServiceError):
    """A request body or an image over the service's limits."""

    status = 413


class ReadOnly(ServiceError):
    """A write asked of a memory served read-only."""

    status = 409


class WritesStopped(ServiceError):
    """Writes refused after an ingest failed half-way: the file still holds the last checkpoint."""

    status = 503
