//! The demo data set behind `verifier-server demo`: a deterministic,
//! realistic seed for Liaoning's 14 cities, the tokens to use it, and
//! sample QR codes with the verdict a verifier must give for each.
//!
//! [`prepare`] runs before serving. On a data directory it has not seeded
//! yet it creates the tokens, pushes every city's records through
//! [`issuing::push`] with that city's agency token, applies the lifecycle
//! changes ([`issuing::change_status`]: cancellations, suspensions; changed
//! records become new versions), records the marker `demo.seed` in the
//! `meta` table and writes `DIR/demo/`:
//!
//! - `admin-token`, `auditor-token`, `officer-token` (Shenyang, 210100),
//!   `agency-<division>-token` for each city and `holder-<name>-token` for
//!   four holders: one token per file, newline-terminated, mode 0600;
//! - `holders.json`: each holder's name, token file, subject (ID number or
//!   credit code) and certificates;
//! - `qr/*.png` and `index.json`: sample holder QR codes and, for each, the
//!   certificate and the expected verdict and reason code of
//!   `shared::verify` (format in `docs/demo.md`).
//!
//! A later start on the same directory seeds nothing: it keeps every token
//! file that still authenticates with its role, replaces a missing or
//! unusable one (expired included: demo tokens live
//! [`DEMO_TOKEN_LIFETIME`]) with a new token (revoking the token it replaces), and
//! rewrites the samples only if some are missing. The records come from
//! [`dataset`], a pure function of a fixed seed (splitmix64), so every
//! fresh directory gets the same records; keys and tokens are random.

pub mod seed;
pub mod yzt;
pub mod yzt_page;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context as _};
use serde::Serialize;
use shared::domain::{CertType, DivisionCode, IdNumber, RawRecord, Uscc, LIAONING_CITIES};
use shared::qr::{render_png, RenderOptions};
use shared::qrtext::{self, Kind};
use shared::status::Status;
use shared::verify::{Reason, Verdict};
use time::macros::date;
use time::{Date, Duration};

use crate::service::auth::{self, Caller, Role};
use crate::service::issuing::{self, Outcome, StatusChange};
use crate::state::AppState;
use crate::store::{AuditEntry, TokenRow};

/// The directory under the data directory that holds the demo files.
pub const DEMO_DIR: &str = "demo";
/// The sample index inside [`DEMO_DIR`].
pub const INDEX_FILE: &str = "index.json";
/// The holders' map inside [`DEMO_DIR`].
pub const HOLDERS_FILE: &str = "holders.json";
/// The `format` value of `index.json`; a change of its meaning gets a new one.
pub const INDEX_FORMAT: &str = "lnv-demo-index/1";
/// The `meta` row that marks a seeded data directory, and its value.
const SEED_MARKER: (&str, &str) = ("demo.seed", "1");
/// The fixed seed of the record generator.
const SEED: u64 = 0x4c4e_5632_3130_3030;
/// The latest issue date of any demo record: seeding needs a clock at or
/// after this day (issue dates in the future are non-conforming).
pub const LATEST_ISSUE: Date = date!(2026 - 05 - 31);

// ---------------------------------------------------------------------------
// Deterministic randomness
// ---------------------------------------------------------------------------

/// splitmix64 (Steele, Lea, Flood 2014): tiny, and enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`; `n` is positive.
    fn below(&mut self, n: usize) -> usize {
        let n = n.max(1) as u64;
        usize::try_from(self.next() % n).unwrap_or(0)
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        let span = hi.saturating_sub(lo) as usize + 1;
        lo + u32::try_from(self.below(span)).unwrap_or(0)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn char_from(&mut self, alphabet: &str) -> char {
        let chars: Vec<char> = alphabet.chars().collect();
        *self.pick(&chars)
    }

    fn date(&mut self, from: Date, to: Date) -> Date {
        let span = (to.to_julian_day() - from.to_julian_day()).max(0);
        let days = self.below(usize::try_from(span).unwrap_or(0) + 1);
        from.checked_add(Duration::days(i64::try_from(days).unwrap_or(0)))
            .unwrap_or(from)
    }
}

// ---------------------------------------------------------------------------
// Realistic values
// ---------------------------------------------------------------------------

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "高", "罗", "郑", "梁", "谢", "宋", "唐", "韩", "冯", "邓", "曹", "彭", "于", "董",
    "袁", "潘", "蒋", "蔡", "杜", "魏", "吕", "丁", "任", "姜", "崔", "孟", "白", "关", "常", "佟",
];
const GIVEN_MALE: &[&str] = &[
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "飞", "鑫",
    "波", "宇", "浩", "建国", "志刚", "海军", "立新", "春雷", "晓东", "国庆", "德胜", "永刚",
    "长江", "振宇",
];
const GIVEN_FEMALE: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "玲", "婷", "雪", "琳", "丹", "颖", "秀英",
    "桂兰", "玉梅", "春燕", "海燕", "晓红", "丽娜", "淑华", "红梅", "雅琴",
];
/// Liaoning's largest ethnic groups; 汉族 most often.
const ETHNICITIES: &[&str] = &[
    "汉族",
    "汉族",
    "汉族",
    "汉族",
    "汉族",
    "汉族",
    "满族",
    "满族",
    "蒙古族",
    "回族",
    "朝鲜族",
    "锡伯族",
];
const TRADE_NAMES: &[&str] = &[
    "顺达", "通达", "宏运", "安泰", "恒通", "鑫源", "华远", "金桥", "东方", "盛达", "远航", "利民",
    "兴隆", "瑞丰", "昌盛", "永安", "嘉诚", "德润", "北方", "中联",
];
const ROADS: &[&str] = &[
    "中山路",
    "人民路",
    "解放路",
    "建设大街",
    "胜利街",
    "长江路",
    "黄河路",
    "和平大街",
    "新华路",
    "友谊街",
    "工业路",
    "滨河路",
    "北京街",
    "文化路",
];
const PLATE_ALNUM: &str = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
const PLATE_LETTERS: &str = "ABCDEFGHJKLMNPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";
const USCC_CHARS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const VIN_CHARS: &str = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789";

/// The business of an operator, which decides its name, scope and vehicles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Business {
    Freight,
    Passenger,
    Dangerous,
    Radioactive,
    RideHailing,
}

impl Business {
    fn suffixes(self) -> &'static [&'static str] {
        match self {
            Business::Freight => &["物流有限公司", "货运有限公司", "运输有限公司"],
            Business::Passenger => &["客运有限公司", "旅游客运有限公司"],
            Business::Dangerous => &["危险货物运输有限公司", "化工物流有限公司"],
            Business::Radioactive => &["放射性物品运输有限公司"],
            Business::RideHailing => &["网约车科技有限公司", "出行服务有限公司"],
        }
    }

    fn scope(self, rng: &mut Rng) -> Vec<&'static str> {
        match self {
            Business::Freight => rng
                .pick(&[&["021"][..], &["021", "022"], &["021", "023"]])
                .to_vec(),
            Business::Passenger => rng
                .pick(&[&["011"][..], &["012"], &["011", "012"]])
                .to_vec(),
            Business::Dangerous => rng
                .pick(&[&["032"][..], &["033"], &["032", "033"], &["033", "038"]])
                .to_vec(),
            Business::Radioactive => vec!["040"],
            Business::RideHailing => vec!["092"],
        }
    }
}

/// A person of the demo.
#[derive(Debug, Clone)]
struct Person {
    name: String,
    male: bool,
    id: String,
    birth: Date,
    ethnicity: &'static str,
    address: String,
}

/// An operator (业户) of the demo.
#[derive(Debug, Clone)]
struct Company {
    name: String,
    uscc: String,
    address: String,
    /// Its 道路运输经营许可证 number: county code + serial.
    permit_number: String,
    business: Business,
}

