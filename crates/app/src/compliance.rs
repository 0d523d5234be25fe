//! The compliance report (issue #15, VC-PBD-2; REQUIREMENTS section 5): evidence for the
//! organisation's risk assessment and DPIA, built from the live system. One row per requirement
//! ID and risk scenario of the catalogue (`trygg_core::compliance`), each answered by [`rule`]:
//! a check that runs now (a function named by the ID, `pc_authn_3`), how Trygg is built (with
//! the invariant's test), another row's answer (a risk scenario on its mitigations), or the
//! organisation's routine from its checklist. A setting's evidence carries its current and
//! recommended value and who changed it last and when, from the audit log. The report is
//! canonical JSON, signed with the deployment's Ed25519 key ([`verify`] checks a file), and its
//! SHA-256 is appended to the organisation's audit log. It holds codes, counts and opaque ids,
//! never a name or a national ID. [`By`], [`handle`] and [`begin`] are the shared entry of the
//! compliance use cases (this, `incidents`, `retention`): a person with `compliance-manage`
//! through the access rule, or the console.

use std::collections::BTreeMap;
use std::sync::Arc;

use time::OffsetDateTime;
use trygg_audit::{Action, Assurance, Basis, Category};
use trygg_core::access::Permission;
use trygg_core::compliance::{self as cat, ItemKind, Status};
use trygg_core::retention::{DataClass, Policy};
use trygg_core::Operation;
use trygg_store::{OrgStore, OrgTx};

use crate::access::{authorize, org_for, Caller};
use crate::audit::{Actor, Did};
use crate::context::App;
use crate::error::AppError;

/// Who asks: a person of the organisation (with `compliance-manage`) or the console.
#[derive(Debug, Clone, Copy)]
pub enum By<'a> {
    /// A signed-in person.
    Person(&'a Caller),
    /// The deployment operator at the console (`trygg:cli`).
    Console,
}

/// The organisation's handle for `by`: a person reaches only their own organisation (another
/// answers like an unknown one), the console any.
pub(crate) async fn handle(
    state: &App,
    by: By<'_>,
    org: &str,
    now: OffsetDateTime,
) -> Result<Arc<OrgStore>, AppError> {
    match by {
        By::Person(c) => org_for(state, c, org, now).await,
        By::Console => crate::operator::org(state, org).await,
    }
}

/// Opens the unit of work with the access decision (`compliance-manage`, live grant, end of
/// employment, the organisation's minimum assurance) for a person; the console is authorised by
/// the machine. Returns the audit actor.
pub(crate) async fn begin<'a>(
    h: &'a OrgStore,
    by: By<'_>,
    now: OffsetDateTime,
) -> Result<(OrgTx<'a>, Actor), AppError> {
    match by {
        By::Person(c) => {
            let (tx, ok) = authorize(h, c, Permission::ComplianceManage, None, now).await?;
            Ok((tx, ok.actor))
        }
        By::Console => Ok((h.begin().await?, Actor::system(crate::operator::CONSOLE))),
    }
}

/// What the HTTP edge knows of itself, which the checks read (the server supplies it: its
/// headers and its embedded pages).
#[derive(Debug, Clone, Default)]
pub struct EdgeFacts {
    /// The Content-Security-Policy every response carries.
    pub csp: String,
    /// The Cache-Control every response carries.
    pub cache_control: String,
    /// Addresses of other origins found in the embedded pages and scripts (should be none).
    pub external_urls: Vec<String>,
}

/// A setting's evidence: its value now, the recommended one, and its last change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SettingEvidence {
    /// The setting.
    pub setting: String,
    /// Its value now.
    pub current: String,
    /// The recommended value.
    pub recommended: String,
    /// Who changed it last (an actor id and role from the audit log; the deployment's
    /// configuration file for deployment settings), if known.
    pub changed_by: Option<String>,
    /// When (RFC 3339), if known.
    pub changed_at: Option<String>,
}

/// One piece of evidence for a row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Evidence {
    /// The check that ran, or the invariant or row it rests on.
    pub check: String,
    /// What it found.
    pub result: String,
    /// The setting, when the row rests on one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setting: Option<SettingEvidence>,
}

/// One row of the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    /// The requirement ID or risk scenario (`VC-RISK-13`).
    pub id: String,
    /// `requirement` or `risk-scenario`.
    pub kind: ItemKind,
    /// What Normen asks.
    pub requirement: String,
    /// Where in Normen.
    pub source: String,
    /// The status.
    pub status: Status,
    /// The evidence.
    pub evidence: Vec<Evidence>,
    /// The routine of the checklist it rests on, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routine: Option<String>,
}

/// One routine of the checklist in the report.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RoutineRow {
    /// Key.
    pub key: String,
    /// Name (English).
    pub en: String,
    /// Name (bokmål).
    pub nb: String,
    /// Owner (a role is recommended; whatever the organisation entered).
    pub owner: String,
    /// Where the organisation's document is.
    pub document: String,
    /// Next review (`YYYY-MM-DD`), if set.
    pub next_review: Option<String>,
    /// Whether the review date has passed, or none is set.
    pub overdue: bool,
}

/// The live counters.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Counters {
    /// Rights reviews overdue: 1 when the last attested review is older than a year (or there
    /// was none), else 0.
    pub overdue_rights_reviews: u64,
    /// Emergency accesses not yet reviewed.
    pub emergency_accesses_unreviewed: u64,
    /// Incidents not closed.
    pub open_incidents: u64,
    /// Incidents past the 72-hour deadline without a notification decision.
    pub incidents_past_deadline: u64,
    /// Routines whose review date has passed (or is not set).
    pub routines_overdue: u64,
    /// The last retention run (RFC 3339), if any.
    pub last_retention_run: Option<String>,
}

/// The report's header.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Header {
    /// The report's id (also the audit entry's entity id).
    pub id: String,
    /// The organisation's short name.
    pub organisation: String,
    /// Its display name.
    pub organisation_name: String,
    /// Trygg's version.
    pub trygg_version: String,
    /// SHA-256 of the deployment's settings as `trygg config` shows them (secrets masked).
    pub configuration_hash: String,
    /// When made (RFC 3339).
    pub generated_at: String,
    /// The audit log's latest signed checkpoint when the report was made.
    pub audit_checkpoint: Option<String>,
    /// The key that signs the report (signed-note verifier key text).
    pub signing_key: String,
}

