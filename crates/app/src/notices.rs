//! Notices to patients by SMS and e-mail (issue #12, REQUIREMENTS section 3, PC-CONF-1,
//! PC-CHAN-1): queueing a notice in the transactional outbox, the worker that delivers it, the
//! two channels (SMTP with STARTTLS required, an HTTP SMS gateway in a generic JSON shape or LINK
//! Mobility's), and the gateway's delivery reports.
//!
//! A notice is rendered from a template (`trygg_core::notice`), passes the confidentiality guard
//! (a `block` is refused, a `review` needs a person's confirmation with a reason) and is queued in
//! the same unit of work as its audit entry. The worker claims due notices with a lease, counts
//! the attempt and delivers outside any transaction; the notice's id with the organisation's slug
//! is the idempotency key the gateway sees (`Idempotency-Key`, LINK's `refId`, the e-mail's
//! `Message-ID`), so an attempt repeated after a crash between sending and recording is delivered
//! once by a receiver that honours it. Failures are retried with exponential backoff and jitter;
//! after `MAX_ATTEMPTS`, or a permanent refusal, the notice is `dead` for personnel to act on.
//! Nothing of a notice's content, recipient or the gateway's answer reaches a log: errors are
//! codes.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use trygg_audit::{Action, Basis, Category};
use trygg_core::notice::{self, Channel, Kind, Params, SmsSender, Status};
use trygg_core::{Lang, Operation};
use trygg_store::notices::{NewNotice, NoticeRow, Outcome, OutgoingNotice};
use uuid::Uuid;

use crate::audit::{Actor, Did};
use crate::context::App;
use crate::error::AppError;
use crate::operator::Console;
use crate::orgs::Administrator;

/// Notices one worker round claims per organisation.
const CLAIM: u32 = 64;

/// The longest one attempt may take, every phase included; never longer than the lease less a
/// second, so that a round ends (and its outcomes are recorded) before any of its notices could
/// be claimed again.
fn attempt_timeout(lease_secs: u64) -> Duration {
    Duration::from_secs(lease_secs.saturating_sub(1).clamp(1, 45))
}

/// A notice to send to a registered patient (named apart: the API's path, the CLI's option).
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendIn {
    /// The kind (`appointment-reminder`, `new-message`, …).
    pub kind: String,
    /// `sms` or `email`.
    pub channel: String,
    /// `nb` (default), `nn` or `en`.
    #[serde(default)]
    pub lang: Option<String>,
    /// What the kind's template takes.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: Params,
    /// For a text the guard holds for review: why it may go anyway (recorded).
    #[serde(default)]
    pub confirm_reason: Option<String>,
    /// The consultation an appointment notice is about: needed for a change, whose JA or NEI
    /// by SMS then confirms or cancels it.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub regarding: Option<Uuid>,
}

/// A queued notice.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Queued {
    /// The notice's id.
    #[schema(value_type = String)]
    pub id: Uuid,
    /// `allow`, or `review` when a person confirmed it.
    pub verdict: String,
}

fn parse_lang(s: Option<&str>) -> Result<Lang, AppError> {
    match s {
        None | Some("nb") => Ok(Lang::Nb),
        Some("nn") => Ok(Lang::Nn),
        Some("en") => Ok(Lang::En),
        Some(_) => Err(AppError::invalid("TR-M003", "lang is nb, nn or en")),
    }
}

/// The idempotency key of a notice: the organisation's slug and the notice's id.
pub fn idempotency_key(org: &str, id: Uuid) -> String {
    format!("{org}.{id}")
}

/// The organisation and notice a key names.
pub fn parse_key(key: &str) -> Option<(trygg_core::OrgSlug, Uuid)> {
    let (org, id) = key.rsplit_once('.')?;
    Some((
        trygg_core::OrgSlug::parse(org).ok()?,
        Uuid::parse_str(id).ok()?,
    ))
}

