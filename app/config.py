"""The lab's configuration: one YAML file with a section per component.

```yaml
sim: {width: 320, height: 240, hfov_deg: 90}
memory:
  perception: {type: oracle, min_pixels: 150}
  forest: {area_radius: 1.75}
  text_encoder: {type: minilm}
  image_encoder: null
explorer: {look_around: true}
llm: {base_url: http://127.0.0.1:8080/v1, model: smollm2}
query: {retriever: forest, generator: template, top_k: 5, retrieval: {beam: [16, 6, 3]}}
```

Every section is a frozen keyword-only dataclass that forbids unknown keys (``__pydantic_config__``);
``sim.config.from_dict`` validates the file with pydantic and reports its first problem as one line:
the file and line, the key or value, and for an unknown key the list of valid ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import ConfigDict

from app.query import QueryConfig
from memory.core import MemoryConfig
from memory.llm import LLMConfig
from sim.config import from_dict, load_yaml
from sim.explore import ExplorerConfig
from sim.simulator import SimConfig

__all__ = ["LabConfig", "load_lab_config", "PERCEPTION_MODES", "GEOMETRIC_PRESET", "with_perception"]

GEOMETRIC_PRESET = Path(__file__).resolve().parent.parent / "assets" / "configs" / "geometric.yaml"
PERCEPTION_MODES = {
    "oracle": "the simulator's instance masks, labels, colours and materials (an upper bound)",
    "clip": "instance masks from the simulator, labels by SimCLIP zero-shot",
    "geometric": "no ground truth: RGB-D segments, SimCLIP labels, fusion across views; noisy depth, drifting pose",
}


@dataclass(frozen=True, kw_only=True)
class LabConfig:
    __pydantic_config__ = ConfigDict(extra="forbid")
    sim: SimConfig = field(default_factory=SimConfig)
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    explorer: ExplorerConfig = field(default_factory=ExplorerConfig)
    llm: LLMConfig | None = None
    query: QueryConfig = field(default_factory=QueryConfig)


def load_lab_config(path: str | Path | None = None) -> LabConfig:
    """The defaults, or the settings of a YAML file (errors name the file and line)."""
    if path is None:
        return LabConfig()
    doc = load_yaml(path)
    return from_dict(LabConfig, doc.data, where=str(path), lines=doc.lines)


def with_perception(config: LabConfig, mode: str) -> LabConfig:
    """``config`` with perception ``mode`` (``PERCEPTION_MODES``). ``geometric`` takes the sensors (depth noise,
    odometry drift) and perception settings of ``assets/configs/geometric.yaml``; the others set only the
    perceiver's type."""
    if mode not in PERCEPTION_MODES:
        raise ValueError(f"unknown perception {mode!r}. Available: {', '.join(PERCEPTION_MODES)}")
    mem = config.memory
    if mode == "geometric":
        preset = load_lab_config(GEOMETRIC_PRESET)
        return replace(config, sim=replace(config.sim, sensors=preset.sim.sensors),
                       memory=replace(mem, perception=preset.memory.perception))
    return replace(config, memory=replace(mem, perception=replace(mem.perception, type=mode)))
