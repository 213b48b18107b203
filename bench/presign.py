"""A SigV4 presigned GET URL (path style), for comparing the files server with a direct
download from the store. Usage: presign.py ENDPOINT BUCKET KEY (credentials from the
FLUIDCLOUD__STORAGE__* variables)."""

import datetime
import hashlib
import hmac
import os
import sys
import urllib.parse

endpoint, bucket, key = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
access = os.environ["FLUIDCLOUD__STORAGE__ACCESS_KEY_ID"]
secret = os.environ["FLUIDCLOUD__STORAGE__SECRET_ACCESS_KEY"]
region = os.environ.get("FLUIDCLOUD__STORAGE__REGION", "us-east-1")
now = datetime.datetime.now(datetime.timezone.utc)
stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
host = urllib.parse.urlparse(endpoint).netloc
path = "/" + urllib.parse.quote(f"{bucket}/{key}")
scope = f"{day}/{region}/s3/aws4_request"
query = {
    "X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": f"{access}/{scope}", "X-Amz-Date": stamp,
    "X-Amz-Expires": "3600", "X-Amz-SignedHeaders": "host",
}
canonical_query = "&".join(f"{urllib.parse.quote(k, safe='')}={urllib.parse.quote(v, safe='')}" for k, v in sorted(query.items()))
request = "\n".join(["GET", path, canonical_query, f"host:{host}\n", "host", "UNSIGNED-PAYLOAD"])
to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(request.encode()).hexdigest()])
key_bytes = ("AWS4" + secret).encode()
for part in (day, region, "s3", "aws4_request"):
    key_bytes = hmac.new(key_bytes, part.encode(), hashlib.sha256).digest()
signature = hmac.new(key_bytes, to_sign.encode(), hashlib.sha256).hexdigest()
print(f"{endpoint}{path}?{canonical_query}&X-Amz-Signature={signature}")
