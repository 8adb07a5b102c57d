"""Run folders (d2l_gluon.runs): metrics.json, checkpoints, resume, Ctrl-C, kills, divergence, saved models.

Most runs train softmax on a small fake Fashion-MNIST (600 training and 100
test images), so a run takes a second or two after mxnet's import; in-process
runs (cli.main) skip the import.  One uninterrupted ``softmax --num-epochs 3``
is the reference every resumed run must end equal to, bit for bit.
"""
import dataclasses
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mxnet import gluon, nd

from d2l_gluon import cli, predict, runs, walkthrough
from d2l_gluon.chapters.softmax_regression import softmax
from d2l_gluon.data import TEXT_LABELS, read_fashion_mnist
from d2l_gluon.files import mxnet_path

from .helpers import assert_close, one_line, run_cli, run_main, start_cli, write_fashion_mnist

IMPLS = ['scratch', 'gluon']
EPOCHS = 3
TIMING_KEYS = ('seconds', 'eval_seconds')
EPOCH_LINE = re.compile(r'^(scratch|gluon)\s+epoch (\d+), ')


# ---- small readers of a run folder

def read_json(path):
    with open(str(path)) as f:
        return json.load(f)


def without_timings(metrics):
    """Return metrics with the wall-clock entries of every epoch record removed (all else must match)."""
    metrics = json.loads(json.dumps(metrics))
    for run in metrics.get('runs', {}).values():
        run['epochs'] = [{k: v for k, v in e.items() if k not in TIMING_KEYS} for e in run['epochs']]
    return metrics


def hidden_files(folder):
    """Names starting with '.': the temporary files of atomic writes."""
    return sorted(n for n in os.listdir(str(folder)) if n.startswith('.'))


def checkpoint_files(folder):
    return sorted(n for n in os.listdir(str(folder)) if n.startswith('checkpoint'))


def unnumbered(names):
    # an export names its arrays after the process's layer counter (dense0_weight, or dense7_weight
    # in a process that built other nets first)
    return [re.sub(r'\d+', '', n) for n in names]


def assert_same_params_files(actual, expected):
    """Two files written by nd.save or save_parameters hold the same arrays, bit for bit."""
    with mxnet_path(str(actual)) as a, mxnet_path(str(expected)) as e:
        a, e = nd.load(a), nd.load(e)
    assert type(a) is type(e)
    if isinstance(e, dict):
        assert unnumbered(a) == unnumbered(e), (actual, list(a), list(e))
        pairs = [(x, y, k) for x, (k, y) in zip(a.values(), e.items())]
    else:
        assert len(a) == len(e), actual
        pairs = [(x, y, str(i)) for i, (x, y) in enumerate(zip(a, e))]
    for x, y, name in pairs:
        assert x.shape == y.shape and np.array_equal(x.asnumpy(), y.asnumpy()), \
            '%s: %s differs' % (os.path.basename(str(actual)), name)


def assert_resumed_run_equals(out, reference):
    """Same metrics but timings, same saved parameters bit for bit, same files, no leftovers."""
    resumed, expected = read_json(out / 'metrics.json'), read_json(reference / 'metrics.json')
    assert resumed.get('finished') is True
    assert without_timings(resumed) == without_timings(expected)
    for name in ('scratch.params', 'gluon.params', 'gluon-0000.params'):
        assert_same_params_files(out / name, reference / name)
    assert sorted(os.listdir(str(out))) == sorted(os.listdir(str(reference)))
    assert checkpoint_files(out) == [] and hidden_files(out) == []


def main(capsys, *args):
    """Run the CLI in this process; return (exit code, stdout, stderr)."""
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def wait_for(condition, process=None, timeout=120):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, 'timed out'
        assert process is None or process.poll() is None, 'the run ended first'
        time.sleep(0.001)


# ---- shared runs

WINDOW = {}  # seconds from the reference's first metrics.json to its exit

@pytest.fixture(scope='module')
def fake_data(tmp_path_factory):
    """A small fake Fashion-MNIST: 600 training and 100 test images (3 batches of 256 per epoch)."""
    folder = tmp_path_factory.mktemp('fake-fashion-mnist')
    write_fashion_mnist(folder, num_train=600, num_test=100)
    return folder


def softmax_args(fake_data, out, *more):
    return ['softmax', '--num-epochs', EPOCHS, '--data-dir', fake_data, '--out', out] + list(more)


@pytest.fixture(scope='module')
def reference(tmp_path_factory, fake_data):
    """An uninterrupted `softmax --num-epochs 3` (seed 0) in a subprocess; WINDOW: seconds it wrote files."""
    out = tmp_path_factory.mktemp('reference') / 'run'
    process = start_cli(*softmax_args(fake_data, out), stdout=subprocess.DEVNULL)
    wait_for(lambda: (out / 'metrics.json').exists(), process)
    start = time.monotonic()
    assert process.wait(timeout=120) == 0
    WINDOW['reference'] = time.monotonic() - start
    return out


def interrupted_at(folder, fake_data, impl, epoch, *more):
    """Run softmax in this process until Ctrl-C just after impl's checkpoint of epoch; return folder."""
    original = runs.Run._save_checkpoint

    def save_checkpoint(self, run_impl, run_epoch, version):
        original(self, run_impl, run_epoch, version)
        if (run_impl, run_epoch) == (impl, epoch):
            raise KeyboardInterrupt
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runs.Run, '_save_checkpoint', save_checkpoint)
        assert cli.main([str(a) for a in softmax_args(fake_data, folder, *more)]) == 130
    return folder


@pytest.fixture(scope='module')
def interrupted(tmp_path_factory, fake_data):
    """Interrupted runs, each just after its Gluon checkpoint of epoch 1: lr 0.1 (.own) and lr 0.05 (.other)."""
    base = tmp_path_factory.mktemp('interrupted')
    own = interrupted_at(base / 'own', fake_data, 'gluon', 1)
    other = interrupted_at(base / 'other', fake_data, 'gluon', 1, '--lr', 0.05)
    return own, other


@pytest.fixture
def damaged(tmp_path, interrupted):
    """A fresh copy of the lr 0.1 interrupted run, to damage."""
    folder = tmp_path / 'run'
    shutil.copytree(str(interrupted[0]), str(folder))
    return folder


