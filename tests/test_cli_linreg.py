import json
import os

import numpy as np
import pytest

from .helpers import one_line, run_cli


def _strip_timings(metrics):
    for run in metrics['runs'].values():
        for epoch in run['epochs']:
            epoch.pop('seconds'), epoch.pop('eval_seconds', None)
    metrics['config'].pop('out')
    return metrics


def test_linreg_runs_end_to_end(tmp_path):
    out = tmp_path / 'run'
    result = run_cli('linreg', '--num-epochs', 1, '--out', out)
    assert result.returncode == 0, result.stderr
    assert 'scratch epoch 1, loss' in result.stdout and 'gluon   epoch 1, loss' in result.stdout
    assert 'closed form' in result.stdout and 'largest |scratch - gluon| difference' in result.stdout
    metrics = json.loads((out / 'metrics.json').read_text())
    assert metrics['chapter'] == 'linreg'
    assert metrics['config']['lr'] == 0.03 and metrics['config']['true_w'] == [2.0, -3.4]
    for impl in ('scratch', 'gluon'):
        run = metrics['runs'][impl]
        assert [e['epoch'] for e in run['epochs']] == [1]
        assert set(run['epochs'][0]) >= {'epoch', 'loss', 'seconds'}
        assert len(run['params']['w']) == 2 and len(run['params']['b']) == 1
    assert np.allclose(metrics['reference']['w'], [2, -3.4], atol=0.005)
    for png in ('data.png', 'loss.png'):
        assert (out / png).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert sorted(os.listdir(out)) == ['data.png', 'loss.png', 'metrics.json']


def test_same_seed_gives_identical_metrics(tmp_path):
    metrics = []
    for name in ('a', 'b'):
        assert run_cli('linreg', '--num-epochs', 2, '--seed', 7, '--out', tmp_path / name).returncode == 0
        metrics.append(_strip_timings(json.loads((tmp_path / name / 'metrics.json').read_text())))
    assert metrics[0] == metrics[1]
    run_cli('linreg', '--num-epochs', 2, '--seed', 8, '--out', tmp_path / 'c')
    other = _strip_timings(json.loads((tmp_path / 'c' / 'metrics.json').read_text()))
    assert other['runs'] != metrics[0]['runs']


def test_one_implementation_alone_equals_its_half_of_both(tmp_path):
    assert run_cli('linreg', '--num-epochs', 1, '--out', tmp_path / 'both').returncode == 0
    assert run_cli('linreg', '--num-epochs', 1, '--impl', 'gluon', '--out', tmp_path / 'g').returncode == 0
    both = json.loads((tmp_path / 'both' / 'metrics.json').read_text())
    alone = json.loads((tmp_path / 'g' / 'metrics.json').read_text())
    assert list(alone['runs']) == ['gluon']
    assert alone['runs']['gluon']['params'] == both['runs']['gluon']['params']


@pytest.mark.parametrize('args, words', [
    (['--lr', '-1'], '--lr'),
    (['--lr', 'nan'], '--lr'),
    (['--batch-size', '0'], '--batch-size'),
    (['--true-w', '1,2,3'], '--true-w'),
    (['--true-w', '1,x'], '--true-w'),
    (['--impl', 'torch'], '--impl'),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, args, words):
    out = tmp_path / 'run'
    result = run_cli('linreg', '--out', out, *args)
    assert result.returncode == 2
    assert words in one_line(result.stderr)
    assert not out.exists()


def test_unwritable_out_exits_2_and_leaves_nothing(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('not a folder')
    result = run_cli('linreg', '--out', blocker / 'run')
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert 'cannot write to output folder' in line and '--out' in line
    assert blocker.read_text() == 'not a folder' and os.listdir(tmp_path) == ['file']


def test_full_batch_option_runs_gradient_descent(tmp_path):
    result = run_cli('linreg', '--full-batch', '--num-epochs', 2, '--impl', 'scratch', '--out', tmp_path)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    assert metrics['config']['full_batch'] is True
    losses = [e['loss'] for e in metrics['runs']['scratch']['epochs']]
    assert losses[1] < losses[0] and losses[1] > 1.0
