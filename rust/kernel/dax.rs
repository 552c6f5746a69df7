// SPDX-License-Identifier: GPL-2.0

//! Abstractions for drivers of the device-DAX bus.
//!
//! A device-DAX device (`struct dev_dax`) is a range of memory (persistent memory, HMEM, CXL)
//! that a driver either exposes as a character device or hands to the kernel as System RAM.
//! The bus matches drivers to devices by [`DriverType`].
//!
//! A driver adds sysfs attributes to the devices it binds with [`Driver::ATTRIBUTES`], and
//! reads and writes them in [`Driver::show`] and [`Driver::store`] with its device data at
//! hand. The attribute tables live in the driver's own C structure ([`RawDriver`]) and are
//! handed to the driver core as `dev_groups`, so the core creates them after probe and removes
//! them before remove, which is what makes the driver data safe to use there. Nothing in that
//! mechanism is dax-specific; it lives here because the dax bus is its only user so far, and
//! can move to `kernel::device` when a second bus needs it.
//!
//! C headers: [`drivers/dax/bus.h`](srctree/drivers/dax/bus.h) and
//! [`drivers/dax/dax-private.h`](srctree/drivers/dax/dax-private.h).

use crate::{
    bindings,
    container_of,
    device,
    driver,
    error::{
        from_result,
        to_result, //
    },
    prelude::*,
    types::Opaque,
    ThisModule, //
};
use core::{
    fmt,
    marker::PhantomData,
    mem::offset_of,
    pin::Pin,
    ptr::addr_of_mut, //
};

/// The most sysfs attributes a driver can add to the devices it binds.
pub const MAX_ATTRIBUTES: usize = 4;

/// Which devices a dax driver binds by default (C `enum dax_driver_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriverType {
    /// Hands device memory to the kernel as System RAM (`DAXDRV_KMEM_TYPE`).
    Kmem,
    /// Exposes the device as a character device (`DAXDRV_DEVICE_TYPE`).
    Device,
}

impl DriverType {
    fn as_raw(self) -> bindings::dax_driver_type {
        match self {
            Self::Kmem => bindings::dax_driver_type_DAXDRV_KMEM_TYPE,
            Self::Device => bindings::dax_driver_type_DAXDRV_DEVICE_TYPE,
        }
    }
}

/// A sysfs attribute that a driver adds to each device while it is bound to it.
///
/// Reads and writes reach [`Driver::show`] and [`Driver::store`] with the attribute's name.
#[derive(Clone, Copy, Debug)]
pub struct Attribute {
    name: &'static CStr,
    mode: u16,
}

impl Attribute {
    /// A read-write attribute (mode 0644).
    pub const fn rw(name: &'static CStr) -> Self {
        Self { name, mode: 0o644 }
    }

    /// A read-only attribute (mode 0444).
    pub const fn ro(name: &'static CStr) -> Self {
        Self { name, mode: 0o444 }
    }
}

/// The output of [`Driver::show`]: at most one page, as sysfs wants it.
pub struct ShowBuffer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl fmt::Write for ShowBuffer<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Keep room for the terminating NUL that sysfs expects.
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        if end >= self.buf.len() {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
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
///     type Shared = ();
///     const TYPE: dax::DriverType = dax::DriverType::Kmem;
///
///     fn shared() -> impl PinInit<(), Error> {
///         Ok::<(), Error>(())
///     }
///
///     fn probe<'bound>(
///         dev: &'bound dax::Device<Core<'_>>,
///         _shared: &'bound (),
///     ) -> impl PinInit<(), Error> + 'bound {
///         dev_info!(dev.as_ref(), "node {}\n", dev.target_node());
///         Ok::<(), Error>(())
///     }
/// }
/// ```
pub trait Driver: 'static {
    /// The driver's data for each bound device.
    type Data<'bound>: Send + 'bound;

    /// Data shared by all devices of the driver, alive while the driver is registered: what a
    /// C driver keeps in statics next to its `struct dax_device_driver`.
    type Shared: Send + Sync;

    /// Which devices the driver binds by default.
    const TYPE: DriverType;

    /// The sysfs attributes the driver adds to each bound device (at most
    /// [`MAX_ATTRIBUTES`]).
    const ATTRIBUTES: &'static [Attribute] = &[];

    /// Initializes the shared data, before the driver is registered.
    fn shared() -> impl PinInit<Self::Shared, Error>;

    /// Binds the driver to `dev`.
    fn probe<'bound>(
        dev: &'bound Device<device::Core<'_>>,
        shared: &'bound Self::Shared,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound;

    /// Unbinds the driver from `dev`, before its data is dropped. Optional.
    fn unbind<'bound>(
        dev: &'bound Device<device::Core<'_>>,
        shared: &'bound Self::Shared,
        this: Pin<&'bound Self::Data<'bound>>,
    ) {
        let _ = (dev, shared, this);
    }

    /// Reads the attribute `attr` of a bound device into `out`.
    fn show<'a>(
        dev: &'a Device<device::Bound>,
        this: Pin<&'a Self::Data<'a>>,
        attr: &CStr,
        out: &mut ShowBuffer<'_>,
    ) -> Result {
        let _ = (dev, this, attr, out);
        Err(EIO)
    }

    /// Writes `input` (as written to sysfs, newline included) to the attribute `attr`.
    fn store<'a>(
        dev: &'a Device<device::Bound>,
        this: Pin<&'a Self::Data<'a>>,
        attr: &CStr,
        input: &[u8],
    ) -> Result {
        let _ = (dev, this, attr, input);
        Err(EIO)
    }
}

