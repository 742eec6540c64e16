// SPDX-License-Identifier: GPL-2.0

//! The `damon-stat-exporter` binary on fixture directories: the parameter files of
//! damon_stat (6.12) and of upstream's built-in DAMON_STAT (6.17 and 7.3), a missing
//! module, missing files and garbage; the textfile mode and an HTTP round trip on
//! 127.0.0.1. Outputs are read back with prometheus-parse.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::*;

/// The percentiles file of a fixture, in seconds.
fn fixture_percentiles_seconds(root: &Path) -> Vec<f64> {
    let text = fs::read_to_string(
        root.join("sys/module/damon_stat/parameters/memory_idle_ms_percentiles"),
    )
    .expect("fixture percentiles");
    text.trim_end()
        .split(',')
        .map(|v| v.parse::<f64>().expect("a number") / 1e3)
        .collect()
}

/// The percentiles exported without --all-percentiles.
const DEFAULT_PERCENTILES: [usize; 8] = [0, 10, 25, 50, 75, 90, 99, 100];

fn percentile_key(k: usize) -> String {
    format!("damon_stat_memory_idle_seconds{{percentile=\"{k}\"}}")
}

/// Checks that exactly the percentiles `wanted` are exported, with the fixture's values.
fn assert_percentiles_exported(series: &Series, root: &Path, wanted: &[usize]) {
    let expected = fixture_percentiles_seconds(root);
    assert_eq!(expected.len(), 101);
    for &k in wanted {
        assert_eq!(get(series, &percentile_key(k)), expected[k], "p{k}");
    }
    let exported: Vec<&String> = series
        .keys()
        .filter(|k| k.starts_with("damon_stat_memory_idle_seconds{"))
        .collect();
    assert_eq!(exported.len(), wanted.len(), "{exported:#?}");
}

/// The key of `damon_stat_info` (labels sorted by name, as `parse` keys them).
fn info_key(kernel: &str, link_mode: &str, version: &str) -> String {
    format!(
        "damon_stat_info{{kernel=\"{kernel}\",link_mode=\"{link_mode}\",version=\"{version}\"}}"
    )
}

/// The one `damon_stat_info` series: its key and value.
fn info(series: &Series) -> (String, f64) {
    let infos: Vec<_> = series
        .iter()
        .filter(|(k, _)| k.starts_with("damon_stat_info{"))
        .collect();
    assert_eq!(infos.len(), 1, "{series:#?}");
    (infos[0].0.clone(), *infos[0].1)
}

/// `damon_stat_memory_idle_bytes` for each threshold, as whole percents of MemTotal.
fn idle_percents(series: &Series, mem_total: f64) -> [f64; 4] {
    ["1", "10", "60", "600"].map(|t| {
        let bytes = get(
            series,
            &format!("damon_stat_memory_idle_bytes{{at_least=\"{t}\"}}"),
        );
        (bytes / mem_total * 100.0).round()
    })
}

/// What a fixture of one kernel must give.
struct Expected {
    fixture: &'static str,
    enabled: f64,
    kdamond_running: Option<f64>,
    /// `kernel` and `link_mode` of `damon_stat_info`.
    kernel: &'static str,
    link_mode: &'static str,
    bandwidth: f64,
    aggregation_interval: Option<f64>,
    mem_total_kib: u64,
    /// Percent of MemTotal idle for at least 1 s, 10 s, 1 min, 10 min.
    idle_percents: [f64; 4],
    accessed_ratio: f64,
}

