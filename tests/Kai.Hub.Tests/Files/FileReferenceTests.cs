using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Kai.Hub.Tests.Invocations;
using Kai.Hub.Tests.Rpc;
using Kai.Hub.Tests.Tasks;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Hub.Tests.Files;

/// <summary>
/// Files in the rest of the hub (issue 13 item 7): tasks, commands, invocations and RPC calls reference files by <c>file_id</c>; the agent holding
/// the work reads them while it holds it, nobody else's agent ever; task artifacts are uploaded by the agent working the task and listed
/// by <c>GET /api/v1/tasks/{id}</c>. Real agents on real WebSockets, real REST downloads with their own tokens.
/// </summary>
public sealed class FileReferenceTests
{
    [Fact]
    public async Task The_agent_holding_a_task_reads_its_input_files_and_uploads_artifacts_only_while_it_holds_it()
    {
        await using var kit = await TaskKit.StartAsync();
        var (worker, socket) = await kit.NewWorkerAsync("summarize");
        await using var _ = socket;
        var (bystander, bystanderSocket) = await kit.NewWorkerAsync("translate");
        await using var __ = bystanderSocket;
        using var asWorker = kit.Hub.Client(await kit.Hub.AgentTokenAsync(worker));
        using var asBystander = kit.Hub.Client(await kit.Hub.AgentTokenAsync(bystander));

        var input = FileKit.Random(50_000, 7);
        var extra = FileKit.Random(1_000, 8);
        var doc = await FileKit.UploadAsync(kit.Api, input, "contract.bin");
        var appendix = await FileKit.UploadAsync(kit.Api, extra, "appendix.bin");
        // Not assigned to the worker and no work references it yet: 404, like a file that does not exist.
        Assert.Equal(HttpStatusCode.NotFound, (await asWorker.GetAsync(doc.Url.TrimStart('/'))).StatusCode);

        var created = await kit.CreateTaskAsync(new CreateTaskRequest(null, "summarize",
            InputData: JsonSerializer.SerializeToElement(new { doc = new { file_id = doc.FileId }, more = new { file_ids = new[] { appendix.FileId } } })));
        var leased = await TaskKit.ReceiveTaskAsync(socket);
        Assert.Equal(created.TaskId, leased.TaskId);
        Assert.Equal(doc.FileId, leased.InputData.GetProperty("doc").GetProperty("file_id").GetString());

        // While it holds the task, the worker reads both files (ranges too); the agent that does not hold it gets 404.
        Assert.Equal(input, await asWorker.GetByteArrayAsync(doc.Url.TrimStart('/')));
        Assert.Equal(extra, await asWorker.GetByteArrayAsync(appendix.Url.TrimStart('/')));
        using (var ranged = new HttpRequestMessage(HttpMethod.Get, doc.Url.TrimStart('/')))
        {
            ranged.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(100, 199);
            var part = await asWorker.SendAsync(ranged);
            Assert.Equal(HttpStatusCode.PartialContent, part.StatusCode);
            Assert.Equal(input[100..200], await part.Content.ReadAsByteArrayAsync());
        }
        Assert.Equal(HttpStatusCode.NotFound, (await asBystander.GetAsync(doc.Url.TrimStart('/'))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await asBystander.GetAsync($"api/v1/files/{doc.FileId}")).StatusCode);

        // Its output goes up as an artifact of the task; an agent that does not hold the task cannot add one (404).
        var report = FileKit.Random(20_000, 9);
        var artifact = await FileKit.UploadAsync(asWorker, report, "summary.bin", path: $"api/v1/tasks/{created.TaskId}/artifacts");
        Assert.Equal(created.TaskId, artifact.TaskId);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(report)), artifact.Sha256);
        Assert.Equal(report, await asWorker.GetByteArrayAsync(artifact.Url.TrimStart('/')));
        var refused = await asBystander.PostAsync($"api/v1/tasks/{created.TaskId}/artifacts", FileKit.Multipart(FileKit.Random(10)));
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await asBystander.GetAsync(artifact.Url.TrimStart('/'))).StatusCode);

        await kit.CompleteAsync(socket, leased, new { summary = new { file_id = artifact.FileId } });

        // The task is over: the worker holds nothing, so neither the input nor its own artifact is readable any more, nor can it add one.
        Assert.Equal(HttpStatusCode.NotFound, (await asWorker.GetAsync(doc.Url.TrimStart('/'))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await asWorker.GetAsync(artifact.Url.TrimStart('/'))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound,
            (await asWorker.PostAsync($"api/v1/tasks/{created.TaskId}/artifacts", FileKit.Multipart(FileKit.Random(10)))).StatusCode);

        // The owner sees the artifact on the task and downloads it; the task's own list is exactly the one artifact.
        var view = await kit.GetTaskAsync(created.TaskId);
        var listed = Assert.Single(view.Artifacts!);
        Assert.Equal(artifact.FileId, listed.FileId);
        Assert.Equal(artifact.Sha256, listed.Sha256);
        Assert.Equal(report, await kit.Api.GetByteArrayAsync(listed.Url.TrimStart('/')));
        Assert.Equal(artifact.FileId, view.Result!.Value.GetProperty("summary").GetProperty("file_id").GetString());
        // The owner may add an artifact too (a user with file.upload, of the task's tenant).
        await FileKit.UploadAsync(kit.Api, FileKit.Random(10, 11), "note.bin", path: $"api/v1/tasks/{created.TaskId}/artifacts");
        Assert.Equal(2, (await kit.GetTaskAsync(created.TaskId)).Artifacts!.Count);
    }

    [Fact]
    public async Task Other_tenants_get_404_for_task_artifacts_and_cannot_pass_their_files_into_work()
    {
        await using var kit = await TaskKit.StartAsync();
        var (worker, socket) = await kit.NewWorkerAsync("summarize");
        await using var _ = socket;
        var bob = await kit.Hub.NewUserAsync();
        using var asBob = kit.Hub.Client(bob.AccessToken);
        var bobAgent = await kit.Hub.NewAgentAsync(bob.AccessToken, "bob-agent");
        using var asBobAgent = kit.Hub.Client(await kit.Hub.AgentTokenAsync(bobAgent));
        var bobFile = await FileKit.UploadAsync(asBob, FileKit.Random(100, 3), "bob.bin");
        var aliceFile = await FileKit.UploadAsync(kit.Api, FileKit.Random(100, 4), "alice.bin");

        var task = await kit.CreateTaskAsync(new CreateTaskRequest(null, "summarize", InputData: JsonSerializer.SerializeToElement(new { file_id = aliceFile.FileId })));
        var leased = await TaskKit.ReceiveTaskAsync(socket);
        // Bob and Bob's agent: the task and its artifacts route answer 404, and Alice's file stays unreadable to them.
        Assert.Equal(HttpStatusCode.NotFound, (await asBob.PostAsync($"api/v1/tasks/{task.TaskId}/artifacts", FileKit.Multipart(FileKit.Random(10)))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await asBobAgent.PostAsync($"api/v1/tasks/{task.TaskId}/artifacts", FileKit.Multipart(FileKit.Random(10)))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await asBobAgent.GetAsync(aliceFile.Url.TrimStart('/'))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await asBob.PostAsync("api/v1/tasks/tsk_nope/artifacts", FileKit.Multipart(FileKit.Random(10)))).StatusCode);

        // Alice cannot reference Bob's file, an unknown one, or a malformed reference: 400, and no task is stored.
        var before = (await kit.ListTasksAsync()).Total;
        foreach (var input in new object[]
        {
            new { file_id = bobFile.FileId },
            new { nested = new[] { new { file_id = "file_00000000000000000000000000000000" } } },
            new { file_id = 42 },
            new { file_ids = "not-a-list" },
        })
        {
            var res = await kit.PostTaskAsync(new CreateTaskRequest(null, "summarize", InputData: JsonSerializer.SerializeToElement(input)));
            await TaskKit.AssertErrorAsync(res, HttpStatusCode.BadRequest, ErrorCodes.ValidationError);
        }
        Assert.Equal(before, (await kit.ListTasksAsync()).Total);

        // An agent passing work on may reference only what it may read itself: the worker holds the task, so its input file is fine,
        // but a file of its tenant that it neither holds nor was assigned is refused.
        using var asWorker = kit.Hub.Client(await kit.Hub.AgentTokenAsync(worker));
        var other = await FileKit.UploadAsync(kit.Api, FileKit.Random(100, 5), "other.bin");
        var passOn = await kit.PostTaskAsync(new CreateTaskRequest(null, "review", InputData: JsonSerializer.SerializeToElement(new { file_id = aliceFile.FileId })), client: asWorker);
        Assert.Equal(HttpStatusCode.Created, passOn.StatusCode);
        var leak = await kit.PostTaskAsync(new CreateTaskRequest(null, "review", InputData: JsonSerializer.SerializeToElement(new { file_id = other.FileId })), client: asWorker);
        await TaskKit.AssertErrorAsync(leak, HttpStatusCode.BadRequest, ErrorCodes.ValidationError);
        await kit.CompleteAsync(socket, leased);
    }

    [Fact]
    public async Task The_agent_a_command_or_an_invocation_is_addressed_to_reads_the_files_it_references_until_it_answers()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        using var client = hub.Client(user.AccessToken);
        var agent = await hub.NewAgentAsync(user.AccessToken, "reader");
        var other = await hub.NewAgentAsync(user.AccessToken, "other");
        await using var link = await hub.ConnectAgentAsync(agent);
        using var asAgent = hub.Client(await hub.AgentTokenAsync(agent));
        using var asOther = hub.Client(await hub.AgentTokenAsync(other));
        var data = FileKit.Random(4096, 21);
        var file = await FileKit.UploadAsync(client, data, "input.bin");

        // A command: readable from delivery to result.
        var sent = await client.PostAsJsonAsync($"api/v1/agents/{agent.AgentId}/command",
            new { command = "digest", parameters = new { file_id = file.FileId }, timeout = 0 }, KaiJson.Options);
        Assert.True(sent.IsSuccessStatusCode, await sent.Content.ReadAsStringAsync());
        var command = (await link.ReceiveAsync(FrameTypes.Command)).PayloadAs<CommandPayload>()!;
        Assert.Equal(data, await asAgent.GetByteArrayAsync(file.Url.TrimStart('/')));
        Assert.Equal(HttpStatusCode.NotFound, (await asOther.GetAsync(file.Url.TrimStart('/'))).StatusCode);
        await link.SendAsync(FrameTypes.CommandResult, new CommandResultPayload(command.CommandId, CommandStatuses.Completed,
            JsonSerializer.SerializeToElement(new { sha256 = Convert.ToHexStringLower(SHA256.HashData(data)) })), "r1");
        Assert.Equal("r1", (await link.ReceiveAsync(FrameTypes.Ack)).Id);
        Assert.Equal(HttpStatusCode.NotFound, (await asAgent.GetAsync(file.Url.TrimStart('/'))).StatusCode);

        // A command referencing an unknown file is refused before anything is stored or delivered.
        var bad = await client.PostAsJsonAsync($"api/v1/agents/{agent.AgentId}/command",
            new { command = "digest", parameters = new { file_id = "file_00000000000000000000000000000000" }, timeout = 0 }, KaiJson.Options);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal(ErrorCodes.ValidationError, await FileKit.ErrorCodeAsync(bad));

        // An invocation: readable while the agent handles it.
        var call = Kail.InvokeAsync(client, Kail.Envelope(Kail.Handle(agent.AgentId), "digest", new { file_id = file.FileId }));
        var received = await Kail.NextInvocationAsync(link);
        Assert.Equal(data, await asAgent.GetByteArrayAsync(file.Url.TrimStart('/')));
        Assert.Equal(HttpStatusCode.NotFound, (await asOther.GetAsync(file.Url.TrimStart('/'))).StatusCode);
        await Kail.AnswerAsync(link, received, new { ok = true });
        Assert.Equal(HttpStatusCode.OK, (await call).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await asAgent.GetAsync(file.Url.TrimStart('/'))).StatusCode);
        Assert.DoesNotContain(await hub.Service<Kai.Hub.Files.IFileStore>().ReferencesOfFileAsync(file.FileId, 100, CancellationToken.None),
            r => r.WorkKind == "invocation"); // a finished run is never held again: its reference went with it (the command's stays with the command)

        var refused = await Kail.InvokeAsync(client, Kail.Envelope(Kail.Handle(agent.AgentId), "digest", new { file_id = "file_00000000000000000000000000000000" }));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
    }

    [Fact]
    public async Task The_agent_an_RPC_call_is_with_reads_the_files_its_params_reference_until_it_answers()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        var stranger = await hub.NewUserAsync();
        using var client = hub.Client(user.AccessToken);
        using var asStranger = hub.Client(stranger.AccessToken);
        var agent = await hub.NewAgentAsync(user.AccessToken, "digester", capabilities: ["digest"]);
        var other = await hub.NewAgentAsync(user.AccessToken, "bystander");
        await using var link = await hub.ConnectAgentAsync(agent);
        using var asAgent = hub.Client(await hub.AgentTokenAsync(agent));
        using var asOther = hub.Client(await hub.AgentTokenAsync(other));
        var data = FileKit.Random(4096, 31);
        var file = await FileKit.UploadAsync(client, data, "input.bin");
        var foreign = await FileKit.UploadAsync(asStranger, FileKit.Random(100, 32), "theirs.bin");
        var path = file.Url.TrimStart('/');

        // To the agent by name: readable from delivery to the answer, by that agent only.
        var call = client.CallAsync(RpcKit.Envelope("rpc-f1", "digest.run", new { doc = new { file_id = file.FileId } }, destination: agent.AgentId));
        var request = await link.NextRequestAsync();
        Assert.Equal("rpc-f1", request.Id);
        Assert.Equal(data, await asAgent.GetByteArrayAsync(path));
        Assert.Equal(HttpStatusCode.NotFound, (await asOther.GetAsync(path)).StatusCode);
        await link.AnswerAsync(request, new { sha256 = Convert.ToHexStringLower(SHA256.HashData(data)) });
        var (status, body) = await call;
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Equal(HttpStatusCode.NotFound, (await asAgent.GetAsync(path)).StatusCode);
        // The ended call's reference is gone from the store (nothing holds it again; at RPC rates the rows would pile up).
        Assert.Empty(await hub.Service<Kai.Hub.Files.IFileStore>().ReferencesOfFileAsync(file.FileId, 100, CancellationToken.None));

        // The same request id again, without the file: a new call that inherits nothing from the first.
        call = client.CallAsync(RpcKit.Envelope("rpc-f1", "digest.run", new { n = 1 }, destination: agent.AgentId));
        request = await link.NextRequestAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await asAgent.GetAsync(path)).StatusCode);
        await link.AnswerAsync(request, new { ok = true });
        Assert.Equal(HttpStatusCode.OK, (await call).Status);

        // Through a capability the router resolves: the agent it chose reads the files (file_ids) as soon as the request arrives.
        call = client.CallAsync(RpcKit.Envelope("rpc-f2", "digest.run", new { file_ids = new[] { file.FileId } }, destination: "capability:digest"));
        request = await link.NextRequestAsync();
        Assert.Equal(data, await asAgent.GetByteArrayAsync(path));
        await link.AnswerAsync(request, new { ok = true });
        Assert.Equal(HttpStatusCode.OK, (await call).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await asAgent.GetAsync(path)).StatusCode);

        // An unknown file, and another tenant's: VALIDATION_ERROR naming the field, nothing delivered, and the id is free again.
        foreach (var bad in new[] { "file_00000000000000000000000000000000", foreign.FileId })
        {
            (status, body) = await client.CallAsync(RpcKit.Envelope("rpc-f3", "digest.run", new { file_id = bad }, destination: agent.AgentId));
            Assert.True(status == HttpStatusCode.BadRequest, body.ToString());
            Assert.Equal(ErrorCodes.ValidationError, body.ErrorType());
            Assert.Contains("params", body.GetProperty("error").GetProperty("message").GetString());
        }
        call = client.CallAsync(RpcKit.Envelope("rpc-f3", "digest.run", new { file_id = file.FileId }, destination: agent.AgentId));
        request = await link.NextRequestAsync();
        Assert.Equal("rpc-f3", request.Id); // the refused calls never reached the agent
        Assert.Equal(file.FileId, request.Params!.Value.GetProperty("file_id").GetString());
        await link.AnswerAsync(request, new { ok = true });
        Assert.Equal(HttpStatusCode.OK, (await call).Status);
    }
}
