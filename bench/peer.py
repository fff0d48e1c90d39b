#!/usr/bin/env python3
"""The peer in the benchmark: reads a desired state's declared tags with the clouds' official Python SDKs.

`bench/run --peer` runs this as its own process against the same emulator as `tagdrift check` and compares
the drift it finds (docs/benchmarks.md, "Peer: the official SDKs"). It reads the way a careful user would:

- Alibaba KMS (alibabacloud_kms20160120): `ListTagResources` with `ResourceId.N` in batches of 50 per
  (account, region, type) — keys by KeyId, secrets by SecretName — following `NextToken`.
- Huawei DEW (huaweicloudsdkcsms, huaweicloudsdkkms): per project, `ListSecrets` to map the declared secret
  names to the ids the tag API needs, then `ListSecretTags` per secret and `ShowKmsTags` per key.
- 8 threads (concurrent.futures); a throttled call (Alibaba `Throttling*` / `Rejected.Throttling`, Huawei
  429 / `APIGW.0308`) is retried with exponential backoff and jitter (Alibaba's `x-acs-retry-after` when sent).

The clients keep the clouds' real endpoint names over plain HTTP (`kms.<region>.aliyuncs.com`,
`kms.<region>.myhuaweicloud.com`) with the emulator as HTTP proxy (docs/emulator.md), so they sign exactly
what they would send to the cloud.

    bench/peer.py --desired desired.yaml --proxy http://127.0.0.1:PORT [--threads 8]
    bench/peer.py --setup        # only create the venv and print the SDK versions

Credentials come from the environment variables the desired state names (`{env: VAR}`). Prints one JSON
object on stdout: calls and throttled answers per API, wall seconds, the drifted resources. The SDKs live in a
venv of their own (bench/.venv-peer, or $TAGDRIFT_PEER_VENV) with the versions pinned in
bench/peer-requirements.txt; the script creates it on first use and re-executes itself inside it. Any failure
other than throttling (the venv, a credential, an SDK error) ends it with a message and exit status 1.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "peer-requirements.txt"
VENV = Path(os.environ.get("TAGDRIFT_PEER_VENV") or HERE / ".venv-peer")
SDKS = ("alibabacloud-kms20160120", "alibabacloud-tea-openapi", "huaweicloudsdkcore", "huaweicloudsdkkms",
        "huaweicloudsdkcsms", "PyYAML")

ALI_BATCH = 50  # ResourceId.N per ListTagResources (the API reference's maximum)
HW_SECRETS_PAGE = "50"  # ListSecrets limit (the documented default)
MAX_ATTEMPTS = 12  # per call, throttled answers included
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 2.0


def die(message):
    print(f"bench/peer.py: {message}", file=sys.stderr)
    sys.exit(1)


# --- the venv -------------------------------------------------------------------------------------------------


def ensure_venv():
    """Re-executes this script with the venv's Python, creating the venv and installing the pins first."""
    python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    stamp = VENV / ".installed-requirements"
    wanted = REQUIREMENTS.read_text()
    if not (python.exists() and stamp.exists() and stamp.read_text() == wanted):
        print(f"bench/peer.py: creating {VENV} with {REQUIREMENTS.name}", file=sys.stderr)
        for cmd in ([sys.executable, "-m", "venv", "--clear", str(VENV)],
                    [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                     "-r", str(REQUIREMENTS)]):
            done = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr)
            if done.returncode != 0:
                die(f"could not create the SDK venv: `{' '.join(cmd)}` exited {done.returncode}")
        stamp.write_text(wanted)
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


def sdk_versions():
    from importlib.metadata import version
    return {name: version(name) for name in SDKS}


# --- calls, throttling and counting ---------------------------------------------------------------------------


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls, self.throttled = {}, {}

    def add(self, table, api):
        with self.lock:
            table[api] = table.get(api, 0) + 1


STATS = Stats()


