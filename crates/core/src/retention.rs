//! Retention per data class (issue #15, PC-STORE-1, guide risk scenarios 26–29): how long each
//! class of an organisation's data is kept, its default, and the limits an organisation may set
//! it within. The retention job (`trygg_app::retention`) deletes what is due; this module is the
//! policy and its checks, with no IO.

use std::fmt;

/// A class of data with its own retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataClass {
    /// Messages not filed to the record: months after their thread's last message.
    Messages,
    /// The audit log's payloads: years after the entry (the commitments stay for ever).
    AuditLog,
    /// Records of granted authorisations: years after the grant ended (guide risk scenario 15).
    GrantRecords,
    /// Security events' payloads in the audit log: years after the event.
    SecurityEvents,
    /// The incident register: years after an incident was closed.
    IncidentRegister,
    /// Chat in a call: never stored, gone at the call's end.
    CallChat,
}

/// The unit a class's retention is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    /// Calendar months of 30 days (the job's arithmetic).
    Months,
    /// Years of 365 days plus one day per four (the audit log's arithmetic).
    Years,
}

impl DataClass {
    /// Every class, in the order pages show them.
    pub const ALL: [DataClass; 6] = [
        Self::Messages,
        Self::AuditLog,
        Self::GrantRecords,
        Self::SecurityEvents,
        Self::IncidentRegister,
        Self::CallChat,
    ];

    /// The stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Messages => "messages",
            Self::AuditLog => "audit-log",
            Self::GrantRecords => "grant-records",
            Self::SecurityEvents => "security-events",
            Self::IncidentRegister => "incident-register",
            Self::CallChat => "call-chat",
        }
    }

    /// Parses the stable code.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The unit its value is counted in.
    pub fn unit(self) -> Unit {
        match self {
            Self::Messages | Self::CallChat => Unit::Months,
            _ => Unit::Years,
        }
    }

    /// The default (the most private value Normen allows for what the class must serve).
    pub fn default_value(self) -> u32 {
        match self {
            Self::Messages => 12,
            Self::AuditLog => 10,
            Self::GrantRecords => 5,
            Self::SecurityEvents => 2,
            Self::IncidentRegister => 10,
            Self::CallChat => 0,
        }
    }

    /// The smallest and largest value an organisation may set. The floors are Normen's: five
    /// years for the log and for granted authorisations (section 4, guide risk scenario 15).
    pub fn limits(self) -> (u32, u32) {
        match self {
            Self::Messages => (0, 24),
            Self::AuditLog => (5, 30),
            Self::GrantRecords => (5, 30),
            Self::SecurityEvents => (2, 10),
            Self::IncidentRegister => (5, 30),
            Self::CallChat => (0, 0),
        }
    }

    /// What the class is, in words (`en`, `nb`).
    pub fn words(self) -> (&'static str, &'static str) {
        match self {
            Self::Messages => (
                "Messages not filed to the record, after the thread's last message",
                "Meldinger som ikke er journalført, etter trådens siste melding",
            ),
            Self::AuditLog => ("Audit log (contents)", "Logg (innhold)"),
            Self::GrantRecords => (
                "Records of granted access, after the grant ended",
                "Oversikt over tildelte tilganger, etter at tilgangen endte",
            ),
            Self::SecurityEvents => (
                "Security events (contents)",
                "Sikkerhetshendelser (innhold)",
            ),
            Self::IncidentRegister => (
                "Incident register, after the incident was closed",
                "Avviksregister, etter at avviket ble lukket",
            ),
            Self::CallChat => (
                "Chat in a video consultation (never stored)",
                "Chat i en videokonsultasjon (lagres aldri)",
            ),
        }
    }

    /// The value's length in milliseconds: months of 30 days, years of 365.25 days (the audit
    /// log's own arithmetic, `trygg_audit::RETENTION_MILLIS` for ten).
    pub fn millis(self, value: u32) -> i64 {
        match self.unit() {
            Unit::Months => i64::from(value) * 30 * 86_400_000,
            Unit::Years => i64::from(value) * 31_557_600_000,
        }
    }
}

impl fmt::Display for DataClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value outside the class's limits, or a policy that contradicts itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Out of the class's limits.
    #[error("{class} is kept {min} to {max} {unit}")]
    OutOfLimits {
        /// The class.
        class: DataClass,
        /// Smallest allowed.
        min: u32,
        /// Largest allowed.
        max: u32,
        /// `months` or `years`.
        unit: &'static str,
    },
    /// Security events are part of the log and cannot outlive it.
    #[error("security events cannot be kept longer than the audit log")]
    SecurityLongerThanLog,
}

/// An organisation's policy: a value per class (in the class's unit).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Policy {
    values: Vec<(DataClass, u32)>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            values: DataClass::ALL
                .into_iter()
                .map(|c| (c, c.default_value()))
                .collect(),
        }
    }
}

