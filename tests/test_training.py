import json

import torch

from deepsc.bundle import check_bundle, load_bundle
from deepsc.cli import main


def test_train_every_part_for_a_few_steps(tmp_path, capsys):
    out = tmp_path / "bundle"
    checkpoints = tmp_path / "runs"
    parts = (
        ("predictor", 2),
        ("eval-predictor", 2),
        ("generator", 2),
        ("editing", 256),
        ("text", 3),
        ("encoder", 2),
        ("identity", 2),
        ("field", 1),
    )
    for part, steps in parts:
        code = main(
            [
                "train",
                part,
                "--out",
                str(out),
                "--steps",
                str(steps),
                "--batch-size",
                "4",
                "--checkpoint",
                str(checkpoints / f"{part}.ckpt"),
                "--eval-samples",
                "20",
                *(["--adversarial-steps", "2"] if part == "generator" else []),
            ]
        )
        assert code == 0, part
        printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert printed["part"] == part
    assert check_bundle(out) == []
    manifest = json.loads((out / "bundle.json").read_text())
    assert set(manifest["files"]) == {
        "predictor",
        "eval_predictor",
        "generator",
        "param_embedding",
        "editing",
        "text_encoder",
        "text_vocab",
        "inversion_encoder",
        "discriminator",
        "identity",
        "semantic_field_w",
        "semantic_field_z",
    }
    assert set(manifest["metrics"]) == {
        "predictor",
        "eval-predictor",
        "generator",
        "editing",
        "text",
        "encoder",
        "identity",
        "field",
    }
    # The evaluation predictor is a second model: another seed, so other weights.
    assert manifest["metrics"]["eval-predictor"]["seed"] == 1000
    assert (out / "MODEL_CARD.md").exists()
    bundle = load_bundle(out)
    assert bundle.text_encoder is not None
    assert bundle.inversion_encoder is not None
    assert bundle.discriminator is not None and bundle.identity is not None
    assert bundle.eval_predictor is not None
    first = next(iter(bundle.predictor.state_dict().values()))
    assert not torch.equal(first, next(iter(bundle.eval_predictor.state_dict().values())))
    assert set(bundle.fields) == {"w", "z"}
    # train editing stores the power allocation of both latent spaces.
    assert bundle.w_stats.gains is not None
    assert bundle.latent_stats("z").gains is not None

    # Retraining the fields of one space keeps the record of the other.
    field_run = ["train", "field", "--out", str(out), "--steps", "1", "--batch-size", "4", "--latent-space", "w"]
    assert main([*field_run, "--checkpoint", str(checkpoints / "field.ckpt")]) == 0
    record = json.loads((out / "bundle.json").read_text())["metrics"]["field"]
    assert set(record["latent_spaces"]) == {"w", "z"}
    card = (out / "MODEL_CARD.md").read_text()
    assert "--latent-space w`" in card
    assert "--latent-space z`" in card


def test_training_resumes_from_checkpoint(tmp_path, capsys):
    out = tmp_path / "bundle"
    checkpoint = tmp_path / "predictor.ckpt"
    args = [
        "train",
        "predictor",
        "--out",
        str(out),
        "--steps",
        "2",
        "--batch-size",
        "4",
        "--checkpoint",
        str(checkpoint),
        "--eval-samples",
        "20",
    ]
    assert main(args) == 0
    first = (out / "predictor.safetensors").read_bytes()
    # Asking for the same number of steps again resumes at the end and trains nothing more.
    assert main(args) == 0
    assert (out / "predictor.safetensors").read_bytes() == first
    capsys.readouterr()


def test_generator_needs_predictor(tmp_path, capsys):
    assert main(["train", "generator", "--out", str(tmp_path / "empty"), "--steps", "1"]) == 1
    assert "train predictor" in capsys.readouterr().err


def test_train_rejects_sizes_below_one(tmp_path, capsys):
    out = tmp_path / "bundle"
    for option in ("--steps", "--batch-size", "--eval-samples"):
        assert main(["train", "eval-predictor", "--out", str(out), option, "0"]) == 2
        error = capsys.readouterr().err.strip()
        assert error == f"deepsc train: error: {option} must be at least 1, got 0"
    assert not out.exists(), "a rejected command wrote a bundle"
