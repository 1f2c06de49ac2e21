"""The controls pane (world, exploration, teleop, memory) and the LLM settings dialog."""
from __future__ import annotations

import dataclasses
import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.config import PERCEPTION_MODES
from memory.llm import LLMConfig
from ui.outcomes import world_fields
from ui.worker import run_in_background

log = logging.getLogger(__name__)

__all__ = ["QtControlsPane", "QtLLMDialog", "WORLD_SIZES", "SPEED_MAX"]

# world type -> (size parameter, label, min, max, default)
WORLD_SIZES: dict[str, tuple[str, str, int, int, int]] = {
    "house": ("rooms", "Rooms", 2, 12, 6),
    "office": ("width", "Width (m)", 14, 40, 24),
    "multifloor": ("floors", "Floors", 2, 3, 2),
    "campus": ("width", "Width (m)", 50, 160, 80),
    "rooms": ("n", "Rooms", 1, 8, 2),
}
SPEED_MAX = 61  # the slider's last notch: as fast as possible


class QtControlsPane(QWidget):
    """Buttons and fields for everything the user drives; emits requests, never touches the session."""

    new_world_requested = Signal(str)  # scene spec
    open_scene_requested = Signal()
    explore_toggled = Signal(bool)  # True: start, False: pause
    step_requested = Signal()
    speed_changed = Signal(float)  # steps per second, 0 = as fast as possible
    teleop_requested = Signal(str)  # forward / backward / left / right
    open_memory_requested = Signal()
    save_memory_requested = Signal()
    save_memory_as_requested = Signal()
    autosave_toggled = Signal(bool)
    llm_settings_requested = Signal()
    scenario_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        self.first_hint = QLabel("")
        self.first_hint.setWordWrap(True)
        self.first_hint.setStyleSheet("color: #8fd0ff; padding: 2px 4px;")
        self.first_hint.setVisible(False)
        lay.addWidget(self.first_hint)
        lay.addWidget(self._world_box())
        self.world_hint = QLabel("")
        self.world_hint.setWordWrap(True)
        self.world_hint.setStyleSheet("color: #e0b050; padding: 2px 4px;")
        self.world_hint.setVisible(False)
        lay.addWidget(self.world_hint)
        lay.addWidget(self._explore_box())
        lay.addWidget(self._teleop_box())
        lay.addWidget(self._memory_box())
        lay.addWidget(self._tools_box())
        lay.addStretch(1)
        self.set_session_open(False)

    # ------------------------------------------------------------------ groups
    def _world_box(self) -> QGroupBox:
        box = QGroupBox("World")
        self.world_type = QComboBox()
        self.world_type.addItems(list(WORLD_SIZES))
        self.seed = QSpinBox()
        self.seed.setRange(0, 99999)
        self.seed.setValue(3)
        self.size_label = QLabel()
        self.size = QSpinBox()
        self.world_type.currentTextChanged.connect(self._on_world_type_change)
        self.new_world_button = QPushButton("New world")
        self.new_world_button.clicked.connect(lambda: self.new_world_requested.emit(self.scene_spec()))
        self.open_scene_button = QPushButton("Open scene file…")
        self.open_scene_button.setToolTip(".glb / .gltf / .ply / .obj, with an optional *.semantic.json beside it")
        self.open_scene_button.clicked.connect(self.open_scene_requested)
        self.world_open = QLabel("no world open")
        self.world_open.setStyleSheet("color: #9aa3b2; font-size: 11px;")
        self.world_open.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Type", self.world_type)
        form.addRow("Seed", self.seed)
        form.addRow(self.size_label, self.size)
        self.perception_mode = QComboBox()
        for k, (mode, what) in enumerate(PERCEPTION_MODES.items()):
            self.perception_mode.addItem(mode)
            self.perception_mode.setItemData(k, what, Qt.ItemDataRole.ToolTipRole)
        self.perception_mode.setToolTip("how the robot turns what it sees into objects (for the next New world)")
        form.addRow("Perception", self.perception_mode)
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_world_button)
        buttons.addWidget(self.open_scene_button)
        v = QVBoxLayout(box)
        v.addWidget(self.world_open)
        v.addLayout(form)
        v.addLayout(buttons)
        self._on_world_type_change(self.world_type.currentText())
        return box

    def _explore_box(self) -> QGroupBox:
        box = QGroupBox("Exploration")
        self.steps = QSpinBox()
        self.steps.setRange(1, 100000)
        self.steps.setValue(2000)
        self.steps.setToolTip("step budget of one run (pause and start again to go on)")
        self.explore_button = QPushButton("Start")
        self.explore_button.setCheckable(True)
        self.explore_button.setDefault(True)  # the first thing to do in a new world
        self.explore_button.toggled.connect(self._on_explore_toggle)
        self.step_button = QPushButton("Step")
        self.step_button.clicked.connect(self.step_requested)
        self.speed = QSlider(Qt.Orientation.Horizontal)
        self.speed.setRange(1, SPEED_MAX)
        self.speed.setValue(SPEED_MAX)
        self.speed_label = QLabel()
        self.speed.valueChanged.connect(self._on_speed_change)
        grid = QGridLayout(box)
        grid.addWidget(QLabel("Steps"), 0, 0)
        grid.addWidget(self.steps, 0, 1)
        grid.addWidget(self.explore_button, 1, 0)
        grid.addWidget(self.step_button, 1, 1)
        grid.addWidget(QLabel("Speed"), 2, 0)
        grid.addWidget(self.speed, 2, 1)
        grid.addWidget(self.speed_label, 3, 1)
        self._on_speed_change(self.speed.value())
        return box

    def _teleop_box(self) -> QGroupBox:
        box = QGroupBox("Teleop  (W A S D / arrow keys)")
        self.teleop_buttons: dict[str, QPushButton] = {}
        grid = QGridLayout(box)
        for key, text, r, c in (("forward", "▲ W", 0, 1), ("left", "◀ A", 1, 0), ("backward", "▼ S", 1, 1),
                                ("right", "D ▶", 1, 2)):
            b = QPushButton(text)
            b.setAutoRepeat(True)
            b.setAutoRepeatInterval(120)
            b.clicked.connect(lambda _=False, k=key: self.teleop_requested.emit(k))
            self.teleop_buttons[key] = b
            grid.addWidget(b, r, c)
        return box

    def _memory_box(self) -> QGroupBox:
        box = QGroupBox("Memory")
        self.open_memory_button = QPushButton("Open…")
        self.open_memory_button.clicked.connect(self.open_memory_requested)
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save_memory_requested)
        self.save_as_button = QPushButton("Save as…")
        self.save_as_button.clicked.connect(self.save_memory_as_requested)
        self.autosave = QCheckBox("Autosave")
        self.autosave.setChecked(True)
        self.autosave.setToolTip("new worlds write their memory to a file in the autosave folder, "
                                 "checkpointed every few seconds")
        self.autosave.toggled.connect(self.autosave_toggled)
        self.memory_label = QLabel("no memory file")
        self.memory_label.setWordWrap(True)
        self.memory_label.setStyleSheet("color: #9aa3b2; font-size: 11px;")
        row = QHBoxLayout()
        for b in (self.open_memory_button, self.save_button, self.save_as_button):
            row.addWidget(b)
        v = QVBoxLayout(box)
        v.addLayout(row)
        v.addWidget(self.autosave)
        v.addWidget(self.memory_label)
        return box

    def _tools_box(self) -> QGroupBox:
        box = QGroupBox("Tools")
        self.llm_button = QPushButton("LLM server…")
        self.llm_button.setToolTip("an OpenAI-compatible server for the llm retriever and answers")
        self.llm_button.clicked.connect(self.llm_settings_requested)
        self.scenario_button = QPushButton("Run scenario…")
        self.scenario_button.clicked.connect(self.scenario_requested)
        row = QHBoxLayout(box)
        row.addWidget(self.llm_button)
        row.addWidget(self.scenario_button)
        return box

    def set_scenario_missing(self, why: str | None) -> None:
        """Disable 'Run scenario' with ``why`` as its tooltip (None: available)."""
        self.scenario_button.setEnabled(why is None)
        self.scenario_button.setToolTip(why or "run a scenario file and open its report when it ends")

    # ------------------------------------------------------------------ values
    def perception(self) -> str:
        """The perception mode chosen for the next world (``app.config.PERCEPTION_MODES``)."""
        return self.perception_mode.currentText()

    def set_perception(self, mode: str) -> None:
        if mode in PERCEPTION_MODES:
            self.perception_mode.setCurrentText(mode)

    def scene_spec(self) -> str:
        """The spec of the world the fields describe, e.g. ``house:seed=3,rooms=6``."""
        kind = self.world_type.currentText()
        key = WORLD_SIZES[kind][0]
        return f"{kind}:seed={self.seed.value()},{key}={self.size.value()}"

    def set_scene_spec(self, kind: str, seed: int, size: int | None = None) -> None:
        self.world_type.setCurrentText(kind)
        self.seed.setValue(seed)
        if size is not None:
            self.size.setValue(size)

    def show_world(self, spec: str, name: str = "") -> None:
        """Say which world is open and set the fields to it (so New world rebuilds that world, not the
        fields' defaults); a scene file or an imported memory leaves the fields as they are."""
        fields = world_fields(spec) if spec else None
        self.world_open.setText(f"Open: {spec or name or 'no world'}")
        self.world_open.setToolTip(spec or name)
        if fields is None or fields[0] not in WORLD_SIZES:
            return
        kind, seed, params = fields
        self.world_type.setCurrentText(kind)
        if seed is not None:
            self.seed.setValue(seed)
        key = WORLD_SIZES[kind][0]
        if key in params:
            self.size.setValue(params[key])

    def set_first_hint(self, text: str | None) -> None:
        """A one-line lead for a first-time user (None hides it)."""
        self.first_hint.setText(text or "")
        self.first_hint.setVisible(bool(text))

    def speed_value(self) -> float:
        v = self.speed.value()
        return 0.0 if v >= SPEED_MAX else float(v)

    # ------------------------------------------------------------------ state from the window
    def _drive_widgets(self) -> tuple[QWidget, ...]:
        return (self.explore_button, self.step_button, *self.teleop_buttons.values())

    def set_session_open(self, is_open: bool, no_world: str | None = None) -> None:
        """Enable the controls of an open session; ``no_world`` (a one-line reason) when its memory
        is open without a world: driving stays disabled with that reason as tooltip and hint."""
        for w in (self.save_button, self.save_as_button):
            w.setEnabled(is_open)
        drive = is_open and no_world is None
        for w in self._drive_widgets():
            w.setEnabled(drive)
            w.setToolTip(no_world or "")
        self.explore_button.setToolTip(no_world or "explore with the frontier explorer (click again to pause)")
        self.world_hint.setText(no_world or "")
        self.world_hint.setVisible(is_open and no_world is not None)

    def set_exploring(self, exploring: bool) -> None:
        """Reflect a running (or finished) exploration without emitting ``explore_toggled``."""
        self.explore_button.blockSignals(True)
        self.explore_button.setChecked(exploring)
        self.explore_button.setText("Pause" if exploring else "Start")
        self.explore_button.blockSignals(False)
        self.step_button.setEnabled(not exploring and self.explore_button.isEnabled())
        for b in self.teleop_buttons.values():
            b.setEnabled(not exploring and self.explore_button.isEnabled())

    def set_memory_path(self, path: str | None) -> None:
        # the file name only: a long path with no spaces to wrap at would widen the whole dock
        name = path.replace("\\", "/").rsplit("/", 1)[-1] if path else ""
        self.memory_label.setText(f"File: {name}" if path else "no memory file (use Save as…)")
        self.memory_label.setToolTip(path or "")

    # ------------------------------------------------------------------ handlers
    def _on_world_type_change(self, kind: str) -> None:
        _, label, lo, hi, default = WORLD_SIZES[kind]
        self.size_label.setText(label)
        self.size.setRange(lo, hi)
        self.size.setValue(default)

    def _on_explore_toggle(self, on: bool) -> None:
        self.explore_button.setText("Pause" if on else "Start")
        self.explore_toggled.emit(on)

    def _on_speed_change(self, value: int) -> None:
        self.speed_label.setText("as fast as possible" if value >= SPEED_MAX else f"{value} steps/s")
        self.speed_changed.emit(self.speed_value())


