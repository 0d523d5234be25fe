//! Secure message threads between a patient and a care team (issue #12, REQUIREMENTS PC-CHAN-1,
//! PC-READ-1, PC-STORE-1, PC-EMERG-1, PC-RIGHTS-2, PC-AVAIL-1): the checked shapes of what a
//! message may hold (subject, body, attachments of a few types shown inline), the texts every
//! compose view carries (urgent matters by phone; which channels the organisation answers on),
//! and the two clocks of a message: when an unread one is escalated and when an unfiled one is
//! deleted. Pure: no IO, no clock (time is a parameter).

use time::{Duration, OffsetDateTime};

use crate::Lang;

/// The longest subject, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;
/// The longest body, in characters.
pub const MAX_BODY_CHARS: usize = 20_000;
/// The largest attachment, in bytes.
pub const MAX_ATTACHMENT_BYTES: usize = 5 * 1024 * 1024;
/// The most attachments on one message.
pub const MAX_ATTACHMENTS: usize = 5;
/// The longest attachment name, in characters.
pub const MAX_ATTACHMENT_NAME_CHARS: usize = 120;

/// Why a message's part was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The subject is empty, too long or holds control characters.
    #[error("the subject must be 1 to {MAX_SUBJECT_CHARS} characters, without control characters")]
    Subject,
    /// The body is empty, too long or holds control characters other than line breaks and tabs.
    #[error("the message must be 1 to {MAX_BODY_CHARS} characters, without control characters other than line breaks")]
    Body,
    /// An attachment's type is not one the browser shows inline safely.
    #[error("attachments may be PDF, PNG, JPEG or plain text")]
    AttachmentType,
    /// An attachment is empty or too large.
    #[error("an attachment must hold 1 byte to {MAX_ATTACHMENT_BYTES} bytes")]
    AttachmentSize,
    /// An attachment's content is not what its type says.
    #[error("an attachment's content does not match its type")]
    AttachmentContent,
    /// An attachment's name is empty, too long, or holds a path or control characters.
    #[error("an attachment's name must be 1 to {MAX_ATTACHMENT_NAME_CHARS} characters, without slashes or control characters")]
    AttachmentName,
    /// Too many attachments.
    #[error("a message may carry at most {MAX_ATTACHMENTS} attachments")]
    TooManyAttachments,
}

/// A one-line text, trimmed, of 1 to `max` characters, with no control or invisible format
/// characters (bidirectional overrides, zero-width spaces); `None` otherwise.
pub fn clean_line(s: &str, max: usize) -> Option<String> {
    let t = s.trim();
    let n = t.chars().count();
    if n == 0 || n > max || t.chars().any(|c| c.is_control() || is_invisible_format(c)) {
        return None;
    }
    Some(t.to_owned())
}

/// Bidirectional overrides and other invisible format characters that make a text read unlike
/// what it holds (a file name `cod.exe` shown as `exe.doc`).
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00ad}' | '\u{061c}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{2069}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}' | '\u{e0000}'..='\u{e007f}')
}

/// In a body, the zero-width joiner stays (emoji sequences); everything else invisible goes.
fn is_invisible_in_body(c: char) -> bool {
    c != '\u{200d}' && is_invisible_format(c)
}

/// A checked subject.
pub fn subject(s: &str) -> Result<String, MessageError> {
    clean_line(s, MAX_SUBJECT_CHARS).ok_or(MessageError::Subject)
}

/// A checked body: line breaks and tabs kept, other control and invisible direction characters
/// refused; surrounding white space trimmed.
pub fn body(s: &str) -> Result<String, MessageError> {
    let t = s.trim();
    let n = t.chars().count();
    if n == 0
        || n > MAX_BODY_CHARS
        || t.chars().any(|c| {
            (c.is_control() && c != '\n' && c != '\t' && c != '\r') || is_invisible_in_body(c)
        })
    {
        return Err(MessageError::Body);
    }
    Ok(t.to_owned())
}

