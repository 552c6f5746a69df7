// SPDX-License-Identifier: GPL-2.0

//! A module that is not kmem and adds memory with `AddedMemory::add_driver_managed()`, which
//! `dax::Memory::add()` wraps.
//!
//! mm exports `__add_memory_driver_managed()` to the module `kmem` only
//! (`EXPORT_SYMBOL_FOR_MODULES`). The Rust abstraction is inlined into its caller, so the
//! restriction holds for Rust modules too: modpost must refuse this one. `cargo kmem check -f
//! restricted` builds it and expects that refusal; it is never loaded.

use kernel::{
    alloc::NumaNode,
    memory_hotplug::{
        block_size,
        AddOptions,
        AddedMemory,
        BlockRange,
        MemoryGroup,
        OnlineType, //
    },
    prelude::*,
};

module! {
    type: NotKmem,
    name: "mhp_not_kmem",
    authors: ["kmem-rs contributors"],
    description: "Not kmem: must not link against __add_memory_driver_managed()",
    license: "GPL",
}

struct NotKmem;

impl kernel::Module for NotKmem {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let group = MemoryGroup::register_static(NumaNode::new(0)?, 1)?;
        let range = BlockRange::new(&(0..=block_size() - 1)).ok_or(EINVAL)?;
        let options = AddOptions::default();
        // SAFETY: Never run: the module exists to be refused by modpost.
        let memory = unsafe {
            AddedMemory::add_driver_managed(&group, range, c"x", options, OnlineType::Offline)
        }?;
        drop(memory);
        Ok(NotKmem)
    }
}
