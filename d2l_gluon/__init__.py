"""d2l-gluon: the first chapters of "Dive into Deep Learning" in MXNet Gluon.

Every model exists twice: a scratch version (NDArray + autograd, our own
model, loss and sgd) and a concise Gluon version.  ``import d2l_gluon``
checks the two dependencies that most often break first, refuses a
parameter-server role left in the environment, and tunes the BLAS library
before MXNet loads it.
"""
import os
import random
import signal
import sys

__version__ = '0.1.0'


DMLC_FIX = ('unset DMLC_ROLE and the other DMLC_* variables; '
            'd2l-gluon launch sets them for its own processes')


def _check_dmlc_role():
    # importing mxnet with DMLC_ROLE=server or scheduler runs that role and never returns
    role = os.environ.get('DMLC_ROLE')
    if role in ('server', 'scheduler'):
        raise ImportError('d2l_gluon cannot start with DMLC_ROLE=%s in the environment: '
                          'importing mxnet would make this process a parameter-server %s '
                          'waiting for workers; %s' % (role, role, DMLC_FIX))


# settings MXNet parses while it starts or trains, and aborts on (or raises deep inside) when
# they do not parse; an empty number or boolean counts as unset, an empty engine does not
_MXNET_INTEGERS = (
    'OMP_NUM_THREADS', 'MXNET_CPU_WORKER_NTHREADS', 'MXNET_CPU_PRIORITY_NTHREADS',
    'MXNET_CPU_PARALLEL_RAND_COPY', 'MXNET_CPU_PARALLEL_SIZE', 'MXNET_CPU_TEMP_COPY',
    'MXNET_GPU_WORKER_NTHREADS', 'MXNET_GPU_COPY_NTHREADS', 'MXNET_GPU_PARALLEL_RAND_COPY',
    'MXNET_GPU_TEMP_COPY', 'MXNET_OMP_MAX_THREADS', 'MXNET_MP_WORKER_NTHREADS',
    'MXNET_MP_OPENCV_NUM_THREADS', 'MXNET_EXEC_BULK_EXEC_MAX_NODE_TRAIN',
    'MXNET_EXEC_BULK_EXEC_MAX_NODE_TRAIN_FWD', 'MXNET_EXEC_BULK_EXEC_MAX_NODE_TRAIN_BWD',
    'MXNET_EXEC_INPLACE_GRAD_SUM_CAP', 'MXNET_MKLDNN_CACHE_NUM', 'MXNET_PROFILER_AUTOSTART',
    'MXNET_PROFILER_MODE', 'MXNET_DISABLE_MKLDNN_CONV_OPT', 'MXNET_DISABLE_MKLDNN_FC_OPT',
    'MXNET_DISABLE_MKLDNN_FUSE_CONV_BN', 'MXNET_DISABLE_MKLDNN_FUSE_CONV_RELU',
    'MXNET_DISABLE_MKLDNN_FUSE_CONV_SUM', 'MXNET_DISABLE_MKLDNN_TRANSFORMER_OPT')
_MXNET_BOOLEANS = (
    'MXNET_MKLDNN_ENABLED', 'MXNET_MKLDNN_DEBUG', 'MXNET_MKLDNN_FORCE_FC_AB_FORMAT',
    'MXNET_ENGINE_INFO', 'MXNET_EXEC_BULK_EXEC_TRAIN', 'MXNET_INFER_STORAGE_TYPE_VERBOSE_LOGGING',
    'MXNET_MEM_PLAN_VERBOSE_LOGGING', 'MXNET_KVSTORE_LOGTREE', 'MXNET_OUTPUT_TUNING_DATA',
    'MXNET_VERBOSE_TUNING_INFO', 'MXNET_DISABLE_MKLDNN_FUSE_FC_ELTWISE',
    'MXNET_DISABLE_MKLDNN_QEM_FLOAT_OUTPUT', 'MXNET_DISABLE_MKLDNN_QEM_FUSE_ALL',
    'MXNET_DISABLE_MKLDNN_QFC_FLOAT_OUTPUT', 'MXNET_DISABLE_MKLDNN_QFC_FUSE_ALL',
    'MXNET_DISABLE_MKLDNN_QTRANSFORMER_FLOAT_OUTPUT', 'MXNET_DISABLE_MKLDNN_QTRANSFORMER_FUSE_ALL')
_MXNET_ENGINES = ('ThreadedEnginePerDevice', 'ThreadedEngine', 'NaiveEngine')


