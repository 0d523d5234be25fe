//! Notices to patients by SMS and e-mail (issue #12, REQUIREMENTS section 3, PC-CONF-1, PC-CHAN-1):
//! the message kinds the guide allows, their texts in bokmål, nynorsk and English, the neutral SMS
//! sender, and the outbox's retry schedule. Pure: no IO, no clock, no randomness (the jitter is a
//! parameter). A notice only says that something is waiting or when something happens; health
//! content stays in the portal. Every rendered text still passes the confidentiality guard before
//! it is queued (`trygg-app`'s `notices`).

use std::fmt;
use std::time::Duration;

use crate::Lang;

/// How a notice travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    /// A text message through the SMS gateway.
    Sms,
    /// An e-mail through the organisation's SMTP server (STARTTLS required).
    Email,
}

impl Channel {
    /// The stored and wire code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
        }
    }

    /// From the code.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sms" => Some(Self::Sms),
            "email" => Some(Self::Email),
            _ => None,
        }
    }
}

/// The kinds of notice the guide allows (section 3): none carries a diagnosis, a medicine, a
/// result or a department.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A reminder of an appointment (time only).
    AppointmentReminder,
    /// An appointment was booked (time only).
    AppointmentConfirmation,
    /// An appointment was moved; the patient answers JA or NEI (two-way SMS).
    AppointmentChange,
    /// An appointment was cancelled.
    AppointmentCancellation,
    /// A new message waits in the portal.
    NewMessage,
    /// Results are ready in the portal (no content).
    ResultsReady,
    /// A prescription is ready (no drug named).
    PrescriptionReady,
    /// A one-time code.
    OneTimeCode,
    /// The organisation moved or changed its opening hours (the text is the organisation's own,
    /// screened like every other).
    OpeningHours,
    /// An invitation to a video consultation (time and link).
    ConsultationInvitation,
    /// The automatic answer to an SMS reply that is not JA or NEI: replies are not read; write
    /// in the portal, phone if it is urgent (scenario 26).
    ReplyNotRead,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 11] = [
        Self::AppointmentReminder,
        Self::AppointmentConfirmation,
        Self::AppointmentChange,
        Self::AppointmentCancellation,
        Self::NewMessage,
        Self::ResultsReady,
        Self::PrescriptionReady,
        Self::OneTimeCode,
        Self::OpeningHours,
        Self::ConsultationInvitation,
        Self::ReplyNotRead,
    ];

    /// The stored and wire code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AppointmentReminder => "appointment-reminder",
            Self::AppointmentConfirmation => "appointment-confirmation",
            Self::AppointmentChange => "appointment-change",
            Self::AppointmentCancellation => "appointment-cancellation",
            Self::NewMessage => "new-message",
            Self::ResultsReady => "results-ready",
            Self::PrescriptionReady => "prescription-ready",
            Self::OneTimeCode => "one-time-code",
            Self::OpeningHours => "opening-hours",
            Self::ConsultationInvitation => "consultation-invitation",
            Self::ReplyNotRead => "reply-not-read",
        }
    }

    /// From the code.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The purpose a patient consents to for this kind, or `None` for a one-time code (asked for
    /// by the patient in the act of logging in: the request is the consent) and the answer to the
    /// patient's own SMS (their message is the request).
    pub fn purpose(self) -> Option<Purpose> {
        match self {
            Self::AppointmentReminder
            | Self::AppointmentConfirmation
            | Self::AppointmentChange
            | Self::AppointmentCancellation
            | Self::ConsultationInvitation => Some(Purpose::Appointments),
            Self::NewMessage | Self::ResultsReady | Self::PrescriptionReady => {
                Some(Purpose::PortalNotices)
            }
            Self::OpeningHours => Some(Purpose::Information),
            Self::OneTimeCode | Self::ReplyNotRead => None,
        }
    }

    /// Whether only Trygg itself sends this kind (the login flow, the reply handler), never a
    /// person by hand.
    pub fn system_only(self) -> bool {
        matches!(self, Self::OneTimeCode | Self::ReplyNotRead)
    }

    /// Whether the patient may answer by SMS (JA/NEI to a moved appointment). Every other notice
    /// is one-way, and says so.
    pub fn two_way(self, channel: Channel) -> bool {
        channel == Channel::Sms && self == Self::AppointmentChange
    }

    /// Which parameters the kind needs.
    fn needs(self) -> (bool, bool, bool, bool) {
        // (when, code, link, text)
        match self {
            Self::AppointmentReminder
            | Self::AppointmentConfirmation
            | Self::AppointmentChange
            | Self::AppointmentCancellation => (true, false, false, false),
            Self::NewMessage
            | Self::ResultsReady
            | Self::PrescriptionReady
            | Self::ReplyNotRead => (false, false, false, false),
            Self::OneTimeCode => (false, true, false, false),
            Self::OpeningHours => (false, false, false, true),
            Self::ConsultationInvitation => (true, false, true, false),
        }
    }
}

