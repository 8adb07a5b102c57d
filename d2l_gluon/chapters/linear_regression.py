"""Linear regression (book 3.2, 3.3): y = Xw + b, trained on squared loss by minibatch SGD.

In the book's order: the book's defaults, the data, the scratch model,
loss and set-up, then "# ---- concise (Gluon)", then ``fit``, which trains
both, and the closed-form least-squares solution both are checked against.
"""
import collections
import dataclasses
import os

import numpy as np
from mxnet import gluon, init, nd
from mxnet.gluon import nn

from .. import d2l, plot
from ..config import IMPLS, Option, step_batch
from ..data import ArrayLoader
from ..errors import D2LError
from ..params import as_scratch
from . import Chapter, Compare, Fit, Version, cast, train_versions

OPTIONS = {
    'num_epochs': Option(3, 'count', 'passes over the training set'),
    'print_every': Option(1, 'count', 'print every N-th epoch, the first and the last'),
    'lr': Option(0.03, 'positive', 'learning rate'),
    'batch_size': Option(10, 'count', 'examples per minibatch'),
    'num_examples': Option(1000, 'count', 'number of synthetic examples'),
    'num_inputs': Option(2, 'count', 'number of features; true_w must have this many values'),
    'noise': Option(0.01, 'nonnegative', 'standard deviation of the label noise'),
    'true_w': Option([2.0, -3.4], 'numbers', 'the true weights, comma-separated'),
    'true_b': Option(4.2, 'number', 'the true bias'),
    'full_batch': Option(False, 'flag',
                         'full-batch gradient descent: one step per epoch on all examples'),
    'init_std': Option(0.01, 'positive', 'standard deviation of the initial weights'),
    'loss': Option('half', ('half', 'full'),
                   "half: the book's (y_hat - y)^2 / 2; full: straight-dope's (y_hat - y)^2"),
    'print_batches': Option(0, 'natural', "record (and print) the moving average of the batch loss "
                                          "every N batches, as straight-dope does; 0: never"),
}
# the configurations of the course notes, by name: changes to the book's defaults
PRESETS = {
    'book': {},
    'note-000': {'num_examples': 10000, 'true_w': [2.0, -3.5], 'true_b': 3.7, 'lr': 0.01,
                 'num_epochs': 5},
    # note 002 (PyTorch): true w = [-1, 1], b = 2, noise 0.1, w drawn from N(0, 0.1²)
    'note-002': {'true_w': [-1.0, 1.0], 'true_b': 2.0, 'noise': 0.1, 'init_std': 0.1},
    'straight-dope': {'init_std': 1.0, 'loss': 'full', 'step_divisor': 'none', 'lr': 0.001,
                      'num_epochs': 5, 'print_batches': 100},
}

Data = collections.namedtuple('Data', 'train_iter features labels')


def complete(config):
    """Return config with batch_size = num_examples under full_batch: every step divides by it.

    Raise D2LError for another batch size than the default under full_batch: it would be ignored.
    """
    if not config['full_batch']:
        return config
    if config['batch_size'] not in (OPTIONS['batch_size'].default, config['num_examples']):
        raise D2LError('--full-batch steps once per epoch on all %d examples (--num-examples), so '
                       '--batch-size %d would be ignored; drop --batch-size or --full-batch'
                       % (config['num_examples'], config['batch_size']))
    return dict(config, batch_size=config['num_examples'])


# ---- data

def load_data(config, ctx=None):
    """Return Data: synthetic features (n, d), labels (n,) and their shuffled minibatches."""
    from .. import seed
    config = complete(config)
    seed(config['seed'])  # the features and the noise are drawn from mx.random
    if len(config['true_w']) != config['num_inputs']:
        raise D2LError('--true-w has %d values but --num-inputs is %d; give one weight per input'
                       % (len(config['true_w']), config['num_inputs']))
    features, labels = d2l.synthetic_data(config['true_w'], config['true_b'], config['num_examples'],
                                          config['noise'], ctx)
    # gluon's DataLoader(ArrayDataset(features, labels), batch_size, shuffle=True) yields the
    # same batches for the same seed: both draw the permutation from numpy
    return Data(ArrayLoader(features, labels, config['batch_size']), features, labels)


# ---- scratch
# The book writes the model, the loss and sgd in this section and saves them in its d2l
# package: they are d2l.linreg, d2l.squared_loss and d2l.sgd (d2l.py), used here as they are.
linreg, squared_loss = d2l.linreg, d2l.squared_loss


