"""Shapes of the campus: trees, street furniture, cars, a fountain, a bus stop, a statue."""
from __future__ import annotations

import math

from sim.worlds.shapekit import (
    CONCRETE,
    CREAM,
    LIGHT,
    RUBBER,
    WATER,
    WOOD,
    Piece,
    Style,
    bx,
    cyl,
    cyl_y,
    ellipsoid,
    frustum_box,
    shade,
    shape,
)


@shape("tree")
def tree(w: float, d: float, h: float, s: Style) -> list[Piece]:
    """A trunk and a canopy; tall narrow trees become conifers.

    The trunk stops just under the canopy so that a ray cast up from inside the trunk meets the
    trunk's own top (an obstacle to the navigation map) before the canopy's underside.
    """
    r = min(w, d) / 2
    trunk_r = min(0.2, max(0.12, r * 0.08))
    if h > 2.0 * min(w, d):  # conifer: stacked cones
        base = 1.6
        out = [Piece(cyl(trunk_r, 0.0, base - 0.01, seg=8), s.secondary, "wood")]
        tiers = 3
        step = (h - base) / tiers
        for k in range(tiers):
            rk = r * (1.0 - 0.25 * k)
            z0 = base + k * step * 0.8
            z1 = h if k == tiers - 1 else z0 + step * 1.3
            out.append(Piece(cyl(rk, z0, z1, seg=9, r_top=0.01), shade(s.primary, 1.0 - 0.08 * k), s.material))
        return out
    base = max(1.9, h * 0.35)
    cz = (h - base) / 2
    return [Piece(cyl(trunk_r, 0.0, base - 0.01, seg=8, r_top=trunk_r * 0.8), s.secondary, "wood"),
            Piece(ellipsoid(r, r, cz, (0.0, 0.0, base + cz), rings=5, seg=9), s.primary, s.material),
            Piece(ellipsoid(r * 0.6, r * 0.6, cz * 0.55, (r * 0.25, -r * 0.2, h - cz * 0.55), rings=4, seg=7),
                  shade(s.primary, 1.12), s.material)]