/// What a patient consents to notices for, per channel (PC-CONSENT-1): "appointment reminders
/// by e-mail yes, by SMS no". The portal's health content itself needs no consent
/// (PC-CONSENT-3); a notice about it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// Appointments and consultations: reminders, confirmations, changes, cancellations,
    /// invitations.
    Appointments,
    /// That something waits in the portal: a message, an answer, a prescription.
    PortalNotices,
    /// General information from the organisation (opening hours, a move).
    Information,
}

impl Purpose {
    /// Every purpose.
    pub const ALL: [Purpose; 3] = [Self::Appointments, Self::PortalNotices, Self::Information];

    /// The stored and wire code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Appointments => "appointments",
            Self::PortalNotices => "portal-notices",
            Self::Information => "information",
        }
    }

    /// From the code.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// What a template is filled with. Each kind takes only its own (an unexpected one is refused, so
/// a caller cannot smuggle content into a notice that should have none).
#[derive(Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The appointment's time as the patient should read it (Norwegian time, e.g. "tirsdag 8.
    /// desember kl. 10.30").
    pub when: Option<String>,
    /// A one-time code (4 to 8 digits).
    pub code: Option<String>,
    /// A link to the portal or the consultation (https only).
    pub link: Option<String>,
    /// The organisation's own words (opening hours, a new address).
    pub text: Option<String>,
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The link may carry an invitation token; the code is a secret.
        f.debug_struct("Params")
            .field("when", &self.when.is_some())
            .field("code", &self.code.is_some())
            .field("link", &self.link.is_some())
            .field("text", &self.text.is_some())
            .finish()
    }
}

/// Why a notice cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeError {
    /// A parameter the kind needs is missing.
    #[error("this kind of notice needs the parameter {0}")]
    Missing(&'static str),
    /// A parameter the kind does not take was given.
    #[error("this kind of notice does not take the parameter {0}")]
    Unexpected(&'static str),
    /// A parameter is not of its shape.
    #[error("the parameter {0} is not valid: {1}")]
    Invalid(&'static str, &'static str),
    /// The SMS sender is not 1 to 11 letters, digits or spaces.
    #[error("an SMS sender name is 1 to 11 letters (A-Z, a-z), digits or spaces, starting with a letter")]
    Sender,
}

/// A rendered notice: the subject (e-mail only) and the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    /// E-mail subject; none for SMS.
    pub subject: Option<String>,
    /// The text, with the sender's name and, on a one-way channel, the no-reply line.
    pub text: String,
}

impl fmt::Debug for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rendered({} characters)", self.text.chars().count())
    }
}

const MAX_FIELD: usize = 200;
const MAX_TEXT: usize = 480;

