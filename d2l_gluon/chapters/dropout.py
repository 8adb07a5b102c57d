"""Dropout (book 3.13): an MLP 784-256-256-10 whose hidden units drop out while training.

In the book's order: the defaults, the scratch ``dropout`` and MLP, then
"# ---- concise (Gluon)" with nn.Dropout, then ``fit``.  Dropout acts only
while autograd records for training (``autograd.is_training()``); the
test accuracy sees the whole network.  The data, loss and training are
softmax regression's.

Both versions draw their masks from mx.random the same way (one uniform
per unit, kept where it is below 1 - p, as the Dropout operator does), so
from the same seed and start they drop the same units and train alike.
"""
import numpy as np
from mxnet import autograd, init, nd
from mxnet.gluon import nn

from ..config import Option
from ..errors import D2LError
from . import Chapter, Compare, Version, first, softmax_regression
from .mlp import cast, relu
from .softmax_regression import NUM_INPUTS, NUM_OUTPUTS, affine, cross_entropy

OPTIONS = dict(
    softmax_regression.OPTIONS,
    lr=Option(0.5, 'positive', 'learning rate'),
    num_hiddens1=Option(256, 'units', 'units of the first hidden layer'),
    num_hiddens2=Option(256, 'units', 'units of the second hidden layer'),
    drop_prob1=Option(0.2, 'probability', 'dropout probability after the first hidden layer'),
    drop_prob2=Option(0.5, 'probability', 'dropout probability after the second hidden layer'))
load_data = softmax_regression.load_data
train = softmax_regression.train


# ---- scratch

def dropout(X, drop_prob):
    """Return X with each entry zeroed with probability drop_prob, the rest scaled by 1 / (1 - drop_prob).

    The scaling keeps the expectation: E[dropout(X)] = X.
    """
    if not 0 <= drop_prob <= 1:
        raise D2LError('a drop probability must lie in [0, 1], got %r' % (drop_prob,))
    if drop_prob == 1:
        return X.zeros_like()
    if drop_prob == 0:
        return X  # no draw, as nn.Dropout(0) draws none, so both random streams stay in step
    # the Dropout operator's arithmetic, to the bit: keep = 1 - p and the scale 1 / keep in
    # float32, one uniform per entry in X's dtype, rounded to float32 and kept where <= keep
    # (a float64 uniform just below 0.5 rounds to 0.5f: the operator keeps it), X times the mask.
    # copy=False: in float32 the casts are no-ops and cost no copy
    keep_prob = np.float32(1) - np.float32(drop_prob)
    uniform = nd.random.uniform(0, 1, X.shape, ctx=X.context, dtype=X.dtype)
    mask = (uniform.astype('float32', copy=False) <= keep_prob) * (np.float32(1) / keep_prob)
    return X * mask.astype(X.dtype, copy=False)


def mlp_dropout(X, params, drop_probs):
    """Return the logits of 784 -> relu -> dropout -> relu -> dropout -> 10, shape (batch_size, 10).

    Dropout applies only while training (inside autograd.record()).
    """
    W1, b1, W2, b2, W3, b3 = params
    H = X.reshape((-1, W1.shape[0]))
    for (W, b), drop_prob in zip(((W1, b1), (W2, b2)), drop_probs):
        H = relu(affine(H, W, b))
        if autograd.is_training():
            H = dropout(H, drop_prob)
    return affine(H, W3, b3)


def init_params(sizes, ctx=None):
    """Return [W1, b1, ...] for layer sizes (784, 256, 256, 10): weights ~ N(0, 0.01²), biases 0."""
    params = []
    for num_in, num_out in zip(sizes[:-1], sizes[1:]):
        params += [nd.random.normal(scale=0.01, shape=(num_in, num_out), ctx=ctx),
                   nd.zeros(num_out, ctx=ctx)]
    for param in params:
        param.attach_grad()
    return params


def sizes(config):
    """Return the layer sizes (784, num_hiddens1, num_hiddens2, 10)."""
    return NUM_INPUTS, config['num_hiddens1'], config['num_hiddens2'], NUM_OUTPUTS


def drop_probs(config):
    return config['drop_prob1'], config['drop_prob2']


def scratch_setup(config, ctx=None, dtype='float32'):
    """Return the scratch Version: mlp_dropout on [W1, b1, ..., b3], cross_entropy, sgd."""
    params = cast(init_params(sizes(config), ctx), dtype)
    return Version('scratch', lambda X: mlp_dropout(X, params, drop_probs(config)), cross_entropy,
                   params, lr=config['lr'])


# ---- concise (Gluon)

def gluon_net(config, ctx=None, initializer=None):
    """Return HybridSequential(Dense(relu), Dropout, Dense(relu), Dropout, Dense(10)).

    initializer defaults to the book's init.Normal(sigma=0.01).
    """
    num_inputs, h1, h2, num_outputs = sizes(config)
    net = nn.HybridSequential()
    net.add(nn.Dense(h1, activation='relu', in_units=num_inputs), nn.Dropout(config['drop_prob1']),
            nn.Dense(h2, activation='relu', in_units=h1), nn.Dropout(config['drop_prob2']),
            nn.Dense(num_outputs, in_units=h2))
    net.initialize(initializer or init.Normal(sigma=0.01), ctx=ctx)
    return net


def gluon_setup(config, ctx=None, dtype='float32'):
    """Return the Gluon Version: the dropout MLP, SoftmaxCrossEntropyLoss, Trainer.

    The net starts from the scratch draw, made here from the same random
    state; it is created with init.Zero instead of the book's
    init.Normal(0.01) so that nothing else draws from mx.random: a second
    draw would move the stream the dropout masks come from, and the two
    versions would drop different units.
    """
    start = init_params(sizes(config), ctx)
    net = gluon_net(config, ctx, init.Zero())
    return softmax_regression.gluon_classifier(net, start, config['lr'], dtype=dtype)


def setup(impl, config, ctx=None, **options):
    """Return the Version of impl ('scratch' or 'gluon'); options: dtype."""
    if impl == 'scratch':
        return scratch_setup(config, first(ctx), options.get('dtype', 'float32'))
    return gluon_setup(config, first(ctx), options.get('dtype', 'float32'))


# ---- training: softmax regression's, with this model

def fit(config, ctx=None, watch=None, data=None):
    """Train the versions config asks for; return a Fit (watch: chapters.train_versions)."""
    return softmax_regression.fit_classifier(setup, config, ctx, watch, data)


summary = softmax_regression.summary


CHAPTER = Chapter(
    'dropout', __doc__.split('\n')[0], OPTIONS, load_data, setup, fit, summary,
    # the MLP's curves and predictions, without the activations
    softmax_regression.classifier_figures, lambda config: ('curves.png', 'predictions.png'), train,
    # in float32 rounding differences grow chaotically at lr 0.5 (1e-4 after about 40 batches);
    # in float64, with the same masks, the versions agree to about 1e-13 over an epoch
    compare=Compare(1e-6, 'float64'),
    checkpoints=True,  # minutes to run: resume from the last finished epoch (with fresh masks)
    model_keys=('num_hiddens1', 'num_hiddens2', 'drop_prob1', 'drop_prob2'),
    epoch_seconds=1.85)
