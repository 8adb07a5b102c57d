"""Run folders (d2l_gluon.runs): metrics.json, checkpoints, resume, Ctrl-C, kills, divergence.

Most runs train softmax on a small fake Fashion-MNIST (600 training and 100
test images), so a run takes a second or two after mxnet's import; in-process
runs (cli.main) skip the import.  One uninterrupted ``softmax --num-epochs 3``
is the reference every resumed run must end equal to, bit for bit.  Saved models and predict
are in test_predict.py, the folder rule in test_files.py.
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
import time

import numpy as np
import pytest
from mxnet import gluon, nd

from d2l_gluon import cli, predict, runs
from d2l_gluon.data import read_fashion_mnist
from d2l_gluon.files import mxnet_path

from .helpers import one_line, run_main, start_cli, write_fashion_mnist

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

@pytest.mark.slow  # several processes or many runs: seconds the fast tier skips; CI runs it
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


@pytest.mark.slow  # several processes or many runs: seconds the fast tier skips; CI runs it
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


@pytest.mark.slow  # several processes or many runs: seconds the fast tier skips; CI runs it
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
