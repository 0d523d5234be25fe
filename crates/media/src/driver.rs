//! The IO edge of the SFU: one UDP socket, one thread, one [`Sfu`]. The application talks to it
//! through a [`MediaServer`] handle (join with an offer, answer, leave, end a room) and hears
//! back through a channel per room (renegotiation offers, closed sessions). Every queue is
//! bounded; a full one drops rather than blocks the media thread.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;
use crate::route::RoomKey;
use crate::sfu::{Config, MediaError, Member, Output, Sfu, Signal};

/// How many commands may wait for the media thread.
const COMMANDS: usize = 1024;

/// The media socket's receive and send buffers, bytes.
const SOCKET_BUFFER: usize = 4 * 1024 * 1024;

/// How many datagrams are read before the sessions' output is flushed.
const BATCH: usize = 64;

/// A signal for a room's task: which participant, which of their media sessions (as
/// [`MediaServer::join`] returned it), and what.
pub type RoomSignal = (Member, u64, Signal);

enum Command {
    Join {
        room: RoomKey,
        who: Member,
        offer: String,
        signals: mpsc::Sender<RoomSignal>,
        reply: oneshot::Sender<Result<(String, u64), MediaError>>,
    },
    Answer {
        room: RoomKey,
        who: Member,
        sdp: String,
        reply: oneshot::Sender<Result<(), MediaError>>,
    },
    Leave {
        room: RoomKey,
        who: Member,
    },
    EndRoom {
        room: RoomKey,
    },
    Count {
        reply: oneshot::Sender<(usize, usize)>,
    },
}

/// Why the media server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The UDP socket could not be bound.
    #[error("cannot bind the media port {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    /// The media thread could not be started.
    #[error("cannot start the media thread: {0}")]
    Thread(std::io::Error),
}

/// A handle to the media thread. Cloning it is cheap; the thread stops when every handle is
/// dropped.
#[derive(Clone)]
pub struct MediaServer {
    tx: mpsc::Sender<Command>,
    metrics: Arc<Metrics>,
    local: SocketAddr,
}

impl std::fmt::Debug for MediaServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaServer")
            .field("local", &self.local)
            .finish()
    }
}

/// Installs str0m's crypto (aws-lc-rs) once per process.
pub fn install_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| str0m::crypto::from_feature_flags().install_process_default());
}

impl MediaServer {
    /// Binds `listen` and starts the media thread. Browsers are told to send to `public`'s
    /// address (its port is replaced by the bound port when `public` has port 0).
    pub fn start(listen: SocketAddr, public: SocketAddr) -> Result<Self, StartError> {
        install_crypto();
        let socket = std::net::UdpSocket::bind(listen).map_err(|e| StartError::Bind(listen, e))?;
        let local = socket
            .local_addr()
            .map_err(|e| StartError::Bind(listen, e))?;
        socket
            .set_nonblocking(true)
            .map_err(|e| StartError::Bind(listen, e))?;
        // Every call's media arrives on this one socket: a few megabytes of buffer ride out the
        // moments the media thread is not scheduled (the default, about 200 KiB, is 25 ms of a
        // busy server's traffic). The kernel caps it at net.core.rmem_max / wmem_max.
        let sock = socket2::SockRef::from(&socket);
        let _ = sock.set_recv_buffer_size(SOCKET_BUFFER);
        let _ = sock.set_send_buffer_size(SOCKET_BUFFER);
        let (rcv, snd) = (
            sock.recv_buffer_size().unwrap_or(0),
            sock.send_buffer_size().unwrap_or(0),
        );
        if rcv < SOCKET_BUFFER {
            tracing::info!(
                rcv,
                snd,
                "the media socket's buffers are smaller than asked: raise net.core.rmem_max and net.core.wmem_max"
            );
        }
        let public = if public.port() == 0 {
            SocketAddr::new(public.ip(), local.port())
        } else {
            public
        };
        // The bound address is what str0m sees as the destination of what arrives; with a
        // wildcard bind, that is the announced address.
        let dest = if local.ip().is_unspecified() {
            SocketAddr::new(public.ip(), local.port())
        } else {
            local
        };
        let metrics = Arc::new(Metrics::default());
        let (tx, rx) = mpsc::channel(COMMANDS);
        let m = metrics.clone();
        std::thread::Builder::new()
            .name("trygg-media".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(error = %e, "the media thread could not start its runtime");
                        return;
                    }
                };
                rt.block_on(run(socket, Config::new(dest, public), m, rx));
            })
            .map_err(StartError::Thread)?;
        tracing::info!(%local, %public, "media server (SFU) listening");
        Ok(Self { tx, metrics, local })
    }

    /// The bound UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The counters for the metrics endpoint.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// A participant's offer; their signals arrive on `signals`. Returns the answer and the
    /// session's number (signals about an earlier session are stale).
    pub async fn join(
        &self,
        room: RoomKey,
        who: Member,
        offer: String,
        signals: mpsc::Sender<RoomSignal>,
    ) -> Result<(String, u64), MediaError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Join {
                room,
                who,
                offer,
                signals,
                reply,
            })
            .await
            .map_err(|_| MediaError::Full)?;
        rx.await.map_err(|_| MediaError::Full)?
    }

    /// A participant's answer to the SFU's offer.
    pub async fn answer(&self, room: RoomKey, who: Member, sdp: String) -> Result<(), MediaError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Answer {
                room,
                who,
                sdp,
                reply,
            })
            .await
            .map_err(|_| MediaError::NoSession)?;
        rx.await.map_err(|_| MediaError::NoSession)?
    }

    /// A participant's media stops at once.
    pub async fn leave(&self, room: RoomKey, who: Member) {
        let _ = self.tx.send(Command::Leave { room, who }).await;
    }

    /// A room's media ends; nothing of it is kept.
    pub async fn end_room(&self, room: RoomKey) {
        let _ = self.tx.send(Command::EndRoom { room }).await;
    }

    /// Peers and rooms the media thread holds now.
    pub async fn counts(&self) -> (usize, usize) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Command::Count { reply }).await.is_err() {
            return (0, 0);
        }
        rx.await.unwrap_or((0, 0))
    }
}

