"""Calls: their inputs join the function's queue, are dispatched to ready containers,
and end in outputs routed to the caller (or the store, for spawned calls):
create_call → add_inputs → dispatch → container_outputs → end_attempt (retry or deliver);
cancel_call and close_call end a call early; an input past its timeout stops its container;
every input that was accepted ends in exactly one final output (a gang's: rank 0's).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
from typing import Callable

from ..._serialization import batches_by_size, inputs_frame, outputs_frame, serialize
from ...exception import ContainerCrashError, ExecutionError, FunctionTimeoutError, \
    InputCancellation, ResourceError
from ...proto import ketch_pb2 as pb
from . import gangs
from .call_graph import CallGraph
from .callbacks import History, StopContainer
from .model import FINAL, Call, ContainerRecord, Deadline, FunctionRecord, InputItem, Peer, \
    StopReason
from .registry import Registry

# How long a cancelled input's code gets to stop before its container is stopped instead.
CANCEL_GRACE_S = 1.0


class Calls:
    def __init__(self, store, registry: Registry, loop: asyncio.AbstractEventLoop,
                 stop_container: StopContainer,
                 wants_containers: Callable[[FunctionRecord], None], graph: CallGraph,
                 history: History):
        self.store = store
        self.history = history
        self.registry = registry
        self.loop = loop
        self.stop_container = stop_container
        self.wants_containers = wants_containers   # its queue grew: ask the autoscaler
        self.graph = graph                         # which input made which call
        self.calls: dict[str, Call] = {}
        self._input_ids = itertools.count(1)       # unique per server process

    def _next_input_id(self) -> str:
        return f"in-{next(self._input_ids)}"

    # ------------------------------------------------------------------ calls

    def create_call(self, peer: Peer, call_id: str, fn: FunctionRecord, kind: int,
                    inputs, is_generator: bool, source: str = "", parent_input_id: str = ""
                    ) -> Call:
        """`source` says what started it for the call history: "" for a client's call,
        "schedule" for a scheduled run; `parent_input_id` the input whose code made it."""
        if call_id in self.calls or not call_id:
            raise ValueError(f"call id {call_id!r} is already in use")
        call = Call(call_id, fn, kind, None if kind == pb.SPAWN else peer, is_generator)
        call.source = source
        self.calls[call_id] = call
        self.graph.called(call_id, fn.app.workspace, fn.spec, parent_input_id)
        self.history.call_created(call, source, streamed=not inputs)
        if call.durable:
            self.store.add_call(call_id, fn.id, fn.app.workspace)
            if not inputs:
                peer.spawning.add(call_id)
        else:
            peer.calls.add(call_id)
        if inputs:
            # A spawn with its input in the create message is complete; a spawn_map
            # creates first and streams its inputs.
            self.add_inputs(call, inputs, last=kind == pb.SPAWN)
        return call

    def add_inputs(self, call: Call, inputs, last: bool = False):
        if call.cancelled:  # nothing more runs; the end of its inputs still ends it
            if last and not call.inputs_done:
                call.inputs_done = True
                if call.finished:
                    self._all_delivered(call)
            return
        fn = call.fn
        items = []
        for msg in inputs:
            msg.input_id = self._next_input_id()
            msg.call_id = call.id
            msg.is_generator = call.is_generator
            items.append(InputItem(call, msg))
            self.graph.queued(call.id, msg.input_id, msg.method)
        call.n_inputs += len(items)
        if call.durable:
            self.store.add_call_inputs(call.id, [(i.msg.idx, i.msg.SerializeToString())
                                                 for i in items])
        if last:
            call.inputs_done = True
            if call.finished:  # its last batch came after its last output
                self._all_delivered(call)
        fn.queue.extend(items)
        fn.last_active = time.monotonic()
        self._limit_wait(fn, items)
        self.dispatch(fn)
        self.wants_containers(fn)

    def _limit_wait(self, fn: FunctionRecord, items: list[InputItem]):
        """Inputs of a function this machine cannot run fail after its startup limit,
        unless something ran them meanwhile (a node that can was added)."""
        if fn.unplaceable and items:
            self.loop.call_later(fn.startup_limit_s, self._fail_unplaced, fn, items)

    def _fail_unplaced(self, fn: FunctionRecord, items: list[InputItem]):
        queued = set(fn.queue)
        waiting = {item for item in items if item in queued}
        if not waiting:
            return
        kept = [i for i in fn.queue if i not in waiting]
        fn.queue.clear()
        fn.queue.extend(kept)
        err = ResourceError(f"{fn.label} {fn.unplaceable}, so no container could start for "
                            f"this input within {fn.startup_limit_s:g} s; lower the request, "
                            "or run it where a node can meet it (a longer startup_timeout= "
                            "waits longer)")
        for item in items:
            if item in waiting:
                self.deliver_error(item, pb.INTERNAL_ERROR, err)

    def resume_spawned(self, successor: Callable[[str], FunctionRecord | None]):
        """After a restart: requeue unanswered spawned inputs (a drained version: its successor's)."""
        for call_id, function_id in self.store.open_calls():
            fn = self.registry.functions.get(function_id) or successor(function_id)
            if fn is None:
                self._fail_stored_call(call_id, "its app is no longer deployed")
                continue
            call = Call(call_id, fn, pb.SPAWN, None, False)
            call.inputs_done = True  # what was stored is all there will be
            self.calls[call_id] = call
            done = sum(1 for _, output in self.store.call_outputs(call_id) if output is not None)
            pending = self.store.pending_inputs(call_id)
            call.n_inputs = done + len(pending)
            call.n_final = done
            items = []
            for _, data in pending:
                msg = pb.Input.FromString(data)
                msg.input_id = self._next_input_id()
                items.append(InputItem(call, msg))
            fn.queue.extend(items)
            self._limit_wait(fn, items)
            if call.finished:
                self._complete_spawned(call)
            elif fn.queue:
                self.wants_containers(fn)

    def _fail_stored_call(self, call_id: str, why: str):
        data, message = serialize(ExecutionError(f"this call cannot run: {why}")), why
        for idx, output in self.store.call_outputs(call_id):
            if output is None:
                out = pb.Output(call_id=call_id, idx=idx, status=pb.INTERNAL_ERROR, data=data,
                                message=message)
                self.store.set_call_output(call_id, idx, out.SerializeToString())
        self.store.finish_call(call_id)

    def cancel_call_request(self, workspace: str, call_id: str, terminate_containers: bool):
        """A caller's cancel: the call must exist, live or stored, in its workspace."""
        call = self.calls.get(call_id)
        if call is not None:
            known = call.fn.app.workspace == workspace
        else:
            known = self.store.call(call_id, workspace) is not None
        if not known:
            raise LookupError(f"no function call with id {call_id}")
        self.cancel_call(call_id, terminate_containers)

    def cancel_call(self, call_id: str, terminate_containers: bool):
        call = self.calls.get(call_id)
        if call is None:
            return
        call.cancelled = True
        fn = call.fn
        err = InputCancellation("the call was cancelled")
        kept = collections.deque()
        for item in fn.queue:
            if item.call is call:
                self.deliver_error(item, pb.CANCELLED, err)
            else:
                kept.append(item)
        fn.queue = kept
        self.drop_delayed(fn, call, pb.CANCELLED, err)
        for c in list(fn.containers.values()):
            ids = [i for i, item in c.inflight.items() if item.call is call]
            if not ids:
                continue
            if terminate_containers:
                self._cancel_and_stop(c, ids, err, StopReason.CALL_CANCELLED)
            elif c.conn is not None:
                c.conn.send(pb.Frame(cancel_inputs=pb.CancelInputs(input_ids=ids)))
                # Sync code blocked in C (a sleep, a read) cannot be interrupted: if it has
                # not stopped after a grace period, its container is stopped instead.
                self.loop.call_later(CANCEL_GRACE_S, self._enforce_cancel, c, ids)

    def _enforce_cancel(self, c: ContainerRecord, input_ids: list[str]):
        stuck = [i for i in input_ids if i in c.inflight]
        if not stuck or c.state == "stopping":
            return
        self._cancel_and_stop(c, stuck, InputCancellation("the call was cancelled"),
                              StopReason.CANCEL_IGNORED)

    def _cancel_and_stop(self, c: ContainerRecord, input_ids: list[str], err: BaseException,
                         reason: StopReason):
        """Ends these running inputs as cancelled and kills their container; its other
        inputs go back to the queue."""
        for input_id in input_ids:
            item = c.inflight.pop(input_id)
            self.release(item)
            self.deliver_error(item, pb.CANCELLED, err)
        c.requeue_on_exit = True
        self.stop_container(c, reason, kill=True)

    def close_call(self, call_id: str):
        """The caller no longer wants outputs (a map that raised, or a closed connection)."""
        call = self.calls.get(call_id)
        if call is None or call.durable:
            return
        call.inputs_done = True
        self.cancel_call(call_id, terminate_containers=False)
        call.peer = None
        self.calls.pop(call_id, None)

    async def wait_output(self, workspace: str, call_id: str, timeout: float
                          ) -> list[pb.Output]:
        """Outputs of a spawned call once it is finished; raises TimeoutError otherwise."""
        row = self.store.call(call_id, workspace)
        if row is None:
            raise LookupError(f"no function call with id {call_id}")
        call = self.calls.get(call_id)
        if call is not None and not call.finished:
            fut = self.loop.create_future()
            call.waiters.append(fut)
            try:
                await asyncio.wait_for(asyncio.shield(fut), None if timeout < 0 else timeout)
            except asyncio.TimeoutError:
                # Where it waits for a node that can run it, the caller reads why.
                why = f" ({call.fn.label} {call.fn.unplaceable})" if call.fn.unplaceable else ""
                raise TimeoutError(f"function call {call_id} has not finished{why}") from None
            finally:
                if fut in call.waiters:
                    call.waiters.remove(fut)
        elif call is None and row[2] is None:
            raise TimeoutError(f"function call {call_id} has not finished")
        return [pb.Output.FromString(out) for _, out in self.store.call_outputs(call_id)
                if out is not None]

    def peer_closed(self, peer: Peer):
        """The client's calls end with it; a spawn_map it was feeding keeps what arrived."""
        for call_id in list(peer.calls):
            self.close_call(call_id)
        for call_id in peer.spawning:
            call = self.calls.get(call_id)
            if call is not None and not call.inputs_done:
                call.inputs_done = True
                if call.finished:
                    self._complete_spawned(call)

    # ------------------------------------------------------------------ dispatch

    def dispatch(self, fn: FunctionRecord):
        queue = fn.queue
        if not queue:
            return
        per_container = fn.inputs_per_container()
        ready = [c for c in gangs.dispatch_targets(fn)
                 if c.state == "ready" and len(c.inflight) < per_container]
        if not ready:
            return
        ready.sort(key=lambda c: len(c.inflight))
        now = time.time()
        sent: dict[ContainerRecord, list[InputItem]] = {}
        while queue and ready:
            for c in list(ready):
                while queue and queue[0].call.cancelled:
                    self.deliver_error(queue.popleft(), pb.CANCELLED,
                                       InputCancellation("the call was cancelled"))
                if not queue:
                    break
                item = queue.popleft()
                item.container = c
                item.ran_on, item.sent_at = c.id, now   # for the call history
                c.inflight[item.msg.input_id] = item
                self.graph.running(item.call.id, item.msg.input_id, c.id)
                sent.setdefault(c, []).append(item)
                c.outbox.append(item.msg)
                if len(c.inflight) >= per_container:
                    ready.remove(c)
        for c, items in sent.items():  # they share a deadline: one timer for them all
            Deadline(self.loop, fn.spec.timeout_s, items, self._input_timed_out, c)
        for c in fn.containers.values():
            if c.outbox and not c.flush_scheduled:
                c.flush_scheduled = True
                self.loop.call_soon(self._flush_container, c)

    def _flush_container(self, c: ContainerRecord):
        c.flush_scheduled = False
        if c.outbox and c.conn is not None:
            for batch in batches_by_size(c.outbox):  # this iteration's, batched: sent now
                gangs.broadcast(c, inputs_frame(batch))
        c.outbox = []

    def _input_timed_out(self, c: ContainerRecord, item: InputItem):
        if c.inflight.get(item.msg.input_id) is not item:
            return
        del c.inflight[item.msg.input_id]
        item.timer = None
        timeout = item.call.fn.spec.timeout_s
        err = FunctionTimeoutError(
            f"{item.call.fn.label} ran past its timeout of {timeout:g} s and its container "
            "was stopped; raise timeout= on the function if it needs longer")
        out = pb.Output(input_id=item.msg.input_id, idx=item.msg.idx, call_id=item.call.id,
                        status=pb.TIMEOUT, data=serialize(err), message=str(err))
        # The other inputs on that container did nothing wrong: they go back to the queue.
        c.requeue_on_exit = True
        self.stop_container(c, StopReason.INPUT_TIMED_OUT, kill=True)
        self.end_attempt(item, out)

    # ------------------------------------------------------------------ outputs

    def container_outputs(self, c: ContainerRecord, outputs):
        fn = c.fn
        for out in outputs:
            item = c.inflight.get(out.input_id)
            if item is None:
                continue  # already timed out, cancelled or retried
            if out.status == pb.GENERATOR_ITEM:
                item.yielded += 1
                self._deliver(item.call, out)
                continue
            del c.inflight[out.input_id]
            if item.timer is not None:
                item.timer.ended_one()
                item.timer = None
            if out.duration_s:
                avg = fn.avg_duration
                fn.avg_duration = out.duration_s if avg is None else 0.8 * avg + 0.2 * out.duration_s
            self.end_attempt(item, out)
        now = time.monotonic()
        if not c.inflight:
            c.idle_since = now
        fn.last_active = now
        self.dispatch(fn)

    def end_attempt(self, item: InputItem, out: pb.Output):
        """A final outcome for one attempt: retry it, or deliver it."""
        call = item.call
        if out.status in (pb.FAILURE, pb.TIMEOUT, pb.CRASHED) and not call.cancelled:
            policy = call.fn.spec.retries
            # A generator that has yielded is not re-run: its caller has those values.
            if item.msg.attempt < policy.max_retries and not item.yielded:
                self._retry(item, policy)
                return
        item.container = None
        self._deliver(call, out, item)

    def _retry(self, item: InputItem, policy: pb.RetryPolicy):
        attempt = item.msg.attempt
        item.msg.attempt = attempt + 1
        item.container = None
        if item.call.durable:  # a restart must not hand out the retries again
            self.store.set_call_input(item.call.id, item.msg.idx, item.msg.SerializeToString())
        delay = min(policy.initial_delay_s * policy.backoff_coefficient ** attempt,
                    policy.max_delay_s)
        fn = item.call.fn

        def requeue():
            del fn.delayed[item]
            fn.queue.appendleft(item)
            self.dispatch(fn)
            self.wants_containers(fn)

        fn.delayed[item] = self.loop.call_later(max(delay, 0.0), requeue)

    def drop_delayed(self, fn: FunctionRecord, call: Call | None, status: int,
                     err: BaseException):
        """Ends the inputs waiting out a retry backoff (of one call, or all) with an error."""
        for item in [i for i in fn.delayed if call is None or i.call is call]:
            fn.delayed.pop(item).cancel()
            self.deliver_error(item, status, err)

    def _deliver(self, call: Call, out: pb.Output, item: InputItem | None = None):
        final = out.status in FINAL
        if final:
            self.graph.ended(out)
            self.history.input_ended(call, out, item)
        if call.durable:
            if final:
                self.store.set_call_output(call.id, out.idx, out.SerializeToString())
                call.n_final += 1
                if call.finished:
                    self._complete_spawned(call)
            return
        if final:
            call.n_final += 1
        peer = call.peer
        if peer is not None:
            peer.outbox.append(out)
            if not peer.flush_scheduled:
                peer.flush_scheduled = True
                self.loop.call_soon(self._flush_peer, peer)
        if final and call.finished:
            self._end_call(call)

    def _end_call(self, call: Call):
        """A caller's call got every output: it is done."""
        self.history.call_finished(call)
        self.calls.pop(call.id, None)
        if call.peer is not None:
            call.peer.calls.discard(call.id)

    def _all_delivered(self, call: Call):
        if call.durable:
            self._complete_spawned(call)
        else:
            self._end_call(call)

    def _complete_spawned(self, call: Call):
        """Every input of a spawned call has its output: the store marks it done and
        waiters of .get() wake."""
        self.history.call_finished(call)
        self.store.finish_call(call.id)
        self.calls.pop(call.id, None)
        for fut in call.waiters:
            if not fut.done():
                fut.set_result(None)

    def _flush_peer(self, peer: Peer):
        peer.flush_scheduled = False
        if peer.outbox:
            for batch in batches_by_size(peer.outbox):  # this iteration's: sent now
                peer.conn.send(outputs_frame(batch), now=True)
            peer.outbox = []

    def deliver_error(self, item: InputItem, status: int, exc: BaseException, tb: str = ""):
        msg = item.msg
        out = pb.Output(input_id=msg.input_id, idx=msg.idx, call_id=msg.call_id, status=status,
                        data=serialize(exc), message=f"{type(exc).__name__}: {exc}",
                        traceback=tb)
        self._deliver(item.call, out, item)

    def release(self, item: InputItem):
        if item.timer is not None:
            item.timer.ended_one()
            item.timer = None
        item.container = None

    # ------------------------------------------------------------------ when containers end

    def fail_queued(self, fn: FunctionRecord, ready: pb.ContainerReady):
        """A container could not import the function or run @enter: the waiting inputs
        fail with that error instead of waiting for a container that will never work."""
        while fn.queue:
            item = fn.queue.popleft()
            self._deliver(item.call, pb.Output(
                input_id=item.msg.input_id, idx=item.msg.idx, call_id=item.call.id,
                status=pb.FAILURE, data=ready.data, message=ready.message,
                traceback=ready.traceback), item)

    def fail_queued_with(self, fn: FunctionRecord, err: BaseException):
        while fn.queue:
            self.deliver_error(fn.queue.popleft(), pb.INTERNAL_ERROR, err)

    def settle_inflight(self, c: ContainerRecord, how: str):
        """The inputs a container held when it exited: cancelled ones end, ones it was
        stopped from go back to the queue, the rest crashed (and may be retried)."""
        inflight = list(c.inflight.values())
        c.inflight.clear()
        fn = c.fn
        for item in inflight:
            self.release(item)
            if item.call.cancelled:
                self.deliver_error(item, pb.CANCELLED,
                                   InputCancellation("the call was cancelled"))
                continue
            if c.requeue_on_exit and not item.yielded:
                fn.queue.appendleft(item)
                continue
            err = ContainerCrashError(
                f"the container running {fn.label} ({c.id}) stopped while running this "
                f"input: {how}")
            self.end_attempt(item, pb.Output(
                input_id=item.msg.input_id, idx=item.msg.idx, call_id=item.call.id,
                status=pb.CRASHED, data=serialize(err), message=str(err)))

    def fail_retired(self, fn: FunctionRecord, reason: StopReason):
        """The function's app stopped or was replaced: nothing of it runs any more."""
        err = ExecutionError(f"{fn.label}: {reason.text()} before this input ran")
        self.fail_queued_with(fn, err)
        self.drop_delayed(fn, None, pb.INTERNAL_ERROR, err)
        running = ExecutionError(f"{fn.label}: {reason.text()} while this input was running")
        for c in fn.containers.values():
            for item in c.inflight.values():
                self.release(item)
                self.deliver_error(item, pb.INTERNAL_ERROR, running)
            c.inflight.clear()