/// The attachment types a browser shows inline without running anything of the sender's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentType {
    /// `application/pdf`.
    Pdf,
    /// `image/png`.
    Png,
    /// `image/jpeg`.
    Jpeg,
    /// `text/plain; charset=utf-8`.
    Text,
}

impl AttachmentType {
    /// From a declared media type (parameters ignored).
    pub fn parse(s: &str) -> Option<Self> {
        let base = s
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match base.as_str() {
            "application/pdf" => Some(Self::Pdf),
            "image/png" => Some(Self::Png),
            "image/jpeg" => Some(Self::Jpeg),
            "text/plain" => Some(Self::Text),
            _ => None,
        }
    }

    /// The media type it is served as.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Text => "text/plain; charset=utf-8",
        }
    }

    /// Whether `data` starts as this type does (a PNG named a PDF is refused, so the browser's
    /// viewer is never handed something else).
    pub fn matches(self, data: &[u8]) -> bool {
        match self {
            Self::Pdf => data.starts_with(b"%PDF-"),
            Self::Png => data.starts_with(b"\x89PNG\r\n\x1a\n"),
            Self::Jpeg => data.starts_with(b"\xff\xd8\xff"),
            Self::Text => std::str::from_utf8(data).is_ok_and(|t| !t.contains('\0')),
        }
    }
}

/// A checked attachment: its type, its cleaned name.
pub fn attachment(
    name: &str,
    media_type: &str,
    data: &[u8],
) -> Result<(AttachmentType, String), MessageError> {
    let kind = AttachmentType::parse(media_type).ok_or(MessageError::AttachmentType)?;
    if data.is_empty() || data.len() > MAX_ATTACHMENT_BYTES {
        return Err(MessageError::AttachmentSize);
    }
    if !kind.matches(data) {
        return Err(MessageError::AttachmentContent);
    }
    let name = clean_line(name, MAX_ATTACHMENT_NAME_CHARS)
        .filter(|n| !n.contains(['/', '\\', '"']) && n != "." && n != "..")
        .ok_or(MessageError::AttachmentName)?;
    Ok((kind, name))
}

/// PC-EMERG-1: the line every compose view shows, patient's and personnel's alike.
pub fn emergency_notice(lang: Lang) -> &'static str {
    match lang {
        Lang::Nb => "Haster det? Meldinger kan bli liggende ulest. Ring oss, eller 113 hvis det er fare for liv.",
        Lang::Nn => "Hastar det? Meldingar kan bli liggjande ulesne. Ring oss, eller 113 om det er fare for liv.",
        Lang::En => "Is it urgent? Messages may lie unread. Phone us, or 113 if a life is in danger.",
    }
}

/// PC-CHAN-1: the channel statement, the first thing in every new thread.
pub fn channel_statement(lang: Lang) -> &'static str {
    match lang {
        Lang::Nb => "Vi svarer på meldinger her, i den innloggede tjenesten. SMS og e-post fra oss sier bare at noe venter her, og svar på dem blir ikke lest. Logg inn med ID-porten.",
        Lang::Nn => "Vi svarar på meldingar her, i den innlogga tenesta. SMS og e-post frå oss seier berre at noko ventar her, og svar på dei blir ikkje lesne. Logg inn med ID-porten.",
        Lang::En => "We answer messages here, in the signed-in service. Text messages and e-mails from us only say that something is waiting here, and replies to them are not read. Sign in with ID-porten.",
    }
}

/// When an unread message is escalated (PC-READ-1): `after` past its sending.
pub fn escalation_due(sent: OffsetDateTime, after: Duration) -> OffsetDateTime {
    sent + after
}

/// When an unfiled message is deleted (PC-STORE-1): `days` past its sending.
pub fn expires_at(sent: OffsetDateTime, days: u32) -> OffsetDateTime {
    sent + Duration::days(i64::from(days))
}

/// A patient's reply to a two-way SMS (an appointment change): JA, NEI, or anything else, which
/// is answered automatically and not kept (scenario 26).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Yes: the change is accepted.
    Yes,
    /// No: the appointment is cancelled.
    No,
    /// Anything else.
    Other,
}

