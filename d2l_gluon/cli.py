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

from . import distributed, seed
from .errors import D2LError, DivergenceError
from .distributed import KVSTORES
from .files import default_out_dir, prepare_out_dir, write_json

IMPLS = ('scratch', 'gluon')
STEP_DIVISORS = ('batch-size', 'actual')


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
# mx.random.seed takes 0 .. 2**32 - 1, and each implementation is seeded with --seed + 1
seed_int = _number(int, lambda v: 0 <= v <= 2 ** 32 - 2, 'a seed from 0 to 4294967294')
finite_float = _number(float, np.isfinite, 'a finite number')
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
        if contexts[-1].device_type == 'gpu' and contexts[-1].device_id >= mx.context.num_gpus():
            raise argparse.ArgumentTypeError(
                '%s: this mxnet sees %d GPUs; use cpu, or install a CUDA build of mxnet 1.9.1 '
                '(e.g. mxnet-cu112)' % (contexts[-1], mx.context.num_gpus()))
    if not contexts:
        raise argparse.ArgumentTypeError('%r names no device' % text)
    return contexts


def _add_common(parser):
    parser.add_argument('--impl', choices=('scratch', 'gluon', 'both'), default='both',
                        help='which implementation to train (default both)')
    parser.add_argument('--seed', type=seed_int, default=0,
                        help='seeds mx.random, numpy and random, and so the batch order (default 0)')
    parser.add_argument('--ctx', type=context_list, default=[mx.cpu()],
                        help='device, e.g. cpu or gpu(0) (default cpu)')
    parser.add_argument('--out', help='run folder for metrics.json and figures '
                                      '(default runs/<chapter>-<timestamp>)')
    parser.add_argument('--resume', metavar='DIR',
                        help='continue the interrupted run in DIR with its own settings '
                             '(other options are ignored)')
    parser.add_argument('--step-divisor', choices=STEP_DIVISORS, default='batch-size',
                        help='batch-size: every sgd step divides the summed gradient by '
                             '--batch-size, as the book does, so a short last batch takes a '
                             'proportionally smaller step (default); actual: divide by the '
                             "number of examples in the batch, a full step for every batch")


def _impls(args):
    return IMPLS if args.impl == 'both' else (args.impl,)


def _step_batch(args, batch_size):
    """Return train()'s batch_size: the configured one (the book's rule), or None for 'actual'."""
    return batch_size if getattr(args, 'step_divisor', 'batch-size') == 'batch-size' else None


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


def _read_metrics(folder):
    import json
    try:
        with open(os.path.join(folder, 'metrics.json')) as f:
            metrics = json.load(f)
        metrics['chapter'], metrics['config'], metrics['runs']
    except (OSError, ValueError, KeyError, TypeError):
        raise D2LError('%s holds no readable metrics.json of a d2l-gluon run; pass the run folder '
                       'of an earlier command' % folder) from None
    return metrics


class _Progress:
    """Elapsed time and an estimate of the time left while ``d2l-gluon all`` runs."""

    def __init__(self):
        self.plan = None

    def begin(self, plan):
        """plan: {chapter: (expected seconds per epoch, number of epochs)}."""
        self.plan, self.start, self.done = plan, time.perf_counter(), 0.0

    def tick(self, chapter):
        if self.plan and chapter in self.plan:
            self.done += self.plan[chapter][0]

    def status(self):
        if not self.plan:
            return ''
        elapsed = time.perf_counter() - self.start
        total = sum(per_epoch * epochs for per_epoch, epochs in self.plan.values())
        # the plan's own guess until an epoch has shown how fast this machine is
        left = (total - self.done) * elapsed / self.done if self.done else total
        return '  [%.0f s elapsed, about %.0f s left]' % (elapsed, max(left, 0.0))


PROGRESS = _Progress()


