#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Stress and abuse of a kmem-bound dax device, with the module unloaded and
# reloaded after every scenario:
#   - bind/unbind cycles (through sysfs), half of them with the memory
#     onlined at probe; /proc/iomem, MemTotal and the memory blocks checked
#     after every step;
#   - state cycles through online, online_kernel, online_movable and
#     unplugged (online_movable and unplugged only on a memory-only node,
#     see below); then writers racing on state, and readers beside them;
#   - hostile writes to state: a fixed corpus, and a generated one;
#   - unbind while online (stuck until reboot), unload and reload after it;
#   - kmemleak clean before that last scenario (when the kernel has kmemleak).
#
#   DAX_KMEM_TEST_DEV=daxX.Y        a device in devdax mode whose memory is
#                                   unused (it is hotplugged and removed many
#                                   times; the last test leaves it wedged
#                                   until reboot)
#   DAX_KMEM_TEST_MODULE=kmem.ko    the module to reload (default: modprobe)
#   DAX_KMEM_STRESS_CYCLES=200      bind/unbind cycles, and state cycles
#   DAX_KMEM_STRESS_RACE_SECS=30    how long the writers race
#   DAX_KMEM_STRESS_WRITES=10000    generated hostile writes
#   DAX_KMEM_TEST_AUTOBIND=0        1: loading kmem binds the device (of a
#                                   kmem-type region, as CXL RAM regions are)
#   DAX_KMEM_TEST_KMEMLEAK=auto     1: the kmemleak check must run; 0: not
#                                   planned; auto: SKIP without kmemleak
#
# If DAX_KMEM_TEST_DEV is unset the whole test SKIPs.

# shellcheck disable=SC1091
DIR="$(dirname "$(readlink -f "$0")")"
. "$DIR"/../kselftest/ktap_helpers.sh
. "$DIR"/dax-kmem-lib.sh

HELPER="$DIR/dax-kmem-helper.py"
CYCLES=${DAX_KMEM_STRESS_CYCLES:-200}
RACE_SECS=${DAX_KMEM_STRESS_RACE_SECS:-30}
WRITES=${DAX_KMEM_STRESS_WRITES:-10000}
KMEM_MODULE=${DAX_KMEM_TEST_MODULE:-}
LEAK=${DAX_KMEM_TEST_KMEMLEAK:-auto}
EBUSY="Device or resource busy"
TYPES=(online online_kernel online_movable)

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
PYTHON=$(command -v /usr/bin/python3 python3 | head -1)
for tool in "$PYTHON"; do
	if ! command -v "$tool" > /dev/null; then
		ktap_skip_all "${tool:-python3} is not installed"
		exit "$KSFT_SKIP"
	fi
done
HP=$DAX_BASE/$DAX/state
AUTO=$MEM_BASE/auto_online_blocks
AUTO0=$(cat "$AUTO")

plan=11
[ "$LEAK" = 0 ] || plan=$((plan + 1))
ktap_set_plan "$plan"

# --- setup: away from device_dax, once through kmem for the sizes -------------
kmem_baseline

