//! Secure message threads between a patient and the care team (issue #12, PC-READ-1, PC-STORE-1,
//! PC-RIGHTS-2, PC-AVAIL-1, PC-EMERG-1, PC-CHAN-1), and the two jobs that keep them: escalation of
//! unread messages and deletion of expired ones. Personnel read a patient's messages through the
//! access rule's `health-read` (a care relationship or emergency access) and write through
//! `health-write`, decided live in the unit of work that reads or writes; the patient reads and
//! writes only their own threads, at assurance *high* (PC-AUTHN-2). Every read is in the
//! patient's access log; every message to the patient queues its "you have a new message" notice
//! in the same unit (the transactional outbox); a message still unread after
//! `message_escalate_after_hours` gets a notice on another channel or a task for personnel.
//! Follow-up tasks (an unread message, a notice that could not be delivered) are listed and
//! closed here too.

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine as _;
use time::OffsetDateTime;
use trygg_audit::{Action, Assurance, Basis, Category};
use trygg_core::message::{self as rules, MessageError};
use trygg_core::notice::{Channel, Kind};
use trygg_core::{Lang, Operation, OrgSlug};
use trygg_store::messages::{MessageRow, NewAttachment, NewMessage, Owned, TaskRow, ThreadRow};
use uuid::Uuid;

use crate::access::Caller;
use crate::audit::{Actor, Did};
use crate::context::App;
use crate::error::AppError;

/// A patient signed in to the portal (ID-porten), acting on their own threads.
#[derive(Debug, Clone)]
pub struct PatientCaller {
    /// The organisation whose portal they use.
    pub org: OrgSlug,
    /// Their patient id there.
    pub patient: Uuid,
    /// How they authenticated (a code for the audit log).
    pub method: &'static str,
    /// At what assurance level.
    pub assurance: Assurance,
    /// The client's address.
    pub address: Option<IpAddr>,
}

impl PatientCaller {
    pub(crate) fn actor(&self) -> Actor {
        Actor {
            kind: trygg_audit::AgentKind::Patient,
            id: format!("patient:{}", self.patient),
            role: None,
            authentication: Some((self.method, self.assurance)),
            address: self.address,
        }
    }
}

/// Who acts on a thread.
#[derive(Clone, Copy)]
pub enum Who<'a> {
    /// A person of the organisation, through the access rule.
    Person(&'a Caller),
    /// The patient, on their own threads.
    Patient(&'a PatientCaller),
}

/// An attachment as sent: its name, media type and content (base64).
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentIn {
    /// The file name shown.
    pub name: String,
    /// `application/pdf`, `image/png`, `image/jpeg` or `text/plain`.
    pub media_type: String,
    /// The content, base64.
    pub data: String,
}

/// A message to post.
#[derive(Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageIn {
    /// The text.
    pub body: String,
    /// Attachments, at most five.
    #[serde(default)]
    pub attachments: Vec<AttachmentIn>,
}

impl std::fmt::Debug for MessageIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageIn")
            .field("attachments", &self.attachments.len())
            .finish_non_exhaustive()
    }
}

/// A new thread: its subject and first message.
#[derive(Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreadIn {
    /// The subject.
    pub subject: String,
    /// The first message.
    pub body: String,
    /// Attachments, at most five.
    #[serde(default)]
    pub attachments: Vec<AttachmentIn>,
}

impl std::fmt::Debug for ThreadIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadIn").finish_non_exhaustive()
    }
}

/// A posted message.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Posted {
    /// The thread.
    #[schema(value_type = String)]
    pub thread: Uuid,
    /// The message.
    #[schema(value_type = String)]
    pub message: Uuid,
    /// The channel of the "new message" notice queued with it, if one could be.
    pub notified: Option<String>,
}

/// What every view of threads carries besides them: the urgent line (PC-EMERG-1) and the
/// channel statement (PC-CHAN-1).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Notices {
    /// "Urgent? Phone us, or 113."
    pub emergency: &'static str,
    /// Which channels the organisation answers on.
    pub channels: &'static str,
}

impl Notices {
    fn new(lang: Lang) -> Self {
        Self {
            emergency: rules::emergency_notice(lang),
            channels: rules::channel_statement(lang),
        }
    }
}

