#!/usr/bin/env python
"""Benchmark every chapter that trains: where does an epoch's, and a step's, time go?

For each model (book defaults: batch 256, lr 0.1 / 0.5, 256 ReLU hiddens) and
each implementation (scratch, Gluon) it measures, in one run:

- seconds per training epoch (median after a warm-up epoch) with the book's
  pipeline (gluon DataLoader + ToTensor, --book-workers processes) and with
  the fast in-memory path, each through the book's d2l.train_epoch_ch3;
- seconds of d2l.evaluate_accuracy over the 10000 test images (fast path);
- GEMM GFLOP/s at the models' matrix-product shapes for nd.dot,
  nd.FullyConnected (oneDNN) and numpy matmul, and from the best of them each
  model's compute lower bound per epoch (FLOPs of its matrix products ÷ the
  best measured GEMM rate);
- each epoch's floor: the model's recorded forward, backward and update alone,
  repeated on one preloaded batch, times the batches of an epoch -- what the
  per-call overhead alone costs, set beside the compute bound.

For the small chapters (linear regression, polyfit, weight decay, logistic
regression on the hours data) it measures each step against its floor, with
scripts/benchmark_steps.py.  MXNet reads MXNET_ENGINE_TYPE once, when its
engine starts, so the other engine's figures (threaded or NaiveEngine) come
from a child process that measures the steps, the fast epochs and their
floors again; if the child fails, the run goes on without them.  Where a
chapter has a PyTorch version and torch can be imported, that version is
timed too and every version set against it (scripts/benchmark_torch.py).

It prints a table and the performance ratios with their targets, and writes JSON
(--out, default benchmark.json).  It measures; it never fails on a target.
Timings are wall-clock: when other processes share the cores, runs can differ
by 2x (the JSON records the load average before and after).

    python scripts/benchmark.py                  # full run, a few minutes
    python scripts/benchmark.py --quick --out tmp/benchmark.json   # CI smoke test
"""
import os

# before d2l_gluon picks OpenBLAS kernels for this CPU: was the choice the user's?
USER_OPENBLAS_CORETYPE = os.environ.get('OPENBLAS_CORETYPE')

import argparse  # noqa: E402
import itertools  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import json  # noqa: E402
import tempfile  # noqa: E402

import d2l_gluon  # noqa: E402  (first: it tunes OpenBLAS before mxnet loads)
import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from mxnet import nd  # noqa: E402

from d2l_gluon import d2l, seed  # noqa: E402
from d2l_gluon.chapters import mlp, softmax_regression  # noqa: E402
from d2l_gluon.config import make_config, parse  # noqa: E402
from d2l_gluon.data import load_fashion_mnist  # noqa: E402
from d2l_gluon.errors import D2LError  # noqa: E402
from d2l_gluon.files import prepare_out_dir, write_json  # noqa: E402

import benchmark_steps  # noqa: E402  (beside this script)
import benchmark_torch  # noqa: E402

# model name -> (chapter module with init_params and setup; the book's learning rate)
MODELS = {'softmax': (softmax_regression, 0.1), 'mlp': (mlp, 0.5)}
IMPLS = ('scratch', 'gluon')
LOADERS = ('book', 'fast')
BACKENDS = ('nd.dot', 'nd.FullyConnected', 'numpy')
ENGINES = ('ThreadedEnginePerDevice', 'NaiveEngine')
# The targets, each a ratio of two figures of one run (never a timed test):
# - step/floor <= 1.3 for the small chapters: what the loop adds to the model's own forward,
#   backward and update (drawing the batch, the epoch's loss sums) should cost less than a third
#   of that step; all of it is operator calls, and the floor holds the fewest a step can make.
# - fast/lower bound <= 4 for softmax regression: its arithmetic (16 ms an epoch at the best GEMM
#   rate) is smaller than the cost of its 235 steps' operator calls (about 25 calls of 30-60 us
#   each), so 4x is what per-call overhead allows; <= 1.3 for the MLP, whose GEMMs dominate.
# - scratch/gluon <= 1.2: our own model, loss and sgd may cost a little more than Gluon's
#   fused kernels, not much more.
# book/fast is printed without a target: the book pipeline's speed is its DataLoader workers',
# and the MLP cannot be 15x faster than it here (its compute bound is above 1/15 of it).
TARGETS = {'step/floor': 1.3, 'fast/lower bound': {'softmax': 4.0, 'mlp': 1.3}, 'scratch/gluon': 1.2}


