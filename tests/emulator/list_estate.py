"""A bare boto3 listing of a seeded estate: the emulator's floor for the sync benchmark.

For every account (through an AssumeRole session of its principal role, as the host signs
in) and region, it makes the calls the first-party scanners make, in the same order and
with the same page sizes, ten tasks at a time (one task per account, region and service, as
the host schedules plugins), and prints one JSON document:

    {"seconds": 41.2, "requests": 5321, "counts": {"111111111111/us-west-2/ec2_instance": 625, ...},
     "tasks": [{"account": ..., "region": ..., "service": ..., "seconds": ..., "requests": ...}]}

Counts use the scanners' resource types, so they compare with EstateFile::expected_counts.

Usage:
    list_estate.py --url http://127.0.0.1:PORT [--estate estate.json]
                   [--account 111111111111[:Developer] ...] [--region us-west-2 ...]
                   [--access-key KEY --secret-key SECRET] [--workers 10]

Without --estate or --account it lists the default demo estate's accounts (111111111111,
222222222222, 333333333333, role Developer) in us-west-2, us-east-1 and eu-west-1.
"""

import argparse
import json
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

DEMO_ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
DEMO_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DEFAULT_ACCOUNTS = ["111111111111", "222222222222", "333333333333"]
DEFAULT_REGIONS = ["us-west-2", "us-east-1", "eu-west-1"]
SERVICES = ["ec2", "rds", "s3", "lambda", "vpc", "elb"]

# The errors S3 answers when a bucket simply lacks a setting (as the s3 scanner reads them).
ABSENT = {
    "NoSuchTagSet",
    "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchLifecycleConfiguration",
    "NoSuchPublicAccessBlockConfiguration",
}


