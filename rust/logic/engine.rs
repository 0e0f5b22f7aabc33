// SPDX-License-Identifier: GPL-2.0

//! The descriptor engine: validates a descriptor, executes it against the
//! user's memory through the [`Memory`] trait, writes its completion record
//! and reports the interrupts and software errors it causes.
//!
//! Execution is synchronous: when [`submit`] returns, the operation is
//! complete, so drains and fences have nothing to wait for. Memory is
//! accessed in chunks that never cross a 4 KiB page of any buffer, so a
//! fault is attributed to the exact page and `bytes_completed` counts the
//! bytes done before it, as the hardware reports them.

use core::ops::ControlFlow;

use super::{
    desc::{
        CompletionRecord,
        Descriptor,
        CR_ALIGN,
        DESC_ALIGN_MASK,
        DESC_SIZE, //
    },
    idxd::*,
};

/// The page size the engine splits accesses at.
pub const PAGE: u64 = 4096;

/// The smallest scratch buffer [`submit`] accepts: two pages.
pub const SCRATCH_MIN: usize = 2 * PAGE as usize;

/// A scratch buffer this big reads a batch's descriptor list a page at a
/// time, in one access, where a smaller one reads it a descriptor at a
/// time: the page beyond [`SCRATCH_MIN`] holds the list.
pub const SCRATCH_BATCH: usize = SCRATCH_MIN + PAGE as usize;

/// Memory a descriptor addresses: the user's DMA space (IOVAs), and the
/// submitter whose work the engine does.
///
/// An access either succeeds completely or fails; the engine never issues
/// one that crosses a page, nor one at an address that wrapped past the
/// top of the 64-bit space.
pub trait Memory {
    /// Reads `buf.len()` bytes at `iova`.
    fn read(&mut self, iova: u64, buf: &mut [u8]) -> Result<(), NoAccess>;
    /// Writes `buf` at `iova`.
    fn write(&mut self, iova: u64, buf: &[u8]) -> Result<(), NoAccess>;
    /// Copies `n` bytes from `src` to `dst` directly, without the bounce
    /// buffer, if the memory can: returns whether it did. When it did not,
    /// nothing moved, and the engine reads and writes instead (which finds
    /// the fault, if there is one). The two ranges may overlap, within the
    /// same page: the copy is then as `memmove()`'s. `ahead` is how many
    /// bytes the operation copies from these addresses up, this chunk
    /// included (`n` when it goes down): a hint of what comes next.
    fn copy(&mut self, _src: u64, _dst: u64, _n: usize, _ahead: u64) -> bool {
        false
    }
    /// Returns whether the work must end now: the submitter is being
    /// killed, or the device is being reset. Asked before each chunk of
    /// each descriptor and before each descriptor of a batch; once it says
    /// yes, the engine abandons what is left (see [`Outcome::aborted`]).
    fn stop(&mut self) -> bool {
        false
    }
}

/// A memory access that failed: the range is not mapped (or not for
/// writing), or the device may not do DMA now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoAccess;

/// What a WQ allows, from its configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WqLimits {
    /// The largest transfer: `1 << max_xfer_shift`.
    pub max_xfer: u64,
    /// The largest batch: `1 << max_batch_shift`.
    pub max_batch: u32,
    /// The opcodes the WQ accepts (`op_config`), one bit per opcode.
    pub op_config: [u64; 4],
    /// The number of interrupt vectors: valid `int_handle`s are below it.
    pub vectors: u16,
}

/// A software error: a descriptor failed and no completion record could
/// carry the status (no valid completion address, or an unusable one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwError {
    /// The status code (`sw_err_reg.error`).
    pub error: u8,
    /// The descriptor's opcode.
    pub operation: u8,
    /// Whether the descriptor was in a batch, at `batch_idx`.
    pub batch: bool,
    /// Its index in the batch.
    pub batch_idx: u16,
    /// The faulting address, for address errors.
    pub fault_addr: u64,
    /// Whether the fault was a write.
    pub fault_write: bool,
    /// The offending flags, for invalid flags.
    pub invalid_flags: u32,
}

/// What a submission caused besides memory writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The interrupt vectors to signal, one bit per vector (at most 64).
    pub vectors: u64,
    /// The first software error, if any.
    pub sw_error: Option<SwError>,
    /// Whether more than one software error happened.
    pub sw_error_overflow: bool,
    /// Whether [`Memory::stop`] cut the work short. The descriptor that was
    /// running then gets no completion record and no interrupt, those not
    /// yet started do not run, and a batch completes with
    /// `DSA_COMP_BATCH_FAIL` counting the members that succeeded before,
    /// as when a fence abandons the rest of a batch.
    pub aborted: bool,
}

impl Outcome {
    fn sw_error(&mut self, e: SwError) {
        if self.sw_error.is_some() {
            self.sw_error_overflow = true;
        } else {
            self.sw_error = Some(e);
        }
    }
}

/// The flags every DSA opcode may carry (fence only in a batch; check
/// result only for compare operations).
const FLAGS_COMMON: u32 = OP_FLAG_BOF
    | OP_FLAG_CRAV
    | OP_FLAG_RCR
    | OP_FLAG_RCI
    | OP_FLAG_CRSTS
    | OP_FLAG_CC
    | OP_FLAG_TCS
    | OP_FLAG_STORD
    | OP_FLAG_DRDBK
    | OP_FLAG_DSTS;

/// The opcodes the engine executes.
pub const SUPPORTED_OPCODES: [u8; 10] = [
    OPCODE_NOOP,
    OPCODE_BATCH,
    OPCODE_DRAIN,
    OPCODE_MEMMOVE,
    OPCODE_MEMFILL,
    OPCODE_COMPARE,
    OPCODE_COMPVAL,
    OPCODE_DUALCAST,
    OPCODE_CRCGEN,
    OPCODE_COPY_CRC,
];

/// `OPCAP`: one bit per supported opcode.
pub const fn opcap() -> [u64; 4] {
    [opcap_word(0), opcap_word(1), opcap_word(2), opcap_word(3)]
}

/// Quadword `q` of [`opcap`]: the bits of the supported opcodes from
/// `64 * q` on.
const fn opcap_word(q: u8) -> u64 {
    let mut bits = 0;
    let mut ops: &[u8] = &SUPPORTED_OPCODES;
    while let [op, rest @ ..] = ops {
        if *op / 64 == q {
            bits |= 1 << (*op % 64);
        }
        ops = rest;
    }
    bits
}

/// The descriptor bytes beyond offset 16 an opcode uses; the others must be
/// zero. (`int_handle`, bytes 36-37, is checked on its own.)
// A list of ranges per opcode; some opcodes have just one.
#[allow(clippy::single_range_in_vec_init)]
fn used_bytes(opcode: u8) -> &'static [core::ops::Range<usize>] {
    match opcode {
        OPCODE_BATCH => &[16..24, 32..36],
        OPCODE_MEMMOVE => &[16..36],
        OPCODE_MEMFILL => &[16..36],
        OPCODE_COMPARE | OPCODE_COMPVAL => &[16..36, 40..41],
        OPCODE_DUALCAST => &[16..36, 40..48],
        OPCODE_CRCGEN => &[16..24, 32..36, 40..44],
        OPCODE_COPY_CRC => &[16..36, 40..44],
        // NOOP, DRAIN
        _ => &[],
    }
}

/// Returns whether all bytes of `desc` from 16 on, outside `int_handle` and
/// what the opcode uses, are zero.
fn reserved_zero(desc: &Descriptor) -> bool {
    let used = used_bytes(desc.opcode);
    desc.raw
        .iter()
        .enumerate()
        .skip(16)
        .filter(|(i, _)| !(36..38).contains(i) && !used.iter().any(|r| r.contains(i)))
        .all(|(_, &b)| b == 0)
}