/// Reads a reply: one word, JA or NEI (also YES or NO), in any case, with surrounding white space
/// and a full stop or exclamation mark allowed.
pub fn parse_reply(text: &str) -> Reply {
    let t = text
        .trim()
        .trim_end_matches(['.', '!'])
        .trim()
        .to_lowercase();
    match t.as_str() {
        "ja" | "yes" => Reply::Yes,
        "nei" | "no" => Reply::No,
        _ => Reply::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_checked() {
        assert_eq!(subject("  Time  ").unwrap(), "Time");
        assert_eq!(subject(""), Err(MessageError::Subject));
        assert_eq!(subject("a\u{202e}b"), Err(MessageError::Subject));
        assert_eq!(subject("a\u{200b}b"), Err(MessageError::Subject));
        assert_eq!(subject("a\u{e0041}b"), Err(MessageError::Subject));
        assert!(body("👩\u{200d}⚕️ hei").is_ok());
        assert_eq!(body("a\u{2066}b"), Err(MessageError::Body));
        assert_eq!(subject(&"x".repeat(201)), Err(MessageError::Subject));
        assert_eq!(body("hei\nhallo").unwrap(), "hei\nhallo");
        assert_eq!(body("a\u{0}b"), Err(MessageError::Body));
        assert_eq!(body(" \n "), Err(MessageError::Body));
        assert!(body(&"x".repeat(MAX_BODY_CHARS)).is_ok());
        assert_eq!(
            body(&"x".repeat(MAX_BODY_CHARS + 1)),
            Err(MessageError::Body)
        );
    }

    #[test]
    fn attachments_are_what_they_say_and_named_harmlessly() {
        assert_eq!(
            attachment("svar.pdf", "application/pdf", b"%PDF-1.7 ...").unwrap(),
            (AttachmentType::Pdf, "svar.pdf".to_owned())
        );
        assert_eq!(
            attachment("a.html", "text/html", b"<script>"),
            Err(MessageError::AttachmentType)
        );
        assert_eq!(
            attachment("a.pdf", "application/pdf", b"<html>"),
            Err(MessageError::AttachmentContent)
        );
        assert_eq!(
            attachment("../../etc/passwd", "text/plain", b"x"),
            Err(MessageError::AttachmentName)
        );
        assert_eq!(
            attachment("cod\u{202e}fdp.exe", "text/plain", b"x"),
            Err(MessageError::AttachmentName)
        );
        assert_eq!(
            attachment("a.txt", "text/plain", b""),
            Err(MessageError::AttachmentSize)
        );
        assert_eq!(
            attachment("a.txt", "text/plain", b"\xff\xfe"),
            Err(MessageError::AttachmentContent)
        );
        assert_eq!(
            AttachmentType::parse("Image/PNG; x=y"),
            Some(AttachmentType::Png)
        );
    }

    #[test]
    fn replies_are_one_word() {
        assert_eq!(parse_reply(" Ja. "), Reply::Yes);
        assert_eq!(parse_reply("NEI!"), Reply::No);
        assert_eq!(parse_reply("nei takk, jeg har vondt"), Reply::Other);
        assert_eq!(parse_reply(""), Reply::Other);
    }

    #[test]
    fn the_clocks() {
        let t = time::macros::datetime!(2026-01-01 0:00 UTC);
        assert_eq!(
            escalation_due(t, Duration::hours(72)),
            time::macros::datetime!(2026-01-04 0:00 UTC)
        );
        assert_eq!(
            expires_at(t, 1),
            time::macros::datetime!(2026-01-02 0:00 UTC)
        );
    }

    #[test]
    fn every_language_has_the_urgent_line() {
        for l in [Lang::Nb, Lang::Nn, Lang::En] {
            assert!(emergency_notice(l).contains("113"));
            assert!(!channel_statement(l).is_empty());
        }
    }
}
