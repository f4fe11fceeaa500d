//! `mlctl monitor dashboard`: a Grafana dashboard (JSON model, schema 39) over mlctl's
//! metrics — traffic and errors per version, latency percentiles, route weights, rollout
//! transitions, log and webhook health — with a `$model` variable. Import it in Grafana
//! (Dashboards → Import) and pick the Prometheus data source that scrapes the gateway.

use serde_json::{Value, json};

/// (title, unit, PromQL expressions with their legends).
type Panel = (&'static str, &'static str, Vec<(&'static str, &'static str)>);

fn panels() -> Vec<Panel> {
    vec![
        (
            "Requests per second by version",
            "reqps",
            vec![(
                "sum by (version, role) (rate(mlctl_requests_total{model=~\"$model\"}[5m]))",
                "{{version}} ({{role}})",
            )],
        ),
        (
            "Error share by version",
            "percentunit",
            vec![(
                "sum by (version) (rate(mlctl_request_errors_total{model=~\"$model\"}[5m])) / sum by (version) (rate(mlctl_requests_total{model=~\"$model\"}[5m]))",
                "{{version}}",
            )],
        ),
        (
            "Latency by version",
            "s",
            vec![
                (
                    "histogram_quantile(0.5, sum by (version, le) (rate(mlctl_request_duration_seconds_bucket{model=~\"$model\"}[5m])))",
                    "p50 {{version}}",
                ),
                (
                    "histogram_quantile(0.99, sum by (version, le) (rate(mlctl_request_duration_seconds_bucket{model=~\"$model\"}[5m])))",
                    "p99 {{version}}",
                ),
            ],
        ),
        (
            "Route weights",
            "percent",
            vec![(
                "max by (version) (mlctl_route_weight_percent{model=~\"$model\"})",
                "{{version}}",
            )],
        ),
        (
            "Rollout transitions",
            "short",
            vec![(
                "sum by (kind) (increase(mlctl_rollout_transitions_total{model=~\"$model\"}[15m]))",
                "{{kind}}",
            )],
        ),
        (
            "Requests in flight, shadow drops",
            "short",
            vec![
                ("sum(mlctl_in_flight_requests)", "in flight"),
                ("sum(rate(mlctl_shadow_dropped_total[5m]))", "shadow dropped /s"),
            ],
        ),
        (
            "Prediction and outcome logs",
            "short",
            vec![
                (
                    "sum by (log) (rate(mlctl_log_write_errors_total[5m]))",
                    "write errors /s {{log}}",
                ),
                ("sum by (log) (rate(mlctl_log_dropped_total[5m]))", "dropped /s {{log}}"),
            ],
        ),
        (
            "Webhook deliveries",
            "short",
            vec![(
                "sum by (target, result) (increase(mlctl_notify_deliveries_total[15m]))",
                "{{result}} {{target}}",
            )],
        ),
    ]
}

/// Every PromQL expression of the dashboard, with `$model` as Grafana would expand `.*`.
pub fn expressions() -> Vec<String> {
    panels()
        .into_iter()
        .flat_map(|(_, _, targets)| targets.into_iter().map(|(e, _)| e.replace("$model", ".*")))
        .collect()
}

pub fn dashboard() -> Value {
    let panels: Vec<Value> = panels()
        .into_iter()
        .enumerate()
        .map(|(i, (title, unit, targets))| {
            json!({
                "id": i + 1,
                "type": "timeseries",
                "title": title,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i / 2) * 8},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": targets.iter().enumerate().map(|(j, (expr, legend))| json!({
                    "refId": ((b'A' + j as u8) as char).to_string(),
                    "expr": expr,
                    "legendFormat": legend,
                    "datasource": {"type": "prometheus", "uid": "${datasource}"},
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "title": "mlctl",
        "uid": "mlctl-gateway",
        "schemaVersion": 39,
        "version": 1,
        "editable": true,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "tags": ["mlctl"],
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"},
            {
                "name": "model",
                "type": "query",
                "label": "Model",
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "query": {"query": "label_values(mlctl_requests_total, model)", "refId": "model"},
                "definition": "label_values(mlctl_requests_total, model)",
                "includeAll": true,
                "multi": true,
                "allValue": ".*",
                "refresh": 2,
            },
        ]},
        "panels": panels,
    })
}
