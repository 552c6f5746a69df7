#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kmem-rs guest side: runs inside the VM that `cargo kmem` boots.
#
#   kmem-rs-guest.sh prepare             turn the emulated pmem into dax0.0 (devdax)
#   kmem-rs-guest.sh suite NAME OUTDIR   run one suite: KTAP in OUTDIR/NAME.tap,
#                                        its exit status in OUTDIR/NAME.rc
#   kmem-rs-guest.sh demo OUTDIR         narrate the main job into OUTDIR/demo.txt
#   kmem-rs-guest.sh exec 0|1 CMD OUTDIR run CMD (after prepare if 1): its output
#                                        in OUTDIR/exec.out, its status in exec.rc
#
# KMEM_RS_KSRC names the kernel source tree, where the selftests live.
# KMEM_RS_MODULE, if set, is the kmem.ko to load (the C or the Rust driver)
# before anything can modprobe the default one.

KSRC=${KMEM_RS_KSRC:?KMEM_RS_KSRC must name the kernel source tree}
SELFTESTS=$KSRC/tools/testing/selftests
NS=namespace0.0
DAX=dax0.0
# The machine (tools/kmem-rs/src/vm.rs PLATFORMS): pmem, hmem or cxl.
PLATFORM=pmem
# On the CXL platform, the directory of the pinned ndctl, cxl and daxctl
# wrappers (versions.toml [ndctl], tools/kmem-rs/src/ndctl.rs): the host's
# cache, which the guest sees at the same path.
CXL_TOOLS=
for a in $(< /proc/cmdline); do
	case "$a" in
	kmem_rs.platform=*) PLATFORM=${a#*=} ;;
	kmem_rs.cxl_tools=*) CXL_TOOLS=${a#*=} ;;
	esac
done
# shellcheck disable=SC1091
. "$SELFTESTS/dax/dax-kmem-lib.sh"
# The stress test's cycles and race on the CXL region by default, instead of
# 200 and 30 s: every online and unplug of CXL memory is slow under emulation
# (docs/debug-lane.md has the measured times).
CXL_STRESS_CYCLES=40
CXL_STRESS_RACE_SECS=15

# load_kmem -- insmod $KMEM_RS_MODULE, the driver under test, or say why not.
load_kmem() {
	[ -n "${KMEM_RS_MODULE:-}" ] || return 0
	[ -e /sys/module/kmem ] && { echo "a kmem module is loaded already"; return 1; }
	insmod "$KMEM_RS_MODULE" 2> /tmp/insmod.err ||
		{ echo "insmod $KMEM_RS_MODULE failed: $(tr '\n' ' ' < /tmp/insmod.err)"; return 1; }
}

# prepare -- the platform's device as $DAX (and $NS for pmem), kmem loaded;
# on failure print why. Not in a subshell: it sets $DAX.
prepare() {
	for tool in ndctl daxctl bc numactl; do
		command -v "$tool" > /dev/null ||
			{ echo "$tool is not installed on the host (apt-get install $tool)"; return 1; }
	done
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
	load_kmem || return 1
	"prepare_$PLATFORM"
}

# wait_for PATH -- up to 10 s for PATH to appear.
wait_for() {
	local _
	for _ in $(seq 100); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# pmem_region big|small -- the legacy pmem region with the most (or least)
# memory; a small one exists only when a suite adds a second memmap=.
pmem_region() {
	local r best="" bsize=""
	for r in /sys/bus/nd/devices/region[0-9]*; do
		[ -e "$r/size" ] || continue
		if [ -z "$best" ] || { [ "$1" = big ] && [ "$(cat "$r/size")" -gt "$bsize" ]; } ||
		   { [ "$1" = small ] && [ "$(cat "$r/size")" -lt "$bsize" ]; }; then
			best=${r##*/region}
			bsize=$(cat "$r/size")
		fi
	done
	echo "$best"
}

# prepare_pmem -- the biggest pmem region's namespace as $NS, in devdax
# mode as $DAX, on a NUMA node.
prepare_pmem() {
	local node id
	wait_for /sys/bus/nd/devices/region0 ||
		{ echo "no pmem region: memmap=SIZE!START missing, or CONFIG_X86_PMEM_LEGACY off"; return 1; }
	id=$(pmem_region big)
	NS=namespace$id.0
	DAX=dax$id.0
	wait_for "/sys/bus/nd/devices/$NS" || { echo "no $NS"; return 1; }
	if [ ! -e "$DAX_BASE/$DAX" ]; then
		ndctl create-namespace -f -e "$NS" -m devdax > /dev/null 2> /tmp/ndctl.err ||
			{ echo "ndctl create-namespace -m devdax failed: $(tr '\n' ' ' < /tmp/ndctl.err)"; return 1; }
	fi
	[ -e "$DAX_BASE/$DAX" ] || { echo "ndctl made no $DAX"; return 1; }
	node=$(cat "$DAX_BASE/$DAX/target_node" 2> /dev/null || echo -1)
	[ "$node" -ge 0 ] ||
		{ echo "$DAX has target_node $node: kmem needs the pmem in a NUMA node"; return 1; }
}

# prepare_hmem -- the soft-reserved region's first device as $DAX: its
# empty seed (dax_hmem.region_idle=1), or the whole region (=0).
prepare_hmem() {
	DAX=dax0.0
	wait_for "$DAX_BASE/$DAX" ||
		{ echo "no $DAX: no Soft Reserved memory, or CONFIG_DEV_DAX_HMEM off ($(grep -c 'Soft Reserved' /proc/iomem) in /proc/iomem)"; return 1; }
}

# hmem_new -- a new empty device of the hmem region, made through the
# region's `create` attribute (as daxctl create-device does); print its name.
hmem_new() {
	local region
	region=$(readlink -f "$DAX_BASE/dax0.0/..")/dax_region
	echo 1 > "$region/create" || return 1
	cat "$region/create"
}

# hmem_delete DEV -- empty DEV and delete it from the hmem region.
hmem_delete() {
	local region
	region=$(readlink -f "$DAX_BASE/dax0.0/..")/dax_region
	echo 0 > "$DAX_BASE/$1/size" && echo "$1" > "$region/delete"
}

# hmem_device SIZE -- a new device of the hmem region with SIZE bytes.
hmem_device() {
	local dev
	dev=$(hmem_new) && [ -n "$dev" ] || return 1
	echo "$1" > "$DAX_BASE/$dev/size" || return 1
	echo "$dev"
}

# prepare_cxl -- a RAM region of the whole CXL device through the region
# sysfs ABI (Documentation/ABI/testing/sysfs-bus-cxl; ndctl 76's cxl
# create-region cannot make RAM regions), its dax device as $DAX.
prepare_cxl() {
	local cxl=/sys/bus/cxl/devices root ep size region d
	wait_for "$cxl/mem0" || { echo "no CXL memdev: QEMU cxl-type3, or CONFIG_CXL_MEM off"; return 1; }
	# mem0's endpoint port, and its first decoder, appear once cxl_mem probed.
	for _ in $(seq 100); do
		ep=$(ls -d "$cxl"/endpoint*/decoder*.0 2> /dev/null | head -1)
		[ -n "$ep" ] && break
		sleep 0.1
	done
	[ -n "$ep" ] || { echo "no CXL endpoint decoder for mem0"; return 1; }
	ep=$(readlink -f "$cxl/${ep##*/}")
	for d in "$cxl"/decoder0.*; do
		[ -e "$d/create_ram_region" ] && { root=$d; break; }
	done
	[ -n "$root" ] || { echo "no root decoder that can create RAM regions"; return 1; }
	size=$(cat "$cxl/mem0/ram/size")
	region=$(cat "$root/create_ram_region")
	cxl_write "$root/create_ram_region" "$region" &&
	cxl_write "$cxl/$region/interleave_granularity" "$(cat "$root/interleave_granularity")" &&
	cxl_write "$cxl/$region/interleave_ways" 1 &&
	cxl_write "$ep/mode" ram &&
	cxl_write "$ep/dpa_size" "$size" &&
	cxl_write "$cxl/$region/size" "$size" &&
	cxl_write "$cxl/$region/target0" "${ep##*/}" &&
	cxl_write "$cxl/$region/commit" 1 || return 1
	[ -e "/sys/bus/cxl/drivers/cxl_region/$region" ] ||
		cxl_write /sys/bus/cxl/drivers/cxl_region/bind "$region" || return 1
	CXL_REGION=$region
	CXL_ROOT=$root
	for _ in $(seq 100); do
		DAX=$(ls "$DAX_BASE" 2> /dev/null | head -1)
		[ -n "$DAX" ] && break
		sleep 0.1
	done
	[ -n "$DAX" ] || { echo "$region committed, but no dax device (CONFIG_DEV_DAX_CXL?)"; return 1; }
}

# cxl_write FILE VALUE -- write, or print what failed.
cxl_write() {
	echo "$2" > "$1" 2> /tmp/cxl.err && return 0
	echo "echo $2 > $1: $(tr '\n' ' ' < /tmp/cxl.err)"
	return 1
}

# prepare_or_bail -- prepare, or end the suite's KTAP with the reason.
prepare_or_bail() {
	if ! prepare > /tmp/prepare.why; then
		echo "Bail out! $(cat /tmp/prepare.why)"
		exit 1
	fi
	echo "# kmem-rs: $PLATFORM: $DAX: $(($(cat "$DAX_BASE/$DAX/size") >> 20)) MiB on node $(cat "$DAX_BASE/$DAX/target_node"), kernel $(uname -r)"
	echo "# kmem-rs: driver ${KMEM_RS_MODULE:-kmem from modprobe} ($(modinfo -F author "${KMEM_RS_MODULE:-kmem}" 2> /dev/null | paste -sd, -))"
}

# bind_kmem [daxctl options] -- daxctl reconfigure-device -m system-ram, or bail.
bind_kmem() {
	local out
	if ! out=$(daxctl reconfigure-device "$@" -m system-ram "$DAX" 2>&1) ||
	   [ "$(dax_driver)" != kmem ]; then
		echo "Bail out! cannot bind $DAX to kmem: $(echo "$out" | tr '\n' ' ')"
		exit 1
	fi
	echo "# kmem-rs: $DAX bound to kmem (daxctl${*:+ $*}), state $(cat "$DAX_BASE/$DAX/state" 2> /dev/null)"
}

# ktap_merge NAME FILE [NAME FILE ...] -- several selftests' KTAP as one
# stream, so the harness compares them test by test: one plan (the sum of
# theirs), each result renumbered and prefixed with its selftest's NAME,
# everything else a comment. A selftest that skipped or printed no plan
# counts as one failed test.
ktap_merge() {
	local total=0 n=0 i plan line
	local -a names files
	while [ $# -ge 2 ]; do
		names+=("$1")
		files+=("$2")
		shift 2
	done
	for i in "${!files[@]}"; do
		plan=$(grep -m1 -oE '^1\.\.[0-9]+' "${files[i]}")
		plan=${plan#1..}
		total=$((total + (${plan:-0} > 0 ? plan : 1)))
	done
	echo "TAP version 13"
	echo "1..$total"
	for i in "${!files[@]}"; do
		plan=$(grep -m1 -oE '^1\.\.[0-9]+' "${files[i]}")
		while IFS= read -r line; do
			case "$line" in
			"ok "* | "not ok "*)
				n=$((n + 1))
				line=${line#ok }
				if [ "$line" = "${line#not ok }" ]; then
					echo "ok $n ${names[i]}: ${line#[0-9]* }"
				else
					line=${line#not ok }
					echo "not ok $n ${names[i]}: ${line#[0-9]* }"
				fi
				;;
			*) echo "# $line" ;;
			esac
		done < "${files[i]}"
		if [ "${plan#1..}" = 0 ] || [ -z "$plan" ]; then
			n=$((n + 1))
			echo "not ok $n ${names[i]}: skipped or no plan: $(grep -m1 -E '^1\.\.|Bail out' "${files[i]}")"
		fi
	done
}

suite_dax_kmem_hotplug() {
	prepare_or_bail
	# -N: leave onlining to kmem's own policy, as the test's header suggests.
	bind_kmem -N
	DAX_KMEM_TEST_DEV=$DAX DAX_KMEM_TEST_UNBIND=1 bash "$SELFTESTS/dax/dax-kmem-hotplug.sh"
}

suite_mem_on_off() {
	local out rc blocks on n line
	prepare_or_bail
	bind_kmem
	mapfile -t blocks < <(kmem_blocks)
	on=$(count_online "${blocks[@]}")
	echo "TAP version 13"
	echo "1..5"
	if [ "${#blocks[@]}" -gt 0 ] && [ "$on" = "${#blocks[@]}" ]; then
		echo "ok 1 $DAX hotplugged: $on memory blocks online for the test to offline"
	else
		echo "not ok 1 $DAX hotplugged: $on of ${#blocks[@]} blocks online"
	fi
	out=$(bash "$SELFTESTS/memory-hotplug/mem-on-off-test.sh" 2>&1)
	rc=$?
	while IFS= read -r line; do echo "# $line"; done <<< "$out"
	if [ "$rc" = 0 ]; then
		echo "ok 2 mem-on-off-test.sh exit status 0"
	else
		echo "not ok 2 mem-on-off-test.sh exit status $rc"
	fi
	n=$(grep -c -- '-> Success' <<< "$out")
	if [ "$n" -gt 0 ]; then
		echo "ok 3 offlined and re-onlined $n block(s) for real (bc present)"
	else
		echo "not ok 3 no block was offlined: the test ran vacuously"
	fi
	if grep -q 'Test with memory notifier error injection' <<< "$out" &&
	   ! grep -q 'skip extra tests' <<< "$out"; then
		echo "ok 4 notifier error-injection part ran (memory-notifier-error-inject)"
	else
		echo "not ok 4 notifier error-injection part did not run"
	fi
	on=$(count_online "${blocks[@]}")
	if [ "$on" = "${#blocks[@]}" ]; then
		echo "ok 5 all $on device blocks online again afterwards"
	else
		echo "not ok 5 $on of ${#blocks[@]} device blocks online afterwards"
	fi
	[ "$rc" = 0 ]
}

suite_kmem_state() {
	prepare_or_bail
	bind_kmem -N
	DAX_KMEM_TEST_DEV=$DAX DAX_KMEM_TEST_UNBIND=1 bash "$SELFTESTS/dax/dax-kmem-state.sh"
}

suite_memmap_on_memory() {
	prepare_or_bail
	DAX_KMEM_TEST_DEV=$DAX bash "$SELFTESTS/dax/dax-kmem-memmap.sh"
}

# The second pmem region (this suite's own memmap=), smaller than a block.
suite_small_region() {
	local id
	prepare_or_bail
	id=$(pmem_region small)
	if ! ndctl create-namespace -f -e "namespace$id.0" -m devdax > /dev/null 2> /tmp/ndctl.err ||
	   [ ! -e "$DAX_BASE/dax$id.0" ]; then
		echo "Bail out! no dax$id.0 from namespace$id.0: $(tr '\n' ' ' < /tmp/ndctl.err)"
		exit 1
	fi
	DAX_KMEM_TEST_DEV=dax$id.0 bash "$SELFTESTS/dax/dax-kmem-small.sh"
}

# Node 1, which has no memory until kmem onlines its pmem: N_MEMORY, the
# default memory tier (no HMAT on this platform), and back. Run as the
# selftests' users run them: installed with the kselftest Makefile (which
# proves the Makefile fragment), then through run_kselftest.sh.
suite_node() {
	local dir=/tmp/kselftest rc
	prepare_or_bail
	if ! make -s -C "$SELFTESTS" TARGETS=dax INSTALL_PATH=$dir install > /tmp/kst.log 2>&1; then
		echo "Bail out! make -C tools/testing/selftests TARGETS=dax install failed: $(tail -3 /tmp/kst.log | tr '\n' ' ')"
		exit 1
	fi
	[ -x "$dir/dax/dax-kmem-node.sh" ] && [ -e "$dir/dax/dax-kmem-lib.sh" ] ||
		{ echo "Bail out! the kselftest install has no dax-kmem-node.sh or dax-kmem-lib.sh"; exit 1; }
	# Append mode: the runner reopens /dev/stdout, and a second file
	# offset would write over the start.
	: > /tmp/runner.tap
	DAX_KMEM_TEST_DEV=$DAX "$dir/run_kselftest.sh" -t dax:dax-kmem-node.sh >> /tmp/runner.tap 2>&1
	rc=$?
	# The selftest's own KTAP is the runner's output nested under "# ".
	sed -n 's/^# //p' /tmp/runner.tap > /tmp/node.tap
	ktap_merge run_kselftest/dax-kmem-node.sh /tmp/node.tap
	sed 's/^/# runner: /' /tmp/runner.tap
	return "$rc"
}

# Soft-reserved node 1 with HMAT: two 512 MiB devices on it (the tier
# HMAT's latency and bandwidth give, kept while either is online), then a
# device of three ranges made through `mapping` on the region's new seed.
suite_hmem() {
	local a b rc=0
	prepare_or_bail
	a=$(hmem_device $((512 << 20))) && b=$(hmem_device $((512 << 20))) ||
		{ echo "Bail out! cannot size the hmem region's seed devices"; exit 1; }
	DAX_KMEM_TEST_DEV=$a DAX_KMEM_TEST_DEV2=$b bash "$SELFTESTS/dax/dax-kmem-node.sh" > /tmp/node.tap 2>&1 || rc=1
	# Delete both: kmem's new_id entries for them would otherwise probe
	# them again whenever a later new_id makes kmem attach.
	hmem_delete "$a" && hmem_delete "$b" || rc=1
	DAX_KMEM_TEST_SEED=$(hmem_new) bash "$SELFTESTS/dax/dax-kmem-ranges.sh" > /tmp/ranges.tap 2>&1 || rc=1
	ktap_merge node /tmp/node.tap ranges /tmp/ranges.tap
	return "$rc"
}

# hmem_two_ranges -- a device of the hmem region made of two ranges of two
# memory blocks each, one block apart, bound to device_dax; its name.
hmem_two_ranges() {
	local dev d bs r
	bs=$(block_size)
	dev=$(hmem_new) && [ -n "$dev" ] || return 1
	d=$DAX_BASE/$dev
	r=$(dax_free_start "$d") || return 1
	[ "$(dax_add_ranges "$d" "$(printf '%#x-%#x' "$r" $((r + 2 * bs - 1)))" \
		"$(printf '%#x-%#x' $((r + 3 * bs)) $((r + 5 * bs - 1)))")" = ok ] || return 1
	echo "$dev" > /sys/bus/dax/drivers/device_dax/bind || return 1
	echo "$dev"
}

# Users' data on kmem's memory (dax-kmem-data.sh): the pmem device, a
# 512 MiB device of the HMEM region, and the CXL region's device (small
# buffers: its memory is MMIO under emulation).
suite_data() {
	prepare_or_bail
	DAX_KMEM_TEST_DEV=$DAX bash "$SELFTESTS/dax/dax-kmem-data.sh"
}
suite_hmem_data() {
	local dev
	prepare_or_bail
	dev=$(hmem_device $((512 << 20))) ||
		{ echo "Bail out! cannot size a device of the hmem region"; exit 1; }
	DAX_KMEM_TEST_DEV=$dev bash "$SELFTESTS/dax/dax-kmem-data.sh"
}
suite_cxl_data() {
	prepare_or_bail
	DAX_KMEM_TEST_DEV=$DAX DAX_KMEM_DATA_MIB=48 DAX_KMEM_DATA_MOVE_MIB=32 \
		bash "$SELFTESTS/dax/dax-kmem-data.sh"
}

# dax_hmem.region_idle=0: the whole region is one device of the kmem type,
# which kmem binds as soon as it is loaded (prepare loaded it), onlined as
# the system's default policy says (memory_hotplug.online_policy on this
# boot's command line: online_movable).
suite_hmem_probe() {
	local mt0 bs size policy
	prepare_or_bail
	echo "TAP version 13"
	echo "1..4"
	size=$(cat "$DAX_BASE/$DAX/size")
	if [ "$(dax_driver)" = kmem ]; then
		echo "ok 1 kmem bound $DAX at insmod"
	else
		echo "not ok 1 $DAX is bound to $(dax_driver) after insmod of kmem"
	fi
	policy=$(cat /sys/devices/system/memory/auto_online_blocks)
	if [ "$(kmem_state)" = "$policy" ] && [ "$(kmem_bytes)" = "$size" ]; then
		echo "ok 2 state $(kmem_state), the default policy; $((size >> 20)) MiB added"
	else
		echo "not ok 2 state $(kmem_state), policy $policy, $(kmem_bytes) of $size bytes added"
	fi
	mt0=$(memtotal_kb)
	if [ "$(dax_write "$DAX_BASE/$DAX/state" unplugged)" = ok ] &&
	   [ "$(kmem_unbind)" = ok ] && [ "$(kmem_bytes)" = 0 ] &&
	   [ $((mt0 - $(memtotal_kb))) = $((size / 1024)) ]; then
		echo "ok 3 unplug and unbind removed all $((size >> 20)) MiB"
	else
		echo "not ok 3 unplug and unbind: $(kmem_bytes) bytes left, MemTotal $mt0 -> $(memtotal_kb) kB"
	fi
	if [ "$(kmem_bind)" = ok ] && [ "$(kmem_online_movable)" = ok ] &&
	   [ "$(memtotal_kb)" = "$mt0" ]; then
		echo "ok 4 bound and onlined movable again"
	else
		echo "not ok 4 rebind: driver $(dax_driver), state $(kmem_state), MemTotal $(memtotal_kb) kB (want $mt0)"
	fi
}

# The CXL region's device, which kmem bound when the region appeared: the
# node that the CXL window made, MemTotal, state, then region teardown.
suite_cxl() {
	local size mt0 r
	prepare_or_bail
	echo "# kmem-rs: $CXL_REGION: $(cat "/sys/bus/cxl/devices/$CXL_REGION/resource") +$(($(cat "/sys/bus/cxl/devices/$CXL_REGION/size") >> 20)) MiB"
	exec 3>&1 > /tmp/cxl-a.tap
	echo "1..4"
	size=$(cat "$DAX_BASE/$DAX/size")
	if [ "$(dax_driver)" = kmem ] && [ "$(kmem_bytes)" = "$size" ]; then
		echo "ok 1 kmem bound $DAX when the region appeared: $((size >> 20)) MiB added, state $(kmem_state)"
	else
		echo "not ok 1 $DAX: driver $(dax_driver), $(kmem_bytes) of $size bytes added"
	fi
	# MemTotal counts online memory only: take it before onlining.
	r=$(dax_write "$DAX_BASE/$DAX/state" unplugged)
	mt0=$(memtotal_kb)
	[ "$r" = ok ] && r=$(kmem_online_movable)
	if [ "$r" = ok ] && [ "$(memtotal_kb)" = $((mt0 + size / 1024)) ]; then
		echo "ok 2 online_movable: MemTotal +$((size >> 10)) kB"
	else
		echo "not ok 2 online_movable: $r, MemTotal $(memtotal_kb) kB (want $((mt0 + size / 1024)))"
	fi
	r=$(dax_write "$DAX_BASE/$DAX/state" unplugged)
	if [ "$r" = ok ] && [ "$(memtotal_kb)" = "$mt0" ] && [ "$(kmem_bytes)" = 0 ]; then
		echo "ok 3 state unplugged: MemTotal back to $mt0 kB"
	else
		echo "not ok 3 state unplugged: $r, MemTotal $(memtotal_kb) kB, $(kmem_bytes) bytes left"
	fi
	r=$(kmem_unbind)
	if [ "$r" = ok ] && [ "$(kmem_bytes)" = 0 ]; then
		echo "ok 4 unbind"
	else
		echo "not ok 4 unbind: $r"
	fi
	# The node and tier transitions, on this device (bound again by it).
	DAX_KMEM_TEST_DEV=$DAX bash "$SELFTESTS/dax/dax-kmem-node.sh" > /tmp/node.tap 2>&1
	exec > /tmp/cxl-b.tap
	echo "1..1"
	r=$(cxl_write "/sys/bus/cxl/devices/$CXL_REGION/commit" 0 &&
	    cxl_write "$CXL_ROOT/delete_region" "$CXL_REGION" && echo ok)
	if [ "$r" = ok ] && [ ! -e "/sys/bus/cxl/devices/$CXL_REGION" ] &&
	   [ ! -e "$DAX_BASE/$DAX" ] && [ "$(memtotal_kb)" = "$mt0" ] &&
	   ! grep -q "$CXL_REGION" /proc/iomem; then
		echo "ok 1 region torn down after unplug: $CXL_REGION and $DAX gone"
	else
		echo "not ok 1 teardown: $r; $CXL_REGION $([ -e "/sys/bus/cxl/devices/$CXL_REGION" ] || echo not) in sysfs, $DAX $([ -e "$DAX_BASE/$DAX" ] || echo not) in sysfs, MemTotal $(memtotal_kb) kB (want $mt0)"
		grep -A3 "CXL Window" /proc/iomem | sed 's/^/# iomem: /'
	fi
	# The same device again, the way CXL admins do it: the cxl and daxctl
	# tools (81, pinned by the host), not the region sysfs ABI by hand.
	cxl_cli "$mt0" "$size" > /tmp/cxl-c.tap
	exec >&3 3>&-
	ktap_merge cxl /tmp/cxl-a.tap node /tmp/node.tap cxl /tmp/cxl-b.tap \
		cxl-cli /tmp/cxl-c.tap
}

# cxl_tools_check -- the pinned cxl and daxctl run here and answer with
# their release (the name of their unpack: ndctl/RELEASE/bin); else why not.
cxl_tools_check() {
	local t v want=${CXL_TOOLS%/bin}
	want=${want##*/}
	[ -n "$CXL_TOOLS" ] || {
		echo "the host passed no kmem_rs.cxl_tools=: its cache has no unpack of the pinned ndctl (versions.toml [ndctl]; cargo kmem setup fetches it, and says what failed)"
		return 1
	}
	for t in cxl daxctl; do
		v=$("$CXL_TOOLS/$t" --version 2>&1)
		[ "$v" = "$want" ] ||
			{ echo "$CXL_TOOLS/$t --version answers '$(echo "$v" | tr '\n' ' ')', not $want"; return 1; }
	done
}

# cxl_cli MT0 SIZE -- after the sysfs-made region's teardown (MemTotal
# MT0), a RAM region of the whole device (SIZE bytes) made by `cxl
# create-region`, onlined through kmem by `daxctl reconfigure-device -m
# system-ram`, given back by `-m devdax -f`, and destroyed by `cxl`. A test
# that cannot run because an earlier step failed fails with that reason.
cxl_cli() {
	local mt0=$1 size=$2 why="" out r="" node=-1 d dpath
	local cxl=/sys/bus/cxl/devices
	echo "1..5"
	if why=$(cxl_tools_check); then
		echo "ok 1 cxl and daxctl $(cxl_run cxl --version) run in the guest ($CXL_TOOLS)"
	else
		echo "not ok 1 cxl tools: $why"
		why="no cxl tools: $why"
	fi
	DAX=
	if [ -z "$why" ]; then
		out=$(cxl_run cxl create-region -t ram -m -d "${CXL_ROOT##*/}" mem0 2>&1)
		r=$(echo "$out" | sed -n 's/^ *"region":"\(region[0-9]*\)".*/\1/p' | head -1)
		for _ in $(seq 100); do
			for d in "$DAX_BASE"/dax*; do
				[ -e "$d" ] && DAX=${d##*/}
			done
			[ -n "$DAX" ] && break
			sleep 0.1
		done
		dpath=$(readlink -f "$DAX_BASE/$DAX" 2> /dev/null)
		node=$(cat "$DAX_BASE/$DAX/target_node" 2> /dev/null || echo -1)
	fi
	if [ -n "$why" ]; then
		echo "not ok 2 cxl create-region -t ram: $why"
	elif [ -n "$r" ] && [ "$(cat "$cxl/$r/mode" 2> /dev/null)" = ram ] &&
	     [ "$(($(cat "$cxl/$r/size" 2> /dev/null || echo 0)))" = "$size" ] &&
	     [ "$(cat "$cxl/$r/commit" 2> /dev/null)" = 1 ] &&
	     [ "${dpath#*/$r/}" != "$dpath" ] && [ "$(dax_driver)" = kmem ] &&
	     [ "$(cat "$DAX_BASE/$DAX/size")" = "$size" ]; then
		echo "ok 2 cxl create-region -t ram -m -d ${CXL_ROOT##*/} mem0: $r, $((size >> 20)) MiB, committed; kmem bound its $DAX (node $node)"
	else
		echo "not ok 2 cxl create-region -t ram -m -d ${CXL_ROOT##*/} mem0: region '$r' mode $(cat "$cxl/$r/mode" 2> /dev/null), size $(cat "$cxl/$r/size" 2> /dev/null), commit $(cat "$cxl/$r/commit" 2> /dev/null); dax device '$DAX' at $dpath, driver $(dax_driver); cxl said: $(echo "$out" | tr '\n' ' ')"
		why="no region from cxl create-region"
	fi
	if [ -z "$why" ]; then
		out=$(cxl_run daxctl reconfigure-device -m system-ram "$DAX" 2>&1)
		if [ "$(memtotal_kb)" = $((mt0 + size / 1024)) ] && [ "$(kmem_bytes)" = "$size" ] &&
		   cxl_iomem "$r" "$DAX" | grep -qx "System RAM (kmem)" &&
		   [ "$(node_memtotal_kb "$node")" = $((size / 1024)) ]; then
			echo "ok 3 daxctl reconfigure-device -m system-ram $DAX: MemTotal +$((size >> 10)) kB, node $node has it, \"System RAM (kmem)\" under $DAX under $r"
		else
			echo "not ok 3 daxctl reconfigure-device -m system-ram $DAX: MemTotal $(memtotal_kb) kB (want $((mt0 + size / 1024))), $(kmem_bytes) bytes of kmem, node $node $(node_memtotal_kb "$node") kB, under $r: $(cxl_iomem "$r" "$DAX" | paste -sd, -); daxctl said: $(echo "$out" | tr '\n' ' ')"
			grep -A3 "CXL Window" /proc/iomem | sed 's/^/# iomem: /'
		fi
		out=$(cxl_run daxctl reconfigure-device -m devdax -f "$DAX" 2>&1)
		iomem_scan
		kmem_bytes_get
		if [ "$(dax_driver)" = device_dax ] && [ "$(memtotal_kb)" = "$mt0" ] &&
		   [ "$KMEM_BYTES" = 0 ] && [ "$KMEM_NAMES" = 0 ] &&
		   [ "$(node_memtotal_kb "$node")" -le 0 ]; then
			echo "ok 4 daxctl reconfigure-device -m devdax -f $DAX: offlined and removed, device_dax, MemTotal back to $mt0 kB, node $node has no memory"
		else
			echo "not ok 4 daxctl reconfigure-device -m devdax -f $DAX: driver $(dax_driver), MemTotal $(memtotal_kb) kB (want $mt0), $KMEM_BYTES bytes of kmem ($KMEM_NAMES \"System RAM (kmem)\" left), node $node $(node_memtotal_kb "$node") kB; daxctl said: $(echo "$out" | tr '\n' ' ')"
		fi
	else
		echo "not ok 3 daxctl reconfigure-device -m system-ram: $why"
		echo "not ok 4 daxctl reconfigure-device -m devdax -f: $why"
	fi
	if [ -n "$why" ] && [ -z "$r" ]; then
		echo "not ok 5 cxl destroy-region: $why"
		return
	fi
	out=$({ cxl_run cxl disable-region "$r" && cxl_run cxl destroy-region "$r"; } 2>&1)
	if [ ! -e "$cxl/$r" ] && [ ! -e "$DAX_BASE/$DAX" ] && [ "$(memtotal_kb)" = "$mt0" ] &&
	   ! grep -qE " : ($r|$DAX|System RAM \(kmem\))\$" /proc/iomem; then
		echo "ok 5 cxl disable-region, destroy-region $r: $r and $DAX gone, MemTotal $mt0 kB, nothing of them in /proc/iomem"
	else
		echo "not ok 5 cxl disable-region, destroy-region $r: $r $([ -e "$cxl/$r" ] || echo not) in sysfs, $DAX $([ -e "$DAX_BASE/$DAX" ] || echo not) in sysfs, MemTotal $(memtotal_kb) kB (want $mt0); cxl said: $(echo "$out" | tr '\n' ' ')"
		grep -A3 "CXL Window" /proc/iomem | sed 's/^/# iomem: /'
	fi
}

# cxl_run TOOL ARGS... -- the pinned TOOL (cxl, daxctl) with ARGS.
cxl_run() { "$CXL_TOOLS/$1" "${@:2}"; }

# cxl_iomem REGION DAX -- the names of what /proc/iomem nests under DAX
# under REGION.
cxl_iomem() {
	awk -v r="$1" -v d="$2" '
		{ ind = match($0, /[^ ]/) - 1; name = $0; sub(/^[^:]*: /, "", name) }
		in_r && ind <= ri { in_r = 0 }
		in_d && ind <= di { in_d = 0 }
		in_d { print name }
		in_r && name == d { in_d = 1; di = ind }
		name == r { in_r = 1; ri = ind }' /proc/iomem
}

# node_memtotal_kb NODE -- NODE's MemTotal in kB (-1 without the node: a
# memory-only node goes offline with its last memory).
node_memtotal_kb() {
	local f=/sys/devices/system/node/node$1/meminfo
	[ -e "$f" ] || { echo -1; return; }
	awk '/MemTotal/ { print $4 }' "$f"
}

suite_daxctl_roundtrip() {
	prepare_or_bail
	DAX_KMEM_TEST_DEV=$DAX bash "$SELFTESTS/dax/dax-kmem-daxctl.sh"
}

# lane_knobs -- export the count knobs the host put on the kernel command
# line as kmem_rs.DAX_KMEM_*=N (tools/kmem-rs/src/lanes.rs), and say so.
lane_knobs() {
	local a args
	read -ra args < /proc/cmdline
	for a in "${args[@]}"; do
		case "$a" in
		kmem_rs.DAX_KMEM_[A-Z_]*=[0-9]*)
			a=${a#kmem_rs.}
			export "${a?}"
			echo "# kmem-rs: $a (from the host)"
			;;
		esac
	done
}

# The debug lane's suites (tools/kmem-rs/src/lanes.rs): full stress and
# fault injection, with kmemleak required.
suite_stress() {
	prepare_or_bail
	lane_knobs
	DAX_KMEM_TEST_DEV=$DAX DAX_KMEM_TEST_MODULE=${KMEM_RS_MODULE:-} DAX_KMEM_TEST_KMEMLEAK=1 \
		bash "$SELFTESTS/dax/dax-kmem-stress.sh"
}

# The same on a two-range device of the HMEM region, and on the CXL
# region's device, with fewer cycles there by default (every online and
# unplug of CXL memory is slow under emulation).
suite_stress_hmem() {
	local dev
	prepare_or_bail
	lane_knobs
	dev=$(hmem_two_ranges) || { echo "Bail out! cannot make a two-range hmem device"; exit 1; }
	DAX_KMEM_TEST_DEV=$dev DAX_KMEM_TEST_MODULE=${KMEM_RS_MODULE:-} DAX_KMEM_TEST_KMEMLEAK=1 \
		bash "$SELFTESTS/dax/dax-kmem-stress.sh"
}
suite_stress_cxl() {
	prepare_or_bail
	lane_knobs
	local r
	[ "$(dax_driver)" != kmem ] || { dax_write "$DAX_BASE/$DAX/state" unplugged && kmem_unbind; } > /dev/null
	# The region's device is of the kmem type: device_dax takes it by id.
	r=$(dax_write /sys/bus/dax/drivers/device_dax/bind "$DAX")
	[ "$r" != "No such device" ] || r=$(dax_write /sys/bus/dax/drivers/device_dax/new_id "$DAX")
	[ "$(dax_driver)" = device_dax ] ||
		{ echo "Bail out! cannot bind $DAX to device_dax: $r (driver $(dax_driver))"; exit 1; }
	DAX_KMEM_STRESS_CYCLES=${DAX_KMEM_STRESS_CYCLES:-$CXL_STRESS_CYCLES} \
		DAX_KMEM_STRESS_RACE_SECS=${DAX_KMEM_STRESS_RACE_SECS:-$CXL_STRESS_RACE_SECS} \
		DAX_KMEM_TEST_DEV=$DAX DAX_KMEM_TEST_MODULE=${KMEM_RS_MODULE:-} DAX_KMEM_TEST_KMEMLEAK=1 \
		DAX_KMEM_TEST_AUTOBIND=1 bash "$SELFTESTS/dax/dax-kmem-stress.sh"
}

suite_faults() {
	prepare_or_bail
	lane_knobs
	DAX_KMEM_TEST_DEV=$DAX DAX_KMEM_TEST_MODULE=${KMEM_RS_MODULE:-} DAX_KMEM_TEST_KMEMLEAK=1 \
		bash "$SELFTESTS/dax/dax-kmem-faults.sh"
}

# The same script's parts 4-6 (DAX_KMEM_FIX_PARTS, default 456), on the
# platform's 2 GiB device: one sweep per fix of the core.
suite_fixes() {
	prepare_or_bail
	lane_knobs
	DAX_KMEM_TEST_DEV=$DAX DAX_KMEM_TEST_MODULE=${KMEM_RS_MODULE:-} DAX_KMEM_TEST_KMEMLEAK=1 \
		DAX_KMEM_FAULT_PARTS=${DAX_KMEM_FIX_PARTS:-456} \
		bash "$SELFTESTS/dax/dax-kmem-faults.sh"
}

# A device of two ranges on the HMEM region, bound with fail-nth injected
# into one range's reservation or add: kmem's partial success.
suite_partial() {
	local seed
	prepare_or_bail
	seed=$(hmem_new) || { echo "Bail out! cannot create a device on the hmem region"; exit 1; }
	DAX_KMEM_TEST_SEED=$seed bash "$SELFTESTS/dax/dax-kmem-partial.sh"
}

# kmemleak_begin OUTDIR -- on a kernel with kmemleak, scan what boot left,
# keep it, clear it, and mark the kernel log: a report before the mark is
# boot's, not the suite's (the host tool reads the mark).
kmemleak_begin() {
	local f=/sys/kernel/debug/kmemleak
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
	[ -w "$f" ] || return 0
	echo scan > "$f"
	cat "$f" > "$1/kmemleak-boot.txt"
	echo clear > "$f"
	echo "kmem-rs: kmemleak baseline cleared" > /dev/kmsg
}

# kmemleak_end OUTDIR -- scan again (the kernel logs any new suspects, which
# fails the run on the host) and keep the list.
kmemleak_end() {
	local f=/sys/kernel/debug/kmemleak
	[ -w "$f" ] || return 0
	sleep 6
	echo scan > "$f"
	echo scan > "$f"
	cat "$f" > "$1/kmemleak.txt"
}

# kunit_results [GLOB] -- the KUnit results of this boot (kunit.enable=1 and
# kunit.filter_glob on the command line pick which built-in tests ran),
# flattened from dmesg to one line per test case of ours. With GLOB, first
# load $KMEM_RS_MODULE with KUnit's filter_glob set to GLOB, which runs the
# module's #[kunit_tests] that GLOB matches.
kunit_results() {
	local ktap why
	if [ -n "${1:-}" ]; then
		# printf: a charp parameter would keep echo's newline in the glob
		printf %s "$1" > /sys/module/kunit/parameters/filter_glob
		if ! why=$(load_kmem); then
			echo "Bail out! $why"
			exit 1
		fi
	fi
	ktap=$(dmesg | sed -e 's/^\[[^]]*\] //')
	if ! grep -q '^KTAP version' <<< "$ktap"; then
		echo "Bail out! no KUnit output in dmesg (kunit.enable=1 missing?)"
		exit 1
	fi
	awk '
		/^    # Subtest: / { suite = $3 }
		/^    (not )?ok [0-9]+ / {
			ok = ($1 == "ok")
			sub(/^    (not )?ok [0-9]+ /, "")
			if ((suite ": " $0) !~ /memory_hotplug|_dax_|dax_rs|device_attribute_rs|^kmem_rs/)
				next
			n++
			line[n] = (ok ? "ok " : "not ok ") n " " suite ": " $0
		}
		END {
			if (n == 0) {
				print "Bail out! none of our KUnit tests ran (kunit.filter_glob?)"
				exit 1
			}
			print "TAP version 13"
			print "1.." n
			for (i = 1; i <= n; i++) print line[i]
		}' <<< "$ktap"
}

# suite_kunit -- the memory_hotplug #[kunit_tests] (built in, run at boot)
# and the Rust driver's, which run when $KMEM_RS_MODULE is loaded.
suite_kunit() { kunit_results 'kmem_rs'; }
# suite_kunit_doctests_hotplug, suite_kunit_doctests_dax,
# suite_kunit_doctests_attribute -- the doctests of
# the abstractions (built in, run at boot).
suite_kunit_doctests_hotplug() { kunit_results; }
suite_kunit_doctests_dax() { kunit_results; }
suite_kunit_doctests_attribute() { kunit_results; }

# --- demo -------------------------------------------------------------------

say() { printf '\n== %s\n' "$*"; }
show() { printf '  $ %s\n' "$*"; "$@" 2>&1 | sed 's/^/    /'; }
meminfo() {
	local n
	printf '    MemTotal: %8d MiB\n' $(($(memtotal_kb) / 1024))
	for n in /sys/devices/system/node/node[0-9]*; do
		printf '    %s: %8d MiB, %3d online memory blocks\n' "$(basename "$n")" \
			$(($(awk '/MemTotal/ {print $4}' "$n/meminfo") / 1024)) \
			"$(node_online_blocks "${n##*node}")"
	done
}

demo() {
	local why mt0 mt1 mt2 size kb ok=1
	say "1. A guest with two NUMA nodes; node 1 has no CPUs and holds 2 GiB of emulated pmem"
	meminfo
	if ! why=$(prepare); then
		echo "demo: $why"
		return 1
	fi
	mt0=$(memtotal_kb)
	size=$(cat "$DAX_BASE/$DAX/size")
	say "2. ndctl turned the pmem into a device-DAX device (driver: $(dax_driver))"
	show daxctl list -d "$DAX"
	say "3. Bind it to kmem (-N: kmem follows the kernel's policy, here: add the blocks offline)"
	show daxctl reconfigure-device -N --mode=system-ram "$DAX"
	printf '  kmem module: %s (%s)\n' "${KMEM_RS_MODULE:-from modprobe}" \
		"$(modinfo -F author "${KMEM_RS_MODULE:-kmem}" 2> /dev/null | paste -sd, -)"
	printf '  %s: driver %s, state %s\n' "$DAX" "$(dax_driver)" "$(cat "$DAX_BASE/$DAX/state")"
	say "4. Online it as movable System RAM through kmem's state attribute"
	echo "  $ echo unplugged > $DAX_BASE/$DAX/state; echo online_movable > $DAX_BASE/$DAX/state"
	echo unplugged > "$DAX_BASE/$DAX/state" || ok=0
	echo online_movable > "$DAX_BASE/$DAX/state" || ok=0
	mt1=$(memtotal_kb)
	kb=$(kmem_bytes)
	meminfo
	show numactl -H
	echo "  $ grep -A1 '$DAX' /proc/iomem"
	grep -A1 " : $DAX\$" /proc/iomem | sed 's/^/    /'
	printf '  %s: driver %s, state %s\n' "$DAX" "$(dax_driver)" "$(cat "$DAX_BASE/$DAX/state")"
	printf '  MemTotal rose by %d MiB: the %d MiB device less %d MiB lost to block alignment\n' \
		$(((mt1 - mt0) / 1024)) $((size >> 20)) $(((size - kb) >> 20))
	[ $((mt1 - mt0)) = $((kb / 1024)) ] && [ "$kb" -gt 0 ] || ok=0
	say "5. Unplug it through the state attribute: offline and remove, all or nothing"
	echo "  $ echo unplugged > $DAX_BASE/$DAX/state"
	echo unplugged > "$DAX_BASE/$DAX/state" || ok=0
	mt2=$(memtotal_kb)
	meminfo
	printf '  %s: state %s; "System RAM (kmem)" left under it: %d bytes\n' \
		"$DAX" "$(cat "$DAX_BASE/$DAX/state")" "$(kmem_bytes)"
	printf '  MemTotal fell by %d MiB, back to %d MiB\n' $(((mt1 - mt2) / 1024)) $((mt2 / 1024))
	[ "$mt2" = "$mt0" ] || ok=0
	if [ "$ok" = 1 ]; then
		say "PASS: +$(((mt1 - mt0) / 1024)) MiB of System RAM from pmem, and back to $((mt0 / 1024)) MiB"
	else
		say "FAIL: MemTotal $mt0 -> $mt1 -> $mt2 kB, kmem ranges $kb bytes"
		return 1
	fi
}

# --- main -------------------------------------------------------------------

cmd=${1:-}
case "$cmd" in
prepare)
	prepare
	;;
suite)
	name=${2:?suite name}
	out=${3:?output directory}
	fn=suite_${name//-/_}
	if ! declare -F "$fn" > /dev/null; then
		echo "Bail out! unknown suite '$name'" > "$out/$name.tap"
		echo 2 > "$out/$name.rc"
		exit 2
	fi
	kmemleak_begin "$out"
	("$fn") > "$out/$name.tap" 2> "$out/$name.stderr"
	rc=$?
	kmemleak_end "$out"
	dmesg > "$out/dmesg.txt" 2>&1
	echo "$rc" > "$out/$name.rc"
	;;
exec)
	# exec PREPARE CMD OUTDIR: run CMD (after prepare, if PREPARE is 1).
	out=${4:?output directory}
	if [ "${2:-0}" = 1 ] && ! prepare > /tmp/prepare.why; then
		echo "kmem-rs-guest: $(cat /tmp/prepare.why)" > "$out/exec.out"
		echo 1 > "$out/exec.rc"
		exit 1
	fi
	# The device prepare made (dax0.0 unless the platform says otherwise).
	KMEM_RS_DAX=${DAX:-dax0.0} bash -c "${3:?command}" > "$out/exec.out" 2>&1
	echo "$?" > "$out/exec.rc"
	;;
demo)
	out=${2:?output directory}
	demo > "$out/demo.txt" 2>&1
	rc=$?
	dmesg > "$out/dmesg.txt" 2>&1
	echo "$rc" > "$out/demo.rc"
	;;
*)
	echo "usage: $0 prepare | suite NAME OUTDIR | demo OUTDIR | exec 0|1 CMD OUTDIR" >&2
	exit 2
	;;
esac
