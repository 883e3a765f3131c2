"""The linearizability checker on hand-made histories whose verdict is known."""

from __future__ import annotations

import random

import pytest

from reconciler.testing.linearizability import UNKNOWN, Op, check, check_key


def put(c: int, k: str, v: str, call: float, ret: float | None) -> Op:
    return Op(client=c, kind="put", key=k, call=call, ret=ret, value=v, output=None)


def get(c: int, k: str, out: str | None, call: float, ret: float) -> Op:
    return Op(client=c, kind="get", key=k, call=call, ret=ret, output=out)


def cas(c: int, k: str, exp: str | None, v: str, out: object, call: float, ret: float | None) -> Op:
    return Op(client=c, kind="cas", key=k, call=call, ret=ret, value=v, expected=exp, output=out)


def delete(c: int, k: str, out: object, call: float, ret: float | None) -> Op:
    return Op(client=c, kind="delete", key=k, call=call, ret=ret, output=out)


def test_sequential_history_is_linearizable() -> None:
    h = [
        put(1, "x", "a", 0, 1),
        get(1, "x", "a", 2, 3),
        delete(1, "x", True, 4, 5),
        get(1, "x", None, 6, 7),
    ]
    assert check(h).ok


def test_a_stale_read_after_a_completed_write_is_not_linearizable() -> None:
    h = [put(1, "x", "a", 0, 1), put(1, "x", "b", 2, 3), get(2, "x", "a", 4, 5)]
    res = check(h)
    assert not res.ok and res.key == "x"
    assert "not linearizable" in res.detail and "get(x)" in res.detail


def test_concurrent_ops_may_take_effect_in_either_order() -> None:
    h = [put(1, "x", "a", 0, 10), put(2, "x", "b", 1, 9), get(3, "x", "a", 11, 12)]
    assert check(h).ok
    h2 = [*h[:2], get(3, "x", "b", 11, 12)]
    assert check(h2).ok


def test_reads_must_agree_on_one_order() -> None:
    # two readers see the concurrent writes in opposite orders: impossible
    h = [
        put(1, "x", "a", 0, 100),
        put(2, "x", "b", 0, 100),
        get(3, "x", "a", 10, 20),
        get(3, "x", "b", 30, 40),
        get(4, "x", "b", 10, 20),
        get(4, "x", "a", 30, 40),
    ]
    assert not check(h).ok


def test_a_timed_out_write_may_or_may_not_have_happened() -> None:
    maybe = put(1, "x", "m", 0, None)
    assert check([maybe, get(2, "x", None, 5, 6)]).ok  # not (yet) happened
    assert check([maybe, get(2, "x", "m", 5, 6)]).ok  # happened
    assert check([maybe, get(2, "x", "m", 5, 6), get(2, "x", None, 7, 8)]).ok is False


def test_a_timed_out_write_cannot_take_effect_before_its_call() -> None:
    h = [get(2, "x", "m", 0, 1), put(1, "x", "m", 5, None)]
    assert not check(h).ok


def test_compare_and_set_outcomes() -> None:
    h = [
        put(1, "x", "a", 0, 1),
        cas(1, "x", "a", "b", True, 2, 3),
        cas(2, "x", "a", "c", False, 4, 5),
        get(1, "x", "b", 6, 7),
    ]
    assert check(h).ok
    bad = [put(1, "x", "a", 0, 1), cas(2, "x", "a", "c", False, 2, 3)]
    assert not check(bad).ok
    create = [cas(1, "y", None, "v", True, 0, 1), cas(2, "y", None, "w", False, 2, 3)]
    assert check(create).ok


def test_timed_out_compare_and_set_is_decided_by_the_state_it_meets() -> None:
    h = [put(1, "x", "a", 0, 1), cas(2, "x", "a", "b", UNKNOWN, 2, None), get(3, "x", "b", 5, 6)]
    assert check(h).ok
    h2 = [put(1, "x", "z", 0, 1), cas(2, "x", "a", "b", UNKNOWN, 2, None), get(3, "x", "b", 5, 6)]
    assert not check(h2).ok  # the cas could not have succeeded


