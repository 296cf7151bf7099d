using Kai.Hub.Storage;

namespace Kai.Hub.Tests.Storage;

public abstract partial class StoreContractTests
{
    [SkippableFact]
    public async Task Commands_deliverable_ones_are_open_and_unexpired_by_priority_then_age()
    {
        await Store.CreateCommandAsync(NewCommand("old-normal", "a1", "normal", T0), Ct);
        await Store.CreateCommandAsync(NewCommand("new-urgent", "a1", "urgent", T0.AddSeconds(2)), Ct);
        await Store.CreateCommandAsync(NewCommand("new-normal", "a1", "normal", T0.AddSeconds(1)), Ct);
        await Store.CreateCommandAsync(NewCommand("expired", "a1", "urgent", T0, deadline: T0.AddSeconds(5)), Ct);
        await Store.CreateCommandAsync(NewCommand("other-agent", "a2"), Ct);
        await Store.CreateCommandAsync(NewCommand("done", "a1", "urgent"), Ct);
        await Store.TryCompleteCommandAsync("done", "a1", "completed", null, null, T0, Ct);
        await Store.MarkCommandDeliveredAsync("old-normal", T0.AddSeconds(3), Ct);

        Assert.Equal(["new-urgent", "old-normal", "new-normal"],
            (await Store.ListDeliverableCommandsAsync("a1", T0.AddSeconds(10), Ct)).Select(c => c.CommandId));
        var delivered = await Store.GetCommandAsync("old-normal", Ct);
        Assert.Equal(("executing", 1), (delivered!.Status, delivered.Deliveries));
        await Store.MarkCommandDeliveredAsync("done", T0.AddSeconds(3), Ct);
        var done = await Store.GetCommandAsync("done", Ct);
        Assert.Equal(("completed", 0), (done!.Status, done.Deliveries));
    }

    [SkippableFact]
    public async Task Commands_complete_once_and_only_by_their_agent()
    {
        await Store.CreateCommandAsync(NewCommand("c1", "a1"), Ct);
        Assert.False(await Store.TryCompleteCommandAsync("c1", "a2", "completed", "{}", null, T0, Ct));
        Assert.True(await Store.TryCompleteCommandAsync("c1", "a1", "completed", """{"ok":true}""", null, T0.AddSeconds(1), Ct));
        Assert.False(await Store.TryCompleteCommandAsync("c1", "a1", "failed", null, "late", T0.AddSeconds(2), Ct));
        var stored = await Store.GetCommandAsync("c1", Ct);
        Assert.Equal(("completed", """{"ok":true}""", (string?)null), (stored!.Status, stored.ResultJson, stored.Error));
        Assert.False(await Store.TryCompleteCommandAsync("unknown", "a1", "completed", null, null, T0, Ct));
    }

    [SkippableFact]
    public async Task Commands_expire_at_their_deadline_once()
    {
        await Store.CreateCommandAsync(NewCommand("soon", "a1", deadline: T0.AddSeconds(5)), Ct);
        await Store.CreateCommandAsync(NewCommand("later", "a1", deadline: T0.AddHours(1)), Ct);
        Assert.Empty(await Store.ExpireCommandsAsync(T0.AddSeconds(4), "timeout", Ct));
        var expired = await Store.ExpireCommandsAsync(T0.AddSeconds(5), "timeout", Ct);
        Assert.Equal([("soon", "failed", "timeout")], expired.Select(c => (c.CommandId, c.Status, c.Error)));
        Assert.Empty(await Store.ExpireCommandsAsync(T0.AddSeconds(6), "timeout", Ct));
        Assert.Equal("queued", (await Store.GetCommandAsync("later", Ct))!.Status);
    }
}
