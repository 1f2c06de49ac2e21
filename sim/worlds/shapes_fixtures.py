"""Shapes of kitchen, bathroom, laundry and gym fixtures, and of doors, windows and stairs."""
from __future__ import annotations

from sim import geometry
from sim.worlds.shapekit import (
    BLACK,
    DARK,
    GLASS,
    RUBBER,
    SCREEN,
    SILVER,
    WHITE,
    Piece,
    Style,
    bx,
    cyl,
    cyl_x,
    cyl_y,
    shade,
    shape,
)

_TOP: tuple[int, int, int] = (205, 205, 200)  # default stone worktop


def _cabinet(w: float, d: float, top_z: float, body, top, mat: str, doors: int = 2) -> list[Piece]:
    """Base cabinet with a recessed plinth, door fronts, handles and a worktop at ``top_z``."""
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    out = [Piece(bx(x0, x1 - 0.08, y0 + 0.02, y1 - 0.02, 0.0, 0.1), DARK, "wood"),
           Piece(bx(x0, x1 - 0.05, y0, y1, 0.1, top_z - 0.04), body, mat),
           Piece(bx(x0, x1, y0, y1, top_z - 0.04, top_z), top, "stone")]
    dw = (w - 0.02 - 0.01 * (doors - 1)) / doors
    for i in range(doors):
        ya = y0 + 0.01 + i * (dw + 0.01)
        out.append(Piece(bx(x1 - 0.05, x1 - 0.03, ya, ya + dw, 0.12, top_z - 0.06), shade(body, 1.08), mat))
        hy = ya + dw - 0.06 if i % 2 == 0 else ya + 0.06
        out.append(Piece(bx(x1 - 0.03, x1 - 0.01, hy - 0.01, hy + 0.01, top_z - 0.25, top_z - 0.1), SILVER, "metal"))
    return out


@shape("counter")
def counter(w: float, d: float, h: float, s: Style) -> list[Piece]:
    return _cabinet(w, d, h, s.secondary, s.primary, "wood", doors=max(1, round(w / 0.5)))


@shape("kitchen sink")
def kitchen_sink(w: float, d: float, h: float, s: Style) -> list[Piece]:
    top = 0.9
    out = _cabinet(w, d, top, s.primary, _TOP, s.material)
    x0 = -d / 2
    out.append(Piece(bx(x0 + 0.12, d / 2 - 0.08, -w * 0.3, w * 0.3, top, top + 0.01), SILVER, "metal"))
    out.append(Piece(bx(x0 + 0.16, d / 2 - 0.12, -w * 0.3 + 0.04, w * 0.3 - 0.04, top + 0.01, top + 0.012),
                     shade(SILVER, 0.6), "metal"))
    out.append(Piece(cyl(0.018, top, h, x0 + 0.06, 0.0, seg=6), SILVER, "metal"))
    out.append(Piece(bx(x0 + 0.04, x0 + 0.26, -0.015, 0.015, h - 0.03, h), SILVER, "metal"))
    return out


