"""Softmax regression on Fashion-MNIST (book 3.4-3.7): O = XW + b, probabilities softmax(O).

In the book's order: the defaults, the data, the scratch model, loss and
set-up, then "# ---- concise (Gluon)", then ``fit``.  The scratch net
returns the logits O; softmax is applied inside cross_entropy in its
log-softmax form, as gluon's SoftmaxCrossEntropyLoss does, so the loss stays
finite however large the logits grow.  ``softmax(net(X))`` gives the book's
probabilities.  The multilayer perceptron reuses everything here but the model.
"""
import collections
import os

import mxnet as mx
import numpy as np
from mxnet import gluon, init, nd
from mxnet.gluon import nn

from .. import d2l, plot
from ..config import IMPLS, Option, step_batch
from ..data import TEXT_LABELS, to_tensor
from ..fashion_mnist import read_fashion_mnist
from ..params import as_scratch, copy_to_gluon
from . import Chapter, Compare, Fit, Version, cast, first, train_versions

NUM_INPUTS, NUM_OUTPUTS = 784, 10

OPTIONS = {
    'num_epochs': Option(5, 'count', 'passes over the training set'),
    'print_every': Option(1, 'count', 'print every N-th epoch, the first and the last'),
    'lr': Option(0.1, 'positive', 'learning rate'),
    'batch_size': Option(256, 'count', 'examples per minibatch'),
    'data_dir': Option(None, 'text', 'folder with the four Fashion-MNIST idx files (.gz or not); '
                                     'default: search $D2L_GLUON_DATA, the gluon cache, '
                                     '/usr/share/datasets/fashion-mnist, then download'),
    'loader': Option('fast', ('fast', 'book'),
                     'fast: the data set in memory as one NDArray; book: Dataset + ToTensor + '
                     'gluon DataLoader, as the book teaches'),
    'num_workers': Option(0, 'natural', 'worker processes of the book loader'),
}

Data = collections.namedtuple('Data', 'train_iter test_iter')


# ---- data (book 3.5): minibatches of (X (batch, 1, 28, 28) in [0, 1], y (batch,) int32)

def load_data(config, ctx=None):
    """Return Data(train_iter, test_iter) over Fashion-MNIST in batches of config['batch_size']."""
    return Data(*d2l.load_data_fashion_mnist(config['batch_size'], config['data_dir'],
                                             config['loader'], config['num_workers'], ctx))


# ---- scratch (book 3.6)

def softmax(O):
    """Return row-wise softmax of O (batch_size, num_outputs); rows sum to 1."""
    # subtract the row max before exp so large logits cannot overflow; the result does not
    # depend on the max, so it is detached from the gradient
    O_exp = (O - O.max(axis=1, keepdims=True).detach()).exp()
    return O_exp / O_exp.sum(axis=1, keepdims=True)


def log_softmax(O):
    """Return row-wise log(softmax(O)), computed without forming softmax(O)."""
    # log softmax(o)_j = (o_j - m) - log sum_k exp(o_k - m) with m = max_k o_k:
    # exp never overflows and the log never sees 0.  The result does not depend on m,
    # so m is detached: its gradient (exactly 0) is not computed
    shifted = O - O.max(axis=1, keepdims=True).detach()
    return shifted - shifted.exp().sum(axis=1, keepdims=True).log()


def cross_entropy(O, y):
    """Return per-example cross-entropy -log softmax(O)[i, y_i] from logits O, shape (batch_size,)."""
    return -nd.pick(log_softmax(O), y, axis=1)


def affine(X, W, b):
    """Return X W + b, shape (X.shape[0], W.shape[1]): the numbers of nd.dot(X, W) + b."""
    # FullyConnected is Dense's kernel (twice as fast as nd.dot here); it takes weights as (out, in)
    return nd.FullyConnected(X, W.T, b, num_hidden=W.shape[1])


def softmax_regression(X, W, b):
    """Return the logits X W + b, shape (batch_size, num_outputs); X is flattened to 784 columns."""
    return affine(X.reshape((-1, W.shape[0])), W, b)


def init_params(num_inputs=NUM_INPUTS, num_outputs=NUM_OUTPUTS, ctx=None):
    """Return [W ~ N(0, 0.01²) of shape (num_inputs, num_outputs), b = 0], with gradients attached."""
    W = nd.random.normal(0, 0.01, shape=(num_inputs, num_outputs), ctx=ctx)
    b = nd.zeros(num_outputs, ctx=ctx)
    for param in (W, b):
        param.attach_grad()
    return [W, b]


