"""The command line: ``d2l-gluon CHAPTER [options]``, one sub-command per chapter.

Each command trains the scratch and/or Gluon version with the book's
defaults, prints a line per epoch and a summary, and writes metrics.json and
PNG figures into its run folder.  Errors a user can cause print one line on
stderr: exit 2 for usage and input errors, 3 when training diverges, 130 on
Ctrl-C.
"""
import argparse
import os
import re
import sys
import time

import mxnet as mx
import numpy as np
from mxnet import nd

from . import seed
from .errors import D2LError
from .files import prepare_out_dir, write_json

IMPLS = ('scratch', 'gluon')


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit code 2."""

    def error(self, message):
        self.exit(2, '%s: error: %s (see %s --help)\n' % (self.prog, message, self.prog))


def _number(kind, test, requirement):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError('%r is not %s' % (text, requirement)) from None
        if not test(value):
            raise argparse.ArgumentTypeError('%r is not %s' % (text, requirement))
        return value
    return parse


positive_int = _number(int, lambda v: v > 0, 'a positive integer')
nonnegative_int = _number(int, lambda v: v >= 0, 'a non-negative integer')
positive_float = _number(float, lambda v: np.isfinite(v) and v > 0, 'a positive number')
nonnegative_float = _number(float, lambda v: np.isfinite(v) and v >= 0, 'a non-negative number')


def float_list(text):
    """Parse '2,-3.4' into [2.0, -3.4]."""
    try:
        values = [float(part) for part in text.split(',')]
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a comma-separated list of numbers' % text) from None
    if not all(np.isfinite(values)):
        raise argparse.ArgumentTypeError('%r contains a value that is not finite' % text)
    return values


def context_list(text):
    """Parse 'cpu', 'cpu(0)', 'gpu(1)' or a comma-separated list of them into mx.Context objects."""
    contexts = []
    for part in re.findall(r'[^,()]+(?:\([^)]*\))?', text.replace(' ', '')):
        match = re.fullmatch(r'(cpu|gpu)(?:\((\d+)\))?', part)
        if not match:
            raise argparse.ArgumentTypeError(
                '%r is not a device: use cpu, cpu(0), gpu(0) or a comma-separated list' % text)
        contexts.append(mx.Context(match.group(1), int(match.group(2) or 0)))
    if not contexts:
        raise argparse.ArgumentTypeError('%r names no device' % text)
    return contexts


def _add_common(parser, impl=True):
    if impl:
        parser.add_argument('--impl', choices=('scratch', 'gluon', 'both'), default='both',
                            help='which implementation to train (default both)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seeds mx.random, numpy and random, and so the batch order (default 0)')
    parser.add_argument('--ctx', type=context_list, default=[mx.cpu()],
                        help='device, e.g. cpu or gpu(0) (default cpu)')
    parser.add_argument('--out', help='run folder for metrics.json and figures '
                                      '(default runs/<chapter>-<timestamp>)')


def _impls(args):
    return IMPLS if args.impl == 'both' else (args.impl,)


def _single_ctx(args):
    if len(args.ctx) > 1:
        raise D2LError('this chapter trains on one device; pass a single --ctx')
    return args.ctx[0]


def _config(args):
    config = {}
    for key, value in sorted(vars(args).items()):
        if callable(value) or key.startswith('_'):
            continue
        if key == 'ctx':
            value = [str(c) for c in value]
        config[key] = value
    return config


class RunFolder:
    """The run folder of one command: metrics.json (rewritten after every epoch) and figures."""

    def __init__(self, chapter, args):
        if args.out is None:
            args.out = os.path.join('runs', '%s-%s' % (chapter, time.strftime('%Y%m%d-%H%M%S')))
        self.out = prepare_out_dir(args.out)
        self.metrics = {'chapter': chapter, 'config': _config(args), 'runs': {}}

    def path(self, name):
        return os.path.join(self.out, name)

    def start(self, impl, every=1, num_epochs=None):
        """Return the on_epoch callback of train() for impl: record every epoch and print it.

        With every > 1 only epoch 1, the multiples of every and the last
        (num_epochs) are printed, and metrics.json is rewritten only then:
        rewriting the whole growing file after each of 1000 short epochs
        would take longer than the training.  Every epoch is recorded.
        """
        run = self.metrics['runs'].setdefault(impl, {'epochs': []})

        def on_epoch(record):
            run['epochs'].append(record)
            epoch = record['epoch']
            if every == 1 or epoch == 1 or epoch % every == 0 or epoch == num_epochs:
                print('%-7s %s' % (impl, format_epoch(record)), flush=True)
                self.write()
        return on_epoch

    def set(self, impl, key, value):
        self.metrics['runs'].setdefault(impl, {'epochs': []})[key] = value

    def write(self):
        write_json(self.path('metrics.json'), self.metrics)


def format_epoch(record):
    """Return the book's epoch line: 'epoch 1, loss 0.7878, train acc 0.748, test acc 0.802'."""
    line = 'epoch %d, loss %.6f' % (record['epoch'], record['loss'])
    if 'train_acc' in record:
        line = 'epoch %d, loss %.4f, train acc %.3f' % (record['epoch'], record['loss'],
                                                         record['train_acc'])
    if 'test_acc' in record:
        line += ', test acc %.3f' % record['test_acc']
    return line + ' (%.2f s)' % record['seconds']


