//! The route table: every path, method, permission and summary, in one place. The router,
//! the permission guard and the OpenAPI document are all built from it, so a route cannot
//! exist without a permission or be missing from the document.
//!
//! In: nothing. Out: [`ROUTES`], each a [`RouteSpec`] naming its handler by [`RouteId`].

use crate::rbac::Permission;
use axum::http::Method;

/// One route.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// Which handler.
    pub id: RouteId,
    /// HTTP method.
    pub method: Method,
    /// Path template (`{name}` segments).
    pub path: &'static str,
    /// What the caller must hold.
    pub permission: Permission,
    /// One line for the OpenAPI document and the CLI.
    pub summary: &'static str,
    /// OpenAPI tag.
    pub tag: &'static str,
    /// Success status.
    pub success: u16,
}

/// Handler names (one per route).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum RouteId {
    Health,
    Ready,
    Version,
    SystemKeys,
    OpenApi,
    Metrics,
    Login,
    Logout,
    WhoAmI,
    Roles,
    CaList,
    CaTree,
    CaGet,
    CaChain,
    CaRetire,
    CaSuccessor,
    ProfileList,
    ProfileGet,
    ProfilePut,
    ProfileDelete,
    CertList,
    StatsCertificates,
    CertGet,
    CertDownload,
    CertIssue,
    CertRenew,
    CertRevoke,
    CertBulkRevoke,
    ApprovalList,
    ApprovalGet,
    ApprovalApprove,
    ApprovalReject,
    UserList,
    UserCreate,
    UserGet,
    UserUpdate,
    UserReseal,
    LogoutEverywhere,
    TotpBegin,
    TotpConfirm,
    TotpRemove,
    UserTotpReset,
    LoginCertList,
    LoginCertBind,
    LoginCertUnbind,
    LoginCertEnrol,
    ApiKeyList,
    ApiKeyCreate,
    ApiKeyRevoke,
    AuditQuery,
    AuditExport,
    AuditVerify,
    AuditCheckpointCreate,
    AuditCheckpointList,
    CaCreate,
    AcmeAccountList,
    AcmeAccountGet,
    AcmeAccountDeactivate,
    AcmeOrderList,
    EabKeyList,
    EabKeyCreate,
    EabKeyDelete,
    ScepChallengeList,
    ScepChallengeCreate,
    ScepChallengeDelete,
    EstUserList,
    EstUserCreate,
    EstUserDelete,
    EstUserUnlock,
    Reconcile,
}

macro_rules! route {
    ($id:ident, $m:ident, $path:expr, $perm:ident, $tag:expr, $ok:expr, $summary:expr) => {
        RouteSpec {
            id: RouteId::$id,
            method: Method::$m,
            path: $path,
            permission: Permission::$perm,
            summary: $summary,
            tag: $tag,
            success: $ok,
        }
    };
}

