# The program that checks, with the interpreter that will run a script,
# that the modules the script imports are there:
#   python -c PROGRAM [--versions] MODULE...
# Without --versions it only looks each module up (importlib's find_spec:
# no module code runs), which the dispatcher does before a script's first
# run on a host. With it, `mljob hosts check` imports each module for its
# version, and asks torch, if imported, whether it sees CUDA. It prints one
# JSON object on the last line. Module names arrive as argv words, never as
# program text. Keep it working on old Pythons (3.5+).
import importlib
import importlib.util
import json
import sys

versions = len(sys.argv) > 1 and sys.argv[1] == "--versions"
names = sys.argv[2:] if versions else sys.argv[1:]
std = set(sys.builtin_module_names) | set(getattr(sys, "stdlib_module_names", ()))
out = {
    "executable": sys.executable,
    "version": "%d.%d.%d" % tuple(sys.version_info[:3]),
    "modules": {},
}
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
        try:
            mod = importlib.import_module(m)
            v = getattr(mod, "__version__", "")
            r["version"] = v if isinstance(v, str) else str(v)
        except BaseException as e:  # a module may even call sys.exit
            r["found"] = False
            r["error"] = ("%s: %s" % (type(e).__name__, e))[:300]
    out["modules"][m] = r
if versions and "torch" in sys.modules:
    try:
        torch = sys.modules["torch"]
        out["cuda"] = {"available": bool(torch.cuda.is_available()), "devices": int(torch.cuda.device_count())}
    except Exception as e:
        out["cuda"] = {"available": False, "devices": 0, "error": ("%s: %s" % (type(e).__name__, e))[:300]}
sys.stdout = real_stdout
print(json.dumps(out))
