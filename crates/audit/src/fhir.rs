//! FHIR R4 export: [`audit_event`] maps one event to an `AuditEvent` resource and [`bundle`] wraps
//! events in a `Bundle` of type `collection` (`trygg audit export --format fhir`). Supports the
//! patient's right to see who accessed their data (PC-RIGHTS-1) and the organisation's control of
//! the log (PC-VENDOR-3).
//!
//! Codes used:
//! - `type`: DICOM `110114` User Authentication, `110113` Security Alert (security events,
//!   authorisation and configuration changes), `110106` Export; `rest` from
//!   `http://terminology.hl7.org/CodeSystem/audit-event-type` for data access; a Trygg code
//!   `consultation` for video consultation steps (VC-LOG-2), which no standard code fits.
//! - `subtype`: the event's operation (as a FHIR `restful-interaction` where it is one, else a
//!   Trygg code), plus DICOM `110122` Login / `110123` Logout / `110136` Security Roles Changed /
//!   `110131` Software Configuration where they apply.
//! - `action` `C R U D E`; `outcome` `0` success, `4` denied, failed login or rejected, `8` error.
//! - `purposeOfEvent` from v3 ActReason: `TREAT` (care relationship), `ETREAT` (emergency access),
//!   `HOPERAT` (administration), `PATRQT` (patient self-service), `HSYSADMIN` (system).
//! - Agents and entities carry Trygg's opaque ids as identifiers under [`SYSTEM_BASE`]; on-behalf-of
//!   uses the `auditevent-OnBehalfOf` extension; the agent's organisation, authentication method
//!   and eIDAS assurance level are Trygg extensions on the agent; the client address is
//!   `agent.network`; a care relationship or emergency justification is an entity with role
//!   `13` Security Resource.
//!
//! Entries whose payload was deleted at retention end have no event and are not exported.

use serde_json::{json, Map, Value};
use trygg_core::OrgSlug;

use crate::event::{
    Action, AgentKind, Assurance, AuditEvent, Basis, Category, EventError, Outcome, SecurityKind,
    Timestamp,
};

/// The base of Trygg's own code systems and identifier systems.
pub const SYSTEM_BASE: &str = "https://trygg.local/fhir";

const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const AUDIT_EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";
const RESTFUL: &str = "http://hl7.org/fhir/restful-interaction";
const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
const ROLE_CLASS: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleClass";
const PARTICIPATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
const RESOURCE_TYPES: &str = "http://hl7.org/fhir/resource-types";
const SOURCE_TYPE: &str = "http://terminology.hl7.org/CodeSystem/security-source-type";
const ON_BEHALF_OF: &str = "http://hl7.org/fhir/StructureDefinition/auditevent-OnBehalfOf";

const RESTFUL_CODES: [&str; 13] = [
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history",
    "history-instance",
    "history-type",
    "history-system",
    "create",
    "search",
    "search-type",
    "search-system",
];

fn coding(system: &str, code: &str, display: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert("system".into(), system.into());
    m.insert("code".into(), code.into());
    if let Some(d) = display {
        m.insert("display".into(), d.into());
    }
    Value::Object(m)
}

fn trygg(path: &str) -> String {
    format!("{SYSTEM_BASE}/{path}")
}

fn identifier(kind: &str, value: &str) -> Value {
    json!({ "system": trygg(&format!("sid/{kind}")), "value": value })
}

fn agent_kind_sid(kind: AgentKind) -> &'static str {
    match kind {
        AgentKind::Personnel => "personnel",
        AgentKind::Patient => "patient",
        AgentKind::RelatedPerson => "related-person",
        AgentKind::Device => "device",
        AgentKind::System => "system",
        AgentKind::Unknown => "unknown",
    }
}

fn agent_type(kind: AgentKind) -> Option<Value> {
    let c = match kind {
        AgentKind::Personnel => coding(ROLE_CLASS, "PROV", Some("healthcare provider")),
        AgentKind::Patient => coding(ROLE_CLASS, "PAT", Some("patient")),
        AgentKind::RelatedPerson => coding(ROLE_CLASS, "PRS", Some("personal relationship")),
        AgentKind::Device => coding(PARTICIPATION, "DEV", Some("device")),
        AgentKind::System => coding(DCM, "110150", Some("Application")),
        AgentKind::Unknown => return None,
    };
    Some(json!({ "coding": [c] }))
}

