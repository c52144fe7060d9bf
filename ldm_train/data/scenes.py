"""Procedural outdoor scenes: an image, its per-pixel ADE20K class map, a caption and attribute labels.

Deterministic from a seed. Scenes are painted back to front (sky, mountains, hills, water, ground, road, trees,
houses, rocks), every layer writing both colour and class, then lit for the time of day. Water mirrors what stands
above the horizon, with ripples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ldm_core.palette import CLASS_ID

TIMES = ("day", "sunset", "night")
ATTRIBUTES = (
    "mountain",
    "snow",
    "hill",
    "water",
    "trees",
    "house",
    "road",
    "sand",
    "field",
    "flower",
    "rock",
    "clouds",
)
# The classes that show each attribute in a class map (a caption may name an attribute where these are painted).
ATTRIBUTE_CLASSES = {
    "mountain": ("mountain",),
    "snow": ("mountain",),
    "hill": ("hill",),
    "water": ("water", "sea", "river"),
    "trees": ("tree",),
    "house": ("house",),
    "road": ("road",),
    "sand": ("sand",),
    "field": ("field",),
    "flower": ("flower",),
    "rock": ("rock",),
    "clouds": ("sky",),
}
WATER_KINDS = (("sea", "sea"), ("river", "river"), ("lake", "water"))  # caption word, class


@dataclass(frozen=True)
class Scene:
    image: np.ndarray  # (H, W, 3) uint8
    label_map: np.ndarray  # (H, W) uint8 class ids (ldm_core.palette.CLASSES)
    caption: str
    time: str  # one of TIMES
    attributes: dict[str, bool] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------------------- noise
def _upsample(grid: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bicubic-free smooth upsampling: bilinear interpolation with a smoothstep weight."""
    gh, gw = grid.shape
    ys = np.linspace(0, gh - 1.001, h)
    xs = np.linspace(0, gw - 1.001, w)
    y0, x0 = ys.astype(int), xs.astype(int)
    ty, tx = ys - y0, xs - x0
    ty, tx = ty * ty * (3 - 2 * ty), tx * tx * (3 - 2 * tx)
    a = grid[y0][:, x0] * (1 - tx) + grid[y0][:, x0 + 1] * tx
    b = grid[y0 + 1][:, x0] * (1 - tx) + grid[y0 + 1][:, x0 + 1] * tx
    return a * (1 - ty)[:, None] + b * ty[:, None]


def fbm2d(rng: np.random.Generator, h: int, w: int, base: int = 4, octaves: int = 4, aspect: float = 1.0) -> np.ndarray:
    """Fractal value noise in [0, 1]; aspect > 1 stretches features horizontally."""
    total = np.zeros((h, w))
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        cells = base * 2**octave
        grid = rng.random((cells + 2, max(2, int(cells / aspect)) + 2))
        total += amplitude * _upsample(grid, h, w)
        norm += amplitude
        amplitude *= 0.5
    return total / norm


def fbm1d(rng: np.random.Generator, n: int, base: int = 3, octaves: int = 5, roughness: float = 0.5) -> np.ndarray:
    """Fractal 1-D noise in about [0, 1], for ridge lines."""
    total = np.zeros(n)
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        cells = base * 2**octave
        knots = rng.random(cells + 2)
        xs = np.linspace(0, cells + 0.999, n)
        i = xs.astype(int)
        t = xs - i
        t = t * t * (3 - 2 * t)
        total += amplitude * (knots[i] * (1 - t) + knots[i + 1] * t)
        norm += amplitude
        amplitude *= roughness
    return total / norm


def _jitter(rng: np.random.Generator, color, amount: float = 18.0) -> np.ndarray:
    return np.clip(np.asarray(color, dtype=float) + rng.normal(0, amount, 3), 0, 255)


