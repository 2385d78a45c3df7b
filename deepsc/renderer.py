"""Procedural 64×64 face renderer: the synthetic face world of the bundled default.

Every image comes with exact labels: identity factors (face shape, skin tone, hair colour and
style, eyes, nose, clothing, background, pose jitter) and the five attributes at six exact
degrees each. Everything is drawn in batched torch with soft-edged masks, so datasets can be
rendered on the fly during training.

Coordinates are normalised: x and y run from -1 (left, top) to 1 (right, bottom) across the
image, so one pixel at 64×64 is 2/64 ≈ 0.031 units. Neighbouring attribute degrees differ by at
least two pixels in extent or by a clearly visible change in shade.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from deepsc.attributes import ATTRIBUTES, NUM_DEGREES

RESOLUTION = 64

# Identity factors, each a value in [0, 1] that the renderer maps to geometry or colour.
IDENTITY_FACTORS: tuple[str, ...] = (
    "face_width",
    "face_height",
    "chin",
    "skin_tone",
    "hair_colour",
    "hair_length",
    "hair_volume",
    "eye_size",
    "eye_colour",
    "eye_spacing",
    "brow_weight",
    "nose_length",
    "nose_width",
    "lip_colour",
    "clothing",
    "background_hue",
    "background_shade",
    "shift_x",
    "shift_y",
    "scale",
    "tilt",
)

# Number of latent dimensions the renderer parameters are read from (see params_from_latent).
NUM_PARAM_DIMS = len(IDENTITY_FACTORS) + len(ATTRIBUTES)

# Edge softness of every mask, in normalised units (about half a pixel).
_SOFT = 0.016

_SKIN_TONES = torch.tensor(
    [
        [0.98, 0.86, 0.76],
        [0.94, 0.76, 0.62],
        [0.84, 0.64, 0.50],
        [0.70, 0.50, 0.36],
        [0.52, 0.36, 0.26],
        [0.36, 0.24, 0.17],
    ]
)
_HAIR_COLOURS = torch.tensor(
    [
        [0.08, 0.06, 0.05],
        [0.25, 0.15, 0.08],
        [0.45, 0.28, 0.14],
        [0.62, 0.30, 0.12],
        [0.80, 0.64, 0.36],
        [0.93, 0.84, 0.58],
    ]
)
_EYE_COLOURS = torch.tensor([[0.20, 0.12, 0.06], [0.35, 0.22, 0.10], [0.25, 0.40, 0.20], [0.20, 0.35, 0.60]])
_CLOTHING = torch.tensor(
    [
        [0.15, 0.20, 0.45],
        [0.60, 0.12, 0.12],
        [0.15, 0.45, 0.25],
        [0.85, 0.85, 0.85],
        [0.20, 0.20, 0.20],
        [0.85, 0.55, 0.15],
    ]
)
_GREY_HAIR = torch.tensor([0.82, 0.82, 0.80])

# Attribute geometry per degree 0..5 (normalised units unless stated).
_BANGS_EDGE = [None, -0.50, -0.40, -0.30, -0.20, -0.11]  # lower edge of the fringe
_GLASSES_FRAME = [0.0, 0.030, 0.065, 0.065, 0.065, 0.065]  # frame thickness
_GLASSES_TINT = [0.0, 0.0, 0.0, 0.35, 0.65, 0.92]  # lens opacity
_BEARD_TOP = [None, 0.55, 0.42, 0.30, 0.20, 0.10]  # upper edge of the beard
_BEARD_ALPHA = [0.0, 0.45, 0.60, 0.72, 0.84, 0.94]
_SMILE_CURVE = [0.0, 0.05, 0.09, 0.11, 0.13, 0.15]  # how far the mouth corners rise
_SMILE_OPEN = [0.0, 0.0, 0.04, 0.07, 0.10, 0.13]  # height of the open mouth
_SMILE_WIDTH = [0.15, 0.18, 0.21, 0.23, 0.25, 0.27]  # half-width of the mouth
_AGE_GREY = [0.0, 0.15, 0.35, 0.55, 0.75, 0.92]  # fraction of grey in the hair


@dataclass
class FaceParams:
    """Parameters of a batch of faces.

    Attributes:
        identity: (N, len(IDENTITY_FACTORS)) values in [0, 1], one column per identity factor.
        degrees: (N, 5) integer degrees 0..5, one column per attribute in ``ATTRIBUTES`` order.
    """

    identity: torch.Tensor
    degrees: torch.Tensor

    def __len__(self) -> int:
        return self.identity.shape[0]

    def factor(self, name: str) -> torch.Tensor:
        """Return one identity factor as an (N, 1, 1) tensor ready to broadcast over the image."""
        return self.identity[:, IDENTITY_FACTORS.index(name)].view(-1, 1, 1)

    def degree(self, attribute: str) -> torch.Tensor:
        """Return the degrees of one attribute as an (N,) long tensor."""
        return self.degrees[:, ATTRIBUTES.index(attribute)]

    def with_degree(self, attribute: str, degree: int | torch.Tensor) -> FaceParams:
        """Return a copy with one attribute set to ``degree`` for every face."""
        degrees = self.degrees.clone()
        degrees[:, ATTRIBUTES.index(attribute)] = degree
        return FaceParams(self.identity.clone(), degrees)


def sample_params(n: int, generator: torch.Generator | None = None) -> FaceParams:
    """Draw ``n`` faces with uniform identity factors and uniform degrees."""
    identity = torch.rand(n, len(IDENTITY_FACTORS), generator=generator)
    degrees = torch.randint(0, NUM_DEGREES, (n, len(ATTRIBUTES)), generator=generator)
    return FaceParams(identity, degrees)


def params_from_latent(z: torch.Tensor) -> FaceParams:
    """Read face parameters off Gaussian latents, so a generator's z determines its target face.

    The first ``NUM_PARAM_DIMS`` coordinates of the PixelNorm-normalised z are pushed through the
    standard normal CDF: identity factors take the uniform value, and each attribute degree is
    the uniform value quantised into six equal bins. The remaining coordinates are unused.

    Args:
        z: (N, D) latents with D >= NUM_PARAM_DIMS.
    """
    if z.shape[1] < NUM_PARAM_DIMS:
        raise ValueError(f"latent has {z.shape[1]} dimensions, need at least {NUM_PARAM_DIMS}")
    z = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)
    uniform = 0.5 * (1.0 + torch.erf(z[:, :NUM_PARAM_DIMS] / math.sqrt(2.0)))
    identity = uniform[:, : len(IDENTITY_FACTORS)]
    degrees = (uniform[:, len(IDENTITY_FACTORS) :] * NUM_DEGREES).long().clamp(0, NUM_DEGREES - 1)
    return FaceParams(identity, degrees)


def _palette(colours: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Interpolate linearly along a palette; t (N,) in [0, 1] → (N, 3, 1, 1)."""
    position = t.clamp(0, 1) * (colours.shape[0] - 1)
    low = position.floor().long().clamp(max=colours.shape[0] - 2)
    frac = (position - low.float()).unsqueeze(1)
    colour = colours[low] * (1 - frac) + colours[low + 1] * frac
    return colour.view(-1, 3, 1, 1)


