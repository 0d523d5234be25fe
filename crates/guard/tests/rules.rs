//! The guard's rules on messages written for these tests (not from the dev corpus): hard
//! negatives that must stay `allow`, and general cases of each reason. PC-CONF-1; guide risk
//! scenarios 1–3, 9 and 31.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use trygg_guard::{Channel, Context, Guard, LineProblem, LoadError, Reason, Verdict};

fn guard() -> Guard {
    Guard::builtin().expect("built-in lists load")
}

fn check(g: &Guard, channel: Channel, text: &str) -> (Verdict, Vec<Reason>) {
    let s = g.screen(channel, text, &Context::default());
    (s.verdict, s.reasons)
}

#[test]
fn hard_negatives_stay_allowed() {
    let g = guard();
    for text in [
        "Vi har satt inn ekstra krefter på telefonen i ferien. Hilsen Normland Legesenter",
        "Bekreft timen ved å svare JA. Du kan ikke svare på andre spørsmål her.",
        "Legesenteret har flyttet til Ruseløkkveien 3, inngang fra gården.",
        "Blir du syk og ikke kan komme, må du avbestille senest dagen før.",
        "Har du feber eller symptomer på luftveisinfeksjon, må du ringe og avbestille timen.",
        "Ved akutt sykdom, ring legevakten på 116 117. Ved fare for liv, ring 113.",
        "Du har time i rom C12, 2. etasje, fredag kl. 10.40.",
        "Parker gjerne på plass B14 i P-huset. Time kl. 08.00.",
        "Bussen går fra holdeplass A22 hvert kvarter.",
        "Koden din er 551903. Den er gyldig i 10 minutter.",
        "Bekreftelseskode: 20481937. Ikke del den med andre.",
        "Saksnummer 58392017. Vi svarer innen fem virkedager.",
        "Hilsen Normland Legesenter, org.nr. 912 345 678",
        "Du har time 12.03.2025 kl. 08:30 i bygg A, 2. etg.",
        "Faktura 2025-0301 på 375 kr. KID 30125563349. Kontonr. 1503.12.34567.",
        "Vi har registrert telefonnummeret ditt som 41 23 45 67. Stemmer ikke dette, logg inn og rett det.",
        "Giftinformasjonen har telefon 22 59 13 00.",
        "Takk for at du svarte på undersøkelsen. Vi fikk mange positive tilbakemeldinger.",
        "Legen er i barselpermisjon til august. Ny fastlege er lege Berg.",
        "Influensavaksinen er kommet. Ta kontakt for time. Hilsen Normland Legesenter",
        "Resepten din er sendt til apoteket og er klar for henting i morgen.",
        "Resepten på nytt er klar. Hent den på hvilket som helst apotek.",
        "Resepten på Normland apotek er klar for henting.",
        "Hei Jonas! Fødselsdatoen din er registrert som 03.11.1987. Stemmer det? Svar JA eller NEI.",
        "Me minner om timen din hjå Normbakken legesenter tysdag 4. mars kl. 10.15. Du kan ikkje svare på denne SMS-en.",
        "Du har fått svar på prøven. Logg inn på helsenorge.no for å se resultatet.",
        "Påminnelse: time hos fysioterapeut tirsdag kl. 15.00. Ta med treningstøy.",
        "Eksempel: skriv inn fødselsdatoen med seks siffer, for eksempel 010190.",
        "Vi ønsker deg god bedring! Hilsen Normland Legesenter",
    ] {
        let (v, r) = check(&g, Channel::Sms, text);
        assert_eq!(v, Verdict::Allow, "{text:?} gave {r:?}");
    }
}

