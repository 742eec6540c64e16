// SPDX-License-Identifier: GPL-2.0

//! damon_stat's breakdown of its statistics, in `/sys/module/damon_stat/breakdown/`: per NUMA
//! node, per page type (anonymous or page cache, base or huge page) and per memory cgroup.
//!
//! The directory is damon_stat's own: upstream's built-in DAMON_STAT and older damon_stat
//! versions do not have it, and then [`read`] finds nothing and the exporter exports no
//! breakdown metric. Where it exists, every file below is expected; a missing or malformed
//! one is an error, as for the parameters.
//!
//! ```text
//! generation                          refreshes published since the module loaded (0: none)
//! node<N>/monitored_bytes       System RAM of node N that DAMON monitors
//! node<N>/estimated_memory_bandwidth   bytes per second, node N's share
//! node<N>/memory_idle_ms_percentiles   101 values, as the parameter of that name
//! accessed/{anon,file}_{base,huge}_bytes, accessed/other_bytes, accessed/samples
//! idle/...                            the same for memory not accessed
//! cgroups                             a table per memory cgroup (see parse_cgroups)
//! ```
//!
//! The module refreshes everything at once, every 5 s. Reading the files one by one may
//! straddle a refresh, so [`read`] reads `generation` before and after the others and
//! reads again when it changed; `cgroups`, which may be longer than one read, carries its
//! generation at both ends for the same purpose.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::stats::{
    error, io_error, parse_number, parse_percentiles, read_small, read_text, shown, ReadError,
    NR_PERCENTILES,
};

/// How many times a reading that straddled a refresh is made again before giving up.
/// Refreshes come every 5 s and a reading takes well under a millisecond, so a second
/// one virtually always succeeds; five failing in a row mean the files never settle.
pub const MAX_READS: usize = 5;

/// The idle-time thresholds of the `cgroups` table's `idle_<t>s_bytes` columns, seconds.
pub const CGROUP_IDLE_SECONDS: [u32; 4] = [1, 10, 60, 600];

/// The inode number of the root memory cgroup (the root directory of cgroup v2).
pub const ROOT_CGROUP_INO: u64 = 1;

/// The `cgroup` label value of the root cgroup.
pub const ROOT_CGROUP: &str = "/";

/// The `cgroup` label value of memory cgroups that have no directory under the cgroup
/// mount: removed since (a dying cgroup whose memory is still charged to it), or outside
/// the mount's view.
pub const REMOVED_CGROUP: &str = "(removed)";

/// The `cgroups` table holds at most 256 cgroups (a line of at most 7 numbers each); a
/// file longer than this is not that table.
const MAX_CGROUPS_FILE_BYTES: u64 = 1 << 20;

/// One consistent refresh of the breakdown, the cgroups named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breakdown {
    /// The refresh it comes from (`generation`, never 0).
    pub generation: u64,
    /// Per NUMA node, in increasing node order.
    pub nodes: Vec<NodeStats>,
    /// Sampled memory accessed in the last aggregation window (`accessed/`).
    pub accessed: PageTypes,
    /// Sampled memory not accessed (`idle/`).
    pub idle: PageTypes,
    /// Samples whose memory cgroup did not fit the module's table, counted nowhere in
    /// [`Breakdown::cgroups`].
    pub dropped_samples: u64,
    /// Per memory cgroup, in the table's order (by accessed bytes, descending).
    pub cgroups: Vec<CgroupUsage>,
}

/// One NUMA node's share of the statistics (`node<N>/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStats {
    /// The node's number `N`.
    pub node: u32,
    /// `monitored_bytes`: the node's System RAM that DAMON monitors (0: no memory).
    pub monitored_bytes: u64,
    /// `estimated_memory_bandwidth`, bytes per second.
    pub bandwidth_bytes_per_second: u64,
    /// `memory_idle_ms_percentiles`, as the machine-wide parameter: negative for memory
    /// accessed in the last window; all zero for a node without memory.
    pub idle_ms_percentiles: [i64; NR_PERCENTILES],
}

