"""PyScep (PyPI) as a second, independent SCEP client for crates/front/tests/scep_pyscep.rs.

Usage: scep_pyscep.py URL WORKDIR CHALLENGE
Runs, against URL, with a fresh RSA-2048 key per request:
  enrol     PKCSReq with CHALLENGE (PyScep picks AES-256 and SHA-512 from GetCACaps);
            writes WORKDIR/enrolled.pem
  relay     PKCSReq whose CSR is for one key and whose signer is a self-signed certificate
            of another key (a relayed CSR): must come back FAILURE
  getcert   GetCert for the enrolled certificate's serial; writes WORKDIR/getcert.pem
and prints one JSON object with the outcome of each. GetCRL is a separate call,
`scep_pyscep.py URL WORKDIR CHALLENGE getcrl SERIAL`, which writes WORKDIR/crl.der, and so
is GetNextCACert, `... rollover`, which prints the subjects of the next CA's certificates,
and `... pending` (PKCSReq answered PENDING, then GetCertInitial once WORKDIR/approved
exists; writes WORKDIR/pending.pem). `... probe` plays the padding-oracle attacker: envelopes
to the RA that open to something other than a CSR (good padding), and a CSR whose last
ciphertext byte is flipped (bad padding); it prints each one's status and failInfo.
"""

import hashlib
import json
import os
import re
import sys
import time
import warnings

warnings.simplefilter("ignore")

# oscrypto 1.3.0 (PyScep's key backend, the newest on PyPI) cannot parse OpenSSL versions
# with a two-digit patch number such as Debian 12's 3.0.19 and refuses to load. Its upstream
# fix widens that one regular expression; it is applied here for the import only.
_search = re.search


def _widened(pattern, string, *args, **kwargs):
    if pattern == "\\b(\\d\\.\\d\\.\\d[a-z]*)\\b":
        pattern = "\\b(\\d\\.\\d\\.\\d+[a-z]*)\\b"
    return _search(pattern, string, *args, **kwargs)


re.search = _widened
import oscrypto.asymmetric  # noqa: E402,F401

re.search = _search

import requests  # noqa: E402
from scep import Client  # noqa: E402
from scep.Client.enums import MessageType, PKIStatus  # noqa: E402
from scep.Client.envelope import PKCSPKIEnvelopeBuilder  # noqa: E402
from scep.Client.message import SCEPMessage  # noqa: E402

USAGE = {"digital_signature", "key_encipherment"}


def status(res):
    if res.status == PKIStatus.FAILURE:
        return {"status": "FAILURE", "fail_info": str(res.fail_info)}
    if res.status == PKIStatus.PENDING:
        return {"status": "PENDING", "transaction_id": res.transaction_id}
    return {"status": "SUCCESS"}


class CorruptLastByte(PKCSPKIEnvelopeBuilder):
    """An envelope whose ciphertext's last byte is flipped: its padding no longer checks."""

    def _encrypt_data(self, data):
        key, iv, ciphertext = super()._encrypt_data(data)
        return key, iv, ciphertext[:-1] + bytes([ciphertext[-1] ^ 0x5A])


def probe(client, challenge):
    """One signed PKIOperation per envelope, each the attacker's variation."""
    cacaps = client.get_ca_capabilities()
    ca_certs = client.get_ca_certs()
    identity, key = Client.SigningRequest.generate_self_signed(cn="prober.lab.test", key_usage=USAGE)
    csr, _ = Client.SigningRequest.generate_csr(cn="prober.lab.test", key_usage=USAGE, password=challenge, private_key=key)
    cipher = cacaps.strongest_cipher()
    cases = {
        "not_a_csr": (PKCSPKIEnvelopeBuilder().encrypt(b"padding checks, a CSR it is not", cipher), MessageType.PKCSReq),
        "not_an_issuer_and_serial": (PKCSPKIEnvelopeBuilder().encrypt(b"\x30\x03\x02\x01\x07", cipher), MessageType.GetCert),
        "bad_padding": (CorruptLastByte().encrypt(csr.to_der(), cipher), MessageType.PKCSReq),
    }
    out = {}
    for name, (envelope, message_type) in cases.items():
        res = client._pki_operation(identity=identity, identity_private_key=key, envelope=envelope, message_type=message_type, cacaps=cacaps, ca_certs=ca_certs, transaction_id=hashlib.sha1(name.encode()).hexdigest())
        out[name] = status(res)
    return out


