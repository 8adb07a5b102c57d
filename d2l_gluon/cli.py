"""The command line: ``d2l-gluon CHAPTER [options]``, one sub-command per chapter.

Each command trains the scratch and/or Gluon version with the book's
defaults, prints a line per epoch and a summary, and writes metrics.json and
PNG figures into its run folder.  Errors a user can cause print one line on
stderr: exit 2 for usage and input errors, 3 when training diverges, 130 on
Ctrl-C.
"""
import argparse
import os
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
    for part in text.replace(' ', '').split('),'):
        part = part if part.endswith(')') or '(' not in part else part + ')'
        name, _, rest = part.partition('(')
        try:
            index = int(rest.rstrip(')') or 0)
        except ValueError:
            index = -1
        if name not in ('cpu', 'gpu') or index < 0:
            raise argparse.ArgumentTypeError(
                '%r is not a device: use cpu, cpu(0), gpu(0) or a comma-separated list' % text)
        contexts.append(mx.Context(name, index))
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

    def start(self, impl):
        """Return the on_epoch callback of train() for impl: print and record the epoch."""
        run = self.metrics['runs'].setdefault(impl, {'epochs': []})

        def on_epoch(record):
            run['epochs'].append(record)
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
    run = RunFolder(chapter, args)
    train_iter, test_iter = load_fashion_mnist(args.batch_size, args.data_dir, args.loader,
                                               args.num_workers, ctx)
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


# ---- all

CHAPTERS = ('linreg', 'softmax')


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
