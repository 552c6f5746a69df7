// SPDX-License-Identifier: GPL-2.0

//! KMEM DAX: map dax-devices as System-RAM.
//!
//! Rust reference driver for `drivers/dax/kmem.c`, with the same behaviour: it hotplugs the
//! memory of a device-DAX device as driver-managed System RAM in the device's NUMA node, and
//! offers the `state` attribute to unplug it and plug it in again.

use kernel::{
    dax,
    device::{
        Bound,
        Core, //
    },
    fmt,
    memory_hotplug::{
        self as mhp,
        AddOptions,
        AddedMemory,
        BlockRange,
        MemoryGroup,
        MemoryTypes,
        NodeMemoryType,
        OnlineType,
        SystemRamRegion, //
    },
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::Mutex, //
};

/// Default abstract distance assigned to the NUMA node onlined by kmem if the low level
/// platform driver didn't initialize one for this NUMA node.
const DEFAULT_DAX_ADISTANCE: i32 = mhp::ADISTANCE_DRAM * 5;

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
    fn parse(input: &[u8]) -> Result<Self> {
        if mhp::sysfs_streq(input, b"unplugged") {
            return Ok(Self::Unplugged);
        }
        match OnlineType::from_sysfs(input)? {
            OnlineType::Offline => Err(EINVAL),
            online => Ok(Self::Plugged(online)),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Unplugged => "unplugged",
            Self::Plugged(t) => t.as_str(),
        }
    }

    fn is_online(self) -> bool {
        matches!(self, Self::Plugged(t) if t.is_online())
    }
}

/// `%#llx`: like `{:#x}`, but plain `0` for zero.
struct Hex(u64);

impl fmt::Display for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            f.write_str("0")
        } else {
            write!(f, "{:#x}", self.0)
        }
    }
}

/// A size as `string_get_size(size, 1, STRING_UNITS_2, ...)` prints it, e.g. "94.0 MiB".
struct HumanSize(u64);

impl fmt::Display for HumanSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 9] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"];
        const ROUNDING: [u64; 3] = [500, 50, 5];
        let (mut size, mut i, mut remainder) = (self.0, 0usize, 0u64);
        let mut digits = 0;
        if size != 0 {
            while size >> 32 != 0 {
                size /= 1024;
                i += 1;
            }
            while size >= 1024 {
                remainder = size % 1024;
                size /= 1024;
                i += 1;
            }
            let mut sf_cap = size;
            while sf_cap * 10 < 1000 {
                sf_cap *= 10;
                digits += 1;
            }
            remainder = ((remainder * 1000) >> 10) + ROUNDING[digits];
            if remainder >= 1000 {
                remainder -= 1000;
                size += 1;
            }
        }
        write!(f, "{size}")?;
        if digits > 0 {
            let all = [remainder / 100, remainder / 10 % 10, remainder % 10];
            f.write_str(".")?;
            for d in &all[..digits] {
                write!(f, "{d}")?;
            }
        }
        write!(f, " {}B", UNITS.get(i).copied().unwrap_or("UNK"))
    }
}

/// One range of the device (range N is `slots[N]`), and what kmem holds of it.
///
/// The fields drop in order: added memory before the reservation that holds it.
struct Slot {
    /// The range aligned to memory blocks, or `None` if it is too small.
    range: Option<BlockRange>,
    /// The memory added from the range.
    mem: Option<AddedMemory>,
    /// The reservation in /proc/iomem, named after the device.
    res: Option<SystemRamRegion>,
}

/// The hotplug state of a device, changed only with the lock held.
///
/// The fields drop in order, undoing probe in reverse: the ranges, then the memory group,
/// then the node's memory type.
struct Inner {
    state: State,
    slots: KVec<Slot>,
    /// `None` once leaked because memory stayed online.
    group: Option<MemoryGroup>,
    node_type: Option<NodeMemoryType>,
}

/// The driver data of a bound device.
#[pin_data]
struct Kmem {
    /// Serialises hotplug state transitions.
    #[pin]
    inner: Mutex<Inner>,
}

/// Module-wide data: the memory types kmem allocated, one per abstract distance.
#[pin_data]
struct KmemShared {
    #[pin]
    types: MemoryTypes,
}

