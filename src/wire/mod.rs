//! Wire formats: what crosses a process boundary, written in one place and read through
//! the same code. The V2 inference protocol (`v2`, and its gRPC form `grpc`), mlctl's own HTTP headers and data-dir
//! file names (here), and the gateway's prediction and outcome log records (`log`).

pub mod grpc;
pub mod log;
pub mod v2;

/// Sticky routing key of a request (else `parameters.routing_key`).
pub const KEY_HEADER: &str = "x-mlctl-key";
/// The version that answered, on every inference response.
pub const VARIANT_HEADER: &str = "x-mlctl-variant";
/// The request id (the V2 `id`, else this header, else a random one), echoed back.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// How model and version names are spelled (they appear in URLs, file names and logs).
pub const NAME_RULE: &str = "1-64 characters of A-Z a-z 0-9 . _ - (not starting with '.')";

/// Whether `s` is a valid model or version name (`NAME_RULE`).
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('.')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// The admin token's file in the data dir (mode 0600, created by `serve`).
pub const TOKEN_FILE: &str = "token";
/// The data-dir file holding the webhook signing secret (created 0600 on first start).
pub const NOTIFY_SECRET_FILE: &str = "notify-secret";
