#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# What the dax/kmem stress and fault selftests cannot do from bash: sysfs
# writes of arbitrary bytes in one write(2) each, checked against kmem.c's
# parsing (sysfs_streq) at thousands of writes a second; a write with the
# n-th allocation of the writing task failed (/proc/thread-self/fail-nth,
# which is per task and not inherited by a child such as dd); and a process
# that holds data on a node (mbind, mlock, optionally pinned by vmsplice).
#
# Each subcommand prints "PASS desc", "FAIL desc" or "# diag" lines; the
# calling script turns them into KTAP.
#
#   corpus fixed STATEFILE          the fixed corpus, in the current state
#   corpus random STATEFILE SEED N  N generated writes (deterministic)
#   failnth FILE VALUE N            write VALUE to FILE with the N-th
#                                   fault-injection point of this task failed;
#                                   prints "<result> injected|clean"
#   filtered FILE VALUE             write VALUE to FILE with this task's
#                                   make-it-fail set (for task-filter=Y)
#   hold MIB DIR MODE NODE          MIB MiB bound to NODE (-1: the task's
#                                   policy), mlocked (MODE lock), pinned too
#                                   (pin) or neither (nolock), filled with a
#                                   pattern: DIR/ready "pid pages-per-node";
#                                   on DIR/release (or SIGTERM) checked:
#                                   DIR/done "intact|N-MiB-changed pages"
#   symrange FUNCTION               the text range [start end) of FUNCTION in
#                                   /proc/kallsyms, in decimal (for the fault
#                                   attributes' require-start/require-end)
#   faultattrs                      failslab and fail_page_alloc: GFP_KERNEL
#                                   too, verbose, probability 0, min-order 0
#   stackfilter [FUNCTION]          failslab and fail_page_alloc count (and
#                                   fail) only the points whose stack passes
#                                   through FUNCTION; without it, all again

import errno
import mmap
import os
import random
import signal
import sys
import time

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
ONLINE = [b"online", b"online_kernel", b"online_movable"]
KEYWORDS = ONLINE + [b"unplugged", b"offline"]


def result_name(e):
    return errno.errorcode.get(e, str(e))


def write_once(path, data):
    """One write(2) of data to path: 'ok:N' (bytes accepted) or 'EXXX'."""
    fd = os.open(path, os.O_WRONLY)
    try:
        n = os.write(fd, data)
        return f"ok:{n}"
    except OSError as e:
        return result_name(e.errno)
    finally:
        os.close(fd)


def parse(data):
    """What kmem.c's state_store parses data as: a keyword, or None.

    kernfs hands the store at most PAGE_SIZE bytes, NUL-terminated; the
    string ends at the first NUL; sysfs_streq() allows one trailing newline.
    """
    s = data[:PAGE_SIZE].split(b"\0", 1)[0]
    for w in KEYWORDS:
        if s == w or s == w + b"\n":
            return w
    return None


def expect(data, state):
    """(result, new state) of writing data in state, per kmem.c.

    None for writes that would change the state (not hostile input)."""
    if not data:
        return ("ok:0", state)
    n = min(len(data), PAGE_SIZE)
    w = parse(data)
    if w is None or w == b"offline":
        return ("EINVAL", state)
    if w == state:
        return (f"ok:{n}", state)
    if w in ONLINE and state in ONLINE:
        return ("EBUSY", state)
    return None


def read_state(path):
    with open(path, "rb") as f:
        return f.read().strip()


FIXED = [
    ("empty", b""),
    ("space", b" "),
    ("whitespace", b" \t\n"),
    ("newline", b"\n"),
    ("offline", b"offline\n"),
    ("offline without newline", b"offline"),
    ("two newlines", b"online\n\n"),
    ("leading space", b" online_movable\n"),
    ("trailing space", b"online_movable \n"),
    ("CRLF", b"online_movable\r\n"),
    ("upper case", b"ONLINE_MOVABLE\n"),
    ("prefix", b"online_mov\n"),
    ("4 KiB junk", b"x" * 4096),
    ("4 KiB + 1 junk", b"y" * 4097),
    ("embedded NUL after keyword", b"online_movable\0junk"),
    ("embedded NUL first", b"\0online_movable"),
    ("high bytes", bytes(range(0x80, 0x100))),
    ("unplug", b"unplug\n"),
]


