#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fault injection into kmem's probe and state transitions. Every failure
# must leave a consistent device: bound with its memory fully added (and
# fully online for an online state), or unbound/unplugged with nothing left
# in /proc/iomem; and the next bind or transition must succeed.
#
#   - fail-nth (/proc/thread-self/fail-nth): the n-th fault-injection point
#     of the writing task fails, for n = 1, 2, ... until the operation no
#     longer reaches n (every point up to DAX_KMEM_FAULT_DENSE, then n grows
#     by 1/DAX_KMEM_FAULT_GROWTH of itself; GROWTH=0: every point), over
#     probe (bind), unplugged -> online_movable and online_movable ->
#     unplugged;
#   - failslab and fail_page_alloc through debugfs with task-filter=Y (only
#     the test's own write fails), over a sweep of interval, times and space;
#   - memory-notifier-error-inject: MEM_GOING_ONLINE fails onlining at probe
#     and through state, MEM_GOING_OFFLINE fails unplug;
#   - one fail-nth sweep per fix of the core that these sweeps found, counting
#     only the fault points under the function the fix guards (the fault
#     attributes' stacktrace filter): alloc_low_pages() over probe (x86 direct
#     map page tables), __add_pages() over probe (sections added before a
#     failure), __vmap_pages_range_noflush() over online (the KASAN shadow's
#     vmalloc() mapping). On a
#     kernel without the fix each ends in an Oops, a device that cannot be
#     bound again, or a BUG in vmalloc;
#   - the module unloaded and reloaded after each scenario;
#   - kmemleak clean at the end (when the kernel has kmemleak).
#
#   DAX_KMEM_TEST_DEV=daxX.Y        a device in devdax mode whose memory is unused
#   DAX_KMEM_TEST_MODULE=kmem.ko    the module to reload (default: modprobe)
#   DAX_KMEM_TEST_KMEMLEAK=auto     1: must run; 0: not planned; auto: SKIP without
#   DAX_KMEM_FAULT_DENSE=24, DAX_KMEM_FAULT_GROWTH=4
#   DAX_KMEM_FAULT_PARTS=123        which parts run (1 fail-nth, 2 failslab and
#                                   fail_page_alloc, 3 notifier errors, 4 x86
#                                   direct map, 5 __add_pages, 6 KASAN shadow
#                                   vmalloc), e.g. 3 or 456
#   DAX_KMEM_FAULT_SHADOW=0         at most this many points in part 6 (0: until
#                                   the online runs clean)
#
# Needs CONFIG_FAULT_INJECTION_DEBUG_FS, CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC
# and CONFIG_MEMORY_NOTIFIER_ERROR_INJECT; without them the whole test SKIPs.
# Parts 4-6 need CONFIG_FAULT_INJECTION_STACKTRACE_FILTER (and part 6
# CONFIG_KASAN); without it they fail. Part 4 reaches alloc_low_pages() only
# on a device whose direct map needs new page tables (a range no boot-time
# RAM shares a PUD with, e.g. 2 GiB of memmap=2G!4G); else it fails.

# shellcheck disable=SC1091
DIR="$(dirname "$(readlink -f "$0")")"
. "$DIR"/../kselftest/ktap_helpers.sh
. "$DIR"/dax-kmem-lib.sh

HELPER="$DIR/dax-kmem-helper.py"
# shellcheck disable=SC2034 # used by kmem_reload_test (dax-kmem-lib.sh)
KMEM_MODULE=${DAX_KMEM_TEST_MODULE:-}
LEAK=${DAX_KMEM_TEST_KMEMLEAK:-auto}
DENSE=${DAX_KMEM_FAULT_DENSE:-24}
GROWTH=${DAX_KMEM_FAULT_GROWTH:-4}
PARTS=${DAX_KMEM_FAULT_PARTS:-123}
SHADOW=${DAX_KMEM_FAULT_SHADOW:-0}
# part N -- true if part N runs.
part() { [[ "$PARTS" == *"$1"* ]]; }
DBG=/sys/kernel/debug
NEI=$DBG/notifier-error-inject/memory/actions

ktap_print_header

if [ "$UID" != 0 ]; then
	ktap_skip_all "must be run as root"
	exit "$KSFT_SKIP"
