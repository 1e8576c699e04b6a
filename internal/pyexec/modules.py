# The program that checks, with the interpreter that will run a script,
# that the modules the script imports are there:
#   python -c PROGRAM [--versions] MODULE...
# Each module is looked up (importlib's find_spec: none of its code runs),
# which the dispatcher does before a script's first run on a host. With
# --versions, for `mljob hosts check`, each found module's version is read
# from the installed package's metadata (still without importing it), and
# torch, when asked for and a GPU is in play (nvidia-smi on PATH), is
# imported to say whether it sees CUDA: importing it takes seconds. It
# prints one JSON object on the last line. Module names arrive as argv
# words, never as program text. Keep it working on old Pythons (3.5+).
import importlib
import importlib.util
import json
import shutil
import sys

versions = len(sys.argv) > 1 and sys.argv[1] == "--versions"
names = sys.argv[2:] if versions else sys.argv[1:]
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
if versions and out["modules"].get("torch", {}).get("found") and shutil.which("nvidia-smi"):
    try:
        import torch
        out["cuda"] = {"available": bool(torch.cuda.is_available()), "devices": int(torch.cuda.device_count())}
    except BaseException as e:  # a broken install may even call sys.exit
        out["modules"]["torch"]["found"] = False
        out["modules"]["torch"]["error"] = ("%s: %s" % (type(e).__name__, e))[:300]
        out["cuda"] = {"available": False, "devices": 0, "error": out["modules"]["torch"]["error"]}
sys.stdout = real_stdout
print(json.dumps(out))
