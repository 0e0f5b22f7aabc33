// SPDX-License-Identifier: GPL-2.0

//! A dsa_mdev device: the WQs it holds, its `dsa/` files, and the VFIO
//! device users open (whose PCI function is [`crate::hw`]).
//!
//! Locking. A device has two locks, and takes `control` before `hw` when it
//! needs both (only open does):
//!
//! - `control` (aggregator, WQ grant, whether the device is open) is what
//!   the `dsa/` files and `create` need. Nothing holds it for longer than
//!   a few field updates; no user copy, DMA or descriptor runs under it.
//! - `hw` (the PCI function while open, the migration session, the count of
//!   descriptors in flight) is what the device file's operations need. No
//!   user copy happens under it either: ioctls read their arguments before
//!   and write their answers after.
//!
//! A third lock, `dirty`, holds the DMA dirty tracker while a user logs
//! (`VFIO_DEVICE_FEATURE_DMA_LOGGING_*`). It is a leaf: the engine takes it
//! after each write it makes to mark the pages written, a report only to
//! take a reference to the tracker, whose bits are atomics; nothing sleeps
//! or copies under it. A spinlock, `scratch`, keeps the bounce buffers of
//! finished portal writes for the next ones; it is a leaf too, held only
//! to move a buffer in or out. Another, `pins`, counts the portal writes
//! holding pinned pages, for the `dma_unmap` callback to wait for (under
//! its own mutex, `unmap`, and no other lock of the device).
//!
//! Descriptors run outside both locks: a portal write takes the descriptor
//! under `hw`, runs it with only the count of work in flight raised, and
//! reports its outcome under `hw` again. A batch can be seconds of copying
//! under TCG; meanwhile sysfs readers, register accesses and other portal
//! writes go on. Each chunk (at most a page) checks for a fatal signal
//! and for an abort, so killing the submitter ends its work within a
//! chunk. What must not overlap with running work waits for the count to
//! drop to zero, on `idle`: resets and abort commands after asking running
//! work to stop (a chunk away), drain and disable commands and the arcs out
//! of the running migration states until it completes (at most one portal
//! write's work: see `Documentation/dsa_mdev.rst`).

// All `unsafe` lives in `crate::ext`, behind safe abstractions.
#![deny(unsafe_code)]

use crate::{
    ext::{
        stream_file::StreamFile,
        sysfs::{
            BinAttributeList,
            BinBuf,
            DeviceAttribute,
            DeviceAttributeGroup,
            DeviceBinAttribute,
            GroupRef,
            ShowBuf, //
        },
        task,
        vfio::{
            self,
            dma_log,
            pci,
            EmulatedIommuRegistration,
            MigState, //
            PinnedPages,
        },
    },
    hw::{
        Hw,
        Step, //
    },
    log::Log,
    logic::{
        compat::DeviceDesc,
        dirty::{
            self,
            PlanError,
            Span,
            Tracker, //
        },
        echo::Echo,
        engine::{
            self,
            Memory,
            NoAccess,
            SCRATCH_BATCH, //
        },
        model::Quiesce,
        stream::{
            body_len,
            HEADER_SIZE,
            STREAM_VERSION, //
        },
        types::{
            self,
            TypeName, //
        },
    },
    migration::Session,
    mtype::DsaType,
    pool::{
        ParentState,
        WqGrant, //
    },
    refusal::Refused,
};
use core::{
    fmt::Write,
    sync::atomic::AtomicU64, //
};
use kernel::{
    alloc::KVVec,
    new_condvar, new_mutex, new_spinlock,
    page::PAGE_SIZE,
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
        CondVar,
        Mutex,
        MutexGuard,
        SpinLock, //
    },
    uaccess::UserPtr,
};

/// What the `dsa/` files and `create` see of a device.
struct Control {
    aggregator: u32,
    grant: WqGrant,
    /// A user has the VFIO device open: the aggregator is then fixed.
    open: bool,
}

/// What the device file's operations see of a device.
struct HwState {
    /// The PCI function, while a user has the VFIO device open.
    hw: Option<Hw>,
    /// The migration state, while open.
    mig: Session,
    /// Descriptors running outside the lock.
    inflight: u32,
    /// Work in flight is being waited for before the device leaves the
    /// running migration states: new descriptors are refused meanwhile.
    quiescing: bool,
}

/// Work in flight: descriptors run outside the lock, and whatever must not
/// overlap with them (a reset, an abort, the end of the running migration
/// states, close) waits for the count to drop to zero
/// ([`DsaDevice::quiesce`]).  While the device leaves the running states,
/// no new descriptor starts.
impl HwState {
    /// Whether a portal write may start a descriptor now.
    fn accepts_work(&self) -> bool {
        self.mig.running() && !self.quiescing
    }

