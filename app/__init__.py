"""The lab's use cases, shared by the desktop app (``ui``), the command line and the memory service.

``session`` (a robot in a world with its memory), ``query`` (asking it) and ``snapshots`` (what viewers draw)
are what the GUI and the CLI share; ``config`` reads the lab's YAML, ``priors`` chooses a memory's prior packs,
``progress`` reports long work. Packages name the rest: ``cli`` (one module per command), ``robot`` (explore,
navigate, the robot's map), ``eval`` (evaluation and scenarios), ``bench``, ``simclip`` and ``service``.
"""
