"""The HTTP API of a served memory (FastAPI): ``create_app(service, token=...)``.

Routes (the OpenAPI page is ``/docs``, the schema ``/openapi.json``):

* ``POST /query`` - a question (text and/or a base64 PNG/JPEG image) -> the ``query --json`` answer
* ``GET /memory`` - ``memory info --json`` of the file, plus the live state of the served memory
* ``GET /nodes/{id}`` - a node's record, summary, ancestors, children and thumbnail
* ``GET /forest?level=N`` - the nodes of one forest level, a page at a time
* ``GET /seen`` - the objects remembered in a region (a forest node, or a circle around x, y)
* ``GET /route`` - the places to pass to reach a node or the answer to a question
* ``POST /observations`` - one RGB-D frame (``app.service.frames``) ingested like an exploration step
* ``POST /checkpoint`` - re-summarise what changed and write the memory file

Safety: with a token every request needs ``Authorization: Bearer <token>`` (the docs pages too);
request bodies are read whole (up to ``Limits.max_body_bytes``) before any route runs, so a client
that disconnects mid-frame leaves nothing behind; every error is ``{"error": "<one line>"}`` with a
4xx status (5xx only for a fault of the server, never with a traceback).
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.query import MAX_TOP_K, QueryRequest
from app.service.core import MemoryService, describe_error
from app.service.errors import BadRequest, ServiceError
from app.service.frames import FrameBody, decode_frame, decode_image
from app.service.net import host_name, is_loopback
from memory.errors import LLMError
from memory.query import MAX_QUERY_CHARS
from sim.errors import LabError

log = logging.getLogger(__name__)

__all__ = ["create_app", "QueryBody", "RobotBody"]


class RobotBody(BaseModel):
    """Where the robot is (for the spatial prior and path lengths)."""

    model_config = ConfigDict(extra="forbid")
    x: float
    y: float
    floor: int = 0


class QueryBody(BaseModel):
    """A question: ``text`` and/or ``image`` (base64 PNG or JPEG); unset fields take the server's defaults."""

    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(default=None, max_length=MAX_QUERY_CHARS)
    image: str | None = None
    top_k: int | None = Field(default=None, ge=1, le=MAX_TOP_K)
    retriever: str | None = Field(default=None, pattern="^(forest|flat|llm)$")
    generator: str | None = Field(default=None, pattern="^(template|llm)$")
    robot: RobotBody | None = None


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "the request is not valid"
    e = errors[0]
    where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
    if e.get("type") == "json_invalid":
        return "the body is not valid JSON"
    if e.get("type") == "missing" and where == "body":
        return "the request needs a JSON body"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{where}: {e.get('msg', 'invalid')}{more}"


