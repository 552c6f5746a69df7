// SPDX-License-Identifier: GPL-2.0

//! Memory hotplug: adding memory to the system at run time, and removing it.
//!
//! A driver that owns a physical address range (device-DAX kmem, virtio-mem, CXL) reserves it
//! as System RAM ([`SystemRamRegion`](crate::io::resource::SystemRamRegion)), adds it to the
//! memory hotplug core as driver-managed memory in a memory group, and may later offline and
//! remove it again. Each step is an owned value whose drop undoes it:
//!
//! - [`BlockRange`]: a range aligned to whole memory blocks (`memory_block_aligned_range()`).
//! - [`OnlineType`]: how the core onlines added memory (`enum mmop`).
//! - [`MemoryGroup`]: a static memory group (`memory_group_register_static()`).
//! - [`AddedMemory`]: memory added with `__add_memory_driver_managed()`.
//! - [`NodeMemoryType`]: a node's memory tier type (`init_node_memory_type()`).
//!
//! Memory that cannot be removed (it is online and in use) stays added until reboot. The API
//! makes that a deliberate act, [`AddedMemory::leak_until_reboot`], which also keeps the
//! resource name alive, as the iomem tree still points at it.
//!
//! C headers: [`include/linux/memory_hotplug.h`](srctree/include/linux/memory_hotplug.h),
//! [`include/linux/memory.h`](srctree/include/linux/memory.h) and
//! [`include/linux/memory-tiers.h`](srctree/include/linux/memory-tiers.h).