def format_table(header, rows):
    """Return rows of (name, numbers) as aligned text under header."""
    lines = ['%-12s' % '' + ''.join('%12s' % h for h in header)]
    for name, values in rows:
        lines.append('%-12s' % name + ''.join('%12.6f' % v for v in values))
    return '\n'.join(lines)


# ---- linreg

def _add_linreg(sub):
    p = sub.add_parser('linreg', help='linear regression on synthetic data',
                       description='Linear regression: scratch, Gluon and the closed form.')
    _add_common(p)
    p.add_argument('--num-epochs', type=positive_int, default=3)
    p.add_argument('--lr', type=positive_float, default=0.03)
    p.add_argument('--batch-size', type=positive_int, default=10)
    p.add_argument('--num-examples', type=positive_int, default=1000)
    p.add_argument('--num-inputs', type=positive_int, default=2,
                   help='number of features; --true-w must have this many values')
    p.add_argument('--noise', type=nonnegative_float, default=0.01)
    p.add_argument('--true-w', type=float_list, default=[2.0, -3.4])
    p.add_argument('--true-b', type=_number(float, np.isfinite, 'a finite number'), default=4.2)
    p.add_argument('--full-batch', action='store_true',
                   help='full-batch gradient descent: one step per epoch on all examples')
    p.set_defaults(run=run_linreg)
    return p


