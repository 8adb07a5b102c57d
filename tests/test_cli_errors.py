"""Inputs that once ended in a traceback: each must give one line on stderr and its exit code."""
import json
import os

import pytest

from d2l_gluon import cli

from .helpers import one_line


def run_main(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize('argv, words', [
    (['linreg', '--seed', '-1'], '--seed'),
    (['linreg', '--seed', str(2 ** 32 - 1)], '--seed'),  # each version is seeded with --seed + 1
    (['all', '--seed', '-5'], '--seed'),
    (['compare', 'linreg', '--seed', '-1'], '--seed'),
    (['compare', 'linreg', '--perturb', 'nan'], '--perturb'),
    (['linreg', '--ctx', 'gpu(0)'], 'GPU'),
])
def test_out_of_range_options_exit_2_with_one_line(tmp_path, capsys, argv, words):
    out = tmp_path / 'run'
    with pytest.raises(SystemExit) as stop:
        cli.main(argv + (['--out', str(out)] if argv[0] == 'linreg' else []))
    assert stop.value.code == 2
    assert words in one_line(capsys.readouterr().err)
    assert not out.exists()


def test_a_damaged_checkpoint_stops_resume_with_one_line(tmp_path, capsys):
    out = tmp_path / 'run'
    code, _, _ = run_main(['softmax', '--impl', 'gluon', '--num-epochs', 1, '--out', out], capsys)
    assert code == 0
    metrics = json.loads((out / 'metrics.json').read_text())
    metrics['runs']['gluon']['finished'] = False  # as if interrupted after its checkpoint
    (out / 'metrics.json').write_text(json.dumps(metrics))
    (out / 'checkpoint-gluon.json').write_text('{"epoch": 2')
    code, _, err = run_main(['softmax', '--resume', out], capsys)
    assert code == 2
    line = one_line(err)
    assert 'checkpoint-gluon.json' in line and 'delete it' in line


@pytest.mark.parametrize('description', [[1], {'chapter': 'mlp', 'num_hiddens': 'x'},
                                         {'chapter': 'mlp', 'num_hiddens': 0},
                                         {'chapter': 'mlp', 'activation': 'softplus'}])
def test_a_malformed_model_json_stops_predict_with_one_line(tmp_path, capsys, description):
    (tmp_path / 'model.json').write_text(json.dumps(description))
    (tmp_path / 'gluon.params').write_bytes(b'')
    code, _, err = run_main(['predict', '--model', tmp_path, '--from-test', 1], capsys)
    assert code == 2
    assert 'model.json' in one_line(err)


def test_divergence_keeps_every_epoch_recorded_before_it(tmp_path, capsys):
    # logreg writes metrics.json only at printed epochs; the epochs between must not be lost
    out = tmp_path / 'run'
    code, _, err = run_main(['logreg', '--lr', 30, '--print-every', 1000, '--impl', 'scratch',
                             '--out', out], capsys)
    assert code == 3
    line = one_line(err)
    metrics = json.loads((out / 'metrics.json').read_text())
    diverged = metrics['diverged']
    assert diverged['impl'] == 'scratch' and 'epoch %d' % diverged['epoch'] in line
    epochs = [e['epoch'] for e in metrics['runs']['scratch']['epochs']]
    assert epochs == list(range(1, diverged['epoch']))
    assert diverged['epoch'] > 2, 'the test needs an epoch between the first and the divergence'


def test_all_resume_keeps_finished_chapters(tmp_path, capsys, monkeypatch):
    out = tmp_path / 'all'
    monkeypatch.setattr(cli, 'CHAPTERS', ('linreg', 'logreg'))
    assert run_main(['all', '--out', out], capsys)[0] == 0
    before = (out / 'linreg' / 'metrics.json').read_text()
    os.remove(out / 'logreg' / 'metrics.json')
    code, printed, _ = run_main(['all', '--resume', out], capsys)
    assert code == 0
    assert '== linreg: finished earlier, kept' in printed and '== logreg' in printed
    assert (out / 'linreg' / 'metrics.json').read_text() == before
    assert json.loads((out / 'logreg' / 'metrics.json').read_text())['finished']


def test_ctrl_c_during_a_batch_stops_training_at_the_next_batch_boundary():
    import signal

    from mxnet import nd

    from d2l_gluon.data import ArrayLoader
    from d2l_gluon.linear_regression import init_params, linreg, squared_loss
    from d2l_gluon.train import sgd, train
    features, labels = nd.random.normal(shape=(50, 2)), nd.random.normal(shape=(50,))
    params = init_params(2)
    steps = []

    def loss(y_hat, y):
        if len(steps) == 2:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of the third batch
        return squared_loss(y_hat, y)

    def updater(n):
        steps.append(n)
        sgd(params, 0.1, n)
    with pytest.raises(KeyboardInterrupt):
        train(lambda X: linreg(X, *params), ArrayLoader(features, labels, 10), loss, updater, 3)
    assert len(steps) == 3, 'the interrupted batch finishes its step, no later batch starts'
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
