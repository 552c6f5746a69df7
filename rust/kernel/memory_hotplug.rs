// SPDX-License-Identifier: GPL-2.0

//! Memory hotplug: adding memory to the system at run time, and removing it.
//!
//! A driver that owns a physical address range (device-DAX kmem, virtio-mem, CXL) reserves it
//! as System RAM ([`Region::request_system_ram`]), adds it to the memory hotplug core as
//! driver-managed memory in a memory group, and may later offline and remove it again. Each
//! step is an owned value whose drop undoes it:
//!
//! - [`BlockRange`]: a range aligned to whole memory blocks (`memory_block_aligned_range()`).
//! - [`OnlineType`]: how the core onlines added memory (`enum mmop`).
//! - [`MemoryGroup`]: a static memory group (`memory_group_register_static()`).
//! - [`AddedMemory`]: memory added with `__add_memory_driver_managed()`.
//! - [`NodeMemoryType`]: a node's memory tier type (`init_node_memory_type()`).
//!
//! Memory that cannot be removed (it is online and in use) stays added until reboot: a driver
//! keeps it by never dropping its [`AddedMemory`] (`core::mem::forget`), which also keeps the
//! resource name alive, as the iomem tree still points at it.
//!
//! C headers: [`include/linux/memory_hotplug.h`](srctree/include/linux/memory_hotplug.h),
//! [`include/linux/memory.h`](srctree/include/linux/memory.h) and
//! [`include/linux/memory-tiers.h`](srctree/include/linux/memory-tiers.h).
//!
//! [`Region::request_system_ram`]: crate::io::resource::Region::request_system_ram

use crate::{
    alloc::NumaNode,
    bindings,
    error::to_result,
    fmt,
    io::{
        PhysAddr,
        ResourceSize, //
    },
    prelude::*,
    str::CString, //
};
use core::{
    mem::ManuallyDrop,
    ops::RangeInclusive, //
};

/// Whether the kernel can remove hotplugged memory (`CONFIG_MEMORY_HOTREMOVE`). Without it,
/// [`AddedMemory::remove`] and [`AddedMemory::offline_and_remove`] always fail with [`EBUSY`].
pub const HOTREMOVE: bool = cfg!(CONFIG_MEMORY_HOTREMOVE);

/// The size of a memory block in bytes: the unit of memory hotplug.
pub fn block_size() -> ResourceSize {
    // SAFETY: `memory_block_size_bytes()` has no preconditions.
    let size = unsafe { bindings::memory_block_size_bytes() };
    size as ResourceSize
}

/// The node id for the C side, or [`EINVAL`] for [`NumaNode::NO_NODE`].
fn node_id(node: NumaNode) -> Result<c_int> {
    match node.id() {
        id if id < 0 => Err(EINVAL),
        id => Ok(id),
    }
}

/// A non-empty physical address range whose start and end are memory block boundaries.
///
/// # Invariants
///
/// `start <= end`, `start` and `end + 1` are multiples of [`block_size()`]: the range is one
/// that `memory_block_aligned_range()` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockRange {
    start: PhysAddr,
    end: PhysAddr,
}

impl BlockRange {
    /// Shrinks `range` to the memory blocks it holds completely, with the C
    /// `memory_block_aligned_range()`; `None` if no whole block fits.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::memory_hotplug::{block_size, BlockRange};
    ///
    /// let bs = block_size();
    /// let r = BlockRange::new(&(bs + 1..=4 * bs - 2)).unwrap();
    /// assert_eq!((r.start(), r.end(), r.len()), (2 * bs, 3 * bs - 1, bs));
    /// assert!(BlockRange::new(&(bs + 1..=2 * bs + 5)).is_none());
    /// ```
    pub fn new(range: &RangeInclusive<PhysAddr>) -> Option<Self> {
        if range.is_empty() {
            return None;
        }
        let raw = bindings::range {
            start: *range.start(),
            end: *range.end(),
        };
        // SAFETY: `raw` is a valid `struct range` for the duration of the call.
        let aligned = unsafe { bindings::memory_block_aligned_range(&raw) };
        // INVARIANT: `memory_block_aligned_range()` returns block-aligned bounds, and an empty
        // range (`start >= end`) when no whole block fits, which is refused here.
        (aligned.start < aligned.end).then_some(Self {
            start: aligned.start,
            end: aligned.end,
        })
    }

