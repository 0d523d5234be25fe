//! The organisation's records as FHIR R4 resources for the exit export (issue #16, VC-DPA-1,
//! PC-VENDOR-4): pure functions from the store's records to JSON, one per resource type, with
//! Trygg's own ids as logical ids and as identifiers under `https://trygg.local/fhir/sid/…`, so
//! that references inside the export resolve and an import can read them back. Codes Trygg
//! defines have systems under `https://trygg.local/fhir/CodeSystem/…`. The resources are checked
//! against the R4 definitions by `tests/e2e/fhir-validate.mjs` in the integration tests.

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

use trygg_core::national_id::{NationalId, NationalIdKind};
use trygg_store::access::{CareRecord, GrantRecord};
use trygg_store::consultations::{ConsultationRow, ParticipantRow, Person};
use trygg_store::messages::{MessageRow, ThreadRow};
use trygg_store::notices::ConsentRow;
use trygg_store::{DeviceRecord, Organisation, Patient, Personnel};

/// The base of Trygg's systems (the same as the audit log's FHIR export).
pub const BASE: &str = trygg_audit::fhir::SYSTEM_BASE;

/// The identifier system of a Trygg id of this kind (`patient`, `personnel`, …).
pub fn sid(kind: &str) -> String {
    format!("{BASE}/sid/{kind}")
}

/// The code system of Trygg's codes of this kind.
pub fn cs(kind: &str) -> String {
    format!("{BASE}/CodeSystem/{kind}")
}

/// The Norwegian OIDs of the national identity numbers (Volven 4.1.4.x).
fn nid_system(kind: NationalIdKind) -> &'static str {
    match kind {
        NationalIdKind::Fodselsnummer | NationalIdKind::Synthetic => {
            "urn:oid:2.16.578.1.12.4.1.4.1"
        }
        NationalIdKind::DNumber | NationalIdKind::SyntheticDNumber => {
            "urn:oid:2.16.578.1.12.4.1.4.2"
        }
        NationalIdKind::HNumber => "urn:oid:2.16.578.1.12.4.1.4.3",
    }
}

