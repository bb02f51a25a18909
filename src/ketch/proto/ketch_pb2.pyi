from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CallKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CALL_KIND_UNSPECIFIED: _ClassVar[CallKind]
    REMOTE: _ClassVar[CallKind]
    MAP: _ClassVar[CallKind]
    SPAWN: _ClassVar[CallKind]

class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATUS_UNSPECIFIED: _ClassVar[Status]
    SUCCESS: _ClassVar[Status]
    FAILURE: _ClassVar[Status]
    TIMEOUT: _ClassVar[Status]
    CRASHED: _ClassVar[Status]
    CANCELLED: _ClassVar[Status]
    INTERNAL_ERROR: _ClassVar[Status]
    GENERATOR_ITEM: _ClassVar[Status]
CALL_KIND_UNSPECIFIED: CallKind
REMOTE: CallKind
MAP: CallKind
SPAWN: CallKind
STATUS_UNSPECIFIED: Status
SUCCESS: Status
FAILURE: Status
TIMEOUT: Status
CRASHED: Status
CANCELLED: Status
INTERNAL_ERROR: Status
GENERATOR_ITEM: Status

class Frame(_message.Message):
    __slots__ = ("id", "hello", "hello_ok", "error", "ok", "app_create", "app_created", "app_stop", "app_list", "app_list_reply", "app_publish", "function_create", "function_created", "function_get", "function_bind", "call_create", "inputs", "outputs", "call_get", "call_cancel", "call_close", "call_info", "container_init", "container_spec", "cancel_inputs", "container_list", "container_list_reply", "container_stop", "container_ready", "blob_put", "blob_put_done", "blob_get", "blob_chunk", "log_subscribe", "log_batch", "server_status", "server_status_reply", "server_shutdown")
    ID_FIELD_NUMBER: _ClassVar[int]
    HELLO_FIELD_NUMBER: _ClassVar[int]
    HELLO_OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    APP_CREATE_FIELD_NUMBER: _ClassVar[int]
    APP_CREATED_FIELD_NUMBER: _ClassVar[int]
    APP_STOP_FIELD_NUMBER: _ClassVar[int]
    APP_LIST_FIELD_NUMBER: _ClassVar[int]
    APP_LIST_REPLY_FIELD_NUMBER: _ClassVar[int]
    APP_PUBLISH_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_CREATE_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_CREATED_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_GET_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_BIND_FIELD_NUMBER: _ClassVar[int]
    CALL_CREATE_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    CALL_GET_FIELD_NUMBER: _ClassVar[int]
    CALL_CANCEL_FIELD_NUMBER: _ClassVar[int]
    CALL_CLOSE_FIELD_NUMBER: _ClassVar[int]
    CALL_INFO_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_INIT_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_SPEC_FIELD_NUMBER: _ClassVar[int]
    CANCEL_INPUTS_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_LIST_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_LIST_REPLY_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_STOP_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_READY_FIELD_NUMBER: _ClassVar[int]
    BLOB_PUT_FIELD_NUMBER: _ClassVar[int]
    BLOB_PUT_DONE_FIELD_NUMBER: _ClassVar[int]
    BLOB_GET_FIELD_NUMBER: _ClassVar[int]
    BLOB_CHUNK_FIELD_NUMBER: _ClassVar[int]
    LOG_SUBSCRIBE_FIELD_NUMBER: _ClassVar[int]
    LOG_BATCH_FIELD_NUMBER: _ClassVar[int]
    SERVER_STATUS_FIELD_NUMBER: _ClassVar[int]
    SERVER_STATUS_REPLY_FIELD_NUMBER: _ClassVar[int]
    SERVER_SHUTDOWN_FIELD_NUMBER: _ClassVar[int]
    id: int
    hello: Hello
    hello_ok: HelloOk
    error: ErrorReply
    ok: Ok
    app_create: AppCreate
    app_created: AppCreated
    app_stop: AppStop
    app_list: AppList
    app_list_reply: AppListReply
    app_publish: AppPublish
    function_create: FunctionCreate
    function_created: FunctionCreated
    function_get: FunctionGet
    function_bind: FunctionBind
    call_create: CallCreate
    inputs: InputBatch
    outputs: OutputBatch
    call_get: CallGet
    call_cancel: CallCancel
    call_close: CallClose
    call_info: CallInfo
    container_init: ContainerInit
    container_spec: ContainerSpec
    cancel_inputs: CancelInputs
    container_list: ContainerList
    container_list_reply: ContainerListReply
    container_stop: ContainerStop
    container_ready: ContainerReady
    blob_put: BlobPut
    blob_put_done: BlobPutDone
    blob_get: BlobGet
    blob_chunk: BlobChunk
    log_subscribe: LogSubscribe
    log_batch: LogBatch
    server_status: ServerStatus
    server_status_reply: ServerStatusReply
    server_shutdown: ServerShutdown
    def __init__(self, id: _Optional[int] = ..., hello: _Optional[_Union[Hello, _Mapping]] = ..., hello_ok: _Optional[_Union[HelloOk, _Mapping]] = ..., error: _Optional[_Union[ErrorReply, _Mapping]] = ..., ok: _Optional[_Union[Ok, _Mapping]] = ..., app_create: _Optional[_Union[AppCreate, _Mapping]] = ..., app_created: _Optional[_Union[AppCreated, _Mapping]] = ..., app_stop: _Optional[_Union[AppStop, _Mapping]] = ..., app_list: _Optional[_Union[AppList, _Mapping]] = ..., app_list_reply: _Optional[_Union[AppListReply, _Mapping]] = ..., app_publish: _Optional[_Union[AppPublish, _Mapping]] = ..., function_create: _Optional[_Union[FunctionCreate, _Mapping]] = ..., function_created: _Optional[_Union[FunctionCreated, _Mapping]] = ..., function_get: _Optional[_Union[FunctionGet, _Mapping]] = ..., function_bind: _Optional[_Union[FunctionBind, _Mapping]] = ..., call_create: _Optional[_Union[CallCreate, _Mapping]] = ..., inputs: _Optional[_Union[InputBatch, _Mapping]] = ..., outputs: _Optional[_Union[OutputBatch, _Mapping]] = ..., call_get: _Optional[_Union[CallGet, _Mapping]] = ..., call_cancel: _Optional[_Union[CallCancel, _Mapping]] = ..., call_close: _Optional[_Union[CallClose, _Mapping]] = ..., call_info: _Optional[_Union[CallInfo, _Mapping]] = ..., container_init: _Optional[_Union[ContainerInit, _Mapping]] = ..., container_spec: _Optional[_Union[ContainerSpec, _Mapping]] = ..., cancel_inputs: _Optional[_Union[CancelInputs, _Mapping]] = ..., container_list: _Optional[_Union[ContainerList, _Mapping]] = ..., container_list_reply: _Optional[_Union[ContainerListReply, _Mapping]] = ..., container_stop: _Optional[_Union[ContainerStop, _Mapping]] = ..., container_ready: _Optional[_Union[ContainerReady, _Mapping]] = ..., blob_put: _Optional[_Union[BlobPut, _Mapping]] = ..., blob_put_done: _Optional[_Union[BlobPutDone, _Mapping]] = ..., blob_get: _Optional[_Union[BlobGet, _Mapping]] = ..., blob_chunk: _Optional[_Union[BlobChunk, _Mapping]] = ..., log_subscribe: _Optional[_Union[LogSubscribe, _Mapping]] = ..., log_batch: _Optional[_Union[LogBatch, _Mapping]] = ..., server_status: _Optional[_Union[ServerStatus, _Mapping]] = ..., server_status_reply: _Optional[_Union[ServerStatusReply, _Mapping]] = ..., server_shutdown: _Optional[_Union[ServerShutdown, _Mapping]] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("token", "role", "container_id", "python_version", "client_version")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    PYTHON_VERSION_FIELD_NUMBER: _ClassVar[int]
    CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    token: str
    role: str
    container_id: str
    python_version: str
    client_version: str
    def __init__(self, token: _Optional[str] = ..., role: _Optional[str] = ..., container_id: _Optional[str] = ..., python_version: _Optional[str] = ..., client_version: _Optional[str] = ...) -> None: ...

class HelloOk(_message.Message):
    __slots__ = ("server_version", "runtime_python_version", "server_id")
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_PYTHON_VERSION_FIELD_NUMBER: _ClassVar[int]
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    server_version: str
    runtime_python_version: str
    server_id: str
    def __init__(self, server_version: _Optional[str] = ..., runtime_python_version: _Optional[str] = ..., server_id: _Optional[str] = ...) -> None: ...

class ErrorReply(_message.Message):
    __slots__ = ("kind", "message")
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    message: str
    def __init__(self, kind: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class Ok(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AppCreate(_message.Message):
    __slots__ = ("name", "ephemeral", "detach")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_FIELD_NUMBER: _ClassVar[int]
    DETACH_FIELD_NUMBER: _ClassVar[int]
    name: str
    ephemeral: bool
    detach: bool
    def __init__(self, name: _Optional[str] = ..., ephemeral: _Optional[bool] = ..., detach: _Optional[bool] = ...) -> None: ...

class AppCreated(_message.Message):
    __slots__ = ("app_id", "logs_path")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    LOGS_PATH_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    logs_path: str
    def __init__(self, app_id: _Optional[str] = ..., logs_path: _Optional[str] = ...) -> None: ...

class AppPublish(_message.Message):
    __slots__ = ("app_id",)
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    def __init__(self, app_id: _Optional[str] = ...) -> None: ...

class AppStop(_message.Message):
    __slots__ = ("app_id", "name")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    name: str
    def __init__(self, app_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class AppList(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AppInfo(_message.Message):
    __slots__ = ("app_id", "name", "state", "created_at", "n_functions", "n_containers", "stopped_at")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    N_FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    N_CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    STOPPED_AT_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    name: str
    state: str
    created_at: float
    n_functions: int
    n_containers: int
    stopped_at: float
    def __init__(self, app_id: _Optional[str] = ..., name: _Optional[str] = ..., state: _Optional[str] = ..., created_at: _Optional[float] = ..., n_functions: _Optional[int] = ..., n_containers: _Optional[int] = ..., stopped_at: _Optional[float] = ...) -> None: ...

class AppListReply(_message.Message):
    __slots__ = ("apps",)
    APPS_FIELD_NUMBER: _ClassVar[int]
    apps: _containers.RepeatedCompositeFieldContainer[AppInfo]
    def __init__(self, apps: _Optional[_Iterable[_Union[AppInfo, _Mapping]]] = ...) -> None: ...

class Resources(_message.Message):
    __slots__ = ("cpu_request", "cpu_limit", "memory_request_mib", "memory_limit_mib", "gpu")
    CPU_REQUEST_FIELD_NUMBER: _ClassVar[int]
    CPU_LIMIT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_REQUEST_MIB_FIELD_NUMBER: _ClassVar[int]
    MEMORY_LIMIT_MIB_FIELD_NUMBER: _ClassVar[int]
    GPU_FIELD_NUMBER: _ClassVar[int]
    cpu_request: float
    cpu_limit: float
    memory_request_mib: int
    memory_limit_mib: int
    gpu: str
    def __init__(self, cpu_request: _Optional[float] = ..., cpu_limit: _Optional[float] = ..., memory_request_mib: _Optional[int] = ..., memory_limit_mib: _Optional[int] = ..., gpu: _Optional[str] = ...) -> None: ...

class RetryPolicy(_message.Message):
    __slots__ = ("max_retries", "backoff_coefficient", "initial_delay_s", "max_delay_s")
    MAX_RETRIES_FIELD_NUMBER: _ClassVar[int]
    BACKOFF_COEFFICIENT_FIELD_NUMBER: _ClassVar[int]
    INITIAL_DELAY_S_FIELD_NUMBER: _ClassVar[int]
    MAX_DELAY_S_FIELD_NUMBER: _ClassVar[int]
    max_retries: int
    backoff_coefficient: float
    initial_delay_s: float
    max_delay_s: float
    def __init__(self, max_retries: _Optional[int] = ..., backoff_coefficient: _Optional[float] = ..., initial_delay_s: _Optional[float] = ..., max_delay_s: _Optional[float] = ...) -> None: ...

class Scaling(_message.Message):
    __slots__ = ("min_containers", "max_containers", "buffer_containers", "scaledown_window_s")
    MIN_CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    BUFFER_CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    SCALEDOWN_WINDOW_S_FIELD_NUMBER: _ClassVar[int]
    min_containers: int
    max_containers: int
    buffer_containers: int
    scaledown_window_s: float
    def __init__(self, min_containers: _Optional[int] = ..., max_containers: _Optional[int] = ..., buffer_containers: _Optional[int] = ..., scaledown_window_s: _Optional[float] = ...) -> None: ...

class Method(_message.Message):
    __slots__ = ("name", "is_generator")
    NAME_FIELD_NUMBER: _ClassVar[int]
    IS_GENERATOR_FIELD_NUMBER: _ClassVar[int]
    name: str
    is_generator: bool
    def __init__(self, name: _Optional[str] = ..., is_generator: _Optional[bool] = ...) -> None: ...

class FunctionSpec(_message.Message):
    __slots__ = ("name", "module", "qualname", "pickled", "sys_path", "is_generator", "is_class", "methods", "resources", "timeout_s", "retries", "scaling", "env", "max_inputs", "target_inputs", "batch_max_size", "batch_wait_ms", "python_version", "startup_timeout_s", "is_async")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODULE_FIELD_NUMBER: _ClassVar[int]
    QUALNAME_FIELD_NUMBER: _ClassVar[int]
    PICKLED_FIELD_NUMBER: _ClassVar[int]
    SYS_PATH_FIELD_NUMBER: _ClassVar[int]
    IS_GENERATOR_FIELD_NUMBER: _ClassVar[int]
    IS_CLASS_FIELD_NUMBER: _ClassVar[int]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    RETRIES_FIELD_NUMBER: _ClassVar[int]
    SCALING_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    MAX_INPUTS_FIELD_NUMBER: _ClassVar[int]
    TARGET_INPUTS_FIELD_NUMBER: _ClassVar[int]
    BATCH_MAX_SIZE_FIELD_NUMBER: _ClassVar[int]
    BATCH_WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    PYTHON_VERSION_FIELD_NUMBER: _ClassVar[int]
    STARTUP_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    IS_ASYNC_FIELD_NUMBER: _ClassVar[int]
    name: str
    module: str
    qualname: str
    pickled: bytes
    sys_path: _containers.RepeatedScalarFieldContainer[str]
    is_generator: bool
    is_class: bool
    methods: _containers.RepeatedCompositeFieldContainer[Method]
    resources: Resources
    timeout_s: float
    retries: RetryPolicy
    scaling: Scaling
    env: _containers.ScalarMap[str, str]
    max_inputs: int
    target_inputs: int
    batch_max_size: int
    batch_wait_ms: int
    python_version: str
    startup_timeout_s: float
    is_async: bool
    def __init__(self, name: _Optional[str] = ..., module: _Optional[str] = ..., qualname: _Optional[str] = ..., pickled: _Optional[bytes] = ..., sys_path: _Optional[_Iterable[str]] = ..., is_generator: _Optional[bool] = ..., is_class: _Optional[bool] = ..., methods: _Optional[_Iterable[_Union[Method, _Mapping]]] = ..., resources: _Optional[_Union[Resources, _Mapping]] = ..., timeout_s: _Optional[float] = ..., retries: _Optional[_Union[RetryPolicy, _Mapping]] = ..., scaling: _Optional[_Union[Scaling, _Mapping]] = ..., env: _Optional[_Mapping[str, str]] = ..., max_inputs: _Optional[int] = ..., target_inputs: _Optional[int] = ..., batch_max_size: _Optional[int] = ..., batch_wait_ms: _Optional[int] = ..., python_version: _Optional[str] = ..., startup_timeout_s: _Optional[float] = ..., is_async: _Optional[bool] = ...) -> None: ...

class FunctionCreate(_message.Message):
    __slots__ = ("app_id", "spec")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    spec: FunctionSpec
    def __init__(self, app_id: _Optional[str] = ..., spec: _Optional[_Union[FunctionSpec, _Mapping]] = ...) -> None: ...

class FunctionCreated(_message.Message):
    __slots__ = ("function_id",)
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    function_id: str
    def __init__(self, function_id: _Optional[str] = ...) -> None: ...

class FunctionGet(_message.Message):
    __slots__ = ("app_name", "name", "app_id")
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    app_name: str
    name: str
    app_id: str
    def __init__(self, app_name: _Optional[str] = ..., name: _Optional[str] = ..., app_id: _Optional[str] = ...) -> None: ...

class FunctionBind(_message.Message):
    __slots__ = ("function_id", "params")
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    function_id: str
    params: bytes
    def __init__(self, function_id: _Optional[str] = ..., params: _Optional[bytes] = ...) -> None: ...

class CallCreate(_message.Message):
    __slots__ = ("call_id", "function_id", "kind", "inputs", "is_generator")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    IS_GENERATOR_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    function_id: str
    kind: CallKind
    inputs: _containers.RepeatedCompositeFieldContainer[Input]
    is_generator: bool
    def __init__(self, call_id: _Optional[str] = ..., function_id: _Optional[str] = ..., kind: _Optional[_Union[CallKind, str]] = ..., inputs: _Optional[_Iterable[_Union[Input, _Mapping]]] = ..., is_generator: _Optional[bool] = ...) -> None: ...

class Input(_message.Message):
    __slots__ = ("input_id", "idx", "call_id", "args", "args_blob", "method", "attempt", "is_generator")
    INPUT_ID_FIELD_NUMBER: _ClassVar[int]
    IDX_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    ARGS_BLOB_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    IS_GENERATOR_FIELD_NUMBER: _ClassVar[int]
    input_id: str
    idx: int
    call_id: str
    args: bytes
    args_blob: str
    method: str
    attempt: int
    is_generator: bool
    def __init__(self, input_id: _Optional[str] = ..., idx: _Optional[int] = ..., call_id: _Optional[str] = ..., args: _Optional[bytes] = ..., args_blob: _Optional[str] = ..., method: _Optional[str] = ..., attempt: _Optional[int] = ..., is_generator: _Optional[bool] = ...) -> None: ...

class InputBatch(_message.Message):
    __slots__ = ("call_id", "inputs", "last")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    inputs: _containers.RepeatedCompositeFieldContainer[Input]
    last: bool
    def __init__(self, call_id: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[Input, _Mapping]]] = ..., last: _Optional[bool] = ...) -> None: ...

class Output(_message.Message):
    __slots__ = ("input_id", "idx", "call_id", "status", "data", "data_blob", "message", "traceback", "gen_index", "duration_s")
    INPUT_ID_FIELD_NUMBER: _ClassVar[int]
    IDX_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    DATA_BLOB_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRACEBACK_FIELD_NUMBER: _ClassVar[int]
    GEN_INDEX_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    input_id: str
    idx: int
    call_id: str
    status: Status
    data: bytes
    data_blob: str
    message: str
    traceback: str
    gen_index: int
    duration_s: float
    def __init__(self, input_id: _Optional[str] = ..., idx: _Optional[int] = ..., call_id: _Optional[str] = ..., status: _Optional[_Union[Status, str]] = ..., data: _Optional[bytes] = ..., data_blob: _Optional[str] = ..., message: _Optional[str] = ..., traceback: _Optional[str] = ..., gen_index: _Optional[int] = ..., duration_s: _Optional[float] = ...) -> None: ...

class OutputBatch(_message.Message):
    __slots__ = ("outputs",)
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    outputs: _containers.RepeatedCompositeFieldContainer[Output]
    def __init__(self, outputs: _Optional[_Iterable[_Union[Output, _Mapping]]] = ...) -> None: ...

class CallGet(_message.Message):
    __slots__ = ("call_id", "timeout_s")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    timeout_s: float
    def __init__(self, call_id: _Optional[str] = ..., timeout_s: _Optional[float] = ...) -> None: ...

class CallCancel(_message.Message):
    __slots__ = ("call_id", "terminate_containers")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TERMINATE_CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    terminate_containers: bool
    def __init__(self, call_id: _Optional[str] = ..., terminate_containers: _Optional[bool] = ...) -> None: ...

class CallClose(_message.Message):
    __slots__ = ("call_id",)
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    def __init__(self, call_id: _Optional[str] = ...) -> None: ...

class CallInfo(_message.Message):
    __slots__ = ("call_id", "function_id", "status")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    function_id: str
    status: str
    def __init__(self, call_id: _Optional[str] = ..., function_id: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class ContainerInit(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ContainerSpec(_message.Message):
    __slots__ = ("container_id", "function_id", "app_id", "spec", "class_params")
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    CLASS_PARAMS_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    function_id: str
    app_id: str
    spec: FunctionSpec
    class_params: bytes
    def __init__(self, container_id: _Optional[str] = ..., function_id: _Optional[str] = ..., app_id: _Optional[str] = ..., spec: _Optional[_Union[FunctionSpec, _Mapping]] = ..., class_params: _Optional[bytes] = ...) -> None: ...

class ContainerReady(_message.Message):
    __slots__ = ("ok", "data", "message", "traceback")
    OK_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRACEBACK_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    data: bytes
    message: str
    traceback: str
    def __init__(self, ok: _Optional[bool] = ..., data: _Optional[bytes] = ..., message: _Optional[str] = ..., traceback: _Optional[str] = ...) -> None: ...

class CancelInputs(_message.Message):
    __slots__ = ("input_ids",)
    INPUT_IDS_FIELD_NUMBER: _ClassVar[int]
    input_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, input_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ContainerList(_message.Message):
    __slots__ = ("app_id",)
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    def __init__(self, app_id: _Optional[str] = ...) -> None: ...

class ContainerInfo(_message.Message):
    __slots__ = ("container_id", "app_id", "app_name", "function_name", "state", "started_at", "inputs_in_flight", "pid")
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    INPUTS_IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    app_id: str
    app_name: str
    function_name: str
    state: str
    started_at: float
    inputs_in_flight: int
    pid: int
    def __init__(self, container_id: _Optional[str] = ..., app_id: _Optional[str] = ..., app_name: _Optional[str] = ..., function_name: _Optional[str] = ..., state: _Optional[str] = ..., started_at: _Optional[float] = ..., inputs_in_flight: _Optional[int] = ..., pid: _Optional[int] = ...) -> None: ...

class ContainerListReply(_message.Message):
    __slots__ = ("containers",)
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    containers: _containers.RepeatedCompositeFieldContainer[ContainerInfo]
    def __init__(self, containers: _Optional[_Iterable[_Union[ContainerInfo, _Mapping]]] = ...) -> None: ...

class ContainerStop(_message.Message):
    __slots__ = ("container_id",)
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    def __init__(self, container_id: _Optional[str] = ...) -> None: ...

class BlobPut(_message.Message):
    __slots__ = ("upload_id", "data", "last")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    data: bytes
    last: bool
    def __init__(self, upload_id: _Optional[str] = ..., data: _Optional[bytes] = ..., last: _Optional[bool] = ...) -> None: ...

class BlobPutDone(_message.Message):
    __slots__ = ("blob_id",)
    BLOB_ID_FIELD_NUMBER: _ClassVar[int]
    blob_id: str
    def __init__(self, blob_id: _Optional[str] = ...) -> None: ...

class BlobGet(_message.Message):
    __slots__ = ("blob_id", "offset")
    BLOB_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    blob_id: str
    offset: int
    def __init__(self, blob_id: _Optional[str] = ..., offset: _Optional[int] = ...) -> None: ...

class BlobChunk(_message.Message):
    __slots__ = ("data", "last")
    DATA_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    last: bool
    def __init__(self, data: _Optional[bytes] = ..., last: _Optional[bool] = ...) -> None: ...

class LogSubscribe(_message.Message):
    __slots__ = ("app_id", "app_name", "follow", "history")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    app_name: str
    follow: bool
    history: bool
    def __init__(self, app_id: _Optional[str] = ..., app_name: _Optional[str] = ..., follow: _Optional[bool] = ..., history: _Optional[bool] = ...) -> None: ...

class LogLine(_message.Message):
    __slots__ = ("ts", "source", "function_name", "container_id", "text")
    TS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ts: float
    source: str
    function_name: str
    container_id: str
    text: str
    def __init__(self, ts: _Optional[float] = ..., source: _Optional[str] = ..., function_name: _Optional[str] = ..., container_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class LogBatch(_message.Message):
    __slots__ = ("app_id", "lines", "end")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    lines: _containers.RepeatedCompositeFieldContainer[LogLine]
    end: bool
    def __init__(self, app_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[LogLine, _Mapping]]] = ..., end: _Optional[bool] = ...) -> None: ...

class ServerStatus(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ServerStatusReply(_message.Message):
    __slots__ = ("version", "pid", "started_at", "data_dir", "address", "n_apps", "n_containers", "cpu_capacity", "memory_capacity_mib", "cpu_reserved", "memory_reserved_mib", "runtime")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    DATA_DIR_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    N_APPS_FIELD_NUMBER: _ClassVar[int]
    N_CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    CPU_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    MEMORY_CAPACITY_MIB_FIELD_NUMBER: _ClassVar[int]
    CPU_RESERVED_FIELD_NUMBER: _ClassVar[int]
    MEMORY_RESERVED_MIB_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    version: str
    pid: int
    started_at: float
    data_dir: str
    address: str
    n_apps: int
    n_containers: int
    cpu_capacity: float
    memory_capacity_mib: int
    cpu_reserved: float
    memory_reserved_mib: int
    runtime: str
    def __init__(self, version: _Optional[str] = ..., pid: _Optional[int] = ..., started_at: _Optional[float] = ..., data_dir: _Optional[str] = ..., address: _Optional[str] = ..., n_apps: _Optional[int] = ..., n_containers: _Optional[int] = ..., cpu_capacity: _Optional[float] = ..., memory_capacity_mib: _Optional[int] = ..., cpu_reserved: _Optional[float] = ..., memory_reserved_mib: _Optional[int] = ..., runtime: _Optional[str] = ...) -> None: ...

class ServerShutdown(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
