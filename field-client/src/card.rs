//! The verdict card an officer reads: Chinese and English labels.

use std::fmt::Write as _;

use shared::domain::Face;
use shared::verify::Verdict;

use crate::check::Outcome;

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

fn scope(codes: &[shared::domain::ScopeCode]) -> String {
    codes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The card for one check.
pub fn render(o: &Outcome, input: &str) -> String {
    let mut s = String::new();
    let line = "=".repeat(60);
    let (mark, zh, en) = match o.verdict {
        Verdict::Valid => ("[OK]", "有效", "VALID"),
        Verdict::Invalid => ("[X]", "无效", "INVALID"),
        Verdict::CannotConfirm => ("[?]", "无法确认", "CANNOT CONFIRM"),
    };
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
    if let Some(c) = &o.claims {
        let _ = writeln!(
            s,
            " 证照 Certificate: {} {} ({})",
            c.cert_type.name_zh(),
            c.cert_type.name_en(),
            c.cert_type.code()
        );
        let _ = writeln!(
            s,
            " 证号 Number:   {}   版本 Version: {}",
            c.number, c.version
        );
        if let Some(id) = &o.identifier {
            let _ = writeln!(s, " 标识 Identifier: {id}");
        }
        if let Some(name) = &o.issuer_name {
            let _ = writeln!(s, " 发证机关 Issuer: {name} ({})", c.issuer_division);
        }
        let until = c
            .valid_until
            .map_or_else(|| "长期 long-term".to_string(), |d| d.to_string());
        let _ = writeln!(s, " 有效期 Valid:  {} — {until}", c.valid_from);
        match &c.face {
            Face::Person(p) => {
                let _ = writeln!(s, " 姓名 Name:     {}", p.name);
                let _ = writeln!(s, " 性别 Sex:      {}", p.sex.label_zh());
                let _ = writeln!(s, " 身份证 ID No.: {}", p.id_number.as_str());
                if let Some(v) = &p.vehicle_classes {
                    let _ = writeln!(s, " 准驾车型 Vehicle classes: {v}");
                }
                if !p.qualification_classes.is_empty() {
                    let _ = writeln!(
                        s,
                        " 从业资格类别 Qualification: {:?}",
                        p.qualification_classes
                    );
                }
            }
            Face::Vehicle(v) => {
                let _ = writeln!(s, " 业户 Owner:    {}", v.owner);
                let _ = writeln!(
                    s,
                    " 车牌 Plate:    {} ({})",
                    v.plate.as_str(),
                    v.plate_colour.label_zh()
                );
                if let Some(n) = v.seats {
                    let _ = writeln!(s, " 核定座位 Seats: {n}");
                }
                if let Some(t) = &v.tonnage {
                    let _ = writeln!(s, " 吨位 Tonnage:  {t}");
                }
                if !v.business_scope.is_empty() {
                    let _ = writeln!(s, " 经营范围 Scope: {}", scope(&v.business_scope));
                }
                if let Some(d) = v.inspection_valid_until {
                    let _ = writeln!(s, " 审验有效期至 Inspection until: {d}");
                }
            }
            Face::Permit(p) => {
                let _ = writeln!(s, " 业户 Holder:   {}", p.holder_name);
                let _ = writeln!(s, " 信用代码 USCC: {}", p.uscc.as_str());
                if !p.business_scope.is_empty() {
                    let _ = writeln!(s, " 经营范围 Scope: {}", scope(&p.business_scope));
                }
            }
        }
    }
    if let Some((slot, kid)) = &o.holder {
        let _ = writeln!(
            s,
            " 持证人亮证 Holder presentation: signed by {kid}, slot {slot}"
        );
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
