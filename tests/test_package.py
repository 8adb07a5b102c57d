import random
import subprocess
import sys

import numpy as np
from mxnet import nd

import d2l_gluon


def test_seed_fixes_python_numpy_and_mxnet():
    draws = []
    for _ in range(2):
        d2l_gluon.seed(5)
        draws.append((random.random(), np.random.rand(), nd.random.uniform().asscalar()))
    assert draws[0] == draws[1]
    d2l_gluon.seed(6)
    assert (random.random(), np.random.rand(), nd.random.uniform().asscalar()) != draws[0]


def _import_with(setup):
    code = setup + '\nimport d2l_gluon\n'
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)


def test_import_names_the_fix_when_numpy_is_too_new():
    result = _import_with('import numpy; numpy.__version__ = "1.24.0"')
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert 'numpy<1.24' in last and "pip install 'numpy>=1.21,<1.24'" in last
    assert 'np.bool' not in result.stderr.replace('uses np.bool', '')  # not mxnet's AttributeError


def test_import_names_the_fix_when_mxnet_is_missing():
    result = _import_with('import sys; sys.modules["mxnet"] = None')
    assert result.returncode != 0
    assert 'pip install mxnet==1.9.1' in result.stderr.strip().splitlines()[-1]


def test_openblas_is_tuned_only_before_mxnet_loads_and_never_overridden():
    code = ('import os; os.environ["OPENBLAS_CORETYPE"] = "Sandybridge"; import d2l_gluon; '
            'print(os.environ["OPENBLAS_CORETYPE"])')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert out.stdout.strip() == 'Sandybridge'
    code = ('import os; os.environ.pop("OPENBLAS_CORETYPE", None); import mxnet, d2l_gluon; '
            'print(os.environ.get("OPENBLAS_CORETYPE"))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert out.stdout.strip() == 'None'
