#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Reproduces findings 2 and 4 of the debug lane (docs/debug-lane.md): fail-nth on the bind of
# the 2 GiB dax0.0 at the points F2_POINTS, each followed by a plain bind.
# On the debug kernel, from the host:
#   cargo kmem vm --variant debug --no-build -d c|rust \
#     -e 'KSRC=~/.cache/kmem-rs/src/linux bash tools/kmem-rs/guest/kmem-rs-failnth-2g.sh'
# One line per point: what the injected bind returned and left, and whether a
# plain bind works afterwards. Not a pass/fail test: a diagnostic. Before
# patch 1 of the series, every plain bind after the first failed
# sparse_add_section() returned -EEXIST.
SELF=$KSRC/tools/testing/selftests/dax
DAX=dax0.0
. $SELF/../kselftest/ktap_helpers.sh
. $SELF/dax-kmem-lib.sh
mount -t debugfs none /sys/kernel/debug 2>/dev/null
# x86's add_pages() WARNs on the injected failure (finding 2): keep going.
echo 0 > /proc/sys/kernel/panic_on_warn
for a in failslab fail_page_alloc; do
	echo N > /sys/kernel/debug/$a/ignore-gfp-wait
	echo 0 > /sys/kernel/debug/$a/probability
done
echo 0 > /sys/kernel/debug/fail_page_alloc/min-order
kmem_baseline
echo "baseline: $DAX $((TOTAL>>20)) MiB, MT0 $MT0"
kmem_unbind >/dev/null
for n in ${F2_POINTS:-24 28 30 31 32 33 34 36 40}; do
	out=$(python3 $SELF/dax-kmem-helper.py failnth $KMEM_DRV/bind $DAX $n | head -1)
	st="$(dax_driver)/$(kmem_state)"
	why=$(kmem_consistent "$MT0" "$RES0" "$TOTAL")
	[ "$(dax_driver)" = kmem ] && { kmem_unbind >/dev/null; }
	r=$(kmem_bind)
	why2=$(kmem_consistent "$MT0" "$RES0" "$TOTAL")
	echo "n=$n: injected bind: $out, left $st ${why:+INCONSISTENT: $why}; plain bind: $r ${why2:+INCONSISTENT: $why2}"
	[ "$(dax_driver)" = kmem ] && kmem_unbind >/dev/null
done
dmesg | grep -i -e "kmem" -e "memory add" | tail -20
