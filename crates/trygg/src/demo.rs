//! Demo data for `trygg demo`: two organisations with personnel in different roles and a few
//! patients each. Every national identity number is synthetic (month + 80), every name and
//! contact invented. Seeding is idempotent: running the demo twice adds nothing the second time.
//! An organisation the demo creates is marked as such in the control database; the developer
//! login offers and accepts no other (review finding 7).

use trygg_core::{
    BuiltinRole, EmailAddress, Employment, NationalId, OrgSlug, PersonName, PhoneNumber,
};
use trygg_store::{NewPatient, NewPersonnel, Organisation, Store};

use trygg_app::audit::{event, Actor, Did};

struct DemoOrg {
    name: &'static str,
    personnel: &'static [(&'static str, BuiltinRole, Employment)],
    patients: &'static [(&'static str, (u8, u8, u8), &'static str)],
}

const ORGS: &[DemoOrg] = &[
    DemoOrg {
        name: "Normland legesenter",
        personnel: &[
            (
                "Ola Lege Normann",
                BuiltinRole::Doctor,
                Employment::Employee,
            ),
            ("Ingrid Vikar Dahl", BuiltinRole::Doctor, Employment::Locum),
            (
                "Kari Pleie Nordmann",
                BuiltinRole::Nurse,
                Employment::Employee,
            ),
            (
                "Sofie Skranke Berg",
                BuiltinRole::Secretary,
                Employment::Employee,
            ),
            (
                "Per Admin Hansen",
                BuiltinRole::OrgAdmin,
                Employment::Employee,
            ),
            (
                "Amir Tolk Haddad",
                BuiltinRole::Interpreter,
                Employment::Locum,
            ),
        ],
        patients: &[
            ("Astrid Testesen", (12, 3, 54), "41234001"),
            ("Bjørn Prøvesen", (7, 11, 88), "41234002"),
            ("Camilla Demo Lie", (29, 2, 92), "41234003"),
        ],
    },
    DemoOrg {
        name: "Normbakken kommune, hjemmetjenesten",
        personnel: &[
            (
                "Hilde Heim Strand",
                BuiltinRole::Nurse,
                Employment::Employee,
            ),
            (
                "Jonas Fysio Moe",
                BuiltinRole::Physiotherapist,
                Employment::Contractor,
            ),
            (
                "Amina Tolk Rahimi",
                BuiltinRole::Interpreter,
                Employment::Contractor,
            ),
            ("Lars Student Aas", BuiltinRole::Nurse, Employment::Student),
            (
                "Eva Admin Holm",
                BuiltinRole::OrgAdmin,
                Employment::Employee,
            ),
        ],
        patients: &[
            ("Dagny Eksempel", (3, 5, 31), "41234004"),
            ("Erling Fiktiv Bakke", (18, 9, 40), "41234005"),
            ("Fatima Oppdiktet", (25, 1, 67), "41234006"),
        ],
    },
];

/// The organisations seeded, and how many records were added now.
#[derive(Debug)]
pub struct Seeded {
    /// The demo organisations.
    pub orgs: Vec<Organisation>,
    /// Records added by this run (0 on a second run).
    pub added: usize,
}

/// Seeds the demo data.
pub async fn seed(store: &Store) -> anyhow::Result<Seeded> {
    let now = time::OffsetDateTime::now_utc();
    let mut orgs = Vec::new();
    let mut added = 0;
    for (n, d) in ORGS.iter().enumerate() {
        let slug = OrgSlug::from_name(d.name)?;
        let org = match store.org_by_slug(&slug).await? {
            Some(o) => o,
            None => {
                added += 1;
                let org = store.create_org(&slug, d.name, now).await?;
                // Only organisations the demo created are offered by its developer login.
                store.mark_demo(&org).await?;
                org
            }
        };
        let h = store.org(&org).await?;
        let actor = Actor::system("demo");
        let mut tx = h.begin().await?;
        let existing: Vec<String> = tx
            .list_personnel()
            .await?
            .into_iter()
            .map(|p| p.name.expose().to_owned())
            .collect();
        for (name, role, employment) in d.personnel {
            if existing.iter().any(|e| e == name) {
                continue;
            }
            let email = format!(
                "{}@{}.example",
                name.split(' ').next().unwrap_or("ansatt").to_lowercase(),
                slug
            );
            let p = tx
                .create_personnel(
                    &NewPersonnel {
                        name: PersonName::parse(name)?,
                        email: Some(EmailAddress::parse(&email)?),
                        role: *role,
                        employment: *employment,
                    },
                    now,
                )
                .await?;
            tx.audit(&demo_event(
                &org,
                &actor,
                (
                    trygg_core::Operation::PersonnelCreate,
                    trygg_audit::Action::Create,
                ),
                "Practitioner",
                p.id,
                None,
                now,
            )?)
            .await?;
            added += 1;
        }
        for (i, (name, (day, month, yy), phone)) in d.patients.iter().enumerate() {
            let individual = 100 + 37 * (n as u16 * 3 + i as u16);
            let nid = NationalId::synthetic(*day, *month, *yy, individual)
                .ok_or_else(|| anyhow::anyhow!("no synthetic number for demo patient {i}"))?;
            if tx.patient_by_national_id(&nid).await?.is_some() {
                continue;
            }
            let p = tx
                .create_patient(
                    &NewPatient {
                        name: PersonName::parse(name)?,
                        national_id: nid,
                        phone: Some(PhoneNumber::parse(phone)?),
                        email: Some(EmailAddress::parse(&patient_email(name))?),
                    },
                    now,
                )
                .await?;
            tx.audit(&demo_event(
                &org,
                &actor,
                (
                    trygg_core::Operation::PatientCreate,
                    trygg_audit::Action::Create,
                ),
                "Patient",
                p.id,
                Some(p.id),
                now,
            )?)
            .await?;
            added += 1;
        }
        // A run that added nothing still looked people up: that is logged too.
        tx.audit(&demo_event(
            &org,
            &actor,
            (trygg_core::Operation::DemoSeed, trygg_audit::Action::Read),
            "Organization",
            org.id,
            None,
            now,
        )?)
        .await?;
        tx.commit().await?;
        orgs.push(org);
    }
    Ok(Seeded { orgs, added })
}

