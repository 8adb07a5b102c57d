"""Data: synthetic regression data and minibatch iterators.

Every shuffle here draws from numpy's global generator, exactly as gluon's
DataLoader(shuffle=True) does, so ``d2l_gluon.seed(n)`` fixes the batch
order and an in-memory iterator yields the same batches as a DataLoader.
"""
import numpy as np
from mxnet import nd

from .errors import D2LError


def synthetic_data(w, b, num_examples, noise=0.01, ctx=None):
    """Return features (num_examples, len(w)) ~ N(0, 1) and labels (num_examples,) = Xw + b + N(0, noise²)."""
    w = nd.array(w, ctx=ctx).reshape((-1, 1))
    features = nd.random.normal(0, 1, shape=(num_examples, w.shape[0]), ctx=ctx)
    labels = nd.dot(features, w).reshape((-1,)) + b
    labels += nd.random.normal(0, noise, shape=labels.shape, ctx=ctx)
    return features, labels


def shuffled_indices(num_examples):
    """Return a random permutation of range(num_examples), drawn as gluon's RandomSampler does."""
    indices = np.arange(num_examples)
    np.random.shuffle(indices)
    return indices


def data_iter(batch_size, features, labels):
    """Yield (X, y) minibatches in random order; every example once, the short last batch kept."""
    if batch_size < 1:
        raise D2LError('batch_size must be a positive integer, got %r' % (batch_size,))
    num_examples = len(features)
    indices = shuffled_indices(num_examples)
    for i in range(0, num_examples, batch_size):
        j = nd.array(indices[i: i + batch_size], ctx=features.context, dtype='int64')
        yield features.take(j), labels.take(j)


class ArrayLoader:
    """A re-iterable in-memory loader: each ``iter()`` is a new epoch of data_iter."""

    def __init__(self, features, labels, batch_size, shuffle=True):
        self.features, self.labels = features, labels
        self.batch_size, self.shuffle = batch_size, shuffle

    def __len__(self):
        return -(-len(self.features) // self.batch_size)

    def __iter__(self):
        if self.shuffle:
            return data_iter(self.batch_size, self.features, self.labels)
        return ((self.features[i: i + self.batch_size], self.labels[i: i + self.batch_size])
                for i in range(0, len(self.features), self.batch_size))
