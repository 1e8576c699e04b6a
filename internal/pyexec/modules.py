# The program that checks, with the interpreter that will run a script,
# that the modules the script imports are there:
#   python -c PROGRAM [--versions | --env [--gpus]] MODULE...
# Each module is looked up (importlib's find_spec: none of its code runs),
# which the dispatcher does before a script's first run on a host. With
# --versions, for `mljob hosts check`, each found module's version is read
# from the installed package's metadata (still without importing it), and
# torch, when asked for and a GPU is in play (nvidia-smi on PATH), is
# imported to say whether it sees CUDA: importing it takes seconds. It
# prints one JSON object on the last line. With --env, for a run's
# provenance, versions are read as with --versions (torch is not imported)
# and the host's name and CPU model are added; with --gpus too, the model
# and driver of the GPUs CUDA_VISIBLE_DEVICES names (all without it) and
# the CUDA version, from nvidia-smi when there is one. Module names arrive as argv
# words, never as program text. Keep it working on old Pythons (3.5+).
import importlib
import importlib.util
import json
import shutil
import sys

flags = set()
args = sys.argv[1:]
while args and args[0].startswith("--"):
    flags.add(args.pop(0))
names = args
env = "--env" in flags
versions = "--versions" in flags or env
std = set(sys.builtin_module_names) | set(getattr(sys, "stdlib_module_names", ()))
out = {
    "executable": sys.executable,
    "version": "%d.%d.%d" % tuple(sys.version_info[:3]),
    "modules": {},
}


def dists_by_module():
    try:
        import importlib.metadata as md
        return md, md.packages_distributions()  # Python 3.10+
    except Exception:
        try:
            import importlib.metadata as md
            return md, {}
        except Exception:
            return None, {}


md, dists = dists_by_module() if versions else (None, {})


def version_of(m):
    if md is None:
        return ""
    for name in dists.get(m, []) + [m]:
        try:
            return md.version(name)
        except Exception:
            pass
    return ""


real_stdout = sys.stdout
sys.stdout = sys.stderr  # what a module prints on import is not our report
for m in names:
    if m in std:
        continue
    r = {"found": False}
    try:
        r["found"] = importlib.util.find_spec(m) is not None
    except Exception as e:
        r["error"] = ("%s: %s" % (type(e).__name__, e))[:300]
    if r["found"] and versions:
        r["version"] = version_of(m)
    out["modules"][m] = r
if "--versions" in flags and out["modules"].get("torch", {}).get("found") and shutil.which("nvidia-smi"):
    try:
        import torch
        out["cuda"] = {"available": bool(torch.cuda.is_available()), "devices": int(torch.cuda.device_count())}
    except BaseException as e:  # a broken install may even call sys.exit
        out["modules"]["torch"]["found"] = False
        out["modules"]["torch"]["error"] = ("%s: %s" % (type(e).__name__, e))[:300]
        out["cuda"] = {"available": False, "devices": 0, "error": out["modules"]["torch"]["error"]}


def host_facts():
    import os
    import platform
    import socket
    out["host"] = socket.gethostname()
    out["platform"] = platform.platform()
    out["cpus"] = os.cpu_count() or 0
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") or line.startswith("Model"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    out["cpu"] = cpu or platform.processor() or platform.machine()


def gpu_facts():
    import os
    import re
    import subprocess
    smi = shutil.which("nvidia-smi")
    if not smi:
        return
    try:
        q = subprocess.check_output([smi, "--query-gpu=index,name,driver_version", "--format=csv,noheader"],
                                    stderr=subprocess.DEVNULL, timeout=10).decode("utf-8", "replace")
        head = subprocess.check_output([smi], stderr=subprocess.DEVNULL, timeout=10).decode("utf-8", "replace")
    except Exception:
        return
    want = None
    vis = os.environ.get("CUDA_VISIBLE_DEVICES")
    if vis is not None:
        want = set(v.strip() for v in vis.split(","))
    gpus = []
    for line in q.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 3 and (want is None or parts[0] in want):
            gpus.append({"index": parts[0], "name": parts[1], "driver": parts[2]})
    out["gpus"] = gpus
    m = re.search(r"CUDA Version:\s*([0-9.]+)", head)
    if m:
        out["cudaVersion"] = m.group(1)


if env:
    try:
        host_facts()
        if "--gpus" in flags:
            gpu_facts()
    except Exception as e:
        out["envError"] = ("%s: %s" % (type(e).__name__, e))[:300]
sys.stdout = real_stdout
print(json.dumps(out))