def ali_throttle_wait(err, attempt):
    """Seconds to wait before retrying an Alibaba error, or None when it is not throttling."""
    from alibabacloud_tea_openapi.exceptions import AlibabaCloudException, ThrottlingException
    if not isinstance(err, AlibabaCloudException):
        return None
    code = str(getattr(err, "code", "") or "")
    if not (isinstance(err, ThrottlingException) or code.startswith(("Throttling", "Rejected.Throttling"))):
        return None
    retry_after = getattr(err, "retry_after", None)
    return max(backoff(attempt), retry_after / 1000) if retry_after else backoff(attempt)


def hw_throttle_wait(err, attempt):
    """Seconds to wait before retrying a Huawei error, or None when it is not throttling. The SDK turns a 429
    into error code "429" (its urllib3 retry gives up at once); a 429 read otherwise carries APIGW.0308."""
    from huaweicloudsdkcore.exceptions.exceptions import ServiceResponseException
    if not isinstance(err, ServiceResponseException):
        return None
    if err.status_code == 429 or err.error_code in ("429", "APIGW.0308", "APIG.0308"):
        return backoff(attempt)
    return None


def backoff(attempt):
    return min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** attempt) * (0.5 + random.random() / 2)


def call(api, fn, throttle_wait):
    """fn() with retries on throttling; every attempt is counted as a call of `api`."""
    for attempt in range(MAX_ATTEMPTS):
        STATS.add(STATS.calls, api)
        try:
            return fn()
        except Exception as err:  # the SDKs raise their own classes; anything not throttling ends the run
            wait = throttle_wait(err, attempt)
            if wait is None:
                raise RuntimeError(f"{api} failed: {type(err).__name__}: {err}") from err
            STATS.add(STATS.throttled, api)
            time.sleep(wait)
    raise RuntimeError(f"{api}: still throttled after {MAX_ATTEMPTS} attempts")


# --- the desired state ----------------------------------------------------------------------------------------


def load_desired(path):
    """Accounts by name and declared resources. Every scalar is read as a string (tag values are strings)."""
    import yaml
    loader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
    with open(path, "rb") as f:
        doc = yaml.load(f, Loader=loader)
    for section in ("defaults", "rules", "discovery", "ignores"):
        if doc.get(section):
            die(f"{path}: `{section}` is not supported by the peer (it compares declared tags only)")
    accounts = {a["name"]: a for a in doc.get("accounts") or []}
    resources = doc.get("resources") or []
    if not accounts or not resources:
        die(f"{path}: no accounts or no resources declared")
    return accounts, resources


def credential(account, field):
    ref = (account.get("credentials") or {}).get(field)
    if not isinstance(ref, dict) or "env" not in ref:
        die(f"account {account['name']}: credentials.{field} must be {{env: VAR}}")
    value = os.environ.get(ref["env"])
    if not value:
        die(f"account {account['name']}: environment variable {ref['env']} is not set")
    return value


def project_ids(account):
    return {r["name"]: r["project_id"] for r in account["regions"] if isinstance(r, dict)}


# --- Alibaba --------------------------------------------------------------------------------------------------


def ali_client(account, region, proxy):
    from alibabacloud_kms20160120.client import Client
    from alibabacloud_tea_openapi.models import Config
    return Client(Config(access_key_id=credential(account, "access_key_id"),
                         access_key_secret=credential(account, "access_key_secret"),
                         region_id=region, endpoint=f"kms.{region}.aliyuncs.com",
                         protocol="HTTP", http_proxy=proxy))


def ali_read_batch(client, region, rtype, ids):
    """{id: {key: value}} for up to 50 ids of one type, every page of ListTagResources."""
    from alibabacloud_kms20160120.models import ListTagResourcesRequest
    tags, token = {i: {} for i in ids}, None
    while True:
        req = ListTagResourcesRequest(region_id=region, resource_type=rtype, resource_id=list(ids),
                                      next_token=token)
        body = call("alibaba ListTagResources", lambda: client.list_tag_resources(req), ali_throttle_wait).body
        rows = body.tag_resources.tag_resource if body.tag_resources else None
        for row in rows or []:
            if row.resource_id not in tags:
                raise RuntimeError(f"ListTagResources answered a row for {row.resource_id!r}, not asked for")
            tags[row.resource_id][row.tag_key] = row.tag_value
        token = body.next_token
        if not token:
            return tags


