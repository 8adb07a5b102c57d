"""The walk-throughs in scripts/: each runs end to end in quick mode, as a script and as a notebook.

As a script, each runs as ``python scripts/X.py --quick --out DIR`` would, but in this process
(runpy, as __main__: no interpreter start-up), and its printed values and PNG files are checked;
a refused folder is checked in a real subprocess.  As a notebook, jupytext turns the ``# %%``
cells into one and nbclient executes it in the venv's python3 kernel with D2L_QUICK=1, as a reader's Jupyter would.
"""
import ast
import contextlib
import io
import os
import re
import runpy
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(ROOT, 'scripts')
WALKTHROUGHS = ['linear_regression', 'fashion_mnist', 'softmax_regression', 'mlp',
                'logistic_regression']
FIGURES = {
    'linear_regression': ['data.png', 'loss.png', 'learning_rates.png'],
    'fashion_mnist': ['fashion_mnist.png'],
    'softmax_regression': ['curves.png', 'predictions.png', 'weights.png'],
    'mlp': ['activations.png', 'curves.png', 'predictions.png'],
    'logistic_regression': ['sigmoid.png', 'probability.png', 'loss.png'],
}
# functions a walk-through may define: argument handling, printing and figure display only;
# a model, loss or training loop defined in a script would drift from the library's
HELPERS = {'walkthrough_args', 'show_source', 'show_figure', 'print_epoch', 'print_moving',
           'subset', 'time_one_epoch'}


def script_path(name):
    return os.path.join(SCRIPTS, name + '.py')


_RUNS = {}


def run_script(path, *args, cwd):
    """Run ``python PATH ARGS`` from cwd in this process (runpy, as __main__); return a CompletedProcess.

    Seconds faster than a subprocess (no Python or MXNet start-up); what a script does at its
    end as a process (one line on stderr for a refused folder) is tested in a real one below.
    """
    argv = [path] + [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, 'argv', argv)
        patch.chdir(cwd)
        # a script, not a notebook, even after nbclient imported ipykernel into this process
        patch.delitem(sys.modules, 'ipykernel', raising=False)
        patch.delenv('D2L_QUICK', raising=False)  # --quick alone must be enough
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                runpy.run_path(path, run_name='__main__')
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


@pytest.fixture
def quick_run(tmp_path_factory):
    """Return run(name) -> (CompletedProcess, out folder), each script run once per session."""
    def run(name):
        if name not in _RUNS:
            out = str(tmp_path_factory.mktemp(name))
            _RUNS[name] = (run_script(script_path(name), '--quick', '--out', out, cwd=out), out)
        return _RUNS[name]
    return run


def succeeded(result):
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def numbers(line):
    return [float(x) for x in re.findall(r'-?\d+\.\d+(?:e[-+]?\d+)?', line)]


def table_row(lines, after, name):
    """Return the numbers of the first row called name after the first line starting with after."""
    start = next(i for i, line in enumerate(lines) if line.startswith(after))
    return numbers(next(line for line in lines[start:]
                        if line.split()[:1] == [name] and ' epoch ' not in line))


@pytest.mark.parametrize('name', WALKTHROUGHS)
def test_walkthrough_runs_quick_and_saves_its_figures(quick_run, name):
    result, out = quick_run(name)
    stdout = succeeded(result)
    assert stdout.startswith('quick mode')
    for figure in FIGURES[name]:
        path = os.path.join(out, figure)
        assert os.path.getsize(path) > 1000, '%s was not saved' % path


@pytest.mark.parametrize('name', WALKTHROUGHS)
def test_walkthrough_writes_only_the_figures_it_names(quick_run, name):
    from d2l_gluon.walkthrough import FIGURES as NAMED
    result, out = quick_run(name)
    succeeded(result)
    assert sorted(os.listdir(out)) == sorted(NAMED[name]) == sorted(FIGURES[name])


