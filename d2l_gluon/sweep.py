"""Hyper-parameter sweeps: one chapter trained over lists of option values and seeds.

Every combination is one run of the chapter's fit() in its own process
(MXNet's engine does not survive fork, so workers are spawned).  A run that
diverges is recorded as such, with the epochs before, and the sweep goes on.
``run`` is the sweep command's body: it writes summary.json and sweep.png
into the sweep's folder, also for the runs that finished before an interrupt.
"""
import itertools
import multiprocessing
import os
import signal
import threading

import numpy as np

from . import progress
from .chapters import chapter as find_chapter, check_impls
from .config import impls, make_config
from .errors import D2LError, DivergenceError
from .files import claim, own_files, prepare_out_dir, write_json
from .monitor import Watch
from .runs import FolderLock, refuse_other_runs

SWEEP_FILES = ('summary.json', 'sweep.png')
# the kinds of option a sweep may vary (arguments.sweep_plan reads a list of them)
SCALAR_KINDS = ('count', 'natural', 'units', 'positive', 'nonnegative', 'probability', 'number')


def sweepable(chapter):
    """Return the names of a chapter's numeric options, the ones a sweep may vary."""
    return sorted(name for name, option in chapter.options.items() if option.kind in SCALAR_KINDS)


def flag(name):
    """Return an option's name as the command line spells it: batch_size -> --batch-size."""
    return '--' + name.replace('_', '-')


def grid(chapter, fixed, values, seeds):
    """Return one config per combination of values ({option: [v, ...]}) and seed, in order."""
    unknown = sorted(set(values) - set(sweepable(chapter)))
    if unknown:
        raise D2LError('cannot sweep %s; the numeric options of this chapter are %s'
                       % (', '.join(map(flag, unknown)), ', '.join(map(flag, sweepable(chapter)))))
    for name, listed in dict(values, seeds=seeds).items():
        kind = 'seed' if name == 'seeds' else chapter.options[name].kind
        _refuse_repeats(name, listed, kind)
    names = sorted(values)
    configs = []
    for combination in itertools.product(*(values[name] for name in names)):
        for seed in seeds:
            changes = dict(fixed, seed=seed, **dict(zip(names, combination)))
            configs.append(chapter.complete(make_config(chapter.options, **changes)))
    return configs


def _refuse_repeats(name, listed, kind):
    """Raise D2LError when a sweep list names one value twice: the same run, not another one."""
    from .config import KINDS
    seen = set()
    for value in listed:
        # two floats that are one float32 train the same numbers
        key = np.float32(value) if KINDS[kind][0] is float else value
        if key in seen:
            raise D2LError('%s %s repeats %s; every value is one run, so give distinct %s'
                           % (flag(name), ','.join(str(v) for v in listed), value,
                              'seeds' if name == 'seeds' else 'values (and several --seeds '
                              'for runs of one value)'))
        seen.add(key)


def run_one(chapter_name, config):
    """Train one config of a chapter; return {'config', 'runs': {impl: epochs}, 'diverged': {impl: where}}.

    Each version trains on its own, so one that diverges does not stop the other.
    """
    chapter = find_chapter(chapter_name)
    check_impls(chapter, config)
    runs, diverged = {}, {}

    def record(impl, epoch_record, version):
        runs.setdefault(impl, []).append(epoch_record)
    for impl in impls(config):
        try:
            chapter.fit(dict(config, impl=impl), watch=Watch(record))
        except DivergenceError as e:
            # e.impl names the run: the version, or '<case> <version>' in a chapter of several cases
            diverged[e.impl or impl] = {'epoch': e.epoch, 'batch': e.batch}
            runs.setdefault(e.impl or impl, [])
    return {'config': config, 'runs': runs, 'diverged': diverged}


def sweep(chapter_name, configs, processes=1, on_done=None):
    """Run every config (in processes worker processes); return the results in config order.

    on_done(index, result, finished, total) runs in this process after each
    run, in the order runs finish.
    """
    results = [None] * len(configs)
    if processes <= 1:
        for i, config in enumerate(configs):
            results[i] = run_one(chapter_name, config)
            if on_done is not None:
                on_done(i, results[i], i + 1, len(configs))
        return results
    context = multiprocessing.get_context('spawn')
    # the workers start with SIGINT ignored (a spawned Python then installs no handler), so that a
    # terminal's Ctrl-C reaches this process alone, which stops them all at once (the pool's exit
    # terminates its workers); a pool that waited would finish every queued run first
    main = threading.current_thread() is threading.main_thread()  # only it may set handlers
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        pool = context.Pool(processes)
    finally:
        if main:
            signal.signal(signal.SIGINT, handler)
    with pool:
        tasks = [(i, chapter_name, config) for i, config in enumerate(configs)]
        for finished, (i, result) in enumerate(pool.imap_unordered(_run_indexed, tasks), 1):
            results[i] = result
            if on_done is not None:
                on_done(i, result, finished, len(configs))
    return results


def _run_indexed(task):
    i, chapter_name, config = task
    return i, run_one(chapter_name, config)


