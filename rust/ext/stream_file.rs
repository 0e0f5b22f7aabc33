// SPDX-License-Identifier: GPL-2.0

//! Anonymous stream files: file descriptors a driver creates for user space
//! to read or write one stream through, such as VFIO migration data files.
//!
//! C header: [`include/linux/anon_inodes.h`](srctree/include/linux/anon_inodes.h)
//!
//! [`StreamFile::new`] makes a file on the anonymous inode (`anon_inode_getfile()`)
//! whose private data is an [`Arc<T>`], opened as a stream (`stream_open()`:
//! no file position, `read` and `write` take no offset). The file holds a
//! reference on the owning module for as long as it is open, so the code of
//! its operations cannot go away under an open descriptor; `T` is dropped
//! when the file is released.

use super::bindings;
use core::ptr::NonNull;
use kernel::{
    error::{
        from_err_ptr,
        from_result,
        VTABLE_DEFAULT_ERROR, //
    },
    ffi::{
        c_char,
        c_int,
        c_long,
        c_uint,
        c_ulong, //
    },
    fs,
    module::{
        this_module,
        ModuleMetadata, //
    },
    prelude::*,
    sync::{
        aref::ARef,
        Arc,
        ArcBorrow, //
    },
    types::ForeignOwnable,
    uaccess::{
        UserPtr,
        UserSlice,
        UserSliceReader,
        UserSliceWriter, //
    },
};

