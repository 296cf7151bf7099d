using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Hub.Tests.Files;

/// <summary>Hand-built multipart bodies (so tests control every byte: odd filenames, truncation) and small helpers.</summary>
internal static class FileKit
{
    public const string Boundary = "kai-test-boundary-7f3a";

    public static byte[] Random(int size, int seed = 1)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>A multipart/form-data body with one file part (Content-Disposition given raw, so any filename can be sent) and fields.</summary>
    public static HttpContent Multipart(byte[] data, string filename = "report.bin", string? partType = "application/octet-stream",
        IDictionary<string, string>? fields = null, bool endEarly = false, string? disposition = null, bool chunked = false)
    {
        var body = new MemoryStream();
        void W(string s) => body.Write(Encoding.UTF8.GetBytes(s));
        foreach (var (k, v) in fields ?? new Dictionary<string, string>())
        {
            W($"--{Boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n");
        }
        W($"--{Boundary}\r\nContent-Disposition: {disposition ?? $"form-data; name=\"file\"; filename=\"{filename}\""}\r\n");
        if (partType is not null)
        {
            W($"Content-Type: {partType}\r\n");
        }
        W("\r\n");
        body.Write(data);
        if (!endEarly)
        {
            W($"\r\n--{Boundary}--\r\n");
        }
        HttpContent content = chunked ? new StreamContent(new UnknownLengthStream(body.ToArray())) : new ByteArrayContent(body.ToArray());
        content.Headers.ContentType = MediaTypeHeaderValue.Parse($"multipart/form-data; boundary={Boundary}");
        return content;
    }

    public static async Task<FileInfoResponse> UploadAsync(HttpClient client, byte[] data, string filename = "report.bin", string? partType = "application/octet-stream",
        IDictionary<string, string>? fields = null, string path = "api/v1/files/upload")
    {
        var res = await client.PostAsync(path, Multipart(data, filename, partType, fields));
        Assert.True(res.IsSuccessStatusCode, $"{(int)res.StatusCode}: {await res.Content.ReadAsStringAsync()}");
        return (await res.Content.ReadFromJsonAsync<FileInfoResponse>(KaiJson.Options))!;
    }

    public static async Task<string> ErrorCodeAsync(HttpResponseMessage res)
    {
        var body = await res.Content.ReadFromJsonAsync<JsonElement>(KaiJson.Options);
        return body.GetProperty("error").GetProperty("code").GetString()!;
    }

    public static async Task<FileListResponse> ListAsync(HttpClient client, string query = "")
    {
        var res = await client.GetAsync("api/v1/files" + query);
        Assert.True(res.IsSuccessStatusCode, await res.Content.ReadAsStringAsync());
        return (await res.Content.ReadFromJsonAsync<FileListResponse>(KaiJson.Options))!;
    }

    /// <summary>Every file under the hub's files directory except the URL key (blobs, staging, chunks).</summary>
    public static string[] StoredFiles(TestHub hub) =>
        Directory.Exists(Path.Combine(hub.DataDirectory, "files"))
            ? [.. Directory.EnumerateFiles(Path.Combine(hub.DataDirectory, "files"), "*", SearchOption.AllDirectories).Where(p => !p.EndsWith("url-signing.key", StringComparison.Ordinal))]
            : [];

    /// <summary>A stream that does not report its length, so HttpClient sends the body chunked (no Content-Length).</summary>
    private sealed class UnknownLengthStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
