// SPDX-License-Identifier: GPL-2.0

//! Live migration of a dsa_mdev device (VFIO migration v2): the arcs of the
//! migration state machine ([`Session::step`]), the data files that carry
//! the stream of `logic::stream` out of a source and into a target, and the
//! per-device session state the arcs move between.
//!
//! Locking: a device's state lock is taken before a file's lock, never
//! after, and no file operation takes the device lock. The files copy to
//! and from user space under their own lock only, so a page fault there
//! cannot wait on the device; this is why the driver needs no deferred
//! reset (the pattern `mtty` and `mlx5` use to break the cycle between
//! their state mutex and `mm` locks taken under it).

// All `unsafe` lives in `crate::ext`, behind safe abstractions.
#![deny(unsafe_code)]

use crate::{
    ext::{
        stream_file::{
            self,
            Direction,
            StreamFile, //
        },
        vfio::{
            self,
            MigState, //
        },
    },
    hw::Hw,
    log::Log,
    logic::{
        compat::DeviceDesc,
        model::{
            Dsa,
            WqCfg, //
        },
        pci::PciConfig,
        stream::{
            body_len,
            load_body,
            Header,
            Refusal,
            Resume,
            FLAG_ENABLED,
            HEADER_SIZE, //
        },
    },
    refusal::Refused,
    DsaMdev,
};
use kernel::{
    alloc::KVVec,
    new_mutex,
    prelude::*,
    sync::{
        Arc,
        ArcBorrow,
        Mutex, //
    },
    uaccess::{
        UserPtr,
        UserSliceReader,
        UserSliceWriter, //
    },
};

/// The data transfer session of a device, by its data file.
enum Transfer {
    /// None.
    Idle,
    /// Saving (PRE_COPY, STOP_COPY).
    Saving(Arc<SaveFile>),
    /// Resuming.
    Resuming(Arc<ResumeFile>),
}

/// The migration state of an open device and its data transfer session.
pub(crate) struct Session {
    /// The current state.
    state: MigState,
    /// The session's data file.
    transfer: Transfer,
}

impl Session {
    /// A device that is running, with no session.
    pub(crate) const fn new() -> Self {
        Self {
            state: MigState::Running,
            transfer: Transfer::Idle,
        }
    }

    /// Returns the current state.
    pub(crate) fn state(&self) -> MigState {
        self.state
    }

    /// Takes one arc of the migration state machine, from the current
    /// state to `next`, for the device `desc` whose function is `hw`, and
    /// moves to `next`; returns the data file the arc opens, if any. On
    /// failure the state stays where it was.
    ///
    /// `device` is the device, which a saving file keeps (it answers
    /// `VFIO_MIG_GET_PRECOPY_INFO` with the device's setting of the time);
    /// `log` is the device's, for a stream refused at the end of RESUMING.
    pub(crate) fn step(
        &mut self,
        hw: &mut Hw,
        desc: DeviceDesc,
        next: MigState,
        device: &vfio::DeviceRef,
        log: &Arc<Log>,
    ) -> Result<Option<StreamFile>> {
        use MigState::*;
        let file = match (self.state, next) {
            // The device does no peer-to-peer DMA, and what was in flight
            // completed before an arc out of the running states (the
            // caller quiesces): quiescing and stopping take nothing more.
            (Running, RunningP2p)
            | (RunningP2p, Running)
            | (RunningP2p, Stop)
            | (Stop, RunningP2p)
            | (PreCopy, PreCopyP2p)
            | (PreCopyP2p, PreCopy) => None,
            (Running, PreCopy) | (RunningP2p, PreCopyP2p) => {
                Some(self.start_saving(stream(desc, hw, false)?, false, device)?)
            }
            (Stop, StopCopy) => Some(self.start_saving(stream(desc, hw, true)?, true, device)?),
            (PreCopyP2p, StopCopy) => {
                self.finish_saving(&hw.save()?)?;
                None
            }
            (StopCopy, Stop) | (PreCopy, Running) | (PreCopyP2p, RunningP2p) => {
                self.end_transfer();
                None
            }
            (Stop, Resuming) => {
                Some(self.start_resuming(desc, hw.wqs(), hw.config_after_reset(), log.clone())?)
            }
            (Resuming, Stop) => {
                self.load_resumed(hw).map_err(|r| r.log(log))?;
                self.end_transfer();
                None
            }
            // The VFIO core only asks for the arcs above.
            (from, to) => {
                log.warn_once(fmt!("migration: no arc {} -> {}", from.name(), to.name()));
                return Err(EINVAL);
            }
        };
        self.state = next;
        Ok(file)
    }