def full_squared_loss(y_hat, y):
    """Return per-example (y_hat - y)², shape of y_hat: straight-dope's loss, without the ½."""
    return (y_hat - y.reshape(y_hat.shape)) ** 2


def init_params(num_inputs, ctx=None, std=0.01):
    """Return [w ~ N(0, std²) of shape (num_inputs, 1), b = 0 of shape (1,)], with gradients attached."""
    w = nd.random.normal(0, std, shape=(num_inputs, 1), ctx=ctx)
    b = nd.zeros(shape=(1,), ctx=ctx)
    for param in (w, b):
        param.attach_grad()
    return [w, b]


def scratch_setup(config, ctx=None, loss=None):
    """Return the scratch Version: linreg on [w, b], our loss and our sgd."""
    params = init_params(config['num_inputs'], ctx, config.get('init_std', 0.01))
    if loss is None:
        loss = full_squared_loss if config['loss'] == 'full' else squared_loss
    return Version('scratch', lambda X: linreg(X, *params), loss, params, lr=config['lr'])


# ---- concise (Gluon)

def gluon_net(num_inputs, ctx=None, std=0.01):
    """Return nn.HybridSequential(nn.Dense(1)), hybridized, with weights ~ N(0, std²), bias 0."""
    net = nn.HybridSequential()
    net.add(nn.Dense(1, in_units=num_inputs))
    net.initialize(init.Normal(sigma=std), ctx=ctx)
    net.hybridize(static_alloc=True)  # one call per forward instead of one per operator
    return net


def gluon_setup(config, ctx=None, loss=None):
    """Return the Gluon Version: Dense(1), gluon.loss.L2Loss and Trainer('sgd')."""
    net = gluon_net(config['num_inputs'], ctx, config.get('init_std', 0.01))
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': config['lr']})
    if loss is None:
        # L2Loss is weight / 2 (y_hat - y)²: weight 1 gives squared_loss, weight 2 the full square
        loss = gluon.loss.L2Loss(weight=2.0 if config['loss'] == 'full' else 1.0)
    loss.hybridize(static_alloc=True)  # the loss's four operators in one call
    return Version('gluon', net, loss, net.collect_params(), trainer=trainer)


# ---- PyTorch (the notes' code): note 002's tensors with requires_grad, its reg, loss and gd

def pytorch_setup(config, ctx=None, loss=None, dtype='float32'):
    """Return the PyTorch Version: w, b copied from the scratch draw with requires_grad, and sgd."""
    from .. import d2l_torch
    start = init_params(config['num_inputs'], ctx, config.get('init_std', 0.01))
    w, b = d2l_torch.leaves(cast(start, dtype))  # w (num_inputs, 1), b (1,), as the notes draw them
    if loss is None:
        loss = full_squared_loss if config['loss'] == 'full' else d2l_torch.squared_loss
    return Version('pytorch', lambda X: d2l_torch.linreg(X, w, b), loss, [w, b], config['lr'],
                   d2l_torch.SGD([w, b], config['lr']))


def setup(impl, config, ctx=None, dtype='float32', loss=None):
    """Return the Version of impl ('scratch', 'gluon' or 'pytorch') in dtype, with loss if given."""
    if impl == 'pytorch':
        return pytorch_setup(config, ctx, loss, dtype)
    version = (scratch_setup if impl == 'scratch' else gluon_setup)(config, ctx, loss)
    if dtype == 'float32':
        return version
    if version.scratch:
        params = cast(version.params, dtype)
        return dataclasses.replace(version, net=lambda X: linreg(X, *params), params=params)
    version.net.cast(dtype)
    return version


# ---- training

def evaluate(version, data):
    """Return the mean loss on the whole training set, the number the book prints after an epoch."""
    return {'loss': float(version.loss(version.net(data.features), data.labels).mean().asscalar())}


def train(version, data, config, monitor=None, evaluate=evaluate):
    """Train a version as book 3.2 writes its loop, inline; return its epoch records.

    Each epoch is one pass over the minibatches, then evaluate(version, data):
    the loss on the whole training set here; the chapters after this one
    pass their own (training and test loss, ||w||, accuracies).
    """
    evaluated = version
    if version.impl == 'pytorch':  # evaluate() takes NDArrays: the PyTorch net and loss are wrapped
        from .. import d2l_torch
        evaluated = d2l_torch.on_ndarrays(version)
    history = []
    for epoch in range(config['num_epochs']):
        l_sums, _, sizes = train_epoch(version, data.train_iter, step_batch(config))
        history.append(dict(epoch=epoch + 1, **evaluate(evaluated, data)))
        if monitor is not None:
            monitor.on_epoch(history[-1], l_sums, sizes)
    return history


