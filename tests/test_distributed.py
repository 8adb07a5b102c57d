"""Data parallelism: two devices in one process, and worker processes under d2l-gluon launch.

The multi-process tests run a scheduler, a server and two workers on
127.0.0.1 with a small fake Fashion-MNIST, so they take seconds, not minutes.
"""
import os
import signal
import subprocess
import sys
import threading
import time

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon, nd

import d2l_gluon
from d2l_gluon import cli, d2l, distributed
from d2l_gluon.chapters import mlp, softmax_regression
from d2l_gluon.config import make_config
from d2l_gluon.data import ArrayLoader, load_fashion_mnist, shuffled_indices
from d2l_gluon.params import copy_to_gluon

from .helpers import assert_close, run_cli, write_fashion_mnist

NUM_TRAIN, NUM_TEST = 200, 50


@pytest.fixture(scope='module')
def fake_data(tmp_path_factory):
    """A Fashion-MNIST folder of 200 random training and 50 test images."""
    folder = tmp_path_factory.mktemp('fashion-mnist')
    write_fashion_mnist(folder, num_train=NUM_TRAIN, num_test=NUM_TEST)
    return str(folder)


def dmlc_variables():
    return sorted(k for k in os.environ if k.startswith('DMLC_'))


# ---- several devices in one process

@pytest.mark.parametrize('kvstore', ['device', 'local'])
def test_two_devices_match_the_books_epoch_on_one_device(kvstore):
    # 45 examples in batches of 10: the last batch of 5 splits unevenly, 3 + 2
    X = nd.random.normal(shape=(45, 1, 28, 28))
    y = nd.array(np.random.randint(0, 10, 45), dtype='int32')
    loader = ArrayLoader(X, y, 10)
    config = make_config(mlp.OPTIONS, num_hiddens=32)
    one = distributed.Devices([mx.cpu(0)])
    two = distributed.Devices([mx.cpu(0), mx.cpu(1)], kvstore)
    nets, results = [], []
    for devices in (one, two):
        d2l_gluon.seed(1)  # the same initial parameters
        version = devices.wrap(mlp.setup)('gluon', config)
        net = version.net
        initial = [p.data(mx.cpu(0)).copy() for p in net.collect_params().values()]
        d2l_gluon.seed(2)  # the same batches
        # every step divides by its batch's size; one device runs the book's own epoch
        if devices.split is None:
            results.append(d2l.train_epoch_ch3(net, loader, version.loss, version.updater, None))
        else:
            results.append(devices._epoch(version, loader, None))
        nets.append(net)
    pairs = zip(nets[0].collect_params().items(), nets[1].collect_params().values(), initial)
    for (name, p1), p2, p0 in pairs:
        assert p2.list_ctx() == [mx.cpu(0), mx.cpu(1)]
        # training moved the parameters, so agreement below is not agreement of two untouched copies
        assert float((p1.data() - p0).abs().max().asscalar()) > 1e-3, name
        for ctx in p2.list_ctx():
            assert_close(p2.data(ctx), p1.data(), rtol=0, atol=1e-6, what='%s on %s' % (name, ctx))
    # train_epoch_ch3 counts the epoch's correct predictions once, the devices' loop per batch
    (l_one, correct_one, sizes_one), (l_two, correct_two, sizes_two) = results
    for one_device, two_devices, what in ((l_one, l_two, 'loss sums'), (sizes_one, sizes_two, 'sizes'),
                                          (correct_one.sum(keepdims=True), correct_two.sum(keepdims=True),
                                           'correct')):
        assert_close(two_devices, one_device, rtol=1e-5, atol=1e-5, what=what)


def test_a_batch_smaller_than_the_device_count_is_refused():
    loader = ArrayLoader(nd.zeros((3, 1, 28, 28)), nd.zeros(3, dtype='int32'), 2)  # last batch: 1
    devices = distributed.Devices([mx.cpu(0), mx.cpu(1)], 'device')
    with pytest.raises(d2l_gluon.D2LError, match='cannot be split across 2 devices'):
        devices.shard(loader)


@pytest.mark.parametrize('options, message', [
    (['--impl', 'gluon', '--ctx', 'cpu(0),cpu(1)'], 'no --kvstore'),
    (['--impl', 'both', '--ctx', 'cpu(0),cpu(1)', '--kvstore', 'device'], 'add --impl gluon'),
    (['--impl', 'scratch', '--kvstore', 'local'], 'add --impl gluon'),
    (['--impl', 'gluon', '--ctx', 'cpu(0),cpu(0)', '--kvstore', 'device'], 'names a device twice'),
    (['--impl', 'gluon', '--kvstore', 'dist_sync'], 'd2l-gluon launch'),
])
def test_devices_without_a_kvstore_and_other_mismatches_are_refused(options, message, fake_data,
                                                                     tmp_path, capsys):
    out = tmp_path / 'run'
    code = cli.main(['softmax', '--data-dir', fake_data, '--out', str(out)] + options)
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not out.exists()  # refused before anything was written