class _Canvas:
    """Colour and class layers painted together."""

    def __init__(self, size: int):
        self.size = size
        self.rgb = np.zeros((size, size, 3))
        self.label = np.zeros((size, size), dtype=np.uint8)
        self.yy, self.xx = np.mgrid[0:size, 0:size].astype(float)

    def paint(self, mask: np.ndarray, color: np.ndarray, class_name: str) -> None:
        mask = mask.astype(bool)
        self.rgb[mask] = color[mask] if color.ndim == 3 else color
        self.label[mask] = CLASS_ID[class_name]


# ----------------------------------------------------------------------------------------------------------- layers
SKY_COLORS = {  # (zenith, horizon)
    "day": ((55, 115, 205), (175, 210, 240)),
    "sunset": ((50, 45, 110), (250, 150, 70)),
    "night": ((4, 6, 22), (25, 35, 75)),
}


def _sky(c: _Canvas, rng, time: str, horizon: int, attrs: dict) -> None:
    top, bottom = (_jitter(rng, col, 12) for col in SKY_COLORS[time])
    t = np.clip(c.yy / max(horizon, 1), 0, 1)[..., None] ** 0.8
    sky = top * (1 - t) + bottom * t
    s = c.size
    # sun or moon
    sx, sy = rng.uniform(0.15, 0.85) * s, rng.uniform(0.1, 0.55 if time == "sunset" else 0.4) * horizon
    if time == "sunset":
        sy = horizon * rng.uniform(0.55, 0.9)
    d = np.hypot(c.xx - sx, c.yy - sy)
    if time == "night":
        for _ in range(int(rng.integers(30, 90))):
            x, y = rng.integers(0, s), rng.integers(0, max(horizon, 1))
            sky[y, x] = np.clip(sky[y, x] + rng.uniform(80, 200), 0, 255)
        if rng.random() < 0.8:
            r = rng.uniform(3, 6) * s / 128
            moon = np.clip(r + 0.8 - d, 0, 1)[..., None]
            if rng.random() < 0.5:  # crescent
                moon *= np.clip(np.hypot(c.xx - sx - r * 0.6, c.yy - sy + r * 0.3) - r + 0.8, 0, 1)[..., None]
            sky = sky * (1 - moon) + np.array([235, 235, 210]) * moon
            sky += (np.exp(-d / (r * 2.5)) * 25)[..., None]
    else:
        r = rng.uniform(4, 8) * s / 128 * (1.6 if time == "sunset" else 1.0)
        core = np.array([255, 250, 225]) if time == "day" else np.array([255, 200, 110])
        glow = np.exp(-d / (r * (4 if time == "sunset" else 2.5)))[..., None]
        sky = sky + glow * (core - sky) * 0.6
        disk = np.clip(r + 0.8 - d, 0, 1)[..., None]
        sky = sky * (1 - disk) + core * disk
    # clouds
    if rng.random() < (0.75 if time != "night" else 0.3):
        attrs["clouds"] = True
        n = fbm2d(rng, s, s, base=3, octaves=5, aspect=2.5)
        cover = rng.uniform(0.45, 0.62)
        alpha = np.clip((n - cover) * 5, 0, 0.95)[..., None]
        shade = fbm2d(rng, s, s, base=6, octaves=3)[..., None]
        cloud = {"day": (245, 245, 250), "sunset": (250, 170, 150), "night": (60, 65, 85)}[time]
        cloud_rgb = np.asarray(cloud) * (0.8 + 0.25 * shade)
        sky = sky * (1 - alpha) + cloud_rgb * alpha
    c.paint(c.yy < s, np.clip(sky, 0, 255), "sky")


def _ridge(rng, s: int, base_y: float, height: float, roughness: float, base: int) -> np.ndarray:
    line = fbm1d(rng, s, base=base, octaves=6, roughness=roughness)
    line = (line - line.min()) / (np.ptp(line) + 1e-6)
    return base_y - height * line


