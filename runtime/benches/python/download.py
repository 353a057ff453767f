"""A hand-written Python equivalent of one authorised download, for runtime/benches/download.rs.

The same steps as the Rust handler, written the way a careful Python Lambda would be: parse the
API Gateway v2 event, verify the RS256 access token with PyJWT (the public key already fetched,
a verified-token cache by SHA-256 like the Rust one), check the claims Cognito needs checked,
validate the key, decide with the same grant/deny rules, build the audit record and its DynamoDB
item (boto3's TypeSerializer: what put_item would be given), look the object up (a dict: the
HEAD is a network call in both), pre-sign the GET with boto3, serialise the response.

    .venv-bench/bin/python runtime/benches/python/download.py [--json]

Prints per-request times in microseconds (median and min over batches) for `steady` (the same
token each time) and `cold-verify` (a new token each time).
"""

import datetime
import hashlib
import json
import os
import statistics
import sys
import time

import boto3
import jwt
from boto3.dynamodb.types import TypeSerializer
from botocore.config import Config
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_BENCH"
CLIENT = "client-1"
KID = "bench-key-1"
SUB = "11111111-2222-3333-4444-555555555555"
NOW = 1796400350  # 2026-12-04T16:05:50Z, as the Rust bench's clock
SKEW = 5
URL_TTL = 600
RETENTION_DAYS = 400
MAX_KEY_BYTES = 1024
BUCKETS = {"company-reports": "eu-west-1"}

POLICIES = {
    "finance": {
        "grants": [
            {"path": ("company-reports", "annual/"), "access": {"read"}},
            {"path": ("company-reports", "quarterly/"), "access": {"read"}},
        ],
        "deny": [{"path": ("company-reports", "annual/secret/"), "access": {"read", "write", "delete"}}],
    },
    "engineering": {
        "grants": [{"path": ("company-reports", "incoming/"), "access": {"read", "write"}}],
        "deny": [],
    },
}
OBJECTS = {
    ("company-reports", "annual/2025/report.pdf"): 1_000_000,
    ("company-reports", "annual/summary.pdf"): 10,
}

PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEYS = {KID: PRIVATE_KEY.public_key()}
S3 = boto3.client(
    "s3",
    region_name="eu-west-1",
    aws_access_key_id="AKIDEXAMPLE",
    aws_secret_access_key="secret",
    config=Config(signature_version="s3v4"),
)
SERIALIZER = TypeSerializer()
TOKEN_CACHE = {}
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def mint(jti):
    claims = {
        "sub": SUB, "iss": ISSUER, "token_use": "access", "client_id": CLIENT,
        "iat": NOW - 60, "auth_time": NOW - 60, "exp": NOW + 3600, "username": "ana",
        "cognito:groups": ["finance"], "jti": jti, "scope": "aws.cognito.signin.user.admin",
        "origin_jti": "bench-origin", "event_id": "bench-event", "version": 2,
    }
    return jwt.encode(claims, PRIVATE_KEY, algorithm="RS256", headers={"kid": KID})


def verify(token, now):
    digest = hashlib.sha256(token.encode()).digest()
    hit = TOKEN_CACHE.get(digest)
    if hit is not None and now < hit["exp"] + SKEW:
        return hit
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise ApiError(401, "unauthorized", "the token is malformed")
    if header.get("alg") != "RS256":
        raise ApiError(401, "unauthorized", "only RS256-signed tokens are accepted")
    key = KEYS.get(header.get("kid"))
    if key is None:
        raise ApiError(401, "unauthorized", "the token's signing key is unknown")
    try:
        claims = jwt.decode(
            token, key, algorithms=["RS256"], issuer=ISSUER,
            options={"verify_exp": False, "verify_aud": False, "require": ["exp", "iss", "sub"]},
        )
    except jwt.InvalidTokenError:
        raise ApiError(401, "unauthorized", "the token's signature is invalid")
    if claims.get("token_use") != "access" or claims.get("client_id") != CLIENT:
        raise ApiError(401, "unauthorized", "not an access token of this app")
    if now >= claims["exp"] + SKEW or claims.get("iat", 0) > now + SKEW:
        raise ApiError(401, "unauthorized", "the token has expired")
    identity = {
        "sub": claims["sub"], "username": claims.get("username", ""),
        "groups": list(claims.get("cognito:groups", [])), "iat": claims.get("iat", 0),
        "exp": claims["exp"],
    }
    if len(TOKEN_CACHE) >= 10_000:
        TOKEN_CACHE.clear()
    TOKEN_CACHE[digest] = identity
    return identity


def parse_object_path(text):
    if not text.startswith("s3://"):
        raise ApiError(400, "bad-request", "invalid path: no s3://")
    bucket, _, key = text[5:].partition("/")
    if not bucket or not key or key.endswith("/"):
        raise ApiError(400, "bad-request", "invalid path: name one object")
    if len(key.encode()) > MAX_KEY_BYTES or key.startswith("/") or "\\" in key:
        raise ApiError(400, "bad-request", "invalid path")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in key):
        raise ApiError(400, "bad-request", "invalid path: control character")
    if any(seg in ("", ".", "..") for seg in key.split("/")):
        raise ApiError(400, "bad-request", "invalid path: empty or dot segment")
    return bucket, key


def covers(rule_path, bucket, key):
    b, prefix = rule_path
    if b != bucket:
        return False
    return key.startswith(prefix) if (prefix == "" or prefix.endswith("/")) else key == prefix


