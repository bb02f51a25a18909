"""A live function's autoscaler settings and current load, as Modal's
`update_autoscaler()` and `get_current_stats()` give them."""

from __future__ import annotations

from dataclasses import dataclass

from ._client import Client
from .exception import InvalidError
from .proto import ketch_pb2 as pb


@dataclass(frozen=True)
class FunctionAutoscalerSettings:
    """The autoscaler settings in force (max_containers None: no limit)."""

    min_containers: int | None
    max_containers: int | None
    scaledown_window: int | None
    buffer_containers: int | None


@dataclass(frozen=True)
class FunctionCurrentStats:
    """A function's load now: inputs waiting, containers, inputs running, free slots."""

    backlog: int
    num_total_runners: int
    num_running_inputs: int
    input_headroom: int


def _count(where: str, name: str, value, low: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidError(f"{where}({name}={value!r}): give an int >= {low}, or leave it out "
                           "to keep the current value")
    return value


async def update(client: Client, function_id: str, where: str, *, min_containers=None,
                 max_containers=None, buffer_containers=None, scaledown_window=None
                 ) -> FunctionAutoscalerSettings:
    msg = pb.FunctionUpdateAutoscaler(
        function_id=function_id,
        min_containers=_count(where, "min_containers", min_containers, 0),
        max_containers=_count(where, "max_containers", max_containers, 1),
        buffer_containers=_count(where, "buffer_containers", buffer_containers, 0),
        scaledown_window_s=_count(where, "scaledown_window", scaledown_window, 1))
    s = (await client.request(function_update_autoscaler=msg)).function_autoscaler
    return FunctionAutoscalerSettings(s.min_containers, s.max_containers or None,
                                      int(s.scaledown_window_s), s.buffer_containers)


async def current_stats(client: Client, function_id: str) -> FunctionCurrentStats:
    s = (await client.request(function_stats_get=pb.FunctionStatsGet(
        function_id=function_id))).function_stats
    return FunctionCurrentStats(s.backlog, s.num_total_runners, s.num_running_inputs,
                                s.input_headroom)
