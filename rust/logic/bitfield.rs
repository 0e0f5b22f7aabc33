// SPDX-License-Identifier: GPL-2.0

//! Integer layouts (registers, table entries) as types with named bit
//! fields: the `bitfield!` macro.
//!
//! The syntax is that of the kernel's `bitfield!` (`rust/kernel/bitfield.rs`,
//! which `kernel::io::register!` builds on), so that moving to it is a
//! mechanical edit; the crate's host build has neither `kernel` nor `paste`,
//! hence the differences listed below.
//!
//! ```text
//! bitfield! {
//!     /// Documentation of `Name`.
//!     pub(crate) struct Name(u32) {
//!         /// Documentation of `field_1`.
//!         hi:lo field_1, with_field_1;
//!         /// A field converted to and from `ConvertedType`.
//!         hi:lo field_2 => ConvertedType, with_field_2;
//!         /// A field converted from `ConvertedType`, fallibly.
//!         hi:lo field_3 ?=> ConvertedType, with_field_3;
//!     }
//! }
//! ```
//!
//! For example, with `union idxd_command_reg` of the idxd driver:
//!
//! ```text
//! bitfield! {
//!     pub(crate) struct Command(u32) {
//!         19:0 operand, with_operand;
//!         24:20 cmd, with_cmd;
//!         31:31 int_req => bool, with_int_req;
//!     }
//! }
//!
//! let c = Command::zeroed().with_cmd(CMD_ENABLE_WQ).with_int_req(true);
//! assert_eq!(c.into_raw(), CMD_ENABLE_WQ << CMD_SHIFT | CMD_INT_REQ);
//! assert_eq!(Command::from_raw(!0).cmd(), 0x1f);
//! ```
//!
//! The storage is `u8`, `u16`, `u32` or `u64`; `hi:lo` is an inclusive bit
//! range, checked at compile time (`lo <= hi < bits of the storage`).
//! Fields may overlap; bits no field names are kept by the setters. The
//! type has `zeroed()`, `from_raw()`, `into_raw()`, [`From`] both ways,
//! [`Clone`], [`Copy`], [`PartialEq`], [`Eq`] and a [`Debug`] that shows
//! the raw value and every field. For each field:
//!
//! - `field()` returns the field's value: the storage type, shifted down;
//!   `bool` for `=> bool` (a one-bit field); `ConvertedType::from(value)`
//!   for `=> ConvertedType`; `ConvertedType::try_from(value)` for
//!   `?=> ConvertedType`.
//! - `with_field(value)` returns the value with the field replaced by
//!   `value` (the storage type, `bool` or `ConvertedType`, converted into
//!   the storage type): only its low bits that fit the field are kept, so
//!   it never fails nor panics, whatever the value.
//!
//! Plain and `bool` getters and setters are `const fn`.
//!
//! Nothing in the generated code can overflow or panic: shifts and
//! subtractions wrap (their operands are the checked constants `hi`, `lo`).
//!
//! # Differences from the kernel's `bitfield!`
//!
//! - Each field names its setter after a comma (`, with_field`):
//!   `macro_rules!` cannot make the name `with_field` from `field` (the
//!   kernel uses `paste!`). To move to the kernel's macro, delete it.
//! - Getters return the storage type (`bool` for `=> bool`), not
//!   `Bounded<storage, N>`; there `.get()` gives the value, and `=> bool`
//!   works the same (`Bounded<_, 1>` converts into `bool`).
//! - `with_field` takes the storage type and truncates; the kernel's takes
//!   a value that fits by its type, or `Bounded::from_expr(value & mask)`,
//!   and has `try_with_field` for a value checked at run time. There is no
//!   `with_const_field`, nor `FIELD_MASK`, `FIELD_SHIFT`, `FIELD_RANGE`.
//! - `ConvertedType` is one identifier, converted from and to the storage
//!   type (`From<storage>` or `TryFrom<storage>`, and `storage:
//!   From<ConvertedType>`); the kernel converts from and to `Bounded`.
//! - `zeroed()` is an inherent `const fn` (the kernel's comes from
//!   `Zeroable`).