fn ymd(d: Date) -> String {
    format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day())
}

fn plus_years(d: Date, years: i32) -> Date {
    d.replace_year(d.year() + years)
        .or_else(|_| Date::from_calendar_date(d.year() + years, d.month(), 28))
        .unwrap_or(d)
}

/// The last day of a validity of `years` starting on `from`.
fn until(from: Date, years: i32) -> Date {
    let end = plus_years(from, years);
    end.previous_day().unwrap_or(end)
}

fn city_short(city: DivisionCode) -> &'static str {
    city.name_zh().trim_end_matches('市')
}

/// A real county-level code under `city`, from the shipped GB/T 2260 table.
fn county(rng: &mut Rng, city: DivisionCode) -> u32 {
    let counties = city.counties();
    if counties.is_empty() {
        return city.code();
    }
    counties[rng.below(counties.len())].code()
}

fn address(rng: &mut Rng, city: DivisionCode) -> String {
    format!(
        "辽宁省{}{}{}号",
        city.name_zh(),
        rng.pick(ROADS),
        rng.range(1, 320)
    )
}

fn id_number_for(county: u32, birth: Date, sequence: u32, male: bool) -> anyhow::Result<String> {
    let sex_digit = (sequence % 5) * 2 + u32::from(male);
    let body = format!(
        "{county:06}{}{:02}{sex_digit}",
        ymd(birth),
        (sequence / 5) % 100
    );
    let check = IdNumber::check_char_for(&body)
        .with_context(|| format!("no check character for {body}"))?;
    Ok(format!("{body}{check}"))
}

/// The GB 11714 check character of an 8-character organisation code body.
fn org_check(body: &str) -> Option<char> {
    const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let sum = body.chars().zip(WEIGHTS).try_fold(0u32, |acc, (c, w)| {
        let v = c.to_digit(10).or_else(|| {
            c.is_ascii_uppercase()
                .then(|| u32::from(c) - u32::from('A') + 10)
        })?;
        Some(acc + v * w)
    })?;
    match 11 - sum % 11 {
        10 => Some('X'),
        11 => Some('0'),
        d => char::from_digit(d, 10),
    }
}

/// A company's unified social credit code: `91` (an enterprise), its
/// county, a 9-character organisation code with its own check character,
/// and the GB 32100 check character.
fn company_uscc(rng: &mut Rng, county: u32) -> anyhow::Result<String> {
    let org: String = std::iter::once('M')
        .chain(std::iter::once('A'))
        .chain((0..6).map(|_| rng.char_from(USCC_CHARS)))
        .collect();
    let org_check = org_check(&org).with_context(|| format!("no check for {org}"))?;
    let body = format!("91{county:06}{org}{org_check}");
    let check =
        Uscc::check_char_for(&body).with_context(|| format!("no check character for {body}"))?;
    Ok(format!("{body}{check}"))
}

fn vin_value(c: char) -> u32 {
    match c {
        '0'..='9' => c.to_digit(10).unwrap_or(0),
        'A' | 'J' => 1,
        'B' | 'K' | 'S' => 2,
        'C' | 'L' | 'T' => 3,
        'D' | 'M' | 'U' => 4,
        'E' | 'N' | 'V' => 5,
        'F' | 'W' => 6,
        'G' | 'P' | 'X' => 7,
        'H' | 'Y' => 8,
        _ => 9, // R, Z
    }
}

/// A VIN (ISO 3779) with a correct position-9 check digit (ISO 3779 /
/// GB 16735 weights; 10 is written `X`).
fn vin(rng: &mut Rng, wmi: &str, issued: Date) -> String {
    const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    // Model-year codes 2016–2026.
    const YEARS: &str = "GHJKLMNPRST";
    let year_index = usize::try_from((issued.year() - 2016).clamp(0, 10)).unwrap_or(0);
    let year = YEARS.chars().nth(year_index).unwrap_or('T');
    let vds: String = (0..5).map(|_| rng.char_from(VIN_CHARS)).collect();
    let plant = rng.char_from("ABCDEFGHJKLMNPRSTUVWXYZ");
    let serial = rng.range(0, 999_999);
    let mut chars: Vec<char> = format!("{wmi}{vds}0{year}{plant}{serial:06}")
        .chars()
        .collect();
    let sum: u32 = chars
        .iter()
        .zip(WEIGHTS)
        .map(|(c, w)| vin_value(*c) * w)
        .sum();
    if let Some(slot) = chars.get_mut(8) {
        *slot = char::from_digit(sum % 11, 10).unwrap_or('X');
    }
    chars.into_iter().collect()
}

// ---------------------------------------------------------------------------
// The plan
// ---------------------------------------------------------------------------

/// What happens to a planned record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Issued and left valid.
    Valid,
    /// Issued with a validity that has already ended.
    Expired,
    /// Pushed with a defect: lands on the agency's correction list.
    NonConforming {
        /// The rule `shared::domain::validate` reports, e.g.
        /// `id_number.check_digit`.
        rule: &'static str,
    },
    /// Issued, then cancelled (注销).
    Revoked,
    /// Issued, then suspended.
    Suspended,
    /// Issued, then changed: version 2 replaces version 1.
    Updated {
        /// The changed record.
        changed: Box<RawRecord>,
        /// What changed, in words.
        change: &'static str,
    },
}

/// One record of the demo and what becomes of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// The city whose agency pushes it.
    pub city: DivisionCode,
    /// The record as first pushed.
    pub record: RawRecord,
    /// Type.
    pub cert_type: CertType,
    /// Compact number.
    pub number: String,
    /// Whose certificate it is (name on the face).
    pub subject_name: String,
    /// What happens to it.
    pub fate: Fate,
}

/// A holder who gets a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedHolder {
    /// Name.
    pub name: String,
    /// ASCII name for file names, e.g. `wang-jianguo`.
    pub slug: &'static str,
    /// The token's subject: ID number or credit code.
    pub subject: String,
    /// Their certificates: type and number.
    pub certificates: Vec<(CertType, String)>,
}

/// The whole demo data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// Every record, grouped by city in [`LIAONING_CITIES`] order.
    pub records: Vec<Planned>,
    /// The holders with tokens.
    pub holders: Vec<PlannedHolder>,
}

struct Generator {
    rng: Rng,
    ids: HashSet<String>,
    plates: HashSet<String>,
    serial: HashMap<u32, u32>,
}

impl Generator {
    fn next_serial(&mut self, key: u32) -> u32 {
        let s = self.serial.entry(key).or_insert(0);
        *s += 1;
        *s
    }

    fn person(&mut self, city: DivisionCode) -> anyhow::Result<Person> {
        let male = self.rng.below(10) < 8;
        let given = if male { GIVEN_MALE } else { GIVEN_FEMALE };
        let name = format!("{}{}", self.rng.pick(SURNAMES), self.rng.pick(given));
        let birth = self.rng.date(date!(1965 - 01 - 01), date!(1998 - 12 - 31));
        let county = county(&mut self.rng, city);
        loop {
            let sequence = self.rng.range(0, 499);
            let id = id_number_for(county, birth, sequence, male)?;
            if self.ids.insert(id.clone()) {
                return Ok(Person {
                    name,
                    male,
                    id,
                    birth,
                    ethnicity: ETHNICITIES[self.rng.below(ETHNICITIES.len())],
                    address: address(&mut self.rng, city),
                });
            }
        }
    }

