// SPDX-License-Identifier: GPL-2.0
// Copyright(c) 2016-2019 Intel Corporation. All rights reserved.

//! KMEM DAX: map dax-devices as System-RAM.
//!
//! Rust reference driver for `drivers/dax/kmem.c`, with the same behaviour: it hotplugs the
//! memory of a device-DAX device as driver-managed System RAM in the device's NUMA node, and
//! offers the `state` attribute to unplug it and plug it in again.

use kernel::{
    dax,
    device::{
        attribute::AttributeOperations,
        Bound,
        Core,
        Device, //
    },
    devres::Devres,
    fmt::Write,
    io::resource::Region,
    memory_hotplug::{
        self as mhp,
        AddedMemory,
        BlockRange,
        OnlineType, //
    },
    new_mutex,
    new_spinlock,
    page::PAGE_SIZE,
    prelude::*,
    str::{
        sysfs_streq,
        BinarySize,
        CString,
        Formatter, //
    },
    sync::{
        Mutex,
        SpinLock, //
    }, //
};

/// Default abstract distance assigned to the NUMA node onlined by kmem if the low level
/// platform driver didn't initialize one for this NUMA node.
const DEFAULT_DAX_ADISTANCE: c_int = mhp::ADISTANCE_DRAM * 5;

/// Memory resource name used for `__add_memory_driver_managed()`.
const KMEM_NAME: &CStr = c"System RAM (kmem)";

/// What the `state` attribute shows and accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// No memory blocks exist for the device.
    Unplugged,
    /// Memory blocks exist, added with this online type.
    Plugged(OnlineType),
}

impl State {
    /// Parses a `state` write. "offline" is refused: it is not useful and creates races.
    fn parse(input: &CStr) -> Result<Self> {
        if sysfs_streq(input, c"unplugged") {
            return Ok(Self::Unplugged);
        }
        match OnlineType::from_sysfs(input)? {
            OnlineType::Offline => Err(EINVAL),
            online => Ok(Self::Plugged(online)),
        }
    }

    fn name(self) -> &'static CStr {
        match self {
            Self::Unplugged => c"unplugged",
            Self::Plugged(online) => online.name(),
        }
    }
}

/// One range of the device (`mappingN`), and what kmem holds of it.
enum Range {
    /// No whole memory block fits: never used.
    TooSmall,
    /// Aligned to memory blocks; nothing held.
    Free(BlockRange),
    /// Reserved in /proc/iomem under the device name; `mem` is the memory added in it, which
    /// drops before its reservation.
    Reserved {
        range: BlockRange,
        mem: Option<AddedMemory>,
        _res: Region,
    },
}

impl Range {
    /// Drops the reservation, if any.
    fn release(&mut self) {
        if let Self::Reserved { range, .. } = *self {
            *self = Self::Free(range);
        }
    }
}

/// What kmem holds of the core's memory hotplug for a bound device, all of which the core
/// uses while memory is added. The fields drop in order, undoing probe: the ranges (their
/// memory and reservations), the memory group, the node's memory type.
struct Hotplug {
    ranges: KVec<Range>,
    memmap_on_memory: bool,
    group: mhp::MemoryGroup,
    _node_type: mhp::NodeMemoryType,
}

impl Hotplug {
    /// Checks and aligns the device's ranges, and takes the node's memory type and a group.
    fn new(dev: &dax::Device<Core<'_>>) -> Result<Self> {
        // Ensure good NUMA information for the persistent memory. Without this check, there
        // is a risk that slow memory could be mixed in a node with faster memory, causing
        // unavoidable performance issues.
        let node = dev.target_node().map_err(|raw| {
            dev_warn!(dev, "rejecting DAX region with invalid node: {raw}\n");
            EINVAL
        })?;
        let adist = mhp::calc_adistance(node, DEFAULT_DAX_ADISTANCE);

        let mut ranges = KVec::new();
        let (mut total_len, mut orig_len) = (0, 0);
        for (i, orig) in dev.ranges().enumerate() {
            orig_len += orig.end() - orig.start() + 1;
            let range = match BlockRange::new(&orig) {
                Some(range) => {
                    total_len += range.len();
                    Range::Free(range)
                }
                None => {
                    let (start, end) = orig.into_inner();
                    dev_info!(
                        dev,
                        "mapping{i}: {start:#x}-{end:#x} too small after alignment\n"
                    );
                    Range::TooSmall
                }
            };
            ranges.push(range, GFP_KERNEL)?;
        }

        if total_len == 0 {
            dev_warn!(
                dev,
                "rejecting DAX region without any memory after alignment\n"
            );
            return Err(EINVAL);
        } else if total_len != orig_len {
            let lost = BinarySize::new(orig_len - total_len);
            dev_warn!(dev, "DAX region truncated by {lost} due to alignment\n");
        }

        let node_type = mhp::NodeMemoryType::init(node, adist)?;
        let pages = usize::try_from(total_len.div_ceil(PAGE_SIZE as u64))?;
        Ok(Self {
            ranges,
            memmap_on_memory: dev.memmap_on_memory(),
            group: mhp::MemoryGroup::register_static(node, pages)?,
            _node_type: node_type,
        })
    }

