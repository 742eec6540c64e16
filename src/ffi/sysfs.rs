// SPDX-License-Identifier: GPL-2.0

//! Read-only sysfs directories: text files of at most a page, in named groups
//! (subdirectories), and one table file that may be longer than a page.
//!
//! What the files show is the [`DirFiles`] implementor's business: a file is known to it
//! by the `id` it was declared with. Nothing here knows the product.

use crate::logic::param_format::ParamWriter;
use core::fmt;
use core::marker::PhantomData;
use core::ptr::{addr_of_mut, NonNull};
use kernel::alloc::KVVec;
use kernel::bindings::{attribute, attribute_group, bin_attribute, kobj_attribute, kobject};
use kernel::error::code::{EFBIG, EINVAL, ENOMEM};
use kernel::ffi::c_char;
use kernel::prelude::*;
use kernel::str::CStr;

/// What a directory's files show.
pub(crate) trait DirFiles: 'static {
    /// Writes the text of file `id` (a page at most).
    fn show(id: usize, out: &mut ParamWriter<'_>) -> fmt::Result;

    /// Copies the table file's bytes from `offset` on into `buf`; returns how many were
    /// copied, 0 past the end.
    fn read_table(offset: usize, buf: &mut [u8]) -> Result<usize>;
}

/// A file of a group: its name and the `id` that [`DirFiles::show()`] gets.
pub(crate) struct FileSpec {
    pub(crate) name: &'static CStr,
    pub(crate) id: usize,
}

/// A group name, NUL-terminated in a fixed buffer (`node12`).
pub(crate) type GroupName = [u8; 16];

/// A group of files: in the directory itself (no name) or in a subdirectory.
pub(crate) struct GroupSpec<'a> {
    pub(crate) name: Option<GroupName>,
    pub(crate) files: &'a [FileSpec],
}

/// A file as sysfs sees it, with the id it stands for.
#[repr(C)]
struct File {
    attr: kobj_attribute,
    id: usize,
}

/// The C structures a directory's files are made of; sysfs points into them until the
/// directory is removed.
struct Storage {
    files: KVVec<File>,
    /// Per group, its files' attributes and a null terminator.
    attrs: KVVec<*mut attribute>,
    names: KVVec<GroupName>,
    groups: KVVec<attribute_group>,
    /// The groups and a null terminator.
    group_ptrs: KVVec<*const attribute_group>,
    table: bin_attribute,
    table_ptrs: [*mut bin_attribute; 2],
}

/// A sysfs directory below the module's own (`/sys/module/<name>/<dir>/`), removed when
/// dropped.
///
/// # Invariants
///
/// `kobj` was made by `kobject_create_and_add()` and holds the one reference this value
/// drops; its files point into `storage`, which outlives them (dropped after `kobj` is
/// removed).
pub(crate) struct Dir<T: DirFiles> {
    kobj: NonNull<kobject>,
    /// Kept for the files, which point into it.
    _storage: KBox<Storage>,
    _files: PhantomData<T>,
}

// SAFETY: The directory is only created and removed through `&mut self` or by value; the
// C structures are not touched after creation except by sysfs, which synchronises itself.
unsafe impl<T: DirFiles> Send for Dir<T> {}
// SAFETY: `&Dir` gives access to nothing.
unsafe impl<T: DirFiles> Sync for Dir<T> {}

/// Files are readable by root only, like the module's parameters.
const MODE: u16 = 0o400;

/// An attribute named `name`. Under lockdep, it opts out of lockdep's tracking of its
/// file's active references, as sysfs requires of attributes that do not live in static
/// memory (their built-in key is not a static object).
fn attribute_named(name: &'static CStr) -> attribute {
    // SAFETY: All-zero is a valid `attribute`: a null name (set below), mode 0, and under
    // lockdep a null key and a zeroed `lock_class_key`.
    let mut attr: attribute = unsafe { core::mem::zeroed() };
    attr.name = name.as_char_ptr();
    attr.mode = MODE;
    #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
    attr.set_ignore_lockdep(true);
    attr
}

