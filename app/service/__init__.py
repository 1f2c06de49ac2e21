"""The memory as a service: one process owns a memory file and serves it to robots, notebooks and agents.

* ``core`` - ``MemoryService``: the owner (one writer thread, concurrent readers)
* ``frames`` - the RGB-D frame format of ``POST /observations`` (decode / encode)
* ``http`` - the FastAPI application (``launcher.py serve``)
* ``mcp`` - the MCP server for LLM agents (``launcher.py mcp``)
* ``cli`` - the two commands

fastapi, uvicorn and mcp are imported only by the modules that need them.
"""