    /// A descriptor starts running outside the lock.
    fn work_started(&mut self) {
        self.inflight = self.inflight.saturating_add(1);
    }

    /// A descriptor finished; returns whether none runs any more.
    fn work_finished(&mut self) -> bool {
        self.inflight = self.inflight.saturating_sub(1);
        self.inflight == 0
    }
}

/// A device's [`HwState`], locked ([`DsaDevice::lock_hw`]).  When it is
/// unlocked, the device's bus-mastering mirror follows the function's
/// configuration space, whichever operation changed it (a config write, a
/// reset, a migration arc that loads one, the function's coming or going).
struct HwGuard<'a> {
    state: MutexGuard<'a, HwState>,
    dma: &'a Atomic<bool>,
}

impl core::ops::Deref for HwGuard<'_> {
    type Target = HwState;

    fn deref(&self) -> &HwState {
        &self.state
    }
}

impl core::ops::DerefMut for HwGuard<'_> {
    fn deref_mut(&mut self) -> &mut HwState {
        &mut self.state
    }
}

impl HwGuard<'_> {
    /// Mirrors bus mastering for the work that runs outside the lock.
    fn mirror_dma(&self) {
        let on = self.state.hw.as_ref().is_some_and(Hw::bus_master);
        self.dma.store(on, Relaxed);
    }
}

impl Drop for HwGuard<'_> {
    fn drop(&mut self) {
        self.mirror_dma();
    }
}

/// The DMA dirty tracker of a device that logs: its ranges and its bitmap,
/// charged to the user who started logging.
type DirtyTracker = Tracker<KVec<Span>, KVVec<AtomicU64>>;

/// The engine's bounce buffer for one portal write: [`SCRATCH_BATCH`] bytes,
/// so that a batch's list is read a page at a time.
type Scratch = KVVec<u8>;

/// How many bounce buffers an open device keeps between portal writes: as
/// many writes run side by side, to as many portals, without allocating.
const SCRATCH_KEPT: usize = 4;

/// The smallest chunk a descriptor copies directly between pinned pages
/// ([`UserDma::copy`]) on its own; smaller ones go through the bounce
/// buffer, unless the pages are pinned already ([`SmallCopies`]).
const PIN_MIN: usize = 512;

/// The least of an operation that must lie ahead for a direct copy to pin
/// a new window: under TCG, through iommufd, pinning and unpinning cost
/// more than the second copy of a 4 KiB MEMMOVE (about 55 against 130 MB/s
/// with dsa_bench), and less from 64 KiB on (150-270 against 120 MB/s).
const PIN_AHEAD_MIN: u64 = 16 * 1024;

/// How many small copies (below [`PIN_MIN`], or with less than
/// [`PIN_AHEAD_MIN`] ahead) of one portal write copy through the bounce
/// buffer before the write pins for them: a lone small descriptor does
/// not pin, the members of a batch that copy from and to the same pages
/// do ([`SmallCopies`]).
const SMALL_FIRST: u32 = 2;

/// How many portal writes of a device may hold pinned pages at once, two
/// windows of at most [`vfio::PIN_MAX`] pages each: at most 512 pages
/// (2 MiB) are pinned for a device's copies at any time. Writes beyond copy
/// through the bounce buffer.
const PIN_HOLDERS_MAX: u32 = 16;

/// The portal writes holding pinned pages, counted by epoch: an unmap
/// starts a new epoch and waits for the holders of the old one, which
/// unpin at their next chunk, so that new holders cannot keep it waiting
/// ([`DsaDevice::wait_for_pins`]).
struct Pins {
    /// The epoch new holders count in (mirrored in `DsaDevice::pin_epoch`).
    epoch: bool,
    /// The holders, per epoch.
    held: [u32; 2],
    /// The first and last IOVA of the last range the user unmapped: no
    /// copy pins there (they copy through the bounce buffer), so that an
    /// unmap the core retries finds no new pin each time.
    fence: Option<(u64, u64)>,
}

impl Pins {
    fn slot(&mut self, epoch: bool) -> &mut u32 {
        let [a, b] = &mut self.held;
        if epoch {
            b
        } else {
            a
        }
    }
}

/// A portal write's place in [`Pins`], taken before it pins and given back
/// after it unpinned.
struct PinTicket<'a> {
    dev: &'a DsaDevice,
    epoch: bool,
}

impl<'a> PinTicket<'a> {
    /// Counts a holder in the current epoch: `None` if
    /// [`PIN_HOLDERS_MAX`] writes already hold pins.
    fn take(dev: &'a DsaDevice) -> Option<Self> {
        let mut pins = dev.pins.lock();
        if pins.held[0].saturating_add(pins.held[1]) >= PIN_HOLDERS_MAX {
            return None;
        }
        let epoch = pins.epoch;
        let held = pins.slot(epoch);
        *held = held.saturating_add(1);
        Some(Self { dev, epoch })
    }

