//! Human-given names (display names, credential names): bounded, printable, trimmed.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A name is 1..=128 characters after trimming, with no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Name(String);

/// Why a name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {} characters", Name::MAX_CHARS)]
    TooLong,
    #[error("must not contain control characters")]
    ControlCharacter,
}

impl Name {
    /// The longest name accepted, in characters.
    pub const MAX_CHARS: usize = 128;

    /// Trims surrounding white space, then checks length and characters.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(NameError::TooLong);
        }
        if trimmed.chars().any(Self::disallowed) {
            return Err(NameError::ControlCharacter);
        }
        Ok(Self(trimmed.to_string()))
    }

    /// The closest name to `text`: its disallowed characters dropped and the rest cut to
    /// [`Name::MAX_CHARS`]; `None` when nothing is left.
    pub fn lossy(text: &str) -> Option<Self> {
        let kept: String = text.trim().chars().filter(|&c| !Self::disallowed(c)).collect();
        Self::parse(&kept.trim().chars().take(Self::MAX_CHARS).collect::<String>()).ok()
    }

    fn disallowed(c: char) -> bool {
        c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(Name::parse("  ci deploy ").unwrap().as_str(), "ci deploy");
        assert_eq!(Name::parse("   "), Err(NameError::Empty));
        assert_eq!(Name::parse(&"x".repeat(129)), Err(NameError::TooLong));
        assert!(Name::parse(&"é".repeat(128)).is_ok());
        assert_eq!(Name::parse("a\u{0}b"), Err(NameError::ControlCharacter));
        assert_eq!(Name::parse("a\nb"), Err(NameError::ControlCharacter));
        assert_eq!(Name::parse("evil\u{202e}txt"), Err(NameError::ControlCharacter));
    }
}