impl Inner {
    /// Reserves every aligned range not reserved yet (best effort). Returns how many it
    /// reserved; -EBUSY if the first one it tried failed.
    fn init_resources(&mut self, dev: &dax::Device<Bound>) -> Result<usize> {
        let mut mapped = 0;
        for (index, slot) in self.slots.iter_mut().enumerate() {
            let Some(range) = slot.range else { continue };
            if slot.res.is_some() {
                continue;
            }
            // Region is permanently reserved if hotremove fails.
            match SystemRamRegion::request(&range, dev.as_ref().name()) {
                Ok(res) => {
                    slot.res = Some(res);
                    mapped += 1;
                }
                Err(_) => {
                    dev_warn!(
                        dev,
                        "mapping{}: {}-{} could not reserve region\n",
                        index,
                        Hex(range.start()),
                        Hex(range.end())
                    );
                    // Once some memory has been onlined we can't assume that it can be
                    // un-onlined safely.
                    if mapped > 0 {
                        continue;
                    }
                    return Err(EBUSY);
                }
            }
        }
        Ok(mapped)
    }

    /// Adds every reserved range as System RAM onlined as `online`. Returns how many ranges
    /// it added; a range that fails is released, and kept failing only if it was the first.
    fn do_hotplug(&mut self, dev: &dax::Device<Bound>, online: OnlineType) -> Result<usize> {
        if self.state.is_online() {
            return Err(EINVAL);
        }
        let group = self.group.as_ref().ok_or(EINVAL)?;
        let options = AddOptions {
            memmap_on_memory: dev.memmap_on_memory(),
        };
        let mut added = 0;
        for (index, slot) in self.slots.iter_mut().enumerate() {
            let Some(range) = slot.range else { continue };
            // Reservation conflicts leave a range unreserved: those systems online partially.
            if slot.res.is_none() {
                continue;
            }
            match AddedMemory::add_driver_managed(group, range, KMEM_NAME, options, online) {
                Ok(mem) => {
                    slot.mem = Some(mem);
                    added += 1;
                }
                Err(e) => {
                    dev_warn!(
                        dev,
                        "mapping{}: {}-{} memory add failed\n",
                        index,
                        Hex(range.start()),
                        Hex(range.end())
                    );
                    // Release the reservation so that a later hotremove does not try to
                    // remove memory that was never added.
                    slot.res = None;
                    if added > 0 {
                        continue;
                    }
                    return Err(e);
                }
            }
        }
        Ok(added)
    }