def run_linreg(args):
    from mxnet.gluon import data as gdata

    from . import plot
    from .data import ArrayLoader, synthetic_data
    from .linear_regression import (closed_form, gluon_net, gluon_params, init_params,
                                    train_gluon, train_scratch)
    if len(args.true_w) != args.num_inputs:
        raise D2LError('--true-w has %d values but --num-inputs is %d; give one weight per input'
                       % (len(args.true_w), args.num_inputs))
    ctx = _single_ctx(args)
    run = RunFolder('linreg', args)
    seed(args.seed)
    features, labels = synthetic_data(args.true_w, args.true_b, args.num_examples, args.noise, ctx)
    batch_size = args.num_examples if args.full_batch else args.batch_size
    fitted = {}
    for impl in _impls(args):
        seed(args.seed + 1)  # each implementation starts from the same random state
        if impl == 'scratch':
            params = init_params(args.num_inputs, ctx)
            train_scratch(params, ArrayLoader(features, labels, batch_size), features, labels,
                          args.lr, args.num_epochs, on_epoch=run.start(impl))
            w, b = (p.asnumpy() for p in params)
        else:
            net = gluon_net(args.num_inputs, ctx)
            loader = gdata.DataLoader(gdata.ArrayDataset(features, labels), batch_size, shuffle=True)
            train_gluon(net, loader, features, labels, args.lr, args.num_epochs,
                        on_epoch=run.start(impl))
            w, b = gluon_params(net)
        fitted[impl] = np.concatenate([w.ravel(), b.ravel()]).astype(np.float64)
        run.set(impl, 'params', {'w': w.ravel().tolist(), 'b': b.ravel().tolist()})
    w, b = closed_form(features, labels)
    run.metrics['reference'] = {'method': 'least squares (lstsq)',
                                'w': w.ravel().tolist(), 'b': b.ravel().tolist()}
    rows = [('true', args.true_w + [args.true_b])] + [(impl, fitted[impl]) for impl in fitted]
    rows.append(('closed form', np.concatenate([w.ravel(), b])))
    header = ['w[%d]' % i for i in range(args.num_inputs)] + ['b']
    print(format_table(header, rows))
    if len(fitted) == 2:
        diff = float(np.abs(fitted['scratch'] - fitted['gluon']).max())
        run.metrics['max_abs_diff'] = diff
        print('largest |scratch - gluon| difference: %.3g' % diff)
    X, y = features.asnumpy(), labels.asnumpy()
    plot.scatter(X[:, -1], y, run.path('data.png'), 'feature %d' % (args.num_inputs - 1), 'label',
                 'synthetic data')
    plot.curves([('loss on the training set', {
        impl: ([e['epoch'] for e in r['epochs']], [e['loss'] for e in r['epochs']])
        for impl, r in run.metrics['runs'].items()})], run.path('loss.png'))
    run.write()
    print('results in %s' % run.out)
    return 0


# ---- classification chapters (softmax, mlp)

def _add_classifier(sub, name, help, description, lr, run, num_epochs=5, batch_size=256):
    p = sub.add_parser(name, help=help, description=description)
    _add_common(p)
    p.add_argument('--num-epochs', type=positive_int, default=num_epochs)
    p.add_argument('--lr', type=positive_float, default=lr)
    p.add_argument('--batch-size', type=positive_int, default=batch_size)
    p.add_argument('--data-dir', help='folder with the four Fashion-MNIST idx files (.gz or not); '
                                      'default: search $D2L_GLUON_DATA, the gluon cache, '
                                      '/usr/share/datasets/fashion-mnist, then download')
    p.add_argument('--loader', choices=('fast', 'book'), default='fast',
                   help='fast: the data set in memory as one NDArray (default); '
                        'book: Dataset + ToTensor + gluon DataLoader, as the book teaches')
    p.add_argument('--num-workers', type=nonnegative_int, default=0,
                   help='worker processes of the book loader (default 0)')
    p.set_defaults(run=run)
    return p


