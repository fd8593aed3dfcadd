//! The verdict card an officer reads: Chinese and English labels.

use std::fmt::Write as _;

use shared::verify::Verdict;

use crate::check::Outcome;
use crate::view::FaceView;

/// A duration for a person: `3 d 4 h`, `2 h 5 min`, `40 s`.
pub fn human_age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

/// The face lines of a certificate (shared by `verify` and `lookup`).
pub fn render_face(s: &mut String, v: &FaceView, identifier: Option<&str>) {
    let _ = writeln!(
        s,
        " 证照 Certificate: {} {} ({})",
        v.cert_type.name, v.type_name_en, v.cert_type.code
    );
    let _ = writeln!(
        s,
        " 证号 Number:   {}   版本 Version: {}",
        v.number_printed, v.version
    );
    if let Some(id) = identifier {
        let _ = writeln!(s, " 标识 Identifier: {id}");
    }
    let _ = writeln!(
        s,
        " 发证机关 Issuer: {} ({})",
        v.issuer_name, v.issuer_division
    );
    let _ = writeln!(s, " 有效期 Valid:  {}", v.validity_text());
    for l in &v.lines {
        let _ = writeln!(s, " {} {}: {}", l.label_zh, l.label_en, l.value);
    }
    for w in &v.warnings {
        let _ = writeln!(s, " 警告 Warning:  {} / {}", w.message_zh(), w.message_en());
    }
}

/// China Standard Time, `YYYY-MM-DD HH:MM:SS`, of a Unix time.
pub fn cst(unix: i64) -> String {
    shared::cst::datetime_text(unix)
}

/// The card for one check.
pub fn render(o: &Outcome, input: &str) -> String {
    let mut s = String::new();
    let line = "=".repeat(60);
    let (mark, zh, en) = verdict_words(o.verdict);
    let _ = writeln!(s, "{line}");
    let _ = writeln!(s, " {mark} {zh}  {en}        ({input})");
    if let Some(r) = o.reason {
        let _ = writeln!(s, " 原因 Reason:   {} / {}", r.message_zh(), r.message_en());
        if o.verdict == Verdict::CannotConfirm {
            let _ = writeln!(
                s,
                "               无法确认不代表无证 / cannot confirm is not proof of no licence"
            );
        }
    }
    if let Some(p) = &o.province {
        let _ = writeln!(
            s,
            " 签发省份 Issuing province: {} ({}){}",
            p.name,
            p.code,
            if p.foreign {
                " 外省证照 / another province's certificate"
            } else {
                ""
            }
        );
    }
    if let Some(v) = &o.view {
        render_face(&mut s, v, o.identifier.as_deref());
    }
    match (&o.holder, o.presented_by()) {
        (Some((slot, kid)), Some(d)) => {
            let _ = writeln!(
                s,
                " 驾驶员亮证 Driver presentation: {} / {}; signed by {kid}, slot {slot}",
                d.message_zh(),
                d.message_en()
            );
        }
        (Some((slot, kid)), None) => {
            let _ = writeln!(
                s,
                " 持证人亮证 Holder presentation: signed by {kid}, slot {slot}"
            );
        }
        (None, _) => {}
    }
    for w in &o.warnings {
        let _ = writeln!(
            s,
            " 警告 Warning:  {} ({})",
            w.message_zh(),
            crate::check::warning_code(w)
        );
    }
    match o.data_age_seconds {
        Some(age) => {
            let _ = writeln!(
                s,
                " 数据时效 Data age: {} (status list seq {})",
                human_age(age),
                o.status_seq.map_or_else(|| "-".into(), |q| q.to_string())
            );
        }
        None => {
            let _ = writeln!(s, " 数据时效 Data age: 无状态数据 no status data");
        }
    }
    let _ = writeln!(s, " 查验编号 Check ID: {}", o.check_id);
    let _ = write!(s, "{line}");
    s
}

/// The card for an online lookup.
pub fn render_lookup(o: &crate::lookup::Outcome) -> String {
    let mut s = String::new();
    let line = "=".repeat(60);
    let (mark, zh, en) = verdict_words(o.verdict);
    let _ = writeln!(s, "{line}");
    let _ = writeln!(
        s,
        " {mark} {zh}  {en}        (联网查询 online lookup by {})",
        o.by.as_str()
    );
    if let Some(r) = o.reason {
        let _ = writeln!(s, " 原因 Reason:   {} / {}", r.message_zh(), r.message_en());
    }
    for (i, f) in o.answer.results.iter().enumerate() {
        let _ = writeln!(
            s,
            " --- {} / {} ({}) 状态 status: {}",
            i + 1,
            o.answer.results.len(),
            f.verdict,
            f.status
        );
        render_face(&mut s, &f.face, None);
    }
    let _ = writeln!(s, " 查询时间 Checked at: {}", cst(o.answer.checked_at));
    let _ = writeln!(s, " 查验编号 Check ID: {}", o.check_id);
    let _ = write!(s, "{line}");
    s
}

fn verdict_words(v: Verdict) -> (&'static str, &'static str, &'static str) {
    match v {
        Verdict::Valid => ("[OK]", "有效", "VALID"),
        Verdict::Invalid => ("[X]", "无效", "INVALID"),
        Verdict::CannotConfirm => ("[?]", "无法确认", "CANNOT CONFIRM"),
    }
}
