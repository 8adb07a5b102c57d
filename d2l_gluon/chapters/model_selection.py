"""Model selection, underfitting and overfitting (book 3.11): polynomial fits of a noisy cubic.

The data are the book's: y = 5 + 1.2x - 3.4x² + 5.6x³ + ε with x ~ N(0, 1),
ε ~ N(0, 0.1²), 100 training and 100 test examples, features (x, x², x³).
Three cases, as the book runs them: a third-order fit (normal), a linear fit
on x alone (underfitting) and a third-order fit on two training examples
(overfitting).  Each case is linear regression on its columns, so the model,
loss and both set-ups are linear_regression's; each is checked against its
least-squares solution.
"""
import collections
import os

import numpy as np
from mxnet import gluon, nd

from .. import plot
from ..config import Option
from ..data import ArrayLoader, check_size
from . import Chapter, Compare, Fit, linear_regression, train_versions
from .linear_regression import closed_form, format_table, regression_metrics, squared_loss

TRUE_W, TRUE_B = [1.2, -3.4, 5.6], 5.0
NOISE = 0.1
# case -> (feature columns used, training examples: None for all of n_train)
CASES = collections.OrderedDict([('normal', (3, None)), ('underfit', (1, None)),
                                 ('overfit', (3, 2))])
FEATURE_NAMES = ['x', 'x^2', 'x^3']

OPTIONS = {
    'num_epochs': Option(100, 'count', 'passes over the training set'),
    'print_every': Option(50, 'count', 'print every N-th epoch, the first and the last'),
    'lr': Option(0.01, 'positive', 'learning rate'),
    'batch_size': Option(10, 'count', 'examples per minibatch; a case with fewer training '
                                      'examples takes them all in one batch'),
    'n_train': Option(100, 'count', 'training examples (the overfitting case uses the first 2)'),
    'n_test': Option(100, 'count', 'test examples'),
    'case': Option('all', ('all',) + tuple(CASES),
                   'normal: third-order fit; underfit: linear fit on x; overfit: third-order fit '
                   'on 2 training examples; all: the three, as the book runs them'),
}

# one case's data; load_data's result also carries every case asked for in ``cases``
Data = collections.namedtuple('Data', 'train_iter features labels test_features test_labels cases')


def case_names(config):
    """Return the cases config asks for, in the book's order."""
    return list(CASES) if config['case'] == 'all' else [config['case']]


def case_config(config, case):
    """Return config for one case: its number of inputs and a batch no larger than its training set."""
    num_inputs, n_train = CASES[case]
    n_train = n_train or config['n_train']
    return dict(config, case=case, num_inputs=num_inputs,
                batch_size=min(config['batch_size'], n_train))


# ---- data

def poly_data(n, ctx=None):
    """Return features (n, 3) = (x, x², x³) with x ~ N(0, 1) and labels (n,) of the book's cubic."""
    check_size(n, 3)
    x = nd.random.normal(shape=(n, 1), ctx=ctx)
    features = nd.concat(x, x ** 2, x ** 3, dim=1)
    labels = nd.dot(features, nd.array(TRUE_W, ctx=ctx).reshape((-1, 1))).reshape((-1,)) + TRUE_B
    labels += nd.random.normal(scale=NOISE, shape=labels.shape, ctx=ctx)
    return features, labels


def load_data(config, ctx=None):
    """Return the first case's Data; its ``cases`` maps every case asked for to its own Data.

    All cases share one draw of n_train + n_test examples, as in the book: the
    first n_train (or 2) train, the last n_test test, each case on its columns.
    """
    from .. import seed
    seed(config['seed'])
    features, labels = poly_data(config['n_train'] + config['n_test'], ctx)
    cases = collections.OrderedDict()
    for case in case_names(config):
        num_inputs, n_train = CASES[case]
        n_train = n_train or config['n_train']
        X, Xt = features[:n_train, :num_inputs], features[config['n_train']:, :num_inputs]
        y, yt = labels[:n_train], labels[config['n_train']:]
        loader = ArrayLoader(X, y, case_config(config, case)['batch_size'])
        cases[case] = Data(loader, X, y, Xt, yt, None)
    first = next(iter(cases.values()))
    return first._replace(cases=cases)


# ---- scratch and concise (Gluon): linear regression on each case's columns

def setup(impl, config, ctx=None):
    """Return the Version of impl for config['case'] (normal if all): linreg + squared_loss + sgd, or
    Dense(1) + L2Loss + Trainer('sgd'), as the book's fit_and_plot."""
    config = case_config(config, 'normal' if config['case'] == 'all' else config['case'])
    if impl == 'scratch':
        return linear_regression.scratch_setup(config, ctx, loss=squared_loss)
    return linear_regression.gluon_setup(config, ctx, loss=gluon.loss.L2Loss())


# ---- training

def evaluate(version, data, loss=None):
    """Return the mean loss on the whole training and test sets, as fit_and_plot records them.

    The loss is the version's own, or loss (e.g. without a penalty) when given.
    """
    net, measure = version.net, loss or version.loss
    return {'loss': float(measure(net(data.features), data.labels).mean().asscalar()),
            'test_loss': float(measure(net(data.test_features), data.test_labels).mean().asscalar())}


