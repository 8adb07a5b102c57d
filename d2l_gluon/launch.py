"""Run a parameter-server job on this machine, and never leave it hanging.

MXNet's dist kvstores need three kinds of processes: one scheduler, which
introduces the others; servers, which hold the summed gradients; workers,
which train.  ``import mxnet`` in a process whose environment says
DMLC_ROLE=scheduler or server runs that role until the job ends, so those two
are plain ``python -c "import mxnet"``.  Each process learns its role and
the scheduler's address from DMLC_* variables, which we set only in the
children's environments, never in our own.

Everything listens on 127.0.0.1.  The scheduler's port is a free one, and we
start the others only once the scheduler itself listens on it; when another
program took the port first, the scheduler fails to bind and we try another.

A worker that dies leaves the others waiting for its gradients forever, so we
poll the children: when one fails, when the timeout passes, or when we are
interrupted, we stop every child's process group (SIGTERM, then SIGKILL after
a grace period) and reap them all.  On Linux the children also get SIGTERM if
the launcher itself is killed (PR_SET_PDEATHSIG).
"""
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from .errors import D2LError

HOST = '127.0.0.1'
PORT_ATTEMPTS = 5
SCHEDULER_SECONDS = 60  # to import mxnet and bind its port
GRACE_SECONDS = 3  # between SIGTERM and SIGKILL, and for the servers to end after the workers
POLL_SECONDS = 0.05

# run first in every child: ask Linux for SIGTERM when the launcher dies, and end at once when it
# died before we asked
_PRELUDE = """import ctypes, os, signal, sys
if sys.platform.startswith('linux'):
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
if os.getppid() != %d:
    os._exit(1)
"""
SERVER_CODE = 'import mxnet  # runs the role named by DMLC_ROLE until the workers are done\n'
# the same as python -m d2l_gluon ARGS... (argv[0] '-m' while the package loads, as under -m, so a
# worker that cannot start reports it in one line)
WORKER_CODE = ("import runpy, sys\nsys.argv[0] = '-m'\n"
               "runpy.run_module('d2l_gluon', run_name='__main__', alter_sys=True)\n")


class LaunchError(D2LError):
    """A child failed or the job timed out; exit_code is the failed child's exit code."""

    def __init__(self, message, exit_code=1):
        super().__init__(message)
        self.exit_code = exit_code