#[test]
fn health_information_in_words_blocks() {
    let g = guard();
    for text in [
        "Vi minner om timen for oppfølging av astmaen din torsdag kl. 10.",
        "Time for kontroll etter hjerteinfarktet: fredag kl. 10.00.",
        "Husk å ta med CPAP-maskinen til kontrollen.",
        "Du er henvist til utredning for ADHD. Hilsen Normland Legesenter",
        "Hei! Svangerskapskontrollen er flyttet til 3. mai.",
        "Tida di for oppfølging av diabetesen er flytta til tysdag.",
        "Celleprøven din viste celleforandringer. Ring oss for ny time.",
        "Prøvesvarene dine er fine, du trenger ikke gjøre noe.",
        "Røntgensvar: ingen tegn til brudd. Hilsen Legevakten",
        "Kolesterolet ditt var 6,2. Vi tar en ny prøve om tre måneder.",
        "Hb var 10,1 ved tappingen i dag.",
        "Blodsukkeret var 12 mmol/l i går.",
        "Har du fortsatt vondt i ryggen? Svar JA eller NEI.",
        "Diagnosekode F41.1 er registrert.",
        "Sykmeldingen din med diagnose R05 er sendt til NAV.",
        "ICPC-2 K86 er ført i journalen din.",
        "Henvisningen gjelder E11.9.",
    ] {
        let (v, r) = check(&g, Channel::Sms, text);
        assert_eq!(v, Verdict::Block, "{text:?} gave {r:?}");
        assert!(r.contains(&Reason::HealthInfo), "{text:?} gave {r:?}");
    }
}

#[test]
fn medication_blocks() {
    let g = guard();
    for text in [
        "Resepten på Elvanse er fornyet.",
        "Resepten din på Lyrica er klar på apoteket.",
        "Resepten på Xyzovant er fornyet.",
        "Husk å ta 1 tablett morgen og kveld i ti dager.",
        "Vi har økt dosen til 50 mg daglig.",
        "Legemiddellisten er oppdatert: C10AA05.",
        "Husk å hente Eliquis på apoteket.",
        "Resepten på metforminen er fornya.",
        "Vitamin B12-sprøyte settes hver tredje måned.",
        "Resepten på angstmedisinen er klar.",
        "Resepten på sertraline er sendt.",
    ] {
        let (v, r) = check(&g, Channel::Email, text);
        assert_eq!(v, Verdict::Block, "{text:?} gave {r:?}");
        assert!(r.contains(&Reason::Medication), "{text:?} gave {r:?}");
    }
}

#[test]
fn guide_risk_scenario_31_revealing_units_block() {
    let g = guard();
    for text in [
        "Time ved diabetespoliklinikken onsdag kl. 10.00.",
        "Velkommen til Rus- og avhengighetsklinikken mandag kl. 08.30.",
        "Påminnelse fra Kvinneklinikken: time mandag kl. 09.00.",
        "Timen din på Seksjon for rus og avhengighet er flyttet.",
        "Barne- og ungdomspsykiatrisk poliklinikk minner om timen.",
        "Du har time hos Mental helse-tjenesten i kommunen torsdag kl. 12.",
        "Spørsmål? Skriv til bup@normland.no.",
        "Hukommelsesteamet kommer på hjemmebesøk tirsdag.",
    ] {
        let (v, r) = check(&g, Channel::Sms, text);
        assert_eq!(v, Verdict::Block, "{text:?} gave {r:?}");
        assert_eq!(r, vec![Reason::RevealingUnit], "{text:?}");
    }
}

#[test]
fn grey_units_and_sender_phones_need_review() {
    let g = guard();
    for (text, reason) in [
        (
            "Timen din hos psykolog Hansen er tirsdag kl. 14.00.",
            Reason::GreyUnit,
        ),
        (
            // A specialty alone is grey; with a unit word it is revealing (tests/units.rs).
            "Timen din hos nevrologen er flyttet til tirsdag.",
            Reason::GreyUnit,
        ),
        ("Ved spørsmål, ring 22 33 44 55.", Reason::SenderPhone),
        (
            "Har du spørsmål, kontakt oss på tlf. 67 89 01 23 mellom 08 og 15.",
            Reason::SenderPhone,
        ),
        (
            "Vennlig hilsen\nNormland Legesenter\n22 44 66 88",
            Reason::SenderPhone,
        ),
        (
            "Send SMS til 41 23 45 67 om du ikke kan komme.",
            Reason::SenderPhone,
        ),
        (
            "Kan du ikke komme? Gi beskjed på 64 80 12 12 senest dagen før.",
            Reason::SenderPhone,
        ),
        (
            "Kan du ikkje kome? Ring oss på +47 57 12 34 56.",
            Reason::SenderPhone,
        ),
    ] {
        let (v, r) = check(&g, Channel::Sms, text);
        assert_eq!(v, Verdict::Review, "{text:?} gave {r:?}");
        assert_eq!(r, vec![reason], "{text:?}");
    }
}