fn check(kind: Kind, p: &Params) -> Result<(), NoticeError> {
    let (when, code, link, text) = kind.needs();
    for (name, needed, value, max) in [
        ("when", when, &p.when, MAX_FIELD),
        ("code", code, &p.code, MAX_FIELD),
        ("link", link, &p.link, MAX_FIELD),
        ("text", text, &p.text, MAX_TEXT),
    ] {
        match (needed, value) {
            (true, None) => return Err(NoticeError::Missing(name)),
            (false, Some(_)) => return Err(NoticeError::Unexpected(name)),
            (true, Some(v)) => {
                if v.trim().is_empty() || v.chars().count() > max {
                    return Err(NoticeError::Invalid(name, "empty or too long"));
                }
                if v.chars().any(|c| c.is_control() && c != '\n') {
                    return Err(NoticeError::Invalid(name, "control characters"));
                }
            }
            (false, None) => {}
        }
    }
    if let Some(c) = &p.code {
        if !(4..=8).contains(&c.len()) || !c.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NoticeError::Invalid("code", "4 to 8 digits"));
        }
    }
    if let Some(l) = &p.link {
        let rest = l
            .strip_prefix("https://")
            .ok_or(NoticeError::Invalid("link", "https only"))?;
        if rest.is_empty() || l.chars().any(char::is_whitespace) {
            return Err(NoticeError::Invalid("link", "not a link"));
        }
        // The host as the patient's phone shows it, and nothing that disguises another: no user
        // information (`https://clinic.no@evil.example`), no bare IP address, a dotted name.
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        if authority.contains('@')
            || host.starts_with('[')
            || !host.contains('.')
            || host.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            return Err(NoticeError::Invalid("link", "a link to a named host"));
        }
    }
    Ok(())
}