def _mxnet_setting_error(name, value):
    """Return what is wrong with MXNet's setting name=value (its own parser's rules), or None."""
    if not value and name != 'MXNET_ENGINE_TYPE':
        return None
    if name in _MXNET_INTEGERS:
        # dmlc reads an int with >>: spaces around, a sign, digits, within 32 bits
        text = value.strip()
        digits = text[1:] if text[:1] in '+-' else text
        if not (digits.isdigit() and digits.isascii() and -2 ** 31 <= int(text) < 2 ** 31):
            return 'is not a whole number', 'to a whole number such as 4'
    elif name in _MXNET_BOOLEANS:
        if value.lower() not in ('0', '1', 'true', 'false'):
            return 'is not a boolean', 'to 0 or 1'
    elif name == 'MXNET_ENGINE_TYPE':
        if value not in _MXNET_ENGINES:
            return 'names no engine', 'to one of %s' % ', '.join(_MXNET_ENGINES)
    elif name == 'MXNET_USE_NUM_CORES_OPERATOR_TUNING':  # a negative number makes it hang
        digits = value.strip()[1:] if value.strip()[:1] == '+' else value.strip()
        if not (digits.isdigit() and digits.isascii() and int(digits) < 2 ** 63):
            return 'is not a whole number of at least 0', 'to a whole number such as 4'
    return None


def _check_mxnet_settings():
    # MXNet aborts the whole process (exit 134) on some of these, where no Python code can report it
    for name in sorted(os.environ):
        value = os.environ[name]
        wrong = _mxnet_setting_error(name, value)
        if wrong:
            raise ImportError('%s=%r in the environment %s, and MXNet would stop on it; set it %s, '
                              'or unset %s' % (name, value, wrong[0], wrong[1], name))


def _check_numpy():
    try:
        import numpy
    except ImportError:
        raise ImportError("d2l_gluon needs numpy: run pip install 'numpy>=1.21,<1.24'") from None
    major, minor = (int(part) for part in numpy.__version__.split('.')[:2])
    if (major, minor) >= (1, 24):
        raise ImportError(
            'd2l_gluon needs numpy<1.24 (mxnet 1.9.1 uses np.bool, which numpy 1.24 removed); '
            "found numpy %s. Fix: pip install 'numpy>=1.21,<1.24'" % numpy.__version__)


def _cpu_flags():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('flags'):
                    return set(line.split(':', 1)[1].split())
    except OSError:
        pass
    return set()


def _tune_openblas():
    """Let the OpenBLAS bundled with mxnet use AVX2 kernels where the CPU has them.

    The wheel's OpenBLAS falls back to generic kernels on CPUs it does not
    recognise, which makes nd.dot 3-5x slower.  Haswell kernels need AVX2 and
    FMA; we only ask for them when /proc/cpuinfo shows both, never override a
    user's setting, and cannot act once mxnet (and its OpenBLAS) is loaded.
    """
    if 'mxnet' in sys.modules or 'OPENBLAS_CORETYPE' in os.environ:
        return
    if {'avx2', 'fma'} <= _cpu_flags():
        os.environ['OPENBLAS_CORETYPE'] = 'Haswell'


def _started_by_python_m():
    """Return True while ``python -m d2l_gluon`` or the d2l-gluon script imports this package."""
    # the console script's entry point is __main__.run, which reports a failed start
    if os.path.basename(sys.argv[0]) == 'd2l-gluon':
        return True
    # while -m locates its module sys.argv[0] is '-m'; sys.orig_argv (3.10+) names the module
    if sys.argv[:1] != ['-m']:
        return False
    args = getattr(sys, 'orig_argv', [])
    return '-m' not in args or args[args.index('-m') + 1:][:1] == ['d2l_gluon']


def _note_sigint(signum, frame):
    _sigints.append(signum)
    raise KeyboardInterrupt


# runpy imports this package before it runs d2l_gluon.__main__ and prints a
# traceback for anything the import raises; so under ``python -m d2l_gluon``
# a failed start (or Ctrl-C during the slow ``import mxnet``) is kept in
# _startup_error for __main__ to report in one line, and is raised otherwise.
_startup_error, _sigints = None, []
_as_program = _started_by_python_m()
if _as_program and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    # a C extension's import (numpy's, through PyCapsule_Import) can turn Ctrl-C into
    # an ImportError; noting the signal tells an interrupted start from a broken one
    signal.signal(signal.SIGINT, _note_sigint)
try:
    _check_dmlc_role()
    _check_mxnet_settings()
    _check_numpy()
    _tune_openblas()
    try:
        import mxnet as mx
    except ImportError:
        raise ImportError('d2l_gluon needs mxnet 1.9.1: run pip install mxnet==1.9.1') from None
    import numpy as np
except (ImportError, KeyboardInterrupt) as e:
    if not _as_program:
        raise
    _startup_error = KeyboardInterrupt() if _sigints else e
finally:
    if signal.getsignal(signal.SIGINT) is _note_sigint:
        signal.signal(signal.SIGINT, signal.default_int_handler)

from .errors import D2LError, DivergenceError  # noqa: E402,F401


def seed(n):
    """Seed Python's random, numpy and mx.random with the same integer n."""
    random.seed(n)
    np.random.seed(n)
    mx.random.seed(n)