#[test]
fn national_id_blocks_email_and_needs_review_in_sms() {
    let g = guard();
    // A synthetic number (month + 80) with valid control digits, and the same with a space.
    for id in ["12838912395", "128389 12395"] {
        let text = format!("Vi har registrert deg med fødselsnummer {id}.");
        assert_eq!(
            check(&g, Channel::Sms, &text),
            (Verdict::Review, vec![Reason::NationalId])
        );
        assert_eq!(
            check(&g, Channel::Email, &text),
            (Verdict::Block, vec![Reason::NationalId])
        );
    }
    // The 2032 rule: Skatteetaten's published example fails today's k1 but is an id from 2032.
    let text = "Fødselsnummer 30108299939 er registrert.";
    assert_eq!(check(&g, Channel::Email, text).0, Verdict::Block);
}

#[test]
fn findings_have_spans_and_serialise_in_kebab_case() {
    let g = guard();
    let text = "Hei! Resepten på Zoloft er klar. Ring oss på 22 11 33 44.";
    let s = g.screen(Channel::Sms, text, &Context::default());
    assert_eq!(s.verdict, Verdict::Block);
    let spans: Vec<&str> = s.findings.iter().map(|f| &text[f.start..f.end]).collect();
    assert_eq!(spans, vec!["Zoloft", "22 11 33 44"]);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["verdict"], "block");
    assert_eq!(
        json["reasons"],
        serde_json::json!(["medication", "sender-phone"])
    );
    let f = &json["findings"][0];
    assert_eq!(f["reason"], "medication");
    // Spans are UTF-8 byte offsets ("på" has a two-byte letter before the name).
    let start = text.find("Zoloft").unwrap();
    assert_eq!(f["start"], start);
    assert_eq!(f["end"], start + "Zoloft".len());
    assert!(f["text_nb"]
        .as_str()
        .unwrap()
        .starts_with("Reseptinformasjon"));
    assert!(f["text_en"]
        .as_str()
        .unwrap()
        .starts_with("Prescription information"));
    // The explanation never repeats the message.
    assert!(!f["text_nb"].as_str().unwrap().contains("Zoloft"));
}

#[test]
fn case_folding_handles_norwegian_letters_and_shouting() {
    let g = guard();
    assert_eq!(
        check(&g, Channel::Sms, "HUSK BLODSUKKERMÅLEREN TIL TIMEN").0,
        Verdict::Block
    );
    assert_eq!(
        check(&g, Channel::Sms, "Time hos JORDMOR onsdag").0,
        Verdict::Review
    );
    assert_eq!(
        check(&g, Channel::Sms, "ØYELEGEN HAR FLYTTET TIMEN DIN").0,
        Verdict::Allow
    );
}

