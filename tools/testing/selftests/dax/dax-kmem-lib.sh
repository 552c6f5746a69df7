#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Helpers shared by the dax/kmem selftests: what a dax device contributes
# to System RAM, read from /proc/iomem and /sys/devices/system/memory.
# Source it; it expects DAX (e.g. dax0.0) to be set by the caller.

DAX_BASE=/sys/bus/dax/devices
MEM_BASE=/sys/devices/system/memory

memtotal_kb() { awk '/^MemTotal:/ {print $2}' /proc/meminfo; }

# dax_driver -- the driver daxX.Y is bound to (kmem, device_dax) or "none".
dax_driver() {
	local drv
	drv=$(readlink "$DAX_BASE/$DAX/driver" 2>/dev/null) || { echo none; return; }
	basename "$drv"
}

# block_size -- the memory block size in bytes.
block_size() { echo $((0x$(cat "$MEM_BASE/block_size_bytes"))); }

# kmem_ranges -- "start end" (hex, inclusive) of every "System RAM (kmem)"
# resource nested under the device's own resource in /proc/iomem.
kmem_ranges() {
	local line ind name range inside=0 pind=0
	while IFS= read -r line; do
		ind=${line%%[! ]*}
		ind=${#ind}
		name=${line#*: }
		range=${line%% :*}
		range=${range// /}
		if [ "$inside" = 1 ] && [ "$ind" -le "$pind" ]; then
			inside=0
		fi
		if [ "$inside" = 1 ] && [ "$name" = "System RAM (kmem)" ]; then
			echo "${range%-*} ${range#*-}"
		fi
		if [ "$name" = "$DAX" ]; then
			inside=1
			pind=$ind
		fi
	done < /proc/iomem
}

# kmem_bytes -- total size of the device's "System RAM (kmem)" ranges.
kmem_bytes() {
	local s e total=0
	while read -r s e; do
		total=$((total + 0x$e - 0x$s + 1))
	done < <(kmem_ranges)
	echo "$total"
}

# kmem_blocks -- the memoryN blocks that back the device's kmem ranges.
kmem_blocks() {
	local s e i bs
	bs=$(block_size)
	while read -r s e; do
		for ((i = 0x$s / bs; i <= 0x$e / bs; i++)); do
			echo "memory$i"
		done
	done < <(kmem_ranges)
}

# count_online BLOCK... -- how many of the given memoryN blocks are online.
count_online() {
	local b n=0
	for b in "$@"; do
		[ "$(cat "$MEM_BASE/$b/state" 2>/dev/null)" = online ] && n=$((n + 1))
	done
	echo "$n"
}

# node_online_blocks NODE -- online memory blocks of a NUMA node.
node_online_blocks() {
	local m blocks=()
	for m in /sys/devices/system/node/node"$1"/memory[0-9]*; do
		[ -e "$m" ] && blocks+=("$(basename "$m")")
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