/// Who acts: the console (the deployment's operator, `trygg:cli`) or a signed-in person, whose
/// right is asked of the access rule live (`access::authorize`), like every other access.
#[derive(Clone, Copy)]
pub enum By<'a> {
    /// The console.
    Console(&'a Console),
    /// A person of the organisation.
    Person(&'a crate::access::Caller),
    /// The patient in the portal, about themselves only: their consents (issue #13). Sending
    /// notices is not theirs.
    Patient(&'a crate::messages::PatientCaller),
}

/// The organisation's store, as `by` may name it (for a person: their own organisation; another
/// one answers like an unknown one, and is logged there).
async fn org_of(
    state: &App,
    by: By<'_>,
    org_slug: &str,
    now: OffsetDateTime,
) -> Result<Arc<trygg_store::OrgStore>, AppError> {
    match by {
        By::Console(_) => crate::operator::org(state, org_slug).await,
        By::Person(caller) => crate::access::org_for(state, caller, org_slug, now).await,
        By::Patient(p) => crate::portal::patient_org(state, p, org_slug).await,
    }
}

/// A unit of work for `by`'s access to `patient`: for a person, opened by the access rule's
/// decision that `permission` is allowed now (a refusal is logged and answered 403), so the
/// decision and the access are one unit; with the audit actor and basis for its entries.
async fn unit<'a>(
    h: &'a trygg_store::OrgStore,
    by: By<'_>,
    permission: trygg_core::access::Permission,
    patient: Uuid,
    now: OffsetDateTime,
) -> Result<(trygg_store::OrgTx<'a>, Actor, Basis), AppError> {
    match by {
        By::Console(c) => Ok((h.begin().await?, c.actor(), Basis::None)),
        By::Person(caller) => {
            let (tx, ok) =
                crate::access::authorize(h, caller, permission, Some(patient), now).await?;
            Ok((tx, ok.actor, ok.basis))
        }
        // Their own consents: administrative, so substantial suffices (PC-AUTHN-3).
        By::Patient(p)
            if p.patient == patient && p.assurance >= trygg_audit::Assurance::Substantial =>
        {
            Ok((h.begin().await?, p.actor(), Basis::PatientSelf))
        }
        By::Patient(_) => Err(AppError::forbidden(
            "TR-M060",
            "a patient may change only their own consents, logged in at substantial or high",
        )),
    }
}

/// Queues a notice to a patient, sent by the console (`trygg notice send`) or a person with the
/// right to read the patient's contact data (`patient-read`): the template, the guard, the
/// patient's consent and contact data for the channel.
pub async fn send(
    state: &App,
    by: By<'_>,
    org_slug: &str,
    patient: Uuid,
    input: SendIn,
    now: OffsetDateTime,
) -> Result<Queued, AppError> {
    let mut q = queue(state, by, org_slug, patient, input, 1, now).await?;
    q.pop()
        .ok_or_else(|| AppError::internal("TR-M009", "nothing was queued"))
}

/// [`send`] by the console.
pub async fn send_by_console(
    state: &App,
    console: &Console,
    org_slug: &str,
    patient: Uuid,
    input: SendIn,
    now: OffsetDateTime,
) -> Result<Queued, AppError> {
    send(state, By::Console(console), org_slug, patient, input, now).await
}

/// The most notices [`send_many_by_console`] queues at once.
pub const MAX_REPEAT: u32 = 100_000;

/// Queues `count` identical notices to one patient in one unit of work (`trygg notice send
/// --repeat`): for load and crash tests of the outbox, each notice with its own id, key and
/// audit entry.
pub async fn send_many_by_console(
    state: &App,
    console: &Console,
    org_slug: &str,
    patient: Uuid,
    input: SendIn,
    count: u32,
    now: OffsetDateTime,
) -> Result<Vec<Queued>, AppError> {
    if !(1..=MAX_REPEAT).contains(&count) {
        return Err(AppError::invalid(
            "TR-M008",
            format!("repeat is 1 to {MAX_REPEAT}"),
        ));
    }
    queue(
        state,
        By::Console(console),
        org_slug,
        patient,
        input,
        count,
        now,
    )
    .await
}

async fn queue(
    state: &App,
    by: By<'_>,
    org_slug: &str,
    patient_id: Uuid,
    input: SendIn,
    count: u32,
    now: OffsetDateTime,
) -> Result<Vec<Queued>, AppError> {
    if matches!(by, By::Patient(_)) {
        return Err(AppError::forbidden(
            "TR-M060",
            "notices are sent by the organisation, not by a patient",
        ));
    }
    let h = org_of(state, by, org_slug, now).await?;
    // The access decision first: someone without the right learns nothing of the rest.
    let (mut tx, actor, basis) = unit(
        &h,
        by,
        trygg_core::access::Permission::PatientRead,
        patient_id,
        now,
    )
    .await?;
    let actor = &actor;
    let kind = Kind::parse(&input.kind)
        .ok_or_else(|| AppError::invalid("TR-M001", "unknown kind of notice"))?;
    if kind.system_only() {
        // A code is sent only when the patient asks for one, by the login flow, never by hand;
        // the answer to an SMS reply only by the reply handler.
        return Err(AppError::invalid(
            "TR-M014",
            "one-time codes and answers to replies are sent by Trygg itself only",
        ));
    }
    let channel = Channel::parse(&input.channel)
        .ok_or_else(|| AppError::invalid("TR-M002", "channel is sms or email"))?;
    let lang = parse_lang(input.lang.as_deref())?;
    match channel {
        Channel::Email if state.config.smtp_url.is_none() => {
            return Err(AppError::invalid(
                "TR-M004",
                "e-mail is not configured on this server (smtp_url)",
            ))
        }
        Channel::Sms if state.config.sms_gateway_url.is_none() => {
            return Err(AppError::invalid(
                "TR-M005",
                "SMS is not configured on this server (sms_gateway_url)",
            ))
        }
        _ => {}
    }
    let o = h.organisation();
    let messaging = state.store.messaging(o).await?;
    let sender = messaging
        .sender_name
        .clone()
        .unwrap_or_else(|| o.name.clone());
    if channel == Channel::Sms {
        SmsSender::parse(&sender).map_err(|_| {
            AppError::invalid(
                "TR-M006",
                "the organisation's SMS sender name must be 1 to 11 letters, digits or spaces: \
                 set it with `trygg org messaging --sender-name`",
            )
        })?;
    }
    let rendered = notice::render(kind, lang, channel, &sender, &input.params)
        .map_err(|e| AppError::invalid("TR-M007", e.to_string()))?;
    // The guard reads what the recipient will read: an e-mail's subject with its text.
    let screened_text = match &rendered.subject {
        Some(s) => format!("Emne: {s}\n\n{}", rendered.text),
        None => rendered.text.clone(),
    };
    let ctx = crate::screening::context_for(&state.store, o).await?;
    let guard_channel = match channel {
        Channel::Sms => trygg_guard::Channel::Sms,
        Channel::Email => trygg_guard::Channel::Email,
    };
    let (verdict, review) = match state.guard.clear(guard_channel, &screened_text, &ctx) {
        Ok(_) => ("allow", None::<String>),
        Err(trygg_guard::Held::Blocked(s)) => {
            let reasons: Vec<String> = s.reasons.iter().map(|r| r.to_string()).collect();
            return Err(AppError::invalid(
                "TR-M020",
                format!(
                    "the confidentiality guard blocks this notice ({}): health content belongs \
                     in the portal",
                    reasons.join(", ")
                ),
            ));
        }
        Err(trygg_guard::Held::Review(pending)) => {
            match input.confirm_reason.as_deref().map(str::trim) {
                Some(reason)
                    if !reason.is_empty()
                        && reason.chars().count() <= 200
                        && !reason.chars().any(char::is_control) =>
                {
                    // The person confirms, through the guard's own hook (PC-CONF-1).
                    let cleared = pending.confirm(&actor.id, reason);
                    ("review", cleared.review().map(|(_, r)| r.to_owned()))
                }
                _ => return Err(AppError::conflict(
                    "TR-M021",
                    "the confidentiality guard holds this notice for review: confirm it with a \
                     reason (confirm_reason) if it may go as it is",
                )),
            }
        }
    };
    let patient = tx
        .patient(patient_id)
        .await?
        .ok_or_else(|| AppError::not_found("TR-M010", "no such patient"))?;
    // A two-way change names the appointment its answer reaches: the patient's own, scheduled.
    if kind == Kind::AppointmentChange && input.regarding.is_none() {
        return Err(AppError::invalid(
            "TR-M015",
            "an appointment change names the consultation it moves (regarding)",
        ));
    }
    if let Some(c) = input.regarding {
        let ok = tx
            .consultation(c)
            .await?
            .is_some_and(|c| c.patient == patient_id && c.state == "scheduled");
        if !ok {
            return Err(AppError::invalid(
                "TR-M016",
                "regarding names no scheduled consultation of this patient",
            ));
        }
    }
    // PC-CONSENT-1/2: the patient's consent to this purpose on this channel, as it stands now.
    if let Some(purpose) = kind.purpose() {
        let c = tx
            .consent(patient_id, purpose.as_str(), channel.as_str())
            .await?;
        if !c.is_some_and(|c| c.granted) {
            return Err(AppError::conflict(
                "TR-M013",
                format!(
                    "the patient has not consented to {} by {}: no notice is sent (ask in the \
                     portal, or reach them another way)",
                    purpose.as_str(),
                    channel.as_str()
                ),
            ));
        }
    }
    let recipient = match channel {
        Channel::Sms => patient
            .phone
            .as_ref()
            .map(|p| p.expose().to_owned())
            .ok_or_else(|| AppError::invalid("TR-M011", "the patient has no mobile number"))?,
        Channel::Email => patient
            .email
            .as_ref()
            .map(|e| e.expose().to_owned())
            .ok_or_else(|| AppError::invalid("TR-M012", "the patient has no e-mail address"))?,
    };
    // The review's reason is the reviewer's own words: kept sealed with the notice, not in the
    // log, which records that a person confirmed (the detail `reviewed`).
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let id = tx
            .queue_notice(
                &NewNotice {
                    patient: Some(patient_id),
                    channel: channel.as_str(),
                    kind: kind.as_str(),
                    recipient: &recipient,
                    subject: rendered.subject.as_deref(),
                    body: &rendered.text,
                    sender: &sender,
                    review: review.as_deref().map(|r| (actor.id.as_str(), r)),
                    regarding: input.regarding,
                },
                now,
            )
            .await?;
        let e = crate::audit::event(
            &o.slug,
            actor,
            Did::new(
                Category::Access,
                Operation::NoticeQueue,
                Action::Create,
                ("notice", Some(id.to_string())),
            )
            .patient(Some(patient_id))
            .detail(Some(format!(
                "{}-{}",
                channel.as_str(),
                if verdict == "review" {
                    "reviewed"
                } else {
                    "cleared"
                }
            )))
            .basis(basis.clone()),
            now,
        )?;
        tx.audit(&e).await?;
        out.push(Queued {
            id,
            verdict: verdict.to_owned(),
        });
    }
    tx.commit().await?;
    Ok(out)
}

/// A notice Trygg sends on its own, rendered and cleared by the guard before any unit of work
/// opens (so no lock is held for it): what [`queue_prepared`] puts in the outbox.
#[derive(Clone)]
pub(crate) struct Prepared {
    kind: Kind,
    channel: Channel,
    sender: String,
    subject: Option<String>,
    text: String,
}

impl Prepared {
    /// Its channel's code.
    pub(crate) fn channel_code(&self) -> &'static str {
        self.channel.as_str()
    }
}

/// Prepares a notice Trygg sends on its own (a new message, an escalation, the answer to an
/// SMS reply, an invitation): the channel configured, the sender, the template, the guard.
/// `Ok(None)` when this channel cannot carry it (not configured, a sender that does not fit, a
/// text the guard would hold: no person is there to confirm it).
pub(crate) async fn prepare_automatic(
    state: &App,
    o: &trygg_store::Organisation,
    kind: Kind,
    channel: Channel,
    params: &Params,
) -> Result<Option<Prepared>, AppError> {
    if !configured(state, channel) {
        return Ok(None);
    }
    let messaging = state.store.messaging(o).await?;
    Ok(prepare_with(state, o, &messaging, kind, channel, params))
}

