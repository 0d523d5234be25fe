//! A video consultation's life as a pure state machine: who is planned, who waits, who is admitted
//! by whom with which identity assurance, the roster everyone sees, and the end for everyone.
//!
//! Sans-IO in the manner of str0m: a [`Room`] is fed [`Input`]s with the time they happened and
//! returns [`Effect`]s — events to send to a participant, participants to disconnect, and audit
//! records to append. It opens no socket and reads no clock, so the same room can run behind a
//! WebSocket on one node and later be owned by one node and reached from others (issue #10). The
//! rules it enforces are the factsheet's (REQUIREMENTS.md):
//!
//! - only planned participants may arrive (VC-AUTH-1), and everyone but the host waits until an
//!   admitted clinician with the right to admit lets them in **one at a time**, recording how
//!   their identity was established ([`IdentityAssurance`], VC-AUTH-2);
//! - the roster is every admitted participant with name, role and assurance, sent to every
//!   admitted participant on every change; there is no hidden participant and no field that could
//!   hide one (VC-CONF-2); joins and leaves are announced (VC-INFO-3);
//! - the host ends the consultation for everyone at once and every connection is closed (risk 1e);
//! - every transition is an audit record with its actor (VC-LOG-2).

use std::collections::BTreeMap;
use std::fmt;

/// A participant's id within one consultation (from its invitation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ParticipantId(pub u32);

impl fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}

/// The kind of consultation, shown on the pre-join page so that patients know beforehand when
/// several patients or extra personnel take part (VC-INFO-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsultationKind {
    /// One patient and one clinician.
    OneToOne,
    /// Several patients (group therapy).
    Group,
    /// Clinicians about a patient, without the patient.
    ClinicianOnly,
    /// With an interpreter.
    WithInterpreter,
    /// Several clinicians or other personnel with the patient.
    MultiProfessional,
}

impl ConsultationKind {
    /// Every kind.
    pub const ALL: [ConsultationKind; 5] = [
        Self::OneToOne,
        Self::Group,
        Self::ClinicianOnly,
        Self::WithInterpreter,
        Self::MultiProfessional,
    ];

    /// The stable code, as stored and shown.
    pub fn code(self) -> &'static str {
        match self {
            Self::OneToOne => "one-to-one",
            Self::Group => "group",
            Self::ClinicianOnly => "clinician-only",
            Self::WithInterpreter => "with-interpreter",
            Self::MultiProfessional => "multi-professional",
        }
    }

    /// The kind for a code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The kind that follows from the planned roles (VC-INFO-2): several patients make a group,
    /// no patient a clinicians-only meeting, an interpreter an interpreted one, more than one of
    /// the personnel a multi-professional one.
    pub fn from_roles(roles: &[Role]) -> Self {
        let count = |r: Role| roles.iter().filter(|x| **x == r).count();
        let personnel = count(Role::Clinician) + count(Role::OtherPersonnel);
        if count(Role::Patient) > 1 {
            Self::Group
        } else if count(Role::Patient) == 0 {
            Self::ClinicianOnly
        } else if count(Role::Interpreter) > 0 {
            Self::WithInterpreter
        } else if personnel > 1 {
            Self::MultiProfessional
        } else {
            Self::OneToOne
        }
    }
}

/// A participant's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The patient.
    Patient,
    /// A clinician of the organisation.
    Clinician,
    /// An interpreter.
    Interpreter,
    /// A relative or companion of the patient.
    Companion,
    /// Other personnel (another service, a specialist from another organisation).
    OtherPersonnel,
}

impl Role {
    /// The stable code, as shown and logged.
    pub fn code(self) -> &'static str {
        match self {
            Self::Patient => "patient",
            Self::Clinician => "clinician",
            Self::Interpreter => "interpreter",
            Self::Companion => "companion",
            Self::OtherPersonnel => "other-personnel",
        }
    }

    /// The role's name in bokmål, for the journal note.
    pub fn name_nb(self) -> &'static str {
        match self {
            Self::Patient => "pasient",
            Self::Clinician => "behandler",
            Self::Interpreter => "tolk",
            Self::Companion => "pårørende/ledsager",
            Self::OtherPersonnel => "annet personell",
        }
    }

    /// Every role.
    pub const ALL: [Role; 5] = [
        Self::Patient,
        Self::Clinician,
        Self::Interpreter,
        Self::Companion,
        Self::OtherPersonnel,
    ];

    /// The role for a code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Whether the role is filled by a person on the staff (else by a person in the patient
    /// register: the patient or a companion).
    pub fn is_personnel(self) -> bool {
        matches!(
            self,
            Self::Clinician | Self::Interpreter | Self::OtherPersonnel
        )
    }
}

/// How a participant's identity was established when they were admitted (VC-AUTH-1/2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityAssurance {
    /// Electronic ID at level high (ID-porten, HelseID).
    EidHigh,
    /// Electronic ID at level substantial.
    EidSubstantial,
    /// An identity document shown on camera.
    IdDocumentShown,
    /// Known to the clinician by sight.
    KnownVisually,
    /// An enrolled device of the organisation.
    Device,
}

impl IdentityAssurance {
    /// The stable code, as shown and logged.
    pub fn code(self) -> &'static str {
        match self {
            Self::EidHigh => "eid-high",
            Self::EidSubstantial => "eid-substantial",
            Self::IdDocumentShown => "id-document-shown",
            Self::KnownVisually => "known-visually",
            Self::Device => "device",
        }
    }

    /// How it was established, in bokmål, for the journal note.
    pub fn name_nb(self) -> &'static str {
        match self {
            Self::EidHigh => "eID på nivå høyt",
            Self::EidSubstantial => "eID på nivå betydelig",
            Self::IdDocumentShown => "viste legitimasjon",
            Self::KnownVisually => "kjent og gjenkjent på video",
            Self::Device => "virksomhetens utstyr",
        }
    }

    /// Whether an admitter may record it from what they see (an ID document, a known face); the
    /// eID levels come only from the participant's own login, and `device` only from an enrolled
    /// device's signature at this join (VC-DEV-1, VC-AUTH-4).
    pub fn attestable(self) -> bool {
        !matches!(self, Self::EidHigh | Self::EidSubstantial | Self::Device)
    }

    /// Whether a participant who came with `login` may be admitted with this assurance: one an
    /// admitter attests, an eID level at most their login's, or `device` only when the device
    /// proved itself.
    pub fn proven_by(self, login: Option<IdentityAssurance>) -> bool {
        match self {
            Self::Device => login == Some(Self::Device),
            Self::EidHigh | Self::EidSubstantial => login.is_some_and(|l| l.rank() >= self.rank()),
            _ => true,
        }
    }

    /// The eID levels' order (an attested assurance ranks below both).
    fn rank(self) -> u8 {
        match self {
            Self::EidHigh => 2,
            Self::EidSubstantial => 1,
            _ => 0,
        }
    }

    /// The assurance for a code.
    pub fn from_code(code: &str) -> Option<Self> {
        [
            Self::EidHigh,
            Self::EidSubstantial,
            Self::IdDocumentShown,
            Self::KnownVisually,
            Self::Device,
        ]
        .into_iter()
        .find(|a| a.code() == code)
    }
}

