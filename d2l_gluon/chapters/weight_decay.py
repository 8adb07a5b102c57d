"""Weight decay (book 3.12): high-dimensional linear regression with an L2 penalty λ/2 ||w||².

The book's data: 200 inputs, 20 training and 100 test examples, y = 0.01 Σ x_j
+ 0.05 + N(0, 0.01²).  With 20 examples for 201 parameters the unpenalised
model (λ = 0) fits the training set and not the test set; λ = 3 shrinks w
and generalises.  The scratch version adds λ/2 ||w||² to every example's
squared loss; the Gluon version passes wd = λ to the Trainer of the weight
only (a second Trainer steps the bias without decay), as the book does.

What both minimise: every example's loss carries the penalty, backward sums
them over the batch and sgd divides by the batch size, so a step follows
the gradient of (1/B) Σ_batch (x_i·w + b - y_i)²/2 + λ/2 ||w||²; Gluon's
wd adds λ w to the gradient divided by the batch size, the same step.  Over
an epoch of full batches the objective is the mean squared loss plus
λ/2 ||w||², whose minimiser is ridge regression with penalty nλ on w and
none on b (``ridge``).  A short last batch would scale the scratch penalty
by its size and not Gluon's wd, and so would a step on the summed gradient
(--step-divisor none) of a batch of more than one: ``check_penalty_weight``
refuses those settings (the book's batch of 1 has neither).

Each epoch records the training and test loss without the penalty (what the
book plots); the tooling's moving average of the batch loss follows the
objective, with the penalty, in both versions.
"""
import os

import numpy as np
from mxnet import gluon

from .. import d2l, plot
from ..config import Option
from ..data import ArrayLoader, check_size
from ..errors import D2LError
from . import Chapter, Compare, Fit, Step, Version, linear_regression, model_selection
from .linear_regression import closed_form, squared_loss
from .model_selection import Data, case_metrics, fit_cases

OPTIONS = {
    'num_epochs': Option(100, 'count', 'passes over the training set'),
    'print_every': Option(50, 'count', 'print every N-th epoch, the first and the last'),
    'lr': Option(0.003, 'positive', 'learning rate'),
    'batch_size': Option(1, 'count', 'examples per minibatch (choose one that divides n_train)'),
    'n_train': Option(20, 'count', 'training examples'),
    'n_test': Option(100, 'count', 'test examples'),
    'num_inputs': Option(200, 'count', 'features; every true weight is 0.01, the bias 0.05'),
    'lambd': Option([0.0, 3.0], 'numbers',
                    'the L2 penalties λ to train with, one run each: 0 overfits, 3 does not'),
}
TRUE_W_VALUE, TRUE_B, NOISE = 0.01, 0.05, 0.01


def case_name(lambd):
    """Return the run group of a penalty, e.g. 'lambda=3'."""
    return 'lambda=%g' % lambd


def penalties(config):
    """Return config's penalties without repeats, in order; raise D2LError for a negative one."""
    if any(lambd < 0 for lambd in config['lambd']):
        raise D2LError('--lambd %s: a penalty must be >= 0' % ','.join('%g' % v for v in config['lambd']))
    return list(dict.fromkeys(config['lambd']))


def check_penalty_weight(config):
    """Raise D2LError unless every step weighs the scratch penalty as Gluon's wd (λ w per step).

    The scratch gradient of a batch of m examples holds m λ w, and the step
    divides it by the step divisor; Gluon adds λ w after dividing.  They agree
    when the divisor is m for every batch: always under 'actual', with a
    batch size dividing n_train under 'batch-size', with batches of 1 under 'none'.
    """
    batch_size, n_train, rule = config['batch_size'], config['n_train'], config['step_divisor']
    if rule == 'none' and batch_size > 1:
        raise D2LError('--step-divisor none with --batch-size %d: the step on the summed gradient '
                       'holds the scratch penalty once per example (%d times) but Gluon\'s wd once; '
                       'use --batch-size 1, or --step-divisor batch-size or actual'
                       % (batch_size, batch_size))
    last = n_train % batch_size
    if rule == 'batch-size' and last:
        divisors = [d for d in range(1, n_train + 1) if n_train % d == 0]
        raise D2LError('--batch-size %d leaves a last batch of %d of the --n-train %d examples, in '
                       'which the scratch penalty (added to each example\'s loss) weighs %d/%d of '
                       'Gluon\'s wd (added once per step); choose a --batch-size that divides '
                       '--n-train %d (%s) or --step-divisor actual'
                       % (batch_size, last, n_train, last, batch_size, n_train,
                          ', '.join(map(str, divisors[:8])) + (', ...' if len(divisors) > 8 else '')))


