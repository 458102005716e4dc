"""Token-budget batching (clamr_frames.encoders.runtime.token_budget_batches), the one batching every encoder uses."""

from __future__ import annotations


def test_token_budget_batches_cover_every_index_once():
    from clamr_frames.encoders.runtime import token_budget_batches

    lengths = [7, 3, 12, 12, 1, 5, 9, 2]
    for budget, fill in ((12, 0.0), (30, 0.0), (100, 0.5), (1, 0.0)):
        batches = token_budget_batches(lengths, budget, min_fill=fill)
        assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
        for b in batches:
            longest = max(lengths[i] for i in b)
            assert len(b) == 1 or len(b) * longest <= budget
            assert all(lengths[i] >= fill * longest for i in b)
