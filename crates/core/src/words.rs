//! Words, not codes (issue #14): the one catalogue that turns the stable codes the API and the
//! audit log speak (roles, permissions, employment types, login methods, assurance levels,
//! outcomes) into what people read, in bokmål, nynorsk and English. Pages show these; the API
//! keeps the codes. Each function matches its enum exhaustively, so a new variant does not
//! compile without its words; [`code_words`] covers codes that arrive as text (a stored method,
//! an outcome), and its test checks that every known code has words in all three languages.
//! Dates and times as people read them are here too ([`when`], in a [`Zone`]).

use time::OffsetDateTime;

use crate::access::Permission;
use crate::person::{BuiltinRole, Employment};
use crate::Lang;

/// A role's name (an organisation-defined role shows its own name instead).
pub fn role(r: BuiltinRole, lang: Lang) -> &'static str {
    let (nb, nn, en) = match r {
        BuiltinRole::Doctor => ("Lege", "Lege", "Doctor"),
        BuiltinRole::Nurse => ("Sykepleier", "Sjukepleiar", "Nurse"),
        BuiltinRole::Psychologist => ("Psykolog", "Psykolog", "Psychologist"),
        BuiltinRole::Physiotherapist => ("Fysioterapeut", "Fysioterapeut", "Physiotherapist"),
        BuiltinRole::Secretary => ("Sekretær", "Sekretær", "Secretary"),
        BuiltinRole::Interpreter => ("Tolk", "Tolk", "Interpreter"),
        BuiltinRole::OrgAdmin => ("Administrator", "Administrator", "Administrator"),
        BuiltinRole::System => ("Systembruker", "Systembrukar", "System user"),
    };
    lang.pick(nb, nn, en)
}

/// What a permission lets a person do.
pub fn permission(p: Permission, lang: Lang) -> &'static str {
    let (nb, nn, en) = match p {
        Permission::PatientRead => (
            "Se pasientliste og kontaktopplysninger",
            "Sjå pasientliste og kontaktopplysningar",
            "See patients and their contact details",
        ),
        Permission::PatientWrite => (
            "Registrere og endre pasienter",
            "Registrere og endre pasientar",
            "Register and change patients",
        ),
        Permission::HealthRead => (
            "Lese helseopplysninger",
            "Lese helseopplysningar",
            "Read health information",
        ),
        Permission::HealthWrite => (
            "Skrive helseopplysninger og meldinger",
            "Skrive helseopplysningar og meldingar",
            "Write health information and messages",
        ),
        Permission::CareManage => (
            "Opprette og avslutte behandlingsrelasjoner",
            "Opprette og avslutte behandlingsrelasjonar",
            "Start and end care relationships",
        ),
        Permission::EmergencyAccess => ("Ta nødtilgang", "Ta naudtilgang", "Take emergency access"),
        Permission::ConsultationManage => (
            "Planlegge og lede videokonsultasjoner",
            "Planleggje og leie videokonsultasjonar",
            "Plan and lead video consultations",
        ),
        Permission::ConsultationJoin => (
            "Delta i videokonsultasjoner",
            "Delta i videokonsultasjonar",
            "Take part in video consultations",
        ),
        Permission::PersonnelManage => (
            "Administrere ansatte",
            "Administrere tilsette",
            "Manage staff",
        ),
        Permission::CredentialsManage => (
            "Gi innloggingslenker og registrere utstyr",
            "Gi innloggingslenkjer og registrere utstyr",
            "Issue login links and register equipment",
        ),
        Permission::GrantsManage => (
            "Gi og trekke tilbake roller",
            "Gi og trekkje tilbake roller",
            "Grant and revoke roles",
        ),
        Permission::RightsReview => (
            "Gjennomgå tilganger",
            "Gå gjennom tilgangar",
            "Review access rights",
        ),
        Permission::LogControl => (
            "Kontrollere loggen for snoking",
            "Kontrollere loggen for snoking",
            "Check the log for snooping",
        ),
        Permission::ComplianceManage => (
            "Føre samsvar, avvik og lagringstid",
            "Føre samsvar, avvik og lagringstid",
            "Keep compliance, incidents and retention",
        ),
        Permission::AuditRead => ("Søke i loggen", "Søkje i loggen", "Search the audit log"),
        Permission::Integrate => (
            "Koble til andre systemer",
            "Kople til andre system",
            "Connect other systems",
        ),
    };
    lang.pick(nb, nn, en)
}

/// An employment type.
pub fn employment(e: Employment, lang: Lang) -> &'static str {
    let (nb, nn, en) = match e {
        Employment::Employee => ("Ansatt", "Tilsett", "Employee"),
        Employment::Locum => ("Vikar", "Vikar", "Locum"),
        Employment::Student => ("Student", "Student", "Student"),
        Employment::Contractor => ("Innleid", "Innleigd", "Contractor"),
    };
    lang.pick(nb, nn, en)
}