    /// Returns whether the device runs: executes descriptors and commands.
    /// In STOP, STOP_COPY and RESUMING it must not change.
    pub(crate) fn running(&self) -> bool {
        Self::runs_in(self.state)
    }

    /// Returns whether a device in `state` runs.
    pub(crate) fn runs_in(state: MigState) -> bool {
        matches!(
            state,
            MigState::Running | MigState::RunningP2p | MigState::PreCopy | MigState::PreCopyP2p
        )
    }

    /// Ends any data transfer session (its file fails with `-ENODEV` from
    /// now on) and returns to RUNNING, as reset and close do.
    pub(crate) fn end(&mut self) {
        self.end_transfer();
        self.state = MigState::Running;
    }

    /// Ends the data transfer session, if any: its file is dead from now
    /// on, and its buffers are freed even if user space keeps it open.
    fn end_transfer(&mut self) {
        match core::mem::replace(&mut self.transfer, Transfer::Idle) {
            Transfer::Idle => {}
            Transfer::Saving(file) => file.inner.lock().end(),
            Transfer::Resuming(file) => file.inner.lock().end(),
        }
    }

    /// Starts saving: a data file for user space to read `stream` from,
    /// with `complete` telling whether that is all of it (STOP_COPY) or
    /// only the header (PRE_COPY).
    pub(crate) fn start_saving(
        &mut self,
        stream: KVVec<u8>,
        complete: bool,
        device: &vfio::DeviceRef,
    ) -> Result<StreamFile> {
        self.end_transfer();
        let file = Arc::pin_init(
            pin_init!(SaveFile {
                inner <- new_mutex!(Saving {
                    data: stream,
                    pos: 0,
                    complete,
                    ended: false,
                }),
                device: device.clone(),
            }),
            GFP_KERNEL_ACCOUNT,
        )?;
        let fd = StreamFile::new(c"dsa_mdev_mig", file.clone(), Direction::Read)?;
        self.transfer = Transfer::Saving(file);
        Ok(fd)
    }

    /// Adds the body to the stream of the saving session (PRE_COPY_P2P to
    /// STOP_COPY), after which the stream is complete.
    pub(crate) fn finish_saving(&mut self, body: &[u8]) -> Result {
        let Transfer::Saving(file) = &self.transfer else {
            return Err(EINVAL);
        };
        let mut s = file.inner.lock();
        s.data.extend_from_slice(body, GFP_KERNEL_ACCOUNT)?;
        s.complete = true;
        Ok(())
    }

    /// Returns how many bytes the saving session still has to deliver to
    /// complete STOP_COPY (a whole stream of `full` bytes if none runs).
    pub(crate) fn remaining(&self, full: usize, body: usize) -> usize {
        match &self.transfer {
            Transfer::Saving(file) => {
                let s = file.inner.lock();
                let left = s.data.len().saturating_sub(s.pos);
                if s.complete {
                    left
                } else {
                    left + body
                }
            }
            _ => full,
        }
    }

    /// Starts resuming: a data file for user space to write a stream for
    /// `target` (a device with `wqs` WQs) into.
    pub(crate) fn start_resuming(
        &mut self,
        target: DeviceDesc,
        wqs: usize,
        cfg: PciConfig,
        log: Arc<Log>,
    ) -> Result<StreamFile> {
        self.end_transfer();
        // Charged to the user who asked for the session; up to 544 KiB for
        // 4096 WQs, hence kvmalloc.
        let dsa = Dsa::with_table(wqs, |reset, n| {
            KVVec::from_elem(reset, n, GFP_KERNEL_ACCOUNT)
        })?;
        // The longest stream this target takes, so that writes do not
        // reallocate.
        let data = KVVec::with_capacity(
            HEADER_SIZE.saturating_add(body_len(wqs)),
            GFP_KERNEL_ACCOUNT,
        )?;
        let file = Arc::pin_init(
            pin_init!(ResumeFile {
                inner <- new_mutex!(Resuming {
                    data,
                    resume: Resume::new(target, wqs),
                    cfg,
                    dsa,
                    loaded: false,
                    refused: None,
                    ended: false,
                }),
                log,
            }),
            GFP_KERNEL_ACCOUNT,
        )?;
        let fd = StreamFile::new(c"dsa_mdev_mig", file.clone(), Direction::Write)?;
        self.transfer = Transfer::Resuming(file);
        Ok(fd)
    }