class RunFolder:
    """The run folder of one command: metrics.json (rewritten after every epoch) and figures."""

    current = None  # the newest run folder: main() writes its metrics when training stops early

    def __init__(self, chapter, args):
        if args.out is None:
            args.out = default_out_dir(chapter)
        self.out = prepare_out_dir(args.out)
        self.chapter = chapter
        self.metrics = {'chapter': chapter, 'config': _config(args), 'runs': {}}
        if getattr(args, 'resume', None):
            self.metrics['runs'] = _read_metrics(self.out)['runs']
        self.impl = None
        self.write()  # metrics.json exists from the start, so partial results always have one
        RunFolder.current = self

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
        self.impl = impl

        def on_epoch(record):
            run['epochs'].append(record)
            PROGRESS.tick(self.chapter)
            epoch = record['epoch']
            if every == 1 or epoch == 1 or epoch % every == 0 or epoch == num_epochs:
                print('%-7s %s%s' % (impl, format_epoch(record), PROGRESS.status()), flush=True)
                self.write()
        return on_epoch

    def finished(self, impl):
        """Return whether impl's training finished in an earlier run of this folder."""
        return self.metrics['runs'].get(impl, {}).get('finished', False)

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
    p.add_argument('--true-b', type=finite_float, default=4.2)
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
                          args.lr, args.num_epochs, on_epoch=run.start(impl),
                          batch_size=_step_batch(args, batch_size))
            w, b = (p.asnumpy() for p in params)
        else:
            net = gluon_net(args.num_inputs, ctx)
            loader = gdata.DataLoader(gdata.ArrayDataset(features, labels), batch_size, shuffle=True)
            train_gluon(net, loader, features, labels, args.lr, args.num_epochs,
                        on_epoch=run.start(impl), batch_size=_step_batch(args, batch_size))
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
    run.metrics['finished'] = True
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
    p.add_argument('--kvstore', choices=KVSTORES,
                   help='how the Gluon version combines gradients: device or local across a --ctx '
                        'list such as cpu(0),cpu(1) (required there), dist_sync or dist_async '
                        'across the processes of d2l-gluon launch (default: none, one device)')
    p.set_defaults(run=run)
    return p


def _model_io(impl, params, ctx):
    """Return (save(path), load(path)) for an implementation's parameters."""
    from .params import load_gluon, load_scratch, save_gluon, save_scratch
    if impl == 'scratch':
        return (lambda path: save_scratch(path, params)), (lambda path: load_scratch(path, params))
    return (lambda path: save_gluon(path, params)), (lambda path: load_gluon(path, params, ctx))


