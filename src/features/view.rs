//! Feature view files (TOML), parsed strictly: an unknown key, a missing one or a bad
//! value is one error naming the file, the line and the field.
//!
//! ```toml
//! input = "x"            # the model input the assembled [N, len(features)] tensor feeds
//! datatype = "FP32"      # FP32 (default) or FP64
//! on_store_error = "fail"  # fail (503) or default, when the store cannot be read
//! on_stale = "default"   # a value older than max_age: default (missing) or serve (flagged)
//! [[feature]]
//! name = "hour"          # a request field
//! from = "request"
//! [[feature]]
//! name = "prep_7d"       # a lookup: table.column by the entity id in request field `key`
//! from = "restaurant_stats.avg_prep_7d"
//! key = "restaurant_id"
//! default = 0.0          # when the entity is unknown or its value too old
//! max_age = "7d"         # older values count as missing
//! ```

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    Fp32,
    Fp64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnStoreError {
    /// Answer 503: no prediction on inputs the model was not meant to see.
    #[default]
    Fail,
    /// Use each lookup's default, count it, and flag the log record.
    Default,
}

/// Where a feature's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A field of the request (a parameter, or an input named after it).
    Request,
    /// `table.column` of the entity whose id is in request field `key`.
    Lookup {
        table: String,
        column: String,
        key: String,
        default: Option<f64>,
        max_age: Option<Duration>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    pub name: String,
    pub source: Source,
}

/// What a lookup whose value is older than its `max_age` gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnStale {
    /// Counts as missing: the default (the issue's "older values count as missing").
    #[default]
    Default,
    /// The old value, flagged in the log record and counted.
    Serve,
}

#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub input: String,
    pub datatype: DataType,
    pub on_store_error: OnStoreError,
    pub on_stale: OnStale,
    pub features: Vec<Feature>,
}

