"""The training loop every chapter shares, with sgd, accuracy and evaluation.

Nothing here knows a model: ``net`` maps a batch X to outputs, ``loss`` maps
outputs and labels to one loss per example, and ``updater(batch_size)`` takes
one optimisation step -- ``trainer.step`` for Gluon, or
``lambda n: sgd(params, lr, n)`` for a scratch model.  As in the book's loop,
every step divides by the configured batch_size, so the short last batch of
an epoch takes a proportionally smaller step; batch_size=None divides by each
batch's own size instead.  Given a list of
devices ``ctx``, the loop splits every batch across them (data parallelism);
the Trainer's kvstore then sums the devices' gradients.
"""
import collections
import contextlib
import signal
import threading
import time

import numpy as np
from mxnet import autograd, nd

from .config import impls, step_batch
from .errors import D2LError, DivergenceError

# what every chapter's setup(impl, config, ctx) returns: the four things the book trains with;
# params are the scratch list [W1, b1, ...] or the Gluon net's ParameterDict
Setup = collections.namedtuple('Setup', 'net loss updater params')

# straight-dope's moving average of the batch loss: moving = 0.99 moving + 0.01 batch
SMOOTHING = 0.01
# a batch loss above this many times the reference loss counts as divergence: with a stable loss
# a too-large learning rate makes the loss explode long before it overflows to inf or NaN
DIVERGENCE_FACTOR = 100.0
# the reference is the mean loss of the first batches that hold this many examples together: one
# batch of 256 for the classifiers, 26 batches for linear regression's 10; a single example's loss
# (batch size 1) varies too much from example to example to be the yardstick
REFERENCE_EXAMPLES = 256


