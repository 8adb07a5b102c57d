"""The notes' PyTorch code as a third version: the same start, batches and numbers as scratch and Gluon.

The parity tests need torch (the optional extra ``pytorch``) and are skipped
without it; the tests of what happens without torch run everywhere.
"""
import dataclasses
import json
import sys

import numpy as np
import pytest

from d2l_gluon import cli, d2l_torch
from d2l_gluon import compare as comparison
from d2l_gluon.chapters import chapter as chapter_module
from d2l_gluon.config import impls, make_config
from d2l_gluon.errors import D2LError

from .helpers import write_fashion_mnist

ALL = ('scratch', 'gluon', 'pytorch')
# chapter, changes: every chapter with a PyTorch version, logistic regression on both data sets
CASES = [('linreg', {}), ('softmax', {}), ('mlp', {}), ('logreg', {'data': 'hours'}),
         ('logreg', {'data': 'blobs'})]
IDS = ['linreg', 'softmax', 'mlp', 'logreg-hours', 'logreg-blobs']
FLOAT64_TOLERANCE = 1e-10


@pytest.fixture(scope='module')
def fake_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp('fake-fashion-mnist')
    write_fashion_mnist(folder, num_train=600, num_test=100)
    return str(folder)


def setting(name, changes, fake_data, **more):
    """Return (chapter record, config): two epochs (logreg hours: 20), fake Fashion-MNIST."""
    record = chapter_module(name)
    changes = dict(changes, **more)
    if 'data_dir' in record.options:
        changes['data_dir'] = fake_data
    num_epochs = 20 if changes.get('data') == 'hours' else 2
    return record, make_config(record.options, **dict(num_epochs=num_epochs, **changes))


def run_cli(argv, capsys):
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---- --impl: a comma list of versions

def test_impl_takes_a_comma_list_in_the_draw_order():
    assert impls({'impl': 'both'}) == ('scratch', 'gluon')
    assert impls({'impl': 'pytorch,scratch'}) == ('scratch', 'pytorch')
    assert make_config({}, impl='scratch,gluon,pytorch')['impl'] == 'scratch,gluon,pytorch'
    for bad in ('scratch,scratch', 'torch', 'scratch,', 'both,pytorch'):
        with pytest.raises(D2LError, match='--impl'):
            make_config({}, impl=bad)


def test_a_chapter_without_a_pytorch_version_refuses_it_with_exit_2(capsys, tmp_path):
    code, out, err = run_cli(['polyfit', '--impl', 'scratch,pytorch', '--out', tmp_path / 'r'],
                             capsys)
    assert code == 2 and err.count('\n') == 1 and 'has no pytorch version' in err
    assert not (tmp_path / 'r').exists()


def test_without_torch_impl_pytorch_says_how_to_install_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'torch', None)  # import torch now raises ImportError
    code, out, err = run_cli(['linreg', '--impl', 'pytorch', '--out', tmp_path / 'r'], capsys)
    assert code == 2 and err.count('\n') == 1 and 'Traceback' not in err
    assert "pip install -e '.[pytorch]'" in err
    assert not (tmp_path / 'r').exists()
    code, out, err = run_cli(['compare', 'linreg', '--impl', 'scratch,pytorch'], capsys)
    assert code == 2 and "pip install -e '.[pytorch]'" in err


def test_the_package_imports_no_torch_at_start_up():
    import subprocess
    code = 'import sys, d2l_gluon.cli, d2l_gluon.compare, d2l_gluon.chapters.mlp; ' \
           'print("torch" in sys.modules)'
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert result.stdout.strip() == 'False', result.stderr


# ---- parity: the PyTorch version computes what scratch and Gluon compute

@pytest.mark.parametrize('name, changes', [c for c in CASES if c[0] != 'mlp'],
                         ids=[i for i in IDS if i != 'mlp'])
def test_float32_pytorch_agrees_within_the_chapters_tolerance(fake_data, name, changes):
    pytest.importorskip('torch')
    record, config = setting(name, changes, fake_data)
    result = comparison.compare(record, config, impls=ALL)
    assert result.dtype == 'float32' and result.diverged is None
    assert [pair.names for pair in result.pairs] == [('scratch', 'gluon'), ('scratch', 'pytorch'),
                                                    ('gluon', 'pytorch')]
    assert len(result.pairs[1].epochs) == config['num_epochs']
    assert result.agree, (result.loss_diff, result.param_diff, result.tolerance)