    /// Loads the body of the resuming session's stream into `hw`, if the
    /// stream is complete and was accepted; else says why not. The state
    /// the last write checked and loaded into the session's model moves
    /// into `hw` as it is: it is not checked again.
    fn load_resumed(&self, hw: &mut Hw) -> Result<(), Refused> {
        const STEP: &str = "cannot leave RESUMING";
        let incomplete = Refusal::Incomplete {
            got: 0,
            want: HEADER_SIZE,
        };
        let Transfer::Resuming(file) = &self.transfer else {
            return Err(Refused::stream(STEP, incomplete));
        };
        let mut guard = file.inner.lock();
        let r = &mut *guard;
        if r.refused.is_some() {
            return Err(Refused::logged());
        }
        if r.loaded {
            r.loaded = false;
            if hw.adopt(&mut r.cfg, &mut r.dsa) {
                return Ok(());
            }
        }
        let body = r
            .resume
            .body(&r.data)
            .map_err(|why| Refused::stream(STEP, why))?;
        hw.load(body).map_err(|why| Refused::stream(STEP, why))
    }
}

/// The stream of the device `desc` whose function is `hw`: its header, and
/// with `body` the body for its state, saved in place.  Charged to the user.
fn stream(desc: DeviceDesc, hw: &Hw, body: bool) -> Result<KVVec<u8>> {
    let header = Header {
        device: desc,
        flags: if hw.enabled() { FLAG_ENABLED } else { 0 },
        // At most 572 + 64 * 4096 bytes.
        body_len: u32::try_from(body_len(hw.wqs())).unwrap_or(u32::MAX),
    }
    .encode();
    let body_len = if body { body_len(hw.wqs()) } else { 0 };
    let mut stream =
        KVVec::with_capacity(header.len().saturating_add(body_len), GFP_KERNEL_ACCOUNT)?;
    stream.extend_from_slice(&header, GFP_KERNEL_ACCOUNT)?;
    if body {
        hw.save_to(&mut stream)?;
    }
    Ok(stream)
}

/// What a saving data file holds.
struct Saving {
    /// The stream so far.
    data: KVVec<u8>,
    /// How much of it user space has read.
    pos: usize,
    /// Whether `data` is the whole stream (STOP_COPY) or only its header
    /// (PRE_COPY).
    complete: bool,
    /// The session ended: the file is dead.
    ended: bool,
}

impl Saving {
    /// The session ended: the file is dead, its stream freed.
    fn end(&mut self) {
        self.ended = true;
        self.data = KVVec::new();
        self.pos = 0;
    }
}

/// The data file of a saving session (PRE_COPY, STOP_COPY).
#[pin_data]
pub(crate) struct SaveFile {
    #[pin]
    inner: Mutex<Saving>,
    /// The device, whose `VFIO_MIG_GET_PRECOPY_INFO` setting each request
    /// reads.
    device: vfio::DeviceRef,
}

#[vtable]
impl stream_file::Ops for SaveFile {
    type OwnerModule = DsaMdev;

    fn read(this: ArcBorrow<'_, Self>, out: &mut UserSliceWriter) -> Result<usize> {
        let mut s = this.inner.lock();
        if s.ended {
            return Err(ENODEV);
        }
        let pending = s.data.get(s.pos..).unwrap_or(&[]);
        if pending.is_empty() {
            // The end of the stream; in PRE_COPY a temporary one.
            return if s.complete { Ok(0) } else { Err(ENOMSG) };
        }
        let n = pending.len().min(out.len());
        out.write_slice(&pending[..n])?;
        s.pos = s.pos.saturating_add(n);
        Ok(n)
    }

