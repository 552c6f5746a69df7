#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# kmem-rs guest side of `cargo kmem bench`: times the kmem hotplug operations
# on dax0.0 for the C and the Rust kmem.ko, alternating them (ABAB...), and
# the core's own per-block onlining as a reference. Runs inside the VM, after
# `kmem-rs-guest.sh exec 1` has loaded one kmem.ko and created dax0.0 (devdax).
#
#   kmem-rs-bench.py --out DIR --c C.ko --rust RUST.ko [--pairs N]
#                    [--warmup N] [--ref-reps N] [--memmap 0,1] [--order c,rust]
#                    [--clock icount|wall] [--dax NAME]
#
# One JSON object per line in DIR/bench.jsonl: the guest's facts, then one
# record per timed iteration. Times are CLOCK_MONOTONIC nanoseconds around the
# single write(2) that triggers each operation, taken in this one process so
# no fork or exec is timed. Beside each time: the writer's own CPU time
# (CLOCK_THREAD_CPUTIME_ID) and how often it slept (voluntary context
# switches), so that waits show apart from work.
#
# Under QEMU's -icount shift=0 (--clock icount) guest time advances by one
# nanosecond per instruction executed, and only by executed instructions
# while a CPU runs: a time is then an instruction count. With sleep=off, a
# wait with every CPU idle jumps the clock to the next timer instead, which
# is why waits are reported apart. The guest facts record the clocksource and
# a fixed busy loop timed several times, which repeats to a few parts in
# 10,000 only when the clock follows icount.

import argparse
import json
import os
import resource
import subprocess
import sys
import time

DAX = "dax0.0"  # --dax
DAX_DEV = f"/sys/bus/dax/devices/{DAX}"
CLOCKSOURCE = "/sys/devices/system/clocksource/clocksource0/current_clocksource"
# Iterations of the busy loop timed to check the clock, and how many times.
CALIBRATION_LOOP = 200_000
CALIBRATION_REPS = 5
DRIVERS = "/sys/bus/dax/drivers"
MEM = "/sys/devices/system/memory"
AOB = f"{MEM}/auto_online_blocks"
NODES = "/sys/devices/system/node"
MEMMAP_PARAM = "/sys/module/memory_hotplug/parameters/memmap_on_memory"


