# sluice: Alembic's migration workflow for drizzle-kit projects.
# Targets are thin wrappers over npm scripts, which call the sluice CLI (dist/cli.cjs, built from src/).
# Variables (MSG, REVISION, EMPTY, TS, YES) are passed to the CLI as single arguments, never evaluated
# by make or the shell.

SHELL := /bin/bash
.DEFAULT_GOAL := help
unexport MSG REVISION

define newline


endef
# The values a yes/no variable (JSON, DRY_RUN, YES, ...) reads as yes; any other value is no. Upper case too:
# DRY_RUN=TRUE ran for real (found by a hunt).
YES_WORDS := 1 yes true YES TRUE Yes True
# JSON=1 / VERBOSE=1: --json / --verbose, on the targets that run a sluice command, as sluice.mk has them
# (not db-up / db-down / db-connect, whose output is the cluster's or a shell's).
OUT_FLAGS = $(if $(filter $(YES_WORDS),$(JSON)),--json) $(if $(filter $(YES_WORDS),$(VERBOSE)),--verbose)
# Options shared by migrate-up / migrate-down / migrate-reset.
RUN_FLAGS = $(if $(filter $(YES_WORDS),$(DRY_RUN)),--dry-run) $(if $(filter $(YES_WORDS),$(SINGLE_TRANSACTION)),--single-transaction) \
	$(if $(filter $(YES_WORDS),$(NO_BACKUP)),--no-backup) $(if $(filter $(YES_WORDS),$(ALLOW_CHANGED)),--allow-changed)
# Single-quoted shell word of a variable's raw value (no make or shell expansion; newlines → spaces).
q = '$(subst $(newline), ,$(subst ','"'"',$(value $1)))'
need = $(if $(value $1),,$(error $1 is required: $2))

# REVISION as one argument when it was given (command line or environment), even empty: sluice refuses
# an empty revision. Nothing when it was not given, so the command's default applies (head for
# migrate-up, -1 for migrate-down). (`unexport` above defines it, with origin "file", when unset.)
# It comes last, after `--`, so a value such as `--` or `-1` is the revision, never an option.
revision_arg = $(if $(filter command% environment%,$(origin REVISION)),-- $(call q,REVISION))

# npm's own record of an install (written by npm ci / npm install, with or without --omit=dev): a
# deploy that ran `npm ci --omit=dev` itself is not installed again. The install builds dist/ (npm's
# `prepare` runs the build; typescript is a dependency, not a devDependency, so an install without
# dev dependencies still compiles). Nothing is compiled when a migrate target runs on a built tree.
INSTALLED := node_modules/.package-lock.json
BUILT := dist/.built
SOURCES := $(shell find src -name '*.ts' 2>/dev/null) tsconfig.json scripts/bundle-cli.mjs

.PHONY: help deps build migrate-create migrate-downs migrate-up migrate-down migrate-stamp migrate-history \
	migrate-status migrate-show migrate-sql migrate-heads migrate-merge migrate-check migrate-lint migrate-reset db-up db-down db-connect db-test test typecheck bench corpus clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

# In CI (CI=true, as CI runners set it), better-sqlite3's SQLite, which npm compiles from source where
# its release binaries cannot be downloaded, is optimized at -O1 instead of its own -O3: the install
# takes ~37 s instead of ~72 s on a 2-core machine, and its statements run ~6 % slower (a 3-million-row
# recursive CTE: 392 against 368 ms). The tests measure no speed; `make bench` on a normal install does.
CI_SQLITE_CFLAGS := $(if $(filter true 1,$(CI)),CFLAGS="$$CFLAGS -O1")

$(INSTALLED): package.json package-lock.json
	@echo "installing dependencies (npm ci)..."
	@$(CI_SQLITE_CFLAGS) npm ci --no-audit --no-fund --loglevel=error
	@test -e $@ || touch $@

$(BUILT): $(INSTALLED) $(SOURCES)
	@npm run -s build

deps: $(BUILT) ## install dependencies and build the CLI when missing or stale

build: $(BUILT)

migrate-create: deps ## MSG="..." [EMPTY=1|TS=1]: generate a revision (up from the models, down beside it); TS=1: a TypeScript data migration
	$(call need,MSG,make migrate-create MSG="add phone to users")
	@npm run -s migrate:create -- $(OUT_FLAGS) --message $(call q,MSG) $(if $(filter $(YES_WORDS),$(EMPTY)),--empty) $(if $(filter $(YES_WORDS),$(TS)),--ts)

migrate-downs: deps ## write missing down files for an existing drizzle-kit history
	@npm run -s migrate:downs -- $(OUT_FLAGS)

