//! What a load test sends: the parsed URL, method, fixed headers and the request bodies
//! it cycles through. Pure: built once before the run, shared read-only by the workers.

use bytes::Bytes;
use hyper::header::{CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Uri};

use crate::error::{Error, Result};

pub use crate::wire::{KEY_HEADER as ROUTING_KEY_HEADER, VARIANT_HEADER};

#[derive(Debug, Clone)]
pub struct Target {
    /// The URL as given, for reports.
    pub url: String,
    /// `host:port` to connect to.
    pub authority: String,
    /// Origin-form request target (`/v2/models/m/infer?x=1`).
    pub path: Uri,
    pub method: Method,
    /// Sent with every request (Host, content type, user headers).
    pub headers: HeaderMap,
    /// Request bodies, cycled by request index (one empty body when there is none).
    pub bodies: Vec<Bytes>,
    /// `x-mlctl-key` values, cycled by request index (empty: no key header).
    pub routing_keys: Vec<HeaderValue>,
}

/// Parse `http://host[:port]/path`. Only plain HTTP/1.1 is driven (see README).
pub fn parse_url(url: &str) -> Result<(String, Uri)> {
    let uri: Uri = url
        .parse()
        .map_err(|e| Error::Usage(format!("target URL {url:?}: {e} (expected http://host:port/path)")))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(Error::Usage(format!(
                "target URL {url:?}: https is not supported by the load generator yet; target the plain-HTTP listener"
            )));
        }
        _ => {
            return Err(Error::Usage(format!(
                "target URL {url:?}: expected http://host:port/path"
            )));
        }
    }
    let authority = uri
        .authority()
        .ok_or_else(|| Error::Usage(format!("target URL {url:?}: no host")))?;
    let host_port = match authority.port_u16() {
        Some(_) => authority.as_str().to_string(),
        None => format!("{}:80", authority.host()),
    };
    if authority.as_str().contains('@') {
        return Err(Error::Usage(format!(
            "target URL {url:?}: credentials in the URL are not sent; use --header 'authorization: ...'"
        )));
    }
    let path = uri
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|p| !p.is_empty())
        .unwrap_or("/")
        .parse::<Uri>()
        .map_err(|e| Error::Usage(format!("target URL {url:?}: {e}")))?;
    Ok((host_port, path))
}

/// Parse a `--header 'name: value'` flag.
pub fn parse_header(s: &str) -> Result<(HeaderName, HeaderValue)> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| Error::Usage(format!("--header {s:?}: expected 'name: value'")))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| Error::Usage(format!("--header {s:?}: {:?} is not a valid header name", name.trim())))?;
    let value = HeaderValue::from_str(value.trim()).map_err(|_| {
        Error::Usage(format!(
            "--header {s:?}: the value has characters a header cannot carry"
        ))
    })?;
    Ok((name, value))
}

/// Assemble a target. `method` defaults to POST when there is a body, else GET.
pub fn build(
    url: &str,
    method: Option<&str>,
    headers: &[String],
    bodies: Vec<Bytes>,
    json_bodies: bool,
    routing_keys: usize,
) -> Result<Target> {
    let (authority, path) = parse_url(url)?;
    let has_body = bodies.iter().any(|b| !b.is_empty());
    let method = match method {
        Some(m) => Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|_| Error::Usage(format!("--method {m:?}: not an HTTP method")))?,
        None if has_body => Method::POST,
        None => Method::GET,
    };
    let mut map = HeaderMap::new();
    let host = HeaderValue::from_str(authority.trim_end_matches(":80"))
        .map_err(|_| Error::Usage(format!("target URL {url:?}: the host cannot be sent as a header")))?;
    map.insert(HOST, host);
    if json_bodies && has_body {
        map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    for h in headers {
        let (name, value) = parse_header(h)?;
        map.insert(name, value);
    }
    let bodies = if bodies.is_empty() { vec![Bytes::new()] } else { bodies };
    let routing_keys = (0..routing_keys)
        .map(|i| {
            // Infallible: ASCII letters, digits and '-' are valid header bytes.
            HeaderValue::from_str(&format!("loadtest-{i}")).expect("ASCII key")
        })
        .collect();
    Ok(Target {
        url: url.to_string(),
        authority,
        path,
        method,
        headers: map,
        bodies,
        routing_keys,
    })
}

impl Target {
    /// The body of request `i` (cycled).
    pub fn body(&self, i: u64) -> Bytes {
        self.bodies[(i % self.bodies.len() as u64) as usize].clone()
    }

    /// The routing key of request `i` (cycled), if keys are used.
    pub fn routing_key(&self, i: u64) -> Option<&HeaderValue> {
        if self.routing_keys.is_empty() {
            None
        } else {
            Some(&self.routing_keys[(i % self.routing_keys.len() as u64) as usize])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_authority_and_origin_form() {
        let (a, p) = parse_url("http://127.0.0.1:8080/v2/models/m/infer?x=1").unwrap();
        assert_eq!(a, "127.0.0.1:8080");
        assert_eq!(p.to_string(), "/v2/models/m/infer?x=1");
        let (a, p) = parse_url("http://example.com").unwrap();
        assert_eq!(a, "example.com:80");
        assert_eq!(p.to_string(), "/");
    }

    #[test]
    fn unsupported_urls_say_why() {
        for (url, want) in [
            ("https://x/", "https is not supported"),
            ("ftp://x/", "expected http://"),
            ("not a url", "target URL"),
            ("http://u:p@x/", "credentials"),
        ] {
            let e = parse_url(url).unwrap_err().to_string();
            assert!(e.contains(want), "{url}: {e}");
        }
    }

    #[test]
    fn method_defaults_follow_the_body() {
        let t = build("http://h:1/", None, &[], vec![], true, 0).unwrap();
        assert_eq!(t.method, Method::GET);
        assert!(t.headers.get(CONTENT_TYPE).is_none());
        let t = build(
            "http://h:1/",
            None,
            &["X-A: b".into()],
            vec![Bytes::from("{}")],
            true,
            3,
        )
        .unwrap();
        assert_eq!(t.method, Method::POST);
        assert_eq!(t.headers["content-type"], "application/json");
        assert_eq!(t.headers["x-a"], "b");
        assert_eq!(t.headers["host"], "h:1");
        assert_eq!(t.routing_key(4).unwrap(), "loadtest-1");
        assert_eq!(t.body(7), "{}");
    }

    #[test]
    fn bad_headers_and_methods_are_usage_errors() {
        assert!(
            parse_header("no-colon")
                .unwrap_err()
                .to_string()
                .contains("expected 'name: value'")
        );
        assert!(parse_header("bad name: v").is_err());
        assert!(build("http://h:1/", Some("GE T"), &[], vec![], true, 0).is_err());
    }
}
