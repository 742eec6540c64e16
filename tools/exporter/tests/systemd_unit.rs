// SPDX-License-Identifier: GPL-2.0

//! The systemd unit and its textfile drop-in, checked by systemd's own tools:
//! `systemd-analyze verify` (syntax, directives, the executable) and `systemd-analyze
//! security --offline` (the sandboxing, scored). No running systemd is needed.
//! Also: the unit listens where the binary does by default (loopback), and the drop-in
//! Documentation/fleet.md gives for opening the port verifies clean.

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

/// The drop-in Documentation/fleet.md gives for opening the port: the ```ini block whose
/// first line names it.
fn documented_listen_drop_in() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Documentation/fleet.md");
    let doc = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let first = "# /etc/systemd/system/damon-stat-exporter.service.d/listen.conf\n";
    let start = doc
        .find(&format!("```ini\n{first}"))
        .unwrap_or_else(|| panic!("fleet.md has no ```ini block starting with {first}"));
    let block = &doc[start + "```ini\n".len()..];
    let end = block.find("```").expect("the block ends");
    block[..end].to_owned()
}

/// A unit directory with the shipped files, the binary path pointing at the one cargo
/// built (verify checks that ExecStart's executable exists).
fn unit_dir(with_drop_in: bool, drop_in_extra: &str) -> tempfile::TempDir {
    unit_dir_with(
        if with_drop_in {
            Some("textfile.conf")
        } else {
            None
        },
        drop_in_extra,
    )
}

/// A unit directory with the shipped unit and, if named, a drop-in: a shipped file or the
/// documented listen.conf.
fn unit_dir_with(drop_in: Option<&str>, drop_in_extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = shipped(UNIT);
    assert!(unit.contains(INSTALLED_BINARY));
    fs::write(
        dir.path().join(UNIT),
        unit.replace(INSTALLED_BINARY, EXPORTER),
    )
    .expect("unit");
    if let Some(name) = drop_in {
        let drop_in_dir = dir.path().join(format!("{UNIT}.d"));
        fs::create_dir(&drop_in_dir).expect("drop-in dir");
        let text = match name {
            "listen.conf" => documented_listen_drop_in(),
            _ => shipped(name),
        };
        let drop_in = text.replace(INSTALLED_BINARY, EXPORTER);
        fs::write(drop_in_dir.join(name), format!("{drop_in}{drop_in_extra}")).expect("drop-in");
    }
    dir
}

/// The `--listen` value of an `ExecStart=` line, if it has one.
fn listen_of(exec_start: &str) -> Option<&str> {
    let mut words = exec_start.split_whitespace();
    words.find(|&w| w == "--listen")?;
    words.next()
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
fn unit_listens_where_the_binary_does_by_default() {
    // The binary's default, as --help shows it.
    let help = Command::new(EXPORTER)
        .arg("--help")
        .output()
        .expect("--help");
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let default = help
        .split("[default: ")
        .skip(1)
        .find_map(|rest| {
            let value = rest.split(']').next()?;
            value.contains(':').then_some(value)
        })
        .unwrap_or_else(|| panic!("no ADDR:PORT default in --help:\n{help}"));
    assert!(
        default.starts_with("127.0.0.1:"),
        "loopback by default: {default}"
    );

    let unit = shipped(UNIT);
    let exec_starts: Vec<&str> = unit
        .lines()
        .filter(|l| l.starts_with("ExecStart="))
        .collect();
    assert_eq!(exec_starts.len(), 1, "{exec_starts:?}");
    assert_eq!(
        listen_of(exec_starts[0]),
        Some(default),
        "{}",
        exec_starts[0]
    );

    // The documented way to open it resets ExecStart= and listens on all addresses.
    let drop_in = documented_listen_drop_in();
    let lines: Vec<&str> = drop_in.lines().collect();
    assert!(lines.contains(&"ExecStart="), "{drop_in}");
    let open = lines
        .iter()
        .find(|l| l.starts_with("ExecStart=/"))
        .unwrap_or_else(|| panic!("no ExecStart in {drop_in}"));
    assert_eq!(listen_of(open), Some("0.0.0.0:9816"), "{open}");
}

#[test]
fn documented_listen_drop_in_verifies_clean() {
    let dir = unit_dir_with(Some("listen.conf"), "");
    let out = analyze(dir.path(), &["verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    // Still sandboxed as the unit: the address filter does not cost exposure.
    let out = analyze(
        dir.path(),
        &["security", "--offline=true", "--no-pager", "--threshold=20"],
    );
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
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