fn event_type(c: Category) -> Value {
    match c {
        Category::Access => coding(AUDIT_EVENT_TYPE, "rest", Some("RESTful Operation")),
        Category::Consultation => coding(
            &trygg("CodeSystem/audit-event-type"),
            "consultation",
            Some("Video consultation"),
        ),
        Category::Authentication => coding(DCM, "110114", Some("User Authentication")),
        Category::Authorisation | Category::Administration | Category::Security(_) => {
            coding(DCM, "110113", Some("Security Alert"))
        }
        Category::Export => coding(DCM, "110106", Some("Export")),
    }
}

fn subtypes(e: &AuditEvent) -> Vec<Value> {
    let op = e.operation.as_str();
    let mut out = vec![if RESTFUL_CODES.contains(&op) {
        coding(RESTFUL, op, None)
    } else {
        coding(&trygg("CodeSystem/audit-operation"), op, None)
    }];
    let login = matches!(
        e.category,
        Category::Authentication | Category::Security(SecurityKind::FailedLogin)
    );
    if (login && op == "login") || e.category == Category::Security(SecurityKind::FailedLogin) {
        out.push(coding(DCM, "110122", Some("Login")));
    }
    if login && op == "logout" {
        out.push(coding(DCM, "110123", Some("Logout")));
    }
    match e.category {
        Category::Authorisation => out.push(coding(DCM, "110136", Some("Security Roles Changed"))),
        Category::Administration => out.push(coding(DCM, "110131", Some("Software Configuration"))),
        Category::Security(k) => out.push(coding(
            &trygg("CodeSystem/security-event"),
            security_code(k),
            None,
        )),
        _ => {}
    }
    out
}

fn security_code(k: SecurityKind) -> &'static str {
    match k {
        SecurityKind::AccessDenied => "access-denied",
        SecurityKind::FailedLogin => "failed-login",
        SecurityKind::CrossOrganisation => "cross-organisation",
        SecurityKind::InvalidToken => "invalid-token",
        SecurityKind::RateLimited => "rate-limited",
        SecurityKind::IntegrityFailure => "integrity-failure",
    }
}

fn outcome_code(o: Outcome) -> &'static str {
    match o {
        Outcome::Success => "0",
        Outcome::Denied | Outcome::AuthenticationFailed | Outcome::Rejected => "4",
        Outcome::Error => "8",
    }
}

fn purpose(b: &Basis) -> Option<Value> {
    let (code, display) = match b {
        Basis::CareRelationship { .. } => ("TREAT", "treatment"),
        Basis::Emergency { .. } => ("ETREAT", "Emergency Treatment"),
        Basis::Administration => ("HOPERAT", "healthcare operations"),
        Basis::PatientSelf => ("PATRQT", "patient requested"),
        Basis::System => ("HSYSADMIN", "health system administration"),
        Basis::None => return None,
    };
    let mut codings = vec![coding(ACT_REASON, code, Some(display))];
    if let Basis::Emergency { reason, .. } = b {
        codings.push(coding(
            &trygg("CodeSystem/emergency-reason"),
            reason.as_str(),
            None,
        ));
    }
    Some(json!({ "coding": codings }))
}

