//! The organisation administrators' compliance pages (issue #15): the compliance report
//! (`/admin/samsvar`, with the routine checklist and a link to the signed file), the incident
//! register (`/admin/avvik`, one incident at `/admin/avvik/{id}` with its history and the
//! notification report in bokmål and English) and the retention policy (`/admin/lagring`). They
//! call the same use cases as the API; their forms go to the API through `web/static/admin.js`.
//! [`edge_facts`] is what the report's checks read of this crate: the headers every response
//! carries and the outside addresses named in the embedded pages and scripts (there should be
//! none, VC-STORE-2).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use trygg_app::compliance::{By, EdgeFacts, Report};
use trygg_app::incidents::IncidentOut;
use trygg_app::retention::ClassOut;
use trygg_core::incident::State as IState;

use crate::access::Caller;
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::pages::{render, LangQuery, Shell};

/// Every embedded page and script, by name, for the outside-address check.
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        "static/admin.js",
        include_str!("../../../web/static/admin.js"),
    ),
    (
        "static/call.js",
        include_str!("../../../web/static/call.js"),
    ),
    (
        "static/consultation.js",
        include_str!("../../../web/static/consultation.js"),
    ),
    (
        "static/device-key.js",
        include_str!("../../../web/static/device-key.js"),
    ),
    (
        "static/device.js",
        include_str!("../../../web/static/device.js"),
    ),
    (
        "static/e2ee-common.js",
        include_str!("../../../web/static/e2ee-common.js"),
    ),
    (
        "static/e2ee-worker.js",
        include_str!("../../../web/static/e2ee-worker.js"),
    ),
    (
        "static/favicon.svg",
        include_str!("../../../web/static/favicon.svg"),
    ),
    (
        "static/messages.js",
        include_str!("../../../web/static/messages.js"),
    ),
    (
        "static/passkey.js",
        include_str!("../../../web/static/passkey.js"),
    ),
    (
        "static/planner.js",
        include_str!("../../../web/static/planner.js"),
    ),
    (
        "static/trygg.css",
        include_str!("../../../web/static/trygg.css"),
    ),
    (
        "static/trygg.js",
        include_str!("../../../web/static/trygg.js"),
    ),
    (
        "templates/admin.html",
        include_str!("../../../web/templates/admin.html"),
    ),
    (
        "templates/admin_audit.html",
        include_str!("../../../web/templates/admin_audit.html"),
    ),
    (
        "templates/admin_compliance.html",
        include_str!("../../../web/templates/admin_compliance.html"),
    ),
    (
        "templates/admin_devices.html",
        include_str!("../../../web/templates/admin_devices.html"),
    ),
    (
        "templates/admin_forbidden.html",
        include_str!("../../../web/templates/admin_forbidden.html"),
    ),
    (
        "templates/admin_incident.html",
        include_str!("../../../web/templates/admin_incident.html"),
    ),
    (
        "templates/admin_incidents.html",
        include_str!("../../../web/templates/admin_incidents.html"),
    ),
    (
        "templates/admin_retention.html",
        include_str!("../../../web/templates/admin_retention.html"),
    ),
    (
        "templates/admin_roles.html",
        include_str!("../../../web/templates/admin_roles.html"),
    ),
    (
        "templates/admin_snoop_case.html",
        include_str!("../../../web/templates/admin_snoop_case.html"),
    ),
    (
        "templates/admin_snooping.html",
        include_str!("../../../web/templates/admin_snooping.html"),
    ),
    (
        "templates/base.html",
        include_str!("../../../web/templates/base.html"),
    ),
    (
        "templates/compliance_report.html",
        include_str!("../../../web/templates/compliance_report.html"),
    ),
    (
        "templates/consultations.html",
        include_str!("../../../web/templates/consultations.html"),
    ),
    (
        "templates/device_enrol.html",
        include_str!("../../../web/templates/device_enrol.html"),
    ),
    (
        "templates/enrol.html",
        include_str!("../../../web/templates/enrol.html"),
    ),
    (
        "templates/index.html",
        include_str!("../../../web/templates/index.html"),
    ),
    (
        "templates/join.html",
        include_str!("../../../web/templates/join.html"),
    ),
    (
        "templates/join_invalid.html",
        include_str!("../../../web/templates/join_invalid.html"),
    ),
    (
        "templates/link_invalid.html",
        include_str!("../../../web/templates/link_invalid.html"),
    ),
    (
        "templates/login.html",
        include_str!("../../../web/templates/login.html"),
    ),
    (
        "templates/messages.html",
        include_str!("../../../web/templates/messages.html"),
    ),
    (
        "templates/my_consultations.html",
        include_str!("../../../web/templates/my_consultations.html"),
    ),
    (
        "templates/not_found.html",
        include_str!("../../../web/templates/not_found.html"),
    ),
    (
        "templates/portal.html",
        include_str!("../../../web/templates/portal.html"),
    ),
    (
        "templates/portal_refused.html",
        include_str!("../../../web/templates/portal_refused.html"),
    ),
    (
        "templates/portal_test_login.html",
        include_str!("../../../web/templates/portal_test_login.html"),
    ),
    (
        "templates/portal_thread.html",
        include_str!("../../../web/templates/portal_thread.html"),
    ),
    (
        "templates/signed_in.html",
        include_str!("../../../web/templates/signed_in.html"),
    ),
];