/// The operations of a stream file whose private data is an `Arc<Self>`.
#[vtable]
pub trait Ops: Send + Sync + Sized + 'static {
    /// The module the operations belong to.
    type OwnerModule: ModuleMetadata;

    /// A `read(2)`: writes at most `out.len()` bytes to `out` and returns
    /// how many, 0 at the end of the stream.
    fn read(_this: ArcBorrow<'_, Self>, _out: &mut UserSliceWriter) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// A `write(2)`: takes at most `input.len()` bytes from `input` and
    /// returns how many.
    fn write(_this: ArcBorrow<'_, Self>, _input: &mut UserSliceReader) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// An `ioctl(2)` with command `cmd` and argument `arg`.
    fn ioctl(_this: ArcBorrow<'_, Self>, _cmd: u32, _arg: UserPtr) -> Result<isize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// Whether user space reads or writes a [`StreamFile`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Opened read-only.
    Read,
    /// Opened write-only.
    Write,
}

/// A reference to a stream file: a [`fs::File`] whose operations are those
/// of an [`Ops`] type.
pub struct StreamFile {
    file: ARef<fs::File>,
}

impl StreamFile {
    /// Creates a stream file called `name` (as `/proc/<pid>/fd` shows it,
    /// `anon_inode:<name>`) for `data`, for user space to read or write as
    /// `direction` says.
    pub fn new<T: Ops>(name: &'static CStr, data: Arc<T>, direction: Direction) -> Result<Self> {
        let flags = match direction {
            Direction::Read => bindings::O_RDONLY,
            Direction::Write => bindings::O_WRONLY,
        };
        let private = data.into_foreign();
        // SAFETY: `name` and the operations are static; `private` is an
        // `Arc<T>` given up above, which `release_callback` takes back.
        let file = unsafe {
            bindings::anon_inode_getfile(
                name.as_char_ptr(),
                Vtable::<T>::build(),
                private,
                flags as c_int,
            )
        };
        // `anon_inode_getfile()` returns a file or an error pointer, never
        // NULL; a NULL would be treated as running out of memory.
        let file = match from_err_ptr(file).and_then(|f| NonNull::new(f).ok_or(ENOMEM)) {
            Ok(file) => file,
            Err(e) => {
                // SAFETY: No file was created, so `private` is still ours to
                // take back.
                drop(unsafe { Arc::<T>::from_foreign(private) });
                return Err(e);
            }
        };
        // SAFETY: `anon_inode_getfile()` returned a file with one reference,
        // which is ours to give to the `ARef`; from here on, dropping it puts
        // the file and the release callback drops `private`.
        let file = unsafe { ARef::from_raw(file.cast::<fs::File>()) };
        let raw = file.as_ptr();
        // SAFETY: The file was just created and is not shared yet.
        unsafe { bindings::stream_open((*raw).f_inode, raw) };
        Ok(Self { file })
    }

    /// Gives up the reference, for a C caller that takes it over (such as
    /// the VFIO core installing the file in a file descriptor).
    #[must_use = "the reference leaks unless the caller takes it over"]
    pub fn into_raw(self) -> *mut bindings::file {
        ARef::into_raw(self.file).as_ptr().cast()
    }
}

/// The `file_operations` of files for `T`.
struct Vtable<T: Ops>(core::marker::PhantomData<T>);

impl<T: Ops> Vtable<T> {
    /// Borrows the private data of `file`.
    ///
    /// # Safety
    ///
    /// `file` must be a file created by [`StreamFile::new`] for `T` that has not
    /// been released, for the lifetime `'a`.
    unsafe fn data<'a>(file: *mut bindings::file) -> ArcBorrow<'a, T> {
        // SAFETY: By the safety requirements, the private data is the
        // `Arc<T>` of `StreamFile::new`, not yet taken back by `release_callback`.
        unsafe { Arc::<T>::borrow((*file).private_data) }
    }

    /// `file_operations.read`.
    ///
    /// # Safety
    ///
    /// Called by the VFS for an open file of these operations, with `buf`
    /// a user pointer of `count` bytes.
    unsafe extern "C" fn read_callback(
        file: *mut bindings::file,
        buf: *mut c_char,
        count: usize,
        _ppos: *mut bindings::loff_t,
    ) -> isize {
        // SAFETY: The file is open, by the safety requirements.
        let this = unsafe { Self::data(file) };
        let mut out = UserSlice::new(UserPtr::from_ptr(buf.cast()), count).writer();
        // What was copied, whatever the driver says.
        from_result(|| T::read(this, &mut out).map(|n| n.min(count - out.len()) as isize))
    }

    /// `file_operations.write`.
    ///
    /// # Safety
    ///
    /// As for `read_callback`.
    unsafe extern "C" fn write_callback(
        file: *mut bindings::file,
        buf: *const c_char,
        count: usize,
        _ppos: *mut bindings::loff_t,
    ) -> isize {
        // SAFETY: The file is open, by the safety requirements.
        let this = unsafe { Self::data(file) };
        let mut input = UserSlice::new(UserPtr::from_ptr(buf.cast_mut().cast()), count).reader();
        // What was taken, whatever the driver says.
        from_result(|| T::write(this, &mut input).map(|n| n.min(count - input.len()) as isize))
    }

    /// `file_operations.unlocked_ioctl`.
    ///
    /// # Safety
    ///
    /// Called by the VFS for an open file of these operations.
    unsafe extern "C" fn ioctl_callback(
        file: *mut bindings::file,
        cmd: c_uint,
        arg: c_ulong,
    ) -> c_long {
        // SAFETY: The file is open, by the safety requirements.
        let this = unsafe { Self::data(file) };
        from_result(|| T::ioctl(this, cmd, UserPtr::from_addr(arg)).map(|r| r as c_long))
    }

    /// `file_operations.release`.
    ///
    /// # Safety
    ///
    /// Called by the VFS once, when the last reference to a file of these
    /// operations goes.
    unsafe extern "C" fn release_callback(
        _inode: *mut bindings::inode,
        file: *mut bindings::file,
    ) -> c_int {
        // SAFETY: The private data is the `Arc<T>` of `StreamFile::new`; this is
        // the last use of the file, so it can be taken back.
        drop(unsafe { Arc::<T>::from_foreign((*file).private_data) });
        0
    }

    /// The operations table.
    const VTABLE: bindings::file_operations = bindings::file_operations {
        owner: this_module::<T::OwnerModule>().as_ptr(),
        read: if T::HAS_READ {
            Some(Self::read_callback)
        } else {
            None
        },
        write: if T::HAS_WRITE {
            Some(Self::write_callback)
        } else {
            None
        },
        unlocked_ioctl: if T::HAS_IOCTL {
            Some(Self::ioctl_callback)
        } else {
            None
        },
        #[cfg(CONFIG_COMPAT)]
        compat_ioctl: if T::HAS_IOCTL {
            bindings::compat_ptr_ioctl
        } else {
            None
        },
        release: Some(Self::release_callback),
        ..pin_init::zeroed()
    };

    /// Returns the operations table, as a `'static` reference (a constant
    /// promoted to a static, explicitly).
    const fn build() -> &'static bindings::file_operations {
        &Self::VTABLE
    }
}