def corpus_fixed(path):
    st = read_state(path)
    rc = 0
    for name, data in FIXED:
        want = expect(data, st)
        if want is None:
            print(f"# {name}: changes state {st.decode()}, not hostile here; skipped")
            continue
        got = write_once(path, data)
        after = read_state(path)
        ok = got == want[0] and after == want[1]
        print(f"{'PASS' if ok else 'FAIL'} hostile '{name}' in {st.decode()}: "
              f"{got}, state {after.decode()}"
              + ("" if ok else f" (want {want[0]}, state {want[1].decode()})"))
        rc |= not ok
    return rc


def generate(rng):
    """One generated write and its class."""
    r = rng.random()
    if r < 0.25:
        n = rng.randint(1, 64)
        return "random-bytes", bytes(rng.getrandbits(8) for _ in range(n))
    if r < 0.45:
        n = rng.randint(1, 32)
        return "printable", bytes(rng.randint(0x20, 0x7e) for _ in range(n))
    if r < 0.90:
        w = bytearray(rng.choice(KEYWORDS))
        for _ in range(rng.randint(1, 3)):
            m = rng.randrange(8)
            i = rng.randrange(len(w) + 1)
            if m == 0 and w:
                del w[min(i, len(w) - 1)]
            elif m == 1:
                w.insert(i, rng.getrandbits(8))
            elif m == 2 and w:
                w[min(i, len(w) - 1)] = rng.randint(0x20, 0x7e)
            elif m == 3:
                w = bytearray(w.swapcase())
            elif m == 4:
                w[i:i] = rng.choice([b" ", b"\t", b"\n", b"\r", b"\n\n"])
            elif m == 5:
                w += b"\0" + bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 8)))
            elif m == 6:
                w += b"\n"
            else:
                w = w[: rng.randint(0, len(w))]
        return "mutated-keyword", bytes(w)
    if r < 0.98:
        n = rng.randint(65, PAGE_SIZE)
        return "long", bytes(rng.getrandbits(8) for _ in range(n))
    n = rng.randint(PAGE_SIZE + 1, 2 * PAGE_SIZE)
    return "oversize", bytes([rng.randint(0x21, 0x7e)]) * n


def corpus_random(path, seed, count):
    rng = random.Random(seed)
    st = read_state(path)
    stats = {}
    bad = []
    excluded = 0
    done = 0
    t0 = time.monotonic()
    while done < count:
        cls, data = generate(rng)
        want = expect(data, st)
        if want is None:
            excluded += 1
            continue
        got = write_once(path, data)
        after = read_state(path)
        done += 1
        key = (cls, got.split(":")[0] if got.startswith("ok") else got)
        stats[key] = stats.get(key, 0) + 1
        if got != want[0] or after != want[1]:
            bad.append(f"{cls} {data[:40]!r}... ({len(data)} bytes): {got}, state "
                       f"{after.decode()} (want {want[0]}, state {want[1].decode()})")
            if after != st:
                break
    for (cls, res), n in sorted(stats.items()):
        print(f"# generated {cls}: {res} x{n}")
    for b in bad[:10]:
        print(f"# MISMATCH {b}")
    summary = ", ".join(f"{r} x{n}" for r, n in sorted(
        {r: sum(v for (c, rr), v in stats.items() if rr == r)
         for (_, r) in stats}.items()))
    ok = not bad and done == count
    print(f"{'PASS' if ok else 'FAIL'} generated corpus: {done} writes (seed {seed}, "
          f"{excluded} state-changing inputs not sent) in {st.decode()}: {summary}; "
          f"{len(bad)} unexpected; {time.monotonic() - t0:.0f}s")
    return 0 if ok else 1