impl View {
    /// The tables the view reads.
    pub fn tables(&self) -> Vec<&str> {
        let mut t: Vec<&str> = self
            .features
            .iter()
            .filter_map(|f| match &f.source {
                Source::Lookup { table, .. } => Some(table.as_str()),
                Source::Request => None,
            })
            .collect();
        t.sort_unstable();
        t.dedup();
        t
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawView {
    input: toml::Spanned<String>,
    #[serde(default)]
    datatype: Option<toml::Spanned<String>>,
    #[serde(default)]
    on_store_error: Option<toml::Spanned<String>>,
    #[serde(default)]
    on_stale: Option<toml::Spanned<String>>,
    #[serde(default)]
    feature: Vec<RawFeature>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeature {
    name: toml::Spanned<String>,
    from: toml::Spanned<String>,
    #[serde(default)]
    key: Option<toml::Spanned<String>>,
    #[serde(default)]
    default: Option<toml::Spanned<f64>>,
    #[serde(default)]
    max_age: Option<toml::Spanned<String>>,
}

/// Names of features, tables, columns and keys: what a CSV header or a V2 input may be.
fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

/// Parse a view file.
pub fn parse_view(path: &Path) -> Result<View> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_view_text(&path.display().to_string(), &text)
}

/// Parse view `text`; errors name `shown` and the line.
pub fn parse_view_text(shown: &str, text: &str) -> Result<View> {
    let line = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let at = |span: std::ops::Range<usize>| format!("{shown}:{}", line(span.start));
    let raw: RawView = toml::from_str(text).map_err(|e| {
        let place = e.span().map(&at).unwrap_or_else(|| shown.to_string());
        Error::input(place, e.message().to_string())
    })?;
    let field = |span: std::ops::Range<usize>, what: &str| Error::input(at(span), what.to_string());
    let input = raw.input.get_ref().clone();
    if !valid_name(&input) {
        return Err(field(raw.input.span(), "input: expected the model input's name"));
    }
    let datatype = match raw.datatype.as_ref().map(|d| d.get_ref().as_str()) {
        None | Some("FP32") => DataType::Fp32,
        Some("FP64") => DataType::Fp64,
        Some(_) => {
            let span = raw.datatype.as_ref().map(|d| d.span()).unwrap_or(0..0);
            return Err(field(span, "datatype: expected FP32 or FP64"));
        }
    };
    let on_store_error = match raw.on_store_error.as_ref().map(|d| d.get_ref().as_str()) {
        None | Some("fail") => OnStoreError::Fail,
        Some("default") => OnStoreError::Default,
        Some(_) => {
            let span = raw.on_store_error.as_ref().map(|d| d.span()).unwrap_or(0..0);
            return Err(field(span, "on_store_error: expected fail or default"));
        }
    };
    let on_stale = match raw.on_stale.as_ref().map(|d| d.get_ref().as_str()) {
        None | Some("default") => OnStale::Default,
        Some("serve") => OnStale::Serve,
        Some(_) => {
            let span = raw.on_stale.as_ref().map(|d| d.span()).unwrap_or(0..0);
            return Err(field(span, "on_stale: expected default or serve"));
        }
    };
    if raw.feature.is_empty() {
        return Err(Error::input(shown, "a view needs at least one [[feature]]"));
    }
    let mut features: Vec<Feature> = Vec::with_capacity(raw.feature.len());
    for (i, f) in raw.feature.iter().enumerate() {
        let n = i + 1;
        let name = f.name.get_ref().clone();
        if !valid_name(&name) {
            return Err(field(
                f.name.span(),
                &format!("feature {n}: name {name:?}: expected letters, digits, _ - ."),
            ));
        }
        if features.iter().any(|g| g.name == name) {
            return Err(field(
                f.name.span(),
                &format!("feature {n}: name {name:?} is used twice"),
            ));
        }
        let from = f.from.get_ref();
        let source = if from == "request" {
            for (set, span, what) in [
                (f.key.is_some(), f.key.as_ref().map(|k| k.span()), "key"),
                (f.default.is_some(), f.default.as_ref().map(|k| k.span()), "default"),
                (f.max_age.is_some(), f.max_age.as_ref().map(|k| k.span()), "max_age"),
            ] {
                if set {
                    return Err(field(
                        span.unwrap_or(0..0),
                        &format!(
                            "feature {n} ({name}): {what} applies to a lookup (from = \"table.column\"), not to a request field"
                        ),
                    ));
                }
            }
            Source::Request
        } else {
            let Some((table, column)) = from.split_once('.').filter(|(t, c)| valid_name(t) && valid_name(c)) else {
                return Err(field(
                    f.from.span(),
                    &format!("feature {n} ({name}): from: expected \"request\" or \"table.column\""),
                ));
            };
            let key = f.key.as_ref().ok_or_else(|| {
                field(
                    f.from.span(),
                    &format!("feature {n} ({name}): a lookup needs key = \"<request field with the entity id>\""),
                )
            })?;
            if !valid_name(key.get_ref()) {
                return Err(field(
                    key.span(),
                    &format!("feature {n} ({name}): key: expected a request field name"),
                ));
            }
            let max_age = match &f.max_age {
                None => None,
                Some(m) => Some(
                    humantime::parse_duration(m.get_ref())
                        .ok()
                        .filter(|d| !d.is_zero())
                        .ok_or_else(|| {
                            field(
                                m.span(),
                                &format!("feature {n} ({name}): max_age: expected a duration like 7d or 1h"),
                            )
                        })?,
                ),
            };
            let default = match &f.default {
                Some(d) if !d.get_ref().is_finite() => {
                    return Err(field(
                        d.span(),
                        &format!("feature {n} ({name}): default: expected a finite number"),
                    ));
                }
                d => d.as_ref().map(|d| *d.get_ref()),
            };
            Source::Lookup {
                table: table.to_string(),
                column: column.to_string(),
                key: key.get_ref().clone(),
                default,
                max_age,
            }
        };
        features.push(Feature { name, source });
    }
    Ok(View {
        input,
        datatype,
        on_store_error,
        on_stale,
        features,
    })
}

/// A view must feed an input the model has, with as many columns as it has features
/// (when the model declares them).
pub fn check_inputs(view: &View, inputs: &[crate::wire::v2::TensorMetadata]) -> Result<()> {
    if inputs.is_empty() {
        return Ok(()); // upstream models declare their inputs on demand
    }
    let Some(input) = inputs.iter().find(|i| i.name == view.input) else {
        let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
        return Err(Error::Model(format!(
            "feature view: input = {:?}, but the model's inputs are {}",
            view.input,
            names.join(", ")
        )));
    };
    let k = view.features.len() as i64;
    if let [_, cols] = input.shape.as_slice()
        && *cols > 0
        && *cols != k
    {
        return Err(Error::Model(format!(
            "feature view: {k} features, but the model's input {:?} has {cols} columns",
            view.input
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GOOD: &str = r#"
input = "x"
datatype = "FP32"
[[feature]]
name = "hour"
from = "request"
[[feature]]
name = "prep_7d"
from = "restaurant_stats.avg_prep_7d"
key = "restaurant_id"
default = 0.0
max_age = "7d"
"#;

    #[test]
    fn the_issues_view_parses() {
        let v = parse_view_text("view.toml", GOOD).unwrap();
        assert_eq!(v.input, "x");
        assert_eq!(v.features.len(), 2);
        assert_eq!(v.features[0].source, Source::Request);
        assert_eq!(
            v.features[1].source,
            Source::Lookup {
                table: "restaurant_stats".into(),
                column: "avg_prep_7d".into(),
                key: "restaurant_id".into(),
                default: Some(0.0),
                max_age: Some(Duration::from_secs(7 * 86400)),
            }
        );
        assert_eq!(v.tables(), vec!["restaurant_stats"]);
        assert_eq!(v.on_store_error, OnStoreError::Fail);
    }

    #[test]
    fn bad_views_name_the_line_and_field() {
        for (edit, want) in [
            (
                ("max_age = \"7d\"", "max_age = \"a week\""),
                "view.toml:12: feature 2 (prep_7d): max_age",
            ),
            (
                ("key = \"restaurant_id\"", "kee = \"restaurant_id\""),
                "view.toml:10: unknown field `kee`",
            ),
            (
                ("from = \"request\"", "from = \"requests\""),
                "view.toml:6: feature 1 (hour): from",
            ),
            (
                ("name = \"prep_7d\"", "name = \"hour\""),
                "view.toml:8: feature 2: name \"hour\" is used twice",
            ),
            (("datatype = \"FP32\"", "datatype = \"INT8\""), "view.toml:3: datatype"),
            (("default = 0.0", "default = \"zero\""), "view.toml:11:"),
        ] {
            let text = GOOD.replacen(edit.0, edit.1, 1);
            let e = parse_view_text("view.toml", &text).unwrap_err().to_string();
            assert!(e.starts_with(want), "{edit:?}: {e}");
        }
        let e = parse_view_text("view.toml", "input = \"x\"\n").unwrap_err().to_string();
        assert!(e.contains("at least one [[feature]]"), "{e}");
        let e = parse_view_text("view.toml", "[[feature]]\nname = \"a\"\nfrom = \"request\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field `input`"), "{e}");
    }

    proptest! {
        /// Whatever bytes a view file holds, parsing answers (a view or one error naming
        /// the file), never panics.
        #[test]
        fn parsing_never_panics(text in "(?s).{0,400}") {
            if let Err(e) = parse_view_text("v.toml", &text) {
                prop_assert!(e.to_string().starts_with("v.toml"));
            }
        }

        /// Mutations of a good view: one error or a view, never a panic.
        #[test]
        fn mutated_views_never_panic(at in 0usize..200, junk in "[\\[\\]=\".a-z0-9 \n]{0,8}") {
            let mut text = GOOD.to_string();
            let at = at.min(text.len());
            if text.is_char_boundary(at) {
                text.insert_str(at, &junk);
            }
            let _ = parse_view_text("v.toml", &text);
        }
    }
}
