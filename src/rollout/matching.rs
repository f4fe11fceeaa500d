//! Header and cookie routing (`deploy --match`): requests that match go to the candidate
//! whatever its weight (Argo Rollouts' `setHeaderRoute`, Flagger's A/B match); everyone
//! else keeps their sticky bucket. Matched requests are logged with the role `matched`
//! and, unless `--guard-include-matched`, kept out of the guards' windows: they are not a
//! random sample (internal users, beta testers), so they would bias a comparison.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Header,
    Cookie,
}

/// One `--match`: a header or cookie equal to a value, or matching a regex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Match {
    pub source: Source,
    /// Header names are case-insensitive (kept lowercase); cookie names are not.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

impl Match {
    pub fn expr(&self) -> String {
        let source = match self.source {
            Source::Header => "header",
            Source::Cookie => "cookie",
        };
        match (&self.equals, &self.regex) {
            (Some(v), _) => format!("{source}:{}={v}", self.name),
            (None, Some(r)) => format!("{source}:{}~{r}", self.name),
            (None, None) => format!("{source}:{}", self.name),
        }
    }
}

/// Largest regex accepted (compiled once per route change, never per request).
const MAX_REGEX: usize = 1024;

/// Parse `header:NAME=VALUE`, `header:NAME~REGEX`, `cookie:NAME=VALUE`, `cookie:NAME~REGEX`.
pub fn parse_match(s: &str) -> Result<Match> {
    let bad = |why: String| {
        Error::Usage(format!(
            "--match {s:?}: {why} (forms: header:x-tenant=internal, cookie:beta=1, header:x-user-id~^emp-)"
        ))
    };
    let (source, rest) = if let Some(r) = s.strip_prefix("header:") {
        (Source::Header, r)
    } else if let Some(r) = s.strip_prefix("cookie:") {
        (Source::Cookie, r)
    } else {
        return Err(bad("starts with header: or cookie:".into()));
    };
    let at = rest
        .find(['=', '~'])
        .ok_or_else(|| bad("expected NAME=VALUE or NAME~REGEX".into()))?;
    let (name, op, value) = (&rest[..at], &rest[at..at + 1], &rest[at + 1..]);
    let valid_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.!#$%&'*+^`|".contains(&b));
    if !valid_name {
        return Err(bad(format!(
            "{name:?} is not a valid {} name",
            if source == Source::Header { "header" } else { "cookie" }
        )));
    }
    let name = match source {
        Source::Header => name.to_ascii_lowercase(),
        Source::Cookie => name.to_string(),
    };
    if op == "=" {
        return Ok(Match {
            source,
            name,
            equals: Some(value.to_string()),
            regex: None,
        });
    }
    if value.len() > MAX_REGEX {
        return Err(bad(format!("regex longer than {MAX_REGEX} characters")));
    }
    regex::Regex::new(value).map_err(|e| bad(format!("bad regex: {}", e.to_string().lines().last().unwrap_or(""))))?;
    Ok(Match {
        source,
        name,
        equals: None,
        regex: Some(value.to_string()),
    })
}

/// A match ready for the request path (regexes compiled once).
#[derive(Debug, Clone)]
pub struct Matcher {
    spec: Match,
    re: Option<regex::Regex>,
}

impl Matcher {
    /// `None` for a regex that does not compile (refused at parse; defensive here).
    pub fn new(spec: &Match) -> Option<Matcher> {
        let re = match &spec.regex {
            Some(r) => Some(regex::Regex::new(r).ok()?),
            None => None,
        };
        Some(Matcher { spec: spec.clone(), re })
    }

    fn test(&self, value: &str) -> bool {
        match (&self.spec.equals, &self.re) {
            (Some(v), _) => value == v,
            (None, Some(re)) => re.is_match(value),
            (None, None) => false,
        }
    }

    /// Does a request with these headers match? `header(name)` yields every value of a
    /// header (lowercase name); cookies are read from the `cookie` headers.
    pub fn matches<'a>(&self, header: impl Fn(&str) -> Vec<&'a str>) -> bool {
        match self.spec.source {
            Source::Header => header(&self.spec.name).into_iter().any(|v| self.test(v)),
            Source::Cookie => header("cookie").into_iter().any(|line| {
                line.split(';').any(|pair| {
                    pair.trim()
                        .split_once('=')
                        .is_some_and(|(k, v)| k == self.spec.name && self.test(v.trim_matches('"')))
                })
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(h: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Vec<&'a str> + 'a {
        move |name| h.iter().filter(|(k, _)| *k == name).map(|(_, v)| *v).collect()
    }

    #[test]
    fn matches_parse_print_and_match() {
        for s in ["header:x-tenant=internal", "cookie:beta=1", "header:x-user-id~^emp-"] {
            assert_eq!(parse_match(s).unwrap().expr(), s);
        }
        assert_eq!(parse_match("header:X-Tenant=a").unwrap().name, "x-tenant");
        for bad in [
            "x-tenant=internal",
            "header:=a",
            "header:x",
            "header:x~(",
            "cookie:a b=1",
        ] {
            let e = parse_match(bad).unwrap_err().to_string();
            assert!(e.contains("--match") && e.contains("forms:"), "{e}");
        }
        let m = Matcher::new(&parse_match("header:x-tenant=internal").unwrap()).unwrap();
        assert!(m.matches(headers(&[("x-tenant", "other"), ("x-tenant", "internal")])));
        assert!(!m.matches(headers(&[("x-tenant", "internal2")])));
        let m = Matcher::new(&parse_match("header:x-user-id~^emp-").unwrap()).unwrap();
        assert!(m.matches(headers(&[("x-user-id", "emp-42")])) && !m.matches(headers(&[("x-user-id", "cust-1")])));
        let c = Matcher::new(&parse_match("cookie:beta=1").unwrap()).unwrap();
        assert!(c.matches(headers(&[("cookie", "a=2; beta=1")])));
        assert!(c.matches(headers(&[("cookie", "a=2"), ("cookie", "beta=\"1\"")])));
        assert!(!c.matches(headers(&[("cookie", "xbeta=1; beta=10")])));
    }
}
