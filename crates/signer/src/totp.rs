//! The TOTP second factor (RFC 6238; issue 19) in the signer: secrets are made here, sealed
//! under a key in the token, and checked here.
//!
//! In: from control, a user name (`TotpEnrol`), or a user name, the sealed secret control
//! stored, a 6-digit code and the last time step control accepted for that user
//! (`TotpVerify`). Out: the sealed secret and — once, for the enrolment QR code — the secret
//! itself; or the time step the code matched.
//!
//! Security: control keeps only the sealed blob (AES-256-GCM under the token's
//! `strongroom-seal-totp` key, bound to `strongroom-totp-v1:` and the user name, so a blob
//! copied into another user's row opens for nobody), and after enrolment never sees a
//! secret again; a database dump or backup holds no usable TOTP secret. A code is accepted
//! for the current 30-second step or one step either side, compared without an early exit,
//! and only for a step after `after_step`: control records the step it got back atomically,
//! so a code works once (a replayed code names a step already used). A compromised control
//! could ask for codes here at will, but it already owns the users table: the factor guards
//! against stolen passwords and dumps, not against control itself.

use crate::dispatch::Signer;
use crate::error::{bad_request, internal};
use crate::hsm_signer::hsm_error;
use strongroom_wire::{Response, SignerError, TotpCheck, TotpEnrolment};
use zeroize::Zeroizing;

/// The token's label of the key that seals TOTP secrets.
pub const SEALING_LABEL: &str = "strongroom-seal-totp";
/// RFC 6238's time step.
pub const STEP_SECS: i64 = 30;
/// Secret length: 160 bits, as RFC 4226 recommends for HMAC-SHA-1.
const SECRET_LEN: usize = 20;
/// Steps accepted either side of now (clock drift between phone and appliance).
const WINDOW: i64 = 1;
/// The longest user name (control's bound).
const MAX_USERNAME: usize = 64;

/// `TotpEnrol`: a new secret for `username`, sealed, and the secret once.
pub fn enrol(signer: &Signer, username: &str) -> Result<Response, SignerError> {
    check_username(username)?;
    let mut secret = Zeroizing::new(vec![0u8; SECRET_LEN]);
    signer
        .entropy
        .fill(&mut secret)
        .map_err(|e| internal(e.to_string()))?;
    let hsm = signer.hsm.get()?;
    let key = hsm.sealing_key(SEALING_LABEL).map_err(|e| hsm_error(&e))?;
    let sealed = hsm
        .seal(&key, &aad(username), &secret)
        .map_err(|e| hsm_error(&e))?;
    Ok(Response::TotpEnrolment(TotpEnrolment {
        sealed,
        secret: secret.to_vec(),
    }))
}

/// `TotpVerify`: the step `check.code` matches, after `check.after_step`, or the refusal.
pub fn verify(signer: &Signer, check: &TotpCheck) -> Result<Response, SignerError> {
    check_username(&check.username)?;
    let wrong = || bad_request("the TOTP code is wrong, or was already used");
    if check.code.len() != 6 || !check.code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_request("a TOTP code is 6 digits"));
    }
    let presented: u32 = check.code.parse().map_err(|_| wrong())?;
    let hsm = signer.hsm.get()?;
    let key = hsm.sealing_key(SEALING_LABEL).map_err(|e| hsm_error(&e))?;
    let secret = hsm
        .unseal(&key, &aad(&check.username), &check.sealed)
        .map_err(|e| match e {
            // The blob is control's record, not the token's fault: sealed for another user,
            // altered, or made under a key this token does not hold.
            strongroom_hsm::HsmError::BadRequest { .. } => bad_request(
                "the sealed TOTP secret does not open for this user: enrol the second factor again",
            ),
            e => hsm_error(&e),
        })?;
    let now = signer.clock.now().div_euclid(STEP_SECS);
    // Every step of the window is computed and compared, matched or not.
    let mut matched = None;
    for step in (now - WINDOW)..=(now + WINDOW) {
        let Ok(step) = u64::try_from(step) else {
            continue;
        };
        let equal = constant_time_eq(code(&secret, step), presented);
        if equal && step > check.after_step && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
        .map(|step| Response::TotpVerified { step })
        .ok_or_else(wrong)
}

/// RFC 4226 HOTP, 6 digits, HMAC-SHA-1 (what every authenticator app does by default).
pub fn code(secret: &[u8], counter: u64) -> u32 {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mac = ring::hmac::sign(&key, &counter.to_be_bytes());
    let mac = mac.as_ref();
    let offset = (mac[mac.len() - 1] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    binary % 1_000_000
}

fn constant_time_eq(a: u32, b: u32) -> bool {
    (a ^ b) == 0
}

fn aad(username: &str) -> Vec<u8> {
    format!("strongroom-totp-v1:{username}").into_bytes()
}

fn check_username(username: &str) -> Result<(), SignerError> {
    if username.is_empty()
        || username.len() > MAX_USERNAME
        || username.chars().any(char::is_control)
    {
        return Err(bad_request(format!(
            "a user name is 1 to {MAX_USERNAME} characters without control characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_sha1_vectors_in_six_digits() {
        // RFC 6238 Appendix B, SHA-1 seed "12345678901234567890": the 8-digit values'
        // last six digits.
        let seed = b"12345678901234567890";
        for (t, expected) in [
            (59i64, 287_082u32),
            (1_111_111_109, 81_804),
            (1_111_111_111, 50_471),
            (1_234_567_890, 5_924),
            (2_000_000_000, 279_037),
            (20_000_000_000, 353_130),
        ] {
            assert_eq!(code(seed, (t / STEP_SECS) as u64), expected, "T = {t}");
        }
    }
}