def edit_json(path, change):
    data = read_json(path)
    change(data)
    with open(str(path), 'w') as f:
        json.dump(data, f)


# ---- a run folder belongs to one run

def test_a_second_run_into_an_existing_run_folder_is_refused_and_leaves_it_unchanged(tmp_path, fake_data,
                                                                                       capsys):
    out = tmp_path / 'R'
    assert main(capsys, 'softmax', '--num-epochs', 2, '--data-dir', fake_data, '--out', out)[0] == 0
    before = {n: (out / n).read_bytes() for n in os.listdir(str(out))}
    for command in (['softmax', '--num-epochs', 1, '--lr', 0.05, '--data-dir', fake_data],
                    ['linreg', '--num-epochs', 1]):
        code, stdout, err = main(capsys, *command, '--out', out)
        assert code == 2, err
        line = one_line(err)
        assert '--resume %s' % out in line and 'fresh --out' in line and '--overwrite' in line, line
        assert {n: (out / n).read_bytes() for n in os.listdir(str(out))} == before, command[0]


def test_overwrite_replaces_the_earlier_run_and_leaves_no_file_of_it(tmp_path, fake_data, capsys):
    out, fresh = tmp_path / 'R', tmp_path / 'fresh'
    assert main(capsys, 'softmax', '--num-epochs', 1, '--data-dir', fake_data, '--out', out)[0] == 0
    assert (out / 'weights.png').exists() and (out / 'scratch.params').exists()
    assert main(capsys, 'linreg', '--num-epochs', 1, '--out', out, '--overwrite')[0] == 0
    assert main(capsys, 'linreg', '--num-epochs', 1, '--out', fresh)[0] == 0
    assert sorted(os.listdir(str(out))) == sorted(os.listdir(str(fresh)))
    assert read_json(out / 'metrics.json')['chapter'] == 'linreg'


def test_a_second_process_on_a_folder_being_written_is_refused_and_the_first_run_keeps_it(
        tmp_path, fake_data, reference, capsys):
    out = tmp_path / 'R'
    first = start_cli(*softmax_args(fake_data, out), stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: (out / 'metrics.json').exists(), first)
        first.send_signal(signal.SIGSTOP)  # holds its lock while the others try
        # the others run in this process: a second process as far as the lock is concerned
        for more in (['--num-epochs', 1, '--lr', 0.05, '--data-dir', fake_data, '--out', out],
                     ['--num-epochs', 1, '--lr', 0.05, '--data-dir', fake_data, '--out', out,
                      '--overwrite'],
                     ['--resume', out]):
            code, _, err = main(capsys, 'softmax', *more)
            assert code == 2, err
            line = one_line(err)
            assert 'another d2l-gluon process is writing to %s' % out in line, line
    finally:
        first.send_signal(signal.SIGCONT)
        code = first.wait(timeout=120)
    assert code == 0
    assert read_json(out / 'metrics.json')['config']['lr'] == 0.1
    assert_resumed_run_equals(out, reference)
    # the saved models load into the first run's model with its final parameters
    for name in ('scratch.params', 'gluon.params'):
        net, _ = predict.load_model(str(out / name))
        expected, _ = predict.load_model(str(reference / name))
        X = nd.array(read_fashion_mnist(str(fake_data))[2][:16, None] / np.float32(255))
        assert np.array_equal(net(X).asnumpy(), expected(X).asnumpy()), name


# ---- resume refuses files that are not the run's own

def test_resume_refuses_a_checkpoint_copied_from_another_run(damaged, interrupted, capsys):
    other = interrupted[1]
    for name in ('checkpoint-gluon.json', 'checkpoint-gluon-epoch1.params'):
        shutil.copy(str(other / name), str(damaged / name))
    code, _, err = main(capsys, 'softmax', '--resume', damaged)
    assert code == 2
    line = one_line(err)
    assert 'checkpoint-gluon.json belongs to another run' in line, line
    assert not (damaged / 'gluon.params').exists() and hidden_files(damaged) == []


@pytest.mark.parametrize('change', ['lr', 'seed', 'num_epochs'])
def test_resume_refuses_a_checkpoint_after_metrics_json_config_was_edited(damaged, capsys, change):
    edit_json(damaged / 'metrics.json',
              lambda m: m['config'].update({change: {'lr': 0.2, 'seed': 1, 'num_epochs': 4}[change]}))
    code, _, err = main(capsys, 'softmax', '--resume', damaged)
    assert code == 2
    assert 'belongs to another run' in one_line(err)


def test_resume_refuses_metrics_json_with_fewer_epochs_than_the_checkpoint(damaged, capsys):
    edit_json(damaged / 'metrics.json', lambda m: m['runs']['gluon'].update(epochs=[]))
    code, _, err = main(capsys, 'softmax', '--resume', damaged)
    assert code == 2
    line = one_line(err)
    assert 'records 0 epochs of gluon but its checkpoint is after epoch 1' in line, line


def truncate_random_state(state):
    state['numpy_random_state'][1] = state['numpy_random_state'][1][:100]


DAMAGES = {
    'random state cut short': ('checkpoint-gluon.json', truncate_random_state, 'is damaged'),
    'checkpoint epoch a string': ('checkpoint-gluon.json', lambda s: s.update(epoch='one'), 'is damaged'),
    'ctx a string': ('metrics.json', lambda m: m['config'].update(ctx='cpu'), 'ctx'),
    'num_epochs a string': ('metrics.json', lambda m: m['config'].update(num_epochs='5'), '--num-epochs'),
    'impl foo': ('metrics.json', lambda m: m['config'].update(impl='foo'), '--impl'),
    'runs a list': ('metrics.json', lambda m: m.update(runs=[]), 'metrics.json'),
}


@pytest.mark.parametrize('case', DAMAGES)
def test_resume_of_a_hand_edited_run_file_is_one_line_exit_2(damaged, capsys, case):
    name, change, named = DAMAGES[case]
    edit_json(damaged / name, change)
    code, stdout, err = main(capsys, 'softmax', '--resume', damaged)
    assert code == 2, err
    line = one_line(err)
    assert named in line and 'Traceback' not in err, line
    assert not (damaged / 'gluon.params').exists() and hidden_files(damaged) == []


