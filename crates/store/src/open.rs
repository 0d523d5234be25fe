//! Open on use (issue #18, PC-VENDOR-4 at a vendor's scale): which organisations' databases are
//! open now, and the rule for opening and closing them. An organisation is opened by its first
//! request, closed after [`OpenLimits::idle`] without one, and at most [`OpenLimits::max_open`]
//! are open at once: to open one more, the least recently used organisation nobody is using is
//! closed first, and when every open one is in use the caller waits a moment and is then told
//! the store is busy. An organisation is "in use" while anyone holds its handle (a request, a
//! live call's room, a background job) or its writer has work queued. This module holds the
//! table and its decisions; opening and closing themselves are [`crate::Store`]'s.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::OrgStore;

/// How many organisations may be open at once, and how long an unused one stays open.
#[derive(Debug, Clone, Copy)]
pub struct OpenLimits {
    /// At most this many organisations' databases are open (or being opened or closed) at once.
    pub max_open: usize,
    /// An organisation nobody has asked for in this long is closed.
    pub idle: Duration,
}

impl Default for OpenLimits {
    fn default() -> Self {
        Self {
            max_open: DEFAULT_MAX_OPEN,
            idle: Duration::from_secs(DEFAULT_IDLE_SECS),
        }
    }
}

/// The default bound on open organisations: with [`FILES_PER_ORG`] descriptors each at most
/// 2,816, which `trygg serve` makes room for by raising its soft limit on open files to the
/// hard one (systemd's default hard limit is 524,288).
pub const DEFAULT_MAX_OPEN: usize = 256;
/// The default idle time before an organisation is closed, in seconds.
pub const DEFAULT_IDLE_SECS: u64 = 300;
/// The most file descriptors one open organisation holds: its writer's and at most
/// [`READERS_PER_ORG`] readers' connections, each with the database file and its WAL, and one
/// shared-memory index for all of them.
pub const FILES_PER_ORG: usize = 2 * (1 + READERS_PER_ORG) + 1;
/// The most reading connections an organisation's pool opens.
pub const READERS_PER_ORG: usize = 4;
/// How long a caller waits for an organisation to be closed to make room before it is told the
/// store is busy.
const WAIT_FOR_ROOM: Duration = Duration::from_secs(5);
/// How often a waiting caller looks again for an organisation that is no longer in use.
pub(crate) const RECHECK: Duration = Duration::from_millis(10);

/// What the table holds for one organisation.
enum Entry {
    /// Somebody is opening it; others wait.
    Opening,
    /// Open: the handle, and when a request last asked for it.
    Open {
        handle: Arc<OrgStore>,
        used: Instant,
    },
    /// Being closed; whoever wants it waits and then opens it again.
    Closing,
}

/// The organisations open now.
pub(crate) struct OpenOrgs {
    table: Mutex<HashMap<Uuid, Entry>>,
    changed: tokio::sync::Notify,
    pub(crate) limits: OpenLimits,
    opened: AtomicU64,
    closed: AtomicU64,
    refused: AtomicU64,
}

/// What a caller is to do next.
pub(crate) enum Claim {
    /// Here is the open handle.
    Ready(Arc<OrgStore>),
    /// Open it; the guard holds its place and gives it up if the opening fails. With it, an
    /// organisation to close in the background, so the next opening finds room without waiting
    /// for a close.
    Open(Opening, Option<(Arc<OrgStore>, Closing)>),
    /// Close this one first (the guard removes it when dropped), then ask again.
    Close(Arc<OrgStore>, Closing),
    /// Wait for a change, then ask again.
    Wait,
}

/// A place in the table being filled by one opener.
pub(crate) struct Opening {
    orgs: Arc<OpenOrgs>,
    id: Uuid,
    done: bool,
}

impl Opening {
    /// The organisation is open: the handle goes into the table.
    pub(crate) fn finish(mut self, handle: Arc<OrgStore>, touch: bool) {
        let used = if touch {
            Instant::now()
        } else {
            // Opened by a background job: it counts as used long ago, so it is the first to
            // make room and closes once the job lets it go.
            Instant::now()
                .checked_sub(self.orgs.limits.idle)
                .unwrap_or_else(Instant::now)
        };
        self.orgs
            .lock()
            .insert(self.id, Entry::Open { handle, used });
        self.orgs.opened.fetch_add(1, Ordering::Relaxed);
        self.done = true;
        self.orgs.changed.notify_waiters();
    }
}

impl Drop for Opening {
    fn drop(&mut self) {
        if !self.done {
            self.orgs.lock().remove(&self.id);
            self.orgs.changed.notify_waiters();
        }
    }
}

/// An organisation being closed: dropped, its place in the table is free.
pub(crate) struct Closing {
    orgs: Arc<OpenOrgs>,
    id: Uuid,
}

impl Drop for Closing {
    fn drop(&mut self) {
        self.orgs.lock().remove(&self.id);
        self.orgs.closed.fetch_add(1, Ordering::Relaxed);
        self.orgs.changed.notify_waiters();
    }
}

/// Counters for the operator's view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OpenStats {
    /// Organisations open now (or being opened or closed).
    pub open: usize,
    /// The bound on that.
    pub max_open: usize,
    /// The idle time after which one is closed, in seconds.
    pub idle_secs: u64,
    /// Openings since start.
    pub opened: u64,
    /// Closings since start.
    pub closed: u64,
    /// Requests told the store was busy because every open organisation was in use.
    pub refused: u64,
}