/// A planned participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Their id in this consultation.
    pub id: ParticipantId,
    /// Their role.
    pub role: Role,
    /// Their name as the organisation knows it (shown in the roster).
    pub name: String,
    /// A host: enters without waiting (with the assurance of their own login) and may end.
    pub host: bool,
    /// May admit and deny waiting participants and lock the room. The application grants it by
    /// the access rules (a clinician with a live right); the room only enforces it.
    pub may_admit: bool,
}

/// The consultation's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Planned; nobody has arrived.
    Scheduled,
    /// A host is present; others may wait and be admitted.
    InProgress,
    /// Ended by a host, for everyone, at this time (milliseconds).
    Ended {
        /// When.
        at: u64,
    },
    /// Cancelled before it took place.
    Cancelled,
}

/// Where a planned participant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Not connected.
    Absent,
    /// In the waiting room since this time.
    Waiting {
        /// Since when (milliseconds).
        since: u64,
        /// The assurance of their own login, if they came signed in (shown to the admitter).
        login: Option<IdentityAssurance>,
    },
    /// Admitted with this assurance, by this participant (themselves for a host).
    Admitted {
        /// How their identity was established.
        assurance: IdentityAssurance,
        /// Who admitted them.
        by: ParticipantId,
    },
    /// Admitted, then disconnected at this time: back without a new admission within
    /// [`Room::GRACE_MS`].
    Dropped {
        /// Their assurance when admitted.
        assurance: IdentityAssurance,
        /// Who admitted them.
        by: ParticipantId,
        /// When the connection dropped.
        at: u64,
    },
    /// Denied entry (until invited again).
    Denied,
    /// Left the consultation.
    Left,
}

/// What happened, as fed to the room. A refused input changes nothing; its audit record is
/// [`Input::refused`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A participant connected with their invitation; `login` is the assurance of their own
    /// login (used for a host, who is not admitted by anyone).
    Arrive {
        /// Who.
        who: ParticipantId,
        /// Their login's assurance, if they logged in.
        login: Option<IdentityAssurance>,
    },
    /// `by` admits `who` with the assurance `by` records.
    Admit {
        /// The admitting clinician.
        by: ParticipantId,
        /// The waiting participant.
        who: ParticipantId,
        /// How `by` established `who`'s identity.
        assurance: IdentityAssurance,
    },
    /// `by` denies `who` entry.
    Deny {
        /// The clinician.
        by: ParticipantId,
        /// The waiting participant.
        who: ParticipantId,
    },
    /// `by` locks the room: nobody new enters the waiting room.
    Lock {
        /// The clinician.
        by: ParticipantId,
    },
    /// `by` unlocks the room.
    Unlock {
        /// The clinician.
        by: ParticipantId,
    },
    /// A participant leaves on purpose.
    Leave {
        /// Who.
        who: ParticipantId,
    },
    /// A participant's connection dropped.
    Disconnect {
        /// Who.
        who: ParticipantId,
    },
    /// Time passes (grace periods end).
    Tick,
    /// `who` may not use their grace period: their connection was taken over or revoked, or
    /// they came back without proof that they are the client that dropped. A dropped
    /// participant is then gone, and waits like anyone new when they arrive.
    Forfeit {
        /// Who.
        who: ParticipantId,
    },
    /// A host ends the consultation for everyone.
    End {
        /// The host.
        by: ParticipantId,
    },
    /// The organisation ends the consultation for everyone (an administrator, the console).
    Terminate,
    /// The organisation cancels the consultation before it took place.
    Cancel,
}

impl Input {
    /// The participant the input comes from (`None` for the system: ticks, cancellation).
    pub fn actor(&self) -> Option<ParticipantId> {
        match self {
            Self::Arrive { who, .. }
            | Self::Leave { who }
            | Self::Disconnect { who }
            | Self::Forfeit { who } => Some(*who),
            Self::Admit { by, .. }
            | Self::Deny { by, .. }
            | Self::Lock { by }
            | Self::Unlock { by }
            | Self::End { by } => Some(*by),
            Self::Tick | Self::Cancel | Self::Terminate => None,
        }
    }

    /// The participant the input is about, if another than its actor.
    pub fn subject(&self) -> Option<ParticipantId> {
        match self {
            Self::Admit { who, .. } | Self::Deny { who, .. } => Some(*who),
            _ => self.actor(),
        }
    }

    /// The audit record of this input refused with `error` at `now`: a refusal leaves a trace
    /// like any transition (the driver appends it for every `Err` of [`Room::handle`]).
    pub fn refused(&self, error: RoomError, now: u64) -> Record {
        Record {
            action: "consultation.refused",
            actor: self.actor(),
            subject: self.subject(),
            assurance: None,
            refused: Some(error),
            at: now,
        }
    }
}

/// One line of the roster: an admitted participant. There is no field that could hide anyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterEntry {
    /// Who.
    pub id: ParticipantId,
    /// Their role.
    pub role: Role,
    /// Their name as the organisation knows it.
    pub name: String,
    /// How their identity was established.
    pub assurance: IdentityAssurance,
    /// Host.
    pub host: bool,
}

/// A waiting participant, as shown to those who may admit (VC-AUTH-1): name, role, and how they
/// came (their own login's assurance, or `None` for an invitation link only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// Who.
    pub id: ParticipantId,
    /// Their role.
    pub role: Role,
    /// Their name as the organisation knows it.
    pub name: String,
    /// Since when (milliseconds).
    pub since: u64,
    /// Their login's assurance, if they came signed in.
    pub login: Option<IdentityAssurance>,
}

/// A message for one participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// You wait to be admitted.
    Waiting,
    /// You are admitted.
    Admitted,
    /// You were denied entry.
    Denied,
    /// The roster, complete, after any change.
    Roster(Vec<RosterEntry>),
    /// A participant joined (VC-INFO-3).
    Joined(ParticipantId),
    /// A participant left or dropped.
    Left(ParticipantId),
    /// Who is waiting (to those who may admit): id, role, name, since.
    WaitingRoom(Vec<Waiting>),
    /// The room was locked or unlocked.
    Locked(bool),
    /// The consultation has ended, for everyone.
    Ended,
}

