// SPDX-License-Identifier: GPL-2.0
//! The plugin's output lines, which benches/compare/report.py parses.

use std::collections::BTreeMap;

use crate::truth::Report;
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

/// `truth n=N ms=MS window_ms=W pages=P hot_pages=H touches=T pct=p0,...,p100
/// huge=F:C,...`: the truth at one moment ([`crate::truth::Report`]); `touches` counts
/// the reported range's touches since the plugin loaded, `huge` is `-` when no frame was
/// accessed within the window.
pub fn truth_line(n: u64, ms: u32, window_ms: u32, touches: u64, r: &Report) -> String {
    let mut line = format!(
        "truth n={n} ms={ms} window_ms={window_ms} pages={} hot_pages={} touches={touches} pct=",
        r.pages, r.hot_pages
    );
    for (i, v) in r.percentiles.iter().enumerate() {
        let _ = write!(line, "{}{v}", if i == 0 { "" } else { "," });
    }
    line.push_str(" huge=");
    if r.huge_frames.is_empty() {
        line.push('-');
    }
    for (i, (frame, count)) in r.huge_frames.iter().enumerate() {
        let _ = write!(line, "{}{frame}:{count}", if i == 0 { "" } else { "," });
    }
    line.push('\n');
    line
}

/// `page pfn=P ms=MS last_ms=L since_ms=S`, or `page pfn=P none` beyond the plugin's
/// memory: one frame's times at the plugin's time MS.
pub fn page_line(pfn: u64, ms: u32, times: Option<(u32, u32)>) -> String {
    match times {
        Some((last, since)) => format!("page pfn={pfn} ms={ms} last_ms={last} since_ms={since}\n"),
        None => format!("page pfn={pfn} none\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truth_line_lists_percentiles_and_frames() {
        let mut r = Report {
            pages: 3,
            hot_pages: 1,
            percentiles: [7; 101],
            huge_frames: vec![(2, 1), (9, 512)],
        };
        let line = truth_line(4, 1000, 200, 55, &r);
        assert!(line.starts_with(
            "truth n=4 ms=1000 window_ms=200 pages=3 hot_pages=1 touches=55 pct=7,7,"
        ));
        assert!(line.ends_with(",7 huge=2:1,9:512\n"));
        r.huge_frames.clear();
        assert!(truth_line(4, 1000, 200, 55, &r).ends_with(" huge=-\n"));
    }

    #[test]
    fn page_line_says_when_out_of_range() {
        assert_eq!(
            page_line(5, 9, Some((3, 1))),
            "page pfn=5 ms=9 last_ms=3 since_ms=1\n"
        );
        assert_eq!(page_line(5, 9, None), "page pfn=5 none\n");
    }

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
