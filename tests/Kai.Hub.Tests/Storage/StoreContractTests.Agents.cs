using Kai.Hub.Storage;

namespace Kai.Hub.Tests.Storage;

public abstract partial class StoreContractTests
{
    [SkippableFact]
    public async Task Agents_an_agent_is_created_once_and_updates_report_an_unknown_agent()
    {
        Assert.True(await Store.TryCreateAgentAsync(NewAgent("a1", capabilities: ["x"]), Ct));
        Assert.False(await Store.TryCreateAgentAsync(NewAgent("a1", "u2"), Ct));
        Assert.Equal("u1", (await Store.GetAgentAsync("a1", Ct))!.OwnerId);
        Assert.True(await Store.UpdateAgentAsync(NewAgent("a1", capabilities: ["x", "y"]) with { Name = "renamed" }, Ct));
        var updated = await Store.GetAgentAsync("a1", Ct);
        Assert.Equal(("renamed", "x,y"), (updated!.Name, string.Join(",", updated.Capabilities)));
        Assert.False(await Store.UpdateAgentAsync(NewAgent("nobody"), Ct));
        Assert.True(await Store.SetAgentSecretAsync("a1", "new-hash", T0, Ct));
        Assert.Equal("new-hash", (await Store.GetAgentAsync("a1", Ct))!.SecretHash);
        Assert.False(await Store.SetAgentSecretAsync("nobody", "x", T0, Ct));
        Assert.False(await Store.UpdatePresenceAsync(new AgentPresenceUpdate("nobody", "active", T0), Ct));
    }

    [SkippableFact]
    public async Task Agents_schema_declarations_are_replaced_listed_per_owner_oldest_first_and_deleted_with_the_agent()
    {
        await Store.TryCreateAgentAsync(NewAgent("a1", "u1"), Ct);
        await Store.TryCreateAgentAsync(NewAgent("a2", "u1"), Ct);
        await Store.TryCreateAgentAsync(NewAgent("a3", "u2"), Ct);
        Assert.Null(await Store.GetAgentSchemasAsync("a1", Ct));
        Assert.False(await Store.SetAgentSchemasAsync("nobody", """{"methods":{}}""", T0, Ct));
        Assert.Null(await Store.GetAgentSchemasAsync("nobody", Ct));

        Assert.True(await Store.SetAgentSchemasAsync("a2", """{"methods":{"m":{}}}""", T0, Ct));
        Assert.True(await Store.SetAgentSchemasAsync("a1", """{"commands":{"c":{}}}""", T0.AddSeconds(1), Ct));
        Assert.True(await Store.SetAgentSchemasAsync("a3", """{"intents":{"i":{}}}""", T0, Ct));
        Assert.Equal(["a2", "a1"], (await Store.ListAgentSchemasAsync("u1", Ct)).Select(r => r.AgentId));
        // A replacement moves the agent to the end (the latest declaration wins when folded in order); the owner is the agent's.
        Assert.True(await Store.SetAgentSchemasAsync("a2", """{"methods":{"m2":{}}}""", T0.AddSeconds(2), Ct));
        var listed = await Store.ListAgentSchemasAsync("u1", Ct);
        Assert.Equal(["a1", "a2"], listed.Select(r => r.AgentId));
        Assert.Equal(("u1", """{"methods":{"m2":{}}}""", T0.AddSeconds(2)), (listed[1].OwnerId, listed[1].SchemasJson, listed[1].UpdatedAt));
        Assert.Equal(["a3"], (await Store.ListAgentSchemasAsync("u2", Ct)).Select(r => r.AgentId));

        Assert.True(await Store.SetAgentSchemasAsync("a1", null, T0.AddSeconds(3), Ct));
        Assert.Null(await Store.GetAgentSchemasAsync("a1", Ct));
        Assert.True(await Store.DeleteAgentAsync("a2", T0, Ct));
        Assert.Null(await Store.GetAgentSchemasAsync("a2", Ct));
        Assert.Empty(await Store.ListAgentSchemasAsync("u1", Ct));
        // An id created again starts with no declarations.
        await Store.TryCreateAgentAsync(NewAgent("a2", "u2"), Ct);
        Assert.Null(await Store.GetAgentSchemasAsync("a2", Ct));
    }

