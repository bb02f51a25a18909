"""Delays and graces that the server and the container runtime both depend on."""

# A ready container gets this long between SIGTERM and SIGKILL: its running inputs finish and
# its @exit hooks run within it.
STOP_GRACE_S = 10.0
# A container that never became ready has nothing to finish.
STARTING_STOP_GRACE_S = 0.5