class Requests:
    """Counts every HTTP request botocore sends (retries included)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.n = 0

    def hook(self, **_):
        with self.lock:
            self.n += 1


def pages(call, token_in, token_out, key, **params):
    """Every item of a paginated listing, following the token as the scanners do."""
    items = []
    token = None
    while True:
        if token:
            params[token_in] = token
        page = call(**params)
        items.extend(page.get(key, []))
        token = page.get(token_out)
        if not token:
            return items


def list_ec2(c, account, add):
    instances = pages(c.describe_instances, "NextToken", "NextToken", "Reservations", MaxResults=1000)
    add("ec2_instance", sum(len(r["Instances"]) for r in instances))
    add("ec2_volume", len(pages(c.describe_volumes, "NextToken", "NextToken", "Volumes", MaxResults=500)))
    snapshots = pages(
        c.describe_snapshots,
        "NextToken",
        "NextToken",
        "Snapshots",
        OwnerIds=["self"],
        Filters=[{"Name": "owner-id", "Values": [account]}],
        MaxResults=1000,
    )
    add("ec2_snapshot", sum(1 for s in snapshots if s.get("OwnerId", account) == account))


def list_rds(c, _account, add):
    add("rds_instance", len(pages(c.describe_db_instances, "Marker", "Marker", "DBInstances", MaxRecords=100)))
    add("rds_cluster", len(pages(c.describe_db_clusters, "Marker", "Marker", "DBClusters", MaxRecords=100)))
    add("rds_snapshot", len(pages(c.describe_db_snapshots, "Marker", "Marker", "DBSnapshots", MaxRecords=100)))
    add(
        "rds_snapshot",
        len(pages(c.describe_db_cluster_snapshots, "Marker", "Marker", "DBClusterSnapshots", MaxRecords=100)),
    )


def list_s3(c, _account, add, region):
    # ListBuckets is global: every region's scan lists every bucket, locates it, and reads
    # the settings of those in its own region.
    buckets = c.list_buckets().get("Buckets", [])
    for b in buckets:
        name = b["Name"]
        location = c.get_bucket_location(Bucket=name).get("LocationConstraint") or "us-east-1"
        if location == "EU":
            location = "eu-west-1"
        if location != region:
            continue
        for call in (
            c.get_bucket_tagging,
            c.get_bucket_versioning,
            c.get_bucket_encryption,
            c.get_bucket_lifecycle_configuration,
            c.get_public_access_block,
        ):
            try:
                call(Bucket=name)
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") not in ABSENT:
                    raise
        add("s3_bucket", 1)


def list_lambda(c, _account, add):
    functions = pages(c.list_functions, "Marker", "NextMarker", "Functions", MaxItems=50)
    add("lambda_function", len(functions))
    for f in functions:
        c.list_tags(Resource=f["FunctionArn"])
        aliases = pages(c.list_aliases, "Marker", "NextMarker", "Aliases", FunctionName=f["FunctionName"], MaxItems=50)
        add("lambda_alias", len(aliases))
    for layer in pages(c.list_layers, "Marker", "NextMarker", "Layers", MaxItems=50):
        versions = pages(
            c.list_layer_versions, "Marker", "NextMarker", "LayerVersions", LayerName=layer["LayerName"], MaxItems=50
        )
        add("lambda_layer", len(versions))


def list_vpc(c, _account, add):
    add("vpc", len(pages(c.describe_vpcs, "NextToken", "NextToken", "Vpcs", MaxResults=1000)))
    add("vpc_subnet", len(pages(c.describe_subnets, "NextToken", "NextToken", "Subnets", MaxResults=1000)))
    add(
        "vpc_security_group",
        len(pages(c.describe_security_groups, "NextToken", "NextToken", "SecurityGroups", MaxResults=1000)),
    )


def list_elb(c, _account, add):
    lbs = pages(c.describe_load_balancers, "Marker", "NextMarker", "LoadBalancers")
    for i in range(0, len(lbs), 20):
        c.describe_tags(ResourceArns=[lb["LoadBalancerArn"] for lb in lbs[i : i + 20]])
    add("elb_load_balancer", len(lbs))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="the emulator's base URL")
    ap.add_argument("--access-key", default=DEMO_ACCESS_KEY)
    ap.add_argument("--secret-key", default=DEMO_SECRET_KEY)
    ap.add_argument("--estate", help="an estate file: its accounts, regions and principal roles")
    ap.add_argument("--account", action="append", default=[], help="ID[:ROLE] (role default Developer)")
    ap.add_argument("--region", action="append", default=[])
    ap.add_argument("--workers", type=int, default=10)
    args = ap.parse_args(argv)

    if args.estate:
        with open(args.estate) as f:
            accounts = [
                (a["id"], a.get("principal", {}).get("role", "Developer"), a["regions"])
                for a in json.load(f)["accounts"]
            ]
    else:
        regions = args.region or DEFAULT_REGIONS
        wanted = args.account or DEFAULT_ACCOUNTS
        accounts = [((a.split(":") + ["Developer"])[0], (a.split(":") + ["Developer"])[1], regions) for a in wanted]

    requests = Requests()
    config = Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 3})

    def session(keys=None):
        s = boto3.session.Session(
            aws_access_key_id=keys[0] if keys else args.access_key,
            aws_secret_access_key=keys[1] if keys else args.secret_key,
            aws_session_token=keys[2] if keys else None,
        )
        s.events.register("before-send", requests.hook)
        return s

    started = time.monotonic()
    # Sign in to each account as the host does: AssumeRole from the base keys.
    sessions = {}
    for account, role, _ in accounts:
        sts = session().client("sts", region_name="us-east-1", endpoint_url=args.url, config=config)
        c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="list-estate")["Credentials"]
        sessions[account] = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])

    counts = Counter()
    counts_lock = threading.Lock()
    listers = {"ec2": list_ec2, "rds": list_rds, "s3": list_s3, "lambda": list_lambda, "vpc": list_vpc, "elb": list_elb}
    clients = {"ec2": "ec2", "rds": "rds", "s3": "s3", "lambda": "lambda", "vpc": "ec2", "elb": "elbv2"}

    def task(account, region, service):
        t0 = time.monotonic()
        before = requests.n
        client = session(sessions[account]).client(clients[service], region_name=region, endpoint_url=args.url, config=config)

        def add(kind, n):
            with counts_lock:
                counts[f"{account}/{region}/{kind}"] += n

        if service == "s3":
            list_s3(client, account, add, region)
        else:
            listers[service](client, account, add)
        return {
            "account": account,
            "region": region,
            "service": service,
            "seconds": round(time.monotonic() - t0, 3),
            # Approximate under concurrency: other tasks' requests land in the same window.
            "requests_in_window": requests.n - before,
        }

    jobs = [(a, r, s) for a, _, regions in accounts for r in regions for s in SERVICES]
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        tasks = list(pool.map(lambda j: task(*j), jobs))
    seconds = time.monotonic() - started
    json.dump(
        {
            "seconds": round(seconds, 3),
            "requests": requests.n,
            "counts": dict(sorted((k, v) for k, v in counts.items() if v)),
            "tasks": tasks,
        },
        sys.stdout,
        indent=1,
    )
    print()


if __name__ == "__main__":
    main()