    /// Offlines and removes every added range atomically: all of them, or none and the device
    /// stays as it was.
    fn do_hotremove(&mut self, dev: &dax::Device<Bound>) -> Result {
        // Allocate first: once taken, added memory must not be dropped.
        let mut taken = KVec::with_capacity(self.slots.len(), GFP_KERNEL)?;
        let mut owners = KVec::with_capacity(self.slots.len(), GFP_KERNEL)?;
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if slot.mem.is_some() {
                if let (Ok(()), Some(mem)) = (owners.push_within_capacity(i), slot.mem.take()) {
                    // Cannot fail: the capacity covers every slot.
                    let _ = taken.push_within_capacity(mem);
                }
            }
        }
        if let Err((back, rc)) = AddedMemory::offline_and_remove(taken) {
            for (i, mem) in owners.into_iter().zip(back) {
                self.slots[i].mem = Some(mem);
            }
            // Recoverable: the ranges rolled back, nothing is leaked yet.
            if cfg!(CONFIG_MEMORY_HOTREMOVE) {
                dev_err!(
                    dev,
                    "hotremove failed, device left online: {}\n",
                    rc.to_errno()
                );
            }
            return Err(rc);
        }
        // All ranges removed; release the reserved resources.
        for slot in self.slots.iter_mut() {
            slot.res = None;
        }
        Ok(())
    }

    /// Drops the reservations of a device whose memory is not online.
    fn cleanup_resources(&mut self) {
        // If memory is online, it can never be removed without offlining it first, which
        // cannot be done here: leave the resources until reboot.
        if kernel::warn_on!(self.state.is_online()) {
            pr_warn!("Hotplug memory regions stuck online until reboot\n");
            return;
        }
        for slot in self.slots.iter_mut() {
            slot.res = None;
        }
    }

    /// Removes every added range with `remove_memory()`, which never offlines. Returns `true`
    /// if all are gone; ranges still online are kept added.
    fn remove_ranges(&mut self, dev: &dax::Device<Bound>) -> bool {
        let mut all = true;
        for (index, slot) in self.slots.iter_mut().enumerate() {
            let Some(mem) = slot.mem.take() else { continue };
            if let Err((mem, _)) = mem.remove() {
                let r = *mem.range();
                dev_warn!(
                    dev,
                    "mapping{}: {}-{} stuck online until reboot\n",
                    index,
                    Hex(r.start()),
                    Hex(r.end())
                );
                slot.mem = Some(mem);
                all = false;
                continue;
            }
            slot.res = None;
        }
        all
    }

    /// Keeps everything of a device whose memory stays added until reboot: the memory, its
    /// reservations and their names, the memory group and the node's memory type.
    fn leak_until_reboot(&mut self) {
        for slot in self.slots.iter_mut() {
            if let Some(mem) = slot.mem.take() {
                mem.leak_until_reboot();
            }
            if let Some(res) = slot.res.take() {
                res.leak_until_reboot();
            }
        }
        if let Some(group) = self.group.take() {
            group.leak_until_reboot();
        }
        if let Some(node_type) = self.node_type.take() {
            node_type.leak_until_reboot();
        }
    }

    fn probe(dev: &dax::Device<Core<'_>>, shared: &KmemShared) -> Result<Self> {
        let online = OnlineType::system_default();
        // Ensure good NUMA information for the persistent memory. Without this check, there
        // is a risk that slow memory could be mixed in a node with faster memory, causing
        // unavoidable performance issues.
        let node = dev.target_node();
        if node < 0 {
            dev_warn!(dev, "rejecting DAX region with invalid node: {}\n", node);
            return Err(EINVAL);
        }

        let adist = mhp::calc_adistance(node, DEFAULT_DAX_ADISTANCE);
        let mtype = shared.types.find_or_alloc(adist)?;

        let mut slots = KVec::new();
        let (mut total_len, mut orig_len) = (0u64, 0u64);
        for (index, orig) in dev.ranges().enumerate() {
            orig_len += orig.len();
            let range = BlockRange::new(orig.start, orig.end);
            match range {
                Some(r) => total_len += r.len(),
                None => dev_info!(
                    dev,
                    "mapping{}: {}-{} too small after alignment\n",
                    index,
                    Hex(orig.start),
                    Hex(orig.end)
                ),
            }
            slots.push(
                Slot {
                    range,
                    mem: None,
                    res: None,
                },
                GFP_KERNEL,
            )?;
        }

        if total_len == 0 {
            dev_warn!(
                dev,
                "rejecting DAX region without any memory after alignment\n"
            );
            return Err(EINVAL);
        } else if total_len != orig_len {
            dev_warn!(
                dev,
                "DAX region truncated by {} due to alignment\n",
                HumanSize(orig_len - total_len)
            );
        }

        // From here on, dropping `inner` on an error undoes what was done, in reverse.
        let node_type = NodeMemoryType::init(node, mtype)?;
        let group = MemoryGroup::register_static(node, total_len.div_ceil(PAGE_SIZE as u64))?;
        let mut inner = Self {
            state: State::Unplugged,
            slots,
            group: Some(group),
            node_type: Some(node_type),
        };
        inner.init_resources(dev)?;
        if let Err(e) = inner.do_hotplug(dev, online) {
            inner.cleanup_resources();
            return Err(e);
        }
        inner.state = State::Plugged(online);
        Ok(inner)
    }
}

struct KmemDriver;

impl dax::Driver for KmemDriver {
    type Data<'bound> = Kmem;
    type Shared = KmemShared;
    const TYPE: dax::DriverType = dax::DriverType::Kmem;
    const ATTRIBUTES: &'static [dax::Attribute] = &[dax::Attribute::rw(c"state")];

    fn shared() -> impl PinInit<KmemShared, Error> {
        try_pin_init!(KmemShared {
            types <- MemoryTypes::new(),
        }? Error)
    }

