# Which compute processes on a host's GPUs are mljob's, and whether a
# lease is held: the one copy of these rules, put before agent.py (the dispatcher's host agent) and
# hostcheck's probe.py (mljob hosts check) by internal/gpuown. A process
# is mljob's when it is a wrapper holding a lease in the host's lock dir,
# or runs below one; any other is foreign. Standard library only, and
# Python 3.5+ (probe.py reports old Pythons rather than crash on them).

# What nvidia-smi is asked: each GPU's index, uuid and free memory (MiB),
# and the compute processes (gpu uuid, pid, memory).
GPU_UUID_QUERY = ["--query-gpu=index,uuid,memory.free", "--format=csv,noheader,nounits"]
GPU_APPS_QUERY = ["--query-compute-apps=gpu_uuid,pid,used_memory", "--format=csv,noheader,nounits"]


def lease_file_held(path):
    """Whether someone holds the lease file at path now: a non-blocking
    flock of it fails. A file never made is free."""
    import fcntl
    import os
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def lease_pids(d):
    """The wrappers that hold leases in lock dir d: each notes its pid on
    its lease file's second line ("pid N"), read by anyone."""
    import os
    pids = set()
    try:
        names = os.listdir(d)
    except OSError:
        return pids
    for n in names:
        if n.startswith("wait.") or n.endswith(".tmp"):
            continue
        try:
            with open(os.path.join(d, n), "rb") as f:
                for line in f.read(8192).splitlines()[1:]:
                    if line.startswith(b"pid "):
                        pids.add(int(line[4:]))
        except (OSError, ValueError):
            continue
    return pids


def in_run(pid, wrappers):
    """Whether pid is a wrapper of wrappers or runs below one: its parent
    chain, as /proc (readable by anyone) tells it."""
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


def gpu_use(uuids, apps, wrappers):
    """Per GPU: its index, free memory (MiB; None when nvidia-smi gave no
    number) and how many compute processes on it are foreign (not under
    one of wrappers). uuids and apps are the lines of GPU_UUID_QUERY and
    GPU_APPS_QUERY."""
    by_uuid = {}
    use = []
    for line in uuids:
        c = line.replace(" ", "").split(",")
        if len(c) != 3:
            continue
        g = {"index": c[0], "free": None, "foreign": 0}
        try:
            g["free"] = float(c[2])
        except ValueError:
            pass
        by_uuid[c[1]] = g
        use.append(g)
    for line in apps:
        c = line.replace(" ", "").split(",")
        if len(c) < 2 or c[0] not in by_uuid:
            continue
        try:
            pid = int(c[1])
        except ValueError:
            continue
        if not in_run(pid, wrappers):
            by_uuid[c[0]]["foreign"] += 1
    return use

