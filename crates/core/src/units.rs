//! Sizes and durations as people type and read them.

use std::time::Duration;

const KIB: f64 = 1024.0;

/// Parses `8589934592`, `8GiB`, `512MiB`, `100MB`, `64k` into bytes.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 =
        number.parse().map_err(|_| format!("{text:?} is not a size: write bytes, or e.g. 8GiB, 512MiB"))?;
    let multiplier: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "ki" | "kib" => KIB,
        "mi" | "mib" => KIB * KIB,
        "gi" | "gib" => KIB * KIB * KIB,
        "ti" | "tib" => KIB * KIB * KIB * KIB,
        other => return Err(format!("unknown size unit {other:?}: use B, KiB, MiB, GiB, KB, MB or GB")),
    };
    Ok((number * multiplier).round() as u64)
}

/// Parses `60s`, `2m`, `1m30s`, `500ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration ({e}): write e.g. 5s, 2m, 500ms"))
}

/// `1.5 GiB`, `812.0 MiB`, `4.0 KiB`, `512 B`.
pub fn format_bytes(bytes: u64) -> String {
    let value = bytes as f64;
    if value < KIB {
        return format!("{bytes} B");
    }
    let units = ["KiB", "MiB", "GiB", "TiB"];
    let mut scaled = value / KIB;
    let mut unit = 0;
    while scaled >= KIB && unit + 1 < units.len() {
        scaled /= KIB;
        unit += 1;
    }
    format!("{scaled:.1} {}", units[unit])
}

/// The most characters of outside text [`safe_text`] shows; what is longer is cut with a marker.
pub const SAFE_TEXT_MAX_CHARS: usize = 1024;

/// Text from outside (what the API, a host or etcd said: names, messages, CSR subjects,
/// errors) fit for a terminal, a table or a log line. The one way such text reaches them:
/// control characters and invisible direction or width marks are shown escaped (ESC as
/// `\e`, a newline as `\n`, others as `\x07` or `\u{202e}`), never raw, so no escape
/// sequence reaches the terminal; past [`SAFE_TEXT_MAX_CHARS`] it is cut, and the marker
/// says how many bytes were cut.
pub fn safe_text(text: &str) -> String {
    safe_text_within(text, SAFE_TEXT_MAX_CHARS)
}

/// [`safe_text`] cut at `max_chars` shown characters (escapes count as what they show).
pub fn safe_text_within(text: &str, max_chars: usize) -> String {
    let mut shown = String::with_capacity(text.len().min(max_chars.saturating_add(32)));
    let mut count = 0usize;
    for (at, c) in text.char_indices() {
        let escaped = escape_char(c);
        let width = escaped.as_ref().map_or(1, |e| e.chars().count());
        if count.saturating_add(width) > max_chars {
            shown.push_str(&format!("…[{} bytes cut]", text.len() - at));
            return shown;
        }
        count += width;
        match escaped {
            Some(e) => shown.push_str(&e),
            None => shown.push(c),
        }
    }
    shown
}

/// Lines of ours that may carry outside text, at the last step before a terminal: every
/// character [`safe_text`] escapes but the newlines that end or separate the lines is written
/// `\u001b` (the form JSON reads back as the same character, so a JSON line stays the same
/// JSON); nothing is cut. Text already safe comes back as it is. Text that went through
/// [`safe_text`] first shows its escapes as that writes them (`\e`); this is the guard behind it.
pub fn safe_lines(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && is_unsafe_char(c)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c != '\n' && is_unsafe_char(c) {
            // Every such character is in the Basic Multilingual Plane: four hex digits.
            shown.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            shown.push(c);
        }
    }
    std::borrow::Cow::Owned(shown)
}

/// A character [`safe_text`] never lets through as it is: a control character, or an
/// invisible mark that changes the direction or width of what follows.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

fn escape_char(c: char) -> Option<String> {
    if !is_unsafe_char(c) {
        return None;
    }
    match c {
        '\n' => Some("\\n".into()),
        '\r' => Some("\\r".into()),
        '\t' => Some("\\t".into()),
        '\u{1b}' => Some("\\e".into()),
        c if (c as u32) < 0x100 => Some(format!("\\x{:02x}", c as u32)),
        c => Some(format!("\\u{{{:x}}}", c as u32)),
    }
}

