"""SimulatePrincipalPolicy on the extended moto server, driven through boto3 like a real client.

One server (started through the `moto_server` wrapper, as cloudops's host does) serves all
tests; each test uses its own principal names, so the order of tests does not matter.
"""
import json
import os
import socket
import subprocess
import time
import unittest
import urllib.request

import boto3
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_ACCOUNT = "123456789012"
ACCOUNT_B, ACCOUNT_C = "111111111111", "222222222222"
server = None
endpoint = None


def setUpModule():
    global server, endpoint
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    env = dict(os.environ, MOTO_EC2_LOAD_DEFAULT_AMIS="false")
    server = subprocess.Popen(
        [os.path.join(HERE, "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            return
        except OSError:
            if server.poll() is not None or time.time() > deadline:
                tearDownModule()
                raise RuntimeError("moto server did not start")
            time.sleep(0.1)


def tearDownModule():
    if server and server.poll() is None:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def client(service, account=None, **keys):
    """A boto3 client for the server; `account` sets moto's x-moto-account-id header."""
    keys = keys or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    c = boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", **keys)
    if account:
        c.meta.events.register(
            "before-sign", lambda request, **_: request.headers.__setitem__(
                "x-moto-account-id", account)
        )
    return c


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


class SimulateTest(unittest.TestCase):
    def setUp(self):
        self.iam = client("iam")

    def user(self, name, *statements, iam=None):
        iam = iam or self.iam
        iam.create_user(UserName=name)
        if statements:
            iam.put_user_policy(UserName=name, PolicyName=f"{name}-inline",
                                PolicyDocument=doc(*statements))
        return f"arn:aws:iam::{DEFAULT_ACCOUNT}:user/{name}"

    def decisions(self, arn, actions, resources=None, iam=None):
        """{action: decision} without resources, {(action, resource): decision} with them."""
        kw = {"ResourceArns": resources} if resources else {}
        r = (iam or self.iam).simulate_principal_policy(
            PolicySourceArn=arn, ActionNames=actions, **kw)
        if not resources:
            return {e["EvalActionName"]: e["EvalDecision"] for e in r["EvaluationResults"]}
        return {(e["EvalActionName"], x["EvalResourceName"]): x["EvalResourceDecision"]
                for e in r["EvaluationResults"] for x in e["ResourceSpecificResults"]}

    def test_allow_explicit_and_implicit_deny(self):
        arn = self.user("alice", allow(["ec2:StopInstances", "ec2:TerminateInstances"]),
                        deny("ec2:TerminateInstances"))
        r = self.iam.simulate_principal_policy(
            PolicySourceArn=arn,
            ActionNames=["ec2:StopInstances", "ec2:TerminateInstances", "rds:StopDBInstance"])
        results = r["EvaluationResults"]
        self.assertFalse(r["IsTruncated"])
        self.assertEqual([(e["EvalActionName"], e["EvalResourceName"], e["EvalDecision"])
                          for e in results],
                         [("ec2:StopInstances", "*", "allowed"),
                          ("ec2:TerminateInstances", "*", "explicitDeny"),
                          ("rds:StopDBInstance", "*", "implicitDeny")])
        self.assertEqual(results[0]["MatchedStatements"],
                         [{"SourcePolicyId": "alice-inline", "SourcePolicyType": "IAM Policy"}])
        self.assertEqual(results[2]["MatchedStatements"], [])
        self.assertNotIn("ResourceSpecificResults", results[0])  # no ResourceArns given

    def test_wildcards_and_case(self):
        arn = self.user("bob", allow("EC2:Describe*"), allow("s3:Get?bject", "arn:aws:s3:::b/*"))
        self.assertEqual(
            self.decisions(arn, ["ec2:DescribeInstances", "ec2:describevolumes", "ec2:StopInstances"]),
            {"ec2:DescribeInstances": "allowed", "ec2:describevolumes": "allowed",
             "ec2:StopInstances": "implicitDeny"})
        # `*` spans '/', `?` is one character, resources are case-sensitive.
        self.assertEqual(
            self.decisions(arn, ["s3:GetObject", "s3:GetXXbject"],
                           ["arn:aws:s3:::b/k/x", "arn:aws:s3:::B/k"]),
            {("s3:GetObject", "arn:aws:s3:::b/k/x"): "allowed",
             ("s3:GetObject", "arn:aws:s3:::B/k"): "implicitDeny",
             ("s3:GetXXbject", "arn:aws:s3:::b/k/x"): "implicitDeny",
             ("s3:GetXXbject", "arn:aws:s3:::B/k"): "implicitDeny"})

    def test_not_action_and_not_resource(self):
        arn = self.user(
            "carol",
            {"Effect": "Allow", "NotAction": ["iam:*", "ec2:Terminate*"], "Resource": "*"},
            {"Effect": "Deny", "Action": "rds:*", "NotResource": "arn:aws:rds:*:*:db:dev-*"})
        self.assertEqual(
            self.decisions(arn, ["ec2:StopInstances", "ec2:TerminateInstances", "iam:CreateUser",
                                 "rds:StopDBInstance"],
                           ["arn:aws:rds:us-east-1:1:db:dev-1", "arn:aws:rds:us-east-1:1:db:prod"]),
            {("ec2:StopInstances", "arn:aws:rds:us-east-1:1:db:dev-1"): "allowed",
             ("ec2:StopInstances", "arn:aws:rds:us-east-1:1:db:prod"): "allowed",
             ("ec2:TerminateInstances", "arn:aws:rds:us-east-1:1:db:dev-1"): "implicitDeny",
             ("ec2:TerminateInstances", "arn:aws:rds:us-east-1:1:db:prod"): "implicitDeny",
             ("iam:CreateUser", "arn:aws:rds:us-east-1:1:db:dev-1"): "implicitDeny",
             ("iam:CreateUser", "arn:aws:rds:us-east-1:1:db:prod"): "implicitDeny",
             ("rds:StopDBInstance", "arn:aws:rds:us-east-1:1:db:dev-1"): "allowed",
             ("rds:StopDBInstance", "arn:aws:rds:us-east-1:1:db:prod"): "explicitDeny"})

    def test_per_resource_results_and_top_level_summary(self):
        mine = "arn:aws:ec2:us-east-1:123456789012:instance/i-mine"
        other = "arn:aws:ec2:us-east-1:123456789012:instance/i-other"
        arn = self.user("dave", allow("ec2:StopInstances", mine))
        r = self.iam.simulate_principal_policy(
            PolicySourceArn=arn, ActionNames=["ec2:StopInstances"], ResourceArns=[mine, other])
        (result,) = r["EvaluationResults"]  # one result per action, resources inside it
        self.assertEqual(result["EvalResourceName"], "*")
        self.assertEqual(result["EvalDecision"], "implicitDeny")  # the most restrictive
        self.assertEqual(
            [(x["EvalResourceName"], x["EvalResourceDecision"], len(x["MatchedStatements"]))
             for x in result["ResourceSpecificResults"]],
            [(mine, "allowed", 1), (other, "implicitDeny", 0)])

    def test_condition_is_not_evaluated_but_reported(self):
        arn = self.user("erin", allow("ec2:*"),
                        deny("ec2:TerminateInstances",
                             Condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}}),
                        allow("s3:*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
        r = self.iam.simulate_principal_policy(
            PolicySourceArn=arn, ActionNames=["ec2:TerminateInstances", "s3:ListBucket"],
            ResourceArns=["arn:aws:s3:::x"])
        term, s3 = r["EvaluationResults"]
        self.assertEqual(term["EvalDecision"], "allowed")
        self.assertEqual(term["ResourceSpecificResults"][0]["MissingContextValues"],
                         ["aws:MultiFactorAuthPresent"])
        self.assertEqual(term["MissingContextValues"], ["aws:MultiFactorAuthPresent"])
        self.assertEqual(s3["EvalDecision"], "implicitDeny")
        self.assertEqual(s3["MissingContextValues"], ["aws:SourceIp"])

    def test_group_and_managed_policies(self):
        arn = self.user("frank")
        managed = self.iam.create_policy(
            PolicyName="rds-stop", PolicyDocument=doc(allow("rds:StopDBInstance")))["Policy"]["Arn"]
        self.iam.attach_user_policy(UserName="frank", PolicyArn=managed)
        self.iam.create_group(GroupName="ops")
        self.iam.add_user_to_group(GroupName="ops", UserName="frank")
        self.iam.put_group_policy(GroupName="ops", PolicyName="ops-inline",
                                  PolicyDocument=doc(allow("ec2:StopInstances")))
        self.iam.create_group(GroupName="guard")
        self.iam.add_user_to_group(GroupName="guard", UserName="frank")
        read_only = self.iam.create_policy(
            PolicyName="ec2-read", PolicyDocument=doc(allow("ec2:Describe*")))["Policy"]["Arn"]
        self.iam.attach_group_policy(GroupName="guard", PolicyArn=read_only)
        self.iam.put_group_policy(GroupName="guard", PolicyName="no-terminate",
                                  PolicyDocument=doc(deny("ec2:TerminateInstances")))
        r = self.iam.simulate_principal_policy(
            PolicySourceArn=arn, ActionNames=["rds:StopDBInstance", "ec2:StopInstances",
                                              "ec2:DescribeInstances", "ec2:TerminateInstances"])
        self.assertEqual(
            [(e["EvalDecision"], [m["SourcePolicyId"] for m in e["MatchedStatements"]])
             for e in r["EvaluationResults"]],
            [("allowed", ["rds-stop"]), ("allowed", ["ops-inline"]),
             ("allowed", ["ec2-read"]), ("explicitDeny", ["no-terminate"])])

    def test_role_policies(self):
        trust = doc({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                     "Action": "sts:AssumeRole"})
        role = self.iam.create_role(RoleName="Worker", Path="/app/",
                                    AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        self.iam.put_role_policy(RoleName="Worker", PolicyName="w",
                                 PolicyDocument=doc(allow("lambda:InvokeFunction")))
        managed = self.iam.create_policy(
            PolicyName="w-deny", PolicyDocument=doc(deny("lambda:Delete*")))["Policy"]["Arn"]
        self.iam.attach_role_policy(RoleName="Worker", PolicyArn=managed)
        self.assertEqual(role, f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/app/Worker")
        self.assertEqual(
            self.decisions(role, ["lambda:InvokeFunction", "lambda:DeleteFunction", "s3:Get*"]),
            {"lambda:InvokeFunction": "allowed", "lambda:DeleteFunction": "explicitDeny",
             "s3:Get*": "implicitDeny"})

    def test_three_accounts(self):
        trust = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{DEFAULT_ACCOUNT}:root"},
                     "Action": "sts:AssumeRole"})
        # Account B through STS (as the host does): the keys act as account B.
        creds = client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT_B}:role/Admin", RoleSessionName="setup")["Credentials"]
        iam_b = client("iam", aws_access_key_id=creds["AccessKeyId"],
                       aws_secret_access_key=creds["SecretAccessKey"],
                       aws_session_token=creds["SessionToken"])
        # Account C through moto's x-moto-account-id header.
        iam_c = client("iam", account=ACCOUNT_C)
        for iam, action in ((self.iam, "ec2:StopInstances"), (iam_b, "rds:StopDBInstance"),
                            (iam_c, "lambda:InvokeFunction")):
            iam.create_role(RoleName="Developer", AssumeRolePolicyDocument=trust)
            iam.put_role_policy(RoleName="Developer", PolicyName="dev",
                                PolicyDocument=doc(allow(action)))
        actions = ["ec2:StopInstances", "rds:StopDBInstance", "lambda:InvokeFunction"]
        for iam, account, allowed in ((self.iam, DEFAULT_ACCOUNT, "ec2:StopInstances"),
                                      (iam_b, ACCOUNT_B, "rds:StopDBInstance"),
                                      (iam_c, ACCOUNT_C, "lambda:InvokeFunction")):
            got = self.decisions(f"arn:aws:iam::{account}:role/Developer", actions, iam=iam)
            self.assertEqual(got, {a: "allowed" if a == allowed else "implicitDeny"
                                   for a in actions}, account)
        # Each account sees only its own principals.
        with self.assertRaises(ClientError) as e:
            self.decisions(f"arn:aws:iam::{ACCOUNT_B}:role/Developer", actions, iam=iam_c)
        self.assertEqual(e.exception.response["Error"]["Code"], "NoSuchEntity")

    def test_unknown_principal_and_bad_arn(self):
        for arn in (f"arn:aws:iam::{DEFAULT_ACCOUNT}:user/nobody",
                    f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/nobody"):
            with self.assertRaises(ClientError) as e:
                self.decisions(arn, ["ec2:StopInstances"])
            err = e.exception.response
            self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 404)
            self.assertEqual((err["Error"]["Type"], err["Error"]["Code"]), ("Sender", "NoSuchEntity"))
        # Like AWS: an STS assumed-role ARN is not an IAM entity; pass the role's IAM ARN.
        with self.assertRaises(ClientError) as e:
            self.decisions(f"arn:aws:sts::{DEFAULT_ACCOUNT}:assumed-role/Dev/s", ["ec2:Stop*"])
        self.assertEqual(e.exception.response["Error"]["Code"], "InvalidInput")

    def test_paging(self):
        arn = self.user("gina", allow("ec2:*"))
        actions = [f"ec2:Action{i}" for i in range(5)]
        paginator = self.iam.get_paginator("simulate_principal_policy")
        pages = list(paginator.paginate(PolicySourceArn=arn, ActionNames=actions,
                                        PaginationConfig={"PageSize": 2}))
        self.assertEqual([len(p["EvaluationResults"]) for p in pages], [2, 2, 1])
        self.assertEqual([e["EvalActionName"] for p in pages for e in p["EvaluationResults"]],
                         actions)
        self.assertEqual(pages[0]["Marker"], "2")

    def test_raw_query_request_shape(self):
        """The host signs and POSTs the query itself: check the XML, not boto3's view of it."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        arn = self.user("hank", allow("ec2:StopInstances"))
        body = ("Action=SimulatePrincipalPolicy&Version=2010-05-08"
                f"&PolicySourceArn={arn}&ActionNames.member.1=ec2:StopInstances"
                "&ResourceArns.member.1=arn:aws:ec2:us-east-1:123456789012:instance/i-1")
        req = AWSRequest("POST", endpoint + "/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        SigV4Auth(Credentials("testing", "testing"), "iam", "us-east-1").add_auth(req)
        with urllib.request.urlopen(urllib.request.Request(
                req.url, data=body.encode(), headers=dict(req.headers), method="POST")) as resp:
            xml = resp.read().decode()
        self.assertIn('<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/'
                      '2010-05-08/"><SimulatePrincipalPolicyResult><EvaluationResults><member>'
                      "<EvalActionName>ec2:StopInstances</EvalActionName>"
                      "<EvalResourceName>*</EvalResourceName>"
                      "<EvalDecision>allowed</EvalDecision>", xml)
        self.assertIn("<ResourceSpecificResults><member><EvalResourceName>arn:aws:ec2:us-east-1:"
                      "123456789012:instance/i-1</EvalResourceName><EvalResourceDecision>allowed"
                      "</EvalResourceDecision><MatchedStatements><member><SourcePolicyId>"
                      "hank-inline</SourcePolicyId>", xml)
        self.assertIn("<IsTruncated>false</IsTruncated>", xml)
        self.assertIn("<ResponseMetadata><RequestId>", xml)


class MotoStillWorksTest(unittest.TestCase):
    def test_ec2_sts_and_iam(self):
        ec2 = client("ec2")
        image = ec2.describe_images(Owners=["amazon"])["Images"]
        self.assertEqual(image, [])  # MOTO_EC2_LOAD_DEFAULT_AMIS=false reached the server
        ec2.run_instances(ImageId="ami-12345678", MinCount=2, MaxCount=2, InstanceType="t3.micro")
        found = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
        self.assertGreaterEqual(len(found), 2)
        self.assertEqual(client("sts").get_caller_identity()["Account"], DEFAULT_ACCOUNT)
        client("iam").create_user(UserName="plain")
        self.assertIn("plain", [u["UserName"] for u in client("iam").list_users()["Users"]])
        with self.assertRaises(ClientError) as e:
            client("iam").get_user(UserName="absent")
        self.assertEqual(e.exception.response["Error"]["Code"], "NoSuchEntity")


if __name__ == "__main__":
    unittest.main()
