"""The tooling's view of training (d2l_gluon.monitor): divergence, the reference loss, the moving loss,
timing, resumed histories, an empty training set and Ctrl-C held to a batch boundary."""
import os
import signal
import threading

import numpy as np
import pytest
from mxnet import autograd, nd

from d2l_gluon import D2LError, DivergenceError, d2l
from d2l_gluon.chapters import Step, Version, linear_regression
from d2l_gluon.config import make_config
from d2l_gluon.data import ArrayLoader
from d2l_gluon.monitor import REFERENCE_EXAMPLES, Monitor, Watch

from .helpers import one_line, run_main

# ---- training a tiny regression model the way the regression chapters do, watched by monitors

X = nd.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])
Y = nd.array([[1.0], [2.0], [3.0]])


def constant_batches(num_batches=4):
    """The same small regression batch num_batches times: with a no-op step every batch loss is equal."""
    return [(X, Y)] * num_batches


def spoiled_loss(epoch, batch, num_batches, spoil):
    """A squared loss that applies spoil to its value in the given epoch and batch (1-based) of training."""
    calls = []

    def loss(y_hat, y):
        l = linear_regression.squared_loss(y_hat, y)
        if autograd.is_recording():  # count training batches only, not the evaluation after an epoch
            calls.append(None)
            if len(calls) == (epoch - 1) * num_batches + batch:
                l = spoil(l)
        return l
    return loss


def tiny_setup(loss, step=lambda n: None):
    """Return setup(impl, config, ctx) for a Watch: linreg on fixed w, b, the given loss and step."""
    def setup(impl, config, ctx=None):
        params = [nd.array([[0.1], [-0.2]]), nd.zeros(1)]
        for p in params:
            p.attach_grad()
        return Version(impl, lambda X: linear_regression.linreg(X, *params), loss, params,
                       trainer=Step(step))
    return setup


def train_tiny(setup, batches, num_epochs, on_epoch=None):
    """Train the scratch version of setup over batches with the linear regression chapter's loop."""
    config = {'impl': 'scratch', 'seed': 0, 'num_epochs': num_epochs, 'batch_size': 3,
              'step_divisor': 'batch-size'}
    data = linear_regression.Data(batches, X, Y)
    return Watch(on_epoch).versions(setup, linear_regression.train, config, data)['scratch'].history


# ---- divergence

@pytest.mark.parametrize('bad', [float('nan'), float('inf')], ids=['nan', 'inf'])
def test_training_raises_divergence_error_naming_the_version_epoch_and_batch_of_a_bad_loss(bad):
    records = []
    with pytest.raises(DivergenceError) as caught:
        train_tiny(tiny_setup(spoiled_loss(2, 3, 4, lambda l: l * bad)), constant_batches(), 3,
                   on_epoch=lambda impl, record, version: records.append(record))
    error = caught.value
    assert (error.impl, error.epoch, error.batch) == ('scratch', 2, 3)
    assert 'epoch 2, batch 3' in str(error) and 'smaller --lr' in str(error)
    assert error.exit_code == 3
    # the completed epoch is kept; nothing of the one that diverged
    assert [r['epoch'] for r in error.history] == [1] and records == error.history


@pytest.mark.parametrize('factor, diverges', [(101.0, True), (99.0, False)])
def test_a_batch_loss_over_100_times_the_reference_counts_as_divergence(factor, diverges):
    # the reference is epoch 1's mean here (its 12 examples are fewer than 256)
    setup = tiny_setup(spoiled_loss(2, 4, 4, lambda l: l * factor))
    if diverges:
        with pytest.raises(DivergenceError) as caught:
            train_tiny(setup, constant_batches(), 2)
        assert (caught.value.epoch, caught.value.batch) == (2, 4)
    else:
        assert [r['epoch'] for r in train_tiny(setup, constant_batches(), 2)] == [1, 2]


def test_a_non_finite_epoch_loss_counts_as_divergence_after_the_last_batch():
    # every batch loss is finite, but the loss the chapter reports after the epoch is not
    monitor = Monitor()
    with pytest.raises(DivergenceError) as caught:
        monitor.on_epoch({'loss': float('nan')}, np.ones(4), np.ones(4))
    assert (caught.value.epoch, caught.value.batch) == (1, 4) and monitor.history == []