# --- Huawei ---------------------------------------------------------------------------------------------------


def hw_clients(account, region, project_id):
    """KMS and CSMS clients of one project. Both services answer at kms.<region>.myhuaweicloud.com (the SDKs'
    region tables); the endpoint is given with http://, which the client builder keeps. HttpConfig's proxy
    settings apply to https:// URLs only, so the proxy comes from HTTP_PROXY (requests reads it)."""
    import logging
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.http.http_config import HttpConfig
    from huaweicloudsdkcsms.v1 import CsmsClient
    from huaweicloudsdkkms.v2 import KmsClient
    endpoint = f"http://kms.{region}.myhuaweicloud.com"
    creds = BasicCredentials(credential(account, "ak"), credential(account, "sk"), project_id)
    out = []
    for cls in (KmsClient, CsmsClient):
        # The SDK logs every 429 at ERROR on a logger without handlers: keep stderr for real failures.
        logging.getLogger(f"HuaweiCloud-SDK-{cls.__name__}").addHandler(logging.NullHandler())
        config = HttpConfig.get_default_config()
        config.timeout = (10, 60)
        out.append(cls.new_builder().with_http_config(config).with_credentials(creds)
                   .with_endpoints([endpoint]).build())
    return out


def hw_secret_ids(csms):
    """{secret name: secret id} of a project, ListSecrets page by page (marker = the last name)."""
    from huaweicloudsdkcsms.v1 import ListSecretsRequest
    ids, marker = {}, None
    while True:
        req = ListSecretsRequest(limit=HW_SECRETS_PAGE, marker=marker)
        resp = call("huawei ListSecrets", lambda: csms.list_secrets(req), hw_throttle_wait)
        for s in resp.secrets or []:
            ids[s.name] = s.id
        marker = resp.page_info.next_marker if resp.page_info else None
        if not marker:
            return ids


def hw_secret_tags(csms, secret_id):
    from huaweicloudsdkcsms.v1 import ListSecretTagsRequest
    resp = call("huawei ListSecretTags", lambda: csms.list_secret_tags(ListSecretTagsRequest(secret_id=secret_id)),
                hw_throttle_wait)
    return {t.key: t.value for t in resp.tags or []}


def hw_key_tags(kms, key_id):
    from huaweicloudsdkkms.v2 import ShowKmsTagsRequest
    resp = call("huawei ShowKmsTags", lambda: kms.show_kms_tags(ShowKmsTagsRequest(key_id=key_id)),
                hw_throttle_wait)
    return {t.key: t.value for t in resp.tags or []}


# --- reading and comparing ------------------------------------------------------------------------------------


def resource_id(r):
    return r.get("id") if r["type"] == "key" else r.get("name")


def ali_tasks(client, scope, ids):
    """One task per batch of 50 ids of one Alibaba (account, region, type)."""
    name, region, rtype = scope
    return [lambda b=ids[i:i + ALI_BATCH]: {("alibaba", *scope, rid): tags
                                             for rid, tags in ali_read_batch(client, region, rtype, b).items()}
            for i in range(0, len(ids), ALI_BATCH)]


def hw_tasks(kms, csms, scope, ids, pool):
    """One task per Huawei key or secret; a project's secret listing is submitted first and awaited by its
    secrets (a declared name the listing lacks is reported missing)."""
    name, region, rtype = scope
    if rtype == "key":
        return [lambda k=k: {("huawei", *scope, k): hw_key_tags(kms, k)} for k in ids]
    listing = pool.submit(hw_secret_ids, csms)
    return [lambda n=n: {("huawei", *scope, n): hw_secret_tags(csms, listing.result()[n])
                         if n in listing.result() else None} for n in ids]


