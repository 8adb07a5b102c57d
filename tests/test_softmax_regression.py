"""Softmax regression: the stable softmax and cross-entropy, and scratch vs Gluon on real batches."""
import numpy as np
import pytest
from mxnet import autograd, gluon, nd

from d2l_gluon.chapters.softmax_regression import (cross_entropy, gluon_loss, gluon_net, init_params,
                                          log_softmax, scratch_net, softmax, softmax_regression)
from d2l_gluon.params import copy_to_gluon
from d2l_gluon.d2l import sgd, train_epoch_ch3

from .helpers import (assert_close, autograd_gradient, numeric_gradient,
                      training_batches)

LR, BATCH_SIZE, NUM_STEPS = 0.1, 256, 50
SIGMA = 0.01  # standard deviation of the initial weights


def reference_log_softmax(O):
    """log softmax in float64 numpy, via numpy's own stable logaddexp (independent of ours)."""
    O = np.asarray(O, dtype=np.float64)
    return O - np.logaddexp.reduce(O, axis=1, keepdims=True)


def naive_softmax(O):
    """The textbook formula exp(o) / sum exp(o), without the max shift."""
    O_exp = O.exp()
    return O_exp / O_exp.sum(axis=1, keepdims=True)


EXTREME = nd.array([[1000, -1000, 0, 999],
                    [-1000, -1000, -999, -1000],
                    [1000, 1000, -1000, 0]])
EXTREME_Y = nd.array([1, 2, 0], dtype='int32')


# ---- softmax and cross-entropy

def test_softmax_and_cross_entropy_equal_gluons_on_ordinary_logits():
    O = nd.random.normal(0, 3, shape=(16, 10))
    y = nd.random.randint(0, 10, shape=(16,)).astype('int32')
    P = softmax(O)
    assert_close(P, nd.softmax(O, axis=1), rtol=1e-5, atol=1e-7, what='softmax')
    assert_close(P.sum(axis=1), np.ones(16, np.float32), rtol=1e-6, atol=0, what='rows sum to 1')
    # against float64, not nd.log_softmax: that one is off by up to 4e-4 relative near 0
    assert_close(log_softmax(O), reference_log_softmax(O.asnumpy()).astype(np.float32), rtol=1e-5,
                 atol=1e-6, what='log_softmax vs float64')
    assert_close(cross_entropy(O, y), gluon.loss.SoftmaxCrossEntropyLoss()(O, y), rtol=1e-5,
                 atol=1e-6, what='cross-entropy')
    assert_close(cross_entropy(O, y), -reference_log_softmax(O.asnumpy())[np.arange(16), y.asnumpy()]
                 .astype(np.float32), rtol=1e-5, atol=1e-6, what='cross-entropy vs float64')


def test_naive_softmax_and_cross_entropy_overflow_at_logits_of_1000():
    # the reason for the stable forms: exp(1000) = inf, and inf / inf = nan; exp(-1000) = 0, and 0 / 0 = nan
    P = naive_softmax(EXTREME).asnumpy()
    assert np.isnan(P).any()
    naive_loss = -nd.pick(naive_softmax(EXTREME), EXTREME_Y, axis=1).log()
    assert not np.isfinite(naive_loss.asnumpy()).all()


def test_stable_softmax_and_cross_entropy_survive_logits_of_1000():
    expected = reference_log_softmax(EXTREME.asnumpy())
    P = softmax(EXTREME)
    assert np.isfinite(P.asnumpy()).all()
    assert_close(P, np.exp(expected).astype(np.float32), rtol=1e-5, atol=0, what='softmax')
    assert_close(log_softmax(EXTREME), expected.astype(np.float32), rtol=1e-5, atol=0,
                 what='log_softmax')
    loss = cross_entropy(EXTREME, EXTREME_Y)
    want = -expected[np.arange(3), EXTREME_Y.asnumpy()]
    assert np.isfinite(loss.asnumpy()).all()
    assert_close(loss, want.astype(np.float32), rtol=1e-5, atol=0, what='cross-entropy')
    assert_close(loss, gluon.loss.SoftmaxCrossEntropyLoss()(EXTREME, EXTREME_Y), rtol=1e-5, atol=0,
                 what='cross-entropy vs gluon')
    # and the gradient there is still softmax - one_hot, finite
    O = EXTREME.copy()
    grad = autograd_gradient(lambda: cross_entropy(O, EXTREME_Y), O)
    one_hot = np.eye(4)[EXTREME_Y.asnumpy()]
    assert_close(grad, (np.exp(expected) - one_hot).astype(np.float32), rtol=1e-5, atol=1e-7,
                 what='gradient at extreme logits')


def test_cross_entropy_gradient_is_softmax_minus_one_hot():
    O = nd.random.normal(0, 3, shape=(6, 10), dtype='float64')
    y = nd.array([0, 3, 9, 3, 5, 1], dtype='int32')
    f = lambda: cross_entropy(O, y)  # noqa: E731
    grad = autograd_gradient(f, O)
    analytic = np.exp(reference_log_softmax(O.asnumpy())) - np.eye(10)[y.asnumpy()]
    assert_close(grad, analytic, rtol=1e-10, atol=1e-12, what='autograd vs softmax - one_hot')
    assert_close(grad, numeric_gradient(f, O), rtol=1e-6, atol=1e-8, what='autograd vs finite differences')


# ---- scratch vs Gluon from the same start on the same real batches

@pytest.fixture(scope='module')
def batches():
    return training_batches(BATCH_SIZE, NUM_STEPS)


