//! Planning video consultations (issue #10): create one with an invitation per participant,
//! invite or re-invite, revoke, list, end or cancel, and read the journal note of an ended one.
//! The live room is [`crate::rooms`].
//!
//! A consultation is planned by a person with `consultation-manage` (a live grant, their
//! employment not ended, the organisation's minimum assurance; PC-ACL-1) or by the deployment
//! operator at the console; either way every step is an audit entry naming the patient, so the
//! patient's access log shows who planned and who was invited (VC-LOG-2, PC-RIGHTS-1). A host
//! must themselves hold `consultation-manage` when the consultation is planned (they admit
//! others), and the room asks the access rule again, live, at every admission.
//!
//! Invitations (VC-CONF-1, VC-INT-1) are bound to one person of the personnel or patient
//! register, 256-bit random, stored as keyed hashes, valid until two hours after the planned end
//! ([`trygg_identity::invitation::expiry`]) and revocable. The link is `<base>/join/<org>.<secret>`
//! and is returned once, to be sent by the notification service (another issue).

use std::sync::Arc;

use time::OffsetDateTime;
use trygg_audit::{Action, Basis, Category};
use trygg_core::access::Permission;
use trygg_core::consultation::{ConsultationKind, Role};
use trygg_core::{NationalId, Operation};
use trygg_store::consultations::{
    ConsultationRow, NewConsultation, NewParticipant, ParticipantRow, Person,
};
use trygg_store::{OrgStore, OrgTx, Secret};
use uuid::Uuid;

use crate::access::{audit_commit, authorize, org_for, Caller};
use crate::audit::{event, Actor, Did};
use crate::context::App;
use crate::error::AppError;

/// Who plans: a person through the API or pages, or the operator at the console.
#[derive(Debug, Clone, Copy)]
pub enum Planner<'a> {
    /// A person with `consultation-manage`.
    Person(&'a Caller),
    /// The deployment operator (`trygg consultation ...`), audit actor `trygg:cli`.
    Console,
}

/// A participant to invite: a role and a person (a personnel id for clinicians, interpreters
/// and other personnel; a patient id or national identity number for patients and companions).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParticipantIn {
    /// `patient`, `clinician`, `interpreter`, `companion` or `other-personnel`.
    pub role: String,
    /// Personnel id, patient id or national identity number.
    pub person: String,
}

/// A consultation to plan.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsultationIn {
    /// The patient it is about: a patient id or national identity number.
    pub patient: String,
    /// The host: a personnel id (holds `consultation-manage`; admits the others).
    pub host: Uuid,
    /// An interpreter (a personnel id), if one takes part (VC-INT-1).
    #[serde(default)]
    pub interpreter: Option<Uuid>,
    /// Further participants.
    #[serde(default)]
    pub participants: Vec<ParticipantIn>,
    /// Planned start (RFC 3339); now if absent.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub start: Option<OffsetDateTime>,
    /// Planned length in minutes, 5 to 480 (default 30).
    #[serde(default)]
    pub minutes: Option<u32>,
    /// `clinician-only` plans a meeting about the patient without them; any other kind follows
    /// from the roles.
    #[serde(default)]
    pub kind: Option<String>,
    /// `sms` or `email`: send the patient their invitation link as a notice (the consultation
    /// invitation template, in the same unit of work), with their consent to appointment
    /// notices on that channel. Absent: the link is handed over another way.
    #[serde(default)]
    pub notify: Option<String>,
}

/// One invitation, returned once.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct InvitationOut {
    /// The invitation's id (to re-invite or revoke).
    pub id: Uuid,
    /// The role.
    pub role: String,
    /// The room's participant id (`p1`, `p2`, …).
    pub participant: String,
    /// The person (personnel or patient id).
    pub person: Uuid,
    /// Their name as the organisation knows it.
    pub name: String,
    /// The link; secret, for this person only.
    pub url: String,
    /// When it stops working.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// A planned consultation with its invitations.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Created {
    /// The consultation's id.
    pub id: Uuid,
    /// Its kind.
    pub kind: String,
    /// Planned start.
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    /// Planned length in minutes.
    pub minutes: u32,
    /// One invitation per participant.
    pub invitations: Vec<InvitationOut>,
}

