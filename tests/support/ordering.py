"""The order pytest-xdist hands the tests out: the long ones first, one at the head of each
worker's share.

`--dist worksteal` cuts the collection into one contiguous share per worker, in order, and an idle
worker later takes the second half of the longest remaining queue. A long test collected late in
a share therefore starts near the end of the run and holds it up while the other workers sit idle;
several long tests in one share run one after another. The tests marked `slow` are dealt out like
cards instead, one to the head of each share in turn, so every long test starts at the beginning
of the run, beside the short ones, and the cores stay busy until the end. Nothing is skipped or
repeated: this only permutes the items, and every worker computes the same permutation (xdist
checks that the collections match).
"""

from __future__ import annotations

import pytest


def deal_slow_first(items: list[pytest.Item], workers: int) -> list[pytest.Item]:
    """`items` reordered for `workers` workers: each share starts with its slow tests (in
    collection order), then its part of the others; shares are cut as worksteal cuts them."""
    if workers < 2:
        slow = [item for item in items if item.get_closest_marker("slow")]
        return slow + [item for item in items if not item.get_closest_marker("slow")]
    slow = [item for item in items if item.get_closest_marker("slow")]
    rest = [item for item in items if not item.get_closest_marker("slow")]
    dealt: list[list[pytest.Item]] = [slow[i::workers] for i in range(workers)]
    ordered: list[pytest.Item] = []
    left = len(items)
    for share in range(workers):
        # worksteal's first distribution: pending // workers_remaining to each worker in turn.
        size = left // (workers - share)
        head = dealt[share]
        fill = max(0, size - len(head))
        ordered += head + rest[:fill]
        rest = rest[fill:]
        left -= len(head) + fill
    ordered += rest
    assert len(ordered) == len(items)
    return ordered