/// One event as a FHIR R4 `AuditEvent`, with id `seq` and `source.site` the organisation whose log
/// holds it.
pub fn audit_event(org: &OrgSlug, seq: u64, e: &AuditEvent) -> Result<Value, EventError> {
    let mut r = Map::new();
    r.insert("resourceType".into(), "AuditEvent".into());
    r.insert("id".into(), seq.to_string().into());
    r.insert("type".into(), event_type(e.category));
    r.insert("subtype".into(), Value::Array(subtypes(e)));
    r.insert("action".into(), Action::code(e.action).into());
    if let Some(start) = e.period_start {
        r.insert(
            "period".into(),
            json!({ "start": start.to_rfc3339()?, "end": e.recorded.to_rfc3339()? }),
        );
    }
    r.insert("recorded".into(), e.recorded.to_rfc3339()?.into());
    r.insert("outcome".into(), outcome_code(e.outcome).into());
    if let Some(p) = purpose(&e.basis) {
        r.insert("purposeOfEvent".into(), json!([p]));
    }

    let a = &e.agent;
    let mut agent = Map::new();
    if let Some(t) = agent_type(a.kind) {
        agent.insert("type".into(), t);
    }
    if let Some(role) = &a.role {
        agent.insert(
            "role".into(),
            json!([{ "coding": [coding(&trygg("CodeSystem/role"), role.as_str(), None)] }]),
        );
    }
    let mut who = Map::new();
    if let Some(id) = &a.id {
        who.insert(
            "identifier".into(),
            identifier(agent_kind_sid(a.kind), id.as_str()),
        );
    } else {
        who.insert("display".into(), "unidentified".into());
    }
    agent.insert("who".into(), Value::Object(who));
    let mut exts = Vec::new();
    if let Some(org) = &a.organisation {
        exts.push(json!({
            "url": trygg("StructureDefinition/agent-organisation"),
            "valueIdentifier": identifier("organisation", org.as_str()),
        }));
    }
    if let Some(obo) = &a.on_behalf_of {
        exts.push(json!({
            "url": ON_BEHALF_OF,
            "valueReference": { "identifier": identifier(agent_kind_sid(obo.kind), obo.id.as_str()) },
        }));
    }
    if let Some(authn) = &a.authentication {
        exts.push(json!({
            "url": trygg("StructureDefinition/agent-authentication-method"),
            "valueCoding": coding(&trygg("CodeSystem/authentication-method"), authn.method.as_str(), None),
        }));
        if let Some(level) = authn.assurance {
            let code = match level {
                Assurance::Low => "low",
                Assurance::Substantial => "substantial",
                Assurance::High => "high",
            };
            exts.push(json!({
                "url": trygg("StructureDefinition/agent-assurance"),
                "valueCoding": coding(&trygg("CodeSystem/eidas-assurance"), code, None),
            }));
        }
    }
    if !exts.is_empty() {
        agent.insert("extension".into(), Value::Array(exts));
    }
    agent.insert("requestor".into(), true.into());
    if let Some(addr) = e.source.address {
        agent.insert(
            "network".into(),
            json!({ "address": addr.to_string(), "type": "2" }),
        );
    }
    r.insert("agent".into(), json!([agent]));

    r.insert(
        "source".into(),
        json!({
            "site": org.as_str(),
            "observer": {
                "identifier": identifier("node", e.source.node.as_str()),
                "display": e.source.node.as_str(),
            },
            "type": [coding(SOURCE_TYPE, "4", Some("Application Server"))],
        }),
    );

    let mut entities = Vec::new();
    if let Some(p) = &e.patient {
        entities.push(json!({
            "what": { "identifier": identifier("patient", p.as_str()) },
            "type": coding(ENTITY_TYPE, "1", Some("Person")),
            "role": coding(OBJECT_ROLE, "1", Some("Patient")),
        }));
    }
    if let Some(ent) = &e.entity {
        let kind = ent.kind.as_str();
        let is_resource = kind.chars().next().is_some_and(|c| c.is_ascii_uppercase());
        let ty = if is_resource {
            coding(RESOURCE_TYPES, kind, None)
        } else {
            coding(&trygg("CodeSystem/entity-type"), kind, None)
        };
        let mut m = Map::new();
        if let Some(id) = &ent.id {
            m.insert(
                "what".into(),
                json!({ "identifier": identifier(kind, id.as_str()) }),
            );
        }
        m.insert("type".into(), ty);
        if let Some((name, value)) = ent.detail.as_ref().and_then(|d| d.as_str().split_once(':')) {
            m.insert(
                "detail".into(),
                json!([{ "type": name, "valueString": value }]),
            );
        }
        entities.push(Value::Object(m));
    }
    if let Basis::CareRelationship { id } = &e.basis {
        entities.push(json!({
            "what": { "identifier": identifier("care-relationship", id.as_str()) },
            "type": coding(ENTITY_TYPE, "2", Some("System Object")),
            "role": coding(OBJECT_ROLE, "13", Some("Security Resource")),
        }));
    }
    if let Basis::Emergency {
        justification: Some(id),
        ..
    } = &e.basis
    {
        entities.push(json!({
            "what": { "identifier": identifier("emergency-justification", id.as_str()) },
            "type": coding(ENTITY_TYPE, "2", Some("System Object")),
            "role": coding(OBJECT_ROLE, "13", Some("Security Resource")),
        }));
    }
    if !entities.is_empty() {
        r.insert("entity".into(), Value::Array(entities));
    }
    Ok(Value::Object(r))
}

