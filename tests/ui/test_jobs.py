"""``ui.jobs`` and ``ui.lab_state`` headless: the same functions the worker thread runs."""
from __future__ import annotations

import numpy as np
import pytest

from app.progress import Cancelled, CancelToken, drain
from sim.errors import LabError
from ui import jobs, services
from ui.lab_state import LabState, NoSession
from ui.services import QueryParams

SMALL_WORLD = "rooms:n=3,seed=1"


def test_views_of_an_explored_session(explored_state):
    st = explored_state
    frame = st.frame()
    assert frame.camera.rgb.shape == frame.camera.depth.shape == frame.camera.semantic.shape
    assert frame.stats["places"] > 3 and frame.coverage is not None and frame.memory_path
    snap = st.map_snapshot(force=True)
    assert len(snap.cloud) > 1000 and len(snap.graph.place_ids) == frame.stats["places"]
    assert len(snap.forest.ids) > 0 and snap.robot is not None
    again = st.map_snapshot()
    assert again.cloud is snap.cloud and again.graph is snap.graph  # unchanged layers are reused


def test_node_details_for_cluster_object_and_place(explored_state):
    st = explored_state
    tree = st.tree(force=True)
    root = jobs.node_details(st, CancelToken(), tree.roots[0])
    assert root.title and root.summary and root.members and root.image is not None
    obj = next(n for n in tree.nodes.values() if n.kind == "object")
    d = jobs.node_details(st, CancelToken(), obj.id)
    assert d.level == "object" and d.members  # the views that saw it
    views = jobs.past_views(st, CancelToken(), limit=5)
    assert 0 < len(views) <= 5 and views[0][2].ndim == 3


def test_ask_draws_hits(explored_state):
    st = explored_state
    out = jobs.ask(st, CancelToken(), QueryParams(text="where is the sofa?"))
    r = out.response
    assert r["answer"] and r["hits"]
    assert st.map_snapshot().hits.ids  # the hits are drawn
    assert set(out.thumbnails) <= {h["id"] for h in r["hits"]}
    with pytest.raises(LabError, match="LLM"):
        jobs.ask(st, CancelToken(), QueryParams(text="where is the sofa?", generator="llm"))


def test_world_lifecycle_save_as_and_reopen(tmp_path):
    st = LabState(autosave_dir=tmp_path / "auto")
    with pytest.raises(NoSession):
        st.require()
    info = drain(jobs.new_world(st, CancelToken(), SMALL_WORLD))
    assert info.memory_path and info.memory_path.startswith(str(tmp_path / "auto"))
    drain(jobs.explore(st, CancelToken(), 30))
    pose = jobs.teleop(st, CancelToken(), "left")
    assert pose == st.session.observation.pose
    with pytest.raises(LabError, match="unknown drive command"):
        jobs.teleop(st, CancelToken(), "jump")
    stats = st.frame().stats
    target = tmp_path / "kept.db"
    assert jobs.save_memory_as(st, CancelToken(), str(target)) == str(target)
    assert st.memory_path == str(target)  # later checkpoints go to the new file
    st.close()
    st2 = LabState(autosave_dir=tmp_path / "auto")
    info2 = drain(jobs.open_memory(st2, CancelToken(), str(target)))
    assert info2.scene == SMALL_WORLD and info2.memory_path == str(target)
    assert st2.session.memory.stats()["objects"] == stats["objects"]
    assert len(st2.cloud) > 0  # remembered views are redrawn
    st2.close()


def test_new_world_without_autosave_has_no_file_and_save_asks_for_one(tmp_path):
    st = LabState(autosave=False, autosave_dir=tmp_path)
    info = drain(jobs.new_world(st, CancelToken(), "rooms:n=1,seed=2"))
    assert info.memory_path is None
    with pytest.raises(LabError, match="Save As"):
        jobs.save_memory(st, CancelToken())
    assert jobs.save_memory_as(st, CancelToken(), str(tmp_path / "m.db")) == str(tmp_path / "m.db")
    assert jobs.save_memory(st, CancelToken()) == str(tmp_path / "m.db")
    st.close()


def test_bad_inputs_raise_lab_errors(tmp_path):
    st = LabState(autosave_dir=tmp_path)
    with pytest.raises(LabError):
        drain(jobs.new_world(st, CancelToken(), "castle:seed=1"))
    with pytest.raises(LabError):
        jobs.memory_scene(tmp_path / "missing.db")
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        drain(jobs.new_world(st, cancel, "rooms:n=1"))
    assert st.session is None