/// A planned participant as listed (no link).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ParticipantOut {
    /// The invitation's id.
    pub id: Uuid,
    /// The room's participant id.
    pub participant: String,
    /// The role.
    pub role: String,
    /// Host.
    pub host: bool,
    /// The person (personnel or patient id).
    pub person: Uuid,
    /// Their name as the organisation knows it.
    pub name: String,
    /// Whether the invitation was revoked.
    pub revoked: bool,
    /// When it expires.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// A consultation as listed.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ConsultationOut {
    /// Id.
    pub id: Uuid,
    /// Kind.
    pub kind: String,
    /// The patient it is about.
    pub patient: Uuid,
    /// Planned start.
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    /// Planned length in minutes.
    pub minutes: u32,
    /// `scheduled`, `open` (people wait in a live room, no host yet), `in-progress` (a host is
    /// in), `ended` or `cancelled`.
    pub state: String,
    /// The planned participants.
    pub participants: Vec<ParticipantOut>,
}

/// The link of an invitation token.
pub fn invitation_url(base: &str, org: &trygg_core::OrgSlug, secret: &Secret) -> String {
    format!(
        "{}/join/{}.{}",
        base.trim_end_matches('/'),
        org,
        secret.expose()
    )
}

/// The organisation, for a person (another organisation's name answers as unknown) or the
/// console.
async fn org_of(
    app: &App,
    planner: Planner<'_>,
    slug: &str,
    now: OffsetDateTime,
) -> Result<Arc<OrgStore>, AppError> {
    match planner {
        Planner::Person(c) => org_for(app, c, slug, now).await,
        Planner::Console => crate::operator::org(app, slug).await,
    }
}

/// Opens the unit of work: for a person, decided by the access rule (`consultation-manage`),
/// with the refusal audited; for the console, as the operator.
async fn begin<'a>(
    org: &'a OrgStore,
    planner: Planner<'_>,
    patient: Option<Uuid>,
    now: OffsetDateTime,
) -> Result<(OrgTx<'a>, Actor, Basis), AppError> {
    match planner {
        Planner::Person(c) => {
            let (tx, ok) = authorize(org, c, Permission::ConsultationManage, patient, now).await?;
            Ok((tx, ok.actor, ok.basis))
        }
        Planner::Console => Ok((
            org.begin().await?,
            Actor::system(crate::operator::CONSOLE),
            Basis::None,
        )),
    }
}

fn did(operation: Operation, action: Action, consultation: Uuid, patient: Uuid) -> Did {
    Did::new(
        Category::Access,
        operation,
        action,
        ("Consultation", Some(consultation.to_string())),
    )
    .patient(Some(patient))
}

fn bad(code: &'static str, detail: impl Into<String>) -> AppError {
    AppError::invalid(code, detail)
}

/// A patient by id or national identity number.
async fn resolve_patient(tx: &mut OrgTx<'_>, s: &str) -> Result<Uuid, AppError> {
    let s = s.trim();
    let missing = || AppError::not_found("TR-K404", "no such patient");
    if let Ok(id) = Uuid::parse_str(s) {
        return tx.patient(id).await?.map(|p| p.id).ok_or_else(missing);
    }
    let nid = NationalId::parse(s).map_err(|e| {
        if s.len() == 11 && s.bytes().all(|b| b.is_ascii_digit()) {
            // Eleven digits: meant as a national identity number; say what is wrong with it.
            bad("TR-K002", e.to_string())
        } else {
            bad(
                "TR-K002",
                "a patient is named by their id or national identity number",
            )
        }
    })?;
    tx.patient_by_national_id(&nid)
        .await?
        .map(|p| p.id)
        .ok_or_else(missing)
}

/// A person on the staff whose employment has not ended.
async fn resolve_personnel(
    tx: &mut OrgTx<'_>,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<Uuid, AppError> {
    match tx.employment_end(id).await? {
        None => Err(AppError::not_found(
            "TR-K405",
            "no such person on the staff",
        )),
        Some(Some(end)) if end <= now.unix_timestamp() => Err(AppError::conflict(
            "TR-K406",
            "this person's employment has ended",
        )),
        Some(_) => Ok(id),
    }
}

