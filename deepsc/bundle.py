"""Model bundles: a folder with ``bundle.json``, safetensors weights and ``MODEL_CARD.md``.

``bundle.json`` records the name, image resolution, latent space and size, attribute names and
number of degrees, and the architecture of each network. It also lists every file with its
format, sha256 and tensor shapes, so a corrupted or mismatched file is caught before use.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from deepsc.attributes import ATTRIBUTES, NUM_DEGREES
from deepsc.instruction import EditRequest, mentions_editable_attribute, parse_follow_up, parse_instruction
from deepsc.latent_codec import LatentStatistics
from deepsc.models.attribute_discriminator import AttributeDiscriminator
from deepsc.models.identity import IdentityEmbedding
from deepsc.models.inversion_encoder import InversionEncoder
from deepsc.models.predictor import AttributePredictor
from deepsc.models.semantic_field import SemanticFields
from deepsc.models.stylegan2 import Generator
from deepsc.models.text_encoder import TextEncoder

if TYPE_CHECKING:
    from deepsc.editing import EditConfig, SemanticEditor

logger = logging.getLogger(__name__)

DEFAULT_BUNDLE = "synthetic-64"
BUNDLE_FORMAT_VERSION = 1


class BundleError(RuntimeError):
    """A bundle is missing, incomplete or does not match its ``bundle.json``."""


def bundles_root() -> Path:
    """Folder that contains named bundles: $DEEPSC_BUNDLES_DIR or the repository's ``bundles/``."""
    override = os.environ.get("DEEPSC_BUNDLES_DIR")
    return Path(override) if override else Path(__file__).resolve().parent.parent / "bundles"