/// Defines an integer layout type with named bit fields.
///
/// See the [module documentation](self) for the syntax and what it
/// generates.
macro_rules! bitfield {
    // The type, its raw conversions, and its fields.
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident($storage:ty) {
            $(
                $(#[doc = $doc:expr])*
                $hi:literal:$lo:literal $field:ident
                    $(?=> $try_into_type:ident)?
                    $(=> $into_type:ident)?
                    , $with:ident;
            )*
        }
    ) => {
        $(#[$attr])*
        #[repr(transparent)]
        #[derive(Clone, Copy, PartialEq, Eq)]
        $vis struct $name {
            inner: $storage,
        }

        #[allow(dead_code)]
        impl $name {
            /// Returns the value with every bit 0.
            #[inline(always)]
            $vis const fn zeroed() -> Self {
                Self { inner: 0 }
            }

            /// Returns the value of raw bits `value`.
            #[inline(always)]
            $vis const fn from_raw(value: $storage) -> Self {
                Self { inner: value }
            }

            /// Returns the raw bits.
            #[inline(always)]
            $vis const fn into_raw(self) -> $storage {
                self.inner
            }

            /// Returns the mask of bits `hi:lo` (`lo <= hi < BITS`, checked
            /// where the fields are defined; other bounds give another mask
            /// but never panic).
            #[inline(always)]
            const fn __mask(hi: u32, lo: u32) -> $storage {
                let width_less_one = hi.wrapping_sub(lo);
                <$storage>::MAX
                    .wrapping_shr(<$storage>::BITS.wrapping_sub(1).wrapping_sub(width_less_one))
                    .wrapping_shl(lo)
            }

            /// Returns bits `hi:lo`, shifted down.
            #[inline(always)]
            const fn __field(self, hi: u32, lo: u32) -> $storage {
                (self.inner & Self::__mask(hi, lo)).wrapping_shr(lo)
            }

            /// Returns the value with bits `hi:lo` replaced by the low bits
            /// of `value`.
            #[inline(always)]
            const fn __with_field(self, hi: u32, lo: u32, value: $storage) -> Self {
                let mask = Self::__mask(hi, lo);
                Self {
                    inner: (self.inner & !mask) | (value.wrapping_shl(lo) & mask),
                }
            }
        }

        impl ::core::convert::From<$name> for $storage {
            #[inline(always)]
            fn from(value: $name) -> $storage {
                value.into_raw()
            }
        }

        impl ::core::convert::From<$storage> for $name {
            #[inline(always)]
            fn from(value: $storage) -> $name {
                $name::from_raw(value)
            }
        }

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(::core::stringify!($name))
                    .field("<raw>", &::core::format_args!("{:#x}", self.inner))
                    $(.field(::core::stringify!($field), &self.$field()))*
                    .finish()
            }
        }

        $(
            const _: () = ::core::assert!(
                $lo <= $hi && $hi < <$storage>::BITS,
                ::core::concat!(
                    ::core::stringify!($name),
                    ".",
                    ::core::stringify!($field),
                    ": bits ",
                    ::core::stringify!($hi:$lo),
                    " are not a range of the storage"
                ),
            );

            bitfield!(
                @accessors $vis $name $storage, $hi, $lo [$(#[doc = $doc])*] $field, $with
                $(?=> $try_into_type)?
                $(=> $into_type)?
            );
        )*
    };

    // A one-bit field as a `bool`.
    (
        @accessors $vis:vis $name:ident $storage:ty, $hi:literal, $lo:literal [$(#[doc = $doc:expr])*]
            $field:ident, $with:ident => bool
    ) => {
        #[allow(dead_code)]
        impl $name {
            $(#[doc = $doc])*
            #[doc = ""]
            #[doc = "Returns whether this bit is set."]
            #[inline(always)]
            $vis const fn $field(self) -> bool {
                const _: () = ::core::assert!($hi == $lo, "a bool field is one bit");
                self.__field($hi, $lo) != 0
            }

            $(#[doc = $doc])*
            #[doc = ""]
            #[doc = "Returns the value with this bit set to `value`."]
            #[inline(always)]
            $vis const fn $with(self, value: bool) -> Self {
                self.__with_field($hi, $lo, if value { 1 } else { 0 })
            }
        }
    };

    // A field converted from and to a type.
    (
        @accessors $vis:vis $name:ident $storage:ty, $hi:literal, $lo:literal [$(#[doc = $doc:expr])*]
            $field:ident, $with:ident => $into_type:ident
    ) => {
        #[allow(dead_code)]
        impl $name {
            $(#[doc = $doc])*
            #[doc = ""]
            #[doc = "Returns the value of this field."]
            #[inline(always)]
            $vis fn $field(self) -> $into_type {
                <$into_type as ::core::convert::From<$storage>>::from(self.__field($hi, $lo))
            }
        }

        bitfield!(
            @converted_setter $vis $name $storage, $hi, $lo [$(#[doc = $doc])*] $with $into_type
        );
    };

    // A field converted from a type, fallibly, and to it.
    (
        @accessors $vis:vis $name:ident $storage:ty, $hi:literal, $lo:literal [$(#[doc = $doc:expr])*]
            $field:ident, $with:ident ?=> $try_into_type:ident
    ) => {
        #[allow(dead_code)]
        impl $name {
            $(#[doc = $doc])*
            #[doc = ""]
            #[doc = "Returns the value of this field, or why it is not one."]
            #[inline(always)]
            $vis fn $field(
                self,
            ) -> ::core::result::Result<
                $try_into_type,
                <$try_into_type as ::core::convert::TryFrom<$storage>>::Error,
            > {
                <$try_into_type as ::core::convert::TryFrom<$storage>>::try_from(
                    self.__field($hi, $lo),
                )
            }
        }

        bitfield!(
            @converted_setter $vis $name $storage, $hi, $lo [$(#[doc = $doc])*] $with
                $try_into_type
        );
    };

    // The setter of a field converted from a type (`=>` or `?=>`).
    (
        @converted_setter $vis:vis $name:ident $storage:ty, $hi:literal, $lo:literal
            [$(#[doc = $doc:expr])*] $with:ident $type:ident
    ) => {
        #[allow(dead_code)]
        impl $name {
            $(#[doc = $doc])*
            #[doc = ""]
            #[doc = "Returns the value with this field set to `value`."]
            #[inline(always)]
            $vis fn $with(self, value: $type) -> Self {
                self.__with_field(
                    $hi,
                    $lo,
                    <$storage as ::core::convert::From<$type>>::from(value),
                )
            }
        }
    };

    // A field as the storage type.
    (
        @accessors $vis:vis $name:ident $storage:ty, $hi:literal, $lo:literal [$(#[doc = $doc:expr])*]
            $field:ident, $with:ident
    ) => {
        #[allow(dead_code)]
        impl $name {
            $(#[doc = $doc])*
            #[doc = ""]
            #[doc = "Returns the value of this field."]
            #[inline(always)]
            $vis const fn $field(self) -> $storage {
                self.__field($hi, $lo)
            }

            $(#[doc = $doc])*
            #[doc = ""]
            #[doc = "Returns the value with this field set to the low bits of `value`"]
            #[doc = "that fit it (the others are dropped)."]
            #[inline(always)]
            $vis const fn $with(self, value: $storage) -> Self {
                self.__with_field($hi, $lo, value)
            }
        }
    };
}

pub(crate) use bitfield;

#[cfg(test)]
mod tests {
    use std::format;

    /// A two-valued field type, every bit pattern of its one bit valid.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Power {
        /// Bit clear.
        Off,
        /// Bit set.
        On,
    }

    impl From<u32> for Power {
        fn from(v: u32) -> Self {
            if v == 0 {
                Self::Off
            } else {
                Self::On
            }
        }
    }

    impl From<Power> for u32 {
        fn from(p: Power) -> Self {
            match p {
                Power::Off => 0,
                Power::On => 1,
            }
        }
    }

    /// A three-valued field type of two bits: 3 is invalid.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Mode {
        /// 0.
        Low,
        /// 1.
        High,
        /// 2.
        Auto,
    }

    impl TryFrom<u64> for Mode {
        type Error = u64;

        fn try_from(v: u64) -> Result<Self, u64> {
            match v {
                0 => Ok(Self::Low),
                1 => Ok(Self::High),
                2 => Ok(Self::Auto),
                n => Err(n),
            }
        }
    }

    impl From<Mode> for u64 {
        fn from(m: Mode) -> Self {
            match m {
                Mode::Low => 0,
                Mode::High => 1,
                Mode::Auto => 2,
            }
        }
    }

    bitfield! {
        /// A 32-bit layout with a gap (bits 27:16) and overlapping fields.
        struct Test32(u32) {
            /// The top bit.
            31:31 top => bool, with_top;
            /// Bits 30:28, as a power switch: any non-zero value is on.
            30:28 power => Power, with_power;
            /// The low half.
            15:0 low, with_low;
            /// The low byte, inside `low`.
            7:0 byte, with_byte;
            /// Bit 0, inside `byte`.
            0:0 bit0 => bool, with_bit0;
        }
    }

    bitfield! {
        /// A 64-bit layout with a full-width field.
        struct Test64(u64) {
            /// All of it.
            63:0 all, with_all;
            /// Bits 63:62.
            63:62 mode ?=> Mode, with_mode;
            /// Bits 51:16.
            51:16 middle, with_middle;
        }
    }

    bitfield! {
        /// An 8-bit layout.
        struct Test8(u8) {
            /// The high nibble.
            7:4 high, with_high;
            /// Bits 3:2.
            3:2 pair, with_pair;
        }
    }

    #[test]
    fn getters_and_setters() {
        let v = Test32::zeroed()
            .with_top(true)
            .with_low(0x1234)
            .with_power(Power::On);
        assert_eq!(v.into_raw(), 0x9000_1234);
        assert!(v.top());
        assert_eq!(v.low(), 0x1234);
        assert_eq!(v.byte(), 0x34);
        assert!(!v.bit0());
        assert_eq!(v.power(), Power::On);
        // Any non-zero pattern converts to `On`; setting writes 1.
        assert_eq!(Test32::from_raw(0x6000_0000).power(), Power::On);
        assert_eq!(v.with_power(Power::Off).into_raw(), 0x8000_1234);
        // Overlapping fields see each other's bits.
        let v = v.with_byte(0xff).with_bit0(false);
        assert_eq!((v.low(), v.byte()), (0x12fe, 0xfe));
        assert_eq!(v.with_top(false).into_raw(), 0x1000_12fe);

        let v = Test64::zeroed()
            .with_middle(0xa_bcde_f012)
            .with_mode(Mode::Auto);
        assert_eq!(v.into_raw(), 0x800a_bcde_f012_0000);
        assert_eq!(v.mode(), Ok(Mode::Auto));
        assert_eq!(v.middle(), 0xa_bcde_f012);
        assert_eq!(v.all(), v.into_raw());
        assert_eq!(Test64::from_raw(!0).mode(), Err(3));
        assert_eq!(Test64::zeroed().with_all(!0).into_raw(), !0);

        let v = Test8::zeroed().with_high(0xa).with_pair(0b01);
        assert_eq!(v.into_raw(), 0xa4);
        assert_eq!((v.high(), v.pair()), (0xa, 0b01));
    }

    #[test]
    fn setters_keep_other_bits_and_truncate() {
        // The gap (27:16) and the other fields stay as they were.
        let gap = 0x0fff_0000;
        let v = Test32::from_raw(gap | 0x8000_0000);
        assert_eq!(v.with_low(0xffff).into_raw(), gap | 0x8000_ffff);
        assert_eq!(v.with_top(false).into_raw(), gap);
        // A value wider than the field keeps only the bits that fit.
        assert_eq!(Test32::zeroed().with_low(0xdead_beef).into_raw(), 0xbeef);
        assert_eq!(Test32::zeroed().with_byte(0x1ff).into_raw(), 0xff);
        assert_eq!(Test8::zeroed().with_pair(0xff).into_raw(), 0b1100);
        assert_eq!(Test8::from_raw(0x0f).with_high(0x10).into_raw(), 0x0f);
        assert_eq!(
            Test64::zeroed().with_middle(u64::MAX).into_raw(),
            0x000f_ffff_ffff_0000
        );
    }

    #[test]
    fn no_value_panics() {
        // Every getter and setter, on extreme raw values and arguments:
        // nothing overflows (the test build checks overflow).
        for raw in [0u32, 1, 0x7fff_ffff, 0x8000_0000, u32::MAX] {
            let v = Test32::from_raw(raw);
            assert_eq!(u32::from(v), raw);
            assert_eq!(Test32::from(raw), v);
            let _ = (v.top(), v.power(), v.low(), v.byte(), v.bit0());
            for arg in [0u32, 1, 0xffff, 0x1_0000, u32::MAX] {
                let w = v.with_low(arg).with_byte(arg).with_top(arg != 0);
                assert_eq!(w.low(), arg & 0xffff);
                assert_eq!(w.into_raw() & 0x7fff_0000, raw & 0x7fff_0000);
            }
        }
        for raw in [0u64, 1, u64::MAX >> 1, 1 << 63, u64::MAX] {
            let v = Test64::from_raw(raw);
            let _ = (v.all(), v.mode(), v.middle());
            for arg in [0u64, 1, u64::MAX] {
                assert_eq!(v.with_all(arg).all(), arg);
                assert_eq!(v.with_middle(arg).middle(), arg & 0xf_ffff_ffff);
            }
        }
        for raw in 0..=u8::MAX {
            let v = Test8::from_raw(raw);
            assert_eq!(v.with_high(v.high()).with_pair(v.pair()), v);
            assert_eq!(v.with_high(u8::MAX).high(), 0xf);
        }
    }

    #[test]
    fn const_setters_and_debug() {
        const V: Test32 = Test32::zeroed().with_top(true).with_low(0x42);
        assert_eq!(V.into_raw(), 0x8000_0042);
        assert_eq!(
            format!("{V:?}"),
            "Test32 { <raw>: 0x80000042, top: true, power: Off, low: 66, byte: 66, \
             bit0: false }"
        );
        assert_eq!(
            format!("{:?}", Test64::from_raw(3 << 62)),
            "Test64 { <raw>: 0xc000000000000000, all: 13835058055282163712, \
             mode: Err(3), middle: 0 }"
        );
    }
}
