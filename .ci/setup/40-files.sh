# Files capability: an S3-compatible server for the S3 blob store tests (Files/S3BlobStoreTests).
# s3rver (npm) is a real S3 server implementing path-style addressing and SigV4, including aws-chunked
# streaming payloads. Installed under /opt/kai-ci/s3rver; the tests start it themselves as a child process and read
# KAI_S3RVER (the path of its bin script). Idempotent; sourced by .ci/run.
KAI_S3RVER_DIR=${KAI_S3RVER_DIR:-/opt/kai-ci/s3rver}
if [[ ! -x "$KAI_S3RVER_DIR/node_modules/.bin/s3rver" ]]; then
  echo "installing s3rver 3.7.1 (npm) into $KAI_S3RVER_DIR"
  mkdir -p "$KAI_S3RVER_DIR"
  (cd "$KAI_S3RVER_DIR" && npm install --no-audit --no-fund --silent s3rver@3.7.1 >/dev/null 2>&1) ||
    echo "warning: could not install s3rver; the S3 blob store tests will fail" >&2
fi
export KAI_S3RVER="$KAI_S3RVER_DIR/node_modules/.bin/s3rver"
