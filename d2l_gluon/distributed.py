"""Data parallelism with MXNet's kvstore: several devices in one process, several processes.

Several devices (``--ctx cpu(0),cpu(1) --kvstore device``): the Gluon net
keeps a copy of its parameters on every device, ``Devices.train`` splits each
batch across them, and the Trainer's kvstore sums the devices' gradients
before the step.  Every copy then takes the step one device takes on the
whole batch.  Without a kvstore each copy would step on its own slice's
gradient and the copies would silently drift apart: we refuse that.

Several processes (``d2l-gluon launch -n 2 -- softmax --impl gluon``, which
runs every worker with ``--kvstore dist_sync``): worker ``rank`` of
``num_workers`` trains on its own shard, every num_workers-th example of the
training set starting at ``rank``, in batches of batch_size / num_workers.
The servers sum the workers' gradients and take the sgd step with the scale
1 / (n * num_workers) for local batches of n -- the step of one process on
the union of the workers' batches, at the learning rate of single-process
training -- and every worker pulls the new parameters.  Worker 0 writes the
run folder; worker r > 0 writes its own run folder ``<out>/worker<r>``.

The scratch versions stay on one device without a kvstore.
"""
import dataclasses
import os

import numpy as np
from mxnet import autograd, nd

from . import d2l
from .chapters import Step
from .config import impls as settings_impls, step_batch
from .errors import D2LError
from .files import default_out_dir
from .worker import check_job, join

KVSTORES = ('device', 'local', 'dist_sync', 'dist_async')


def shard_indices(num_examples, rank, num_workers):
    """Return the indices of worker rank's shard: every num_workers-th example from rank.

    All shards have num_examples // num_workers examples (the last
    num_examples % num_workers examples are left out), so every worker takes
    the same number of steps of the same sizes: in dist_sync a worker with one
    step more would wait for the others forever.
    """
    size = num_examples // num_workers
    return np.arange(rank, size * num_workers, num_workers)


def check(contexts, kvstore, impls):
    """Raise D2LError unless the devices, the kvstore and the implementations go together."""
    names = ','.join(str(c) for c in contexts)
    if len(set(contexts)) != len(contexts):
        raise D2LError('--ctx %s names a device twice; name each device once' % names)
    if set(impls) - {'gluon'} and (len(contexts) > 1 or kvstore):
        raise D2LError('%s trains the Gluon version only: the scratch and PyTorch versions run on one device '
                       'without a kvstore; add --impl gluon'
                       % ('--ctx %s' % names if len(contexts) > 1 else '--kvstore %s' % kvstore))
    if len(contexts) > 1 and not kvstore:
        raise D2LError('--ctx %s names %d devices but no --kvstore: without one every device would '
                       'update its own copy of the parameters and the copies would drift apart; '
                       'add --kvstore device (or local)' % (names, len(contexts)))


def check_workers(config, kvstore, num_workers, resume=False):
    """Raise D2LError unless a classifier run's config can run on num_workers workers."""
    if resume:
        raise D2LError('--resume does not work with --kvstore %s: the workers would have to agree '
                       'on the epoch to continue from; start the run again' % kvstore)
    if config.get('loader', 'fast') != 'fast':
        raise D2LError('--loader %s does not split the training set into shards; use --loader fast '
                       'with --kvstore %s' % (config['loader'], kvstore))
    if config['batch_size'] % num_workers:
        raise D2LError('--batch-size %d is the batch of all %d workers together and must split '
                       'evenly among them; choose a multiple of %d'
                       % (config['batch_size'], num_workers, num_workers))


