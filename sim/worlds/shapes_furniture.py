"""Shapes of furniture: beds, seating, tables, storage (local frame: front +x, see ``shapekit``)."""
from __future__ import annotations

import math

from sim.worlds.shapekit import BLACK, CREAM, DARK, SILVER, WHITE, Piece, Style, bx, cyl, rot, shade, shape


def _legs(x0: float, x1: float, y0: float, y1: float, z1: float, t: float, colour, mat: str) -> list[Piece]:
    """Four square legs of side ``t`` at the corners of the rectangle, from the floor to ``z1``."""
    out = []
    for x in (x0, x1 - t):
        for y in (y0, y1 - t):
            out.append(Piece(bx(x, x + t, y, y + t, 0.0, z1), colour, mat))
    return out


@shape("bed")
def bed(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    frame = s.secondary
    out = _legs(x0, x1, y0, y1, 0.06, 0.06, frame, "wood")
    out.append(Piece(bx(x0 + 0.06, x1, y0, y1, 0.06, 0.32), frame, "wood"))  # base
    out.append(Piece(bx(x0, x0 + 0.06, y0, y1, 0.06, h), frame, "wood"))  # headboard
    out.append(Piece(bx(x0 + 0.06, x1 - 0.01, y0 + 0.02, y1 - 0.02, 0.32, 0.52), CREAM, "fabric"))  # mattress
    out.append(Piece(bx(x0 + 0.62, x1, y0 + 0.01, y1 - 0.01, 0.5, 0.56), s.primary, s.material))  # duvet
    n = 2 if w >= 1.3 else 1
    pw = (w - 0.12 - 0.08 * (n - 1)) / n
    for i in range(n):
        ya = y0 + 0.06 + i * (pw + 0.08)
        out.append(Piece(bx(x0 + 0.12, x0 + 0.5, ya, ya + pw, 0.52, 0.64), WHITE, "fabric"))
    return out


@shape("nightstand", "dresser", "cabinet", "filing cabinet")
def drawers(w: float, d: float, h: float, s: Style) -> list[Piece]:
    """A chest on a plinth with drawer fronts (or doors for a cabinet) and handles."""
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    out = [Piece(bx(x0, x1 - 0.035, y0, y1, 0.06, h), s.primary, s.material),
           Piece(bx(x0 + 0.03, x1 - 0.06, y0 + 0.03, y1 - 0.03, 0.0, 0.06), shade(s.primary, 0.6), s.material)]
    cols = 2 if w >= 0.95 else 1
    rows = 1 if h < 0.55 else (2 if h < 0.8 else 3)
    if w >= 0.7 and h < 1.0 and d < 0.55 and rows > 1 and cols == 1:
        cols = 2  # wide low cabinets get two doors
    cw = (w - 0.04 - 0.02 * (cols - 1)) / cols
    rh = (h - 0.1 - 0.02 * (rows - 1)) / rows
    for c in range(cols):
        ya = y0 + 0.02 + c * (cw + 0.02)
        for r in range(rows):
            za = 0.08 + r * (rh + 0.02)
            out.append(Piece(bx(x1 - 0.035, x1 - 0.02, ya, ya + cw, za, za + rh), shade(s.primary, 1.08),
                             s.material))
            hy = ya + cw / 2
            out.append(Piece(bx(x1 - 0.02, x1, hy - 0.05, hy + 0.05, za + rh * 0.7 - 0.012, za + rh * 0.7 + 0.012),
                             s.secondary, "metal"))
    return out


@shape("wardrobe")
def wardrobe(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    out = [Piece(bx(x0, x1 - 0.04, y0, y1, 0.0, h), s.primary, s.material)]
    n = 3 if w > 1.5 else 2
    dw = (w - 0.04 - 0.01 * (n - 1)) / n
    for i in range(n):
        ya = y0 + 0.02 + i * (dw + 0.01)
        out.append(Piece(bx(x1 - 0.04, x1 - 0.02, ya, ya + dw, 0.1, h - 0.05), shade(s.primary, 1.07), s.material))
        hy = ya + (dw - 0.04 if i % 2 == 0 else 0.04)
        out.append(Piece(bx(x1 - 0.02, x1, hy - 0.012, hy + 0.012, h * 0.42, h * 0.58), s.secondary, "metal"))
    return out


@shape("sofa", "armchair")
def sofa(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    arm = min(0.2, w * 0.18)
    out = _legs(x0 + 0.04, x1 - 0.04, y0 + 0.04, y1 - 0.04, 0.1, 0.05, s.secondary, "wood")
    out.append(Piece(bx(x0, x1, y0 + arm, y1 - arm, 0.1, 0.4), s.primary, s.material))  # base
    out.append(Piece(bx(x0, x0 + 0.22, y0 + arm, y1 - arm, 0.4, h), s.primary, s.material))  # back
    for ya, yb in ((y0, y0 + arm), (y1 - arm, y1)):
        out.append(Piece(bx(x0, x1, ya, yb, 0.1, min(h, 0.64)), shade(s.primary, 0.92), s.material))
    n = max(1, min(3, int((w - 2 * arm) / 0.55)))
    cw = (w - 2 * arm - 0.02 * (n + 1)) / n
    for i in range(n):
        ya = y0 + arm + 0.02 + i * (cw + 0.02)
        out.append(Piece(bx(x0 + 0.24, x1 - 0.02, ya, ya + cw, 0.4, 0.52), shade(s.primary, 1.1), s.material))
    return out


@shape("coffee table", "side table", "dining table")
def table(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    top = 0.04
    leg_mat = "metal" if s.secondary in (SILVER, BLACK) and s.material == "glass" else "wood"
    out = _legs(x0 + 0.04, x1 - 0.04, y0 + 0.04, y1 - 0.04, h - top, 0.05, s.secondary, leg_mat)
    out.append(Piece(bx(x0, x1, y0, y1, h - top, h), s.primary, s.material))
    if h < 0.5:  # low tables get a shelf
        out.append(Piece(bx(x0 + 0.06, x1 - 0.06, y0 + 0.06, y1 - 0.06, 0.1, 0.13), shade(s.secondary, 1.1),
                         leg_mat))
    else:  # an apron under the top
        out.append(Piece(bx(x0 + 0.06, x1 - 0.06, y0 + 0.06, y1 - 0.06, h - top - 0.08, h - top),
                         shade(s.primary, 0.85), s.material if s.material != "glass" else "wood"))
    return out


@shape("chair")
def chair(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    t = 0.035
    seat = 0.46
    frame = s.primary if s.material != "fabric" else s.secondary
    frame_mat = s.material if s.material != "fabric" else "wood"
    out = [Piece(bx(x1 - t, x1, y, y + t, 0.0, seat - 0.04), frame, frame_mat) for y in (y0, y1 - t)]
    out += [Piece(bx(x0, x0 + t, y, y + t, 0.0, h), frame, frame_mat) for y in (y0, y1 - t)]  # rear legs + posts
    out.append(Piece(bx(x0, x1, y0, y1, seat - 0.04, seat), s.primary, s.material))
    out.append(Piece(bx(x0, x0 + 0.025, y0 + t, y1 - t, h - 0.3, h - 0.04), shade(s.primary, 0.95), s.material))
    out.append(Piece(bx(x0, x0 + 0.025, y0 + t, y1 - t, seat + 0.12, seat + 0.17), frame, frame_mat))
    return out


@shape("office chair")
def office_chair(w: float, d: float, h: float, s: Style) -> list[Piece]:
    r = min(w, d) / 2
    frame = s.secondary
    out = []
    for k in range(5):  # star base with five spokes and casters
        a = math.pi / 2 + k * 2 * math.pi / 5
        out.append(Piece(rot(bx(0.0, r - 0.03, -0.02, 0.02, 0.05, 0.09), a), frame, "metal"))
        out.append(Piece(rot(bx(r - 0.07, r - 0.02, -0.02, 0.02, 0.0, 0.05), a), BLACK, "plastic"))
    out.append(Piece(cyl(0.03, 0.09, 0.42, seg=8), frame, "metal"))
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    out.append(Piece(bx(x0 + 0.06, x1 - 0.02, y0 + 0.06, y1 - 0.06, 0.42, 0.5), s.primary, s.material))
    out.append(Piece(bx(x0 + 0.02, x0 + 0.09, y0 + 0.08, y1 - 0.08, 0.55, h), s.primary, s.material))  # back
    out.append(Piece(bx(x0 + 0.06, x0 + 0.1, -0.04, 0.04, 0.44, 0.6), frame, "metal"))
    for ya, yb in ((y0, y0 + 0.05), (y1 - 0.05, y1)):  # armrests on posts
        out.append(Piece(bx(x0 + 0.2, x1 - 0.1, ya, yb, 0.64, 0.68), BLACK, "plastic"))
        out.append(Piece(bx(x0 + 0.3, x0 + 0.34, ya + 0.01, yb - 0.01, 0.5, 0.64), frame, "metal"))
    return out


@shape("desk", "conference table")
def desk(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    top = 0.035
    out = [Piece(bx(x0, x1, y0, y1, h - top, h), s.primary, s.material)]
    if w >= 1.9:  # two pedestals under a long table
        for yc in (y0 + w * 0.25, y1 - w * 0.25):
            out.append(Piece(bx(x0 + 0.25, x1 - 0.25, yc - 0.05, yc + 0.05, 0.03, h - top), s.secondary, "metal"))
            out.append(Piece(bx(x0 + 0.1, x1 - 0.1, yc - 0.15, yc + 0.15, 0.0, 0.03), s.secondary, "metal"))
        return out
    for ya, yb in ((y0 + 0.02, y0 + 0.06), (y1 - 0.06, y1 - 0.02)):  # side panels
        out.append(Piece(bx(x0 + 0.03, x1 - 0.03, ya, yb, 0.0, h - top), s.secondary, "metal"))
    out.append(Piece(bx(x0 + 0.03, x0 + 0.05, y0 + 0.06, y1 - 0.06, h - 0.4, h - top), s.secondary, "metal"))
    # drawer unit on the right
    out.append(Piece(bx(x0 + 0.05, x1 - 0.05, y1 - 0.46, y1 - 0.06, h - 0.2, h - top), shade(s.primary, 0.9),
                     s.material))
    out.append(Piece(bx(x1 - 0.05, x1 - 0.03, y1 - 0.3, y1 - 0.22, h - 0.13, h - 0.11), SILVER, "metal"))
    return out


@shape("reception desk")
def reception_desk(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    return [
        Piece(bx(x0 + 0.05, x1 - 0.05, y0 + 0.05, y1 - 0.05, 0.0, h - 0.04), s.primary, s.material),
        Piece(bx(x0, x1, y0, y1, h - 0.04, h), s.secondary, s.material),
        Piece(bx(x1 - 0.06, x1 - 0.05, y0 + 0.2, y1 - 0.2, 0.25, h - 0.2), shade(s.primary, 0.85), s.material),
    ]


@shape("tv stand")
def tv_stand(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    out = _legs(x0 + 0.03, x1 - 0.03, y0 + 0.03, y1 - 0.03, 0.08, 0.04, s.secondary, "metal")
    out.append(Piece(bx(x0, x1 - 0.02, y0, y1, 0.08, h), s.primary, s.material))
    out.append(Piece(bx(x1 - 0.02, x1, y0 + 0.03, y0 + w * 0.5 - 0.02, 0.11, h - 0.04), DARK, "wood"))  # open shelf
    out.append(Piece(bx(x1 - 0.02, x1, y0 + w * 0.5 + 0.01, y1 - 0.03, 0.11, h - 0.04), shade(s.primary, 1.1),
                     s.material))
    return out


@shape("bookshelf")
def bookshelf(w: float, d: float, h: float, s: Style) -> list[Piece]:
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    t = 0.025
    out = [Piece(bx(x0, x1, y0, y0 + t, 0.0, h), s.primary, s.material),
           Piece(bx(x0, x1, y1 - t, y1, 0.0, h), s.primary, s.material),
           Piece(bx(x0, x0 + 0.015, y0 + t, y1 - t, 0.0, h), shade(s.primary, 0.8), s.material),
           Piece(bx(x0, x1, y0 + t, y1 - t, 0.0, 0.1), s.primary, s.material)]
    n = max(3, int(h / 0.38))
    gap = (h - 0.1) / n
    colours = [s.secondary, shade(s.secondary, 0.7), (200, 190, 160)]
    for i in range(n):
        z = 0.1 + (i + 1) * gap
        out.append(Piece(bx(x0, x1, y0 + t, y1 - t, z - t, z), s.primary, s.material))
        zb = 0.1 + i * gap + (t if i else 0.0)
        bh = min(gap - t - 0.04, 0.26 - 0.03 * (i % 2))
        span = (w - 2 * t) * (0.55 - 0.1 * (i % 3))
        ya = y0 + t + 0.02 + (0.1 * (i % 2)) * (w - 2 * t)
        out.append(Piece(bx(x0 + 0.03, x1 - 0.03, ya, ya + span, zb, zb + bh), colours[i % 3], "paper"))
    return out


@shape("shoe rack", "shelf")
def shelving(w: float, d: float, h: float, s: Style) -> list[Piece]:
    """Open shelving: four posts, shelves and a few boxes or shoes on them."""
    x0, x1, y0, y1 = -d / 2, d / 2, -w / 2, w / 2
    p = 0.035
    out = [Piece(bx(x, x + p, y, y + p, 0.0, h), shade(s.primary, 0.85), s.material)
           for x in (x0, x1 - p) for y in (y0, y1 - p)]
    n = max(2, int(h / 0.4) + 1)
    for i in range(n):
        z = 0.14 + i * (h - 0.14 - 0.03) / (n - 1)
        out.append(Piece(bx(x0, x1, y0, y1, z, z + 0.03), s.primary, s.material))
        if i < n - 1:
            item_h = min(0.22, (h - 0.2) / (n - 1) - 0.06)
            for k, ya in enumerate((y0 + 0.06, y0 + w * 0.5 + 0.02)):
                c = s.secondary if (i + k) % 2 == 0 else shade(s.secondary, 0.75)
                out.append(Piece(bx(x0 + 0.04, x1 - 0.04, ya, ya + w * 0.4 - 0.08, z + 0.03, z + 0.03 + item_h), c,
                                 "paper"))
    return out