def _mountains(c: _Canvas, rng, horizon: int, time: str, attrs: dict) -> None:
    s = c.size
    ridge = _ridge(rng, s, horizon + 2, rng.uniform(0.18, 0.4) * s, rng.uniform(0.5, 0.65), int(rng.integers(2, 4)))
    mask = c.yy >= ridge[None, :]
    smooth = np.convolve(ridge, np.ones(5) / 5, mode="same")
    slope = np.gradient(smooth)[None, :] + (fbm2d(rng, s, s, base=6, octaves=3) - 0.5) * 1.5
    light = np.clip(0.5 + slope * 0.5, 0.15, 1.0)  # sun from the left
    base = _jitter(rng, rng.choice([(105, 110, 130), (120, 105, 95), (90, 100, 115)], axis=0), 12)
    texture = fbm2d(rng, s, s, base=8, octaves=4)[..., None]
    rgb = base * (0.55 + 0.6 * light[..., None]) * (0.8 + 0.4 * texture)
    haze = np.array(SKY_COLORS[time][1]) * 0.9
    rgb = rgb * 0.75 + haze * 0.25
    if rng.random() < 0.6:
        attrs["snow"] = True
        top = ridge.min()
        snowline = top + rng.uniform(0.25, 0.5) * (horizon - top)
        edge = snowline + (fbm2d(rng, s, s, base=10, octaves=3) - 0.5) * 14 * s / 128
        snow = (c.yy < edge) & mask
        snow_rgb = np.array([240, 242, 250]) * (0.7 + 0.35 * light[..., None]) * (0.92 + 0.1 * texture)
        rgb = np.where(snow[..., None], snow_rgb, rgb)
    c.paint(mask & (c.yy <= horizon + 2), np.clip(rgb, 0, 255), "mountain")


def _hills(c: _Canvas, rng, horizon: int, attrs: dict) -> None:
    s = c.size
    ridge = _ridge(rng, s, horizon + 2, rng.uniform(0.06, 0.16) * s, 0.35, 2)
    mask = (c.yy >= ridge[None, :]) & (c.yy <= horizon + 2)
    base = _jitter(rng, (70, 125, 55), 14)
    texture = fbm2d(rng, s, s, base=10, octaves=3)[..., None]
    shade = np.clip((c.yy - ridge[None, :]) / 20, 0, 1)[..., None]
    rgb = base * (1.1 - 0.3 * shade) * (0.8 + 0.35 * texture)
    c.paint(mask, np.clip(rgb, 0, 255), "hill")


def _ground(c: _Canvas, rng, horizon: int, kind: str) -> None:
    s = c.size
    depth = np.clip((c.yy - horizon) / max(s - horizon, 1), 0, 1)[..., None]  # 0 far, 1 near
    texture = fbm2d(rng, s, s, base=12, octaves=4)[..., None]
    patches = fbm2d(rng, s, s, base=3, octaves=2)[..., None]
    mask = c.yy > horizon
    if kind == "field":
        base = _jitter(rng, rng.choice([(205, 175, 85), (185, 150, 70), (150, 160, 60)], axis=0), 12)
        vanish_x = rng.uniform(0.2, 0.8) * s
        angle = np.arctan2(c.xx - vanish_x, (c.yy - horizon) + 1)
        stripes = 0.5 + 0.5 * np.sin(angle * rng.uniform(18, 30))
        rgb = base * (0.75 + 0.25 * stripes[..., None]) * (0.85 + 0.25 * texture)
        c.paint(mask, np.clip(rgb, 0, 255), "field")
        return
    base = _jitter(rng, (75, 150, 55), 14)
    rgb = base * (0.75 + 0.35 * depth) * (0.75 + 0.4 * texture) * (0.85 + 0.3 * patches)
    c.paint(mask, np.clip(rgb, 0, 255), "grass")
    if kind == "flower":
        region = mask & (fbm2d(rng, s, s, base=4, octaves=3) > rng.uniform(0.45, 0.55)) & (c.yy > horizon + 6)
        petals = np.array([(230, 40, 50), (250, 220, 60), (245, 245, 245), (170, 90, 200), (250, 140, 40)])
        dots = rng.random((s, s)) < 0.35
        colors = petals[rng.integers(0, len(petals), (s, s))] * rng.uniform(0.8, 1.05, (s, s, 1))
        flower_rgb = np.where(dots[..., None], colors, rgb * 0.9)
        c.paint(region, np.clip(flower_rgb, 0, 255), "flower")


