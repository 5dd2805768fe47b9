//! Password hashing shared by the two network daemons: argon2id for control's user
//! passwords (login) and for EST's HTTP Basic credentials, which control makes and the
//! front checks.
//!
//! In: a password, and for a check the stored PHC string. Out: a PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) or a yes/no. STORED FORMAT: the
//! `users.password_hash` and `est_users.password_hash` columns hold these strings; the
//! parameters travel inside each one, so raising them later keeps old hashes verifiable.
//!
//! Each call costs 19 MiB and tens of milliseconds of one core: callers run it on a
//! blocking thread and bound how many run at once (control's `PasswordChecks`). What this
//! does not do: throttle attempts, or check a password's strength.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use ring::rand::{SecureRandom, SystemRandom};

/// Hashes a password with argon2id (the crate defaults, OWASP's baseline: 19 MiB, t=2,
/// p=1) and a fresh 16-byte salt from the system's generator.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| "no randomness for a salt".to_string())?;
    let hash: PasswordHash = Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|e| format!("argon2: {e}"))?;
    Ok(hash.to_string())
}

/// Whether `password` matches a stored argon2 PHC string (the comparison of the hashes is
/// the argon2 crate's, in constant time). A string that is not a PHC string matches
/// nothing.
pub fn verify_password(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// A real argon2id hash of a throwaway password, checked against when a login names an
/// unknown user (or EST username), so that an unknown name costs as much time as a wrong
/// password and the answer's timing does not say which names exist. Made once per process.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    // Should the system generator fail, the empty string matches nothing (as an unknown
    // user must not) but costs no argon2 run; the daemons' start-up already needs the
    // generator, so they would not be serving.
    DUMMY.get_or_init(|| hash_password("unknown-user-timing-equaliser").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_and_nothing_else() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password("correct horse battery", &phc));
        for wrong in ["correct horse battery\n", "Correct horse battery", ""] {
            assert!(!verify_password(wrong, &phc), "{wrong:?}");
        }
        // Salted: the same password hashes differently each time.
        assert_ne!(phc, hash_password("correct horse battery").unwrap());
        for not_phc in ["", "plain text", "$argon2id$v=19$garbage"] {
            assert!(!verify_password("plain text", not_phc), "{not_phc:?}");
        }
    }

    #[test]
    fn the_dummy_hash_is_a_real_argon2id_hash_nobody_knows() {
        let dummy = dummy_hash();
        assert!(dummy.starts_with("$argon2id$"), "{dummy}");
        assert!(!verify_password("", dummy));
        assert!(!verify_password("password", dummy));
        assert_eq!(dummy, dummy_hash(), "made once");
    }
}
