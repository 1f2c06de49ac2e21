"""Benchmarks that print figures (``launcher.py bench NAME``; the dispatcher is ``app.cli.bench``).

``sim`` (render and step rates), ``memory`` (ingestion, forest build, bytes per leaf), ``retrieval``
(flat vs forest latency), ``perception`` (ground-truth-free perception against ground truth), ``simclip``,
``serve`` (the HTTP service under load), ``startup`` (cost of one shell command) and ``soak`` (a long
exploration with checkpoints). Tests never assert their times.
"""