/// An audit record of a transition or of a refused input (VC-LOG-2): the action, its actor and
/// its subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The action's stable code (`consultation.arrive`, `consultation.admit`, …).
    pub action: &'static str,
    /// Who did it (the participant themselves for arrivals and leaves; `None` for the system).
    pub actor: Option<ParticipantId>,
    /// Whom it concerned.
    pub subject: Option<ParticipantId>,
    /// The identity assurance recorded, for admissions.
    pub assurance: Option<IdentityAssurance>,
    /// Why the room refused it (`action` is then `consultation.refused`); `None` if it happened.
    pub refused: Option<RoomError>,
    /// When (milliseconds).
    pub at: u64,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send an event to a participant.
    Send(ParticipantId, Event),
    /// Close a participant's connection.
    Close(ParticipantId),
    /// Append to the audit log.
    Audit(Record),
}

/// Why an input was refused. The driver answers the sender with it; the room is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    /// The participant is not planned for this consultation.
    #[error("not a participant of this consultation")]
    NotPlanned,
    /// The consultation has ended or was cancelled.
    #[error("the consultation has ended")]
    Over,
    /// The actor is not admitted (or not connected).
    #[error("not admitted")]
    NotAdmitted,
    /// The actor has no right to do this.
    #[error("not allowed")]
    NotAllowed,
    /// The subject is not waiting.
    #[error("not waiting")]
    NotWaiting,
    /// The room is locked.
    #[error("the room is locked")]
    Locked,
    /// The participant is already connected, or was denied.
    #[error("already present or denied")]
    NotArrivable,
    /// An eID level recorded for someone who did not log in at that level: an electronic ID is
    /// a fact of the login, not something an admitter can attest (VC-AUTH-1).
    #[error("that eID level was not used by this participant")]
    UnprovenAssurance,
}

impl RoomError {
    /// The stable code sent in the error frame (`docs/signalling.md`).
    pub fn code(self) -> &'static str {
        match self {
            Self::NotPlanned => "not-planned",
            Self::Over => "over",
            Self::NotAdmitted => "not-admitted",
            Self::NotAllowed => "not-allowed",
            Self::NotWaiting => "not-waiting",
            Self::Locked => "locked",
            Self::NotArrivable => "not-arrivable",
            Self::UnprovenAssurance => "unproven-assurance",
        }
    }
}

/// One consultation's room.
#[derive(Debug, Clone)]
pub struct Room {
    kind: ConsultationKind,
    planned: BTreeMap<ParticipantId, Planned>,
    presence: BTreeMap<ParticipantId, Presence>,
    state: State,
    locked: bool,
    /// When the consultation began (a host entered).
    started: Option<u64>,
    /// Who took part, for the journal note: first admission and assurance, last time present.
    attendance: BTreeMap<ParticipantId, Attendance>,
}

/// One participant's attendance, for the journal note (VC-LOG-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attendance {
    /// The identity assurance recorded when first admitted.
    pub assurance: IdentityAssurance,
    /// When first admitted (milliseconds).
    pub from: u64,
    /// When last seen leaving, `None` while present.
    pub to: Option<u64>,
}

impl Room {
    /// How long a dropped participant may come back without a new admission (milliseconds).
    pub const GRACE_MS: u64 = 30_000;

    /// A scheduled room with its planned participants.
    pub fn new(kind: ConsultationKind, planned: Vec<Planned>) -> Room {
        let presence = planned.iter().map(|p| (p.id, Presence::Absent)).collect();
        let planned = planned.into_iter().map(|p| (p.id, p)).collect();
        Room {
            kind,
            planned,
            presence,
            state: State::Scheduled,
            locked: false,
            started: None,
            attendance: BTreeMap::new(),
        }
    }

    /// The kind.
    pub fn kind(&self) -> ConsultationKind {
        self.kind
    }

    /// The state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether the room is locked.
    pub fn locked(&self) -> bool {
        self.locked
    }

    /// Where a planned participant is.
    pub fn presence(&self, who: ParticipantId) -> Option<Presence> {
        self.presence.get(&who).copied()
    }

    /// Adds a participant invited after the room started (they arrive like anyone planned).
    /// A known id is left as it is.
    pub fn add_planned(&mut self, p: Planned) {
        if !self.planned.contains_key(&p.id) {
            self.presence.insert(p.id, Presence::Absent);
            self.planned.insert(p.id, p);
        }
    }

    /// Whether `who` may admit, deny and lock: the driver sets it from the live access rule
    /// when they arrive and whenever the rule refuses them, so that the waiting room's names
    /// reach only those who hold the right now.
    pub fn set_may_admit(&mut self, who: ParticipantId, may: bool) {
        if let Some(p) = self.planned.get_mut(&who) {
            p.may_admit = may;
        }
    }

    /// The planned participants.
    pub fn planned(&self) -> impl Iterator<Item = &Planned> {
        self.planned.values()
    }

