//! The optional state file: a JSON snapshot of [`State`] loaded at start and written (atomically,
//! via a temporary file) shortly after changes and at shutdown.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;

use super::http::Sim;
use super::state::State;

/// Errors reading or writing the state file.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot read state file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path} is not a valid snapshot: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write state file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Loads a snapshot; `Ok(None)` when the file does not exist.
pub fn load(path: &Path) -> Result<Option<State>, PersistError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| PersistError::Parse {
                    path: path.to_owned(),
                    source,
                })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PersistError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Writes a snapshot of the current state.
pub fn save(sim: &Sim, path: &Path) -> Result<(), PersistError> {
    let bytes = {
        let st = sim.state.lock();
        serde_json::to_vec(&*st).map_err(|e| PersistError::Write {
            path: path.to_owned(),
            source: std::io::Error::other(e),
        })?
    };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|source| PersistError::Write {
            path: path.to_owned(),
            source,
        })
}

/// Writes the snapshot every 500 ms when something changed, and once more at shutdown.
pub async fn writer(sim: Arc<Sim>, path: PathBuf, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => break,
        }
        if sim.changed.swap(false, Ordering::Relaxed)
            && let Err(e) = save(&sim, &path)
        {
            tracing::warn!(error = %e, "state file not written");
        }
    }
    if let Err(e) = save(&sim, &path) {
        tracing::warn!(error = %e, "state file not written at shutdown");
    }
}
