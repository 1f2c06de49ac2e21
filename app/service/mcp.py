"""An MCP server over a served memory: tools an LLM agent calls to ask the robot what it remembers.

``build_mcp_server(service)`` returns an ``mcp.server.mcpserver.MCPServer`` (the official SDK);
``launcher.py mcp MEM.db`` runs it on stdio. Tools: ``ask_memory``, ``describe``, ``list_seen``,
``route_to``. Every tool reads through ``MemoryService``, so its answers are the HTTP API's;
a bad argument comes back as a tool error with one clear line.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from app.query import QueryRequest
from app.service.core import MemoryService
from sim.errors import LabError

log = logging.getLogger(__name__)

__all__ = ["build_mcp_server", "INSTRUCTIONS", "TOOL_NAMES"]

TOOL_NAMES = ("ask_memory", "describe", "list_seen", "route_to")

INSTRUCTIONS = """\
This server is a robot's memory of a place it explored: a topological graph of the views it took
(place/N) and the objects it saw in them (obj/<label>/N), and a semantic forest that groups them
into areas, rooms, floors and the whole site (level 0 leaves up to the top level), each cluster
with a short summary. Positions are metres in the robot's world frame (x, y on a numbered floor).

Limits - say them when they matter:
- It holds only what the robot's camera saw, named by its perception; something it never saw is
  unknown, not absent. 'found': false means nothing in memory answers the question.
- Answers come from retrieval over those names and summaries with a small built-in text model
  (no LLM): read 'confidence' and the hits, and prefer quoting node ids.
- Routes follow the places the robot itself travelled between; they are not a floor plan.
- It is a snapshot of the memory file as this server opened it (read-only unless started to take frames).
"""


def _hit(h: dict[str, Any]) -> dict[str, Any]:
    return {k: h[k] for k in ("id", "kind", "level", "name", "position", "floor", "score") if k in h}


def _robot(x: float | None, y: float | None, floor: int) -> tuple[float, float, int] | None:
    if (x is None) != (y is None):
        raise _tool_error("give both robot_x and robot_y, or neither")
    return (float(x), float(y), int(floor)) if x is not None and y is not None else None


def _tool_error(message: str) -> Exception:
    from mcp.server.mcpserver.exceptions import ToolError

    return ToolError(message)


def _guard(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Turn the lab's errors into tool errors (one line the agent can act on)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return fn(*args, **kwargs)
        except LabError as e:
            raise _tool_error(str(e)) from None

    return wrapper


def build_mcp_server(service: MemoryService, *, name: str = "embodied-rag-memory") -> Any:
    """The MCP server exposing ``service``'s memory as tools (the caller keeps ``service`` open)."""
    from mcp.server.mcpserver import MCPServer

    server = MCPServer(name=name, instructions=INSTRUCTIONS, version="1")

    @server.tool(description=(
        "Ask the robot's memory a question in plain language ('where is the sofa?', 'where can I sleep?', "
        "'what rooms are there?', 'where did you last see a red mug?'). Returns the answer, whether the "
        "memory found anything ('found'), a confidence 0..1, the goal position to go to (metres, with its "
        "floor) and the top memory nodes it used. Give robot_x/robot_y to prefer nearby answers."))
    @_guard
    def ask_memory(question: str, top_k: int = 5, robot_x: float | None = None, robot_y: float | None = None,
                   floor: int = 0) -> dict[str, Any]:
        if not question.strip():
            raise _tool_error("the question is empty")
        a = service.ask(QueryRequest(text=question, top_k=top_k, robot=_robot(robot_x, robot_y, floor)))
        return {"answer": a["answer"], "found": a["found"], "confidence": a["confidence"], "goal": a["goal"],
                "goal_floor": a.get("goal_floor"), "query_type": a["query_type"],
                "hits": [_hit(h) for h in a["hits"]]}

    @server.tool(description=(
        "Describe part of the memory. With node_id (an id from another tool, e.g. place/3, obj/chair/2 or a "
        "cluster id): its summary, where it sits in the forest (ancestors) and what it contains (children). "
        "With level (0 = single views and objects, then areas, rooms, floors, site): the nodes of that level "
        "with their summaries (at most 50). With neither: an overview - counts per level and the top summaries."))
    @_guard
    def describe(node_id: str | None = None, level: int | None = None) -> dict[str, Any]:
        if node_id is not None and level is not None:
            raise _tool_error("give node_id or level, not both")
        if node_id is not None:
            n = service.node(node_id, thumbnail=False)
            return {"id": n["id"], "kind": n["kind"], "level": n["level"], "name": n["name"], "summary": n["text"],
                    "position": n["position"], "floor": n["floor"],
                    "ancestors": [{"id": a["id"], "name": a["name"], "level": a["level"]} for a in n["ancestors"]],
                    "children": [{"id": c["id"], "name": c["name"], "kind": c["kind"]} for c in n["children"][:50]],
                    "relations": n.get("relations", [])[:20]}
        if level is not None:
            page = service.forest_level(level, limit=50)
            return {"level": page["level"], "level_name": page["level_name"], "total": page["total"],
                    "nodes": [{"id": b["id"], "name": b["name"], "summary": b["text"], "position": b["position"],
                               "floor": b["floor"]} for b in page["nodes"]]}
        info = service.info()
        return {"levels": info.get("levels", {}), "level_names": info.get("level_names", []),
                "nodes": info.get("nodes", {}), "source": info.get("scene") or info.get("source"),
                "top": [{"id": t["id"], "name": t["name"], "summary": t["summary"]} for t in info.get("top", [])]}

    @server.tool(description=(
        "List the objects the robot saw in a region: either region = a forest node id (a room or area from "
        "describe), or x, y (metres) with a radius on a floor. Objects come with ids, names, positions and how "
        "many views saw them. Only what was seen is listed."))
    @_guard
    def list_seen(region: str | None = None, x: float | None = None, y: float | None = None, radius: float = 3.0,
                  floor: int = 0, limit: int = 50) -> dict[str, Any]:
        return service.seen(node_id=region, x=x, y=y, radius=radius, floor=floor, limit=limit)

    @server.tool(description=(
        "The way to an answer: give a question (routes to what answers it) or a node_id, and optionally the "
        "robot's position (robot_x, robot_y, floor; default: the last place it stood). Returns the goal, the "
        "places to pass (waypoints over the robot's own travelled paths, with positions) and the length, "
        "plus where the goal sits in the forest (site > floor > room > area)."))
    @_guard
    def route_to(question: str | None = None, node_id: str | None = None, robot_x: float | None = None,
                 robot_y: float | None = None, floor: int = 0) -> dict[str, Any]:
        return service.route(question=question, node_id=node_id, robot=_robot(robot_x, robot_y, floor))

    return server
