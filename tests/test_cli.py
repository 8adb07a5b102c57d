"""`d2l-gluon` end to end: every chapter, launch, --help, and one table of bad arguments.

The classifiers train on a small fake Fashion-MNIST (96 training and 48 test
images) unless marked slow, which trains them for an epoch on the real data.
Whole-program properties (exit codes, stdout, no traceback) run in a real
process; the rest calls cli.main in this one, which is several times faster.
"""
import json
import os
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from mxnet import nd

from d2l_gluon import cli, config as settings
from d2l_gluon.chapters import MODULES
from d2l_gluon.chapters import chapter as find_chapter

from . import helpers
from .helpers import assert_png, one_line, run_cli, write_fashion_mnist

EPOCH_LINE = re.compile(r'^(scratch|gluon)\s+epoch (\d+), loss (\d\.\d{4}), train acc (\d\.\d{3}), '
                        r'test acc (\d\.\d{3}) \(\d+\.\d\d s\)$')
FIGURES = {'linreg': ['data.png', 'loss.png'], 'logreg': ['loss.png', 'probability.png'],
           'softmax': ['curves.png', 'predictions.png', 'weights.png'],
           'mlp': ['activations.png', 'curves.png', 'predictions.png']}
# what a finished classifier run folder holds beside its figures
MODEL_FILES = ['gluon-0000.params', 'gluon-symbol.json', 'gluon.params', 'metrics.json', 'model.json',
               'scratch.params']


@pytest.fixture(scope='module')
def fake_data(tmp_path_factory):
    """A folder with a small random Fashion-MNIST: 96 training and 48 test images."""
    folder = tmp_path_factory.mktemp('fashion')
    write_fashion_mnist(folder, num_train=96, num_test=48)
    return folder


