import numpy as np
import pytest
from mxnet import autograd, gluon, nd

from d2l_gluon import D2LError, seed
from d2l_gluon.config import make_config
from d2l_gluon.data import ArrayLoader
from d2l_gluon.chapters.linear_regression import fitted_params
from d2l_gluon.chapters.logistic_regression import (DEFAULTS, OPTIONS, Data, binary_accuracy,
                                           binary_cross_entropy, complete, fit, gaussian_blobs,
                                           gluon_loss, hours_data, logreg, newton, setup, sigmoid,
                                           train)
from d2l_gluon.d2l import sgd

from .helpers import assert_close, autograd_gradient, numeric_gradient
# logistic regression's model and Gluon net are linear regression's
from .test_linear_regression import twins

MEAN0, MEAN1 = [-1.0, -1.0], [1.0, 1.0]
EXTREME = [-1000, -100, -50, -20, -1, 0, 1, 20, 50, 100, 1000]


@pytest.fixture
def blobs():
    return gaussian_blobs(1000, 1000, MEAN0, MEAN1, 1.0)


def params_of(params):
    return np.concatenate([p.asnumpy().ravel() for p in params]).astype(np.float64)


def fitted(version):
    """Return a version's [w..., b] as float64 numpy."""
    return np.concatenate([p.ravel() for p in fitted_params(version)]).astype(np.float64)


def set_up(impl, seed_value=1, **changes):
    """Return (config, version) of impl from seed_value's random state."""
    config = complete(make_config(OPTIONS, **changes))
    seed(seed_value)
    return config, setup(impl, config)


def train_version(version, config, batches, X, y, test_set=None):
    """Train a version for config['num_epochs'] epochs over batches as fit() does; return the history."""
    return train(version, Data(batches, X, y, test_set), config)


def reference_sigmoid(z):
    """σ(z) in float64 as exp(-log(1 + e^-z)): exact in both tails."""
    return np.exp(-np.logaddexp(0, -np.asarray(z, dtype=np.float64)))


def reference_bce(z, y):
    """Binary cross-entropy from logits and labels in {0, 1}, in float64: -log σ(±z) = log(1 + e^∓z).

    Not log(1 + e^z) - z y: for z = 50, y = 1 that subtracts 50 from 50 + 2e-22 and returns 0.
    """
    z, y = np.asarray(z, dtype=np.float64), np.asarray(y)
    return np.logaddexp(0, np.where(y == 1, -z, z))


def nll_gradient(X, y, theta):
    """Gradient of the summed negative log-likelihood at theta = [w..., b], in float64."""
    A = np.hstack([X, np.ones((len(X), 1))])
    return A.T @ (reference_sigmoid(A @ theta) - y)


# ---- data

def test_hours_data_is_the_lectures_toy_set():
    X, y = hours_data()
    assert X.shape == y.shape == (3, 1)
    assert X.asnumpy().ravel().tolist() == [1, 2, 3] and y.asnumpy().ravel().tolist() == [0, 0, 1]


def test_gaussian_blobs_have_the_requested_classes_and_split(blobs):
    (X, y), (X_test, y_test) = blobs
    assert X.shape == (1000, 2) and y.shape == (1000,) and X_test.shape == (1000, 2)
    features = np.vstack([X.asnumpy(), X_test.asnumpy()])
    labels = np.concatenate([y.asnumpy(), y_test.asnumpy()])
    assert (labels == 0).sum() == (labels == 1).sum() == 1000
    for label, mean in ((0, MEAN0), (1, MEAN1)):
        points = features[labels == label]
        assert np.abs(points.mean(axis=0) - mean).max() < 0.1
        assert np.abs(points.std(axis=0) - 1.0).max() < 0.1
    for part in (y, y_test):  # shuffled before the split: both classes in both parts
        assert 0.4 < part.asnumpy().mean() < 0.6
    # overlapping classes: some points lie on the other class's side of x0 + x1 = 0
    assert 0.02 < ((features.sum(axis=1) > 0) != labels).mean() < 0.2


