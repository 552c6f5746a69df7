// SPDX-License-Identifier: GPL-2.0

//! Sysfs attributes that a driver adds to the devices it binds.
//!
//! A driver declares a static table of attributes with [`device_attributes!`], each attribute
//! with its own [`AttributeOperations`], and hands the table to its bus abstraction, which puts
//! it in `struct device_driver::dev_groups` through [`DriverLayout::DEVICE_GROUPS`]. The
//! driver core creates the attributes after a successful probe and removes them before
//! remove, so their callbacks always run on a bound device whose driver data is set.
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

/// The callbacks of one sysfs attribute of the devices bound to the driver of layout
/// [`Self::Layout`]; `ID` tells several attributes of one type apart.
pub trait AttributeOperations<const ID: u64 = 0> {
    /// The bus adapter of the driver (e.g. `dax::Adapter<MyDriver>`), which says what the
    /// driver data of a bound device is.
    type Layout: DriverLayout + ?Sized;

    /// Writes the value of the attribute of `dev`, whose driver data is `data`, to `out`.
    fn show<'bound>(
        dev: &Device<Bound>,
        data: Pin<&<Self::Layout as DriverLayout>::DriverData<'bound>>,
        out: &mut Formatter<'_>,
    ) -> Result;

    /// Stores `input` (what was written, newline included) to the attribute of `dev`, whose
    /// driver data is `data`. Only attributes declared `rw` have a store callback.
    fn store<'bound>(
        dev: &Device<Bound>,
        data: Pin<&<Self::Layout as DriverLayout>::DriverData<'bound>>,
        input: &CStr,
    ) -> Result {
        let _ = (dev, data, input);
        crate::build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }
}

/// One attribute of a [`Groups`] table (a C `struct device_attribute`).
#[repr(transparent)]
pub struct Attribute<L: ?Sized> {
    attr: Opaque<bindings::device_attribute>,
    _layout: PhantomData<fn() -> *const L>,
}

// SAFETY: The attribute is never changed after it is built, and the C side only reads it.
unsafe impl<L: ?Sized> Sync for Attribute<L> {}