def _water(c: _Canvas, rng, horizon: int, kind: str, with_beach: bool) -> int:
    """A lake or the sea from the horizon to a wavy shore; returns the mean shore row."""
    s = c.size
    shore_y = horizon + rng.uniform(0.3, 0.7) * (s - horizon)
    shore = shore_y + (fbm1d(rng, s, base=2, octaves=4) - 0.5) * 10 * s / 128
    mask = (c.yy > horizon) & (c.yy < shore[None, :])
    # reflection: mirror rows above the horizon, with horizontal ripples
    rows = np.clip(2 * horizon - c.yy, 0, s - 1).astype(int)
    ripple = np.sin(c.yy * rng.uniform(0.8, 1.4) + fbm2d(rng, s, s, base=6, octaves=2) * 6) * (
        1 + (c.yy - horizon) * 0.05
    )
    cols = np.clip(c.xx + ripple, 0, s - 1).astype(int)
    reflected = c.rgb[rows, cols]
    tint = _jitter(rng, (30, 70, 110) if kind == "sea" else (40, 80, 90), 10)
    depth = np.clip((c.yy - horizon) / max(shore_y - horizon, 1), 0, 1)[..., None]
    rgb = reflected * (0.65 - 0.15 * depth) + tint * (0.35 + 0.15 * depth)
    glints = (rng.random((s, s)) < 0.02)[..., None] * 40
    c.paint(mask, np.clip(rgb + glints, 0, 255), "sea" if kind == "sea" else "water")
    if with_beach:
        width = rng.uniform(5, 12) * s / 128
        beach = (c.yy >= shore[None, :]) & (c.yy < shore[None, :] + width + (c.yy - horizon) * 0.05)
        sand = _jitter(rng, (215, 195, 145), 10) * (0.85 + 0.25 * fbm2d(rng, s, s, base=16, octaves=2))[..., None]
        c.paint(beach, np.clip(sand, 0, 255), "sand")
    return int(shore_y)


def _river(c: _Canvas, rng, horizon: int) -> None:
    s = c.size
    t = np.clip((c.yy - horizon) / max(s - horizon, 1), 0, 1)
    centre = s * (0.5 + 0.25 * np.sin(t * rng.uniform(2, 5) + rng.uniform(0, 6))) + rng.uniform(-0.15, 0.15) * s
    half = (1.5 + t * rng.uniform(12, 22)) * s / 128
    mask = (np.abs(c.xx - centre) < half) & (c.yy > horizon + 1)
    rows = np.clip(2 * horizon - c.yy, 0, s - 1).astype(int)
    cols = np.clip(c.xx + np.sin(c.yy * 1.3) * (1 + t * 2), 0, s - 1).astype(int)
    rgb = c.rgb[rows, cols] * 0.6 + _jitter(rng, (40, 90, 110), 10) * 0.4
    c.paint(mask, np.clip(rgb, 0, 255), "river")