@pytest.mark.parametrize('content', ['{}', '[1, 2]', '{"seed": "0"}', 'not json'])
def test_all_resume_of_a_damaged_all_json_is_one_line_exit_2(tmp_path, capsys, content):
    out = tmp_path / 'all'
    out.mkdir()
    (out / 'all.json').write_text(content)
    code, stdout, err = main(capsys, 'all', '--resume', out)
    assert code == 2 and stdout == ''
    assert 'all.json' in one_line(err)
    assert sorted(os.listdir(str(out))) == ['all.json'] and (out / 'all.json').read_text() == content


# ---- temporary files of killed runs

STALE = '.predictions.png.k1ll3d_x'  # atomic_write's name: mkstemp adds 8 characters


def test_a_fresh_run_removes_stale_temporary_files(tmp_path, fake_data, capsys):
    out = tmp_path / 'R'
    out.mkdir()
    (out / STALE).write_bytes(b'')
    assert main(capsys, 'softmax', '--num-epochs', 1, '--data-dir', fake_data, '--out', out)[0] == 0
    assert hidden_files(out) == []


def test_resume_removes_stale_temporary_files_and_ends_like_an_uninterrupted_run(damaged, reference, capsys):
    (damaged / STALE).write_bytes(b'')
    (damaged / '.checkpoint-gluon-epoch2.params.x9x9x9x9').write_bytes(b'\0' * 100)
    code, stdout, err = main(capsys, 'softmax', '--resume', damaged)
    assert code == 0, err
    assert_resumed_run_equals(damaged, reference)


# ---- kills and Ctrl-C

