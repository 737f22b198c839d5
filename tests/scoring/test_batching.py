from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.scoring.batching import token_budget_batches


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=3000), max_size=300),
    st.integers(min_value=1, max_value=20000),
)
def test_batches_cover_each_index_once_within_budget(lengths, budget):
    batches = token_budget_batches(lengths, budget)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    for b in batches:
        longest = max(max(1, lengths[i]) for i in b)
        assert len(b) == 1 or len(b) * longest <= budget
    # longest first: batch maxima never increase
    maxima = [max(lengths[i] for i in b) for b in batches]
    assert maxima == sorted(maxima, reverse=True)


def test_batches_example():
    assert token_budget_batches([5, 1, 5, 3], 10) == [[0, 2], [3, 1]]
