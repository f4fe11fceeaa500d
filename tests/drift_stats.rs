//! Drift statistics against scipy (fixtures/drift/reference.json, made by
//! fixtures/drift/make_reference.py): KS (exact p), Wasserstein-1, chi-square,
//! Jensen–Shannon to 1e-6 relative; above 10 000 rows the asymptotic KS p equals
//! scipy's `kstwobign` (see src/stats/drift.rs for why that is not `kstwo`).

use mlctl::stats::drift::{chi_square, jensen_shannon, ks_2samp, wasserstein_1};
use serde_json::Value;

fn reference() -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/drift/reference.json");
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn sample(spec: &Value) -> Vec<f64> {
    let (kind, n, scale, shift) = (
        spec[0].as_str().unwrap(),
        spec[1].as_u64().unwrap(),
        spec[2].as_f64().unwrap(),
        spec[3].as_f64().unwrap(),
    );
    let step = if kind == "golden" {
        0.6180339887498949
    } else {
        0.4142135623730951
    };
    (0..n).map(|i| ((i as f64 * step) % 1.0) * scale + shift).collect()
}

fn ties(n: u64, k: u64) -> Vec<f64> {
    (0..n).map(|i| ((i * 7919) % k) as f64).collect()
}

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-6 * want.abs().max(1e-9),
        "{what}: mlctl {got} vs scipy {want}"
    );
}

#[test]
fn ks_and_wasserstein_match_scipy() {
    let r = reference();
    for (name, case) in r["ks"].as_object().unwrap() {
        let (a, b) = (sample(&case["a"]), sample(&case["b"]));
        let ks = ks_2samp(&a, &b).unwrap();
        close(ks.statistic, case["statistic"].as_f64().unwrap(), &format!("{name} D"));
        if a.len().max(b.len()) <= 10_000 {
            assert_eq!(ks.method, "exact");
            close(ks.p_value, case["p_value"].as_f64().unwrap(), &format!("{name} p"));
        } else {
            assert_eq!(ks.method, "asymptotic");
            close(
                ks.p_value,
                case["kstwobign_p"].as_f64().unwrap(),
                &format!("{name} asymptotic p"),
            );
        }
        close(
            wasserstein_1(&a, &b).unwrap(),
            r["wasserstein"][name].as_f64().unwrap(),
            &format!("{name} W1"),
        );
    }
    let t = &r["ties"];
    let (a, b) = (ties(150, 7), ties(170, 9));
    let ks = ks_2samp(&a, &b).unwrap();
    close(ks.statistic, t["statistic"].as_f64().unwrap(), "ties D");
    close(ks.p_value, t["p_value"].as_f64().unwrap(), "ties p");
    close(
        wasserstein_1(&a, &b).unwrap(),
        t["wasserstein"].as_f64().unwrap(),
        "ties W1",
    );
}

#[test]
fn chi_square_and_jensen_shannon_match_scipy() {
    let r = reference();
    for c in r["chisquare"].as_array().unwrap() {
        let obs: Vec<f64> = c["observed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let exp: Vec<f64> = c["expected_share"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let got = chi_square(&obs, &exp).unwrap();
        close(got.statistic, c["statistic"].as_f64().unwrap(), "chi2");
        close(got.p_value, c["p_value"].as_f64().unwrap(), "chi2 p");
    }
    // A cell empty on both sides ("other" when neither side has other categories) is
    // dropped: the same statistic and df as scipy on the categories that exist.
    for c in r["chisquare_empty_cells"].as_array().unwrap() {
        let floats = |k: &str| -> Vec<f64> { c[k].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect() };
        let got = chi_square(&floats("observed"), &floats("expected_share")).unwrap();
        close(got.statistic, c["statistic"].as_f64().unwrap(), "chi2 (empty cells)");
        close(got.p_value, c["p_value"].as_f64().unwrap(), "chi2 p (empty cells)");
        assert_eq!(got.df, c["df"].as_f64().unwrap());
    }
    for c in r["jensenshannon"].as_array().unwrap() {
        let p: Vec<f64> = c["p"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let q: Vec<f64> = c["q"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let want = c["distance"].as_f64().unwrap();
        let got = jensen_shannon(&p, &q).unwrap();
        assert!(
            (got - want).abs() <= 1e-6 * want.max(1e-9) || (got < 1e-7 && want < 1e-7),
            "JS {got} vs {want}"
        );
    }
}
