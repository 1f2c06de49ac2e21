"""The command line, one module per command; ``launcher.py`` maps each command name to its ``cmd_*`` function.

``world`` and ``drive`` (worlds and driving), ``explore`` (build a memory), ``memory`` (``import-gml`` and
``memory info|export-gml``), ``query``, ``eval`` (``navigate``, ``run`` a scenario, ``eval`` a suite),
``bench``, ``serve`` (``serve`` and ``mcp``) and ``simclip`` (``train-simclip``). Each parses its arguments,
calls the use case elsewhere in ``app`` and prints; bad input ends with one line and exit code 2.
"""
