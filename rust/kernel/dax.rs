// SPDX-License-Identifier: GPL-2.0

//! Abstractions for drivers of the device-DAX bus.
//!
//! A device-DAX device (`struct dev_dax`) is a range of memory (persistent memory, HMEM, CXL)
//! that a driver either exposes as a character device or hands to the kernel as System RAM.
//! The bus matches drivers to devices by [`DriverType`].
//!
//! C headers: [`drivers/dax/bus.h`](srctree/drivers/dax/bus.h) and
//! [`drivers/dax/dax-private.h`](srctree/drivers/dax/dax-private.h).

use crate::{
    alloc::NumaNode,
    bindings,
    device,
    driver,
    error::{
        from_result,
        to_result, //
    },
    io::PhysAddr,
    prelude::*,
    sync::aref::AlwaysRefCounted,
    types::Opaque,
    ThisModule, //
};
use core::{
    marker::PhantomData,
    mem::offset_of,
    ops::RangeInclusive,
    ptr::NonNull, //
};

#[cfg(CONFIG_MEMORY_HOTPLUG)]
use crate::{
    devres::Devres,
    io::resource::Region,
    memory_hotplug::{
        AddOptions,
        AddedMemory,
        BlockRange,
        MemoryGroup,
        OnlineType, //
    },
    str::CString,
};

/// Which devices a dax driver binds by default (C `enum dax_driver_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriverType {
    /// Hands device memory to the kernel as System RAM (`DAXDRV_KMEM_TYPE`).
    Kmem,
    /// Exposes the device as a character device (`DAXDRV_DEVICE_TYPE`).
    Device,
    /// Backs a file system on the device (`DAXDRV_FSDEV_TYPE`, famfs).
    FsDev,
}

impl DriverType {
    fn as_raw(self) -> bindings::dax_driver_type {
        match self {
            Self::Kmem => bindings::dax_driver_type_DAXDRV_KMEM_TYPE,
            Self::Device => bindings::dax_driver_type_DAXDRV_DEVICE_TYPE,
            Self::FsDev => bindings::dax_driver_type_DAXDRV_FSDEV_TYPE,
        }
    }
}

/// The dax driver trait.
///
/// Drivers must implement this trait in order to get a dax driver registered, usually with
/// [`module_dax_driver!`](kernel::module_dax_driver).
///
/// # Examples
///
/// ```
/// use kernel::{dax, device::Core, prelude::*};
///
/// struct SampleDriver;
///
/// impl dax::Driver for SampleDriver {
///     type Data<'bound> = ();
///     const TYPE: dax::DriverType = dax::DriverType::Kmem;
///
///     fn probe<'bound>(
///         dev: &'bound dax::Device<Core<'_>>,
///     ) -> impl PinInit<(), Error> + 'bound {
///         match dev.target_node() {
///             Ok(node) => dev_info!(dev, "node {}\n", node.id()),
///             Err(raw) => dev_info!(dev, "no node: {raw}\n"),
///         }
///         Ok::<(), Error>(())
///     }
/// }
/// ```
pub trait Driver: 'static {
    /// The driver's data for each bound device. Attributes in [`Self::DEVICE_GROUPS`] share it
    /// with concurrent callbacks, and require it to be `Sync`.
    type Data<'bound>: Send + 'bound;

    /// Which devices the driver binds by default.
    const TYPE: DriverType;

    /// The sysfs attributes the driver adds to each bound device: a table built with
    /// [`device_attributes!`](kernel::device_attributes) for `Self::Data`, as
    /// `Some(TABLE.driver_groups())`.
    const DEVICE_GROUPS: Option<DriverGroups<Self>> = None;

    /// Binds the driver to `dev`.
    fn probe<'bound>(
        dev: &'bound Device<device::Core<'_>>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound;

    /// Unbinds the driver from `dev`, before its data is dropped. Optional.
    fn unbind<'bound>(dev: &'bound Device<device::Core<'_>>, this: Pin<&Self::Data<'bound>>) {
        let _ = (dev, this);
    }
}

