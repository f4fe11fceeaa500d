//! Baseline profiles: one streaming pass over training data/predictions builds, per
//! column, its kind, counts, moments, quantile bin edges with their proportions, a small
//! reservoir sample (for KS and Wasserstein) and category frequencies. The profile is
//! versioned JSON of a few KB per column and mergeable.
//!
//! Approximations (stated in the README): bin edges and proportions come from a uniform
//! reservoir of `EDGE_RESERVOIR` values (exact below that many rows; rank error about
//! 1/√20 000 above), the stored sample holds `--sample` values (default 1000), and at
//! most `MAX_CATEGORIES` distinct categories are tracked, the rest pooled as "other".

use std::collections::HashMap;

use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::stats::moments::Moments;

pub const FORMAT: &str = "mlctl-drift-profile";
pub const VERSION: u32 = 1;
pub const EDGE_RESERVOIR: usize = 20_000;
pub const MAX_CATEGORIES: usize = 1000;
/// Categories stored in a profile (the rest pooled as "other").
pub const TOP_K: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Numeric,
    Categorical,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub name: String,
    pub kind: Kind,
    pub count: u64,
    pub missing: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numeric: Option<NumericProfile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categorical: Option<CategoricalProfile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericProfile {
    pub mean: f64,
    pub std: f64,
    pub min: f64,
    pub max: f64,
    /// Inner bin edges (bins − 1 values); bin i is [edge[i-1], edge[i]).
    pub edges: Vec<f64>,
    /// Share of values per bin (edges.len() + 1 bins).
    pub proportions: Vec<f64>,
    /// Uniform reservoir sample of the values.
    pub sample: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalProfile {
    /// (value, count), most frequent first.
    pub top: Vec<(String, u64)>,
    pub other: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub format: String,
    pub version: u32,
    pub rows: u64,
    pub bins: usize,
    pub columns: Vec<ColumnProfile>,
}

impl Profile {
    /// Read and validate a profile file; errors say what is wrong with it.
    pub fn read(path: &std::path::Path) -> Result<Profile> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let at = path.display().to_string();
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::input(&at, format!("not a drift profile (invalid JSON: {e})")))?;
        if v["format"] != FORMAT {
            return Err(Error::input(
                &at,
                format!("not a drift profile (format is {}, expected \"{FORMAT}\")", v["format"]),
            ));
        }
        let version = v["version"].as_u64().unwrap_or(0);
        if version > VERSION as u64 {
            return Err(Error::input(
                &at,
                format!("profile version {version} is newer than this mlctl reads ({VERSION}); upgrade mlctl"),
            ));
        }
        let p: Profile =
            serde_json::from_value(v).map_err(|e| Error::input(&at, format!("corrupted drift profile: {e}")))?;
        for c in &p.columns {
            let ok = match c.kind {
                Kind::Numeric => c
                    .numeric
                    .as_ref()
                    .is_some_and(|n| n.proportions.len() == n.edges.len() + 1),
                Kind::Categorical => c.categorical.is_some(),
            };
            if !ok {
                return Err(Error::input(
                    &at,
                    format!("corrupted drift profile: column \"{}\" is incomplete", c.name),
                ));
            }
        }
        Ok(p)
    }

    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Uniform reservoir sample with a fixed seed (profiles of the same data are identical),
/// by Li's Algorithm L: after the reservoir fills, it jumps ahead by geometric skips, so
/// random numbers are drawn O(k·log(N/k)) times instead of once per value.
#[derive(Debug, Clone)]
pub struct Reservoir {
    pub cap: usize,
    pub seen: u64,
    pub values: Vec<f64>,
    rng: rand::rngs::SmallRng,
    w: f64,
    next: u64,
}

impl Reservoir {
    pub fn new(cap: usize, seed: u64) -> Self {
        Reservoir {
            cap,
            seen: 0,
            values: Vec::with_capacity(cap.min(1 << 16)),
            rng: rand::rngs::SmallRng::seed_from_u64(seed),
            w: 1.0,
            next: 0,
        }
    }

    fn unit(&mut self) -> f64 {
        // (0, 1]: never 0, so its logarithm is finite.
        1.0 - self.rng.random::<f64>()
    }

    fn schedule(&mut self) {
        self.w *= (self.unit().ln() / self.cap as f64).exp();
        let skip = (self.unit().ln() / (1.0 - self.w).ln()).floor();
        self.next = self.seen
            + if skip.is_finite() && skip >= 0.0 {
                skip as u64
            } else {
                u64::MAX / 2
            }
            + 1;
    }

