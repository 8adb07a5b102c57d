"""python -m d2l_gluon: what stops it before or around the CLI is one line on stderr, no traceback.

Each test starts the program in a subprocess, from the repository root so
that this checkout's package is the one imported.
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from d2l_gluon.launch import WORKER_CODE

from .helpers import one_line, start_cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# launch's own settings for its children; DMLC_PS_ROOT_PORT 9 (discard) has no scheduler
DMLC_VARIABLES = {'DMLC_PS_ROOT_URI': '127.0.0.1', 'DMLC_PS_ROOT_PORT': '9',
                  'DMLC_NUM_WORKER': '1', 'DMLC_NUM_SERVER': '1'}


def clean_env(**extra):
    """Return os.environ without DMLC_* variables or PYTHONPATH, plus extra."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('DMLC_') and k != 'PYTHONPATH'}
    env.update(extra)
    return env


def run(*args, env=None, code=None, timeout=60):
    """Run ``python -m d2l_gluon ARGS`` (or ``python -c CODE ARGS``); return the result."""
    command = [sys.executable] + (['-c', code] if code else ['-m', 'd2l_gluon'])
    return subprocess.run(command + [str(a) for a in args], capture_output=True, text=True,
                          cwd=ROOT, env=clean_env() if env is None else env, timeout=timeout)


def assert_error_line(result, *words):
    """Assert exit code 2 and one line 'd2l-gluon: error: ...' on stderr holding words."""
    line = one_line(result.stderr)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert line.startswith('d2l-gluon: error: '), line
    for word in words:
        assert word in line, '%r not in %r' % (word, line)
    return line


# ---- a broken installation

SHIMS = {
    'numpy too new': ('numpy', "__version__ = '1.24.0'\n",
                      ['numpy<1.24', "pip install 'numpy>=1.21,<1.24'"]),
    'numpy fails to import': ('numpy', "raise ImportError('numpy is broken (test)')\n",
                              ["pip install 'numpy>=1.21,<1.24'"]),
    'mxnet fails to import': ('mxnet', "raise ImportError('libmxnet.so: cannot open (test)')\n",
                              ['pip install mxnet==1.9.1']),
}


@pytest.mark.parametrize('case', sorted(SHIMS))
def test_a_broken_dependency_is_one_line_and_exit_2(tmp_path, case):
    # a fake package earlier on sys.path than the real one stands in for the broken installation
    name, source, words = SHIMS[case]
    (tmp_path / name).mkdir()
    (tmp_path / name / '__init__.py').write_text(source)
    result = run('--help', env=clean_env(PYTHONPATH=str(tmp_path)))
    assert_error_line(result, *words)


# ---- parameter-server variables left in the environment

@pytest.mark.parametrize('role, others', [('server', DMLC_VARIABLES),
                                          ('scheduler', DMLC_VARIABLES), ('server', {})],
                         ids=['server', 'scheduler', 'server-alone'])
def test_a_server_or_scheduler_role_is_refused_before_mxnet_runs_it(role, others):
    start = time.monotonic()
    result = run('--help', env=clean_env(DMLC_ROLE=role, **others), timeout=30)
    assert_error_line(result, 'DMLC_ROLE=%s' % role, 'unset DMLC_ROLE',
                      'd2l-gluon launch sets them for its own processes')
    assert time.monotonic() - start < 10, 'refusing took %.1f s' % (time.monotonic() - start)


def test_importing_the_package_with_a_server_role_raises_import_error():
    code = ('try:\n    import d2l_gluon\nexcept ImportError as e:\n    print(e)\n'
            'else:\n    print("imported")\n')
    result = run(code=code, env=clean_env(DMLC_ROLE='server', **DMLC_VARIABLES), timeout=30)
    assert result.returncode == 0, result.stderr
    assert 'DMLC_ROLE=server' in result.stdout and 'unset DMLC_ROLE' in result.stdout, result.stdout


