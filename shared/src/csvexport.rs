//! CSV exports opened by spreadsheets: the one writer every CSV the system
//! hands out goes through (the evaluation, the importer's report, the
//! upload report), so each starts with a UTF-8 byte-order mark (Excel
//! reads UTF-8 without one as the local code page and garbles Chinese) and
//! no cell can run as a formula.
//!
//! Formula injection (CSV injection): a spreadsheet evaluates a cell that
//! starts with `=`, `+`, `-` or `@` (and treats a leading tab or carriage
//! return alike), so a record field such as `=cmd|' /C calc'!A0` pushed by
//! anyone would run on the machine of whoever opens the export. Such a
//! cell is written with a leading apostrophe (`'=cmd|…`), which
//! spreadsheets show as text and which a reader of the file can strip
//! (OWASP "CSV Injection"). Numbers are exported without a sign by the
//! callers, so a negative number is the only value this changes.
//!
//! Pure: writes into any `std::io::Write` the caller gives it.

use std::borrow::Cow;
use std::io::Write;

/// The UTF-8 byte-order mark every export starts with.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The characters a spreadsheet may start a formula with.
pub const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether a spreadsheet could read `cell` as a formula.
pub fn is_formula(cell: &str) -> bool {
    cell.starts_with(FORMULA_STARTS)
}

/// `cell` as written to an export: with a leading `'` when a spreadsheet
/// could read it as a formula, else unchanged.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if is_formula(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A CSV export being written: RFC 4180 quoting by the `csv` crate, every
/// cell [`neutralise`]d.
#[derive(Debug)]
pub struct Export<W: Write> {
    writer: csv::Writer<W>,
}

impl<W: Write> Export<W> {
    /// A new export into `out`: the byte-order mark, then `header`.
    pub fn new<I, T>(mut out: W, header: I) -> csv::Result<Export<W>>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        out.write_all(BOM)?;
        let mut export = Export::append(out);
        export.row(header)?;
        Ok(export)
    }

    /// Rows appended to an export already begun in `out` (mark and header
    /// written earlier, e.g. a report resumed after an interruption).
    pub fn append(out: W) -> Export<W> {
        Export {
            writer: csv::WriterBuilder::new().from_writer(out),
        }
    }

    /// Writes one row.
    pub fn row<I, T>(&mut self, cells: I) -> csv::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.writer.write_record(
            cells
                .into_iter()
                .map(|c| neutralise(c.as_ref()).into_owned()),
        )
    }

    /// Flushes what was written to the underlying writer.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        self.writer.get_ref()
    }

    /// Flushes and hands back the underlying writer.
    pub fn into_inner(self) -> Result<W, std::io::Error> {
        self.writer.into_inner().map_err(|e| e.into_error())
    }
}

/// A whole export in memory: mark, header and rows.
pub fn to_bytes<H, R, C, T>(header: H, rows: R) -> csv::Result<Vec<u8>>
where
    H: IntoIterator<Item = T>,
    R: IntoIterator<Item = C>,
    C: IntoIterator<Item = T>,
    T: AsRef<str>,
{
    let mut export = Export::new(Vec::new(), header)?;
    for row in rows {
        export.row(row)?;
    }
    Ok(export.into_inner()?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_others_kept() {
        let cases = [
            ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
            ("+1+1", "'+1+1"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("张三", "张三"),
            ("a=b", "a=b"),
            ("", ""),
            ("'=x", "'=x"),
        ];
        for (cell, written) in cases {
            assert_eq!(neutralise(cell), written, "{cell:?}");
        }
    }

    #[test]
    fn an_export_starts_with_the_mark_and_quotes_as_rfc_4180() {
        let bytes = to_bytes(
            ["line", "message"],
            [["2", "=HYPERLINK(\"x\")"], ["3", "姓名, \"必填\""]],
        )
        .unwrap();
        assert!(bytes.starts_with(BOM));
        let text = std::str::from_utf8(&bytes[3..]).unwrap();
        assert_eq!(
            text,
            "line,message\n2,\"'=HYPERLINK(\"\"x\"\")\"\n3,\"姓名, \"\"必填\"\"\"\n"
        );
    }
}