    /// The roster: every admitted, connected participant. One whose connection dropped is shown
    /// as gone at once, and comes back without a new admission within [`Room::GRACE_MS`].
    pub fn roster(&self) -> Vec<RosterEntry> {
        self.presence
            .iter()
            .filter_map(|(id, p)| match p {
                Presence::Admitted { assurance, .. } => {
                    let planned = self.planned.get(id)?;
                    Some(RosterEntry {
                        id: *id,
                        role: planned.role,
                        name: planned.name.clone(),
                        assurance: *assurance,
                        host: planned.host,
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// Feeds one input that happened at `now` (milliseconds); returns the effects, or why it
    /// was refused (then nothing changed).
    pub fn handle(&mut self, input: Input, now: u64) -> Result<Vec<Effect>, RoomError> {
        if matches!(self.state, State::Ended { .. } | State::Cancelled) {
            return Err(RoomError::Over);
        }
        let mut out = Vec::new();
        match input {
            Input::Arrive { who, login } => self.arrive(who, login, now, &mut out)?,
            Input::Admit { by, who, assurance } => {
                self.check_admitter(by)?;
                let Some(Presence::Waiting { login, .. }) = self.presence(who) else {
                    return Err(RoomError::NotWaiting);
                };
                if !assurance.proven_by(login) {
                    return Err(RoomError::UnprovenAssurance);
                }
                self.enter(
                    who,
                    assurance,
                    by,
                    ("consultation.admit", by),
                    now,
                    &mut out,
                );
            }
            Input::Deny { by, who } => {
                self.check_admitter(by)?;
                if !matches!(self.presence(who), Some(Presence::Waiting { .. })) {
                    return Err(RoomError::NotWaiting);
                }
                self.set(who, Presence::Denied);
                out.push(audit("consultation.deny", Some(by), Some(who), None, now));
                out.push(Effect::Send(who, Event::Denied));
                out.push(Effect::Close(who));
                self.waiting_room(&mut out);
            }
            Input::Lock { by } | Input::Unlock { by } => {
                self.check_admitter(by)?;
                let lock = matches!(input, Input::Lock { .. });
                self.locked = lock;
                let action = if lock {
                    "consultation.lock"
                } else {
                    "consultation.unlock"
                };
                out.push(audit(action, Some(by), None, None, now));
                for id in self.admitted() {
                    out.push(Effect::Send(id, Event::Locked(lock)));
                }
            }
            Input::Leave { who } => {
                self.planned.get(&who).ok_or(RoomError::NotPlanned)?;
                let before = self.presence(who);
                if matches!(
                    before,
                    Some(Presence::Absent | Presence::Left | Presence::Denied)
                ) {
                    return Err(RoomError::NotAdmitted);
                }
                self.set(who, Presence::Left);
                out.push(audit("consultation.leave", Some(who), Some(who), None, now));
                match before {
                    Some(Presence::Admitted { .. }) => {
                        self.gone(who, now);
                        out.push(Effect::Close(who));
                        self.announce_leave(who, &mut out);
                    }
                    Some(Presence::Waiting { .. }) => {
                        out.push(Effect::Close(who));
                        self.waiting_room(&mut out);
                    }
                    // Dropped: already gone from the roster and disconnected.
                    _ => {}
                }
            }
            Input::Disconnect { who } => {
                self.planned.get(&who).ok_or(RoomError::NotPlanned)?;
                match self.presence(who) {
                    Some(Presence::Admitted { assurance, by }) => {
                        self.set(
                            who,
                            Presence::Dropped {
                                assurance,
                                by,
                                at: now,
                            },
                        );
                        self.gone(who, now);
                        out.push(audit("consultation.drop", Some(who), Some(who), None, now));
                        self.announce_leave(who, &mut out);
                    }
                    Some(Presence::Waiting { .. }) => {
                        self.set(who, Presence::Absent);
                        out.push(audit(
                            "consultation.leave-waiting",
                            Some(who),
                            Some(who),
                            None,
                            now,
                        ));
                        self.waiting_room(&mut out);
                    }
                    _ => return Err(RoomError::NotAdmitted),
                }
            }
            Input::Tick => {
                let expired: Vec<ParticipantId> = self
                    .presence
                    .iter()
                    .filter(|(_, p)| matches!(p, Presence::Dropped { at, .. } if now.saturating_sub(*at) >= Self::GRACE_MS))
                    .map(|(id, _)| *id)
                    .collect();
                // Their grace period is over: from now on they wait like anyone new.
                for who in expired {
                    self.set(who, Presence::Left);
                    out.push(audit("consultation.grace-over", None, Some(who), None, now));
                }
            }
            Input::End { by } => {
                let host = self.planned.get(&by).ok_or(RoomError::NotPlanned)?.host;
                if !self.is_admitted(by) {
                    return Err(RoomError::NotAdmitted);
                }
                if !host {
                    return Err(RoomError::NotAllowed);
                }
                self.finish(Some(by), now, &mut out);
            }
            Input::Terminate => self.finish(None, now, &mut out),
            Input::Forfeit { who } => {
                if let Some(Presence::Dropped { .. }) = self.presence(who) {
                    self.set(who, Presence::Left);
                    out.push(audit("consultation.grace-over", None, Some(who), None, now));
                }
            }
            Input::Cancel => {
                if self.state != State::Scheduled {
                    return Err(RoomError::NotAllowed);
                }
                self.state = State::Cancelled;
                out.push(audit("consultation.cancel", None, None, None, now));
            }
        }
        Ok(out)
    }

    /// Ends the consultation for everyone, on a host's word (`by`) or the organisation's.
    fn finish(&mut self, by: Option<ParticipantId>, now: u64, out: &mut Vec<Effect>) {
        self.state = State::Ended { at: now };
        for who in self.admitted() {
            self.gone(who, now);
        }
        out.push(audit("consultation.end", by, None, None, now));
        // Everyone connected, admitted or waiting, is told and disconnected at once.
        let connected: Vec<ParticipantId> = self
            .presence
            .iter()
            .filter(|(_, p)| matches!(p, Presence::Admitted { .. } | Presence::Waiting { .. }))
            .map(|(id, _)| *id)
            .collect();
        for id in connected {
            out.push(Effect::Send(id, Event::Ended));
            out.push(Effect::Close(id));
        }
        for p in self.presence.values_mut() {
            if !matches!(p, Presence::Denied) {
                *p = Presence::Left;
            }
        }
    }

    fn arrive(
        &mut self,
        who: ParticipantId,
        login: Option<IdentityAssurance>,
        now: u64,
        out: &mut Vec<Effect>,
    ) -> Result<(), RoomError> {
        let planned = self.planned.get(&who).ok_or(RoomError::NotPlanned)?;
        let host = planned.host;
        match self.presence(who) {
            // Back within the grace period: admitted again without a new admission.
            Some(Presence::Dropped { assurance, by, at })
                if now.saturating_sub(at) < Self::GRACE_MS =>
            {
                self.enter(who, assurance, by, ("consultation.rejoin", who), now, out);
                return Ok(());
            }
            Some(Presence::Absent | Presence::Left | Presence::Dropped { .. }) => {}
            _ => return Err(RoomError::NotArrivable),
        }
        if host {
            // A host enters with the assurance of their own login; a host without a login
            // (an invitation link only) waits like anyone else.
            if let Some(assurance) = login {
                self.state = State::InProgress;
                self.enter(
                    who,
                    assurance,
                    who,
                    ("consultation.host-enter", who),
                    now,
                    out,
                );
                return Ok(());
            }
        }
        if self.locked {
            return Err(RoomError::Locked);
        }
        self.set(who, Presence::Waiting { since: now, login });
        out.push(audit(
            "consultation.arrive",
            Some(who),
            Some(who),
            None,
            now,
        ));
        out.push(Effect::Send(who, Event::Waiting));
        self.waiting_room(out);
        Ok(())
    }

    /// Admits `who` (recorded as `action` by `actor`), tells them, and tells everyone admitted
    /// who joined and the new roster.
    fn enter(
        &mut self,
        who: ParticipantId,
        assurance: IdentityAssurance,
        by: ParticipantId,
        (action, actor): (&'static str, ParticipantId),
        now: u64,
        out: &mut Vec<Effect>,
    ) {
        self.set(who, Presence::Admitted { assurance, by });
        self.started.get_or_insert(now);
        self.attendance
            .entry(who)
            .and_modify(|a| a.to = None)
            .or_insert(Attendance {
                assurance,
                from: now,
                to: None,
            });
        out.push(audit(action, Some(actor), Some(who), Some(assurance), now));
        out.push(Effect::Send(who, Event::Admitted));
        self.announce_join(who, out);
    }

    fn set(&mut self, who: ParticipantId, p: Presence) {
        if let Some(slot) = self.presence.get_mut(&who) {
            *slot = p;
        }
    }

    /// Notes that `who` stopped being present at `now` (for the journal note).
    fn gone(&mut self, who: ParticipantId, now: u64) {
        if let Some(a) = self.attendance.get_mut(&who) {
            a.to.get_or_insert(now);
        }
    }

    /// Who took part and when, after the consultation has ended (VC-LOG-1); `None` before.
    pub fn journal(&self) -> Option<Journal> {
        let State::Ended { at: ended } = self.state else {
            return None;
        };
        let entries = self
            .attendance
            .iter()
            .filter_map(|(id, a)| {
                let p = self.planned.get(id)?;
                Some(JournalEntry {
                    name: p.name.clone(),
                    role: p.role,
                    assurance: a.assurance,
                    from: a.from,
                    to: a.to.unwrap_or(ended),
                })
            })
            .collect();
        Some(Journal {
            kind: self.kind,
            started: self.started.unwrap_or(ended),
            ended,
            entries,
        })
    }

    fn is_admitted(&self, who: ParticipantId) -> bool {
        matches!(self.presence(who), Some(Presence::Admitted { .. }))
    }

    /// The connected admitted participants.
    fn admitted(&self) -> Vec<ParticipantId> {
        self.presence
            .iter()
            .filter(|(_, p)| matches!(p, Presence::Admitted { .. }))
            .map(|(id, _)| *id)
            .collect()
    }

    fn check_admitter(&self, by: ParticipantId) -> Result<(), RoomError> {
        let planned = self.planned.get(&by).ok_or(RoomError::NotPlanned)?;
        if !self.is_admitted(by) {
            return Err(RoomError::NotAdmitted);
        }
        if !planned.may_admit {
            return Err(RoomError::NotAllowed);
        }
        Ok(())
    }

    /// Tells every admitted participant who joined and the new roster.
    fn announce_join(&self, who: ParticipantId, out: &mut Vec<Effect>) {
        let roster = self.roster();
        for id in self.admitted() {
            if id != who {
                out.push(Effect::Send(id, Event::Joined(who)));
            }
            out.push(Effect::Send(id, Event::Roster(roster.clone())));
        }
        self.waiting_room(out);
    }

    /// Tells every admitted participant who left and the new roster.
    fn announce_leave(&self, who: ParticipantId, out: &mut Vec<Effect>) {
        let roster = self.roster();
        for id in self.admitted() {
            out.push(Effect::Send(id, Event::Left(who)));
            out.push(Effect::Send(id, Event::Roster(roster.clone())));
        }
    }

    /// Tells those who may admit who is waiting.
    fn waiting_room(&self, out: &mut Vec<Effect>) {
        let waiting: Vec<Waiting> = self
            .presence
            .iter()
            .filter_map(|(id, p)| match p {
                Presence::Waiting { since, login } => {
                    let planned = self.planned.get(id)?;
                    Some(Waiting {
                        id: *id,
                        role: planned.role,
                        name: planned.name.clone(),
                        since: *since,
                        login: *login,
                    })
                }
                _ => None,
            })
            .collect();
        for id in self.admitted() {
            if self.planned.get(&id).is_some_and(|p| p.may_admit) {
                out.push(Effect::Send(id, Event::WaitingRoom(waiting.clone())));
            }
        }
    }
}

fn audit(
    action: &'static str,
    actor: Option<ParticipantId>,
    subject: Option<ParticipantId>,
    assurance: Option<IdentityAssurance>,
    at: u64,
) -> Effect {
    Effect::Audit(Record {
        action,
        actor,
        subject,
        assurance,
        refused: None,
        at,
    })
}

/// The draft journal note of an ended consultation (VC-LOG-1): who took part with role and
/// identity assurance, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    /// The kind of consultation.
    pub kind: ConsultationKind,
    /// When it began (milliseconds since the Unix epoch).
    pub started: u64,
    /// When it ended.
    pub ended: u64,
    /// Every participant who was admitted, in id order.
    pub entries: Vec<JournalEntry>,
}

/// One participant in the journal note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// Their name as the organisation knows it.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// How their identity was established when first admitted.
    pub assurance: IdentityAssurance,
    /// When first admitted.
    pub from: u64,
    /// When last present.
    pub to: u64,
}

impl Journal {
    /// The duration in whole minutes.
    pub fn minutes(&self) -> u64 {
        self.ended.saturating_sub(self.started) / 60_000
    }

    /// Whether an interpreter took part.
    pub fn interpreter(&self) -> bool {
        self.entries.iter().any(|e| e.role == Role::Interpreter)
    }

    /// The note as text for the EHR (bokmål), times in Norwegian time, with each participant's
    /// role and how their identity was established in words and, for systems, the code.
    pub fn text(&self) -> String {
        let day = local(self.started)
            .map(|t| format!("{:02}.{:02}.{} ", t.day(), u8::from(t.month()), t.year()));
        let mut t = format!(
            "Videokonsultasjon {}kl. {}–{} ({} min).\n",
            day.unwrap_or_default(),
            clock(self.started),
            clock(self.ended),
            self.minutes()
        );
        if self.interpreter() {
            t.push_str("Tolk deltok.\n");
        }
        t.push_str("Deltakere:\n");
        for e in &self.entries {
            t.push_str(&format!(
                "- {} ({}), identitet: {} [{}], kl. {}–{}\n",
                e.name,
                e.role.name_nb(),
                e.assurance.name_nb(),
                e.assurance.code(),
                clock(e.from),
                clock(e.to)
            ));
        }
        t
    }

    /// The note as a FHIR R4 Encounter (virtual, finished), participants with their roles,
    /// periods and identity assurance.
    pub fn fhir_encounter(&self) -> serde_json::Value {
        let participants: Vec<serde_json::Value> = self
            .entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "type": [{ "text": e.role.code() }],
                    "individual": { "display": e.name },
                    "period": { "start": rfc3339(e.from), "end": rfc3339(e.to) },
                    "extension": [{
                        "url": "https://trygg.no/fhir/StructureDefinition/identity-assurance",
                        "valueCode": e.assurance.code()
                    }]
                })
            })
            .collect();
        serde_json::json!({
            "resourceType": "Encounter",
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "VR",
                "display": "virtual"
            },
            "period": { "start": rfc3339(self.started), "end": rfc3339(self.ended) },
            "length": { "value": self.minutes(), "unit": "min", "system": "http://unitsofmeasure.org", "code": "min" },
            "participant": participants
        })
    }
}