    /// Whether an unmap waits for this holder's epoch.
    fn stale(&self) -> bool {
        self.dev.pin_epoch.load(Relaxed) != self.epoch
    }

    /// Whether this holder may pin `len` bytes at `iova`: not in the last
    /// range unmapped.
    fn may_pin(&self, iova: u64, len: u64) -> bool {
        let last = iova.saturating_add(len.saturating_sub(1));
        match self.dev.pins.lock().fence {
            Some((first, end)) => last < first || iova > end,
            None => true,
        }
    }
}

impl Drop for PinTicket<'_> {
    fn drop(&mut self) {
        let mut pins = self.dev.pins.lock();
        let held = pins.slot(self.epoch);
        *held = held.saturating_sub(1);
        if *held == 0 {
            self.dev.unpinned.notify_all();
        }
    }
}

/// A device of type `dsa-<base>dwq`, holding `base * aggregator` WQs.
#[pin_data]
pub(crate) struct DsaDevice {
    parent: Arc<ParentState>,
    base: u32,
    /// The device's log lines start with its `dsaN: <uuid>`; refusals are
    /// logged through this, by the device and its migration data files,
    /// under one budget.
    log: Arc<Log>,
    #[pin]
    control: Mutex<Control>,
    #[pin]
    hw: Mutex<HwState>,
    /// Notified when `HwState::inflight` drops to zero.
    #[pin]
    idle: CondVar,
    /// The dirty tracker, while a user logs DMA.
    #[pin]
    dirty: Mutex<Option<Arc<DirtyTracker>>>,
    /// Bounce buffers kept between portal writes, while open
    /// ([`DsaDevice::take_scratch`]). A leaf lock, held only to move a
    /// buffer in or out: never during a copy, an allocation or a free.
    #[pin]
    scratch: SpinLock<[Option<Scratch>; SCRATCH_KEPT]>,
    /// The portal writes holding pins; a leaf, held only to count.
    #[pin]
    pins: SpinLock<Pins>,
    /// The current epoch of `pins`, read by holders between chunks.
    pin_epoch: Atomic<bool>,
    /// Notified when the holders of an epoch have all unpinned.
    #[pin]
    unpinned: CondVar,
    /// One unmap at a time waits for an epoch's pins.
    #[pin]
    unmap: Mutex<()>,
    /// Running work must stop now (a reset or an abort waits for it).
    stop: Atomic<bool>,
    /// Bus mastering is on: the function may do DMA. Mirrors the
    /// configuration space, for the work that runs outside the lock, each
    /// time `hw` is unlocked ([`HwGuard`]).
    dma: Atomic<bool>,
}

impl DsaDevice {
    /// Creates the state of the mdev device `dev` of type `mtype`, taking
    /// its WQs from the parent: all of them, or none with `-ENOSPC`.
    pub(crate) fn new(dev: &kernel::device::Device, mtype: &DsaType) -> impl PinInit<Self, Error> {
        let parent = mtype.parent().clone();
        let (base, aggregator) = (mtype.base(), mtype.aggregator());
        // Taken now, so that `create` fails right here when the parent is
        // short; if the initialiser never runs, dropping `grant` gives the
        // WQs back.
        let grant = take_wqs(&parent, base, aggregator);
        if grant.is_err() {
            parent.log().warn(fmt!(
                "cannot create {} as {} with aggregator {aggregator}: needs {} WQs, {} free",
                dev.name().to_str().unwrap_or("?"),
                TypeName(base),
                types::wqs_for(base, aggregator).unwrap_or(0),
                parent.free_wqs()
            ));
        }
        let log = Log::for_device(dev);
        try_pin_init!(Self {
            log: log?,
            control <- new_mutex!(Control {
                aggregator,
                grant: grant?,
                open: false,
            }),
            hw <- new_mutex!(HwState {
                hw: None,
                mig: Session::new(),
                inflight: 0,
                quiescing: false,
            }),
            idle <- new_condvar!(),
            dirty <- new_mutex!(None),
            scratch <- new_spinlock!([const { None }; SCRATCH_KEPT]),
            pins <- new_spinlock!(Pins {
                epoch: false,
                held: [0; 2],
                fence: None,
            }),
            pin_epoch: Atomic::new(false),
            unpinned <- new_condvar!(),
            unmap <- new_mutex!(()),
            stop: Atomic::new(false),
            dma: Atomic::new(false),
            parent,
            base,
        }? Error)
    }

    fn desc(&self, aggregator: u32) -> DeviceDesc {
        DeviceDesc {
            base: self.base,
            aggregator,
            version: STREAM_VERSION,
        }
    }

    fn show_aggregator(&self, out: &mut ShowBuf<'_>) -> Result {
        writeln!(out, "{}", self.control.lock().aggregator)?;
        Ok(())
    }