def complete(config):
    """Return config, checked: see check_penalty_weight."""
    check_penalty_weight(config)
    return config


# ---- data

def load_data(config, ctx=None):
    """Return Data: the first n_train examples train, the next n_test test; cases maps each λ to it."""
    from .. import seed
    check_penalty_weight(config)
    seed(config['seed'])
    n_train = config['n_train']
    check_size(n_train + config['n_test'], config['num_inputs'])  # before the list of true weights
    features, labels = d2l.synthetic_data([TRUE_W_VALUE] * config['num_inputs'], TRUE_B,
                                          n_train + config['n_test'], NOISE, ctx)
    data = Data(ArrayLoader(features[:n_train], labels[:n_train], config['batch_size']),
                features[:n_train], labels[:n_train], features[n_train:], labels[n_train:], None)
    return data._replace(cases={case_name(lambd): data for lambd in penalties(config)})


# ---- scratch

def l2_penalty(w):
    """Return ||w||² / 2, shape (1,)."""
    return (w ** 2).sum() / 2


def scratch_setup(config, ctx=None):
    """Return the scratch Version: linreg, squared_loss + λ l2_penalty(w) per example, sgd; w ~ N(0, 1)."""
    lambd = config['lambd'][0]
    params = linear_regression.init_params(config['num_inputs'], ctx, std=1.0)
    w, b = params

    def loss(y_hat, y):
        return squared_loss(y_hat, y) + lambd * l2_penalty(w)
    return Version('scratch', lambda X: linear_regression.linreg(X, w, b), loss, params,
                   lr=config['lr'])


# ---- concise (Gluon)

def gluon_setup(config, ctx=None):
    """Return the Gluon Version: Dense(1), L2Loss (+ λ/2 ||w||² as a value), both Trainers; wd = λ on w only."""
    net = linear_regression.gluon_net(config['num_inputs'], ctx, std=1.0)
    lr = config['lr']
    # wd adds wd * weight to the gradient divided by the batch size: the gradient of λ/2 ||w||²
    trainer_w = gluon.Trainer(net.collect_params('.*weight'), 'sgd',
                              {'learning_rate': lr, 'wd': config['lambd'][0]})
    trainer_b = gluon.Trainer(net.collect_params('.*bias'), 'sgd', {'learning_rate': lr})

    def updater(batch_size):
        trainer_w.step(batch_size)
        trainer_b.step(batch_size)
    squared, lambd = gluon.loss.L2Loss(), config['lambd'][0]
    squared.hybridize(static_alloc=True)  # the loss's operators in one call

    def loss(y_hat, y):
        # wd takes the penalty's gradient; the detached λ/2 ||w||² adds only its value, so that
        # each example's loss is the objective, as the scratch version's: the moving average of
        # the batch loss (and the divergence check on it) then mean the same for both
        return squared(y_hat, y) + lambd * l2_penalty(net[0].weight.data().detach())
    return Version('gluon', net, loss, net.collect_params(), trainer=Step(updater))


def setup(impl, config, ctx=None):
    """Return the Version of impl ('scratch' or 'gluon') with the penalty config['lambd'][0]."""
    return (scratch_setup if impl == 'scratch' else gluon_setup)(config, ctx)


# ---- training

def evaluate(version, data):
    """Return the training and test squared loss (without the penalty) and ||w|| after an epoch."""
    w = linear_regression.fitted_params(version)[0]
    return dict(model_selection.evaluate(version, data, loss=squared_loss),
                w_norm=float(np.linalg.norm(w)))


