"""Exception tree of the project, rooted in ``LabError``.

Every package raises a subclass; the CLI and the GUI catch ``LabError`` at their boundary
and show its message as one line (CLI exit code 2) or a dialog.
"""
from __future__ import annotations

__all__ = [
    "LabError", "ConfigError", "RegistryError", "SimError", "SceneSpecError", "SceneLoadError",
    "NavigationError", "UnreachableGoal", "BackendUnavailable",
]


class LabError(Exception):
    """Base of every error the project raises on purpose."""


class ConfigError(LabError, ValueError):
    """A configuration value or file is invalid."""


class RegistryError(LabError, KeyError):
    """An unknown name was asked of a registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class BackendUnavailable(LabError):
    """An optional backend cannot be built here (missing package, weights, server)."""


class SimError(LabError):
    """Base error of the simulator package."""


class SceneSpecError(SimError, ValueError):
    """A scene specification string is malformed or names an unknown world type."""


class SceneLoadError(SimError):
    """A scene file is missing, unreadable or empty."""


class NavigationError(SimError):
    """Planning or driving failed."""


class UnreachableGoal(NavigationError):
    """No collision-free path exists to the goal."""
