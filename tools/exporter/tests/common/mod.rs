// SPDX-License-Identifier: GPL-2.0

//! What the integration tests share: the fixtures, running the exporter's textfile mode
//! on them and reading its output back with prometheus-parse.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const EXPORTER: &str = env!("CARGO_BIN_EXE_damon-stat-exporter");

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A fixture's `sys` and `proc` roots as command-line arguments.
pub fn root_args(root: &Path) -> Vec<String> {
    vec![
        "--sysfs-root".into(),
        root.join("sys").display().to_string(),
        "--procfs-root".into(),
        root.join("proc").display().to_string(),
    ]
}

/// Series name plus sorted labels, e.g. `damon_stat_memory_idle_bytes{at_least="60"}`.
pub type Series = BTreeMap<String, f64>;

/// Parses exposition text, and checks that the parser kept every sample line (it skips
/// lines it does not understand instead of failing).
pub fn parse(text: &str) -> Series {
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("parsable exposition text");
    let sample_lines = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(
        scrape.samples.len(),
        sample_lines,
        "unparsed lines in:\n{text}"
    );
    assert!(
        text.ends_with("# EOF\n"),
        "OpenMetrics ends with # EOF:\n{text}"
    );
    let mut series = Series::new();
    for s in scrape.samples {
        let value = match s.value {
            prometheus_parse::Value::Gauge(v) => v,
            other => panic!("{} is not a gauge: {other:?}", s.metric),
        };
        let labels = s.labels.to_string();
        let key = if labels.is_empty() {
            s.metric.clone()
        } else {
            format!("{}{{{labels}}}", s.metric)
        };
        assert!(series.insert(key, value).is_none(), "duplicate series");
    }
    series
}

pub fn get(series: &Series, key: &str) -> f64 {
    *series
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in {series:#?}"))
}

/// Runs the textfile mode once on `root` and returns the parsed file and stderr.
pub fn textfile_once(root: &Path) -> (Series, String) {
    textfile_once_with(root, &[])
}

/// Runs the textfile mode once on `root` with extra flags.
pub fn textfile_once_with(root: &Path, flags: &[&str]) -> (Series, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("damon_stat.prom");
    let out = Command::new(EXPORTER)
        .arg("--textfile")
        .arg(&path)
        .args(flags)
        .args(root_args(root))
        .output()
        .expect("run the exporter");
    assert!(out.status.success(), "exit status {:?}", out.status);
    let text = fs::read_to_string(&path).expect("the textfile");
    (
        parse(&text),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Copies a fixture into a temporary directory so that a test can break it.
pub fn copy_fixture(name: &str) -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        fs::create_dir_all(to).expect("mkdir");
        for entry in fs::read_dir(from).expect("readdir") {
            let entry = entry.expect("entry");
            let target = to.join(entry.file_name());
            if entry.file_type().expect("type").is_dir() {
                copy(&entry.path(), &target);
            } else {
                fs::copy(entry.path(), &target).expect("copy");
            }
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    copy(&fixture(name), dir.path());
    dir
}
