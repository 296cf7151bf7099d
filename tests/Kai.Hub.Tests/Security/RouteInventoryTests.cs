using System.Reflection;
using Kai.Hub.Auth;
using Kai.Hub.Edges;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Kai.Hub.Tests.Security;

/// <summary>
/// Every mapped endpoint and every WebSocket frame type declares its permission (or why it is anonymous) and names the test that
/// proves another tenant cannot use it. A new route or frame type fails here until both are added.
/// </summary>
public sealed class RouteInventoryTests
{
    /// <summary>
    /// Route → the test proving its cross-tenant (or non-privileged) negative case. Routes in <see cref="CrossTenantTests.RestCases"/>
    /// need no entry here: the cross-tenant theory runs each of them.
    /// </summary>
    internal static readonly Dictionary<string, string> NegativeTests = new(StringComparer.Ordinal)
    {
        ["GET /.well-known/jwks.json"] = "TokenTypeAndRotationTests.Jwks_publishes_current_and_previous_public_keys_only",
        ["GET /openapi.json"] = "SecurityHeadersTests.Api_answers_carry_security_headers_and_docs_still_load",
        ["* /health"] = "SecurityHeadersTests.Api_answers_carry_security_headers_and_docs_still_load",
        ["* /ready"] = "SecurityHeadersTests.Api_answers_carry_security_headers_and_docs_still_load",
        ["GET /metrics"] = "CrossTenantTests.Metrics_summary_shows_only_own_agents",
        ["GET /api/v1/metrics"] = "CrossTenantTests.Metrics_summary_shows_only_own_agents",
        ["POST /api/v1/auth/register"] = "InputLimitTests.Clients_cannot_set_role_owner_or_status",
        ["POST /api/v1/auth/login"] = "LoginHardeningTests.Failed_logins_back_off_per_account_with_the_same_answer_for_unknown_emails",
        ["POST /api/v1/auth/magic-link"] = "MagicLinkTests.Same_answer_for_known_and_unknown_emails",
        ["POST /api/v1/auth/verify-magic"] = "MagicLinkTests.Magic_token_works_once",
        ["POST /api/v1/auth/refresh"] = "RefreshFamilyTests.Reuse_after_the_grace_window_revokes_the_family",
        ["POST /api/v1/auth/token"] = "SecretRotationTests.Rotation_kills_the_old_secret_and_its_tokens",
        ["POST /api/v1/auth/logout"] = "RefreshFamilyTests.Logout_revokes_the_family_and_clears_the_cookie",
        ["GET /api/v1/auth/session"] = "TokenTypeAndRotationTests.Refresh_magic_and_client_secrets_are_never_access_tokens",
        ["POST /api/v1/agents/register"] = "InputLimitTests.Clients_cannot_set_role_owner_or_status",
        ["POST /api/v1/agents/"] = "InputLimitTests.Clients_cannot_set_role_owner_or_status",
        ["POST /api/v1/tasks/"] = "CrossTenantTests.Task_for_another_tenants_agent_is_refused",
        ["POST /api/v1/workflows/"] = "CrossTenantTests.Lists_never_show_other_tenants_objects",
        ["GET /api/v1/agents/"] = "CrossTenantTests.Lists_never_show_other_tenants_objects",
        ["GET /api/v1/tasks/"] = "CrossTenantTests.Lists_never_show_other_tenants_objects",
        ["GET /api/v1/schedules/"] = "CrossTenantTests.Lists_never_show_other_tenants_objects",
        ["GET /api/v1/workflows/"] = "CrossTenantTests.Lists_never_show_other_tenants_objects",
        ["GET /api/v1/audit"] = "AdminApiTests.Non_admins_are_refused_every_admin_route_and_it_is_audited",
        ["GET /api/v1/admin/users"] = "AdminApiTests.Non_admins_are_refused_every_admin_route_and_it_is_audited",
        ["PUT /api/v1/admin/users/{userId}/role"] = "AdminApiTests.Non_admins_are_refused_every_admin_route_and_it_is_audited",
        ["POST /api/v1/admin/users/{userId}/disable"] = "AdminApiTests.Non_admins_are_refused_every_admin_route_and_it_is_audited",
        ["POST /api/v1/admin/users/{userId}/enable"] = "AdminApiTests.Non_admins_are_refused_every_admin_route_and_it_is_audited",
        ["GET /api/v1/admin/agents"] = "AdminApiTests.Non_admins_are_refused_every_admin_route_and_it_is_audited",
        ["GET /api/v1/admin/nodes"] = "AdminApiTests.Non_admins_are_refused_every_admin_route_and_it_is_audited",
        ["POST /api/v1/admin/keys/rotate"] = "AdminApiTests.Non_admins_are_refused_every_admin_route_and_it_is_audited",
        ["GET /api/v1/config"] = "AdminApiTests.Non_admins_are_refused_every_admin_route_and_it_is_audited",
        ["GET /api/v1/config/{section}"] = "AdminApiTests.Non_admins_are_refused_every_admin_route_and_it_is_audited",
        ["PATCH /api/v1/config/{section}"] = "AdminApiTests.Non_admins_are_refused_every_admin_route_and_it_is_audited",
        ["DELETE /api/v1/config/{section}"] = "AdminApiTests.Non_admins_are_refused_every_admin_route_and_it_is_audited",
        ["* /ws/agents/{agentId}"] = "CrossTenantTests.Another_tenants_agent_link_cannot_be_opened",
        ["* /ws"] = "EventFallbackTests.Another_users_events_are_never_seen_over_websocket_sse_or_polling",
        ["GET /api/v1/events/stream"] = "EventFallbackTests.Another_users_events_are_never_seen_over_websocket_sse_or_polling",
        ["GET /api/v1/events/"] = "EventFallbackTests.Another_users_events_are_never_seen_over_websocket_sse_or_polling",
        ["POST /api/v1/events/"] = "EventLinkTests.Publish_namespaces_depend_on_the_role_and_system_alerts_reach_everyone",
        ["GET /api/v1/providers/"] = "HostedAgentLifecycleTests.Providers_are_listed_without_secrets_or_addresses_and_agents_are_refused",
        ["POST /api/v1/files/upload"] = "FileAccessTests.Agent_upload_tells_the_agent_which_may_read_that_file_and_no_other",
        ["POST /api/v1/agents/{agentId}/upload"] = "FileAccessTests.Other_tenants_get_404_for_every_file_route_and_the_file_is_unchanged",
        ["GET /api/v1/files/"] = "FileAccessTests.Other_tenants_get_404_for_every_file_route_and_the_file_is_unchanged",
        ["GET /api/v1/files/{fileId}"] = "FileAccessTests.Other_tenants_get_404_for_every_file_route_and_the_file_is_unchanged",
        ["GET /api/v1/files/{fileId}/download"] = "FileAccessTests.Other_tenants_get_404_for_every_file_route_and_the_file_is_unchanged",
        ["POST /api/v1/files/{fileId}/signed-url"] = "FileAccessTests.Other_tenants_get_404_for_every_file_route_and_the_file_is_unchanged",
        ["GET /api/v1/files/{fileId}/content"] = "FileUploadTests.Signed_urls_work_without_a_bearer_header_until_they_expire_and_cannot_be_forged",
        ["DELETE /api/v1/files/{fileId}"] = "FileAccessTests.Other_tenants_get_404_for_every_file_route_and_the_file_is_unchanged",
        ["PUT /api/v1/files/uploads/{uploadId}/chunks/{chunkIndex:int}"] = "ResumableUploadTests.Upload_ids_are_per_principal_and_another_tenant_cannot_see_join_or_assign_an_upload",
        ["GET /api/v1/files/uploads/{uploadId}"] = "ResumableUploadTests.Upload_ids_are_per_principal_and_another_tenant_cannot_see_join_or_assign_an_upload",
        ["POST /api/v1/tasks/{taskId}/artifacts"] = "FileReferenceTests.Other_tenants_get_404_for_task_artifacts_and_cannot_pass_their_files_into_work",
        ["POST /api/v1/rpc/"] = "RpcBadInputTests.Malformed_unknown_expired_offline_and_denied_requests_get_error_envelopes_and_change_nothing",
        ["GET /api/v1/rpc/routes"] = "RpcTransportTests.Agent_register_updates_the_registry_and_the_routing_table_which_follows_the_agent_going_away",
        ["POST /api/v1/callbacks/{request_id}"] = "RpcAggregationTests.A_late_callback_is_accepted_only_from_the_agent_it_went_to_and_reaches_the_callers_link",
        ["POST /jsonrpc"] = "RpcTransportTests.Json_rpc_over_http_and_websocket_with_batches_notifications_and_standard_error_codes",
        ["* /ws/rpc"] = "RpcBadInputTests.Rpc_routes_and_websocket_refuse_callers_without_a_valid_token",
        ["POST /api/v1/invocations/"] = "InvocationTests.By_default_only_the_same_owner_may_invoke",
        ["GET /api/v1/invocations/{invocationId}"] = "InvocationTests.An_agent_on_its_link_answers_an_invocation_and_the_stack_records_the_hop_with_hashes",
        ["GET /api/v1/invocations/{invocationId}/stream"] = "InvocationTests.An_agent_on_its_link_answers_an_invocation_and_the_stack_records_the_hop_with_hashes",
        ["GET /api/v1/agents/{agentId}/schemas"] = "AgentSchemaTests.Command_schemas_set_over_rest_survive_a_restart_refuse_bad_parameters_before_storing_and_fail_bad_results",
        ["PUT /api/v1/agents/{agentId}/schemas"] = "AgentSchemaTests.Command_schemas_set_over_rest_survive_a_restart_refuse_bad_parameters_before_storing_and_fail_bad_results",
        ["POST /api/v1/agents/{agentId}/keys/"] = "SignatureTests.Key_routes_answer_only_the_agent_and_its_owner_and_refuse_bad_keys_without_storing_them",
        ["GET /api/v1/agents/{agentId}/keys/"] = "SignatureTests.Key_routes_answer_only_the_agent_and_its_owner_and_refuse_bad_keys_without_storing_them",
        ["DELETE /api/v1/agents/{agentId}/keys/{keyId}"] = "SignatureTests.Key_routes_answer_only_the_agent_and_its_owner_and_refuse_bad_keys_without_storing_them",
        ["GET /api/v1/invocations/keys"] = "SignatureTests.Key_routes_answer_only_the_agent_and_its_owner_and_refuse_bad_keys_without_storing_them",
        ["POST /api/auth/login"] = "ChatApiTests.Bad_logins_and_tokens_get_seed_003_errors",
        ["POST /api/auth/verify"] = "ChatApiTests.Bad_logins_and_tokens_get_seed_003_errors",
        ["GET /api/chat/providers"] = "ChatApiTests.Providers_are_a_map_of_name_models_and_default_model",
        ["POST /api/chat/sessions/create"] = "ChatApiTests.Bad_session_requests_get_422_with_a_code_and_store_nothing",
        ["GET /api/chat/sessions/{sessionId}"] = "ChatApiTests.Another_users_session_is_not_found_for_every_session_route_and_stays_unchanged",
        ["DELETE /api/chat/sessions/{sessionId}"] = "ChatApiTests.Another_users_session_is_not_found_for_every_session_route_and_stays_unchanged",
        ["GET /api/v1/chat/sessions/{sessionId}/messages"] = "ChatApiTests.Another_users_session_is_not_found_for_every_session_route_and_stays_unchanged",
        ["* /api/chat/ws/{sessionId}"] = "ChatSocketTests.Chat_link_refuses_bad_tokens_and_foreign_unknown_malformed_or_ended_sessions_with_the_seed_close_codes",
        ["GET /api/agents/list"] = "ChatApiTests.Another_users_agents_are_not_found_on_the_agent_routes",
        ["GET /api/agents/status/{agentId}"] = "ChatApiTests.Another_users_agents_are_not_found_on_the_agent_routes",
        ["GET /api/agents/{agentId}/capabilities"] = "ChatApiTests.Another_users_agents_are_not_found_on_the_agent_routes",
        ["POST /api/agents/{agentId}/message"] = "ChatApiTests.Another_users_agents_are_not_found_on_the_agent_routes",
        ["DELETE /api/agents/{agentId}"] = "ChatApiTests.Another_users_agents_are_not_found_on_the_agent_routes",
        ["POST /api/agents/register"] = "ChatApiTests.Register_creates_a_hosted_agent_of_a_configured_provider_and_refuses_an_unknown_one",
        ["POST /mcp/"] = "McpServerTests.Another_users_agents_tasks_and_events_are_invisible_over_mcp",
        ["GET /.well-known/agent-card.json"] = "A2aEndpointTests.Cards_list_only_opted_in_agents_and_other_tenants_cannot_message_them",
        ["GET /a2a/agents/{agentId}/.well-known/agent-card.json"] = "A2aEndpointTests.Cards_list_only_opted_in_agents_and_other_tenants_cannot_message_them",
        ["POST /a2a"] = "A2aEndpointTests.Cards_list_only_opted_in_agents_and_other_tenants_cannot_message_them",
        ["POST /a2a/agents/{agentId}"] = "A2aEndpointTests.Cards_list_only_opted_in_agents_and_other_tenants_cannot_message_them",
        ["GET /"] = "DashboardServingTests.Without_a_build_the_root_leads_to_a_page_saying_how_to_build_it_and_the_docs_still_work",
        ["GET /ui/{**path}"] = "DashboardServingTests.A_build_is_served_under_a_strict_policy_and_nothing_outside_its_folder_is",
    };

