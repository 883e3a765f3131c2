"""The live cluster's key layout in the store (desired objects share gitops' layout).

::

    /hactl/desired/<kind>/<name>               desired object, JSON (resourceVersion = mod rev)
    /hactl/live/<node>                         liveness: under the node's lease, JSON {address, pid}
    /hactl/observed/<node>/rsc/<rsc>           operation history of a resource on the node (JSON)
    /hactl/observed/<node>/fail/<rsc>/<op>_<ms> failcount {count, lastFailure} (JSON)
    /hactl/observed/<node>/attr/<name>         transient node attribute (cleared when hacd starts)
    /hactl/nodeattr/<node>/<name>              permanent node attribute (standby, maintenance)
    /hactl/fencing/<node>                      fenced since it last joined: JSON record
    /hactl-fencing-history/<node>/<seq>        every fencing attempt, JSON (bounded)
    /hactl/election/lock                       the coordinator's election key (under its lease);
                                               its create revision is the fencing token
    /hactl/coordinator                         the coordinator's progress report, JSON
    /hactl/startup                             the startup wait's marker: which cluster start
                                               (and which coordinator) it belongs to, JSON
    /hactl-events/<seq>                        events, JSON, under a one-hour lease
"""

from __future__ import annotations

ROOT = "/hactl/"
#: every key of hactl's, the three trees above in one range (one read at one revision)
ALL = "/hactl"
DESIRED = "/hactl/desired/"
LIVE = "/hactl/live/"
OBSERVED = "/hactl/observed/"
NODEATTR = "/hactl/nodeattr/"
FENCING = "/hactl/fencing/"
FENCING_HISTORY = "/hactl-fencing-history/"
ELECTION = "/hactl/election/lock"
COORDINATOR = "/hactl/coordinator"
EVENTS = "/hactl-events/"


def desired(kind: str, name: str) -> str:
    return f"{DESIRED}{kind.lower()}/{name}"


def desired_kind(kind: str) -> str:
    return f"{DESIRED}{kind.lower()}/"


def live(node: str) -> str:
    return LIVE + node


def observed_node(node: str) -> str:
    return f"{OBSERVED}{node}/"


def history(node: str, rsc: str) -> str:
    return f"{OBSERVED}{node}/rsc/{rsc}"


def failcount_prefix(node: str, rsc: str = "") -> str:
    return f"{OBSERVED}{node}/fail/{rsc}/" if rsc else f"{OBSERVED}{node}/fail/"


def failcount(node: str, rsc: str, op: str, interval_ms: int) -> str:
    return f"{OBSERVED}{node}/fail/{rsc}/{op}_{interval_ms}"


def attribute(node: str, name: str) -> str:
    return f"{OBSERVED}{node}/attr/{name}"


def node_attribute(node: str, name: str) -> str:
    return f"{NODEATTR}{node}/{name}"


def fencing(node: str) -> str:
    return FENCING + node


def fencing_history(node: str, seq: int) -> str:
    return f"{FENCING_HISTORY}{node}/{seq:012d}"


def event(seq: int) -> str:
    return f"{EVENTS}{seq:016d}"


def split(key: str, prefix: str) -> list[str]:
    """The path components of ``key`` after ``prefix``."""
    return key[len(prefix) :].split("/")
