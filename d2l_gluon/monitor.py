"""The tooling's view of training: epoch records, divergence, timing, Ctrl-C and resume.

The book's loops in ``d2l.py`` and the chapters compute; a ``Monitor``
watches them from outside.  It wraps the training iterator (to time each
epoch and to hold Ctrl-C until a batch boundary), and its ``on_epoch`` turns
the loop's record into the tool's: the epoch number after a resumed run's
earlier epochs, the moving average of the batch loss, the divergence check
and the seconds taken.  A ``Watch`` trains every version of a chapter, each
watched by its own monitor.
"""
import contextlib
import signal
import threading
import time

import numpy as np
from mxnet import nd

from .config import impls
from .errors import D2LError, DivergenceError

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
    NDArray whose __del__ later prints a traceback; so while a version
    trains, the first Ctrl-C only sets a flag, and the monitor's iterator
    raises KeyboardInterrupt between batches.  A second Ctrl-C raises at once.
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


class _Watched:
    """A re-iterable over train_iter's batches that times each pass and stops at Ctrl-C."""

    def __init__(self, train_iter, monitor):
        self.train_iter, self.monitor = train_iter, monitor

    def __len__(self):
        return len(self.train_iter)

    def __iter__(self):
        self.monitor.started = time.perf_counter()
        for batch in self.train_iter:
            _Interrupt.check()
            yield batch
        nd.waitall()  # the pass has ended when the device has done its work, not when it was queued
        self.monitor.trained = time.perf_counter()


class Monitor:
    """Watch one version's training: records, moving loss, divergence, timing.

    history holds the records of epochs done before (a resumed run);
    on_record(record) runs after every epoch; with moving_every = k each
    record adds ``moving_losses``: [batch number, moving loss] after every
    k-th batch of the run, as straight-dope prints.
    """

    def __init__(self, history=(), on_record=None, moving_every=None,
                 divergence_factor=DIVERGENCE_FACTOR):
        self.history, self.on_record = list(history), on_record
        self.moving_every, self.divergence_factor = moving_every, divergence_factor
        self.moving = self.history[-1]['moving_loss'] if self.history else 0.0
        # the divergence rule's yardstick, kept in epoch 1's record so a resumed run uses it too
        self.reference = self.history[0].get('reference_loss') if self.history else None
        self.started = self.trained = None

    def batches(self, train_iter):
        """Return train_iter watched: each pass timed, Ctrl-C raised between batches."""
        return _Watched(train_iter, self)

    def on_epoch(self, record, l_sums, sizes):
        """Complete the loop's record of an epoch (per-batch loss sums and sizes given); raise on divergence."""
        now = time.perf_counter()
        epoch = len(self.history) + 1
        if not len(sizes):
            raise D2LError('the training set holds no examples; check the data')
        batch_means = l_sums / sizes
        if self.reference is None:
            k = int(np.searchsorted(np.cumsum(sizes), REFERENCE_EXAMPLES)) + 1
            self.reference = l_sums[:k].sum() / sizes[:k].sum()
        bad = _first_bad_batch(batch_means, self.reference, self.divergence_factor)
        if bad is None and not np.isfinite(record['loss']):
            bad = len(sizes)
        if bad is not None:
            raise DivergenceError(epoch, bad, self.history)
        record['epoch'] = epoch
        record['moving_loss'], marks = self._moving(batch_means, epoch)
        if self.moving_every:
            record['moving_losses'] = marks
        if epoch == 1:
            record['reference_loss'] = float(self.reference)
        if self.started is not None and self.trained is not None:
            record['seconds'] = self.trained - self.started
            record['eval_seconds'] = now - self.trained
        self.history.append(record)
        if self.on_record is not None:
            self.on_record(record)
        _Interrupt.check()

    def _moving(self, batch_means, epoch):
        """Return the moving loss after the epoch's batches and the marks every moving_every batches."""
        done, marks = (epoch - 1) * len(batch_means), []  # every epoch has as many batches
        for batch_mean in batch_means:
            self.moving = (1 - SMOOTHING) * self.moving + SMOOTHING * batch_mean
            done += 1
            if self.moving_every and done % self.moving_every == 0:
                marks.append([done, float(self.moving)])
        return float(self.moving), marks


def _first_bad_batch(batch_means, reference, factor):
    """Return the 1-based index of the first batch whose loss is not finite or above factor × reference."""
    bad = ~np.isfinite(batch_means)
    if reference is not None and reference > 0:
        bad |= batch_means > factor * reference
    indices = np.flatnonzero(bad)
    return int(indices[0]) + 1 if indices.size else None


def divergence_fix(config):
    """Return the fix of a divergence under config: a smaller --lr, and the settings that enlarge the step."""
    fix = 'try a smaller --lr'
    if any(config.get('lambd') or ()):  # the penalty's gradient steps w by lr * λ * w
        fix += ', or a smaller --lambd'
    if config.get('step_divisor') == 'none' and config['batch_size'] > 1:
        return ('with --step-divisor none each step is %d times (the batch size) as large: %s, or '
                '--step-divisor batch-size' % (config['batch_size'], fix))
    return fix


class Watch:
    """The tooling's loop over a chapter's versions, each trained under a Monitor.

    A chapter's fit hands it to chapters.train_versions, which then calls
    versions(): the same draws (seed + 1 per version, scratch first), the
    same setup and train, plus on_epoch(run, record, version) after every
    epoch, restore(run, version) (saved parameters; returns the epochs
    already done), Ctrl-C held to a batch boundary and the divergence check.
    devices (distributed.Devices) trains the Gluon version on several
    devices or processes, each on its shard of the training set.
    """

    def __init__(self, on_epoch=None, restore=None, devices=None):
        self.on_epoch, self.restore, self.devices = on_epoch, restore, devices

    def versions(self, setup, train, config, data, ctx=None, run='{}'):
        """Train every version config['impl'] names; return {run name: chapters.Trained}."""
        from . import seed
        from .chapters import Trained
        if self.devices is not None:
            data = data._replace(train_iter=self.devices.shard(data.train_iter))
            setup, train = self.devices.wrap(setup), self.devices.train
            # a worker's steps divide by its share of the configured batch of all workers together
            config = dict(config, batch_size=config['batch_size'] // self.devices.num_workers)
        trained = {}
        for impl in impls(config):
            seed(config['seed'] + 1)
            version = setup(impl, config, ctx)
            name = run.format(impl)
            trained[name] = Trained(version, self._train(name, version, train, config, data))
        return trained

    def _train(self, name, version, train, config, data):
        """Return the epoch records of one version trained by train under a Monitor."""
        history = self.restore(name, version) if self.restore is not None else []
        callback = None if self.on_epoch is None else (
            lambda record: self.on_epoch(name, record, version))
        monitor = Monitor(history, callback, config.get('print_batches') or None)
        left = dict(config, num_epochs=config['num_epochs'] - len(history))
        try:
            with _Interrupt.deferred():
                train(version, data._replace(train_iter=monitor.batches(data.train_iter)), left,
                      monitor)
        except DivergenceError as e:
            e.impl, e.fix = name, divergence_fix(config)
            raise
        return monitor.history
