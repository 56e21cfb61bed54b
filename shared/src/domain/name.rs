//! Human-given names (display names, credential names, role names): bounded, visible, trimmed.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A name is 1..=128 characters after trimming, holding no code point that is invisible, reorders
/// the text around it, or means nothing agreed (see [`NameError::for_char`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Name(String);

/// Why a name was refused. The character classes are checked in this order, so a code point of
/// two classes (every bidirectional control is default-ignorable too) is named by the first.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {} characters", Name::MAX_CHARS)]
    TooLong,
    /// C0 and C1 controls, and the line and paragraph separators.
    #[error("must not contain control characters")]
    ControlCharacter,
    /// Bidirectional formatting controls: they make text read in another order than it is stored
    /// (`invoice\u{202e}fdp.exe` shows as `invoiceexe.pdf`).
    #[error("must not contain the bidirectional control character {}", code_point(.0))]
    BidiControl(char),
    /// Default-ignorable code points: drawn as nothing, so two names that look alike may differ.
    #[error("must not contain the invisible (default-ignorable) character {}", code_point(.0))]
    InvisibleCharacter(char),
    /// Private-use code points: their meaning is agreed privately, and fonts draw them differently.
    #[error("must not contain the private-use character {}", code_point(.0))]
    PrivateUseCharacter(char),
    /// Noncharacters: reserved by Unicode for internal use, never to be interchanged.
    #[error("must not contain the noncharacter {}", code_point(.0))]
    Noncharacter(char),
}

/// `U+XXXX`: how a refused character is named in a message (the character itself may not show).
fn code_point(c: &char) -> String {
    format!("U+{:04X}", u32::from(*c))
}

impl NameError {
    /// Why a name may not hold `c`, if it may not. Member subjects are held to the same rule.
    pub fn for_char(c: char) -> Option<Self> {
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
            Some(Self::ControlCharacter)
        } else if is_bidi_control(c) {
            Some(Self::BidiControl(c))
        } else if is_default_ignorable(c) {
            Some(Self::InvisibleCharacter(c))
        } else if is_private_use(c) {
            Some(Self::PrivateUseCharacter(c))
        } else if is_noncharacter(c) {
            Some(Self::Noncharacter(c))
        } else {
            None
        }
    }
}

/// Unicode's explicit directional formatting characters (UAX #9, Bidi_Control): ALM, LRM, RLM,
/// the embeddings and overrides, and the isolates.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The `Default_Ignorable_Code_Point` property: the ranges of Unicode 16.0's
/// DerivedCoreProperties.txt, sorted (unassigned code points in the ranges included, as there).
/// `unicode-security` holds the same table but does not export it.
const DEFAULT_IGNORABLE: [(char, char); 22] = [
    ('\u{00ad}', '\u{00ad}'),   // SOFT HYPHEN
    ('\u{034f}', '\u{034f}'),   // COMBINING GRAPHEME JOINER
    ('\u{061c}', '\u{061c}'),   // ARABIC LETTER MARK
    ('\u{115f}', '\u{1160}'),   // HANGUL CHOSEONG FILLER..HANGUL JUNGSEONG FILLER
    ('\u{17b4}', '\u{17b5}'),   // KHMER VOWEL INHERENT AQ..KHMER VOWEL INHERENT AA
    ('\u{180b}', '\u{180f}'),   // MONGOLIAN FREE VARIATION SELECTORS, MONGOLIAN VOWEL SEPARATOR
    ('\u{200b}', '\u{200f}'),   // ZERO WIDTH SPACE..RIGHT-TO-LEFT MARK
    ('\u{202a}', '\u{202e}'),   // LEFT-TO-RIGHT EMBEDDING..RIGHT-TO-LEFT OVERRIDE
    ('\u{2060}', '\u{206f}'),   // WORD JOINER..NOMINAL DIGIT SHAPES (U+2065 reserved)
    ('\u{3164}', '\u{3164}'),   // HANGUL FILLER
    ('\u{fe00}', '\u{fe0f}'),   // VARIATION SELECTOR-1..VARIATION SELECTOR-16
    ('\u{feff}', '\u{feff}'),   // ZERO WIDTH NO-BREAK SPACE (BOM)
    ('\u{ffa0}', '\u{ffa0}'),   // HALFWIDTH HANGUL FILLER
    ('\u{fff0}', '\u{fff8}'),   // reserved
    ('\u{1bca0}', '\u{1bca3}'), // SHORTHAND FORMAT LETTER OVERLAP..SHORTHAND FORMAT UP STEP
    ('\u{1d173}', '\u{1d17a}'), // MUSICAL SYMBOL BEGIN BEAM..MUSICAL SYMBOL END PHRASE
    ('\u{e0000}', '\u{e0000}'), // reserved
    ('\u{e0001}', '\u{e0001}'), // LANGUAGE TAG
    ('\u{e0002}', '\u{e001f}'), // reserved
    ('\u{e0020}', '\u{e007f}'), // TAG SPACE..CANCEL TAG
    ('\u{e0080}', '\u{e00ff}'), // reserved
    ('\u{e0100}', '\u{e0fff}'), // VARIATION SELECTOR-17..VARIATION SELECTOR-256, then reserved
];