def run_main(argv, capsys):
    """Run cli.main in this process; return (exit code, stdout, stderr)."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as e:  # argparse's usage errors
        code = e.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read_json(path):
    return json.loads(path.read_text())


def check_run(result, out, chapter, impls=('scratch', 'gluon'), num_epochs=1, learns=True):
    """Check a classifier run: exit code, the book's epoch lines, metrics.json and the figures.

    learns: the run is on the real data, where one epoch learns far more than chance.
    Returns the metrics.
    """
    assert result.returncode == 0, result.stderr
    printed = [m.groups() for m in map(EPOCH_LINE.match, result.stdout.splitlines()) if m]
    assert [(impl, epoch) for impl, epoch, *_ in printed] == \
        [(impl, str(e)) for impl in impls for e in range(1, num_epochs + 1)], result.stdout
    metrics = read_json(out / 'metrics.json')
    assert metrics['chapter'] == chapter and list(metrics['runs']) == list(impls)
    assert metrics['finished'] and all(metrics['runs'][impl]['finished'] for impl in impls)
    for impl, epoch, loss, train_acc, test_acc in printed:
        record = metrics['runs'][impl]['epochs'][int(epoch) - 1]
        assert set(record) >= {'epoch', 'loss', 'train_acc', 'test_acc', 'seconds'}
        assert record['epoch'] == int(epoch)
        assert np.isfinite(record['loss']) and record['loss'] > 0
        assert 0 <= record['train_acc'] <= 1 and 0 <= record['test_acc'] <= 1
        assert record['seconds'] > 0
        # the printed line shows the recorded numbers
        assert (loss, train_acc, test_acc) == ('%.4f' % record['loss'], '%.3f' % record['train_acc'],
                                               '%.3f' % record['test_acc'])
        if learns:
            assert record['test_acc'] > 0.5, 'one epoch learns far more than chance (0.1)'
    for name in FIGURES[chapter]:
        assert_png(out / name, min_size=(100, 400))
    names = os.listdir(out)
    assert set(FIGURES[chapter] + ['metrics.json', 'model.json']) <= set(names)
    assert not [n for n in names if n.startswith('.')], 'no half-written temporary files left: %s' % names
    assert 'results in %s' % out in result.stdout
    return metrics


def strip_timings(metrics):
    for run in metrics['runs'].values():
        for epoch in run['epochs']:
            epoch.pop('seconds'), epoch.pop('eval_seconds', None)
    return metrics


# ---- linreg

def test_linreg_runs_end_to_end(tmp_path):
    out = tmp_path / 'run'
    result = helpers.run_main('linreg', '--num-epochs', 1, '--out', out)
    assert result.returncode == 0, result.stderr
    assert 'scratch epoch 1, loss' in result.stdout and 'gluon   epoch 1, loss' in result.stdout
    assert 'closed form' in result.stdout and 'largest |scratch - gluon| difference' in result.stdout
    assert 'results in %s' % out in result.stdout
    metrics = read_json(out / 'metrics.json')
    assert metrics['chapter'] == 'linreg' and metrics['finished']
    config = metrics['config']
    assert config['lr'] == 0.03 and config['true_w'] == [2.0, -3.4] and config['ctx'] == ['cpu(0)']
    # the config holds the chapter's settings, not how the command was called
    assert not {'command', 'out', 'resume', 'overwrite'} & set(config)
    for impl in ('scratch', 'gluon'):
        run = metrics['runs'][impl]
        assert [e['epoch'] for e in run['epochs']] == [1]
        assert set(run['epochs'][0]) >= {'epoch', 'loss', 'seconds'}
        assert len(run['params']['w']) == 2 and len(run['params']['b']) == 1
    assert np.allclose(metrics['reference']['w'], [2, -3.4], atol=0.005)
    for png in FIGURES['linreg']:
        assert_png(out / png)
    assert sorted(os.listdir(out)) == ['data.png', 'loss.png', 'metrics.json']


def test_same_seed_gives_identical_metrics(tmp_path, capsys):
    metrics = []
    for name, seed in (('a', 7), ('b', 7), ('c', 8)):
        assert run_main(['linreg', '--num-epochs', 2, '--seed', seed, '--out', tmp_path / name],
                        capsys)[0] == 0
        metrics.append(strip_timings(read_json(tmp_path / name / 'metrics.json')))
    assert metrics[0] == metrics[1]
    assert metrics[2]['runs'] != metrics[0]['runs']


def test_one_implementation_alone_equals_its_half_of_both(tmp_path, capsys):
    assert run_main(['linreg', '--num-epochs', 1, '--out', tmp_path / 'both'], capsys)[0] == 0
    assert run_main(['linreg', '--num-epochs', 1, '--impl', 'gluon', '--out', tmp_path / 'g'],
                    capsys)[0] == 0
    both = read_json(tmp_path / 'both' / 'metrics.json')
    alone = read_json(tmp_path / 'g' / 'metrics.json')
    assert list(alone['runs']) == ['gluon'] and alone['config']['impl'] == 'gluon'
    assert alone['runs']['gluon']['params'] == both['runs']['gluon']['params']


def test_full_batch_runs_gradient_descent_one_step_per_epoch(tmp_path, capsys):
    assert run_main(['linreg', '--full-batch', '--num-epochs', 2, '--impl', 'scratch', '--out',
                     tmp_path], capsys)[0] == 0
    metrics = read_json(tmp_path / 'metrics.json')
    assert metrics['config']['full_batch'] is True
    losses = [e['loss'] for e in metrics['runs']['scratch']['epochs']]
    # two steps at lr 0.03 from w = 0 lower the loss, but stay far from the noise floor
    assert losses[1] < losses[0] and losses[1] > 1.0


@pytest.mark.parametrize('num_examples, differs', [(1005, True), (1000, False)])
def test_step_divisor_actual_is_recorded_and_changes_only_a_short_last_batch(tmp_path, capsys,
                                                                              num_examples, differs):
    params = {}
    for rule in ('batch-size', 'actual'):
        out = tmp_path / rule
        assert run_main(['linreg', '--num-examples', num_examples, '--num-epochs', 1, '--impl', 'scratch',
                         '--step-divisor', rule, '--out', out], capsys)[0] == 0
        metrics = read_json(out / 'metrics.json')
        assert metrics['config']['step_divisor'] == rule
        params[rule] = metrics['runs']['scratch']['params']
    # 1005 examples in batches of 10 end with a batch of 5, the one step the rules disagree on
    assert (params['batch-size'] != params['actual']) == differs


# ---- logreg

def test_logreg_hours_runs_end_to_end(tmp_path):
    out = tmp_path / 'run'
    result = helpers.run_main('logreg', '--num-epochs', 250, '--out', out)
    assert result.returncode == 0, result.stderr
    for impl in ('scratch', 'gluon  '):
        printed = [line for line in result.stdout.splitlines() if line.startswith(impl + ' epoch')]
        # the first epoch, every 100th and the last
        assert [line.split(',')[0].split()[-1] for line in printed] == ['1', '100', '200', '250']
    assert 'P(pass | 4 hours)' in result.stdout and 'did not converge' in result.stdout
    metrics = read_json(out / 'metrics.json')
    assert metrics['chapter'] == 'logreg'
    config = metrics['config']
    assert (config['data'], config['lr'], config['loss'], config['batch_size']) == ('hours', 0.01, 'sum', 3)
    assert config['num_epochs'] == 250 and config['print_every'] == 100
    for impl in ('scratch', 'gluon'):
        run = metrics['runs'][impl]
        assert [e['epoch'] for e in run['epochs']] == list(range(1, 251))  # every epoch recorded
        assert set(run['epochs'][-1]) >= {'epoch', 'loss', 'train_acc', 'seconds'}
        assert run['epochs'][-1]['loss'] < run['epochs'][0]['loss']
        assert len(run['params']['w']) == 1 and len(run['params']['b']) == 1
        w, b = run['params']['w'][0], run['params']['b'][0]
        assert run['boundary'] == pytest.approx(-b / w)
        assert run['p_pass_4_hours'] == pytest.approx(1 / (1 + np.exp(-(4 * w + b))), rel=1e-5)
    reference = metrics['reference']
    assert reference['converged'] is False and reference['iterations'] > 0
    assert sorted(os.listdir(out)) == ['loss.png', 'metrics.json', 'probability.png']
    for png in FIGURES['logreg']:
        assert_png(out / png)


def test_logreg_blobs_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / 'run'
    code, stdout, stderr = run_main(['logreg', '--data', 'blobs', '--num-epochs', 3, '--num-examples',
                                     300, '--num-test', 200, '--std', 1.5, '--out', out], capsys)
    assert code == 0, stderr
    assert 'gluon   epoch 3, loss' in stdout and 'test acc' in stdout
    assert "Newton's method converged" in stdout
    metrics = read_json(out / 'metrics.json')
    config = metrics['config']
    assert (config['lr'], config['loss'], config['batch_size']) == (0.5, 'mean', 50)
    assert (config['num_examples'], config['num_test'], config['std']) == (300, 200, 1.5)
    assert config['mean0'] == [-1.0, -1.0] and config['mean1'] == [1.0, 1.0]
    reference = metrics['reference']
    assert reference['converged'] is True and len(reference['w']) == 2 and len(reference['b']) == 1
    assert 0.5 < reference['test_acc'] <= 1
    for impl in ('scratch', 'gluon'):
        run = metrics['runs'][impl]
        assert [e['epoch'] for e in run['epochs']] == [1, 2, 3]
        assert set(run['epochs'][-1]) >= {'loss', 'train_acc', 'test_loss', 'test_acc'}
        fitted = np.array(run['params']['w'] + run['params']['b'])
        assert run['max_abs_diff_newton'] == pytest.approx(
            np.abs(fitted - np.array(reference['w'] + reference['b'])).max())
    assert metrics['max_abs_diff'] < 1e-4
    assert sorted(os.listdir(out)) == ['boundaries.png', 'loss.png', 'metrics.json']
    for png in ('boundaries.png', 'loss.png'):
        assert_png(out / png)


def test_divergence_exits_3_and_keeps_every_epoch_recorded_before_it(tmp_path, capsys):
    # logreg writes metrics.json only at printed epochs; the epochs between must not be lost
    out = tmp_path / 'run'
    code, _, err = run_main(['logreg', '--lr', 30, '--print-every', 1000, '--impl', 'scratch',
                             '--out', out], capsys)
    assert code == 3
    line = one_line(err)
    assert '--lr' in line and str(out) in line
    metrics = read_json(out / 'metrics.json')
    diverged = metrics['diverged']
    assert diverged['impl'] == 'scratch' and 'epoch %d' % diverged['epoch'] in line
    epochs = [e['epoch'] for e in metrics['runs']['scratch']['epochs']]
    assert epochs == list(range(1, diverged['epoch']))
    assert diverged['epoch'] > 2, 'the test needs an epoch between the first and the divergence'


# ---- softmax and mlp on the fake data

def test_softmax_runs_end_to_end_on_a_small_data_set(tmp_path, fake_data):
    out = tmp_path / 'run'
    result = helpers.run_main('softmax', '--data-dir', fake_data, '--batch-size', 24, '--num-epochs', 2,
                     '--out', out)
    metrics = check_run(result, out, 'softmax', num_epochs=2, learns=False)
    config = metrics['config']
    assert (config['lr'], config['batch_size'], config['loader'], config['data_dir']) == \
        (0.1, 24, 'fast', str(fake_data))
    assert 'test accuracy difference' in result.stdout and 'max_abs_diff' in metrics
    assert sorted(os.listdir(out)) == sorted(FIGURES['softmax'] + MODEL_FILES)
    assert read_json(out / 'model.json')['chapter'] == 'softmax'
    assert [p.shape for p in nd.load(str(out / 'scratch.params'))] == [(784, 10), (10,)]


@pytest.mark.parametrize('activation', ['relu', 'sigmoid'])
def test_mlp_num_hiddens_and_activation_shape_the_saved_model(tmp_path, capsys, fake_data, activation):
    out = tmp_path / 'run'
    code, _, err = run_main(['mlp', '--data-dir', fake_data, '--num-hiddens', 64, '--activation',
                             activation, '--num-epochs', 1, '--out', out], capsys)
    assert code == 0, err
    assert [p.shape for p in nd.load(str(out / 'scratch.params'))] == [(784, 64), (64,), (64, 10), (10,)]
    gluon = nd.load(str(out / 'gluon.params'))
    assert sorted(v.shape for k, v in gluon.items() if k.endswith('weight')) == [(10, 64), (64, 784)]
    # the exported symbol, what a deployment loads, applies the chosen activation
    nodes = read_json(out / 'gluon-symbol.json')['nodes']
    assert [n['attrs']['act_type'] for n in nodes if n['op'] == 'Activation'] == [activation]
    assert read_json(out / 'model.json') == {'chapter': 'mlp', 'files': {'scratch': 'scratch.params',
                                                                         'gluon': 'gluon.params'},
                                             'num_hiddens': 64, 'activation': activation}


def test_softmax_book_loader_gives_the_fast_loaders_numbers(tmp_path, capsys, fake_data):
    # the two loaders yield the same batches for the same seed, so the runs agree exactly
    epochs = {}
    for loader in ('fast', 'book'):
        out = tmp_path / loader
        code, _, err = run_main(['softmax', '--data-dir', fake_data, '--batch-size', 24, '--impl',
                                 'gluon', '--loader', loader, '--num-epochs', 2, '--out', out], capsys)
        assert code == 0, err
        metrics = read_json(out / 'metrics.json')
        assert metrics['config']['loader'] == loader
        epochs[loader] = strip_timings(metrics)['runs']['gluon']['epochs']
    assert epochs['book'] == epochs['fast']


@pytest.mark.slow  # several processes or many runs: seconds the fast tier skips; CI runs it
def test_launch_without_impl_trains_the_gluon_version_in_two_workers(tmp_path, fake_data):
    out = tmp_path / 'run'
    result = run_cli('launch', '-n', 2, '--timeout', 120, '--', 'softmax', '--data-dir', fake_data,
                     '--batch-size', 24, '--lr', 0.01, '--num-epochs', 1, '--out', out, timeout=180)
    assert result.returncode == 0, result.stderr
    assert 'launch trains the Gluon version' in result.stdout
    assert 'results in %s, %s' % (out, out / 'worker1') in result.stdout
    for folder in (out, out / 'worker1'):
        assert (folder / 'gluon.params').is_file()
        assert not (folder / 'scratch.params').exists()
        metrics = read_json(folder / 'metrics.json')
        assert list(metrics['runs']) == ['gluon'] and metrics['finished']
        assert (metrics['config']['impl'], metrics['config']['kvstore']) == ('gluon', 'dist_sync')


def test_a_damaged_checkpoint_stops_resume_with_one_line(tmp_path, capsys, fake_data):
    out = tmp_path / 'run'
    code, _, err = run_main(['softmax', '--data-dir', fake_data, '--impl', 'gluon', '--num-epochs', 1,
                             '--out', out], capsys)
    assert code == 0, err
    metrics = read_json(out / 'metrics.json')
    metrics['runs']['gluon']['finished'] = False  # as if interrupted after its checkpoint
    (out / 'metrics.json').write_text(json.dumps(metrics))
    (out / 'checkpoint-gluon.json').write_text('{"epoch": 2')
    code, _, err = run_main(['softmax', '--resume', out], capsys)
    assert code == 2
    line = one_line(err)
    assert 'checkpoint-gluon.json' in line and 'delete it' in line


def test_resume_with_other_options_is_refused_and_leaves_the_run_as_it_was(tmp_path, capsys):
    out = tmp_path / 'run'
    assert run_main(['linreg', '--num-epochs', 1, '--out', out], capsys)[0] == 0
    before = tree(out)
    code, printed, err = run_main(['linreg', '--resume', out, '--num-epochs', 10, '--lr', 0.5], capsys)
    assert code == 2 and printed == ''
    assert one_line(err) == ('d2l-gluon linreg: error: --resume continues the run with its own '
                             'settings; drop --num-epochs, --lr')
    assert tree(out) == before
    assert run_main(['linreg', '--resume', out], capsys)[0] == 0  # alone it continues


@pytest.mark.slow  # several processes or many runs: seconds the fast tier skips; CI runs it
def test_all_resume_keeps_finished_chapters(tmp_path, capsys, monkeypatch):
    out = tmp_path / 'all'
    monkeypatch.setattr(cli, 'CHAPTERS', ('linreg', 'logreg'))
    assert run_main(['all', '--out', out], capsys)[0] == 0
    # the unfinished chapter is the cheap linreg and comes first: the finished one after it is kept
    before = (out / 'logreg' / 'metrics.json').read_text()
    metrics = read_json(out / 'linreg' / 'metrics.json')  # as if interrupted before it finished
    del metrics['finished']
    (out / 'linreg' / 'metrics.json').write_text(json.dumps(metrics))
    code, printed, _ = run_main(['all', '--resume', out], capsys)
    assert code == 0
    assert '== logreg: finished earlier, kept' in printed and '== linreg' in printed
    assert '== linreg: finished earlier' not in printed
    assert (out / 'logreg' / 'metrics.json').read_text() == before
    assert read_json(out / 'linreg' / 'metrics.json')['finished']


# ---- the real Fashion-MNIST: one epoch each (slow)

@pytest.mark.slow
def test_softmax_runs_end_to_end(tmp_path):
    out = tmp_path / 'run'
    result = run_cli('softmax', '--num-epochs', 1, '--out', out)
    metrics = check_run(result, out, 'softmax')
    config = metrics['config']
    assert (config['lr'], config['batch_size'], config['loader'], config['seed']) == (0.1, 256, 'fast', 0)
    assert 'test accuracy difference' in result.stdout and 'max_abs_diff' in metrics


@pytest.mark.slow
@pytest.mark.parametrize('args, num_hiddens', [([], 256), (['--activation', 'sigmoid', '--num-hiddens', 64], 64)])
def test_mlp_runs_end_to_end(tmp_path, args, num_hiddens):
    out = tmp_path / 'run'
    check_run(run_cli('mlp', '--num-epochs', 1, '--out', out, *args), out, 'mlp')
    assert nd.load(str(out / 'scratch.params'))[0].shape == (784, num_hiddens)
    assert read_json(out / 'model.json')['activation'] == (args[1] if args else 'relu')


# ---- --help

def subcommands():
    """Return {name: parser} of every sub-command."""
    import argparse
    parser = cli.build_parser()
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_every_option_of_every_command_has_a_help_line():
    for name, parser in subcommands().items():
        for action in parser._actions:
            assert action.help and action.help.strip(), '%s %s has no help' % (name, action.option_strings)


@pytest.mark.parametrize('chapter', list(MODULES))
def test_chapter_help_shows_each_options_default(chapter, capsys, monkeypatch):
    monkeypatch.setenv('COLUMNS', '10000')  # no help text wraps
    code, text, _ = run_main([chapter, '--help'], capsys)
    assert code == 0
    lines = {}  # --option: its entry, the help joined to the option when it starts on the next line
    for line in text.splitlines():
        if line.startswith('  -'):
            option = line.split()[0]
            lines[option] = line
        elif line.startswith('    ') and lines:
            lines[option] += ' ' + line.strip()
    options = dict(settings.COMMON, **find_chapter(chapter).options)
    for name, option in options.items():
        line = lines['--' + name.replace('_', '-')]
        assert option.help in line
        if option.default is None:  # found at run time, or logreg's per --data: the help says which
            assert '(default:' not in line and re.search(r'default|hours|blobs', option.help), line
        else:
            shown = (','.join(map(str, option.default)) if isinstance(option.default, list)
                     else option.default)
            assert line.endswith('(default: %s)' % shown), line
    assert lines['--ctx'].endswith('(default: cpu)')
    assert 'runs/%s-<timestamp>' % chapter in lines['--out']


# ---- negative numbers as option values

def chapter_settings(argv):
    """Return the completed config of a chapter command line, parsed as main parses it (no training)."""
    args = cli.build_parser().parse_args([str(a) for a in argv])
    return cli.chapter_config(args)[0]


@pytest.mark.parametrize('argv, key, expected', [
    (['linreg', '--true-w', '-3.4,2'], 'true_w', [-3.4, 2.0]),
    (['linreg', '--true-w', '-3.4e-2,2'], 'true_w', [-0.034, 2.0]),
    (['linreg', '--true-b', '-1e-05'], 'true_b', -1e-05),
    (['logreg', '--data', 'blobs', '--mean0', '-1,-1'], 'mean0', [-1.0, -1.0]),
    (['logreg', '--data', 'blobs', '--mean1', '-.5,2'], 'mean1', [-0.5, 2.0]),
    (['compare', 'linreg', '--perturb', '-1e-3'], 'perturb', -1e-3),
    (['compare', 'linreg', '--pert', '-1e-3'], 'perturb', -1e-3),  # an abbreviation argparse accepts
])
def test_a_negative_first_value_is_an_options_value_not_an_option(argv, key, expected):
    if argv[0] == 'compare':
        assert getattr(cli.build_parser().parse_args(argv), key) == expected
    else:
        assert chapter_settings(argv)[key] == expected


def test_a_negative_value_is_refused_for_what_it_is_not_as_a_missing_value(capsys):
    code, _, err = run_main(['linreg', '--lr', '-1e-3,2'], capsys)
    assert code == 2 and "--lr: '-1e-3,2' is not a positive" in one_line(err)
    code, _, err = run_main(['linreg', '--true-w', '--lr', '0.1'], capsys)
    assert code == 2 and 'argument --true-w: expected one argument' in one_line(err)


@hypothesis_settings(max_examples=50, deadline=None)
@given(values=st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=5),
       means=st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=4, max_size=4),
       negative_first=st.booleans(), joined=st.booleans())
def test_number_lists_parse_to_their_values_in_either_form(values, means, negative_first, joined):
    if negative_first:
        values[0], means[0], means[2] = -abs(values[0]), -abs(means[0]), -abs(means[2])

    def option(flag, numbers):
        text = ','.join(repr(v) for v in numbers)
        return [flag + '=' + text] if joined else [flag, text]
    config = chapter_settings(['linreg', '--num-inputs', len(values)] + option('--true-w', values)
                              + option('--true-b', values[:1]))
    assert config['true_w'] == values and config['true_b'] == values[0]
    config = chapter_settings(['logreg', '--data', 'blobs'] + option('--mean0', means[:2])
                              + option('--mean1', means[2:]))
    assert (config['mean0'], config['mean1']) == (means[:2], means[2:])


# ---- bad arguments: exit 2, one line naming the problem and its fix, nothing written

def bad_inputs(tmp_path):
    """Create the files the table below refers to; return {placeholder: path}."""
    places = {'OUT': tmp_path / 'run', 'EMPTY': tmp_path / 'empty', 'MISSING': tmp_path / 'missing',
              'FILE': tmp_path / 'file', 'CORRUPT': tmp_path / 'corrupt'}
    places['EMPTY'].mkdir()
    places['FILE'].write_text('not a folder')
    files = write_fashion_mnist(places['CORRUPT'])
    with open(files['t10k-labels-idx1-ubyte'], 'wb') as f:
        f.write(b'not an idx file')
    places['CORRUPT_FILE'] = files['t10k-labels-idx1-ubyte']
    models = {'MODEL_LIST': [1], 'MODEL_TEXT': {'chapter': 'mlp', 'num_hiddens': 'x'},
              'MODEL_ZERO': {'chapter': 'mlp', 'num_hiddens': 0},
              'MODEL_HUGE': {'chapter': 'mlp', 'num_hiddens': 100000000, 'activation': 'relu'},
              'MODEL_SOFTPLUS': {'chapter': 'mlp', 'activation': 'softplus'}}
    for name, description in models.items():
        places[name] = tmp_path / name.lower()
        places[name].mkdir()
        (places[name] / 'model.json').write_text(json.dumps(description))
        (places[name] / 'gluon.params').write_bytes(b'')
    return places


def tree(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob('*'))


BIG = 'cpu(2147483648)'
BAD_ARGUMENTS = [
    # (command line, words the line must hold: the option or input at fault, and what to do)
    ('linreg --lr -1', ['--lr', 'positive']),
    ('linreg --lr nan', ['--lr', "'nan'", 'positive float32']),
    ('linreg --lr 1e-50', ['--lr', "'1e-50'", 'positive float32', 'from 1.2e-38']),
    ('linreg --full-batch --batch-size 5', ['--full-batch', '--batch-size 5', 'drop']),
    ('linreg --batch-size 5 --preset note-000 --full-batch', ['--full-batch', '--batch-size 5']),
    ('linreg --batch-size 0', ['--batch-size', 'positive integer']),
    ('linreg --true-w 1,2,3', ['--true-w has 3 values', '--num-inputs is 2', 'one weight per input']),
    ('linreg --true-w 1,x', ['--true-w', 'comma-separated list']),
    ('linreg --impl torch', ['--impl', 'scratch, gluon, pytorch, both']),
    ('linreg --noise 1e300', ['--noise', 'float32']),
    ('linreg --seed -1', ['--seed', 'from 0 to 4294967294']),
    ('linreg --seed %d' % (2 ** 32 - 1), ['--seed', 'from 0 to 4294967294']),  # versions use seed + 1
    ('linreg --ctx gpu(0)', ['GPU', 'use cpu']),
    ('linreg --ctx ' + BIG, ['--ctx', 'numbers up to 1023']),
    ('linreg --out FILE/run', ['cannot write to output folder', 'choose another with --out']),
    ('logreg --lr -1', ['--lr', 'positive']),
    ('logreg --data circles', ['--data', 'hours, blobs']),
    ('logreg --loss median', ['--loss', 'sum, mean']),
    ('logreg --num-examples 10', ['--num-examples', 'only for --data blobs', 'add --data blobs']),
    ('logreg --mean0 1', ['--mean0', 'only for --data blobs', 'add --data blobs']),
    ('logreg --std 1', ['--std', 'only for --data blobs', 'add --data blobs']),
    ('logreg --data blobs --mean0 1,2,3', ['--mean0 has 3 values', 'give two']),
    ('logreg --data blobs --std 1e300', ['--std', 'float32']),
    ('softmax --loader torch', ['--loader', 'fast, book']),
    ('softmax --num-workers -1', ['--num-workers', 'non-negative integer']),
    ('softmax --batch-size 0', ['--batch-size', 'positive integer']),
    ('softmax --lr 0', ['--lr', 'positive']),
    ('softmax --lr inf', ['--lr', 'positive']),
    ('softmax --num-epochs 1.5', ['--num-epochs', 'positive integer']),
    ('softmax --impl keras', ['--impl', 'scratch, gluon, pytorch, both']),
    ('softmax --num-hiddens 64', ['unrecognized arguments: --num-hiddens', '--help']),
    ('softmax --ctx ' + BIG, ['--ctx', 'numbers up to 1023']),
    ('softmax --ctx cpu(0),cpu(1) --impl gluon', ['--ctx', 'no --kvstore', 'add --kvstore device']),
    ('softmax --kvstore dist_sync --impl gluon', ['--kvstore dist_sync', 'd2l-gluon launch']),
    ('softmax --data-dir EMPTY', ['--data-dir EMPTY', 'idx files']),
    ('softmax --data-dir CORRUPT', ['CORRUPT_FILE', 'damaged', 'fetch it again']),
    ('mlp --data-dir MISSING', ['--data-dir MISSING']),
    ('mlp --activation softplus', ['--activation', 'relu, sigmoid, tanh']),
    ('mlp --num-hiddens 0', ['--num-hiddens', 'from 1 to 65536']),
    ('mlp --num-hiddens 100000000', ['--num-hiddens', 'from 1 to 65536']),
    ('mlp --ctx tpu(0)', ['--ctx', "'tpu(0)' is not a device"]),
    ('mlp --ctx cpu(0),cpu(1)', ['--ctx', 'add --impl gluon']),
    ('linreg --resume EMPTY', ['EMPTY', 'no readable metrics.json']),
    ('linreg --resume EMPTY --num-epochs 10 --lr 0.5',
     ['--resume continues the run with its own settings; drop --num-epochs, --lr']),
    ('linreg --lr=0.5 --resume EMPTY --out OUT --overwrite', ['drop --lr, --out, --overwrite']),
    ('linreg --resume EMPTY --preset note-000', ['drop --preset']),
    ('softmax --resume EMPTY --ctx cpu --impl gluon', ['drop --ctx, --impl']),
    ('all --resume EMPTY --seed 3', ['--resume continues the run with its own settings; drop --seed']),
    ('all --seed 0 --resume EMPTY --out OUT', ['drop --seed, --out']),
    ('predict --model MODEL_HUGE --from-test 1 --ctx ' + BIG, ['--ctx', 'numbers up to 1023']),
    ('predict --model MODEL_HUGE --from-test 1', ['MODEL_HUGE', 'model.json']),
    ('predict --model MODEL_LIST --from-test 1', ['MODEL_LIST', 'model.json']),
    ('predict --model MODEL_TEXT --from-test 1', ['MODEL_TEXT', 'model.json']),
    ('predict --model MODEL_ZERO --from-test 1', ['MODEL_ZERO', 'model.json']),
    ('predict --model MODEL_SOFTPLUS --from-test 1', ['MODEL_SOFTPLUS', 'model.json']),
    ('predict --model MISSING --from-test 1', ['no model at MISSING']),
    ('predict --model MODEL_HUGE', ['give IMAGE files or --from-test N']),
    ('compare linreg --seed -1', ['--seed', 'from 0 to 4294967294']),
    ('compare linreg --perturb nan', ['--perturb', 'finite']),
    ('compare linreg --tolerance 0', ['--tolerance', 'positive']),
    ('compare lstm', ['chapter', 'linreg']),
    ('all --seed -5', ['--seed', 'from 0 to 4294967294']),
    ('all --resume EMPTY', ['EMPTY', 'all.json']),
    ('launch -n 2', ['name the chapter', 'softmax or mlp']),
    ('launch -n 2 -- linreg', ['name the chapter', 'softmax or mlp']),
    ('launch -n 0 -- softmax', ['--workers', 'positive integer']),
    ('launch -n 2 -- softmax --lr nan', ['--lr', 'positive']),
    ('launch -n 2 -- softmax --impl gluon --kvstore device', ['--kvstore device', 'dist_sync']),
    ('launch -n 5 -- softmax --impl gluon', ['--batch-size 256', 'multiple of 5']),
    ('launch -n 2 -- softmax --impl gluon --loader book', ['--loader book', '--loader fast']),
]


@pytest.mark.parametrize('command, words', BAD_ARGUMENTS, ids=[c for c, _ in BAD_ARGUMENTS])
def test_bad_argument_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch, command,
                                                               words):
    monkeypatch.chdir(tmp_path)  # a default run folder would land here too
    places = bad_inputs(tmp_path)
    before = tree(tmp_path)

    def fill(text):
        for name in sorted(places, key=len, reverse=True):
            text = text.replace(name, str(places[name]))
        return text
    argv = [fill(word) for word in command.split()]
    if argv[0] in MODULES and '--out' not in argv and '--resume' not in argv:
        argv += ['--out', str(places['OUT'])]
    code, stdout, stderr = run_main(argv, capsys)
    assert code == 2, stderr
    line = one_line(stderr)
    # launch checks its chapter's options with that chapter's parser
    named = [argv[0]] + (argv[argv.index('--') + 1:][:1] if '--' in argv else [])
    assert any(line.startswith('d2l-gluon %s: error: ' % name) for name in named), line
    for word in words:
        assert fill(word) in line, line
    # nothing on stdout but, from launch, the note that it trains the Gluon version
    assert stdout in ('', 'launch trains the Gluon version, the one that runs distributed\n'), stdout
    assert tree(tmp_path) == before, 'a refused command leaves no file behind'


def test_bad_argument_in_a_real_process_is_one_line_without_traceback(tmp_path):
    result = run_cli('mlp', '--activation', 'softplus', '--out', tmp_path / 'run')
    assert result.returncode == 2
    assert '--activation' in one_line(result.stderr) and result.stdout == ''
    assert not (tmp_path / 'run').exists()


def test_data_help_lists_every_place_searched(capsys):
    with pytest.raises(SystemExit):
        cli.main(['data', '--help'])
    shown = ' '.join(capsys.readouterr().out.split())
    assert '$D2L_GLUON_DATA, the gluon cache, /usr/share/datasets/fashion-mnist, then download' in shown
