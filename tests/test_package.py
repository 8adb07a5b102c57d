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


# ---- the two layers: the book layer (d2l.py, chapters/) imports nothing of the tooling

# what each file of the book layer may import; a name stands for itself and everything under it
# (``mxnet`` covers ``mxnet.gluon.nn``, ``d2l_gluon.config`` covers ``from ..config import Option``)
D2L_MAY_IMPORT = ['mxnet', 'numpy', 'd2l_gluon.data', 'd2l_gluon.errors']
# the notes' PyTorch code: torch imported inside its functions, never at start-up
D2L_TORCH_MAY_IMPORT = D2L_MAY_IMPORT + ['dataclasses', 'torch']
CHAPTERS_MAY_IMPORT = [
    'mxnet', 'numpy', 'collections', 'dataclasses', 'typing', 'os', 'importlib',
    'd2l_gluon.seed',  # the package's seed(), not the package: d2l_gluon.runs is not under it
    'd2l_gluon.d2l', 'd2l_gluon.data', 'd2l_gluon.fashion_mnist', 'd2l_gluon.errors',
    'd2l_gluon.config', 'd2l_gluon.params', 'd2l_gluon.plot',
    'd2l_gluon.chapters',  # the Version record and the other chapters
    'd2l_gluon.d2l_torch', 'torch',  # the notes' PyTorch code, imported inside its functions
]
# the tooling, which wraps the book layer from outside and is never imported by it
TOOLING = ['d2l_gluon.' + name for name in ('runs', 'checkpoints', 'progress', 'distributed', 'cli',
                                            'monitor', 'sweep', 'report', 'launch', 'worker', 'compare',
                                            'files', 'images', 'command', 'course', 'arguments',
                                            'predict')]


def imported_names(source, package):
    """Return the absolute dotted name of everything source imports, nested imports included.

    ``from M import x`` gives ``M.x``, so ``from .. import seed`` in a module of
    package d2l_gluon.chapters gives d2l_gluon.seed, and ``from . import mlp``
    d2l_gluon.chapters.mlp.
    """
    import ast
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split('.')
            base = base[:len(base) - node.level + 1] if node.level else []
            module = '.'.join(base + ([node.module] if node.module else []))
            names += [module + '.' + alias.name for alias in node.names]
    return names


def forbidden(names, allowed):
    return [n for n in names if not any(n == a or n.startswith(a + '.') for a in allowed)]


def book_layer():
    """Return [(path, package, allowed)] for d2l.py and every module of d2l_gluon/chapters."""
    import glob
    import os
    root = os.path.dirname(d2l_gluon.__file__)
    files = [(os.path.join(root, 'd2l.py'), 'd2l_gluon', D2L_MAY_IMPORT),
             (os.path.join(root, 'd2l_torch.py'), 'd2l_gluon', D2L_TORCH_MAY_IMPORT)]
    chapters = sorted(glob.glob(os.path.join(root, 'chapters', '*.py')))
    return files + [(path, 'd2l_gluon.chapters', CHAPTERS_MAY_IMPORT) for path in chapters]


def test_the_import_check_resolves_relative_imports_and_refuses_the_tooling():
    source = ('from .. import seed\nfrom . import mlp, Version\nfrom ..config import Option\n'
              'from mxnet.gluon import nn\nimport numpy as np\ndef f():\n    from ..runs import save\n')
    names = imported_names(source, 'd2l_gluon.chapters')
    assert names == ['d2l_gluon.seed', 'd2l_gluon.chapters.mlp', 'd2l_gluon.chapters.Version',
                     'd2l_gluon.config.Option', 'mxnet.gluon.nn', 'numpy', 'd2l_gluon.runs.save']
    assert forbidden(names, CHAPTERS_MAY_IMPORT) == ['d2l_gluon.runs.save']
    assert forbidden(imported_names('from .monitor import Monitor', 'd2l_gluon'),
                     CHAPTERS_MAY_IMPORT) == ['d2l_gluon.monitor.Monitor']
    assert forbidden(['d2l_gluon.config'], D2L_MAY_IMPORT) == ['d2l_gluon.config']
    for module in TOOLING:  # no list lets the tooling in
        assert forbidden([module, module + '.x'], D2L_MAY_IMPORT + CHAPTERS_MAY_IMPORT) == \
            [module, module + '.x']


def test_d2l_and_the_chapters_import_nothing_of_the_tooling():
    files = book_layer()
    assert len(files) >= 10, files  # d2l.py, d2l_torch.py, chapters/__init__.py, eight chapters
    found = {}
    for path, package, allowed in files:
        with open(path) as f:
            bad = forbidden(imported_names(f.read(), package), allowed)
        if bad:
            found[path] = bad
    assert found == {}, 'the book layer imports what it may not: %s' % found