impl<L: DriverLayout + ?Sized> Attribute<L> {
    const fn new<const ID: u64, O>(name: &'static CStr, mode: u16, store: bool) -> Self
    where
        O: AttributeOperations<ID, Layout = L>,
    {
        let mut attr: bindings::device_attribute = pin_init::zeroed();
        attr.attr.name = crate::str::as_char_ptr_in_const_context(name);
        attr.attr.mode = mode;
        attr.__bindgen_anon_1.show = Some(show_callback::<ID, O>);
        if store {
            attr.__bindgen_anon_2.store = Some(store_callback::<ID, O>);
        }
        Self {
            attr: Opaque::new(attr),
            _layout: PhantomData,
        }
    }

    /// A read-only attribute (mode 0444, no store callback), as `DEVICE_ATTR_RO()`.
    pub const fn ro<const ID: u64, O>(name: &'static CStr) -> Self
    where
        O: AttributeOperations<ID, Layout = L>,
    {
        Self::new::<ID, O>(name, 0o444, false)
    }

    /// A read-write attribute (mode 0644), as `DEVICE_ATTR_RW()`.
    pub const fn rw<const ID: u64, O>(name: &'static CStr) -> Self
    where
        O: AttributeOperations<ID, Layout = L>,
    {
        Self::new::<ID, O>(name, 0o644, true)
    }

    /// The `struct attribute` for an attribute table.
    pub const fn as_attr(&'static self) -> *mut bindings::attribute {
        // CAST: `Opaque<T>` is `repr(transparent)` over `T`, and `attr` is the first field.
        self.attr.get().cast()
    }
}

/// A NULL-terminated list of the attributes of a group, for [`Group::new`].
#[repr(transparent)]
pub struct AttributeList<const N: usize>(pub [*mut bindings::attribute; N]);

// SAFETY: The list only points at static attributes, and is never changed.
unsafe impl<const N: usize> Sync for AttributeList<N> {}

/// A C `struct attribute_group` of driver attributes.
#[repr(transparent)]
pub struct Group(Opaque<bindings::attribute_group>);

// SAFETY: The group is never changed after it is built, and the C side only reads it.
unsafe impl Sync for Group {}

impl Group {
    /// The group of the attributes in `list`, which must end with a NULL pointer.
    pub const fn new<const N: usize>(list: &'static AttributeList<N>) -> Self {
        assert!(N > 0 && list.0[N - 1].is_null());
        let mut group: bindings::attribute_group = pin_init::zeroed();
        group.__bindgen_anon_2.attrs = ptr::from_ref(list).cast_mut().cast();
        Self(Opaque::new(group))
    }
}

/// The attribute groups of a driver whose bus adapter is `L`: the `dev_groups` of its
/// `struct device_driver`. Built by [`device_attributes!`](crate::device_attributes).
///
/// # Invariants
///
/// `groups` is a NULL-terminated array of groups whose attributes all have callbacks of
/// [`AttributeOperations`] with `Layout = L`.
#[repr(transparent)]
pub struct Groups<L: ?Sized> {
    groups: [*const bindings::attribute_group; 2],
    _layout: PhantomData<fn() -> *const L>,
}

// SAFETY: The table only points at static groups, and is never changed.
unsafe impl<L: ?Sized> Sync for Groups<L> {}

impl<L: ?Sized> Groups<L> {
    /// One group.
    ///
    /// # Safety
    ///
    /// Every attribute of `group` must be an [`Attribute<L>`].
    pub const unsafe fn new(group: &'static Group) -> Self {
        // INVARIANT: by the safety requirements.
        Self {
            groups: [group.0.get().cast_const(), ptr::null()],
            _layout: PhantomData,
        }
    }

    /// The table as [`DriverLayout::DEVICE_GROUPS`] holds it.
    pub const fn driver_groups(&'static self) -> DriverGroups<L> {
        // INVARIANT: `self` is static, and its groups are those of `L` (type invariant).
        DriverGroups {
            ptr: self.groups.as_ptr(),
            _layout: PhantomData,
        }
    }
}

/// A reference to the static attribute table of a driver whose bus adapter is `L`, for
/// [`DriverLayout::DEVICE_GROUPS`]. Made by [`Groups::driver_groups`].
///
/// # Invariants
///
/// `ptr` is the NULL-terminated array of a static [`Groups<L>`].
pub struct DriverGroups<L: ?Sized> {
    ptr: *const *const bindings::attribute_group,
    _layout: PhantomData<fn() -> *const L>,
}

impl<L: ?Sized> Clone for DriverGroups<L> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<L: ?Sized> Copy for DriverGroups<L> {}

impl<L: ?Sized> DriverGroups<L> {
    /// The NULL-terminated array for `struct device_driver::dev_groups`.
    pub fn as_raw(self) -> *const *const bindings::attribute_group {
        self.ptr
    }
}

/// The driver data of `dev`.
///
/// # Safety
///
/// `dev` must be a device bound to the driver of layout `L` for the duration of `'a`, and that
/// driver's `dev_groups` must be where the attribute of this call comes from.
unsafe fn drvdata<'a, L: DriverLayout + ?Sized>(
    dev: *mut bindings::device,
) -> (&'a Device<Bound>, Pin<&'a L::DriverData<'a>>) {
    // SAFETY: The driver core creates `dev_groups` after the driver's probe succeeded, and
    // removes them (`device_remove_groups()` in `device_remove()`, which waits for running
    // callbacks) before the driver's remove and before `post_unbind_rust` drops the driver
    // data: `dev` is valid and bound for the callback.
    let internal = unsafe { Device::<BoundInternal>::from_raw(dev) };
    // SAFETY: By the safety requirements of `DriverLayout`, `L::DriverData` is the type the
    // bus abstraction stored with `set_drvdata()` at probe. The callee is generic over the
    // lifetime of the data, so it cannot rely on a particular one.
    let data = unsafe { internal.drvdata_borrow::<L::DriverData<'a>>() };
    // SAFETY: See above: the device is valid and bound while the callback runs.
    (unsafe { Device::<Bound>::from_raw(dev) }, data)
}

extern "C" fn show_callback<const ID: u64, O: AttributeOperations<ID>>(
    dev: *mut bindings::device,
    _attr: *mut bindings::device_attribute,
    buf: *mut c_char,
) -> isize {
    // SAFETY: The driver core calls `show` of an attribute of `O::Layout`'s `dev_groups`
    // (type invariant of `Groups`) on a device bound to that driver.
    let (dev, data) = unsafe { drvdata::<O::Layout>(dev) };
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
    let (dev, data) = unsafe { drvdata::<O::Layout>(dev) };
    // SAFETY: kernfs passes the written bytes NUL-terminated (`kernfs_fop_write_iter()`
    // allocates `count + 1` bytes and sets the last one to 0).
    let input = unsafe { CStr::from_char_ptr(buf) };
    match O::store(dev, data, input) {
        // sysfs writes are at most a page long.
        Ok(()) => count as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// Declares a static table of the sysfs attributes a driver adds to the devices it binds.
///
/// Each entry is `name: ID Ops, mode`, where `Ops` implements [`AttributeOperations<ID>`] for
/// the bus adapter, and `mode` is `ro` or `rw`.
///
/// # Examples
///
/// ```ignore
/// kernel::device_attributes! {
///     static KMEM_ATTRS: dax::Adapter<KmemDriver> = [state: 0 KmemDriver, rw];
/// }
/// ```
#[macro_export]
macro_rules! device_attributes {
    (
        static $table:ident: $layout:ty = [
            $($name:ident: $id:literal $ops:ty, $mode:ident),+ $(,)?
        ];
    ) => {
        static $table: $crate::device::attribute::Groups<$layout> = {
            $crate::macros::paste! {
                $(
                    static [<$table _ $name:upper>]: $crate::device::attribute::Attribute<$layout> =
                        $crate::device::attribute::Attribute::$mode::<$id, $ops>(
                            $crate::c_str!(::core::stringify!($name)),
                        );
                )+
                static [<$table _LIST>]: $crate::device::attribute::AttributeList<
                    { [$(::core::stringify!($name)),+].len() + 1 },
                > = $crate::device::attribute::AttributeList(
                    [$([<$table _ $name:upper>].as_attr(),)+ ::core::ptr::null_mut()],
                );
                static [<$table _GROUP>]: $crate::device::attribute::Group =
                    $crate::device::attribute::Group::new(&[<$table _LIST>]);
                // SAFETY: Every attribute of the group is an `Attribute<$layout>`, built above.
                unsafe { $crate::device::attribute::Groups::new(&[<$table _GROUP>]) }
            }
        };
    };
}
