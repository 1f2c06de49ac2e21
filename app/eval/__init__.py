"""Evaluation: the question bank, ground truth from the world, baselines and ablations, scenarios, reports.

``harness`` runs suites (``suites``: worlds x perception modes x bank questions) through ``world`` (one world's
tables) and ``ray`` (the fan-out); ``bank`` and ``truth`` fill the bank's questions from the world, never from
the memory; ``ablation`` names the systems compared; ``metrics`` and ``queries`` score answers; ``real`` and
``real_questions`` evaluate the authors' imported memories; ``scenario`` runs scripted YAML scenarios;
``report`` writes tables and plots.
"""
