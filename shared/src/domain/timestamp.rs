//! RFC 3339 UTC timestamps at one-second resolution: `2026-11-22T10:00:00Z`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// A point in time, always UTC, always whole seconds; its text form sorts as its time does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

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

    /// Parses any RFC 3339 time (any offset, fractions dropped) into UTC seconds.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parsed = OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|_| "must be an RFC 3339 timestamp, e.g. 2026-11-22T10:00:00Z".to_string())?;
        let year = parsed.to_offset(time::UtcOffset::UTC).year();
        if !(1970..=9999).contains(&year) {
            return Err("must be between the years 1970 and 9999".into());
        }
        Ok(Self(parsed.unix_timestamp()))
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
    }
}