    [SkippableFact]
    public async Task Agents_listing_filters_by_owner_status_type_and_capability()
    {
        await Store.TryCreateAgentAsync(NewAgent("a1", "u1", "worker", "text.stats"), Ct);
        await Store.TryCreateAgentAsync(NewAgent("a2", "u1", "crawler"), Ct);
        await Store.TryCreateAgentAsync(NewAgent("a3", "u2", "worker", "text.stats"), Ct);
        await LinkAsync("a3", "n1");
        Assert.Equal(["a1", "a2"], (await Store.ListAgentsAsync(new AgentQuery("u1", null, null, null, 10, 0), Ct)).Items.Select(a => a.AgentId));
        Assert.Equal(["a1", "a3"], (await Store.ListAgentsAsync(new AgentQuery(null, null, "text.stats", null, 10, 0), Ct)).Items.Select(a => a.AgentId));
        Assert.Equal(["a3"], (await Store.ListAgentsAsync(new AgentQuery(null, "active", null, "worker", 10, 0), Ct)).Items.Select(a => a.AgentId));
        var page = await Store.ListAgentsAsync(new AgentQuery(null, null, null, null, 1, 1), Ct);
        Assert.Equal((3, "a2"), (page.Total, page.Items.Single().AgentId));
    }

    [SkippableFact]
    public async Task Agents_the_listed_total_follows_creates_and_deletes_per_owner_and_overall()
    {
        async Task<(int Owner1, int Owner2, int All, int Workers)> TotalsAsync() => (
            (await Store.ListAgentsAsync(new AgentQuery("u1", null, null, null, 1, 0), Ct)).Total,
            (await Store.ListAgentsAsync(new AgentQuery("u2", null, null, null, 1, 0), Ct)).Total,
            (await Store.ListAgentsAsync(new AgentQuery(null, null, null, null, 1, 0), Ct)).Total,
            (await Store.ListAgentsAsync(new AgentQuery("u1", null, null, "worker", 1, 0), Ct)).Total);
        Assert.Equal((0, 0, 0, 0), await TotalsAsync());
        await Store.TryCreateAgentAsync(NewAgent("a1", "u1", "worker"), Ct);
        await Store.TryCreateAgentAsync(NewAgent("a2", "u1", "crawler"), Ct);
        await Store.TryCreateAgentAsync(NewAgent("a3", "u2", "worker"), Ct);
        // A create that finds the id taken counts nothing.
        Assert.False(await Store.TryCreateAgentAsync(NewAgent("a1", "u2"), Ct));
        Assert.Equal((2, 1, 3, 1), await TotalsAsync());
        Assert.True(await Store.DeleteAgentAsync("a1", T0, Ct));
        Assert.False(await Store.DeleteAgentAsync("a1", T0, Ct));
        Assert.Equal((1, 1, 2, 0), await TotalsAsync());
        Assert.True(await Store.DeleteAgentAsync("a3", T0, Ct));
        Assert.Equal((1, 0, 1, 0), await TotalsAsync());
    }

    [SkippableFact]
    public async Task Agents_a_live_link_records_its_node_and_cannot_be_stored_without_one()
    {
        await Store.TryCreateAgentAsync(NewAgent("a1"), Ct);
        await Assert.ThrowsAsync<ArgumentException>(() => Store.UpdatePresenceAsync(new AgentPresenceUpdate("a1", "active", T0, Linked: true), Ct));
        Assert.False((await Store.GetAgentAsync("a1", Ct))!.Linked);
        await LinkAsync("a1", "n1");
        var agent = await Store.GetAgentAsync("a1", Ct);
        Assert.Equal((true, "n1", "active"), (agent!.Linked, agent.LinkNode, agent.Status));
        // A presence change that is not about the link keeps it.
        Assert.True(await Store.UpdatePresenceAsync(new AgentPresenceUpdate("a1", "busy", T0.AddSeconds(1), CurrentTasks: 2), Ct));
        agent = await Store.GetAgentAsync("a1", Ct);
        Assert.Equal((true, "n1", "busy", 2), (agent!.Linked, agent.LinkNode, agent.Status, agent.CurrentTasks));
        Assert.True(await Store.UpdatePresenceAsync(new AgentPresenceUpdate("a1", "offline", T0.AddSeconds(2), Linked: false, LinkNode: "n1"), Ct));
        agent = await Store.GetAgentAsync("a1", Ct);
        Assert.Equal((false, null, "offline"), (agent!.Linked, agent.LinkNode, agent.Status));
    }

