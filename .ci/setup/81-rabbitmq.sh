# Sourced by .ci/run (as root, before the tests). Installs Debian's RabbitMQ server (3.10) when missing, starts it without
# systemd (`rabbitmq-server -detached`, then `rabbitmqctl await_startup`), and exports the AMQP URI the backplane tests read:
#   KAI_TEST_RABBITMQ (default amqp://guest:guest@127.0.0.1:5672/; guest may log in from localhost only).
# The tests stop and start the broker's application (`rabbitmqctl stop_app` / `start_app`) to prove reconnection, so they
# also read KAI_TEST_RABBITMQCTL (default: rabbitmqctl on PATH, or /usr/sbin/rabbitmqctl). Idempotent.
export KAI_TEST_RABBITMQ="${KAI_TEST_RABBITMQ:-amqp://guest:guest@127.0.0.1:5672/}"
if ! command -v rabbitmq-server >/dev/null 2>&1 && [[ ! -x /usr/sbin/rabbitmq-server ]]; then
  echo "installing rabbitmq-server (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  (apt-get update -qq && apt-get install -y -qq --no-install-recommends rabbitmq-server) >/dev/null 2>&1 ||
    echo "warning: could not install rabbitmq-server; the RabbitMQ backplane tests will fail" >&2
  # The package's post-install may have started it through an init script; the check below starts it otherwise.
fi
KAI_TEST_RABBITMQCTL="${KAI_TEST_RABBITMQCTL:-$(command -v rabbitmqctl || echo /usr/sbin/rabbitmqctl)}"
export KAI_TEST_RABBITMQCTL
if [[ -x "$KAI_TEST_RABBITMQCTL" ]]; then
  if ! timeout 20 "$KAI_TEST_RABBITMQCTL" -q status >/dev/null 2>&1; then
    echo "starting rabbitmq-server -detached"
    # As root the server drops to the rabbitmq user by itself (Debian's wrapper); HOME must be its home for the Erlang cookie.
    (cd / && rabbitmq-server -detached) >/dev/null 2>&1 || echo "warning: rabbitmq-server -detached failed" >&2
  fi
  # Waits until the node is up and its applications started (about 20 s on a cold start). await_startup fails at once
  # while the Erlang node is not yet registered, so it is retried.
  started=""
  for _ in $(seq 1 60); do
    if timeout 60 "$KAI_TEST_RABBITMQCTL" -q await_startup --timeout 50 >/dev/null 2>&1; then started=1; break; fi
    sleep 2
  done
  [[ -n "$started" ]] || echo "warning: RabbitMQ did not start; the RabbitMQ backplane tests will fail" >&2
  # A test that stopped the app and failed before restarting it leaves it stopped: start it again (no-op when running).
  timeout 60 "$KAI_TEST_RABBITMQCTL" -q start_app >/dev/null 2>&1 || true
fi
