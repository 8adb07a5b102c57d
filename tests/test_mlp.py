"""The MLP chapter: the scratch activations, and the scratch MLP vs Gluon's on real batches."""
import numpy as np
import pytest
from mxnet import autograd, gluon, nd

from d2l_gluon.chapters.mlp import ACTIVATIONS, gluon_net, init_params, mlp, relu, scratch_net, sigmoid, tanh
from d2l_gluon.chapters.softmax_regression import cross_entropy
from d2l_gluon.params import copy_to_gluon, gluon_as_scratch
from d2l_gluon.d2l import sgd, train_epoch_ch3

from .helpers import (assert_close, autograd_gradient, numeric_gradient,
                      training_batches)

LR, BATCH_SIZE, NUM_STEPS = 0.5, 256, 50
SIGMA = 0.01  # standard deviation of the initial weights


# float64 numpy references, written so that they are exact in the tails too
def np_sigmoid(x):
    return np.exp(-np.logaddexp(0, -x))  # 1 / (1 + exp(-x)) without overflow


REFERENCES = {
    # name: (ours, mxnet's, float64 value, float64 derivative)
    'relu': (relu, nd.relu, lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(np.float64)),
    'sigmoid': (sigmoid, nd.sigmoid, np_sigmoid, lambda x: np_sigmoid(x) * np_sigmoid(-x)),  # s (1 - s)
    'tanh': (tanh, nd.tanh, np.tanh, lambda x: 1 / np.cosh(x) ** 2),  # 1 - tanh^2, exact in the tails
}
NAMES = pytest.mark.parametrize('name', sorted(REFERENCES))


def test_activations_are_the_three_of_the_chapter():
    assert sorted(ACTIVATIONS) == sorted(REFERENCES)
    assert all(ACTIVATIONS[name] is REFERENCES[name][0] for name in REFERENCES)


def _points(dtype, n=40):
    """Points of both signs, |x| in [0.01, 6]: away from 0, where relu has no derivative."""
    x = np.random.uniform(0.01, 6, n) * np.random.choice([-1, 1], n)
    return nd.array(x, dtype=dtype)


@NAMES
def test_activation_equals_mxnets(name):
    ours, theirs, _, _ = REFERENCES[name]
    X = nd.concat(nd.random.normal(0, 3, shape=(200,)), nd.array([0, -1e-3, 1e-3, 20, -20]), dim=0)
    # outputs lie in [-1, 1] (or equal x for relu): atol is float32's precision near 1
    assert_close(ours(X), theirs(X), rtol=1e-5, atol=1e-7, what=name)


@NAMES
def test_activation_gradient_is_the_analytic_derivative_and_finite_differences(name):
    ours, _, _, derivative = REFERENCES[name]
    X = _points('float64')
    grad = autograd_gradient(lambda: ours(X), X)
    assert_close(grad, derivative(X.asnumpy()), rtol=1e-10, atol=1e-12,
                 what='%s: autograd vs analytic' % name)
    assert_close(grad, numeric_gradient(lambda: ours(X), X), rtol=1e-6, atol=1e-9,
                 what='%s: autograd vs finite differences' % name)


@pytest.mark.parametrize('name', ['sigmoid', 'tanh'])
def test_smooth_activation_gradient_at_zero_is_the_derivative(name):
    # sigmoid'(0) = 1/4 and tanh'(0) = 1; the book's figure on [-8, 8] samples x = 0
    ours, _, _, derivative = REFERENCES[name]
    X = nd.array([-1e-3, 0, 1e-3], dtype='float64')
    assert_close(autograd_gradient(lambda: ours(X), X), derivative(X.asnumpy()), rtol=1e-10, atol=0,
                 what="%s'(0)" % name)


@pytest.mark.parametrize('name', ['sigmoid', 'tanh'])
def test_smooth_activation_is_finite_and_exact_in_the_tails(name):
    ours, _, value, derivative = REFERENCES[name]
    x = np.array([-100, -40, 40, 100], dtype=np.float64)
    X = nd.array(x, dtype='float64')
    assert_close(ours(X), value(x), rtol=1e-12, atol=0, what='%s(x), float64' % name)
    grad = autograd_gradient(lambda: ours(X), X)
    assert np.isfinite(grad).all()
    assert_close(grad, derivative(x), rtol=1e-10, atol=0, what="%s'(x), float64" % name)
    # float32: the same values wherever float32 has full precision (above its smallest normal number)
    X32 = nd.array(x, dtype='float32')
    out = ours(X32).asnumpy()
    grad32 = autograd_gradient(lambda: ours(X32), X32)
    assert np.isfinite(out).all() and np.isfinite(grad32).all()
    tiny = np.finfo(np.float32).tiny
    assert_close(out, value(x).astype(np.float32), rtol=1e-6, atol=tiny, what='%s(x), float32' % name)
    assert_close(grad32, derivative(x).astype(np.float32), rtol=1e-5, atol=tiny,
                 what="%s'(x), float32" % name)


