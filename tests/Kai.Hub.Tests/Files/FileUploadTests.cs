using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Kai.Hub.Housekeeping;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Kai.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Kai.Hub.Tests.Files;

public sealed class FileUploadTests
{
    [Fact]
    public async Task Upload_larger_than_the_json_limit_round_trips_with_ranges_etags_and_safe_headers()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        using var client = hub.Client(user.AccessToken);
        var data = FileKit.Random(3 * 1024 * 1024 + 17);
        var file = await FileKit.UploadAsync(client, data, "Résumé final.bin");

        Assert.Equal(data.Length, file.Size);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(data)), file.Sha256);
        Assert.Equal("ready", file.ProcessingStatus);
        Assert.Equal("application/octet-stream", file.MimeType);
        Assert.Equal("Résumé final.bin", file.Filename);
        Assert.Equal($"/api/v1/files/{file.FileId}/download", file.Url);
        Assert.Null(file.ExpiresAt);

        var res = await client.GetAsync(file.Url.TrimStart('/'));
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        Assert.Equal(data, await res.Content.ReadAsByteArrayAsync());
        Assert.Equal($"\"{file.Sha256}\"", res.Headers.ETag?.Tag);
        Assert.NotNull(res.Content.Headers.LastModified);
        Assert.Equal("nosniff", res.Headers.GetValues("X-Content-Type-Options").Single());
        var disposition = res.Content.Headers.ContentDisposition!;
        Assert.Equal("attachment", disposition.DispositionType);
        Assert.Equal("Résumé final.bin", disposition.FileNameStar);
        Assert.Contains("filename*=UTF-8''R%C3%A9sum%C3%A9%20final.bin", res.Content.Headers.GetValues("Content-Disposition").Single(), StringComparison.OrdinalIgnoreCase);
        Assert.True(disposition.FileName!.All(char.IsAscii), "the plain filename parameter is the ASCII fallback");
        Assert.Equal("bytes", res.Headers.AcceptRanges.Single());

        using var conditional = new HttpRequestMessage(HttpMethod.Get, file.Url.TrimStart('/'));
        conditional.Headers.IfNoneMatch.Add(new EntityTagHeaderValue($"\"{file.Sha256}\""));
        Assert.Equal(HttpStatusCode.NotModified, (await client.SendAsync(conditional)).StatusCode);

        using var range = new HttpRequestMessage(HttpMethod.Get, file.Url.TrimStart('/'));
        range.Headers.Range = new RangeHeaderValue(1000, 1999);
        var partial = await client.SendAsync(range);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal(data[1000..2000], await partial.Content.ReadAsByteArrayAsync());
        Assert.Equal(1000, partial.Content.Headers.ContentRange!.From);

        using var tail = new HttpRequestMessage(HttpMethod.Get, file.Url.TrimStart('/'));
        tail.Headers.Range = new RangeHeaderValue(null, 10);
        Assert.Equal(data[^10..], await (await client.SendAsync(tail)).Content.ReadAsByteArrayAsync());

        using var beyond = new HttpRequestMessage(HttpMethod.Get, file.Url.TrimStart('/'));
        beyond.Headers.Range = new RangeHeaderValue(data.Length + 10, null);
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, (await client.SendAsync(beyond)).StatusCode);

        var list = await FileKit.ListAsync(client);
        Assert.Equal(1, list.Total);
        Assert.Equal(data.Length, list.StorageUsed);
        Assert.Equal(file.FileId, Assert.Single(list.Files).FileId);
    }

    [Fact]
    public async Task Same_content_is_stored_once_and_survives_until_its_last_file_is_deleted()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        using var client = hub.Client(user.AccessToken);
        var data = FileKit.Random(5000, seed: 9);
        var a = await FileKit.UploadAsync(client, data, "a.bin");
        var b = await FileKit.UploadAsync(client, data, "b.bin");
        Assert.Equal(a.Sha256, b.Sha256);
        Assert.Single(FileKit.StoredFiles(hub));

        var deleted = await (await client.DeleteAsync($"api/v1/files/{a.FileId}")).Content.ReadFromJsonAsync<FileDeleteResponse>(KaiJson.Options);
        Assert.Equal(new FileDeleteResponse(true, 5000), deleted);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync(a.Url.TrimStart('/'))).StatusCode);
        Assert.Equal(data, await client.GetByteArrayAsync(b.Url.TrimStart('/')));
        Assert.Equal(HttpStatusCode.OK, (await client.DeleteAsync($"api/v1/files/{b.FileId}")).StatusCode);
        Assert.Empty(FileKit.StoredFiles(hub));
        Assert.Equal(HttpStatusCode.NotFound, (await client.DeleteAsync($"api/v1/files/{b.FileId}")).StatusCode);
    }

    [Fact]
    public async Task Too_large_uploads_are_413_as_soon_as_the_limit_is_crossed_and_leave_nothing()
    {
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string> { ["Kai:Files:MaxFileBytes"] = "100000" });
        var user = await hub.NewUserAsync();
        using var client = hub.Client(user.AccessToken);

        // Declared length over the limit: refused before the body is read.
        var declared = await client.PostAsync("api/v1/files/upload", FileKit.Multipart(FileKit.Random(300_000)));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, declared.StatusCode);
        Assert.Equal(ErrorCodes.PayloadTooLarge, await FileKit.ErrorCodeAsync(declared));

        // A client that asks to continue (RFC 9110 §10.1.1) gets the 413 before it sends a byte of the body: no "100 Continue" first.
        using (var tcp = new System.Net.Sockets.TcpClient())
        {
            await tcp.ConnectAsync(hub.BaseAddress.Host, hub.BaseAddress.Port);
            var stream = tcp.GetStream();
            var head = $"POST /api/v1/files/upload HTTP/1.1\r\nHost: {hub.BaseAddress.Authority}\r\nAuthorization: Bearer {user.AccessToken}\r\n"
                + "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 300000\r\nExpect: 100-continue\r\n\r\n";
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(head));
            using var reader = new StreamReader(stream, System.Text.Encoding.ASCII);
            Assert.StartsWith("HTTP/1.1 413", await reader.ReadLineAsync());
        }

        // Chunked body with no length: counted while streaming.
        var streamed = await client.PostAsync("api/v1/files/upload", FileKit.Multipart(FileKit.Random(100_001), chunked: true));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, streamed.StatusCode);
        Assert.Equal(ErrorCodes.PayloadTooLarge, await FileKit.ErrorCodeAsync(streamed));

        Assert.Equal(0, (await FileKit.ListAsync(client)).Total);
        Assert.Empty(FileKit.StoredFiles(hub));
        // Exactly the limit is fine.
        Assert.Equal(100_000, (await FileKit.UploadAsync(client, FileKit.Random(100_000))).Size);
    }

    [Fact]
    public async Task Quota_exceeded_is_refused_with_its_own_code_and_counts_only_what_was_stored()
    {
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string> { ["Kai:Files:StorageLimitBytes"] = "10000" });
        var user = await hub.NewUserAsync();
        using var client = hub.Client(user.AccessToken);
        await FileKit.UploadAsync(client, FileKit.Random(6000, 1));
        foreach (var chunked in new[] { false, true })
        {
            var res = await client.PostAsync("api/v1/files/upload", FileKit.Multipart(FileKit.Random(6000, 2), chunked: chunked));
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, res.StatusCode);
            Assert.Equal(ErrorCodes.QuotaExceeded, await FileKit.ErrorCodeAsync(res));
        }
        var list = await FileKit.ListAsync(client);
        Assert.Equal((1, 6000L, 10000L), (list.Total, list.StorageUsed, list.StorageLimit));
        Assert.Single(FileKit.StoredFiles(hub));
    }

    public static TheoryData<string> BadDispositions() =>
    [
        "form-data; name=\"file\"; filename=\"../../etc/passwd\"",
        "form-data; name=\"file\"; filename=\"dir\\\\evil.txt\"",
        "form-data; name=\"file\"; filename*=UTF-8''a%01b.txt",
        "form-data; name=\"file\"; filename*=UTF-8''a%0D%0AX-Injected%3A%201.txt",
        "form-data; name=\"file\"; filename*=UTF-8''invoice%E2%80%AEtxt.exe",
        "form-data; name=\"file\"; filename=\"..\"",
        "form-data; name=\"file\"; filename=\" \"",
    ];

    [Theory]
    [MemberData(nameof(BadDispositions))]
    public async Task Path_traversal_and_control_characters_in_filenames_are_refused(string disposition)
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        using var client = hub.Client(user.AccessToken);
        var res = await client.PostAsync("api/v1/files/upload", FileKit.Multipart(FileKit.Random(100), disposition: disposition));
        Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
        Assert.Equal(ErrorCodes.ValidationError, await FileKit.ErrorCodeAsync(res));
        Assert.Equal(0, (await FileKit.ListAsync(client)).Total);
        Assert.Empty(FileKit.StoredFiles(hub));
    }

    [Fact]
    public async Task Empty_files_wrong_mime_types_truncated_bodies_and_non_multipart_are_refused_and_store_nothing()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        using var client = hub.Client(user.AccessToken);
        async Task Refused(HttpContent content, HttpStatusCode status, string code, string because)
        {
            var res = await client.PostAsync("api/v1/files/upload", content);
            Assert.True(res.StatusCode == status, $"{because}: {(int)res.StatusCode} {await res.Content.ReadAsStringAsync()}");
            Assert.Equal(code, await FileKit.ErrorCodeAsync(res));
        }
        await Refused(FileKit.Multipart([]), HttpStatusCode.BadRequest, ErrorCodes.ValidationError, "empty file");
        await Refused(FileKit.Multipart("hello, not a png"u8.ToArray(), "pic.png", "image/png"), HttpStatusCode.BadRequest, ErrorCodes.ValidationError, "declared png");
        await Refused(FileKit.Multipart("x"u8.ToArray(), "a.txt", "text/plain", new Dictionary<string, string> { ["mime_type"] = "not a type" }),
            HttpStatusCode.BadRequest, ErrorCodes.ValidationError, "malformed mime");
        await Refused(FileKit.Multipart(FileKit.Random(5000), endEarly: true), HttpStatusCode.BadRequest, ErrorCodes.ValidationError, "ends early");
        await Refused(FileKit.Multipart(FileKit.Random(5000), endEarly: true, chunked: true), HttpStatusCode.BadRequest, ErrorCodes.ValidationError, "ends early, chunked");
        await Refused(new ByteArrayContent("{}"u8.ToArray()) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
            HttpStatusCode.UnsupportedMediaType, ErrorCodes.UnsupportedMediaType, "json");
        await Refused(FileKit.Multipart("x"u8.ToArray(), fields: new Dictionary<string, string> { ["expires_in"] = "-5" }), HttpStatusCode.BadRequest, ErrorCodes.ValidationError, "bad expiry");
        await Refused(FileKit.Multipart("x"u8.ToArray(), fields: new Dictionary<string, string> { ["owner_id"] = "someone" }), HttpStatusCode.BadRequest, ErrorCodes.ValidationError, "unknown field");
        Assert.Equal(0, (await FileKit.ListAsync(client)).Total);
        Assert.Empty(FileKit.StoredFiles(hub));

        // The real thing with the right signature is accepted under the declared type.
        byte[] png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3];
        Assert.Equal("image/png", (await FileKit.UploadAsync(client, png, "pic.png", "image/png")).MimeType);
    }

    [Fact]
    public async Task Active_content_is_never_inline_while_plain_content_may_be()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        using var client = hub.Client(user.AccessToken);
        foreach (var (name, type, inline) in new[] { ("x.html", "text/html", false), ("x.svg", "image/svg+xml", false), ("x.js", "text/javascript", false),
                     ("x.xml", "application/xml", false), ("a.txt", "text/plain", true) })
        {
            var f = await FileKit.UploadAsync(client, "<script>alert(1)</script>"u8.ToArray(), name, type);
            var res = await client.GetAsync(f.Url.TrimStart('/') + "?inline=true");
            Assert.Equal(inline ? "inline" : "attachment", res.Content.Headers.ContentDisposition!.DispositionType);
            Assert.Equal("nosniff", res.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Contains("default-src 'none'", res.Headers.GetValues("Content-Security-Policy").Single());
        }
    }

    [Fact]
    public async Task Expired_files_are_gone_at_once_and_swept_with_their_bytes()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var hub = await TestHub.StartAsync(clock);
        var user = await hub.NewUserAsync();
        using var client = hub.Client(user.AccessToken);
        var shortLived = await FileKit.UploadAsync(client, FileKit.Random(1000, 1), fields: new Dictionary<string, string> { ["expires_in"] = "60" });
        var at = clock.GetUtcNow().AddHours(2);
        var later = await FileKit.UploadAsync(client, FileKit.Random(1000, 2), fields: new Dictionary<string, string> { ["expires_at"] = at.ToString("O") });
        Assert.Equal(clock.GetUtcNow().AddSeconds(60).ToUnixTimeSeconds(), shortLived.ExpiresAt!.Value.ToUnixTimeSeconds());
        Assert.Equal(at.ToUnixTimeSeconds(), later.ExpiresAt!.Value.ToUnixTimeSeconds());

        clock.Advance(TimeSpan.FromSeconds(61));
        var gone = await client.GetAsync(shortLived.Url.TrimStart('/'));
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Equal(ErrorCodes.NotFound, await FileKit.ErrorCodeAsync(gone));

        // The fake clock's advance may already have fired the background sweep; one more pass makes the outcome certain.
        await hub.Service<HubSweeper>().SweepOnceAsync(CancellationToken.None);
        Assert.Single(FileKit.StoredFiles(hub));
        var list = await FileKit.ListAsync(client);
        Assert.Equal((1, 1000L), (list.Total, list.StorageUsed));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(later.Url.TrimStart('/'))).StatusCode);
    }

    [Fact]
    public async Task Signed_urls_work_without_a_bearer_header_until_they_expire_and_cannot_be_forged()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var hub = await TestHub.StartAsync(clock);
        var user = await hub.NewUserAsync();
        using var client = hub.Client(user.AccessToken);
        var data = FileKit.Random(2048);
        var file = await FileKit.UploadAsync(client, data);
        var other = await FileKit.UploadAsync(client, FileKit.Random(10, 3));
        var signed = await (await client.PostAsync($"api/v1/files/{file.FileId}/signed-url?expires_in=60", null)).Content.ReadFromJsonAsync<SignedUrlResponse>(KaiJson.Options);

        using var anonymous = hub.Client();
        Assert.Equal(data, await anonymous.GetByteArrayAsync(signed!.Url.TrimStart('/')));
        var forged = await anonymous.GetAsync(signed.Url.TrimStart('/').Replace(file.FileId, other.FileId));
        Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(signed.Url.TrimStart('/')[..^2] + "xx")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(file.Url.TrimStart('/'))).StatusCode);

        clock.Advance(TimeSpan.FromSeconds(61));
        var expired = await anonymous.GetAsync(signed.Url.TrimStart('/'));
        Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
        Assert.Equal(ErrorCodes.AuthenticationFailed, await FileKit.ErrorCodeAsync(expired));
    }
}
