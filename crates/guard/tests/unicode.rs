//! Class 7 of issue #9: text as it arrives from Word, an EPJ or a phone. No-break and narrow
//! no-break spaces, en dashes and non-breaking hyphens inside national IDs, full-width digits,
//! soft hyphens and zero-width characters inside words, decomposed letters, and Cyrillic or Greek
//! look-alike letters all passed as `allow`; they must be judged as the plain text they look
//! like, with spans in the text as sent. Harmless look-alikes (the same characters in ordinary
//! messages) stay `allow`. PC-CONF-1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use trygg_guard::{Channel, Context, Guard, Reason, Verdict};

fn guard() -> Guard {
    Guard::builtin().expect("built-in lists load")
}

/// A synthetic national ID (month + 80) with valid control digits, split 6 + 5.
const ID: (&str, &str) = ("128389", "12395");

fn verdict(g: &Guard, channel: Channel, text: &str) -> (Verdict, Vec<Reason>) {
    let s = g.screen(channel, text, &Context::default());
    for f in &s.findings {
        assert!(
            text.is_char_boundary(f.start) && text.is_char_boundary(f.end) && f.start <= f.end,
            "{text:?}: span {}..{} is not on character boundaries",
            f.start,
            f.end
        );
    }
    (s.verdict, s.reasons)
}

#[test]
fn national_ids_with_unicode_separators_and_digits_are_found() {
    let g = guard();
    // The digits of `s` in the script whose zero is `zero`.
    let in_script = |s: &str, zero: u32| -> String {
        s.chars()
            .map(|c| char::from_u32(c as u32 - '0' as u32 + zero).unwrap())
            .collect()
    };
    let full_width = |s: &str| in_script(s, 0xFF10);
    let mut ids = Vec::new();
    for sep in [
        "\u{A0}", "\u{202F}", "\u{2009}", "\u{2013}", "\u{2011}", "\u{2010}", "\u{2212}", "\u{AD}",
        "\u{200B}",
    ] {
        ids.push(format!("{}{sep}{}", ID.0, ID.1));
    }
    ids.push(full_width(&format!("{}{}", ID.0, ID.1)));
    ids.push(format!("{} {}", full_width(ID.0), ID.1));
    // Arabic-Indic and Devanagari digits, and superscript digits.
    ids.push(in_script(&format!("{}{}", ID.0, ID.1), 0x0660));
    ids.push(format!("{} {}", in_script(ID.0, 0x0966), ID.1));
    // A zero-width space inside the digits, and a word joiner.
    ids.push(format!("128\u{200B}389{}", ID.1));
    ids.push("1283891\u{2060}2395".to_string());
    for id in &ids {
        let text = format!("Fødselsnummeret ditt er {id}. Hilsen legekontoret");
        assert_eq!(
            verdict(&g, Channel::Sms, &text),
            (Verdict::Review, vec![Reason::NationalId]),
            "{text:?}"
        );
        assert_eq!(
            verdict(&g, Channel::Email, &text),
            (Verdict::Block, vec![Reason::NationalId]),
            "{text:?}"
        );
        // The finding points at the number as it was sent.
        let s = g.screen(Channel::Email, &text, &Context::default());
        let f = &s.findings[0];
        assert_eq!(&text[f.start..f.end], id.as_str(), "{text:?}");
    }
}

#[test]
fn hidden_characters_inside_words_do_not_hide_them() {
    let g = guard();
    for (text, reason) in [
        (
            "Husk kontrollen av dia\u{AD}betes neste uke.",
            Reason::HealthInfo,
        ),
        ("Svaret på H\u{200B}IV-testen er klart.", Reason::HealthInfo),
        (
            "Timen gjelder dep\u{200C}resjon og søvn.",
            Reason::HealthInfo,
        ),
        ("Resepten på Zol\u{200D}oft er fornyet.", Reason::Medication),
        ("Hent Cipra\u{2060}lex på apoteket.", Reason::Medication),
        (
            "Velkommen til psy\u{FEFF}kiatrisk poliklinikk.",
            Reason::RevealingUnit,
        ),
        // Bidi controls around a word: an embedding shows it as it is, a right-to-left
        // override in reverse (the review of issue #9 hid "diabetes" as "setebaid").
        (
            "Du er henvist til \u{202B}DPS\u{202C} Normland.",
            Reason::RevealingUnit,
        ),
        (
            "Du er henvist til \u{202E}SPD\u{202C} Normland.",
            Reason::RevealingUnit,
        ),
        ("Du har \u{202E}setebaid\u{202C}.", Reason::HealthInfo),
        ("Du har \u{202E}setebaid", Reason::HealthInfo),
        // Written in order inside an override: a program that ignores it shows it so.
        ("Han har \u{202E}kreft\u{202C}.", Reason::HealthInfo),
        // Combining marks that compose with nothing (a strike-through).
        ("Om astma\u{336}: ta med medisinen.", Reason::HealthInfo),
        // Marks that compose with the letter before them, and accented letters as typed: the
        // accents are dropped (the review of issue #9 found "diabete\u{301}s" passing).
        ("Du har diabete\u{301}s.", Reason::HealthInfo),
        ("Du har kre\u{301}ft.", Reason::HealthInfo),
        ("Du har diábetes.", Reason::HealthInfo),
        ("Du har dïäbëtës.", Reason::HealthInfo),
        // Controls and other format characters inside a word.
        ("Timen gjelder depres\u{1}jon.", Reason::HealthInfo),
        ("Timen gjelder depr\u{FFF9}esjon.", Reason::HealthInfo),
        // A word broken at the end of a line, as text pasted from a PDF.
        ("Kontroll av dia-\nbetes neste uke.", Reason::HealthInfo),
        (
            "Kontroll av dia\u{AD}\nbetes neste uke.",
            Reason::HealthInfo,
        ),
    ] {
        let (v, r) = verdict(&g, Channel::Sms, text);
        assert_eq!(v, Verdict::Block, "{text:?} gave {r:?}");
        assert!(r.contains(&reason), "{text:?} gave {r:?}");
    }
}