/// The flags `opcode` accepts.
fn allowed_flags(opcode: u8, in_batch: bool) -> u32 {
    let mut allowed = FLAGS_COMMON;
    if in_batch {
        allowed |= OP_FLAG_FENCE;
    }
    if matches!(opcode, OPCODE_COMPARE | OPCODE_COMPVAL) {
        allowed |= OP_FLAG_CR;
    }
    allowed
}

/// A failed memory access: where, and whether it was a write.
#[derive(Clone, Copy)]
struct Fault {
    addr: u64,
    write: bool,
    done: u64,
}

/// Why an operation ended before its last byte.
#[derive(Clone, Copy)]
enum Cut {
    /// A memory access failed.
    Fault(Fault),
    /// [`Memory::stop`] said to stop.
    Stopped,
}

impl From<Fault> for Cut {
    fn from(f: Fault) -> Self {
        Self::Fault(f)
    }
}

impl Fault {
    fn record(self) -> CompletionRecord {
        CompletionRecord {
            status: COMP_PAGE_FAULT_NOBOF,
            fault_info: u8::from(self.write),
            // At most the transfer size, a `u32`.
            completed: u32::try_from(self.done).unwrap_or(u32::MAX),
            fault_addr: self.addr,
            ..CompletionRecord::default()
        }
    }
}

/// The record of an operation cut short: its fault's, or none if it was
/// stopped.
fn cut_record(c: Cut) -> Option<CompletionRecord> {
    match c {
        Cut::Fault(f) => Some(f.record()),
        Cut::Stopped => None,
    }
}

/// Checks that a buffer of `len` bytes at `addr` lies below the top of the
/// 64-bit address space. One that would wrap past it faults at its start
/// before any byte moves: there is no address for the bytes past the top,
/// and hardware would translate the wrapped ones.
fn span(addr: u64, len: u64, write: bool) -> Result<(), Fault> {
    match len.checked_sub(1).map(|last| addr.checked_add(last)) {
        Some(None) => Err(Fault {
            addr,
            write,
            done: 0,
        }),
        _ => Ok(()),
    }
}

/// `addr + off` for an offset into a buffer [`span`] accepted: it cannot
/// wrap, and if it did the access would fault at the buffer's start.
fn at(addr: u64, off: u64, write: bool) -> Result<u64, Fault> {
    addr.checked_add(off).ok_or(Fault {
        addr,
        write,
        done: off,
    })
}

/// How an access ends whose chunk would not fit the bounce buffer: with a
/// fault at `addr`, the chunk's start, after `done` bytes. [`chunk`] never
/// makes a chunk longer than the buffer, so no operation ends this way.
fn no_room(addr: u64, write: bool, done: u64) -> Cut {
    Cut::Fault(Fault { addr, write, done })
}

/// Reads `buf` at `addr`, `done` bytes into an operation: a fault there if
/// the user's memory is not mapped.
fn read_at<M: Memory>(mem: &mut M, addr: u64, done: u64, buf: &mut [u8]) -> Result<(), Fault> {
    mem.read(addr, buf).map_err(|NoAccess| Fault {
        addr,
        write: false,
        done,
    })
}

/// Reads `n` bytes at `addr`, `done` bytes into an operation, into the
/// start of `scratch`, and returns them: a fault there if the user's memory
/// is not mapped, or if `scratch` is shorter (no chunk is: see [`chunk`]).
fn read_chunk<'a, M: Memory>(
    mem: &mut M,
    scratch: &'a mut [u8],
    n: usize,
    addr: u64,
    done: u64,
) -> Result<&'a mut [u8], Cut> {
    let Some(buf) = scratch.get_mut(..n) else {
        return Err(no_room(addr, false, done));
    };
    read_at(mem, addr, done, buf)?;
    Ok(buf)
}

/// Writes `buf` at `addr`, `done` bytes into an operation: a fault there if
/// the user's memory is not mapped, or not writable.
fn write_at<M: Memory>(mem: &mut M, addr: u64, done: u64, buf: &[u8]) -> Result<(), Fault> {
    mem.write(addr, buf).map_err(|NoAccess| Fault {
        addr,
        write: true,
        done,
    })
}

/// Runs a `len`-byte operation chunk by chunk: `step(mem, done)` does the
/// chunk at offset `done` and says how many bytes it did (`Continue`), or
/// that the operation has its answer (`Break`, which this returns).
/// [`Memory::stop`] is asked before each chunk; a step that does nothing
/// ends the operation (no step does: chunks are at least a byte).
fn each_chunk<M: Memory>(
    mem: &mut M,
    len: u64,
    mut step: impl FnMut(&mut M, u64) -> Result<ControlFlow<u64, u64>, Cut>,
) -> Result<Option<u64>, Cut> {
    let mut done = 0u64;
    while done < len {
        if mem.stop() {
            return Err(Cut::Stopped);
        }
        match step(mem, done)? {
            ControlFlow::Break(answer) => return Ok(Some(answer)),
            ControlFlow::Continue(0) => break,
            ControlFlow::Continue(n) => done = done.saturating_add(n),
        }
    }
    Ok(None)
}

/// Returns the length of the next chunk at offset `done` of a `len`-byte
/// operation over buffers at `addrs`: up to the nearest page end of any of
/// them, and at most `max`.
fn chunk(addrs: &[u64], done: u64, len: u64, max: usize) -> usize {
    let mut n = len.saturating_sub(done).min(max as u64);
    for &a in addrs {
        // Where the buffer is now, within its page: the distance to the
        // page's end is at least 1 and at most a page.
        let in_page = a.wrapping_add(done) & (PAGE - 1);
        n = n.min(PAGE.wrapping_sub(in_page));
    }
    // At most `max`, a `usize`.
    usize::try_from(n).unwrap_or(max)
}

/// Executes one descriptor's operation (already validated) and returns its
/// completion record: `None` if [`Memory::stop`] cut it short.
fn run<M: Memory>(desc: &Descriptor, mem: &mut M, scratch: &mut [u8]) -> Option<CompletionRecord> {
    let len = u64::from(desc.size);
    let ok = |completed| CompletionRecord {
        status: COMP_SUCCESS,
        completed,
        ..CompletionRecord::default()
    };
    let done = |r: Result<(), Cut>| match r {
        Ok(()) => Some(ok(0)),
        Err(c) => cut_record(c),
    };
    match desc.opcode {
        OPCODE_NOOP | OPCODE_DRAIN => Some(CompletionRecord::status(COMP_SUCCESS)),
        OPCODE_MEMMOVE => done(copy(mem, scratch, desc.addr1, &[desc.addr2], len, None)),
        OPCODE_DUALCAST => {
            let dest2 = desc.u64_at(40);
            if desc.addr2 % PAGE != dest2 % PAGE {
                return Some(CompletionRecord::status(COMP_DCAST_ERR));
            }
            if overlaps(desc.addr2, dest2, len) {
                return Some(CompletionRecord::status(COMP_OVERLAP_BUFFERS));
            }
            done(copy(
                mem,
                scratch,
                desc.addr1,
                &[desc.addr2, dest2],
                len,
                None,
            ))
        }
        OPCODE_COPY_CRC | OPCODE_CRCGEN => {
            // As hardware (without the bypass flags of later DSA
            // versions): the seed is inverted on the way in and the result
            // on the way out, so seed 0 gives the standard CRC-32C and a
            // result seeds the next part of the same data.
            let mut crc = !desc.u32_at(40);
            let dst: &[u64] = if desc.opcode == OPCODE_COPY_CRC {
                &[desc.addr2]
            } else {
                &[]
            };
            if desc.opcode == OPCODE_COPY_CRC && overlaps(desc.addr1, desc.addr2, len) {
                return Some(CompletionRecord::status(COMP_OVERLAP_BUFFERS));
            }
            match copy(mem, scratch, desc.addr1, dst, len, Some(&mut crc)) {
                Ok(()) => Some(CompletionRecord {
                    op_specific: u64::from(!crc),
                    ..ok(0)
                }),
                Err(c) => cut_record(c),
            }
        }
        OPCODE_MEMFILL => done(fill(mem, scratch, desc.addr1, desc.addr2, len)),
        OPCODE_COMPARE => compare(desc, mem, scratch, Some(desc.addr2)),
        OPCODE_COMPVAL => compare(desc, mem, scratch, None),
        _ => Some(CompletionRecord::status(COMP_BAD_OPCODE)),
    }
}

