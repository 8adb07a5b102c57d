import json
import os

import numpy as np
import pytest

from .helpers import one_line, run_cli

PNG = b'\x89PNG\r\n\x1a\n'


def test_logreg_hours_runs_end_to_end(tmp_path):
    out = tmp_path / 'run'
    result = run_cli('logreg', '--num-epochs', 250, '--out', out)
    assert result.returncode == 0, result.stderr
    for impl in ('scratch', 'gluon  '):
        printed = [line for line in result.stdout.splitlines() if line.startswith(impl + ' epoch')]
        # the first epoch, every 100th and the last
        assert [line.split(',')[0].split()[-1] for line in printed] == ['1', '100', '200', '250']
    assert 'P(pass | 4 hours)' in result.stdout and 'did not converge' in result.stdout
    metrics = json.loads((out / 'metrics.json').read_text())
    assert metrics['chapter'] == 'logreg'
    config = metrics['config']
    assert (config['data'], config['lr'], config['loss'], config['batch_size']) == ('hours', 0.01, 'sum', 3)
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
    for png in ('loss.png', 'probability.png'):
        assert (out / png).read_bytes()[:8] == PNG


def test_logreg_blobs_runs_end_to_end(tmp_path):
    out = tmp_path / 'run'
    result = run_cli('logreg', '--data', 'blobs', '--num-epochs', 3, '--num-examples', 300,
                     '--num-test', 200, '--std', 1.5, '--out', out)
    assert result.returncode == 0, result.stderr
    assert 'gluon   epoch 3, loss' in result.stdout and 'test acc' in result.stdout
    assert "Newton's method converged" in result.stdout
    metrics = json.loads((out / 'metrics.json').read_text())
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
        assert (out / png).read_bytes()[:8] == PNG


@pytest.mark.parametrize('args, words', [
    (['--lr', '-1'], '--lr'),
    (['--data', 'circles'], '--data'),
    (['--loss', 'median'], '--loss'),
    (['--num-examples', '10'], '--num-examples'),  # blobs-only option with the hours data
    (['--data', 'blobs', '--mean0', '1,2,3'], '--mean0'),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, args, words):
    out = tmp_path / 'run'
    result = run_cli('logreg', '--out', out, *args)
    assert result.returncode == 2
    assert words in one_line(result.stderr)
    assert not out.exists()