    /// <summary>Frame type (per edge) → the test proving the cross-tenant negative case over WebSocket.</summary>
    internal static readonly Dictionary<string, string> FrameTests = new(StringComparer.Ordinal)
    {
        [$"{FramePermissions.AgentLink} heartbeat"] = "CrossTenantTests.Another_tenants_agent_link_cannot_be_opened",
        [$"{FramePermissions.AgentLink} status_update"] = "CrossTenantTests.Another_tenants_agent_link_cannot_be_opened",
        [$"{FramePermissions.AgentLink} log"] = "CrossTenantTests.Another_tenants_agent_link_cannot_be_opened",
        [$"{FramePermissions.AgentLink} agent_message"] = "CrossTenantTests.An_agent_cannot_reach_another_tenants_objects_over_its_link",
        [$"{FramePermissions.AgentLink} command_result"] = "CrossTenantTests.An_agent_cannot_reach_another_tenants_objects_over_its_link",
        [$"{FramePermissions.AgentLink} task_update"] = "CrossTenantTests.An_agent_cannot_reach_another_tenants_objects_over_its_link",
        [$"{FramePermissions.ObserverLink} command"] = "CrossTenantTests.Another_tenants_agent_link_cannot_be_opened",
        [$"{FramePermissions.ObserverLink} heartbeat"] = "CrossTenantTests.Another_tenants_agent_link_cannot_be_opened",
        [$"{FramePermissions.ObserverLink} stream_control"] = "CrossTenantTests.Another_tenants_agent_link_cannot_be_opened",
        [$"{FramePermissions.ObserverLink} stream_resume"] = "CrossTenantTests.Another_tenants_agent_link_cannot_be_opened",
        [$"{FramePermissions.AgentLink} stream_chunk"] = "PromptStreamTests.Abandoned_streams_are_cancelled_and_forgotten_by_the_sweeper_and_bad_requests_are_refused",
        [$"{FramePermissions.AgentLink} subscribe"] = "AgentLinkSubscribeTests.Subscribe_on_agent_and_observer_links_sees_only_the_own_tenants_events",
        [$"{FramePermissions.AgentLink} unsubscribe"] = "AgentLinkSubscribeTests.Subscribe_on_agent_and_observer_links_sees_only_the_own_tenants_events",
        [$"{FramePermissions.ObserverLink} subscribe"] = "AgentLinkSubscribeTests.Subscribe_on_agent_and_observer_links_sees_only_the_own_tenants_events",
        [$"{FramePermissions.ObserverLink} unsubscribe"] = "AgentLinkSubscribeTests.Subscribe_on_agent_and_observer_links_sees_only_the_own_tenants_events",
        [$"{FramePermissions.EventLink} subscribe"] = "EventFallbackTests.Another_users_events_are_never_seen_over_websocket_sse_or_polling",
        [$"{FramePermissions.EventLink} unsubscribe"] = "EventFallbackTests.Another_users_events_are_never_seen_over_websocket_sse_or_polling",
        [$"{FramePermissions.EventLink} heartbeat"] = "EventFallbackTests.Another_users_events_are_never_seen_over_websocket_sse_or_polling",
        [$"{FramePermissions.EventLink} publish"] = "EventLinkTests.Publish_namespaces_depend_on_the_role_and_system_alerts_reach_everyone",
        [$"{FramePermissions.ObserverLink} upload"] = "ChunkedUploadTests.Another_tenant_cannot_upload_to_an_agent_it_does_not_own",
        [$"{FramePermissions.AgentLink} rpc_response"] = "RpcBadInputTests.A_foreign_rpc_response_is_not_accepted_and_the_caller_still_gets_its_own_agents_answer",
        [$"{FramePermissions.AgentLink} invocation"] = "InvocationTests.Another_tenants_agent_can_neither_invoke_nor_answer_for_an_agent_over_its_link",
        [$"{FramePermissions.AgentLink} invocation_result"] = "InvocationTests.Another_tenants_agent_can_neither_invoke_nor_answer_for_an_agent_over_its_link",
    };

