//! This gateway as one of several replicas sharing a PostgreSQL database: its id, and
//! what the replication tasks (`replication`) keep about it.

use std::sync::atomic::{AtomicI64, Ordering};

/// This replica among those sharing the database.
pub struct Replica {
    pub id: String,
    /// The database URL (may hold a password: never logged; see `StateUrl::redacted`).
    url: String,
    pub started_at: String,
    pub address: std::sync::OnceLock<String>,
    /// The leader epoch while this replica is the controller, else 0.
    pub(super) epoch: AtomicI64,
    /// The newest audit event whose routes this replica serves.
    pub(super) route_version: AtomicI64,
    pub(super) relay_cursor: AtomicI64,
    /// Ask for a reload now (after a lost compare-and-swap).
    pub reload: tokio::sync::Notify,
}

impl Replica {
    pub fn new(id: String, url: String) -> Replica {
        Replica {
            id,
            url,
            started_at: crate::store::now_rfc3339(),
            address: Default::default(),
            epoch: AtomicI64::new(0),
            route_version: AtomicI64::new(0),
            relay_cursor: AtomicI64::new(-1),
            reload: tokio::sync::Notify::new(),
        }
    }

    /// The leader epoch when this replica is the controller.
    pub fn epoch(&self) -> Option<i64> {
        Some(self.epoch.load(Ordering::SeqCst)).filter(|e| *e > 0)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn route_version(&self) -> i64 {
        self.route_version.load(Ordering::SeqCst)
    }
}
