"""The emulator's true state, listed with bare boto3: what a store is compared against.

The fault-injection tests sync through a proxy that damages answers, then compare the
store with this listing, made straight to the emulator (never through cloudops or the
proxy). For every account (through an AssumeRole session of its role, as the host signs in)
and region, it prints one JSON document:

    {"111111111111/us-west-2/ec2_instance": {"i-0abc...": {"Name": "web-1", "env": "prod"}, ...},
     "111111111111/us-west-2/s3_bucket": {"logs-prod": {...}}, ...}

Keys are `account/region/type` with the scanners' resource types; values map each resource's
identifier (as the scanners report it) to its tags.

Usage:
    truth.py --url http://127.0.0.1:PORT --account 111111111111[:ROLE] ... --region us-west-2 ...
"""

import argparse
import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

DEMO_ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
DEMO_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def tags(pairs):
    return {t["Key"]: t["Value"] for t in pairs or []}


def ec2(session, region, url, config, add):
    c = session.client("ec2", region_name=region, endpoint_url=url, config=config)
    for page in c.get_paginator("describe_instances").paginate():
        for reservation in page["Reservations"]:
            # Terminated instances too: AWS lists them for a while, and so does the scanner.
            for i in reservation["Instances"]:
                add("ec2_instance", i["InstanceId"], tags(i.get("Tags")))


def rds(session, region, url, config, add):
    c = session.client("rds", region_name=region, endpoint_url=url, config=config)
    for page in c.get_paginator("describe_db_instances").paginate():
        for db in page["DBInstances"]:
            add("rds_instance", db["DBInstanceIdentifier"], tags(db.get("TagList")))


def s3(session, region, url, config, add):
    c = session.client("s3", region_name=region, endpoint_url=url, config=config)
    for bucket in c.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        location = c.get_bucket_location(Bucket=name).get("LocationConstraint") or "us-east-1"
        if location == "EU":
            location = "eu-west-1"
        if location != region:
            continue
        try:
            found = tags(c.get_bucket_tagging(Bucket=name).get("TagSet"))
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "NoSuchTagSet":
                raise
            found = {}
        add("s3_bucket", name, found)


def lambda_(session, region, url, config, add):
    c = session.client("lambda", region_name=region, endpoint_url=url, config=config)
    for page in c.get_paginator("list_functions").paginate():
        for f in page["Functions"]:
            add("lambda_function", f["FunctionName"], c.list_tags(Resource=f["FunctionArn"]).get("Tags", {}))


LISTERS = [ec2, rds, s3, lambda_]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="the emulator's base URL (not a proxy's)")
    ap.add_argument("--account", action="append", required=True, help="ID[:ROLE] (role default Developer)")
    ap.add_argument("--region", action="append", required=True)
    args = ap.parse_args(argv)
    # No retries: a fault here would be the emulator's, and must fail the test loudly.
    config = Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 1})
    base = boto3.session.Session(aws_access_key_id=DEMO_ACCESS_KEY, aws_secret_access_key=DEMO_SECRET_KEY)
    truth = {}
    for spec in args.account:
        account, role = (spec.split(":") + ["Developer"])[:2]
        sts = base.client("sts", region_name="us-east-1", endpoint_url=args.url, config=config)
        keys = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="truth")[
            "Credentials"
        ]
        session = boto3.session.Session(
            aws_access_key_id=keys["AccessKeyId"],
            aws_secret_access_key=keys["SecretAccessKey"],
            aws_session_token=keys["SessionToken"],
        )
        for region in args.region:
            for lister in LISTERS:

                def add(kind, identifier, found, region=region):
                    truth.setdefault(f"{account}/{region}/{kind}", {})[identifier] = found

                lister(session, region, args.url, config, add)
    json.dump(truth, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