    internal static async Task<IReadOnlyList<(string Key, EndpointMetadataCollection Metadata)>> LiveRoutesAsync()
    {
        await using var hub = await Kai.Testing.TestHub.StartAsync();
        var sources = hub.Services.GetServices<EndpointDataSource>();
        return [.. sources.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>()
            .SelectMany(e =>
            {
                var methods = e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["*"];
                return methods.Select(m => ($"{m} {e.RoutePattern.RawText}", e.Metadata));
            })
            .DistinctBy(x => x.Item1)];
    }

    [Fact]
    public async Task Every_route_declares_a_permission_or_an_anonymous_reason()
    {
        var missing = (await LiveRoutesAsync())
            .Where(r => r.Metadata.GetMetadata<RequiredPermission>() is null && r.Metadata.GetMetadata<AnonymousReason>() is not { Reason.Length: > 0 })
            .Select(r => r.Key).ToList();
        Assert.True(missing.Count == 0, "Declare .RequirePermission(...) or .AllowAnonymous(reason) on: " + string.Join(", ", missing));
    }

    [Fact]
    public async Task Every_route_has_a_named_negative_test_and_the_table_has_no_stale_rows()
    {
        var live = (await LiveRoutesAsync()).Select(r => r.Key).ToHashSet(StringComparer.Ordinal);
        var covered = NegativeTests.Keys.Concat(CrossTenantTests.RestCases.Keys).ToHashSet(StringComparer.Ordinal);
        var untested = live.Except(covered).Order(StringComparer.Ordinal).ToList();
        var stale = covered.Except(live).Order(StringComparer.Ordinal).ToList();
        Assert.True(untested.Count == 0, "Routes without a cross-tenant/negative test (add to CrossTenantTests.RestCases or NegativeTests): " + string.Join(", ", untested));
        Assert.True(stale.Count == 0, "Rows for routes that no longer exist: " + string.Join(", ", stale));
        AssertTestsExist(NegativeTests.Values);
    }

