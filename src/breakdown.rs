// SPDX-License-Identifier: GPL-2.0

//! `/sys/module/damon_stat/breakdown/`: what the hot memory is, beside upstream's five
//! parameters (see `Documentation/admin-guide.rst`).
//!
//! kdamond publishes every figure at each refresh into [`BREAKDOWN`] (one seqlock, one
//! consistent set); the files read it without locks.

use crate::ffi::probe;
use crate::ffi::sysfs::{Dir, DirFiles, FileSpec, GroupName, GroupSpec};
use crate::logic::breakdown::{layout, write_cgroups, CGROUPS_TEXT_MAX, MAX_NODES, NR_CLASSES};
use crate::logic::param_format::{write_list, ParamWriter};
use crate::logic::percentiles::NR_PERCENTILES;
use crate::logic::published::SeqWords;
use core::fmt::{self, Write};
use kernel::alloc::KVVec;
use kernel::c_str;
use kernel::prelude::*;

/// The published breakdown: [`layout`] says where each figure is.
pub(crate) static BREAKDOWN: SeqWords<{ layout::WORDS }> = SeqWords::new();

/// The directory's files, by id.
#[derive(Clone, Copy)]
enum File {
    Generation,
    /// A node's monitored bytes, bandwidth or percentiles (`field` 0, 1, 2).
    Node {
        nid: usize,
        field: usize,
    },
    /// The bytes of a class (`class` < [`NR_CLASSES`]) or the samples (`NR_CLASSES`),
    /// of accessed (`state` 0) or idle (1) memory.
    Sampled {
        state: usize,
        class: usize,
    },
}

/// Files per node directory.
const NODE_FILES: usize = 3;
/// The first id of the node files.
const NODE_IDS: usize = 1;
/// The first id of the sampled files.
const SAMPLED_IDS: usize = NODE_IDS + MAX_NODES * NODE_FILES;

impl File {
    fn id(self) -> usize {
        match self {
            File::Generation => 0,
            File::Node { nid, field } => NODE_IDS + nid * NODE_FILES + field,
            File::Sampled { state, class } => SAMPLED_IDS + state * layout::CLASS_WORDS + class,
        }
    }

    fn from_id(id: usize) -> Option<Self> {
        if id == 0 {
            Some(File::Generation)
        } else if id < SAMPLED_IDS {
            let k = id - NODE_IDS;
            Some(File::Node {
                nid: k / NODE_FILES,
                field: k % NODE_FILES,
            })
        } else {
            let k = id - SAMPLED_IDS;
            (k < 2 * layout::CLASS_WORDS).then_some(File::Sampled {
                state: k / layout::CLASS_WORDS,
                class: k % layout::CLASS_WORDS,
            })
        }
    }
}

/// One published word.
fn word(index: usize) -> u64 {
    let mut out = [0u64];
    BREAKDOWN.read(index, &mut out);
    out[0]
}

/// The files' contents.
pub(crate) struct BreakdownFiles;

impl DirFiles for BreakdownFiles {
    fn show(id: usize, out: &mut ParamWriter<'_>) -> fmt::Result {
        match File::from_id(id).ok_or(fmt::Error)? {
            File::Generation => writeln!(out, "{}", word(layout::GENERATION)),
            File::Node { nid, field: 2 } => {
                let mut bits = [0u64; NR_PERCENTILES];
                BREAKDOWN.read(layout::node(nid) + 2, &mut bits);
                // The words hold the bits of the signed percentiles.
                write_list(out, &bits.map(|b| i64::from_ne_bytes(b.to_ne_bytes())))
            }
            File::Node { nid, field } => writeln!(out, "{}", word(layout::node(nid) + field)),
            File::Sampled { state, class } => writeln!(
                out,
                "{}",
                word(layout::SAMPLED + state * layout::CLASS_WORDS + class)
            ),
        }
    }