def train(version, data, config, monitor=None):
    """Train a version with linear regression's loop, measuring evaluate() after each epoch."""
    return linear_regression.train(version, data, config, monitor, evaluate)


def fit_cases(setup, train, cases, ctx=None, watch=None):
    """Train the versions of every case; return {'<case> <impl>': Trained}.

    cases maps a name to (config, data); each case runs train_versions, so
    its versions start alike and see the same batches.
    """
    trained = collections.OrderedDict()
    for name, (config, data) in cases.items():
        trained.update(train_versions(setup, train, config, data, ctx, watch, name + ' {}'))
    return trained


def case_metrics(trained, cases, reference, method, truth):
    """Return the metrics of fit_cases' runs; reference(case, data) is a case's (w, b) solution.

    runs are named '<case> <impl>', the reference holds each case's
    solution with its training and test loss and the case's true parameters
    (truth(case): w, b), and max_abs_diff is the largest over the cases.
    """
    per_case = collections.OrderedDict()
    for case, case_data in cases.items():
        versions = {name.split(' ', 1)[1]: run for name, run in trained.items()
                    if name.split(' ', 1)[0] == case}
        solution = reference(case, case_data)
        per_case[case] = regression_metrics(versions, solution, method)
        w, b = truth(case)
        per_case[case]['reference'].update(reference_losses(case_data, *solution),
                                           true={'w': list(w), 'b': [b]})
    metrics = {'runs': collections.OrderedDict(), 'reference': {}}
    for case, one in per_case.items():
        for impl, run in one['runs'].items():
            metrics['runs']['%s %s' % (case, impl)] = run
        metrics['reference'][case] = one['reference']
    diffs = [m['max_abs_diff'] for m in per_case.values() if 'max_abs_diff' in m]
    if diffs:
        metrics['max_abs_diff'] = max(diffs)
    return metrics


def reference_losses(data, w, b):
    """Return the mean squared loss (ŷ - y)²/2 of (w (d, 1), b) on data's training and test sets, float64."""
    def loss(features, labels):
        X = np.asarray(features.asnumpy(), dtype=np.float64)
        y = np.asarray(labels.asnumpy(), dtype=np.float64).reshape(-1)
        return float(np.mean((X @ np.asarray(w).reshape(-1) + b[0] - y) ** 2 / 2))
    return {'loss': loss(data.features, data.labels),
            'test_loss': loss(data.test_features, data.test_labels)}


def fit(config, ctx=None, watch=None, data=None):
    """Train the versions config asks for on every case; return a Fit.

    metrics: runs '<case> <impl>' with their epochs (training and test loss)
    and fitted params, each case's least-squares reference and the largest
    |scratch - gluon| parameter difference.  Runs take seconds, so restore
    is not used: a resumed run starts again.
    """
    data = data or load_data(config, ctx)
    trained = fit_cases(setup, train, {case: (case_config(config, case), case_data)
                                       for case, case_data in data.cases.items()}, ctx, watch)
    metrics = case_metrics(trained, data.cases,
                           lambda case, case_data: closed_form(case_data.features, case_data.labels),
                           'least squares (lstsq)', lambda case: (TRUE_W[:CASES[case][0]], TRUE_B))
    return Fit(metrics, trained, data)


def summary(config, metrics):
    """Return the lines printed after training: per case, the final losses and the coefficients."""
    lines = []
    for case in case_names(config):
        num_inputs = CASES[case][0]
        reference = metrics['reference'][case]
        rows, losses = [('true', TRUE_W[:num_inputs] + [TRUE_B])], []
        for run_name, run in metrics['runs'].items():
            if run_name.startswith(case + ' '):
                rows.append((run_name.split(' ')[1], run['params']['w'] + run['params']['b']))
                last = run['epochs'][-1]
                losses.append('%-16s train loss %10.6f, test loss %10.6f'
                              % (run_name, last['loss'], last['test_loss']))
        rows.append(('lstsq', reference['w'] + reference['b']))
        lines += (['%s:' % case] + format_table(FEATURE_NAMES[:num_inputs] + ['b'], rows)
                  + losses)
    if 'max_abs_diff' in metrics:
        lines.append('largest |scratch - gluon| parameter difference: %.3g' % metrics['max_abs_diff'])
    return lines


# ---- figures

def figures(config, result, folder):
    """Save loss.png: training and test loss of each case (normal, underfit, overfit), log scale."""
    plot.case_loss_curves(result.metrics['runs'], list(result.data.cases),
                          os.path.join(folder, 'loss.png'))


CHAPTER = Chapter('polyfit', __doc__.split('\n')[0], OPTIONS, load_data, setup, fit, summary,
                  figures, lambda config: ('loss.png',), train, compare=Compare(1e-5, changes={'case': 'normal'}),
                  epoch_seconds=0.0057, cases=lambda config: len(case_names(config)))