# ---- building and timing the models

def layer_shapes(model):
    """Return [(num_inputs, num_outputs)] of the model's weight matrices, read from init_params."""
    return [tuple(p.shape) for p in model.init_params() if p.ndim == 2]


class Limited:
    """A re-iterable loader that stops each epoch after max_batches batches (None: never)."""

    def __init__(self, loader, max_batches):
        self.loader, self.max_batches = loader, max_batches

    def __iter__(self):
        return itertools.islice(iter(self.loader), self.max_batches)


def time_training(net, loss, updater, train_iter, warmup, epochs):
    """Return seconds of each timed epoch, the examples in the last one and its mean loss."""
    seconds = []
    for epoch in range(warmup + epochs):
        start = time.perf_counter()
        # the training step alone: each step divides by its batch's size, no accuracy is counted
        sums, _, sizes = d2l.train_epoch_ch3(net, train_iter, loss, updater, None, accuracy=None)
        # train_epoch_ch3 synced on the losses; the last parameter update may still be queued
        nd.waitall()
        if epoch >= warmup:
            seconds.append(time.perf_counter() - start)
    return seconds, int(sizes.sum()), float(sums.sum() / sizes.sum())


def time_loading(train_iter, warmup, epochs):
    """Return seconds of each timed pass that only draws the batches, computing nothing."""
    seconds = []
    for epoch in range(warmup + epochs):
        start = time.perf_counter()
        for X, y in train_iter:
            pass
        nd.waitall()  # the fast path's take() runs asynchronously
        if epoch >= warmup:
            seconds.append(time.perf_counter() - start)
    return seconds


def time_evaluation(net, test_iter, repeats):
    """Return (seconds of each timed evaluate_accuracy pass after one warm-up, the accuracy)."""
    acc = d2l.evaluate_accuracy(test_iter, net)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        acc = d2l.evaluate_accuracy(test_iter, net)  # returns a float: the device is done
        seconds.append(time.perf_counter() - start)
    return seconds, acc


def epoch_floor(version, train_iter, epoch_seconds, examples, s):
    """Return an epoch's floor (the version's minimal step on one preloaded batch, times the epoch's
    batches) and epoch_seconds ÷ it.

    The step is benchmark_steps.floor_step (recorded forward, backward and update)
    on a full batch, so a short last batch counts as a full one (1 of 235 here).
    """
    X, y = next(iter(train_iter))
    X, y = X.copy(), y.copy()  # preloaded: no gather in the timed steps
    step = benchmark_steps.floor_seconds(benchmark_steps.floor_step(version, X, y, X.shape[0]),
                                         s['floor_steps'], s['step_repeats'])
    batches = math.ceil(examples / X.shape[0])
    return {'step_ms': step * 1e3, 'batches': batches, 'seconds': step * batches,
            'fast/floor': epoch_seconds / (step * batches)}


# ---- GEMM rates and the compute lower bound

def gemm_list(layers, batch_size):
    """Return the matrix products of one training step as dicts with name, M, K, N and transposes.

    Forward X·W for every layer; backward the weight gradient Xᵀ·dY for every
    layer and the input gradient dY·Wᵀ for every layer but the first -- the
    products autograd runs for nd.dot, with the transposes as BLAS flags.
    """
    gemms = []
    for i, (n_in, n_out) in enumerate(layers):
        x = 'X' if i == 0 else 'H%d' % i
        dy = 'dO' if i == len(layers) - 1 else 'dH%d' % (i + 1)
        w = 'W%d' % (i + 1) if len(layers) > 1 else 'W'
        gemms.append(dict(name='%s·%s' % (x, w), M=batch_size, K=n_in, N=n_out,
                          trans_a=False, trans_b=False))
        gemms.append(dict(name='%sᵀ·%s' % (x, dy), M=n_in, K=batch_size, N=n_out,
                          trans_a=True, trans_b=False))
        if i > 0:
            gemms.append(dict(name='%s·%sᵀ' % (dy, w), M=batch_size, K=n_out, N=n_in,
                              trans_a=False, trans_b=True))
    return gemms


def flops_per_example(layers):
    """Return the multiply-adds ×2 of one example's forward and backward matrix products."""
    # forward and weight gradient: 2·in·out each; input gradient: 2·in·out, not for the first layer
    return sum(2 * n_in * n_out * (2 if i == 0 else 3) for i, (n_in, n_out) in enumerate(layers))