def resolve_bundle(name_or_path: str | Path) -> Path:
    """Turn a bundle name (``synthetic-64``) or a folder path into the bundle's folder."""
    candidate = Path(name_or_path)
    if (candidate / "bundle.json").exists():
        return candidate
    named = bundles_root() / str(name_or_path)
    if (named / "bundle.json").exists():
        return named
    raise BundleError(
        f"bundle {str(name_or_path)!r} not found: neither a folder with bundle.json nor a name under {bundles_root()}"
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tensor_shapes(path: Path) -> dict[str, list[int]]:
    """Read the tensor names and shapes of a safetensors file without loading the data."""
    with safe_open(str(path), framework="pt") as handle:
        return {key: list(handle.get_slice(key).get_shape()) for key in handle.keys()}


def write_weights(folder: Path, name: str, tensors: dict[str, torch.Tensor]) -> dict:
    """Save tensors as ``<name>.safetensors`` and return the file's manifest entry."""
    path = folder / f"{name}.safetensors"
    save_file({key: value.detach().contiguous().cpu() for key, value in tensors.items()}, str(path))
    return {"path": path.name, "format": "safetensors", "sha256": sha256_of(path), "tensors": tensor_shapes(path)}


def check_bundle(folder: Path) -> list[str]:
    """Verify every file of a bundle against its manifest; return the problems found (empty if none)."""
    problems: list[str] = []
    try:
        manifest = json.loads((folder / "bundle.json").read_text())
    except (OSError, json.JSONDecodeError) as error:
        return [f"cannot read {folder / 'bundle.json'}: {error}"]
    for name, entry in manifest.get("files", {}).items():
        path = folder / entry["path"]
        if not path.exists():
            problems.append(f"{name}: file {path} is missing")
            continue
        actual = sha256_of(path)
        if actual != entry["sha256"]:
            problems.append(f"{name}: sha256 of {path.name} is {actual}, bundle.json expects {entry['sha256']}")
            continue
        if entry.get("format") == "safetensors" and "tensors" in entry:
            shapes = tensor_shapes(path)
            for key, shape in entry["tensors"].items():
                if key not in shapes:
                    problems.append(f"{name}: tensor {key} is missing from {path.name}")
                elif shapes[key] != shape:
                    problems.append(f"{name}: tensor {key} has shape {shapes[key]}, bundle.json expects {shape}")
    return problems


@dataclass
class Bundle:
    """A loaded model bundle.

    Attributes:
        name: bundle name from its manifest.
        path: folder it was loaded from.
        manifest: the parsed ``bundle.json``.
        generator: StyleGAN2 generator (eval mode, frozen).
        predictor: attribute predictor (eval mode, frozen).
        directions: (5, D) semantic field direction per attribute in W.
        w_stats: statistics of W used to restore the latent's scale at the receiver.
        z_stats: statistics of Z with a power allocation, or None for the per-vector
            normalisation of z (bundles built before the allocation).
        eval_predictor: a second attribute predictor, trained apart from ``predictor`` (another
            seed and data stream), that ``deepsc eval-edit`` uses to check received edits, since
            the sender optimises against ``predictor``; None when the bundle has none.
    """

    name: str
    path: Path
    manifest: dict
    generator: Generator
    predictor: AttributePredictor
    directions: torch.Tensor
    w_stats: LatentStatistics
    text_encoder: TextEncoder | None = None
    inversion_encoder: InversionEncoder | None = None
    identity: IdentityEmbedding | None = None
    fields: dict[str, SemanticFields] = field(default_factory=dict)
    discriminator: AttributeDiscriminator | None = None
    z_stats: LatentStatistics | None = None
    eval_predictor: AttributePredictor | None = None

    def start_w(self, images: torch.Tensor) -> torch.Tensor:
        """Starting w (N, D) of the inversion: the encoder's estimate, or the mean w without one."""
        estimate = self.initial_w(images)
        if estimate is not None:
            return estimate
        return self.w_stats.mean.to(images).unsqueeze(0).repeat(images.shape[0], 1)

    @torch.no_grad()
    def initial_w(self, images: torch.Tensor) -> torch.Tensor | None:
        """Return the inversion encoder's estimate of w for images (N, 3, H, W) in [0, 1]; None without one."""
        if self.inversion_encoder is None:
            return None
        u = self.inversion_encoder(images)
        return InversionEncoder.to_w(u, self.w_stats.mean.to(u), self.w_stats.std.to(u))

    def parse(self, text: str) -> EditRequest:
        """Read an instruction with the bundle's text semantic encoder (the rule-based parser
        when the bundle has none).

        Raises:
            InstructionError: empty, or about nothing the model can edit.
        """
        if self.text_encoder is not None:
            return self.text_encoder.parse(text)
        return parse_instruction(text)

    def parse_turn(self, text: str, previous: EditRequest | None) -> EditRequest:
        """Read an instruction in a multi-turn session: one that names no attribute ("a bit more",
        "less") follows up on the previous turn's request.

        Raises:
            InstructionError: as ``parse``, when the text is no follow-up either.
        """
        if previous is not None and not mentions_editable_attribute(text):
            return parse_follow_up(text, previous)
        return self.parse(text)

    def text_embedding(self, text: str | None) -> torch.Tensor | None:
        """E_T (1, T) of an instruction for the semantic fields; None without a text encoder or text."""
        if self.text_encoder is None or text is None:
            return None
        with torch.no_grad():
            return self.text_encoder.embed(self.text_encoder.encode_tokens([text]))

    @property
    def resolution(self) -> int:
        return int(self.manifest["resolution"])

    @property
    def latent_size(self) -> int:
        return int(self.manifest["latent"]["size"])

    def latent_stats(self, latent_space: str) -> LatentStatistics:
        """Scale-restoring statistics of the latent space that crosses the channel."""
        if latent_space == "w":
            return self.w_stats
        if latent_space == "z":
            return self.z_stats or LatentStatistics.identity(self.latent_size)
        raise ValueError(f"unknown latent space {latent_space!r}; expected 'w' or 'z'")

    def editor(self, config: EditConfig | None = None) -> SemanticEditor:
        """Build the Semantic Editing Module over this bundle's generator, predictor and fields."""
        from deepsc.editing import SemanticEditor

        return SemanticEditor(
            self.generator,
            self.predictor,
            self.directions,
            config,
            fields=self.fields,
            identity=self.identity,
        )


def _generator_from_config(config: dict) -> Generator:
    config = dict(config)
    channels = config.pop("channels", None)
    if channels is not None:
        channels = {int(k): int(v) for k, v in channels.items()}
    return Generator(channels=channels, **config)


def load_bundle(
    name_or_path: str | Path = DEFAULT_BUNDLE, device: torch.device | str = "cpu", verify: bool = True
) -> Bundle:
    """Load a bundle's generator, predictor and editing data.

    Raises:
        BundleError: missing folder or files, or a hash or shape mismatch when ``verify``.
    """
    folder = resolve_bundle(name_or_path)
    if verify:
        problems = check_bundle(folder)
        if problems:
            raise BundleError(f"bundle {folder} failed its check: " + "; ".join(problems))
    manifest = json.loads((folder / "bundle.json").read_text())
    files = manifest["files"]

    generator = _generator_from_config(manifest["generator"])
    generator.load_state_dict(load_file(str(folder / files["generator"]["path"])))
    predictor = AttributePredictor(**manifest.get("predictor", {}))
    predictor.load_state_dict(load_file(str(folder / files["predictor"]["path"])))
    editing = load_file(str(folder / files["editing"]["path"]))

    generator.eval().requires_grad_(False).to(device)
    predictor.eval().requires_grad_(False).to(device)
    stats = LatentStatistics(
        editing["w_mean"],
        editing["w_std"],
        float(editing["w_expected_norm"]),
        editing.get("w_basis"),
        editing.get("w_variances"),
        editing.get("w_gains"),
    )
    z_stats = None
    if "z_basis" in editing and "z_gains" in editing:
        # z ~ N(0, I): unit variance in any basis; the basis is the one the allocation chose.
        size = editing["z_basis"].shape[0]
        z_stats = LatentStatistics(
            torch.zeros(size),
            torch.ones(size),
            math.sqrt(size),
            editing["z_basis"],
            torch.ones(size),
            editing["z_gains"],
        )
    text_encoder = _load_text_encoder(folder, manifest)
    inversion_encoder = None
    if "inversion_encoder" in files:
        inversion_encoder = InversionEncoder(generator.style_dim, resolution=generator.size)
        inversion_encoder.load_state_dict(load_file(str(folder / files["inversion_encoder"]["path"])))
        inversion_encoder.eval().requires_grad_(False).to(device)
    identity = None
    if "identity" in files:
        identity = IdentityEmbedding(**manifest.get("identity", {}))
        identity.load_state_dict(load_file(str(folder / files["identity"]["path"])))
        identity.eval().requires_grad_(False).to(device)
    fields = {}
    for space in ("w", "z"):
        key = f"semantic_field_{space}"
        if key in files and identity is not None:
            fields[space] = SemanticFields(space, generator.style_dim, identity.dim, **manifest["semantic_field"])
            fields[space].load_state_dict(load_file(str(folder / files[key]["path"])))
            fields[space].eval().requires_grad_(False).to(device)
    eval_predictor = None
    if "eval_predictor" in files:
        eval_predictor = AttributePredictor(**manifest.get("predictor", {}))
        eval_predictor.load_state_dict(load_file(str(folder / files["eval_predictor"]["path"])))
        eval_predictor.eval().requires_grad_(False).to(device)
    discriminator = None
    if "discriminator" in files:
        discriminator = AttributeDiscriminator(generator.size)
        discriminator.load_state_dict(load_file(str(folder / files["discriminator"]["path"])))
        discriminator.eval().requires_grad_(False).to(device)
    logger.info("loaded bundle %s from %s", manifest["name"], folder)
    return Bundle(
        manifest["name"],
        folder,
        manifest,
        generator,
        predictor,
        editing["directions"].to(device),
        stats,
        text_encoder,
        inversion_encoder,
        identity,
        fields,
        discriminator,
        z_stats,
        eval_predictor,
    )


def _load_text_encoder(folder: Path, manifest: dict) -> TextEncoder | None:
    files = manifest["files"]
    if "text_encoder" not in files or "text_vocab" not in files:
        return None
    vocab = json.loads((folder / files["text_vocab"]["path"]).read_text())
    encoder = TextEncoder(vocab, **manifest.get("text_encoder", {}))
    encoder.load_state_dict(load_file(str(folder / files["text_encoder"]["path"])))
    return encoder.eval()


def load_instruction_parser(name_or_path: str | Path = DEFAULT_BUNDLE) -> Callable[[str], EditRequest]:
    """Return the instruction parser of a bundle without loading its image models.

    Raises:
        BundleError: the bundle is missing or its text files fail their hashes.
    """
    folder = resolve_bundle(name_or_path)
    manifest = json.loads((folder / "bundle.json").read_text())
    problems = [problem for problem in check_bundle(folder) if problem.startswith(("text_encoder", "text_vocab"))]
    if problems:
        raise BundleError(f"bundle {folder} failed its check: " + "; ".join(problems))
    encoder = _load_text_encoder(folder, manifest)
    return encoder.parse if encoder is not None else parse_instruction


def write_manifest(
    folder: Path,
    name: str,
    generator_config: dict,
    predictor_config: dict,
    files: dict,
    resolution: int,
    latent_size: int,
    extra: dict | None = None,
) -> Path:
    """Write ``bundle.json`` for a folder whose weight files are already saved."""
    manifest = {
        "format_version": BUNDLE_FORMAT_VERSION,
        "name": name,
        "resolution": resolution,
        "channels": 3,
        "latent": {"size": latent_size, "spaces": ["w", "z"], "default_space": "w"},
        "attributes": list(ATTRIBUTES),
        "num_degrees": NUM_DEGREES,
        "generator": generator_config,
        "predictor": predictor_config,
        "files": files,
    }
    if extra:
        manifest.update(extra)
    path = folder / "bundle.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path