    /// The first byte of the range.
    pub fn start(&self) -> PhysAddr {
        self.start
    }

    /// The last byte of the range (inclusive).
    pub fn end(&self) -> PhysAddr {
        self.end
    }

    /// The length of the range in bytes.
    #[expect(clippy::len_without_is_empty, reason = "a BlockRange is never empty")]
    pub fn len(&self) -> ResourceSize {
        self.end - self.start + 1
    }

    fn as_raw(&self) -> bindings::range {
        bindings::range {
            start: self.start,
            end: self.end,
        }
    }
}

/// Prints the range as C prints one with `"%#llx-%#llx"`, as drivers name a range in their
/// messages.
///
/// # Examples
///
/// ```
/// use kernel::{fmt, memory_hotplug::{block_size, BlockRange}, str::CString};
///
/// let bs = block_size();
/// let r = BlockRange::new(&(bs..=3 * bs - 1)).unwrap();
/// let got = CString::try_from_fmt(fmt!("{r}"))?;
/// assert_eq!(&*got, &*CString::try_from_fmt(fmt!("{:#x}-{:#x}", bs, 3 * bs - 1))?);
///
/// // `%#llx` prints zero without `0x`.
/// let r = BlockRange::new(&(0..=bs - 1)).unwrap();
/// let got = CString::try_from_fmt(fmt!("{r}"))?;
/// assert_eq!(&*got, &*CString::try_from_fmt(fmt!("0-{:#x}", bs - 1))?);
/// # Ok::<(), Error>(())
/// ```
impl fmt::Display for BlockRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.start {
            0 => write!(f, "0-{:#x}", self.end),
            start => write!(f, "{start:#x}-{:#x}", self.end),
        }
    }
}

/// How the memory hotplug core onlines memory blocks it adds (C `enum mmop`).
///
/// The string forms are those of `/sys/devices/system/memory/auto_online_blocks`.
///
/// # Examples
///
/// ```
/// use kernel::memory_hotplug::OnlineType;
///
/// assert_eq!(OnlineType::from_sysfs(c"online_movable\n"), Ok(OnlineType::OnlineMovable));
/// assert_eq!(OnlineType::from_sysfs(c"offline"), Ok(OnlineType::Offline));
/// assert_eq!(OnlineType::from_sysfs(c"online\n\n"), Err(EINVAL));
/// assert_eq!(OnlineType::OnlineKernel.name(), c"online_kernel");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnlineType {
    /// Add the memory blocks, but leave them offline.
    Offline,
    /// Online to the zone the kernel picks.
    Online,
    /// Online to a kernel zone (`ZONE_NORMAL`): may become impossible to offline.
    OnlineKernel,
    /// Online to `ZONE_MOVABLE`: only movable allocations, so it can be offlined again.
    OnlineMovable,
}

impl OnlineType {
    /// Parses a sysfs write with `mhp_online_type_from_str()`.
    pub fn from_sysfs(input: &CStr) -> Result<Self> {
        // SAFETY: `input` is a valid NUL-terminated string.
        let raw = unsafe { bindings::mhp_online_type_from_str(input.as_char_ptr()) };
        to_result(raw)?;
        Self::from_raw(raw).ok_or(EINVAL)
    }

