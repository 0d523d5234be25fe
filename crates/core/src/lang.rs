//! The languages Trygg speaks to people in: Norwegian bokmål (the default), nynorsk and English.
//! The pages, the patient's access log and the notices all choose their text with one [`Lang`].

/// A language of the user interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
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

    /// Picks this language's text of three.
    pub fn pick<T>(self, nb: T, nn: T, en: T) -> T {
        match self {
            Lang::Nb => nb,
            Lang::Nn => nn,
            Lang::En => en,
        }
    }
}

impl crate::operation::PatientText {
    /// The text in `lang`.
    pub fn get(&self, lang: Lang) -> &'static str {
        lang.pick(self.nb, self.nn, self.en)
    }
}
