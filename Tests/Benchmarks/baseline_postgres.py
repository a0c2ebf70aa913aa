"""The selector baseline for `make bench`: PostgreSQL 15 over the same 100,000 hosts as
fleet-gateway-bench, with the indexes a careful operator would add (btree on the scalar columns,
GIN on the tag array, pg_trgm GIN on the fqdn for contains, ends_with and the regex), running the
same five selectors with SQL of the same meaning (case-insensitive strings, as semantics.md says).

Prints one JSON fact per line (`{"name", "value", "unit", "count"}`) for scripts/bench_report.py,
which puts each median beside ours from the same run and checks that the hit counts agree.

usage: baseline_postgres.py DSN HOSTS REPEATS
"""
import json
import statistics
import sys
import time

import psycopg

PLATFORMS = ["Linux", "Linux", "Linux", "Windows", "macOS", "FreeBSD"]
TAGS = ["webserver", "db", "cache", "edge", "batch", "prod", "staging"]

# The same five selectors as fleet-gateway-bench's `selectors` (q1 is the seed's example).
QUERIES = {
    "q1": """fqdn ILIKE '%.prod.%' AND cpu_cores >= 4 AND lower(approval_status) = 'approved'
             AND tags && ARRAY['webserver'] AND lower(platform) = ANY (ARRAY['linux'])""",
    "q2": "tags && ARRAY['prod']",
    "q3": r"fqdn ~* '^host-\d+\.prod\.dc[0-2]'",
    "q4": "cpu_cores >= 16 AND NOT (lower(platform) = ANY (ARRAY['windows', 'macos']))",
    "q5": "fqdn ILIKE '%.example.com' AND lower(approval_status) = 'approved'",
}


def host(i):
    """Host i of the deterministic inventory (fleet-gateway-bench's hostJSON, field by field)."""
    return (
        "bench-%07d" % i,
        PLATFORMS[i % len(PLATFORMS)],
        "host-%d.%s.dc%d.example.com" % (i, "prod" if i % 4 == 0 else "dev", i % 5),
        [TAGS[i % len(TAGS)], TAGS[(i // 7) % len(TAGS)]],
        "pending" if i % 10 == 0 else "approved",
        1 << (i % 5),
        "site-%d" % (i % 40),
    )


def main():
    dsn, hosts, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        conn.execute("DROP TABLE IF EXISTS hosts")
        conn.execute(
            """CREATE TABLE hosts (id text PRIMARY KEY, platform text, fqdn text, tags text[],
               approval_status text, cpu_cores int, site_id text)"""
        )
        started = time.monotonic()
        with conn.cursor().copy("COPY hosts FROM STDIN") as copy:
            for i in range(hosts):
                copy.write_row(host(i))
        for ddl in [
            "CREATE INDEX ON hosts (lower(platform))",
            "CREATE INDEX ON hosts (lower(approval_status))",
            "CREATE INDEX ON hosts (cpu_cores)",
            "CREATE INDEX ON hosts USING gin (tags)",
            "CREATE INDEX ON hosts USING gin (fqdn gin_trgm_ops)",
            "ANALYZE hosts",
        ]:
            conn.execute(ddl)
        load = time.monotonic() - started
        print(json.dumps({"name": "pg.load", "value": load, "unit": "s", "count": hosts}))
        for name, where in QUERIES.items():
            sql = f"SELECT id FROM hosts WHERE {where} ORDER BY id"
            count = len(conn.execute(sql).fetchall())  # warm the cache and the plan
            samples = []
            for _ in range(repeats):
                t = time.perf_counter()
                rows = conn.execute(sql).fetchall()
                samples.append((time.perf_counter() - t) * 1000)
                assert len(rows) == count
            plan = conn.execute(f"EXPLAIN {sql}").fetchall()
            print(
                json.dumps(
                    {
                        "name": f"pg.{name}",
                        "value": statistics.median(samples),
                        "unit": "ms",
                        "count": count,
                        "plan": " / ".join(r[0].strip() for r in plan[:3]),
                    }
                )
            )


if __name__ == "__main__":
    main()
