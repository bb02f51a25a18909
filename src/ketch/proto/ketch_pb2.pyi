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

class DictOp(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DICT_OP_UNSPECIFIED: _ClassVar[DictOp]
    DICT_GET: _ClassVar[DictOp]
    DICT_PUT: _ClassVar[DictOp]
    DICT_POP: _ClassVar[DictOp]
    DICT_CONTAINS: _ClassVar[DictOp]
    DICT_LEN: _ClassVar[DictOp]
    DICT_CLEAR: _ClassVar[DictOp]
    DICT_SCAN: _ClassVar[DictOp]
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
DICT_OP_UNSPECIFIED: DictOp
DICT_GET: DictOp
DICT_PUT: DictOp
DICT_POP: DictOp
DICT_CONTAINS: DictOp
DICT_LEN: DictOp
DICT_CLEAR: DictOp
DICT_SCAN: DictOp

class Frame(_message.Message):
    __slots__ = ("id", "raw_size", "hello", "hello_ok", "error", "ok", "app_create", "app_created", "app_stop", "app_list", "app_list_reply", "app_publish", "function_create", "function_created", "function_get", "function_bind", "call_create", "inputs", "outputs", "call_get", "call_cancel", "call_close", "call_info", "container_init", "container_spec", "cancel_inputs", "container_list", "container_list_reply", "container_stop", "container_ready", "blob_put", "blob_put_done", "blob_get", "blob_chunk", "log_subscribe", "log_batch", "server_status", "server_status_reply", "server_shutdown", "object_lookup", "object_info", "object_list", "object_list_reply", "object_delete", "count", "dict_request", "dict_reply", "queue_put", "queue_get", "queue_items", "queue_peek", "queue_len", "queue_clear", "queue_cancel_wait", "secret_create", "volume_list_dir", "volume_entries", "volume_read", "volume_data", "volume_write", "volume_remove", "volume_copy", "volume_commit", "web_ready", "web_url_get", "web_url", "proxy_token_create", "proxy_token_created", "proxy_token_list", "proxy_token_list_reply", "proxy_token_revoke", "image_build", "image_built", "image_build_log", "image_list", "image_list_reply", "image_remove", "token_create", "token_created", "token_list", "token_list_reply", "token_revoke", "function_update_autoscaler", "function_autoscaler", "function_stats_get", "function_stats", "function_variant", "call_graph_get", "call_graph", "call_history_list", "call_history_get", "call_history_reply", "dashboard_login_create", "dashboard_login", "app_published", "app_history", "app_history_reply", "app_rollback", "app_lookup", "sandbox_create", "sandbox_info", "sandbox_get", "sandbox_list", "sandbox_list_reply", "sandbox_set_tags", "sandbox_wait", "sandbox_terminate", "sandbox_exec", "sandbox_exec_started", "sandbox_read", "sandbox_data", "sandbox_stdin", "sandbox_stdin_ack", "sandbox_credit", "sandbox_exec_wait", "sandbox_exec_exit", "sandbox_file_op", "sandbox_file_result", "sandbox_hello", "sandbox_snapshot_fs", "tunnel_open", "tunnel_close", "sandbox_tunnel", "node_list", "node_list_reply", "sandbox_probe", "sandbox_ready", "sandbox_wait_ready", "sandbox_snapshot_dir", "sandbox_mount_image", "terminal_input", "terminal_read", "terminal_data", "node_fetch", "node_data", "sandbox_connect_token", "sandbox_connect_credentials", "sandbox_serve_port", "cluster_get", "cluster_members", "image_publish", "image_from_name", "image_named")
    ID_FIELD_NUMBER: _ClassVar[int]
    RAW_SIZE_FIELD_NUMBER: _ClassVar[int]
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
    OBJECT_LOOKUP_FIELD_NUMBER: _ClassVar[int]
    OBJECT_INFO_FIELD_NUMBER: _ClassVar[int]
    OBJECT_LIST_FIELD_NUMBER: _ClassVar[int]
    OBJECT_LIST_REPLY_FIELD_NUMBER: _ClassVar[int]
    OBJECT_DELETE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    DICT_REQUEST_FIELD_NUMBER: _ClassVar[int]
    DICT_REPLY_FIELD_NUMBER: _ClassVar[int]
    QUEUE_PUT_FIELD_NUMBER: _ClassVar[int]
    QUEUE_GET_FIELD_NUMBER: _ClassVar[int]
    QUEUE_ITEMS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_PEEK_FIELD_NUMBER: _ClassVar[int]
    QUEUE_LEN_FIELD_NUMBER: _ClassVar[int]
    QUEUE_CLEAR_FIELD_NUMBER: _ClassVar[int]
    QUEUE_CANCEL_WAIT_FIELD_NUMBER: _ClassVar[int]
    SECRET_CREATE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_LIST_DIR_FIELD_NUMBER: _ClassVar[int]
    VOLUME_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    VOLUME_READ_FIELD_NUMBER: _ClassVar[int]
    VOLUME_DATA_FIELD_NUMBER: _ClassVar[int]
    VOLUME_WRITE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_REMOVE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_COPY_FIELD_NUMBER: _ClassVar[int]
    VOLUME_COMMIT_FIELD_NUMBER: _ClassVar[int]
    WEB_READY_FIELD_NUMBER: _ClassVar[int]
    WEB_URL_GET_FIELD_NUMBER: _ClassVar[int]
    WEB_URL_FIELD_NUMBER: _ClassVar[int]
    PROXY_TOKEN_CREATE_FIELD_NUMBER: _ClassVar[int]
    PROXY_TOKEN_CREATED_FIELD_NUMBER: _ClassVar[int]
    PROXY_TOKEN_LIST_FIELD_NUMBER: _ClassVar[int]
    PROXY_TOKEN_LIST_REPLY_FIELD_NUMBER: _ClassVar[int]
    PROXY_TOKEN_REVOKE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_BUILD_FIELD_NUMBER: _ClassVar[int]
    IMAGE_BUILT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_BUILD_LOG_FIELD_NUMBER: _ClassVar[int]
    IMAGE_LIST_FIELD_NUMBER: _ClassVar[int]
    IMAGE_LIST_REPLY_FIELD_NUMBER: _ClassVar[int]
    IMAGE_REMOVE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_CREATE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_CREATED_FIELD_NUMBER: _ClassVar[int]
    TOKEN_LIST_FIELD_NUMBER: _ClassVar[int]
    TOKEN_LIST_REPLY_FIELD_NUMBER: _ClassVar[int]
    TOKEN_REVOKE_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_UPDATE_AUTOSCALER_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_AUTOSCALER_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_STATS_GET_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_STATS_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_VARIANT_FIELD_NUMBER: _ClassVar[int]
    CALL_GRAPH_GET_FIELD_NUMBER: _ClassVar[int]
    CALL_GRAPH_FIELD_NUMBER: _ClassVar[int]
    CALL_HISTORY_LIST_FIELD_NUMBER: _ClassVar[int]
    CALL_HISTORY_GET_FIELD_NUMBER: _ClassVar[int]
    CALL_HISTORY_REPLY_FIELD_NUMBER: _ClassVar[int]
    DASHBOARD_LOGIN_CREATE_FIELD_NUMBER: _ClassVar[int]
    DASHBOARD_LOGIN_FIELD_NUMBER: _ClassVar[int]
    APP_PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    APP_HISTORY_FIELD_NUMBER: _ClassVar[int]
    APP_HISTORY_REPLY_FIELD_NUMBER: _ClassVar[int]
    APP_ROLLBACK_FIELD_NUMBER: _ClassVar[int]
    APP_LOOKUP_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_CREATE_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_INFO_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_GET_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_LIST_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_LIST_REPLY_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_SET_TAGS_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_WAIT_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_TERMINATE_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_EXEC_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_EXEC_STARTED_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_READ_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_DATA_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_STDIN_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_STDIN_ACK_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_CREDIT_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_EXEC_WAIT_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_EXEC_EXIT_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_FILE_OP_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_FILE_RESULT_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_HELLO_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_SNAPSHOT_FS_FIELD_NUMBER: _ClassVar[int]
    TUNNEL_OPEN_FIELD_NUMBER: _ClassVar[int]
    TUNNEL_CLOSE_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_TUNNEL_FIELD_NUMBER: _ClassVar[int]
    NODE_LIST_FIELD_NUMBER: _ClassVar[int]
    NODE_LIST_REPLY_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_PROBE_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_READY_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_WAIT_READY_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_SNAPSHOT_DIR_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_MOUNT_IMAGE_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_INPUT_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_READ_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_DATA_FIELD_NUMBER: _ClassVar[int]
    NODE_FETCH_FIELD_NUMBER: _ClassVar[int]
    NODE_DATA_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_CONNECT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_CONNECT_CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_SERVE_PORT_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_GET_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_PUBLISH_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FROM_NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_NAMED_FIELD_NUMBER: _ClassVar[int]
    id: int
    raw_size: int
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
    object_lookup: ObjectLookup
    object_info: ObjectInfo
    object_list: ObjectList
    object_list_reply: ObjectListReply
    object_delete: ObjectDelete
    count: Count
    dict_request: DictRequest
    dict_reply: DictReply
    queue_put: QueuePut
    queue_get: QueueGet
    queue_items: QueueItems
    queue_peek: QueuePeek
    queue_len: QueueLen
    queue_clear: QueueClear
    queue_cancel_wait: QueueCancelWait
    secret_create: SecretCreate
    volume_list_dir: VolumeListDir
    volume_entries: VolumeEntries
    volume_read: VolumeRead
    volume_data: VolumeData
    volume_write: VolumeWrite
    volume_remove: VolumeRemove
    volume_copy: VolumeCopy
    volume_commit: VolumeCommit
    web_ready: WebReady
    web_url_get: WebUrlGet
    web_url: WebUrl
    proxy_token_create: ProxyTokenCreate
    proxy_token_created: ProxyTokenCreated
    proxy_token_list: ProxyTokenList
    proxy_token_list_reply: ProxyTokenListReply
    proxy_token_revoke: ProxyTokenRevoke
    image_build: ImageBuild
    image_built: ImageBuilt
    image_build_log: ImageBuildLog
    image_list: ImageList
    image_list_reply: ImageListReply
    image_remove: ImageRemove
    token_create: TokenCreate
    token_created: TokenCreated
    token_list: TokenList
    token_list_reply: TokenListReply
    token_revoke: TokenRevoke
    function_update_autoscaler: FunctionUpdateAutoscaler
    function_autoscaler: FunctionAutoscaler
    function_stats_get: FunctionStatsGet
    function_stats: FunctionStats
    function_variant: FunctionVariant
    call_graph_get: CallGraphGet
    call_graph: CallGraph
    call_history_list: CallHistoryList
    call_history_get: CallHistoryGet
    call_history_reply: CallHistoryReply
    dashboard_login_create: DashboardLoginCreate
    dashboard_login: DashboardLogin
    app_published: AppPublished
    app_history: AppHistory
    app_history_reply: AppHistoryReply
    app_rollback: AppRollback
    app_lookup: AppLookup
    sandbox_create: SandboxCreate
    sandbox_info: SandboxInfo
    sandbox_get: SandboxGet
    sandbox_list: SandboxList
    sandbox_list_reply: SandboxListReply
    sandbox_set_tags: SandboxSetTags
    sandbox_wait: SandboxWait
    sandbox_terminate: SandboxTerminate
    sandbox_exec: SandboxExec
    sandbox_exec_started: SandboxExecStarted
    sandbox_read: SandboxRead
    sandbox_data: SandboxData
    sandbox_stdin: SandboxStdin
    sandbox_stdin_ack: SandboxStdinAck
    sandbox_credit: SandboxCredit
    sandbox_exec_wait: SandboxExecWait
    sandbox_exec_exit: SandboxExecExit
    sandbox_file_op: SandboxFileOp
    sandbox_file_result: SandboxFileResult
    sandbox_hello: SandboxHello
    sandbox_snapshot_fs: SandboxSnapshotFs
    tunnel_open: TunnelOpen
    tunnel_close: TunnelClose
    sandbox_tunnel: SandboxTunnel
    node_list: NodeList
    node_list_reply: NodeListReply
    sandbox_probe: SandboxProbe
    sandbox_ready: SandboxReady
    sandbox_wait_ready: SandboxWaitReady
    sandbox_snapshot_dir: SandboxSnapshotDir
    sandbox_mount_image: SandboxMountImage
    terminal_input: TerminalInput
    terminal_read: TerminalRead
    terminal_data: TerminalData
    node_fetch: NodeFetch
    node_data: NodeData
    sandbox_connect_token: SandboxConnectToken
    sandbox_connect_credentials: SandboxConnectCredentials
    sandbox_serve_port: SandboxServePort
    cluster_get: ClusterGet
    cluster_members: ClusterMembers
    image_publish: ImagePublish
    image_from_name: ImageFromName
    image_named: ImageNamed
    def __init__(self, id: _Optional[int] = ..., raw_size: _Optional[int] = ..., hello: _Optional[_Union[Hello, _Mapping]] = ..., hello_ok: _Optional[_Union[HelloOk, _Mapping]] = ..., error: _Optional[_Union[ErrorReply, _Mapping]] = ..., ok: _Optional[_Union[Ok, _Mapping]] = ..., app_create: _Optional[_Union[AppCreate, _Mapping]] = ..., app_created: _Optional[_Union[AppCreated, _Mapping]] = ..., app_stop: _Optional[_Union[AppStop, _Mapping]] = ..., app_list: _Optional[_Union[AppList, _Mapping]] = ..., app_list_reply: _Optional[_Union[AppListReply, _Mapping]] = ..., app_publish: _Optional[_Union[AppPublish, _Mapping]] = ..., function_create: _Optional[_Union[FunctionCreate, _Mapping]] = ..., function_created: _Optional[_Union[FunctionCreated, _Mapping]] = ..., function_get: _Optional[_Union[FunctionGet, _Mapping]] = ..., function_bind: _Optional[_Union[FunctionBind, _Mapping]] = ..., call_create: _Optional[_Union[CallCreate, _Mapping]] = ..., inputs: _Optional[_Union[InputBatch, _Mapping]] = ..., outputs: _Optional[_Union[OutputBatch, _Mapping]] = ..., call_get: _Optional[_Union[CallGet, _Mapping]] = ..., call_cancel: _Optional[_Union[CallCancel, _Mapping]] = ..., call_close: _Optional[_Union[CallClose, _Mapping]] = ..., call_info: _Optional[_Union[CallInfo, _Mapping]] = ..., container_init: _Optional[_Union[ContainerInit, _Mapping]] = ..., container_spec: _Optional[_Union[ContainerSpec, _Mapping]] = ..., cancel_inputs: _Optional[_Union[CancelInputs, _Mapping]] = ..., container_list: _Optional[_Union[ContainerList, _Mapping]] = ..., container_list_reply: _Optional[_Union[ContainerListReply, _Mapping]] = ..., container_stop: _Optional[_Union[ContainerStop, _Mapping]] = ..., container_ready: _Optional[_Union[ContainerReady, _Mapping]] = ..., blob_put: _Optional[_Union[BlobPut, _Mapping]] = ..., blob_put_done: _Optional[_Union[BlobPutDone, _Mapping]] = ..., blob_get: _Optional[_Union[BlobGet, _Mapping]] = ..., blob_chunk: _Optional[_Union[BlobChunk, _Mapping]] = ..., log_subscribe: _Optional[_Union[LogSubscribe, _Mapping]] = ..., log_batch: _Optional[_Union[LogBatch, _Mapping]] = ..., server_status: _Optional[_Union[ServerStatus, _Mapping]] = ..., server_status_reply: _Optional[_Union[ServerStatusReply, _Mapping]] = ..., server_shutdown: _Optional[_Union[ServerShutdown, _Mapping]] = ..., object_lookup: _Optional[_Union[ObjectLookup, _Mapping]] = ..., object_info: _Optional[_Union[ObjectInfo, _Mapping]] = ..., object_list: _Optional[_Union[ObjectList, _Mapping]] = ..., object_list_reply: _Optional[_Union[ObjectListReply, _Mapping]] = ..., object_delete: _Optional[_Union[ObjectDelete, _Mapping]] = ..., count: _Optional[_Union[Count, _Mapping]] = ..., dict_request: _Optional[_Union[DictRequest, _Mapping]] = ..., dict_reply: _Optional[_Union[DictReply, _Mapping]] = ..., queue_put: _Optional[_Union[QueuePut, _Mapping]] = ..., queue_get: _Optional[_Union[QueueGet, _Mapping]] = ..., queue_items: _Optional[_Union[QueueItems, _Mapping]] = ..., queue_peek: _Optional[_Union[QueuePeek, _Mapping]] = ..., queue_len: _Optional[_Union[QueueLen, _Mapping]] = ..., queue_clear: _Optional[_Union[QueueClear, _Mapping]] = ..., queue_cancel_wait: _Optional[_Union[QueueCancelWait, _Mapping]] = ..., secret_create: _Optional[_Union[SecretCreate, _Mapping]] = ..., volume_list_dir: _Optional[_Union[VolumeListDir, _Mapping]] = ..., volume_entries: _Optional[_Union[VolumeEntries, _Mapping]] = ..., volume_read: _Optional[_Union[VolumeRead, _Mapping]] = ..., volume_data: _Optional[_Union[VolumeData, _Mapping]] = ..., volume_write: _Optional[_Union[VolumeWrite, _Mapping]] = ..., volume_remove: _Optional[_Union[VolumeRemove, _Mapping]] = ..., volume_copy: _Optional[_Union[VolumeCopy, _Mapping]] = ..., volume_commit: _Optional[_Union[VolumeCommit, _Mapping]] = ..., web_ready: _Optional[_Union[WebReady, _Mapping]] = ..., web_url_get: _Optional[_Union[WebUrlGet, _Mapping]] = ..., web_url: _Optional[_Union[WebUrl, _Mapping]] = ..., proxy_token_create: _Optional[_Union[ProxyTokenCreate, _Mapping]] = ..., proxy_token_created: _Optional[_Union[ProxyTokenCreated, _Mapping]] = ..., proxy_token_list: _Optional[_Union[ProxyTokenList, _Mapping]] = ..., proxy_token_list_reply: _Optional[_Union[ProxyTokenListReply, _Mapping]] = ..., proxy_token_revoke: _Optional[_Union[ProxyTokenRevoke, _Mapping]] = ..., image_build: _Optional[_Union[ImageBuild, _Mapping]] = ..., image_built: _Optional[_Union[ImageBuilt, _Mapping]] = ..., image_build_log: _Optional[_Union[ImageBuildLog, _Mapping]] = ..., image_list: _Optional[_Union[ImageList, _Mapping]] = ..., image_list_reply: _Optional[_Union[ImageListReply, _Mapping]] = ..., image_remove: _Optional[_Union[ImageRemove, _Mapping]] = ..., token_create: _Optional[_Union[TokenCreate, _Mapping]] = ..., token_created: _Optional[_Union[TokenCreated, _Mapping]] = ..., token_list: _Optional[_Union[TokenList, _Mapping]] = ..., token_list_reply: _Optional[_Union[TokenListReply, _Mapping]] = ..., token_revoke: _Optional[_Union[TokenRevoke, _Mapping]] = ..., function_update_autoscaler: _Optional[_Union[FunctionUpdateAutoscaler, _Mapping]] = ..., function_autoscaler: _Optional[_Union[FunctionAutoscaler, _Mapping]] = ..., function_stats_get: _Optional[_Union[FunctionStatsGet, _Mapping]] = ..., function_stats: _Optional[_Union[FunctionStats, _Mapping]] = ..., function_variant: _Optional[_Union[FunctionVariant, _Mapping]] = ..., call_graph_get: _Optional[_Union[CallGraphGet, _Mapping]] = ..., call_graph: _Optional[_Union[CallGraph, _Mapping]] = ..., call_history_list: _Optional[_Union[CallHistoryList, _Mapping]] = ..., call_history_get: _Optional[_Union[CallHistoryGet, _Mapping]] = ..., call_history_reply: _Optional[_Union[CallHistoryReply, _Mapping]] = ..., dashboard_login_create: _Optional[_Union[DashboardLoginCreate, _Mapping]] = ..., dashboard_login: _Optional[_Union[DashboardLogin, _Mapping]] = ..., app_published: _Optional[_Union[AppPublished, _Mapping]] = ..., app_history: _Optional[_Union[AppHistory, _Mapping]] = ..., app_history_reply: _Optional[_Union[AppHistoryReply, _Mapping]] = ..., app_rollback: _Optional[_Union[AppRollback, _Mapping]] = ..., app_lookup: _Optional[_Union[AppLookup, _Mapping]] = ..., sandbox_create: _Optional[_Union[SandboxCreate, _Mapping]] = ..., sandbox_info: _Optional[_Union[SandboxInfo, _Mapping]] = ..., sandbox_get: _Optional[_Union[SandboxGet, _Mapping]] = ..., sandbox_list: _Optional[_Union[SandboxList, _Mapping]] = ..., sandbox_list_reply: _Optional[_Union[SandboxListReply, _Mapping]] = ..., sandbox_set_tags: _Optional[_Union[SandboxSetTags, _Mapping]] = ..., sandbox_wait: _Optional[_Union[SandboxWait, _Mapping]] = ..., sandbox_terminate: _Optional[_Union[SandboxTerminate, _Mapping]] = ..., sandbox_exec: _Optional[_Union[SandboxExec, _Mapping]] = ..., sandbox_exec_started: _Optional[_Union[SandboxExecStarted, _Mapping]] = ..., sandbox_read: _Optional[_Union[SandboxRead, _Mapping]] = ..., sandbox_data: _Optional[_Union[SandboxData, _Mapping]] = ..., sandbox_stdin: _Optional[_Union[SandboxStdin, _Mapping]] = ..., sandbox_stdin_ack: _Optional[_Union[SandboxStdinAck, _Mapping]] = ..., sandbox_credit: _Optional[_Union[SandboxCredit, _Mapping]] = ..., sandbox_exec_wait: _Optional[_Union[SandboxExecWait, _Mapping]] = ..., sandbox_exec_exit: _Optional[_Union[SandboxExecExit, _Mapping]] = ..., sandbox_file_op: _Optional[_Union[SandboxFileOp, _Mapping]] = ..., sandbox_file_result: _Optional[_Union[SandboxFileResult, _Mapping]] = ..., sandbox_hello: _Optional[_Union[SandboxHello, _Mapping]] = ..., sandbox_snapshot_fs: _Optional[_Union[SandboxSnapshotFs, _Mapping]] = ..., tunnel_open: _Optional[_Union[TunnelOpen, _Mapping]] = ..., tunnel_close: _Optional[_Union[TunnelClose, _Mapping]] = ..., sandbox_tunnel: _Optional[_Union[SandboxTunnel, _Mapping]] = ..., node_list: _Optional[_Union[NodeList, _Mapping]] = ..., node_list_reply: _Optional[_Union[NodeListReply, _Mapping]] = ..., sandbox_probe: _Optional[_Union[SandboxProbe, _Mapping]] = ..., sandbox_ready: _Optional[_Union[SandboxReady, _Mapping]] = ..., sandbox_wait_ready: _Optional[_Union[SandboxWaitReady, _Mapping]] = ..., sandbox_snapshot_dir: _Optional[_Union[SandboxSnapshotDir, _Mapping]] = ..., sandbox_mount_image: _Optional[_Union[SandboxMountImage, _Mapping]] = ..., terminal_input: _Optional[_Union[TerminalInput, _Mapping]] = ..., terminal_read: _Optional[_Union[TerminalRead, _Mapping]] = ..., terminal_data: _Optional[_Union[TerminalData, _Mapping]] = ..., node_fetch: _Optional[_Union[NodeFetch, _Mapping]] = ..., node_data: _Optional[_Union[NodeData, _Mapping]] = ..., sandbox_connect_token: _Optional[_Union[SandboxConnectToken, _Mapping]] = ..., sandbox_connect_credentials: _Optional[_Union[SandboxConnectCredentials, _Mapping]] = ..., sandbox_serve_port: _Optional[_Union[SandboxServePort, _Mapping]] = ..., cluster_get: _Optional[_Union[ClusterGet, _Mapping]] = ..., cluster_members: _Optional[_Union[ClusterMembers, _Mapping]] = ..., image_publish: _Optional[_Union[ImagePublish, _Mapping]] = ..., image_from_name: _Optional[_Union[ImageFromName, _Mapping]] = ..., image_named: _Optional[_Union[ImageNamed, _Mapping]] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("token", "role", "container_id", "python_version", "client_version", "workspace", "node_id")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    PYTHON_VERSION_FIELD_NUMBER: _ClassVar[int]
    CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    token: str
    role: str
    container_id: str
    python_version: str
    client_version: str
    workspace: str
    node_id: str
    def __init__(self, token: _Optional[str] = ..., role: _Optional[str] = ..., container_id: _Optional[str] = ..., python_version: _Optional[str] = ..., client_version: _Optional[str] = ..., workspace: _Optional[str] = ..., node_id: _Optional[str] = ...) -> None: ...

class HelloOk(_message.Message):
    __slots__ = ("server_version", "runtime_python_version", "server_id", "workspace", "admin")
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_PYTHON_VERSION_FIELD_NUMBER: _ClassVar[int]
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    ADMIN_FIELD_NUMBER: _ClassVar[int]
    server_version: str
    runtime_python_version: str
    server_id: str
    workspace: str
    admin: bool
    def __init__(self, server_version: _Optional[str] = ..., runtime_python_version: _Optional[str] = ..., server_id: _Optional[str] = ..., workspace: _Optional[str] = ..., admin: _Optional[bool] = ...) -> None: ...

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
    __slots__ = ("name", "ephemeral", "detach", "interactive")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_FIELD_NUMBER: _ClassVar[int]
    DETACH_FIELD_NUMBER: _ClassVar[int]
    INTERACTIVE_FIELD_NUMBER: _ClassVar[int]
    name: str
    ephemeral: bool
    detach: bool
    interactive: bool
    def __init__(self, name: _Optional[str] = ..., ephemeral: _Optional[bool] = ..., detach: _Optional[bool] = ..., interactive: _Optional[bool] = ...) -> None: ...

class AppCreated(_message.Message):
    __slots__ = ("app_id", "logs_path")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    LOGS_PATH_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    logs_path: str
    def __init__(self, app_id: _Optional[str] = ..., logs_path: _Optional[str] = ...) -> None: ...

class AppPublish(_message.Message):
    __slots__ = ("app_id", "tag")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    tag: str
    def __init__(self, app_id: _Optional[str] = ..., tag: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("app_id", "name", "state", "created_at", "n_functions", "n_containers", "stopped_at", "next_run_at", "waiting")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    N_FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    N_CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    STOPPED_AT_FIELD_NUMBER: _ClassVar[int]
    NEXT_RUN_AT_FIELD_NUMBER: _ClassVar[int]
    WAITING_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    name: str
    state: str
    created_at: float
    n_functions: int
    n_containers: int
    stopped_at: float
    next_run_at: float
    waiting: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, app_id: _Optional[str] = ..., name: _Optional[str] = ..., state: _Optional[str] = ..., created_at: _Optional[float] = ..., n_functions: _Optional[int] = ..., n_containers: _Optional[int] = ..., stopped_at: _Optional[float] = ..., next_run_at: _Optional[float] = ..., waiting: _Optional[_Iterable[str]] = ...) -> None: ...

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
    __slots__ = ("name", "module", "qualname", "pickled", "sys_path", "is_generator", "is_class", "methods", "resources", "timeout_s", "retries", "scaling", "env", "max_inputs", "target_inputs", "batch_max_size", "batch_wait_ms", "python_version", "startup_timeout_s", "is_async", "secret_ids", "volumes", "image_id", "ephemeral_disk_mib", "web_endpoints", "block_network", "code_bundle", "schedule", "cluster_size", "enable_memory_snapshot")
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
    SECRET_IDS_FIELD_NUMBER: _ClassVar[int]
    VOLUMES_FIELD_NUMBER: _ClassVar[int]
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_DISK_MIB_FIELD_NUMBER: _ClassVar[int]
    WEB_ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NETWORK_FIELD_NUMBER: _ClassVar[int]
    CODE_BUNDLE_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_SIZE_FIELD_NUMBER: _ClassVar[int]
    ENABLE_MEMORY_SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
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
    secret_ids: _containers.RepeatedScalarFieldContainer[str]
    volumes: _containers.RepeatedCompositeFieldContainer[VolumeMount]
    image_id: str
    ephemeral_disk_mib: int
    web_endpoints: _containers.RepeatedCompositeFieldContainer[WebEndpoint]
    block_network: bool
    code_bundle: str
    schedule: Schedule
    cluster_size: int
    enable_memory_snapshot: bool
    def __init__(self, name: _Optional[str] = ..., module: _Optional[str] = ..., qualname: _Optional[str] = ..., pickled: _Optional[bytes] = ..., sys_path: _Optional[_Iterable[str]] = ..., is_generator: _Optional[bool] = ..., is_class: _Optional[bool] = ..., methods: _Optional[_Iterable[_Union[Method, _Mapping]]] = ..., resources: _Optional[_Union[Resources, _Mapping]] = ..., timeout_s: _Optional[float] = ..., retries: _Optional[_Union[RetryPolicy, _Mapping]] = ..., scaling: _Optional[_Union[Scaling, _Mapping]] = ..., env: _Optional[_Mapping[str, str]] = ..., max_inputs: _Optional[int] = ..., target_inputs: _Optional[int] = ..., batch_max_size: _Optional[int] = ..., batch_wait_ms: _Optional[int] = ..., python_version: _Optional[str] = ..., startup_timeout_s: _Optional[float] = ..., is_async: _Optional[bool] = ..., secret_ids: _Optional[_Iterable[str]] = ..., volumes: _Optional[_Iterable[_Union[VolumeMount, _Mapping]]] = ..., image_id: _Optional[str] = ..., ephemeral_disk_mib: _Optional[int] = ..., web_endpoints: _Optional[_Iterable[_Union[WebEndpoint, _Mapping]]] = ..., block_network: _Optional[bool] = ..., code_bundle: _Optional[str] = ..., schedule: _Optional[_Union[Schedule, _Mapping]] = ..., cluster_size: _Optional[int] = ..., enable_memory_snapshot: _Optional[bool] = ...) -> None: ...

class FunctionCreate(_message.Message):
    __slots__ = ("app_id", "spec")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    spec: FunctionSpec
    def __init__(self, app_id: _Optional[str] = ..., spec: _Optional[_Union[FunctionSpec, _Mapping]] = ...) -> None: ...

class FunctionCreated(_message.Message):
    __slots__ = ("function_id", "warning")
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    WARNING_FIELD_NUMBER: _ClassVar[int]
    function_id: str
    warning: str
    def __init__(self, function_id: _Optional[str] = ..., warning: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("call_id", "function_id", "kind", "inputs", "is_generator", "parent_input_id", "source", "quiet")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    IS_GENERATOR_FIELD_NUMBER: _ClassVar[int]
    PARENT_INPUT_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    QUIET_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    function_id: str
    kind: CallKind
    inputs: _containers.RepeatedCompositeFieldContainer[Input]
    is_generator: bool
    parent_input_id: str
    source: str
    quiet: bool
    def __init__(self, call_id: _Optional[str] = ..., function_id: _Optional[str] = ..., kind: _Optional[_Union[CallKind, str]] = ..., inputs: _Optional[_Iterable[_Union[Input, _Mapping]]] = ..., is_generator: _Optional[bool] = ..., parent_input_id: _Optional[str] = ..., source: _Optional[str] = ..., quiet: _Optional[bool] = ...) -> None: ...

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
    __slots__ = ("container_id", "function_id", "app_id", "spec", "class_params", "interactive")
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    CLASS_PARAMS_FIELD_NUMBER: _ClassVar[int]
    INTERACTIVE_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    function_id: str
    app_id: str
    spec: FunctionSpec
    class_params: bytes
    interactive: bool
    def __init__(self, container_id: _Optional[str] = ..., function_id: _Optional[str] = ..., app_id: _Optional[str] = ..., spec: _Optional[_Union[FunctionSpec, _Mapping]] = ..., class_params: _Optional[bytes] = ..., interactive: _Optional[bool] = ...) -> None: ...

class ContainerReady(_message.Message):
    __slots__ = ("ok", "data", "message", "traceback", "failed_while")
    OK_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRACEBACK_FIELD_NUMBER: _ClassVar[int]
    FAILED_WHILE_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    data: bytes
    message: str
    traceback: str
    failed_while: str
    def __init__(self, ok: _Optional[bool] = ..., data: _Optional[bytes] = ..., message: _Optional[str] = ..., traceback: _Optional[str] = ..., failed_while: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("container_id", "app_id", "app_name", "function_name", "state", "started_at", "inputs_in_flight", "pid", "node_id")
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    INPUTS_IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    app_id: str
    app_name: str
    function_name: str
    state: str
    started_at: float
    inputs_in_flight: int
    pid: int
    node_id: str
    def __init__(self, container_id: _Optional[str] = ..., app_id: _Optional[str] = ..., app_name: _Optional[str] = ..., function_name: _Optional[str] = ..., state: _Optional[str] = ..., started_at: _Optional[float] = ..., inputs_in_flight: _Optional[int] = ..., pid: _Optional[int] = ..., node_id: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("app_id", "app_name", "follow", "history", "function_name", "call_id", "container_id", "since", "tail")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_NAME_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    TAIL_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    app_name: str
    follow: bool
    history: bool
    function_name: str
    call_id: str
    container_id: str
    since: float
    tail: int
    def __init__(self, app_id: _Optional[str] = ..., app_name: _Optional[str] = ..., follow: _Optional[bool] = ..., history: _Optional[bool] = ..., function_name: _Optional[str] = ..., call_id: _Optional[str] = ..., container_id: _Optional[str] = ..., since: _Optional[float] = ..., tail: _Optional[int] = ...) -> None: ...

class LogLine(_message.Message):
    __slots__ = ("ts", "source", "function_name", "container_id", "text", "input_id", "call_id")
    TS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    INPUT_ID_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    ts: float
    source: str
    function_name: str
    container_id: str
    text: str
    input_id: str
    call_id: str
    def __init__(self, ts: _Optional[float] = ..., source: _Optional[str] = ..., function_name: _Optional[str] = ..., container_id: _Optional[str] = ..., text: _Optional[str] = ..., input_id: _Optional[str] = ..., call_id: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("version", "pid", "started_at", "data_dir", "address", "n_apps", "n_containers", "cpu_capacity", "memory_capacity_mib", "cpu_reserved", "memory_reserved_mib", "runtime", "workspace", "gateway_address", "gateway_error", "http_address", "http_error")
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
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_ERROR_FIELD_NUMBER: _ClassVar[int]
    HTTP_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    HTTP_ERROR_FIELD_NUMBER: _ClassVar[int]
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
    workspace: str
    gateway_address: str
    gateway_error: str
    http_address: str
    http_error: str
    def __init__(self, version: _Optional[str] = ..., pid: _Optional[int] = ..., started_at: _Optional[float] = ..., data_dir: _Optional[str] = ..., address: _Optional[str] = ..., n_apps: _Optional[int] = ..., n_containers: _Optional[int] = ..., cpu_capacity: _Optional[float] = ..., memory_capacity_mib: _Optional[int] = ..., cpu_reserved: _Optional[float] = ..., memory_reserved_mib: _Optional[int] = ..., runtime: _Optional[str] = ..., workspace: _Optional[str] = ..., gateway_address: _Optional[str] = ..., gateway_error: _Optional[str] = ..., http_address: _Optional[str] = ..., http_error: _Optional[str] = ...) -> None: ...

class ServerShutdown(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ImageStep(_message.Message):
    __slots__ = ("kind", "args", "options", "pickled", "content_hash", "env", "origin")
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KIND_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    PICKLED_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    kind: str
    args: _containers.RepeatedScalarFieldContainer[str]
    options: _containers.ScalarMap[str, str]
    pickled: bytes
    content_hash: str
    env: _containers.ScalarMap[str, str]
    origin: str
    def __init__(self, kind: _Optional[str] = ..., args: _Optional[_Iterable[str]] = ..., options: _Optional[_Mapping[str, str]] = ..., pickled: _Optional[bytes] = ..., content_hash: _Optional[str] = ..., env: _Optional[_Mapping[str, str]] = ..., origin: _Optional[str] = ...) -> None: ...

class ImageDef(_message.Message):
    __slots__ = ("steps",)
    STEPS_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedCompositeFieldContainer[ImageStep]
    def __init__(self, steps: _Optional[_Iterable[_Union[ImageStep, _Mapping]]] = ...) -> None: ...

class ImageBuild(_message.Message):
    __slots__ = ("build_id", "image", "force")
    BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    build_id: str
    image: ImageDef
    force: bool
    def __init__(self, build_id: _Optional[str] = ..., image: _Optional[_Union[ImageDef, _Mapping]] = ..., force: _Optional[bool] = ...) -> None: ...

class ImageBuilt(_message.Message):
    __slots__ = ("image_id", "n_steps", "n_cached")
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    N_STEPS_FIELD_NUMBER: _ClassVar[int]
    N_CACHED_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    n_steps: int
    n_cached: int
    def __init__(self, image_id: _Optional[str] = ..., n_steps: _Optional[int] = ..., n_cached: _Optional[int] = ...) -> None: ...

class ImageBuildLog(_message.Message):
    __slots__ = ("build_id", "step", "n_steps", "title", "text", "state")
    BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    N_STEPS_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    build_id: str
    step: int
    n_steps: int
    title: str
    text: str
    state: str
    def __init__(self, build_id: _Optional[str] = ..., step: _Optional[int] = ..., n_steps: _Optional[int] = ..., title: _Optional[str] = ..., text: _Optional[str] = ..., state: _Optional[str] = ...) -> None: ...

class ImageList(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ImageInfo(_message.Message):
    __slots__ = ("image_id", "title", "n_layers", "size_bytes", "created_at", "used_at", "names")
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    N_LAYERS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    USED_AT_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    title: str
    n_layers: int
    size_bytes: int
    created_at: float
    used_at: float
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, image_id: _Optional[str] = ..., title: _Optional[str] = ..., n_layers: _Optional[int] = ..., size_bytes: _Optional[int] = ..., created_at: _Optional[float] = ..., used_at: _Optional[float] = ..., names: _Optional[_Iterable[str]] = ...) -> None: ...

class ImageListReply(_message.Message):
    __slots__ = ("images", "layers_bytes")
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    LAYERS_BYTES_FIELD_NUMBER: _ClassVar[int]
    images: _containers.RepeatedCompositeFieldContainer[ImageInfo]
    layers_bytes: int
    def __init__(self, images: _Optional[_Iterable[_Union[ImageInfo, _Mapping]]] = ..., layers_bytes: _Optional[int] = ...) -> None: ...

class ImageRemove(_message.Message):
    __slots__ = ("image_id", "all")
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    all: bool
    def __init__(self, image_id: _Optional[str] = ..., all: _Optional[bool] = ...) -> None: ...

class ObjectLookup(_message.Message):
    __slots__ = ("kind", "name", "create_if_missing", "ephemeral", "required_keys")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATE_IF_MISSING_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_KEYS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    create_if_missing: bool
    ephemeral: bool
    required_keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., create_if_missing: _Optional[bool] = ..., ephemeral: _Optional[bool] = ..., required_keys: _Optional[_Iterable[str]] = ...) -> None: ...

class ObjectInfo(_message.Message):
    __slots__ = ("object_id", "kind", "name", "created_at", "size", "keys", "updated_at")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    object_id: str
    kind: str
    name: str
    created_at: float
    size: int
    keys: _containers.RepeatedScalarFieldContainer[str]
    updated_at: float
    def __init__(self, object_id: _Optional[str] = ..., kind: _Optional[str] = ..., name: _Optional[str] = ..., created_at: _Optional[float] = ..., size: _Optional[int] = ..., keys: _Optional[_Iterable[str]] = ..., updated_at: _Optional[float] = ...) -> None: ...

class ObjectList(_message.Message):
    __slots__ = ("kind",)
    KIND_FIELD_NUMBER: _ClassVar[int]
    kind: str
    def __init__(self, kind: _Optional[str] = ...) -> None: ...

class ObjectListReply(_message.Message):
    __slots__ = ("objects",)
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[ObjectInfo]
    def __init__(self, objects: _Optional[_Iterable[_Union[ObjectInfo, _Mapping]]] = ...) -> None: ...

class ObjectDelete(_message.Message):
    __slots__ = ("kind", "name", "object_id", "allow_missing")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOW_MISSING_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    object_id: str
    allow_missing: bool
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., object_id: _Optional[str] = ..., allow_missing: _Optional[bool] = ...) -> None: ...

class Count(_message.Message):
    __slots__ = ("n",)
    N_FIELD_NUMBER: _ClassVar[int]
    n: int
    def __init__(self, n: _Optional[int] = ...) -> None: ...

class DictRequest(_message.Message):
    __slots__ = ("object_id", "op", "keys", "values", "skip_if_exists", "after_key", "limit", "with_values")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    SKIP_IF_EXISTS_FIELD_NUMBER: _ClassVar[int]
    AFTER_KEY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    WITH_VALUES_FIELD_NUMBER: _ClassVar[int]
    object_id: str
    op: DictOp
    keys: _containers.RepeatedScalarFieldContainer[bytes]
    values: _containers.RepeatedScalarFieldContainer[bytes]
    skip_if_exists: bool
    after_key: bytes
    limit: int
    with_values: bool
    def __init__(self, object_id: _Optional[str] = ..., op: _Optional[_Union[DictOp, str]] = ..., keys: _Optional[_Iterable[bytes]] = ..., values: _Optional[_Iterable[bytes]] = ..., skip_if_exists: _Optional[bool] = ..., after_key: _Optional[bytes] = ..., limit: _Optional[int] = ..., with_values: _Optional[bool] = ...) -> None: ...

class DictReply(_message.Message):
    __slots__ = ("found", "value", "n", "keys", "values", "done")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    found: bool
    value: bytes
    n: int
    keys: _containers.RepeatedScalarFieldContainer[bytes]
    values: _containers.RepeatedScalarFieldContainer[bytes]
    done: bool
    def __init__(self, found: _Optional[bool] = ..., value: _Optional[bytes] = ..., n: _Optional[int] = ..., keys: _Optional[_Iterable[bytes]] = ..., values: _Optional[_Iterable[bytes]] = ..., done: _Optional[bool] = ...) -> None: ...

class QueuePut(_message.Message):
    __slots__ = ("object_id", "partition", "values", "timeout_s", "partition_ttl_s", "waiter_id")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    PARTITION_TTL_S_FIELD_NUMBER: _ClassVar[int]
    WAITER_ID_FIELD_NUMBER: _ClassVar[int]
    object_id: str
    partition: str
    values: _containers.RepeatedScalarFieldContainer[bytes]
    timeout_s: float
    partition_ttl_s: float
    waiter_id: str
    def __init__(self, object_id: _Optional[str] = ..., partition: _Optional[str] = ..., values: _Optional[_Iterable[bytes]] = ..., timeout_s: _Optional[float] = ..., partition_ttl_s: _Optional[float] = ..., waiter_id: _Optional[str] = ...) -> None: ...

class QueueGet(_message.Message):
    __slots__ = ("object_id", "partition", "n", "timeout_s", "waiter_id")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    WAITER_ID_FIELD_NUMBER: _ClassVar[int]
    object_id: str
    partition: str
    n: int
    timeout_s: float
    waiter_id: str
    def __init__(self, object_id: _Optional[str] = ..., partition: _Optional[str] = ..., n: _Optional[int] = ..., timeout_s: _Optional[float] = ..., waiter_id: _Optional[str] = ...) -> None: ...

class QueueItems(_message.Message):
    __slots__ = ("values", "seqs")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    SEQS_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[bytes]
    seqs: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[bytes]] = ..., seqs: _Optional[_Iterable[int]] = ...) -> None: ...

class QueuePeek(_message.Message):
    __slots__ = ("object_id", "partition", "after_seq", "n", "timeout_s", "waiter_id")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    WAITER_ID_FIELD_NUMBER: _ClassVar[int]
    object_id: str
    partition: str
    after_seq: int
    n: int
    timeout_s: float
    waiter_id: str
    def __init__(self, object_id: _Optional[str] = ..., partition: _Optional[str] = ..., after_seq: _Optional[int] = ..., n: _Optional[int] = ..., timeout_s: _Optional[float] = ..., waiter_id: _Optional[str] = ...) -> None: ...

class QueueLen(_message.Message):
    __slots__ = ("object_id", "partition", "total")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    object_id: str
    partition: str
    total: bool
    def __init__(self, object_id: _Optional[str] = ..., partition: _Optional[str] = ..., total: _Optional[bool] = ...) -> None: ...

class QueueClear(_message.Message):
    __slots__ = ("object_id", "partition", "all")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    object_id: str
    partition: str
    all: bool
    def __init__(self, object_id: _Optional[str] = ..., partition: _Optional[str] = ..., all: _Optional[bool] = ...) -> None: ...

class QueueCancelWait(_message.Message):
    __slots__ = ("waiter_id",)
    WAITER_ID_FIELD_NUMBER: _ClassVar[int]
    waiter_id: str
    def __init__(self, waiter_id: _Optional[str] = ...) -> None: ...

class SecretCreate(_message.Message):
    __slots__ = ("name", "env", "overwrite")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    name: str
    env: _containers.ScalarMap[str, str]
    overwrite: bool
    def __init__(self, name: _Optional[str] = ..., env: _Optional[_Mapping[str, str]] = ..., overwrite: _Optional[bool] = ...) -> None: ...

class VolumeMount(_message.Message):
    __slots__ = ("path", "volume_id", "name", "read_only")
    PATH_FIELD_NUMBER: _ClassVar[int]
    VOLUME_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    READ_ONLY_FIELD_NUMBER: _ClassVar[int]
    path: str
    volume_id: str
    name: str
    read_only: bool
    def __init__(self, path: _Optional[str] = ..., volume_id: _Optional[str] = ..., name: _Optional[str] = ..., read_only: _Optional[bool] = ...) -> None: ...

class VolumeEntry(_message.Message):
    __slots__ = ("path", "type", "size", "mtime")
    PATH_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MTIME_FIELD_NUMBER: _ClassVar[int]
    path: str
    type: int
    size: int
    mtime: float
    def __init__(self, path: _Optional[str] = ..., type: _Optional[int] = ..., size: _Optional[int] = ..., mtime: _Optional[float] = ...) -> None: ...

class VolumeListDir(_message.Message):
    __slots__ = ("object_id", "path", "recursive")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    object_id: str
    path: str
    recursive: bool
    def __init__(self, object_id: _Optional[str] = ..., path: _Optional[str] = ..., recursive: _Optional[bool] = ...) -> None: ...

class VolumeEntries(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[VolumeEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[VolumeEntry, _Mapping]]] = ...) -> None: ...

class VolumeRead(_message.Message):
    __slots__ = ("object_id", "path", "offset", "length")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    object_id: str
    path: str
    offset: int
    length: int
    def __init__(self, object_id: _Optional[str] = ..., path: _Optional[str] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class VolumeData(_message.Message):
    __slots__ = ("eof", "size")
    EOF_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    eof: bool
    size: int
    def __init__(self, eof: _Optional[bool] = ..., size: _Optional[int] = ...) -> None: ...

class VolumeWrite(_message.Message):
    __slots__ = ("object_id", "upload_id", "path", "last", "force", "mode")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    object_id: str
    upload_id: str
    path: str
    last: bool
    force: bool
    mode: int
    def __init__(self, object_id: _Optional[str] = ..., upload_id: _Optional[str] = ..., path: _Optional[str] = ..., last: _Optional[bool] = ..., force: _Optional[bool] = ..., mode: _Optional[int] = ...) -> None: ...

class VolumeRemove(_message.Message):
    __slots__ = ("object_id", "path", "recursive")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    object_id: str
    path: str
    recursive: bool
    def __init__(self, object_id: _Optional[str] = ..., path: _Optional[str] = ..., recursive: _Optional[bool] = ...) -> None: ...

class VolumeCopy(_message.Message):
    __slots__ = ("object_id", "src_paths", "dst_path")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SRC_PATHS_FIELD_NUMBER: _ClassVar[int]
    DST_PATH_FIELD_NUMBER: _ClassVar[int]
    object_id: str
    src_paths: _containers.RepeatedScalarFieldContainer[str]
    dst_path: str
    def __init__(self, object_id: _Optional[str] = ..., src_paths: _Optional[_Iterable[str]] = ..., dst_path: _Optional[str] = ...) -> None: ...

class VolumeCommit(_message.Message):
    __slots__ = ("object_id",)
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    object_id: str
    def __init__(self, object_id: _Optional[str] = ...) -> None: ...

class WebEndpoint(_message.Message):
    __slots__ = ("kind", "label", "method", "http_method", "docs", "requires_proxy_auth", "port", "startup_timeout_s")
    KIND_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    HTTP_METHOD_FIELD_NUMBER: _ClassVar[int]
    DOCS_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_PROXY_AUTH_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    STARTUP_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    kind: str
    label: str
    method: str
    http_method: str
    docs: bool
    requires_proxy_auth: bool
    port: int
    startup_timeout_s: float
    def __init__(self, kind: _Optional[str] = ..., label: _Optional[str] = ..., method: _Optional[str] = ..., http_method: _Optional[str] = ..., docs: _Optional[bool] = ..., requires_proxy_auth: _Optional[bool] = ..., port: _Optional[int] = ..., startup_timeout_s: _Optional[float] = ...) -> None: ...

class WebReady(_message.Message):
    __slots__ = ("unix_sockets",)
    class UnixSocketsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    UNIX_SOCKETS_FIELD_NUMBER: _ClassVar[int]
    unix_sockets: _containers.ScalarMap[str, str]
    def __init__(self, unix_sockets: _Optional[_Mapping[str, str]] = ...) -> None: ...

class WebUrlGet(_message.Message):
    __slots__ = ("function_id", "method")
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    function_id: str
    method: str
    def __init__(self, function_id: _Optional[str] = ..., method: _Optional[str] = ...) -> None: ...

class WebUrl(_message.Message):
    __slots__ = ("url", "path_url")
    URL_FIELD_NUMBER: _ClassVar[int]
    PATH_URL_FIELD_NUMBER: _ClassVar[int]
    url: str
    path_url: str
    def __init__(self, url: _Optional[str] = ..., path_url: _Optional[str] = ...) -> None: ...

class ProxyTokenCreate(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ProxyTokenCreated(_message.Message):
    __slots__ = ("token_id", "secret")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    secret: str
    def __init__(self, token_id: _Optional[str] = ..., secret: _Optional[str] = ...) -> None: ...

class ProxyTokenList(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ProxyTokenInfo(_message.Message):
    __slots__ = ("token_id", "name", "created_at", "last_used_at")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    name: str
    created_at: float
    last_used_at: float
    def __init__(self, token_id: _Optional[str] = ..., name: _Optional[str] = ..., created_at: _Optional[float] = ..., last_used_at: _Optional[float] = ...) -> None: ...

class ProxyTokenListReply(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[ProxyTokenInfo]
    def __init__(self, tokens: _Optional[_Iterable[_Union[ProxyTokenInfo, _Mapping]]] = ...) -> None: ...

class ProxyTokenRevoke(_message.Message):
    __slots__ = ("token_id",)
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    def __init__(self, token_id: _Optional[str] = ...) -> None: ...

class TokenCreate(_message.Message):
    __slots__ = ("workspace", "name")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    name: str
    def __init__(self, workspace: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class TokenCreated(_message.Message):
    __slots__ = ("token_id", "secret", "workspace")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    secret: str
    workspace: str
    def __init__(self, token_id: _Optional[str] = ..., secret: _Optional[str] = ..., workspace: _Optional[str] = ...) -> None: ...

class TokenList(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TokenInfo(_message.Message):
    __slots__ = ("token_id", "workspace", "name", "created_at", "last_used_at")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    workspace: str
    name: str
    created_at: float
    last_used_at: float
    def __init__(self, token_id: _Optional[str] = ..., workspace: _Optional[str] = ..., name: _Optional[str] = ..., created_at: _Optional[float] = ..., last_used_at: _Optional[float] = ...) -> None: ...

class TokenListReply(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[TokenInfo]
    def __init__(self, tokens: _Optional[_Iterable[_Union[TokenInfo, _Mapping]]] = ...) -> None: ...

class TokenRevoke(_message.Message):
    __slots__ = ("token_id",)
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    def __init__(self, token_id: _Optional[str] = ...) -> None: ...

class Schedule(_message.Message):
    __slots__ = ("cron", "timezone", "years", "months", "weeks", "days", "hours", "minutes", "seconds")
    CRON_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    YEARS_FIELD_NUMBER: _ClassVar[int]
    MONTHS_FIELD_NUMBER: _ClassVar[int]
    WEEKS_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    HOURS_FIELD_NUMBER: _ClassVar[int]
    MINUTES_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    cron: str
    timezone: str
    years: int
    months: int
    weeks: int
    days: int
    hours: int
    minutes: int
    seconds: float
    def __init__(self, cron: _Optional[str] = ..., timezone: _Optional[str] = ..., years: _Optional[int] = ..., months: _Optional[int] = ..., weeks: _Optional[int] = ..., days: _Optional[int] = ..., hours: _Optional[int] = ..., minutes: _Optional[int] = ..., seconds: _Optional[float] = ...) -> None: ...

class FunctionUpdateAutoscaler(_message.Message):
    __slots__ = ("function_id", "min_containers", "max_containers", "buffer_containers", "scaledown_window_s")
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    BUFFER_CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    SCALEDOWN_WINDOW_S_FIELD_NUMBER: _ClassVar[int]
    function_id: str
    min_containers: int
    max_containers: int
    buffer_containers: int
    scaledown_window_s: float
    def __init__(self, function_id: _Optional[str] = ..., min_containers: _Optional[int] = ..., max_containers: _Optional[int] = ..., buffer_containers: _Optional[int] = ..., scaledown_window_s: _Optional[float] = ...) -> None: ...

class FunctionAutoscaler(_message.Message):
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

class FunctionStatsGet(_message.Message):
    __slots__ = ("function_id",)
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    function_id: str
    def __init__(self, function_id: _Optional[str] = ...) -> None: ...

class FunctionStats(_message.Message):
    __slots__ = ("backlog", "num_total_runners", "num_running_inputs", "input_headroom")
    BACKLOG_FIELD_NUMBER: _ClassVar[int]
    NUM_TOTAL_RUNNERS_FIELD_NUMBER: _ClassVar[int]
    NUM_RUNNING_INPUTS_FIELD_NUMBER: _ClassVar[int]
    INPUT_HEADROOM_FIELD_NUMBER: _ClassVar[int]
    backlog: int
    num_total_runners: int
    num_running_inputs: int
    input_headroom: int
    def __init__(self, backlog: _Optional[int] = ..., num_total_runners: _Optional[int] = ..., num_running_inputs: _Optional[int] = ..., input_headroom: _Optional[int] = ...) -> None: ...

class FunctionVariant(_message.Message):
    __slots__ = ("function_id", "overrides", "fields")
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    function_id: str
    overrides: FunctionSpec
    fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, function_id: _Optional[str] = ..., overrides: _Optional[_Union[FunctionSpec, _Mapping]] = ..., fields: _Optional[_Iterable[str]] = ...) -> None: ...

class CallGraphGet(_message.Message):
    __slots__ = ("call_id",)
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    def __init__(self, call_id: _Optional[str] = ...) -> None: ...

class CallGraphInput(_message.Message):
    __slots__ = ("input_id", "call_id", "container_id", "status", "function_name", "module_name", "parent_input_id")
    INPUT_ID_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_NAME_FIELD_NUMBER: _ClassVar[int]
    MODULE_NAME_FIELD_NUMBER: _ClassVar[int]
    PARENT_INPUT_ID_FIELD_NUMBER: _ClassVar[int]
    input_id: str
    call_id: str
    container_id: str
    status: int
    function_name: str
    module_name: str
    parent_input_id: str
    def __init__(self, input_id: _Optional[str] = ..., call_id: _Optional[str] = ..., container_id: _Optional[str] = ..., status: _Optional[int] = ..., function_name: _Optional[str] = ..., module_name: _Optional[str] = ..., parent_input_id: _Optional[str] = ...) -> None: ...

class CallGraph(_message.Message):
    __slots__ = ("inputs",)
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    inputs: _containers.RepeatedCompositeFieldContainer[CallGraphInput]
    def __init__(self, inputs: _Optional[_Iterable[_Union[CallGraphInput, _Mapping]]] = ...) -> None: ...

class CallHistoryList(_message.Message):
    __slots__ = ("app", "function_name", "status", "since", "limit")
    APP_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    app: str
    function_name: str
    status: str
    since: float
    limit: int
    def __init__(self, app: _Optional[str] = ..., function_name: _Optional[str] = ..., status: _Optional[str] = ..., since: _Optional[float] = ..., limit: _Optional[int] = ...) -> None: ...

class CallHistoryGet(_message.Message):
    __slots__ = ("call_id",)
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    def __init__(self, call_id: _Optional[str] = ...) -> None: ...

class InputOutcome(_message.Message):
    __slots__ = ("idx", "input_id", "status", "message", "traceback", "container_id", "started_at", "finished_at", "attempts")
    IDX_FIELD_NUMBER: _ClassVar[int]
    INPUT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRACEBACK_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    idx: int
    input_id: str
    status: str
    message: str
    traceback: str
    container_id: str
    started_at: float
    finished_at: float
    attempts: int
    def __init__(self, idx: _Optional[int] = ..., input_id: _Optional[str] = ..., status: _Optional[str] = ..., message: _Optional[str] = ..., traceback: _Optional[str] = ..., container_id: _Optional[str] = ..., started_at: _Optional[float] = ..., finished_at: _Optional[float] = ..., attempts: _Optional[int] = ...) -> None: ...

class CallRecord(_message.Message):
    __slots__ = ("call_id", "app_id", "app_name", "function_name", "kind", "source", "status", "created_at", "started_at", "finished_at", "n_inputs", "counts", "container_ids", "outcomes", "node", "message")
    class CountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    N_INPUTS_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_IDS_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    app_id: str
    app_name: str
    function_name: str
    kind: str
    source: str
    status: str
    created_at: float
    started_at: float
    finished_at: float
    n_inputs: int
    counts: _containers.ScalarMap[str, int]
    container_ids: _containers.RepeatedScalarFieldContainer[str]
    outcomes: _containers.RepeatedCompositeFieldContainer[InputOutcome]
    node: str
    message: str
    def __init__(self, call_id: _Optional[str] = ..., app_id: _Optional[str] = ..., app_name: _Optional[str] = ..., function_name: _Optional[str] = ..., kind: _Optional[str] = ..., source: _Optional[str] = ..., status: _Optional[str] = ..., created_at: _Optional[float] = ..., started_at: _Optional[float] = ..., finished_at: _Optional[float] = ..., n_inputs: _Optional[int] = ..., counts: _Optional[_Mapping[str, int]] = ..., container_ids: _Optional[_Iterable[str]] = ..., outcomes: _Optional[_Iterable[_Union[InputOutcome, _Mapping]]] = ..., node: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class CallHistoryReply(_message.Message):
    __slots__ = ("calls",)
    CALLS_FIELD_NUMBER: _ClassVar[int]
    calls: _containers.RepeatedCompositeFieldContainer[CallRecord]
    def __init__(self, calls: _Optional[_Iterable[_Union[CallRecord, _Mapping]]] = ...) -> None: ...

class DashboardLoginCreate(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class DashboardLogin(_message.Message):
    __slots__ = ("url", "expires_at", "error")
    URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    url: str
    expires_at: float
    error: str
    def __init__(self, url: _Optional[str] = ..., expires_at: _Optional[float] = ..., error: _Optional[str] = ...) -> None: ...

class AppPublished(_message.Message):
    __slots__ = ("app_id", "version")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    version: int
    def __init__(self, app_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class AppHistory(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class Deployment(_message.Message):
    __slots__ = ("version", "app_id", "deployed_at", "deployed_by", "tag", "source_hash", "current", "rollback_of")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    DEPLOYED_AT_FIELD_NUMBER: _ClassVar[int]
    DEPLOYED_BY_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    SOURCE_HASH_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    ROLLBACK_OF_FIELD_NUMBER: _ClassVar[int]
    version: int
    app_id: str
    deployed_at: float
    deployed_by: str
    tag: str
    source_hash: str
    current: bool
    rollback_of: int
    def __init__(self, version: _Optional[int] = ..., app_id: _Optional[str] = ..., deployed_at: _Optional[float] = ..., deployed_by: _Optional[str] = ..., tag: _Optional[str] = ..., source_hash: _Optional[str] = ..., current: _Optional[bool] = ..., rollback_of: _Optional[int] = ...) -> None: ...

class AppHistoryReply(_message.Message):
    __slots__ = ("deployments",)
    DEPLOYMENTS_FIELD_NUMBER: _ClassVar[int]
    deployments: _containers.RepeatedCompositeFieldContainer[Deployment]
    def __init__(self, deployments: _Optional[_Iterable[_Union[Deployment, _Mapping]]] = ...) -> None: ...

class AppRollback(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class AppLookup(_message.Message):
    __slots__ = ("name", "create_if_missing")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATE_IF_MISSING_FIELD_NUMBER: _ClassVar[int]
    name: str
    create_if_missing: bool
    def __init__(self, name: _Optional[str] = ..., create_if_missing: _Optional[bool] = ...) -> None: ...

class SandboxSpec(_message.Message):
    __slots__ = ("entrypoint", "image_id", "env", "secret_ids", "volumes", "workdir", "timeout_s", "idle_timeout_s", "resources", "block_network", "encrypted_ports", "unencrypted_ports", "pty", "code_bundle", "readiness_probe")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ENTRYPOINT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    SECRET_IDS_FIELD_NUMBER: _ClassVar[int]
    VOLUMES_FIELD_NUMBER: _ClassVar[int]
    WORKDIR_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    IDLE_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NETWORK_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTED_PORTS_FIELD_NUMBER: _ClassVar[int]
    UNENCRYPTED_PORTS_FIELD_NUMBER: _ClassVar[int]
    PTY_FIELD_NUMBER: _ClassVar[int]
    CODE_BUNDLE_FIELD_NUMBER: _ClassVar[int]
    READINESS_PROBE_FIELD_NUMBER: _ClassVar[int]
    entrypoint: _containers.RepeatedScalarFieldContainer[str]
    image_id: str
    env: _containers.ScalarMap[str, str]
    secret_ids: _containers.RepeatedScalarFieldContainer[str]
    volumes: _containers.RepeatedCompositeFieldContainer[VolumeMount]
    workdir: str
    timeout_s: float
    idle_timeout_s: float
    resources: Resources
    block_network: bool
    encrypted_ports: _containers.RepeatedScalarFieldContainer[int]
    unencrypted_ports: _containers.RepeatedScalarFieldContainer[int]
    pty: bool
    code_bundle: str
    readiness_probe: SandboxProbe
    def __init__(self, entrypoint: _Optional[_Iterable[str]] = ..., image_id: _Optional[str] = ..., env: _Optional[_Mapping[str, str]] = ..., secret_ids: _Optional[_Iterable[str]] = ..., volumes: _Optional[_Iterable[_Union[VolumeMount, _Mapping]]] = ..., workdir: _Optional[str] = ..., timeout_s: _Optional[float] = ..., idle_timeout_s: _Optional[float] = ..., resources: _Optional[_Union[Resources, _Mapping]] = ..., block_network: _Optional[bool] = ..., encrypted_ports: _Optional[_Iterable[int]] = ..., unencrypted_ports: _Optional[_Iterable[int]] = ..., pty: _Optional[bool] = ..., code_bundle: _Optional[str] = ..., readiness_probe: _Optional[_Union[SandboxProbe, _Mapping]] = ...) -> None: ...

class SandboxCreate(_message.Message):
    __slots__ = ("app_id", "name", "tags", "spec")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    name: str
    tags: _containers.ScalarMap[str, str]
    spec: SandboxSpec
    def __init__(self, app_id: _Optional[str] = ..., name: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., spec: _Optional[_Union[SandboxSpec, _Mapping]] = ...) -> None: ...

class SandboxInfo(_message.Message):
    __slots__ = ("sandbox_id", "app_id", "name", "tags", "state", "done", "returncode", "reason", "message", "created_at", "app_name", "tunnels", "ready")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    RETURNCODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    TUNNELS_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    app_id: str
    name: str
    tags: _containers.ScalarMap[str, str]
    state: str
    done: bool
    returncode: int
    reason: str
    message: str
    created_at: float
    app_name: str
    tunnels: _containers.RepeatedCompositeFieldContainer[SandboxTunnel]
    ready: bool
    def __init__(self, sandbox_id: _Optional[str] = ..., app_id: _Optional[str] = ..., name: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., state: _Optional[str] = ..., done: _Optional[bool] = ..., returncode: _Optional[int] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., created_at: _Optional[float] = ..., app_name: _Optional[str] = ..., tunnels: _Optional[_Iterable[_Union[SandboxTunnel, _Mapping]]] = ..., ready: _Optional[bool] = ...) -> None: ...

class SandboxTunnel(_message.Message):
    __slots__ = ("container_port", "host", "port", "encrypted")
    CONTAINER_PORT_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTED_FIELD_NUMBER: _ClassVar[int]
    container_port: int
    host: str
    port: int
    encrypted: bool
    def __init__(self, container_port: _Optional[int] = ..., host: _Optional[str] = ..., port: _Optional[int] = ..., encrypted: _Optional[bool] = ...) -> None: ...

class SandboxGet(_message.Message):
    __slots__ = ("sandbox_id", "app_name", "name", "include_terminated")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TERMINATED_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    app_name: str
    name: str
    include_terminated: bool
    def __init__(self, sandbox_id: _Optional[str] = ..., app_name: _Optional[str] = ..., name: _Optional[str] = ..., include_terminated: _Optional[bool] = ...) -> None: ...

class SandboxList(_message.Message):
    __slots__ = ("app_id", "tags", "include_finished")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_FINISHED_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    tags: _containers.ScalarMap[str, str]
    include_finished: bool
    def __init__(self, app_id: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., include_finished: _Optional[bool] = ...) -> None: ...

class SandboxListReply(_message.Message):
    __slots__ = ("sandboxes",)
    SANDBOXES_FIELD_NUMBER: _ClassVar[int]
    sandboxes: _containers.RepeatedCompositeFieldContainer[SandboxInfo]
    def __init__(self, sandboxes: _Optional[_Iterable[_Union[SandboxInfo, _Mapping]]] = ...) -> None: ...

class SandboxSetTags(_message.Message):
    __slots__ = ("sandbox_id", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    tags: _containers.ScalarMap[str, str]
    def __init__(self, sandbox_id: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SandboxWait(_message.Message):
    __slots__ = ("sandbox_id", "timeout_s")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    timeout_s: float
    def __init__(self, sandbox_id: _Optional[str] = ..., timeout_s: _Optional[float] = ...) -> None: ...

class SandboxTerminate(_message.Message):
    __slots__ = ("sandbox_id",)
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    def __init__(self, sandbox_id: _Optional[str] = ...) -> None: ...

class SandboxExec(_message.Message):
    __slots__ = ("sandbox_id", "exec_id", "args", "workdir", "env", "secret_ids", "stdout", "stderr", "timeout_s", "pty", "window")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    WORKDIR_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    SECRET_IDS_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    PTY_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    exec_id: str
    args: _containers.RepeatedScalarFieldContainer[str]
    workdir: str
    env: _containers.ScalarMap[str, str]
    secret_ids: _containers.RepeatedScalarFieldContainer[str]
    stdout: int
    stderr: int
    timeout_s: float
    pty: bool
    window: int
    def __init__(self, sandbox_id: _Optional[str] = ..., exec_id: _Optional[str] = ..., args: _Optional[_Iterable[str]] = ..., workdir: _Optional[str] = ..., env: _Optional[_Mapping[str, str]] = ..., secret_ids: _Optional[_Iterable[str]] = ..., stdout: _Optional[int] = ..., stderr: _Optional[int] = ..., timeout_s: _Optional[float] = ..., pty: _Optional[bool] = ..., window: _Optional[int] = ...) -> None: ...

class SandboxExecStarted(_message.Message):
    __slots__ = ("exec_id",)
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    exec_id: str
    def __init__(self, exec_id: _Optional[str] = ...) -> None: ...

class SandboxRead(_message.Message):
    __slots__ = ("sandbox_id", "exec_id", "fd", "max_bytes")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    FD_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    exec_id: str
    fd: int
    max_bytes: int
    def __init__(self, sandbox_id: _Optional[str] = ..., exec_id: _Optional[str] = ..., fd: _Optional[int] = ..., max_bytes: _Optional[int] = ...) -> None: ...

class SandboxData(_message.Message):
    __slots__ = ("exec_id", "fd", "data", "eof")
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    FD_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EOF_FIELD_NUMBER: _ClassVar[int]
    exec_id: str
    fd: int
    data: bytes
    eof: bool
    def __init__(self, exec_id: _Optional[str] = ..., fd: _Optional[int] = ..., data: _Optional[bytes] = ..., eof: _Optional[bool] = ...) -> None: ...

class SandboxStdin(_message.Message):
    __slots__ = ("sandbox_id", "exec_id", "data", "eof", "seq", "resize_rows", "resize_cols")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EOF_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    RESIZE_ROWS_FIELD_NUMBER: _ClassVar[int]
    RESIZE_COLS_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    exec_id: str
    data: bytes
    eof: bool
    seq: int
    resize_rows: int
    resize_cols: int
    def __init__(self, sandbox_id: _Optional[str] = ..., exec_id: _Optional[str] = ..., data: _Optional[bytes] = ..., eof: _Optional[bool] = ..., seq: _Optional[int] = ..., resize_rows: _Optional[int] = ..., resize_cols: _Optional[int] = ...) -> None: ...

class SandboxStdinAck(_message.Message):
    __slots__ = ("exec_id", "seq")
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    exec_id: str
    seq: int
    def __init__(self, exec_id: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...

class SandboxCredit(_message.Message):
    __slots__ = ("exec_id", "fd", "bytes")
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    FD_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    exec_id: str
    fd: int
    bytes: int
    def __init__(self, exec_id: _Optional[str] = ..., fd: _Optional[int] = ..., bytes: _Optional[int] = ...) -> None: ...

class SandboxExecWait(_message.Message):
    __slots__ = ("sandbox_id", "exec_id", "timeout_s")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    exec_id: str
    timeout_s: float
    def __init__(self, sandbox_id: _Optional[str] = ..., exec_id: _Optional[str] = ..., timeout_s: _Optional[float] = ...) -> None: ...

class SandboxExecExit(_message.Message):
    __slots__ = ("exec_id", "done", "returncode", "message")
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    RETURNCODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    exec_id: str
    done: bool
    returncode: int
    message: str
    def __init__(self, exec_id: _Optional[str] = ..., done: _Optional[bool] = ..., returncode: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class SandboxFileOp(_message.Message):
    __slots__ = ("sandbox_id", "op_id", "op", "path", "data", "parents", "recursive", "append", "offset", "length", "at_offset")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    OP_ID_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    PARENTS_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    APPEND_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    AT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    op_id: str
    op: str
    path: str
    data: bytes
    parents: bool
    recursive: bool
    append: bool
    offset: int
    length: int
    at_offset: bool
    def __init__(self, sandbox_id: _Optional[str] = ..., op_id: _Optional[str] = ..., op: _Optional[str] = ..., path: _Optional[str] = ..., data: _Optional[bytes] = ..., parents: _Optional[bool] = ..., recursive: _Optional[bool] = ..., append: _Optional[bool] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ..., at_offset: _Optional[bool] = ...) -> None: ...

class SandboxFileEntry(_message.Message):
    __slots__ = ("path", "type", "size", "mode", "mtime", "owner", "group", "symlink_target")
    PATH_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MTIME_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    SYMLINK_TARGET_FIELD_NUMBER: _ClassVar[int]
    path: str
    type: str
    size: int
    mode: int
    mtime: float
    owner: str
    group: str
    symlink_target: str
    def __init__(self, path: _Optional[str] = ..., type: _Optional[str] = ..., size: _Optional[int] = ..., mode: _Optional[int] = ..., mtime: _Optional[float] = ..., owner: _Optional[str] = ..., group: _Optional[str] = ..., symlink_target: _Optional[str] = ...) -> None: ...

class SandboxFileResult(_message.Message):
    __slots__ = ("op_id", "error", "message", "data", "entries", "eof")
    OP_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    EOF_FIELD_NUMBER: _ClassVar[int]
    op_id: str
    error: str
    message: str
    data: bytes
    entries: _containers.RepeatedCompositeFieldContainer[SandboxFileEntry]
    eof: bool
    def __init__(self, op_id: _Optional[str] = ..., error: _Optional[str] = ..., message: _Optional[str] = ..., data: _Optional[bytes] = ..., entries: _Optional[_Iterable[_Union[SandboxFileEntry, _Mapping]]] = ..., eof: _Optional[bool] = ...) -> None: ...

class SandboxHello(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SandboxSnapshotFs(_message.Message):
    __slots__ = ("sandbox_id",)
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    def __init__(self, sandbox_id: _Optional[str] = ...) -> None: ...

class TunnelOpen(_message.Message):
    __slots__ = ("port", "unencrypted")
    PORT_FIELD_NUMBER: _ClassVar[int]
    UNENCRYPTED_FIELD_NUMBER: _ClassVar[int]
    port: int
    unencrypted: bool
    def __init__(self, port: _Optional[int] = ..., unencrypted: _Optional[bool] = ...) -> None: ...

class TunnelClose(_message.Message):
    __slots__ = ("port",)
    PORT_FIELD_NUMBER: _ClassVar[int]
    port: int
    def __init__(self, port: _Optional[int] = ...) -> None: ...

class SandboxProbe(_message.Message):
    __slots__ = ("tcp_port", "exec_argv", "interval_ms")
    TCP_PORT_FIELD_NUMBER: _ClassVar[int]
    EXEC_ARGV_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    tcp_port: int
    exec_argv: _containers.RepeatedScalarFieldContainer[str]
    interval_ms: int
    def __init__(self, tcp_port: _Optional[int] = ..., exec_argv: _Optional[_Iterable[str]] = ..., interval_ms: _Optional[int] = ...) -> None: ...

class SandboxReady(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SandboxWaitReady(_message.Message):
    __slots__ = ("sandbox_id", "timeout_s")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    timeout_s: float
    def __init__(self, sandbox_id: _Optional[str] = ..., timeout_s: _Optional[float] = ...) -> None: ...

class SandboxSnapshotDir(_message.Message):
    __slots__ = ("sandbox_id", "path")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    path: str
    def __init__(self, sandbox_id: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class SandboxMountImage(_message.Message):
    __slots__ = ("sandbox_id", "path", "image_id")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    path: str
    image_id: str
    def __init__(self, sandbox_id: _Optional[str] = ..., path: _Optional[str] = ..., image_id: _Optional[str] = ...) -> None: ...

class TerminalInput(_message.Message):
    __slots__ = ("app_id", "data", "eof")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EOF_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    data: bytes
    eof: bool
    def __init__(self, app_id: _Optional[str] = ..., data: _Optional[bytes] = ..., eof: _Optional[bool] = ...) -> None: ...

class TerminalRead(_message.Message):
    __slots__ = ("max_bytes",)
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    max_bytes: int
    def __init__(self, max_bytes: _Optional[int] = ...) -> None: ...

class TerminalData(_message.Message):
    __slots__ = ("data", "eof", "fd", "app_id", "wants_input")
    DATA_FIELD_NUMBER: _ClassVar[int]
    EOF_FIELD_NUMBER: _ClassVar[int]
    FD_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    WANTS_INPUT_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    eof: bool
    fd: int
    app_id: str
    wants_input: bool
    def __init__(self, data: _Optional[bytes] = ..., eof: _Optional[bool] = ..., fd: _Optional[int] = ..., app_id: _Optional[str] = ..., wants_input: _Optional[bool] = ...) -> None: ...

class NodeList(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NodeInfo(_message.Message):
    __slots__ = ("node_id", "address", "state", "cpu", "cpu_used", "memory_mib", "memory_used_mib", "gpus", "gpus_used", "containers", "lost_because")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CPU_FIELD_NUMBER: _ClassVar[int]
    CPU_USED_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MIB_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_MIB_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    GPUS_USED_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    LOST_BECAUSE_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    address: str
    state: str
    cpu: float
    cpu_used: float
    memory_mib: int
    memory_used_mib: int
    gpus: _containers.RepeatedScalarFieldContainer[str]
    gpus_used: int
    containers: int
    lost_because: str
    def __init__(self, node_id: _Optional[str] = ..., address: _Optional[str] = ..., state: _Optional[str] = ..., cpu: _Optional[float] = ..., cpu_used: _Optional[float] = ..., memory_mib: _Optional[int] = ..., memory_used_mib: _Optional[int] = ..., gpus: _Optional[_Iterable[str]] = ..., gpus_used: _Optional[int] = ..., containers: _Optional[int] = ..., lost_because: _Optional[str] = ...) -> None: ...

class NodeListReply(_message.Message):
    __slots__ = ("nodes", "waiting", "ray_address")
    NODES_FIELD_NUMBER: _ClassVar[int]
    WAITING_FIELD_NUMBER: _ClassVar[int]
    RAY_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[NodeInfo]
    waiting: _containers.RepeatedScalarFieldContainer[str]
    ray_address: str
    def __init__(self, nodes: _Optional[_Iterable[_Union[NodeInfo, _Mapping]]] = ..., waiting: _Optional[_Iterable[str]] = ..., ray_address: _Optional[str] = ...) -> None: ...

class NodeFetch(_message.Message):
    __slots__ = ("kind", "key", "offset", "length")
    KIND_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    kind: str
    key: str
    offset: int
    length: int
    def __init__(self, kind: _Optional[str] = ..., key: _Optional[str] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class NodeData(_message.Message):
    __slots__ = ("size", "sha256", "eof")
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    EOF_FIELD_NUMBER: _ClassVar[int]
    size: int
    sha256: str
    eof: bool
    def __init__(self, size: _Optional[int] = ..., sha256: _Optional[str] = ..., eof: _Optional[bool] = ...) -> None: ...

class RelayOpen(_message.Message):
    __slots__ = ("secret", "container_id", "socket")
    SECRET_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    SOCKET_FIELD_NUMBER: _ClassVar[int]
    secret: str
    container_id: str
    socket: str
    def __init__(self, secret: _Optional[str] = ..., container_id: _Optional[str] = ..., socket: _Optional[str] = ...) -> None: ...

class RelayOpened(_message.Message):
    __slots__ = ("error",)
    ERROR_FIELD_NUMBER: _ClassVar[int]
    error: str
    def __init__(self, error: _Optional[str] = ...) -> None: ...

class SandboxConnectToken(_message.Message):
    __slots__ = ("sandbox_id", "user_metadata", "port")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    USER_METADATA_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    user_metadata: str
    port: int
    def __init__(self, sandbox_id: _Optional[str] = ..., user_metadata: _Optional[str] = ..., port: _Optional[int] = ...) -> None: ...

class SandboxConnectCredentials(_message.Message):
    __slots__ = ("url", "token", "path_url")
    URL_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    PATH_URL_FIELD_NUMBER: _ClassVar[int]
    url: str
    token: str
    path_url: str
    def __init__(self, url: _Optional[str] = ..., token: _Optional[str] = ..., path_url: _Optional[str] = ...) -> None: ...

class SandboxServePort(_message.Message):
    __slots__ = ("port",)
    PORT_FIELD_NUMBER: _ClassVar[int]
    port: int
    def __init__(self, port: _Optional[int] = ...) -> None: ...

class ClusterGet(_message.Message):
    __slots__ = ("cluster_id",)
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    cluster_id: str
    def __init__(self, cluster_id: _Optional[str] = ...) -> None: ...

class ClusterMembers(_message.Message):
    __slots__ = ("cluster_id", "container_ids", "container_ips")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_IDS_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_IPS_FIELD_NUMBER: _ClassVar[int]
    cluster_id: str
    container_ids: _containers.RepeatedScalarFieldContainer[str]
    container_ips: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cluster_id: _Optional[str] = ..., container_ids: _Optional[_Iterable[str]] = ..., container_ips: _Optional[_Iterable[str]] = ...) -> None: ...

class ImagePublish(_message.Message):
    __slots__ = ("name", "image_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    image_id: str
    def __init__(self, name: _Optional[str] = ..., image_id: _Optional[str] = ...) -> None: ...

class ImageFromName(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ImageNamed(_message.Message):
    __slots__ = ("name", "image_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    image_id: str
    def __init__(self, name: _Optional[str] = ..., image_id: _Optional[str] = ...) -> None: ...