# On a memory-only node (no memory but the device's: an HMEM or CXL node),
# online_pages() starts the node's kswapd and kcompactd when its first
# memory comes online, and their task structs and stacks are allocated on
# the node: in a kernel zone, in the device's memory. offline_pages() cannot
# migrate them and stops the threads only once the node has no memory left,
# so after online or online_kernel the memory stays until reboot, on either
# driver. There the cycles and the race keep to online_movable and unplugged.
NODE=$(cat "$DAX_BASE/$DAX/target_node")
has_memory=$(cat /sys/devices/system/node/has_memory)
memory_only=1
for r in ${has_memory//,/ }; do
	[ "${r%-*}" -le "$NODE" ] && [ "$NODE" -le "${r#*-}" ] && memory_only=0
done
if [ "$memory_only" = 1 ]; then
	TYPES=(online_movable)
	ktap_print_msg "node $NODE has no memory but $DAX's (has_memory $has_memory): states online_movable and unplugged only"
fi

# --- 1. bind/unbind cycles ------------------------------------------------------
# Even cycles probe with the memory left offline (this kernel's default);
# odd cycles with auto_online_blocks=online_movable, so probe onlines it and
# the cycle unplugs it through state before unbinding.
fails=0 first="" t0=$SECONDS
for ((i = 1; i <= CYCLES; i++)); do
	why=""
	if ((i % 2)); then
		echo online_movable > "$AUTO"
		want=online_movable
	else
		echo offline > "$AUTO"
		want=offline
	fi
	r=$(kmem_bind)
	kmem_state_get
	if [ "$r" != ok ] || [ "$STATE" != "$want" ]; then
		why="cycle $i: bind $r, state $STATE (want $want)"
	else
		kmem_check_get
		why=${WHY:+cycle $i bound: $WHY}
	fi
	# Never unbind while online: that leaves the memory stuck until reboot.
	kmem_state_get
	if [ "$STATE" != offline ] && [ "$STATE" != - ]; then
		r=$(dax_write "$HP" unplugged)
		[ -n "$why" ] || [ "$r" = ok ] || why="cycle $i: unplugged: $r"
	fi
	dax_driver_get
	if [ "$DRIVER" = kmem ]; then
		r=$(kmem_unbind)
		[ -n "$why" ] || [ "$r" = ok ] || why="cycle $i: unbind: $r"
	fi
	[ -n "$why" ] || { kmem_check_get; why=${WHY:+cycle $i unbound: $WHY}; }
	if [ -n "$why" ]; then
		fails=$((fails + 1))
		[ -n "$first" ] || first=$why
		ktap_print_msg "$why"
	fi
done
echo "$AUTO0" > "$AUTO"
if [ "$fails" = 0 ]; then
	ktap_test_pass "$CYCLES bind/unbind cycles: iomem, MemTotal and blocks back every time ($((SECONDS - t0))s)"
else
	ktap_test_fail "$CYCLES bind/unbind cycles: $fails failed, first: $first"
fi
r=$(kmem_bind)
[ "$r" = ok ] && [ "$(kmem_state)" = offline ] && r=$(dax_write "$HP" unplugged)
[ "$r" = ok ] || ktap_print_msg "bind for the reload: $r"
kmem_reload_test "bind/unbind cycles"

# --- 2. state cycles ------------------------------------------------------------
fails=0 first="" retries=0 t0=$SECONDS
for ((i = 0; i < CYCLES; i++)); do
	t=${TYPES[i % ${#TYPES[@]}]}
	r=$(dax_write "$HP" "$t")
	why=""
	[ "$r" = ok ] || why="cycle $((i + 1)): $t: $r"
	[ -n "$why" ] || { kmem_check_get; why=${WHY:+cycle $((i + 1)) $t: $WHY}; }
	# Kernel allocations may land in ZONE_NORMAL blocks and hold them for a
	# moment: a busy unplug after online/online_kernel is retried, and counted.
	for try in 1 2 3 4; do
		r=$(dax_write "$HP" unplugged)
		if [ "$r" != "$EBUSY" ] || [ "$t" = online_movable ] || [ "$try" = 4 ]; then
			break
		fi
		retries=$((retries + 1))
		sleep 1
	done
	[ -n "$why" ] || [ "$r" = ok ] || why="cycle $((i + 1)): unplugged after $t: $r"
	[ -n "$why" ] || { kmem_check_get; why=${WHY:+cycle $((i + 1)) unplugged: $WHY}; }
	if [ -n "$why" ]; then
		fails=$((fails + 1))
		[ -n "$first" ] || first=$why
		ktap_print_msg "$why"
	fi
done
STATE_SECS=$((SECONDS - t0))
if [ "$fails" = 0 ]; then
	ktap_test_pass "$CYCLES state cycles through ${TYPES[*]} and unplugged: consistent after every write ($retries busy unplug retries, $((SECONDS - t0))s)"
else
	ktap_test_fail "$CYCLES state cycles: $fails failed, first: $first"
fi

# --- 3. writers racing on state ---------------------------------------------------
# Every write must succeed or fail with EBUSY (a transition from one online
# type to another); whatever the last one left must be consistent. Two
# readers read state meanwhile: every read must return a state the device
# can be in (one the writers write, or the state before the race), and no
# read may wait for a transition: the slowest read must take less than
# half the mean transition of part 2 (each unplug or online of the whole
# device), both printed.
race=$(mktemp -d)
st0=$(kmem_state)
for w in 1 2 3 4; do
	(
		RANDOM=$w
		end=$((SECONDS + RACE_SECS))
		vals=("${TYPES[@]}" unplugged)
		while [ "$SECONDS" -lt "$end" ]; do
			dax_write "$HP" "${vals[RANDOM % ${#vals[@]}]}"
		done > "$race/w$w"
	) &
done
for rd in 1 2; do
	(
		end=$((SECONDS + RACE_SECS))
		n=0 max=0
		declare -A seen=()
		while [ "$SECONDS" -lt "$end" ]; do
			t=${EPOCHREALTIME/./}
			v=""
			read -r v < "$HP"
			t=$((${EPOCHREALTIME/./} - t))
			((t > max)) && max=$t
			seen[${v:-<empty>}]=1
			n=$((n + 1))
		done
		echo "$n $max ${!seen[*]}"
	) > "$race/r$rd" &
done
wait
nw=$(cat "$race"/w* | wc -l)
oks=$(cat "$race"/w* | grep -cx ok)
busy=$(cat "$race"/w* | grep -cx "$EBUSY")
other=$(cat "$race"/w* | grep -vx -e ok -e "$EBUSY" | sort | uniq -c | tr -s ' \n' ' ')
nr=0 rmax=0 rstates=""
for rd in 1 2; do
	read -r n max states < "$race/r$rd"
	nr=$((nr + ${n:-0}))
	((${max:-0} > rmax)) && rmax=$max
	rstates+=" $states"
done
rm -rf "$race"
bad_reads=""
for v in $(tr ' ' '\n' <<< "$rstates" | sort -u); do
	case " ${TYPES[*]} unplugged $st0 " in
	*" $v "*) ;;
	*) bad_reads+=" $v" ;;
	esac
done
# Part 2 made 2 * CYCLES transitions in STATE_SECS seconds.
half_us=$((STATE_SECS * 1000000 / (2 * CYCLES) / 2))
why=$(kmem_check "after the race")
ktap_print_msg "state readers: $nr reads, slowest $((rmax / 1000)) ms; mean transition of part 2 $((half_us / 500)) ms"
if [ "$nw" -gt 0 ] && [ -z "$other" ] && [ -z "$why" ]; then
	ktap_test_pass "4 writers racing on state for ${RACE_SECS}s: $nw writes, all ok ($oks) or EBUSY ($busy); final state $(kmem_state) consistent"
else
	ktap_test_fail "4 writers racing on state: $nw writes, $oks ok, $busy EBUSY, other:${other:- none}; ${why:-consistent}"
fi
if [ "$nr" -gt 0 ] && [ -z "$bad_reads" ] && [ "$rmax" -lt "$half_us" ]; then
	ktap_test_pass "2 state readers beside the writers: $nr reads, each a state the device can be in, none waited for a transition (slowest $((rmax / 1000)) ms < $((half_us / 1000)) ms)"
else
	ktap_test_fail "2 state readers beside the writers: $nr reads, unexpected:${bad_reads:- none}; slowest $((rmax / 1000)) ms (want < $((half_us / 1000)) ms, half a mean transition)"
fi
for try in 1 2 3 4 5; do
	r=$(dax_write "$HP" unplugged)
	[ "$r" = ok ] && break
	sleep 1
done
[ "$r" = ok ] || ktap_print_msg "unplug after the race: $r"
kmem_reload_test "state cycles and the race"
# (Unplug with a process's data on the device is dax-kmem-data.sh's.)

# --- 4. hostile state input ---------------------------------------------------------
# corpus NAME ARGS... -- run the helper's corpus check; one KTAP result.
corpus() {
	local name=$1 out rc
	shift
	out=$("$PYTHON" "$HELPER" corpus "$@" 2>&1)
	rc=$?
	while IFS= read -r l; do
		ktap_print_msg "${l#\# }"
	done <<< "$out"
	local n nfail
	n=$(grep -c '^PASS\|^FAIL' <<< "$out")
	nfail=$(grep -c '^FAIL' <<< "$out")
	if [ "$rc" = 0 ] && [ "$n" = 1 ] && [ "$nfail" = 0 ]; then
		# one check over many writes: its own summary says what ran
		ktap_test_pass "$name: $(sed -n 's/^PASS [^:]*: //p' <<< "$out")"
	elif [ "$rc" = 0 ] && [ "$n" -gt 0 ] && [ "$nfail" = 0 ]; then
		ktap_test_pass "$name: $n check(s), every result and state as kmem.c's parsing predicts"
	else
		ktap_test_fail "$name: $nfail of $n check(s) failed (helper rc $rc)"
	fi
}
corpus "fixed corpus in unplugged" fixed "$HP"
r=$(dax_write "$HP" online_movable)
corpus "fixed corpus in online_movable" fixed "$HP"
corpus "generated corpus" random "$HP" 6 "$WRITES"
why=$(kmem_check "after the corpora")
if [ "$(kmem_state)" = online_movable ] && [ -z "$why" ]; then
	ktap_print_msg "state online_movable and consistent after all hostile writes"
else
	ktap_print_msg "after the hostile writes: state $(kmem_state) $why"
fi

# --- 5. kmemleak, before the stuck unbind (which leaks until reboot by design) ---
kmemleak_test "$LEAK" "all scenarios"

# --- 6. unbind while online, unload and reload -------------------------------------
# The memory stays online, kmem's reservation stays (until reboot); rmmod
# must work, and a new bind must fail cleanly on the reservation it leaves.
r=$(kmem_unbind)
kb=$(kmem_bytes)
names=$(grep -c "System RAM (kmem)" /proc/iomem)
r2=$(kmem_reload "$KMEM_MODULE")
r3=$(kmem_bind)
drv=$(dax_driver)
if [ "$r" = ok ] && [ "$kb" = "$TOTAL" ] && [ "$names" -gt 0 ] && [ "$r2" = ok ] &&
   [ "$r3" != ok ] && [ "$drv" = none ] && [ "$(memtotal_kb)" = $((MT0 + TOTAL / 1024)) ]; then
	ktap_test_pass "stuck unbind (online): memory stays, rmmod+insmod ok, rebind refused: $r3"
else
	ktap_test_fail "stuck unbind: unbind $r, kmem bytes $kb, names $names, reload $r2, rebind $r3, driver $drv"
fi
r=$(kmem_reload "$KMEM_MODULE")
if [ "$r" = ok ] && grep -q "System RAM (kmem)" /proc/iomem; then
	ktap_test_pass "unload and reload after the stuck unbind and refused bind: ok, /proc/iomem intact"
else
	ktap_test_fail "unload and reload after the stuck unbind: $r"
fi

ktap_finished
