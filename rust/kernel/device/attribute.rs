// SPDX-License-Identifier: GPL-2.0

//! Sysfs attributes that a driver adds to the devices it binds.
//!
//! A driver declares a static table of attributes with [`device_attributes!`]: each attribute
//! has an id, and the driver data type implements [`AttributeOperations`] for that id. The bus
//! abstraction puts the table in `struct device_driver::dev_groups` through
//! [`DriverLayout::DEVICE_GROUPS`]. The driver core creates the attributes after a successful
//! probe and removes them before remove, so their callbacks always run on a bound device whose
//! driver data is set. They run concurrently with each other and with the driver, so the
//! driver data is `Sync`.
//!
//! C headers: [`include/linux/device.h`](srctree/include/linux/device.h) and
//! [`include/linux/sysfs.h`](srctree/include/linux/sysfs.h).
//!
//! [`DriverLayout::DEVICE_GROUPS`]: crate::driver::DriverLayout::DEVICE_GROUPS
//! [`device_attributes!`]: crate::device_attributes

use crate::{
    bindings,
    device::{
        Bound,
        BoundInternal,
        Device, //
    },
    driver::DriverLayout,
    page::PAGE_SIZE,
    prelude::*,
    str::Formatter,
    types::Opaque, //
};
use core::{
    marker::PhantomData,
    ptr, //
};

/// The callbacks of one sysfs attribute of the devices bound to a driver whose driver data is
/// [`Self::Data`]; `ID` tells the attributes of one data type apart.
///
/// Every attribute can be read; it can be written (by root) if `store` is implemented.
#[vtable]
pub trait AttributeOperations<const ID: u64 = 0> {
    /// The driver data of the bound devices, shared with concurrent callbacks.
    type Data: Sync;

    /// Writes the value of the attribute of `dev`, whose driver data is `data`, to `out`.
    fn show(dev: &Device<Bound>, data: Pin<&Self::Data>, out: &mut Formatter<'_>) -> Result;

    /// Stores `input` (what was written, newline included) to the attribute of `dev`, whose
    /// driver data is `data`.
    fn store(dev: &Device<Bound>, data: Pin<&Self::Data>, input: &CStr) -> Result {
        // Never called: an attribute without `store` has no store callback and mode 0444.
        let _ = (dev, data, input);
        Err(EACCES)
    }
}

/// One attribute of a [`Groups`] table (a C `struct device_attribute`) for driver data `D`.
#[repr(transparent)]
pub struct Attribute<D> {
    attr: Opaque<bindings::device_attribute>,
    _data: PhantomData<fn() -> *const D>,
}

// SAFETY: The attribute is never changed after it is built, and the C side only reads it.
unsafe impl<D> Sync for Attribute<D> {}

impl<D: Sync> Attribute<D> {
    /// The attribute `name` with the callbacks of `O`: mode 0644 (`DEVICE_ATTR_RW()`) if `O`
    /// implements `store`, 0444 (`DEVICE_ATTR_RO()`) if not.
    pub const fn new<const ID: u64, O>(name: &'static CStr) -> Self
    where
        O: AttributeOperations<ID, Data = D>,
    {
        let mut attr: bindings::device_attribute = pin_init::zeroed();
        attr.attr.name = crate::str::as_char_ptr_in_const_context(name);
        attr.attr.mode = if O::HAS_STORE { 0o644 } else { 0o444 };
        attr.__bindgen_anon_1.show = Some(show_callback::<ID, O>);
        if O::HAS_STORE {
            attr.__bindgen_anon_2.store = Some(store_callback::<ID, O>);
        }
        Self {
            attr: Opaque::new(attr),
            _data: PhantomData,
        }
    }

    /// The `struct attribute` for an attribute table.
    const fn as_attr(&'static self) -> *mut bindings::attribute {
        // CAST: `Opaque<T>` is `repr(transparent)` over `T`, and `attr` is the first field.
        self.attr.get().cast()
    }
}

/// The NULL-terminated attribute list of a [`Groups`] table.
///
/// # Invariants
///
/// Every non-NULL entry is the `struct attribute` of an [`Attribute<D>`], and the last entry
/// is NULL.
#[repr(transparent)]
pub struct AttributeList<D, const N: usize> {
    list: [*mut bindings::attribute; N],
    _data: PhantomData<fn() -> *const D>,
}

// SAFETY: The list only points at static attributes, and is never changed.
unsafe impl<D, const N: usize> Sync for AttributeList<D, N> {}

impl<D: Sync, const N: usize> AttributeList<D, N> {
    /// The list of `attrs`, followed by a NULL entry.
    pub const fn new<const M: usize>(attrs: [&'static Attribute<D>; M]) -> Self {
        assert!(N == M + 1);
        let mut list = [ptr::null_mut(); N];
        let mut i = 0;
        while i < M {
            list[i] = attrs[i].as_attr();
            i += 1;
        }
        // INVARIANT: each entry is an `Attribute<D>`, and the last one is NULL.
        Self {
            list,
            _data: PhantomData,
        }
    }
}

/// The attribute group of the attributes in an [`AttributeList<D, N>`] (a C
/// `struct attribute_group`).
///
/// # Invariants
///
/// The group's attributes are those of a static [`AttributeList<D, N>`].
#[repr(transparent)]
pub struct Group<D>(
    Opaque<bindings::attribute_group>,
    PhantomData<fn() -> *const D>,
);

// SAFETY: The group is never changed after it is built, and the C side only reads it.
unsafe impl<D> Sync for Group<D> {}

impl<D: Sync> Group<D> {
    /// The group of the attributes in `list`.
    pub const fn new<const N: usize>(list: &'static AttributeList<D, N>) -> Self {
        let mut group: bindings::attribute_group = pin_init::zeroed();
        group.__bindgen_anon_2.attrs = list.list.as_ptr().cast_mut();
        // INVARIANT: the attributes are those of `list`.
        Self(Opaque::new(group), PhantomData)
    }
}

/// The attribute groups of a driver whose driver data is `D`: the NULL-terminated
/// `dev_groups` of its `struct device_driver`. Built by
/// [`device_attributes!`](crate::device_attributes).
///
/// # Invariants
///
/// `groups` holds one static [`Group<D>`] and a NULL entry.
#[repr(transparent)]
pub struct Groups<D> {
    groups: [*const bindings::attribute_group; 2],
    _data: PhantomData<fn() -> *const D>,
}

// SAFETY: The table only points at static data, and is never changed.
unsafe impl<D> Sync for Groups<D> {}

impl<D: Sync> Groups<D> {
    /// The table of one group.
    pub const fn new(group: &'static Group<D>) -> Self {
        // INVARIANT: one static group of `D`, then NULL.
        Self {
            groups: [group.0.get().cast_const(), ptr::null()],
            _data: PhantomData,
        }
    }

