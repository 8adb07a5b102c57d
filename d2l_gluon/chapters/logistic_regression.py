"""Logistic regression: P(y = 1 | x) = σ(x w + b), trained on binary cross-entropy by SGD.

The model is linear regression's: both nets return the logit z = Xw + b, the
loss takes logits (its stable form never evaluates log σ(z)), and
``sigmoid(net(X))`` is the probability of class 1.  Newton's method gives the
float64 maximum-likelihood reference both versions are checked against.
"""
import collections
import dataclasses
import os

import numpy as np
from mxnet import gluon, nd

from .. import plot
from ..config import IMPLS, Option
from ..data import ArrayLoader, check_size, shuffled_indices
from ..errors import D2LError
from . import Chapter, Compare, Fit, Step, Version, linear_regression, train_versions
from .linear_regression import format_table
from .linear_regression import linreg as logreg  # noqa: F401  (the model: logits z = X w + b)
from .linear_regression import regression_metrics
from .logistic_newton import newton, sigmoid_np  # noqa: F401  (the maximum-likelihood reference)
# the stable sigmoid is the MLP chapter's activation
from .mlp import sigmoid, sign_and_exp_neg_abs

# the defaults depend on --data: the hours set follows the lecture (summed loss, lr 0.01, 1000
# epochs, the whole set as one batch); the blobs defaults bring SGD within about 0.02 of Newton
DEFAULTS = {
    'hours': {'num_epochs': 1000, 'lr': 0.01, 'batch_size': 3, 'loss': 'sum', 'print_every': 100},
    'blobs': {'num_epochs': 30, 'lr': 0.5, 'batch_size': 50, 'loss': 'mean', 'print_every': 1,
              'num_examples': 1000, 'num_test': 1000, 'mean0': [-1.0, -1.0], 'mean1': [1.0, 1.0],
              'std': 1.0},
}
BLOBS_ONLY = ('num_examples', 'num_test', 'mean0', 'mean1', 'std')
OPTIONS = {
    'data': Option('hours', ('hours', 'blobs'), "hours: the lecture's x = 1, 2, 3 hours, passed = "
                   '0, 0, 1; blobs: two overlapping Gaussian classes in 2-D with a test set'),
    'num_epochs': Option(None, 'count', 'passes over the training set (1000 hours, 30 blobs)'),
    'lr': Option(None, 'positive', 'learning rate (0.01 hours, 0.5 blobs)'),
    'batch_size': Option(None, 'count', 'examples per minibatch (3 hours: all of it, 50 blobs)'),
    'loss': Option(None, ('sum', 'mean'), "step on the batch's summed loss (the lecture's "
                   'BCELoss(size_average=False); hours) or its mean (blobs)'),
    'print_every': Option(None, 'count', 'print every N-th epoch, the first and the last (100 hours, 1 blobs)'),
    'num_examples': Option(None, 'count', 'blobs: training examples (1000)'),
    'num_test': Option(None, 'count', 'blobs: test examples (1000)'),
    'mean0': Option(None, 'numbers', 'blobs: mean of class 0 (-1,-1)'),
    'mean1': Option(None, 'numbers', 'blobs: mean of class 1 (1,1)'),
    'std': Option(None, 'positive', 'blobs: standard deviation of each class (1)'),
}
PASS_HOURS = 4.0  # the lecture's question: the probability of passing after 4 hours

Data = collections.namedtuple('Data', 'train_iter features labels test_set')


def complete(config):
    """Return config with the per --data defaults filled in; raise D2LError for options that do not apply."""
    if config['data'] == 'hours':
        given = ['--' + name.replace('_', '-') for name in BLOBS_ONLY if config[name] is not None]
        if given:
            raise D2LError('%s %s only for --data blobs; drop %s or add --data blobs'
                           % (', '.join(given), 'is' if len(given) == 1 else 'are',
                              'it' if len(given) == 1 else 'them'))
    config = dict(config)
    config.update({name: value for name, value in DEFAULTS[config['data']].items()
                   if config[name] is None})
    for name in ('mean0', 'mean1'):
        if config['data'] == 'blobs' and len(config[name]) != 2:
            raise D2LError('--%s has %d values; the blobs are 2-D: give two, e.g. 1,1'
                           % (name, len(config[name])))
    return config


