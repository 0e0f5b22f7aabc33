// SPDX-License-Identifier: GPL-2.0

//! CRC-32C (Castagnoli), as Linux's `crc32c()` computes it: what the
//! engine's CRCGEN and COPY_CRC operations return, and the checksum of the
//! migration stream's header and body.

/// The CRC-32C polynomial, reflected.
const POLY: u32 = 0x82f6_3b78;

/// `TABLES[k][b]`: the CRC (without inversion) of byte `b` followed by `k`
/// zero bytes, from 0. `TABLES[0]` is the classic byte-at-a-time table;
/// with all eight the CRC takes eight bytes per step ("slicing-by-8"), a
/// table look-up per byte and no dependency between them, where a byte at
/// a time makes each look-up wait for the last.
const TABLES: [[u32; 256]; 8] = {
    let mut tables = [[0u32; 256]; 8];
    let mut rest: &mut [[u32; 256]] = &mut tables;
    // Bytes of zeros after the first: 0 for the first table, 7 for the last.
    let mut zeros = 0u32;
    while let [table, tail @ ..] = rest {
        let mut entries: &mut [u32] = table;
        let mut i = 0u32;
        while let [entry, more @ ..] = entries {
            let mut crc = i;
            let mut bit = 0;
            while bit < 8 * (zeros + 1) {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ POLY
                } else {
                    crc >> 1
                };
                bit += 1;
            }
            *entry = crc;
            entries = more;
            i += 1;
        }
        rest = tail;
        zeros += 1;
    }
    tables
};

/// Entry `b` of table `k`.
#[inline(always)]
fn entry(k: usize, b: u32) -> u32 {
    // Eight tables of 256 entries, `b` a byte: never the 0.
    TABLES
        .get(k)
        .and_then(|t| t.get((b & 0xff) as usize))
        .copied()
        .unwrap_or(0)
}

/// Continues a CRC-32C over `data` from `crc`, without pre- or
/// post-inversion (as Linux's `crc32c()`): the standard CRC-32C of `data` is
/// `crc32c(!0, data) ^ !0`.
pub fn crc32c(mut crc: u32, data: &[u8]) -> u32 {
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let Some((lo, hi)) = w.split_first_chunk::<4>() else {
            break;
        };
        let lo = u32::from_le_bytes(*lo) ^ crc;
        let hi = hi.first_chunk::<4>().copied().map_or(0, u32::from_le_bytes);
        crc = entry(7, lo)
            ^ entry(6, lo >> 8)
            ^ entry(5, lo >> 16)
            ^ entry(4, lo >> 24)
            ^ entry(3, hi)
            ^ entry(2, hi >> 8)
            ^ entry(1, hi >> 16)
            ^ entry(0, hi >> 24);
    }
    for &b in words.remainder() {
        crc = (crc >> 8) ^ entry(0, crc ^ u32::from(b));
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_and_continuation() {
        // The CRC-32C check value: "123456789" gives 0xe3069283.
        assert_eq!(crc32c(!0, b"123456789") ^ !0, 0xe306_9283);
        assert_eq!(crc32c(!0, b""), !0);
        // A CRC continues over the rest of the data from where it stopped.
        let data = b"The quick brown fox jumps over the lazy dog";
        for cut in 0..=data.len() {
            let (a, b) = data.split_at(cut);
            assert_eq!(crc32c(crc32c(!0, a), b), crc32c(!0, data));
        }
        assert_eq!(crc32c(!0, data) ^ !0, 0x2262_0404);
    }

    /// A byte at a time, bit by bit: what the tables must agree with.
    fn bitwise(mut crc: u32, data: &[u8]) -> u32 {
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ POLY
                } else {
                    crc >> 1
                };
            }
        }
        crc
    }

    #[test]
    fn eight_bytes_at_a_time_agree_with_one_bit_at_a_time() {
        let data: std::vec::Vec<u8> = (0..1000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for start in 0..9 {
            for len in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 100, 991 - start] {
                let d = &data[start..start + len];
                assert_eq!(crc32c(!0, d), bitwise(!0, d), "{start}+{len}");
                assert_eq!(crc32c(0x1234_5678, d), bitwise(0x1234_5678, d));
            }
        }
    }
}
