#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What a user of the memory kmem onlines relies on: that a process can use
# it, and what happens to its data when the memory goes.
#   1. a process whose buffer is bound to the device's node writes a
#      pattern over most of the device's memory and reads it back intact;
#   2. unplug through kmem's "state" while a process holds (mlocked, not
#      pinned) data there: the pages migrate to another node, intact;
#   3. the same through `daxctl offline-memory`;
#   4. unplug while the pages are pinned (vmsplice): offlining cannot move
#      them and retries until the writer is interrupted; the device stays
#      online with all its memory and the data is intact;
#   5. with demotion enabled, reclaim on the node of the CPUs (its proactive
#      reclaim interface, anon only) demotes a process's pages into the
#      device's node, which kmem put in a lower memory tier: pgdemote_*
#      rise, the pages land there, the data is intact.
# Every buffer is mbind()'d, not the whole process: on CXL under emulation
# every access to the device's memory is slow, so only the test's data goes
# there.
#
#   DAX_KMEM_TEST_DEV=daxX.Y       a device whose memory is unused (unbound,
#                                  or bound to device_dax or kmem)
#   DAX_KMEM_DATA_MIB=N            test 1's pattern, in MiB (default: three
#                                  quarters of the device)
#   DAX_KMEM_DATA_MOVE_MIB=256     the data of tests 2-5, in MiB
#
# Needs python3 and daxctl; if DAX_KMEM_TEST_DEV is unset the test SKIPs.

# shellcheck disable=SC1091
DIR="$(dirname "$(readlink -f "$0")")"
. "$DIR"/../kselftest/ktap_helpers.sh
. "$DIR"/dax-kmem-lib.sh

HELPER="$DIR/dax-kmem-helper.py"
MOVE=${DAX_KMEM_DATA_MOVE_MIB:-256}
DEMOTE=/sys/kernel/mm/numa/demotion_enabled
TIERS=/sys/devices/virtual/memory_tiering

ktap_print_header

DAX=${DAX_KMEM_TEST_DEV:-}
if [ "$UID" != 0 ] || [ -z "$DAX" ] || [ ! -d "$DAX_BASE/$DAX" ]; then
	ktap_skip_all "run as root with DAX_KMEM_TEST_DEV a daxX.Y whose memory is unused"
	exit "$KSFT_SKIP"
fi
PYTHON=$(command -v /usr/bin/python3 python3 | head -1)
for tool in "$PYTHON" daxctl timeout; do
	if ! command -v "$tool" > /dev/null; then
		ktap_skip_all "${tool:-python3} is not installed"
		exit "$KSFT_SKIP"
	fi
done
dax_driver_get
case "$DRIVER" in
kmem)
	r=$(dax_write "$DAX_BASE/$DAX/state" unplugged)
	[ "$r" = ok ] && r=$(kmem_unbind)
	[ "$r" = ok ] || ktap_exit_fail_msg "cannot take $DAX from kmem: $r" ;;
esac
NODE=$(cat "$DAX_BASE/$DAX/target_node")
# The node of the CPUs, where demotion starts.
read -r CPUNODE < /sys/devices/system/node/has_cpu
CPUNODE=${CPUNODE%%[-,]*}

ktap_set_plan 5
kmem_baseline
MIB=${DAX_KMEM_DATA_MIB:-$((TOTAL * 3 / 4 >> 20))}

# online -- bind $DAX to kmem if it is not, and online it movable; "ok" or
# what failed.
online() {
	local r=ok
	[ "$(dax_driver)" = kmem ] || r=$(kmem_bind)
	[ "$r" = ok ] || { echo "bind: $r"; return; }
	kmem_online_movable
}

# hold_start MIB MODE NODE -- a process with MIB MiB of data on NODE (see
# the helper's hold); HOLD is its directory, READY its "pid pages-per-node".
hold_start() {
	HOLD=$(mktemp -d)
	"$PYTHON" "$HELPER" hold "$1" "$HOLD" "$2" "$3" > "$HOLD/out" 2>&1 &
	HOLDER=$!
	while ! [ -e "$HOLD/ready" ]; do
		kill -0 "$HOLDER" 2> /dev/null || { READY="holder failed: $(cat "$HOLD/out")"; return 1; }
		sleep 0.2
	done
	read -r _ READY < "$HOLD/ready"
}

