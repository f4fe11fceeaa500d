//! Latency histograms: HdrHistogram in microseconds, 1 µs – 60 s, 3 significant digits
//! (0.1% value resolution), the same recorder wrk2 and oha use. Summaries and text-histogram
//! buckets.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Lowest trackable latency (µs).
pub const LOWEST_US: u64 = 1;
/// Highest trackable latency (µs): 60 s. Longer values are recorded as 60 s.
pub const HIGHEST_US: u64 = 60_000_000;
const SIGNIFICANT_DIGITS: u8 = 3;

/// A fresh latency histogram.
pub fn new() -> Histogram<u64> {
    // Infallible: the bounds are constants that satisfy 1 <= low, 2*low <= high, sigfig <= 5.
    Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS).expect("constant histogram bounds are valid")
}

/// Record a duration, clamped into the trackable range (never fails).
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = (d.as_micros().min(HIGHEST_US as u128) as u64).max(LOWEST_US);
    // Infallible: the value is clamped into the histogram's range.
    let _ = h.record(us);
}

/// Percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct LatencySummary {
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
    pub min: f64,
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Percentiles of `h` (all zero when it is empty). Quantiles are HdrHistogram's
/// `value_at_quantile`: the highest-equivalent value of the bucket holding that rank.
pub fn summary(h: &Histogram<u64>) -> LatencySummary {
    if h.is_empty() {
        return LatencySummary::default();
    }
    LatencySummary {
        p50: ms(h.value_at_quantile(0.50)),
        p90: ms(h.value_at_quantile(0.90)),
        p95: ms(h.value_at_quantile(0.95)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
        mean: h.mean() / 1000.0,
        min: ms(h.min()),
    }
}

/// One bar of the text histogram: values in (previous bound, `le_ms`].
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HistogramBucket {
    pub le_ms: f64,
    pub count: u64,
}

/// `n` buckets with geometric bounds from min to max, so a tail (a stall) and the body
/// (sub-millisecond answers) are both visible. Counts sum to `h.len()`.
pub fn buckets(h: &Histogram<u64>, n: usize) -> Vec<HistogramBucket> {
    if h.is_empty() || n == 0 {
        return Vec::new();
    }
    let lo = h.min().max(1) as f64;
    let hi = h.max().max(h.min() + 1) as f64;
    let ratio = (hi / lo).powf(1.0 / n as f64);
    let mut bounds: Vec<u64> = (1..=n).map(|i| (lo * ratio.powi(i as i32)).ceil() as u64).collect();
    bounds.dedup();
    if let Some(last) = bounds.last_mut() {
        *last = (*last).max(h.max());
    }
    let mut counts = vec![0u64; bounds.len()];
    for v in h.iter_recorded() {
        let value = h.highest_equivalent(v.value_iterated_to());
        let i = bounds.partition_point(|&b| b < value).min(bounds.len() - 1);
        counts[i] += v.count_at_value();
    }
    bounds
        .into_iter()
        .zip(counts)
        .map(|(b, count)| HistogramBucket { le_ms: ms(b), count })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reads_percentiles_in_milliseconds() {
        let mut h = new();
        for i in 1..=1000u64 {
            record(&mut h, Duration::from_micros(i * 100));
        }
        let s = summary(&h);
        assert!((s.p50 - 50.0).abs() < 0.05, "{s:?}");
        assert!((s.p99 - 99.0).abs() < 0.1, "{s:?}");
        assert!((s.max - 100.0).abs() < 0.1, "{s:?}");
        assert!((s.mean - 50.05).abs() < 0.05, "{s:?}");
        assert!((s.min - 0.1).abs() < 1e-9, "{s:?}");
    }

    #[test]
    fn out_of_range_values_are_clamped_not_lost() {
        let mut h = new();
        record(&mut h, Duration::ZERO);
        record(&mut h, Duration::from_secs(3600));
        assert_eq!(h.len(), 2);
        assert_eq!(h.min(), 1);
        assert!(h.max() >= HIGHEST_US);
    }

    #[test]
    fn buckets_cover_every_value_once() {
        let mut h = new();
        for _ in 0..990 {
            record(&mut h, Duration::from_micros(300));
        }
        for i in 0..10 {
            record(&mut h, Duration::from_millis(900 + i * 10));
        }
        let b = buckets(&h, 10);
        assert_eq!(b.iter().map(|b| b.count).sum::<u64>(), 1000);
        assert_eq!(b[0].count, 990);
        assert!(b.last().unwrap().le_ms >= 990.0);
        assert!(b.windows(2).all(|w| w[0].le_ms < w[1].le_ms));
    }
}