    fn company(&mut self, city: DivisionCode, business: Business) -> anyhow::Result<Company> {
        let county = county(&mut self.rng, city);
        let name = format!(
            "{}{}{}",
            city_short(city),
            self.rng.pick(TRADE_NAMES),
            self.rng.pick(business.suffixes())
        );
        let serial = self.next_serial(county);
        Ok(Company {
            name,
            uscc: company_uscc(&mut self.rng, county)?,
            address: address(&mut self.rng, city),
            permit_number: format!("{county:06}{serial:06}"),
            business,
        })
    }

    fn plate(&mut self, city: DivisionCode, new_energy: bool, trailer: bool) -> String {
        let prefix = city.plate_prefix().unwrap_or("辽A");
        loop {
            let tail: String = if new_energy {
                let mark = self.rng.char_from("DF");
                let second = self.rng.char_from(PLATE_ALNUM);
                let digits: String = (0..4).map(|_| self.rng.char_from(DIGITS)).collect();
                format!("{mark}{second}{digits}")
            } else {
                let letter_at = self.rng.below(3);
                let mut t: String = (0..5)
                    .map(|i| {
                        if i == letter_at {
                            self.rng.char_from(PLATE_LETTERS)
                        } else {
                            self.rng.char_from(DIGITS)
                        }
                    })
                    .collect();
                if trailer {
                    t.pop();
                    t.push('挂');
                }
                t
            };
            let plate = format!("{prefix}{tail}");
            if self.plates.insert(plate.clone()) {
                return plate;
            }
        }
    }
}

fn text(s: impl Into<String>) -> Option<String> {
    Some(s.into())
}

fn list(items: &[&str]) -> Option<Vec<String>> {
    Some(items.iter().map(|s| (*s).to_owned()).collect())
}

/// Common fields of a record issued by `city`'s authority.
fn base(
    cert_type: CertType,
    number: &str,
    city: DivisionCode,
    issued: Date,
    years: i32,
) -> anyhow::Result<RawRecord> {
    Ok(RawRecord {
        cert_type: text(cert_type.code()),
        number: text(number),
        issuer_division: text(city.code().to_string()),
        issuer_uscc: text(crate::service::keys::authority_uscc(city)?.as_str()),
        issuer_name: text(city.authority_name_zh()),
        issue_date: text(ymd(issued)),
        valid_from: text(ymd(issued)),
        valid_until: text(ymd(until(issued, years))),
        ..RawRecord::default()
    })
}

fn person_record(
    g: &mut Generator,
    cert_type: CertType,
    city: DivisionCode,
    p: &Person,
    issued: Date,
) -> anyhow::Result<RawRecord> {
    let adult = plus_years(p.birth, 21).max(date!(2005 - 01 - 01));
    let first = if adult < issued {
        g.rng.date(adult, issued)
    } else {
        issued
    };
    let sex = if p.male { "1" } else { "2" };
    Ok(match cert_type {
        CertType::QC => {
            let (classes, quals): (&str, &[&str]) = *g.rng.pick(&[
                ("A1", &["1"][..]),
                ("B1", &["1"]),
                ("A2", &["2"]),
                ("B2", &["2"]),
                ("A2", &["2", "3"]),
                ("A2", &["3", "5"]),
                ("C1", &["6"]),
            ]);
            let file = format!(
                "{:06}{:04}{:06}",
                city.code(),
                first.year(),
                g.rng.range(1, 999_999)
            );
            RawRecord {
                name: text(&p.name),
                sex: text(sex),
                id_number: text(&p.id),
                vehicle_classes: text(classes),
                qualification_classes: list(quals),
                nationality: text("中国"),
                address: text(&p.address),
                file_number: text(file),
                first_issue: text(ymd(first)),
                ..base(cert_type, &p.id, city, issued, 6)?
            }
        }
        CertType::WYJ | CertType::XYJ => {
            let number = if cert_type == CertType::WYJ {
                p.id.clone()
            } else {
                let serial = g.next_serial(city.code() + 99);
                format!("{:06}{:04}{serial:04}", city.code(), first.year())
            };
            RawRecord {
                name: text(&p.name),
                sex: text(sex),
                id_number: text(&p.id),
                vehicle_classes: text(*g.rng.pick(&["C1", "C1", "C1", "B1", "A2"])),
                ethnicity: text(p.ethnicity),
                driving_licence_number: text(&p.id),
                first_issue: text(ymd(first)),
                ..base(cert_type, &number, city, issued, 6)?
            }
        }
        other => bail!("{other} is not a person certificate"),
    })
}