def train(version, data, config, monitor=None):
    """Train a version with linear regression's loop, measuring evaluate() after each epoch."""
    return linear_regression.train(version, data, config, monitor, evaluate)


def ridge(features, labels, lambd):
    """Return (w (d, 1), b (1,)) minimising (1/n) Σ (x_i·w + b - y_i)²/2 + λ/2 ||w||², in float64.

    Setting the gradient to zero gives (AᵀA + nλ D) θ = Aᵀy with A = [X 1],
    θ = (w, b) and D = diag(1, ..., 1, 0): b is not penalised.  λ = 0 is
    least squares (lstsq; the minimum-norm solution when n < d + 1).
    """
    if lambd == 0:
        return closed_form(features, labels)
    X = np.asarray(features.asnumpy(), dtype=np.float64)
    y = np.asarray(labels.asnumpy(), dtype=np.float64).reshape(-1)
    n, d = X.shape
    A = np.hstack([X, np.ones((n, 1))])
    D = np.diag(np.r_[np.ones(d), 0.0])
    theta = np.linalg.solve(A.T @ A + n * lambd * D, A.T @ y)
    return theta[:-1].reshape(-1, 1), theta[-1:]


def fit(config, ctx=None, watch=None, data=None):
    """Train the versions config asks for with every λ; return a Fit.

    metrics: runs 'lambda=<λ> <impl>' with their epochs (training and test
    loss, ||w||) and fitted params, each λ's ridge solution and the largest
    |scratch - gluon| parameter difference.
    """
    data = data or load_data(config, ctx)
    lambdas = {case_name(lambd): lambd for lambd in penalties(config)}
    trained = fit_cases(setup, train, {case: (dict(config, lambd=[lambd]), data.cases[case])
                                       for case, lambd in lambdas.items()}, ctx, watch)
    metrics = case_metrics(trained, data.cases,
                           lambda case, d: ridge(d.features, d.labels, lambdas[case]),
                           'ridge (closed form): mean squared loss + λ/2 ||w||²',
                           lambda case: ([TRUE_W_VALUE] * config['num_inputs'], TRUE_B))
    return Fit(metrics, trained, data)


def summary(config, metrics):
    """Return the lines printed after training: per λ, the losses, ||w|| and the distance to ridge."""
    rows = []
    for name, run in metrics['runs'].items():
        case = name.split(' ')[0]
        reference = metrics['reference'][case]
        fitted = np.array(run['params']['w'] + run['params']['b'])
        last = run['epochs'][-1]
        rows.append((name, [last['loss'], last['test_loss'], last['w_norm'],
                            np.linalg.norm(reference['w']),
                            np.abs(fitted - (reference['w'] + reference['b'])).max()]))
    header = ['train loss', 'test loss', '||w||', 'ridge ||w||', 'max|θ - ridge|']
    lines = ['%-18s' % '' + ''.join('%15s' % h for h in header)]
    lines += ['%-18s' % name + ''.join('%15.6g' % v for v in values) for name, values in rows]
    if 'max_abs_diff' in metrics:
        lines.append('largest |scratch - gluon| parameter difference: %.3g' % metrics['max_abs_diff'])
    return lines


# ---- figures

def figures(config, result, folder):
    """Save loss.png (training and test loss per λ, log scale) and norm.png (||w|| per epoch)."""
    runs = result.metrics['runs']
    plot.case_loss_curves(runs, list(result.data.cases), os.path.join(folder, 'loss.png'))
    plot.run_curves(runs, os.path.join(folder, 'norm.png'), [('||w||', ('w_norm',))])


CHAPTER = Chapter('weight-decay', __doc__.split('\n')[0], OPTIONS, load_data, setup, fit,
                  summary, figures, lambda config: ('loss.png', 'norm.png'), train,
                  complete=complete, compare=Compare(1e-5, changes={'lambd': [3.0]}),
                  epoch_seconds=0.018, cases=lambda config: len(penalties(config)))
