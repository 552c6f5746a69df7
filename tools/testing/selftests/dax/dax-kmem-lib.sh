#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Helpers shared by the dax/kmem selftests: what a dax device contributes
# to System RAM, read from /proc/iomem and /sys/devices/system/memory.
# Source it; it expects DAX (e.g. dax0.0) to be set by the caller.

DAX_BASE=/sys/bus/dax/devices
MEM_BASE=/sys/devices/system/memory

# The readers below use bash builtins only: every fork costs a tenth of a
# second or more on a debug kernel under emulation, and the stress tests
# check the whole state after every step. Each has a form that sets a
# variable (for callers in the same shell) and one that prints it.

# sysfs_read FILE -- set REPLY to the first line of FILE; fail (REPLY "")
# when it cannot be read.
sysfs_read() {
	REPLY=""
	[ -e "$1" ] && read -r REPLY 2> /dev/null < "$1"
}

# memtotal_get -- set MEMTOTAL to MemTotal in kB.
memtotal_get() {
	local k v rest
	MEMTOTAL=""
	while read -r k v rest; do
		[ "$k" = MemTotal: ] && { MEMTOTAL=$v; return; }
	done < /proc/meminfo
}
memtotal_kb() { memtotal_get; echo "$MEMTOTAL"; }

# dax_driver_get -- set DRIVER to the driver $DAX is bound to (kmem,
# device_dax) or "none"; dax_driver prints it.
dax_driver_get() {
	local d
	DRIVER=none
	for d in /sys/bus/dax/drivers/*; do
		[ -e "$d/$DAX" ] && { DRIVER=${d##*/}; return; }
	done
}
dax_driver() { dax_driver_get; echo "$DRIVER"; }

# block_size -- the memory block size in bytes.
block_size() { sysfs_read "$MEM_BASE/block_size_bytes"; echo $((0x$REPLY)); }

# dax_free_start DIR -- where the free space of the region of the empty
# device DIR (under $DAX_BASE) starts: where a first allocation lands.
dax_free_start() {
	local start
	echo $((2 * $(block_size))) > "$1/size" || return 1
	start=$(cat "$1/mapping0/start")
	echo 0 > "$1/size" || return 1
	[ -n "$start" ] && echo "$start"
}