fn is_default_ignorable(c: char) -> bool {
    DEFAULT_IGNORABLE
        .binary_search_by(|&(low, high)| {
            if high < c {
                std::cmp::Ordering::Less
            } else if low > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// General_Category Co: the BMP's Private Use Area and planes 15 and 16 (their last two code
/// points, U+xxFFFE and U+xxFFFF, are noncharacters and refused as such).
fn is_private_use(c: char) -> bool {
    matches!(c, '\u{e000}'..='\u{f8ff}' | '\u{f0000}'..='\u{ffffd}' | '\u{100000}'..='\u{10fffd}')
}

/// The 66 noncharacters: U+FDD0..U+FDEF, and the last two code points of every plane.
fn is_noncharacter(c: char) -> bool {
    matches!(c, '\u{fdd0}'..='\u{fdef}') || (u32::from(c) & 0xfffe) == 0xfffe
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
        if let Some(refusal) = trimmed.chars().find_map(NameError::for_char) {
            return Err(refusal);
        }
        Ok(Self(trimmed.to_string()))
    }

    /// The closest name to `text`: its disallowed characters dropped and the rest cut to
    /// [`Name::MAX_CHARS`]; `None` when nothing is left.
    pub fn lossy(text: &str) -> Option<Self> {
        let kept: String = text.trim().chars().filter(|&c| NameError::for_char(c).is_none()).collect();
        Self::parse(&kept.trim().chars().take(Self::MAX_CHARS).collect::<String>()).ok()
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
        assert_eq!(Name::parse("a\u{85}b"), Err(NameError::ControlCharacter));
        assert_eq!(Name::parse("a\u{2028}b"), Err(NameError::ControlCharacter));
    }

    #[test]
    fn bidirectional_controls_are_refused() {
        for c in ['\u{061c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}']
            .into_iter()
            .chain(['\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}'])
        {
            assert_eq!(Name::parse(&format!("evil{c}txt")), Err(NameError::BidiControl(c)), "{:04X}", u32::from(c));
        }
        assert_eq!(
            NameError::BidiControl('\u{202e}').to_string(),
            "must not contain the bidirectional control character U+202E"
        );
    }

    #[test]
    fn invisible_characters_are_refused() {
        let invisible = [
            '\u{00ad}',
            '\u{034f}',
            '\u{115f}',
            '\u{1160}',
            '\u{17b4}',
            '\u{180b}',
            '\u{180e}',
            '\u{180f}',
            '\u{200b}',
            '\u{200c}',
            '\u{200d}',
            '\u{2060}',
            '\u{2061}',
            '\u{2064}',
            '\u{2065}',
            '\u{206a}',
            '\u{206f}',
            '\u{3164}',
            '\u{fe00}',
            '\u{fe0f}',
            '\u{feff}',
            '\u{ffa0}',
            '\u{fff0}',
            '\u{1bca0}',
            '\u{1d173}',
            '\u{e0000}',
            '\u{e0001}',
            '\u{e0041}',
            '\u{e007f}',
            '\u{e0100}',
            '\u{e01ef}',
            '\u{e0fff}',
        ];
        for c in invisible {
            assert_eq!(Name::parse(&format!("a{c}b")), Err(NameError::InvisibleCharacter(c)), "{:04X}", u32::from(c));
        }
        // A name that is nothing but an invisible character (it is no white space: trim keeps it).
        assert_eq!(Name::parse("\u{200b}"), Err(NameError::InvisibleCharacter('\u{200b}')));
        assert_eq!(
            NameError::InvisibleCharacter('\u{200b}').to_string(),
            "must not contain the invisible (default-ignorable) character U+200B"
        );
    }

    #[test]
    fn private_use_characters_are_refused() {
        for c in ['\u{e000}', '\u{f8ff}', '\u{f0000}', '\u{ffffd}', '\u{100000}', '\u{10fffd}'] {
            assert_eq!(Name::parse(&format!("a{c}b")), Err(NameError::PrivateUseCharacter(c)), "{:04X}", u32::from(c));
        }
    }

    #[test]
    fn noncharacters_are_refused() {
        for c in ['\u{fdd0}', '\u{fdef}', '\u{fffe}', '\u{ffff}', '\u{1fffe}', '\u{1ffff}', '\u{efffe}']
            .into_iter()
            .chain(['\u{ffffe}', '\u{fffff}', '\u{10fffe}', '\u{10ffff}'])
        {
            assert_eq!(Name::parse(&format!("a{c}b")), Err(NameError::Noncharacter(c)), "{:04X}", u32::from(c));
        }
    }

    #[test]
    fn the_neighbours_of_each_refused_range_are_names() {
        // Visible characters just outside the ranges: the tables are not off by one.
        for text in ["a\u{00ac}b", "\u{115e}", "\u{1161}", "\u{200a}x", "\u{2010}", "\u{205f}x", "\u{2070}", "\u{f900}"]
            .into_iter()
            .chain([
                "\u{fdcf}",
                "\u{fdf0}",
                "\u{fffd}",
                "\u{1bc9f}",
                "\u{1d172}",
                "\u{1d17b}",
                "\u{1fffd}",
                "\u{e1000}",
            ])
        {
            assert!(Name::parse(text).is_ok(), "{text:?}: {:?}", Name::parse(text));
        }
        // Names people write: accents, other scripts, emoji (with ZWJ sequences refused).
        for text in ["Zoë's key", "ключ", "鍵", "مفتاح", "deploy 🚀"] {
            assert!(Name::parse(text).is_ok(), "{text:?}");
        }
        assert!(Name::parse("👩\u{200d}💻").is_err(), "a ZWJ sequence holds an invisible joiner");
    }

    #[test]
    fn the_default_ignorable_table_is_sorted_and_disjoint() {
        for window in DEFAULT_IGNORABLE.windows(2) {
            let ((low, high), (next, _)) = (window[0], window[1]);
            assert!(low <= high && high < next, "{window:?}");
        }
    }

    #[test]
    fn a_lossy_name_drops_every_refused_character() {
        assert_eq!(Name::lossy("a\u{202e}b\u{200b}c\u{e000}d\u{fffe}e").unwrap().as_str(), "abcde");
        assert_eq!(Name::lossy("\u{202e}\u{200b}"), None);
    }
}