def test_one_examples_loss_is_not_the_divergence_yardstick():
    # at batch size 1 single losses vary by over 100x: the yardstick is the first 256 examples' mean
    values = [1.0, 150.0] + [2.0] * 298
    sizes = np.ones(len(values))
    record = {'loss': float(np.mean(values))}
    Monitor().on_epoch(record, np.array(values), sizes)
    assert record['reference_loss'] == pytest.approx(sum(values[:REFERENCE_EXAMPLES]) / REFERENCE_EXAMPLES)
    # a loss 100 times that mean is still divergence, named by its batch
    with pytest.raises(DivergenceError) as caught:
        Monitor().on_epoch({'loss': 1.0}, np.array(values[:299] + [1000.0]), sizes)
    assert (caught.value.epoch, caught.value.batch) == (1, 300)


def test_the_reference_is_the_mean_of_the_first_batches_holding_256_examples():
    # 10 examples per batch: the first 26 batches (260 examples) are the first to reach 256
    l_sums, sizes = 10.0 * np.arange(1.0, 41.0), np.full(40, 10.0)
    record = {'loss': 1.0}
    Monitor().on_epoch(record, l_sums, sizes)
    assert record['reference_loss'] == pytest.approx(l_sums[:26].sum() / 260)


# ---- the moving loss, timing, resumed runs

def _epochs(num_epochs, num_batches=5):
    """Per-batch (loss sums, sizes) of num_epochs epochs, batches of 2 with varied losses."""
    rng = np.random.RandomState(3)
    return [(rng.uniform(1, 2, num_batches) * 2, np.full(num_batches, 2.0)) for _ in range(num_epochs)]


def _watch(monitor, epochs):
    for l_sums, sizes in epochs:
        monitor.on_epoch({'loss': float(l_sums.sum() / sizes.sum())}, l_sums, sizes)
    return monitor.history


def test_the_moving_loss_is_straight_dopes_average_of_the_batch_losses_from_zero():
    epochs = _epochs(2)
    history = _watch(Monitor(moving_every=3), epochs)
    moving, expected, done = 0.0, [], 0
    for l_sums, sizes in epochs:
        marks = []
        for batch_mean in l_sums / sizes:
            moving = 0.99 * moving + 0.01 * batch_mean
            done += 1
            if done % 3 == 0:
                marks.append([done, pytest.approx(moving, rel=1e-12)])
        expected.append((pytest.approx(moving, rel=1e-12), marks))
    assert [(r['moving_loss'], r['moving_losses']) for r in history] == expected
    assert [m[0] for r in history for m in r['moving_losses']] == [3, 6, 9]  # run-wide batch numbers
    assert 'moving_losses' not in _watch(Monitor(), epochs)[0]


def test_a_resumed_history_continues_epoch_numbers_moving_loss_and_reference():
    epochs = _epochs(3)
    whole = _watch(Monitor(moving_every=2), epochs)
    first = _watch(Monitor(moving_every=2), epochs[:1])
    resumed = Monitor(first, moving_every=2)
    assert _watch(resumed, epochs[1:]) == whole
    assert [r['epoch'] for r in whole] == [1, 2, 3]
    assert 'reference_loss' in whole[0] and all('reference_loss' not in r for r in whole[1:])
    # the reference of a resumed run is epoch 1's: a later batch 100 times that diverges
    late = Monitor(first)
    with pytest.raises(DivergenceError) as caught:
        late.on_epoch({'loss': 1.0}, np.array([1.0, 101 * whole[0]['reference_loss']]), np.ones(2))
    assert (caught.value.epoch, caught.value.batch) == (2, 2)


def test_a_watch_times_every_epoch_and_calls_on_epoch_with_each_record():
    seen = []
    history = train_tiny(tiny_setup(linear_regression.squared_loss), constant_batches(), 2,
                         on_epoch=lambda impl, record, version: seen.append((impl, record)))
    assert seen == [('scratch', r) for r in history] and [r['epoch'] for r in history] == [1, 2]
    for record in history:
        assert record['seconds'] >= 0 and record['eval_seconds'] >= 0


