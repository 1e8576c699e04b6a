# mljob's outcome search: prints the last line of a run's stdout that is a
# JSON object without a "step" field (a line with one is a progress report,
# never the Outcome), when the tail the dispatcher fetched holds none (a long
# summary printed after the outcome, or an outcome line longer than the
# tail). It runs in the run dir on the host, with the host's python, as
# "python -c <this> mljob-find-outcome FILE CAP", reads FILE backwards in
# blocks and answers with one of:
#
#   found N\n<N bytes: the line>
#   none\n                       no line of FILE is a JSON object
#                                without a "step"
#   oversize N\n                 the last line that begins with "{" is N
#                                bytes, over CAP: it is not read
#
# Python 3.6 or newer, standard library only.
import json
import sys

BLOCK = 1 << 20
HEAD = 64


def verdict(line, big, size):
    """None to go on, or the answer for the line."""
    if not line.lstrip().startswith(b"{"):
        return None
    if big:
        return b"oversize %d\n" % size
    s = line.strip()
    try:
        # As the dispatcher reads it: bad UTF-8 inside strings is replaced.
        obj = json.loads(s.decode("utf-8", "replace"))
    except ValueError:
        return None
    if not isinstance(obj, dict) or "step" in obj:
        return None
    return b"found %d\n" % len(s) + s


def search(f, cap):
    pos = f.seek(0, 2)
    # The line that runs on past pos: its bytes after pos (only its first
    # HEAD bytes once it is longer than cap) and its length so far.
    cur, size, big = b"", 0, False
    while pos > 0:
        n = min(BLOCK, pos)
        pos -= n
        f.seek(pos)
        block = f.read(n)
        nl = block.rfind(b"\n")
        first = block[nl + 1:]
        size += len(first)
        cur = first + cur
        if size > cap and not big:
            big = True
        if big:
            cur = cur[:HEAD]
        if nl < 0:
            continue
        got = verdict(cur, big, size)
        if got is not None:
            return got
        lines = block[:nl].split(b"\n")
        cur, size, big = lines[0], len(lines[0]), False
        if b"{" in block[len(lines[0]):nl]:
            for line in reversed(lines[1:]):
                got = verdict(line, len(line) > cap, len(line))
                if got is not None:
                    return got
    got = verdict(cur, big, size)
    return got if got is not None else b"none\n"


def main():
    path, cap = sys.argv[2], int(sys.argv[3])
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        out = b"none\n"
    else:
        with f:
            out = search(f, cap)
    sys.stdout.buffer.write(out)
    sys.stdout.buffer.flush()


main()
