"""What the walk-throughs in scripts/ share: their arguments, and showing code and figures.

The walk-throughs run as scripts (``python scripts/mlp.py [--quick] [--out
DIR]``) and as notebooks (jupytext), where D2L_QUICK=1 asks for quick mode.
"""
import argparse
import inspect
import os
import sys

from .chapters import Fit
from .data import ArrayLoader
from .errors import D2LError
from .files import default_out_dir, prepare_out_dir
from .monitor import Watch
from .progress import format_epoch, printed

# the figures each walk-through writes into its folder
FIGURES = {
    'linear_regression': ('data.png', 'loss.png', 'learning_rates.png'),
    'fashion_mnist': ('fashion_mnist.png',),
    'softmax_regression': ('curves.png', 'predictions.png', 'weights.png'),
    'mlp': ('activations.png', 'curves.png', 'predictions.png'),
    'logistic_regression': ('sigmoid.png', 'probability.png', 'loss.png'),
}
RUN_MARKS = ('metrics.json', 'all.json', 'summary.json')  # a folder with one holds a run


def walkthrough_args(name):
    """Return (quick, out): --quick or D2L_QUICK=1, and the run folder; notebooks: defaults.

    A folder that holds a run, or a file of the name of one of the
    walk-through's figures, ends the walk-through with one line: it never
    replaces a file.
    """
    parser = argparse.ArgumentParser(description='The %s walk-through, cell by cell.' % name)
    parser.add_argument('--quick', action='store_true', help='fewer epochs: seconds, for tests')
    parser.add_argument('--out', help='folder for the figures (default runs/%s-<timestamp>); it '
                                      'must hold no run and none of them' % name)
    args = parser.parse_args([] if 'ipykernel' in sys.modules else None)
    try:
        if args.out:
            check_out_dir(args.out, FIGURES[name])
        out = prepare_out_dir(args.out or default_out_dir(name))
    except D2LError as e:
        sys.exit('error: %s' % e)
    return args.quick or os.environ.get('D2L_QUICK') == '1', out


def check_out_dir(folder, figures):
    """Raise D2LError when folder holds a run or a file named as one of figures."""
    held = [n for n in RUN_MARKS if os.path.exists(os.path.join(folder, n))]
    if held:
        raise D2LError('%s holds a d2l-gluon run (%s); a walk-through writes its figures into a '
                       'fresh --out' % (folder, held[0]))
    taken = [n for n in figures if os.path.exists(os.path.join(folder, n))]
    if taken:
        raise D2LError('%s already holds %s, which this walk-through would replace; choose a fresh '
                       '--out or move %s away' % (folder, ', '.join(taken),
                                                 'it' if len(taken) == 1 else 'them'))


def show_source(*functions):
    """Print each library function's source: the code the walk-through runs."""
    for function in functions:
        print(inspect.getsource(function))


def show_figure(path):
    """Report a saved figure, and display it when running as a notebook."""
    print('saved', path)
    if 'ipykernel' in sys.modules:
        from IPython.display import Image, display
        display(Image(filename=path))


def watching(on_epoch=None):
    """Return a watch for a chapter's fit(): the tool's loop, which checks every epoch for
    divergence and calls on_epoch(impl, record, version) after it (print_epoch, say)."""
    return Watch(on_epoch)


def print_epoch(impl, record, version):
    """Print the book's epoch line of a version (an on_epoch for watching)."""
    print('%-7s %s' % (impl, format_epoch(record)))


def print_every(every, num_epochs):
    """Return an on_epoch for watching that prints epoch 1, every every-th epoch and the last, as the CLI does."""
    def on_epoch(impl, record, version):
        if printed(record['epoch'], every, num_epochs):
            print_epoch(impl, record, version)
    return on_epoch


def merge(first, second):
    """Return one fit() result of two fit() results, each of one version (scratch, then Gluon)."""
    metrics = dict(first.metrics, runs=dict(first.metrics['runs'], **second.metrics['runs']))
    return Fit(metrics, dict(first.trained, **second.trained), second.data)