#[test]
fn look_alike_letters_are_read_as_latin() {
    let g = guard();
    for (text, reason) in [
        // Cyrillic а, е, о, р, с in Latin words.
        ("Husk timen om di\u{430}betes fredag.", Reason::HealthInfo),
        ("Du er innkalt til k\u{43E}ntroll for \u{435}pilepsi.", Reason::HealthInfo),
        // Cyrillic capitals Н and І: "НІV" is all Cyrillic.
        ("Svaret på \u{41D}\u{406}V-testen er klart.", Reason::HealthInfo),
        // Greek omicron and iota.
        ("Timen på \u{3BF}nk\u{3BF}l\u{3BF}gisk poliklinikk er flyttet.", Reason::RevealingUnit),
        ("Resepten på C\u{3B9}pralex er klar.", Reason::Medication),
        // Dotless i, Cyrillic small letters, small capitals, Greek eta, Armenian.
        ("Du har d\u{131}abetes.", Reason::HealthInfo),
        ("Du har \u{43A}reft.", Reason::HealthInfo),
        ("Du har \u{1D05}\u{26A}\u{1D00}\u{299}\u{1D07}\u{1D1B}\u{1D07}s.", Reason::HealthInfo),
        ("Om migre\u{3B7}e: ta med dagboka.", Reason::HealthInfo),
        // Full-width letters and mathematical bold.
        ("Svaret viser ＨＩＶ.", Reason::HealthInfo),
        ("Om \u{1D41D}\u{1D422}\u{1D41A}\u{1D41B}\u{1D41E}\u{1D42D}\u{1D41E}\u{1D42C}: ta med målingene.", Reason::HealthInfo),
    ] {
        let (v, r) = verdict(&g, Channel::Sms, text);
        assert_eq!(v, Verdict::Block, "{text:?} gave {r:?}");
        assert!(r.contains(&reason), "{text:?} gave {r:?}");
    }
}

#[test]
fn decomposed_norwegian_letters_match_like_composed_ones() {
    let g = guard();
    // "blodsukkermåler" with "å" as "a" + combining ring (as macOS writes file names).
    let text = "Husk å ta med blodsukkerma\u{30A}leren.";
    let s = g.screen(Channel::Sms, text, &Context::default());
    assert_eq!(s.verdict, Verdict::Block);
    let f = &s.findings[0];
    assert!(text[f.start..f.end].starts_with("blodsukkerma\u{30A}ler"));
}

#[test]
fn harmless_messages_with_the_same_characters_stay_allowed() {
    let g = guard();
    for text in [
        // No-break spaces and en dashes in times, dates and amounts.
        "Du har time tirsdag 5.\u{A0}mars kl.\u{A0}14.30\u{2013}15.00.",
        "Åpningstider: mandag\u{2013}fredag 08.00\u{2013}15.30, lunsj 11.30\u{2011}12.00.",
        "Egenandelen er 375\u{202F}kr. Betal innen 14 dager.",
        // An 11-digit account-like number with a narrow no-break space that fails the check.
        "Kontonummer 1503\u{202F}12\u{202F}34567 står på fakturaen.",
        // Full-width digits in a room and a time.
        "Møt opp i rom Ｂ１２ kl. １０.００.",
        // Soft hyphens and zero-width spaces in long ordinary words.
        "Vi minner om for\u{AD}eldre\u{AD}møtet på skolen i kveld.",
        "Legekontoret holder stengt i påske\u{200B}uken.",
        // Decomposed letters and a Cyrillic name written in Cyrillic.
        "Ha en fin dag pa\u{30A} hytta! Hilsen Олена på resepsjonen",
        // A whole message in Russian (a translated notice) and Greek.
        "Напоминаем о вашем приёме во вторник в 14:30.",
        "Υπενθύμιση: το ραντεβού σας είναι την Τρίτη.",
        // Emoji with variation selectors and joiners.
        "Takk for i dag \u{1F44B}\u{FE0F}\u{1F469}\u{200D}\u{2695}\u{FE0F}",
        // Accented names and words, and a hyphen at a line end before a capital (kept).
        "Kafé Ørnen og Café Olé har åpent. Hilsen René",
        "Vi ses i Gruppe-\nPoliklinikken? Nei: i kantina.",
        // Curly quotes and an ellipsis.
        "«Velkommen» til nytt legekontor \u{2026} vi gleder oss!",
    ] {
        assert_eq!(
            verdict(&g, Channel::Sms, text),
            (Verdict::Allow, vec![]),
            "{text:?}"
        );
    }
}
