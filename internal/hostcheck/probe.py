# The program `mljob hosts check` runs on a host, with the host's Python:
# python -c PROGRAM WORKDIR. It prints one JSON object. The scripts' imports
# are checked by pyexec's modules.py, the program the dispatcher runs too.
# Values arrive as argv words, never as program text. Keep it working on
# old Pythons (3.5+): the point is to report them, not to crash on them.
import json
import os
import shutil
import subprocess
import sys

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
out["gpus"] = gpus
out["gpuError"] = err
print(json.dumps(out))
