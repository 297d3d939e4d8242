//! A TCP relay on a free loopback port in front of a server, to break the network path
//! between a worker and the server in the two ways a real network does.
//!
//! - [`Relay::black_hole`]: nothing crosses in either direction, yet every connection
//!   stays open (no FIN, no RST): the relay stops reading, so bytes wait in the kernel's
//!   buffers and the peers see silence, as behind a dead router or a partition. New
//!   connections are accepted (the kernel completes the handshake) but are as silent: the
//!   relay dials the server for them only once the path is back.
//! - [`Relay::restore`]: forwarding resumes on the same connections, with whatever waited
//!   in the buffers, as TCP retransmission would deliver it; new connections are served.
//! - [`Relay::reset`]: every current connection is closed with an RST on both sides
//!   (`SO_LINGER` 0), as a restarted load balancer or NAT does; new ones are served.
//!
//! The relay runs on a private one-thread tokio runtime, holds at most
//! [`MAX_CONNECTIONS`] connections (more are closed at once), and stops when dropped.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Connections held at once; more are closed as soon as they are accepted.
pub const MAX_CONNECTIONS: usize = 256;
const BUFFER: usize = 64 * 1024;

/// What the relay does now; every connection watches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Control {
    forwarding: bool,
    /// Bumped by every reset: connections opened before it are closed.
    resets: u64,
}

/// Counters shared with the connections.
#[derive(Debug, Default)]
struct Counts {
    accepted: AtomicUsize,
    open: AtomicUsize,
}

/// A relay from a free `127.0.0.1` port to `upstream`; see the module docs.
pub struct Relay {
    address: SocketAddr,
    control: watch::Sender<Control>,
    counts: Arc<Counts>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Relay {
    /// Listens on a free loopback port and forwards every connection to `upstream`
    /// (`127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> Relay {
        let upstream: SocketAddr = upstream
            .parse()
            .expect("upstream is an IP address and port");
        assert!(
            upstream.ip().is_loopback(),
            "the relay only reaches loopback"
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("test-relay")
            .enable_all()
            .build()
            .expect("the relay's runtime starts");
        // Bound with std: this may be called from inside another runtime.
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("the relay binds a loopback port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let address = listener.local_addr().expect("a bound address");
        let (control, watching) = watch::channel(Control {
            forwarding: true,
            resets: 0,
        });
        let counts = Arc::new(Counts::default());
        runtime.spawn(accept_loop(listener, upstream, watching, counts.clone()));
        Relay {
            address,
            control,
            counts,
            runtime: Some(runtime),
        }
    }

    /// Where clients connect: `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// Stops forwarding in both directions, closing nothing.
    pub fn black_hole(&self) {
        self.control
            .send_modify(|control| control.forwarding = false);
    }

    /// Resumes forwarding on the same connections, and for new ones.
    pub fn restore(&self) {
        self.control
            .send_modify(|control| control.forwarding = true);
    }

    /// Closes every current connection with an RST; new connections are served as usual.
    pub fn reset(&self) {
        self.control.send_modify(|control| control.resets += 1);
    }

    /// Connections accepted since the start.
    pub fn accepted(&self) -> usize {
        self.counts.accepted.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.counts.open.load(Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        // Drops every task, and with them the listener and all connections.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn accept_loop(
    listener: std::net::TcpListener,
    upstream: SocketAddr,
    control: watch::Receiver<Control>,
    counts: Arc<Counts>,
) {
    let listener = TcpListener::from_std(listener).expect("the listener joins the runtime");
    loop {
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            // Out of descriptors, or a connection that died in the queue: try again.
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        counts.accepted.fetch_add(1, Ordering::SeqCst);
        if counts.open.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            drop(client);
            continue;
        }
        counts.open.fetch_add(1, Ordering::SeqCst);
        let (control, counts) = (control.clone(), counts.clone());
        tokio::spawn(async move {
            relay_connection(client, upstream, control).await;
            counts.open.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// One connection, from its accept to its end or reset.
async fn relay_connection(
    mut client: TcpStream,
    upstream: SocketAddr,
    mut control: watch::Receiver<Control>,
) {
    let born = control.borrow().resets;
    let _ = client.set_nodelay(true);
    // A connection accepted in a black hole stays silent: the server is dialled only once
    // the path is back.
    let forwarding = tokio::select! {
        _ = reset_after(control.clone(), born) => false,
        forwarding = control.wait_for(|control| control.forwarding) => forwarding.is_ok(),
    };
    if !forwarding {
        return abort(&client, None);
    }
    let mut server = match TcpStream::connect(upstream).await {
        Ok(server) => server,
        Err(_) => return abort(&client, None),
    };
    let _ = server.set_nodelay(true);
    let reset = {
        let (client_read, client_write) = client.split();
        let (server_read, server_write) = server.split();
        let both_ways = async {
            tokio::try_join!(
                pump(client_read, server_write, control.clone()),
                pump(server_read, client_write, control.clone()),
            )
        };
        tokio::select! {
            _ = reset_after(control.clone(), born) => true,
            _ = both_ways => false,
        }
    };
    if reset {
        abort(&client, Some(&server));
    }
}

/// Copies one direction while the relay forwards; returns at end of stream or on error.
async fn pump(
    mut from: tokio::net::tcp::ReadHalf<'_>,
    mut to: tokio::net::tcp::WriteHalf<'_>,
    mut control: watch::Receiver<Control>,
) -> std::io::Result<()> {
    let mut buffer = vec![0; BUFFER];
    loop {
        wait_forwarding(&mut control).await?;
        let read = tokio::select! {
            read = from.read(&mut buffer) => read?,
            // The hole opened while waiting for bytes: stop reading (reads are cancel-safe).
            _ = control.wait_for(|control| !control.forwarding) => continue,
        };
        if read == 0 {
            to.shutdown().await?;
            return Ok(());
        }
        // Bytes read just as the hole opened wait for the path to come back.
        wait_forwarding(&mut control).await?;
        to.write_all(&buffer[..read]).await?;
    }
}

async fn wait_forwarding(control: &mut watch::Receiver<Control>) -> std::io::Result<()> {
    control
        .wait_for(|control| control.forwarding)
        .await
        .map(drop)
        .map_err(|_| std::io::Error::other("the relay stopped"))
}

/// Returns once a reset newer than `born` has been asked for (never if the relay stops).
async fn reset_after(mut control: watch::Receiver<Control>, born: u64) {
    if control
        .wait_for(|control| control.resets > born)
        .await
        .is_err()
    {
        std::future::pending::<()>().await;
    }
}

/// Closes with an RST rather than a FIN.
fn abort(client: &TcpStream, server: Option<&TcpStream>) {
    for stream in std::iter::once(client).chain(server) {
        let _ = stream.set_zero_linger();
    }
    // The streams are closed by their owner's drop, right after this returns.
}
