// SPDX-License-Identifier: GPL-2.0

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
    fmt::Write,
    io::resource::SystemRamRegion,
    memory_hotplug::{
        self as mhp,
        AddOptions,
        AddedMemory,
        BlockRange,
        MemoryGroup,
        NodeMemoryType,
        OnlineType, //
    },
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    str::{
        sysfs_streq,
        BinarySize,
        Formatter, //
    },
    sync::Mutex, //
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

/// One range of the device (`mappingN`), in the state kmem holds it.
enum Range {
    /// No whole memory block fits: never used.
    TooSmall,
    /// Aligned to memory blocks; nothing held.
    Free(BlockRange),
    /// Reserved in /proc/iomem under the device name, not added.
    Reserved(BlockRange, SystemRamRegion),
    /// Reserved and added as System RAM; the memory is in [`Hotplug::added`].
    Added(BlockRange, SystemRamRegion),
}

impl Range {
    /// Drops the reservation, if any. Region is permanently reserved if hotremove fails.
    fn release(&mut self) {
        if let Self::Reserved(range, _) | Self::Added(range, _) = *self {
            *self = Self::Free(range);
        }
    }

    /// Keeps the reservation, if any, until reboot.
    fn leak_until_reboot(&mut self) {
        if let Self::Reserved(_, res) | Self::Added(_, res) =
            core::mem::replace(self, Self::TooSmall)
        {
            res.leak_until_reboot();
        }
    }
}

/// The hotplug state of a bound device. The fields drop in order, undoing probe: the added
/// memory, the reservations, the memory group, the node's memory type.
struct Hotplug {
    state: State,
    /// Added memory, in range order, as `offline_and_remove()` takes it.
    added: KVec<AddedMemory>,
    ranges: KVec<Range>,
    memmap_on_memory: bool,
    /// `None` once kept until reboot.
    group: Option<MemoryGroup>,
    node_type: Option<NodeMemoryType>,
}