@shape("bench")
def bench(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    seat = 0.45
    out = []
    for ya, yb in ((y0, y0 + 0.06), (y1 - 0.06, y1)):  # cast side frames with armrests
        out.append(Piece(bx(x0 + 0.04, x1 - 0.04, ya, yb, 0.0, seat - 0.03), s.secondary, "metal"))
        out.append(Piece(bx(x0 + 0.06, x1, ya, yb, 0.64, 0.68), s.secondary, "metal"))
        out.append(Piece(bx(x1 - 0.1, x1 - 0.05, ya, yb, seat - 0.03, 0.64), s.secondary, "metal"))
        out.append(Piece(bx(x0, x0 + 0.05, ya, yb, seat - 0.03, h), s.secondary, "metal"))
    n = 3
    sd = (d - 0.08 - 0.02 * (n - 1)) / n
    for i in range(n):
        xa = x0 + 0.06 + i * (sd + 0.02)
        out.append(Piece(bx(xa, xa + sd, y0 + 0.06, y1 - 0.06, seat - 0.03, seat), s.primary, s.material))
    for za in (seat + 0.1, h - 0.16):
        out.append(Piece(bx(x0 + 0.01, x0 + 0.045, y0 + 0.06, y1 - 0.06, za, za + 0.12), s.primary, s.material))
    return out


@shape("bike rack")
def bike_rack(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    out = [Piece(bx(x0, x1, y0, y1, 0.0, 0.15), CONCRETE, "concrete")]
    n = max(2, int(w / 0.5))
    for i in range(n):
        yc = y0 + (i + 0.5) * w / n
        out.append(Piece(bx(x0 + 0.08, x0 + 0.13, yc - 0.025, yc + 0.025, 0.15, h), s.primary, s.material))
        out.append(Piece(bx(x1 - 0.13, x1 - 0.08, yc - 0.025, yc + 0.025, 0.15, h), s.primary, s.material))
        out.append(Piece(bx(x0 + 0.08, x1 - 0.08, yc - 0.025, yc + 0.025, h - 0.05, h), s.primary, s.material))
    return out


@shape("car")
def car(w: float, d: float, h: float, s: Style) -> list[Piece]:
    """A car facing +x: body, glazed cabin with a roof, wheels, lights and bumpers."""
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    belt = 0.86
    wr = 0.31
    out = [Piece(bx(x0 + 0.05, x1 - 0.05, y0 + 0.02, y1 - 0.02, 0.26, belt), s.primary, s.material),
           Piece(frustum_box((x0 + 0.45, y0 + 0.07), (x1 - 1.05, y1 - 0.07), (x0 + 0.75, y0 + 0.16),
                             (x1 - 1.55, y1 - 0.16), belt, h - 0.04), (52, 62, 74), "glass"),
           Piece(bx(x0 + 0.78, x1 - 1.58, y0 + 0.17, y1 - 0.17, h - 0.04, h), s.primary, s.material),
           Piece(bx(x1 - 0.05, x1, y0 + 0.05, y1 - 0.05, 0.26, 0.46), s.secondary, "plastic"),
           Piece(bx(x0, x0 + 0.05, y0 + 0.05, y1 - 0.05, 0.26, 0.46), s.secondary, "plastic")]
    for ya, yb in ((y0 + 0.1, y0 + 0.32), (y1 - 0.32, y1 - 0.1)):
        out.append(Piece(bx(x1 - 0.06, x1 - 0.05, ya, yb, 0.62, 0.72), CREAM, "glass"))
        out.append(Piece(bx(x0 + 0.05, x0 + 0.06, ya, yb, 0.62, 0.72), (200, 30, 30), "glass"))
    for xc in (x0 + 0.8, x1 - 0.85):
        for ya, yb in ((y0, y0 + 0.2), (y1 - 0.2, y1)):
            # the lowest edge of a 10-sided wheel sits on the ground
            out.append(Piece(cyl_y(wr, ya, yb, xc, wr * math.cos(math.pi / 10), seg=10), RUBBER, "rubber"))
    return out


@shape("fountain")
def fountain(w: float, d: float, h: float, s: Style) -> list[Piece]:
    r = min(w, d) / 2
    rim = 0.5
    return [Piece(cyl(r, 0.0, rim, seg=16), s.primary, s.material),
            Piece(cyl(r - 0.18, rim, rim + 0.01, seg=16), WATER, "water"),
            Piece(cyl(0.22, rim + 0.01, h - 0.45, seg=10, r_top=0.16), s.primary, s.material),
            Piece(cyl(0.18, h - 0.45, h - 0.25, seg=12, r_top=min(0.75, r * 0.45)), s.primary, s.material),
            Piece(cyl(min(0.68, r * 0.4), h - 0.25, h - 0.24, seg=12), WATER, "water"),
            Piece(cyl(0.12, h - 0.24, h, seg=8, r_top=0.02), shade(WATER, 1.35), "water")]


@shape("lamp post")
def lamp_post(w: float, d: float, h: float, s: Style) -> list[Piece]:
    r = min(w, d) / 2
    return [Piece(cyl(r, 0.0, 0.45, seg=8, r_top=r * 0.6), s.primary, s.material),
            Piece(cyl(0.055, 0.45, h - 0.42, seg=8), s.primary, s.material),
            Piece(cyl(r * 0.5, h - 0.42, h - 0.38, seg=8, r_top=r * 0.9), s.primary, s.material),
            Piece(cyl(r * 0.8, h - 0.38, h - 0.1, seg=8, r_top=r * 0.9), LIGHT, "glass"),
            Piece(cyl(r, h - 0.1, h, seg=8, r_top=0.02), s.primary, s.material)]


@shape("bus stop")
def bus_stop(w: float, d: float, h: float, s: Style) -> list[Piece]:
    """A shelter open at the front (+x): glass back and side, a roof, a bench and a sign."""
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    p = 0.08
    out = [Piece(bx(x0, x0 + p, y0, y1, 0.0, 0.15), CONCRETE, "concrete"),
           Piece(bx(x0 + 0.02, x0 + 0.06, y0 + p, y1 - p, 0.15, h - 0.25), s.secondary, "glass"),
           Piece(bx(x0 + p, x1 - 0.35, y1 - 0.06, y1 - 0.02, 0.15, h - 0.25), s.secondary, "glass"),
           Piece(bx(x0, x1, y0, y1, h - 0.1, h), s.primary, s.material),
           Piece(bx(x0 + 0.1, x0 + 0.5, y0 + 0.4, y1 - 0.4, 0.42, 0.46), WOOD, "wood"),
           Piece(bx(x0 + 0.1, x0 + 0.5, y0 + 0.45, y0 + 0.5, 0.0, 0.42), s.primary, s.material),
           Piece(bx(x0 + 0.1, x0 + 0.5, y1 - 0.5, y1 - 0.45, 0.0, 0.42), s.primary, s.material)]
    for xa in (x0, x1 - p):
        for ya in (y0, y1 - p):
            out.append(Piece(bx(xa, xa + p, ya, ya + p, 0.0, h - 0.1), s.primary, s.material))
    out.append(Piece(bx(x1 - 0.06, x1 - 0.02, y0 + p, y0 + 0.5, h - 0.7, h - 0.2), (250, 200, 40), "metal"))
    return out


@shape("picnic table")
def picnic_table(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    tw = min(0.8, d - 0.7)
    out = [Piece(bx(-tw / 2, tw / 2, y0, y1, h - 0.05, h), s.primary, s.material),
           Piece(bx(x0, x0 + 0.3, y0 + 0.05, y1 - 0.05, 0.42, 0.46), s.primary, s.material),
           Piece(bx(x1 - 0.3, x1, y0 + 0.05, y1 - 0.05, 0.42, 0.46), s.primary, s.material)]
    for yc in (y0 + 0.3, y1 - 0.3):
        out.append(Piece(bx(x0, x1, yc - 0.04, yc + 0.04, 0.36, 0.42), s.secondary, s.material))
        for xc in (-tw / 2 + 0.08, tw / 2 - 0.08):
            out.append(Piece(bx(xc - 0.04, xc + 0.04, yc - 0.04, yc + 0.04, 0.0, h - 0.05), s.secondary, s.material))
    return out


@shape("sign")
def sign(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    board = min(0.8, h * 0.4)
    out = [Piece(bx(x0, x1, y0, y1, 0.0, 0.16), CONCRETE, "concrete")]
    for yc in (y0 + 0.1, y1 - 0.1):
        out.append(Piece(bx(-0.03, 0.03, yc - 0.03, yc + 0.03, 0.16, h - 0.02), s.secondary, "metal"))
    out.append(Piece(bx(0.03, 0.06, y0, y1, h - board, h), s.primary, s.material))
    for k in range(3):
        z = h - board + 0.15 + k * (board - 0.25) / 3
        out.append(Piece(bx(0.06, 0.065, y0 + 0.08, y1 - 0.08 - 0.15 * (k % 2), z, z + 0.06), (245, 245, 245),
                         "plain"))
    return out


@shape("statue")
def statue(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    plinth = 0.9
    body = h - plinth - 0.32
    return [Piece(bx(x0, x1, y0, y1, 0.0, plinth), s.secondary, "stone"),
            Piece(bx(x0 + 0.05, x1 - 0.05, y0 + 0.05, y1 - 0.05, plinth, plinth + 0.05), shade(s.secondary, 0.9),
                  "stone"),
            Piece(cyl(0.2, plinth + 0.05, plinth + body, seg=10, r_top=0.15), s.primary, s.material),
            Piece(ellipsoid(0.13, 0.13, 0.15, (0.0, 0.0, h - 0.15), rings=5, seg=8), s.primary, s.material),
            Piece(bx(-0.05, 0.05, 0.12, 0.2, plinth + body * 0.55, h - 0.05), s.primary, s.material),
            Piece(bx(-0.05, 0.05, -0.22, -0.12, plinth + body * 0.3, plinth + body * 0.85), s.primary, s.material)]
