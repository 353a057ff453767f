"""The Python equivalent of the bootstrap's init: imports, SDK clients, JWKS client.

Run as a fresh process by runtime/benches/cold_start.rs; prints how long the imports and the
client creation took inside the interpreter, and the process's peak RSS.
"""

import time

_t0 = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402

import boto3  # noqa: E402
import jwt  # noqa: E402
from botocore.config import Config  # noqa: E402

session = boto3.session.Session()
endpoint = os.environ.get("AWS_ENDPOINT_URL")
s3 = session.client(
    "s3",
    region_name="eu-west-1",
    endpoint_url=endpoint,
    config=Config(signature_version="s3v4"),
)
dynamodb = session.client("dynamodb", region_name="eu-west-1", endpoint_url=endpoint)
jwks = jwt.PyJWKClient(f"{endpoint}/eu-west-1_BENCH/.well-known/jwks.json", lifespan=3600)

elapsed_ms = (time.perf_counter() - _t0) * 1000.0
print(
    json.dumps(
        {
            "import_and_init_ms": elapsed_ms,
            "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }
    )
)