def failnth(path, value, n):
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as e:
        # Nothing to inject into (e.g. no state attribute: not bound).
        print(result_name(e.errno), "clean")
        return 0
    ctl = os.open("/proc/thread-self/fail-nth", os.O_RDWR)
    os.write(ctl, str(n).encode())
    try:
        os.write(fd, value)
        res = "ok"
    except OSError as e:
        res = result_name(e.errno)
    try:
        left = int(os.pread(ctl, 32, 0).strip() or b"1")
    except OSError:
        # The read itself took the failure: the write had not.
        left = 1
    os.write(ctl, b"0")
    os.close(ctl)
    os.close(fd)
    print(res, "injected" if left == 0 else "clean")
    return 0


def filtered(path, value):
    """One write with this task's make-it-fail set: the debugfs fault
    attributes with task-filter=Y fail only this task's allocations, and
    only around the write."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as e:
        print(result_name(e.errno))
        return 0
    ctl = os.open("/proc/thread-self/make-it-fail", os.O_WRONLY)
    os.write(ctl, b"1")
    try:
        os.write(fd, value)
        res = "ok"
    except OSError as e:
        res = result_name(e.errno)
    os.write(ctl, b"0")
    os.close(ctl)
    os.close(fd)
    print(res)
    return 0


MPOL_BIND = 2


def node_pages(addr):
    """The pages of the mapping at addr on each node, as "N0=12 N1=3"."""
    nodes = {}
    with open(f"/proc/{os.getpid()}/numa_maps") as f:
        for ln in f:
            if not ln.startswith(f"{addr:x} "):
                continue
            for tok in ln.split():
                if tok[0] == "N" and "=" in tok:
                    k, v = tok.split("=")
                    nodes[k] = nodes.get(k, 0) + int(v)
    return " ".join(f"{k}={v}" for k, v in sorted(nodes.items())) or "none"


def hold(mib, d, mode, node):
    """MIB MiB of anonymous memory, mbind()'d to NODE (if not -1) before it
    is touched, mlocked unless MODE is "nolock", pinned by vmsplice if MODE
    is "pin", filled with a pattern that differs in every MiB (so that a
    page that moved to a wrong place shows). DIR/ready says the pid and the
    pages per node; on DIR/release (or SIGTERM), DIR/done says whether the
    pattern is intact and the pages per node then."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    size = mib << 20
    buf = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    if node >= 0:
        mask = ctypes.c_ulong(1 << node)
        libc.syscall.restype = ctypes.c_long
        nr_mbind = 237  # x86-64
        if libc.syscall(nr_mbind, ctypes.c_void_p(addr), ctypes.c_size_t(size), MPOL_BIND,
                        ctypes.byref(mask), ctypes.c_ulong(64), 0) != 0:
            print(f"FAIL mbind to node {node}: errno {ctypes.get_errno()}")
            return 1
    if mode != "nolock" and libc.mlock(ctypes.c_void_p(addr), ctypes.c_size_t(size)) != 0:
        print(f"FAIL mlock {mib} MiB: errno {ctypes.get_errno()}")
        return 1
    chunk = random.Random(1).randbytes(1 << 20)

    def pattern(i):
        k = (i * 4099) % len(chunk)
        return chunk[k:] + chunk[:k]

    for i in range(mib):
        buf[i << 20:(i + 1) << 20] = pattern(i)
    pipes = []
    if mode == "pin":
        # vmsplice takes page references that only the pipe's reader (none
        # here) drops: migration cannot move those pages while they are held.
        class Iovec(ctypes.Structure):
            _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
        libc.vmsplice.restype = ctypes.c_ssize_t
        for off in range(0, size, 1 << 20):
            r, w = os.pipe()
            iov = Iovec(addr + off, 65536)
            if libc.vmsplice(w, ctypes.byref(iov), 1, 0) != 65536:
                print(f"FAIL vmsplice: errno {ctypes.get_errno()}")
                return 1
            pipes.append((r, w))
    # Whole or not at all: the caller polls for the file and reads it.
    with open(os.path.join(d, "ready.tmp"), "w") as f:
        f.write(f"{os.getpid()} {node_pages(addr)}\n")
    os.rename(os.path.join(d, "ready.tmp"), os.path.join(d, "ready"))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop and not os.path.exists(os.path.join(d, "release")):
        time.sleep(0.2)
    for r, w in pipes:
        os.close(r)
        os.close(w)
    bad = sum(1 for i in range(mib) if buf[i << 20:(i + 1) << 20] != pattern(i))
    with open(os.path.join(d, "done"), "w") as f:
        f.write(f"{'intact' if bad == 0 else f'{bad}-MiB-changed'} {node_pages(addr)}\n")
    return 0 if bad == 0 else 1


