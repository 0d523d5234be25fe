//! Audit events: one entry of the log, shaped like a FHIR R4 AuditEvent (who, role, organisation,
//! on behalf of, patient, action, entity, basis, outcome, source, time), and its canonical bytes.
//!
//! **Rule: no free text.** Every field is a closed enum, a [`Code`] or an [`OpaqueId`]: short
//! tokens of `A-Z a-z 0-9 - . _ : /` without spaces, so a name, a message body or a diagnosis cannot
//! be written into the log by accident. Patients are named by Trygg's internal opaque id, never by
//! name or national identity number; a value of exactly eleven digits (the shape of a fødselsnummer
//! or D-number) is rejected. The client IP address in [`Source`] is the one field that is personal
//! data by itself; it is optional.
//!
//! **Canonical bytes.** [`AuditEvent::to_canonical`] is compact JSON with the fields in declaration
//! order, absent options left out, and `"schema":"trygg-audit/1"` first. The commitment in the Merkle
//! tree is computed over exactly these bytes, and the store keeps exactly these bytes.
//! [`AuditEvent::from_canonical`] accepts only bytes that re-encode to themselves, so two different
//! byte strings never decode to the same event.
//!
//! Time is a parameter ([`Timestamp`], milliseconds since the Unix epoch, UTC): this crate never
//! reads the clock.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use trygg_core::OrgSlug;
use uuid::Uuid;

/// Why an event or one of its fields is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// A code or id is empty or too long.
    #[error("{what} must have 1 to {max} characters")]
    Length {
        /// Which kind of value.
        what: &'static str,
        /// The longest allowed.
        max: usize,
    },
    /// A code or id holds a character outside `A-Z a-z 0-9 - . _ : /`.
    #[error("{what} may only hold A-Z, a-z, 0-9 and - . _ : /")]
    Characters {
        /// Which kind of value.
        what: &'static str,
    },
    /// A value of exactly eleven digits: looks like a national identity number.
    #[error("{what} looks like a national identity number; use the opaque internal id")]
    LooksLikeNationalId {
        /// Which kind of value.
        what: &'static str,
    },
    /// A time outside the range that fits in milliseconds since the epoch as `i64`.
    #[error("time out of range")]
    TimeRange,
    /// Bytes are not a valid encoded event.
    #[error("not a valid audit event: {0}")]
    Decode(String),
    /// Bytes decode to an event but are not its canonical encoding.
    #[error("audit event bytes are not in canonical form")]
    NotCanonical,
    /// Encoding failed (does not happen for well-formed values; kept typed rather than panicking).
    #[error("could not encode audit event: {0}")]
    Encode(String),
}

fn check_token(s: &str, what: &'static str, max: usize) -> Result<(), EventError> {
    if s.is_empty() || s.len() > max {
        return Err(EventError::Length { what, max });
    }
    let ok = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':' | b'/'));
    if !ok {
        return Err(EventError::Characters { what });
    }
    if s.len() == 11 && s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EventError::LooksLikeNationalId { what });
    }
    Ok(())
}

/// A short machine code from a known vocabulary: a role (`doctor`), an operation (`read`,
/// `joined`), an entity type (`Appointment`), an authentication method (`helseid`), a node name.
/// 1–64 characters of `A-Z a-z 0-9 - . _ : /`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Code(String);

impl Code {
    /// The longest code.
    pub const MAX_LEN: usize = 64;

