//! The user interface's languages: bokmål (default), nynorsk and English, chosen with `?lang=`
//! on any page. Texts are fields of [`Strings`], so a missing translation is a compile error.

/// A language of the user interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Norwegian bokmål.
    #[default]
    Nb,
    /// Norwegian nynorsk.
    Nn,
    /// English.
    En,
}

impl Lang {
    /// Every language, in the order of the language control.
    pub const ALL: [Lang; 3] = [Lang::Nb, Lang::Nn, Lang::En];

    /// The BCP 47 tag for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Nb => "nb",
            Lang::Nn => "nn",
            Lang::En => "en",
        }
    }

    /// The language's own name.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Nb => "Bokmål",
            Lang::Nn => "Nynorsk",
            Lang::En => "English",
        }
    }

    /// Parses a `lang` query value; anything else is the default.
    pub fn from_query(q: Option<&str>) -> Self {
        match q {
            Some("nn") => Lang::Nn,
            Some("en") => Lang::En,
            _ => Lang::Nb,
        }
    }

    /// The texts.
    pub fn strings(self) -> &'static Strings {
        match self {
            Lang::Nb => &NB,
            Lang::Nn => &NN,
            Lang::En => &EN,
        }
    }
}

/// Every text of the web shell.
#[derive(Debug)]
pub struct Strings {
    /// Skip link.
    pub skip: &'static str,
    /// Label of the language control.
    pub language: &'static str,
    /// Product tag line.
    pub tagline: &'static str,
    /// Start page title.
    pub start_title: &'static str,
    /// Start page lead.
    pub start_lead: &'static str,
    /// Patient section heading.
    pub patients_heading: &'static str,
    /// Patient section text.
    pub patients_text: &'static str,
    /// Personnel section heading.
    pub personnel_heading: &'static str,
    /// Personnel section text.
    pub personnel_text: &'static str,
    /// Personnel login link.
    pub personnel_login: &'static str,
    /// Urgent help note (PC-EMERG-1).
    pub emergency: &'static str,
    /// Privacy heading.
    pub privacy_heading: &'static str,
    /// Privacy text.
    pub privacy_text: &'static str,
    /// Not-found page title.
    pub not_found_title: &'static str,
    /// Not-found page text.
    pub not_found_text: &'static str,
    /// Link back to the start page.
    pub back_home: &'static str,
    /// Personnel login page text (until passkey login lands).
    pub login_coming: &'static str,
}

const NB: Strings = Strings {
    skip: "Hopp til innholdet",
    language: "Språk",
    tagline: "Sikker videokonsultasjon og meldinger i helse- og omsorgstjenesten",
    start_title: "Velkommen til Trygg",
    start_lead: "Trygg brukes av helse- og omsorgstjenesten til videokonsultasjoner og sikre meldinger med pasienter og brukere.",
    patients_heading: "Er du pasient eller bruker?",
    patients_text: "Du kommer inn til en videokonsultasjon med lenken i invitasjonen du har fått. Du trenger ikke å installere noe: en nettleser med kamera og mikrofon er nok. Før du slipper inn, venter du på et venterom til helsepersonellet slipper deg inn.",
    personnel_heading: "Er du ansatt?",
    personnel_text: "Logg inn med passnøkkel eller virksomhetens innlogging for å se dagens konsultasjoner og meldinger.",
    personnel_login: "Logg inn som ansatt",
    emergency: "Haster det? Ring legevakten på 116 117. Ved fare for liv og helse, ring 113. Meldinger og SMS er ikke for det som haster.",
    privacy_heading: "Personvern",
    privacy_text: "Trygg tar ikke opp samtaler, bruker ingen informasjonskapsler til sporing og henter ingenting fra andre nettsteder.",
    not_found_title: "Siden finnes ikke",
    not_found_text: "Vi fant ikke siden du ba om. Sjekk lenken, eller gå til startsiden.",
    back_home: "Til startsiden",
    login_coming: "Innlogging for ansatte settes opp av virksomhetens administrator.",
};

const NN: Strings = Strings {
    skip: "Hopp til innhaldet",
    language: "Språk",
    tagline: "Sikker videokonsultasjon og meldingar i helse- og omsorgstenesta",
    start_title: "Velkomen til Trygg",
    start_lead: "Trygg vert brukt av helse- og omsorgstenesta til videokonsultasjonar og sikre meldingar med pasientar og brukarar.",
    patients_heading: "Er du pasient eller brukar?",
    patients_text: "Du kjem inn til ein videokonsultasjon med lenkja i invitasjonen du har fått. Du treng ikkje installere noko: ein nettlesar med kamera og mikrofon er nok. Før du slepp inn, ventar du på eit venterom til helsepersonellet slepp deg inn.",
    personnel_heading: "Er du tilsett?",
    personnel_text: "Logg inn med passnøkkel eller innlogginga til verksemda for å sjå konsultasjonane og meldingane i dag.",
    personnel_login: "Logg inn som tilsett",
    emergency: "Hastar det? Ring legevakta på 116 117. Ved fare for liv og helse, ring 113. Meldingar og SMS er ikkje for det som hastar.",
    privacy_heading: "Personvern",
    privacy_text: "Trygg tek ikkje opp samtalar, brukar ingen informasjonskapslar til sporing og hentar ingenting frå andre nettstader.",
    not_found_title: "Sida finst ikkje",
    not_found_text: "Vi fann ikkje sida du bad om. Sjekk lenkja, eller gå til startsida.",
    back_home: "Til startsida",
    login_coming: "Innlogging for tilsette vert sett opp av administratoren i verksemda.",
};

const EN: Strings = Strings {
    skip: "Skip to content",
    language: "Language",
    tagline: "Secure video consultation and messaging for health and care services",
    start_title: "Welcome to Trygg",
    start_lead: "Health and care services use Trygg for video consultations and secure messages with patients and service users.",
    patients_heading: "Are you a patient or service user?",
    patients_text: "You join a video consultation with the link in the invitation you received. You do not need to install anything: a browser with a camera and microphone is enough. You wait in a waiting room until the clinician lets you in.",
    personnel_heading: "Do you work here?",
    personnel_text: "Sign in with a passkey or your organisation's login to see today's consultations and messages.",
    personnel_login: "Sign in as staff",
    emergency: "Is it urgent? Call the out-of-hours service on 116 117. If life or health is in danger, call 113. Messages and SMS are not for urgent matters.",
    privacy_heading: "Privacy",
    privacy_text: "Trygg does not record conversations, uses no tracking cookies and loads nothing from other websites.",
    not_found_title: "Page not found",
    not_found_text: "We could not find the page you asked for. Check the link, or go to the start page.",
    back_home: "To the start page",
    login_coming: "Staff sign-in is set up by your organisation's administrator.",
};
