"""The small chapters' training steps, for scripts/benchmark.py: time, operator calls and the floor.

For linear regression, polyfit, weight decay and logistic regression on the
hours data (book defaults, both versions) it measures:

- ms per step of the book's loop, d2l.train_epoch_ch3 (batches drawn, the
  step, the epoch's loss sums), and of the chapter's own train(), which adds
  the evaluation after every epoch;
- imperative operator calls per step (each NDArray operator and each call of
  a hybridized block counts one; autograd's backward is one C call, not counted);
- the step's floor: the same model's recorded forward, backward() and update
  alone, repeated on one preloaded batch, timed in the same process;
- the cost of one empty imperative call (b = a + 1 on a 10 x 2 array).

Every time is the best of several repeats: on a shared machine the minimum is
the figure least disturbed by the other processes.  The step's pieces (epoch,
floor_step, floor_seconds) take any version, a pytorch one too: they also
time the PyTorch versions (scripts/benchmark_torch.py) and the Fashion-MNIST
floors (scripts/benchmark.py).
"""
import contextlib
import time

import mxnet as mx
from mxnet import autograd, nd

from d2l_gluon import d2l, d2l_torch, seed
from d2l_gluon.chapters import chapter
from d2l_gluon.config import make_config, step_batch

# command -> changes to the book's defaults; logistic regression is measured on the lecture's data
CHAPTERS = {'linreg': {}, 'polyfit': {}, 'weight-decay': {}, 'logreg': {'data': 'hours'}}
IMPLS = ('scratch', 'gluon')


class CallCounter:
    """Count imperative operator calls (and calls of hybridized blocks) while active."""

    def __init__(self):
        self.calls = 0

    @contextlib.contextmanager
    def counting(self):
        import mxnet.ndarray.register as register
        import mxnet._ctypes.ndarray as ctypes_ndarray
        invoke, cached = register._imperative_invoke, ctypes_ndarray.CachedOp.__call__

        def counted_invoke(*args):
            self.calls += 1
            return invoke(*args)

        def counted_cached(op, *args, **kwargs):
            self.calls += 1
            return cached(op, *args, **kwargs)
        # the generated operator functions look _imperative_invoke up in register's globals
        register._imperative_invoke, ctypes_ndarray.CachedOp.__call__ = counted_invoke, counted_cached
        try:
            yield self
        finally:
            register._imperative_invoke, ctypes_ndarray.CachedOp.__call__ = invoke, cached


def best_time(run, repeats):
    """Return the least seconds of repeats runs of run(), each waited for to the end."""
    best = float('inf')
    for _ in range(repeats):
        nd.waitall()
        start = time.perf_counter()
        run()
        nd.waitall()
        best = min(best, time.perf_counter() - start)
    return best


def build(name, impl, seed_value):
    """Return (chapter, config, data, version) of one chapter's version, as the CLI builds them."""
    ch = chapter(name)
    config = ch.complete(make_config(ch.options, seed=seed_value, **CHAPTERS[name]))
    data = ch.load_data(config, mx.cpu())
    seed(seed_value + 1)
    return ch, config, data, ch.setup(impl, config, mx.cpu())


def empty_call_seconds(repeats, number):
    """Return the seconds of one imperative call that computes next to nothing: b = a + 1, a 10 x 2."""
    a = nd.zeros((10, 2))

    def calls():
        for _ in range(number):
            a + 1
    return best_time(calls, repeats) / number


def epoch(version, train_iter, batch_size):
    """Return a function running one pass of the book's loop: d2l.train_epoch_ch3, or its PyTorch twin."""
    if version.impl == 'pytorch':
        return lambda: d2l_torch.train_epoch_ch3(version.net, train_iter, version.loss, version.trainer,
                                                 batch_size, accuracy=None)
    return lambda: d2l.train_epoch_ch3(version.net, train_iter, version.loss, version.updater, batch_size,
                                       accuracy=None)


def floor_step(version, X, y, batch_size):
    """Return the version's minimal step on the preloaded batch X, y: recorded forward, backward, update."""
    if version.impl == 'pytorch':  # trainer.step(l, n) takes the backward pass and the update
        X, y = d2l_torch.tensor(X), d2l_torch.tensor(y)
        return lambda: version.trainer.step(version.loss(version.net(X), y), batch_size)

    def step():
        with autograd.record():
            l = version.loss(version.net(X), y)
        l.backward()
        version.updater(batch_size)
    return step


def floor_seconds(step, number, repeats):
    """Return the least seconds of one step() over repeats runs of number steps, after one warm-up run."""
    def steps():
        for _ in range(number):
            step()
    steps()
    return best_time(steps, repeats) / number


def measure_version(name, impl, seed_value, steps, repeats):
    """Return one version's figures: ms per step (loop, train), calls per step, floor and ratio."""
    ch, config, data, version = build(name, impl, seed_value)
    batch_size, train_iter = step_batch(config), data.train_iter
    per_epoch = len(train_iter)
    epochs = max(1, -(-steps // per_epoch))
    one_epoch = epoch(version, train_iter, batch_size)

    def loop():
        for _ in range(epochs):
            one_epoch()
    loop()  # warm-up: allocations, first calls
    step = best_time(loop, repeats) / (epochs * per_epoch)
    counter = CallCounter()
    with counter.counting():
        loop()
    train = best_time(lambda: ch.train(version, data, dict(config, num_epochs=epochs)),
                      repeats) / (epochs * per_epoch)
    X, y = next(iter(train_iter))
    X, y = X.copy(), y.copy()  # one preloaded batch
    floor = floor_seconds(floor_step(version, X, y, batch_size), epochs * per_epoch, repeats)
    return {'steps_per_epoch': per_epoch, 'batch_size': config['batch_size'],
            'ms_per_step': step * 1e3, 'train_ms_per_step': train * 1e3,
            'calls_per_step': counter.calls / (epochs * per_epoch), 'floor_ms': floor * 1e3,
            'step/floor': step / floor}


def measure(steps=300, repeats=5, seed_value=0):
    """Return {'empty_call_us', 'engine', 'chapters': {name: {impl: figures}}}."""
    import os
    result = {'engine': os.environ.get('MXNET_ENGINE_TYPE') or 'ThreadedEnginePerDevice',
              'empty_call_us': empty_call_seconds(repeats, max(steps, 100)) * 1e6, 'chapters': {}}
    for name in CHAPTERS:
        result['chapters'][name] = {impl: measure_version(name, impl, seed_value, steps, repeats)
                                    for impl in IMPLS}
    return result


def report(results):
    """Return text lines: one row per chapter and version, each engine's figures side by side."""
    lines = ['small chapters: ms per step of the book loop (train: with the evaluation after each '
             'epoch), operator calls per step, the floor (forward + backward + update on one batch)']
    lines.append('%-13s %-8s %-26s %7s %8s %8s %10s %10s'
                 % ('chapter', 'impl', 'engine', 'calls', 'ms/step', 'train ms', 'floor ms', 'step/floor'))
    for figures in results:
        for name, versions in figures['chapters'].items():
            for impl, f in versions.items():
                lines.append('%-13s %-8s %-26s %7.1f %8.3f %8.3f %10.3f %10.2f'
                             % (name, impl, figures['engine'], f['calls_per_step'], f['ms_per_step'],
                                f['train_ms_per_step'], f['floor_ms'], f['step/floor']))
    for figures in results:
        lines.append('one empty imperative call (b = a + 1, 10 x 2), %s: %.1f us'
                     % (figures['engine'], figures['empty_call_us']))
    return lines
