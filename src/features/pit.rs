//! Point-in-time semantics, the one definition every feature lookup uses: online (the
//! value as of now) and offline (the value as of an event's time, for a training set).
//!
//! The value of an entity's feature as of time `t` is the value of its latest update whose
//! event time is ≤ `t` — an update stamped after `t` is the future and never leaks into
//! the past — provided it is not older than the feature's `max_age` (`t − event ≤ max_age`,
//! inclusive); otherwise there is none (the view's default applies). Updates with the same
//! event time: the one received last wins. This is pandas
//! `merge_asof(direction="backward", allow_exact_matches=True, tolerance=max_age)` on
//! right rows sorted stably by event time.

/// One entity's updates of one column, kept in event-time order (updates may arrive out
/// of order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// (event time in µs since the epoch, value), sorted by time; equal times in arrival order.
    points: Vec<(i64, f64)>,
}

impl History {
    /// Record an update (any order).
    pub fn insert(&mut self, at_us: i64, value: f64) {
        let i = self.points.partition_point(|(t, _)| *t <= at_us);
        self.points.insert(i, (at_us, value));
    }

    /// The value as of `at_us` (see the module doc), or `None`.
    pub fn as_of(&self, at_us: i64, max_age_us: Option<i64>) -> Option<f64> {
        let i = self.points.partition_point(|(t, _)| *t <= at_us);
        let (t, v) = *self.points.get(i.checked_sub(1)?)?;
        match max_age_us {
            Some(age) if at_us - t > age => None,
            _ => Some(v),
        }
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_future_never_leaks_and_old_values_expire() {
        let mut h = History::default();
        h.insert(100, 1.0);
        h.insert(300, 3.0);
        h.insert(200, 2.0); // out of order
        h.insert(200, 2.5); // same time, received later: wins
        assert_eq!(h.as_of(99, None), None);
        assert_eq!(h.as_of(100, None), Some(1.0), "an update stamped at t counts at t");
        assert_eq!(h.as_of(250, None), Some(2.5));
        assert_eq!(h.as_of(1000, None), Some(3.0));
        assert_eq!(h.as_of(1000, Some(700)), Some(3.0), "exactly max_age old still counts");
        assert_eq!(h.as_of(1001, Some(700)), None);
    }

    /// pandas `merge_asof` on the same updates (out of order, duplicate times, unknown
    /// entities) and events: identical, with and without a tolerance
    /// (`fixtures/features/make_pit.py`, pandas 2.2.3).
    #[test]
    fn matches_pandas_merge_asof_backward() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/features/pit.json");
        let f: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut by_entity: std::collections::HashMap<String, History> = Default::default();
        for u in f["updates"].as_array().unwrap() {
            let e = u[0].as_str().unwrap().to_string();
            by_entity
                .entry(e)
                .or_default()
                .insert(u[1].as_i64().unwrap(), u[2].as_f64().unwrap());
        }
        let tol = f["tolerance_us"].as_i64().unwrap();
        for (age, key) in [
            (Some(tol), "expected_with_tolerance"),
            (None, "expected_without_tolerance"),
        ] {
            let want = f[key].as_array().unwrap();
            let mut matched = 0;
            for (ev, want) in f["events"].as_array().unwrap().iter().zip(want) {
                let got = by_entity
                    .get(ev[0].as_str().unwrap())
                    .and_then(|h| h.as_of(ev[1].as_i64().unwrap(), age));
                assert_eq!(got, want.as_f64(), "{key}: event {ev}");
                matched += got.is_some() as usize;
            }
            // Both outcomes occur: values found, and none (unknown, too early, too old).
            assert!(matched > 500 && want.len() - matched > 300, "{key}: {matched} matched");
        }
    }

    proptest! {
        /// Against the definition, brute force: the last-received among the updates with
        /// the greatest event time ≤ t, if within max_age.
        #[test]
        fn as_of_is_the_latest_update_not_after_t(
            updates in proptest::collection::vec((0i64..50, -5.0f64..5.0), 0..40),
            t in -5i64..60,
            age in proptest::option::of(0i64..20),
        ) {
            let mut h = History::default();
            for &(at, v) in &updates {
                h.insert(at, v);
            }
            let best = updates.iter().filter(|(at, _)| *at <= t).map(|(at, _)| *at).max();
            let want = best.and_then(|b| {
                let v = updates.iter().rev().find(|(at, _)| *at == b).map(|(_, v)| *v)?;
                match age { Some(a) if t - b > a => None, _ => Some(v) }
            });
            prop_assert_eq!(h.as_of(t, age), want);
        }
    }
}