    /// Reserves every free range (best effort). Fails with [`EBUSY`] only if the first
    /// reservation it tries fails.
    fn init_resources(&mut self, dev: &Device<Bound>, memory: &dax::Memory) -> Result {
        let mut mapped = 0;
        for (i, r) in self.ranges.iter_mut().enumerate() {
            let Range::Free(range) = *r else { continue };
            let Some(_res) = memory.reserve(&range, CString::try_from(dev.name())?)? else {
                dev_warn!(dev, "mapping{i}: {range} could not reserve region\n");
                // Once some memory has been onlined we can't assume that it can be un-onlined
                // safely.
                if mapped == 0 {
                    return Err(EBUSY);
                }
                continue;
            };
            let mem = None;
            *r = Range::Reserved { range, mem, _res };
            mapped += 1;
        }
        Ok(())
    }

    /// Adds every reserved range, onlined as `online`. A range that fails is released, and
    /// the call fails only if no range was added before it. Reservation conflicts leave a
    /// range free: those systems online partially.
    fn do_hotplug(&mut self, dev: &Device<Bound>, memory: &dax::Memory, on: OnlineType) -> Result {
        let options = mhp::AddOptions {
            memmap_on_memory: self.memmap_on_memory,
        };
        let mut added = 0;
        for (i, r) in self.ranges.iter_mut().enumerate() {
            let Range::Reserved { range, mem, .. } = r else {
                continue;
            };
            match memory.add(&self.group, *range, KMEM_NAME, options, on) {
                Ok(m) => {
                    *mem = Some(m);
                    added += 1;
                }
                Err(e) => {
                    dev_warn!(dev, "mapping{i}: {} memory add failed\n", *range);
                    // So that a later hotremove does not try to remove memory that was never
                    // added.
                    r.release();
                    if added == 0 {
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }

    /// Reserves and adds the device's memory, or leaves nothing reserved.
    fn plug(&mut self, dev: &Device<Bound>, mem: &Devres<dax::Memory>, on: OnlineType) -> Result {
        let memory = mem.access(dev)?;
        let res = self
            .init_resources(dev, memory)
            .and_then(|()| self.do_hotplug(dev, memory, on));
        if res.is_err() {
            // Total failure, drop the reservations we took.
            self.ranges.iter_mut().for_each(Range::release);
        }
        res
    }

    /// Offlines and removes every added range as one operation: all of them, or none and the
    /// device stays as it was (unless the core fails after offlining, a bug that WARNs: then
    /// the ranges it removed are released on the next unplug or unbind).
    fn do_hotremove(&mut self, dev: &Device<Bound>) -> Result {
        let added = self.ranges.iter_mut().filter_map(|r| match r {
            Range::Reserved { mem, .. } => Some(mem),
            _ => None,
        });
        AddedMemory::offline_and_remove(added).inspect_err(|e| {
            // Recoverable: the ranges rolled back, nothing is leaked yet.
            if mhp::HOTREMOVE {
                let rc = e.to_errno();
                dev_err!(dev, "hotremove failed, device left online: {rc}\n");
            }
        })?;
        // All ranges removed; release the reserved resources.
        self.ranges.iter_mut().for_each(Range::release);
        Ok(())
    }

    /// Removes every added range with `remove_memory()`, which never offlines: a range that is
    /// still online stays, with its reservation. Returns whether all went.
    fn remove_ranges(&mut self, dev: &Device<Bound>) -> bool {
        let mut all = true;
        for (i, r) in self.ranges.iter_mut().enumerate() {
            let Range::Reserved { range, mem, .. } = r else {
                continue;
            };
            if let Some(Err(e)) = mem.take().map(AddedMemory::remove) {
                dev_warn!(dev, "mapping{i}: {} stuck online until reboot\n", *range);
                *mem = Some(e.memory);
                all = false;
            } else {
                r.release();
            }
        }
        all
    }
}

/// The driver data of a bound device.
#[pin_data]
struct Kmem {
    /// What `state` shows: changed only with `hotplug` held, read without it.
    #[pin]
    state: SpinLock<State>,
    /// Serialises hotplug state transitions. `None` once unbound.
    #[pin]
    hotplug: Mutex<Option<Hotplug>>,
    /// The device's memory, usable while the device is bound to kmem.
    memory: Devres<dax::Memory>,
}

struct KmemDriver;

kernel::device_attributes! {
    static KMEM_ATTRS = {
        data: Kmem,
        attributes: [state: 0],
    };
}

impl dax::Driver for KmemDriver {
    type Data<'bound> = Kmem;
    const TYPE: dax::DriverType = dax::DriverType::Kmem;
    const DEVICE_GROUPS: Option<dax::DriverGroups<Self>> = Some(KMEM_ATTRS.driver_groups());

    fn probe<'bound>(dev: &'bound dax::Device<Core<'_>>) -> impl PinInit<Kmem, Error> + 'bound {
        let online = OnlineType::system_default();
        let hotplug = Hotplug::new(dev);
        // Plug once the driver data is allocated, so that a failure after it unplugs first.
        try_pin_init!(Kmem {
            state <- new_spinlock!(State::Plugged(online)),
            hotplug <- new_mutex!(Some(hotplug?)),
            memory: dev.memory()?,
        }? Error)
        .pin_chain(move |kmem| match &mut *kmem.hotplug.lock() {
            Some(hotplug) => hotplug.plug(dev.as_ref(), &kmem.memory, online),
            None => Err(EINVAL),
        })
    }

    fn unbind<'bound>(dev: &'bound dax::Device<Core<'_>>, this: Pin<&Kmem>) {
        let Some(mut hotplug) = this.hotplug.lock().take() else {
            return;
        };
        // The state only tracks writes to the `state` attribute, so it can be stale if blocks
        // were toggled via memoryX/state: do not trust it, remove_memory() reports the truth.
        // Without hotremove nothing can be removed. On success, dropping `hotplug` gives back
        // the group and the node's memory type.
        if !mhp::HOTREMOVE || !hotplug.remove_ranges(dev.as_ref()) {
            if mhp::HOTREMOVE {
                dev_err!(dev, "Hotplug regions stuck online until reboot\n");
            }
            // The core still uses the memory, its reservations and their names, the group and
            // the node's memory type: keep all of it until reboot. (Not the driver data, which
            // holds a reference on the device.)
            core::mem::forget(hotplug);
        }
    }
}

#[vtable]
impl AttributeOperations<0> for Kmem {
    type Data = Kmem;

    fn show(_dev: &Device<Bound>, this: Pin<&Kmem>, out: &mut Formatter<'_>) -> Result {
        let name = this.state.lock().name().to_str().map_err(|_| EINVAL)?;
        writeln!(out, "{name}").map_err(|_| EINVAL)
    }

    fn store(dev: &Device<Bound>, this: Pin<&Kmem>, input: &CStr) -> Result {
        let wanted = State::parse(input)?;
        let mut guard = this.hotplug.lock();
        let Some(hotplug) = &mut *guard else {
            return Err(ENXIO);
        };
        let now = *this.state.lock();
        match (now, wanted) {
            // Already in the requested state.
            (now, wanted) if now == wanted => return Ok(()),
            (_, State::Unplugged) => hotplug.do_hotremove(dev)?,
            // Re-acquire resources if previously unplugged.
            (State::Unplugged, State::Plugged(on)) => hotplug.plug(dev, &this.memory, on)?,
            // Onlining is only allowed from the unplugged state.
            (State::Plugged(_), State::Plugged(_)) => return Err(EBUSY),
        }
        *this.state.lock() = wanted;
        Ok(())
    }
}

kernel::module_dax_driver! {
    type: KmemDriver,
    name: "kmem",
    authors: ["Intel Corporation", "kmem-rs contributors"],
    description: "KMEM DAX: map dax-devices as System-RAM",
    license: "GPL v2",
    alias: ["dax:t0*"],
}

#[cfg(CONFIG_DEV_DAX_KMEM_RUST_KUNIT_TEST)]
#[kunit_tests(kmem_rs)]
mod tests {
    use super::*;

    #[test]
    fn state_parsing() {
        assert_eq!(State::parse(c"unplugged\n"), Ok(State::Unplugged));
        assert_eq!(
            State::parse(c"online_movable\n"),
            Ok(State::Plugged(OnlineType::OnlineMovable))
        );
        for bad in [c"offline", c"offline\n", c"", c"online\n\n", c"bogus"] {
            assert_eq!(State::parse(bad), Err(EINVAL));
        }
        assert_eq!(State::Unplugged.name(), c"unplugged");
        assert_eq!(State::Plugged(OnlineType::Online).name(), c"online");
    }
}
