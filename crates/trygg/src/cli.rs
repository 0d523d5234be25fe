//! The `trygg` command line: `serve`, `demo`, and administration commands an operator can script.
//! Every command takes `--data-dir` and `--config` as `serve` does; commands whose output a
//! script reads take `--json`. Errors are plain messages on stderr with a non-zero exit code.
//! An administration command parses its arguments, reads the time once, calls the use case of
//! the operator at the console (`trygg_app::operator`, `trygg_app::orgs`, with the caller
//! `Console`; they write the audit entry) and prints the answer; it reaches no store itself
//! (`personnel enrol-link` aside, which moves with the login code).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use trygg_app::operator::{self, Console};
use trygg_app::AppError;
use trygg_core::OrgSlug;

use trygg_server::config::{Config, Overrides};
use trygg_server::serve;

/// Trygg: secure video consultation and patient messaging for Norwegian health organisations.
#[derive(Debug, Parser)]
#[command(name = "trygg", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Options every command shares.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Data directory (control database, one database per organisation, master key).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Configuration file (TOML). Default: ./trygg.toml if it exists.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Run the server on the embedded default with demo data (two organisations).
    Demo {
        #[command(flatten)]
        common: Common,
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Manage organisations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Personnel accounts: enrolment links for passkeys.
    Personnel {
        #[command(subcommand)]
        command: PersonnelCommand,
    },
    /// Keys for OpenID Connect providers (issue #13).
    Oidc {
        #[command(subcommand)]
        command: OidcCommand,
    },
    /// Patients of an organisation (ids for consultations).
    Patient {
        #[command(subcommand)]
        command: PatientCommand,
    },
    /// Planned video consultations: create with invitation links, invite, revoke, list, end,
    /// and the journal note of an ended one (issue #10).
    Consultation {
        #[command(subcommand)]
        command: ConsultationCommand,
    },
    /// Notices to patients by SMS and e-mail through the outbox (issue #12).
    Notice {
        #[command(subcommand)]
        command: NoticeCommand,
    },
    /// A patient's consent to notices, per purpose and channel (PC-CONSENT-1/2).
    Consent {
        #[command(subcommand)]
        command: ConsentCommand,
    },
    /// Manage API tokens for operators and integrations.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Organisation-defined roles (PC-ACL-2).
    Role {
        #[command(subcommand)]
        command: RoleCommand,
    },
    /// The tamper-evident audit log of one organisation.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The compliance report against Normen, signed (issue #15, VC-PBD-2).
    Compliance {
        #[command(subcommand)]
        command: ComplianceCommand,
    },
    /// Retention per data class and the retention job (PC-STORE-1).
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// Snooping in the access log (issue #16).
    Snooping {
        #[command(subcommand)]
        command: SnoopingCommand,
    },
    /// The confidentiality guard for SMS and e-mail (PC-CONF-1).
    Guard {
        #[command(subcommand)]
        command: GuardCommand,
    },
    /// This node at a glance (issue #18): organisations, how many are open and the bound, file
    /// descriptors in use against their bound and the process's limit, as the running server
    /// last wrote them.
    Status {
        #[command(flatten)]
        common: Common,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Apply database migrations ahead of time (issue #18): an organisation's database is
    /// otherwise migrated when it is first opened after an upgrade.
    Migrate {
        #[command(flatten)]
        common: Common,
        /// Every organisation, one at a time.
        #[arg(long, conflicts_with = "org", required_unless_present = "org")]
        all: bool,
        /// Only this organisation (short name).
        #[arg(long)]
        org: Option<String>,
    },
    /// Print every setting with its current value (secrets masked) and the recommended value.
    Config {
        #[command(flatten)]
        common: Common,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Create an organisation with its own database and data key.
    Create {
        #[command(flatten)]
        common: Common,
        /// Display name, e.g. "Normland legesenter".
        #[arg(long)]
        name: String,
        /// Short name; derived from the name when left out.
        #[arg(long)]
        slug: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show or set how the organisation's SMS and e-mail present it, for the confidentiality
    /// guard: neutral sender name, own phone numbers and domains. Given values replace the old.
    Messaging {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// Neutral sender name (default: the organisation's name).
        #[arg(long)]
        sender_name: Option<String>,
        /// The organisation's own phone number (repeat for several).
        #[arg(long = "phone")]
        phones: Vec<String>,
        /// The organisation's own domain (repeat for several).
        #[arg(long = "domain")]
        domains: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List organisations.
    List {
        #[command(flatten)]
        common: Common,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show, or set, whether the organisation requires end-to-end encrypted call media
    /// (VC-ENC-2). `required` (the default): a browser that cannot encrypt is told why and not
    /// let in. `allowed`: such a browser takes part, and a call with one is encrypted per hop
    /// only, shown to everyone as not end-to-end encrypted. Setting it is an audited change.
    E2ee {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// `required` or `allowed`; without it, the policy in force is shown.
        policy: Option<String>,
    },
    /// Show, or set, the minimum login assurance per permission (PC-AUTHN-3). Defaults: high
    /// for health-read, health-write and emergency-access; substantial for other patient data
    /// and credentials-manage; low for the rest. Setting one is an audited change.
    Assurance {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// The permission to set (e.g. health-read); with --level.
        #[arg(long, requires = "level")]
        permission: Option<String>,
        /// low, substantial or high.
        #[arg(long, requires = "permission")]
        level: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Issue a new set-up link for the organisation's first administrator (the previous one
    /// revoked), shown once here; refused once an administrator has a passkey (issue #18).
    SetupLink {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
    },
    /// Export everything Trygg holds for the organisation at its exit (issue #16, VC-DPA-1):
    /// FHIR R4 NDJSON, the records FHIR has no place for, a signed compliance report and the
    /// audit log with its checkpoints, every file encrypted with age to the organisation's
    /// recipient, and a signed manifest.json written last. The directory must be new or empty.
    Export {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// The directory to write.
        #[arg(long)]
        to: PathBuf,
        /// The organisation's age X25519 recipient (`age1…`, from `age-keygen`).
        #[arg(long)]
        recipient: String,
    },
    /// Check an export without the database: the manifest's signature and every file's hash;
    /// with the organisation's identity, every file decrypted and the audit log verified.
    VerifyExport {
        #[command(flatten)]
        common: Common,
        /// The export directory.
        dir: PathBuf,
        /// The organisation's age identity file (`AGE-SECRET-KEY-1…`).
        #[arg(long)]
        identity: Option<PathBuf>,
        /// The verifier key the exporting deployment published; without it the key the manifest
        /// names is used and printed.
        #[arg(long)]
        key: Option<String>,
    },
    /// Import an export into this deployment as a new organisation (issue #16): the export is
    /// checked whole first (signature, hashes, contents, the audit log against its
    /// checkpoints), then every record written in one unit with one `org.import` entry naming
    /// the old log's size and root. People enrol again; invitations and codes are not carried.
    Import {
        #[command(flatten)]
        common: Common,
        /// The export directory.
        #[arg(long)]
        from: PathBuf,
        /// The organisation's age identity file (`AGE-SECRET-KEY-1…`).
        #[arg(long)]
        identity: PathBuf,
        /// The exporting deployment's published document key (verifier key text, as its
        /// compliance report and `trygg org verify-export` show it). Required: anyone can
        /// encrypt to the organisation's public recipient and sign a manifest of their own.
        #[arg(long)]
        key: String,
        /// The short name here (the export's when left out).
        #[arg(long)]
        slug: Option<String>,
    },
    /// Delete the organisation after its complete export (issue #16, VC-DPA-1, PC-VENDOR-4):
    /// its data key is destroyed (crypto-shredding), its database and control rows removed, and
    /// a deletion certificate signed with the deployment key written. Refused unless the
    /// manifest is of a complete export of this organisation, signed here, with every file
    /// present and nothing logged since. Stop the server first.
    Delete {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// The manifest of the organisation's complete export.
        #[arg(long)]
        export_manifest: PathBuf,
        /// Where to write the certificate (a new file).
        #[arg(long)]
        certificate: PathBuf,
        /// How long this deployment keeps backups, in days (stated in the certificate).
        #[arg(long, default_value_t = 30)]
        backup_days: u32,
    },
    /// Check a deletion certificate against this deployment's key, and that the organisation
    /// is gone from this deployment.
    VerifyDeletion {
        #[command(flatten)]
        common: Common,
        /// The certificate file.
        file: PathBuf,
        /// Check it anywhere against the key the deployment published (its verifier key text)
        /// instead of this deployment's own; then whether the organisation is gone is not
        /// looked at.
        #[arg(long)]
        key: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum RoleCommand {
    /// Define or redefine one of the organisation's own roles, e.g.
    /// `--name helsesekretaer-lab --permissions patient-read,consultation-manage`.
    Define {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// The role's name (a-z, 0-9, '-'; not a built-in role's).
        #[arg(long)]
        name: String,
        /// Comma-separated permissions (see /admin/roles or the README).
        #[arg(long, value_delimiter = ',')]
        permissions: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ComplianceCommand {
    /// Make the organisation's report from the live configuration, sign it with the
    /// deployment's key and append its hash to the audit log. Prints a summary, or the signed
    /// JSON, or an HTML document.
    Report {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// Print the signed JSON (what `trygg compliance verify` checks).
        #[arg(long, conflicts_with = "html")]
        json: bool,
        /// Print one HTML document.
        #[arg(long)]
        html: bool,
        /// The HTML's language: nb, nn or en.
        #[arg(long, default_value = "nb")]
        lang: String,
    },
    /// Check a saved signed report (the JSON) against this deployment's key; with --org, also
    /// that the organisation's audit log holds its hash.
    Verify {
        #[command(flatten)]
        common: Common,
        /// The file.
        #[arg(long)]
        file: PathBuf,
        /// Organisation short name.
        #[arg(long)]
        org: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum SnoopingCommand {
    /// Judge one day of the organisation's access log: explained accesses never alert; the rest
    /// are scored into cases (ids and reasons, no names). The reading is logged.
    Detect {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// The day (YYYY-MM-DD, UTC); yesterday when not given.
        #[arg(long)]
        day: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum RetentionCommand {
    /// Show the organisation's retention per data class, or set one class within its limits.
    Policy {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// The class to set (messages, audit-log, grant-records, security-events,
        /// incident-register).
        #[arg(long, requires = "value")]
        class: Option<String>,
        /// Its new value, in the class's unit.
        #[arg(long, requires = "class")]
        value: Option<u32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the retention job now (every organisation, or one); the server runs it every hour.
    Run {
        #[command(flatten)]
        common: Common,
        /// Organisation short name (all when not given).
        #[arg(long)]
        org: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Verify the whole log: exit 0 when intact, 1 naming the first bad entry otherwise.
    Verify {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Export the log as a FHIR R4 Bundle of AuditEvent (the export is itself logged).
    Export {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Fhir)]
        format: ExportFormat,
        /// Only events about this patient (patient id).
        #[arg(long)]
        patient: Option<uuid::Uuid>,
    },
    /// Print the newest signed checkpoint (C2SP signed note).
    Checkpoint {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
    },
}

#[derive(Debug, Subcommand)]
enum GuardCommand {
    /// Screen one message (TEXT), or with --jsonl every line of standard input
    /// (`{"channel": "sms"|"email", "text": "…"}`), writing one JSON verdict per line in order.
    Check {
        #[command(flatten)]
        common: Common,
        /// The channel of TEXT.
        #[arg(long, value_enum)]
        channel: Option<GuardChannel>,
        /// Use this organisation's name as the neutral sender name.
        #[arg(long)]
        org: Option<String>,
        /// Print the verdict as JSON.
        #[arg(long)]
        json: bool,
        /// Read JSON Lines from standard input.
        #[arg(long, conflicts_with = "text")]
        jsonl: bool,
        /// The message.
        text: Option<String>,
    },
    /// Precision and recall per verdict and reason on a labelled corpus (the format of
    /// crates/guard/corpus: JSON Lines with channel, text, verdict and reasons).
    Eval {
        #[command(flatten)]
        common: Common,
        /// The corpus file.
        file: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A channel the guard screens for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum GuardChannel {
    /// SMS.
    Sms,
    /// Ordinary (not end-to-end encrypted) e-mail.
    Email,
}

impl From<GuardChannel> for trygg_guard::Channel {
    fn from(c: GuardChannel) -> Self {
        match c {
            GuardChannel::Sms => Self::Sms,
            GuardChannel::Email => Self::Email,
        }
    }
}

/// Export formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    /// FHIR R4 Bundle of AuditEvent resources (JSON).
    Fhir,
}

#[derive(Debug, Subcommand)]
enum OidcCommand {
    /// Make a P-256 key for Trygg's client assertions at HelseID: writes it (base64 PKCS#8,
    /// readable only by its owner; an existing file is never overwritten) for
    /// `helseid_key_file`, and prints its public JWK to register with HelseID.
    Key {
        /// Where to write the key.
        #[arg(long)]
        out: std::path::PathBuf,
        /// The key's id (`kid`) in the JWK.
        #[arg(long, default_value = "trygg-1")]
        kid: String,
    },
}

#[derive(Debug, Subcommand)]
enum PersonnelCommand {
    /// List the organisation's personnel (an audited access).
    List {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set a staff member's facts from the population register for log control (issue #16,
    /// PC-ACL-1): their national identity number (so their own record and a colleague's are
    /// recognised) and address, sealed under the organisation's key. Left out: cleared.
    Facts {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// The person's id.
        #[arg(long)]
        personnel: uuid::Uuid,
        /// Their national identity number. Better: `--stdin`, so it shows in no process list
        /// or shell history.
        #[arg(long)]
        national_id: Option<String>,
        /// Their registered address.
        #[arg(long)]
        address: Option<String>,
        /// Read the facts as JSON from standard input instead:
        /// `{"national_id": "...", "address": "..."}`.
        #[arg(long, conflicts_with_all = ["national_id", "address"])]
        stdin: bool,
    },
    /// Record the HPR number a person's HelseID login finds them by (logged; only a keyed hash
    /// of it is kept).
    Hpr {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// The person's personnel id.
        #[arg(long)]
        personnel: uuid::Uuid,
        /// The HPR number (one to nine digits).
        #[arg(long)]
        hpr: String,
    },
    /// Link a person to their subject (`sub`) at the deployment's own OpenID provider
    /// (`personnel_oidc_issuer`, e.g. their Entra ID object id), by which that login finds them
    /// (logged; only a keyed hash of issuer and subject is kept).
    OidcSubject {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// The person's personnel id.
        #[arg(long)]
        personnel: uuid::Uuid,
        /// Their subject at the provider.
        #[arg(long)]
        subject: String,
    },
    /// Issue a one-time enrolment link with which a person creates their passkey (logged; a new
    /// link revokes the person's older unused one).
    EnrolLink {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// The person's personnel id.
        #[arg(long)]
        personnel: uuid::Uuid,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum PatientCommand {
    /// List the organisation's patients (an audited access, shown in each patient's log).
    List {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set a patient's facts from the population register for log control (issue #16,
    /// PC-ACL-1): address, protection and registered next of kin, sealed under the organisation's
    /// key; logged in the patient's log. Given values replace the old.
    Facts {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// The patient's id.
        #[arg(long)]
        patient: uuid::Uuid,
        /// The registered address (left out: none).
        #[arg(long)]
        address: Option<String>,
        /// none, confidential, strictly-confidential or public-figure.
        #[arg(long, default_value = "none")]
        protection: String,
        /// A registered next of kin's national identity number (repeat for several). Better:
        /// `--stdin`, so no number shows in the process list or the shell's history.
        #[arg(long = "next-of-kin")]
        next_of_kin: Vec<String>,
        /// Read the facts as JSON from standard input instead:
        /// `{"address": "...", "protection": "...", "next_of_kin": ["..."]}`.
        #[arg(long, conflicts_with_all = ["address", "next_of_kin"])]
        stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ConsentCommand {
    /// Record a consent given (--granted true) or withdrawn (--granted false) on the patient's
    /// word. A withdrawal stops notices already queued.
    Set {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// The patient's id.
        #[arg(long)]
        patient: uuid::Uuid,
        /// appointments, portal-notices or information.
        #[arg(long)]
        purpose: String,
        /// sms or email.
        #[arg(long)]
        channel: String,
        /// true (given) or false (withdrawn).
        #[arg(long, action = clap::ArgAction::Set)]
        granted: bool,
        /// The version of the consent text the patient was shown.
        #[arg(long)]
        text_version: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A patient's consent history, oldest first.
    List {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// The patient's id.
        #[arg(long)]
        patient: uuid::Uuid,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum NoticeCommand {
    /// Queue a notice to a patient from a template; the server's worker delivers it. The text
    /// passes the confidentiality guard: a held one needs --confirm-reason, a blocked one is
    /// refused.
    Send {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// The patient's id.
        #[arg(long)]
        patient: uuid::Uuid,
        /// The kind: appointment-reminder, appointment-confirmation, appointment-change,
        /// appointment-cancellation, new-message, results-ready, prescription-ready,
        /// opening-hours, consultation-invitation (one-time codes come from the login flow
        /// only, never from a command line).
        #[arg(long)]
        kind: String,
        /// sms or email.
        #[arg(long)]
        channel: String,
        /// nb (default), nn or en.
        #[arg(long)]
        lang: Option<String>,
        /// The appointment's time as the patient reads it.
        #[arg(long)]
        when: Option<String>,
        /// A link (https).
        #[arg(long)]
        link: Option<String>,
        /// The organisation's own words (opening-hours).
        #[arg(long)]
        text: Option<String>,
        /// Why a text the guard holds for review may go as it is.
        #[arg(long)]
        confirm_reason: Option<String>,
        /// The consultation an appointment notice is about (needed for appointment-change,
        /// whose JA or NEI by SMS confirms or cancels it).
        #[arg(long)]
        regarding: Option<uuid::Uuid>,
        /// Queue this many identical notices, each with its own id (load and crash tests of the
        /// outbox); prints how many.
        #[arg(long)]
        repeat: Option<u32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The organisation's newest notices and their state (no content).
    List {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// Only this status: queued, sending, sent, delivered, undeliverable, dead.
        #[arg(long)]
        status: Option<String>,
        /// At most this many (default 100).
        #[arg(long)]
        limit: Option<u32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ConsultationCommand {
    /// Plan a consultation and print one invitation link per participant.
    Create {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// The host: a personnel id (with the right to manage consultations).
        #[arg(long)]
        host: uuid::Uuid,
        /// The patient: a patient id or national identity number.
        #[arg(long)]
        patient: String,
        /// An interpreter: a personnel id.
        #[arg(long)]
        interpreter: Option<uuid::Uuid>,
        /// A further participant, ROLE:PERSON (roles: patient, clinician, interpreter,
        /// companion, other-personnel); repeatable.
        #[arg(long = "participant")]
        participants: Vec<String>,
        /// Planned start (RFC 3339, e.g. 2026-12-07T10:00:00+01:00); default now.
        #[arg(long)]
        start: Option<String>,
        /// Planned length in minutes (5 to 480; default 30).
        #[arg(long)]
        minutes: Option<u32>,
        /// `clinician-only`: a meeting about the patient, without them.
        #[arg(long)]
        kind: Option<String>,
        /// Send the patient their link as a notice: sms or email (with their consent to
        /// appointment notices on that channel).
        #[arg(long)]
        notify: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Invite one more participant (ROLE:PERSON), or give an invitation a new link (--renew).
    Invite {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// The consultation's id.
        #[arg(long)]
        consultation: uuid::Uuid,
        /// The participant, ROLE:PERSON.
        #[arg(long, conflicts_with = "renew", required_unless_present = "renew")]
        participant: Option<String>,
        /// The invitation whose link to renew (the old link stops working).
        #[arg(long)]
        renew: Option<uuid::Uuid>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an invitation at once (its holder is disconnected).
    Revoke {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// The consultation's id.
        #[arg(long)]
        consultation: uuid::Uuid,
        /// The invitation's id.
        #[arg(long)]
        invitation: uuid::Uuid,
    },
    /// List consultations planned from twelve hours ago to seven days on (or --from/--to).
    List {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// From (RFC 3339).
        #[arg(long)]
        from: Option<String>,
        /// To (RFC 3339).
        #[arg(long)]
        to: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// End a consultation for everyone (or cancel one that never started).
    End {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// The consultation's id.
        #[arg(long)]
        consultation: uuid::Uuid,
    },
    /// Set the organisation's information text about video consultation and data processing,
    /// shown on the pre-join page (VC-INFO-1), in one language, from a UTF-8 text file.
    Info {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// nb, nn or en.
        #[arg(long)]
        lang: String,
        /// The text file.
        #[arg(long)]
        file: PathBuf,
    },
    /// Print the draft journal note of an ended consultation (VC-LOG-1): text, or with --fhir a
    /// FHIR R4 Encounter.
    Journal {
        #[command(flatten)]
        common: Common,
        /// Organisation short name.
        #[arg(long)]
        org: String,
        /// The consultation's id.
        #[arg(long)]
        consultation: uuid::Uuid,
        /// Print the FHIR resource.
        #[arg(long)]
        fhir: bool,
    },
}

/// `ROLE:PERSON` as a participant.
fn participant_arg(s: &str) -> anyhow::Result<trygg_app::consultations::ParticipantIn> {
    let (role, person) = s.split_once(':').ok_or_else(|| {
        anyhow::anyhow!("a participant is ROLE:PERSON, e.g. clinician:<personnel id>")
    })?;
    Ok(trygg_app::consultations::ParticipantIn {
        role: role.to_owned(),
        person: person.to_owned(),
    })
}

fn time_arg(s: &str) -> anyhow::Result<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
        .map_err(|_| anyhow::anyhow!("{s:?} is not an RFC 3339 time (2026-12-07T10:00:00+01:00)"))
}

/// The base of invitation links for console commands.
fn console_base(common: &Common) -> anyhow::Result<String> {
    let config = load_config(common, None)?;
    let scheme = if config.tls() { "https" } else { "http" };
    Ok(link_base(&config, config.listen, scheme))
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create an API token and print it once.
    Create {
        #[command(flatten)]
        common: Common,
        /// What the token is for.
        #[arg(long)]
        label: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn load_config(common: &Common, listen: Option<SocketAddr>) -> anyhow::Result<Config> {
    Ok(Config::load(
        common.config.as_deref(),
        std::env::vars(),
        &Overrides {
            data_dir: common.data_dir.clone(),
            listen,
        },
    )?)
}

/// The base of links Trygg prints: `public_url`, else `localhost` on the listener's port (the
/// loopback name passkeys work on), else the listen address.
fn link_base(config: &Config, addr: SocketAddr, scheme: &str) -> String {
    if let Some(u) = &config.public_url {
        return u.trim_end_matches('/').to_owned();
    }
    if addr.ip().is_loopback() {
        format!("{scheme}://localhost:{}", addr.port())
    } else {
        format!("{scheme}://{addr}")
    }
}

/// The base of links the console prints: the public URL, else the listen address (https when
/// Trygg terminates TLS itself).
fn console_link_base(config: &Config) -> String {
    let scheme = if config.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    link_base(config, config.listen, scheme)
}

/// A fresh set-up link for one organisation's first administrator (the previous revoked).
async fn setup_link_for(
    app: &trygg_app::App,
    org: &str,
    now: time::OffsetDateTime,
) -> Result<trygg_server::auth::enrol::FirstAdminLink, AppError> {
    let slug = trygg_core::OrgSlug::parse(org)
        .map_err(|_| AppError::not_found("TR-O404", "no such organisation"))?;
    let o = app
        .store
        .org_by_slug(&slug)
        .await?
        .ok_or_else(|| AppError::not_found("TR-O404", "no such organisation"))?;
    trygg_app::credentials::setup_link(
        &app.store,
        &o,
        trygg_server::auth::enrol::link_ttl(&app.config),
        now,
    )
    .await
}

fn print_setup_link(url: &str, ttl_secs: u64) {
    println!("  First administrator set-up: {url}");
    println!(
        "    one-time link, valid for {} h; keep it secret (a new one: trygg org setup-link)",
        ttl_secs / 3600
    );
}

/// Issues the first-administrator links (see `auth::enrol`) before the demo starts.
async fn first_admin_links(
    store: &trygg_store::Store,
    config: &Config,
) -> anyhow::Result<Vec<trygg_server::auth::enrol::FirstAdminLink>> {
    trygg_server::auth::enrol::first_admin_links(
        store,
        trygg_server::auth::enrol::link_ttl(config),
        time::OffsetDateTime::now_utc(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("issuing first-administrator links: {e:?}"))
}

fn print_first_admin_links(
    links: &[trygg_server::auth::enrol::FirstAdminLink],
    base: &str,
    ttl_secs: u64,
) {
    for l in links {
        let what = if l.existing {
            "passkey for the administrator"
        } else {
            "creates the first administrator"
        };
        println!(
            "  First administrator set-up ({}): {}",
            l.org.slug,
            l.url(base)
        );
        println!(
            "    one-time link, {what}, valid for {} h; keep it secret",
            ttl_secs / 3600
        );
    }
}

/// The application for one console command: the store named by the configuration, the real
/// clock.
async fn console_app(common: &Common) -> anyhow::Result<trygg_app::App> {
    let config = load_config(common, None)?;
    let store = Arc::new(crate::startup::open_store(&config).await?);
    crate::startup::app(&config, store)
}

/// A use case's error as one plain line: its detail, or for an internal failure its cause (the
/// console is the operator, so the cause is theirs to see).
fn plain(e: AppError) -> anyhow::Error {
    match (e.kind, e.log) {
        (trygg_app::ErrorKind::Internal, Some(cause)) => anyhow::anyhow!("{}: {cause}", e.code),
        _ => anyhow::anyhow!("{}", e.detail),
    }
}

/// Runs one console use case on a fresh application and closes the store after it, whatever the
/// outcome.
async fn at_console<T, F, Fut>(common: &Common, f: F) -> anyhow::Result<T>
where
    F: FnOnce(trygg_app::App, time::OffsetDateTime) -> Fut,
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    let app = console_app(common).await?;
    // The one reading of the real time for this command.
    let now = app.now();
    let store = app.store.clone();
    let r = f(app, now).await;
    store.close().await;
    r.map_err(plain)
}

/// Reads one JSON value from standard input (at most 64 KiB), or says plainly what is wrong.
fn read_stdin_json<T: serde::de::DeserializeOwned>() -> anyhow::Result<T> {
    use std::io::Read as _;
    let mut text = String::new();
    std::io::stdin()
        .take(64 * 1024)
        .read_to_string(&mut text)
        .map_err(|e| anyhow::anyhow!("standard input: {e}"))?;
    serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("standard input is not the JSON this command reads: {e}"))
}

/// Writes a new file (never over an existing one), readable by its owner only.
fn write_new_file(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents)?;
    f.sync_all()
}

fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Runs the command line; the binary's `main` calls this.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { common, listen } => {
            let config = load_config(&common, listen)?;
            crate::init_logging(config.log_format);
            crate::startup::raise_file_limit(&config);
            let store = Arc::new(crate::startup::open_store(&config).await?);
            let _lock = crate::startup::hold_server_lock(&config)?;
            let app = crate::startup::app(&config, store)?;
            serve::serve(
                app,
                Box::new(move |addr, scheme| {
                    // No set-up link at start (issue #18): `trygg org create` shows the first
                    // administrator's once, `trygg org setup-link` a new one.
                    println!("Trygg is listening on {scheme}://{addr}/");
                }),
            )
            .await
            .map_err(anyhow::Error::from)
        }
        Command::Demo { common, listen } => {
            let mut config = load_config(&common, listen)?;
            // Only here: enables the developer login (loopback only, see `auth::dev`).
            config.demo = true;
            crate::init_logging(config.log_format);
            let store = Arc::new(crate::startup::open_store(&config).await?);
            let _lock = crate::startup::hold_server_lock(&config)?;
            let seeded = crate::demo::seed(&store).await?;
            crate::demo::relax_health_assurance(&store).await?;
            let token = demo_token(&store, &config).await?;
            let orgs: Vec<String> = seeded
                .orgs
                .iter()
                .map(|o| format!("{} ({})", o.name, o.slug))
                .collect();
            let added = seeded.added;
            let links = first_admin_links(&store, &config).await?;
            let printing = config.clone();
            let app = crate::startup::app(&config, store)?;
            serve::serve(
                app,
                Box::new(move |addr, scheme| {
                    let base = format!("{scheme}://{addr}");
                    let links_base = link_base(&printing, addr, scheme);
                    println!("Trygg demo is running ({added} demo records added this time).");
                    println!("  Start page:        {base}/");
                    println!("  API (OpenAPI):     {base}/api/v1/openapi.json");
                    println!("  Health:            {base}/healthz");
                    println!("  Demo API token:    {token}");
                    println!("  Organisations:     {}", orgs.join(", "));
                    println!("  Personnel login:   {links_base}/personell");
                    println!("  Consultations:     {links_base}/personell/konsultasjoner");
                    if let Some(first) = orgs.first() {
                        println!(
                            "  Patient portal:    {links_base}/portal/{first} \
                             (demo test login, not ID-porten: {links_base}/portal/{first}/test-login)"
                        );
                    }
                    println!(
                        "  Plan one at the console: trygg consultation create --help \
                         (ids from trygg personnel list / trygg patient list; set TRYGG_LISTEN \
                         or public_url as for this server, so the links name it)"
                    );
                    println!(
                        "  Note: health data needs a login of assurance high by default (PC-AUTHN-3); \
                         no such login exists yet, so the demo organisations accept substantial \
                         (a passkey) for it."
                    );
                    print_first_admin_links(&links, &links_base, printing.enrolment_link_ttl_secs);
                    println!("Stop with Ctrl-C.");
                }),
            )
            .await
            .map_err(anyhow::Error::from)
        }
        Command::Org { command } => match command {
            OrgCommand::Create {
                common,
                name,
                slug,
                json,
            } => {
                let input = trygg_app::orgs::OrgIn { name, slug };
                let config = load_config(&common, None)?;
                let (org, link) = at_console(&common, |app, now| async move {
                    let org = trygg_app::orgs::create_org(&app, &Console, input, now).await?;
                    // The first administrator's set-up link, shown once, here (issue #18).
                    let link = setup_link_for(&app, &org.slug, now).await?;
                    Ok((org, link))
                })
                .await?;
                let url = link.url(&console_link_base(&config));
                if json {
                    let mut v = serde_json::to_value(&org)?;
                    v["setup_link"] = serde_json::Value::String(url);
                    print_json(&v)?;
                } else {
                    println!("created {} ({})", org.slug, org.name);
                    print_setup_link(&url, config.enrolment_link_ttl_secs);
                }
                Ok(())
            }
            OrgCommand::SetupLink { common, org } => {
                let config = load_config(&common, None)?;
                let link = at_console(&common, |app, now| async move {
                    setup_link_for(&app, &org, now).await
                })
                .await?;
                print_setup_link(
                    &link.url(&console_link_base(&config)),
                    config.enrolment_link_ttl_secs,
                );
                Ok(())
            }
            OrgCommand::Messaging {
                common,
                org,
                sender_name,
                phones,
                domains,
                json,
            } => {
                let input = operator::MessagingIn {
                    sender_name,
                    phones,
                    domains,
                };
                let m = at_console(&common, |app, now| async move {
                    operator::messaging(&app, &Console, &org, input, now).await
                })
                .await?;
                if json {
                    print_json(&m.settings)?;
                } else {
                    println!("sender name: {}", m.sender_name());
                    println!("own phones:  {}", m.settings.phones.join(", "));
                    println!("own domains: {}", m.settings.domains.join(", "));
                }
                Ok(())
            }
            OrgCommand::E2ee {
                common,
                org,
                policy,
            } => {
                let set = match policy.as_deref().map(str::trim) {
                    None => None,
                    Some("required") => Some(true),
                    Some("allowed") => Some(false),
                    Some(other) => {
                        anyhow::bail!("the policy is `required` or `allowed`, not {other:?}")
                    }
                };
                let required = at_console(&common, |app, now| async move {
                    match set {
                        Some(r) => trygg_app::operator::set_e2ee_required(&app, &org, r, now).await,
                        None => trygg_app::operator::e2ee_required(&app, &org).await,
                    }
                })
                .await?;
                println!(
                    "end-to-end encryption: {}",
                    if required { "required" } else { "allowed" }
                );
                Ok(())
            }
            OrgCommand::Assurance {
                common,
                org,
                permission,
                level,
                json,
            } => {
                let set = match (permission, level) {
                    (Some(permission), Some(level)) => {
                        Some(operator::AssuranceIn { permission, level })
                    }
                    _ => None,
                };
                let table = at_console(&common, |app, now| async move {
                    operator::assurance(&app, &Console, &org, set, now).await
                })
                .await?;
                if json {
                    let rows: Vec<_> = table
                        .iter()
                        .map(|r| serde_json::json!({"permission": r.permission, "level": r.level}))
                        .collect();
                    print_json(&rows)?;
                } else {
                    for r in &table {
                        println!("{:<22} {}", r.permission, r.level);
                    }
                }
                Ok(())
            }
            OrgCommand::Export {
                common,
                org,
                to,
                recipient,
            } => {
                trygg_app::exit::recipient(&recipient).map_err(plain)?;
                let edge = trygg_server::compliance_pages::edge_facts();
                let out = at_console(&common, |app, now| async move {
                    let report = trygg_app::compliance::report(
                        &app,
                        trygg_app::compliance::By::Console,
                        &org,
                        &edge,
                        now,
                    )
                    .await?;
                    let input = trygg_app::exit::ExportIn {
                        org,
                        dir: to,
                        recipient,
                        report: Some(report.json),
                    };
                    trygg_app::exit::export(&app, &Console, input, now).await
                })
                .await?;
                for f in &out.manifest.files {
                    println!("{:<48} {:>8} records", f.path, f.records);
                }
                println!(
                    "Export of {} written: {} (SHA-256 {}); audit log of {} entries, root {}",
                    out.manifest.organisation.slug,
                    out.path.display(),
                    out.sha256,
                    out.manifest.audit.tree_size,
                    out.manifest.audit.root
                );
                Ok(())
            }
            OrgCommand::VerifyExport {
                common: _,
                dir,
                identity,
                key,
            } => {
                let id = identity
                    .as_deref()
                    .map(trygg_app::exit::identity_file)
                    .transpose()
                    .map_err(plain)?;
                let now = time::OffsetDateTime::now_utc();
                let c = trygg_app::exit::verify_export(&dir, id.as_ref(), key.as_deref(), now)
                    .map_err(plain)?;
                // What an export says is printed without control characters (a crafted one
                // could carry a terminal's escapes).
                let clean = |t: &str| t.chars().filter(|c| !c.is_control()).collect::<String>();
                println!(
                    "The export of {} made {} is whole: manifest signed by {}; {} files as listed{}",
                    clean(&c.manifest.organisation.slug),
                    clean(&c.manifest.exported_at),
                    c.signed_by,
                    c.manifest.files.len(),
                    if c.decrypted {
                        format!(
                            ", decrypted, and the audit log's {} entries verify against its checkpoints",
                            c.manifest.audit.tree_size
                        )
                    } else {
                        " (give --identity to decrypt and check the contents)".to_owned()
                    }
                );
                Ok(())
            }
            OrgCommand::Import {
                common,
                from,
                identity,
                key,
                slug,
            } => {
                let identity = trygg_app::exit::identity_file(&identity).map_err(plain)?;
                let input = trygg_app::exit::ImportIn {
                    dir: from,
                    identity,
                    expect_key: key,
                    slug,
                };
                let out = at_console(&common, |app, now| async move {
                    trygg_app::exit::import(&app, &Console, input, now).await
                })
                .await?;
                for (kind, n) in &out.counts {
                    println!("{kind:<32} {n:>8}");
                }
                println!(
                    "Imported as {}; the exported audit log's {} entries verified and are named in the import's entry",
                    out.org, out.audit_entries
                );

                Ok(())
            }
            OrgCommand::Delete {
                common,
                org,
                export_manifest,
                certificate,
                backup_days,
            } => {
                if certificate.exists() {
                    anyhow::bail!("{} exists; name a new file", certificate.display());
                }
                if crate::startup::server_running(&load_config(&common, None)?) {
                    anyhow::bail!(
                        "a Trygg server runs on this data directory: stop it first (it keeps the organisation's database open)"
                    );
                }
                let input = trygg_app::exit::DeleteIn {
                    org,
                    manifest: export_manifest,
                    backup_days,
                };
                let cert = at_console(&common, |app, now| async move {
                    trygg_app::exit::delete(&app, &Console, input, now).await
                })
                .await?;
                if let Err(e) = write_new_file(&certificate, cert.text.as_bytes()) {
                    // The deletion is done: the certificate must not be lost with the error.
                    print!("{}", cert.text);
                    anyhow::bail!(
                        "the organisation is deleted, but the certificate could not be written to {} ({e}); it is printed above",
                        certificate.display()
                    );
                }
                println!(
                    "Deleted. The certificate is {}; check it with `trygg org verify-deletion {}`",
                    certificate.display(),
                    certificate.display()
                );
                Ok(())
            }
            OrgCommand::VerifyDeletion { common, file, key } => {
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                if let Some(key) = key {
                    let (org, completed) =
                        trygg_app::exit::verify_deletion_with_key(&text, &key).map_err(plain)?;
                    println!("The certificate verifies: {org} was deleted at {completed}, signed by that key");
                    return Ok(());
                }
                let c = at_console(&common, |app, _| async move {
                    trygg_app::exit::verify_deletion(&app, &text).await
                })
                .await?;
                if !c.absent_here {
                    anyhow::bail!(
                        "the certificate is signed by this deployment, but {} is still here",
                        c.organisation
                    );
                }
                println!(
                    "The certificate verifies: {} was deleted at {}, and nothing of it is left here",
                    c.organisation, c.completed
                );
                Ok(())
            }
            OrgCommand::List { common, json } => {
                let orgs = at_console(&common, |app, _| async move {
                    trygg_app::orgs::list_orgs(&app, &Console).await
                })
                .await?;
                if json {
                    print_json(&orgs)?;
                } else {
                    for o in &orgs {
                        println!("{}\t{}", o.slug, o.name);
                    }
                }
                Ok(())
            }
        },
        Command::Token { command } => match command {
            TokenCommand::Create {
                common,
                label,
                json,
            } => {
                let tok = at_console(&common, |app, now| async move {
                    operator::create_token(&app, &Console, &label, now).await
                })
                .await?;
                if json {
                    print_json(&tok)?;
                } else {
                    println!("{}", tok.token);
                    eprintln!("This is the only time the token is shown. Keep it secret.");
                }
                Ok(())
            }
        },
        Command::Audit { command } => audit_command(command).await,
        Command::Compliance { command } => compliance_command(command).await,
        Command::Retention { command } => retention_command(command).await,
        Command::Snooping {
            command:
                SnoopingCommand::Detect {
                    common,
                    org,
                    day,
                    json,
                },
        } => {
            let day = match day.as_deref() {
                Some(d) => Some(
                    time::Date::parse(
                        d,
                        &time::macros::format_description!("[year]-[month]-[day]"),
                    )
                    .map_err(|_| anyhow::anyhow!("--day is YYYY-MM-DD"))?,
                ),
                None => None,
            };
            let out = at_console(&common, |app, now| async move {
                // Yesterday (in the deployment's time zone) by default: a day still under way
                // gives partial cases, which a later run of the whole day updates.
                let d = match day {
                    Some(d) => d,
                    None => {
                        let today = app.config.zone().local(now).date();
                        today.previous_day().unwrap_or(today)
                    }
                };
                trygg_app::snooping::detect(&app, &Console, &org, d, now).await
            })
            .await?;
            if json {
                print_json(&out)?;
            } else {
                println!(
                    "{} explained, {} unexplained, {} cases",
                    out.explained,
                    out.unexplained,
                    out.cases.len()
                );
                for c in out.cases {
                    println!(
                        "{:>3}  personnel {}  patient {}  {}",
                        c.score,
                        c.actor,
                        c.patient
                            .map_or_else(|| "(the whole day)".to_owned(), |p| p.to_string()),
                        c.words.join("; ")
                    );
                }
            }
            Ok(())
        }
        Command::Role {
            command:
                RoleCommand::Define {
                    common,
                    org,
                    name,
                    permissions,
                },
        } => {
            let input = operator::RoleIn { name, permissions };
            let slug = org.as_str();
            let role = at_console(&common, |app, now| async move {
                operator::define_role(&app, &Console, slug, input, now).await
            })
            .await?;
            println!(
                "defined role {} in {org}: {}",
                role.name,
                role.permissions.join(", ")
            );
            Ok(())
        }
        Command::Guard { command } => guard_command(command).await,
        Command::Personnel {
            command: PersonnelCommand::List { common, org, json },
        } => {
            let list = at_console(&common, |app, now| async move {
                trygg_app::operator::list_personnel(&app, &org, now).await
            })
            .await?;
            if json {
                return print_json(&list);
            }
            for p in list {
                println!("{}  {:<16} {:<10} {}", p.id, p.role, p.employment, p.name);
            }
            Ok(())
        }
        Command::Patient {
            command:
                PatientCommand::Facts {
                    common,
                    org,
                    patient,
                    address,
                    protection,
                    next_of_kin,
                    stdin,
                },
        } => {
            let input = if stdin {
                #[derive(serde::Deserialize)]
                #[serde(deny_unknown_fields)]
                struct In {
                    address: Option<String>,
                    protection: Option<String>,
                    #[serde(default)]
                    next_of_kin: Vec<String>,
                }
                let i: In = read_stdin_json()?;
                trygg_app::register::PatientFactsIn {
                    address: i.address,
                    protection: i.protection.unwrap_or(protection),
                    next_of_kin: i.next_of_kin,
                }
            } else {
                trygg_app::register::PatientFactsIn {
                    address,
                    protection,
                    next_of_kin,
                }
            };
            at_console(&common, |app, now| async move {
                trygg_app::register::set_patient_facts(&app, &Console, &org, patient, input, now)
                    .await
            })
            .await?;
            println!("Recorded the register's facts for {patient}.");
            Ok(())
        }
        Command::Personnel {
            command:
                PersonnelCommand::Facts {
                    common,
                    org,
                    personnel,
                    national_id,
                    address,
                    stdin,
                },
        } => {
            let (national_id, address) = if stdin {
                #[derive(serde::Deserialize)]
                #[serde(deny_unknown_fields)]
                struct In {
                    national_id: Option<String>,
                    address: Option<String>,
                }
                let i: In = read_stdin_json()?;
                (i.national_id, i.address)
            } else {
                (national_id, address)
            };
            at_console(&common, |app, now| async move {
                trygg_app::register::set_personnel_facts(
                    &app,
                    &Console,
                    &org,
                    personnel,
                    national_id,
                    address,
                    now,
                )
                .await
            })
            .await?;
            println!("Recorded the register's facts for {personnel}.");
            Ok(())
        }
        Command::Patient {
            command: PatientCommand::List { common, org, json },
        } => {
            let list = at_console(&common, |app, now| async move {
                trygg_app::operator::list_patients(&app, &org, now).await
            })
            .await?;
            if json {
                return print_json(&list);
            }
            for p in list {
                println!("{}  {}  {}", p.id, p.national_id, p.name);
            }
            Ok(())
        }
        Command::Consultation { command } => consultation_command(command).await,
        Command::Notice { command } => notice_command(command).await,
        Command::Consent { command } => consent_command(command).await,
        Command::Oidc {
            command: OidcCommand::Key { out, kid },
        } => {
            let (der, jwk) = trygg_app::helseid::new_client_key(&kid)
                .map_err(|e| anyhow::anyhow!("{}", e.detail))?;
            trygg_store::crypto::write_private_file(&out, der.as_bytes())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            print_json(&serde_json::json!({ "keys": [jwk] }))?;
            eprintln!(
                "The key is in {} (keep it secret; set helseid_key_file to it). Register the \
                 public key above with HelseID.",
                out.display()
            );
            Ok(())
        }
        Command::Personnel {
            command:
                PersonnelCommand::Hpr {
                    common,
                    org,
                    personnel,
                    hpr,
                },
        } => {
            let (store, h) = open_org(&common, &org).await?;
            let r = trygg_app::helseid::set_hpr_by_console(
                &h,
                personnel,
                &hpr,
                time::OffsetDateTime::now_utc(),
            )
            .await;
            store.close().await;
            r.map_err(|e| anyhow::anyhow!("{}", e.detail))?;
            println!("Recorded: {personnel} logs in with HelseID by that HPR number.");
            Ok(())
        }
        Command::Personnel {
            command:
                PersonnelCommand::OidcSubject {
                    common,
                    org,
                    personnel,
                    subject,
                },
        } => {
            let config = load_config(&common, None)?;
            let (store, h) = open_org(&common, &org).await?;
            let r = trygg_app::helseid::set_oidc_subject_by_console(
                &config,
                &h,
                personnel,
                &subject,
                time::OffsetDateTime::now_utc(),
            )
            .await;
            store.close().await;
            r.map_err(|e| anyhow::anyhow!("{}", e.detail))?;
            println!(
                "Linked: {personnel} logs in through the organisation's provider by that subject."
            );
            Ok(())
        }
        Command::Personnel {
            command:
                PersonnelCommand::EnrolLink {
                    common,
                    org,
                    personnel,
                    json,
                },
        } => {
            let config = load_config(&common, None)?;
            let (store, h) = open_org(&common, &org).await?;
            let ttl = trygg_server::auth::enrol::link_ttl(&config);
            let r = trygg_server::auth::enrol::cli_link(
                &h,
                personnel,
                ttl,
                time::OffsetDateTime::now_utc(),
            )
            .await;
            store.close().await;
            let secret = r.map_err(|e| anyhow::anyhow!("{}", e.detail))?;
            let scheme = if config.tls() { "https" } else { "http" };
            let url = trygg_server::auth::enrol::link_url(
                &link_base(&config, config.listen, scheme),
                h.organisation(),
                &secret,
            );
            if json {
                print_json(&serde_json::json!({
                    "org": org, "personnel_id": personnel, "url": url,
                    "valid_secs": config.enrolment_link_ttl_secs,
                }))?;
            } else {
                println!("{url}");
                eprintln!(
                    "This link works once, for {} h. Give it only to the person it is for.",
                    config.enrolment_link_ttl_secs / 3600
                );
            }
            Ok(())
        }
        Command::Status { common, json } => {
            let config = load_config(&common, None)?;
            let running = crate::startup::server_running(&config);
            let file = trygg_app::node::read_status(&config.data_dir);
            match (running, file) {
                (true, Some(s)) => {
                    if json {
                        print_json(&s)?;
                    } else {
                        print!("{}", s.to_text());
                        let age = time::OffsetDateTime::now_utc() - s.at;
                        if age > time::Duration::seconds(30) {
                            println!(
                                "warning: taken {} s ago; the server writes it every 5 s, so it may be stuck",
                                age.whole_seconds()
                            );
                        }
                    }
                    Ok(())
                }
                (true, None) => anyhow::bail!(
                    "a server runs on {} but has not written its status yet; try again in a few seconds",
                    config.data_dir.display()
                ),
                (false, _) => {
                    let store = crate::startup::open_store(&config).await?;
                    let orgs = store.count_orgs().await?;
                    store.close().await;
                    if json {
                        print_json(&serde_json::json!({ "running": false, "orgs": orgs }))?;
                    } else {
                        println!(
                            "no server runs on {}
organisations:      {orgs}",
                            config.data_dir.display()
                        );
                    }
                    Ok(())
                }
            }
        }
        Command::Migrate { common, all, org } => {
            let config = load_config(&common, None)?;
            if crate::startup::server_running(&config) {
                anyhow::bail!(
                    "a server runs on {}: it migrates each organisation when it opens it; stop it to migrate ahead of time",
                    config.data_dir.display()
                );
            }
            let store = crate::startup::open_store(&config).await?;
            let orgs = match (all, org) {
                (_, Some(slug)) => {
                    let slug = trygg_core::OrgSlug::parse(&slug)
                        .map_err(|e| anyhow::anyhow!("--org: {e}"))?;
                    match store.org_by_slug(&slug).await? {
                        Some(o) => vec![o],
                        None => anyhow::bail!("no organisation named {slug}"),
                    }
                }
                (true, None) => store.list_orgs().await?,
                (false, None) => anyhow::bail!("name --org ORG, or --all"),
            };
            let started = std::time::Instant::now();
            let mut failed = 0usize;
            for o in &orgs {
                // Opening migrates; closing right after keeps one open at a time.
                match store.org_for_job(o).await {
                    Ok(h) => {
                        drop(h);
                        store.close_org(o).await;
                    }
                    Err(e) => {
                        failed += 1;
                        eprintln!("{}: {e}", o.slug);
                    }
                }
            }
            store.close().await;
            println!(
                "{} organisation(s) migrated in {:.1} s",
                orgs.len() - failed,
                started.elapsed().as_secs_f64()
            );
            if failed > 0 {
                anyhow::bail!("{failed} organisation(s) could not be migrated");
            }
            Ok(())
        }
        Command::Config { common, json } => {
            let config = load_config(&common, None)?;
            let rows: Vec<_> = trygg_server::config::settings()
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "key": s.key,
                        "env": format!("TRYGG_{}", s.key.to_ascii_uppercase()),
                        "value": config.display_value(s.key),
                        "default": s.default,
                        "recommended": s.recommended,
                        "doc": s.doc,
                    })
                })
                .collect();
            if json {
                print_json(&rows)?;
            } else {
                for s in trygg_server::config::settings() {
                    println!(
                        "{:<22} = {:<30} (recommended: {})",
                        s.key,
                        config.display_value(s.key),
                        s.recommended.unwrap_or("-")
                    );
                }
            }
            Ok(())
        }
    }
}

/// The demo's API token: created once and kept in `<data_dir>/demo-api-token` (mode 0600), so
/// running the demo twice prints the same token.
async fn demo_token(store: &trygg_store::Store, config: &Config) -> anyhow::Result<String> {
    let path = config.data_dir.join("demo-api-token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        let t = t.trim().to_owned();
        if store.check_api_token(&t).await?.is_some() {
            return Ok(t);
        }
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    }
    let (_, secret) = store
        .create_api_token("demo", time::OffsetDateTime::now_utc())
        .await?;
    trygg_store::crypto::write_private_file(&path, secret.as_bytes())?;
    Ok(secret)
}

async fn open_org(
    common: &Common,
    org: &str,
) -> anyhow::Result<(trygg_store::Store, std::sync::Arc<trygg_store::OrgStore>)> {
    let config = load_config(common, None)?;
    let store = crate::startup::open_store(&config).await?;
    let slug = OrgSlug::parse(org).map_err(|e| anyhow::anyhow!("{e}"))?;
    let Some(o) = store.org_by_slug(&slug).await? else {
        store.close().await;
        anyhow::bail!("no organisation with the short name {org}");
    };
    let h = store.org(&o).await?;
    Ok((store, h))
}

async fn compliance_command(command: ComplianceCommand) -> anyhow::Result<()> {
    use trygg_app::compliance::{self, By};
    match command {
        ComplianceCommand::Report {
            common,
            org,
            json,
            html,
            lang,
        } => {
            if !["nb", "nn", "en"].contains(&lang.as_str()) {
                anyhow::bail!("--lang is nb, nn or en");
            }
            let lang = trygg_core::Lang::from_query(Some(&lang));
            let edge = trygg_server::compliance_pages::edge_facts();
            let (signed, zone) = at_console(&common, |app, now| async move {
                let s = compliance::report(&app, By::Console, &org, &edge, now).await?;
                Ok((s, app.config.zone()))
            })
            .await?;
            if json {
                print!("{}", signed.json);
            } else if html {
                let doc = trygg_server::compliance_pages::report_html(&signed, lang, zone)
                    .map_err(|e| anyhow::anyhow!("the HTML could not be made: {e}"))?;
                println!("{doc}");
            } else {
                let r = &signed.report;
                println!(
                    "Compliance report for {} ({}), {}",
                    r.header.organisation_name, r.header.organisation, r.header.generated_at
                );
                for row in &r.rows {
                    println!("{:<14} {}", row.id, row.status);
                }
                for (k, n) in &r.summary {
                    println!("{k}: {n}");
                }
                println!("sha256 {} (appended to the audit log)", signed.sha256);
            }
            Ok(())
        }
        ComplianceCommand::Verify { common, file, org } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let (v, logged) = at_console(&common, |app, _now| async move {
                let v = compliance::verify(&app, &text)?;
                let logged = match &org {
                    Some(o) => Some(compliance::logged(&app, o, &v.sha256).await?),
                    None => None,
                };
                Ok((v, logged))
            })
            .await?;
            if logged == Some(false) {
                anyhow::bail!(
                    "the signature is valid, but the organisation's audit log has no report with hash {}",
                    v.sha256
                );
            }
            println!(
                "the report of {} made {} is as signed (sha256 {}){}",
                v.organisation,
                v.generated_at,
                v.sha256,
                if logged == Some(true) {
                    ", and its hash is in the audit log"
                } else {
                    ""
                }
            );
            Ok(())
        }
    }
}

async fn retention_command(command: RetentionCommand) -> anyhow::Result<()> {
    use trygg_app::compliance::By;
    use trygg_app::retention;
    match command {
        RetentionCommand::Policy {
            common,
            org,
            class,
            value,
            json,
        } => {
            let rows = at_console(&common, |app, now| async move {
                match (class, value) {
                    (Some(class), Some(value)) => {
                        retention::set(
                            &app,
                            By::Console,
                            &org,
                            retention::RetentionIn { class, value },
                            now,
                        )
                        .await
                    }
                    _ => retention::policy(&app, By::Console, &org, now).await,
                }
            })
            .await?;
            if json {
                print_json(&rows)?;
            } else {
                for r in rows {
                    println!(
                        "{:<18} {:>3} {:<6} (allowed {}-{}, default {})",
                        r.class, r.value, r.unit, r.min, r.max, r.default
                    );
                }
            }
            Ok(())
        }
        RetentionCommand::Run { common, org, json } => {
            let out = at_console(&common, |app, now| async move {
                match org {
                    Some(o) => Ok(vec![(o.clone(), retention::run(&app, &o, now).await?)]),
                    None => retention::run_all(&app, now).await,
                }
            })
            .await?;
            if json {
                print_json(&out)?;
            } else {
                for (o, r) in out {
                    println!(
                        "{o}: {} messages, {} audit payloads, {} grant records, {} incidents deleted",
                        r.messages, r.audit_payloads, r.grant_records, r.incidents
                    );
                }
            }
            Ok(())
        }
    }
}

async fn audit_command(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify { common, org, json } => {
            let slug = org.as_str();
            let result = at_console(&common, |app, now| async move {
                operator::verify_audit(&app, &Console, slug, now).await
            })
            .await?;
            match result {
                Ok(sum) => {
                    if json {
                        print_json(&serde_json::json!({
                            "org": org, "intact": true, "entries": sum.entries,
                            "checkpoints": sum.checkpoints, "root": sum.root.to_hex(),
                            "latest_checkpoint": sum.latest_checkpoint,
                        }))?;
                    } else {
                        println!(
                            "audit log of {org} is intact: {} entries, {} signed checkpoints, root {}",
                            sum.entries,
                            sum.checkpoints,
                            sum.root.to_hex()
                        );
                    }
                    Ok(())
                }
                Err(e) => {
                    if json {
                        print_json(&serde_json::json!({
                            "org": org, "intact": false, "first_bad_seq": e.first_bad_seq,
                            "code": e.kind.code(), "error": e.to_string(),
                        }))?;
                    }
                    anyhow::bail!("audit log of {org} is NOT intact: {e}")
                }
            }
        }
        AuditCommand::Export {
            common,
            org,
            format: ExportFormat::Fhir,
            patient,
        } => {
            let bundle = at_console(&common, |app, now| async move {
                operator::export_audit(&app, &Console, &org, patient, now).await
            })
            .await?;
            println!("{}", serde_json::to_string_pretty(&bundle)?);
            Ok(())
        }
        AuditCommand::Checkpoint { common, org } => {
            let slug = org.as_str();
            let cp = at_console(&common, |app, _| async move {
                operator::audit_checkpoint(&app, &Console, slug).await
            })
            .await?;
            match cp {
                Some(text) => {
                    print!("{text}");
                    Ok(())
                }
                None => anyhow::bail!("the audit log of {org} has no entries yet"),
            }
        }
    }
}

async fn guard_command(command: GuardCommand) -> anyhow::Result<()> {
    use std::io::{BufRead as _, Write as _};
    match command {
        GuardCommand::Check {
            common,
            channel,
            org,
            json,
            jsonl,
            text,
        } => {
            let config = load_config(&common, None)?;
            let guard = crate::startup::load_guard(&config)?;
            let mut ctx = trygg_guard::Context::new();
            if let Some(org) = org {
                ctx = at_console(&common, |app, _| async move {
                    operator::guard_context(&app, &Console, &org).await
                })
                .await?;
            }
            if jsonl {
                #[derive(serde::Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Line {
                    channel: String,
                    text: String,
                }
                let stdout = std::io::stdout();
                let mut out = stdout.lock();
                for (n, line) in std::io::stdin().lock().lines().enumerate() {
                    let line = line.context("reading standard input")?;
                    if line.trim().is_empty() {
                        continue;
                    }
                    let l: Line = serde_json::from_str(&line).with_context(|| {
                        format!("line {}: not {{\"channel\": …, \"text\": …}}", n + 1)
                    })?;
                    let ch = match l.channel.as_str() {
                        "sms" => trygg_guard::Channel::Sms,
                        "email" => trygg_guard::Channel::Email,
                        other => anyhow::bail!(
                            "line {}: unknown channel {other:?} (sms or email)",
                            n + 1
                        ),
                    };
                    let s = guard.screen(ch, &l.text, &ctx);
                    writeln!(out, "{}", serde_json::to_string(&s)?)?;
                }
                return Ok(());
            }
            let Some(text) = text else {
                anyhow::bail!("give the message as TEXT, or use --jsonl to read standard input");
            };
            let Some(channel) = channel else {
                anyhow::bail!("say which channel: --channel sms or --channel email");
            };
            let s = guard.screen(channel.into(), &text, &ctx);
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                let v = serde_json::to_value(&s)?;
                println!("{}", v["verdict"].as_str().unwrap_or("?"));
                for f in &s.findings {
                    let fv = serde_json::to_value(f)?;
                    let span = text.get(f.start..f.end).unwrap_or("");
                    println!(
                        "  {} at {}..{} \"{}\": {}",
                        fv["reason"].as_str().unwrap_or("?"),
                        f.start,
                        f.end,
                        span,
                        f.text_en
                    );
                }
            }
            Ok(())
        }
        GuardCommand::Eval { common, file, json } => {
            let config = load_config(&common, None)?;
            let guard = crate::startup::load_guard(&config)?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let corpus = trygg_guard::eval::parse_jsonl(&text)
                .with_context(|| format!("{}", file.display()))?;
            let report = trygg_guard::eval::evaluate(&guard, &corpus);
            if json {
                print_json(&report)?;
            } else {
                println!("{report}");
            }
            Ok(())
        }
    }
}

async fn consent_command(command: ConsentCommand) -> anyhow::Result<()> {
    use trygg_app::notices as n;
    use trygg_app::operator::Console;
    let (rows, json) = match command {
        ConsentCommand::Set {
            common,
            org,
            patient,
            purpose,
            channel,
            granted,
            text_version,
            json,
        } => {
            let input = n::ConsentIn {
                purpose,
                channel,
                granted,
                text_version,
            };
            let row = at_console(&common, |app, now| async move {
                n::set_consent_by_console(&app, &Console, &org, patient, input, now).await
            })
            .await?;
            (vec![row], json)
        }
        ConsentCommand::List {
            common,
            org,
            patient,
            json,
        } => {
            let rows = at_console(&common, |app, now| async move {
                n::consents_by_console(&app, &Console, &org, patient, now).await
            })
            .await?;
            (rows, json)
        }
    };
    if json {
        return print_json(&rows);
    }
    for r in &rows {
        println!(
            "{}  {:<14} {:<5} {:<9} text {}",
            r.recorded_at,
            r.purpose,
            r.channel,
            if r.granted { "given" } else { "withdrawn" },
            r.text_version
        );
    }
    Ok(())
}

async fn notice_command(command: NoticeCommand) -> anyhow::Result<()> {
    use trygg_app::notices as n;
    use trygg_app::operator::Console;
    match command {
        NoticeCommand::Send {
            common,
            org,
            patient,
            kind,
            channel,
            lang,
            when,
            link,
            text,
            confirm_reason,
            regarding,
            repeat,
            json,
        } => {
            let input = n::SendIn {
                kind,
                channel,
                lang,
                params: trygg_core::notice::Params {
                    when,
                    code: None,
                    link,
                    text,
                },
                confirm_reason,
                regarding,
            };
            if let Some(count) = repeat {
                let out = at_console(&common, |app, now| async move {
                    n::send_many_by_console(&app, &Console, &org, patient, input, count, now).await
                })
                .await?;
                if json {
                    return print_json(&serde_json::json!({"queued": out.len()}));
                }
                println!("{} notices queued", out.len());
                return Ok(());
            }
            let out = at_console(&common, |app, now| async move {
                n::send_by_console(&app, &Console, &org, patient, input, now).await
            })
            .await?;
            if json {
                return print_json(&out);
            }
            println!("Notice {} queued ({})", out.id, out.verdict);
        }
        NoticeCommand::List {
            common,
            org,
            status,
            limit,
            json,
        } => {
            let out = at_console(&common, |app, _| async move {
                n::list_by_console(
                    &app,
                    &Console,
                    &org,
                    status.as_deref(),
                    limit.unwrap_or(100),
                )
                .await
            })
            .await?;
            if json {
                return print_json(&out);
            }
            for r in &out {
                println!(
                    "{}  {:<5} {:<26} {:<13} attempts {:<2} {}",
                    r.id,
                    r.channel,
                    r.kind,
                    r.status,
                    r.attempts,
                    r.last_error.as_deref().unwrap_or("")
                );
            }
        }
    }
    Ok(())
}

async fn consultation_command(command: ConsultationCommand) -> anyhow::Result<()> {
    use trygg_app::consultations::{self as c, Invitee, Planner};
    match command {
        ConsultationCommand::Create {
            common,
            org,
            host,
            patient,
            interpreter,
            participants,
            start,
            minutes,
            kind,
            notify,
            json,
        } => {
            let input = c::ConsultationIn {
                patient,
                host,
                interpreter,
                participants: participants
                    .iter()
                    .map(|p| participant_arg(p))
                    .collect::<anyhow::Result<_>>()?,
                start: start.as_deref().map(time_arg).transpose()?,
                minutes,
                kind,
                notify,
            };
            let base = console_base(&common)?;
            let out = at_console(&common, |app, now| async move {
                c::create(&app, Planner::Console, &org, input, &base, now).await
            })
            .await?;
            if json {
                return print_json(&out);
            }
            println!(
                "Consultation {} ({}), {} min",
                out.id, out.kind, out.minutes
            );
            for i in &out.invitations {
                println!("  {:<16} {}  {}", i.role, i.participant, i.url);
            }
            eprintln!("Each link is for its person only; send it to them and to nobody else.");
            Ok(())
        }
        ConsultationCommand::Invite {
            common,
            org,
            consultation,
            participant,
            renew,
            json,
        } => {
            let who = match (participant, renew) {
                (Some(p), None) => Invitee::New(participant_arg(&p)?),
                (None, Some(r)) => Invitee::Renew(r),
                _ => anyhow::bail!("give --participant ROLE:PERSON or --renew INVITATION"),
            };
            let base = console_base(&common)?;
            let out = at_console(&common, |app, now| async move {
                c::invite(&app, Planner::Console, &org, consultation, who, &base, now).await
            })
            .await?;
            if json {
                return print_json(&out);
            }
            println!("{}", out.url);
            Ok(())
        }
        ConsultationCommand::Revoke {
            common,
            org,
            consultation,
            invitation,
        } => {
            at_console(&common, |app, now| async move {
                c::revoke(&app, Planner::Console, &org, consultation, invitation, now).await
            })
            .await?;
            println!("revoked");
            Ok(())
        }
        ConsultationCommand::List {
            common,
            org,
            from,
            to,
            json,
        } => {
            let from = from.as_deref().map(time_arg).transpose()?;
            let to = to.as_deref().map(time_arg).transpose()?;
            let list = at_console(&common, |app, now| async move {
                let from = from.unwrap_or(now - time::Duration::hours(12));
                let to = to.unwrap_or(now + time::Duration::days(7));
                c::list(&app, Planner::Console, &org, from, to, now).await
            })
            .await?;
            if json {
                return print_json(&list);
            }
            for k in list {
                println!(
                    "{}  {}  {:<18} {:<11} {} min",
                    k.id, k.start, k.kind, k.state, k.minutes
                );
                for p in k.participants {
                    let revoked = if p.revoked { " (revoked)" } else { "" };
                    println!(
                        "    {} {:<16} {}{revoked}  invitation {}",
                        p.participant, p.role, p.name, p.id
                    );
                }
            }
            Ok(())
        }
        ConsultationCommand::End {
            common,
            org,
            consultation,
        } => {
            let out = at_console(&common, |app, now| async move {
                c::end(&app, Planner::Console, &org, consultation, now).await
            })
            .await?;
            println!("{out}");
            Ok(())
        }
        ConsultationCommand::Info {
            common,
            org,
            lang,
            file,
        } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?;
            let l = lang.clone();
            at_console(&common, |app, now| async move {
                trygg_app::operator::set_consultation_info(&app, &org, &l, &text, now).await
            })
            .await?;
            println!("information text set ({lang})");
            Ok(())
        }
        ConsultationCommand::Journal {
            common,
            org,
            consultation,
            fhir,
        } => {
            let note = at_console(&common, |app, now| async move {
                c::journal(&app, Planner::Console, &org, consultation, now).await
            })
            .await?;
            if fhir {
                print_json(&note["fhir"])
            } else {
                print!("{}", note["text"].as_str().unwrap_or_default());
                Ok(())
            }
        }
    }
}
