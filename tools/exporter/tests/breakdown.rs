// SPDX-License-Identifier: GPL-2.0

//! The breakdown (`/sys/module/damon_stat/breakdown/`, damon_stat only) through the binary: the
//! `damon_stat-breakdown` fixture, a cgroup tree made in a temporary directory whose inode
//! numbers are written into a generated `cgroups` table, the cardinality limit, the
//! fixtures without a breakdown, broken files, and `promtool check metrics` on the output
//! when promtool is installed.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const FIXTURE: &str = "damon_stat-breakdown";

/// The prefixes of the breakdown's families: none of them may appear without it.
const BREAKDOWN_PREFIXES: [&str; 3] = [
    "damon_stat_node_",
    "damon_stat_sampled_memory_",
    "damon_stat_cgroup_",
];

const DEFAULT_PERCENTILES: [usize; 8] = [0, 10, 25, 50, 75, 90, 99, 100];

fn breakdown_dir(root: &Path) -> PathBuf {
    root.join("sys/module/damon_stat/breakdown")
}

fn cgroup_mount(root: &Path) -> PathBuf {
    root.join("sys/fs/cgroup")
}

/// The series of the breakdown's families.
fn breakdown_series(series: &Series) -> Series {
    (series.iter())
        .filter(|(k, _)| BREAKDOWN_PREFIXES.iter().any(|p| k.starts_with(p)))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// The series of one family (the name followed by `{` or nothing).
fn family(series: &Series, name: &str) -> Series {
    (series.iter())
        .filter(|(k, _)| {
            k.strip_prefix(name)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('{'))
        })
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// A node's percentiles file of a fixture, in seconds.
fn node_percentiles_seconds(root: &Path, node: u32) -> Vec<f64> {
    let path = breakdown_dir(root).join(format!("node{node}/memory_idle_ms_percentiles"));
    let text = fs::read_to_string(path).expect("fixture percentiles");
    text.trim_end()
        .split(',')
        .map(|v| v.parse::<f64>().expect("a number") / 1e3)
        .collect()
}

fn node_percentile_key(node: u32, k: usize) -> String {
    format!("damon_stat_node_memory_idle_seconds{{node=\"{node}\",percentile=\"{k}\"}}")
}

fn sampled_key(state: &str, page_size: &str, r#type: &str) -> String {
    format!(
        "damon_stat_sampled_memory_bytes{{page_size=\"{page_size}\",state=\"{state}\",type=\"{}\"}}",
        r#type
    )
}

fn cgroup_key(name: &str, cgroup: &str) -> String {
    format!("damon_stat_cgroup_{name}{{cgroup=\"{cgroup}\"}}")
}

fn cgroup_idle_key(cgroup: &str, at_least: &str) -> String {
    format!("damon_stat_cgroup_idle_bytes{{at_least=\"{at_least}\",cgroup=\"{cgroup}\"}}")
}

#[test]
fn breakdown_fixture_exports_every_family() {
    let root = fixture(FIXTURE);
    let (series, stderr) = textfile_once(&root);
    assert_eq!(stderr, "");
    assert_eq!(get(&series, "damon_stat_up"), 1.0);

    // The machine-wide series are those of the same parameters without a breakdown.
    let (plain, _) = textfile_once(&fixture("damon_stat-6.12"));
    let machine_wide: Series = (series.iter())
        .filter(|(k, _)| !breakdown_series(&series).contains_key(*k))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    assert_eq!(machine_wide, plain);

    // Per node: every node directory, bytes and bandwidth as published.
    for (node, bytes, bandwidth) in [
        (0, 1073741824.0, 1000000000.0),
        (1, 1040187392.0, 341231104.0),
        (2, 0.0, 0.0),
    ] {
        let label = format!("{{node=\"{node}\"}}");
        assert_eq!(
            get(&series, &format!("damon_stat_node_monitored_bytes{label}")),
            bytes
        );
        assert_eq!(
            get(
                &series,
                &format!("damon_stat_node_estimated_memory_bandwidth_bytes_per_second{label}")
            ),
            bandwidth
        );
    }
    assert_eq!(family(&series, "damon_stat_node_monitored_bytes").len(), 3);
    // The percentiles: the default eight, in seconds, for the nodes with memory only.
    for node in [0, 1] {
        let expected = node_percentiles_seconds(&root, node);
        for k in DEFAULT_PERCENTILES {
            assert_eq!(
                get(&series, &node_percentile_key(node, k)),
                expected[k],
                "node {node} p{k}"
            );
        }
    }
    assert_eq!(
        family(&series, "damon_stat_node_memory_idle_seconds").len(),
        16,
        "no percentiles for node 2, which has no memory"
    );
    assert_eq!(
        get(&series, &node_percentile_key(0, 0)),
        -2.0,
        "negative: hot"
    );

    // Sampled: five figures per state, type=other with page_size="unknown".
    let mib = 1024.0 * 1024.0;
    let sampled = [
        ("accessed", "base", "anon", 100.0),
        ("accessed", "huge", "anon", 200.0),
        ("accessed", "base", "file", 50.0),
        ("accessed", "huge", "file", 0.0),
        ("accessed", "unknown", "other", 4.0),
        ("idle", "base", "anon", 300.0),
        ("idle", "huge", "anon", 400.0),
        ("idle", "base", "file", 600.0),
        ("idle", "huge", "file", 20.0),
        ("idle", "unknown", "other", 200.0),
    ];
    for (state, page_size, r#type, bytes) in sampled {
        assert_eq!(
            get(&series, &sampled_key(state, page_size, r#type)),
            bytes * mib,
            "{state} {type} {page_size}"
        );
    }
    assert_eq!(family(&series, "damon_stat_sampled_memory_bytes").len(), 10);
    assert_eq!(
        family(&series, "damon_stat_sampled_memory_samples"),
        Series::from([
            (
                "damon_stat_sampled_memory_samples{state=\"accessed\"}".to_owned(),
                2500.0
            ),
            (
                "damon_stat_sampled_memory_samples{state=\"idle\"}".to_owned(),
                7500.0
            ),
        ])
    );

    // Cgroups: ino 1 is "/" (no directory needed); the two inos without a directory in
    // the fixture's mount are one "(removed)" series, their sum.
    let accessed = family(&series, "damon_stat_cgroup_accessed_bytes");
    assert_eq!(
        accessed,
        Series::from([
            (cgroup_key("accessed_bytes", "/"), 200.0 * mib),
            (cgroup_key("accessed_bytes", "(removed)"), 9.0 * mib),
        ])
    );
    assert_eq!(get(&series, &cgroup_key("samples", "(removed)")), 52.0);
    assert_eq!(get(&series, &cgroup_idle_key("(removed)", "1")), 4.5 * mib);
    assert_eq!(get(&series, &cgroup_idle_key("/", "600")), 100.0 * mib);
    assert_eq!(family(&series, "damon_stat_cgroup_idle_bytes").len(), 8);
    assert_eq!(get(&series, "damon_stat_cgroup_dropped_samples"), 3.0);
    assert_eq!(breakdown_series(&series).len(), 6 + 16 + 12 + 2 + 8 + 2 + 1);
}

#[test]
fn node_percentiles_follow_all_percentiles() {
    let root = fixture(FIXTURE);
    let (series, _) = textfile_once_with(&root, &["--all-percentiles"]);
    for node in [0, 1] {
        let expected = node_percentiles_seconds(&root, node);
        for (k, seconds) in expected.iter().enumerate() {
            assert_eq!(get(&series, &node_percentile_key(node, k)), *seconds);
        }
    }
    assert_eq!(
        family(&series, "damon_stat_node_memory_idle_seconds").len(),
        202
    );
}

#[test]
fn no_breakdown_without_its_directory() {
    for name in [
        "damon_stat-6.12",
        "damon_stat-6.12-qemu",
        "damon_stat-starting",
        "upstream-6.17",
        "upstream-7.3",
    ] {
        let (series, stderr) = textfile_once(&fixture(name));
        assert_eq!(stderr, "", "{name}");
        assert_eq!(get(&series, "damon_stat_up"), 1.0, "{name}");
        assert_eq!(breakdown_series(&series), Series::new(), "{name}");
    }
    // The fixture itself, its breakdown directory removed: the rest unchanged.
    let dir = copy_fixture(FIXTURE);
    fs::remove_dir_all(breakdown_dir(dir.path())).expect("rm");
    let (series, stderr) = textfile_once(dir.path());
    assert_eq!(stderr, "");
    assert_eq!(series, textfile_once(&fixture("damon_stat-6.12")).0);
}

#[test]
fn nothing_published_yet() {
    // generation 0: the module has not refreshed since it loaded, its files read 0.
    let dir = copy_fixture(FIXTURE);
    fs::write(breakdown_dir(dir.path()).join("generation"), "0\n").expect("write");
    let (series, stderr) = textfile_once(dir.path());
    assert_eq!(stderr, "");
    assert_eq!(get(&series, "damon_stat_up"), 1.0);
    assert_eq!(breakdown_series(&series), Series::new());
}

/// A cgroup tree below `mount`, its `cgroups` table written into `root`'s breakdown with
/// the directories' inode numbers: `names` with accessed bytes in MiB (descending order
/// in the table, as the module sorts it), each with samples = MiB and idle bytes of 4, 3,
/// 2 and 1 times that.
fn cgroup_tree(root: &Path, mount: &Path, cgroups: &[(&str, u64)]) {
    let mut table = String::from(
        "generation 42\ndropped_samples 11\n\
         ino samples accessed_bytes idle_1s_bytes idle_10s_bytes idle_60s_bytes idle_600s_bytes\n",
    );
    for &(name, mib) in cgroups {
        let ino = if name == "/" {
            1
        } else if let Some(gone) = name.strip_prefix("gone:") {
            // A cgroup removed after the module counted it: its inode number, no directory.
            let dir = mount.join(gone);
            fs::create_dir_all(&dir).expect("mkdir");
            let ino = fs::metadata(&dir).expect("stat").ino();
            fs::remove_dir(&dir).expect("rmdir");
            ino
        } else {
            let dir = mount.join(name.trim_start_matches('/'));
            fs::create_dir_all(&dir).expect("mkdir");
            // Control files, as in a real cgroup directory: not cgroups themselves.
            fs::write(dir.join("memory.current"), "0\n").expect("write");
            fs::metadata(&dir).expect("stat").ino()
        };
        let b = mib << 20;
        table.push_str(&format!(
            "{ino} {mib} {b} {} {} {} {}\n",
            4 * b,
            3 * b,
            2 * b,
            b
        ));
    }
    table.push_str("end 42\n");
    fs::write(breakdown_dir(root).join("cgroups"), table).expect("write cgroups");
}

/// The cgroup label values of `damon_stat_cgroup_accessed_bytes`.
fn cgroup_labels(series: &Series) -> BTreeSet<String> {
    (family(series, "damon_stat_cgroup_accessed_bytes").keys())
        .map(|k| {
            let rest = k
                .strip_prefix("damon_stat_cgroup_accessed_bytes{cgroup=\"")
                .and_then(|r| r.strip_suffix("\"}"))
                .unwrap_or_else(|| panic!("unexpected key {k}"));
            rest.to_owned()
        })
        .collect()
}

/// Sixty cgroups, the root and a removed one among them, so that the default limit of
/// 50 cuts.
fn sixty_cgroups() -> Vec<(String, u64)> {
    let mut cgroups = vec![
        ("/".to_owned(), 1000),
        ("/system.slice/sshd.service".to_owned(), 900),
        (
            "/user.slice/user-1000.slice/session-1.scope".to_owned(),
            800,
        ),
        ("gone:/system.slice/old.service".to_owned(), 700),
        ("/odd \"name\" \\ here".to_owned(), 600),
    ];
    for i in 0..55 {
        cgroups.push((format!("/kubepods.slice/pod{i:02}"), 500 - i));
    }
    cgroups
}

#[test]
fn cgroups_named_from_the_cgroup_mount_and_bounded() {
    let dir = copy_fixture(FIXTURE);
    let root = dir.path();
    let cgroups = sixty_cgroups();
    let refs: Vec<(&str, u64)> = cgroups.iter().map(|(n, m)| (n.as_str(), *m)).collect();
    cgroup_tree(root, &cgroup_mount(root), &refs);
    let mib = (1u64 << 20) as f64;

    // Default: the 50 most accessed, then "(other)" with the sum of the last ten.
    let (series, stderr) = textfile_once(root);
    assert_eq!(stderr, "");
    let labels = cgroup_labels(&series);
    assert_eq!(labels.len(), 51, "{labels:#?}");
    for expected in [
        "/",
        "/system.slice/sshd.service",
        "/user.slice/user-1000.slice/session-1.scope",
        "(removed)",
        // The directory's own name, escaped as the exposition format wants (prometheus-parse
        // keeps the escapes).
        "/odd \\\"name\\\" \\\\ here",
        "/kubepods.slice/pod00",
        "/kubepods.slice/pod44",
        "(other)",
    ] {
        assert!(labels.contains(expected), "no {expected} in {labels:#?}");
    }
    assert!(!labels.contains("/kubepods.slice/pod45"), "{labels:#?}");
    let other_mib: u64 = (45..55).map(|i| 500 - i).sum();
    assert_eq!(
        get(&series, &cgroup_key("accessed_bytes", "(other)")),
        other_mib as f64 * mib
    );
    assert_eq!(
        get(&series, &cgroup_key("samples", "(other)")),
        other_mib as f64
    );
    assert_eq!(
        get(&series, &cgroup_idle_key("(other)", "10")),
        3.0 * other_mib as f64 * mib
    );
    assert_eq!(
        get(
            &series,
            &cgroup_key("accessed_bytes", "/system.slice/sshd.service")
        ),
        900.0 * mib
    );
    assert_eq!(
        get(&series, &cgroup_idle_key("/kubepods.slice/pod07", "600")),
        (500.0 - 7.0) * mib
    );
    assert_eq!(get(&series, "damon_stat_cgroup_dropped_samples"), 11.0);
    // Each cgroup family has the same 51 label values.
    assert_eq!(family(&series, "damon_stat_cgroup_samples").len(), 51);
    assert_eq!(
        family(&series, "damon_stat_cgroup_idle_bytes").len(),
        4 * 51
    );
    let total =
        |s: &Series| -> f64 { family(s, "damon_stat_cgroup_accessed_bytes").values().sum() };
    let all_mib: u64 = cgroups.iter().map(|(_, m)| m).sum();
    assert_eq!(total(&series), all_mib as f64 * mib);

    // --max-cgroups 3: three of their own, the sums unchanged.
    let (series, _) = textfile_once_with(root, &["--max-cgroups", "3"]);
    assert_eq!(
        cgroup_labels(&series),
        BTreeSet::from(
            [
                "/",
                "/system.slice/sshd.service",
                "/user.slice/user-1000.slice/session-1.scope",
                "(other)"
            ]
            .map(String::from)
        )
    );
    assert_eq!(total(&series), all_mib as f64 * mib);
    assert_eq!(family(&series, "damon_stat_cgroup_idle_bytes").len(), 16);

    // --max-cgroups 0: one series per family.
    let (series, _) = textfile_once_with(root, &["--max-cgroups", "0"]);
    assert_eq!(
        cgroup_labels(&series),
        BTreeSet::from(["(other)".to_owned()])
    );
    assert_eq!(total(&series), all_mib as f64 * mib);
}

#[test]
fn cgroup_root_flag() {
    // The tree somewhere else than below the sysfs root: found with --cgroup-root, and
    // its cgroups are "(removed)" without it.
    let dir = copy_fixture(FIXTURE);
    let mount = tempfile::tempdir().expect("tempdir");
    cgroup_tree(
        dir.path(),
        mount.path(),
        &[("/", 30), ("/machine.slice/vm1.scope", 20)],
    );
    let flag = mount.path().display().to_string();
    let (series, stderr) = textfile_once_with(dir.path(), &["--cgroup-root", &flag]);
    assert_eq!(stderr, "");
    assert_eq!(
        cgroup_labels(&series),
        BTreeSet::from(["/", "/machine.slice/vm1.scope"].map(String::from))
    );
    let (series, _) = textfile_once(dir.path());
    assert_eq!(
        cgroup_labels(&series),
        BTreeSet::from(["/", "(removed)"].map(String::from))
    );
}

fn bd(root: &Path, name: &str) -> PathBuf {
    breakdown_dir(root).join(name)
}

#[test]
fn bad_breakdown_files_give_up_0_and_say_which() {
    type Breakage = fn(&Path);
    let cases: [(&str, &str, Breakage); 12] = [
        ("generation", "expected a decimal", |r| {
            fs::write(bd(r, "generation"), "forty-two\n").unwrap()
        }),
        ("node1/monitored_bytes", "expected a decimal", |r| {
            fs::write(bd(r, "node1/monitored_bytes"), "-1\n").unwrap()
        }),
        ("node0/memory_idle_ms_percentiles", "found 100", |r| {
            fs::write(
                bd(r, "node0/memory_idle_ms_percentiles"),
                vec!["7"; 100].join(","),
            )
            .unwrap()
        }),
        ("node2/estimated_memory_bandwidth", "missing, though", |r| {
            fs::remove_file(bd(r, "node2/estimated_memory_bandwidth")).unwrap()
        }),
        ("breakdown", "no node<N> directory", |r| {
            for n in 0..3 {
                fs::remove_dir_all(bd(r, &format!("node{n}"))).unwrap()
            }
        }),
        ("idle/samples", "missing, though", |r| {
            fs::remove_file(bd(r, "idle/samples")).unwrap()
        }),
        ("accessed/anon_huge_bytes", "expected a decimal", |r| {
            fs::write(bd(r, "accessed/anon_huge_bytes"), "2M\n").unwrap()
        }),
        ("cgroups", "torn in each of 5 readings", |r| {
            let text = fs::read_to_string(bd(r, "cgroups")).unwrap();
            fs::write(bd(r, "cgroups"), text.replace("end 42", "end 43")).unwrap()
        }),
        ("cgroups", "truncated in each of 5 readings", |r| {
            let text = fs::read_to_string(bd(r, "cgroups")).unwrap();
            fs::write(bd(r, "cgroups"), &text[..text.len() - 10]).unwrap()
        }),
        ("cgroups", "line 4: 6 values for 7 columns", |r| {
            let text = fs::read_to_string(bd(r, "cgroups")).unwrap();
            fs::write(bd(r, "cgroups"), text.replace("1 900 ", "900 ")).unwrap()
        }),
        ("cgroups", "missing, though", |r| {
            fs::remove_file(bd(r, "cgroups")).unwrap()
        }),
        // The table names cgroups other than the root, so the mount must be there.
        ("sys/fs/cgroup", "--cgroup-root", |r| {
            fs::remove_dir_all(cgroup_mount(r)).unwrap()
        }),
    ];
    for (file, problem, break_it) in cases {
        let dir = copy_fixture(FIXTURE);
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
fn only_the_root_cgroup_needs_no_mount() {
    // A host without cgroup v2 mounted (the test guests): all memory in the root cgroup,
    // ino 1, named without a walk.
    let dir = copy_fixture(FIXTURE);
    fs::remove_dir_all(cgroup_mount(dir.path())).expect("rm");
    let text = fs::read_to_string(bd(dir.path(), "cgroups")).expect("read");
    let only_root: String = (text.lines())
        .filter(|l| !l.starts_with("1844"))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(bd(dir.path(), "cgroups"), only_root).expect("write");
    let (series, stderr) = textfile_once(dir.path());
    assert_eq!(stderr, "");
    assert_eq!(cgroup_labels(&series), BTreeSet::from(["/".to_owned()]));
}

/// promtool: `PROMTOOL`, else where `make setup` unpacks it (as tests/exporter/promtool.sh
/// finds it), else on the PATH.
fn promtool() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PROMTOOL") {
        return Some(PathBuf::from(path));
    }
    let env = |name| std::env::var_os(name).map(PathBuf::from);
    let cache = (env("DAMON_STAT_CACHE"))
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("damon_stat")))
        .or_else(|| env("HOME").map(|d| d.join(".cache/damon_stat")));
    let setup = cache.map(|c| c.join("tools/prometheus/usr/bin/promtool"));
    let on_path = (std::env::var_os("PATH").iter())
        .flat_map(std::env::split_paths)
        .map(|d| d.join("promtool"))
        .collect::<Vec<_>>();
    setup.into_iter().chain(on_path).find(|p| p.is_file())
}

/// The exporter's textfile output on `root` with `flags`, unparsed.
fn textfile_text(root: &Path, flags: &[&str]) -> String {
    let out = tempfile::tempdir().expect("tempdir");
    let path = out.path().join("damon_stat.prom");
    let status = Command::new(EXPORTER)
        .arg("--textfile")
        .arg(&path)
        .args(flags)
        .args(root_args(root))
        .status()
        .expect("run the exporter");
    assert!(status.success());
    fs::read_to_string(&path).expect("the textfile")
}

#[test]
fn promtool_check_metrics_accepts_the_breakdown() {
    let Some(promtool) = promtool() else {
        eprintln!("skipped: no promtool (make setup installs it; or set PROMTOOL)");
        return;
    };
    let dir = copy_fixture(FIXTURE);
    let cgroups = sixty_cgroups();
    let refs: Vec<(&str, u64)> = cgroups.iter().map(|(n, m)| (n.as_str(), *m)).collect();
    cgroup_tree(dir.path(), &cgroup_mount(dir.path()), &refs);
    for (root, flags) in [
        (fixture(FIXTURE), &[][..]),
        (fixture(FIXTURE), &["--all-percentiles"][..]),
        (dir.path().to_owned(), &[][..]),
    ] {
        let text = textfile_text(&root, flags);
        assert!(text.contains("damon_stat_cgroup_accessed_bytes{"), "{text}");
        let file = dir.path().join("out.prom");
        fs::write(&file, &text).expect("write");
        let out = Command::new(&promtool)
            .args(["check", "metrics"])
            .stdin(fs::File::open(&file).expect("open"))
            .output()
            .expect("run promtool");
        let findings = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && findings.is_empty(),
            "promtool check metrics on {} {flags:?}: {findings}",
            root.display()
        );
    }
}