/// A patient's threads.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ThreadsOut {
    /// Newest first.
    #[schema(value_type = [Object])]
    pub threads: Vec<ThreadRow>,
    /// The lines every compose view shows.
    pub notices: Notices,
}

/// One thread, read.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ThreadOut {
    /// The thread.
    #[schema(value_type = Object)]
    pub thread: ThreadRow,
    /// Its messages, oldest first.
    #[schema(value_type = [Object])]
    pub messages: Vec<MessageRow>,
    /// The lines every compose view shows.
    pub notices: Notices,
}

fn invalid(e: MessageError) -> AppError {
    AppError::invalid("TR-T001", e.to_string())
}

fn no_thread() -> AppError {
    AppError::not_found("TR-T004", "no such thread")
}

/// The checked attachments, decoded.
fn attachments(input: &[AttachmentIn]) -> Result<Vec<(String, String, Vec<u8>)>, AppError> {
    if input.len() > rules::MAX_ATTACHMENTS {
        return Err(invalid(MessageError::TooManyAttachments));
    }
    input
        .iter()
        .map(|a| {
            // Bounded before decoding: base64 is 4/3 of the content.
            if a.data.len() > rules::MAX_ATTACHMENT_BYTES / 3 * 4 + 8 {
                return Err(invalid(MessageError::AttachmentSize));
            }
            let data = base64::engine::general_purpose::STANDARD
                .decode(a.data.trim())
                .map_err(|_| AppError::invalid("TR-T002", "an attachment is not base64"))?;
            let (kind, name) = rules::attachment(&a.name, &a.media_type, &data).map_err(invalid)?;
            Ok((kind.as_str().to_owned(), name, data))
        })
        .collect()
}

/// The organisation's store for `who`; another organisation answers like an unknown one.
async fn org_of(
    state: &App,
    who: Who<'_>,
    slug: &str,
    now: OffsetDateTime,
) -> Result<Arc<trygg_store::OrgStore>, AppError> {
    match who {
        Who::Person(c) => crate::access::org_for(state, c, slug, now).await,
        Who::Patient(p) => crate::portal::patient_org(state, p, slug).await,
    }
}

/// A unit of work for `who`'s access to `patient`'s messages: the access rule's decision for a
/// person; for the patient, their own threads only at assurance *high*.
async fn unit<'a>(
    h: &'a trygg_store::OrgStore,
    who: Who<'_>,
    permission: trygg_core::access::Permission,
    patient: Uuid,
    now: OffsetDateTime,
) -> Result<(trygg_store::OrgTx<'a>, Actor, Basis), AppError> {
    match who {
        Who::Person(c) => {
            let (tx, ok) = crate::access::authorize(h, c, permission, Some(patient), now).await?;
            Ok((tx, ok.actor, ok.basis))
        }
        Who::Patient(p) => {
            if p.patient != patient {
                return Err(no_thread());
            }
            // Health data needs high (PC-AUTHN-2); a portal session at substantial is sent to
            // step-up login by the portal.
            if p.assurance < Assurance::High {
                return Err(AppError::forbidden(
                    "TR-T003",
                    "messages need a login of assurance high (ID-porten)",
                ));
            }
            Ok((h.begin().await?, p.actor(), Basis::None))
        }
    }
}

/// The patient a thread is with (read without the access decision, which needs it: an unknown
/// thread is "no such thread" to everyone).
async fn thread_patient(h: &trygg_store::OrgStore, thread: Uuid) -> Result<Uuid, AppError> {
    h.owner(Owned::Thread, thread).await?.ok_or_else(no_thread)
}