/// The outside addresses in `text`: every `http://` or `https://` that is not an XML
/// namespace name (which names, and is never fetched).
pub fn outside_addresses(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for scheme in ["http://", "https://"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(scheme) {
            let at = from + i;
            let before = &text[..at];
            let namespace = before.ends_with("xmlns=\"") || before.ends_with("xmlns='");
            let end = text[at..]
                .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ')' || c == '`')
                .map_or(text.len(), |e| at + e);
            if !namespace {
                out.push(text[at..end].to_owned());
            }
            from = end.max(at + scheme.len());
        }
    }
    out
}

/// What the report's checks read of the HTTP edge.
pub fn edge_facts() -> EdgeFacts {
    EdgeFacts {
        csp: crate::app::CSP.to_owned(),
        cache_control: crate::app::CACHE_CONTROL.to_owned(),
        external_urls: EMBEDDED
            .iter()
            .flat_map(|(name, text)| {
                outside_addresses(text)
                    .into_iter()
                    .map(move |u| format!("{name}: {u}"))
            })
            .collect(),
    }
}

/// The texts of the compliance pages.
pub struct CStrings {
    /// Subnavigation label.
    pub nav: &'static str,
    /// Compliance page title.
    pub compliance: &'static str,
    /// Its lead.
    pub compliance_lead: &'static str,
    /// Incident register title.
    pub incidents: &'static str,
    /// Its lead.
    pub incidents_lead: &'static str,
    /// Retention title.
    pub retention: &'static str,
    /// Its lead.
    pub retention_lead: &'static str,
    /// Download the signed report.
    pub download: &'static str,
    /// Report facts heading.
    pub about_report: &'static str,
    /// Labels.
    pub organisation: &'static str,
    /// Label.
    pub version: &'static str,
    /// Label.
    pub config_hash: &'static str,
    /// Label.
    pub made: &'static str,
    /// Label.
    pub checkpoint: &'static str,
    /// Label.
    pub fingerprint: &'static str,
    /// Heading.
    pub counters: &'static str,
    /// Counter.
    pub overdue_reviews: &'static str,
    /// Counter.
    pub emergency_unreviewed: &'static str,
    /// Counter.
    pub open_incidents: &'static str,
    /// Counter.
    pub past_deadline: &'static str,
    /// Counter.
    pub routines_overdue: &'static str,
    /// Counter.
    pub last_run: &'static str,
    /// Never.
    pub never: &'static str,
    /// Rows heading.
    pub requirements: &'static str,
    /// Column.
    pub id: &'static str,
    /// Column.
    pub requirement: &'static str,
    /// Column.
    pub status: &'static str,
    /// Column.
    pub evidence: &'static str,
    /// Routine checklist heading.
    pub routines: &'static str,
    /// Column.
    pub routine: &'static str,
    /// Column.
    pub owner: &'static str,
    /// Owner hint.
    pub owner_hint: &'static str,
    /// Column.
    pub document: &'static str,
    /// Column.
    pub next_review: &'static str,
    /// Overdue.
    pub overdue: &'static str,
    /// Save.
    pub save: &'static str,
    /// Column.
    pub reference: &'static str,
    /// Column.
    pub title_col: &'static str,
    /// Column.
    pub clock: &'static str,
    /// Column.
    pub source: &'static str,
    /// New incident heading.
    pub new_incident: &'static str,
    /// Field.
    pub what_happened: &'static str,
    /// Field.
    pub cause: &'static str,
    /// Field.
    pub occurred: &'static str,
    /// Field.
    pub discovered: &'static str,
    /// Field.
    pub aware: &'static str,
    /// Aware hint.
    pub aware_hint: &'static str,
    /// Register button.
    pub register: &'static str,
    /// No incidents.
    pub none: &'static str,
    /// Update heading.
    pub update: &'static str,
    /// Field.
    pub next_state: &'static str,
    /// Breach type legend.
    pub breach: &'static str,
    /// Checkbox.
    pub confidentiality: &'static str,
    /// Checkbox.
    pub integrity: &'static str,
    /// Checkbox.
    pub availability: &'static str,
    /// Field.
    pub categories: &'static str,
    /// Field.
    pub people: &'static str,
    /// Field.
    pub records: &'static str,
    /// Field.
    pub patients: &'static str,
    /// Hint.
    pub patients_hint: &'static str,
    /// Field.
    pub risk: &'static str,
    /// Option.
    pub risk_none: &'static str,
    /// Option.
    pub risk_some: &'static str,
    /// Option.
    pub risk_high: &'static str,
    /// Field.
    pub rationale: &'static str,
    /// Field.
    pub measures: &'static str,
    /// Hint.
    pub measures_hint: &'static str,
    /// Field.
    pub notify_authority: &'static str,
    /// Field.
    pub notify_people: &'static str,
    /// Option.
    pub undecided: &'static str,
    /// Option.
    pub yes: &'static str,
    /// Option.
    pub no: &'static str,
    /// Field.
    pub no_reason: &'static str,
    /// Field.
    pub observed: &'static str,
    /// History heading.
    pub history: &'static str,
    /// Column.
    pub version_col: &'static str,
    /// Column.
    pub by: &'static str,
    /// Report heading.
    pub report_nb: &'static str,
    /// Report heading.
    pub report_en: &'static str,
    /// Column.
    pub class: &'static str,
    /// Column.
    pub kept: &'static str,
    /// Column.
    pub limits: &'static str,
    /// Column.
    pub default_col: &'static str,
    /// Unit.
    pub months: &'static str,
    /// Unit.
    pub years: &'static str,
    /// Run counts.
    pub last_run_counts: &'static str,
    /// Back link.
    pub back: &'static str,
}

