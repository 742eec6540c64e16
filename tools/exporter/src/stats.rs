// SPDX-License-Identifier: GPL-2.0

//! Reading DAMON_STAT's module parameters and the machine's memory size.
//!
//! The same files exist for damon_stat on 6.12 and for upstream's built-in DAMON_STAT on
//! 6.17 and later: `enabled`, `estimated_memory_bandwidth` and
//! `memory_idle_ms_percentiles` always; `aggr_interval_us` (6.18) and `kdamond_pid` only
//! on newer kernels, so those two are optional.
//!
//! Besides the parameters, what the machine says about where DAMON_STAT comes from: a
//! loadable module has `/sys/module/damon_stat/initstate`, built-in code has not; a
//! module version shows in `/sys/module/damon_stat/version` when the module declares
//! one; the kernel release is `/proc/sys/kernel/osrelease` (`uname -r`).
//!
//! damon_stat also publishes a breakdown of its statistics under
//! `/sys/module/damon_stat/breakdown/` (see [`crate::breakdown`]); upstream's built-in DAMON_STAT
//! and older damon_stat versions do not, and then [`Stats::breakdown`] is `None`.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::breakdown::Breakdown;

/// Where the module's parameters live below the sysfs root.
pub const PARAMETERS_DIR: &str = "module/damon_stat/parameters";

/// The module's own directory below the sysfs root.
pub const MODULE_DIR: &str = "module/damon_stat";

/// Where damon_stat publishes its breakdown below the sysfs root.
pub const BREAKDOWN_DIR: &str = "module/damon_stat/breakdown";

/// Where cgroup v2 is usually mounted below the sysfs root.
pub const CGROUP_DIR: &str = "fs/cgroup";

/// The label value for what the machine does not say.
pub const UNKNOWN: &str = "unknown";

/// Number of idle time percentiles DAMON_STAT publishes: p0, p1, ..., p100.
pub const NR_PERCENTILES: usize = 101;

/// Sysfs files hold at most a page; anything longer is not a parameter file.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// One consistent reading of everything the exporter publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Whether monitoring runs (`enabled`).
    pub enabled: bool,
    /// `estimated_memory_bandwidth`, in bytes per second.
    pub bandwidth_bytes_per_second: u64,
    /// `memory_idle_ms_percentiles`: p0..p100 in milliseconds, negative for memory
    /// accessed in the last aggregation window (0 for it on 6.17, the first upstream
    /// version).
    pub idle_ms_percentiles: [i64; NR_PERCENTILES],
    /// `aggr_interval_us`, absent before 6.18.
    pub aggr_interval_us: Option<u64>,
    /// `kdamond_pid` (-1 when monitoring does not run), absent on older kernels.
    pub kdamond_pid: Option<i64>,
    /// `MemTotal` of /proc/meminfo, in bytes.
    pub mem_total_bytes: u64,
    /// Where DAMON_STAT comes from, and the kernel it runs on.
    pub origin: Origin,
    /// damon_stat's breakdown per NUMA node, page type and memory cgroup: `None` where
    /// `/sys/module/damon_stat/breakdown/` does not exist or has published nothing yet.
    pub breakdown: Option<Breakdown>,
}

/// How DAMON_STAT is linked into the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkMode {
    /// Upstream's DAMON_STAT, built into the kernel (6.17 and later; it cannot be a
    /// module): no `initstate` in its sysfs directory.
    Builtin,
    /// A loadable module (this project's damon_stat). Whether it was built linked to
    /// DAMON's symbols or resolves them through kallsyms (modinfo's `damon_link`) is in
    /// the .ko file only: sysfs does not show it.
    ModuleUnknown,
}

impl LinkMode {
    /// The value of the `link_mode` label.
    pub fn label(self) -> &'static str {
        match self {
            LinkMode::Builtin => "builtin",
            LinkMode::ModuleUnknown => UNKNOWN,
        }
    }
}

/// Where DAMON_STAT comes from, and the kernel it runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Built in or a module.
    pub link_mode: LinkMode,
    /// `/sys/module/damon_stat/version`, when the module declares a version.
    pub version: Option<String>,
    /// `/proc/sys/kernel/osrelease`, the kernel release `uname -r` prints.
    pub kernel: Option<String>,
}