impl OpenOrgs {
    pub(crate) fn new(limits: OpenLimits) -> Arc<Self> {
        Arc::new(Self {
            table: Mutex::new(HashMap::new()),
            changed: tokio::sync::Notify::new(),
            limits: OpenLimits {
                max_open: limits.max_open.max(1),
                idle: limits.idle,
            },
            opened: AtomicU64::new(0),
            closed: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Uuid, Entry>> {
        // A panic while the table was held cannot leave it half changed (every change is one
        // insert or remove), so a poisoned lock is used as it is.
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether nobody but the table holds the handle and its writer has nothing queued.
    fn idle_now(handle: &Arc<OrgStore>) -> bool {
        Arc::strong_count(handle) == 1 && handle.quiet()
    }

    /// Decides what a caller asking for `id` does next; `touch` marks a request's use.
    pub(crate) fn claim(self: &Arc<Self>, id: Uuid, touch: bool) -> Claim {
        let mut table = self.lock();
        match table.get_mut(&id) {
            Some(Entry::Open { handle, used }) => {
                if touch {
                    *used = Instant::now();
                }
                return Claim::Ready(handle.clone());
            }
            Some(Entry::Opening | Entry::Closing) => return Claim::Wait,
            None => {}
        }
        if table.len() < self.limits.max_open {
            table.insert(id, Entry::Opening);
            // Near the bound: the least recently used one is closed meanwhile, in the
            // background, so the next cold request does not wait for a close.
            let spare = if table.len() + self.headroom() > self.limits.max_open {
                self.evict(&mut table)
            } else {
                None
            };
            return Claim::Open(
                Opening {
                    orgs: self.clone(),
                    id,
                    done: false,
                },
                spare,
            );
        }
        // Full: the least recently used organisation nobody is using makes room.
        match self.evict(&mut table) {
            Some((handle, closing)) => Claim::Close(handle, closing),
            None => Claim::Wait,
        }
    }

    /// How many places are kept free by closing in the background: a sixteenth of the bound,
    /// at least one.
    fn headroom(&self) -> usize {
        (self.limits.max_open / 16).max(1)
    }

    /// The least recently used organisation nobody is using, marked as closing.
    fn evict(
        self: &Arc<Self>,
        table: &mut HashMap<Uuid, Entry>,
    ) -> Option<(Arc<OrgStore>, Closing)> {
        let victim = table
            .iter()
            .filter_map(|(k, e)| match e {
                Entry::Open { handle, used } if Self::idle_now(handle) => Some((*k, *used)),
                _ => None,
            })
            .min_by_key(|(_, used)| *used)
            .map(|(k, _)| k)?;
        match table.insert(victim, Entry::Closing) {
            Some(Entry::Open { handle, .. }) => Some((
                handle,
                Closing {
                    orgs: self.clone(),
                    id: victim,
                },
            )),
            // Not reached: the victim was found open under the same lock.
            _ => None,
        }
    }

    /// The organisations unused for the idle time and not in use, marked as closing.
    pub(crate) fn take_idle(self: &Arc<Self>, now: Instant) -> Vec<(Arc<OrgStore>, Closing)> {
        self.take_where(|handle, used| {
            now.saturating_duration_since(used) >= self.limits.idle && Self::idle_now(handle)
        })
    }

    /// Every open organisation, marked as closing (for shutdown), whoever uses it.
    pub(crate) fn take_all(self: &Arc<Self>) -> Vec<(Arc<OrgStore>, Closing)> {
        self.take_where(|_, _| true)
    }

    /// The open organisations `pick` chooses, marked as closing.
    fn take_where(
        self: &Arc<Self>,
        pick: impl Fn(&Arc<OrgStore>, Instant) -> bool,
    ) -> Vec<(Arc<OrgStore>, Closing)> {
        let mut table = self.lock();
        let ids: Vec<Uuid> = table
            .iter()
            .filter_map(|(k, e)| match e {
                Entry::Open { handle, used } if pick(handle, *used) => Some(*k),
                _ => None,
            })
            .collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(Entry::Open { handle, .. }) = table.insert(id, Entry::Closing) {
                out.push((
                    handle,
                    Closing {
                        orgs: self.clone(),
                        id,
                    },
                ));
            }
        }
        out
    }

    /// One organisation, if open and nobody is using it, marked as closing.
    pub(crate) fn take(self: &Arc<Self>, id: Uuid) -> Option<(Arc<OrgStore>, Closing)> {
        let mut table = self.lock();
        if !matches!(table.get(&id), Some(Entry::Open { handle, .. }) if Self::idle_now(handle)) {
            return None;
        }
        match table.insert(id, Entry::Closing) {
            Some(Entry::Open { handle, .. }) => Some((
                handle,
                Closing {
                    orgs: self.clone(),
                    id,
                },
            )),
            _ => None,
        }
    }

    /// The handles open now, without marking them used.
    pub(crate) fn open_handles(&self) -> Vec<Arc<OrgStore>> {
        self.lock()
            .values()
            .filter_map(|e| match e {
                Entry::Open { handle, .. } => Some(handle.clone()),
                _ => None,
            })
            .collect()
    }

    /// Whether `id` is open now.
    pub(crate) fn is_open(&self, id: Uuid) -> bool {
        matches!(self.lock().get(&id), Some(Entry::Open { .. }))
    }

    /// A future that completes at the next change of the table; enabled before the caller
    /// looks, so a change in between is not missed.
    pub(crate) fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }

    /// How long a caller waits for room.
    pub(crate) fn wait_for_room(&self) -> Duration {
        WAIT_FOR_ROOM
    }

    pub(crate) fn note_refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> OpenStats {
        OpenStats {
            open: self.lock().len(),
            max_open: self.limits.max_open,
            idle_secs: self.limits.idle.as_secs(),
            opened: self.opened.load(Ordering::Relaxed),
            closed: self.closed.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }
}