    fn read_table(offset: usize, buf: &mut [u8]) -> Result<usize> {
        // Formatted anew at each read from one consistent copy; a reader whose reads
        // straddle a refresh sees the first and last lines' generations differ.
        let mut table = KVVec::from_elem(0u64, layout::TABLE_WORDS, GFP_KERNEL)?;
        BREAKDOWN.read(layout::GENERATION, &mut table);
        let mut text = KVVec::from_elem(0u8, CGROUPS_TEXT_MAX, GFP_KERNEL)?;
        let mut writer = ParamWriter::new(&mut text);
        write_cgroups(&mut writer, &table).map_err(|_| EFBIG)?;
        let len = writer.bytes_written();
        let rest = text.get(offset.min(len)..len).unwrap_or(&[]);
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }
}

/// The names of a node directory's files, in field order.
const NODE_FILE_NAMES: [&CStr; NODE_FILES] = [
    c_str!("monitored_bytes"),
    c_str!("estimated_memory_bandwidth"),
    c_str!("memory_idle_ms_percentiles"),
];

/// The names of the sampled files, in class order, then the samples.
const SAMPLED_FILE_NAMES: [&CStr; NR_CLASSES + 1] = [
    c_str!("anon_base_bytes"),
    c_str!("anon_huge_bytes"),
    c_str!("file_base_bytes"),
    c_str!("file_huge_bytes"),
    c_str!("other_bytes"),
    c_str!("samples"),
];

/// `node<nid>`, NUL-terminated.
fn node_dir_name(nid: usize) -> Result<GroupName> {
    let mut name = [0u8; 16];
    let mut w = ParamWriter::new(&mut name[..15]);
    write!(w, "node{nid}").map_err(|_| EINVAL)?;
    Ok(name)
}

/// Creates the directory, with a directory per possible node (at most [`MAX_NODES`]).
pub(crate) fn create(module: &'static ThisModule) -> Result<Dir<BreakdownFiles>> {
    let nodes = probe::nr_node_ids().min(MAX_NODES);
    let root = [FileSpec {
        name: c_str!("generation"),
        id: File::Generation.id(),
    }];
    let mut sampled = KVVec::with_capacity(2 * SAMPLED_FILE_NAMES.len(), GFP_KERNEL)?;
    for state in 0..2 {
        for (class, name) in SAMPLED_FILE_NAMES.into_iter().enumerate() {
            sampled.push(
                FileSpec {
                    name,
                    id: File::Sampled { state, class }.id(),
                },
                GFP_KERNEL,
            )?;
        }
    }
    let mut node_files = KVVec::with_capacity(nodes * NODE_FILES, GFP_KERNEL)?;
    for nid in 0..nodes {
        for (field, name) in NODE_FILE_NAMES.into_iter().enumerate() {
            node_files.push(
                FileSpec {
                    name,
                    id: File::Node { nid, field }.id(),
                },
                GFP_KERNEL,
            )?;
        }
    }
    let (accessed, idle) = sampled.split_at(SAMPLED_FILE_NAMES.len());
    let mut groups = KVVec::with_capacity(3 + nodes, GFP_KERNEL)?;
    // The unnamed group comes first: the table file goes with it.
    groups.push(
        GroupSpec {
            name: None,
            files: &root,
        },
        GFP_KERNEL,
    )?;
    groups.push(
        GroupSpec {
            name: Some(*b"accessed\0\0\0\0\0\0\0\0"),
            files: accessed,
        },
        GFP_KERNEL,
    )?;
    groups.push(
        GroupSpec {
            name: Some(*b"idle\0\0\0\0\0\0\0\0\0\0\0\0"),
            files: idle,
        },
        GFP_KERNEL,
    )?;
    for (nid, files) in node_files.chunks(NODE_FILES).enumerate() {
        groups.push(
            GroupSpec {
                name: Some(node_dir_name(nid)?),
                files,
            },
            GFP_KERNEL,
        )?;
    }
    Dir::new(
        module,
        c_str!("breakdown"),
        &groups,
        Some(c_str!("cgroups")),
    )
}