def best_seconds_per_call(call, wait, min_seconds, repeats):
    """Return the best over repeats of seconds per call, timing enough calls to last min_seconds."""
    call()
    wait()  # warm-up: allocation, oneDNN primitive creation
    start = time.perf_counter()
    for _ in range(10):
        call()
    wait()
    number = max(1, math.ceil(min_seconds / ((time.perf_counter() - start) / 10)))
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            call()
        wait()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def gemm_rates(M, K, N, trans_a, trans_b, min_seconds, repeats):
    """Return {backend: GFLOP/s} of C(M×N) = op(A)·op(B) for nd.dot, nd.FullyConnected and numpy."""
    rng = np.random.RandomState(0)
    a = rng.standard_normal((K, M) if trans_a else (M, K)).astype(np.float32)
    b = rng.standard_normal((N, K) if trans_b else (K, N)).astype(np.float32)
    a_op, b_op = (a.T if trans_a else a), (b.T if trans_b else b)  # views: BLAS gets transpose flags
    A, B, C = nd.array(a), nd.array(b), nd.zeros((M, N))
    # FullyConnected computes data·weightᵀ with data (M, K) and weight (N, K): lay them out so
    data, weight = nd.array(np.ascontiguousarray(a_op)), nd.array(np.ascontiguousarray(b_op.T))
    c = np.empty((M, N), dtype=np.float32)
    # writing every call into the same `out` orders the engine's calls one after another
    calls = {
        'nd.dot': (lambda: nd.dot(A, B, transpose_a=trans_a, transpose_b=trans_b, out=C),
                   C.wait_to_read),
        'nd.FullyConnected': (lambda: nd.FullyConnected(data, weight, no_bias=True, num_hidden=N, out=C),
                              C.wait_to_read),
        'numpy': (lambda: np.matmul(a_op, b_op, out=c), lambda: None),
    }
    expected = a_op.astype(np.float64) @ b_op.astype(np.float64)
    rates = {}
    for backend, (call, wait) in calls.items():
        seconds = best_seconds_per_call(call, wait, min_seconds, repeats)
        result = c if backend == 'numpy' else C.asnumpy()
        # a fast wrong answer is no rate: check the product once
        if not np.allclose(result, expected, rtol=1e-3, atol=1e-3 * math.sqrt(K)):
            raise RuntimeError('%s gave a wrong product for %dx%dx%d' % (backend, M, K, N))
        rates[backend] = 2.0 * M * K * N / seconds / 1e9
    return rates


def measure_gemms(layers_by_model, batch_size, min_seconds, repeats):
    """Return the distinct GEMMs of all models, each with the models using it and its rates."""
    gemms = {}
    for name, layers in layers_by_model.items():
        for g in gemm_list(layers, batch_size):
            key = (g['M'], g['K'], g['N'], g['trans_a'], g['trans_b'])
            gemms.setdefault(key, dict(g, models=[]))['models'].append(name)
    for g in gemms.values():
        g['gflops'] = gemm_rates(g['M'], g['K'], g['N'], g['trans_a'], g['trans_b'], min_seconds, repeats)
    return list(gemms.values())


def lower_bounds(layers, batch_size, examples, gemms, best_rate):
    """Return the model's GEMM FLOPs per epoch and two lower bounds in seconds.

    ``seconds``: FLOPs ÷ the best GEMM rate measured at any shape (the
    bound).  ``seconds_per_shape``: each product's FLOPs ÷ the best rate
    measured at its own shape -- closer to what this hardware can do at batch
    size 256, still ignoring everything but the matrix products.
    """
    by_key = {(g['M'], g['K'], g['N'], g['trans_a'], g['trans_b']): g for g in gemms}
    flops = flops_per_example(layers) * examples
    per_shape = 0.0
    for g in gemm_list(layers, batch_size):
        g_flops = 2.0 * g['M'] * g['K'] * g['N'] * examples / batch_size
        per_shape += g_flops / (max(by_key[(g['M'], g['K'], g['N'], g['trans_a'], g['trans_b'])]
                                    ['gflops'].values()) * 1e9)
    return {'flops_per_epoch': flops, 'seconds': flops / (best_rate * 1e9),
            'seconds_per_shape': per_shape}


# ---- the whole run

