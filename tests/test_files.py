"""The folder rule (d2l_gluon.files): a run folder holds only what the tool wrote; it never deletes another file.

Every command that writes a folder (a chapter, --overwrite, --resume, sweep, all, a
walk-through) runs in this process on folders holding files of the user's.  Split from
test_runs.py, whose runs it shares the readers of, so that the two files run side by side
under ``pytest -n 2 --dist loadfile``.
"""
import os
import re
import shutil
import sys
import tempfile
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from d2l_gluon import cli, walkthrough

from .helpers import one_line, write_fashion_mnist
from .test_runs import main, read_json


@pytest.fixture(scope='module')
def fake_data(tmp_path_factory):
    """A small fake Fashion-MNIST: 600 training and 100 test images (3 batches of 256 per epoch)."""
    folder = tmp_path_factory.mktemp('fake-fashion-mnist')
    write_fashion_mnist(folder, num_train=600, num_test=100)
    return folder


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


@pytest.mark.slow  # several processes or many runs: seconds the fast tier skips; CI runs it
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
        # walkthrough_args reads sys.argv unless ipykernel was imported (test_scripts' notebooks do)
        monkeypatch.delitem(sys.modules, 'ipykernel', raising=False)
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


def test_a_users_summary_txt_in_a_chapter_folder_of_all_is_refused_not_replaced(tmp_path, capsys):
    from d2l_gluon import cli
    from d2l_gluon.errors import D2LError
    folder = tmp_path / 'linreg'
    folder.mkdir()
    (folder / 'summary.txt').write_text('my notes')
    args = cli.build_parser().parse_args(['linreg', '--num-epochs', '1', '--out', str(folder),
                                          '--overwrite'])
    with pytest.raises(D2LError) as caught:
        cli.run_chapter(args, summary_file=True)  # as `all` trains a chapter
    assert 'summary.txt' in str(caught.value)
    assert (folder / 'summary.txt').read_text() == 'my notes'