    fn store_aggregator(&self, input: &[u8]) -> Result {
        let max = types::max_aggregator(self.parent.total_wqs(), self.base);
        let value = types::parse_aggregator(input, max).map_err(|e| {
            self.log
                .warn(fmt!("aggregator: {} {e} (allowed: 1-{max})", Echo(input)));
            EINVAL
        })?;
        let mut control = self.control.lock();
        if control.open {
            self.log
                .warn(fmt!("aggregator: cannot change while the device is open"));
            return Err(EBUSY);
        }
        let n = types::wqs_for(self.base, value).ok_or(EINVAL)?;
        if let Err(e) = control.grant.resize(n) {
            self.log.warn(fmt!(
                "aggregator {value} needs {} more WQs, {} free; keeping {}",
                e.needed,
                e.free,
                control.aggregator
            ));
            return Err(ENOSPC);
        }
        control.aggregator = value;
        Ok(())
    }

    fn read_wq_ids(&self, out: &mut BinBuf) -> Result {
        writeln!(out, "{}", self.control.lock().grant.wqs())?;
        Ok(())
    }

    fn show_self(&self, out: &mut ShowBuf<'_>) -> Result {
        let aggregator = self.control.lock().aggregator;
        write!(out, "{}", self.desc(aggregator))?;
        Ok(())
    }
}

/// Takes `base * aggregator` WQs from `parent`.
fn take_wqs(parent: &Arc<ParentState>, base: u32, aggregator: u32) -> Result<WqGrant> {
    let n = types::wqs_for(base, aggregator).ok_or(EINVAL)?;
    WqGrant::take(parent, n).map_err(|_| ENOSPC)
}

/// Whether the small copies of one portal write pin: the members of a
/// batch of small MEMMOVEs are each too small to pay for a pin, but
/// together, copying within the same pages, they do, once pinned pages
/// serve the copies that follow. Pins are taken after [`SMALL_FIRST`]
/// small copies, and only while the copies that found their pages pinned
/// outnumber the pins four to one (two pins are free): copies that never
/// stay within pinned pages, as a hostile batch's, stop pinning after two,
/// and go through the bounce buffer as before.
#[derive(Default)]
struct SmallCopies {
    /// Small copies that found their pages pinned.
    hits: u32,
    /// Small copies that did not.
    misses: u32,
    /// Windows pinned for small copies.
    pins: u32,
}

impl SmallCopies {
    /// A small copy found its pages pinned.
    fn hit(&mut self) {
        self.hits = self.hits.saturating_add(1);
    }

    /// A small copy did not: returns how many bytes from it to pin, if it
    /// is to pin. The first window is the page it copies in, each next one
    /// twice as long, up to [`vfio::PIN_MAX`] pages: a batch of 32 members
    /// of 64 bytes copied slower with windows of 16 pages than through the
    /// bounce buffer, one of 256 faster.
    fn pin(&mut self) -> Option<u64> {
        self.misses = self.misses.saturating_add(1);
        if self.misses <= SMALL_FIRST || self.pins > self.hits / 4 + 2 {
            return None;
        }
        let window = (PAGE_SIZE as u64) << self.pins.min(4);
        self.pins = self.pins.saturating_add(1);
        Some(window)
    }
}

/// The user's DMA space, as the engine sees it, and the stop conditions of
/// the work it runs there.
///
/// A batch of large descriptors is up to a gigabyte of copying inside one
/// portal write; every access (at most a page) is a scheduling point and
/// checks whether the work must end.
struct UserDma<'a> {
    dev: &'a vfio::OpenDevice<DsaDevice>,
    /// The pinned pages direct copies read, and write
    /// ([`UserDma::copy`]); dropped before the ticket they count under.
    src: Option<PinnedPages<'a, DsaDevice>>,
    dst: Option<PinnedPages<'a, DsaDevice>>,
    ticket: Option<PinTicket<'a>>,
    /// Whether small copies pin.
    small: SmallCopies,
}

impl<'a> UserDma<'a> {
    fn new(dev: &'a vfio::OpenDevice<DsaDevice>) -> Self {
        Self {
            dev,
            src: None,
            dst: None,
            ticket: None,
            small: SmallCopies::default(),
        }
    }

    /// Unpins everything, if an unmap waits for it.
    fn unpin_if_asked(&mut self) {
        if self.ticket.as_ref().is_some_and(PinTicket::stale) {
            self.src = None;
            self.dst = None;
            self.ticket = None;
        }
    }
}