/// Whether this deployment has a way out on `channel` (an SMTP server, an SMS gateway).
pub(crate) fn configured(state: &App, channel: Channel) -> bool {
    match channel {
        Channel::Email => state.config.smtp_url.is_some(),
        Channel::Sms => state.config.sms_gateway_url.is_some(),
    }
}

/// [`prepare_automatic`] with the organisation's messaging settings already read, for a channel
/// that is configured.
pub(crate) fn prepare_with(
    state: &App,
    o: &trygg_store::Organisation,
    messaging: &trygg_store::Messaging,
    kind: Kind,
    channel: Channel,
    params: &Params,
) -> Option<Prepared> {
    let sender = messaging
        .sender_name
        .clone()
        .unwrap_or_else(|| o.name.clone());
    if channel == Channel::Sms && SmsSender::parse(&sender).is_err() {
        return None;
    }
    let rendered = notice::render(kind, Lang::Nb, channel, &sender, params).ok()?;
    let screened = match &rendered.subject {
        Some(s) => format!("Emne: {s}\n\n{}", rendered.text),
        None => rendered.text.clone(),
    };
    let ctx = crate::screening::context_from(o, messaging);
    let guard_channel = match channel {
        Channel::Sms => trygg_guard::Channel::Sms,
        Channel::Email => trygg_guard::Channel::Email,
    };
    if state.guard.clear(guard_channel, &screened, &ctx).is_err() {
        return None;
    }
    Some(Prepared {
        kind,
        channel,
        sender,
        subject: rendered.subject,
        text: rendered.text,
    })
}