fi
DAX=${DAX_KMEM_TEST_DEV:-}
if [ -z "$DAX" ] || [ "$(dax_driver)" != device_dax ]; then
	ktap_skip_all "set DAX_KMEM_TEST_DEV to a daxX.Y in devdax mode (it is hotplugged many times)"
	exit "$KSFT_SKIP"
fi
mountpoint -q "$DBG" || mount -t debugfs none "$DBG"
modprobe memory-notifier-error-inject 2> /dev/null
PYTHON=$(command -v /usr/bin/python3 python3 | head -1)
for need in "$DBG/failslab/task-filter" "$DBG/fail_page_alloc/task-filter" \
	    /proc/self/fail-nth "$NEI/MEM_GOING_ONLINE/error" "$PYTHON"; do
	if [ ! -e "$need" ]; then
		ktap_skip_all "no $need (CONFIG_FAULT_INJECTION_DEBUG_FS, FAILSLAB, FAIL_PAGE_ALLOC, MEMORY_NOTIFIER_ERROR_INJECT, python3)"
		exit "$KSFT_SKIP"
	fi
done
AUTO=$MEM_BASE/auto_online_blocks
AUTO0=$(cat "$AUTO")

plan=0
for p in 1 2 3; do part $p && plan=$((plan + 4)); done
for p in 4 5 6; do part $p && plan=$((plan + 1)); done
if part 4 || part 5 || part 6; then plan=$((plan + 1)); fi
if [ "$plan" = 0 ]; then
	ktap_exit_fail_msg "DAX_KMEM_FAULT_PARTS=$PARTS names none of the parts 1-6"
fi
[ "$PARTS" = 123 ] || ktap_print_msg "parts $PARTS run (DAX_KMEM_FAULT_PARTS; 123 by default)"
[ "$LEAK" = 0 ] || plan=$((plan + 1))
ktap_set_plan "$plan"
kmem_baseline

"$PYTHON" "$HELPER" faultattrs || ktap_exit_fail_msg "cannot set up the fault attributes"

# WRITER: what runs the fail-nth writer (part 6 makes it a real-time task).
WRITER=()

# WEDGED: set when an injected failure left $DAX unbindable (the retry
# without injection failed too); later scenarios are then failed, not run.
WEDGED=""

# wedged_diag -- after such a failure: what the kernel still holds of the
# device's range (memory blocks, /proc/iomem) and its last kernel messages.
wedged_diag() {
	local start size bs b
	start=$(cat "$DAX_BASE/$DAX/resource" 2> /dev/null)
	size=$(cat "$DAX_BASE/$DAX/size" 2> /dev/null)
	bs=$(block_size)
	if [ -n "$start" ] && [ -n "$size" ]; then
		local blocks=""
		for ((b = start / bs; b <= (start + size - 1) / bs; b++)); do
			[ -e "$MEM_BASE/memory$b" ] &&
				blocks+=" memory$b:$(cat "$MEM_BASE/memory$b/state")"
		done
		ktap_print_msg "range $start+$size: memory blocks left:${blocks:- none}"
	fi
	grep -n -i -e "$DAX" -e kmem /proc/iomem | sed 's/^/iomem: /' |
		while IFS= read -r l; do ktap_print_msg "$l"; done
	dmesg | grep -i -e kmem -e dax -e memory -e hotplug -e EEXIST -e duplicate |
		tail -12 | while IFS= read -r l; do ktap_print_msg "dmesg: $l"; done
}

# wedged WHY WHAT -- true if WHY (from settle) says the retry without
# injection failed and $DAX is left unbound: then WEDGED=WHAT, with the
# diagnostics.
wedged() {
	[[ "$1" == "retry without injection"* ]] && [ "$(dax_driver)" != kmem ] || return 1
	WEDGED=$2
	wedged_diag
}

# usable NAME -- true if $DAX can be used; else (wedged, and still not
# bindable) fail NAME's result without running it.
usable() {
	[ -z "$WEDGED" ] && return 0
	[ "$(dax_driver)" = kmem ] || kmem_bind > /dev/null
	[ "$(dax_driver)" = kmem ] && return 0
	ktap_test_fail "$1: not run: $DAX cannot be bound since $WEDGED"
	return 1
}

