"""Load an image, find the largest face and crop it with the renderer's framing."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

logger = logging.getLogger(__name__)

# Renderer framing: the eyes sit at 47.5 % of the image height, and the crop is this many times
# the side of OpenCV's frontal-face box (which spans brows to mouth, cheek to cheek).
_EYE_HEIGHT = 0.475
_BOX_TO_CROP = 1.75
_EYES_IN_BOX = 0.38
MAX_IMAGE_PIXELS = 40_000_000
MIN_IMAGE_SIDE = 16


class ImageError(ValueError):
    """The input is missing, unreadable or not an image."""


@dataclass
class AlignedFace:
    """A face cropped and resized for the model.

    Attributes:
        image: (H, W, 3) uint8 RGB at the model's resolution.
        box: (left, top, size) of the square crop in the source image's pixels.
        warnings: problems that did not stop the job, such as no face found.
    """

    image: np.ndarray
    box: tuple[int, int, int]
    warnings: list[str] = field(default_factory=list)


def load_image(source: str | Path | bytes) -> Image.Image:
    """Open an image from a path or bytes as RGB.

    Raises:
        ImageError: the file is missing or is not a decodable image.
    """
    try:
        if isinstance(source, bytes):
            if not source:
                raise ImageError("the image is empty (0 bytes)")
            image = Image.open(io.BytesIO(source))
        else:
            path = Path(source)
            if not path.exists():
                raise ImageError(f"image file not found: {path}")
            if path.is_dir():
                raise ImageError(f"image path is a folder, not a file: {path}")
            image = Image.open(path)
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise ImageError(
                f"image is too large ({image.width}×{image.height}); the limit is {MAX_IMAGE_PIXELS} pixels"
            )
        image.load()
    except ImageError:
        raise
    except UnidentifiedImageError:
        name = "the uploaded data" if isinstance(source, bytes) else str(source)
        raise ImageError(
            f"{name} is not a readable image: unrecognised format (expected PNG, JPEG, WebP, BMP, ...)"
        ) from None
    except (OSError, Image.DecompressionBombError) as error:
        name = "the uploaded data" if isinstance(source, bytes) else str(source)
        raise ImageError(f"{name} is not a readable image (PNG, JPEG, WebP, BMP, ...): {error}") from None
    if min(image.size) < MIN_IMAGE_SIDE:
        raise ImageError(
            f"image is too small ({image.width}×{image.height}); each side needs at least {MIN_IMAGE_SIDE} pixels"
        )
    return image.convert("RGB")


def _detect_largest_face(rgb: np.ndarray) -> tuple[int, int, int, int] | None:
    import cv2

    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    # opencv-python-headless 4.x ships the Haar cascades in cv2.data (5.x wheels do not).
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")  # type: ignore[attr-defined]
    min_side = max(24, min(grey.shape) // 10)
    faces = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side))
    if len(faces) == 0:
        return None
    x, y, w, h = max(faces, key=lambda box: box[2] * box[3])
    return int(x), int(y), int(w), int(h)


def align_face(image: Image.Image, resolution: int, detect: bool = True) -> AlignedFace:
    """Crop the largest face with the renderer's framing and resize to ``resolution``.

    With no face found (or ``detect`` False) the largest centred square is used and a warning is
    recorded. The crop may extend past the image border; that part is filled by edge replication.
    """
    rgb = np.asarray(image.convert("RGB"))
    height, width = rgb.shape[:2]
    warnings: list[str] = []
    box = _detect_largest_face(rgb) if detect else None

    if box is None:
        if detect:
            warnings.append("no face was detected; the centre crop of the image was used instead")
        size = min(width, height)
        left, top = (width - size) // 2, (height - size) // 2
    else:
        x, y, w, h = box
        size = int(round(w * _BOX_TO_CROP))
        eye_y = y + _EYES_IN_BOX * h
        left = int(round(x + w / 2 - size / 2))
        top = int(round(eye_y - _EYE_HEIGHT * size))

    pad = max(0, -left, -top, left + size - width, top + size - height)
    if pad:
        rgb = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    crop = rgb[top + pad : top + pad + size, left + pad : left + pad + size]
    resized = Image.fromarray(crop).resize((resolution, resolution), Image.Resampling.LANCZOS)
    return AlignedFace(np.asarray(resized), (left, top, size), warnings)
