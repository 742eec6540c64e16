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
    fn other_instructions_are_not_markers() {
        // The 7-byte padding no-op that compilers emit: displacement 0.
        assert_eq!(decode(&[0x0f, 0x1f, 0x80, 0, 0, 0, 0]), None);
        // Another addressing mode, a wrong magic, a wrong length.
        assert_eq!(decode(&[0x0f, 0x1f, 0x84, 0x01, 0x00, 0x57, 0xda]), None);
        assert_eq!(decode(&[0x0f, 0x1f, 0x80, 0x01, 0x00, 0x58, 0xda]), None);
        assert_eq!(decode(&[0x0f, 0x1f, 0x80, 0x01, 0x00, 0x57]), None);
    }
}