def test_naive_sigmoid_gradient_is_nan_in_the_tail():
    # why the stable form matters: exp(100) = inf in float32, and the chain rule gives 0 * inf
    X = nd.array([-100.0])
    grad = autograd_gradient(lambda: 1 / (1 + (-X).exp()), X)
    assert np.isnan(grad).all()


# ---- scratch MLP vs Gluon's, from the same start on the same real batches

@pytest.fixture(scope='module')
def batches():
    return training_batches(BATCH_SIZE, NUM_STEPS)


def twins(activation, dtype='float32', hybridize=True, num_hiddens=256):
    """Scratch params [W1, b1, W2, b2] and a Gluon net holding the same initial values."""
    params = [p.astype(dtype) for p in init_params(num_hiddens=num_hiddens)]
    for p in params:
        p.attach_grad()
    net = gluon_net(num_hiddens=num_hiddens, activation=activation)
    net.cast(dtype)
    copy_to_gluon(params, net)
    if hybridize:
        net.hybridize(static_alloc=True, static_shape=True)
    return params, net


@NAMES
@pytest.mark.parametrize('hybridize', [False, True], ids=['imperative', 'hybridized'])
def test_one_batch_gives_the_same_losses_and_gradients(batches, name, hybridize):
    params, net = twins(name, hybridize=hybridize)
    X, y = batches[0]
    with autograd.record():
        O = mlp(X, params, ACTIVATIONS[name])
        l_scratch = cross_entropy(O, y)
    l_scratch.backward()
    with autograd.record():
        O_gluon = net(X)
        l_gluon = gluon.loss.SoftmaxCrossEntropyLoss()(O_gluon, y)
    l_gluon.backward()
    assert_close(O, O_gluon, rtol=1e-5, atol=1e-6, what='logits')
    assert_close(l_scratch, l_gluon, rtol=1e-5, atol=1e-6, what='per-example loss')
    gluon_grads = [net[0].weight.grad().T, net[0].bias.grad(), net[1].weight.grad().T, net[1].bias.grad()]
    for param, expected, what in zip(params, gluon_grads, ['W1', 'b1', 'W2', 'b2']):
        # float32 sums over 256 examples in different orders: the error scales with max|grad|
        scale = float(expected.abs().max().asscalar())
        assert scale > 0
        assert_close(param.grad, expected, rtol=1e-5, atol=1e-5 * scale, what='%s gradient' % what)


@NAMES
def test_fifty_steps_give_the_same_parameters(batches, name):
    """From the same start on the same 50 batches (lr 0.5), scratch and hybridized Gluon agree.

    In float64: at lr 0.5 float32 rounding (1e-7) is amplified step by step,
    and for relu a pre-activation within 1e-8 of zero (step 12 here) takes
    the kink on one side in one version and the other side in the other, so
    two correct float32 versions drift apart by 1e-2 within 50 steps.  In
    float64 they agree to 1e-13; any difference in the maths shows at once.
    """
    params, net = twins(name, dtype='float64')
    start = [p.copy() for p in params]
    data = [(X.astype('float64'), y) for X, y in batches]
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': LR})
    # every step divides by its batch's size (batch_size=None); all 50 batches hold 256 examples
    l_scratch, _, sizes = train_epoch_ch3(scratch_net(params, name), data, cross_entropy,
                                          lambda n: sgd(params, LR, n), None)
    l_gluon, _, _ = train_epoch_ch3(net, data, gluon.loss.SoftmaxCrossEntropyLoss(), trainer.step, None)
    assert max(float((p - p0).abs().max().asscalar()) for p, p0 in zip(params, start)) > 10 * SIGMA
    # atol: weights start at N(0, 0.01^2) and some cross zero; the floor is rtol * 0.01
    for p, q, what in zip(params, gluon_as_scratch(net), ['W1', 'b1', 'W2', 'b2']):
        assert_close(p, q, rtol=1e-4, atol=1e-4 * SIGMA, what='%s after 50 steps' % what)
    assert_close(l_scratch.sum() / sizes.sum(), l_gluon.sum() / sizes.sum(), rtol=1e-4, atol=0,
                 what='epoch loss')

