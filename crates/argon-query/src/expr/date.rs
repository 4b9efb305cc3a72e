//! Date expressions: `$year`, `$month`, ..., `$dateToString`, and the
//! calendar arithmetic behind them (proleptic Gregorian, UTC milliseconds).
//!
//! Time zones: "UTC", "GMT", fixed offsets ("+05:30", "-0800", "+03") and
//! Olson names ("Europe/Paris", from the `chrono-tz` database). A named
//! zone's offset depends on the instant, so everything that breaks a date
//! down asks [`TimeZone::offset_at`] for each instant; going the other way
//! (local wall time to an instant) resolves daylight-saving gaps and
//! overlaps as MongoDB's timelib does ([`TimeZone::instant_of_local`]). Unknown names
//! are rejected with "unrecognized time zone identifier" (40485).

use bson::Bson;

use super::Value;
use crate::error::{codes, err, Result};

/// Broken-down time of a UTC millisecond timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Parts {
    pub(crate) year: i64,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
    pub(crate) millis: u32,
    /// 1 = Sunday ... 7 = Saturday (MongoDB's `$dayOfWeek`).
    pub(crate) day_of_week: u32,
    /// 1 ... 366.
    pub(crate) day_of_year: u32,
}

/// Days since 1970-01-01 of a civil date.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Breaks a timestamp down, shifted by `offset_ms` (the zone's offset).
pub(crate) fn parts(millis: i64, offset_ms: i64) -> Parts {
    let t = millis.saturating_add(offset_ms);
    let days = t.div_euclid(86_400_000);
    let ms_of_day = t.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let day_of_year = (days - days_from_civil(year, 1, 1) + 1) as u32;
    // 1970-01-01 was a Thursday (Sunday = 0 -> 4).
    let dow0 = (days + 4).rem_euclid(7) as u32;
    Parts {
        year,
        month,
        day,
        hour: (ms_of_day / 3_600_000) as u32,
        minute: (ms_of_day / 60_000 % 60) as u32,
        second: (ms_of_day / 1000 % 60) as u32,
        millis: (ms_of_day % 1000) as u32,
        day_of_week: dow0 + 1,
        day_of_year,
    }
}

impl Parts {
    /// Week of the year, Sunday-based: week 1 starts on the first Sunday.
    pub(crate) fn week(&self) -> u32 {
        let dow0 = self.day_of_week - 1;
        (self.day_of_year - 1 + 7 - dow0) / 7
    }

    /// ISO 8601 day of week: 1 = Monday ... 7 = Sunday.
    pub(crate) fn iso_day_of_week(&self) -> u32 {
        if self.day_of_week == 1 {
            7
        } else {
            self.day_of_week - 1
        }
    }

    /// ISO 8601 week-numbering year and week (1 ... 53).
    pub(crate) fn iso_week(&self) -> (i64, u32) {
        let wd = self.iso_day_of_week() as i64;
        let week = (self.day_of_year as i64 - wd + 10) / 7;
        if week < 1 {
            let prev = self.year - 1;
            let dec31 = parts(days_from_civil(prev, 12, 31) * 86_400_000, 0);
            return (prev, dec31.iso_week().1);
        }
        let weeks_in_year = {
            let jan1 = parts(days_from_civil(self.year, 1, 1) * 86_400_000, 0).iso_day_of_week();
            if jan1 == 4 || (jan1 == 3 && is_leap(self.year)) {
                53
            } else {
                52
            }
        };
        if week as u32 > weeks_in_year {
            (self.year + 1, 1)
        } else {
            (self.year, week as u32)
        }
    }
}

/// A `timezone` argument: a fixed offset (UTC is offset 0) or an Olson zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeZone {
    /// Milliseconds east of UTC.
    Fixed(i64),
    Named(chrono_tz::Tz),
}

/// chrono's range is narrower than BSON dates'; beyond it (±250,000
/// years) a named zone keeps the offset it has at the edge.
const CHRONO_SAFE_MILLIS: i64 = 8_000_000_000_000_000;

