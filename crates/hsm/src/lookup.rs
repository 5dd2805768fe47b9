//! Finding existing keys and reading back their security attributes.
//!
//! In: a [`Pkcs11Uri`] (from configuration) or a [`KeyRef`]. Out: a [`KeyRef`] whose
//! algorithm and public key come from the token itself, and [`KeyProperties`] of the private
//! key, so start-up can refuse a CA key that is extractable or not sensitive.

use crate::error::HsmError;
use crate::hsm::{Failure, Hsm};
use crate::key::{self, KeyProperties, KeyRef};
use crate::uri::Pkcs11Uri;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};

impl Hsm {
    /// Find the key pair `uri` names (by object label and/or id) on this token.
    ///
    /// Exactly one private key must match, and exactly one public key with the same label
    /// and id. The algorithm is derived from the token's attributes (key type, curve, modulus
    /// size), never from the URI. The returned URI is canonical: token, label and id.
    pub fn find_key(&self, uri: &Pkcs11Uri) -> Result<KeyRef, HsmError> {
        if let Some(token) = &uri.token {
            if token != self.token_label() {
                return Err(HsmError::BadRequest {
                    detail: format!(
                        "URI names token {token:?} but this HSM is opened on token {:?}",
                        self.token_label()
                    ),
                });
            }
        }
        if uri.object.is_none() && uri.id.is_none() {
            return Err(HsmError::BadRequest {
                detail: "key URI needs object= or id= (a bare token would match every key)"
                    .to_owned(),
            });
        }
        let token = self.token_label().to_owned();
        let (key, private) = self.with_session(|session| {
            let private = key::find_one(session, &key::template(ObjectClass::PRIVATE_KEY, uri), uri)?;
            let attrs = session
                .get_attributes(private, &[AttributeType::Label, AttributeType::Id])
                .map_err(|e| Failure::Ck("C_GetAttributeValue", e))?;
            let mut canonical = Pkcs11Uri {
                token: Some(token.clone()),
                object: None,
                id: None,
            };
            for attr in attrs {
                match attr {
                    Attribute::Label(l) if !l.is_empty() => {
                        canonical.object = Some(String::from_utf8(l).map_err(|_| {
                            Failure::Hsm(HsmError::Malformed {
                                detail: "key label is not UTF-8".to_owned(),
                            })
                        })?);
                    }
                    Attribute::Id(id) if !id.is_empty() => canonical.id = Some(id),
                    _ => {}
                }
            }
            // The public half shares label and id with the private half; match on both so a
            // stray public key with the same label cannot be paired with the wrong private key.
            let public_template = key::template(ObjectClass::PUBLIC_KEY, &canonical);
            let public = key::find_one(session, &public_template, &canonical).map_err(|f| match f {
                Failure::Hsm(HsmError::KeyNotFound { uri }) => Failure::Hsm(HsmError::Malformed {
                    detail: format!("private key {uri} has no public key object with the same label and id"),
                }),
                other => other,
            })?;
            let (algorithm, public_key_der) = key::read_public(session, public)?;
            Ok((
                KeyRef {
                    uri: canonical,
                    algorithm,
                    public_key_der,
                },
                private,
            ))
        })?;
        self.remember_handle(&key.uri, private);
        Ok(key)
    }

    /// Read the security attributes of `key`'s private key back from the token.
    pub fn key_properties(&self, key: &KeyRef) -> Result<KeyProperties, HsmError> {
        let attrs = self.with_private_key(key, |session, handle| {
            session
                .get_attributes(handle, &key::PROPERTY_ATTRIBUTES)
                .map_err(|e| Failure::Ck("C_GetAttributeValue", e))
        })?;
        key::properties_from(&attrs)
    }
}