    /// The string form, from `mhp_online_type_to_str()`.
    pub fn name(self) -> &'static CStr {
        // SAFETY: `mhp_online_type_to_str()` accepts any value.
        let name = unsafe { bindings::mhp_online_type_to_str(self.as_raw() as c_int) };
        // SAFETY: For the four `enum mmop` values `mhp_online_type_to_str()` returns a string
        // literal of drivers/base/memory.c, never NULL.
        unsafe { CStr::from_char_ptr(name) }
    }

    /// The system default for newly added memory (`auto_online_blocks`), read at call time.
    pub fn system_default() -> Self {
        // SAFETY: `mhp_get_default_online_type()` has no preconditions.
        let raw = unsafe { bindings::mhp_get_default_online_type() };
        Self::from_raw(raw as c_int).unwrap_or(Self::Offline)
    }

    fn from_raw(raw: c_int) -> Option<Self> {
        [
            Self::Offline,
            Self::Online,
            Self::OnlineKernel,
            Self::OnlineMovable,
        ]
        .into_iter()
        .find(|t| t.as_raw() as c_int == raw)
    }

    fn as_raw(self) -> bindings::mmop {
        match self {
            Self::Offline => bindings::mmop_MMOP_OFFLINE,
            Self::Online => bindings::mmop_MMOP_ONLINE,
            Self::OnlineKernel => bindings::mmop_MMOP_ONLINE_KERNEL,
            Self::OnlineMovable => bindings::mmop_MMOP_ONLINE_MOVABLE,
        }
    }
}

/// A static memory group: memory added to it is accounted to one NUMA node and onlined and
/// offlined as a unit.
///
/// Drop it after the [`AddedMemory`] added to it: `memory_group_unregister()` refuses
/// ([`EBUSY`]) a group that still has memory, which then stays registered until reboot.
///
/// # Invariants
///
/// `id` was returned by a successful `memory_group_register_static()` and is still registered.
#[must_use]
pub struct MemoryGroup {
    id: c_int,
}

impl MemoryGroup {
    /// Registers a static memory group on `node` for at most `max_pages` pages.
    pub fn register_static(node: NumaNode, max_pages: usize) -> Result<Self> {
        let node = node_id(node)?;
        // SAFETY: `memory_group_register_static()` validates its arguments.
        let id = unsafe { bindings::memory_group_register_static(node, max_pages) };
        to_result(id)?;
        // INVARIANT: registration succeeded and returned the group id.
        Ok(Self { id })
    }
}

impl Drop for MemoryGroup {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, `self.id` is a registered group. The core refuses
        // (-EBUSY) to unregister a group that still has memory blocks, and then keeps it.
        if unsafe { bindings::memory_group_unregister(self.id) } != 0 {
            pr_warn!("memory group {} still has memory: kept\n", self.id);
        }
    }
}

/// Options for [`AddedMemory::add_driver_managed`] beyond the group and online type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddOptions {
    /// Allocate the memory map (`struct page`s) from the added memory itself
    /// (`MHP_MEMMAP_ON_MEMORY`) instead of from existing RAM.
    pub memmap_on_memory: bool,
}

/// Added memory handed back by [`AddedMemory::remove`] because it could not be removed.
pub struct RemoveError {
    /// The memory, still added.
    pub memory: AddedMemory,
    /// Why it could not be removed.
    pub error: Error,
}

/// Memory added to the system as driver-managed System RAM with
/// `__add_memory_driver_managed()`.
///
/// Dropping it removes it with `remove_memory()`, which never offlines: memory that is still
/// online cannot be removed, and is then kept added until reboot with a loud error. Drivers
/// remove it with [`AddedMemory::remove`] or [`AddedMemory::offline_and_remove`].
///
/// # Invariants
///
/// `range` was added with one `__add_memory_driver_managed()` call under the resource name
/// `name`, and is not removed yet.
#[must_use = "dropping added memory removes it again"]
pub struct AddedMemory {
    range: BlockRange,
    /// Freed only once the memory is removed: the core's resource points at it until then.
    name: ManuallyDrop<CString>,
}

