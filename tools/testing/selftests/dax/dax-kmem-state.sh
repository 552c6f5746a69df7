#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Hostile and edge-case writes to the kmem "state" attribute, then the
# destructive end of a kmem-bound device's life: unbind while online, and
# unloading the kmem module while the memory stays online.
#
#   DAX_KMEM_TEST_DEV=daxX.Y   a device bound to kmem whose memory is unused
#   DAX_KMEM_TEST_UNBIND=1     also run the destructive tests (the device stays
#                              wedged until reboot and kmem is unloaded)
#
# If DAX_KMEM_TEST_DEV is unset the whole test SKIPs.

# shellcheck disable=SC1091
DIR="$(dirname "$(readlink -f "$0")")"
. "$DIR"/../kselftest/ktap_helpers.sh
. "$DIR"/dax-kmem-lib.sh

# read_during_online -- online the device (from unplugged) in the background
# and read "state" in a loop meanwhile. A read must never wait for the
# transition: at least one read that starts in the second half of the
# online returns before the online does, and every read returns a state the
# device was in. Leaves the device online_movable.
read_during_online() {
	local tmp w n=0 mid=0 bad="" a b st wstart wend
	tmp=$(mktemp -d)
	(
		echo "$EPOCHREALTIME" > "$tmp/start"
		write_state online_movable > "$tmp/rc"
		echo "$EPOCHREALTIME" > "$tmp/end"
	) &
	w=$!
	while kill -0 "$w" 2> /dev/null; do
		a=$EPOCHREALTIME
		read -r st < "$HP"
		b=$EPOCHREALTIME
		echo "$a $b $st" >> "$tmp/reads"
	done
	wait "$w"
	read -r wstart < "$tmp/start"
	read -r wend < "$tmp/end"
	wstart=${wstart/./}
	wend=${wend/./}
	while read -r a b st; do
		a=${a/./}
		b=${b/./}
		n=$((n + 1))
		case "$st" in unplugged|online_movable) ;; *) bad="$bad $st" ;; esac
		if ((a >= wstart + (wend - wstart) / 2 && b < wend)); then
			mid=$((mid + 1))
		fi
	done < "$tmp/reads"
	local rc ms=$(((wend - wstart) / 1000))
	rc=$(cat "$tmp/rc")
	rm -rf "$tmp"
	if [ "$rc" = ok ] && [ "$mid" -gt 0 ] && [ -z "$bad" ]; then
		ktap_test_pass "state reads in a ${ms} ms online: $n, $mid returned mid-way"
	else
		ktap_test_fail "online $rc, ${ms} ms; $n reads, $mid mid-way, bad:${bad:- none}"
	fi
}

# write_state VALUE -- dax_write VALUE to the state attribute in one write(2).
write_state() {
	dax_write "$HP" "$1"
}

# expect NAME VALUE RESULT STATE -- the write of VALUE gives RESULT ("ok" or
# an error message) and leaves the state at STATE.
expect() {
	local got st
	got=$(write_state "$2")
	st=$(cat "$HP")
	if [ "$got" = "$3" ] && [ "$st" = "$4" ]; then
		ktap_test_pass "$1: $3, state $st"
	else
		ktap_test_fail "$1: got '$got', state $st (want '$3', state $4)"
	fi
}

ktap_print_header

if [ "$UID" != 0 ]; then
	ktap_skip_all "must be run as root"
	exit "$KSFT_SKIP"
fi
DAX=${DAX_KMEM_TEST_DEV:-}
if [ -z "$DAX" ] || [ "$(dax_driver)" != kmem ]; then
	ktap_skip_all "set DAX_KMEM_TEST_DEV to a kmem-bound daxX.Y"
	exit "$KSFT_SKIP"
fi
HP=$DAX_BASE/$DAX/state
DRV=/sys/bus/dax/drivers/kmem
EINVAL="Invalid argument"
EBUSY="Device or resource busy"

if [ "$(write_state unplugged)" != ok ]; then
	ktap_skip_all "$DAX: cannot reach 'unplugged' (memory in use?)"
	exit "$KSFT_SKIP"
fi
mt0=$(memtotal_kb)
ktap_set_plan 18

expect "offline refused" 'offline\n' "$EINVAL" unplugged
expect "newline only refused" '\n' "$EINVAL" unplugged
expect "garbage refused" 'bogus\n' "$EINVAL" unplugged
expect "two newlines refused" 'online_movable\n\n' "$EINVAL" unplugged
expect "4 KiB of junk refused" "$(printf 'x%.0s' $(seq 4096))" "$EINVAL" unplugged
expect "unplugged again is a no-op" 'unplugged\n' ok unplugged
expect "text after a NUL is ignored, as by sysfs_streq" 'online_movable\0junk' ok online_movable
expect "online_movable again is a no-op" 'online_movable' ok online_movable
expect "online while online_movable is busy" 'online\n' "$EBUSY" online_movable
expect "garbage while online leaves it online" 'unplug\n' "$EINVAL" online_movable
expect "unplug" 'unplugged\n' ok unplugged
# The kernel zone: fresh memory nobody has allocated from yet unplugs again.
expect "online_kernel" 'online_kernel\n' ok online_kernel
expect "unplug from online_kernel" 'unplugged\n' ok unplugged
expect "online (the default zone)" 'online\n' ok online
expect "unplug from online" 'unplugged\n' ok unplugged
read_during_online
write_state unplugged > /dev/null

if [ "$(memtotal_kb)" = "$mt0" ] && [ "$(kmem_bytes)" = 0 ]; then
	ktap_test_pass "MemTotal back to $mt0 kB, nothing left in /proc/iomem"
else
	ktap_test_fail "MemTotal $(memtotal_kb) kB (was $mt0), $(kmem_bytes) kmem bytes left"
fi

# DESTRUCTIVE (DAX_KMEM_TEST_UNBIND=1): unbind while online leaves the memory
# online and its resources in place until reboot; unloading kmem afterwards
# must keep the resource names alive, as /proc/iomem still shows them.
if [ "${DAX_KMEM_TEST_UNBIND:-}" = 1 ]; then
	write_state online_movable > /dev/null
	kb=$(kmem_bytes)
	dmesg -C 2> /dev/null
	echo "$DAX" > "$DRV/unbind" 2> /dev/null
	rmmod kmem 2> /dev/null; rc=$?
	names=$(grep -c "System RAM (kmem)" /proc/iomem)
	left=$(grep -cE " : $DAX\$" /proc/iomem)
	splat=$(dmesg | grep -ciE "KASAN|BUG:|use-after-free|general protection|Oops")
	if [ "$rc" = 0 ] && [ "$kb" -gt 0 ] && [ "$names" -gt 0 ] && [ "$left" -gt 0 ] &&
	   [ "$splat" = 0 ] && [ "$(dax_driver)" = none ]; then
		msg="unbind while online, then rmmod kmem: memory"
		ktap_test_pass "$msg and names stay, no oops"
	else
		msg="stuck unbind + rmmod: rmmod rc=$rc kmem=$kb names=$names"
		ktap_test_fail "$msg dev=$left splat=$splat driver=$(dax_driver)"
	fi
else
	ktap_test_skip "destructive unbind + rmmod test (set DAX_KMEM_TEST_UNBIND=1)"
fi

ktap_finished
