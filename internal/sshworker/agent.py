# mljob's host agent. A dispatcher starts one per host over the host's SSH
# connection and sends it the runs to start; the agent prepares each run dir,
# starts the run detached in its own session and reports when it ends. It
# keeps the run contract of the shell scripts in scripts.go to the letter
# (mkdir claims the run dir, the ".go" token is taken exclusively before the
# start, "pid" names the run's session, and its wrapper writes exit_code
# whatever happens to the agent), so a run started here can be attached,
# killed or fenced by the shell scripts, by this dispatcher or another.
#
# What it saves is the shell session, sh, mkdir, cat, wc, ln, setsid and mv
# of every start: the wrapper is a fork of the agent, not a new program. A
# "warm" start saves the interpreter's start too: the script runs in a fork
# of the wrapper, as python -u would run it (see run_warm).
#
# It is a program text, not a file on the host: "python3 -c <this> mljob-agent
# WORKDIR". Every value from a job reaches it as data on stdin, never as
# program text. The same text is the run's wrapper on the shell path and in
# a batch task: "python3 -c <this> mljob-wrap ARGFILE COMMAND..." in the run
# dir (see wrap_main), so every run on every path has one process model.
#
# The process model: the wrapper leads a session of its own and is a child
# subreaper; the script runs in a process group of its own, led by a
# "holder" child of the wrapper, so that nothing the script does to its
# group reaches the wrapper, and the script (not a group leader) may still
# call setsid. Whatever leaves the group stays the wrapper's descendant (an
# orphan is reparented to the subreaper), so a stop (TERM to the wrapper,
# see killScript) ends every descendant, TERM then KILL after the grace in
# ".stop", and a run's leftovers are ended once its exit code is written.
# The pid file names the wrapper with its start time and the boot id, so
# that a pid reused after a reboot is never taken for the run (run_alive).
#
# Protocol: each message is one JSON line, followed by the raw bytes its "n"
# field counts. Requests: {"op": "start", ...}, {"op": "attach", ...},
# {"op": "probe"} and {"op": "cached", "hashes": [...]}. Replies: "hello"
# once, then "started" or "error" per start or attach, then "result" when
# the run ends; "probe" (the load and the GPUs' use) per probe and "cached"
# (the hashes the cache lacks) per cached, so that a dispatcher's boredom
# probes and cache checks cost the host no session, shell or process (but
# nvidia-smi, where there is one). A start or attach with "prog" (a stdout
# offset) also gets "progress" frames ({"end": offset} and the candidate
# lines read from there, see ProgressReader) while the run runs, every
# PROGRESS_POLL seconds, and all of the rest before its "result". An attach
# waits on a run started earlier (by
# any agent or start script) as attachScript does, so that a dispatcher
# waits on all its adopted runs over this one session.
#
# The agent is one thread, on purpose: it forks, and a fork of a process
# with threads can inherit a lock some other thread held. Standard library
# only; Python 3.6 or newer.
# Only what every start needs is imported here (~35 ms of the agent's start
# went to base64, shutil and traceback, and to the re and textwrap they pull
# in); the rest is imported where it is used.
import atexit
import binascii
import builtins
import errno
import gc
import importlib.machinery
import io
import json
import os
import select
import signal
import sys
import threading
import time
import types

PROTOCOL = 1
# Keep one argv word under Linux's MAX_ARG_STRLEN (131072), as wrapScript does.
MAX_ARG = 131000

# Exit codes of scripts.go, reused as error codes so both paths read alike.
ERR_RUN_DIR = 90
ERR_RUN_DIR_USED = 91
ERR_INPUT = 92
ERR_LINK = 93
ERR_ENV = 94
ERR_NOT_STARTED = 96
ERR_START = 98

# How often attached runs are looked at, and how long an attach waits for
# the pid of a start that holds the start token (as attachScript does).
ATTACH_POLL = 0.5
PID_WAIT = 5.0

out_fd = 1

# Signals that ask a wrapper to stop its run (see wrapper).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# How long a stopped run's processes get between TERM and KILL when its
# ".stop" file does not say (killScript writes it, in tenths of a second).
STOP_GRACE = 10.0
# How long the processes a finished script left behind get between TERM
# and KILL: the script is done, and its exit code already written.
LEFTOVER_GRACE = 5.0
BOOT_ID = "/proc/sys/kernel/random/boot_id"
PR_SET_CHILD_SUBREAPER = 36


def send(msg, *payload):
    msg["n"] = sum(len(p) for p in payload)
    data = memoryview(json.dumps(msg, separators=(",", ":")).encode() + b"\n" + b"".join(payload))
    while data:
        data = data[os.write(out_fd, data):]


def expand_workdir(wd):
    # As expandWorkdir in scripts.go: ~ is the home dir, relative is from the
    # login directory.
    if wd == "~":
        wd = os.environ.get("HOME", "/")
    elif wd.startswith("~/"):
        wd = os.path.join(os.environ.get("HOME", "/"), wd[2:])
    if not wd.startswith("/"):
        wd = os.path.join(os.getcwd(), wd)
    return wd


def boot_id():
    """This boot's id, "-" where the host has none (not Linux)."""
    try:
        with open(BOOT_ID, "rb") as f:
            return f.read().strip().decode("ascii", "replace") or "-"
    except OSError:
        return "-"


def proc_stat(pid):
    """(state, ppid, start) of pid from /proc/PID/stat (start: field 22, in
    clock ticks after boot), or None when pid is gone or there is no /proc.
    The command name may hold spaces and ')': fields count after the last."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            text = f.read()
    except (OSError, ValueError):
        return None
    f = text[text.rfind(b")") + 1:].split()
    if len(f) < 20:
        return None
    try:
        return f[0].decode(), int(f[1]), f[19].decode()
    except ValueError:
        return None


def pid_record(pid, boot):
    """The pid file's text: the wrapper's pid, then its start time and the
    boot id ("-" for what the host cannot tell)."""
    st = proc_stat(pid)
    return ("%d\n%s %s\n" % (pid, st[2] if st else "-", boot)).encode()


def run_alive(run):
    """Whether the run's wrapper, named by the run dir's pid file, still
    runs. Where the file records the wrapper's start time and boot id (runs
    of this mljob), both must match: after a reboot, or once the pid is
    reused, the run is gone, and must never be waited on or signalled. An
    older run dir (pid only) is judged by the pid alone. The shell's twin
    is runAliveFunc in scripts.go."""
    try:
        with open(os.path.join(run, "pid"), "rb") as f:
            lines = f.read().split(b"\n")
        pid = int(lines[0])
    except (OSError, ValueError):
        return False
    if pid <= 0:
        return False
    ident = lines[1].split() if len(lines) > 1 else []
    st = proc_stat(pid)
    if len(ident) == 2 and ident[0] != b"-":
        if ident[1] != b"-" and ident[1].decode("ascii", "replace") != boot_id():
            return False
        return st is not None and st[0] not in "ZXx" and st[2] == ident[0].decode("ascii", "replace")
    if st is not None:
        return st[0] not in "ZXx"
    try:
        os.kill(pid, 0)  # no /proc here
    except ProcessLookupError:
        return False
    except OSError:
        pass
    return True


def descendants(root):
    """The live processes below root, from /proc; [] where there is none."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    children, live = {}, set()
    for name in names:
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st is None:
            continue
        children.setdefault(st[1], []).append(int(name))
        if st[0] not in "ZXx":
            live.add(int(name))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), ()):
            todo.append(c)
            if c in live:
                out.append(c)
    return out