impl NodeStats {
    /// Whether the percentiles hold a result (see [`crate::stats::Stats::has_percentiles`]):
    /// a node without memory publishes all zeros.
    pub fn has_percentiles(&self) -> bool {
        self.idle_ms_percentiles.iter().any(|&ms| ms != 0)
    }
}

/// Sampled bytes of one access state, by page type (`accessed/` or `idle/`): estimates
/// from one folio per DAMON region per aggregation window, relative error about
/// 1/sqrt(samples).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageTypes {
    /// `anon_base_bytes`: anonymous memory in base pages.
    pub anon_base_bytes: u64,
    /// `anon_huge_bytes`: anonymous memory in PMD-mapped huge pages (THP).
    pub anon_huge_bytes: u64,
    /// `file_base_bytes`: page cache in base pages.
    pub file_base_bytes: u64,
    /// `file_huge_bytes`: page cache in huge folios.
    pub file_huge_bytes: u64,
    /// `other_bytes`: neither anonymous nor page cache (kernel memory, free pages, ...).
    pub other_bytes: u64,
    /// `samples`: the (region, window) samples behind the five figures.
    pub samples: u64,
}

/// The files of [`PageTypes`], in field order.
const PAGE_TYPE_FILES: [&str; 6] = [
    "anon_base_bytes",
    "anon_huge_bytes",
    "file_base_bytes",
    "file_huge_bytes",
    "other_bytes",
    "samples",
];

/// One line of the `cgroups` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CgroupRow {
    /// `ino`: the inode number of the cgroup's directory (1: the root cgroup).
    pub ino: u64,
    /// `samples`.
    pub samples: u64,
    /// `accessed_bytes`: bytes accessed in the last window.
    pub accessed_bytes: u64,
    /// `idle_<t>s_bytes` for each of [`CGROUP_IDLE_SECONDS`]: bytes idle for at least
    /// that long.
    pub idle_bytes: [u64; 4],
}

/// The `cgroups` file, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupTable {
    /// `generation G`, equal to `end G`.
    pub generation: u64,
    /// `dropped_samples N`.
    pub dropped_samples: u64,
    /// The data lines, in the file's order.
    pub rows: Vec<CgroupRow>,
}

/// One memory cgroup's figures, named by its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupUsage {
    /// The cgroup's path relative to the cgroup mount ("/" for the root cgroup), or
    /// [`REMOVED_CGROUP`].
    pub cgroup: String,
    /// Samples behind the figures.
    pub samples: u64,
    /// Bytes accessed in the last window.
    pub accessed_bytes: u64,
    /// Bytes idle for at least each of [`CGROUP_IDLE_SECONDS`].
    pub idle_bytes: [u64; 4],
}

/// What is wrong with a `cgroups` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupsProblem {
    /// The first and last lines name different generations: the reading straddled a
    /// refresh. Reading again helps.
    Torn {
        /// `generation G` of the first line.
        start: u64,
        /// `end G` of the last line.
        end: u64,
    },
    /// No `end G` line at the end (or no newline after it): the file was cut short, or a
    /// reading straddled a refresh that made it shorter. Reading again may help.
    Truncated,
    /// Anything else: reading again does not help.
    Malformed(String),
}

