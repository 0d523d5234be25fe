//! Classes 4–6 of issue #9: results and findings without a diagnosis word, diagnosis codes
//! introduced by words that make them diagnoses, and units that reveal by their specialty, in
//! both written standards. Each class has harmless look-alikes that must stay `allow`. The
//! messages were written for these tests, not taken from the dev corpus. PC-CONF-1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use trygg_guard::{Channel, Context, Guard, Reason, Verdict};

fn guard() -> Guard {
    Guard::builtin().expect("built-in lists load")
}

fn screen(g: &Guard, text: &str) -> (Verdict, Vec<Reason>, Vec<String>) {
    let s = g.screen(Channel::Sms, text, &Context::default());
    let spans = s
        .findings
        .iter()
        .map(|f| text[f.start..f.end].to_string())
        .collect();
    (s.verdict, s.reasons, spans)
}

fn all(g: &Guard, verdict: Verdict, reason: Option<Reason>, texts: &[&str]) {
    for text in texts {
        let (v, r, spans) = screen(g, text);
        assert_eq!(v, verdict, "{text:?} gave {r:?} at {spans:?}");
        if let Some(reason) = reason {
            assert!(r.contains(&reason), "{text:?} gave {r:?}");
        }
    }
}

#[test]
fn results_without_a_diagnosis_word() {
    let g = guard();
    all(
        &g,
        Verdict::Block,
        Some(Reason::HealthInfo),
        &[
            "Prøvesvaret viste forandringer, og legen vil snakke med deg.",
            "Blodprøven var unormal. Ring oss for en samtale.",
            "Det er tid for ny celleprøve. Bestill time hos fastlegen.",
            "Svaret på biopsien er klart. Legen ringer deg i morgen.",
            "Røntgenbildet viser et brudd i foten.",
            "Urinprøven viste bakterier, så resepten er sendt.",
            "Prøvene viste funn som må følgjast opp.",
            "Mammografien viste en forandring som må undersøkes nærmere.",
            "Svaret på vevsprøven er kommet.",
            "MR-bildene viste en skade i kneet.",
            "Du er kalt inn til koloskopi 4. mai.",
            // A test whose kind points to a condition, even without a result (a fifth
            // independent corpus, issue #9; the dev corpus labels "klamydiatesten" so).
            "Spirometrien din er satt opp til torsdag kl. 10.20.",
            "PSA-prøven er tatt, svaret kommer om en uke.",
            "Husk å ta med CGM-sensoren til timen.",
            // A short result after the sentence that names the test.
            "Legen har sett på røntgenbildet av kneet. Ingen brudd.",
            "Legevakta har røntga hofta. Det er ikkje brot.",
            // A change in a value (a fourth independent corpus, issue #9).
            "PSA-verdien din har steget litt siden sist.",
            // The definite form is the patient's fever, not a policy.
            "Ta kontakt med legevakten hvis feberen ikke har gått ned til helgen.",
        ],
    );
    all(
        &g,
        Verdict::Allow,
        None,
        &[
            // That a result exists, and the same words outside a sentence about a test.
            "Du har fått et nytt prøvesvar. Logg inn på helsenorge.no for å lese det.",
            "Vi har gjort en forandring i åpningstidene fra mandag.",
            "Skaden på taket er reparert, og inngangen er åpen igjen.",
            "Det var et avvik i timebestillingen, vi beklager.",
            "Bildet viser veien til det nye kontoret.",
            "Testen av det nye SMS-systemet gikk fint.",
            // Routine and generic tests, and ordinary words ending like a test.
            "Du har time til blodprøve mandag kl. 08.15.",
            "Optikeren har time til synsundersøkelse onsdag.",
            "Rentesenkning fra 1. mars: ny rente på boliglånet.",
            // School tests are not medical tests.
            "Matteprøven var fin, godt jobbet!",
            "Prøven i engelsk blir onsdag som normalt.",
            "Resultatene av spørreundersøkelsen viser at vi må bli bedre på telefon.",
            // A longer sentence after a test is not its result.
            "Takk for at du svarte på undersøkelsen. Vi fikk mange positive tilbakemeldinger.",
            // Diseases a vaccine protects against name the vaccine, not the child.
            "Alle i 2. klasse får oppfriskningsvaksine mot difteri, stivkrampe og kikhoste.",
            "Barna kan vaksineres mot meslinger, kusma og røde hunder.",
        ],
    );
    // But a condition after the list is about the patient.
    all(
        &g,
        Verdict::Block,
        Some(Reason::HealthInfo),
        &["Du får vaksine mot influensa fordi du har diabetes."],
    );
}