def _road(c: _Canvas, rng, horizon: int) -> None:
    s = c.size
    vanish = rng.uniform(0.3, 0.7) * s
    bottom = rng.uniform(0.2, 0.8) * s
    t = np.clip((c.yy - horizon) / max(s - horizon, 1), 0, 1)
    centre = vanish + (bottom - vanish) * t + np.sin(t * 3 + rng.uniform(0, 6)) * 6 * t
    half = (0.5 + t * rng.uniform(14, 24)) * s / 128
    mask = (np.abs(c.xx - centre) < half) & (c.yy > horizon)
    asphalt = _jitter(rng, (95, 95, 100), 10) * (0.85 + 0.3 * fbm2d(rng, s, s, base=20, octaves=2))[..., None]
    dashes = (np.abs(c.xx - centre) < 0.3 + t * 1.2) & (np.sin(t * 60 / (0.3 + t)) > 0)
    rgb = np.where(dashes[..., None], np.array([230, 210, 120]), asphalt)
    c.paint(mask, np.clip(rgb, 0, 255), "road")


def _tree(c: _Canvas, rng, x: float, y: float, height: float) -> None:
    green = _jitter(rng, rng.choice([(40, 100, 45), (55, 120, 40), (30, 80, 50)], axis=0), 10)
    texture = fbm2d(rng, c.size, c.size, base=16, octaves=2)[..., None]
    trunk_w = max(1.0, height * 0.08)
    trunk = (np.abs(c.xx - x) < trunk_w) & (c.yy <= y) & (c.yy > y - height * 0.35)
    c.paint(trunk, _jitter(rng, (90, 60, 35), 8) * np.ones_like(c.rgb), "tree")
    if rng.random() < 0.5:  # conifer
        top = y - height
        rel = (c.yy - top) / (height * 0.85)
        half = rel * height * 0.32 * (1 + 0.15 * np.sin(rel * 18))
        crown = (rel >= 0) & (rel <= 1) & (np.abs(c.xx - x) <= half)
    else:  # broadleaf
        r = height * 0.38
        cy = y - height + r
        wobble = (fbm2d(rng, c.size, c.size, base=10, octaves=2) - 0.5) * r * 0.6
        crown = np.hypot(c.xx - x, (c.yy - cy) * 1.1) < r + wobble
    light = np.clip(1.15 - (c.xx - x + height * 0.3) / (height + 1) * 0.4, 0.6, 1.2)[..., None]
    c.paint(crown, np.clip(green * light * (0.7 + 0.5 * texture), 0, 255), "tree")


def _house(c: _Canvas, rng, x: float, y: float, width: float, night: bool) -> None:
    wall_h = width * rng.uniform(0.55, 0.8)
    wall = (np.abs(c.xx - x) < width / 2) & (c.yy <= y) & (c.yy > y - wall_h)
    wall_color = _jitter(rng, rng.choice([(235, 230, 215), (200, 60, 50), (230, 200, 120), (170, 190, 210)], axis=0))
    shade = np.where(c.xx > x + width * 0.2, 0.85, 1.0)[..., None]
    c.paint(wall, wall_color * shade * np.ones_like(c.rgb), "house")
    roof_h = width * rng.uniform(0.3, 0.5)
    roof_top = y - wall_h - roof_h
    rel = (c.yy - roof_top) / roof_h
    roof = (rel >= 0) & (rel <= 1) & (np.abs(c.xx - x) <= rel * width * 0.62)
    roof_color = _jitter(rng, rng.choice([(150, 45, 35), (80, 60, 50), (70, 75, 90)], axis=0))
    c.paint(roof, roof_color * (0.85 + 0.3 * (c.xx < x))[..., None] * np.ones_like(c.rgb), "house")
    win = np.array([250, 220, 120]) if night else np.array([70, 90, 120])
    for dx in (-0.25, 0.25):
        window = (np.abs(c.xx - (x + dx * width)) < width * 0.09) & (np.abs(c.yy - (y - wall_h * 0.6)) < wall_h * 0.12)
        c.paint(window & wall, win * np.ones_like(c.rgb), "house")
    door = (np.abs(c.xx - x) < width * 0.08) & (c.yy > y - wall_h * 0.45) & (c.yy <= y)
    c.paint(door, np.array([90, 55, 35]) * np.ones_like(c.rgb), "house")