/// Whether a person registered in `profession` may take a consultation seat of `role`: a
/// clinician's seat needs a health profession, an interpreter's an interpreter (the roster shows
/// the seat's role, so it must be true, VC-INT-1); other personnel may be anyone on the staff.
async fn check_seat(tx: &mut OrgTx<'_>, id: Uuid, role: Role) -> Result<(), AppError> {
    use trygg_core::BuiltinRole as B;
    let profession = tx.personnel_role(id).await?;
    let fits = match role {
        Role::Clinician => matches!(
            profession,
            Some(B::Doctor | B::Nurse | B::Psychologist | B::Physiotherapist)
        ),
        Role::Interpreter => matches!(profession, Some(B::Interpreter)),
        _ => true,
    };
    if !fits {
        return Err(AppError::conflict(
            "TR-K013",
            format!(
                "this person's role on the staff does not fit the seat of {}",
                role.code()
            ),
        ));
    }
    Ok(())
}

/// Resolves one participant.
async fn resolve(
    tx: &mut OrgTx<'_>,
    p: &ParticipantIn,
    now: OffsetDateTime,
) -> Result<(Role, Person), AppError> {
    let role = Role::from_code(p.role.trim()).ok_or_else(|| {
        bad(
            "TR-K003",
            "a role is one of patient, clinician, interpreter, companion, other-personnel",
        )
    })?;
    let person = if role.is_personnel() {
        let id = Uuid::parse_str(p.person.trim())
            .map_err(|_| bad("TR-K004", "personnel are named by their personnel id"))?;
        let id = resolve_personnel(tx, id, now).await?;
        check_seat(tx, id, role).await?;
        Person::Personnel(id)
    } else {
        Person::Patient(resolve_patient(tx, &p.person).await?)
    };
    Ok((role, person))
}

fn person_id(p: Person) -> Uuid {
    match p {
        Person::Personnel(u) | Person::Patient(u) => u,
    }
}

fn invitation_out(
    base: &str,
    org: &OrgStore,
    row: &ParticipantRow,
    name: String,
    secret: &Secret,
) -> InvitationOut {
    InvitationOut {
        id: row.id,
        role: row.role.clone(),
        participant: format!("p{}", row.number),
        person: person_id(row.person),
        name,
        url: invitation_url(base, &org.organisation().slug, secret),
        expires_at: row.expires_at,
    }
}