/// The report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// Format and version.
    pub format: String,
    /// The header.
    pub header: Header,
    /// Rows per status.
    pub summary: BTreeMap<String, u64>,
    /// One per requirement ID and risk scenario.
    pub rows: Vec<Row>,
    /// The routine checklist.
    pub routines: Vec<RoutineRow>,
    /// The retention policy.
    pub retention: Vec<crate::retention::ClassOut>,
    /// The live counters.
    pub counters: Counters,
}

/// The report as signed: the canonical JSON of the report, its SHA-256, and the signature.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The report.
    pub report: Report,
    /// The file: canonical JSON of `{report, signature}` (pretty, keys sorted) and a newline.
    pub json: String,
    /// SHA-256 of the report's canonical bytes, hex.
    pub sha256: String,
    /// The signature, base64.
    pub signature: String,
}

/// The purpose string of the report's signature.
pub const PURPOSE: &str = "compliance-report";
/// The format line.
pub const FORMAT: &str = "trygg-compliance-report/1";

/// What a rule of the catalogue is.
pub enum Rule {
    /// A check run now, named by the requirement ID.
    Check(fn(&Live) -> (Status, Vec<Evidence>)),
    /// How Trygg is built: the invariant and the test that holds it.
    Design(&'static str),
    /// Another row's answer (a risk scenario on its mitigations), and a routine if one shares it.
    Via(&'static [&'static str], Option<&'static str>),
    /// The organisation's routine (a checklist key).
    Routine(&'static str),
    /// Not applicable, with the reason.
    NotApplicable(&'static str),
    /// Not built yet (the issue that builds it): `not-met` until it lands.
    NotBuilt(&'static str),
}

/// The rule for a catalogue ID. Every ID must have one (`every_id_has_a_rule`).
pub fn rule(id: &str) -> Option<Rule> {
    use Rule::*;
    Some(match id {
        "VC-INFO-1" => Check(vc_info_1),
        "VC-INFO-2" | "VC-CONF-3" => Design("the consultation type and every participant's role are shown to each patient before joining and in the call (trygg_core::consultation, test consultation::group_roster_shows_every_patient)"),
        "VC-INFO-3" => Design("invitation and pre-join page list the planned participants by role; a late joiner is announced (trygg_core::consultation)"),
        "VC-AUTH-1" => Check(vc_auth_1),
        "VC-AUTH-2" => Design("the practitioner's 'I recognise this patient' attestation at admission is recorded as the patient's identity assurance (trygg_core::consultation, VC-AUTH-2)"),
        "VC-AUTH-3" => Check(vc_auth_3),
        "VC-AUTH-4" | "VC-DEV-1" => Design("organisation-owned devices enrol a P-256 key pair made on the device and prove it at every join (trygg_identity::device, trygg_app::devices)"),
        "VC-DEV-2" => Check(vc_dev_2),
        "VC-ENC-1" => Check(vc_enc_1),
        "VC-ENC-2" => Check(vc_enc_2),
        "VC-LOG-1" => Design("an ended consultation's journal note draft (who, when, how long, identity assurance, interpreter) as text and FHIR R4 Encounter (trygg_core::consultation::journal)"),
        "VC-LOG-2" => Check(vc_log_2),
        "VC-LOG-3" => NotApplicable("VC-LOG-2 holds: consultations are logged automatically"),
        "VC-CONF-1" => Design("per-consultation invitations bound to a person, a waiting room, admission one by one by an authorised practitioner (trygg_app::rooms)"),
        "VC-CONF-2" => Design("the roster is sent to every participant on every change and has no way to hide anyone (trygg_core::consultation::Room)"),
        "VC-CONF-4" => Routine("confidentiality-at-home"),
        "VC-STORE-1" => Design("no recording: the SFU forwards encrypted frames and writes no media anywhere (trygg_media, Architecture Invariant: the SFU never holds a media key)"),
        "VC-STORE-2" => Check(vc_store_2),
        "VC-PRIV-1" => Via(&["PC-RIGHTS-1", "PC-RIGHTS-2"], None),
        "VC-PRIV-2" => Design("patients join from a browser with camera and microphone only; no app, no contact list"),
        "VC-PBD-1" => Check(vc_pbd_1),
        "VC-PBD-2" => Design("this report, made from the live configuration and signed"),
        "VC-INT-1" => Design("the interpreter is a role with its own invitation, authentication and end-to-end encryption like every participant"),
        "VC-DPA-1" => Design("at termination: `trygg org export` (FHIR R4 and the records, encrypted to the organisation's age key, signed manifest), `trygg org delete` (refused without that complete export; the data key destroyed, the files removed) with a deletion certificate signed by the deployment key, `trygg org verify-deletion` (trygg_app::exit, tests it::exit); the DPA itself is the routine data-processing-agreement"),
        "PC-CONSENT-1" | "PC-VENDOR-1" => Check(pc_consent_1),
        "PC-CONSENT-2" => Design("the portal's consent page: view, give, withdraw per purpose and channel; withdrawal stops queued notices"),
        "PC-CONSENT-3" => Design("consent gates notifications only; health data in the portal needs none"),
        "PC-CONF-1" => Check(pc_conf_1),
        "PC-ACL-1" => Check(pc_acl_1),
        "PC-ACL-2" => Design("built-in roles per personnel type and organisation-defined roles mapped to permissions (trygg_core::access)"),
        "PC-AUTHN-1" => Check(pc_authn_1),
        "PC-AUTHN-2" => Check(pc_authn_2),
        "PC-AUTHN-3" => Check(pc_authn_3),
        "PC-CHAN-1" => Design("the organisation's channel statement is shown in the portal and under every message form (trygg_core::message)"),
        "PC-RIGHTS-1" => Design("the patient sees their data and the log of who accessed it in the portal, and downloads it as JSON (trygg_app::portal, rights::own_access_log)"),
        "PC-RIGHTS-2" => Check(pc_rights_2),
        "PC-AVAIL-1" => Check(pc_avail_1),
        "PC-DEV-1" => Check(pc_dev_1),
        "PC-STORE-1" => Check(pc_store_1),
        "PC-READ-1" => Design("read receipts; an unread message escalates to another channel or a task for personnel (trygg_app::messages::jobs_round)"),
        "PC-EMERG-1" => Design("the urgent line above every message form: urgent matters by phone (trygg_core::message)"),
        "PC-VENDOR-2" => Via(&["PC-RIGHTS-1", "PC-RIGHTS-2"], None),
        "PC-VENDOR-3" => Check(pc_vendor_3),
        "PC-VENDOR-4" => Design("one database file and one data key per organisation; no query takes an organisation id (trygg_store::OrgStore, Architecture Invariant)"),
        "PC-VENDOR-5" => Design("message bodies and notices sealed with the organisation's key; a notice's content is deleted after notice_retention_days"),
        "PC-VENDOR-6" => Check(pc_vendor_6),
        // Factsheet 54's risk scenarios.
        "VC-RISK-1" => Via(&["VC-CONF-2", "VC-INFO-3"], Some("confidentiality-at-home")),
        "VC-RISK-2" | "VC-RISK-15" => Via(&["VC-STORE-1"], None),
        "VC-RISK-3" | "VC-RISK-21" => Routine("patient-information"),
        "VC-RISK-4" => Via(&["VC-ENC-1", "VC-ENC-2"], None),
        "VC-RISK-5" => Via(&["VC-ENC-2"], None),
        "VC-RISK-6" => Via(&["VC-CONF-1", "VC-DEV-1"], None),
        "VC-RISK-7" => Design("simulcast layers chosen per receiver from its bandwidth estimate (trygg_media::route)"),
        "VC-RISK-8" => Routine("availability"),
        "VC-RISK-9" => Design("a dropped participant returns to their seat within the grace period with the room's resume secret (trygg_app::rooms)"),
        "VC-RISK-10" => Via(&["VC-DEV-2", "PC-ACL-1"], None),
        "VC-RISK-11" => Via(&["VC-AUTH-1", "VC-AUTH-2"], None),
        "VC-RISK-12" => Via(&["VC-AUTH-3", "PC-AUTHN-1"], None),
        "VC-RISK-13" => Via(&["VC-CONF-1", "VC-CONF-2"], None),
        "VC-RISK-14" => Via(&["PC-VENDOR-4", "VC-ENC-2"], None),
        "VC-RISK-16" | "VC-RISK-17" | "VC-RISK-18" => Routine("data-processing-agreement"),
        "VC-RISK-19" => Via(&["VC-DPA-1"], Some("availability")),
        "VC-RISK-20" => Routine("training"),
        // The guide's risk scenarios.
        "PC-RISK-1" | "PC-RISK-2" | "PC-RISK-3" | "PC-RISK-9" | "PC-RISK-22" | "PC-RISK-31" => {
            Via(&["PC-CONF-1"], None)
        }
        "PC-RISK-4" => Via(&["PC-AVAIL-1", "PC-AUTHN-3"], None),
        "PC-RISK-5" => Via(&["PC-CONSENT-1"], None),
        "PC-RISK-6" | "PC-RISK-21" => Routine("data-processing-agreement"),
        "PC-RISK-7" => Via(&["PC-RIGHTS-1"], None),
        "PC-RISK-8" => Via(&["VC-DEV-1"], Some("private-devices")),
        "PC-RISK-10" => Via(&["PC-CONF-1", "PC-VENDOR-5"], None),
        "PC-RISK-11" | "PC-RISK-12" => Routine("training"),
        "PC-RISK-13" | "PC-RISK-18" => Routine("availability"),
        "PC-RISK-14" => Via(&["PC-ACL-1", "PC-AUTHN-1"], None),
        "PC-RISK-15" => Check(pc_risk_15),
        "PC-RISK-16" => Via(&["PC-ACL-1"], None),
        "PC-RISK-17" => Via(&["PC-VENDOR-6", "PC-VENDOR-3"], None),
        "PC-RISK-19" | "PC-RISK-33" => Via(&["PC-CHAN-1"], None),
        "PC-RISK-20" => Via(&["PC-VENDOR-4"], None),
        "PC-RISK-23" | "PC-RISK-24" | "PC-RISK-25" => Via(&["PC-READ-1"], None),
        "PC-RISK-26" | "PC-RISK-27" | "PC-RISK-28" | "PC-RISK-29" => Via(&["PC-STORE-1"], None),
        "PC-RISK-30" => Via(&["PC-AVAIL-1"], None),
        "PC-RISK-32" => Via(&["PC-CHAN-1"], Some("patient-information")),
        "PC-RISK-34" => Via(&["VC-AUTH-2", "VC-AUTH-4"], None),
        "PC-RISK-35" => Routine("patient-information"),
        "PC-RISK-36" => Via(&["VC-ENC-1", "PC-AUTHN-1", "PC-VENDOR-6"], None),
        _ => return None,
    })
}

/// Everything the checks read, gathered once.
pub struct Live {
    config: crate::config::Config,
    edge: EdgeFacts,
    assurance: Vec<(Permission, Assurance)>,
    /// The last change of each setting entity (`assurance-health-read`, `retention-audit-log`):
    /// (actor and role, time).
    changes: BTreeMap<String, (String, String)>,
    verify: Result<u64, String>,
    policy: Policy,
    last_run: Option<OffsetDateTime>,
    counters: Counters,
    guard_blocks: bool,
    guard_allows: bool,
    triggers: BTreeMap<&'static str, bool>,
    devices: usize,
    info_text: bool,
    log_size: u64,
    watch_position: u64,
    now: OffsetDateTime,
}

fn ev(check: &str, result: impl Into<String>) -> Evidence {
    Evidence {
        check: check.to_owned(),
        result: result.into(),
        setting: None,
    }
}

fn deployment_setting(
    check: &str,
    result: &str,
    setting: &str,
    current: String,
    rec: &str,
) -> Evidence {
    Evidence {
        check: check.to_owned(),
        result: result.to_owned(),
        setting: Some(SettingEvidence {
            setting: setting.to_owned(),
            current,
            recommended: rec.to_owned(),
            changed_by: Some("the deployment's configuration (trygg.toml or TRYGG_*)".to_owned()),
            changed_at: None,
        }),
    }
}

impl Live {
    fn min(&self, p: Permission) -> Assurance {
        self.assurance
            .iter()
            .find_map(|(q, a)| (*q == p).then_some(*a))
            .unwrap_or_else(|| crate::access::default_min_assurance(p))
    }

    /// The minimum assurance of `perms` against `want`, as evidence with who changed each.
    fn assurance_row(
        &self,
        check: &str,
        perms: &[Permission],
        want: Assurance,
    ) -> (Status, Vec<Evidence>) {
        let mut status = Status::MetBySetting;
        let mut out = Vec::new();
        for p in perms {
            let a = self.min(*p);
            let ok = a >= want;
            if !ok {
                status = Status::NotMet;
            }
            let key = format!("assurance-{}", p.as_str());
            let (by, at) = self
                .changes
                .get(&key)
                .map(|(b, t)| (Some(b.clone()), Some(t.clone())))
                .unwrap_or((Some("default (never changed)".to_owned()), None));
            out.push(Evidence {
                check: check.to_owned(),
                result: if ok {
                    format!("{} needs {} or higher", p.as_str(), a.code())
                } else {
                    format!(
                        "{} needs only {}: below {}",
                        p.as_str(),
                        a.code(),
                        want.code()
                    )
                },
                setting: Some(SettingEvidence {
                    setting: format!("minimum assurance for {}", p.as_str()),
                    current: a.code().to_owned(),
                    recommended: want.code().to_owned(),
                    changed_by: by,
                    changed_at: at,
                }),
            });
        }
        (status, out)
    }
}

fn vc_info_1(l: &Live) -> (Status, Vec<Evidence>) {
    (
        Status::Met,
        vec![ev(
            "vc_info_1",
            if l.info_text {
                "the pre-join page shows Trygg's processing information and the organisation's own text"
            } else {
                "the pre-join page shows Trygg's processing information; the organisation has not added its own text"
            },
        )],
    )
}

fn vc_auth_1(l: &Live) -> (Status, Vec<Evidence>) {
    let configured = l.config.idporten_issuer.is_some();
    let e = deployment_setting(
        "vc_auth_1",
        if configured {
            "patients log in through ID-porten; the waiting room shows each patient's eID level"
        } else {
            "ID-porten is not configured: a first-time patient cannot prove their identity by eID"
        },
        "idporten_issuer",
        l.config.idporten_issuer.clone().unwrap_or_default(),
        "ID-porten's issuer",
    );
    (
        if configured {
            Status::MetBySetting
        } else {
            Status::NotMet
        },
        vec![e],
    )
}

fn vc_auth_3(l: &Live) -> (Status, Vec<Evidence>) {
    l.assurance_row(
        "vc_auth_3",
        &[Permission::ConsultationManage, Permission::HealthRead],
        Assurance::Substantial,
    )
}

fn vc_dev_2(l: &Live) -> (Status, Vec<Evidence>) {
    let link = l.config.enrolment_link_ttl_secs;
    let code = l.config.device_code_ttl_secs;
    let ok = link <= 86_400 && code <= 900;
    (
        if ok {
            Status::MetBySetting
        } else {
            Status::NotMet
        },
        vec![
            deployment_setting(
                "vc_dev_2",
                "enrolment links are single-use and expire",
                "enrolment_link_ttl_secs",
                link.to_string(),
                "86400 or less",
            ),
            deployment_setting(
                "vc_dev_2",
                &format!(
                    "device enrolment codes are single-use and expire; {} devices enrolled",
                    l.devices
                ),
                "device_code_ttl_secs",
                code.to_string(),
                "900 or less",
            ),
        ],
    )
}

fn vc_enc_1(l: &Live) -> (Status, Vec<Evidence>) {
    let tls = l.config.tls();
    let proxied = !l.config.trusted_proxies.is_empty()
        && l.config
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"));
    let status = if tls || proxied {
        Status::MetBySetting
    } else {
        Status::NotMet
    };
    let result = if tls {
        "Trygg serves TLS 1.2/1.3 itself; media is DTLS-SRTP"
    } else if proxied {
        "TLS ends at the trusted proxy in front of Trygg (public_url is https); media is DTLS-SRTP"
    } else {
        "served over plain HTTP: no tls_cert and no https public_url behind a trusted proxy"
    };
    (
        status,
        vec![deployment_setting(
            "vc_enc_1",
            result,
            "tls_cert",
            if tls { "set".into() } else { "not set".into() },
            "set (or a TLS proxy in trusted_proxies)",
        )],
    )
}

fn vc_enc_2(l: &Live) -> (Status, Vec<Evidence>) {
    let on = l.config.e2ee_required;
    (
        if on {
            Status::MetBySetting
        } else {
            Status::NotMet
        },
        vec![deployment_setting(
            "vc_enc_2",
            if on {
                "frames are encrypted end to end in the browsers; the SFU holds no media key"
            } else {
                "end-to-end encryption is not required: a browser without it may join"
            },
            "e2ee_required",
            on.to_string(),
            "true",
        )],
    )
}

fn vc_log_2(l: &Live) -> (Status, Vec<Evidence>) {
    match &l.verify {
        Ok(n) => (
            Status::Met,
            vec![ev(
                "vc_log_2",
                format!(
                    "consultation steps are audit entries; the log of {n} entries verified now"
                ),
            )],
        ),
        Err(e) => (
            Status::NotMet,
            vec![ev(
                "vc_log_2",
                format!("the audit log failed verification: {e}"),
            )],
        ),
    }
}

fn vc_store_2(l: &Live) -> (Status, Vec<Evidence>) {
    let self_only = l.edge.csp.contains("default-src 'self'");
    let clean = l.edge.external_urls.is_empty();
    (
        if self_only && clean {
            Status::Met
        } else {
            Status::NotMet
        },
        vec![
            ev(
                "vc_store_2",
                format!("Content-Security-Policy: {}", l.edge.csp),
            ),
            ev(
                "vc_store_2",
                if clean {
                    "no page or script names another origin (no CDN, fonts or analytics)".to_owned()
                } else {
                    format!(
                        "pages name other origins: {}",
                        l.edge.external_urls.join(", ")
                    )
                },
            ),
        ],
    )
}

fn vc_pbd_1(l: &Live) -> (Status, Vec<Evidence>) {
    let c = &l.config;
    let checks = [
        (
            "session_idle_timeout_secs",
            c.session_idle_timeout_secs.to_string(),
            "1800 or less",
            c.session_idle_timeout_secs <= 1800,
        ),
        (
            "session_absolute_timeout_secs",
            c.session_absolute_timeout_secs.to_string(),
            "43200 or less",
            c.session_absolute_timeout_secs <= 43_200,
        ),
        (
            "login_max_failures",
            c.login_max_failures.to_string(),
            "5 or less",
            c.login_max_failures <= 5,
        ),
        (
            "e2ee_required",
            c.e2ee_required.to_string(),
            "true",
            c.e2ee_required,
        ),
    ];
    let mut status = Status::MetBySetting;
    let mut out = vec![ev(
        "vc_pbd_1",
        "no recording exists; the camera is previewed before joining; data is minimal",
    )];
    for (k, cur, rec, ok) in checks {
        if !ok {
            status = Status::NotMet;
        }
        out.push(deployment_setting(
            "vc_pbd_1",
            if ok {
                "private default kept"
            } else {
                "weaker than the private default"
            },
            k,
            cur,
            rec,
        ));
    }
    (status, out)
}

fn pc_consent_1(l: &Live) -> (Status, Vec<Evidence>) {
    trigger_row(
        "pc_consent_1",
        l,
        &["consents_no_update", "consents_no_delete"],
        "consent per purpose and channel; the consent history cannot be rewritten",
    )
}

fn trigger_row(check: &str, l: &Live, names: &[&str], what: &str) -> (Status, Vec<Evidence>) {
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !l.triggers.get(n).copied().unwrap_or(false))
        .collect();
    if missing.is_empty() {
        (
            Status::Met,
            vec![ev(
                check,
                format!("{what} (database triggers present: {})", names.join(", ")),
            )],
        )
    } else {
        (
            Status::NotMet,
            vec![ev(
                check,
                format!("database triggers missing: {}", missing.join(", ")),
            )],
        )
    }
}

fn pc_conf_1(l: &Live) -> (Status, Vec<Evidence>) {
    let ok = l.guard_blocks && l.guard_allows;
    (
        if ok { Status::Met } else { Status::NotMet },
        vec![ev(
            "pc_conf_1",
            format!(
                "the confidentiality guard screened two test messages now: a revealing one {}, a permitted one {}",
                if l.guard_blocks { "was stopped" } else { "was NOT stopped" },
                if l.guard_allows { "passed" } else { "did NOT pass" }
            ),
        )],
    )
}

fn pc_acl_1(l: &Live) -> (Status, Vec<Evidence>) {
    let c = &l.counters;
    let ok = c.overdue_rights_reviews == 0 && c.emergency_accesses_unreviewed == 0;
    (
        if ok { Status::Met } else { Status::NotMet },
        vec![
            ev("pc_acl_1", "access is decided live from grants, care relationships and employment; an ended employment ends all access"),
            ev("pc_acl_1", format!("rights reviews overdue: {}; emergency accesses not yet reviewed: {}", c.overdue_rights_reviews, c.emergency_accesses_unreviewed)),
        ],
    )
}

fn pc_authn_1(l: &Live) -> (Status, Vec<Evidence>) {
    let c = &l.config;
    let ok = c.session_idle_timeout_secs <= 1800 && c.session_absolute_timeout_secs <= 43_200;
    (
        if ok {
            Status::MetBySetting
        } else {
            Status::NotMet
        },
        vec![
            ev(
                "pc_authn_1",
                "every session and every audit entry carries its login's assurance level",
            ),
            deployment_setting(
                "pc_authn_1",
                "idle timeout",
                "session_idle_timeout_secs",
                c.session_idle_timeout_secs.to_string(),
                "1800 or less",
            ),
            deployment_setting(
                "pc_authn_1",
                "absolute timeout",
                "session_absolute_timeout_secs",
                c.session_absolute_timeout_secs.to_string(),
                "43200 or less",
            ),
        ],
    )
}

fn pc_authn_2(l: &Live) -> (Status, Vec<Evidence>) {
    l.assurance_row(
        "pc_authn_2",
        &[
            Permission::PatientRead,
            Permission::PatientWrite,
            Permission::ConsultationManage,
            Permission::CredentialsManage,
            Permission::ComplianceManage,
        ],
        Assurance::Substantial,
    )
}

fn pc_authn_3(l: &Live) -> (Status, Vec<Evidence>) {
    l.assurance_row(
        "pc_authn_3",
        &[
            Permission::HealthRead,
            Permission::HealthWrite,
            Permission::EmergencyAccess,
        ],
        Assurance::High,
    )
}

fn pc_rights_2(l: &Live) -> (Status, Vec<Evidence>) {
    trigger_row("pc_rights_2", l, &["messages_filed_immutable", "messages_filed_no_delete"], "patients correct their contact data in the portal; a message filed to the record cannot change")
}

fn pc_avail_1(l: &Live) -> (Status, Vec<Evidence>) {
    let ok = l.edge.cache_control.contains("no-store");
    (
        if ok { Status::Met } else { Status::NotMet },
        vec![ev(
            "pc_avail_1",
            format!(
                "documents are shown in the browser; Cache-Control: {}",
                l.edge.cache_control
            ),
        )],
    )
}

fn pc_dev_1(l: &Live) -> (Status, Vec<Evidence>) {
    let c = &l.counters;
    (
        if c.incidents_past_deadline == 0 { Status::Met } else { Status::NotMet },
        vec![ev(
            "pc_dev_1",
            format!(
                "incident register with the 72-hour clock: {} open, {} past the deadline without a decision",
                c.open_incidents, c.incidents_past_deadline
            ),
        )],
    )
}

fn pc_store_1(l: &Live) -> (Status, Vec<Evidence>) {
    let fresh = l
        .last_run
        .is_some_and(|t| l.now - t <= time::Duration::days(2));
    let mut out: Vec<Evidence> = l
        .policy
        .entries()
        .into_iter()
        .map(|(c, v)| {
            let changed = l.changes.get(&format!("retention-{}", c.as_str()));
            Evidence {
                check: "pc_store_1".into(),
                result: format!(
                    "{} kept {v} {}",
                    c.as_str(),
                    if c.unit() == trygg_core::retention::Unit::Months {
                        "months"
                    } else {
                        "years"
                    }
                ),
                setting: Some(SettingEvidence {
                    setting: format!("retention of {}", c.as_str()),
                    current: v.to_string(),
                    recommended: c.default_value().to_string(),
                    changed_by: Some(
                        changed.map_or("default (never changed)".to_owned(), |c| c.0.clone()),
                    ),
                    changed_at: changed.map(|c| c.1.clone()),
                }),
            }
        })
        .collect();
    out.push(ev(
        "pc_store_1",
        match l.last_run {
            Some(_) if fresh => "the retention job ran in the last two days".to_owned(),
            Some(_) => "the retention job has not run for more than two days".to_owned(),
            None => "the retention job has not run".to_owned(),
        },
    ));
    (if fresh { Status::Met } else { Status::NotMet }, out)
}

fn pc_vendor_3(l: &Live) -> (Status, Vec<Evidence>) {
    let (s, mut e) = vc_log_2(l);
    for x in &mut e {
        x.check = "pc_vendor_3".into();
    }
    (s, e)
}

fn pc_vendor_6(l: &Live) -> (Status, Vec<Evidence>) {
    // The watcher must be reading the log: a backlog of more than a day's heavy traffic means it
    // is not running (or cannot keep up) and drafts are not being opened.
    let behind = l.log_size.saturating_sub(l.watch_position);
    let ok = behind <= 100_000;
    (
        if ok { Status::Met } else { Status::NotMet },
        vec![ev(
            "pc_vendor_6",
            format!(
                "failed logins, refusals, cross-organisation attempts and integrity failures are security events; bursts open draft incidents; the watcher has {behind} entries of the log still to read; {} incidents open",
                l.counters.open_incidents
            ),
        )],
    )
}

fn pc_risk_15(l: &Live) -> (Status, Vec<Evidence>) {
    let years = l.policy.get(DataClass::GrantRecords);
    let (s, mut e) = trigger_row(
        "pc_risk_15",
        l,
        &["grants_kept_five_years", "grants_history_is_fixed"],
        "grant records cannot be rewritten or deleted within five years",
    );
    e.push(Evidence {
        check: "pc_risk_15".into(),
        result: format!("grant records are kept {years} years after the grant ended"),
        setting: None,
    });
    (if years >= 5 { s } else { Status::NotMet }, e)
}

fn rfc(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The catalogue's rows answered against `live`.
pub fn rows(live: &Live, routines: &[RoutineRow]) -> Vec<Row> {
    let items = cat::catalogue();
    let mut done: BTreeMap<String, (Status, Vec<Evidence>, Option<String>)> = BTreeMap::new();
    // Requirements first, so risk scenarios can rest on them (a Via names requirement rows).
    let mut order: Vec<&cat::Item> = items
        .iter()
        .filter(|i| i.kind == ItemKind::Requirement)
        .collect();
    order.extend(items.iter().filter(|i| i.kind == ItemKind::RiskScenario));
    // Rows that rest on other rows come last, so every row they name is answered (a Via names
    // requirement rows only; requirements come before risk scenarios).
    for pass_via in [false, true] {
        for item in &order {
            let r = rule(&item.id);
            if matches!(r, Some(Rule::Via(..))) != pass_via {
                continue;
            }
            let a = match r {
                None => (
                    Status::NotMet,
                    vec![ev("catalogue", "no check and no routine for this ID")],
                    None,
                ),
                Some(r) => answer(r, live, routines, &done),
            };
            done.insert(item.id.clone(), a);
        }
    }
    items
        .into_iter()
        .map(|i| {
            let (status, evidence, routine) =
                done.remove(&i.id)
                    .unwrap_or((Status::NotMet, Vec::new(), None));
            Row {
                id: i.id,
                kind: i.kind,
                requirement: i.text,
                source: i.source,
                status,
                evidence,
                routine,
            }
        })
        .collect()
}

fn answer(
    r: Rule,
    live: &Live,
    routines: &[RoutineRow],
    done: &BTreeMap<String, (Status, Vec<Evidence>, Option<String>)>,
) -> (Status, Vec<Evidence>, Option<String>) {
    let routine_ev = |key: &str| -> Evidence {
        match routines.iter().find(|r| r.key == key) {
            Some(r) => ev(
                "routine",
                format!(
                    "{}: owner {}, document {}, next review {}{}",
                    r.en,
                    if r.owner.is_empty() {
                        "not set"
                    } else {
                        &r.owner
                    },
                    if r.document.is_empty() {
                        "not set"
                    } else {
                        &r.document
                    },
                    r.next_review.as_deref().unwrap_or("not set"),
                    if r.overdue { " (review overdue)" } else { "" }
                ),
            ),
            None => ev("routine", format!("{key}: not in the checklist")),
        }
    };
    match r {
        Rule::Check(f) => {
            let (s, e) = f(live);
            (s, e, None)
        }
        Rule::Design(what) => (Status::Met, vec![ev("design", what)], None),
        Rule::NotApplicable(why) => (Status::NotApplicable, vec![ev("scope", why)], None),
        Rule::NotBuilt(what) => (Status::NotMet, vec![ev("not built", what)], None),
        Rule::Routine(key) => (
            Status::OrganisationRoutine,
            vec![routine_ev(key)],
            Some(key.to_owned()),
        ),
        Rule::Via(ids, routine) => {
            let mut status = Status::NotApplicable;
            let mut e = Vec::new();
            for id in ids {
                let s = done.get(*id).map_or(Status::NotMet, |d| d.0);
                status = status.worst(s);
                e.push(ev("mitigated by", format!("{id}: {s}")));
            }
            if let Some(k) = routine {
                status = status.worst(Status::OrganisationRoutine);
                e.push(routine_ev(k));
            }
            (status, e, routine.map(str::to_owned))
        }
    }
}

/// The configuration hash: SHA-256 over every setting's key and shown value (secrets masked).
pub fn configuration_hash(config: &crate::config::Config) -> String {
    let mut text = String::new();
    for s in crate::config::settings() {
        text.push_str(s.key);
        text.push('=');
        text.push_str(&config.display_value(s.key));
        text.push('\n');
    }
    trygg_store::crypto::sha256_hex(text.as_bytes())
}

fn who(e: &trygg_audit::AuditEvent) -> String {
    let id = e.agent.id.as_ref().map_or("unknown", |i| i.as_str());
    match e.agent.role.as_ref() {
        Some(r) => format!("{id} ({})", r.as_str()),
        None => id.to_owned(),
    }
}

/// Makes, signs and logs the organisation's report.
pub async fn report(
    state: &App,
    by: By<'_>,
    org: &str,
    edge: &EdgeFacts,
    now: OffsetDateTime,
) -> Result<Signed, AppError> {
    let h = handle(state, by, org, now).await?;
    let (mut tx, actor) = begin(&h, by, now).await?;
    // What the counters and checks read inside the unit.
    let assurance = crate::access::assurance_table(&mut tx).await?;
    let reviews = tx.rights_reviews().await?;
    let emergency = tx.unreviewed_emergency_accesses().await?.len() as u64;
    let stored_routines = tx.routines().await?;
    drop(tx);
    let (open, past) = crate::incidents::open_counts(&h, now).await?;
    let last_review = reviews.iter().map(|r| r.reviewed_at).max();
    let overdue_reviews =
        u64::from(last_review.is_none_or(|t| now.unix_timestamp() - t > 365 * 86_400));
    let routines = routine_rows(&stored_routines, now);
    let last_run = crate::retention::last_run(&h).await?.map(|(t, _)| t);
    let counters = Counters {
        overdue_rights_reviews: overdue_reviews,
        emergency_accesses_unreviewed: emergency,
        open_incidents: open,
        incidents_past_deadline: past,
        routines_overdue: routines.iter().filter(|r| r.overdue).count() as u64,
        last_retention_run: last_run.map(rfc),
    };
    // Who changed each organisation setting last, from the log.
    let mut changes = BTreeMap::new();
    for (_, e) in h.audit_events(None).await? {
        let op = e.operation.as_str();
        if op == Operation::AssuranceSet.code() || op == Operation::RetentionSet.code() {
            if let Some(id) = e.entity.as_ref().and_then(|x| x.id.as_ref()) {
                changes.insert(
                    id.as_str().to_owned(),
                    (who(&e), e.recorded.to_rfc3339().unwrap_or_default()),
                );
            }
        }
    }
    let verify: Result<u64, String> = match h.verify_audit_at(now).await? {
        Ok(v) => Ok(v.entries),
        Err(e) => Err(e.to_string()),
    };
    let log_size = *verify.as_ref().unwrap_or(&0);
    let ctx = crate::screening::context_for(&state.store, h.organisation()).await?;
    let verdict = |text: &str| {
        let s = state.guard.screen(trygg_guard::Channel::Sms, text, &ctx);
        serde_json::to_value(&s)
            .ok()
            .and_then(|v| v["verdict"].as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let mut triggers = BTreeMap::new();
    for t in [
        "consents_no_update",
        "consents_no_delete",
        "messages_filed_immutable",
        "grants_kept_five_years",
        "grants_history_is_fixed",
        "messages_filed_no_delete",
        "incident_versions_fixed",
    ] {
        triggers.insert(t, h.trigger_exists(t).await?);
    }
    let devices = {
        let mut tx = h.begin().await?;
        let n = tx
            .devices(10_000)
            .await?
            .iter()
            .filter(|d| d.public_key.is_some() && d.revoked_at.is_none())
            .count();
        drop(tx);
        n
    };
    let info_text = h.consultation_info("nb").await?.is_some();
    let live = Live {
        config: (*state.config).clone(),
        edge: edge.clone(),
        assurance,
        changes,
        verify,
        policy: crate::retention::policy_of(&h).await?,
        last_run,
        counters: counters.clone(),
        guard_blocks: verdict("Hei! Svar fra psykiatrisk poliklinikk: resultatet viser depresjon. Du kan ikke svare på denne SMS-en.") == "block",
        guard_allows: verdict("Hei! Du har fått en ny melding. Logg inn for å lese den. Du kan ikke svare på denne SMS-en.") == "allow",
        triggers,
        devices,
        info_text,
        log_size,
        watch_position: h.watch_position().await?,
        now,
    };
    let rows = rows(&live, &routines);
    let mut summary = BTreeMap::new();
    for r in &rows {
        *summary.entry(r.status.as_str().to_owned()).or_insert(0) += 1;
    }
    let key = state.store.document_key()?;
    let report = Report {
        format: FORMAT.to_owned(),
        header: Header {
            id: uuid::Uuid::new_v4().to_string(),
            organisation: h.organisation().slug.to_string(),
            organisation_name: h.organisation().name.clone(),
            trygg_version: env!("CARGO_PKG_VERSION").to_owned(),
            configuration_hash: configuration_hash(&state.config),
            generated_at: rfc(now),
            audit_checkpoint: h.audit_checkpoint().await?,
            signing_key: key.to_vkey(),
        },
        summary,
        rows,
        routines,
        retention: crate::retention::rows(&crate::retention::policy_of(&h).await?),
        counters,
    };
    let signed = sign(state, report)?;
    // The report's hash in the organisation's log.
    let mut tx = h.begin().await?;
    let e = crate::audit::event(
        &h.organisation().slug,
        &actor,
        Did::new(
            Category::Export,
            Operation::ComplianceReport,
            Action::Create,
            ("compliance-report", Some(signed.report.header.id.clone())),
        )
        .basis(Basis::Administration)
        .detail(Some(signed.sha256.clone())),
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(signed)
}

fn sign(state: &App, report: Report) -> Result<Signed, AppError> {
    let value = serde_json::to_value(&report).map_err(|e| AppError::internal("TR-F791", e))?;
    let (json, sha256) = crate::signed::seal(state, PURPOSE, "report", value)?;
    let signature = serde_json::from_str::<serde_json::Value>(&json)
        .ok()
        .and_then(|v| v["signature"]["ed25519"].as_str().map(str::to_owned))
        .unwrap_or_default();
    Ok(Signed {
        report,
        json,
        sha256,
        signature,
    })
}

/// What [`verify`] found in a good file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The organisation the report is about.
    pub organisation: String,
    /// When it was made.
    pub generated_at: String,
    /// Its SHA-256.
    pub sha256: String,
}

/// Checks a report file against this deployment's key: the file must be exactly as Trygg wrote
/// it (so any changed byte is caught, even in blank space), its hash right, its signature
/// valid. The error says what is wrong, in words.
pub fn verify(state: &App, text: &str) -> Result<Verified, AppError> {
    let key = state.store.document_key()?;
    let opened = crate::signed::open(text, PURPOSE, "report", crate::signed::Signer::Key(&key))
        .map_err(|why| AppError::invalid("TR-F001", why))?;
    let h = |k: &str| {
        opened.value["header"][k]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    Ok(Verified {
        organisation: h("organisation"),
        generated_at: h("generated_at"),
        sha256: opened.sha256,
    })
}

/// Whether the organisation's audit log holds the report's hash (the console's second check).
pub async fn logged(state: &App, org: &str, sha256: &str) -> Result<bool, AppError> {
    let h = crate::operator::org(state, org).await?;
    Ok(h.audit_events(None).await?.iter().any(|(_, e)| {
        e.operation.as_str() == Operation::ComplianceReport.code()
            && e.entity
                .as_ref()
                .and_then(|x| x.detail.as_ref())
                .is_some_and(|d| d.as_str() == sha256)
    }))
}

/// The checklist: every routine of the catalogue with what the organisation stored for it.
fn routine_rows(stored: &[trygg_store::RoutineRecord], now: OffsetDateTime) -> Vec<RoutineRow> {
    let today = now.date();
    cat::ROUTINES
        .iter()
        .map(|r| {
            let s = stored.iter().find(|x| x.key == r.key);
            let next = s.and_then(|s| s.next_review.clone());
            RoutineRow {
                key: r.key.to_owned(),
                en: r.en.to_owned(),
                nb: r.nb.to_owned(),
                owner: s.map(|s| s.owner.clone()).unwrap_or_default(),
                document: s.map(|s| s.document.clone()).unwrap_or_default(),
                // Overdue when the date has passed, or when none is set.
                overdue: next
                    .as_deref()
                    .and_then(|d| time::Date::parse(d, DATE).ok())
                    .is_none_or(|d| d < today),
                next_review: next,
            }
        })
        .collect()
}

const DATE: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// The organisation's routine checklist.
pub async fn routines(
    state: &App,
    by: By<'_>,
    org: &str,
    now: OffsetDateTime,
) -> Result<Vec<RoutineRow>, AppError> {
    let h = handle(state, by, org, now).await?;
    let (mut tx, actor) = begin(&h, by, now).await?;
    let stored = tx.routines().await?;
    log_read(&mut tx, &h, &actor, now).await?;
    tx.commit().await?;
    Ok(routine_rows(&stored, now))
}

async fn log_read(
    tx: &mut OrgTx<'_>,
    h: &OrgStore,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let e = crate::audit::event(
        &h.organisation().slug,
        actor,
        Did::new(
            Category::Administration,
            Operation::SettingsRead,
            Action::Read,
            ("routine", None),
        )
        .basis(Basis::Administration),
        now,
    )?;
    tx.audit(&e).await?;
    Ok(())
}

/// A routine's new owner, document and review date.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutineIn {
    /// The routine's key.
    pub key: String,
    /// Owner (a role is recommended).
    pub owner: String,
    /// Where the organisation's document is (a link or a reference).
    pub document: String,
    /// The next review, `YYYY-MM-DD` (empty: none).
    #[serde(default)]
    pub next_review: Option<String>,
}

/// Sets one routine of the checklist; logged.
pub async fn set_routine(
    state: &App,
    by: By<'_>,
    org: &str,
    input: RoutineIn,
    now: OffsetDateTime,
) -> Result<Vec<RoutineRow>, AppError> {
    // The access decision first: a refused caller is logged whatever they sent.
    let h = handle(state, by, org, now).await?;
    let (mut tx, actor) = begin(&h, by, now).await?;
    let key = input.key.trim();
    if cat::routine(key).is_none() {
        return Err(AppError::invalid(
            "TR-F002",
            format!("unknown routine {key:?}"),
        ));
    }
    for (s, max) in [(&input.owner, 200), (&input.document, 500)] {
        trygg_core::incident::check_text(s, max)
            .map_err(|e| AppError::invalid("TR-F003", e.to_string()))?;
        if s.contains('\n') {
            return Err(AppError::invalid("TR-F003", "one line only"));
        }
    }
    let next = input
        .next_review
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if let Some(d) = next {
        time::Date::parse(
            d,
            &time::macros::format_description!("[year]-[month]-[day]"),
        )
        .map_err(|_| AppError::invalid("TR-F004", "the review date is YYYY-MM-DD"))?;
    }
    tx.set_routine(key, input.owner.trim(), input.document.trim(), next, now)
        .await?;
    let e = crate::audit::event(
        &h.organisation().slug,
        &actor,
        Did::new(
            Category::Administration,
            Operation::RoutineSet,
            Action::Update,
            ("routine", Some(key.to_owned())),
        )
        .basis(Basis::Administration),
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    routines(state, by, org, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #15: every ID of the catalogue has a check, a design invariant, a routine or a
    /// reason; a Via names only IDs of the catalogue; every routine named is in the checklist.
    #[test]
    fn every_id_has_a_rule() {
        let items = cat::catalogue();
        let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        for id in &ids {
            let r = rule(id).unwrap_or_else(|| {
                panic!("{id} has neither a check nor an organisation-routine mark")
            });
            match r {
                Rule::Via(via, routine) => {
                    for v in via {
                        assert!(
                            ids.contains(v),
                            "{id} rests on {v}, which is not in the catalogue"
                        );
                        assert!(!v.contains("-RISK-"), "{id} rests on a risk scenario");
                    }
                    if let Some(k) = routine {
                        assert!(cat::routine(k).is_some(), "{id}: routine {k}");
                    }
                }
                Rule::Routine(k) => assert!(cat::routine(k).is_some(), "{id}: routine {k}"),
                _ => {}
            }
        }
        // And no rule for an ID the catalogue does not have.
        for probe in ["VC-AUTH-9", "PC-RISK-37", "VC-RISK-22", "PC-X-1"] {
            assert!(rule(probe).is_none(), "{probe}");
        }
    }
}
