//! Where the state lives and how it is opened: the `--state` URL, the SQLite file (WAL,
//! `synchronous=FULL`) or a PostgreSQL connection, and the private (0700/0600) directories
//! and files everything under the data dir is created with.

use std::path::Path;

use rusqlite::Connection;

use crate::error::{Error, Result};

/// Create `dir` (and its parents) and make it private to the user (0700), whatever the
/// umask: it holds the token, the models and the logs.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Options that create files readable by the user only (0600), whatever the umask.
pub fn private_file() -> std::fs::OpenOptions {
    #[allow(unused_mut)]
    let mut opts = std::fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts
}

/// Open (creating 0600) a SQLite database the way mlctl keeps state: WAL, `synchronous=FULL`
/// (a commit is on disk when it returns), a 5 s busy timeout.
pub fn open_sqlite(path: &Path) -> Result<Connection> {
    // Created 0600 before SQLite opens it; its -wal and -shm files copy that mode.
    private_file()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    let conn = Connection::open(path).map_err(|e| Error::State(format!("{}: {e}", path.display())))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// Where the state lives: the data dir's SQLite file, or a PostgreSQL database shared by
/// replicas (`--state postgres://…`; the data dir then keeps the logs and a blob cache).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateUrl {
    Sqlite,
    Postgres(String),
}

impl StateUrl {
    /// `--state`: `sqlite` (the default) or a `postgres://` / `postgresql://` URL.
    pub fn parse(s: &str) -> std::result::Result<StateUrl, String> {
        let lower = s.to_ascii_lowercase();
        if lower == "sqlite" || lower.is_empty() {
            Ok(StateUrl::Sqlite)
        } else if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Ok(StateUrl::Postgres(s.to_string()))
        } else {
            Err(format!(
                "--state {s:?}: expected `sqlite` or a postgres://user@host:port/db URL"
            ))
        }
    }

    /// The URL without its password, for logs and status.
    pub fn redacted(&self) -> String {
        match self {
            StateUrl::Sqlite => "sqlite".into(),
            StateUrl::Postgres(url) => redact_url(url),
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, rest),
    };
    match auth {
        Some(a) => {
            let user = a.split(':').next().unwrap_or("");
            let masked = if a.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            format!("{scheme}://{masked}@{host}")
        }
        None => url.to_string(),
    }
}

/// Connect to PostgreSQL (no TLS: a database on the private network or loopback). The
/// URL is libpq's: `postgres://user:password@host:port/db?connect_timeout=5`.
pub fn connect_postgres(url: &str) -> Result<postgres::Client> {
    let mut cfg: postgres::Config = url
        .parse()
        .map_err(|e| Error::Usage(format!("--state {}: {e}", redact_url(url))))?;
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(std::time::Duration::from_secs(5));
    }
    cfg.application_name("mlctl");
    cfg.connect(postgres::NoTls)
        .map_err(|e| Error::State(format!("--state {}: cannot connect: {e}", redact_url(url))))
}
