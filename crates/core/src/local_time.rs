//! Norwegian local time for what people read (pre-join pages, lists, journal notes): Central
//! European Time, UTC+1, and summer time, UTC+2, from 01:00 UTC on the last Sunday of March to
//! 01:00 UTC on the last Sunday of October (the EU rule Norway follows). Computed, so no time-zone
//! database is needed; everything stored and logged stays in UTC.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// The last Sunday of `month` in `year`, at 01:00 UTC.
fn switch(year: i32, month: Month) -> Option<OffsetDateTime> {
    let last = Date::from_calendar_date(year, month, 31).ok()?;
    let back = last.weekday().number_days_from_sunday();
    let sunday = last - time::Duration::days(i64::from(back));
    Some(PrimitiveDateTime::new(sunday, Time::from_hms(1, 0, 0).ok()?).assume_utc())
}

/// The offset of Norwegian time at `t`.
pub fn oslo_offset(t: OffsetDateTime) -> UtcOffset {
    let utc = t.to_offset(UtcOffset::UTC);
    let summer = match (
        switch(utc.year(), Month::March),
        switch(utc.year(), Month::October),
    ) {
        (Some(from), Some(to)) => utc >= from && utc < to,
        _ => false,
    };
    let hours = if summer { 2 } else { 1 };
    UtcOffset::from_hms(hours, 0, 0).unwrap_or(UtcOffset::UTC)
}

/// `t` in Norwegian time.
pub fn oslo(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(oslo_offset(t))
}

/// `t` in Norwegian time as `dd.mm.yyyy hh:mm`.
pub fn oslo_text(t: OffsetDateTime) -> String {
    let l = oslo(t);
    format!(
        "{:02}.{:02}.{} {:02}:{:02}",
        l.day(),
        u8::from(l.month()),
        l.year(),
        l.hour(),
        l.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn winter_and_summer_time_switch_at_one_utc_on_the_last_sundays() {
        assert_eq!(
            oslo_text(datetime!(2026-12-07 09:00 UTC)),
            "07.12.2026 10:00"
        );
        assert_eq!(
            oslo_text(datetime!(2026-07-01 09:00 UTC)),
            "01.07.2026 11:00"
        );
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(
            oslo_text(datetime!(2026-03-29 00:59 UTC)),
            "29.03.2026 01:59"
        );
        assert_eq!(
            oslo_text(datetime!(2026-03-29 01:00 UTC)),
            "29.03.2026 03:00"
        );
        assert_eq!(
            oslo_text(datetime!(2026-10-25 00:59 UTC)),
            "25.10.2026 02:59"
        );
        assert_eq!(
            oslo_text(datetime!(2026-10-25 01:00 UTC)),
            "25.10.2026 02:00"
        );
        // 2027: 28 March and 31 October.
        assert_eq!(
            oslo_offset(datetime!(2027-03-28 01:00 UTC)).whole_hours(),
            2
        );
        assert_eq!(
            oslo_offset(datetime!(2027-10-31 00:59 UTC)).whole_hours(),
            2
        );
        assert_eq!(
            oslo_offset(datetime!(2027-10-31 01:00 UTC)).whole_hours(),
            1
        );
    }
}