/// Plans a consultation and issues one invitation per participant.
pub async fn create(
    app: &App,
    planner: Planner<'_>,
    org: &str,
    input: ConsultationIn,
    base: &str,
    now: OffsetDateTime,
) -> Result<Created, AppError> {
    let org = org_of(app, planner, org, now).await?;
    let minutes = input.minutes.unwrap_or(30);
    if !(5..=480).contains(&minutes) {
        return Err(bad("TR-K005", "minutes must be between 5 and 480"));
    }
    let start = input.start.unwrap_or(now);
    if start < now - time::Duration::hours(1) || start > now + time::Duration::days(400) {
        return Err(bad(
            "TR-K006",
            "the start must be within the next 400 days (or the last hour)",
        ));
    }
    let clinician_only = match input.kind.as_deref().map(str::trim) {
        None => false,
        Some("clinician-only") => true,
        Some(k) if ConsultationKind::from_code(k).is_some() => false,
        Some(_) => return Err(bad("TR-K007", "unknown consultation kind")),
    };
    if input.participants.len() > 32 {
        return Err(bad("TR-K008", "at most 32 further participants"));
    }
    let (mut tx, actor, basis) = begin(&org, planner, None, now).await?;
    let patient = resolve_patient(&mut tx, &input.patient).await?;
    let host = resolve_personnel(&mut tx, input.host, now).await?;
    check_seat(&mut tx, host, Role::Clinician).await?;
    // The host admits the others, so they must hold the right to (VC-CONF-1); the room asks
    // the access rule again at every admission.
    let subject = tx.subject(host).await?;
    let t = now.unix_timestamp();
    // Both rights: to admit (`consultation-manage`) and to take part (`consultation-join`; a
    // secretary books but does not host).
    let holds = |p| {
        subject
            .as_ref()
            .is_some_and(|s| trygg_core::access::decide(s, p, None, t).is_ok())
    };
    if !holds(Permission::ConsultationManage) || !holds(Permission::ConsultationJoin) {
        return Err(AppError::conflict(
            "TR-K009",
            "the host must hold the right to manage consultations and to take part in them \
             (consultation-manage, consultation-join)",
        ));
    }
    let mut planned: Vec<(Role, bool, Person)> =
        vec![(Role::Clinician, true, Person::Personnel(host))];
    if !clinician_only {
        planned.push((Role::Patient, false, Person::Patient(patient)));
    }
    if let Some(i) = input.interpreter {
        let i = resolve_personnel(&mut tx, i, now).await?;
        check_seat(&mut tx, i, Role::Interpreter).await?;
        planned.push((Role::Interpreter, false, Person::Personnel(i)));
    }
    for p in &input.participants {
        let (role, person) = resolve(&mut tx, p, now).await?;
        if clinician_only && role == Role::Patient {
            return Err(bad(
                "TR-K010",
                "a clinician-only consultation has no patient taking part",
            ));
        }
        planned.push((role, false, person));
    }
    let roles: Vec<Role> = planned.iter().map(|p| p.0).collect();
    let kind = if clinician_only {
        ConsultationKind::ClinicianOnly
    } else {
        ConsultationKind::from_roles(&roles)
    };
    let c = tx
        .create_consultation(
            &NewConsultation {
                kind: kind.code().to_owned(),
                patient,
                starts_at: start,
                minutes,
                created_by: actor.id.clone(),
            },
            now,
        )
        .await?;
    let expires = trygg_identity::invitation::expiry(start, minutes);
    let slug = org.organisation().slug.clone();
    let mut invitations = Vec::new();
    for (role, host, person) in planned {
        let (row, secret) = tx
            .add_participant(
                c.id,
                NewParticipant {
                    role: role.code(),
                    host,
                    person,
                },
                expires,
                now,
            )
            .await?;
        let e = event(
            &slug,
            &actor,
            did(Operation::ConsultationInvite, Action::Create, c.id, patient).basis(basis.clone()),
            now,
        )?;
        tx.audit(&e).await?;
        let name = names(&mut tx, std::slice::from_ref(&row))
            .await?
            .into_iter()
            .next()
            .unwrap_or_default();
        invitations.push(invitation_out(base, &org, &row, name, &secret));
    }
    // Issue #12: the patient's link as a notice, queued with the consultation (the outbox).
    if let Some(channel) = input.notify.as_deref() {
        let channel = trygg_core::notice::Channel::parse(channel)
            .ok_or_else(|| bad("TR-K012", "notify is sms or email"))?;
        let link = invitations
            .iter()
            .find(|i| i.role == Role::Patient.code())
            .map(|i| i.url.clone())
            .ok_or_else(|| {
                bad(
                    "TR-K013",
                    "the patient does not take part: nobody to notify",
                )
            })?;
        let params = trygg_core::notice::Params {
            when: Some(trygg_core::local_time::oslo_text(start)),
            link: Some(link),
            ..Default::default()
        };
        let queued = crate::notices::queue_automatic(
            app,
            &mut tx,
            org.organisation(),
            patient,
            trygg_core::notice::Kind::ConsultationInvitation,
            channel,
            None,
            &params,
            &actor,
            now,
        )
        .await?;
        if queued.is_none() {
            return Err(AppError::conflict(
                "TR-K014",
                format!(
                    "the invitation cannot go by {}: the channel is not configured, the patient                      has not consented to appointment notices on it or has no contact data for                      it, the sender name does not fit, or the link is not https on a named host                      (public_url). Nothing was planned; plan without notify and hand the link                      over another way",
                    channel.as_str()
                ),
            ));
        }
    }
    audit_commit(
        tx,
        &org,
        &actor,
        did(Operation::ConsultationCreate, Action::Create, c.id, patient).basis(basis),
        now,
    )
    .await?;
    Ok(Created {
        id: c.id,
        kind: kind.code().to_owned(),
        start,
        minutes,
        invitations,
    })
}