def machine_info():
    """Return what the numbers depend on: CPU, cores, library versions, threading and BLAS settings."""
    cpu, flags = platform.processor(), set()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                if key.strip() == 'model name':
                    cpu = value.strip()
                elif key.strip() == 'flags':
                    flags = set(value.split())
    except OSError:
        pass
    features = mx.runtime.Features()
    return {
        'cpu': cpu,
        'cpu_flags': sorted(flags & {'avx', 'avx2', 'fma', 'avx512f', 'avx512_vnni', 'amx_tile'}),
        'nproc': len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count(),
        'cpu_count': os.cpu_count(),
        'load_average': list(os.getloadavg()),
        'python': platform.python_version(),
        'mxnet': mx.__version__,
        'numpy': np.__version__,
        'd2l_gluon': d2l_gluon.__version__,
        'mxnet_features': [name for name in ('MKLDNN', 'BLAS_OPEN', 'BLAS_MKL', 'OPENMP', 'CUDA')
                           if features.is_enabled(name)],
        'OPENBLAS_CORETYPE': os.environ.get('OPENBLAS_CORETYPE'),
        'OPENBLAS_CORETYPE_set_by_user': USER_OPENBLAS_CORETYPE is not None,
        'env': {name: os.environ.get(name) for name in (
            'OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS',
            'MXNET_CPU_WORKER_NTHREADS', 'MXNET_ENGINE_TYPE', 'MXNET_SUBGRAPH_BACKEND')},
    }


def code_version():
    """Return the git commit of the code measured and whether the working tree had changes, if known."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository
    try:
        commit = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=here, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        status = subprocess.run(['git', 'status', '--porcelain', '--', 'd2l_gluon'], cwd=here,
                                capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {'commit': None, 'd2l_gluon_modified': None}
    return {'commit': commit or None, 'd2l_gluon_modified': bool(status.strip()) if commit else None}


def settings(args):
    """Return the run's epochs, batch limits and repetitions (--quick shrinks them all)."""
    if args.quick:
        return dict(warmup=1, epochs=1, max_batches=20, eval_repeats=1, gemm_seconds=0.005,
                    gemm_repeats=2, steps=20, step_repeats=1, floor_steps=5)
    return dict(warmup=1, epochs=args.epochs, max_batches=None, eval_repeats=3, gemm_seconds=0.05,
                gemm_repeats=5, steps=300, step_repeats=7, floor_steps=100)


def engine():
    """Return the name of the engine this process's MXNet runs (MXNET_ENGINE_TYPE, else its default)."""
    return os.environ.get('MXNET_ENGINE_TYPE') or ENGINES[0]


def fast_epochs(args, s, ctx):
    """Return this engine's fast-path epochs, {model: {impl: median s}}, and their epoch_floor()s."""
    seed(args.seed)
    train_iter = Limited(load_fashion_mnist(args.batch_size, args.data_dir, 'fast', 0, ctx)[0],
                         s['max_batches'])
    epochs, floors = {}, {}
    for name, (model, lr) in MODELS.items():
        epochs[name], floors[name] = {}, {}
        for impl in IMPLS:
            seed(args.seed + 1)
            version = model.setup(impl, make_config(model.OPTIONS, lr=lr), ctx)
            seconds, examples, _ = time_training(version.net, version.loss, version.updater, train_iter,
                                                 s['warmup'], s['epochs'])
            epochs[name][impl] = statistics.median(seconds)
            floors[name][impl] = epoch_floor(version, train_iter, epochs[name][impl], examples, s)
    return epochs, floors


def engine_child(args):
    """Return what a child process measures under its engine: small chapters' steps, fast epochs, floors."""
    s = settings(args)
    fast, floor = fast_epochs(args, s, mx.cpu())
    return {'steps': benchmark_steps.measure(s['steps'], s['step_repeats'], args.seed),
            'fast': fast, 'floor': floor}


def child_command(args, out):
    """Return the command that measures engine_child's figures and writes them to out as JSON."""
    command = [sys.executable, os.path.abspath(__file__), '--engine-child', '--out', out,
               '--seed', str(args.seed), '--batch-size', str(args.batch_size), '--epochs', str(args.epochs)]
    command += ['--quick'] if args.quick else []
    return command + (['--data-dir', args.data_dir] if args.data_dir else [])


