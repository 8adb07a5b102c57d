"""Data as the chapters consume it: minibatch loaders over NDArrays and over Fashion-MNIST.

Every shuffle here draws from numpy's global generator, exactly as gluon's
DataLoader(shuffle=True) does, so ``d2l_gluon.seed(n)`` fixes the batch
order and an in-memory iterator yields the same batches as a DataLoader.
"""
import mxnet as mx
import numpy as np
from mxnet import nd
from mxnet.gluon import data as gdata

from .errors import D2LError
from .fashion_mnist import read_fashion_mnist


# the most values a synthetic data set may hold: 2^28 float32 values are 1 GiB
MAX_VALUES = 2 ** 28
# the largest set ArrayLoader permutes whole once per epoch: a gather per epoch instead of two per
# batch saves calls, but a fresh copy of a large set costs more than they do (on 2 cores: equal at
# 16 MB, 5000 x 784 floats; 1.5x slower at 63 MB, Fashion-MNIST's 188 MB gathers batch by batch)
GATHER_ONCE_BYTES = 2 ** 24


def check_size(num_examples, num_inputs):
    """Raise D2LError when num_examples x num_inputs values would not fit in memory."""
    if num_examples * num_inputs > MAX_VALUES:
        raise D2LError('%d examples of %d inputs are %d values, more than the %d (1 GiB) a '
                       'synthetic data set may hold; choose fewer examples or inputs'
                       % (num_examples, num_inputs, num_examples * num_inputs, MAX_VALUES))


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
    # one host-to-device copy of the permutation per epoch; each batch slices it
    indices = nd.array(shuffled_indices(num_examples), ctx=features.context, dtype='int64')
    for i in range(0, num_examples, batch_size):
        j = indices[i: i + batch_size]
        yield features.take(j), labels.take(j)


def permuted_batches(batch_size, features, labels):
    """Yield data_iter's minibatches (the same ones for the same seed) as slices of one permuted copy.

    One gather of the whole set per epoch, then each batch is a contiguous
    slice, a view that costs no operator call: data_iter gathers twice per batch.
    """
    if batch_size < 1:
        raise D2LError('batch_size must be a positive integer, got %r' % (batch_size,))
    indices = nd.array(shuffled_indices(len(features)), ctx=features.context, dtype='int64')
    features, labels = features.take(indices), labels.take(indices)
    for i in range(0, len(features), batch_size):
        yield features[i: i + batch_size], labels[i: i + batch_size]


class ArrayLoader:
    """A re-iterable in-memory loader: each ``iter()`` yields a new epoch of data_iter's batches."""

    def __init__(self, features, labels, batch_size, shuffle=True):
        self.features, self.labels = features, labels
        self.batch_size, self.shuffle = batch_size, shuffle

    def __len__(self):
        return -(-len(self.features) // self.batch_size)

    def __iter__(self):
        if self.shuffle:
            once = self.features.size * np.dtype(self.features.dtype).itemsize <= GATHER_ONCE_BYTES
            return (permuted_batches if once else data_iter)(self.batch_size, self.features, self.labels)
        return ((self.features[i: i + self.batch_size], self.labels[i: i + self.batch_size])
                for i in range(0, len(self.features), self.batch_size))


TEXT_LABELS = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat',
               'sandal', 'shirt', 'sneaker', 'bag', 'ankle boot']


def get_fashion_mnist_labels(labels):
    """Return the text label of each integer label."""
    return [TEXT_LABELS[int(i)] for i in labels]


def to_tensor(images):
    """Return uint8 images (N, 28, 28) as float32 (N, 1, 28, 28) in [0, 1], the values ToTensor gives."""
    return images[:, None].astype(np.float32) / np.float32(255)


class DeviceLoader:
    """Wrap a re-iterable of (X, y) batches so that each batch arrives on ctx."""

    def __init__(self, loader, ctx):
        self.loader, self.ctx = loader, ctx

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for X, y in self.loader:
            yield X.as_in_context(self.ctx), y.as_in_context(self.ctx)


def load_fashion_mnist(batch_size, root=None, loader='fast', num_workers=0, ctx=None,
                       download=True):
    """Return (train_iter, test_iter) over Fashion-MNIST.

    Batches are X float32 in [0, 1] of shape (batch, 1, 28, 28) and y int32.
    ``loader='book'`` is the book's pipeline: a Dataset of uint8 images,
    transform_first(ToTensor()), gluon DataLoader (num_workers processes).
    ``loader='fast'`` holds each set as one NDArray on ctx and batches by
    shuffled index.  For the same seed both yield the same batches.
    """
    from mxnet.gluon.data.vision import transforms
    if batch_size < 1:
        raise D2LError('batch_size must be a positive integer, got %r' % (batch_size,))
    ctx = ctx or mx.cpu()
    train_images, train_labels, test_images, test_labels = read_fashion_mnist(root, download)
    if loader == 'book':
        iters = []
        for images, labels, shuffle in ((train_images, train_labels, True),
                                        (test_images, test_labels, False)):
            dataset = gdata.ArrayDataset(nd.array(images[..., None], dtype=np.uint8), labels)
            iters.append(DeviceLoader(gdata.DataLoader(
                dataset.transform_first(transforms.ToTensor()), batch_size, shuffle=shuffle,
                num_workers=num_workers), ctx))
        return tuple(iters)
    if loader != 'fast':
        raise D2LError("loader must be 'book' or 'fast', got %r" % (loader,))
    iters = []
    for images, labels, shuffle in ((train_images, train_labels, True),
                                    (test_images, test_labels, False)):
        X = nd.array(to_tensor(images), ctx=ctx)
        iters.append(ArrayLoader(X, nd.array(labels, ctx=ctx, dtype=np.int32), batch_size, shuffle))
    return tuple(iters)

