# sluice.mk: Alembic's migration workflow (sluice) for this drizzle-kit project.
# Written by `npx sluice init` (sluice {{VERSION}}). It is yours: edit it and commit it; init never
# overwrites it. Use it from your Makefile with one line:
#
#     include sluice.mk
#
# Including it adds the targets below and leaves your Makefile's default goal alone. `make sluice-help`
# lists them. Variables (MSG, REVISION) reach sluice as one argument each, never evaluated by make or
# the shell: quotes, $( ) and backticks in them are safe. JSON=1 prints results as JSON, VERBOSE=1
# adds stack traces to errors. The database is DATABASE_URL (and DATABASE_SCHEMA), from the
# environment or .env.

sluice_mk := $(lastword $(MAKEFILE_LIST))
sluice_default_goal := $(.DEFAULT_GOAL)

# The installed CLI: node_modules/.bin/sluice here or in a parent folder (a monorepo), else npx.
SLUICE ?= $(or $(firstword $(wildcard node_modules/.bin/sluice ../node_modules/.bin/sluice ../../node_modules/.bin/sluice)),npx --no-install sluice)

unexport MSG REVISION

define sluice_newline


endef
# $(call sluice_flag,VAR,--option): the option when VAR is 1, yes or true.
# (upper case too: DRY_RUN=TRUE ran for real)
sluice_flag = $(if $(filter 1 yes true YES TRUE Yes True,$($1)),$2)
# A variable's raw value as one single-quoted shell word (no make or shell expansion; newlines -> spaces).
sluice_q = '$(subst $(sluice_newline), ,$(subst ','"'"',$(value $1)))'
sluice_need = $(if $(value $1),,$(error $1 is required: $2))
# REVISION as one argument when it was given (even empty: sluice refuses an empty revision), nothing
# when it was not, so the command's default applies (head for migrate-up, -1 for migrate-down).
sluice_revision = $(if $(filter command% environment%,$(origin REVISION)),$(call sluice_q,REVISION))
sluice = $(SLUICE) $(call sluice_flag,JSON,--json) $(call sluice_flag,VERBOSE,--verbose)
sluice_run_flags = $(call sluice_flag,DRY_RUN,--dry-run) $(call sluice_flag,SINGLE_TRANSACTION,--single-transaction) \
	$(call sluice_flag,NO_BACKUP,--no-backup) $(call sluice_flag,ALLOW_CHANGED,--allow-changed)

.PHONY: sluice-help migrate-create migrate-downs migrate-up migrate-down migrate-stamp migrate-history \
	migrate-status migrate-show migrate-reset db-up db-down db-connect db-test

sluice-help: ## list sluice's targets
	@awk -F':.*## ' '/^[a-z][a-z-]*:.*## /{ printf "  %-18s %s\n", $$1, $$2 }' $(sluice_mk)

migrate-create: ## MSG="..." [EMPTY=1|TS=1]: generate a revision (up from the models, down beside it); TS=1: a TypeScript data migration
	$(call sluice_need,MSG,make migrate-create MSG="add phone to users")
	@$(sluice) create --message $(call sluice_q,MSG) $(call sluice_flag,EMPTY,--empty) $(call sluice_flag,TS,--ts)

migrate-downs: ## write the missing down file of every revision (never overwriting one)
	@$(sluice) downs

migrate-up: ## [REVISION=head|<rev>|+N] [DRY_RUN=1]: apply pending revisions
	@$(sluice) up $(sluice_run_flags) -- $(sluice_revision)

migrate-down: ## [REVISION=-1|-N|<rev>|base] [DRY_RUN=1]: revert revisions
	@$(sluice) down $(sluice_run_flags) -- $(sluice_revision)

migrate-stamp: ## REVISION=<rev>|head|base [PURGE=1]: record the revision, running no SQL
	$(call sluice_need,REVISION,make migrate-stamp REVISION=<rev>|head|base)
	@$(sluice) stamp $(call sluice_flag,PURGE,--purge) $(call sluice_flag,DRY_RUN,--dry-run) -- $(call sluice_q,REVISION)

migrate-history: ## every revision with applied times and markers
	@$(sluice) history

migrate-status: ## current revision, head, pending revisions
	@$(sluice) status

migrate-show: ## REVISION=<rev>|head|-1: metadata, up SQL and down SQL
	$(call sluice_need,REVISION,make migrate-show REVISION=head)
	@$(sluice) show -- $(call sluice_q,REVISION)

migrate-reset: ## [DRY_RUN=1] [ALLOW_CHANGED=1] [SINGLE_TRANSACTION=1]: down to base (asks on a terminal; YES=1 otherwise)
	@$(sluice) reset $(call sluice_flag,YES,--yes) $(sluice_run_flags)
#@if sql

migrate-sql: ## REVISION=<from>:<to>: print the SQL a DBA would run (no database connection)
	$(call sluice_need,REVISION,make migrate-sql REVISION=base:head)
	@$(sluice) sql -- $(call sluice_q,REVISION)
.PHONY: migrate-sql
#@end
#@if heads

migrate-heads: ## the head revision(s) of each history (two heads: the history forked)
	@$(sluice) heads
.PHONY: migrate-heads
#@end
#@if merge

migrate-merge: ## after a git merge of two branches with revisions: renumber theirs after ours
	@$(sluice) merge
.PHONY: migrate-merge
#@end
#@if takeover

migrate-takeover: ## [DRY_RUN=1]: take over a database drizzle's migrator manages (runs no SQL)
	@$(sluice) takeover $(call sluice_flag,DRY_RUN,--dry-run)
.PHONY: migrate-takeover
#@end
#@if deploy

migrate-deploy: ## for deploys: wait for the database, take the lock, apply to head
	@$(sluice) deploy $(call sluice_flag,SINGLE_TRANSACTION,--single-transaction) $(call sluice_flag,NO_BACKUP,--no-backup)
.PHONY: migrate-deploy
#@end
#@if verify

migrate-check: ## for CI: the models and the history agree, the database has not drifted
	@$(sluice) verify
.PHONY: migrate-check
#@end
#@if lint

migrate-lint: ## [REVISION=<rev>|<from>:<to>]: lint the up SQL (locks, data loss, SQLite rebuilds, irreversible); exit 11 on findings
	@$(sluice) lint -- $(sluice_revision)
.PHONY: migrate-lint
#@end

db-test: ## the migration checks on scratch databases (base -> head -> base -> head, schemas compared)
	@$(sluice) check

db-up: ## start the dev PostgreSQL (docker/compose.yml, or a local cluster) and print its DATABASE_URL
	@$(sluice) db up

db-down: ## stop the dev PostgreSQL
	@$(sluice) db down

db-connect: ## psql or sqlite3 on the configured database
	@$(sluice) db connect

.DEFAULT_GOAL := $(sluice_default_goal)