/// Every code that reaches a page as text (login methods, assurance levels, outcomes, device
/// and list states), with its words: `(code, nb, nn, en)`.
pub const CODE_WORDS: &[(&str, &str, &str, &str)] = &[
    ("passkey", "passnøkkel", "passnøkkel", "passkey"),
    ("helseid", "HelseID", "HelseID", "HelseID"),
    ("idporten", "ID-porten", "ID-porten", "ID-porten"),
    (
        "oidc",
        "virksomhetens pålogging",
        "verksemda si pålogging",
        "the organisation's login",
    ),
    (
        "developer",
        "testinnlogging (demo)",
        "testinnlogging (demo)",
        "test login (demo)",
    ),
    (
        "device-key",
        "virksomhetens utstyr",
        "verksemda sitt utstyr",
        "the organisation's equipment",
    ),
    (
        "invitation",
        "invitasjonslenke",
        "invitasjonslenkje",
        "invitation link",
    ),
    ("api-token", "API-nøkkel", "API-nøkkel", "API token"),
    ("low", "lavt", "lågt", "low"),
    ("substantial", "betydelig", "betydeleg", "substantial"),
    ("high", "høyt", "høgt", "high"),
    ("success", "utført", "utført", "done"),
    ("denied", "avvist", "avvist", "refused"),
    (
        "authenticationfailed",
        "innlogging feilet",
        "innlogging feila",
        "login failed",
    ),
    ("rejected", "ugyldig", "ugyldig", "invalid"),
    (
        "error",
        "feil i systemet",
        "feil i systemet",
        "system error",
    ),
    ("approved", "godkjent", "godkjend", "approved"),
    (
        "changes-needed",
        "endringer trengs",
        "endringar trengst",
        "changes needed",
    ),
];

/// The words for a code that reaches a page as text; the code itself only for one the
/// catalogue does not know (which its test forbids for every code Trygg writes).
pub fn code_words(code: &str, lang: Lang) -> String {
    CODE_WORDS.iter().find(|(c, ..)| *c == code).map_or_else(
        || code.to_owned(),
        |(_, nb, nn, en)| lang.pick(*nb, *nn, *en).to_owned(),
    )
}