/// Returns whether `len`-byte buffers at `a` and `b` overlap (a buffer
/// that wraps is taken to end at the top of the address space).
fn overlaps(a: u64, b: u64, len: u64) -> bool {
    a < b.saturating_add(len) && b < a.saturating_add(len)
}

/// Copies `len` bytes from `src` to each of `dsts` (none for CRC only),
/// folding them into `crc` if given. Overlapping source and destination are
/// handled as `memmove()` does: back to front when the destination is
/// after the source.
fn copy<M: Memory>(
    mem: &mut M,
    scratch: &mut [u8],
    src: u64,
    dsts: &[u64],
    len: u64,
    mut crc: Option<&mut u32>,
) -> Result<(), Cut> {
    span(src, len, false)?;
    for &d in dsts {
        span(d, len, true)?;
    }
    if let &[dst] = dsts {
        if dst > src && overlaps(src, dst, len) {
            return copy_backward(mem, scratch, src, dst, len);
        }
    }
    each_chunk(mem, len, |mem, done| {
        // Up to the nearest page end of the source and the destinations.
        let n = chunk(&[src], done, len, scratch.len()).min(chunk(dsts, done, len, scratch.len()));
        let from = at(src, done, false)?;
        if let (None, &[d]) = (crc.as_deref(), dsts) {
            if mem.copy(from, at(d, done, true)?, n, len.saturating_sub(done)) {
                return Ok(ControlFlow::Continue(n as u64));
            }
        }
        let buf = read_chunk(mem, scratch, n, from, done)?;
        if let Some(crc) = crc.as_deref_mut() {
            *crc = super::crc32c::crc32c(*crc, buf);
        }
        for &d in dsts {
            write_at(mem, at(d, done, true)?, done, buf)?;
        }
        Ok(ControlFlow::Continue(n as u64))
    })
    .map(|_| ())
}

/// Copies `len` bytes from `src` to the overlapping `dst` above it, from
/// the end: chunks end at page boundaries of both buffers. Both buffers
/// passed [`span`].
fn copy_backward<M: Memory>(
    mem: &mut M,
    scratch: &mut [u8],
    src: u64,
    dst: u64,
    len: u64,
) -> Result<(), Cut> {
    each_chunk(mem, len, |mem, done| {
        let left = len.saturating_sub(done);
        // The ends of what is left: exclusive, at most the top of the
        // address space plus one, so computed as the last byte.
        let last_s = at(src, left.saturating_sub(1), false)?;
        let last_d = at(dst, left.saturating_sub(1), true)?;
        // Back to the start of the last byte's page, at most.
        let n = left
            .min(scratch.len() as u64)
            .min((last_s & (PAGE - 1)).saturating_add(1))
            .min((last_d & (PAGE - 1)).saturating_add(1));
        // `n - 1 <= last_s - src` and the same for `dst`.
        let from = last_s.saturating_sub(n.saturating_sub(1));
        let to = last_d.saturating_sub(n.saturating_sub(1));
        let size = usize::try_from(n).unwrap_or(usize::MAX);
        if mem.copy(from, to, size, n) {
            return Ok(ControlFlow::Continue(n));
        }
        let buf = read_chunk(
            mem,
            scratch,
            usize::try_from(n).unwrap_or(usize::MAX),
            from,
            done,
        )?;
        write_at(mem, to, done, buf)?;
        Ok(ControlFlow::Continue(n))
    })
    .map(|_| ())
}

/// Fills `len` bytes at `dst` with the 8-byte `pattern`, repeated.
fn fill<M: Memory>(
    mem: &mut M,
    scratch: &mut [u8],
    pattern: u64,
    dst: u64,
    len: u64,
) -> Result<(), Cut> {
    span(dst, len, true)?;
    let pattern = pattern.to_le_bytes();
    each_chunk(mem, len, |mem, done| {
        let n = chunk(&[dst], done, len, scratch.len());
        let to = at(dst, done, true)?;
        let Some(buf) = scratch.get_mut(..n) else {
            return Err(no_room(to, true, done));
        };
        // The pattern repeats every 8 bytes of the buffer.
        let phase = (done & 7) as usize;
        for (b, p) in buf.iter_mut().zip(pattern.iter().cycle().skip(phase)) {
            *b = *p;
        }
        write_at(mem, to, done, buf)?;
        Ok(ControlFlow::Continue(n as u64))
    })
    .map(|_| ())
}

/// COMPARE (`src2` given) or COMPVAL (against the 8-byte pattern in
/// `addr2`): `result` 0 if equal, 1 if not, with `bytes_completed` the
/// offset of the first difference. `None` if [`Memory::stop`] cut it short.
fn compare<M: Memory>(
    desc: &Descriptor,
    mem: &mut M,
    scratch: &mut [u8],
    src2: Option<u64>,
) -> Option<CompletionRecord> {
    match compare_bytes(desc, mem, scratch, src2) {
        Ok(differs_at) => {
            let result = u8::from(differs_at.is_some());
            let mut cr = CompletionRecord {
                status: COMP_SUCCESS,
                result,
                // An offset into the transfer, a `u32`.
                completed: differs_at.map_or(0, |d| u32::try_from(d).unwrap_or(u32::MAX)),
                ..CompletionRecord::default()
            };
            if desc.has(OP_FLAG_CR) && result != desc.raw[40] {
                cr.status = COMP_SUCCESS_PRED;
            }
            Some(cr)
        }
        Err(c) => cut_record(c),
    }
}

/// The comparison of [`compare`]: the offset of the first difference, if
/// any.
fn compare_bytes<M: Memory>(
    desc: &Descriptor,
    mem: &mut M,
    scratch: &mut [u8],
    src2: Option<u64>,
) -> Result<Option<u64>, Cut> {
    let len = u64::from(desc.size);
    let src1 = desc.addr1;
    span(src1, len, false)?;
    if let Some(src2) = src2 {
        span(src2, len, false)?;
    }
    let pattern = desc.addr2.to_le_bytes();
    let half = scratch.len() / 2;
    let (a, b) = scratch.split_at_mut(half);
    let addrs = [src1, src2.unwrap_or(src1)];
    each_chunk(mem, len, |mem, done| {
        let n = chunk(&addrs, done, len, half);
        let a = read_chunk(mem, a, n, at(src1, done, false)?, done)?;
        let first = match src2 {
            Some(src2) => {
                let b = read_chunk(mem, b, n, at(src2, done, false)?, done)?;
                a.iter().zip(b.iter()).position(|(x, y)| x != y)
            }
            None => {
                let phase = (done & 7) as usize;
                a.iter()
                    .zip(pattern.iter().cycle().skip(phase))
                    .position(|(x, p)| x != p)
            }
        };
        Ok(match first {
            Some(i) => ControlFlow::Break(done.saturating_add(i as u64)),
            None => ControlFlow::Continue(n as u64),
        })
    })
}

