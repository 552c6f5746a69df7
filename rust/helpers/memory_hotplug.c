// SPDX-License-Identifier: GPL-2.0

#include <linux/memory.h>
#include <linux/memory_hotplug.h>

#ifdef CONFIG_MEMORY_HOTPLUG
__rust_helper struct range
rust_helper_memory_block_aligned_range(const struct range *range)
{
	return memory_block_aligned_range(range);
}

#ifndef CONFIG_MEMORY_HOTREMOVE
/* The !MEMORY_HOTREMOVE stubs are static inlines: wrap them. */
__rust_helper int rust_helper_remove_memory(u64 start, u64 size)
{
	return remove_memory(start, size);
}

__rust_helper int
rust_helper_offline_and_remove_memory_ranges(const struct range *ranges,
					     unsigned int nr_ranges,
					     unsigned int *nr_removed)
{
	return offline_and_remove_memory_ranges(ranges, nr_ranges, nr_removed);
}
#endif /* CONFIG_MEMORY_HOTREMOVE */
#endif /* CONFIG_MEMORY_HOTPLUG */