const MONTHS_NB: [&str; 12] = [
    "januar",
    "februar",
    "mars",
    "april",
    "mai",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "desember",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The time zone people read times in (the setting `time_zone`, default `Europe/Oslo`), from
/// the IANA database compiled in.
#[derive(Debug, Clone, Copy)]
pub struct Zone(&'static time_tz::Tz);

impl Zone {
    /// Norwegian time.
    pub fn oslo() -> Self {
        Self(time_tz::timezones::db::europe::OSLO)
    }

    /// A zone by its IANA name (`Europe/Oslo`, `Arctic/Longyearbyen`); `None` for an unknown one.
    pub fn parse(name: &str) -> Option<Self> {
        time_tz::timezones::get_by_name(name).map(Self)
    }

    /// `t` in this zone.
    pub fn local(self, t: OffsetDateTime) -> OffsetDateTime {
        use time_tz::OffsetDateTimeExt as _;
        t.to_timezone(self.0)
    }

    /// The first moment of the day `d` in this zone: its midnight, or where a change of
    /// offset skips midnight, the first moment after the gap (issue #16: log control judges
    /// the organisation's days, 23 or 25 hours long when the clocks change).
    pub fn start_of(self, d: time::Date) -> OffsetDateTime {
        use time_tz::PrimitiveDateTimeExt as _;
        let midnight = d.midnight();
        match midnight.assume_timezone(self.0).take_first() {
            Some(t) => t,
            // A gap at midnight: an hour later is inside the day.
            None => (midnight + time::Duration::hours(1))
                .assume_timezone(self.0)
                .take_first()
                .unwrap_or_else(|| midnight.assume_utc()),
        }
    }
}

impl Default for Zone {
    fn default() -> Self {
        Self::oslo()
    }
}

/// A moment as people read it, in `zone`: "3. desember 2026 kl. 19.22" (bokmål and nynorsk
/// alike) or "3 December 2026, 19:22". Pages put the RFC 3339 value beside it in
/// `<time datetime>`.
pub fn when(t: OffsetDateTime, lang: Lang, zone: Zone) -> String {
    let l = zone.local(t);
    let m = usize::from(u8::from(l.month())).saturating_sub(1).min(11);
    match lang {
        Lang::Nb | Lang::Nn => format!(
            "{}. {} {} kl. {:02}.{:02}",
            l.day(),
            MONTHS_NB[m],
            l.year(),
            l.hour(),
            l.minute()
        ),
        Lang::En => format!(
            "{} {} {}, {:02}:{:02}",
            l.day(),
            MONTHS_EN[m],
            l.year(),
            l.hour(),
            l.minute()
        ),
    }
}

/// [`when`] for a stored RFC 3339 value; the value itself if it is not one.
pub fn when_text(rfc3339: &str, lang: Lang, zone: Zone) -> String {
    OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .map_or_else(|_| rfc3339.to_owned(), |t| when(t, lang, zone))
}

/// A calendar day (`YYYY-MM-DD`) as people read it: "3. desember 2026" (bokmål and nynorsk
/// alike) or "3 December 2026"; the value itself if it is not one.
pub fn day_text(ymd: &str, lang: Lang) -> String {
    let Ok(d) = time::Date::parse(
        ymd,
        &time::macros::format_description!("[year]-[month]-[day]"),
    ) else {
        return ymd.to_owned();
    };
    let m = usize::from(u8::from(d.month())).saturating_sub(1).min(11);
    match lang {
        Lang::Nb | Lang::Nn => format!("{}. {} {}", d.day(), MONTHS_NB[m], d.year()),
        Lang::En => format!("{} {} {}", d.day(), MONTHS_EN[m], d.year()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const LANGS: [Lang; 3] = [Lang::Nb, Lang::Nn, Lang::En];

    #[test]
    fn every_code_has_words_in_each_language_and_none_is_the_code() {
        for lang in LANGS {
            for r in BuiltinRole::ALL {
                let w = role(r, lang);
                assert!(!w.is_empty() && w != r.as_str(), "{r:?} {lang:?}");
            }
            for p in Permission::ALL {
                let w = permission(p, lang);
                assert!(!w.is_empty() && w != p.as_str(), "{p:?} {lang:?}");
            }
            for e in Employment::ALL {
                let w = employment(e, lang);
                // "Student" is the same word in every language, and the code's.
                assert!(!w.is_empty(), "{e:?}");
                assert!(w != e.as_str() || e == Employment::Student, "{e:?}");
            }
            for (code, ..) in CODE_WORDS {
                let w = code_words(code, lang);
                assert!(!w.is_empty(), "{code} {lang:?}");
            }
        }
        // Every method and level a session or an audit entry can carry is in the catalogue.
        for code in [
            "passkey",
            "helseid",
            "idporten",
            "oidc",
            "developer",
            "device-key",
            "invitation",
            "api-token",
            "low",
            "substantial",
            "high",
        ] {
            assert!(CODE_WORDS.iter().any(|(c, ..)| *c == code), "{code}");
        }
        let mut seen = std::collections::BTreeSet::new();
        assert!(
            CODE_WORDS.iter().all(|(c, ..)| seen.insert(*c)),
            "one entry per code"
        );
    }

    #[test]
    fn days_read_as_people_write_them() {
        assert_eq!(day_text("2026-12-03", Lang::Nb), "3. desember 2026");
        assert_eq!(day_text("2026-07-01", Lang::Nn), "1. juli 2026");
        assert_eq!(day_text("2026-12-03", Lang::En), "3 December 2026");
        assert_eq!(day_text("not a day", Lang::En), "not a day");
    }

    #[test]
    fn times_read_as_people_write_them_in_norwegian_time() {
        let t = datetime!(2026-12-03 18:22:40 UTC);
        let oslo = Zone::oslo();
        assert_eq!(when(t, Lang::Nb, oslo), "3. desember 2026 kl. 19.22");
        assert_eq!(when(t, Lang::Nn, oslo), "3. desember 2026 kl. 19.22");
        assert_eq!(when(t, Lang::En, oslo), "3 December 2026, 19:22");
        // Summer time: UTC+2, the same as the computed Norwegian time.
        let summer = datetime!(2026-07-01 06:05 UTC);
        assert_eq!(when(summer, Lang::Nb, oslo), "1. juli 2026 kl. 08.05");
        for t in [
            t,
            summer,
            datetime!(2026-03-29 00:59 UTC),
            datetime!(2026-03-29 01:00 UTC),
        ] {
            assert_eq!(oslo.local(t), crate::local_time::oslo(t), "{t}");
        }
        // Another zone, by its IANA name; an unknown name is none.
        let utc = Zone::parse("UTC").unwrap();
        assert_eq!(when(t, Lang::En, utc), "3 December 2026, 18:22");
        assert!(Zone::parse("Europe/Atlantis").is_none());
        assert_eq!(
            when_text("2026-12-03T18:22:40Z", Lang::En, oslo),
            "3 December 2026, 19:22"
        );
        assert_eq!(when_text("not a time", Lang::En, oslo), "not a time");
    }
}