def text_range(name):
    """FUNCTION's text from its kallsyms address to the next symbol's, as
    (start, end); None, said on stderr, when it cannot be found."""
    addrs = []
    start = []
    with open("/proc/kallsyms") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 3:
                continue
            a = int(fields[0], 16)
            addrs.append(a)
            if fields[2] == name and fields[1] in "tT":
                start.append(a)
    if len(start) != 1 or start[0] == 0:
        why = "hidden addresses (kptr_restrict)" if start == [0] else f"{len(start)} text symbols"
        print(f"{name}: {why} in /proc/kallsyms, want exactly one", file=sys.stderr)
        return None
    end = min((a for a in addrs if a > start[0]), default=0)
    if end == 0:
        print(f"{name}: no symbol after it in /proc/kallsyms", file=sys.stderr)
        return None
    return start[0], end


def symrange(name):
    r = text_range(name)
    if r is None:
        return 1
    print(r[0], r[1])
    return 0


def faultattrs():
    """Both fault attributes fail GFP_KERNEL allocations too (the default
    spares any that may sleep), say each injected failure in one line, and
    inject nothing until a test asks (probability 0); fail_page_alloc
    fails order-0 pages too."""
    for path, v in [(f"/sys/kernel/debug/{a}/{f}", v)
                    for a in ("failslab", "fail_page_alloc")
                    for f, v in (("ignore-gfp-wait", "N"), ("verbose", "1"), ("probability", "0"))] + \
                   [("/sys/kernel/debug/fail_page_alloc/min-order", "0")]:
        try:
            with open(path, "w") as fh:
                fh.write(v)
        except OSError as e:
            print(f"{path}: {e.strerror}", file=sys.stderr)
            return 1
    return 0


def stackfilter(name):
    """Both fault attributes count, and fail, only the points whose stack
    passes through FUNCTION; without it, every point again."""
    start, end = 0, 2**64 - 1
    if name:
        r = text_range(name)
        if r is None:
            return 1
        start, end = r
    for attr in ("failslab", "fail_page_alloc"):
        for f, v in (("stacktrace-depth", 32), ("require-start", start), ("require-end", end)):
            try:
                with open(f"/sys/kernel/debug/{attr}/{f}", "w") as fh:
                    fh.write(str(v))
            except OSError as e:
                print(f"{attr}/{f}: {e.strerror}", file=sys.stderr)
                return 1
    return 0


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "corpus" and argv[2] == "fixed":
        return corpus_fixed(argv[3])
    if cmd == "corpus" and argv[2] == "random":
        return corpus_random(argv[3], int(argv[4]), int(argv[5]))
    if cmd == "failnth":
        return failnth(argv[2], argv[3].encode(), int(argv[4]))
    if cmd == "filtered":
        return filtered(argv[2], argv[3].encode())
    if cmd == "symrange":
        return symrange(argv[2])
    if cmd == "faultattrs":
        return faultattrs()
    if cmd == "stackfilter":
        return stackfilter(argv[2] if len(argv) > 2 else "")
    if cmd == "hold":
        return hold(int(argv[2]), argv[3], argv[4], int(argv[5]))
    print(__doc__ or "usage: see the header", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
