//! Every operation Trygg records in an organisation's audit log, as one typed enum. The enum keys
//! both the audit event's `operation` code and the sentence the patient reads in their access log
//! (PC-RIGHTS-1), so an operation cannot be logged without a text for the patient, and a text
//! cannot drift from the code it describes.

/// What was done. The stable code ([`Operation::code`]) is what the audit log stores; it never
/// changes once released, since old entries are read back with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// A patient's details were read.
    PatientRead,
    /// A patient appeared in a listing of patients.
    PatientList,
    /// A patient was registered.
    PatientCreate,
    /// A patient corrected their contact data in the portal (PC-RIGHTS-2).
    PatientContactUpdate,
    /// A patient downloaded their data from the portal (PC-RIGHTS-1).
    PatientExport,
    /// A registration was refused because the national ID is registered already: the probe
    /// revealed that the patient exists, so it is an access too.
    PatientCreateConflict,
    /// A care relationship was established.
    CareCreate,
    /// A care relationship was declared by the clinician for themselves (treated like
    /// emergency access: short, flagged for review, shown to the patient).
    CareSelfDeclare,
    /// A care relationship ended.
    CareEnd,
    /// Emergency access was taken.
    EmergencyAccessTake,
    /// A patient's access log was read.
    AccessLogRead,
    /// An access was refused.
    AccessDenied,
    /// A request reached for another organisation's data.
    AccessCrossOrganisation,
    /// The audit log was exported.
    AuditExport,
    /// The audit log was searched.
    AuditSearch,
    /// Trygg's demo data was seeded.
    DemoSeed,
    /// The organisation was created by a deployment operator.
    OrgCreate,
    /// The organisation's whole data was exported at its exit (issue #16, VC-DPA-1).
    OrgExport,
    /// An organisation's export was imported into this deployment (issue #16).
    OrgImport,
    /// Facts from the population register for log control were set (issue #16).
    RegisterFacts,
    /// Personnel were listed.
    PersonnelList,
    /// A person was registered on the staff.
    PersonnelCreate,
    /// A person's HPR number was recorded for HelseID login (issue #13).
    PersonnelHprSet,
    /// A person was linked to their subject at the deployment's own OpenID provider (issue #13).
    PersonnelOidcSubjectSet,
    /// A person's employment end was set.
    PersonnelEmploymentEnd,
    /// An enrolment code for an organisation-owned device was issued (VC-DEV-2).
    DeviceCodeIssue,
    /// A device registered its public key with an enrolment code (VC-DEV-1).
    DeviceEnrol,
    /// The organisation's devices were listed.
    DeviceList,
    /// A compliance report was made and signed (issue #15, VC-PBD-2).
    ComplianceReport,
    /// A data class's retention was changed (PC-STORE-1).
    RetentionSet,
    /// The retention job deleted what was due (PC-STORE-1).
    RetentionRun,
    /// A routine of the checklist was changed (owner, document, review date).
    RoutineSet,
    /// An incident (avvik) was registered, by a person or drafted from security events (PC-DEV-1).
    IncidentCreate,
    /// An incident got a new version (PC-DEV-1).
    IncidentUpdate,
    /// The incident register or an incident was read.
    IncidentRead,
    /// Snooping cases were found in a day of the access log (issue #16).
    SnoopCaseFound,
    /// A snooping case (or the queue) was read by the log-control role.
    SnoopCaseRead,
    /// A snooping case got its outcome.
    SnoopCaseDecide,
    /// A device was revoked.
    DeviceRevoke,
    /// A device's proof at a join was refused (unknown, revoked, bad signature).
    DeviceRefused,
    /// A device proved itself with its key at a join (VC-DEV-1).
    DeviceLogin,
    /// A person's grants were read.
    GrantsRead,
    /// A role was granted.
    GrantCreate,
    /// A grant was revoked.
    GrantRevoke,
    /// An organisation-defined role was defined.
    RoleDefine,
    /// The rights review was read.
    RightsReviewRead,
    /// The rights review was attested.
    RightsReviewAttest,
    /// An organisation setting was read.
    SettingsRead,
    /// The minimum login assurance of a permission was set (PC-AUTHN-3).
    AssuranceSet,
    /// The minimum login assurance per permission was read.
    AssuranceRead,
    /// An organisation setting was changed.
    SettingsChange,
    /// An enrolment link was issued.
    EnrolmentLinkIssue,
    /// An enrolment link was opened.
    EnrolmentLinkOpen,
    /// An enrolment link was used.
    EnrolmentLinkUse,
    /// A passkey was registered.
    PasskeyRegister,
    /// Passkeys were listed.
    PasskeyList,
    /// A passkey was revoked.
    PasskeyRevoke,
    /// A person logged in.
    Login,
    /// A login failed.
    LoginFailed,
    /// A person logged out.
    Logout,
    /// A session ended by a timeout or by the end of employment.
    SessionExpire,
    /// A notice (e.g. "a passkey was added") was acknowledged by its person.
    NoticeAcknowledge,
    /// All of a person's passkeys were revoked by an administrator.
    PasskeyRevokeAll,
    /// An account was locked after failed logins.
    AccountLocked,
    /// A video consultation was planned.
    ConsultationCreate,
    /// An invitation to a consultation was issued or renewed.
    ConsultationInvite,
    /// An invitation to a consultation was revoked.
    ConsultationRevoke,
    /// A consultation appeared in a listing of consultations.
    ConsultationList,
    /// A consultation's plan or invitation page was read.
    ConsultationRead,
    /// A participant acknowledged the information before entering (VC-INFO-1).
    ConsultationAcknowledge,
    /// A participant entered the waiting room.
    ConsultationArrive,
    /// A host entered and opened the consultation.
    ConsultationHostEnter,
    /// A participant was admitted, with the identity assurance recorded (VC-AUTH-1/2).
    ConsultationAdmit,
    /// A dropped participant came back within the grace period.
    ConsultationRejoin,
    /// A waiting participant was denied entry.
    ConsultationDeny,
    /// The room was locked.
    ConsultationLock,
    /// The room was unlocked.
    ConsultationUnlock,
    /// A participant left.
    ConsultationLeave,
    /// A waiting participant's connection ended.
    ConsultationLeaveWaiting,
    /// A participant's connection dropped.
    ConsultationDrop,
    /// A dropped participant's grace period ended.
    ConsultationGraceOver,
    /// A host ended the consultation for everyone.
    ConsultationEnd,
    /// The consultation was cancelled before it took place.
    ConsultationCancel,
    /// A participant's action in the room, or a frame, was refused.
    ConsultationRefused,
    /// A consultation's draft journal note was read (VC-LOG-1).
    ConsultationJournal,
    /// A notice (SMS or e-mail) to a patient was put in the outbox (issue #12).
    NoticeQueue,
    /// A notice was handed to its gateway (SMS) or mail server (e-mail): the recipient's contact
    /// data left the organisation for its processor.
    NoticeSend,
    /// A notice could not be delivered, for good: personnel must reach the patient another way.
    NoticeFail,
    /// A patient's consent to notices for a purpose on a channel was given (PC-CONSENT-1).
    ConsentGive,
    /// A patient's consent was withdrawn (PC-CONSENT-2).
    ConsentWithdraw,
    /// The outbox's notices were listed (ids, kinds and states; no content).
    NoticeList,
    /// A secure message in a thread between a patient and the care team was sent (issue #12).
    MessageSend,
    /// A thread's messages were read (a care relationship, or the patient).
    MessageRead,
    /// A message's attachment was opened.
    AttachmentRead,
    /// A message was filed to the journal: it can no longer be changed or deleted (PC-RIGHTS-2).
    MessageFile,
    /// An unfiled message's content was deleted when its retention ran out (PC-STORE-1).
    MessageExpire,
    /// An unread message was escalated: another notice, or a task for personnel (PC-READ-1).
    MessageEscalate,
    /// Personnel listed the follow-up tasks (phone or letter) of the organisation.
    TaskList,
    /// A follow-up task (phone or letter) was marked done.
    TaskDone,
    /// A patient's reply to a two-way SMS was received (JA, NEI, or anything else, which is not kept).
    SmsReply,
}