class _Interrupt:
    """Ctrl-C during training, held until the next batch boundary.

    A KeyboardInterrupt raised inside an MXNet call can leave a half-built
    NDArray whose __del__ later prints a traceback; so while train() runs,
    the first Ctrl-C only sets a flag, and the loop raises KeyboardInterrupt
    where it is safe.  A second Ctrl-C raises at once.
    """
    requested = False

    @classmethod
    def handler(cls, signum, frame):
        if cls.requested:
            raise KeyboardInterrupt
        cls.requested = True

    @classmethod
    def check(cls):
        if cls.requested:
            cls.requested = False
            raise KeyboardInterrupt

    @classmethod
    @contextlib.contextmanager
    def deferred(cls):
        # only Python's own handler in the main thread is replaced (not a caller's handler)
        if (threading.current_thread() is not threading.main_thread()
                or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
            yield
            return
        cls.requested = False
        signal.signal(signal.SIGINT, cls.handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        cls.check()


def sgd(params, lr, batch_size):
    """Take one minibatch SGD step in place: param -= lr * grad / batch_size."""
    for param in params:
        # grad holds the sum over the batch (backward of per-example losses); updating in
        # place with the scalar lr / batch_size takes two operations instead of four
        param -= lr / batch_size * param.grad


def accuracy(y_hat, y):
    """Return the number of rows whose arg-max equals the label, as a 1-element NDArray."""
    return (y_hat.argmax(axis=1) == y.astype(y_hat.dtype)).sum()


def evaluate_accuracy(net, data_iter):
    """Return the fraction of examples in data_iter that net classifies correctly."""
    correct, n = [], 0
    for X, y in data_iter:
        correct.append(accuracy(net(X), y))
        n += X.shape[0]
    return float(_concat(correct).sum()) / n


def _concat(scalars, chunk=512):
    """Return a list of 1-element NDArrays as one numpy array, with one device sync."""
    parts = [nd.concat(*scalars[i:i + chunk], dim=0) for i in range(0, len(scalars), chunk)]
    return nd.concat(*parts, dim=0).asnumpy().astype(np.float64) if parts else np.zeros(0)


def train_epoch(net, train_iter, loss, updater, *, batch_size=None, with_accuracy=False, ctx=None):
    """Make one pass over train_iter, updating the parameters after every batch.

    Each step is updater(batch_size), the book's rule, or updater(len(X)) when
    batch_size is None.

    Return numpy arrays (loss sum, size, correct count) with one entry per
    batch.  Batch results stay on the device until the epoch ends, so the loop
    never waits for the device.  With ctx, a list of devices holding copies
    of net's parameters, each batch is split across them: every device runs
    forward and backward on its slice, and updater gets the whole batch size.
    """
    sums, sizes, correct = [], [], []
    for X, y in train_iter:
        _Interrupt.check()
        Xs, ys = _split(X, y, ctx)
        with autograd.record():
            y_hats = [net(X_slice) for X_slice in Xs]
            ls = [loss(y_hat, y_slice) for y_hat, y_slice in zip(y_hats, ys)]
        autograd.backward(ls)  # each l has one loss per example: backward sums them
        updater(X.shape[0] if batch_size is None else batch_size)
        sums.append(_total([l.sum() for l in ls]))
        sizes.append(X.shape[0])
        if with_accuracy:
            correct.append(_total([accuracy(y_hat, y_slice) for y_hat, y_slice in zip(y_hats, ys)]))
    return _concat(sums), np.array(sizes, dtype=np.float64), _concat(correct)


def _split(X, y, ctx):
    """Return X and y as lists of slices, one per device of ctx (one slice when ctx is None)."""
    if ctx is None:
        return [X], [y]
    from mxnet.gluon.utils import split_and_load
    if X.shape[0] < len(ctx):
        # an empty slice would leave that device's gradient stale and its parameters behind
        raise D2LError('a batch of %d examples cannot be split across %d devices; choose a batch '
                       'size that leaves at least %d examples in the last batch'
                       % (X.shape[0], len(ctx), len(ctx)))
    # uneven slices are fine: the kvstore sums gradients, and the step divides by the whole batch
    return (split_and_load(X, ctx, even_split=False), split_and_load(y, ctx, even_split=False))


def _total(scalars):
    """Return the sum of 1-element NDArrays on their devices as one NDArray on the first's."""
    if len(scalars) == 1:
        return scalars[0]
    return nd.add_n(*[s.as_in_context(scalars[0].context) for s in scalars])


def _first_bad_batch(batch_means, reference, factor):
    """Return the 1-based index of the first batch whose loss is not finite or above factor × reference."""
    bad = ~np.isfinite(batch_means)
    if reference is not None and reference > 0:
        bad |= batch_means > factor * reference
    indices = np.flatnonzero(bad)
    return int(indices[0]) + 1 if indices.size else None


def train(net, train_iter, loss, updater, num_epochs, *, batch_size=None, evaluate=None,
          with_accuracy=False, on_epoch=None, history=(), divergence_factor=DIVERGENCE_FACTOR,
          ctx=None, moving_every=None):
    """Train for num_epochs and return the history: one dict per epoch.

    Each record has ``epoch``, ``loss`` (mean per-example loss over the
    epoch's batches), ``moving_loss`` (the smoothed batch loss),
    ``train_acc`` when with_accuracy, whatever ``evaluate()`` returns (it may
    replace ``loss``, e.g. by the loss on the whole training set), and
    ``seconds``.  ``on_epoch(record)`` runs after every epoch (printing,
    checkpoints).  Pass the ``history`` of earlier epochs to continue a run.
    A batch loss that is NaN, infinite or above divergence_factor times the
    first batch's raises DivergenceError naming the epoch and batch.  A list
    of devices ctx splits every batch across them (see train_epoch).  Every
    step divides by batch_size (None: by each batch's own size).  With
    moving_every = k each record adds ``moving_losses``: [batch number,
    moving loss] after every k-th batch of the run, as straight-dope prints.
    """
    with _Interrupt.deferred():
        return _train(net, train_iter, loss, updater, num_epochs, evaluate, with_accuracy,
                      on_epoch, list(history), divergence_factor, ctx, batch_size, moving_every)


def _train(net, train_iter, loss, updater, num_epochs, evaluate, with_accuracy, on_epoch,
           history, divergence_factor, ctx, batch_size, moving_every):
    moving = history[-1]['moving_loss'] if history else 0.0
    # the divergence rule's yardstick, kept in epoch 1's record so a resumed run uses it too
    reference = history[0].get('reference_loss') if history else None
    for epoch in range(len(history) + 1, num_epochs + 1):
        start = time.perf_counter()
        sums, sizes, correct = train_epoch(net, train_iter, loss, updater, batch_size=batch_size,
                                           with_accuracy=with_accuracy, ctx=ctx)
        batch_means = sums / sizes
        if reference is None and len(batch_means):
            k = int(np.searchsorted(np.cumsum(sizes), REFERENCE_EXAMPLES)) + 1
            reference = sums[:k].sum() / sizes[:k].sum()
        bad = _first_bad_batch(batch_means, reference, divergence_factor)
        if bad is not None:
            raise DivergenceError(epoch, bad, history)
        if not len(batch_means):
            raise D2LError('the training set holds no examples; check the data')
        done, marks = (epoch - 1) * len(batch_means), []  # every epoch has as many batches
        for batch_mean in batch_means:
            moving = (1 - SMOOTHING) * moving + SMOOTHING * batch_mean
            done += 1
            if moving_every and done % moving_every == 0:
                marks.append([done, float(moving)])
        record = {'epoch': epoch, 'loss': float(sums.sum() / sizes.sum()),
                  'moving_loss': float(moving)}
        if moving_every:
            record['moving_losses'] = marks
        if epoch == 1 and reference is not None:
            record['reference_loss'] = float(reference)
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
        _Interrupt.check()
    return history


def divergence_fix(config):
    """Return the fix of a divergence under config: a smaller --lr, and the settings that enlarge the step."""
    fix = 'try a smaller --lr'
    if any(config.get('lambd') or ()):  # the penalty's gradient steps w by lr * λ * w
        fix += ', or a smaller --lambd'
    if config.get('step_divisor') == 'none' and config['batch_size'] > 1:
        return ('with --step-divisor none each step is %d times (the batch size) as large: %s, or '
                '--step-divisor batch-size' % (config['batch_size'], fix))
    return fix


def fit_versions(setup, config, train_iter, ctx=None, *, evaluate=None, with_accuracy=False,
                 on_epoch=None, restore=None, split=None, moving_every=None):
    """Train every version config['impl'] names; return {impl: (Setup, history)}.

    Each version is set up by setup(impl, config, ctx) from the same random
    state (seed + 1), so both start alike and see the same batches.
    evaluate(version) returns the version's evaluate() for train().
    on_epoch(impl, record, version) runs after every epoch; restore(impl,
    version) may load saved parameters and return the epochs already done.
    split is train()'s list of devices for data parallelism.
    """
    from . import seed
    trained = {}
    for impl in impls(config):
        seed(config['seed'] + 1)
        version = setup(impl, config, ctx)
        history = restore(impl, version) if restore is not None else []
        callback = None if on_epoch is None else (
            lambda record, impl=impl, version=version: on_epoch(impl, record, version))
        try:
            history = train(version.net, train_iter, version.loss, version.updater,
                            config['num_epochs'], batch_size=step_batch(config),
                            evaluate=None if evaluate is None else evaluate(version),
                            with_accuracy=with_accuracy, on_epoch=callback, history=history,
                            ctx=split, moving_every=moving_every)
        except DivergenceError as e:
            e.impl, e.fix = impl, divergence_fix(config)
            raise
        trained[impl] = (version, history)
    return trained
