"""Service settings, read from ``DEEPSC_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings shared by the sender, the channel emulator and the receiver.

    Every field is read from the environment variable ``DEEPSC_<FIELD NAME IN CAPITALS>``, for
    example ``DEEPSC_SENDER_HTTP_PORT=9000``.
    """

    model_config = SettingsConfigDict(env_prefix="DEEPSC_", extra="ignore")

    host: str = Field("127.0.0.1", description="interface every service listens on")
    sender_http_port: int = Field(8000, ge=0, le=65535, description="sender REST port")
    sender_grpc_port: int = Field(50051, ge=0, le=65535, description="sender gRPC port")
    channel_port: int = Field(50052, ge=0, le=65535, description="channel emulator gRPC port")
    receiver_port: int = Field(50053, ge=0, le=65535, description="receiver gRPC port")
    channel_address: str = Field("127.0.0.1:50052", description="where the sender reaches the channel emulator")
    receiver_address: str = Field("127.0.0.1:50053", description="where the channel emulator reaches the receiver")

    bundle: str = Field("synthetic-64", description="bundle name or folder every service loads")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="torch device")
    torch_threads: int = Field(0, ge=0, description="torch intra-op threads; 0 keeps torch's default")

    max_queued_jobs: int = Field(32, ge=1, description="jobs waiting beyond this are rejected with 429")
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1024, description="largest accepted image upload")
    max_stored_results: int = Field(256, ge=1, description="results the receiver keeps for GetResult")
    inversion_steps: int = Field(150, ge=1, description="Adam steps of the GAN inversion")
    frame_symbols: int = Field(16, ge=1, le=4096, description="complex symbols per frame (fading block)")
    power: float = Field(1.0, gt=0, description="average power P per real value")
    equaliser: Literal["mmse", "zf"] = Field("mmse", description="receiver equaliser")
    transmit_timeout_s: float = Field(120.0, gt=0, description="deadline of one Transmit call")
    log_level: str = Field("INFO", description="logging level of the services")


def resolve_device(name: str) -> str:
    """Map ``auto`` to ``cuda`` when a GPU is visible, else ``cpu``."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("DEEPSC_DEVICE=cuda but no CUDA device is visible")
    return name