# --- the operations, their starting points and their recovery ----------------
# start OP -- bring the device to where OP starts: probe: unbound;
# online: bound, unplugged; unplug: bound, online_movable.
start() {
	case "$1" in
	probe)
		[ "$(dax_driver)" = kmem ] && { dax_write "$HP" unplugged; kmem_unbind; } > /dev/null ;;
	online | unplug)
		[ "$(dax_driver)" = kmem ] || kmem_bind > /dev/null
		dax_write "$HP" unplugged > /dev/null
		[ "$1" = online ] || dax_write "$HP" online_movable > /dev/null ;;
	esac
}

# target OP -- the file and value OP writes.
target() {
	case "$1" in
	probe) echo "$KMEM_DRV/bind $DAX" ;;
	online) echo "$HP online_movable" ;;
	unplug) echo "$HP unplugged" ;;
	esac
}

# added_offline NAME -- "" if $DAX is bound with all of its memory added,
# reserved once, and no block online (what the offline state would be),
# whatever its state attribute says; else why not.
added_offline() {
	local why
	[ "$(dax_driver)" = kmem ] || { echo "$1: driver $(dax_driver), want kmem"; return; }
	why=$(kmem_consistent "$MT0" "$RES0" "$TOTAL" offline)
	[ -z "$why" ] || echo "$1: state $(kmem_state), not added and offline: $why"
}

# recover_added_offline -- unplug, then online_movable: "" if both succeed
# and leave $DAX consistent, else why not.
recover_added_offline() {
	local r why
	r=$(dax_write "$HP" unplugged)
	why=$(kmem_check "unplugged")
	[ "$r" = ok ] && [ -z "$why" ] || { echo "unplugged: $r $why"; return; }
	r=$(dax_write "$HP" online_movable)
	why=$(kmem_check "online_movable")
	[ "$r" = ok ] && [ -z "$why" ] || echo "online_movable: $r $why"
}

# settle OP -- after an injected attempt: is the device consistent, and does
# the operation succeed without injection when the attempt failed? Nothing
# when so, else why not.
settle() {
	local why r
	why=$(kmem_check "$1 after injection")
	# A block that failed to go online stays offline and the write still
	# succeeds (see part 3): "#partial" when that is all, and unplug and
	# online recover.
	if [ -n "$why" ] && [ "$1" = online ] && [ "$(dax_driver)" = kmem ] &&
	   [ -z "$(kmem_consistent "$MT0" "$RES0" "$TOTAL" partial)" ]; then
		why=$(recover_added_offline)
		echo "${why:+partial online, then }${why:-#partial}"
		return
	fi
	[ -z "$why" ] || { echo "$why"; return; }
	case "$1/$(dax_driver)/$(kmem_state)" in
	probe/kmem/offline | online/kmem/online_movable | unplug/kmem/unplugged)
		return ;;
	probe/none/- | online/kmem/unplugged | unplug/kmem/online_movable)
		local f v
		read -r f v <<< "$(target "$1")"
		if [ "$1" = probe ]; then r=$(kmem_bind); else r=$(dax_write "$f" "$v"); fi
		why=$(kmem_check "$1 retried")
		[ "$r" = ok ] && [ -z "$why" ] || echo "retry without injection: $r ${why}"
		;;
	*)
		echo "$1: left driver $(dax_driver), state $(kmem_state)" ;;
	esac
}

# attempt OP MODE ARG -- one injected attempt: MODE failnth (ARG = n) or
# filtered (the debugfs attributes are set). Prints "result injected|clean"
# and, on a new line, why the device is not consistent (if it is not).
attempt() {
	local f v res inj why
	start "$1"
	read -r f v <<< "$(target "$1")"
	if [ "$2" = failnth ]; then
		read -r res inj <<< "$("${WRITER[@]}" "$PYTHON" "$HELPER" failnth "$f" "$v" "$3")"
	else
		res=$("$PYTHON" "$HELPER" filtered "$f" "$v")
		inj=-
	fi
	why=$(settle "$1")
	# Some blocks stayed offline, consistently: a result, not a failure.
	[ "$why" = "#partial" ] && { why=""; res+="(partial)"; }
	echo "$res $inj"
	[ -z "$why" ] || echo "$why"
}

