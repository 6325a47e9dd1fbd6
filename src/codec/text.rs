//! Cutting strings without splitting a character: every place that shortens a name, label,
//! message or log line goes through [`truncate_bytes`] or [`truncate_chars`], never `&s[..n]`.

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub(crate) fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

/// The first `max` characters of `s` (Go's `string([]rune(s)[:max])`).
pub(crate) fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_character_boundaries() {
        let s = format!("{}é", "a".repeat(57));
        assert_eq!(truncate_bytes(&s, 58), "a".repeat(57));
        assert_eq!(truncate_bytes(&s, 59), s);
        assert_eq!(truncate_bytes("日本", 4), "日");
        assert_eq!(truncate_bytes("", 0), "");
        assert_eq!(truncate_chars("Iñtërnâtiô", 5), "Iñtër");
        assert_eq!(truncate_chars("ab", 5), "ab");
    }
}
