"""A relying party that holds only a leaf and the root: it follows the leaf's AIA
caIssuers URL (RFC 5280 §4.2.2.1), and each fetched certificate's in turn, until it reaches
a certificate the root issued, then verifies the chain with the PyPI `cryptography`
package's X.509 path validator (server policy, the name given). Prints `VERIFIED` and the
chain's subjects, or `FAILED: why` with exit code 1.

Usage: aia_verify.py LEAF.pem ROOT.pem DNS-NAME [--no-aia]
"""
import datetime
import sys
import urllib.request

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID
from cryptography.x509.verification import PolicyBuilder, Store


def load(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def ca_issuers(cert):
    try:
        aia = cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    except x509.ExtensionNotFound:
        return None
    for d in aia.value:
        if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS:
            return d.access_location.value
    return None


leaf_path, root_path, name = sys.argv[1:4]
follow = "--no-aia" not in sys.argv[4:]
leaf, root = load(leaf_path), load(root_path)
intermediates = []
cert = leaf
while follow and cert.issuer != root.subject and len(intermediates) < 5:
    url = ca_issuers(cert)
    if url is None:
        print(f"FAILED: {cert.subject.rfc4514_string()} names no caIssuers URL")
        sys.exit(1)
    with urllib.request.urlopen(url, timeout=10) as r:
        if r.headers.get("Content-Type") != "application/pkix-cert":
            print(f"FAILED: {url} answered Content-Type {r.headers.get('Content-Type')}")
            sys.exit(1)
        cert = x509.load_der_x509_certificate(r.read())
    intermediates.append(cert)

verifier = (
    PolicyBuilder()
    .store(Store([root]))
    .time(datetime.datetime.now(datetime.timezone.utc))
    .build_server_verifier(x509.DNSName(name))
)
try:
    chain = verifier.verify(leaf, intermediates)
except Exception as e:  # cryptography's VerificationError, or a malformed certificate
    print(f"FAILED: {e}")
    sys.exit(1)
print("VERIFIED " + " <- ".join(c.subject.rfc4514_string() for c in chain))