impl TimeZone {
    pub(crate) const UTC: TimeZone = TimeZone::Fixed(0);

    /// The zone's offset from UTC (ms) at the instant `utc_ms`.
    pub(crate) fn offset_at(&self, utc_ms: i64) -> i64 {
        match self {
            TimeZone::Fixed(offset) => *offset,
            TimeZone::Named(tz) => {
                use chrono::{Offset, TimeZone as _};
                let clamped = utc_ms.clamp(-CHRONO_SAFE_MILLIS, CHRONO_SAFE_MILLIS);
                let Some(instant) = chrono::DateTime::from_timestamp_millis(clamped) else { return 0 };
                tz.offset_from_utc_datetime(&instant.naive_utc()).fix().local_minus_utc() as i64 * 1000
            }
        }
    }

    /// Breaks `utc_ms` down in this zone.
    pub(crate) fn parts(&self, utc_ms: i64) -> Parts {
        parts(utc_ms, self.offset_at(utc_ms))
    }

    /// The wall-clock time of `utc_ms` in this zone, as milliseconds on a
    /// UTC-like timeline (what [`parts`] with offset 0 breaks down).
    pub(crate) fn local(&self, utc_ms: i64) -> i64 {
        utc_ms.saturating_add(self.offset_at(utc_ms))
    }

    /// The instant of a local wall-clock time. A time that happens twice
    /// (clocks set back) is its first occurrence; a time skipped by
    /// clocks set forward is read with the offset in force before the
    /// change (02:30 on a spring-forward night in New York is 03:30 EDT),
    /// as timelib, and so MongoDB, does.
    pub(crate) fn instant_of_local(&self, local_ms: i64) -> i64 {
        let TimeZone::Named(_) = self else { return local_ms.saturating_sub(self.offset_at(local_ms)) };
        const DAY: i64 = 86_400_000;
        // Transitions are more than two days apart, so the offsets a day
        // either side of the wall time are the only candidates.
        let before = self.offset_at(local_ms.saturating_sub(DAY));
        let after = self.offset_at(local_ms.saturating_add(DAY));
        let fits = |offset: i64| {
            let utc = local_ms.saturating_sub(offset);
            (self.offset_at(utc) == offset).then_some(utc)
        };
        match (fits(before), fits(after)) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => local_ms.saturating_sub(before),
        }
    }

    /// UTC itself, whose `$dateToString` default format ends in "Z".
    pub(crate) fn is_utc(&self) -> bool {
        matches!(self, TimeZone::Fixed(0))
    }
}

/// A MongoDB time zone string: "UTC"/"GMT", an offset ("+05:30", "-0800",
/// "+03") or an Olson name.
pub(crate) fn parse_timezone(tz: &str) -> Result<TimeZone> {
    if let Some(offset) = parse_fixed_offset(tz) {
        return Ok(TimeZone::Fixed(offset));
    }
    match tz.parse::<chrono_tz::Tz>() {
        Ok(named) => Ok(TimeZone::Named(named)),
        Err(_) => err(codes::L40485, format!("unrecognized time zone identifier: \"{tz}\"")),
    }
}

