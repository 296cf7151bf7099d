using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Storage;
using Kai.Protocol;
using Kai.Protocol.Kail;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Kai.Hub.Invocations.Signing;

/// <summary>
/// The key registry of signed KAIL envelopes (seed 002 §VIII): <c>POST/GET /api/v1/agents/{agentId}/keys</c> (register / list, rotation is
/// registering the next key and revoking the old one later), <c>DELETE /api/v1/agents/{agentId}/keys/{keyId}</c> (revoke), and the hub's own
/// result-signing key at <c>GET /api/v1/invocations/keys</c>. Who may manage an agent's keys is <see cref="Access.MayManageAgent"/>: the agent
/// itself, its owner, an admin; anyone else gets AGENT_NOT_FOUND.
/// </summary>
internal static class KeysApi
{
    public static void MapKailKeysApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/agents/{agentId}/keys").WithTags("Invocations");
        api.MapPost("/", AddAsync).WithName("registerAgentKey")
            .WithSummary("Register a public key (ed25519 or es256) the agent signs KAIL envelopes with; also the first half of a rotation")
            .Produces<AgentKey>(201).WithErrors(400, 404, 409).RequirePermission(Permissions.AgentInvoke);
        api.MapGet("/", ListAsync).WithName("listAgentKeys")
            .WithSummary("The agent's signing keys, revoked ones included").WithErrors(404).RequirePermission(Permissions.AgentInvoke);
        api.MapDelete("/{keyId}", RevokeAsync).WithName("revokeAgentKey")
            .WithSummary("Revoke a signing key: envelopes signed with it are refused from now on (KEY_REVOKED); answers the key with revoked_at")
            .WithErrors(404).RequirePermission(Permissions.AgentInvoke);
        app.MapGet("/api/v1/invocations/keys", HubKeys).WithTags("Invocations").WithName("listHubResultKeys")
            .WithSummary("The hub's Ed25519 public key(s) that sign InvocationResults (key_id, signature)").RequirePermission(Permissions.AgentInvoke);
    }

    private static async Task<Created<AgentKey>> AddAsync(string agentId, AgentKeyCreate body, HttpContext http, IAgentStore agents, IKailKeyStore keys,
        TimeProvider time, CancellationToken ct)
    {
        var agent = await AgentAsync(http, agentId, agents, ct);
        var (algorithm, key) = KeyMaterial.Parse(body);
        var keyId = body.KeyId ?? KeyMaterial.DefaultKeyId(algorithm, key);
        new Validation().Length(keyId, "key_id", 1, 64).Check(keyId.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-'), "key_id",
            "must be A-Z a-z 0-9 . _ : -").ThrowIfInvalid();
        var record = new KailKeyRecord(keyId, agent.AgentId, agent.OwnerId, algorithm, key, time.GetUtcNow(), null);
        switch (await keys.AddAsync(record, ct))
        {
            case KeyAddResult.Conflict:
                throw new ApiException(ErrorCodes.Conflict, $"Key id '{keyId}' is already registered.", new Dictionary<string, string> { ["key_id"] = keyId });
            case KeyAddResult.TooMany:
                throw new ApiException(ErrorCodes.Conflict, $"Agent '{agentId}' already has {IKailKeyStore.MaxActiveKeys} keys that are not revoked; revoke one first.",
                    new Dictionary<string, int> { ["max_active_keys"] = IKailKeyStore.MaxActiveKeys });
        }
        return TypedResults.Created($"/api/v1/agents/{agentId}/keys/{keyId}", Show(record));
    }

    private static async Task<Ok<AgentKeyList>> ListAsync(string agentId, HttpContext http, IAgentStore agents, IKailKeyStore keys, CancellationToken ct)
    {
        var agent = await AgentAsync(http, agentId, agents, ct);
        return TypedResults.Ok(new AgentKeyList([.. (await keys.ListAsync(agent.AgentId, ct)).Where(k => Access.IsTenant(k.OwnerId, agent.OwnerId)).Select(Show)]));
    }

    private static async Task<Ok<AgentKey>> RevokeAsync(string agentId, string keyId, HttpContext http, IAgentStore agents, IKailKeyStore keys, TimeProvider time,
        CancellationToken ct)
    {
        var agent = await AgentAsync(http, agentId, agents, ct);
        if (keyId.Length > 64 || !await keys.RevokeAsync(agent.AgentId, keyId, time.GetUtcNow(), ct) || await keys.GetAsync(keyId, ct) is not { } revoked)
        {
            throw ApiException.NotFound($"Key '{keyId}' of agent '{agentId}'");
        }
        return TypedResults.Ok(Show(revoked));
    }

    private static Ok<HubKeyList> HubKeys(HubResultKey key) => TypedResults.Ok(new HubKeyList([key.Public]));

    private static async Task<AgentRecord> AgentAsync(HttpContext http, string agentId, IAgentStore agents, CancellationToken ct)
    {
        var agent = agentId.Length <= 64 ? await agents.GetAgentAsync(agentId, ct) : null;
        if (agent is null || !Access.MayManageAgent(http.Principal(), agent))
        {
            throw ApiException.AgentNotFound(agentId);
        }
        return agent;
    }

    private static AgentKey Show(KailKeyRecord k) =>
        new(k.KeyId, k.AgentId, k.Algorithm, Convert.ToBase64String(k.PublicKey), KeyMaterial.Jwk(k.Algorithm, k.PublicKey, k.KeyId), k.CreatedAt, k.RevokedAt);
}
