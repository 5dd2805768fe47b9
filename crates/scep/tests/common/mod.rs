//! Test-only helpers: the captured fixtures, and the RA's half that in production runs in
//! the HSM and the signer (RSA unwrap of the content key, CBC decryption), done here in
//! memory with the throwaway scepserver key.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use aes::cipher::{block_padding::Pkcs7, BlockModeDecrypt, KeyIvInit};
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Encrypt, PrivateKey};
use strongroom_scep::Envelope;
use strongroom_types::scep::ContentCipher;

pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn private_key(name: &str) -> PrivateKey {
    PrivateKey::from_pkcs8_der(&fixture(name)).expect("fixture key")
}

/// What the RA does with an envelope: unwrap the CEK, decrypt the content.
pub fn open_envelope(envelope: &Envelope, key: &PrivateKey) -> Vec<u8> {
    let cek = key
        .decrypt(Pkcs1v15Encrypt, &envelope.encrypted_key)
        .expect("CEK unwraps");
    assert_eq!(cek.len(), envelope.cipher.key_len());
    cbc_decrypt(envelope.cipher, &cek, &envelope.iv, &envelope.ciphertext)
        .expect("content decrypts")
}

pub fn cbc_decrypt(cipher: ContentCipher, key: &[u8], iv: &[u8], ct: &[u8]) -> Option<Vec<u8>> {
    match cipher {
        ContentCipher::Aes128Cbc => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_vec::<Pkcs7>(ct)
            .ok(),
        ContentCipher::Aes192Cbc => cbc::Decryptor::<aes::Aes192>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_vec::<Pkcs7>(ct)
            .ok(),
        ContentCipher::Aes256Cbc => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_vec::<Pkcs7>(ct)
            .ok(),
        ContentCipher::DesEde3Cbc => cbc::Decryptor::<des::TdesEde3>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_vec::<Pkcs7>(ct)
            .ok(),
        ContentCipher::DesCbc => cbc::Decryptor::<des::Des>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_vec::<Pkcs7>(ct)
            .ok(),
    }
}

/// The SubjectPublicKeyInfo DER of a CSR (walks certificationRequestInfo).
pub fn csr_spki(csr: &[u8]) -> Vec<u8> {
    use der::{Decode, Encode};
    let req = x509_cert::request::CertReq::from_der(csr).expect("CSR");
    req.info.public_key.to_der().expect("SPKI")
}

/// Run a command, failing the test with its stderr when it fails.
pub fn run(cmd: &mut std::process::Command) -> Vec<u8> {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

pub fn openssl_available() -> bool {
    std::process::Command::new("openssl")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}
