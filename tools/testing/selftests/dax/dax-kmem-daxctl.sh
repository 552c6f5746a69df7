#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The administrator's round trip: daxctl turns a device-DAX device into
# System RAM and back, and the kernel's view follows exactly.
#
#   daxctl reconfigure-device --mode=system-ram daxX.Y
#   daxctl reconfigure-device --mode=devdax -f daxX.Y
#
# Checks MemTotal, the "System RAM (kmem)" resources under the device's
# name in /proc/iomem, and the target node's online memory blocks.
#
#   DAX_KMEM_TEST_DEV=daxX.Y   the device to use; it must be in devdax mode
#                              and its memory must be unused (it is onlined
#                              and offlined again).
#
# If DAX_KMEM_TEST_DEV is unset the whole test SKIPs.

# shellcheck disable=SC1091
DIR="$(dirname "$(readlink -f "$0")")"
. "$DIR"/../kselftest/ktap_helpers.sh
. "$DIR"/dax-kmem-lib.sh

ktap_print_header

if [ "$UID" != 0 ]; then
	ktap_skip_all "must be run as root"
	exit "$KSFT_SKIP"
fi
DAX=${DAX_KMEM_TEST_DEV:-}
if [ -z "$DAX" ]; then
	ktap_skip_all "set DAX_KMEM_TEST_DEV=daxX.Y to opt in (onlines the device's memory)"
	exit "$KSFT_SKIP"
fi
if ! command -v daxctl > /dev/null; then
	ktap_skip_all "daxctl (ndctl) is not installed"
	exit "$KSFT_SKIP"
fi
if [ ! -e "$DAX_BASE/$DAX" ]; then
	ktap_skip_all "no device $DAX"
	exit "$KSFT_SKIP"
fi
if [ "$(dax_driver)" != device_dax ]; then
	ktap_skip_all "$DAX is bound to '$(dax_driver)', not device_dax"
	exit "$KSFT_SKIP"
fi

node=$(cat "$DAX_BASE/$DAX/target_node" 2>/dev/null || echo -1)
size=$(cat "$DAX_BASE/$DAX/size")
bs=$(block_size)
mt0=$(memtotal_kb)
nb0=$(node_online_blocks "$node")
ktap_print_msg "$DAX: $((size >> 20)) MiB on node $node, block size $((bs >> 20)) MiB"
ktap_set_plan 9

# --- devdax -> system-ram ---------------------------------------------------
out=$(daxctl reconfigure-device --mode=system-ram "$DAX" 2>&1); rc=$?
if [ "$rc" = 0 ] && [ "$(dax_driver)" = kmem ]; then
	ktap_test_pass "daxctl --mode=system-ram binds $DAX to kmem"
else
	ktap_test_fail "daxctl --mode=system-ram: rc=$rc driver=$(dax_driver): $out"
fi

kb=$(kmem_bytes)
mapfile -t blocks < <(kmem_blocks)
if [ "$kb" -lt "$size" ]; then
	msg="kmem $DAX: DAX region truncated by $(string_get_size $((size - kb))) due to alignment"
	if dmesg | grep -qF "$msg"; then
		ktap_test_pass "bind warned: ${msg#kmem "$DAX": }"
	else
		ktap_test_fail "no '$msg' in dmesg"
	fi
elif dmesg | grep -qF "DAX region truncated"; then
	ktap_test_fail "a block-aligned device warned of truncation"
else
	ktap_test_pass "block-aligned device: no truncation warning"
fi
if [ "$kb" -gt 0 ] && [ "$kb" -le "$size" ] && [ $((kb % bs)) = 0 ] &&
   grep -qE " : $DAX\$" /proc/iomem; then
	msg="/proc/iomem: $DAX holds $((kb >> 20)) MiB of 'System"
	ktap_test_pass "$msg RAM (kmem)' in ${#blocks[@]} blocks"
else
	ktap_test_fail "/proc/iomem: kmem bytes under $DAX = $kb (device $size, block $bs)"
fi

mt1=$(memtotal_kb)
if [ $((mt1 - mt0)) = $((kb / 1024)) ]; then
	ktap_test_pass "MemTotal $mt0 -> $mt1 kB: up by exactly the kmem ranges"
else
	msg="MemTotal $mt0 -> $mt1 kB: up by $((mt1 - mt0)) kB,"
	ktap_test_fail "$msg kmem ranges are $((kb / 1024)) kB"
fi

on=$(count_online "${blocks[@]}")
nb1=$(node_online_blocks "$node")
if [ "${#blocks[@]}" -gt 0 ] && [ "$on" = "${#blocks[@]}" ] &&
   [ $((nb1 - nb0)) = "${#blocks[@]}" ]; then
	ktap_test_pass "node $node: $nb0 -> $nb1 online blocks, all ${#blocks[@]} of $DAX online"
else
	msg="node $node: $nb0 -> $nb1 online blocks, $on of"
	ktap_test_fail "$msg ${#blocks[@]} device blocks online"
fi

if daxctl list -d "$DAX" 2>/dev/null | grep -q '"mode":"system-ram"'; then
	ktap_test_pass "daxctl list reports mode system-ram"
else
	ktap_test_fail "daxctl list: $(daxctl list -d "$DAX" 2>&1 | tr -d '\n')"
fi

# --- system-ram -> devdax ---------------------------------------------------
out=$(daxctl reconfigure-device --mode=devdax -f "$DAX" 2>&1); rc=$?
if [ "$rc" = 0 ] && [ "$(dax_driver)" = device_dax ] && [ -c "/dev/$DAX" ]; then
	ktap_test_pass "daxctl --mode=devdax returns $DAX to device_dax (/dev/$DAX)"
else
	ktap_test_fail "daxctl --mode=devdax: rc=$rc driver=$(dax_driver): $out"
fi

mt2=$(memtotal_kb)
left=$(kmem_bytes)
if [ "$mt2" = "$mt0" ] && [ "$left" = 0 ]; then
	ktap_test_pass "MemTotal back to $mt0 kB, no 'System RAM (kmem)' left under $DAX"
else
	msg="after devdax: MemTotal $mt2 kB (was $mt0), $left"
	ktap_test_fail "$msg kmem bytes left in /proc/iomem"
fi

nb2=$(node_online_blocks "$node")
if [ "$nb2" = "$nb0" ] && [ ! -e "$MEM_BASE/${blocks[0]}" ]; then
	ktap_test_pass "node $node back to $nb0 online blocks, ${blocks[0]} removed"
else
	ktap_test_fail "node $node: $nb2 online blocks (was $nb0); ${blocks[0]:-?} still present?"
fi

ktap_finished