def other_engine(args):
    """Return engine_child's figures measured in a child process under the other engine.

    When the child fails, print one line on stderr naming why (the child's
    last line there) and return {'engine': other, 'error': why}: the run goes
    on with this engine's figures alone, and the report says what is missing.
    """
    other = ENGINES[0] if engine() == 'NaiveEngine' else 'NaiveEngine'
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, 'engine.json')
        try:
            child = subprocess.run(child_command(args, out), env=dict(os.environ, MXNET_ENGINE_TYPE=other),
                                   capture_output=True, text=True)
            lines = [line.strip() for line in child.stderr.splitlines() if line.strip()]
            why = None if child.returncode == 0 else 'exit code %d: %s' % (
                child.returncode, lines[-1] if lines else 'nothing on stderr')
        except OSError as e:  # the interpreter could not start
            why = str(e)
        if why is None:
            with open(out) as f:
                return json.load(f)
    print('benchmark: the %s child process failed (%s); going on without its figures' % (other, why),
          file=sys.stderr, flush=True)
    return {'engine': other, 'error': why}


def run(args, log=print):
    """Measure everything and return the results as one JSON-ready dict; log(line) reports progress."""
    s = settings(args)
    ctx = mx.cpu()
    results = {'machine': machine_info(), 'code': code_version(),
               'time': time.strftime('%Y-%m-%d %H:%M:%S'),
               'config': dict(s, quick=args.quick, batch_size=args.batch_size, book_workers=args.book_workers,
                              seed=args.seed, torch_threads=args.torch_threads),
               'train': {}, 'load': {}, 'eval': {}, 'models': {}, 'floor_by_engine': {engine(): {}}}
    fast_iter = measure_epochs(args, s, ctx, results, log)

    layers = {name: layer_shapes(model) for name, (model, _) in MODELS.items()}
    gemms = measure_gemms(layers, args.batch_size, s['gemm_seconds'], s['gemm_repeats'])
    best = max(((rate, backend, g['name']) for g in gemms for backend, rate in g['gflops'].items()))
    results['gemm'] = {'shapes': gemms, 'best_gflops': best[0], 'best_backend': best[1],
                       'best_shape': best[2]}
    log('GEMM: best %.1f GFLOP/s (%s, %s)' % best)

    for name in MODELS:
        examples = results['train'][name]['gluon']['fast']['examples']
        bound = lower_bounds(layers[name], args.batch_size, examples, gemms, best[0])
        results['models'][name] = dict(layers=layers[name], examples_per_epoch=examples,
                                       flops_per_example=flops_per_example(layers[name]), lower_bound=bound)
    measure_engines(args, s, results, log)
    # last: importing torch and running it in this process must not touch the MXNet figures
    results['pytorch'] = benchmark_torch.measure(MODELS, fast_iter, s, args.seed, args.torch_threads)
    benchmark_torch.add_ratios(results['pytorch'], results['steps'], results['fast_by_engine'])
    log(results['pytorch'].get('skipped') or 'pytorch versions measured with %d threads'
        % results['pytorch']['threads'])
    results['ratios'] = ratios(results)
    results['machine']['load_average_end'] = list(os.getloadavg())
    return results


def measure_epochs(args, s, ctx, results, log):
    """Fill results' load, train, eval and floor figures of Fashion-MNIST; return the fast loader."""
    seed(args.seed)
    loaders = {}
    for loader in LOADERS:
        workers = args.book_workers if loader == 'book' else 0
        train_iter, test_iter = load_fashion_mnist(args.batch_size, args.data_dir, loader, workers, ctx)
        loaders[loader] = Limited(train_iter, s['max_batches'])
        if loader == 'fast':
            fast_test_iter = test_iter

    for loader in LOADERS:
        seconds = time_loading(loaders[loader], s['warmup'], s['epochs'])
        results['load'][loader] = {'seconds': seconds, 'median': statistics.median(seconds)}
        log('%-7s %-7s %-5s %s s' % ('(load)', '', loader, ' '.join('%.3f' % t for t in seconds)))

    for name, (model, lr) in MODELS.items():
        results['train'][name], results['eval'][name] = {}, {}
        floors = results['floor_by_engine'][engine()][name] = {}
        for impl in IMPLS:
            results['train'][name][impl] = {}
            for loader in LOADERS:
                seed(args.seed + 1)  # every build starts from the same state, as in the CLI
                version = model.setup(impl, make_config(model.OPTIONS, lr=lr), ctx)
                seconds, examples, mean_loss = time_training(version.net, version.loss, version.updater,
                                                             loaders[loader], s['warmup'], s['epochs'])
                results['train'][name][impl][loader] = {
                    'seconds': seconds, 'median': statistics.median(seconds), 'examples': examples,
                    'loss': mean_loss}
                log('%-7s %-7s %-5s %s s' % (name, impl, loader, ' '.join('%.3f' % t for t in seconds)))
            # evaluate the net just trained on the fast path, then time its floor
            seconds, acc = time_evaluation(version.net, fast_test_iter, s['eval_repeats'])
            results['eval'][name][impl] = {'seconds': seconds, 'median': statistics.median(seconds),
                                           'accuracy': acc}
            log('%-7s %-7s eval  %s s' % (name, impl, ' '.join('%.3f' % t for t in seconds)))
            fast = results['train'][name][impl]['fast']
            floors[impl] = floor = epoch_floor(version, loaders['fast'], fast['median'], fast['examples'], s)
            log('%-7s %-7s floor %.3f s (%.3f ms a step)' % (name, impl, floor['seconds'], floor['step_ms']))
    return loaders['fast']


