// SPDX-License-Identifier: GPL-2.0

//! `damon-stat-exporter`: serves DAMON_STAT's statistics on `/metrics`, or writes them
//! to a file for node_exporter's textfile collector.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use damon_stat_exporter::metrics::{encode_reading, Options, CONTENT_TYPE, DEFAULT_MAX_CGROUPS};
use damon_stat_exporter::stats::{read, Reading, Roots};
use damon_stat_exporter::textfile::write_atomic;

const NAME: &str = "damon-stat-exporter";

/// Logs a line on stderr. Unlike `eprintln!`, never panics when stderr is gone (a closed
/// pipe, a restarted log daemon): the exporter must keep serving.
macro_rules! log {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "{NAME}: {}", format_args!($($arg)*));
    }};
}

/// DAMON_STAT's statistics (damon_stat on 6.12, built-in DAMON_STAT on 6.17+) for
/// Prometheus. Reads /sys/module/damon_stat/parameters/ on every scrape.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address and port to serve /metrics on. Loopback by default: 9816 is not in
    /// Prometheus' port registry, so nothing is exposed until a fleet chooses the
    /// address (and its port) to open.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9816")]
    listen: String,

    /// Write the metrics to this file atomically (for node_exporter's textfile
    /// collector: a *.prom file in its directory) instead of serving them: once, or every
    /// --interval seconds.
    #[arg(long, value_name = "PATH", conflicts_with = "listen")]
    textfile: Option<PathBuf>,

    /// With --textfile: rewrite the file every SECONDS instead of once.
    #[arg(long, value_name = "SECONDS", requires = "textfile",
          value_parser = clap::value_parser!(u64).range(1..))]
    interval: Option<u64>,

    /// Where sysfs is mounted (tests use fixture directories).
    #[arg(long, value_name = "DIR", default_value = "/sys")]
    sysfs_root: PathBuf,

    /// Where procfs is mounted, for MemTotal in meminfo and the kernel release (tests use
    /// fixture directories).
    #[arg(long, value_name = "DIR", default_value = "/proc")]
    procfs_root: PathBuf,

    /// Where cgroup v2 is mounted, to name the memory cgroups of damon_stat's breakdown
    /// by their path [default: <SYSFS_ROOT>/fs/cgroup, i.e. /sys/fs/cgroup].
    #[arg(long, value_name = "DIR")]
    cgroup_root: Option<PathBuf>,

    /// Export at most N memory cgroups of damon_stat's breakdown, those with the most
    /// accessed bytes, and the sum of the others as cgroup="(other)": at most N + 1
    /// series per metric, however many cgroups the host has.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CGROUPS)]
    max_cgroups: usize,

    /// Export all 101 idle time percentiles p0..p100 instead of p0, p10, p25, p50, p75,
    /// p90, p99 and p100 (machine-wide and per NUMA node).
    #[arg(long)]
    all_percentiles: bool,
}

/// Reads and encodes one scrape, reporting on stderr what went wrong when that changes
/// (so that a scrape every few seconds does not repeat the same line forever).
struct Scraper {
    roots: Roots,
    options: Options,
    last_problem: Option<String>,
}

impl Scraper {
    fn scrape(&mut self) -> String {
        let reading = read(&self.roots);
        let problem = match &reading {
            Ok(Reading::Present(_)) => None,
            Ok(Reading::Absent) => Some(format!(
                "{} does not exist: damon_stat is not loaded (modprobe damon_stat) and the \
                 kernel has no built-in DAMON_STAT; serving damon_stat_up 0",
                self.roots.parameters().display()
            )),
            Err(e) => Some(format!("error: {e}; serving damon_stat_up 0")),
        };
        if problem != self.last_problem {
            match &problem {
                Some(p) => log!("{p}"),
                None if self.last_problem.is_some() => {
                    log!("DAMON_STAT's parameters read fine again")
                }
                None => {}
            }
            self.last_problem = problem;
        }
        encode_reading(&reading, &self.options)
    }
}

fn serve(listen: &str, scraper: &mut Scraper) -> ExitCode {
    let server = match tiny_http::Server::http(listen) {
        Ok(server) => server,
        Err(e) => {
            log!("cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match server.server_addr().to_ip() {
        Some(addr) => log!("serving http://{addr}/metrics"),
        None => log!("serving on {listen}"),
    }
    let content_type = tiny_http::Header::from_bytes("Content-Type", CONTENT_TYPE)
        .expect("a constant, valid header");
    for request in server.incoming_requests() {
        let path = request.url().split('?').next().unwrap_or("");
        let is_read = matches!(
            request.method(),
            tiny_http::Method::Get | tiny_http::Method::Head
        );
        let response = match (is_read, path) {
            (true, "/metrics") => {
                tiny_http::Response::from_string(scraper.scrape()).with_header(content_type.clone())
            }
            (true, "/") => tiny_http::Response::from_string(format!(
                "{NAME}: DAMON_STAT's statistics are on /metrics\n"
            )),
            (true, _) => tiny_http::Response::from_string("not found\n").with_status_code(404),
            (false, _) => {
                tiny_http::Response::from_string("method not allowed\n").with_status_code(405)
            }
        };
        // A scraper that hung up early is its own problem, not the exporter's.
        let _ = request.respond(response);
    }
    ExitCode::SUCCESS
}

fn write_textfile(path: &Path, interval: Option<u64>, scraper: &mut Scraper) -> ExitCode {
    loop {
        if let Err(e) = write_atomic(path, &scraper.scrape()) {
            log!("cannot write {}: {e}", path.display());
            if interval.is_none() {
                return ExitCode::FAILURE;
            }
        }
        match interval {
            Some(seconds) => std::thread::sleep(Duration::from_secs(seconds)),
            None => return ExitCode::SUCCESS,
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut roots = Roots::new(args.sysfs_root, args.procfs_root);
    if let Some(cgroup) = args.cgroup_root {
        roots.cgroup = cgroup;
    }
    let mut scraper = Scraper {
        roots,
        options: Options {
            all_percentiles: args.all_percentiles,
            max_cgroups: args.max_cgroups,
        },
        last_problem: None,
    };
    match &args.textfile {
        Some(path) => write_textfile(path, args.interval, &mut scraper),
        None => serve(&args.listen, &mut scraper),
    }
}