#[allow(clippy::too_many_arguments)]
fn event(
    o: &trygg_store::Organisation,
    actor: &Actor,
    basis: &Basis,
    op: Operation,
    action: Action,
    what: (&'static str, Uuid),
    patient: Uuid,
    detail: Option<String>,
    now: OffsetDateTime,
) -> Result<trygg_audit::AuditEvent, AppError> {
    crate::audit::event(
        &o.slug,
        actor,
        Did::new(
            Category::Access,
            op,
            action,
            (what.0, Some(what.1.to_string())),
        )
        .patient(Some(patient))
        .detail(detail)
        .basis(basis.clone()),
        now,
    )
}

/// Starts a thread with a patient: by a person with `health-write` on them, or by the patient.
pub async fn start_thread(
    state: &App,
    who: Who<'_>,
    org: &str,
    patient: Uuid,
    input: ThreadIn,
    now: OffsetDateTime,
) -> Result<Posted, AppError> {
    let h = org_of(state, who, org, now).await?;
    let notices = prepare_new_message(state, &h, who).await?;
    let (mut tx, actor, basis) = unit(
        &h,
        who,
        trygg_core::access::Permission::HealthWrite,
        patient,
        now,
    )
    .await?;
    let subject = rules::subject(&input.subject).map_err(invalid)?;
    let body = rules::body(&input.body).map_err(invalid)?;
    let files = attachments(&input.attachments)?;
    if tx.patient(patient).await?.is_none() {
        return Err(AppError::not_found("TR-M010", "no such patient"));
    }
    let thread = tx.create_thread(patient, &subject, &actor.id, now).await?;
    let posted = post_in(
        &notices, state, &h, &mut tx, who, &actor, &basis, thread, patient, &body, &files, now,
    )
    .await?;
    tx.commit().await?;
    Ok(posted)
}

/// Posts a message in a thread: by a person with `health-write` on its patient, or by the
/// patient.
pub async fn post(
    state: &App,
    who: Who<'_>,
    org: &str,
    thread: Uuid,
    input: MessageIn,
    now: OffsetDateTime,
) -> Result<Posted, AppError> {
    let h = org_of(state, who, org, now).await?;
    let patient = thread_patient(&h, thread).await?;
    let notices = prepare_new_message(state, &h, who).await?;
    let (mut tx, actor, basis) = unit(
        &h,
        who,
        trygg_core::access::Permission::HealthWrite,
        patient,
        now,
    )
    .await?;
    let body = rules::body(&input.body).map_err(invalid)?;
    let files = attachments(&input.attachments)?;
    let posted = post_in(
        &notices, state, &h, &mut tx, who, &actor, &basis, thread, patient, &body, &files, now,
    )
    .await?;
    tx.commit().await?;
    Ok(posted)
}

/// The "new message" notices a message to the patient may queue (e-mail first, then SMS),
/// prepared before the unit of work opens; none for the patient's own messages.
async fn prepare_new_message(
    state: &App,
    h: &trygg_store::OrgStore,
    who: Who<'_>,
) -> Result<Vec<crate::notices::Prepared>, AppError> {
    let mut out = Vec::new();
    if matches!(who, Who::Patient(_)) {
        return Ok(out);
    }
    let channels: Vec<Channel> = [Channel::Email, Channel::Sms]
        .into_iter()
        .filter(|c| crate::notices::configured(state, *c))
        .collect();
    if channels.is_empty() {
        return Ok(out);
    }
    // The settings once for both channels.
    let messaging = state.store.messaging(h.organisation()).await?;
    for channel in channels {
        out.extend(crate::notices::prepare_with(
            state,
            h.organisation(),
            &messaging,
            Kind::NewMessage,
            channel,
            &trygg_core::notice::Params::default(),
        ));
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
async fn post_in(
    notices: &[crate::notices::Prepared],
    state: &App,
    h: &trygg_store::OrgStore,
    tx: &mut trygg_store::OrgTx<'_>,
    who: Who<'_>,
    actor: &Actor,
    basis: &Basis,
    thread: Uuid,
    patient: Uuid,
    body: &str,
    files: &[(String, String, Vec<u8>)],
    now: OffsetDateTime,
) -> Result<Posted, AppError> {
    let o = h.organisation();
    let from_patient = matches!(who, Who::Patient(_));
    // A message to the patient: "you have a new message" in the same unit (e-mail first, then
    // SMS), and its escalation time.
    let notified = crate::notices::queue_first(tx, o, patient, notices, actor, now)
        .await?
        .map(|(_, p)| p.channel_code());
    // Both ways (PC-READ-1): a message to the patient escalates to another channel or a task;
    // one from the patient that nobody in the care team reads escalates to a task.
    let escalate_at = Some(rules::escalation_due(
        now,
        time::Duration::hours(i64::from(state.config.message_escalate_after_hours)),
    ));
    let atts: Vec<NewAttachment<'_>> = files
        .iter()
        .map(|(t, n, d)| NewAttachment {
            media_type: t,
            name: n,
            data: d,
        })
        .collect();
    let id = tx
        .add_message(
            &NewMessage {
                thread,
                patient,
                author: &actor.id,
                from_patient,
                body,
                attachments: &atts,
                notified,
                escalate_at,
                expires_at: rules::expires_at(now, state.config.message_retention_days),
            },
            now,
        )
        .await?;
    let e = event(
        o,
        actor,
        basis,
        Operation::MessageSend,
        Action::Create,
        ("message", id),
        patient,
        Some(format!("attachments-{}", files.len())),
        now,
    )?;
    tx.audit(&e).await?;
    Ok(Posted {
        thread,
        message: id,
        notified: notified.map(str::to_owned),
    })
}

/// A patient's threads (subjects and unread counts): `health-read`, logged.
pub async fn threads(
    state: &App,
    who: Who<'_>,
    org: &str,
    patient: Uuid,
    lang: Lang,
    now: OffsetDateTime,
) -> Result<ThreadsOut, AppError> {
    let h = org_of(state, who, org, now).await?;
    let (mut tx, actor, basis) = unit(
        &h,
        who,
        trygg_core::access::Permission::HealthRead,
        patient,
        now,
    )
    .await?;
    let threads = tx.threads(patient).await?;
    let e = event(
        h.organisation(),
        &actor,
        &basis,
        Operation::MessageRead,
        Action::Read,
        ("patient", patient),
        patient,
        Some("threads".into()),
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(ThreadsOut {
        threads,
        notices: Notices::new(lang),
    })
}

/// Reads a thread: `health-read` (or the patient), logged; the other side's unread messages get
/// their read receipt.
pub async fn read_thread(
    state: &App,
    who: Who<'_>,
    org: &str,
    thread: Uuid,
    lang: Lang,
    now: OffsetDateTime,
) -> Result<ThreadOut, AppError> {
    let h = org_of(state, who, org, now).await?;
    let patient = thread_patient(&h, thread).await?;
    let (mut tx, actor, basis) = unit(
        &h,
        who,
        trygg_core::access::Permission::HealthRead,
        patient,
        now,
    )
    .await?;
    // Scenario 25: the receipt says who read it; the other side's messages only.
    let reader_is_patient = matches!(who, Who::Patient(_));
    let newly = tx
        .mark_read(thread, !reader_is_patient, &actor.id, now)
        .await?;
    let t = tx.thread(thread).await?.ok_or_else(no_thread)?;
    let messages = tx.thread_messages(thread).await?;
    let e = event(
        h.organisation(),
        &actor,
        &basis,
        Operation::MessageRead,
        Action::Read,
        ("thread", thread),
        patient,
        Some(format!("newly-read-{}", newly.min(999))),
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(ThreadOut {
        thread: t,
        messages,
        notices: Notices::new(lang),
    })
}

/// An attachment's content: `health-read` (or the patient), logged. Served inline with
/// `Cache-Control: no-store` (PC-AVAIL-1).
pub async fn attachment(
    state: &App,
    who: Who<'_>,
    org: &str,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<trygg_store::messages::Attachment, AppError> {
    let not_found = || AppError::not_found("TR-T005", "no such attachment");
    let h = org_of(state, who, org, now).await?;
    let patient = h
        .owner(Owned::Attachment, id)
        .await?
        .ok_or_else(not_found)?;
    let (mut tx, actor, basis) = unit(
        &h,
        who,
        trygg_core::access::Permission::HealthRead,
        patient,
        now,
    )
    .await
    .map_err(|e| if e.code == "TR-T004" { not_found() } else { e })?;
    let a = tx.attachment(id).await?.ok_or_else(not_found)?;
    let e = event(
        h.organisation(),
        &actor,
        &basis,
        Operation::AttachmentRead,
        Action::Read,
        ("attachment", id),
        patient,
        None,
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(a)
}

/// Files a message to the journal (PC-RIGHTS-2): a person with `health-write`; from then on the
/// message cannot change and is not deleted by retention.
pub async fn file(
    state: &App,
    caller: &Caller,
    org: &str,
    message: Uuid,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let who = Who::Person(caller);
    let h = org_of(state, who, org, now).await?;
    let not_found = || AppError::not_found("TR-T006", "no such message");
    let patient = h
        .owner(Owned::Message, message)
        .await?
        .ok_or_else(not_found)?;
    let (mut tx, actor, basis) = unit(
        &h,
        who,
        trygg_core::access::Permission::HealthWrite,
        patient,
        now,
    )
    .await?;
    tx.file_message(message, &actor.id, now).await?;
    let e = event(
        h.organisation(),
        &actor,
        &basis,
        Operation::MessageFile,
        Action::Update,
        ("message", message),
        patient,
        None,
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(())
}

/// The organisation's follow-up tasks (open ones, or all): anyone with `patient-read` (they
/// name patients by id and a reason code, no content), logged.
pub async fn tasks(
    state: &App,
    caller: &Caller,
    org: &str,
    all: bool,
    now: OffsetDateTime,
) -> Result<Vec<TaskRow>, AppError> {
    let h = crate::access::org_for(state, caller, org, now).await?;
    let (mut tx, ok) = crate::access::authorize(
        &h,
        caller,
        trygg_core::access::Permission::PatientRead,
        None,
        now,
    )
    .await?;
    let rows = tx.tasks(all, 500).await?;
    let e = crate::audit::event(
        &h.organisation().slug,
        &ok.actor,
        Did::new(
            Category::Access,
            Operation::TaskList,
            Action::Read,
            ("task", None),
        )
        .detail(Some(format!("count-{}", rows.len())))
        .basis(ok.basis.clone()),
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(rows)
}

/// Marks a task done (the patient was phoned or a letter sent): `patient-read` on its patient.
pub async fn finish_task(
    state: &App,
    caller: &Caller,
    org: &str,
    task: Uuid,
    now: OffsetDateTime,
) -> Result<TaskRow, AppError> {
    let h = crate::access::org_for(state, caller, org, now).await?;
    let not_found = || AppError::not_found("TR-T007", "no such task");
    let patient = h.owner(Owned::Task, task).await?.ok_or_else(not_found)?;
    let (mut tx, ok) = crate::access::authorize(
        &h,
        caller,
        trygg_core::access::Permission::PatientRead,
        Some(patient),
        now,
    )
    .await?;
    if !tx.finish_task(task, &ok.actor.id, now).await? {
        return Err(AppError::conflict("TR-T008", "the task is done already"));
    }
    let row = tx.task(task).await?.ok_or_else(not_found)?;
    let e = event(
        h.organisation(),
        &ok.actor,
        &ok.basis,
        Operation::TaskDone,
        Action::Update,
        ("task", task),
        patient,
        Some(row.reason.clone()),
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(row)
}

// ---------------------------------------------------------------------------------------------
// The jobs

/// The most messages one job round handles per organisation.
const JOB_BATCH: u32 = 200;

/// What a round of the message jobs did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobRound {
    /// Messages whose content was deleted (PC-STORE-1).
    pub expired: usize,
    /// Messages escalated (PC-READ-1).
    pub escalated: usize,
    /// Notices whose content was deleted after their retention (PC-STORE-1).
    pub notices_emptied: u64,
}

/// Runs the message jobs every `every` until stopped.
pub async fn run_jobs(state: App, every: std::time::Duration) {
    loop {
        if let Err(e) = jobs_round(&state).await {
            tracing::warn!(code = e.code, "the message jobs' round failed");
        }
        tokio::time::sleep(every).await;
    }
}

/// One round of the message jobs over every organisation, at the clock's time.
pub async fn jobs_round(state: &App) -> Result<JobRound, AppError> {
    let mut total = JobRound::default();
    // The organisations open now and those with something due (issue #18).
    for o in state
        .store
        .job_orgs(trygg_store::Job::Messages, state.now(), 256)
        .await?
    {
        let r = match state.store.org_for_job(&o).await {
            Ok(h) => org_jobs(state, &h).await,
            Err(e) => Err(e.into()),
        };
        match r {
            Ok(r) => {
                total.expired += r.expired;
                total.escalated += r.escalated;
                total.notices_emptied += r.notices_emptied;
            }
            Err(e) => tracing::warn!(
                code = e.code,
                "the message jobs could not serve an organisation"
            ),
        }
    }
    Ok(total)
}

async fn org_jobs(state: &App, h: &trygg_store::OrgStore) -> Result<JobRound, AppError> {
    let now = state.now();
    let o = h.organisation().clone();
    let actor = Actor::system("messages");
    let mut out = JobRound::default();
    // Retention: each expired message's content deleted, with its entry, in one unit.
    let mut tx = h.begin().await?;
    for (id, patient) in tx.expired_messages(now, JOB_BATCH).await? {
        if tx.expire_message(id, now).await? {
            let e = event(
                &o,
                &actor,
                &Basis::None,
                Operation::MessageExpire,
                Action::Delete,
                ("message", id),
                patient,
                Some(format!(
                    "retention-{}d",
                    state.config.message_retention_days
                )),
                now,
            )?;
            tx.audit(&e).await?;
            out.expired += 1;
        }
    }
    // The outbox keeps a notice's content only as long as a report or a reply may still come.
    let cutoff = now - time::Duration::days(i64::from(state.config.notice_retention_days));
    out.notices_emptied = tx.purge_notices(cutoff, JOB_BATCH * 5).await?;
    if out.notices_emptied > 0 {
        // One entry for the batch: which notices is in the outbox's rows (emptied, codes
        // kept); the log records that the deletion ran.
        let e = crate::audit::event(
            &o.slug,
            &actor,
            Did::new(
                Category::Access,
                Operation::MessageExpire,
                Action::Delete,
                ("notice", None),
            )
            .detail(Some(format!(
                "notices-emptied-{}",
                out.notices_emptied.min(9999)
            ))),
            now,
        )?;
        tx.audit(&e).await?;
    }
    if out.expired > 0 || out.notices_emptied > 0 {
        tx.commit().await?;
    } else {
        drop(tx);
    }
    // Escalation, one unit per message (one that fails does not hold up the others, nor the
    // retention above): to the patient, a notice on a channel not yet used, else a task for
    // personnel; from the patient, a task (nobody in the care team has read it).
    let mut prepared = Vec::new();
    for channel in [Channel::Sms, Channel::Email] {
        if let Some(p) = crate::notices::prepare_automatic(
            state,
            &o,
            Kind::NewMessage,
            channel,
            &trygg_core::notice::Params::default(),
        )
        .await?
        {
            prepared.push(p);
        }
    }
    let due = {
        let mut tx = h.begin().await?;
        let d = tx.due_escalations(now, JOB_BATCH).await?;
        drop(tx);
        d
    };
    for d in due {
        match escalate(h, &o, &actor, &prepared, &d, now).await {
            Ok(true) => out.escalated += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(code = e.code, "a message could not be escalated"),
        }
    }
    // When this job next needs the organisation, should it close (issue #18); the commit count
    // is read first, so a change after it leaves the job due at once.
    let seen = h.generation();
    let keep = time::Duration::days(i64::from(state.config.notice_retention_days));
    let next = h.next_message_job_due(keep).await?;
    h.job_visited(trygg_store::Job::Messages, seen, next);
    Ok(out)
}

async fn escalate(
    h: &trygg_store::OrgStore,
    o: &trygg_store::Organisation,
    actor: &Actor,
    prepared: &[crate::notices::Prepared],
    due: &trygg_store::messages::DueEscalation,
    now: OffsetDateTime,
) -> Result<bool, AppError> {
    let mut tx = h.begin().await?;
    let mut what = None;
    if !due.from_patient {
        for p in prepared {
            if due.notified.as_deref() == Some(p.channel_code()) {
                continue;
            }
            if crate::notices::queue_prepared(&mut tx, o, due.patient, p, None, actor, now)
                .await?
                .is_some()
            {
                what = Some(format!("notice-{}", p.channel_code()));
                break;
            }
        }
    }
    let what = match what {
        Some(w) => w,
        None => {
            let reason = if due.from_patient {
                "unread-from-patient"
            } else {
                "unread-message"
            };
            tx.create_task(due.patient, reason, Some(due.id), None, now)
                .await?;
            "task".to_owned()
        }
    };
    if !tx.mark_escalated(due.id, &what).await? {
        return Ok(false);
    }
    let e = event(
        o,
        actor,
        &Basis::None,
        Operation::MessageEscalate,
        Action::Update,
        ("message", due.id),
        due.patient,
        Some(what),
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(true)
}
