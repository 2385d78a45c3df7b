"""Receiver gRPC service: Deliver (a stream of noisy frames → edited PNG) and GetResult."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict

import grpc
import torch

from deepsc.bundle import Bundle
from deepsc.channel import NoisyFrame
from deepsc.editing import synthesise
from deepsc.grpc_server import abort
from deepsc.latent_codec import estimate_latent
from deepsc.request_context import request_id_from_metadata, request_id_var
from deepsc.settings import Settings
from deepsc.v1 import transport_pb2, transport_pb2_grpc

logger = logging.getLogger("deepsc.receiver")

SERVICE_NAME = transport_pb2.DESCRIPTOR.services_by_name["Receiver"].full_name


def decode_frames(
    bundle: Bundle, frames: list[NoisyFrame], latent_space: str, power: float, equaliser: str
) -> torch.Tensor:
    """Estimate the latent from the frames and generate the image, (1, 3, H, W) in [0, 1]."""
    latent = estimate_latent(frames, bundle.latent_stats(latent_space), power, equaliser)
    with torch.no_grad():
        return synthesise(bundle.generator, latent.unsqueeze(0).to(bundle.generator.input.input.device), latent_space)


class ReceiverService(transport_pb2_grpc.ReceiverServicer):
    """Decodes streams and keeps the latest results for GetResult.

    Args:
        bundle: the loaded bundle; only its generator and latent statistics are used.
        max_results: results kept in memory (oldest dropped first).
    """

    def __init__(self, bundle: Bundle, max_results: int = 256) -> None:
        self.bundle = bundle
        self.max_results = max_results
        self._results: OrderedDict[str, transport_pb2.DecodeResult] = OrderedDict()
        self._lock = threading.Lock()
        self._model_lock = threading.Lock()

    def Deliver(self, request_iterator, context: grpc.ServicerContext) -> transport_pb2.DecodeResult:
        token = request_id_var.set(request_id_from_metadata(context.invocation_metadata()))
        try:
            return self._deliver(request_iterator, context)
        finally:
            request_id_var.reset(token)

    def _deliver(self, request_iterator, context: grpc.ServicerContext) -> transport_pb2.DecodeResult:
        from deepsc.pipeline import png_bytes, to_uint8

        first = next(request_iterator, None)
        if first is None or first.WhichOneof("payload") != "header":
            abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                "the first message of a Deliver stream must be a StreamHeader",
            )
        header = first.header
        self._validate_header(header, context)

        frames: list[NoisyFrame] = []
        for message in request_iterator:
            if message.WhichOneof("payload") != "frame":
                abort(
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"job {header.job_id}: only one StreamHeader is allowed per stream",
                )
            frame = message.frame
            if frame.index != len(frames):
                abort(
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"job {header.job_id}: frame {frame.index} arrived, expected frame {len(frames)}",
                )
            frames.append(
                NoisyFrame(
                    frame.index,
                    torch.tensor(list(frame.values), dtype=torch.float32),
                    complex(frame.gain_real, frame.gain_imag),
                    frame.noise_variance,
                )
            )

        received = sum(frame.received.numel() for frame in frames)
        if received != header.latent_size:
            abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"job {header.job_id}: received {received} values, the header announced {header.latent_size}",
            )

        started = time.perf_counter()
        with self._model_lock:
            image = to_uint8(
                decode_frames(self.bundle, frames, header.latent_space, header.power or 1.0, header.equaliser or "mmse")
            )
        result = transport_pb2.DecodeResult(
            job_id=header.job_id,
            edited_png=png_bytes(image),
            width=image.shape[1],
            height=image.shape[0],
            latent_space=header.latent_space,
            symbols=received,
            decode_seconds=time.perf_counter() - started,
            bundle=self.bundle.name,
        )
        with self._lock:
            self._results[header.job_id] = result
            self._results.move_to_end(header.job_id)
            while len(self._results) > self.max_results:
                self._results.popitem(last=False)
        logger.info(
            "job %s decoded: %d values in %d frames, %.3f s",
            header.job_id,
            received,
            len(frames),
            result.decode_seconds,
        )
        return result

    def GetResult(
        self, request: transport_pb2.GetResultRequest, context: grpc.ServicerContext
    ) -> transport_pb2.DecodeResult:
        with self._lock:
            result = self._results.get(request.job_id)
        if result is None:
            abort(context, grpc.StatusCode.NOT_FOUND, f"no result stored for job {request.job_id!r}")
        return result

    def _validate_header(self, header: transport_pb2.StreamHeader, context: grpc.ServicerContext) -> None:
        if not header.job_id:
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, "StreamHeader.job_id is empty")
        if header.latent_space not in ("w", "z"):
            abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"job {header.job_id}: latent_space {header.latent_space!r} is invalid; expected 'w' or 'z'",
            )
        if header.latent_size != self.bundle.latent_size:
            abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"job {header.job_id}: latent_size {header.latent_size} does not match bundle {self.bundle.name} ({self.bundle.latent_size})",
            )
        if header.bundle and header.bundle != self.bundle.name:
            abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                f"job {header.job_id}: sent with bundle {header.bundle!r}, this receiver runs {self.bundle.name!r}",
            )
        if header.equaliser and header.equaliser not in ("mmse", "zf"):
            abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"job {header.job_id}: equaliser {header.equaliser!r} is invalid; expected 'mmse' or 'zf'",
            )


def serve(settings: Settings, bundle: Bundle | None = None, port: int | None = None):
    """Load the bundle (unless given) and start the receiver; returns the started server."""
    from deepsc.bundle import load_bundle
    from deepsc.grpc_server import start_server
    from deepsc.settings import resolve_device

    bundle = bundle or load_bundle(settings.bundle, device=resolve_device(settings.device))
    service = ReceiverService(bundle, settings.max_stored_results)
    return start_server(
        lambda server: transport_pb2_grpc.add_ReceiverServicer_to_server(service, server),
        [SERVICE_NAME],
        settings.host,
        settings.receiver_port if port is None else port,
    )
