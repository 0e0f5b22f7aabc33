// SPDX-License-Identifier: GPL-2.0

//! What the dsa_mdev fuzz targets share.
//!
//! - [`Input`]: reads values from the fuzzer's bytes, zeros once they run
//!   out, so that every input is a valid one and a mutation of one byte
//!   changes one decision.
//! - [`SparseMem`]: an [`engine::Memory`] of a few 4 KiB pages anywhere in
//!   the 64-bit space, which asserts the engine's contract on every access
//!   (within one page, never wrapping, nothing read after a stop).
//! - [`device`]: helpers that drive a [`Dsa`] model through its registers
//!   (configure WQs, enable them) as the idxd driver does.
//! - [`overflow_checks_are_on`]: the check every target makes at start-up
//!   that the build has overflow checks (debug assertions are checked when
//!   this crate compiles), since those are what turn the logic's
//!   arithmetic mistakes into crashes.

// "One time in n" reads best as `input.u8() % n == 0`.
#![allow(clippy::manual_is_multiple_of)]

use dsa_logic::{
    engine::{
        self,
        Memory,
        NoAccess, //
    },
    model::{
        Dsa,
        WqCfg, //
    },
};
use std::{
    fmt,
    ops::DerefMut, //
};

/// The engine's page.
pub const PAGE: u64 = engine::PAGE;

/// The top page of the 64-bit space: buffers there end at, or wrap past,
/// 2^64.
pub const TOP_PAGE: u64 = 0u64.wrapping_sub(PAGE);

// What the targets are for: a build without debug assertions (and so,
// unless asked, without overflow checks) would miss the bugs they hunt.
#[cfg(not(debug_assertions))]
compile_error!("fuzz targets must be built with debug assertions (cargo fuzz build -a)");

/// Panics unless the build checks arithmetic overflow. Called once, from
/// each target's `init`.
pub fn overflow_checks_are_on() {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let overflowed =
        std::panic::catch_unwind(|| std::hint::black_box(u8::MAX) + std::hint::black_box(1u8))
            .is_err();
    std::panic::set_hook(hook);
    assert!(
        overflowed,
        "fuzz targets must be built with overflow checks (profile.release.overflow-checks)"
    );
}

/// Whether `DSA_FUZZ_DEBUG` is set in the environment: targets then
/// print what they decoded from the input (to study a crash, run the
/// target binary on the crashing input with it set).
pub fn debug() -> bool {
    static DEBUG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("DSA_FUZZ_DEBUG").is_some())
}

/// The fuzzer's bytes, read front to back; zeros when they run out.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// Reads from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// Returns whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Returns the bytes not read yet, and reads them.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.data)
    }

    /// Returns up to `n` bytes (fewer at the end).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        head
    }

    /// Fills `out`, with zeros past the end.
    pub fn fill(&mut self, out: &mut [u8]) {
        let b = self.bytes(out.len());
        out[..b.len()].copy_from_slice(b);
        out[b.len()..].fill(0);
    }

    /// One byte.
    pub fn u8(&mut self) -> u8 {
        self.bytes(1).first().copied().unwrap_or(0)
    }

    /// A little-endian `u16`.
    pub fn u16(&mut self) -> u16 {
        let mut b = [0; 2];
        self.fill(&mut b);
        u16::from_le_bytes(b)
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self) -> u32 {
        let mut b = [0; 4];
        self.fill(&mut b);
        u32::from_le_bytes(b)
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self) -> u64 {
        let mut b = [0; 8];
        self.fill(&mut b);
        u64::from_le_bytes(b)
    }

    /// A boolean (the low bit of a byte).
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 != 0
    }

    /// A value below `n` (0 if `n` is 0), from one byte if `n` fits one.
    pub fn below(&mut self, n: usize) -> usize {
        match n {
            0 => 0,
            1..=256 => usize::from(self.u8()) % n,
            _ => self.u32() as usize % n,
        }
    }

    /// One of `choices` (which is not empty).
    pub fn choose<T: Copy>(&mut self, choices: &[T]) -> T {
        choices[self.below(choices.len())]
    }
}

/// Page permissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perm {
    /// Reads succeed.
    pub read: bool,
    /// Writes succeed.
    pub write: bool,
}

