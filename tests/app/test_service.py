"""The memory as a service: frames sent over HTTP build the memory exploring builds; routes, auth, limits.

One short exploration of ``rooms:n=3,seed=1`` is recorded once per module; its frames are sent to a
real uvicorn server on a free loopback port while other clients ask questions, and the served
memory is then compared with the explored one and used by the route tests.
"""
from __future__ import annotations

import base64
import io
import threading

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.config import LabConfig
from app.priors import pack_for_scene
from app.progress import drain
from app.query import QueryEngine, QueryRequest
from app.service.core import MemoryService, SenderCaptionPerceiver
from app.service.errors import BadRequest, PayloadTooLarge
from app.service.frames import FrameBody, Limits, decode_frame, encode_frame
from app.service.http import create_app
from app.session import Session
from memory.core import IngestConfig, MemoryConfig
from sim.loader import load_scene
from tests.app.service_helpers import RecordingMemory, running_server
from tests.explored_worlds import shared_text_encoder

SPEC = "rooms:n=3,seed=1"
STEPS = 80
CONFIG = LabConfig(memory=MemoryConfig(image_encoder=None, ingest=IngestConfig(checkpoint_seconds=1e9)))
TOKEN = "t0ken-for-the-tests-only"


def _png(a: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


@pytest.fixture(scope="module")
def explored():
    """The scene and a memory explored directly, with every observation it ingested."""
    scene = load_scene(SPEC)
    mem = RecordingMemory(CONFIG.memory, priors=pack_for_scene(scene), text_encoder=shared_text_encoder())
    with Session(scene, config=CONFIG, memory=mem) as s:
        drain(s.explore(STEPS))
    return scene, mem


@pytest.fixture(scope="module")
def served(explored, tmp_path_factory):
    """The same frames sent over HTTP to a served new memory while three clients ask questions."""
    scene, direct = explored
    path = tmp_path_factory.mktemp("served") / "served.db"
    service = MemoryService.open(path, config=CONFIG, create=True, text_encoder=shared_text_encoder(),
                                 priors=pack_for_scene(scene)).warm()
    frames = [encode_frame(o.rgb, o.depth, o.pose, o.camera, o.timestamp, instance=o.instance, labels=o.objects,
                           step=o.step) for o in direct.recorded]
    answers: list[int] = []
    failures: list[str] = []
    done = threading.Event()
    with running_server(create_app(service)) as url:
        def ask_while_ingesting() -> None:
            with httpx.Client(base_url=url, timeout=60) as c:
                while not done.is_set() and len(answers) < 400:
                    r = c.post("/query", json={"text": "where is the bed?", "top_k": 3})
                    if r.status_code != 200 or "found" not in r.json():
                        failures.append(f"{r.status_code} {r.text[:200]}")
                    answers.append(r.status_code)

        askers = [threading.Thread(target=ask_while_ingesting) for _ in range(3)]
        for t in askers:
            t.start()
        with httpx.Client(base_url=url, timeout=120) as c:
            results = [c.post("/observations", json=f) for f in frames]
            done.set()
            for t in askers:
                t.join(60)
            checkpoint = c.post("/checkpoint")
        yield {"service": service, "direct": direct, "results": results, "checkpoint": checkpoint,
               "answers": answers, "failures": failures, "path": path, "url": url}
    service.close()


def _local(app) -> TestClient:
    """An in-process client that addresses the app as a local client does (Host 127.0.0.1)."""
    return TestClient(app, base_url="http://127.0.0.1:8765", raise_server_exceptions=False)


@pytest.fixture
def client(served):
    """An in-process client of a fresh app over the served memory (routes only: no socket)."""
    return _local(create_app(served["service"]))


def test_frames_sent_over_http_build_the_memory_exploring_builds(served):
    direct, service = served["direct"], served["service"]
    assert all(r.status_code == 200 for r in served["results"]), served["results"][0].text
    assert served["checkpoint"].status_code == 200
    assert served["results"][-1].json()["frame"] == len(direct.recorded)
    got = service.memory
    assert got.stats() == direct.stats()
    assert sorted(r.id for r in got.leaf_records()) == sorted(r.id for r in direct.leaf_records())
    assert got.forest.level_counts() == direct.forest.level_counts()
    for o in direct.graph.objects():
        assert np.allclose(got.graph.object(o.id).position, o.position)
        assert got.graph.object(o.id).name == o.name
    engine = QueryEngine(direct, config=CONFIG.query)
    questions = [f"where is the {o.label}?" for o in direct.graph.objects()] + ["what rooms are there?"]
    c = _local(create_app(service))
    for q in questions:
        want = engine.ask(QueryRequest(text=q)).to_json()
        have = c.post("/query", json={"text": q}).json()
        assert (have["answer"], have["found"]) == (want["answer"], want["found"]), q
        assert [h["id"] for h in have["hits"]] == [h["id"] for h in want["hits"]], q


def test_questions_are_answered_while_frames_come_in(served):
    assert served["answers"], "no question was asked during ingestion"
    assert served["failures"] == []


def test_query_answers_the_query_json_shape(client):
    r = client.post("/query", json={"text": "where can I sleep?", "top_k": 3, "robot": {"x": 0, "y": 0}})
    assert r.status_code == 200
    body = r.json()
    for key in ("query", "query_type", "answer", "found", "confidence", "goal", "latency_ms", "hits"):
        assert key in body
    assert len(body["hits"]) <= 3 and all("id" in h for h in body["hits"])


def test_memory_nodes_forest_seen_and_route(client, served):
    info = client.get("/memory").json()
    mem = served["service"].memory
    assert info["nodes"]["object"] == len(mem.graph.objects())
    assert info["live"]["frames_received"] == len(served["direct"].recorded)
    level1 = client.get("/forest", params={"level": 1}).json()
    assert level1["total"] == mem.forest.level_counts()[1] and level1["nodes"]
    room = client.get("/forest", params={"level": 2}).json()["nodes"][0]
    node = client.get(f"/nodes/{room['id']}").json()
    assert node["kind"] == "cluster" and node["children"] and node["record"]["id"] == room["id"]
    place = mem.graph.places()[-1].id
    shown = client.get(f"/nodes/{place}").json()
    assert shown["ancestors"] and Image.open(io.BytesIO(base64.b64decode(shown["thumbnail_png"]))).size[0] > 0
    seen = client.get("/seen", params={"node": room["id"]}).json()
    under = set(mem.forest.leaves_under(room["id"]))
    assert {o["id"] for o in seen["objects"]} == {i for i in under if i.startswith("obj/")}
    obj = mem.graph.objects()[0]
    near = client.get("/seen", params={"x": obj.position[0], "y": obj.position[1], "radius": 0.5}).json()
    assert obj.id in {o["id"] for o in near["objects"]}
    route = client.get("/route", params={"node": obj.id, "x": 0.0, "y": 0.0}).json()
    assert route["target"] == obj.id and route["waypoints"]
    assert route["waypoints"][-1]["id"] == mem.graph.nearest_place(obj.position[0], obj.position[1], obj.floor).id


def test_openapi_lists_every_route(client):
    paths = client.get("/openapi.json").json()["paths"]
    for p in ("/query", "/memory", "/nodes/{node_id}", "/forest", "/seen", "/route", "/observations", "/checkpoint"):
        assert p in paths


@pytest.mark.parametrize("method, url, body, status, words", [
    ("post", "/query", {"text": ""}, 422, "ask something"),
    ("post", "/query", {"text": "sofa?", "top_k": 0}, 422, "top_k"),
    ("post", "/query", {"text": "sofa?", "colour": 1}, 422, "colour"),
    ("post", "/query", {"image": "not base64!"}, 422, "base64"),
    ("get", "/nodes/obj/unicorn/9", None, 404, "no node"),
    ("get", "/forest?level=9", None, 404, "no level 9"),
    ("get", "/seen", None, 422, "name a region"),
    ("get", "/nowhere", None, 404, "no route"),
    ("post", "/query", {"image": _png(np.zeros((4, 4, 3), np.uint8))}, 422, "image encoder"),
])
def test_bad_requests_get_one_clear_line(client, method, url, body, status, words):
    r = getattr(client, method)(url, **({"json": body} if body is not None else {}))
    assert r.status_code == status
    assert set(r.json()) == {"error"} and words in r.json()["error"] and "\n" not in r.json()["error"]


def test_malformed_json_and_bad_frames_are_4xx(client, served):
    r = client.post("/observations", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"] == "the body is not valid JSON"
    frame = encode_frame(*_tiny_frame())
    frame["depth"] = {"dtype": "float32", "shape": [2, 2], "data": base64.b64encode(b"\0" * 16).decode()}
    before = served["service"].frames
    r = client.post("/observations", json=frame)
    assert r.status_code == 422 and "depth" in r.json()["error"]
    assert served["service"].frames == before


def _tiny_frame():
    from sim.types import CameraSpec, Pose

    cam = CameraSpec(width=8, height=6)
    rgb = np.full((6, 8, 3), 200, np.uint8)
    depth = np.full((6, 8), 2.0, np.float32)
    return rgb, depth, Pose(1.0, 2.0, 0.0, 0.3), cam, 5.0


def test_frame_codec_is_exact_and_checks_its_fields():
    rgb, depth, pose, cam, ts = _tiny_frame()
    inst = np.zeros((6, 8), np.int32)
    inst[2:4, 3:5] = 7
    from sim.types import ObjectInfo

    doc = encode_frame(rgb, depth, pose, cam, ts, instance=inst, labels={7: ObjectInfo(7, "chair", "red")},
                       caption="a test view")
    frame = decode_frame(FrameBody.model_validate(doc))
    o = frame.observation
    assert np.array_equal(o.rgb, rgb) and np.array_equal(o.depth, depth) and np.array_equal(o.instance, inst)
    assert o.pose == pose and o.camera == cam and o.objects[7].category == "chair" and frame.caption == "a test view"
    mm = decode_frame(FrameBody.model_validate(encode_frame(rgb, depth, pose, cam, ts, exact=False)))
    assert np.allclose(mm.observation.depth, depth, atol=1e-3)
    bad = [({"camera": {}}, "hfov_deg or fx"), ({"camera": {"fx": 4.0, "cx": 1.0}}, "centre"),
           ({"labels": {"0": "chair"}}, "positive"), ({"rgb": _png(np.zeros((5, 8, 3), np.uint8))}, "differs")]
    for change, words in bad:
        with pytest.raises(BadRequest, match=words):
            decode_frame(FrameBody.model_validate({**doc, **change}))
    with pytest.raises(PayloadTooLarge, match="pixels"):
        decode_frame(FrameBody.model_validate(doc), Limits(max_pixels=40))


def test_token_is_checked_on_every_route(served):
    app = create_app(served["service"], token=TOKEN)
    c = _local(app)
    for path in ("/health", "/memory", "/docs", "/openapi.json"):
        assert c.get(path).status_code == 401
        assert c.get(path, headers={"Authorization": "Bearer wrong-token-of-some-length"}).status_code == 401
    assert c.post("/query", json={"text": "bed?"}).status_code == 401
    ok = c.get("/health", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json()["ok"]


def test_serving_off_localhost_needs_a_token(capsys, served):
    import launcher

    assert launcher.main(["serve", str(served["path"]), "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--token" in err and len(err.splitlines()) == 1
    from app.cli.serve import check_bind, is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    check_bind("0.0.0.0", TOKEN)  # with a token it may
    assert launcher.main(["serve", str(served["path"]), "--token", "short"]) == 2


def test_body_limit_and_disconnect_leave_the_memory_untouched(served):
    import asyncio

    service = served["service"]
    with MemoryService.open(served["path"], config=CONFIG, readonly=True, limits=Limits(max_body_bytes=200),
                            text_encoder=shared_text_encoder()) as small:
        r = _local(create_app(small)).post("/observations", json=encode_frame(*_tiny_frame()))
        assert r.status_code == 413 and "limit" in r.json()["error"]
    body = httpx.Request("POST", "http://test/observations", json=encode_frame(*_tiny_frame())).read()
    messages = [{"type": "http.request", "body": body[: len(body) // 2], "more_body": True},
                {"type": "http.disconnect"}]
    sent: list[dict] = []

    async def receive():
        return messages.pop(0)

    async def send(m):
        sent.append(m)

    before = service.frames
    scope = {"type": "http", "method": "POST", "path": "/observations", "raw_path": b"/observations",
             "query_string": b"", "http_version": "1.1",
             "headers": [(b"host", b"127.0.0.1:8765"), (b"content-type", b"application/json")],
             "scheme": "http", "server": ("test", 80), "client": ("127.0.0.1", 1), "root_path": ""}
    asyncio.run(create_app(service)(scope, receive, send))
    assert service.frames == before and not sent


def test_a_readonly_service_refuses_frames(served):
    with MemoryService.open(served["path"], config=CONFIG, readonly=True, text_encoder=shared_text_encoder()) as ro:
        c = _local(create_app(ro))
        r = c.post("/observations", json=encode_frame(*_tiny_frame()))
        assert r.status_code == 409 and "read-only" in r.json()["error"]
        assert c.post("/query", json={"text": "where is the bed?"}).status_code == 200


def test_mcp_tools_list_and_answer(served):
    import asyncio

    from mcp import Client

    from app.service.mcp import TOOL_NAMES, build_mcp_server

    service = served["service"]
    mem = service.memory
    obj = mem.graph.objects()[0]
    room = mem.forest.clusters(2)[0]
    want = service.ask(QueryRequest(text=f"where is the {obj.label}?"))

    async def session() -> dict:
        out = {}
        async with Client(build_mcp_server(service)) as c:
            out["tools"] = {t.name: t.description for t in (await c.list_tools()).tools}
            out["instructions"] = c.instructions
            out["ask"] = await c.call_tool("ask_memory", {"question": f"where is the {obj.label}?"})
            out["overview"] = await c.call_tool("describe", {})
            out["room"] = await c.call_tool("describe", {"node_id": room.id})
            out["level"] = await c.call_tool("describe", {"level": 1})
            out["seen"] = await c.call_tool("list_seen", {"region": room.id})
            out["route"] = await c.call_tool("route_to", {"node_id": obj.id})
            out["bad"] = await c.call_tool("describe", {"node_id": "obj/unicorn/9"})
        return out

    out = asyncio.run(session())
    assert set(out["tools"]) == set(TOOL_NAMES)
    assert all(len(d) > 80 for d in out["tools"].values())
    assert "only what the robot's camera saw" in out["instructions"]
    ask = out["ask"].structured_content
    assert not out["ask"].is_error and (ask["answer"], ask["found"]) == (want["answer"], want["found"])
    assert [h["id"] for h in ask["hits"]] == [h["id"] for h in want["hits"]]
    assert out["overview"].structured_content["levels"] == {str(k): v for k, v in
                                                             sorted(mem.forest.level_counts().items())}
    assert out["room"].structured_content["children"] and out["room"].structured_content["id"] == room.id
    assert out["level"].structured_content["total"] == mem.forest.level_counts()[1]
    under = {i for i in mem.forest.leaves_under(room.id) if i.startswith("obj/")}
    assert {o["id"] for o in out["seen"].structured_content["objects"]} == under
    assert out["route"].structured_content["target"] == obj.id
    assert out["bad"].is_error and "no node" in out["bad"].content[0].text


def test_a_second_process_cannot_serve_the_file_being_served(served):
    import subprocess
    import sys
    from pathlib import Path

    from tests.app.service_helpers import free_port

    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, "launcher.py", "serve", str(served["path"]), "--port", str(free_port())],
                       cwd=root, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "being written by process" in err[0], r.stderr


def _client_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "assets" / "clients" / "send_frames.py"
    spec = importlib.util.spec_from_file_location("send_frames", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_client_speaks_the_frame_format(tmp_path, capsys):
    client = _client_script()
    rgb, depth, pose, cam, ts = _tiny_frame()
    inst = np.zeros((6, 8), np.int32)
    inst[1:3, 1:3] = 4
    for png_depth in (False, True):
        doc = client.encode_frame(rgb, depth, x=pose.x, y=pose.y, yaw=pose.yaw, hfov_deg=cam.hfov_deg, timestamp=ts,
                                  instance=inst, labels={4: "lamp", 9: "unseen"}, png_depth=png_depth)
        o = decode_frame(FrameBody.model_validate(doc)).observation
        assert np.array_equal(o.rgb, rgb) and np.allclose(o.depth, depth, atol=1e-3) and o.camera == cam
        assert set(o.objects) == {4} and o.objects[4].category == "lamp" and o.pose == pose
    with MemoryService.open(tmp_path / "fed.db", config=CONFIG, create=True,
                            text_encoder=shared_text_encoder()) as service:
        with running_server(create_app(service)) as url:
            assert client.main(["--url", url, "--steps", "2", "--ask", "where is the bed?"]) == 0
        assert service.frames == 3
    assert "sent 3 frames" in capsys.readouterr().out


def test_only_local_pages_and_json_writes_reach_a_tokenless_server(served):
    app = create_app(served["service"])
    evil = TestClient(app, base_url="http://rebound.example:8765")
    r = evil.post("/query", json={"text": "where is the bed?"})
    assert r.status_code == 403 and "localhost" in r.json()["error"]
    c = _local(app)
    r = c.post("/query", json={"text": "where is the bed?"}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "origin" in r.json()["error"]
    # what ``curl -d '{"text": ...}'`` sends: form encoding; a question is read as JSON all the same
    r = c.post("/query", content=b'{"text": "where is the bed?"}',
               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and "answer" in r.json()
    before = served["service"].frames
    r = c.post("/observations", content=b'{"rgb": ""}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and served["service"].frames == before


class _FailingPerceiver:
    """A perceiver that breaks half-way through an ingest (after the structure map took the depth)."""

    name = "failing"

    def perceive(self, obs):
        raise RuntimeError("perception backend crashed")


def test_an_ingest_that_fails_half_way_stops_writes_but_not_questions(tmp_path):
    from memory.core import EmbodiedMemory

    path = tmp_path / "broken.db"
    perceiver = SenderCaptionPerceiver(_FailingPerceiver())
    memory = EmbodiedMemory.open(path, CONFIG.memory, create=True, perceiver=perceiver,
                                 text_encoder=shared_text_encoder())
    perceiver.memory = memory
    service = MemoryService(memory, path=path, readonly=False, config=CONFIG, perceiver=perceiver)
    try:
        c = _local(create_app(service))
        for _ in range(2):
            r = c.post("/observations", json=encode_frame(*_tiny_frame()))
            assert r.status_code == 503 and "writes stopped" in r.json()["error"]
            assert "RuntimeError" in r.json()["error"] and "\n" not in r.json()["error"]
        assert c.post("/checkpoint").status_code == 503
        assert c.post("/query", json={"text": "where is the bed?"}).status_code == 200
        assert c.get("/memory").json()["live"]["writes_stopped"]
    finally:
        service.close()
    with MemoryService.open(path, config=CONFIG, readonly=True, text_encoder=shared_text_encoder()) as ro:
        assert ro.memory.observations == 0  # the half-ingested frame never reached the file


def test_a_senders_caption_names_the_view(tmp_path):
    with MemoryService.open(tmp_path / "captioned.db", config=CONFIG, create=True,
                            text_encoder=shared_text_encoder()) as service:
        c = _local(create_app(service))
        out = c.post("/observations", json=encode_frame(*_tiny_frame(), caption="a grand piano by the window")).json()
        assert out["place"] is not None
        node = c.get(f"/nodes/{out['place']}").json()
        assert node["record"]["caption"] == "a grand piano by the window"