fn ysz_record(
    g: &mut Generator,
    city: DivisionCode,
    owner: &Company,
    issued: Date,
) -> anyhow::Result<RawRecord> {
    // (vehicle type, make and model, WMI, seats or tonnage range, trailer)
    type Model = (&'static str, &'static str, &'static str, (u32, u32), bool);
    let models: &[Model] = match owner.business {
        Business::Passenger => &[
            ("大型普通客车", "宇通牌ZK6119HQ5E", "LZY", (39, 55), false),
            ("中型普通客车", "金龙牌XMQ6802AYD", "LKL", (19, 31), false),
        ],
        Business::Dangerous | Business::Radioactive => &[
            ("重型罐式货车", "东风牌DFH5250GYYBX", "LGA", (12, 18), false),
            ("重型罐式半挂车", "中集牌ZJV9402GYQ", "LJR", (28, 32), true),
        ],
        _ => &[
            (
                "重型厢式货车",
                "解放牌CA5250XXYP66K24L7T3E6",
                "LFW",
                (10, 14),
                false,
            ),
            (
                "重型仓栅式货车",
                "东风牌DFH5180CCYEX8",
                "LGA",
                (8, 12),
                false,
            ),
            (
                "中型普通货车",
                "江淮牌HFC1101P91K1D4V",
                "LJ1",
                (4, 7),
                false,
            ),
            (
                "重型半挂牵引车",
                "重汽牌ZZ4257V324HE1",
                "LZZ",
                (25, 40),
                false,
            ),
            ("重型普通半挂车", "梁山华宇牌LHY9400", "LA9", (30, 34), true),
        ],
    };
    let (vehicle_type, make, wmi, (lo, hi), trailer) = *g.rng.pick(models);
    let passenger = owner.business == Business::Passenger;
    let serial = g.next_serial(city.code() + 51);
    let number = format!("{:06}{serial:06}", city.code());
    let mut scope = owner.business.scope(&mut g.rng);
    if owner.business == Business::Radioactive {
        scope = vec!["040"];
    }
    Ok(RawRecord {
        owner: text(&owner.name),
        plate: text(g.plate(city, false, trailer)),
        plate_colour: text("2"),
        vehicle_type: text(vehicle_type),
        seats: passenger.then(|| g.rng.range(lo, hi).to_string()),
        tonnage: (!passenger)
            .then(|| format!("{}.{:04}", g.rng.range(lo, hi), g.rng.range(0, 9999))),
        business_scope: list(&scope),
        inspection_valid_until: text(ymd(plus_years(issued, 2027 - issued.year()))),
        owner_address: text(&owner.address),
        operating_permit_number: text(&owner.permit_number),
        vin: text(vin(&mut g.rng, wmi, issued)),
        make_model: text(make),
        economic_type: text("有限责任公司"),
        ..base(CertType::YSZ, &number, city, issued, 6)?
    })
}

fn wyy_record(
    g: &mut Generator,
    city: DivisionCode,
    owner: &str,
    issued: Date,
) -> anyhow::Result<RawRecord> {
    const MODELS: &[(&str, &str, bool)] = &[
        ("比亚迪牌BYD7005BEVA", "LGX", true),
        ("比亚迪牌BYD7152WT6HEVC1", "LGX", true),
        ("吉利牌MR7153A01", "L6T", false),
        ("丰田牌GTM7250GB", "LVG", false),
        ("大众牌SVW7152LPV", "LSV", false),
        ("广汽埃安牌GAM7000BEVA0C", "LNA", true),
    ];
    let (make, wmi, electric) = *g.rng.pick(MODELS);
    let serial = g.next_serial(city.code() + 52);
    let number = format!("{:06}{serial:06}", city.code());
    Ok(RawRecord {
        owner: text(owner),
        plate: text(g.plate(city, electric, false)),
        plate_colour: text(if electric { "5" } else { "1" }),
        vehicle_type: text("小型轿车"),
        seats: text("5"),
        make_model: text(make),
        vin: text(vin(&mut g.rng, wmi, issued)),
        operating_area: text(city.name_zh()),
        business_scope: list(&["092"]),
        ..base(CertType::WYY, &number, city, issued, 8)?
    })
}

fn permit_record(
    g: &mut Generator,
    cert_type: CertType,
    city: DivisionCode,
    c: &Company,
    issued: Date,
) -> anyhow::Result<RawRecord> {
    let scope = match cert_type {
        CertType::FSX => vec!["040"],
        CertType::WYJY => vec!["092"],
        _ => c.business.scope(&mut g.rng),
    };
    let number = if cert_type == CertType::WYJY {
        let serial = g.next_serial(city.code() + 53);
        format!("{:06}{:04}{serial:05}", city.code(), issued.year())
    } else {
        c.permit_number.clone()
    };
    Ok(RawRecord {
        holder_name: text(&c.name),
        uscc: text(&c.uscc),
        address: text(&c.address),
        economic_type: text("有限责任公司"),
        business_scope: list(&scope),
        operating_area: (cert_type == CertType::WYJY).then(|| city.name_zh().to_owned()),
        // Operating permits run 4 years where the rule says so (R3).
        ..base(cert_type, &number, city, issued, permit_years(cert_type))?
    })
}

/// The validity of a demo permit: the type's longest, else 6 years.
fn permit_years(cert_type: CertType) -> i32 {
    shared::domain::validate::max_validity_years(cert_type).map_or(6, i32::from)
}

/// A change an agency would push for `r`: a new address (变更), an
/// annual review (年审) or an added driving class (增驾).
fn change_of(
    g: &mut Generator,
    cert_type: CertType,
    city: DivisionCode,
    r: &RawRecord,
) -> (RawRecord, &'static str) {
    let mut changed = r.clone();
    let change = match cert_type {
        CertType::QC => {
            changed.address = text(address(&mut g.rng, city));
            "住址变更 (address changed)"
        }
        CertType::WYJ | CertType::XYJ => {
            let now = r.vehicle_classes.as_deref().unwrap_or_default();
            changed.vehicle_classes = text(if now == "A2" { "A1A2" } else { "A2" });
            "准驾车型增驾 (driving class added)"
        }
        CertType::YSZ => {
            changed.inspection_valid_until = text(ymd(date!(2028 - 05 - 31)));
            "年审，审验有效期延至 2028-05-31 (annual review)"
        }
        CertType::WYY => {
            changed.operating_area = text(format!("{}（含所辖县市）", city.name_zh()));
            "经营区域扩大到所辖县市 (operating area extended)"
        }
        CertType::JYXK | CertType::WXHW | CertType::FSX | CertType::WYJY => {
            changed.address = text(address(&mut g.rng, city));
            "经营地址变更 (operating address changed)"
        }
    };
    (changed, change)
}

/// Makes `r` non-conforming in a way typical of `cert_type`'s family and
/// returns the rule `validate` reports.
fn defect(g: &mut Generator, cert_type: CertType, r: &mut RawRecord) -> &'static str {
    use shared::domain::cert::Family;
    let kind = g.rng.below(3);
    match (cert_type.family(), kind) {
        (_, 2) => {
            // An impossible date from the agency's system.
            r.issue_date = text("20250230");
            "date.impossible_date"
        }
        (Family::Person, 0) => {
            // A wrong check digit, copied into the number for QC and WYJ.
            let id = r.id_number.clone().unwrap_or_default();
            let (body, last) = id.split_at(id.len().saturating_sub(1));
            let wrong = if last == "0" { "1" } else { "0" };
            let bad = format!("{body}{wrong}");
            if r.number.as_deref() == Some(id.as_str()) {
                r.number = text(&bad);
            }
            r.driving_licence_number = text(&bad);
            r.id_number = text(bad);
            "id_number.check_digit"
        }
        (Family::Person, _) => {
            r.name = None;
            "field.missing"
        }
        (Family::Vehicle, 0) => {
            // The letter O is not used on plates.
            let plate = r.plate.clone().unwrap_or_default();
            let mut chars: Vec<char> = plate.chars().collect();
            if let Some(c) = chars.get_mut(2) {
                *c = 'O';
            }
            r.plate = text(chars.into_iter().collect::<String>());
            "plate.character"
        }
        (Family::Vehicle, _) => {
            r.plate_colour = None;
            "field.missing"
        }
        (Family::Permit, 0) => {
            let uscc = r.uscc.clone().unwrap_or_default();
            let (body, last) = uscc.split_at(uscc.len().saturating_sub(1));
            let wrong = if last == "0" { "1" } else { "0" };
            r.uscc = text(format!("{body}{wrong}"));
            "uscc.check_digit"
        }
        (Family::Permit, _) => {
            r.holder_name = None;
            "field.missing"
        }
    }
}

fn subject_name(r: &RawRecord) -> String {
    r.name
        .clone()
        .or_else(|| r.holder_name.clone())
        .or_else(|| r.owner.clone())
        .unwrap_or_default()
}

fn planned(city: DivisionCode, cert_type: CertType, record: RawRecord, fate: Fate) -> Planned {
    Planned {
        city,
        cert_type,
        number: record.number.clone().unwrap_or_default(),
        subject_name: subject_name(&record),
        record,
        fate,
    }
}