/// A mapped page.
#[derive(Clone)]
pub struct Page {
    /// Its address, a multiple of [`PAGE`].
    pub base: u64,
    /// What it allows.
    pub perm: Perm,
    /// Its bytes.
    pub data: Box<[u8; PAGE as usize]>,
}

/// One access the engine made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// Where.
    pub addr: u64,
    /// How many bytes.
    pub len: usize,
    /// A write (else a read).
    pub write: bool,
    /// Whether it succeeded.
    pub ok: bool,
}

/// A sparse memory: a few pages anywhere in the 64-bit space, the rest
/// unmapped. Every access is checked against the engine's contract; a
/// violation panics, which the fuzzer reports as a crash.
#[derive(Clone, Default)]
pub struct SparseMem {
    /// The mapped pages (distinct bases).
    pub pages: Vec<Page>,
    /// The accesses so far, in order.
    pub log: Vec<Access>,
    /// [`Memory::stop`] says yes once this many accesses were made.
    pub stop_after: Option<usize>,
    /// Whether [`Memory::stop`] said yes.
    pub stopped: bool,
    /// How often [`Memory::stop`] was asked.
    pub stop_asked: usize,
}

impl SparseMem {
    /// Maps a page at `base` (rounded down to a page) unless one is there;
    /// returns its index.
    pub fn map(&mut self, base: u64, perm: Perm, fill: impl FnOnce(&mut [u8])) -> usize {
        let base = base & !(PAGE - 1);
        if let Some(i) = self.pages.iter().position(|p| p.base == base) {
            return i;
        }
        let mut data = Box::new([0u8; PAGE as usize]);
        fill(&mut data[..]);
        self.pages.push(Page { base, perm, data });
        self.pages.len() - 1
    }

    /// The page holding `addr`, if mapped.
    pub fn page(&self, addr: u64) -> Option<&Page> {
        self.pages.iter().find(|p| p.base == addr & !(PAGE - 1))
    }

    /// The permissions at `addr` (none if unmapped).
    pub fn perm(&self, addr: u64) -> Perm {
        self.page(addr).map_or(
            Perm {
                read: false,
                write: false,
            },
            |p| p.perm,
        )
    }

    /// The `len` bytes at `addr`, across pages, if all are mapped and the
    /// range does not wrap (whatever the permissions): for checks.
    pub fn peek(&self, addr: u64, len: u64) -> Option<Vec<u8>> {
        if len > 16 * PAGE {
            return None;
        }
        if len > 0 {
            addr.checked_add(len - 1)?;
        }
        let mut out = Vec::with_capacity(len as usize);
        for i in 0..len {
            let a = addr + i;
            let p = self.page(a)?;
            out.push(p.data[(a % PAGE) as usize]);
        }
        Some(out)
    }

    /// Whether `len` bytes at `addr` are all mapped with `perm` (and do not
    /// wrap).
    pub fn all(&self, addr: u64, len: u64, want: impl Fn(Perm) -> bool) -> bool {
        if len == 0 {
            return true;
        }
        let Some(last) = addr.checked_add(len - 1) else {
            return false;
        };
        let mut page = addr & !(PAGE - 1);
        loop {
            if !want(self.perm(page)) {
                return false;
            }
            if page == last & !(PAGE - 1) {
                return true;
            }
            page += PAGE;
        }
    }

    /// Checks one access against the contract of [`Memory`].
    fn check(&mut self, addr: u64, len: usize, write: bool) {
        // A few pages give the engine a few thousand accesses at most.
        assert!(
            self.log.len() < 1 << 20,
            "more than 2^20 accesses: the engine does not make progress"
        );
        assert!(len > 0, "empty access at {addr:#x} (write: {write})");
        assert!(
            len as u64 <= PAGE,
            "access of {len} bytes at {addr:#x}: more than a page"
        );
        let last = addr.checked_add(len as u64 - 1).unwrap_or_else(|| {
            panic!("access of {len} bytes at {addr:#x} wraps past 2^64 (write: {write})")
        });
        assert_eq!(
            addr & !(PAGE - 1),
            last & !(PAGE - 1),
            "access of {len} bytes at {addr:#x} crosses a page (write: {write})"
        );
        if self.stopped {
            // After a stop only completion records are written (the
            // batch's): 31 bytes at a 32-aligned address + 1, then the
            // status byte.
            let record = write && ((addr % 32 == 1 && len == 31) || (addr % 32 == 0 && len == 1));
            assert!(
                record,
                "access of {len} bytes at {addr:#x} after stop() said yes (write: {write})"
            );
        }
    }