# hold_end -- release the holder and wait for it (not in a $(...)
# subshell): DATA is "intact" or what changed, WHERE its pages per node.
hold_end() {
	touch "$HOLD/release"
	wait "$HOLDER"
	DATA="no answer" WHERE=""
	[ -e "$HOLD/done" ] && read -r DATA WHERE < "$HOLD/done"
	[ -s "$HOLD/out" ] && ktap_print_msg "holder: $(cat "$HOLD/out")"
	rm -rf "$HOLD"
}

# only_on NODE PAGES -- true if PAGES ("N0=12 N1=3") are all on NODE.
only_on() { [[ "$2" =~ ^N$1=[0-9]+$ ]]; }

# 1. A pattern over most of the device.
r=$(online)
if [ "$r" = ok ] && hold_start "$MIB" lock "$NODE"; then
	where=$READY
	hold_end
	only_on "$NODE" "$where" && [ "$where" = "N$NODE=$((MIB * 256))" ] && [ "$DATA" = intact ]
	result $? "$MIB MiB of $((TOTAL >> 20)) MiB written on node $NODE ($where) and read back: $DATA"
else
	ktap_test_fail "pattern over $MIB MiB on node $NODE: online $r; ${READY:-}"
	kill "$HOLDER" 2> /dev/null
fi

# unplug_case NAME CMD... -- NAME's result: with $MOVE MiB held on the node,
# run CMD; it must succeed, the pages must leave the node, intact; then
# state unplugged must leave nothing of the device online.
unplug_case() {
	local name=$1 r out why
	shift
	r=$(online)
	if [ "$r" != ok ] || ! hold_start "$MOVE" lock "$NODE"; then
		ktap_test_fail "$name: online $r; ${READY:-}"
		kill "$HOLDER" 2> /dev/null
		return
	fi
	local where=$READY
	out=$("$@" 2>&1) && r=ok || r="failed: $(tr '\n' ' ' <<< "$out")"
	hold_end
	why=$(dax_write "$HP" unplugged)
	[ "$why" = ok ] && [ "$(kmem_bytes)" = 0 ] && why=""
	only_on "$NODE" "$where" && [ "$r" = ok ] && [ "$DATA" = intact ] &&
		! [[ " $WHERE " == *" N$NODE="* ]] && [ -z "$why" ]
	result $? "$name with $MOVE MiB on node $NODE ($where): $r, pages now $WHERE, $DATA${why:+; state unplugged: $why}"
}
# state_unplug -- state unplugged; fails with the error.
state_unplug() {
	local r
	r=$(dax_write "$HP" unplugged)
	[ "$r" = ok ] || { echo "$r"; return 1; }
}
unplug_case "unplug through state" state_unplug
unplug_case "daxctl offline-memory" daxctl offline-memory "$DAX"

# 4. Pinned: the unplug cannot finish; interrupted, it leaves everything.
r=$(online)
if [ "$r" = ok ] && hold_start "$MOVE" pin "$NODE"; then
	where=$READY
	t0=$SECONDS
	timeout -s INT 20 dd of="$HP" bs=64k status=none <<< unplugged 2> /dev/null
	rc=$?
	st=$(kmem_state)
	kb=$(kmem_bytes)
	hold_end
	r=$(dax_write "$HP" unplugged)
	[ "$rc" = 124 ] && [ "$st" = online_movable ] && [ "$kb" = "$TOTAL" ] &&
		[ "$DATA" = intact ] && [ "$r" = ok ]
	result $? "unplug with $MOVE MiB pinned on node $NODE: interrupted after $((SECONDS - t0))s" \
		"(timeout rc $rc), state $st, $((kb >> 20)) of $((TOTAL >> 20)) MiB still added," \
		"data $DATA on $WHERE; unplug after the release: $r"
