#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kmem's partial success, on a device of two ranges built through the
# `mapping` attribute of a dynamic dax region (HMEM, CXL). kmem reserves
# every range first, then adds each reserved range; a range whose
# reservation or add fails is skipped with a warning once an earlier range
# made it, and the device still binds with the ranges that did. A failure
# on the first range fails the bind and leaves nothing.
#
# Each of two fail-nth sweeps over the bind fails the n-th allocation (n =
# 1, 2, ... until the bind runs clean) under one function: kmem's
# reservation of a range (request_mem_region_system_ram()), then the
# core's "System RAM (kmem)" resource of the add (__request_region(), which
# register_memory_resource() calls). Every injected bind must end one of
# three ways:
#   - refused: nothing of the device in /proc/iomem, MemTotal unchanged,
#     and the warning names mapping0;
#   - absorbed (an allocator's fallback took the failure): both ranges,
#     no warning, and unplug and unbind leave nothing;
#   - bound with range 0 only: the warning names mapping1, only range 0 is
#     System RAM (kmem), MemTotal grew by range 0 (onlined movable at
#     probe); unplug leaves nothing, online then takes both ranges, and
#     unplug and unbind leave nothing.
# Each sweep must reach the second at least once.
#
#   DAX_KMEM_TEST_SEED=daxX.Y  an empty (size 0) device of a dynamic dax
#                              region with at least five memory blocks free
#
# The kmem module must be loaded. Needs CONFIG_FAULT_INJECTION_DEBUG_FS,
# FAILSLAB, FAIL_PAGE_ALLOC and FAULT_INJECTION_STACKTRACE_FILTER, and
# python3; without them, or without DAX_KMEM_TEST_SEED, the test SKIPs.

# shellcheck disable=SC1091
DIR="$(dirname "$(readlink -f "$0")")"
. "$DIR"/../kselftest/ktap_helpers.sh
. "$DIR"/dax-kmem-lib.sh

HELPER="$DIR/dax-kmem-helper.py"
DBG=/sys/kernel/debug
MAX_POINTS=16

ktap_print_header

DAX=${DAX_KMEM_TEST_SEED:-}
if [ "$UID" != 0 ] || [ -z "$DAX" ] || [ ! -d "$KMEM_DRV" ]; then
	ktap_skip_all "run as root, kmem loaded," \
		"DAX_KMEM_TEST_SEED an empty daxX.Y of a dynamic region"
	exit "$KSFT_SKIP"
fi
mountpoint -q "$DBG" || mount -t debugfs none "$DBG"
PYTHON=$(command -v /usr/bin/python3 python3 | head -1)
for need in "$DBG/failslab/require-start" "$DBG/fail_page_alloc/require-start" \
	    /proc/self/fail-nth "$PYTHON"; do
	if [ ! -e "$need" ]; then
		ktap_skip_all "no $need (CONFIG_FAULT_INJECTION_DEBUG_FS, FAILSLAB," \
			"FAIL_PAGE_ALLOC, FAULT_INJECTION_STACKTRACE_FILTER, python3)"
		exit "$KSFT_SKIP"
	fi
done
D=$DAX_BASE/$DAX
REGION=$(readlink -f "$D/..")/dax_region
bs=$(block_size)
if [ "$(cat "$D/size")" != 0 ] || [ "$(cat "$REGION/available_size")" -lt $((5 * bs)) ]; then
	ktap_skip_all "$DAX is not empty, or its region has less than 5 blocks free"
	exit "$KSFT_SKIP"
fi
[ "$(dax_driver)" = none ] || echo "$DAX" > "/sys/bus/dax/drivers/$(dax_driver)/unbind"

AUTO=$MEM_BASE/auto_online_blocks
AUTO0=$(cat "$AUTO")
"$PYTHON" "$HELPER" faultattrs || ktap_exit_fail_msg "cannot set up the fault attributes"

hex() { printf '%#x' "$1"; }

ktap_set_plan 5
mt0=$(memtotal_kb)
res0=$(dax_reservations)

