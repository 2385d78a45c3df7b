import json
import shutil

import pytest

from deepsc.bundle import BundleError, check_bundle, load_bundle, resolve_bundle
from deepsc.cli import main


def test_tiny_bundle_checks_clean(tiny_bundle):
    assert check_bundle(tiny_bundle) == []
    bundle = load_bundle(tiny_bundle)
    assert bundle.resolution == 32
    assert bundle.latent_size == 16


def test_corrupted_file_detected(tiny_bundle, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_bundle, copy)
    data = bytearray((copy / "predictor.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (copy / "predictor.safetensors").write_bytes(bytes(data))
    problems = check_bundle(copy)
    assert len(problems) == 1
    assert "sha256" in problems[0]
    with pytest.raises(BundleError, match="sha256"):
        load_bundle(copy)
    assert main(["bundle", "check", str(copy)]) == 1


def test_shape_mismatch_detected(tiny_bundle, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_bundle, copy)
    manifest = json.loads((copy / "bundle.json").read_text())
    manifest["files"]["editing"]["tensors"]["directions"] = [5, 17]
    (copy / "bundle.json").write_text(json.dumps(manifest))
    problems = check_bundle(copy)
    assert problems == ["editing: tensor directions has shape [5, 16], bundle.json expects [5, 17]"]


def test_missing_file_detected(tiny_bundle, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_bundle, copy)
    (copy / "generator.safetensors").unlink()
    assert "missing" in check_bundle(copy)[0]


def test_unknown_bundle_name():
    with pytest.raises(BundleError, match="not found"):
        resolve_bundle("no-such-bundle")


def test_bundle_check_cli(tiny_bundle, capsys):
    assert main(["bundle", "check", str(tiny_bundle)]) == 0
    assert "complete" in capsys.readouterr().out