/// The text of a notice of `kind` in `lang` from the organisation's neutral `sender` name, for
/// `channel`. One-way channels end with the line that the patient cannot reply (section 3).
pub fn render(
    kind: Kind,
    lang: Lang,
    channel: Channel,
    sender: &str,
    p: &Params,
) -> Result<Rendered, NoticeError> {
    check(kind, p)?;
    let when = p.when.as_deref().unwrap_or("");
    let code = p.code.as_deref().unwrap_or("");
    let link = p.link.as_deref().unwrap_or("");
    let own = p.text.as_deref().unwrap_or("");
    let pick = |nb: String, nn: String, en: String| match lang {
        Lang::Nb => nb,
        Lang::Nn => nn,
        Lang::En => en,
    };
    let (subject, body) = match kind {
        Kind::AppointmentReminder => (
            pick("Påminnelse om time".into(), "Påminning om time".into(), "Appointment reminder".into()),
            pick(
                format!("Påminnelse: Du har time {when}. Får du ikke kommet, gi beskjed så snart du kan."),
                format!("Påminning: Du har time {when}. Får du ikkje kome, gje beskjed så snart du kan."),
                format!("Reminder: you have an appointment {when}. If you cannot come, let us know as soon as you can."),
            ),
        ),
        Kind::AppointmentConfirmation => (
            pick("Time bestilt".into(), "Time tinga".into(), "Appointment booked".into()),
            pick(
                format!("Du har fått time {when}."),
                format!("Du har fått time {when}."),
                format!("You have an appointment {when}."),
            ),
        ),
        Kind::AppointmentChange => (
            pick("Endret time".into(), "Endra time".into(), "Appointment changed".into()),
            pick(
                format!("Timen din er flyttet til {when}. Svar JA for å bekrefte eller NEI hvis tiden ikke passer."),
                format!("Timen din er flytta til {when}. Svar JA for å stadfeste eller NEI om tida ikkje passar."),
                format!("Your appointment has moved to {when}. Reply JA to confirm or NEI if the time does not suit you."),
            ),
        ),
        Kind::AppointmentCancellation => (
            pick("Avlyst time".into(), "Avlyst time".into(), "Appointment cancelled".into()),
            pick(
                format!("Timen din {when} er avlyst. Logg inn for å bestille ny time."),
                format!("Timen din {when} er avlyst. Logg inn for å tinge ny time."),
                format!("Your appointment {when} is cancelled. Log in to book a new one."),
            ),
        ),
        Kind::NewMessage => (
            pick("Ny melding".into(), "Ny melding".into(), "New message".into()),
            pick(
                "Du har en ny melding. Logg inn for å lese den.".into(),
                "Du har ei ny melding. Logg inn for å lese ho.".into(),
                "You have a new message. Log in to read it.".into(),
            ),
        ),
        Kind::ResultsReady => (
            pick("Nytt svar".into(), "Nytt svar".into(), "New answer".into()),
            pick(
                "Du har fått et svar. Logg inn for å se det.".into(),
                "Du har fått eit svar. Logg inn for å sjå det.".into(),
                "You have an answer waiting. Log in to see it.".into(),
            ),
        ),
        Kind::PrescriptionReady => (
            pick("Resept klar".into(), "Resept klar".into(), "Prescription ready".into()),
            pick(
                "Resepten din er klar.".into(),
                "Resepten din er klar.".into(),
                "Your prescription is ready.".into(),
            ),
        ),
        Kind::OneTimeCode => (
            pick("Engangskode".into(), "Eingongskode".into(), "One-time code".into()),
            pick(
                format!("Engangskoden din er {code}. Ikke del den med noen."),
                format!("Eingongskoden din er {code}. Ikkje del han med nokon."),
                format!("Your one-time code is {code}. Do not share it with anyone."),
            ),
        ),
        Kind::OpeningHours => (
            pick("Melding fra oss".into(), "Melding frå oss".into(), "A message from us".into()),
            own.to_owned(),
        ),
        Kind::ReplyNotRead => (
            pick("Svar blir ikke lest".into(), "Svar blir ikkje lesne".into(), "Replies are not read".into()),
            pick(
                "Vi leser ikke svar på SMS, og svaret ditt er ikke lagret. Logg inn for å sende oss en melding. Haster det, ring oss.".into(),
                "Vi les ikkje svar på SMS, og svaret ditt er ikkje lagra. Logg inn for å sende oss ei melding. Hastar det, ring oss.".into(),
                "We do not read replies to text messages, and yours was not kept. Log in to send us a message. If it is urgent, phone us.".into(),
            ),
        ),
        Kind::ConsultationInvitation => (
            pick("Invitasjon til videokonsultasjon".into(), "Invitasjon til videokonsultasjon".into(), "Invitation to a video consultation".into()),
            pick(
                format!("Du er invitert til videokonsultasjon {when}. Bli med her: {link}"),
                format!("Du er invitert til videokonsultasjon {when}. Bli med her: {link}"),
                format!("You are invited to a video consultation {when}. Join here: {link}"),
            ),
        ),
    };
    let mut text = format!(
        "{body}\n{}",
        pick(
            format!("Hilsen {sender}"),
            format!("Helsing {sender}"),
            format!("From {sender}")
        )
    );
    if !kind.two_way(channel) {
        text.push('\n');
        text.push_str(&pick(
            "Du kan ikke svare på denne meldingen.".into(),
            "Du kan ikkje svare på denne meldinga.".into(),
            "You cannot reply to this message.".into(),
        ));
    }
    Ok(Rendered {
        subject: (channel == Channel::Email).then_some(subject),
        text,
    })
}

/// The alphanumeric SMS sender: the organisation's neutral name, never a department (section
/// 3). 1 to 11 characters, letters (A-Z, a-z), digits and spaces, starting with a letter: what
/// every network shows as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsSender(String);

impl SmsSender {
    /// Checks the shape.
    pub fn parse(s: &str) -> Result<Self, NoticeError> {
        let ok = (1..=11).contains(&s.len())
            && s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
            && !s.ends_with(' ');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(NoticeError::Sender)
        }
    }

    /// The sender as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Attempts after which a notice is given up (its status `dead`, for personnel to see and act
/// on: phone, or send a letter).
pub const MAX_ATTEMPTS: u32 = 8;

