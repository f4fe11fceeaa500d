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
    /// Absolute form (`http://host:port/path`): HTTP/2 sends scheme and authority as
    /// pseudo-headers.
    pub absolute: Uri,
    pub method: Method,
    /// Sent with every request (Host, content type, user headers).
    pub headers: HeaderMap,
    /// Request bodies, cycled by request index (one empty body when there is none).
    pub bodies: Vec<Bytes>,
    /// `x-mlctl-key` values, cycled by request index (empty: no key header).
    pub routing_keys: Vec<HeaderValue>,
    pub protocol: Protocol,
    /// HTTP/1.1: the request line and the fixed headers, rendered once.
    head: Vec<u8>,
}

/// How requests travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// HTTP/1.1 keep-alive, one request in flight per connection.
    #[default]
    Http1,
    /// HTTP/2 over cleartext with prior knowledge (h2c), one stream in flight per
    /// connection (h2load's `-m 1`).
    H2c,
    /// V2 gRPC `ModelInfer` (over h2c): the bodies are encoded as protobuf messages once,
    /// before the run; `grpc-status` decides success (reported as its HTTP equivalent).
    Grpc,
}

/// The gRPC method every request of `Protocol::Grpc` calls.
pub const MODEL_INFER: &str = "/inference.GRPCInferenceService/ModelInfer";

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
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(method.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(path.to_string().as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in &map {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    let routing_keys = (0..routing_keys)
        .map(|i| {
            // Infallible: ASCII letters, digits and '-' are valid header bytes.
            HeaderValue::from_str(&format!("loadtest-{i}")).expect("ASCII key")
        })
        .collect();
    let absolute = format!("http://{authority}{path}")
        .parse::<Uri>()
        .map_err(|e| Error::Usage(format!("target URL {url:?}: {e}")))?;
    Ok(Target {
        url: url.to_string(),
        authority,
        absolute,
        path,
        method,
        headers: map,
        bodies,
        routing_keys,
        protocol: Protocol::Http1,
        head,
    })
}

impl Target {
    /// The same V2 requests as gRPC `ModelInfer` calls to `addr` (`host:port`): the model
    /// and version come from this target's `/v2/models/{m}[/versions/{v}]/infer` path, each
    /// JSON body becomes one framed protobuf message (raw tensor contents).
    pub fn into_grpc(mut self, addr: &str) -> Result<Target> {
        let path = self.path.path().to_string();
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (model, version) = match parts.as_slice() {
            ["v2", "models", m, "infer"] => (*m, None),
            ["v2", "models", m, "versions", v, "infer"] => (*m, Some(*v)),
            _ => {
                return Err(Error::Usage(format!(
                    "--grpc: {path:?} is not a V2 infer path (/v2/models/NAME[/versions/V]/infer); use --model"
                )));
            }
        };
        let mut bodies = Vec::with_capacity(self.bodies.len());
        for (i, body) in self.bodies.iter().enumerate() {
            let req = crate::wire::v2::parse_request(body, None)
                .map_err(|e| Error::Usage(format!("--grpc: request body {} is not a V2 request: {e}", i + 1)))?;
            let message = crate::wire::grpc::request_to_proto(model, version, &req, true);
            let encoded = prost::Message::encode_to_vec(&message);
            // gRPC framing: not compressed, 4-byte big-endian length, the message.
            let mut framed = Vec::with_capacity(5 + encoded.len());
            framed.push(0);
            framed.extend_from_slice(&(encoded.len() as u32).to_be_bytes());
            framed.extend_from_slice(&encoded);
            bodies.push(Bytes::from(framed));
        }
        let (authority, _) = parse_url(&format!("http://{addr}/"))
            .map_err(|_| Error::Usage(format!("--grpc {addr:?}: expected host:port")))?;
        self.bodies = bodies;
        self.url = format!("grpc://{authority}{MODEL_INFER} (model {model})");
        self.absolute = format!("http://{authority}{MODEL_INFER}")
            .parse()
            .map_err(|e| Error::Usage(format!("--grpc {addr:?}: {e}")))?;
        self.path = MODEL_INFER.parse().map_err(|e| Error::Usage(format!("--grpc: {e}")))?;
        self.authority = authority;
        self.method = Method::POST;
        self.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        self.headers.insert("te", HeaderValue::from_static("trailers"));
        self.protocol = Protocol::Grpc;
        Ok(self)
    }

    /// The same requests over another protocol.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// The body of request `i` (cycled).
    pub fn body(&self, i: u64) -> Bytes {
        self.body_ref(i).clone()
    }

    fn body_ref(&self, i: u64) -> &Bytes {
        &self.bodies[(i % self.bodies.len() as u64) as usize]
    }

    /// Render HTTP/1.1 request `i` into `out` (cleared first): the fixed head, the routing
    /// key, the length and the body — one buffer, one write.
    pub fn write_request(&self, i: u64, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.head);
        if let Some(key) = self.routing_key(i) {
            out.extend_from_slice(ROUTING_KEY_HEADER.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        let body = self.body_ref(i);
        // A body-less GET/HEAD/DELETE sends no length; anything with a body, or a method
        // that expects one, says how long it is (RFC 9110 §8.6).
        if !body.is_empty() || matches!(self.method, Method::POST | Method::PUT | Method::PATCH) {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(body.len().to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
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
        let mut out = Vec::new();
        t.write_request(4, &mut out);
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.starts_with("POST / HTTP/1.1\r\n"), "{text}");
        for line in [
            "host: h:1\r\n",
            "content-type: application/json\r\n",
            "x-a: b\r\n",
            "x-mlctl-key: loadtest-1\r\n",
            "content-length: 2\r\n\r\n{}",
        ] {
            assert!(text.contains(line), "{line:?} in {text:?}");
        }
        // What was written is one well-formed request.
        let mut headers = [httparse::EMPTY_HEADER; 8];
        let mut req = httparse::Request::new(&mut headers);
        assert_eq!(
            req.parse(text.as_bytes()).unwrap(),
            httparse::Status::Complete(text.len() - 2)
        );
        let get = build("http://h:1/x?y=1", None, &[], vec![], true, 0).unwrap();
        get.write_request(0, &mut out);
        assert_eq!(out, b"GET /x?y=1 HTTP/1.1\r\nhost: h:1\r\n\r\n");
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