impl AddedMemory {
    /// Adds `range` to the memory group `group` as driver-managed memory, with the resource
    /// name `name` (e.g. "System RAM (kmem)"), onlined as `online`.
    ///
    /// Drivers of a bus get this through their bus, which checks that the range is the
    /// device's memory: for device-DAX, `dax::Memory::add()`.
    ///
    /// mm exports `__add_memory_driver_managed()` to the `kmem` module only
    /// (`EXPORT_SYMBOL_FOR_MODULES`). This function is `#[inline(always)]`, and so must be every
    /// safe wrapper of it, so that the call is made by the calling module and modpost refuses
    /// it in any module not named `kmem`, as it does for C. That rests on rustc generating
    /// `#[inline(always)]` functions in the crate that calls them, so the kernel crate itself
    /// has no symbol that reaches the call. Built-in code can call it, as built-in C code can.
    ///
    /// The C function refuses (with [`EINVAL`]) a `name` that is not of the form
    /// `"System RAM (...)"`.
    ///
    /// # Safety
    ///
    /// `range` must be memory (not MMIO) that the caller owns: nothing else may use or map it
    /// while it is added, e.g. the memory of a device bound to the calling driver.
    #[inline(always)]
    pub unsafe fn add_driver_managed(
        group: &MemoryGroup,
        range: BlockRange,
        name: &CStr,
        options: AddOptions,
        online: OnlineType,
    ) -> Result<Self> {
        let name = CString::try_from(name)?;
        let mut flags = bindings::MHP_NID_IS_MGID;
        if options.memmap_on_memory {
            flags |= bindings::MHP_MEMMAP_ON_MEMORY;
        }
        // SAFETY: `group.id` is a registered memory group (type invariant of `MemoryGroup`),
        // `range` is block aligned (type invariant of `BlockRange`) and memory the caller owns
        // (safety requirements), and `name` outlives the added memory: it is stored in `Self`
        // and freed only once the memory is removed.
        to_result(unsafe {
            bindings::__add_memory_driver_managed(
                group.id,
                range.start,
                range.len(),
                name.as_char_ptr(),
                flags,
                online.as_raw(),
            )
        })?;
        // INVARIANT: the range was added under `name` by this one call.
        Ok(Self {
            range,
            name: ManuallyDrop::new(name),
        })
    }

    /// The added range.
    pub fn range(&self) -> &BlockRange {
        &self.range
    }

    /// Removes the memory with `remove_memory()`. That never offlines: if any block is still
    /// online it fails with [`EBUSY`], and the memory is handed back, still added.
    pub fn remove(self) -> Result<(), RemoveError> {
        // SAFETY: By the type invariant the range was added with one call and is not removed.
        match to_result(unsafe { bindings::remove_memory(self.range.start, self.range.len()) }) {
            Ok(()) => {
                self.forget_removed();
                Ok(())
            }
            Err(error) => Err(RemoveError {
                memory: self,
                error,
            }),
        }
    }

