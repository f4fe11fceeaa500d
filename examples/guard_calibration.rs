//! The error-rate guard's decision rule, simulated the way the controller applies it (a
//! check after every request, stricter than the 1 s tick): the share of A/A steps tripped
//! and the median requests-to-detect for candidates at 2×, 5× and 100× the threshold, for
//! the sequential test (`stats::sequential::rate_rejects`) and the raw-ratio rule it
//! replaced (trip when errors/requests ≥ threshold from the 20th request on).
//! Run by `bench/guard_calibration.sh`; prints one table.

use mlctl::stats::sequential::rate_rejects;
use rand::{RngExt, SeedableRng};

const RUNS: usize = 2000;
const STEP: u64 = 5000;
const THRESHOLD: f64 = 0.01;
const ALPHA: f64 = 0.05;

/// (share of runs that tripped within `STEP` requests, median requests to the trip).
fn simulate(p: f64, trips: impl Fn(u64, u64) -> bool, seed: u64) -> (f64, Option<u64>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut at: Vec<u64> = Vec::new();
    for _ in 0..RUNS {
        let mut k = 0;
        for n in 1..=STEP {
            k += u64::from(rng.random::<f64>() < p);
            if trips(k, n) {
                at.push(n);
                break;
            }
        }
    }
    at.sort_unstable();
    (at.len() as f64 / RUNS as f64, at.get(at.len() / 2).copied())
}

fn main() {
    let sequential = |k: u64, n: u64| k > 0 && rate_rejects(k, n, THRESHOLD, ALPHA).0;
    let raw = |k: u64, n: u64| n >= 20 && k as f64 / n as f64 >= THRESHOLD;
    println!(
        "error_rate<{THRESHOLD}, alpha {ALPHA}, {RUNS} simulated steps of up to {STEP} requests, checked after every request"
    );
    println!(
        "{:<34} {:>22} {:>22}",
        "true error rate", "sequential (mlctl)", "raw ratio (before)"
    );
    for (label, p) in [
        ("0.5% (A/A: half the threshold)", 0.005),
        ("1% (at the threshold)", 0.01),
        ("2% (2x)", 0.02),
        ("5% (5x)", 0.05),
        ("100% (crashing)", 1.0),
    ] {
        let fmt = |(share, median): (f64, Option<u64>)| {
            format!(
                "{:>5.1}% tripped, med {:>5}",
                share * 100.0,
                median.map_or("-".to_string(), |m| m.to_string())
            )
        };
        println!(
            "{label:<34} {:>22} {:>22}",
            fmt(simulate(p, sequential, 7)),
            fmt(simulate(p, raw, 7))
        );
    }
}