# Two ranges of two blocks each, one block apart, where the region's free
# space starts.
R=$(dax_free_start "$D") || ktap_exit_fail_msg "cannot allocate from the region of $DAX"
r0="$(hex $R)-$(hex $((R + 2 * bs - 1)))"
r1="$(hex $((R + 3 * bs)))-$(hex $((R + 5 * bs - 1)))"
w=$(dax_add_ranges "$D" "$r0" "$r1")
[ "$w" = ok ] && [ "$(cat "$D/size")" = $((4 * bs)) ] && [ -e "$D/mapping1" ]
result $? "$DAX built from $r0 and $r1 ($w)"
RANGE0="$(printf '%x %x' $R $((R + 2 * bs - 1)))"
BOTH="$RANGE0|$(printf '%x %x' $((R + 3 * bs)) $((R + 5 * bs - 1)))"
KB0=$((2 * bs / 1024))

# got -- the device's System RAM (kmem) ranges, joined by "|".
got() { iomem_scan; (IFS='|'; echo "${KMEM_RANGES[*]}"); }

# left -- "" if nothing of $DAX is left in the kernel (unbound, no kmem
# range, no reservation, MemTotal back); else what is.
left() {
	local k
	iomem_scan # here, not in a subshell: DAX_RES is read below
	k=$(IFS='|'; echo "${KMEM_RANGES[*]}")
	[ "$(dax_driver)" = none ] && [ -z "$k" ] && [ "$DAX_RES" = "$res0" ] &&
		[ "$(memtotal_kb)" = "$mt0" ] && return
	echo "driver $(dax_driver), kmem ranges '${k}', $DAX_RES resources named $DAX" \
		"(want $res0), MemTotal $(memtotal_kb) kB (want $mt0)"
}

# online_bind -- bind with probe onlining movable; print "ok" or the error.
online_bind() {
	local r
	echo online_movable > "$AUTO"
	r=$(kmem_bind)
	echo "$AUTO0" > "$AUTO"
	echo "$r"
}

# A clean bind first: the dax bus learns kmem's id (kmem_bind's new_id),
# and both ranges are added.
dmesg -C 2> /dev/null
w=$(online_bind)
k=$(got)
[ "$w" = ok ] && [ "$k" = "$BOTH" ] && [ "$(($(memtotal_kb) - mt0))" = $((2 * KB0)) ] &&
	! dmesg | grep -q "$DAX: mapping"
result $? "clean bind: both ranges System RAM, MemTotal +$((2 * KB0)) kB ($w; ${k:-none})"
w=$(dax_write "$D/state" unplugged)
[ "$w" = ok ] && w=$(kmem_unbind)
[ "$w" = ok ] || ktap_print_msg "unplug and unbind after the clean bind: $w"

# partial_case MSG -- after an injected bind that succeeded: range 0 only,
# the warning for mapping1, then unplug, online (both ranges) and unbind
# recover. Prints why not, if not.
partial_case() {
	local k r
	k=$(got)
	if [ "$(dax_driver)" != kmem ] || [ "$k" != "$RANGE0" ] ||
	   [ "$(($(memtotal_kb) - mt0))" != "$KB0" ] || ! grep -qF "$DAX: mapping1: $r1 $1" <<< "$LOG"; then
		echo "bound: driver $(dax_driver), kmem ranges '$k' (want '$RANGE0')," \
			"MemTotal +$(($(memtotal_kb) - mt0)) kB (want $KB0), warning for mapping1" \
			"$(grep -qF "$DAX: mapping1: $r1 $1" <<< "$LOG" || echo not) logged"
		return
	fi
	r=$(dax_write "$D/state" unplugged)
	k=$(got)
	[ "$r" = ok ] && [ -z "$k" ] && [ "$(memtotal_kb)" = "$mt0" ] ||
		{ echo "unplugged: $r, kmem ranges '$k', MemTotal $(memtotal_kb) kB"; return; }
	r=$(dax_write "$D/state" online_movable)
	k=$(got)
	[ "$r" = ok ] && [ "$k" = "$BOTH" ] && [ "$(($(memtotal_kb) - mt0))" = $((2 * KB0)) ] ||
		{ echo "online_movable after unplug: $r, kmem ranges '$k' (want both)"; return; }
	r=$(dax_write "$D/state" unplugged)
	[ "$r" = ok ] && r=$(kmem_unbind)
	[ "$r" = ok ] || { echo "unplug and unbind: $r"; return; }
	left
}