def measure_engines(args, s, results, log):
    """Fill results' steps and each engine's fast epochs and floors, the other engine's from a child."""
    results['steps'] = [benchmark_steps.measure(s['steps'], s['step_repeats'], args.seed)]
    log('small chapters measured under %s' % engine())
    results['fast_by_engine'] = {engine(): {name: {impl: results['train'][name][impl]['fast']['median']
                                                   for impl in IMPLS} for name in MODELS}}
    child = other_engine(args)
    if 'error' in child:
        results['other_engine'] = child
    else:
        results['steps'].append(child['steps'])
        results['fast_by_engine'][child['steps']['engine']] = child['fast']
        results['floor_by_engine'][child['steps']['engine']] = child['floor']
        log('both measured again under %s' % child['steps']['engine'])


def ratios(results):
    """Return the performance ratios of this process's engine, each with its target and (except in
    --quick) whether it is met."""
    train, quick = results['train'], results['config']['quick']
    rows = []

    def add(what, kind, value, target):
        rows.append({'what': what, 'ratio': kind, 'value': value, 'target': '<= %g' % target,
                     'met': None if quick else value <= target})

    for name, versions in results['steps'][0]['chapters'].items():
        for impl, figures in versions.items():
            add('%s %s' % (name, impl), 'step/floor', figures['step/floor'], TARGETS['step/floor'])
    for name in MODELS:
        for impl in IMPLS:
            add('%s %s' % (name, impl), 'fast/lower bound',
                train[name][impl]['fast']['median'] / results['models'][name]['lower_bound']['seconds'],
                TARGETS['fast/lower bound'][name])
    for name in MODELS:
        add(name, 'scratch/gluon',
            train[name]['scratch']['fast']['median'] / train[name]['gluon']['fast']['median'],
            TARGETS['scratch/gluon'])
    return rows


# ---- printing