    fn probe<'bound>(
        dev: &'bound dax::Device<Core<'_>>,
        shared: &'bound KmemShared,
    ) -> impl PinInit<Kmem, Error> + 'bound {
        try_pin_init!(Kmem {
            inner <- new_mutex!(Inner::probe(dev, shared)?),
        }? Error)
    }

    fn unbind<'bound>(
        dev: &'bound dax::Device<Core<'_>>,
        _shared: &'bound KmemShared,
        this: Pin<&'bound Kmem>,
    ) {
        let mut inner = this.inner.lock();
        if !cfg!(CONFIG_MEMORY_HOTREMOVE) {
            // Without hotremove, purposely leak the memory and its reservations: the removal
            // of the device from the driver always succeeds, but the region stays reserved.
            inner.leak_until_reboot();
            return;
        }
        // The state only tracks writes to the `state` attribute, so it can be stale if blocks
        // were toggled via memoryX/state: do not trust it, remove_memory() reports the truth.
        if inner.remove_ranges(dev) {
            // Clear the memory type association on successful unplug.
            if let Some(node_type) = inner.node_type.take() {
                node_type.clear_any();
            }
            return;
        }
        dev_err!(dev, "Hotplug regions stuck online until reboot\n");
        inner.leak_until_reboot();
    }

    fn show<'a>(
        _dev: &'a dax::Device<Bound>,
        this: Pin<&'a Kmem>,
        _attr: &CStr,
        out: &mut dax::ShowBuffer<'_>,
    ) -> Result {
        let state = this.inner.lock().state;
        fmt::Write::write_str(out, state.as_str())
            .and_then(|()| fmt::Write::write_str(out, "\n"))
            .map_err(|_| EINVAL)
    }

    fn store<'a>(
        dev: &'a dax::Device<Bound>,
        this: Pin<&'a Kmem>,
        _attr: &CStr,
        input: &[u8],
    ) -> Result {
        let wanted = State::parse(input)?;
        let mut inner = this.inner.lock();
        // Already in the requested state.
        if inner.state == wanted {
            return Ok(());
        }
        let State::Plugged(online) = wanted else {
            inner.do_hotremove(dev)?;
            inner.state = State::Unplugged;
            return Ok(());
        };
        // Onlining is only allowed from the unplugged state.
        if inner.state != State::Unplugged {
            return Err(EBUSY);
        }
        // Re-acquire resources if previously unplugged, otherwise no-op.
        inner.init_resources(dev)?;
        if let Err(e) = inner.do_hotplug(dev, online) {
            // Total failure, drop the reservations we took.
            inner.cleanup_resources();
            return Err(e);
        }
        inner.state = wanted;
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

#[kunit_tests(kmem_rs)]
mod tests {
    use super::*;
    use kernel::str::CString;

    fn shown(args: fmt::Arguments<'_>) -> CString {
        CString::try_from_fmt(args).expect("small allocation")
    }

    #[test]
    fn state_parsing() {
        assert_eq!(State::parse(b"unplugged"), Ok(State::Unplugged));
        assert_eq!(State::parse(b"unplugged\n"), Ok(State::Unplugged));
        assert_eq!(
            State::parse(b"online_movable\n"),
            Ok(State::Plugged(OnlineType::OnlineMovable))
        );
        assert_eq!(
            State::parse(b"online"),
            Ok(State::Plugged(OnlineType::Online))
        );
        for bad in [
            &b"offline"[..],
            b"offline\n",
            b"",
            b"\n",
            b"online\n\n",
            b"bogus",
            b"Online",
        ] {
            assert_eq!(State::parse(bad), Err(EINVAL));
        }
        assert_eq!(State::Unplugged.as_str(), "unplugged");
        assert!(!State::Plugged(OnlineType::Offline).is_online());
        assert!(State::Plugged(OnlineType::OnlineKernel).is_online());
    }

    #[test]
    fn truncation_sizes_like_string_get_size() {
        const MIB: u64 = 1 << 20;
        let cases: [(u64, &[u8]); 6] = [
            (94 * MIB, b"94.0 MiB"),
            (128 * MIB, b"128 MiB"),
            (1536 * MIB, b"1.50 GiB"),
            (0, b"0 B"),
            (1, b"1.00 B"),
            (4095, b"4.00 KiB"),
        ];
        for (size, want) in cases {
            assert_eq!(shown(fmt!("{}", HumanSize(size))).to_bytes(), want);
        }
    }

    #[test]
    fn hex_like_printk() {
        assert_eq!(shown(fmt!("{}", Hex(0))).to_bytes(), b"0");
        assert_eq!(
            shown(fmt!("{}", Hex(0x1_4800_0000))).to_bytes(),
            b"0x148000000"
        );
    }
}
