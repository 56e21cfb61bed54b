//! How request bodies spell values: the three states of a PATCH field, integers as JSON counts them.

use serde::{Deserialize, Deserializer};

/// A PATCH field: absent (leave it), `null` (clear it) or a value (set it).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            None => Self::Null,
            Some(v) => Self::Value(v),
        })
    }
}

/// An optional integer as JSON (and JSON Schema) counts one: `900` or `900.0`, not `900.5`.
pub fn json_integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(d)? else { return Ok(None) };
    number
        .as_i64()
        .or_else(|| number.as_f64().filter(|f| f.fract() == 0.0 && f.abs() <= 9.0e15).map(|f| f as i64))
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("invalid value: {number}, expected an integer in range")))
}

/// A PATCH field holding an integer as JSON counts one (see [`json_integer`]): `null` clears it.
/// Absent needs `#[serde(default)]` beside it.
pub fn json_integer_patch<'de, D: Deserializer<'de>>(d: D) -> Result<Patch<i64>, D::Error> {
    Ok(match json_integer(d)? {
        None => Patch::Null,
        Some(value) => Patch::Value(value),
    })
}