#[test]
fn codes_with_context() {
    let g = guard();
    all(
        &g,
        Verdict::Block,
        Some(Reason::HealthInfo),
        &[
            "Du er henvist for T90 til spesialist.",
            "Utredet for K86, kontroll om tre måneder.",
            "Du er henvist for utredning av E11.",
            "Henvisningen gjelder R96. Du får brev.",
            "Du er sjukmeldt for P76 til 1. juni.",
            "Mistanke om L84, time hos fysioterapeut.",
        ],
    );
    all(
        &g,
        Verdict::Allow,
        None,
        &[
            "Du har time i rom B12 kl. 10.00.",
            "Bussen går fra holdeplass R96 hvert kvarter.",
            "Du er henvist videre, og får brev om timen.",
            "Utredning av saken tar omtrent tre uker.",
            "Parker på plass P76, inngang A.",
        ],
    );
}

#[test]
fn units_that_reveal_by_specialty() {
    let g = guard();
    all(
        &g,
        Verdict::Block,
        Some(Reason::RevealingUnit),
        &[
            "Nevrologisk poliklinikk minner om timen din.",
            "Avdeling for rusbehandling har satt opp ny samtale.",
            "Eining for psykisk helse kallar deg inn til samtale.",
            "Brystdiagnostisk senter: time tirsdag kl. 9.",
            "Hjertepoliklinikken minner om timen.",
            "Lungeavdelinga har flytta timen din.",
            "Kardiologisk poliklinikk: ny time 4. mai.",
            "Avdeling for nevrologi: husk timen.",
            "Revmatologisk avdeling har ny time til deg.",
            "Urologisk poliklinikk: timen er flytta.",
            "Brystsenteret har flyttet timen din.",
            "Hudpoliklinikken minner om timen din torsdag.",
            "Øyeavdelingen minner om timen din.",
            "Ortopedisk poliklinikk: ny time.",
            "Nyremedisinsk avdeling: ny time.",
            "Smerteklinikken har ny time.",
            "Seksjon for hjerte- og lungesykdommer minner om timen.",
            // Abbreviations and forms as written.
            "Time på psyk. pol. tirsdag.",
            "Gynpol har ny time til deg.",
            "Kardiologisk pol. minner om timen.",
            "Nevrologisk avd. har flyttet timen.",
            "BUPen minner om timen.",
            "Slagenheten har ny time.",
            "Hjerte poliklinikken minner om timen.",
            "Send e-post til psykiskhelse@normland.kommune.no.",
        ],
    );
    // A specialty alone, or a grey unit, is for a person to judge.
    all(
        &g,
        Verdict::Review,
        Some(Reason::GreyUnit),
        &[
            "Du har time hos nevrologen tirsdag.",
            "Kommunepsykologen har fått forfall i dag.",
            "Senter for sjeldne diagnoser har ny time til deg.",
        ],
    );
    all(
        &g,
        Verdict::Allow,
        None,
        &[
            "Hjertelig velkommen til vårt nye senter på Torget!",
            "Verdensdagen for psykisk helse markeres 10. oktober med åpent hus.",
            "Øyeblikkelig hjelp-enheten ligger i 1. etasje.",
            "Barneavdelingen har fått nye leker i venterommet.",
            "Avdeling for økonomi har sendt faktura.",
            "Senter for idrett og helse har åpen dag.",
            "Magesekken? Nei, ryggsekken ble glemt på venterommet.",
            // A unit head with an organ word further on (review of issue #9).
            "Avdeling for kundeservice ønsker deg hjertelig velkommen.",
            "Vi har et tilbud for deg som liker øyene i sommer.",
            "Tilbud for skolestart: ryggsekker til halv pris.",
        ],
    );
}
