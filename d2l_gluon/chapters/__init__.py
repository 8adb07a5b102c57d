"""The book's chapters, one module each, in the book's order.

Each module reads top to bottom like its section: its defaults, the data,
the scratch model and loss, the training, "# ---- concise (Gluon)", the
Gluon twin (then, where the course notes write the model in PyTorch,
"# ---- PyTorch (the notes' code)"), the independent reference and the
chapter's figures.  It ends
with ``CHAPTER = Chapter(...)``: what the command line and the tooling need
to know of it.  ``chapter(name)`` returns that record.
"""
import dataclasses
import importlib
from typing import Any, Callable, Optional

from .. import d2l, d2l_torch
from ..config import impls
from ..errors import D2LError

# command -> module, in the book's order
MODULES = {'linreg': 'linear_regression', 'softmax': 'softmax_regression', 'mlp': 'mlp',
           'logreg': 'logistic_regression', 'polyfit': 'model_selection',
           'weight-decay': 'weight_decay', 'dropout': 'dropout',
           'initialization': 'initialization'}


@dataclasses.dataclass(frozen=True)
class Compare:
    """How closely scratch and Gluon agree from one start: a relative tolerance in a dtype.

    changes: settings compare trains with instead of the book's (e.g. the
    blobs data set, one λ).
    """
    tolerance: float
    dtype: str = 'float32'
    changes: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Chapter:
    """A chapter as the tooling sees it.

    name is the command; options the book's defaults (config.Option each);
    load_data(config, ctx), setup(impl, config, ctx), train(version, data,
    config, monitor), fit(config, ctx, watch, data) and summary(config,
    metrics) are the chapter's own functions;
    figures(config, result, folder) saves its PNGs, the files that
    figure_names(config) names before training (a run records them).
    compare is None for a chapter that trains nothing; checkpoints says
    whether a run is worth resuming epoch by epoch; data_parallel whether its
    Gluon version trains on several devices; model_keys, for a classifier
    predict can load, the settings that rebuild its net; impls the versions
    it has (the chapters of the notes' PyTorch code add 'pytorch').
    """
    name: str
    title: str
    options: dict
    load_data: Callable
    setup: Optional[Callable]
    fit: Callable
    summary: Callable
    figures: Callable
    figure_names: Callable
    train: Optional[Callable] = None
    complete: Callable = dict
    presets: dict = dataclasses.field(default_factory=dict)
    compare: Optional[Compare] = None
    checkpoints: bool = False
    data_parallel: bool = False
    model_keys: Optional[tuple] = None
    impls: tuple = ('scratch', 'gluon')  # the versions it has; --impl may name only these
    # for the time left of all: the seconds of one epoch of one version on the 2-core machine
    # (all measures the pace itself; this says how a chapter not begun compares with the others),
    # and how many times each version trains (polyfit's cases, weight decay's penalties)
    epoch_seconds: float = 0.1
    cases: Callable = lambda config: 1


def chapter(name):
    """Return the Chapter record of command name (e.g. 'softmax')."""
    return importlib.import_module('.' + MODULES[name], __name__).CHAPTER


def check_impls(record, config):
    """Raise D2LError unless record (a Chapter) has every version config['impl'] names, and
    PyTorch is installed when it is one of them."""
    missing = [impl for impl in impls(config) if impl not in record.impls]
    if missing:
        raise D2LError('%s has no %s version; --impl takes %s here'
                       % (record.name, ' or '.join(missing), ', '.join(record.impls)))
    if 'pytorch' in impls(config):
        d2l_torch.need_torch()


@dataclasses.dataclass(frozen=True)
class Version:
    """One version of a chapter's model, as the book trains it: net, loss, and sgd or a trainer.

    impl is 'scratch', 'gluon' or 'pytorch'.  A scratch version steps with
    sgd(params, lr, batch_size) on its list of parameters; a Gluon version
    with trainer.step(batch_size) (anything with such a step), and its
    params are the net's ParameterDict; a PyTorch version (d2l_torch.py)
    with trainer.step(l, batch_size) from the batch's per-example losses l,
    and its params are a list of tensors.
    """
    impl: str
    net: Callable
    loss: Callable
    params: Any
    lr: Optional[float] = None
    trainer: Any = None

    @property
    def scratch(self):
        return self.impl == 'scratch'

    @property
    def updater(self):
        """Return the step the book's loop takes: trainer.step, or sgd on params with lr."""
        if self.trainer is not None:
            return self.trainer.step
        return lambda batch_size: d2l.sgd(self.params, self.lr, batch_size)


class Step:
    """A trainer whose step(batch_size) is a given function: several trainers, or another divisor."""

    def __init__(self, step):
        self.step = step


@dataclasses.dataclass
class Trained:
    """A trained version and its epoch records (one dict per epoch, as metrics.json holds them)."""
    version: Optional[Version]
    history: list


@dataclasses.dataclass
class Fit:
    """What a chapter's fit returns: metrics (as metrics.json holds them), the trained versions by
    run name, and the data they trained on."""
    metrics: dict
    trained: dict
    data: Any


def first(ctx):
    """Return the first device of a device or a list of devices."""
    return ctx[0] if isinstance(ctx, (list, tuple)) else ctx


def cast(params, dtype):
    """Return params in dtype with gradients attached (themselves for float32): compare's float64."""
    if dtype == 'float32':
        return params
    params = [p.astype(dtype) for p in params]
    for p in params:
        p.attach_grad()
    return params


def train_versions(setup, train, config, data, ctx=None, watch=None, run='{}'):
    """Train every version config['impl'] names from one random state; return {run name: Trained}.

    run.format(impl) names a run.  The tooling passes a watch, whose own loop
    adds epoch lines, resume, Ctrl-C and several devices (monitor.Watch).
    """
    if watch is not None:
        return watch.versions(setup, train, config, data, ctx, run)
    from .. import seed
    trained = {}
    for impl in impls(config):
        seed(config['seed'] + 1)  # every version starts from the same draws
        version = setup(impl, config, ctx)
        trained[run.format(impl)] = Trained(version, train(version, data, config))
    return trained