def test_route_points_use_floor_elevations(explored_state):
    pts = explored_state.route_points([(0.0, 0.0, 0), (1.0, 2.0, 0)], lift=0.0)
    assert pts.shape == (2, 3) and np.allclose(pts[:, 2], 0.0)


def test_services_report_missing_features():
    assert services.available("query") and services.missing("query") is None
    assert services.available("navigation")
    if not services.available("scenario"):
        assert "app/eval/scenario.py" in services.missing("scenario")
        with pytest.raises(services.FeatureUnavailable):
            services.scenario("x.yaml", None)
    assert services.report_path({"report": "r.html"}).name == "r.html"
    assert services.report_path(object()) is None


def test_run_scenario_wraps_the_app_generator(monkeypatch, tmp_path):
    from app.progress import Progress

    report = tmp_path / "report.html"

    class Report:
        report_path = report

    def fake(path, out_dir, *, cancel=None):
        yield Progress("scenario", 1, 2, "step one", snapshot=object())
        return Report()

    monkeypatch.setattr(services, "scenario", fake)
    gen = jobs.run_scenario(LabState(autosave=False), CancelToken(), "s.yaml", str(tmp_path))
    first = next(gen)
    assert (first.message, first.snapshot) == ("step one", None)
    result = drain(gen)
    assert services.report_path(result) == report


def test_ask_by_image_finds_the_object_offline(explored_state):
    """The image query of the GUI: a fresh photo of a remembered object, embedded by the shipped SimCLIP."""
    from app.bench.simclip import fresh_crop

    st = explored_state
    session = st.session
    truth = {o.id: o for o in session.scene.info.objects}
    remembered = {r.instance_hint: r.id for r in session.memory.graph.objects() if r.instance_hint in truth}
    rng = np.random.default_rng(0)
    found = 0
    asked = 0
    for inst, oid in sorted(remembered.items()):
        got = fresh_crop(session, truth[inst], rng)
        if got is None:
            continue
        asked += 1
        r = jobs.ask(st, CancelToken(), QueryParams(image=got[0])).response
        first_object = next((h["id"] for h in r["hits"] if h["id"].startswith("obj/")), None)
        found += first_object == oid
    assert asked >= 2 and found >= asked - 1, (found, asked)


def test_run_scenario_with_the_real_app_writes_the_report_the_gui_opens(tmp_path):
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "assets" / "scenarios" / "three-rooms-quick.yaml"
    result = drain(jobs.run_scenario(LabState(autosave=False), CancelToken(), str(path), str(tmp_path)))
    report = services.report_path(result)
    assert report == tmp_path / "report.md" and report.is_file()
    assert result.ok and "trajectory.png" in report.read_text()


# ------------------------------------------------------------------------------------- a memory without a world
def _street_view_gml(folder) -> str:
    """A tiny street-view graph in the authors' format (no images), two blocks about 1 km apart."""
    lat0, lon0 = 40.4433, -79.9436
    views = [("Forbes Ave", "a bus stop with a shelter and a bench", 0.0, 0.0),
             ("Forbes Ave east", "a coffee shop with outdoor tables and a green awning", 0.0005, 0.0),
             ("Craig St", "a bookstore beside a bike rack", 0.0, 0.0005),
             ("Fifth Ave", "a parking lot behind a church", 0.012, 0.006),
             ("Fifth Ave west", "a pharmacy with a red sign", 0.0115, 0.006)]
    parts = ['graph [\n  environment "CMU campus"\n']
    for i, (name, cap, dlon, dlat) in enumerate(views):
        parts.append(f'  node [ id "n{i}" label "n{i}" type "base" name "{name}" caption "{cap}" '
                     f'position [ x {lon0 + dlon!r} y {lat0 + dlat!r} z 280.0 ] timestamp "2024-05" level 0 ]\n')
    parts.append('  node [ id "c0" type "cluster" level 1 name "Forbes and Craig" summary "a bus stop, a coffee '
                 'shop and a bookstore" members "[\'n0\', \'n1\', \'n2\']" ]\n')
    parts.append('  node [ id "c1" type "cluster" level 1 name "Fifth Avenue" summary "a parking lot and a pharmacy" '
                 'members "n3" members "n4" ]\n')
    parts.append('  node [ id "c2" type "cluster" level 2 name "campus" summary "streets around campus" '
                 'members "c0" members "c1" ]\n')
    parts.append('  edge [ source "n0" target "n1" ]\n  edge [ source "n3" target "n4" ]\n]\n')
    path = folder / "street.gml"
    path.write_text("".join(parts))
    return str(path)