def decide(groups, bucket, key, right):
    for g in groups:
        for d in POLICIES.get(g, {}).get("deny", []):
            if right in d["access"] and covers(d["path"], bucket, key):
                return False, ("deny", g, d)
    for g in groups:
        for gr in POLICIES.get(g, {}).get("grants", []):
            if right in gr["access"] and covers(gr["path"], bucket, key):
                return True, ("grant", g, gr)
    return False, None


def ulid(now_ms):
    value = (now_ms << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(CROCKFORD[(value >> shift) & 31] for shift in range(125, -5, -5))


def audit_item(identity, bucket, key, rule, ctx, now):
    moment = datetime.datetime.fromtimestamp(now, tz=datetime.timezone.utc)
    time_text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    record_id = ulid(now * 1000)
    kind, group, r = rule
    record = {
        "id": record_id, "time": time_text,
        "user": {"sub": identity["sub"], "username": identity["username"]},
        "groups": identity["groups"], "action": "download", "bucket": bucket, "key": key,
        "outcome": "allow", "basis": "grant",
        "rule": {"group": group, "kind": kind, "path": f"s3://{r['path'][0]}/{r['path'][1]}",
                 "access": "read"},
        "reason": f"allowed by grant s3://{r['path'][0]}/{r['path'][1]} (read) of group `{group}`",
        "status": 200, "source_ip": ctx.get("sourceIp"), "user_agent": ctx.get("userAgent"),
        "request_id": ctx.get("requestId"), "expires_at": now + RETENTION_DAYS * 86400,
        "time_id": f"{time_text}#{record_id}", "day": time_text[:10],
        "object": f"s3://{bucket}/{key}", "user_sub": identity["sub"],
    }
    return {k: SERIALIZER.serialize(v) for k, v in record.items() if v is not None}


AUDIT = []


def content_disposition(name):
    ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    from urllib.parse import quote

    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def handle(event_bytes):
    event = json.loads(event_bytes)
    ctx = event["requestContext"]
    try:
        auth = event.get("headers", {}).get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", "no bearer token")
        identity = verify(token.strip(), NOW)
        body = json.loads(event.get("body") or "")
        bucket, key = parse_object_path(body["path"])
        ttl = body.get("ttl_seconds", URL_TTL)
        allowed, rule = decide(identity["groups"], bucket, key, "read")
        if not allowed or bucket not in BUCKETS:
            raise ApiError(403, "forbidden", "no grant")
        item = audit_item(identity, bucket, key, rule, {**ctx["http"], **ctx}, NOW)
        AUDIT.append(item)
        if len(AUDIT) >= 4096:
            AUDIT.clear()
        size = OBJECTS.get((bucket, key))
        if size is None:
            raise ApiError(404, "not-found", "no such object")
        name = key.rsplit("/", 1)[-1]
        url = S3.generate_presigned_url(
            "get_object",
            Params={"Bucket": bucket, "Key": key, "ResponseContentDisposition": content_disposition(name)},
            ExpiresIn=ttl,
        )
        expires = datetime.datetime.fromtimestamp(NOW + ttl, tz=datetime.timezone.utc)
        answer = {
            "url": url, "method": "GET", "expires_at": expires.isoformat().replace("+00:00", "Z"),
            "ttl_seconds": ttl, "name": name, "path": f"s3://{bucket}/{key}", "size": size,
            "content_type": "application/pdf",
        }
        status = 200
    except ApiError as e:
        answer = {"error": e.code, "message": e.message, "request_id": ctx.get("requestId")}
        status = e.status
    response = {
        "statusCode": status,
        "headers": {"content-type": "application/json", "cache-control": "no-store",
                    "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"},
        "body": json.dumps(answer), "isBase64Encoded": False,
    }
    return json.dumps(response).encode()


def event_bytes(token):
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "tests", "data", "apigw-v2-post-download.json")) as f:
        event = json.load(f)
    event["headers"]["authorization"] = f"Bearer {token}"
    event["body"] = json.dumps({"path": "s3://company-reports/annual/2025/report.pdf"})
    return json.dumps(event).encode()


def per_call_us(batches):
    return {"median": statistics.median(batches), "min": min(batches), "batches": len(batches)}


def main():
    steady_event = event_bytes(mint("steady"))
    check = json.loads(handle(steady_event))
    assert check["statusCode"] == 200, check
    assert "X-Amz-Signature=" in json.loads(check["body"])["url"]

    for _ in range(500):  # warm-up
        handle(steady_event)
    steady = []
    for _ in range(30):
        n = 500
        t = time.perf_counter()
        for _ in range(n):
            handle(steady_event)
        steady.append((time.perf_counter() - t) / n * 1e6)

    pool = [event_bytes(mint(f"jti-{i}")) for i in range(2_000)]
    cold = []
    i = 0
    for _ in range(20):
        n = 100
        t = time.perf_counter()
        for _ in range(n):
            handle(pool[i])
            i += 1
        cold.append((time.perf_counter() - t) / n * 1e6)

    result = {"steady_us": per_call_us(steady), "cold_verify_us": per_call_us(cold),
              "python": sys.version.split()[0], "boto3": boto3.__version__, "pyjwt": jwt.__version__}
    if "--json" in sys.argv:
        print(json.dumps(result))
    else:
        print(f"python download steady:      median {result['steady_us']['median']:.1f} µs")
        print(f"python download cold-verify: median {result['cold_verify_us']['median']:.1f} µs")


if __name__ == "__main__":
    main()