/// A fixed offset in milliseconds, for the spellings that are not names.
fn parse_fixed_offset(tz: &str) -> Option<i64> {
    match tz {
        "UTC" | "GMT" | "Etc/UTC" | "Etc/GMT" | "Z" => return Some(0),
        _ => {}
    }
    let (sign, rest) = match tz.as_bytes().first() {
        Some(b'+') => (1, &tz[1..]),
        Some(b'-') => (-1, &tz[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !(digits.len() == 2 || digits.len() == 4) {
        return None;
    }
    if rest.contains(':') && !(rest.len() == 5 && rest.as_bytes()[2] == b':') {
        return None;
    }
    let hours: i64 = digits[..2].parse().unwrap_or(99);
    let minutes: i64 = if digits.len() == 4 { digits[2..].parse().unwrap_or(99) } else { 0 };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3_600_000 + minutes * 60_000))
}

/// MongoDB's `coerceToDate`: dates, timestamps and ObjectIds.
pub(crate) fn coerce_to_date(v: &Bson) -> Result<i64> {
    match v {
        Bson::DateTime(d) => Ok(d.timestamp_millis()),
        Bson::Timestamp(t) => Ok(t.time as i64 * 1000),
        Bson::ObjectId(o) => Ok(o.timestamp().timestamp_millis()),
        other => err(
            codes::L16006,
            format!("can't convert from BSON type {} to Date", crate::types::type_name(other)),
        ),
    }
}

pub(crate) const ISO_FORMAT: &str = "%Y-%m-%dT%H:%M:%S.%LZ";
/// `$dateToString`'s default in a zone other than UTC.
pub(crate) const ISO_FORMAT_LOCAL: &str = "%Y-%m-%dT%H:%M:%S.%L";

/// Rejects format strings MongoDB rejects.
pub(crate) fn validate_format(format: &str) -> Result<()> {
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        match chars.next() {
            None => return err(codes::L18535, "Unmatched '%' at end of format string"),
            Some(
                'd' | 'G' | 'H' | 'j' | 'L' | 'm' | 'M' | 'S' | 'w' | 'u' | 'U' | 'V' | 'Y' | 'z' | 'Z' | '%'
                | 'b' | 'B',
            ) => {}
            Some(other) => {
                return err(codes::L18536, format!("Invalid format character '%{other}' in format string"))
            }
        }
    }
    Ok(())
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Formats a timestamp with a (validated) MongoDB format string.
pub(crate) fn format_date(format: &str, millis: i64, offset_ms: i64) -> Result<String> {
    let p = parts(millis, offset_ms);
    let mut out = String::with_capacity(format.len() + 8);
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let spec = chars.next().unwrap_or('%');
        match spec {
            'Y' => {
                if !(0..=9999).contains(&p.year) {
                    return err(
                        codes::L18537,
                        format!("$dateToString is only defined on year 0-9999, tried to use year {}", p.year),
                    );
                }
                out.push_str(&format!("{:04}", p.year));
            }
            'G' => out.push_str(&format!("{:04}", p.iso_week().0)),
            'm' => out.push_str(&format!("{:02}", p.month)),
            'd' => out.push_str(&format!("{:02}", p.day)),
            'H' => out.push_str(&format!("{:02}", p.hour)),
            'M' => out.push_str(&format!("{:02}", p.minute)),
            'S' => out.push_str(&format!("{:02}", p.second)),
            'L' => out.push_str(&format!("{:03}", p.millis)),
            'j' => out.push_str(&format!("{:03}", p.day_of_year)),
            'w' => out.push_str(&p.day_of_week.to_string()),
            'u' => out.push_str(&p.iso_day_of_week().to_string()),
            'U' => out.push_str(&format!("{:02}", p.week())),
            'V' => out.push_str(&format!("{:02}", p.iso_week().1)),
            'z' => {
                let sign = if offset_ms < 0 { '-' } else { '+' };
                let m = offset_ms.abs() / 60_000;
                out.push_str(&format!("{sign}{:02}{:02}", m / 60, m % 60));
            }
            'Z' => {
                let m = offset_ms / 60_000;
                out.push_str(&format!("{}{}", if m < 0 { "-" } else { "+" }, m.abs()));
            }
            'b' => out.push_str(&MONTHS[p.month as usize - 1][..3]),
            'B' => out.push_str(MONTHS[p.month as usize - 1]),
            _ => out.push('%'),
        }
    }
    Ok(out)
}

/// Which part a date expression extracts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DatePart {
    Year,
    Month,
    DayOfMonth,
    Hour,
    Minute,
    Second,
    Millisecond,
    DayOfWeek,
    DayOfYear,
    Week,
    IsoWeek,
    IsoWeekYear,
    IsoDayOfWeek,
}