/// The C driver structure of a [`Driver`], with its attributes and shared data.
///
/// # Invariants
///
/// Once registered, `shared` is initialized, and `attrs`, `attr_ptrs`, `group` and `groups`
/// describe the driver's attributes; all of them stay in place until it is unregistered.
#[repr(C)]
pub struct RawDriver<T: Driver> {
    drv: bindings::dax_device_driver,
    attrs: [bindings::device_attribute; MAX_ATTRIBUTES],
    attr_ptrs: [*mut bindings::attribute; MAX_ATTRIBUTES + 1],
    group: bindings::attribute_group,
    groups: [*const bindings::attribute_group; 2],
    shared: Opaque<T::Shared>,
}

impl<T: Driver> Default for RawDriver<T> {
    fn default() -> Self {
        // SAFETY: All fields are C structures, raw pointers or `Opaque`, for which all-zeroes
        // is a valid (empty, unregistered) value.
        unsafe { core::mem::zeroed() }
    }
}

/// An adapter for the registration of dax drivers.
pub struct Adapter<T: Driver>(T);

// SAFETY:
// - `RawDriver<T>` is `repr(C)` and starts with `bindings::dax_device_driver`, which embeds a
//   `struct device_driver`; `DEVICE_DRIVER_OFFSET` is the offset to it.
// - `T::Data` is the type of the driver's device private data.
unsafe impl<T: Driver> driver::DriverLayout for Adapter<T> {
    type DriverType = RawDriver<T>;
    type DriverData<'bound> = T::Data<'bound>;
    const DEVICE_DRIVER_OFFSET: usize =
        offset_of!(RawDriver<T>, drv) + offset_of!(bindings::dax_device_driver, drv);
}

