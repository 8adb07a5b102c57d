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
from .progress import format_epoch

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
        epoch = record['epoch']
        if epoch == 1 or epoch % every == 0 or epoch == num_epochs:
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