def test_the_seed_fixes_the_blobs():
    draws = []
    for s in (3, 3, 4):
        seed(s)
        draws.append(gaussian_blobs(20, 10, MEAN0, MEAN1, 1.0)[1][0].asnumpy())
    assert (draws[0] == draws[1]).all() and not (draws[0] == draws[2]).all()


# ---- sigmoid and loss

def test_stable_sigmoid_survives_logit_1000():
    z = nd.array(EXTREME)
    assert_close(sigmoid(z), reference_sigmoid(EXTREME).astype(np.float32), rtol=1e-6, atol=0,
                 what='sigmoid')
    grad = autograd_gradient(lambda: sigmoid(z), z)
    s = reference_sigmoid(EXTREME)
    assert_close(grad, (s * reference_sigmoid(-np.array(EXTREME))).astype(np.float32),
                 rtol=1e-5, atol=1e-7, what="sigmoid'")
    # the textbook formulas overflow: exp(1000) is inf in float32
    naive = nd.exp(z) / (1 + nd.exp(z))
    assert np.isnan(naive.asnumpy()[-1])
    naive_grad = autograd_gradient(lambda: 1 / (1 + nd.exp(-z)), z)
    assert np.isnan(naive_grad[0])


def test_stable_loss_survives_logit_1000():
    z = nd.array(EXTREME * 2).reshape((-1, 1))
    y = nd.array([0] * len(EXTREME) + [1] * len(EXTREME)).reshape((-1, 1))
    expected = reference_bce(z.asnumpy(), y.asnumpy()).astype(np.float32)
    # rtol only: the tails (2.06e-9 at z = 20, y = 1) must be exact relative to their size
    assert_close(binary_cross_entropy(z, y), expected, rtol=1e-6, atol=0, what='loss')
    assert binary_cross_entropy(z, y).asnumpy().max() == 1000  # wrong side at |z| = 1000
    # the textbook -[y log σ + (1 - y) log(1 - σ)] is inf where σ rounds to 0 or 1
    s = 1 / (1 + nd.exp(-z))
    naive = -(y * nd.log(s) + (1 - y) * nd.log(1 - s)).asnumpy()
    assert np.isinf(naive).any()


def test_loss_gradient_is_sigmoid_minus_label():
    z = nd.array(EXTREME * 2).reshape((-1, 1))
    y = nd.array([0] * len(EXTREME) + [1] * len(EXTREME)).reshape((-1, 1))
    grad = autograd_gradient(lambda: binary_cross_entropy(z, y), z)
    # includes z = 0 exactly, where the kinks of max(z, 0) and |z| must cancel: 0.5 - y
    expected = reference_sigmoid(z.asnumpy()) - y.asnumpy()
    assert_close(grad, expected.astype(np.float32), rtol=1e-6, atol=1e-7, what='dL/dz')


def test_loss_gradient_matches_finite_differences():
    X = nd.random.normal(shape=(6, 3), dtype='float64')
    y = nd.array([0, 1, 1, 0, 1, 0], dtype='float64')
    w = nd.random.normal(0, 2, shape=(3, 1), dtype='float64')
    b = nd.random.normal(shape=(1,), dtype='float64')
    f = lambda: binary_cross_entropy(logreg(X, w, b), y)  # noqa: E731
    for param in (w, b):
        assert_close(autograd_gradient(f, param), numeric_gradient(f, param), rtol=1e-6, atol=1e-8)
    # and the analytic gradient Xᵀ(σ(Xw + b) - y)
    residual = reference_sigmoid(X.asnumpy() @ w.asnumpy() + b.asnumpy()) - y.asnumpy()[:, None]
    assert_close(autograd_gradient(f, w), X.asnumpy().T @ residual, rtol=1e-10, atol=1e-12)


def test_scratch_loss_equals_gluon_loss():
    z = nd.random.normal(0, 3, shape=(64, 1))
    y = (nd.random.uniform(shape=(64, 1)) > 0.5).astype('float32')
    ours = binary_cross_entropy(z, y)
    theirs = gluon_loss()(z, y)  # gluon averages over the non-batch axes: shape (64,)
    assert_close(ours.reshape((-1,)), theirs, rtol=1e-5, atol=1e-6, what='per-example loss')