def run_classifier(args, chapter, model, plot_model=None):
    """Train the scratch and/or Gluon version of a Fashion-MNIST classifier and report.

    model has init_params(ctx), scratch_net(params) and gluon_net(ctx);
    plot_model(run, trained) may add the chapter's own figures.  After every
    epoch a checkpoint is saved; with args.resume a run continues from it.
    The trained parameters are saved for ``d2l-gluon predict``.
    """
    from . import plot
    from .classifier import MODEL_FILES
    from .data import get_fashion_mnist_labels, load_fashion_mnist, read_fashion_mnist, to_tensor
    from .params import export_gluon, load_checkpoint, remove_checkpoint, save_checkpoint
    from .softmax_regression import softmax
    from .train import train_classifier
    devices = distributed.setup(args)  # --ctx list, --kvstore; a dist worker joins its servers
    ctx = devices.ctx
    # load the data first: a missing data set must not leave an empty run folder behind
    train_iter, test_iter = load_fashion_mnist(args.batch_size, args.data_dir, args.loader,
                                               args.num_workers, ctx)
    train_iter = devices.shard(train_iter)
    if devices.kv is not None:
        print(devices.describe(), flush=True)
    run = RunFolder(chapter, args)
    write_json(run.path('model.json'), {
        'chapter': chapter, 'files': MODEL_FILES,
        **{key: getattr(args, key) for key in ('num_hiddens', 'activation') if hasattr(args, key)}})
    trained = {}
    for impl in _impls(args):
        seed(args.seed + 1)  # both versions see the same batch order
        net, params, loss, updater = devices.build(impl, model, args.lr)
        save, load = _model_io(impl, params, devices.contexts)
        trained[impl] = (net, params)
        if run.finished(impl):
            load(run.path(MODEL_FILES[impl]))
            remove_checkpoint(run.out, impl)  # in case an interrupt came before it was removed
            continue
        history = []
        if getattr(args, 'resume', None):
            done = load_checkpoint(run.out, impl, load)
            history = run.metrics['runs'].get(impl, {'epochs': []})['epochs'][:done]
            run.set(impl, 'epochs', history)
            if done:
                print('%-7s resumed after epoch %d' % (impl, done))
        record = run.start(impl)

        def on_epoch(epoch_record, impl=impl, save=save):
            # record first: a checkpoint never gets ahead of metrics.json, so a resume after
            # an interrupt between the two redoes that epoch instead of skipping its record
            record(epoch_record)
            save_checkpoint(run.out, impl, epoch_record['epoch'], save)
        # a worker's batches are its share of the configured batch of all workers together
        train_classifier(net, train_iter, test_iter, loss, updater, args.num_epochs,
                         on_epoch=on_epoch, history=history, ctx=devices.split,
                         batch_size=_step_batch(args, args.batch_size // devices.num_workers))
        save(run.path(MODEL_FILES[impl]))
        if impl == 'gluon':
            export_gluon(run.path('gluon'), net)
        run.set(impl, 'finished', True)
        run.write()
        remove_checkpoint(run.out, impl)
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
    X = nd.array(to_tensor(test_images[:20]), ctx=ctx)
    titles = get_fashion_mnist_labels(test_labels[:20])
    for impl, (net, _) in trained.items():
        predicted = get_fashion_mnist_labels(softmax(net(X)).argmax(axis=1).asnumpy())
        titles = ['%s\n%s: %s' % (t, impl[0].upper(), p) for t, p in zip(titles, predicted)]
    plot.image_grid(test_images[:20], titles, run.path('predictions.png'))
    if plot_model is not None:
        plot_model(run, trained)
    run.metrics['finished'] = True
    run.write()
    print('results in %s' % run.out)
    return 0


def _add_softmax(sub):
    _add_classifier(sub, 'softmax', 'softmax regression on Fashion-MNIST',
                    'Softmax regression on Fashion-MNIST: scratch and Gluon.', lr=0.1,
                    run=run_softmax)


def run_softmax(args):
    from . import plot
    from .data import TEXT_LABELS
    from .params import gluon_as_scratch

    def plot_weights(run, trained):
        images, titles = [], []
        for impl, (_, params) in trained.items():
            W = (params if impl == 'scratch' else gluon_as_scratch(params))[0].asnumpy()
            images += list(W.T.reshape(-1, 28, 28))
            titles += ['%s\n%s' % (impl, label) for label in TEXT_LABELS]
        plot.image_grid(images, titles, run.path('weights.png'), cmap='RdBu_r', symmetric=True)

    from .classifier import classifier_model
    return run_classifier(args, 'softmax', classifier_model('softmax'), plot_weights)


def _add_mlp(sub):
    p = _add_classifier(sub, 'mlp', 'the multilayer perceptron on Fashion-MNIST',
                        'Multilayer perceptron on Fashion-MNIST: scratch and Gluon.', lr=0.5,
                        run=run_mlp)
    p.add_argument('--num-hiddens', type=positive_int, default=256)
    p.add_argument('--activation', choices=('relu', 'sigmoid', 'tanh'), default='relu')


def run_mlp(args):
    from . import mlp, plot

    def plot_activations(run, trained):
        x = np.linspace(-8, 8, 321)
        plot.activations({name: _value_and_gradient(f, x) for name, f in mlp.ACTIVATIONS.items()},
                         run.path('activations.png'))

    from .classifier import classifier_model
    model = classifier_model('mlp', args.num_hiddens, args.activation)
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
                          args.loss == 'sum', on_epoch, _step_batch(args, args.batch_size))
            w, b = (p.asnumpy() for p in params)
            predict[impl] = lambda X, w=params[0], b=params[1]: sigmoid(logreg(X, w, b))
        else:
            net = gluon_net(num_inputs, ctx)
            train_gluon(net, loader, features, labels, args.lr, args.num_epochs, test_set,
                        args.loss == 'sum', on_epoch, _step_batch(args, args.batch_size))
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
    run.metrics['finished'] = True
    run.write()
    print('results in %s' % run.out)
    return 0


# ---- predict

def _add_predict(sub):
    p = sub.add_parser('predict', help='classify 28x28 grayscale PNGs with a trained model',
                       description='Print the top 3 classes, with probabilities, of each image.')
    p.add_argument('images', nargs='*', metavar='IMAGE.png')
    p.add_argument('--model', required=True,
                   help='run folder of a softmax or mlp run, or its scratch.params / gluon.params')
    p.add_argument('--from-test', type=positive_int, metavar='N',
                   help='classify the first N test-set images instead of IMAGE files')
    p.add_argument('--data-dir', help='Fashion-MNIST folder for --from-test')
    p.add_argument('--ctx', type=context_list, default=[mx.cpu()])
    p.set_defaults(run=run_predict)


def run_predict(args):
    from .classifier import load_classifier
    from .data import (TEXT_LABELS, get_fashion_mnist_labels, read_fashion_mnist, read_image,
                       to_tensor)
    from .softmax_regression import softmax
    if bool(args.images) == bool(args.from_test):
        raise D2LError('give IMAGE files or --from-test N, not %s' % ('both' if args.images else 'neither'))
    ctx = _single_ctx(args)
    net, description = load_classifier(args.model, ctx)
    if args.from_test:
        images, labels = read_fashion_mnist(args.data_dir)[2:]
        images = to_tensor(images[:args.from_test])
        names = ['test image %d (%s)' % (i, label)
                 for i, label in enumerate(get_fashion_mnist_labels(labels[:args.from_test]))]
    else:
        pictures = [read_image(path) for path in args.images]
        images = np.stack([image for image, _ in pictures])[:, None]
        names = ['%s%s' % (path, ' (%s)' % '; '.join(notes) if notes else '')
                 for path, (_, notes) in zip(args.images, pictures)]
    probabilities = softmax(net(nd.array(images, ctx=ctx))).asnumpy()
    print('%s model (%s) from %s' % (description['chapter'], description['impl'], description['path']))
    for name, p in zip(names, probabilities):
        top = np.argsort(-p)[:3]
        print('%s: %s' % (name, ', '.join('%s %.3f' % (TEXT_LABELS[k], p[k]) for k in top)))
    return 0


# ---- compare

# the largest relative scratch-vs-Gluon difference each chapter's issue allows
COMPARE_TOLERANCE = {'linreg': 1e-5, 'softmax': 1e-4, 'mlp': 1e-4, 'logreg': 1e-5}
COMPARE_DTYPE = {'mlp': 'float64'}
COMPARE_DTYPE_REASON = ('in float32 a hidden unit whose input lies within rounding of 0 can fall on '
                        'different sides of the ReLU kink in the two versions, after which they '
                        'drift apart for a reason that is not a difference of the implementations')


def _add_compare(sub):
    p = sub.add_parser('compare', help='train both versions from identical parameters and batches',
                       description='Train scratch and Gluon from the same initial parameters and '
                                   'batch order, print both per epoch with their differences, and '
                                   'exit 1 when they differ beyond the chapter tolerance.')
    p.add_argument('chapter', choices=sorted(COMPARE_TOLERANCE))
    p.add_argument('--num-epochs', type=positive_int, help="default: the chapter's")
    p.add_argument('--seed', type=seed_int, default=0)
    p.add_argument('--data-dir', help='Fashion-MNIST folder (softmax, mlp)')
    p.add_argument('--tolerance', type=positive_float,
                   help='largest relative difference allowed (default: 1e-5 linreg and logreg, '
                        '1e-4 softmax and mlp)')
    p.add_argument('--perturb', type=finite_float, default=0.0, metavar='EPS',
                   help='add EPS to the first Gluon bias after the copy, to see compare fail')
    p.set_defaults(run=run_compare)


def _relative_difference(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def run_compare(args):
    from mxnet import gluon

    from .data import ArrayLoader
    from .params import copy_to_gluon, gluon_as_scratch
    from .train import sgd, train, train_classifier
    chapter_args = build_parser().parse_args([args.chapter])
    if args.chapter == 'logreg':
        chapter_args.data = 'blobs'
        _logreg_settings(chapter_args)
    num_epochs = args.num_epochs or chapter_args.num_epochs
    tolerance = args.tolerance or COMPARE_TOLERANCE[args.chapter]
    seed(args.seed)
    if args.chapter in ('softmax', 'mlp'):
        from .classifier import build_classifier, classifier_model
        from .data import load_fashion_mnist
        train_iter, test_iter = load_fashion_mnist(chapter_args.batch_size, args.data_dir)
        dtype = COMPARE_DTYPE.get(args.chapter, 'float32')
        if dtype != 'float32':
            print('comparing in %s: %s' % (dtype, COMPARE_DTYPE_REASON))
            train_iter, test_iter = (ArrayLoader(it.features.astype(dtype), it.labels, it.batch_size,
                                                 it.shuffle) for it in (train_iter, test_iter))
        model = classifier_model(args.chapter)
        scratch = build_classifier('scratch', model, chapter_args.lr, None, dtype=dtype)
        twin = build_classifier('gluon', model, chapter_args.lr, None, dtype=dtype)

        def fit(net, loss, updater):
            return train_classifier(net, train_iter, test_iter, loss, updater, num_epochs,
                                    batch_size=chapter_args.batch_size)
        runs = [(scratch[0], scratch[2], scratch[3]), (twin[0], twin[2], twin[3])]
        params, net = scratch[1], twin[0]
    else:
        if args.chapter == 'linreg':
            from .data import synthetic_data
            from .linear_regression import gluon_net, init_params, linreg, squared_loss, whole_set_loss
            features, labels = synthetic_data(chapter_args.true_w, chapter_args.true_b,
                                              chapter_args.num_examples, chapter_args.noise)
            loss, model_fn, evaluate = squared_loss, linreg, whole_set_loss
            gluon_loss = gluon.loss.L2Loss()
        else:
            from .logistic_regression import (binary_cross_entropy, evaluator, gaussian_blobs,
                                              gluon_loss as logreg_loss, gluon_net, init_params,
                                              logreg)
            (features, labels), test_set = gaussian_blobs(
                chapter_args.num_examples, chapter_args.num_test, chapter_args.mean0,
                chapter_args.mean1, chapter_args.std)
            loss, model_fn, gluon_loss = binary_cross_entropy, logreg, logreg_loss()
            evaluate = lambda net, loss, X, y: evaluator(net, loss, X, y, test_set)  # noqa: E731
        params = init_params(features.shape[1])
        net = gluon_net(features.shape[1])
        trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': chapter_args.lr})
        loader = ArrayLoader(features, labels, chapter_args.batch_size)

        def fit(net, loss, updater):
            return train(net, loader, loss, updater, num_epochs,
                         evaluate=evaluate(net, loss, features, labels),
                         batch_size=chapter_args.batch_size)
        scratch_net = lambda X: model_fn(X, *params)  # noqa: E731
        runs = [(scratch_net, loss, lambda n: sgd(params, chapter_args.lr, n)),
                (net, gluon_loss, trainer.step)]
    copy_to_gluon(params, net)
    if args.perturb:
        twin_params = gluon_as_scratch(net)
        twin_params[1][0] += args.perturb  # the first bias: every example feels it
        copy_to_gluon(twin_params, net)
    histories = []
    for run_net, loss, updater in runs:
        seed(args.seed + 1)  # the same batch order for both
        histories.append(fit(run_net, loss, updater))
    keys = [k for k in ('loss', 'train_acc', 'test_acc') if k in histories[0][0]]
    print('%-6s' % 'epoch' + ''.join('  %17s %15s %9s' % ('scratch ' + k, 'gluon ' + k, 'rel diff')
                                     for k in keys))
    worst = 0.0
    for s_rec, g_rec in zip(*histories):
        cells = ''
        for k in keys:
            diff = _relative_difference(s_rec[k], g_rec[k])
            worst = max(worst, diff) if k == 'loss' else worst
            cells += '  %17.6f %15.6f %9.2g' % (s_rec[k], g_rec[k], diff)
        print('%-6d' % s_rec['epoch'] + cells)
    param_diff = max(_relative_difference(p.asnumpy(), g.asnumpy())
                     for p, g in zip(params, gluon_as_scratch(net)))
    print('largest relative difference: loss %.3g, parameters %.3g (tolerance %g)'
          % (worst, param_diff, tolerance))
    if max(worst, param_diff) > tolerance:
        print('d2l-gluon compare: error: scratch and Gluon differ by more than %g' % tolerance,
              file=sys.stderr)
        return 1
    print('scratch and Gluon agree within %g' % tolerance)
    return 0


# ---- launch

def _add_launch(sub):
    p = sub.add_parser(
        'launch', help='train softmax or mlp in several worker processes (parameter server)',
        usage='d2l-gluon launch -n WORKERS [-s SERVERS] [--timeout S] -- CHAPTER ARGS...',
        description='Start a scheduler, SERVERS servers and WORKERS workers on 127.0.0.1; every '
                    'worker runs "d2l-gluon CHAPTER ARGS... --kvstore dist_sync" on its own shard '
                    'of the training set, --batch-size being the batch of all workers together. '
                    'Worker 0 writes the run folder, worker r its sub-folder worker<r>. When any '
                    'process fails, all are stopped.')
    p.add_argument('-n', '--workers', type=positive_int, required=True, help='worker processes')
    p.add_argument('-s', '--servers', type=positive_int, default=1,
                   help='server processes (default 1)')
    p.add_argument('--timeout', type=positive_float, metavar='S',
                   help='stop every process after S seconds (default: no limit)')
    p.add_argument('chapter_args', nargs=argparse.REMAINDER, metavar='-- CHAPTER ARGS',
                   help='softmax or mlp and its options, e.g. -- softmax --impl gluon')
    p.set_defaults(run=run_launch)


def run_launch(args):
    from .launch import launch
    command = args.chapter_args[1:] if args.chapter_args[:1] == ['--'] else list(args.chapter_args)
    if not command or command[0] not in ('softmax', 'mlp'):
        raise D2LError('name the chapter to train after --: softmax or mlp, e.g. '
                       'd2l-gluon launch -n 2 -- softmax --impl gluon')
    # check the chapter's options before any process starts (a usage error exits 2 here)
    chapter = build_parser().parse_args(command)
    if chapter.kvstore is None:
        chapter.kvstore = 'dist_sync'
        command += ['--kvstore', chapter.kvstore]
    elif not chapter.kvstore.startswith('dist'):
        raise D2LError('--kvstore %s does not reach across processes; use dist_sync (the default '
                       'of launch) or dist_async' % chapter.kvstore)
    distributed.check(chapter.ctx, chapter.kvstore, _impls(chapter))
    distributed.check_workers(chapter, chapter.kvstore, args.workers)
    if chapter.out is None:
        # the workers must agree on the run folder, so the launcher names it
        chapter.out = default_out_dir(command[0])
        command += ['--out', chapter.out]
    launch(command, args.workers, args.servers, args.timeout)
    print('results in %s' % ', '.join(
        [chapter.out] + [os.path.join(chapter.out, 'worker%d' % r) for r in range(1, args.workers)]))
    return 0


# ---- all

CHAPTERS = ('linreg', 'softmax', 'mlp', 'logreg')
# rough seconds per epoch of each chapter (both versions, this machine), only for the estimate of
# the time left; the estimate rescales them by the speed actually seen
EXPECTED_EPOCH_SECONDS = {'linreg': 0.1, 'softmax': 0.4, 'mlp': 1.2, 'logreg': 0.003}


def _add_all(sub):
    p = sub.add_parser('all', help='every chapter with the book defaults, both implementations',
                       description='Run every chapter into one run folder (one sub-folder each), '
                                   'then write summary.json and report.html.')
    p.add_argument('--seed', type=seed_int, default=0)
    p.add_argument('--out', help='run folder (default runs/<timestamp>)')
    p.add_argument('--resume', metavar='DIR', help='continue the interrupted run in DIR')
    p.set_defaults(run=run_all)


def run_all(args):
    from . import report
    if args.resume:
        args.out = args.resume
        args.seed = _read_all_config(args.resume)['seed']
    if args.out is None:
        args.out = default_out_dir()
    prepare_out_dir(args.out)
    write_json(os.path.join(args.out, 'all.json'), {'seed': args.seed, 'chapters': list(CHAPTERS)})
    parser = build_parser()
    chapter_args = {}
    for chapter in CHAPTERS:
        folder = os.path.join(args.out, chapter)
        if args.resume and os.path.exists(os.path.join(folder, 'metrics.json')):
            if _read_metrics(folder).get('finished'):
                print('== %s: finished earlier, kept' % chapter)
                continue
            chapter_args[chapter] = _resume_args(chapter, folder)
        else:
            chapter_args[chapter] = parser.parse_args([chapter, '--seed', str(args.seed), '--out', folder])
    plan = {}
    for chapter, a in chapter_args.items():
        if chapter == 'logreg':
            _logreg_settings(a)
        plan[chapter] = (EXPECTED_EPOCH_SECONDS[chapter], a.num_epochs * len(_impls(a)))
    if plan:
        PROGRESS.begin(plan)
    start = time.perf_counter()
    try:
        for chapter, a in chapter_args.items():
            print('== %s%s' % (chapter, PROGRESS.status()), flush=True)
            a.run(a)
    finally:
        PROGRESS.plan = None
    summary = report.summarize(args.out, CHAPTERS)
    summary['seconds'] = time.perf_counter() - start
    write_json(os.path.join(args.out, 'summary.json'), summary)
    report.write_html(os.path.join(args.out, 'report.html'), args.out, summary)
    print()
    print(report.summary_table(summary))
    print('all results in %s (report.html, summary.json)' % args.out)
    return 0


def _read_all_config(folder):
    import json
    try:
        with open(os.path.join(folder, 'all.json')) as f:
            return json.load(f)
    except (OSError, ValueError):
        raise D2LError('%s is not the run folder of d2l-gluon all (no all.json); pass that folder'
                       % folder) from None


def _resume_args(chapter, folder):
    """Return the arguments of the earlier run in folder, set to continue it."""
    metrics = _read_metrics(folder)
    if metrics['chapter'] != chapter:
        raise D2LError('%s holds a %s run, not %s; resume it with d2l-gluon %s --resume %s'
                       % (folder, metrics['chapter'], chapter, metrics['chapter'], folder))
    args = build_parser().parse_args([chapter])
    for key, value in metrics['config'].items():
        if key != 'command':
            setattr(args, key, context_list(','.join(value)) if key == 'ctx' else value)
    args.out = folder
    # classifiers continue from their checkpoints; the other chapters take seconds and run again
    args.resume = folder if chapter in ('softmax', 'mlp') else None
    return args


def build_parser():
    parser = _Parser(prog='d2l-gluon', description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', metavar='COMMAND', parser_class=_Parser)
    sub.required = True
    _add_linreg(sub)
    _add_softmax(sub)
    _add_mlp(sub)
    _add_data(sub)
    _add_logreg(sub)
    _add_compare(sub)
    _add_predict(sub)
    _add_launch(sub)
    _add_all(sub)
    return parser


def main(argv=None):
    """Run the command line; return the exit code."""
    # a parameter-server worker that fails ends at once: see distributed.exit_code
    return distributed.exit_code(_main(argv))


def _main(argv=None):
    args = build_parser().parse_args(argv)
    RunFolder.current = None
    try:
        if args.command in CHAPTERS and args.resume:
            args = _resume_args(args.command, args.resume)
        return args.run(args)
    except DivergenceError as e:
        run, where = RunFolder.current, ''
        if run is not None:
            # every epoch recorded so far, also those not yet written (logreg --print-every)
            run.metrics['diverged'] = {'impl': run.impl, 'epoch': e.epoch, 'batch': e.batch}
            run.write()
            where = '; the metrics of the epochs before are in %s' % run.path('metrics.json')
        print('d2l-gluon %s: error: %s%s' % (args.command, e, where), file=sys.stderr)
        return e.exit_code
    except D2LError as e:
        print('d2l-gluon %s: error: %s' % (args.command, e), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        if RunFolder.current is not None:
            RunFolder.current.write()  # epochs recorded but not yet written (logreg --print-every)
        where = getattr(args, 'out', None)
        print('\ninterrupted%s' % ('; partial results are in %s' % where if where else ''),
              file=sys.stderr)
        return 130