/// The consultation, or the one not-found answer.
async fn consultation(tx: &mut OrgTx<'_>, id: Uuid) -> Result<ConsultationRow, AppError> {
    tx.consultation(id)
        .await?
        .ok_or_else(|| AppError::not_found("TR-K404", "no such consultation"))
}

fn not_over(c: &ConsultationRow) -> Result<(), AppError> {
    if c.state != "scheduled" {
        return Err(AppError::conflict("TR-K411", "the consultation is over"));
    }
    Ok(())
}

/// Invites one more participant, or (with `renew`) gives an invitation a new link, which
/// revokes its old one and lifts a revocation.
pub async fn invite(
    app: &App,
    planner: Planner<'_>,
    org: &str,
    id: Uuid,
    who: Invitee,
    base: &str,
    now: OffsetDateTime,
) -> Result<InvitationOut, AppError> {
    let org = org_of(app, planner, org, now).await?;
    let (mut tx, actor, basis) = begin(&org, planner, None, now).await?;
    let c = consultation(&mut tx, id).await?;
    not_over(&c)?;
    let expires = trygg_identity::invitation::expiry(c.starts_at, c.minutes);
    let (row, secret) = match who {
        Invitee::New(p) => {
            let (role, person) = resolve(&mut tx, &p, now).await?;
            if c.kind == ConsultationKind::ClinicianOnly.code() && role == Role::Patient {
                return Err(bad(
                    "TR-K010",
                    "a clinician-only consultation has no patient taking part",
                ));
            }
            tx.add_participant(
                id,
                NewParticipant {
                    role: role.code(),
                    host: false,
                    person,
                },
                expires,
                now,
            )
            .await?
        }
        Invitee::Renew(pid) => {
            let row = tx
                .participants(id)
                .await?
                .into_iter()
                .find(|p| p.id == pid)
                .ok_or_else(|| AppError::not_found("TR-K404", "no such invitation"))?;
            let secret = tx.reissue_invitation(pid, expires, now).await?;
            (
                ParticipantRow {
                    invited_at: now,
                    expires_at: expires,
                    revoked_at: None,
                    ..row
                },
                secret,
            )
        }
    };
    let e = event(
        &org.organisation().slug,
        &actor,
        did(Operation::ConsultationInvite, Action::Create, id, c.patient).basis(basis),
        now,
    )?;
    tx.audit(&e).await?;
    let name = names(&mut tx, std::slice::from_ref(&row))
        .await?
        .into_iter()
        .next()
        .unwrap_or_default();
    tx.commit().await?;
    // A renewed invitation's holder, if connected with the old link, is disconnected.
    app.rooms.kick(org.organisation().id, id, row.number).await;
    Ok(invitation_out(base, &org, &row, name, &secret))
}

/// Whom [`invite`] invites.
#[derive(Debug, Clone)]
pub enum Invitee {
    /// A new participant.
    New(ParticipantIn),
    /// A new link for an existing invitation (by its id).
    Renew(Uuid),
}

/// Revokes an invitation at once: the link stops working, and its holder, if connected, is
/// disconnected and cannot come back.
pub async fn revoke(
    app: &App,
    planner: Planner<'_>,
    org: &str,
    id: Uuid,
    invitation: Uuid,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let org = org_of(app, planner, org, now).await?;
    let (mut tx, actor, basis) = begin(&org, planner, None, now).await?;
    let c = consultation(&mut tx, id).await?;
    let row = tx
        .participants(id)
        .await?
        .into_iter()
        .find(|p| p.id == invitation)
        .ok_or_else(|| AppError::not_found("TR-K404", "no such invitation"))?;
    tx.revoke_invitation(invitation, now).await?;
    audit_commit(
        tx,
        &org,
        &actor,
        did(Operation::ConsultationRevoke, Action::Update, id, c.patient).basis(basis),
        now,
    )
    .await?;
    app.rooms.kick(org.organisation().id, id, row.number).await;
    Ok(())
}