/// Pins the pages from the one holding `addr` to the last of the `ahead`
/// bytes there, at most [`vfio::PIN_MAX`]; if that fails, the one page.
fn pin_window<'a>(
    dev: &'a vfio::OpenDevice<DsaDevice>,
    ticket: &PinTicket<'_>,
    addr: u64,
    ahead: u64,
    write: bool,
) -> Option<PinnedPages<'a, DsaDevice>> {
    let page = PAGE_SIZE as u64;
    let last = addr.saturating_add(ahead.saturating_sub(1)) / page;
    let count = last
        .saturating_sub(addr / page)
        .saturating_add(1)
        .min(vfio::PIN_MAX as u64) as usize;
    let start = addr & !(page - 1);
    if !ticket.may_pin(start, (count as u64).saturating_mul(page)) {
        return None;
    }
    dev.pin_pages(addr, count, write)
        .or_else(|_| {
            if count > 1 {
                dev.pin_pages(addr, 1, write)
            } else {
                Err(EFAULT)
            }
        })
        .ok()
}

impl Memory for UserDma<'_> {
    fn read(&mut self, iova: u64, buf: &mut [u8]) -> Result<(), NoAccess> {
        task::cond_resched();
        if !self.dev.dma.load(Relaxed) {
            return Err(NoAccess);
        }
        self.dev.dma_read(iova, buf).map_err(|_| NoAccess)
    }

    fn write(&mut self, iova: u64, buf: &[u8]) -> Result<(), NoAccess> {
        task::cond_resched();
        if !self.dev.dma.load(Relaxed) {
            return Err(NoAccess);
        }
        self.dev.dma_write(iova, buf).map_err(|_| NoAccess)?;
        // After the write, so that a report cannot clear the mark before
        // the bytes it stands for are in memory. A failed write wrote
        // nothing: the engine's accesses stay within a page, which the
        // VFIO core checks (mapped, writable) before it copies.
        self.dev.mark_dirty(iova, buf.len());
        Ok(())
    }

    /// One copy per byte: the source and destination pages are pinned, a
    /// window of up to [`vfio::PIN_MAX`] pages at a time kept for the next
    /// chunks, and copied page to page, where reads and writes copy through
    /// the bounce buffer. Declines (the engine then reads and writes, which
    /// faults as it should) for small chunks and small operations, where
    /// pinning costs more than it saves ([`PIN_MIN`], [`PIN_AHEAD_MIN`]),
    /// unless their pages are pinned already or [`SmallCopies`] says that
    /// pins pay for themselves in this write; when [`PIN_HOLDERS_MAX`]
    /// writes hold pins; and when a page cannot be pinned: not mapped, not
    /// for writing, or not pinnable.
    fn copy(&mut self, src: u64, dst: u64, n: usize, ahead: u64) -> bool {
        task::cond_resched();
        self.unpin_if_asked();
        if !self.dev.dma.load(Relaxed) {
            return false;
        }
        let held =
            |w: &Option<PinnedPages<'_, DsaDevice>>, at| w.as_ref().is_some_and(|w| w.holds(at, n));
        let (src_held, dst_held) = (held(&self.src, src), held(&self.dst, dst));
        let mut ahead = ahead;
        if n < PIN_MIN || ahead < PIN_AHEAD_MIN {
            if src_held && dst_held {
                self.small.hit();
            } else if let Some(window) = self.small.pin() {
                ahead = window;
            } else {
                // Not worth a pin.
                return false;
            }
        }
        if self.ticket.is_none() {
            self.ticket = PinTicket::take(self.dev);
        }
        let Some(ticket) = self.ticket.as_ref() else {
            return false;
        };
        if !src_held {
            self.src = None;
            self.src = pin_window(self.dev, ticket, src, ahead, false);
        }
        if !dst_held {
            self.dst = None;
            self.dst = pin_window(self.dev, ticket, dst, ahead, true);
        }
        let (Some(from), Some(to)) = (self.src.as_ref(), self.dst.as_mut()) else {
            return false;
        };
        if to.copy_from(dst, from, src, n).is_err() {
            return false;
        }
        // As for a write: after the bytes are in memory.
        self.dev.mark_dirty(dst, n);
        true
    }

    fn stop(&mut self) -> bool {
        // Asked before each chunk: pins are given up within a chunk of an
        // unmap asking.
        self.unpin_if_asked();
        self.dev.stop.load(Relaxed) || task::fatal_signal_pending()
    }
}

impl DsaDevice {
    /// Waits until the portal writes that held pins when it was called
    /// have unpinned: what an unmap of `length` bytes at `iova` needs
    /// before the core takes the pages back. Writes that pin meanwhile count
    /// in a new epoch, which the next unmap waits for, and pin nothing in
    /// the range; a holder unpins at its next chunk once asked.
    fn wait_for_pins(&self, iova: u64, length: u64) {
        let _one = self.unmap.lock();
        let mut pins = self.pins.lock();
        pins.fence = Some((iova, iova.saturating_add(length.saturating_sub(1))));
        let old = pins.epoch;
        pins.epoch = !old;
        self.pin_epoch.store(!old, Relaxed);
        while *pins.slot(old) > 0 {
            self.unpinned.wait(&mut pins);
        }
    }

