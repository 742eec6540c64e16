// SPDX-License-Identifier: GPL-2.0
//! The plugin proper: QEMU's callbacks on top of [`crate::marker`] and [`crate::report`].

use crate::truth::{Clock, PageTimes, PAGE_SIZE};
use crate::{marker, report};
use damon_stat_logic::logic::percentiles::IdleEntry;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use qemu_plugin::install::{Args, Info, Value};
use qemu_plugin::plugin::{HasCallbacks, Register};
use qemu_plugin::{MemRW, MemoryInfo, PluginId, TranslationBlock, VCPUIndex};

/// A counter written by one vCPU thread only, alone on its cache line so that vCPUs do
/// not bounce lines between host cores.
#[repr(align(64))]
#[derive(Default)]
struct VcpuCounter(AtomicU64);

impl VcpuCounter {
    /// Adds `n`. Only the owning vCPU's thread calls this, so a load and a store suffice;
    /// readers on other threads see either value, never a torn one.
    fn add(&self, n: u64) {
        let v = self.0.load(Ordering::Relaxed);
        self.0.store(v.wrapping_add(n), Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One translation block's executions on the profiled vCPU.
struct BlockCount {
    vaddr: u64,
    insns: u64,
    execs: AtomicU64,
}

/// The truth's state beside the per-frame times.
struct Truth {
    times: PageTimes,
    clock: Arc<Clock>,
    /// The reported range in frames; touches are counted in it only.
    start: AtomicU64,
    end: AtomicU64,
    /// Touches in the range, per vCPU.
    touches: Vec<VcpuCounter>,
    /// The number the nibble markers build, and the report's sort buffer.
    regs: Mutex<TruthRegs>,
}

#[derive(Default)]
struct TruthRegs {
    number: u64,
    reports: u64,
    scratch: Vec<IdleEntry>,
}

impl Truth {
    fn on_access(&self, vcpu: VCPUIndex, info: &MemoryInfo<'_>, vaddr: u64) {
        let Some(hw) = info.hwaddr(vaddr) else {
            return;
        };
        if hw.is_io() {
            return;
        }
        let pfn = hw.hwaddr() / PAGE_SIZE;
        if self.times.access(pfn, self.clock.now())
            && pfn >= self.start.load(Ordering::Relaxed)
            && pfn < self.end.load(Ordering::Relaxed)
        {
            if let Some(c) = self.touches.get(vcpu as usize) {
                c.add(1);
            }
        }
    }

    /// A truth marker's output line, if it has one.
    fn on_marker(&self, tag: u16) -> Option<String> {
        let mut regs = self.regs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(digit) = marker::nibble(tag) {
            regs.number = regs.number << 4 | digit;
            return None;
        }
        let number = std::mem::take(&mut regs.number);
        let now = self.clock.now();
        match tag {
            marker::TAG_TRUTH => {
                let window_ms = u32::try_from(number / 1000).unwrap_or(u32::MAX);
                self.times.set_window(window_ms);
                let regs = &mut *regs;
                let report = self.times.report(
                    self.start.load(Ordering::Relaxed),
                    self.end.load(Ordering::Relaxed),
                    now,
                    &mut regs.scratch,
                );
                let touches = self.touches.iter().map(VcpuCounter::get).sum();
                regs.reports += 1;
                let n = regs.reports;
                Some(report::truth_line(
                    n,
                    now,
                    self.times.window_ms(),
                    touches,
                    &report,
                ))
            }
            marker::TAG_RANGE_START => {
                self.start.store(number / PAGE_SIZE, Ordering::Relaxed);
                Some(format!("truth-range start_pfn={}\n", number / PAGE_SIZE))
            }
            marker::TAG_RANGE_END => {
                self.end
                    .store(number.div_ceil(PAGE_SIZE), Ordering::Relaxed);
                Some(format!(
                    "truth-range end_pfn={}\n",
                    number.div_ceil(PAGE_SIZE)
                ))
            }
            marker::TAG_PAGE => Some(report::page_line(number, now, self.times.page(number))),
            marker::TAG_STAMP => Some(format!("stamp ms={now}\n")),
            _ => None,
        }
    }
}

struct State {
    /// Instructions executed, indexed by vCPU.
    insns: Vec<VcpuCounter>,
    profile_vcpu: Option<VCPUIndex>,
    /// Every block translated while profiling, for the dump.
    blocks: Mutex<Vec<Arc<BlockCount>>>,
    out: Mutex<BufWriter<File>>,
    seq: AtomicU64,
    start: Instant,
    truth: Option<Truth>,
}

impl State {
    fn on_block(&self, vcpu: VCPUIndex, insns: u64, block: Option<&BlockCount>) {
        if let Some(c) = self.insns.get(vcpu as usize) {
            c.add(insns);
        }
        if let Some(b) = block {
            if self.profile_vcpu == Some(vcpu) {
                b.execs
                    .store(b.execs.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            }
        }
    }

    fn on_marker(&self, vcpu: VCPUIndex, tag: u16) {
        if tag != marker::TAG_SNAPSHOT && tag != marker::TAG_PROFILE {
            if let Some(text) = self.truth.as_ref().and_then(|t| t.on_marker(tag)) {
                self.write(&text);
            }
            return;
        }
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let ns = self.start.elapsed().as_nanos();
        let counts: Vec<u64> = self.insns.iter().map(VcpuCounter::get).collect();
        let mut text = report::mark_line(seq, tag, vcpu, ns, &counts);
        if tag == marker::TAG_PROFILE {
            if let Some(p) = self.profile_vcpu {
                let blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
                let execs = blocks
                    .iter()
                    .map(|b| (b.vaddr, b.insns, b.execs.swap(0, Ordering::Relaxed)));
                text.push_str(&report::profile_lines(seq, p, execs));
            }
        }
        self.write(&text);
    }

    fn write(&self, text: &str) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        // A full disk loses a line, which the host notices as a missing marker.
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }
}

#[derive(Default)]
struct InsnCount {
    state: Option<Arc<State>>,
}

/// A bad argument: QEMU refuses to start and prints this.
fn arg_error(msg: String) -> qemu_plugin::Error {
    std::io::Error::other(format!("damon_stat TCG plugin: {msg}")).into()
}

impl Register for InsnCount {
    fn register(&mut self, _id: PluginId, args: &Args, info: &Info) -> qemu_plugin::Result<()> {
        let vcpus = info
            .system
            .as_ref()
            .map(|s| s.max_vcpus.max(s.smp_vcpus))
            .ok_or_else(|| arg_error("this plugin is for system emulation".into()))?;
        let vcpus = usize::try_from(vcpus).unwrap_or(0).max(1);
        let path = match args.parsed.get("out") {
            Some(Value::String(p)) => p.clone(),
            _ => return Err(arg_error("give the output file: out=PATH".into())),
        };
        let profile_vcpu = match args.parsed.get("profile_vcpu") {
            None => None,
            Some(Value::Integer(n)) if *n >= 0 && (*n as usize) < vcpus => Some(*n as VCPUIndex),
            Some(_) => {
                return Err(arg_error(format!(
                    "profile_vcpu must be a vCPU index below {vcpus}"
                )))
            }
        };
        let truth_mib = match args.parsed.get("truth_mib") {
            None => None,
            Some(Value::Integer(n)) if (1..=1 << 20).contains(n) => Some(*n as u64),
            Some(_) => {
                return Err(arg_error(
                    "truth_mib must be the guest-physical MiB to watch (1 to 1048576)".into(),
                ))
            }
        };
        let file = File::create(&path).map_err(|e| arg_error(format!("{path}: {e}")))?;
        let mut out = BufWriter::new(file);
        let _ = writeln!(
            out,
            "# damon_stat TCG plugin: vcpus={vcpus} profile_vcpu={} truth_mib={}",
            profile_vcpu.map_or(-1, i64::from),
            truth_mib.unwrap_or(0)
        );
        let _ = out.flush();
        self.state = Some(Arc::new(State {
            insns: (0..vcpus).map(|_| VcpuCounter::default()).collect(),
            profile_vcpu,
            blocks: Mutex::new(Vec::new()),
            out: Mutex::new(out),
            seq: AtomicU64::new(0),
            start: Instant::now(),
            truth: truth_mib.map(|mib| {
                let pages = mib * (1 << 20) / PAGE_SIZE;
                Truth {
                    times: PageTimes::new(pages),
                    clock: Clock::start(),
                    start: AtomicU64::new(0),
                    end: AtomicU64::new(pages),
                    touches: (0..vcpus).map(|_| VcpuCounter::default()).collect(),
                    regs: Mutex::new(TruthRegs::default()),
                }
            }),
        }));
        Ok(())
    }
}

impl HasCallbacks for InsnCount {
    fn on_translation_block_translate(
        &mut self,
        _id: PluginId,
        tb: TranslationBlock,
    ) -> qemu_plugin::Result<()> {
        let Some(state) = self.state.clone() else {
            return Ok(());
        };
        let insns = tb.size() as u64;
        let block = state.profile_vcpu.map(|_| {
            let b = Arc::new(BlockCount {
                vaddr: tb.vaddr(),
                insns,
                execs: AtomicU64::new(0),
            });
            state
                .blocks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(b.clone());
            b
        });
        let s = state.clone();
        tb.register_execute_callback(move |vcpu| s.on_block(vcpu, insns, block.as_deref()));

        for insn in tb.instructions() {
            if state.truth.is_some() {
                let s = state.clone();
                insn.register_memory_access_callback(
                    move |vcpu, info, vaddr| {
                        if let Some(t) = &s.truth {
                            t.on_access(vcpu, &info, vaddr);
                        }
                    },
                    MemRW::QEMU_PLUGIN_MEM_RW,
                );
            }
            // API v1 copies the bytes into a new vector: look only at 7-byte instructions.
            if insn.size() != marker::LEN {
                continue;
            }
            if let Some(tag) = marker::decode(&insn.data()) {
                let s = state.clone();
                insn.register_execute_callback(move |vcpu| s.on_marker(vcpu, tag));
            }
        }
        Ok(())
    }
}

qemu_plugin::register!(InsnCount::default());