    [Fact]
    public void Every_frame_type_declares_a_permission_and_has_a_cross_tenant_test()
    {
        var live = FramePermissions.Table.Keys.Select(k => $"{k.Edge} {k.Type}").ToHashSet(StringComparer.Ordinal);
        Assert.All(FramePermissions.Table.Values, p => Assert.False(string.IsNullOrEmpty(p)));
        var untested = live.Except(FrameTests.Keys).ToList();
        var stale = FrameTests.Keys.Except(live).ToList();
        Assert.True(untested.Count == 0, "Frame types without a cross-tenant test: " + string.Join(", ", untested));
        Assert.True(stale.Count == 0, "Rows for frame types that no longer exist: " + string.Join(", ", stale));
        AssertTestsExist(FrameTests.Values);
    }

    [Fact]
    public void Every_declared_permission_is_granted_to_some_role()
    {
        var granted = Roles.All.SelectMany(Roles.PermissionsOf).ToHashSet(StringComparer.Ordinal);
        Assert.All(FramePermissions.Table.Values, p => Assert.Contains(p, granted));
    }

    /// <summary>
    /// Permissions a handler checks on top of its route's (a route declares one permission; these narrow what it may do), each with
    /// the roles that hold it and its named negative test.
    /// </summary>
    internal static readonly Dictionary<string, (string[] Roles, string Test)> InHandlerPermissions = new(StringComparer.Ordinal)
    {
        // POST /agents, POST /agents/register, PUT /agents/{id} with type "shell" (Hosting/Adapters/AdapterAgents.PrepareAsync).
        [Permissions.AgentCreateShell] = ([Roles.Admin], "ShellAgentTests.Shell_agents_without_agent_create_shell_are_FORBIDDEN_for_users_on_create_register_and_update"),
    };

    [Fact]
    public void Permissions_checked_inside_handlers_are_held_only_by_their_roles_and_have_a_negative_test()
    {
        foreach (var (permission, (roles, _)) in InHandlerPermissions)
        {
            Assert.Equal(roles.Order(StringComparer.Ordinal), Roles.All.Where(r => Roles.Has(r, permission)).Order(StringComparer.Ordinal));
        }
        AssertTestsExist(InHandlerPermissions.Values.Select(v => v.Test));
    }

    private static void AssertTestsExist(IEnumerable<string> names)
    {
        var types = typeof(RouteInventoryTests).Assembly.GetTypes();
        foreach (var name in names.Distinct())
        {
            var (type, method) = (name[..name.LastIndexOf('.')], name[(name.LastIndexOf('.') + 1)..]);
            var t = types.SingleOrDefault(x => x.Name == type);
            Assert.True(t is not null, $"No test class {type} (named for {name})");
            var m = t.GetMethod(method, BindingFlags.Public | BindingFlags.Instance);
            Assert.True(m is not null && (m.GetCustomAttribute<FactAttribute>() is not null), $"No test method {name}");
        }
    }
}
