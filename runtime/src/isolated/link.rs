//! The child's end of its socket, shared by the reader loop, the attempt's thread
//! (heartbeats, the outcome) and the log layer: whole frames, one writer at a time.

use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use super::protocol::{from_child, write_frame, FromChild};

#[derive(Clone)]
pub(crate) struct Link(Arc<Mutex<UnixStream>>);

impl Link {
    pub(crate) fn new(stream: UnixStream) -> Self {
        Link(Arc::new(Mutex::new(stream)))
    }

    pub(crate) fn send(&self, kind: from_child::Kind) {
        let message = FromChild { kind: Some(kind) };
        let mut stream = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // A worker that is gone closes the socket; the reader loop then ends the child.
        let _ = write_frame(&mut *stream, &message);
    }
}
