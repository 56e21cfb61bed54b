//! What an API-key principal's policy adds to its roles: the addresses its calls may come from
//! (`allowedCidrs`) and how many calls it may make (`rateLimit`). Both follow the principal into
//! the access tokens exchanged from its keys.

use std::net::IpAddr;
use std::ops::RangeInclusive;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{FieldError, Timestamp};

/// At most `limit` calls in each window of `period_seconds`. Windows are fixed and aligned to the
/// unix epoch, so every container agrees on which window a call falls in and when it resets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    pub limit: u32,
    pub period_seconds: u32,
}

/// One window of a [`RateLimit`]: its number (since the epoch) and when the next begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    pub index: i64,
    pub resets_at: i64,
}

impl RateLimit {
    /// Accepted `limit`s.
    pub const LIMIT_RANGE: RangeInclusive<i64> = 1..=1_000_000;
    /// Accepted `periodSeconds`: a second to a day.
    pub const PERIOD_RANGE: RangeInclusive<i64> = 1..=86_400;

    /// The window `now` falls in.
    pub fn window(&self, now: Timestamp) -> Window {
        let period = i64::from(self.period_seconds.max(1));
        let index = now.unix().div_euclid(period);
        Window { index, resets_at: (index + 1) * period }
    }

    /// Parses a body's `rateLimit` object (`field` names it in errors): both members integers in
    /// their ranges, nothing else.
    pub fn parse(field: &str, value: &Value, errors: &mut Vec<FieldError>) -> Option<Self> {
        let Some(object) = value.as_object() else {
            errors.push(FieldError::new(field, "must be {\"limit\": n, \"periodSeconds\": s} or null"));
            return None;
        };
        let mut member = |name: &str, range: RangeInclusive<i64>| {
            let parsed = object.get(name).and_then(|v| v.as_i64().or_else(|| whole(v)));
            match parsed {
                Some(n) if range.contains(&n) => Some(n as u32),
                _ => {
                    let message = format!("must be an integer from {} to {}", range.start(), range.end());
                    errors.push(FieldError::new(format!("{field}.{name}"), message));
                    None
                }
            }
        };
        let limit = member("limit", Self::LIMIT_RANGE);
        let period_seconds = member("periodSeconds", Self::PERIOD_RANGE);
        for unknown in object.keys().filter(|k| *k != "limit" && *k != "periodSeconds") {
            errors.push(FieldError::new(format!("{field}.{unknown}"), "is not a known field"));
        }
        Some(Self { limit: limit?, period_seconds: period_seconds? })
    }
}

/// `900.0` counts as an integer, as JSON Schema counts one.
fn whole(value: &Value) -> Option<i64> {
    value.as_f64().filter(|f| f.fract() == 0.0 && f.abs() <= 9.0e15).map(|f| f as i64)
}

/// The most entries an allowlist holds.
pub const MAX_ALLOWED_CIDRS: usize = 50;

/// Parses a body's `allowedCidrs`: IPv4 and IPv6 networks in CIDR notation, without host bits
/// (`10.0.0.1/8` is refused, naming `10.0.0.0/8`), at most [`MAX_ALLOWED_CIDRS`]; a repeated entry
/// is kept once. Each bad entry is named by its index.
pub fn parse_allowed_cidrs(texts: &[String], errors: &mut Vec<FieldError>) -> Vec<IpNet> {
    if texts.len() > MAX_ALLOWED_CIDRS {
        errors.push(FieldError::new("allowedCidrs", format!("must hold at most {MAX_ALLOWED_CIDRS} networks")));
        return Vec::new();
    }
    let mut nets: Vec<IpNet> = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let field = format!("allowedCidrs[{i}]");
        match text.parse::<IpNet>() {
            Ok(net) if net.trunc() != net => {
                errors.push(FieldError::new(field, format!("{text} has host bits set: the network is {}", net.trunc())))
            }
            Ok(net) if !nets.contains(&net) => nets.push(net),
            Ok(_) => {}
            Err(_) if text.parse::<IpAddr>().is_ok() => {
                let suffix = if text.contains(':') { 128 } else { 32 };
                errors.push(FieldError::new(
                    field,
                    format!("{text} is an address, not a network: write {text}/{suffix}"),
                ));
            }
            Err(_) => errors.push(FieldError::new(
                field,
                format!("{text:?} is not an IPv4 or IPv6 network in CIDR notation, such as 203.0.113.0/24"),
            )),
        }
    }
    nets
}