class _Guard:
    """ASGI middleware: who may ask (token, or a local page only), and the whole body read (within the limit) first.

    Without a token the service answers only requests addressed to a loopback name, so a web page
    cannot reach it through DNS rebinding, and it refuses requests a browser sends from another
    origin; writes need ``Content-Type: application/json``, which a page cannot send cross-origin
    without a preflight the service never grants. ``POST /query`` also takes a body without that
    header (``curl -d``): it changes nothing.
    """

    def __init__(self, app: Any, *, token: str | None, max_body_bytes: int, check_host: bool = True) -> None:
        self.app = app
        self.token = token.encode() if token else None
        self.max_body = max_body_bytes
        self.check_host = check_host and token is None

    async def _refuse(self, status: int, message: str, scope: dict, receive: Any, send: Any,
                      headers: dict[str, str] | None = None) -> None:
        await _error(status, message, headers)(scope, receive, send)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        host = host_name(headers.get(b"host", b""))
        if self.check_host and not is_loopback(host):
            await self._refuse(403, f"this server answers only requests to localhost (Host {host!r}); serve it "
                               "with --host and --token to reach it from elsewhere", scope, receive, send)
            return
        origin = headers.get(b"origin")
        if origin is not None and host_name(origin) != host:
            await self._refuse(403, "requests from another web origin are refused", scope, receive, send)
            return
        ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if scope["method"] == "POST" and ctype != b"application/json":
            if scope["path"] == "/query":  # read-only: ``curl -d '{"text": ...}'`` sends form encoding
                scope = {**scope, "headers": [(k, v) for k, v in scope.get("headers") or () if k != b"content-type"]
                         + [(b"content-type", b"application/json")]}
            elif headers.get(b"content-length", b"0") not in (b"0", b""):
                await self._refuse(415, "send the body as JSON with 'Content-Type: application/json'",
                                   scope, receive, send)
                return
        if self.token is not None:
            auth = headers.get(b"authorization", b"")
            scheme, _, given = auth.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token):
                await self._refuse(401, "a bearer token is required: send 'Authorization: Bearer <token>'",
                                   scope, receive, send, {"WWW-Authenticate": "Bearer"})
                return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await _error(413, f"the body is {int(declared)} bytes; the limit is {self.max_body}")(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:  # read the whole body before any route sees it
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left mid-request: nothing was handed to the memory
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body:
                await _error(413, f"the body is over the limit of {self.max_body} bytes")(scope, receive, send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole = b"".join(chunks)
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": whole, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def create_app(service: MemoryService, *, token: str | None = None, check_host: bool = True) -> FastAPI:
    """The FastAPI application serving ``service`` (which the caller opens and closes).

    ``token``: every request must carry it as a bearer token. ``check_host`` (without a token): answer
    only requests addressed to a loopback name (see ``_Guard``).
    """
    app = FastAPI(title="Embodied-RAG Lab memory",
                  description="A robot's memory - a topological graph of places and objects and a semantic forest "
                              "of summaries - that any robot can feed with RGB-D frames and ask questions of.",
                  version="1")
    app.state.service = service

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return _error(exc.status, str(exc))

    @app.exception_handler(LabError)
    async def _lab_error(request: Request, exc: LabError) -> JSONResponse:
        return _error(502 if isinstance(exc, LLMError) else 422, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {request.url.path}; see /docs"
        return _error(exc.status_code, detail)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return _error(500, describe_error(exc))

    @app.post("/query", summary="Ask the memory a question (text or image)")
    def query(body: QueryBody) -> dict[str, Any]:
        if not (body.text and body.text.strip()) and not body.image:
            raise BadRequest("ask something: give 'text' (a question) or 'image' (base64 PNG/JPEG), or both")
        image = decode_image(body.image, "image", service.limits) if body.image else None
        robot = (body.robot.x, body.robot.y, body.robot.floor) if body.robot else None
        return service.ask(QueryRequest(text=body.text, image=image, retriever=body.retriever,
                                        generator=body.generator, top_k=body.top_k, robot=robot))

    @app.get("/memory", summary="What the memory file holds (memory info --json) and the live state")
    def memory() -> dict[str, Any]:
        return service.info()

    @app.get("/nodes/{node_id:path}", summary="One node: record, summary, ancestors, children, thumbnail")
    def node(node_id: str, thumbnail: bool = True) -> dict[str, Any]:
        return service.node(node_id, thumbnail=thumbnail)

    @app.get("/forest", summary="The nodes of one level of the semantic forest (0 = leaves)")
    def forest(level: int = Query(..., ge=0, le=64), offset: int = Query(0, ge=0),
               limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
        return service.forest_level(level, offset=offset, limit=limit)

    @app.get("/seen", summary="Objects remembered in a region: a forest node, or within radius of x, y")
    def seen(node: str | None = None, x: float | None = None, y: float | None = None,
             radius: float = Query(3.0, gt=0, le=1000), floor: int = 0,
             limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
        return service.seen(node_id=node, x=x, y=y, radius=radius, floor=floor, limit=limit)

    @app.get("/route", summary="Places to pass to reach a node or the answer to a question")
    def route(question: str | None = Query(None, max_length=MAX_QUERY_CHARS), node: str | None = None,
              x: float | None = None, y: float | None = None, floor: int = 0) -> dict[str, Any]:
        if (x is None) != (y is None):
            raise BadRequest("give both x and y for the robot, or neither")
        robot = (x, y, floor) if x is not None and y is not None else None
        return service.route(question=question, node_id=node, robot=robot)

    @app.post("/observations", summary="Ingest one RGB-D frame (camera intrinsics, pose, optional labels)")
    async def observations(body: FrameBody) -> dict[str, Any]:
        service.check_writable()  # a read-only or stopped service says so before decoding
        frame = await run_in_threadpool(decode_frame, body, service.limits, default_step=service.frames + 1)
        return await asyncio.wrap_future(service.submit(service.ingest, frame))

    @app.post("/checkpoint", summary="Re-summarise what changed and write the memory file")
    async def checkpoint() -> dict[str, Any]:
        return await asyncio.wrap_future(service.submit(service.checkpoint))

    @app.get("/health", summary="Liveness: the service answers")
    def health() -> dict[str, Any]:
        return {"ok": True, "readonly": service.readonly, "frames_received": service.frames}

    app.add_middleware(_Guard, token=token, max_body_bytes=service.limits.max_body_bytes, check_host=check_host)
    return app