impl Stats {
    /// Whether the percentiles hold a result: both kernels publish all zeros until the
    /// first refresh (5 s after a start), and a real result is never all zeros (idle
    /// memory has a positive idle time).
    pub fn has_percentiles(&self) -> bool {
        self.idle_ms_percentiles.iter().any(|&ms| ms != 0)
    }
}

/// What a scrape found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// No DAMON_STAT on this machine: the module is not loaded, or the kernel has no
    /// built-in DAMON_STAT.
    Absent,
    /// The module's values.
    Present(Box<Stats>),
}

/// A file that could not be read or parsed, with what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// The file.
    pub path: PathBuf,
    /// What was wrong with it.
    pub problem: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.problem)
    }
}

impl std::error::Error for ReadError {}

/// The roots the files are read below: `/sys`, `/proc` and `/sys/fs/cgroup`, or fixture
/// directories.
#[derive(Debug, Clone)]
pub struct Roots {
    /// Where sysfs is mounted.
    pub sysfs: PathBuf,
    /// Where procfs is mounted.
    pub procfs: PathBuf,
    /// Where cgroup v2 is mounted, to name the memory cgroups of the breakdown by their
    /// path (usually `/sys/fs/cgroup`: see [`Roots::new`]).
    pub cgroup: PathBuf,
}

impl Roots {
    /// The roots for sysfs and procfs, with cgroup v2 where it is usually mounted below
    /// sysfs (`fs/cgroup`).
    pub fn new(sysfs: PathBuf, procfs: PathBuf) -> Roots {
        let cgroup = sysfs.join(CGROUP_DIR);
        Roots {
            sysfs,
            procfs,
            cgroup,
        }
    }

    /// The module's parameter directory.
    pub fn parameters(&self) -> PathBuf {
        self.sysfs.join(PARAMETERS_DIR)
    }

    /// damon_stat's breakdown directory.
    pub fn breakdown(&self) -> PathBuf {
        self.sysfs.join(BREAKDOWN_DIR)
    }
}

/// Reads everything once. Files are read one by one, so values may come from two
/// refreshes of the module when a refresh happens in between; each file on its own is
/// consistent (damon_stat never publishes a half-updated percentile list).
pub fn read(roots: &Roots) -> Result<Reading, ReadError> {
    let dir = roots.parameters();
    match std::fs::metadata(&dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(error(&dir, "is not a directory")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Reading::Absent),
        Err(e) => return Err(io_error(&dir, &e)),
    }
    let required = |name: &str| -> Result<(PathBuf, String), ReadError> {
        let path = dir.join(name);
        match read_small(&path)? {
            Some(text) => Ok((path, text)),
            None => Err(error(
                &path,
                "missing, though the parameter directory exists (not DAMON_STAT's?)",
            )),
        }
    };
    let optional = |name: &str| -> Result<Option<(PathBuf, String)>, ReadError> {
        let path = dir.join(name);
        Ok(read_small(&path)?.map(|text| (path, text)))
    };

    let (path, text) = required("enabled")?;
    let enabled = parse_enabled(&path, &text)?;
    let (path, text) = required("estimated_memory_bandwidth")?;
    let bandwidth_bytes_per_second = parse_number(&path, &text)?;
    let (path, text) = required("memory_idle_ms_percentiles")?;
    let idle_ms_percentiles = parse_percentiles(&path, &text)?;
    let aggr_interval_us = optional("aggr_interval_us")?
        .map(|(path, text)| parse_number(&path, &text))
        .transpose()?;
    let kdamond_pid = optional("kdamond_pid")?
        .map(|(path, text)| parse_number(&path, &text))
        .transpose()?;

    let origin = read_origin(roots)?;
    let breakdown = crate::breakdown::read(&roots.breakdown(), &roots.cgroup)?;

    let meminfo = roots.procfs.join("meminfo");
    let mem_total_bytes = match read_small(&meminfo)? {
        Some(text) => parse_mem_total(&meminfo, &text)?,
        None => return Err(error(&meminfo, "missing (is procfs mounted?)")),
    };

    Ok(Reading::Present(Box::new(Stats {
        enabled,
        bandwidth_bytes_per_second,
        idle_ms_percentiles,
        aggr_interval_us,
        kdamond_pid,
        mem_total_bytes,
        origin,
        breakdown,
    })))
}