/// Parses the `cgroups` table:
///
/// ```text
/// generation 42
/// dropped_samples 0
/// ino samples accessed_bytes idle_1s_bytes idle_10s_bytes idle_60s_bytes idle_600s_bytes
/// 1 120 1048576 0 0 0 0
/// end 42
/// ```
///
/// Columns are found by their names in the header line, so that the module may add
/// columns; each of the seven above must be there, once. The generations at both ends are
/// compared before the lines between are parsed: a torn reading may have a line cut in
/// two anywhere.
pub fn parse_cgroups(text: &str) -> Result<CgroupTable, CgroupsProblem> {
    let malformed =
        |line: usize, what: String| CgroupsProblem::Malformed(format!("line {}: {what}", line + 1));
    let Some(body) = text.strip_suffix('\n') else {
        return Err(CgroupsProblem::Truncated);
    };
    let lines: Vec<&str> = body.split('\n').collect();
    let keyword = |i: usize, key: &str| -> Result<u64, CgroupsProblem> {
        let line = lines[i];
        let number = line
            .strip_prefix(key)
            .and_then(|rest| rest.strip_prefix(' '));
        number.and_then(|n| n.parse().ok()).ok_or_else(|| {
            malformed(
                i,
                format!("expected \"{key} <decimal u64>\", found {}", shown(line)),
            )
        })
    };
    let start = keyword(0, "generation")?;
    let last = lines.len() - 1;
    if last == 0 || !lines[last].starts_with("end") {
        return Err(CgroupsProblem::Truncated);
    }
    let end = keyword(last, "end")?;
    if end != start {
        return Err(CgroupsProblem::Torn { start, end });
    }
    if last < 3 {
        return Err(CgroupsProblem::Malformed(format!(
            "{} lines: expected generation, dropped_samples, the column names and end",
            last + 1
        )));
    }
    let dropped_samples = keyword(1, "dropped_samples")?;

    let columns: Vec<&str> = lines[2].split_whitespace().collect();
    let idle_names = CGROUP_IDLE_SECONDS.map(|s| format!("idle_{s}s_bytes"));
    let mut wanted = vec!["ino", "samples", "accessed_bytes"];
    wanted.extend(idle_names.iter().map(String::as_str));
    let mut index = Vec::with_capacity(wanted.len());
    for name in &wanted {
        match columns.iter().filter(|&c| c == name).count() {
            1 => index.push(columns.iter().position(|c| c == name).unwrap_or(0)),
            0 => {
                return Err(malformed(
                    2,
                    format!("no column {name} in {}", shown(lines[2])),
                ))
            }
            _ => return Err(malformed(2, format!("column {name} appears twice"))),
        }
    }

    let mut rows = Vec::with_capacity(last - 3);
    let mut seen = HashSet::new();
    for (i, line) in lines.iter().enumerate().take(last).skip(3) {
        let mut fields = Vec::with_capacity(columns.len());
        for field in line.split_whitespace() {
            let n = field.parse::<u64>().map_err(|_| {
                malformed(
                    i,
                    format!("{} is not a decimal u64 (in {})", shown(field), shown(line)),
                )
            })?;
            fields.push(n);
        }
        if fields.len() != columns.len() {
            return Err(malformed(
                i,
                format!(
                    "{} values for {} columns: {}",
                    fields.len(),
                    columns.len(),
                    shown(line)
                ),
            ));
        }
        let at = |k: usize| fields[index[k]];
        let row = CgroupRow {
            ino: at(0),
            samples: at(1),
            accessed_bytes: at(2),
            idle_bytes: [at(3), at(4), at(5), at(6)],
        };
        if !seen.insert(row.ino) {
            return Err(malformed(i, format!("ino {} appears twice", row.ino)));
        }
        rows.push(row);
    }
    Ok(CgroupTable {
        generation: start,
        dropped_samples,
        rows,
    })
}

/// Reads the `cgroups` table with `read` (the whole file each time), again while the
/// reading is torn or truncated, at most [`MAX_READS`] times.
pub fn read_cgroups_with(
    path: &Path,
    mut read: impl FnMut() -> Result<String, ReadError>,
) -> Result<CgroupTable, ReadError> {
    let mut problem = CgroupsProblem::Truncated;
    for _ in 0..MAX_READS {
        match parse_cgroups(&read()?) {
            Ok(table) => return Ok(table),
            Err(CgroupsProblem::Malformed(what)) => return Err(error(path, what)),
            Err(p) => problem = p,
        }
    }
    let what = match problem {
        CgroupsProblem::Torn { start, end } => format!(
            "torn in each of {MAX_READS} readings: \"generation {start}\" at the start, \
             \"end {end}\" at the end (refreshed during every reading)"
        ),
        _ => format!(
            "truncated in each of {MAX_READS} readings: the last line is not \
             \"end <generation>\" followed by a newline"
        ),
    };
    Err(error(path, what))
}