impl DatePart {
    pub(crate) fn from_name(name: &str) -> Option<DatePart> {
        Some(match name {
            "$year" => DatePart::Year,
            "$month" => DatePart::Month,
            "$dayOfMonth" => DatePart::DayOfMonth,
            "$hour" => DatePart::Hour,
            "$minute" => DatePart::Minute,
            "$second" => DatePart::Second,
            "$millisecond" => DatePart::Millisecond,
            "$dayOfWeek" => DatePart::DayOfWeek,
            "$dayOfYear" => DatePart::DayOfYear,
            "$week" => DatePart::Week,
            "$isoWeek" => DatePart::IsoWeek,
            "$isoWeekYear" => DatePart::IsoWeekYear,
            "$isoDayOfWeek" => DatePart::IsoDayOfWeek,
            _ => return None,
        })
    }

    pub(crate) fn extract(self, millis: i64, tz: &TimeZone) -> Bson {
        let p = tz.parts(millis);
        let v: i64 = match self {
            DatePart::Year => p.year,
            DatePart::Month => p.month as i64,
            DatePart::DayOfMonth => p.day as i64,
            DatePart::Hour => p.hour as i64,
            DatePart::Minute => p.minute as i64,
            DatePart::Second => p.second as i64,
            DatePart::Millisecond => p.millis as i64,
            DatePart::DayOfWeek => p.day_of_week as i64,
            DatePart::DayOfYear => p.day_of_year as i64,
            DatePart::Week => p.week() as i64,
            DatePart::IsoWeek => p.iso_week().1 as i64,
            DatePart::IsoWeekYear => return Bson::Int64(p.iso_week().0),
            DatePart::IsoDayOfWeek => p.iso_day_of_week() as i64,
        };
        Bson::Int32(v as i32)
    }
}

/// The time zone of an optional `timezone` argument; `None` when it
/// evaluated to null (the whole expression is then null).
pub(crate) fn eval_timezone(tz: Option<Value>) -> Result<Option<TimeZone>> {
    match tz {
        None => Ok(Some(TimeZone::UTC)),
        Some(v) if super::nullish(&v) => Ok(None),
        Some(Some(Bson::String(s))) => parse_timezone(&s).map(Some),
        Some(None) => Ok(None),
        Some(Some(other)) => err(
            codes::L40517,
            format!("timezone must evaluate to a string, found {}", crate::types::type_name(&other)),
        ),
    }
}

/// Parses the date strings `$toDate`/`$convert` accept: `YYYY-MM-DD`,
/// optionally followed by `THH:MM[:SS[.fff]]` and `Z` or an offset.
pub(crate) fn parse_date_string(s: &str) -> Option<i64> {
    parse_date_string_with_offset(s).map(|(ms, _)| ms)
}

/// Like [`parse_date_string`], also telling whether the string carried
/// its own offset (a `timezone` argument then does not apply).
pub(crate) fn parse_date_string_with_offset(s: &str) -> Option<(i64, bool)> {
    let mut has_offset = false;
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(0, 4)?, num(5, 2)? as u32, num(8, 2)? as u32);
    if !(1..=12).contains(&m) || d == 0 || d > 31 {
        return None;
    }
    let mut ms = days_from_civil(y, m, d) * 86_400_000;
    let mut i = 10;
    if i < b.len() && (b[i] == b'T' || b[i] == b' ') {
        let (hh, mm) = (num(i + 1, 2)?, num(i + 4, 2)?);
        if b.get(i + 3) != Some(&b':') || hh > 23 || mm > 59 {
            return None;
        }
        ms += hh * 3_600_000 + mm * 60_000;
        i += 6;
        if b.get(i) == Some(&b':') {
            let ss = num(i + 1, 2)?;
            if ss > 59 {
                return None;
            }
            ms += ss * 1000;
            i += 3;
            if b.get(i) == Some(&b'.') {
                let start = i + 1;
                let mut end = start;
                while end < b.len() && b[end].is_ascii_digit() {
                    end += 1;
                }
                if end == start {
                    return None;
                }
                let frac = &s[start..end.min(start + 3)];
                let mut frac_ms: i64 = frac.parse().ok()?;
                for _ in frac.len()..3 {
                    frac_ms *= 10;
                }
                ms += frac_ms;
                i = end;
            }
        }
        if i < b.len() {
            let tz = &s[i..];
            let offset = parse_fixed_offset(tz)?;
            ms -= offset;
            has_offset = true;
            i = b.len();
        }
    }
    if i != b.len() {
        return None;
    }
    Some((ms, has_offset))
}

