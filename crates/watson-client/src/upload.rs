//! Request bodies read from their source while they are sent (issue 26, "large inputs streamed"),
//! and the progress the transport's timeouts watch.
//!
//! An [`Upload`] is a recipe, not the bytes: every attempt (retries included) opens its source
//! again, so a 100 MB audio file from a URL is never held whole by the operator. A body already in
//! memory ([`Upload::from_bytes`]) is sent in [`CHUNK`]-sized slices of the same buffer (no copy),
//! so every body reports its progress the same way.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use parking_lot::Mutex;
use tokio::time::Instant;

/// The error a body stream may end with (the source failed or passed a limit). The text is shown
/// to users: it must not hold secrets or URL credentials.
pub type UploadError = Box<dyn std::error::Error + Send + Sync>;

/// A body's chunks, as the source yields them.
pub type UploadStream = Pin<Box<dyn Stream<Item = Result<Bytes, UploadError>> + Send>>;

/// Size of the slices a body held in memory is sent in, in bytes.
pub const CHUNK: usize = 64 * 1024;

/// A request body that is opened once per attempt.
#[derive(Clone)]
pub struct Upload {
    open: Arc<dyn Fn() -> UploadStream + Send + Sync>,
    length: Option<u64>,
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload")
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

impl Upload {
    /// A body opened by `open` for every attempt. `length`, when known, is sent as
    /// `Content-Length` (else the body goes chunked) and must be exact: a source yielding more
    /// or fewer bytes fails the attempt.
    pub fn new(
        length: Option<u64>,
        open: impl Fn() -> UploadStream + Send + Sync + 'static,
    ) -> Self {
        Upload {
            open: Arc::new(open),
            length,
        }
    }

    /// A body held in memory, sent in [`CHUNK`]-sized slices of `bytes` (not copied).
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        let bytes: Bytes = bytes.into();
        let length = Some(bytes.len() as u64);
        Upload::new(length, move || {
            let bytes = bytes.clone();
            let slices = (0..bytes.len())
                .step_by(CHUNK)
                .map(move |at| Ok(bytes.slice(at..(at + CHUNK).min(bytes.len()))))
                .collect::<Vec<_>>();
            Box::pin(futures::stream::iter(slices))
        })
    }

    /// The exact length, when known.
    pub fn length(&self) -> Option<u64> {
        self.length
    }

    /// Opens the source for one attempt.
    pub fn open(&self) -> UploadStream {
        (self.open)()
    }
}

impl From<Bytes> for Upload {
    fn from(bytes: Bytes) -> Self {
        Upload::from_bytes(bytes)
    }
}

impl From<Vec<u8>> for Upload {
    fn from(bytes: Vec<u8>) -> Self {
        Upload::from_bytes(bytes)
    }
}

impl From<String> for Upload {
    fn from(text: String) -> Self {
        Upload::from_bytes(text)
    }
}

impl From<&'static str> for Upload {
    fn from(text: &'static str) -> Self {
        Upload::from_bytes(text)
    }
}

impl From<&'static [u8]> for Upload {
    fn from(bytes: &'static [u8]) -> Self {
        Upload::from_bytes(bytes)
    }
}

/// What one attempt has done so far, for the timeouts: when a byte last moved (a body chunk taken
/// by the connection, a response chunk read) and when the whole body had been taken.
#[derive(Debug)]
pub(crate) struct Progress {
    inner: Mutex<ProgressState>,
}

#[derive(Debug)]
struct ProgressState {
    last: Instant,
    sent: Option<Instant>,
    taken: u64,
    length: Option<u64>,
}

/// Which timeout ended an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stalled {
    /// The request body stopped moving for the idle timeout.
    Upload(Duration),
    /// The body was sent, and no response headers came within the first-byte timeout.
    FirstByte(Duration),
}

impl fmt::Display for Stalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stalled::Upload(d) => write!(
                f,
                "timed out: the request body made no progress for {} s",
                d.as_secs()
            ),
            Stalled::FirstByte(d) => write!(
                f,
                "timed out: no response within {} s after the request was sent",
                d.as_secs()
            ),
        }
    }
}

