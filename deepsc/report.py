"""``deepsc bundle report``: measure a bundle's quality on fixed, seeded sets.

Every number comes from sets whose sizes are part of the output, so a report can be rerun and
compared. ``quick`` shrinks every set for tests; its numbers are only a smoke check.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from deepsc.attributes import ATTRIBUTES
from deepsc.bundle import Bundle
from deepsc.inversion import InversionConfig, invert
from deepsc.renderer import render, sample_params

# Called with a short description of the step being measured.
ReportProgress = Callable[[str], None]


@dataclass(frozen=True)
class ReportSizes:
    """Set sizes of one report."""

    predictor_faces: int = 1200
    renderer_inversions: int = 20
    lfw_inversions: int = 10
    fid_images: int = 1000
    coverage_samples: int = 1000
    inversion_steps: int = 150


FULL = ReportSizes()
QUICK = ReportSizes(
    predictor_faces=60, renderer_inversions=2, lfw_inversions=1, fid_images=20, coverage_samples=200, inversion_steps=10
)


@torch.no_grad()
def predictor_accuracy(bundle: Bundle, n: int, seed: int = 10_000) -> dict[str, float]:
    """Exact-degree accuracy per attribute on ``n`` held-out rendered faces."""
    gen = torch.Generator().manual_seed(seed)
    correct = torch.zeros(len(ATTRIBUTES))
    for start in range(0, n, 200):
        params = sample_params(min(200, n - start), gen)
        correct += (
            (
                bundle.predictor.predict_degrees(render(params, resolution=bundle.resolution, noise_seed=seed + start))
                == params.degrees
            )
            .float()
            .sum(0)
        )
    return {name: round(float(correct[i] / n), 4) for i, name in enumerate(ATTRIBUTES)}


@torch.no_grad()
def generator_samples(bundle: Bundle, n: int, seed: int = 30_000) -> torch.Tensor:
    """``n`` generator images (N, 3, H, W) in [0, 1] from seeded z."""
    gen = torch.Generator().manual_seed(seed)
    images = []
    for start in range(0, n, 250):
        z = torch.randn(min(250, n - start), bundle.generator.style_dim, generator=gen)
        images.append(((bundle.generator(z) + 1) / 2).clamp(0, 1))
    return torch.cat(images)


@torch.no_grad()
def degrees_covered(bundle: Bundle, samples: torch.Tensor) -> dict[str, int]:
    """Per attribute, how many of the six degrees the predictor finds among generator samples."""
    degrees = torch.cat(
        [bundle.predictor.predict_degrees(samples[i : i + 250]) for i in range(0, samples.shape[0], 250)]
    )
    return {name: len(set(degrees[:, i].tolist())) for i, name in enumerate(ATTRIBUTES)}


def real_photo_sets(lfw_count: int, resolution: int) -> dict[str, torch.Tensor]:
    """scikit-image's astronaut (aligned by face detection) and LFW face crops upscaled, in [0, 1]."""
    from PIL import Image
    from skimage import data

    from deepsc.face import align_face

    astronaut = align_face(Image.fromarray(data.astronaut()), resolution).image
    lfw = data.lfw_subset()[:lfw_count]  # (N, 25, 25) grey in [0, 1]; the first 100 are faces
    lfw_rgb = torch.from_numpy(np.repeat(lfw[:, None], 3, axis=1)).float()
    lfw_rgb = F.interpolate(lfw_rgb, size=(resolution, resolution), mode="bicubic", align_corners=False).clamp(0, 1)
    return {
        "astronaut": torch.from_numpy(np.array(astronaut)).permute(2, 0, 1).unsqueeze(0).float() / 255,
        "lfw": lfw_rgb,
    }


def inversion_quality(
    bundle: Bundle, lpips_model: torch.nn.Module, images: torch.Tensor, steps: int, start: str
) -> dict[str, float]:
    """Mean PSNR, LPIPS and seconds per image of inverting ``images`` from the given start."""
    if start not in ("mean", "encoder"):
        raise ValueError(f"unknown inversion start {start!r}; expected 'mean' or 'encoder'")
    psnrs, distances, seconds = [], [], []
    for image in images:
        target = image.unsqueeze(0)
        started = time.perf_counter()
        initial = bundle.start_w(target) if start == "encoder" else bundle.w_stats.mean.unsqueeze(0)
        result = invert(bundle.generator, target, lpips_model, InversionConfig(steps=steps), start=initial)
        seconds.append(time.perf_counter() - started)
        with torch.no_grad():
            reconstruction = ((bundle.generator.synthesis(result.latent) + 1) / 2).clamp(0, 1)
            mse = float((reconstruction - target).pow(2).mean())
            psnrs.append(10 * math.log10(1 / max(mse, 1e-10)))
            distances.append(float(lpips_model(reconstruction * 2 - 1, target * 2 - 1).mean()))
    return {
        "psnr_db": round(float(np.mean(psnrs)), 2),
        "lpips": round(float(np.mean(distances)), 4),
        "seconds": round(float(np.mean(seconds)), 3),
    }


def build_report(
    bundle: Bundle, lpips_model: torch.nn.Module, sizes: ReportSizes = FULL, progress: ReportProgress | None = None
) -> dict:
    """Measure everything; the result is JSON-serialisable."""
    from deepsc.metrics.fid import fid, load_inception
    from deepsc.training.text import evaluate_text_encoder

    say = progress or (lambda message: None)
    report: dict = {"bundle": bundle.name, "sizes": sizes.__dict__.copy()}

    say("predictor accuracy")
    report["predictor_accuracy"] = predictor_accuracy(bundle, sizes.predictor_faces)

    say("text encoder accuracy")
    report["text_accuracy"] = (
        evaluate_text_encoder(bundle.text_encoder)["accuracy"] if bundle.text_encoder is not None else None
    )

    say("inversion")
    gen = torch.Generator().manual_seed(40_000)
    sets = {
        "renderer": render(
            sample_params(sizes.renderer_inversions, gen), resolution=bundle.resolution, noise_seed=40_000
        )
    }
    sets.update(real_photo_sets(sizes.lfw_inversions, bundle.resolution))
    starts = ["mean", "encoder"] if bundle.inversion_encoder is not None else ["mean"]
    report["inversion"] = {
        name: {start: inversion_quality(bundle, lpips_model, images, sizes.inversion_steps, start) for start in starts}
        for name, images in sets.items()
    }
    report["inversion_set_sizes"] = {name: int(images.shape[0]) for name, images in sets.items()}

    say("generator samples and degree coverage")
    samples = generator_samples(bundle, max(sizes.coverage_samples, sizes.fid_images))
    report["degrees_covered"] = degrees_covered(bundle, samples[: sizes.coverage_samples])

    say("FID")
    reference = render(
        sample_params(sizes.fid_images, torch.Generator().manual_seed(50_000)),
        resolution=bundle.resolution,
        noise_seed=50_000,
    )
    report["generator_fid"] = round(fid(load_inception(), samples[: sizes.fid_images], reference), 2)
    return report
