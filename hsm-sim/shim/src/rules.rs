//! The shim's control file: fault rules, parsed strictly.
//!
//! In: the file's text, the wrapped function being called, how many times it was called
//! since the text last changed, and how long ago the file was written. Out: a [`Decision`] — fail
//! with a return value, add latency, spoil the signature — or an error naming the line a
//! test got wrong.
//!
//! One rule per line; `#` starts a comment; an empty file or `ok` means pass through.
//!
//! | rule | effect |
//! |---|---|
//! | `fail=CKR_NAME` | answer CKR_NAME (names below) |
//! | `device_error` | the same as `fail=CKR_DEVICE_ERROR` |
//! | `latency_ms=N` | sleep N ms, then carry on |
//! | `corrupt_signature` | `C_Sign` succeeds but the signature's last byte is flipped |
//! | `gone_for_secs=N` | for N s after the file was written the token is gone: slot, token and session-open calls answer `CKR_TOKEN_NOT_PRESENT`, every other call `CKR_DEVICE_REMOVED`; afterwards, pass through |
//!
//! and on the same line, to narrow it:
//!
//! | qualifier | effect |
//! |---|---|
//! | `calls=C_Sign,C_Decrypt` | only these functions (default: every wrapped function) |
//! | `nth=N` | only the Nth call of each such function since the file's text changed |
//!
//! e.g. `fail=CKR_SESSION_HANDLE_INVALID calls=C_Sign nth=2` fails the second signature
//! after the file is written, once.

use cryptoki_sys::*;
use std::time::Duration;

/// The functions the shim wraps (what `calls=` may name).
pub const WRAPPED: [&str; 14] = [
    "C_GetSlotList",
    "C_GetTokenInfo",
    "C_OpenSession",
    "C_Login",
    "C_GetSessionInfo",
    "C_FindObjectsInit",
    "C_FindObjects",
    "C_GenerateKey",
    "C_GenerateKeyPair",
    "C_SignInit",
    "C_Sign",
    "C_EncryptInit",
    "C_DecryptInit",
    "C_Decrypt",
];

/// The return values a rule may inject.
const RETURN_VALUES: [(&str, CK_RV); 13] = [
    ("CKR_DEVICE_ERROR", CKR_DEVICE_ERROR),
    ("CKR_DEVICE_REMOVED", CKR_DEVICE_REMOVED),
    ("CKR_DEVICE_MEMORY", CKR_DEVICE_MEMORY),
    ("CKR_TOKEN_NOT_PRESENT", CKR_TOKEN_NOT_PRESENT),
    ("CKR_SESSION_HANDLE_INVALID", CKR_SESSION_HANDLE_INVALID),
    ("CKR_SESSION_CLOSED", CKR_SESSION_CLOSED),
    ("CKR_SESSION_COUNT", CKR_SESSION_COUNT),
    ("CKR_GENERAL_ERROR", CKR_GENERAL_ERROR),
    ("CKR_FUNCTION_FAILED", CKR_FUNCTION_FAILED),
    ("CKR_USER_NOT_LOGGED_IN", CKR_USER_NOT_LOGGED_IN),
    ("CKR_PIN_INCORRECT", CKR_PIN_INCORRECT),
    ("CKR_OBJECT_HANDLE_INVALID", CKR_OBJECT_HANDLE_INVALID),
    ("CKR_KEY_HANDLE_INVALID", CKR_KEY_HANDLE_INVALID),
];

/// What one call does.
#[derive(Debug, Default, PartialEq)]
pub struct Decision {
    /// Answer this instead of calling the real module.
    pub fail: Option<CK_RV>,
    /// Sleep this long first.
    pub latency_ms: u64,
    /// Spoil the signature `C_Sign` returns.
    pub corrupt_signature: bool,
}

impl Decision {
    pub fn fail(rv: CK_RV) -> Decision {
        Decision {
            fail: Some(rv),
            ..Decision::default()
        }
    }
}

#[derive(Debug, PartialEq)]
enum Effect {
    Fail(CK_RV),
    Latency(u64),
    CorruptSignature,
    GoneFor(u64),
}

#[derive(Debug, PartialEq)]
struct Rule {
    effect: Effect,
    calls: Option<Vec<&'static str>>,
    nth: Option<u64>,
}

/// Every rule of a control file.
#[derive(Debug, PartialEq)]
pub struct Rules(Vec<Rule>);

impl Rules {
    /// Parses the control file; an error names the line and what is wrong with it.
    pub fn parse(text: &str) -> Result<Rules, String> {
        let mut rules = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() || line == "ok" {
                continue;
            }
            rules.push(parse_line(line).map_err(|e| format!("control line {}: {e}", index + 1))?);
        }
        Ok(Rules(rules))
    }

    /// What the `nth` call of `function` since the text changed does, the file having been
    /// written `age` ago (unknown: a gone window counts as open).
    pub fn decide(&self, function: &str, nth: u64, age: Option<Duration>) -> Decision {
        let mut decision = Decision::default();
        for rule in &self.0 {
            if rule
                .calls
                .as_ref()
                .is_some_and(|calls| !calls.contains(&function))
                || rule.nth.is_some_and(|n| n != nth)
            {
                continue;
            }
            match rule.effect {
                Effect::Fail(rv) => {
                    decision.fail.get_or_insert(rv);
                }
                Effect::Latency(ms) => decision.latency_ms += ms,
                Effect::CorruptSignature => decision.corrupt_signature = true,
                Effect::GoneFor(secs) => {
                    let gone = age.is_none_or(|age| age < Duration::from_secs(secs));
                    if gone {
                        let rv = match function {
                            "C_GetSlotList" | "C_GetTokenInfo" | "C_OpenSession" => {
                                CKR_TOKEN_NOT_PRESENT
                            }
                            _ => CKR_DEVICE_REMOVED,
                        };
                        decision.fail.get_or_insert(rv);
                    }
                }
            }
        }
        decision
    }
}

