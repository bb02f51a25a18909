"""The autoscaler's policy on its own: records in, a plan out, no server."""

from ketch.proto import ketch_pb2 as pb
from ketch.server import autoscaler
from ketch.server.functions.model import AppRecord, ContainerRecord, FunctionRecord, \
    InputItem
from ketch.server.resources import MachineResources, Reservation

NOW = 1000.0


def function(name="f", cpu=1.0, memory=128, **scaling) -> FunctionRecord:
    spec = pb.FunctionSpec(name=name, timeout_s=60,
                           resources=pb.Resources(cpu_request=cpu, memory_request_mib=memory),
                           scaling=pb.Scaling(**scaling))
    return FunctionRecord(f"fu-{name}", AppRecord("ap-1", "app", "deployed", None), spec)


def queue(fn: FunctionRecord, n: int):
    fn.queue.extend(InputItem(None, pb.Input()) for _ in range(n))


def container(fn: FunctionRecord, state="ready", idle_since=0.0, busy=0) -> ContainerRecord:
    c = ContainerRecord(f"ta-{len(fn.containers)}-{fn.label}", fn)
    c.state = state
    c.idle_since = idle_since
    c.reservation = Reservation(fn.spec.resources.cpu_request,
                                fn.spec.resources.memory_request_mib)
    for i in range(busy):
        c.inflight[f"in-{i}"] = InputItem(None, pb.Input())
    fn.containers[c.id] = c
    return c


def plan(fn, resources=None, others=()):
    resources = resources or MachineResources(cpu=64, memory_mib=1 << 16, gpus=[])
    functions = [fn, *others]
    containers = [c for f in functions for c in f.containers.values()]
    return autoscaler.plan(fn, NOW, resources, functions, containers)


def test_min_containers_start_with_no_work():
    fn = function(min_containers=2)
    assert plan(fn).start == 2


def test_nothing_to_do_wants_nothing():
    assert plan(function()) == autoscaler.ScalePlan()


def test_buffer_containers_are_added_while_there_is_work():
    fn = function(buffer_containers=1)
    queue(fn, 1)
    assert autoscaler.desired(fn) == 2
    assert autoscaler.desired(function(buffer_containers=1)) == 0


def test_max_containers_caps_the_count():
    fn = function(max_containers=3)
    queue(fn, 10)
    assert autoscaler.desired(fn) == 3


def test_backlog_sizing_by_inputs_per_container():
    fn = function()
    fn.spec.max_inputs = 4
    queue(fn, 10)
    assert autoscaler.desired(fn) == 3  # ceil(10 / 4)
    fn.spec.target_inputs = 5
    assert autoscaler.desired(fn) == 2


def test_measured_run_time_drains_the_backlog_in_about_a_second():
    fn = function()
    queue(fn, 100)
    fn.avg_duration = 0.02  # 100 inputs x 20 ms = 2 s of work
    assert autoscaler.desired(fn) == 2


def test_unmeasured_functions_ramp_up_by_doubling():
    fn = function()
    queue(fn, 100)
    assert plan(fn).start == autoscaler.RAMP_START
    for _ in range(4):
        container(fn, busy=1)
    assert plan(fn).start == 8


def test_idle_containers_scale_to_zero_after_the_window():
    fn = function(scaledown_window_s=60)
    recent = container(fn, idle_since=NOW - 10)
    assert plan(fn).scale_down == []
    old = container(fn, idle_since=NOW - 61)
    assert plan(fn).scale_down == [old]
    recent.idle_since = NOW - 120
    assert plan(fn).scale_down == [recent, old]  # the longest idle first


def test_busy_and_min_containers_are_not_scaled_down():
    fn = function(min_containers=2)
    container(fn, idle_since=NOW - 1000)
    container(fn, idle_since=NOW - 1000, busy=1)
    assert plan(fn).scale_down == []
    fn.spec.scaling.min_containers = 0   # one input runs: one container is wanted
    idle = [c for c in fn.containers.values() if c.idle]
    assert plan(fn).scale_down == idle


def test_backoff_delays_warm_containers_but_not_waiting_inputs():
    fn = function(min_containers=1)
    fn.start_after = NOW + 5
    assert plan(fn).start == 0
    queue(fn, 1)
    assert plan(fn).start == 1


def test_only_what_fits_starts():
    fn = function(cpu=2)
    queue(fn, 10)
    fn.avg_duration = 10.0
    resources = MachineResources(cpu=5, memory_mib=1 << 16, gpus=[])
    assert plan(fn, resources).start == 2


def test_a_full_machine_evicts_idle_containers_of_other_functions():
    resources = MachineResources(cpu=2, memory_mib=1 << 16, gpus=[])
    other = function("other", min_containers=1)
    keep = container(other, idle_since=NOW - 1)     # its min_containers
    spare = container(other, idle_since=NOW - 50)
    resources.cpu_used = 2.0
    fn = function("f")
    queue(fn, 1)
    p = plan(fn, resources, [other])
    assert p.start == 0 and p.evict == [spare] and keep not in p.evict


def test_busy_containers_are_never_evicted():
    resources = MachineResources(cpu=1, memory_mib=1 << 16, gpus=[])
    other = function("other")
    container(other, busy=1)
    resources.cpu_used = 1.0
    fn = function("f")
    queue(fn, 1)
    assert plan(fn, resources, [other]).evict == []


def test_no_eviction_while_enough_is_already_stopping():
    resources = MachineResources(cpu=1, memory_mib=1 << 16, gpus=[])
    other = function("other")
    container(other, state="stopping")
    container(other, idle_since=NOW - 50)
    resources.cpu_used = 1.0
    fn = function("f")
    queue(fn, 1)
    assert plan(fn, resources, [other]).evict == []