    /// Checks a code.
    pub fn new(s: &str) -> Result<Self, EventError> {
        check_token(s, "a code", Self::MAX_LEN)?;
        Ok(Self(s.to_owned()))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Code {
    type Error = EventError;
    fn try_from(s: String) -> Result<Self, EventError> {
        check_token(&s, "a code", Self::MAX_LEN)?;
        Ok(Self(s))
    }
}

impl From<Code> for String {
    fn from(c: Code) -> String {
        c.0
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code({})", self.0)
    }
}

/// An opaque identifier of a person, device, record or relationship: normally a UUID issued by
/// Trygg. 1–128 characters of `A-Z a-z 0-9 - . _ : /`, never eleven digits (a national identity
/// number is not an opaque id).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OpaqueId(String);

impl OpaqueId {
    /// The longest id.
    pub const MAX_LEN: usize = 128;

    /// Checks an id.
    pub fn new(s: &str) -> Result<Self, EventError> {
        check_token(s, "an id", Self::MAX_LEN)?;
        Ok(Self(s.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Uuid> for OpaqueId {
    fn from(u: Uuid) -> Self {
        // A hyphenated UUID always passes `check_token`.
        Self(u.hyphenated().to_string())
    }
}

impl TryFrom<String> for OpaqueId {
    type Error = EventError;
    fn try_from(s: String) -> Result<Self, EventError> {
        check_token(&s, "an id", Self::MAX_LEN)?;
        Ok(Self(s))
    }
}

impl From<OpaqueId> for String {
    fn from(c: OpaqueId) -> String {
        c.0
    }
}

impl fmt::Display for OpaqueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for OpaqueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpaqueId({})", self.0)
    }
}

/// A point in time: milliseconds since the Unix epoch, UTC. Passed in by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// From milliseconds since the Unix epoch.
    pub const fn from_unix_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// From a `time` value, truncated to whole milliseconds.
    pub fn from_datetime(t: time::OffsetDateTime) -> Result<Self, EventError> {
        let ms = t.unix_timestamp_nanos().div_euclid(1_000_000);
        i64::try_from(ms)
            .map(Self)
            .map_err(|_| EventError::TimeRange)
    }

    /// As a `time` value in UTC.
    pub fn to_datetime(self) -> Result<time::OffsetDateTime, EventError> {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .map_err(|_| EventError::TimeRange)
    }

    /// RFC 3339 text in UTC (a FHIR `instant`), e.g. `2025-03-01T12:00:00.25Z`.
    pub fn to_rfc3339(self) -> Result<String, EventError> {
        self.to_datetime()?
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|_| EventError::TimeRange)
    }
}

/// The version tag of the canonical encoding. Only one exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Schema {
    /// Version 1 of the event encoding.
    #[default]
    #[serde(rename = "trygg-audit/1")]
    V1,
}

/// What kind of event this is. Everything under [`Category::Security`] is a security event
/// (guide risk scenario 17: unauthorised use and attempts are recorded as security events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// A read or write of personal or health data (Normen 5.4.4, PC-VENDOR-3).
    Access,
    /// A step in a video consultation: scheduled, invited, joined, admitted, left, ended
    /// (VC-LOG-2). The step is the event's `operation`.
    Consultation,
    /// A successful login, logout, step-up or device authentication.
    Authentication,
    /// A change to who may do what: a role or care relationship granted, changed or ended, an
    /// account created or disabled (PC-ACL-1; guide risk scenarios 15 and 16).
    Authorisation,
    /// Data leaving the system: an export, a journal note, an audit log export.
    Export,
    /// A change to the organisation's configuration or to security settings.
    Administration,
    /// A security event.
    Security(SecurityKind),
}

impl Category {
    /// Whether this is a security event.
    pub fn is_security_event(self) -> bool {
        matches!(self, Self::Security(_))
    }
}

/// The kind of a security event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecurityKind {
    /// An authenticated actor was refused access (no role, no care relationship, expired grant).
    AccessDenied,
    /// A login failed.
    FailedLogin,
    /// An actor of one organisation tried to reach another organisation's data.
    CrossOrganisation,
    /// An unknown, expired or already used link, invitation, enrolment code or token.
    InvalidToken,
    /// Requests refused for exceeding a rate limit.
    RateLimited,
    /// An integrity check failed (for example the audit log's own verification).
    IntegrityFailure,
}

/// The FHIR AuditEvent action (`C`, `R`, `U`, `D`, `E`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    /// Create.
    #[serde(rename = "C")]
    Create,
    /// Read, view or print.
    #[serde(rename = "R")]
    Read,
    /// Update.
    #[serde(rename = "U")]
    Update,
    /// Delete.
    #[serde(rename = "D")]
    Delete,
    /// Execute: an operation that is not one of the above (login, join, search).
    #[serde(rename = "E")]
    Execute,
}