const KERNELS: [Expected; 4] = [
    // Captured from damon_stat in a QEMU guest: 5 % accessed (-0.46 s), 2 % idle 0.46 s,
    // the rest idle 0.9 to 3.2 s.
    Expected {
        fixture: "damon_stat-6.12-qemu",
        enabled: 1.0,
        kdamond_running: Some(1.0),
        kernel: "6.12.58",
        link_mode: "unknown",
        bandwidth: 1394360507.0,
        aggregation_interval: Some(0.46064),
        mem_total_kib: 1006836,
        idle_percents: [85.0, 0.0, 0.0, 0.0],
        accessed_ratio: 0.05,
    },
    // The regions: 12.5 % accessed, 10 % idle 4.8 s, 15 % 12 s, 25 % 96 s, 27.5 % 12 min,
    // 10 % 30 min. Idle shares round up to whole percents, the accessed share down.
    Expected {
        fixture: "damon_stat-6.12",
        enabled: 1.0,
        kdamond_running: Some(1.0),
        kernel: "6.12.57+deb13-amd64",
        link_mode: "unknown",
        bandwidth: 1341231104.0,
        aggregation_interval: Some(0.4),
        mem_total_kib: 2014548,
        idle_percents: [88.0, 78.0, 63.0, 38.0],
        accessed_ratio: 0.12,
    },
    // Stopped after a run: the last values stay, the pid is -1 (no kdamond runs). 3 % at
    // -6.5 s, 7 % at
    // -0.65 s, 60 % idle 1.95 s, 30 % idle 65 s.
    Expected {
        fixture: "upstream-7.3",
        enabled: 0.0,
        kdamond_running: Some(0.0),
        kernel: "7.3.0-rc2",
        link_mode: "builtin",
        bandwidth: 21474836480.0,
        aggregation_interval: Some(0.65),
        mem_total_kib: 65844360,
        idle_percents: [90.0, 30.0, 30.0, 0.0],
        accessed_ratio: 0.1,
    },
    // No aggr_interval_us nor kdamond_pid; accessed memory as idle 0 ms: 20 % of it, 50 %
    // idle 15 s, 30 % 5 min.
    Expected {
        fixture: "upstream-6.17",
        enabled: 1.0,
        kdamond_running: None,
        kernel: "6.17.4",
        link_mode: "builtin",
        bandwidth: 734003200.0,
        aggregation_interval: None,
        mem_total_kib: 2014548,
        idle_percents: [80.0, 80.0, 30.0, 0.0],
        accessed_ratio: 0.2,
    },
];

#[test]
fn fixtures_of_each_kernel() {
    for e in KERNELS {
        let root = fixture(e.fixture);
        let (series, stderr) = textfile_once(&root);
        let f = e.fixture;
        assert_eq!(stderr, "", "{f}");
        assert_eq!(get(&series, "damon_stat_up"), 1.0, "{f}");
        assert_eq!(get(&series, "damon_stat_enabled"), e.enabled, "{f}");
        let optional = |key: &str| series.get(key).copied();
        assert_eq!(
            optional("damon_stat_kdamond_running"),
            e.kdamond_running,
            "{f}"
        );
        assert!(
            series.keys().all(|k| !k.contains("pid")),
            "{f}: a PID is no metric"
        );
        assert_eq!(
            info(&series),
            (info_key(e.kernel, e.link_mode, "unknown"), 1.0),
            "{f}"
        );
        let interval = optional("damon_stat_aggregation_interval_seconds");
        assert_eq!(interval, e.aggregation_interval, "{f}");
        let bandwidth = get(
            &series,
            "damon_stat_estimated_memory_bandwidth_bytes_per_second",
        );
        assert_eq!(bandwidth, e.bandwidth, "{f}");
        assert_percentiles_exported(&series, &root, &DEFAULT_PERCENTILES);
        let mem_total = (e.mem_total_kib * 1024) as f64;
        assert_eq!(
            get(&series, "damon_stat_memory_total_bytes"),
            mem_total,
            "{f}"
        );
        assert_eq!(idle_percents(&series, mem_total), e.idle_percents, "{f}");
        let accessed = get(&series, "damon_stat_memory_accessed_ratio");
        assert_eq!(accessed, e.accessed_ratio, "{f}");
    }
    // Bytes are whole: MemTotal x percent / 100, rounded down.
    let (series, _) = textfile_once(&fixture("damon_stat-6.12"));
    assert_eq!(
        get(&series, "damon_stat_memory_idle_bytes{at_least=\"60\"}"),
        (2014548u64 * 1024 * 63 / 100) as f64
    );
}