@pytest.mark.parametrize('name, changes', CASES, ids=IDS)
def test_float64_pytorch_equals_scratch_to_1e_10(fake_data, name, changes):
    pytest.importorskip('torch')
    record, config = setting(name, changes, fake_data)
    result = comparison.compare(record, config, impls=('scratch', 'pytorch'), dtype='float64')
    assert result.dtype == 'float64' and result.diverged is None
    for pair in result.pairs:
        assert pair.loss_diff <= FLOAT64_TOLERANCE and pair.param_diff <= FLOAT64_TOLERANCE, pair
        for _, row in pair.epochs:
            assert all(diff <= FLOAT64_TOLERANCE for _, _, diff in row.values()), row


@pytest.mark.parametrize('name, changes', CASES, ids=IDS)
def test_float64_parity_fails_for_another_start(fake_data, name, changes):
    pytest.importorskip('torch')
    record, config = setting(name, changes, fake_data)
    result = comparison.compare(record, config, impls=('scratch', 'pytorch'), dtype='float64',
                                perturb=1e-6)
    assert result.param_diff > FLOAT64_TOLERANCE and result.loss_diff > FLOAT64_TOLERANCE


@pytest.mark.parametrize('name, changes', CASES, ids=IDS)
def test_float64_parity_fails_for_other_batches(fake_data, name, changes):
    pytest.importorskip('torch')
    record, config = setting(name, changes, fake_data, batch_size=2 if name == 'logreg' else 50)

    def train(version, data, config, monitor=None):
        if version.impl == 'pytorch':
            np.random.rand()  # moves numpy's state: the PyTorch version gets other permutations
        return record.train(version, data, config, monitor)
    shifted = dataclasses.replace(record, train=train)
    result = comparison.compare(shifted, config, impls=('scratch', 'pytorch'), dtype='float64')
    assert result.param_diff > FLOAT64_TOLERANCE


def test_the_pytorch_version_starts_from_the_scratch_draw(fake_data):
    torch = pytest.importorskip('torch')
    import d2l_gluon
    from d2l_gluon.params import as_scratch
    record, config = setting('mlp', {}, fake_data)
    starts = {}
    for impl in ALL:
        d2l_gluon.seed(1)
        version = record.setup(impl, config)
        starts[impl] = [p.asnumpy() for p in as_scratch(version)]
    for impl in ('gluon', 'pytorch'):
        assert all(np.array_equal(p, q) for p, q in zip(starts['scratch'], starts[impl]))
    assert isinstance(record.setup('pytorch', config).net, torch.nn.Sequential)


# ---- the command line

def test_softmax_trains_three_versions_and_prints_each_ones_epoch_lines(fake_data, capsys,
                                                                        tmp_path):
    pytest.importorskip('torch')
    out_dir = tmp_path / 'run'
    code, out, err = run_cli(['softmax', '--impl', 'scratch,gluon,pytorch', '--num-epochs', 2,
                              '--data-dir', fake_data, '--out', out_dir], capsys)
    assert code == 0, err
    for impl in ALL:
        assert sum(line.startswith(impl + ' ') and 'epoch' in line
                   for line in out.splitlines()) == 2, out
    metrics = json.loads((out_dir / 'metrics.json').read_text())
    assert list(metrics['runs']) == list(ALL)
    # pytorch.params holds the parameters in scratch layout: predict loads them into the scratch net
    from mxnet import nd

    from d2l_gluon import predict
    from d2l_gluon.fashion_mnist import read_fashion_mnist
    net, description = predict.load_model(str(out_dir / 'pytorch.params'))
    assert description['impl'] == 'pytorch'
    images = read_fashion_mnist(fake_data)[2][:16]
    version = softmax_version_of(out_dir, fake_data)
    expected = d2l_torch.on_ndarrays(version).net(nd.array(images[:, None] / np.float32(255)))
    assert np.allclose(net(nd.array(images[:, None] / np.float32(255))).asnumpy(),
                       expected.asnumpy(), rtol=1e-5, atol=1e-6)


