"""The book's results on the real Fashion-MNIST: test accuracy after 5 epochs over seeds 0-4.

The yardstick is the book's own code run on the same files on this machine:
softmax 0.827, MLP 0.861-0.863 (scratch) and 0.855-0.862 (Gluon) over seeds
0-2, with every step divided by the configured batch size.
"""
import numpy as np
import pytest

from .helpers import train_like_the_cli

SEEDS = range(5)


def _final_test_accuracies(chapter, lr, step_batch=256):
    return {impl: [train_like_the_cli(chapter, impl, lr, 5, s, step_batch)[-1]['test_acc']
                   for s in SEEDS] for impl in ('scratch', 'gluon')}


@pytest.fixture(scope='module')
def mlp_accuracies():
    return _final_test_accuracies('mlp', 0.5)


@pytest.mark.slow
def test_softmax_median_over_five_seeds_reaches_0_825():
    for impl, accuracies in _final_test_accuracies('softmax', 0.1).items():
        assert np.median(accuracies) >= 0.825, (impl, accuracies)


@pytest.mark.slow
def test_mlp_median_over_five_seeds_reaches_0_855(mlp_accuracies):
    for impl, accuracies in mlp_accuracies.items():
        assert np.median(accuracies) >= 0.855, (impl, accuracies)
