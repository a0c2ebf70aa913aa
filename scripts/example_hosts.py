"""Prints {"hosts": [...]} with N varied example hosts (platforms, tags, approval states, facts)."""
import json
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
platforms = [("Linux", "Ubuntu 24.04"), ("Linux", "Debian 12"), ("Linux", "Rocky 9"), ("Windows", "Server 2022"),
             ("macOS", "14.5"), ("FreeBSD", "14.1")]
tags = ["webserver", "db", "cache", "edge", "batch"]
envs = ["prod", "staging", "dev"]
hosts = []
for i in range(n):
    platform, release = platforms[i % len(platforms)]
    env = envs[i % len(envs)]
    hosts.append({
        "id": f"host-{i:05d}", "fqdn": f"host-{i:05d}.{env}.example.com", "platform": platform, "platform_release": release,
        "approval_status": "approved" if i % 10 else "pending", "status": "up" if i % 7 else "down",
        "tags": [tags[i % len(tags)], env], "cpu_cores": 2 ** (i % 5), "memory_total_mb": 1024 * (1 + i % 32),
        "site_id": f"site-{i % 4}", "active": i % 13 != 0, "facts": {"rack": f"r{i % 20}", "kernel": "6.1"},
    })
json.dump({"hosts": hosts}, sys.stdout)
