"""Small CIBs with notify=true clones, for comparing notify actions with crm_simulate."""

from __future__ import annotations

from reconciler.cib.digest import op_digest

NODES = ("n1", "n2", "n3")


def _op(rsc: str, op: str, interval: int, rc: int, call: int, node: str) -> str:
    key = f"{call}:1:{rc}:notify-test"
    return (
        f'<lrm_rsc_op id="{rsc}_{op}_{interval}" operation_key="{rsc}_{op}_{interval}" '
        f'operation="{op}" transition-key="{key}" transition-magic="0:{rc};{key}" '
        f'call-id="{call}" rc-code="{rc}" op-status="0" interval="{interval}" '
        f'last-rc-change="1700000000" exec-time="1" queue-time="0" on_node="{node}" '
        f'op-digest="{op_digest({}, interval, 20000)}"/>'
    )


def _lrm(rsc: str, agent: str, ops: str) -> str:
    provider, kind = agent.split(":")
    return f'<lrm_resource id="{rsc}" class="ocf" provider="{provider}" type="{kind}">{ops}</lrm_resource>'


def _cib(
    resources: str,
    history: dict[str, str],
    attrs: dict[str, dict[str, str]] | None = None,
    standby: tuple[str, ...] = (),
) -> str:
    attrs = attrs or {}
    nodes, states = [], []
    for i, n in enumerate(NODES, 1):
        sb = (
            f'<instance_attributes id="na{i}"><nvpair id="sb{i}" name="standby" value="on"/>'
            "</instance_attributes>"
            if n in standby
            else ""
        )
        nodes.append(f'<node id="{i}" uname="{n}">{sb}</node>')
        transient = ""
        if n in attrs:
            pairs = "".join(
                f'<nvpair id="t{i}-{k}" name="{k}" value="{v}"/>' for k, v in attrs[n].items()
            )
            transient = (
                f'<transient_attributes id="{i}"><instance_attributes id="t{i}">{pairs}'
                "</instance_attributes></transient_attributes>"
            )
        lrm = (
            f'<lrm id="{i}"><lrm_resources>{history[n]}</lrm_resources></lrm>'
            if n in history
            else ""
        )
        states.append(
            f'<node_state id="{i}" uname="{n}" in_ccm="true" crmd="online" join="member" '
            f'expected="member">{transient}{lrm}</node_state>'
        )
    return (
        '<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.7" epoch="1" num_updates="0" '
        'admin_epoch="0" have-quorum="1" dc-uuid="1"><configuration><crm_config>'
        '<cluster_property_set id="o"><nvpair id="o1" name="stonith-enabled" value="false"/>'
        f"</cluster_property_set></crm_config><nodes>{''.join(nodes)}</nodes>"
        f"<resources>{resources}</resources><constraints/></configuration>"
        f"<status>{''.join(states)}</status></cib>"
    )


_DUMMY_CLONE = (
    '<clone id="c"><meta_attributes id="cm"><nvpair id="cm1" name="notify" value="true"/>'
    '<nvpair id="cm2" name="clone-max" value="2"/></meta_attributes>'
    '<primitive id="d" class="ocf" provider="heartbeat" type="Dummy"><operations>'
    '<op id="d-mon" name="monitor" interval="10s"/></operations></primitive></clone>'
)
_STATEFUL = (
    '<clone id="p"><meta_attributes id="pm"><nvpair id="pm1" name="notify" value="true"/>'
    '<nvpair id="pm2" name="promotable" value="true"/></meta_attributes>'
    '<primitive id="s" class="ocf" provider="pacemaker" type="Stateful"><operations>'
    '<op id="s-m1" name="monitor" interval="10s" role="Promoted"/>'
    '<op id="s-m2" name="monitor" interval="11s" role="Unpromoted"/></operations></primitive>'
    "</clone>"
)
_GROUP_CLONE = (
    '<clone id="gc"><meta_attributes id="gcm"><nvpair id="gcm1" name="notify" value="true"/>'
    '<nvpair id="gcm2" name="interleave" value="true"/></meta_attributes><group id="g">'
    '<primitive id="a" class="ocf" provider="heartbeat" type="Dummy"/>'
    '<primitive id="b" class="ocf" provider="heartbeat" type="Dummy"/></group></clone>'
)


def _stateful(node: str, promoted: bool) -> str:
    if promoted:
        ops = _op("s", "promote", 0, 0, 4, node) + _op("s", "monitor", 10000, 8, 5, node)
    else:
        ops = _op("s", "start", 0, 0, 2, node) + _op("s", "monitor", 11000, 0, 3, node)
    return _lrm("s", "pacemaker:Stateful", ops)


def scenarios() -> dict[str, str]:
    """name -> CIB text."""
    dummy = {
        n: _lrm("a", "heartbeat:Dummy", _op("a", start_or_probe, 0, rc, 2, n))
        + _lrm("b", "heartbeat:Dummy", _op("b", start_or_probe, 0, rc, 3, n))
        for n, (start_or_probe, rc) in {"n1": ("start", 0), "n2": ("monitor", 7)}.items()
    }
    everywhere = {
        n: _lrm(
            "d",
            "heartbeat:Dummy",
            _op("d", "start", 0, 0, 2, n) + _op("d", "monitor", 10000, 0, 3, n),
        )
        for n in NODES
    }
    fenced = _cib(
        '<primitive id="fence" class="stonith" type="fence_dummy"/>'
        + _DUMMY_CLONE.replace('<nvpair id="cm2" name="clone-max" value="2"/>', ""),
        everywhere,
    )
    fenced = fenced.replace(
        'name="stonith-enabled" value="false"', 'name="stonith-enabled" value="true"'
    ).replace(
        '<node_state id="3" uname="n3" in_ccm="true" crmd="online"',
        '<node_state id="3" uname="n3" in_ccm="false" crmd="offline"',
    )
    return {
        # a lost node is fenced: the survivors are told about the implied stop
        "fenced-node": fenced,
        # a fresh cluster: two instances start, post-start notifications only
        "fresh-start": _cib(_DUMMY_CLONE, {}),
        # promote one instance while another one stops (standby)
        "promote-and-stop": _cib(
            _STATEFUL,
            {n: _stateful(n, False) for n in NODES},
            attrs={"n1": {"master-s": "10"}, "n2": {"master-s": "5"}},
            standby=("n3",),
        ),
        # the promoted role moves: demote on n1, promote on n2, start on n3
        "demote-promote": _cib(
            _STATEFUL,
            {"n1": _stateful("n1", True), "n2": _stateful("n2", False)},
            attrs={"n1": {"master-s": "5"}, "n2": {"master-s": "10"}},
        ),
        # a cloned group moves away from a standby node: each member is notified
        "cloned-group": _cib(_GROUP_CLONE, dummy, standby=("n1",)),
    }
