"""Scratch against Gluon from one start: the same initial parameters and batches, for any chapter.

Every chapter module offers the same pieces (load_data, setup, train
and its compare record: tolerance and dtype); nothing here knows a chapter.
"""
from . import seed
from .chapters import train_versions
from .data import ArrayLoader
from .errors import DivergenceError
from .monitor import Watch
from .params import copy_to_gluon, gluon_as_scratch


def relative_difference(a, b, scale=0.0):
    """Return max |a - b| / max(max |b|, scale) of two arrays (or numbers), in float64."""
    import numpy as np
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), scale, 1e-12))


def _cast(data, dtype):
    """Return data with the features of every in-memory loader cast to dtype."""
    if dtype == 'float32':
        return data
    return data._replace(**{
        name: ArrayLoader(it.features.astype(dtype), it.labels, it.batch_size, it.shuffle)
        for name, it in data._asdict().items() if isinstance(it, ArrayLoader)})


def compare_config(chapter, **changes):
    """Return the config compare trains a chapter with: its defaults, its compare changes, changes.

    Changes that are None, or name options the chapter does not have, are left out.
    """
    from .config import COMMON, make_config
    given = {k: v for k, v in changes.items()
             if v is not None and (k in chapter.options or k in COMMON)}
    return make_config(chapter.options, **dict(chapter.compare.changes, **given))


def compare(chapter, config, ctx=None, perturb=0.0):
    """Train both versions of chapter (a Chapter record) from one start; return their differences.

    The Gluon net gets the scratch version's initial values (plus perturb on
    its first bias, to see a comparison fail).  Returns {'epochs': [(epoch,
    {key: (scratch, gluon, relative difference)})], 'loss_diff' (relative to
    the loss after epoch 1 where the loss has fallen below it),
    'param_diff', 'tolerance', 'dtype'}, or {'diverged': {'impl', 'epoch',
    'batch'}, ...} when a version's training diverged.
    """
    config = chapter.complete(dict(config, impl='both'))
    dtype = chapter.compare.dtype
    options = {} if dtype == 'float32' else {'dtype': dtype}
    seed(config['seed'])
    data = _cast(chapter.load_data(config, ctx), dtype)
    start = []

    def twins(impl, config, ctx=None):
        version = chapter.setup(impl, config, ctx, **options)
        if impl == 'scratch':
            start.extend(p.copy() for p in version.params)
        else:
            copy_to_gluon(start, version.net)
            if perturb:
                params = gluon_as_scratch(version.net)
                params[1][0] += perturb  # the first bias: every example feels it
                copy_to_gluon(params, version.net)
        return version
    try:
        trained = train_versions(twins, chapter.train, config, data, ctx, Watch())
    except DivergenceError as e:
        # one version diverged where the other did not: they differ
        return {'diverged': {'impl': e.impl, 'epoch': e.epoch, 'batch': e.batch},
                'tolerance': chapter.compare.tolerance, 'dtype': dtype}
    epochs, param_diff = _differences(trained['scratch'], trained['gluon'])
    return {'epochs': epochs, 'loss_diff': max(row['loss'][2] for _, row in epochs),
            'param_diff': param_diff, 'tolerance': chapter.compare.tolerance, 'dtype': dtype}


def _differences(scratch_run, gluon_run):
    """Return ([(epoch, {key: (scratch, gluon, relative difference)})], parameters' difference)."""
    scratch, scratch_history = scratch_run.version, scratch_run.history
    gluon, gluon_history = gluon_run.version, gluon_run.history
    keys = [k for k in ('loss', 'train_acc', 'test_acc') if k in scratch_history[0]]
    # the loss differences are measured against the loss at the end of epoch 1 where the loss has
    # fallen below it: a regression's loss falls to the noise floor (5e-5 for linreg), where
    # float32 rounding of the loss itself is 1e-5 of it while the parameters agree to the last bit
    scale = {'loss': abs(gluon_history[0]['loss'])}
    epochs = [(s['epoch'], {k: (s[k], g[k], relative_difference(s[k], g[k], scale.get(k, 0)))
                            for k in keys}) for s, g in zip(scratch_history, gluon_history)]
    param_diff = max(relative_difference(p.asnumpy(), q.asnumpy())
                     for p, q in zip(scratch.params, gluon_as_scratch(gluon.net)))
    return epochs, param_diff


def format_comparison(result, tolerance):
    """Return compare's table as lines: per epoch both versions' numbers and their difference."""
    lines = ['comparing in %s' % result['dtype']] if result['dtype'] != 'float32' else []
    keys = list(result['epochs'][0][1])
    lines.append('%-6s' % 'epoch' + ''.join('  %17s %15s %9s' % ('scratch ' + k, 'gluon ' + k,
                                                                 'rel diff') for k in keys))
    lines += ['%-6d' % epoch + ''.join('  %17.6f %15.6f %9.2g' % row[k] for k in keys)
              for epoch, row in result['epochs']]
    lines.append('largest relative difference: loss %.3g, parameters %.3g (tolerance %g)'
                 % (result['loss_diff'], result['param_diff'], tolerance))
    return lines


def outcome(result, tolerance=None, perturb=0.0):
    """Return (lines, failure) of compare's result: the table and verdict, or why the versions differ.

    failure is None when they agree within tolerance (default: the
    chapter's), else the end of the message that they differ; lines hold
    the table and, when they agree, the line that says so.
    """
    if 'diverged' in result:
        where = result['diverged']
        return [], ': the %s version diverged in epoch %d, batch %d%s' % (
            where['impl'], where['epoch'], where['batch'],
            ' (--perturb %g moved its start that far)' % perturb if perturb else '')
    tolerance = tolerance or result['tolerance']
    lines = format_comparison(result, tolerance)
    if max(result['loss_diff'], result['param_diff']) > tolerance:
        return lines, ' by more than %g' % tolerance
    return lines + ['scratch and Gluon agree within %g' % tolerance], None
