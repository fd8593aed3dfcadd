//! Sample records from one place: the shared sample of each type (valid on
//! [`crate::T0`]), distinct generated ones for bulk and crash tests, and
//! non-conforming ones.
//!
//! Generated records are the shared sample record of each type with a
//! distinct certificate number (and ID number or plate where the type has
//! one), all issued by Shenyang (division 210100) so an agency token of
//! Shenyang may push them.

use shared::domain::{sample_record, CertType, RawRecord};

/// The valid sample record of every type, in `CertType::ALL` order.
pub fn all_samples() -> Vec<RawRecord> {
    CertType::ALL.into_iter().map(sample_record).collect()
}

/// The certificate number of a record.
pub fn number(r: &RawRecord) -> String {
    r.number.clone().expect("the record has a number")
}

/// A QC record that does not conform: the sex contradicts the ID number
/// and it expires before it starts.
pub fn nonconforming() -> RawRecord {
    let mut bad = sample_record(CertType::QC);
    bad.sex = Some("2".into()); // the ID number says male
    bad.valid_until = Some("20220101".into()); // before valid_from
    bad
}

/// A Dalian WYJ record whose ID number has a wrong check character.
pub fn nonconforming_dalian() -> RawRecord {
    let mut bad = sample_record(CertType::WYJ);
    bad.id_number = Some("210203199007154520".into());
    bad
}

/// The division every generated record belongs to.
pub const DIVISION: u32 = 210100;

/// An 18-character resident ID number with a correct GB 11643 check
/// character: Heping district, born `k / 500` days after 1960-01-01,
/// sequence odd (male) or even (female).
pub fn id_number(k: usize, female: bool) -> String {
    let start =
        time::Date::from_calendar_date(1960, time::Month::January, 1).unwrap_or(time::Date::MIN);
    let days = i64::try_from(k / 500).unwrap_or(0);
    let birth = start + time::Duration::days(days);
    let seq = (k % 500) * 2 + usize::from(!female);
    let body = format!(
        "210102{:04}{:02}{:02}{:03}",
        birth.year(),
        u8::from(birth.month()),
        birth.day(),
        seq
    );
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

fn s(v: String) -> Option<String> {
    Some(v)
}

/// The `i`-th record: type `CertType::ALL[i % 9]`, serial `i / 9`.
pub fn record(i: usize) -> RawRecord {
    let t = CertType::ALL[i % 9];
    let k = i / 9;
    let shenyang = sample_record(CertType::QC);
    let mut r = sample_record(t);
    r.issuer_division = shenyang.issuer_division;
    r.issuer_uscc = shenyang.issuer_uscc;
    r.issuer_name = shenyang.issuer_name;
    match t {
        CertType::QC => {
            let id = id_number(k, false);
            r.number = s(id.clone());
            r.id_number = s(id.clone());
        }
        CertType::WYJ => {
            let id = id_number(k, true);
            r.number = s(format!("LNWYJ{k:08}"));
            r.id_number = s(id.clone());
            r.driving_licence_number = s(id);
        }
        CertType::XYJ => {
            let id = id_number(k, false);
            r.number = s(format!("21010020{k:06}"));
            r.id_number = s(id.clone());
            r.driving_licence_number = s(id);
        }
        CertType::YSZ => {
            r.number = s(format!("2101{k:08}"));
            r.plate = s(format!("辽A{:05}", k % 100_000));
        }
        CertType::WYY => {
            r.number = s(format!("210100{k:06}"));
            r.plate = s(format!("辽AD{:05}", k % 100_000));
        }
        CertType::JYXK | CertType::WXHW | CertType::FSX => {
            r.number = s(format!("210106{:06}", k + 1));
        }
        CertType::WYJY => r.number = s(format!("210100{k:09}")),
    }
    r
}

/// Records `from..to` as JSON values, as a push carries them.
pub fn values(from: usize, to: usize) -> Vec<serde_json::Value> {
    (from..to)
        .map(|i| serde_json::to_value(record(i)).unwrap_or_default())
        .collect()
}

/// `records` as a collection CSV file (the importer's and the upload's
/// format): a header of every `RawRecord` key, list items joined by `;`.
pub fn csv(records: &[RawRecord]) -> String {
    use shared::domain::validate::RawValue;
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(RawRecord::KEYS);
    for r in records {
        let row: Vec<String> = RawRecord::KEYS
            .iter()
            .map(|k| match r.get(k) {
                Some(RawValue::Text(t)) => t.unwrap_or_default().to_string(),
                Some(RawValue::List(l)) => l.map(|l| l.join(";")).unwrap_or_default(),
                None => String::new(),
            })
            .collect();
        let _ = w.write_record(&row);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// `records` as JSON lines.
pub fn jsonl(records: &[RawRecord]) -> String {
    records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap_or_default() + "\n")
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::domain::validate::validate;

    fn today() -> time::Date {
        time::Date::from_calendar_date(2026, time::Month::June, 1).unwrap()
    }

    #[test]
    fn generated_and_sample_records_conform_and_are_distinct() {
        let mut numbers = std::collections::BTreeSet::new();
        for i in 0..90 {
            let r = record(i);
            assert!(
                validate(&r, today()).is_ok(),
                "record {i}: {:?}",
                validate(&r, today()).err()
            );
            assert!(
                numbers.insert((r.cert_type.clone(), number(&r))),
                "record {i} repeats"
            );
        }
        for r in all_samples() {
            assert!(validate(&r, today()).is_ok(), "{r:?}");
        }
        assert_eq!(values(3, 7).len(), 4);
    }

    #[test]
    fn nonconforming_records_do_not_conform() {
        assert!(validate(&nonconforming(), today()).is_err());
        assert!(validate(&nonconforming_dalian(), today()).is_err());
    }
}
