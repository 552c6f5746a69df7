#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kmem with memmap_on_memory: the memory map (struct pages) of hotplugged
# memory is carved from the hotplugged memory itself, not from existing RAM.
#
#   DAX_KMEM_TEST_DEV=daxX.Y   a device in devdax mode whose memory is unused
#
# Needs memory_hotplug.memmap_on_memory=1 on the kernel command line. If
# DAX_KMEM_TEST_DEV is unset the whole test SKIPs.

# shellcheck disable=SC1091
DIR="$(dirname "$(readlink -f "$0")")"
. "$DIR"/../kselftest/ktap_helpers.sh
. "$DIR"/dax-kmem-lib.sh

ktap_print_header

DAX=${DAX_KMEM_TEST_DEV:-}
PARAM=/sys/module/memory_hotplug/parameters/memmap_on_memory
if [ "$UID" != 0 ] || [ -z "$DAX" ] || [ "$(dax_driver)" != device_dax ]; then
	ktap_skip_all "run as root with DAX_KMEM_TEST_DEV set to a devdax-mode daxX.Y"
	exit "$KSFT_SKIP"
fi
if [ "$(cat "$PARAM" 2> /dev/null)" != Y ]; then
	ktap_skip_all "boot with memory_hotplug.memmap_on_memory=1"
	exit "$KSFT_SKIP"
fi

bs=$(block_size)
mt0=$(memtotal_kb)
ktap_set_plan 5

echo 1 > "$DAX_BASE/$DAX/memmap_on_memory" 2> /dev/null
if [ "$(cat "$DAX_BASE/$DAX/memmap_on_memory")" = 1 ]; then
	ktap_test_pass "$DAX memmap_on_memory set"
else
	ktap_test_fail "$DAX memmap_on_memory: $(cat "$DAX_BASE/$DAX/memmap_on_memory")"
fi

out=$(daxctl reconfigure-device --mode=system-ram "$DAX" 2>&1); rc=$?
mapfile -t blocks < <(kmem_blocks)
on=$(count_online "${blocks[@]}")
if [ "$rc" = 0 ] && [ "$(dax_driver)" = kmem ] && [ "${#blocks[@]}" -gt 0 ] &&
   [ "$on" = "${#blocks[@]}" ]; then
	ktap_test_pass "bound to kmem, all $on blocks online"
else
	ktap_test_fail "bind: rc=$rc driver=$(dax_driver) online $on of ${#blocks[@]}: $out"
fi

# Each block keeps its own memory map: 64 bytes (struct page) per 4 KiB page.
kb=$(kmem_bytes)
memmap=$(( ${#blocks[@]} * bs * 64 / 4096 ))
mt1=$(memtotal_kb)
if [ $((mt1 - mt0)) = $(((kb - memmap) / 1024)) ]; then
	msg="MemTotal up by $(((mt1 - mt0) >> 10)) MiB: the $((kb >> 20)) MiB"
	ktap_test_pass "$msg added less its $((memmap >> 20)) MiB memory map"
else
	msg="MemTotal up by $((mt1 - mt0)) kB; added $((kb / 1024))"
	ktap_test_fail "$msg kB, memory map $((memmap / 1024)) kB"
fi

out=$(daxctl reconfigure-device --mode=devdax -f "$DAX" 2>&1); rc=$?
if [ "$rc" = 0 ] && [ "$(dax_driver)" = device_dax ]; then
	ktap_test_pass "back to devdax"
else
	ktap_test_fail "devdax: rc=$rc driver=$(dax_driver): $out"
fi

mt2=$(memtotal_kb)
if [ "$mt2" = "$mt0" ] && [ "$(kmem_bytes)" = 0 ]; then
	ktap_test_pass "MemTotal back to $mt0 kB"
else
	ktap_test_fail "MemTotal $mt2 kB (was $mt0), $(kmem_bytes) kmem bytes left"
fi

ktap_finished