def report(results):
    """Return the results as text tables."""
    c, lines = results['config'], []
    batches = 'all batches' if c['max_batches'] is None else 'first %d batches' % c['max_batches']
    lines.append('training: seconds per epoch, median of %d after %d warm-up (%s, batch %d); '
                 'book loader with %d workers'
                 % (c['epochs'], c['warmup'], batches, c['batch_size'], c['book_workers']))
    lines.append('%-8s %-8s %9s %9s %9s %9s %11s %10s %10s %9s %10s'
                 % ('model', 'impl', 'book s', 'fast s', 'book/fast', 'eval s', 'bound s', 'fast/bound',
                    'shape b.', 'floor s', 'fast/floor'))
    floors = results['floor_by_engine'][results['steps'][0]['engine']]
    for name in MODELS:
        bound = results['models'][name]['lower_bound']
        for impl in IMPLS:
            t, floor = results['train'][name][impl], floors[name][impl]
            book, fast = t['book']['median'], t['fast']['median']
            lines.append('%-8s %-8s %9.3f %9.3f %9.1f %9.3f %11.4f %10.1f %10.1f %9.3f %10.2f'
                         % (name, impl, book, fast, book / fast, results['eval'][name][impl]['median'],
                            bound['seconds'], fast / bound['seconds'], fast / bound['seconds_per_shape'],
                            floor['seconds'], floor['fast/floor']))
    lines.append('bound s = GEMM FLOPs per epoch / best GEMM rate (%.1f GFLOP/s, %s at %s); shape b. = '
                 'fast / (each product at the best rate for its own shape)'
                 % (results['gemm']['best_gflops'], results['gemm']['best_backend'],
                    results['gemm']['best_shape']))
    lines.append('floor s = the step alone (recorded forward, backward, update on one preloaded batch, '
                 'best of %d runs of %d) x %d batches' % (c['step_repeats'], c['floor_steps'],
                                                         floors['softmax']['gluon']['batches']))
    lines.append('drawing the batches alone: book %.3f s, fast %.3f s per epoch'
                 % (results['load']['book']['median'], results['load']['fast']['median']))
    for name_engine, epochs in results['fast_by_engine'].items():
        lines.append('fast s per epoch, %s: %s' % (name_engine, ', '.join(
            '%s %s %.3f (%.1fx bound, %.2fx floor)'
            % (name, impl, t, t / results['models'][name]['lower_bound']['seconds'],
               results['floor_by_engine'][name_engine][name][impl]['fast/floor'])
            for name, by_impl in epochs.items() for impl, t in by_impl.items())))
    if 'other_engine' in results:
        lines.append('%s: not measured, its child process failed (%s)'
                     % (results['other_engine']['engine'], results['other_engine']['error']))
    lines.append('')
    lines += benchmark_steps.report(results['steps'])
    lines.append('')
    lines += benchmark_torch.report(results['pytorch'], results['steps'], results['fast_by_engine'])
    lines.append('')
    lines.append('GEMM GFLOP/s at the models\' shapes (best of %d)' % c['gemm_repeats'])
    lines.append('%-12s %-12s %5s %5s %5s' % ('product', 'models', 'M', 'K', 'N')
                 + ''.join('%19s' % b for b in BACKENDS))
    for g in results['gemm']['shapes']:
        lines.append('%-12s %-12s %5d %5d %5d' % (g['name'], ','.join(g['models']), g['M'], g['K'], g['N'])
                     + ''.join('%19.1f' % g['gflops'][b] for b in BACKENDS))
    lines.append('')
    lines.append('performance targets, %s%s' % (results['steps'][0]['engine'],
                                                ' (--quick: few batches, not meaningful)' if c['quick'] else ''))
    for r in results['ratios']:
        met = '-' if r['met'] is None else ('met' if r['met'] else 'NOT met')
        lines.append('%-16s %-17s %8.2f   target %-7s %s'
                     % (r['what'], r['ratio'], r['value'], r['target'], met))
    m = results['machine']
    lines.append('')
    lines.append('%s, %d cores, mxnet %s, OPENBLAS_CORETYPE=%s, OMP_NUM_THREADS=%s, load average %.2f -> %.2f'
                 % (m['cpu'], m['nproc'], m['mxnet'], m['OPENBLAS_CORETYPE'], m['env']['OMP_NUM_THREADS'],
                    m['load_average'][0], m['load_average_end'][0]))
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='benchmark.json', help='JSON results (default benchmark.json)')
    parser.add_argument('--quick', action='store_true',
                        help='smoke test: 20 batches per epoch, 1 timed epoch, short GEMM timings')
    parser.add_argument('--book-workers', type=lambda text: parse('natural', text), default=4,
                        help="DataLoader worker processes of the book's pipeline "
                             "(default 4, the book's choice on Linux)")
    parser.add_argument('--epochs', type=lambda text: parse('count', text), default=3,
                        help='timed epochs per measurement after one warm-up (default 3)')
    parser.add_argument('--batch-size', type=lambda text: parse('count', text), default=256)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--data-dir', help='folder with the four Fashion-MNIST idx files')
    parser.add_argument('--torch-threads', type=lambda text: parse('count', text),
                        default=benchmark_torch.mxnet_threads(),
                        help="PyTorch's threads (default %d: as many as MXNet's operators use here)"
                             % benchmark_torch.mxnet_threads())
    parser.add_argument('--engine-child', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.engine_child:  # the other engine's figures, for the parent's run
        write_json(args.out, engine_child(args))
        return 0
    try:
        prepare_out_dir(os.path.dirname(os.path.abspath(args.out)))
        results = run(args, log=lambda line: print(line, flush=True))
    except D2LError as e:
        print('benchmark: error: %s' % e, file=sys.stderr)
        return e.exit_code
    print()
    print(report(results))
    write_json(args.out, results)
    print('results in %s' % args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