/// Parses a date string with a `$dateFromString` format (`%Y %m %d %H %M
/// %S %L %j %z %Z %%`); `None` when the string does not fit.
pub(crate) fn parse_with_format(s: &str, format: &str) -> Option<(i64, bool)> {
    let (mut year, mut month, mut day, mut hour, mut minute, mut second, mut millis) =
        (1970i64, 1u32, 1u32, 0i64, 0i64, 0i64, 0i64);
    let mut day_of_year: Option<i64> = None;
    let mut offset: Option<i64> = None;
    let bytes = s.as_bytes();
    let mut pos = 0usize;
    let mut fmt = format.chars();
    let digits = |pos: &mut usize, max: usize| -> Option<i64> {
        let start = *pos;
        while *pos < bytes.len() && *pos - start < max && bytes[*pos].is_ascii_digit() {
            *pos += 1;
        }
        if *pos == start {
            return None;
        }
        s[start..*pos].parse().ok()
    };
    while let Some(c) = fmt.next() {
        if c != '%' {
            if s[pos..].starts_with(c) {
                pos += c.len_utf8();
                continue;
            }
            return None;
        }
        match fmt.next()? {
            'Y' => year = digits(&mut pos, 4)?,
            'm' => month = digits(&mut pos, 2)? as u32,
            'd' => day = digits(&mut pos, 2)? as u32,
            'H' => hour = digits(&mut pos, 2)?,
            'M' => minute = digits(&mut pos, 2)?,
            'S' => second = digits(&mut pos, 2)?,
            'L' => millis = digits(&mut pos, 3)?,
            'j' => day_of_year = Some(digits(&mut pos, 3)?),
            'z' => {
                let rest = &s[pos..];
                let len = rest
                    .find(|ch: char| !(ch == '+' || ch == '-' || ch == ':' || ch.is_ascii_digit()))
                    .unwrap_or(rest.len());
                offset = Some(parse_fixed_offset(&rest[..len])?);
                pos += len;
            }
            'Z' => {
                let sign = match bytes.get(pos)? {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                pos += 1;
                offset = Some(sign * digits(&mut pos, 4)? * 60_000);
            }
            '%' => {
                if bytes.get(pos) != Some(&b'%') {
                    return None;
                }
                pos += 1;
            }
            _ => return None,
        }
    }
    if pos != s.len()
        || !(1..=12).contains(&month)
        || day == 0
        || day > 31
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = match day_of_year {
        Some(doy) => days_from_civil(year, 1, 1) + doy - 1,
        None => days_from_civil(year, month, day),
    };
    let ms =
        days * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000 + millis - offset.unwrap_or(0);
    Some((ms, offset.is_some()))
}

/// The instant of a civil date and time with carries (month 13 is January
/// of the next year, hour 25 the next day), as `$dateFromParts` allows.
pub(crate) fn from_parts(
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    millis: i64,
) -> i64 {
    let months = year * 12 + (month - 1);
    let (y, m) = (months.div_euclid(12), months.rem_euclid(12) + 1);
    let days = days_from_civil(y, m as u32, 1) + (day - 1);
    [days.saturating_mul(86_400_000), hour * 3_600_000, minute * 60_000, second.saturating_mul(1000), millis]
        .into_iter()
        .fold(0i64, i64::saturating_add)
}

/// The instant of an ISO week date (Monday of week 1 contains January 4).
pub(crate) fn from_iso_parts(iso_year: i64, week: i64, dow: i64) -> i64 {
    let jan4 = days_from_civil(iso_year, 1, 4);
    let jan4_dow = parts(jan4 * 86_400_000, 0).iso_day_of_week() as i64;
    let monday = jan4 - (jan4_dow - 1);
    (monday + (week - 1) * 7 + (dow - 1)) * 86_400_000
}

/// `$dateDiff`: how many unit boundaries lie between two instants, each
/// read in the zone. `week_start` is 1 (Sunday) ... 7 (Saturday).
///
/// Hours, minutes and seconds count wall-clock boundaries corrected by
/// the change of offset between the two instants (truncated to the unit,
/// as MongoDB does), so across a daylight-saving change they still count
/// elapsed time, and a zone with a half-hour offset counts its own hours.
pub(crate) fn date_diff(start: i64, end: i64, unit: &str, tz: &TimeZone, week_start: u32) -> Option<i64> {
    let (start_offset, end_offset) = (tz.offset_at(start), tz.offset_at(end));
    let (a, b) = (parts(start, start_offset), parts(end, end_offset));
    let (local_start, local_end) = (start.saturating_add(start_offset), end.saturating_add(end_offset));
    let local_days = |local: i64| local.div_euclid(86_400_000);
    let wall_clock = |unit_ms: i64| {
        local_end.div_euclid(unit_ms) - local_start.div_euclid(unit_ms)
            + (start_offset - end_offset) / unit_ms
    };
    Some(match unit {
        "year" => b.year - a.year,
        "quarter" => (b.year * 4 + (b.month as i64 - 1) / 3) - (a.year * 4 + (a.month as i64 - 1) / 3),
        "month" => (b.year * 12 + b.month as i64) - (a.year * 12 + a.month as i64),
        "week" => {
            week_number(local_days(local_end), week_start) - week_number(local_days(local_start), week_start)
        }
        "day" => local_days(local_end) - local_days(local_start),
        "hour" => wall_clock(3_600_000),
        "minute" => wall_clock(60_000),
        "second" => wall_clock(1000),
        "millisecond" => end.saturating_sub(start),
        _ => return None,
    })
}

/// Weeks since the epoch of a local day, weeks starting on `week_start`
/// (1 = Sunday ... 7 = Saturday).
fn week_number(local_day: i64, week_start: u32) -> i64 {
    // 1970-01-04 (day 3) was a Sunday.
    (local_day - 3 - (week_start as i64 - 1)).div_euclid(7)
}

/// The units of `$dateAdd`, `$dateSubtract`, `$dateTrunc` and `$dateDiff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeUnit {
    Year,
    Quarter,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
}

