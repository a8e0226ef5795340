//! What every benchmark measures with: CPU time read from `/proc`, and medians of rounds.
//! Included by path (`#[path = ".../bench/support/figures.rs"] mod figures;`) from the
//! benchmarks of several crates, so each takes what it needs.

#![allow(dead_code, clippy::unwrap_used)]

/// CPU seconds (user and system, all threads) the process of a `/proc/<pid>/stat` file has
/// used so far. The kernel counts in clock ticks of a hundredth of a second, so a round should
/// last about a second for this to be a figure.
pub fn cpu_seconds(stat_path: &str) -> f64 {
    let stat = std::fs::read_to_string(stat_path).unwrap();
    // The fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap()) / 100.0
}

/// CPU seconds this process has used so far: [`cpu_seconds`] of `/proc/self/stat`.
pub fn own_cpu_seconds() -> f64 {
    cpu_seconds("/proc/self/stat")
}

/// CPU seconds process `pid` has used so far.
pub fn process_cpu_seconds(pid: u32) -> f64 {
    cpu_seconds(&format!("/proc/{pid}/stat"))
}

/// The middle value of the rounds (the upper one of an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
