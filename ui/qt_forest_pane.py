"""The forest pane: a tree view over the semantic forest and the details of the selected node.

``ForestTreeModel`` is a read-only ``QAbstractItemModel`` over a ``ForestTree`` snapshot (site →
floors → rooms → areas → leaves). A new snapshot resets the model; the pane keeps the expanded
nodes and the selection across resets. Rows carry their node id in ``NODE_ID_ROLE``.
"""
from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QSizePolicy,
    QSplitter,
    QTextBrowser,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from app.snapshots import LEVEL_COLOURS, OBJECT_COLOUR, PLACE_COLOUR, ForestTree
from ui.jobs import NodeDetails
from ui.outcomes import plain_name
from ui.qt_util import QtImageLabel

log = logging.getLogger(__name__)

__all__ = ["ForestTreeModel", "QtForestPane", "NODE_ID_ROLE"]

NODE_ID_ROLE = Qt.ItemDataRole.UserRole + 1
COLUMNS = ("Name", "Level", "Leaves")

_Index = QModelIndex | QPersistentModelIndex


def _qcolor(rgba: tuple[float, float, float, float]) -> QColor:
    return QColor.fromRgbF(rgba[0], rgba[1], rgba[2], 1.0)


class ForestTreeModel(QAbstractItemModel):
    """Read-only tree model over a ``ForestTree``; each index's internal id is the node's number."""

    def __init__(self, tree: ForestTree | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self._tree: ForestTree | None = None
        self._ids: list[str] = []
        self._num: dict[str, int] = {}
        self._children: list[list[int]] = []
        self._parent: list[int] = []  # -1 for roots
        self._row: list[int] = []
        self._roots: list[int] = []
        if tree is not None:
            self.set_tree(tree)

    @property
    def tree(self) -> ForestTree | None:
        return self._tree

    def set_tree(self, tree: ForestTree | None) -> None:
        """Show ``tree`` (a reset: views should restore their expansion, see ``QtForestPane``)."""
        self.beginResetModel()
        self._tree = tree
        self._ids, self._num, self._children, self._parent, self._row, self._roots = [], {}, [], [], [], []
        if tree is not None:
            order: list[str] = []
            stack = list(reversed(tree.roots))
            seen: set[str] = set()
            while stack:  # depth-first numbering; a node listed under two parents is shown once
                nid = stack.pop()
                if nid in seen or nid not in tree.nodes:
                    continue
                seen.add(nid)
                order.append(nid)
                stack.extend(reversed(self._sorted_children(tree, nid)))
            self._ids = order
            self._num = {nid: i for i, nid in enumerate(order)}
            self._children = [[] for _ in order]
            self._parent = [-1] * len(order)
            self._row = [0] * len(order)
            for i, nid in enumerate(order):
                kids = [self._num[c] for c in self._sorted_children(tree, nid) if c in self._num]
                kids = [k for k in kids if self._parent[k] == -1 and self._ids[k] not in tree.roots]
                self._children[i] = kids
                for r, k in enumerate(kids):
                    self._parent[k] = i
                    self._row[k] = r
            self._roots = [self._num[r] for r in tree.roots if r in self._num]
            for r, k in enumerate(self._roots):
                self._row[k] = r
        self.endResetModel()

    @staticmethod
    def _sorted_children(tree: ForestTree, nid: str) -> list[str]:
        kids = [c for c in tree.nodes[nid].children if c in tree.nodes]
        # clusters first (by name), then objects, then views
        rank = {"cluster": 0, "object": 1, "place": 2}
        return sorted(kids, key=lambda c: (rank.get(tree.nodes[c].kind, 3), tree.nodes[c].name.lower(), c))

    # ------------------------------------------------------------------ QAbstractItemModel
    def index(self, row: int, column: int, parent: _Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        if column < 0 or column >= len(COLUMNS) or row < 0:
            return QModelIndex()
        kids = self._children[parent.internalId()] if parent.isValid() else self._roots
        if row >= len(kids):
            return QModelIndex()
        return self.createIndex(row, column, kids[row])

    def parent(self, child: _Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not child.isValid():
            return QModelIndex()
        p = self._parent[child.internalId()]
        if p < 0:
            return QModelIndex()
        return self.createIndex(self._row[p], 0, p)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        if parent.isValid():
            if parent.column() != 0:
                return 0
            return len(self._children[parent.internalId()])
        return len(self._roots)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return len(COLUMNS)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self._tree is None:
            return None
        nid = self._ids[index.internalId()]
        node = self._tree.nodes[nid]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return plain_name(node.name, node.level_name, node.kind)
            if col == 1:
                return f"L{node.level} {node.level_name}" if node.level else node.kind
            return str(node.n_leaves)
        if role == Qt.ItemDataRole.ToolTipRole:
            name = plain_name(node.name, node.level_name, node.kind)
            return f"{name}\n\n{node.summary}" if node.summary else name
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            if node.level > 0:
                return _qcolor(LEVEL_COLOURS.get(node.level, (0.8, 0.8, 0.8, 1.0)))
            return _qcolor(OBJECT_COLOUR if node.kind == "object" else PLACE_COLOUR)
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == NODE_ID_ROLE:
            return nid
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < 3:
            return COLUMNS[section]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    # ------------------------------------------------------------------ lookups
    def index_of(self, node_id: str) -> QModelIndex:
        """The column-0 index of a node (invalid when it is not shown)."""
        i = self._num.get(node_id)
        if i is None:
            return QModelIndex()
        return self.createIndex(self._row[i], 0, i)

    def node_id(self, index: _Index) -> str | None:
        return self._ids[index.internalId()] if index.isValid() else None


class QtForestPane(QWidget):
    """Tree of the forest with a filter box; below it the selected node's image, summary and members."""

    node_selected = Signal(str)  # a node id (selected in the tree or a member list)
    go_requested = Signal(object, object)  # goal [x, y, z], floor: drive to a node

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = ForestTreeModel()
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setRecursiveFilteringEnabled(True)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(0)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter nodes (e.g. kitchen, chair)")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._on_filter_change)
        self.view = QTreeView()
        self.view.setModel(self.proxy)
        self.view.setUniformRowHeights(True)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.view.selectionModel().currentChanged.connect(self._on_current_change)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._on_context_menu)
        self._go_blocked: str | None = "no world open"  # why 'Go there' is off (None: on)
        self.title = QLabel("Select a node")
        # one line, cut with "…" (full text as tooltip): a wrapped title overlapped the Members label
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.title.setStyleSheet("font-weight: 600; font-size: 13px;")
        self.image = QtImageLabel("no picture")
        self.image.setMinimumHeight(60)
        self.summary = QTextBrowser()
        self.summary.setOpenLinks(False)
        self.summary.setMinimumHeight(40)
        self.members = QListWidget()
        self.members.setMinimumHeight(40)
        self.members.itemActivated.connect(self._on_member_activate)
        self.members.itemDoubleClicked.connect(self._on_member_activate)
        self.image.setMinimumWidth(120)
        side = QHBoxLayout()
        side.setContentsMargins(0, 0, 0, 0)
        side.addWidget(self.image, 2)
        side.addWidget(self.summary, 3)
        details = QWidget()
        dl = QVBoxLayout(details)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.addWidget(self.title)
        dl.addLayout(side, 3)
        members_label = QLabel("Members")
        members_label.setStyleSheet("color: #9aa3b2;")
        dl.addWidget(members_label)
        dl.addWidget(self.members, 2)
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.filter)
        tl.addWidget(self.view, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(details)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([330, 220])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(split)
        self._selected: str | None = None
        self._first = True

    # ------------------------------------------------------------------ tree
    def set_tree(self, tree: ForestTree | None) -> None:
        """Show a new forest snapshot, keeping expansion and selection."""
        if tree is not None and self.model.tree is not None and tree.digest == self.model.tree.digest:
            return
        expanded = self._expanded_ids()
        selected = self._selected
        self.view.selectionModel().blockSignals(True)
        try:
            self.model.set_tree(tree)
            if self._first and tree is not None and len(tree):
                expanded = {n.id for n in tree.nodes.values() if n.level >= 2}
                self._first = False
            for nid in expanded:
                idx = self.proxy.mapFromSource(self.model.index_of(nid))
                if idx.isValid():
                    self.view.setExpanded(idx, True)
            if selected is not None:
                idx = self.proxy.mapFromSource(self.model.index_of(selected))
                if idx.isValid():
                    self.view.setCurrentIndex(idx)
        finally:
            self.view.selectionModel().blockSignals(False)
        if tree is None:
            self._first = True
            self.show_details(None)

    def _expanded_ids(self) -> set[str]:
        out: set[str] = set()
        tree = self.model.tree
        if tree is None:
            return out
        for nid in tree.nodes:
            idx = self.proxy.mapFromSource(self.model.index_of(nid))
            if idx.isValid() and self.view.isExpanded(idx):
                out.add(nid)
        return out

    def select_node(self, node_id: str) -> bool:
        """Select (and scroll to) a node; False when it is not in the tree."""
        idx = self.proxy.mapFromSource(self.model.index_of(node_id))
        if not idx.isValid():
            return False
        p = idx.parent()
        while p.isValid():
            self.view.setExpanded(p, True)
            p = p.parent()
        self.view.setCurrentIndex(idx)
        self.view.scrollTo(idx)
        return True

    @property
    def selected(self) -> str | None:
        return self._selected

    def _on_current_change(self, current: QModelIndex, _previous: QModelIndex) -> None:
        nid = self.model.node_id(self.proxy.mapToSource(current))
        if nid is None or nid == self._selected:
            return
        self._selected = nid
        tree = self.model.tree
        if tree is not None and nid in tree.nodes:
            n = tree.nodes[nid]
            self._set_title(plain_name(n.name, n.level_name, n.kind))
            self.summary.setPlainText(n.summary)
        self.node_selected.emit(nid)

    def set_go_blocked(self, why: str | None) -> None:
        """'Go there' on a node needs a world to drive in: ``why`` (one line) turns it off."""
        self._go_blocked = why

    def go_there_action(self, node_id: str) -> QAction:
        """The context menu's 'Go there' for a node (disabled, with the reason, when it cannot)."""
        tree = self.model.tree
        node = tree.nodes.get(node_id) if tree is not None else None
        act = QAction("Go there", self)
        why = self._go_blocked or (None if node is not None else "not in the forest")
        act.setEnabled(why is None)
        act.setToolTip(why or "drive the robot to this node")
        if node is not None:
            act.triggered.connect(lambda: self.go_requested.emit(list(node.position), node.floor))
        return act

    def _on_context_menu(self, at) -> None:
        nid = self.model.node_id(self.proxy.mapToSource(self.view.indexAt(at)))
        if nid is None:
            return
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        show = menu.addAction("Show on the map")
        show.triggered.connect(lambda: self.node_selected.emit(nid))
        menu.addAction(self.go_there_action(nid))
        menu.exec(self.view.viewport().mapToGlobal(at))

    def _on_filter_change(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        if text.strip():
            self.view.expandAll()

    def _on_member_activate(self, item: QListWidgetItem) -> None:
        nid = item.data(NODE_ID_ROLE)
        if nid and not self.select_node(nid):
            self.node_selected.emit(nid)

    # ------------------------------------------------------------------ details
    def _set_title(self, text: str) -> None:
        self._title_text = text
        self.title.setToolTip(text)
        self._elide_title()

    def _elide_title(self) -> None:
        text = getattr(self, "_title_text", self.title.text())
        width = max(40, self.title.width() - 4)
        self.title.setText(self.title.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, width))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._elide_title()

    def show_details(self, details: NodeDetails | None) -> None:
        """Show the picture, summary and members of a node (fetched by the worker)."""
        self.members.clear()
        if details is None:
            self._set_title("Select a node")
            self.summary.clear()
            self.image.set_image(None)
            self.image.setVisible(True)
            return
        self._set_title(f"{plain_name(details.title)}  ·  {details.level}")
        self.summary.setPlainText(details.summary)
        self.image.set_image(details.image)
        # no picture (imported memories, street view): the caption takes the picture's place
        self.image.setVisible(details.image is not None)
        for mid, name in details.members:
            item = QListWidgetItem(plain_name(name, kind=mid.split("/", 1)[0].replace("obj", "object")))
            item.setData(NODE_ID_ROLE, mid)
            item.setToolTip(mid)
            self.members.addItem(item)