def test_shards_are_disjoint_equal_and_cover_the_set_but_the_remainder():
    for num_examples, num_workers in ((200, 2), (60000, 7), (10, 3)):
        shards = [distributed.shard_indices(num_examples, r, num_workers) for r in range(num_workers)]
        assert len({len(s) for s in shards}) == 1
        union = np.concatenate(shards)
        assert len(np.unique(union)) == len(union)
        assert set(range(num_examples)) - set(union.tolist()) == \
            set(range(num_examples - num_examples % num_workers, num_examples))


# ---- several processes

def single_process_on_the_union(data_dir, seed, lr, batch_size, num_epochs, num_workers=2,
                                step_divisor='batch-size'):
    """Train Gluon softmax in one process; batch k is the union of every worker's batch k."""
    train_iter, _ = load_fashion_mnist(batch_size, data_dir)
    X, y = train_iter.features, train_iter.labels
    shards = [distributed.shard_indices(len(X), r, num_workers) for r in range(num_workers)]
    local = batch_size // num_workers
    d2l_gluon.seed(seed + 1)  # as train_versions seeds before setting up the net
    start = softmax_regression.init_params()  # the Gluon set-up starts from the scratch draw
    net = softmax_regression.gluon_net()
    copy_to_gluon(start, net)
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': lr})
    loss = softmax_regression.gluon_loss()
    for _ in range(num_epochs):
        # every worker draws this same permutation of its shard from the shared seed
        order = shuffled_indices(len(shards[0]))
        for k in range(0, len(order), local):
            j = nd.array(np.concatenate([s[order[k:k + local]] for s in shards]), dtype='int64')
            with autograd.record():
                l = loss(net(X.take(j)), y.take(j))
            l.backward()
            trainer.step(batch_size if step_divisor == 'batch-size' else j.shape[0])
    return net


@pytest.mark.slow  # several processes or many runs: seconds the fast tier skips; CI runs it
@pytest.mark.parametrize('step_divisor', ['batch-size', 'actual'])
def test_two_workers_end_equal_to_one_process_on_the_union_of_their_shards(fake_data, tmp_path,
                                                                           step_divisor):
    out = tmp_path / 'run'
    # 100 examples per worker in batches of 12: the last batch of each epoch has 4; random
    # pixels need a small learning rate
    start = time.perf_counter()
    result = run_cli('launch', '-n', 2, '--timeout', 120, '--', 'softmax', '--impl', 'gluon',
                     '--data-dir', fake_data, '--lr', 0.01, '--batch-size', 24, '--num-epochs', 3,
                     '--seed', 0, '--out', out, '--step-divisor', step_divisor, timeout=180)
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    worker0 = nd.load(str(out / 'gluon.params'))
    worker1 = nd.load(str(out / 'worker1' / 'gluon.params'))
    reference = single_process_on_the_union(fake_data, seed=0, lr=0.01, batch_size=24, num_epochs=3,
                                            step_divisor=step_divisor)
    reference.save_parameters(str(tmp_path / 'reference.params'))  # the names the workers saved
    expected = nd.load(str(tmp_path / 'reference.params'))
    assert sorted(worker0) == sorted(worker1) == sorted(expected)
    for name in expected:
        # both workers step on the same summed gradient: bit for bit the same parameters
        np.testing.assert_array_equal(worker1[name].asnumpy(), worker0[name].asnumpy(), err_msg=name)
        assert_close(worker0[name], expected[name], rtol=0, atol=1e-5, what=name)
    assert 'worker 0 of 2' in result.stdout and 'worker 1 of 2' in result.stdout
    print('2-worker launch: %.1f s, largest difference to one process %.2g' % (seconds, max(
        float(np.abs(worker0[n].asnumpy() - expected[n].asnumpy()).max()) for n in expected)))


def started_pids(stderr_text):
    """Return {name: pid} of the children the launcher reported starting."""
    pids = {}
    for line in stderr_text.splitlines():
        if line.startswith('d2l-gluon launch: started '):
            name = line[len('d2l-gluon launch: started '):]
            pids[name] = int(name.rsplit(' ', 1)[1])
    return pids