#[test]
fn no_percentiles_before_the_first_refresh() {
    let (series, _) = textfile_once(&fixture("damon_stat-starting"));
    assert_eq!(get(&series, "damon_stat_up"), 1.0);
    assert_eq!(get(&series, "damon_stat_enabled"), 1.0);
    assert_eq!(get(&series, "damon_stat_kdamond_running"), 1.0);
    assert_eq!(
        get(&series, "damon_stat_memory_total_bytes"),
        (2014548u64 * 1024) as f64
    );
    assert!(
        (series.keys())
            .filter(|k| k.starts_with("damon_stat_memory_"))
            .all(|k| k == "damon_stat_memory_total_bytes"),
        "all-zero percentiles are no result: {series:#?}"
    );
}

#[test]
fn module_absent_gives_only_up_0() {
    let (series, stderr) = textfile_once(&fixture("absent"));
    assert_eq!(series, Series::from([("damon_stat_up".to_owned(), 0.0)]));
    assert!(stderr.contains("damon_stat is not loaded"), "{stderr}");
}

fn param(root: &Path, name: &str) -> PathBuf {
    root.join("sys/module/damon_stat/parameters").join(name)
}

#[test]
fn bad_files_give_up_0_and_say_which() {
    type Breakage = fn(&Path);
    let cases: [(&str, &str, Breakage); 12] = [
        ("enabled", "expected Y or N", |r| {
            fs::write(param(r, "enabled"), "maybe\n").unwrap()
        }),
        ("estimated_memory_bandwidth", "expected a decimal", |r| {
            fs::write(param(r, "estimated_memory_bandwidth"), "lots\n").unwrap()
        }),
        ("estimated_memory_bandwidth", "expected a decimal", |r| {
            fs::write(param(r, "estimated_memory_bandwidth"), "-5\n").unwrap()
        }),
        ("memory_idle_ms_percentiles", "found 100", |r| {
            fs::write(
                param(r, "memory_idle_ms_percentiles"),
                vec!["7"; 100].join(","),
            )
            .unwrap()
        }),
        ("memory_idle_ms_percentiles", "value 3 is not", |r| {
            let mut v = vec!["7"; 101];
            v[3] = "1e3";
            fs::write(param(r, "memory_idle_ms_percentiles"), v.join(",")).unwrap()
        }),
        ("memory_idle_ms_percentiles", "invalid UTF-8", |r| {
            fs::write(
                param(r, "memory_idle_ms_percentiles"),
                b"\xff\xfe\x00garbage",
            )
            .unwrap()
        }),
        ("kdamond_pid", "expected a decimal", |r| {
            fs::write(param(r, "kdamond_pid"), "\n").unwrap()
        }),
        ("enabled", "missing, though", |r| {
            fs::remove_file(param(r, "enabled")).unwrap()
        }),
        ("version", "expected one non-empty line", |r| {
            fs::write(r.join("sys/module/damon_stat/version"), "\n").unwrap()
        }),
        ("osrelease", "expected one non-empty line", |r| {
            fs::write(r.join("proc/sys/kernel/osrelease"), "6.12\n6.13\n").unwrap()
        }),
        ("meminfo", "no MemTotal line", |r| {
            fs::write(r.join("proc/meminfo"), "MemFree: 1 kB\n").unwrap()
        }),
        ("parameters", "is not a directory", |r| {
            let dir = r.join("sys/module/damon_stat/parameters");
            fs::remove_dir_all(&dir).unwrap();
            fs::write(&dir, "").unwrap()
        }),
    ];
    for (file, problem, break_it) in cases {
        let dir = copy_fixture("damon_stat-6.12");
        break_it(dir.path());
        let (series, stderr) = textfile_once(dir.path());
        assert_eq!(
            series,
            Series::from([("damon_stat_up".to_owned(), 0.0)]),
            "{file}: {problem}"
        );
        assert!(
            stderr.contains("error:") && stderr.contains(file) && stderr.contains(problem),
            "stderr for {file} ({problem}): {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

#[test]
fn optional_files_may_be_missing_one_by_one() {
    for name in ["aggr_interval_us", "kdamond_pid"] {
        let dir = copy_fixture("damon_stat-6.12");
        fs::remove_file(param(dir.path(), name)).expect("remove");
        let (series, stderr) = textfile_once(dir.path());
        assert_eq!(stderr, "");
        assert_eq!(get(&series, "damon_stat_up"), 1.0);
        // All 20 series (up, info, enabled, kdamond_running, bandwidth, interval, total,
        // 8 percentiles, 4 idle byte counts, the accessed share) but the one whose file
        // is missing.
        assert_eq!(series.len(), 19, "{name}: {series:#?}");
    }
}

#[test]
fn all_percentiles_on_request() {
    for fixture_name in ["damon_stat-6.12", "upstream-6.17"] {
        let root = fixture(fixture_name);
        let (series, _) = textfile_once_with(&root, &["--all-percentiles"]);
        let all: Vec<usize> = (0..=100).collect();
        assert_percentiles_exported(&series, &root, &all);
        // The rest is as without the flag.
        let (default, _) = textfile_once(&root);
        let others = |s: &Series| -> Series {
            (s.iter())
                .filter(|(k, _)| !k.starts_with("damon_stat_memory_idle_seconds{"))
                .map(|(k, v)| (k.clone(), *v))
                .collect()
        };
        assert_eq!(others(&series), others(&default), "{fixture_name}");
    }
}

#[test]
fn info_says_where_damon_stat_comes_from() {
    // A module that declares a version (damon_stat declares none yet): sysfs shows it.
    let dir = copy_fixture("damon_stat-6.12");
    fs::write(dir.path().join("sys/module/damon_stat/version"), "0.2.0\n").expect("write");
    let (series, stderr) = textfile_once(dir.path());
    assert_eq!(stderr, "");
    let expected = info_key("6.12.57+deb13-amd64", "unknown", "0.2.0");
    assert_eq!(info(&series), (expected, 1.0));

    // Without initstate the code is built in, whatever the kernel version says.
    fs::remove_file(dir.path().join("sys/module/damon_stat/initstate")).expect("rm");
    let (series, _) = textfile_once(dir.path());
    let expected = info_key("6.12.57+deb13-amd64", "builtin", "0.2.0");
    assert_eq!(info(&series), (expected, 1.0));

    // No kernel release to read: said so, not guessed, and nothing else changes.
    fs::remove_file(dir.path().join("proc/sys/kernel/osrelease")).expect("rm");
    let (series, stderr) = textfile_once(dir.path());
    assert_eq!(stderr, "");
    assert_eq!(get(&series, "damon_stat_up"), 1.0);
    assert_eq!(
        info(&series),
        (info_key("unknown", "builtin", "0.2.0"), 1.0)
    );

    // Label values are escaped by the encoder, not cut short.
    fs::write(
        dir.path().join("sys/module/damon_stat/version"),
        "1.0 \"quoted\\\n",
    )
    .expect("write");
    let text = {
        let out = tempfile::tempdir().expect("tempdir");
        let path = out.path().join("x.prom");
        let status = Command::new(EXPORTER)
            .arg("--textfile")
            .arg(&path)
            .args(root_args(dir.path()))
            .status()
            .expect("run");
        assert!(status.success());
        fs::read_to_string(&path).expect("textfile")
    };
    assert!(
        text.contains(r#"version="1.0 \"quoted\\""#),
        "escaped label value in:\n{text}"
    );
}

#[test]
fn textfile_is_replaced_whole_and_readable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("damon_stat.prom");
    fs::write(&path, "stale\n").expect("old file");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
    for root in ["upstream-7.3", "damon_stat-6.12"] {
        let status = Command::new(EXPORTER)
            .arg("--textfile")
            .arg(&path)
            .args(root_args(&fixture(root)))
            .status()
            .expect("run");
        assert!(status.success());
    }
    let series = parse(&fs::read_to_string(&path).expect("textfile"));
    let (key, _) = info(&series);
    assert!(
        key.contains("kernel=\"6.12.57+deb13-amd64\""),
        "the last run's: {key}"
    );
    let mode = fs::metadata(&path).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o644, "node_exporter must be able to read it");
    let names: Vec<_> = fs::read_dir(dir.path())
        .expect("readdir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["damon_stat.prom"], "no temporary file left");
}

#[test]
fn textfile_write_failure_is_an_error() {
    let out = Command::new(EXPORTER)
        .args(["--textfile", "/nonexistent-dir/damon_stat.prom"])
        .args(root_args(&fixture("damon_stat-6.12")))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot write /nonexistent-dir/damon_stat.prom"),
        "{stderr}"
    );
}

#[test]
fn bad_flags_are_refused() {
    for args in [
        &["--interval", "5"][..],
        &["--textfile", "x.prom", "--listen", "127.0.0.1:0"],
        &["--textfile", "x.prom", "--interval", "0"],
        &["--no-such-flag"],
        &["--all-percentiles=yes"],
        &["--listen", "127.0.0.1:9816", "stray-argument"],
    ] {
        let out = Command::new(EXPORTER).args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
}

/// The exporter serving on an ephemeral port of 127.0.0.1, killed on drop.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(root: &Path) -> Server {
        let mut child = Command::new(EXPORTER)
            .args(["--listen", "127.0.0.1:0"])
            .args(root_args(root))
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the exporter");
        let stderr = child.stderr.take().expect("stderr");
        let mut first = String::new();
        // Only the first line is read, then the pipe is closed: a log line written later
        // (module gone) must not kill the server, as `eprintln!` would with a panic.
        BufReader::new(stderr)
            .read_line(&mut first)
            .expect("first line");
        let addr = first
            .trim_end()
            .strip_prefix("damon-stat-exporter: serving http://")
            .and_then(|rest| rest.strip_suffix("/metrics"))
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        Server { child, addr }
    }

    /// One HTTP/1.1 request; returns the status line, the headers and the body.
    fn request(&self, method: &str, path: &str) -> (String, String, String) {
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response");
        let (head, body) = response.split_once("\r\n\r\n").expect("header end");
        let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
        (
            status.to_owned(),
            headers.to_ascii_lowercase(),
            body.to_owned(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn http_round_trip_reads_on_every_scrape() {
    let dir = copy_fixture("damon_stat-6.12");
    let server = Server::start(dir.path());

    let (status, headers, body) = server.request("GET", "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{headers}"
    );
    let series = parse(&body);
    assert_eq!(get(&series, "damon_stat_enabled"), 1.0);
    assert_percentiles_exported(&series, dir.path(), &DEFAULT_PERCENTILES);

    // The next scrape sees a change at once: nothing is cached.
    fs::write(param(dir.path(), "enabled"), "N\n").expect("write");
    let (_, _, body) = server.request("GET", "/metrics?x=1");
    assert_eq!(get(&parse(&body), "damon_stat_enabled"), 0.0);

    // The module unloaded, then loaded again.
    let params = dir.path().join("sys/module/damon_stat");
    let moved = dir.path().join("unloaded");
    fs::rename(&params, &moved).expect("unload");
    let (status, _, body) = server.request("GET", "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(
        parse(&body),
        Series::from([("damon_stat_up".to_owned(), 0.0)])
    );
    fs::rename(&moved, &params).expect("load");
    let (_, _, body) = server.request("GET", "/metrics");
    assert_eq!(get(&parse(&body), "damon_stat_up"), 1.0);

    let (status, _, _) = server.request("GET", "/nothing");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let (status, _, _) = server.request("POST", "/metrics");
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    let (status, _, body) = server.request("GET", "/");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("/metrics"), "{body}");
}

#[test]
fn textfile_interval_rewrites() {
    let dir = copy_fixture("damon_stat-6.12");
    let out = tempfile::tempdir().expect("tempdir");
    let path = out.path().join("damon_stat.prom");
    let mut child = Command::new(EXPORTER)
        .arg("--textfile")
        .arg(&path)
        .args(["--interval", "1"])
        .args(root_args(dir.path()))
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let wait_for = |enabled: f64| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(text) = fs::read_to_string(&path) {
                if parse(&text).get("damon_stat_enabled") == Some(&enabled) {
                    return true;
                }
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let first = wait_for(1.0);
    fs::write(param(dir.path(), "enabled"), "N\n").expect("write");
    let second = wait_for(0.0);
    let _ = child.kill();
    let _ = child.wait();
    assert!(first, "the first file never came");
    assert!(second, "the file was not rewritten");
}