def train_epoch(version, train_iter, batch_size):
    """Return (loss sums, None, sizes) of one pass of d2l.train_epoch_ch3 or its PyTorch twin."""
    if version.impl == 'pytorch':
        from .. import d2l_torch
        return d2l_torch.train_epoch_ch3(version.net, train_iter, version.loss, version.trainer,
                                         batch_size, accuracy=None)
    return d2l.train_epoch_ch3(version.net, train_iter, version.loss, version.updater, batch_size,
                               accuracy=None)


def fitted_params(version):
    """Return a version's trained (w (d, 1), b (1,)) as numpy arrays in scratch layout."""
    return tuple(p.asnumpy() for p in as_scratch(version))


def fit(config, ctx=None, watch=None, data=None):
    """Train the versions config asks for; return a Fit (watch: chapters.train_versions).

    metrics holds each run's epochs and fitted params, the least-squares
    reference and the largest |scratch - gluon| difference.  data is
    load_data(config, ctx), when the caller has it already.
    """
    config = complete(config)
    data = data or load_data(config, ctx)
    trained = train_versions(setup, train, config, data, ctx, watch)
    return Fit(regression_metrics(trained, closed_form(data.features, data.labels),
                                  'least squares (lstsq)'), trained, data)


def regression_metrics(trained, reference, method):
    """Return metrics of trained linear models: runs, the reference fit and max_abs_diff."""
    runs, fitted = {}, {}
    for impl, run in trained.items():
        w, b = fitted_params(run.version)
        fitted[impl] = np.concatenate([w.ravel(), b.ravel()]).astype(np.float64)
        runs[impl] = {'epochs': run.history, 'params': {'w': w.ravel().tolist(), 'b': b.ravel().tolist()}}
    w, b = reference[:2]
    metrics = {'runs': runs, 'reference': {'method': method, 'w': w.ravel().tolist(),
                                           'b': b.ravel().tolist()}}
    if len(fitted) >= 2:
        values = np.array(list(fitted.values()))
        metrics['max_abs_diff'] = float((values.max(axis=0) - values.min(axis=0)).max())
    return metrics


def summary(config, metrics):
    """Return the lines printed after training: true, fitted and least-squares parameters."""
    rows = [('true', config['true_w'] + [config['true_b']])]
    rows += [(impl, run['params']['w'] + run['params']['b']) for impl, run in metrics['runs'].items()]
    rows.append(('closed form', metrics['reference']['w'] + metrics['reference']['b']))
    lines = format_table(['w[%d]' % i for i in range(config['num_inputs'])] + ['b'], rows)
    if 'max_abs_diff' in metrics:
        lines.append('largest |%s| difference: %.3g' % (' - '.join(metrics['runs']),
                                                         metrics['max_abs_diff']))
    return lines


def format_table(header, rows):
    """Return rows of (name, numbers) as aligned text lines under header."""
    lines = ['%-12s' % '' + ''.join('%12s' % h for h in header)]
    for name, values in rows:
        lines.append('%-12s' % name + ''.join('%12.6f' % v for v in values))
    return lines


# ---- closed form

def closed_form(features, labels):
    """Return the least-squares (w (d, 1), b (1,)) of the normal equation, in float64.

    lstsq solves min ||[X 1] theta - y|| by an orthogonal factorisation instead
    of forming (XᵀX)⁻¹, so it stays accurate when XᵀX is ill-conditioned.
    """
    X = np.asarray(features.asnumpy(), dtype=np.float64)
    y = np.asarray(labels.asnumpy(), dtype=np.float64).reshape(-1)
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    theta = np.linalg.lstsq(A, y, rcond=None)[0]
    return theta[:-1].reshape(-1, 1), theta[-1:]


# ---- figures

def figures(config, result, folder):
    """Save data.png (the last feature against the label) and loss.png."""
    data = result.data
    X, y = data.features.asnumpy(), data.labels.asnumpy()
    plot.scatter(X[:, -1], y, os.path.join(folder, 'data.png'), 'feature %d' % (X.shape[1] - 1),
                 'label', 'synthetic data')
    plot.run_curves(result.metrics['runs'], os.path.join(folder, 'loss.png'),
                    [('loss on the training set', ('loss',))])


CHAPTER = Chapter('linreg', __doc__.split('\n')[0], OPTIONS, load_data, setup, fit, summary,
                  figures, lambda config: ('data.png', 'loss.png'), train, complete, PRESETS,
                  Compare(1e-5), impls=IMPLS, epoch_seconds=0.11)
