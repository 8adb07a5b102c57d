import numpy as np
import pytest
from mxnet import autograd, gluon, nd

from d2l_gluon.chapters import linear_regression
from d2l_gluon.config import make_config
from d2l_gluon.data import ArrayLoader
from d2l_gluon.chapters import Version
from d2l_gluon.chapters.linear_regression import (OPTIONS, Data, closed_form, fit, fitted_params, gluon_net,
                                                  init_params, linreg, setup, squared_loss, train)
from d2l_gluon.d2l import sgd, synthetic_data
from d2l_gluon.params import copy_to_gluon

from .helpers import assert_close, autograd_gradient, numeric_gradient

TRUE_W, TRUE_B = [2, -3.4], 4.2


@pytest.fixture
def data():
    return synthetic_data(TRUE_W, TRUE_B, 1000, 0.01)


def twins(num_inputs=2):
    """Scratch params and a Gluon net holding the same initial values."""
    params = init_params(num_inputs)
    net = gluon_net(num_inputs)
    copy_to_gluon(params, net)
    return params, net


def test_synthetic_data_follows_the_model(data):
    features, labels = data
    assert features.shape == (1000, 2) and labels.shape == (1000,)
    residual = labels.asnumpy() - features.asnumpy() @ np.array(TRUE_W) - TRUE_B
    assert abs(residual.std() - 0.01) < 0.002 and abs(residual.mean()) < 0.002


def test_scratch_and_gluon_loss_and_gradients_agree(data):
    features, labels = data
    (w, b), net = twins()
    X, y = features[:10], labels[:10]
    with autograd.record():
        l_scratch = squared_loss(linreg(X, w, b), y)
    l_scratch.backward()
    with autograd.record():
        l_gluon = gluon.loss.L2Loss()(net(X), y)
    l_gluon.backward()
    assert_close(l_scratch.reshape((-1,)), l_gluon, what='per-example loss')
    assert_close(w.grad.T, net[0].weight.grad(), what='weight gradient')
    assert_close(b.grad, net[0].bias.grad(), what='bias gradient')


def test_sgd_step_matches_trainer_step(data):
    features, labels = data
    params, net = twins()
    w, b = params
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.03})
    X, y = features[:7], labels[:7]  # a short batch: both divide by 7
    for model, loss, step in ((lambda X: linreg(X, w, b), squared_loss, lambda n: sgd(params, 0.03, n)),
                              (net, gluon.loss.L2Loss(), trainer.step)):
        with autograd.record():
            l = loss(model(X), y)
        l.backward()
        step(X.shape[0])
    assert not np.allclose(w.asnumpy().ravel(), [0, 0], atol=1e-3), 'the step moved nothing'
    assert_close(w.T, net[0].weight.data(), what='weight after one step')
    assert_close(b, net[0].bias.data(), what='bias after one step')


def test_setup_gives_the_books_four_pieces_for_both_versions():
    config = make_config(OPTIONS, lr=0.5)
    for impl in ('scratch', 'gluon'):
        version = setup(impl, config)
        assert isinstance(version, Version) and version.impl == impl
        X = nd.random.normal(shape=(4, 2))
        assert version.net(X).shape == (4, 1)
        assert version.loss(version.net(X), nd.zeros(4)).size == 4  # one loss per example
    scratch = setup('scratch', config)
    assert [p.shape for p in scratch.params] == [(2, 1), (1,)]
    before = scratch.params[1].copy()
    scratch.params[1].grad[:] = 2.0
    scratch.updater(4)  # sgd with lr 0.5 and the gradient divided by the batch size 4
    assert_close(scratch.params[1], before - 0.5 * 2.0 / 4, what='b after one step')


