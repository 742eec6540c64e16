// SPDX-License-Identifier: GPL-2.0

//! The systemd unit and its textfile drop-in, checked by systemd's own tools:
//! `systemd-analyze verify` (syntax, directives, the executable) and `systemd-analyze
//! security --offline` (the sandboxing, scored). No running systemd is needed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EXPORTER: &str = env!("CARGO_BIN_EXE_damon-stat-exporter");
const UNIT: &str = "damon-stat-exporter.service";
const INSTALLED_BINARY: &str = "/usr/local/bin/damon-stat-exporter";

fn shipped(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("systemd")
        .join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A unit directory with the shipped files, the binary path pointing at the one cargo
/// built (verify checks that ExecStart's executable exists).
fn unit_dir(with_drop_in: bool, drop_in_extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = shipped(UNIT);
    assert!(unit.contains(INSTALLED_BINARY));
    fs::write(
        dir.path().join(UNIT),
        unit.replace(INSTALLED_BINARY, EXPORTER),
    )
    .expect("unit");
    if with_drop_in {
        let drop_in_dir = dir.path().join(format!("{UNIT}.d"));
        fs::create_dir(&drop_in_dir).expect("drop-in dir");
        let drop_in = shipped("textfile.conf").replace(INSTALLED_BINARY, EXPORTER);
        fs::write(
            drop_in_dir.join("textfile.conf"),
            format!("{drop_in}{drop_in_extra}"),
        )
        .expect("drop-in");
    }
    dir
}

fn analyze(dir: &Path, args: &[&str]) -> Output {
    let unit: PathBuf = dir.join(UNIT);
    Command::new("systemd-analyze")
        .args(args)
        .arg(&unit)
        // The directory first, then the usual search path (the trailing colon).
        .env("SYSTEMD_UNIT_PATH", format!("{}:", dir.display()))
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run systemd-analyze ({e}): install Debian's systemd (make setup)")
        })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn unit_and_drop_in_verify_clean() {
    for with_drop_in in [false, true] {
        let dir = unit_dir(with_drop_in, "");
        let out = analyze(dir.path(), &["verify"]);
        assert!(
            out.status.success(),
            "drop-in {with_drop_in}: {}",
            stderr(&out)
        );
        assert_eq!(stderr(&out), "", "drop-in {with_drop_in}");
    }
    // The control: verify does read the drop-in and complains about a wrong key (with
    // exit status 0, hence the check for an empty stderr above).
    let dir = unit_dir(true, "ProtectSytem=strict\n");
    let out = analyze(dir.path(), &["verify"]);
    assert!(
        stderr(&out).contains("Unknown key 'ProtectSytem'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unit_is_unprivileged_with_one_capability() {
    let unit = shipped(UNIT);
    for line in [
        "DynamicUser=yes",
        "AmbientCapabilities=CAP_DAC_READ_SEARCH",
        "CapabilityBoundingSet=CAP_DAC_READ_SEARCH",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
    ] {
        assert!(unit.lines().any(|l| l == line), "no {line}");
    }
    for (file, text) in [
        (UNIT, unit.as_str()),
        ("textfile.conf", &shipped("textfile.conf")),
    ] {
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(!line.starts_with("User=root"), "{file}: {line}");
            assert!(!line.starts_with("PrivateUsers="), "{file}: {line}");
            assert!(
                !line.starts_with("ProcSubset="),
                "{file}: /proc/meminfo must stay"
            );
        }
    }
    // systemd's exposure score, 0 (safe) to 10 (unsandboxed); --threshold is in tenths.
    // The unit scores 1.5 and the textfile variant 0.6 with systemd 252; a unit with
    // ExecStart= alone scores 9.6.
    for (with_drop_in, threshold) in [(false, "20"), (true, "10")] {
        let dir = unit_dir(with_drop_in, "");
        let out = analyze(
            dir.path(),
            &[
                "security",
                "--offline=true",
                "--no-pager",
                &format!("--threshold={threshold}"),
            ],
        );
        assert!(
            out.status.success(),
            "drop-in {with_drop_in}: exposure above {threshold}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(&out)
        );
    }
}