/// The first retry's base delay; each further attempt doubles it, up to [`MAX_DELAY`].
pub const BASE_DELAY: Duration = Duration::from_secs(5);

/// The longest wait between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(30 * 60);

/// How long to wait before attempt `attempts + 1`, after `attempts` failed ones, with "equal
/// jitter": half the exponential delay, plus a random part of the other half drawn from
/// `jitter` (any `u32`), so that notices that failed together do not retry together.
pub fn backoff(attempts: u32, jitter: u32) -> Duration {
    let exp = BASE_DELAY
        .saturating_mul(
            1u32.checked_shl(attempts.saturating_sub(1))
                .unwrap_or(u32::MAX),
        )
        .min(MAX_DELAY);
    let half = exp / 2;
    let ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX).max(1);
    half + Duration::from_millis(u64::from(jitter) % ms)
}

/// A notice's state in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Waiting for its (next) attempt.
    Queued,
    /// An attempt is under way (leased by a worker until `next_at`; a worker that died leaves it
    /// to be tried again with the same idempotency key).
    Sending,
    /// The gateway or mail server took it.
    Sent,
    /// The gateway reported it delivered to the phone.
    Delivered,
    /// The gateway reported it could not be delivered.
    Undeliverable,
    /// Given up after [`MAX_ATTEMPTS`] or a permanent refusal: personnel must act.
    Dead,
}

