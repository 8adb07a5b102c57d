"""The shared training loop: the step rule on a short last batch, scratch sgd against Trainer.step."""
import numpy as np
import pytest
from mxnet import gluon, nd

from d2l_gluon.data import ArrayLoader
from d2l_gluon.params import copy_to_gluon, gluon_as_scratch
from d2l_gluon.softmax_regression import cross_entropy, gluon_loss, gluon_net, init_params, scratch_net
from d2l_gluon.train import sgd, train

from .helpers import assert_close, one_line, run_cli

LR, BATCH_SIZE, NUM_EXAMPLES = 0.1, 256, 2 * 256 + 96  # the last batch has 96 examples, as in 60000
STEP_RULES = pytest.mark.parametrize('step_batch', [BATCH_SIZE, None], ids=['batch-size', 'actual'])


def _data():
    X = nd.random.uniform(0, 1, shape=(NUM_EXAMPLES, 1, 28, 28))
    y = nd.random.randint(0, 10, shape=(NUM_EXAMPLES,)).astype('int32')
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
    setups = {'scratch': (scratch_net(params), cross_entropy, lambda n: sgd(params, LR, n)),
              'gluon': (net, gluon_loss(), trainer.step)}
    for impl, (net_, loss, updater) in setups.items():
        d2l_gluon.seed(1)  # the same batch order for both
        train(net_, ArrayLoader(X, y, BATCH_SIZE), loss, _recording(updater, calls[impl]), 1,
              batch_size=step_batch)
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
        train(scratch_net(params), [last], cross_entropy, lambda n: sgd(params, LR, n), 1,
              batch_size=step_batch)
        steps.append(np.concatenate([(p - q).asnumpy().ravel() for p, q in zip(params, before)]))
    book, actual = steps
    assert np.abs(actual).max() > 0
    big = np.abs(actual) > 1e-3 * np.abs(actual).max()  # entries far from float32 rounding
    np.testing.assert_allclose(book[big] / actual[big], 96 / 256, rtol=1e-12)


def _losses_as_batches(values):
    """Batches of one example whose loss is the given value (net and loss pass X through)."""
    return [(nd.array([[v]]), nd.array([0])) for v in values]


def test_one_examples_loss_is_not_the_divergence_yardstick():
    from d2l_gluon import DivergenceError
    w = nd.ones(1)
    w.attach_grad()  # a parameter for backward to reach; the updater leaves it at 1
    identity = lambda X: X.reshape((-1,)) * w  # noqa: E731
    loss = lambda y_hat, y: y_hat  # noqa: E731
    # at batch size 1 single losses vary by over 100x: the yardstick is the first 256 examples' mean
    values = [1.0, 150.0] + [2.0] * 298
    history = train(identity, _losses_as_batches(values), loss, lambda n: None, 1, batch_size=1)
    assert history[0]['reference_loss'] == pytest.approx(sum(values[:256]) / 256)
    # a loss 100 times that mean is still divergence, named by its batch
    with pytest.raises(DivergenceError) as caught:
        train(identity, _losses_as_batches(values[:299] + [1000.0]), loss, lambda n: None, 1,
              batch_size=1)
    assert (caught.value.epoch, caught.value.batch) == (1, 300)


@pytest.mark.parametrize('args, causes', [
    (['weight-decay', '--lambd', '1e30'], ['try a smaller --lr, or a smaller --lambd']),
    (['weight-decay', '--lambd', '0', '--lr', '10'], []),
    (['linreg', '--step-divisor', 'none', '--lr', '0.3'],
     ['--step-divisor none', '10 times', '--step-divisor batch-size']),
    (['linreg', '--lr', '10'], []),
], ids=['lambd', 'lr-without-decay', 'step-divisor', 'lr'])
def test_divergence_names_the_settings_that_likely_caused_it(tmp_path, args, causes):
    result = run_cli(*args, '--num-epochs', 1, '--impl', 'scratch', '--out', tmp_path / 'run')
    line = one_line(result.stderr)
    assert result.returncode == 3 and 'training diverged' in line and 'smaller --lr' in line, line
    for word in causes:
        assert word in line, '%r not in %r' % (word, line)
    if not causes:  # a learning rate too large alone: no other setting is blamed
        assert '--lambd' not in line and '--step-divisor' not in line, line