def scratch_net(params):
    """Return net(X) = softmax_regression(X, W, b) for params = [W, b]."""
    W, b = params
    return lambda X: softmax_regression(X, W, b)


def scratch_setup(config, ctx=None, dtype='float32'):
    """Return the scratch Version: softmax_regression on [W, b], cross_entropy, sgd with config['lr']."""
    params = cast(init_params(ctx=ctx), dtype)
    return Version('scratch', scratch_net(params), cross_entropy, params, lr=config['lr'])


# ---- concise (Gluon) (book 3.7)

def gluon_net(num_inputs=NUM_INPUTS, num_outputs=NUM_OUTPUTS, ctx=None):
    """Return nn.HybridSequential(nn.Dense(10)) with weights ~ N(0, 0.01²), bias 0; Dense flattens X.

    HybridSequential is the hybridizable nn.Sequential: net.hybridize() compiles it.
    """
    net = nn.HybridSequential()
    net.add(nn.Dense(num_outputs, in_units=num_inputs))
    net.initialize(init.Normal(sigma=0.01), ctx=ctx)
    return net


def gluon_loss():
    """Return gluon's softmax cross-entropy on logits (log-softmax inside, like cross_entropy)."""
    return gluon.loss.SoftmaxCrossEntropyLoss()


def gluon_classifier(net, start, lr, kvstore='device', dtype='float32'):
    """Return the Version of a Gluon classifier: net set to the scratch draw start, loss, Trainer.

    Starting from the scratch version's draw, the two differ only by their code.
    """
    copy_to_gluon(start, net)
    net.cast(dtype)
    net.hybridize(static_alloc=True, static_shape=True)
    optimizer = mx.optimizer.SGD(learning_rate=lr)
    # one update kernel per parameter: mxnet 1.9.1's multi_sgd_update over the four
    # parameters together takes twice as long as four separate updates on CPU
    optimizer.aggregate_num = 1
    trainer = gluon.Trainer(net.collect_params(), optimizer, kvstore=kvstore)
    return Version('gluon', net, gluon_loss(), net.collect_params(), trainer=trainer)


def gluon_setup(config, ctx=None, kvstore='device', dtype='float32'):
    """Return the Gluon Version: Dense(10), SoftmaxCrossEntropyLoss, Trainer; ctx may be a list."""
    start = init_params(ctx=first(ctx))
    return gluon_classifier(gluon_net(ctx=ctx), start, config['lr'], kvstore, dtype)


# ---- PyTorch (the notes' code)

def pytorch_classifier(net, start, lr, dtype='float32'):
    """Return the PyTorch Version: net set to the scratch draw start, nn.CrossEntropyLoss, optim.SGD."""
    from torch import nn, optim

    from .. import d2l_torch
    net = d2l_torch.copy_to_torch(start, net, dtype)
    loss = nn.CrossEntropyLoss(reduction='none')  # per example: the loop sums, as the book's does
    optimizer = optim.SGD(net.parameters(), lr=lr)
    return Version('pytorch', net, lambda y_hat, y: loss(y_hat, y.long()), list(net.parameters()),
                   lr, d2l_torch.Optimizer(optimizer))


def pytorch_setup(config, ctx=None, dtype='float32'):
    """Return the PyTorch Version: nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), as the notes write it."""
    from torch import nn
    start = init_params(ctx=first(ctx))
    net = nn.Sequential(nn.Flatten(), nn.Linear(NUM_INPUTS, NUM_OUTPUTS))
    return pytorch_classifier(net, start, config['lr'], dtype)


def setup(impl, config, ctx=None, **options):
    """Return the Version of impl ('scratch', 'gluon' or 'pytorch'); options: kvstore (Gluon), dtype."""
    if impl == 'scratch':
        return scratch_setup(config, first(ctx), options.get('dtype', 'float32'))
    if impl == 'pytorch':
        return pytorch_setup(config, ctx, options.get('dtype', 'float32'))
    return gluon_setup(config, ctx, **options)


# ---- training (book 3.6.6)

def train(version, data, config, monitor=None):
    """Train a version with the book's train_ch3 (its PyTorch twin for pytorch); return its records."""
    if version.impl == 'pytorch':
        from .. import d2l_torch
        return d2l_torch.train_ch3(version.net, data.train_iter, data.test_iter, version.loss,
                                   config['num_epochs'], step_batch(config), version.trainer,
                                   monitor)
    return d2l.train_ch3(version.net, data.train_iter, data.test_iter, version.loss,
                         config['num_epochs'], step_batch(config), version.params, version.lr,
                         version.trainer, monitor)


