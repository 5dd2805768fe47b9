//! Time as the signer reasons about it: Unix seconds, converted to X.509 `Time` with the
//! RFC 5280 rule (UTCTime through 2049, GeneralizedTime from 2050).

use crate::X509Error;
use der::asn1::{GeneralizedTime, UtcTime};
use std::time::Duration;
use x509_cert::time::Time;

/// Seconds since the Unix epoch. Logic takes it as an input; the daemon's clock makes it.
pub type UnixTime = i64;

/// Converts Unix seconds to an X.509 Time.
pub fn to_x509_time(t: UnixTime) -> Result<Time, X509Error> {
    let secs = u64::try_from(t).map_err(|_| X509Error::Malformed("time before 1970".into()))?;
    let d = Duration::from_secs(secs);
    // 2050-01-01T00:00:00Z
    if t < 2_524_608_000 {
        Ok(Time::UtcTime(UtcTime::from_unix_duration(d)?))
    } else {
        Ok(Time::GeneralTime(GeneralizedTime::from_unix_duration(d)?))
    }
}

/// Converts an X.509 Time to Unix seconds.
pub(crate) fn from_x509_time(t: &Time) -> UnixTime {
    // Invariant: X.509 times are at most year 9999, far below i64::MAX seconds.
    t.to_unix_duration().as_secs() as i64
}
