// SPDX-License-Identifier: GPL-2.0

//! Compiles the benchmark's C baseline (`benches/upstream_refresh.c`, upstream
//! DAMON_STAT's refresh algorithm) with the `cc` crate, which passes the profile's
//! optimisation level: `cargo bench` builds it at `-O3` like the Rust it is compared with.

fn main() {
    println!("cargo:rerun-if-changed=benches/upstream_refresh.c");
    cc::Build::new()
        .file("benches/upstream_refresh.c")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .compile("upstream_refresh");
}