def fit(config, ctx=None, watch=None, data=None):
    """Train the versions config asks for; return a Fit (watch: chapters.train_versions)."""
    return fit_classifier(setup, config, ctx, watch, data)


def fit_classifier(setup, config, ctx=None, watch=None, data=None):
    """Train a Fashion-MNIST classifier's versions; each epoch adds train_acc and test_acc."""
    data = data or load_data(config, ctx)
    trained = train_versions(setup, train, config, data, ctx, watch)
    metrics = {'runs': {impl: {'epochs': run.history} for impl, run in trained.items()}}
    if len(trained) >= 2:
        finals = [run.history[-1]['test_acc'] for run in trained.values()]
        metrics['max_abs_diff'] = max(finals) - min(finals)
    return Fit(metrics, trained, data)


def summary(config, metrics):
    """Return the lines printed after training: final loss and accuracies of each version."""
    lines = ['%-12s%12s%12s%12s%12s' % ('', 'loss', 'train acc', 'test acc', 'seconds')]
    for impl, run in metrics['runs'].items():
        last = run['epochs'][-1]
        lines.append('%-12s%12.6f%12.6f%12.6f%12.6f' % (
            impl, last['loss'], last['train_acc'], last['test_acc'],
            sum(e['seconds'] for e in run['epochs'])))
    if 'max_abs_diff' in metrics:
        lines.append('|%s| test accuracy difference: %.4f'
                     % (' - '.join(metrics['runs']), metrics['max_abs_diff']))
    return lines


def predict(net, X):
    """Return class probabilities softmax(net(X)) as numpy, shape (n, 10)."""
    return softmax(net(X)).asnumpy().astype(np.float64)


def probabilities(version, X):
    """Return a trained version's class probabilities for an NDArray X, shape (n, 10)."""
    if version.impl == 'pytorch':
        from .. import d2l_torch
        version = d2l_torch.on_ndarrays(version)
    return predict(version.net, X)


# ---- figures

def classifier_figures(config, result, folder):
    """Save curves.png (loss and accuracy per epoch) and predictions.png (20 test images)."""
    plot.run_curves(result.metrics['runs'], os.path.join(folder, 'curves.png'),
                    [('loss', ('loss',)), ('accuracy', ('train_acc', 'test_acc'))])
    test_images, test_labels = read_fashion_mnist(config['data_dir'])[2:]
    trained = result.trained
    first_version = next(iter(trained.values())).version
    X = nd.array(to_tensor(test_images[:20]), ctx=_device(first_version))
    truth = d2l.get_fashion_mnist_labels(test_labels[:20])
    titles = [[(label, 'black')] for label in truth]
    for impl, run in trained.items():
        predicted = d2l.get_fashion_mnist_labels(probabilities(run.version, X).argmax(axis=1))
        for title, label, guess in zip(titles, truth, predicted):
            title.append(('%s: %s' % (impl[0].upper(), guess), 'black' if guess == label else 'red'))
    names = ', '.join('%s: %s' % (impl[0].upper(), NAMES.get(impl, impl)) for impl in trained)
    plot.image_grid(test_images[:20], titles, os.path.join(folder, 'predictions.png'),
                    suptitle='true label, then the prediction of %s (red: wrong)' % names)


NAMES = {'gluon': 'Gluon', 'pytorch': 'PyTorch'}  # how the figures name the versions


def _device(version):
    """Return the (first) device a trained version's parameters live on."""
    return as_scratch(version)[0].context


def figures(config, result, folder):
    """Save the classifier figures and weights.png: each class's learned weights as a 28x28 image."""
    classifier_figures(config, result, folder)
    images, titles = [], []
    for impl, run in result.trained.items():
        version = run.version
        images += list(as_scratch(version)[0].asnumpy().T.reshape(-1, 28, 28))
        titles += ['%s\n%s' % (impl, label) for label in TEXT_LABELS]
    plot.image_grid(images, titles, os.path.join(folder, 'weights.png'), cmap='RdBu_r',
                    symmetric=True)


CHAPTER = Chapter(
    'softmax', __doc__.split('\n')[0], OPTIONS, load_data, setup, fit, summary, figures,
    lambda config: ('curves.png', 'predictions.png', 'weights.png'), train,
    compare=Compare(1e-4),
    checkpoints=True,  # minutes to run: resume from the last finished epoch
    data_parallel=True,  # the Gluon version trains on several devices or processes
    model_keys=(),  # model.json: what predict needs to rebuild the net
    impls=IMPLS, epoch_seconds=0.36)