def run_classifier(args, chapter, model, plot_model=None):
    """Train the scratch and/or Gluon version of a Fashion-MNIST classifier and report.

    model has init_params(ctx), scratch_net(params) and gluon_net(ctx);
    plot_model(run, trained) may add the chapter's own figures.
    """
    from mxnet import gluon

    from . import plot
    from .data import get_fashion_mnist_labels, load_fashion_mnist, read_fashion_mnist
    from .softmax_regression import cross_entropy, softmax
    from .train import sgd, train_classifier
    ctx = _single_ctx(args)
    # load the data first: a missing data set must not leave an empty run folder behind
    train_iter, test_iter = load_fashion_mnist(args.batch_size, args.data_dir, args.loader,
                                               args.num_workers, ctx)
    run = RunFolder(chapter, args)
    trained = {}
    for impl in _impls(args):
        seed(args.seed + 1)  # both versions see the same batch order
        if impl == 'scratch':
            params = model.init_params(ctx=ctx)
            net = model.scratch_net(params)
            loss, updater = cross_entropy, lambda n, params=params: sgd(params, args.lr, n)
        else:
            net = model.gluon_net(ctx=ctx)
            net.hybridize(static_alloc=True, static_shape=True)
            loss = gluon.loss.SoftmaxCrossEntropyLoss()
            updater = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': args.lr}).step
        train_classifier(net, train_iter, test_iter, loss, updater, args.num_epochs,
                         on_epoch=run.start(impl))
        trained[impl] = (net, params if impl == 'scratch' else net)
    runs = run.metrics['runs']
    print(format_table(['loss', 'train acc', 'test acc', 'seconds'], [
        (impl, [r['epochs'][-1]['loss'], r['epochs'][-1]['train_acc'], r['epochs'][-1]['test_acc'],
                sum(e['seconds'] for e in r['epochs'])]) for impl, r in runs.items()]))
    if len(trained) == 2:
        diff = abs(runs['scratch']['epochs'][-1]['test_acc'] - runs['gluon']['epochs'][-1]['test_acc'])
        run.metrics['max_abs_diff'] = diff
        print('|scratch - gluon| test accuracy difference: %.4f' % diff)
    epochs = {impl: [e['epoch'] for e in r['epochs']] for impl, r in runs.items()}
    plot.curves([
        ('loss', {impl: (epochs[impl], [e['loss'] for e in r['epochs']]) for impl, r in runs.items()}),
        ('accuracy', {'%s %s' % (impl, key.replace('_acc', '')): (epochs[impl], [e[key] for e in r['epochs']])
                      for impl, r in runs.items() for key in ('train_acc', 'test_acc')})],
        run.path('curves.png'))
    test_images, test_labels = read_fashion_mnist(args.data_dir)[2:]
    X = nd.array(test_images[:20, None].astype(np.float32) / 255, ctx=ctx)
    titles = get_fashion_mnist_labels(test_labels[:20])
    for impl, (net, _) in trained.items():
        predicted = get_fashion_mnist_labels(softmax(net(X)).argmax(axis=1).asnumpy())
        titles = ['%s\n%s: %s' % (t, impl[0].upper(), p) for t, p in zip(titles, predicted)]
    plot.image_grid(test_images[:20], titles, run.path('predictions.png'))
    if plot_model is not None:
        plot_model(run, trained)
    run.write()
    print('results in %s' % run.out)
    return 0


def _add_softmax(sub):
    _add_classifier(sub, 'softmax', 'softmax regression on Fashion-MNIST',
                    'Softmax regression on Fashion-MNIST: scratch and Gluon.', lr=0.1,
                    run=run_softmax)


def run_softmax(args):
    from . import plot, softmax_regression
    from .data import TEXT_LABELS

    def plot_weights(run, trained):
        images, titles = [], []
        for impl, (_, params) in trained.items():
            W = params[0].asnumpy() if impl == 'scratch' else params[0].weight.data().asnumpy().T
            images += list(W.T.reshape(-1, 28, 28))
            titles += ['%s\n%s' % (impl, label) for label in TEXT_LABELS]
        plot.image_grid(images, titles, run.path('weights.png'), cmap='RdBu_r', symmetric=True)

    return run_classifier(args, 'softmax', softmax_regression, plot_weights)


def _add_mlp(sub):
    p = _add_classifier(sub, 'mlp', 'the multilayer perceptron on Fashion-MNIST',
                        'Multilayer perceptron on Fashion-MNIST: scratch and Gluon.', lr=0.5,
                        run=run_mlp)
    p.add_argument('--num-hiddens', type=positive_int, default=256)
    p.add_argument('--activation', choices=('relu', 'sigmoid', 'tanh'), default='relu')


def run_mlp(args):
    import functools
    import types

    from . import mlp, plot
    model = types.SimpleNamespace(
        init_params=functools.partial(mlp.init_params, num_hiddens=args.num_hiddens),
        scratch_net=functools.partial(mlp.scratch_net, activation=args.activation),
        gluon_net=functools.partial(mlp.gluon_net, num_hiddens=args.num_hiddens,
                                    activation=args.activation))

    def plot_activations(run, trained):
        x = np.linspace(-8, 8, 321)
        plot.activations({name: _value_and_gradient(f, x) for name, f in mlp.ACTIVATIONS.items()},
                         run.path('activations.png'))

    return run_classifier(args, 'mlp', model, plot_activations)


