"""Channel emulator gRPC service: Transmit (sender frames → noisy frames → receiver)."""

from __future__ import annotations

import logging
import math

import grpc
import torch

from deepsc.channel import CHANNEL_MODELS, EQUALISERS, ChannelSimulator
from deepsc.grpc_server import GRPC_OPTIONS, abort
from deepsc.request_context import REQUEST_ID_METADATA_KEY, request_id_from_metadata, request_id_var
from deepsc.settings import Settings
from deepsc.v1 import transport_pb2, transport_pb2_grpc

logger = logging.getLogger("deepsc.channel")

SERVICE_NAME = transport_pb2.DESCRIPTOR.services_by_name["ChannelEmulator"].full_name
MAX_FRAME_SYMBOLS = 4096


class InvalidStream(Exception):
    """The sender's stream broke the protocol; carries the gRPC status to return."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def validate_header(header: transport_pb2.StreamHeader) -> None:
    """Raise InvalidStream for a header the channel cannot apply."""
    if not header.job_id:
        raise InvalidStream(grpc.StatusCode.INVALID_ARGUMENT, "StreamHeader.job_id is empty")
    if header.channel not in CHANNEL_MODELS:
        raise InvalidStream(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"job {header.job_id}: channel {header.channel!r} is invalid; expected one of {', '.join(CHANNEL_MODELS)}",
        )
    if not math.isfinite(header.snr_db):
        raise InvalidStream(
            grpc.StatusCode.INVALID_ARGUMENT, f"job {header.job_id}: snr_db must be finite, got {header.snr_db}"
        )
    if not 1 <= header.frame_symbols <= MAX_FRAME_SYMBOLS:
        raise InvalidStream(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"job {header.job_id}: frame_symbols {header.frame_symbols} is invalid; expected 1 to {MAX_FRAME_SYMBOLS}",
        )
    if header.latent_size == 0:
        raise InvalidStream(grpc.StatusCode.INVALID_ARGUMENT, f"job {header.job_id}: latent_size is 0")
    if header.power < 0 or not math.isfinite(header.power):
        raise InvalidStream(grpc.StatusCode.INVALID_ARGUMENT, f"job {header.job_id}: power {header.power} is invalid")
    if header.equaliser and header.equaliser not in EQUALISERS:
        raise InvalidStream(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"job {header.job_id}: equaliser {header.equaliser!r} is invalid; expected one of {', '.join(EQUALISERS)}",
        )


class ChannelEmulatorService(transport_pb2_grpc.ChannelEmulatorServicer):
    """Forwards each stream to the receiver, applying the channel frame by frame.

    Args:
        receiver_address: host:port of the receiver.
    """

    def __init__(self, receiver_address: str) -> None:
        self.receiver_address = receiver_address
        self._channel = grpc.insecure_channel(receiver_address, options=GRPC_OPTIONS)
        self._receiver = transport_pb2_grpc.ReceiverStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def Transmit(self, request_iterator, context: grpc.ServicerContext) -> transport_pb2.TransmitResponse:
        token = request_id_var.set(request_id_from_metadata(context.invocation_metadata()))
        try:
            return self._transmit(request_iterator, context)
        finally:
            request_id_var.reset(token)

    def _transmit(self, request_iterator, context: grpc.ServicerContext) -> transport_pb2.TransmitResponse:
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("payload") != "header":
            abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                "the first message of a Transmit stream must be a StreamHeader",
            )
        header = first.header
        try:
            validate_header(header)
        except InvalidStream as error:
            abort(context, error.code, str(error))

        simulator = ChannelSimulator(header.channel, header.snr_db, header.seed, header.power or 1.0)
        problems: list[InvalidStream] = []

        def noisy_stream():
            yield transport_pb2.DeliverRequest(header=header)
            expected = 0
            for message in request_iterator:
                if message.WhichOneof("payload") != "frame":
                    problems.append(
                        InvalidStream(
                            grpc.StatusCode.INVALID_ARGUMENT,
                            f"job {header.job_id}: only one StreamHeader is allowed per stream",
                        )
                    )
                    return
                frame = message.frame
                if frame.index != expected:
                    problems.append(
                        InvalidStream(
                            grpc.StatusCode.INVALID_ARGUMENT,
                            f"job {header.job_id}: frame {frame.index} arrived, expected frame {expected}",
                        )
                    )
                    return
                if not 0 < len(frame.values) <= 2 * header.frame_symbols:
                    problems.append(
                        InvalidStream(
                            grpc.StatusCode.INVALID_ARGUMENT,
                            f"job {header.job_id}: frame {frame.index} has {len(frame.values)} values, expected 1 to {2 * header.frame_symbols}",
                        )
                    )
                    return
                noisy = simulator.apply(torch.tensor(list(frame.values), dtype=torch.float32))
                yield transport_pb2.DeliverRequest(
                    frame=transport_pb2.NoisyFrame(
                        index=noisy.index,
                        values=noisy.received.tolist(),
                        gain_real=noisy.gain.real,
                        gain_imag=noisy.gain.imag,
                        noise_variance=noisy.noise_variance,
                    )
                )
                expected += 1

        metadata = [(REQUEST_ID_METADATA_KEY, request_id_var.get())]
        # The sender's deadline bounds the receiver call too (None when the sender set none).
        timeout = context.time_remaining()
        try:
            result = self._receiver.Deliver(noisy_stream(), timeout=timeout, metadata=metadata)
        except grpc.RpcError as error:
            if problems:
                abort(context, problems[0].code, str(problems[0]))
            code = error.code()
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                logger.warning(
                    "job %s: receiver at %s failed: %s", header.job_id, self.receiver_address, error.details()
                )
                abort(context, code, f"receiver at {self.receiver_address} failed: {error.details()}")
            abort(context, code, error.details() or "receiver failed")
        if problems:
            abort(context, problems[0].code, str(problems[0]))

        stats = simulator.stats()
        logger.info(
            "job %s sent over %s at %.1f dB: %d values in %d frames, measured SNR %.2f dB",
            header.job_id,
            header.channel,
            header.snr_db,
            stats.symbols,
            simulator.frames,
            stats.measured_snr_db,
        )
        return transport_pb2.TransmitResponse(
            result=result,
            statistics=transport_pb2.ChannelStatistics(
                measured_snr_db=stats.measured_snr_db,
                symbols=stats.symbols,
                channel_uses=stats.channel_uses,
                frames=simulator.frames,
                signal_power=stats.signal_power,
                noise_power=stats.noise_power,
            ),
        )


def serve(settings: Settings, port: int | None = None, receiver_address: str | None = None):
    """Start the channel emulator; returns the started server and its service."""
    from deepsc.grpc_server import start_server

    service = ChannelEmulatorService(receiver_address or settings.receiver_address)
    server = start_server(
        lambda grpc_server: transport_pb2_grpc.add_ChannelEmulatorServicer_to_server(service, grpc_server),
        [SERVICE_NAME],
        settings.host,
        settings.channel_port if port is None else port,
    )
    return server, service
