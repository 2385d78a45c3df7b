"""Client side of the Transmit stream: sends the edited latent's symbols to the channel emulator."""

from __future__ import annotations

import grpc
import torch

from deepsc.channel import split_frames
from deepsc.grpc_server import GRPC_OPTIONS
from deepsc.request_context import REQUEST_ID_METADATA_KEY
from deepsc.v1 import transport_pb2, transport_pb2_grpc


class ChannelClient:
    """A connection to the channel emulator.

    Args:
        address: host:port of the channel emulator.
    """

    def __init__(self, address: str) -> None:
        self.address = address
        self._channel = grpc.insecure_channel(address, options=GRPC_OPTIONS)
        self._stub = transport_pb2_grpc.ChannelEmulatorStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def transmit(
        self,
        job_id: str,
        symbols: torch.Tensor,
        latent_space: str,
        channel: str,
        snr_db: float,
        seed: int,
        bundle: str,
        frame_symbols: int = 16,
        power: float = 1.0,
        equaliser: str = "mmse",
        timeout: float | None = None,
        request_id: str = "",
    ) -> transport_pb2.TransmitResponse:
        """Stream the symbols frame by frame and wait for the receiver's result.

        Raises:
            grpc.RpcError: the channel emulator or the receiver failed.
        """
        header = transport_pb2.StreamHeader(
            job_id=job_id,
            latent_space=latent_space,
            latent_size=symbols.numel(),
            channel=channel,
            snr_db=snr_db,
            seed=seed,
            frame_symbols=frame_symbols,
            power=power,
            equaliser=equaliser,
            bundle=bundle,
        )

        def stream():
            yield transport_pb2.TransmitRequest(header=header)
            for index, values in enumerate(split_frames(symbols.to(torch.float32), frame_symbols)):
                yield transport_pb2.TransmitRequest(
                    frame=transport_pb2.SymbolFrame(index=index, values=values.tolist())
                )

        metadata = [(REQUEST_ID_METADATA_KEY, request_id)] if request_id else None
        return self._stub.Transmit(stream(), timeout=timeout, metadata=metadata)