_prctl = []


def load_prctl():
    """libc's prctl, or None where there is none. The agent loads it once,
    before it forks: each wrapper that imported ctypes itself would pay
    ~13 ms of CPU a run."""
    if not _prctl:
        try:
            import ctypes
            _prctl.append(ctypes.CDLL(None, use_errno=True).prctl)
        except Exception:
            _prctl.append(None)
    return _prctl[0]


def set_subreaper():
    """Makes this process a child subreaper (Linux): orphans below it are
    reparented to it, not to init, so none leaves the run's tree."""
    try:
        load_prctl()(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except Exception:
        pass  # not Linux: the holder's group is what a stop reaches


def tighten(wd):
    """Closes the workdir and its cache and runs to other users: they hold
    job data. The home dir is left as it is."""
    home = os.environ.get("HOME", "")
    for d in (wd, os.path.join(wd, "cache"), os.path.join(wd, "runs")):
        if d.rstrip("/") == home.rstrip("/"):
            continue
        try:
            if os.stat(d).st_mode & 0o077:
                os.chmod(d, 0o700)
        except OSError:
            pass


class StartError(Exception):
    def __init__(self, code, msg):
        Exception.__init__(self, msg)
        self.code = code

# Leases (see ARCHITECTURE.md, "Leases on a shared host"). A run holds an
# exclusive flock on one lease file per slot or GPU share in the host's
# lock dir for its life: its wrapper keeps the fds open (close-on-exec, and
# closed in every fork that is not the wrapper), so a run that ends or
# dies frees its leases with no stale-pid logic, and a detached run keeps
# them while the dispatcher is away. Taking the leases comes before the
# run dir is claimed, in the one process that starts the run, so two
# dispatchers racing for the last slot cannot both start.
#
# Fair sharing: a dispatcher refused a lease leaves a waiting ticket,
# "wait.<waiter>" (its text: since when it waits; its mtime: its last
# refresh, by each probe while it waits). A start is refused while a live
# ticket (refreshed within TICKET_TTL) older than the starter's own (or any
# live one, when the starter has none) waits: the one that has waited
# longest gets the next free lease.
ERR_LEASE_BUSY = 97
TICKET_TTL = 10.0
LEASE_FDS = []  # the wrapper's lease fds: closed in every fork below it


def lease_dir(d):
    """The lock dir, made world-writable and sticky (1777) when missing,
    as /tmp is: every user's runs on the host share it."""
    d = expand_workdir(d)
    try:
        os.mkdir(d, 0o777)
        os.chmod(d, 0o1777)
    except FileExistsError:
        pass
    return d


def open_lease(path):
    """Opens a lease file for writing its holder (for reading where another
    user owns it). Without O_CREAT first: fs.protected_regular refuses
    O_CREAT on another user's file in a sticky directory."""
    for flags in (os.O_RDWR, os.O_RDONLY):
        try:
            return os.open(path, flags | os.O_CLOEXEC)
        except FileNotFoundError:
            break
        except PermissionError:
            continue
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        return open_lease(path)
    try:
        os.fchmod(fd, 0o644)
    except OSError:
        pass
    return fd


def lease_held(d, name):
    """Whether someone holds the lease name in d now (lease_file_held, of
    gpuown.py before this program)."""
    return lease_file_held(os.path.join(d, name))


def ticket_since(path, now):
    """A waiting ticket's "since" (epoch seconds), None when it is missing
    or stale (not refreshed within TICKET_TTL: its dispatcher stopped
    waiting, or died)."""
    try:
        if now - os.stat(path).st_mtime > TICKET_TTL:
            return None
        with open(path, "rb") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def ahead_of(d, waiter):
    """Whether another dispatcher has waited longer than waiter for a lease
    here (see the fair-sharing rule above)."""
    now = time.time()
    mine = ticket_since(os.path.join(d, "wait." + waiter), now) if waiter else None
    try:
        names = os.listdir(d)
    except OSError:
        return False
    for n in names:
        if not n.startswith("wait.") or n == "wait." + waiter:
            continue
        since = ticket_since(os.path.join(d, n), now)
        if since is not None and (mine is None or since < mine):
            return True
    return False


def wait_ticket(d, waiter, waiting):
    """Leaves, refreshes (waiting) or removes this dispatcher's ticket."""
    if not waiter:
        return
    path = os.path.join(d, "wait." + waiter)
    if not waiting:
        try:
            os.unlink(path)
        except OSError:
            pass
        return
    try:
        os.utime(path)  # still waiting: refreshed, its "since" kept
        if ticket_since(path, time.time()) is not None:
            return
    except OSError:
        pass
    try:
        fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, b"%.6f\n" % time.time())
        os.close(fd)
        os.rename(path + ".tmp", path)
    except OSError:
        pass


def take_leases(lease):
    """Takes every lease the request names, all or none: the fds, or a
    StartError ERR_LEASE_BUSY saying which is held (or that an older waiter
    goes first). lease: {"dir", "names", "holder", "waiter"}."""
    import fcntl
    try:
        d = lease_dir(lease["dir"])
    except OSError as e:
        raise StartError(ERR_START, "mljob: cannot make lock dir %s: %s" % (lease["dir"], e.strerror))
    waiter = lease.get("waiter", "")
    if ahead_of(d, waiter):
        wait_ticket(d, waiter, True)
        raise StartError(ERR_LEASE_BUSY, "mljob: a dispatcher that has waited longer goes first")
    fds = []
    try:
        for name in lease["names"]:
            fd = open_lease(os.path.join(d, name))
            fds.append(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise StartError(ERR_LEASE_BUSY, "mljob: lease %s is held: %s" % (name, lease_holder(d, name)))
            holder = (lease.get("holder", "") + "\n").encode()
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, holder, 0)
            except OSError:
                pass  # another user's file, read-only to us: the lock is what counts
    except BaseException as e:
        for fd in fds:
            os.close(fd)
        if isinstance(e, StartError):
            wait_ticket(d, waiter, True)
            raise
        if isinstance(e, OSError):
            raise StartError(ERR_START, "mljob: lease in %s: %s" % (d, e))
        raise
    wait_ticket(d, waiter, False)
    return fds


def lease_holder(d, name):
    """The holder a lease file records, on one line."""
    try:
        with open(os.path.join(d, name), "rb") as f:
            return f.read(4096).decode("utf-8", "replace").split("\n")[0].strip() or "?"
    except OSError:
        return "?"


def note_lease_pid(fds, pid):
    """Adds "pid N" (the wrapper holding them) to the lease files: a
    probe tells mljob's GPU processes from others' by it (gpu_use)."""
    for fd in fds:
        try:
            os.pwrite(fd, b"pid %d\n" % pid, os.fstat(fd).st_size)
        except OSError:
            pass  # another user's file, read-only to us