impl Progress {
    /// The progress of an attempt starting now, with a body of `length` bytes (`Some(0)`: none).
    pub fn start(length: Option<u64>) -> Arc<Self> {
        let now = Instant::now();
        Arc::new(Progress {
            inner: Mutex::new(ProgressState {
                last: now,
                sent: (length == Some(0)).then_some(now),
                taken: 0,
                length,
            }),
        })
    }

    fn took(&self, bytes: usize) {
        let now = Instant::now();
        let mut s = self.inner.lock();
        s.last = now;
        s.taken += bytes as u64;
        if s.sent.is_none() && s.length.is_some_and(|l| s.taken >= l) {
            s.sent = Some(now);
        }
    }

    fn finished(&self) {
        let now = Instant::now();
        let mut s = self.inner.lock();
        s.last = now;
        s.sent.get_or_insert(now);
    }

    /// Waits until the attempt is stalled: no body chunk taken for `idle` while sending, or no
    /// response for `first_byte` after the body was sent. Never returns while progress is made;
    /// meant to be raced against the request.
    pub async fn stalled(&self, idle: Duration, first_byte: Duration) -> Stalled {
        loop {
            let (deadline, why) = {
                let s = self.inner.lock();
                match s.sent {
                    Some(sent) => (sent + first_byte, Stalled::FirstByte(first_byte)),
                    None => (s.last + idle, Stalled::Upload(idle)),
                }
            };
            if Instant::now() >= deadline {
                return why;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }

    /// `stream`, telling this progress of every chunk taken and of its end.
    pub fn track(self: &Arc<Self>, stream: UploadStream) -> UploadStream {
        let progress = self.clone();
        let end = self.clone();
        let tracked = stream
            .inspect(move |chunk| {
                if let Ok(c) = chunk {
                    progress.took(c.len());
                }
            })
            .chain(futures::stream::poll_fn(move |_| {
                end.finished();
                std::task::Poll::Ready(None)
            }));
        Box::pin(tracked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bytes_are_sliced_without_copies_and_reopened_per_attempt() {
        let data = Bytes::from(vec![7u8; CHUNK * 2 + 5]);
        let upload = Upload::from_bytes(data.clone());
        assert_eq!(upload.length(), Some(data.len() as u64));
        for _ in 0..2 {
            let chunks: Vec<Bytes> = upload
                .open()
                .map(|c| c.expect("chunk"))
                .collect::<Vec<_>>()
                .await;
            assert_eq!(
                chunks.iter().map(Bytes::len).collect::<Vec<_>>(),
                [CHUNK, CHUNK, 5]
            );
            assert_eq!(chunks[0].as_ptr(), data.as_ptr(), "a slice, not a copy");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_moving_body_is_never_stalled_and_a_still_one_is() {
        let idle = Duration::from_secs(10);
        let first = Duration::from_secs(30);
        let progress = Progress::start(Some(3));
        let body = progress.track(Box::pin(futures::stream::iter(
            (0..3).map(|_| Ok(Bytes::from_static(b"x"))),
        )));
        // One byte every 9 s: 27 s in all, more than the idle timeout, never idle that long.
        let slow = async {
            let mut body = body;
            while let Some(chunk) = body.next().await {
                chunk.expect("chunk");
                tokio::time::sleep(Duration::from_secs(9)).await;
            }
        };
        tokio::select! {
            () = slow => {}
            why = progress.stalled(idle, first) => panic!("stalled while moving: {why}"),
        }
        // Sent: now only the first-byte timeout runs.
        let why = progress.stalled(idle, first).await;
        assert_eq!(why, Stalled::FirstByte(first));
        // A body that never moves is stalled after the idle timeout.
        let still = Progress::start(None);
        let started = Instant::now();
        assert_eq!(still.stalled(idle, first).await, Stalled::Upload(idle));
        assert_eq!(started.elapsed(), idle);
    }
}
