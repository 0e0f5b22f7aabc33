// SPDX-License-Identifier: GPL-2.0

//! The header of the migration stream: what a source writes first (at the
//! start of PRE_COPY and of STOP_COPY) and what a target checks before it
//! accepts anything else.
//!
//! Layout (little-endian, [`HEADER_SIZE`] bytes):
//!
//! ```text
//! offset size field
//!      0    8 magic        "DSAMDEV\0"
//!      8    2 major        stream major version
//!     10    2 minor        stream minor version
//!     12    4 device_api   1 = vfio-pci
//!     16    4 base         k of dsa-<k>dwq
//!     20    4 aggregator
//!     24    4 wqs          base * aggregator
//!     28    4 flags        bit 0: the device was enabled; others zero
//!     32    4 body_len     bytes that follow the header
//!     36    4 crc          CRC-32C of bytes 0-35
//! ```
//!
//! The body ([`body_len`] bytes for a device with `n` WQs) follows:
//!
//! ```text
//! offset      size    field
//!      0       256    PCI configuration space
//!    256         4    GENCFG
//!    260         4    GENCTRL
//!    264         4    enabled (0 or 1; GENSTS.state)
//!    268         4    INTCAUSE
//!    272         4    CMD (the last command written)
//!    276         4    CMDSTS
//!    280        32    SWERR, four quadwords
//!    312       256    MSI-X permission table, a u32 per vector (64)
//!    568      64 n    WQCFG, one 64-byte entry per WQ
//! 568+64n     72 n    portal slots (version 1.1), one per WQ:
//!                     u32 mask (a bit per 4-byte word written; 0: none
//!                     pending), u32 offset in the WQ's portal pages,
//!                     64 bytes written so far (0 where not written)
//! 568+136n       4    CRC-32C of the body's bytes before it
//! ```
//!
//! A version 1.0 stream has no portal slots (its CRC is at 568+64n): a
//! target of this version loads it with none pending.
//!
//! The engine executes each descriptor before the portal write that
//! submits it returns, so nothing is ever in flight: the registers, the WQ
//! table and the slots a WQ is receiving in pieces are the whole state.
//! The MSI-X eventfds belong to the user, who sets them again on the
//! target, as with any `vfio-pci` device.

use super::{
    compat::{
        incompatibilities,
        DeviceDesc,
        Fix,
        Incompatible,
        Version, //
    },
    crc32c::crc32c,
    le,
    model::{
        Dsa,
        StateError,
        WqTable,
        SAVED_REGS_BYTES,
        SAVED_SLOT_BYTES,
        WQCFG_BYTES, //
    },
    pci::{
        PciConfig,
        CONFIG_SIZE, //
    },
    types::{
        wqs_for,
        BASES, //
    },
};
use core::fmt;

/// The migration stream version this driver writes and reads.
///
/// 1.1 added the portal slots a WQ is receiving in pieces to the body.
pub const STREAM_VERSION: Version = Version { major: 1, minor: 1 };

/// The header's size.
pub const HEADER_SIZE: usize = 40;
/// The magic the stream starts with.
pub const MAGIC: [u8; 8] = *b"DSAMDEV\0";
/// `device_api`: vfio-pci.
pub const API_VFIO_PCI: u32 = 1;
/// Flag: the device was enabled when the state was saved.
pub const FLAG_ENABLED: u32 = 1;
/// The flags this version knows.
const FLAGS_KNOWN: u32 = FLAG_ENABLED;

/// A decoded header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The source device.
    pub device: DeviceDesc,
    /// `FLAG_*`.
    pub flags: u32,
    /// The length of what follows.
    pub body_len: u32,
}