    /// Marks `len` bytes at `iova` written, if a user logs DMA.
    fn mark_dirty(&self, iova: u64, len: usize) {
        if let Some(tracker) = self.dirty.lock().as_deref() {
            tracker.mark(iova, len as u64);
        }
    }

    /// Logs a refused request, under the device's log budget, and returns
    /// the errno for the user.
    fn refuse(&self, r: &Refused) -> Error {
        r.log(&self.log)
    }

    /// Locks the function's state.
    fn lock_hw(&self) -> HwGuard<'_> {
        HwGuard {
            state: self.hw.lock(),
            dma: &self.dma,
        }
    }

    /// Waits, with `state` locked, until no descriptor runs; with `abort`,
    /// asks the running ones to stop first (they do within a chunk).
    fn quiesce(&self, state: &mut HwGuard<'_>, abort: bool) {
        if abort {
            self.stop.store(true, Relaxed);
        }
        // The lock is released while waiting.
        state.mirror_dma();
        while state.inflight > 0 {
            self.idle.wait(&mut state.state);
        }
        self.stop.store(false, Relaxed);
    }

    /// Waits, with `state` locked, until what runs has completed, refusing
    /// new work meanwhile: the way out of the running migration states.
    fn quiesce_to_stop(&self, state: &mut HwGuard<'_>) {
        state.quiescing = true;
        self.quiesce(state, false);
        state.quiescing = false;
    }

    /// Takes a bounce buffer for a portal write: one the device kept, or,
    /// if all are in use (or none was made yet), a new one charged to the
    /// writer.
    fn take_scratch(&self) -> Result<Scratch> {
        let kept = self.scratch.lock().iter_mut().find_map(Option::take);
        match kept {
            Some(s) => Ok(s),
            None => Ok(KVVec::from_elem(0u8, SCRATCH_BATCH, GFP_KERNEL_ACCOUNT)?),
        }
    }

    /// Gives back a bounce buffer [`DsaDevice::take_scratch`] returned: kept
    /// for the next write if there is room, else freed (outside the lock).
    fn give_scratch(&self, scratch: Scratch) {
        let mut spare = Some(scratch);
        let mut kept = self.scratch.lock();
        if let Some(slot) = kept.iter_mut().find(|s| s.is_none()) {
            *slot = spare.take();
        }
        drop(kept);
        drop(spare);
    }

    /// Runs a descriptor a portal write submitted, outside the lock, and
    /// reports its outcome.
    fn run(device: &vfio::OpenDevice<Self>, sub: crate::logic::model::Submission) -> Result {
        // Each running write has a bounce buffer of its own, so that writes
        // to several portals run side by side; the device keeps a few
        // between writes, so that a write allocates only when more run at
        // once than it kept.
        let out = device.take_scratch().map(|mut scratch| {
            let out = engine::submit(
                &sub.desc,
                &sub.limits,
                &mut UserDma::new(device),
                &mut scratch,
            );
            // Before the work counts as finished: once it does, close may
            // free the kept buffers.
            device.give_scratch(scratch);
            out
        });
        let mut state = device.lock_hw();
        if let (Ok(out), Some(hw)) = (out.as_ref(), state.hw.as_mut()) {
            hw.complete(sub.wq, out);
        }
        if state.work_finished() {
            device.idle.notify_all();
        }
        // A write that could not get its buffer did nothing: the user may
        // write the descriptor again.
        out.map(|_| ())
    }
}

#[vtable]
impl vfio::Ops for DsaDevice {
    const NAME: &'static CStr = c"dsa_mdev";

    fn open(device: &vfio::Device<Self>) -> Result {
        let mut control = device.control.lock();
        let wqs = types::wqs_for(device.base, control.aggregator).ok_or(EINVAL)?;
        let hw = Hw::new(wqs, device.parent.pci_ids())?;
        let mut state = device.lock_hw();
        state.hw = Some(hw);
        state.mig = Session::new();
        control.open = true;
        Ok(())
    }

    fn close(device: &vfio::Device<Self>) {
        let mut control = device.control.lock();
        let mut state = device.lock_hw();
        // No device file is left, so no write runs a descriptor; but be
        // sure before the function goes.
        device.quiesce(&mut state, true);
        // Dropping the function releases the user's eventfds; the data
        // files of a migration session outlive it, dead.
        state.hw = None;
        state.mig.end();
        control.open = false;
        // Logging ends with the user who started it. The tracker is freed
        // here, or by a report still holding it when that ends.
        let tracker = device.dirty.lock().take();
        drop(tracker);
        // So do the bounce buffers kept for the user's writes (none runs).
        let kept = core::mem::take(&mut *device.scratch.lock());
        drop(kept);
    }