/// Checks what can be checked before touching memory. Returns the record
/// of the failure, if any.
fn validate(desc: &Descriptor, limits: &WqLimits, in_batch: bool) -> Option<CompletionRecord> {
    let op = desc.opcode as usize;
    let allowed_op = SUPPORTED_OPCODES.contains(&desc.opcode)
        && limits
            .op_config
            .get(op / 64)
            .is_some_and(|bits| bits & (1 << (op % 64)) != 0)
        && !(in_batch && matches!(desc.opcode, OPCODE_BATCH | OPCODE_DRAIN));
    if !allowed_op {
        return Some(CompletionRecord::status(COMP_BAD_OPCODE));
    }
    let invalid = desc.flags & !allowed_flags(desc.opcode, in_batch);
    if invalid != 0 {
        return Some(CompletionRecord {
            status: COMP_INVALID_FLAGS,
            op_specific: u64::from(invalid),
            ..CompletionRecord::default()
        });
    }
    if !reserved_zero(desc) {
        return Some(CompletionRecord::status(COMP_NOZERO_RESERVE));
    }
    if desc.has(OP_FLAG_RCI) && desc.int_handle >= limits.vectors {
        return Some(CompletionRecord::status(COMP_INT_HANDLE_INVAL));
    }
    match desc.opcode {
        OPCODE_NOOP | OPCODE_DRAIN => None,
        OPCODE_BATCH => {
            if desc.size < 2 || desc.size > limits.max_batch {
                Some(CompletionRecord::status(COMP_DESC_CNT_ERANGE))
            } else if desc.addr1 & DESC_ALIGN_MASK != 0 {
                Some(CompletionRecord::status(COMP_DESCLIST_ALIGN))
            } else {
                None
            }
        }
        _ if desc.size == 0 || u64::from(desc.size) > limits.max_xfer => {
            Some(CompletionRecord::status(COMP_XFER_ERANGE))
        }
        _ => None,
    }
}

/// Executes the descriptors of a batch; returns the batch's record.
fn run_batch<M: Memory>(
    batch: &Descriptor,
    limits: &WqLimits,
    mem: &mut M,
    scratch: &mut [u8],
    out: &mut Outcome,
) -> CompletionRecord {
    let list_fault = |at, succeeded| CompletionRecord {
        status: COMP_BATCH_PAGE_FAULT,
        completed: succeeded,
        fault_addr: at,
        ..CompletionRecord::default()
    };
    // The list, `size` 64-byte descriptors (at most `max_batch`), must lie
    // below the top of the address space.
    let list_len = u64::from(batch.size).saturating_mul(DESC_SIZE as u64);
    if span(batch.addr1, list_len, false).is_err() {
        return list_fault(batch.addr1, 0);
    }
    // With a scratch buffer of [`SCRATCH_BATCH`], the list is read a page
    // at a time into its last page (the members run in the rest). The list
    // is 64-byte aligned, so no member straddles a page: a page that
    // cannot be read faults at its first member, as reading member by
    // member does. Like DSA, which fetches descriptors ahead, the engine
    // does not see a member that an earlier one rewrote in the same page.
    let room = scratch.len().saturating_sub(SCRATCH_MIN).min(PAGE as usize);
    let (scratch, list) = match scratch.split_at_mut_checked(scratch.len().saturating_sub(room)) {
        Some(parts) => parts,
        None => (scratch, &mut [][..]),
    };
    // The list bytes read so far, from `list_at` on.
    let mut list_at = batch.addr1;
    let mut list_len = 0usize;
    let mut succeeded = 0u32;
    let mut failed = false;
    for i in 0..batch.size {
        if mem.stop() {
            out.aborted = true;
            failed = true;
            break;
        }
        let Some(at) = batch
            .addr1
            .checked_add(u64::from(i).saturating_mul(DESC_SIZE as u64))
        else {
            return list_fault(batch.addr1, succeeded);
        };
        let offset = usize::try_from(at.saturating_sub(list_at)).unwrap_or(usize::MAX);
        let mut buffered = list
            .get(..list_len)
            .and_then(|l| l.get(offset..)?.first_chunk::<DESC_SIZE>())
            .copied();
        if buffered.is_none() {
            // The rest of this page of the list, as far as the list goes.
            let left = u64::from(batch.size.saturating_sub(i)).saturating_mul(DESC_SIZE as u64);
            let n = PAGE.saturating_sub(at & (PAGE - 1)).min(left);
            let n = usize::try_from(n).unwrap_or(0).min(list.len());
            if let Some(chunk) = list.get_mut(..n).filter(|_| n >= DESC_SIZE) {
                if mem.read(at, chunk).is_err() {
                    return list_fault(at, succeeded);
                }
                (list_at, list_len) = (at, n);
                buffered = chunk.first_chunk::<DESC_SIZE>().copied();
            }
        }
        // Without room for the list: one read per member.
        let raw = match buffered {
            Some(raw) => raw,
            None => {
                let mut raw = [0u8; DESC_SIZE];
                if mem.read(at, &mut raw).is_err() {
                    return list_fault(at, succeeded);
                }
                raw
            }
        };
        let desc = Descriptor::parse(&raw);
        if failed && desc.has(OP_FLAG_FENCE) {
            // Everything from a fence on is abandoned after a failure.
            break;
        }
        // At most `max_batch` (1024) members: the index fits.
        let idx = u16::try_from(i).unwrap_or(u16::MAX);
        match process(&desc, limits, mem, scratch, out, Some(idx)) {
            Some(COMP_SUCCESS) => succeeded = succeeded.saturating_add(1),
            Some(_) => failed = true,
            None => {
                // Stopped in the middle of this member.
                failed = true;
                break;
            }
        }
    }
    CompletionRecord {
        status: if failed {
            COMP_BATCH_FAIL
        } else {
            COMP_SUCCESS
        },
        completed: succeeded,
        ..CompletionRecord::default()
    }
}

/// Validates and executes `desc`, writes its completion record and records
/// its interrupt and software error. Returns its status, or `None` if
/// [`Memory::stop`] cut it short (no record, no interrupt; the outcome says
/// it was aborted).
fn process<M: Memory>(
    desc: &Descriptor,
    limits: &WqLimits,
    mem: &mut M,
    scratch: &mut [u8],
    out: &mut Outcome,
    batch_idx: Option<u16>,
) -> Option<u8> {
    let cr = match validate(desc, limits, batch_idx.is_some()) {
        Some(cr) => cr,
        None if desc.opcode == OPCODE_BATCH => run_batch(desc, limits, mem, scratch, out),
        None => match run(desc, mem, scratch) {
            Some(cr) => cr,
            None => {
                out.aborted = true;
                return None;
            }
        },
    };
    let sw = |error, fault_addr, fault_write| SwError {
        error,
        operation: desc.opcode,
        batch: batch_idx.is_some(),
        batch_idx: batch_idx.unwrap_or(0),
        fault_addr,
        fault_write,
        invalid_flags: if cr.status == COMP_INVALID_FLAGS {
            // The invalid flags, a `u32` widened.
            u32::try_from(cr.op_specific).unwrap_or(u32::MAX)
        } else {
            0
        },
    };
    let success = cr.status == COMP_SUCCESS;
    let mut record_lost = false;
    if desc.has(OP_FLAG_CRAV) {
        if desc.has(OP_FLAG_RCR) || !success {
            let addr = desc.completion_addr;
            if addr & (CR_ALIGN - 1) != 0 {
                out.sw_error(sw(COMP_CRA_ALIGN, addr, true));
                record_lost = true;
            } else {
                // The status byte goes last: software polls it. An aligned
                // address is at most 2^64 - 32: the record fits below the
                // top.
                let bytes = cr.to_bytes();
                let written = addr
                    .checked_add(1)
                    .is_some_and(|rest| mem.write(rest, &bytes[1..]).is_ok())
                    && mem.write(addr, &bytes[..1]).is_ok();
                if !written {
                    out.sw_error(sw(COMP_CRA_XLAT, addr, true));
                    record_lost = true;
                }
            }
        }
    } else if !success {
        out.sw_error(sw(cr.status, cr.fault_addr, cr.fault_info & 1 != 0));
    }
    // The completion interrupt follows the completion, unless the record
    // that should have come with it was lost (the software error reports
    // that instead).
    if desc.has(OP_FLAG_RCI) && desc.int_handle < limits.vectors && !record_lost {
        out.vectors |= 1 << (desc.int_handle % 64);
    }
    Some(cr.status)
}