/// Why a target refuses a stream, for the log line and the `-EINVAL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Fewer bytes than a header.
    Truncated {
        /// How many there were.
        got: usize,
    },
    /// Not a dsa_mdev stream.
    BadMagic,
    /// The header's checksum does not match: corrupted.
    BadChecksum,
    /// A device API other than vfio-pci.
    DeviceApi(u32),
    /// Flags this version does not know.
    UnknownFlags(u32),
    /// The base is not one of a dsa_mdev type's (1, 2, 4, 8).
    Base(u32),
    /// The WQ count is not base times aggregator.
    WqCount {
        /// What the header says.
        wqs: u32,
    },
    /// The source cannot migrate to this target (the ratio rule or the
    /// version rule); the first reason, and the source for the fix.
    Incompatible(Incompatible, DeviceDesc),
    /// The header's body length is not the one for its WQ count.
    BodyLength {
        /// What the header says.
        got: u32,
        /// What the WQ count needs.
        want: usize,
    },
    /// More bytes than the header announced.
    TooLong {
        /// The stream's length so far.
        got: usize,
        /// Header and body.
        want: usize,
    },
    /// The stream ended before its body did.
    Incomplete {
        /// How many bytes arrived.
        got: usize,
        /// Header and body.
        want: usize,
    },
    /// The body's checksum does not match: corrupted.
    BodyChecksum,
    /// The saved configuration space has read-only bits other than this
    /// device's, from the first differing offset.
    Config(usize),
    /// The saved registers or WQ table are not a state this device can be
    /// in.
    State(StateError),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { got } => write!(
                f,
                "stream truncated: {got} bytes, a header needs {HEADER_SIZE}"
            ),
            Self::BadMagic => write!(f, "not a dsa_mdev migration stream (bad magic)"),
            Self::BadChecksum => write!(f, "stream header corrupted (checksum mismatch)"),
            Self::DeviceApi(api) => write!(f, "stream for device API {api}, not vfio-pci"),
            Self::UnknownFlags(flags) => write!(f, "stream header has unknown flags {flags:#x}"),
            Self::Base(base) => write!(
                f,
                "stream header names base {base}, which no dsa_mdev type has (1, 2, 4 or 8)"
            ),
            Self::WqCount { wqs } => {
                write!(
                    f,
                    "stream header says {wqs} WQs, which is not base x aggregator"
                )
            }
            Self::Incompatible(why, source) => match why {
                Incompatible::Base { .. } | Incompatible::Aggregator { .. } => {
                    write!(f, "{why}: {}", Fix(source))
                }
                Incompatible::Major { .. } | Incompatible::Minor { .. } => {
                    write!(f, "{why}: migrate to a host whose driver reads it")
                }
            },
            Self::BodyLength { got, want } => write!(
                f,
                "stream header announces a {got}-byte body, its WQ count needs {want}"
            ),
            Self::TooLong { got, want } => write!(
                f,
                "stream is longer than its header says: {got} bytes, expected {want}"
            ),
            Self::Incomplete { got, want } => {
                write!(f, "stream incomplete: {got} of {want} bytes")
            }
            Self::BodyChecksum => write!(f, "stream body corrupted (checksum mismatch)"),
            Self::Config(at) => write!(
                f,
                "saved config space does not fit this device (read-only byte at {at:#x} differs)"
            ),
            Self::State(e) => write!(f, "{e}"),
        }
    }
}