    fn slot(&mut self, addr: u64, write: bool) -> Option<&mut [u8; PAGE as usize]> {
        let page = self
            .pages
            .iter_mut()
            .find(|p| p.base == addr & !(PAGE - 1))?;
        let allowed = if write {
            page.perm.write
        } else {
            page.perm.read
        };
        allowed.then_some(&mut *page.data)
    }
}

impl Memory for SparseMem {
    fn read(&mut self, iova: u64, buf: &mut [u8]) -> Result<(), NoAccess> {
        self.check(iova, buf.len(), false);
        let at = (iova % PAGE) as usize;
        let ok = match self.slot(iova, false) {
            Some(data) => {
                buf.copy_from_slice(&data[at..at + buf.len()]);
                true
            }
            None => false,
        };
        self.log.push(Access {
            addr: iova,
            len: buf.len(),
            write: false,
            ok,
        });
        ok.then_some(()).ok_or(NoAccess)
    }

    fn write(&mut self, iova: u64, buf: &[u8]) -> Result<(), NoAccess> {
        self.check(iova, buf.len(), true);
        let at = (iova % PAGE) as usize;
        let ok = match self.slot(iova, true) {
            Some(data) => {
                data[at..at + buf.len()].copy_from_slice(buf);
                true
            }
            None => false,
        };
        self.log.push(Access {
            addr: iova,
            len: buf.len(),
            write: true,
            ok,
        });
        ok.then_some(()).ok_or(NoAccess)
    }

    fn stop(&mut self) -> bool {
        self.stop_asked += 1;
        if self.stop_after.is_some_and(|k| self.log.len() >= k) {
            self.stopped = true;
        }
        self.stopped
    }
}

/// A page address for the fuzzer to map: the top pages of the 64-bit
/// space most often (where buffers end at or wrap past 2^64), then page
/// 0, the neighbours of pages already mapped (so that buffers span
/// several), other boundaries, and any address at all.
pub fn page_address(input: &mut Input<'_>, mapped: &[u64]) -> u64 {
    let k = u64::from(input.u8() & 3);
    match input.u8() % 8 {
        0..=2 => TOP_PAGE - k * PAGE,
        3 => k * PAGE,
        4 if !mapped.is_empty() => {
            let near = input.choose(mapped);
            if input.bool() {
                near.wrapping_add((k + 1) * PAGE)
            } else {
                near.wrapping_sub((k + 1) * PAGE)
            }
        }
        5 => input.choose(&[1u64 << 32, 1 << 47, 1 << 48, 1 << 63, 0x7fff_ffff_f000]) - k * PAGE,
        _ => input.u64() & !(PAGE - 1),
    }
}

/// An address for a descriptor to name: inside or at the edges of a
/// mapped page, near the top of the space, or anything.
pub fn address(input: &mut Input<'_>, mapped: &[u64]) -> u64 {
    let off = |input: &mut Input<'_>| match input.u8() % 4 {
        // Near the page's end, where chunks split.
        0 => PAGE - 1 - u64::from(input.u8()),
        1 => u64::from(input.u8()),
        2 => u64::from(input.u16()) % PAGE,
        _ => u64::from(input.u8() & 0xc0) << 4,
    };
    match input.u8() % 8 {
        0..=3 if !mapped.is_empty() => input.choose(mapped).wrapping_add(off(input)),
        4 => u64::MAX - u64::from(input.u16()),
        5 => TOP_PAGE.wrapping_add(off(input)),
        6 => u64::from(input.u16()),
        _ => input.u64(),
    }
}

/// Fills a page: deterministic bytes from `seed`, a repeated byte, or the
/// input's bytes.
pub fn page_contents(input: &mut Input<'_>, out: &mut [u8]) {
    match input.u8() % 4 {
        0 => {
            let seed = u64::from(input.u32()) | 1;
            for (i, b) in out.iter_mut().enumerate() {
                *b = ((i as u64 ^ seed).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8;
            }
        }
        1 => out.fill(input.u8()),
        2 => {
            let n = input.below(PAGE as usize);
            let b = input.bytes(n);
            if !b.is_empty() {
                for (o, v) in out.iter_mut().zip(b.iter().cycle()) {
                    *o = *v;
                }
            }
        }
        _ => out.fill(0),
    }
}

/// A byte sink for `Display` implementations: counts what they write.
#[derive(Default)]
pub struct Sink {
    /// The text written.
    pub text: String,
}

impl fmt::Write for Sink {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.text.push_str(s);
        Ok(())
    }
}