    [SkippableFact]
    public async Task Agents_an_unlink_by_a_node_that_no_longer_holds_the_link_changes_nothing()
    {
        await Store.TryCreateAgentAsync(NewAgent("a1"), Ct);
        await LinkAsync("a1", "n1");
        await LinkAsync("a1", "n2");
        Assert.False(await Store.UpdatePresenceAsync(new AgentPresenceUpdate("a1", "offline", T0.AddSeconds(1), Linked: false, LinkNode: "n1"), Ct));
        var agent = await Store.GetAgentAsync("a1", Ct);
        Assert.Equal((true, "n2", "active"), (agent!.Linked, agent.LinkNode, agent.Status));
        Assert.True(await Store.UpdatePresenceAsync(new AgentPresenceUpdate("a1", "offline", T0.AddSeconds(2), Linked: false, LinkNode: "n2"), Ct));
        Assert.False((await Store.GetAgentAsync("a1", Ct))!.Linked);
    }

    [SkippableFact]
    public async Task Agents_a_node_start_resets_only_its_own_links()
    {
        foreach (var id in new[] { "a1", "a2", "a3" })
        {
            await Store.TryCreateAgentAsync(NewAgent(id), Ct);
        }
        await LinkAsync("a1", "n1");
        await LinkAsync("a2", "n2");
        Assert.Equal(1, await Store.ResetLinksAsync("n1", T0.AddMinutes(1), Ct));
        var a1 = await Store.GetAgentAsync("a1", Ct);
        var a2 = await Store.GetAgentAsync("a2", Ct);
        Assert.Equal((false, null, "offline"), (a1!.Linked, a1.LinkNode, a1.Status));
        Assert.Equal((true, "n2", "active"), (a2!.Linked, a2.LinkNode, a2.Status));
        Assert.Equal(0, await Store.ResetLinksAsync("n1", T0.AddMinutes(2), Ct));
    }

    [SkippableFact]
    public async Task Agents_a_node_heartbeat_keeps_its_first_sighting_and_moves_its_last()
    {
        await Store.HeartbeatNodeAsync("n1", T0, Ct);
        await Store.HeartbeatNodeAsync("n2", T0.AddSeconds(1), Ct);
        await Store.HeartbeatNodeAsync("n1", T0.AddSeconds(30), Ct);
        Assert.Equal([new NodeRecord("n1", T0, T0.AddSeconds(30)), new NodeRecord("n2", T0.AddSeconds(1), T0.AddSeconds(1))], await Store.ListNodesAsync(Ct));
    }