    pub fn push(&mut self, v: f64) {
        self.seen += 1;
        if self.values.len() < self.cap {
            self.values.push(v);
            if self.values.len() == self.cap {
                self.schedule();
            }
        } else if self.seen == self.next {
            let i = self.rng.random_range(0..self.cap);
            self.values[i] = v;
            self.schedule();
        }
    }

    /// Combine with another reservoir of the same stream's other part: each slot is drawn
    /// from one side with probability proportional to how many values that side saw.
    pub fn merge(&mut self, other: &Reservoir) {
        if other.seen == 0 {
            return;
        }
        let total = self.seen + other.seen;
        if self.values.len() + other.values.len() <= self.cap {
            // Everything fits (this reservoir keeps its own, larger capacity).
            self.values.extend_from_slice(&other.values);
        } else {
            let (mut a, mut b) = (self.values.clone(), other.values.clone());
            let mut out = Vec::with_capacity(self.cap);
            let p_a = self.seen as f64 / total as f64;
            while out.len() < self.cap && (!a.is_empty() || !b.is_empty()) {
                let from_a = !a.is_empty() && (b.is_empty() || self.rng.random::<f64>() < p_a);
                let side = if from_a { &mut a } else { &mut b };
                let i = self.rng.random_range(0..side.len());
                out.push(side.swap_remove(i));
            }
            self.values = out;
        }
        self.seen = total;
        if self.values.len() >= self.cap {
            self.w = 1.0;
            self.schedule();
        }
    }
}

/// Streaming accumulator for one column (kind decided at the end unless forced).
#[derive(Debug, Clone)]
pub struct ColumnBuilder {
    pub name: String,
    forced: Option<Kind>,
    pub count: u64,
    pub missing: u64,
    non_numeric: u64,
    moments: Moments,
    min: f64,
    max: f64,
    edges_res: Reservoir,
    sample: Reservoir,
    cats: rustc_hash::FxHashMap<String, u64>,
    cats_overflow: u64,
}

impl ColumnBuilder {
    pub fn new(name: &str, forced: Option<Kind>, sample: usize, seed: u64) -> Self {
        ColumnBuilder {
            name: name.into(),
            forced,
            count: 0,
            missing: 0,
            non_numeric: 0,
            moments: Moments::default(),
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            edges_res: Reservoir::new(EDGE_RESERVOIR, seed),
            sample: Reservoir::new(sample, seed ^ 0x9e37_79b9),
            cats: Default::default(),
            cats_overflow: 0,
        }
    }

    pub fn push(&mut self, cell: Option<&str>) {
        let Some(v) = cell else {
            self.missing += 1;
            return;
        };
        self.count += 1;
        if self.forced != Some(Kind::Categorical) {
            match crate::data::parse_f64(v) {
                Some(x) => {
                    self.moments.push(x);
                    self.min = self.min.min(x);
                    self.max = self.max.max(x);
                    self.edges_res.push(x);
                    self.sample.push(x);
                }
                None => self.non_numeric += 1,
            }
        }
        // A column that has only seen numbers and already overflowed the category table
        // is (almost surely) numeric: stop hashing its values, just count them as "other".
        let hopeless = self.non_numeric == 0 && self.cats.len() >= MAX_CATEGORIES;
        if hopeless {
            self.cats_overflow += 1;
        } else if self.forced != Some(Kind::Numeric) {
            if let Some(c) = self.cats.get_mut(v) {
                *c += 1;
            } else if self.cats.len() < MAX_CATEGORIES {
                self.cats.insert(v.to_string(), 1);
            } else {
                self.cats_overflow += 1;
            }
        }
    }

    /// An empty builder for one of `parts` parts of the data: reservoirs of 1/parts the
    /// size, so that merging the parts refills this builder's full-size reservoirs without
    /// each part paying for a full-size one.
    pub fn for_part(&self, parts: usize) -> ColumnBuilder {
        let mut b = self.clone();
        let seed = 7919 * parts as u64;
        b.edges_res = Reservoir::new((self.edges_res.cap / parts).max(1), seed);
        b.sample = Reservoir::new((self.sample.cap / parts).max(1), seed ^ 0x9e37_79b9);
        b
    }

    /// Fold in the builder of another part of the same column (parallel scans).
    pub fn merge(&mut self, o: &ColumnBuilder) {
        self.count += o.count;
        self.missing += o.missing;
        self.non_numeric += o.non_numeric;
        self.moments.merge(&o.moments);
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        self.edges_res.merge(&o.edges_res);
        self.sample.merge(&o.sample);
        for (k, v) in &o.cats {
            if let Some(c) = self.cats.get_mut(k) {
                *c += v;
            } else if self.cats.len() < MAX_CATEGORIES {
                self.cats.insert(k.clone(), *v);
            } else {
                self.cats_overflow += v;
            }
        }
        self.cats_overflow += o.cats_overflow;
    }