/// The demo data set: a fixed seed, so the same on every call.
///
/// Per city: a freight, a passenger, a dangerous-goods and a ride-hailing
/// operator (operating permits), their vehicles, drivers with
/// qualification, taxi and ride-hailing driver certificates; radioactive
/// goods permits in Shenyang, Dalian and Anshan. About 5 % of the records
/// are non-conforming, about 3 % cancelled, 2 % suspended, 4 % changed
/// (a second version) and 1 % expired. Four holders (three people and a
/// company) hold several certificates each.
pub fn dataset() -> anyhow::Result<Dataset> {
    let mut g = Generator {
        rng: Rng(SEED),
        ids: HashSet::new(),
        plates: HashSet::new(),
        serial: HashMap::new(),
    };
    let mut records = Vec::new();
    let recent = (date!(2023 - 06 - 01), LATEST_ISSUE);
    let [shenyang, dalian, anshan] = [LIAONING_CITIES[0], LIAONING_CITIES[1], LIAONING_CITIES[2]];

    // The holders first: their certificates are current and valid, except
    // that 张志强's qualification certificate was changed (version 2).
    let fixed_person = |g: &mut Generator,
                        name: &str,
                        male: bool,
                        county: u32,
                        birth: Date,
                        city: DivisionCode|
     -> anyhow::Result<Person> {
        let id = id_number_for(county, birth, 123, male)?;
        g.ids.insert(id.clone());
        Ok(Person {
            name: name.to_owned(),
            male,
            id,
            birth,
            ethnicity: "汉族",
            address: address(&mut g.rng, city),
        })
    };
    let wang = fixed_person(
        &mut g,
        "王建国",
        true,
        210102,
        date!(1982 - 06 - 15),
        shenyang,
    )?;
    let li = fixed_person(
        &mut g,
        "李秀梅",
        false,
        210203,
        date!(1990 - 07 - 15),
        dalian,
    )?;
    let zhang = fixed_person(
        &mut g,
        "张志强",
        true,
        210302,
        date!(1978 - 09 - 23),
        anshan,
    )?;
    let mut shunda = g.company(shenyang, Business::Dangerous)?;
    shunda.name = "沈阳顺达物流有限公司".to_owned();
    let holder_dates = (date!(2025 - 06 - 01), LATEST_ISSUE);
    let mut holders = Vec::new();
    for (person, slug, city, types) in [
        (
            &wang,
            "wang-jianguo",
            shenyang,
            &[CertType::QC, CertType::XYJ][..],
        ),
        (&li, "li-xiumei", dalian, &[CertType::QC, CertType::WYJ]),
        (
            &zhang,
            "zhang-zhiqiang",
            anshan,
            &[CertType::QC, CertType::WYJ, CertType::XYJ],
        ),
    ] {
        let mut certificates = Vec::new();
        for &t in types {
            let issued = g.rng.date(holder_dates.0, holder_dates.1);
            let r = person_record(&mut g, t, city, person, issued)?;
            let fate = if slug == "zhang-zhiqiang" && t == CertType::QC {
                let (changed, change) = change_of(&mut g, t, city, &r);
                Fate::Updated {
                    changed: Box::new(changed),
                    change,
                }
            } else {
                Fate::Valid
            };
            let p = planned(city, t, r, fate);
            certificates.push((t, p.number.clone()));
            records.push(p);
        }
        holders.push(PlannedHolder {
            name: person.name.clone(),
            slug,
            subject: person.id.clone(),
            certificates,
        });
    }
    let mut certificates = Vec::new();
    for t in [CertType::JYXK, CertType::WXHW] {
        let issued = g.rng.date(holder_dates.0, holder_dates.1);
        let mut c = shunda.clone();
        c.business = if t == CertType::JYXK {
            Business::Freight
        } else {
            Business::Dangerous
        };
        let p = planned(
            shenyang,
            t,
            permit_record(&mut g, t, shenyang, &c, issued)?,
            Fate::Valid,
        );
        certificates.push((t, p.number.clone()));
        records.push(p);
    }
    holders.push(PlannedHolder {
        name: shunda.name.clone(),
        slug: "shunda-wuliu",
        subject: shunda.uscc.clone(),
        certificates,
    });
    let holder_records = records.len();

    for city in LIAONING_CITIES {
        let mut city_records: Vec<(CertType, RawRecord)> = Vec::new();
        let issue = |g: &mut Generator| g.rng.date(recent.0, recent.1);
        // Operators, their permits and vehicles.
        let mut operators = Vec::new();
        for business in [
            Business::Freight,
            Business::Freight,
            Business::Passenger,
            Business::Dangerous,
        ] {
            let c = g.company(city, business)?;
            let t = if business == Business::Dangerous {
                CertType::WXHW
            } else {
                CertType::JYXK
            };
            let issued = issue(&mut g);
            city_records.push((t, permit_record(&mut g, t, city, &c, issued)?));
            operators.push(c);
        }
        if [shenyang, dalian, anshan].contains(&city) {
            let c = g.company(city, Business::Radioactive)?;
            let issued = issue(&mut g);
            city_records.push((
                CertType::FSX,
                permit_record(&mut g, CertType::FSX, city, &c, issued)?,
            ));
            operators.push(c);
        }
        let platform = g.company(city, Business::RideHailing)?;
        let issued = issue(&mut g);
        city_records.push((
            CertType::WYJY,
            permit_record(&mut g, CertType::WYJY, city, &platform, issued)?,
        ));
        for i in 0..5 {
            let owner = &operators[i % operators.len()];
            let issued = issue(&mut g);
            city_records.push((CertType::YSZ, ysz_record(&mut g, city, owner, issued)?));
        }
        for i in 0..2 {
            let issued = issue(&mut g);
            let owner = if i == 0 {
                platform.name.clone()
            } else {
                g.person(city)?.name
            };
            city_records.push((CertType::WYY, wyy_record(&mut g, city, &owner, issued)?));
        }
        for t in [
            CertType::QC,
            CertType::QC,
            CertType::QC,
            CertType::QC,
            CertType::QC,
            CertType::WYJ,
            CertType::WYJ,
            CertType::WYJ,
            CertType::XYJ,
            CertType::XYJ,
        ] {
            let p = g.person(city)?;
            let issued = issue(&mut g);
            city_records.push((t, person_record(&mut g, t, city, &p, issued)?));
        }

        for (t, mut r) in city_records {
            let fate = match g.rng.below(100) {
                0..=5 => Fate::NonConforming {
                    rule: defect(&mut g, t, &mut r),
                },
                6..=8 => Fate::Revoked,
                9..=10 => Fate::Suspended,
                11..=14 => {
                    let (changed, change) = change_of(&mut g, t, city, &r);
                    Fate::Updated {
                        changed: Box::new(changed),
                        change,
                    }
                }
                15 => {
                    // Issued years ago: the validity has ended.
                    let issued = g.rng.date(date!(2017 - 03 - 01), date!(2019 - 06 - 30));
                    let years = if t == CertType::WYY { 6 } else { 5 };
                    r.issue_date = text(ymd(issued));
                    r.valid_from = text(ymd(issued));
                    r.valid_until = text(ymd(until(issued, years)));
                    if r.first_issue.is_some() {
                        r.first_issue = text(ymd(issued));
                    }
                    if r.inspection_valid_until.is_some() {
                        r.inspection_valid_until = text(ymd(plus_years(issued, 1)));
                    }
                    Fate::Expired
                }
                _ => Fate::Valid,
            };
            records.push(planned(city, t, r, fate));
        }
    }
    // The holders' records are pushed with their cities' records.
    let (holder_part, rest) = records.split_at(holder_records);
    let mut ordered = Vec::with_capacity(records.len());
    for city in LIAONING_CITIES {
        ordered.extend(holder_part.iter().filter(|p| p.city == city).cloned());
        ordered.extend(rest.iter().filter(|p| p.city == city).cloned());
    }
    Ok(Dataset {
        records: ordered,
        holders,
    })
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

/// A token the demo hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSpec {
    /// File name under [`DEMO_DIR`].
    pub file: String,
    /// Role.
    pub role: Role,
    /// Division (agency, officer).
    pub division: Option<DivisionCode>,
    /// Subject.
    pub subject: String,
}

/// Every token file of the demo.
pub fn token_specs(data: &Dataset) -> Vec<TokenSpec> {
    let spec = |file: String, role, division, subject: &str| TokenSpec {
        file,
        role,
        division,
        subject: subject.to_owned(),
    };
    let mut specs = vec![
        spec("admin-token".into(), Role::Admin, None, "demo admin"),
        spec("auditor-token".into(), Role::Auditor, None, "demo auditor"),
        spec(
            "officer-token".into(),
            Role::Officer,
            Some(LIAONING_CITIES[0]),
            "demo officer",
        ),
    ];
    for city in LIAONING_CITIES {
        specs.push(spec(
            format!("agency-{}-token", city.code()),
            Role::Agency,
            Some(city),
            &format!("demo agency {}", city.code()),
        ));
    }
    for h in &data.holders {
        specs.push(spec(
            format!("holder-{}-token", h.slug),
            Role::Holder,
            None,
            &h.subject,
        ));
    }
    specs
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a
/// reader sees the old content or the new, never a part.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("renaming {}", tmp.display()))
}

fn cli_audit(now: i64, action: &str, target: String, outcome: &str) -> AuditEntry {
    AuditEntry {
        client_addr: None,
        ts: now,
        token_id: None,
        role: Some("cli".into()),
        action: action.into(),
        target,
        outcome: outcome.into(),
    }
}

