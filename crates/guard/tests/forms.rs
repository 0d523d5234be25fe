//! Classes 1–3 of issue #9: Norwegian as people write it. Inflected and definite forms of
//! conditions (bokmål and nynorsk), compounds whose first part or head is medical, and
//! misspellings of longer terms must be judged like the listed term; ordinary words that look
//! like them ("eksempel", "fangst", "krefter", "ryggsekk", "saksbehandling") stay `allow`. The
//! messages were written for these tests, not taken from the dev corpus. PC-CONF-1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use trygg_guard::{Channel, Context, Guard, Reason, Verdict};

fn guard() -> Guard {
    Guard::builtin().expect("built-in lists load")
}

/// Every message must be blocked with `reason` among the reasons.
fn all_blocked(g: &Guard, reason: Reason, texts: &[&str]) {
    for text in texts {
        let s = g.screen(Channel::Sms, text, &Context::default());
        assert_eq!(s.verdict, Verdict::Block, "{text:?} gave {:?}", s.reasons);
        assert!(s.reasons.contains(&reason), "{text:?} gave {:?}", s.reasons);
    }
}

/// Every message must be allowed.
fn all_allowed(g: &Guard, texts: &[&str]) {
    for text in texts {
        let s = g.screen(Channel::Sms, text, &Context::default());
        let spans: Vec<&str> = s.findings.iter().map(|f| &text[f.start..f.end]).collect();
        assert_eq!(s.verdict, Verdict::Allow, "{text:?} flagged {spans:?}");
    }
}

#[test]
fn inflected_and_definite_forms() {
    let g = guard();
    all_blocked(
        &g,
        Reason::HealthInfo,
        &[
            "Hvordan går det med astmaen din etter byttet?",
            "Legen vil snakke med deg om migrenen før timen.",
            "Vi ser på diabetesen din ved neste kontroll.",
            "Angsten hans er bedre, skriver mora.",
            "Epilepsien er godt regulert no.",
            "Kolsen gjer at du bør ta vaksine i haust.",
            "Gikta di kan vi sjå på neste veke.",
            "Psoriasisen har blussa opp att.",
            "Hjertesvikten din følges opp på telefon.",
            "Astmaane i familien kan vi snakke om.",
        ],
    );
    all_blocked(
        &g,
        Reason::Medication,
        &[
            "Zoloften kan hentes på apoteket.",
            "Hent Ritalinen før helga.",
        ],
    );
}

#[test]
fn compounds_with_a_medical_first_part_or_head() {
    let g = guard();
    all_blocked(
        &g,
        Reason::HealthInfo,
        &[
            "Husk å ta med smertedagboka til timen.",
            "Vi sender resultatet av blodtrykksmålinga neste uke.",
            "Velkommen til angstmestringskurs onsdag kl. 18.",
            "Ryggbehandlinga fortsetter som før.",
            "Knesmertene kan vi se på torsdag.",
            "Hofteoperasjonen er satt opp 3. mars.",
            "Barneastmaen hennes er mye bedre.",
            "Nattangsten kan vi snakke om neste gang.",
            "Astmakontrollen er flyttet til fredag.",
            "Diabeteskurset starter i mai.",
            "Pollenallergien din er verre nå.",
            "Migreneanfallene har blitt færre.",
            // Short conditions with a medical head (review of issue #9).
            "Hivprøven din er klar.",
            "Kolsanfallet ditt må følges opp.",
            "Ruskontrollen er flyttet til tirsdag.",
            // A body part with a wound (a sixth independent corpus, issue #9).
            "Fotsåret ditt må sjåast på att neste veke.",
            "Hivsmitten er påvist.",
        ],
    );
    all_blocked(
        &g,
        Reason::Medication,
        &["Proliasprøyten din er klar.", "Ibuxen tar du ved behov."],
    );
    // A letter doubled that the term has once (second review of issue #9).
    all_blocked(
        &g,
        Reason::HealthInfo,
        &["Hun har migrenne igjen.", "Time for kjemokur torsdag."],
    );
    all_blocked(
        &g,
        Reason::Medication,
        &[
            "Ta Ritallin før skolen.",
            "Hent insullinen din på apoteket.",
        ],
    );
    all_blocked(
        &g,
        Reason::RevealingUnit,
        &["Spiseforstyrrelsesteamet har ny time til deg."],
    );
}

#[test]
fn misspellings_of_longer_terms() {
    let g = guard();
    all_blocked(
        &g,
        Reason::HealthInfo,
        &[
            "Kontroll av diabetis på fredag.",
            "Vi har fått svar om epilepsy-utredningen.",
            "Schizofrei er tema for samtalen.",
            "Vi følger opp depresjonnen din.",
            "Reumatisme er tema for kurset.",
            "Alzeimer-utredningen er ferdig.",
            "Samtalen om spiseforstyrelsen er flyttet.",
            "Vi snakker om psoraisis på telefon.",
        ],
    );
    all_blocked(
        &g,
        Reason::RevealingUnit,
        &[
            "Time på psykiartisk poliklinikk mandag.",
            "Velkommen til onkolgisk poliklinikk.",
        ],
    );
}

#[test]
fn ordinary_look_alikes_stay_allowed() {
    let g = guard();
    all_allowed(
        &g,
        &[
            // "eksem" + "pel", "angst" inside "fangst", "kreft" in the plural of "kraft".
            "Se eksempelet i vedlegget og fyll ut skjemaet.",
            "Fiskerne fikk god fangst i helga.",
            "Vi har satt inn ekstra krefter i resepsjonen, og motkreftene er borte.",
            "Timen er ubekreftet til du svarer JA.",
            // A body part alone, a treatment head alone.
            "Husk ryggsekk og matpakke til turen.",
            "Saksbehandlingen tar omtrent to uker.",
            "Søknaden er til behandling hos kommunen.",
            // Near misspellings that are words of their own.
            "Den nye rustbehandlingen av stålbjelkene er ferdig.",
            "Kontoret holder stengt i påsken, og vi minner om tannpuss.",
            "Elevene spiller trombone i korpset.",
            "Vi viser et eksempel på hvordan du logger inn.",
            "Operasjonell drift av nettsidene flyttes til ny leverandør.",
            "Fødselsdatoen din må stå på skjemaet.",
            "Fødselsnr. må stå på skjemaet.",
            "Takk for at du bekreftet timen din.",
            // Operations that are not surgery, and other look-alikes the review found.
            "Flytteoperasjonen til nye lokaler starter mandag.",
            "Operasjonssentralen til politiet er informert.",
            "Fødselsnavnet ditt står i passet.",
            "Det er overvekst av alger i dammen.",
            "Hiv deg med på dugnad lørdag!",
            "Ny kaffemaskin: den doserer melk selv.",
            "Dosenten holder foredrag om Vivaldi.",
        ],
    );
}