fn parse_line(line: &str) -> Result<Rule, String> {
    let mut effect = None;
    let mut calls = None;
    let mut nth = None;
    for word in line.split_whitespace() {
        let (key, value) = word.split_once('=').unwrap_or((word, ""));
        let new_effect = match key {
            "fail" => Some(Effect::Fail(return_value(value)?)),
            "device_error" if value.is_empty() => Some(Effect::Fail(CKR_DEVICE_ERROR)),
            "corrupt_signature" if value.is_empty() => Some(Effect::CorruptSignature),
            "latency_ms" => Some(Effect::Latency(number(key, value)?)),
            "gone_for_secs" => Some(Effect::GoneFor(number(key, value)?)),
            "calls" => {
                let mut names = Vec::new();
                for name in value.split(',') {
                    let known = WRAPPED.iter().find(|w| **w == name).ok_or_else(|| {
                        format!(
                            "{name:?} is not a wrapped call; one of {}",
                            WRAPPED.join(", ")
                        )
                    })?;
                    names.push(*known);
                }
                calls = Some(names);
                None
            }
            "nth" => {
                let n = number(key, value)?;
                if n == 0 {
                    return Err("nth counts from 1".into());
                }
                nth = Some(n);
                None
            }
            _ => return Err(format!("unknown word {word:?}")),
        };
        if let Some(e) = new_effect {
            if effect.is_some() {
                return Err(
                    "one effect per line (fail, latency_ms, corrupt_signature, gone_for_secs)"
                        .into(),
                );
            }
            effect = Some(e);
        }
    }
    let effect = effect.ok_or("no effect (fail, latency_ms, corrupt_signature, gone_for_secs)")?;
    Ok(Rule { effect, calls, nth })
}

fn return_value(name: &str) -> Result<CK_RV, String> {
    RETURN_VALUES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, rv)| *rv)
        .ok_or_else(|| {
            let names: Vec<&str> = RETURN_VALUES.iter().map(|(n, _)| *n).collect();
            format!(
                "{name:?} is not a return value the shim injects; one of {}",
                names.join(", ")
            )
        })
}

fn number(key: &str, value: &str) -> Result<u64, String> {
    value
        .parse()
        .map_err(|_| format!("{key} wants a whole number, not {value:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(text: &str, function: &str, nth: u64) -> Decision {
        Rules::parse(text)
            .unwrap()
            .decide(function, nth, Some(Duration::ZERO))
    }

    #[test]
    fn legacy_words_still_mean_what_they_meant() {
        assert_eq!(decide("ok", "C_Sign", 1), Decision::default());
        assert_eq!(decide("", "C_Sign", 1), Decision::default());
        assert_eq!(
            decide("device_error", "C_Login", 1).fail,
            Some(CKR_DEVICE_ERROR)
        );
        assert_eq!(decide("latency_ms=500", "C_Sign", 1).latency_ms, 500);
        assert!(decide("corrupt_signature\n", "C_Sign", 1).corrupt_signature);
    }

    #[test]
    fn calls_and_nth_narrow_a_rule() {
        let text = "fail=CKR_SESSION_HANDLE_INVALID calls=C_Sign,C_Decrypt nth=2";
        assert_eq!(decide(text, "C_Sign", 1).fail, None);
        assert_eq!(
            decide(text, "C_Sign", 2).fail,
            Some(CKR_SESSION_HANDLE_INVALID)
        );
        assert_eq!(decide(text, "C_Sign", 3).fail, None);
        assert_eq!(
            decide(text, "C_Decrypt", 2).fail,
            Some(CKR_SESSION_HANDLE_INVALID)
        );
        assert_eq!(decide(text, "C_Login", 2).fail, None);
    }

    #[test]
    fn rules_combine_first_failure_wins_latency_adds() {
        let text = "latency_ms=5\nfail=CKR_GENERAL_ERROR calls=C_Sign\nfail=CKR_DEVICE_ERROR\nlatency_ms=7 calls=C_Sign";
        let d = decide(text, "C_Sign", 1);
        assert_eq!((d.fail, d.latency_ms), (Some(CKR_GENERAL_ERROR), 12));
        let d = decide(text, "C_Login", 1);
        assert_eq!((d.fail, d.latency_ms), (Some(CKR_DEVICE_ERROR), 5));
    }

    #[test]
    fn a_gone_token_comes_back_after_its_window() {
        let rules = Rules::parse("gone_for_secs=10").unwrap();
        let just = Some(Duration::from_secs(1));
        assert_eq!(
            rules.decide("C_OpenSession", 1, just).fail,
            Some(CKR_TOKEN_NOT_PRESENT)
        );
        assert_eq!(
            rules.decide("C_Sign", 1, just).fail,
            Some(CKR_DEVICE_REMOVED)
        );
        let long_ago = Some(Duration::from_secs(11));
        assert_eq!(rules.decide("C_Sign", 1, long_ago).fail, None);
    }

    #[test]
    fn mistakes_are_named_with_their_line() {
        for (text, said) in [
            ("fail=CKR_NOPE", "not a return value"),
            ("ok\nfail=CKR_DEVICE_ERROR calls=C_Nope", "line 2"),
            ("latency_ms=fast", "whole number"),
            ("nth=0 fail=CKR_DEVICE_ERROR", "counts from 1"),
            ("calls=C_Sign", "no effect"),
            ("fail=CKR_DEVICE_ERROR latency_ms=3", "one effect"),
            ("explode", "unknown word"),
        ] {
            let e = Rules::parse(text).unwrap_err();
            assert!(e.contains(said), "{text}: {e}");
        }
    }
}
