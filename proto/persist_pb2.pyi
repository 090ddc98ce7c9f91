from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MessageType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MESSAGE_TYPE_UNSPECIFIED: _ClassVar[MessageType]
    LOG: _ClassVar[MessageType]
    METRIC: _ClassVar[MessageType]
    END_OF_JOB: _ClassVar[MessageType]
    LOG_BATCH: _ClassVar[MessageType]
    METRIC_BATCH: _ClassVar[MessageType]
    ACK: _ClassVar[MessageType]

class StreamType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STREAM_TYPE_UNSPECIFIED: _ClassVar[StreamType]
    STDOUT: _ClassVar[StreamType]
    STDERR: _ClassVar[StreamType]
    METRICS: _ClassVar[StreamType]
MESSAGE_TYPE_UNSPECIFIED: MessageType
LOG: MessageType
METRIC: MessageType
END_OF_JOB: MessageType
LOG_BATCH: MessageType
METRIC_BATCH: MessageType
ACK: MessageType
STREAM_TYPE_UNSPECIFIED: StreamType
STDOUT: StreamType
STDERR: StreamType
METRICS: StreamType

class IPCMessage(_message.Message):
    __slots__ = ("version", "type", "job_id", "timestamp", "sequence", "data")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    version: int
    type: MessageType
    job_id: str
    timestamp: int
    sequence: int
    data: bytes
    def __init__(self, version: _Optional[int] = ..., type: _Optional[_Union[MessageType, str]] = ..., job_id: _Optional[str] = ..., timestamp: _Optional[int] = ..., sequence: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class LogLine(_message.Message):
    __slots__ = ("job_id", "stream", "content", "timestamp", "sequence")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    stream: StreamType
    content: bytes
    timestamp: int
    sequence: int
    def __init__(self, job_id: _Optional[str] = ..., stream: _Optional[_Union[StreamType, str]] = ..., content: _Optional[bytes] = ..., timestamp: _Optional[int] = ..., sequence: _Optional[int] = ...) -> None: ...

class Metric(_message.Message):
    __slots__ = ("job_id", "timestamp", "cpu_percent", "memory_bytes", "io_read_bytes", "io_write_bytes", "sequence", "memory_limit", "io_read_ops", "io_write_ops", "net_rx_bytes", "net_tx_bytes", "gpu_percent", "gpu_memory_bytes")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    CPU_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    IO_READ_BYTES_FIELD_NUMBER: _ClassVar[int]
    IO_WRITE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    MEMORY_LIMIT_FIELD_NUMBER: _ClassVar[int]
    IO_READ_OPS_FIELD_NUMBER: _ClassVar[int]
    IO_WRITE_OPS_FIELD_NUMBER: _ClassVar[int]
    NET_RX_BYTES_FIELD_NUMBER: _ClassVar[int]
    NET_TX_BYTES_FIELD_NUMBER: _ClassVar[int]
    GPU_PERCENT_FIELD_NUMBER: _ClassVar[int]
    GPU_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    timestamp: int
    cpu_percent: float
    memory_bytes: int
    io_read_bytes: int
    io_write_bytes: int
    sequence: int
    memory_limit: int
    io_read_ops: int
    io_write_ops: int
    net_rx_bytes: int
    net_tx_bytes: int
    gpu_percent: float
    gpu_memory_bytes: int
    def __init__(self, job_id: _Optional[str] = ..., timestamp: _Optional[int] = ..., cpu_percent: _Optional[float] = ..., memory_bytes: _Optional[int] = ..., io_read_bytes: _Optional[int] = ..., io_write_bytes: _Optional[int] = ..., sequence: _Optional[int] = ..., memory_limit: _Optional[int] = ..., io_read_ops: _Optional[int] = ..., io_write_ops: _Optional[int] = ..., net_rx_bytes: _Optional[int] = ..., net_tx_bytes: _Optional[int] = ..., gpu_percent: _Optional[float] = ..., gpu_memory_bytes: _Optional[int] = ...) -> None: ...

class MetricBatch(_message.Message):
    __slots__ = ("metrics",)
    METRICS_FIELD_NUMBER: _ClassVar[int]
    metrics: _containers.RepeatedCompositeFieldContainer[Metric]
    def __init__(self, metrics: _Optional[_Iterable[_Union[Metric, _Mapping]]] = ...) -> None: ...

class StreamAck(_message.Message):
    __slots__ = ("job_id", "stream", "sequence")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    stream: StreamType
    sequence: int
    def __init__(self, job_id: _Optional[str] = ..., stream: _Optional[_Union[StreamType, str]] = ..., sequence: _Optional[int] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("streams",)
    STREAMS_FIELD_NUMBER: _ClassVar[int]
    streams: _containers.RepeatedCompositeFieldContainer[StreamAck]
    def __init__(self, streams: _Optional[_Iterable[_Union[StreamAck, _Mapping]]] = ...) -> None: ...

class PingRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PingResponse(_message.Message):
    __slots__ = ("node_id", "backend", "version")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    backend: str
    version: str
    def __init__(self, node_id: _Optional[str] = ..., backend: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class LogQuery(_message.Message):
    __slots__ = ("job_id", "stream", "start_time", "end_time", "limit", "offset", "filter", "regex", "follow")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    REGEX_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    stream: StreamType
    start_time: int
    end_time: int
    limit: int
    offset: int
    filter: str
    regex: bool
    follow: bool
    def __init__(self, job_id: _Optional[str] = ..., stream: _Optional[_Union[StreamType, str]] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ..., filter: _Optional[str] = ..., regex: _Optional[bool] = ..., follow: _Optional[bool] = ...) -> None: ...

class LogChunk(_message.Message):
    __slots__ = ("job_id", "streams", "timestamps", "sequences", "sizes", "contents")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STREAMS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMPS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    SIZES_FIELD_NUMBER: _ClassVar[int]
    CONTENTS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    streams: bytes
    timestamps: _containers.RepeatedScalarFieldContainer[int]
    sequences: _containers.RepeatedScalarFieldContainer[int]
    sizes: _containers.RepeatedScalarFieldContainer[int]
    contents: bytes
    def __init__(self, job_id: _Optional[str] = ..., streams: _Optional[bytes] = ..., timestamps: _Optional[_Iterable[int]] = ..., sequences: _Optional[_Iterable[int]] = ..., sizes: _Optional[_Iterable[int]] = ..., contents: _Optional[bytes] = ...) -> None: ...

class MetricQuery(_message.Message):
    __slots__ = ("job_id", "start_time", "end_time", "aggregation", "step", "limit", "offset")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    start_time: int
    end_time: int
    aggregation: str
    step: int
    limit: int
    offset: int
    def __init__(self, job_id: _Optional[str] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ..., aggregation: _Optional[str] = ..., step: _Optional[int] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class MetricChunk(_message.Message):
    __slots__ = ("metrics",)
    METRICS_FIELD_NUMBER: _ClassVar[int]
    metrics: _containers.RepeatedCompositeFieldContainer[Metric]
    def __init__(self, metrics: _Optional[_Iterable[_Union[Metric, _Mapping]]] = ...) -> None: ...

class JobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class JobInfo(_message.Message):
    __slots__ = ("job_id", "first_time", "last_time", "stdout_lines", "stderr_lines", "stdout_bytes", "stderr_bytes", "metric_samples")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_TIME_FIELD_NUMBER: _ClassVar[int]
    STDOUT_LINES_FIELD_NUMBER: _ClassVar[int]
    STDERR_LINES_FIELD_NUMBER: _ClassVar[int]
    STDOUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    STDERR_BYTES_FIELD_NUMBER: _ClassVar[int]
    METRIC_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    first_time: int
    last_time: int
    stdout_lines: int
    stderr_lines: int
    stdout_bytes: int
    stderr_bytes: int
    metric_samples: int
    def __init__(self, job_id: _Optional[str] = ..., first_time: _Optional[int] = ..., last_time: _Optional[int] = ..., stdout_lines: _Optional[int] = ..., stderr_lines: _Optional[int] = ..., stdout_bytes: _Optional[int] = ..., stderr_bytes: _Optional[int] = ..., metric_samples: _Optional[int] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("limit", "offset")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    limit: int
    offset: int
    def __init__(self, limit: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[JobInfo]
    def __init__(self, jobs: _Optional[_Iterable[_Union[JobInfo, _Mapping]]] = ...) -> None: ...

class DeleteJobResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    def __init__(self, deleted: _Optional[bool] = ...) -> None: ...

class StatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatsResponse(_message.Message):
    __slots__ = ("jobs", "log_lines", "metric_samples", "stored_bytes", "messages_received", "duplicates_dropped", "frames_rejected")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    LOG_LINES_FIELD_NUMBER: _ClassVar[int]
    METRIC_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    STORED_BYTES_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_DROPPED_FIELD_NUMBER: _ClassVar[int]
    FRAMES_REJECTED_FIELD_NUMBER: _ClassVar[int]
    jobs: int
    log_lines: int
    metric_samples: int
    stored_bytes: int
    messages_received: int
    duplicates_dropped: int
    frames_rejected: int
    def __init__(self, jobs: _Optional[int] = ..., log_lines: _Optional[int] = ..., metric_samples: _Optional[int] = ..., stored_bytes: _Optional[int] = ..., messages_received: _Optional[int] = ..., duplicates_dropped: _Optional[int] = ..., frames_rejected: _Optional[int] = ...) -> None: ...

class CleanupRequest(_message.Message):
    __slots__ = ("now",)
    NOW_FIELD_NUMBER: _ClassVar[int]
    now: int
    def __init__(self, now: _Optional[int] = ...) -> None: ...

class CleanupResponse(_message.Message):
    __slots__ = ("jobs_removed", "bytes_freed")
    JOBS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    BYTES_FREED_FIELD_NUMBER: _ClassVar[int]
    jobs_removed: int
    bytes_freed: int
    def __init__(self, jobs_removed: _Optional[int] = ..., bytes_freed: _Optional[int] = ...) -> None: ...
