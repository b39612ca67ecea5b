#!/bin/sh
# Container entrypoint: migrate the database, then start the app.
#
#   ENTRYPOINT ["/app/docker/entrypoint.sh"]
#   CMD ["node", "server.js"]
#
# 1. `sluice deploy`: waits for the database (SLUICE_DEPLOY_WAIT seconds, default 60), takes the
#    migration lock, applies every pending revision (taking over a database drizzle's migrator
#    manages). Its messages go to stderr/stdout as they are.
# 2. If it fails, the container exits with sluice's exit code (README "Exit codes": 5 the database
#    never answered or the lock was held, 3 a migration failed, ...) and the app does not start,
#    so the deploy fails.
# 3. Otherwise the app's command replaces this shell (exec: it gets the signals, its exit code is
#    the container's).
#
# Environment: DATABASE_URL, DATABASE_SCHEMA and the SLUICE_* settings as in README;
#   SLUICE_CMD      the sluice command (default: `sluice` on PATH, else ./node_modules/.bin/sluice);
#                   split on spaces, e.g. "node /app/node_modules/sluice/dist/cli.cjs". Never npx: an
#                   entrypoint must not reach for the registry.
#   SLUICE_SKIP_DEPLOY=1   start the app without migrating (a Job or init container did it)
# POSIX sh: runs under dash, busybox ash and bash.
set -u

if [ "${SLUICE_SKIP_DEPLOY:-}" != 1 ]; then
  if [ -n "${SLUICE_CMD:-}" ]; then
    sluice_cmd=$SLUICE_CMD
  elif command -v sluice >/dev/null 2>&1; then
    sluice_cmd=sluice
  elif [ -x ./node_modules/.bin/sluice ]; then
    sluice_cmd=./node_modules/.bin/sluice
  else
    echo "entrypoint: sluice not found (not on PATH, no ./node_modules/.bin/sluice in $(pwd)); install it with the app's dependencies or set SLUICE_CMD" >&2
    exit 127
  fi
  # sluice runs as a child this shell waits for, passing it SIGTERM and SIGINT (docker stop, a pod
  # ending, Ctrl+C): sluice then cancels the statement running on the server and exits 143 / 130 (README
  # "Transactions, locks and backups"). Run plainly, the signal would not reach it: as PID 1 this shell
  # ignores a signal it has no trap for; otherwise it dies of it, leaving sluice running on its own.
  # A signal that came at all stops the container: the app does not start, even when sluice had nothing
  # left to stop (it then exits 0, the revisions applied).
  got=
  sig=
  sluice_pid=
  trap 'got=143; sig=TERM; [ -z "$sluice_pid" ] || kill -TERM "$sluice_pid" 2>/dev/null' TERM
  trap 'got=130; sig=INT; [ -z "$sluice_pid" ] || kill -INT "$sluice_pid" 2>/dev/null' INT
  [ -z "$got" ] || exit "$got"
  # $sluice_cmd is split into words on purpose (a command and its arguments).
  # shellcheck disable=SC2086
  $sluice_cmd deploy &
  sluice_pid=$!
  # a signal that came while sluice was being started, before its pid was known
  [ -z "$sig" ] || kill -"$sig" "$sluice_pid" 2>/dev/null
  while :; do
    wait "$sluice_pid"
    status=$?
    # a trapped signal ends `wait` early (status > 128) while sluice still runs: wait for its own end
    kill -0 "$sluice_pid" 2>/dev/null || break
  done
  if [ -n "$got" ]; then
    # sluice's own code when it failed or stopped (bash, which reaps children by itself, may give the
    # interrupted wait's status instead: the signal's code either way); the signal's when it completed
    if [ "$status" -ne 0 ]; then
      exit "$status"
    fi
    exit "$got"
  fi
  if [ "$status" -ne 0 ]; then
    exit "$status"
  fi
fi

if [ "$#" -eq 0 ]; then
  exit 0
fi
# the traps stay until the app replaces this shell (exec gives it the default handling back): a signal
# after sluice ended still stops the container, as PID 1 would otherwise ignore it
if [ -n "${got:-}" ]; then
  exit "$got"
fi
exec "$@"