    /// The kind: forced, else numeric when every present value parsed as a number.
    pub fn kind(&self) -> Kind {
        self.forced.unwrap_or(if self.non_numeric == 0 && self.count > 0 {
            Kind::Numeric
        } else {
            Kind::Categorical
        })
    }

    /// Finish into a profile column with `bins` equal-frequency bins.
    pub fn finish(self, bins: usize, at: &str) -> Result<ColumnProfile> {
        let kind = self.kind();
        if kind == Kind::Numeric && self.non_numeric > 0 {
            return Err(Error::input(
                at,
                format!(
                    "column \"{}\" was declared numeric but has {} non-numeric values",
                    self.name, self.non_numeric
                ),
            ));
        }
        let (numeric, categorical) = match kind {
            Kind::Numeric => {
                let mut sorted = self.edges_res.values.clone();
                sorted.sort_by(f64::total_cmp);
                let edges = quantile_edges(&sorted, bins);
                let proportions = bin_shares(&sorted, &edges);
                let sample: Vec<f64> = self.sample.values.iter().map(|v| round_sig(*v, 10)).collect();
                (
                    Some(NumericProfile {
                        mean: self.moments.mean,
                        std: self.moments.var().sqrt(),
                        min: if self.moments.n > 0 { self.min } else { 0.0 },
                        max: if self.moments.n > 0 { self.max } else { 0.0 },
                        edges,
                        proportions,
                        sample,
                    }),
                    None,
                )
            }
            Kind::Categorical => {
                let mut all: Vec<(String, u64)> = self.cats.into_iter().collect();
                all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                let other: u64 = all.iter().skip(TOP_K).map(|(_, c)| c).sum::<u64>() + self.cats_overflow;
                all.truncate(TOP_K);
                (None, Some(CategoricalProfile { top: all, other }))
            }
        };
        Ok(ColumnProfile {
            name: self.name,
            kind,
            count: self.count,
            missing: self.missing,
            numeric,
            categorical,
        })
    }
}

/// `bins` equal-frequency bins over sorted values: the inner edges, deduplicated.
pub fn quantile_edges(sorted: &[f64], bins: usize) -> Vec<f64> {
    if sorted.is_empty() || bins < 2 {
        return Vec::new();
    }
    let mut edges: Vec<f64> = (1..bins)
        .map(|i| sorted[(i * sorted.len() / bins).min(sorted.len() - 1)])
        .collect();
    edges.dedup();
    edges
}

/// Index of the bin of `x` given inner edges (bin i = [edge[i-1], edge[i])).
pub fn bin_of(edges: &[f64], x: f64) -> usize {
    // Edges are sorted, so the bin is how many edges are ≤ x. For the usual 9–15 edges
    // a count of independent compares beats the binary search's chain of dependent loads.
    if edges.len() <= 16 {
        edges.iter().map(|e| usize::from(*e <= x)).sum()
    } else {
        edges.partition_point(|e| *e <= x)
    }
}

pub fn bin_shares(values: &[f64], edges: &[f64]) -> Vec<f64> {
    let mut counts = vec![0.0; edges.len() + 1];
    for &v in values {
        counts[bin_of(edges, v)] += 1.0;
    }
    let n = values.len().max(1) as f64;
    counts.iter().map(|c| c / n).collect()
}

fn round_sig(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let mag = x.abs().log10().floor() as i32;
    let scale = 10f64.powi(digits - 1 - mag);
    if !scale.is_finite() || scale == 0.0 {
        x
    } else {
        (x * scale).round() / scale
    }
}