def _value_and_gradient(f, x):
    """Return (x, f(x), f'(x)) with the derivative from autograd."""
    from mxnet import autograd
    X = nd.array(x, dtype='float64')
    X.attach_grad()
    with autograd.record():
        y = f(X)
    y.backward()
    return x, y.asnumpy(), X.grad.asnumpy()


# ---- data

def _add_data(sub):
    p = sub.add_parser('data', help='find or download Fashion-MNIST and check it',
                       description='Find the Fashion-MNIST idx files (downloading them into the '
                                   'gluon cache if needed), read and check all four.')
    p.add_argument('--data-dir', help='folder with the four idx files')
    p.add_argument('--no-download', action='store_true', help='only search, never download')
    p.set_defaults(run=run_data)


def run_data(args):
    from .data import find_fashion_mnist, read_fashion_mnist
    files = find_fashion_mnist(args.data_dir, download=not args.no_download)
    train_images, _, test_images, _ = read_fashion_mnist(args.data_dir, download=False)
    print('Fashion-MNIST: %d training and %d test images in %s'
          % (len(train_images), len(test_images), os.path.dirname(next(iter(files.values())))))
    return 0


# ---- logreg

# per --data defaults; the hours set follows the lecture (summed loss, lr 0.01, 1000 epochs, the
# whole set as one batch); the blobs defaults bring SGD within about 0.02 of Newton's parameters
LOGREG_DEFAULTS = {
    'hours': {'num_epochs': 1000, 'lr': 0.01, 'batch_size': 3, 'loss': 'sum', 'print_every': 100},
    'blobs': {'num_epochs': 30, 'lr': 0.5, 'batch_size': 50, 'loss': 'mean', 'print_every': 1},
}
BLOBS_ONLY = ('num_examples', 'num_test', 'mean0', 'mean1', 'std')
PASS_HOURS = 4.0  # the lecture's question: the probability of passing after 4 hours


def _add_logreg(sub):
    p = sub.add_parser('logreg', help='logistic regression on the hours-studied set or two Gaussian blobs',
                       description="Logistic regression: scratch, Gluon and Newton's method. "
                                   'Defaults depend on --data: hours follows the lecture '
                                   '(summed loss, lr 0.01, 1000 epochs, full batch); blobs uses '
                                   'the mean loss, lr 0.5, batch 50, 30 epochs.')
    _add_common(p)
    p.add_argument('--data', choices=('hours', 'blobs'), default='hours',
                   help="hours: the lecture's x = 1, 2, 3 hours, passed = 0, 0, 1 (default); "
                        'blobs: two overlapping Gaussian classes in 2-D with a test set')
    p.add_argument('--num-epochs', type=positive_int, help='default 1000 (hours), 30 (blobs)')
    p.add_argument('--lr', type=positive_float, help='default 0.01 (hours), 0.5 (blobs)')
    p.add_argument('--batch-size', type=positive_int, help='default 3 (hours: all of it), 50 (blobs)')
    p.add_argument('--loss', choices=('sum', 'mean'),
                   help="step on the batch's summed loss (the lecture's BCELoss(size_average=False); "
                        'default for hours) or its mean (default for blobs)')
    p.add_argument('--print-every', type=positive_int,
                   help='print every N-th epoch, the first and the last (default 100 hours, 1 blobs)')
    p.add_argument('--num-examples', type=positive_int, help='blobs: training examples (default 1000)')
    p.add_argument('--num-test', type=positive_int, help='blobs: test examples (default 1000)')
    p.add_argument('--mean0', type=float_list, help='blobs: mean of class 0 (default -1,-1)')
    p.add_argument('--mean1', type=float_list, help='blobs: mean of class 1 (default 1,1)')
    p.add_argument('--std', type=positive_float, help='blobs: standard deviation of each class (default 1)')
    p.set_defaults(run=run_logreg)
    return p


