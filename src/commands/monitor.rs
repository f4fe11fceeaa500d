//! `mlctl monitor rules`: Prometheus alerting rules over the gateway's own metrics, to load
//! into the Prometheus that scrapes `/metrics` (`rule_files:`). Each rule names the metric
//! it reads, so an alert can be traced back to the number behind it. CI checks the output
//! with `promtool check rules` and unit-tests every rule with `promtool test rules`.

use crate::cli::MonitorRulesArgs;
use crate::error::{Error, Result};

/// One alerting rule.
struct Rule {
    alert: &'static str,
    expr: String,
    for_: String,
    severity: &'static str,
    summary: &'static str,
    description: String,
}

fn quote(s: &str) -> String {
    // YAML double-quoted scalar: escape backslashes and quotes.
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The rule file (YAML) for `args`.
pub fn rules_yaml(a: &MonitorRulesArgs) -> Result<String> {
    if !(0.0..1.0).contains(&a.error_rate) || a.error_rate == 0.0 {
        return Err(Error::Usage(format!(
            "--error-rate {}: expected a share between 0 and 1",
            a.error_rate
        )));
    }
    if !(a.p99_ms > 0.0 && a.p99_ms.is_finite()) {
        return Err(Error::Usage(format!(
            "--p99-ms {}: expected a positive number",
            a.p99_ms
        )));
    }
    let window = humantime::format_duration(a.window).to_string().replace(' ', "");
    let for_ = humantime::format_duration(a.for_).to_string().replace(' ', "");
    let rules = vec![
        Rule {
            alert: "MlctlRolledBack",
            expr: "increase(mlctl_rollout_transitions_total{kind=\"rollback\"}[10m]) > 0".into(),
            for_: "0s".into(),
            severity: "warning",
            summary: "A rollout of {{ $labels.model }} was rolled back",
            description: "mlctl rolled back a rollout of {{ $labels.model }} (a guard tripped, a gate timed out, or an operator acted): see `mlctl history {{ $labels.model }}`.".into(),
        },
        Rule {
            alert: "MlctlRolloutPaused",
            expr: "increase(mlctl_rollout_transitions_total{kind=\"pause\"}[10m]) > 0".into(),
            for_: "0s".into(),
            severity: "warning",
            summary: "A rollout of {{ $labels.model }} is paused",
            description: "A rollout of {{ $labels.model }} paused (inconclusive step, sample-ratio mismatch, a guard that cannot be judged, or --on-trip pause): it waits for `mlctl resume`, `promote` or `rollback`.".into(),
        },
        Rule {
            alert: "MlctlHighErrorRate",
            expr: format!(
                "sum by (model, version) (rate(mlctl_request_errors_total[{window}])) / sum by (model, version) (rate(mlctl_requests_total[{window}])) > {}",
                a.error_rate
            ),
            for_: for_.clone(),
            severity: "critical",
            summary: "{{ $labels.model }} version {{ $labels.version }} fails more than allowed",
            description: format!(
                "Error share of {{{{ $labels.model }}}}/{{{{ $labels.version }}}} over {window} is {{{{ $value | humanizePercentage }}}} (limit {}).",
                a.error_rate
            ),
        },
        Rule {
            alert: "MlctlHighP99Latency",
            expr: format!(
                "histogram_quantile(0.99, sum by (model, version, le) (rate(mlctl_request_duration_seconds_bucket[{window}]))) > {}",
                a.p99_ms / 1000.0
            ),
            for_: for_.clone(),
            severity: "warning",
            summary: "{{ $labels.model }} version {{ $labels.version }} is slow",
            description: format!(
                "p99 latency of {{{{ $labels.model }}}}/{{{{ $labels.version }}}} over {window} is {{{{ $value | humanizeDuration }}}} (limit {} ms).",
                a.p99_ms
            ),
        },
        Rule {
            alert: "MlctlPredictionLogDropping",
            expr: "increase(mlctl_log_dropped_total[10m]) > 0".into(),
            for_: "0s".into(),
            severity: "critical",
            summary: "mlctl is losing {{ $labels.log }} log records",
            description: "Writes of the {{ $labels.log }} log fail (disk full or read-only?): records are dropped, and monitoring, A/B analysis and backtests miss them.".into(),
        },
        Rule {
            alert: "MlctlWebhookFailing",
            expr: "increase(mlctl_notify_deliveries_total{result=\"failed\"}[15m]) > 0".into(),
            for_: "0s".into(),
            severity: "warning",
            summary: "Webhook messages to {{ $labels.target }} are being given up",
            description: "mlctl gave up delivering rollout messages to {{ $labels.target }} after --notify-retry-for: see `mlctl status`.".into(),
        },
        Rule {
            alert: "MlctlDriftDetected",
            expr: "max by (model, version, column) (mlctl_drift_detected) == 1".into(),
            for_: "0s".into(),
            severity: "warning",
            summary: "{{ $labels.model }} version {{ $labels.version }}: {{ $labels.column }} drifted from its training baseline",
            description: "A drift monitor judged column {{ $labels.column }} of {{ $labels.model }}/{{ $labels.version }} drifted in its last window: see `mlctl monitor ls` and `mlctl monitor status`.".into(),
        },
    ];
    let mut out = String::from(
        "# Prometheus alerting rules for mlctl (`mlctl monitor rules`).\ngroups:\n  - name: mlctl\n    rules:\n",
    );
    for r in &rules {
        out += &format!("      - alert: {}\n", r.alert);
        out += &format!("        expr: {}\n", quote(&r.expr));
        out += &format!("        for: {}\n", r.for_);
        out += &format!("        labels:\n          severity: {}\n", r.severity);
        out += &format!(
            "        annotations:\n          summary: {}\n          description: {}\n",
            quote(r.summary),
            quote(&r.description)
        );
    }
    Ok(out)
}
