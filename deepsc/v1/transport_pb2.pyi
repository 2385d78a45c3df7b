from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StreamHeader(_message.Message):
    __slots__ = ("job_id", "latent_space", "latent_size", "channel", "snr_db", "seed", "frame_symbols", "power", "equaliser", "bundle")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    LATENT_SPACE_FIELD_NUMBER: _ClassVar[int]
    LATENT_SIZE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SNR_DB_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    FRAME_SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    POWER_FIELD_NUMBER: _ClassVar[int]
    EQUALISER_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    latent_space: str
    latent_size: int
    channel: str
    snr_db: float
    seed: int
    frame_symbols: int
    power: float
    equaliser: str
    bundle: str
    def __init__(self, job_id: _Optional[str] = ..., latent_space: _Optional[str] = ..., latent_size: _Optional[int] = ..., channel: _Optional[str] = ..., snr_db: _Optional[float] = ..., seed: _Optional[int] = ..., frame_symbols: _Optional[int] = ..., power: _Optional[float] = ..., equaliser: _Optional[str] = ..., bundle: _Optional[str] = ...) -> None: ...

class SymbolFrame(_message.Message):
    __slots__ = ("index", "values")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    index: int
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, index: _Optional[int] = ..., values: _Optional[_Iterable[float]] = ...) -> None: ...

class TransmitRequest(_message.Message):
    __slots__ = ("header", "frame")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    header: StreamHeader
    frame: SymbolFrame
    def __init__(self, header: _Optional[_Union[StreamHeader, _Mapping]] = ..., frame: _Optional[_Union[SymbolFrame, _Mapping]] = ...) -> None: ...

class NoisyFrame(_message.Message):
    __slots__ = ("index", "values", "gain_real", "gain_imag", "noise_variance")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    GAIN_REAL_FIELD_NUMBER: _ClassVar[int]
    GAIN_IMAG_FIELD_NUMBER: _ClassVar[int]
    NOISE_VARIANCE_FIELD_NUMBER: _ClassVar[int]
    index: int
    values: _containers.RepeatedScalarFieldContainer[float]
    gain_real: float
    gain_imag: float
    noise_variance: float
    def __init__(self, index: _Optional[int] = ..., values: _Optional[_Iterable[float]] = ..., gain_real: _Optional[float] = ..., gain_imag: _Optional[float] = ..., noise_variance: _Optional[float] = ...) -> None: ...

class DeliverRequest(_message.Message):
    __slots__ = ("header", "frame")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    header: StreamHeader
    frame: NoisyFrame
    def __init__(self, header: _Optional[_Union[StreamHeader, _Mapping]] = ..., frame: _Optional[_Union[NoisyFrame, _Mapping]] = ...) -> None: ...

class DecodeResult(_message.Message):
    __slots__ = ("job_id", "edited_png", "width", "height", "latent_space", "symbols", "decode_seconds", "bundle")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    EDITED_PNG_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    LATENT_SPACE_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    DECODE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    edited_png: bytes
    width: int
    height: int
    latent_space: str
    symbols: int
    decode_seconds: float
    bundle: str
    def __init__(self, job_id: _Optional[str] = ..., edited_png: _Optional[bytes] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., latent_space: _Optional[str] = ..., symbols: _Optional[int] = ..., decode_seconds: _Optional[float] = ..., bundle: _Optional[str] = ...) -> None: ...

class ChannelStatistics(_message.Message):
    __slots__ = ("measured_snr_db", "symbols", "channel_uses", "frames", "signal_power", "noise_power")
    MEASURED_SNR_DB_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_USES_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_POWER_FIELD_NUMBER: _ClassVar[int]
    NOISE_POWER_FIELD_NUMBER: _ClassVar[int]
    measured_snr_db: float
    symbols: int
    channel_uses: int
    frames: int
    signal_power: float
    noise_power: float
    def __init__(self, measured_snr_db: _Optional[float] = ..., symbols: _Optional[int] = ..., channel_uses: _Optional[int] = ..., frames: _Optional[int] = ..., signal_power: _Optional[float] = ..., noise_power: _Optional[float] = ...) -> None: ...

class TransmitResponse(_message.Message):
    __slots__ = ("result", "statistics")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    STATISTICS_FIELD_NUMBER: _ClassVar[int]
    result: DecodeResult
    statistics: ChannelStatistics
    def __init__(self, result: _Optional[_Union[DecodeResult, _Mapping]] = ..., statistics: _Optional[_Union[ChannelStatistics, _Mapping]] = ...) -> None: ...

class GetResultRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...
