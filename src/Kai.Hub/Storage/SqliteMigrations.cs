namespace Kai.Hub.Storage;

/// <summary>
/// Versioned schema steps for SQLite, applied in order at start inside one transaction each.
/// Never edit a published step: add a new one. Times are Unix milliseconds (INTEGER), JSON is TEXT.
/// </summary>
internal static class SqliteMigrations
{
    public static readonly IReadOnlyList<(int Version, string Name, string Sql)> Steps =
    [
        (1, "accounts_agents_commands", """
            CREATE TABLE users (
                user_id       TEXT PRIMARY KEY,
                email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
                password_hash TEXT NOT NULL,
                display_name  TEXT NOT NULL,
                role          TEXT NOT NULL,
                disabled      INTEGER NOT NULL DEFAULT 0,
                created_at    INTEGER NOT NULL
            );
            CREATE TABLE sessions (
                session_id TEXT PRIMARY KEY,
                user_id    TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL,
                revoked_at INTEGER
            );
            CREATE INDEX ix_sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
            CREATE TABLE refresh_tokens (
                token_hash TEXT PRIMARY KEY,
                session_id TEXT NOT NULL,
                user_id    TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL,
                used_at    INTEGER
            );
            CREATE INDEX ix_refresh_session ON refresh_tokens (session_id);
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
                current_tasks    INTEGER NOT NULL DEFAULT 0,
                linked           INTEGER NOT NULL DEFAULT 0,
                metrics          TEXT,
                last_heartbeat   INTEGER,
                last_activity    INTEGER,
                created_at       INTEGER NOT NULL,
                updated_at       INTEGER NOT NULL
            );
            CREATE INDEX ix_agents_owner ON agents (owner_id, created_at);
            CREATE INDEX ix_agents_unlinked_live ON agents (last_heartbeat) WHERE status <> 'offline' AND linked = 0;
            CREATE TABLE commands (
                command_id     TEXT PRIMARY KEY,
                agent_id       TEXT NOT NULL,
                owner_id       TEXT NOT NULL,
                requested_by   TEXT NOT NULL,
                command        TEXT NOT NULL,
                parameters     TEXT NOT NULL,
                priority       INTEGER NOT NULL,
                status         TEXT NOT NULL,
                result         TEXT,
                error          TEXT,
                correlation_id TEXT,
                traceparent    TEXT,
                deliveries     INTEGER NOT NULL DEFAULT 0,
                deadline       INTEGER NOT NULL,
                created_at     INTEGER NOT NULL,
                updated_at     INTEGER NOT NULL
            );
            CREATE INDEX ix_commands_open ON commands (agent_id, priority DESC, created_at) WHERE status IN ('queued', 'executing');
            CREATE INDEX ix_commands_deadline ON commands (deadline) WHERE status IN ('queued', 'executing');
            """),
        (2, "tasks_workflows_schedules", """
            CREATE TABLE tasks (
                task_id           TEXT PRIMARY KEY,
                owner_id          TEXT NOT NULL,
                created_by        TEXT NOT NULL,
                type              TEXT NOT NULL,
                priority          INTEGER NOT NULL,
                status            TEXT NOT NULL,
                assigned_agent    TEXT,
                current_agent     TEXT,
                parent_workflow_id TEXT,
                stage_name        TEXT,
                input_data        TEXT NOT NULL,
                dependencies      TEXT NOT NULL,
                timeout_s         INTEGER NOT NULL,
                max_attempts      INTEGER NOT NULL,
                backoff           TEXT NOT NULL,
                attempts          INTEGER NOT NULL DEFAULT 0,
                fencing_token     INTEGER NOT NULL DEFAULT 0,
                progress          INTEGER NOT NULL DEFAULT 0,
                output_data       TEXT,
                result            TEXT,
                error             TEXT,
                error_code        TEXT,
                idempotency_key   TEXT,
                schedule_id       TEXT,
                run_at            INTEGER NOT NULL,
                lease_expires_at  INTEGER,
                deadline          INTEGER,
                created_at        INTEGER NOT NULL,
                updated_at        INTEGER NOT NULL
            );
            CREATE UNIQUE INDEX ux_tasks_idempotency ON tasks (owner_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
            CREATE INDEX ix_tasks_ready ON tasks (priority DESC, created_at) WHERE status = 'queued';
            CREATE INDEX ix_tasks_pending ON tasks (run_at) WHERE status = 'pending';
            CREATE INDEX ix_tasks_leased ON tasks (current_agent) WHERE status = 'in_progress';
            CREATE INDEX ix_tasks_owner ON tasks (owner_id, created_at);
            CREATE INDEX ix_tasks_workflow ON tasks (parent_workflow_id) WHERE parent_workflow_id IS NOT NULL;
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
                priority      INTEGER NOT NULL,
                timeout_s     INTEGER NOT NULL,
                max_attempts  INTEGER NOT NULL,
                backoff       TEXT NOT NULL,
                cron          TEXT NOT NULL,
                quartz_cron   TEXT NOT NULL,
                next_fire_at  INTEGER NOT NULL,
                last_fired_at INTEGER,
                last_task_id  TEXT,
                created_at    INTEGER NOT NULL
            );
            CREATE INDEX ix_schedules_due ON schedules (next_fire_at);
            CREATE INDEX ix_schedules_owner ON schedules (owner_id, created_at);
            CREATE TABLE workflows (
                workflow_id      TEXT PRIMARY KEY,
                owner_id         TEXT NOT NULL,
                created_by       TEXT NOT NULL,
                project_id       TEXT,
                name             TEXT NOT NULL,
                definition       TEXT NOT NULL,
                parallel         INTEGER NOT NULL,
                failure_strategy TEXT NOT NULL,
                status           TEXT NOT NULL,
                error            TEXT,
                created_at       INTEGER NOT NULL,
                updated_at       INTEGER NOT NULL
            );
            CREATE INDEX ix_workflows_owner ON workflows (owner_id, created_at);
            """),
        (3, "agent_logs", """
            CREATE TABLE agent_logs (
                log_id      INTEGER PRIMARY KEY AUTOINCREMENT,
                agent_id    TEXT NOT NULL,
                level       TEXT NOT NULL,
                level_rank  INTEGER NOT NULL,
                message     TEXT NOT NULL,
                component   TEXT,
                context     TEXT,
                ts          INTEGER NOT NULL,
                received_at INTEGER NOT NULL
            );
            CREATE INDEX ix_agent_logs_agent ON agent_logs (agent_id, log_id);
            CREATE INDEX ix_agent_logs_received ON agent_logs (received_at);
            """),
        (4, "security_audit_magic_links", """
            CREATE TABLE audit_log (
                seq        INTEGER PRIMARY KEY AUTOINCREMENT,
                audit_id   TEXT NOT NULL UNIQUE,
                at         INTEGER NOT NULL,
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
            -- Append-only, enforced by the database itself, not only by the absence of API routes.
            CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
            CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
            CREATE TABLE magic_links (
                token_hash TEXT PRIMARY KEY,
                email      TEXT NOT NULL COLLATE NOCASE,
                user_id    TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL,
                used_at    INTEGER
            );
            CREATE INDEX ix_magic_links_expiry ON magic_links (expires_at);
            """),
        // Measured (docs/benchmarks.md): task dispatch scanned every agent of the owner; listing scanned and sorted all agents.
        (5, "agent_indexes", """
            CREATE INDEX ix_agents_owner_linked ON agents (owner_id, created_at, agent_id) WHERE linked = 1;
            DROP INDEX ix_agents_owner;
            CREATE INDEX ix_agents_owner ON agents (owner_id, created_at, agent_id);
            CREATE INDEX ix_agents_created ON agents (created_at, agent_id);
            """),
        // Link state per node (issue 9): which node holds an agent's link, and the nodes' heartbeats, so one node's restart
        // resets only its own links and the links of a node that died expire.
        (6, "nodes_link_state", """
            CREATE TABLE nodes (
                node_id    TEXT PRIMARY KEY,
                first_seen INTEGER NOT NULL,
                last_seen  INTEGER NOT NULL
            );
            ALTER TABLE agents ADD COLUMN link_node TEXT;
            CREATE INDEX ix_agents_link_node ON agents (link_node) WHERE linked = 1;
            """),
        // Hosting/ (helper "hosted", issue 11 item 15): hosted agents' start flag and protected key, and chat history per thread.
        (7, "hosted_agents", """
            CREATE TABLE hosted_agents (
                agent_id          TEXT PRIMARY KEY,
                auto_start        INTEGER NOT NULL,
                protected_api_key TEXT,
                updated_at        INTEGER NOT NULL
            );
            CREATE TABLE hosted_chat_messages (
                message_id INTEGER PRIMARY KEY AUTOINCREMENT,
                agent_id   TEXT NOT NULL,
                thread_id  TEXT NOT NULL,
                role       TEXT NOT NULL,
                content    TEXT NOT NULL,
                created_at INTEGER NOT NULL
            );
            CREATE INDEX ix_hosted_chat_thread ON hosted_chat_messages (agent_id, thread_id, message_id);
            """),
        // Files capability (Files/): file metadata; the bytes live in the blob store (local directory or S3), addressed by sha256.
        // file_uploads/file_upload_chunks track chunked WebSocket uploads until they are assembled; chunk bytes are on local disk.
        (8, "files", """
            CREATE TABLE files (
                file_id    TEXT PRIMARY KEY,
                owner_id   TEXT NOT NULL,
                uploaded_by TEXT NOT NULL,
                agent_id   TEXT,
                task_id    TEXT,
                filename   TEXT NOT NULL,
                mime_type  TEXT NOT NULL,
                size       INTEGER NOT NULL,
                sha256     TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                expires_at INTEGER
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
                total_chunks INTEGER NOT NULL,
                sha256       TEXT,
                created_at   INTEGER NOT NULL,
                updated_at   INTEGER NOT NULL
            );
            CREATE INDEX ix_file_uploads_updated ON file_uploads (updated_at);
            CREATE TABLE file_upload_chunks (
                upload_key  TEXT NOT NULL,
                chunk_index INTEGER NOT NULL,
                size        INTEGER NOT NULL,
                sha256      TEXT NOT NULL,
                PRIMARY KEY (upload_key, chunk_index)
            );
            """),
        // Commands take an Idempotency-Key (issue 10 item 11): per requester, with a hash of the request so a reuse with another body is refused.
        (9, "command_idempotency", """
            ALTER TABLE commands ADD COLUMN idempotency_key TEXT;
            ALTER TABLE commands ADD COLUMN request_hash TEXT;
            CREATE UNIQUE INDEX ux_commands_idempotency ON commands (requested_by, idempotency_key) WHERE idempotency_key IS NOT NULL;
            """),
        // Settings changed at run time through /api/v1/config (Settings/): configuration keys and values, and one revision
        // number that every change bumps (other nodes reload when it moves).
        (10, "runtime_settings", """
            CREATE TABLE runtime_settings (
                key        TEXT PRIMARY KEY COLLATE NOCASE,
                value      TEXT NOT NULL,
                updated_at INTEGER NOT NULL,
                updated_by TEXT NOT NULL,
                revision   INTEGER NOT NULL
            );
            CREATE TABLE runtime_settings_revision (
                id       INTEGER PRIMARY KEY CHECK (id = 1),
                revision INTEGER NOT NULL
            );
            """),
        // KAIL invocations (Invocations/, seed 002 §IX "Audit: invocation chains stored in append-only logs"): one row per finished
        // invocation with its whole InvocationStack; refuses UPDATE and DELETE like audit_log. kail_nonces keeps invocation ids
        // (the replay nonces, seed 002 §VIII) until their window ends, shared by every node on this store.
        (11, "kail_invocations", """
            CREATE TABLE kail_invocation_log (
                seq           INTEGER PRIMARY KEY AUTOINCREMENT,
                invocation_id TEXT NOT NULL UNIQUE,
                owner_id      TEXT NOT NULL,
                sender        TEXT NOT NULL,
                target        TEXT NOT NULL,
                intent        TEXT NOT NULL,
                status        TEXT NOT NULL,
                error_code    TEXT,
                agent         TEXT,
                depth         INTEGER NOT NULL,
                stack_json    TEXT NOT NULL,
                result_json   TEXT NOT NULL,
                created_at    INTEGER NOT NULL,
                completed_at  INTEGER NOT NULL
            );
            CREATE INDEX ix_kail_invocation_owner ON kail_invocation_log (owner_id, created_at);
            CREATE TRIGGER kail_invocation_log_no_update BEFORE UPDATE ON kail_invocation_log BEGIN SELECT RAISE(ABORT, 'kail_invocation_log is append-only'); END;
            CREATE TRIGGER kail_invocation_log_no_delete BEFORE DELETE ON kail_invocation_log BEGIN SELECT RAISE(ABORT, 'kail_invocation_log is append-only'); END;
            CREATE TABLE kail_nonces (
                nonce      TEXT PRIMARY KEY,
                expires_at INTEGER NOT NULL
            );
            CREATE INDEX ix_kail_nonces_expiry ON kail_nonces (expires_at);
            """),
        // Chat capability (Chat/, seed 003 AgentConnect): chat sessions with their participants, and every message said in them.
        (12, "chat_sessions", """
            CREATE TABLE chat_sessions (
                session_id    TEXT PRIMARY KEY,
                owner_id      TEXT NOT NULL,
                session_type  TEXT NOT NULL,
                status        TEXT NOT NULL,
                agents_json   TEXT NOT NULL,
                metadata_json TEXT,
                created_at    INTEGER NOT NULL,
                ended_at      INTEGER,
                end_reason    TEXT
            );
            CREATE INDEX ix_chat_sessions_owner ON chat_sessions (owner_id, created_at);
            CREATE TABLE chat_messages (
                seq           INTEGER PRIMARY KEY AUTOINCREMENT,
                message_id    TEXT NOT NULL UNIQUE,
                session_id    TEXT NOT NULL,
                type          TEXT NOT NULL,
                sender        TEXT NOT NULL,
                receiver      TEXT NOT NULL,
                content       TEXT NOT NULL,
                metadata_json TEXT,
                created_at    INTEGER NOT NULL
            );
            CREATE INDEX ix_chat_messages_session ON chat_messages (session_id, seq);
            """),
        // KAIL signing keys (Invocations/Signing/, seed 002 §VIII "signed envelopes"): the public keys agents sign envelopes with.
        // A revoked key keeps its row (revoked_at), so an envelope naming it is refused as revoked, not as unknown.
        (13, "kail_keys", """
            CREATE TABLE kail_keys (
                key_id     TEXT PRIMARY KEY,
                agent_id   TEXT NOT NULL,
                owner_id   TEXT NOT NULL,
                algorithm  TEXT NOT NULL,
                public_key TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                revoked_at INTEGER
            );
            CREATE INDEX ix_kail_keys_agent ON kail_keys (agent_id, created_at);
            """),
        // Agents per owner, kept by triggers, so a page of GET /api/v1/agents reads its total instead of counting the owner's
        // index (0.5 ms per page at 10,000 agents, the largest part of a list request). Exact in any process on the database.
        (14, "agent_counts", """
            CREATE TABLE agent_counts (
                owner_id TEXT PRIMARY KEY,
                n        INTEGER NOT NULL
            ) WITHOUT ROWID;
            INSERT INTO agent_counts (owner_id, n) SELECT owner_id, COUNT(*) FROM agents GROUP BY owner_id;
            CREATE TRIGGER tr_agent_counts_insert AFTER INSERT ON agents BEGIN
                INSERT INTO agent_counts (owner_id, n) VALUES (new.owner_id, 1)
                ON CONFLICT (owner_id) DO UPDATE SET n = n + 1;
            END;
            CREATE TRIGGER tr_agent_counts_delete AFTER DELETE ON agents BEGIN
                UPDATE agent_counts SET n = n - 1 WHERE owner_id = old.owner_id;
            END;
            CREATE TRIGGER tr_agent_counts_owner AFTER UPDATE OF owner_id ON agents WHEN new.owner_id IS NOT old.owner_id BEGIN
                UPDATE agent_counts SET n = n - 1 WHERE owner_id = old.owner_id;
                INSERT INTO agent_counts (owner_id, n) VALUES (new.owner_id, 1)
                ON CONFLICT (owner_id) DO UPDATE SET n = n + 1;
            END;
            """),
        // File references of work (Files/, issue 13 item 7): a task, command or invocation whose input references a file by file_id.
        // The agent holding that work may read the file; the row outlives the work (the holder decides), and goes with the file.
        (15, "file_refs", """
            CREATE TABLE file_refs (
                file_id    TEXT NOT NULL,
                work_kind  TEXT NOT NULL,
                work_id    TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                PRIMARY KEY (file_id, work_kind, work_id)
            );
            """),
        // Account names (issue 12 "login by name"): an optional name, unique case-insensitively, that /api/auth/login takes
        // as its username beside the email. NULL for accounts without one (and every account before this step).
        (16, "user_names", """
            ALTER TABLE users ADD COLUMN username TEXT;
            CREATE UNIQUE INDEX ux_users_username ON users (username COLLATE NOCASE) WHERE username IS NOT NULL;
            """),
        // A2A (A2a/, issue 15): the follow-up turns of multi-turn (input-required) tasks, and push-notification configs.
        (17, "a2a_turns", """
            CREATE TABLE a2a_turns (
                task_id     TEXT NOT NULL,
                turn        INTEGER NOT NULL,
                hub_task_id TEXT,
                created_at  INTEGER NOT NULL,
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
                created_at       INTEGER NOT NULL,
                PRIMARY KEY (task_id, config_id)
            );
            """),
        // A2A push (issue 15): the last state whose delivery to a config ended (delivered, or given up after the last retry), so
        // a restarted or newly leading node does not send a state again; and secrets are stored protected from here on (A2aPush).
        (18, "a2a_push_state", """
            ALTER TABLE a2a_push_configs ADD COLUMN last_state TEXT;
            """),
        // Agents' schema declarations (issue 11 item 17): for their methods, commands and intents, JSON of AgentSchemaDeclarations.
        // Kept apart from the agents row, which every presence change rewrites; deleted with the agent.
        (19, "agent_schemas", """
            CREATE TABLE agent_schemas (
                agent_id   TEXT PRIMARY KEY,
                owner_id   TEXT NOT NULL,
                schemas    TEXT NOT NULL,
                updated_at INTEGER NOT NULL
            );
            CREATE INDEX ix_agent_schemas_owner ON agent_schemas (owner_id, updated_at);
            """),
    ];
}
