"""The stream sequence of server/README.md, run as written (bash, curl, mysql, psql) against a real
server and real databases: the target table holds exactly the source rows."""

import os
import subprocess

from server_helpers import REPO_ROOT, ServerProcess

HEADING = "### A stream, from a shell (2.x)"


def readme_sequence() -> str:
    section = (REPO_ROOT / "server" / "README.md").read_text().split(HEADING, 1)[1]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def test_the_readme_sequence_copies_the_rows(tmp_path, databases):
    databases.drop_database("shop")
    with databases.pg() as conn:
        conn.execute("DROP DATABASE IF EXISTS warehouse WITH (FORCE)")
    sequence = readme_sequence()
    proc = ServerProcess(tmp_path, key_count=0, api_version=2)
    proc.keys = ["my-key"]
    proc.start()
    env = {**os.environ, "DBCS_PG_HOST": databases.pg_host, "DBCS_PG_PORT": str(databases.pg_port),
           "DBCS_PG_USER": databases.pg_user, "DBCS_PG_PASSWORD": databases.pg_password,
           "DBCS_MY_HOST": databases.my_host, "DBCS_MY_PORT": str(databases.my_port),
           "DBCS_MY_USER": databases.my_user, "DBCS_MY_PASSWORD": databases.my_password}
    try:
        script = f"set -euo pipefail\nbase={proc.url}\ninstall_id={proc.install_id}\n" + sequence
        result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120, env=env,
                                check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert '"status":"FINISHED"' in result.stdout and '"tables":[{"name":"customers","rows":3}]' in result.stdout
        with databases.mysql("shop") as conn, conn.cursor() as cur:
            cur.execute("SELECT id, name, since FROM customers ORDER BY id")
            source = [tuple(row) for row in cur.fetchall()]
        with databases.pg("warehouse") as conn:
            target = [tuple(row) for row in conn.execute("SELECT id, name, since FROM sales.customers ORDER BY id")]
        assert len(source) == 3 and target == source
    finally:
        proc.stop()
        databases.drop_database("shop")
        with databases.pg() as conn:
            conn.execute("DROP DATABASE IF EXISTS warehouse WITH (FORCE)")