def test_binary_accuracy_counts_logits_on_the_labels_side():
    z = nd.array([[-2.0], [0.5], [3.0], [-0.1]])
    assert binary_accuracy(z, nd.array([0, 1, 0, 0])) == 0.75
    assert binary_accuracy(z, nd.array([[1], [0], [1], [1]])) == 0.25


# ---- scratch vs Gluon

def test_scratch_and_gluon_agree_step_by_step_on_blobs(blobs):
    (X, y), _ = blobs
    params, net = twins(2)
    w, b = params
    dense = net[0]
    lr = DEFAULTS['blobs']['lr']
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': lr})
    loss = gluon_loss()
    for step, (X_batch, y_batch) in enumerate(ArrayLoader(X, y, 37)):  # 27 steps, short last batch
        with autograd.record():
            l_scratch = binary_cross_entropy(logreg(X_batch, w, b), y_batch)
        l_scratch.backward()
        with autograd.record():
            l_gluon = loss(net(X_batch), y_batch)
        l_gluon.backward()
        what = ' at step %d' % step
        assert_close(l_scratch.reshape((-1,)), l_gluon, what='loss' + what)
        assert_close(w.grad.T, dense.weight.grad(), what='weight gradient' + what)
        assert_close(b.grad, dense.bias.grad(), what='bias gradient' + what)
        sgd(params, lr, X_batch.shape[0])
        trainer.step(X_batch.shape[0])
        assert_close(w.T, dense.weight.data(), what='weight' + what)
        assert_close(b, dense.bias.data(), what='bias' + what)
    assert np.abs(params_of(params)).max() > 1, 'the steps moved the parameters'


def test_training_from_same_start_and_batches_agree(blobs):
    (X, y), test_set = blobs
    batches = list(ArrayLoader(X, y, 50))  # one fixed order, replayed each epoch
    versions, histories = [], []
    for impl in ('scratch', 'gluon'):
        config, version = set_up(impl, data='blobs', num_epochs=3)  # the same start for both
        versions.append(version)
        histories.append(train_version(version, config, batches, X, y, test_set))
    (w, b), (w_gluon, b_gluon) = fitted_params(versions[0]), fitted_params(versions[1])
    assert_close(w, w_gluon, what='w after 3 epochs')
    assert_close(b, b_gluon, what='b after 3 epochs')
    for key in ('loss', 'train_acc', 'test_loss', 'test_acc'):
        assert_close([e[key] for e in histories[0]], [e[key] for e in histories[1]], what=key)


@pytest.mark.parametrize('impl', ['scratch', 'gluon'])
def test_summed_loss_steps_batch_size_times_further(impl):
    X, y = hours_data()
    ends = []
    for loss, lr in (('sum', 0.01), ('mean', 0.03)):  # mean loss of 3 examples, 3x the lr
        config, version = set_up(impl, loss=loss, lr=lr, num_epochs=2)
        train_version(version, config, [(X, y)], X, y)
        ends.append(fitted(version))
    assert np.abs(ends[0]).max() > 1e-3, 'the steps moved the parameters'
    assert_close(ends[0], ends[1], rtol=1e-6, what='%s params' % impl)


# ---- the lecture's toy set