/// Calls `read_rest` between two calls of `generation` until both give the same
/// generation, at most [`MAX_READS`] times: `None` when the generation is 0 (nothing
/// published yet), else what `read_rest` read and that generation.
pub fn read_consistent<T>(
    generation_path: &Path,
    mut generation: impl FnMut() -> Result<u64, ReadError>,
    mut read_rest: impl FnMut() -> Result<T, ReadError>,
) -> Result<Option<(u64, T)>, ReadError> {
    let mut before = generation()?;
    for _ in 0..MAX_READS {
        if before == 0 {
            return Ok(None);
        }
        let rest = read_rest()?;
        let after = generation()?;
        if after == before {
            return Ok(Some((after, rest)));
        }
        before = after;
    }
    Err(error(
        generation_path,
        format!(
            "changed during each of {MAX_READS} readings of the breakdown: it should change \
             at most every 5 s"
        ),
    ))
}

/// What one reading of the files gives, before the cgroups are named.
struct Files {
    nodes: Vec<NodeStats>,
    accessed: PageTypes,
    idle: PageTypes,
    cgroups: CgroupTable,
}

/// Reads the breakdown in `dir` (`/sys/module/damon_stat/breakdown`) and names its cgroups from
/// the cgroup v2 mount at `cgroup_root`. `None` when the directory does not exist or
/// nothing has been published yet.
pub fn read(dir: &Path, cgroup_root: &Path) -> Result<Option<Breakdown>, ReadError> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(error(dir, "is not a directory")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(dir, &e)),
    }
    let generation_path = dir.join("generation");
    let generation = || parse_number::<u64>(&generation_path, &required(&generation_path)?);
    let Some((generation, files)) =
        read_consistent(&generation_path, generation, || read_files(dir))?
    else {
        return Ok(None);
    };
    let cgroups = name_cgroups(&files.cgroups.rows, cgroup_root)?;
    Ok(Some(Breakdown {
        generation,
        nodes: files.nodes,
        accessed: files.accessed,
        idle: files.idle,
        dropped_samples: files.cgroups.dropped_samples,
        cgroups,
    }))
}

/// A file of the breakdown, which must exist.
fn required(path: &Path) -> Result<String, ReadError> {
    read_small(path)?.ok_or_else(|| {
        error(
            path,
            "missing, though the breakdown directory exists (a damon_stat of another \
             version?)",
        )
    })
}

fn read_files(dir: &Path) -> Result<Files, ReadError> {
    let page_types = |state: &str| -> Result<PageTypes, ReadError> {
        let mut values = [0u64; PAGE_TYPE_FILES.len()];
        for (slot, name) in values.iter_mut().zip(PAGE_TYPE_FILES) {
            let path = dir.join(state).join(name);
            *slot = parse_number(&path, &required(&path)?)?;
        }
        let [anon_base_bytes, anon_huge_bytes, file_base_bytes, file_huge_bytes, other_bytes, samples] =
            values;
        Ok(PageTypes {
            anon_base_bytes,
            anon_huge_bytes,
            file_base_bytes,
            file_huge_bytes,
            other_bytes,
            samples,
        })
    };
    let cgroups_path = dir.join("cgroups");
    let cgroups = read_cgroups_with(&cgroups_path, || {
        read_text(
            &cgroups_path,
            MAX_CGROUPS_FILE_BYTES,
            "not the cgroups table",
        )?
        .ok_or_else(|| {
            error(
                &cgroups_path,
                "missing, though the breakdown directory exists (a damon_stat of \
                     another version?)",
            )
        })
    })?;
    Ok(Files {
        nodes: read_nodes(dir)?,
        accessed: page_types("accessed")?,
        idle: page_types("idle")?,
        cgroups,
    })
}

/// The node number of a breakdown directory entry: `node<N>`, N in canonical decimal; `None` for
/// any other name (left alone, so that the module may add files there).
pub fn node_number(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("node")?;
    let n: u32 = digits.parse().ok()?;
    (n.to_string() == digits).then_some(n)
}