/// Queues a prepared notice in the caller's unit of work (the transactional outbox: a new
/// message and its notice commit together), after the patient's consent to its purpose on its
/// channel and their contact data, as they stand in this unit. `Ok(None)` when the patient cannot
/// get it, so the caller tries another channel or makes a task. `to` overrides the registered
/// contact (the number a reply came from).
pub(crate) async fn queue_prepared(
    tx: &mut trygg_store::OrgTx<'_>,
    o: &trygg_store::Organisation,
    patient: Uuid,
    p: &Prepared,
    to: Option<&str>,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<Option<Uuid>, AppError> {
    if let Some(purpose) = p.kind.purpose() {
        let c = tx
            .consent(patient, purpose.as_str(), p.channel.as_str())
            .await?;
        if !c.is_some_and(|c| c.granted) {
            return Ok(None);
        }
    }
    // "You have a new message" once until it has left: ten messages in a row are one SMS.
    if p.kind == Kind::NewMessage && to.is_none() {
        if let Some(waiting) = tx
            .pending_notice(patient, p.kind.as_str(), p.channel.as_str())
            .await?
        {
            return Ok(Some(waiting));
        }
    }
    queue_checked(tx, o, patient, p, to, actor, now).await
}

/// The first of `prepared` (one kind, in order of preference: e-mail, then SMS) that the
/// patient may get, queued as [`queue_prepared`] would, with the consents and waiting notices
/// of every channel read in one statement; the notice and the one it is from.
pub(crate) async fn queue_first<'p>(
    tx: &mut trygg_store::OrgTx<'_>,
    o: &trygg_store::Organisation,
    patient: Uuid,
    prepared: &'p [Prepared],
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<Option<(Uuid, &'p Prepared)>, AppError> {
    let Some(first) = prepared.first() else {
        return Ok(None);
    };
    if prepared.iter().any(|p| p.kind != first.kind) {
        return Err(AppError::internal(
            "TR-N790",
            "notices of one kind are queued together",
        ));
    }
    let purpose = first.kind.purpose();
    let channels: Vec<&str> = prepared.iter().map(|p| p.channel.as_str()).collect();
    let state = tx
        .notice_state(
            patient,
            purpose.map_or("", |p| p.as_str()),
            first.kind.as_str(),
            &channels,
        )
        .await?;
    for (p, (granted, waiting)) in prepared.iter().zip(state) {
        if purpose.is_some() && !granted {
            continue;
        }
        // "You have a new message" once until it has left (as in `queue_prepared`).
        if p.kind == Kind::NewMessage {
            if let Some(w) = waiting {
                return Ok(Some((w, p)));
            }
        }
        if let Some(id) = queue_checked(tx, o, patient, p, None, actor, now).await? {
            return Ok(Some((id, p)));
        }
    }
    Ok(None)
}

/// Queues a notice whose consent (and waiting twin) has been checked: to `to`, or to the
/// patient's contact for the channel (none: nothing queued).
async fn queue_checked(
    tx: &mut trygg_store::OrgTx<'_>,
    o: &trygg_store::Organisation,
    patient: Uuid,
    p: &Prepared,
    to: Option<&str>,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<Option<Uuid>, AppError> {
    let recipient = match to {
        Some(t) => t.to_owned(),
        None => {
            let Some(pt) = tx.patient(patient).await? else {
                return Ok(None);
            };
            let r = match p.channel {
                Channel::Sms => pt.phone.as_ref().map(|v| v.expose().to_owned()),
                Channel::Email => pt.email.as_ref().map(|v| v.expose().to_owned()),
            };
            let Some(r) = r else { return Ok(None) };
            r
        }
    };
    let id = tx
        .queue_notice(
            &NewNotice {
                patient: Some(patient),
                channel: p.channel.as_str(),
                kind: p.kind.as_str(),
                recipient: &recipient,
                subject: p.subject.as_deref(),
                body: &p.text,
                sender: &p.sender,
                review: None,
                regarding: None,
            },
            now,
        )
        .await?;
    let e = crate::audit::event(
        &o.slug,
        actor,
        Did::new(
            Category::Access,
            Operation::NoticeQueue,
            Action::Create,
            ("notice", Some(id.to_string())),
        )
        .patient(Some(patient))
        .detail(Some(format!("{}-{}", p.channel.as_str(), p.kind.as_str()))),
        now,
    )?;
    tx.audit(&e).await?;
    Ok(Some(id))
}

/// [`prepare_automatic`] and [`queue_prepared`] in one, for callers already in their unit.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn queue_automatic(
    state: &App,
    tx: &mut trygg_store::OrgTx<'_>,
    o: &trygg_store::Organisation,
    patient: Uuid,
    kind: Kind,
    channel: Channel,
    to: Option<&str>,
    params: &Params,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<Option<Uuid>, AppError> {
    match prepare_automatic(state, o, kind, channel, params).await? {
        Some(p) => queue_prepared(tx, o, patient, &p, to, actor, now).await,
        None => Ok(None),
    }
}

/// The organisation's newest notices (state only), for personnel and the console.
pub async fn list_by_console(
    state: &App,
    console: &Console,
    org_slug: &str,
    status: Option<&str>,
    limit: u32,
) -> Result<Vec<NoticeRow>, AppError> {
    if let Some(s) = status {
        Status::parse(s).ok_or_else(|| AppError::invalid("TR-M030", "unknown status"))?;
    }
    let h = crate::operator::org(state, org_slug).await?;
    let rows = h.notices(status, limit.clamp(1, 10_000)).await?;
    // The listing names patients (by id) and what was sent them: logged like any listing.
    let e = crate::audit::event(
        &h.organisation().slug,
        &console.actor(),
        Did::new(
            Category::Access,
            Operation::NoticeList,
            Action::Read,
            ("notice", None),
        )
        .detail(Some(format!("count-{}", rows.len()))),
        state.now(),
    )?;
    let mut tx = h.begin().await?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(rows)
}

// ---------------------------------------------------------------------------------------------
// Consent (PC-CONSENT-1/2)

/// A consent given or withdrawn.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentIn {
    /// `appointments`, `portal-notices` or `information`.
    pub purpose: String,
    /// `sms` or `email`.
    pub channel: String,
    /// Given (true) or withdrawn (false).
    pub granted: bool,
    /// The version of the consent text the patient was shown (1 to 40 letters, digits, `.`, `-`).
    pub text_version: String,
}

/// Records a patient's consent, given or withdrawn, through the console (on the patient's word,
/// e.g. at the reception desk). A withdrawal takes effect at once: a notice already queued for
/// that purpose and channel is not sent. Every change is an audit entry in the patient's log.
pub async fn set_consent_by_console(
    state: &App,
    console: &Console,
    org_slug: &str,
    patient: Uuid,
    input: ConsentIn,
    now: OffsetDateTime,
) -> Result<trygg_store::notices::ConsentRow, AppError> {
    set_consent(state, By::Console(console), org_slug, patient, input, now).await
}

/// Records a patient's consent, given or withdrawn, on the patient's word: by the console, or by
/// a person who may change the patient's details (`patient-write`). A withdrawal takes effect at
/// once.
pub async fn set_consent(
    state: &App,
    by: By<'_>,
    org_slug: &str,
    patient: Uuid,
    input: ConsentIn,
    now: OffsetDateTime,
) -> Result<trygg_store::notices::ConsentRow, AppError> {
    let purpose = notice::Purpose::parse(&input.purpose).ok_or_else(|| {
        AppError::invalid(
            "TR-M050",
            "purpose is appointments, portal-notices or information",
        )
    })?;
    let channel = Channel::parse(&input.channel)
        .ok_or_else(|| AppError::invalid("TR-M002", "channel is sms or email"))?;
    let v = input.text_version.as_str();
    if v.is_empty()
        || v.len() > 40
        || !v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Err(AppError::invalid(
            "TR-M051",
            "text_version is 1 to 40 letters, digits, dots or hyphens",
        ));
    }
    let h = org_of(state, by, org_slug, now).await?;
    let (mut tx, actor, basis) = unit(
        &h,
        by,
        trygg_core::access::Permission::PatientWrite,
        patient,
        now,
    )
    .await?;
    if tx.patient(patient).await?.is_none() {
        return Err(AppError::not_found("TR-M010", "no such patient"));
    }
    let row = trygg_store::notices::ConsentRow {
        patient,
        purpose: purpose.as_str().to_owned(),
        channel: channel.as_str().to_owned(),
        granted: input.granted,
        text_version: v.to_owned(),
        recorded_at: now,
        recorded_by: actor.id.clone(),
    };
    tx.record_consent(&row).await?;
    let op = if input.granted {
        Operation::ConsentGive
    } else {
        Operation::ConsentWithdraw
    };
    let e = crate::audit::event(
        &h.organisation().slug,
        &actor,
        Did::new(
            Category::Access,
            op,
            if input.granted {
                Action::Create
            } else {
                Action::Update
            },
            ("consent", None),
        )
        .patient(Some(patient))
        .detail(Some(format!("{}-{}", purpose.as_str(), channel.as_str())))
        .basis(basis),
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(row)
}

/// A patient's consent history, oldest first (an audited read).
pub async fn consents_by_console(
    state: &App,
    console: &Console,
    org_slug: &str,
    patient: Uuid,
    now: OffsetDateTime,
) -> Result<Vec<trygg_store::notices::ConsentRow>, AppError> {
    consents(state, By::Console(console), org_slug, patient, now).await
}

/// A patient's consent history, oldest first: by the console or a person who may read the
/// patient's details (`patient-read`); an audited read.
pub async fn consents(
    state: &App,
    by: By<'_>,
    org_slug: &str,
    patient: Uuid,
    now: OffsetDateTime,
) -> Result<Vec<trygg_store::notices::ConsentRow>, AppError> {
    let h = org_of(state, by, org_slug, now).await?;
    let (mut tx, actor, basis) = unit(
        &h,
        by,
        trygg_core::access::Permission::PatientRead,
        patient,
        now,
    )
    .await?;
    if tx.patient(patient).await?.is_none() {
        return Err(AppError::not_found("TR-M010", "no such patient"));
    }
    let rows = tx.consent_history(patient).await?;
    let e = crate::audit::event(
        &h.organisation().slug,
        &actor,
        Did::new(
            Category::Access,
            Operation::PatientRead,
            Action::Read,
            ("consent", None),
        )
        .patient(Some(patient))
        .basis(basis),
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(rows)
}

// ---------------------------------------------------------------------------------------------
// Delivery

/// Why an attempt failed: a code (stored, shown to personnel) and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The code.
    pub code: &'static str,
    /// Whether a later attempt may succeed.
    pub transient: bool,
}

impl Failure {
    fn transient(code: &'static str) -> Self {
        Self {
            code,
            transient: true,
        }
    }
    fn permanent(code: &'static str) -> Self {
        Self {
            code,
            transient: false,
        }
    }
}

/// The channels this server delivers through, built once from the configuration.
#[derive(Clone)]
pub struct Channels {
    email: Option<Arc<Email>>,
    sms: Option<Arc<Sms>>,
    krr: Option<Arc<Krr>>,
}

/// What KRR (Kontakt- og reservasjonsregisteret, REST API v2) says of one person.
#[derive(Clone)]
struct KrrPerson {
    /// `reservasjon: JA`: reserved against digital notices.
    reserved: bool,
    /// `status: AKTIV` and `varslingsstatus: KAN_VARSLES`.
    notifiable: bool,
    mobile: Option<String>,
    email: Option<String>,
}

/// The KRR adapter: a bounded cache in front of `POST /rest/v2/personer`, with its own timeout.
struct Krr {
    client: reqwest::Client,
    url: String,
    token: Option<String>,
    ttl: Duration,
    cache: std::sync::Mutex<std::collections::HashMap<Uuid, (std::time::Instant, KrrPerson)>>,
}

/// Entries the KRR cache holds before it starts over.
const KRR_CACHE: usize = 10_000;

impl Krr {
    async fn lookup(
        &self,
        patient: Uuid,
        nid: &trygg_core::NationalId,
    ) -> Result<KrrPerson, Failure> {
        if let Ok(cache) = self.cache.lock() {
            if let Some((at, p)) = cache.get(&patient) {
                if at.elapsed() < self.ttl {
                    return Ok(p.clone());
                }
            }
        }
        let mut req = self
            .client
            .post(format!("{}/rest/v2/personer", self.url))
            .json(&serde_json::json!({"personidentifikatorer": [nid.expose()]}));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req
            .send()
            .await
            .map_err(|_| Failure::transient("krr-unavailable"))?;
        if !resp.status().is_success() {
            return Err(Failure::transient("krr-unavailable"));
        }
        let bytes = read_limited(resp, 64 * 1024)
            .await
            .ok_or_else(|| Failure::transient("krr-bad-answer"))?;
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|_| Failure::transient("krr-bad-answer"))?;
        let wanted = nid.expose();
        let Some(p) = v["personer"].as_array().and_then(|a| {
            a.iter()
                .find(|p| p["personidentifikator"].as_str() == Some(wanted.as_str()))
        }) else {
            // Not in the register: nobody to notify digitally.
            return Ok(KrrPerson {
                reserved: false,
                notifiable: false,
                mobile: None,
                email: None,
            });
        };
        let contact = &p["kontaktinformasjon"];
        let person = KrrPerson {
            reserved: p["reservasjon"].as_str() == Some("JA"),
            notifiable: p["status"].as_str() == Some("AKTIV")
                && p["varslingsstatus"].as_str() == Some("KAN_VARSLES"),
            mobile: contact["mobiltelefonnummer"]
                .as_str()
                .and_then(|m| trygg_core::PhoneNumber::parse(m).ok())
                .map(|m| m.expose().to_owned()),
            email: contact["epostadresse"]
                .as_str()
                .and_then(|e| trygg_core::EmailAddress::parse(e).ok())
                .map(|e| e.expose().to_owned()),
        };
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= KRR_CACHE {
                cache.clear();
            }
            cache.insert(patient, (std::time::Instant::now(), person.clone()));
        }
        Ok(person)
    }
}