/// Submits one descriptor to a WQ with `limits`.
///
/// `scratch` is a bounce buffer of at least [`SCRATCH_MIN`] bytes; bigger
/// ones mean fewer, larger memory accesses.
pub fn submit<M: Memory>(
    desc: &Descriptor,
    limits: &WqLimits,
    mem: &mut M,
    scratch: &mut [u8],
) -> Outcome {
    let mut out = Outcome::default();
    if scratch.len() >= SCRATCH_MIN {
        process(desc, limits, mem, scratch, &mut out, None);
    }
    out
}

/// A memory for tests: a flat byte array at `base`, with holes (unmapped)
/// and read-only ranges; every access is checked against them.
#[cfg(test)]
pub(crate) mod testmem {
    use super::{
        Memory,
        NoAccess, //
    };
    use core::ops::Range;
    use std::vec::Vec;

    pub(crate) struct TestMem {
        pub base: u64,
        pub bytes: Vec<u8>,
        pub holes: Vec<Range<u64>>,
        pub readonly: Vec<Range<u64>>,
        pub accesses: usize,
        /// Whether [`Memory::copy`] copies directly (else it never does).
        pub direct: bool,
        /// How many direct copies were made.
        pub copies: usize,
    }

    impl TestMem {
        pub(crate) fn new(base: u64, len: usize) -> Self {
            Self {
                base,
                bytes: (0..len as u64)
                    .map(|i| (i.wrapping_mul(0x9e37_79b9) >> 11) as u8)
                    .collect(),
                holes: Vec::new(),
                readonly: Vec::new(),
                accesses: 0,
                direct: false,
                copies: 0,
            }
        }

        fn range(&self, iova: u64, len: usize) -> Option<Range<usize>> {
            let start = iova.checked_sub(self.base)? as usize;
            let end = start.checked_add(len)?;
            let r = iova..iova.checked_add(len as u64)?;
            let hit = |h: &Range<u64>| h.start < r.end && r.start < h.end;
            (end <= self.bytes.len() && !self.holes.iter().any(hit)).then_some(start..end)
        }

        pub(crate) fn at(&self, iova: u64, len: usize) -> &[u8] {
            let start = (iova - self.base) as usize;
            &self.bytes[start..start + len]
        }

        pub(crate) fn put(&mut self, iova: u64, data: &[u8]) {
            let start = (iova - self.base) as usize;
            self.bytes[start..start + data.len()].copy_from_slice(data);
        }
    }

    impl Memory for TestMem {
        fn read(&mut self, iova: u64, buf: &mut [u8]) -> Result<(), NoAccess> {
            self.accesses += 1;
            assert!(
                buf.len() as u64 <= super::PAGE
                    && iova % super::PAGE + buf.len() as u64 <= super::PAGE,
                "access crosses a page"
            );
            let r = self.range(iova, buf.len()).ok_or(NoAccess)?;
            buf.copy_from_slice(&self.bytes[r]);
            Ok(())
        }

        fn write(&mut self, iova: u64, buf: &[u8]) -> Result<(), NoAccess> {
            self.accesses += 1;
            assert!(
                buf.len() as u64 <= super::PAGE
                    && iova % super::PAGE + buf.len() as u64 <= super::PAGE,
                "access crosses a page"
            );
            let r = self.range(iova, buf.len()).ok_or(NoAccess)?;
            let w = iova..iova + buf.len() as u64;
            if self
                .readonly
                .iter()
                .any(|h| h.start < w.end && w.start < h.end)
            {
                return Err(NoAccess);
            }
            self.bytes[r].copy_from_slice(buf);
            Ok(())
        }