def lease_state(lease):
    """A probe's view of the leases: which are held (by anyone) and whether
    an older waiter is ahead of us; the ticket refreshed or dropped as
    lease["waiting"] says."""
    try:
        d = lease_dir(lease["dir"])
    except OSError as e:
        return {"err": "lock dir %s: %s" % (lease["dir"], e.strerror)}
    wait_ticket(d, lease.get("waiter", ""), bool(lease.get("waiting")))
    held = [n for n in lease.get("names", []) if lease_held(d, n)]
    return {"held": held, "ahead": ahead_of(d, lease.get("waiter", ""))}



def claim_run_dir(wd, run_id):
    run = os.path.join(wd, "runs", run_id)
    try:
        os.mkdir(run)
        return run
    except FileExistsError:
        pass
    except FileNotFoundError:
        try:
            os.makedirs(os.path.join(wd, "runs"), exist_ok=True)
        except OSError as e:
            raise StartError(ERR_RUN_DIR, "mljob: cannot make %s/runs: %s" % (wd, e.strerror))
    try:
        os.mkdir(run)
        return run
    except FileExistsError:
        raise StartError(ERR_RUN_DIR_USED, "mljob: run dir %s was already used; refusing to start over it" % run)
    except OSError as e:
        raise StartError(ERR_RUN_DIR, "mljob: cannot make run dir %s: %s" % (run, e.strerror))


def write_file(path, data, code, flags=os.O_TRUNC):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | flags, 0o600)
    except FileExistsError:
        raise
    except OSError as e:
        raise StartError(code, "mljob: cannot write %s: %s" % (path, e.strerror))
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def prepare(wd, req, data):
    """Claims and fills the run dir; returns it with the argv and env."""
    run = claim_run_dir(wd, req["id"])
    inp = req.get("input", "")
    if inp:
        write_file(os.path.join(run, inp), data, ERR_INPUT)
    for name, digest in req.get("files", []):
        src = os.path.join(wd, "cache", digest)
        dst = os.path.join(run, name)
        # A hard link, not a symlink: Python puts the directory of the
        # script's real path on sys.path, and that must be the run dir.
        try:
            os.link(src, dst)
        except OSError:
            try:
                import shutil
                shutil.copyfile(src, dst)
            except OSError as e:
                raise StartError(ERR_LINK, "mljob: cannot link %s from the cache: %s" % (name, e.strerror))
    env = dict(os.environb)
    for word in req.get("env", []):
        key, sep, value = binascii.a2b_base64(word).partition(b"=")
        if not sep or not key:
            raise StartError(ERR_ENV, "mljob: bad environment entry")
        env[key] = value
    argv = [binascii.a2b_base64(a) for a in req["argv"]]
    argfile = req.get("argfile", "")
    if argfile:
        if argfile == inp:
            arg = data
        else:
            with open(os.path.join(run, argfile), "rb") as f:
                arg = f.read()
        argv.append(arg if len(arg) <= MAX_ARG else argfile.encode())
    if any(b"\0" in a for a in argv):
        raise StartError(ERR_START, "mljob: a command word holds a NUL byte")
    # The start token, taken exclusively before the launch (see attachScript).
    try:
        write_file(os.path.join(run, ".go"), b"%d\n" % os.getpid(), ERR_START, os.O_EXCL)
    except FileExistsError:
        raise StartError(ERR_RUN_DIR_USED, "mljob: run dir %s was fenced off; refusing to start" % run)
    return run, argv, env


def wrapper(run, argv, env, warm, keep_fds):
    """The run's wrapper: in a fork of the agent, or the program wrap_main
    runs (the shell path, a batch task).

    It leads a session of its own (unless it already does), becomes a
    child subreaper, runs the script in a process group of its own (see
    Supervisor), and writes the script's exit status to exit_code,
    atomically, whatever the status and whatever the script does to its
    group. A stop signal ends the run first: every descendant, TERM then
    KILL after the grace (see Supervisor.end_all). It never returns."""
    code = 1
    try:
        try:
            os.setsid()
        except OSError:
            pass  # a session leader already (a batch task may be)
        os.umask(0o077)
        stop = []
        # Handled, not ignored: a stop must reach the wrapper, which ends
        # the run's processes itself and then writes the exit code.
        for sig in STOP_SIGNALS:
            signal.signal(sig, lambda s, f: stop.append(s))
        wake_r, wake_w = os.pipe()
        for fd in (wake_r, wake_w):
            os.set_blocking(fd, False)
        signal.signal(signal.SIGCHLD, lambda s, f: None)
        signal.set_wakeup_fd(wake_w)
        # The agent blocked these over the fork, so that a stop sent before
        # the handlers were set waited for them.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        set_subreaper()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)
        for fd in keep_fds:
            os.close(fd)
        os.chdir(run)
        # Kill writes .stop before it signals: a stop sent before the
        # handlers were set (and lost) still counts.
        grace = take_stop()
        if grace is not None:
            stop.append(signal.SIGTERM)
        sup = Supervisor(wake_r, stop)
        began = time.monotonic()
        if stop:
            status = 143  # stopped before its script began
        else:
            status = sup.run(run, argv, env, warm, (wake_r, wake_w))
        # Before exit_code: whoever sees the exit code finds the cost.
        write_cost(run, time.monotonic() - began, sup, env)
        tmp = os.path.join(run, "exit_code.tmp")
        with open(tmp, "w") as f:
            f.write("%d\n" % status)
        os.rename(tmp, os.path.join(run, "exit_code"))
        code = 0
        # What the script left behind (a server, workers, something that
        # left its group) ends with the run.
        sup.end_leftovers(LEFTOVER_GRACE)
    finally:
        os._exit(code)


def gpus_held(env):
    """The GPUs a run holds: the entries of its CUDA_VISIBLE_DEVICES (set
    per slot by the dispatcher, by Slurm for a task given GPUs); 0 when
    unset, empty or hiding every device ("-1", "NoDevFiles")."""
    value = env.get(b"CUDA_VISIBLE_DEVICES")
    if value is None:
        return 0
    ids = [x.strip() for x in value.split(b",")]
    if not ids or not ids[0] or ids[0].startswith(b"-") or ids[0] == b"NoDevFiles":
        return 0
    n = 0
    for x in ids:  # CUDA stops at the first id that is not one
        if not x or x.startswith(b"-"):
            break
        n += 1
    return n


def write_cost(run, wall, sup, env):
    """Writes what the run cost to "cost" in the run dir, atomically:
    "v1 WALL USER SYS MAXRSS GPUS" (seconds, seconds of CPU in user and
    system mode, bytes, count). CPU and peak RSS are the rusage of the
    wrapper's children as the Supervisor reaped them (wait4): the script
    and every descendant reaped by the time it ended (the subreaper reaps
    orphans too; a stop reaps them all). What the script leaves running
    when it ends is ended after exit_code, and is not counted. Never fails
    the run."""
    try:
        rss = sup.maxrss if sys.platform == "darwin" else sup.maxrss * 1024
        line = "v1 %.3f %.3f %.3f %d %d\n" % (wall, sup.cpu[0], sup.cpu[1], rss, gpus_held(env))
        tmp = os.path.join(run, "cost.tmp")
        with open(tmp, "w") as f:
            f.write(line)
        os.rename(tmp, os.path.join(run, "cost"))
    except Exception:
        pass


