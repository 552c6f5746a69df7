#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kmem must reject a dax device with no whole memory block in it: it warns,
# fails the probe with -EINVAL, and leaves nothing reserved or added.
#
#   DAX_KMEM_TEST_DEV=daxX.Y   a devdax-mode device smaller than one memory
#                              block (e.g. from a 64M memmap= pmem region)
#
# The kmem module must be loaded. If DAX_KMEM_TEST_DEV is unset the whole
# test SKIPs.

# shellcheck disable=SC1091
DIR="$(dirname "$(readlink -f "$0")")"
. "$DIR"/../kselftest/ktap_helpers.sh
. "$DIR"/dax-kmem-lib.sh

ktap_print_header

DAX=${DAX_KMEM_TEST_DEV:-}
KMEM=/sys/bus/dax/drivers/kmem
if [ "$UID" != 0 ] || [ -z "$DAX" ] || [ "$(dax_driver)" != device_dax ] || [ ! -d "$KMEM" ]; then
	ktap_skip_all "run as root, kmem loaded, DAX_KMEM_TEST_DEV a devdax-mode daxX.Y"
	exit "$KSFT_SKIP"
fi
size=$(cat "$DAX_BASE/$DAX/size")
bs=$(block_size)
if [ "$size" -ge "$bs" ]; then
	ktap_skip_all "$DAX has $((size >> 20)) MiB: not smaller than a $((bs >> 20)) MiB block"
	exit "$KSFT_SKIP"
fi

mt0=$(memtotal_kb)
ktap_set_plan 4
ktap_print_msg "$DAX: $((size >> 20)) MiB, block size $((bs >> 20)) MiB"

dmesg -C 2> /dev/null
echo "$DAX" > /sys/bus/dax/drivers/device_dax/unbind
echo "$DAX" > "$KMEM/new_id" 2> /dev/null
if [ "$(dax_driver)" = none ]; then
	ktap_test_pass "kmem did not bind $DAX"
else
	ktap_test_fail "$DAX is bound to $(dax_driver)"
fi

if dmesg | grep -qE "kmem $DAX: mapping0: 0x[0-9a-f]+-0x[0-9a-f]+ too small after alignment"; then
	ktap_test_pass "mapping0 reported too small after alignment"
else
	ktap_test_fail "no 'mapping0: ...-... too small after alignment' for $DAX in dmesg"
fi

if dmesg | grep -qF "kmem $DAX: rejecting DAX region without any memory after alignment"; then
	ktap_test_pass "rejected without any memory after alignment"
else
	ktap_test_fail "no 'rejecting DAX region without any memory after alignment' in dmesg"
fi

if [ "$(memtotal_kb)" = "$mt0" ] && ! grep -qE " : $DAX\$" /proc/iomem; then
	ktap_test_pass "nothing reserved or added: MemTotal $mt0 kB"
else
	msg="MemTotal $(memtotal_kb) kB (was $mt0), $DAX in /proc/iomem:"
	ktap_test_fail "$msg $(grep -cE " : $DAX\$" /proc/iomem)"
fi

ktap_finished