        fn copy(&mut self, src: u64, dst: u64, n: usize, ahead: u64) -> bool {
            if !self.direct {
                return false;
            }
            assert!(ahead >= n as u64, "the hint does not cover the chunk");
            for a in [src, dst] {
                assert!(
                    n as u64 <= super::PAGE && a % super::PAGE + n as u64 <= super::PAGE,
                    "copy crosses a page"
                );
            }
            let w = dst..dst + n as u64;
            let (Some(from), Some(to)) = (self.range(src, n), self.range(dst, n)) else {
                return false;
            };
            if self
                .readonly
                .iter()
                .any(|h| h.start < w.end && w.start < h.end)
            {
                return false;
            }
            self.copies += 1;
            self.bytes.copy_within(from, to.start);
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{
        crc32c::crc32c,
        desc::CR_SIZE, //
    };
    use super::testmem::TestMem;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    const BASE: u64 = 0x10_0000;
    const CR: u64 = BASE;
    const SRC: u64 = BASE + 0x1000;
    const DST: u64 = BASE + 0x10000;

    fn limits() -> WqLimits {
        WqLimits {
            max_xfer: 1 << 20,
            max_batch: 32,
            op_config: opcap(),
            vectors: 4,
        }
    }

    fn mem() -> TestMem {
        TestMem::new(BASE, 0x40000)
    }

    fn go(mem: &mut TestMem, raw: [u8; 64]) -> (CompletionRecord, Outcome) {
        // As the driver's: batch lists are read a page at a time.
        let mut scratch = vec![0u8; SCRATCH_BATCH];
        mem.put(CR, &[0; CR_SIZE]);
        let out = submit(&Descriptor::parse(&raw), &limits(), mem, &mut scratch);
        (
            CompletionRecord::from_bytes(mem.at(CR, CR_SIZE).try_into().unwrap()),
            out,
        )
    }

    const F: u32 = OP_FLAG_CRAV | OP_FLAG_RCR;

    fn desc(op: u8, flags: u32, a1: u64, a2: u64, size: u32) -> [u8; 64] {
        Descriptor::encode(op, flags, CR, a1, a2, size, 0)
    }

    #[test]
    fn memmove_copies_across_pages() {
        let mut m = mem();
        let (cr, out) = go(&mut m, desc(OPCODE_MEMMOVE, F, SRC + 100, DST + 7, 10_000));
        assert_eq!(cr.status, COMP_SUCCESS);
        assert_eq!(out, Outcome::default());
        assert_eq!(m.at(DST + 7, 10_000), m.at(SRC + 100, 10_000));
    }

    #[test]
    fn memmove_handles_overlap_both_ways() {
        for (src, dst) in [(SRC, SRC + 5000), (SRC + 5000, SRC)] {
            let mut m = mem();
            let expect = m.at(src, 9000).to_vec();
            let (cr, _) = go(&mut m, desc(OPCODE_MEMMOVE, F, src, dst, 9000));
            assert_eq!(cr.status, COMP_SUCCESS);
            assert_eq!(m.at(dst, 9000), expect.as_slice(), "{src:#x} -> {dst:#x}");
        }
    }

    #[test]
    fn direct_copies_match_the_bounce_buffer() {
        type Setup = fn(&mut TestMem);
        let none: Setup = |_| {};
        let src_hole: Setup = |m| m.holes.push(SRC + 0x2000..SRC + 0x3000);
        let dst_hole: Setup = |m| m.holes.push(DST + 0x1000..DST + 0x2000);
        let dst_ro: Setup = |m| m.readonly.push(DST + 0x1000..DST + 0x2000);
        let cases = [
            (SRC + 100, DST + 7, 10_000, none),
            (SRC, SRC + 5000, 9000, none),
            (SRC + 5000, SRC, 9000, none),
            (SRC + 10, SRC + 20, 5000, none),
            (SRC + 20, SRC + 10, 5000, none),
            (SRC + 0x800, DST, 0x3000, src_hole),
            (SRC + 0x800, DST + 0x10, 0x3000, dst_hole),
            (SRC, DST + 0x10, 0x2000, dst_ro),
            (SRC, DST + 0x1800, 0x2000, src_hole),
        ];
        for (src, dst, len, setup) in cases {
            let results: Vec<_> = [false, true]
                .into_iter()
                .map(|direct| {
                    let mut m = mem();
                    setup(&mut m);
                    m.direct = direct;
                    let (cr, out) = go(&mut m, desc(OPCODE_MEMMOVE, F, src, dst, len));
                    (cr, out, m.bytes, m.copies)
                })
                .collect();
            let (a, b) = (&results[0], &results[1]);
            assert_eq!((a.0, a.1), (b.0, b.1), "{src:#x} -> {dst:#x}");
            assert!(a.2 == b.2, "{src:#x} -> {dst:#x}: memory differs");
            assert!(b.3 > 0, "{src:#x} -> {dst:#x}: no direct copy");
        }
    }

    #[test]
    fn faults_report_address_direction_and_progress() {
        let mut m = mem();
        m.holes.push(SRC + 0x2000..SRC + 0x3000);
        let (cr, out) = go(&mut m, desc(OPCODE_MEMMOVE, F, SRC + 0x800, DST, 0x3000));
        assert_eq!(cr.status, COMP_PAGE_FAULT_NOBOF);
        assert_eq!(
            (cr.fault_addr, cr.fault_info, cr.completed),
            (SRC + 0x2000, 0, 0x1800)
        );
        assert_eq!(out.sw_error, None);

        let mut m = mem();
        m.readonly.push(DST + 0x1000..DST + 0x2000);
        let (cr, _) = go(&mut m, desc(OPCODE_MEMFILL, F, 0x1122, DST + 0x10, 0x2000));
        assert_eq!(cr.status, COMP_PAGE_FAULT_NOBOF);
        assert_eq!(
            (cr.fault_addr, cr.fault_info, cr.completed),
            (DST + 0x1000, 1, 0xff0)
        );
    }

    #[test]
    fn memfill_repeats_the_pattern() {
        let mut m = mem();
        let (cr, _) = go(
            &mut m,
            desc(OPCODE_MEMFILL, F, 0x0807_0605_0403_0201, DST + 3, 13),
        );
        assert_eq!(cr.status, COMP_SUCCESS);
        assert_eq!(m.at(DST + 3, 13), [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn compare_and_compval() {
        let mut m = mem();
        let data: Vec<u8> = (0..6000).map(|i| i as u8).collect();
        m.put(SRC, &data);
        m.put(DST, &data);
        let (cr, _) = go(&mut m, desc(OPCODE_COMPARE, F, SRC, DST, 6000));
        assert_eq!((cr.status, cr.result), (COMP_SUCCESS, 0));
        m.put(DST + 4500, &[0xee]);
        let (cr, _) = go(&mut m, desc(OPCODE_COMPARE, F, SRC, DST, 6000));
        assert_eq!(
            (cr.status, cr.result, cr.completed),
            (COMP_SUCCESS, 1, 4500)
        );
        // Check result: expected 0, got 1.
        let (cr, _) = go(&mut m, desc(OPCODE_COMPARE, F | OP_FLAG_CR, SRC, DST, 6000));
        assert_eq!((cr.status, cr.result), (COMP_SUCCESS_PRED, 1));

        m.put(SRC, &[0xab; 100]);
        let (cr, _) = go(
            &mut m,
            desc(OPCODE_COMPVAL, F, SRC, 0xabab_abab_abab_abab, 100),
        );
        assert_eq!((cr.status, cr.result), (COMP_SUCCESS, 0));
        let (cr, _) = go(
            &mut m,
            desc(OPCODE_COMPVAL, F, SRC, 0xabab_abab_abab_abab, 101),
        );
        assert_eq!((cr.status, cr.result, cr.completed), (COMP_SUCCESS, 1, 100));
    }

    #[test]
    fn dualcast_needs_matching_low_bits() {
        let mut m = mem();
        let mut d = desc(OPCODE_DUALCAST, F, SRC, DST + 0x10, 300);
        d[40..48].copy_from_slice(&(DST + 0x5010).to_le_bytes());
        let (cr, _) = go(&mut m, d);
        assert_eq!(cr.status, COMP_SUCCESS);
        assert_eq!(m.at(DST + 0x10, 300), m.at(SRC, 300));
        assert_eq!(m.at(DST + 0x5010, 300), m.at(SRC, 300));
        d[40..48].copy_from_slice(&(DST + 0x5020).to_le_bytes());
        assert_eq!(go(&mut m, d).0.status, COMP_DCAST_ERR);
    }

    #[test]
    fn crc_is_crc32c() {
        assert_eq!(crc32c(!0, b"123456789") ^ !0, 0xe306_9283);
        let mut m = mem();
        m.put(SRC, b"123456789");
        // Seed 0: the standard CRC-32C.
        let d = desc(OPCODE_CRCGEN, F, SRC, 0, 9);
        let (cr, _) = go(&mut m, d);
        assert_eq!(cr.status, COMP_SUCCESS);
        assert_eq!(cr.op_specific as u32, 0xe306_9283);
        let d = desc(OPCODE_COPY_CRC, F, SRC, DST, 9);
        let (cr, _) = go(&mut m, d);
        assert_eq!(cr.op_specific as u32, 0xe306_9283);
        assert_eq!(m.at(DST, 9), b"123456789");
        // A result seeds the rest of the data.
        let (first, _) = go(&mut m, desc(OPCODE_CRCGEN, F, SRC, 0, 4));
        let mut d = desc(OPCODE_CRCGEN, F, SRC + 4, 0, 5);
        d[40..44].copy_from_slice(&(first.op_specific as u32).to_le_bytes());
        assert_eq!(go(&mut m, d).0.op_specific as u32, 0xe306_9283);
    }

    #[test]
    fn validation_errors() {
        let mut m = mem();
        let cases: [([u8; 64], u8); 8] = [
            (desc(0x07, F, 0, 0, 0), COMP_BAD_OPCODE),
            (desc(0xff, F, 0, 0, 0), COMP_BAD_OPCODE),
            (
                desc(OPCODE_MEMMOVE, F | 0x01_0000, SRC, DST, 8),
                COMP_INVALID_FLAGS,
            ),
            (
                desc(OPCODE_MEMMOVE, F | OP_FLAG_FENCE, SRC, DST, 8),
                COMP_INVALID_FLAGS,
            ),
            (desc(OPCODE_MEMMOVE, F, SRC, DST, 0), COMP_XFER_ERANGE),
            (
                desc(OPCODE_MEMMOVE, F, SRC, DST, (1 << 20) + 1),
                COMP_XFER_ERANGE,
            ),
            (desc(OPCODE_NOOP, F, SRC, 0, 0), COMP_NOZERO_RESERVE),
            (
                Descriptor::encode(OPCODE_NOOP, F | OP_FLAG_RCI, CR, 0, 0, 0, 4),
                COMP_INT_HANDLE_INVAL,
            ),
        ];
        for (raw, status) in cases {
            let (cr, out) = go(&mut m, raw);
            assert_eq!(cr.status, status, "{:?}", Descriptor::parse(&raw));
            assert_eq!(out.vectors, 0);
        }
        let (cr, _) = go(&mut m, desc(OPCODE_MEMMOVE, F | 0x41_0000, SRC, DST, 8));
        assert_eq!(cr.op_specific, 0x41_0000, "invalid flags reported");
        // An opcode the WQ's op_config leaves out.
        let mut l = limits();
        l.op_config[0] &= !(1 << OPCODE_MEMFILL);
        let mut scratch = vec![0u8; SCRATCH_MIN];
        submit(
            &Descriptor::parse(&desc(OPCODE_MEMFILL, F, 1, DST, 8)),
            &l,
            &mut m,
            &mut scratch,
        );
        assert_eq!(m.at(CR, 1)[0], COMP_BAD_OPCODE);
    }

    #[test]
    fn completion_records_and_interrupts() {
        // Success without RCR writes nothing; with RCI it still interrupts.
        let mut m = mem();
        let raw = Descriptor::encode(OPCODE_NOOP, OP_FLAG_CRAV | OP_FLAG_RCI, CR, 0, 0, 0, 3);
        let (cr, out) = go(&mut m, raw);
        assert_eq!(cr.status, COMP_NONE);
        assert_eq!(out.vectors, 1 << 3);
        // A failure without CRAV goes to SWERR.
        let (_, out) = go(&mut m, Descriptor::encode(0x3f, 0, 0, 0, 0, 0, 0));
        assert_eq!(
            out.sw_error.map(|e| (e.error, e.operation)),
            Some((COMP_BAD_OPCODE, 0x3f))
        );
        // A misaligned or unmapped record goes to SWERR too, without the
        // interrupt.
        let raw = Descriptor::encode(OPCODE_NOOP, F | OP_FLAG_RCI, CR + 8, 0, 0, 0, 1);
        let (_, out) = go(&mut m, raw);
        assert_eq!(
            out.sw_error.map(|e| (e.error, e.fault_addr)),
            Some((COMP_CRA_ALIGN, CR + 8))
        );
        assert_eq!(out.vectors, 0);
        let raw = Descriptor::encode(OPCODE_NOOP, F, 0x1000, 0, 0, 0, 0);
        let (_, out) = go(&mut m, raw);
        assert_eq!(out.sw_error.map(|e| e.error), Some(COMP_CRA_XLAT));
    }

    #[test]
    fn buffers_that_wrap_past_the_top_fault_at_their_start() {
        const TOP: u64 = 0xffff_ffff_ffff_f000;
        let fault = |cr: &CompletionRecord| (cr.status, cr.fault_addr, cr.fault_info, cr.completed);
        // The reproducer of the kernel BUG: unmapped, and the destination
        // wraps. The backward (overlapping) path used to overflow first.
        let mut m = mem();
        let (cr, out) = go(&mut m, desc(OPCODE_MEMMOVE, F, TOP, TOP + 0x40, 0x1000));
        assert_eq!(fault(&cr), (COMP_PAGE_FAULT_NOBOF, TOP + 0x40, 1, 0));
        assert_eq!(out.sw_error, None);
        // The same without a completion record: SWERR carries the fault.
        let (_, out) = go(&mut m, desc(OPCODE_MEMMOVE, 0, TOP, TOP + 0x40, 0x1000));
        let e = out.sw_error.unwrap();
        assert_eq!(
            (e.error, e.fault_addr, e.fault_write),
            (COMP_PAGE_FAULT_NOBOF, TOP + 0x40, true)
        );
        // A source that wraps; one that ends exactly at the top does not
        // wrap (it faults at its first byte, unmapped here).
        let (cr, _) = go(&mut m, desc(OPCODE_MEMMOVE, F, u64::MAX, DST, 2));
        assert_eq!(fault(&cr), (COMP_PAGE_FAULT_NOBOF, u64::MAX, 0, 0));
        let (cr, _) = go(&mut m, desc(OPCODE_MEMMOVE, F, TOP, DST, 0x1000));
        assert_eq!(fault(&cr), (COMP_PAGE_FAULT_NOBOF, TOP, 0, 0));
        // Every other operation that addresses memory.
        let mut dual = desc(OPCODE_DUALCAST, F, SRC, DST, 0x2000);
        dual[40..48].copy_from_slice(&TOP.to_le_bytes());
        let mut cases = vec![
            (desc(OPCODE_MEMFILL, F, 0x55, TOP + 8, 0x1000), TOP + 8, 1),
            (desc(OPCODE_COMPARE, F, SRC, TOP + 1, 0x1000), TOP + 1, 0),
            (desc(OPCODE_COMPARE, F, TOP + 1, SRC, 0x1000), TOP + 1, 0),
            (desc(OPCODE_COMPVAL, F, TOP + 9, 0, 0x1000), TOP + 9, 0),
            (desc(OPCODE_CRCGEN, F, TOP + 2, 0, 0x1000), TOP + 2, 0),
            (desc(OPCODE_COPY_CRC, F, SRC, TOP + 3, 0x1000), TOP + 3, 1),
            (dual, TOP, 1),
        ];
        for (raw, addr, write) in cases.drain(..) {
            let accesses = m.accesses;
            let (cr, _) = go(&mut m, raw);
            assert_eq!(
                fault(&cr),
                (COMP_PAGE_FAULT_NOBOF, addr, write, 0),
                "{:?}",
                Descriptor::parse(&raw)
            );
            // Only the record was written (status last: two writes).
            assert_eq!(m.accesses, accesses + 2);
        }
        // A batch list that wraps, and one whose last member is at the top.
        let (cr, _) = go(&mut m, desc(OPCODE_BATCH, F, u64::MAX - 63, 0, 2));
        assert_eq!(
            (cr.status, cr.fault_addr, cr.completed),
            (COMP_BATCH_PAGE_FAULT, u64::MAX - 63, 0)
        );
        let (cr, _) = go(&mut m, desc(OPCODE_BATCH, F, u64::MAX - 127, 0, 2));
        assert_eq!(
            (cr.status, cr.fault_addr),
            (COMP_BATCH_PAGE_FAULT, u64::MAX - 127)
        );
        // A record at the very top: it does not translate.
        let raw = Descriptor::encode(OPCODE_NOOP, F, u64::MAX - 31, 0, 0, 0, 0);
        let (_, out) = go(&mut m, raw);
        assert_eq!(
            out.sw_error.map(|e| (e.error, e.fault_addr)),
            Some((COMP_CRA_XLAT, u64::MAX - 31))
        );
    }

    /// A memory that asks the engine to stop after `after` accesses.
    struct Stopping {
        mem: TestMem,
        after: usize,
    }

    impl Memory for Stopping {
        fn read(&mut self, iova: u64, buf: &mut [u8]) -> Result<(), NoAccess> {
            self.mem.read(iova, buf)
        }
        fn write(&mut self, iova: u64, buf: &[u8]) -> Result<(), NoAccess> {
            self.mem.write(iova, buf)
        }
        fn stop(&mut self) -> bool {
            self.mem.accesses >= self.after
        }
    }

    #[test]
    fn a_stop_abandons_the_rest_and_fails_the_batch() {
        const LIST: u64 = BASE + 0x20000;
        let sub_cr = |i: u64| BASE + 0x100 + 32 * i;
        let sub = |i: u64| {
            Descriptor::encode(
                OPCODE_MEMMOVE,
                F | OP_FLAG_RCI,
                sub_cr(i),
                SRC + 0x2000 * i,
                DST + 0x2000 * i,
                0x2000,
                1,
            )
        };
        let mut m = Stopping {
            mem: mem(),
            after: usize::MAX,
        };
        batch_list(&mut m.mem, LIST, &[sub(0), sub(1), sub(2)]);
        for i in 0..3 {
            m.mem.put(sub_cr(i), &[0; CR_SIZE]);
        }
        // The whole batch runs without a stop.
        let mut probe = Stopping {
            mem: mem(),
            after: usize::MAX,
        };
        batch_list(&mut probe.mem, LIST, &[sub(0), sub(1), sub(2)]);
        let mut scratch = vec![0u8; SCRATCH_MIN];
        let batch = Descriptor::parse(&desc(OPCODE_BATCH, F, LIST, 0, 3));
        let full = submit(&batch, &limits(), &mut probe, &mut scratch);
        assert!(!full.aborted);
        // Member 0: list read, 2 chunks of read+write, 2 record writes.
        m.after = 1 + 4 + 2 + 1 + 2;
        let out = submit(&batch, &limits(), &mut m, &mut scratch);
        assert!(out.aborted);
        let cr = CompletionRecord::from_bytes(m.mem.at(CR, CR_SIZE).try_into().unwrap());
        assert_eq!((cr.status, cr.completed), (COMP_BATCH_FAIL, 1));
        assert_eq!(m.mem.at(sub_cr(0), 1)[0], COMP_SUCCESS);
        assert_eq!(
            m.mem.at(sub_cr(1), 1)[0],
            0,
            "the stopped member has no record"
        );
        assert_eq!(m.mem.at(sub_cr(2), 1)[0], 0, "the rest did not run");
        assert_ne!(
            m.mem.at(DST + 0x4000, 0x2000),
            m.mem.at(SRC + 0x4000, 0x2000)
        );
        // Only member 0's interrupt.
        assert_eq!(out.vectors, 1 << 1);
        // A single descriptor stopped: no record, no interrupt.
        let mut m = Stopping {
            mem: mem(),
            after: 1,
        };
        m.mem.put(CR, &[0; CR_SIZE]);
        let raw = Descriptor::encode(OPCODE_MEMMOVE, F | OP_FLAG_RCI, CR, SRC, DST, 0x3000, 1);
        let out = submit(&Descriptor::parse(&raw), &limits(), &mut m, &mut scratch);
        assert!(out.aborted);
        assert_eq!((out.vectors, out.sw_error), (0, None));
        assert_eq!(m.mem.at(CR, 1)[0], 0);
    }

    fn batch_list(m: &mut TestMem, at: u64, descs: &[[u8; 64]]) {
        for (i, d) in descs.iter().enumerate() {
            m.put(at + 64 * i as u64, d);
        }
    }

    #[test]
    fn a_list_read_a_page_at_a_time_runs_and_faults_as_one_read_per_member() {
        // Five members from three before a page's end, the next page a
        // hole or not; each run with a scratch buffer that reads the list
        // member by member and with ones that read it a page at a time:
        // the same records, the same bytes copied (and, with the hole, the
        // same untouched).
        const LIST: u64 = BASE + 0x21000 - 3 * 64;
        let sub_cr = |i: u64| BASE + 0x100 + 32 * i;
        let sub = |i: u64| {
            Descriptor::encode(
                OPCODE_MEMMOVE,
                F,
                sub_cr(i),
                SRC + 64 * i,
                DST + 64 * i,
                64,
                0,
            )
        };
        let pattern: Vec<u8> = (0..5 * 64).map(|i| i as u8).collect();
        for hole in [true, false] {
            let mut results = vec![];
            for len in [SCRATCH_MIN, SCRATCH_BATCH, SCRATCH_BATCH + 100] {
                let mut m = mem();
                batch_list(&mut m, LIST, &[sub(0), sub(1), sub(2), sub(3), sub(4)]);
                m.put(SRC, &pattern);
                if hole {
                    m.holes.push(BASE + 0x21000..BASE + 0x22000);
                }
                let mut scratch = vec![0u8; len];
                m.put(CR, &[0; CR_SIZE]);
                let batch = desc(OPCODE_BATCH, F, LIST, 0, 5);
                submit(&Descriptor::parse(&batch), &limits(), &mut m, &mut scratch);
                let cr = CompletionRecord::from_bytes(m.at(CR, CR_SIZE).try_into().unwrap());
                results.push((cr, m.at(DST, 5 * 64).to_vec()));
            }
            let (cr, dst) = &results[0];
            if hole {
                assert_eq!(
                    (cr.status, cr.completed, cr.fault_addr),
                    (COMP_BATCH_PAGE_FAULT, 3, BASE + 0x21000)
                );
                assert_eq!(dst[..3 * 64], pattern[..3 * 64]);
            } else {
                assert_eq!((cr.status, cr.completed), (COMP_SUCCESS, 5));
                assert_eq!(*dst, pattern);
            }
            assert!(results.iter().all(|r| r == &results[0]), "hole {hole}");
        }
    }

    #[test]
    fn batches() {
        const LIST: u64 = BASE + 0x20000;
        let sub_cr = |i: u64| BASE + 0x100 + 32 * i;
        let sub = |i: u64, op, size| {
            Descriptor::encode(op, F, sub_cr(i), SRC + 64 * i, DST + 64 * i, size, 0)
        };
        let mut m = mem();
        batch_list(
            &mut m,
            LIST,
            &[
                sub(0, OPCODE_MEMMOVE, 64),
                sub(1, OPCODE_MEMMOVE, 64),
                sub(2, OPCODE_NOOP, 0),
            ],
        );
        // NOOP with addresses is a reserved-field error: fix it.
        m.put(
            LIST + 128,
            &Descriptor::encode(OPCODE_NOOP, F, sub_cr(2), 0, 0, 0, 0),
        );
        let (cr, _) = go(&mut m, desc(OPCODE_BATCH, F, LIST, 0, 3));
        assert_eq!((cr.status, cr.completed), (COMP_SUCCESS, 3));
        assert_eq!(m.at(DST, 128), m.at(SRC, 128));
        assert_eq!(m.at(sub_cr(1), 1)[0], COMP_SUCCESS);

        // A failing member: the batch fails, counting the successes; a
        // batch in a batch is a bad opcode; a fence after a failure
        // abandons the rest.
        let mut m = mem();
        let mut fenced = sub(3, OPCODE_MEMMOVE, 64);
        fenced[4] |= OP_FLAG_FENCE as u8;
        batch_list(
            &mut m,
            LIST,
            &[
                sub(0, OPCODE_MEMMOVE, 64),
                Descriptor::encode(OPCODE_BATCH, F, sub_cr(1), LIST, 0, 2, 0),
                sub(2, OPCODE_MEMMOVE, 64),
                fenced,
            ],
        );
        let (cr, _) = go(&mut m, desc(OPCODE_BATCH, F, LIST, 0, 4));
        assert_eq!((cr.status, cr.completed), (COMP_BATCH_FAIL, 2));
        assert_eq!(m.at(sub_cr(1), 1)[0], COMP_BAD_OPCODE);
        assert_ne!(m.at(sub_cr(3), 1)[0], COMP_SUCCESS, "fenced descriptor ran");
        assert_ne!(m.at(DST + 192, 64), m.at(SRC + 192, 64));

        let mut m = mem();
        for (raw, status) in [
            (desc(OPCODE_BATCH, F, LIST, 0, 1), COMP_DESC_CNT_ERANGE),
            (desc(OPCODE_BATCH, F, LIST, 0, 33), COMP_DESC_CNT_ERANGE),
            (desc(OPCODE_BATCH, F, LIST + 32, 0, 2), COMP_DESCLIST_ALIGN),
        ] {
            assert_eq!(go(&mut m, raw).0.status, status);
        }
        m.holes.push(LIST + 0x1000..LIST + 0x2000);
        batch_list(&mut m, LIST + 0xfc0, &[sub(0, OPCODE_MEMMOVE, 8)]);
        let (cr, _) = go(&mut m, desc(OPCODE_BATCH, F, LIST + 0xfc0, 0, 2));
        assert_eq!(
            (cr.status, cr.completed, cr.fault_addr),
            (COMP_BATCH_PAGE_FAULT, 1, LIST + 0x1000)
        );
    }
}
