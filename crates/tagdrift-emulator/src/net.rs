//! The emulator's TCP side: a listener whose connections can be reset on request. A handler that wants to
//! drop its connection without answering (the "reset" fault, the end of a hang) flags the connection through
//! [`ConnInfo`]; the next read or write on it then fails, hyper gives the connection up, and the socket is
//! closed with `SO_LINGER` 0, which sends a TCP RST instead of a FIN, exactly like a crashed peer.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Shared between a connection and the requests it carries.
#[derive(Debug, Default)]
pub struct ConnControl {
    reset: AtomicBool,
}

impl ConnControl {
    /// Asks for the connection to be dropped with a TCP reset instead of carrying a response.
    pub fn reset(&self) {
        self.reset.store(true, Ordering::SeqCst);
    }

    fn is_reset(&self) -> bool {
        self.reset.load(Ordering::SeqCst)
    }
}

/// A TCP connection that fails all I/O once its [`ConnControl`] asks for a reset.
pub(crate) struct ConnIo {
    stream: TcpStream,
    control: Arc<ConnControl>,
}

impl ConnIo {
    fn check(&self) -> io::Result<()> {
        if self.control.is_reset() {
            // Zero linger makes the close on drop abortive (RST) and never blocks.
            let _ = self.stream.set_zero_linger();
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "emulator reset the connection",
            ));
        }
        Ok(())
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// A TCP listener producing [`ConnIo`] connections.
pub(crate) struct EmuListener {
    inner: TcpListener,
}

impl EmuListener {
    pub(crate) fn new(inner: TcpListener) -> EmuListener {
        EmuListener { inner }
    }
}

impl Listener for EmuListener {
    type Io = ConnIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (ConnIo, SocketAddr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (
                        ConnIo {
                            stream,
                            control: Arc::new(ConnControl::default()),
                        },
                        addr,
                    );
                }
                Err(e) => {
                    // Same policy as axum's own TCP listener: per-connection errors are not fatal, and
                    // running out of descriptors gets a pause instead of a busy loop.
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// Per-connection information handed to handlers as `ConnectInfo<ConnInfo>`.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub remote: SocketAddr,
    pub control: Arc<ConnControl>,
}

impl ConnInfo {
    /// The information of an accepted connection.
    pub(crate) fn of(io: &ConnIo, remote: &SocketAddr) -> ConnInfo {
        ConnInfo {
            remote: *remote,
            control: io.control.clone(),
        }
    }
}
