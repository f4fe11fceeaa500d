//! ONNX files stored content-addressed under `blobs/<sha256>`, verified on every read; on
//! PostgreSQL the database holds them too and the directory is a cache.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::Store;
use super::connect::private_file;
use super::db::{Dialect, P, ps};
use crate::error::{Error, Result};

/// Read blob `sha256` from `blobs` and check its content hash.
pub fn read_blob_at(blobs: &Path, sha256: &str) -> Result<Vec<u8>> {
    if !is_sha256(sha256) {
        return Err(Error::Usage(format!(
            "blob id {sha256:?} is not a sha256 (64 hex digits)"
        )));
    }
    let path = blobs.join(sha256);
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != sha256 {
        return Err(Error::State(format!(
            "{}: content hash is {actual}, blob is corrupted",
            path.display()
        )));
    }
    Ok(bytes)
}

/// 64 hex digits.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Store {
    pub fn blob_path(&self, sha256: &str) -> PathBuf {
        self.blobs.join(sha256)
    }

    /// Store `bytes` content-addressed; durable on return (fsync'd file and directory; on
    /// PostgreSQL, committed to the database too, so every replica can load it).
    pub fn put_blob(&mut self, bytes: &[u8]) -> Result<String> {
        let sha = hex::encode(Sha256::digest(bytes));
        if self.dialect() == Dialect::Postgres {
            self.conn.tx(|db| {
                db.exec(
                    "INSERT INTO blobs (sha256, bytes) VALUES (?1, ?2) ON CONFLICT (sha256) DO NOTHING",
                    &[P::T(Some(&sha)), P::B(bytes)],
                )
            })?;
        }
        self.cache_file(&sha, bytes)?;
        Ok(sha)
    }

    /// Write a blob's file (atomically: temp file, fsync, rename, fsync the directory).
    fn cache_file(&self, sha: &str, bytes: &[u8]) -> Result<()> {
        let dest = self.blob_path(sha);
        if dest.exists() {
            return Ok(());
        }
        let tmp = self.blobs.join(format!(".{sha}.{}.tmp", std::process::id()));
        let mut f = private_file()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| Error::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &dest).map_err(|e| Error::io(&dest, e))?;
        if let Ok(dir) = std::fs::File::open(&self.blobs) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// Make sure blob `sha256` is in the local blob directory (on PostgreSQL, fetched from
    /// the database into the cache when another replica stored it).
    pub fn cache_blob(&self, sha256: &str) -> Result<()> {
        if self.dialect() == Dialect::Sqlite || !is_sha256(sha256) || self.blob_path(sha256).exists() {
            return Ok(());
        }
        let row = self
            .conn
            .read(|db| db.row("SELECT bytes FROM blobs WHERE sha256 = ?1", ps![sha256]))?;
        let Some(row) = row else {
            return Err(Error::State(format!("blob {sha256} is not in the state database")));
        };
        self.cache_file(sha256, &row.b(0)?)
    }

    /// Read a blob back, verifying its hash (a corrupted blob is an error, not a model).
    pub fn read_blob(&self, sha256: &str) -> Result<Vec<u8>> {
        self.cache_blob(sha256)?;
        read_blob_at(&self.blobs, sha256)
    }

    /// The blob directory: blobs are immutable and content-addressed, so they may be read
    /// (`read_blob_at`) without holding the store.
    pub fn blob_dir(&self) -> &Path {
        &self.blobs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupted_blob_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        let sha = s.put_blob(b"abc").unwrap();
        std::fs::write(s.blob_path(&sha), b"abd").unwrap();
        assert!(s.read_blob(&sha).unwrap_err().to_string().contains("corrupted"));
        assert!(
            read_blob_at(s.blob_dir(), "not-a-sha")
                .unwrap_err()
                .to_string()
                .contains("64 hex")
        );
    }
}
