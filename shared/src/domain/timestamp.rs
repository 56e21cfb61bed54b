//! RFC 3339 UTC timestamps at one-second resolution: `2026-11-22T10:00:00Z`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// A point in time, always UTC, always whole seconds; its text form sorts as its time does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// 9999-12-31T23:59:59Z.
const MAX_UNIX: i64 = 253_402_300_799;

impl Timestamp {
    /// From seconds since the Unix epoch.
    pub fn from_unix(seconds: i64) -> Self {
        Self(seconds)
    }

    /// The system's now (services use `Clock::now`, which tests can move).
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc().unix_timestamp())
    }

    /// Seconds since the Unix epoch.
    pub fn unix(self) -> i64 {
        self.0
    }

    /// This time plus `seconds`.
    pub fn plus_seconds(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds))
    }

    /// Parses an RFC 3339 time, `YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm)` with an upper-case `T`
    /// and `Z` and seconds 00-59 (the form the OpenAPI document states), into UTC seconds; fractions
    /// are dropped. It must fall between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    pub fn parse(text: &str) -> Result<Self, String> {
        let refused = || "must be an RFC 3339 timestamp, e.g. 2026-11-22T10:00:00Z".to_string();
        if !Self::strict_shape(text.as_bytes()) {
            return Err(refused());
        }
        let unix = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| refused())?.unix_timestamp();
        if !(0..=MAX_UNIX).contains(&unix) {
            return Err("must be between the years 1970 and 9999 (UTC)".into());
        }
        Ok(Self(unix))
    }

    /// The shape the `time` crate's RFC 3339 parser leaves open: `T` (it takes any byte) and `Z`
    /// upper-case, seconds below 60 (it takes leap seconds), digits where digits belong.
    fn strict_shape(b: &[u8]) -> bool {
        let digits = |range: std::ops::Range<usize>| b.get(range).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
        let head = b.len() >= 20
            && digits(0..4)
            && b[4] == b'-'
            && digits(5..7)
            && b[7] == b'-'
            && digits(8..10)
            && b[10] == b'T'
            && digits(11..13)
            && b[13] == b':'
            && digits(14..16)
            && b[16] == b':'
            && digits(17..19)
            && b[17] < b'6';
        if !head {
            return false;
        }
        let mut rest = &b[19..];
        if let Some(fraction) = rest.strip_prefix(b".") {
            let n = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return false;
            }
            rest = &fraction[n..];
        }
        match rest {
            b"Z" => true,
            [sign, h1, h2, b':', m1, m2] => {
                matches!(sign, b'+' | b'-') && [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit())
            }
            _ => false,
        }
    }

    fn datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.0).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// The hour this time falls in, `2026-11-22T10`: the expiry index's bucket.
    pub fn hour_bucket(self) -> String {
        let fmt = format_description!("[year]-[month]-[day]T[hour]");
        self.datetime().format(&fmt).unwrap_or_default()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        f.write_str(&self.datetime().format(&fmt).map_err(|_| fmt::Error)?)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_utc_seconds_and_parses_any_offset() {
        let t = Timestamp::parse("2026-11-22T11:00:00.75+01:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-22T10:00:00Z");
        assert_eq!(t.hour_bucket(), "2026-11-22T10");
    }

    #[test]
    fn refuses_what_is_not_rfc_3339() {
        assert!(Timestamp::parse("2026-11-22").is_err());
        assert!(Timestamp::parse("tomorrow").is_err());
        assert!(Timestamp::parse("0001-01-01T00:00:00Z").is_err());
        // The shape the OpenAPI document states: upper-case T and Z, seconds below 60.
        for text in ["2026-11-22t10:00:00Z", "2026-11-22 10:00:00Z", "2026-11-22\u{1}10:00:00Z", "2026-11-22T10:00:00z"]
        {
            assert!(Timestamp::parse(text).is_err(), "{text}");
        }
        assert!(Timestamp::parse("2026-12-31T23:59:60Z").is_err());
        assert!(Timestamp::parse("2026-11-22T10:00:00.Z").is_err());
        assert!(Timestamp::parse("2026-11-22T10:00:00+0100").is_err());
    }

    #[test]
    fn the_range_holds_in_utc_whatever_the_offset() {
        // Found in review: a late year-9999 time with a negative offset made `to_offset` panic.
        assert!(Timestamp::parse("9999-12-31T23:30:00-01:00").is_err());
        assert!(Timestamp::parse("1970-01-01T00:30:00+01:00").is_err());
        assert_eq!(Timestamp::parse("9999-12-31T23:59:59Z").unwrap().unix(), MAX_UNIX);
        assert_eq!(Timestamp::parse("1970-01-01T01:00:00+01:00").unwrap().unix(), 0);
    }
}
