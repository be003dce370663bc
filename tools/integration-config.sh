#!/usr/bin/env bash
# Print the integration_config.yml (extra vars of every integration target) for services started by
# tools/services.sh: databases in DIR (start-db DIR) and a server NAME (start-server DIR/servers... NAME).
#   tools/integration-config.sh DB_DIR SERVER_DIR SERVER_NAME > config.yml
# The server named "hidden" is taken to hide passwords (tools/test.sh starts it with --hide-passwords).
set -euo pipefail
db_dir=${1:?DB_DIR}
server_dir=${2:?SERVER_DIR}
name=${3:?SERVER_NAME}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC1091
. "$db_dir/env.sh"
# shellcheck disable=SC1090
. "$server_dir/$name.env"
secret() { "${DBCS_VENV:-$root/.venv}/bin/python" -c 'import secrets; print(secrets.token_urlsafe(15))'; }
cat <<EOF
---
dbcs_api_url: $DBCS_API_URL
dbcs_api_key: '$DBCS_API_KEY'
dbcs_request_log: $DBCS_REQUEST_LOG
dbcs_server_hides_passwords: $([ "$name" = hidden ] && echo true || echo false)
dbcs_pg: {host: $DBCS_PG_HOST, port: $DBCS_PG_PORT, user: $DBCS_PG_USER, password: '$DBCS_PG_PASSWORD', database: $DBCS_PG_DATABASE}
dbcs_my: {host: $DBCS_MY_HOST, port: $DBCS_MY_PORT, user: $DBCS_MY_USER, password: '$DBCS_MY_PASSWORD'}
dbcs_test_password_a: '$(secret)'
dbcs_test_password_b: '$(secret)'
EOF
