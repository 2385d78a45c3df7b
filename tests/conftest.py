"""Shared fixtures: a tiny seeded bundle for fast end-to-end tests, and real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from deepsc.bundle import write_manifest, write_weights
from deepsc.models.predictor import AttributePredictor
from deepsc.models.stylegan2 import Generator

TINY_GENERATOR = {"size": 32, "style_dim": 16, "n_mlp": 2, "channels": {4: 16, 8: 16, 16: 8, 32: 8}, "lr_mlp": 1.0}
TINY_PREDICTOR = {"resolution": 32, "width": 4}


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory) -> Path:
    """A complete bundle with random seeded weights at 32×32 and a 16-value latent."""
    folder = tmp_path_factory.mktemp("bundles") / "tiny-32"
    folder.mkdir()
    torch.manual_seed(0)
    config = dict(TINY_GENERATOR)
    channels = config.pop("channels")
    generator = Generator(channels=channels, **config)
    predictor = AttributePredictor(**TINY_PREDICTOR).eval()
    files = {
        "generator": write_weights(folder, "generator", generator.state_dict()),
        "predictor": write_weights(folder, "predictor", predictor.state_dict()),
        "editing": write_weights(
            folder,
            "editing",
            {
                "directions": torch.randn(5, 16),
                "w_mean": torch.zeros(16),
                "w_std": torch.ones(16),
                "w_expected_norm": torch.tensor(4.0),
            },
        ),
    }
    write_manifest(folder, "tiny-32", TINY_GENERATOR, TINY_PREDICTOR, files, resolution=32, latent_size=16)
    return folder


@pytest.fixture(scope="session")
def tiny_field_bundle(tiny_bundle, tmp_path_factory) -> Path:
    """The tiny bundle plus an identity embedding and seeded semantic fields in W and Z."""
    import json
    import shutil

    from deepsc.models.identity import IdentityEmbedding
    from deepsc.models.semantic_field import SemanticFields

    folder = tmp_path_factory.mktemp("bundles") / "tiny-32-fields"
    shutil.copytree(tiny_bundle, folder)
    manifest = json.loads((folder / "bundle.json").read_text())
    torch.manual_seed(1)
    identity = IdentityEmbedding(width=4, dim=8).eval()
    manifest["files"]["identity"] = write_weights(folder, "identity", identity.state_dict())
    for space in ("w", "z"):
        fields = SemanticFields(space, 16, identity_dim=8, text_dim=8, hidden=16)
        for field in fields.fields.values():
            torch.nn.init.normal_(field.base)
            torch.nn.init.normal_(field.net[-1].weight, std=0.1)
        manifest["files"][f"semantic_field_{space}"] = write_weights(
            folder, f"semantic_field_{space}", fields.state_dict()
        )
    manifest["name"] = "tiny-32-fields"
    manifest["identity"] = {"width": 4, "dim": 8}
    manifest["semantic_field"] = {"text_dim": 8, "hidden": 16}
    (folder / "bundle.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


@pytest.fixture(scope="session")
def astronaut_path(tmp_path_factory) -> Path:
    """scikit-image's astronaut portrait (public domain) as a PNG file."""
    from skimage import data

    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


@pytest.fixture(scope="session")
def small_photo_path(tmp_path_factory) -> Path:
    """The astronaut portrait downscaled to 128×128."""
    from skimage import data

    path = tmp_path_factory.mktemp("photos") / "astronaut-128.png"
    Image.fromarray(data.astronaut()).resize((128, 128), Image.Resampling.LANCZOS).save(path)
    return path


@pytest.fixture
def not_an_image(tmp_path) -> Path:
    path = tmp_path / "notes.png"
    path.write_text("this is plain text, not a PNG\n")
    return path


def random_rgb(size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
