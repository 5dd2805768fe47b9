//! The states of ACME objects (RFC 8555 §7.1.6), one enum per object, so a state a handler
//! names is checked by the compiler instead of compared as text.
//!
//! In: the text of a `status` column (written only through these enums). Out: the enums.
//! `as_str` is both the stored text (each table's CHECK constraint lists the same names)
//! and the value clients read in the JSON objects (RFC 8555 §7.1): the names are stored
//! and public, never change one.

use crate::StoreError;

/// One enum with its stored names, `as_str`, `parse`, `ALL`, `Display` and `Serialize`
/// (as the name), written once for the four ACME objects.
macro_rules! stored_states {
    (
        $(#[$doc:meta])*
        $name:ident ($what:literal) {
            $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every state, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored (and RFC 8555) name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// Parses a stored name; anything else is a corrupt row.
            pub fn parse(s: &str) -> Result<$name, StoreError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(StoreError::Backend(format!(
                        concat!("unknown ", $what, " status {:?}"),
                        other
                    ))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

stored_states! {
    /// An account's status (RFC 8555 §7.1.6: valid, then deactivated by its holder or
    /// revoked by the server).
    AccountStatus("ACME account") {
        /// Usable.
        Valid = "valid",
        /// Closed by its holder (§7.3.6); final.
        Deactivated = "deactivated",
        /// Closed by the server; final.
        Revoked = "revoked",
    }
}

stored_states! {
    /// An order's status (RFC 8555 §7.1.6): pending until its authorizations are valid,
    /// ready to finalize, processing while the signer issues, then valid or invalid.
    OrderStatus("ACME order") {
        /// Some authorization is not valid yet.
        Pending = "pending",
        /// Every authorization is valid: it may be finalized.
        Ready = "ready",
        /// Claimed by a finalize request; the certificate is being issued.
        Processing = "processing",
        /// The certificate is issued.
        Valid = "valid",
        /// Failed or expired (the order's `error` says why); final.
        Invalid = "invalid",
    }
}

stored_states! {
    /// An authorization's status (RFC 8555 §7.1.6).
    AuthorizationStatus("ACME authorization") {
        /// No challenge has succeeded yet.
        Pending = "pending",
        /// A challenge succeeded.
        Valid = "valid",
        /// A challenge failed.
        Invalid = "invalid",
        /// Deactivated by the client (or with its account).
        Deactivated = "deactivated",
        /// Pending past its expiry.
        Expired = "expired",
        /// Revoked by the server.
        Revoked = "revoked",
    }
}

stored_states! {
    /// A challenge's status (RFC 8555 §7.1.6).
    ChallengeStatus("ACME challenge") {
        /// Not answered yet.
        Pending = "pending",
        /// The client answered; validation runs.
        Processing = "processing",
        /// Validation succeeded.
        Valid = "valid",
        /// Validation failed.
        Invalid = "invalid",
    }
}
