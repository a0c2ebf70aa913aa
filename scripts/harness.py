"""What the fault harnesses share (scripts/chaos.py, scripts/cluster_test.py): RESP replies, a
bounded wait, process shutdown, and the count of an operation's hosts by status."""
import json
import signal
import subprocess
import time
import urllib.error
import urllib.request


class RespError(Exception):
    """An error reply (`-ERR ...`, `-MOVED ...`)."""


def resp_command(*args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args)


def read_reply(f):
    """One RESP2 reply from the file `f`; an error reply comes back as a RespError, not raised."""
    line = f.readline()
    if not line:
        raise ConnectionError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        return RespError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2].decode()
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [read_reply(f) for _ in range(n)]
    raise ConnectionError(f"unexpected reply {line!r}")


def eventually(check, timeout, interval=0.5):
    """Whether `check()` held within `timeout` seconds; an exception (a server down mid-fault) is a no."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            if check():
                return True
        except Exception:
            pass
        time.sleep(interval)
    return False


def stop_processes(procs, grace=15):
    """SIGTERM to each process still running, SIGKILL to any still up after `grace` seconds."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.time() + grace
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def host_counts(statuses, progress):
    """An operation's hosts (`status:reason` by host id) counted by status, and how far the progress
    counters are from those counts (0: every host counted once)."""
    counts = {k: 0 for k in ("queued", "running", "succeeded", "failed", "skipped")}
    for value in statuses.values():
        counts[value.partition(":")[0]] += 1
    total = int(progress.get("total", -1))
    off = sum(abs(int(progress.get(k, 0)) - v) for k, v in counts.items()) + abs(len(statuses) - total)
    return counts, off
