"""`d2l-gluon softmax` and `d2l-gluon mlp` end to end, and their errors.

The end-to-end runs train on the real Fashion-MNIST for one epoch (slow);
the error paths stop before any training and are quick.
"""
import json
import os
import re

import numpy as np
import pytest

from d2l_gluon import cli

from .helpers import assert_png, one_line, run_cli, write_fashion_mnist

EPOCH_LINE = re.compile(r'^(scratch|gluon)\s+epoch (\d+), loss (\d\.\d{4}), train acc (\d\.\d{3}), '
                        r'test acc (\d\.\d{3}) \(\d+\.\d\d s\)$')
FIGURES = {'softmax': ['curves.png', 'predictions.png', 'weights.png'],
           'mlp': ['activations.png', 'curves.png', 'predictions.png']}


def check_run(result, out, chapter, impls=('scratch', 'gluon'), num_epochs=1):
    """Check exit code, the book's epoch lines, metrics.json and the figures; return the metrics."""
    assert result.returncode == 0, result.stderr
    lines = [EPOCH_LINE.match(line) for line in result.stdout.splitlines()]
    printed = [m.groups() for m in lines if m]
    assert [(impl, str(epoch)) for impl, epoch, *_ in printed] == \
        [(impl, str(e)) for impl in impls for e in range(1, num_epochs + 1)], result.stdout
    metrics = json.loads((out / 'metrics.json').read_text())
    assert metrics['chapter'] == chapter and list(metrics['runs']) == list(impls)
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
        assert record['test_acc'] > 0.5, 'one epoch learns far more than chance (0.1)'
    for name in FIGURES[chapter]:
        assert_png(out / name, min_size=(100, 400))
    names = os.listdir(out)
    assert set(FIGURES[chapter] + ['metrics.json']) <= set(names)
    assert not [n for n in names if n.startswith('.')], 'no half-written temporary files left: %s' % names
    return metrics


@pytest.fixture(scope='module')
def softmax_run(tmp_path_factory):
    """One `softmax --num-epochs 1` run with both versions, shared by the tests below."""
    out = tmp_path_factory.mktemp('softmax') / 'run'
    return run_cli('softmax', '--num-epochs', 1, '--out', out), out


@pytest.mark.slow
def test_softmax_runs_end_to_end(softmax_run):
    result, out = softmax_run
    metrics = check_run(result, out, 'softmax')
    config = metrics['config']
    assert (config['lr'], config['batch_size'], config['loader'], config['seed']) == (0.1, 256, 'fast', 0)
    assert 'test accuracy difference' in result.stdout and 'max_abs_diff' in metrics
    assert 'results in %s' % out in result.stdout


@pytest.mark.slow
def test_softmax_book_loader_gives_the_fast_loaders_numbers(softmax_run, tmp_path):
    # the two loaders yield the same batches for the same seed, so the runs agree exactly
    out = tmp_path / 'book'
    result = run_cli('softmax', '--num-epochs', 1, '--impl', 'gluon', '--loader', 'book', '--out', out)
    metrics = check_run(result, out, 'softmax', impls=('gluon',))
    assert metrics['config']['loader'] == 'book'
    fast = json.loads((softmax_run[1] / 'metrics.json').read_text())['runs']['gluon']['epochs'][0]
    book = metrics['runs']['gluon']['epochs'][0]
    for key in ('loss', 'train_acc', 'test_acc'):
        assert book[key] == fast[key], key


@pytest.mark.slow
def test_mlp_runs_end_to_end(tmp_path):
    out = tmp_path / 'run'
    metrics = check_run(run_cli('mlp', '--num-epochs', 1, '--out', out), out, 'mlp')
    config = metrics['config']
    assert (config['lr'], config['num_hiddens'], config['activation']) == (0.5, 256, 'relu')


@pytest.mark.slow
def test_mlp_with_sigmoid_and_64_hiddens_runs(tmp_path):
    out = tmp_path / 'run'
    result = run_cli('mlp', '--activation', 'sigmoid', '--num-hiddens', 64, '--num-epochs', 1, '--out', out)
    metrics = check_run(result, out, 'mlp')
    assert (metrics['config']['num_hiddens'], metrics['config']['activation']) == (64, 'sigmoid')


# ---- errors: one line on stderr, a non-zero exit, no run folder

@pytest.mark.parametrize('chapter, data', [('softmax', 'empty'), ('mlp', 'missing'),
                                           ('softmax', 'corrupt')])
def test_data_dir_without_data_exits_with_one_line(tmp_path, chapter, data):
    data_dir = tmp_path / 'data'
    words = [str(data_dir), '--data-dir']
    if data == 'empty':
        data_dir.mkdir()
    elif data == 'corrupt':
        files = write_fashion_mnist(data_dir)
        with open(files['t10k-labels-idx1-ubyte'], 'wb') as f:
            f.write(b'not an idx file')
        words = [files['t10k-labels-idx1-ubyte']]
    out = tmp_path / 'run'
    result = run_cli(chapter, '--data-dir', data_dir, '--num-epochs', 1, '--out', out)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith('d2l-gluon %s: error: ' % chapter)
    for word in words:
        assert word in line
    assert not out.exists(), 'a failed run leaves no run folder behind'


def run_main(argv, capsys):
    """Run cli.main in this process; return (exit code, stdout, stderr)."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize('chapter, args, words', [
    ('softmax', ['--loader', 'torch'], '--loader'),
    ('softmax', ['--num-workers', '-1'], '--num-workers'),
    ('softmax', ['--batch-size', '0'], '--batch-size'),
    ('softmax', ['--lr', '0'], '--lr'),
    ('softmax', ['--lr', 'inf'], '--lr'),
    ('softmax', ['--num-epochs', '1.5'], '--num-epochs'),
    ('softmax', ['--impl', 'keras'], '--impl'),
    ('softmax', ['--num-hiddens', '64'], '--num-hiddens'),
    ('mlp', ['--activation', 'softplus'], '--activation'),
    ('mlp', ['--num-hiddens', '0'], '--num-hiddens'),
    ('mlp', ['--ctx', 'tpu(0)'], '--ctx'),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, chapter, args, words):
    out = tmp_path / 'run'
    code, stdout, stderr = run_main([chapter, '--out', out] + args, capsys)
    assert code == 2
    assert words in one_line(stderr)
    assert stdout == '' and not out.exists()


def test_two_devices_exit_2_with_one_line(tmp_path, capsys):
    out = tmp_path / 'run'
    code, stdout, stderr = run_main(['mlp', '--ctx', 'cpu(0),cpu(1)', '--out', out], capsys)
    assert code == 2
    assert '--ctx' in one_line(stderr)
    assert not out.exists()


def test_bad_argument_in_a_real_process_is_one_line_without_traceback(tmp_path):
    result = run_cli('mlp', '--activation', 'softplus', '--out', tmp_path / 'run')
    assert result.returncode == 2
    assert '--activation' in one_line(result.stderr)
    assert not (tmp_path / 'run').exists()