def softmax_version_of(out_dir, fake_data):
    """Return a PyTorch softmax version set to the parameters a run saved in out_dir."""
    from d2l_gluon.params import load_version
    record, config = setting('softmax', {}, fake_data)
    version = record.setup('pytorch', config)
    load_version(str(out_dir / 'pytorch.params'), version)
    return version


def test_a_pytorch_run_resumes_to_the_numbers_of_an_uninterrupted_one(fake_data, capsys, tmp_path,
                                                                     monkeypatch):
    pytest.importorskip('torch')
    args = ['softmax', '--impl', 'pytorch', '--num-epochs', 3, '--data-dir', fake_data, '--out']
    assert run_cli(args + [tmp_path / 'full'], capsys)[0] == 0
    evaluate, calls = d2l_torch.evaluate_accuracy, []

    def interrupted(*a):  # Ctrl-C in epoch 2's evaluation: the checkpoint is after epoch 1
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return evaluate(*a)
    monkeypatch.setattr(d2l_torch, 'evaluate_accuracy', interrupted)
    assert run_cli(args + [tmp_path / 'cut'], capsys)[0] == 130
    monkeypatch.setattr(d2l_torch, 'evaluate_accuracy', evaluate)
    code, out, err = run_cli(['softmax', '--resume', tmp_path / 'cut'], capsys)
    assert code == 0 and 'pytorch resumed after epoch 1' in out, out + err
    full, resumed = [json.loads((tmp_path / name / 'metrics.json').read_text())['runs']['pytorch']
                     for name in ('full', 'cut')]
    assert [e['loss'] for e in resumed['epochs']] == [e['loss'] for e in full['epochs']]
    assert (tmp_path / 'cut' / 'pytorch.params').read_bytes() == \
        (tmp_path / 'full' / 'pytorch.params').read_bytes()


def test_compare_mlp_scratch_against_pytorch_exits_0(fake_data, capsys):
    pytest.importorskip('torch')
    code, out, err = run_cli(['compare', 'mlp', '--impl', 'scratch,pytorch', '--num-epochs', 1,
                              '--data-dir', fake_data], capsys)
    assert code == 0, err
    assert 'scratch loss' in out and 'pytorch loss' in out and 'scratch and pytorch agree' in out


def test_compare_names_the_pair_that_differs(fake_data, capsys):
    pytest.importorskip('torch')
    code, out, err = run_cli(['compare', 'linreg', '--impl', 'gluon,pytorch', '--perturb', '1e-2'],
                             capsys)
    assert code == 1 and err.startswith('d2l-gluon compare: error: gluon and pytorch differ')


def test_need_torch_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, 'torch', None)
    with pytest.raises(D2LError, match=r"pip install -e '\.\[pytorch\]'"):
        d2l_torch.need_torch()


def test_the_readme_table_is_the_one_the_running_source_gives():
    import os
    from d2l_gluon.walkthrough import translation_table
    readme = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'README.md')
    with open(readme) as f:
        assert '\n'.join(translation_table()) in f.read()


def test_the_note_002_preset_is_the_notes_configuration():
    from d2l_gluon.chapters import linear_regression
    preset = linear_regression.PRESETS['note-002']
    assert preset['true_w'] == [-1.0, 1.0] and preset['noise'] == 0.1 and preset['init_std'] == 0.1


def test_a_pytorch_only_run_folder_is_a_model_predict_finds_and_its_checkpoints_are_the_tools(
        fake_data, capsys, tmp_path):
    pytest.importorskip('torch')
    from d2l_gluon import checkpoints, predict
    out_dir = tmp_path / 'run'
    code, out, err = run_cli(['softmax', '--impl', 'pytorch', '--num-epochs', 1,
                              '--data-dir', fake_data, '--out', out_dir], capsys)
    assert code == 0, err
    net, description = predict.load_model(str(out_dir))  # the folder, not its .params file
    assert description['impl'] == 'pytorch'
    # a checkpoint of the pytorch version is the tool's own file: --overwrite may replace it
    for name in ('checkpoint-pytorch.json', 'checkpoint-pytorch-epoch3.params'):
        assert checkpoints.PATTERN.match(name), name
    assert not checkpoints.PATTERN.match('checkpoint-torch.json')
