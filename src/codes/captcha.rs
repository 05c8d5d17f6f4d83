//! The image captcha: 4 characters a person can read, as a PNG.

use captcha::filters::{Dots, Noise, Wave};
use captcha::Captcha;

/// Characters that are easy to tell apart (no 0/O/o, 1/l/I, 5/S, 2/Z, 8/B, …).
const READABLE: &[char] = &[
    '3', '4', '6', '7', '8', '9', 'a', 'b', 'd', 'e', 'f', 'h', 'k', 'm', 'n', 'p', 'r', 't', 'w',
    'x', 'y', 'A', 'D', 'E', 'F', 'G', 'H', 'K', 'M', 'N', 'P', 'R', 'T', 'W', 'X', 'Y',
];

pub const LENGTH: usize = 4;

/// A fresh captcha: its text and the PNG showing it. CPU work: call off the executor.
pub fn generate() -> Option<(String, Vec<u8>)> {
    let mut c = Captcha::new();
    let chars: Vec<char> = c
        .supported_chars()
        .into_iter()
        .filter(|ch| READABLE.contains(ch))
        .collect();
    c.set_chars(&chars)
        .add_chars(LENGTH as u32)
        .apply_filter(Noise::new(0.05))
        .apply_filter(Wave::new(2.0, 8.0))
        .view(220, 76)
        .apply_filter(Dots::new(4));
    let (text, png) = c.as_tuple()?;
    (text.chars().count() == LENGTH).then_some((text, png))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_captcha_has_four_readable_characters_and_is_a_png() {
        let (text, png) = super::generate().unwrap();
        assert_eq!(text.chars().count(), super::LENGTH);
        assert!(text.chars().all(|c| super::READABLE.contains(&c)), "{text}");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}
