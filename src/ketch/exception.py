"""Errors raised by ketch, named as in Modal's `modal.exception`."""

from __future__ import annotations

import builtins

from ._missing import not_yet


class Error(Exception):
    """Base class for every error ketch raises."""


class InvalidError(Error):
    """A value given to ketch is not valid; the message says which and how to fix it."""


class NotFoundError(Error):
    """The named app, function, call or object does not exist."""


class AlreadyExistsError(Error):
    pass


class AuthError(Error):
    """The server rejected the token."""


class ConnectionError(Error, builtins.ConnectionError):
    """The ketch server could not be reached."""


class VersionError(Error):
    """Client and container Python versions do not match."""


class SerializationError(Error):
    """An argument or result could not be pickled."""


class DeserializationError(Error):
    """A result or exception could not be unpickled in the caller."""


class ExecutionError(Error):
    """ketch could not run the input (e.g. the container could not start)."""


class InternalError(Error):
    pass


class ResourceError(Error):
    """The request for CPU, memory or GPUs cannot be met by the server."""


class TimeoutError(Error, builtins.TimeoutError):
    """A wait ran past its timeout (e.g. `FunctionCall.get(timeout=...)`)."""


class FunctionTimeoutError(TimeoutError):
    """The function ran past its `timeout=`; its container was stopped."""


class RemoteError(Error):
    """The remote code raised an exception that could not be rebuilt here."""


class ContainerCrashError(ExecutionError):
    """The container died while running the input (crash, kill, `os._exit`)."""


class InputCancellation(Error):
    """The input was cancelled (e.g. by `FunctionCall.cancel()`)."""


class OutputExpiredError(TimeoutError):
    pass


class SandboxTimeoutError(TimeoutError):
    """A sandbox reached its timeout (or idle_timeout) and was ended."""


class SandboxTerminatedError(Error):
    """A sandbox was ended from outside (terminate(), `ketch container stop`, its memory
    limit, the server stopping) before its entrypoint finished."""


class FilesystemExecutionError(Error):
    """A file operation of the older sandbox API (sb.open, ls, mkdir, rm) failed for a
    reason Python has no exception of its own for."""


class SandboxFilesystemError(Error):
    """A `sb.filesystem` operation failed."""


class SandboxFilesystemNotFoundError(SandboxFilesystemError):
    pass


class SandboxFilesystemDirectoryNotEmptyError(SandboxFilesystemError):
    pass


class SandboxFilesystemIsADirectoryError(SandboxFilesystemError):
    pass


class SandboxFilesystemNotADirectoryError(SandboxFilesystemError):
    pass


class SandboxFilesystemPathAlreadyExistsError(SandboxFilesystemError):
    pass


class SandboxFilesystemPermissionError(SandboxFilesystemError):
    pass


# Modal's errors that ketch never raises (for the features it lacks, or for Modal's cloud).
_NEVER_RAISED = "ketch never raises it; catch ketch.exception.Error"
__getattr__ = not_yet(__name__, {
    **{name: _NEVER_RAISED for name in (
        "AsyncUsageWarning", "ClientClosed", "ConflictError", "DataLossError",
        "DeprecationError", "ExecTimeoutError", "ImageBuildError", "InteractiveTimeoutError",
        "InternalAPIWarning", "InternalFailure", "LogsFetchError", "ModuleNotMountable",
        "MountUploadTimeoutError", "PermissionDeniedError", "RequestSizeError",
        "ResourceExhaustedError", "ServerWarning", "ServiceError", "SnapshotCreationError",
        "UnimplementedError", "UserCodeException", "VolumeUploadTimeoutError",
        "WorkspaceManagementError")},
    "SandboxFilesystemFileTooLargeError": "a limit on sandbox file reads; ketch streams "
                                          "files of any size",
    "simulate_preemption": "preemption; stop a container with `ketch container stop ID`",
})