/// Every route the control API serves.
pub const ROUTES: &[RouteSpec] = &[
    route!(
        Health,
        GET,
        "/api/v1/health",
        Public,
        "system",
        200,
        "Liveness: the process answers"
    ),
    route!(
        Ready,
        GET,
        "/api/v1/ready",
        Public,
        "system",
        200,
        "Readiness: the store and the signer answer"
    ),
    route!(
        Version,
        GET,
        "/api/v1/version",
        Public,
        "system",
        200,
        "Version of this build"
    ),
    route!(
        SystemKeys,
        GET,
        "/api/v1/system/keys",
        AuditRead,
        "system",
        200,
        "The HSM token's key objects by PKCS#11 URI: class, type, sensitive, extractable"
    ),
    route!(
        OpenApi,
        GET,
        "/api/v1/openapi.json",
        Public,
        "system",
        200,
        "This API as an OpenAPI 3.1 document"
    ),
    route!(
        Metrics,
        GET,
        "/metrics",
        MetricsRead,
        "system",
        200,
        "Prometheus metrics"
    ),
    route!(
        Login,
        POST,
        "/api/v1/auth/login",
        Public,
        "auth",
        201,
        "Exchange a password for a session API key (12 hours)"
    ),
    route!(
        Logout,
        POST,
        "/api/v1/auth/logout",
        Authenticated,
        "auth",
        204,
        "Revoke the API key used for this request"
    ),
    route!(
        WhoAmI,
        GET,
        "/api/v1/auth/whoami",
        Authenticated,
        "auth",
        200,
        "The caller, its roles and permissions"
    ),
    route!(
        Roles,
        GET,
        "/api/v1/roles",
        Authenticated,
        "auth",
        200,
        "Roles and the permissions each grants"
    ),
    route!(CaList, GET, "/api/v1/cas", CaRead, "cas", 200, "List CAs"),
    route!(CaCreate, POST, "/api/v1/cas", CaManage, "cas", 201, "Create an intermediate CA in the HSM through the signer (needs approval in production mode)"),
    route!(
        CaTree,
        GET,
        "/api/v1/cas/tree",
        CaRead,
        "cas",
        200,
        "The CA hierarchy as a tree"
    ),
    route!(CaGet, GET, "/api/v1/cas/{id}", CaRead, "cas", 200, "One CA"),
    route!(
        CaChain,
        GET,
        "/api/v1/cas/{id}/chain",
        CaRead,
        "cas",
        200,
        "A CA's chain up to the root (PEM)"
    ),
    route!(
        CaRetire,
        POST,
        "/api/v1/cas/{id}/retire",
        CaManage,
        "cas",
        200,
        "Retire a CA (needs approval in production mode)"
    ),
    route!(
        CaSuccessor,
        PUT,
        "/api/v1/cas/{id}/successor",
        CaManage,
        "cas",
        200,
        "Name the CA that takes over from a CA (served to SCEP devices as GetNextCACert), or clear it with null"
    ),
    route!(
        ProfileList,
        GET,
        "/api/v1/profiles",
        ProfileRead,
        "profiles",
        200,
        "List certificate profiles"
    ),
    route!(
        ProfileGet,
        GET,
        "/api/v1/profiles/{name}",
        ProfileRead,
        "profiles",
        200,
        "One profile"
    ),
    route!(
        ProfilePut,
        PUT,
        "/api/v1/profiles/{name}",
        ProfileManage,
        "profiles",
        200,
        "Create or replace a profile and push the policy to the signer (needs approval in production mode)"
    ),
    route!(
        ProfileDelete,
        DELETE,
        "/api/v1/profiles/{name}",
        ProfileManage,
        "profiles",
        204,
        "Delete a profile and push the policy to the signer (needs approval in production mode)"
    ),
    route!(
        CertList,
        GET,
        "/api/v1/certificates",
        CertRead,
        "certificates",
        200,
        "Search the inventory (cursor pagination)"
    ),
    route!(
        StatsCertificates,
        GET,
        "/api/v1/stats/certificates",
        CertRead,
        "certificates",
        200,
        "Counts for the dashboard: by status, expiring within 7/30/90 days, issued per day"
    ),
    route!(
        CertGet,
        GET,
        "/api/v1/certificates/{id}",
        CertRead,
        "certificates",
        200,
        "One certificate"
    ),
    route!(
        CertDownload,
        GET,
        "/api/v1/certificates/{id}/download",
        CertRead,
        "certificates",
        200,
        "Download as PEM, DER or PEM with chain"
    ),
    route!(
        CertIssue,
        POST,
        "/api/v1/certificates",
        CertIssue,
        "certificates",
        201,
        "Issue from a CSR (202 with an approval when the profile needs one)"
    ),
    route!(
        CertRenew,
        POST,
        "/api/v1/certificates/{id}/renew",
        CertIssue,
        "certificates",
        201,
        "Renew: same profile and names, new CSR"
    ),
    route!(
        CertRevoke,
        POST,
        "/api/v1/certificates/{id}/revoke",
        CertRevoke,
        "certificates",
        200,
        "Revoke with an RFC 5280 reason"
    ),
    route!(
        CertBulkRevoke,
        POST,
        "/api/v1/certificates/revoke",
        CertRevoke,
        "certificates",
        200,
        "Revoke up to 1,000 certificates"
    ),
    route!(
        ApprovalList,
        GET,
        "/api/v1/approvals",
        ApprovalRead,
        "approvals",
        200,
        "List approval requests"
    ),
    route!(
        ApprovalGet,
        GET,
        "/api/v1/approvals/{id}",
        ApprovalRead,
        "approvals",
        200,
        "One approval request"
    ),
    route!(
        ApprovalApprove,
        POST,
        "/api/v1/approvals/{id}/approve",
        ApprovalDecide,
        "approvals",
        200,
        "Approve (never one's own request); the last approval executes it"
    ),
    route!(
        ApprovalReject,
        POST,
        "/api/v1/approvals/{id}/reject",
        ApprovalDecide,
        "approvals",
        200,
        "Reject"
    ),
    route!(
        UserList,
        GET,
        "/api/v1/users",
        UserRead,
        "users",
        200,
        "List users"
    ),
    route!(
        UserCreate,
        POST,
        "/api/v1/users",
        UserManage,
        "users",
        201,
        "Create a user (a privileged role needs approval in production mode)"
    ),
    route!(
        UserGet,
        GET,
        "/api/v1/users/{name}",
        UserRead,
        "users",
        200,
        "One user"
    ),
    route!(
        UserUpdate,
        PATCH,
        "/api/v1/users/{name}",
        UserManage,
        "users",
        200,
        "Change roles, password or disabled state (granting a privileged role needs approval in production mode)"
    ),
    route!(
        UserReseal,
        POST,
        "/api/v1/users/{name}/reseal",
        UserManage,
        "users",
        200,
        "Reseal the break-glass account with a new password (shown once)"
    ),
    route!(
        LogoutEverywhere,
        POST,
        "/api/v1/auth/logout-everywhere",
        Authenticated,
        "auth",
        204,
        "End every login session of the caller (API and browser), keeping API keys made on purpose"
    ),
    route!(
        TotpBegin,
        POST,
        "/api/v1/auth/totp",
        Authenticated,
        "auth",
        201,
        "Start enrolling the caller's TOTP second factor: the otpauth URI, shown once (a current code when one is active)"
    ),
    route!(
        TotpConfirm,
        POST,
        "/api/v1/auth/totp/confirm",
        Authenticated,
        "auth",
        200,
        "Confirm the enrolment with a code: the factor is active, ten recovery codes shown once"
    ),
    route!(
        TotpRemove,
        DELETE,
        "/api/v1/auth/totp",
        Authenticated,
        "auth",
        204,
        "Remove the caller's second factor (with a current code)"
    ),
    route!(
        UserTotpReset,
        DELETE,
        "/api/v1/users/{name}/totp",
        UserManage,
        "users",
        204,
        "Remove a user's second factor and recovery codes (a lost authenticator)"
    ),
    route!(
        LoginCertList,
        GET,
        "/api/v1/users/{name}/login-certificates",
        UserRead,
        "users",
        200,
        "A user's login certificates (client certificates bound to them)"
    ),
    route!(
        LoginCertBind,
        POST,
        "/api/v1/users/{name}/login-certificates",
        UserManage,
        "users",
        201,
        "Bind an inventory certificate to a user for client-certificate login"
    ),
    route!(
        LoginCertUnbind,
        DELETE,
        "/api/v1/users/{name}/login-certificates/{id}",
        UserManage,
        "users",
        204,
        "End a login binding (the certificate itself stays valid)"
    ),
    route!(
        LoginCertEnrol,
        POST,
        "/api/v1/auth/login-certificates",
        CertIssue,
        "auth",
        201,
        "Issue a client certificate to yourself and bind it to your account"
    ),
    route!(
        ApiKeyList,
        GET,
        "/api/v1/apikeys",
        Authenticated,
        "apikeys",
        200,
        "List API keys (own; everyone's with user:read and ?all=true)"
    ),
    route!(
        ApiKeyCreate,
        POST,
        "/api/v1/apikeys",
        Authenticated,
        "apikeys",
        201,
        "Create an API key (the secret is shown once)"
    ),
    route!(
        ApiKeyRevoke,
        DELETE,
        "/api/v1/apikeys/{key_id}",
        Authenticated,
        "apikeys",
        204,
        "Revoke an API key (own; anyone's with user:manage)"
    ),
    route!(
        AuditQuery,
        GET,
        "/api/v1/audit",
        AuditRead,
        "audit",
        200,
        "Query audit events, newest first"
    ),
    route!(
        AuditExport,
        GET,
        "/api/v1/audit/export",
        AuditRead,
        "audit",
        200,
        "Export a range of the chain as JSON lines"
    ),
    route!(
        AuditVerify,
        GET,
        "/api/v1/audit/verify",
        AuditRead,
        "audit",
        200,
        "Verify the stored chain"
    ),
    route!(
        AuditCheckpointCreate,
        POST,
        "/api/v1/audit/checkpoints",
        AuditRead,
        "audit",
        201,
        "Have the signer sign the chain head now"
    ),
    route!(
        AuditCheckpointList,
        GET,
        "/api/v1/audit/checkpoints",
        AuditRead,
        "audit",
        200,
        "Signed checkpoints, newest first"
    ),
    route!(
        AcmeAccountList,
        GET,
        "/api/v1/acme/accounts",
        AcmeRead,
        "acme",
        200,
        "List ACME accounts (cursor pagination; key thumbprints, never keys)"
    ),
    route!(
        AcmeAccountGet,
        GET,
        "/api/v1/acme/accounts/{id}",
        AcmeRead,
        "acme",
        200,
        "One ACME account"
    ),
    route!(
        AcmeAccountDeactivate,
        POST,
        "/api/v1/acme/accounts/{id}/deactivate",
        AcmeManage,
        "acme",
        200,
        "Deactivate an ACME account (its certificates stay valid)"
    ),
    route!(
        AcmeOrderList,
        GET,
        "/api/v1/acme/orders",
        AcmeRead,
        "acme",
        200,
        "List ACME orders, optionally of one account (cursor pagination)"
    ),
    route!(
        EabKeyList,
        GET,
        "/api/v1/acme/eab-keys",
        AcmeRead,
        "acme",
        200,
        "List external account binding keys (never the HMAC keys)"
    ),
    route!(
        EabKeyCreate,
        POST,
        "/api/v1/acme/eab-keys",
        AcmeManage,
        "acme",
        201,
        "Make an external account binding key for a profile (the HMAC key is shown once)"
    ),
    route!(
        EabKeyDelete,
        DELETE,
        "/api/v1/acme/eab-keys/{kid}",
        AcmeManage,
        "acme",
        204,
        "Delete an external account binding key no account has used"
    ),
    route!(
        ScepChallengeList,
        GET,
        "/api/v1/scep/challenges",
        CertIssue,
        "scep",
        200,
        "List one-time SCEP challenges of the profiles the caller may enrol under (never the challenges)"
    ),
    route!(
        ScepChallengeCreate,
        POST,
        "/api/v1/scep/challenges",
        CertIssue,
        "scep",
        201,
        "Make a one-time SCEP challenge for a profile the caller may enrol under (shown once)"
    ),
    route!(
        ScepChallengeDelete,
        DELETE,
        "/api/v1/scep/challenges/{id}",
        CertIssue,
        "scep",
        204,
        "Revoke a one-time SCEP challenge no device has used"
    ),
    route!(
        EstUserList,
        GET,
        "/api/v1/est/users",
        CertIssue,
        "est",
        200,
        "List EST HTTP Basic users, optionally of one label (never a password or hash; admins and CA operators)"
    ),
    route!(
        EstUserCreate,
        POST,
        "/api/v1/est/users",
        CertIssue,
        "est",
        201,
        "Make an EST HTTP Basic user for a label (a drawn password is shown once; admins and CA operators)"
    ),
    route!(
        EstUserDelete,
        DELETE,
        "/api/v1/est/users/{label}/{username}",
        CertIssue,
        "est",
        204,
        "Delete an EST HTTP Basic user (admins and CA operators)"
    ),
    route!(
        EstUserUnlock,
        POST,
        "/api/v1/est/users/{label}/{username}/unlock",
        CertIssue,
        "est",
        200,
        "Lift an EST user's lock and clear its failed logins (admins and CA operators)"
    ),
    route!(
        Reconcile,
        POST,
        "/api/v1/system/reconcile",
        CaManage,
        "system",
        200,
        "Record now the certificates the signer's journal holds and the inventory lacks"
    ),
];