    /// Offlines and removes the memory in every slot of `memory` that holds some, as one
    /// operation, with `offline_and_remove_memory_ranges()`, and empties the slot of each range
    /// it removed. On success every slot is empty. On failure every slot holds what it held,
    /// unless the core failed to remove a range after offlining all of them (a kernel bug that
    /// WARNs): then the slots before that range are empty, and the others hold their memory,
    /// still added and offline.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::memory_hotplug::AddedMemory;
    ///
    /// // Slots without memory are skipped; with none at all there is nothing to do.
    /// let (mut a, mut b) = (None, None);
    /// assert_eq!(AddedMemory::offline_and_remove([&mut a, &mut b]), Ok(()));
    /// ```
    pub fn offline_and_remove<'a>(
        memory: impl IntoIterator<Item = &'a mut Option<Self>>,
    ) -> Result {
        let mut slots = KVec::new();
        let mut ranges = KVec::new();
        for slot in memory {
            if let Some(m) = slot.as_ref() {
                ranges.push(m.range.as_raw(), GFP_KERNEL)?;
                slots.push(slot, GFP_KERNEL)?;
            }
        }
        if ranges.is_empty() {
            return Ok(());
        }
        let nr = u32::try_from(ranges.len())?;
        let mut removed: u32 = 0;
        // SAFETY: `ranges` holds `nr` ranges, each added by one call and not removed (type
        // invariant), and `removed` is valid for writes. `offline_and_remove_memory_ranges()`
        // sets it to the number of ranges it removed, from the first: all of them when it
        // returns 0, none for every error but a failed removal after offlining.
        let ret = unsafe {
            bindings::offline_and_remove_memory_ranges(ranges.as_ptr(), nr, &mut removed)
        };
        for slot in slots.into_iter().take(removed as usize) {
            if let Some(m) = slot.take() {
                m.forget_removed();
            }
        }
        to_result(ret)
    }

    /// Frees what a removed range still holds, without trying to remove it again.
    fn forget_removed(self) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: The memory is removed, so the core no longer uses the name, and `this` is
        // never used again.
        unsafe { ManuallyDrop::drop(&mut this.name) };
    }
}

impl Drop for AddedMemory {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the range was added with one call and is not removed.
        if unsafe { bindings::remove_memory(self.range.start, self.range.len()) } == 0 {
            // SAFETY: The memory is removed, so the core no longer uses the name, and `self`
            // is being dropped.
            unsafe { ManuallyDrop::drop(&mut self.name) };
        } else {
            // The core still points at the name: it stays allocated, with the memory.
            let range = self.range;
            let why = if HOTREMOVE {
                "still online"
            } else {
                "no CONFIG_MEMORY_HOTREMOVE"
            };
            pr_err!("{range} dropped but not removed ({why}): added until reboot\n");
        }
    }
}

/// The abstract distance of DRAM (`MEMTIER_ADISTANCE_DRAM`); slower memory has larger values.
pub const ADISTANCE_DRAM: c_int = bindings::MEMTIER_ADISTANCE_DRAM as c_int;

/// The abstract distance of `node` as the platform reports it (`mt_calc_adistance()`, e.g.
/// from ACPI HMAT), or `default` if nothing knows the node, or without `CONFIG_NUMA`.
pub fn calc_adistance(node: NumaNode, default: c_int) -> c_int {
    #[cfg(CONFIG_NUMA)]
    if let Ok(node) = node_id(node) {
        let mut adist = default;
        // SAFETY: `adist` is a valid `int` for the call; notifiers only update it.
        unsafe { bindings::mt_calc_adistance(node, &mut adist) };
        return adist;
    }
    #[cfg(not(CONFIG_NUMA))]
    let _ = node;
    default
}

/// A use of a node's memory tier type by memory a driver adds there (`init_node_memory_type()`);
/// dropping it gives the use back (`clear_node_memory_type()`).
///
/// A node has one memory type. The first user gives the node its type (of its own, for the
/// abstract distance given) and counts a use; a later user of the same distance shares it and
/// counts a use too, one of another distance counts none, and its drop changes nothing. With
/// its last use the node loses its type, or, if a memory tier links the type (the node has
/// memory), when the node loses its memory. Without `CONFIG_NUMA` there are no memory types,
/// and this is empty, as in C.
///
/// # Invariants
///
/// With `CONFIG_NUMA`, `mtype` is a memory type this value holds a reference to; if `counted`,
/// `init_node_memory_type(node, mtype)` counted a use that is not given back yet.
pub struct NodeMemoryType {
    #[cfg(CONFIG_NUMA)]
    node: c_int,
    #[cfg(CONFIG_NUMA)]
    mtype: core::ptr::NonNull<bindings::memory_dev_type>,
    #[cfg(CONFIG_NUMA)]
    counted: bool,
}