/// The names of a consultation's participants as the organisation knows them, by number (an
/// access to personal data: the caller audits it).
pub(crate) async fn names(
    tx: &mut OrgTx<'_>,
    rows: &[ParticipantRow],
) -> Result<Vec<String>, AppError> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let name = match r.person {
            Person::Personnel(id) => tx.personnel_name(id).await?.map(|n| n.expose().to_owned()),
            Person::Patient(id) => tx.patient(id).await?.map(|p| p.name.expose().to_owned()),
        };
        out.push(name.unwrap_or_else(|| "?".to_owned()));
    }
    Ok(out)
}

/// Lists the consultations planned to start in `[from, to)` with their participants; one audit
/// entry per consultation, naming its patient.
pub async fn list(
    app: &App,
    planner: Planner<'_>,
    org: &str,
    from: OffsetDateTime,
    to: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<Vec<ConsultationOut>, AppError> {
    if to <= from || to - from > time::Duration::days(400) {
        return Err(bad("TR-K011", "the period must be at most 400 days"));
    }
    let org = org_of(app, planner, org, now).await?;
    let (mut tx, actor, basis) = begin(&org, planner, None, now).await?;
    let rows = tx.consultations_between(from, to).await?;
    if rows.is_empty() {
        // Nothing listed, no personal data seen: nothing to log.
        drop(tx);
        return Ok(Vec::new());
    }
    let slug = org.organisation().slug.clone();
    let mut out = Vec::with_capacity(rows.len());
    for c in rows {
        let parts = tx.participants(c.id).await?;
        let names = names(&mut tx, &parts).await?;
        let e = event(
            &slug,
            &actor,
            did(Operation::ConsultationList, Action::Read, c.id, c.patient).basis(basis.clone()),
            now,
        )?;
        tx.audit(&e).await?;
        let live = app.rooms.live_state(org.organisation().id, c.id);
        out.push(ConsultationOut {
            id: c.id,
            kind: c.kind,
            patient: c.patient,
            start: c.starts_at,
            minutes: c.minutes,
            state: match live {
                Some(l) if c.state == "scheduled" => l.to_owned(),
                _ => c.state,
            },
            participants: parts
                .into_iter()
                .zip(names)
                .map(|(p, name)| ParticipantOut {
                    id: p.id,
                    participant: format!("p{}", p.number),
                    role: p.role,
                    host: p.host,
                    person: person_id(p.person),
                    name,
                    revoked: p.revoked_at.is_some(),
                    expires_at: p.expires_at,
                })
                .collect(),
        });
    }
    tx.commit().await?;
    Ok(out)
}

/// A consultation as its own participant on the staff sees it (issue #14: an interpreter's own
/// list): when, how long, their role, and whether they can go in now.
#[derive(Debug, Clone)]
pub struct MyPlace {
    /// The consultation.
    pub id: Uuid,
    /// Planned start.
    pub start: OffsetDateTime,
    /// Planned length, minutes.
    pub minutes: u32,
    /// Their role's code.
    pub role: String,
    /// Planned, not over, their place not withdrawn.
    pub open: bool,
}

/// The consultations `caller` takes part in, from twelve hours ago to thirty days ahead:
/// `consultation-join` in force (at its minimum level); one audit entry per consultation, naming
/// its patient. Names of the others are not read.
pub async fn my_places(
    app: &App,
    caller: &Caller,
    org: &str,
    now: OffsetDateTime,
) -> Result<Vec<MyPlace>, AppError> {
    let org = org_for(app, caller, org, now).await?;
    let (mut tx, ok) = authorize(&org, caller, Permission::ConsultationJoin, None, now).await?;
    let me = trygg_store::consultations::Person::Personnel(caller.personnel_id);
    let rows = tx
        .consultations_of(
            me,
            now - time::Duration::hours(12),
            now + time::Duration::days(30),
        )
        .await?;
    if rows.is_empty() {
        drop(tx);
        return Ok(Vec::new());
    }
    let slug = org.organisation().slug.clone();
    for (c, _) in &rows {
        let d =
            did(Operation::ConsultationRead, Action::Read, c.id, c.patient).basis(ok.basis.clone());
        tx.audit(&event(&slug, &ok.actor, d, now)?).await?;
    }
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(c, p)| MyPlace {
            id: c.id,
            start: c.starts_at,
            minutes: c.minutes,
            open: c.state == "scheduled" && p.revoked_at.is_none() && p.expires_at > now,
            role: p.role,
        })
        .collect())
}

