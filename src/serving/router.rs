//! Variant selection. Every request gets a bucket in 0..10 000. A request with a routing
//! key (header `x-mlctl-key`, else `parameters.routing_key`) gets the first 8 bytes of
//! SHA-256(`<salt>:<key>`) as a big-endian u64, mod 10 000: the salt is per deployment, so
//! the same key lands in the same bucket for the life of a deployment. A request without
//! one gets a uniformly random bucket (what hashing a random key gives, without the hash).

use sha2::{Digest, Sha256};

pub const BUCKETS: u64 = 10_000;

/// The bucket (0..10 000) of `key` under `salt`.
pub fn bucket(salt: &str, key: &str) -> u16 {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(b":");
    h.update(key.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % BUCKETS) as u16
}

/// A uniformly random bucket, for a request without a routing key.
pub fn random_bucket() -> u16 {
    rand::random_range(0..BUCKETS) as u16
}

/// The client's routing key: header `x-mlctl-key`, then `parameters.routing_key`
/// (string or number); `None` when the client sent none.
pub fn explicit_key(header: Option<&str>, parameters: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    if let Some(h) = header.filter(|h| !h.is_empty()) {
        return Some(h.to_string());
    }
    match parameters.get("routing_key") {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_matches_the_documented_formula() {
        // Independently: sha256("s:k") = 9d1c...; first 8 bytes big-endian mod 10000.
        let digest = Sha256::digest(b"s:k");
        let expected = u64::from_be_bytes(digest[..8].try_into().unwrap()) % 10_000;
        assert_eq!(u64::from(bucket("s", "k")), expected);
        assert_eq!(bucket("s", "k"), bucket("s", "k"));
    }

    #[test]
    fn buckets_are_uniform_over_many_keys() {
        // 100k keys into 10 deciles: each within 1% absolute of 10%.
        let mut deciles = [0u32; 10];
        for i in 0..100_000 {
            deciles[(bucket("salt", &format!("user-{i}")) / 1000) as usize] += 1;
        }
        for d in deciles {
            assert!((d as f64 / 100_000.0 - 0.1).abs() < 0.01, "{deciles:?}");
        }
    }

    #[test]
    fn random_buckets_are_uniform() {
        // 100k draws into 10 deciles: each within 1% absolute of 10%; all below BUCKETS.
        let mut deciles = [0u32; 10];
        for _ in 0..100_000 {
            let b = random_bucket();
            assert!(u64::from(b) < BUCKETS);
            deciles[(b / 1000) as usize] += 1;
        }
        for d in deciles {
            assert!((d as f64 / 100_000.0 - 0.1).abs() < 0.01, "{deciles:?}");
        }
    }

    #[test]
    fn key_precedence_is_header_then_parameter() {
        let mut p = serde_json::Map::new();
        p.insert("routing_key".into(), serde_json::json!(42));
        assert_eq!(explicit_key(Some("h"), &p).as_deref(), Some("h"));
        assert_eq!(explicit_key(None, &p).as_deref(), Some("42"));
        assert_eq!(explicit_key(None, &serde_json::Map::new()), None);
    }
}