# ENV_MAX bounds a run dir's environment report line (run.MaxEnvReport).
ENV_MAX = 64 << 10


def read_env(run):
    """The line a batch task's environment report left in the run dir
    (.env.json), "" when there is none or it is too long."""
    try:
        with open(os.path.join(run, ".env.json"), "rb") as f:
            line = f.readline(ENV_MAX + 1)
    except OSError:
        return ""
    if len(line.rstrip(b"\n")) > ENV_MAX:
        return ""
    return line.strip().decode("utf-8", "replace")


def read_cost(run):
    """The first line of the run dir's cost, "" when there is none."""
    try:
        with open(os.path.join(run, "cost"), "rb") as f:
            return f.readline().strip().decode("ascii", "replace")
    except OSError:
        return ""


class Supervisor:
    """The wrapper's children: the holder, which leads the script's process
    group and holds it while the script runs, the script, and whatever the
    subreaper inherits. Reaps them all; remembers the script's status."""

    def __init__(self, wake_r, stop):
        self.wake_r = wake_r
        self.stop = stop
        self.holder = 0  # the holder's pid while it is not reaped
        self.hold_w = -1
        self.script = 0
        self.status = None
        self.cpu = [0.0, 0.0]  # user, system seconds of the children reaped
        self.maxrss = 0  # the largest ru_maxrss of a child reaped

    def run(self, run, argv, env, warm, wake_fds):
        """Starts the script and waits for it; a stop ends every descendant
        before it returns. Returns the script's exit status."""
        hold_r, self.hold_w = os.pipe()
        self.holder = spawn_holder(hold_r)
        if self.holder == 0:
            self.holder = os.fork()
            if self.holder == 0:
                hold_group(hold_r, (self.hold_w,) + wake_fds)
        os.close(hold_r)
        # Both sides set the group, as a shell does for a job: the script
        # must not join it before it exists.
        try:
            os.setpgid(self.holder, self.holder)
        except OSError:
            pass
        if not is_warm(warm, argv) and hasattr(os, "posix_spawn"):
            self.script = spawn_script(argv, env, self.holder)
            if self.script == 0:
                self.status = 127
        else:
            self.script = os.fork()
        if self.script == 0 and self.status is None:
            try:
                os.close(self.hold_w)
                for fd in tuple(wake_fds) + tuple(LEASE_FDS):
                    os.close(fd)
                signal.set_wakeup_fd(-1)
                os.setpgid(0, self.holder)
            except BaseException:
                os._exit(127)
            run_script(run, argv, env, warm)
        if self.script:
            try:
                os.setpgid(self.script, self.holder)
            except OSError:
                pass  # it joined already, or has exec'd
        while self.status is None and not self.stop:
            self.reap()
            if self.status is None and not self.stop:
                self.sleep(None)
        if self.status is None:
            grace = take_stop()
            self.end_all(STOP_GRACE if grace is None else grace)
        if self.status is None:
            return 143  # cannot happen: ending all reaps the script
        return self.status

    def reap(self):
        """Reaps what has ended; False once no child is left."""
        while True:
            try:
                pid, st, ru = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                self.holder = 0
                return False
            if pid == 0:
                return True
            # Each child's usage as it is reaped (its own reaped children
            # included), not getrusage(RUSAGE_CHILDREN): on the shell path
            # the wrapper's process may have reaped children before it was
            # exec'd (a pyenv shim's), which are not the run's.
            self.cpu[0] += ru.ru_utime
            self.cpu[1] += ru.ru_stime
            self.maxrss = max(self.maxrss, ru.ru_maxrss)
            if pid == self.holder:
                self.holder = 0
            if pid == self.script:
                if os.WIFSIGNALED(st):
                    self.status = 128 + os.WTERMSIG(st)
                else:
                    self.status = os.WEXITSTATUS(st)

    def sleep(self, timeout):
        """Waits for a child to end or a signal, or timeout seconds."""
        try:
            select.select([self.wake_r], [], [], timeout)
        except InterruptedError:
            pass
        try:
            while os.read(self.wake_r, 512):
                pass
        except BlockingIOError:
            pass

    def signal_all(self, sig):
        """Sends sig to every descendant (and to the script's group, which
        is all a host without /proc shows). The holder is unreaped, so its
        pid names our group still."""
        for pid in descendants(os.getpid()):
            try:
                os.kill(pid, sig)
                if sig == signal.SIGTERM:
                    os.kill(pid, signal.SIGCONT)  # a stopped process must see it
            except OSError:
                pass
        if self.holder:
            try:
                os.killpg(self.holder, sig)
            except OSError:
                pass

    def end_all(self, grace):
        """Ends every descendant: TERM now and each second after, KILL once
        grace seconds have passed; returns when no child is left."""
        deadline = time.monotonic() + grace
        next_signal = 0.0
        while self.reap():
            take_stop()  # a later Kill waits to see its stop taken
            now = time.monotonic()
            if now >= next_signal:
                self.signal_all(signal.SIGKILL if now >= deadline else signal.SIGTERM)
                next_signal = min(now + 1, deadline) if now < deadline else now + 0.1
            self.sleep(max(0.01, min(next_signal - now, 0.1)))

    def end_leftovers(self, grace):
        """Ends the holder, then whatever the script left behind."""
        if self.hold_w >= 0:
            os.close(self.hold_w)
            self.hold_w = -1
        if self.holder:
            # Killed and reaped here: a script that stopped its group
            # (SIGSTOP) would keep the holder from reading its pipe's end.
            try:
                os.kill(self.holder, signal.SIGKILL)
                os.waitpid(self.holder, 0)
            except OSError:
                pass
            self.holder = 0
        if self.reap():  # leftovers: the rare case pays for a scan of /proc
            self.end_all(grace)


def take_stop():
    """Takes the stop Kill asked for, in the run dir (the cwd): ".stop" is
    renamed ".stopping", which tells Kill the wrapper is at it. Returns its
    grace in seconds (STOP_GRACE when it says none), or None without one."""
    try:
        with open(".stop", "rb") as f:
            text = f.read()
        os.rename(".stop", ".stopping")
    except OSError:
        return None
    try:
        return max(0, int(text.split()[0])) / 10.0
    except (ValueError, IndexError):
        return STOP_GRACE


# Set to their defaults in the script's process: the wrapper handles the
# first ones, and python ignores SIGPIPE and SIGXFSZ (an ignored signal
# stays ignored across exec; subprocess restores them too).
SCRIPT_DEFAULT_SIGNALS = STOP_SIGNALS + (signal.SIGCHLD,) + tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name))