def test_an_empty_training_set_is_an_error_naming_the_data():
    with pytest.raises(D2LError, match='the training set holds no examples; check the data') as caught:
        Monitor().on_epoch({'loss': float('nan')}, np.zeros(0), np.zeros(0))
    assert not isinstance(caught.value, DivergenceError)


@pytest.mark.filterwarnings('ignore:invalid value encountered:RuntimeWarning')  # 0 / 0 examples
def test_train_ch3_on_an_empty_training_set_raises_the_monitors_error():
    test_iter = [(nd.zeros((2, 1, 28, 28)), nd.zeros(2, dtype='int32'))]
    from d2l_gluon.chapters.softmax_regression import setup
    version = setup('scratch', {'lr': 0.1})
    with pytest.raises(D2LError, match='holds no examples'):
        d2l.train_ch3(version.net, [], test_iter, version.loss, 1, 256, version.params, version.lr,
                      monitor=Monitor())


# ---- Ctrl-C

def test_ctrl_c_during_a_batch_stops_training_at_the_next_batch_boundary():
    # the monitor takes Ctrl-C over only from Python's own handler, in the main thread: say so
    # if an earlier test left another handler behind (seen once, in a full run, not reproduced)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, signal.getsignal(signal.SIGINT)
    assert threading.current_thread() is threading.main_thread()
    features, labels = nd.random.normal(shape=(50, 2)), nd.random.normal(shape=(50,))
    steps = []

    def loss(y_hat, y):
        if len(steps) == 2:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of the third batch
        return linear_regression.squared_loss(y_hat, y)

    def setup(impl, config, ctx=None):
        version = linear_regression.scratch_setup(config, ctx, loss)

        def step(n):
            steps.append(n)
            version.updater(n)
        return Version(impl, version.net, loss, version.params, trainer=Step(step))
    config = make_config(linear_regression.OPTIONS, impl='scratch', lr=0.1)
    data = linear_regression.Data(ArrayLoader(features, labels, 10), features, labels)
    with pytest.raises(KeyboardInterrupt):
        Watch().versions(setup, linear_regression.train, config, data)
    assert len(steps) == 3, 'the interrupted batch finishes its step, no later batch starts'
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize('args, causes', [
    (['weight-decay', '--lambd', '1e30'], ['try a smaller --lr, or a smaller --lambd']),
    (['weight-decay', '--lambd', '0', '--lr', '10'], []),
    (['linreg', '--step-divisor', 'none', '--lr', '0.3'],
     ['--step-divisor none', '10 times', '--step-divisor batch-size']),
    (['linreg', '--lr', '10'], []),
], ids=['lambd', 'lr-without-decay', 'step-divisor', 'lr'])
def test_divergence_names_the_settings_that_likely_caused_it(tmp_path, args, causes):
    result = run_main(*args, '--num-epochs', 1, '--impl', 'scratch', '--out', tmp_path / 'run')
    line = one_line(result.stderr)
    assert result.returncode == 3 and 'training diverged' in line and 'smaller --lr' in line, line
    for word in causes:
        assert word in line, '%r not in %r' % (word, line)
    if not causes:  # a learning rate too large alone: no other setting is blamed
        assert '--lambd' not in line and '--step-divisor' not in line, line


# ---- the book's code alone and under the tooling's watch train the same numbers

def test_fit_without_a_watch_trains_the_numbers_the_tools_watch_does():
    config = make_config(linear_regression.OPTIONS, num_epochs=2, seed=5)
    plain = linear_regression.fit(config)
    watched = linear_regression.fit(config, watch=Watch())
    assert list(plain.trained) == list(watched.trained) == ['scratch', 'gluon']
    for impl, run in plain.trained.items():
        records = watched.trained[impl].history
        assert [r['epoch'] for r in run.history] == [r['epoch'] for r in records] == [1, 2]
        # the watch adds its own keys (moving loss, seconds) and changes none of the book's
        assert run.history == [{k: r[k] for k in run.history[0]} for r in records]
        assert 'moving_loss' in records[0] and 'moving_loss' not in run.history[0]
    assert plain.metrics['max_abs_diff'] == watched.metrics['max_abs_diff']
    assert plain.metrics['runs']['gluon']['params'] == watched.metrics['runs']['gluon']['params']
