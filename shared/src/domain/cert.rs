//! The nine certificate types (§3.2) and the typed data of one certificate.
//!
//! A [`CertificateData`] can only be built from checked parts: every
//! identifier in it is one of the parse-don't-validate types of
//! [`super::ids`]. The non-conformance checker ([`super::validate`]) is the
//! one place where an agency's raw record becomes a `CertificateData`.

use serde::{Deserialize, Serialize};
use time::Date;

use super::ids::{DivisionCode, IdNumber, PlateColour, PlateNumber, ScopeCode, Sex, Tonnage, Uscc};

/// Which family of face fields a certificate type has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// A person: practitioner qualification and driver cards (JT/T 1290).
    Person,
    /// A vehicle: transport certificates (JT/T 1292).
    Vehicle,
    /// An operator: operating permits (JT/T 1291).
    Permit,
}

/// The nine road-transport certificate types. The short codes are this
/// project's own; the wire code is the small integer carried in the QR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub enum CertType {
    /// 道路运输从业人员从业资格证
    QC,
    /// 网络预约出租汽车驾驶员证
    WYJ,
    /// 巡游出租汽车驾驶员证
    XYJ,
    /// 道路运输证
    YSZ,
    /// 网络预约出租汽车运输证
    WYY,
    /// 道路运输经营许可证
    JYXK,
    /// 道路危险货物运输许可证
    WXHW,
    /// 放射性物品道路运输许可证
    FSX,
    /// 网络预约出租汽车经营许可证
    WYJY,
}

impl CertType {
    /// All nine types in wire-code order.
    pub const ALL: [CertType; 9] = [
        CertType::QC,
        CertType::WYJ,
        CertType::XYJ,
        CertType::YSZ,
        CertType::WYY,
        CertType::JYXK,
        CertType::WXHW,
        CertType::FSX,
        CertType::WYJY,
    ];

    /// The small integer carried in the QR claims (1–9).
    pub fn wire_code(self) -> u8 {
        match self {
            CertType::QC => 1,
            CertType::WYJ => 2,
            CertType::XYJ => 3,
            CertType::YSZ => 4,
            CertType::WYY => 5,
            CertType::JYXK => 6,
            CertType::WXHW => 7,
            CertType::FSX => 8,
            CertType::WYJY => 9,
        }
    }

    /// The type for a wire code, if it is one of the nine.
    pub fn from_wire_code(code: u64) -> Option<CertType> {
        CertType::ALL
            .into_iter()
            .find(|t| u64::from(t.wire_code()) == code)
    }

    /// The project's short code, e.g. `"YSZ"`.
    pub fn code(self) -> &'static str {
        match self {
            CertType::QC => "QC",
            CertType::WYJ => "WYJ",
            CertType::XYJ => "XYJ",
            CertType::YSZ => "YSZ",
            CertType::WYY => "WYY",
            CertType::JYXK => "JYXK",
            CertType::WXHW => "WXHW",
            CertType::FSX => "FSX",
            CertType::WYJY => "WYJY",
        }
    }

    /// The type for a short code such as `"YSZ"` (case-sensitive).
    pub fn from_code(code: &str) -> Option<CertType> {
        CertType::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The official Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            CertType::QC => "道路运输从业人员从业资格证",
            CertType::WYJ => "网络预约出租汽车驾驶员证",
            CertType::XYJ => "巡游出租汽车驾驶员证",
            CertType::YSZ => "道路运输证",
            CertType::WYY => "网络预约出租汽车运输证",
            CertType::JYXK => "道路运输经营许可证",
            CertType::WXHW => "道路危险货物运输许可证",
            CertType::FSX => "放射性物品道路运输许可证",
            CertType::WYJY => "网络预约出租汽车经营许可证",
        }
    }

    /// An English name.
    pub fn name_en(self) -> &'static str {
        match self {
            CertType::QC => "Road transport practitioner qualification certificate",
            CertType::WYJ => "Ride-hailing driver certificate",
            CertType::XYJ => "Street-hail taxi driver certificate",
            CertType::YSZ => "Vehicle road transport certificate",
            CertType::WYY => "Ride-hailing vehicle transport certificate",
            CertType::JYXK => "Road transport operating permit",
            CertType::WXHW => "Dangerous goods road transport permit",
            CertType::FSX => "Radioactive goods road transport permit",
            CertType::WYJY => "Ride-hailing operating permit",
        }
    }

    /// The national data standard the type follows.
    pub fn standard(self) -> &'static str {
        match self.family() {
            Family::Person => "JT/T 1290-2019",
            Family::Vehicle => "JT/T 1292-2019",
            Family::Permit => "JT/T 1291-2019",
        }
    }

    /// The family of face fields.
    pub fn family(self) -> Family {
        match self {
            CertType::QC | CertType::WYJ | CertType::XYJ => Family::Person,
            CertType::YSZ | CertType::WYY => Family::Vehicle,
            CertType::JYXK | CertType::WXHW | CertType::FSX | CertType::WYJY => Family::Permit,
        }
    }
}

impl std::fmt::Display for CertType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// The issuing authority of a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issuer {
    /// Administrative division (GB/T 2260) of the authority.
    pub division: DivisionCode,
    /// The authority's unified social credit code: the issuer code of the
    /// GB/T 36904 identifier.
    pub uscc: Uscc,
    /// The authority's name, e.g. 沈阳市交通运输局. Not carried in the QR:
    /// verifiers show the name registered for the division.
    pub name: String,
}

