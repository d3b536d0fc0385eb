//! Timestamps. Stored as naive UTC with six fractional digits (so text
//! order is time order); rendered as Python's `datetime.isoformat()`
//! renders upstream's naive UTC datetimes (fraction only when nonzero);
//! read as oslo's `parse_isotime` (the iso8601 library) reads them.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};

const STORED: &str = "%Y-%m-%dT%H:%M:%S%.6f";

pub fn to_stored(t: NaiveDateTime) -> String {
    t.format(STORED).to_string()
}

pub fn now() -> String {
    to_stored(Utc::now().naive_utc())
}

/// `isoformat()` of a stored timestamp.
pub fn render(stored: &str) -> String {
    match stored.strip_suffix(".000000") {
        Some(whole) => whole.to_string(),
        None => stored.to_string(),
    }
}

#[cfg(test)]
pub fn from_stored(stored: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(stored, STORED).ok()
}

/// An ISO 8601 date or date-time (`2027-01-01`, `2027-01-01T10:00`,
/// `2027-01-01 10:00:00.5+02:00`, `20270101T100000Z`), as naive UTC. No
/// zone means UTC, as for iso8601's default.
pub fn parse_isotime(text: &str) -> Option<NaiveDateTime> {
    let s = text.trim();
    let (date_part, rest) = split_date(s)?;
    let date = parse_date(date_part)?;
    if rest.is_empty() {
        return Some(date.and_time(NaiveTime::MIN));
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (time_part, offset) = split_zone(rest)?;
    let time = parse_time(time_part)?;
    let local = date.and_time(time);
    local.checked_sub_signed(offset)
}

/// The date and what follows it.
fn split_date(s: &str) -> Option<(&str, &str)> {
    let end = s.find(['T', 't', ' ']).unwrap_or(s.len());
    Some((&s[..end], &s[end..]))
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    let (y, m, d) = match s.len() {
        4 if digits(s) => (s, "1", "1"),
        7 if s.as_bytes()[4] == b'-' => (&s[..4], &s[5..7], "1"),
        8 if digits(s) => (&s[..4], &s[4..6], &s[6..8]),
        10 if s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-' => (&s[..4], &s[5..7], &s[8..10]),
        _ => return None,
    };
    if !(digits(y) && digits(m) && digits(d)) {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// The time and the zone's offset east of UTC.
fn split_zone(s: &str) -> Option<(&str, TimeDelta)> {
    if let Some(t) = s.strip_suffix(['Z', 'z']) {
        return Some((t, TimeDelta::zero()));
    }
    match s.rfind(['+', '-']) {
        None => Some((s, TimeDelta::zero())),
        Some(i) => {
            let (t, zone) = s.split_at(i);
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let z = zone[1..].replace(':', "");
            if !(z.len() == 2 || z.len() == 4) || !z.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let hours: i64 = z[..2].parse().ok()?;
            let minutes: i64 = if z.len() == 4 {
                z[2..].parse().ok()?
            } else {
                0
            };
            Some((t, TimeDelta::minutes(sign * (hours * 60 + minutes))))
        }
    }
}

fn parse_time(s: &str) -> Option<NaiveTime> {
    let (main, frac) = match s.find(['.', ',']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let main = main.replace(':', "");
    if !main.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m, sec) = match main.len() {
        2 => (&main[..2], "0", "0"),
        4 => (&main[..2], &main[2..4], "0"),
        6 => (&main[..2], &main[2..4], &main[4..6]),
        _ => return None,
    };
    let micros = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            let mut padded: String = f.chars().take(6).collect();
            while padded.len() < 6 {
                padded.push('0');
            }
            padded.parse().ok()?
        }
        Some(_) => return None,
    };
    NaiveTime::from_hms_micro_opt(h.parse().ok()?, m.parse().ok()?, sec.parse().ok()?, micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<String> {
        parse_isotime(s).map(to_stored)
    }

    #[test]
    fn parses_what_iso8601_reads() {
        assert_eq!(
            p("2027-01-01").as_deref(),
            Some("2027-01-01T00:00:00.000000")
        );
        assert_eq!(
            p("2027-01-01T10:00:00Z").as_deref(),
            Some("2027-01-01T10:00:00.000000")
        );
        assert_eq!(
            p("2027-01-01T10:00:00+02:00").as_deref(),
            Some("2027-01-01T08:00:00.000000")
        );
        assert_eq!(
            p("2027-01-01 10:00:00.5-0130").as_deref(),
            Some("2027-01-01T11:30:00.500000")
        );
        assert_eq!(
            p("20270101T1000Z").as_deref(),
            Some("2027-01-01T10:00:00.000000")
        );
        assert_eq!(
            p("2027-01-01T10").as_deref(),
            Some("2027-01-01T10:00:00.000000")
        );
        assert_eq!(p("not a date"), None);
        assert_eq!(p("2027-13-01"), None);
        assert_eq!(p("2027-01-01T25:00"), None);
    }

    #[test]
    fn renders_like_isoformat() {
        assert_eq!(render("2027-01-01T00:00:00.000000"), "2027-01-01T00:00:00");
        assert_eq!(
            render("2027-01-01T00:00:00.120000"),
            "2027-01-01T00:00:00.120000"
        );
        assert!(from_stored(&now()).is_some());
    }
}
