"""The multilayer perceptron (book 3.8-3.10): 784 -> num_hiddens (activation) -> 10 on Fashion-MNIST.

In the book's order: the defaults, the activation functions, the scratch
MLP and its set-up, then "# ---- concise (Gluon)", then ``fit``.  The data,
the loss (cross_entropy in its log-softmax form) and the training are
softmax regression's.
"""
import os

import numpy as np
from mxnet import autograd, init, nd
from mxnet.gluon import nn

from .. import plot
from ..config import IMPLS, Option
from . import Chapter, Compare, Version, cast, first, softmax_regression
from .softmax_regression import (NUM_INPUTS, NUM_OUTPUTS, affine, cross_entropy, fit_classifier,
                                 gluon_classifier, pytorch_classifier)

OPTIONS = dict(
    softmax_regression.OPTIONS,
    lr=Option(0.5, 'positive', 'learning rate'),
    num_hiddens=Option(256, 'units', 'hidden units'),
    activation=Option('relu', ('relu', 'sigmoid', 'tanh'), 'activation of the hidden layer'))
load_data = softmax_regression.load_data
train = softmax_regression.train


def relu(X):
    """Return max(X, 0) elementwise."""
    return nd.maximum(X, 0)


def sign_and_exp_neg_abs(z):
    """Return (z >= 0 as 0/1, exp(-|z|)); exp(-|z|) lies in (0, 1], so it never overflows.

    |z| is written where(z >= 0, z, -z), not nd.abs: autograd then takes the
    slope of |z| at 0 as +1, the same side as the z >= 0 branches below, and
    the kinks of the two terms cancel exactly at z = 0.  (nd.abs has slope 0
    there, which makes gluon's loss report a gradient of -y at z = 0 instead
    of σ(0) - y = 0.5 - y.)
    """
    positive = z >= 0
    return positive, nd.exp(-nd.where(positive, z, -z))


def sigmoid(z):
    """Return σ(z) = 1 / (1 + exp(-z)) elementwise, shape of z, without overflow for any z."""
    positive, e = sign_and_exp_neg_abs(z)
    # z >= 0: 1 / (1 + e^-z); z < 0: e^z / (1 + e^z).  Both use e = exp(-|z|) <= 1, so
    # nothing overflows and σ(-1000) underflows to 0 instead of computing 1 / inf
    return nd.where(positive, 1 / (1 + e), e / (1 + e))


def tanh(X):
    """Return tanh(X) = (1 - exp(-2X)) / (1 + exp(-2X)) elementwise, finite for any |X|."""
    positive = X >= 0
    minus_2abs = -2 * nd.where(positive, X, -X)  # -2|X|, with slope -2 sign(X) also at 0
    # the same trick as sigmoid: exp(-2|X|) <= 1, and tanh is odd; 1 - exp(-2|X|) as
    # -expm1(-2|X|) keeps the relative precision of tanh(X) near 0
    t = -nd.expm1(minus_2abs) / (1 + nd.exp(minus_2abs))
    return nd.where(positive, t, -t)


ACTIVATIONS = {'relu': relu, 'sigmoid': sigmoid, 'tanh': tanh}


def value_and_gradient(f, x):
    """Return (x, f(x), f'(x)) for a numpy array x, the derivative from autograd in float64."""
    X = nd.array(x, dtype='float64')
    X.attach_grad()
    with autograd.record():
        y = f(X)
    y.backward()
    return x, y.asnumpy(), X.grad.asnumpy()


def mlp(X, params, activation=relu):
    """Return the logits H W2 + b2 with H = activation(X W1 + b1), shape (batch_size, num_outputs)."""
    W1, b1, W2, b2 = params
    H = activation(affine(X.reshape((-1, W1.shape[0])), W1, b1))
    return affine(H, W2, b2)


def init_params(num_inputs=NUM_INPUTS, num_hiddens=256, num_outputs=NUM_OUTPUTS, ctx=None):
    """Return [W1, b1, W2, b2], weights ~ N(0, 0.01²), biases 0, with gradients attached."""
    W1 = nd.random.normal(scale=0.01, shape=(num_inputs, num_hiddens), ctx=ctx)
    b1 = nd.zeros(num_hiddens, ctx=ctx)
    W2 = nd.random.normal(scale=0.01, shape=(num_hiddens, num_outputs), ctx=ctx)
    b2 = nd.zeros(num_outputs, ctx=ctx)
    params = [W1, b1, W2, b2]
    for param in params:
        param.attach_grad()
    return params


