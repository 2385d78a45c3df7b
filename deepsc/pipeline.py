"""The whole Editable-DeepSC job in one process: sender, channel and receiver.

Sender: align the face, invert it into the generator's latent space, parse the instruction,
edit the latent with the Semantic Editing Module and power-normalise it into channel symbols.
Channel: Y = h·X + N at the requested SNR. Receiver: equalise, restore the latent's scale and
run the generator. The services split exactly these steps across processes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from deepsc.attributes import ATTRIBUTES
from deepsc.bundle import Bundle
from deepsc.channel import (
    CHANNEL_MODELS,
    DEFAULT_FRAME_SYMBOLS,
    ChannelStats,
    NoisyFrame,
    cbr,
    channel_uses,
    transmit,
)
from deepsc.editing import EditConfig, EditResult, SimulatedChannel, predict_degrees, synthesise
from deepsc.face import AlignedFace, align_face
from deepsc.instruction import EditRequest
from deepsc.inversion import InversionConfig, invert
from deepsc.latent_codec import encode_latent, estimate_latent

logger = logging.getLogger(__name__)

LATENT_SPACES: tuple[str, ...] = ("w", "z")

# Called with (stage, step, total) as the job advances; stages are "alignment", "inversion",
# "editing", "channel" and "synthesis".
ProgressCallback = Callable[[str, int, int], None]


@dataclass
class EditOptions:
    """Per-job settings, with the CLI's and the REST API's defaults.

    Attributes:
        snr_db: channel SNR, P/σ² in dB.
        channel: "none", "awgn" or "rayleigh".
        seed: seed of the channel noise and fading.
        latent_space: the latent that crosses the channel, "w" or "z".
        inversion_steps: Adam steps of the inversion.
    """

    snr_db: float = 6.0
    channel: str = "awgn"
    seed: int = 0
    latent_space: str = "w"
    inversion_steps: int = 150
    frame_symbols: int = DEFAULT_FRAME_SYMBOLS

    def validate(self) -> None:
        """Raise ValueError with a readable message for an invalid setting."""
        if self.channel not in CHANNEL_MODELS:
            raise ValueError(f"invalid channel {self.channel!r}; expected one of {', '.join(CHANNEL_MODELS)}")
        if self.latent_space not in LATENT_SPACES:
            raise ValueError(f"invalid latent_space {self.latent_space!r}; expected 'w' or 'z'")
        if not np.isfinite(self.snr_db) or not -50.0 <= self.snr_db <= 100.0:
            raise ValueError(f"invalid snr_db {self.snr_db}; expected a number of dB between -50 and 100")
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"invalid seed {self.seed}; expected an integer from 0 to 2**63 - 1")
        if self.inversion_steps < 1:
            raise ValueError(f"invalid inversion_steps {self.inversion_steps}; expected at least 1")
        if not 1 <= self.frame_symbols <= 4096:
            raise ValueError(f"invalid frame_symbols {self.frame_symbols}; expected 1 to 4096 complex symbols")


@dataclass
class SenderOutput:
    """Outputs of the sender for one job.

    Attributes:
        aligned: the cropped face fed to the inversion.
        reconstruction: (1, 3, H, W) in [0, 1], G(inverted latent), not edited, noiseless.
        request: the parsed instruction.
        edit: the editing outcome (latent in W).
        symbols: (k,) power-normalised real values to send.
        latent_space: which latent the symbols carry.
        timings: seconds per stage.
        latent: (1, D) the latent the symbols carry, before power normalisation.
    """

    aligned: AlignedFace
    reconstruction: torch.Tensor
    request: EditRequest
    edit: EditResult
    symbols: torch.Tensor
    latent_space: str
    timings: dict[str, float] = field(default_factory=dict)
    latent: torch.Tensor | None = None


@dataclass
class InvertedFace:
    """An aligned face and its latent.

    Attributes:
        aligned: the cropped face fed to the inversion.
        latent: (1, D) the inverted latent, or in a session the previous turn's edited latent.
        latent_space: "w" or "z".
        seconds: time the alignment and inversion took.
    """

    aligned: AlignedFace
    latent: torch.Tensor
    latent_space: str
    seconds: float = 0.0


@dataclass
class EditOutcome:
    """Everything one job produced, ready to write out."""

    original: np.ndarray
    reconstruction: np.ndarray
    edited: np.ndarray
    summary: dict


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [0, 1] → (H, W, 3) uint8."""
    array = images[0].detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    return (array * 255 + 0.5).astype(np.uint8)