impl Status {
    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Undeliverable => "undeliverable",
            Self::Dead => "dead",
        }
    }

    /// From the stored code.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Queued,
            Self::Sending,
            Self::Sent,
            Self::Delivered,
            Self::Undeliverable,
            Self::Dead,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    /// Whether a delivery report may still change it. A report can overtake the attempt it
    /// reports on (the gateway took the message, but its answer was lost and a retry is queued):
    /// the gateway's word then settles it, and the retry is not made. A report never revives a
    /// dead notice, and a delivered one stays delivered.
    pub fn takes_report(self) -> bool {
        matches!(
            self,
            Self::Queued | Self::Sending | Self::Sent | Self::Undeliverable
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn when() -> Params {
        Params {
            when: Some("tirsdag 8. desember kl. 10.30".into()),
            ..Params::default()
        }
    }

    #[test]
    fn every_kind_renders_in_every_language_and_one_way_says_so() {
        for kind in Kind::ALL {
            let (w, c, l, t) = kind.needs();
            let p = Params {
                when: w.then(|| "i morgen kl. 10".to_owned()),
                code: c.then(|| "123456".to_owned()),
                link: l.then(|| "https://trygg.example/join/abc".to_owned()),
                text: t.then(|| "Vi har flyttet til Storgata 1.".to_owned()),
            };
            for lang in Lang::ALL {
                for ch in [Channel::Sms, Channel::Email] {
                    let r = render(kind, lang, ch, "Normland", &p).unwrap();
                    assert!(r.text.contains("Normland"), "{kind:?}");
                    let no_reply = [
                        "Du kan ikke svare",
                        "Du kan ikkje svare",
                        "You cannot reply",
                    ]
                    .iter()
                    .any(|s| r.text.contains(s));
                    assert_eq!(no_reply, !kind.two_way(ch), "{kind:?} {ch:?}");
                    assert_eq!(r.subject.is_some(), ch == Channel::Email);
                }
            }
        }
        assert!(Kind::AppointmentChange.two_way(Channel::Sms));
        assert!(!Kind::AppointmentChange.two_way(Channel::Email));
    }

    #[test]
    fn a_kind_takes_only_its_own_parameters() {
        assert_eq!(
            render(Kind::NewMessage, Lang::Nb, Channel::Sms, "N", &when()),
            Err(NoticeError::Unexpected("when"))
        );
        assert_eq!(
            render(
                Kind::AppointmentReminder,
                Lang::Nb,
                Channel::Sms,
                "N",
                &Params::default()
            ),
            Err(NoticeError::Missing("when"))
        );
        let code = |c: &str| Params {
            code: Some(c.into()),
            ..Params::default()
        };
        assert!(render(
            Kind::OneTimeCode,
            Lang::Nb,
            Channel::Sms,
            "N",
            &code("12a4")
        )
        .is_err());
        assert!(render(Kind::OneTimeCode, Lang::Nb, Channel::Sms, "N", &code("123")).is_err());
        assert!(render(
            Kind::OneTimeCode,
            Lang::Nb,
            Channel::Sms,
            "N",
            &code("1234")
        )
        .is_ok());
        let link = |l: &str| Params {
            when: Some("i dag".into()),
            link: Some(l.into()),
            ..Params::default()
        };
        let k = Kind::ConsultationInvitation;
        assert!(render(k, Lang::Nb, Channel::Sms, "N", &link("http://x.no/j")).is_err());
        assert!(render(k, Lang::Nb, Channel::Sms, "N", &link("https://x.no/j k")).is_err());
        assert!(render(k, Lang::Nb, Channel::Sms, "N", &link("https://x.no/j")).is_ok());
        // Review: links that disguise their host.
        for bad in [
            "https://normland.no@evil.com/x",
            "https://203.0.113.7/",
            "https://3405803781/",
            "https://[::1]/",
            "https://localhost/",
            "https://xn--nrmland-example.no\u{202e}/",
        ] {
            assert!(
                render(k, Lang::Nb, Channel::Sms, "N", &link(bad)).is_err(),
                "{bad}"
            );
        }
        let ctl = Params {
            when: Some("i dag\u{7}".into()),
            ..Params::default()
        };
        assert!(render(Kind::AppointmentReminder, Lang::Nb, Channel::Sms, "N", &ctl).is_err());
        // Secrets stay out of Debug.
        assert!(!format!("{:?}", code("987654")).contains("987654"));
    }

    #[test]
    fn every_kind_but_the_code_needs_consent_to_a_purpose() {
        for k in Kind::ALL {
            assert_eq!(k.purpose().is_none(), k.system_only(), "{k:?}");
        }
        for p in Purpose::ALL {
            assert_eq!(Purpose::parse(p.as_str()), Some(p));
        }
        assert_eq!(Purpose::parse("marketing"), None);
    }

    #[test]
    fn the_sms_sender_is_short_and_plain() {
        assert!(SmsSender::parse("Normland").is_ok());
        assert!(SmsSender::parse("Legesenter1").is_ok());
        for bad in [
            "",
            "1Lege",
            "Normland legesenter",
            "Lege-senter",
            "Bjørn",
            "Lege ",
        ] {
            assert!(SmsSender::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn backoff_doubles_within_its_bounds_with_jitter() {
        let mut last = Duration::ZERO;
        for attempts in 1..=MAX_ATTEMPTS + 20 {
            let lo = backoff(attempts, 0);
            let hi = backoff(attempts, u32::MAX - 1);
            assert!(lo <= hi && hi <= MAX_DELAY, "{attempts}: {lo:?} {hi:?}");
            assert!(lo >= last, "never shorter than the attempt before");
            last = lo;
        }
        assert_eq!(backoff(1, 0), BASE_DELAY / 2);
        assert_eq!(backoff(2, 0), BASE_DELAY);
        assert_eq!(backoff(100, 0), MAX_DELAY / 2);
        assert_ne!(backoff(3, 1), backoff(3, 7777));
    }

    #[test]
    fn statuses_round_trip_and_reports_never_revive_the_dead() {
        for s in [
            "queued",
            "sending",
            "sent",
            "delivered",
            "undeliverable",
            "dead",
        ] {
            assert_eq!(Status::parse(s).unwrap().as_str(), s);
        }
        assert!(!Status::Dead.takes_report());
        assert!(!Status::Delivered.takes_report());
        assert!(Status::Sent.takes_report());
        assert!(
            Status::Queued.takes_report(),
            "a report that overtakes a retry"
        );
    }
}