migrate-up: deps ## [REVISION=head|<rev>|+N]: apply pending revisions
	@npm run -s migrate:up -- $(OUT_FLAGS) $(RUN_FLAGS) $(revision_arg)

migrate-down: deps ## [REVISION=-1|-N|<rev>|base]: revert revisions
	@npm run -s migrate:down -- $(OUT_FLAGS) $(RUN_FLAGS) $(revision_arg)

migrate-stamp: deps ## REVISION=<rev>|head|base [PURGE=1]: record the revision, running no SQL (PURGE=1 empties the version table first)
	$(call need,REVISION,make migrate-stamp REVISION=<rev>|head|base)
	@npm run -s migrate:stamp -- $(OUT_FLAGS) $(if $(filter $(YES_WORDS),$(PURGE)),--purge) $(if $(filter $(YES_WORDS),$(DRY_RUN)),--dry-run) -- $(call q,REVISION)

migrate-history: deps ## every revision with applied times and markers
	@npm run -s migrate:history -- $(OUT_FLAGS)

migrate-status: deps ## current revision, head, pending revisions
	@npm run -s migrate:status -- $(OUT_FLAGS)

migrate-show: deps ## REVISION=<rev>: metadata, up SQL and down SQL
	$(call need,REVISION,make migrate-show REVISION=<rev>)
	@npm run -s migrate:show -- $(OUT_FLAGS) -- $(call q,REVISION)

migrate-sql: deps ## REVISION=<from>:<to>: print the SQL a DBA would run (no database connection)
	$(call need,REVISION,make migrate-sql REVISION=base:head)
	@npm run -s migrate:sql -- $(OUT_FLAGS) -- $(call q,REVISION)

migrate-takeover: deps ## [DRY_RUN=1]: take over a database drizzle's migrator manages (records its rows in sluice_version, runs no SQL)
	@npm run -s migrate:takeover -- $(OUT_FLAGS) $(if $(filter $(YES_WORDS),$(DRY_RUN)),--dry-run)

migrate-deploy: deps ## deploy: wait for the database (SLUICE_DEPLOY_WAIT s), lock, take over if needed, apply to head
	@npm run -s migrate:deploy -- $(OUT_FLAGS) $(if $(filter $(YES_WORDS),$(SINGLE_TRANSACTION)),--single-transaction) $(if $(filter $(YES_WORDS),$(NO_BACKUP)),--no-backup)

.PHONY: migrate-takeover migrate-deploy

migrate-heads: deps ## the head revision(s) of each history (more than one: a fork to merge)
	@npm run -s migrate:heads -- $(OUT_FLAGS)

migrate-merge: deps ## after a git merge of two branches with revisions: renumber theirs after ours
	@npm run -s migrate:merge -- $(OUT_FLAGS)

migrate-check: deps ## CI: one head, models match the history, no drift in the database (exit 10 / 8 / 9)
	@npm run -s migrate:check -- $(OUT_FLAGS)

migrate-lint: deps ## [REVISION=<rev>|<from>:<to>]: lint the up SQL (squawk for PostgreSQL; data loss, SQLite rebuilds, irreversible: exit 11)
	@npm run -s migrate:lint -- $(OUT_FLAGS) $(revision_arg)

migrate-reset: deps ## [DRY_RUN=1] [ALLOW_CHANGED=1] [SINGLE_TRANSACTION=1]: down to base (asks on a terminal; YES=1 otherwise)
	@npm run -s migrate:reset -- $(OUT_FLAGS) $(if $(filter $(YES_WORDS),$(YES)),--yes) $(RUN_FLAGS)

db-up: deps ## start the dev PostgreSQL and print its DATABASE_URL
	@npm run -s db:up

db-down: deps ## stop the dev PostgreSQL
	@npm run -s db:down

db-connect: deps ## psql or sqlite3 on the configured database
	@npm run -s db:connect

db-test: deps ## migration checks on scratch databases of every dialect
	@npm run -s db:test -- $(OUT_FLAGS)

test: deps ## the whole test suite (starts its own PostgreSQL)
	@npm test

typecheck: deps ## type-check src/ and test/ strictly (tsconfig.test.json; the suite runs its files untyped)
	@npm run -s typecheck

bench: deps ## the benchmark (bench/README.md)
	@npm run -s bench

corpus: deps ## sluice on real drizzle-kit histories kept outside the repo (SLUICE_CORPUS=<folder>; bench/README.md)
	@node bench/corpus.mjs && node bench/kitserve-check.mjs

clean: ## remove build output
	rm -rf dist
