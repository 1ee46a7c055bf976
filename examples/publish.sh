#!/bin/sh
# Publish one change to a syncline gateway over HTTP with curl (docs/producers.md).
#   examples/publish.sh http://127.0.0.1:8080 crm-1 1 users 42 '{"name":"Ada"}'
# Arguments: gateway URL, producer id, sequence (retry with the same one until you get a 200),
# collection, key, value (JSON). With a token file: SYNCLINE_TOKEN_FILE=/etc/syncline/token.
# Prints the ack {"first_offset","last_offset","count"}; exits non-zero on any other answer
# (429: busy, retry after Retry-After seconds with the same sequence; 400: refused, see "error").
set -eu
[ $# -eq 6 ] || { echo "usage: $0 URL PRODUCER SEQUENCE COLLECTION KEY VALUE-JSON" >&2; exit 2; }
url=$1 producer=$2 sequence=$3 collection=$4 key=$5 value=$6
auth=
[ -n "${SYNCLINE_TOKEN_FILE:-}" ] && auth="Authorization: Bearer $(cat "$SYNCLINE_TOKEN_FILE")"
printf '{"collection":"%s","key":"%s","value":%s}\n' "$collection" "$key" "$value" |
  curl -sS --fail-with-body -H 'Content-Type: application/x-ndjson' \
       -H "Syncline-Producer: $producer" -H "Syncline-Sequence: $sequence" ${auth:+-H "$auth"} \
       --data-binary @- "$url/v1/changes"