impl Action {
    /// The FHIR code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Create => "C",
            Self::Read => "R",
            Self::Update => "U",
            Self::Delete => "D",
            Self::Execute => "E",
        }
    }
}

/// How the attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Done.
    Success,
    /// Refused by access control.
    Denied,
    /// Authentication failed.
    AuthenticationFailed,
    /// Refused as invalid (bad input, unknown link).
    Rejected,
    /// Failed because of an error in the system.
    Error,
}

/// What kind of party an agent is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AgentKind {
    /// Health personnel or other staff of an organisation (including interpreters and
    /// administrators; the role says which).
    Personnel,
    /// A patient (or user of care services).
    Patient,
    /// A person acting for a patient (parent, guardian).
    RelatedPerson,
    /// An enrolled device (VC-DEV-1, VC-AUTH-4).
    Device,
    /// Trygg itself or an integration.
    System,
    /// Not identified, e.g. a failed login for an unknown account.
    Unknown,
}

/// An eIDAS assurance level of an authentication (Norwegian levels 2–4; PC-AUTHN-1..3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Assurance {
    /// Low.
    Low,
    /// Substantial (level 3).
    Substantial,
    /// High (level 4).
    High,
}

impl Assurance {
    /// Every level, lowest first.
    pub const ALL: [Assurance; 3] = [Self::Low, Self::Substantial, Self::High];

    /// The stable code (`low`, `substantial`, `high`), as stored and shown.
    pub fn code(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Substantial => "substantial",
            Self::High => "high",
        }
    }

    /// The level with this code.
    pub fn from_code(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.code() == s)
    }
}

/// How the agent authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authentication {
    /// Method, e.g. `idporten`, `helseid`, `passkey`, `device-key`, `invitation`,
    /// `id-document-shown` (VC-AUTH-1).
    pub method: Code,
    /// Assurance level, where one applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assurance: Option<Assurance>,
}

/// A party on whose behalf the agent acts (a secretary for a doctor; a parent for a child).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnBehalfOf {
    /// What kind of party.
    pub kind: AgentKind,
    /// Its opaque id.
    pub id: OpaqueId,
}

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// What kind of party.
    pub kind: AgentKind,
    /// Its opaque id; absent when unknown (a failed login for an unknown account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<OpaqueId>,
    /// The role the agent acted in, e.g. `doctor` (PC-ACL-2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Code>,
    /// The agent's own organisation. For personnel in a cross-organisation attempt this differs
    /// from the organisation whose log holds the event. Absent for patients and unknown agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<OrgSlug>,
    /// On whose behalf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<OnBehalfOf>,
    /// How the agent authenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
}

/// What was touched.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entity {
    /// Type: a FHIR resource type where one fits (`Appointment`, `Communication`, `Consent`,
    /// `Encounter` for a consultation, `Practitioner`, `Device`, `AuditEvent`) or a Trygg type
    /// (`role-grant`, `care-relationship`, `session`, `setting`).
    pub kind: Code,
    /// Its opaque id; absent for a search or a collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<OpaqueId>,
    /// A coded detail, `name:value` (a consultation's recorded identity assurance,
    /// `identity-assurance:known-visually`, VC-AUTH-1; a refusal, `refused:not-allowed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Code>,
}

/// Why the agent had access: the legal or organisational basis (Normen 5.4.4: care relationship
/// or emergency access).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// A registered care relationship (need to know, PC-ACL-1).
    CareRelationship {
        /// The care relationship's id.
        id: OpaqueId,
    },
    /// Emergency access (akutt tilgang / nødrett) outside a care relationship.
    Emergency {
        /// A reason code from the organisation's list, e.g. `acute-care`, `patient-unconscious`.
        reason: Code,
        /// The id of the written justification kept elsewhere (sealed with the organisation's
        /// key), so its free text stays out of the log.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        justification: Option<OpaqueId>,
    },
    /// Administration without health data (booking, user management).
    Administration,
    /// The patient acting on their own data.
    PatientSelf,
    /// Trygg itself (retention, scheduled jobs).
    System,
    /// No basis: normal for security events and denied attempts.
    None,
}

