"""Modal's `modal.types`: the data types ketch has; the rest describe what ketch does not
have yet."""

from typing import Literal

from ._autoscaler import FunctionAutoscalerSettings, FunctionCurrentStats
from ._call_graph import InputInfo, InputStatus
from ._missing import not_yet
from ._sandbox_connect import SandboxConnectCredentials
from ._sandbox_fs import FileInfo, FileType
from ._sandbox_logs import LogEntry
from ._volume import FileEntry, FileEntryType

__all__ = ["FileEntry", "FileEntryType", "FileInfo", "FileType", "FunctionAutoscalerSettings",
           "FunctionCurrentStats", "InputInfo", "InputStatus", "LogEntry", "LogSource",
           "SandboxConnectCredentials"]

LogSource = Literal["stdout", "stderr", "system"]

_TYPES = ("AppInfo", "AppLifecycle", "AppState", "AppStats", "BillingReportItem",
          "CloudBucketMountInfo", "DictInfo", "EnvironmentBillingSummary",
          "FileWatchEvent", "FileWatchEventType", "FunctionInfo", "FunctionStats",
          "MemberTokenInfo", "MetricDefinition", "MetricSeries",
          "MetricsSchema", "ObjectMetrics", "ProxyTokenInfo", "QueueInfo",
          "SandboxGroupStats", "SandboxRuntime", "SandboxStats",
          "SecretInfo", "ServerAutoscalerSettings", "ServerContainerInfo", "ServerInfo",
          "ServerSessionCredentials", "ServerStats", "ServiceUserInfo", "StatsPercentile",
          "StatsPercentileDistribution", "TimeSeriesPoint", "TokenData", "VolumeCreateOptions",
          "VolumeInfo", "VolumeMountInfo", "WorkspaceBillingSummary", "WorkspaceMemberInfo",
          "WorkspaceSettings")
__getattr__ = not_yet(__name__, {name: "the API that returns it is not in ketch yet; the "
                                 "`ketch` CLI's --json output carries what ketch knows"
                                 for name in _TYPES})