    fn ioctl(this: ArcBorrow<'_, Self>, cmd: u32, arg: UserPtr) -> Result<isize> {
        if cmd != vfio::MIG_GET_PRECOPY_INFO {
            return Err(ENOTTY);
        }
        let request = vfio::PrecopyInfo::read(arg, &this.device)?;
        let initial = {
            let s = this.inner.lock();
            if s.ended || s.complete {
                // Not in a PRE_COPY state (any more), as the uAPI words it.
                return Err(EINVAL);
            }
            s.data.len().saturating_sub(s.pos) as u64
        };
        request.reply(initial, 0)
    }
}

/// What a resuming data file holds.
struct Resuming {
    /// The stream so far.
    data: KVVec<u8>,
    /// The checks as it arrives.
    resume: Resume,
    /// The target's configuration space after reset, into which the
    /// stream's is loaded once checked.
    cfg: PciConfig,
    /// A model like the target's, into which the stream's registers and
    /// WQ table are loaded once checked.
    dsa: Dsa<KVVec<WqCfg>>,
    /// `cfg` and `dsa` hold the whole stream's state, checked: RESUMING
    /// -> STOP moves them into the device.
    loaded: bool,
    /// Why the stream was refused, if it was.
    refused: Option<Refusal>,
    /// The session ended: the file is dead.
    ended: bool,
}

impl Resuming {
    /// The session ended: the file is dead, its buffers freed.
    fn end(&mut self) {
        self.ended = true;
        self.data = KVVec::new();
        self.dsa = Dsa::new(KVVec::new());
        self.loaded = false;
    }
}

/// The data file of a resuming session.
#[pin_data]
pub(crate) struct ResumeFile {
    #[pin]
    inner: Mutex<Resuming>,
    log: Arc<Log>,
}

impl ResumeFile {
    /// Refuses the stream: logs why, once, and fails from now on.
    fn refuse(&self, r: &mut Resuming, why: Refusal) -> Error {
        let errno = Refused::stream("migration refused", why).log(&self.log);
        r.refused = Some(why);
        errno
    }
}

#[vtable]
impl stream_file::Ops for ResumeFile {
    type OwnerModule = DsaMdev;

    fn write(this: ArcBorrow<'_, Self>, input: &mut UserSliceReader) -> Result<usize> {
        let mut guard = this.inner.lock();
        let r = &mut *guard;
        if r.ended {
            return Err(ENODEV);
        }
        if r.refused.is_some() {
            // Logged when it was refused.
            return Err(EINVAL);
        }
        let n = input.len();
        // The header first, so that a stream for another device is refused
        // for what it is, not for its length.
        let mut head = 0;
        if r.resume.expected().is_none() {
            head = HEADER_SIZE.saturating_sub(r.data.len()).min(n);
            append(&mut r.data, input, head)?;
            if let Err(why) = r.resume.advance(&r.data) {
                return Err(this.refuse(r, why));
            }
        }
        let rest = input.len();
        if rest > 0 {
            let got = r.data.len().saturating_add(rest);
            // The header is complete if anything is left.
            let want = r.resume.expected().unwrap_or(HEADER_SIZE);
            if got > want {
                return Err(this.refuse(r, Refusal::TooLong { got, want }));
            }
            if let Err(e) = append_all(&mut r.data, input) {
                // What the header took stays taken: a short write.
                return if head > 0 { Ok(head) } else { Err(e) };
            }
        }
        if let Ok(body) = r.resume.body(&r.data) {
            // Checked and loaded once, here; RESUMING -> STOP only moves
            // the result into the device.
            match load_body(&mut r.cfg, &mut r.dsa, body) {
                Ok(()) => r.loaded = true,
                Err(why) => return Err(this.refuse(r, why)),
            }
        }
        Ok(n)
    }
}

/// Appends what is left of `input` to `data`: all of it, or none. The
/// bytes are copied into `data`'s spare room as they are, without zeroing
/// it first (`append` does).
fn append_all(data: &mut KVVec<u8>, input: &mut UserSliceReader) -> Result {
    let n = input.len();
    input.clone_reader().read_all(data, GFP_KERNEL_ACCOUNT)?;
    input.skip(n)
}

/// Appends `n` bytes from `input` to `data`: all of them, or none.
fn append(data: &mut KVVec<u8>, input: &mut UserSliceReader, n: usize) -> Result {
    let old = data.len();
    data.resize(old.checked_add(n).ok_or(EINVAL)?, 0, GFP_KERNEL_ACCOUNT)?;
    input
        .read_slice(&mut data[old..])
        .inspect_err(|_| data.truncate(old))
}