# sweep WHAT FUNCTION MSG -- the fail-nth sweep over the bind, counting only
# the points under FUNCTION; MSG is kmem's warning for a range that failed
# there.
sweep() {
	local name="fail-nth over bind in $2 ($1)" n res inj why first="" fails=0
	local refused=0 partial=0 absorbed=0 t0=$SECONDS r
	if ! "$PYTHON" "$HELPER" stackfilter "$2"; then
		ktap_test_fail "$name: cannot filter on $2 (see above)"
		return
	fi
	for ((n = 1; n <= MAX_POINTS; n++)); do
		dmesg -C 2> /dev/null
		echo online_movable > "$AUTO"
		read -r res inj <<< "$("$PYTHON" "$HELPER" failnth "$KMEM_DRV/bind" "$DAX" "$n")"
		echo "$AUTO0" > "$AUTO"
		LOG=$(dmesg)
		why=""
		if [ "$inj" != injected ]; then
			[ "$res" = ok ] && [ "$(got)" = "$BOTH" ] ||
				why="clean bind: $res, kmem ranges '$(got)'"
			r=$(dax_write "$D/state" unplugged)
			[ "$r" = ok ] && r=$(kmem_unbind)
			[ -n "$why" ] || [ "$r" = ok ] || why="unplug and unbind after the clean bind: $r"
			[ -n "$why" ] || why=$(left)
		elif [ "$res" = ok ] && [ "$(got)" = "$BOTH" ] && ! grep -q "$DAX: mapping" <<< "$LOG"; then
			# The failure was absorbed (an allocator's fallback): a
			# clean bind, which must unplug and unbind cleanly.
			absorbed=$((absorbed + 1))
			r=$(dax_write "$D/state" unplugged)
			[ "$r" = ok ] && r=$(kmem_unbind)
			[ "$r" = ok ] || why="absorbed, then unplug and unbind: $r"
			[ -n "$why" ] || why=$(left)
		elif [ "$res" = ok ]; then
			partial=$((partial + 1))
			why=$(partial_case "$3")
		else
			refused=$((refused + 1))
			why=$(left)
			grep -qF "$DAX: mapping0: $r0 $3" <<< "$LOG" ||
				why="${why:+$why; }no warning for mapping0"
		fi
		if [ -n "$why" ]; then
			fails=$((fails + 1))
			[ -n "$first" ] || first="n=$n ($res): $why"
			ktap_print_msg "$name n=$n ($res): $why"
			grep "$DAX" <<< "$LOG" | tail -3 | while IFS= read -r l; do ktap_print_msg "dmesg: $l"; done
			# Leave the device unbound and empty for the next point.
			[ "$(dax_driver)" = kmem ] && { dax_write "$D/state" unplugged; kmem_unbind; } > /dev/null
		fi
		[ "$inj" = injected ] || break
	done
	"$PYTHON" "$HELPER" stackfilter
	if [ "$inj" = injected ]; then
		ktap_test_fail "$name: still injecting at n=$MAX_POINTS"
	elif [ "$fails" = 0 ] && [ "$partial" -gt 0 ]; then
		# result joins its words; ktap_test_pass would keep the first only
		result 0 "$name: $((n - 1)) points: $refused refused with nothing left," \
			"$partial bound with range 0 only and recovered, $absorbed absorbed;" \
			"n=$n clean ($((SECONDS - t0))s)"
	else
		result 1 "$name: $((n - 1)) points, $refused refused, $partial partial" \
			"(want at least one), $absorbed absorbed, $fails inconsistent; first: ${first:-none}"
	fi
}

sweep "kmem's reservation" request_mem_region_system_ram "could not reserve region"
sweep "the core's resource" __request_region "memory add failed"

w=$(dax_write "$D/size" 0)
why=$(left)
[ "$w" = ok ] && [ -z "$why" ] && [ "$(cat "$D/size")" = 0 ]
result $? "$DAX emptied again, nothing left ($w${why:+; $why})"

ktap_finished