# failnth_sweep OP [FUNCTION [CAP]] -- the fail-nth sweep over OP, as one
# KTAP result; with FUNCTION, only the points under it count (stack_filter
# is set), and with CAP, points 1..CAP only (every one must be injected).
failnth_sweep() {
	local op=$1 n=1 points=0 injected=0 fails=0 first="" out res inj why
	local name="fail-nth over $op${2:+ in $2}" cap=${3:-0}
	local -A results=()
	local t0=$SECONDS
	usable "$name" || return
	while [ "$cap" = 0 ] || [ "$n" -le "$cap" ]; do
		out=$(attempt "$op" failnth "$n")
		read -r res inj <<< "$(head -1 <<< "$out")"
		why=$(tail -n +2 <<< "$out")
		points=$((points + 1))
		if [ -n "$why" ]; then
			fails=$((fails + 1))
			[ -n "$first" ] || first="n=$n: $res: $why"
			ktap_print_msg "$name n=$n: $res: $why"
		fi
		if wedged "$why" "$name n=$n ($res)"; then
			ktap_print_msg "$name: $DAX cannot be bound again; sweep stopped"
			break
		fi
		[ "$inj" = injected ] || break
		injected=$((injected + 1))
		results[$res]=$((${results[$res]:-0} + 1))
		if [ "$cap" != 0 ] || [ "$n" -lt "$DENSE" ] || [ "$GROWTH" = 0 ]; then
			n=$((n + 1))
		else
			n=$((n + n / GROWTH))
		fi
	done
	local summary="" k
	for k in "${!results[@]}"; do summary+=" $k x${results[$k]}"; done
	if [ "$cap" != 0 ] && [ "$injected" = "$cap" ]; then
		ktap_print_msg "$name: points 1-$cap injected; results:$summary"
		if [ "$fails" = 0 ]; then
			ktap_test_pass "$name: points 1-$cap all injected, consistent after each, retry ok ($((SECONDS - t0))s)"
		else
			ktap_test_fail "$name: points 1-$cap, $fails inconsistent; first: ${first:-none}"
		fi
		return
	fi
	ktap_print_msg "$name: the operation reaches $((n - 1))+ points; results of the injected attempts:$summary"
	if [ "$fails" = 0 ] && [ "$injected" -gt 0 ] && [ "$res" = ok ]; then
		ktap_test_pass "$name: $points points ($injected injected, last n=$n ran clean), consistent after each, retry ok ($((SECONDS - t0))s)"
	else
		local want=""
		[ "$cap" = 0 ] || want=" (want points 1-$cap injected)"
		ktap_test_fail "$name: $points points, $injected injected, $fails inconsistent, last result $res; first: ${first:-none}$want"
	fi
}

# stack_filter [FUNCTION] -- both attributes count (and fail) only the fault
# points whose stack passes through FUNCTION; without it, every point again.
stack_filter() { "$PYTHON" "$HELPER" stackfilter "$@"; }

# fix_sweep WHAT FUNCTION OP [CAP] -- the fail-nth sweep over OP in FUNCTION
# (failnth_sweep), named for WHAT, the fix it guards; fails when the stack
# filter or FUNCTION is missing.
fix_sweep() {
	local name="fail-nth over $3 in $2 ($1)"
	if [ ! -e "$DBG/failslab/require-start" ]; then
		ktap_test_fail "$name: no require-start (CONFIG_FAULT_INJECTION_STACKTRACE_FILTER)"
		return
	fi
	if ! stack_filter "$2"; then
		ktap_test_fail "$name: cannot filter on $2 (see above)"
		stack_filter
		return
	fi
	ktap_print_msg "$name: only fault points under $2 count"
	failnth_sweep "$3" "$2 ($1)" "${4:-}"
	stack_filter
}