@shape("stove")
def stove(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    out = [Piece(bx(x0, x1 - 0.02, y0, y1, 0.0, h - 0.015), s.primary, s.material),
           Piece(bx(x0, x1, y0, y1, h - 0.015, h - 0.005), s.secondary, "glass"),
           Piece(bx(x1 - 0.02, x1 - 0.005, y0 + 0.05, y1 - 0.05, 0.12, h - 0.2), SCREEN, "glass"),
           Piece(bx(x1 - 0.005, x1, y0 + 0.08, y1 - 0.08, h - 0.18, h - 0.16), SILVER, "metal")]
    for xc in (-d * 0.2, d * 0.2):
        for yc in (-w * 0.24, w * 0.24):
            r = 0.08 if (xc < 0) == (yc < 0) else 0.06
            out.append(Piece(cyl(r, h - 0.005, h, xc, yc, seg=8), BLACK, "metal"))
    return out


@shape("washing machine", "clothes dryer")
def washer(w: float, d: float, h: float, s: Style) -> list[Piece]:
    """A front-loading box appliance: control strip and a round door."""
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    return [Piece(bx(x0, x1 - 0.02, y0, y1, 0.0, h), s.primary, s.material),
            Piece(bx(x1 - 0.02, x1, y0 + 0.02, y1 - 0.02, h - 0.12, h - 0.02), s.secondary, "plastic"),
            Piece(cyl_x(min(w, h) * 0.3, x1 - 0.02, x1, 0.0, h * 0.45, seg=12), shade(s.secondary, 1.4), "glass")]


@shape("dishwasher")
def dishwasher(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    return [Piece(bx(x0, x1 - 0.02, y0, y1, 0.0, h), s.primary, s.material),
            Piece(bx(x1 - 0.02, x1 - 0.005, y0 + 0.01, y1 - 0.01, 0.1, h - 0.12), shade(s.primary, 1.06), s.material),
            Piece(bx(x1 - 0.02, x1, y0 + 0.02, y1 - 0.02, h - 0.1, h - 0.02), s.secondary, "plastic"),
            Piece(bx(x1 - 0.005, x1, y0 + 0.12, y1 - 0.12, h - 0.16, h - 0.13), SILVER, "metal")]


@shape("fridge")
def fridge(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    split = h * 0.62
    out = [Piece(bx(x0, x1 - 0.05, y0, y1, 0.0, h), s.primary, s.material),
           Piece(bx(x1 - 0.05, x1 - 0.03, y0 + 0.01, y1 - 0.01, 0.03, split - 0.01), shade(s.primary, 1.05),
                 s.material),
           Piece(bx(x1 - 0.05, x1 - 0.03, y0 + 0.01, y1 - 0.01, split + 0.01, h - 0.02), shade(s.primary, 1.05),
                 s.material)]
    hy = y1 - 0.07
    out.append(Piece(bx(x1 - 0.03, x1, hy - 0.015, hy + 0.015, split - 0.45, split - 0.1), s.secondary, "metal"))
    out.append(Piece(bx(x1 - 0.03, x1, hy - 0.015, hy + 0.015, split + 0.1, split + 0.4), s.secondary, "metal"))
    return out


@shape("toilet")
def toilet(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1 = -d / 2, d / 2
    a = (d - 0.18) / 2
    xc = x0 + 0.18 + a
    bowl = geometry.transform(geometry.cylinder(1.0, 0.28, 0.4, 12), 0.0, (xc, 0.0, 0.0), (a, w / 2 - 0.01, 1.0))
    seat = geometry.transform(geometry.cylinder(1.0, 0.4, 0.42, 12), 0.0, (xc, 0.0, 0.0), (a, w / 2, 1.0))
    return [Piece(bx(x0 + 0.14, x1 - 0.12, -0.12, 0.12, 0.0, 0.3), s.primary, s.material),
            Piece(bowl, s.primary, s.material),
            Piece(seat, s.secondary, "plastic"),
            Piece(bx(x0, x0 + 0.2, -w / 2 + 0.02, w / 2 - 0.02, 0.42, h - 0.03), s.primary, s.material),
            Piece(bx(x0, x0 + 0.21, -w / 2 + 0.01, w / 2 - 0.01, h - 0.03, h), shade(s.primary, 0.97), s.material)]


@shape("sink")
def vanity(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    top = 0.86
    basin = geometry.transform(geometry.cylinder(1.0, top, top + 0.01, 14), 0.0, (0.03, 0.0, 0.0),
                               (d * 0.3, min(w * 0.35, 0.25), 1.0))
    return [Piece(bx(x0, x1 - 0.03, y0 + 0.02, y1 - 0.02, 0.0, top - 0.04), s.secondary, "wood"),
            Piece(bx(x1 - 0.03, x1 - 0.01, y0 + 0.04, y1 - 0.04, 0.08, top - 0.07), shade(s.secondary, 1.1), "wood"),
            Piece(bx(x0, x1, y0, y1, top - 0.04, top), s.primary, s.material),
            Piece(basin, shade(s.primary, 0.85), s.material),
            Piece(cyl(0.015, top, h, x0 + 0.05, 0.0, seg=6), SILVER, "metal"),
            Piece(bx(x0 + 0.04, x0 + 0.17, -0.012, 0.012, h - 0.025, h), SILVER, "metal")]


@shape("bathtub")
def bathtub(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    t = 0.08
    return [Piece(bx(x0, x1, y0, y1, 0.0, h - 0.35), s.primary, s.material),
            Piece(bx(x0, x0 + t, y0, y1, 0.0, h), s.primary, s.material),
            Piece(bx(x1 - t, x1, y0, y1, 0.0, h), s.primary, s.material),
            Piece(bx(x0 + t, x1 - t, y0, y0 + t, 0.0, h), s.primary, s.material),
            Piece(bx(x0 + t, x1 - t, y1 - t, y1, 0.0, h), s.primary, s.material),
            Piece(bx(x0 + t + 0.02, x1 - t - 0.02, y0 + t + 0.02, y1 - t - 0.02, h - 0.35, h - 0.34),
                  (150, 190, 215), "water"),
            Piece(bx(x0 + 0.01, x0 + 0.16, y1 - 0.17, y1 - 0.13, h - 0.03, h), s.secondary, "metal")]


@shape("shower")
def shower(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    t = 0.02
    tray = 0.15
    out = [Piece(bx(x0, x1, y0, y1, 0.0, tray), s.primary, s.material),
           Piece(bx(x0, x1, y0, y0 + t, tray, h - 0.05), GLASS, "glass"),
           Piece(bx(x0, x1, y1 - t, y1, tray, h - 0.05), GLASS, "glass"),
           Piece(bx(x1 - t, x1, y0 + t, y0 + w * 0.5, tray, h - 0.05), GLASS, "glass"),
           Piece(bx(x1 - 0.04, x1, y0, y1, h - 0.05, h), s.secondary, "metal"),
           Piece(bx(x0, x1, y0, y0 + 0.04, h - 0.05, h), s.secondary, "metal"),
           Piece(bx(x0, x1, y1 - 0.04, y1, h - 0.05, h), s.secondary, "metal"),
           Piece(cyl(0.015, tray, h - 0.2, x0 + 0.05, 0.0, seg=6), s.secondary, "metal"),
           Piece(bx(x0 + 0.03, x0 + 0.22, -0.07, 0.07, h - 0.24, h - 0.2), s.secondary, "metal")]
    return out


@shape("treadmill")
def treadmill(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    out = [Piece(bx(x0, x1 - 0.1, y0 + 0.05, y1 - 0.05, 0.03, 0.2), s.primary, s.material),
           Piece(bx(x0 + 0.05, x1 - 0.15, y0 + 0.12, y1 - 0.12, 0.2, 0.215), RUBBER, "rubber"),
           Piece(bx(x1 - 0.35, x1, y0, y1, h - 0.16, h), s.primary, s.material),
           Piece(bx(x1 - 0.3, x1 - 0.05, y0 + 0.15, y1 - 0.15, h - 0.16, h - 0.15), SCREEN, "glass")]
    for ya, yb in ((y0, y0 + 0.05), (y1 - 0.05, y1)):
        out.append(Piece(bx(x1 - 0.14, x1 - 0.06, ya, yb, 0.0, h - 0.16), s.secondary, "metal"))
        out.append(Piece(bx(x1 - 0.7, x1 - 0.14, ya, yb, 1.0, 1.04), s.secondary, "metal"))
    return out


@shape("exercise bike")
def exercise_bike(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    return [Piece(bx(x1 - 0.1, x1, y0, y1, 0.0, 0.06), s.secondary, "metal"),
            Piece(bx(x0, x0 + 0.1, y0, y1, 0.0, 0.06), s.secondary, "metal"),
            Piece(bx(x0 + 0.05, x1 - 0.05, -0.04, 0.04, 0.06, 0.14), s.primary, s.material),
            Piece(cyl_y(0.22, -0.05, 0.05, x1 - 0.3, 0.32, seg=12), s.primary, s.material),
            Piece(bx(x0 + 0.25, x0 + 0.31, -0.03, 0.03, 0.14, h - 0.4), s.primary, s.material),
            Piece(bx(x0 + 0.12, x0 + 0.4, -0.11, 0.11, h - 0.4, h - 0.33), BLACK, "leather"),
            Piece(bx(x1 - 0.18, x1 - 0.12, -0.03, 0.03, 0.14, h - 0.05), s.primary, s.material),
            Piece(bx(x1 - 0.2, x1 - 0.08, y0 + 0.04, y1 - 0.04, h - 0.05, h), BLACK, "rubber")]


@shape("weight bench")
def weight_bench(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    return [Piece(bx(x0, x1, y0 + 0.08, y1 - 0.08, h - 0.08, h), s.primary, s.material),
            Piece(bx(x0 + 0.1, x0 + 0.16, y0, y1, 0.0, h - 0.08), s.secondary, "metal"),
            Piece(bx(x1 - 0.16, x1 - 0.1, y0, y1, 0.0, h - 0.08), s.secondary, "metal"),
            Piece(bx(x0 + 0.1, x1 - 0.1, -0.04, 0.04, 0.1, 0.16), s.secondary, "metal")]


@shape("door")
def door(w: float, d: float, h: float, s: Style) -> list[Piece]:
    """A door leaf, its back (-x) against the wall, handles on both faces near the free (+y) edge."""
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    leaf = 0.04
    out = [Piece(bx(-leaf / 2, leaf / 2, y0, y1, 0.0, h), s.primary, s.material)]
    for za, zb in ((0.15, h * 0.45), (h * 0.52, h - 0.15)):
        out.append(Piece(bx(leaf / 2, leaf / 2 + 0.005, y0 + 0.12, y1 - 0.12, za, zb), shade(s.primary, 0.92),
                         s.material))
    hy = y1 - 0.08
    out.append(Piece(bx(x1 - 0.02, x1, hy - 0.1, hy + 0.01, 0.99, 1.02), s.secondary, "metal"))
    out.append(Piece(bx(x0, x0 + 0.02, hy - 0.1, hy + 0.01, 0.99, 1.02), s.secondary, "metal"))
    out.append(Piece(bx(leaf / 2, x1 - 0.02, hy - 0.01, hy + 0.01, 0.99, 1.02), s.secondary, "metal"))
    out.append(Piece(bx(x0 + 0.02, -leaf / 2, hy - 0.01, hy + 0.01, 0.99, 1.02), s.secondary, "metal"))
    return out


@shape("window")
def window(w: float, d: float, h: float, s: Style) -> list[Piece]:
    """A frame filling the wall thickness with a glass pane (and a mullion when wide)."""
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    f = 0.06
    out = [Piece(bx(x0, x1, y0, y1, 0.0, f), s.primary, s.material),
           Piece(bx(x0, x1, y0, y1, h - f, h), s.primary, s.material),
           Piece(bx(x0, x1, y0, y0 + f, f, h - f), s.primary, s.material),
           Piece(bx(x0, x1, y1 - f, y1, f, h - f), s.primary, s.material),
           Piece(bx(-0.01, 0.01, y0 + f, y1 - f, f, h - f), s.secondary if s.secondary != WHITE else GLASS, "glass"),
           Piece(bx(0.0, x1, y0, y1, f - 0.02, f), shade(s.primary, 1.05), s.material)]  # sill
    if w > 1.0:
        out.append(Piece(bx(-0.03, 0.03, -0.025, 0.025, f, h - f), s.primary, s.material))
    return out


@shape("stairs")
def stairs(w: float, d: float, h: float, s: Style) -> list[Piece]:
    """A straight flight climbing towards +x: solid steps, the last riser meets the upper floor."""
    x0, y0, y1 = -d / 2, -w / 2, w / 2
    n = max(2, round(h / 0.2))
    rise = h / n
    going = d / (n - 1)
    out = []
    for i in range(1, n):
        xa = x0 + (i - 1) * going
        out.append(Piece(bx(xa, xa + going, y0, y1, 0.0, i * rise), s.primary if i % 2 else shade(s.primary, 0.9),
                         s.material))
    return out
