//! A deadline on request bodies: a client has 10 s from the first time its body is not
//! already there to send the rest, so a client that sends headers and then trickles (or
//! never sends) the body it announced cannot hold a connection for ever.
//!
//! In: hyper's request body. Out: the same frames, or an error once the deadline passes
//! (handlers then answer as for a broken body and the connection closes). A body that has
//! already arrived — the common case — never starts a timer.

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

/// A request body that fails when the client is too slow to send it.
pub struct DeadlineBody {
    inner: Incoming,
    allowed: Duration,
    // Made at the first wait, never reset: the whole rest of the body must arrive in time.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl DeadlineBody {
    /// `inner`, which must finish arriving within `allowed` of its first wait.
    pub fn new(inner: Incoming, allowed: Duration) -> DeadlineBody {
        DeadlineBody {
            inner,
            allowed,
            deadline: None,
        }
    }
}

impl Body for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let allowed = this.allowed;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(allowed)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(format!(
                "the request body did not arrive within {} s",
                allowed.as_secs()
            )
            .into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl std::fmt::Debug for DeadlineBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadlineBody")
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}