// SAFETY: Only a node number and a reference to a memory type are kept; the C functions that
// use them take `memory_tier_lock`, and the reference can be put from any thread.
unsafe impl Send for NodeMemoryType {}
// SAFETY: `&NodeMemoryType` gives no access to anything.
unsafe impl Sync for NodeMemoryType {}

impl NodeMemoryType {
    /// Gives `node` a memory type of abstract distance `adist` unless it has one, and counts a
    /// use of the node's type if it has that distance; [`EINVAL`] for [`NumaNode::NO_NODE`].
    pub fn init(node: NumaNode, adist: c_int) -> Result<Self> {
        let node = node_id(node)?;
        #[cfg(CONFIG_NUMA)]
        {
            // SAFETY: `alloc_memory_type()` has no preconditions; it returns a type with one
            // reference, ours, or an error pointer.
            let mtype = crate::error::from_err_ptr(unsafe { bindings::alloc_memory_type(adist) })?;
            let mtype = core::ptr::NonNull::new(mtype).ok_or(ENOMEM)?;
            // SAFETY: `node` is a valid node id (`node_id()`), and `mtype` a valid type.
            let counted = unsafe { bindings::init_node_memory_type(node, mtype.as_ptr()) };
            // INVARIANT: we hold the reference of `alloc_memory_type()`; `counted` is what
            // `init_node_memory_type()` reported.
            Ok(Self {
                node,
                mtype,
                counted,
            })
        }
        #[cfg(not(CONFIG_NUMA))]
        {
            let _ = (node, adist);
            Ok(Self {})
        }
    }
}

impl Drop for NodeMemoryType {
    fn drop(&mut self) {
        #[cfg(CONFIG_NUMA)]
        {
            if self.counted {
                // SAFETY: `init_node_memory_type(self.node, self.mtype)` counted a use (type
                // invariant): the node's type has `self.mtype`'s distance until that use is given
                // back, and `clear_node_memory_type()` gives back exactly one. With the last one
                // the node puts its own reference, at once or when no memory tier links the type.
                unsafe { bindings::clear_node_memory_type(self.node, self.mtype.as_ptr()) };
            }
            // SAFETY: We hold a reference to `self.mtype` (type invariant), not used again.
            unsafe { bindings::put_memory_type(self.mtype.as_ptr()) };
        }
    }
}

#[kunit_tests(rust_memory_hotplug)]
mod tests {
    use super::*;

    #[test]
    fn block_range_follows_c() {
        let bs = block_size();
        let r = BlockRange::new(&(bs..=3 * bs - 1)).unwrap();
        assert_eq!((r.start(), r.len()), (bs, 2 * bs));
        let r = BlockRange::new(&(bs + 1..=3 * bs)).unwrap();
        assert_eq!((r.start(), r.end()), (2 * bs, 3 * bs - 1));
        assert!(BlockRange::new(&(bs + 1..=2 * bs + 5)).is_none());
        // An empty range (end before start) has no block.
        assert!(BlockRange::new(&RangeInclusive::new(bs, bs - 1)).is_none());
        assert!(BlockRange::new(&(PhysAddr::MAX - 1..=PhysAddr::MAX)).is_none());
    }

    #[test]
    fn online_types_round_trip() {
        for t in [
            OnlineType::Offline,
            OnlineType::Online,
            OnlineType::OnlineKernel,
            OnlineType::OnlineMovable,
        ] {
            assert_eq!(OnlineType::from_sysfs(t.name()), Ok(t));
        }
        for bad in [c"", c"\n", c"unplugged", c"Online", c"online_movable "] {
            assert_eq!(OnlineType::from_sysfs(bad), Err(EINVAL));
        }
    }