def test_hours_defaults_put_the_boundary_between_2_and_3():
    X, y = hours_data()
    settings = DEFAULTS['hours']
    assert settings['loss'] == 'sum' and settings['batch_size'] >= 3
    batches = [(X, y)]  # the default batch holds all three examples: one step per epoch
    for impl in ('scratch', 'gluon'):
        config, version = set_up(impl)
        w, b = start = fitted(version)
        history = train_version(version, config, batches, X, y)
        # plain gradient descent on the summed loss from the same start, in float64
        x, t = X.asnumpy().ravel().astype(np.float64), y.asnumpy().ravel()
        for _ in range(settings['num_epochs']):
            residual = reference_sigmoid(w * x + b) - t
            w, b = w - settings['lr'] * (residual * x).sum(), b - settings['lr'] * residual.sum()
        losses = np.array([e['loss'] for e in history])
        assert (np.diff(losses) < 0).all() and losses[-1] < 0.6 * losses[0]
        assert history[-1]['train_acc'] == 1
        assert np.abs(fitted(version) - start).max() > 0.5
        assert_close(fitted(version), np.array([w, b]), what='%s vs float64 gradient descent' % impl)
        assert w > 0 and 2 < -b / w < 3


def test_fit_on_hours_reports_the_lectures_probability_and_boundary():
    metrics = fit(make_config(OPTIONS)).metrics
    assert not metrics['reference']['converged']
    for impl, run in metrics['runs'].items():
        w, b = run['params']['w'][0], run['params']['b'][0]
        assert run['p_pass_4_hours'] == pytest.approx(reference_sigmoid(4 * w + b), rel=1e-6)
        assert run['boundary'] == pytest.approx(-b / w, rel=1e-9)
        assert 0.85 < run['p_pass_4_hours'] < 0.9 and 2.3 < run['boundary'] < 2.5
    assert metrics['max_abs_diff'] < 1e-5


@pytest.mark.parametrize('changes, message', [
    ({'std': 2.0}, 'only for --data blobs'),
    ({'data': 'blobs', 'mean0': [1.0]}, 'the blobs are 2-D'),
])
def test_complete_refuses_settings_that_do_not_apply(changes, message):
    with pytest.raises(D2LError, match=message):
        complete(make_config(OPTIONS, **changes))


def test_newton_does_not_converge_on_the_separable_hours_data():
    X, y = hours_data()
    runs = [newton(X, y, max_iter=n) for n in (10, 20)]
    for (w, b, iterations, converged), n in zip(runs, (10, 20)):
        assert not converged and iterations == n
        assert 2 < -b[0] / w[0, 0] < 3
    assert runs[1][0][0, 0] > runs[0][0][0, 0] + 5, 'the weight keeps growing'


# ---- Newton's method on the blobs

def test_newton_solution_has_zero_log_likelihood_gradient(blobs):
    (X, y), _ = blobs
    w, b, iterations, converged = newton(X, y)
    assert converged and iterations < 20
    X64, y64 = X.asnumpy().astype(np.float64), y.asnumpy().astype(np.float64)
    theta = np.r_[w.ravel(), b]
    assert np.abs(nll_gradient(X64, y64, theta)).max() < 1e-8
    # a maximum, not a saddle: every small move lowers the likelihood
    nll = lambda t: reference_bce(np.hstack([X64, np.ones((1000, 1))]) @ t, y64).sum()  # noqa: E731
    for direction in np.eye(3):
        assert nll(theta + 1e-3 * direction) > nll(theta) < nll(theta - 1e-3 * direction)


def test_sgd_ends_near_newton_with_its_test_accuracy():
    result = fit(make_config(OPTIONS, data='blobs'))
    metrics, data = result.metrics, result.data
    assert DEFAULTS['blobs']['loss'] == 'mean'
    w, b, _, converged = newton(data.features, data.labels)
    assert converged and metrics['reference']['converged']
    X_test, y_test = data.test_set
    z = X_test.asnumpy().astype(np.float64) @ w + b
    newton_acc = ((z.ravel() > 0) == y_test.asnumpy()).mean()
    assert metrics['reference']['test_acc'] == newton_acc
    reference = np.r_[w.ravel(), b]
    for impl, run in metrics['runs'].items():
        params = np.array(run['params']['w'] + run['params']['b'])
        assert np.abs(params - reference).max() < 0.05, (impl, params, reference)
        assert run['max_abs_diff_newton'] == pytest.approx(np.abs(params - reference).max())
        assert run['epochs'][-1]['test_acc'] >= newton_acc - 0.02, (impl, run['epochs'][-1], newton_acc)
