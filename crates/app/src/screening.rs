//! Screening a draft with the confidentiality guard (PC-CONF-1): personnel composing an SMS or
//! e-mail see, before sending, what the guard would hold and why. The text is not stored or
//! logged; the answer holds byte spans and explanations, never the text. The guard's context is
//! the caller's own organisation's messaging settings.

use trygg_guard::{Channel, Context, Screening};

use crate::access::Caller;
use crate::context::App;
use crate::error::AppError;

/// A draft to screen.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreenIn {
    /// `sms` or `email`.
    pub channel: String,
    /// The message (an e-mail may start with `Emne: …` and a blank line).
    pub text: String,
}

/// What the guard found.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ScreenOut {
    /// `allow`, `review` or `block`.
    pub verdict: String,
    /// The reasons found.
    pub reasons: Vec<String>,
    /// Each finding: reason, byte span, explanations in bokmål and English.
    #[schema(value_type = Vec<Object>)]
    pub findings: serde_json::Value,
}

/// The guard's context for one organisation's messages: its neutral sender name and its own
/// phone numbers and domains (`trygg org messaging`).
pub async fn context_for(
    store: &trygg_store::Store,
    org: &trygg_store::Organisation,
) -> Result<Context, trygg_store::StoreError> {
    let m = store.messaging(org).await?;
    Ok(context_from(org, &m))
}

/// [`context_for`] from messaging settings already read.
pub fn context_from(org: &trygg_store::Organisation, m: &trygg_store::Messaging) -> Context {
    let mut ctx = Context::new().with_sender_name(m.sender_name.as_deref().unwrap_or(&org.name));
    for p in &m.phones {
        ctx = ctx.with_own_phone(p);
    }
    for d in &m.domains {
        ctx = ctx.with_own_domain(d);
    }
    ctx
}

/// Parses a channel name.
pub fn channel(s: &str) -> Option<Channel> {
    match s {
        "sms" => Some(Channel::Sms),
        "email" => Some(Channel::Email),
        _ => None,
    }
}

fn out(s: &Screening) -> Result<ScreenOut, AppError> {
    let v = serde_json::to_value(s).map_err(|e| AppError::internal("TR-G500", e))?;
    Ok(ScreenOut {
        verdict: v["verdict"].as_str().unwrap_or_default().to_owned(),
        reasons: v["reasons"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        findings: v["findings"].clone(),
    })
}

/// The most bytes one draft may have.
pub const MAX_DRAFT_BYTES: usize = 64 * 1024;

/// Screens a draft SMS or e-mail for the caller's organisation.
pub async fn screen(state: &App, caller: &Caller, input: ScreenIn) -> Result<ScreenOut, AppError> {
    let ch = channel(&input.channel)
        .ok_or_else(|| AppError::invalid("TR-G001", "channel is sms or email"))?;
    if input.text.len() > MAX_DRAFT_BYTES {
        return Err(AppError::invalid("TR-G002", "a message is at most 64 KiB"));
    }
    let ctx = match state.store.org_by_slug(&caller.org).await? {
        Some(org) => context_for(&state.store, &org).await?,
        None => Context::new(),
    };
    out(&state.guard.screen(ch, &input.text, &ctx))
}
