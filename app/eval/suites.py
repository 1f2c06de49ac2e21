"""Evaluation suites and the unit of work: which worlds, which questions, which perception modes.

A ``Suite`` names worlds (scene spec, exploration budget) and how the hand-written question bank is
asked of them; ``SUITES`` holds the built-in ones (``smoke``, ``standard``). A ``WorldJob`` is one
world in one perception mode - plain data, so it travels to Ray workers (``app.eval.ray``) as well
as to the in-process run (``app.eval.world``).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from app.config import PERCEPTION_MODES, LabConfig
from app.eval.ablation import VARIANTS
from sim.errors import ConfigError, LabError
from sim.registry import Registry

__all__ = ["SuiteWorld", "Suite", "SUITES", "get_suite", "suite_for_scenes", "WorldJob", "EvalError", "PERCEPTIONS",
           "KNOWN_RETRIEVERS"]

KNOWN_RETRIEVERS = VARIANTS
PERCEPTIONS = tuple(PERCEPTION_MODES)  # oracle, clip, geometric (app.config.with_perception)


class EvalError(LabError):
    """Bad evaluation settings (unknown suite or retriever, no LLM for ``llm``, unwritable output)."""


@dataclass(frozen=True, kw_only=True)
class SuiteWorld:
    """One world of a suite: its scene spec, the exploration step budget and the start seed."""

    spec: str
    steps: int = 3000
    seed: int = 0


@dataclass(frozen=True, kw_only=True)
class Suite:
    """Worlds and how questions are made and driven to.

    ``per_intent`` phrasings of each intent, at most ``max_per_type`` questions per type and world;
    the first ``nav_per_type`` non-global questions of each type are driven to (``nav_max_steps``).
    """

    name: str
    worlds: tuple[SuiteWorld, ...]
    description: str = ""
    query_seed: int = 0
    per_intent: int = 2
    max_per_type: int = 16
    nav_per_type: int = 4
    nav_max_steps: int = 800
    top_k: int = 5
    split: str = "test"
    perceptions: tuple[str, ...] = ("oracle",)
    bank: str | None = None  # a question bank file; None: assets/eval/bank.yaml

    def __post_init__(self) -> None:
        if not self.worlds:
            raise ConfigError(f"suite {self.name!r} has no worlds")
        if self.max_per_type < 1 or self.per_intent < 1 or self.nav_per_type < 0 or self.nav_max_steps < 1:
            raise ConfigError("suite per_intent, max_per_type and nav_max_steps must be >= 1, nav_per_type >= 0")
        if self.split not in ("dev", "test"):
            raise ConfigError(f"suite split must be dev or test, got {self.split!r}")
        bad = [p for p in self.perceptions if p not in PERCEPTIONS]
        if bad or not self.perceptions:
            raise ConfigError(f"unknown perception mode {bad[0] if bad else ''!r}. Available: {', '.join(PERCEPTIONS)}")


SUITES: Registry[Suite] = Registry("suite")
SUITES.register("smoke", Suite(
    name="smoke", description="two small worlds, few questions: under a minute, for tests",
    worlds=(SuiteWorld(spec="house:seed=3,rooms=4", steps=1200), SuiteWorld(spec="rooms:n=3,seed=1", steps=600)),
    nav_per_type=2, nav_max_steps=500))
SUITES.register("standard", Suite(
    name="standard", description="three houses, an office, a two-floor house and a campus",
    worlds=(SuiteWorld(spec="house:seed=3,rooms=6", steps=2000), SuiteWorld(spec="house:seed=5,rooms=8", steps=2500),
            SuiteWorld(spec="house:seed=11,rooms=5", steps=2000), SuiteWorld(spec="office:seed=1", steps=3000),
            SuiteWorld(spec="multifloor:seed=2,floors=2", steps=3500), SuiteWorld(spec="campus:seed=4", steps=5000)),
    nav_per_type=3, nav_max_steps=1200, perceptions=("oracle", "clip")))


def get_suite(name: str) -> Suite:
    """The suite registered as ``name`` (``EvalError`` lists the known ones)."""
    if name not in SUITES:
        raise EvalError(f"unknown suite {name!r}. Available: {', '.join(SUITES.names())}")
    return SUITES.get(name)


def suite_for_scenes(specs: Sequence[str], *, steps: int = 3000, base: Suite | None = None) -> Suite:
    """A suite of the given scene specs with the question settings of ``base`` (default: standard)."""
    from sim.loader import world_config
    from sim.spec import parse_spec

    for s in specs:  # a bad spec fails here, before any work starts
        sp = parse_spec(s)
        if sp.kind == "habitat":
            raise EvalError(f"{s}: habitat scenes cannot be evaluated here (the built-in simulator loads worlds "
                            "and mesh files)")
        if sp.kind == "file":
            if not Path(sp.path).is_file():
                raise EvalError(f"scene file {sp.path} does not exist")
        else:
            world_config(sp)
    ref = base or SUITES.get("standard")
    return replace(ref, name="custom", description="scenes given on the command line",
                   worlds=tuple(SuiteWorld(spec=s, steps=steps) for s in specs))


@dataclass(frozen=True)
class WorldJob:
    """Everything one world's evaluation needs (plain data: it travels to Ray workers)."""

    index: int
    world: SuiteWorld
    suite: Suite
    retrievers: tuple[str, ...]
    config: LabConfig
    perception: str = "oracle"
    shared: tuple[str, ...] = ()  # more perception modes that ride along on this job's exploration

    @property
    def modes(self) -> tuple[str, ...]:
        return (self.perception, *self.shared)