@pytest.mark.parametrize('how', ['python -m', 'launch worker code'])
def test_a_worker_role_still_runs_the_cli(how):
    # launch starts its workers as python -c WORKER_CODE with DMLC_ROLE=worker
    result = run('--help', env=clean_env(DMLC_ROLE='worker', **DMLC_VARIABLES),
                 code=WORKER_CODE if how == 'launch worker code' else None, timeout=30)
    assert result.returncode == 0 and 'usage: d2l-gluon' in result.stdout, result.stderr


@pytest.mark.parametrize('others, words', [
    ({}, ['DMLC_PS_ROOT_URI, DMLC_PS_ROOT_PORT, DMLC_NUM_WORKER, DMLC_NUM_SERVER']),
    (dict(DMLC_VARIABLES, DMLC_NUM_WORKER='two'), ["DMLC_NUM_WORKER='two'"]),
    (DMLC_VARIABLES, ['no scheduler answers at 127.0.0.1:9'])],
    ids=['variables missing', 'not a number', 'no scheduler'])
def test_a_worker_role_left_without_its_job_is_one_line_and_exit_2(tmp_path, others, words):
    out = tmp_path / 'run'
    start = time.monotonic()
    result = run('softmax', '--impl', 'gluon', '--kvstore', 'dist_sync', '--out', out,
                 env=clean_env(DMLC_ROLE='worker', **others), timeout=60)
    line = one_line(result.stderr)
    assert result.returncode == 2, (result.returncode, result.stderr)
    for word in ['d2l-gluon softmax: error: DMLC_ROLE=worker', 'unset DMLC_ROLE',
                 'd2l-gluon launch'] + words:
        assert word in line, '%r not in %r' % (word, line)
    assert time.monotonic() - start < 30 and not out.exists()


# ---- MXNet's own settings in the environment

@pytest.mark.parametrize('name, value', [
    ('OMP_NUM_THREADS', 'abc'), ('OMP_NUM_THREADS', '2.5'), ('MXNET_CPU_WORKER_NTHREADS', 'four'),
    ('MXNET_MKLDNN_ENABLED', 'yes'), ('MXNET_ENGINE_TYPE', 'FastEngine'), ('MXNET_ENGINE_TYPE', '')])
def test_a_setting_mxnet_would_abort_on_is_one_line_and_exit_2(tmp_path, name, value):
    out = tmp_path / 'run'
    result = run('linreg', '--num-epochs', 1, '--out', out, env=clean_env(**{name: value}))
    assert_error_line(result, '%s=%r' % (name, value), 'unset %s' % name)
    assert not out.exists()


def test_settings_mxnet_accepts_still_run(tmp_path):
    env = clean_env(OMP_NUM_THREADS=' 2', MXNET_CPU_WORKER_NTHREADS='+1', MXNET_MKLDNN_ENABLED='True',
                    MXNET_ENGINE_TYPE='ThreadedEnginePerDevice', MXNET_TUNING_WEIGHT_SCALE='1e-3')
    result = run('linreg', '--num-epochs', 1, '--out', tmp_path / 'run', env=env)
    assert result.returncode == 0, result.stderr


# ---- Ctrl-C while numpy and mxnet are imported

def interrupt_after(module, delay):
    """Start --help; SIGINT it delay s after the import of module ends; return (exit code, stderr).

    PYTHONPROFILEIMPORTTIME prints a line as each import ends, so the signal
    is timed from the child's progress, not from a clock that a slow start
    (Python alone takes about 0.1 s) would make land before our code runs.
    """
    assert os.environ.get('PYTHONPROFILEIMPORTTIME') == '1'  # start_cli passes it on
    proc = start_cli('--help', stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for line in proc.stderr:
        name = line.decode().rsplit('|', 1)[-1].strip()
        if name == module or (module.endswith('.') and name.startswith(module)):
            break
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=30)[1].decode()
    return proc.returncode, '\n'.join(line for line in err.splitlines()
                                      if not line.startswith('import time:'))


@pytest.mark.parametrize('module, delay', [('numpy.', 0), ('numpy', 0), ('numpy', 0.1),
                                           ('numpy', 0.3), ('numpy', 0.6)])