def test_walkthrough_refuses_a_run_folder_with_one_line_and_leaves_it(tmp_path):
    # an mlp run folder: the quick walk-through's figures would stand beside 5-epoch metrics
    files = {'metrics.json': '{"chapter": "mlp"}', 'curves.png': 'curves of 5 epochs'}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = subprocess.run([sys.executable, script_path('mlp'), '--quick', '--out', str(tmp_path)],
                            capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    assert result.returncode != 0
    line, = result.stderr.strip().splitlines()
    assert str(tmp_path) in line and 'metrics.json' in line and 'fresh --out' in line, line
    assert {n: (tmp_path / n).read_text() for n in os.listdir(str(tmp_path))} == files


@pytest.mark.parametrize('figure', ['curves.png', 'activations.png'])
def test_walkthrough_refuses_a_folder_holding_a_file_it_would_replace(tmp_path, monkeypatch, figure):
    from d2l_gluon import walkthrough
    (tmp_path / figure).write_text('mine')
    (tmp_path / 'notes.txt').write_text('mine too')
    monkeypatch.setattr(sys, 'argv', ['mlp.py', '--quick', '--out', str(tmp_path)])
    with pytest.raises(SystemExit) as exit:
        walkthrough.walkthrough_args('mlp')
    assert figure in str(exit.value) and 'fresh --out' in str(exit.value)
    (tmp_path / figure).unlink()
    assert walkthrough.walkthrough_args('mlp') == (True, str(tmp_path))
    assert sorted(os.listdir(str(tmp_path))) == ['notes.txt']


def test_linear_regression_reproduces_the_notes_configurations(quick_run):
    lines = succeeded(quick_run('linear_regression')[0]).splitlines()
    assert any(line.startswith('X (10, 2) y (10,)') for line in lines)
    assert len([line for line in lines if re.match(r'(scratch|gluon) +epoch 3, loss 0.0000', line)]) == 2
    for preset in ('note-000', 'straight-dope'):
        true, learned = table_row(lines, preset, 'true'), table_row(lines, preset, 'scratch')
        assert len(true) == len(learned) == 3
        assert max(abs(t - l) for t, l in zip(true, learned)) < 0.01, (preset, true, learned)
    moving = [line for line in lines if re.match(r'Epoch \d, batch \d+\. Average loss: \d', line)]
    assert [numbers(line)[0] for line in moving][0] > numbers(moving[-1])[0]
    assert len(moving) == 5 and moving[-1].startswith('Epoch 5, batch 500.')
    assert any(line.startswith("note 002's data") for line in lines)


def test_linear_regression_marks_only_the_diverging_learning_rate(quick_run):
    lines = succeeded(quick_run('linear_regression')[0]).splitlines()
    tries = {line.split()[1]: line for line in lines if re.match(r'lr \d', line)}
    assert sorted(tries) == ['0.01', '0.03', '0.1', '0.3', '1', '3']
    assert [lr for lr, line in tries.items() if 'diverged in epoch' in line] == ['3']


def test_fashion_mnist_prints_the_first_example_and_minibatch(quick_run):
    stdout = succeeded(quick_run('fashion_mnist')[0])
    assert 'training examples 60000 test examples 10000' in stdout
    assert 'feature (28, 28) uint8 - label 9 int32 (ankle boot)' in stdout
    assert 'X (256, 1, 28, 28) float32 in [0, 1] - y (256,) int32' in stdout


def test_softmax_regression_prints_the_books_examples(quick_run):
    lines = succeeded(quick_run('softmax_regression')[0]).splitlines()
    row_sums = next(line for line in lines if line.startswith('row sums'))
    assert numbers(row_sums) == pytest.approx([1.0, 1.0], abs=1e-6)
    assert 'pick(y_hat, y) [0.1 0.5]' in lines
    assert numbers(next(line for line in lines if line.startswith('cross_entropy'))) == \
        pytest.approx([2.302585, 0.693147], abs=1e-5)
    assert 'accuracy(y_hat, y) = 0.5' in lines
    untrained = numbers(next(line for line in lines if line.startswith('untrained net')))[0]
    assert 0.0 < untrained < 0.25  # ten classes: a guess is right about one time in ten
    epochs = [line for line in lines if re.match(r'(scratch|gluon) +epoch 1, loss', line)]
    assert len(epochs) == 2  # scratch, then Gluon
    assert all(numbers(line)[2] > 0.6 for line in epochs)  # test accuracy after one quick epoch


def test_mlp_prints_activations_and_derivatives(quick_run):
    lines = succeeded(quick_run('mlp')[0]).splitlines()
    rows = {line.split()[0] if not line.startswith('d ') else ' '.join(line.split()[:2]):
            numbers(line) for line in lines if re.match(r'(d )?(x|relu|sigmoid|tanh) ', line)}
    x = rows['x']
    assert x == [-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0]
    assert rows['relu'] == [max(v, 0.0) for v in x]
    assert rows['sigmoid'][3] == 0.5 and rows['d sigmoid'][3] == 0.25
    assert rows['tanh'][3] == 0.0 and rows['d tanh'][3] == 1.0
    untrained = numbers(next(line for line in lines if line.startswith('untrained net')))[0]
    assert 0.0 < untrained < 0.25
    assert len([line for line in lines if re.match(r'(scratch|gluon) +epoch 1, loss', line)]) == 2


def test_logistic_regression_predicts_0_87_for_4_hours(quick_run):
    lines = succeeded(quick_run('logistic_regression')[0]).splitlines()
    # the lecture prints every 100th epoch: the first, 100, 200, ..., 1000
    printed = [int(line.split()[2].rstrip(',')) for line in lines
               if re.match(r'scratch +epoch \d+, loss', line)]
    assert printed == [1] + list(range(100, 1001, 100))
    prediction = next(line for line in lines if line.startswith('scratch: P(pass | 4 hours)'))
    assert numbers(prediction)[-1] == pytest.approx(0.87, abs=0.005)
    curve = [numbers(line) for line in lines if re.match(r' *\d+\.\d hours: ', line)]
    assert [row[0] for row in curve] == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    probabilities = [row[1] for row in curve]
    assert probabilities == sorted(probabilities) and probabilities[0] < 0.5 < probabilities[-1]


@pytest.mark.parametrize('name', WALKTHROUGHS)
def test_walkthrough_defines_no_model_loss_or_training_code(name):
    with open(script_path(name)) as f:
        source = f.read()
    defined = {node.name for node in ast.walk(ast.parse(source))
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    assert defined <= HELPERS, 'define these in the library instead: %s' % (defined - HELPERS)
    # no gradients are recorded or taken in a script: training runs in the library
    used = {node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)}
    used |= {node.attr for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Attribute)}
    assert not used & {'autograd', 'backward', 'attach_grad', 'Trainer'}


