//! When requests are due. Two load models share one lock-free claim counter:
//!
//! * **Open loop** (`--rate`): request `i` is due at `start + i / rate`, whatever the server
//!   does. A worker (one per connection) claims the next slot, sleeps until it is due and
//!   sends; when every connection is busy the due slots wait, and that wait counts in their
//!   latency because latency is measured from the slot's *intended* time. This is the
//!   coordinated-omission correction of wrk2 (Tene, "How NOT to measure latency", 2015):
//!   a server that stalls for a second is charged for every request due in that second.
//! * **Closed loop** (`--concurrency`): each worker sends its next request when the last
//!   one answered; a slot is simply "the next request", until `--requests` or the deadline.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LoadModel {
    /// Requests per second on a fixed timetable.
    Open { rate: f64 },
    /// Workers that each wait for their answer before sending again.
    Closed { concurrency: usize, requests: Option<u64> },
}

/// One claimed request.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    /// Request number (selects the body and routing key); closed-loop workers number
    /// their own requests.
    pub index: u64,
    /// When it is due (open loop); `None` in a closed loop.
    pub intended: Option<Instant>,
    /// After the warm-up: counted in the results.
    pub measured: bool,
}

#[derive(Debug)]
pub struct Schedule {
    model: LoadModel,
    start: Instant,
    warmup: Duration,
    duration: Duration,
    /// Open loop: number of slots in warm-up + measured window.
    total_slots: u64,
    /// Open loop: seconds between slots.
    interval_s: f64,
    next: AtomicU64,
    measured_claims: AtomicU64,
    stopped: AtomicBool,
    /// When `stop` was called, ns since `start` (u64::MAX: not stopped).
    stopped_at_ns: AtomicU64,
}

impl Schedule {
    pub fn new(model: LoadModel, start: Instant, warmup: Duration, duration: Duration) -> Self {
        let (total_slots, interval_s) = match model {
            LoadModel::Open { rate } => (((warmup + duration).as_secs_f64() * rate).round() as u64, 1.0 / rate),
            LoadModel::Closed { .. } => (u64::MAX, 0.0),
        };
        Schedule {
            model,
            start,
            warmup,
            duration,
            total_slots,
            interval_s,
            next: AtomicU64::new(0),
            measured_claims: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            stopped_at_ns: AtomicU64::new(u64::MAX),
        }
    }

    pub fn model(&self) -> LoadModel {
        self.model
    }

    /// When the schedule began (warm-up included).
    pub fn start(&self) -> Instant {
        self.start
    }

    /// When the measured window begins.
    pub fn measure_start(&self) -> Instant {
        self.start + self.warmup
    }

    /// When the last slot is due (open) or no new request may start (closed).
    pub fn end(&self) -> Instant {
        self.start + self.warmup + self.duration
    }

    /// Due time of open-loop slot `i`.
    pub fn due(&self, i: u64) -> Instant {
        self.start + Duration::from_secs_f64(i as f64 * self.interval_s)
    }