// SAFETY: `unregister` is only called after a successful `register`, and undoes it.
unsafe impl<T: Driver> driver::RegistrationOps for Adapter<T> {
    unsafe fn register(
        reg: &Opaque<Self::DriverType>,
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> Result {
        const { assert!(T::ATTRIBUTES.len() <= MAX_ATTRIBUTES) };
        let raw = reg.get();
        // SAFETY: `raw` is valid and pinned (it lives in a pinned `driver::Registration`);
        // `shared` is uninitialized and initialized exactly once here.
        let shared = unsafe { Opaque::cast_into(&raw const (*raw).shared) };
        // SAFETY: `shared` is valid for writes and pinned, see above.
        unsafe { pin_init::raw_try_init(shared, T::shared())? };

        // SAFETY: Nobody else sees `*raw` before `__dax_driver_register()`; the attribute
        // tables point into `*raw`, which does not move while registered.
        unsafe {
            let drv = addr_of_mut!((*raw).drv);
            (*drv).type_ = T::TYPE.as_raw();
            (*drv).probe = Some(Self::probe_callback);
            (*drv).remove = Some(Self::remove_callback);
            if !T::ATTRIBUTES.is_empty() {
                for (i, a) in T::ATTRIBUTES.iter().enumerate() {
                    let attr = addr_of_mut!((*raw).attrs[i]);
                    (*attr).attr.name = a.name.as_char_ptr();
                    (*attr).attr.mode = a.mode;
                    (*attr).__bindgen_anon_1.show = Some(Self::show_callback);
                    (*attr).__bindgen_anon_2.store = Some(Self::store_callback);
                    (*raw).attr_ptrs[i] = addr_of_mut!((*attr).attr);
                }
                (*raw).group.__bindgen_anon_2.attrs = addr_of_mut!((*raw).attr_ptrs).cast();
                (*raw).groups[0] = &raw const (*raw).group;
                (*drv).drv.dev_groups = (&raw const (*raw).groups).cast();
            }
        }

        // SAFETY: `drv` is a fully set up `struct dax_device_driver` that outlives its
        // registration; `name` and `module` are static.
        let rc = unsafe {
            bindings::__dax_driver_register(
                addr_of_mut!((*raw).drv),
                module.as_ptr(),
                name.as_char_ptr(),
            )
        };
        if rc != 0 {
            // SAFETY: Initialized above and never exposed: the driver is not registered.
            unsafe { core::ptr::drop_in_place(shared) };
        }
        to_result(rc)
    }

    unsafe fn unregister(reg: &Opaque<Self::DriverType>) {
        let raw = reg.get();
        // SAFETY: By the safety requirements `*raw` was registered; unregistering unbinds
        // every device first, so nobody uses `shared` afterwards.
        unsafe {
            bindings::dax_driver_unregister(addr_of_mut!((*raw).drv));
            core::ptr::drop_in_place(Opaque::cast_into(&raw const (*raw).shared));
        }
    }
}

impl<T: Driver> Adapter<T> {
    /// The shared data of the driver `dev_dax` is bound to.
    ///
    /// # Safety
    ///
    /// `dev_dax` must be bound (or being bound) to a driver registered by `Adapter<T>`.
    unsafe fn shared<'a>(dev_dax: *mut bindings::dev_dax) -> &'a T::Shared {
        // SAFETY: By the safety requirements `dev->driver` is the `struct device_driver` in
        // the `struct dax_device_driver` at the start of a registered `RawDriver<T>`, whose
        // `shared` is initialized until after every device is unbound.
        unsafe {
            let drv = (*dev_dax).dev.driver;
            let dax_drv = container_of!(drv, bindings::dax_device_driver, drv);
            let raw = dax_drv.cast::<RawDriver<T>>();
            &*Opaque::cast_into(&raw const (*raw).shared)
        }
    }

    extern "C" fn probe_callback(dev_dax: *mut bindings::dev_dax) -> c_int {
        // SAFETY: The dax bus only calls probe with a valid `struct dev_dax`.
        //
        // INVARIANT: `dev_dax` is valid for the duration of `probe_callback()`.
        let dev = unsafe { &*dev_dax.cast::<Device<device::CoreInternal<'_>>>() };
        // SAFETY: The bus calls probe with `dev->driver` set to this driver.
        let shared = unsafe { Self::shared(dev_dax) };
        from_result(|| {
            let data = T::probe(dev, shared);
            dev.as_ref().set_drvdata(data)?;
            Ok(0)
        })
    }

    extern "C" fn remove_callback(dev_dax: *mut bindings::dev_dax) {
        // SAFETY: The dax bus only calls remove with a valid `struct dev_dax`.
        //
        // INVARIANT: `dev_dax` is valid for the duration of `remove_callback()`.
        let dev = unsafe { &*dev_dax.cast::<Device<device::CoreInternal<'_>>>() };
        // SAFETY: The bus calls remove with `dev->driver` still set to this driver.
        let shared = unsafe { Self::shared(dev_dax) };
        // SAFETY: `remove_callback` is only called after a successful `probe_callback`, which
        // stored a `Pin<KBox<T::Data<'_>>>` with `set_drvdata()`.
        let data = unsafe { dev.as_ref().drvdata_borrow::<T::Data<'_>>() };
        T::unbind(dev, shared, data);
    }

    /// The attribute's device, driver data and name.
    ///
    /// # Safety
    ///
    /// `dev` must be a `struct dev_dax`'s device bound to a driver registered by
    /// `Adapter<T>`, and `attr` one of that driver's attributes. The results must not outlive
    /// the sysfs callback.
    unsafe fn attr_context<'a>(
        dev: *mut bindings::device,
        attr: *mut bindings::device_attribute,
    ) -> (&'a Device<device::Bound>, Pin<&'a T::Data<'a>>, &'a CStr) {
        // SAFETY: By the safety requirements `dev` is embedded in a bound `struct dev_dax`:
        // the driver core creates the driver's attributes after a successful probe and
        // removes them before remove, so the device is bound and its driver data set (by
        // `probe_callback`) while the callback runs; `attr->attr.name` is a static C string.
        unsafe {
            let dev_dax = container_of!(dev, bindings::dev_dax, dev);
            let internal = device::Device::<device::BoundInternal>::from_raw(dev);
            (
                &*dev_dax.cast::<Device<device::Bound>>(),
                internal.drvdata_borrow::<T::Data<'a>>(),
                CStr::from_char_ptr((*attr).attr.name),
            )
        }
    }

    extern "C" fn show_callback(
        dev: *mut bindings::device,
        attr: *mut bindings::device_attribute,
        buf: *mut c_char,
    ) -> isize {
        // SAFETY: sysfs calls show for one of our attributes on a device bound to us.
        let (ddev, data, name) = unsafe { Self::attr_context(dev, attr) };
        // SAFETY: sysfs passes a zeroed buffer of one page.
        let buf =
            unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), crate::page::PAGE_SIZE) };
        let mut out = ShowBuffer { buf, len: 0 };
        match T::show(ddev, data, name, &mut out) {
            // A page always fits in an `isize`.
            Ok(()) => out.len as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    extern "C" fn store_callback(
        dev: *mut bindings::device,
        attr: *mut bindings::device_attribute,
        buf: *const c_char,
        count: usize,
    ) -> isize {
        // SAFETY: sysfs calls store for one of our attributes on a device bound to us.
        let (ddev, data, name) = unsafe { Self::attr_context(dev, attr) };
        // SAFETY: sysfs passes `count` bytes at `buf` (NUL-terminated after them).
        let input = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
        match T::store(ddev, data, name, input) {
            // sysfs writes are at most a page long.
            Ok(()) => count as isize,
            Err(e) => e.to_errno() as isize,
        }
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

/// A physical address range of a dax device; the end is inclusive, as in the C
/// `struct range`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// The first byte.
    pub start: u64,
    /// The last byte.
    pub end: u64,
}

impl Range {
    /// The length in bytes.
    #[expect(clippy::len_without_is_empty, reason = "dax ranges are never empty")]
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start).saturating_add(1)
    }
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

