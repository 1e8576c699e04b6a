# mljob's host agent. A dispatcher starts one per host over the host's SSH
# connection and sends it the runs to start; the agent prepares each run dir,
# starts the run detached in its own session and reports when it ends. It
# keeps the run contract of the shell scripts in scripts.go to the letter
# (mkdir claims the run dir, the ".go" token is taken exclusively before the
# start, the wrapper writes exit_code), so a run started here can be attached,
# killed or fenced by the shell scripts, by this dispatcher or another. What it
# saves is the shell, mkdir, cat, wc, ln, setsid and session of every start.
#
# It is a program text, not a file on the host: "python3 -c <this> mljob-agent
# WORKDIR WRAP". Every value from a job reaches it as data on stdin, never as
# program text.
#
# Protocol: each message is one JSON line, followed by the raw bytes its "n"
# field counts. Requests: {"op": "start", ...}. Replies: "hello" once, then
# "started" or "error" per start, then "result" when the run ends. Standard
# library only; Python 3.6 or newer.
import base64
import errno
import json
import os
import shutil
import subprocess
import sys
import threading

PROTOCOL = 1
# Keep one argv word under Linux's MAX_ARG_STRLEN (131072), as wrapScript does.
MAX_ARG = 131000

# Exit codes of scripts.go, reused as error codes so both paths read alike.
ERR_RUN_DIR = 90
ERR_RUN_DIR_USED = 91
ERR_INPUT = 92
ERR_LINK = 93
ERR_ENV = 94
ERR_START = 98

out = sys.stdout.buffer
out_lock = threading.Lock()


def send(msg, *payload):
    msg["n"] = sum(len(p) for p in payload)
    data = json.dumps(msg, separators=(",", ":")).encode() + b"\n" + b"".join(payload)
    with out_lock:
        out.write(data)
        out.flush()


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


class StartError(Exception):
    def __init__(self, code, msg):
        Exception.__init__(self, msg)
        self.code = code


def b64(s):
    return base64.b64decode(s)


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


def write_file(path, data, code):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    except OSError as e:
        raise StartError(code, "mljob: cannot write %s: %s" % (path, e.strerror))


def start(wd, wrap, req, data):
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
                shutil.copyfile(src, dst)
            except OSError as e:
                raise StartError(ERR_LINK, "mljob: cannot link %s from the cache: %s" % (name, e.strerror))
    env = dict(os.environb)
    for word in req.get("env", []):
        key, sep, value = b64(word).partition(b"=")
        if not sep or not key:
            raise StartError(ERR_ENV, "mljob: bad environment entry")
        env[key] = value
    argv = [b64(a) for a in req["argv"]]
    argfile = req.get("argfile", "")
    if argfile:
        arg = data if argfile == inp else open(os.path.join(run, argfile), "rb").read()
        argv.append(arg if len(arg) <= MAX_ARG else argfile.encode())
    # The start token, taken exclusively before the launch (see attachScript).
    try:
        fd = os.open(os.path.join(run, ".go"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise StartError(ERR_RUN_DIR_USED, "mljob: run dir %s was fenced off; refusing to start" % run)
    os.write(fd, b"%d\n" % os.getpid())
    os.close(fd)
    try:
        # The wrapper reads no argfile: the agent appended the argument.
        proc = subprocess.Popen(
            [b"sh", b"-c", wrap, b"mljob-wrap", b""] + argv,
            cwd=run, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    except (OSError, ValueError) as e:
        # The token stays: this attempt is spent, as when a start dies.
        raise StartError(ERR_START, "mljob: cannot start the run: %s" % e)
    write_file(os.path.join(run, "pid.tmp"), b"%d\n" % proc.pid, ERR_START)
    os.rename(os.path.join(run, "pid.tmp"), os.path.join(run, "pid"))
    return run, proc


def read_tail(path, size, take):
    if take <= 0:
        return b""
    with open(path, "rb") as f:
        if size > take:
            f.seek(size - take)
        return f.read(take)


def finish(tag, run, proc, outlim, errlim):
    proc.wait()
    try:
        report(tag, run, outlim, errlim)
    except Exception as e:  # the dispatcher then reads the run dir itself
        send({"ev": "unread", "tag": tag, "msg": "mljob agent: reading %s: %r" % (run, e)})


def report(tag, run, outlim, errlim):
    code = ""
    try:
        with open(os.path.join(run, "exit_code"), "rb") as f:
            first = f.readline().strip()
        code = first.decode("ascii", "replace")
    except OSError:
        pass
    # "exit" is the first line of exit_code, "" when the wrapper wrote none.
    msg = {"ev": "result", "tag": tag, "exit": code}
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


def read_exact(f, n):
    buf = b""
    while len(buf) < n:
        chunk = f.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def main():
    # python3 -c: sys.argv is ["-c", "mljob-agent", WORKDIR, WRAP].
    wd = expand_workdir(sys.argv[2])
    wrap = os.fsencode(sys.argv[3])
    send({"ev": "hello", "protocol": PROTOCOL, "pid": os.getpid()})
    inp = sys.stdin.buffer
    while True:
        line = inp.readline()
        if not line:
            break  # the dispatcher went away; the runs go on, detached
        req = json.loads(line)
        data = b""
        if req.get("n"):
            data = read_exact(inp, req["n"])
            if data is None:
                break  # cut mid-request: never start on a short input
        if req.get("op") != "start":
            send({"ev": "error", "tag": req.get("tag"), "code": ERR_START, "msg": "mljob agent: unknown op"})
            continue
        tag = req["tag"]
        try:
            run, proc = start(wd, wrap, req, data)
        except StartError as e:
            send({"ev": "error", "tag": tag, "code": e.code, "msg": str(e)})
            continue
        except Exception as e:  # a bug here must not strand other runs
            send({"ev": "error", "tag": tag, "code": ERR_START, "msg": "mljob agent: %r" % e})
            continue
        send({"ev": "started", "tag": tag, "pid": proc.pid, "run": run})
        t = threading.Thread(target=finish, args=(tag, run, proc, req["outlim"], req["errlim"]))
        t.daemon = True
        t.start()
    # Leave without waiting: the runs are detached, and their results are
    # read from the run dirs by whoever attaches next.
    out.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
