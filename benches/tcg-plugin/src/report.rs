// SPDX-License-Identifier: GPL-2.0
//! The plugin's output lines, which benches/compare/report.py parses.

use std::collections::BTreeMap;
use std::fmt::Write;

/// `mark seq=S tag=T vcpu=V ns=N insns=C0,C1,...`: one executed marker.
pub fn mark_line(seq: u64, tag: u16, vcpu: u32, ns: u128, insns: &[u64]) -> String {
    let mut line = format!("mark seq={seq} tag={tag} vcpu={vcpu} ns={ns} insns=");
    for (i, c) in insns.iter().enumerate() {
        let _ = write!(line, "{}{c}", if i == 0 { "" } else { "," });
    }
    line.push('\n');
    line
}

/// One `block seq=S vcpu=V vaddr=0x... insns=I execs=E` line per guest address whose blocks
/// ran since the last profile, in address order (a block translated again is summed
/// with its earlier copies), then `profile-end seq=S blocks=B instructions=N`.
pub fn profile_lines(seq: u64, vcpu: u32, blocks: impl Iterator<Item = (u64, u64, u64)>) -> String {
    let mut by_addr: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    for (vaddr, insns, execs) in blocks {
        if execs > 0 {
            *by_addr.entry((vaddr, insns)).or_default() += execs;
        }
    }
    let mut text = String::new();
    let mut total = 0u64;
    for ((vaddr, insns), execs) in &by_addr {
        total = total.wrapping_add(insns.wrapping_mul(*execs));
        let _ = writeln!(
            text,
            "block seq={seq} vcpu={vcpu} vaddr={vaddr:#x} insns={insns} execs={execs}"
        );
    }
    let _ = writeln!(
        text,
        "profile-end seq={seq} blocks={} instructions={total}",
        by_addr.len()
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mark_line_lists_every_vcpu() {
        assert_eq!(
            mark_line(3, 1, 0, 42, &[10, 20]),
            "mark seq=3 tag=1 vcpu=0 ns=42 insns=10,20\n"
        );
    }

    #[test]
    fn profile_sums_copies_and_skips_idle_blocks() {
        let blocks = [
            (0x2000, 4, 1),
            (0x1000, 2, 5),
            (0x2000, 4, 2),
            (0x3000, 9, 0),
        ];
        assert_eq!(
            profile_lines(7, 1, blocks.into_iter()),
            "block seq=7 vcpu=1 vaddr=0x1000 insns=2 execs=5\n\
             block seq=7 vcpu=1 vaddr=0x2000 insns=4 execs=3\n\
             profile-end seq=7 blocks=2 instructions=22\n"
        );
    }
}
