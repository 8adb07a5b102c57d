"""The book's saved functions (d2l_gluon.d2l): sgd vs Trainer.step, the step rule on a short batch, train_ch3."""
import numpy as np
import pytest
from mxnet import gluon, nd

from d2l_gluon import d2l
from d2l_gluon.data import ArrayLoader
from d2l_gluon.params import copy_to_gluon, gluon_as_scratch
from d2l_gluon.chapters.softmax_regression import cross_entropy, gluon_loss, gluon_net, init_params, scratch_net

from .helpers import assert_close

LR, BATCH_SIZE, NUM_EXAMPLES = 0.1, 256, 2 * 256 + 96  # the last batch has 96 examples, as in 60000
STEP_RULES = pytest.mark.parametrize('step_batch', [BATCH_SIZE, None], ids=['batch-size', 'actual'])


def _data(num_examples=NUM_EXAMPLES):
    X = nd.random.uniform(0, 1, shape=(num_examples, 1, 28, 28))
    y = nd.random.randint(0, 10, shape=(num_examples,)).astype('int32')
    return X, y


def _twins():
    """Return scratch params and a Gluon net holding the same values."""
    params = init_params()
    net = gluon_net()
    copy_to_gluon(params, net)
    return params, net


def _recording(updater, calls):
    def record(n):
        calls.append(n)
        updater(n)
    return record


@STEP_RULES
def test_sgd_and_trainer_step_agree_over_an_epoch_with_a_short_last_batch(step_batch):
    import d2l_gluon
    X, y = _data()
    params, net = _twins()
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': LR})
    calls = {'scratch': [], 'gluon': []}
    setups = {'scratch': (scratch_net(params), cross_entropy, lambda n: d2l.sgd(params, LR, n)),
              'gluon': (net, gluon_loss(), trainer.step)}
    for impl, (net_, loss, updater) in setups.items():
        d2l_gluon.seed(1)  # the same batch order for both
        d2l.train_epoch_ch3(net_, ArrayLoader(X, y, BATCH_SIZE), loss, _recording(updater, calls[impl]),
                            step_batch)
    expected = [256, 256, 256] if step_batch else [256, 256, 96]
    assert calls['scratch'] == calls['gluon'] == expected
    for ours, theirs, what in zip(params, gluon_as_scratch(net), ('W', 'b')):
        assert_close(ours, theirs, rtol=1e-5, atol=1e-7, what=what + ' after the epoch')


def test_the_books_rule_makes_the_last_step_96_256_of_a_full_one():
    """From the same parameters and the same short batch, the two rules' steps differ by 96/256."""
    X, y = _data()
    # float64, so that the parameter differences carry no float32 rounding of the parameters
    last = (X[-96:].astype('float64'), y[-96:])
    start, steps = init_params(), []
    for step_batch in (BATCH_SIZE, None):
        params = [p.astype('float64') for p in start]
        for p in params:
            p.attach_grad()
        before = [p.copy() for p in params]
        d2l.train_epoch_ch3(scratch_net(params), [last], cross_entropy,
                            lambda n: d2l.sgd(params, LR, n), step_batch)
        steps.append(np.concatenate([(p - q).asnumpy().ravel() for p, q in zip(params, before)]))
    book, actual = steps
    assert np.abs(actual).max() > 0
    big = np.abs(actual) > 1e-3 * np.abs(actual).max()  # entries far from float32 rounding
    np.testing.assert_allclose(book[big] / actual[big], 96 / 256, rtol=1e-12)


def test_evaluate_accuracy_takes_the_data_first_and_counts_every_example():
    # a net that always answers class 3: the accuracy is the share of label 3, over both batches
    y = nd.array([3, 1, 3, 3, 0], dtype='int32')
    batches = [(nd.zeros((3, 2)), y[:3]), (nd.zeros((2, 2)), y[3:])]
    always_3 = lambda X: nd.one_hot(nd.full((X.shape[0],), 3), 10)  # noqa: E731
    assert d2l.evaluate_accuracy(batches, always_3) == 3 / 5


class _Recorder:
    """A monitor that keeps what train_ch3 hands it."""

    def __init__(self):
        self.calls = []

    def on_epoch(self, record, l_sums, sizes):
        self.calls.append((dict(record), l_sums, sizes))


@pytest.mark.parametrize('impl', ['scratch', 'gluon'])
def test_train_ch3_records_each_epochs_loss_and_accuracies_as_the_book_computes_them(impl):
    """train_ch3 is train_epoch_ch3 then evaluate_accuracy on the test set, epoch after epoch."""
    import d2l_gluon
    X, y = _data()
    X_test, y_test = _data(100)
    runs = []
    for use_train_ch3 in (True, False):
        d2l_gluon.seed(1)
        params, net = _twins()
        trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': LR})
        net_, loss = (scratch_net(params), cross_entropy) if impl == 'scratch' else (net, gluon_loss())
        train_iter, test_iter = ArrayLoader(X, y, BATCH_SIZE), ArrayLoader(X_test, y_test, 64)
        if use_train_ch3:
            monitor = _Recorder()
            options = dict(params=params, lr=LR) if impl == 'scratch' else dict(trainer=trainer)
            history = d2l.train_ch3(net_, train_iter, test_iter, loss, 2, BATCH_SIZE, monitor=monitor,
                                    **options)
            runs.append((history, monitor.calls))
            continue
        updater = (lambda n: d2l.sgd(params, LR, n)) if impl == 'scratch' else trainer.step
        history, epochs = [], []
        for epoch in (1, 2):
            l_sums, correct, sizes = d2l.train_epoch_ch3(net_, train_iter, loss, updater, BATCH_SIZE)
            history.append({'epoch': epoch, 'loss': l_sums.sum() / sizes.sum(),
                            'train_acc': correct.sum() / sizes.sum(),
                            'test_acc': d2l.evaluate_accuracy(test_iter, net_)})
            epochs.append((l_sums, sizes))
        runs.append((history, epochs))
    (history, calls), (expected, epochs) = runs
    assert [sorted(r) for r in history] == [['epoch', 'loss', 'test_acc', 'train_acc']] * 2
    assert [r['epoch'] for r in history] == [1, 2]
    for ours, theirs in zip(history, expected):
        for key in ('loss', 'train_acc', 'test_acc'):
            assert ours[key] == theirs[key], key  # same seed, same operations: equal to the bit
    assert history[1]['loss'] < history[0]['loss']
    # the monitor sees every record and the epoch's per-batch loss sums and batch sizes
    assert [record for record, _, _ in calls] == history
    for (_, l_sums, sizes), (l_expected, sizes_expected) in zip(calls, epochs):
        np.testing.assert_array_equal(l_sums, l_expected)
        np.testing.assert_array_equal(sizes, [256, 256, 96])


@pytest.mark.parametrize('dtype', ['float32', 'float64'])
def test_batch_sums_equal_each_batchs_own_sum_to_the_bit(dtype):
    # the epoch's per-batch losses are summed after it, stacked by size: the numbers must be
    # those of l.sum() on every batch, as the loop took them before
    rng = np.random.RandomState(0)
    losses = [nd.array(rng.exponential(size=shape), dtype=dtype)
              for shape in [(256,)] * 5 + [(96,)] + [(10, 1)] * 3 + [(1,)] * 2]
    expected = [float(l.sum().asscalar()) for l in losses]
    sums = d2l.batch_sums(losses)
    assert sums.dtype == np.float64 and sums.tolist() == expected
