//! Cells of CSV files meant for spreadsheets (Excel, WPS): the UTF-8 byte
//! order mark that makes them read Chinese text as UTF-8, and the one
//! escaping of cells a spreadsheet would run as a formula (CSV injection).

use std::borrow::Cow;

/// The UTF-8 byte order mark every exported CSV file starts with.
pub const UTF8_BOM: &str = "\u{feff}";

/// A cell as written to an exported CSV: one that starts with `=`, `+`,
/// `-`, `@`, a tab or a carriage return gets a leading `'`, so a
/// spreadsheet shows it as text instead of evaluating it (OWASP, "CSV
/// Injection"); anything else is unchanged. Quoting is the CSV writer's.
pub fn cell(text: &str) -> Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{text}")),
        _ => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_others_kept() {
        for (input, want) in [
            ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("沈阳市", "沈阳市"),
            ("a=b", "a=b"),
            ("12", "12"),
            ("", ""),
        ] {
            assert_eq!(cell(input), want, "{input:?}");
        }
    }
}