def plan_reads(accounts, resources, proxy, pool):
    """The read tasks in file order: each a function returning {(cloud, account, region, type, id): tags}."""
    scopes = {}
    for r in resources:
        scopes.setdefault((r["account"], r["region"], r["type"]), []).append(resource_id(r))
    tasks, clients = [], {}
    for scope, ids in scopes.items():
        name, region, _ = scope
        account = accounts.get(name) or die(f"resource of undeclared account {name!r}")
        if (name, region) not in clients:
            if account["cloud"] == "alibaba":
                clients[(name, region)] = ali_client(account, region, proxy)
            elif account["cloud"] == "huawei":
                project = project_ids(account).get(region) or die(f"{name}: no project_id for {region}")
                clients[(name, region)] = hw_clients(account, region, project)
            else:
                die(f"account {name}: unknown cloud {account['cloud']!r}")
        if account["cloud"] == "alibaba":
            tasks += ali_tasks(clients[(name, region)], scope, ids)
        else:
            tasks += hw_tasks(*clients[(name, region)], scope, ids, pool)
    return tasks


def diff(declared, actual):
    """The changes that would restore `declared`: add (missing key), change (other value), remove (extra key)."""
    changes = {"add": 0, "change": 0, "remove": 0}
    for k, v in declared.items():
        if k not in actual:
            changes["add"] += 1
        elif actual[k] != v:
            changes["change"] += 1
    changes["remove"] = sum(1 for k in actual if k not in declared)
    return changes


def compare(accounts, resources, observed):
    """Drifted and missing resources as [cloud, account, region, type, id], and the changes counted."""
    drifted, missing, totals = [], [], {"add": 0, "change": 0, "remove": 0}
    for r in resources:
        key = (accounts[r["account"]]["cloud"], r["account"], r["region"], r["type"], resource_id(r))
        if observed.get(key) is None:
            missing.append(list(key))
            continue
        changes = diff(r.get("tags") or {}, observed[key])
        if any(changes.values()):
            drifted.append(list(key))
            for k, n in changes.items():
                totals[k] += n
    return drifted, missing, totals


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--desired", help="the desired state (YAML) whose declared resources are read")
    ap.add_argument("--proxy", help="the emulator's address as an HTTP proxy, http://127.0.0.1:PORT")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--setup", action="store_true", help="only create the venv and print the SDK versions")
    args = ap.parse_args()
    ensure_venv()
    if args.setup:
        print(json.dumps({"sdk_versions": sdk_versions()}))
        return
    if not args.desired or not args.proxy:
        die("--desired and --proxy are required")
    t0 = time.monotonic()
    os.environ["HTTP_PROXY"] = os.environ["http_proxy"] = args.proxy
    for var in ("NO_PROXY", "no_proxy"):  # every request must go through the emulator
        os.environ.pop(var, None)
    accounts, resources = load_desired(args.desired)
    observed = {}
    pool = ThreadPoolExecutor(max_workers=args.threads)
    try:
        tasks = plan_reads(accounts, resources, args.proxy, pool)
        for result in pool.map(lambda task: task(), tasks):
            observed.update(result)
    except RuntimeError as err:
        pool.shutdown(wait=False, cancel_futures=True)  # the first failure ends the run
        die(str(err))
    pool.shutdown()
    drifted, missing, changes = compare(accounts, resources, observed)
    if len(missing) == len(resources):
        die(f"read no declared resource at all ({len(missing)} missing): is the proxy the emulator?")
    print(json.dumps({
        "sdk_versions": sdk_versions(), "threads": args.threads, "resources": len(resources),
        "wall_s": round(time.monotonic() - t0, 3),
        "calls": dict(sorted(STATS.calls.items())), "calls_total": sum(STATS.calls.values()),
        "throttled": dict(sorted(STATS.throttled.items())), "throttled_total": sum(STATS.throttled.values()),
        "drifted_count": len(drifted), "missing_count": len(missing), "changes": changes,
        "drifted": sorted(drifted), "missing": sorted(missing),
    }))


if __name__ == "__main__":
    main()