/// Where the event was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The Trygg node that recorded it.
    pub node: Code,
    /// The client's IP address, where known. Personal data: optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
}

/// One audit event. Build with [`AuditEvent::new`], then set the optional fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    /// The encoding version.
    pub schema: Schema,
    /// When it happened.
    pub recorded: Timestamp,
    /// When the recorded activity began, for activities with a duration (a consultation that
    /// ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_start: Option<Timestamp>,
    /// What kind of event.
    pub category: Category,
    /// The specific operation, e.g. `read`, `search`, `login`, `admitted`, `role-granted`.
    pub operation: Code,
    /// The FHIR action.
    pub action: Action,
    /// How it ended.
    pub outcome: Outcome,
    /// Who.
    pub agent: Agent,
    /// Which patient's data, by opaque id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<OpaqueId>,
    /// What.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<Entity>,
    /// On what basis.
    pub basis: Basis,
    /// Where recorded.
    pub source: Source,
    /// The request that caused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<Uuid>,
}

impl AuditEvent {
    /// An event with the required fields; options empty and basis [`Basis::None`].
    pub fn new(
        recorded: Timestamp,
        category: Category,
        operation: Code,
        action: Action,
        outcome: Outcome,
        agent: Agent,
        source: Source,
    ) -> Self {
        Self {
            schema: Schema::V1,
            recorded,
            period_start: None,
            category,
            operation,
            action,
            outcome,
            agent,
            patient: None,
            entity: None,
            basis: Basis::None,
            source,
            request_id: None,
        }
    }

    /// Whether this is a security event.
    pub fn is_security_event(&self) -> bool {
        self.category.is_security_event()
    }

    /// The canonical bytes: what the commitment covers and what the store keeps.
    pub fn to_canonical(&self) -> Result<Vec<u8>, EventError> {
        serde_json::to_vec(self).map_err(|e| EventError::Encode(e.to_string()))
    }

    /// Decodes canonical bytes; rejects anything that does not re-encode to the same bytes.
    pub fn from_canonical(bytes: &[u8]) -> Result<Self, EventError> {
        let ev: Self =
            serde_json::from_slice(bytes).map_err(|e| EventError::Decode(e.to_string()))?;
        if ev.to_canonical()? != bytes {
            return Err(EventError::NotCanonical);
        }
        Ok(ev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AuditEvent {
        let mut e = AuditEvent::new(
            Timestamp::from_unix_millis(1_740_830_400_250),
            Category::Access,
            Code::new("read").unwrap(),
            Action::Read,
            Outcome::Success,
            Agent {
                kind: AgentKind::Personnel,
                id: Some(OpaqueId::new("0195a3c2-7d1e-7000-8000-000000000001").unwrap()),
                role: Some(Code::new("doctor").unwrap()),
                organisation: Some(OrgSlug::parse("normland-legesenter").unwrap()),
                on_behalf_of: None,
                authentication: Some(Authentication {
                    method: Code::new("helseid").unwrap(),
                    assurance: Some(Assurance::High),
                }),
            },
            Source {
                node: Code::new("node-1").unwrap(),
                address: Some("192.0.2.10".parse().unwrap()),
            },
        );
        e.patient = Some(OpaqueId::new("p-42").unwrap());
        e.entity = Some(Entity {
            kind: Code::new("Communication").unwrap(),
            id: Some(OpaqueId::new("m-7").unwrap()),
            detail: None,
        });
        e.basis = Basis::CareRelationship {
            id: OpaqueId::new("cr-1").unwrap(),
        };
        e
    }

    #[test]
    fn canonical_bytes_are_stable() {
        let e = sample();
        let b = e.to_canonical().unwrap();
        let text = String::from_utf8(b.clone()).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"schema":"trygg-audit/1","recorded":1740830400250,"category":"access","#,
                r#""operation":"read","action":"R","outcome":"success","agent":{"kind":"personnel","#,
                r#""id":"0195a3c2-7d1e-7000-8000-000000000001","role":"doctor","#,
                r#""organisation":"normland-legesenter","authentication":{"method":"helseid","#,
                r#""assurance":"high"}},"patient":"p-42","entity":{"kind":"Communication","id":"m-7"},"#,
                r#""basis":{"care-relationship":{"id":"cr-1"}},"source":{"node":"node-1","#,
                r#""address":"192.0.2.10"}}"#
            )
        );
        assert_eq!(AuditEvent::from_canonical(&b).unwrap(), e);
    }

