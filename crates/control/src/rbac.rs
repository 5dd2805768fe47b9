//! Roles and the permissions they grant. Every route names exactly one [`Permission`];
//! [`Permission::Public`] routes (health, version, the OpenAPI document, login) are the only
//! ones reachable without credentials, and a test pins that list.
//!
//! In: a principal's roles. Out: yes or no for a permission.

use strongroom_store::Role;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// No credentials needed.
    Public,
    /// Any authenticated principal (who am I, my own API keys).
    Authenticated,
    /// Read CAs.
    CaRead,
    /// Retire CAs.
    CaManage,
    /// Read profiles.
    ProfileRead,
    /// Create, change, delete profiles.
    ProfileManage,
    /// Read the certificate inventory.
    CertRead,
    /// Issue and renew (enroller-only principals are limited to their profiles).
    CertIssue,
    /// Revoke.
    CertRevoke,
    /// Read approval requests.
    ApprovalRead,
    /// Approve or reject (never one's own request).
    ApprovalDecide,
    /// Read users and everyone's API keys.
    UserRead,
    /// Create users, change roles, disable, reset passwords, reseal break-glass.
    UserManage,
    /// Query, export and verify the audit log.
    AuditRead,
    /// Prometheus metrics.
    MetricsRead,
    /// Read ACME accounts, orders and external account binding keys (never the keys).
    AcmeRead,
    /// Deactivate ACME accounts; create and delete external account binding keys.
    AcmeManage,
}

impl Permission {
    /// Stable name (OpenAPI `x-permission`, audit details).
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Public => "public",
            Permission::Authenticated => "authenticated",
            Permission::CaRead => "ca:read",
            Permission::CaManage => "ca:manage",
            Permission::ProfileRead => "profile:read",
            Permission::ProfileManage => "profile:manage",
            Permission::CertRead => "certificate:read",
            Permission::CertIssue => "certificate:issue",
            Permission::CertRevoke => "certificate:revoke",
            Permission::ApprovalRead => "approval:read",
            Permission::ApprovalDecide => "approval:decide",
            Permission::UserRead => "user:read",
            Permission::UserManage => "user:manage",
            Permission::AuditRead => "audit:read",
            Permission::MetricsRead => "metrics:read",
            Permission::AcmeRead => "acme:read",
            Permission::AcmeManage => "acme:manage",
        }
    }
}

/// The permissions of one role.
pub fn grants(role: Role) -> &'static [Permission] {
    use Permission::*;
    match role {
        Role::Admin => &[
            Authenticated,
            CaRead,
            CaManage,
            ProfileRead,
            ProfileManage,
            CertRead,
            CertIssue,
            CertRevoke,
            ApprovalRead,
            ApprovalDecide,
            UserRead,
            UserManage,
            AuditRead,
            MetricsRead,
            AcmeRead,
            AcmeManage,
        ],
        Role::CaOperator => &[
            Authenticated,
            CaRead,
            CaManage,
            ProfileRead,
            ProfileManage,
            CertRead,
            CertIssue,
            CertRevoke,
            ApprovalRead,
            AcmeRead,
            AcmeManage,
        ],
        Role::Approver => &[
            Authenticated,
            CaRead,
            ProfileRead,
            CertRead,
            ApprovalRead,
            ApprovalDecide,
        ],
        Role::Auditor => &[
            Authenticated,
            CaRead,
            ProfileRead,
            CertRead,
            ApprovalRead,
            UserRead,
            AuditRead,
            MetricsRead,
            AcmeRead,
        ],
        Role::Enroller => &[Authenticated, CaRead, ProfileRead, CertRead, CertIssue],
    }
}

/// Whether any of `roles` grants `p`.
pub fn allows(roles: &[Role], p: Permission) -> bool {
    p == Permission::Public || roles.iter().any(|r| grants(*r).contains(&p))
}

/// Whether a principal with these roles may issue under any profile (not only the ones
/// that list them as enrollers).
pub fn issues_under_any_profile(roles: &[Role]) -> bool {
    roles
        .iter()
        .any(|r| matches!(r, Role::Admin | Role::CaOperator))
}

/// Whether a principal may enrol under a profile whose enrollers are `enrollers`: an admin
/// or CA operator under any; anyone else only when the list names them or `*`. The one
/// rule for issuance, renewal, login certificates and SCEP challenges (the route's
/// `certificate:issue` is checked first, by the guard).
pub fn may_enrol_under(roles: &[Role], username: &str, enrollers: &[String]) -> bool {
    issues_under_any_profile(roles) || enrollers.iter().any(|e| e == "*" || e == username)
}

/// Roles whose grant changes what gets signed or who administers: in production mode,
/// creating a user with one, or granting one, needs approval (two-person integrity).
/// Approvers are not among them — the first approvers must be creatable — but a user's
/// sponsors (who created it or granted it roles) can never have it approve their requests.
pub fn is_privileged(role: Role) -> bool {
    matches!(role, Role::Admin | Role::CaOperator)
}