def test_a_memory_without_a_world_opens_answers_and_refuses_to_drive(tmp_path):
    from app.cli.memory import import_gml_job
    from app.session import NO_WORLD, NoWorld

    db = tmp_path / "street.db"
    drain(import_gml_job(_street_view_gml(tmp_path), db, keep_forest=True))
    assert jobs.memory_scene(db) is None  # an import names no world
    st = LabState(autosave_dir=tmp_path / "auto")
    info = drain(jobs.open_memory(st, CancelToken(), str(db)))
    assert not info.has_world and info.scene == "" and info.memory_path == str(db) and info.name == "street.db"
    frame = st.frame()
    assert not frame.has_world and frame.camera is None and frame.stats["places"] == 5

    snap = st.map_snapshot(force=True)
    assert snap.robot is None and len(snap.cloud) == 0 and len(snap.path) == 0
    assert len(snap.graph.place_ids) == 5 and len(snap.graph.traverse) == 4  # two edges, two endpoints each
    (x0, y0, _), (x1, y1, _) = snap.bounds
    assert 900 < x1 - x0 < 1100 and 600 < y1 - y0 < 750  # 0.012 deg of longitude, 0.006 of latitude
    assert np.all(snap.graph.place_pos[:, :2] >= (x0, y0)) and np.all(snap.graph.place_pos[:, :2] <= (x1, y1))
    assert snap.forest.dz > 30  # levels spaced for a kilometre-wide map, not a room
    assert [lab.text for lab in snap.forest.labels] == ["campus"]

    out = jobs.ask(st, CancelToken(), QueryParams(text="where can I get a coffee?"))
    r = out.response
    assert r["hits"] and r["answer"] and out.thumbnails == {}  # street views come without pictures
    best = r["hits"][0]
    assert "coffee" in best["text"] and st.map_snapshot().hits.ids[0] == best["id"]
    details = jobs.node_details(st, CancelToken(), best["id"])
    assert details.image is None and "coffee shop" in details.summary

    for drive in (lambda: jobs.teleop(st, CancelToken(), "forward"), lambda: drain(jobs.explore(st, CancelToken(), 3)),
                  lambda: drain(jobs.go_to(st, CancelToken(), (0.0, 0.0, 0.0)))):
        with pytest.raises(NoWorld, match=NO_WORLD):
            drive()
    assert jobs.save_memory(st, CancelToken()) == str(db)  # the memory itself still saves
    st.close()


def test_a_memory_another_process_writes_opens_read_only(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from app.cli.memory import import_gml_job

    db = tmp_path / "street.db"
    drain(import_gml_job(_street_view_gml(tmp_path), db, keep_forest=True))
    holder = subprocess.Popen(  # another process holds the file's writer lock until a line arrives
        [sys.executable, "-c", "import sys\nfrom memory.file_lock import writer_lock\n"
         "with writer_lock(sys.argv[1]):\n    print('ready', flush=True)\n    sys.stdin.readline()\n", str(db)],
        cwd=Path(jobs.__file__).resolve().parents[1], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        st = LabState(autosave_dir=tmp_path / "auto")
        info = drain(jobs.open_memory(st, CancelToken(), str(db)))
        assert info.memory_path == str(db) and not info.has_world
        assert st.session.memory.store.readonly and st.frame().stats["places"] == 5
        with pytest.raises(LabError, match="read-only"):
            jobs.save_memory(st, CancelToken())
        st.close()
    finally:
        holder.communicate("\n", timeout=30)


def test_new_world_with_a_chosen_perception_builds_its_memory_with_it(tmp_path):
    st = LabState(autosave=False, autosave_dir=tmp_path)
    drain(jobs.new_world(st, CancelToken(), "rooms:n=1,seed=2", perception="geometric"))
    s = st.session
    assert s.perception == "geometric" and st.frame().perception == "geometric"  # the status bar says so
    assert s.sim.config.sensors.enabled  # noisy depth and a drifting pose come with it
    drain(jobs.explore(st, CancelToken(), 10))
    assert s.memory.meta["perception"] == "geometric"  # and memory info reads it from the file
    drain(jobs.new_world(st, CancelToken(), "rooms:n=1,seed=2", perception="oracle"))
    assert st.session.perception == "oracle"
    st.close()