/// An instant as FHIR writes it (RFC 3339 with seconds).
pub fn instant(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Unix seconds as an instant.
pub fn unix(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .map(instant)
        .unwrap_or_default()
}

fn id_of(kind: &str, id: Uuid) -> Value {
    json!({ "system": sid(kind), "value": id.to_string() })
}

fn reference(kind: &str, id: Uuid) -> Value {
    json!({ "reference": format!("{kind}/{id}") })
}

/// An actor id of the audit log (`personnel:<id>`, `patient:<id>`) as a reference, or a display.
pub fn actor_reference(actor: &str) -> Value {
    let parsed = actor
        .split_once(':')
        .and_then(|(k, v)| Uuid::try_parse(v).ok().map(|id| (k, id)));
    match parsed {
        Some(("personnel", id)) => reference("Practitioner", id),
        Some(("patient", id)) => reference("Patient", id),
        _ => json!({ "display": actor }),
    }
}

fn code(kind: &str, value: &str) -> Value {
    json!({ "coding": [{ "system": cs(kind), "code": value }] })
}

/// The organisation.
pub fn organization(org: &Organisation) -> Value {
    json!({
        "resourceType": "Organization",
        "id": org.id.to_string(),
        "identifier": [id_of("organisation", org.id), { "system": sid("organisation-slug"), "value": org.slug.as_str() }],
        "active": true,
        "name": org.name,
    })
}

/// A person on the staff; `ended` is the end of their employment, if set.
pub fn practitioner(p: &Personnel, ended: Option<i64>, now: OffsetDateTime) -> Value {
    let mut v = json!({
        "resourceType": "Practitioner",
        "id": p.id.to_string(),
        "identifier": [id_of("personnel", p.id)],
        "active": ended.is_none_or(|e| e > now.unix_timestamp()),
        "name": [{ "text": p.name.expose() }],
        "qualification": [{ "code": code("personnel-role", p.role.as_str()) }],
        "extension": [
            { "url": format!("{BASE}/StructureDefinition/employment"), "valueCode": p.employment.as_str() },
            { "url": format!("{BASE}/StructureDefinition/registered"), "valueDateTime": instant(p.created_at) },
        ],
    });
    if let (Some(e), Some(ext)) = (ended, v["extension"].as_array_mut()) {
        ext.push(json!({ "url": format!("{BASE}/StructureDefinition/employment-end"), "valueDateTime": unix(e) }));
    }
    if let Some(email) = &p.email {
        v["telecom"] = json!([{ "system": "email", "value": email.expose(), "use": "work" }]);
    }
    v
}

/// A grant of a role: who, which role, from when to when, and whether it is in force now.
pub fn practitioner_role(org: &Organisation, g: &GrantRecord, now: OffsetDateTime) -> Value {
    let t = now.unix_timestamp();
    let active = g.revoked_at.is_none() && g.valid_from <= t && g.valid_to.is_none_or(|to| to > t);
    let end = match (g.valid_to, g.revoked_at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let mut period = json!({ "start": unix(g.valid_from) });
    if let Some(e) = end {
        period["end"] = json!(unix(e.max(g.valid_from)));
    }
    json!({
        "resourceType": "PractitionerRole",
        "id": g.id.to_string(),
        "identifier": [id_of("grant", g.id)],
        "active": active,
        "period": period,
        "practitioner": reference("Practitioner", g.personnel_id),
        "organization": reference("Organization", org.id),
        "code": [code("role", &g.role)],
    })
}

/// A patient, with the full national identity number (the export is the organisation's own
/// data, encrypted to its key).
pub fn patient(p: &Patient, nid: Option<&NationalId>) -> Value {
    let mut identifier = vec![id_of("patient", p.id)];
    if let Some(n) = nid {
        identifier.push(json!({ "system": nid_system(n.kind()), "value": n.expose() }));
    }
    let mut telecom = Vec::new();
    if let Some(ph) = &p.phone {
        telecom.push(json!({ "system": "phone", "value": ph.expose(), "use": "mobile" }));
    }
    if let Some(e) = &p.email {
        telecom.push(json!({ "system": "email", "value": e.expose(), "use": "home" }));
    }
    let mut v = json!({
        "resourceType": "Patient",
        "id": p.id.to_string(),
        "identifier": identifier,
        "active": true,
        "name": [{ "text": p.name.expose() }],
        "extension": [{ "url": format!("{BASE}/StructureDefinition/registered"), "valueDateTime": instant(p.created_at) }],
    });
    if !telecom.is_empty() {
        v["telecom"] = Value::Array(telecom);
    }
    v
}

/// A consent record: `current` when it is the newest for its patient, purpose and channel (the
/// one in force), else inactive; given is a permit, withdrawn a deny.
pub fn consent(id: Uuid, c: &ConsentRow, current: bool) -> Value {
    json!({
        "resourceType": "Consent",
        "id": id.to_string(),
        "identifier": [id_of("consent", id)],
        "status": if current { "active" } else { "inactive" },
        "scope": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy" }] },
        "category": [{ "coding": [{ "system": "http://loinc.org", "code": "59284-0" }] }],
        "patient": reference("Patient", c.patient),
        "dateTime": instant(c.recorded_at),
        "performer": [actor_reference(&c.recorded_by)],
        "policyRule": code("consent-text", &c.text_version),
        "provision": {
            "type": if c.granted { "permit" } else { "deny" },
            "purpose": [{ "system": cs("notice-purpose"), "code": c.purpose }],
            "code": [code("notice-channel", &c.channel)],
        },
    })
}

/// A consultation; `journal` is its stored note for the EHR, if any.
pub fn encounter(c: &ConsultationRow, parts: &[ParticipantRow], journal: Option<&str>) -> Value {
    let status = match c.state.as_str() {
        "ended" => "finished",
        "cancelled" => "cancelled",
        _ => "planned",
    };
    let end = c
        .ended_at
        .unwrap_or(c.starts_at + time::Duration::minutes(i64::from(c.minutes)));
    let participant: Vec<Value> = parts
        .iter()
        .filter_map(|p| match p.person {
            Person::Personnel(id) => Some(json!({
                "type": [code("consultation-role", &p.role)],
                "individual": reference("Practitioner", id),
            })),
            Person::Patient(_) => None,
        })
        .collect();
    let mut v = json!({
        "resourceType": "Encounter",
        "id": c.id.to_string(),
        "identifier": [id_of("consultation", c.id)],
        "status": status,
        "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "VR", "display": "virtual" },
        "type": [code("consultation-kind", &c.kind)],
        "subject": reference("Patient", c.patient),
        "period": { "start": instant(c.starts_at), "end": instant(end.max(c.starts_at)) },
        "length": { "value": c.minutes, "unit": "min", "system": "http://unitsofmeasure.org", "code": "min" },
        "extension": [
            { "url": format!("{BASE}/StructureDefinition/planned-by"), "valueString": c.created_by },
            { "url": format!("{BASE}/StructureDefinition/registered"), "valueDateTime": instant(c.created_at) },
        ],
    });
    if !participant.is_empty() {
        v["participant"] = Value::Array(participant);
    }
    if let Some(j) = journal {
        v["text"] = json!({ "status": "additional", "div": narrative(j) });
    }
    v
}

/// Text as an XHTML narrative `div`, escaped.
fn narrative(text: &str) -> String {
    let mut out = String::from("<div xmlns=\"http://www.w3.org/1999/xhtml\"><pre>");
    for ch in text.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out.push_str("</pre></div>");
    out
}

/// One attachment's content, for a message's payload.
#[derive(Debug, Clone)]
pub struct Content {
    /// Media type.
    pub media_type: String,
    /// Name.
    pub name: String,
    /// The bytes.
    pub data: Vec<u8>,
}

/// A secure message in its thread; the patient is the thread's.
pub fn communication(
    org: &Organisation,
    t: &ThreadRow,
    m: &MessageRow,
    attachments: &[Content],
) -> Value {
    use base64::Engine as _;
    let state = if m.filed_at.is_some() {
        "filed"
    } else if m.body.is_none() {
        "expired"
    } else {
        "kept"
    };
    let mut payload: Vec<Value> = Vec::new();
    if let Some(b) = &m.body {
        payload.push(json!({ "contentString": b }));
    }
    for a in attachments {
        payload.push(json!({ "contentAttachment": {
            "contentType": a.media_type,
            "title": a.name,
            "data": base64::engine::general_purpose::STANDARD.encode(&a.data),
        }}));
    }
    let patient = reference("Patient", t.patient);
    let author = actor_reference(&m.author);
    let (sender, recipient) = if m.from_patient {
        (patient.clone(), reference("Organization", org.id))
    } else {
        (author, patient.clone())
    };
    let mut v = json!({
        "resourceType": "Communication",
        "id": m.id.to_string(),
        "identifier": [id_of("message", m.id), id_of("thread", t.id)],
        "status": "completed",
        "category": [code("message-state", state)],
        "subject": patient,
        "sent": instant(m.created_at),
        "sender": sender,
        "extension": [{ "url": format!("{BASE}/StructureDefinition/expires"), "valueDateTime": instant(m.expires_at) }],
    });
    v["recipient"] = json!([recipient]);
    if let Some(s) = &t.subject {
        v["topic"] = json!({ "text": s });
    }
    if let Some(r) = m.read_at {
        v["received"] = json!(instant(r));
    }
    if !payload.is_empty() {
        v["payload"] = Value::Array(payload);
    }
    v
}

/// An organisation-owned device.
pub fn device(org: &Organisation, d: &DeviceRecord) -> Value {
    let status = if d.revoked_at.is_some() {
        "inactive"
    } else if d.enrolled_at.is_some() {
        "active"
    } else {
        "unknown"
    };
    let mut v = json!({
        "resourceType": "Device",
        "id": d.id.to_string(),
        "identifier": [id_of("device", d.id)],
        "status": status,
        "deviceName": [{ "name": d.label, "type": "user-friendly-name" }],
        "type": { "text": "Trygg video consultation device" },
        "owner": reference("Organization", org.id),
    });
    if let Some(k) = &d.public_key {
        if let Some(a) = v["identifier"].as_array_mut() {
            a.push(json!({ "system": sid("device-key-p256"), "value": hex::encode(k) }));
        }
    }
    if let Some(p) = d.patient_id {
        v["patient"] = reference("Patient", p);
    }
    v
}

/// The export's own provenance: what was assembled, when and by which deployment.
pub fn provenance(org: &Organisation, id: Uuid, deployment: &str, now: OffsetDateTime) -> Value {
    json!({
        "resourceType": "Provenance",
        "id": id.to_string(),
        "target": [reference("Organization", org.id)],
        "recorded": instant(now),
        "activity": { "coding": [{ "system": cs("activity"), "code": "exit-export" }] },
        "agent": [{
            "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "code": "assembler" }] },
            "who": { "display": format!("Trygg at {deployment}") },
        }],
    })
}

/// A care relationship, as the export's non-FHIR record.
pub fn care_record(c: &CareRecord) -> Value {
    json!({
        "id": c.id, "personnel": c.personnel_id, "patient": c.patient_id, "reason": c.reason,
        "valid_from": unix(c.valid_from), "valid_to": unix(c.valid_to),
        "ended_at": c.ended_at.map(unix), "self_declared": c.self_declared,
    })
}

/// A grant, as the export's non-FHIR record (the authorisation register).
pub fn grant_record(g: &GrantRecord) -> Value {
    json!({
        "id": g.id, "personnel": g.personnel_id, "role": g.role,
        "valid_from": unix(g.valid_from), "valid_to": g.valid_to.map(unix),
        "granted_by": g.granted_by, "granted_at": unix(g.granted_at),
        "revoked_at": g.revoked_at.map(unix), "revoked_by": g.revoked_by,
        "revoke_reason": g.revoke_reason,
    })
}
