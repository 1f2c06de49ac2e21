"""Shapes of lamps, plants, decor, electronics, tableware and other small objects."""
from __future__ import annotations

from sim.worlds.shapekit import (
    BLACK,
    CREAM,
    DARK,
    LIGHT,
    SCREEN,
    WHITE,
    Piece,
    Style,
    bx,
    cyl,
    cyl_x,
    ellipsoid,
    frustum_box,
    shade,
    shape,
)


@shape("lamp")
def table_lamp(w: float, d: float, h: float, s: Style) -> list[Piece]:
    r = min(w, d) / 2
    return [Piece(cyl(r * 0.55, 0.0, 0.03, seg=10), s.secondary, "metal"),
            Piece(cyl(0.015, 0.03, h * 0.55, seg=6), s.secondary, "metal"),
            Piece(cyl(r, h * 0.5, h, seg=12, r_top=r * 0.65), s.primary, s.material)]


@shape("floor lamp")
def floor_lamp(w: float, d: float, h: float, s: Style) -> list[Piece]:
    r = min(w, d) / 2
    # a heavy base tall enough for the navigation raycast to see the lamp
    return [Piece(cyl(r * 0.7, 0.0, 0.16, seg=10), s.secondary, "metal"),
            Piece(cyl(0.015, 0.16, h - 0.3, seg=6), s.secondary, "metal"),
            Piece(cyl(r, h - 0.38, h, seg=12, r_top=r * 0.7), s.primary, s.material),
            Piece(cyl(r * 0.6, h - 0.385, h - 0.38, seg=10), LIGHT, "plain")]


@shape("potted plant", "small plant")
def plant(w: float, d: float, h: float, s: Style) -> list[Piece]:
    r = min(w, d) / 2
    pot_h = h * (0.3 if h > 0.6 else 0.38)
    return [Piece(cyl(r * 0.55, 0.0, pot_h, seg=10, r_top=r * 0.72), s.secondary, "ceramic"),
            Piece(cyl(r * 0.66, pot_h, pot_h + 0.01, seg=10), DARK, "plain"),
            Piece(ellipsoid(r, r, (h - pot_h) * 0.32, (0.0, 0.0, pot_h + (h - pot_h) * 0.32)), s.primary, s.material),
            Piece(ellipsoid(r * 0.7, r * 0.7, (h - pot_h) * 0.3, (0.0, 0.0, h - (h - pot_h) * 0.3)),
                  shade(s.primary, 1.15), s.material)]