/// Face fields (照面信息) of a person's certificate (QC, WYJ, XYJ).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonFace {
    /// 姓名 (in the QR).
    pub name: String,
    /// 性别 (in the QR).
    pub sex: Sex,
    /// 公民身份号码 (in the QR).
    pub id_number: IdNumber,
    /// 准驾车型, e.g. `A1A2` (in the QR).
    pub vehicle_classes: Option<String>,
    /// 从业资格类别 as codes (in the QR; QC only). See
    /// [`super::catalogue::QUALIFICATION_CLASSES`].
    pub qualification_classes: Vec<u8>,
    /// 国籍 (not in the QR).
    pub nationality: Option<String>,
    /// 民族 (not in the QR).
    pub ethnicity: Option<String>,
    /// 住址 (not in the QR).
    pub address: Option<String>,
    /// 驾驶证号 (not in the QR).
    pub driving_licence_number: Option<String>,
    /// 档案号 (not in the QR).
    pub file_number: Option<String>,
}

/// Face fields of a vehicle's certificate (YSZ, WYY).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VehicleFace {
    /// 业户名称 / 车辆所有人 (in the QR).
    pub owner: String,
    /// 车牌号码 (in the QR).
    pub plate: PlateNumber,
    /// 车牌颜色 (in the QR).
    pub plate_colour: PlateColour,
    /// 车辆类型, GA/T 16.4 code or name (not in the QR: plate, capacity and
    /// scope identify the vehicle at the roadside). Mandatory in a record;
    /// `None` only in claims read from a QR.
    pub vehicle_type: Option<String>,
    /// 核定座位 (in the QR when present).
    pub seats: Option<u16>,
    /// 吨位 (in the QR when present).
    pub tonnage: Option<Tonnage>,
    /// 经营范围, JT/T 415 codes (in the QR).
    pub business_scope: Vec<ScopeCode>,
    /// 审验有效期至 (in the QR when present).
    pub inspection_valid_until: Option<Date>,
    /// 业户地址 (not in the QR).
    pub owner_address: Option<String>,
    /// 经营许可证号, 12 digits (not in the QR).
    pub operating_permit_number: Option<String>,
    /// 车辆识别代号 VIN, 17 characters (not in the QR).
    pub vin: Option<String>,
    /// 品牌型号 (not in the QR).
    pub make_model: Option<String>,
    /// 经营区域 (not in the QR).
    pub operating_area: Option<String>,
    /// 经济类型, GB/T 12402 (not in the QR).
    pub economic_type: Option<String>,
}

/// Face fields of an operating permit (JYXK, WXHW, FSX, WYJY).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermitFace {
    /// 业户名称 (in the QR).
    pub holder_name: String,
    /// 统一社会信用代码 (in the QR).
    pub uscc: Uscc,
    /// 经营范围, JT/T 415 codes (in the QR).
    pub business_scope: Vec<ScopeCode>,
    /// 经营区域 (not in the QR: it can run to a list of districts; shown in
    /// the holder's wallet).
    pub operating_area: Option<String>,
    /// 地址 (not in the QR).
    pub address: Option<String>,
    /// 经济类型 (not in the QR).
    pub economic_type: Option<String>,
}

/// The face fields of one certificate, by family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum Face {
    /// QC, WYJ, XYJ.
    Person(PersonFace),
    /// YSZ, WYY.
    Vehicle(VehicleFace),
    /// JYXK, WXHW, FSX, WYJY.
    Permit(PermitFace),
}

impl Face {
    /// The family of these face fields.
    pub fn family(&self) -> Family {
        match self {
            Face::Person(_) => Family::Person,
            Face::Vehicle(_) => Family::Vehicle,
            Face::Permit(_) => Family::Permit,
        }
    }

    /// The name a person would read first: holder, owner or operator.
    pub fn subject_name(&self) -> &str {
        match self {
            Face::Person(p) => &p.name,
            Face::Vehicle(v) => &v.owner,
            Face::Permit(p) => &p.holder_name,
        }
    }
}

/// A conforming certificate record: everything the province signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateData {
    /// Which of the nine types.
    pub cert_type: CertType,
    /// 证照编号 in its compact form (the variable part; the catalogue's
    /// template renders the printed number).
    pub number: String,
    /// The issuing authority.
    pub issuer: Issuer,
    /// 初次领证日期, when known (not carried in the QR).
    pub first_issue: Option<Date>,
    /// 发证日期 (the QR carries the signing time instead).
    pub issue_date: Date,
    /// 有效期起.
    pub valid_from: Date,
    /// 有效期至; `None` means long-term (长期).
    pub valid_until: Option<Date>,
    /// Version of the e-certificate, 1 for the first; the identifier's
    /// 3-digit version.
    pub version: u16,
    /// Face fields.
    pub face: Face,
}

impl CertificateData {
    /// The GB/T 36904 identifier of this version of the certificate.
    pub fn identifier(&self) -> Result<super::ids::CertIdentifier, super::ids::ParseError> {
        super::ids::CertIdentifier::build(
            self.cert_type.identifier_type_code(),
            self.issuer.uscc.as_str(),
            &self.number,
            self.version,
        )
    }
}