def fashion_mnist(chapter, config, quick):
    """Return chapter.load_data(config); quick: its first 6,000 training and 2,000 test examples.

    A missing data set ends the walk-through with one line.
    """
    try:
        data = chapter.load_data(config)
    except D2LError as e:
        sys.exit('error: %s' % e)
    if quick:
        data = data._replace(train_iter=subset(data.train_iter, 6000),
                             test_iter=subset(data.test_iter, 2000))
    return data


def subset(loader, n):
    """Return an ArrayLoader over the first n examples of an in-memory loader."""
    return ArrayLoader(loader.features[:n], loader.labels[:n], loader.batch_size, loader.shuffle)


# ---- the notes' PyTorch calls beside the MXNet calls they become, read from the running source

def translation_steps():
    """Return the steps the notes write in PyTorch: (step, MXNet function, key, PyTorch function, key).

    Each key finds the line of its function that takes the step.
    """
    from . import d2l, d2l_torch
    from .chapters import linear_regression as linreg, logistic_regression as logreg
    from .chapters import softmax_regression as softmax
    return [
        ('create a tensor', linreg.init_params, 'nd.random.normal', d2l_torch.tensor, 'from_numpy'),
        ('track its gradient', linreg.init_params, 'attach_grad', d2l_torch.leaves, 'requires_grad'),
        ('record / do not record', d2l.train_epoch_ch3, 'autograd.record', d2l_torch.sgd, 'no_grad'),
        ('backward', d2l.train_epoch_ch3, 'backward()', d2l_torch.SGD.step, 'backward()'),
        ('sgd by hand', d2l.sgd, 'param -=', d2l_torch.sgd, 'param -='),
        ('a dense layer', softmax.gluon_net, 'nn.Dense', softmax.pytorch_setup, 'nn.Linear'),
        ('cross-entropy', softmax.gluon_loss, 'SoftmaxCrossEntropyLoss', softmax.pytorch_classifier,
         'CrossEntropyLoss'),
        ('binary cross-entropy', logreg.gluon_loss, 'SigmoidBinaryCrossEntropyLoss',
         logreg.pytorch_setup, 'BCEWithLogitsLoss('),
        ('the optimizer', softmax.gluon_classifier, 'gluon.Trainer(', softmax.pytorch_classifier,
         'optim.SGD'),
        ('one step', d2l.train_epoch_ch3, 'updater(', d2l_torch.Optimizer.step, 'optimizer.step()'),
    ]


def source_line(function, key):
    """Return the first code line of function (docstring and comments skipped) that holds key."""
    import ast
    import textwrap
    source = textwrap.dedent(inspect.getsource(function))
    body = ast.parse(source).body[0].body
    start = body[1].lineno if ast.get_docstring(ast.parse(source).body[0]) and len(body) > 1 \
        else body[0].lineno
    for line in source.splitlines()[start - 1:]:
        code = line.split('  #')[0].strip()
        if key in code and not code.startswith('#'):
            return code
    raise ValueError('%s has no line with %r' % (function.__qualname__, key))


def translation(*names):
    """Return the rows (step, MXNet line, PyTorch line) of the steps named (default: every step)."""
    return [(step, source_line(mx_function, mx_key), source_line(torch_function, torch_key))
            for step, mx_function, mx_key, torch_function, torch_key in translation_steps()
            if not names or step in names]


def translation_table(*names):
    """Return the translation as the lines of a markdown table (the README's)."""
    def cell(code):
        return '`%s`' % code.replace('|', '\\|')
    lines = ['| step | MXNet / Gluon (this project) | PyTorch (the notes) |', '|---|---|---|']
    return lines + ['| %s | %s | %s |' % (step, cell(mx), cell(pt))
                    for step, mx, pt in translation(*names)]