    fn ioctl(device: &vfio::OpenDevice<Self>, cmd: u32, arg: UserPtr) -> Result<isize> {
        // User memory is read before and written after the lock is taken,
        // never under it.
        match cmd {
            vfio::DEVICE_GET_INFO => vfio::reply_device_info(
                arg,
                pci::DEVICE_FLAGS | vfio::DEVICE_FLAGS_RESET,
                pci::Region::COUNT,
                pci::Irq::COUNT,
            ),
            vfio::DEVICE_GET_IRQ_INFO => vfio::reply_irq_info(arg, |i| {
                device.lock_hw().hw.as_ref().and_then(|hw| hw.irq_info(i))
            }),
            vfio::DEVICE_SET_IRQS => {
                let set = vfio::read_irq_set(arg, pci::Irq::COUNT, |i| {
                    device.lock_hw().hw.as_ref().map_or(0, |hw| hw.irq_count(i))
                })
                .inspect_err(|e| {
                    if *e == EINVAL {
                        device.refuse(&Refused::ioctl(
                            EINVAL,
                            "VFIO_DEVICE_SET_IRQS",
                            "bad size, index, range, flags or data type",
                        ));
                    }
                })?;
                let mut state = device.lock_hw();
                let hw = state.hw.as_mut().ok_or(ENODEV)?;
                hw.set_irqs(set).map_err(|r| device.refuse(&r))?;
                Ok(0)
            }
            vfio::DEVICE_RESET => {
                let mut state = device.lock_hw();
                // Running work is abandoned, as a function-level reset
                // abandons it.
                device.quiesce(&mut state, true);
                let state = &mut *state;
                let hw = state.hw.as_mut().ok_or(ENODEV)?;
                hw.reset();
                // A reset ends any migration session and returns to
                // RUNNING, as the uAPI requires.
                state.mig.end();
                Ok(0)
            }
            _ => Err(ENOTTY),
        }
    }

    fn region_info(device: &vfio::OpenDevice<Self>, index: u32) -> Option<vfio::RegionInfo> {
        device.lock_hw().hw.as_ref()?.region_info(index)
    }

    fn read(device: &vfio::OpenDevice<Self>, offset: u64, buf: &mut [u8]) -> Result {
        let mut state = device.lock_hw();
        let hw = state.hw.as_mut().ok_or(ENODEV)?;
        hw.read(offset, buf).map_err(|r| device.refuse(&r))
    }

    fn write(device: &vfio::OpenDevice<Self>, offset: u64, data: &[u8]) -> Result {
        let sub = {
            let mut guard = device.lock_hw();
            let quiesce = guard.hw.as_ref().ok_or(ENODEV)?.quiesce(offset, data);
            if quiesce != Quiesce::None {
                device.quiesce(&mut guard, quiesce == Quiesce::Abort);
            }
            let state = &mut *guard;
            let running = state.accepts_work();
            let hw = state.hw.as_mut().ok_or(ENODEV)?;
            let (step, abandoned) = hw
                .write(offset, data, running)
                .map_err(|r| device.refuse(&r))?;
            if let Some(a) = abandoned {
                device.log.warn(fmt!(
                    "WQ {}: portal slot at {:#x} abandoned with {} of 64 bytes written",
                    a.wq,
                    a.offset,
                    a.written
                ));
            }
            match step {
                Step::Done => return Ok(()),
                Step::Run(sub) => {
                    state.work_started();
                    sub
                }
            }
        };
        Self::run(device, sub)
    }

    const MIGRATION_FLAGS: u32 =
        vfio::MIGRATION_STOP_COPY | vfio::MIGRATION_P2P | vfio::MIGRATION_PRE_COPY;

    fn mig_set_state(device: &vfio::OpenDevice<Self>, new: MigState) -> Result<Option<StreamFile>> {
        let aggregator = device.control.lock().aggregator;
        let mut state = device.lock_hw();
        let desc = device.desc(aggregator);
        let mut file = None;
        while state.mig.state() != new {
            let next = device.next_mig_state(state.mig.state(), new)?;
            if state.mig.running() && !Session::runs_in(next) {
                // Leaving the running states: what runs completes first,
                // and nothing new starts meanwhile.
                device.quiesce_to_stop(&mut state);
            }
            let state = &mut *state;
            let hw = state.hw.as_mut().ok_or(ENODEV)?;
            if let Some(f) = state
                .mig
                .step(hw, desc, next, &device.to_ref(), &device.log)?
            {
                file = Some(f);
            }
        }
        Ok(file)
    }