impl Policy {
    /// The policy from stored values (`(class code, value)`). It never fails: a stored policy
    /// must not make an organisation unusable. An unknown class is ignored, a value outside its
    /// class's limits is brought inside them, and security events kept longer than the log
    /// lengthen the log (the longer, safer value wins).
    pub fn from_stored(stored: &[(String, u32)]) -> Self {
        let mut values: Vec<(DataClass, u32)> = DataClass::ALL
            .into_iter()
            .map(|c| (c, c.default_value()))
            .collect();
        for (code, v) in stored {
            if let Some(c) = DataClass::parse(code) {
                let (min, max) = c.limits();
                if let Some(slot) = values.iter_mut().find(|(k, _)| *k == c) {
                    slot.1 = (*v).clamp(min, max);
                }
            }
        }
        let mut p = Self { values };
        let (sec, log) = (p.get(DataClass::SecurityEvents), p.get(DataClass::AuditLog));
        if sec > log {
            if let Some(slot) = p.values.iter_mut().find(|(k, _)| *k == DataClass::AuditLog) {
                slot.1 = sec;
            }
        }
        p
    }

    /// The value of a class.
    pub fn get(&self, class: DataClass) -> u32 {
        self.values
            .iter()
            .find_map(|(c, v)| (*c == class).then_some(*v))
            .unwrap_or_else(|| class.default_value())
    }

    /// The policy with one class changed, checked against the limits and the other classes.
    pub fn with(&self, class: DataClass, value: u32) -> Result<Self, PolicyError> {
        let (min, max) = class.limits();
        if !(min..=max).contains(&value) {
            return Err(PolicyError::OutOfLimits {
                class,
                min,
                max,
                unit: match class.unit() {
                    Unit::Months => "months",
                    Unit::Years => "years",
                },
            });
        }
        let mut values: Vec<(DataClass, u32)> = self
            .values
            .iter()
            .filter(|(c, _)| *c != class)
            .copied()
            .collect();
        values.push((class, value));
        values.sort();
        let p = Self { values };
        if p.get(DataClass::SecurityEvents) > p.get(DataClass::AuditLog) {
            return Err(PolicyError::SecurityLongerThanLog);
        }
        Ok(p)
    }

    /// Every class with its value.
    pub fn entries(&self) -> Vec<(DataClass, u32)> {
        DataClass::ALL
            .into_iter()
            .map(|c| (c, self.get(c)))
            .collect()
    }

    /// The retention end, in Unix milliseconds, of an audit entry recorded at `recorded_ms`
    /// (a security event by its own class): committed in the entry's Merkle leaf when it is
    /// written, so a later change of policy applies to entries written after it.
    pub fn audit_retain_until(&self, recorded_ms: i64, security: bool) -> i64 {
        let class = if security {
            DataClass::SecurityEvents
        } else {
            DataClass::AuditLog
        };
        recorded_ms.saturating_add(class.millis(self.get(class)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_inside_their_limits_and_the_floors_hold() {
        for c in DataClass::ALL {
            let (min, max) = c.limits();
            assert!((min..=max).contains(&c.default_value()), "{c}");
        }
        let p = Policy::default();
        assert!(
            p.with(DataClass::AuditLog, 4).is_err(),
            "never under five years"
        );
        assert!(p.with(DataClass::GrantRecords, 4).is_err(), "guide risk 15");
        assert!(p.with(DataClass::Messages, 25).is_err());
        assert!(p.with(DataClass::CallChat, 1).is_err());
        assert_eq!(
            p.with(DataClass::Messages, 0)
                .map(|p| p.get(DataClass::Messages)),
            Ok(0)
        );
        assert_eq!(
            p.with(DataClass::AuditLog, 5)
                .and_then(|p| p.with(DataClass::SecurityEvents, 6)),
            Err(PolicyError::SecurityLongerThanLog)
        );
        // A stored policy never fails to load, and never comes back shorter than its floors.
        let p = Policy::from_stored(&[("audit-log".into(), 3), ("x".into(), 1)]);
        assert_eq!(p.get(DataClass::AuditLog), 5);
        let p = Policy::from_stored(&[("audit-log".into(), 5), ("security-events".into(), 9)]);
        assert_eq!(p.get(DataClass::AuditLog), 9);
    }

    #[test]
    fn the_audit_log_default_matches_the_log_crates_ten_years() {
        // trygg_audit::RETENTION_MILLIS is ten years of 365.25 days.
        let p = Policy::default();
        assert_eq!(
            p.audit_retain_until(0, false),
            3_652 * 86_400_000 + 43_200_000
        );
        assert_eq!(p.audit_retain_until(0, true), 730 * 86_400_000 + 43_200_000);
    }
}