/// The sentence a patient reads for an operation in their access log, in each language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatientText {
    /// Norwegian bokmål.
    pub nb: &'static str,
    /// Norwegian nynorsk.
    pub nn: &'static str,
    /// English.
    pub en: &'static str,
}

const fn t(nb: &'static str, nn: &'static str, en: &'static str) -> PatientText {
    PatientText { nb, nn, en }
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 100] = [
        Self::PersonnelHprSet,
        Self::PersonnelOidcSubjectSet,
        Self::DeviceCodeIssue,
        Self::DeviceEnrol,
        Self::DeviceList,
        Self::ComplianceReport,
        Self::RetentionSet,
        Self::RetentionRun,
        Self::RoutineSet,
        Self::IncidentCreate,
        Self::IncidentUpdate,
        Self::IncidentRead,
        Self::SnoopCaseFound,
        Self::SnoopCaseRead,
        Self::SnoopCaseDecide,
        Self::DeviceRevoke,
        Self::DeviceRefused,
        Self::DeviceLogin,
        Self::PatientRead,
        Self::PatientList,
        Self::PatientCreate,
        Self::PatientContactUpdate,
        Self::PatientExport,
        Self::PatientCreateConflict,
        Self::CareCreate,
        Self::CareSelfDeclare,
        Self::CareEnd,
        Self::EmergencyAccessTake,
        Self::AccessLogRead,
        Self::AccessDenied,
        Self::AccessCrossOrganisation,
        Self::AuditExport,
        Self::AuditSearch,
        Self::DemoSeed,
        Self::OrgCreate,
        Self::OrgExport,
        Self::OrgImport,
        Self::RegisterFacts,
        Self::PersonnelList,
        Self::PersonnelCreate,
        Self::PersonnelEmploymentEnd,
        Self::GrantsRead,
        Self::GrantCreate,
        Self::GrantRevoke,
        Self::RoleDefine,
        Self::RightsReviewRead,
        Self::RightsReviewAttest,
        Self::SettingsRead,
        Self::AssuranceSet,
        Self::AssuranceRead,
        Self::SettingsChange,
        Self::EnrolmentLinkIssue,
        Self::EnrolmentLinkOpen,
        Self::EnrolmentLinkUse,
        Self::PasskeyRegister,
        Self::PasskeyList,
        Self::PasskeyRevoke,
        Self::Login,
        Self::LoginFailed,
        Self::Logout,
        Self::SessionExpire,
        Self::NoticeAcknowledge,
        Self::PasskeyRevokeAll,
        Self::AccountLocked,
        Self::ConsultationCreate,
        Self::ConsultationInvite,
        Self::ConsultationRevoke,
        Self::ConsultationList,
        Self::ConsultationRead,
        Self::ConsultationAcknowledge,
        Self::ConsultationArrive,
        Self::ConsultationHostEnter,
        Self::ConsultationAdmit,
        Self::ConsultationRejoin,
        Self::ConsultationDeny,
        Self::ConsultationLock,
        Self::ConsultationUnlock,
        Self::ConsultationLeave,
        Self::ConsultationLeaveWaiting,
        Self::ConsultationDrop,
        Self::ConsultationGraceOver,
        Self::ConsultationEnd,
        Self::ConsultationCancel,
        Self::ConsultationRefused,
        Self::ConsultationJournal,
        Self::NoticeQueue,
        Self::NoticeSend,
        Self::NoticeFail,
        Self::ConsentGive,
        Self::ConsentWithdraw,
        Self::NoticeList,
        Self::MessageSend,
        Self::MessageRead,
        Self::AttachmentRead,
        Self::MessageFile,
        Self::MessageExpire,
        Self::MessageEscalate,
        Self::TaskList,
        Self::TaskDone,
        Self::SmsReply,
    ];

    /// The stable code stored in the audit log.
    pub fn code(self) -> &'static str {
        match self {
            Self::PatientRead => "patient.read",
            Self::PatientList => "patient.list",
            Self::PatientCreate => "patient.create",
            Self::PatientContactUpdate => "patient.contact-update",
            Self::PatientExport => "patient.export",
            Self::PersonnelHprSet => "personnel.hpr-set",
            Self::PersonnelOidcSubjectSet => "personnel.oidc-subject-set",
            Self::DeviceCodeIssue => "device.code-issue",
            Self::DeviceEnrol => "device.enrol",
            Self::DeviceList => "device.list",
            Self::ComplianceReport => "compliance.report",
            Self::RetentionSet => "retention.set",
            Self::RetentionRun => "retention.run",
            Self::RoutineSet => "routine.set",
            Self::IncidentCreate => "incident.create",
            Self::IncidentUpdate => "incident.update",
            Self::IncidentRead => "incident.read",
            Self::SnoopCaseFound => "snoop.case-found",
            Self::SnoopCaseRead => "snoop.case-read",
            Self::SnoopCaseDecide => "snoop.case-decide",
            Self::DeviceRevoke => "device.revoke",
            Self::DeviceRefused => "device.refused",
            Self::DeviceLogin => "device.login",
            Self::PatientCreateConflict => "patient.create-conflict",
            Self::CareCreate => "care.create",
            Self::CareSelfDeclare => "care.self-declare",
            Self::CareEnd => "care.end",
            Self::EmergencyAccessTake => "emergency-access.take",
            Self::AccessLogRead => "access-log.read",
            Self::AccessDenied => "access.denied",
            Self::AccessCrossOrganisation => "access.cross-organisation",
            Self::AuditExport => "audit.export",
            Self::AuditSearch => "audit.search",
            Self::DemoSeed => "demo.seed",
            Self::OrgCreate => "org.create",
            Self::OrgExport => "org.export",
            Self::OrgImport => "org.import",
            Self::RegisterFacts => "register.facts",
            Self::PersonnelList => "personnel.list",
            Self::PersonnelCreate => "personnel.create",
            Self::PersonnelEmploymentEnd => "personnel.employment-end",
            Self::GrantsRead => "grants.read",
            Self::GrantCreate => "grant.create",
            Self::GrantRevoke => "grant.revoke",
            Self::RoleDefine => "role.define",
            Self::RightsReviewRead => "rights-review.read",
            Self::RightsReviewAttest => "rights-review.attest",
            Self::SettingsRead => "settings.read",
            Self::AssuranceSet => "assurance.set",
            Self::AssuranceRead => "assurance.read",
            Self::SettingsChange => "settings.change",
            Self::EnrolmentLinkIssue => "enrolment-link.issue",
            Self::EnrolmentLinkOpen => "enrolment-link.open",
            Self::EnrolmentLinkUse => "enrolment-link.use",
            Self::PasskeyRegister => "passkey.register",
            Self::PasskeyList => "passkey.list",
            Self::PasskeyRevoke => "passkey.revoke",
            Self::Login => "login",
            Self::LoginFailed => "login.failed",
            Self::Logout => "logout",
            Self::SessionExpire => "session.expire",
            Self::AccountLocked => "account-locked",
            Self::PasskeyRevokeAll => "passkey.revoke-all",
            Self::NoticeAcknowledge => "notice.acknowledge",
            Self::ConsultationCreate => "consultation.create",
            Self::ConsultationInvite => "consultation.invite",
            Self::ConsultationRevoke => "consultation.revoke",
            Self::ConsultationList => "consultation.list",
            Self::ConsultationRead => "consultation.read",
            Self::ConsultationAcknowledge => "consultation.acknowledge",
            Self::ConsultationArrive => "consultation.arrive",
            Self::ConsultationHostEnter => "consultation.host-enter",
            Self::ConsultationAdmit => "consultation.admit",
            Self::ConsultationRejoin => "consultation.rejoin",
            Self::ConsultationDeny => "consultation.deny",
            Self::ConsultationLock => "consultation.lock",
            Self::ConsultationUnlock => "consultation.unlock",
            Self::ConsultationLeave => "consultation.leave",
            Self::ConsultationLeaveWaiting => "consultation.leave-waiting",
            Self::ConsultationDrop => "consultation.drop",
            Self::ConsultationGraceOver => "consultation.grace-over",
            Self::ConsultationEnd => "consultation.end",
            Self::ConsultationCancel => "consultation.cancel",
            Self::ConsultationRefused => "consultation.refused",
            Self::ConsultationJournal => "consultation.journal",
            Self::NoticeQueue => "notice.queue",
            Self::NoticeSend => "notice.send",
            Self::NoticeFail => "notice.fail",
            Self::ConsentGive => "consent.give",
            Self::ConsentWithdraw => "consent.withdraw",
            Self::NoticeList => "notice.list",
            Self::MessageSend => "message.send",
            Self::MessageRead => "message.read",
            Self::AttachmentRead => "attachment.read",
            Self::MessageFile => "message.file",
            Self::MessageExpire => "message.expire",
            Self::MessageEscalate => "message.escalate",
            Self::TaskList => "task.list",
            Self::TaskDone => "task.done",
            Self::SmsReply => "sms.reply",
        }
    }

    /// The operation with this code, if it is one.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.code() == code)
    }

    /// What the patient reads for this operation in their access log (PC-RIGHTS-1). Operations
    /// that never concern one patient still have a text, so that an entry that names a patient
    /// is never shown as an unexplained "other action".
    pub fn patient_text(self) -> PatientText {
        match self {
            Self::PatientRead => t(
                "Så opplysningene dine",
                "Såg opplysningane dine",
                "Viewed your details",
            ),
            Self::PatientList => t(
                "Så deg i pasientlisten",
                "Såg deg i pasientlista",
                "Saw you in the patient list",
            ),
            Self::PatientContactUpdate => t(
                "Endret kontaktopplysningene dine",
                "Endra kontaktopplysningane dine",
                "Changed your contact details",
            ),
            Self::DeviceCodeIssue => t(
                "Gjorde klar utstyr fra virksomheten til bruk hos deg",
                "Gjorde klar utstyr frå verksemda til bruk hos deg",
                "Prepared the organisation's equipment for use with you",
            ),
            Self::DeviceEnrol => t(
                "Utstyr fra virksomheten ble registrert til bruk hos deg",
                "Utstyr frå verksemda vart registrert til bruk hos deg",
                "The organisation's equipment was registered for use with you",
            ),
            Self::DeviceRevoke => t(
                "Utstyr fra virksomheten ble tatt ut av bruk",
                "Utstyr frå verksemda vart teke ut av bruk",
                "The organisation's equipment was taken out of use",
            ),
            Self::DeviceLogin => t(
                "Utstyr fra virksomheten ble brukt til en videokonsultasjon med deg",
                "Utstyr frå verksemda vart brukt til ei videokonsultasjon med deg",
                "The organisation's equipment was used for a video consultation with you",
            ),
            Self::DeviceRefused => t(
                "Utstyr som ikke lenger er godkjent, ble avvist",
                "Utstyr som ikkje lenger er godkjent, vart avvist",
                "Equipment no longer approved was refused",
            ),
            Self::PersonnelHprSet => t(
                "Registrerte HPR-nummeret til en ansatt",
                "Registrerte HPR-nummeret til ein tilsett",
                "Recorded a staff member's HPR number",
            ),
            Self::PatientExport => t(
                "Lastet ned opplysningene dine",
                "Lasta ned opplysningane dine",
                "Downloaded your data",
            ),
            Self::PatientCreate => t(
                "Registrerte deg som pasient",
                "Registrerte deg som pasient",
                "Registered you as a patient",
            ),
            Self::PatientCreateConflict => t(
                "Prøvde å registrere deg på nytt (du var registrert fra før)",
                "Prøvde å registrere deg på nytt (du var registrert frå før)",
                "Tried to register you again (you were registered already)",
            ),
            Self::CareCreate => t(
                "Fikk tjenstlig behov for opplysningene dine",
                "Fekk tenestleg behov for opplysningane dine",
                "Was given a care relationship with you",
            ),
            Self::CareSelfDeclare => t(
                "Erklærte selv tjenstlig behov for opplysningene dine",
                "Erklærte sjølv tenestleg behov for opplysningane dine",
                "Declared a care relationship with you themselves",
            ),
            Self::CareEnd => t(
                "Tjenstlig behov ble avsluttet",
                "Tenestleg behov vart avslutta",
                "Care relationship ended",
            ),
            Self::EmergencyAccessTake => t(
                "Tok nødtilgang til opplysningene dine",
                "Tok naudtilgang til opplysningane dine",
                "Took emergency access to your data",
            ),
            Self::AccessLogRead => t(
                "Så hvem som har sett opplysningene dine",
                "Såg kven som har sett opplysningane dine",
                "Viewed who has seen your data",
            ),
            Self::AccessDenied => t(
                "Ble nektet tilgang til opplysningene dine",
                "Vart nekta tilgang til opplysningane dine",
                "Was refused access to your data",
            ),
            Self::AccessCrossOrganisation => t(
                "Noen fra en annen virksomhet ble nektet tilgang",
                "Nokon frå ei anna verksemd vart nekta tilgang",
                "Someone from another organisation was refused access",
            ),
            Self::AuditExport => t(
                "Eksporterte loggen om deg",
                "Eksporterte loggen om deg",
                "Exported the log about you",
            ),
            Self::AuditSearch => t("Søkte i loggen", "Søkte i loggen", "Searched the log"),
            Self::ConsultationCreate => t(
                "Planla en videokonsultasjon med deg",
                "Planla ei videokonsultasjon med deg",
                "Planned a video consultation with you",
            ),
            Self::ConsultationInvite => t(
                "Inviterte en deltaker til videokonsultasjonen din",
                "Inviterte ein deltakar til videokonsultasjonen din",
                "Invited a participant to your video consultation",
            ),
            Self::ConsultationRevoke => t(
                "Trakk tilbake en invitasjon til videokonsultasjonen din",
                "Trekte tilbake ein invitasjon til videokonsultasjonen din",
                "Revoked an invitation to your video consultation",
            ),
            Self::ConsultationList => t(
                "Så videokonsultasjonen din i en oversikt",
                "Såg videokonsultasjonen din i ei oversikt",
                "Saw your video consultation in a list",
            ),
            Self::ConsultationRead => t(
                "Så planen for videokonsultasjonen din",
                "Såg planen for videokonsultasjonen din",
                "Viewed the plan of your video consultation",
            ),
            Self::ConsultationAcknowledge => t(
                "Bekreftet informasjonen før videokonsultasjonen",
                "Stadfesta informasjonen før videokonsultasjonen",
                "Acknowledged the information before the video consultation",
            ),
            Self::ConsultationArrive => t(
                "Kom inn på venterommet til videokonsultasjonen din",
                "Kom inn på venterommet til videokonsultasjonen din",
                "Entered the waiting room of your video consultation",
            ),
            Self::ConsultationHostEnter => t(
                "Åpnet videokonsultasjonen din",
                "Opna videokonsultasjonen din",
                "Opened your video consultation",
            ),
            Self::ConsultationAdmit => t(
                "Slapp en deltaker inn i videokonsultasjonen din",
                "Slapp ein deltakar inn i videokonsultasjonen din",
                "Admitted a participant to your video consultation",
            ),
            Self::ConsultationRejoin => t(
                "Kom tilbake til videokonsultasjonen din",
                "Kom tilbake til videokonsultasjonen din",
                "Came back to your video consultation",
            ),
            Self::ConsultationDeny => t(
                "Nektet en deltaker adgang til videokonsultasjonen din",
                "Nekta ein deltakar tilgang til videokonsultasjonen din",
                "Denied a participant entry to your video consultation",
            ),
            Self::ConsultationLock => t(
                "Låste videokonsultasjonen din for nye deltakere",
                "Låste videokonsultasjonen din for nye deltakarar",
                "Locked your video consultation to new participants",
            ),
            Self::ConsultationUnlock => t(
                "Låste opp videokonsultasjonen din",
                "Låste opp videokonsultasjonen din",
                "Unlocked your video consultation",
            ),
            Self::ConsultationLeave => t(
                "Forlot videokonsultasjonen din",
                "Forlét videokonsultasjonen din",
                "Left your video consultation",
            ),
            Self::ConsultationLeaveWaiting => t(
                "Forlot venterommet til videokonsultasjonen din",
                "Forlét venterommet til videokonsultasjonen din",
                "Left the waiting room of your video consultation",
            ),
            Self::ConsultationDrop => t(
                "Mistet forbindelsen til videokonsultasjonen din",
                "Miste sambandet til videokonsultasjonen din",
                "Lost the connection to your video consultation",
            ),
            Self::ConsultationGraceOver => t(
                "Kom ikke tilbake til videokonsultasjonen din i tide",
                "Kom ikkje tilbake til videokonsultasjonen din i tide",
                "Did not come back to your video consultation in time",
            ),
            Self::ConsultationEnd => t(
                "Avsluttet videokonsultasjonen din",
                "Avslutta videokonsultasjonen din",
                "Ended your video consultation",
            ),
            Self::ConsultationCancel => t(
                "Avlyste videokonsultasjonen din",
                "Avlyste videokonsultasjonen din",
                "Cancelled your video consultation",
            ),
            Self::ConsultationRefused => t(
                "Ble avvist i videokonsultasjonen din",
                "Vart avvist i videokonsultasjonen din",
                "Was refused an action in your video consultation",
            ),
            Self::ConsultationJournal => t(
                "Leste journalutkastet fra videokonsultasjonen din",
                "Las journalutkastet frå videokonsultasjonen din",
                "Read the draft journal note of your video consultation",
            ),
            Self::NoticeQueue => t(
                "La et varsel til deg (SMS eller e-post) i kø",
                "La eit varsel til deg (SMS eller e-post) i kø",
                "Queued a notice to you (text message or e-mail)",
            ),
            Self::NoticeSend => t(
                "Sendte et varsel til deg (SMS eller e-post)",
                "Sende eit varsel til deg (SMS eller e-post)",
                "Sent a notice to you (text message or e-mail)",
            ),
            Self::NoticeFail => t(
                "Et varsel til deg kunne ikke leveres",
                "Eit varsel til deg kunne ikkje leverast",
                "A notice to you could not be delivered",
            ),
            Self::ConsentGive => t(
                "Samtykke til varsler ble registrert",
                "Samtykke til varsel vart registrert",
                "Your consent to notices was recorded",
            ),
            Self::ConsentWithdraw => t(
                "Samtykke til varsler ble trukket tilbake",
                "Samtykke til varsel vart trekt tilbake",
                "Your consent to notices was withdrawn",
            ),
            Self::MessageSend => t(
                "Sendte en melding i en meldingstråd med deg",
                "Sende ei melding i ein meldingstråd med deg",
                "Sent a message in a conversation with you",
            ),
            Self::MessageRead => t(
                "Leste meldinger mellom deg og oss",
                "Las meldingar mellom deg og oss",
                "Read messages between you and us",
            ),
            Self::AttachmentRead => t(
                "Åpnet et vedlegg i en melding til eller fra deg",
                "Opna eit vedlegg i ei melding til eller frå deg",
                "Opened an attachment in a message to or from you",
            ),
            Self::MessageFile => t(
                "Førte en melding inn i journalen din",
                "Førte ei melding inn i journalen din",
                "Filed a message in your health record",
            ),
            Self::MessageExpire => t(
                "Slettet en melding fordi lagringstiden var ute",
                "Sletta ei melding fordi lagringstida var ute",
                "Deleted a message because its storage time ran out",
            ),
            Self::MessageEscalate => t(
                "Fulgte opp en ulest melding til deg",
                "Følgde opp ei ulesen melding til deg",
                "Followed up an unread message to you",
            ),
            Self::TaskList => t(
                "Så deg i listen over oppfølgingsoppgaver",
                "Såg deg i lista over oppfølgingsoppgåver",
                "Saw you in the list of follow-up tasks",
            ),
            Self::TaskDone => t(
                "Fullførte en oppfølging av deg (telefon eller brev)",
                "Fullførte ei oppfølging av deg (telefon eller brev)",
                "Completed a follow-up with you (phone or letter)",
            ),
            Self::SmsReply => t(
                "Mottok ditt svar på en SMS",
                "Tok imot svaret ditt på ein SMS",
                "Received your reply to a text message",
            ),
            Self::RegisterFacts => t(
                "Oppdaterte opplysninger fra Folkeregisteret om deg (adresse, pårørende, skjerming) for kontroll av loggen",
                "Oppdaterte opplysningar frå Folkeregisteret om deg (adresse, pårørande, skjerming) for kontroll av loggen",
                "Updated facts about you from the population register (address, next of kin, protection) for log control",
            ),
            Self::DemoSeed => t(
                "Demodata ble lagt inn",
                "Demodata vart lagde inn",
                "Demo data was added",
            ),
            Self::OrgCreate
            | Self::OrgExport
            | Self::OrgImport
            | Self::PersonnelList
            | Self::PersonnelCreate
            | Self::PersonnelEmploymentEnd
            | Self::GrantsRead
            | Self::GrantCreate
            | Self::GrantRevoke
            | Self::RoleDefine
            | Self::RightsReviewRead
            | Self::RightsReviewAttest
            | Self::SettingsRead
            | Self::AssuranceSet
            | Self::AssuranceRead
            | Self::SettingsChange
            | Self::EnrolmentLinkIssue
            | Self::DeviceList
            | Self::PersonnelOidcSubjectSet
            | Self::EnrolmentLinkOpen
            | Self::EnrolmentLinkUse
            | Self::PasskeyRegister
            | Self::PasskeyList
            | Self::PasskeyRevoke
            | Self::Login
            | Self::LoginFailed
            | Self::Logout
            | Self::SessionExpire
            | Self::NoticeAcknowledge
            | Self::NoticeList
            | Self::PasskeyRevokeAll
            | Self::ComplianceReport
            | Self::RetentionSet
            | Self::RetentionRun
            | Self::RoutineSet
            | Self::IncidentCreate
            | Self::IncidentUpdate
            | Self::IncidentRead
            | Self::SnoopCaseFound
            | Self::SnoopCaseRead
            | Self::SnoopCaseDecide
            | Self::AccountLocked => t(
                "Administrativ handling",
                "Administrativ handling",
                "Administrative action",
            ),
        }
    }
}

