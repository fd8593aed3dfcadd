//! The audited actions, each spelled once: what an audit row's `action`
//! says. HTTP actions read as the route (`POST /api/v1/records`), command-
//! line ones as the command (`rotate-key`), demo ones with `demo: `.

use crate::store::AuditEntry;

/// An audited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `POST /api/v1/records`.
    PushRecords,
    /// `POST /api/v1/certificates/{cert_type}/{number}/status`.
    ChangeStatus,
    /// `GET /api/v1/certificates/{cert_type}/{number}`.
    ReadCertificate,
    /// `GET /api/v1/certificates/{cert_type}/{number}/history`.
    ReadHistory,
    /// `POST /api/v1/uploads`.
    UploadRecords,
    /// `GET /api/v1/uploads/{id}/report.csv`.
    ReadUploadReport,
    /// `GET /api/v1/nonconforming`.
    ReadNonconforming,
    /// `GET /api/v1/agencies/pushes`.
    ReadAgencyPushes,
    /// `GET /api/v1/audit`.
    ReadAudit,
    /// `POST /api/v1/devices`.
    EnrollDevice,
    /// `GET /api/v1/devices`.
    ListDevices,
    /// `POST /api/v1/devices/{id}/revoke` and `verifier-server admin revoke-device`.
    RevokeDevice,
    /// `POST /api/v1/verification-logs`.
    UploadLogs,
    /// `GET /api/v1/verification-logs/head`.
    ReadLogHead,
    /// `POST /api/v1/peer/check-logs`: a batch forwarded by another province.
    ReceiveForwarded,
    /// `GET /api/v1/verification-logs`.
    ReadLogs,
    /// `GET /api/v1/lookup`.
    Lookup,
    /// `GET /api/v1/holder/certificates`.
    HolderCertificates,
    /// `GET /api/v1/holder/certificates/{cert_type}/{number}/qr.png`.
    HolderQrPng,
    /// `GET /api/v1/holder/certificates/{cert_type}/{number}/qr.svg`.
    HolderQrSvg,
    /// `POST /api/v1/holder/devices`.
    HolderBindDevice,
    /// `GET /api/v1/evaluation`.
    ReadEvaluation,
    /// `POST /api/v1/evaluation/training`.
    RecordTraining,
    /// `PUT /api/v1/evaluation/declared`.
    RecordDeclared,
    /// `POST /api/v1/evaluation/complaints`.
    RecordComplaint,
    /// `POST /admin/dashboard`.
    PostDashboard,
    /// `POST /api/v1/agency/outages`.
    ReportOutage,
    /// `GET /api/v1/agency/outages`.
    ListOutages,
    /// `POST /api/v1/evaluation/evidence`.
    UploadEvidence,
    /// `GET /api/v1/evaluation/evidence/{sha256}`.
    ReadEvidence,
    /// `GET /admin/dashboard/view`.
    ViewDashboard,
    /// `GET /admin/dashboard/export`.
    ExportDashboard,
    /// `GET /admin/dashboard/agency/{division}`.
    ViewAgency,
    /// `POST /admin/dashboard/training`.
    DashboardTraining,
    /// `POST /admin/dashboard/declared`.
    DashboardDeclared,
    /// `POST /admin/dashboard/complaints`.
    DashboardComplaint,
    /// `GET /admin/dashboard/evidence/{sha256}`.
    DashboardEvidence,
    /// `POST /api/v1/applications`.
    RegisterApplication,
    /// `GET /api/v1/applications`.
    ListApplications,
    /// `POST /api/v1/applications/{client_id}/keys`.
    AddApplicationKey,
    /// `POST /api/v1/applications/{client_id}/keys/{kid}/revoke`.
    RevokeApplicationKey,
    /// `POST /api/v1/applications/{client_id}/revoke`.
    RevokeApplication,
    /// `POST /api/v1/oauth/token` (public: the client assertion is the
    /// credential).
    IssueApplicationToken,
    /// `POST /api/v1/holder/sign-in` (public: the identity provider's
    /// assertion is the credential).
    HolderSignIn,
    /// `GET /api/v1/app/registration`.
    ReadOwnApplication,
    /// `POST /api/v1/holder/grants`.
    HolderGrant,
    /// `GET /api/v1/holder/grants`.
    HolderGrants,
    /// `POST /api/v1/holder/grants/{id}/revoke`.
    HolderRevokeGrant,
    /// `POST /api/v1/holder/delegations`.
    HolderDelegate,
    /// `GET /api/v1/holder/delegations`.
    HolderDelegations,
    /// `POST /api/v1/holder/delegations/{id}/revoke`.
    HolderRevokeDelegation,
    /// `GET /api/v1/holder/applications`.
    HolderApplications,
    /// `POST /api/v1/agency/authorisations`.
    AgencyAuthorise,
    /// `GET /api/v1/agency/authorisations`.
    AgencyAuthorisations,
    /// `POST /api/v1/agency/authorisations/{id}/revoke`.
    AgencyRevokeAuthorisation,
    /// `GET /api/v1/app/grants`.
    AppGrants,
    /// `GET /api/v1/app/certificates/{cert_type}/{number}`.
    AppCertificate,
    /// `POST /api/v1/app/verify`.
    AppVerify,
    /// `GET /api/v1/app/changes`.
    AppChanges,
    /// `verifier-server admin create-token`.
    CreateToken,
    /// `verifier-server admin list-tokens`.
    ListTokens,
    /// `verifier-server admin revoke-token`.
    RevokeToken,
    /// `verifier-server admin rotate-token`.
    RotateToken,
    /// `verifier-server admin rotate-key`.
    RotateKey,
    /// `verifier-server admin purge` (and the daily purge inside `serve`).
    Purge,
    /// `verifier-server admin compromise-key`.
    CompromiseKey,
    /// `verifier-server admin evaluate`.
    Evaluate,
    /// A refused request to a path without an action of its own (an
    /// unknown path, a public page).
    OtherRequest,
    /// The count of one address's refused requests in one minute beyond
    /// those audited one by one.
    RefusalsCounted,
}

