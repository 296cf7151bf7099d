namespace Kai.Hub.Storage.Postgres;

/// <summary>
/// Versioned schema steps for PostgreSQL, applied in order at start, each in its own transaction, by one node at a time
/// (<see cref="PostgresHubStore.MigrateAsync"/> holds an advisory lock). Never edit a published step: add a new one at the end.
/// The tables mirror the SQLite schema (<see cref="SqliteMigrations"/>) column for column, so the stores share their row shapes:
/// times are Unix milliseconds (BIGINT), JSON is TEXT, flags are BOOLEAN. Where SQLite orders by <c>rowid</c>, a table here has
/// an identity column <c>seq</c>. A capability with its own store interface adds its own step (docs/decisions.md, "PostgreSQL store").
/// </summary>
internal static class PostgresMigrations
{
    public static readonly IReadOnlyList<(int Version, string Name, string Sql)> Steps =
    [
        (1, "accounts_agents_commands_nodes", """
            CREATE TABLE users (
                user_id       TEXT PRIMARY KEY,
                email         TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                display_name  TEXT NOT NULL,
                role          TEXT NOT NULL,
                disabled      BOOLEAN NOT NULL DEFAULT FALSE,
                created_at    BIGINT NOT NULL
            );
            CREATE UNIQUE INDEX ux_users_email ON users (lower(email));
            CREATE TABLE sessions (
                session_id TEXT PRIMARY KEY,
                user_id    TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                revoked_at BIGINT
            );
            CREATE INDEX ix_sessions_user ON sessions (user_id);
            CREATE INDEX ix_sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
            CREATE TABLE refresh_tokens (
                token_hash TEXT PRIMARY KEY,
                session_id TEXT NOT NULL,
                user_id    TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                used_at    BIGINT
            );
            CREATE INDEX ix_refresh_session ON refresh_tokens (session_id);
            CREATE TABLE magic_links (
                token_hash TEXT PRIMARY KEY,
                email      TEXT NOT NULL,
                user_id    TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                used_at    BIGINT
            );
            CREATE INDEX ix_magic_links_expiry ON magic_links (expires_at);
            CREATE TABLE agents (
                agent_id         TEXT PRIMARY KEY,
                owner_id         TEXT NOT NULL,
                name             TEXT NOT NULL,
                type             TEXT NOT NULL,
                version          TEXT,
                capabilities     TEXT NOT NULL,
                config           TEXT NOT NULL,
                health_check_url TEXT,
                secret_hash      TEXT NOT NULL,
                status           TEXT NOT NULL,
                reported_status  TEXT,
                current_tasks    BIGINT NOT NULL DEFAULT 0,
                linked           BOOLEAN NOT NULL DEFAULT FALSE,
                link_node        TEXT,
                metrics          TEXT,
                last_heartbeat   BIGINT,
                last_activity    BIGINT,
                created_at       BIGINT NOT NULL,
                updated_at       BIGINT NOT NULL
            );
            CREATE INDEX ix_agents_owner ON agents (owner_id, created_at, agent_id);
            CREATE INDEX ix_agents_owner_linked ON agents (owner_id, created_at, agent_id) WHERE linked;
            CREATE INDEX ix_agents_created ON agents (created_at, agent_id);
            CREATE INDEX ix_agents_unlinked_live ON agents (last_heartbeat) WHERE status <> 'offline' AND NOT linked;
            CREATE INDEX ix_agents_link_node ON agents (link_node) WHERE linked;
            CREATE TABLE nodes (
                node_id    TEXT PRIMARY KEY,
                first_seen BIGINT NOT NULL,
                last_seen  BIGINT NOT NULL
            );
            CREATE TABLE commands (
                command_id      TEXT PRIMARY KEY,
                agent_id        TEXT NOT NULL,
                owner_id        TEXT NOT NULL,
                requested_by    TEXT NOT NULL,
                command         TEXT NOT NULL,
                parameters      TEXT NOT NULL,
                priority        BIGINT NOT NULL,
                status          TEXT NOT NULL,
                result          TEXT,
                error           TEXT,
                correlation_id  TEXT,
                traceparent     TEXT,
                deliveries      BIGINT NOT NULL DEFAULT 0,
                deadline        BIGINT NOT NULL,
                created_at      BIGINT NOT NULL,
                updated_at      BIGINT NOT NULL,
                idempotency_key TEXT,
                request_hash    TEXT
            );
            CREATE INDEX ix_commands_open ON commands (agent_id, priority DESC, created_at) WHERE status IN ('queued', 'executing');
            CREATE INDEX ix_commands_deadline ON commands (deadline) WHERE status IN ('queued', 'executing');
            CREATE UNIQUE INDEX ux_commands_idempotency ON commands (requested_by, idempotency_key) WHERE idempotency_key IS NOT NULL;
            """),
        (2, "tasks_workflows_schedules", """
            CREATE TABLE tasks (
                seq                BIGINT GENERATED ALWAYS AS IDENTITY,
                task_id            TEXT PRIMARY KEY,
                owner_id           TEXT NOT NULL,
                created_by         TEXT NOT NULL,
                type               TEXT NOT NULL,
                priority           BIGINT NOT NULL,
                status             TEXT NOT NULL,
                assigned_agent     TEXT,
                current_agent      TEXT,
                parent_workflow_id TEXT,
                stage_name         TEXT,
                input_data         TEXT NOT NULL,
                dependencies       TEXT NOT NULL,
                timeout_s          BIGINT NOT NULL,
                max_attempts       BIGINT NOT NULL,
                backoff            TEXT NOT NULL,
                attempts           BIGINT NOT NULL DEFAULT 0,
                fencing_token      BIGINT NOT NULL DEFAULT 0,
                progress           BIGINT NOT NULL DEFAULT 0,
                output_data        TEXT,
                result             TEXT,
                error              TEXT,
                error_code         TEXT,
                idempotency_key    TEXT,
                schedule_id        TEXT,
                run_at             BIGINT NOT NULL,
                lease_expires_at   BIGINT,
                deadline           BIGINT,
                created_at         BIGINT NOT NULL,
                updated_at         BIGINT NOT NULL
            );
            CREATE UNIQUE INDEX ux_tasks_idempotency ON tasks (owner_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
            CREATE INDEX ix_tasks_ready ON tasks (priority DESC, created_at, seq) WHERE status = 'queued';
            CREATE INDEX ix_tasks_pending ON tasks (run_at) WHERE status = 'pending';
            CREATE INDEX ix_tasks_leased ON tasks (current_agent) WHERE status = 'in_progress';
            CREATE INDEX ix_tasks_owner ON tasks (owner_id, created_at, seq);
            CREATE INDEX ix_tasks_created ON tasks (created_at, seq);
            CREATE INDEX ix_tasks_workflow ON tasks (parent_workflow_id, seq) WHERE parent_workflow_id IS NOT NULL;
            CREATE TABLE task_dependencies (
                task_id    TEXT NOT NULL,
                depends_on TEXT NOT NULL,
                PRIMARY KEY (task_id, depends_on)
            );
            CREATE INDEX ix_task_dependencies_on ON task_dependencies (depends_on);
            CREATE TABLE schedules (
                schedule_id   TEXT PRIMARY KEY,
                owner_id      TEXT NOT NULL,
                created_by    TEXT NOT NULL,
                agent_id      TEXT NOT NULL,
                task_type     TEXT NOT NULL,
                parameters    TEXT NOT NULL,
                priority      BIGINT NOT NULL,
                timeout_s     BIGINT NOT NULL,
                max_attempts  BIGINT NOT NULL,
                backoff       TEXT NOT NULL,
                cron          TEXT NOT NULL,
                quartz_cron   TEXT NOT NULL,
                next_fire_at  BIGINT NOT NULL,
                last_fired_at BIGINT,
                last_task_id  TEXT,
                created_at    BIGINT NOT NULL
            );
            CREATE INDEX ix_schedules_due ON schedules (next_fire_at);
            CREATE INDEX ix_schedules_owner ON schedules (owner_id, created_at);
            CREATE TABLE workflows (
                seq              BIGINT GENERATED ALWAYS AS IDENTITY,
                workflow_id      TEXT PRIMARY KEY,
                owner_id         TEXT NOT NULL,
                created_by       TEXT NOT NULL,
                project_id       TEXT,
                name             TEXT NOT NULL,
                definition       TEXT NOT NULL,
                parallel         BOOLEAN NOT NULL,
                failure_strategy TEXT NOT NULL,
                status           TEXT NOT NULL,
                error            TEXT,
                created_at       BIGINT NOT NULL,
                updated_at       BIGINT NOT NULL
            );
            CREATE INDEX ix_workflows_owner ON workflows (owner_id, created_at, seq);
            """),
        (3, "agent_logs_audit", """
            CREATE TABLE agent_logs (
                log_id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                agent_id    TEXT NOT NULL,
                level       TEXT NOT NULL,
                level_rank  BIGINT NOT NULL,
                message     TEXT NOT NULL,
                component   TEXT,
                context     TEXT,
                ts          BIGINT NOT NULL,
                received_at BIGINT NOT NULL
            );
            CREATE INDEX ix_agent_logs_agent ON agent_logs (agent_id, log_id);
            CREATE INDEX ix_agent_logs_received ON agent_logs (received_at);
            CREATE TABLE audit_log (
                seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                audit_id   TEXT NOT NULL UNIQUE,
                at         BIGINT NOT NULL,
                actor_id   TEXT,
                actor_role TEXT,
                action     TEXT NOT NULL,
                target     TEXT,
                outcome    TEXT NOT NULL,
                ip         TEXT,
                details    TEXT NOT NULL
            );
            CREATE INDEX ix_audit_at ON audit_log (at);
            CREATE INDEX ix_audit_actor ON audit_log (actor_id, at);
            CREATE INDEX ix_audit_action ON audit_log (action, at);
            -- Append-only, enforced by the database itself (UPDATE, DELETE and TRUNCATE), not only by the absence of API routes.
            CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
            END $$;
            CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
            CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
            """),
        // Hosting/ (hosted agents) and Files/ keep their own store interfaces; their tables live in the same database.
        (4, "hosted_agents_files", """
            CREATE TABLE hosted_agents (
                agent_id          TEXT PRIMARY KEY,
                auto_start        BOOLEAN NOT NULL,
                protected_api_key TEXT,
                updated_at        BIGINT NOT NULL
            );
            CREATE TABLE hosted_chat_messages (
                message_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                agent_id   TEXT NOT NULL,
                thread_id  TEXT NOT NULL,
                role       TEXT NOT NULL,
                content    TEXT NOT NULL,
                created_at BIGINT NOT NULL
            );
            CREATE INDEX ix_hosted_chat_thread ON hosted_chat_messages (agent_id, thread_id, message_id);
            CREATE TABLE files (
                file_id     TEXT PRIMARY KEY,
                owner_id    TEXT NOT NULL,
                uploaded_by TEXT NOT NULL,
                agent_id    TEXT,
                task_id     TEXT,
                filename    TEXT NOT NULL,
                mime_type   TEXT NOT NULL,
                size        BIGINT NOT NULL,
                sha256      TEXT NOT NULL,
                created_at  BIGINT NOT NULL,
                expires_at  BIGINT
            );
            CREATE INDEX ix_files_owner ON files (owner_id, created_at, file_id);
            CREATE INDEX ix_files_agent ON files (agent_id, created_at) WHERE agent_id IS NOT NULL;
            CREATE INDEX ix_files_task ON files (task_id) WHERE task_id IS NOT NULL;
            CREATE INDEX ix_files_sha ON files (sha256);
            CREATE INDEX ix_files_expiry ON files (expires_at) WHERE expires_at IS NOT NULL;
            CREATE TABLE file_uploads (
                upload_key   TEXT PRIMARY KEY,
                upload_id    TEXT NOT NULL,
                owner_id     TEXT NOT NULL,
                uploaded_by  TEXT NOT NULL,
                agent_id     TEXT,
                filename     TEXT NOT NULL,
                mime_type    TEXT NOT NULL,
                total_chunks BIGINT NOT NULL,
                sha256       TEXT,
                created_at   BIGINT NOT NULL,
                updated_at   BIGINT NOT NULL
            );
            CREATE INDEX ix_file_uploads_updated ON file_uploads (updated_at);
            CREATE TABLE file_upload_chunks (
                upload_key  TEXT NOT NULL,
                chunk_index BIGINT NOT NULL,
                size        BIGINT NOT NULL,
                sha256      TEXT NOT NULL,
                PRIMARY KEY (upload_key, chunk_index)
            );
            """),
        // Settings changed at run time (Settings/, SQLite step 10 runtime_settings).
        (5, "runtime_settings", """
            CREATE TABLE runtime_settings (
                key        TEXT PRIMARY KEY,
                value      TEXT NOT NULL,
                updated_at BIGINT NOT NULL,
                updated_by TEXT NOT NULL,
                revision   BIGINT NOT NULL
            );
            CREATE TABLE runtime_settings_revision (
                id       INTEGER PRIMARY KEY CHECK (id = 1),
                revision BIGINT NOT NULL
            );
            """),
        // KAIL invocations (Invocations/, SQLite step 11): the append-only invocation log and the replay nonces.
        (6, "kail_invocations", """
            CREATE TABLE kail_invocation_log (
                seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                invocation_id TEXT NOT NULL UNIQUE,
                owner_id      TEXT NOT NULL,
                sender        TEXT NOT NULL,
                target        TEXT NOT NULL,
                intent        TEXT NOT NULL,
                status        TEXT NOT NULL,
                error_code    TEXT,
                agent         TEXT,
                depth         BIGINT NOT NULL,
                stack_json    TEXT NOT NULL,
                result_json   TEXT NOT NULL,
                created_at    BIGINT NOT NULL,
                completed_at  BIGINT NOT NULL
            );
            CREATE INDEX ix_kail_invocation_owner ON kail_invocation_log (owner_id, created_at);
            CREATE FUNCTION kail_invocation_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'kail_invocation_log is append-only';
            END $$;
            CREATE TRIGGER kail_invocation_log_no_update BEFORE UPDATE OR DELETE ON kail_invocation_log FOR EACH ROW EXECUTE FUNCTION kail_invocation_log_append_only();
            CREATE TRIGGER kail_invocation_log_no_truncate BEFORE TRUNCATE ON kail_invocation_log FOR EACH STATEMENT EXECUTE FUNCTION kail_invocation_log_append_only();
            CREATE TABLE kail_nonces (
                nonce      TEXT PRIMARY KEY,
                expires_at BIGINT NOT NULL
            );
            CREATE INDEX ix_kail_nonces_expiry ON kail_nonces (expires_at);
            """),
        // Chat sessions (Chat/, SQLite step 12).
        (7, "chat_sessions", """
            CREATE TABLE chat_sessions (
                session_id    TEXT PRIMARY KEY,
                owner_id      TEXT NOT NULL,
                session_type  TEXT NOT NULL,
                status        TEXT NOT NULL,
                agents_json   TEXT NOT NULL,
                metadata_json TEXT,
                created_at    BIGINT NOT NULL,
                ended_at      BIGINT,
                end_reason    TEXT
            );
            CREATE INDEX ix_chat_sessions_owner ON chat_sessions (owner_id, created_at);
            CREATE TABLE chat_messages (
                seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                message_id    TEXT NOT NULL UNIQUE,
                session_id    TEXT NOT NULL,
                type          TEXT NOT NULL,
                sender        TEXT NOT NULL,
                receiver      TEXT NOT NULL,
                content       TEXT NOT NULL,
                metadata_json TEXT,
                created_at    BIGINT NOT NULL
            );
            CREATE INDEX ix_chat_messages_session ON chat_messages (session_id, seq);
            """),
        // KAIL signing keys (Invocations/Signing/, SQLite step 13).
        (8, "kail_keys", """
            CREATE TABLE kail_keys (
                key_id     TEXT PRIMARY KEY,
                agent_id   TEXT NOT NULL,
                owner_id   TEXT NOT NULL,
                algorithm  TEXT NOT NULL,
                public_key TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                revoked_at BIGINT
            );
            CREATE INDEX ix_kail_keys_agent ON kail_keys (agent_id, created_at);
            """),
        // File references of work (Files/, SQLite step 15).
        (9, "file_refs", """
            CREATE TABLE file_refs (
                file_id    TEXT NOT NULL,
                work_kind  TEXT NOT NULL,
                work_id    TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (file_id, work_kind, work_id)
            );
            """),
        // Durable event history (Events/PostgresEventHistory.cs; PostgreSQL only: the embedded store keeps history in memory).
        // One epoch per database, so positions are stable across restarts and the same on every node; offsets come from one
        // sequence; event_trims records the highest offset dropped per (tenant, topic), '' = any topic of the tenant.
        (10, "event_history", """
            CREATE TABLE event_epoch (
                id    INT PRIMARY KEY CHECK (id = 1),
                epoch TEXT NOT NULL
            );
            INSERT INTO event_epoch (id, epoch) VALUES (1, substr(md5(random()::text || clock_timestamp()::text), 1, 12));
            CREATE SEQUENCE event_offsets;
            CREATE TABLE events (
                seq            BIGINT PRIMARY KEY DEFAULT nextval('event_offsets'),
                owner_key      TEXT NOT NULL,
                topic          TEXT NOT NULL,
                event_type     TEXT NOT NULL,
                source_agent   TEXT,
                target_agent   TEXT,
                correlation_id TEXT,
                payload        TEXT NOT NULL,
                published_at   BIGINT NOT NULL
            );
            ALTER SEQUENCE event_offsets OWNED BY events.seq;
            CREATE INDEX ix_events_topic ON events (owner_key, topic, seq);
            CREATE INDEX ix_events_published ON events (published_at);
            CREATE TABLE event_trims (
                owner_key TEXT NOT NULL,
                topic     TEXT NOT NULL,
                through   BIGINT NOT NULL,
                PRIMARY KEY (owner_key, topic)
            );
            """),
        // Account names (issue 12 "login by name"; SQLite step 16).
        (11, "user_names", """
            ALTER TABLE users ADD COLUMN username TEXT;
            CREATE UNIQUE INDEX ux_users_username ON users (lower(username)) WHERE username IS NOT NULL;
            """),
        // A2A (A2a/, issue 15, SQLite step 17): the follow-up turns of multi-turn (input-required) tasks, and push-notification configs.
        (12, "a2a_turns", """
            CREATE TABLE a2a_turns (
                task_id     TEXT NOT NULL,
                turn        BIGINT NOT NULL,
                hub_task_id TEXT,
                created_at  BIGINT NOT NULL,
                PRIMARY KEY (task_id, turn)
            );
            CREATE TABLE a2a_push_configs (
                task_id          TEXT NOT NULL,
                config_id        TEXT NOT NULL,
                url              TEXT NOT NULL,
                token            TEXT,
                auth_scheme      TEXT,
                auth_credentials TEXT,
                version          TEXT NOT NULL,
                created_at       BIGINT NOT NULL,
                PRIMARY KEY (task_id, config_id)
            );
            """),
        // A2A push (issue 15, SQLite step 18): the last state whose delivery to a config ended.
        (13, "a2a_push_state", """
            ALTER TABLE a2a_push_configs ADD COLUMN last_state TEXT;
            """),
        // Agents' schema declarations (issue 11 item 17, SQLite step 19).
        (14, "agent_schemas", """
            CREATE TABLE agent_schemas (
                agent_id   TEXT PRIMARY KEY,
                owner_id   TEXT NOT NULL,
                schemas    TEXT NOT NULL,
                updated_at BIGINT NOT NULL
            );
            CREATE INDEX ix_agent_schemas_owner ON agent_schemas (owner_id, updated_at);
            """),
    ];
}
