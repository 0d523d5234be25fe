//! The signed-in person's header and navigation (issue #14): on every personnel page, the
//! organisation, the person's role, how they logged in and at which level (in words, never
//! codes), the logout button, and one navigation built from what the live access rule lets them
//! do now (`trygg_app::access::permissions_now`), so no link leads to a page that would refuse
//! them. The person's home (`/personell`) shows the same places with a line on each.

use trygg_core::access::Permission;
use trygg_core::words;

use crate::app::AppState;
use crate::i18n::Lang;
use trygg_app::sessions::Session;

/// A place in the navigation.
pub struct Link {
    /// Its path (with the language).
    pub href: String,
    /// Its name.
    pub label: &'static str,
    /// What one does there (on the home page).
    pub about: &'static str,
    /// This is the page shown.
    pub current: bool,
}

/// The header of a signed-in person's page.
pub struct Nav {
    /// The organisation's name.
    pub org_name: String,
    /// The person's role, in words.
    pub role: &'static str,
    /// How they logged in and at which level, in words ("passnøkkel, betydelig").
    pub login: String,
    /// The places they may go.
    pub links: Vec<Link>,
    /// The session's CSRF token (for the logout form).
    pub csrf: String,
}

/// A place: its path, the permissions of which any one (at the login's level) opens it, and
/// its name and line in nb, nn and en.
struct Place {
    path: &'static str,
    needs: &'static [Permission],
    /// Not shown to someone who holds any of these (they have a fuller page).
    unless: &'static [Permission],
    label: (&'static str, &'static str, &'static str),
    about: (&'static str, &'static str, &'static str),
}

const PLACES: &[Place] = &[
    Place {
        path: "/personell",
        needs: &[],
        unless: &[],
        label: ("Hjem", "Heim", "Home"),
        about: (
            "Oversikt over det du kan gjøre.",
            "Oversikt over det du kan gjere.",
            "An overview of what you can do.",
        ),
    },
    Place {
        path: "/personell/konsultasjoner",
        // The planner lists the organisation's consultations: `consultation-manage`.
        needs: &[Permission::ConsultationManage],
        unless: &[],
        label: (
            "Videokonsultasjoner",
            "Videokonsultasjonar",
            "Video consultations",
        ),
        about: (
            "Dagens og kommende konsultasjoner, planlegg nye.",
            "Dagens og komande konsultasjonar, planlegg nye.",
            "Today's and coming consultations; plan new ones.",
        ),
    },
    Place {
        // Someone who joins but does not plan (an interpreter): their own consultations.
        path: crate::my_consultations::PATH,
        needs: &[Permission::ConsultationJoin],
        unless: &[Permission::ConsultationManage],
        label: (
            "Mine videokonsultasjoner",
            "Mine videokonsultasjonar",
            "My video consultations",
        ),
        about: (
            "Konsultasjonene du er med i, og veien inn.",
            "Konsultasjonane du er med i, og vegen inn.",
            "The consultations you take part in, and the way in.",
        ),
    },
    Place {
        path: "/personell/meldinger",
        needs: &[Permission::HealthRead],
        unless: &[],
        label: ("Meldinger", "Meldingar", "Messages"),
        about: (
            "Meldinger fra pasienter og oppgaver som venter.",
            "Meldingar frå pasientar og oppgåver som ventar.",
            "Messages from patients and tasks waiting.",
        ),
    },
    Place {
        path: "/admin",
        needs: &[Permission::RightsReview],
        unless: &[],
        label: (
            "Personer og tilganger",
            "Personar og tilgangar",
            "People and access",
        ),
        about: (
            "Ansatte, roller de har, og gjennomgang av tilganger.",
            "Tilsette, roller dei har, og gjennomgang av tilgangar.",
            "Staff, their roles, and the access review.",
        ),
    },
    Place {
        path: "/admin/roles",
        needs: &[Permission::GrantsManage, Permission::RightsReview],
        unless: &[],
        label: ("Roller", "Roller", "Roles"),
        about: (
            "Hva hver rolle gir tilgang til.",
            "Kva kvar rolle gir tilgang til.",
            "What each role allows.",
        ),
    },
    Place {
        path: "/admin/audit",
        needs: &[Permission::AuditRead],
        unless: &[],
        label: ("Logg", "Logg", "Audit log"),
        about: (
            "Søk i hvem som har gjort hva.",
            "Søk i kven som har gjort kva.",
            "Search who did what.",
        ),
    },
    Place {
        path: "/admin/samsvar",
        needs: &[Permission::ComplianceManage],
        unless: &[],
        label: ("Samsvar", "Samsvar", "Compliance"),
        about: (
            "Rapport over hvordan kravene i Normen er oppfylt, og rutinene.",
            "Rapport over korleis krava i Normen er oppfylte, og rutinane.",
            "How Normen's requirements are met, and the routines.",
        ),
    },
    Place {
        path: "/admin/avvik",
        needs: &[Permission::ComplianceManage],
        unless: &[],
        label: ("Avvik", "Avvik", "Incidents"),
        about: (
            "Avviksregisteret med 72-timersfristen.",
            "Avviksregisteret med 72-timarsfristen.",
            "The incident register with the 72-hour deadline.",
        ),
    },
    Place {
        path: "/admin/lagring",
        needs: &[Permission::ComplianceManage],
        unless: &[],
        label: ("Lagringstid", "Lagringstid", "Retention"),
        about: (
            "Hvor lenge opplysningene lagres, og slettingen.",
            "Kor lenge opplysningane blir lagra, og slettinga.",
            "How long data is kept, and its deletion.",
        ),
    },
    Place {
        // The snooping case queue (issue #16, PC-ACL-1): only a log-control role opens it.
        path: crate::snooping_pages::PATH,
        needs: &[Permission::LogControl],
        unless: &[],
        label: ("Loggkontroll", "Loggkontroll", "Log control"),
        about: (
            "Saker der noen kan ha sett i journaler uten grunn.",
            "Saker der nokon kan ha sett i journalar utan grunn.",
            "Cases where someone may have looked at records without a reason.",
        ),
    },
    Place {
        path: "/admin/devices",
        needs: &[Permission::CredentialsManage],
        unless: &[],
        label: ("Utstyr", "Utstyr", "Equipment"),
        about: (
            "Virksomhetens utstyr på faste steder.",
            "Verksemda sitt utstyr på faste stader.",
            "The organisation's equipment at fixed places.",
        ),
    },
];

/// The header for `p` on the page at `path`. A failure to read the rule's inputs gives the
/// home link only (the pages decide for themselves anyway).
pub async fn nav(state: &AppState, p: &Session, lang: Lang, path: &str) -> Nav {
    let caller = p.caller();
    let now = state.now();
    let allowed = trygg_app::access::permissions_now(&p.org_store, &caller, now)
        .await
        .unwrap_or_default();
    let open = |needs: &[Permission]| {
        needs.is_empty()
            || needs
                .iter()
                .any(|n| allowed.iter().any(|(q, level_ok)| q == n && *level_ok))
    };
    let links = PLACES
        .iter()
        .filter(|pl| open(pl.needs) && (pl.unless.is_empty() || !open(pl.unless)))
        .map(|pl| Link {
            href: format!("{}?lang={}", pl.path, lang.tag()),
            label: lang.pick(pl.label.0, pl.label.1, pl.label.2),
            about: lang.pick(pl.about.0, pl.about.1, pl.about.2),
            current: pl.path == path,
        })
        .collect();
    Nav {
        org_name: p.org_store.organisation().name.clone(),
        role: words::role(p.role, lang),
        login: format!(
            "{}, {}",
            words::code_words(p.method.code(), lang),
            words::code_words(p.assurance.code(), lang)
        ),
        links,
        csrf: p.csrf_token().to_owned(),
    }
}

/// Words for codes, for templates (issue #14): a page struct holding a `Words` calls these.
#[derive(Debug, Clone, Copy)]
pub struct Words(pub Lang, pub trygg_core::words::Zone);

impl Words {
    /// A role: a built-in role in words, an organisation-defined role by its own name.
    pub fn role(&self, code: &str) -> String {
        trygg_core::BuiltinRole::parse(code)
            .map_or_else(|| code.to_owned(), |r| words::role(r, self.0).to_owned())
    }

    /// A permission in words.
    pub fn permission(&self, code: &str) -> String {
        Permission::parse(code).map_or_else(
            || code.to_owned(),
            |p| words::permission(p, self.0).to_owned(),
        )
    }

    /// An employment type in words.
    pub fn employment(&self, code: &str) -> String {
        trygg_core::Employment::parse(code).map_or_else(
            || code.to_owned(),
            |e| words::employment(e, self.0).to_owned(),
        )
    }

    /// A method, level or outcome in words.
    pub fn code(&self, code: &str) -> String {
        words::code_words(&code.to_ascii_lowercase(), self.0)
    }

    /// An audit operation, as staff read it.
    pub fn op(&self, code: &str) -> String {
        trygg_core::Operation::from_code(code).map_or_else(
            || code.to_owned(),
            |o| {
                let n = o.name();
                self.0.pick(n.nb, n.nn, n.en).to_owned()
            },
        )
    }

    /// A stored RFC 3339 time as people read it.
    pub fn when(&self, rfc3339: &str) -> String {
        words::when_text(rfc3339, self.0, self.1)
    }
}