    #[test]
    fn non_canonical_bytes_are_rejected() {
        let b = sample().to_canonical().unwrap();
        let text = String::from_utf8(b).unwrap();
        // Whitespace, reordered fields and unknown fields all decode differently or not at all.
        let spaced = text.replacen("\"recorded\":", "\"recorded\": ", 1);
        assert_eq!(
            AuditEvent::from_canonical(spaced.as_bytes()),
            Err(EventError::NotCanonical)
        );
        let extra = text.replacen('{', r#"{"note":"Kari has cancer","#, 1);
        assert!(matches!(
            AuditEvent::from_canonical(extra.as_bytes()),
            Err(EventError::Decode(_))
        ));
        let upper = text.replace("0195a3c2-7d1e-7000", "0195A3C2-7D1E-7000");
        // Still a valid opaque id, so this decodes: but it is a different event.
        assert_ne!(
            AuditEvent::from_canonical(upper.as_bytes()).unwrap(),
            sample()
        );
    }

    #[test]
    fn free_text_and_national_ids_are_refused() {
        assert_eq!(
            OpaqueId::new("01017012345"),
            Err(EventError::LooksLikeNationalId { what: "an id" })
        );
        assert!(matches!(
            Code::new("Kari Nordmann"),
            Err(EventError::Characters { .. })
        ));
        assert!(matches!(Code::new(""), Err(EventError::Length { .. })));
        assert!(matches!(
            Code::new(&"a".repeat(65)),
            Err(EventError::Length { .. })
        ));
        assert!(Code::new(&"a".repeat(64)).is_ok());
        assert!(OpaqueId::new("010170123456").is_ok());
        // Decoding applies the same rules.
        let text = String::from_utf8(sample().to_canonical().unwrap()).unwrap();
        let bad = text.replace("\"p-42\"", "\"01017012345\"");
        assert!(matches!(
            AuditEvent::from_canonical(bad.as_bytes()),
            Err(EventError::Decode(_))
        ));
    }

    #[test]
    fn every_security_kind_is_a_security_event() {
        for k in [
            SecurityKind::AccessDenied,
            SecurityKind::FailedLogin,
            SecurityKind::CrossOrganisation,
            SecurityKind::InvalidToken,
            SecurityKind::RateLimited,
            SecurityKind::IntegrityFailure,
        ] {
            assert!(Category::Security(k).is_security_event());
        }
        assert!(!Category::Access.is_security_event());
        assert!(!Category::Authorisation.is_security_event());
    }

    #[test]
    fn timestamps_round_trip_through_time() {
        let t = time::macros::datetime!(2025-03-01 12:00:00.250 UTC);
        let ts = Timestamp::from_datetime(t).unwrap();
        assert_eq!(ts.unix_millis(), 1_740_830_400_250);
        assert_eq!(ts.to_datetime().unwrap(), t);
        assert_eq!(ts.to_rfc3339().unwrap(), "2025-03-01T12:00:00.25Z");
        let before_epoch =
            Timestamp::from_datetime(time::macros::datetime!(1969-12-31 23:59:59.9995 UTC))
                .unwrap();
        assert_eq!(before_epoch.unix_millis(), -1);
    }
}