    /// The NUMA node the device's memory belongs to, or a negative number if unknown.
    pub fn target_node(&self) -> i32 {
        // SAFETY: By the type invariant `self.as_raw()` is valid; `target_node` is set when
        // the device is created and never changes.
        unsafe { (*self.as_raw()).target_node }
    }
}

impl Device<device::Bound> {
    /// Whether the memory map of hotplugged memory should live on the memory itself (the
    /// device's `memmap_on_memory` sysfs attribute, which only changes while unbound).
    pub fn memmap_on_memory(&self) -> bool {
        // SAFETY: By the type invariant `self.as_raw()` is valid; the bus only changes the
        // field while no driver is bound.
        unsafe { (*self.as_raw()).memmap_on_memory }
    }

    /// The device's physical address ranges (fixed while a driver is bound).
    pub fn ranges(&self) -> impl Iterator<Item = Range> + '_ {
        // SAFETY: By the type invariant `self.as_raw()` is valid; the bus only resizes a
        // device (and so changes `ranges` and `nr_range`) while no driver is bound.
        let (ptr, nr) = unsafe { ((*self.as_raw()).ranges, (*self.as_raw()).nr_range) };
        let nr = usize::try_from(nr).unwrap_or(0);
        (0..nr).map(move |i| {
            // SAFETY: `ranges` holds `nr_range` entries, see above.
            let r = unsafe { (*ptr.add(i)).range };
            Range {
                start: r.start,
                end: r.end,
            }
        })
    }
}

impl<Ctx: device::DeviceContext> AsRef<device::Device<Ctx>> for Device<Ctx> {
    fn as_ref(&self) -> &device::Device<Ctx> {
        // SAFETY: By the type invariant of `Self`, `self.as_raw()` is a pointer to a valid
        // `struct dev_dax`.
        let dev = unsafe { addr_of_mut!((*self.as_raw()).dev) };

        // SAFETY: `dev` points to a valid `struct device`.
        unsafe { device::Device::from_raw(dev) }
    }
}

// SAFETY: `Device` is a transparent wrapper of a type that doesn't depend on `Device`'s generic
// argument.
kernel::impl_device_context_deref!(unsafe { Device });

// SAFETY: `dax::Device` is a transparent wrapper of `struct dev_dax`, whose `dev` field is at
// `OFFSET`.
unsafe impl<Ctx: device::DeviceContext> device::AsBusDevice<Ctx> for Device<Ctx> {
    const OFFSET: usize = offset_of!(bindings::dev_dax, dev);
}

// SAFETY: A bound `Device` is only used through methods that are safe to call from any thread.
unsafe impl Sync for Device<device::Bound> {}