# attr_sweep ATTR OP SPACES -- ATTR (failslab or fail_page_alloc) with
# task-filter=Y and probability 100, over interval x times x space.
attr_sweep() {
	local attr=$1 op=$2 d=$DBG/$1 points=0 fails=0 hit=0 first="" out res why i t s
	local -A results=()
	local t0=$SECONDS
	usable "$attr over $op" || return
	echo Y > "$d/task-filter"
	echo 100 > "$d/probability"
	for i in 1 7; do
		for t in 1 2; do
			for s in $3; do
				echo "$i" > "$d/interval"
				echo "$t" > "$d/times"
				echo "$s" > "$d/space"
				out=$(attempt "$op" filtered)
				res=$(head -1 <<< "$out" | cut -d' ' -f1)
				why=$(tail -n +2 <<< "$out")
				points=$((points + 1))
				[ "$(cat "$d/times")" -lt "$t" ] && hit=$((hit + 1))
				results[$res]=$((${results[$res]:-0} + 1))
				if [ -n "$why" ]; then
					fails=$((fails + 1))
					[ -n "$first" ] || first="interval $i times $t space $s: $res: $why"
					ktap_print_msg "$attr $op interval $i times $t space $s: $res: $why"
				fi
				[ -n "$WEDGED" ] ||
					wedged "$why" "$attr $op interval $i times $t space $s ($res)"
			done
		done
	done
	echo 0 > "$d/probability"
	echo N > "$d/task-filter"
	local summary="" k
	for k in "${!results[@]}"; do summary+=" $k x${results[$k]}"; done
	if [ "$fails" = 0 ] && [ "$hit" -gt 0 ]; then
		ktap_test_pass "$attr over $op: $points settings of interval/times/space, $hit injected, results:$summary; consistent after each, retry ok ($((SECONDS - t0))s)"
	else
		ktap_test_fail "$attr over $op: $points settings, $hit injected, $fails inconsistent; first: ${first:-none}"
	fi
}

# The core warns on one failure injected below kmem: x86's add_pages()
# does WARN_ON_ONCE() when __add_pages() fails, as it does when an allocation
# under sparse_add_section() fails. On a kernel booted with panic_on_warn
# that would end the sweeps, so parts 1 and 2 run with it off: a WARN still
# reaches the kernel log (and taints the kernel, which the sweeps report),
# and the kmem-rs harness fails the run on any WARN but that one.
POW=/proc/sys/kernel/panic_on_warn
POW0=$(cat "$POW" 2> /dev/null)
TAINT_WARN=$((1 << 9))
# warned -- true if the kernel is tainted by a WARN.
warned() { (($(cat /proc/sys/kernel/tainted) & TAINT_WARN)); }
# sweeps_begin, sweeps_end -- around parts 1 and 2.
sweeps_begin() {
	if [ "$POW0" = 1 ]; then
		echo 0 > "$POW"
		ktap_print_msg "panic_on_warn off for the sweeps; a WARN is still logged"
	fi
	WARNED0=0
	warned && WARNED0=1
}
sweeps_end() {
	[ "$POW0" = 1 ] && echo 1 > "$POW"
	[ "$WARNED0" = 0 ] && warned || return 0
	ktap_print_msg "the sweeps made the kernel WARN:"
	dmesg | grep 'WARNING: ' | head -5 | while IFS= read -r l; do ktap_print_msg "  $l"; done
}

# --- 1. fail-nth ----------------------------------------------------------------
start probe
kmem_bind > /dev/null # the dax bus learns kmem's id: later binds report probe errors
kmem_unbind > /dev/null
if part 1 || part 2; then sweeps_begin; fi
if part 1; then
	failnth_sweep probe
	failnth_sweep online
	failnth_sweep unplug
	start online
	kmem_reload_test "fail-nth sweeps"
fi

# --- 2. failslab, fail_page_alloc with task-filter ---------------------------------
if part 2; then
	attr_sweep failslab probe "0 2048 65536"
	attr_sweep fail_page_alloc online "0 64 4096"
	attr_sweep failslab unplug "0 512 8192"
	start online
	kmem_reload_test "failslab and fail_page_alloc sweeps"
fi
if part 1 || part 2; then sweeps_end; fi

# --- 3. memory notifier errors ----------------------------------------------------
# A failed MEM_GOING_ONLINE does not fail kmem's add: add_memory_resource()
# onlines the new blocks with online_memory_block() and ignores its error,
# so kmem.c (the oracle) reports success and state online_movable while the
# memory is added but offline. added_offline checks exactly that state; the
# way out is unplug (which removes the offline blocks) and online again.