def test_three_epochs_from_same_start_and_batches_agree(data):
    features, labels = data
    config = make_config(OPTIONS)
    scratch, gluon_version = setup('scratch', config), setup('gluon', config)
    copy_to_gluon(scratch.params, gluon_version.net)
    batches = list(ArrayLoader(features, labels, 10))  # one fixed order, replayed each epoch
    # the chapter's loop: 3 epochs, steps divided by batch_size 10, then the loss on the whole set
    assert (config['num_epochs'], config['batch_size'], config['step_divisor']) == (3, 10, 'batch-size')
    histories = [train(v, Data(batches, features, labels), config) for v in (scratch, gluon_version)]
    w, b = fitted_params(gluon_version)
    assert_close(scratch.params[0], w, what='w after 3 epochs')
    assert_close(scratch.params[1], b, what='b after 3 epochs')
    assert_close([e['loss'] for e in histories[0]], [e['loss'] for e in histories[1]], rtol=1e-4,
                 what='per-epoch loss')


def test_fit_matches_truth_and_closed_form():
    result = fit(make_config(OPTIONS))
    metrics, data = result.metrics, result.data
    w_cf, b_cf = closed_form(data.features, data.labels)
    truth = np.array(TRUE_W + [TRUE_B])
    closed = np.concatenate([w_cf.ravel(), b_cf])
    assert np.abs(closed - truth).max() < 0.005
    assert_close(metrics['reference']['w'] + metrics['reference']['b'], closed, rtol=1e-12, atol=0)
    for impl in ('scratch', 'gluon'):
        fitted = np.array(metrics['runs'][impl]['params']['w'] + metrics['runs'][impl]['params']['b'])
        assert np.abs(fitted - truth).max() < 0.01
        assert np.abs(fitted - closed).max() < 0.01
        assert [e['epoch'] for e in metrics['runs'][impl]['epochs']] == [1, 2, 3]
    assert 0 < metrics['max_abs_diff'] < 1e-5


def test_fit_is_reproducible_for_a_seed_and_changes_with_it():
    losses = [fit(make_config(OPTIONS, seed=s, impl='scratch')).metrics['runs']['scratch']
              ['epochs'][-1]['loss'] for s in (3, 3, 4)]
    assert losses[0] == losses[1] != losses[2]


def test_true_w_must_have_num_inputs_values():
    import d2l_gluon
    with pytest.raises(d2l_gluon.D2LError, match='one weight per input'):
        linear_regression.load_data(make_config(OPTIONS, true_w=[1.0, 2.0, 3.0]))


def test_closed_form_solves_the_normal_equation(data):
    features, labels = data
    w, b = closed_form(features, labels)
    X = np.hstack([features.asnumpy().astype(np.float64), np.ones((1000, 1))])
    theta = np.concatenate([w.ravel(), b])
    gradient = X.T @ (X @ theta - labels.asnumpy().astype(np.float64))
    assert np.abs(gradient).max() < 1e-6


def test_full_batch_gradient_descent_takes_one_step_per_epoch():
    config = make_config(OPTIONS, full_batch=True, num_epochs=2, impl='scratch')
    data = linear_regression.load_data(config)
    assert [X.shape[0] for X, _ in data.train_iter] == [1000]
    losses = [e['loss'] for e in fit(config, data=data).metrics['runs']['scratch']['epochs']]
    assert losses[1] < losses[0] and losses[1] > 1.0  # GD with lr 0.03 moves slowly


def test_squared_loss_gradient_matches_finite_differences():
    X = nd.random.normal(shape=(5, 3), dtype='float64')
    y = nd.random.normal(shape=(5,), dtype='float64')
    w = nd.random.normal(shape=(3, 1), dtype='float64')
    b = nd.random.normal(shape=(1,), dtype='float64')
    f = lambda: squared_loss(linreg(X, w, b), y)  # noqa: E731
    for param in (w, b):
        assert_close(autograd_gradient(f, param), numeric_gradient(f, param), rtol=1e-6, atol=1e-8)
    # and both equal the analytic gradient X^T (Xw + b - y)
    residual = X.asnumpy() @ w.asnumpy() + b.asnumpy() - y.asnumpy()[:, None]
    assert_close(autograd_gradient(f, w), X.asnumpy().T @ residual, rtol=1e-10, atol=1e-12)