impl Header {
    /// Encodes the header.
    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        let d = &self.device;
        b[0..8].copy_from_slice(&MAGIC);
        b[8..10].copy_from_slice(&(d.version.major as u16).to_le_bytes());
        b[10..12].copy_from_slice(&(d.version.minor as u16).to_le_bytes());
        b[12..16].copy_from_slice(&API_VFIO_PCI.to_le_bytes());
        b[16..20].copy_from_slice(&d.base.to_le_bytes());
        b[20..24].copy_from_slice(&d.aggregator.to_le_bytes());
        let wqs = wqs_for(d.base, d.aggregator).unwrap_or(0) as u32;
        b[24..28].copy_from_slice(&wqs.to_le_bytes());
        b[28..32].copy_from_slice(&self.flags.to_le_bytes());
        b[32..36].copy_from_slice(&self.body_len.to_le_bytes());
        let crc = !crc32c(!0, &b[..36]);
        b[36..40].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and checks a header on its own (magic, checksum, API, flags,
    /// WQ count), whoever reads it.
    pub fn decode(b: &[u8]) -> Result<Self, Refusal> {
        let Some(h) = b.first_chunk::<HEADER_SIZE>() else {
            // A short stream that does not even start right is not ours.
            if !MAGIC.starts_with(b.get(..8).unwrap_or(b)) {
                return Err(Refusal::BadMagic);
            }
            return Err(Refusal::Truncated { got: b.len() });
        };
        if h[0..8] != MAGIC {
            return Err(Refusal::BadMagic);
        }
        // Fields of the HEADER_SIZE bytes of `h`: never truncated.
        let u32_at = |at| le::u32_at(h, at).ok_or(Refusal::Truncated { got: b.len() });
        if u32_at(36)? != !crc32c(!0, &h[..36]) {
            return Err(Refusal::BadChecksum);
        }
        let api = u32_at(12)?;
        if api != API_VFIO_PCI {
            return Err(Refusal::DeviceApi(api));
        }
        let flags = u32_at(28)?;
        if flags & !FLAGS_KNOWN != 0 {
            return Err(Refusal::UnknownFlags(flags));
        }
        let u16_at = |at| le::u16_at(h, at).ok_or(Refusal::Truncated { got: b.len() });
        let device = DeviceDesc {
            base: u32_at(16)?,
            aggregator: u32_at(20)?,
            version: Version {
                major: u32::from(u16_at(8)?),
                minor: u32::from(u16_at(10)?),
            },
        };
        if !BASES.contains(&device.base) {
            return Err(Refusal::Base(device.base));
        }
        let wqs = u32_at(24)?;
        if wqs_for(device.base, device.aggregator) != Some(wqs as usize) || wqs == 0 {
            return Err(Refusal::WqCount { wqs });
        }
        Ok(Self {
            device,
            flags,
            body_len: u32_at(32)?,
        })
    }

    /// Decodes a header and checks that `target` can receive the stream:
    /// the ratio rule and the version rule.
    pub fn accept(b: &[u8], target: &DeviceDesc) -> Result<Self, Refusal> {
        let header = Self::decode(b)?;
        match incompatibilities(&header.device, target).next() {
            Some(why) => Err(Refusal::Incompatible(why, header.device)),
            None => Ok(header),
        }
    }
}

/// Where the registers are in the body.
const BODY_REGS: usize = CONFIG_SIZE;
/// Where the WQ table is in the body.
const BODY_WQCFG: usize = BODY_REGS + SAVED_REGS_BYTES;

/// The body's length for a device with `wqs` WQs, in a stream of this
/// version ([`STREAM_VERSION`]).
///
/// Saturates instead of overflowing; a device has at most
/// [`MAX_WQS`](super::wq::MAX_WQS) WQs, far below that.
pub const fn body_len(wqs: usize) -> usize {
    body_len_of(STREAM_VERSION.minor, wqs)
}

/// The body's length for a device with `wqs` WQs in a stream of minor
/// version `minor` (of this major): version 1.0 has no portal slots.
pub const fn body_len_of(minor: u32, wqs: usize) -> usize {
    let per_wq = if minor == 0 {
        WQCFG_BYTES as usize
    } else {
        (WQCFG_BYTES as usize).saturating_add(SAVED_SLOT_BYTES)
    };
    BODY_WQCFG
        .saturating_add(wqs.saturating_mul(per_wq))
        .saturating_add(4)
}

/// Writes the body of a device (its configuration space `cfg` and model
/// `dsa`) to `out`, which is [`body_len`] bytes. An `out` too short for
/// the configuration space, the registers and the checksum is left as it
/// is.
pub fn encode_body<W: WqTable>(cfg: &PciConfig, dsa: &Dsa<W>, out: &mut [u8]) {
    let Some((body, crc)) = out.split_last_chunk_mut::<4>() else {
        return;
    };
    let Some((config, rest)) = body.split_first_chunk_mut::<BODY_REGS>() else {
        return;
    };
    let Some((regs, tables)) = rest.split_at_mut_checked(SAVED_REGS_BYTES) else {
        return;
    };
    *config = *cfg.bytes();
    let table_len = dsa.wqs().len().saturating_mul(WQCFG_BYTES as usize);
    let (wqcfg, slots) = tables.split_at_mut(table_len.min(tables.len()));
    dsa.save(regs, wqcfg, slots);
    *crc = (!crc32c(!0, body)).to_le_bytes();
}

/// The parts of a body whose length and checksum were checked: the
/// configuration space, the registers, the WQ table, and the portal slots
/// where the stream's version has them.
struct Parts<'a> {
    config: &'a [u8],
    regs: &'a [u8],
    wqcfg: &'a [u8],
    slots: Option<&'a [u8]>,
}