else
	ktap_test_fail "unplug with pinned data: online $r; ${READY:-}"
	kill "$HOLDER" 2> /dev/null
fi

# pgdemote -- the pages demoted so far (every pgdemote_* of /proc/vmstat).
pgdemote() {
	local k v n=0
	while read -r k v; do
		[[ "$k" == pgdemote_* ]] && n=$((n + v))
	done < /proc/vmstat
	echo "$n"
}

# tier NODE -- the number of NODE's memory tier (a higher one is slower).
tier() {
	local t part
	local -a parts
	for t in "$TIERS"/memory_tier*; do
		IFS=, read -ra parts < "$t/nodelist"
		for part in "${parts[@]}"; do
			if { [[ "$part" == *-* ]] && ((${part%-*} <= $1 && $1 <= ${part#*-})); } ||
			   [ "$part" = "$1" ]; then
				echo "${t##*memory_tier}"
				return
			fi
		done
	done
}

# 5. Demotion from the CPUs' node into the device's.
r=$(online)
reclaim=/sys/devices/system/node/node$CPUNODE/reclaim
if [ "$r" != ok ] || [ ! -e "$DEMOTE" ] || [ ! -e "$reclaim" ]; then
	ktap_test_fail "demotion: online $r; $DEMOTE or $reclaim missing"
else
	dem0=$(cat "$DEMOTE")
	echo 1 > "$DEMOTE"
	t_cpu=$(tier "$CPUNODE") t_dev=$(tier "$NODE")
	if hold_start "$MOVE" nolock "$CPUNODE"; then
		where=$READY
		p0=$(pgdemote)
		grep -E '^(pgscan_anon|pgsteal_anon|pgdemote_|pgmigrate_|thp_migration|pgactivate|pgdeactivate|pgrefill) ' /proc/vmstat > "$HOLD/vm0"
		# The node's reclaim interface shrinks the node only when its
		# reclaimable page cache exceeds min_unmapped_ratio (its
		# __node_reclaim() is node_reclaim()'s, gate included), even for
		# anon only: with a small page cache it does nothing. Open the gate.
		read -r unmapped0 < /proc/sys/vm/min_unmapped_ratio
		echo 0 > /proc/sys/vm/min_unmapped_ratio
		out=$(dax_write "$reclaim" "${MOVE}M swappiness=max")
		echo "$unmapped0" > /proc/sys/vm/min_unmapped_ratio
		p1=$(pgdemote)
		grep -E '^(pgscan_anon|pgsteal_anon|pgdemote_|pgmigrate_|thp_migration|pgactivate|pgdeactivate|pgrefill) ' /proc/vmstat |
			paste -d' ' "$HOLD/vm0" - | awk '$4 != $2 { printf "%s +%d ", $1, $4 - $2 }' |
			while IFS= read -r l; do ktap_print_msg "reclaim of node $CPUNODE: $l"; done
		hold_end
		moved=$([[ " $WHERE " =~ \ N$NODE=([0-9]+) ]] && echo "${BASH_REMATCH[1]}")
		[ -n "$t_cpu" ] && [ -n "$t_dev" ] && [ "$t_dev" -gt "$t_cpu" ] &&
			only_on "$CPUNODE" "$where" && [ "$p1" -gt "$p0" ] &&
			[ "${moved:-0}" -gt 0 ] && [ "$DATA" = intact ]
		result $? "demotion: node $CPUNODE (tier $t_cpu) to node $NODE (tier $t_dev):" \
			"reclaim of ${MOVE}M ($out) demoted $((p1 - p0)) pages," \
			"${moved:-0} of the process's on node $NODE ($WHERE), data $DATA"
	else
		ktap_test_fail "demotion: $READY"
	fi
	echo "$dem0" > "$DEMOTE"
fi
r=$(dax_write "$HP" unplugged)
[ "$r" = ok ] && r=$(kmem_unbind)
[ "$r" = ok ] || ktap_print_msg "unplug and unbind at the end: $r"

ktap_finished