def main():
    url, work, challenge = sys.argv[1], sys.argv[2], sys.argv[3]
    client = Client.Client(url)
    out = {}
    if len(sys.argv) > 4 and sys.argv[4] == "probe":
        print(json.dumps(probe(client, challenge)))
        return
    if len(sys.argv) > 4 and sys.argv[4] == "pending":
        # PKCSReq under a profile that needs an approval: PENDING; then, once the test has
        # approved and written WORKDIR/approved, GetCertInitial (CertPoll) for the request.
        identity, key = Client.SigningRequest.generate_self_signed(cn="py-pending.lab.test", key_usage=USAGE)
        csr, _ = Client.SigningRequest.generate_csr(cn="py-pending.lab.test", key_usage=USAGE, password=challenge, private_key=key)
        res = client.enrol(csr=csr, identity=identity, identity_private_key=key)
        out["first"] = status(res)
        if res.status == PKIStatus.PENDING:
            deadline = time.time() + 120
            while not os.path.exists(f"{work}/approved") and time.time() < deadline:
                time.sleep(0.5)
            res = client.poll(identity=identity, identity_private_key=key, subject=identity.subject, transaction_id=res.transaction_id)
            out["poll"] = status(res)
            if res.status == PKIStatus.SUCCESS:
                with open(f"{work}/pending.pem", "wb") as f:
                    f.write(res.certificates[0].to_pem())
        print(json.dumps(out))
        return
    if len(sys.argv) > 4 and sys.argv[4] == "rollover":
        out["offers"] = client.get_ca_capabilities().is_rollover_supported()
        # PyScep 0.0.14's rollover_certificate() parses and verifies the answer, then wraps
        # its already parsed certificates a second time (a TypeError whatever the server
        # sends); these are its own calls without that last step.
        try:
            ca_certs = client.get_ca_certs()
            res = requests.get(url, params={"operation": "GetNextCACert", "message": ""})
            if res.status_code != 200:
                raise ValueError(f"GetNextCACert answered {res.status_code}")
            assert res.headers["content-type"] == "application/x-x509-next-ca-cert"
            msg = SCEPMessage.parse(raw=res.content, signer_cert=ca_certs.signer)
            out["rollover"] = [c.to_crypto_certificate().subject.rfc4514_string() for c in msg.certificates]
        except Exception as e:  # a 404 before a successor is named
            out["rollover_error"] = str(e)
        print(json.dumps(out))
        return
    if len(sys.argv) > 4 and sys.argv[4] == "getcrl":
        identity, key = Client.SigningRequest.generate_self_signed(cn="crl-reader.lab.test", key_usage=USAGE)
        res = client.get_crl(identity=identity, identity_private_key=key, serial_number=int(sys.argv[5], 16))
        out["getcrl"] = status(res)
        if res.status == PKIStatus.SUCCESS:
            with open(f"{work}/crl.der", "wb") as f:
                f.write(res.crl.to_der())
        print(json.dumps(out))
        return

    caps = client.get_ca_capabilities()
    out["cipher"] = caps.strongest_cipher()
    out["digest"] = caps.strongest_message_digest()

    identity, key = Client.SigningRequest.generate_self_signed(cn="py1.lab.test", key_usage=USAGE)
    csr, _ = Client.SigningRequest.generate_csr(cn="py1.lab.test", key_usage=USAGE, password=challenge, private_key=key)
    res = client.enrol(csr=csr, identity=identity, identity_private_key=key)
    out["enrol"] = status(res)
    serial = None
    if res.status == PKIStatus.SUCCESS:
        cert = res.certificates[0]
        with open(f"{work}/enrolled.pem", "wb") as f:
            f.write(cert.to_pem())
        serial = cert.serial_number
        out["serial"] = format(serial, "x")

    # A relayed CSR: the CSR's key is not the key that signs the message.
    other_identity, other_key = Client.SigningRequest.generate_self_signed(cn="relay.lab.test", key_usage=USAGE)
    victim_csr, _ = Client.SigningRequest.generate_csr(cn="victim.lab.test", key_usage=USAGE, password=challenge)
    res = client.enrol(csr=victim_csr, identity=other_identity, identity_private_key=other_key)
    out["relay"] = status(res)

    if serial is not None:
        res = client.get_cert(identity=identity, identity_private_key=key, serial_number=serial)
        out["getcert"] = status(res)
        if res.status == PKIStatus.SUCCESS:
            with open(f"{work}/getcert.pem", "wb") as f:
                f.write(res.certificates[0].to_pem())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
