// SPDX-License-Identifier: GPL-2.0

//! CRC-32C (Castagnoli), as Linux's `crc32c()` computes it: what the
//! engine's CRCGEN and COPY_CRC operations return, and the checksum of the
//! migration stream's header and body.

/// CRC-32C (Castagnoli), reflected, table-driven.
const CRC32C_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut rest: &mut [u32] = &mut table;
    let mut i = 0u32;
    while let [entry, tail @ ..] = rest {
        let mut crc = i;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
            bit += 1;
        }
        *entry = crc;
        rest = tail;
        i += 1;
    }
    table
};

/// Continues a CRC-32C over `data` from `crc`, without pre- or
/// post-inversion (as Linux's `crc32c()`): the standard CRC-32C of `data` is
/// `crc32c(!0, data) ^ !0`.
pub fn crc32c(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        // The table has an entry for each byte value: never the 0.
        let entry = CRC32C_TABLE.get(usize::from(crc as u8 ^ b)).copied();
        crc = (crc >> 8) ^ entry.unwrap_or(0);
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
}