impl<T: DirFiles> Dir<T> {
    /// Creates `/sys/module/<module>/<name>/` with `groups` and, if `table` is given, a
    /// table file of that name.
    pub(crate) fn new(
        module: &'static ThisModule,
        name: &'static CStr,
        groups: &[GroupSpec<'_>],
        table: Option<&'static CStr>,
    ) -> Result<Self> {
        let nr_files: usize = groups.iter().map(|g| g.files.len()).sum();
        let mut storage = KBox::new(
            Storage {
                files: KVVec::with_capacity(nr_files, GFP_KERNEL)?,
                attrs: KVVec::with_capacity(nr_files + groups.len(), GFP_KERNEL)?,
                names: KVVec::with_capacity(groups.len(), GFP_KERNEL)?,
                groups: KVVec::with_capacity(groups.len(), GFP_KERNEL)?,
                group_ptrs: KVVec::with_capacity(groups.len() + 1, GFP_KERNEL)?,
                // SAFETY: All-zero is a valid `bin_attribute`: null pointers and `None`s.
                table: unsafe { core::mem::zeroed() },
                table_ptrs: [core::ptr::null_mut(); 2],
            },
            GFP_KERNEL,
        )?;
        let s = &mut *storage;
        // Every vector was given its final capacity above: the pushes below do not
        // reallocate, so the pointers taken into them stay valid.
        for group in groups {
            for file in group.files {
                s.files.push(
                    File {
                        attr: kobj_attribute {
                            attr: attribute_named(file.name),
                            show: Some(show::<T>),
                            store: None,
                        },
                        id: file.id,
                    },
                    GFP_KERNEL,
                )?;
            }
            s.names.push(group.name.unwrap_or([0; 16]), GFP_KERNEL)?;
        }
        let mut next_file = 0usize;
        for (group, name) in groups.iter().zip(s.names.iter()) {
            let first_attr = s.attrs.len();
            for _ in group.files {
                let file = s.files.get_mut(next_file).ok_or(EINVAL)?;
                s.attrs.push(addr_of_mut!(file.attr.attr), GFP_KERNEL)?;
                next_file += 1;
            }
            s.attrs.push(core::ptr::null_mut(), GFP_KERNEL)?;
            // A name must be NUL-terminated within its buffer.
            name.iter().position(|&b| b == 0).ok_or(EINVAL)?;
            // SAFETY: All-zero is a valid `attribute_group`.
            let mut g: attribute_group = unsafe { core::mem::zeroed() };
            if group.name.is_some() {
                g.name = name.as_ptr().cast::<c_char>();
            }
            g.attrs = s.attrs.get_mut(first_attr).ok_or(EINVAL)?;
            s.groups.push(g, GFP_KERNEL)?;
        }
        if let Some(table) = table {
            s.table.attr = attribute_named(table);
            s.table.read = Some(read_table::<T>);
            s.table_ptrs[0] = addr_of_mut!(s.table);
            if let Some(first) = s.groups.first_mut() {
                first.bin_attrs = s.table_ptrs.as_mut_ptr();
            }
        }
        for g in s.groups.iter() {
            s.group_ptrs.push(core::ptr::from_ref(g), GFP_KERNEL)?;
        }
        s.group_ptrs.push(core::ptr::null(), GFP_KERNEL)?;

        // SAFETY: `module` is this module, alive while its code runs; its `mkobj.kobj` is
        // the kobject of `/sys/module/<name>/`.
        let parent = unsafe { addr_of_mut!((*module.as_ptr()).mkobj.kobj) };
        // SAFETY: `name` is NUL-terminated and `parent` a live kobject.
        let kobj = NonNull::new(unsafe {
            kernel::bindings::kobject_create_and_add(name.as_char_ptr(), parent)
        })
        .ok_or(ENOMEM)?;
        // SAFETY: `kobj` is live; the groups are null-terminated arrays of groups whose
        // attributes are null-terminated arrays, all in `storage`, which outlives the
        // files (type invariant, established below).
        let ret = unsafe {
            kernel::bindings::sysfs_create_groups(kobj.as_ptr(), s.group_ptrs.as_mut_ptr())
        };
        if ret != 0 {
            // SAFETY: `kobj` came from `kobject_create_and_add()` and is dropped once.
            unsafe { kernel::bindings::kobject_put(kobj.as_ptr()) };
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: `kobj` is ours and its files point into `storage`.
        Ok(Self {
            kobj,
            _storage: storage,
            _files: PhantomData,
        })
    }
}

impl<T: DirFiles> Drop for Dir<T> {
    fn drop(&mut self) {
        // SAFETY: `kobj` is ours (type invariant). `kobject_del()` removes the directory
        // and waits for readers in its files to leave, so nothing uses `storage` after
        // it; the reference is then dropped once.
        unsafe {
            kernel::bindings::kobject_del(self.kobj.as_ptr());
            kernel::bindings::kobject_put(self.kobj.as_ptr());
        }
        // `storage` is freed after this body: no file points into it any more.
    }
}

/// sysfs's `show` of a [`File`]: the page from [`DirFiles::show()`].
///
/// # Safety
///
/// `attr` must be the `attr` of a live [`File`] and `buf` a page sysfs gave.
unsafe extern "C" fn show<T: DirFiles>(
    _kobj: *mut kobject,
    attr: *mut kobj_attribute,
    buf: *mut c_char,
) -> isize {
    // SAFETY: `attr` is the first field of a `File` (`repr(C)`), live while sysfs calls
    // its `show` (the caller's contract).
    let id = unsafe { (*kernel::container_of!(attr, File, attr)).id };
    // SAFETY: sysfs passes a buffer of `PAGE_SIZE` bytes, ours for the call.
    let page =
        unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), kernel::page::PAGE_SIZE) };
    let mut out = ParamWriter::new(page);
    match T::show(id, &mut out) {
        Ok(()) => isize::try_from(out.bytes_written()).unwrap_or(0),
        Err(_) => EFBIG.to_errno() as isize,
    }
}

/// sysfs's `read` of the table file.
///
/// # Safety
///
/// `buf` must be valid for `count` bytes, as sysfs gives it.
unsafe extern "C" fn read_table<T: DirFiles>(
    _file: *mut kernel::bindings::file,
    _kobj: *mut kobject,
    _attr: *mut bin_attribute,
    buf: *mut c_char,
    offset: kernel::bindings::loff_t,
    count: usize,
) -> isize {
    let Ok(offset) = usize::try_from(offset) else {
        return EINVAL.to_errno() as isize;
    };
    // SAFETY: sysfs passes a buffer of `count` bytes, ours for the call.
    let buf = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), count) };
    match T::read_table(offset, buf) {
        Ok(n) => isize::try_from(n).unwrap_or(0),
        Err(e) => e.to_errno() as isize,
    }
}