impl Operation {
    /// What was done, as the organisation's staff read it in the audit search (issue #14): a
    /// short neutral phrase, never the code.
    pub fn name(self) -> PatientText {
        match self {
            Self::PatientRead => t(
                "Pasientopplysninger lest",
                "Pasientopplysningar lesne",
                "Patient details read",
            ),
            Self::PatientList => t(
                "Pasientliste lest",
                "Pasientliste lesen",
                "Patient list read",
            ),
            Self::PatientCreate => t(
                "Pasient registrert",
                "Pasient registrert",
                "Patient registered",
            ),
            Self::PatientContactUpdate => t(
                "Kontaktopplysninger rettet",
                "Kontaktopplysningar retta",
                "Contact details corrected",
            ),
            Self::PatientExport => t(
                "Pasientens opplysninger lastet ned",
                "Opplysningane til pasienten lasta ned",
                "Patient's data downloaded",
            ),
            Self::PersonnelHprSet => t(
                "HPR-nummer registrert",
                "HPR-nummer registrert",
                "HPR number recorded",
            ),
            Self::PersonnelOidcSubjectSet => t(
                "Pålogging koblet til ansatt",
                "Pålogging kopla til tilsett",
                "Login linked to staff member",
            ),
            Self::DeviceCodeIssue => t(
                "Registreringskode for utstyr laget",
                "Registreringskode for utstyr laga",
                "Equipment enrolment code issued",
            ),
            Self::DeviceEnrol => t(
                "Utstyr registrert",
                "Utstyr registrert",
                "Equipment enrolled",
            ),
            Self::DeviceList => t(
                "Utstyrsliste lest",
                "Utstyrsliste lesen",
                "Equipment list read",
            ),
            Self::ComplianceReport => t(
                "Samsvarsrapport laget",
                "Samsvarsrapport laga",
                "Compliance report made",
            ),
            Self::RetentionSet => t(
                "Lagringstid endret",
                "Lagringstid endra",
                "Retention changed",
            ),
            Self::RetentionRun => t(
                "Sletting etter lagringstid",
                "Sletting etter lagringstid",
                "Retention run",
            ),
            Self::RoutineSet => t("Rutine oppdatert", "Rutine oppdatert", "Routine updated"),
            Self::IncidentCreate => t(
                "Avvik registrert",
                "Avvik registrert",
                "Incident registered",
            ),
            Self::IncidentUpdate => t("Avvik oppdatert", "Avvik oppdatert", "Incident updated"),
            Self::IncidentRead => t("Avvik lest", "Avvik lese", "Incident read"),
            Self::SnoopCaseFound => t(
                "Kontroll av logg: saker funnet",
                "Kontroll av logg: saker funne",
                "Log control: cases found",
            ),
            Self::SnoopCaseRead => t(
                "Kontroll av logg: sak lest",
                "Kontroll av logg: sak lesen",
                "Log control: case read",
            ),
            Self::SnoopCaseDecide => t(
                "Kontroll av logg: sak avgjort",
                "Kontroll av logg: sak avgjord",
                "Log control: case decided",
            ),
            Self::DeviceRevoke => t(
                "Utstyr tatt ut av bruk",
                "Utstyr teke ut av bruk",
                "Equipment revoked",
            ),
            Self::DeviceRefused => t("Utstyr avvist", "Utstyr avvist", "Equipment refused"),
            Self::DeviceLogin => t(
                "Utstyr brukt i konsultasjon",
                "Utstyr brukt i konsultasjon",
                "Equipment used in a consultation",
            ),
            Self::PatientCreateConflict => t(
                "Pasient fantes fra før",
                "Pasient fanst frå før",
                "Patient already registered",
            ),
            Self::CareCreate => t(
                "Behandlingsrelasjon opprettet",
                "Behandlingsrelasjon oppretta",
                "Care relationship started",
            ),
            Self::CareSelfDeclare => t(
                "Behandlingsrelasjon erklært",
                "Behandlingsrelasjon erklært",
                "Care relationship declared",
            ),
            Self::CareEnd => t(
                "Behandlingsrelasjon avsluttet",
                "Behandlingsrelasjon avslutta",
                "Care relationship ended",
            ),
            Self::EmergencyAccessTake => t(
                "Nødtilgang tatt",
                "Naudtilgang teken",
                "Emergency access taken",
            ),
            Self::AccessLogRead => t("Tilgangslogg lest", "Tilgangslogg lesen", "Access log read"),
            Self::AccessDenied => t("Tilgang avvist", "Tilgang avvist", "Access refused"),
            Self::AccessCrossOrganisation => t(
                "Forsøk mot annen virksomhet",
                "Forsøk mot anna verksemd",
                "Attempt at another organisation",
            ),
            Self::AuditExport => t("Logg eksportert", "Logg eksportert", "Audit log exported"),
            Self::AuditSearch => t("Søk i loggen", "Søk i loggen", "Audit log searched"),
            Self::DemoSeed => t("Demodata lagt inn", "Demodata lagde inn", "Demo data added"),
            Self::OrgCreate => t(
                "Virksomhet opprettet",
                "Verksemd oppretta",
                "Organisation created",
            ),
            Self::OrgExport => t(
                "Alle data eksportert ved avslutning",
                "Alle data eksporterte ved avslutning",
                "All data exported at exit",
            ),
            Self::RegisterFacts => t(
                "Registeropplysninger for loggkontroll satt",
                "Registeropplysningar for loggkontroll sette",
                "Register facts for log control set",
            ),
            Self::OrgImport => t(
                "Data importert fra en eksport",
                "Data importerte frå ein eksport",
                "Data imported from an export",
            ),
            Self::PersonnelList => t("Ansattliste lest", "Tilsettliste lesen", "Staff list read"),
            Self::PersonnelCreate => t(
                "Ansatt registrert",
                "Tilsett registrert",
                "Staff member registered",
            ),
            Self::PersonnelEmploymentEnd => t(
                "Ansettelse avsluttet",
                "Tilsetjing avslutta",
                "Employment ended",
            ),
            Self::GrantsRead => t("Roller lest", "Roller lesne", "Grants read"),
            Self::GrantCreate => t("Rolle gitt", "Rolle gitt", "Role granted"),
            Self::GrantRevoke => t(
                "Rolle trukket tilbake",
                "Rolle trekt tilbake",
                "Role revoked",
            ),
            Self::RoleDefine => t("Rolle definert", "Rolle definert", "Role defined"),
            Self::RightsReviewRead => t(
                "Tilgangsgjennomgang lest",
                "Tilgangsgjennomgang lesen",
                "Access review read",
            ),
            Self::RightsReviewAttest => t(
                "Tilgangsgjennomgang bekreftet",
                "Tilgangsgjennomgang stadfesta",
                "Access review attested",
            ),
            Self::SettingsRead => t("Innstillinger lest", "Innstillingar lesne", "Settings read"),
            Self::AssuranceSet => t(
                "Krav til sikkerhetsnivå endret",
                "Krav til tryggleiksnivå endra",
                "Assurance requirement changed",
            ),
            Self::AssuranceRead => t(
                "Krav til sikkerhetsnivå lest",
                "Krav til tryggleiksnivå lese",
                "Assurance requirements read",
            ),
            Self::SettingsChange => t("Innstilling endret", "Innstilling endra", "Setting changed"),
            Self::EnrolmentLinkIssue => t(
                "Innloggingslenke laget",
                "Innloggingslenkje laga",
                "Enrolment link issued",
            ),
            Self::EnrolmentLinkOpen => t(
                "Innloggingslenke åpnet",
                "Innloggingslenkje opna",
                "Enrolment link opened",
            ),
            Self::EnrolmentLinkUse => t(
                "Innloggingslenke brukt",
                "Innloggingslenkje brukt",
                "Enrolment link used",
            ),
            Self::PasskeyRegister => t(
                "Passnøkkel registrert",
                "Passnøkkel registrert",
                "Passkey registered",
            ),
            Self::PasskeyList => t("Passnøkler lest", "Passnøklar lesne", "Passkeys listed"),
            Self::PasskeyRevoke => t(
                "Passnøkkel trukket tilbake",
                "Passnøkkel trekt tilbake",
                "Passkey revoked",
            ),
            Self::Login => t("Innlogging", "Innlogging", "Login"),
            Self::LoginFailed => t(
                "Mislykket innlogging",
                "Mislukka innlogging",
                "Failed login",
            ),
            Self::Logout => t("Utlogging", "Utlogging", "Logout"),
            Self::SessionExpire => t("Økt utløpt", "Økt gått ut", "Session expired"),
            Self::AccountLocked => t("Konto låst", "Konto låst", "Account locked"),
            Self::PasskeyRevokeAll => t(
                "Alle passnøkler trukket tilbake",
                "Alle passnøklar trekte tilbake",
                "All passkeys revoked",
            ),
            Self::NoticeAcknowledge => t(
                "Sikkerhetsvarsel kvittert",
                "Tryggleiksvarsel kvittert",
                "Security notice acknowledged",
            ),
            Self::ConsultationCreate => t(
                "Konsultasjon planlagt",
                "Konsultasjon planlagd",
                "Consultation planned",
            ),
            Self::ConsultationInvite => {
                t("Invitasjon sendt", "Invitasjon send", "Invitation issued")
            }
            Self::ConsultationRevoke => t(
                "Invitasjon trukket tilbake",
                "Invitasjon trekt tilbake",
                "Invitation revoked",
            ),
            Self::ConsultationList => t(
                "Konsultasjoner lest",
                "Konsultasjonar lesne",
                "Consultations listed",
            ),
            Self::ConsultationRead => t(
                "Konsultasjon lest",
                "Konsultasjon lesen",
                "Consultation read",
            ),
            Self::ConsultationAcknowledge => t(
                "Informasjon bekreftet lest",
                "Informasjon stadfesta lesen",
                "Information acknowledged",
            ),
            Self::ConsultationArrive => t(
                "Kom til venterommet",
                "Kom til venterommet",
                "Arrived in the waiting room",
            ),
            Self::ConsultationHostEnter => t("Leder gikk inn", "Leiar gjekk inn", "Host entered"),
            Self::ConsultationAdmit => t("Sluppet inn", "Sleppt inn", "Admitted"),
            Self::ConsultationRejoin => t("Kom tilbake", "Kom tilbake", "Rejoined"),
            Self::ConsultationDeny => t(
                "Avvist fra venterommet",
                "Avvist frå venterommet",
                "Denied entry",
            ),
            Self::ConsultationLock => t("Rommet låst", "Rommet låst", "Room locked"),
            Self::ConsultationUnlock => t("Rommet låst opp", "Rommet låst opp", "Room unlocked"),
            Self::ConsultationLeave => t(
                "Forlot konsultasjonen",
                "Forlét konsultasjonen",
                "Left the consultation",
            ),
            Self::ConsultationLeaveWaiting => t(
                "Forlot venterommet",
                "Forlét venterommet",
                "Left the waiting room",
            ),
            Self::ConsultationDrop => {
                t("Mistet forbindelsen", "Mista sambandet", "Connection lost")
            }
            Self::ConsultationGraceOver => t(
                "Kom ikke tilbake i tide",
                "Kom ikkje tilbake i tide",
                "Did not return in time",
            ),
            Self::ConsultationEnd => t(
                "Konsultasjon avsluttet",
                "Konsultasjon avslutta",
                "Consultation ended",
            ),
            Self::ConsultationCancel => t(
                "Konsultasjon avlyst",
                "Konsultasjon avlyst",
                "Consultation cancelled",
            ),
            Self::ConsultationRefused => t(
                "Handling i konsultasjon avvist",
                "Handling i konsultasjon avvist",
                "Action in consultation refused",
            ),
            Self::ConsultationJournal => t(
                "Journalnotat hentet",
                "Journalnotat henta",
                "Journal note fetched",
            ),
            Self::NoticeQueue => t("Varsel lagt i kø", "Varsel lagt i kø", "Notice queued"),
            Self::NoticeSend => t("Varsel sendt", "Varsel sendt", "Notice sent"),
            Self::NoticeFail => t("Varsel feilet", "Varsel feila", "Notice failed"),
            Self::ConsentGive => t("Samtykke gitt", "Samtykke gitt", "Consent given"),
            Self::ConsentWithdraw => t(
                "Samtykke trukket tilbake",
                "Samtykke trekt tilbake",
                "Consent withdrawn",
            ),
            Self::NoticeList => t("Varsler lest", "Varsel lesne", "Notices listed"),
            Self::MessageSend => t("Melding sendt", "Melding send", "Message sent"),
            Self::MessageRead => t("Melding lest", "Melding lesen", "Message read"),
            Self::AttachmentRead => t("Vedlegg åpnet", "Vedlegg opna", "Attachment opened"),
            Self::MessageFile => t(
                "Melding arkivert i journal",
                "Melding arkivert i journal",
                "Message filed to the record",
            ),
            Self::MessageExpire => t(
                "Melding slettet etter lagringstid",
                "Melding sletta etter lagringstid",
                "Message deleted after retention",
            ),
            Self::MessageEscalate => t(
                "Ubesvart melding fulgt opp",
                "Ubesvart melding følgd opp",
                "Unanswered message escalated",
            ),
            Self::TaskList => t("Oppgaver lest", "Oppgåver lesne", "Tasks listed"),
            Self::TaskDone => t("Oppgave fullført", "Oppgåve fullført", "Task done"),
            Self::SmsReply => t("SMS-svar mottatt", "SMS-svar motteke", "SMS reply received"),
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for op in Operation::ALL {
            assert!(seen.insert(op.code()), "duplicate code {}", op.code());
            assert_eq!(Operation::from_code(op.code()), Some(op));
        }
        assert_eq!(Operation::from_code("no.such"), None);
    }

    #[test]
    fn every_operation_has_a_name_in_each_language_and_none_is_the_code() {
        let mut seen = std::collections::BTreeSet::new();
        for op in Operation::ALL {
            let n = op.name();
            for w in [n.nb, n.nn, n.en] {
                assert!(!w.is_empty() && w != op.code(), "{op}");
            }
            assert!(seen.insert(n.en), "two operations read alike: {}", n.en);
        }
    }

    #[test]
    fn patient_data_operations_have_their_own_text() {
        // PC-RIGHTS-1: what the patient reads about an access to their data is specific.
        let generic = Operation::Login.patient_text();
        for op in [
            Operation::PatientRead,
            Operation::PatientList,
            Operation::PatientCreate,
            Operation::PatientCreateConflict,
            Operation::CareCreate,
            Operation::CareSelfDeclare,
            Operation::EmergencyAccessTake,
            Operation::AccessDenied,
        ] {
            assert_ne!(op.patient_text(), generic, "{op}");
            let t = op.patient_text();
            assert!(!t.nb.is_empty() && !t.nn.is_empty() && !t.en.is_empty());
        }
    }
}
