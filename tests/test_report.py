import json

import numpy as np
import pytest
import torch

from deepsc.cli import main
from deepsc.metrics.fid import frechet_distance, inception_path, load_inception


def test_frechet_distance_of_identical_sets_is_zero():
    features = np.random.default_rng(0).normal(size=(300, 16))
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_grows_with_shift():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(500, 8)), rng.normal(size=(500, 8))
    assert frechet_distance(a, b + 1.0) > frechet_distance(a, b) + 6.0


def test_inception_weights_are_the_fid_network():
    model = load_inception()  # verifies the sha1 of the TorchScript file
    assert inception_path().name == "default_1.pt"
    with torch.no_grad():
        features = model(torch.zeros(1, 3, 299, 299))
    assert features.reshape(1, -1).shape == (1, 2048)


def test_bundle_report_quick(tiny_bundle, capsys):
    assert main(["bundle", "report", str(tiny_bundle), "--quick", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) >= {"predictor_accuracy", "text_accuracy", "inversion", "generator_fid", "degrees_covered"}
    assert set(report["inversion"]) == {"renderer", "astronaut", "lfw"}
    assert set(report["inversion"]["astronaut"]["mean"]) == {"psnr_db", "lpips", "seconds"}
    assert all(1 <= count <= 6 for count in report["degrees_covered"].values())
    assert report["generator_fid"] > 0
    assert report["sizes"]["fid_images"] == 20
