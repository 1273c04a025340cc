"""The polling problem (`simulator.bench.polling`): a busy loop of recv over N non-blocking
sockets against one epoll_wait, on the real kernel (timed in the live child) and the model.

Small sizes; no test asserts a time or a rate's size, only what each way did.
"""

from __future__ import annotations

from simulator.bench.plan import Plan
from simulator.bench.polling import polling
from simulator.live import LiveKernel


def test_each_round_makes_n_calls_busy_and_k_plus_one_with_epoll() -> None:
    plan = Plan(sizes=(10, 60), active=(1, 4), repeat=3).checked()
    points = list(polling(plan))
    assert [(p.n, p.active) for p in points] == [(10, 1), (10, 4), (60, 1), (60, 4)]
    for p in points:
        assert p.model_busy_calls == p.n
        assert p.model_busy_useless == p.n - p.active  # every other socket answered EAGAIN
        assert p.model_epoll_calls == 1 + p.active
        assert p.busy_ns > 0 and p.epoll_ns > 0
        assert p.busy_q1_ns <= p.busy_ns <= p.busy_q3_ns
        # The rates are the round's calls over its median time, useless to useful as N-K to K.
        assert abs(p.busy_useless_per_s * p.active - p.busy_useful_per_s * (p.n - p.active)) < 1
        assert p.as_json()["plot"] == "polling"
    # epoll_wait's work in the model depends on K, not on N.
    cost = {(p.n, p.active): p.model_epoll_cost for p in points}
    assert cost[10, 1] == cost[60, 1] and cost[10, 4] == cost[60, 4]


def test_the_child_counts_the_eagain_answers_itself() -> None:
    with LiveKernel(nofile=256) as kernel:
        kernel.lab("grow", 20)
        kernel.lab("set_active", 3)
        rounds = kernel.lab("polling", 2)
        assert rounds["busy"]["calls"] == 20 and rounds["busy"]["useless"] == 17
        assert rounds["epoll"]["calls"] == 4 and rounds["epoll"]["useless"] == 0
        # The traffic is sent again after every round: the world is as it was.
        assert kernel.lab("measure", "poll", 1)["ready"] == 3
