//! The error-rate guard's decision rule, simulated the way the controller applies it (a
//! check after every request, stricter than the 1 s tick): the share of A/A steps tripped
//! and the median requests-to-detect for candidates at 2×, 5× and 100× the threshold, for
//! the sequential test (`stats::sequential::rate_rejects`) and the raw-ratio rule it
//! replaced (trip when errors/requests ≥ threshold from the 20th request on).
//! A second table does the same for the comparative guard `error_rate<=control+0.005`
//! (`stats::sequential::rate_difference`, checked every 100 requests per arm) against a
//! control failing 0.5%, beside the naive rule (observed difference ≥ margin from the 20th
//! request per arm on).
//! Run by `bench/guard_calibration.sh`; prints two tables.

use mlctl::stats::sequential::{rate_difference, rate_rejects};
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
    comparative();
}

const MARGIN: f64 = 0.005;
const CONTROL: f64 = 0.005;
const PER_ARM: u64 = 10_000;

/// (share of runs tripped within `PER_ARM` requests per arm, median requests per arm).
fn simulate_pair(p: f64, trips: impl Fn(u64, u64, u64) -> bool, seed: u64) -> (f64, Option<u64>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut at: Vec<u64> = Vec::new();
    for _ in 0..RUNS {
        let (mut kc, mut ks) = (0, 0);
        for n in 1..=PER_ARM {
            kc += u64::from(rng.random::<f64>() < p);
            ks += u64::from(rng.random::<f64>() < CONTROL);
            if trips(kc, ks, n) {
                at.push(n);
                break;
            }
        }
    }
    at.sort_unstable();
    (at.len() as f64 / RUNS as f64, at.get(at.len() / 2).copied())
}

fn comparative() {
    let sequential = |kc: u64, ks: u64, n: u64| {
        (n.is_multiple_of(100) || kc == n) && n >= 2 && rate_difference(kc, n, ks, n, ALPHA).lower > MARGIN
    };
    let raw = |kc: u64, ks: u64, n: u64| n >= 20 && (kc as f64 - ks as f64) / n as f64 >= MARGIN;
    println!();
    println!(
        "error_rate<=control+{MARGIN}, control failing {CONTROL}, alpha {ALPHA}, {RUNS} simulated steps of up to {PER_ARM} requests per arm"
    );
    println!(
        "{:<34} {:>22} {:>22}",
        "candidate error rate", "sequential (mlctl)", "raw difference"
    );
    for (label, p) in [
        ("0.5% (A/A)", 0.005),
        ("1% (at the margin)", 0.01),
        ("2%", 0.02),
        ("5%", 0.05),
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
            fmt(simulate_pair(p, sequential, 9)),
            fmt(simulate_pair(p, raw, 9))
        );
    }
}
