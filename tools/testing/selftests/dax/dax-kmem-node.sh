#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A dax device on a NUMA node with no memory until kmem onlines it, as pmem
# and CXL nodes are: onlining puts the node into N_MEMORY and into one
# memory tier, at the abstract distance its firmware performance data give
# (HMAT, CXL CDAT: the node's access1 attributes against the DRAM node's),
# or kmem's default of five times DRAM without any; the last unbind takes
# the node out of both again. With a second device on the same node, both
# share one memory type: the tier stays while either is online.
#
#   DAX_KMEM_TEST_DEV=daxX.Y    a devdax-mode device on a node that has no
#                               memory of its own
#   DAX_KMEM_TEST_DEV2=daxX.Z   optional: another one on the same node
#
# The kmem module must be loaded. If DAX_KMEM_TEST_DEV is unset, or its
# node has memory already, the whole test SKIPs.

# shellcheck disable=SC1091
DIR="$(dirname "$(readlink -f "$0")")"
. "$DIR"/../kselftest/ktap_helpers.sh
. "$DIR"/dax-kmem-lib.sh

NODE_BASE=/sys/devices/system/node
TIER_BASE=/sys/devices/virtual/memory_tiering
# include/linux/memory-tiers.h
MEMTIER_CHUNK_BITS=7
MEMTIER_ADISTANCE_DRAM=$((4 * (1 << MEMTIER_CHUNK_BITS) + (1 << MEMTIER_CHUNK_BITS) / 2))
MEMTIER_DEFAULT_DAX_ADISTANCE=$((MEMTIER_ADISTANCE_DRAM * 5))

ktap_print_header

DAX=${DAX_KMEM_TEST_DEV:-}
DAX2=${DAX_KMEM_TEST_DEV2:-}
if [ "$UID" != 0 ] || [ -z "$DAX" ] || [ ! -d "$KMEM_DRV" ] || [ ! -d "$TIER_BASE" ]; then
	ktap_skip_all "run as root, kmem loaded, memory tiers," \
		"DAX_KMEM_TEST_DEV a devdax-mode daxX.Y"
	exit "$KSFT_SKIP"
fi
node=$(cat "$DAX_BASE/$DAX/target_node")