def test_delete_reports_whether_the_key_existed() -> None:
    assert check([delete(1, "x", False, 0, 1)]).ok
    assert not check([delete(1, "x", True, 0, 1)]).ok
    assert check([put(1, "x", "a", 0, 1), delete(1, "x", None, 2, 3), get(1, "x", None, 4, 5)]).ok


def test_keys_are_checked_independently_with_an_initial_state() -> None:
    h = [get(1, "x", "init", 0, 1), get(1, "y", None, 0, 1)]
    assert check(h, initial={"x": "init"}).ok
    assert not check(h).ok


def test_bad_ops_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="unknown op kind"):
        Op(client=1, kind="incr", key="x", call=0, ret=1)
    with pytest.raises(ValueError, match="returns before its call"):
        put(1, "x", "a", 5, 1)
    with pytest.raises(ValueError, match="get without an answer"):
        Op(client=1, kind="get", key="x", call=0, ret=None)


def _random_linearizable_history(rng: random.Random, n: int) -> list[Op]:
    """Run ops against a real register at random points inside random intervals."""
    ops = []
    events = []
    for i in range(n):
        call = rng.uniform(0, 100)
        ret = call + rng.uniform(0.1, 10)
        point = rng.uniform(call, ret)
        kind = rng.choice(["put", "get", "cas", "delete"])
        events.append((point, i, kind, call, ret))
    state: str | None = None
    for point, i, kind, call, ret in sorted(events):
        del point
        c = i % 4
        if kind == "put":
            state = f"v{i}"
            ops.append(put(c, "k", state, call, ret))
        elif kind == "get":
            ops.append(get(c, "k", state, call, ret))
        elif kind == "cas":
            exp = rng.choice([state, f"v{rng.randrange(n)}", None])
            ok = state == exp
            if ok:
                state = f"c{i}"
            ops.append(cas(c, "k", exp, f"c{i}", ok, call, ret))
        else:
            ops.append(delete(c, "k", state is not None, call, ret))
            state = None
    return ops


@pytest.mark.parametrize("seed", range(20))
def test_histories_produced_by_a_real_register_always_pass(seed: int) -> None:
    rng = random.Random(seed)
    ops = _random_linearizable_history(rng, 60)
    assert check_key(ops).ok


@pytest.mark.parametrize("seed", range(20))
def test_a_corrupted_read_is_caught(seed: int) -> None:
    rng = random.Random(seed)
    ops = _random_linearizable_history(rng, 40)
    gets = [i for i, o in enumerate(ops) if o.kind == "get"]
    if not gets:
        pytest.skip("no read in this history")
    i = rng.choice(gets)
    o = ops[i]
    ops[i] = get(o.client, o.key, "never-written", o.call, o.ret or 0)
    assert not check_key(ops).ok


def test_the_recorder_builds_histories_from_real_client_calls() -> None:
    from reconciler.testing.linearizability import HistoryRecorder

    t = iter(range(100))
    rec = HistoryRecorder(now=lambda: next(t))
    a = rec.invoke(1, "put", "x", value="a")
    rec.ok(a)
    b = rec.invoke(2, "cas", "x", value="b", expected="a")
    lost = rec.invoke(3, "put", "x", value="z")
    rec.unknown(lost)  # timed out: may have happened
    rec.ok(b, True)
    g = rec.invoke(1, "get", "x")
    rec.ok(g, "b")
    still_open = rec.invoke(4, "delete", "x")
    del still_open  # never finished: counted as "may have happened"
    refused = rec.invoke(5, "put", "x", value="never")
    rec.failed(refused)
    h = rec.history()
    assert [o.kind for o in h] == ["put", "put", "cas", "get", "delete"]
    assert rec.check().ok
    with pytest.raises(ValueError, match="already finished"):
        rec.ok(a)
    bad = rec.invoke(1, "get", "x")
    rec.ok(bad, "never")
    assert not rec.check().ok