def _rock(c: _Canvas, rng, x: float, y: float, r: float) -> None:
    wobble = (fbm2d(rng, c.size, c.size, base=8, octaves=2) - 0.5) * r * 0.8
    mask = (np.hypot(c.xx - x, (c.yy - y) * 1.6) < r + wobble) & (c.yy <= y + 1)
    light = np.clip(1.2 - ((c.xx - x) + (c.yy - y)) / (2 * r + 1) * 0.6, 0.5, 1.3)[..., None]
    base = _jitter(rng, (125, 120, 115), 12)
    texture = fbm2d(rng, c.size, c.size, base=24, octaves=2)[..., None]
    c.paint(mask, np.clip(base * light * (0.75 + 0.45 * texture), 0, 255), "rock")


# ----------------------------------------------------------------------------------------------------------- scene
def render_scene(seed: int, size: int = 128) -> Scene:
    """Render one scene. The same seed always gives the same scene."""
    rng = np.random.default_rng(seed)
    c = _Canvas(size)
    time = str(rng.choice(TIMES, p=(0.5, 0.25, 0.25)))
    attrs = {name: False for name in ATTRIBUTES}
    horizon = int(rng.uniform(0.38, 0.62) * size)

    _sky(c, rng, time, horizon, attrs)
    if rng.random() < 0.6:
        attrs["mountain"] = True
        _mountains(c, rng, horizon, time, attrs)
    if rng.random() < 0.4:
        attrs["hill"] = True
        _hills(c, rng, horizon, attrs)
    ground = str(rng.choice(["grass", "field", "flower"], p=(0.55, 0.2, 0.25)))
    attrs["field"], attrs["flower"] = ground == "field", ground == "flower"
    _ground(c, rng, horizon, ground)
    water = str(rng.choice(["none", "lake", "sea", "river"], p=(0.35, 0.25, 0.2, 0.2)))
    attrs["water"] = water != "none"
    shore = horizon
    if water in ("lake", "sea"):
        attrs["sand"] = water == "sea" and rng.random() < 0.7
        shore = _water(c, rng, horizon, water, attrs["sand"])
    elif water == "river":
        _river(c, rng, horizon)
    if water != "sea" and rng.random() < 0.3:
        attrs["road"] = True
        _road(c, rng, shore)

    # Objects on the ground, far to near (bigger when nearer).
    objects = []
    if rng.random() < 0.6:
        attrs["trees"] = True
        forest = rng.random() < 0.4
        for _ in range(int(rng.integers(6, 14) if forest else rng.integers(1, 5))):
            objects.append(("tree", rng.uniform(0, 1), rng.uniform(0, 0.25 if forest else 0.8)))
    if rng.random() < 0.35:
        attrs["house"] = True
        objects.append(("house", rng.uniform(0.15, 0.85), rng.uniform(0.05, 0.5)))
    if rng.random() < 0.3:
        attrs["rock"] = True
        for _ in range(int(rng.integers(1, 4))):
            objects.append(("rock", rng.uniform(0, 1), rng.uniform(0.5, 1.0)))
    for kind, fx, fdepth in sorted(objects, key=lambda o: o[2]):
        y = shore + 3 + fdepth * (size - shore - 3)
        scale = (0.55 + 1.3 * fdepth) * size / 128
        x = fx * size
        if c.label[min(int(y), size - 1), int(min(x, size - 1))] in (CLASS_ID["sea"], CLASS_ID["water"]):
            continue
        if kind == "tree":
            _tree(c, rng, x, y, rng.uniform(18, 30) * scale)
        elif kind == "house":
            _house(c, rng, x, y, rng.uniform(16, 26) * scale, time == "night")
        else:
            _rock(c, rng, x, y, rng.uniform(3, 7) * scale)

    image = _light(c, rng, time)
    present = set(np.unique(c.label).tolist())
    for name, cls in (("trees", "tree"), ("house", "house"), ("rock", "rock"), ("mountain", "mountain")):
        attrs[name] = CLASS_ID[cls] in present
    attrs["snow"] = attrs["snow"] and attrs["mountain"]
    return Scene(
        image=image,
        label_map=c.label.copy(),
        caption=make_caption(rng, time, attrs, water),
        time=time,
        attributes=attrs,
    )


