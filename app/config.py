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

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ConfigDict

from app.query import QueryConfig
from memory.core import MemoryConfig
from memory.llm import LLMConfig
from sim.config import from_dict, load_yaml
from sim.explore import ExplorerConfig
from sim.simulator import SimConfig

__all__ = ["LabConfig", "load_lab_config"]


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