/// The texts in `lang`.
pub fn strings(lang: Lang) -> CStrings {
    let p = |nb, nn, en| lang.pick(nb, nn, en);
    CStrings {
        nav: p("Samsvar", "Samsvar", "Compliance"),
        compliance: p("Samsvar med Normen", "Samsvar med Normen", "Compliance with Normen"),
        compliance_lead: p(
            "Rapporten er laget nå fra den levende konfigurasjonen: ett punkt per krav og risikoscenario, med bevis, innstilling og hvem som endret den sist. Den er signert, og fingeravtrykket står i loggen.",
            "Rapporten er laga no frå den levande konfigurasjonen: eitt punkt per krav og risikoscenario, med prov, innstilling og kven som endra ho sist. Han er signert, og fingeravtrykket står i loggen.",
            "The report is made now from the live configuration: one row per requirement and risk scenario, with evidence, setting and who changed it last. It is signed, and its fingerprint is in the audit log.",
        ),
        incidents: p("Avvik", "Avvik", "Incidents"),
        incidents_lead: p(
            "Avviksregisteret. Fristen for å melde til Datatilsynet er 72 timer fra virksomheten ble kjent med bruddet. Sikkerhetshendelser i loggen oppretter utkast selv.",
            "Avviksregisteret. Fristen for å melde til Datatilsynet er 72 timar frå verksemda vart kjend med brotet. Tryggleikshendingar i loggen opprettar utkast sjølv.",
            "The incident register. The deadline to notify the Data Protection Authority is 72 hours from when the organisation became aware. Security events in the audit log open drafts by themselves.",
        ),
        retention: p("Lagringstid", "Lagringstid", "Retention"),
        retention_lead: p(
            "Hvor lenge hver type opplysninger lagres. Slettejobben sletter det som har passert fristen, og hver kjøring logges. Loggen kan fortsatt kontrolleres etter sletting.",
            "Kor lenge kvar type opplysningar blir lagra. Slettejobben slettar det som har passert fristen, og kvar køyring blir logga. Loggen kan framleis kontrollerast etter sletting.",
            "How long each kind of data is kept. The retention job deletes what is past its time, and each run is logged. The audit log still verifies after deletion.",
        ),
        download: p("Last ned signert rapport (JSON)", "Last ned signert rapport (JSON)", "Download the signed report (JSON)"),
        about_report: p("Om rapporten", "Om rapporten", "About the report"),
        organisation: p("Virksomhet", "Verksemd", "Organisation"),
        version: p("Trygg-versjon", "Trygg-versjon", "Trygg version"),
        config_hash: p("Konfigurasjonens fingeravtrykk", "Fingeravtrykket til konfigurasjonen", "Configuration fingerprint"),
        made: p("Laget", "Laga", "Made"),
        checkpoint: p("Loggens siste kontrollpunkt", "Siste kontrollpunkt i loggen", "Audit log's latest checkpoint"),
        fingerprint: p("Rapportens fingeravtrykk (SHA-256)", "Fingeravtrykket til rapporten (SHA-256)", "The report's fingerprint (SHA-256)"),
        counters: p("Nå", "No", "Now"),
        overdue_reviews: p("Forfalte tilgangsgjennomganger", "Forfalne tilgangsgjennomgangar", "Rights reviews overdue"),
        emergency_unreviewed: p("Nødtilganger som ikke er gjennomgått", "Naudtilgangar som ikkje er gjennomgått", "Emergency accesses not yet reviewed"),
        open_incidents: p("Åpne avvik", "Opne avvik", "Open incidents"),
        past_deadline: p("Avvik over 72-timersfristen", "Avvik over 72-timarsfristen", "Incidents past the 72-hour deadline"),
        routines_overdue: p("Rutiner som skulle vært gjennomgått", "Rutinar som skulle vore gjennomgått", "Routines due for review"),
        last_run: p("Siste sletting etter lagringstid", "Siste sletting etter lagringstid", "Last retention run"),
        never: p("aldri", "aldri", "never"),
        requirements: p("Krav og risikoscenarioer", "Krav og risikoscenario", "Requirements and risk scenarios"),
        id: p("Krav", "Krav", "ID"),
        requirement: p("Hva Normen krever", "Kva Normen krev", "What Normen asks"),
        status: p("Status", "Status", "Status"),
        evidence: p("Bevis", "Prov", "Evidence"),
        routines: p("Rutiner", "Rutinar", "Routines"),
        routine: p("Rutine", "Rutine", "Routine"),
        owner: p("Ansvarlig", "Ansvarleg", "Owner"),
        owner_hint: p("Skriv en rolle, ikke et navn.", "Skriv ei rolle, ikkje eit namn.", "Write a role, not a name."),
        document: p("Dokument", "Dokument", "Document"),
        next_review: p("Neste gjennomgang", "Neste gjennomgang", "Next review"),
        overdue: p("forfalt", "forfalle", "overdue"),
        save: p("Lagre", "Lagre", "Save"),
        reference: p("Referanse", "Referanse", "Reference"),
        title_col: p("Tittel", "Tittel", "Title"),
        clock: p("Frist", "Frist", "Deadline"),
        source: p("Kilde", "Kjelde", "Source"),
        new_incident: p("Registrer avvik", "Registrer avvik", "Register an incident"),
        what_happened: p("Hva har skjedd", "Kva har skjedd", "What happened"),
        cause: p("Årsak", "Årsak", "Cause"),
        occurred: p("Når skjedde det", "Når skjedde det", "When it occurred"),
        discovered: p("Når ble det oppdaget", "Når vart det oppdaga", "When it was discovered"),
        aware: p("Når ble virksomheten kjent med det", "Når vart verksemda kjend med det", "When the organisation became aware"),
        aware_hint: p("72-timersfristen regnes herfra. Tomt betyr nå.", "72-timarsfristen blir rekna herifrå. Tomt tyder no.", "The 72-hour deadline counts from here. Empty means now."),
        register: p("Registrer", "Registrer", "Register"),
        none: p("Ingen avvik er registrert.", "Ingen avvik er registrerte.", "No incidents are registered."),
        update: p("Oppdater avviket", "Oppdater avviket", "Update the incident"),
        next_state: p("Status etter endringen", "Status etter endringa", "Status after the change"),
        breach: p("Type brudd", "Type brot", "Type of breach"),
        confidentiality: p("Konfidensialitet", "Konfidensialitet", "Confidentiality"),
        integrity: p("Integritet", "Integritet", "Integrity"),
        availability: p("Tilgjengelighet", "Tilgjenge", "Availability"),
        categories: p("Kategorier personopplysninger", "Kategoriar personopplysningar", "Categories of personal data"),
        people: p("Omtrentlig antall berørte personer", "Omtrentleg tal på råka personar", "Approximate number of people affected"),
        records: p("Omtrentlig antall berørte registreringer", "Omtrentleg tal på råka registreringar", "Approximate number of records affected"),
        patients: p("Berørte pasienter (id-er)", "Råka pasientar (id-ar)", "Affected patients (ids)"),
        patients_hint: p("Én id per linje. Vises aldri i meldingen til Datatilsynet.", "Éin id per linje. Blir aldri vist i meldinga til Datatilsynet.", "One id per line. Never shown in the notification report."),
        risk: p("Vurdering av risiko", "Vurdering av risiko", "Risk assessment"),
        risk_none: p("Lite sannsynlig risiko", "Lite sannsynleg risiko", "Unlikely to result in a risk"),
        risk_some: p("Risiko", "Risiko", "A risk"),
        risk_high: p("Høy risiko", "Høg risiko", "A high risk"),
        rationale: p("Begrunnelse", "Grunngiving", "Rationale"),
        measures: p("Tiltak", "Tiltak", "Measures"),
        measures_hint: p("Ett tiltak per linje: hva | ansvarlig | ÅÅÅÅ-MM-DD", "Eitt tiltak per linje: kva | ansvarleg | ÅÅÅÅ-MM-DD", "One measure per line: what | owner | YYYY-MM-DD"),
        notify_authority: p("Melde til Datatilsynet", "Melde til Datatilsynet", "Notify the Data Protection Authority"),
        notify_people: p("Varsle de berørte", "Varsle dei råka", "Tell the people affected"),
        undecided: p("Ikke avgjort", "Ikkje avgjort", "Not decided"),
        yes: p("Ja", "Ja", "Yes"),
        no: p("Nei", "Nei", "No"),
        no_reason: p("Begrunnelse for ikke å varsle", "Grunngiving for ikkje å varsle", "Reason not to notify"),
        observed: p("Hva Trygg så i loggen", "Kva Trygg såg i loggen", "What Trygg saw in the audit log"),
        history: p("Historikk", "Historikk", "History"),
        version_col: p("Versjon", "Versjon", "Version"),
        by: p("Av", "Av", "By"),
        report_nb: p("Melding til Datatilsynet (bokmål)", "Melding til Datatilsynet (bokmål)", "Notification report (Norwegian)"),
        report_en: p("Melding til Datatilsynet (engelsk)", "Melding til Datatilsynet (engelsk)", "Notification report (English)"),
        class: p("Opplysninger", "Opplysningar", "Data"),
        kept: p("Lagres", "Blir lagra", "Kept"),
        limits: p("Tillatt", "Tillate", "Allowed"),
        default_col: p("Standard", "Standard", "Default"),
        months: p("måneder", "månader", "months"),
        years: p("år", "år", "years"),
        last_run_counts: p("Slettet ved siste kjøring", "Sletta ved siste køyring", "Deleted at the last run"),
        back: p("Tilbake til avvikene", "Tilbake til avvika", "Back to the incidents"),
    }
}

