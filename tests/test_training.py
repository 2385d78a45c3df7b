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
                *(["--adversarial-steps", "2", "--mouth-steps", "2"] if part == "generator" else []),
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
    generator_record = manifest["metrics"]["generator"]
    assert generator_record["mouth_steps"] == 2
    # The mouth stage trains against the predictor, so the evaluation predictor reads the samples too.
    assert set(generator_record["eval_predictor_degree_accuracy"]) == set(generator_record["degree_accuracy"])
    assert generator_record["command"].endswith("--adversarial-steps 2 --mouth-steps 2")
    assert (checkpoints / "generator-mouth.ckpt").exists()
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
    # Stages of the generator may be skipped with 0, never given a negative length.
    for option in ("--adversarial-steps", "--mouth-steps"):
        assert main(["train", "generator", "--out", str(out), option, "-1"]) == 2
        error = capsys.readouterr().err.strip()
        assert error == f"deepsc train: error: {option} must be at least 0, got -1"
    assert not out.exists(), "a rejected command wrote a bundle"


def _tiny_generator_parts():
    from deepsc.models.predictor import AttributePredictor
    from deepsc.training.generator import ParamEmbedding, build_generator

    torch.manual_seed(0)
    config = {"size": 16, "style_dim": 32, "n_mlp": 2, "channels": {4: 16, 8: 16, 16: 8}}
    generator = build_generator(config)
    return generator, ParamEmbedding(generator.style_dim), AttributePredictor(resolution=16, width=4)


def test_mouth_stage_freezes_embedding(tmp_path):
    from deepsc.training.common import TrainConfig
    from deepsc.training.generator import AdversarialWeights, train_adversarial

    generator, embedding, predictor = _tiny_generator_parts()
    lpips_model = _TinyDistance()
    synthesis_before = {k: v.clone() for k, v in generator.state_dict().items() if not k.startswith("style")}
    embedding_before = {k: v.clone() for k, v in embedding.state_dict().items()}
    metrics = []
    config = TrainConfig(steps=2, batch_size=2, seed=0, checkpoint=tmp_path / "mouth.ckpt")
    weights = AdversarialWeights(mouth=1.0, attribute=0.2)
    generator, embedding, _ = train_adversarial(
        config,
        generator,
        embedding,
        lpips_model,
        weights,
        callback=lambda step, total, values: metrics.append(values),
        predictor=predictor,
        train_embedding=False,
    )

    assert all(torch.equal(embedding.state_dict()[k], v) for k, v in embedding_before.items())
    changed = [k for k, v in synthesis_before.items() if not torch.equal(generator.state_dict()[k], v)]
    assert changed, "the mouth stage left the synthesis network as it was"
    assert {"mouth", "attr"} <= set(metrics[-1])
    assert (tmp_path / "mouth.ckpt").exists()


def test_attribute_term_needs_the_predictor(tmp_path):
    from deepsc.training.common import TrainConfig
    from deepsc.training.generator import AdversarialWeights, train_adversarial

    generator, embedding, _ = _tiny_generator_parts()
    config = TrainConfig(steps=1, batch_size=2, seed=0, checkpoint=None)
    try:
        train_adversarial(config, generator, embedding, _TinyDistance(), AdversarialWeights(attribute=0.1))
    except ValueError as error:
        assert "predictor" in str(error)
    else:
        raise AssertionError("the attribute term ran without a predictor")


class _TinyDistance(torch.nn.Module):
    """Mean squared distance per image, in place of LPIPS where only the wiring is under test."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a - b).pow(2).mean(dim=[1, 2, 3])