/// Whether a call from `source` passes `allowed` (empty: any address). A call without a source
/// address passes only an empty list. An IPv4-mapped IPv6 address is judged as its IPv4 address.
pub fn ip_allowed(allowed: &[IpNet], source: Option<IpAddr>) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let Some(ip) = source else { return false };
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    allowed.iter().any(|net| net.contains(&ip))
}

/// The allowlist in words, for a refusal's detail and `/authorize`.
pub fn describe_cidrs(allowed: &[IpNet]) -> String {
    allowed.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cidrs(texts: &[&str]) -> (Vec<IpNet>, Vec<FieldError>) {
        let mut errors = Vec::new();
        let texts: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
        (parse_allowed_cidrs(&texts, &mut errors), errors)
    }

    #[test]
    fn networks_parse_and_repeats_are_kept_once() {
        let (nets, errors) = cidrs(&["127.0.0.1/32", "2001:db8::/32", "127.0.0.1/32"]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(nets.len(), 2);
    }

    #[test]
    fn each_bad_entry_is_named_with_what_would_be_right() {
        let (_, errors) = cidrs(&["10.0.0.1/8", "203.0.113.7", "::1", "here", "10.0.0.0/33"]);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["allowedCidrs[0]", "allowedCidrs[1]", "allowedCidrs[2]", "allowedCidrs[3]", "allowedCidrs[4]"]
        );
        assert!(errors[0].message.contains("10.0.0.0/8"), "{}", errors[0].message);
        assert!(errors[1].message.contains("203.0.113.7/32"), "{}", errors[1].message);
        assert!(errors[2].message.contains("::1/128"), "{}", errors[2].message);
    }

    #[test]
    fn an_allowlist_holds_at_most_its_maximum() {
        let many: Vec<String> = (0..=MAX_ALLOWED_CIDRS).map(|i| format!("10.0.{i}.0/24")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let (_, errors) = cidrs(&refs);
        assert_eq!(errors.len(), 1);
        let (nets, errors) = cidrs(&refs[..MAX_ALLOWED_CIDRS]);
        assert!(errors.is_empty());
        assert_eq!(nets.len(), MAX_ALLOWED_CIDRS);
    }

    #[test]
    fn an_empty_list_allows_any_address_and_a_missing_one_passes_only_that() {
        let (nets, _) = cidrs(&["127.0.0.1/32"]);
        assert!(ip_allowed(&[], None));
        assert!(ip_allowed(&nets, Some("127.0.0.1".parse().unwrap())));
        assert!(!ip_allowed(&nets, Some("127.0.0.2".parse().unwrap())));
        assert!(!ip_allowed(&nets, None));
        assert!(ip_allowed(&nets, Some("::ffff:127.0.0.1".parse().unwrap())), "IPv4-mapped is the IPv4 address");
    }

    #[test]
    fn a_rate_limit_parses_within_its_ranges() {
        let mut errors = Vec::new();
        let parsed = RateLimit::parse("rateLimit", &json!({"limit": 5, "periodSeconds": 60.0}), &mut errors);
        assert_eq!(parsed, Some(RateLimit { limit: 5, period_seconds: 60 }));
        for (bad, field) in [
            (json!({"limit": 0, "periodSeconds": 60}), "rateLimit.limit"),
            (json!({"limit": 5, "periodSeconds": 86_401}), "rateLimit.periodSeconds"),
            (json!({"limit": 5}), "rateLimit.periodSeconds"),
            (json!({"limit": 5, "periodSeconds": 60, "burst": 1}), "rateLimit.burst"),
            (json!(5), "rateLimit"),
        ] {
            let mut errors = Vec::new();
            RateLimit::parse("rateLimit", &bad, &mut errors);
            assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), [field], "{bad}");
        }
        assert_eq!(*RateLimit::LIMIT_RANGE.end(), 1_000_000);
        assert_eq!(*RateLimit::PERIOD_RANGE.end(), 86_400);
    }

    #[test]
    fn windows_are_aligned_to_the_epoch() {
        let limit = RateLimit { limit: 5, period_seconds: 60 };
        let w = limit.window(Timestamp::from_unix(1_800_000_059));
        assert_eq!(w.resets_at, 1_800_000_060);
        assert_eq!(limit.window(Timestamp::from_unix(1_800_000_060)).index, w.index + 1);
    }
}
