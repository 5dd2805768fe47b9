"""RFC 6960 GET-form OCSP client for the revocation tests, with the PyPI `cryptography`
package: builds the request, fetches /ocsp/{base64}, verifies the response signature and
the responder certificate up to the root, and prints `STATUS [REASON] CACHE-CONTROL`."""
import base64
import sys
import urllib.parse
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp


def load(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def signed_by(cert, issuer):
    issuer.public_key().verify(
        cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm)
    )


base, leaf_path, issuer_path, root_path = sys.argv[1:5]
leaf, issuer, root = load(leaf_path), load(issuer_path), load(root_path)
req = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1()).build()
der = req.public_bytes(serialization.Encoding.DER)
url = base + "/ocsp/" + urllib.parse.quote(base64.b64encode(der).decode(), safe="")
with urllib.request.urlopen(url) as r:
    body = r.read()
    cache = r.headers.get("Cache-Control", "")
    ctype = r.headers.get("Content-Type", "")
assert ctype == "application/ocsp-response", ctype
resp = ocsp.load_der_ocsp_response(body)
assert resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL, resp.response_status
responder = resp.certificates[0]
responder.public_key().verify(
    resp.signature, resp.tbs_response_bytes, ec.ECDSA(resp.signature_hash_algorithm)
)
signed_by(responder, issuer)
signed_by(issuer, root)
assert x509.ExtendedKeyUsageOID.OCSP_SIGNING in responder.extensions.get_extension_for_class(
    x509.ExtendedKeyUsage
).value
assert resp.serial_number == leaf.serial_number
status = resp.certificate_status.name.lower()
reason = resp.revocation_reason.name if resp.revocation_reason else "-"
print(status, reason, cache)