/// How long the demo's token files work: one year for every role (a demo
/// runs for days; an 8-hour administrator token would stop it mid-way). A
/// token file that no longer authenticates, expired included, is replaced
/// with a new token at the next `demo` start.
pub const DEMO_TOKEN_LIFETIME: i64 = 365 * 86_400;

/// The caller of a token file that still authenticates as `spec` says.
fn existing_token(
    state: &AppState,
    path: &Path,
    spec: &TokenSpec,
) -> anyhow::Result<Option<Caller>> {
    let token = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    Ok(
        match auth::authenticate(state.store(), Some(token.trim()), state.now())? {
            Ok(c)
                if c.role == spec.role
                    && c.division == spec.division
                    && c.subject == spec.subject =>
            {
                Some(c)
            }
            _ => None,
        },
    )
}

/// Makes sure every token file exists and authenticates; returns the
/// callers by file name and the files written.
fn ensure_tokens(
    state: &AppState,
    dir: &Path,
    specs: &[TokenSpec],
) -> anyhow::Result<(HashMap<String, Caller>, Vec<String>)> {
    let mut callers = HashMap::new();
    let mut written = Vec::new();
    for spec in specs {
        let path = dir.join(&spec.file);
        if let Some(caller) = existing_token(state, &path, spec)? {
            callers.insert(spec.file.clone(), caller);
            continue;
        }
        let now = state.now();
        let token = auth::generate_token();
        let meta_key = format!("demo.token.{}", spec.file);
        let mut tx = state.store().begin()?;
        // The token this file held before (lost or unusable) stops working.
        if let Some(old) = tx.meta(&meta_key)?.and_then(|v| v.parse::<i64>().ok()) {
            if tx
                .revoke_token(old, now)?
                .is_some_and(|r| r.revoked_at == Some(now))
            {
                tx.append_audit(&cli_audit(
                    now,
                    "demo: revoke-token",
                    format!("token {old} ({})", spec.file),
                    "ok: its file was missing or unusable",
                ))?;
            }
        }
        let id = tx.insert_token(&TokenRow {
            id: 0,
            hash: auth::hash_token(&token),
            role: spec.role.as_str().to_owned(),
            division: spec.division,
            subject: spec.subject.clone(),
            created_at: now,
            revoked_at: None,
            expires_at: now.saturating_add(DEMO_TOKEN_LIFETIME),
            last_used_at: None,
            prev_hash: None,
            prev_expires_at: None,
            rotated_at: None,
        })?;
        tx.set_meta(&meta_key, &id.to_string())?;
        tx.append_audit(&cli_audit(
            now,
            "demo: create-token",
            format!(
                "token {id} role={} division={} file={}",
                spec.role.as_str(),
                spec.division
                    .map_or_else(|| "-".to_owned(), |d| d.code().to_string()),
                spec.file
            ),
            "ok",
        ))?;
        tx.commit()?;
        write_file(&path, format!("{token}\n").as_bytes(), 0o600)?;
        written.push(spec.file.clone());
        callers.insert(
            spec.file.clone(),
            Caller {
                client_addr: None,
                token_id: id,
                role: spec.role,
                division: spec.division,
                province: state.province().division(),
                subject: spec.subject.clone(),
            },
        );
    }
    Ok((callers, written))
}

// ---------------------------------------------------------------------------
// Seeding
// ---------------------------------------------------------------------------

/// What seeding produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SeedCounts {
    /// Records pushed (first pushes).
    pub records: usize,
    /// E-certificates issued.
    pub issued: usize,
    /// Non-conforming records on the correction lists.
    pub non_conforming: usize,
    /// Changed records: a second version, the first superseded.
    pub updated: usize,
    /// Cancelled certificates.
    pub revoked: usize,
    /// Suspended certificates.
    pub suspended: usize,
    /// Certificates whose validity has ended.
    pub expired: usize,
}

impl SeedCounts {
    fn of(data: &Dataset) -> SeedCounts {
        let mut c = SeedCounts {
            records: data.records.len(),
            ..SeedCounts::default()
        };
        for p in &data.records {
            match p.fate {
                Fate::NonConforming { .. } => c.non_conforming += 1,
                Fate::Updated { .. } => c.updated += 1,
                Fate::Revoked => c.revoked += 1,
                Fate::Suspended => c.suspended += 1,
                Fate::Expired => c.expired += 1,
                Fate::Valid => {}
            }
        }
        c.issued = c.records - c.non_conforming;
        c
    }
}

fn push(
    state: &AppState,
    caller: &Caller,
    records: Vec<(&RawRecord, Outcome)>,
) -> anyhow::Result<()> {
    let values = records
        .iter()
        .map(|(r, _)| serde_json::to_value(r))
        .collect::<Result<Vec<_>, _>>()
        .context("encoding demo records")?;
    let answer =
        state.write(|store, keys, now| issuing::push(store, keys, caller, now, values, None))?;
    for (result, (record, expected)) in answer.results.iter().zip(&records) {
        ensure!(
            result.result == *expected,
            "demo record {:?} {:?} was {:?}, planned {expected:?}: {:?}",
            record.cert_type,
            record.number,
            result.result,
            result.reasons
        );
    }
    Ok(())
}

