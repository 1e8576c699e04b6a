# The program `mljob hosts check` runs on a host, with the host's Python:
# python -c PROGRAM WORKDIR [LOCKDIR], PROGRAM being this text after
# internal/gpuown's gpuown.py (lease_file_held, lease_pids, in_run, gpu_use:
# the agent's too). It prints one JSON object. The scripts' imports
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


def lease_files(d):
    # The lease files of lock dir d with their holder line, and the
    # waiting tickets still live (agent.py's ticket_since, TICKET_TTL 10 s).
    leases, tickets = [], []
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
                first = f.read(8192).decode("utf-8", "replace").split("\n")[0]
        except OSError:
            continue
        held = lease_file_held(path)
        leases.append({"name": n, "held": held, "holder": first.strip() if held else ""})
    return leases, tickets


wrappers = set()
if lock_dir:
    ld = {"path": lock_dir, "exists": os.path.isdir(lock_dir), "leases": [], "waiting": []}
    parent = lock_dir if ld["exists"] else os.path.dirname(lock_dir.rstrip("/")) or "/"
    ld["writable"] = os.access(parent, os.W_OK | os.X_OK)
    if ld["exists"]:
        try:
            ld["leases"], ld["waiting"] = lease_files(lock_dir)
            wrappers = lease_pids(lock_dir)
        except OSError as e:
            ld["error"] = str(e)[:300]
    out["lockDir"] = ld
if smi and gpus and not err:
    # Who computes on each GPU: processes not under a wrapper holding a
    # lease here are foreign (gpu_use, as the agent's probe counts them).
    try:
        queries = []
        for q in (GPU_UUID_QUERY, GPU_APPS_QUERY):
            r = subprocess.run([smi] + q, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10,
                               universal_newlines=True)
            queries.append(r.stdout.splitlines())
        for u in gpu_use(queries[0], queries[1], wrappers):
            for g in gpus:
                if g["index"] == u["index"]:
                    g["foreign"] = u["foreign"]
                    if u["free"] is not None:
                        g["freeMiB"] = u["free"]
    except Exception as e:
        err = str(e)[:300]
out["gpus"] = gpus
out["gpuError"] = err
print(json.dumps(out))