    /// Stop handing out slots (the drain window closed, or Ctrl-C).
    pub fn stop(&self) {
        let at = Instant::now().saturating_duration_since(self.start).as_nanos();
        let _ = self.stopped_at_ns.compare_exchange(
            u64::MAX,
            at.min(u64::MAX as u128 - 1) as u64,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        self.stopped.store(true, Ordering::Relaxed);
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// Open loop: slots of the measured window that were due before the run stopped but
    /// never claimed (still waiting for a connection when it ended).
    pub fn unsent_measured(&self) -> u64 {
        let LoadModel::Open { .. } = self.model else {
            return 0;
        };
        let due_before_stop = match self.stopped_at_ns.load(Ordering::Relaxed) {
            u64::MAX => self.total_slots,
            ns => ((ns as f64 / 1e9 / self.interval_s).floor() as u64 + 1).min(self.total_slots),
        };
        let claimed = self.next.load(Ordering::Relaxed).min(self.total_slots);
        let first_measured = (self.warmup.as_secs_f64() / self.interval_s).ceil() as u64;
        due_before_stop.saturating_sub(claimed.max(first_measured))
    }

    /// The next request to send, or `None` when the run is over. `now` is the claim time.
    pub fn claim(&self, now: Instant) -> Option<Slot> {
        if self.is_stopped() {
            return None;
        }
        match self.model {
            LoadModel::Open { .. } => {
                let i = self.next.fetch_add(1, Ordering::Relaxed);
                if i >= self.total_slots {
                    return None;
                }
                let due = self.due(i);
                Some(Slot {
                    index: i,
                    intended: Some(due),
                    measured: due >= self.measure_start(),
                })
            }
            LoadModel::Closed { requests, .. } => {
                if now >= self.end() && requests.is_none() {
                    return None;
                }
                let measured = now >= self.measure_start();
                if measured
                    && let Some(limit) = requests
                    && self.measured_claims.fetch_add(1, Ordering::Relaxed) >= limit
                {
                    return None;
                }
                // The worker numbers its own requests: no shared counter on the hot path.
                Some(Slot {
                    index: 0,
                    intended: None,
                    measured,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_loop_slots_follow_the_timetable_regardless_of_claim_time() {
        let t0 = Instant::now();
        let s = Schedule::new(
            LoadModel::Open { rate: 100.0 },
            t0,
            Duration::from_millis(500),
            Duration::from_secs(1),
        );
        let late = t0 + Duration::from_secs(10);
        let slots: Vec<Slot> = std::iter::from_fn(|| s.claim(late)).collect();
        assert_eq!(slots.len(), 150);
        assert_eq!(slots.iter().filter(|s| s.measured).count(), 100);
        assert_eq!(slots[10].intended.unwrap() - t0, Duration::from_millis(100));
        assert!(!slots[49].measured);
        assert!(slots[50].measured);
        assert_eq!(s.unsent_measured(), 0);
    }

    /// 10/s for 2 s starting at `t0`, with the first five slots claimed, then stopped.
    fn stopped_after_five(t0: Instant) -> Schedule {
        let s = Schedule::new(
            LoadModel::Open { rate: 10.0 },
            t0,
            Duration::ZERO,
            Duration::from_secs(2),
        );
        for _ in 0..5 {
            s.claim(t0).unwrap();
        }
        s.stop();
        s
    }

    #[test]
    fn only_slots_due_before_the_stop_are_unsent() {
        // Stopped right after t0 (the 6th slot was due at 500 ms): nothing was owed.
        let s = stopped_after_five(Instant::now());
        assert!(s.claim(Instant::now()).is_none());
        assert_eq!(s.unsent_measured(), 0);
        // Stopped 5 s in: all 20 were due, 15 never went out.
        let s = stopped_after_five(Instant::now() - Duration::from_secs(5));
        assert_eq!(s.unsent_measured(), 15);
    }

    #[test]
    fn closed_loop_counts_only_measured_requests_against_the_limit() {
        let t0 = Instant::now();
        let s = Schedule::new(
            LoadModel::Closed {
                concurrency: 2,
                requests: Some(3),
            },
            t0,
            Duration::from_secs(1),
            Duration::from_secs(60),
        );
        // During warm-up: unlimited and unmeasured.
        for _ in 0..5 {
            assert!(!s.claim(t0).unwrap().measured);
        }
        let after = t0 + Duration::from_secs(2);
        let measured: Vec<Slot> = std::iter::from_fn(|| s.claim(after)).collect();
        assert_eq!(measured.len(), 3);
        assert!(measured.iter().all(|s| s.measured && s.intended.is_none()));
    }

    #[test]
    fn closed_loop_by_duration_stops_at_the_deadline() {
        let t0 = Instant::now();
        let s = Schedule::new(
            LoadModel::Closed {
                concurrency: 1,
                requests: None,
            },
            t0,
            Duration::ZERO,
            Duration::from_secs(1),
        );
        assert!(s.claim(t0).is_some());
        assert!(s.claim(t0 + Duration::from_secs(1)).is_none());
    }
}