class QtLLMDialog(QDialog):
    """Base URL, model and key of an OpenAI-compatible server, with 'Test connection'."""

    def __init__(self, config: LLMConfig | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("LLM settings")
        self.setMinimumWidth(480)
        c = config or LLMConfig()
        self.base_url = QLineEdit(c.base_url)
        self.model = QLineEdit(c.model)
        self.model.setPlaceholderText("(the server's default)")
        self.key = QLineEdit(c.api_key or "")
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText(f"(from ${c.api_key_env})" if c.api_key_env else "(none)")
        self.enabled = QCheckBox("Use this server for LLM retrieval and answers")
        self.enabled.setChecked(config is not None)
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self._on_test_click)
        self.result = QLabel("")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QFormLayout()
        form.addRow("Base URL", self.base_url)
        form.addRow("Model", self.model)
        form.addRow("API key", self.key)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._on_accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.enabled)
        row = QHBoxLayout()
        row.addWidget(self.test_button)
        row.addWidget(self.result, 1)
        lay.addLayout(row)
        lay.addWidget(buttons)
        self._base = c
        self.chosen: LLMConfig | None = config

    def config(self) -> LLMConfig:
        """The settings in the fields (``ConfigError`` when the URL is malformed)."""
        return dataclasses.replace(self._base, base_url=self.base_url.text().strip(), model=self.model.text().strip(),
                                   api_key=self.key.text() or None)

    def _on_test_click(self) -> None:
        from memory.llm import ChatClient
        from sim.errors import LabError

        try:
            cfg = dataclasses.replace(self.config(), retries=0, timeout_s=min(self._base.timeout_s, 15.0))
        except LabError as e:
            self.result.setText(f"failed: {e}")
            return
        self.test_button.setEnabled(False)
        self.result.setText("testing…")

        def done(line: str | None, error: BaseException | None) -> None:
            self.test_button.setEnabled(True)
            self.result.setText(line if error is None else f"failed: {error}")

        run_in_background(lambda: ChatClient(cfg).check(), done, self)

    def _on_accept(self) -> None:
        from sim.errors import LabError

        try:
            self.chosen = self.config() if self.enabled.isChecked() else None
        except LabError as e:
            self.result.setText(f"invalid: {e}")
            return
        self.accept()
