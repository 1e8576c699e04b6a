# mljob's artifact reader: lists and sends the files a run leaves for home.
# It runs in the run dir on the host, with the host's python, as
#
#   python -c <this> mljob-artifacts list CAP GLOB...
#   python -c <this> mljob-artifacts send PATH...
#
# list answers one JSON line per file, {"p": path, "s": size, "h": sha256},
# for every regular file matched by a GLOB (relative to the run dir; ** for
# any depth) and every file under artifacts/, then {"total": N, "over": B}.
# When the total passes CAP (bytes) no file is hashed ("h" is ""): home
# refuses the lot and says why. send answers, per PATH, "F SIZE\n" and
# SIZE bytes of the file, or "M\n" when it is gone or no longer a plain
# file.
#
# A path is taken only when no part of it is a symlink and it stays in the
# run dir: a run cannot hand home a file outside its run dir (/etc/shadow
# through a link, ../other-run). Names that are not UTF-8 are left out.
#
# Python 3.6 or newer, standard library only.
import glob
import hashlib
import json
import os
import stat
import sys

CHUNK = 1 << 20


def plain(p):
    """The lstat of p when p is a regular file reached through no symlink
    and inside the run dir, else None."""
    if os.path.isabs(p) or p == ".." or p.startswith("../") or "/../" in p:
        return None
    cur = ""
    st = None
    for part in p.split("/"):
        if part in ("", "."):
            continue
        cur = part if not cur else cur + "/" + part
        try:
            st = os.lstat(cur)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            return None
    if st is None or not stat.S_ISREG(st.st_mode):
        return None
    return st


def matches(globs):
    seen = set()
    out = []

    def take(p):
        p = os.path.normpath(p)
        if p in seen:
            return
        try:
            p.encode("utf-8")
        except UnicodeEncodeError:
            return
        st = plain(p)
        if st is None:
            return
        seen.add(p)
        out.append((p, st.st_size))

    for g in globs:
        for p in sorted(glob.glob(g, recursive=True)):
            take(p)
    if os.path.isdir("artifacts") and not os.path.islink("artifacts"):
        for dp, dns, fns in os.walk("artifacts"):
            dns.sort()
            for f in sorted(fns):
                take(os.path.join(dp, f))
    return out


def sha256(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        while True:
            b = f.read(CHUNK)
            if not b:
                return h.hexdigest()
            h.update(b)


def main():
    out = sys.stdout
    mode = sys.argv[2]
    if mode == "list":
        cap = int(sys.argv[3])
        files = matches(sys.argv[4:])
        total = sum(s for _, s in files)
        over = total > cap
        for p, s in files:
            h = "" if over else sha256(p)
            out.write(json.dumps({"p": p, "s": s, "h": h}) + "\n")
        out.write(json.dumps({"total": total, "over": over}) + "\n")
        return 0
    if mode != "send":
        sys.stderr.write("unknown mode %s\n" % mode)
        return 2
    out = sys.stdout.buffer
    for p in sys.argv[3:]:
        if plain(p) is None:
            out.write(b"M\n")
            continue
        try:
            f = open(p, "rb")
        except OSError:
            out.write(b"M\n")
            continue
        with f:
            size = os.fstat(f.fileno()).st_size
            out.write(b"F %d\n" % size)
            left = size
            while left > 0:
                b = f.read(min(CHUNK, left))
                if not b:
                    # The file shrank under us: home sees a short stream
                    # and keeps nothing of it.
                    sys.stderr.write("%s shrank while it was sent\n" % p)
                    return 3
                out.write(b)
                left -= len(b)
    out.flush()
    return 0


sys.exit(main())