def _per_degree(table: list, degrees: torch.Tensor, missing: float = 10.0) -> torch.Tensor:
    """Look up a per-degree table (None entries become ``missing``); returns (N, 1, 1)."""
    values = torch.tensor([missing if v is None else v for v in table], dtype=torch.float32)
    return values[degrees].view(-1, 1, 1)


def _ellipse(x: torch.Tensor, y: torch.Tensor, cx, cy, rx, ry) -> torch.Tensor:
    """Soft mask of an ellipse; 1 inside, 0 outside, about one pixel of transition."""
    distance = torch.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2)
    return torch.sigmoid((1.0 - distance) * torch.minimum(rx, ry) / _SOFT)


def _band(value: torch.Tensor, low, high) -> torch.Tensor:
    """Soft mask of low < value < high."""
    return torch.sigmoid((value - low) / _SOFT) * torch.sigmoid((high - value) / _SOFT)


def _blend(canvas: torch.Tensor, colour: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Paint ``colour`` (N, 3, 1|H, 1|W) onto ``canvas`` (N, 3, H, W) with ``alpha`` (N, H, W)."""
    alpha = alpha.unsqueeze(1)
    return canvas * (1 - alpha) + colour * alpha


def render(params: FaceParams, resolution: int = RESOLUTION, noise_seed: int = 0) -> torch.Tensor:
    """Draw faces.

    Args:
        params: the faces to draw.
        resolution: output height and width in pixels.
        noise_seed: seed of the hair and beard texture, so a render is reproducible.

    Returns:
        (N, 3, resolution, resolution) float32 images in [0, 1].
    """
    n = len(params)
    f = params.factor
    texture_gen = torch.Generator().manual_seed(noise_seed)

    # Pose jitter: a similarity transform of the sampling grid.
    axis = (torch.arange(resolution, dtype=torch.float32) + 0.5) / resolution * 2 - 1
    gy, gx = torch.meshgrid(axis, axis, indexing="ij")
    scale = 1.0 + (f("scale") - 0.5) * 0.10
    tilt = (f("tilt") - 0.5) * 0.12
    px = gx.unsqueeze(0) - (f("shift_x") - 0.5) * 0.10
    py = gy.unsqueeze(0) - (f("shift_y") - 0.5) * 0.08
    x = (torch.cos(tilt) * px + torch.sin(tilt) * py) / scale
    y = (-torch.sin(tilt) * px + torch.cos(tilt) * py) / scale

    skin = _palette(_SKIN_TONES, f("skin_tone").view(-1))
    grey = _per_degree(_AGE_GREY, params.degree("age")).view(-1, 1, 1, 1)
    hair = _palette(_HAIR_COLOURS, f("hair_colour").view(-1)) * (1 - grey) + _GREY_HAIR.view(1, 3, 1, 1) * grey
    hair_texture = 1.0 + 0.06 * torch.sin(x * 30.0 + 3.0 * torch.rand(n, 1, 1, generator=texture_gen)).unsqueeze(1)

    # Background: a vertical gradient between two shades of one hue.
    bg_hue = f("background_hue").view(-1) * 2 * math.pi
    bg_base = torch.stack(
        [
            0.55 + 0.35 * torch.cos(bg_hue),
            0.55 + 0.35 * torch.cos(bg_hue - 2.1),
            0.55 + 0.35 * torch.cos(bg_hue + 2.1),
        ],
        dim=1,
    ).view(-1, 3, 1, 1)
    shade = (0.6 + 0.4 * f("background_shade")).unsqueeze(1)
    canvas = (bg_base * shade * (1.0 - 0.15 * (gy.view(1, 1, *gy.shape) + 1) / 2)).expand(n, 3, resolution, resolution)

    face_rx = 0.50 + 0.10 * f("face_width")
    face_ry = 0.66 + 0.08 * f("face_height")
    face_cy = torch.full_like(face_rx, 0.02)

    # Shoulders and neck.
    clothing = _palette(_CLOTHING, f("clothing").view(-1))
    shoulders = _ellipse(x, y, 0.0, 1.35, torch.full_like(face_rx, 1.1), torch.full_like(face_rx, 0.55))
    canvas = _blend(canvas, clothing, shoulders)
    neck = _band(x.abs(), -1.0, face_rx * 0.55) * _band(y, 0.3, 0.95)
    canvas = _blend(canvas, skin * 0.88, neck)

    # Back hair: a cap around the head, longer styles fall to the shoulders.
    volume = 0.06 + 0.10 * f("hair_volume")
    back_hair = _ellipse(x, y, 0.0, face_cy - 0.06, face_rx + volume, face_ry + volume * 0.8)
    length = -0.1 + 1.0 * f("hair_length")
    side_hair = _band(x.abs(), face_rx * 0.55, face_rx + volume) * _band(y, -0.3, length)
    back_hair = torch.maximum(back_hair * _band(y, -2.0, 0.15 + 0.4 * f("hair_length")), side_hair)
    canvas = _blend(canvas, hair * hair_texture, back_hair)

    # Face: an ellipse whose lower half narrows towards the chin.
    chin = 0.75 + 0.25 * f("chin")
    narrowing = torch.where(y > face_cy, 1.0 - (1.0 - chin) * ((y - face_cy) / face_ry).clamp(0, 1), torch.ones_like(y))
    face = _ellipse(x / narrowing, y, 0.0, face_cy, face_rx, face_ry)
    age_tone = 1.0 - 0.04 * params.degree("age").float().view(-1, 1, 1, 1)
    canvas = _blend(canvas, skin * age_tone, face)

    # Hairline: hair covers the top of the head above y = -0.58.
    hairline = face * torch.sigmoid((-0.58 + 0.03 * torch.cos(x * 9) - y) / _SOFT)
    canvas = _blend(canvas, hair * hair_texture, hairline)

    # Ears.
    for side in (-1.0, 1.0):
        ear = _ellipse(
            x,
            y,
            side * (face_rx + 0.02),
            torch.full_like(face_rx, 0.0),
            torch.full_like(face_rx, 0.07),
            torch.full_like(face_rx, 0.13),
        )
        canvas = _blend(canvas, skin * 0.93, ear * (1 - face) * (1 - back_hair * _band(y, -2, 0.0)))

    canvas = _draw_age(canvas, x, y, params, skin)
    canvas = _draw_eyes_and_brows(canvas, x, y, params, hair)
    canvas = _draw_nose(canvas, x, y, params, skin)
    canvas = _draw_beard(canvas, x, y, params, hair, face, texture_gen)
    canvas = _draw_mouth(canvas, x, y, params, skin)
    canvas = _draw_bangs(canvas, x, y, params, hair * hair_texture, face, face_rx)
    canvas = _draw_glasses(canvas, x, y, params)
    return canvas.clamp(0, 1).contiguous()


def _eye_geometry(params: FaceParams) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return the eye half-spacing, eye radius and eye height, each (N, 1, 1)."""
    spacing = 0.24 + 0.06 * params.factor("eye_spacing")
    radius = 0.075 + 0.03 * params.factor("eye_size")
    height = torch.full_like(spacing, -0.05)
    return spacing, radius, height


def _draw_eyes_and_brows(canvas, x, y, params: FaceParams, hair) -> torch.Tensor:
    spacing, radius, eye_y = _eye_geometry(params)
    iris_colour = _palette(_EYE_COLOURS, params.factor("eye_colour").view(-1))
    brow_weight = 0.025 + 0.025 * params.factor("brow_weight")
    for side in (-1.0, 1.0):
        cx = side * spacing
        sclera = _ellipse(x, y, cx, eye_y, radius * 1.25, radius * 0.75)
        canvas = _blend(canvas, torch.tensor([0.96, 0.96, 0.94]).view(1, 3, 1, 1), sclera)
        iris = _ellipse(x, y, cx, eye_y, radius * 0.62, radius * 0.62) * sclera
        canvas = _blend(canvas, iris_colour, iris)
        pupil = _ellipse(x, y, cx, eye_y, radius * 0.28, radius * 0.28) * sclera
        canvas = _blend(canvas, torch.zeros(1, 3, 1, 1), pupil)
        brow_y = eye_y - radius - 0.07 + 0.02 * ((x - cx) / (radius * 1.4)) ** 2
        brow = _band(y - brow_y, -brow_weight, brow_weight) * _band(x - cx, -radius * 1.5, radius * 1.5)
        canvas = _blend(canvas, hair * 0.8, brow)
    return canvas


def _draw_nose(canvas, x, y, params: FaceParams, skin) -> torch.Tensor:
    length = 0.14 + 0.08 * params.factor("nose_length")
    width = 0.05 + 0.04 * params.factor("nose_width")
    tip_y = 0.04 + length
    bridge = _band(x, -0.012, 0.012 + 0.012) * _band(y, 0.05, tip_y) * 0.35
    nostrils = _ellipse(x, y, 0.0, tip_y, width * 1.2, torch.full_like(width, 0.035))
    canvas = _blend(canvas, skin * 0.72, torch.maximum(bridge, nostrils * 0.55))
    return canvas


def _draw_mouth(canvas, x, y, params: FaceParams, skin) -> torch.Tensor:
    degree = params.degree("smile")
    half_width = _per_degree(_SMILE_WIDTH, degree)
    curve = _per_degree(_SMILE_CURVE, degree)
    opening = _per_degree(_SMILE_OPEN, degree)
    mouth_y = torch.full_like(half_width, 0.40)
    u = (x / half_width).clamp(-1.2, 1.2)
    inside = _band(x, -half_width, half_width)

    # The upper lip line rises towards the corners; an open mouth shows teeth and a dark gap.
    upper = mouth_y - curve * u**2 + curve * 0.5
    lower = upper + opening * (1 - u**2).clamp(min=0)
    lip_colour = skin * (0.55 + 0.15 * params.factor("lip_colour").unsqueeze(1)) + torch.tensor([0.25, 0.0, 0.0]).view(
        1, 3, 1, 1
    )
    interior = _band(y, upper, lower) * inside
    teeth = _band(y, upper, upper + opening * 0.45) * inside
    canvas = _blend(canvas, torch.tensor([0.25, 0.05, 0.06]).view(1, 3, 1, 1), interior)
    canvas = _blend(canvas, torch.tensor([0.95, 0.95, 0.92]).view(1, 3, 1, 1), teeth * (opening > 0).float())
    lips = (_band(y - upper, -0.055, 0.0) + _band(y - lower, 0.0, 0.055)) * inside
    canvas = _blend(canvas, lip_colour, lips.clamp(0, 1))
    # A dark line between the lips keeps the mouth's shape visible on every skin tone.
    parting = _band(y - upper, -0.012, 0.012) * inside
    canvas = _blend(canvas, torch.tensor([0.22, 0.06, 0.06]).view(1, 3, 1, 1), parting)
    return canvas


def _draw_beard(canvas, x, y, params: FaceParams, hair, face, texture_gen) -> torch.Tensor:
    degree = params.degree("beard")
    top = _per_degree(_BEARD_TOP, degree)
    alpha = _per_degree(_BEARD_ALPHA, degree)
    n = len(params)
    speckle = torch.rand(n, *x.shape[-2:], generator=texture_gen) * 0.15 + 0.85
    region = face * torch.sigmoid((y - top - 0.08 * x**2) / (_SOFT * 2))
    # Fuller beards also grow past the jaw line.
    below_chin = _ellipse(x, y, 0.0, torch.full_like(top, 0.70), torch.full_like(top, 0.35), torch.full_like(top, 0.25))
    coverage = torch.maximum(region, below_chin * (degree.view(-1, 1, 1) >= 4).float())
    return _blend(canvas, hair * 0.7, coverage * alpha * speckle)


def _draw_age(canvas, x, y, params: FaceParams, skin) -> torch.Tensor:
    degree = params.degree("age").float().view(-1, 1, 1)
    wrinkle = skin * 0.70
    lines = torch.zeros_like(x.expand(canvas.shape[0], -1, -1))
    # Forehead lines appear one by one from degree 1, nasolabial folds from degree 2.
    for k in range(3):
        line_y = -0.40 + 0.075 * k
        present = (degree >= k + 1).float()
        lines = torch.maximum(lines, present * _band(y, line_y - 0.014, line_y + 0.014) * _band(x.abs(), -1, 0.30))
    for side in (-1.0, 1.0):
        fold_x = side * (0.20 + 0.25 * (y - 0.15))
        fold = _band(x - fold_x, -0.016, 0.016) * _band(y, 0.15, 0.42)
        lines = torch.maximum(lines, (degree >= 2).float() * fold)
        bag = _band(y, 0.07, 0.10) * _band((x - side * 0.26).abs(), -1, 0.10)
        lines = torch.maximum(lines, (degree >= 4).float() * bag)
    strength = 0.35 + 0.1 * degree
    return _blend(canvas, wrinkle, lines * strength)


def _draw_bangs(canvas, x, y, params: FaceParams, hair, face, face_rx) -> torch.Tensor:
    edge = _per_degree(_BANGS_EDGE, params.degree("bangs"), missing=-5.0)
    # A wavy lower edge reads as separate strands.
    strands = edge + 0.025 * torch.sin(x * 28.0)
    fringe = torch.sigmoid((strands - y) / _SOFT) * _band(y, -0.9, 5.0) * _band(x.abs(), -1, face_rx * 0.95)
    return _blend(canvas, hair, fringe * (face > 0.5).float().clamp(0, 1).maximum(fringe * 0))


def _draw_glasses(canvas, x, y, params: FaceParams) -> torch.Tensor:
    degree = params.degree("eyeglasses")
    frame = _per_degree(_GLASSES_FRAME, degree)
    tint = _per_degree(_GLASSES_TINT, degree)
    spacing, radius, eye_y = _eye_geometry(params)
    lens_rx = radius * 1.6 + 0.03
    lens_ry = radius * 1.15 + 0.03
    frame_colour = torch.tensor([0.06, 0.05, 0.05]).view(1, 3, 1, 1)
    present = (degree > 0).float().view(-1, 1, 1)
    for side in (-1.0, 1.0):
        cx = side * spacing
        outer = _ellipse(x, y, cx, eye_y, lens_rx + frame, lens_ry + frame)
        inner = _ellipse(x, y, cx, eye_y, lens_rx, lens_ry)
        canvas = _blend(canvas, frame_colour, inner * tint)
        canvas = _blend(canvas, frame_colour, (outer - inner).clamp(0, 1) * present)
    bridge = _band(x, -spacing + lens_rx, spacing - lens_rx) * _band(
        y, eye_y - 0.02 - frame / 2, eye_y - 0.02 + frame / 2
    )
    canvas = _blend(canvas, frame_colour, bridge * present)
    return canvas
