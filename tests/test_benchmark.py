"""scripts/benchmark.py: --quick runs and records every measurement (no timing thresholds), and its
parts that need no measurement: a failing child, no torch, the thread count."""
import json
import math
import os
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'scripts', 'benchmark.py')
MODELS, IMPLS, LOADERS = ('softmax', 'mlp'), ('scratch', 'gluon'), ('book', 'fast')
BACKENDS = ('nd.dot', 'nd.FullyConnected', 'numpy')


def positive_finite(x):
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


@pytest.mark.slow  # several processes or many runs: seconds the fast tier skips; CI runs it
def test_quick_benchmark_records_every_model_implementation_and_loader(tmp_path):
    out = tmp_path / 'tmp' / 'benchmark.json'  # the folder does not exist yet: the script makes it
    result = subprocess.run([sys.executable, SCRIPT, '--quick', '--out', str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert 'performance targets' in result.stdout
    results = json.loads(out.read_text())

    for model in MODELS:
        for impl in IMPLS:
            for loader in LOADERS:
                run = results['train'][model][impl][loader]
                assert run['seconds'], (model, impl, loader)
                assert all(positive_finite(t) for t in run['seconds']), (model, impl, loader)
                assert positive_finite(run['median'])
                assert run['examples'] == 20 * 256  # --quick: 20 full batches per epoch
                assert math.isfinite(run['loss'])
            evaluation = results['eval'][model][impl]
            assert positive_finite(evaluation['median']) and 0 <= evaluation['accuracy'] <= 1
        bound = results['models'][model]['lower_bound']
        assert positive_finite(bound['seconds'])
    # forward and weight gradient of every layer, input gradient of all but the first: 2 flops a multiply-add
    n = 20 * 256
    assert results['models']['softmax']['lower_bound']['flops_per_epoch'] == 2 * 2 * n * 784 * 10
    assert (results['models']['mlp']['lower_bound']['flops_per_epoch']
            == 2 * n * (2 * 784 * 256 + 3 * 256 * 10))

    shapes = results['gemm']['shapes']
    assert {g['name'] for g in shapes} >= {'X·W', 'Xᵀ·dO', 'X·W1', 'Xᵀ·dH1', 'dO·W2ᵀ'}
    for g in shapes:
        assert all(positive_finite(g['gflops'][b]) for b in BACKENDS), g
    assert results['gemm']['best_gflops'] == max(r for g in shapes for r in g['gflops'].values())

    assert {(r['what'], r['ratio']) for r in results['ratios']} >= {
        ('mlp gluon', 'fast/lower bound'), ('softmax', 'scratch/gluon'), ('mlp', 'scratch/gluon')}
    assert all(positive_finite(r['value']) and r['met'] is None for r in results['ratios'])
    assert_small_chapters_measured(results)
    assert_floors_and_pytorch_measured(results, result.stdout)
    machine = results['machine']
    assert machine['mxnet'] and machine['nproc'] >= 1 and 'OPENBLAS_CORETYPE' in machine
    assert 'OMP_NUM_THREADS' in machine['env']


def assert_small_chapters_measured(results):
    """Both engines measured every small chapter's versions: time, calls and floor per step."""
    steps = results['steps']
    assert {figures['engine'] for figures in steps} == {'ThreadedEnginePerDevice', 'NaiveEngine'}
    assert set(results['fast_by_engine']) == {figures['engine'] for figures in steps}
    for figures in steps:
        assert positive_finite(figures['empty_call_us'])
        assert set(figures['chapters']) == {'linreg', 'polyfit', 'weight-decay', 'logreg'}
        for name, versions in figures['chapters'].items():
            assert set(versions) == set(IMPLS)
            for f in versions.values():
                for key in ('ms_per_step', 'train_ms_per_step', 'floor_ms', 'step/floor'):
                    assert positive_finite(f[key]), (name, key)
                # a step makes at least its forward's and update's calls: 2 or more
                assert f['calls_per_step'] >= 2, name
    step_rows = {r['what'] for r in results['ratios'] if r['ratio'] == 'step/floor'}
    assert step_rows == {'%s %s' % (name, impl) for name in steps[0]['chapters'] for impl in IMPLS}


def assert_floors_and_pytorch_measured(results, stdout):
    """Every engine's Fashion-MNIST floors, and the pytorch versions against every MXNet version."""
    engines = {figures['engine'] for figures in results['steps']}
    assert set(results['floor_by_engine']) == engines
    for floors in results['floor_by_engine'].values():
        for model in MODELS:
            for impl in IMPLS:
                floor = floors[model][impl]
                assert floor['batches'] == 20, (model, impl)  # --quick: 20 batches an epoch
                for key in ('step_ms', 'seconds', 'fast/floor'):
                    assert positive_finite(floor[key]), (model, impl, key)
    assert 'fast/floor' in stdout
    pytorch = results['pytorch']
    try:
        import torch
    except ImportError:
        assert set(pytorch) == {'skipped'} and pytorch['skipped'] in stdout
        return
    assert pytorch['torch'] == torch.__version__
    assert pytorch['threads'] == results['config']['torch_threads'] >= 1
    # the small chapters with a pytorch version: linear regression, logistic regression
    assert set(pytorch['steps']) == {'linreg', 'logreg'}
    for name, f in pytorch['steps'].items():
        for key in ('ms_per_step', 'train_ms_per_step', 'floor_ms', 'step/floor'):
            assert positive_finite(f[key]), (name, key)
    assert set(pytorch['fast']) == set(MODELS)
    assert all(positive_finite(f['median']) for f in pytorch['fast'].values())
    for kind, names in (('steps/pytorch', pytorch['steps']), ('fast/pytorch', MODELS)):
        assert set(pytorch[kind]) == engines
        for by_name in pytorch[kind].values():
            assert set(by_name) == set(names)
            assert all(positive_finite(by_name[name][impl]) for name in names for impl in IMPLS), kind
    assert 'PyTorch %s, %d thread' % (torch.__version__, pytorch['threads']) in stdout


# ---- the pieces that need no measurement: fast, in this process

def import_script(name):
    """Return scripts/<name>.py imported as a module (it imports its neighbours by name)."""
    import importlib
    scripts = os.path.dirname(SCRIPT)
    if scripts not in sys.path:
        sys.path.insert(0, scripts)
    return importlib.import_module(name)


FAILING_CHILD = [sys.executable, '-c', "raise ValueError('the child broke')"]


def test_failing_engine_child_is_named_in_one_line_and_the_run_goes_on(monkeypatch, capsys):
    benchmark = import_script('benchmark')
    monkeypatch.setattr(benchmark, 'child_command', lambda args, out: FAILING_CHILD)
    args = benchmark.argparse.Namespace(seed=0, batch_size=256, epochs=1, quick=True, data_dir=None)
    child = benchmark.other_engine(args)
    assert set(child) == {'engine', 'error'} and child['engine'] in benchmark.ENGINES
    assert child['error'].endswith('ValueError: the child broke')
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and 'ValueError: the child broke' in err[0] and child['engine'] in err[0]


def test_pytorch_rows_are_skipped_with_one_line_when_torch_cannot_be_imported(monkeypatch):
    benchmark_torch = import_script('benchmark_torch')
    monkeypatch.setitem(sys.modules, 'torch', None)  # import torch now raises ImportError
    pytorch = benchmark_torch.measure({}, None, {}, 0, 1)
    assert set(pytorch) == {'skipped'}
    benchmark_torch.add_ratios(pytorch, [], {})
    lines = benchmark_torch.report(pytorch, [], {})
    assert len(lines) == 1 and 'torch cannot be imported' in lines[0]


def test_mxnet_threads_reads_mxnet_s_own_settings_first(monkeypatch):
    benchmark_torch = import_script('benchmark_torch')
    monkeypatch.setenv('OMP_NUM_THREADS', '3')
    monkeypatch.delenv('MXNET_OMP_MAX_THREADS', raising=False)
    assert benchmark_torch.mxnet_threads() == 3
    monkeypatch.setenv('MXNET_OMP_MAX_THREADS', '5')  # MXNet's own cap wins over OpenMP's
    assert benchmark_torch.mxnet_threads() == 5


# counts the threads that did a share of a large nd.dot's work, from their CPU ticks in /proc
BUSY_THREADS = '''
import json, os, sys
sys.path.insert(0, sys.argv[1])
import benchmark_torch
from mxnet import nd

def ticks():
    times = {}
    for task in os.listdir('/proc/self/task'):
        fields = open('/proc/self/task/%s/stat' % task).read().rsplit(')', 1)[1].split()
        times[task] = int(fields[11]) + int(fields[12])  # utime + stime
    return times

A, C = nd.random.normal(shape=(1024, 1024)), nd.zeros((1024, 1024))
nd.dot(A, A, out=C).wait_to_read()
before = ticks()
for _ in range(40):
    nd.dot(A, A, out=C)
nd.waitall()
used = [t - before.get(task, 0) for task, t in ticks().items()]
busy = sum(t >= max(used) / 4 for t in used)  # OpenMP shares a GEMM's work out evenly
print(json.dumps({'busy': busy, 'mxnet_threads': benchmark_torch.mxnet_threads()}))
'''


@pytest.mark.slow  # two processes importing mxnet, each computing 40 GEMMs
@pytest.mark.skipif(not os.path.isdir('/proc/self/task'), reason="counts threads' CPU ticks in Linux's /proc")
@pytest.mark.parametrize('omp_num_threads', [None, '2'])
def test_mxnet_threads_is_how_many_threads_mxnet_runs_a_gemm_on(omp_num_threads):
    env = {k: v for k, v in os.environ.items() if k not in ('OMP_NUM_THREADS', 'MXNET_OMP_MAX_THREADS')}
    if omp_num_threads:
        env['OMP_NUM_THREADS'] = omp_num_threads
    result = subprocess.run([sys.executable, '-c', BUSY_THREADS, os.path.dirname(SCRIPT)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    threads = json.loads(result.stdout.splitlines()[-1])
    assert threads['busy'] == threads['mxnet_threads']


# a run whose other-engine child fails: the script itself, with the child's command replaced
FAILING_RUN = '''
import sys
sys.path.insert(0, sys.argv[1])
import benchmark
benchmark.child_command = lambda args, out: %r
sys.exit(benchmark.main(['--quick', '--out', sys.argv[2]]))
''' % (FAILING_CHILD,)


@pytest.mark.slow  # a --quick run of the script: tens of seconds
def test_quick_benchmark_without_the_other_engine_says_what_is_missing(tmp_path):
    out = tmp_path / 'benchmark.json'
    result = subprocess.run([sys.executable, '-c', FAILING_RUN, os.path.dirname(SCRIPT), str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert 'Traceback' not in result.stderr
    failures = [line for line in result.stderr.splitlines() if 'child process failed' in line]
    assert len(failures) == 1 and failures[0].endswith('going on without its figures')
    assert 'ValueError: the child broke' in failures[0]
    results = json.loads(out.read_text())
    missing = results['other_engine']['engine']
    assert 'ValueError: the child broke' in results['other_engine']['error']
    assert '%s: not measured' % missing in result.stdout
    measured = [figures['engine'] for figures in results['steps']]
    assert len(measured) == 1 and missing not in measured
    assert set(results['fast_by_engine']) == set(results['floor_by_engine']) == set(measured)
    assert 'performance targets' in result.stdout