def test_runs_killed_at_random_points_resume_to_the_uninterrupted_runs_numbers(tmp_path, fake_data,
                                                                                reference, capsys):
    """SIGKILL at stratified random times over the run's writing (some also during the resume)."""
    rng = random.Random(7)
    count = 4
    delays = [WINDOW['reference'] * (i + rng.random()) / count for i in range(count)]
    folders = [tmp_path / ('kill%d' % i) for i in range(count)]

    def kill_all(commands, delays):
        """Start every command; SIGKILL each at its delay after its metrics.json appears."""
        processes = [start_cli(*c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                     for c in commands]
        started, deadline = [None] * count, time.monotonic() + 300
        while any(p.poll() is None for p in processes):
            assert time.monotonic() < deadline
            for i, (p, folder) in enumerate(zip(processes, folders)):
                if started[i] is None and (folder / 'metrics.json').exists():
                    started[i] = time.monotonic()
                if p.poll() is None and started[i] is not None and delays[i] is not None \
                        and time.monotonic() - started[i] >= delays[i]:
                    p.kill()
            time.sleep(0.001)
        return [p.returncode for p in processes]
    first = kill_all([softmax_args(fake_data, f) for f in folders], delays)
    assert first.count(-signal.SIGKILL) >= count - 1, first  # the last delay may land after the end
    # odd runs are killed again while resuming, at the first half's delays
    kill_all([['softmax', '--resume', f] for f in folders],
             [delays[i] / 2 if i % 2 else None for i in range(count)])
    for folder in folders:
        if not read_json(folder / 'metrics.json').get('finished'):
            code, _, err = main(capsys, 'softmax', '--resume', folder)
            assert code == 0, err
        assert_resumed_run_equals(folder, reference)


@pytest.mark.parametrize('impl', IMPLS)
def test_ctrl_c_exits_130_and_resume_ends_like_an_uninterrupted_run(tmp_path, fake_data, reference, impl):
    out = tmp_path / 'run'
    checkpoint = out / ('checkpoint-%s.json' % impl)
    with open(str(tmp_path / 'stderr'), 'w') as stderr:
        process = start_cli(*softmax_args(fake_data, out), stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            wait_for(checkpoint.exists, process)
            # stopped within a millisecond or so of its first checkpoint, Ctrl-C lands in training
            process.send_signal(signal.SIGSTOP)
            process.send_signal(signal.SIGINT)
            process.send_signal(signal.SIGCONT)
            code = process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    err = (tmp_path / 'stderr').read_text()
    assert code == 130, 'exit %s (-2: no KeyboardInterrupt handler in the child): %s' % (code, err)
    assert 'Traceback' not in err
    assert err.strip().splitlines()[-1].endswith('partial results are in %s' % out), err
    # every file there is complete: no temporary file, the JSON parses, the parameters load
    assert hidden_files(out) == []
    metrics = read_json(out / 'metrics.json')
    assert 'finished' not in metrics and not metrics['runs'].get(impl, {}).get('finished')
    state = read_json(checkpoint)
    assert state['epoch'] >= 1
    assert len(nd.load(str(out / state['params']))) > 0
    assert not (out / ('%s.params' % impl)).exists(), 'interrupted before %s finished' % impl

    result = run_main('softmax', '--resume', out)
    assert result.returncode == 0, result.stderr
    assert_resumed_run_equals(out, reference)


def test_resume_after_the_last_checkpoint_exports_the_gluon_net_it_never_ran(tmp_path, fake_data,
                                                                             reference, capsys):
    out = interrupted_at(tmp_path / 'run', fake_data, 'gluon', EPOCHS)
    capsys.readouterr()
    code, _, err = main(capsys, 'softmax', '--resume', out)
    assert code == 0, err
    assert_resumed_run_equals(out, reference)


def test_resume_says_after_which_epoch_each_version_continues(damaged, capsys):
    code, stdout, err = main(capsys, 'softmax', '--resume', damaged)
    assert code == 0, err
    assert re.search(r'^scratch\s+resumed after epoch 3$', stdout, re.M), stdout
    assert re.search(r'^gluon\s+resumed after epoch 1$', stdout, re.M), stdout


@pytest.mark.parametrize('when', ['before the record', 'between record and checkpoint', 'after both'])
def test_interrupt_around_the_epoch_record_resumes_to_the_same_numbers(tmp_path, fake_data, reference,
                                                                       monkeypatch, capsys, when):
    out = tmp_path / 'run'
    on_epoch, save_checkpoint = runs.Run.on_epoch, runs.Run._save_checkpoint

    def hit(impl, record_or_epoch):
        epoch = record_or_epoch if isinstance(record_or_epoch, int) else record_or_epoch['epoch']
        return (impl, epoch) == ('gluon', 2)

    def interrupting_on_epoch(self, impl, record, version):
        if when == 'before the record' and hit(impl, record):
            raise KeyboardInterrupt
        return on_epoch(self, impl, record, version)

    def interrupting_save(self, impl, epoch, version):
        if when == 'between record and checkpoint' and hit(impl, epoch):
            raise KeyboardInterrupt
        save_checkpoint(self, impl, epoch, version)
        if when == 'after both' and hit(impl, epoch):
            raise KeyboardInterrupt
    monkeypatch.setattr(runs.Run, 'on_epoch', interrupting_on_epoch)
    monkeypatch.setattr(runs.Run, '_save_checkpoint', interrupting_save)
    code, _, err = main(capsys, *softmax_args(fake_data, out))
    assert code == 130 and 'partial results are in %s' % out in err, err
    assert hidden_files(out) == []
    monkeypatch.undo()
    code, _, err = main(capsys, 'softmax', '--resume', out)
    assert code == 0, err
    assert_resumed_run_equals(out, reference)


def test_resumed_run_leaves_no_checkpoint_of_an_implementation_finished_before_ctrl_c(tmp_path, fake_data,
                                                                                      monkeypatch, capsys):
    out = tmp_path / 'run'

    def interrupted(self, impl):
        raise KeyboardInterrupt
    monkeypatch.setattr(runs.Run, '_remove_checkpoint', interrupted)
    code, _, _ = main(capsys, 'softmax', '--num-epochs', 1, '--impl', 'scratch', '--data-dir', fake_data,
                      '--out', out)
    assert code == 130 and read_json(out / 'metrics.json')['runs']['scratch'].get('finished')
    assert checkpoint_files(out), 'interrupted with its checkpoint still there'
    monkeypatch.undo()
    assert main(capsys, 'softmax', '--resume', out)[0] == 0
    assert read_json(out / 'metrics.json').get('finished')
    assert checkpoint_files(out) == []


def test_ctrl_c_during_the_gluon_export_leaves_no_temporary_file(tmp_path, fake_data, monkeypatch, capsys):
    out = tmp_path / 'run'
    original = gluon.HybridBlock.export

    def export(self, path, *args, **kwargs):
        original(self, path, *args, **kwargs)
        raise KeyboardInterrupt  # a Ctrl-C just after net.export wrote its files
    monkeypatch.setattr(gluon.HybridBlock, 'export', export)
    code, _, err = main(capsys, 'softmax', '--num-epochs', 1, '--impl', 'gluon', '--data-dir', fake_data,
                        '--out', out)
    assert code == 130 and 'partial results are in' in err
    assert hidden_files(out) == []


@pytest.mark.parametrize('command', ['softmax', 'all'])
def test_ctrl_c_before_the_run_folder_exists_names_no_folder(tmp_path, fake_data, monkeypatch, capsys,
                                                             command):
    from d2l_gluon.chapters import linear_regression, softmax_regression
    out = tmp_path / 'never'

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    chapter = softmax_regression if command == 'softmax' else linear_regression
    monkeypatch.setattr(chapter, 'CHAPTER', dataclasses.replace(chapter.CHAPTER, load_data=interrupted))
    args = ['--data-dir', fake_data] if command == 'softmax' else []
    code, _, err = main(capsys, command, '--out', out / 'run', *args)
    assert code == 130
    if command == 'softmax':
        assert not out.exists() and str(out) not in err, err
    else:  # all creates its folder first; the chapter's sub-folder is not there yet
        assert (out / 'run').is_dir() and 'partial results are in %s\n' % (out / 'run') in err, err
        assert not (out / 'run' / 'linreg').exists()


# ---- a full disk

@pytest.fixture
def small_disk(tmp_path):
    folder = tmp_path / 'small'
    folder.mkdir()

    def mount(size):
        result = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=%s' % size, 'tmpfs', str(folder)],
                                capture_output=True)
        if result.returncode != 0:
            pytest.skip('cannot mount a tmpfs here: %s' % result.stderr.decode().strip())
        return folder
    yield mount
    subprocess.run(['umount', str(folder)], capture_output=True)


# 60k fills up at a checkpoint, 140k at the Gluon export (mxnet's own writer), 200k at a figure


@pytest.mark.parametrize('size', ['60k', '140k', '200k'])
def test_a_full_disk_is_one_line_exit_2_naming_the_fix(small_disk, fake_data, size):
    out = small_disk(size) / 'sm'
    result = run_main('softmax', '--num-epochs', 1, '--out', out, '--data-dir', fake_data)
    assert result.returncode == 2, result.stderr
    line = one_line(result.stderr)
    assert 'No space left' in line and 'free some space' in line and str(out) in line, line
    assert hidden_files(out) == []


# ---- divergence

@pytest.mark.slow


def test_softmax_lr_100_diverges_with_exit_3_naming_epoch_and_batch_and_keeps_the_metrics(tmp_path):
    out = tmp_path / 'run'
    result = run_main('softmax', '--lr', 100, '--num-epochs', 2, '--out', out)
    assert result.returncode == 3, (result.returncode, result.stderr)
    line = one_line(result.stderr)
    where = re.search(r'epoch (\d+), batch (\d+)', line)
    assert where and 'smaller --lr' in line, line
    epoch, batch = int(where.group(1)), int(where.group(2))
    metrics = read_json(out / 'metrics.json')
    assert metrics['diverged'] == {'impl': 'scratch', 'epoch': epoch, 'batch': batch}
    assert 'finished' not in metrics and batch >= 2  # the first batch is the reference
    # only completed epochs, as printed; the unfinished version's all before the one that diverged
    recorded = [(impl, e['epoch']) for impl, run in metrics['runs'].items() for e in run['epochs']]
    printed = [(m.group(1), int(m.group(2))) for m in map(EPOCH_LINE.match, result.stdout.splitlines()) if m]
    assert printed == recorded
    assert line.endswith('are in %s' % out) == bool(recorded), line  # named when it holds epochs
    for impl, run in metrics['runs'].items():
        assert all(np.isfinite(e['loss']) and 'test_acc' in e for e in run['epochs'])
        if not run.get('finished'):
            assert all(e['epoch'] < epoch for e in run['epochs'])
            assert not (out / ('%s.params' % impl)).exists()
    assert hidden_files(out) == []


# ---- saved models and load_model

MODELS = {'softmax': ([], [(784, 10), (10,)]),
          'mlp': (['--num-hiddens', 64], [(784, 64), (64,), (64, 10), (10,)])}


@pytest.fixture(scope='module')
def models(tmp_path_factory, fake_data):
    """One-epoch softmax and `mlp --num-hiddens 64` runs on the fake data, and a linreg run: {name: folder}."""
    base = tmp_path_factory.mktemp('models')
    folders = {}
    for chapter, (more, _) in MODELS.items():
        folders[chapter] = base / chapter
        args = [chapter, '--num-epochs', 1, '--data-dir', fake_data, '--out', folders[chapter]] + more
        assert cli.main([str(a) for a in args]) == 0
    folders['linreg'] = base / 'linreg'
    assert cli.main(['linreg', '--num-epochs', '1', '--out', str(folders['linreg'])]) == 0
    return folders


@pytest.fixture(scope='module')
def test_set(fake_data):
    """The fake test images (uint8, N x 28 x 28) and labels."""
    return read_fashion_mnist(str(fake_data))[2:]


def as_input(images):
    return nd.array(images[:, None].astype(np.float32) / np.float32(255))


@pytest.mark.parametrize('chapter', MODELS)
def test_classifier_run_folder_holds_both_models_of_its_size_and_the_export_and_no_leftovers(models, chapter):
    folder = models[chapter]
    names = set(os.listdir(str(folder)))
    assert {'scratch.params', 'gluon.params', 'gluon-symbol.json', 'gluon-0000.params',
            'model.json', 'metrics.json'} <= names
    assert checkpoint_files(folder) == [] and hidden_files(folder) == []
    assert read_json(folder / 'model.json')['chapter'] == chapter
    shapes = MODELS[chapter][1]
    assert [p.shape for p in nd.load(str(folder / 'scratch.params'))] == shapes
    # Dense stores its weight as (units, in_units)
    gluon_shapes = [s[::-1] for s in shapes]
    assert [p.shape for p in nd.load(str(folder / 'gluon.params')).values()] == gluon_shapes


@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.parametrize('chapter', MODELS)
def test_saved_model_is_the_trained_one(models, test_set, chapter, impl):
    # the saved parameters classify the test set exactly as the last epoch reported
    net, description = predict.load_model(str(models[chapter] / ('%s.params' % impl)))
    assert (description['chapter'], description['impl']) == (chapter, impl)
    expected = read_json(models[chapter] / 'metrics.json')['runs'][impl]['epochs'][-1]['test_acc']
    images, labels = test_set
    assert float((net(as_input(images)).argmax(axis=1).asnumpy() == labels).mean()) == expected


@pytest.mark.filterwarnings('ignore:Cannot decide type:UserWarning')  # mxnet's, on imports


@pytest.mark.parametrize('chapter', MODELS)
def test_hybridized_export_loads_as_symbolblock_with_the_saved_nets_outputs(models, test_set, chapter):
    folder = models[chapter]
    exported = gluon.SymbolBlock.imports(str(folder / 'gluon-symbol.json'), ['data'],
                                         str(folder / 'gluon-0000.params'))
    net, description = predict.load_model(str(folder))
    assert description['impl'] == 'gluon'
    X = as_input(test_set[0][:64])
    assert_close(exported(X), net(X), what='%s export vs gluon.params' % chapter)


# ---- predict (load_model through the CLI)

@pytest.fixture(scope='module')
def pngs(tmp_path_factory, test_set):
    """Four test images as 28x28 grayscale PNGs and one as a 56x56 RGB PNG; (paths, expected pixels)."""
    from PIL import Image
    folder = tmp_path_factory.mktemp('pngs')
    images = test_set[0]
    paths, pixels = [], []
    for i in range(4):
        path = str(folder / ('test%d.png' % i))
        Image.fromarray(images[i]).save(path)
        paths.append(path)
        pixels.append(images[i].astype(np.float32) / np.float32(255))
    rgb = Image.fromarray(images[4]).resize((56, 56), Image.NEAREST).convert('RGB')
    path = str(folder / 'rgb56.png')
    rgb.save(path)
    paths.append(path)
    # the documented conversion: to grayscale in [0, 1], then resized to 28x28 (in floats)
    gray = np.asarray(rgb.convert('L'), dtype=np.float32) / np.float32(255)
    pixels.append(np.asarray(Image.fromarray(gray, mode='F').resize((28, 28), Image.BILINEAR)))
    return paths, np.stack(pixels)


def parse_predictions(stdout):
    """Return the header line and [(name, [(label, probability)] * 3)] of predict's output."""
    header, *lines = stdout.strip().splitlines()
    parsed = []
    for line in lines:
        name, _, top = line.rpartition(': ')
        parsed.append((name, [(label, float(p)) for label, p in
                              (entry.rsplit(' ', 1) for entry in top.split(', '))]))
    return header, parsed


def assert_top3_is_the_models(parsed, probabilities):
    """Three distinct classes, probabilities in [0, 1] descending, the in-process model's top 3."""
    for (name, top), p in zip(parsed, probabilities):
        assert len(top) == 3 and len({label for label, _ in top}) == 3, name
        assert all(label in TEXT_LABELS for label, _ in top), top
        shown = [q for _, q in top]
        assert all(0 <= q <= 1 for q in shown) and shown == sorted(shown, reverse=True), top
        assert top[0][0] == TEXT_LABELS[int(np.argmax(p))], (name, top, p)
        for label, q in top:
            assert abs(q - p[TEXT_LABELS.index(label)]) <= 0.0005 + 1e-7, (name, label, q)


@pytest.mark.parametrize('chapter, model_file, impl', [('mlp', '', 'gluon'),
                                                        ('softmax', 'scratch.params', 'scratch')])
def test_predict_prints_the_models_top_3_classes_of_written_pngs(models, pngs, capsys, chapter,
                                                                 model_file, impl):
    paths, pixels = pngs
    model = os.path.join(str(models[chapter]), model_file)
    code, stdout, err = main(capsys, 'predict', '--model', model, *paths)
    assert code == 0, err
    header, parsed = parse_predictions(stdout)
    assert '%s model (%s)' % (chapter, impl) in header
    assert len(parsed) == len(paths)
    net, _ = predict.load_model(model)
    probabilities = softmax(net(nd.array(pixels[:, None]))).asnumpy()
    assert_top3_is_the_models(parsed, probabilities)
    names = [name for name, _ in parsed]
    assert names[:4] == paths[:4], 'no note for 28x28 grayscale images'
    rgb_name = names[4]
    assert rgb_name.startswith(paths[4]) and 'grayscale' in rgb_name and 'RGB' in rgb_name
    assert '56x56' in rgb_name and '28x28' in rgb_name


def test_predict_from_test_prints_n_lines_with_the_true_labels(models, test_set, fake_data, capsys):
    code, stdout, err = main(capsys, 'predict', '--model', models['mlp'], '--from-test', 3,
                             '--data-dir', fake_data)
    assert code == 0, err
    header, parsed = parse_predictions(stdout)
    assert 'mlp model (gluon)' in header and len(parsed) == 3
    images, labels = test_set
    for i, (name, _) in enumerate(parsed):
        assert name == 'test image %d (%s)' % (i, TEXT_LABELS[labels[i]])
    net, _ = predict.load_model(str(models['mlp']))
    assert_top3_is_the_models(parsed, softmax(net(as_input(images[:3]))).asnumpy())


def _model_folder(tmp_path, models, model_json_of, params_of):
    """A folder with model.json of one chapter beside the two .params files of another."""
    folder = tmp_path / 'model'
    folder.mkdir()
    shutil.copy(str(models[model_json_of] / 'model.json'), str(folder))
    for name in ('scratch.params', 'gluon.params'):
        shutil.copy(str(models[params_of] / name), str(folder))
    return folder


PREDICT_ERRORS = ['missing model', 'corrupt gluon.params', 'corrupt scratch.params',
                  'linreg run folder', 'mlp model.json beside softmax gluon.params',
                  'mlp model.json beside softmax scratch.params',
                  'softmax model.json beside mlp gluon.params', 'not an image', 'missing image',
                  'neither images nor --from-test', 'both images and --from-test']


@pytest.mark.parametrize('case', PREDICT_ERRORS)
def test_predict_error_is_one_line_exit_2_without_traceback(models, pngs, tmp_path, capsys, case):
    image = pngs[0][0]
    if case == 'missing model':
        model = tmp_path / 'no-such-run'
        args, named = ['--model', model, image], str(model)
    elif case.startswith('corrupt'):
        folder = _model_folder(tmp_path, models, 'softmax', 'softmax')
        name = case.split()[1]
        (folder / name).write_bytes(b'not parameters at all' + bytes(range(256)) * 4)
        args, named = ['--model', folder / name, image], name
    elif case == 'linreg run folder':
        args, named = ['--model', models['linreg'], image], 'linreg'
    elif 'beside' in case:
        json_of, params_of, name = re.match(r'(\w+) model.json beside (\w+) (\S+)', case).groups()
        folder = _model_folder(tmp_path, models, json_of, params_of)
        args, named = ['--model', folder / name, image], name
    elif case == 'not an image':
        text = tmp_path / 'picture.png'
        text.write_text('this is text, not a PNG\n')
        args, named = ['--model', models['mlp'], text], str(text)
    elif case == 'missing image':
        missing = tmp_path / 'missing.png'
        args, named = ['--model', models['mlp'], missing], str(missing)
    elif case == 'neither images nor --from-test':
        args, named = ['--model', models['mlp']], '--from-test'
    else:
        args, named = ['--model', models['mlp'], '--from-test', 2, image], '--from-test'
    code, stdout, err = main(capsys, 'predict', *args)
    assert code == 2, (code, err)
    line = one_line(err)
    assert line.startswith('d2l-gluon predict: error: ') and named in line, line
    assert stdout == '', 'no predictions after an error'


def test_read_image_reads_a_16_bit_grayscale_png_like_the_8_bit_one(tmp_path):
    from PIL import Image

    from d2l_gluon.images import read_image
    pixels = (np.arange(28 * 28).reshape(28, 28) % 256).astype(np.uint8)
    Image.fromarray(pixels).save(str(tmp_path / 'eight.png'))
    Image.fromarray(pixels.astype(np.uint16) * 257).save(str(tmp_path / 'sixteen.png'))  # 255 -> 65535
    assert Image.open(str(tmp_path / 'sixteen.png')).mode.startswith('I'), 'precondition: a 16-bit PNG'
    eight, _ = read_image(str(tmp_path / 'eight.png'))
    sixteen, _ = read_image(str(tmp_path / 'sixteen.png'))
    assert np.array_equal(eight, pixels / np.float32(255)), 'the 8-bit PNG reads exactly'
    # 65535 is white in 16 bits: a 16-bit pixel p * 257 is the 8-bit p, to one gray level
    assert_close(sixteen, eight, rtol=0, atol=1 / 255, what='16-bit vs 8-bit')


# ---- the folder rule: a run folder holds only what the tool wrote; it never deletes another file

def folder_contents(folder):
    """{relative path: bytes} of every file under folder, hidden ones and those in sub-folders too."""
    contents = {}
    for root, _, names in os.walk(str(folder)):
        for name in names:
            path = os.path.join(root, name)
            with open(path, 'rb') as f:
                contents[os.path.relpath(path, str(folder))] = f.read()
    return contents


def put(folder, files):
    """Write {relative path: bytes} into folder (creating sub-folders); return files."""
    for name, data in files.items():
        path = os.path.join(str(folder), name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(data)
    return files


def kept(folder, files):
    """Whether every one of files is still in folder with its content."""
    contents = folder_contents(folder)
    return all(contents.get(name) == data for name, data in files.items())


LINREG = ['linreg', '--num-epochs', 1, '--num-examples', 20]


def test_a_run_refuses_a_folder_of_hidden_files_and_with_overwrite_writes_beside_them(tmp_path, capsys):
    out = tmp_path / 'h'
    mine = put(out, {'.bashrc': b'secret\n', '.gitignore': b'x\n', '.metrics.json.bak': b'b'})
    (out / '.metrics.json.ab_c1234').write_bytes(b'{')  # a killed atomic write of metrics.json
    code, _, err = main(capsys, *LINREG, '--out', out)
    assert code == 2
    line = one_line(err)
    assert '.bashrc' in line and '--overwrite' in line and 'fresh --out' in line, line
    assert not (out / 'metrics.json').exists() and kept(out, mine)
    code, _, err = main(capsys, *LINREG, '--out', out, '--overwrite')
    assert code == 0, err
    assert kept(out, mine)
    assert not (out / '.metrics.json.ab_c1234').exists()
    metrics = read_json(out / 'metrics.json')
    assert set(os.listdir(str(out))) == set(mine) | set(metrics['files']) | {'metrics.json'}


def test_overwrite_in_a_folder_holding_no_run_keeps_every_file(tmp_path, capsys):
    out = tmp_path / 'p'
    mine = put(out, {'holiday.png': b'\x89PNG', 'model.params': b'p', 'checkpoint-foo': b'c'})
    code, _, err = main(capsys, 'logreg', '--num-epochs', 5, '--out', out)
    assert code == 2 and 'holiday.png' in one_line(err) and kept(out, mine)
    code, _, err = main(capsys, 'logreg', '--num-epochs', 5, '--out', out, '--overwrite')
    assert code == 0, err
    assert kept(out, mine) and (out / 'loss.png').exists()


def test_overwrite_removes_only_the_files_the_earlier_run_recorded(tmp_path, fake_data, capsys):
    out = tmp_path / 'R'
    assert main(capsys, 'softmax', '--num-epochs', 1, '--data-dir', fake_data, '--out', out)[0] == 0
    recorded = read_json(out / 'metrics.json')['files']
    assert set(os.listdir(str(out))) == set(recorded) | {'metrics.json'}
    mine = put(out, {'notes.txt': b'n', 'curves-old.png': b'c', 'checkpoint-gluon-epochx.params': b'e',
                     'sub/weights.png': b'w'})
    assert main(capsys, *LINREG, '--out', out, '--overwrite')[0] == 0
    assert kept(out, mine)
    assert not any((out / name).exists() for name in recorded if name != 'loss.png')


def test_overwrite_refuses_to_replace_a_file_it_did_not_write(tmp_path, capsys):
    out = tmp_path / 'R'
    mine = put(out, {'loss.png': b'my own figure'})
    code, _, err = main(capsys, *LINREG, '--out', out, '--overwrite')
    assert code == 2 and 'loss.png' in one_line(err)
    assert folder_contents(out) == mine


def test_all_into_a_sweep_folder_is_refused_and_leaves_the_sweep(tmp_path, capsys):
    out = tmp_path / 'S'
    code, _, err = main(capsys, 'sweep', 'linreg', '--lr', '0.1,0.2', '--num-epochs', 1,
                        '--num-examples', 20, '--processes', 1, '--out', out)
    assert code == 0, err
    before = folder_contents(out)
    code, _, err = main(capsys, 'all', '--out', out)
    assert code == 2
    assert 'sweep' in one_line(err)
    assert folder_contents(out) == before


def test_runs_without_out_in_the_same_second_get_folders_of_their_own(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(time, 'strftime', lambda *args: '20240101-120000')
    for _ in range(3):
        code, _, err = main(capsys, *LINREG)
        assert code == 0, err
    assert sorted(os.listdir('runs')) == ['linreg-20240101-120000', 'linreg-20240101-120000-2',
                                          'linreg-20240101-120000-3']


def test_a_setting_refused_during_setup_leaves_no_run_folder_and_the_retry_runs(tmp_path, fake_data,
                                                                                capsys):
    out = tmp_path / 'R'
    args = ['softmax', '--impl', 'gluon', '--num-epochs', 1, '--data-dir', fake_data,
            '--ctx', 'cpu(0),cpu(1)', '--kvstore', 'device', '--out', out]
    code, _, err = main(capsys, *args, '--batch-size', 1)
    assert code == 2 and '--batch-size' in one_line(err)
    assert not out.exists() or os.listdir(str(out)) == []
    code, _, err = main(capsys, *args, '--batch-size', 2)
    assert code == 0, err


def test_a_setting_refused_before_the_first_epoch_leaves_no_run_behind(tmp_path, fake_data, capsys):
    # the book loader's batches are checked one by one, as training meets them
    out = tmp_path / 'R'
    mine = put(out, {'notes.txt': b'n'})
    args = ['softmax', '--impl', 'gluon', '--loader', 'book', '--num-epochs', 1, '--data-dir', fake_data,
            '--ctx', 'cpu(0),cpu(1)', '--kvstore', 'device', '--out', out, '--overwrite']
    code, _, err = main(capsys, *args, '--batch-size', 1)
    assert code == 2 and 'batch' in one_line(err)
    assert folder_contents(out) == mine
    code, _, err = main(capsys, *args[:-1], '--batch-size', 2)
    assert code == 2 and 'notes.txt' in one_line(err)  # a folder without a run, as before
    code, _, err = main(capsys, *args, '--batch-size', 2)
    assert code == 0, err
    assert kept(out, mine)


def test_divergence_before_any_record_names_no_metrics(tmp_path, capsys):
    out = tmp_path / 'R'
    code, _, err = main(capsys, 'linreg', '--lr', 1e6, '--num-epochs', 1, '--out', out)
    assert code == 3
    assert read_json(out / 'metrics.json')['runs']['scratch']['epochs'] == []
    assert 'metrics of the epochs before' not in one_line(err)


# names the tool writes, and the exact names of its temporary files: a user's file by such a
# name is not foreign, or is refused rather than kept
WRITTEN = {'metrics.json', 'model.json', 'scratch.params', 'gluon.params', 'gluon-symbol.json',
           'gluon-0000.params', 'data.png', 'loss.png', 'learning_rates.png', 'all.json', 'summary.json',
           'report.html', 'sweep.png', 'linreg'}
TEMPORARY = re.compile(r'\.(probe-|.+\.)[a-z0-9_]{8}$|\.tmp-|checkpoint-(scratch|gluon)(\.json|-epoch)'
                       r'|worker\d')

name_text = st.text(alphabet='abcxyz019._- é', min_size=1, max_size=10)
foreign_name = st.builds(lambda prefix, text, suffix: prefix + text + suffix,
                         st.sampled_from(['', '.', 'checkpoint-', 'metrics.json.', 'model', 'x']),
                         name_text, st.sampled_from(['', '.png', '.params', '.json', '.bak'])).filter(
    lambda n: n not in WRITTEN and n not in ('.', '..') and not TEMPORARY.match(n))
foreign_files = st.dictionaries(
    st.one_of(foreign_name, st.builds(os.path.join, foreign_name, foreign_name)),
    st.binary(max_size=20), min_size=1, max_size=6).filter(
    # a name cannot be a file and a folder at once
    lambda files: not {os.path.dirname(n) for n in files} & set(files))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=foreign_files)
def test_foreign_files_survive_every_command_that_writes_a_folder(files, capsys, monkeypatch):
    base = tempfile.mkdtemp()
    try:
        run, sweep, walk = (put(os.path.join(base, k), files) and os.path.join(base, k)
                            for k in ('run', 'sweep', 'walk'))
        assert main(capsys, *LINREG, '--out', run)[0] == 2  # refused: nothing written
        assert folder_contents(run) == files
        for more in (['--out', run, '--overwrite'], ['--out', run, '--overwrite', '--lr', 0.05]):
            code, _, err = main(capsys, *LINREG, *more)
            assert code == 0, err
            assert kept(run, files)
        code, _, err = main(capsys, 'linreg', '--resume', run)
        assert code == 0, err
        assert kept(run, files)
        sweep_args = ['sweep', 'linreg', '--lr', '0.1,0.2', '--num-epochs', 1, '--num-examples', 20,
                      '--processes', 1, '--out', sweep]
        assert main(capsys, *sweep_args)[0] == 2 and folder_contents(sweep) == files
        for _ in range(2):
            code, _, err = main(capsys, *sweep_args, '--overwrite')
            assert code == 0, err
            assert kept(sweep, files)
        monkeypatch.setattr('sys.argv', ['linear_regression.py', '--quick', '--out', walk])
        assert walkthrough.walkthrough_args('linear_regression') == (True, walk)
        assert folder_contents(walk) == files
    finally:
        shutil.rmtree(base)


def test_foreign_files_survive_all_with_and_without_overwrite_and_resume(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, 'CHAPTERS', ('linreg',))
    out = tmp_path / 'all'
    files = put(out, {'.gitignore': b'*', 'notes.md': b'n', 'sub/report.html': b'r', 'x.png': b'x'})
    code, _, err = main(capsys, 'all', '--out', out)
    assert code == 2 and 'notes.md' in one_line(err) and folder_contents(out) == files
    for more in (['--out', out, '--overwrite'], ['--out', out, '--overwrite'], ['--resume', out]):
        code, _, err = main(capsys, 'all', *more)
        assert code == 0, err
        assert kept(out, files)
    assert set(os.listdir(str(out))) == {'.gitignore', 'notes.md', 'sub', 'x.png', 'all.json',
                                         'summary.json', 'report.html', 'linreg'}


SHORT_RUNS = {'linreg': LINREG[1:], 'logreg': ['--num-epochs', 2],
              'logreg-blobs': ['--data', 'blobs', '--num-epochs', 2],
              'polyfit': ['--num-epochs', 2], 'weight-decay': ['--num-epochs', 2], 'initialization': [],
              'softmax': ['--num-epochs', 1], 'mlp': ['--num-epochs', 1], 'dropout': ['--num-epochs', 1]}


@pytest.mark.parametrize('case', SHORT_RUNS)
def test_a_run_folder_holds_metrics_json_and_exactly_the_files_it_recorded(tmp_path, fake_data, capsys,
                                                                            case):
    chapter, out = case.split('-blobs')[0], tmp_path / case
    more = SHORT_RUNS[case] + (['--data-dir', fake_data] if chapter in ('softmax', 'mlp', 'dropout') else [])
    code, _, err = main(capsys, chapter, *more, '--out', out)
    assert code == 0, err
    assert sorted(os.listdir(str(out))) == sorted(read_json(out / 'metrics.json')['files'] + ['metrics.json'])
# ---- folder names that are not UTF-8

def test_a_run_folder_whose_name_is_not_utf8_saves_resumes_and_predicts(tmp_path, fake_data,
                                                                        reference, capfd):
    # MXNet encodes file names as UTF-8; this folder's name holds the Latin-1 byte of 'é'
    # (capfd, unlike capsys, takes the name's surrogate as printed)
    out = interrupted_at(tmp_path / os.fsdecode(b'lat\xe9n'), fake_data, 'gluon', 1)
    capfd.readouterr()
    assert cli.main(['softmax', '--resume', str(out)]) == 0, capfd.readouterr().err
    stdout = capfd.readouterr().out
    assert re.search(r'^gluon\s+resumed after epoch 1$', stdout, re.M), stdout
    assert_resumed_run_equals(out, reference)  # the same files and parameters as in an ASCII folder
    for model in (out, out / 'scratch.params'):
        code = cli.main(['predict', '--model', str(model), '--from-test', '2', '--data-dir',
                         str(fake_data)])
        stdout, err = capfd.readouterr()
        assert code == 0 and len(stdout.splitlines()) == 3, (code, err)


def test_a_run_folder_named_in_utf8_under_the_c_locale_saves_and_predicts(tmp_path, fake_data):
    # under LC_ALL=C without UTF-8 mode Python decodes 'é' as two surrogates, which MXNet cannot encode
    out = tmp_path / 'r\u00e9sultats'
    env = dict(os.environ, LC_ALL='C', PYTHONUTF8='0')
    env.pop('PYTHONIOENCODING', None)
    for args in (softmax_args(fake_data, out)[:2] + ['1'] + softmax_args(fake_data, out)[3:],
                 ['predict', '--model', out, '--from-test', 2, '--data-dir', fake_data]):
        result = subprocess.run([sys.executable, '-m', 'd2l_gluon'] + [str(a) for a in args],
                                capture_output=True, env=env, timeout=120)
        assert result.returncode == 0, result.stderr.decode(errors='replace')
    assert read_json(out / 'metrics.json')['finished'] is True
    assert sorted(n for n in os.listdir(str(out)) if n.endswith('.params')) == [
        'gluon-0000.params', 'gluon.params', 'scratch.params']
    assert hidden_files(out) == []
