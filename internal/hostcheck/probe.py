# The program `mljob hosts check` runs on a host, with the host's Python:
# python -c PROGRAM WORKDIR [LOCKDIR]. It prints one JSON object. The scripts' imports
# are checked by pyexec's modules.py, the program the dispatcher runs too.
# Values arrive as argv words, never as program text. Keep it working on
# old Pythons (3.5+): the point is to report them, not to crash on them.
import json
import os
import shutil
import subprocess
import sys
import time

workdir = os.path.expanduser(sys.argv[1])
out = {
    "version": "%d.%d.%d" % tuple(sys.version_info[:3]),
    "executable": sys.executable,
    "debian": os.path.exists("/etc/debian_version"),
}
try:
    out["load"] = os.getloadavg()[0]
except (OSError, AttributeError):
    out["load"] = None
out["cpus"] = os.cpu_count()
out["workdir"] = workdir
out["workdirExists"] = os.path.isdir(workdir)
p = workdir
while not os.path.exists(p):
    parent = os.path.dirname(p)
    if parent == p:
        break
    p = parent
out["diskPath"] = p
try:
    st = os.statvfs(p)
    out["freeBytes"] = st.f_bavail * st.f_frsize
except (OSError, AttributeError):
    out["freeBytes"] = None
out["writable"] = os.access(p, os.W_OK)
smi = shutil.which("nvidia-smi")
out["nvidiaSmi"] = smi or ""
gpus = []
err = ""
if smi:
    try:
        r = subprocess.run(
            [smi, "--query-gpu=index,name,memory.total,utilization.gpu", "--format=csv,noheader,nounits"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10, universal_newlines=True)
        if r.returncode != 0:
            err = (r.stderr or r.stdout).strip()[:300]
        for line in r.stdout.splitlines():
            f = [x.strip() for x in line.split(",")]
            if len(f) >= 4:
                gpus.append({"index": f[0], "name": f[1], "memoryMiB": f[2], "utilization": f[3]})
    except Exception as e:
        err = str(e)[:300]
lock_dir = os.path.expanduser(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] else ""


def lease_held(path):
    # As agent.py's lease_held: held when a non-blocking flock fails.
    import fcntl
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def lease_files(d):
    # The lease files of lock dir d with their holder line, and the
    # wrappers' pids ("pid N" lines; agent.py's lease_pids); the waiting
    # tickets still live (agent.py's ticket_since, TICKET_TTL 10 s).
    leases, tickets, pids = [], [], set()
    now = time.time()
    for n in sorted(os.listdir(d)):
        path = os.path.join(d, n)
        if n.endswith(".tmp"):
            continue
        if n.startswith("wait."):
            try:
                if now - os.stat(path).st_mtime <= 10.0:
                    with open(path, "rb") as f:
                        tickets.append({"name": n, "since": float(f.read().split()[0])})
            except (OSError, ValueError, IndexError):
                pass
            continue
        try:
            with open(path, "rb") as f:
                lines = f.read(8192).decode("utf-8", "replace").split("\n")
        except OSError:
            continue
        held = lease_held(path)
        leases.append({"name": n, "held": held, "holder": lines[0].strip() if held else ""})
        for line in lines[1:]:
            if line.startswith("pid "):
                try:
                    pids.add(int(line[4:]))
                except ValueError:
                    pass
    return leases, tickets, pids


def in_run(pid, wrappers):
    # As agent.py's in_run: pid is a wrapper or below one.
    seen = 0
    while pid > 1 and seen < 64:
        if pid in wrappers:
            return True
        try:
            with open("/proc/%d/stat" % pid, "rb") as f:
                stat = f.read()
            pid = int(stat[stat.rindex(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            return False
        seen += 1
    return False


wrappers = set()
if lock_dir:
    ld = {"path": lock_dir, "exists": os.path.isdir(lock_dir), "leases": [], "waiting": []}
    parent = lock_dir if ld["exists"] else os.path.dirname(lock_dir.rstrip("/")) or "/"
    ld["writable"] = os.access(parent, os.W_OK | os.X_OK)
    if ld["exists"]:
        try:
            ld["leases"], ld["waiting"], wrappers = lease_files(lock_dir)
        except OSError as e:
            ld["error"] = str(e)[:300]
    out["lockDir"] = ld
if smi and gpus and not err:
    # Who computes on each GPU: processes not under a wrapper holding a
    # lease here are foreign (agent.py's gpu_use).
    try:
        by_uuid = {}
        r = subprocess.run([smi, "--query-gpu=index,uuid,memory.free", "--format=csv,noheader,nounits"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10, universal_newlines=True)
        for line in r.stdout.splitlines():
            f = [x.strip() for x in line.split(",")]
            if len(f) == 3:
                by_uuid[f[1]] = f[0]
                for g in gpus:
                    if g["index"] == f[0]:
                        g["foreign"] = 0
                        try:
                            g["freeMiB"] = float(f[2])
                        except ValueError:
                            pass
        r = subprocess.run([smi, "--query-compute-apps=gpu_uuid,pid,used_memory", "--format=csv,noheader,nounits"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10, universal_newlines=True)
        for line in r.stdout.splitlines():
            f = [x.strip() for x in line.split(",")]
            if len(f) < 2 or f[0] not in by_uuid:
                continue
            try:
                pid = int(f[1])
            except ValueError:
                continue
            if not in_run(pid, wrappers):
                for g in gpus:
                    if g["index"] == by_uuid[f[0]]:
                        g["foreign"] = g.get("foreign", 0) + 1
    except Exception as e:
        err = str(e)[:300]
out["gpus"] = gpus
out["gpuError"] = err
print(json.dumps(out))
