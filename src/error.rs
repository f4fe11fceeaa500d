//! The one error type of mlctl and its mapping to the documented exit codes.
//!
//! Exit codes (README, `mlctl --help`):
//! `0` ok · `1` a gate failed · `2` usage or input error · `3` endpoint error ·
//! `4` invalid experiment (sample-ratio mismatch) · `130` interrupted (Ctrl-C; `loadtest`
//! prints what it measured first).

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad flag value or combination.
    #[error("{0}")]
    Usage(String),
    /// Unreadable or malformed input file; `at` is `file[:line[:column]]`.
    #[error("{at}: {message}")]
    Input { at: String, message: String },
    /// I/O on a named path.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The gateway (or an upstream) could not be reached, refused us, or answered 5xx.
    #[error("{0}")]
    Endpoint(String),
    /// A gate failed (drift found, SLO missed, guard tripped).
    #[error("{0}")]
    GateFailed(String),
    /// The experiment itself is invalid (sample-ratio mismatch).
    #[error("{0}")]
    InvalidExperiment(String),
    /// Server-side state problem (SQLite, blob store).
    #[error("state: {0}")]
    State(String),
    /// Another replica changed the same state first (compare-and-swap lost), or this
    /// replica's controller lost its leadership: look again and retry.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A model could not be loaded or run.
    #[error("model: {0}")]
    Model(String),
    /// Stopped by Ctrl-C after reporting what was done (the shell's 128 + SIGINT).
    #[error("{0}")]
    Interrupted(String),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::GateFailed(_) => 1,
            Error::Usage(_) | Error::Input { .. } | Error::Io { .. } | Error::Model(_) => 2,
            Error::Endpoint(_) => 3,
            Error::InvalidExperiment(_) => 4,
            Error::State(_) | Error::Conflict(_) => 2,
            Error::Interrupted(_) => 130,
        }
    }

    pub fn input(at: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Input {
            at: at.into(),
            message: message.into(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::State(e.to_string())
    }
}