    /// The table for [`DriverLayout::DEVICE_GROUPS`] of a bus whose driver data is `D`, for
    /// every lifetime of the bound device: the callbacks borrow the driver data as `D`.
    pub const fn driver_groups<L>(&'static self) -> DriverGroups<L>
    where
        L: for<'a> DriverLayout<DriverData<'a> = D> + ?Sized,
    {
        // INVARIANT: `self` is static, and its attributes expect driver data `D`, `L`'s.
        DriverGroups {
            groups: self.groups.as_ptr(),
            _layout: PhantomData,
        }
    }
}

/// The attribute group of a driver whose bus adapter is `L`, for
/// [`DriverLayout::DEVICE_GROUPS`]. Made by [`Groups::driver_groups`].
///
/// # Invariants
///
/// `groups` is the NULL-terminated array of a static [`Groups<D>`], where `D` is the driver
/// data of `L` for every lifetime.
pub struct DriverGroups<L: ?Sized> {
    groups: *const *const bindings::attribute_group,
    _layout: PhantomData<fn() -> *const L>,
}

// SAFETY: Only a pointer to a static group that is never changed.
unsafe impl<L: ?Sized> Sync for DriverGroups<L> {}

impl<L: ?Sized> Clone for DriverGroups<L> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<L: ?Sized> Copy for DriverGroups<L> {}

impl<L: ?Sized> DriverGroups<L> {
    /// The NULL-terminated array for `struct device_driver::dev_groups`.
    pub(crate) fn as_raw(self) -> *const *const bindings::attribute_group {
        self.groups
    }
}

/// The device and its driver data `D`, for an attribute callback.
///
/// # Safety
///
/// `dev` must be a device bound to a driver whose driver data is `D`, whose `dev_groups` hold
/// the attribute of this call, for the duration of `'a`.
unsafe fn drvdata<'a, D>(dev: *mut bindings::device) -> (&'a Device<Bound>, Pin<&'a D>) {
    // SAFETY: The driver core creates `dev_groups` after the driver's probe succeeded, and
    // removes them (`device_remove_groups()` in `device_remove()`, which waits for running
    // callbacks) before the driver's remove and before `post_unbind_rust` drops the driver
    // data: `dev` is valid and bound for the callback.
    let internal = unsafe { Device::<BoundInternal>::from_raw(dev) };
    // SAFETY: By the safety requirements the driver data is a `D` (the bus abstraction stored
    // its `DriverLayout::DriverData`, which is `D` for every lifetime, with `set_drvdata()`).
    let data = unsafe { internal.drvdata_borrow::<D>() };
    // SAFETY: See above: the device is valid and bound while the callback runs.
    (unsafe { Device::<Bound>::from_raw(dev) }, data)
}

extern "C" fn show_callback<const ID: u64, O: AttributeOperations<ID>>(
    dev: *mut bindings::device,
    _attr: *mut bindings::device_attribute,
    buf: *mut c_char,
) -> isize {
    // SAFETY: The driver core calls `show` of an attribute of a `Groups<O::Data>` that a bus
    // installed as `dev_groups` of a driver whose driver data is `O::Data` (type invariant of
    // `DriverGroups`), on a device bound to that driver.
    let (dev, data) = unsafe { drvdata::<O::Data>(dev) };
    // SAFETY: sysfs passes a buffer of `PAGE_SIZE` bytes (`sysfs_kf_seq_show()`).
    let page = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), PAGE_SIZE) };
    let mut out = Formatter::new(page);
    match O::show(dev, data, &mut out) {
        // A page always fits in an `isize`.
        Ok(()) => out.bytes_written() as isize,
        Err(e) => e.to_errno() as isize,
    }
}