/// The sysfs attribute table of the dax driver `T` (see [`Driver::DEVICE_GROUPS`]).
pub type DriverGroups<T> = device::attribute::DriverGroups<Adapter<T>>;

/// An adapter for the registration of dax drivers.
pub struct Adapter<T: Driver + ?Sized>(PhantomData<T>);

// SAFETY:
// - `bindings::dax_device_driver` is a C type declared as `repr(C)`.
// - `T::Data` is the type of the driver's device private data, stored by `probe_callback`.
// - `DEVICE_DRIVER_OFFSET` is the offset of the embedded `struct device_driver`.
unsafe impl<T: Driver> driver::DriverLayout for Adapter<T> {
    type DriverType = bindings::dax_device_driver;
    type DriverData<'bound> = T::Data<'bound>;
    const DEVICE_DRIVER_OFFSET: usize = offset_of!(bindings::dax_device_driver, drv);
    const DEVICE_GROUPS: Option<DriverGroups<T>> = T::DEVICE_GROUPS;
}

// SAFETY: `unregister` is only called after a successful `register`, and undoes it.
unsafe impl<T: Driver> driver::RegistrationOps for Adapter<T> {
    unsafe fn register(
        ddrv: &Opaque<Self::DriverType>,
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> Result {
        // SAFETY: It's safe to set the fields of `struct dax_device_driver` on initialization.
        unsafe {
            (*ddrv.get()).type_ = T::TYPE.as_raw();
            (*ddrv.get()).probe = Some(Self::probe_callback);
            (*ddrv.get()).remove = Some(Self::remove_callback);
        }
        // SAFETY: `ddrv` is a valid `struct dax_device_driver` that stays pinned until it is
        // unregistered; `name` and `module` are static.
        to_result(unsafe {
            bindings::__dax_driver_register(ddrv.get(), module.as_ptr(), name.as_char_ptr())
        })
    }

    unsafe fn unregister(ddrv: &Opaque<Self::DriverType>) {
        // SAFETY: By the safety requirements `ddrv` was registered.
        unsafe { bindings::dax_driver_unregister(ddrv.get()) }
    }
}

impl<T: Driver> Adapter<T> {
    extern "C" fn probe_callback(dev_dax: *mut bindings::dev_dax) -> c_int {
        // SAFETY: `dax_bus_probe()` only calls probe with a valid `struct dev_dax`.
        //
        // INVARIANT: `dev_dax` is valid for the duration of `probe_callback()`.
        let dev = unsafe { &*dev_dax.cast::<Device<device::CoreInternal<'_>>>() };
        from_result(|| {
            let data = T::probe(dev);
            dev.as_ref().set_drvdata(data)?;
            Ok(0)
        })
    }

    extern "C" fn remove_callback(dev_dax: *mut bindings::dev_dax) {
        // SAFETY: `dax_bus_remove()` only calls remove with a valid `struct dev_dax`.
        //
        // INVARIANT: `dev_dax` is valid for the duration of `remove_callback()`.
        let dev = unsafe { &*dev_dax.cast::<Device<device::CoreInternal<'_>>>() };
        // SAFETY: `remove_callback` is only called after a successful `probe_callback`, which
        // stored a `Pin<KBox<T::Data<'_>>>` with `set_drvdata()`.
        let data = unsafe { dev.as_ref().drvdata_borrow::<T::Data<'_>>() };
        T::unbind(dev, data);
    }
}

/// Declares a kernel module that exposes a single dax driver.
///
/// The driver's name is the module's name, as for C dax drivers.
///
/// # Examples
///
/// ```ignore
/// kernel::module_dax_driver! {
///     type: MyDriver,
///     name: "kmem",
///     authors: ["Rust for Linux Contributors"],
///     description: "My dax driver",
///     license: "GPL v2",
///     alias: ["dax:t0*"],
/// }
/// ```
#[macro_export]
macro_rules! module_dax_driver {
    ($($f:tt)*) => {
        $crate::module_driver!(<T>, $crate::dax::Adapter<T>, { $($f)* });
    };
}

/// A device-DAX device (C `struct dev_dax`).
///
/// # Invariants
///
/// A [`Device`] instance represents a valid `struct dev_dax` created by the dax bus.
#[repr(transparent)]
pub struct Device<Ctx: device::DeviceContext = device::Normal>(
    Opaque<bindings::dev_dax>,
    PhantomData<Ctx>,
);

impl<Ctx: device::DeviceContext> Device<Ctx> {
    fn as_raw(&self) -> *mut bindings::dev_dax {
        self.0.get()
    }

    /// The NUMA node the device's memory belongs to, or the bus's number for it if that is
    /// no valid node (negative when the platform does not know the node).
    pub fn target_node(&self) -> Result<NumaNode, i32> {
        // SAFETY: By the type invariant `self.as_raw()` is valid; `target_node` is set when
        // the device is created (`devm_create_dev_dax()`) and never changes.
        let node = unsafe { (*self.as_raw()).target_node };
        NumaNode::new(node).map_err(|_| node)
    }
}

impl Device<device::Bound> {
    /// Whether the memory map of hotplugged memory should live on the memory itself (the
    /// device's `memmap_on_memory` attribute).
    pub fn memmap_on_memory(&self) -> bool {
        // SAFETY: By the type invariant `self.as_raw()` is valid. `memmap_on_memory_store()` in
        // drivers/dax/bus.c changes the field under `dax_dev_rwsem`, which is private to the
        // bus, and refuses (-EBUSY) while a kmem-type driver is bound; with a driver of another
        // type bound it may store concurrently. The read is therefore a single volatile load
        // of the `bool` (`READ_ONCE()`), which sees the old or the new value.
        unsafe { core::ptr::read_volatile(&raw const (*self.as_raw()).memmap_on_memory) }
    }

    /// The device's physical address ranges, fixed while a driver is bound.
    pub fn ranges(&self) -> impl Iterator<Item = RangeInclusive<PhysAddr>> + '_ {
        // SAFETY: By the type invariant `self.as_raw()` is valid. `ranges` and `nr_range`
        // change only under `dax_dev_rwsem` held for write, in `dev_dax_resize()` (from
        // `size_store()`) and `mapping_store()`, and both refuse (-EBUSY) while `dev->driver`
        // is set. The driver core sets `dev->driver` before `dax_bus_probe()` takes
        // `dax_dev_rwsem` for read, and clears it after remove, so the ranges stay as they are
        // from probe to remove. Devices are freed only after they are unbound.
        let (ptr, nr) = unsafe { ((*self.as_raw()).ranges, (*self.as_raw()).nr_range) };
        let nr = usize::try_from(nr).unwrap_or(0);
        (0..nr).map(move |i| {
            // SAFETY: `ranges` holds `nr_range` entries, see above.
            let r = unsafe { (*ptr.add(i)).range };
            r.start..=r.end
        })
    }
}

#[cfg(CONFIG_MEMORY_HOTPLUG)]
impl Device<device::Bound> {
    /// The device's memory, for the bound driver to add as System RAM with [`Memory::add`]:
    /// revoked when the driver unbinds, so it can be used only while the device is bound to
    /// the driver that asked for it.
    pub fn memory(&self) -> Result<Devres<Memory>> {
        let mut ranges = KVec::new();
        for r in self.ranges() {
            ranges.push(r, GFP_KERNEL)?;
        }
        // INVARIANT: the ranges of `self`, bound to the caller; `Devres` revokes the value when
        // the driver unbinds.
        Devres::new(self.as_ref(), Memory { ranges })
    }
}

/// The memory of a dax device, held by the driver bound to it (in a [`Devres`], from
/// [`Device::memory`]).
///
/// [`Memory::reserve`] and [`Memory::add`] sleep: reach them with [`Devres::access`], not
/// with `Devres::try_access()`, whose guard holds the RCU read lock.
///
/// # Invariants
///
/// `ranges` are the ranges of a dax device, and the value is reachable only while the driver
/// that made it is bound to the device.
#[cfg(CONFIG_MEMORY_HOTPLUG)]
pub struct Memory {
    ranges: KVec<RangeInclusive<PhysAddr>>,
}

#[cfg(CONFIG_MEMORY_HOTPLUG)]
impl Memory {
    /// Whether `range` lies in one of the device's ranges.
    #[inline(always)]
    fn holds(&self, range: &BlockRange) -> bool {
        let within =
            |r: &RangeInclusive<PhysAddr>| r.contains(&range.start()) && r.contains(&range.end());
        self.ranges.iter().any(within)
    }

    /// Reserves `range`, which must lie in one of the device's ranges ([`EINVAL`] otherwise),
    /// in the iomem tree for System RAM under `name` ([`Region::request_system_ram`]); `None` if
    /// any part of it is taken.
    pub fn reserve(&self, range: &BlockRange, name: CString) -> Result<Option<Region>> {
        if !self.holds(range) {
            return Err(EINVAL);
        }
        // SAFETY: `range` is memory of a dax device (type invariant), which the dax bus hands
        // to the driver bound to it and to no one else while it is bound; that driver is the
        // caller, as `self` is reachable only while it is bound (type invariant).
        Ok(unsafe { Region::request_system_ram(range.start(), range.len(), name) })
    }

    /// Adds `range`, which must lie in one of the device's ranges ([`EINVAL`] otherwise), as
    /// driver-managed memory ([`AddedMemory::add_driver_managed`]).
    #[inline(always)]
    pub fn add(
        &self,
        group: &MemoryGroup,
        range: BlockRange,
        name: &CStr,
        options: AddOptions,
        online: OnlineType,
    ) -> Result<AddedMemory> {
        if !self.holds(&range) {
            return Err(EINVAL);
        }
        // SAFETY: `range` is memory of a dax device (type invariant), which the dax bus hands
        // to the driver bound to it and to no one else while it is bound; that driver is the
        // caller, as `self` is reachable only while it is bound (type invariant).
        unsafe { AddedMemory::add_driver_managed(group, range, name, options, online) }
    }
}

impl<Ctx: device::DeviceContext> AsRef<device::Device<Ctx>> for Device<Ctx> {
    fn as_ref(&self) -> &device::Device<Ctx> {
        // SAFETY: By the type invariant of `Self`, `self.as_raw()` is a pointer to a valid
        // `struct dev_dax`.
        let dev = unsafe { &raw mut (*self.as_raw()).dev };

        // SAFETY: `dev` points to a valid `struct device`.
        unsafe { device::Device::from_raw(dev) }
    }
}

// SAFETY: `Device` is a transparent wrapper of a type that doesn't depend on `Device`'s generic
// argument.
kernel::impl_device_context_deref!(unsafe { Device });
kernel::impl_device_context_into_aref!(Device);

// SAFETY: Instances of `Device` are always reference-counted, through the embedded
// `struct device`.
unsafe impl AlwaysRefCounted for Device {
    fn inc_ref(&self) {
        // SAFETY: The existence of a shared reference guarantees that the refcount is non-zero.
        unsafe { bindings::get_device(self.as_ref().as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The safety requirements guarantee that the refcount is non-zero; the
        // `struct dev_dax` is freed by its device's release (`dev_dax_release()`).
        unsafe { bindings::put_device(&raw mut (*obj.as_ref().as_raw()).dev) }
    }
}

// SAFETY: `dax::Device` is a transparent wrapper of `struct dev_dax`, whose `dev` field is at
// `OFFSET`.
unsafe impl<Ctx: device::DeviceContext> device::AsBusDevice<Ctx> for Device<Ctx> {
    const OFFSET: usize = offset_of!(bindings::dev_dax, dev);
}

// SAFETY: A `Device` is always reference-counted and can be released from any thread.
unsafe impl Send for Device {}

// SAFETY: `Device` can be shared among threads because all methods of `Device` (i.e.
// `Device<Normal>`) are thread safe.
unsafe impl Sync for Device {}

// SAFETY: A bound `Device` is only used through methods that are safe to call from any thread.
unsafe impl Sync for Device<device::Bound> {}