fn seed(
    state: &AppState,
    data: &Dataset,
    agencies: &HashMap<String, Caller>,
) -> anyhow::Result<()> {
    for city in LIAONING_CITIES {
        let file = format!("agency-{}-token", city.code());
        let caller = agencies
            .get(&file)
            .with_context(|| format!("no caller for {file}"))?;
        let mine: Vec<&Planned> = data.records.iter().filter(|p| p.city == city).collect();
        let first = mine
            .iter()
            .map(|p| {
                let outcome = match p.fate {
                    Fate::NonConforming { .. } => Outcome::NonConforming,
                    _ => Outcome::Issued,
                };
                (&p.record, outcome)
            })
            .collect();
        push(state, caller, first)?;
        let changes = mine
            .iter()
            .filter_map(|p| match &p.fate {
                Fate::Updated { changed, .. } => Some((changed.as_ref(), Outcome::Updated)),
                _ => None,
            })
            .collect::<Vec<_>>();
        if !changes.is_empty() {
            push(state, caller, changes)?;
        }
        for p in &mine {
            let change = match p.fate {
                Fate::Revoked => StatusChange::Revoked,
                Fate::Suspended => StatusChange::Suspended,
                _ => continue,
            };
            let done = state.write(|store, _, now| {
                issuing::change_status(
                    store,
                    caller,
                    now,
                    p.cert_type,
                    &p.number,
                    &shared::api::StatusRequest::to(change),
                )
            });
            if let Err(refused) = done? {
                bail!(
                    "{} {}: {change:?} refused: {refused:?}",
                    p.cert_type,
                    p.number
                );
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Samples
// ---------------------------------------------------------------------------

/// The verdict a verifier must give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Expected {
    /// `valid`, `invalid` or `cannot_confirm` ([`Verdict::as_str`]).
    pub verdict: &'static str,
    /// The [`Reason::code`], `null` for a valid certificate.
    pub reason: Option<&'static str>,
}

impl Expected {
    fn of(reason: Option<Reason>) -> Expected {
        Expected {
            verdict: reason.map_or(Verdict::Valid, Reason::verdict).as_str(),
            reason: reason.map(Reason::code),
        }
    }
}

/// One sample QR code of `index.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// The PNG, relative to the directory of `index.json`.
    pub file: String,
    /// The text the QR code holds.
    pub qr_text: String,
    /// Type code, e.g. `QC`.
    pub cert_type: String,
    /// Compact certificate number.
    pub number: String,
    /// The e-certificate version the QR code carries.
    pub version: u16,
    /// Whose certificate it is.
    pub subject_name: String,
    /// The last day of validity (`YYYY-MM-DD`): a `valid` expectation
    /// holds until the end of this day, China Standard Time.
    pub valid_until: String,
    /// What a verifier must answer.
    pub expected: Expected,
    /// Why, in words.
    pub why: String,
}

struct SampleSpec<'a> {
    label: &'static str,
    planned: &'a Planned,
    version: u16,
    reason: Option<Reason>,
    tamper: bool,
    why: String,
}

/// The last day of validity as `YYYY-MM-DD` (the records carry `YYYYMMDD`).
fn valid_until(p: &Planned) -> String {
    let d = p.record.valid_until.clone().unwrap_or_default();
    match (d.get(0..4), d.get(4..6), d.get(6..8)) {
        (Some(y), Some(m), Some(day)) if d.len() == 8 => format!("{y}-{m}-{day}"),
        _ => d,
    }
}

/// The samples: a valid certificate of each type (the one valid longest),
/// a changed certificate's current and superseded versions, a cancelled, a
/// suspended, an expired and a tampered one.
fn sample_specs(data: &Dataset) -> anyhow::Result<Vec<SampleSpec<'_>>> {
    let mut specs = Vec::new();
    for t in CertType::ALL {
        let p = data
            .records
            .iter()
            .filter(|p| p.cert_type == t && p.fate == Fate::Valid)
            .max_by(|a, b| {
                valid_until(a)
                    .cmp(&valid_until(b))
                    .then(std::cmp::Ordering::Greater)
            })
            .with_context(|| format!("the demo data has no valid {t}"))?;
        specs.push(SampleSpec {
            label: "valid",
            planned: p,
            version: 1,
            reason: None,
            tamper: false,
            why: format!("{}，有效期至 {}，状态有效", t.name_zh(), valid_until(p)),
        });
    }
    let first = |pred: &dyn Fn(&Fate) -> bool, what: &str| {
        data.records
            .iter()
            .find(|p| pred(&p.fate))
            .with_context(|| format!("the demo data has no {what} certificate"))
    };
    let updated = first(&|f| matches!(f, Fate::Updated { .. }), "changed")?;
    let change = match &updated.fate {
        Fate::Updated { change, .. } => *change,
        _ => "",
    };
    specs.push(SampleSpec {
        label: "current-v2",
        planned: updated,
        version: 2,
        reason: None,
        tamper: false,
        why: format!("变更后的第 2 版，现行有效：{change}"),
    });
    specs.push(SampleSpec {
        label: "superseded-v1",
        planned: updated,
        version: 1,
        reason: Some(Reason::Superseded),
        tamper: false,
        why: format!("第 1 版已被第 2 版取代（{change}）"),
    });
    let revoked = first(&|f| *f == Fate::Revoked, "cancelled")?;
    specs.push(SampleSpec {
        label: "revoked",
        planned: revoked,
        version: 1,
        reason: Some(Reason::Revoked),
        tamper: false,
        why: "发证机关已注销此证照".to_owned(),
    });
    let suspended = first(&|f| *f == Fate::Suspended, "suspended")?;
    specs.push(SampleSpec {
        label: "suspended",
        planned: suspended,
        version: 1,
        reason: Some(Reason::Suspended),
        tamper: false,
        why: "发证机关已暂停此证照".to_owned(),
    });
    let expired = first(&|f| *f == Fate::Expired, "expired")?;
    specs.push(SampleSpec {
        label: "expired",
        planned: expired,
        version: 1,
        reason: Some(Reason::Expired),
        tamper: false,
        why: format!("有效期已于 {} 届满", valid_until(expired)),
    });
    let genuine = specs
        .first()
        .map(|s| s.planned)
        .context("no valid sample")?;
    specs.push(SampleSpec {
        label: "tampered",
        planned: genuine,
        version: 1,
        reason: Some(Reason::BadSignature),
        tamper: true,
        why: "真实证照的签名被改动一个字节：伪造或篡改".to_owned(),
    });
    Ok(specs)
}

fn sample_file(i: usize, s: &SampleSpec<'_>) -> String {
    format!(
        "qr/{:02}-{}-{}.png",
        i + 1,
        s.planned.cert_type.code().to_ascii_lowercase(),
        s.label
    )
}

/// `index.json`.
#[derive(Debug, Serialize)]
struct Index {
    format: &'static str,
    about: &'static str,
    root_key: RootKey,
    counts: SeedCounts,
    samples: Vec<Sample>,
}

/// The root key verifiers pin, so a test can verify the trust list.
#[derive(Debug, Serialize)]
struct RootKey {
    alg: &'static str,
    kid: String,
    public_key: String,
}

#[derive(Debug, Serialize)]
struct HoldersFile {
    holders: Vec<HolderEntry>,
}

#[derive(Debug, Serialize)]
struct HolderEntry {
    name: String,
    token_file: String,
    subject: String,
    certificates: Vec<HolderCertificate>,
}

#[derive(Debug, Serialize)]
struct HolderCertificate {
    cert_type: String,
    number: String,
    version: u16,
    status: Status,
}

const ABOUT: &str = "Sample holder QR codes of the verifier-server demo. expected is what \
shared::verify must answer for the QR code with the server's current trust list and status \
list; see docs/demo.md.";

fn write_samples(state: &AppState, dir: &Path, data: &Dataset) -> anyhow::Result<usize> {
    let specs = sample_specs(data)?;
    let mut tx = state.store().begin()?;
    let mut samples = Vec::new();
    let mut images = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let p = s.planned;
        let row = tx
            .version(p.cert_type, &p.number, s.version)?
            .with_context(|| {
                format!("{} {} v{} is not stored", p.cert_type, p.number, s.version)
            })?;
        let mut envelope = row.signed;
        if s.tamper {
            // The last byte of a COSE_Sign1 is the signature's last byte.
            if let Some(b) = envelope.last_mut() {
                *b ^= 0x01;
            }
        }
        let qr_text = qrtext::encode(Kind::Certificate, &envelope);
        let file = sample_file(i, s);
        images.push((
            file.clone(),
            render_png(&qr_text, &RenderOptions::default())?,
        ));
        samples.push(Sample {
            file,
            qr_text,
            cert_type: p.cert_type.code().to_owned(),
            number: p.number.clone(),
            version: s.version,
            subject_name: p.subject_name.clone(),
            valid_until: valid_until(p),
            expected: Expected::of(s.reason),
            why: s.why.clone(),
        });
    }
    let mut holders = Vec::new();
    for h in &data.holders {
        let mut certificates = Vec::new();
        for (t, number) in &h.certificates {
            let c = tx
                .certificate(*t, number)?
                .with_context(|| format!("holder certificate {t} {number} is not stored"))?;
            certificates.push(HolderCertificate {
                cert_type: t.code().to_owned(),
                number: number.clone(),
                version: c.version,
                status: c.status,
            });
        }
        holders.push(HolderEntry {
            name: h.name.clone(),
            token_file: format!("holder-{}-token", h.slug),
            subject: h.subject.clone(),
            certificates,
        });
    }
    tx.append_audit(&cli_audit(
        state.now(),
        "demo: write-samples",
        format!(
            "{} sample QR codes, {} holders",
            samples.len(),
            holders.len()
        ),
        "ok",
    ))?;
    tx.commit()?;

    for (file, png) in &images {
        write_file(&dir.join(file), png, 0o600)?;
    }
    let root = state.root_public_key();
    let index = Index {
        format: INDEX_FORMAT,
        about: ABOUT,
        root_key: RootKey {
            alg: root.alg().name(),
            kid: root.kid().to_hex(),
            public_key: hex::encode(root.to_bytes()),
        },
        counts: SeedCounts::of(data),
        samples,
    };
    write_file(
        &dir.join(HOLDERS_FILE),
        &pretty(&HoldersFile { holders })?,
        0o600,
    )?;
    // Last: its presence says the samples are complete.
    write_file(&dir.join(INDEX_FILE), &pretty(&index)?, 0o600)?;
    Ok(images.len())
}

