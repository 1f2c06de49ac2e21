"""Help › How to and Help › Keyboard shortcuts: a short page each, in a plain dialog.

The shortcut table is read from the window's own actions (plus the keys the window handles
itself), so it cannot drift from what the keys really do.
"""
from __future__ import annotations

import html
import logging
from collections.abc import Iterable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

log = logging.getLogger(__name__)

__all__ = ["QtHelpDialog", "HOW_TO_HTML", "FIRST_HINT", "MEMORY_HINT", "shortcuts_html", "WINDOW_KEYS"]

FIRST_HINT = "Press Start to let the robot explore; then ask what it saw in Query (right) and press Go there."
MEMORY_HINT = "Ask this memory anything in Query (right); its hits light up on the map and in the Forest tree."

HOW_TO_HTML = """
<h3>Embodied-RAG Lab in five steps</h3>
<ol>
<li><b>Pick a world.</b> A house is open when the lab starts. In <i>Controls › World</i> choose a type
(house, office, multifloor, campus, rooms), a seed and a size, then <b>New world</b>; or <b>Open scene
file…</b> for a .glb / .gltf / .ply / .obj.</li>
<li><b>Explore.</b> Press <b>Start</b>: the robot drives to unexplored places and builds its memory — a
topological graph of views and objects and a semantic forest of areas, rooms and floors (the 3D map and
the <i>Forest</i> dock grow as it goes). <b>Pause</b> stops it; <b>Step</b> takes one step; W A S D or
the arrow keys drive it by hand.</li>
<li><b>Ask.</b> Type a question in <i>Query</i> — “where is the fridge?”, “where can I sit down?”,
“how many rooms are there?”, “where did you last see a mug?” — and press Enter. The answer cites the
memory nodes it rests on (click one to select it); the ranked hits light up yellow on the map.
You can also ask with a picture: <b>Open image…</b> or <b>Past view…</b>.</li>
<li><b>Go there.</b> The robot plans a route (green) to the answer and drives it; the
<i>Activity</i> dock keeps how it went: distance driven and SPL (1.0 = the shortest possible route).</li>
<li><b>Keep the memory.</b> With <i>Autosave</i> on, every world writes its memory to a file;
<b>Save as…</b> picks another file, <b>Open…</b> reopens one (in the world it was built in).</li>
</ol>
<p>The 3D map: drag to orbit, middle-drag (or Ctrl+drag) to pan, wheel to zoom; <b>F</b> frames the
world; the tick boxes above it show or hide each layer, and <i>Floors</i> shows one floor of a
multi-floor world. Docks can be moved, tabbed or closed; <i>View</i> brings them back.</p>
"""

# keys the window handles itself (not menu actions)
WINDOW_KEYS: tuple[tuple[str, str], ...] = (
    ("W / ↑", "drive forward"), ("S / ↓", "drive backward"), ("A / ←", "turn left"), ("D / →", "turn right"),
    ("Enter (in Query)", "ask the question"), ("Space (on a button)", "press it"),
)


def shortcuts_html(actions: Iterable[QAction]) -> str:
    """A table of every action with a shortcut, then the window's own keys."""
    rows = []
    for a in actions:
        seq = a.shortcut()
        if seq.isEmpty():
            continue
        rows.append((seq.toString(QKeySequence.SequenceFormat.NativeText), a.text().replace("&", "")))
    rows += list(WINDOW_KEYS)
    body = "".join(f"<tr><td style='padding:2px 14px 2px 0'><b>{html.escape(k)}</b></td><td>{html.escape(t)}</td>"
                   "</tr>" for k, t in rows)
    return f"<h3>Keyboard shortcuts</h3><table>{body}</table><p>Teleop keys work when no text field has focus.</p>"


class QtHelpDialog(QDialog):
    """A non-modal page of rich text with a Close button."""

    def __init__(self, title: str, page: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName("helpDialog")
        self.resize(560, 520)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(True)
        self.text.setHtml(page)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.text)
        lay.addWidget(buttons)
