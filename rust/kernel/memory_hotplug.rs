// SPDX-License-Identifier: GPL-2.0

//! Memory hotplug: adding memory to the system at run time, and removing it.
//!
//! A driver that owns a physical address range (device-DAX kmem, virtio-mem, CXL) reserves it
//! as System RAM, adds it to the memory hotplug core as driver-managed memory in a memory
//! group, and may later offline and remove it again. Each of those steps is an owned value here
//! whose drop undoes it, so cleanup follows ownership:
//!
//! - [`BlockRange`]: a range aligned to whole memory blocks.
//! - [`OnlineType`]: how the core onlines added memory (`MMOP_*`).
//! - [`MemoryGroup`]: a static memory group (`memory_group_register_static()`).
//! - [`SystemRamRegion`]: the range reserved in the iomem tree (`request_mem_region()`).
//! - [`AddedMemory`]: memory added with `__add_memory_driver_managed()`.
//! - [`MemoryTypes`] and [`NodeMemoryType`]: memory tiering (`mt_find_alloc_memory_type()`).
//!
//! Memory that cannot be removed (it is online and in use) stays added until reboot. The API
//! makes that a deliberate act, [`AddedMemory::leak_until_reboot`] and
//! [`SystemRamRegion::leak_until_reboot`], which also keep the resource names alive, as the
//! iomem tree still points at them.
//!
//! C headers: [`include/linux/memory_hotplug.h`](srctree/include/linux/memory_hotplug.h),
//! [`include/linux/memory.h`](srctree/include/linux/memory.h),
//! [`include/linux/memory-tiers.h`](srctree/include/linux/memory-tiers.h) and
//! [`include/linux/ioport.h`](srctree/include/linux/ioport.h).

use crate::{
    bindings,
    error::{
        from_err_ptr,
        to_result, //
    },
    prelude::*,
    str::CString,
    sync::Mutex,
    types::Opaque, //
};
use core::{
    marker::PhantomData,
    mem::ManuallyDrop,
    ptr::NonNull, //
};

/// The size of a memory block in bytes: the unit of memory hotplug.
pub fn block_size() -> u64 {
    // SAFETY: `memory_block_size_bytes()` has no preconditions.
    let size = unsafe { bindings::memory_block_size_bytes() };
    size as u64
}

/// A non-empty physical address range whose start and end are memory block boundaries.
///
/// The end is inclusive, as in the C `struct range`.
///
/// # Invariants
///
/// `start` is a multiple of the block size it was built with, `end + 1` is too, and
/// `start <= end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockRange {
    start: u64,
    end: u64,
}

impl BlockRange {
    /// Aligns `start..=end` inwards to memory blocks of [`block_size()`], like the C
    /// `memory_block_aligned_range()`; `None` if no whole block fits.
    pub fn new(start: u64, end: u64) -> Option<Self> {
        Self::with_block_size(start, end, block_size())
    }

    /// Aligns `start..=end` inwards to blocks of `block_size` bytes, which must be a power of
    /// two; `None` if no whole block fits, or `block_size` is not a power of two.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::memory_hotplug::BlockRange;
    ///
    /// const MIB: u64 = 1 << 20;
    /// // A 2 GiB - 94 MiB device range at 5 GiB + 94 MiB, with 128 MiB blocks.
    /// let r = BlockRange::with_block_size(0x1_45e0_0000, 0x1_bfff_ffff, 128 * MIB).unwrap();
    /// assert_eq!(r.start(), 0x1_4800_0000);
    /// assert_eq!(r.end(), 0x1_bfff_ffff);
    /// assert_eq!(r.len(), 1920 * MIB);
    /// assert_eq!(r.blocks(128 * MIB), 15);
    /// // Less than one block: nothing left.
    /// assert!(BlockRange::with_block_size(MIB, 100 * MIB, 128 * MIB).is_none());
    /// ```
    pub fn with_block_size(start: u64, end: u64, block_size: u64) -> Option<Self> {
        if !block_size.is_power_of_two() || end < start {
            return None;
        }
        let mask = block_size - 1;
        let aligned_start = start.checked_add(mask)? & !mask;
        let aligned_end = end.checked_add(1)? & !mask;
        if aligned_end <= aligned_start {
            return None;
        }
        // INVARIANT: both `aligned_start` and `aligned_end` are block boundaries, and
        // `aligned_start <= aligned_end - 1` as `aligned_end > aligned_start`.
        Some(Self {
            start: aligned_start,
            end: aligned_end - 1,
        })
    }