def spawn_holder(r):
    """Starts the holder as cat reading r, in a new process group, through
    posix_spawn (vfork and exec: no copy of this interpreter, ~8 ms of CPU
    less than a fork here). It ends when the wrapper closes the pipe's
    other end. Returns 0 where posix_spawn or cat is missing: the caller
    forks hold_group instead."""
    if not hasattr(os, "posix_spawn"):
        return 0
    try:
        return os.posix_spawn("/bin/cat", [b"cat"], {}, file_actions=[(os.POSIX_SPAWN_DUP2, r, 0)],
                              setpgroup=0, setsigdef=SCRIPT_DEFAULT_SIGNALS, setsigmask=[])
    except OSError:
        return 0


def find_program(word, env):
    """The file execvpe would run for word: itself when it names a path,
    else the first executable of that name on env's PATH."""
    if b"/" in word:
        return word
    for d in env.get(b"PATH", os.fsencode(os.defpath)).split(b":"):
        path = os.path.join(d or b".", word)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise FileNotFoundError(errno.ENOENT, "No such file or directory")


def spawn_script(argv, env, group):
    """Starts a cold script (a program of its own) through posix_spawn, as
    run_script would start it after a fork: in the run dir (the wrapper's
    cwd), in the holder's group, with stdout and stderr to the run dir's
    files and default signals. Returns its pid, or 0 when it cannot start
    (the reason is then in the stderr file, as run_script writes it)."""
    try:
        path = find_program(argv[0], env)
        return os.posix_spawn(path, argv, env, file_actions=[
            (os.POSIX_SPAWN_OPEN, 1, "stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
            (os.POSIX_SPAWN_OPEN, 2, "stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)],
            setpgroup=group, setsigdef=SCRIPT_DEFAULT_SIGNALS, setsigmask=[])
    except BaseException as e:
        try:
            for name in ("stdout", "stderr"):
                with open(name, "wb") as f:
                    if name == "stderr":
                        f.write(("mljob: cannot start %r: %s\n" % (argv[0], e)).encode())
        except OSError:
            pass
        return 0


def is_warm(warm, argv):
    """Whether the script runs warm: asked for, and python -u SCRIPT."""
    return warm and len(argv) >= 3 and argv[1] == b"-u"


def hold_group(r, close_fds):
    """The holder: leads the script's process group and waits until the
    wrapper ends it, or goes (its pipe's end). It never returns."""
    try:
        os.setpgid(0, 0)
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        for fd in tuple(close_fds) + tuple(LEASE_FDS):
            os.close(fd)
        os.read(r, 1)
    finally:
        os._exit(0)


def run_script(run, argv, env, warm):
    """The script's process: a fork of the wrapper. It never returns."""
    warm = is_warm(warm, argv)
    try:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        os.chdir(run)
        for fd, name in ((1, "stdout"), (2, "stderr")):
            f = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(f, fd)
            os.close(f)
        if not warm:
            # As subprocess's restore_signals: python ignores these, and
            # an ignored signal stays ignored across exec.
            for name in ("SIGPIPE", "SIGXFSZ"):
                if hasattr(signal, name):
                    signal.signal(getattr(signal, name), signal.SIG_DFL)
            os.execvpe(argv[0], argv, env)
        os.environb.clear()
        os.environb.update(env)
    except BaseException as e:
        try:
            os.write(2, ("mljob: cannot start %r: %s\n" % (argv[0], e)).encode())
        finally:
            os._exit(127)
    os._exit(run_warm(run, argv))


def run_warm(run, argv):
    """Runs python -u SCRIPT ARGS... in this process, as that command would:
    the script as __main__, sys.argv, sys.path[0] the run dir, unbuffered
    output, a traceback and status 1 for an uncaught exception, SystemExit's
    status, then non-daemon threads joined and atexit handlers run."""
    # The modules used here are imported once, by the agent: a fork that
    # imported them itself would pay ~5 ms a run.
    script = os.fsdecode(argv[2])
    path = os.path.join(run, script)
    sys.argv = [script] + [os.fsdecode(a) for a in argv[3:]]
    sys.path[0] = os.path.dirname(path)
    enc = sys.stdout.encoding if sys.stdout else "utf-8"
    sys.stdout = sys.__stdout__ = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding=enc, errors="strict", write_through=True)
    sys.stderr = sys.__stderr__ = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding=enc, errors="backslashreplace", write_through=True)
    sys.stdin = sys.__stdin__ = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding=enc)
    # A __main__ module as python SCRIPT makes it.
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__builtins__ = builtins
    main.__loader__ = importlib.machinery.SourceFileLoader("__main__", path)
    main.__cached__ = None
    sys.modules["__main__"] = main
    status = 0
    try:
        try:
            with open(path, "rb") as f:
                code = compile(f.read(), path, "exec")
            exec(code, main.__dict__)
        finally:
            shutdown = getattr(threading, "_shutdown", None)
            if shutdown is not None:
                shutdown()
    except SystemExit as e:
        status = exit_status(e.code)
    except BaseException as e:
        etype, value, tb = sys.exc_info()
        # Leave the agent's frames out, as python SCRIPT's traceback has none.
        while tb is not None and tb.tb_frame.f_code.co_filename != path:
            tb = tb.tb_next
        # The interpreter's own printer (C), as python SCRIPT's: no import,
        # so a traceback.py beside the script cannot stand in for it.
        # It prints the exception's own __traceback__: set to the trimmed one.
        sys.__excepthook__(etype, value.with_traceback(tb), tb)
        status = 128 + signal.SIGINT if isinstance(e, KeyboardInterrupt) else 1
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    return status