def _light(c: _Canvas, rng, time: str) -> np.ndarray:
    rgb = c.rgb.copy()
    ground = c.label != CLASS_ID["sky"]
    if time == "night":
        rgb[ground] = rgb[ground] * 0.3 + np.array([5, 10, 30])
        lit = (rgb > 200).all(-1)  # keep lit windows bright
        rgb[lit] = c.rgb[lit]
    elif time == "sunset":
        rgb[ground] = rgb[ground] * np.array([1.05, 0.8, 0.65])
    rgb += rng.normal(0, 2.5, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------------------------------------- captions
_TIME_PHRASES = {
    "day": ("on a sunny day", "in daylight", "under a blue sky", "at midday", "on a clear day"),
    "sunset": ("at sunset", "at dusk", "under an orange sunset sky", "in the evening light", "at golden hour"),
    "night": ("at night", "under a night sky", "under a starry sky", "by moonlight", "in the dark of night"),
}


def make_caption(rng: np.random.Generator, time: str, attrs: dict, water: str) -> str:
    """Compose a varied caption that names the time of day and the salient elements."""
    house_color = str(rng.choice(["red", "white", "small", "little", "cozy"]))
    phrases = []
    if attrs["mountain"]:
        phrases.append(
            str(rng.choice(["snowy mountains", "snow-capped peaks", "mountains with snow"]))
            if attrs["snow"]
            else str(rng.choice(["mountains", "rocky mountains", "a mountain range"]))
        )
    if water == "lake":
        phrases.append(str(rng.choice(["a lake", "a calm lake", "a mountain lake"])))
    elif water == "sea":
        phrases.append(str(rng.choice(["the sea", "the ocean", "a calm sea"])))
        if attrs["sand"]:
            phrases.append(str(rng.choice(["a sandy beach", "a beach"])))
    elif water == "river":
        phrases.append(str(rng.choice(["a river", "a winding river", "a stream"])))
    if attrs["trees"]:
        phrases.append(str(rng.choice(["trees", "a forest", "pine trees", "a few trees"])))
    if attrs["house"]:
        phrases.append(f"a {house_color} house")
    if attrs["road"]:
        phrases.append(str(rng.choice(["a road", "a country road"])))
    if attrs["hill"]:
        phrases.append(str(rng.choice(["green hills", "rolling hills"])))
    if attrs["field"]:
        phrases.append(str(rng.choice(["a wheat field", "a golden field", "farm fields"])))
    if attrs["flower"]:
        phrases.append(str(rng.choice(["flowers", "a flower meadow", "wildflowers"])))
    if attrs["rock"]:
        phrases.append(str(rng.choice(["rocks", "boulders"])))
    if not phrases:
        phrases.append(str(rng.choice(["a grassy meadow", "green grass", "an open meadow"])))
    rng.shuffle(phrases)
    phrases = phrases[: int(rng.integers(2, 4))]
    when = str(rng.choice(_TIME_PHRASES[time]))
    if len(phrases) == 1:
        body = phrases[0]
    elif rng.random() < 0.5:
        relation = str(rng.choice(["above", "by", "near", "beside", "behind", "and"]))
        body = f"{phrases[0]} {relation} {' and '.join(phrases[1:])}"
    else:
        body = "a landscape with " + (", ".join(phrases[:-1]) + " and " + phrases[-1])
    return f"{when.capitalize()}, {body}" if rng.random() < 0.25 else f"{body} {when}"
