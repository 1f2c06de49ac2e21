"""The query pane: ask in words or with a picture, read the answer and its ranked hits, go there."""
from __future__ import annotations

import html
import logging
import re
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from sim.errors import LabError
from ui.jobs import QueryOutcome
from ui.qt_util import LINK_COLOUR, QtImageLabel, load_image, show_error, to_pixmap
from ui.services import QueryParams

log = logging.getLogger(__name__)

__all__ = ["QtQueryPane", "QtImageDrop", "QtViewPicker", "HIT_ID_ROLE"]

HIT_ID_ROLE = Qt.ItemDataRole.UserRole + 2
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
CAPTION_CHARS = 240  # of a hit's caption shown in the list when it has no thumbnail
_FILLER = {"a", "an", "the", "of", "in", "on", "at", "and", "with", "is", "its"}


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _quote(hit: dict | None, answer: str) -> str:
    """The best hit's caption (or summary) quoted under the answer: what the memory actually holds
    (nothing when the answer already says all of it)."""
    text = " ".join(str((hit or {}).get("text") or "").split())
    said = set(re.findall(r"\w+", answer.lower())) | _FILLER
    if not text or text[:60] in " ".join(answer.split()) or set(re.findall(r"\w+", text.lower())) <= said:
        return ""
    name = html.escape(str(hit.get("name") or hit.get("id")))
    return (f'<blockquote style="color:#c8cdd6; margin-left:8px"><i>“{html.escape(_clip(text, 400))}”</i>'
            f'<br><span style="color:#9aa1ad">— {name}</span></blockquote>')


def _hit_name(hit: dict) -> str:
    """A hit's name for people: never an internal id such as ``cluster/4/0`` (its level instead)."""
    name = str(hit.get("name") or "")
    if name and not re.match(r"^(cluster|place|obj)/", name):
        return name
    return str(hit.get("label") or "") or _hit_kind(hit)


def _hit_kind(hit: dict) -> str:
    kind = str(hit.get("kind") or "")
    level = int(hit.get("level") or 0)
    return {"place": "view", "object": "object"}.get(kind) or (f"level {level} region" if level else "node")


class QtImageDrop(QtImageLabel):
    """An image well: drop a picture file on it (or set one) to query by image."""

    image_dropped = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("drop an image here", parent)
        self.setAcceptDrops(True)
        self.setMinimumHeight(64)
        self.setMaximumHeight(96)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if any(u.toLocalFile().lower().endswith(_IMAGE_SUFFIXES) for u in urls):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        for u in event.mimeData().urls():
            path = u.toLocalFile()
            if path.lower().endswith(_IMAGE_SUFFIXES):
                self.image_dropped.emit(path)
                event.acceptProposedAction()
                return