    fn log_start(
        device: &vfio::OpenDevice<Self>,
        ranges: dma_log::Ranges<'_>,
        page_size: u64,
    ) -> Result<u64> {
        let busy = || {
            device.refuse(&Refused::ioctl(
                EINVAL,
                "DMA_LOGGING_START",
                "the device already logs: stop first",
            ))
        };
        if device.dirty.lock().is_some() {
            return Err(busy());
        }
        // Sizes are bounded: at most the core's 256 ranges, and a bitmap of
        // at most dirty::MAX_BITMAP_BYTES, charged to the caller.
        let mut spans = KVec::with_capacity(ranges.count(), GFP_KERNEL_ACCOUNT)?;
        for r in ranges.iter() {
            spans.push(Span::new(r.iova, r.last), GFP_KERNEL_ACCOUNT)?;
        }
        let plan = dirty::plan(&mut spans, page_size).map_err(|e| {
            let why = match e {
                PlanError::NoRanges => "no range",
                PlanError::TooManyRanges => "more than 256 ranges",
                PlanError::Empty => "an empty range",
                PlanError::Overlap => "overlapping ranges",
                PlanError::PageSize => "the page size is not a power of two",
            };
            device.refuse(&Refused::ioctl(EINVAL, "DMA_LOGGING_START", why))
        })?;
        let mut words = KVVec::with_capacity(plan.words(), GFP_KERNEL_ACCOUNT)?;
        for _ in 0..plan.words() {
            words.push(AtomicU64::new(0), GFP_KERNEL_ACCOUNT)?;
        }
        let tracker = Arc::new(
            Tracker::new(plan, spans, words).map_err(|_| EINVAL)?,
            GFP_KERNEL_ACCOUNT,
        )?;
        let mut slot = device.dirty.lock();
        if slot.is_some() {
            // Another start won the race: this one changes nothing.
            drop(slot);
            return Err(busy());
        }
        *slot = Some(tracker);
        Ok(plan.page_size())
    }

    fn log_stop(device: &vfio::OpenDevice<Self>) -> Result {
        let tracker = device.dirty.lock().take();
        drop(tracker);
        Ok(())
    }

    fn log_read_and_clear(
        device: &vfio::OpenDevice<Self>,
        dirty: &mut dma_log::DirtyBitmap<'_>,
    ) -> Result {
        let Some(tracker) = device.dirty.lock().clone() else {
            return Err(device.refuse(&Refused::ioctl(
                EINVAL,
                "DMA_LOGGING_REPORT",
                "the device does not log: start first",
            )));
        };
        // Outside the lock: the engine marks meanwhile, and what it marks
        // after a word was taken stays for the next report.
        let (iova, length) = dirty.window();
        tracker.read_and_clear(iova, length, |at, len| dirty.set(at, len));
        Ok(())
    }

    fn dma_unmap(device: &vfio::Device<Self>, iova: u64, length: u64) {
        // Holders unpin within a chunk once asked: waiting for them all,
        // in the range or not, is short.
        device.wait_for_pins(iova, length);
    }

    fn mig_get_state(device: &vfio::Device<Self>) -> Result<MigState> {
        Ok(device.lock_hw().mig.state())
    }

    fn mig_data_size(device: &vfio::OpenDevice<Self>) -> Result<usize> {
        let state = device.lock_hw();
        let body = body_len(state.hw.as_ref().ok_or(ENODEV)?.wqs());
        Ok(state.mig.remaining(HEADER_SIZE.saturating_add(body), body))
    }
}

/// The longest `wq_ids`: at most 4 digits and a separator per WQ id (a
/// parent has at most 4096), and the newline. A fragmented device of a
/// large parent needs more than a page (2048 ids of 0-4094 every other:
/// 9.5 KiB), hence a binary attribute.
const WQ_IDS_MAX: usize = 5 * crate::logic::wq::MAX_WQS + 1;

/// The binary attributes of `dsa/`.
static DEVICE_BIN_ATTRS: BinAttributeList<DriverData, 1> = BinAttributeList::new(
    &DEVICE_BIN_ATTRS,
    [DeviceBinAttribute::ro(
        c"wq_ids",
        WQ_IDS_MAX,
        |this, out| this.read_wq_ids(out),
    )],
);

/// The driver group `dsa/` of each device.
static DEVICE_GROUP: DeviceAttributeGroup<DriverData, 2> = DeviceAttributeGroup::with_bin_attrs(
    &DEVICE_GROUP,
    Some(c"dsa"),
    [
        DeviceAttribute::rw(
            c"aggregator",
            |this, out| this.show_aggregator(out),
            |this, input| this.store_aggregator(input),
        ),
        DeviceAttribute::ro(c"self", |this, out| this.show_self(out)),
    ],
    &DEVICE_BIN_ATTRS,
);

/// [`DEVICE_GROUP`], for [`crate::DsaDriver`].
pub(crate) const DEVICE_ATTRIBUTES: GroupRef<DeviceAttribute<DriverData>> = DEVICE_GROUP.as_ref();

/// A device's driver data, which its attributes get: its VFIO registration,
/// through which they reach the [`DsaDevice`].
pub(crate) type DriverData = EmulatedIommuRegistration<DsaDevice>;
