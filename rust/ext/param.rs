// SPDX-License-Identifier: GPL-2.0

//! String module parameters.
//!
//! C header: [`include/linux/moduleparam.h`](srctree/include/linux/moduleparam.h)
//!
//! The `module!` macro takes integer and boolean parameters only. A string
//! parameter is declared with [`module_param_str!`], which defines a
//! [`StrParam`] static, its `struct kernel_param` in the `__param` section
//! and its `modinfo` lines, as `module_param_string()` does in C. Unlike
//! `param_ops_string`, a value that does not fit is refused with `-EINVAL`
//! and a log line, not `-ENOSPC`.

use core::ffi::CStr;
use kernel::{
    bindings,
    ffi::{
        c_char,
        c_int, //
    },
    prelude::*,
    sync::SetOnce, //
};

/// A copy of a string parameter's value.
#[derive(Clone, Copy)]
struct Value<const N: usize> {
    len: usize,
    bytes: [u8; N],
}

/// A string module parameter of at most `N` bytes.
///
/// Set at most once, at module load, before `init` runs.
pub struct StrParam<const N: usize> {
    value: SetOnce<Value<N>>,
    default: &'static str,
}

impl<const N: usize> StrParam<N> {
    /// A parameter whose value is `default` unless set at load.
    pub const fn new(default: &'static str) -> Self {
        Self {
            value: SetOnce::new(),
            default,
        }
    }

    /// Returns the value given at load, or the default.
    pub fn value(&self) -> &str {
        match self.value.as_ref() {
            // `set_callback` stores only valid UTF-8 of length `len <= N`.
            Some(v) => core::str::from_utf8(&v.bytes[..v.len]).unwrap_or(self.default),
            None => self.default,
        }
    }

    /// Stores `val` as the value of the parameter `name`.
    fn set(&self, name: &CStr, val: &[u8]) -> Result {
        let name = name.to_str().unwrap_or("?");
        if val.len() > N {
            pr_err!(
                "{name}: value of {} bytes is too long (at most {N})\n",
                val.len()
            );
            return Err(EINVAL);
        }
        if core::str::from_utf8(val).is_err() {
            pr_err!("{name}: value is not text\n");
            return Err(EINVAL);
        }
        let mut bytes = [0; N];
        bytes[..val.len()].copy_from_slice(val);
        if !self.value.populate(Value {
            len: val.len(),
            bytes,
        }) {
            pr_err!("{name}: given more than once\n");
            return Err(EINVAL);
        }
        Ok(())
    }

    /// The `set` operation of the parameter's `struct kernel_param_ops`.
    ///
    /// # Safety
    ///
    /// `kp` must be the `struct kernel_param` defined by
    /// [`module_param_str!`] for a `StrParam<N>`, and `val` NULL or a valid
    /// C string, as the module loader passes them.
    unsafe extern "C" fn set_callback(
        val: *const c_char,
        kp: *const bindings::kernel_param,
    ) -> c_int {
        // SAFETY: By the function's safety requirements, `kp` is valid and
        // its `arg` points to the static `StrParam<N>`.
        let (this, name) = unsafe {
            (
                &*(*kp).__bindgen_anon_1.arg.cast::<Self>(),
                CStr::from_char_ptr((*kp).name),
            )
        };
        let val = if val.is_null() {
            // `types` with no `=value`.
            &[][..]
        } else {
            // SAFETY: A non-NULL `val` is a valid C string.
            unsafe { CStr::from_char_ptr(val) }.to_bytes()
        };
        match this.set(name, val) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// The parameter's operations.
    pub const OPS: bindings::kernel_param_ops = bindings::kernel_param_ops {
        flags: 0,
        set: Some(Self::set_callback),
        get: None,
        free: None,
    };

    /// The parameter's `struct kernel_param`, for [`module_param_str!`].
    pub const fn kernel_param(
        &'static self,
        name: &'static CStr,
    ) -> kernel::module_param::KernelParam {
        kernel::module_param::KernelParam::new(bindings::kernel_param {
            name: kernel::str::as_char_ptr_in_const_context(name),
            mod_: THIS_MODULE,
            ops: &Self::OPS,
            // Not in sysfs, like the `module!` macro's parameters.
            perm: 0,
            level: -1,
            flags: 0,
            __bindgen_anon_1: bindings::kernel_param__bindgen_ty_1 {
                arg: core::ptr::from_ref(self).cast_mut().cast(),
            },
        })
    }
}

#[cfg(MODULE)]
const THIS_MODULE: *mut bindings::module = (&raw const bindings::__this_module).cast_mut();
#[cfg(not(MODULE))]
const THIS_MODULE: *mut bindings::module = core::ptr::null_mut();

/// Copies `s` into an array of exactly its length, for `.modinfo` statics.
pub const fn modinfo<const L: usize>(s: &str) -> [u8; L] {
    let mut out = [0; L];
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < L {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// Declares a string module parameter `$name` of at most `$len` bytes.
///
/// Defines `pub(crate) static $name: StrParam<$len>`, registers it with the
/// module loader and describes it in `modinfo` (`parm` and `parmtype`).
/// For loadable modules only.
macro_rules! module_param_str {
    ($name:ident, $len:literal, $default:expr, $description:literal $(,)?) => {
        #[allow(non_upper_case_globals)]
        pub(crate) static $name: $crate::ext::param::StrParam<$len> =
            $crate::ext::param::StrParam::new($default);

        const _: () = {
            #[link_section = "__param"]
            #[used(compiler)]
            static PARAM: ::kernel::module_param::KernelParam = $name.kernel_param(
                match ::core::ffi::CStr::from_bytes_with_nul(
                    concat!(stringify!($name), "\0").as_bytes(),
                ) {
                    Ok(name) => name,
                    Err(_) => panic!("parameter name"),
                },
            );

            const PARM: &str = concat!("parm=", stringify!($name), ":", $description, "\0");
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static MODINFO_PARM: [u8; PARM.len()] = $crate::ext::param::modinfo(PARM);

            const PARMTYPE: &str = concat!("parmtype=", stringify!($name), ":string\0");
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static MODINFO_PARMTYPE: [u8; PARMTYPE.len()] = $crate::ext::param::modinfo(PARMTYPE);
        };
    };
}
pub(crate) use module_param_str;