    [SkippableFact]
    public async Task Agents_the_links_of_a_dead_node_expire_and_the_live_nodes_keep_theirs()
    {
        foreach (var id in new[] { "a1", "a2", "a3" })
        {
            await Store.TryCreateAgentAsync(NewAgent(id), Ct);
        }
        await Store.HeartbeatNodeAsync("n1", T0, Ct);
        await Store.HeartbeatNodeAsync("n2", T0, Ct);
        await LinkAsync("a1", "n1");
        await LinkAsync("a2", "n2");
        await LinkAsync("a3", "n2");
        await Store.UpdatePresenceAsync(new AgentPresenceUpdate("a3", "busy", T0), Ct);
        await Store.HeartbeatNodeAsync("n1", T0.AddMinutes(2), Ct);

        Assert.Empty(await Store.ExpireNodeLinksAsync(T0, T0.AddMinutes(2), Ct));
        var expired = await Store.ExpireNodeLinksAsync(T0.AddMinutes(1), T0.AddMinutes(2), Ct);

        Assert.Equal([("a2", "active"), ("a3", "busy")], expired.Select(a => (a.AgentId, a.Status)).OrderBy(a => a.AgentId));
        foreach (var id in new[] { "a2", "a3" })
        {
            var agent = await Store.GetAgentAsync(id, Ct);
            Assert.Equal((false, null, "offline"), (agent!.Linked, agent.LinkNode, agent.Status));
        }
        var a1 = await Store.GetAgentAsync("a1", Ct);
        Assert.Equal((true, "n1", "active"), (a1!.Linked, a1.LinkNode, a1.Status));
        Assert.Equal(["n1"], (await Store.ListNodesAsync(Ct)).Select(n => n.NodeId));
        Assert.Empty(await Store.ExpireNodeLinksAsync(T0.AddMinutes(1), T0.AddMinutes(3), Ct));
    }

    [SkippableFact]
    public async Task Agents_eligible_agents_have_a_live_link_on_any_node_and_the_type_or_capability()
    {
        await Store.TryCreateAgentAsync(NewAgent("a1", "u1", "worker"), Ct);
        await Store.TryCreateAgentAsync(NewAgent("a2", "u1", "crawler", "worker"), Ct);
        await Store.TryCreateAgentAsync(NewAgent("a3", "u1", "worker"), Ct);
        await Store.TryCreateAgentAsync(NewAgent("a4", "u2", "worker"), Ct);
        await LinkAsync("a1", "n1");
        await LinkAsync("a2", "n2");
        await LinkAsync("a4", "n1");
        Assert.Equal(["a1", "a2"], (await Store.ListEligibleAgentsAsync("u1", "worker", Ct)).Select(a => a.AgentId));
        Assert.Empty(await Store.ListEligibleAgentsAsync("u1", "other", Ct));
    }

    [SkippableFact]
    public async Task Agents_stale_agents_are_unlinked_not_offline_and_silent_since_the_cutoff()
    {
        await Store.TryCreateAgentAsync(NewAgent("linked"), Ct);
        await Store.TryCreateAgentAsync(NewAgent("silent"), Ct);
        await Store.TryCreateAgentAsync(NewAgent("recent"), Ct);
        await Store.TryCreateAgentAsync(NewAgent("offline"), Ct);
        await LinkAsync("linked", "n1");
        await Store.UpdatePresenceAsync(new AgentPresenceUpdate("silent", "active", T0, LastHeartbeat: T0), Ct);
        await Store.UpdatePresenceAsync(new AgentPresenceUpdate("recent", "active", T0.AddMinutes(2), LastHeartbeat: T0.AddMinutes(2)), Ct);
        Assert.Equal(["silent"], (await Store.ListStaleAgentsAsync(T0.AddMinutes(1), Ct)).Select(a => a.AgentId));
    }

    [SkippableFact]
    public async Task Agents_deleting_an_agent_fails_its_open_commands()
    {
        await Store.TryCreateAgentAsync(NewAgent("a1"), Ct);
        await Store.CreateCommandAsync(NewCommand("c1", "a1"), Ct);
        await Store.CreateCommandAsync(NewCommand("c2", "a1"), Ct);
        Assert.True(await Store.TryCompleteCommandAsync("c2", "a1", "completed", "{}", null, T0, Ct));
        Assert.True(await Store.DeleteAgentAsync("a1", T0.AddMinutes(1), Ct));
        Assert.False(await Store.DeleteAgentAsync("a1", T0.AddMinutes(1), Ct));
        Assert.Null(await Store.GetAgentAsync("a1", Ct));
        Assert.Equal("failed", (await Store.GetCommandAsync("c1", Ct))!.Status);
        Assert.Equal("completed", (await Store.GetCommandAsync("c2", Ct))!.Status);
    }
}