def twins(hybridize):
    """Scratch params [W, b] and a Gluon net holding the same initial values."""
    W, b = init_params()
    net = gluon_net()
    copy_to_gluon([W, b], net)
    if hybridize:
        net.hybridize(static_alloc=True, static_shape=True)
    return [W, b], net


HYBRIDIZE = pytest.mark.parametrize('hybridize', [False, True], ids=['imperative', 'hybridized'])


@HYBRIDIZE
def test_one_batch_gives_the_same_losses_and_gradients(batches, hybridize):
    (W, b), net = twins(hybridize)
    X, y = batches[0]
    with autograd.record():
        O = softmax_regression(X, W, b)
        l_scratch = cross_entropy(O, y)
    l_scratch.backward()
    with autograd.record():
        O_gluon = net(X)
        l_gluon = gluon_loss()(O_gluon, y)
    l_gluon.backward()
    assert_close(O, O_gluon, rtol=1e-5, atol=1e-6, what='logits')
    assert_close(l_scratch, l_gluon, rtol=1e-5, atol=1e-6, what='per-example loss')
    # Each gradient entry is a float32 sum over 256 examples whose terms are as large as the
    # largest entry; the two backward passes sum in different orders, so the rounding error
    # scales with max|grad|, not with the entry (which may be a near-cancelled sum): atol is
    # rtol * max|grad|.
    for scratch, gluon_param, name in ((W.grad.T, net[0].weight, 'weight'), (b.grad, net[0].bias, 'bias')):
        expected = gluon_param.grad()
        scale = float(expected.abs().max().asscalar())
        assert scale > 0
        assert_close(scratch, expected, rtol=1e-5, atol=1e-5 * scale, what='%s gradient' % name)


def _scratch_setup(params):
    """Return (net, loss, updater) of the scratch version: cross_entropy and our sgd."""
    return scratch_net(params), cross_entropy, lambda n: sgd(params, LR, n)


def _gluon_setup(net):
    """Return (net, loss, updater) of the Gluon version: SoftmaxCrossEntropyLoss and Trainer sgd."""
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': LR})
    return net, gluon_loss(), trainer.step


def test_sgd_step_on_a_short_last_batch_matches_trainer_step(batches):
    # 60000 = 234 * 256 + 96: the last batch of an epoch has 96 examples; both divide by 96
    params, net = twins(hybridize=False)
    X, y = batches[0][0][:96], batches[0][1][:96]
    for net_, loss, updater in (_scratch_setup(params), _gluon_setup(net)):
        with autograd.record():
            l = loss(net_(X), y)
        l.backward()
        updater(X.shape[0])
    assert_close(params[0].T, net[0].weight.data(), rtol=1e-5, atol=1e-5 * SIGMA, what='W after one step')
    assert_close(params[1], net[0].bias.data(), rtol=1e-5, atol=1e-5 * SIGMA, what='b after one step')


def _epoch_loss(net, batches, loss, updater):
    """Train one epoch by train_epoch_ch3, each step divided by its batch's size; return the mean loss."""
    l_sums, _, sizes = train_epoch_ch3(net, batches, loss, updater, None)
    return l_sums.sum() / sizes.sum()


@HYBRIDIZE
def test_fifty_steps_give_the_same_parameters_and_epoch_losses(batches, hybridize):
    params, net = twins(hybridize)
    W0 = params[0].copy()
    setups = {'scratch': _scratch_setup(params), 'gluon': _gluon_setup(net)}
    # one epoch = the 50 fixed batches = 50 sgd steps (both divide by X.shape[0])
    losses = {impl: [_epoch_loss(net_, batches, loss, updater)]
              for impl, (net_, loss, updater) in setups.items()}
    W, b = params
    assert float((W - W0).abs().max().asscalar()) > 10 * SIGMA, 'training moved the weights'
    # atol: weights start at N(0, 0.01^2) and some cross zero, where no relative test holds;
    # the floor is rtol times the initial weight scale, 1e-4 * 0.01 = 1e-6
    assert_close(W.T, net[0].weight.data(), rtol=1e-4, atol=1e-4 * SIGMA, what='W after 50 steps')
    assert_close(b, net[0].bias.data(), rtol=1e-4, atol=1e-4 * SIGMA, what='b after 50 steps')
    # two more epochs over the same batches: per-epoch mean losses to 1e-4 relative
    for impl, (net_, loss, updater) in setups.items():
        losses[impl] += [_epoch_loss(net_, batches, loss, updater) for _ in range(2)]
    assert len(losses['scratch']) == 3 and losses['scratch'][2] < losses['scratch'][0]
    assert_close(losses['scratch'], losses['gluon'], rtol=1e-4, atol=0, what='per-epoch loss')


def test_affine_is_the_matrix_product_plus_bias_with_its_gradients():
    from d2l_gluon.chapters.softmax_regression import affine
    X = nd.random.normal(shape=(7, 5), dtype='float64')
    W = nd.random.normal(shape=(5, 3), dtype='float64')
    b = nd.random.normal(shape=(3,), dtype='float64')
    head = nd.random.normal(shape=(7, 3), dtype='float64')  # a random output gradient
    grads = []
    for f in (affine, lambda X, W, b: nd.dot(X, W) + b):
        for p in (X, W, b):
            p.attach_grad()
        with autograd.record():
            out = f(X, W, b)
        out.backward(head)
        grads.append([out] + [p.grad.copy() for p in (X, W, b)])
    for ours, reference, what in zip(grads[0], grads[1], ['X W + b', 'dX', 'dW', 'db']):
        assert_close(ours, reference, rtol=1e-12, atol=1e-12, what=what)