def png_bytes(image: np.ndarray) -> bytes:
    """Encode an (H, W, 3) uint8 array as PNG."""
    import io

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def from_uint8(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """(H, W, 3) uint8 → (1, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1).unsqueeze(0).float().div(255).to(device)


class EditPipeline:
    """Runs jobs on one loaded bundle.

    Args:
        bundle: the loaded models.
        lpips_model: LPIPS network for the inversion loss.
        edit_config: editing loop settings.
    """

    def __init__(self, bundle: Bundle, lpips_model: torch.nn.Module, edit_config: EditConfig | None = None) -> None:
        self.bundle = bundle
        self.lpips = lpips_model
        self.editor = bundle.editor(edit_config)
        self._lock = threading.Lock()

    @property
    def device(self) -> torch.device:
        return self.bundle.generator.input.input.device

    def render(self, latent: torch.Tensor, latent_space: str = "w") -> torch.Tensor:
        """Generate (1, 3, H, W) images in [0, 1] from a latent of ``latent_space``."""
        with torch.no_grad():
            return synthesise(self.bundle.generator, latent, latent_space)

    def invert_image(
        self,
        image: Image.Image,
        options: EditOptions,
        progress: ProgressCallback | None = None,
        interrupt: threading.Event | None = None,
    ) -> InvertedFace:
        """Align the face and invert it into ``options.latent_space``."""
        options.validate()
        report = progress or (lambda stage, step, total: None)
        started = time.perf_counter()
        report("alignment", 0, 1)
        aligned = align_face(image, self.bundle.resolution)
        target = from_uint8(aligned.image, self.device)

        inversion_config = InversionConfig(steps=options.inversion_steps, latent_space=options.latent_space)
        # W inversions start at the inversion encoder's estimate, or at the bundle's mean w.
        start = self.bundle.start_w(target) if options.latent_space == "w" else None
        result = invert(
            self.bundle.generator,
            target,
            self.lpips,
            inversion_config,
            start=start,
            callback=lambda step, total, loss: report("inversion", step, total),
            interrupt=interrupt,
        )
        return InvertedFace(aligned, result.latent.detach(), options.latent_space, time.perf_counter() - started)

    def run_sender(
        self,
        image: Image.Image,
        instruction: str | EditRequest,
        options: EditOptions,
        progress: ProgressCallback | None = None,
        interrupt: threading.Event | None = None,
    ) -> SenderOutput:
        """Align, invert, parse, edit and power-normalise: everything before the channel."""
        options.validate()
        request = instruction if isinstance(instruction, EditRequest) else self.bundle.parse(instruction)
        inverted = self.invert_image(image, options, progress, interrupt)
        return self.edit_latent(inverted, instruction, options, progress, interrupt, request=request)

    def edit_latent(
        self,
        inverted: InvertedFace,
        instruction: str | EditRequest,
        options: EditOptions,
        progress: ProgressCallback | None = None,
        interrupt: threading.Event | None = None,
        request: EditRequest | None = None,
    ) -> SenderOutput:
        """Edit an inverted (or previously edited) latent and power-normalise it into symbols.

        A session calls this once per turn with the previous turn's edited latent, so the face is
        inverted only once.
        """
        if request is None:
            request = instruction if isinstance(instruction, EditRequest) else self.bundle.parse(instruction)
        text = instruction if isinstance(instruction, str) else None
        report = progress or (lambda stage, step, total: None)
        space = inverted.latent_space
        started = time.perf_counter()

        # Output determination simulates the job's channel at its SNR.
        # NOTE: a Rayleigh job is simulated as AWGN at the same SNR.
        channel = (
            None if options.channel == "none" else SimulatedChannel(self.bundle.latent_stats(space), options.snr_db)
        )

        if self.editor.has_field(space):
            # The field edits the latent that crosses the channel: W as in Talk-to-Edit, or Z as in Editable-DeepSC.
            edit = self.editor.edit(
                inverted.latent,
                request,
                callback=lambda step, total, degree: report("editing", step, total),
                interrupt=interrupt,
                latent_space=space,
                text_embedding=self.bundle.text_embedding(text),
                channel=channel,
            )
            sent = edit.latent
        else:
            # Constant W directions: a z job edits mapping(z) in W and sends a z that reproduces it.
            w = self.bundle.generator.mapping(inverted.latent) if space == "z" else inverted.latent
            edit = self.editor.edit(
                w.detach(),
                request,
                callback=lambda step, total, degree: report("editing", step, total),
                interrupt=interrupt,
                channel=channel if space == "w" else None,
            )
            sent = (
                edit.latent if space == "w" else project_to_z(self.bundle.generator, edit.latent, start=inverted.latent)
            )
        timings = {"inversion": inverted.seconds, "editing": time.perf_counter() - started}
        symbols = encode_latent(sent.reshape(-1).cpu(), self.bundle.latent_stats(space))
        return SenderOutput(
            inverted.aligned,
            self.render(inverted.latent, space),
            request,
            edit,
            symbols,
            space,
            timings,
            sent.detach(),
        )

    def run_receiver(
        self, frames: list[NoisyFrame], latent_space: str, power: float = 1.0, equaliser: str = "mmse"
    ) -> torch.Tensor:
        """Estimate the latent from the noisy frames and generate the image, (1, 3, H, W) in [0, 1]."""
        latent = estimate_latent(frames, self.bundle.latent_stats(latent_space), power, equaliser)
        return self.render(latent.unsqueeze(0).to(self.device), latent_space)

    def summarise(
        self,
        sender: SenderOutput,
        edited: np.ndarray,
        options: EditOptions,
        channel_stats: ChannelStats | None,
        timings: dict[str, float],
    ) -> dict:
        """Build the job summary (the keys of ``summary.json``) from the edited image as saved.

        Args:
            edited: (H, W, 3) uint8, exactly the pixels of ``edited.png``.
        """
        index = ATTRIBUTES.index(sender.request.attribute)
        with torch.no_grad():
            after = self.bundle.predictor.predict_degrees(from_uint8(edited, self.device))[0]
        degree_after = int(after[index])
        symbols = int(sender.symbols.numel())
        # With the average normalisation one latent's power is its squared standardised norm per
        # value: a latent far from the bundle's training latents is sent with more than P.
        symbol_power = float(sender.symbols.pow(2).mean())
        warnings = list(sender.aligned.warnings)
        if symbol_power > 2.0:
            warnings.append(
                f"the latent was sent at {symbol_power:.1f} times the average power P because it lies far from the "
                "latents the bundle's statistics describe, so the measured SNR is above the nominal one"
            )
        resolution = self.bundle.resolution
        summary = {
            "instruction": None,
            "attribute": sender.request.attribute,
            "degree_before": sender.edit.degree_before,
            "degree_target": sender.edit.degree_target,
            "degree_after": degree_after,
            "degrees_before": sender.edit.degrees_before,
            "degrees_at_sender": sender.edit.degrees_reached,
            "expected_success": sender.edit.expected_success,
            "degrees_after": {name: int(after[i]) for i, name in enumerate(ATTRIBUTES)},
            "snr_db": float(options.snr_db),
            "channel": options.channel,
            "latent_space": options.latent_space,
            "symbols": symbols,
            "channel_uses": channel_uses(symbols),
            "cbr": cbr(symbols, resolution, resolution),
            "cbr_complex": cbr(channel_uses(symbols), resolution, resolution),
            "symbol_power": round(symbol_power, 4),
            "warnings": warnings,
            "timings_s": {key: round(value, 4) for key, value in timings.items()},
            "bundle": self.bundle.name,
        }
        if channel_stats is not None:
            summary["measured_snr_db"] = (
                round(channel_stats.measured_snr_db, 3) if channel_stats.noise_power > 0 else None
            )
        return summary

    def run(
        self,
        image: Image.Image,
        instruction: str,
        options: EditOptions | None = None,
        progress: ProgressCallback | None = None,
        interrupt: threading.Event | None = None,
    ) -> EditOutcome:
        """Run one whole job in this process."""
        options = options or EditOptions()
        with self._lock:
            total_start = time.perf_counter()
            sender = self.run_sender(image, instruction, options, progress, interrupt)

            started = time.perf_counter()
            if progress:
                progress("channel", 0, 1)
            received = transmit(
                sender.symbols, options.channel, options.snr_db, options.seed, frame_symbols=options.frame_symbols
            )
            channel_time = time.perf_counter() - started

            started = time.perf_counter()
            if progress:
                progress("synthesis", 0, 1)
            edited = to_uint8(self.run_receiver(received.frames, options.latent_space))
            synthesis_time = time.perf_counter() - started

            timings = {
                "inversion": sender.timings["inversion"],
                "editing": sender.timings["editing"],
                "channel": channel_time,
                "synthesis": synthesis_time,
                "total": time.perf_counter() - total_start,
            }
            summary = self.summarise(sender, edited, options, received.stats, timings)
            summary["instruction"] = instruction
            logger.info(
                "edit done: %s %d -> %d (target %d) at %.1f dB %s",
                summary["attribute"],
                summary["degree_before"],
                summary["degree_after"],
                summary["degree_target"],
                options.snr_db,
                options.channel,
            )
            return EditOutcome(sender.aligned.image, to_uint8(sender.reconstruction), edited, summary)


def project_to_z(generator, w: torch.Tensor, start: torch.Tensor | None = None, steps: int = 300) -> torch.Tensor:
    """Find z (1, D) with mapping(z) ≈ w by gradient descent on ‖mapping(z) − w‖²."""
    z = (start.detach().clone() if start is not None else torch.zeros_like(w)).requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=0.05)
    target = w.detach()
    for _ in range(steps):
        loss = (generator.mapping(z) - target).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return z.detach()


def degrees_of(pipeline: EditPipeline, w: torch.Tensor) -> dict[str, int]:
    """Predicted degrees of all attributes for a latent w (1, D)."""
    degrees = predict_degrees(pipeline.bundle.generator, pipeline.bundle.predictor, w)[0]
    return {name: int(degrees[i]) for i, name in enumerate(ATTRIBUTES)}
