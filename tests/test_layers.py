"""The book layer's reading path: what one epoch of both softmax versions runs, and how long it reads."""
import ast
import inspect
import os
import sys
import textwrap

import d2l_gluon
from d2l_gluon import d2l
from d2l_gluon.chapters import softmax_regression
from d2l_gluon.config import make_config

from .helpers import write_fashion_mnist

ROOT = os.path.dirname(d2l_gluon.__file__)
# what a learner reads beside the book: the chapter, the book's saved functions, and the
# chapters' shared Version and train_versions
READ = {os.path.join(ROOT, 'd2l.py'), os.path.join(ROOT, 'chapters', '__init__.py'),
        os.path.join(ROOT, 'chapters', 'softmax_regression.py')}


def code_lines(source):
    """Return the lines of a function's source that are code: no docstring, comment or blank line."""
    source = textwrap.dedent(source)
    function = ast.parse(source).body[0]
    docstring = set()
    if ast.get_docstring(function) is not None:
        node = function.body[0]
        docstring = set(range(node.lineno, node.end_lineno + 1))
    return [line for number, line in enumerate(source.splitlines(), 1)
            if number not in docstring and line.strip() and not line.strip().startswith('#')]


def test_code_lines_skip_the_docstring_comments_and_blank_lines():
    source = 'def f(x):\n    """Doc.\n\n    More.\n    """\n    # why\n\n    y = x  # same\n    return y\n'
    assert code_lines(source) == ['def f(x):', '    y = x  # same', '    return y']


def functions_run(call):
    """Return {(file, first line): code} of every function (no lambda or comprehension) of the
    files in READ that call runs."""
    seen = {}

    def tracer(frame, event, arg):
        code = frame.f_code
        if event == 'call' and code.co_filename in READ and not code.co_name.startswith('<'):
            seen[(code.co_filename, code.co_firstlineno)] = code
        return None

    sys.setprofile(tracer)
    try:
        call()
    finally:
        sys.setprofile(None)
    return seen


def test_one_epoch_of_both_versions_reads_in_at_most_150_lines_of_code(tmp_path):
    write_fashion_mnist(tmp_path, num_train=40, num_test=10)
    config = make_config(softmax_regression.OPTIONS, impl='scratch,gluon', num_epochs=1,
                         batch_size=16, data_dir=str(tmp_path), seed=0)
    seen = functions_run(lambda: softmax_regression.fit(config))
    names = {code.co_name for code in seen.values()}
    # the path is what it should be: the chapter's versions and the book's loop, nothing of the tooling
    assert {'scratch_setup', 'gluon_setup', 'cross_entropy', 'train', 'train_ch3', 'train_epoch_ch3',
            'sgd', 'evaluate_accuracy', 'train_versions'} <= names, names
    # by file and name: two functions of one name in different files count twice
    lines = {(os.path.basename(path), code.co_name): len(code_lines(inspect.getsource(code)))
             for (path, _), code in seen.items()}
    assert sum(lines.values()) <= 150, sorted(lines.items())
    assert inspect.getsourcefile(d2l.train_ch3) in READ


def test_the_readme_tree_names_every_module_once_on_a_line_of_its_own():
    with open(os.path.join(os.path.dirname(ROOT), 'README.md'), encoding='utf-8') as f:
        readme = f.read()
    tree = readme.split('## How the code is laid out', 1)[1].split('```')[1]
    # a module's line starts with its name: two spaces in d2l_gluon/, four in chapters/
    listed = sorted(('chapters/' if line.startswith('    ') else '') + line.split()[0]
                    for line in tree.splitlines() if line.split() and line.split()[0].endswith('.py'))
    modules = sorted(os.path.relpath(os.path.join(folder, name), ROOT)
                     for folder, _, names in os.walk(ROOT) for name in names if name.endswith('.py'))
    assert listed == modules