@shape("rug", "bath mat", "yoga mat")
def rug(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    b = min(0.12, min(w, d) * 0.08)
    return [Piece(bx(x0, x1, y0, y1, 0.0, h * 0.8), s.secondary, s.material),
            Piece(bx(x0 + b, x1 - b, y0 + b, y1 - b, 0.0, h), s.primary, s.material)]


@shape("painting", "whiteboard")
def framed(w: float, d: float, h: float, s: Style) -> list[Piece]:
    """A frame on the wall (back at -x) holding a canvas, a board or a picture."""
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    f = 0.04
    out = [Piece(bx(x0, x1 - 0.008, y0, y1, 0.0, h), s.secondary, "wood" if s.material == "paper" else "metal"),
           Piece(bx(x1 - 0.008, x1, y0 + f, y1 - f, f, h - f), s.primary, s.material)]
    if s.material == "paper":  # a simple landscape: a darker lower band and a sun
        out.append(Piece(bx(x1 - 0.009, x1, y0 + f, y1 - f, f, h * 0.45), shade(s.primary, 0.62), s.material))
        out.append(Piece(bx(x1 - 0.009, x1, y1 - f - w * 0.25, y1 - f - w * 0.12, h * 0.6, h * 0.6 + w * 0.13),
                         shade(s.primary, 1.6), s.material))
    else:  # a marker tray
        out.append(Piece(bx(x0, x1, y0 + w * 0.2, y1 - w * 0.2, 0.0, 0.02), s.secondary, "metal"))
    return out


@shape("mirror")
def mirror(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    return [Piece(bx(x0, x1 - 0.008, y0, y1, 0.0, h), s.secondary, "wood"),
            Piece(bx(x1 - 0.008, x1, y0 + 0.035, y1 - 0.035, 0.035, h - 0.035), s.primary, s.material)]


@shape("clock")
def clock(w: float, d: float, h: float, s: Style) -> list[Piece]:
    r = min(w, h) / 2
    x0, x1 = -d / 2, d / 2
    return [Piece(cyl_x(r, x0, x1 - 0.01, 0.0, h / 2, seg=14), s.secondary, "plastic"),
            Piece(cyl_x(r - 0.02, x1 - 0.01, x1 - 0.004, 0.0, h / 2, seg=14), s.primary, s.material),
            Piece(bx(x1 - 0.004, x1, -0.006, 0.006, h / 2, h / 2 + r * 0.7), BLACK, "metal"),
            Piece(bx(x1 - 0.004, x1, 0.0, r * 0.5, h / 2 - 0.006, h / 2 + 0.006), BLACK, "metal")]


@shape("towel")
def towel(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    return [Piece(bx(x0, x1 - 0.02, y0, y0 + 0.03, h - 0.04, h - 0.01), s.secondary, "metal"),
            Piece(bx(x0, x1 - 0.02, y1 - 0.03, y1, h - 0.04, h - 0.01), s.secondary, "metal"),
            Piece(bx(x1 - 0.035, x1 - 0.015, y0, y1, h - 0.03, h - 0.01), s.secondary, "metal"),
            Piece(bx(x1 - 0.04, x1, y0 + 0.04, y1 - 0.04, 0.0, h), s.primary, s.material)]


@shape("tv", "monitor")
def screen(w: float, d: float, h: float, s: Style) -> list[Piece]:
    """A flat panel on a neck and a foot; the panel's front shows a dark screen."""
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    foot_w = w * 0.4
    return [Piece(bx(x0, x1, -foot_w / 2, foot_w / 2, 0.0, 0.02), s.secondary, "plastic"),
            Piece(bx(-0.06, -0.02, -0.03, 0.03, 0.02, 0.12), s.secondary, "plastic"),
            Piece(bx(-0.02, 0.025, y0, y1, 0.08, h), s.primary, s.material),
            Piece(bx(0.025, 0.03, y0 + 0.015, y1 - 0.015, 0.095, h - 0.015), SCREEN, "glass")]


@shape("laptop")
def laptop(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    return [Piece(bx(x0, x1, y0, y1, 0.0, 0.018), s.primary, s.material),
            Piece(bx(x0 + 0.02, x1 - 0.08, y0 + 0.02, y1 - 0.02, 0.018, 0.02), s.secondary, "plastic"),
            Piece(bx(x0, x0 + 0.01, y0, y1, 0.018, h), s.primary, s.material),
            Piece(bx(x0 + 0.01, x0 + 0.013, y0 + 0.015, y1 - 0.015, 0.03, h - 0.012), SCREEN, "glass")]


@shape("printer", "copier")
def printer(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    body = h - min(0.08, h * 0.25)
    out = [Piece(bx(x0, x1 - 0.02, y0, y1, 0.0, body), s.primary, s.material),
           Piece(bx(x0, x1 - 0.04, y0, y1, body, h), s.secondary, s.material),
           Piece(bx(x1 - 0.02, x1, y0 + 0.06, y1 - 0.06, body * 0.55, body * 0.6), WHITE, "paper")]
    if h > 0.6:  # paper drawers of a floor-standing copier
        for k in range(3):
            z = 0.1 + k * body * 0.15
            out.append(Piece(bx(x1 - 0.02, x1, y0 + 0.03, y1 - 0.03, z, z + body * 0.12), shade(s.primary, 0.9),
                             s.material))
    return out


@shape("cup")
def cup(w: float, d: float, h: float, s: Style) -> list[Piece]:
    r = min(w, d) / 2
    return [Piece(cyl(r * 0.75, 0.0, h, cx=0.0, cy=-r * 0.25, seg=10), s.primary, s.material),
            Piece(cyl(r * 0.65, h - 0.003, h + 0.0, cx=0.0, cy=-r * 0.25, seg=10), shade(s.primary, 0.6),
                  s.material),
            Piece(bx(-0.008, 0.008, r * 0.5, r, h * 0.25, h * 0.8), s.primary, s.material)]


@shape("bowl")
def bowl(w: float, d: float, h: float, s: Style) -> list[Piece]:
    r = min(w, d) / 2
    return [Piece(cyl(r * 0.55, 0.0, h, seg=12, r_top=r), s.primary, s.material),
            Piece(cyl(r * 0.9, h - 0.004, h, seg=12), s.secondary, "plain")]


@shape("vase")
def vase(w: float, d: float, h: float, s: Style) -> list[Piece]:
    r = min(w, d) / 2
    body = h * 0.72
    return [Piece(cyl(r * 0.6, 0.0, body * 0.55, seg=10, r_top=r * 0.85), s.primary, s.material),
            Piece(cyl(r * 0.85, body * 0.55, body, seg=10, r_top=r * 0.45), s.primary, s.material),
            Piece(ellipsoid(r, r, (h - body) / 2, (0.0, 0.0, body + (h - body) / 2), rings=4, seg=7),
                  s.secondary, "foliage")]


@shape("book")
def book(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    return [Piece(bx(x0, x1, y0, y1, 0.0, h), s.primary, s.material),
            Piece(bx(x1 - 0.002, x1, y0 + 0.005, y1 - 0.005, 0.004, h - 0.004), CREAM, "paper")]


@shape("kettle")
def kettle(w: float, d: float, h: float, s: Style) -> list[Piece]:
    r = min(w, d) / 2
    return [Piece(cyl(r * 0.95, 0.0, 0.02, seg=10), s.secondary, "plastic"),
            Piece(cyl(r * 0.8, 0.02, h * 0.82, seg=10, r_top=r * 0.6), s.primary, s.material),
            Piece(cyl(r * 0.35, h * 0.82, h, seg=8), s.secondary, "plastic"),
            Piece(bx(-r, -r * 0.75, -0.015, 0.015, h * 0.2, h * 0.85), s.secondary, "plastic"),
            Piece(bx(r * 0.6, r, -0.012, 0.012, h * 0.6, h * 0.72), s.primary, s.material)]


@shape("toaster")
def toaster(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    return [Piece(bx(x0, x1, y0, y1 - 0.02, 0.0, h - 0.003), s.primary, s.material),
            Piece(bx(-0.015, 0.015, y0 + 0.03, y1 - 0.05, h - 0.003, h), BLACK, "plastic"),
            Piece(bx(-0.02, 0.02, y1 - 0.02, y1, h * 0.5, h * 0.65), s.secondary, "plastic")]


@shape("coffee machine")
def coffee_machine(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    return [Piece(bx(x0, x0 + d * 0.55, y0, y1, 0.0, h), s.primary, s.material),
            Piece(bx(x0 + d * 0.55, x1, y0, y1, h - 0.08, h), s.primary, s.material),
            Piece(bx(x0 + d * 0.55, x1, y0, y1, 0.0, 0.025), s.secondary, "metal"),
            Piece(cyl(0.035, 0.025, 0.11, cx=x0 + d * 0.75, cy=0.0, seg=8), WHITE, "ceramic")]


@shape("microwave")
def microwave(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    return [Piece(bx(x0, x1 - 0.01, y0, y1, 0.0, h), s.primary, s.material),
            Piece(bx(x1 - 0.01, x1, y0 + 0.03, y0 + w * 0.68, 0.03, h - 0.03), SCREEN, "glass"),
            Piece(bx(x1 - 0.01, x1, y0 + w * 0.72, y1 - 0.03, 0.03, h - 0.03), s.secondary, "plastic")]


@shape("trash can", "bin")
def bin_(w: float, d: float, h: float, s: Style) -> list[Piece]:
    r = min(w, d) / 2
    lid = min(0.05, h * 0.1)
    return [Piece(cyl(r * 0.85, 0.0, h - lid, seg=12, r_top=r * 0.95), s.primary, s.material),
            Piece(cyl(r, h - lid, h, seg=12), s.secondary, s.material)]


@shape("laundry basket")
def laundry_basket(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    return [Piece(frustum_box((x0 + 0.03, y0 + 0.03), (x1 - 0.03, y1 - 0.03), (x0, y0), (x1, y1), 0.0, h - 0.03),
                  s.primary, s.material),
            Piece(bx(x0, x1, y0, y1, h - 0.03, h - 0.01), s.secondary, s.material),
            Piece(bx(x0 + 0.05, x1 - 0.05, y0 + 0.05, y1 - 0.05, h - 0.01, h), shade(s.secondary, 0.8), "fabric")]


@shape("box")
def box(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    return [Piece(bx(x0, x1, y0, y1, 0.0, h - 0.002), s.primary, s.material),
            Piece(bx(x0, x1, -0.03, 0.03, h - 0.002, h), s.secondary, "plastic")]


@shape("coat rack")
def coat_rack(w: float, d: float, h: float, s: Style) -> list[Piece]:
    r = min(w, d) / 2
    out = [Piece(cyl(r * 0.6, 0.0, 0.15, seg=10), s.primary, s.material),
           Piece(cyl(0.025, 0.15, h, seg=6), s.primary, s.material)]
    for k, (dx, dy) in enumerate(((1, 0), (0, 1), (-1, 0), (0, -1))):
        out.append(Piece(bx(min(0.0, dx * 0.14), max(0.0, dx * 0.14), min(0.0, dy * 0.14) - 0.01,
                            max(0.0, dy * 0.14) + 0.01, h - 0.12 - 0.02 * k, h - 0.1 - 0.02 * k), s.primary,
                         s.material))
    out.append(Piece(bx(0.03, r - 0.02, -r * 0.6, r * 0.6, h - 1.0, h - 0.16), s.secondary, "fabric"))
    out.append(Piece(bx(-r + 0.02, -0.03, -r * 0.5, r * 0.5, h - 0.85, h - 0.18), shade(s.secondary, 0.7), "fabric"))
    return out


@shape("water dispenser")
def water_dispenser(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    body = h - 0.36
    r = min(w, d) / 2
    return [Piece(bx(x0, x1 - 0.02, y0, y1, 0.0, body), s.primary, s.material),
            Piece(bx(x1 - 0.02, x1, y0 + 0.05, y1 - 0.05, body - 0.35, body - 0.15), DARK, "plastic"),
            Piece(cyl(r * 0.8, body, h - 0.05, seg=10), s.secondary, "glass"),
            Piece(cyl(r * 0.3, h - 0.05, h, seg=8), s.secondary, "glass")]


@shape("piano")
def piano(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    return [Piece(bx(x0, x0 + 0.34, y0, y1, 0.0, h), s.primary, s.material),
            Piece(bx(x0 + 0.34, x1, y0 + 0.02, y1 - 0.02, 0.66, 0.72), s.primary, s.material),
            Piece(bx(x0 + 0.38, x1 - 0.04, y0 + 0.06, y1 - 0.06, 0.72, 0.74), WHITE, "plastic"),
            Piece(bx(x0 + 0.34, x0 + 0.45, y0 + 0.06, y1 - 0.06, 0.74, 0.75), BLACK, "plastic"),
            Piece(bx(x1 - 0.06, x1, y0 + 0.03, y0 + 0.09, 0.0, 0.66), s.primary, s.material),
            Piece(bx(x1 - 0.06, x1, y1 - 0.09, y1 - 0.03, 0.0, 0.66), s.primary, s.material),
            Piece(bx(x0 + 0.34, x0 + 0.36, y0 + 0.1, y1 - 0.1, 0.8, 1.0), s.secondary, "paper")]


@shape("fireplace")
def fireplace(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    oy = w * 0.28
    oz = h * 0.58
    return [Piece(bx(x0, x1, y0, y1, 0.0, 0.1), s.secondary, "stone"),
            Piece(bx(x0, x1 - 0.04, y0, -oy, 0.1, h - 0.06), s.primary, s.material),
            Piece(bx(x0, x1 - 0.04, oy, y1, 0.1, h - 0.06), s.primary, s.material),
            Piece(bx(x0, x1 - 0.04, -oy, oy, oz, h - 0.06), s.primary, s.material),
            Piece(bx(x0, x0 + 0.1, -oy, oy, 0.1, oz), BLACK, "stone"),
            Piece(bx(x0, x1, y0, y1, h - 0.06, h), shade(s.primary, 0.85), s.material),
            Piece(bx(x0 + 0.15, x1 - 0.15, -oy * 0.6, oy * 0.6, 0.1, 0.18), (90, 55, 30), "wood"),
            Piece(bx(x0 + 0.18, x1 - 0.18, -oy * 0.4, oy * 0.4, 0.18, 0.26), (240, 130, 40), "plain")]