/// A fresh link for `caller`'s own place in consultation `id` (the one they were sent stops
/// working; logged as an invitation): `consultation-join` in force. The token.
pub async fn my_link(
    app: &App,
    caller: &Caller,
    org: &str,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<String, AppError> {
    let org = org_for(app, caller, org, now).await?;
    let (mut tx, ok) = authorize(&org, caller, Permission::ConsultationJoin, None, now).await?;
    let not_yours = || AppError::not_found("TR-K020", "no such consultation of yours");
    let c = tx.consultation(id).await?.ok_or_else(not_yours)?;
    let me = trygg_store::consultations::Person::Personnel(caller.personnel_id);
    let part = tx
        .participants(id)
        .await?
        .into_iter()
        .find(|p| p.person == me && p.revoked_at.is_none())
        .ok_or_else(not_yours)?;
    if c.state != "scheduled" || part.expires_at <= now {
        return Err(not_yours());
    }
    let secret = tx.reissue_invitation(part.id, part.expires_at, now).await?;
    let d = did(
        Operation::ConsultationInvite,
        Action::Update,
        c.id,
        c.patient,
    )
    .basis(ok.basis);
    tx.audit(&event(&org.organisation().slug, &ok.actor, d, now)?)
        .await?;
    tx.commit().await?;
    Ok(format!("{}.{}", org.organisation().slug, secret.expose()))
}

/// Ends a consultation for everyone: a live room is told at once (every client sees the end,
/// risk 1e) and keeps its journal note; one that never started is cancelled. Either way its
/// invitations stop working.
pub async fn end(
    app: &App,
    planner: Planner<'_>,
    org: &str,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<String, AppError> {
    let org = org_of(app, planner, org, now).await?;
    let (mut tx, actor, basis) = begin(&org, planner, None, now).await?;
    let c = consultation(&mut tx, id).await?;
    not_over(&c)?;
    if app.rooms.is_live(org.organisation().id, id) {
        // The room records the end (with its journal) itself; this entry says who asked.
        audit_commit(
            tx,
            &org,
            &actor,
            did(Operation::ConsultationEnd, Action::Update, id, c.patient).basis(basis),
            now,
        )
        .await?;
        app.rooms.terminate(org.organisation().id, id).await;
        return Ok("ended".to_owned());
    }
    tx.finish_consultation(id, "cancelled", &actor.id, None, now)
        .await?;
    audit_commit(
        tx,
        &org,
        &actor,
        did(Operation::ConsultationCancel, Action::Update, id, c.patient).basis(basis),
        now,
    )
    .await?;
    Ok("cancelled".to_owned())
}

/// The draft journal note of an ended consultation (VC-LOG-1): `{"text": ..., "fhir": {...}}`.
/// Reading it is an access to the patient's health data: a person needs `health-read` with a
/// care relationship (or emergency access).
pub async fn journal(
    app: &App,
    planner: Planner<'_>,
    org: &str,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<serde_json::Value, AppError> {
    let org = org_of(app, planner, org, now).await?;
    // The patient is needed for the access decision: read it first without personal data.
    let patient = {
        let mut tx = org.begin().await?;
        let c = tx.consultation(id).await?;
        drop(tx);
        c.map(|c| c.patient)
            .ok_or_else(|| AppError::not_found("TR-K404", "no such consultation"))?
    };
    let (mut tx, actor, basis) = match planner {
        Planner::Person(c) => {
            let (tx, ok) = authorize(&org, c, Permission::HealthRead, Some(patient), now).await?;
            (tx, ok.actor, ok.basis)
        }
        Planner::Console => begin(&org, planner, None, now).await?,
    };
    let note = tx
        .consultation_journal(id)
        .await?
        .ok_or_else(|| AppError::conflict("TR-K412", "the consultation has not ended"))?;
    audit_commit(
        tx,
        &org,
        &actor,
        did(Operation::ConsultationJournal, Action::Read, id, patient).basis(basis),
        now,
    )
    .await?;
    serde_json::from_str(&note).map_err(|e| AppError::internal("TR-K500", e))
}