def _logreg_settings(args):
    """Fill the per --data defaults into args; raise D2LError for options that do not apply."""
    if args.data == 'hours':
        given = ['--' + name.replace('_', '-') for name in BLOBS_ONLY if getattr(args, name) is not None]
        if given:
            raise D2LError('%s %s only for --data blobs; drop %s or add --data blobs'
                           % (', '.join(given), 'is' if len(given) == 1 else 'are',
                              'it' if len(given) == 1 else 'them'))
    else:
        for name, value in (('num_examples', 1000), ('num_test', 1000), ('mean0', [-1.0, -1.0]),
                            ('mean1', [1.0, 1.0]), ('std', 1.0)):
            if getattr(args, name) is None:
                setattr(args, name, value)
        for name in ('mean0', 'mean1'):
            if len(getattr(args, name)) != 2:
                raise D2LError('--%s has %d values; the blobs are 2-D: give two, e.g. 1,1'
                               % (name, len(getattr(args, name))))
    for name, value in LOGREG_DEFAULTS[args.data].items():
        if getattr(args, name) is None:
            setattr(args, name, value)


def run_logreg(args):
    from . import plot
    from .data import ArrayLoader
    from .logistic_regression import (gaussian_blobs, gluon_net, gluon_params, hours_data,
                                      init_params, logreg, newton, sigmoid, train_gluon,
                                      train_scratch)
    _logreg_settings(args)
    ctx = _single_ctx(args)
    run = RunFolder('logreg', args)
    seed(args.seed)
    if args.data == 'hours':
        features, labels = hours_data(ctx)
        test_set = None
    else:
        (features, labels), test_set = gaussian_blobs(args.num_examples, args.num_test, args.mean0,
                                                      args.mean1, args.std, ctx)
    num_inputs = features.shape[1]
    fitted, predict = {}, {}
    for impl in _impls(args):
        seed(args.seed + 1)  # each implementation starts from the same random state
        loader = ArrayLoader(features, labels, args.batch_size)
        on_epoch = run.start(impl, every=args.print_every, num_epochs=args.num_epochs)
        if impl == 'scratch':
            params = init_params(num_inputs, ctx)
            train_scratch(params, loader, features, labels, args.lr, args.num_epochs, test_set,
                          args.loss == 'sum', on_epoch)
            w, b = (p.asnumpy() for p in params)
            predict[impl] = lambda X, w=params[0], b=params[1]: sigmoid(logreg(X, w, b))
        else:
            net = gluon_net(num_inputs, ctx)
            train_gluon(net, loader, features, labels, args.lr, args.num_epochs, test_set,
                        args.loss == 'sum', on_epoch)
            w, b = gluon_params(net)
            predict[impl] = lambda X, net=net: nd.sigmoid(net(X))
        fitted[impl] = np.concatenate([w.ravel(), b.ravel()]).astype(np.float64)
        run.set(impl, 'params', {'w': w.ravel().tolist(), 'b': b.ravel().tolist()})
    w, b, iterations, converged = newton(features, labels)
    reference = np.concatenate([w.ravel(), b])
    run.metrics['reference'] = {'method': "Newton's method (IRLS), float64", 'w': w.ravel().tolist(),
                                'b': b.tolist(), 'iterations': iterations, 'converged': converged}
    header = ['w[%d]' % i for i in range(num_inputs)] + ['b']
    rows = [(impl, fitted[impl]) for impl in fitted]
    if converged:
        rows.append(('newton', reference))
        for key, data in (('train_acc', (features, labels)), ('test_acc', test_set)):
            if data is not None:
                z = data[0].asnumpy().astype(np.float64) @ w + b
                correct = (z.ravel() > 0) == (data[1].asnumpy().ravel() > 0.5)
                run.metrics['reference'][key] = float(correct.mean())
    print(format_table(header, rows))
    if not converged:
        print("Newton's method did not converge in %d iterations: the data look separable, so the "
              'likelihood has no finite maximum and the weights grow without bound' % iterations)
    else:
        print("Newton's method converged in %d iterations; %s" % (iterations, ', '.join(
            '%s %.3f' % (key.replace('_', ' '), run.metrics['reference'][key])
            for key in ('train_acc', 'test_acc') if key in run.metrics['reference'])))
        for impl in fitted:
            diff = float(np.abs(fitted[impl] - reference).max())
            run.set(impl, 'max_abs_diff_newton', diff)
            print('largest |%s - newton| difference: %.3g' % (impl, diff))
    if len(fitted) == 2:
        diff = float(np.abs(fitted['scratch'] - fitted['gluon']).max())
        run.metrics['max_abs_diff'] = diff
        print('largest |scratch - gluon| difference: %.3g' % diff)
    X, y = features.asnumpy(), labels.asnumpy().ravel()
    runs = run.metrics['runs']
    epochs = {impl: [e['epoch'] for e in r['epochs']] for impl, r in runs.items()}
    accuracy = {'%s train' % impl: (epochs[impl], [e['train_acc'] for e in r['epochs']])
                for impl, r in runs.items()}
    if args.data == 'hours':
        hours = np.linspace(0, 10, 201, dtype=np.float32)
        grid = nd.array(hours.reshape(-1, 1), ctx=ctx)
        plot.probability_curves(hours, {impl: p(grid).asnumpy().ravel() for impl, p in predict.items()},
                                (X.ravel(), y), run.path('probability.png'))
        for impl, p in predict.items():
            probability = float(p(nd.array([[PASS_HOURS]], ctx=ctx)).asscalar())
            boundary = float(-fitted[impl][1] / fitted[impl][0])
            run.set(impl, 'p_pass_%g_hours' % PASS_HOURS, probability)
            run.set(impl, 'boundary', boundary)
            print('%-7s P(pass | %g hours) = %.4f, P = 0.5 at %.4f hours'
                  % (impl, PASS_HOURS, probability, boundary))
    else:
        boundaries = {impl: (fitted[impl][:-1], fitted[impl][-1]) for impl in fitted}
        if converged:
            boundaries['newton'] = (reference[:-1], reference[-1])
        plot.decision_boundaries(X, y, boundaries, run.path('boundaries.png'))
        accuracy.update({'%s test' % impl: (epochs[impl], [e['test_acc'] for e in r['epochs']])
                         for impl, r in runs.items()})
    plot.curves([('loss on the training set', {impl: (epochs[impl], [e['loss'] for e in r['epochs']])
                                               for impl, r in runs.items()}),
                 ('accuracy', accuracy)], run.path('loss.png'))
    run.write()
    print('results in %s' % run.out)
    return 0


