"""The activity log: every finished piece of work, one line each, kept for the session.

Status-bar messages are fleeting by design; what a run ended with (where exploration stopped and
why, how a drive went, what failed) must still be there a minute later. The newest line also
shows in the window's result line (see ``QtMainWindow.report``).
"""
from __future__ import annotations

import logging
import time

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QVBoxLayout, QWidget

log = logging.getLogger(__name__)

__all__ = ["QtActivityLog", "MAX_ENTRIES"]

MAX_ENTRIES = 300
_COLOURS = {"info": QColor("#c8cdd6"), "done": QColor("#8fe3a0"), "error": QColor("#ff9c8a")}


class QtActivityLog(QWidget):
    """A list of timestamped lines, newest last (errors in red, results in green)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        self.list.setToolTip("what the lab did this session: results stay here")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.list)

    def add(self, text: str, kind: str = "info") -> None:
        """Append one line (``kind``: info, done or error)."""
        item = QListWidgetItem(f"{time.strftime('%H:%M:%S')}  {text}")
        item.setForeground(_COLOURS.get(kind, _COLOURS["info"]))
        item.setToolTip(text)
        self.list.addItem(item)
        while self.list.count() > MAX_ENTRIES:
            self.list.takeItem(0)
        self.list.scrollToBottom()

    def lines(self) -> list[str]:
        """The entries' texts without their times (oldest first)."""
        return [self.list.item(i).toolTip() for i in range(self.list.count())]