def exit_status(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        sys.stderr.write("%s\n" % (code,))
    except BaseException:
        pass
    return 1


def read_tail(path, size, take):
    if take <= 0:
        return b""
    with open(path, "rb") as f:
        if size > take:
            f.seek(size - take)
        return f.read(take)


def run_times(run):
    """When the run started and ended by this host's clock: the mtimes of
    its pid file (written as the wrapper starts) and of exit_code (now,
    when there is none), as runTimes in scripts.go prints them."""
    try:
        start = os.stat(os.path.join(run, "pid")).st_mtime
    except OSError:
        return None
    try:
        end = os.stat(os.path.join(run, "exit_code")).st_mtime
    except OSError:
        end = time.time()
    return [start, end]


def report(tag, run, outlim, errlim, timed=False):
    """Sends the run's result. timed: with the run's own start and end
    (an attached run, whose waiter did not see it start)."""
    code = ""
    try:
        with open(os.path.join(run, "exit_code"), "rb") as f:
            first = f.readline().strip()
        code = first.decode("ascii", "replace")
    except OSError:
        pass
    # "exit" is the first line of exit_code, "" when the wrapper wrote none.
    msg = {"ev": "result", "tag": tag, "exit": code}
    cost = read_cost(run)
    if cost:
        msg["cost"] = cost
    # Said when the run dir holds no artifacts/ dir: a job with no artifact
    # globs then owes home nothing, and costs no session to list.
    if not os.path.isdir(os.path.join(run, "artifacts")):
        msg["noart"] = True
    env = read_env(run)
    if env:
        msg["env"] = env
    if timed:
        times = run_times(run)
        if times is not None:
            msg["times"] = times
    parts = []
    for name, lim in (("stdout", outlim), ("stderr", errlim)):
        path = os.path.join(run, name)
        try:
            size = os.stat(path).st_size
            body = read_tail(path, size, min(size, lim))
        except OSError:
            size, body = 0, b""
        msg[name] = [size, len(body)]
        parts.append(body)
    send(msg, *parts)


# How long a probe waits for nvidia-smi, which a sick driver can hang.
GPU_QUERY_WAIT = 10.0
GPU_QUERY = ["--query-gpu=index,utilization.gpu,memory.used", "--format=csv,noheader,nounits"]
# What a probe asks nvidia-smi ($1): the GPUs' use (GPU_QUERY), then after
# "@uuid" each GPU's uuid and free memory (MiB), after "@apps" the compute
# processes (gpu uuid, pid): gpu_use tells mljob's runs from others'.
GPU_USE_QUERY = ('"$1" ' + " ".join(GPU_QUERY) + '; echo @uuid; '
                 '"$1" ' + " ".join(GPU_UUID_QUERY) + '; echo @apps; '
                 '"$1" ' + " ".join(GPU_APPS_QUERY))


# lease_pids, in_run and gpu_use, which tell mljob's GPU processes from
# others', stand before this program: internal/gpuown's gpuown.py, the one
# copy hostcheck's probe.py shares.


class Probe:
    """A probe's answer: the load now, and the GPUs' use from nvidia-smi
    where the host has one. nvidia-smi runs as a child whose output the
    main loop reads, so that runs start and end while it takes its time."""

    def __init__(self, tag, smi, now, lease=None):
        self.tag = tag
        self.leases = lease_state(lease) if lease else None
        self.load = 0.0
        try:
            self.load = os.getloadavg()[0]
        except (OSError, AttributeError):
            pass
        self.out = bytearray()
        self.proc = None
        self.by = now + GPU_QUERY_WAIT
        self.lock_dir = lease.get("dir") if lease else None
        if smi:
            try:
                import subprocess
                # The uses by others only where leases are asked of (the
                # same host's lock dir tells mljob's runs): two more queries.
                argv = ["/bin/sh", "-c", GPU_USE_QUERY, "mljob-smi", smi] if self.lock_dir else [smi] + GPU_QUERY
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                os.set_blocking(self.proc.stdout.fileno(), False)
            except OSError:
                self.proc = None

    def fd(self):
        return self.proc.stdout.fileno() if self.proc else None

    def step(self, now):
        """Reads what nvidia-smi printed; True once the answer is sent."""
        if self.proc is not None:
            try:
                while True:
                    chunk = os.read(self.fd(), 1 << 16)
                    if not chunk:
                        break
                    self.out += chunk
            except BlockingIOError:
                if now < self.by:
                    return False
                self.out = bytearray()  # hung: no GPU figures rather than none at all
                try:
                    self.proc.kill()
                except OSError:
                    pass
            self.proc.stdout.close()
            self.proc = None  # reaped by the main loop's waitpid
        gpus, uuids, apps = [], [], []
        part = gpus
        for line in bytes(self.out).decode("ascii", "replace").splitlines():
            line = line.replace(" ", "")
            if line == "@uuid":
                part = uuids
            elif line == "@apps":
                part = apps
            elif line:
                part.append(line)
        msg = {"ev": "probe", "tag": self.tag, "load": self.load, "gpus": gpus}
        if self.leases is not None:
            if "err" not in self.leases:
                wrappers = lease_pids(expand_workdir(self.lock_dir)) if self.lock_dir else set()
                self.leases["gpus"] = gpu_use(uuids, apps, wrappers)
            msg["leases"] = self.leases
        send(msg)
        return True


# Progress lines (see run.Progress in Go): a stdout line that begins with
# "{" and holds "step" within its first MAX_PROGRESS_LINE+1 bytes is a
# candidate, sent cut to those bytes; the dispatcher parses it. Frames hold
# at most PROGRESS_FRAME bytes of lines (plus one line), and one look at a
# live run reads at most PROGRESS_READ bytes of its stdout.
MAX_PROGRESS_LINE = 64 << 10
PROGRESS_FRAME = 256 << 10
PROGRESS_READ = 4 << 20
# A run's stdout is looked at every PROGRESS_POLL, and every
# PROGRESS_POLL_LIVE while some run printed within PROGRESS_LIVE_FOR: a
# pruner's verdict waits on the look, and a run that prints a step every
# 20 ms would print 15 more before a 0.3 s look found the one it loses on.
# A look at a quiet file is an open, a seek and an empty read.
PROGRESS_POLL = 0.3
PROGRESS_POLL_LIVE = 0.02
PROGRESS_LIVE_FOR = 1.0


def progress_candidate(head):
    """run.IsProgressCandidate's twin."""
    return head[:1] == b"{" and b'"step"' in head


class ProgressReader:
    """Reads a run's stdout from an offset (a line's start) for progress
    candidates, with bounded memory however long a line is, and hands
    them to emit(end, lines) in frames: end is the offset just past the
    last line read, delivered or not. run.ProgressScanner's twin."""

    def __init__(self, path, offset, emit):
        self.path, self.off, self.end, self.emit = path, offset, offset, emit
        self.sent = offset  # the end of the last frame
        self.head = bytearray()
        self.out = bytearray()

    def read(self, limit, final):
        """Reads up to limit bytes more (None: to the end); final: the run
        has ended, so a last line without a newline is complete. Sends
        what it found; returns True once it read to the end."""
        at_end = True
        try:
            f = open(self.path, "rb")
        except OSError:
            f = None
        if f is not None:
            with f:
                f.seek(self.off)
                while limit is None or limit > 0:
                    n = 1 << 20 if limit is None else min(1 << 20, limit)
                    chunk = f.read(n)
                    if not chunk:
                        break
                    if limit is not None:
                        limit -= len(chunk)
                    self.feed(chunk)
                else:
                    at_end = False
        if at_end and final and self.off > self.end:
            self.end = self.off
            self.take()
        if self.out or self.end != self.sent:
            self.flush()
        return at_end

    def feed(self, b):
        i, n = 0, len(b)
        while i < n:
            nl = b.find(b"\n", i)
            stop = n if nl < 0 else nl
            room = MAX_PROGRESS_LINE + 1 - len(self.head)
            if room > 0:
                self.head += b[i:min(stop, i + room)]
            if nl < 0:
                self.off += n - i
                return
            self.off += nl + 1 - i
            self.end = self.off
            self.take()
            i = nl + 1

    def take(self):
        if progress_candidate(self.head):
            self.out += self.head
            self.out += b"\n"
            if len(self.out) >= PROGRESS_FRAME:
                self.flush()
        del self.head[:]

    def flush(self):
        out, self.out = bytes(self.out), bytearray()
        self.sent = self.end
        self.emit(self.end, out)


def progress_main():
    """The progress filter as a program of its own, in the run dir:
    "python -c <this> mljob-progress FILE FROM FINAL", for a host read
    without the agent (the shell path at a run's end, Slurm's poller). It
    writes frames "P END N\n" and N bytes of lines; FINAL 1 when the run
    has ended, so its last line without a newline counts."""
    path, offset, final = sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
    out = sys.stdout.buffer

    def emit(end, lines):
        out.write(b"P %d %d\n" % (end, len(lines)) + lines)

    ProgressReader(path, offset, emit).read(None if final else PROGRESS_READ, final)
    out.flush()


def progress_runs_main():
    """The progress filter over many run dirs, for a batch engine's poller:
    "python -c <this> mljob-progress-runs WORKDIR (ID FROM FINAL)...". Per
    run it reads at most PROGRESS_READ bytes of runs/ID/stdout from FROM
    and writes frames "R ID END N\n" and N bytes of lines; FINAL 1 when
    the run has ended."""
    wd, args = sys.argv[2], sys.argv[3:]
    out = sys.stdout.buffer
    for i in range(0, len(args) - 2, 3):
        rid, offset, final = args[i], int(args[i + 1]), args[i + 2] == "1"

        def emit(end, lines, rid=rid.encode()):
            out.write(b"R %s %d %d\n" % (rid, end, len(lines)) + lines)

        try:
            ProgressReader(os.path.join(wd, "runs", rid, "stdout"), offset, emit).read(PROGRESS_READ, final)
        except OSError:
            pass  # this run's stdout, this time: the next poll tries again
    out.flush()


def read_pid(run):
    """The pid in a run dir (its first word), or None."""
    try:
        with open(os.path.join(run, "pid"), "rb") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def fence(wd, run_id):
    """attachScript's first half: the run dir, fenced off for good when no
    start took its token. Returns the run dir, or None when the run never
    started (and now never will)."""
    run = os.path.join(wd, "runs", run_id)
    try:
        os.makedirs(run, exist_ok=True)
    except OSError:
        return None
    try:
        write_file(os.path.join(run, ".go"), b"fenced\n", ERR_NOT_STARTED, os.O_EXCL)
    except FileExistsError:
        pass
    except StartError:
        return None
    else:
        try:
            write_file(os.path.join(run, ".fenced"), b"", ERR_NOT_STARTED)
        except StartError:
            pass  # the token alone keeps a late start out
        return None
    if os.path.exists(os.path.join(run, ".fenced")):
        return None
    return run


def progress_reader(tag, run, req):
    """The reader of a run's progress lines the request asks for ("prog":
    the stdout offset to read from), sent as "progress" frames of tag; None
    when it asks for none."""
    offset = req.get("prog")
    if not isinstance(offset, int) or offset < 0:
        return None

    def emit(end, lines):
        send({"ev": "progress", "tag": tag, "end": end}, lines)

    return ProgressReader(os.path.join(run, "stdout"), offset, emit)


def read_progress(reader, final):
    """Reads what is new of a run's progress lines: at most PROGRESS_READ
    bytes of a live run, all of a finished one's. A stdout the agent cannot
    read now is tried again at the next look (or by the dispatcher, after
    the result). Returns True when the run had printed something new."""
    if reader is None:
        return False
    was = reader.off
    try:
        reader.read(None if final else PROGRESS_READ, final)
    except OSError as e:
        if e.errno == errno.EPIPE:
            raise
    return reader.off != was


class Attached:
    """A run waited on for an attach request."""

    def __init__(self, tag, run, outlim, errlim, now, reader):
        self.tag, self.run, self.outlim, self.errlim = tag, run, outlim, errlim
        self.pid_by = now + PID_WAIT
        self.told = False
        self.reader = reader  # its progress lines, or None

    def step(self, now):
        """Sends what is due; True once the run's result is sent."""
        if not self.told:
            pid = read_pid(self.run)
            if pid is None and now < self.pid_by:
                return False
            self.told = True
            send({"ev": "started", "tag": self.tag, "pid": pid or 0, "run": self.run})
        if os.path.isfile(os.path.join(self.run, "exit_code")) or not run_alive(self.run):
            read_progress(self.reader, True)  # every line before the result
            try:
                report(self.tag, self.run, self.outlim, self.errlim, timed=True)
            except OSError as e:
                if e.errno == errno.EPIPE:
                    raise
                send({"ev": "unread", "tag": self.tag, "msg": "mljob agent: reading %s: %s" % (self.run, e)})
            return True
        return False


class Requests:
    """Splits the bytes read from stdin into requests."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, chunk):
        self.buf += chunk

    def next(self):
        nl = self.buf.find(b"\n")
        if nl < 0:
            return None
        req = json.loads(bytes(self.buf[:nl]))
        n = req.get("n", 0)
        if len(self.buf) < nl + 1 + n:
            return None  # its payload is still on the way
        data = bytes(self.buf[nl + 1:nl + 1 + n])
        del self.buf[:nl + 1 + n]
        return req, data


def main():
    # python3 -c: sys.argv is ["-c", "mljob-agent", WORKDIR].
    wd = expand_workdir(sys.argv[2])
    os.umask(0o077)
    tighten(wd)
    boot = boot_id()
    load_prctl()  # once, for every wrapper it forks
    # A handler, so that SIGCHLD (ignored by default) wakes the loop.
    wake_r, wake_w = os.pipe()
    for fd in (wake_r, wake_w):
        os.set_blocking(fd, False)
    signal.signal(signal.SIGCHLD, lambda s, f: None)
    signal.set_wakeup_fd(wake_w)
    # What the agent holds now is what every fork inherits: moved out of the
    # collector's sight, so that a collection in a run does not touch (and
    # copy) every page of it.
    if hasattr(gc, "freeze"):  # Python 3.7+
        gc.freeze()
    send({"ev": "hello", "protocol": PROTOCOL, "pid": os.getpid()})
    runs = {}  # wrapper pid -> (tag, run dir, stdout tail, stderr tail)
    attached = []  # Attached runs, not our children: polled
    readers = {}  # wrapper pid -> the ProgressReader of a run started here
    next_progress = 0.0  # when live runs' progress lines are read next
    printed_at = -PROGRESS_LIVE_FOR  # when a look last found something new
    probes = []  # Probes waiting for nvidia-smi
    try:
        smi = find_program(b"nvidia-smi", os.environb)
    except OSError:
        smi = None
    reqs = Requests()
    stdin_open = True
    while stdin_open:
        fds = [0, wake_r] + [p.fd() for p in probes if p.fd() is not None]
        timeout = None
        if attached or probes:
            timeout = ATTACH_POLL
        if readers or any(a.reader is not None for a in attached):
            timeout = max(0.0, next_progress - time.monotonic())
        ready, _, _ = select.select(fds, [], [], timeout)
        if wake_r in ready:
            try:
                while os.read(wake_r, 512):
                    pass
            except BlockingIOError:
                pass
        if 0 in ready:
            chunk = os.read(0, 1 << 16)
            if not chunk:
                stdin_open = False  # the dispatcher went away; runs go on
            reqs.feed(chunk)
            while stdin_open:
                got = reqs.next()
                if got is None:
                    break
                req, data = got
                tag = req.get("tag")
                op = req.get("op")
                if op == "cached":
                    cache = os.path.join(wd, "cache")
                    send({"ev": "cached", "tag": tag, "missing": [
                        h for h in req.get("hashes", []) if not os.path.isfile(os.path.join(cache, os.path.basename(h)))]})
                    continue
                if op == "probe":
                    p = Probe(tag, smi, time.monotonic(), req.get("lease_q"))
                    if not p.step(time.monotonic()):
                        probes.append(p)
                    continue
                if op == "attach":
                    try:
                        run = fence(wd, req["id"])
                    except Exception as e:  # the dispatcher attaches through the shell instead
                        send({"ev": "error", "tag": tag, "code": ERR_START, "msg": "mljob agent: %r" % e})
                        continue
                    if run is None:
                        send({"ev": "error", "tag": tag, "code": ERR_NOT_STARTED, "msg": "mljob: run was never started"})
                    else:
                        attached.append(Attached(tag, run, req["outlim"], req["errlim"], time.monotonic(),
                                                 progress_reader(tag, run, req)))
                    continue
                if op != "start":
                    send({"ev": "error", "tag": tag, "code": ERR_START, "msg": "mljob agent: unknown op"})
                    continue
                lease_fds = []
                try:
                    if req.get("lease"):
                        lease_fds = take_leases(req["lease"])
                    run, argv, env = prepare(wd, req, data)
                except StartError as e:
                    for fd in lease_fds:
                        os.close(fd)
                    send({"ev": "error", "tag": tag, "code": e.code, "msg": str(e)})
                    continue
                except Exception as e:  # a bug here must not strand other runs
                    for fd in lease_fds:
                        os.close(fd)
                    send({"ev": "error", "tag": tag, "code": ERR_START, "msg": "mljob agent: %r" % e})
                    continue
                # Blocked over the fork: a stop that comes before the
                # wrapper's handlers are set waits for them.
                signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
                pid = os.fork()
                if pid == 0:
                    LEASE_FDS[:] = lease_fds
                    wrapper(run, argv, env, bool(req.get("warm")), (wake_r, wake_w))
                # The wrapper holds the leases now (the same open files):
                # the agent's copies go, or its later forks would hold them.
                note_lease_pid(lease_fds, pid)
                for fd in lease_fds:
                    os.close(fd)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
                write_file(os.path.join(run, "pid.tmp"), pid_record(pid, boot), ERR_START)
                os.rename(os.path.join(run, "pid.tmp"), os.path.join(run, "pid"))
                runs[pid] = (tag, run, req["outlim"], req["errlim"])
                send({"ev": "started", "tag": tag, "pid": pid, "run": run})
                reader = progress_reader(tag, run, req)
                if reader is not None:
                    readers[pid] = reader
        while True:  # wrappers, and nvidia-smi once it is done
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid in runs:
                tag, run, outlim, errlim = runs.pop(pid)
                read_progress(readers.pop(pid, None), True)  # every line before the result
                try:
                    report(tag, run, outlim, errlim)
                except OSError as e:
                    if e.errno == errno.EPIPE:
                        raise
                    # The dispatcher reads the run dir itself instead.
                    send({"ev": "unread", "tag": tag, "msg": "mljob agent: reading %s: %s" % (run, e)})
        now = time.monotonic()
        if stdin_open and now >= next_progress:
            news = False
            for reader in readers.values():
                news = read_progress(reader, False) or news
            for a in attached:
                news = read_progress(a.reader, False) or news
            if news:
                printed_at = now
            live = now - printed_at < PROGRESS_LIVE_FOR
            next_progress = now + (PROGRESS_POLL_LIVE if live else PROGRESS_POLL)
        if attached and stdin_open:
            now = time.monotonic()
            attached = [a for a in attached if not a.step(now)]
        if probes and stdin_open:
            now = time.monotonic()
            probes = [p for p in probes if not p.step(now)]
    # Leave without waiting: the runs are detached, and their results are
    # read from the run dirs by whoever attaches next.
    os._exit(0)


def wrap_main():
    """The wrapper as a program of its own, in the run dir: "python -c
    <this> mljob-wrap ARGFILE COMMAND...", as the shell path and a batch
    task start it. ARGFILE, when not empty, names the file whose text is
    the command's last argument (its name instead, past MAX_ARG bytes)."""
    argfile = sys.argv[2]
    argv = [os.fsencode(a) for a in sys.argv[3:]]
    if argfile:
        try:
            with open(argfile, "rb") as f:
                arg = f.read()
        except OSError:
            arg = b""
        argv.append(arg if len(arg) <= MAX_ARG else os.fsencode(argfile))
    env = dict(os.environb)
    LEASE_FDS[:] = inherited_leases(env)
    note_lease_pid(LEASE_FDS, os.getpid())
    wrapper(os.getcwd(), argv, env, False, ())


def inherited_leases(env):
    """The lease fds a wrapper on the shell path inherits from lease_main
    (through the start script), named by MLJOB_LEASE_FDS, which env loses:
    made close-on-exec, so that only the wrapper holds them."""
    fds = []
    for f in env.pop(b"MLJOB_LEASE_FDS", b"").split(b","):
        try:
            fd = int(f)
            os.set_inheritable(fd, False)
        except (ValueError, OSError):
            continue
        fds.append(fd)
    return fds


def lease_main():
    """The shell path's first step: "python -c <this> mljob-lease LEASE
    COMMAND...". Takes the leases LEASE (run.Lease as JSON) names, before
    anything of the run exists on the host, and execs COMMAND (the start
    script) with them open and named in MLJOB_LEASE_FDS; the wrapper it
    starts keeps them for the run's life. A refusal exits ERR_LEASE_BUSY
    with why on stderr: the run did not start and left nothing behind.
    stdin is the start script's (the run's input): not read here."""
    try:
        fds = take_leases(json.loads(sys.argv[2]))
    except StartError as e:
        sys.stderr.write(str(e) + "\n")
        sys.stderr.flush()
        os._exit(e.code)
    except ValueError as e:
        sys.stderr.write("mljob: bad lease request: %s\n" % e)
        sys.stderr.flush()
        os._exit(ERR_START)
    for fd in fds:
        os.set_inheritable(fd, True)
    os.environ["MLJOB_LEASE_FDS"] = ",".join(str(fd) for fd in fds)
    argv = sys.argv[3:]
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        sys.stderr.write("mljob: cannot run %s: %s\n" % (argv[0], e.strerror))
        sys.stderr.flush()
        os._exit(ERR_START)


if __name__ == "__main__":
    # python3 -c: sys.argv is ["-c", MODE, ...].
    if sys.argv[1:2] == ["mljob-wrap"]:
        wrap_main()
    if sys.argv[1:2] == ["mljob-lease"]:
        lease_main()
    if sys.argv[1:2] == ["mljob-progress"]:
        progress_main()
        sys.exit(0)
    if sys.argv[1:2] == ["mljob-progress-runs"]:
        progress_runs_main()
        sys.exit(0)
    main()
