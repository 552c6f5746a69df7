#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kmem on a dax device of several ranges, built through the `mapping`
# attribute of a dynamic dax region (HMEM, CXL): one block-aligned range,
# one smaller than a memory block, one misaligned. kmem skips the small one
# with a message, truncates the misaligned one to whole blocks and says by
# how much, reserves each range it uses under the device's name, adds
# exactly those bytes, and unplugs and onlines all ranges at once through
# `state`. While kmem holds the device, `mapping` must refuse to change its
# ranges (-EBUSY, as `size` does): they belong to the driver.
#
#   DAX_KMEM_TEST_SEED=daxX.Y  an empty (size 0) device of a dynamic dax
#                              region with at least eight memory blocks free
#
# The kmem module must be loaded. If DAX_KMEM_TEST_SEED is unset the whole
# test SKIPs.

# shellcheck disable=SC1091
DIR="$(dirname "$(readlink -f "$0")")"
. "$DIR"/../kselftest/ktap_helpers.sh
. "$DIR"/dax-kmem-lib.sh

ktap_print_header

DAX=${DAX_KMEM_TEST_SEED:-}
if [ "$UID" != 0 ] || [ -z "$DAX" ] || [ ! -d "$KMEM_DRV" ]; then
	ktap_skip_all "run as root, kmem loaded," \
		"DAX_KMEM_TEST_SEED an empty daxX.Y of a dynamic region"
	exit "$KSFT_SKIP"
fi
D=$DAX_BASE/$DAX
REGION=$(readlink -f "$D/..")/dax_region
bs=$(block_size)
if [ "$(cat "$D/size")" != 0 ] || [ "$(cat "$REGION/available_size")" -lt $((8 * bs)) ]; then
	ktap_skip_all "$DAX is not empty, or its region has less than 8 blocks free"
	exit "$KSFT_SKIP"
fi
[ "$(dax_driver)" = none ] || echo "$DAX" > "/sys/bus/dax/drivers/$(dax_driver)/unbind"

hex() { printf '%#x' "$1"; }

ktap_set_plan 12
mt0=$(memtotal_kb)
res0=$(dax_reservations)

R=$(dax_free_start "$D") || ktap_exit_fail_msg "cannot allocate from the region of $DAX"
small=$((64 << 20))
mis=$((32 << 20))
r0="$(hex $R)-$(hex $((R + 2 * bs - 1)))"
r1="$(hex $((R + 3 * bs)))-$(hex $((R + 3 * bs + small - 1)))"
r2="$(hex $((R + 4 * bs + mis)))-$(hex $((R + 6 * bs + mis - 1)))"
w=$(dax_add_ranges "$D" "$r0" "$r1" "$r2")
size=$(cat "$D/size")
[ "$w" = ok ] && [ "$size" = $((4 * bs + small)) ] && [ -e "$D/mapping2" ]
result $? "$DAX built from $r0, $r1 (smaller than a block)," \
	"$r2 (misaligned): size $((size >> 20)) MiB ($w)"

dmesg -C 2> /dev/null
w=$(kmem_bind)
[ "$w" = ok ] && [ "$(dax_driver)" = kmem ]
result $? "kmem bound $DAX: $w"
log=$(dmesg)
grep -qF "$DAX: mapping1: $r1 too small after alignment" <<< "$log"
result $? "mapping1 reported too small after alignment"
trunc=$(string_get_size $((size - 3 * bs)))
grep -qF "$DAX: DAX region truncated by $trunc due to alignment" <<< "$log"
result $? "truncation reported in human units: $trunc"

w=$(kmem_online_movable)
iomem_scan
want="$(printf '%x %x' $R $((R + 2 * bs - 1)))"
want="$want|$(printf '%x %x' $((R + 5 * bs)) $((R + 6 * bs - 1)))"
got=$(IFS='|'; echo "${KMEM_RANGES[*]}")
[ "$got" = "$want" ] && [ "$DAX_RES" = $((res0 + 2)) ]
result $? "one reservation per usable range under $DAX: ${got:-none} (want $want)," \
	"$DAX_RES resources named $DAX"
added=$(($(memtotal_kb) - mt0))
[ "$w" = ok ] && [ "$added" = $((3 * bs / 1024)) ]
result $? "online_movable: MemTotal +$added kB (want $((3 * bs / 1024)): ranges 0 and 2) ($w)"

w=$(dax_write "$D/state" unplugged)
[ "$w" = ok ] && [ "$(memtotal_kb)" = "$mt0" ] && [ -z "$(kmem_ranges)" ]
result $? "state unplugged: every range gone at once, MemTotal $mt0 kB ($w)"
w=$(dax_write "$D/state" online_movable)
[ "$w" = ok ] && [ "$(($(memtotal_kb) - mt0))" = $((3 * bs / 1024)) ] &&
	[ "$(kmem_ranges | wc -l)" = 2 ]
result $? "state online_movable: both ranges back ($w)"

extra="$(hex $((R + 7 * bs)))-$(hex $((R + 8 * bs - 1)))"
w=$(dax_write "$D/mapping" "$extra")
[ "$w" = "Device or resource busy" ]
result $? "mapping write while kmem holds $DAX refused: $w"
[ "$(cat "$D/size")" = "$size" ] && [ ! -e "$D/mapping3" ]
result $? "$DAX keeps its $((size >> 20)) MiB and three ranges"

w=$(dax_write "$D/state" unplugged)
[ "$w" = ok ] && w=$(kmem_unbind)
iomem_scan
[ "$w" = ok ] && [ "${#KMEM_RANGES[@]}" = 0 ] && [ "$KMEM_NAMES" = 0 ] &&
	[ "$DAX_RES" = "$res0" ] && [ "$(memtotal_kb)" = "$mt0" ]
rc=$?
[ "$rc" = 0 ] || grep -B1 -A1 kmem /proc/iomem | sed 's/^/# iomem: /'
result $rc "unplug and unbind leave nothing: $KMEM_NAMES System RAM (kmem)," \
	"$DAX_RES resources named $DAX, MemTotal $(memtotal_kb) kB ($w)"

w=$(dax_write "$D/size" 0)
[ "$w" = ok ] && [ "$(cat "$D/size")" = 0 ]
result $? "$DAX emptied again ($w)"

ktap_finished
