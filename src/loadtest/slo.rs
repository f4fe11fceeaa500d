//! Service-level gates: `--slo 'p99<20ms'`, `--slo 'error_rate<0.001'`, `--slo 'rps>=450'`.
//!
//! Grammar: `METRIC OP VALUE[UNIT]` with OP one of `<` `<=` `>` `>=`.
//! Latency metrics `p50 p90 p95 p99 p999 (or p99.9) max mean` take `us`, `ms` (the default
//! when no unit is given) or `s`, and also the guard spelling `p99_ms<20`;
//! `error_rate` takes a fraction or a percentage (`0.1%`); `rps` is achieved requests per
//! second; `errors` and `requests` are counts.

use serde::Serialize;

use super::histogram::LatencySummary;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Latency(Quantile),
    ErrorRate,
    Rps,
    Errors,
    Requests,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantile {
    P50,
    P90,
    P95,
    P99,
    P999,
    Max,
    Mean,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    /// As the user wrote it (trimmed).
    pub expr: String,
    pub metric: Metric,
    pub op: Op,
    /// In the metric's reporting unit: milliseconds, a fraction, per second, a count.
    pub threshold: f64,
}

/// The figures an SLO can be checked against.
#[derive(Debug, Clone, Copy, Default)]
pub struct Figures {
    /// Milliseconds.
    pub latency: LatencySummary,
    pub error_rate: f64,
    pub rps: f64,
    pub errors: u64,
    pub requests: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SloResult {
    pub expr: String,
    /// The measured value, in the unit the expression compares (ms for latency).
    pub value: f64,
    pub pass: bool,
}

fn usage(expr: &str, why: &str) -> Error {
    Error::Usage(format!(
        "--slo {expr:?}: {why} (examples: 'p99<20ms', 'error_rate<0.001', 'rps>=450')"
    ))
}

impl Slo {
    pub fn parse(expr: &str) -> Result<Slo> {
        let text = expr.trim();
        let pos = text
            .find(['<', '>'])
            .ok_or_else(|| usage(expr, "expected a comparison with <, <=, > or >="))?;
        let (name, rest) = text.split_at(pos);
        let (op, value) = if let Some(v) = rest.strip_prefix("<=") {
            (Op::Le, v)
        } else if let Some(v) = rest.strip_prefix(">=") {
            (Op::Ge, v)
        } else if let Some(v) = rest.strip_prefix('<') {
            (Op::Lt, v)
        } else if let Some(v) = rest.strip_prefix('>') {
            (Op::Gt, v)
        } else {
            return Err(usage(expr, "expected <, <=, > or >="));
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        let (base, forced_ms) = match name.strip_suffix("_ms") {
            Some(b) => (b.to_string(), true),
            None => (name.clone(), false),
        };
        let quantile = match base.as_str() {
            "p50" | "median" => Some(Quantile::P50),
            "p90" => Some(Quantile::P90),
            "p95" => Some(Quantile::P95),
            "p99" => Some(Quantile::P99),
            "p999" | "p99.9" => Some(Quantile::P999),
            "max" => Some(Quantile::Max),
            "mean" | "avg" => Some(Quantile::Mean),
            _ => None,
        };
        let (metric, threshold) = match (quantile, name.as_str()) {
            (Some(q), _) => {
                let ms = if forced_ms {
                    number(expr, value)?
                } else {
                    latency_ms(expr, value)?
                };
                (Metric::Latency(q), ms)
            }
            (None, "error_rate") => {
                let v = match value.strip_suffix('%') {
                    Some(p) => number(expr, p)? / 100.0,
                    None => number(expr, value)?,
                };
                if !(0.0..=1.0).contains(&v) {
                    return Err(usage(expr, "an error rate is a fraction between 0 and 1 (or 0%–100%)"));
                }
                (Metric::ErrorRate, v)
            }
            (None, "rps") => (Metric::Rps, number(expr, value.trim_end_matches("/s"))?),
            (None, "errors") => (Metric::Errors, number(expr, value)?),
            (None, "requests") => (Metric::Requests, number(expr, value)?),
            (None, other) => {
                return Err(usage(
                    expr,
                    &format!(
                        "unknown metric {other:?}: use p50, p90, p95, p99, p999, max, mean, error_rate, rps, errors or requests"
                    ),
                ));
            }
        };
        if threshold < 0.0 {
            return Err(usage(expr, "the threshold cannot be negative"));
        }
        Ok(Slo {
            expr: text.to_string(),
            metric,
            op,
            threshold,
        })
    }

    /// The measured value this SLO compares.
    pub fn value(&self, f: &Figures) -> f64 {
        match self.metric {
            Metric::Latency(q) => match q {
                Quantile::P50 => f.latency.p50,
                Quantile::P90 => f.latency.p90,
                Quantile::P95 => f.latency.p95,
                Quantile::P99 => f.latency.p99,
                Quantile::P999 => f.latency.p999,
                Quantile::Max => f.latency.max,
                Quantile::Mean => f.latency.mean,
            },
            Metric::ErrorRate => f.error_rate,
            Metric::Rps => f.rps,
            Metric::Errors => f.errors as f64,
            Metric::Requests => f.requests as f64,
        }
    }

    /// Check against the figures. A run with no answers fails every latency SLO (there is
    /// no evidence the latency was met).
    pub fn check(&self, f: &Figures) -> SloResult {
        let value = self.value(f);
        let no_evidence = matches!(self.metric, Metric::Latency(_)) && f.requests == f.errors;
        let pass = !no_evidence
            && match self.op {
                Op::Lt => value < self.threshold,
                Op::Le => value <= self.threshold,
                Op::Gt => value > self.threshold,
                Op::Ge => value >= self.threshold,
            };
        SloResult {
            expr: self.expr.clone(),
            value,
            pass,
        }
    }
}

fn number(expr: &str, s: &str) -> Result<f64> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| usage(expr, &format!("{s:?} is not a number")))
}

