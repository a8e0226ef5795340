//! What the benchmarks beside a peer share: the peer's cookies kept between requests, and the
//! rounds' figures (throughput under load, latency one request at a time). Included by path
//! beside `figures.rs` and the server tests' `node.rs` (for `Reply`).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use super::figures::median;
use super::node::Reply;

/// What one round measured: requests per wall-clock second and per CPU-second of the server,
/// and each request's latency, sorted.
pub struct Round {
    pub wall: f64,
    pub per_core: f64,
    pub latencies: Vec<Duration>,
}

/// Medians over the rounds: per second and per core under load, p50 and p99 latency in
/// seconds one request at a time.
pub fn summary((busy, alone): &(Vec<Round>, Vec<Round>)) -> [f64; 4] {
    let median_of = |rounds: &[Round], figure: &dyn Fn(&Round) -> f64| {
        median(rounds.iter().map(figure).collect())
    };
    [
        median_of(busy, &|r| r.wall),
        median_of(busy, &|r| r.per_core),
        median_of(alone, &|r| percentile(&r.latencies, 0.5).as_secs_f64()),
        median_of(alone, &|r| percentile(&r.latencies, 0.99).as_secs_f64()),
    ]
}

pub fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * fraction).round() as usize]
}

/// The cookies `reply` sets, kept in `jar` by name.
pub fn keep_cookies(jar: &mut BTreeMap<String, String>, reply: &Reply) {
    for line in reply.head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("set-cookie") {
            let pair = value.trim().split(';').next().unwrap_or_default();
            if let Some((key, value)) = pair.split_once('=') {
                jar.insert(key.to_string(), value.to_string());
            }
        }
    }
}

pub fn cookie_header(jar: &BTreeMap<String, String>) -> String {
    jar.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}
