"""PyTorch's figures for scripts/benchmark.py: each chapter's pytorch version, timed as the others.

Where a chapter has a PyTorch version (the course notes' code, d2l_gluon/d2l_torch.py),
it is measured as the MXNet versions are, from the same seed and on the same
batches (the chapter's loaders yield NDArrays; the PyTorch loop takes them
through numpy, as ``--impl pytorch`` does):

- linear regression and logistic regression on the hours data: ms per step of
  the loop and of the chapter's train, and the floor (scripts/benchmark_steps.py);
- softmax regression and the MLP on Fashion-MNIST: seconds per epoch on the
  fast in-memory path.

Each MXNet version's time is then given as a ratio to PyTorch's, under each engine.

PyTorch runs with as many threads as MXNet's operators use (torch.set_num_threads):
MXNet's OpenMP thread count is MXNET_OMP_MAX_THREADS or OMP_NUM_THREADS when
set, else half the processors on x86, where MXNet assumes two hyper-threads a
core (src/engine/openmp.cc) -- one thread on a 2-core machine.  torch is
imported inside the functions only: without it the rows are skipped.
"""
import os
import platform
import statistics

import mxnet as mx

from d2l_gluon import seed
from d2l_gluon.chapters import chapter
from d2l_gluon.config import make_config

import benchmark_steps  # noqa: E402  (beside this script)


def mxnet_threads():
    """Return how many OpenMP threads MXNet 1.9's CPU operators use, by MXNet's own rule."""
    for name in ('MXNET_OMP_MAX_THREADS', 'OMP_NUM_THREADS'):
        if os.environ.get(name, '').strip():
            return max(1, int(os.environ[name]))
    procs = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    x86 = platform.machine().lower() in ('x86_64', 'amd64', 'i386', 'i686', 'x86')
    # MXNet halves omp_get_num_procs() on x86, counting each core as two hyper-threads
    return max(1, procs // 2 if x86 else procs)


def load_torch(threads):
    """Return (torch set to threads, None), or (None, the line saying why the rows are skipped)."""
    try:
        import torch
    except (ImportError, OSError) as e:  # not installed, or a library of it missing
        return None, 'PyTorch rows skipped: torch cannot be imported (%s)' % e
    torch.set_num_threads(threads)
    return torch, None


def time_epochs(one_epoch, warmup, epochs):
    """Return the seconds of each timed call of one_epoch() after warmup untimed ones."""
    seconds = [benchmark_steps.best_time(one_epoch, 1) for _ in range(warmup + epochs)]
    return seconds[warmup:]


def measure(models, train_iter, s, seed_value, threads):
    """Return the pytorch versions' figures, or {'skipped': why} when torch cannot be imported.

    models maps a Fashion-MNIST model's name to (chapter module, lr); train_iter is
    the fast loader the MXNet versions' epochs were timed on; s the run's settings.
    """
    torch, why = load_torch(threads)
    if torch is None:
        return {'skipped': why}
    result = {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'steps': {}, 'fast': {}}
    for name in benchmark_steps.CHAPTERS:
        if 'pytorch' in chapter(name).impls:
            result['steps'][name] = benchmark_steps.measure_version(name, 'pytorch', seed_value, s['steps'],
                                                                    s['step_repeats'])
    for name, (model, lr) in models.items():
        seed(seed_value + 1)  # the start every version is built from
        version = model.setup('pytorch', make_config(model.OPTIONS, lr=lr), mx.cpu())
        # batch_size None: each step divides by its batch's size, as the MXNet versions' epochs here
        seconds = time_epochs(benchmark_steps.epoch(version, train_iter, None), s['warmup'], s['epochs'])
        result['fast'][name] = {'seconds': seconds, 'median': statistics.median(seconds)}
    return result


def add_ratios(pytorch, steps, fast_by_engine):
    """Add to pytorch (measure's result) each MXNet version's time ÷ PyTorch's, by engine.

    steps is the list of each engine's small-chapter figures, fast_by_engine
    {engine: {model: {impl: s per epoch}}}.
    """
    if 'skipped' in pytorch:
        return
    pytorch['steps/pytorch'] = {
        figures['engine']: {name: {impl: f['ms_per_step'] / pytorch['steps'][name]['ms_per_step']
                                   for impl, f in figures['chapters'][name].items()}
                            for name in pytorch['steps']}
        for figures in steps}
    pytorch['fast/pytorch'] = {
        engine: {name: {impl: t / pytorch['fast'][name]['median'] for impl, t in epochs[name].items()}
                 for name in pytorch['fast']}
        for engine, epochs in fast_by_engine.items()}


def report(pytorch, steps, fast_by_engine):
    """Return text lines: PyTorch's figures, then each MXNet version's against them, by engine."""
    if 'skipped' in pytorch:
        return [pytorch['skipped']]
    lines = ['PyTorch %s, %d thread(s) (torch.set_num_threads: as many as MXNet\'s operators use here): '
             'each version\'s time / the pytorch version\'s, same batches and seed; the pytorch loop '
             'takes the NDArray batches through numpy' % (pytorch['torch'], pytorch['threads'])]
    lines.append('%-9s %-8s %9s %9s %-26s %9s %9s %10s %10s' % (
        'chapter', 'unit', 'pytorch', 'pt floor', 'engine', 'scratch', 'gluon', 'scratch/pt', 'gluon/pt'))
    row = '%-9s %-8s %9.3f %9s %-26s %9.3f %9.3f %10.2f %10.2f'
    for name, own in pytorch['steps'].items():
        for figures in steps:
            mine, ratio = figures['chapters'][name], pytorch['steps/pytorch'][figures['engine']][name]
            lines.append(row % (name, 'ms/step', own['ms_per_step'], '%.3f' % own['floor_ms'],
                                figures['engine'], mine['scratch']['ms_per_step'],
                                mine['gluon']['ms_per_step'], ratio['scratch'], ratio['gluon']))
    for name, own in pytorch['fast'].items():
        for engine, epochs in fast_by_engine.items():
            ratio = pytorch['fast/pytorch'][engine][name]
            lines.append(row % (name, 's/epoch', own['median'], '-', engine, epochs[name]['scratch'],
                                epochs[name]['gluon'], ratio['scratch'], ratio['gluon']))
    return lines