impl Hotplug {
    /// Checks and aligns the device's ranges, and takes the node's memory type and a group.
    fn new(dev: &dax::Device<Core<'_>>) -> Result<Self> {
        // Ensure good NUMA information for the persistent memory. Without this check, there
        // is a risk that slow memory could be mixed in a node with faster memory, causing
        // unavoidable performance issues.
        let Some(node) = dev.target_node() else {
            let raw = dev.raw_target_node();
            dev_warn!(dev, "rejecting DAX region with invalid node: {}\n", raw);
            return Err(EINVAL);
        };
        let adist = mhp::calc_adistance(node, DEFAULT_DAX_ADISTANCE);

        let mut ranges = KVec::new();
        let (mut total_len, mut orig_len) = (0, 0);
        for (i, orig) in dev.ranges().enumerate() {
            orig_len += orig.end() - orig.start() + 1;
            let range = match BlockRange::new(&orig) {
                Some(r) => {
                    total_len += r.len();
                    Range::Free(r)
                }
                None => {
                    let (start, end) = (orig.start(), orig.end());
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

        let node_type = NodeMemoryType::init(node, adist)?;
        let pages = usize::try_from(total_len.div_ceil(PAGE_SIZE as u64))?;
        Ok(Self {
            state: State::Unplugged,
            added: KVec::new(),
            ranges,
            memmap_on_memory: dev.memmap_on_memory(),
            group: Some(MemoryGroup::register_static(node, pages)?),
            node_type: Some(node_type),
        })
    }

    /// Reserves every free range (best effort). Fails with [`EBUSY`] only if the first
    /// reservation it tries fails.
    fn init_resources(&mut self, dev: &Device<Bound>) -> Result {
        let mut mapped = 0;
        for (i, r) in self.ranges.iter_mut().enumerate() {
            let Range::Free(range) = *r else { continue };
            match SystemRamRegion::request(range.start(), range.len(), dev.name())? {
                Some(res) => {
                    *r = Range::Reserved(range, res);
                    mapped += 1;
                }
                None => {
                    let (start, end) = (range.start(), range.end());
                    dev_warn!(
                        dev,
                        "mapping{i}: {start:#x}-{end:#x} could not reserve region\n"
                    );
                    // Once some memory has been onlined we can't assume that it can be
                    // un-onlined safely.
                    if mapped == 0 {
                        return Err(EBUSY);
                    }
                }
            }
        }
        Ok(())
    }

    /// Adds every reserved range, onlined as `online`. A range that fails is released, and
    /// the call fails only if it was the first. Reservation conflicts leave a range free:
    /// those systems online partially.
    fn do_hotplug(&mut self, dev: &Device<Bound>, online: OnlineType) -> Result {
        let group = self.group.as_ref().ok_or(EINVAL)?;
        let options = AddOptions {
            memmap_on_memory: self.memmap_on_memory,
        };
        for (i, r) in self.ranges.iter_mut().enumerate() {
            let Range::Reserved(range, _) = *r else {
                continue;
            };
            let added = &mut self.added;
            match AddedMemory::add_driver_managed(added, group, range, KMEM_NAME, options, online) {
                Ok(()) => {
                    if let Range::Reserved(range, res) = core::mem::replace(r, Range::TooSmall) {
                        *r = Range::Added(range, res);
                    }
                }
                Err(e) => {
                    let (start, end) = (range.start(), range.end());
                    dev_warn!(dev, "mapping{i}: {start:#x}-{end:#x} memory add failed\n");
                    // So that a later hotremove does not try to remove memory that was never
                    // added.
                    r.release();
                    if self.added.is_empty() {
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }

    /// Reserves and adds the device's memory, or leaves nothing reserved.
    fn plug(&mut self, dev: &Device<Bound>, online: OnlineType) -> Result {
        self.init_resources(dev)?;
        if let Err(e) = self.do_hotplug(dev, online) {
            // Total failure, drop the reservations we took.
            self.ranges.iter_mut().for_each(Range::release);
            return Err(e);
        }
        self.state = State::Plugged(online);
        Ok(())
    }

    /// Offlines and removes every added range atomically: all of them, or none and the device
    /// stays as it was.
    fn do_hotremove(&mut self, dev: &Device<Bound>) -> Result {
        if let Err(e) = AddedMemory::offline_and_remove(&mut self.added) {
            // Recoverable: the ranges rolled back, nothing is leaked yet.
            if mhp::HOTREMOVE {
                let rc = e.to_errno();
                dev_err!(dev, "hotremove failed, device left online: {rc}\n");
            }
            return Err(e);
        }
        // All ranges removed; release the reserved resources.
        self.ranges.iter_mut().for_each(Range::release);
        self.state = State::Unplugged;
        Ok(())
    }

    /// Removes every added range with `remove_memory()`, which never offlines. Returns `false`
    /// if any stays online; those are kept added until reboot.
    fn remove_ranges(&mut self, dev: &Device<Bound>) -> bool {
        let mut all = true;
        // `added` holds the memory of the `Added` ranges, in the same order.
        let ranges = self.ranges.iter_mut().enumerate();
        let ranges = ranges.filter(|(_, r)| matches!(r, Range::Added(..)));
        for ((i, r), mem) in ranges.zip(self.added.drain_all()) {
            if let Err(e) = mem.remove() {
                let (start, end) = (e.memory.range().start(), e.memory.range().end());
                dev_warn!(
                    dev,
                    "mapping{i}: {start:#x}-{end:#x} stuck online until reboot\n"
                );
                e.memory.leak_until_reboot();
                all = false;
                continue;
            }
            r.release();
        }
        all
    }

    /// Keeps what the core still uses until reboot: the added memory, the reservations and
    /// their names, the memory group and the node's memory type.
    fn leak_until_reboot(&mut self) {
        self.added
            .drain_all()
            .for_each(AddedMemory::leak_until_reboot);
        self.ranges.iter_mut().for_each(Range::leak_until_reboot);
        if let Some(group) = self.group.take() {
            group.leak_until_reboot();
        }
        if let Some(node_type) = self.node_type.take() {
            node_type.leak_until_reboot();
        }
    }
}

/// The driver data of a bound device.
#[pin_data]
struct Kmem {
    /// Serialises hotplug state transitions.
    #[pin]
    hotplug: Mutex<Hotplug>,
}

struct KmemDriver;

kernel::device_attributes! {
    static KMEM_ATTRS: dax::Adapter<KmemDriver> = [state: 0 KmemDriver, rw];
}

impl dax::Driver for KmemDriver {
    type Data<'bound> = Kmem;
    const TYPE: dax::DriverType = dax::DriverType::Kmem;
    const DEVICE_GROUPS: Option<&'static kernel::device::attribute::Groups<dax::Adapter<Self>>> =
        Some(&KMEM_ATTRS);

    fn probe<'bound>(dev: &'bound dax::Device<Core<'_>>) -> impl PinInit<Kmem, Error> + 'bound {
        let online = OnlineType::system_default();
        let hotplug = Hotplug::new(dev);
        try_pin_init!(Kmem {
            hotplug <- new_mutex!(hotplug?),
        }? Error)
        .pin_chain(move |kmem| kmem.hotplug.lock().plug(dev.as_ref(), online))
    }

    fn unbind<'bound>(dev: &'bound dax::Device<Core<'_>>, this: Pin<&Kmem>) {
        let mut hotplug = this.hotplug.lock();
        // Without hotremove, purposely leak the memory and its reservations: the removal of
        // the device from the driver always succeeds, but the region stays reserved.
        if !mhp::HOTREMOVE {
            hotplug.leak_until_reboot();
            return;
        }
        // The state only tracks writes to the `state` attribute, so it can be stale if blocks
        // were toggled via memoryX/state: do not trust it, remove_memory() reports the truth.
        // On success, dropping the data gives back the group and the node's memory type.
        if !hotplug.remove_ranges(dev.as_ref()) {
            dev_err!(dev, "Hotplug regions stuck online until reboot\n");
            hotplug.leak_until_reboot();
        }
    }
}

impl AttributeOperations<0> for KmemDriver {
    type Layout = dax::Adapter<KmemDriver>;

    fn show(_dev: &Device<Bound>, this: Pin<&Kmem>, out: &mut Formatter<'_>) -> Result {
        let name = this
            .hotplug
            .lock()
            .state
            .name()
            .to_str()
            .map_err(|_| EINVAL)?;
        writeln!(out, "{name}").map_err(|_| EINVAL)
    }

    fn store(dev: &Device<Bound>, this: Pin<&Kmem>, input: &CStr) -> Result {
        let wanted = State::parse(input)?;
        let mut hotplug = this.hotplug.lock();
        match (hotplug.state, wanted) {
            // Already in the requested state.
            (now, wanted) if now == wanted => Ok(()),
            (_, State::Unplugged) => hotplug.do_hotremove(dev),
            // Re-acquire resources if previously unplugged.
            (State::Unplugged, State::Plugged(online)) => hotplug.plug(dev, online),
            // Onlining is only allowed from the unplugged state.
            (State::Plugged(_), State::Plugged(_)) => Err(EBUSY),
        }
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
        for bad in [
            c"offline",
            c"offline\n",
            c"",
            c"\n",
            c"online\n\n",
            c"bogus",
        ] {
            assert_eq!(State::parse(bad), Err(EINVAL));
        }
        assert_eq!(State::Unplugged.name(), c"unplugged");
        assert_eq!(State::Plugged(OnlineType::Online).name(), c"online");
    }
}
