//! Connection limits against slow and numerous clients (review finding 6, VC-AVAIL / guide risk
//! scenario on denial of service): at most `max_connections` open client connections (one more
//! is closed as soon as it is accepted, before any byte is read), and a connection on which
//! nothing is read or written for `idle_timeout_secs` is closed. The header-read and TLS
//! handshake timeouts are set where the listeners are built (`serve.rs`); together they stop a
//! client that trickles a request from holding a connection for minutes, and many such clients
//! from holding them all.

use std::future::{ready, Future as _, Ready};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// An `axum-server` acceptor that takes a connection slot and wraps the stream in [`Limited`];
/// with no slot free, the connection is refused (closed).
#[derive(Debug, Clone)]
pub struct LimitAcceptor {
    slots: Arc<Semaphore>,
    idle: Duration,
}

impl LimitAcceptor {
    /// At most `max` connections, each closed after `idle` without traffic.
    pub fn new(max: usize, idle: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS))),
            idle,
        }
    }
}

/// A client connection's transport. A TCP connection is set to send small writes at once
/// (`TCP_NODELAY`): the signalling socket's frames are small and come in bursts, and Nagle's
/// algorithm held every second one back until the client's delayed acknowledgement, about
/// 40 ms (found by the signalling benchmark, issue #10).
pub trait Transport {
    /// Sets the transport up for a new connection.
    fn prepare(&self);
}

impl Transport for tokio::net::TcpStream {
    fn prepare(&self) {
        if let Err(e) = self.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY could not be set");
        }
    }
}

impl Transport for tokio::io::DuplexStream {
    fn prepare(&self) {}
}

impl<I, S> axum_server::accept::Accept<I, S> for LimitAcceptor
where
    I: AsyncRead + AsyncWrite + Unpin + Transport,
{
    type Stream = Limited<I>;
    type Service = S;
    type Future = Ready<io::Result<(Limited<I>, S)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        stream.prepare();
        ready(match self.slots.clone().try_acquire_owned() {
            Ok(permit) => Ok((
                Limited {
                    inner: stream,
                    idle: self.idle,
                    deadline: Box::pin(tokio::time::sleep(self.idle)),
                    _permit: permit,
                },
                service,
            )),
            Err(_) => {
                tracing::warn!(
                    event = "security",
                    code = "TR-E701",
                    "connection refused: max_connections reached"
                );
                Err(io::Error::other("max_connections reached"))
            }
        })
    }
}

/// A client connection that holds a slot until it is dropped and fails with `TimedOut` after
/// `idle` without a byte read or written.
#[derive(Debug)]
pub struct Limited<I> {
    inner: I,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    _permit: OwnedSemaphorePermit,
}

impl<I> Limited<I> {
    fn progress(&mut self) {
        self.deadline.as_mut().reset(Instant::now() + self.idle);
    }

    fn check_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection idle too long",
            )),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Limited<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    this.progress();
                }
                Poll::Ready(r)
            }
            Poll::Pending => this.check_idle(cx).map(Err),
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Limited<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.progress();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.check_idle(cx).map(Err),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum_server::accept::Accept as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[tokio::test(start_paused = true)]
    async fn finding_6_an_idle_connection_times_out_and_traffic_keeps_it_open() {
        let a = LimitAcceptor::new(1, Duration::from_secs(5));
        let (client, server) = tokio::io::duplex(64);
        let (mut s, ()) = a.accept(server, ()).await.unwrap();
        let mut client = client;
        let mut buf = [0u8; 1];
        // Traffic every 4 s keeps it open (the paused clock advances only when all wait).
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(4)).await;
            client.write_all(b"x").await.unwrap();
            s.read_exact(&mut buf).await.unwrap();
        }
        let e = s.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn finding_6_connections_beyond_the_limit_are_refused() {
        let a = LimitAcceptor::new(2, Duration::from_secs(60));
        let one = a.accept(tokio::io::duplex(8).0, ()).await.unwrap();
        let two = a.accept(tokio::io::duplex(8).0, ()).await.unwrap();
        assert!(a.accept(tokio::io::duplex(8).0, ()).await.is_err());
        drop(one);
        assert!(a.accept(tokio::io::duplex(8).0, ()).await.is_ok());
        drop(two);
    }
}