async fn run(
    socket: std::net::UdpSocket,
    config: Config,
    metrics: Arc<Metrics>,
    mut rx: mpsc::Receiver<Command>,
) {
    let socket = match tokio::net::UdpSocket::from_std(socket) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "the media socket could not be registered");
            return;
        }
    };
    let mut sfu = Sfu::new(config, metrics);
    let mut rooms: HashMap<RoomKey, mpsc::Sender<RoomSignal>> = HashMap::new();
    let mut outgoing: Vec<(SocketAddr, Vec<u8>)> = Vec::with_capacity(SEND_BATCH);
    let mut headers = nix::sys::socket::MultiHeaders::preallocate(SEND_BATCH, None);
    let mut buf = vec![0u8; 2048];
    loop {
        let now = Instant::now();
        let wake = sfu
            .next_timeout()
            .unwrap_or(now + Duration::from_millis(200))
            .max(now + Duration::from_millis(1));
        tokio::select! {
            cmd = rx.recv() => {
                let Some(cmd) = cmd else { break };
                command(&mut sfu, &mut rooms, cmd);
                rooms.retain(|room, tx| !tx.is_closed() && sfu.room_has_peers(room));
            }
            r = socket.recv_from(&mut buf) => {
                if let Ok((n, from)) = r {
                    sfu.handle_datagram(Instant::now(), from, &buf[..n]);
                    for _ in 1..BATCH {
                        match socket.try_recv_from(&mut buf) {
                            Ok((n, from)) => sfu.handle_datagram(Instant::now(), from, &buf[..n]),
                            Err(_) => break,
                        }
                    }
                }
            }
            _ = tokio::time::sleep_until(wake.into()) => {}
        }
        let now = Instant::now();
        if sfu.next_timeout().is_some_and(|t| t <= now) {
            sfu.handle_timeout(now);
        }
        while let Some(out) = sfu.poll() {
            match out {
                Output::Transmit { to, data } => {
                    outgoing.push((to, data));
                    if outgoing.len() == SEND_BATCH {
                        send_all(&socket, &mut headers, &mut outgoing);
                    }
                }
                Output::Signal {
                    room,
                    who,
                    session,
                    signal,
                } => {
                    if let Some(tx) = rooms.get(&room) {
                        let _ = tx.try_send((who, session, signal));
                    }
                }
            }
        }
        send_all(&socket, &mut headers, &mut outgoing);
    }
}

/// Datagrams sent with one system call.
const SEND_BATCH: usize = 64;

/// Sends the batch (`sendmmsg`), and empties it. UDP: what a full send buffer does not take is
/// dropped, as the network would.
fn send_all(
    socket: &tokio::net::UdpSocket,
    headers: &mut nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage>,
    outgoing: &mut Vec<(SocketAddr, Vec<u8>)>,
) {
    use nix::sys::socket::{sendmmsg, ControlMessage, MsgFlags, SockaddrStorage};
    use std::io::IoSlice;
    use std::os::fd::AsRawFd;
    if outgoing.is_empty() {
        return;
    }
    let fd = socket.as_raw_fd();
    for chunk in outgoing.chunks(SEND_BATCH) {
        let slices: Vec<[IoSlice<'_>; 1]> = chunk.iter().map(|(_, d)| [IoSlice::new(d)]).collect();
        let addrs: Vec<Option<SockaddrStorage>> = chunk
            .iter()
            .map(|(a, _)| Some(SockaddrStorage::from(*a)))
            .collect();
        let none: [ControlMessage<'_>; 0] = [];
        if sendmmsg(fd, headers, &slices, &addrs, none, MsgFlags::MSG_DONTWAIT).is_err() {
            // The first datagram could not be sent (the buffer is full): the rest one by one,
            // each dropped if it does not fit.
            for (to, d) in chunk {
                let _ = socket.try_send_to(d, *to);
            }
        }
    }
    outgoing.clear();
}

fn command(sfu: &mut Sfu, rooms: &mut HashMap<RoomKey, mpsc::Sender<RoomSignal>>, cmd: Command) {
    let now = Instant::now();
    match cmd {
        Command::Join {
            room,
            who,
            offer,
            signals,
            reply,
        } => {
            let r = sfu.join(now, room, who, &offer);
            if r.is_ok() {
                rooms.insert(room, signals);
            }
            let _ = reply.send(r);
        }
        Command::Answer {
            room,
            who,
            sdp,
            reply,
        } => {
            let _ = reply.send(sfu.answer(now, room, who, &sdp));
        }
        Command::Leave { room, who } => sfu.leave(room, who),
        Command::EndRoom { room } => {
            sfu.end_room(room);
            rooms.remove(&room);
        }
        Command::Count { reply } => {
            let _ = reply.send((sfu.peer_count(), sfu.room_count()));
        }
    }
}