/// Reads where DAMON_STAT comes from. The files are optional: a missing one means
/// "built in" (`initstate`) or "not known" (the others).
fn read_origin(roots: &Roots) -> Result<Origin, ReadError> {
    let module = roots.sysfs.join(MODULE_DIR);
    let link_mode = match std::fs::symlink_metadata(module.join("initstate")) {
        Ok(_) => LinkMode::ModuleUnknown,
        Err(e) if e.kind() == io::ErrorKind::NotFound => LinkMode::Builtin,
        Err(e) => return Err(io_error(&module.join("initstate"), &e)),
    };
    let one_line = |path: PathBuf| -> Result<Option<String>, ReadError> {
        let Some(text) = read_small(&path)? else {
            return Ok(None);
        };
        let v = value(&text);
        if v.is_empty() || v.contains('\n') {
            return Err(error(
                &path,
                format!("expected one non-empty line, found {}", shown(v)),
            ));
        }
        Ok(Some(v.to_owned()))
    };
    Ok(Origin {
        link_mode,
        version: one_line(module.join("version"))?,
        kernel: one_line(roots.procfs.join("sys/kernel/osrelease"))?,
    })
}

pub(crate) fn error(path: &Path, problem: impl Into<String>) -> ReadError {
    ReadError {
        path: path.to_owned(),
        problem: problem.into(),
    }
}

pub(crate) fn io_error(path: &Path, e: &io::Error) -> ReadError {
    let hint = if e.kind() == io::ErrorKind::PermissionDenied {
        " (DAMON_STAT's files are readable by root only: run as root or with \
         CAP_DAC_READ_SEARCH, as the systemd unit does)"
    } else {
        ""
    };
    error(path, format!("{e}{hint}"))
}

/// Reads a small text file; `None` when it does not exist.
pub(crate) fn read_small(path: &Path) -> Result<Option<String>, ReadError> {
    read_text(path, MAX_FILE_BYTES, "not a parameter file")
}

/// Reads a text file of at most `max_bytes` to its end; `None` when it does not exist.
/// `what_not`: what a longer file is not, for the error.
pub(crate) fn read_text(
    path: &Path,
    max_bytes: u64,
    what_not: &str,
) -> Result<Option<String>, ReadError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path, &e)),
    };
    let mut bytes = Vec::new();
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(path, &e))?;
    if bytes.len() as u64 > max_bytes {
        return Err(error(
            path,
            format!("longer than {max_bytes} bytes: {what_not}"),
        ));
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| error(path, "not text (invalid UTF-8)"))
}

/// The value without the newline sysfs ends it with.
pub(crate) fn value(text: &str) -> &str {
    text.strip_suffix('\n').unwrap_or(text)
}

/// Shows a bad value in an error message, shortened so that garbage cannot flood the log.
pub(crate) fn shown(text: &str) -> String {
    const MAX_CHARS: usize = 60;
    let mut s: String = text.chars().take(MAX_CHARS).collect();
    if text.chars().nth(MAX_CHARS).is_some() {
        s.push_str("...");
    }
    format!("{s:?}")
}

/// `enabled` reads as `Y` or `N` (the kernel's `param_get_bool()`).
pub fn parse_enabled(path: &Path, text: &str) -> Result<bool, ReadError> {
    match value(text) {
        "Y" => Ok(true),
        "N" => Ok(false),
        other => Err(error(
            path,
            format!("expected Y or N, found {}", shown(other)),
        )),
    }
}

/// A decimal integer, as the kernel prints `ulong` and `long` parameters.
pub fn parse_number<T: std::str::FromStr>(path: &Path, text: &str) -> Result<T, ReadError> {
    let v = value(text);
    v.parse().map_err(|_| {
        error(
            path,
            format!(
                "expected a decimal {}, found {}",
                std::any::type_name::<T>(),
                shown(v)
            ),
        )
    })
}

