"""The forest tree model (checked with qtmodeltester) and the forest pane, offscreen."""
from __future__ import annotations

from app.snapshots import ForestNode, ForestTree, forest_tree
from ui.jobs import NodeDetails
from ui.qt_forest_pane import NODE_ID_ROLE, ForestTreeModel, QtForestPane


def _tree(extra_leaf: bool = False) -> ForestTree:
    leaves = ("obj/sink/1", "place/1") + (("obj/cup/2",) if extra_leaf else ())
    n = {
        "cluster/4/0": ForestNode("cluster/4/0", 4, "cluster", "house", "a house", (2, 2, 0),
                                  children=("cluster/2/0", "cluster/2/1")),
        "cluster/2/0": ForestNode("cluster/2/0", 2, "cluster", "kitchen", "a kitchen", (1, 1, 0),
                                  parent="cluster/4/0", children=("cluster/1/0",)),
        "cluster/2/1": ForestNode("cluster/2/1", 2, "cluster", "bathroom", "a bathroom", (3, 3, 0),
                                  parent="cluster/4/0"),
        "cluster/1/0": ForestNode("cluster/1/0", 1, "cluster", "sink area", "", (1, 1, 0), parent="cluster/2/0",
                                  children=leaves),
        "obj/sink/1": ForestNode("obj/sink/1", 0, "object", "sink", "a sink", (1, 1, 1), parent="cluster/1/0"),
        "place/1": ForestNode("place/1", 0, "place", "view 1", "kitchen view", (1, 1, 0), parent="cluster/1/0"),
    }
    if extra_leaf:
        n["obj/cup/2"] = ForestNode("obj/cup/2", 0, "object", "cup", "a cup", (1, 1, 1), parent="cluster/1/0")
    return ForestTree(n, ("cluster/4/0",), "d2" if extra_leaf else "d1")


def test_model_passes_the_model_tester(qtmodeltester):
    model = ForestTreeModel(_tree())
    qtmodeltester.check(model, force_py=True)
    root = model.index(0, 0)
    assert model.data(root) == "house" and model.rowCount(root) == 2
    bath, kitchen = model.index(0, 0, root), model.index(1, 0, root)
    assert (model.data(bath), model.data(kitchen)) == ("bathroom", "kitchen")  # sorted by name
    area = model.index(0, 0, kitchen)
    assert [model.data(model.index(r, 0, area)) for r in range(2)] == ["sink", "view 1"]  # objects before views
    assert model.data(area, NODE_ID_ROLE) == "cluster/1/0"
    assert model.parent(area) == kitchen
    assert model.index_of("obj/sink/1").isValid() and not model.index_of("nope").isValid()


def test_model_over_a_real_forest(qtmodeltester, explored_state):
    tree = forest_tree(explored_state.session.memory)
    model = ForestTreeModel(tree)
    qtmodeltester.check(model, force_py=True)
    shown = sum(1 for nid in tree.nodes if model.index_of(nid).isValid())
    assert shown == len(tree.nodes)


def test_pane_selection_details_and_reset_keeps_state(qtbot):
    pane = QtForestPane()
    qtbot.addWidget(pane)
    pane.set_tree(_tree())
    with qtbot.waitSignal(pane.node_selected) as sig:
        assert pane.select_node("obj/sink/1")
    assert sig.args == ["obj/sink/1"] and pane.selected == "obj/sink/1"
    pane.show_details(NodeDetails("obj/sink/1", "sink", "object", "a sink", None, (("place/1", "view 1"),)))
    assert pane.members.count() == 1 and "a sink" in pane.summary.toPlainText()
    kitchen = pane.proxy.mapFromSource(pane.model.index_of("cluster/2/0"))
    assert pane.view.isExpanded(kitchen)
    pane.set_tree(_tree(extra_leaf=True))  # a reset: expansion and selection survive
    assert pane.model.index_of("obj/cup/2").isValid()
    kitchen = pane.proxy.mapFromSource(pane.model.index_of("cluster/2/0"))
    assert pane.view.isExpanded(kitchen)
    assert pane.model.node_id(pane.proxy.mapToSource(pane.view.currentIndex())) == "obj/sink/1"
    pane.filter.setText("bath")
    assert pane.proxy.rowCount(pane.proxy.index(0, 0)) == 1
    with qtbot.waitSignal(pane.node_selected) as sig:
        pane._on_member_activate(pane.members.item(0))
    assert sig.args == ["place/1"]


def test_go_there_on_a_node_and_no_ids_for_unsummarised_clusters(qtbot):
    pane = QtForestPane()
    qtbot.addWidget(pane)
    tree = _tree()
    pane.set_tree(tree)
    act = pane.go_there_action("cluster/2/0")
    assert not act.isEnabled() and act.toolTip() == "no world open"
    pane.set_go_blocked(None)
    act = pane.go_there_action("cluster/2/0")
    with qtbot.waitSignal(pane.go_requested) as sig:
        act.trigger()
    assert sig.args == [[1, 1, 0], 0]
    raw = ForestNode("cluster/3/7", 3, "cluster", "cluster/3/7", "", (0, 0, 0))
    bare = ForestTree({**tree.nodes, "cluster/3/7": raw}, (*tree.roots, "cluster/3/7"), "d3")
    model = ForestTreeModel(bare)
    names = [model.data(model.index(r, 0)) for r in range(model.rowCount())]
    assert "cluster/3/7" not in names and "floor (not summarised yet)" in names