def scratch_net(params, activation='relu'):
    """Return net(X) = mlp(X, params, activation) for an activation name."""
    return lambda X: mlp(X, params, ACTIVATIONS[activation])


def scratch_setup(config, ctx=None, dtype='float32'):
    """Return the scratch Version: mlp on [W1, b1, W2, b2], cross_entropy, sgd with config['lr']."""
    params = cast(init_params(num_hiddens=config['num_hiddens'], ctx=ctx), dtype)
    return Version('scratch', scratch_net(params, config['activation']), cross_entropy, params,
                   lr=config['lr'])


# ---- concise (Gluon)

def gluon_net(num_inputs=NUM_INPUTS, num_hiddens=256, num_outputs=NUM_OUTPUTS, activation='relu',
              ctx=None):
    """Return HybridSequential(Dense(num_hiddens, activation), Dense(10)), weights ~ N(0, 0.01²).

    HybridSequential is the hybridizable nn.Sequential: net.hybridize() compiles it.
    """
    net = nn.HybridSequential()
    net.add(nn.Dense(num_hiddens, activation=activation, in_units=num_inputs),
            nn.Dense(num_outputs, in_units=num_hiddens))
    net.initialize(init.Normal(sigma=0.01), ctx=ctx)
    return net


def gluon_setup(config, ctx=None, kvstore='device', dtype='float32'):
    """Return the Gluon Version: the MLP, SoftmaxCrossEntropyLoss, Trainer; ctx may be a list."""
    start = init_params(num_hiddens=config['num_hiddens'], ctx=first(ctx))
    net = gluon_net(num_hiddens=config['num_hiddens'], activation=config['activation'], ctx=ctx)
    return gluon_classifier(net, start, config['lr'], kvstore, dtype)


# ---- PyTorch (the notes' code)

def pytorch_setup(config, ctx=None, dtype='float32'):
    """Return the PyTorch Version: nn.Sequential(nn.Flatten(), nn.Linear, activation, nn.Linear)."""
    from torch import nn
    start = init_params(num_hiddens=config['num_hiddens'], ctx=first(ctx))
    activation = {'relu': nn.ReLU, 'sigmoid': nn.Sigmoid, 'tanh': nn.Tanh}[config['activation']]
    net = nn.Sequential(nn.Flatten(), nn.Linear(NUM_INPUTS, config['num_hiddens']), activation(),
                        nn.Linear(config['num_hiddens'], NUM_OUTPUTS))
    return pytorch_classifier(net, start, config['lr'], dtype)


def setup(impl, config, ctx=None, **options):
    """Return the Version of impl ('scratch', 'gluon' or 'pytorch'); options: kvstore (Gluon), dtype."""
    if impl == 'scratch':
        return scratch_setup(config, first(ctx), options.get('dtype', 'float32'))
    if impl == 'pytorch':
        return pytorch_setup(config, ctx, options.get('dtype', 'float32'))
    return gluon_setup(config, ctx, **options)


# ---- training: softmax regression's, with this model

def fit(config, ctx=None, watch=None, data=None):
    """Train the versions config asks for; return a Fit (watch: chapters.train_versions)."""
    return fit_classifier(setup, config, ctx, watch, data)


summary = softmax_regression.summary
predict = softmax_regression.predict


# ---- figures

def figures(config, result, folder):
    """Save the classifier figures and activations.png: ReLU, sigmoid, tanh and their derivatives."""
    softmax_regression.classifier_figures(config, result, folder)
    x = np.linspace(-8, 8, 321)
    plot.activations({name: value_and_gradient(f, x) for name, f in ACTIVATIONS.items()},
                     os.path.join(folder, 'activations.png'))


CHAPTER = Chapter(
    'mlp', __doc__.split('\n')[0], OPTIONS, load_data, setup, fit, summary, figures,
    lambda config: ('curves.png', 'predictions.png', 'activations.png'), train,
    # in float32 a hidden unit whose input lies within rounding of 0 can fall on different sides
    # of the ReLU kink in the two versions, after which they drift apart for no fault of either
    compare=Compare(1e-4, 'float64'),
    checkpoints=True, data_parallel=True, model_keys=('num_hiddens', 'activation'),
    impls=IMPLS, epoch_seconds=0.92)