class BenchError(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def read(path):
    with open(path) as f:
        return f.read().strip()


def write(path, value):
    """One write(2) of value, as `echo -n value > path` would do."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    except OSError as e:
        raise BenchError(f"write '{value}' > {path}: {e.strerror}") from None
    finally:
        os.close(fd)


class Timing:
    """One timed write(2): CLOCK_MONOTONIC before and after, the writer
    thread's CPU time, and the voluntary context switches (sleeps) in it."""

    def __init__(self, t0, t1, cpu_ns, waits):
        self.t0, self.t1, self.cpu_ns, self.waits = t0, t1, cpu_ns, waits

    @property
    def ns(self):
        return self.t1 - self.t0


def sleeps():
    return resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw


# What timed_write()'s own clock reads add to the CPU time of an empty
# write: the two CLOCK_THREAD_CPUTIME_ID reads are system calls. Measured
# once (bracket_overhead()) and taken off every CPU time.
CPU_OVERHEAD = 0


def bracket_overhead(reps=9):
    """Median CPU time and elapsed time of timed_write()'s brackets around
    nothing."""
    cpu, mono = [], []
    for _ in range(reps):
        sleeps()  # as timed_write() does, outside its CPU bracket
        c0 = time.clock_gettime_ns(time.CLOCK_THREAD_CPUTIME_ID)
        t0 = time.monotonic_ns()
        t1 = time.monotonic_ns()
        c1 = time.clock_gettime_ns(time.CLOCK_THREAD_CPUTIME_ID)
        sleeps()
        cpu.append(c1 - c0)
        mono.append(t1 - t0)
    return sorted(cpu)[reps // 2], sorted(mono)[reps // 2]


def timed_write(path, value):
    """write() with only the write(2) itself timed: open(2) and its path
    lookup come before the clock starts."""
    fd = os.open(path, os.O_WRONLY)
    data = value.encode()
    try:
        w0 = sleeps()
        c0 = time.clock_gettime_ns(time.CLOCK_THREAD_CPUTIME_ID)
        t0 = time.monotonic_ns()
        os.write(fd, data)
        t1 = time.monotonic_ns()
        c1 = time.clock_gettime_ns(time.CLOCK_THREAD_CPUTIME_ID)
        w1 = sleeps()
    except OSError as e:
        raise BenchError(f"write '{value}' > {path}: {e.strerror}") from None
    finally:
        os.close(fd)
    return Timing(t0, t1, c1 - c0 - CPU_OVERHEAD, w1 - w0)


def record(rec, op, t, ns=None):
    """Put the timing t of op in rec: op_ns, op_cpu_ns, op_waits."""
    rec[f"{op}_ns"] = t.ns if ns is None else ns
    rec[f"{op}_cpu_ns"] = t.cpu_ns
    rec[f"{op}_waits"] = t.waits


def calibration():
    """Times a fixed busy loop CALIBRATION_REPS times (ns each)."""
    out = []
    for _ in range(CALIBRATION_REPS):
        t0 = time.monotonic_ns()
        n = 0
        for i in range(CALIBRATION_LOOP):
            n += i
        out.append(time.monotonic_ns() - t0)
    return out


def sh(*argv):
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        raise BenchError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def dax_driver():
    try:
        return os.path.basename(os.readlink(f"{DAX_DEV}/driver"))
    except OSError:
        return "none"


def block_size():
    return int(read(f"{MEM}/block_size_bytes"), 16)


def kmem_ranges():
    """(start, end) inclusive of each "System RAM (kmem)" under dax0.0 in /proc/iomem."""
    out, inside, pind = [], False, 0
    with open("/proc/iomem") as f:
        for line in f:
            line = line.rstrip("\n")
            ind = len(line) - len(line.lstrip(" "))
            rng, _, name = line.strip().partition(" : ")
            if inside and ind <= pind:
                inside = False
            if inside and name == "System RAM (kmem)":
                s, e = rng.split("-")
                out.append((int(s, 16), int(e, 16)))
            if name == DAX:
                inside, pind = True, ind
    return out


def dax_ranges():
    """The device's physical ranges, [start, end) each: its mappingN
    directories (a dynamic region's device), else resource and size (a
    static region's one range)."""
    maps = sorted((d for d in os.listdir(DAX_DEV)
                   if d.startswith("mapping") and d[7:].isdigit()),
                  key=lambda d: int(d[7:]))
    if maps:
        return [(int(read(f"{DAX_DEV}/{m}/start"), 16),
                 int(read(f"{DAX_DEV}/{m}/end"), 16) + 1) for m in maps]
    start = int(read(f"{DAX_DEV}/resource"), 16)
    return [(start, start + int(read(f"{DAX_DEV}/size")))]


def device_blocks():
    """The memoryN blocks the device spans once added: the whole blocks
    inside each of its ranges, as kmem aligns them."""
    bs = block_size()
    out = []
    for start, end in dax_ranges():
        first = (start + bs - 1) // bs
        last = end // bs  # exclusive
        out.extend(f"memory{i}" for i in range(first, last))
    return out


def count_online(blocks):
    n = 0
    for b in blocks:
        try:
            if read(f"{MEM}/{b}/state") == "online":
                n += 1
        except OSError:
            pass
    return n


def count_present(blocks):
    return sum(os.path.exists(f"{MEM}/{b}") for b in blocks)


def meminfo():
    """System-wide /proc/meminfo (kB) and per-node MemTotal/MemFree (kB)."""
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            if k in ("MemTotal", "MemFree", "MemAvailable", "Cached", "Buffers"):
                info[k] = int(v.split()[0])
    nodes = {}
    for d in sorted(os.listdir(NODES)):
        if not (d.startswith("node") and d[4:].isdigit()):
            continue
        n = {}
        with open(f"{NODES}/{d}/meminfo") as f:
            for line in f:
                parts = line.split()
                if parts[2].rstrip(":") in ("MemTotal", "MemFree"):
                    n[parts[2].rstrip(":")] = int(parts[3])
        nodes[d] = n
    info["nodes"] = nodes
    return info


def settle():
    """Quiet page cache and slab before a MemAvailable snapshot."""
    os.sync()
    write("/proc/sys/vm/drop_caches", "3")


loaded = None  # path of the kmem.ko this script loaded last


def load(module):
    """rmmod whatever kmem is loaded, then insmod module."""
    global loaded
    if os.path.exists("/sys/module/kmem"):
        sh("rmmod", "kmem")
    sh("insmod", module)
    loaded = module


def to_device_dax():
    """dax0.0 back on device_dax (from kmem, or unbound)."""
    drv = dax_driver()
    if drv == "device_dax":
        return
    if drv != "none":
        write(f"{DRIVERS}/{drv}/unbind", DAX)
    try:
        write(f"{DRIVERS}/device_dax/bind", DAX)
    except BenchError:
        # A device of the kmem type (a CXL region's) matches device_dax only
        # by id: new_id adds it and attaches at once.
        write(f"{DRIVERS}/device_dax/new_id", DAX)
    if dax_driver() != "device_dax":
        raise BenchError(f"{DAX} did not go back to device_dax (driver {dax_driver()})")


def make_ranges(spec):
    """Gives the (empty) device the ranges of spec, "OFF:SIZE,..." in MiB
    from the start of its region's free space, through `mapping`."""
    drv = dax_driver()
    if drv != "none":
        write(f"{DRIVERS}/{drv}/unbind", DAX)
    expect(read(f"{DAX_DEV}/size") == "0", f"{DAX} is not empty: cannot give it ranges")
    # Where the region's free space starts: where a first allocation lands.
    write(f"{DAX_DEV}/size", str(block_size()))
    base = int(read(f"{DAX_DEV}/mapping0/start"), 16)
    write(f"{DAX_DEV}/size", "0")
    for part in spec.split(","):
        off, size = (int(x) << 20 for x in part.split(":"))
        write(f"{DAX_DEV}/mapping", f"{base + off:#x}-{base + off + size - 1:#x}")
    n = len(spec.split(","))
    expect(len(dax_ranges()) == n, f"{DAX} has {len(dax_ranges())} ranges, want {n}")
    to_device_dax()


def bind_kmem(policy):
    """Unbind from device_dax, set the online policy, and bind to kmem (timed).

    kmem matches a pmem dax device only by id, so the bind is a write to
    kmem/new_id: the driver core probes at once, in that write."""
    write(f"{DRIVERS}/device_dax/unbind", DAX)
    write(AOB, policy)
    return timed_write(f"{DRIVERS}/kmem/new_id", DAX)


def wait_online(blocks, t, limit_s=120):
    """Time until every block is online: the write's if they all are when it
    returns (kmem's probe onlines synchronously), else the first poll that
    sees them all."""
    if count_online(blocks) == len(blocks):
        return t.ns
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if count_online(blocks) == len(blocks):
            return time.monotonic_ns() - t.t0
        time.sleep(0.001)
    raise BenchError(f"only {count_online(blocks)} of {len(blocks)} blocks online after {limit_s}s")


def expect(cond, what):
    if not cond:
        raise BenchError(what)


def iteration(module, driver, memmap, blocks):
    """One timed round: bind (online_movable), unplugged, online_movable, unbind."""
    rec = {"kind": "op", "driver": driver, "memmap": memmap}
    load(module)
    write(f"{DAX_DEV}/memmap_on_memory", str(memmap))
    expect(read(f"{DAX_DEV}/memmap_on_memory") == str(memmap), "memmap_on_memory did not stick")
    settle()
    rec["mem_before"] = meminfo()
    t = bind_kmem("online_movable")
    record(rec, "bind", t, wait_online(blocks, t))
    expect(dax_driver() == "kmem", f"{DAX} not bound to kmem after new_id")
    state = read(f"{DAX_DEV}/state")
    expect(state == "online_movable", f"state {state} after bind, want online_movable")
    rec["kmem_bytes"] = sum(e - s + 1 for s, e in kmem_ranges())
    settle()
    rec["mem_online"] = meminfo()

    record(rec, "unplug", timed_write(f"{DAX_DEV}/state", "unplugged"))
    expect(count_present(blocks) == 0, f"{count_present(blocks)} blocks still present after unplugged")
    expect(not kmem_ranges(), "System RAM (kmem) left after unplugged")

    t = timed_write(f"{DAX_DEV}/state", "online_movable")
    record(rec, "online", t, wait_online(blocks, t))

    write(f"{DAX_DEV}/state", "unplugged")  # unbind while online would leak
    record(rec, "unbind", timed_write(f"{DRIVERS}/kmem/unbind", DAX))
    expect(dax_driver() == "none", f"{DAX} still bound to {dax_driver()} after unbind")

    # The same unbind again in this load of the module: under TCG, code that
    # runs for the first time since insmod is translated first, and the
    # first unbind pays that for the driver's whole remove path. The second
    # one shows the driver's own cost without it.
    write(f"{DRIVERS}/kmem/bind", DAX)
    expect(dax_driver() == "kmem", f"{DAX} not bound to kmem after bind")
    write(f"{DAX_DEV}/state", "unplugged")
    record(rec, "unbind_warm", timed_write(f"{DRIVERS}/kmem/unbind", DAX))
    expect(dax_driver() == "none", f"{DAX} still bound to {dax_driver()} after the second unbind")
    to_device_dax()
    settle()
    rec["mem_after"] = meminfo()
    expect(rec["mem_after"]["MemTotal"] == rec["mem_before"]["MemTotal"],
           "MemTotal did not come back after unbind")
    return rec


TRACING = "/sys/kernel/tracing"
# Where each traced operation enters the kernel's common code, and how deep
# its function graph goes (0: all the way).
TRACE_POINTS = {
    "bind": ("really_probe", 6),
    "unplug": ("dev_attr_store", 6),
    "online": ("dev_attr_store", 6),
    "unbind": ("device_release_driver_internal", 0),
}


def tracer_setup(entry, depth):
    """Function graph from `entry` down to `depth` for this process only,
    with its sleeps (sched_switch away from it, with the stack)."""
    if not os.path.exists(f"{TRACING}/trace"):
        sh("mount", "-t", "tracefs", "nodev", TRACING)
    write(f"{TRACING}/tracing_on", "0")
    write(f"{TRACING}/current_tracer", "nop")
    write(f"{TRACING}/trace", "")
    write(f"{TRACING}/buffer_size_kb", "16384")
    write(f"{TRACING}/set_ftrace_pid", str(os.getpid()))
    write(f"{TRACING}/set_graph_function", entry)
    write(f"{TRACING}/max_graph_depth", str(depth))
    write(f"{TRACING}/events/sched/sched_switch/filter", f"prev_pid == {os.getpid()}")
    write(f"{TRACING}/events/sched/sched_switch/trigger", "stacktrace")
    write(f"{TRACING}/events/sched/sched_switch/enable", "1")
    write(f"{TRACING}/current_tracer", "function_graph")


def tracer_collect(path):
    write(f"{TRACING}/tracing_on", "0")
    with open(f"{TRACING}/trace") as f, open(path, "w") as out:
        out.write(f.read())
    write(f"{TRACING}/events/sched/sched_switch/enable", "0")
    try:
        write(f"{TRACING}/events/sched/sched_switch/trigger", "!stacktrace")
    except BenchError:
        pass
    write(f"{TRACING}/current_tracer", "nop")


def traced(op, outdir, driver, fn):
    """Runs fn (one timed write) with the tracer on; keeps the trace."""
    entry, depth = TRACE_POINTS[op]
    tracer_setup(entry, depth)
    write(f"{TRACING}/tracing_on", "1")
    t = fn()
    tracer_collect(os.path.join(outdir, f"{op}-{driver}.txt"))
    log(f"trace {op} {driver}: {t.ns} ns, {t.waits} sleeps -> {op}-{driver}.txt")


def trace_round(module, driver, blocks, outdir):
    """One round of the timed operations, each traced on its own."""
    load(module)
    write(f"{DAX_DEV}/memmap_on_memory", "0")
    write(f"{DRIVERS}/device_dax/unbind", DAX)
    write(AOB, "online_movable")
    traced("bind", outdir, driver, lambda: timed_write(f"{DRIVERS}/kmem/new_id", DAX))
    expect(count_online(blocks) == len(blocks), "bind left blocks offline")
    traced("unplug", outdir, driver, lambda: timed_write(f"{DAX_DEV}/state", "unplugged"))
    traced("online", outdir, driver, lambda: timed_write(f"{DAX_DEV}/state", "online_movable"))
    write(f"{DAX_DEV}/state", "unplugged")
    traced("unbind", outdir, driver, lambda: timed_write(f"{DRIVERS}/kmem/unbind", DAX))
    to_device_dax()


def reference(module, driver, memmap, blocks):
    """Core only: bind with policy offline (kmem adds the memory, onlines
    nothing), then online and offline each memoryN by its state file."""
    rec = {"kind": "ref", "driver": driver, "memmap": memmap}
    load(module)
    write(f"{DAX_DEV}/memmap_on_memory", str(memmap))
    rec["add_ns"] = bind_kmem("offline").ns
    expect(count_present(blocks) == len(blocks) and count_online(blocks) == 0,
           "bind with policy offline did not add every block offline")
    per_block = []
    for b in blocks:
        per_block.append(timed_write(f"{MEM}/{b}/state", "online_movable").ns)
    rec["block_online_ns"] = per_block
    rec["online_ns"] = sum(per_block)
    expect(count_online(blocks) == len(blocks), "per-block online left blocks offline")
    per_block = []
    for b in blocks:
        per_block.append(timed_write(f"{MEM}/{b}/state", "offline").ns)
    rec["block_offline_ns"] = per_block
    rec["offline_ns"] = sum(per_block)
    expect(count_online(blocks) == 0, "per-block offline left blocks online")
    # The blocks are offline, so unbind removes them (remove_memory()).
    rec["remove_ns"] = timed_write(f"{DRIVERS}/kmem/unbind", DAX).ns
    expect(count_present(blocks) == 0, "unbind did not remove the offline blocks")
    to_device_dax()
    return rec


def main():
    global DAX, DAX_DEV, CPU_OVERHEAD
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--c", required=True)
    ap.add_argument("--rust", required=True)
    ap.add_argument("--pairs", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--ref-reps", type=int, default=2)
    ap.add_argument("--memmap", default="0,1")
    ap.add_argument("--order", default="c,rust", help="which driver goes first in each pair")
    ap.add_argument("--clock", default="wall", choices=["icount", "wall"],
                    help="what the host says QEMU's clock is")
    ap.add_argument("--dax", default=DAX, help="the dax device to hotplug")
    ap.add_argument("--trace", action="store_true",
                    help="instead of the rounds, trace each operation once per driver "
                    "(a kernel with function-graph tracing: the trace config variant)")
    ap.add_argument("--make-ranges", default="",
                    help="OFF:SIZE,... in MiB: first give the empty device these ranges")
    a = ap.parse_args()
    DAX, DAX_DEV = a.dax, f"/sys/bus/dax/devices/{a.dax}"
    out = open(os.path.join(a.out, "bench.jsonl"), "w")

    def emit(rec):
        out.write(json.dumps(rec) + "\n")
        out.flush()

    paths = {"c": a.c, "rust": a.rust}
    order = a.order.split(",")
    expect(sorted(order) == ["c", "rust"], f"--order {a.order}: want c,rust or rust,c")
    modules = [(d, paths[d]) for d in order]
    try:
        if a.make_ranges:
            make_ranges(a.make_ranges)
        elif dax_driver() == "kmem":
            # A device of the kmem type (HMEM, CXL) that kmem took when the
            # harness loaded it: its memory back out, then to device_dax.
            write(f"{DAX_DEV}/state", "unplugged")
            to_device_dax()
    except BenchError as e:
        log(f"kmem-rs-bench: {e}")
        return 1
    expect(dax_driver() == "device_dax", f"{DAX} is on {dax_driver()}, want device_dax")
    blocks = device_blocks()
    expect(blocks, f"{DAX} spans no whole memory block")
    aob0 = read(AOB)
    CPU_OVERHEAD, mono_overhead = bracket_overhead()
    facts = {
        "cpu_overhead_ns": CPU_OVERHEAD,
        "monotonic_overhead_ns": mono_overhead,
        "kind": "guest",
        "uname": os.uname().release,
        "cmdline": read("/proc/cmdline"),
        "dax_size": int(read(f"{DAX_DEV}/size")),
        "target_node": int(read(f"{DAX_DEV}/target_node")),
        "block_size": block_size(),
        "blocks": len(blocks),
        "memmap_param": read(MEMMAP_PARAM),
        "order": order,
        "nproc": os.cpu_count(),
        "mem": meminfo(),
        "clock": a.clock,
        "clocksource": read(CLOCKSOURCE),
        "calibration_loop": CALIBRATION_LOOP,
        "calibration_ns": calibration(),
        "ranges": dax_ranges(),
    }
    emit(facts)
    log(f"# {DAX}: {facts['dax_size'] >> 20} MiB in {len(facts['ranges'])} range(s), "
        f"{len(blocks)} blocks of {facts['block_size'] >> 20} MiB on node "
        f"{facts['target_node']}; memmap_on_memory={facts['memmap_param']}")
    cal = facts["calibration_ns"]
    log(f"# clock {a.clock}, clocksource {facts['clocksource']}: busy loop "
        f"{min(cal)}-{max(cal)} ns ({(max(cal) - min(cal)) / min(cal):.2%} spread)")
    memmaps = [int(m) for m in a.memmap.split(",") if m != ""]
    if a.trace:
        try:
            # An untraced round first, so that both drivers' code has run once.
            for drv, mod in modules:
                iteration(mod, drv, 0, blocks)
            for drv, mod in modules:
                trace_round(mod, drv, blocks, a.out)
        except BenchError as e:
            log(f"kmem-rs-bench: {e} (driver {loaded})")
            return 1
        log("kmem-rs-bench: done")
        return 0
    try:
        for memmap in memmaps:
            for w in range(a.warmup):
                for drv, mod in modules:
                    rec = iteration(mod, drv, memmap, blocks)
                    rec["warmup"] = True
                    emit(rec)
                    log(f"# warm-up memmap={memmap} {drv}: bind {rec['bind_ns'] / 1e6:.1f} ms")
            for pair in range(a.pairs):
                for drv, mod in modules:
                    rec = iteration(mod, drv, memmap, blocks)
                    rec["pair"] = pair
                    emit(rec)
                    log(f"memmap={memmap} pair {pair + 1}/{a.pairs} {drv:4}: "
                        + " ".join(f"{op} {rec[op + '_ns'] / 1e6:8.1f} ms"
                                   for op in ("bind", "unplug", "online", "unbind",
                                              "unbind_warm")))
            for rep in range(a.ref_reps):
                for drv, mod in modules:
                    rec = reference(mod, drv, memmap, blocks)
                    rec["rep"] = rep
                    emit(rec)
                    log(f"memmap={memmap} reference {rep + 1}/{a.ref_reps} ({drv} bound offline): "
                        f"add {rec['add_ns'] / 1e6:.1f} ms, per-block online "
                        f"{rec['online_ns'] / 1e6:.1f} ms, offline {rec['offline_ns'] / 1e6:.1f} ms, "
                        f"remove {rec['remove_ns'] / 1e6:.1f} ms")
    except BenchError as e:
        log(f"kmem-rs-bench: {e} (driver {loaded})")
        return 1
    finally:
        try:
            write(AOB, aob0)
        except BenchError:
            pass
    log("kmem-rs-bench: done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