const DAY_MS: i64 = 86_400_000;

impl TimeUnit {
    pub(crate) fn from_name(name: &str) -> Option<TimeUnit> {
        Some(match name {
            "year" => TimeUnit::Year,
            "quarter" => TimeUnit::Quarter,
            "month" => TimeUnit::Month,
            "week" => TimeUnit::Week,
            "day" => TimeUnit::Day,
            "hour" => TimeUnit::Hour,
            "minute" => TimeUnit::Minute,
            "second" => TimeUnit::Second,
            "millisecond" => TimeUnit::Millisecond,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            TimeUnit::Year => "year",
            TimeUnit::Quarter => "quarter",
            TimeUnit::Month => "month",
            TimeUnit::Week => "week",
            TimeUnit::Day => "day",
            TimeUnit::Hour => "hour",
            TimeUnit::Minute => "minute",
            TimeUnit::Second => "second",
            TimeUnit::Millisecond => "millisecond",
        }
    }

    /// Milliseconds per unit in UTC, for the units of fixed length there
    /// (weeks and below).
    pub(crate) fn fixed_millis(self) -> Option<i64> {
        match self {
            TimeUnit::Week => Some(7 * DAY_MS),
            TimeUnit::Day => Some(DAY_MS),
            unit => unit.elapsed_millis(),
        }
    }

    /// The length of the units that are a fixed number of milliseconds
    /// whatever the zone (hours and below).
    fn elapsed_millis(self) -> Option<i64> {
        Some(match self {
            TimeUnit::Hour => 3_600_000,
            TimeUnit::Minute => 60_000,
            TimeUnit::Second => 1000,
            TimeUnit::Millisecond => 1,
            _ => return None,
        })
    }

    /// MongoDB's bound on a `$dateAdd` amount: roughly what a date can
    /// span, so the arithmetic below cannot overflow before the final check.
    fn max_amount(self) -> i64 {
        const MAX_DAYS: i64 = (u64::MAX / DAY_MS as u64) as i64 + 1;
        const MAX_YEARS: i64 = MAX_DAYS / 365 + 1;
        match self {
            TimeUnit::Year => MAX_YEARS,
            TimeUnit::Quarter => MAX_YEARS * 4,
            TimeUnit::Month => MAX_YEARS * 12,
            TimeUnit::Week => MAX_DAYS / 7,
            TimeUnit::Day => MAX_DAYS,
            TimeUnit::Hour => MAX_DAYS * 24,
            TimeUnit::Minute => MAX_DAYS * 24 * 60,
            TimeUnit::Second => MAX_DAYS * 24 * 60 * 60,
            TimeUnit::Millisecond => i64::MAX,
        }
    }
}

fn date_add_overflowed<T>() -> Result<T> {
    err(codes::L5166406, "dateAdd overflowed")
}

/// `$dateAdd`: `amount` units after `start`. Hours and smaller units are
/// elapsed time; days and larger move the wall clock in the zone and keep
/// its time of day across daylight-saving changes. Months, quarters and
/// years land on the same day of the month, or the month's last day when
/// it is shorter (January 31 + 1 month is February 28 or 29).
pub(crate) fn date_add(start: i64, unit: TimeUnit, amount: i64, tz: &TimeZone) -> Result<i64> {
    if let Some(unit_ms) = unit.elapsed_millis() {
        if unit != TimeUnit::Millisecond && !(-unit.max_amount() < amount && amount < unit.max_amount()) {
            return err(
                codes::L5976500,
                format!("invalid dateAdd 'amount' parameter value: {amount} {}", unit.name()),
            );
        }
        let Some(end) = amount.checked_mul(unit_ms).and_then(|ms| start.checked_add(ms)) else {
            return date_add_overflowed();
        };
        return Ok(end);
    }
    if !(-unit.max_amount() < amount && amount < unit.max_amount()) {
        return err(
            codes::L5976500,
            format!("invalid dateAdd 'amount' parameter value: {amount} {}", unit.name()),
        );
    }
    let local = tz.local(start);
    let days = match unit {
        TimeUnit::Day => amount,
        TimeUnit::Week => amount * 7,
        months_unit => {
            let months = match months_unit {
                TimeUnit::Year => amount * 12,
                TimeUnit::Quarter => amount * 3,
                _ => amount,
            };
            let p = parts(local, 0);
            let total = p.year * 12 + (p.month as i64 - 1) + months;
            let (year, month) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
            let day = p.day.min(days_in_month(year, month));
            days_from_civil(year, month, day) - days_from_civil(p.year, p.month, p.day)
        }
    };
    let Some(moved) = days.checked_mul(DAY_MS).and_then(|ms| local.checked_add(ms)) else {
        return date_add_overflowed();
    };
    Ok(tz.instant_of_local(moved))
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `$dateTrunc`: the start of the `bin_size`-unit bin holding `date`.
/// Bins count from 2000-01-01T00:00 in the zone (for weeks, from the first
/// `week_start` day on or after it), as MongoDB's reference point.
pub(crate) fn date_trunc(
    date: i64,
    unit: TimeUnit,
    bin_size: i64,
    tz: &TimeZone,
    week_start: u32,
) -> Result<i64> {
    const REFERENCE_UTC: i64 = 946_684_800_000; // 2000-01-01T00:00:00Z
    let mut reference = REFERENCE_UTC - tz.offset_at(REFERENCE_UTC);
    if let Some(unit_ms) = unit.elapsed_millis() {
        let Some(bin_ms) = bin_size.checked_mul(unit_ms) else {
            return err(codes::L5439002, "dateTrunc overflowed");
        };
        let Some(shifted) = date.checked_sub(reference) else {
            return err(codes::L5439000, "dateTrunc overflowed");
        };
        return match date.checked_sub(shifted.rem_euclid(bin_ms)) {
            Some(start) => Ok(start),
            None => err(codes::L5439001, "dateTrunc overflowed"),
        };
    }
    if bin_size > 100_000_000_000 {
        return err(codes::L5439006, "dateTrunc unsupported binSize value");
    }
    if unit == TimeUnit::Week {
        // 2000-01-01 was a Saturday (day 7 counting Sunday as 1).
        let days_into_week = (7 + 7 - week_start as i64) % 7;
        // No zone changed its offset in early January 2000.
        reference += (7 - days_into_week) % 7 * DAY_MS;
    }
    let distance =
        date_diff(reference, date, unit.name(), tz, week_start).expect("a calendar unit is a $dateDiff unit");
    date_add(reference, unit, distance - distance.rem_euclid(bin_size), tz)
}

/// The day number (1 = Sunday) of a `startOfWeek` name.
pub(crate) fn day_of_week_number(name: &str) -> Option<u32> {
    Some(match name.to_ascii_lowercase().as_str() {
        "sunday" | "sun" => 1,
        "monday" | "mon" => 2,
        "tuesday" | "tue" => 3,
        "wednesday" | "wed" => 4,
        "thursday" | "thu" => 5,
        "friday" | "fri" => 6,
        "saturday" | "sat" => 7,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaks_down_known_dates() {
        // 2024-02-29T13:45:30.123Z, a Thursday.
        let ms = days_from_civil(2024, 2, 29) * 86_400_000 + 13 * 3_600_000 + 45 * 60_000 + 30_123;
        let p = parts(ms, 0);
        assert_eq!(
            (p.year, p.month, p.day, p.hour, p.minute, p.second, p.millis),
            (2024, 2, 29, 13, 45, 30, 123)
        );
        assert_eq!(p.day_of_week, 5);
        assert_eq!(p.day_of_year, 60);
        assert_eq!(format_date(ISO_FORMAT, ms, 0).unwrap(), "2024-02-29T13:45:30.123Z");
        let before_epoch = parts(-1, 0);
        assert_eq!((before_epoch.year, before_epoch.month, before_epoch.day), (1969, 12, 31));
    }

    #[test]
    fn iso_weeks_cross_year_boundaries() {
        let p = parts(days_from_civil(2021, 1, 1) * 86_400_000, 0);
        assert_eq!(p.iso_week(), (2020, 53));
        let p = parts(days_from_civil(2019, 12, 30) * 86_400_000, 0);
        assert_eq!(p.iso_week(), (2020, 1));
    }

    #[test]
    fn parts_round_trip_and_diffs() {
        let ms = from_parts(2024, 14, 1, 25, 0, 0, 0);
        let p = parts(ms, 0);
        assert_eq!((p.year, p.month, p.day, p.hour), (2025, 2, 2, 1));
        assert_eq!(parts(from_iso_parts(2021, 1, 1), 0).day, 4);
        let a = from_parts(2023, 12, 31, 23, 0, 0, 0);
        let b = from_parts(2024, 1, 1, 1, 0, 0, 0);
        assert_eq!(date_diff(a, b, "year", &TimeZone::UTC, 1), Some(1));
        assert_eq!(date_diff(a, b, "day", &TimeZone::UTC, 1), Some(1));
        assert_eq!(date_diff(a, b, "hour", &TimeZone::UTC, 1), Some(2));
        assert_eq!(
            parse_with_format("14/11/2023 22:13", "%d/%m/%Y %H:%M"),
            Some((from_parts(2023, 11, 14, 22, 13, 0, 0), false))
        );
    }

    #[test]
    fn parses_date_strings() {
        assert_eq!(parse_date_string("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_date_string("1970-01-01T01:00:00.5+01:00"), Some(500));
        assert_eq!(parse_date_string("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_date_string("nope"), None);
    }
}
