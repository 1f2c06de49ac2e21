"""Small Qt helpers shared by the panes: numpy images, the dark theme, error dialogs."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QImage, QPalette, QPixmap
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QSizePolicy, QWidget

log = logging.getLogger(__name__)

__all__ = ["to_qimage", "to_pixmap", "load_image", "apply_dark_theme", "show_error", "QtImageLabel", "LINK_COLOUR",
           "BASE_COLOUR", "contrast_ratio"]


def to_qimage(rgb: np.ndarray) -> QImage:
    """An RGB (H, W, 3) or grey (H, W) uint8 array as a QImage (a copy: the array may go)."""
    a = np.ascontiguousarray(rgb)
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.ascontiguousarray(np.repeat(a[:, :, None], 3, axis=2))
    if a.shape[2] == 4:
        a = np.ascontiguousarray(a[:, :, :3])
    h, w = a.shape[:2]
    return QImage(a.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def to_pixmap(rgb: np.ndarray, size: QSize | None = None, smooth: bool = True) -> QPixmap:
    """An array as a pixmap, scaled to fit ``size`` (keeping its aspect ratio) when given."""
    pm = QPixmap.fromImage(to_qimage(rgb))
    if size is not None and size.width() > 0 and size.height() > 0:
        mode = Qt.TransformationMode.SmoothTransformation if smooth else Qt.TransformationMode.FastTransformation
        pm = pm.scaled(size, Qt.AspectRatioMode.KeepAspectRatio, mode)
    return pm


def load_image(path: str | Path) -> np.ndarray:
    """Read a PNG/JPEG file as an RGB uint8 array (``LabError`` when it is not an image)."""
    from PIL import Image, UnidentifiedImageError

    from sim.errors import LabError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as e:
        raise LabError(f"cannot read image {path}: {e}") from None


LINK_COLOUR = "#8cc8ff"  # links on the dark base: contrast 8.2:1 (WCAG AA asks 4.5:1)
BASE_COLOUR = "#262930"


def contrast_ratio(fg: str, bg: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    def luminance(c: str) -> float:
        rgb = [int(c.lstrip("#")[i:i + 2], 16) / 255.0 for i in (0, 2, 4)]
        lin = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    a, b = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def apply_dark_theme(app: QApplication) -> None:
    """A dark Fusion palette (napari-like), easy on the eyes beside a 3D view."""
    app.setStyle("Fusion")
    p = QPalette()
    base, window, text, mid = QColor(BASE_COLOUR), QColor(49, 53, 62), QColor(225, 228, 234), QColor(72, 77, 88)
    p.setColor(QPalette.ColorRole.Window, window)
    p.setColor(QPalette.ColorRole.WindowText, text)
    p.setColor(QPalette.ColorRole.Base, base)
    p.setColor(QPalette.ColorRole.AlternateBase, QColor(44, 48, 56))
    p.setColor(QPalette.ColorRole.ToolTipBase, QColor(30, 32, 38))
    p.setColor(QPalette.ColorRole.ToolTipText, text)
    p.setColor(QPalette.ColorRole.Text, text)
    p.setColor(QPalette.ColorRole.Button, mid)
    p.setColor(QPalette.ColorRole.ButtonText, text)
    p.setColor(QPalette.ColorRole.BrightText, QColor(255, 120, 100))
    p.setColor(QPalette.ColorRole.Highlight, QColor(70, 130, 220))
    p.setColor(QPalette.ColorRole.HighlightedText, QColor(255, 255, 255))
    p.setColor(QPalette.ColorRole.PlaceholderText, QColor(140, 146, 158))
    p.setColor(QPalette.ColorRole.Link, QColor(LINK_COLOUR))
    p.setColor(QPalette.ColorRole.LinkVisited, QColor("#c9b0ff"))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 125, 135))
    app.setPalette(p)
    app.setStyleSheet(
        "QDockWidget::title { background: #2b2f37; padding: 4px 6px; font-weight: 600; }"
        "QGroupBox { border: 1px solid #4a505c; border-radius: 4px; margin-top: 14px; padding-top: 4px; }"
        "QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 4px; color: #9fb4d8; }"
        "QToolTip { border: 1px solid #4a505c; }"
    )


def show_error(parent: QWidget | None, title: str, error: BaseException | str, details: str = "") -> None:
    """A non-blocking error dialog: one clear line, the traceback under 'Show Details'."""
    msg = QMessageBox(parent)
    msg.setIcon(QMessageBox.Icon.Warning)
    msg.setWindowTitle(title)
    msg.setText(str(error) or error.__class__.__name__)
    if details:
        msg.setDetailedText(details)
    msg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    msg.setObjectName("errorDialog")
    msg.open()


class QtImageLabel(QLabel):
    """A label that shows an RGB array scaled to its size and rescales when resized."""

    def __init__(self, placeholder: str = "", parent: QWidget | None = None, smooth: bool = True) -> None:
        super().__init__(parent)
        self._image: np.ndarray | None = None
        self._smooth = smooth
        self._placeholder = placeholder
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(80, 60)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)  # never grow to the pixmap
        self.setStyleSheet("background: #1d1f24; color: #8a909c; border-radius: 3px;")
        self.setText(placeholder)

    @property
    def image(self) -> np.ndarray | None:
        return self._image

    def set_image(self, rgb: np.ndarray | None) -> None:
        self._image = None if rgb is None else np.asarray(rgb)
        self._render()

    def _render(self) -> None:
        if self._image is None:
            self.setPixmap(QPixmap())
            self.setText(self._placeholder)
            return
        self.setPixmap(to_pixmap(self._image, self.contentsRect().size(), self._smooth))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self._image is not None:
            self._render()