/// A FHIR R4 `Bundle` of type `collection` holding one `AuditEvent` per `(seq, event)`.
/// `generated` is the bundle's timestamp.
pub fn bundle<'a>(
    org: &OrgSlug,
    events: impl IntoIterator<Item = (u64, &'a AuditEvent)>,
    generated: Timestamp,
) -> Result<Value, EventError> {
    let entry = events
        .into_iter()
        .map(|(seq, e)| audit_event(org, seq, e).map(|r| json!({ "resource": r })))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": generated.to_rfc3339()?,
        "entry": entry,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Agent, Code, OpaqueId, Source};
    use crate::testing::sample_event;

    fn org() -> OrgSlug {
        OrgSlug::parse("normland-legesenter").unwrap()
    }

    #[test]
    fn access_event_maps_to_fhir_r4() {
        // PC-RIGHTS-1: what the patient sees about an access to their data.
        let e = sample_event(1_740_830_400_250, "p-42").unwrap();
        let r = audit_event(&org(), 17, &e).unwrap();
        assert_eq!(r["resourceType"], "AuditEvent");
        assert_eq!(r["id"], "17");
        assert_eq!(r["type"]["system"], AUDIT_EVENT_TYPE);
        assert_eq!(r["type"]["code"], "rest");
        assert_eq!(r["subtype"][0]["system"], RESTFUL);
        assert_eq!(r["subtype"][0]["code"], "read");
        assert_eq!(r["action"], "R");
        assert_eq!(r["outcome"], "0");
        assert_eq!(r["recorded"], "2025-03-01T12:00:00.25Z");
        assert_eq!(r["purposeOfEvent"][0]["coding"][0]["code"], "TREAT");
        let agent = &r["agent"][0];
        assert_eq!(agent["requestor"], true);
        assert_eq!(agent["role"][0]["coding"][0]["code"], "doctor");
        assert_eq!(
            agent["who"]["identifier"]["value"],
            "0195a3c2-7d1e-7000-8000-000000000001"
        );
        assert_eq!(agent["type"]["coding"][0]["code"], "PROV");
        assert_eq!(r["source"]["site"], "normland-legesenter");
        assert_eq!(r["source"]["observer"]["display"], "node-1");
        let patient = &r["entity"][0];
        assert_eq!(patient["role"]["code"], "1");
        assert_eq!(patient["what"]["identifier"]["value"], "p-42");
        assert_eq!(r["entity"][1]["type"]["system"], RESOURCE_TYPES);
        assert_eq!(r["entity"][1]["type"]["code"], "Communication");
        assert_eq!(r["entity"][2]["role"]["code"], "13");
        // No network element without an address.
        assert!(agent.get("network").is_none());
    }

    #[test]
    fn failed_login_is_a_dicom_security_alert() {
        // Guide risk scenario 17: attempts are recorded as security events.
        let mut e = AuditEvent::new(
            Timestamp::from_unix_millis(0),
            Category::Security(SecurityKind::FailedLogin),
            Code::new("login").unwrap(),
            Action::Execute,
            Outcome::AuthenticationFailed,
            Agent {
                kind: AgentKind::Unknown,
                id: None,
                role: None,
                organisation: None,
                on_behalf_of: None,
                authentication: None,
            },
            Source {
                node: Code::new("node-1").unwrap(),
                address: Some("2001:db8::1".parse().unwrap()),
            },
        );
        e.request_id = Some(uuid::Uuid::nil());
        let r = audit_event(&org(), 0, &e).unwrap();
        assert_eq!(r["type"]["system"], DCM);
        assert_eq!(r["type"]["code"], "110113");
        let subs: Vec<&str> = r["subtype"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["code"].as_str().unwrap())
            .collect();
        assert_eq!(subs, ["login", "110122", "failed-login"]);
        assert_eq!(r["outcome"], "4");
        assert_eq!(r["agent"][0]["who"]["display"], "unidentified");
        assert_eq!(r["agent"][0]["network"]["address"], "2001:db8::1");
        assert_eq!(r["agent"][0]["network"]["type"], "2");
        assert!(r.get("purposeOfEvent").is_none());
        assert!(r.get("entity").is_none());
    }

    #[test]
    fn emergency_access_is_etreat_with_reason() {
        let mut e = sample_event(0, "p-1").unwrap();
        e.basis = Basis::Emergency {
            reason: Code::new("patient-unconscious").unwrap(),
            justification: Some(OpaqueId::new("j-9").unwrap()),
        };
        e.agent.on_behalf_of = Some(crate::event::OnBehalfOf {
            kind: AgentKind::Personnel,
            id: OpaqueId::new("doc-2").unwrap(),
        });
        let r = audit_event(&org(), 3, &e).unwrap();
        let p = &r["purposeOfEvent"][0]["coding"];
        assert_eq!(p[0]["system"], ACT_REASON);
        assert_eq!(p[0]["code"], "ETREAT");
        assert_eq!(p[1]["code"], "patient-unconscious");
        let ext = r["agent"][0]["extension"].as_array().unwrap();
        assert!(ext
            .iter()
            .any(|x| x["url"] == ON_BEHALF_OF
                && x["valueReference"]["identifier"]["value"] == "doc-2"));
        assert!(ext.iter().any(|x| x["valueCoding"]["code"] == "high"));
        let last = r["entity"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["what"]["identifier"]["value"], "j-9");
    }

    #[test]
    fn authorisation_changes_are_role_change_events() {
        // PC-ACL-1: grants and revocations are kept as audit entries.
        let mut e = sample_event(0, "p-1").unwrap();
        e.category = Category::Authorisation;
        e.operation = Code::new("role-granted").unwrap();
        e.action = Action::Create;
        e.patient = None;
        e.basis = Basis::Administration;
        let r = audit_event(&org(), 1, &e).unwrap();
        assert_eq!(r["type"]["code"], "110113");
        assert_eq!(r["subtype"][1]["code"], "110136");
        assert_eq!(r["purposeOfEvent"][0]["coding"][0]["code"], "HOPERAT");
        assert_eq!(r["action"], "C");
    }

    #[test]
    fn consultation_period_is_exported() {
        // VC-LOG-2: "ended" carries the consultation's start.
        let mut e = sample_event(3_600_000, "p-1").unwrap();
        e.category = Category::Consultation;
        e.operation = Code::new("ended").unwrap();
        e.period_start = Some(Timestamp::from_unix_millis(0));
        let r = audit_event(&org(), 1, &e).unwrap();
        assert_eq!(r["period"]["start"], "1970-01-01T00:00:00Z");
        assert_eq!(r["period"]["end"], "1970-01-01T01:00:00Z");
        assert_eq!(r["type"]["code"], "consultation");
    }

    #[test]
    fn bundle_is_a_collection() {
        let a = sample_event(0, "p-1").unwrap();
        let b = sample_event(1, "p-2").unwrap();
        let v = bundle(&org(), [(0, &a), (5, &b)], Timestamp::from_unix_millis(2)).unwrap();
        assert_eq!(v["resourceType"], "Bundle");
        assert_eq!(v["type"], "collection");
        assert_eq!(v["timestamp"], "1970-01-01T00:00:00.002Z");
        let entries = v["entry"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1]["resource"]["id"], "5");
        assert_eq!(entries[1]["resource"]["resourceType"], "AuditEvent");
    }
}