#[test]
fn context_own_phone_domains_sender_name_and_one_way() {
    let g = guard();
    // The organisation's own number is the sender's even without a cue.
    let ctx = Context::new().with_own_phone("+47 22 11 33 44");
    let s = g.screen(Channel::Sms, "Spørsmål? 22113344", &ctx);
    assert_eq!(s.reasons, vec![Reason::SenderPhone]);
    // The patient's own number is never flagged.
    let ctx = Context::new().with_patient_phone("41234567");
    let s = g.screen(
        Channel::Sms,
        "Vi ringer deg på 41 23 45 67. Ring oss gjerne på 41 23 45 67.",
        &ctx,
    );
    assert_eq!(s.verdict, Verdict::Allow);
    // Links to other domains need review once the organisation has named its own.
    let ctx = Context::new().with_own_domain("normland.no");
    let ok = g.screen(
        Channel::Email,
        "Logg inn på www.normland.no eller helsenorge.no.",
        &ctx,
    );
    assert_eq!(ok.verdict, Verdict::Allow);
    let text = "Logg inn på normland-helse.xyz/login for å se svaret.";
    let bad = g.screen(Channel::Email, text, &ctx);
    assert_eq!(bad.reasons, vec![Reason::ForeignLink]);
    assert_eq!(
        &text[bad.findings[0].start..bad.findings[0].end],
        "normland-helse.xyz"
    );
    // Without own domains the check is off.
    assert_eq!(
        g.screen(Channel::Email, text, &Context::default()).verdict,
        Verdict::Allow
    );
    // A declared neutral sender name is not flagged, though it holds a grey word.
    let text = "Påminnelse: time tirsdag kl. 10. Hilsen Friskliv Normland";
    assert_eq!(check(&g, Channel::Sms, text).0, Verdict::Review);
    let ctx = Context::new().with_sender_name("Friskliv Normland");
    assert_eq!(g.screen(Channel::Sms, text, &ctx).verdict, Verdict::Allow);
    // One-way channel: the cannot-reply line is required.
    let ctx = Context::new().with_one_way(true);
    let s = g.screen(Channel::Sms, "Du har time tirsdag kl. 10.", &ctx);
    assert_eq!(s.reasons, vec![Reason::MissingNoReply]);
    let s = g.screen(
        Channel::Sms,
        "Du har time tirsdag kl. 10. Du kan ikke svare på denne SMS-en.",
        &ctx,
    );
    assert_eq!(s.verdict, Verdict::Allow);
}

#[test]
fn organisations_extend_lists_at_deploy_time() {
    let extra = "# Normland's own list\n[health-info]\nnormsyke*\n[allow]\ndiabetesforbundet*\n[medication]\n=NORMOL\n";
    let g = Guard::builder()
        .extra_terms("normland.txt", extra)
        .build()
        .unwrap();
    assert_eq!(
        check(&g, Channel::Sms, "Om normsyken din: ring legen.").0,
        Verdict::Block
    );
    assert_eq!(
        check(&g, Channel::Sms, "Diabetesforbundet holder kurs i mai.").0,
        Verdict::Allow
    );
    assert_eq!(check(&g, Channel::Sms, "Husk NORMOL.").0, Verdict::Block);
    assert_eq!(check(&g, Channel::Sms, "Husk normol.").0, Verdict::Allow);
    // Without the extra list the allow term does not apply: "diabetes" starts the compound.
    assert_eq!(
        check(
            &guard(),
            Channel::Sms,
            "Diabetesforbundet holder kurs i mai."
        )
        .0,
        Verdict::Block
    );
}

#[test]
fn list_files_are_validated_with_file_and_line() {
    let dir = std::env::temp_dir().join(format!("trygg-guard-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("extra.txt");
    std::fs::write(&path, "[medication]\nnormol\n[helse]\nx\n").unwrap();
    let err = Guard::builder()
        .extra_terms_file(&path)
        .build()
        .unwrap_err();
    match &err {
        LoadError::Line {
            file,
            line,
            problem,
        } => {
            assert!(file.ends_with("extra.txt"));
            assert_eq!(*line, 3);
            assert_eq!(*problem, LineProblem::UnknownSection("helse".into()));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err
        .to_string()
        .contains("extra.txt:3: unknown section [helse]"));
    std::fs::write(&path, "[medication]\nnormol\n").unwrap();
    let g = Guard::builder().extra_terms_file(&path).build().unwrap();
    assert_eq!(
        check(&g, Channel::Sms, "Husk normol i dag.").0,
        Verdict::Block
    );
    let missing = Guard::builder()
        .extra_terms_file(dir.join("nope.txt"))
        .build()
        .unwrap_err();
    assert!(matches!(missing, LoadError::Read { .. }));
    std::fs::remove_dir_all(&dir).unwrap();
}