/// Milliseconds since the Unix epoch as RFC 3339 in UTC (seconds).
fn rfc3339(ms: u64) -> String {
    let secs = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The time of day (HH:MM, UTC) of milliseconds since the Unix epoch.
/// Milliseconds since the epoch in Norwegian time.
fn local(ms: u64) -> Option<time::OffsetDateTime> {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
    Some(crate::local_time::oslo(t))
}

/// `hh:mm` in Norwegian time.
fn clock(ms: u64) -> String {
    local(ms).map_or_else(String::new, |t| {
        format!("{:02}:{:02}", t.hour(), t.minute())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HOST: ParticipantId = ParticipantId(1);
    const PATIENT: ParticipantId = ParticipantId(2);
    const INTERPRETER: ParticipantId = ParticipantId(3);
    const NURSE: ParticipantId = ParticipantId(4);
    const STRANGER: ParticipantId = ParticipantId(99);

    fn planned(id: ParticipantId, role: Role, host: bool, may_admit: bool) -> Planned {
        Planned {
            id,
            role,
            name: format!("{} {}", role.code(), id),
            host,
            may_admit,
        }
    }

    /// A clinician host, a patient, an interpreter and a nurse who may not admit.
    fn room() -> Room {
        Room::new(
            ConsultationKind::WithInterpreter,
            vec![
                planned(HOST, Role::Clinician, true, true),
                planned(PATIENT, Role::Patient, false, false),
                planned(INTERPRETER, Role::Interpreter, false, false),
                planned(NURSE, Role::Clinician, false, false),
            ],
        )
    }

    fn sent_to(effects: &[Effect], who: ParticipantId) -> Vec<Event> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send(to, ev) if *to == who => Some(ev.clone()),
                _ => None,
            })
            .collect()
    }

    fn arrive(r: &mut Room, who: ParticipantId, now: u64) -> Vec<Effect> {
        // Signed in with eID (high), as a patient through ID-porten: any level may be recorded.
        let login = Some(IdentityAssurance::EidHigh);
        r.handle(Input::Arrive { who, login }, now).unwrap()
    }

    /// The host admits `who`.
    fn admit(
        r: &mut Room,
        who: ParticipantId,
        assurance: IdentityAssurance,
        now: u64,
    ) -> Vec<Effect> {
        r.handle(
            Input::Admit {
                by: HOST,
                who,
                assurance,
            },
            now,
        )
        .unwrap()
    }

    fn host_enters(r: &mut Room) {
        let login = Some(IdentityAssurance::EidHigh);
        r.handle(Input::Arrive { who: HOST, login }, 0).unwrap();
    }

    #[test]
    fn the_organisation_ends_a_room_for_everyone_admitted_or_waiting() {
        // Risk 1e: an end ordered by the organisation (the console, an administrator, the
        // invitations' expiry) reaches everyone, like a host's, and leaves the journal note.
        let mut r = room();
        host_enters(&mut r);
        arrive(&mut r, PATIENT, 5);
        admit(&mut r, PATIENT, IdentityAssurance::KnownVisually, 10);
        arrive(&mut r, INTERPRETER, 15);
        let e = r.handle(Input::Terminate, 60_000).unwrap();
        for who in [HOST, PATIENT, INTERPRETER] {
            assert!(sent_to(&e, who).contains(&Event::Ended), "{who}");
            assert!(e.contains(&Effect::Close(who)), "{who}");
        }
        assert!(e.contains(&Effect::Audit(Record {
            action: "consultation.end",
            actor: None,
            subject: None,
            assurance: None,
            refused: None,
            at: 60_000,
        })));
        assert_eq!(r.state(), State::Ended { at: 60_000 });
        let j = r.journal().unwrap();
        assert_eq!(
            j.entries.len(),
            2,
            "the host and the admitted patient, not the one waiting"
        );
        assert_eq!(r.handle(Input::Terminate, 60_001), Err(RoomError::Over));
        assert_eq!(arrive_err(&mut r, PATIENT), RoomError::Over);
    }

    #[test]
    fn device_assurance_is_recorded_only_for_a_device_that_proved_itself() {
        // VC-DEV-1, VC-AUTH-4: `device` comes from the device's signature at this join, never
        // from the admitter's word; a device gives no eID level.
        let mut r = room();
        host_enters(&mut r);
        r.handle(
            Input::Arrive {
                who: PATIENT,
                login: Some(IdentityAssurance::Device),
            },
            1,
        )
        .unwrap();
        for a in [
            IdentityAssurance::EidHigh,
            IdentityAssurance::EidSubstantial,
        ] {
            let admit = Input::Admit {
                by: HOST,
                who: PATIENT,
                assurance: a,
            };
            assert_eq!(r.handle(admit, 2), Err(RoomError::UnprovenAssurance));
        }
        assert!(IdentityAssurance::Device.proven_by(Some(IdentityAssurance::Device)));
        assert!(!IdentityAssurance::Device.proven_by(Some(IdentityAssurance::EidHigh)));
        assert!(!IdentityAssurance::Device.attestable());
        let fx = admit(&mut r, PATIENT, IdentityAssurance::Device, 3);
        assert!(fx
            .iter()
            .any(|e| matches!(e, Effect::Send(PATIENT, Event::Admitted))));
    }

    #[test]
    fn an_eid_level_is_recorded_only_for_who_logged_in_at_it() {
        // VC-AUTH-1: the admitter attests what they see (a document, a known face, the
        // organisation's device); an eID level is a fact of the participant's own login.
        let mut r = room();
        host_enters(&mut r);
        r.handle(
            Input::Arrive {
                who: PATIENT,
                login: None,
            },
            1,
        )
        .unwrap();
        let substantial = Some(IdentityAssurance::EidSubstantial);
        r.handle(
            Input::Arrive {
                who: INTERPRETER,
                login: substantial,
            },
            1,
        )
        .unwrap();
        for a in [
            IdentityAssurance::EidHigh,
            IdentityAssurance::EidSubstantial,
            IdentityAssurance::Device,
        ] {
            let admit = Input::Admit {
                by: HOST,
                who: PATIENT,
                assurance: a,
            };
            assert_eq!(r.handle(admit, 2), Err(RoomError::UnprovenAssurance));
        }
        let admit = Input::Admit {
            by: HOST,
            who: INTERPRETER,
            assurance: IdentityAssurance::EidHigh,
        };
        assert_eq!(r.handle(admit, 2), Err(RoomError::UnprovenAssurance));
        admit_ok(&mut r, INTERPRETER, IdentityAssurance::EidSubstantial);
        admit_ok(&mut r, PATIENT, IdentityAssurance::IdDocumentShown);
        assert_eq!(r.roster().len(), 3);
    }

    fn admit_ok(r: &mut Room, who: ParticipantId, assurance: IdentityAssurance) {
        r.handle(
            Input::Admit {
                by: HOST,
                who,
                assurance,
            },
            3,
        )
        .unwrap();
    }

    fn arrive_err(r: &mut Room, who: ParticipantId) -> RoomError {
        r.handle(Input::Arrive { who, login: None }, 70_000)
            .unwrap_err()
    }

    #[test]
    fn everyone_but_the_host_waits_and_is_admitted_one_by_one() {
        // VC-AUTH-1/2, VC-CONF-2, VC-INFO-3.
        let mut r = room();
        let e = arrive(&mut r, PATIENT, 5);
        assert_eq!(sent_to(&e, PATIENT), vec![Event::Waiting]);
        assert_eq!(r.state(), State::Scheduled);
        host_enters(&mut r);
        assert_eq!(r.state(), State::InProgress);
        arrive(&mut r, INTERPRETER, 10);
        assert!(r.roster().iter().all(|e| e.id == HOST));
        let e = r
            .handle(
                Input::Admit {
                    by: HOST,
                    who: PATIENT,
                    assurance: IdentityAssurance::EidSubstantial,
                },
                20,
            )
            .unwrap();
        assert!(sent_to(&e, PATIENT).contains(&Event::Admitted));
        assert!(sent_to(&e, HOST).contains(&Event::Joined(PATIENT)));
        // The interpreter still waits and sees nothing of the roster.
        assert!(sent_to(&e, INTERPRETER).is_empty());
        assert!(e.contains(&Effect::Audit(Record {
            action: "consultation.admit",
            actor: Some(HOST),
            subject: Some(PATIENT),
            assurance: Some(IdentityAssurance::EidSubstantial),
            refused: None,
            at: 20,
        })));
        let e = r
            .handle(
                Input::Admit {
                    by: HOST,
                    who: INTERPRETER,
                    assurance: IdentityAssurance::IdDocumentShown,
                },
                30,
            )
            .unwrap();
        // All three see the same roster, with each one's assurance.
        let rosters: Vec<Vec<RosterEntry>> = [HOST, PATIENT, INTERPRETER]
            .iter()
            .map(|p| {
                sent_to(&e, *p)
                    .into_iter()
                    .filter_map(|ev| match ev {
                        Event::Roster(r) => Some(r),
                        _ => None,
                    })
                    .next_back()
                    .unwrap()
            })
            .collect();
        assert!(rosters.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(rosters[0].len(), 3);
        let interpreter = rosters[0].iter().find(|e| e.id == INTERPRETER).unwrap();
        assert_eq!(interpreter.assurance, IdentityAssurance::IdDocumentShown);
    }

    #[test]
    fn only_an_admitted_participant_with_the_right_admits() {
        let mut r = room();
        host_enters(&mut r);
        arrive(&mut r, PATIENT, 1);
        arrive(&mut r, NURSE, 2);
        // A refusal has its audit record, naming who tried what on whom.
        let tried = Input::Admit {
            by: NURSE,
            who: PATIENT,
            assurance: IdentityAssurance::KnownVisually,
        };
        let record = tried.refused(RoomError::NotAdmitted, 3);
        assert_eq!(
            (record.action, record.actor, record.subject, record.refused),
            (
                "consultation.refused",
                Some(NURSE),
                Some(PATIENT),
                Some(RoomError::NotAdmitted)
            )
        );
        let admit = |by| Input::Admit {
            by,
            who: PATIENT,
            assurance: IdentityAssurance::KnownVisually,
        };
        // A waiting participant, a participant without the right, an unplanned one.
        assert_eq!(r.handle(admit(NURSE), 3), Err(RoomError::NotAdmitted));
        r.handle(
            Input::Admit {
                by: HOST,
                who: NURSE,
                assurance: IdentityAssurance::IdDocumentShown,
            },
            4,
        )
        .unwrap();
        assert_eq!(r.handle(admit(NURSE), 5), Err(RoomError::NotAllowed));
        assert_eq!(r.handle(admit(STRANGER), 5), Err(RoomError::NotPlanned));
        // Nobody can admit someone who is not waiting, or arrive uninvited.
        let not_waiting = Input::Admit {
            by: HOST,
            who: INTERPRETER,
            assurance: IdentityAssurance::EidHigh,
        };
        assert_eq!(r.handle(not_waiting, 6), Err(RoomError::NotWaiting));
        assert_eq!(
            r.handle(
                Input::Arrive {
                    who: STRANGER,
                    login: None
                },
                6
            ),
            Err(RoomError::NotPlanned)
        );
        assert!(r.roster().iter().all(|e| e.id != PATIENT));
    }

    #[test]
    fn denied_and_locked_out_participants_stay_out() {
        let mut r = room();
        host_enters(&mut r);
        arrive(&mut r, PATIENT, 1);
        let e = r
            .handle(
                Input::Deny {
                    by: HOST,
                    who: PATIENT,
                },
                2,
            )
            .unwrap();
        assert!(e.contains(&Effect::Close(PATIENT)));
        assert_eq!(
            r.handle(
                Input::Arrive {
                    who: PATIENT,
                    login: None
                },
                3
            ),
            Err(RoomError::NotArrivable)
        );
        r.handle(Input::Lock { by: HOST }, 4).unwrap();
        assert_eq!(
            r.handle(
                Input::Arrive {
                    who: INTERPRETER,
                    login: None
                },
                5
            ),
            Err(RoomError::Locked)
        );
        r.handle(Input::Unlock { by: HOST }, 6).unwrap();
        arrive(&mut r, INTERPRETER, 7);
    }

    #[test]
    fn a_dropped_participant_is_gone_at_once_and_back_within_the_grace_period() {
        let mut r = room();
        host_enters(&mut r);
        arrive(&mut r, PATIENT, 1);
        admit(&mut r, PATIENT, IdentityAssurance::EidHigh, 2);
        let e = r.handle(Input::Disconnect { who: PATIENT }, 10).unwrap();
        assert!(sent_to(&e, HOST).contains(&Event::Left(PATIENT)));
        assert!(r.roster().iter().all(|e| e.id != PATIENT));
        // Back within the grace period: admitted without a new admission.
        let e = arrive(&mut r, PATIENT, 10 + Room::GRACE_MS - 1);
        assert!(sent_to(&e, PATIENT).contains(&Event::Admitted));
        // Dropped again, and back too late: waits again.
        r.handle(Input::Disconnect { who: PATIENT }, 100_000)
            .unwrap();
        r.handle(Input::Tick, 100_000 + Room::GRACE_MS).unwrap();
        let e = arrive(&mut r, PATIENT, 100_000 + Room::GRACE_MS + 1);
        assert_eq!(sent_to(&e, PATIENT), vec![Event::Waiting]);
    }

    #[test]
    fn the_host_ends_for_everyone_and_nothing_goes_on() {
        // Risk 1e: an unmistakable end for everyone.
        let mut r = room();
        host_enters(&mut r);
        arrive(&mut r, PATIENT, 1);
        admit(&mut r, PATIENT, IdentityAssurance::EidHigh, 2);
        arrive(&mut r, INTERPRETER, 3);
        assert_eq!(
            r.handle(Input::End { by: PATIENT }, 4),
            Err(RoomError::NotAllowed)
        );
        let e = r.handle(Input::End { by: HOST }, 5).unwrap();
        for who in [HOST, PATIENT, INTERPRETER] {
            assert!(sent_to(&e, who).contains(&Event::Ended), "{who}");
            assert!(e.contains(&Effect::Close(who)), "{who}");
        }
        assert_eq!(r.state(), State::Ended { at: 5 });
        assert!(r.roster().is_empty());
        assert_eq!(
            r.handle(
                Input::Arrive {
                    who: PATIENT,
                    login: None
                },
                6
            ),
            Err(RoomError::Over)
        );
        assert_eq!(r.handle(Input::Tick, 7), Err(RoomError::Over));
    }

    #[test]
    fn the_journal_note_names_everyone_with_role_assurance_and_times() {
        // VC-LOG-1: participants with role and identity assurance, times, duration, interpreter.
        let mut r = room();
        let t0 = 1_765_101_600_000; // 2025-12-07 10:00 UTC
        r.handle(
            Input::Arrive {
                who: HOST,
                login: Some(IdentityAssurance::EidHigh),
            },
            t0,
        )
        .unwrap();
        assert_eq!(r.journal(), None, "no note before the end");
        arrive(&mut r, PATIENT, t0 + 60_000);
        admit(
            &mut r,
            PATIENT,
            IdentityAssurance::EidSubstantial,
            t0 + 120_000,
        );
        arrive(&mut r, INTERPRETER, t0 + 180_000);
        admit(
            &mut r,
            INTERPRETER,
            IdentityAssurance::IdDocumentShown,
            t0 + 240_000,
        );
        // The nurse waits and is never admitted: not in the note.
        arrive(&mut r, NURSE, t0 + 250_000);
        r.handle(Input::Leave { who: INTERPRETER }, t0 + 900_000)
            .unwrap();
        r.handle(Input::End { by: HOST }, t0 + 1_500_000).unwrap();
        let j = r.journal().unwrap();
        assert_eq!(j.minutes(), 25);
        assert!(j.interpreter());
        let names: Vec<&str> = j.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, vec!["clinician p1", "patient p2", "interpreter p3"]);
        let interp = &j.entries[2];
        assert_eq!((interp.from, interp.to), (t0 + 240_000, t0 + 900_000));
        let text = j.text();
        // In Norwegian time (winter: UTC+1), roles and assurance in words and as codes.
        assert!(
            text.contains("07.12.2025 kl. 11:00–11:25 (25 min)"),
            "{text}"
        );
        assert!(text.contains("Tolk deltok."));
        assert!(
            text.contains(
                "patient p2 (pasient), identitet: eID på nivå betydelig [eid-substantial], \
                 kl. 11:02–11:25"
            ),
            "{text}"
        );
        let fhir = j.fhir_encounter();
        assert_eq!(fhir["resourceType"], "Encounter");
        assert_eq!(fhir["class"]["code"], "VR");
        assert_eq!(fhir["period"]["start"], "2025-12-07T10:00:00Z");
        assert_eq!(fhir["participant"].as_array().map(Vec::len), Some(3));
        assert_eq!(
            fhir["participant"][2]["extension"][0]["valueCode"],
            "id-document-shown"
        );
    }

    fn any_input() -> impl Strategy<Value = Input> {
        let who = (1u32..=5).prop_map(ParticipantId);
        let assurance = prop_oneof![
            Just(IdentityAssurance::EidHigh),
            Just(IdentityAssurance::KnownVisually),
        ];
        prop_oneof![
            (who.clone(), proptest::option::of(assurance.clone()))
                .prop_map(|(who, login)| Input::Arrive { who, login }),
            (who.clone(), who.clone(), assurance).prop_map(|(by, who, assurance)| Input::Admit {
                by,
                who,
                assurance
            }),
            (who.clone(), who.clone()).prop_map(|(by, who)| Input::Deny { by, who }),
            who.clone().prop_map(|by| Input::Lock { by }),
            who.clone().prop_map(|by| Input::Unlock { by }),
            who.clone().prop_map(|who| Input::Leave { who }),
            who.clone().prop_map(|who| Input::Disconnect { who }),
            Just(Input::Tick),
            who.prop_map(|by| Input::End { by }),
        ]
    }

    proptest! {
        /// Whatever happens: only the admitted are in the roster; every roster sent goes only to
        /// admitted participants and lists exactly the admitted ones; a refused input changes
        /// nothing; every admission names an admitter with the right; after the end nothing
        /// changes. VC-CONF-2, VC-AUTH-1.
        #[test]
        fn the_roster_hides_nobody_and_admits_only_by_right(
            inputs in proptest::collection::vec((any_input(), 0u64..40_000), 0..60)
        ) {
            let mut r = room();
            let mut now = 0;
            for (input, dt) in inputs {
                now += dt;
                let before = (r.state(), r.roster(), r.locked());
                match r.handle(input.clone(), now) {
                    Err(_) => {
                        prop_assert_eq!(before, (r.state(), r.roster(), r.locked()));
                    }
                    Ok(effects) => {
                        let roster = r.roster();
                        for e in &effects {
                            match e {
                                Effect::Send(to, Event::Roster(sent)) => {
                                    prop_assert!(roster.iter().any(|x| x.id == *to), "roster to a non-member");
                                    prop_assert_eq!(sent, &roster);
                                }
                                Effect::Send(to, Event::WaitingRoom(_)) => {
                                    prop_assert!(r.planned().any(|p| p.id == *to && p.may_admit));
                                }
                                Effect::Audit(Record { action: "consultation.admit", actor: Some(by), .. }) => {
                                    prop_assert!(r.planned().any(|p| p.id == *by && p.may_admit));
                                }
                                _ => {}
                            }
                        }
                        if matches!(before.0, State::Ended { .. }) {
                            prop_assert!(effects.is_empty());
                        }
                    }
                }
                for entry in r.roster() {
                    let admitted = matches!(r.presence(entry.id), Some(Presence::Admitted { .. }));
                    prop_assert!(admitted);
                }
            }
        }
    }
}