/// Splits a body for a device with `wqs` WQs, of this version or of
/// version 1.0 (told apart by their lengths, which a header of that
/// version announced), after checking its checksum.
fn split_body(body: &[u8], wqs: usize) -> Result<Parts<'_>, Refusal> {
    let want = body_len(wqs);
    let wrong_length = Refusal::BodyLength {
        got: body.len() as u32,
        want,
    };
    let with_slots = if body.len() == want {
        true
    } else if body.len() == body_len_of(0, wqs) {
        false
    } else {
        return Err(wrong_length);
    };
    // Either length holds the configuration space, the registers, the WQ
    // table and the checksum: the splits below do not fail.
    let (data, crc) = body.split_last_chunk::<4>().ok_or(wrong_length)?;
    if u32::from_le_bytes(*crc) != !crc32c(!0, data) {
        return Err(Refusal::BodyChecksum);
    }
    let (config, rest) = data.split_at_checked(BODY_REGS).ok_or(wrong_length)?;
    let (regs, rest) = rest
        .split_at_checked(SAVED_REGS_BYTES)
        .ok_or(wrong_length)?;
    let table_len = wqs.saturating_mul(WQCFG_BYTES as usize);
    let (wqcfg, slots) = rest.split_at_checked(table_len).ok_or(wrong_length)?;
    Ok(Parts {
        config,
        regs,
        wqcfg,
        slots: with_slots.then_some(slots),
    })
}

/// Checks a body for a device with configuration space `cfg` and model
/// `dsa`, loading nothing: its length, checksum, and that it is a state
/// the device could be in. (The driver loads a body with [`load_body`],
/// which checks it the same way.)
#[cfg(not(MODULE))]
pub fn check_body<W: WqTable>(cfg: &PciConfig, dsa: &Dsa<W>, body: &[u8]) -> Result<(), Refusal> {
    let parts = split_body(body, dsa.wqs().len())?;
    cfg.clone().load(parts.config).map_err(Refusal::Config)?;
    dsa.verify(parts.regs, parts.wqcfg, parts.slots)
        .map_err(Refusal::State)
}

/// Loads a body into `cfg` and `dsa`: all of it, or nothing if
/// [`check_body`] refuses it (for the same reason: the checks are the
/// same, in the same order, each made once).
pub fn load_body<W: WqTable>(
    cfg: &mut PciConfig,
    dsa: &mut Dsa<W>,
    body: &[u8],
) -> Result<(), Refusal> {
    let parts = split_body(body, dsa.wqs().len())?;
    // The configuration space is loaded into a copy, kept only if the
    // registers and WQ table load too (`Dsa::load` is all or nothing).
    let mut loaded = cfg.clone();
    loaded.load(parts.config).map_err(Refusal::Config)?;
    dsa.load(parts.regs, parts.wqcfg, parts.slots)
        .map_err(Refusal::State)?;
    *cfg = loaded;
    Ok(())
}

/// A target's view of the stream as it arrives: the bytes so far, checked
/// as soon as there is something to check.
pub struct Resume {
    target: DeviceDesc,
    wqs: usize,
    /// The accepted header, once its bytes are in.
    header: Option<Header>,
}

impl Resume {
    /// Starts receiving a stream for `target`, a device with `wqs` WQs.
    pub fn new(target: DeviceDesc, wqs: usize) -> Self {
        Self {
            target,
            wqs,
            header: None,
        }
    }

    /// The stream's full length, once the header is known.
    pub fn expected(&self) -> Option<usize> {
        // An accepted header's `body_len` is `body_len(self.wqs)`: small.
        self.header
            .map(|h| HEADER_SIZE.saturating_add(h.body_len as usize))
    }

    /// Checks the stream `so_far` after bytes were added to it: the header
    /// when it is complete, the length always. The body is checked by
    /// [`check_body`] once [`Resume::expected`] bytes are in.
    pub fn advance(&mut self, so_far: &[u8]) -> Result<(), Refusal> {
        let head = so_far.get(..HEADER_SIZE).filter(|_| self.header.is_none());
        if let Some(head) = head {
            let header = Header::accept(head, &self.target)?;
            let want = body_len_of(header.device.version.minor, self.wqs);
            if header.body_len as usize != want {
                return Err(Refusal::BodyLength {
                    got: header.body_len,
                    want,
                });
            }
            self.header = Some(header);
        }
        if let Some(want) = self.expected() {
            if so_far.len() > want {
                return Err(Refusal::TooLong {
                    got: so_far.len(),
                    want,
                });
            }
        }
        Ok(())
    }