def gone(pid):
    """Return whether pid is no longer a live process (absent, or a zombie nobody reaped)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] == 'Z'
    except OSError:
        return True


@pytest.mark.slow  # several processes or many runs: seconds the fast tier skips; CI runs it
def test_a_killed_worker_stops_the_launcher_and_every_process(fake_data, tmp_path):
    # 1000 epochs: the workers are still training when one of them is killed
    launcher = subprocess.Popen(
        [sys.executable, '-m', 'd2l_gluon', 'launch', '-n', '2', '--timeout', '120', '--',
         'softmax', '--impl', 'gluon', '--data-dir', fake_data, '--batch-size', '24',
         '--lr', '0.01', '--num-epochs', '1000', '--out', str(tmp_path / 'run')],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = {'stdout': [], 'stderr': []}

    def read(stream, into):
        for line in stream:
            into.append(line)
    readers = [threading.Thread(target=read, args=(launcher.stdout, lines['stdout']), daemon=True),
               threading.Thread(target=read, args=(launcher.stderr, lines['stderr']), daemon=True)]
    for reader in readers:
        reader.start()
    try:
        deadline = time.monotonic() + 60
        while sum('epoch 2,' in line for line in lines['stdout']) < 2:  # both workers are training
            assert launcher.poll() is None and time.monotonic() < deadline, ''.join(lines['stderr'])
            time.sleep(0.05)
        pids = started_pids(''.join(lines['stderr']))
        workers = [pid for name, pid in pids.items() if name.startswith('worker')]
        assert len(pids) == 4 and len(workers) == 2, pids
        os.kill(workers[1], signal.SIGKILL)
        killed = time.monotonic()
        code = launcher.wait(15)
        seconds = time.monotonic() - killed
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
    for reader in readers:
        reader.join(5)
    stderr = ''.join(lines['stderr'])
    assert code != 0
    assert 'worker pid %d was killed by SIGKILL' % workers[1] in stderr, stderr
    left = [name for name, pid in pids.items() if not gone(pid)]
    assert not left, 'still running: %s' % left
    print('launcher ended %.1f s after the kill' % seconds)


@pytest.mark.slow  # several processes or many runs: seconds the fast tier skips; CI runs it
def test_launcher_fails_fast_when_the_workers_fail_and_sets_no_dmlc_variable(tmp_path, capfd):
    assert dmlc_variables() == []
    start = time.monotonic()
    # a missing data folder: both workers join the servers, then fail with exit code 2
    code = cli.main(['launch', '-n', '2', '--timeout', '60', '--', 'softmax', '--impl', 'gluon',
                     '--data-dir', str(tmp_path / 'missing'), '--out', str(tmp_path / 'run')])
    seconds = time.monotonic() - start
    captured = capfd.readouterr()
    assert code == 2, captured.err
    assert seconds < 30
    assert 'no Fashion-MNIST idx files' in captured.err  # the worker's own error, relayed
    assert 'exited with code 2' in captured.err
    pids = started_pids(captured.err)
    assert len(pids) == 4 and all(gone(pid) for pid in pids.values()), pids
    assert dmlc_variables() == []


def test_children_get_their_own_dmlc_variables_only():
    base = {'PATH': '/bin', 'DMLC_ROLE': 'server', 'DMLC_PS_ROOT_URI': '10.0.0.1', 'DMLC_X': '1'}
    from d2l_gluon.launch import child_env, free_port
    env = child_env('worker', 1234, 2, 1, base)
    assert env['DMLC_ROLE'] == 'worker' and env['DMLC_PS_ROOT_URI'] == '127.0.0.1'
    assert env['DMLC_PS_ROOT_PORT'] == '1234' and env['DMLC_NUM_WORKER'] == '2'
    assert 'DMLC_X' not in env and env['PATH'] == '/bin'
    assert base['DMLC_ROLE'] == 'server'  # the parent's environment is untouched
    assert 0 < free_port() < 65536


def test_scheduler_moves_to_another_port_when_its_port_was_taken(monkeypatch):
    import io
    import socket

    from d2l_gluon import launch
    taken = socket.socket()
    taken.bind(('127.0.0.1', 0))
    taken.listen()
    ports = iter([taken.getsockname()[1], launch.free_port()])
    monkeypatch.setattr(launch, 'free_port', lambda: next(ports))
    log = io.StringIO()
    job = launch.Job(['softmax'], num_workers=1, stdout=io.StringIO(), stderr=log)
    try:
        job.start_scheduler()
        scheduler = job.children[-1]
        assert job.port != taken.getsockname()[1]
        assert launch.listening(scheduler.pid, job.port)
        assert not launch.listening(scheduler.pid, taken.getsockname()[1])
    finally:
        job.stop()
        taken.close()
    assert 'was taken before the scheduler could bind it' in log.getvalue(), log.getvalue()
    assert len(job.children) == 1 and gone(job.children[0].pid)
