//! `mlctl abtest analyze|plan`.

use crate::abtest::analyze::{AbReport, AnalyzeOptions};
use crate::abtest::plan::{Baseline, PlanInput, PlanReport, parse_mde, plan};
use crate::abtest::spec::parse_metric;
use crate::abtest::{Source, parse_split, run_analyze};
use crate::cli::{AbtestAnalyzeArgs, AbtestPlanArgs, FailOn};
use crate::error::{Error, Result};

/// The report, and the gate failure to exit with after printing it (if any).
pub fn analyze(a: AbtestAnalyzeArgs) -> Result<(AbReport, Option<Error>)> {
    if !(0.0 < a.alpha && a.alpha < 1.0) {
        return Err(Error::Usage(format!("--alpha {}: must be between 0 and 1", a.alpha)));
    }
    if a.tune_n <= 0.0 || !a.tune_n.is_finite() {
        return Err(Error::Usage("--tune-n must be positive".into()));
    }
    let specs = a.metrics.iter().map(|m| parse_metric(m)).collect::<Result<Vec<_>>>()?;
    let source = match &a.from_gateway {
        Some(dir) => Source::Gateway {
            dir: dir.clone(),
            model: a.model.clone(),
            since: a.since,
        },
        None => Source::Files {
            files: a.files.clone(),
            arm_col: a.arm_col.clone(),
            unit_col: a.unit_col.clone(),
        },
    };
    let opts = AnalyzeOptions {
        control: a.control.clone(),
        alpha: a.alpha,
        method: a.method,
        tune_n: a.tune_n,
        cuped: a.cuped_col.is_some(),
        correction: a.correction,
        expected_split: a.expected_split.as_deref().map(parse_split).transpose()?,
        min_n: a.min_n,
    };
    let report = run_analyze(&source, &specs, a.cuped_col.as_deref(), &opts)?;
    let gate = if report.srm.mismatch && !a.ignore_srm {
        Some(Error::InvalidExperiment(format!(
            "sample-ratio mismatch (chi-square p = {:.2e} < 0.001): observed {:?} for arms {:?}; fix the assignment or pass --ignore-srm",
            report.srm.p_value, report.srm.observed, report.srm.arms
        )))
    } else if a.fail_on == Some(FailOn::Regression) && !report.regressions().is_empty() {
        Some(Error::GateFailed(format!(
            "significantly worse than {}: {}",
            report.control,
            report.regressions().join(", ")
        )))
    } else {
        None
    };
    Ok((report, gate))
}

pub fn plan_cmd(a: AbtestPlanArgs) -> Result<PlanReport> {
    let baseline = match (a.baseline_rate, a.baseline_mean, a.sd) {
        (Some(r), None, _) => Baseline::Rate(r),
        (None, Some(mean), Some(sd)) => Baseline::Mean { mean, sd },
        _ => {
            return Err(Error::Usage(
                "give --baseline-rate, or --baseline-mean with --sd".into(),
            ));
        }
    };
    let mde = a.mde.as_deref().map(parse_mde).transpose()?;
    plan(&PlanInput {
        baseline,
        mde,
        n: a.n,
        alpha: a.alpha,
        power: a.power,
        arms: a.arms,
        daily_traffic: a.daily_traffic,
    })
}