extern "C" fn store_callback<const ID: u64, O: AttributeOperations<ID>>(
    dev: *mut bindings::device,
    _attr: *mut bindings::device_attribute,
    buf: *const c_char,
    count: usize,
) -> isize {
    // SAFETY: As for `show_callback`.
    let (dev, data) = unsafe { drvdata::<O::Data>(dev) };
    // SAFETY: kernfs passes the written bytes NUL-terminated (`kernfs_fop_write_iter()`
    // allocates `count + 1` bytes and sets the last one to 0).
    let input = unsafe { CStr::from_char_ptr(buf) };
    match O::store(dev, data, input) {
        // sysfs writes are at most a page long.
        Ok(()) => count as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// Declares the static table of the sysfs attributes a driver adds to the devices it binds.
///
/// `data` is the driver data type; each attribute is `name: ID`, where `data` implements
/// [`AttributeOperations<ID>`]. The table is a [`Groups`] of `data`, which the driver hands to
/// its bus abstraction.
///
/// # Examples
///
/// ```
/// use kernel::{
///     device::{attribute::AttributeOperations, Bound, Device},
///     fmt::Write,
///     prelude::*,
///     str::Formatter,
/// };
///
/// struct Data {
///     answer: u32,
/// }
///
/// #[vtable]
/// impl AttributeOperations<0> for Data {
///     type Data = Data;
///
///     fn show(_dev: &Device<Bound>, data: Pin<&Data>, out: &mut Formatter<'_>) -> Result {
///         writeln!(out, "{}", data.answer).map_err(|_| EINVAL)
///     }
/// }
///
/// kernel::device_attributes! {
///     static ATTRS = {
///         data: Data,
///         attributes: [answer: 0],
///     };
/// }
/// ```
#[macro_export]
macro_rules! device_attributes {
    (
        static $table:ident = {
            data: $data:ty,
            attributes: [$($name:ident: $id:literal),+ $(,)?] $(,)?
        };
    ) => {
        static $table: $crate::device::attribute::Groups<$data> = {
            $crate::macros::paste! {
                $(
                    static [<$table _ $name:upper>]: $crate::device::attribute::Attribute<$data> =
                        $crate::device::attribute::Attribute::new::<$id, $data>(
                            $crate::c_str!(::core::stringify!($name)),
                        );
                )+
                static [<$table _LIST>]: $crate::device::attribute::AttributeList<
                    $data,
                    { [$(::core::stringify!($name)),+].len() + 1 },
                > = $crate::device::attribute::AttributeList::new([$(&[<$table _ $name:upper>]),+]);
                static [<$table _GROUP>]: $crate::device::attribute::Group<$data> =
                    $crate::device::attribute::Group::new(&[<$table _LIST>]);
                $crate::device::attribute::Groups::new(&[<$table _GROUP>])
            }
        };
    };
}