def test_ctrl_c_while_numpy_or_mxnet_imports_is_one_line_and_exit_130(monkeypatch, module,
                                                                      delay):
    # 'numpy.': inside numpy's import, which can turn Ctrl-C into an ImportError;
    # after 'numpy': inside mxnet's, which takes over a second
    monkeypatch.setenv('PYTHONPROFILEIMPORTTIME', '1')
    exit_code, stderr = interrupt_after(module, delay)
    assert 'Traceback' not in stderr and 'KeyboardInterrupt' not in stderr, stderr
    # Python ends by SIGINT itself (-2, which a shell shows as 130) when the signal arrived
    # inside an eval, as namedtuple's, even though the KeyboardInterrupt was handled
    assert exit_code in (130, -signal.SIGINT), (exit_code, stderr)
    assert one_line(stderr) == 'interrupted'


# numpy turns a Ctrl-C during its C-level imports into an ImportError; this one always does
NUMPY_HIT_BY_CTRL_C = """\
import os, signal, time
try:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(10)
except KeyboardInterrupt:
    raise ImportError('PyCapsule_Import could not import module "datetime" (test)') from None
"""


def test_ctrl_c_that_numpy_turns_into_an_import_error_is_still_an_interruption(tmp_path):
    (tmp_path / 'numpy').mkdir()
    (tmp_path / 'numpy' / '__init__.py').write_text(NUMPY_HIT_BY_CTRL_C)
    result = subprocess.run([sys.executable, '-m', 'd2l_gluon', '--help'], capture_output=True,
                            text=True, cwd=ROOT, env=clean_env(PYTHONPATH=str(tmp_path)),
                            timeout=30,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert result.returncode in (130, -signal.SIGINT), (result.returncode, result.stderr)
    assert one_line(result.stderr) == 'interrupted'  # not "d2l_gluon needs numpy"


# ---- stdout closed by its reader

def test_a_closed_stdout_pipe_ends_the_run_without_a_traceback(tmp_path):
    # as `d2l-gluon linreg | head -1`: the CLI flushes every epoch line, so the
    # second one (about 0.1 s later) meets the closed pipe
    proc = subprocess.Popen([sys.executable, '-m', 'd2l_gluon', 'linreg', '--num-epochs', '20',
                             '--out', str(tmp_path / 'run')],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                            env=clean_env())
    first = proc.stdout.readline().decode()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert first.startswith('scratch epoch 1'), first
    assert 'Traceback' not in stderr and 'BrokenPipeError' not in stderr, stderr
    assert proc.returncode == 1, (proc.returncode, stderr)


# ---- stdout that cannot be written

@pytest.mark.slow  # several processes or many runs: seconds the fast tier skips; CI runs it
def test_a_full_stdout_is_one_line_exit_1_and_the_run_folder_stays_consistent(tmp_path):
    out = tmp_path / 'run'
    with open('/dev/full', 'w') as full:  # every write fails with ENOSPC
        result = subprocess.run([sys.executable, '-m', 'd2l_gluon', 'linreg', '--out', str(out)],
                                stdout=full, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                env=clean_env(), timeout=120)
    line = one_line(result.stderr)
    assert line.startswith('d2l-gluon linreg: error: cannot write to standard output '
                           '(No space left on device)'), line
    assert result.returncode == 1, (result.returncode, result.stderr)
    with open(str(out / 'metrics.json')) as f:
        metrics = json.load(f)  # complete, with the epoch whose line could not be printed
    assert not metrics.get('finished') and len(metrics['runs']['scratch']['epochs']) == 1
    assert [n for n in os.listdir(str(out)) if n.startswith('.')] == []
    again = run('linreg', '--out', out, '--overwrite')  # no lock or half-written file is left
    assert again.returncode == 0, again.stderr


def test_a_closed_stdout_is_refused_in_one_line_before_anything_runs(tmp_path):
    out = tmp_path / 'run'
    result = subprocess.run([sys.executable, '-m', 'd2l_gluon', 'linreg', '--out', str(out)],
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=clean_env(),
                            timeout=120, preexec_fn=lambda: os.close(1))  # as `d2l-gluon linreg >&-`
    line = one_line(result.stderr)
    assert line.startswith('d2l-gluon: error: cannot write to standard output (it is closed)'), line
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert not out.exists()