/// A status in words.
pub fn status_words(code: &str, lang: Lang) -> &'static str {
    match code {
        "met" => lang.pick("Oppfylt", "Oppfylt", "Met"),
        "met-by-setting" => lang.pick(
            "Oppfylt med innstilling",
            "Oppfylt med innstilling",
            "Met by setting",
        ),
        "organisation-routine" => lang.pick(
            "Virksomhetens rutine",
            "Verksemda si rutine",
            "Organisation's routine",
        ),
        "not-applicable" => lang.pick("Ikke relevant", "Ikkje relevant", "Not applicable"),
        _ => lang.pick("Ikke oppfylt", "Ikkje oppfylt", "Not met"),
    }
}

/// Evidence with the codes people do not read put in words: permissions and roles (issue #14).
fn in_words(text: &str, lang: Lang) -> String {
    let mut t = text.to_owned();
    for p in trygg_core::access::Permission::ALL {
        t = t.replace(p.as_str(), trygg_core::words::permission(p, lang));
    }
    for r in trygg_core::BuiltinRole::ALL {
        t = t.replace(
            &format!("({})", r.as_str()),
            &format!("({})", trygg_core::words::role(r, lang)),
        );
    }
    t
}

/// The rows and the summary as people read them.
fn views(
    report: &Report,
    lang: Lang,
    w: &crate::nav::Words,
) -> (Vec<RowView>, Vec<(&'static str, u64)>) {
    let rows = report
        .rows
        .iter()
        .map(|r| RowView {
            id: r.id.clone(),
            requirement: r.requirement.clone(),
            source: r.source.clone(),
            status: r.status.as_str().to_owned(),
            status_words: status_words(r.status.as_str(), lang),
            evidence: r
                .evidence
                .iter()
                .map(|e| match &e.setting {
                    Some(s) => format!(
                        "{} [{}: {} / {}; {}{}]",
                        e.result,
                        s.setting,
                        s.current,
                        s.recommended,
                        s.changed_by.as_deref().unwrap_or("-"),
                        s.changed_at
                            .as_deref()
                            .map(|t| format!(", {}", w.when(t)))
                            .unwrap_or_default()
                    ),
                    None => e.result.clone(),
                })
                .map(|t| in_words(&t, lang))
                .collect(),
        })
        .collect();
    let summary = [
        "not-met",
        "organisation-routine",
        "met-by-setting",
        "met",
        "not-applicable",
    ]
    .into_iter()
    .map(|k| {
        (
            status_words(k, lang),
            report.summary.get(k).copied().unwrap_or(0),
        )
    })
    .collect();
    (rows, summary)
}

#[derive(Template)]
#[template(path = "compliance_report.html")]
struct ReportFile<'a> {
    lang: &'a str,
    c: CStrings,
    report: &'a Report,
    rows: Vec<RowView>,
    summary: Vec<(&'static str, u64)>,
    sha256: &'a str,
    signature: &'a str,
}

/// The signed report as one HTML document (`trygg compliance report --html`): everything the
/// JSON holds, in words, with the fingerprint and the signature (the JSON is what
/// `trygg compliance verify` checks).
pub fn report_html(
    signed: &trygg_app::compliance::Signed,
    lang: Lang,
    zone: trygg_core::words::Zone,
) -> Result<String, askama::Error> {
    let w = crate::nav::Words(lang, zone);
    let (rows, summary) = views(&signed.report, lang, &w);
    ReportFile {
        lang: lang.tag(),
        c: strings(lang),
        report: &signed.report,
        rows,
        summary,
        sha256: &signed.sha256,
        signature: &signed.signature,
    }
    .render()
}

/// A row as the page shows it.
pub struct RowView {
    id: String,
    requirement: String,
    source: String,
    status: String,
    status_words: &'static str,
    evidence: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin_compliance.html")]
struct CompliancePage {
    shell: Shell,
    c: CStrings,
    a: &'static crate::admin::AdminStrings,
    org: String,
    csrf: String,
    report: Report,
    rows: Vec<RowView>,
    summary: Vec<(&'static str, u64)>,
    sha256: String,
    checkpoint: String,
    made: String,
    last_run: String,
    lang_en: bool,
}

/// An incident as a line of the register.
pub struct IncidentLine {
    id: String,
    reference: String,
    title: String,
    state: &'static str,
    source: &'static str,
    clock: String,
    overdue: bool,
    aware: String,
}

#[derive(Template)]
#[template(path = "admin_incidents.html")]
struct IncidentsPage {
    shell: Shell,
    c: CStrings,
    a: &'static crate::admin::AdminStrings,
    org: String,
    csrf: String,
    lines: Vec<IncidentLine>,
}

#[derive(Template)]
#[template(path = "admin_incident.html")]
struct IncidentPage {
    shell: Shell,
    c: CStrings,
    a: &'static crate::admin::AdminStrings,
    org: String,
    csrf: String,
    cur: IncidentOut,
    line: IncidentLine,
    states: Vec<(&'static str, &'static str, bool)>,
    history: Vec<(u32, &'static str, String, String)>,
    measures: String,
    patients: String,
    report_nb: String,
    report_en: String,
    closed: bool,
}

#[derive(Template)]
#[template(path = "admin_retention.html")]
struct RetentionPage {
    shell: Shell,
    c: CStrings,
    a: &'static crate::admin::AdminStrings,
    org: String,
    csrf: String,
    classes: Vec<(ClassOut, String, bool)>,
    last_run: String,
    counts: String,
}

/// The compliance routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/samsvar", get(compliance))
        .route("/admin/avvik", get(incidents))
        .route("/admin/avvik/{id}", get(incident))
        .route("/admin/lagring", get(retention))
}

fn to_login(lang: Lang) -> Response {
    Redirect::to(&format!("/personell?lang={}", lang.tag())).into_response()
}

fn source_words(s: &str, lang: Lang) -> &'static str {
    match s {
        "security-event" => lang.pick(
            "Sikkerhetshendelse i loggen",
            "Tryggleikshending i loggen",
            "Security event in the audit log",
        ),
        "processor-notice" => lang.pick(
            "Melding fra databehandler",
            "Melding frå databehandlar",
            "Notice from a processor",
        ),
        _ => lang.pick(
            "Meldt av en person",
            "Meldt av ein person",
            "Reported by a person",
        ),
    }
}

fn line(i: &IncidentOut, lang: Lang, w: &crate::nav::Words) -> IncidentLine {
    let state = IState::parse(&i.state).unwrap_or(IState::Reported);
    IncidentLine {
        id: i.id.to_string(),
        reference: i.reference.clone(),
        title: i.facts.title.clone(),
        state: state.words(lang),
        source: source_words(&i.source, lang),
        clock: i.clock.words(lang),
        overdue: matches!(i.clock, trygg_core::incident::Clock::Overdue { .. }),
        aware: w.when(&i.aware_at),
    }
}

async fn compliance(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    principal: Result<Principal, ApiError>,
) -> Response {
    let lang = Lang::from_query(q.lang.as_deref());
    let Ok(p) = principal else {
        return to_login(lang);
    };
    let caller = Caller::from(&p);
    let org = caller.org.to_string();
    let edge = edge_facts();
    match trygg_app::compliance::report(&state, By::Person(&caller), &org, &edge, state.now())
        .await
        .map_err(ApiError::from)
    {
        Ok(signed) => {
            let w = crate::nav::Words(lang, state.config.zone());
            let (rows, summary) = views(&signed.report, lang, &w);
            let report = signed.report;
            render(
                &CompliancePage {
                    shell: Shell::signed_in(&state, &p, lang, "/admin/samsvar").await,
                    c: strings(lang),
                    a: crate::admin::strings(lang),
                    csrf: p.csrf_token().to_owned(),
                    rows,
                    summary,
                    sha256: signed.sha256,
                    checkpoint: report
                        .header
                        .audit_checkpoint
                        .as_deref()
                        .map(|c| c.lines().take(2).collect::<Vec<_>>().join(" · "))
                        .unwrap_or_default(),
                    made: w.when(&report.header.generated_at),
                    last_run: report
                        .counters
                        .last_retention_run
                        .as_deref()
                        .map(|t| w.when(t))
                        .unwrap_or_else(|| strings(lang).never.to_owned()),
                    lang_en: lang == Lang::En,
                    report,
                    org,
                },
                StatusCode::OK,
            )
        }
        Err(e) => crate::admin::refused(&state.config, &org, lang, "/admin/samsvar", e),
    }
}

async fn incidents(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    principal: Result<Principal, ApiError>,
) -> Response {
    let lang = Lang::from_query(q.lang.as_deref());
    let Ok(p) = principal else {
        return to_login(lang);
    };
    let caller = Caller::from(&p);
    let org = caller.org.to_string();
    match trygg_app::incidents::list(&state, By::Person(&caller), &org, state.now())
        .await
        .map_err(ApiError::from)
    {
        Ok(list) => {
            let w = crate::nav::Words(lang, state.config.zone());
            render(
                &IncidentsPage {
                    shell: Shell::signed_in(&state, &p, lang, "/admin/avvik").await,
                    c: strings(lang),
                    a: crate::admin::strings(lang),
                    org,
                    csrf: p.csrf_token().to_owned(),
                    lines: list.iter().map(|i| line(i, lang, &w)).collect(),
                },
                StatusCode::OK,
            )
        }
        Err(e) => crate::admin::refused(&state.config, &org, lang, "/admin/avvik", e),
    }
}

async fn incident(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
    principal: Result<Principal, ApiError>,
) -> Response {
    let lang = Lang::from_query(q.lang.as_deref());
    let Ok(p) = principal else {
        return to_login(lang);
    };
    let caller = Caller::from(&p);
    let org = caller.org.to_string();
    let path = "/admin/avvik";
    let Ok(uid) = uuid::Uuid::try_parse(&id) else {
        return crate::admin::refused(
            &state.config,
            &org,
            lang,
            path,
            ApiError::from(trygg_app::error::AppError::not_found(
                "TR-V404",
                "no such incident",
            )),
        );
    };
    let by = By::Person(&caller);
    let now = state.now();
    let got = async {
        let history = trygg_app::incidents::get(&state, by, &org, uid, now).await?;
        let nb =
            trygg_app::incidents::notification_report(&state, by, &org, uid, Lang::Nb, now).await?;
        let en =
            trygg_app::incidents::notification_report(&state, by, &org, uid, Lang::En, now).await?;
        Ok::<_, trygg_app::error::AppError>((history, nb, en))
    }
    .await
    .map_err(ApiError::from);
    match got {
        Ok((history, report_nb, report_en)) => {
            let Some(cur) = history.last().cloned() else {
                return crate::admin::refused(
                    &state.config,
                    &org,
                    lang,
                    path,
                    ApiError::from(trygg_app::error::AppError::not_found(
                        "TR-V404",
                        "no such incident",
                    )),
                );
            };
            let w = crate::nav::Words(lang, state.config.zone());
            let now_state = IState::parse(&cur.state).unwrap_or(IState::Reported);
            let states = IState::ALL
                .iter()
                .filter(|s| {
                    let i = IState::ALL.iter().position(|x| x == *s).unwrap_or(0);
                    let j = IState::ALL
                        .iter()
                        .position(|x| *x == now_state)
                        .unwrap_or(0);
                    i == j || i == j + 1
                })
                .map(|s| (s.as_str(), s.words(lang), *s == now_state))
                .collect();
            render(
                &IncidentPage {
                    shell: Shell::signed_in(&state, &p, lang, &format!("/admin/avvik/{uid}")).await,
                    c: strings(lang),
                    a: crate::admin::strings(lang),
                    org,
                    csrf: p.csrf_token().to_owned(),
                    line: line(&cur, lang, &w),
                    states,
                    history: history
                        .iter()
                        .map(|v| {
                            (
                                v.version,
                                IState::parse(&v.state)
                                    .unwrap_or(IState::Reported)
                                    .words(lang),
                                v.by.clone(),
                                w.when(&v.at),
                            )
                        })
                        .collect(),
                    measures: cur
                        .facts
                        .measures
                        .iter()
                        .map(|m| format!("{} | {} | {}", m.what, m.owner, m.due))
                        .collect::<Vec<_>>()
                        .join("\n"),
                    patients: cur.facts.affected_patients.join("\n"),
                    report_nb,
                    report_en,
                    closed: now_state == IState::Closed,
                    cur,
                },
                StatusCode::OK,
            )
        }
        Err(e) => crate::admin::refused(&state.config, &org, lang, path, e),
    }
}

async fn retention(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    principal: Result<Principal, ApiError>,
) -> Response {
    let lang = Lang::from_query(q.lang.as_deref());
    let Ok(p) = principal else {
        return to_login(lang);
    };
    let caller = Caller::from(&p);
    let org = caller.org.to_string();
    let c = strings(lang);
    let got = async {
        let policy =
            trygg_app::retention::policy(&state, By::Person(&caller), &org, state.now()).await?;
        let last =
            trygg_app::retention::last_run_by(&state, By::Person(&caller), &org, state.now())
                .await?;
        Ok::<_, trygg_app::error::AppError>((policy, last))
    }
    .await
    .map_err(ApiError::from);
    match got {
        Ok((policy, last)) => {
            let w = crate::nav::Words(lang, state.config.zone());
            let (last_run, counts) = match last {
                Some((at, r)) => (
                    w.when(&at),
                    lang.pick(
                        format!(
                            "meldinger {}, logginnhold {}, tilganger {}, avvik {}",
                            r.messages, r.audit_payloads, r.grant_records, r.incidents
                        ),
                        format!(
                            "meldingar {}, logginnhald {}, tilgangar {}, avvik {}",
                            r.messages, r.audit_payloads, r.grant_records, r.incidents
                        ),
                        format!(
                            "messages {}, audit contents {}, grant records {}, incidents {}",
                            r.messages, r.audit_payloads, r.grant_records, r.incidents
                        ),
                    ),
                ),
                None => (c.never.to_owned(), String::new()),
            };
            let classes = policy
                .into_iter()
                .map(|k| {
                    let words = if lang == Lang::En {
                        k.en.clone()
                    } else {
                        k.nb.clone()
                    };
                    let fixed = k.min == k.max;
                    (k, words, fixed)
                })
                .collect();
            render(
                &RetentionPage {
                    shell: Shell::signed_in(&state, &p, lang, "/admin/lagring").await,
                    c,
                    a: crate::admin::strings(lang),
                    org,
                    csrf: p.csrf_token().to_owned(),
                    classes,
                    last_run,
                    counts,
                },
                StatusCode::OK,
            )
        }
        Err(e) => crate::admin::refused(&state.config, &org, lang, "/admin/lagring", e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_under_web_is_scanned_and_names_no_outside_address() {
        // VC-STORE-2: the list above covers every file of web/static and web/templates.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
        for dir in ["static", "templates"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let name = format!("{dir}/{}", entry.unwrap().file_name().to_string_lossy());
                assert!(
                    EMBEDDED.iter().any(|(n, _)| *n == name),
                    "{name} is not in EMBEDDED"
                );
            }
        }
        assert_eq!(edge_facts().external_urls, Vec::<String>::new());
        assert_eq!(
            outside_addresses("<img src=\"https://cdn.example/x.png\">"),
            ["https://cdn.example/x.png"]
        );
        assert!(outside_addresses("<svg xmlns=\"http://www.w3.org/2000/svg\">").is_empty());
    }
}