struct Email {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
    domain: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Generic,
    Link,
}

struct Sms {
    client: reqwest::Client,
    url: String,
    shape: Shape,
    token: Option<String>,
    platform_id: Option<String>,
    platform_partner_id: Option<String>,
    dlr_gate: Option<String>,
}

/// Why the channels could not be built from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// A setting is not usable.
    #[error("{0}")]
    Invalid(String),
}

impl Channels {
    /// The channels the configuration sets up (none when neither SMTP nor SMS is configured).
    pub fn from_config(c: &crate::config::Config) -> Result<Self, ChannelError> {
        // More than one TLS provider is compiled into the binary (through its dependencies), so
        // rustls cannot pick one by itself: Trygg's is aws-lc-rs, as for the server and the SFU.
        // An error means one is installed already.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let email = match &c.smtp_url {
            None => None,
            Some(url) => Some(Arc::new(Email::new(c, url)?)),
        };
        let sms = match &c.sms_gateway_url {
            None => None,
            Some(url) => {
                let shape = match c.sms_gateway_shape.as_str() {
                    "generic" => Shape::Generic,
                    "link" => Shape::Link,
                    _ => {
                        return Err(ChannelError::Invalid(
                            "sms_gateway_shape is generic or link".into(),
                        ))
                    }
                };
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(c.sms_timeout_secs.max(1)))
                    .connect_timeout(Duration::from_secs(c.sms_timeout_secs.clamp(1, 10)))
                    .redirect(reqwest::redirect::Policy::none())
                    // Never through a proxy from the environment: the gateway is named, and a
                    // plain-HTTP loopback gateway must not become a plain-HTTP proxy hop.
                    .no_proxy()
                    .https_only(!is_loopback_url(url))
                    .build()
                    .map_err(|e| ChannelError::Invalid(format!("the SMS client: {e}")))?;
                Some(Arc::new(Sms {
                    client,
                    url: url.trim_end_matches('/').to_owned(),
                    shape,
                    token: c.sms_gateway_token.clone(),
                    platform_id: c.sms_link_platform_id.clone(),
                    platform_partner_id: c.sms_link_platform_partner_id.clone(),
                    dlr_gate: c.sms_link_dlr_gate.clone(),
                }))
            }
        };
        let krr = match &c.krr_url {
            None => None,
            Some(url) => {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .connect_timeout(Duration::from_secs(5))
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy()
                    .https_only(!is_loopback_url(url))
                    .build()
                    .map_err(|e| ChannelError::Invalid(format!("the KRR client: {e}")))?;
                Some(Arc::new(Krr {
                    client,
                    url: url.trim_end_matches('/').to_owned(),
                    token: c.krr_token.clone(),
                    ttl: Duration::from_secs(c.krr_cache_secs),
                    cache: std::sync::Mutex::new(std::collections::HashMap::new()),
                }))
            }
        };
        Ok(Self { email, sms, krr })
    }

    /// Whether KRR is consulted before each notice.
    pub fn uses_krr(&self) -> bool {
        self.krr.is_some()
    }

    /// Whether any channel is configured.
    pub fn any(&self) -> bool {
        self.email.is_some() || self.sms.is_some()
    }

    async fn deliver(
        &self,
        key: &str,
        n: &OutgoingNotice,
        nid: Option<&trygg_core::NationalId>,
    ) -> Result<Option<String>, Failure> {
        // KRR, when configured, decides where a notice to a patient goes, and whether it goes
        // at all: reserved, not notifiable, or no contact for the channel are final (personnel
        // send a letter or phone; the notice is dead with the reason).
        let mut n = std::borrow::Cow::Borrowed(n);
        if let (Some(krr), Some(patient), Some(nid)) = (&self.krr, n.patient, nid) {
            let p = krr.lookup(patient, nid).await?;
            if p.reserved {
                return Err(Failure::permanent("krr-reserved"));
            }
            if !p.notifiable {
                return Err(Failure::permanent("krr-cannot-notify"));
            }
            let contact = match Channel::parse(&n.channel) {
                Some(Channel::Sms) => p.mobile,
                Some(Channel::Email) => p.email,
                None => None,
            };
            let Some(contact) = contact else {
                return Err(Failure::permanent("krr-no-contact"));
            };
            n.to_mut().recipient = contact;
        }
        let n = n.as_ref();
        match Channel::parse(&n.channel) {
            Some(Channel::Email) => match &self.email {
                Some(e) => e.send(key, n).await.map(|()| None),
                None => Err(Failure::transient("email-not-configured")),
            },
            Some(Channel::Sms) => match &self.sms {
                Some(s) => s.send(key, n).await.map(Some),
                None => Err(Failure::transient("sms-not-configured")),
            },
            None => Err(Failure::permanent("unknown-channel")),
        }
    }
}

/// Whether an http(s) URL names a loopback host (plain HTTP is allowed there only: a local relay
/// or a test gateway).
pub fn is_loopback_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or("");
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        // User information before the host (`http://localhost@evil.example`): never loopback.
        return false;
    }
    let host_port = authority;
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Email {
    fn new(c: &crate::config::Config, url: &str) -> Result<Self, ChannelError> {
        use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
        let rest = url.strip_prefix("smtp://").ok_or_else(|| {
            ChannelError::Invalid(
                "smtp_url is smtp://host:port (STARTTLS is always required)".into(),
            )
        })?;
        let (host, port) = match rest.trim_end_matches('/').rsplit_once(':') {
            Some((h, p)) => (
                h.to_owned(),
                p.parse::<u16>()
                    .map_err(|_| ChannelError::Invalid("smtp_url has a bad port".into()))?,
            ),
            None => (rest.trim_end_matches('/').to_owned(), 587),
        };
        if host.is_empty() {
            return Err(ChannelError::Invalid("smtp_url has no host".into()));
        }
        let mut tls = TlsParameters::builder(host.clone());
        if let Some(path) = &c.smtp_ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                ChannelError::Invalid(format!("cannot read smtp_ca_file {}: {e}", path.display()))
            })?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| ChannelError::Invalid(format!("smtp_ca_file: {e}")))?;
            tls = tls.add_root_certificate(cert);
        }
        let tls = tls
            .build_rustls()
            .map_err(|e| ChannelError::Invalid(format!("SMTP TLS: {e}")))?;
        let mut b = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(&host)
            .port(port)
            // No plaintext fallback: a server that does not offer STARTTLS gets nothing.
            .tls(Tls::Required(tls))
            .timeout(Some(Duration::from_secs(30)))
            // As many pooled connections as a round sends at once (CLAIM): lettre's default of
            // ten made every round open fifty new TLS connections (bench/RESULTS.md, Notices).
            .pool_config(lettre::transport::smtp::PoolConfig::new().max_size(CLAIM));
        if let (Some(u), Some(p)) = (&c.smtp_user, &c.smtp_password) {
            b = b.credentials(lettre::transport::smtp::authentication::Credentials::new(
                u.clone(),
                p.clone(),
            ));
        }
        let from_addr = c
            .smtp_from
            .as_deref()
            .ok_or_else(|| ChannelError::Invalid("smtp_url is set but smtp_from is not".into()))?;
        let domain = from_addr
            .rsplit_once('@')
            .map(|(_, d)| d.to_owned())
            .ok_or_else(|| ChannelError::Invalid("smtp_from is not an e-mail address".into()))?;
        let address: lettre::Address = from_addr
            .parse()
            .map_err(|_| ChannelError::Invalid("smtp_from is not an e-mail address".into()))?;
        Ok(Self {
            transport: b.build(),
            from: lettre::message::Mailbox::new(None, address),
            domain,
        })
    }

    async fn send(&self, key: &str, n: &OutgoingNotice) -> Result<(), Failure> {
        use lettre::AsyncTransport as _;
        let to: lettre::Address = n
            .recipient
            .parse()
            .map_err(|_| Failure::permanent("email-bad-address"))?;
        let mut from = self.from.clone();
        from.name = Some(n.sender.clone());
        // One recipient per message, always (never several patients in To or Cc).
        let msg = lettre::Message::builder()
            .message_id(Some(format!("<{key}@{}>", self.domain)))
            .from(from)
            .to(lettre::message::Mailbox::new(None, to))
            .subject(n.subject.clone().unwrap_or_default())
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(n.body.clone())
            .map_err(|_| Failure::permanent("email-build"))?;
        match self.transport.send(msg).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(Failure::permanent("smtp-refused")),
            Err(e) if e.is_tls() => Err(Failure::transient("smtp-tls")),
            Err(e) if e.is_timeout() => Err(Failure::transient("smtp-timeout")),
            Err(e) if e.is_transient() => Err(Failure::transient("smtp-deferred")),
            Err(e) if e.is_client() => Err(Failure::transient("smtp-no-starttls")),
            Err(_) => Err(Failure::transient("smtp-connection")),
        }
    }
}