/// 101 comma-separated integers (the kernel's `param_array_get()`), signed as upstream
/// 6.18+ and damon_stat publish them.
pub fn parse_percentiles(path: &Path, text: &str) -> Result<[i64; NR_PERCENTILES], ReadError> {
    let mut out = [0i64; NR_PERCENTILES];
    let mut count = 0usize;
    for (i, field) in value(text).split(',').enumerate() {
        let ms = field.parse::<i64>().map_err(|_| {
            error(
                path,
                format!("value {i} is not a decimal integer: {}", shown(field)),
            )
        })?;
        if let Some(slot) = out.get_mut(i) {
            *slot = ms;
        }
        count = i + 1;
    }
    if count != NR_PERCENTILES {
        return Err(error(
            path,
            format!("expected {NR_PERCENTILES} comma-separated values, found {count}"),
        ));
    }
    Ok(out)
}

/// `MemTotal:  <n> kB` of /proc/meminfo, in bytes.
pub fn parse_mem_total(path: &Path, text: &str) -> Result<u64, ReadError> {
    let line = text
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .ok_or_else(|| error(path, "no MemTotal line"))?;
    let mut words = line.split_whitespace();
    let (Some(number), Some("kB"), None) = (words.next(), words.next(), words.next()) else {
        return Err(error(
            path,
            format!("expected \"MemTotal: <n> kB\", found {}", shown(line)),
        ));
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|kib| kib.checked_mul(1024))
        .ok_or_else(|| error(path, format!("bad MemTotal value {}", shown(number))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("f")
    }

    #[test]
    fn enabled_values() {
        assert_eq!(parse_enabled(p(), "Y\n"), Ok(true));
        assert_eq!(parse_enabled(p(), "N\n"), Ok(false));
        assert_eq!(parse_enabled(p(), "N"), Ok(false));
        for bad in ["", "\n", "1\n", "y\n", "Y\n\n", " Y\n", "Yes\n"] {
            assert!(parse_enabled(p(), bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number::<u64>(p(), "123\n"), Ok(123));
        assert_eq!(parse_number::<i64>(p(), "-1\n"), Ok(-1));
        assert!(parse_number::<u64>(p(), "-1\n").is_err());
        assert!(parse_number::<u64>(p(), "18446744073709551616\n").is_err());
        assert!(parse_number::<u64>(p(), "12 \n").is_err());
        assert!(parse_number::<u64>(p(), "").is_err());
    }

    #[test]
    fn percentiles_count_and_sign() {
        let text: String = (0..101)
            .map(|k| (k * 10 - 300).to_string())
            .collect::<Vec<_>>()
            .join(",");
        let parsed = parse_percentiles(p(), &format!("{text}\n")).expect("valid");
        assert_eq!(parsed[0], -300);
        assert_eq!(parsed[100], 700);

        let short = text.rsplit_once(',').map(|(head, _)| head).expect("commas");
        let e = parse_percentiles(p(), short).expect_err("100 values");
        assert!(e.problem.contains("found 100"), "{e}");
        let e = parse_percentiles(p(), &format!("{text},1")).expect_err("102 values");
        assert!(e.problem.contains("found 102"), "{e}");
        let e = parse_percentiles(p(), &text.replace("-300,", "-300,,")).expect_err("empty");
        assert!(e.problem.contains("value 1 "), "{e}");
    }

    #[test]
    fn mem_total() {
        let meminfo = "MemTotal:        2014548 kB\nMemFree:         1814364 kB\n";
        assert_eq!(parse_mem_total(p(), meminfo), Ok(2014548 * 1024));
        assert!(parse_mem_total(p(), "MemFree: 1 kB\n").is_err());
        assert!(parse_mem_total(p(), "MemTotal: 1 MB\n").is_err());
        assert!(parse_mem_total(p(), "MemTotal: x kB\n").is_err());
        assert!(parse_mem_total(p(), "MemTotal: 18446744073709551615 kB\n").is_err());
    }

    #[test]
    fn errors_shorten_garbage() {
        let garbage = "x".repeat(10_000);
        let e = parse_enabled(p(), &garbage).expect_err("garbage");
        assert!(e.to_string().len() < 200, "{e}");
    }
}