class Devices:
    """Where one process trains: its devices, its kvstore, and its place among the workers."""

    def __init__(self, contexts, kvstore=None, kv=None, batch_size=None):
        self.contexts = list(contexts)
        self.ctx = self.contexts[0]  # the data and the evaluation live here
        self.kvstore = kvstore
        self.kv = kv  # the joined parameter-server kvstore, or None
        self.rank = kv.rank if kv is not None else 0
        self.num_workers = kv.num_workers if kv is not None else 1
        self.batch_size = batch_size  # of all workers together
        self.shard_size = None

    @property
    def split(self):
        """Return the list of devices a batch is split across when there are several, else None."""
        return self.contexts if len(self.contexts) > 1 else None

    def train(self, version, data, config, monitor=None):
        """Train version as the book's train_ch3 does, each batch split across the devices.

        Every device runs forward and backward on its slice; the Trainer's
        kvstore sums the gradients and the step divides by the whole batch.
        Return the epoch records.
        """
        batch_size, history = step_batch(config), []
        for epoch in range(config['num_epochs']):
            l_sums, correct, sizes = self._epoch(version, data.train_iter, batch_size)
            n = sizes.sum()
            history.append({'epoch': epoch + 1, 'loss': float(l_sums.sum() / n),
                            'train_acc': float(correct.sum() / n),
                            'test_acc': d2l.evaluate_accuracy(data.test_iter, version.net)})
            if monitor is not None:
                monitor.on_epoch(history[-1], l_sums, sizes)
        return history

    def _epoch(self, version, train_iter, batch_size):
        """Make one pass; return per-batch loss sums, correct counts and sizes (numpy)."""
        net, loss, updater = version.net, version.loss, version.updater
        l_sums, correct, sizes = [], [], []
        for X, y in train_iter:
            Xs, ys = _split(X, y, self.split)
            with autograd.record():
                y_hats = [net(X_slice) for X_slice in Xs]
                ls = [loss(y_hat, y_slice) for y_hat, y_slice in zip(y_hats, ys)]
            autograd.backward(ls)  # each l has one loss per example: backward sums them
            updater(X.shape[0] if batch_size is None else batch_size)
            l_sums.append(_total([l.sum() for l in ls]))
            correct.append(_total([d2l.accuracy(y_hat, y_slice) for y_hat, y_slice in zip(y_hats, ys)]))
            sizes.append(X.shape[0])
        return d2l.to_numpy(l_sums), d2l.to_numpy(correct), np.array(sizes, dtype=np.float64)

    def shard(self, train_iter):
        """Return this worker's part of train_iter, an ArrayLoader of the whole training set.

        One worker gets train_iter itself.  Worker rank gets shard_indices()
        in batches of batch_size / num_workers, shuffled as train_iter was:
        every worker draws the same permutation of its shard from the shared
        seed.
        """
        from .data import ArrayLoader
        self.check(train_iter)
        if self.num_workers == 1:
            return train_iter
        indices = shard_indices(len(train_iter.features), self.rank, self.num_workers)
        j = nd.array(indices, ctx=train_iter.features.context, dtype='int64')
        return ArrayLoader(train_iter.features.take(j), train_iter.labels.take(j),
                           train_iter.batch_size // self.num_workers, train_iter.shuffle)

    def check(self, train_iter):
        """Raise D2LError when the batches of train_iter cannot be shared among the workers and devices.

        Called before the run folder is written, and by shard.
        """
        from .data import ArrayLoader
        if self.num_workers == 1:
            if isinstance(train_iter, ArrayLoader):  # the book loader is checked batch by batch
                self.shard_size = len(train_iter.features)
                _check_split(self.shard_size, train_iter.batch_size, len(self.contexts))
            return
        self.shard_size = len(shard_indices(len(train_iter.features), self.rank, self.num_workers))
        if not self.shard_size:
            raise D2LError('%d training examples cannot be shared among %d workers; start fewer '
                           'workers' % (len(train_iter.features), self.num_workers))
        _check_split(self.shard_size, train_iter.batch_size // self.num_workers, len(self.contexts))

    def wrap(self, setup):
        """Return a chapter's setup(impl, config, ctx) that puts the Gluon version on these devices."""
        def on_devices(impl, config, ctx=None):
            if impl == 'scratch':
                return setup(impl, config, self.ctx)
            if self.kv is None:
                # one device: Trainer's default 'device' creates no kvstore at all
                return setup(impl, config, self.split or self.ctx, kvstore=self.kvstore or 'device')
            return self._on_servers(setup(impl, config, self.contexts, kvstore=self.kv))
        return on_devices

    def _on_servers(self, version):
        """Return version stepping on the gradient summed over every worker's batch.

        The servers hold the parameters and take the sgd step on the workers'
        summed gradient; every worker pulls the result (update_on_kvstore,
        MXNet's default for dist kvstores).  Summing on the servers but stepping
        on the workers (update_on_kvstore=False) races here: the servers
        overwrite the initial weights with the first summed gradient, and a
        worker whose initial pull of the weights arrives late gets the gradient.
        """
        whole, step = self.batch_size, version.updater
        grads = [g for p in version.params.values() if p.grad_req != 'null' for g in p.list_grad()]

        def updater(batch):
            # the servers keep the scale 1 / whole of the first step (Trainer refuses a change),
            # so a step of another size (the actual rule's short last batch) rescales its gradients
            if batch * self.num_workers != whole:
                for g in grads:
                    g *= whole / (batch * self.num_workers)
            step(whole)
        return dataclasses.replace(version, trainer=Step(updater))

    def describe(self):
        """Return one line on this worker's place: rank, shard and batch size."""
        first = ', '.join(str(self.rank + k * self.num_workers) for k in range(3))
        return ('worker %d of %d (%s, kvstore %s): %d training examples (%s, ...) in batches of %d '
                '(%d for all workers)'
                % (self.rank, self.num_workers, ','.join(str(c) for c in self.contexts),
                   self.kvstore, self.shard_size, first, self.batch_size // self.num_workers,
                   self.batch_size))


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


def _check_split(num_examples, batch_size, num_devices):
    """Raise D2LError when some batch would leave a device without examples."""
    last = num_examples % batch_size
    if num_devices > 1 and (batch_size < num_devices or 0 < last < num_devices):
        raise D2LError('batches of %d examples (the last one of %d) cannot be split across %d '
                       'devices; choose a --batch-size that gives every device an example'
                       % (batch_size, last or batch_size, num_devices))


def setup(contexts, kvstore, config, out, command, resume=False, parallel=True):
    """Check the devices, kvstore and versions of a run; return (Devices or None, out).

    A chapter that is not data-parallel gets None and must run on one device.
    With a dist kvstore the process joins the parameter server (waiting until
    every worker has joined), and a worker of rank r > 0 gets its own run
    folder <out>/worker<r>, so that no two processes write the same file.
    """
    if not parallel:
        if len(contexts) > 1 or kvstore:
            raise D2LError('%s trains on one device; pass a single --ctx and no --kvstore' % command)
        return None, out
    impls = settings_impls(config)
    check(contexts, kvstore, impls)
    if len(contexts) == 1 and not kvstore:
        return None, out  # one device: the chapter's own loop, as the book runs it
    if not (kvstore or '').startswith('dist'):
        return Devices(contexts, kvstore, batch_size=config['batch_size']), out
    if os.environ.get('DMLC_ROLE') != 'worker':
        raise D2LError('--kvstore %s needs a scheduler and servers: start the workers with '
                       'd2l-gluon launch -n WORKERS -- %s ... (see "Several devices and several '
                       'processes" in README.md)' % (kvstore, command))
    check_workers(config, kvstore, check_job(kvstore), resume)
    devices = Devices(contexts, kvstore, join(kvstore), config['batch_size'])
    if devices.rank > 0:
        out = os.path.join(out or default_out_dir(command), 'worker%d' % devices.rank)
    return devices, out
