import numpy as np
import pytest
from mxnet import autograd, gluon, nd

from d2l_gluon import seed
from d2l_gluon.cli import LOGREG_DEFAULTS
from d2l_gluon.data import ArrayLoader
from d2l_gluon.logistic_regression import (binary_accuracy, binary_cross_entropy, gaussian_blobs,
                                           gluon_loss, gluon_net, gluon_params, hours_data,
                                           init_params, logreg, newton, sigmoid, train_gluon,
                                           train_scratch)
from d2l_gluon.train import sgd

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
    lr = LOGREG_DEFAULTS['blobs']['lr']
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
    params, net = twins(2)
    batches = list(ArrayLoader(X, y, 50))  # one fixed order, replayed each epoch
    h_scratch = train_scratch(params, batches, X, y, 0.5, 3, test_set)
    h_gluon = train_gluon(net, batches, X, y, 0.5, 3, test_set)
    w, b = gluon_params(net)
    assert_close(params[0], w, what='w after 3 epochs')
    assert_close(params[1], b, what='b after 3 epochs')
    for key in ('loss', 'train_acc', 'test_loss', 'test_acc'):
        assert_close([e[key] for e in h_scratch], [e[key] for e in h_gluon], what=key)


@pytest.mark.parametrize('impl', ['scratch', 'gluon'])
def test_summed_loss_steps_batch_size_times_further(impl):
    X, y = hours_data()
    ends = []
    for sum_loss, lr in ((True, 0.01), (False, 0.03)):  # mean loss of 3 examples, 3x the lr
        seed(1)
        if impl == 'scratch':
            params = init_params(1)
            train_scratch(params, [(X, y)], X, y, lr, 2, sum_loss=sum_loss)
            ends.append(params_of(params))
        else:
            net = gluon_net(1)
            train_gluon(net, [(X, y)], X, y, lr, 2, sum_loss=sum_loss)
            ends.append(np.concatenate([p.ravel() for p in gluon_params(net)]))
    assert np.abs(ends[0]).max() > 1e-3, 'the steps moved the parameters'
    assert_close(ends[0], ends[1], rtol=1e-6, what='%s params' % impl)


# ---- the lecture's toy set

def test_hours_defaults_put_the_boundary_between_2_and_3():
    X, y = hours_data()
    settings = LOGREG_DEFAULTS['hours']
    assert settings['loss'] == 'sum' and settings['batch_size'] >= 3
    params, net = twins(1)
    start = params_of(params)
    batches = [(X, y)]  # the default batch holds all three examples: one step per epoch
    histories = [
        train_scratch(params, batches, X, y, settings['lr'], settings['num_epochs'], sum_loss=True),
        train_gluon(net, batches, X, y, settings['lr'], settings['num_epochs'], sum_loss=True)]
    # plain gradient descent on the summed loss from the same start, in float64
    x, t = X.asnumpy().ravel().astype(np.float64), y.asnumpy().ravel()
    w, b = start
    for _ in range(settings['num_epochs']):
        residual = reference_sigmoid(w * x + b) - t
        w, b = w - settings['lr'] * (residual * x).sum(), b - settings['lr'] * residual.sum()
    w_gluon, b_gluon = gluon_params(net)
    for fitted, history in ((params_of(params), histories[0]),
                            (np.concatenate([w_gluon.ravel(), b_gluon]), histories[1])):
        losses = np.array([e['loss'] for e in history])
        assert (np.diff(losses) < 0).all() and losses[-1] < 0.6 * losses[0]
        assert history[-1]['train_acc'] == 1
        assert_close(fitted, np.array([w, b]), what='params vs float64 gradient descent')
        assert fitted[0] > 0 and 2 < -fitted[1] / fitted[0] < 3


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


def test_sgd_ends_near_newton_with_its_test_accuracy(blobs):
    (X, y), (X_test, y_test) = blobs
    settings = LOGREG_DEFAULTS['blobs']
    assert settings['loss'] == 'mean'
    w, b, _, converged = newton(X, y)
    assert converged
    z = X_test.asnumpy().astype(np.float64) @ w + b
    newton_acc = ((z.ravel() > 0) == y_test.asnumpy()).mean()
    reference = np.r_[w.ravel(), b]
    for impl in ('scratch', 'gluon'):
        seed(1)
        loader = ArrayLoader(X, y, settings['batch_size'])
        if impl == 'scratch':
            params = init_params(2)
            history = train_scratch(params, loader, X, y, settings['lr'], settings['num_epochs'],
                                    (X_test, y_test))
            fitted = params_of(params)
        else:
            net = gluon_net(2)
            history = train_gluon(net, loader, X, y, settings['lr'], settings['num_epochs'],
                                  (X_test, y_test))
            fitted = np.concatenate([p.ravel() for p in gluon_params(net)])
        assert np.abs(fitted - reference).max() < 0.05, (impl, fitted, reference)
        assert history[-1]['test_acc'] >= newton_acc - 0.02, (impl, history[-1], newton_acc)