/// `0s`, `42s`, `3m05s`, `2h10m`: compact ages for narrow columns.
pub fn format_age(age: Duration) -> String {
    let secs = age.as_secs();
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{:02}s", secs / 60, secs % 60),
        3600..=172_799 => format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60),
        _ => format!("{}d{:02}h", secs / 86_400, (secs % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_binary_and_decimal_units() {
        assert_eq!(parse_bytes("8GiB"), Ok(8 * 1024 * 1024 * 1024));
        assert_eq!(parse_bytes("8589934592"), Ok(8_589_934_592));
        assert_eq!(parse_bytes("100MB"), Ok(100_000_000));
        assert_eq!(parse_bytes("1.5 KiB"), Ok(1536));
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("5 parsecs").is_err());
    }

    #[test]
    fn durations_read_like_etcdctl() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn formatting_is_compact() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(3 * 1024 * 1024 / 2), "1.5 MiB");
        assert_eq!(format_bytes(8 * 1024 * 1024 * 1024), "8.0 GiB");
        assert_eq!(format_age(Duration::from_secs(185)), "3m05s");
        assert_eq!(format_age(Duration::from_secs(7260)), "2h01m");
    }

    #[test]
    fn outside_text_shows_escapes_and_never_carries_them() {
        assert_eq!(safe_text("system:node:\u{1b}[2Jx\nO=evil\t\u{7}"), "system:node:\\e[2Jx\\nO=evil\\t\\x07");
        assert_eq!(safe_text("a\u{202e}b\u{9b}c"), "a\\u{202e}b\\x9bc");
        assert_eq!(safe_text("master-0 ünïcode"), "master-0 ünïcode");
        let long = "a".repeat(10_000);
        let shown = safe_text(&long);
        assert_eq!(shown, format!("{}…[{} bytes cut]", "a".repeat(SAFE_TEXT_MAX_CHARS), 10_000 - SAFE_TEXT_MAX_CHARS));
        let cut = safe_text_within("\u{1b}\u{1b}\u{1b}", 5);
        assert_eq!(cut, "\\e\\e…[1 bytes cut]", "an escape is never cut in half");
        assert!(!cut.chars().any(char::is_control));
    }

    #[test]
    fn whole_lines_keep_their_newlines_and_escape_the_rest_uncut() {
        let table = format!("NAME  MESSAGE\nop-1  {}\x1b]0;pwned\x07\rdone\u{202e}\n", "x".repeat(2000));
        let shown = safe_lines(&table);
        let expected = format!("NAME  MESSAGE\nop-1  {}\\u001b]0;pwned\\u0007\\u000ddone\\u202e\n", "x".repeat(2000));
        assert_eq!(shown, expected);
        // JSON (serde leaves C1 controls and direction marks as they are) stays the same JSON.
        let value = serde_json::json!({"message": "\u{9b}31m\u{202e}\u{1b}[2J", "n": 1});
        for text in [value.to_string(), serde_json::to_string_pretty(&value).unwrap_or_default()] {
            let safe = safe_lines(&text);
            assert!(!safe.chars().any(|c| c != '\n' && is_unsafe_char(c)), "{safe}");
            assert_eq!(serde_json::from_str::<serde_json::Value>(&safe).ok(), Some(value.clone()));
        }
        assert!(matches!(safe_lines("plain\nlines\n"), std::borrow::Cow::Borrowed(_)));
    }
}

/// At most six characters for table cells: `512B`, `12.3K`, `40.0M`, `812M`, `1.50G`.
pub fn format_bytes_short(bytes: u64) -> String {
    let value = bytes as f64;
    let (scaled, unit) = match bytes {
        0..1024 => return format!("{bytes}B"),
        1024..1_048_576 => (value / KIB, "K"),
        1_048_576..1_073_741_824 => (value / (KIB * KIB), "M"),
        _ => (value / (KIB * KIB * KIB), "G"),
    };
    match scaled {
        s if s < 10.0 && unit == "G" => format!("{s:.2}{unit}"),
        s if s < 100.0 => format!("{s:.1}{unit}"),
        s => format!("{s:.0}{unit}"),
    }
}

#[cfg(test)]
mod short_tests {
    use super::format_bytes_short;

    #[test]
    fn short_sizes_fit_six_characters() {
        for (bytes, text) in
            [(512, "512B"), (12_595, "12.3K"), (40 << 20, "40.0M"), (812 << 20, "812M"), (3 << 29, "1.50G")]
        {
            assert_eq!(format_bytes_short(bytes), text);
        }
        assert!(format_bytes_short(1023 << 30).len() <= 6);
    }
}