/// `20ms`, `1.5s`, `500us`/`500µs`, or a bare number of milliseconds.
fn latency_ms(expr: &str, s: &str) -> Result<f64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v = number(expr, num)?;
    let scale = match unit.trim() {
        "" | "ms" => 1.0,
        "s" => 1000.0,
        "us" | "µs" => 0.001,
        other => {
            return Err(usage(
                expr,
                &format!("unknown latency unit {other:?} (use us, ms or s)"),
            ));
        }
    };
    Ok(v * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures() -> Figures {
        Figures {
            latency: LatencySummary {
                p50: 3.0,
                p90: 8.0,
                p95: 12.0,
                p99: 19.5,
                p999: 40.0,
                max: 90.0,
                mean: 4.0,
                min: 0.5,
            },
            error_rate: 0.0005,
            rps: 451.0,
            errors: 2,
            requests: 4000,
        }
    }

    #[test]
    fn every_form_parses_and_checks() {
        let f = figures();
        for (expr, value, pass) in [
            ("p99<20ms", 19.5, true),
            ("p99 < 0.019s", 19.5, false),
            ("p99_ms<20", 19.5, true),
            ("p99.9<=40", 40.0, true),
            ("p999<40ms", 40.0, false),
            ("p50<3000us", 3.0, false),
            ("p90<9", 8.0, true),
            ("p95<=12ms", 12.0, true),
            ("max<100ms", 90.0, true),
            ("mean<3.5ms", 4.0, false),
            ("error_rate<0.001", 0.0005, true),
            ("error_rate<0.01%", 0.0005, false),
            ("rps>=450", 451.0, true),
            ("rps>451/s", 451.0, false),
            ("errors<=2", 2.0, true),
            ("requests>=5000", 4000.0, false),
        ] {
            let r = Slo::parse(expr).unwrap().check(&f);
            assert_eq!((r.value, r.pass), (value, pass), "{expr}");
            assert_eq!(r.expr, expr.trim());
        }
    }

    #[test]
    fn percent_error_rates_are_fractions() {
        let s = Slo::parse("error_rate<0.1%").unwrap();
        assert!((s.threshold - 0.001).abs() < 1e-15);
    }

    #[test]
    fn latency_gates_fail_without_answers() {
        let f = Figures {
            requests: 10,
            errors: 10,
            ..Figures::default()
        };
        assert!(!Slo::parse("p99<20ms").unwrap().check(&f).pass);
        assert!(Slo::parse("errors>=10").unwrap().check(&f).pass);
    }

    #[test]
    fn malformed_expressions_say_what_is_expected() {
        for (expr, want) in [
            ("p99", "expected a comparison"),
            ("p98<2ms", "unknown metric"),
            ("p99<fast", "not a number"),
            ("p99<2min", "unknown latency unit"),
            ("error_rate<2", "fraction"),
            ("rps>=-1", "negative"),
            ("p99=<2", "unknown metric \"p99=\""),
        ] {
            let e = Slo::parse(expr).unwrap_err().to_string();
            assert!(e.contains(want), "{expr}: {e}");
        }
    }
}

#[cfg(test)]
mod fuzz {
    //! The flag parsers of `loadtest` take arbitrary text: never a panic, and what parses
    //! re-parses from its own expression to the same gate.
    use super::*;
    use crate::loadtest::target::{parse_header, parse_url};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn slo_parser_never_panics(s in "\\PC{0,40}") {
            if let Ok(slo) = Slo::parse(&s) {
                prop_assert_eq!(Slo::parse(&slo.expr).unwrap(), slo);
            }
        }

        #[test]
        fn slo_like_text_never_panics(
            m in "(p50|p90|p95|p99|p999|p99\\.9|max|mean|error_rate|rps|errors|requests|p99_ms|x)",
            op in "(<|<=|>|>=|=|=<)",
            v in "[-+0-9.eE%]{0,8}(ms|s|us|µs|/s|%|)?",
        ) {
            let _ = Slo::parse(&format!("{m}{op}{v}"));
        }

        #[test]
        fn header_and_url_parsers_never_panic(s in "\\PC{0,30}") {
            let _ = parse_header(&s);
            let _ = parse_url(&s);
        }
    }
}