/// Pretty JSON with a trailing newline, for the files people read.
fn pretty(v: &impl Serialize) -> anyhow::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(v).context("encoding json")?;
    bytes.push(b'\n');
    Ok(bytes)
}

// ---------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------

/// What [`prepare`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// `DIR/demo`.
    pub dir: PathBuf,
    /// Whether this run seeded the records (false: seeded before).
    pub seeded: bool,
    /// The records of the data set.
    pub counts: SeedCounts,
    /// Token files written this run (new tokens).
    pub tokens_written: Vec<String>,
    /// Token files kept.
    pub tokens_kept: usize,
    /// Sample QR codes written this run (0: all were present).
    pub samples_written: usize,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.counts;
        if self.seeded {
            writeln!(
                f,
                "demo: seeded {} records: {} certificates issued, {} non-conforming, \
                 {} changed, {} cancelled, {} suspended, {} expired",
                c.records, c.issued, c.non_conforming, c.updated, c.revoked, c.suspended, c.expired
            )?;
        } else {
            writeln!(f, "demo: already seeded, nothing pushed")?;
        }
        writeln!(
            f,
            "demo: tokens in {}: {} new, {} kept",
            self.dir.display(),
            self.tokens_written.len(),
            self.tokens_kept
        )?;
        if self.samples_written > 0 {
            write!(
                f,
                "demo: {} sample QR codes, see {}",
                self.samples_written,
                self.dir.join(INDEX_FILE).display()
            )
        } else {
            write!(
                f,
                "demo: sample QR codes kept ({})",
                self.dir.join(INDEX_FILE).display()
            )
        }
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

/// Seeds the data directory of `state` (once) and writes `data/demo/`; see
/// the module documentation. Blocking: call it from the blocking pool.
pub fn prepare(data: &Path, state: &AppState) -> anyhow::Result<Report> {
    let dir = data.join(DEMO_DIR);
    create_private_dir(&dir.join("qr"))?;
    let set = dataset()?;
    let specs = token_specs(&set);
    let (callers, tokens_written) = ensure_tokens(state, &dir, &specs)?;

    let (marker, certificates) = {
        let mut tx = state.store().begin()?;
        let marker = tx.meta(SEED_MARKER.0)?;
        let certificates = tx.counts()?.certificates;
        tx.commit()?;
        (marker, certificates)
    };
    let seeded = match marker.as_deref() {
        Some(v) if v == SEED_MARKER.1 => false,
        Some(other) => bail!(
            "{} was seeded by demo data format {other}, this is format {}; use a new directory",
            data.display(),
            SEED_MARKER.1
        ),
        None if certificates > 0 => bail!(
            "{} already holds {certificates} certificates that are not the demo's \
             (or an earlier demo run stopped half-way); use a new directory",
            data.display()
        ),
        None => {
            let today = shared::cst::date(state.now());
            ensure!(
                today >= LATEST_ISSUE,
                "the clock says {today}, before the demo records' issue dates (up to {LATEST_ISSUE})"
            );
            seed(state, &set, &callers)?;
            seed::seed_year(state).context("seeding the evaluation year")?;
            let counts = SeedCounts::of(&set);
            let mut tx = state.store().begin()?;
            tx.set_meta(SEED_MARKER.0, SEED_MARKER.1)?;
            tx.append_audit(&cli_audit(
                state.now(),
                "demo: seed",
                format!("{} records", counts.records),
                "ok",
            ))?;
            tx.commit()?;
            true
        }
    };

    let specs_for_files = sample_specs(&set)?;
    let complete = [INDEX_FILE, HOLDERS_FILE]
        .iter()
        .map(|f| dir.join(f))
        .chain(
            specs_for_files
                .iter()
                .enumerate()
                .map(|(i, s)| dir.join(sample_file(i, s))),
        )
        .all(|p| p.is_file());
    let samples_written = if seeded || !complete {
        write_samples(state, &dir, &set)?
    } else {
        0
    };
    Ok(Report {
        dir,
        seeded,
        counts: SeedCounts::of(&set),
        tokens_kept: specs.len() - tokens_written.len(),
        tokens_written,
        samples_written,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use shared::domain::validate::validate;

    #[test]
    fn the_dataset_is_deterministic_and_as_planned_by_the_validator() {
        let a = dataset().unwrap();
        assert_eq!(a, dataset().unwrap());
        let counts = SeedCounts::of(&a);
        assert!((250..=400).contains(&counts.records), "{counts:?}");
        for n in [
            counts.non_conforming,
            counts.updated,
            counts.revoked,
            counts.suspended,
            counts.expired,
        ] {
            assert!(n >= 1, "{counts:?}");
        }
        // About 5 % non-conforming.
        assert!((8..=30).contains(&counts.non_conforming), "{counts:?}");
        let mut numbers = HashSet::new();
        for p in &a.records {
            let checked = validate(&p.record, LATEST_ISSUE);
            match &p.fate {
                Fate::NonConforming { rule } => {
                    let reasons = checked.expect_err("planned non-conforming");
                    assert!(
                        reasons.iter().any(|r| r.rule == *rule),
                        "{} {}: {rule} not in {reasons:?}",
                        p.cert_type,
                        p.number
                    );
                }
                other => {
                    let d =
                        checked.unwrap_or_else(|e| panic!("{} {}: {e:?}", p.cert_type, p.number));
                    assert_eq!(d.number, p.number);
                    assert!(
                        numbers.insert((p.cert_type, p.number.clone())),
                        "duplicate {}",
                        p.number
                    );
                    if let Fate::Updated { changed, .. } = other {
                        let d2 = validate(changed, LATEST_ISSUE).unwrap();
                        assert_ne!(d, d2);
                        assert_eq!(d2.number, p.number);
                    }
                    let until = d.valid_until.expect("dated");
                    assert_eq!(
                        *other == Fate::Expired,
                        until < LATEST_ISSUE,
                        "{}",
                        p.number
                    );
                }
            }
        }
        // Every type has a valid certificate, and every holder several.
        for t in CertType::ALL {
            assert!(
                a.records
                    .iter()
                    .any(|p| p.cert_type == t && p.fate == Fate::Valid),
                "{t}"
            );
        }
        assert_eq!(a.holders.len(), 4);
        for h in &a.holders {
            assert!(h.certificates.len() >= 2, "{}", h.name);
        }
    }

    #[test]
    fn generated_identifiers_carry_correct_check_characters() {
        // GB 11714: the organisation code in the reference record's credit
        // code 91210106MA0XN3K249 is MA0XN3K2 with check character 4.
        assert_eq!(org_check("MA0XN3K2"), Some('4'));
        // ISO 3779 example: 1M8GDM9A_KP042788 has check digit X.
        let body = "1M8GDM9AXKP042788";
        let sum: u32 = body
            .chars()
            .zip([8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2])
            .map(|(c, w)| vin_value(c) * w)
            .sum();
        assert_eq!(sum % 11, 10);
        let mut rng = Rng(1);
        let v = vin(&mut rng, "LGX", LATEST_ISSUE);
        let sum: u32 = v
            .chars()
            .zip([8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2])
            .map(|(c, w)| vin_value(c) * w)
            .sum();
        let check = v.chars().nth(8).unwrap();
        assert_eq!(check, char::from_digit(sum % 11, 10).unwrap_or('X'), "{v}");
        let u = company_uscc(&mut rng, 210102).unwrap();
        Uscc::parse(&u).unwrap();
        assert_eq!(org_check(&u[8..16]), u.chars().nth(16));
    }
}
