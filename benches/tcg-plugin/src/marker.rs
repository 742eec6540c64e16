// SPDX-License-Identifier: GPL-2.0
//! The marker instruction: `nopl 0xda57TTTT(%rax)`, encoded `0f 1f 80` and a 32-bit
//! little-endian displacement whose upper half is [`MAGIC`] and lower half the tag.
//! Guests execute it with `.byte 0x0f, 0x1f, 0x80; .long 0xda570000 + TAG` (see
//! benches/compare/workload.c).

/// Length of the marker instruction in bytes.
pub const LEN: usize = 7;
/// The displacement's upper 16 bits.
pub const MAGIC: u16 = 0xda57;
/// A marker that writes the counts.
pub const TAG_SNAPSHOT: u16 = 1;
/// A marker that writes the counts and the profiled vCPU's blocks, then zeroes those.
pub const TAG_PROFILE: u16 = 2;

// The truth's markers ([`crate::truth`]), which write no `mark` line. The guest passes a
// number to the plugin as 16 nibble markers, most significant first, then the marker
// that takes it.

/// Writes the truth over the range, the number being the aggregation interval in us.
pub const TAG_TRUTH: u16 = 3;
/// The number is the first byte of the reported range (guest-physical).
pub const TAG_RANGE_START: u16 = 4;
/// The number is the end (exclusive) of the reported range.
pub const TAG_RANGE_END: u16 = 5;
/// Writes one frame's times, the number being its frame number.
pub const TAG_PAGE: u16 = 6;
/// Writes the plugin's clock.
pub const TAG_STAMP: u16 = 7;
/// Nibble markers: tags `TAG_NIBBLE..TAG_NIBBLE + 16` shift their low 4 bits into the
/// number.
pub const TAG_NIBBLE: u16 = 0x10;

/// The 4-bit digit of a nibble marker's tag.
pub fn nibble(tag: u16) -> Option<u64> {
    (TAG_NIBBLE..TAG_NIBBLE + 16)
        .contains(&tag)
        .then(|| u64::from(tag - TAG_NIBBLE))
}

/// The tag of a marker instruction, or `None` for any other instruction.
pub fn decode(insn: &[u8]) -> Option<u16> {
    match *insn {
        [0x0f, 0x1f, 0x80, t0, t1, m0, m1] if u16::from_le_bytes([m0, m1]) == MAGIC => {
            Some(u16::from_le_bytes([t0, t1]))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_decode_to_their_tag() {
        assert_eq!(decode(&[0x0f, 0x1f, 0x80, 0x01, 0x00, 0x57, 0xda]), Some(1));
        assert_eq!(
            decode(&[0x0f, 0x1f, 0x80, 0x34, 0x12, 0x57, 0xda]),
            Some(0x1234)
        );
    }

    #[test]
    fn nibbles_carry_four_bits() {
        assert_eq!(nibble(0x10), Some(0));
        assert_eq!(nibble(0x1f), Some(15));
        assert_eq!(nibble(0x20), None);
        assert_eq!(nibble(TAG_TRUTH), None);
    }

    #[test]
    fn other_instructions_are_not_markers() {
        // The 7-byte padding no-op that compilers emit: displacement 0.
        assert_eq!(decode(&[0x0f, 0x1f, 0x80, 0, 0, 0, 0]), None);
        // Another addressing mode, a wrong magic, a wrong length.
        assert_eq!(decode(&[0x0f, 0x1f, 0x84, 0x01, 0x00, 0x57, 0xda]), None);
        assert_eq!(decode(&[0x0f, 0x1f, 0x80, 0x01, 0x00, 0x58, 0xda]), None);
        assert_eq!(decode(&[0x0f, 0x1f, 0x80, 0x01, 0x00, 0x57]), None);
    }
}