def final(result, impl, key):
    """Return the last epoch's key of impl in a result (NaN when it diverged or lacks it)."""
    epochs = result['runs'].get(impl, [])
    if impl in result['diverged'] or not epochs or key not in epochs[-1]:
        return float('nan')
    return float(epochs[-1][key])


def table(results, varied):
    """Return one row per combination of the varied options and impl: mean and spread over seeds.

    Each row: {'values': {option: v}, 'impl', 'runs', 'diverged', and for
    'loss' and 'test_acc' (when recorded) the mean and standard deviation of
    the finished runs' final values}.
    """
    groups = {}
    for result in results:
        key = tuple(result['config'][name] for name in varied)
        groups.setdefault(key, []).append(result)
    rows = []
    for key, group in groups.items():
        for impl in sorted({impl for r in group for impl in r['runs']}, reverse=True):
            row = {'values': dict(zip(varied, key)), 'impl': impl, 'runs': len(group),
                   'diverged': sum(1 for r in group if impl in r['diverged'])}
            for metric in ('loss', 'test_acc'):
                finals = np.array([final(r, impl, metric) for r in group])
                finals = finals[np.isfinite(finals)]
                if len(finals):
                    row[metric] = {'mean': float(finals.mean()), 'std': float(finals.std())}
            rows.append(row)
    return rows


def describe(result, varied):
    """Return one line on a finished run: its values, seed and each version's final numbers."""
    parts = ['%s=%g' % (name, result['config'][name]) for name in varied]
    parts.append('seed %d:' % result['config']['seed'])
    for impl in result['runs']:
        if impl in result['diverged']:
            parts.append('%s diverged in epoch %d' % (impl, result['diverged'][impl]['epoch']))
        else:
            last = result['runs'][impl][-1]
            parts.append('%s loss %.4g%s' % (impl, last['loss'], ', test acc %.3f' % last['test_acc']
                                             if 'test_acc' in last else ''))
    return ' '.join(parts)


def format_table(rows):
    """Return the sweep's table as lines: values, version, final loss and test accuracy (mean ± std)."""
    def cell(row, metric, fmt):
        if metric not in row:
            return 'diverged' if row['diverged'] == row['runs'] else '-'
        return (fmt + ' ± ' + fmt) % (row[metric]['mean'], row[metric]['std'])
    lines = ['%-24s %-16s %-22s %-18s %s' % ('values', 'run', 'final loss', 'test acc', 'diverged')]
    for row in rows:
        values = ' '.join('%s=%g' % item for item in row['values'].items())
        lines.append('%-24s %-16s %-22s %-18s %d/%d' % (
            values, row['impl'], cell(row, 'loss', '%.4g'), cell(row, 'test_acc', '%.3f'),
            row['diverged'], row['runs']))
    return lines


def start_sweep(folder, overwrite=False):
    """Check that a sweep may write SWEEP_FILES into folder: a fresh one, or overwrite an earlier sweep's.

    Any file an earlier sweep did not write is refused, or kept with overwrite.
    """
    held = os.path.exists(os.path.join(folder, 'summary.json'))
    if held and not overwrite:
        raise D2LError('%s already holds a sweep; choose a fresh --out or pass --overwrite' % folder)
    for path in claim(folder, own_files(folder, SWEEP_FILES, held), SWEEP_FILES, overwrite):
        os.remove(path)


def run(chapter, plan, configs, out, on_done=None):
    """Run the configs (see grid) of a planned sweep (see arguments.sweep_plan) of chapter into out; return its table.

    on_done(result, finished, total, status) runs after each run, status
    being the time elapsed and left.  On an interrupt or error the runs that
    finished are saved and the error raised again; with none, a folder the
    sweep created is removed.
    """
    varied = sorted(plan['values'])
    refuse_other_runs(out, 'sweep')
    created = not os.path.exists(out)
    with FolderLock(prepare_out_dir(out)):
        start_sweep(out, plan['overwrite'])
        clock = progress.Clock(len(configs))
        done = {}

        def record(i, result, finished, total):
            done[i] = result
            if on_done is not None:
                on_done(result, finished, total, clock.status(finished))
        try:
            sweep(chapter.name, configs, plan['processes'], record)
        except (KeyboardInterrupt, D2LError):
            finished = [done[i] for i in sorted(done)]
            if finished:
                save(out, chapter.name, plan, varied, finished, interrupted=True)
            elif created:
                os.rmdir(out)
            raise
        return save(out, chapter.name, plan, varied, [done[i] for i in range(len(configs))])


def save(out, chapter_name, plan, varied, results, interrupted=False):
    """Write a sweep's sweep.png and summary.json (its values, seeds, table and every run's epochs).

    Return its table.  An interrupted sweep's summary holds the runs that finished and says so.
    """
    from .plot import sweep_curves
    rows = table(results, varied)
    sweep_curves(results, varied, os.path.join(out, 'sweep.png'))
    write_json(os.path.join(out, 'summary.json'), dict({
        'chapter': chapter_name, 'values': plan['values'], 'fixed': plan['fixed'],
        'seeds': plan['seeds'], 'table': rows, 'runs': results},
        **({'interrupted': True} if interrupted else {})))
    return rows