# ---- all

CHAPTERS = ('linreg', 'softmax', 'mlp', 'logreg')


def _add_all(sub):
    p = sub.add_parser('all', help='every chapter with the book defaults, both implementations',
                       description='Run every chapter into one run folder (one sub-folder each).')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', help='run folder (default runs/<timestamp>)')
    p.set_defaults(run=run_all)


def run_all(args):
    if args.out is None:
        args.out = os.path.join('runs', time.strftime('%Y%m%d-%H%M%S'))
    prepare_out_dir(args.out)
    parser = build_parser()
    for chapter in CHAPTERS:
        print('== %s' % chapter, flush=True)
        chapter_args = parser.parse_args(
            [chapter, '--seed', str(args.seed), '--out', os.path.join(args.out, chapter)])
        chapter_args.run(chapter_args)
    print('all results in %s' % args.out)
    return 0


def build_parser():
    parser = _Parser(prog='d2l-gluon', description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', metavar='COMMAND', parser_class=_Parser)
    sub.required = True
    _add_linreg(sub)
    _add_softmax(sub)
    _add_mlp(sub)
    _add_data(sub)
    _add_logreg(sub)
    _add_all(sub)
    return parser


def main(argv=None):
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except D2LError as e:
        print('d2l-gluon %s: error: %s' % (args.command, e), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        where = getattr(args, 'out', None)
        print('\ninterrupted%s' % ('; partial results are in %s' % where if where else ''),
              file=sys.stderr)
        return 130