def free_port(host=HOST):
    """Return a TCP port on host that is free now (the kernel's choice for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def child_env(role, port, num_workers, num_servers, base=None):
    """Return the environment of one child: base without any DMLC_* variable, plus its own."""
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if not k.startswith('DMLC_')}
    env.update({'DMLC_ROLE': role, 'DMLC_PS_ROOT_URI': HOST, 'DMLC_PS_ROOT_PORT': str(port),
                'DMLC_NUM_WORKER': str(num_workers), 'DMLC_NUM_SERVER': str(num_servers),
                # servers and workers listen on this address too, not on every interface
                'DMLC_NODE_HOST': HOST,
                'PYTHONUNBUFFERED': '1'})
    if role != 'worker':
        env.setdefault('OMP_NUM_THREADS', '1')  # they only add up gradients
    return env


def listening(pid, port):
    """Return whether process pid listens on TCP port (Linux: /proc; elsewhere: anyone does)."""
    if not os.path.exists('/proc/net/tcp'):
        try:
            socket.create_connection((HOST, port), timeout=0.2).close()
            return True
        except OSError:
            return False
    inodes = set()
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for fields in map(str.split, rows):
            # local address is HEXIP:HEXPORT; state 0A is LISTEN; field 9 is the socket's inode
            if fields[3] == '0A' and int(fields[1].rsplit(':', 1)[1], 16) == port:
                inodes.add('socket:[%s]' % fields[9])
    if not inodes:
        return False
    try:
        fds = os.listdir('/proc/%d/fd' % pid)
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink('/proc/%d/fd/%s' % (pid, fd)) in inodes:
                return True
        except OSError:
            pass
    return False


class Child:
    """One child process in its own process group, its output relayed line by line under its name."""

    def __init__(self, role, label, code, args, env):
        self.role = role
        self.proc = subprocess.Popen(
            [sys.executable, '-c', _PRELUDE % os.getpid() + code] + list(args), env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True)  # its own process group: we can stop it with its children
        self.pid = self.proc.pid
        # a worker's rank follows the order of joining, not of starting: the pid names it
        self.name = '%s pid %d' % (label, self.pid)
        self.threads = []

    def relay(self, stdout, stderr, lock):
        for stream, out in ((self.proc.stdout, stdout), (self.proc.stderr, stderr)):
            thread = threading.Thread(target=_relay, args=(stream, out, self.name, lock),
                                      daemon=True)
            thread.start()
            self.threads.append(thread)

    def poll(self):
        return self.proc.poll()

    def signal(self, sig):
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _relay(stream, out, label, lock):
    for line in iter(stream.readline, b''):
        with lock:
            try:
                out.write('[%s] %s' % (label, line.decode('utf-8', 'replace')))
                out.flush()
            except (OSError, ValueError):
                pass  # our output is gone (| head): keep draining, or the child blocks on a full pipe
    stream.close()


def _describe_exit(code):
    if code < 0:
        try:
            return 'was killed by %s' % signal.Signals(-code).name
        except ValueError:
            return 'was killed by signal %d' % -code
    return 'exited with code %d' % code


class Job:
    """A scheduler, num_servers servers and num_workers workers running worker_args."""

    def __init__(self, worker_args, num_workers, num_servers=1, timeout=None, stdout=None,
                 stderr=None):
        self.worker_args = list(worker_args)
        self.num_workers, self.num_servers = num_workers, num_servers
        self.timeout = timeout
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.stdout, self.stderr = stdout or sys.stdout, stderr or sys.stderr
        self.lock = threading.Lock()
        self.children, self.port = [], None

    def log(self, message):
        with self.lock:
            self.stderr.write('d2l-gluon launch: %s\n' % message)
            self.stderr.flush()

    def _start(self, role, label, code, args=()):
        child = Child(role, label, code, args,
                      child_env(role, self.port, self.num_workers, self.num_servers))
        self.children.append(child)
        self.log('started %s' % child.name)
        return child

    def start(self):
        """Start the scheduler on a free port, then the servers and the workers."""
        self.start_scheduler()
        for i in range(self.num_servers):
            self._start('server', 'server %d' % i, SERVER_CODE)
        for _ in range(self.num_workers):
            self._start('worker', 'worker', WORKER_CODE, self.worker_args)
        for child in self.children:
            child.relay(self.stdout, self.stderr, self.lock)

    def start_scheduler(self):
        """Start the scheduler and wait until it listens; on a port taken meanwhile, try another."""
        for attempt in range(PORT_ATTEMPTS):
            self.port = free_port()
            scheduler = self._start('scheduler', 'scheduler', SERVER_CODE)
            deadline = time.monotonic() + SCHEDULER_SECONDS
            while scheduler.poll() is None:
                if listening(scheduler.pid, self.port):
                    self.log('scheduler listens on %s:%d' % (HOST, self.port))
                    return
                self.check_time()
                if time.monotonic() > deadline:
                    raise LaunchError('the scheduler did not listen on %s:%d within %d s'
                                      % (HOST, self.port, SCHEDULER_SECONDS))
                time.sleep(POLL_SECONDS)
            output = scheduler.proc.communicate()[1].decode('utf-8', 'replace')
            self.children.remove(scheduler)
            if 'bind failed' not in output:
                last = output.strip().splitlines()[-1:] or ['no output']
                raise LaunchError('the scheduler %s: %s' % (_describe_exit(scheduler.poll()),
                                                            last[0]))
            self.log('port %d was taken before the scheduler could bind it; trying another'
                     % self.port)
        raise LaunchError('the scheduler could not bind a free port in %d attempts' % PORT_ATTEMPTS)

    def check_time(self):
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise LaunchError('timed out after %g s; stopping every process (raise --timeout if '
                              'the training needs longer)' % self.timeout, 124)

    def wait(self):
        """Return 0 once every worker succeeded; raise LaunchError when a child fails or time runs out.

        The scheduler and the servers end by themselves once the workers are
        done (stop() ends them if they linger).
        """
        workers = [c for c in self.children if c.role == 'worker']
        while True:
            for child in self.children:
                code = child.poll()
                if code:
                    raise LaunchError('%s %s; stopping the other processes'
                                      % (child.name, _describe_exit(code)),
                                      code if code > 0 else 128 - code)
            if all(w.poll() == 0 for w in workers):
                end = time.monotonic() + GRACE_SECONDS
                while time.monotonic() < end and any(c.poll() is None for c in self.children):
                    time.sleep(POLL_SECONDS)
                return 0
            self.check_time()
            time.sleep(POLL_SECONDS)

    def stop(self):
        """Stop every child still running with its process group, SIGKILL after a grace period; reap all."""
        running = [c for c in self.children if c.poll() is None]
        for child in running:
            child.signal(signal.SIGTERM)
        end = time.monotonic() + GRACE_SECONDS
        for child in running:
            try:
                child.proc.wait(max(end - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                child.signal(signal.SIGKILL)
                child.proc.wait()
        if running:
            self.log('stopped %s' % ', '.join(c.name for c in running))
        for child in self.children:
            for thread in child.threads:
                thread.join(1)


def _interrupt(signum, frame):
    raise KeyboardInterrupt('signal %d' % signum)


def launch(worker_args, num_workers, num_servers=1, timeout=None, stdout=None, stderr=None):
    """Run ``python -m d2l_gluon WORKER_ARGS`` in num_workers workers with a scheduler and servers.

    Return 0 when every worker succeeded.  Raise LaunchError when a child
    fails (with its exit code) or after timeout seconds (exit code 124), and
    KeyboardInterrupt on Ctrl-C, SIGTERM or SIGHUP; every child is stopped
    and reaped before this returns or raises.
    """
    job = Job(worker_args, num_workers, num_servers, timeout, stdout, stderr)
    main = threading.current_thread() is threading.main_thread()
    handlers = ({sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
                if main else {})
    try:
        job.start()
        return job.wait()
    finally:
        if main:  # a second Ctrl-C must not interrupt the clean-up
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                previous = signal.signal(sig, signal.SIG_IGN)
                handlers.setdefault(sig, previous)
        try:
            job.stop()
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