class QtViewPicker(QDialog):
    """Pick one of the robot's past views (thumbnails) as an image query."""

    def __init__(self, views: list[tuple[str, str, np.ndarray]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Pick a past view")
        self.resize(640, 480)
        self.list = QListWidget()
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setIconSize(QSize(144, 108))
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setSpacing(6)
        self._images: dict[str, np.ndarray] = {}
        for pid, name, im in views:
            item = QListWidgetItem(QIcon(to_pixmap(im, QSize(144, 108))), name)
            item.setData(HIT_ID_ROLE, pid)
            item.setToolTip(pid)
            self.list.addItem(item)
            self._images[pid] = im
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.list.itemDoubleClicked.connect(lambda _: self.accept())
        lay = QVBoxLayout(self)
        lay.addWidget(self.list)
        lay.addWidget(buttons)

    def chosen(self) -> tuple[str, np.ndarray] | None:
        item = self.list.currentItem()
        if item is None:
            return None
        pid = item.data(HIT_ID_ROLE)
        return pid, self._images[pid]


class QtQueryPane(QWidget):
    """Text box (Enter asks), image query, retriever choice, answer with cited nodes, ranked hits."""

    ask_requested = Signal(object)  # QueryParams
    go_requested = Signal(object, object)  # goal [x, y, z], floor (int or None)
    hit_selected = Signal(str)  # node id
    pick_view_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.response: dict | None = None
        self.query_image: np.ndarray | None = None
        self.text = QLineEdit()
        self.text.setPlaceholderText("Ask the memory… e.g. where is the fridge?")
        self.text.setClearButtonEnabled(True)
        self.text.returnPressed.connect(self._on_ask_click)
        self.ask_button = QPushButton("Ask")
        self.ask_button.setAutoDefault(False)  # Enter in the text box asks; Start is the window's default
        self.ask_button.clicked.connect(self._on_ask_click)
        row = QHBoxLayout()
        row.addWidget(self.text, 1)
        row.addWidget(self.ask_button)
        self.retriever = QComboBox()
        self.retriever.addItems(["forest", "flat", "llm"])
        self.retriever.setToolTip("forest: beam search down the semantic forest; flat: top-k over leaves; "
                                  "llm: the paper's LLM-selected descent (needs an LLM server)")
        self.generator = QComboBox()
        self.generator.addItems(["template", "llm"])
        self.generator.setToolTip("template: built-in answers, no LLM; llm: an OpenAI-compatible chat model")
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 20)
        self.top_k.setValue(5)
        opts = QHBoxLayout()
        for label, w in (("Retriever", self.retriever), ("Answer", self.generator), ("Top k", self.top_k)):
            opts.addWidget(QLabel(label))
            opts.addWidget(w)
        opts.addStretch(1)
        self.image_well = QtImageDrop()
        self.image_well.image_dropped.connect(self._on_image_drop)
        self.open_image_button = QPushButton("Open image…")
        self.open_image_button.clicked.connect(self._on_open_image_click)
        self.pick_view_button = QPushButton("Past view…")
        self.pick_view_button.setToolTip("query with one of the robot's remembered views")
        self.pick_view_button.clicked.connect(self.pick_view_requested)
        self.clear_image_button = QPushButton("Clear")
        self.clear_image_button.clicked.connect(lambda: self.set_query_image(None))
        # the image well takes room only when it holds a query image (drops land on the whole pane)
        img_buttons = QHBoxLayout()
        img_buttons.addWidget(QLabel("Image"))
        for b in (self.open_image_button, self.pick_view_button, self.clear_image_button):
            img_buttons.addWidget(b)
        img_buttons.addStretch(1)
        img_row = QVBoxLayout()
        img_row.addLayout(img_buttons)
        img_row.addWidget(self.image_well)
        self.image_well.setVisible(False)
        self.clear_image_button.setEnabled(False)
        self.setAcceptDrops(True)
        self.answer = QTextBrowser()
        self.answer.setOpenLinks(False)
        self.answer.anchorClicked.connect(lambda url: self.hit_selected.emit(url.toString()))
        self.answer.setPlaceholderText("The answer appears here, with the memory nodes it cites.")
        self.answer.setMinimumHeight(70)
        self.answer.document().documentLayout().documentSizeChanged.connect(self._on_answer_size_change)
        self.hits = QListWidget()
        self.hits.setIconSize(QSize(64, 48))
        self.hits.setWordWrap(True)
        self.hits.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.hits.setMinimumHeight(90)
        self.hits.setVerticalScrollMode(QListWidget.ScrollMode.ScrollPerPixel)
        self.hits.currentItemChanged.connect(self._on_hit_change)
        self.go_button = QPushButton("Go there")
        self.go_button.setEnabled(False)
        self.go_button.clicked.connect(self._on_go_click)
        self.status = QLabel("")
        self.status.setStyleSheet("color: #9aa3b2;")
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.go_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(row)
        lay.addLayout(opts)
        lay.addLayout(img_row)
        lay.addWidget(self.answer, 0)
        hits_label = QLabel("Ranked hits")
        hits_label.setStyleSheet("color: #9aa3b2;")
        lay.addWidget(hits_label)
        lay.addWidget(self.hits, 1)
        lay.addLayout(bottom)
        self._nav_missing: str | None = None
        self._no_world: str | None = None
        self._busy = False

    # ------------------------------------------------------------------ state
    def set_features(self, query_missing: str | None, navigation_missing: str | None) -> None:
        """Disable asking / 'Go there' with a tooltip saying what is missing (None: available)."""
        for w in (self.text, self.ask_button):
            w.setEnabled(query_missing is None)
            w.setToolTip(query_missing or "")
        self._nav_missing = navigation_missing
        self._update_go()

    def set_no_world(self, reason: str | None) -> None:
        """'Go there' needs a world: ``reason`` (one line) disables it, None enables it again."""
        self._no_world = reason
        self._update_go()

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.ask_button.setEnabled(not busy and self.text.isEnabled())
        self.status.setText("thinking…" if busy else self.status.text())
        self._update_go()

    def _update_go(self) -> None:
        goal = self.goal
        blocked = self._nav_missing or self._no_world
        self.go_button.setEnabled(goal is not None and blocked is None and not self._busy)
        self.go_button.setToolTip(blocked or ("drive the robot to the answer" if goal else "no goal yet"))

    @property
    def goal(self) -> list[float] | None:
        if self.response is None:
            return None
        return self.response.get("goal")

    def params(self) -> QueryParams:
        return QueryParams(self.text.text().strip(), self.query_image, self.retriever.currentText(),
                           self.generator.currentText(), self.top_k.value())

    def set_query_image(self, image: np.ndarray | None, label: str = "") -> None:
        self.query_image = image
        self.image_well.set_image(image)
        self.image_well.setToolTip(label)
        self.image_well.setVisible(image is not None)
        self.clear_image_button.setEnabled(image is not None)

    def _on_answer_size_change(self, size) -> None:
        # the answer grows with its text, up to about half the pane; past that it scrolls
        want = int(size.height()) + 2 * self.answer.frameWidth() + 6
        self.answer.setMinimumHeight(max(70, min(want, max(140, self.height() // 2))))

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.image_well.dragEnterEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.image_well.dropEvent(event)

    # ------------------------------------------------------------------ handlers
    def _on_ask_click(self) -> None:
        p = self.params()
        if not p.text and p.image is None:
            self.status.setText("type a question or choose an image")
            return
        self.ask_requested.emit(p)

    def _on_image_drop(self, path: str) -> None:
        try:
            self.set_query_image(load_image(path), path)
        except LabError as e:
            show_error(self, "Image query", e)

    def _on_open_image_click(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Query by image", str(Path.home()),
                                              "Images (*.png *.jpg *.jpeg *.bmp *.webp)")
        if path:
            self._on_image_drop(path)

    def _on_hit_change(self, current: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if current is not None:
            self.hit_selected.emit(current.data(HIT_ID_ROLE))

    def _on_go_click(self) -> None:
        goal = self.goal
        if goal is not None and self.response is not None:
            self.go_requested.emit(list(goal), self.response.get("goal_floor"))

    # ------------------------------------------------------------------ results
    def set_outcome(self, outcome: QueryOutcome) -> None:
        """Show an answer, its cited nodes and the ranked hits (with thumbnails)."""
        r = outcome.response
        self.response = r
        hits = r.get("hits") or []
        cited = "".join(f'<li><a style="color:{LINK_COLOUR}" href="{html.escape(str(h["id"]))}">'
                        f'{html.escape(_hit_name(h))}</a> <span style="color:#9aa1ad">{_hit_kind(h)}</span></li>'
                        for h in hits[:5])
        qtype = html.escape(str(r.get("query_type") or ""))
        answer = str(r.get("answer") or "")
        self.answer.setHtml(f'<p style="font-size:13px">{html.escape(answer)}</p>'
                            + _quote(hits[0] if hits else None, answer)
                            + (f'<p style="color:#9aa1ad">{qtype} query · {r.get("latency_ms", 0):.0f} ms</p>'
                               if qtype else "")
                            + (f"<p><b>Cited nodes</b></p><ul>{cited}</ul>" if cited else ""))
        self.hits.blockSignals(True)
        self.hits.clear()
        for rank, h in enumerate(hits, 1):
            hid = str(h.get("id"))
            im = outcome.thumbnails.get(hid)
            # no picture (imported memories, street view): more of the caption where the thumbnail would be
            caption = _clip(str(h.get("text") or ""), 90 if im is not None else CAPTION_CHARS)
            item = QListWidgetItem(f"{rank}. {_hit_name(h)}   [{h.get('score', 0):.2f}]\n{caption}")
            item.setData(HIT_ID_ROLE, hid)
            item.setToolTip(str(h.get("text") or hid))
            if im is not None:
                item.setIcon(QIcon(to_pixmap(im, QSize(64, 48))))
            self.hits.addItem(item)
        if hits:
            self.hits.setCurrentRow(0)
        self.hits.blockSignals(False)
        goal = self.goal
        self.status.setText(f"{len(hits)} hits" + (f" · goal ({goal[0]:.1f}, {goal[1]:.1f})" if goal else ""))
        self._update_go()

    def clear(self) -> None:
        self.response = None
        self.answer.clear()
        self.hits.clear()
        self.status.setText("")
        self._update_go()