    #[test]
    fn no_node_is_refused() {
        assert_eq!(
            MemoryGroup::register_static(NumaNode::NO_NODE, 1).err(),
            Some(EINVAL)
        );
        assert_eq!(
            NodeMemoryType::init(NumaNode::NO_NODE, ADISTANCE_DRAM).err(),
            Some(EINVAL)
        );
        assert_eq!(calc_adistance(NumaNode::NO_NODE, 7), 7);
    }

    /// The last node id, above every possible node (`nr_node_ids`), so that no one else uses its
    /// memory type slot. Fails the test on a machine where every node id is possible.
    #[cfg(CONFIG_NUMA)]
    fn spare_node() -> NumaNode {
        let id = bindings::MAX_NUMNODES - 1;
        // SAFETY: `nr_node_ids` is set at boot (`setup_nr_node_ids()`), before any test runs,
        // and only read after.
        let possible = unsafe { bindings::nr_node_ids };
        if id < possible {
            pr_err!("no spare node id: all {possible} node ids are possible\n");
        }
        assert!(id >= possible);
        NumaNode::new(id as c_int).unwrap()
    }

    #[cfg(CONFIG_NUMA)]
    const A: c_int = ADISTANCE_DRAM * 7;
    #[cfg(CONFIG_NUMA)]
    const B: c_int = ADISTANCE_DRAM * 9;
    #[cfg(CONFIG_NUMA)]
    const C: c_int = ADISTANCE_DRAM * 11;

    /// Whether the node has no type (or one of distance `adist`): a new use of `adist` counts.
    #[cfg(CONFIG_NUMA)]
    fn counts(node: NumaNode, adist: c_int) -> bool {
        NodeMemoryType::init(node, adist).unwrap().counted
    }

    /// The first owner gives the node its type; an owner of another distance counts nothing.
    /// Dropped first in, first out: the first drop clears the node's type, and the second,
    /// which counted nothing, must change nothing (before `clear_node_memory_type()` learnt
    /// that, it put the node's NULL type).
    #[cfg(CONFIG_NUMA)]
    #[test]
    fn node_type_fifo_drops() {
        let node = spare_node();
        let first = NodeMemoryType::init(node, A).unwrap();
        let second = NodeMemoryType::init(node, B).unwrap();
        assert!(first.counted && !second.counted);
        drop(first);
        drop(second);
        assert!(counts(node, C));
    }

    /// Dropped last in, first out: the second drop gives nothing back, the node keeps the
    /// first owner's type until that is dropped.
    #[cfg(CONFIG_NUMA)]
    #[test]
    fn node_type_lifo_drops() {
        let node = spare_node();
        let first = NodeMemoryType::init(node, A).unwrap();
        let second = NodeMemoryType::init(node, B).unwrap();
        drop(second);
        assert!(!counts(node, B));
        drop(first);
        assert!(counts(node, B));
    }

    /// Owners of one distance share the node's type, which stays until the last of them.
    #[cfg(CONFIG_NUMA)]
    #[test]
    fn node_type_shared_distance() {
        let node = spare_node();
        let first = NodeMemoryType::init(node, A).unwrap();
        let second = NodeMemoryType::init(node, A).unwrap();
        assert!(first.counted && second.counted);
        drop(first);
        assert!(!counts(node, B));
        drop(second);
        assert!(counts(node, B));
    }

    /// An owner that counted nothing never takes a use from a later owner, whose type the
    /// node got after the first owner's went.
    #[cfg(CONFIG_NUMA)]
    #[test]
    fn node_type_third_owner() {
        let node = spare_node();
        let first = NodeMemoryType::init(node, A).unwrap();
        let second = NodeMemoryType::init(node, B).unwrap();
        assert!(first.counted && !second.counted);
        drop(first);
        // The node is free: a third owner gives it its type...
        let third = NodeMemoryType::init(node, B).unwrap();
        assert!(third.counted);
        // ...and `second`, which counted nothing, does not take `third`'s use.
        drop(second);
        assert!(!counts(node, C));
        drop(third);
        assert!(counts(node, C));
    }
}
