"""A chapter's versions against each other from one start: the same initial parameters and batches.

Every chapter module offers the same pieces (load_data, setup, train
and its compare record: tolerance and dtype); nothing here knows a chapter.
"""
import dataclasses
import itertools
from typing import Optional

import numpy as np
from mxnet import nd

from . import seed
from .chapters import train_versions
from .config import IMPLS
from .data import ArrayLoader
from .errors import D2LError, DivergenceError
from .monitor import Watch
from .params import as_scratch, set_from_scratch


def relative_difference(a, b, scale=0.0):
    """Return max |a - b| / max(max |b|, scale) of two arrays (or numbers), in float64."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), scale, 1e-12))


def _cast(data, dtype):
    """Return data with every float32 array (features, regression labels, test sets) cast to dtype."""
    if dtype == 'float32':
        return data

    def cast(value):
        if isinstance(value, ArrayLoader):
            return ArrayLoader(cast(value.features), cast(value.labels), value.batch_size,
                               value.shuffle)
        if isinstance(value, nd.NDArray) and value.dtype == np.float32:
            return value.astype(dtype)
        if type(value) is tuple:
            return tuple(cast(v) for v in value)
        return value
    return data._replace(**{name: cast(value) for name, value in data._asdict().items()})


@dataclasses.dataclass
class Pair:
    """Two versions' differences: per epoch {key: (first, second, relative difference)}.

    loss_diff is the largest loss difference (relative to the loss after
    epoch 1 where the loss has fallen below it), param_diff the parameters'.
    """
    names: tuple
    epochs: list
    loss_diff: float
    param_diff: float


@dataclasses.dataclass
class Comparison:
    """What compare returns: every pair of the versions trained from one start, or where one diverged.

    diverged is None, or {'impl', 'epoch', 'batch'} of the version whose training diverged.
    """
    impls: tuple
    pairs: list
    tolerance: float
    dtype: str
    diverged: Optional[dict] = None

    @property
    def loss_diff(self):
        return max(pair.loss_diff for pair in self.pairs)

    @property
    def param_diff(self):
        return max(pair.param_diff for pair in self.pairs)

    @property
    def agree(self):
        """Return whether no version diverged and every pair agrees within the tolerance."""
        return self.diverged is None and max(self.loss_diff, self.param_diff) <= self.tolerance


def compare_config(chapter, **changes):
    """Return the config compare trains a chapter with: its defaults, its compare changes, changes.

    Changes that are None, or name options the chapter does not have, are left out.
    """
    from .config import COMMON, make_config
    given = {k: v for k, v in changes.items()
             if v is not None and (k in chapter.options or k in COMMON)}
    return make_config(chapter.options, **dict(chapter.compare.changes, **given))


def compare(chapter, config, ctx=None, perturb=0.0, impls=('scratch', 'gluon'), dtype=None):
    """Train the versions impls of chapter (a Chapter record) from one start; return a Comparison.

    Every version after the first gets the first one's initial values (plus
    perturb on its first bias, to see a comparison fail) and trains on the
    same batches; every pair of versions is compared.  dtype (default: the
    chapter's compare dtype) is the dtype of the parameters and data.
    """
    impls = tuple(impl for impl in IMPLS if impl in impls)
    unknown = sorted(set(impls) - set(chapter.impls))
    if unknown or len(impls) < 2:
        raise D2LError('compare %s takes two or more of %s, not %s'
                       % (chapter.name, ', '.join(chapter.impls), ','.join(unknown or impls)))
    config = chapter.complete(dict(config, impl=','.join(impls)))
    dtype = dtype or chapter.compare.dtype
    options = {} if dtype == 'float32' else {'dtype': dtype}
    seed(config['seed'])
    data = _cast(chapter.load_data(config, ctx), dtype)
    start = []

    def twins(impl, config, ctx=None):
        version = chapter.setup(impl, config, ctx, **options)
        if not start:
            start.extend(p.copy() for p in as_scratch(version))
            return version
        params = [p.copy() for p in start]
        params[1][0] += perturb  # the first bias: every example feels it
        set_from_scratch(version, params)
        return version
    result = Comparison(impls, [], chapter.compare.tolerance, dtype)
    try:
        trained = train_versions(twins, chapter.train, config, data, ctx, Watch())
    except DivergenceError as e:
        # one version diverged where another did not: they differ
        result.diverged = {'impl': e.impl, 'epoch': e.epoch, 'batch': e.batch}
        return result
    result.pairs = [_differences(a, trained[a], b, trained[b])
                    for a, b in itertools.combinations(impls, 2)]
    return result


def _differences(first, first_run, second, second_run):
    """Return the Pair of two trained versions: per-epoch differences and the parameters'."""
    history, other = first_run.history, second_run.history
    keys = [k for k in ('loss', 'train_acc', 'test_acc') if k in history[0]]
    # the loss differences are measured against the loss at the end of epoch 1 where the loss has
    # fallen below it: a regression's loss falls to the noise floor (5e-5 for linreg), where
    # float32 rounding of the loss itself is 1e-5 of it while the parameters agree to the last bit
    scale = {'loss': abs(other[0]['loss'])}
    epochs = [(s['epoch'], {k: (s[k], g[k], relative_difference(s[k], g[k], scale.get(k, 0)))
                            for k in keys}) for s, g in zip(history, other)]
    param_diff = max(relative_difference(p.asnumpy(), q.asnumpy())
                     for p, q in zip(as_scratch(first_run.version), as_scratch(second_run.version)))
    return Pair((first, second), epochs, max(row['loss'][2] for _, row in epochs), param_diff)


def format_comparison(result, tolerance):
    """Return compare's tables as lines: per pair and epoch both versions' numbers and their difference."""
    lines = ['comparing in %s' % result.dtype] if result.dtype != 'float32' else []
    for pair in result.pairs:
        (a, b), keys = pair.names, list(pair.epochs[0][1])
        lines.append('%-6s' % 'epoch' + ''.join('  %17s %15s %9s' % (a + ' ' + k, b + ' ' + k,
                                                                     'rel diff') for k in keys))
        lines += ['%-6d' % epoch + ''.join('  %17.6f %15.6f %9.2g' % row[k] for k in keys)
                  for epoch, row in pair.epochs]
        lines.append('largest relative difference: loss %.3g, parameters %.3g (tolerance %g)'
                     % (pair.loss_diff, pair.param_diff, tolerance))
    return lines


def outcome(result, tolerance=None, perturb=0.0):
    """Return (lines, failure) of a Comparison: the tables and verdict, or why the versions differ.

    failure is None when every pair agrees within tolerance (default: the
    chapter's), else the message that they differ; lines hold the tables
    and, when they agree, the line that says so.
    """
    names = ' and '.join(', '.join(result.impls).rsplit(', ', 1))
    if result.diverged is not None:
        where = result.diverged
        return [], '%s differ: the %s version diverged in epoch %d, batch %d%s' % (
            names, where['impl'], where['epoch'], where['batch'],
            ' (--perturb %g moved its start that far)' % perturb if perturb else '')
    tolerance = tolerance or result.tolerance
    lines = format_comparison(result, tolerance)
    if max(result.loss_diff, result.param_diff) > tolerance:
        return lines, '%s differ by more than %g' % (names, tolerance)
    return lines + ['%s agree within %g' % (names, tolerance)], None