use crate::{
    alloc::NumaNode,
    bindings,
    error::to_result,
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
/// assert!(!OnlineType::Offline.is_online());
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

    /// Whether memory of this type is online.
    pub fn is_online(self) -> bool {
        self != Self::Offline
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
/// # Invariants
///
/// `id` was returned by a successful `memory_group_register_static()` and is still registered.
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

    /// Keeps the group registered until reboot: for memory that stays added in it.
    pub fn leak_until_reboot(self) {
        let _ = ManuallyDrop::new(self);
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

impl From<RemoveError> for Error {
    fn from(e: RemoveError) -> Self {
        // Dropping the memory tries `remove_memory()` once more, and keeps it added if that
        // fails too.
        e.error
    }
}

/// Memory added to the system as driver-managed System RAM with
/// `__add_memory_driver_managed()`.
///
/// Dropping it removes it with `remove_memory()`, which never offlines: memory that is still
/// online cannot be removed, and is then kept added until reboot with a loud error. Drivers
/// remove it with [`AddedMemory::remove`] or [`AddedMemory::offline_and_remove`], and call
/// [`AddedMemory::leak_until_reboot`] when it must stay.
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
    /// name `name` (e.g. "System RAM (kmem)"), onlined as `online`, and appends it to `memory`.
    ///
    /// Room in `memory` is allocated before the memory is added, so added memory is never
    /// dropped because it could not be stored. On failure `memory` keeps its contents.
    pub fn add_driver_managed(
        memory: &mut KVec<Self>,
        group: &MemoryGroup,
        range: BlockRange,
        name: &CStr,
        options: AddOptions,
        online: OnlineType,
    ) -> Result {
        memory.reserve(1, GFP_KERNEL)?;
        let name = CString::try_from(name)?;
        let mut flags = bindings::MHP_NID_IS_MGID;
        if options.memmap_on_memory {
            flags |= bindings::MHP_MEMMAP_ON_MEMORY;
        }
        // SAFETY: `group.id` is a registered memory group (type invariant of `MemoryGroup`),
        // `range` is block aligned (type invariant of `BlockRange`), and `name` outlives the
        // added memory: it is stored in `Self` and freed only once the memory is removed.
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
        let added = Self {
            range,
            name: ManuallyDrop::new(name),
        };
        // Room for one more was reserved above, so this cannot fail; if it did, the memory
        // would stay added rather than be removed behind the caller's back.
        if let Err(e) = memory.push_within_capacity(added) {
            e.0.leak_until_reboot();
            return Err(ENOMEM);
        }
        Ok(())
    }

    /// The added range.
    pub fn range(&self) -> &BlockRange {
        &self.range
    }

    /// Removes the memory with `remove_memory()`. That never offlines: if any block is still
    /// online it fails with [`EBUSY`], and the memory is handed back, still added.
    pub fn remove(self) -> Result<(), RemoveError> {
        // SAFETY: By the type invariant the range is added.
        match to_result(unsafe { remove_memory(self.range.start, self.range.len()) }) {
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

    /// Offlines and removes all of `memory` atomically with
    /// `offline_and_remove_memory_ranges()`: either every range is offlined and removed and
    /// `memory` is left empty, or none is and `memory` is untouched, in its previous state.
    pub fn offline_and_remove(memory: &mut KVec<Self>) -> Result {
        if memory.is_empty() {
            return Ok(());
        }
        let mut ranges = KVec::with_capacity(memory.len(), GFP_KERNEL)?;
        for m in memory.iter() {
            ranges.push(m.range.as_raw(), GFP_KERNEL)?;
        }
        let nr = u32::try_from(ranges.len())?;
        // SAFETY: `ranges` holds `nr` ranges, each added by one call (type invariant).
        to_result(unsafe { offline_and_remove_memory_ranges(ranges.as_ptr(), nr) })?;
        // `offline_and_remove_memory_ranges()` returns 0 once every block is offline, but its
        // second phase only WARNs when `try_remove_memory()` fails for a range and goes on: such
        // a range is still added, and its resource, which points at the name, is still in the
        // iomem tree. So believe the tree, not the return value.
        for m in memory.drain_all() {
            if m.resource_present() {
                pr_err!(
                    "{:#x}-{:#x} not removed: kept added until reboot\n",
                    m.range.start,
                    m.range.end
                );
                m.leak_until_reboot();
            } else {
                m.forget_removed();
            }
        }
        Ok(())
    }

    /// Whether the "System RAM" resource of this added memory (driver managed) is still in the
    /// iomem tree, as `region_intersects()` sees it.
    fn resource_present(&self) -> bool {
        let flags = bindings::IORESOURCE_MEM
            | bindings::IORESOURCE_SYSRAM
            | bindings::IORESOURCE_SYSRAM_DRIVER_MANAGED;
        let Ok(size) = usize::try_from(self.range.len()) else {
            return true;
        };
        // SAFETY: `region_intersects()` only reads the iomem tree, under the resource lock.
        let rc = unsafe {
            bindings::region_intersects(
                self.range.start,
                size,
                flags as c_ulong,
                bindings::IORES_DESC_NONE as c_ulong,
            )
        };
        rc != bindings::REGION_DISJOINT as c_int
    }

    /// Frees what a removed range still holds, without trying to remove it again.
    fn forget_removed(self) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: The memory is removed, so the core no longer uses the name, and `this` is
        // never used again.
        unsafe { ManuallyDrop::drop(&mut this.name) };
    }

    /// Keeps the memory added, and its resource name allocated, until reboot: for memory
    /// that is online and cannot be removed without offlining it.
    pub fn leak_until_reboot(self) {
        let _ = ManuallyDrop::new(self);
    }
}

impl Drop for AddedMemory {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the range is added.
        if unsafe { remove_memory(self.range.start, self.range.len()) } == 0 {
            // SAFETY: The memory is removed, so the core no longer uses the name, and `self`
            // is being dropped.
            unsafe { ManuallyDrop::drop(&mut self.name) };
        } else {
            // The core still points at the name: it stays allocated, with the memory.
            pr_err!(
                "{:#x}-{:#x} dropped while online: stuck online until reboot\n",
                self.range.start,
                self.range.end
            );
        }
    }
}

/// `remove_memory()`, or the C fallback without `CONFIG_MEMORY_HOTREMOVE` (-EBUSY).
///
/// # Safety
///
/// `start..start + size` must have been added with one `__add_memory_driver_managed()` call.
unsafe fn remove_memory(start: u64, size: u64) -> c_int {
    // SAFETY: Guaranteed by the caller.
    unsafe { bindings::remove_memory(start, size) }
}

/// `offline_and_remove_memory_ranges()`, or its C fallback without `CONFIG_MEMORY_HOTREMOVE`.
///
/// # Safety
///
/// `ranges` must point to `nr` ranges, each added with one `__add_memory_driver_managed()`.
unsafe fn offline_and_remove_memory_ranges(ranges: *const bindings::range, nr: u32) -> c_int {
    // SAFETY: Guaranteed by the caller.
    unsafe { bindings::offline_and_remove_memory_ranges(ranges, nr) }
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

#[cfg(CONFIG_NUMA)]
mod types {
    use super::*;
    use crate::{
        new_mutex,
        sync::{
            Mutex,
            SetOnce, //
        },
        types::Opaque,
    };
    use core::ptr::NonNull;

    /// The memory types of Rust drivers, one per abstract distance, each holding one
    /// reference, linked through their `list` member (`mt_find_alloc_memory_type()`).
    ///
    /// One list for the whole kernel, never freed: memory types are system-wide objects keyed
    /// by abstract distance, so two drivers (or devices) onlining memory of one distance into
    /// one node share a type, and its pointer can be compared for as long as a node uses it.
    #[pin_data]
    struct TypeList {
        #[pin]
        head: Opaque<bindings::list_head>,
    }

    // SAFETY: The list is only used with the lock around it held.
    unsafe impl Send for TypeList {}

    static TYPES: SetOnce<Pin<KBox<Mutex<TypeList>>>> = SetOnce::new();

    /// The list, allocated on first use.
    fn list() -> Result<Pin<&'static Mutex<TypeList>>> {
        loop {
            if let Some(list) = TYPES.as_ref() {
                return Ok(list.as_ref());
            }
            let new = KBox::pin_init(
                new_mutex!(pin_init!(TypeList {
                    // SAFETY: `INIT_LIST_HEAD()` initializes the pinned list head in place.
                    head <- Opaque::ffi_init(|p| unsafe { bindings::INIT_LIST_HEAD(p) }),
                })),
                GFP_KERNEL,
            )?;
            if !TYPES.populate(new) {
                // Another caller is storing its list (a pointer write): wait for it.
                while TYPES.as_ref().is_none() {
                    core::hint::spin_loop();
                }
            }
        }
    }

    /// Makes the memory type of `adist` the type of `node` unless it has one, and takes a use.
    pub(super) fn init(node: c_int, adist: c_int) -> Result<NonNull<bindings::memory_dev_type>> {
        let list = list()?;
        let guard = list.lock();
        // SAFETY: The list head is initialized, and the lock serializes its users.
        let mtype = unsafe { bindings::mt_find_alloc_memory_type(adist, guard.head.get()) };
        let mtype = NonNull::new(crate::error::from_err_ptr(mtype)?).ok_or(ENOMEM)?;
        // SAFETY: `node` is a valid node id (checked by the caller) and `mtype` is a memory
        // type the list holds a reference to, forever.
        unsafe { bindings::init_node_memory_type(node, mtype.as_ptr()) };
        Ok(mtype)
    }

    /// Undoes [`init`] for the type it returned.
    pub(super) fn clear(node: c_int, mtype: NonNull<bindings::memory_dev_type>) {
        // SAFETY: `clear_node_memory_type()` drops the node's use count only when `mtype` is
        // the node's type, which is then the one `init()` counted: `init_node_memory_type()`
        // counts a use only for a matching type. `mtype` is never freed (held by `TYPES`).
        unsafe { bindings::clear_node_memory_type(node, mtype.as_ptr()) };
    }
}

/// A use of a node's memory tier type by memory a driver adds there (`init_node_memory_type()`);
/// dropping it gives the use back (`clear_node_memory_type()` for the same type).
///
/// The type is the one for the abstract distance given, shared by every Rust user of that
/// distance. Without `CONFIG_NUMA` there are no memory types, and this is empty, as in C.
///
/// # Invariants
///
/// With `CONFIG_NUMA`, `init_node_memory_type(node, mtype)` was called and is not undone yet,
/// and `mtype` is never freed.
pub struct NodeMemoryType {
    #[cfg(CONFIG_NUMA)]
    node: c_int,
    #[cfg(CONFIG_NUMA)]
    mtype: core::ptr::NonNull<bindings::memory_dev_type>,
}

// SAFETY: Only a node number and a pointer to a never-freed memory type are kept, and the C
// functions that use them take `memory_tier_lock`.
unsafe impl Send for NodeMemoryType {}
// SAFETY: `&NodeMemoryType` gives no access to anything.
unsafe impl Sync for NodeMemoryType {}

impl NodeMemoryType {
    /// Gives `node` the memory type of abstract distance `adist`, unless it has a type
    /// already, and counts a use of it; [`EINVAL`] for [`NumaNode::NO_NODE`].
    pub fn init(node: NumaNode, adist: c_int) -> Result<Self> {
        let node = node_id(node)?;
        #[cfg(CONFIG_NUMA)]
        {
            let mtype = types::init(node, adist)?;
            // INVARIANT: initialized above with a type of the never-freed list.
            Ok(Self { node, mtype })
        }
        #[cfg(not(CONFIG_NUMA))]
        {
            let _ = (node, adist);
            Ok(Self {})
        }
    }

    /// Keeps the use until reboot: for memory that stays added in the node.
    pub fn leak_until_reboot(self) {
        let _ = ManuallyDrop::new(self);
    }
}

impl Drop for NodeMemoryType {
    fn drop(&mut self) {
        #[cfg(CONFIG_NUMA)]
        types::clear(self.node, self.mtype);
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

    /// The references held on a memory type (its `kref`).
    #[cfg(CONFIG_NUMA)]
    fn type_refs(t: &NodeMemoryType) -> c_int {
        // SAFETY: `t.mtype` is a memory type that is never freed (type invariant).
        unsafe {
            core::ptr::read_volatile(&raw const (*t.mtype.as_ptr()).kref.refcount.refs.counter)
        }
    }

    /// Dropping a use gives back that use only: a node keeps the type another user gave it.
    /// `clear_node_memory_type(node, NULL)` would take the other user's use, leave the node
    /// without a type, and the next user's type would then be installed (and referenced).
    #[cfg(CONFIG_NUMA)]
    #[test]
    fn node_type_gives_back_only_its_own_use() {
        // The last node number: no machine the tests run on has it, so no one else uses its
        // memory type slot.
        let node = NumaNode::new(bindings::MAX_NUMNODES as c_int - 1).unwrap();
        let (own, other) = (ADISTANCE_DRAM * 7, ADISTANCE_DRAM * 9);
        let first = NodeMemoryType::init(node, own).unwrap();
        let second = NodeMemoryType::init(node, other).unwrap();
        let refs = type_refs(&second);
        drop(second);
        let third = NodeMemoryType::init(node, other).unwrap();
        // The node still has `first`'s type, so `third`'s type was neither installed nor
        // referenced again.
        assert_eq!(type_refs(&third), refs);
        drop(third);
        drop(first);
    }
}
