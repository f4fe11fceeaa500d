//! `/ui`: a read-only status page for people — models and live versions, rollouts with
//! their guard values, each monitor's drift timeline, recent alerts. One self-contained
//! HTML page (no scripts from anywhere, no CDN) rendered on the server and refreshing
//! itself every 5 s.
//!
//! Access needs the admin token: `/ui?token=…` (or the login form) exchanges it for a
//! cookie holding HMAC-SHA256(token, "mlctl-ui") — not the token itself, `HttpOnly`,
//! `SameSite=Strict`, scoped to `/ui` — and redirects to `/ui` so the token leaves the
//! address bar. Without it: the login form (401), nothing else.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::state::AppState;
use crate::output::html::{esc, num, page, timeline_svg};

const COOKIE: &str = "mlctl_ui";

fn session(token: &str) -> String {
    super::notify::signature(token.as_bytes(), b"mlctl-ui")
        .trim_start_matches("sha256=")
        .to_string()
}

fn has_session(st: &AppState, headers: &HeaderMap) -> bool {
    let want = session(&st.token);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .any(|(k, v)| k == COOKIE && bool::from(v.as_bytes().ct_eq(want.as_bytes())))
}

fn login_form(message: &str) -> Response {
    let body = format!(
        r#"<h1>mlctl</h1><p>{}</p><form method="post" action="/ui/login"><label>admin token <input type="password" name="token" autocomplete="off"></label> <button type="submit">open</button></form>"#,
        esc(message)
    );
    let mut r = (StatusCode::UNAUTHORIZED, page("mlctl status", &body)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn grant(st: &AppState) -> Response {
    let cookie = format!("{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/ui", session(&st.token));
    let mut r = StatusCode::SEE_OTHER.into_response();
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/ui"));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: Option<String>,
}

fn token_ok(st: &AppState, given: &str) -> bool {
    bool::from(given.as_bytes().ct_eq(st.token.as_bytes()))
}

/// `POST /ui/login` (form: token=…).
pub async fn login(
    State(st): State<Arc<AppState>>,
    form: Result<axum::Form<TokenQuery>, axum::extract::rejection::FormRejection>,
) -> Response {
    let token = form.ok().and_then(|f| f.0.token).unwrap_or_default();
    if token_ok(&st, &token) {
        grant(&st)
    } else {
        login_form("wrong token")
    }
}

/// `GET /ui`.
pub async fn page_handler(
    State(st): State<Arc<AppState>>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Response {
    if let Some(t) = q.token {
        return if token_ok(&st, &t) {
            grant(&st)
        } else {
            login_form("wrong token")
        };
    }
    if !has_session(&st, &headers) {
        return login_form("sign in with the gateway's admin token");
    }
    let html = render(&st).await;
    let mut r = (StatusCode::OK, html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src data:"),
    );
    r
}

async fn render(st: &Arc<AppState>) -> String {
    let mut b = String::from(r#"<h1>mlctl status</h1>"#);
    // Models.
    let table = st.routes.load_full();
    let mut names: Vec<&String> = table.models.keys().collect();
    names.sort();
    b.push_str(
        "<h2>models</h2><table><tr><th>model</th><th>live</th><th>rollout</th><th>weights</th><th>guards</th></tr>",
    );
    for name in names {
        let route = &table.models[name];
        let live = route
            .live
            .as_ref()
            .map(|v| v.version.clone())
            .unwrap_or_else(|| "-".into());
        let (phase, weights) = match route.rollout.as_deref() {
            Some(r) => (
                format!("{} ({:?})", r.phase.name(), r.spec.strategy).to_lowercase(),
                r.weights()
                    .iter()
                    .map(|w| format!("{}={:.0}%", w.version, w.percent))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            None => ("-".into(), "-".into()),
        };
        let guards = st
            .rollouts
            .evaluation(name)
            .map(|ev| {
                ev.values
                    .iter()
                    .map(|g| {
                        format!(
                            r#"<span class="{}">{} [{}] = {} {}</span>"#,
                            if !g.pass {
                                "bad"
                            } else if g.decided {
                                "good"
                            } else {
                                ""
                            },
                            esc(&g.guard),
                            esc(&g.arm),
                            g.value.map(num).unwrap_or_else(|| "-".into()),
                            g.verdict()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("<br>")
            })
            .unwrap_or_default();
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{guards}</td></tr>",
            esc(name),
            esc(&live),
            esc(&phase),
            esc(&weights)
        );
    }
    b.push_str("</table>");
    // Monitors and their timelines.
    b.push_str("<h2>drift monitors</h2>");
    let monitors = st.monitors.all();
    if monitors.is_empty() {
        b.push_str("<p>none (<code>mlctl monitor add</code>)</p>");
    }
    for m in monitors {
        let info = super::monitor_api::info(&m);
        let id = m.id;
        let windows = st
            .with_store(move |s| s.monitor_windows(id, 60))
            .await
            .unwrap_or_default();
        let firing: Vec<String> = info
            .firing
            .iter()
            .map(|(v, f)| {
                format!(
                    r#"<span class="{}">v{} {}</span>"#,
                    if *f { "bad" } else { "good" },
                    esc(v),
                    if *f { "FIRING" } else { "ok" }
                )
            })
            .collect();
        let _ = write!(
            b,
            "<section><h3>monitor {id}: {} — windows of {}, alert after {}</h3><p>{}</p>",
            esc(&info.model),
            humantime::format_duration(std::time::Duration::from_millis(info.window_ms)),
            info.consecutive,
            firing.join(" ")
        );
        let mut versions: Vec<&str> = windows.iter().map(|w| w.version.as_str()).collect();
        versions.sort_unstable();
        versions.dedup();
        for col in &info.columns {
            for &v in &versions {
                let mut threshold = 0.0;
                let mut method = String::new();
                let points: Vec<(String, Option<f64>, bool)> = windows
                    .iter()
                    .filter(|w| w.version == v)
                    .filter_map(|w| {
                        let c = w.result["columns"]
                            .as_array()?
                            .iter()
                            .find(|c| c["column"] == col.as_str())?;
                        threshold = c["threshold"].as_f64().unwrap_or(0.0);
                        method = c["method"].as_str().unwrap_or_default().to_string();
                        let stat = c["p_value"].as_f64().or_else(|| c["statistic"].as_f64());
                        Some((w.end.clone(), stat, c["drift"].as_bool().unwrap_or(false)))
                    })
                    .collect();
                let drifted = points.last().is_some_and(|p| p.2);
                let _ = write!(
                    b,
                    r#"<h4>{} — version {} — {} <span class="{}">{}</span></h4>"#,
                    esc(col),
                    esc(v),
                    esc(&method),
                    if drifted { "bad" } else { "good" },
                    if drifted { "drift" } else { "ok" }
                );
                if points.len() >= 2 {
                    b.push_str(&timeline_svg(&points, threshold));
                }
            }
        }
        b.push_str("</section>");
    }
    // Recent alerts.
    let alerts = st.with_store(|s| s.recent_alerts(20)).await.unwrap_or_default();
    b.push_str("<h2>recent alerts</h2><table><tr><th>time</th><th>model</th><th>event</th><th>why</th></tr>");
    for e in alerts {
        let _ = write!(
            b,
            r#"<tr><td>{}</td><td>{}</td><td class="{}">{}</td><td>{}</td></tr>"#,
            esc(&e.ts),
            esc(&e.model),
            if e.kind == "monitor_resolve" { "good" } else { "bad" },
            esc(&e.kind),
            esc(e.detail["reason"].as_str().unwrap_or_default())
        );
    }
    b.push_str("</table>");
    let html = page("mlctl status", &b);
    html.replacen("<head>", r#"<head><meta http-equiv="refresh" content="5">"#, 1)
}
