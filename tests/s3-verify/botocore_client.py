"""botocore_client.py — an independent S3 client for tests/check_s3_verify.sh.

Uses Debian's python3-botocore (run it with /usr/bin/python3) so that the
local S3 is exercised by the signer AWS's own SDKs use, not by our code.

  presign METHOD BUCKET KEY EXPIRES [RESPONSE_CONTENT_TYPE]  -> prints a URL
  put BUCKET KEY FILE CONTENT_TYPE                           -> prints the ETag
  get BUCKET KEY OUT_FILE                                    -> prints the Content-Type
  list BUCKET PREFIX                                         -> prints one key a line
  delete BUCKET KEY

Endpoint and credentials come from S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET and
S3_REGION (default us-east-1).
"""
import os
import sys

import botocore.session
from botocore.config import Config

OPERATIONS = {"GET": "get_object", "PUT": "put_object", "HEAD": "head_object", "DELETE": "delete_object"}


def client():
    session = botocore.session.get_session()
    return session.create_client(
        "s3",
        region_name=os.environ.get("S3_REGION", "us-east-1"),
        endpoint_url=os.environ["S3_ENDPOINT"],
        aws_access_key_id=os.environ["S3_ACCESS_KEY"],
        aws_secret_access_key=os.environ["S3_SECRET"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"max_attempts": 1}),
    )


def main(argv):
    command, args = argv[1], argv[2:]
    s3 = client()
    if command == "presign":
        method, bucket, key, expires = args[:4]
        params = {"Bucket": bucket, "Key": key}
        if len(args) > 4:
            params["ResponseContentType"] = args[4]
        print(s3.generate_presigned_url(OPERATIONS[method], Params=params, ExpiresIn=int(expires)))
    elif command == "put":
        bucket, key, path, content_type = args
        with open(path, "rb") as body:
            reply = s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
        print(reply["ETag"])
    elif command == "get":
        bucket, key, path = args
        reply = s3.get_object(Bucket=bucket, Key=key)
        with open(path, "wb") as out:
            out.write(reply["Body"].read())
        print(reply["ContentType"])
    elif command == "list":
        bucket, prefix = args
        reply = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
        for item in reply.get("Contents", []):
            print(item["Key"])
    elif command == "delete":
        bucket, key = args
        s3.delete_object(Bucket=bucket, Key=key)
    else:
        sys.exit("unknown command " + command)


if __name__ == "__main__":
    main(sys.argv)