    /// The body, if the whole stream is in; else why not.
    pub fn body<'a>(&self, so_far: &'a [u8]) -> Result<&'a [u8], Refusal> {
        let want = self
            .expected()
            .unwrap_or(HEADER_SIZE.saturating_add(body_len(self.wqs)));
        // `want` is at least HEADER_SIZE: the body is there if the whole
        // stream is.
        match so_far.get(HEADER_SIZE..want) {
            Some(body) if self.header.is_some() => Ok(body),
            _ => Err(Refusal::Incomplete {
                got: so_far.len(),
                want,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    fn dev(base: u32, aggregator: u32) -> DeviceDesc {
        DeviceDesc {
            base,
            aggregator,
            version: STREAM_VERSION,
        }
    }

    fn header(base: u32, aggregator: u32) -> [u8; HEADER_SIZE] {
        Header {
            device: dev(base, aggregator),
            flags: FLAG_ENABLED,
            body_len: 1234,
        }
        .encode()
    }

    #[test]
    fn round_trip() {
        let h = Header::decode(&header(2, 15)).unwrap();
        assert_eq!(h.device, dev(2, 15));
        assert_eq!(h.flags, FLAG_ENABLED);
        assert_eq!(h.body_len, 1234);
        assert_eq!(Header::accept(&header(2, 15), &dev(2, 15)), Ok(h));
    }

    #[test]
    fn the_seed_pair_is_refused_with_the_fix() {
        let e = Header::accept(&header(1, 30), &dev(2, 15)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "source is dsa-1dwq, target is dsa-2dwq: recreate the target as dsa-1dwq with aggregator 30"
        );
        let e = Header::accept(&header(2, 3), &dev(2, 4)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "source has aggregator 3, target has aggregator 4: recreate the target as dsa-2dwq with aggregator 3"
        );
    }

    #[test]
    fn versions() {
        let mut newer = dev(1, 1);
        newer.version.minor += 1;
        let b = Header {
            device: newer,
            flags: 0,
            body_len: 0,
        }
        .encode();
        assert!(matches!(
            Header::accept(&b, &dev(1, 1)),
            Err(Refusal::Incompatible(Incompatible::Minor { .. }, _))
        ));
        // An older minor is fine for a newer target.
        let mut target = dev(1, 1);
        target.version.minor += 1;
        assert!(Header::accept(&header(1, 1), &target).is_ok());
        let mut other_major = dev(1, 1);
        other_major.version.major += 1;
        assert!(matches!(
            Header::accept(&header(1, 1), &other_major),
            Err(Refusal::Incompatible(Incompatible::Major { .. }, _))
        ));
    }

    #[test]
    fn every_truncation_and_every_bit_flip_is_refused() {
        let good = header(4, 2);
        for len in 0..HEADER_SIZE {
            assert!(Header::decode(&good[..len]).is_err(), "{len} bytes");
        }
        for bit in 0..HEADER_SIZE * 8 {
            let mut b = good;
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(Header::decode(&b).is_err(), "bit {bit}");
        }
    }

    #[test]
    fn consistent_but_wrong_headers_are_refused() {
        // Re-checksummed after a change, so only the field check can catch
        // it.
        let fix = |mut b: [u8; HEADER_SIZE]| {
            let crc = !crc32c(!0, &b[..36]);
            b[36..40].copy_from_slice(&crc.to_le_bytes());
            b
        };
        let mut b = header(2, 2);
        b[24] = 5;
        assert_eq!(Header::decode(&fix(b)), Err(Refusal::WqCount { wqs: 5 }));
        let mut b = header(2, 2);
        b[12] = 2;
        assert_eq!(Header::decode(&fix(b)), Err(Refusal::DeviceApi(2)));
        let mut b = header(2, 2);
        b[29] = 1;
        assert_eq!(Header::decode(&fix(b)), Err(Refusal::UnknownFlags(0x101)));
        let mut b = header(2, 2);
        b[16] = 4;
        assert_eq!(Header::decode(&fix(b)), Err(Refusal::WqCount { wqs: 4 }));
        // A base no type has, with a consistent WQ count: refused for the
        // base, and the line names no type.
        for base in [0u32, 3, 5, 16, u32::MAX] {
            let mut b = header(2, 2);
            b[16..20].copy_from_slice(&base.to_le_bytes());
            b[24..28].copy_from_slice(&base.wrapping_mul(2).to_le_bytes());
            let e = Header::decode(&fix(b)).unwrap_err();
            assert_eq!(e, Refusal::Base(base));
            assert!(!e.to_string().contains("dwq"), "{e}");
        }
    }
}
