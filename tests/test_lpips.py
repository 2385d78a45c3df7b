from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from deepsc.metrics.lpips import load_lpips

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "lpips_examples"
FIXTURES = Path(__file__).resolve().parent / "data" / "lpips_examples"


def _load(name: str) -> torch.Tensor:
    folder = FIXTURES if (FIXTURES / f"{name}.png").exists() else EXAMPLES
    array = np.asarray(Image.open(folder / f"{name}.png").convert("RGB"))
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).float() / 127.5 - 1


def test_lpips_reference_values():
    # Reference values of LPIPS v0.1 (AlexNet) on the example patches of the LPIPS repository;
    # a backbone with random weights gives about 0.04 for both pairs.
    model = load_lpips()
    reference = _load("ex_ref")
    with torch.no_grad():
        far = model(reference, _load("ex_p0")).item()
        near = model(reference, _load("ex_p1")).item()
    assert far == pytest.approx(0.722, abs=0.002)
    assert near == pytest.approx(0.138, abs=0.002)