fn read_nodes(dir: &Path) -> Result<Vec<NodeStats>, ReadError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(error(
                dir,
                "missing, though the breakdown directory exists (a damon_stat of another \
                 version?)",
            ))
        }
        Err(e) => return Err(io_error(dir, &e)),
    };
    let mut numbered: Vec<(u32, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, &e))?;
        if let Some(n) = entry.file_name().to_str().and_then(node_number) {
            numbered.push((n, entry.path()));
        }
    }
    numbered.sort();
    if numbered.is_empty() {
        // The module makes one for every possible node, and there is at least one.
        return Err(error(dir, "has no node<N> directory"));
    }
    let mut nodes = Vec::with_capacity(numbered.len());
    for (node, path) in numbered {
        let file = |name: &str| -> Result<(PathBuf, String), ReadError> {
            let path = path.join(name);
            let text = required(&path)?;
            Ok((path, text))
        };
        let (p, text) = file("monitored_bytes")?;
        let monitored_bytes = parse_number(&p, &text)?;
        let (p, text) = file("estimated_memory_bandwidth")?;
        let bandwidth_bytes_per_second = parse_number(&p, &text)?;
        let (p, text) = file("memory_idle_ms_percentiles")?;
        let idle_ms_percentiles = parse_percentiles(&p, &text)?;
        nodes.push(NodeStats {
            node,
            monitored_bytes,
            bandwidth_bytes_per_second,
            idle_ms_percentiles,
        });
    }
    Ok(nodes)
}

/// Names the rows: the root cgroup (ino 1) is "/", the others the path of the directory
/// with that inode number below `cgroup_root`, or [`REMOVED_CGROUP`] when there is none.
/// The mount is walked only when a row needs it.
pub fn name_cgroups(rows: &[CgroupRow], cgroup_root: &Path) -> Result<Vec<CgroupUsage>, ReadError> {
    let wanted: HashSet<u64> = (rows.iter())
        .map(|row| row.ino)
        .filter(|&ino| ino != ROOT_CGROUP_INO)
        .collect();
    let paths = if wanted.is_empty() {
        HashMap::new()
    } else {
        cgroup_paths(cgroup_root, &wanted)?
    };
    Ok((rows.iter())
        .map(|row| {
            let cgroup = if row.ino == ROOT_CGROUP_INO {
                ROOT_CGROUP.to_owned()
            } else {
                (paths.get(&row.ino).cloned()).unwrap_or_else(|| REMOVED_CGROUP.to_owned())
            };
            CgroupUsage {
                cgroup,
                samples: row.samples,
                accessed_bytes: row.accessed_bytes,
                idle_bytes: row.idle_bytes,
            }
        })
        .collect())
}

/// The paths, relative to `root` and starting with "/", of the directories below `root`
/// whose inode numbers are in `wanted`, by inode number (`st_ino`). The walk stays on
/// `root`'s file system, follows no symbolic link, skips directories removed while it
/// runs and stops once all of `wanted` are found.
pub fn cgroup_paths(root: &Path, wanted: &HashSet<u64>) -> Result<HashMap<u64, String>, ReadError> {
    let dev = match fs::metadata(root) {
        Ok(meta) if meta.is_dir() => meta.dev(),
        Ok(_) => return Err(error(root, "is not a directory (the cgroup v2 mount?)")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(error(
                root,
                "does not exist: the breakdown names memory cgroups by their directory on \
                 the cgroup v2 mount (--cgroup-root)",
            ))
        }
        Err(e) => return Err(cgroup_error(root, &e)),
    };
    let gone = |e: &io::Error| e.kind() == io::ErrorKind::NotFound;
    let mut found = HashMap::new();
    let mut stack = vec![(root.to_owned(), String::new())];
    while let Some((dir, relative)) = stack.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if gone(&e) && dir != root => continue,
            Err(e) => return Err(cgroup_error(&dir, &e)),
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) if gone(&e) => continue,
                Err(e) => return Err(cgroup_error(&dir, &e)),
            };
            // The entry's own type: a symbolic link is no directory here.
            match entry.file_type() {
                Ok(t) if t.is_dir() => {}
                Ok(_) => continue,
                Err(e) if gone(&e) => continue,
                Err(e) => return Err(cgroup_error(&entry.path(), &e)),
            }
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                Err(e) if gone(&e) => continue,
                Err(e) => return Err(cgroup_error(&entry.path(), &e)),
            };
            if meta.dev() != dev {
                continue;
            }
            let path = format!("{relative}/{}", entry.file_name().to_string_lossy());
            if wanted.contains(&meta.ino()) {
                found.insert(meta.ino(), path.clone());
                if found.len() == wanted.len() {
                    return Ok(found);
                }
            }
            stack.push((entry.path(), path));
        }
    }
    Ok(found)
}