    /// The first byte of the range.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// The last byte of the range (inclusive).
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The length of the range in bytes.
    #[expect(clippy::len_without_is_empty, reason = "a BlockRange is never empty")]
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    /// The number of memory blocks of `block_size` bytes in the range.
    pub fn blocks(&self, block_size: u64) -> u64 {
        self.len() / block_size
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
/// The string forms are those of `/sys/devices/system/memory/auto_online_blocks` and of the C
/// `mhp_online_type_from_str()` and `mhp_online_type_to_str()`.
///
/// # Examples
///
/// ```
/// use kernel::memory_hotplug::OnlineType;
///
/// assert_eq!(OnlineType::from_sysfs(b"online_movable\n"), Ok(OnlineType::OnlineMovable));
/// assert_eq!(OnlineType::from_sysfs(b"offline"), Ok(OnlineType::Offline));
/// assert_eq!(OnlineType::from_sysfs(b"online\n\n"), Err(EINVAL));
/// assert_eq!(OnlineType::OnlineKernel.as_str(), "online_kernel");
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
    const ALL: [OnlineType; 4] = [
        Self::Offline,
        Self::Online,
        Self::OnlineKernel,
        Self::OnlineMovable,
    ];

    /// The string form, as `mhp_online_type_to_str()` gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Offline => "offline",
            Self::Online => "online",
            Self::OnlineKernel => "online_kernel",
            Self::OnlineMovable => "online_movable",
        }
    }

    /// Parses a sysfs write like `mhp_online_type_from_str()`: one of the string forms,
    /// optionally followed by a single newline (the C `sysfs_streq()` rule).
    pub fn from_sysfs(input: &[u8]) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|t| sysfs_streq(input, t.as_str().as_bytes()))
            .ok_or(EINVAL)
    }

    /// Whether memory of this type is online.
    pub fn is_online(self) -> bool {
        self != Self::Offline
    }

    /// The system default for newly added memory (`auto_online_blocks`), read at call time.
    pub fn system_default() -> Self {
        // SAFETY: `mhp_get_default_online_type()` has no preconditions.
        let raw = unsafe { bindings::mhp_get_default_online_type() };
        Self::from_raw(raw).unwrap_or(Self::Offline)
    }

    fn from_raw(raw: bindings::mmop) -> Option<Self> {
        Some(match raw {
            bindings::mmop_MMOP_OFFLINE => Self::Offline,
            bindings::mmop_MMOP_ONLINE => Self::Online,
            bindings::mmop_MMOP_ONLINE_KERNEL => Self::OnlineKernel,
            bindings::mmop_MMOP_ONLINE_MOVABLE => Self::OnlineMovable,
            _ => return None,
        })
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

/// `sysfs_streq()`: equal, ignoring one trailing newline on either side.
pub fn sysfs_streq(a: &[u8], b: &[u8]) -> bool {
    let trim = |s: &[u8]| -> usize {
        let s = s.iter().position(|&c| c == 0).map_or(s, |n| &s[..n]);
        match s.last() {
            Some(b'\n') => s.len() - 1,
            _ => s.len(),
        }
    };
    let (la, lb) = (trim(a), trim(b));
    a[..la] == b[..lb]
}

/// A static memory group: memory added to it is accounted to one NUMA node and onlined and
/// offlined as a unit.
///
/// # Invariants
///
/// `id` was returned by a successful `memory_group_register_static()` and is still registered.
pub struct MemoryGroup {
    id: i32,
}

impl MemoryGroup {
    /// Registers a static memory group on `node` for at most `max_pages` pages.
    pub fn register_static(node: i32, max_pages: u64) -> Result<Self> {
        let max_pages = usize::try_from(max_pages).map_err(|_| EINVAL)?;
        // SAFETY: `memory_group_register_static()` validates its arguments.
        let id = unsafe { bindings::memory_group_register_static(node, max_pages) };
        to_result(id)?;
        // INVARIANT: registration succeeded and returned the group id.
        Ok(Self { id })
    }

    /// The group id, as `__add_memory_driver_managed()` takes it with `MHP_NID_IS_MGID`.
    pub fn id(&self) -> i32 {
        self.id
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
        let rc = unsafe { bindings::memory_group_unregister(self.id) };
        if rc != 0 {
            pr_warn!(
                "memory group {} still has memory: not unregistered\n",
                self.id
            );
        }
    }
}

/// A physical address range reserved in the iomem tree for System RAM that is about to be
/// hotplugged (`request_mem_region()` with `IORESOURCE_SYSTEM_RAM`, and `IORESOURCE_BUSY`
/// clear so that the core can add its "System RAM" child resource).
///
/// Dropping it removes the reservation (`remove_resource()`).
///
/// # Invariants
///
/// `res` points to a resource allocated by `request_mem_region()` and inserted in the iomem
/// tree, named by `name`, which lives at least as long as the reservation.
pub struct SystemRamRegion {
    res: NonNull<bindings::resource>,
    name: CString,
}

// SAFETY: The resource is only touched through the iomem tree's own locking.
unsafe impl Send for SystemRamRegion {}
// SAFETY: `&SystemRamRegion` gives no access to the resource.
unsafe impl Sync for SystemRamRegion {}

impl SystemRamRegion {
    /// Reserves `range` in the iomem tree under `name`; [`EBUSY`] if any of it is taken.
    pub fn request(range: &BlockRange, name: &CStr) -> Result<Self> {
        let name = CString::try_from(name)?;
        // SAFETY: `name` is a valid C string that the region owns (and so outlives the resource).
        let res =
            unsafe { bindings::request_mem_region(range.start, range.len(), name.as_char_ptr()) };
        let res = NonNull::new(res).ok_or(EBUSY)?;
        // Set flags appropriate for System RAM. Leave `IORESOURCE_BUSY` clear so that the
        // memory hotplug core can add a child resource. Do not inherit flags from the parent,
        // which may set new flags unknown to us that would break adding memory later.
        // SAFETY: `res` was just allocated and inserted by `request_mem_region()`; its flags
        // are ours to set before anybody else can use it.
        unsafe { (*res.as_ptr()).flags = bindings::IORESOURCE_SYSTEM_RAM as c_ulong };
        // INVARIANT: `res` came from `request_mem_region()`, and `name` is stored with it.
        Ok(Self { res, name })
    }

    /// The name the range is reserved under, as shown in `/proc/iomem`.
    pub fn name(&self) -> &CStr {
        &self.name
    }

    /// Keeps the reservation, and its name, until reboot: for memory that stays added
    /// because it could not be removed.
    pub fn leak_until_reboot(self) {
        let _ = ManuallyDrop::new(self);
    }
}

impl Drop for SystemRamRegion {
    fn drop(&mut self) {
        // SAFETY: By the type invariant `self.res` is in the iomem tree; after removal it is
        // ours to free, with `kfree()` as `request_mem_region()` allocated it.
        unsafe {
            bindings::remove_resource(self.res.as_ptr());
            bindings::kfree(self.res.as_ptr().cast());
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

/// Memory added to the system as driver-managed System RAM with
/// `__add_memory_driver_managed()`.
///
/// Dropping it removes it with `remove_memory()`, which never offlines: memory that is still
/// online cannot be removed, and is then kept added until reboot with a loud error. Drivers
/// should not rely on that: remove it with [`AddedMemory::remove`] or
/// [`AddedMemory::offline_and_remove`], and call [`AddedMemory::leak_until_reboot`] when it
/// must stay.
///
/// # Invariants
///
/// `range` is added to the memory hotplug core under the resource name `name`.
#[must_use = "dropping added memory removes it again"]
pub struct AddedMemory {
    range: BlockRange,
    /// Freed only once the memory is removed: the core points at it until then.
    name: ManuallyDrop<CString>,
}

impl AddedMemory {
    /// Adds `range` to the memory group `group` as driver-managed memory, with the resource
    /// name `name` (e.g. "System RAM (kmem)"), onlined as `online`.
    pub fn add_driver_managed(
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
        // SAFETY: `group.id()` is a registered memory group (type invariant of `MemoryGroup`)
        // and `name` is a valid C string that outlives the added memory: it is stored in
        // `Self` and leaked with it if the memory is never removed.
        to_result(unsafe {
            bindings::__add_memory_driver_managed(
                group.id(),
                range.start,
                range.len(),
                name.as_char_ptr(),
                flags,
                online.as_raw(),
            )
        })?;
        // INVARIANT: the range was added under `name`.
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
    pub fn remove(self) -> core::result::Result<(), (Self, Error)> {
        // SAFETY: By the type invariant the range is added.
        match to_result(unsafe { remove_memory(self.range.start, self.range.len()) }) {
            Ok(()) => {
                self.forget_removed();
                Ok(())
            }
            Err(e) => Err((self, e)),
        }
    }

    /// Offlines and removes all of `memory` atomically with
    /// `offline_and_remove_memory_ranges()`: either every range is offlined and removed, or
    /// none is and all are handed back, in their previous state.
    pub fn offline_and_remove(memory: KVec<Self>) -> core::result::Result<(), (KVec<Self>, Error)> {
        if memory.is_empty() {
            return Ok(());
        }
        let mut ranges = match KVec::with_capacity(memory.len(), GFP_KERNEL) {
            Ok(r) => r,
            Err(e) => return Err((memory, e.into())),
        };
        for m in &memory {
            if let Err(e) = ranges.push(m.range.as_raw(), GFP_KERNEL) {
                return Err((memory, e.into()));
            }
        }
        let Ok(nr) = u32::try_from(ranges.len()) else {
            return Err((memory, EINVAL));
        };
        // SAFETY: `ranges` holds `nr` ranges, each of which is added (type invariant).
        let rc = unsafe { offline_and_remove_memory_ranges(ranges.as_ptr(), nr) };
        match to_result(rc) {
            Ok(()) => {
                for m in memory {
                    m.forget_removed();
                }
                Ok(())
            }
            Err(e) => Err((memory, e)),
        }
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
        let rc = unsafe { remove_memory(self.range.start, self.range.len()) };
        if rc == 0 {
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
/// `start..start + size` must have been added with `__add_memory_driver_managed()`.
unsafe fn remove_memory(start: u64, size: u64) -> c_int {
    // SAFETY: Guaranteed by the caller.
    unsafe { bindings::remove_memory(start, size) }
}

/// `offline_and_remove_memory_ranges()`, or its C fallback without `CONFIG_MEMORY_HOTREMOVE`.
///
/// # Safety
///
/// `ranges` must point to `nr` ranges added with `__add_memory_driver_managed()`.
unsafe fn offline_and_remove_memory_ranges(ranges: *const bindings::range, nr: u32) -> c_int {
    // SAFETY: Guaranteed by the caller.
    unsafe { bindings::offline_and_remove_memory_ranges(ranges, nr) }
}

/// The abstract distance of DRAM (`MEMTIER_ADISTANCE_DRAM`); slower memory has larger values.
pub const ADISTANCE_DRAM: i32 = bindings::MEMTIER_ADISTANCE_DRAM as i32;

/// The abstract distance of `node` as the platform reports it (`mt_calc_adistance()`), or
/// `default` if no platform driver knows the node.
pub fn calc_adistance(node: i32, default: i32) -> i32 {
    let mut adist = default;
    // SAFETY: `adist` is a valid `int` for the call; notifiers only update it.
    unsafe { bindings::mt_calc_adistance(node, &mut adist) };
    adist
}

/// A driver's list of memory types, one per abstract distance (`mt_find_alloc_memory_type()`),
/// protected by a lock. Dropping it releases the list's references (`mt_put_memory_types()`).
///
/// # Examples
///
/// ```
/// use kernel::memory_hotplug::{MemoryTypes, ADISTANCE_DRAM};
///
/// let types = KBox::pin_init(MemoryTypes::new(), GFP_KERNEL)?;
/// let a = types.find_or_alloc(ADISTANCE_DRAM * 5)?;
/// let b = types.find_or_alloc(ADISTANCE_DRAM * 5)?;
/// assert!(a == b);
/// assert!(types.find_or_alloc(ADISTANCE_DRAM * 6)? != a);
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// `list` is an initialized list of `struct memory_dev_type`, linked through their `list`
/// member, each holding one reference, and only accessed with `lock` held.
#[pin_data(PinnedDrop)]
pub struct MemoryTypes {
    #[pin]
    list: Opaque<bindings::list_head>,
    #[pin]
    lock: Mutex<()>,
}

// SAFETY: The list is only accessed with `lock` held.
unsafe impl Send for MemoryTypes {}
// SAFETY: The list is only accessed with `lock` held.
unsafe impl Sync for MemoryTypes {}

impl MemoryTypes {
    /// An empty list.
    pub fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `INIT_LIST_HEAD()` initializes the pinned list head in place.
            list <- Opaque::ffi_init(|p| unsafe { bindings::INIT_LIST_HEAD(p) }),
            lock <- crate::new_mutex!(()),
        })
    }

    /// The memory type for `adist`, allocated and added to the list if it has none yet.
    pub fn find_or_alloc(&self, adist: i32) -> Result<MemoryType<'_>> {
        let _guard = self.lock.lock();
        // SAFETY: By the type invariant `list` is initialized, and we hold the lock.
        let mtype = unsafe { bindings::mt_find_alloc_memory_type(adist, self.list.get()) };
        let mtype = from_err_ptr(mtype)?;
        Ok(MemoryType {
            // The list holds a reference: the type lives at least as long as `self`.
            ptr: NonNull::new(mtype).ok_or(ENOMEM)?,
            _types: PhantomData,
        })
    }
}

#[pinned_drop]
impl PinnedDrop for MemoryTypes {
    fn drop(self: Pin<&mut Self>) {
        let _guard = self.lock.lock();
        // SAFETY: By the type invariant `list` is initialized and holds one reference per
        // type, which this drops; we hold the lock.
        unsafe { bindings::mt_put_memory_types(self.list.get()) };
    }
}

/// A memory type in a [`MemoryTypes`] list.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MemoryType<'a> {
    ptr: NonNull<bindings::memory_dev_type>,
    _types: PhantomData<&'a MemoryTypes>,
}

/// A node's memory type set from a driver (`init_node_memory_type()`); dropping it undoes
/// that (`clear_node_memory_type()` for this type).
///
/// # Invariants
///
/// `init_node_memory_type(node, mtype)` was called and is not undone yet. `mtype` is only
/// compared, never dereferenced, after construction.
pub struct NodeMemoryType {
    node: i32,
    mtype: *mut bindings::memory_dev_type,
}

// SAFETY: Only the node number and a pointer value for comparison are kept.
unsafe impl Send for NodeMemoryType {}
// SAFETY: `&NodeMemoryType` gives no access to anything.
unsafe impl Sync for NodeMemoryType {}

impl NodeMemoryType {
    /// Makes `mtype` the memory type of `node`, unless the node has one already; in both cases
    /// the node's use count goes up, as in `init_node_memory_type()`.
    pub fn init(node: i32, mtype: MemoryType<'_>) -> Result<Self> {
        if node < 0 {
            return Err(EINVAL);
        }
        // SAFETY: `node` is a node number and `mtype` a valid memory type (held by its list).
        unsafe { bindings::init_node_memory_type(node, mtype.ptr.as_ptr()) };
        // INVARIANT: initialized above.
        Ok(Self {
            node,
            mtype: mtype.ptr.as_ptr(),
        })
    }

    /// Keeps the node's memory type set until reboot: for memory that stays added in it.
    pub fn leak_until_reboot(self) {
        let _ = ManuallyDrop::new(self);
    }

    /// Drops the node's use count whatever its memory type is, as the C
    /// `clear_node_memory_type(node, NULL)` does.
    pub fn clear_any(self) {
        let this = ManuallyDrop::new(self);
        // SAFETY: By the type invariant the node was initialized and not cleared yet.
        unsafe { bindings::clear_node_memory_type(this.node, core::ptr::null_mut()) };
    }
}

impl Drop for NodeMemoryType {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the node was initialized and not cleared yet;
        // `mtype` is only compared.
        unsafe { bindings::clear_node_memory_type(self.node, self.mtype) };
    }
}

#[kunit_tests(rust_memory_hotplug)]
mod tests {
    use super::*;

    #[test]
    fn block_range_alignment() {
        const MIB: u64 = 1 << 20;
        let bs = 128 * MIB;
        let r = BlockRange::with_block_size(bs, 3 * bs - 1, bs).unwrap();
        assert_eq!((r.start(), r.len(), r.blocks(bs)), (bs, 2 * bs, 2));
        let r = BlockRange::with_block_size(bs + 1, 3 * bs, bs).unwrap();
        assert_eq!((r.start(), r.end()), (2 * bs, 3 * bs - 1));
        assert!(BlockRange::with_block_size(bs + 1, 2 * bs + 5, bs).is_none());
        assert!(BlockRange::with_block_size(0, u64::MAX, 3).is_none());
        assert!(BlockRange::with_block_size(5, 4, bs).is_none());
        assert!(BlockRange::with_block_size(u64::MAX - 1, u64::MAX, bs).is_none());
    }

    #[test]
    fn online_type_strings_match_c() {
        for s in [
            &b"offline"[..],
            b"online",
            b"online_kernel",
            b"online_movable",
            b"online\n",
            b"online\n\n",
            b"",
            b"\n",
            b"unplugged",
            b"Online",
            b"online_movable ",
        ] {
            let mut buf = [0u8; 32];
            buf[..s.len()].copy_from_slice(s);
            // SAFETY: `buf` is NUL-terminated.
            let c = unsafe { bindings::mhp_online_type_from_str(buf.as_ptr().cast()) };
            let ours = OnlineType::from_sysfs(s).map(|t| t.as_raw() as i32);
            assert_eq!(ours.unwrap_or(EINVAL.to_errno()), c);
        }
        for t in OnlineType::ALL {
            // SAFETY: `mhp_online_type_to_str()` returns a static string for valid types.
            let c =
                unsafe { CStr::from_char_ptr(bindings::mhp_online_type_to_str(t.as_raw() as i32)) };
            assert_eq!(c.to_bytes(), t.as_str().as_bytes());
        }
    }
}
