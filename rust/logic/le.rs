// SPDX-License-Identifier: GPL-2.0

//! Little-endian fields at byte offsets of a slice: the descriptors, the
//! configuration space, the saved registers and the migration stream.
//!
//! Nothing here panics: a reader returns `None` and a writer writes nothing
//! and returns `None` when the field is not all in the slice, and the
//! caller takes the path it takes for any other malformed input.

/// Returns the `N` bytes at `at` of `b`, or `None` if they are not all in
/// `b`.
pub fn bytes_at<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..)?.first_chunk().copied()
}

/// Returns the little-endian `u16` at `at` of `b`, or `None` if it is not
/// all in `b`.
pub fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    bytes_at(b, at).map(u16::from_le_bytes)
}

/// Returns the little-endian `u32` at `at` of `b`, or `None` if it is not
/// all in `b`.
pub fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    bytes_at(b, at).map(u32::from_le_bytes)
}

/// Returns the little-endian `u64` at `at` of `b`, or `None` if it is not
/// all in `b`.
pub fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    bytes_at(b, at).map(u64::from_le_bytes)
}

/// Writes the `N` bytes `v` at `at` of `b`; returns `None`, writing
/// nothing, if they do not all fit.
pub fn put_bytes<const N: usize>(b: &mut [u8], at: usize, v: [u8; N]) -> Option<()> {
    *b.get_mut(at..)?.first_chunk_mut()? = v;
    Some(())
}

/// Writes `v` little-endian at `at` of `b`; returns `None`, writing
/// nothing, if it does not all fit.
pub fn put32(b: &mut [u8], at: usize, v: u32) -> Option<()> {
    put_bytes(b, at, v.to_le_bytes())
}

/// Writes `v` little-endian at `at` of `b`; returns `None`, writing
/// nothing, if it does not all fit.
pub fn put64(b: &mut [u8], at: usize, v: u64) -> Option<()> {
    put_bytes(b, at, v.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_range_and_out_of_range() {
        let mut b = [0u8; 12];
        assert_eq!(put32(&mut b, 0, 0x0403_0201), Some(()));
        assert_eq!(put64(&mut b, 4, 0x0c0b_0a09_0807_0605), Some(()));
        assert_eq!(b, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        assert_eq!(u16_at(&b, 10), Some(0x0c0b));
        assert_eq!(u32_at(&b, 8), Some(0x0c0b_0a09));
        assert_eq!(u64_at(&b, 4), Some(0x0c0b_0a09_0807_0605));
        // Past the end, partly or wholly, or at an offset that would wrap.
        assert_eq!(u16_at(&b, 11), None);
        assert_eq!(u32_at(&b, 9), None);
        assert_eq!(u64_at(&b, 5), None);
        assert_eq!(u32_at(&b, 13), None);
        assert_eq!(u32_at(&b, usize::MAX), None);
        assert_eq!(put32(&mut b, 9, !0), None);
        assert_eq!(put64(&mut b, usize::MAX, !0), None);
        assert_eq!(b, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    }
}