impl Sms {
    async fn send(&self, key: &str, n: &OutgoingNotice) -> Result<String, Failure> {
        let req = match self.shape {
            Shape::Generic => {
                let mut r = self
                    .client
                    .post(format!("{}/sms", self.url))
                    .header("Idempotency-Key", key)
                    .json(
                        &serde_json::json!({"from": n.sender, "to": n.recipient, "text": n.body}),
                    );
                if let Some(t) = &self.token {
                    r = r.bearer_auth(t);
                }
                r
            }
            Shape::Link => {
                let mut body = serde_json::json!({
                    "source": n.sender,
                    "destination": n.recipient,
                    "userData": n.body,
                    "platformId": self.platform_id,
                    "platformPartnerId": self.platform_partner_id,
                    "refId": key,
                    "useDeliveryReport": self.dlr_gate.is_some(),
                });
                if let Some(g) = &self.dlr_gate {
                    body["deliveryReportGates"] = serde_json::json!([g]);
                }
                let mut r = self
                    .client
                    .post(format!("{}/sms/send", self.url))
                    .json(&body);
                if let Some((u, p)) = self.token.as_deref().and_then(|t| t.split_once(':')) {
                    r = r.basic_auth(u, Some(p));
                }
                r
            }
        };
        let resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                Failure::transient("sms-timeout")
            } else {
                Failure::transient("sms-connection")
            }
        })?;
        let status = resp.status();
        // A bounded read: a gateway's answer is small.
        let bytes = read_limited(resp, 16 * 1024)
            .await
            .ok_or_else(|| Failure::transient("sms-bad-answer"))?;
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            // A configuration error: retrying helps once the operator fixes it.
            return Err(Failure::transient("sms-unauthorized"));
        }
        if status.is_server_error() || matches!(status.as_u16(), 408 | 409 | 425 | 429) {
            return Err(Failure::transient("sms-unavailable"));
        }
        if status.is_client_error() {
            return Err(Failure::permanent("sms-refused"));
        }
        if !status.is_success() {
            return Err(Failure::transient("sms-bad-answer"));
        }
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|_| Failure::transient("sms-bad-answer"))?;
        let id = match self.shape {
            Shape::Generic => v["id"].as_str(),
            Shape::Link => v["messageId"].as_str(),
        };
        match id {
            Some(id) if !id.is_empty() && id.len() <= 200 => Ok(id.to_owned()),
            _ => Err(Failure::transient("sms-bad-answer")),
        }
    }
}

async fn read_limited(mut resp: reqwest::Response, max: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.ok()? {
        if out.len() + chunk.len() > max {
            return None;
        }
        out.extend_from_slice(&chunk);
    }
    Some(out)
}

/// Delivers what is due, for every organisation, until stopped: the outbox worker. Each round
/// claims up to 64 due notices per organisation, delivers them all at once (each bounded in time), and records each
/// outcome; it sleeps up to a second when nothing was due.
pub async fn run_worker(state: App, channels: Channels) {
    loop {
        let worked = match round(&state, &channels).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(code = e.code, "the notice worker's round failed");
                0
            }
        };
        if worked == 0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// The most closed organisations one round opens (issue #18); the rest come in later rounds.
const DUE_PER_ROUND: u32 = 64;

/// One round over the organisations open now and those with a notice due (issue #18: an idle
/// organisation is not opened for nothing); returns how many notices it attempted.
pub async fn round(state: &App, channels: &Channels) -> Result<usize, AppError> {
    let mut total = 0;
    let now = state.now();
    for o in state
        .store
        .job_orgs(trygg_store::Job::Notices, now, DUE_PER_ROUND)
        .await?
    {
        // One organisation's trouble (a full write queue, a broken row) does not hold up the
        // others' notices.
        let r = match state.store.org_for_job(&o).await {
            Ok(h) => org_round(state, channels, &h).await,
            Err(e) => Err(e.into()),
        };
        match r {
            Ok(n) => total += n,
            Err(e) => tracing::warn!(
                code = e.code,
                "the notice worker could not serve an organisation"
            ),
        }
    }
    Ok(total)
}

async fn org_round(
    state: &App,
    channels: &Channels,
    h: &Arc<trygg_store::OrgStore>,
) -> Result<usize, AppError> {
    let now = state.now();
    // Read before the next due moment is worked out: a notice queued after it makes the
    // visit stale (issue #18).
    let seen = h.generation();
    match h.next_notice_due().await? {
        Some(t) if t <= now => {}
        next => {
            h.job_visited(trygg_store::Job::Notices, seen, next);
            return Ok(0);
        }
    }
    let lease = now + Duration::from_secs(state.config.notice_lease_secs.clamp(1, 3600));
    let o = h.organisation().clone();
    let actor = Actor::system("trygg:notices");
    let mut tx = h.begin().await?;
    let claimed = tx.claim_notices(now, lease, CLAIM).await?;
    if claimed.is_empty() {
        // Nothing read: nothing to log, and the unit holds nothing.
        drop(tx);
        return Ok(0);
    }
    // A consent withdrawn after the notice was queued stops it (PC-CONSENT-2).
    let mut withheld = Vec::new();
    let mut deliver = Vec::with_capacity(claimed.len());
    for n in claimed {
        // Fails closed: an unknown kind, or a notice needing consent with no patient to ask,
        // does not go.
        let ok = match (Kind::parse(&n.kind), n.patient) {
            (Some(k), patient) => match (k.purpose(), patient) {
                (None, _) => true,
                (Some(p), Some(patient)) => tx
                    .consent(patient, p.as_str(), &n.channel)
                    .await?
                    .is_some_and(|c| c.granted),
                (Some(_), None) => false,
            },
            (None, _) => false,
        };
        if ok {
            deliver.push(n);
        } else {
            // Given up in this unit: the notice never leaves, and the log says why.
            tx.notice_outcome(
                n.id,
                n.attempt,
                &Outcome {
                    status: Status::Dead.as_str(),
                    next_at: now,
                    error: Some("consent-withdrawn"),
                    gateway_id: None,
                },
                now,
            )
            .await?;
            let e = notice_event(
                &o,
                &actor,
                Operation::NoticeFail,
                &n,
                "consent-withdrawn",
                now,
            )?;
            tx.audit(&e).await?;
            withheld.push(n);
        }
    }
    let claimed = deliver;
    // KRR is asked by national identity number: read in this unit, whose entries log the
    // disclosure (detail `krr`).
    let mut nids = std::collections::HashMap::new();
    if channels.uses_krr() {
        for n in &claimed {
            if let Some(p) = n.patient {
                if let std::collections::hash_map::Entry::Vacant(e) = nids.entry(p) {
                    if let Some(nid) = tx.patient_national_id(p).await? {
                        e.insert(nid);
                    }
                }
            }
        }
    }
    for n in &claimed {
        // The recipient's contact data leaves for the processor (gateway or mail server).
        let krr = if channels.uses_krr() { "-krr" } else { "" };
        let detail = format!("{}-attempt-{}{krr}", n.channel, n.attempt.min(99));
        let e = notice_event(&o, &actor, Operation::NoticeSend, n, &detail, now)?;
        tx.audit(&e).await?;
    }
    tx.commit().await?;
    let count = claimed.len() + withheld.len();
    let slug = o.slug.as_str().to_owned();
    // Every claimed notice is attempted at once (at most CLAIM), each bounded in time.
    let timeout = attempt_timeout(state.config.notice_lease_secs.clamp(1, 3600));
    let mut tasks = tokio::task::JoinSet::new();
    for n in claimed {
        let channels = channels.clone();
        let key = idempotency_key(&slug, n.id);
        let nid = n.patient.and_then(|p| nids.get(&p).cloned());
        tasks.spawn(async move {
            // Every phase of an attempt is bounded (lettre bounds only the SMTP connect): a
            // server that accepts and never answers costs this attempt, not the worker.
            let r = match tokio::time::timeout(timeout, channels.deliver(&key, &n, nid.as_ref()))
                .await
            {
                Ok(r) => r,
                Err(_) => Err(Failure::transient("timeout")),
            };
            (n, r)
        });
    }
    let mut done = Vec::with_capacity(count);
    while let Some(d) = tasks.join_next().await {
        if let Ok(d) = d {
            done.push(d);
        }
    }
    // The round's outcomes in one unit (one commit); if that fails, one unit each, so one
    // outcome that cannot be recorded leaves only that notice to its lease.
    if let Err(e) = record(state, h, &o, &actor, &done).await {
        tracing::warn!(
            code = e.code,
            "the round's outcomes could not be recorded together"
        );
        for d in &done {
            if let Err(e) = record(state, h, &o, &actor, std::slice::from_ref(d)).await {
                tracing::warn!(code = e.code, "a notice's outcome could not be recorded");
            }
        }
    }
    Ok(count)
}