# notifier_case NAME ACTION ERRNO OP RESULT WANT -- with ACTION failing with
# ERRNO, OP must give RESULT (ok, or refused) and leave WANT: driver/state,
# consistent, or "added-offline" (see added_offline); then, without the
# error, the device must recover (OP again, or unplug and online).
notifier_case() {
	local r why st got retry f v
	usable "$1" || return
	start "$4"
	[ "$4" = probe ] && echo online_movable > "$AUTO"
	echo "$3" > "$NEI/$2/error"
	read -r f v <<< "$(target "$4")"
	if [ "$4" = probe ]; then r=$(kmem_bind); else r=$(dax_write "$f" "$v"); fi
	st="$(dax_driver)/$(kmem_state)"
	if [ "$6" = added-offline ]; then
		why=$(added_offline "$1")
		[ -z "$why" ] && got=added-offline || got=$st
	else
		why=$(kmem_check "$1")
		got=$st
	fi
	echo 0 > "$NEI/$2/error"
	if [ "$6" = added-offline ]; then retry=$(recover_added_offline); else retry=$(settle "$4"); fi
	echo "$AUTO0" > "$AUTO"
	local res=refused
	[ "$r" = ok ] && res=ok
	if [ "$res" = "$5" ] && [ "$got" = "$6" ] && [ -z "$why" ] && [ -z "$retry" ]; then
		[ "$got" = "$st" ] || got="$got ($st)"
		ktap_test_pass "$1: $2 error $3: '$r', left $got, consistent; recovered without the error"
	else
		ktap_test_fail "$1: $2 error $3: '$r' (want $5), left $got (want $6), ${why:-consistent}; recovery: ${retry:-ok}"
	fi
}
if part 3; then
	notifier_case "notifier, online through state" MEM_GOING_ONLINE -12 online ok added-offline
	notifier_case "notifier, unplug" MEM_GOING_OFFLINE -16 unplug refused kmem/online_movable
	notifier_case "notifier, online at probe" MEM_GOING_ONLINE -12 probe ok added-offline
	start online
	kmem_reload_test "notifier errors"
fi

# --- 4-6. the core fixes, one sweep each -------------------------------------------
# Each fails allocations only under the function its fix is in, so that a
# sweep of a few points reaches the failure the wider sweeps above found at
# one n of hundreds, whatever the driver allocates before it (docs of the
# kmem-rs debug lane: findings 4, 2 and 3).
if part 4 || part 5 || part 6; then sweeps_begin; fi
# x86: a page table of the new range's direct map cannot be allocated. Before
# the fix, phys_pmd_init() used the NULL page: an Oops. With it, the add
# fails with ENOMEM and nothing is left; the next bind maps the rest.
part 4 && fix_sweep "x86 direct map fix" alloc_low_pages probe
# mm: a section after the first cannot be added. Before the fix the sections
# added before it stayed in the sparse maps: every later bind failed with
# EEXIST (the device is wedged). With it, they are removed again.
part 5 && fix_sweep "mm __add_pages fix" __add_pages probe
# mm: KASAN's shadow of a block going online cannot be mapped: a page
# table under __vmap_pages_range_noflush(), which only vmalloc() reaches
# while memory goes online (kasan_mem_notifier()), cannot be allocated, and
# __vmalloc_area_node() fails after its area was set up. Before the fix
# that area was queued for a worker to free while kasan_mem_notifier()'s
# MEM_CANCEL_ONLINE vfree()d it too (BUG in mm/vmalloc.c, or KASAN). With
# it, the block stays offline (the partial online of part 1), and unplug,
# then online, recover. Which free comes first is a race: the worker is
# queued on the writer's CPU and, a normal task, runs there as soon as the
# writer yields. The writer is a real-time task on one CPU (throttling off
# for the sweep), so the worker waits until MEM_CANCEL_ONLINE has run, as
# it would on a busy machine.
if part 6 && ! { command -v chrt && command -v taskset; } > /dev/null; then
	ktap_test_fail "fail-nth over online in __vmap_pages_range_noflush (mm vmalloc fix): no chrt or taskset (util-linux)"
elif part 6; then
	RT_RUNTIME=$(cat /proc/sys/kernel/sched_rt_runtime_us)
	echo -1 > /proc/sys/kernel/sched_rt_runtime_us
	WRITER=(chrt -f 10 taskset -c 0)
	fix_sweep "mm vmalloc fix" __vmap_pages_range_noflush online "$SHADOW"
	WRITER=()
	echo "$RT_RUNTIME" > /proc/sys/kernel/sched_rt_runtime_us
fi
if part 4 || part 5 || part 6; then
	sweeps_end
	start online
	kmem_reload_test "the fixes' sweeps"
fi

kmemleak_test "$LEAK" "all fault injection"
ktap_finished