/// Lets the demo organisations reach health data with a *substantial* login (a passkey): the
/// default minimum is *high* (PC-AUTHN-3), and no high login (HelseID, ID-porten) exists yet.
/// Only `trygg demo` calls this; it says so at start, and the README too.
pub async fn relax_health_assurance(store: &Store) -> anyhow::Result<()> {
    use trygg_core::access::Permission;
    for d in ORGS {
        let slug = OrgSlug::from_name(d.name)?;
        let Some(org) = store.org_by_slug(&slug).await? else {
            continue;
        };
        let h = store.org(&org).await?;
        for p in [
            Permission::HealthRead,
            Permission::HealthWrite,
            Permission::EmergencyAccess,
        ] {
            let mut tx = h.begin().await?;
            let current = trygg_app::access::min_assurance(&mut tx, p)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.detail))?;
            drop(tx);
            if current != trygg_audit::Assurance::Substantial {
                trygg_app::access::set_min_assurance(
                    &h,
                    p,
                    "substantial",
                    "demo",
                    time::OffsetDateTime::now_utc(),
                )
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.detail))?;
            }
        }
    }
    Ok(())
}

fn demo_event(
    org: &Organisation,
    actor: &Actor,
    (operation, action): (trygg_core::Operation, trygg_audit::Action),
    entity: &'static str,
    id: uuid::Uuid,
    patient: Option<uuid::Uuid>,
    now: time::OffsetDateTime,
) -> anyhow::Result<trygg_audit::AuditEvent> {
    event(
        &org.slug,
        actor,
        Did {
            category: trygg_audit::Category::Administration,
            operation,
            action,
            outcome: trygg_audit::Outcome::Success,
            entity: (entity, Some(id.to_string())),
            patient,
            basis: trygg_audit::Basis::System,
            detail: None,
        },
        now,
    )
    .map_err(|e| anyhow::anyhow!("building a demo audit event: {}", e.detail))
}

/// Every piece of personal data the demo writes, in the forms a leak would take (names, national
/// identity numbers with and without the space, phone numbers as given and as stored, e-mail
/// addresses). The plaintext-scan test looks for each in the raw files of the data directory.
pub fn personal_strings() -> Vec<String> {
    let mut out = Vec::new();
    for (n, d) in ORGS.iter().enumerate() {
        for (name, _, _) in d.personnel {
            out.push((*name).to_owned());
            if let (Some(first), Ok(slug)) = (name.split(' ').next(), OrgSlug::from_name(d.name)) {
                out.push(format!("{}@{}.example", first.to_lowercase(), slug));
            }
        }
        for (i, (name, (day, month, yy), phone)) in d.patients.iter().enumerate() {
            out.push((*name).to_owned());
            out.push((*phone).to_owned());
            out.push(format!("+47{phone}"));
            out.push(patient_email(name));
            let individual = 100 + 37 * (n as u16 * 3 + i as u16);
            if let Some(nid) = NationalId::synthetic(*day, *month, *yy, individual) {
                let s = nid.expose();
                out.push(format!("{} {}", &s[..6], &s[6..]));
                out.push(s);
            }
        }
    }
    out
}

/// A demo patient's e-mail address, at a domain reserved for examples (RFC 2606).
fn patient_email(name: &str) -> String {
    let local: String = name
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'æ' => 'e',
            'ø' => 'o',
            'å' => 'a',
            ' ' => '.',
            c if c.is_ascii_alphanumeric() || c == '-' => c,
            _ => '-',
        })
        .collect();
    format!("{local}@pasient.example")
}