type Attempted = (OutgoingNotice, Result<Option<String>, Failure>);

async fn record(
    state: &App,
    h: &trygg_store::OrgStore,
    o: &trygg_store::Organisation,
    actor: &Actor,
    done: &[Attempted],
) -> Result<(), AppError> {
    let now = state.now();
    let mut tx = h.begin().await?;
    for (n, r) in done {
        record_one(&mut tx, o, actor, n, r, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn record_one(
    tx: &mut trygg_store::OrgTx<'_>,
    o: &trygg_store::Organisation,
    actor: &Actor,
    n: &OutgoingNotice,
    r: &Result<Option<String>, Failure>,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    match r {
        Ok(gateway_id) => {
            tx.notice_outcome(
                n.id,
                n.attempt,
                &Outcome {
                    status: Status::Sent.as_str(),
                    next_at: now,
                    error: None,
                    gateway_id: gateway_id.as_deref(),
                },
                now,
            )
            .await?;
        }
        Err(f) if f.transient && n.attempt < notice::MAX_ATTEMPTS => {
            let jitter = jitter();
            let next = now + notice::backoff(n.attempt, jitter);
            tx.notice_outcome(
                n.id,
                n.attempt,
                &Outcome {
                    status: Status::Queued.as_str(),
                    next_at: next,
                    error: Some(f.code),
                    gateway_id: None,
                },
                now,
            )
            .await?;
        }
        Err(f) => {
            if tx
                .notice_outcome(
                    n.id,
                    n.attempt,
                    &Outcome {
                        status: Status::Dead.as_str(),
                        next_at: now,
                        error: Some(f.code),
                        gateway_id: None,
                    },
                    now,
                )
                .await?
            {
                let e = notice_event(o, actor, Operation::NoticeFail, n, f.code, now)?;
                tx.audit(&e).await?;
                // The dead letter becomes a task for personnel: phone the patient or send a
                // letter (a KRR reservation, a number that does not exist, a server that refuses).
                if let Some(p) = n.patient {
                    tx.create_task(p, f.code, None, Some(n.id), now).await?;
                }
            }
        }
    }
    Ok(())
}

/// The worker's audit entry about one notice: sent (`notice.send`, a read of its contact data
/// for the processor) or given up (`notice.fail`), with a coded detail.
fn notice_event(
    o: &trygg_store::Organisation,
    actor: &Actor,
    op: Operation,
    n: &OutgoingNotice,
    detail: &str,
    now: OffsetDateTime,
) -> Result<trygg_audit::AuditEvent, AppError> {
    let action = if op == Operation::NoticeSend {
        Action::Read
    } else {
        Action::Update
    };
    crate::audit::event(
        &o.slug,
        actor,
        Did::new(
            Category::Access,
            op,
            action,
            ("notice", Some(n.id.to_string())),
        )
        .patient(n.patient)
        .detail(Some(detail.to_owned())),
        now,
    )
}

fn jitter() -> u32 {
    let mut b = [0u8; 4];
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let _ = aws_lc_rs::rand::SecureRandom::fill(&rng, &mut b);
    u32::from_le_bytes(b)
}

// ---------------------------------------------------------------------------------------------
// Delivery reports

/// What a delivery report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// The notice's status now.
    Applied(String),
    /// No notice has this key (unknown organisation or id): answered like a known one to the
    /// gateway, counted and ignored.
    Unknown,
}

/// Checks that a callback is the gateway's: `signature` is the hex HMAC-SHA256 of `body` under
/// `sms_dlr_secret`.
fn verify_gateway(state: &App, body: &[u8], signature: Option<&str>) -> Result<(), AppError> {
    let secret =
        state.config.sms_dlr_secret.as_deref().ok_or_else(|| {
            AppError::not_found("TR-M040", "gateway callbacks are not configured")
        })?;
    let sig = signature
        .and_then(|s| hex::decode(s.trim()).ok())
        .ok_or_else(|| AppError::unauthorized("TR-M041"))?;
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    aws_lc_rs::hmac::verify(&key, body, &sig).map_err(|_| AppError::unauthorized("TR-M041"))
}

/// A delivery report from the SMS gateway (`POST /api/v1/notices/delivery-report`). `body` is the
/// request's bytes and `signature` the hex HMAC-SHA256 of them under `sms_dlr_secret`
/// (`X-Trygg-Dlr-Signature`); anything unsigned, badly signed or malformed is refused.
/// Repeated reports are harmless: a report changes only a notice that can still take one.
pub async fn delivery_report(
    state: &App,
    body: &[u8],
    signature: Option<&str>,
) -> Result<Report, AppError> {
    verify_gateway(state, body, signature)?;
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| AppError::invalid("TR-M042", "the report is not JSON"))?;
    // The generic shape: {id, key, status}; LINK's: {id, refId, resultCode}.
    let (key, delivered, gateway_id) = if let Some(k) = v["key"].as_str() {
        let delivered = match v["status"].as_str() {
            Some("delivered") => true,
            Some("failed") => false,
            _ => {
                return Err(AppError::invalid(
                    "TR-M043",
                    "status is delivered or failed",
                ))
            }
        };
        (k, delivered, v["id"].as_str())
    } else if let Some(k) = v["refId"].as_str() {
        let code = v["resultCode"]
            .as_i64()
            .ok_or_else(|| AppError::invalid("TR-M043", "resultCode is missing"))?;
        (k, code == 1001, v["id"].as_str())
    } else {
        return Err(AppError::invalid("TR-M042", "the report names no notice"));
    };
    let Some((org, id)) = parse_key(key) else {
        return Ok(Report::Unknown);
    };
    let Some(o) = state.store.org_by_slug(&org).await? else {
        return Ok(Report::Unknown);
    };
    let h = state.store.org(&o).await?;
    let now = state.now();
    let (status, error) = if delivered {
        (Status::Delivered, None)
    } else {
        (Status::Undeliverable, Some("sms-undeliverable"))
    };
    let from: Vec<&str> = [
        Status::Queued,
        Status::Sending,
        Status::Sent,
        Status::Delivered,
        Status::Undeliverable,
        Status::Dead,
    ]
    .into_iter()
    .filter(|s| s.takes_report())
    .map(Status::as_str)
    .collect();
    let mut tx = h.begin().await?;
    let row = tx
        .notice_report(
            id,
            &trygg_store::notices::Report {
                channel: "sms",
                status: status.as_str(),
                from: &from,
                gateway_id,
                error,
            },
            now,
        )
        .await?;
    // An SMS the network could not deliver becomes a task: phone the patient or send a letter.
    if let Some(r) = &row {
        if let (true, Some(p)) = (r.status == Status::Undeliverable.as_str(), r.patient) {
            tx.create_task(p, "sms-undeliverable", None, Some(id), now)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(match row {
        Some(r) => Report::Applied(r.status),
        None => Report::Unknown,
    })
}

/// What an inbound SMS did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// JA: the appointment was confirmed.
    Confirmed,
    /// NEI: the appointment was cancelled.
    Cancelled,
    /// Anything else, or a second reply: answered automatically ("replies are not read").
    AutoAnswered,
    /// JA or NEI to a consultation that is no longer scheduled (ended, cancelled): recorded,
    /// nothing changed.
    TooLate,
    /// Nothing done: no notice of this key was sent to this number, or it was answered
    /// automatically already (no ping-pong with an auto-responder).
    Ignored,
}

/// An inbound SMS from the gateway (`POST /api/v1/notices/inbound-sms`), signed like a delivery
/// report: `{"from": "+4791234567", "text": "JA", "key": "<the notice's idempotency key>"}` (the
/// gateway relates a reply to the message it answers). JA or NEI to an appointment change
/// confirms or cancels that consultation; anything else gets one automatic answer pointing to the
/// portal (scenario 26). The text itself is never stored or logged: the audit entry records only
/// what the reply did.
pub async fn inbound_sms(
    state: &App,
    body: &[u8],
    signature: Option<&str>,
) -> Result<Reply, AppError> {
    verify_gateway(state, body, signature)?;
    #[derive(serde::Deserialize)]
    struct Inbound {
        from: String,
        text: String,
        key: Option<String>,
    }
    let v: Inbound = serde_json::from_slice(body)
        .map_err(|_| AppError::invalid("TR-M044", "an inbound SMS is {from, text, key}"))?;
    if v.text.len() > 2_000 {
        return Err(AppError::invalid(
            "TR-M044",
            "an inbound SMS is at most 2000 bytes",
        ));
    }
    let Ok(from) = trygg_core::PhoneNumber::parse(&v.from) else {
        return Err(AppError::invalid("TR-M045", "from is not a phone number"));
    };
    let Some((org, id)) = v.key.as_deref().and_then(parse_key) else {
        return Ok(Reply::Ignored);
    };
    let Some(o) = state.store.org_by_slug(&org).await? else {
        return Ok(Reply::Ignored);
    };
    let h = state.store.org(&o).await?;
    let now = state.now();
    let mut tx = h.begin().await?;
    let Some(n) = tx.answerable(id).await? else {
        return Ok(Reply::Ignored);
    };
    // Only the number the notice went to answers it.
    let same_number =
        trygg_core::PhoneNumber::parse(&n.recipient).is_ok_and(|r| r.expose() == from.expose());
    let Some(patient) = n.patient.filter(|_| n.channel == "sms" && same_number) else {
        return Ok(Reply::Ignored);
    };
    let actor = Actor {
        kind: trygg_audit::AgentKind::Patient,
        id: format!("patient:{patient}"),
        role: None,
        authentication: None,
        address: None,
    };
    let reply = trygg_core::message::parse_reply(&v.text);
    let two_way = Kind::parse(&n.kind).is_some_and(|k| k.two_way(Channel::Sms));
    // A JA or NEI still counts after the automatic answer to something else ("nei, jeg kan
    // ikke" first, then "NEI"); once JA or NEI was taken, nothing more.
    let open = matches!(n.answered.as_deref(), None | Some("auto"));
    // The automatic answer is itself a notice: a reply to it (an auto-responder's) gets nothing,
    // so two machines cannot keep each other going.
    let answerable_kind = Kind::parse(&n.kind).is_some_and(|k| !k.system_only());
    let outcome = match (reply, two_way, n.regarding, open) {
        (trygg_core::message::Reply::Yes, true, Some(c), true) => {
            tx.answer_notice(id, "yes").await?;
            if tx.confirm_consultation(c, now).await? {
                Reply::Confirmed
            } else {
                Reply::TooLate
            }
        }
        (trygg_core::message::Reply::No, true, Some(c), true) => {
            tx.answer_notice(id, "no").await?;
            match tx
                .finish_consultation(c, "cancelled", &actor.id, None, now)
                .await
            {
                Ok(()) => {
                    // The clinician must hear of it: the consultation's own log entry, and a
                    // task for personnel (a new time, or a call).
                    let e = crate::audit::event(
                        &o.slug,
                        &actor,
                        Did::new(
                            Category::Consultation,
                            Operation::ConsultationCancel,
                            Action::Update,
                            ("consultation", Some(c.to_string())),
                        )
                        .patient(Some(patient))
                        .detail(Some("sms-reply-nei".into())),
                        now,
                    )?;
                    tx.audit(&e).await?;
                    tx.create_task(patient, "cancelled-by-sms", None, Some(id), now)
                        .await?;
                    Reply::Cancelled
                }
                Err(trygg_store::StoreError::Conflict(_)) => Reply::TooLate,
                Err(e) => return Err(e.into()),
            }
        }
        _ if n.answered.is_some() || !answerable_kind => Reply::Ignored,
        _ => {
            // One automatic answer per notice, to the number that wrote.
            tx.answer_notice(id, "auto").await?;
            let system = Actor::system("notices");
            queue_automatic(
                state,
                &mut tx,
                &o,
                patient,
                Kind::ReplyNotRead,
                Channel::Sms,
                Some(from.expose()),
                &Params::default(),
                &system,
                now,
            )
            .await?;
            Reply::AutoAnswered
        }
    };
    if outcome == Reply::Ignored {
        return Ok(outcome);
    }
    // What actually happened, not what was asked.
    let detail = match (outcome.clone(), reply) {
        (Reply::Confirmed, _) => "yes-confirmed",
        (Reply::Cancelled, _) => "no-cancelled",
        (Reply::TooLate, trygg_core::message::Reply::Yes) => "yes-not-scheduled",
        (Reply::TooLate, _) => "no-not-scheduled",
        _ => "other-answered",
    };
    let e = crate::audit::event(
        &o.slug,
        &actor,
        Did::new(
            Category::Access,
            Operation::SmsReply,
            Action::Update,
            ("notice", Some(id.to_string())),
        )
        .patient(Some(patient))
        .detail(Some(detail.to_owned())),
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(outcome)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_their_organisation_and_notice() {
        let id = Uuid::new_v4();
        let k = idempotency_key("normland-legesenter", id);
        let (o, i) = parse_key(&k).unwrap();
        assert_eq!((o.as_str(), i), ("normland-legesenter", id));
        assert!(parse_key("nonsense").is_none());
        assert!(parse_key("Bad Org.x").is_none());
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(is_loopback_url("http://127.0.0.1:9000/x"));
        assert!(is_loopback_url("http://localhost:1"));
        assert!(is_loopback_url("http://[::1]:80"));
        assert!(!is_loopback_url("http://sms.example.no"));
        assert!(!is_loopback_url("http://127.0.0.1.example.no/"));
        // Review: user information is not the host.
        for bypass in [
            "http://localhost:80@evil.example/",
            "http://127.0.0.1:1@evil.example/",
            "http://[::1]@evil.example/",
            "http://127.0.0.1@evil.example",
        ] {
            assert!(!is_loopback_url(bypass), "{bypass}");
        }
    }
}
