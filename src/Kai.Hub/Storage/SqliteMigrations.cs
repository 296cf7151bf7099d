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
        // Version 2 belongs to another branch (tasks); steps are applied by version number, so the order of merging is harmless.
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
    ];
}