fn cgroup_error(path: &Path, e: &io::Error) -> ReadError {
    error(path, format!("{e} (walking the cgroup mount)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "ino samples accessed_bytes idle_1s_bytes idle_10s_bytes idle_60s_bytes idle_600s_bytes";

    fn table(generation: u64, end: u64, rows: &[&str]) -> String {
        let mut text = format!("generation {generation}\ndropped_samples 7\n{HEADER}\n");
        for row in rows {
            text.push_str(row);
            text.push('\n');
        }
        text.push_str(&format!("end {end}\n"));
        text
    }

    fn malformed(text: &str) -> String {
        match parse_cgroups(text) {
            Err(CgroupsProblem::Malformed(what)) => what,
            other => panic!("not malformed: {other:?} for {text:?}"),
        }
    }

    #[test]
    fn cgroups_table() {
        let text = table(
            42,
            42,
            &["1 120 1048576 0 0 0 0", "4123 33 65536 8192 4096 0 0"],
        );
        let t = parse_cgroups(&text).expect("valid");
        assert_eq!(t.generation, 42);
        assert_eq!(t.dropped_samples, 7);
        assert_eq!(
            t.rows,
            [
                CgroupRow {
                    ino: 1,
                    samples: 120,
                    accessed_bytes: 1048576,
                    idle_bytes: [0; 4]
                },
                CgroupRow {
                    ino: 4123,
                    samples: 33,
                    accessed_bytes: 65536,
                    idle_bytes: [8192, 4096, 0, 0]
                },
            ]
        );
        // No cgroup at all (nothing published yet, or no memory charged).
        let empty = parse_cgroups(&table(0, 0, &[])).expect("valid");
        assert_eq!(empty.rows, []);
        // u64's whole range.
        let big = format!("{} 0 {} 0 0 0 0", u64::MAX, u64::MAX);
        let t = parse_cgroups(&table(u64::MAX, u64::MAX, &[&big])).expect("valid");
        assert_eq!(t.rows[0].ino, u64::MAX);
        assert_eq!(t.rows[0].accessed_bytes, u64::MAX);
    }

    #[test]
    fn cgroups_columns_by_name() {
        // Reordered, and a column the exporter does not know: found by name.
        let text = "generation 3\ndropped_samples 0\n\
                    samples ino new_column idle_600s_bytes idle_60s_bytes idle_10s_bytes \
                    idle_1s_bytes accessed_bytes\n\
                    5 9 77 1 2 3 4 100\nend 3\n";
        let t = parse_cgroups(text).expect("valid");
        assert_eq!(
            t.rows,
            [CgroupRow {
                ino: 9,
                samples: 5,
                accessed_bytes: 100,
                idle_bytes: [4, 3, 2, 1]
            }]
        );
        let missing = table(3, 3, &[]).replace(" idle_60s_bytes", "");
        assert!(malformed(&missing).contains("no column idle_60s_bytes"));
        let twice = table(3, 3, &[]).replace("samples accessed", "ino samples accessed");
        assert!(malformed(&twice).contains("column ino appears twice"));
    }

    #[test]
    fn torn_cgroups_table() {
        // The first chunk from refresh 42, the rest from 43.
        let text = table(42, 43, &["1 120 1048576 0 0 0 0"]);
        assert_eq!(
            parse_cgroups(&text),
            Err(CgroupsProblem::Torn { start: 42, end: 43 })
        );
        // Torn in the middle of a line: the line is garbage, but the generations say why.
        let text = table(42, 43, &["1 120 10485", "36 8192 4096 0 0", "4123 3"]);
        assert_eq!(
            parse_cgroups(&text),
            Err(CgroupsProblem::Torn { start: 42, end: 43 })
        );
    }

    #[test]
    fn truncated_cgroups_table() {
        let whole = table(
            42,
            42,
            &["1 120 1048576 0 0 0 0", "4123 33 65536 8192 4096 0 0"],
        );
        // Cut anywhere, at a line's end or within one: never taken for a table.
        for cut in 0..whole.len() {
            let result = parse_cgroups(&whole[..cut]);
            assert!(
                matches!(result, Err(CgroupsProblem::Truncated)),
                "cut at {cut}: {result:?}"
            );
        }
        assert_eq!(parse_cgroups(""), Err(CgroupsProblem::Truncated));
        assert_eq!(
            parse_cgroups("\n"),
            Err(CgroupsProblem::Malformed(
                "line 1: expected \"generation <decimal u64>\", found \"\"".into()
            ))
        );
    }

    #[test]
    fn malformed_cgroups_table() {
        let row = "4123 33 65536 8192 4096 0 0";
        for (text, expected) in [
            (
                table(1, 1, &[row]).replace("generation 1", "gen 1"),
                "line 1: expected \"generation",
            ),
            (
                table(1, 1, &[row]).replace("generation 1", "generation -1"),
                "line 1",
            ),
            (
                table(1, 1, &[row]).replace("end 1", "end x"),
                "line 5: expected \"end",
            ),
            (
                table(1, 1, &[row]).replace("dropped_samples 7", "dropped 7"),
                "line 2: expected \"dropped_samples",
            ),
            (
                table(1, 1, &[row, "1 2 3"]),
                "line 5: 3 values for 7 columns",
            ),
            (
                table(1, 1, &[row, "1 2 3 4 5 6 7 8"]),
                "line 5: 8 values for 7 columns",
            ),
            (
                table(1, 1, &[row, "1 2 3 4 5 6 -7"]),
                "line 5: \"-7\" is not a decimal u64",
            ),
            (
                table(1, 1, &[row, "4123 1 1 1 1 1 1"]),
                "line 5: ino 4123 appears twice",
            ),
            ("generation 1\nend 1\n".to_owned(), "2 lines"),
        ] {
            let what = malformed(&text);
            assert!(what.contains(expected), "{what:?} for {text:?}");
        }
        // Garbage does not flood the log.
        let garbage = table(1, 1, &[&"9".repeat(10_000)]);
        assert!(malformed(&garbage).len() < 300);
    }

    #[test]
    fn cgroups_read_again_while_torn() {
        let path = Path::new("cgroups");
        let good = table(43, 43, &["1 120 1048576 0 0 0 0"]);
        let readings = [
            table(42, 43, &[]),
            "generation 43\ndrop".to_owned(),
            good.clone(),
        ];
        let mut calls = 0;
        let t = read_cgroups_with(path, || {
            calls += 1;
            Ok(readings[calls - 1].clone())
        })
        .expect("the third reading is whole");
        assert_eq!((calls, t.generation), (3, 43));

        // Always torn, or always truncated: an error after MAX_READS readings.
        for (text, expected) in [
            (table(42, 43, &[]), "torn in each of 5 readings"),
            (
                table(42, 42, &[]).replace("end 42\n", ""),
                "truncated in each of 5 readings",
            ),
        ] {
            let mut calls = 0;
            let e = read_cgroups_with(path, || {
                calls += 1;
                Ok(text.clone())
            })
            .expect_err("never whole");
            assert_eq!(calls, MAX_READS);
            assert!(e.to_string().starts_with("cgroups: "), "{e}");
            assert!(e.problem.contains(expected), "{e}");
        }

        // Malformed: reading again would not help.
        let mut calls = 0;
        let e = read_cgroups_with(path, || {
            calls += 1;
            Ok(table(1, 1, &["x"]))
        })
        .expect_err("malformed");
        assert_eq!(calls, 1);
        assert!(e.problem.contains("line 4"), "{e}");
    }

    #[test]
    fn breakdown_read_again_when_the_generation_changed() {
        let path = Path::new("generation");
        // A refresh between the first two readings of generation.
        let generations = [5, 6, 6];
        let (mut g, mut r) = (0, 0);
        let result = read_consistent(
            path,
            || {
                g += 1;
                Ok(generations[g - 1])
            },
            || {
                r += 1;
                Ok(r)
            },
        );
        assert_eq!(result, Ok(Some((6, 2))));

        // Nothing published: the rest is not read.
        let result = read_consistent(path, || Ok(0), || -> Result<(), _> { panic!("read") });
        assert_eq!(result, Ok(None));

        // Never settles.
        let mut g = 0;
        let e = read_consistent(
            path,
            || {
                g += 1;
                Ok(g)
            },
            || Ok(()),
        )
        .expect_err("always changing");
        assert!(e.problem.contains("changed during each of 5"), "{e}");
    }

    #[test]
    fn node_directory_names() {
        assert_eq!(node_number("node0"), Some(0));
        assert_eq!(node_number("node63"), Some(63));
        for other in [
            "node", "node01", "node-1", "nodes", "node1a", "xnode1", "node+1",
        ] {
            assert_eq!(node_number(other), None, "{other}");
        }
    }

    fn ino(path: &Path) -> u64 {
        fs::metadata(path).expect("stat").ino()
    }

    #[test]
    fn cgroups_named_by_directory_inode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for d in [
            "system.slice/a.service",
            "user.slice/user-1000.slice",
            "weird name\\\"",
        ] {
            fs::create_dir_all(root.join(d)).expect("mkdir");
        }
        fs::write(root.join("system.slice/memory.stat"), "").expect("file");
        std::os::unix::fs::symlink(root.join("system.slice"), root.join("link")).expect("symlink");
        let removed = root.join("gone");
        fs::create_dir(&removed).expect("mkdir");
        let removed_ino = ino(&removed);
        fs::remove_dir(&removed).expect("rmdir");

        let row = |ino, accessed_bytes| CgroupRow {
            ino,
            samples: 1,
            accessed_bytes,
            idle_bytes: [0; 4],
        };
        let rows = [
            row(ROOT_CGROUP_INO, 100),
            row(ino(&root.join("system.slice/a.service")), 90),
            row(ino(&root.join("user.slice/user-1000.slice")), 80),
            row(ino(&root.join("weird name\\\"")), 70),
            // A file is no cgroup, even with the right inode number.
            row(ino(&root.join("system.slice/memory.stat")), 60),
            row(removed_ino, 50),
        ];
        let named: Vec<String> = (name_cgroups(&rows, root).expect("named").into_iter())
            .map(|u| u.cgroup)
            .collect();
        assert_eq!(
            named,
            [
                "/",
                "/system.slice/a.service",
                "/user.slice/user-1000.slice",
                "/weird name\\\"",
                REMOVED_CGROUP,
                REMOVED_CGROUP,
            ]
        );

        // Through a symbolic link the walk does not go: a directory only reachable
        // through one is not found.
        let outside = tempfile::tempdir().expect("tempdir");
        fs::create_dir(outside.path().join("child")).expect("mkdir");
        std::os::unix::fs::symlink(outside.path(), root.join("elsewhere")).expect("symlink");
        let wanted = HashSet::from([ino(&outside.path().join("child"))]);
        assert_eq!(cgroup_paths(root, &wanted), Ok(HashMap::new()));
        let wanted = HashSet::from([ino(&root.join("system.slice"))]);
        let paths = cgroup_paths(root, &wanted).expect("walk");
        assert_eq!(paths.values().collect::<Vec<_>>(), ["/system.slice"]);

        // Only the root cgroup: no walk, so no mount needed.
        let only_root = name_cgroups(&rows[..1], &root.join("nowhere")).expect("no walk");
        assert_eq!(only_root[0].cgroup, "/");
        let e = name_cgroups(&rows, &root.join("nowhere")).expect_err("no mount");
        assert!(e.problem.contains("--cgroup-root"), "{e}");
    }
}