# iomem_scan -- one pass over /proc/iomem for $DAX: KMEM_RANGES, each
# "start end" (hex, inclusive) of a "System RAM (kmem)" resource nested
# under the device's own resource; KMEM_NAMES, the "System RAM (kmem)"
# resources anywhere; DAX_RES, the resources named after the device.
iomem_scan() {
	local line ind name range inside=0 pind=0
	KMEM_RANGES=()
	KMEM_NAMES=0
	DAX_RES=0
	while IFS= read -r line; do
		ind=${line%%[! ]*}
		ind=${#ind}
		name=${line#*: }
		range=${line%% :*}
		range=${range// /}
		if [ "$inside" = 1 ] && [ "$ind" -le "$pind" ]; then
			inside=0
		fi
		if [ "$name" = "System RAM (kmem)" ]; then
			KMEM_NAMES=$((KMEM_NAMES + 1))
			[ "$inside" = 1 ] && KMEM_RANGES+=("${range%-*} ${range#*-}")
		fi
		if [ "$name" = "$DAX" ]; then
			DAX_RES=$((DAX_RES + 1))
			inside=1
			pind=$ind
		fi
	done < /proc/iomem
}

# kmem_ranges -- KMEM_RANGES, a line each.
kmem_ranges() {
	iomem_scan
	((${#KMEM_RANGES[@]} == 0)) || printf '%s\n' "${KMEM_RANGES[@]}"
}

# kmem_bytes -- total size of the device's "System RAM (kmem)" ranges.
kmem_bytes_get() {
	local r
	KMEM_BYTES=0
	for r in "${KMEM_RANGES[@]}"; do
		KMEM_BYTES=$((KMEM_BYTES + 0x${r#* } - 0x${r% *} + 1))
	done
}
kmem_bytes() { iomem_scan; kmem_bytes_get; echo "$KMEM_BYTES"; }

# kmem_blocks -- the memoryN blocks that back the device's kmem ranges
# (KMEM_BLOCKS, from the last iomem_scan).
kmem_blocks_get() {
	local r i bs
	KMEM_BLOCKS=()
	sysfs_read "$MEM_BASE/block_size_bytes"
	bs=$((0x$REPLY))
	for r in "${KMEM_RANGES[@]}"; do
		for ((i = 0x${r% *} / bs; i <= 0x${r#* } / bs; i++)); do
			KMEM_BLOCKS+=("memory$i")
		done
	done
}
kmem_blocks() {
	iomem_scan
	kmem_blocks_get
	((${#KMEM_BLOCKS[@]} == 0)) || printf '%s\n' "${KMEM_BLOCKS[@]}"
}

# count_online BLOCK... -- how many of the given memoryN blocks are online
# (ONLINE).
count_online_get() {
	local b
	ONLINE=0
	for b in "$@"; do
		sysfs_read "$MEM_BASE/$b/state" && [ "$REPLY" = online ] && ONLINE=$((ONLINE + 1))
	done
}
count_online() { count_online_get "$@"; echo "$ONLINE"; }

# node_online_blocks NODE -- online memory blocks of a NUMA node.
node_online_blocks() {
	local m blocks=()
	for m in /sys/devices/system/node/node"$1"/memory[0-9]*; do
		[ -e "$m" ] && blocks+=("${m##*/}")
	done
	count_online "${blocks[@]}"
}

# string_get_size BYTES -- BYTES as the kernel's string_get_size(BYTES, 1,
# STRING_UNITS_2, ...) prints it, e.g. "94.0 MiB".
string_get_size() {
	local size=$1 i=0 rem=0 j=0 sf tmp=""
	local units=("" Ki Mi Gi Ti Pi Ei Zi Yi) rounding=(500 50 5)
	if [ "$size" = 0 ]; then
		echo "0 B"
		return
	fi
	while ((size >> 32)); do
		size=$((size / 1024))
		i=$((i + 1))
	done
	while ((size >= 1024)); do
		rem=$((size % 1024))
		size=$((size / 1024))
		i=$((i + 1))
	done
	sf=$size
	while ((sf * 10 < 1000)); do
		sf=$((sf * 10))
		j=$((j + 1))
	done
	rem=$(((rem * 1000 >> 10) + rounding[j]))
	if ((rem >= 1000)); then
		rem=$((rem - 1000))
		size=$((size + 1))
	fi
	if ((j)); then
		tmp=$(printf '.%03d' "$rem")
		tmp=${tmp:0:j+1}
	fi
	echo "$size$tmp ${units[i]}B"
}

# result STATUS DESCRIPTION... -- a KTAP result: pass if STATUS (of the
# check before) is 0. The description's words are joined with spaces.
result() {
	local rc=$1
	shift
	if [ "$rc" = 0 ]; then
		ktap_test_pass "$*"
	else
		ktap_test_fail "$*"
	fi
}

# --- binding, state writes and consistency -----------------------------------

KMEM_DRV=/sys/bus/dax/drivers/kmem

# dax_write FILE VALUE -- write VALUE (printf %b escapes) to FILE in one
# write(2), as a program would (printf alone may split it at a newline);
# print "ok", or the error message of the failed write.
dax_write() {
	local err
	if err=$(printf '%b' "$2" |
		 dd of="$1" bs=64k count=1 iflag=fullblock status=none 2>&1); then
		echo ok
	else
		echo "${err##*: }"
	fi
}

# dax_add_ranges DIR RANGE... -- give the device DIR each RANGE (START-END,
# inclusive) in turn through its mapping file; print "ok", or the error of
# the first write refused.
dax_add_ranges() {
	local d=$1 r w=ok
	shift
	for r; do
		w=$(dax_write "$d/mapping" "$r")
		[ "$w" = ok ] || break
	done
	echo "$w"
}

# kmem_state -- the device's kmem state attribute, or "-" without one.
kmem_state_get() {
	STATE=-
	sysfs_read "$DAX_BASE/$DAX/state" && STATE=$REPLY
}
kmem_state() { kmem_state_get; echo "$STATE"; }

# dax_reservations -- how many /proc/iomem resources carry the device's name
# (its own, plus kmem's block-aligned reservation while kmem holds one).
dax_reservations() { iomem_scan; echo "$DAX_RES"; }

# kmem_bind -- bind $DAX to kmem through sysfs; print "ok" or the error.
# The dax bus matches kmem to a pmem device only by id: the first bind after
# a module load adds the id with new_id, which probes.
kmem_bind() {
	local r
	r=$(dax_write "$KMEM_DRV/bind" "$DAX")
	if [ "$r" = "No such device" ]; then
		r=$(dax_write "$KMEM_DRV/new_id" "$DAX")
		# new_id hides the probe's error: bind again to see it.
		dax_driver_get
		[ "$r" = ok ] && [ "$DRIVER" != kmem ] &&
			r=$(dax_write "$KMEM_DRV/bind" "$DAX")
	fi
	echo "$r"
}

# kmem_online_movable -- bring $DAX, bound to kmem, to state online_movable
# from whatever the probe left (the system's default online policy): kmem
# onlines only from "unplugged". Print "ok" or the error.
kmem_online_movable() {
	local r
	kmem_state_get
	case "$STATE" in
	online_movable) echo ok; return ;;
	unplugged) ;;
	*)
		r=$(dax_write "$DAX_BASE/$DAX/state" unplugged)
		[ "$r" = ok ] || { echo "unplugged: $r"; return; }
		;;
	esac
	dax_write "$DAX_BASE/$DAX/state" online_movable
}

# kmem_unbind -- unbind $DAX from kmem; print "ok" or the error.
kmem_unbind() { dax_write "$KMEM_DRV/unbind" "$DAX"; }

# kmem_reload [MODULE] -- rmmod kmem and load MODULE (or modprobe kmem);
# print "ok" or what failed.
kmem_reload() {
	local err
	if [ -e /sys/module/kmem ] && ! err=$(rmmod kmem 2>&1); then
		echo "rmmod: $err"
		return
	fi
	if [ -n "${1:-}" ]; then
		err=$(insmod "$1" 2>&1) || { echo "insmod: $err"; return; }
	else
		err=$(modprobe kmem 2>&1) || { echo "modprobe: $err"; return; }
	fi
	echo ok
}

# kmem_consistent MT0 RES0 TOTAL [STATE] -- check that the kernel's view of
# $DAX matches its driver and state (or STATE, when given, instead of what
# the state attribute says): MemTotal (MT0 kB unplugged), its /proc/iomem
# reservations (RES0 unbound, one more per range while kmem holds the
# memory: device_dax's is gone while unbound), its "System RAM (kmem)" bytes (TOTAL
# when added) and memory blocks. STATE "partial" is what a failure to online
# some of the blocks leaves (the core ignores it): all added and reserved,
# not every block online, MemTotal counting the online ones.
# kmem_consistent_get sets WHY to "" when it does, else to why not;
# kmem_consistent prints WHY.
kmem_consistent_get() {
	local mt0=$1 res0=$2 total=$3 drv st kb mt res blocks on zone want msg
	WHY=""
	dax_driver_get
	drv=$DRIVER
	kmem_state_get
	st=${4:-$STATE}
	iomem_scan
	kmem_bytes_get
	kb=$KMEM_BYTES
	memtotal_get
	mt=$MEMTOTAL
	res=$DAX_RES
	kmem_blocks_get
	blocks=("${KMEM_BLOCKS[@]}")
	count_online_get "${blocks[@]}"
	on=$ONLINE
	# A "System RAM (kmem)" outside the device's reservation (re-parented
	# when a failed add removed the reservation first) is a leftover too.
	if [ "$KMEM_NAMES" != "${#KMEM_RANGES[@]}" ]; then
		msg="driver $drv, state $st: $KMEM_NAMES 'System RAM (kmem)' in"
		WHY="$msg /proc/iomem, ${#KMEM_RANGES[@]} under $DAX"
		return
	fi
	case "$drv/$st" in
	none/* | device_dax/* | kmem/unplugged)
		[ "$kb" = 0 ] && [ "$res" = "$res0" ] && [ "$mt" = "$mt0" ] && return
		msg="driver $drv, state $st: kmem bytes $kb, reservations"
		WHY="$msg $res (want $res0), MemTotal $mt kB (want $mt0)"
		;;
	kmem/offline | kmem/partial)
		# Offline is the partial case with no block online.
		sysfs_read "$MEM_BASE/block_size_bytes"
		want=$((mt0 + on * 0x$REPLY / 1024))
		[ "$kb" = "$total" ] && [ "$on" -lt "${#blocks[@]}" ] &&
			{ [ "$st" = partial ] || [ "$on" = 0 ]; } &&
			[ "$res" = $((res0 + ${#KMEM_RANGES[@]})) ] && [ "$mt" = "$want" ] && return
		msg="$st: kmem bytes $kb (want $total), $on of ${#blocks[@]} blocks online,"
		WHY="$msg reservations $res, MemTotal $mt kB (want $want)"
		;;
	kmem/online | kmem/online_kernel | kmem/online_movable)
		want=$((mt0 + total / 1024))
		sysfs_read "$MEM_BASE/${blocks[0]:-none}/valid_zones"
		zone=$REPLY
		if [ "$kb" = "$total" ] && [ "$on" = "${#blocks[@]}" ] && [ "$on" -gt 0 ] &&
		   [ "$res" = $((res0 + ${#KMEM_RANGES[@]})) ] && [ "$mt" = "$want" ] &&
		   { [ "$st" != online_movable ] || [ "$zone" = Movable ]; } &&
		   { [ "$st" != online_kernel ] || [ "$zone" = Normal ]; }; then
			return
		fi
		msg="$st: kmem bytes $kb (want $total), $on of ${#blocks[@]} blocks online,"
		WHY="$msg zone $zone, reservations $res, MemTotal $mt kB (want $want)"
		;;
	*)
		WHY="driver $drv, state '$st'"
		;;
	esac
}
kmem_consistent() {
	kmem_consistent_get "$@"
	[ -z "$WHY" ] || echo "$WHY"
}

# kmemleak_scan -- scan for leaks twice (a new object is reported only by a
# scan after the one that first saw it) and print the suspects' count.
kmemleak_scan() {
	local f=/sys/kernel/debug/kmemleak
	sleep 6 # kmemleak skips objects younger than 5 s
	if ! { echo scan > "$f" && echo scan > "$f"; }; then
		echo "cannot scan"
		return
	fi
	grep -c '^unreferenced object' "$f"
}

# The scenarios of the stress and fault tests share a baseline, taken by
# kmem_baseline: MT0 (MemTotal, kB), RES0 (the device's own /proc/iomem
# reservations), TOTAL (the bytes kmem adds); KMEM_MODULE is the kmem.ko to
# reload ("" for modprobe) and HP the device's state attribute.

# kmem_baseline -- move $DAX from device_dax to kmem and back to unbound,
# taking the baseline; on failure end the test (ktap_exit_fail_msg).
kmem_baseline() {
	local r
	[ "$(dax_driver)" = device_dax ] && echo "$DAX" > /sys/bus/dax/drivers/device_dax/unbind
	MT0=$(memtotal_kb)
	RES0=$(dax_reservations)
	HP=$DAX_BASE/$DAX/state
	r=$(kmem_bind)
	TOTAL=$(kmem_bytes)
	if [ "$r" != ok ] || [ "$(kmem_state)" != offline ] || [ "$TOTAL" = 0 ]; then
		msg="$r, state $(kmem_state), $TOTAL bytes"
		msg+=" (auto_online_blocks $(cat "$MEM_BASE/auto_online_blocks"), want offline)"
		ktap_exit_fail_msg "first bind of $DAX to kmem: $msg"
	fi
	msg="$DAX: $((TOTAL >> 20)) MiB added by kmem on node $(cat "$DAX_BASE/$DAX/target_node");"
	ktap_print_msg "$msg MemTotal $MT0 kB; $RES0 reservation(s) of its own"
	r=$(kmem_unbind)
	[ "$r" = ok ] || ktap_exit_fail_msg "unbind after the first bind: $r"
}

# kmem_check WHAT -- kmem_consistent against the baseline: nothing when
# consistent, else "WHAT: why". kmem_check_get sets WHY to the why only, in
# the caller's shell.
kmem_check_get() { kmem_consistent_get "$MT0" "$RES0" "$TOTAL"; }
kmem_check() {
	kmem_check_get
	[ -z "$WHY" ] || echo "$1: $WHY"
}

# kmem_reload_test NAME -- the KTAP result of a scenario's closing unload and
# reload: with the device bound (so rmmod unbinds it), then rebound and
# unplugged, consistent all along. With DAX_KMEM_TEST_AUTOBIND=1 the device
# is of the kmem type (a CXL RAM region's, or an HMEM region's whole device
# with dax_hmem.region_idle=0): loading kmem binds it (dax_match_type()), so
# the reload itself must leave it bound to kmem, consistent.
kmem_reload_test() {
	local r why want=none how="rebind"
	if [ "${DAX_KMEM_TEST_AUTOBIND:-0}" = 1 ]; then
		want=kmem how="load binds,"
	fi
	r=$(kmem_reload "$KMEM_MODULE")
	if [ "$r" = ok ] && [ "$(dax_driver)" = "$want" ] &&
	   [ -z "$(kmem_check "after reload")" ]; then
		r=ok
		[ "$want" = kmem ] || r=$(kmem_bind)
		why=$(kmem_check "rebind")
		[ "$r" = ok ] && [ -z "$why" ] && r=$(dax_write "$HP" unplugged)
		[ "$r" = ok ] && [ -z "$why" ] && why=$(kmem_check "unplugged after rebind")
		if [ "$r" = ok ] && [ -z "$why" ]; then
			msg="unload and reload after $1: rmmod unbinds,"
			ktap_test_pass "$msg $how and unplug ok"
			return
		fi
		r="rebind $r${why:+; $why}"
	fi
	ktap_test_fail "unload and reload after $1: $r; driver $(dax_driver) $(kmem_check state)"
}

# kmemleak_test MODE WHEN -- the KTAP result of a kmemleak scan (MODE 1: it
# must run; auto: SKIP without kmemleak; 0: no result at all).
kmemleak_test() {
	local n
	[ "$1" = 0 ] && return
	if [ -e /sys/kernel/debug/kmemleak ]; then
		n=$(kmemleak_scan)
		if [ "$n" = 0 ]; then
			ktap_test_pass "kmemleak: no unreferenced object after $2"
		else
			ktap_test_fail "kmemleak: $n unreferenced object(s) after $2"
			sed 's/^/# /' /sys/kernel/debug/kmemleak | head -60
		fi
	elif [ "$1" = 1 ]; then
		msg="kmemleak check required, but this kernel has"
		ktap_test_fail "$msg no /sys/kernel/debug/kmemleak"
	else
		ktap_test_skip "kmemleak check: this kernel has no kmemleak (CONFIG_DEBUG_KMEMLEAK)"
	fi
}
