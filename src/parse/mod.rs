//! Flag-value parsers shared by the commands: sizes, per-second rates, shares, sweeps of
//! rates, and `name=number` pairs. Each returns one line naming what was expected, so clap
//! (`value_parser = parse_size`) or the caller can show it as the error.

use crate::error::{Error, Result};

/// `8MiB`, `512KiB`, `1GB`, `1048576` → bytes (> 0).
pub fn parse_size(s: &str) -> std::result::Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| format!("expected a size like 8MiB, got {s:?}"))?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit {other:?} (use B, KiB, MiB, GiB, KB, MB, GB)"
            ));
        }
    };
    n.checked_mul(mult)
        .filter(|&b| b > 0)
        .ok_or_else(|| format!("size {s:?} is zero or too large"))
}

/// `a=50,b=25,c=25` → [("a", 50), ...]: names with non-negative numbers (a trailing `%`
/// is allowed). `flag` names the option in errors; callers check their own sums and bounds.
pub fn parse_pairs(flag: &str, s: &str) -> Result<Vec<(String, f64)>> {
    let mut out: Vec<(String, f64)> = Vec::new();
    for part in s.split(',') {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| Error::Usage(format!("{flag} {s:?}: expected name=number pairs like a=50,b=50")))?;
        let w: f64 = v
            .trim()
            .trim_end_matches('%')
            .parse()
            .ok()
            .filter(|w: &f64| *w >= 0.0 && w.is_finite())
            .ok_or_else(|| Error::Usage(format!("{flag} {s:?}: {v:?} is not a non-negative number")))?;
        let k = k.trim();
        if k.is_empty() || out.iter().any(|(n, _)| n == k) {
            return Err(Error::Usage(format!("{flag} {s:?}: {k:?} is empty or appears twice")));
        }
        out.push((k.to_string(), w));
    }
    Ok(out)
}

/// A rate like `500/s`, `500` (per second), `30000/m` or `2/ms`, in requests per second
/// (above 0, at most 10 000 000/s).
pub fn parse_per_second(s: &str) -> std::result::Result<f64, String> {
    let t = s.trim();
    let (num, per) = t.split_once('/').unwrap_or((t, "s"));
    let secs = match per.trim() {
        "s" | "sec" => 1.0,
        "ms" => 0.001,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => return Err(format!("unknown rate unit /{other} in {s:?} (use /s, /m or /h)")),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("expected a rate like 500/s, got {s:?}"))?;
    let rate = n / secs;
    if rate.is_finite() && rate > 0.0 && rate <= 10_000_000.0 {
        Ok(rate)
    } else {
        Err(format!("rate {s:?} must be above 0 and at most 10000000/s"))
    }
}

/// A share in 0..=1 (`0.05` = 5%).
pub fn parse_share(s: &str) -> std::result::Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("expected a number between 0 and 1, got {s:?}"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("expected a number between 0 and 1, got {s}"))
    }
}

/// `--sweep 1000,2000,4000/s`: increasing rates; a unit applies to the items before it
/// that have none (`60/m,120/m` and `100,200,400/s` both work).
pub fn parse_sweep(s: &str) -> Result<Vec<f64>> {
    let items: Vec<&str> = s.split(',').map(str::trim).collect();
    let mut out = vec![0.0; items.len()];
    let mut unit = "/s".to_string();
    for (i, item) in items.iter().enumerate().rev() {
        if let Some(pos) = item.find('/') {
            unit = item[pos..].to_string();
        }
        let with_unit = if item.contains('/') {
            item.to_string()
        } else {
            format!("{item}{unit}")
        };
        out[i] = parse_per_second(&with_unit).map_err(|e| Error::Usage(format!("--sweep {s:?}: {e}")))?;
    }
    if out.windows(2).any(|w| w[1] <= w[0]) {
        return Err(Error::Usage(format!("--sweep {s:?}: rates must increase")));
    }
    Ok(out)
}

/// An absolute http(s) URL with a host (webhook targets, gates, Prometheus).
pub fn is_http_url(s: &str) -> bool {
    reqwest::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_with_units() {
        assert_eq!(parse_per_second("500/s"), Ok(500.0));
        assert_eq!(parse_per_second("500"), Ok(500.0));
        assert_eq!(parse_per_second("600/m"), Ok(10.0));
        assert_eq!(parse_per_second("2/ms"), Ok(2000.0));
        assert!(parse_per_second("0/s").is_err());
        assert!(parse_per_second("fast").is_err());
        assert!(parse_per_second("5/week").unwrap_err().contains("unknown rate unit"));
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("2kb"), Ok(2000));
        assert!(parse_size("0").is_err());
        assert!(parse_size("8 parsecs").is_err());
        assert!(parse_size("99999999999999999999GiB").is_err());
    }

    #[test]
    fn sweeps_parse_with_a_shared_unit() {
        assert_eq!(parse_sweep("100,200,400/s").unwrap(), vec![100.0, 200.0, 400.0]);
        assert_eq!(parse_sweep("60/m,120/m").unwrap(), vec![1.0, 2.0]);
        assert_eq!(parse_sweep("5, 10").unwrap(), vec![5.0, 10.0]);
        assert!(parse_sweep("200,100/s").unwrap_err().to_string().contains("increase"));
        assert!(parse_sweep("100,x/s").is_err());
    }

    #[test]
    fn shares_and_pairs() {
        assert_eq!(parse_share("0.25"), Ok(0.25));
        assert!(parse_share("1.5").is_err());
        assert!(parse_share("NaN").is_err());
        assert_eq!(
            parse_pairs("--weights", "a=50, b = 25%").unwrap(),
            vec![("a".to_string(), 50.0), ("b".to_string(), 25.0)]
        );
        for bad in ["a", "a=-1", "a=1,a=2", "=3", "a=inf"] {
            let e = parse_pairs("--weights", bad).unwrap_err().to_string();
            assert!(e.starts_with("--weights"), "{bad}: {e}");
        }
    }
}

#[cfg(test)]
mod fuzz {
    //! Arbitrary text never panics, and what parses satisfies each parser's promise.
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parsers_never_panic_and_keep_their_bounds(s in "\\PC{0,30}") {
            if let Ok(n) = parse_size(&s) { prop_assert!(n > 0); }
            if let Ok(r) = parse_per_second(&s) { prop_assert!(r > 0.0 && r <= 1e7); }
            if let Ok(v) = parse_share(&s) { prop_assert!((0.0..=1.0).contains(&v)); }
            if let Ok(rates) = parse_sweep(&s) {
                prop_assert!(rates.windows(2).all(|w| w[0] < w[1]));
            }
            if let Ok(pairs) = parse_pairs("--x", &s) {
                prop_assert!(pairs.iter().all(|(k, w)| !k.is_empty() && *w >= 0.0 && w.is_finite()));
            }
        }

        #[test]
        fn number_like_text_never_panics(
            n in "[-+0-9.eE]{0,12}",
            unit in "(|/s|/ms|/m|/h|/x|KiB|MiB|GiB|kb|mb|gb|%)",
        ) {
            let s = format!("{n}{unit}");
            let _ = parse_size(&s);
            let _ = parse_per_second(&s);
            let _ = parse_share(&s);
            let _ = parse_sweep(&format!("{s},{s}"));
            let _ = parse_pairs("--x", &format!("a={s},b={n}"));
        }
    }
}