# ---- data

def hours_data(ctx=None):
    """Return the lecture's toy set: hours studied [[1], [2], [3]] and passed [[0], [0], [1]], each (3, 1)."""
    return nd.array([[1], [2], [3]], ctx=ctx), nd.array([[0], [0], [1]], ctx=ctx)


def gaussian_blobs(num_train, num_test, mean0, mean1, std=1.0, ctx=None):
    """Return (train_features, train_labels), (test_features, test_labels) of N(mean0 or mean1, std² I).

    Features (n, len(mean0)), labels (n,) in {0, 1}, half of each class; d2l_gluon.seed(n) fixes both.
    """
    if len(mean0) != len(mean1):
        raise D2LError('mean0 has %d values but mean1 has %d; give both classes the same dimension'
                       % (len(mean0), len(mean1)))
    if num_train < 1 or num_test < 1:
        raise D2LError('need at least one training and one test example, got %d and %d'
                       % (num_train, num_test))
    n = num_train + num_test
    check_size(n, len(mean0))
    sizes = (n // 2, n - n // 2)
    features = nd.concat(*[nd.random.normal(0, std, shape=(size, len(mean)), ctx=ctx)
                           + nd.array(mean, ctx=ctx).reshape((1, -1))
                           for size, mean in zip(sizes, (mean0, mean1))], dim=0)
    labels = nd.concat(nd.zeros(sizes[0], ctx=ctx), nd.ones(sizes[1], ctx=ctx), dim=0)
    order = nd.array(shuffled_indices(n), ctx=ctx, dtype='int64')
    features, labels = features.take(order), labels.take(order)
    return (features[:num_train], labels[:num_train]), (features[num_train:], labels[num_train:])


def load_data(config, ctx=None):
    """Return Data: the training features and labels, their minibatches and the test set (or None)."""
    from .. import seed
    config = complete(config)
    seed(config['seed'])  # the blobs are drawn from mx.random and shuffled by numpy
    if config['data'] == 'hours':
        (features, labels), test_set = hours_data(ctx), None
    else:
        (features, labels), test_set = gaussian_blobs(config['num_examples'], config['num_test'],
                                                      config['mean0'], config['mean1'], config['std'], ctx)
    return Data(ArrayLoader(features, labels, config['batch_size']), features, labels, test_set)


# ---- scratch

def binary_cross_entropy(z, y):
    """Return per-example -[y log σ(z) + (1 - y) log(1 - σ(z))] from logits z; y takes z's shape."""
    y = y.reshape(z.shape)
    positive, e = sign_and_exp_neg_abs(z)
    # stable formula: max(z, 0) - z * y + log(1 + exp(-|z|)); it never takes the log of
    # σ(z), which is 0 in float32 for z < -104, so the loss stays finite.  log1p keeps the
    # tail exact: for z = 20, y = 1 the loss is 2.06e-9, and log(1 + 2.06e-9) rounds to 0
    return nd.where(positive, z, nd.zeros_like(z)) - z * y + nd.log1p(e)


def binary_accuracy(z, y):
    """Return the fraction of examples whose logit z > 0 (probability > 0.5) matches the label y."""
    return float(((z.reshape((-1,)) > 0) == y.reshape((-1,))).sum().asscalar()) / z.shape[0]


def evaluate(version, data):
    """Return the loss and binary_accuracy (the book's arg-max needs a column per class) on train (and test)."""
    net, loss = version.net, version.loss
    z = net(data.features)
    record = {'loss': float(loss(z, data.labels).mean().asscalar()),
              'train_acc': binary_accuracy(z, data.labels)}
    if data.test_set is not None:
        z = net(data.test_set[0])
        record['test_loss'] = float(loss(z, data.test_set[1]).mean().asscalar())
        record['test_acc'] = binary_accuracy(z, data.test_set[1])
    return record


def train(version, data, config, monitor=None):
    """Train a version with linear regression's loop, measuring evaluate() after each epoch."""
    return linear_regression.train(version, data, config, monitor, evaluate)


# ---- concise (Gluon): linear regression's Dense(1) with gluon's binary cross-entropy

def gluon_loss():
    """Return gluon's binary cross-entropy on logits: the same stable formula as binary_cross_entropy."""
    return gluon.loss.SigmoidBinaryCrossEntropyLoss(from_sigmoid=False)


# ---- PyTorch (the notes' code): note 003's nn.Linear, binary cross-entropy and optim.SGD

def pytorch_setup(config, ctx=None, dtype='float32'):
    """Return the PyTorch Version: nn.Linear(d, 1) from the scratch draw, BCE on logits, optim.SGD.

    The note writes BCELoss(sigmoid(z)); BCEWithLogitsLoss is the same loss in the stable
    formula above (BCELoss clamps log σ(z) at -100 instead), as gluon's twin computes it.
    """
    from torch import nn, optim

    from .. import d2l_torch
    start = linear_regression.init_params(config['num_inputs'], ctx, config.get('init_std', 0.01))
    net = d2l_torch.copy_to_torch(start, nn.Linear(config['num_inputs'], 1), dtype)
    loss = nn.BCEWithLogitsLoss(reduction='none')
    return Version('pytorch', net, lambda z, y: loss(z, y.reshape(z.shape)), list(net.parameters()),
                   config['lr'], d2l_torch.Optimizer(optim.SGD(net.parameters(), lr=config['lr'])))


def setup(impl, config, ctx=None, dtype='float32'):
    """Return the Version of impl: linear regression's model with binary cross-entropy, in dtype.

    With config['loss'] == 'sum' the updater divides by 1, not the batch size: a step follows
    the batch's summed loss, as the lecture's BCELoss(size_average=False) does.
    """
    config = dict(config, num_inputs=1 if config['data'] == 'hours' else len(config['mean0']))
    if impl == 'pytorch':
        version = pytorch_setup(config, ctx, dtype)
    else:
        loss = binary_cross_entropy if impl == 'scratch' else gluon_loss()
        version = linear_regression.setup(impl, config, ctx, dtype, loss)
    if config['loss'] == 'sum' and impl == 'pytorch':
        trainer = version.trainer
        version = dataclasses.replace(version, trainer=Step(lambda l, n: trainer.step(l, 1)))
    elif config['loss'] == 'sum':
        step = version.updater
        version = dataclasses.replace(version, trainer=Step(lambda batch_size: step(1)))
    return version


# ---- training

def fit(config, ctx=None, watch=None, data=None):
    """Train the versions config asks for; return a Fit whose metrics hold Newton's reference."""
    config = complete(config)
    data = data or load_data(config, ctx)
    trained = train_versions(setup, train, config, data, ctx, watch)
    w, b, iterations, converged = newton(data.features, data.labels)
    metrics = regression_metrics(trained, (w, b), "Newton's method (IRLS), float64")
    metrics['reference'].update(iterations=iterations, converged=converged)
    reference = np.concatenate([w.ravel(), b])
    for impl, run in metrics['runs'].items():
        fitted = np.array(run['params']['w'] + run['params']['b'])
        if converged:
            run['max_abs_diff_newton'] = float(np.abs(fitted - reference).max())
        if config['data'] == 'hours':
            hours = nd.array([[PASS_HOURS]], ctx=data.features.context)
            run['p_pass_%g_hours' % PASS_HOURS] = float(probability(trained[impl].version, hours)[0])
            run['boundary'] = float(-fitted[1] / fitted[0])
    if converged:
        for key, (X, y) in (('train_acc', (data.features, data.labels)), ('test_acc', data.test_set)):
            if X is not None:
                z = X.asnumpy().astype(np.float64) @ w + b
                metrics['reference'][key] = float(((z.ravel() > 0) == (y.asnumpy().ravel() > 0.5)).mean())
    return Fit(metrics, trained, data)


def probability(version, X):
    """Return a trained version's P(y = 1 | X) = σ(net(X)) as numpy, shape (n,)."""
    if version.impl == 'pytorch':
        from .. import d2l_torch
        version = d2l_torch.on_ndarrays(version)
    return sigmoid(version.net(X)).asnumpy().ravel()


def summary(config, metrics):
    """Return the lines printed after training: fitted and Newton's parameters, P(pass | 4 hours)."""
    reference, runs = metrics['reference'], metrics['runs']
    rows = [(impl, run['params']['w'] + run['params']['b']) for impl, run in runs.items()]
    if reference['converged']:
        rows.append(('newton', reference['w'] + reference['b']))
    lines = format_table(['w[%d]' % i for i in range(len(reference['w']))] + ['b'], rows)
    if not reference['converged']:
        lines.append("Newton's method did not converge in %d iterations: the data look separable, "
                     'so the likelihood has no finite maximum and the weights grow without bound'
                     % reference['iterations'])
    else:
        lines.append("Newton's method converged in %d iterations; %s" % (reference['iterations'], ', '.join(
            '%s %.3f' % (key.replace('_', ' '), reference[key])
            for key in ('train_acc', 'test_acc') if key in reference)))
        lines += ['largest |%s - newton| difference: %.3g' % (impl, run['max_abs_diff_newton'])
                  for impl, run in runs.items()]
    if 'max_abs_diff' in metrics:
        lines.append('largest |%s| difference: %.3g' % (' - '.join(runs), metrics['max_abs_diff']))
    key = 'p_pass_%g_hours' % PASS_HOURS
    lines += ['%-7s P(pass | %g hours) = %.4f, P = 0.5 at %.4f hours'
              % (impl, PASS_HOURS, run[key], run['boundary']) for impl, run in runs.items() if key in run]
    return lines


# ---- figures

def figures(config, result, folder):
    """Save loss.png and probability.png (hours) or boundaries.png (blobs)."""
    data, runs = result.data, result.metrics['runs']
    X, y = data.features.asnumpy(), data.labels.asnumpy().ravel()
    accuracy_keys = ('train_acc',) if data.test_set is None else ('train_acc', 'test_acc')
    plot.run_curves(runs, os.path.join(folder, 'loss.png'),
                    [('loss on the training set', ('loss',)), ('accuracy', accuracy_keys)])
    if data.test_set is None:
        hours = np.linspace(0, 10, 201, dtype=np.float32)
        grid = nd.array(hours.reshape(-1, 1), ctx=data.features.context)
        plot.probability_curves(hours, {impl: probability(run.version, grid)
                                        for impl, run in result.trained.items()},
                                (X.ravel(), y), os.path.join(folder, 'probability.png'))
        return
    boundaries = {impl: (run['params']['w'], run['params']['b'][0]) for impl, run in runs.items()}
    reference = result.metrics['reference']
    if reference['converged']:
        boundaries['newton'] = (reference['w'], reference['b'][0])
    plot.decision_boundaries(X, y, boundaries, os.path.join(folder, 'boundaries.png'))


def figure_names(config):
    """Return the files figures() writes: loss.png, and probability.png or boundaries.png."""
    return 'loss.png', 'probability.png' if config['data'] == 'hours' else 'boundaries.png'


CHAPTER = Chapter('logreg', __doc__.split('\n')[0], OPTIONS, load_data, setup, fit, summary,
                  figures, figure_names, train, complete, compare=Compare(1e-5, changes={'data': 'blobs'}),
                  impls=IMPLS, epoch_seconds=0.0021)
