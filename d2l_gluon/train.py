"""The training loop every chapter shares, with sgd, accuracy and evaluation.

Nothing here knows a model: ``net`` maps a batch X to outputs, ``loss`` maps
outputs and labels to one loss per example, and ``updater(batch_size)`` takes
one optimisation step -- ``trainer.step`` for Gluon, or
``lambda n: sgd(params, lr, n)`` for a scratch model.
"""
import time

import numpy as np
from mxnet import autograd, nd

from .errors import DivergenceError

# straight-dope's moving average of the batch loss: moving = 0.99 moving + 0.01 batch
SMOOTHING = 0.01


def sgd(params, lr, batch_size):
    """Take one minibatch SGD step in place: param -= lr * grad / batch_size."""
    for param in params:
        # grad holds the sum over the batch (backward of per-example losses)
        param[:] = param - lr * param.grad / batch_size


def accuracy(y_hat, y):
    """Return the number of rows whose arg-max equals the label, as a 1-element NDArray."""
    return (y_hat.argmax(axis=1) == y.astype('float32')).sum()


def evaluate_accuracy(net, data_iter):
    """Return the fraction of examples in data_iter that net classifies correctly."""
    correct, n = [], 0
    for X, y in data_iter:
        correct.append(accuracy(net(X), y))
        n += X.shape[0]
    return float(_concat(correct).sum()) / n


def evaluate_loss(net, loss, data_iter):
    """Return the mean per-example loss of net over data_iter."""
    sums, n = [], 0
    for X, y in data_iter:
        sums.append(loss(net(X), y).sum())
        n += X.shape[0]
    return float(_concat(sums).sum()) / n


def _concat(scalars, chunk=512):
    """Return a list of 1-element NDArrays as one numpy array, with one device sync."""
    parts = [nd.concat(*scalars[i:i + chunk], dim=0) for i in range(0, len(scalars), chunk)]
    return nd.concat(*parts, dim=0).asnumpy().astype(np.float64) if parts else np.zeros(0)


def train_epoch(net, train_iter, loss, updater, with_accuracy=False):
    """Make one pass over train_iter, updating the parameters after every batch.

    Return numpy arrays (loss sum, size, correct count) with one entry per
    batch.  Batch results stay on the device until the epoch ends, so the loop
    never waits for the device.
    """
    sums, sizes, correct = [], [], []
    for X, y in train_iter:
        with autograd.record():
            y_hat = net(X)
            l = loss(y_hat, y)
        l.backward()  # l has one loss per example: backward sums them
        updater(X.shape[0])
        sums.append(l.sum())
        sizes.append(X.shape[0])
        if with_accuracy:
            correct.append(accuracy(y_hat, y))
    return _concat(sums), np.array(sizes, dtype=np.float64), _concat(correct)


def train(net, train_iter, loss, updater, num_epochs, evaluate=None, with_accuracy=False,
          on_epoch=None, history=()):
    """Train for num_epochs and return the history: one dict per epoch.

    Each record has ``epoch``, ``loss`` (mean per-example loss over the
    epoch's batches), ``moving_loss`` (the smoothed batch loss),
    ``train_acc`` when with_accuracy, whatever ``evaluate()`` returns (it may
    replace ``loss``, e.g. by the loss on the whole training set), and
    ``seconds``.  ``on_epoch(record)`` runs after every epoch (printing,
    checkpoints).  Pass the ``history`` of earlier epochs to continue a run.
    A NaN or infinite loss raises DivergenceError naming the epoch and batch.
    """
    history = list(history)
    moving = history[-1]['moving_loss'] if history else 0.0
    for epoch in range(len(history) + 1, num_epochs + 1):
        start = time.perf_counter()
        sums, sizes, correct = train_epoch(net, train_iter, loss, updater, with_accuracy)
        bad = np.flatnonzero(~np.isfinite(sums))
        if bad.size:
            raise DivergenceError(epoch, int(bad[0]) + 1, history)
        for batch_mean in sums / sizes:
            moving = (1 - SMOOTHING) * moving + SMOOTHING * batch_mean
        record = {'epoch': epoch, 'loss': float(sums.sum() / sizes.sum()),
                  'moving_loss': float(moving)}
        if with_accuracy:
            record['train_acc'] = float(correct.sum() / sizes.sum())
        record['seconds'] = time.perf_counter() - start
        if evaluate is not None:
            start = time.perf_counter()
            record.update(evaluate())
            record['eval_seconds'] = time.perf_counter() - start
            if not np.isfinite(record['loss']):
                raise DivergenceError(epoch, len(sizes), history)
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
    return history


def train_classifier(net, train_iter, test_iter, loss, updater, num_epochs, on_epoch=None,
                     history=()):
    """Train a classifier (the book's train_ch3); each record adds train_acc and test_acc."""
    return train(net, train_iter, loss, updater, num_epochs,
                 evaluate=lambda: {'test_acc': evaluate_accuracy(net, test_iter)},
                 with_accuracy=True, on_epoch=on_epoch, history=history)
