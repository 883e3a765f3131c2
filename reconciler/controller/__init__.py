"""L3, pure: the reconcile decision.

Given the transition graph the scheduler planned from the current state, the
actions already in flight and the time, decide which actions to dispatch now
(``dispatch``), whether the running transition has been aborted (``abort``),
how failures count (``failures``) and which nodes must be fenced (``fencing``).
No I/O, no clock: ``now`` is an argument.
"""
