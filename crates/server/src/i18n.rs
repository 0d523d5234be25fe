//! The user interface's languages: bokmål (default), nynorsk and English, chosen with `?lang=`
//! on any page. Texts are fields of [`Strings`], so a missing translation is a compile error.

pub use trygg_core::Lang;

/// The texts of the web shell in `lang`.
pub fn strings(lang: Lang) -> &'static Strings {
    match lang {
        Lang::Nb => &NB,
        Lang::Nn => &NN,
        Lang::En => &EN,
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
    /// Login page lead.
    pub login_intro: &'static str,
    /// Button: sign in with a passkey.
    pub login_passkey: &'static str,
    /// Without JavaScript.
    pub login_needs_js: &'static str,
    /// How to get a passkey.
    pub login_no_account: &'static str,
    /// Heading of the providers' logins.
    pub login_providers: &'static str,
    /// The organisation's short name (for a provider's login).
    pub login_org: &'static str,
    /// Log in with HelseID.
    pub login_helseid: &'static str,
    /// "Log in with" (before a provider's name).
    pub login_with: &'static str,
    /// While the passkey dialog is open.
    pub login_working: &'static str,
    /// After a failed passkey login.
    pub login_failed: &'static str,
    /// After too many failed attempts.
    pub login_locked: &'static str,
    /// The browser has no WebAuthn.
    pub login_unsupported: &'static str,
    /// The session timed out.
    pub session_ended: &'static str,
    /// Developer login heading (demo only).
    pub dev_heading: &'static str,
    /// Developer login warning.
    pub dev_warning: &'static str,
    /// Developer login: the person list's label.
    pub dev_person: &'static str,
    /// Developer login button.
    pub dev_submit: &'static str,
    /// Signed-in page title.
    pub signed_in_title: &'static str,
    /// Signed-in page lead.
    pub signed_in_text: &'static str,
    /// Button: sign out.
    pub sign_out: &'static str,
    /// The main navigation's name.
    pub main_nav: &'static str,
    /// The home page's lead.
    pub home_lead: &'static str,
    /// The home page when the person may do nothing yet.
    pub home_nothing: &'static str,
    /// Enrolment page title.
    pub enrol_title: &'static str,
    /// Enrolment page lead (followed by the organisation's name).
    pub enrol_intro: &'static str,
    /// Enrolment page: this link creates the first administrator.
    pub enrol_first_admin: &'static str,
    /// Enrolment: full name label.
    pub enrol_name: &'static str,
    /// Button: create a passkey.
    pub enrol_button: &'static str,
    /// After a failed registration.
    pub enrol_failed: &'static str,
    /// An unusable enrolment link: title.
    pub link_invalid_title: &'static str,
    /// An unusable enrolment link: text.
    pub link_invalid_text: &'static str,
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
    login_intro: "Logg inn med passnøkkelen på enheten din: fingeravtrykk, ansikt eller PIN-kode.",
    login_passkey: "Logg inn med passnøkkel",
    login_needs_js: "Innlogging med passnøkkel trenger JavaScript. Slå det på i nettleseren.",
    login_no_account: "Har du ikke passnøkkel ennå? Administratoren i virksomheten din gir deg en lenke for å lage en.",
    login_providers: "Andre måter å logge inn på",
    login_org: "Virksomhetens kortnavn",
    login_helseid: "Logg inn med HelseID",
    login_with: "Logg inn med",
    login_working: "Bekreft med passnøkkelen …",
    login_failed: "Innloggingen mislyktes. Prøv igjen, eller be administratoren om en ny lenke.",
    login_locked: "For mange mislykkede forsøk. Vent litt og prøv igjen.",
    login_unsupported: "Nettleseren din støtter ikke passnøkler.",
    session_ended: "Økten din er avsluttet. Logg inn på nytt.",
    dev_heading: "Utviklerinnlogging (bare demo)",
    dev_warning: "Bare i demoen og bare på denne maskinen: logger inn uten passnøkkel, med lavt sikkerhetsnivå. Finnes ikke i drift.",
    dev_person: "Person",
    dev_submit: "Logg inn uten passnøkkel",
    signed_in_title: "Du er logget inn",
    signed_in_text: "Økten avsluttes av seg selv når du ikke har brukt Trygg på en stund.",
    sign_out: "Logg ut",
    main_nav: "Hovedmeny",
    home_lead: "Her er det du kan gjøre.",
    home_nothing: "Du har ingen tilganger ennå. Be administratoren i virksomheten din om en rolle.",
    enrol_title: "Lag passnøkkel",
    enrol_intro: "Med denne lenken lager du en passnøkkel for kontoen din i",
    enrol_first_admin: "Lenken oppretter den første administratoren i virksomheten. Skriv inn navnet ditt.",
    enrol_name: "Fullt navn",
    enrol_button: "Lag passnøkkel",
    enrol_failed: "Passnøkkelen ble ikke laget. Prøv igjen.",
    link_invalid_title: "Lenken virker ikke",
    link_invalid_text: "Lenken er brukt, utløpt eller ukjent. Be administratoren om en ny.",
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
    login_intro: "Logg inn med passnøkkelen på eininga di: fingeravtrykk, ansikt eller PIN-kode.",
    login_passkey: "Logg inn med passnøkkel",
    login_needs_js: "Innlogging med passnøkkel treng JavaScript. Slå det på i nettlesaren.",
    login_no_account: "Har du ikkje passnøkkel enno? Administratoren i verksemda di gir deg ei lenkje for å lage ein.",
    login_providers: "Andre måtar å logge inn på",
    login_org: "Kortnamnet til verksemda",
    login_helseid: "Logg inn med HelseID",
    login_with: "Logg inn med",
    login_working: "Stadfest med passnøkkelen …",
    login_failed: "Innlogginga mislukkast. Prøv igjen, eller be administratoren om ei ny lenkje.",
    login_locked: "For mange mislukka forsøk. Vent litt og prøv igjen.",
    login_unsupported: "Nettlesaren din støttar ikkje passnøklar.",
    session_ended: "Økta di er avslutta. Logg inn på nytt.",
    dev_heading: "Utviklarinnlogging (berre demo)",
    dev_warning: "Berre i demoen og berre på denne maskina: loggar inn utan passnøkkel, med lågt tryggleiksnivå. Finst ikkje i drift.",
    dev_person: "Person",
    dev_submit: "Logg inn utan passnøkkel",
    signed_in_title: "Du er logga inn",
    signed_in_text: "Økta blir avslutta av seg sjølv når du ikkje har brukt Trygg på ei stund.",
    sign_out: "Logg ut",
    main_nav: "Hovudmeny",
    home_lead: "Her er det du kan gjere.",
    home_nothing: "Du har ingen tilgangar enno. Be administratoren i verksemda di om ei rolle.",
    enrol_title: "Lag passnøkkel",
    enrol_intro: "Med denne lenkja lagar du ein passnøkkel for kontoen din i",
    enrol_first_admin: "Lenkja opprettar den første administratoren i verksemda. Skriv inn namnet ditt.",
    enrol_name: "Fullt namn",
    enrol_button: "Lag passnøkkel",
    enrol_failed: "Passnøkkelen vart ikkje laga. Prøv igjen.",
    link_invalid_title: "Lenkja verkar ikkje",
    link_invalid_text: "Lenkja er brukt, utgått eller ukjend. Be administratoren om ei ny.",
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
    login_intro: "Sign in with the passkey on your device: fingerprint, face or PIN.",
    login_passkey: "Sign in with a passkey",
    login_needs_js: "Signing in with a passkey needs JavaScript. Turn it on in your browser.",
    login_no_account: "No passkey yet? Your organisation's administrator gives you a link to create one.",
    login_providers: "Other ways to log in",
    login_org: "The organisation's short name",
    login_helseid: "Log in with HelseID",
    login_with: "Log in with",
    login_working: "Confirm with your passkey …",
    login_failed: "Sign-in failed. Try again, or ask your administrator for a new link.",
    login_locked: "Too many failed attempts. Wait a while and try again.",
    login_unsupported: "Your browser does not support passkeys.",
    session_ended: "Your session has ended. Sign in again.",
    dev_heading: "Developer login (demo only)",
    dev_warning: "Only in the demo and only on this machine: signs in without a passkey, at a low assurance level. Does not exist in production.",
    dev_person: "Person",
    dev_submit: "Sign in without a passkey",
    signed_in_title: "You are signed in",
    signed_in_text: "The session ends by itself when you have not used Trygg for a while.",
    sign_out: "Sign out",
    main_nav: "Main menu",
    home_lead: "Here is what you can do.",
    home_nothing: "You have no access yet. Ask your organisation's administrator for a role.",
    enrol_title: "Create a passkey",
    enrol_intro: "With this link you create a passkey for your account at",
    enrol_first_admin: "This link creates the organisation's first administrator. Enter your name.",
    enrol_name: "Full name",
    enrol_button: "Create passkey",
    enrol_failed: "The passkey was not created. Try again.",
    link_invalid_title: "This link does not work",
    link_invalid_text: "The link is used, expired or unknown. Ask your administrator for a new one.",
};
