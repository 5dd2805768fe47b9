//! Handlers, one file per resource, and the map from route ids to them.
//!
//! In: requests that passed the guard in [`crate::routes`] (the caller's
//! [`crate::auth::Principal`] is in the extensions). Out: JSON views or problems.

pub mod acme;
pub mod apikeys;
pub mod approvals;
pub mod audit;
pub mod ca_successor;
pub mod cas;
pub mod certificates;
pub mod est_users;
pub mod login_certificates;
pub mod profiles;
pub mod scep_challenges;
pub mod session;
pub mod stats;
pub mod system;
pub mod totp;
pub mod users;

use crate::app::App;
use crate::routes::RouteId;
use axum::routing::{delete, get, patch, post, put, MethodRouter};

/// The handler for a route id (the method comes from the route table too; a test checks
/// that each pair agrees by calling every route).
pub fn handler(id: RouteId) -> MethodRouter<App> {
    use RouteId::*;
    match id {
        Health => get(system::health),
        Ready => get(system::ready),
        Version => get(system::version),
        SystemKeys => get(system::keys),
        OpenApi => get(system::openapi),
        Metrics => get(system::metrics),
        Login => post(session::login),
        Logout => post(session::logout),
        WhoAmI => get(session::whoami),
        Roles => get(session::roles),
        CaList => get(cas::list),
        CaTree => get(cas::tree),
        CaGet => get(cas::get_one),
        CaChain => get(cas::chain),
        CaRetire => post(cas::retire),
        CaSuccessor => put(ca_successor::put),
        ProfileList => get(profiles::list),
        ProfileGet => get(profiles::get_one),
        ProfilePut => put(profiles::put_one),
        ProfileDelete => delete(profiles::delete_one),
        CertList => get(certificates::list),
        StatsCertificates => get(stats::certificates),
        CertGet => get(certificates::get_one),
        CertDownload => get(certificates::download),
        CertIssue => post(certificates::issue),
        CertRenew => post(certificates::renew),
        CertRevoke => post(certificates::revoke),
        CertBulkRevoke => post(certificates::bulk_revoke),
        ApprovalList => get(approvals::list),
        ApprovalGet => get(approvals::get_one),
        ApprovalApprove => post(approvals::approve),
        ApprovalReject => post(approvals::reject),
        UserList => get(users::list),
        UserCreate => post(users::create),
        UserGet => get(users::get_one),
        UserUpdate => patch(users::update),
        UserReseal => post(users::reseal),
        LogoutEverywhere => post(session::logout_everywhere),
        TotpBegin => post(totp::begin),
        TotpConfirm => post(totp::confirm),
        TotpRemove => delete(totp::remove_own),
        UserTotpReset => delete(totp::reset),
        LoginCertList => get(login_certificates::list),
        LoginCertBind => post(login_certificates::bind),
        LoginCertUnbind => delete(login_certificates::unbind),
        LoginCertEnrol => post(login_certificates::enrol),
        ApiKeyList => get(apikeys::list),
        ApiKeyCreate => post(apikeys::create),
        ApiKeyRevoke => delete(apikeys::revoke),
        AuditQuery => get(audit::query),
        AuditExport => get(audit::export),
        AuditVerify => get(audit::verify),
        AuditCheckpointCreate => post(audit::create_checkpoint),
        AuditCheckpointList => get(audit::list_checkpoints),
        CaCreate => post(cas::create),
        AcmeAccountList => get(acme::list_accounts),
        AcmeAccountGet => get(acme::get_account),
        AcmeAccountDeactivate => post(acme::deactivate_account),
        AcmeOrderList => get(acme::list_orders),
        EabKeyList => get(acme::list_eab_keys),
        EabKeyCreate => post(acme::create_eab_key),
        EabKeyDelete => delete(acme::delete_eab_key),
        ScepChallengeList => get(scep_challenges::list),
        ScepChallengeCreate => post(scep_challenges::create),
        ScepChallengeDelete => delete(scep_challenges::delete),
        EstUserList => get(est_users::list),
        EstUserCreate => post(est_users::create),
        EstUserDelete => delete(est_users::delete),
        EstUserUnlock => post(est_users::unlock),
        Reconcile => post(system::reconcile),
    }
}