impl Action {
    /// The spelling stored in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::PushRecords => "POST /api/v1/records",
            Action::ChangeStatus => "POST /api/v1/certificates/{cert_type}/{number}/status",
            Action::ReadCertificate => "GET /api/v1/certificates/{cert_type}/{number}",
            Action::ReadHistory => "GET /api/v1/certificates/{cert_type}/{number}/history",
            Action::UploadRecords => "POST /api/v1/uploads",
            Action::ReadUploadReport => "GET /api/v1/uploads/{id}/report.csv",
            Action::ReadNonconforming => "GET /api/v1/nonconforming",
            Action::ReadAgencyPushes => "GET /api/v1/agencies/pushes",
            Action::ReadAudit => "GET /api/v1/audit",
            Action::EnrollDevice => "POST /api/v1/devices",
            Action::ListDevices => "GET /api/v1/devices",
            Action::RevokeDevice => "POST /api/v1/devices/{id}/revoke",
            Action::UploadLogs => "POST /api/v1/verification-logs",
            Action::ReadLogHead => "GET /api/v1/verification-logs/head",
            Action::ReceiveForwarded => "POST /api/v1/peer/check-logs",
            Action::ReadLogs => "GET /api/v1/verification-logs",
            Action::Lookup => "GET /api/v1/lookup",
            Action::HolderCertificates => "GET /api/v1/holder/certificates",
            Action::HolderQrPng => "GET /api/v1/holder/certificates/{cert_type}/{number}/qr.png",
            Action::HolderQrSvg => "GET /api/v1/holder/certificates/{cert_type}/{number}/qr.svg",
            Action::HolderBindDevice => "POST /api/v1/holder/devices",
            Action::ReadEvaluation => "GET /api/v1/evaluation",
            Action::RecordTraining => "POST /api/v1/evaluation/training",
            Action::RecordDeclared => "PUT /api/v1/evaluation/declared",
            Action::RecordComplaint => "POST /api/v1/evaluation/complaints",
            Action::PostDashboard => "POST /admin/dashboard",
            Action::ReportOutage => "POST /api/v1/agency/outages",
            Action::ListOutages => "GET /api/v1/agency/outages",
            Action::UploadEvidence => "POST /api/v1/evaluation/evidence",
            Action::ReadEvidence => "GET /api/v1/evaluation/evidence/{sha256}",
            Action::ViewDashboard => "GET /admin/dashboard/view",
            Action::ExportDashboard => "GET /admin/dashboard/export",
            Action::ViewAgency => "GET /admin/dashboard/agency/{division}",
            Action::DashboardTraining => "POST /admin/dashboard/training",
            Action::DashboardDeclared => "POST /admin/dashboard/declared",
            Action::DashboardComplaint => "POST /admin/dashboard/complaints",
            Action::DashboardEvidence => "GET /admin/dashboard/evidence/{sha256}",
            Action::RegisterApplication => "POST /api/v1/applications",
            Action::ListApplications => "GET /api/v1/applications",
            Action::AddApplicationKey => "POST /api/v1/applications/{client_id}/keys",
            Action::RevokeApplicationKey => {
                "POST /api/v1/applications/{client_id}/keys/{kid}/revoke"
            }
            Action::RevokeApplication => "POST /api/v1/applications/{client_id}/revoke",
            Action::IssueApplicationToken => "POST /api/v1/oauth/token",
            Action::HolderSignIn => "POST /api/v1/holder/sign-in",
            Action::ReadOwnApplication => "GET /api/v1/app/registration",
            Action::HolderGrant => "POST /api/v1/holder/grants",
            Action::HolderGrants => "GET /api/v1/holder/grants",
            Action::HolderRevokeGrant => "POST /api/v1/holder/grants/{id}/revoke",
            Action::HolderDelegate => "POST /api/v1/holder/delegations",
            Action::HolderDelegations => "GET /api/v1/holder/delegations",
            Action::HolderRevokeDelegation => "POST /api/v1/holder/delegations/{id}/revoke",
            Action::HolderApplications => "GET /api/v1/holder/applications",
            Action::AgencyAuthorise => "POST /api/v1/agency/authorisations",
            Action::AgencyAuthorisations => "GET /api/v1/agency/authorisations",
            Action::AgencyRevokeAuthorisation => "POST /api/v1/agency/authorisations/{id}/revoke",
            Action::AppGrants => "GET /api/v1/app/grants",
            Action::AppCertificate => "GET /api/v1/app/certificates/{cert_type}/{number}",
            Action::AppVerify => "POST /api/v1/app/verify",
            Action::AppChanges => "GET /api/v1/app/changes",
            Action::CreateToken => "create-token",
            Action::ListTokens => "list-tokens",
            Action::RevokeToken => "revoke-token",
            Action::RotateToken => "rotate-token",
            Action::RotateKey => "rotate-key",
            Action::Purge => "purge",
            Action::CompromiseKey => "compromise-key",
            Action::Evaluate => "admin evaluate",
            Action::OtherRequest => "other request",
            Action::RefusalsCounted => "refused requests counted",
        }
    }

    /// The actions of HTTP routes.
    pub const ROUTES: [Action; 59] = [
        Action::PushRecords,
        Action::ChangeStatus,
        Action::ReadCertificate,
        Action::ReadHistory,
        Action::UploadRecords,
        Action::ReadUploadReport,
        Action::ReadNonconforming,
        Action::ReadAgencyPushes,
        Action::ReadAudit,
        Action::EnrollDevice,
        Action::ListDevices,
        Action::RevokeDevice,
        Action::UploadLogs,
        Action::ReadLogHead,
        Action::ReceiveForwarded,
        Action::ReadLogs,
        Action::Lookup,
        Action::HolderCertificates,
        Action::HolderQrPng,
        Action::HolderQrSvg,
        Action::HolderBindDevice,
        Action::ReadEvaluation,
        Action::RecordTraining,
        Action::RecordDeclared,
        Action::RecordComplaint,
        Action::PostDashboard,
        Action::ReportOutage,
        Action::ListOutages,
        Action::UploadEvidence,
        Action::ReadEvidence,
        Action::ViewDashboard,
        Action::ExportDashboard,
        Action::ViewAgency,
        Action::DashboardTraining,
        Action::DashboardDeclared,
        Action::DashboardComplaint,
        Action::DashboardEvidence,
        Action::RegisterApplication,
        Action::ListApplications,
        Action::AddApplicationKey,
        Action::RevokeApplicationKey,
        Action::RevokeApplication,
        Action::IssueApplicationToken,
        Action::HolderSignIn,
        Action::ReadOwnApplication,
        Action::HolderGrant,
        Action::HolderGrants,
        Action::HolderRevokeGrant,
        Action::HolderDelegate,
        Action::HolderDelegations,
        Action::HolderRevokeDelegation,
        Action::HolderApplications,
        Action::AgencyAuthorise,
        Action::AgencyAuthorisations,
        Action::AgencyRevokeAuthorisation,
        Action::AppGrants,
        Action::AppCertificate,
        Action::AppVerify,
        Action::AppChanges,
    ];

    /// The routes without a bearer token whose requests and refusals are
    /// audited with their own action: the credential is in the body (a
    /// signed assertion, a peer province's signed batch), in the sign-in
    /// form, or in the dashboard's cookie.
    pub const PUBLIC_ROUTES: [Action; 11] = [
        Action::PostDashboard,
        Action::ViewDashboard,
        Action::ExportDashboard,
        Action::ViewAgency,
        Action::DashboardTraining,
        Action::DashboardDeclared,
        Action::DashboardComplaint,
        Action::DashboardEvidence,
        Action::ReceiveForwarded,
        Action::IssueApplicationToken,
        Action::HolderSignIn,
    ];

    /// The action of a route: `method` and the route's path template as
    /// registered (`/api/v1/certificates/{cert_type}/{number}`).
    pub fn from_route(method: &str, route: &str) -> Option<Action> {
        Action::ROUTES.into_iter().find(|a| {
            a.as_str()
                .split_once(' ')
                .is_some_and(|(m, r)| m == method && r == route)
        })
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Action> for String {
    fn from(a: Action) -> String {
        a.as_str().to_string()
    }
}

/// The audit row of a command-line administration command: role `cli`,
/// no token. Every `admin` command writes it in its own transaction.
pub fn cli_entry(now: i64, action: Action, target: String, outcome: &str) -> AuditEntry {
    AuditEntry {
        client_addr: None,
        ts: now,
        token_id: None,
        role: Some("cli".into()),
        action: action.as_str().into(),
        target,
        outcome: outcome.into(),
    }
}
