from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubmitEditRequest(_message.Message):
    __slots__ = ("image", "instruction", "snr_db", "channel", "seed", "latent_space")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    SNR_DB_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    LATENT_SPACE_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    instruction: str
    snr_db: float
    channel: str
    seed: int
    latent_space: str
    def __init__(self, image: _Optional[bytes] = ..., instruction: _Optional[str] = ..., snr_db: _Optional[float] = ..., channel: _Optional[str] = ..., seed: _Optional[int] = ..., latent_space: _Optional[str] = ...) -> None: ...

class EditJob(_message.Message):
    __slots__ = ("id", "status", "stage", "step", "total", "error", "summary_json")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_JSON_FIELD_NUMBER: _ClassVar[int]
    id: str
    status: str
    stage: str
    step: int
    total: int
    error: str
    summary_json: str
    def __init__(self, id: _Optional[str] = ..., status: _Optional[str] = ..., stage: _Optional[str] = ..., step: _Optional[int] = ..., total: _Optional[int] = ..., error: _Optional[str] = ..., summary_json: _Optional[str] = ...) -> None: ...

class EditImages(_message.Message):
    __slots__ = ("original", "reconstruction", "edited")
    ORIGINAL_FIELD_NUMBER: _ClassVar[int]
    RECONSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    EDITED_FIELD_NUMBER: _ClassVar[int]
    original: bytes
    reconstruction: bytes
    edited: bytes
    def __init__(self, original: _Optional[bytes] = ..., reconstruction: _Optional[bytes] = ..., edited: _Optional[bytes] = ...) -> None: ...

class EditEvent(_message.Message):
    __slots__ = ("event", "job", "images")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    event: str
    job: EditJob
    images: EditImages
    def __init__(self, event: _Optional[str] = ..., job: _Optional[_Union[EditJob, _Mapping]] = ..., images: _Optional[_Union[EditImages, _Mapping]] = ...) -> None: ...

class GetEditRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class CancelEditRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class CreateSessionRequest(_message.Message):
    __slots__ = ("image", "snr_db", "channel", "seed", "latent_space")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    SNR_DB_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    LATENT_SPACE_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    snr_db: float
    channel: str
    seed: int
    latent_space: str
    def __init__(self, image: _Optional[bytes] = ..., snr_db: _Optional[float] = ..., channel: _Optional[str] = ..., seed: _Optional[int] = ..., latent_space: _Optional[str] = ...) -> None: ...

class EditSession(_message.Message):
    __slots__ = ("id", "inverted", "closed", "turn_job_ids", "session_json")
    ID_FIELD_NUMBER: _ClassVar[int]
    INVERTED_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    TURN_JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    SESSION_JSON_FIELD_NUMBER: _ClassVar[int]
    id: str
    inverted: bool
    closed: bool
    turn_job_ids: _containers.RepeatedScalarFieldContainer[str]
    session_json: str
    def __init__(self, id: _Optional[str] = ..., inverted: _Optional[bool] = ..., closed: _Optional[bool] = ..., turn_job_ids: _Optional[_Iterable[str]] = ..., session_json: _Optional[str] = ...) -> None: ...

class SessionTurnRequest(_message.Message):
    __slots__ = ("session_id", "instruction", "seed")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    instruction: str
    seed: int
    def __init__(self, session_id: _Optional[str] = ..., instruction: _Optional[str] = ..., seed: _Optional[int] = ...) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class CloseSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...