# in_list N LIST -- whether node N is in a kernel node list ("0-1,3").
in_list() {
	local r
	for r in ${2//,/ }; do
		[ "${r%-*}" -le "$1" ] && [ "$1" -le "${r#*-}" ] && return 0
	done
	return 1
}
has_memory() { in_list "$node" "$(cat "$NODE_BASE/has_memory")"; }

# tiers_of -- the memory tiers that list $node, space-separated.
tiers_of() {
	local t out=""
	for t in "$TIER_BASE"/memory_tier*; do
		[ -e "$t/nodelist" ] && in_list "$node" "$(cat "$t/nodelist")" &&
			out="$out ${t##*/}"
	done
	echo "${out# }"
}

# perf NODE -- "latency bandwidth" sums (read + write) of NODE's access1
# (CPU initiators) attributes, or nothing when it has none.
perf() {
	local d=$NODE_BASE/node$1/access1/initiators
	[ -e "$d/read_latency" ] || return 0
	echo "$(($(cat "$d/read_latency") + $(cat "$d/write_latency")))" \
		"$(($(cat "$d/read_bandwidth") + $(cat "$d/write_bandwidth")))"
}

# expected_tier -- set TIER to the tier mt_perf_to_adistance()
# (mm/memory-tiers.c) gives the node from its performance against the
# first DRAM node's, or kmem's default; WHENCE to which.
expected_tier() {
	local p d dram adist
	p=$(perf "$node")
	dram=$(cut -d, -f1 < "$NODE_BASE/has_cpu")
	dram=${dram%-*}
	d=$(perf "$dram")
	if [ -n "$p" ] && [ -n "$d" ]; then
		# shellcheck disable=SC2086
		set -- $p $d
		adist=$((MEMTIER_ADISTANCE_DRAM * $1 / $3 * $4 / $2))
		WHENCE="performance data: latency $1, bandwidth $2 against node $dram's $3, $4"
	else
		adist=$MEMTIER_DEFAULT_DAX_ADISTANCE
		WHENCE="no performance data: kmem's default distance"
	fi
	TIER="memory_tier$((adist >> MEMTIER_CHUNK_BITS))"
}


# check NUM WANT(in|out) WHAT -- node $node in/out of N_MEMORY and the tiers.
check() {
	local t want
	t=$(tiers_of)
	if [ "$2" = in ]; then
		want="in N_MEMORY and $TIER"
		has_memory && [ "$t" = "$TIER" ]
	else
		want="out of N_MEMORY and every tier"
		! has_memory && [ -z "$t" ]
	fi
	result $? "$3: node $node $want (tiers: ${t:-none})"
}

for d in $DAX $DAX2; do
	if [ "$(cat "$DAX_BASE/$d/target_node")" != "$node" ]; then
		ktap_skip_all "$DAX and $d are on different nodes"
		exit "$KSFT_SKIP"
	fi
done
if has_memory; then
	ktap_skip_all "node $node of $DAX has memory already: not a memory-only node"
	exit "$KSFT_SKIP"
fi

plan=8
[ -n "$DAX2" ] && plan=$((plan + 4))
ktap_set_plan "$plan"
mt0=$(memtotal_kb)
ktap_print_msg "$DAX: $(($(cat "$DAX_BASE/$DAX/size") >> 20)) MiB on node $node${DAX2:+, $DAX2 too}"
TIER=""
check 1 out "before kmem"

# online DEV -- bind DEV to kmem and online it movable (whatever the
# system's default online policy did at probe: onlining goes through
# "unplugged").
online() {
	local r
	r=$(DAX=$1 kmem_bind)
	[ "$r" = ok ] || { echo "bind $1: $r"; return; }
	r=$(DAX=$1 kmem_online_movable)
	[ "$r" = ok ] || { echo "state $1: $r"; return; }
	echo ok
}
# offline DEV -- unplug DEV's memory and unbind it from kmem (kmem's unbind
# never offlines: online memory stays until reboot).
offline() {
	local r
	r=$(dax_write "$DAX_BASE/$1/state" unplugged)
	[ "$r" = ok ] || { echo "state $1: $r"; return; }
	DAX=$1 kmem_unbind
}

echo "$DAX" > /sys/bus/dax/drivers/device_dax/unbind 2> /dev/null
r=$(online "$DAX")
expected_tier
ktap_print_msg "expected $TIER ($WHENCE)"
[ "$r" = ok ] && [ "$(memtotal_kb)" -gt "$mt0" ]
result $? "$DAX bound and onlined: $r"
check 2 in "online"

# The node's access attributes exist exactly when firmware gave its
# performance (drivers/base/node.c, from HMAT or CXL CDAT).
if [ -n "$(perf "$node")" ]; then
	[ -e "$NODE_BASE/node$node/access0/initiators/read_latency" ]
	result $? "node $node has access0 and access1 attributes: $(perf "$node")"
else
	[ ! -e "$NODE_BASE/node$node/access0" ] && [ ! -e "$NODE_BASE/node$node/access1" ]
	result $? "node $node has no access attributes (no firmware performance data)"
fi

if [ -n "$DAX2" ]; then
	echo "$DAX2" > /sys/bus/dax/drivers/device_dax/unbind 2> /dev/null
	r=$(online "$DAX2")
	[ "$r" = ok ]
	result $? "$DAX2 bound and onlined on the same node: $r"
	check 3 in "both online (one memory type)"
	r=$(offline "$DAX")
	[ "$r" = ok ]
	result $? "$DAX unbound while $DAX2 stays online: $r"
	check 4 in "one of two unbound"
	r=$(offline "$DAX2")
else
	r=$(offline "$DAX")
fi
[ "$r" = ok ]
result $? "last device unbound: $r"
check 5 out "all unbound"

# The node comes back to the same tier: the memory type was kept (or made
# again) at the same distance.
r=$(online "$DAX")
if [ "$r" = ok ]; then
	check 6 in "bound again"
else
	false
	result $? "bound again: $r"
fi
r=$(offline "$DAX")
[ "$r" = ok ] && [ "$(memtotal_kb)" = "$mt0" ]
result $? "unbound again, MemTotal back to $mt0 kB: $r"

ktap_finished