/// Merge profiles of the same columns (e.g. from shards). Counts and moments combine
/// exactly; samples combine by drawing from each in proportion to its row count; edges
/// and proportions are recomputed from the merged samples (approximate).
pub fn merge(profiles: &[Profile], sample: usize) -> Result<Profile> {
    let first = profiles
        .first()
        .ok_or_else(|| Error::Usage("--merge needs at least one profile".into()))?;
    let mut columns = Vec::new();
    for col in &first.columns {
        let parts: Vec<&ColumnProfile> = profiles
            .iter()
            .map(|p| p.column(&col.name).filter(|c| c.kind == col.kind))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                Error::Usage(format!(
                    "profiles disagree on column \"{}\" (missing or of another kind)",
                    col.name
                ))
            })?;
        let count: u64 = parts.iter().map(|c| c.count).sum();
        let missing: u64 = parts.iter().map(|c| c.missing).sum();
        let merged = match col.kind {
            Kind::Numeric => {
                let mut m = Moments::default();
                let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
                let mut rng = rand::rngs::StdRng::seed_from_u64(7);
                let mut pooled = Vec::new();
                for c in &parts {
                    let n = c
                        .numeric
                        .as_ref()
                        .ok_or_else(|| Error::State("numeric column without numbers".into()))?;
                    let nn = c.count as f64;
                    m.merge(&Moments {
                        n: c.count,
                        mean: n.mean,
                        m2: n.std * n.std * (nn - 1.0).max(0.0),
                    });
                    lo = lo.min(n.min);
                    hi = hi.max(n.max);
                    let want = ((c.count as f64 / count.max(1) as f64) * sample as f64).round() as usize;
                    let mut s = n.sample.clone();
                    for i in 0..want.min(s.len()) {
                        let j = rng.random_range(i..s.len());
                        s.swap(i, j);
                    }
                    pooled.extend(s.into_iter().take(want));
                }
                let mut sorted = pooled.clone();
                sorted.sort_by(f64::total_cmp);
                let edges = quantile_edges(&sorted, first.bins);
                let proportions = bin_shares(&sorted, &edges);
                ColumnProfile {
                    name: col.name.clone(),
                    kind: Kind::Numeric,
                    count,
                    missing,
                    numeric: Some(NumericProfile {
                        mean: m.mean,
                        std: m.var().sqrt(),
                        min: lo,
                        max: hi,
                        edges,
                        proportions,
                        sample: pooled,
                    }),
                    categorical: None,
                }
            }
            Kind::Categorical => {
                let mut counts: HashMap<String, u64> = HashMap::new();
                let mut other = 0;
                for c in &parts {
                    let k = c
                        .categorical
                        .as_ref()
                        .ok_or_else(|| Error::State("categorical column without categories".into()))?;
                    for (v, n) in &k.top {
                        *counts.entry(v.clone()).or_default() += n;
                    }
                    other += k.other;
                }
                let mut all: Vec<(String, u64)> = counts.into_iter().collect();
                all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                other += all.iter().skip(TOP_K).map(|(_, c)| c).sum::<u64>();
                all.truncate(TOP_K);
                ColumnProfile {
                    name: col.name.clone(),
                    kind: Kind::Categorical,
                    count,
                    missing,
                    numeric: None,
                    categorical: Some(CategoricalProfile { top: all, other }),
                }
            }
        };
        columns.push(merged);
    }
    Ok(Profile {
        format: FORMAT.into(),
        version: VERSION,
        rows: profiles.iter().map(|p| p.rows).sum(),
        bins: first.bins,
        columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Few edges (counted) and many (binary search): the same bin as the search.
        #[test]
        fn bin_of_is_the_partition_point(mut edges in proptest::collection::vec(-5.0f64..5.0, 0..40), x in -6.0f64..6.0) {
            edges.sort_by(f64::total_cmp);
            let want = edges.partition_point(|e| *e <= x);
            proptest::prop_assert_eq!(bin_of(&edges, x), want);
            if let Some(&e) = edges.first() {
                proptest::prop_assert_eq!(bin_of(&edges, e), edges.partition_point(|v| *v <= e));
            }
        }
    }

    #[test]
    fn reservoir_keeps_its_capacity_when_merging_smaller_parts() {
        let mut whole = Reservoir::new(1000, 1);
        for p in 0..4 {
            let mut part = Reservoir::new(250, 2 + p);
            for i in 0..10_000 {
                part.push((p * 10_000 + i) as f64);
            }
            whole.merge(&part);
        }
        assert_eq!(whole.cap, 1000);
        assert_eq!(whole.values.len(), 1000);
        assert_eq!(whole.seen, 40_000);
        // every part is represented about equally
        for p in 0..4 {
            let n = whole
                .values
                .iter()
                .filter(|v| (**v as usize) / 10_000 == p as usize)
                .count();
            assert!((200..=300).contains(&n), "part {p}: {n}");
        }
    }

    #[test]
    fn algorithm_l_samples_uniformly() {
        // 200 reservoirs of 100 from 10 000: each decile should hold ~10% of picks.
        let mut deciles = [0u32; 10];
        for seed in 0..200 {
            let mut r = Reservoir::new(100, seed);
            for i in 0..10_000 {
                r.push(i as f64);
            }
            for v in &r.values {
                deciles[(*v as usize) / 1000] += 1;
            }
        }
        for d in deciles {
            assert!((1800..=2200).contains(&d), "{deciles:?}");
        }
    }
}