@pytest.mark.parametrize('name', WALKTHROUGHS + ['benchmark'])
def test_script_imports_only_modules_of_this_checkout(name):
    # an installed copy of the package elsewhere could still answer for a module removed here
    import importlib

    def exists(module):
        path = os.path.join(ROOT, *module.split('.'))
        return os.path.isfile(path + '.py') or os.path.isfile(os.path.join(path, '__init__.py'))

    with open(script_path(name)) as f:
        tree = ast.parse(f.read())
    missing = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            missing += [a.name for a in node.names
                        if a.name.split('.')[0] == 'd2l_gluon' and not exists(a.name)]
        elif isinstance(node, ast.ImportFrom) and (node.module or '').split('.')[0] == 'd2l_gluon':
            if not exists(node.module):
                missing.append(node.module)
                continue
            module = importlib.import_module(node.module)
            assert os.path.dirname(module.__file__).startswith(os.path.join(ROOT, 'd2l_gluon'))
            missing += ['%s.%s' % (node.module, a.name) for a in node.names
                        if not exists('%s.%s' % (node.module, a.name))
                        and a.name not in vars(module)]
    assert not missing, '%s imports what d2l_gluon/ does not hold: %s' % (name, missing)


@pytest.mark.parametrize('name', WALKTHROUGHS)
def test_walkthrough_is_a_notebook_of_markdown_and_code_cells(name):
    import jupytext  # the test extra: pip install -e '.[test]'
    notebook = jupytext.read(script_path(name))
    kinds = [cell.cell_type for cell in notebook.cells]
    assert kinds[0] == 'markdown' and kinds.count('markdown') >= 3 and kinds.count('code') >= 3
    headings = [cell.source for cell in notebook.cells if cell.cell_type == 'markdown']
    assert all(text.lstrip().startswith('#') for text in headings), 'each step names itself'


@pytest.mark.slow  # several processes or many runs: seconds the fast tier skips; CI runs it
@pytest.mark.parametrize('name', WALKTHROUGHS)
def test_walkthrough_executes_as_a_notebook(name, tmp_path, monkeypatch):
    import jupytext  # the test extra: pip install -e '.[test]'
    import nbclient
    import nbformat
    notebook = jupytext.read(script_path(name))
    # the kernel must be this venv's python, with d2l_gluon importable from this checkout
    notebook.cells.append(nbformat.v4.new_code_cell(
        'import sys, d2l_gluon\nprint("KERNEL", sys.executable, d2l_gluon.__file__)'))
    monkeypatch.setenv('D2L_QUICK', '1')  # the kernel inherits the environment
    nbclient.NotebookClient(notebook, timeout=600, kernel_name='python3',
                            resources={'metadata': {'path': str(tmp_path)}}).execute()
    text = ''.join(output.get('text', '') for cell in notebook.cells if cell.cell_type == 'code'
                   for output in cell.outputs)
    assert text.startswith('quick mode - figures go to runs/%s-' % name)
    kernel = text.rsplit('KERNEL ', 1)[1].split()
    assert os.path.realpath(kernel[0]) == os.path.realpath(sys.executable)
    assert kernel[1] == os.path.join(ROOT, 'd2l_gluon', '__init__.py')
    folder, = os.listdir(os.path.join(tmp_path, 'runs'))
    for figure in FIGURES[name]:
        assert os.path.isfile(os.path.join(tmp_path, 'runs', folder, figure))
    images = [output for cell in notebook.cells if cell.cell_type == 'code'
              for output in cell.outputs if 'image/png' in output.get('data', {})]
    assert len(images) >= len(FIGURES[name]), 'figures are shown inline'