/// Formats `v` (to run its `Display`).
pub fn show(v: &impl fmt::Display) -> String {
    let mut s = Sink::default();
    fmt::write(&mut s, format_args!("{v}")).expect("Display failed");
    s.text
}

/// The standard CRC-32C (Castagnoli), bit by bit: a reference for the
/// engine's table-driven one. `crc` as Linux's `crc32c()` takes it.
pub fn crc32c_ref(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// Register-level drivers of a [`Dsa`] model, as the idxd driver and the
/// VFIO selftests program it.
pub mod device {
    use super::*;
    use dsa_logic::idxd::*;

    /// Where WQCFG starts (from the TABLE register).
    pub fn wqcfg_table<W: DerefMut<Target = [WqCfg]>>(dsa: &Dsa<W>) -> u64 {
        let mut b = [0u8; 8];
        dsa.bar0_read(TABLE_OFFSET, &mut b).expect("TABLE reads");
        ((u64::from_le_bytes(b) >> 16) & 0xffff) * TABLE_MULT
    }

    /// Writes a dword of BAR0 (with bus mastering on), which must be
    /// accepted.
    pub fn w32<W: DerefMut<Target = [WqCfg]>>(dsa: &mut Dsa<W>, off: u64, v: u32) -> u64 {
        dsa.bar0_write(off, &v.to_le_bytes(), true)
            .unwrap_or_else(|e| panic!("aligned dword write at {off:#x} refused: {e:?}"))
            .vectors
    }

    /// Reads a dword of BAR0, which must succeed.
    pub fn r32<W: DerefMut<Target = [WqCfg]>>(dsa: &Dsa<W>, off: u64) -> u32 {
        let mut b = [0u8; 4];
        dsa.bar0_read(off, &mut b)
            .unwrap_or_else(|e| panic!("aligned dword read at {off:#x} refused: {e:?}"));
        u32::from_le_bytes(b)
    }

    /// Runs a command; returns CMDSTS.
    pub fn cmd<W: DerefMut<Target = [WqCfg]>>(dsa: &mut Dsa<W>, c: u32, operand: u32) -> u32 {
        w32(dsa, CMD_OFFSET, c << CMD_SHIFT | operand);
        r32(dsa, CMDSTS_OFFSET)
    }

    /// Configures WQ `wq` from the input: mostly a configuration
    /// `IDXD_CMD_ENABLE_WQ` takes (the selftests' one, with fuzzed limits),
    /// sometimes fuzzed words.
    pub fn configure_wq<W: DerefMut<Target = [WqCfg]>>(
        dsa: &mut Dsa<W>,
        input: &mut Input<'_>,
        wq: u64,
    ) {
        let base = wqcfg_table(dsa) + wq * model_wqcfg_bytes();
        let how = input.u8();
        let size = if how & 1 == 0 {
            u32::from(input.u8() % 16) + 1
        } else {
            u32::from(input.u16())
        };
        w32(dsa, base, size);
        let mode = if how & 2 == 0 {
            WQCFG_MODE_DEDICATED | (u32::from(input.u8() % 15) + 1) << WQCFG_PRIORITY_SHIFT
        } else {
            input.u32()
        };
        w32(dsa, base + 8, mode);
        let limits = if how & 4 == 0 {
            u32::from(input.u8() % 21) | u32::from(input.u8() % 11) << WQCFG_MAX_BATCH_SHIFT
        } else {
            input.u32()
        };
        w32(dsa, base + 12, limits);
        if how & 8 != 0 {
            // Restrict op_config.
            let w = 8 + u64::from(input.u8() % 8);
            w32(dsa, base + 4 * w, input.u32());
        }
    }

    /// The size of a WQCFG entry.
    pub fn model_wqcfg_bytes() -> u64 {
        dsa_logic::model::WQCFG_BYTES
    }
}
